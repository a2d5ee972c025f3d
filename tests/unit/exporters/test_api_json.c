/*
 * The query API's JSON answer within the query's limits (api_json.c): its
 * writing stops at the deadline (a sort_desc(sum by ...) with timeout=3s
 * answered after 20 s, the encoding outside the timeout), its buffer is
 * charged to the query's account and to the budget shared by the queries
 * running at once, and times at int64's ends are written without overflow.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

#define NPTS 200000

static struct query_point *pts;
static struct pw_label labels[2] = {{"__name__", "spots"}, {"city", "济南"}};
static struct query_series ser;
static struct query_result res;

static void setup(void)
{
	pts = malloc(NPTS * sizeof *pts);
	for (size_t i = 0; i < NPTS; i++) {
		pts[i].t = 1700000000000 + (int64_t)i * 15000;
		pts[i].v = (double)i / 7;
	}
	ser = (struct query_series){labels, 2, pts, NPTS};
	res = (struct query_result){.type = QUERY_MATRIX, .series = &ser, .nseries = 1};
}

static void teardown(void) { free(pts); }

TestSuite(api_json, .init = setup, .fini = teardown, .timeout = 120);

static void jout_done(struct jout *j)
{
	pw_buf_free(&j->b);
	query_mem_release(j->m, j->m->used);
	query_error_clear(&j->err);
}

Test(api_json, within_its_limits_the_answer_is_whole)
{
	struct query_mem m = {0};
	struct jout j = {.m = &m, .deadline_ns = pw_mono_ns() + 60 * 1000000000LL};
	api_write_result(&j, &res);
	cr_assert_not(j.failed, "%s", j.err.msg);
	cr_expect_eq(m.used, j.b.cap, "the buffer is charged: %llu of %zu",
		     (unsigned long long)m.used, j.b.cap);
	cr_expect(strncmp(j.b.data, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"spots\",\"city\":\"济南\"},\"values\":[[1700000000,\"0\"],[1700000015,\"0.14285714285714285\"],", 130) == 0,
		  "%.200s", j.b.data);
	cr_expect_gt(j.b.len, NPTS * 20);
	cr_expect_str_eq(j.b.data + j.b.len - 6, "\"]]}]}");
	jout_done(&j);
}

Test(api_json, encoding_stops_at_the_deadline)
{
	struct query_mem m = {0};
	struct jout j = {.m = &m, .deadline_ns = pw_mono_ns() - 1};
	api_write_result(&j, &res);
	cr_assert(j.failed);
	cr_expect_eq(j.err.type, QUERY_ERR_TIMEOUT);
	cr_expect_eq(query_errtype_status(j.err.type), 503);
	cr_expect_str_eq(j.err.msg, "query timed out in result encoding");
	/* it stopped within the first 256 points, not after 200,000 (the
	 * clock was read every 262,144 points of a series) */
	cr_expect_lt(j.b.len, 300 * 40, "%zu bytes written past the deadline", j.b.len);
	jout_done(&j);
}

Test(api_json, the_buffer_is_charged_to_the_query_and_the_total)
{
	struct query_budget *b = query_budget_new();
	struct query_mem m = {.limit = 64 << 10}, other = {.shared = b}, mine = {.shared = b};
	struct jout j = {.m = &m, .deadline_ns = pw_mono_ns() + 60 * 1000000000LL};

	/* query.max_bytes */
	api_write_result(&j, &res);
	cr_assert(j.failed);
	cr_expect_eq(j.err.type, QUERY_ERR_EXECUTION);
	cr_expect_str_eq(j.err.msg,
			 "query processing would use more than 64KiB of memory (query.max_bytes)");
	cr_expect_leq(m.used, 64 << 10);
	jout_done(&j);

	/* query.max_bytes_total: another query holds 1 MiB of 2 */
	query_budget_set(b, 2 << 20, 0);
	cr_assert_eq(query_mem_charge(&other, 1 << 20, NULL), 0);
	j = (struct jout){.m = &mine, .deadline_ns = pw_mono_ns() + 60 * 1000000000LL};
	api_write_result(&j, &res);
	cr_assert(j.failed);
	cr_expect_eq(j.err.type, QUERY_ERR_UNAVAILABLE);
	cr_expect_eq(query_errtype_status(j.err.type), 503);
	cr_expect(strstr(j.err.msg, "(query.max_bytes_total)"), "%s", j.err.msg);
	cr_expect_leq(query_budget_used(b), 2 << 20);
	jout_done(&j);
	query_mem_release(&other, other.used);
	cr_expect_eq(query_budget_used(b), 0, "all given back");
	query_budget_free(b);
}

Test(api_json, times_at_the_ends_of_int64)
{
	struct query_point p[] = {{INT64_MIN, 1}, {INT64_MAX, 2}, {-1, 3}, {0, 4}};
	struct query_series s = {labels, 1, p, 4};
	struct query_result r = {.type = QUERY_MATRIX, .series = &s, .nseries = 1};
	struct query_mem m = {0};
	struct jout j = {.m = &m, .deadline_ns = pw_mono_ns() + 60 * 1000000000LL};
	api_write_result(&j, &r);
	cr_assert_not(j.failed);
	cr_expect_str_eq(j.b.data, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"spots\"},\"values\":[[-9223372036854775.808,\"1\"],[9223372036854775.807,\"2\"],[-0.001,\"3\"],[0,\"4\"]]}]}");
	jout_done(&j);
}
