/*
 * Range functions evaluated on several threads (query_opts.threads, par.c,
 * func.c's range_par) answer exactly what one thread answers: the same
 * series in the same order, the same times, the same value bits, over many
 * series with counter resets, NaN, infinities, staleness markers, gaps and
 * series that begin late; in range and instant queries, over selectors and
 * subqueries. The limits (samples, bytes, deadline) hold with threads too,
 * with the errors one thread gives. scripts/check also runs this file under
 * ThreadSanitizer (label tsan).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test_dir.h"
#include "query.h"

static struct store *st;
static char dir[64];

#define NSER 160
#define NPTS 1600
#define STEP_MS 15000

static const char *cities[] = {"济南", "青岛", "淄博", "烟台", "潍坊"};

static void put(struct store_batch *b, const char *name, int i, int64_t t, double v)
{
	char inst[16];
	struct pw_label l[3] = {{"__name__", name}, {"city", cities[i % 5]}, {"inst", inst}};
	snprintf(inst, sizeof inst, "i%03d", i);
	cr_assert_eq(store_batch_put(b, l, 3, t, v), 0);
}

static void setup(void)
{
	struct store_opts o = {0};
	char *cause = NULL;
	snprintf(dir, sizeof dir, "/tmp/pw-qpar-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	o.path = dir;
	o.no_sync = true;
	cr_assert_eq(store_open(&o, &st, &cause), 0, "%s", cause ? cause : "");
	/* the helpers start at once, however small the query */
	query__par_alone_ns = 0;
	/* commits of 100 scrapes each, as a collector would write them: sealed
	 * chunks, open segments, heads and the log all hold some */
	for (int k0 = 0; k0 < NPTS; k0 += 100) {
		struct store_batch *b = store_batch_begin(st);
		for (int i = 0; i < NSER; i++) {
			double c = 0;
			for (int k = k0; k < k0 + 100; k++) {
				int64_t t = (int64_t)k * STEP_MS + (i * 7919) % 1000;
				/* a third of the series begin at the middle */
				if (i % 3 == 2 && k < NPTS / 2)
					continue;
				/* a gap ended by a staleness marker */
				if (i % 7 == 0 && k >= 700 && k < 760) {
					if (k == 700)
						put(b, "ctr", i, t, store_stale_nan());
					continue;
				}
				/* a counter reset every 300 + i samples */
				c = (double)((k % (300 + i)) * (i + 1)) + 0.25 * (k % 3);
				put(b, "ctr", i, t, i % 11 == 5 && k % 97 == 0 ? NAN : c);
				double g = sin((double)k / 40 + i) * 100 + i;
				if (i % 13 == 1 && k % 401 == 0)
					g = k % 2 ? INFINITY : -INFINITY;
				if (i % 17 == 3 && k % 50 == 0)
					g = -0.0;
				put(b, "g", i, t, g);
			}
		}
		cr_assert_eq(store_batch_commit(b, &cause), 0, "%s", cause ? cause : "");
	}
}

static void teardown(void)
{
	store_close(st);
	test_dir_remove(dir);
}

TestSuite(qpar, .init = setup, .fini = teardown);

static bool ignore_stale;

static struct query_result *ask(const char *q, bool range, int64_t t0, int64_t t1, int64_t step,
				unsigned threads, struct query_error *e)
{
	struct query_opts o = {.threads = threads, .ignore_stale = ignore_stale};
	struct query_result *r = NULL;
	int rc = range ? query_range(st, &o, q, t0, t1, step, &r, e)
		       : query_instant(st, &o, q, t0, &r, e);
	cr_assert_eq(rc, 0, "%s (threads %u): %s", q, threads, e->msg ? e->msg : "");
	return r;
}

/* the same series, labels, times and value bits */
static void same(const char *q, const struct query_result *a, const struct query_result *b)
{
	cr_assert_eq(a->type, b->type, "%s", q);
	cr_assert_eq(a->nseries, b->nseries, "%s: %zu series, %zu with threads", q, a->nseries,
		     b->nseries);
	for (size_t i = 0; i < a->nseries; i++) {
		const struct query_series *x = &a->series[i], *y = &b->series[i];
		cr_assert_eq(x->nlabels, y->nlabels, "%s: series %zu", q, i);
		for (size_t l = 0; l < x->nlabels; l++) {
			cr_assert_str_eq(x->labels[l].name, y->labels[l].name, "%s", q);
			cr_assert_str_eq(x->labels[l].value, y->labels[l].value, "%s", q);
		}
		cr_assert_eq(x->n, y->n, "%s: series %zu has %zu points, %zu with threads", q, i,
			     x->n, y->n);
		cr_assert(x->n == 0 || memcmp(x->pts, y->pts, x->n * sizeof *x->pts) == 0,
			  "%s: series %zu differs", q, i);
	}
}

static const char *queries[] = {
	"rate(ctr[5m])",
	"increase(ctr[10m])",
	"sum by (city) (rate(ctr[5m]))",
	"delta(g[5m])",
	"irate(ctr[2m])",
	"idelta(g[2m])",
	"deriv(g[10m])",
	"predict_linear(g[10m], 3600)",
	"changes(g[10m])",
	"resets(ctr[30m])",
	"avg_over_time(g[15m])",
	"avg by (city) (avg_over_time(g[15m]))",
	"sum_over_time(g[7m])",
	"count_over_time(ctr[3m])",
	"min_over_time(g[20m])",
	"max_over_time(g[20m])",
	"max_over_time(g[30s])",
	"last_over_time(ctr[5m])",
	"present_over_time(ctr[1m])",
	"stddev_over_time(g[10m])",
	"stdvar_over_time(g[10m])",
	"quantile_over_time(0.9, g[10m])",
	"holt_winters(g[10m], 0.5, 0.5)",
	"absent_over_time(ctr{inst=\"none\"}[5m])",
	"rate(ctr[5m] offset 17m)",
	"rate(ctr[5m] @ 20000)",
	"max_over_time(rate(ctr[5m])[30m:1m])",
	"avg_over_time((g * 2)[10m:30s])",
	"predict_linear(g{city=\"青岛\"}[1h], 86400)",
	"increase(ctr[6h])",
	/* instant selectors at every step (eval_vsel_as) */
	"ctr",
	"avg by (city) (g)",
	"timestamp(ctr)",
	"g offset 3m",
	"g @ 12000",
};

Test(qpar, range_queries_equal_one_thread)
{
	for (size_t k = 0; k < sizeof queries / sizeof *queries; k++)
		for (unsigned th = 2; th <= 5; th += 3) {
			struct query_error e = {0};
			struct query_result *a = ask(queries[k], true, 600000, 24000000, 60000, 1, &e);
			struct query_result *b = ask(queries[k], true, 600000, 24000000, 60000, th, &e);
			same(queries[k], a, b);
			query_result_free(a);
			query_result_free(b);
		}
}

Test(qpar, instant_queries_equal_one_thread)
{
	static const int64_t at[] = {0, 600000, 10500000, 12000000, 23999999, 30000000};
	for (size_t k = 0; k < sizeof queries / sizeof *queries; k++)
		for (size_t t = 0; t < sizeof at / sizeof *at; t++) {
			struct query_error e = {0};
			struct query_result *a = ask(queries[k], false, at[t], 0, 0, 1, &e);
			struct query_result *b = ask(queries[k], false, at[t], 0, 0, 4, &e);
			same(queries[k], a, b);
			query_result_free(a);
			query_result_free(b);
		}
}

Test(qpar, ignoring_staleness_equals_one_thread)
{
	static const char *q[] = {"ctr", "timestamp(ctr)", "rate(ctr[5m])"};
	ignore_stale = true;
	for (size_t k = 0; k < sizeof q / sizeof *q; k++) {
		struct query_error e = {0};
		struct query_result *a = ask(q[k], true, 600000, 24000000, 60000, 1, &e);
		struct query_result *b = ask(q[k], true, 600000, 24000000, 60000, 4, &e);
		same(q[k], a, b);
		query_result_free(a);
		query_result_free(b);
		a = ask(q[k], false, 10560000, 0, 0, 1, &e);
		b = ask(q[k], false, 10560000, 0, 0, 4, &e);
		same(q[k], a, b);
		query_result_free(a);
		query_result_free(b);
	}
}

/* the helpers starting partway, after this thread has worked alone */
Test(qpar, helpers_starting_partway_equal_one_thread)
{
	query__par_alone_ns = 300000;
	for (size_t k = 0; k < sizeof queries / sizeof *queries; k++) {
		struct query_error e = {0};
		struct query_result *a = ask(queries[k], true, 0, 24000000, 30000, 1, &e);
		struct query_result *b = ask(queries[k], true, 0, 24000000, 30000, 3, &e);
		same(queries[k], a, b);
		query_result_free(a);
		query_result_free(b);
	}
}

/* the many steps of a short step: more than one run of series (par.c's
 * buffers between computation and merge are bounded) */
Test(qpar, many_steps_span_several_runs)
{
	struct query_error e = {0};
	const char *q = "rate(ctr[1m])";
	struct query_result *a = ask(q, true, 0, 24000000, 5000, 1, &e);
	struct query_result *b = ask(q, true, 0, 24000000, 5000, 3, &e);
	same(q, a, b);
	cr_expect_gt(a->nseries, 100);
	query_result_free(a);
	query_result_free(b);
}

/* An aggregation over a range function or a selector is fed series by
 * series (eval.c's agg_sink); "* 1" in between (x * 1 is x, bit for bit,
 * NaN, infinities and -0 included) makes the input vector as before: the
 * answers, their series order included, are the same. */
Test(qpar, aggregations_fed_series_by_series_equal_the_vector_walk)
{
	static const char *ops[] = {"sum", "avg", "count", "min", "max", "group", "stddev",
				    "stdvar"};
	static const char *args[] = {"rate(ctr[5m])", "avg_over_time(g[15m])", "g",
				     "last_over_time(ctr[5m])", "present_over_time(ctr[1s])"};
	static const char *grouping[] = {"by (city)", "", "without (inst)", "by (inst)"};
	/* dense inputs: agg_by_series' walk and order; present_over_time(x[1s])
	 * at 7 s steps over 15 s scrapes is sparse (its groups few points
	 * each): agg_by_step's order, by first step, then first series */
	static const int64_t steps[] = {60000, 7000};
	const size_t nargs = sizeof args / sizeof *args;
	for (size_t o = 0; o < sizeof ops / sizeof *ops; o++)
		for (size_t a = 0; a < nargs; a++)
			for (size_t g = 0; g < sizeof grouping / sizeof *grouping; g++)
				/* the sparse argument at 7 s steps only, the dense ones at
				 * 60 s (all of them at 7 s took five minutes under ASan) */
				for (size_t si = a == nargs - 1; si < 1 + (a == nargs - 1); si++)
					{
						/* one thread or four, in turn */
						unsigned th = (o + a + g) % 2 ? 4 : 1;
						char q1[200], q2[200];
						struct query_error e = {0};
						snprintf(q1, sizeof q1, "%s %s (%s)", ops[o], grouping[g],
							 args[a]);
						snprintf(q2, sizeof q2, "%s %s (%s * 1)", ops[o],
							 grouping[g], args[a]);
						struct query_result *x = ask(q1, true, 6000000, 18000000,
									     steps[si], th, &e);
						struct query_result *y = ask(q2, true, 6000000, 18000000,
									     steps[si], th, &e);
						same(q1, x, y);
						query_result_free(x);
						query_result_free(y);
						x = ask(q1, false, 12000000, 0, 0, th, &e);
						y = ask(q2, false, 12000000, 0, 0, th, &e);
						same(q1, x, y);
						query_result_free(x);
						query_result_free(y);
					}
}

/* the order of an aggregation's series matters to the operators above it */
Test(qpar, aggregations_under_other_operators_equal_the_vector_walk)
{
	static const char *q[][2] = {
		{"sum(sum by (inst) (rate(ctr[5m])))", "sum(sum by (inst) (rate(ctr[5m]) * 1))"},
		{"max_over_time(sum by (city) (rate(ctr[5m]))[30m:1m])",
		 "max_over_time(sum by (city) (rate(ctr[5m]) * 1)[30m:1m])"},
		{"topk(3, sum by (inst) (g))", "topk(3, sum by (inst) (g * 1))"},
		/* sparse: agg_by_step's order, which the outer sum adds in */
		{"sum(sum by (inst) (last_over_time(g[1s])))",
		 "sum(sum by (inst) (last_over_time(g[1s]) * 1))"},
		{"sum(avg by (inst) (g @ 20000 offset 1s))", "sum(avg by (inst) (g @ 20000 offset 1s * 1))"},
		{"sum by (city) (rate(ctr[5m])) / on (city) count by (city) (g)",
		 "sum by (city) (rate(ctr[5m]) * 1) / on (city) count by (city) (g * 1)"},
	};
	for (size_t k = 0; k < sizeof q / sizeof *q; k++)
		for (unsigned th = 1; th <= 4; th += 3) {
			struct query_error e = {0};
			for (int64_t step = 7000; step <= 60000; step += 53000) {
				struct query_result *x = ask(q[k][0], true, 600000, 24000000, step, th, &e);
				struct query_result *y = ask(q[k][1], true, 600000, 24000000, step, th, &e);
				same(q[k][0], x, y);
				query_result_free(x);
				query_result_free(y);
			}
		}
}

/* an error, its type and message, with threads */
static void fails(const char *q, struct query_opts *o, enum query_errtype want, const char *msg)
{
	for (unsigned th = 1; th <= 4; th += 3) {
		struct query_result *r = NULL;
		struct query_error e = {0};
		o->threads = th;
		cr_assert_neq(query_range(st, o, q, 600000, 24000000, 60000, &r, &e), 0,
			      "%s with %u threads", q, th);
		cr_expect_eq(e.type, want, "%s with %u threads: %s", q, th, e.msg);
		cr_expect(strstr(e.msg, msg) != NULL, "%s with %u threads: %s", q, th, e.msg);
		query_error_clear(&e);
	}
}

Test(qpar, the_samples_limit_holds_across_threads)
{
	struct query_opts o = {.max_samples = 20000};
	fails("rate(ctr[5m])", &o, QUERY_ERR_EXECUTION, "too many samples");
	fails("avg_over_time(g[5m])", &o, QUERY_ERR_EXECUTION, "too many samples");
}

Test(qpar, the_memory_limit_holds_across_threads)
{
	/* the points the workers read are charged: 64 KiB is far less than
	 * one thread's series need, let alone four threads' */
	struct query_opts o = {.max_bytes = 1 << 16};
	fails("max_over_time(g[20m])", &o, QUERY_ERR_EXECUTION, "");
}

Test(qpar, the_deadline_holds_across_threads)
{
	/* parsed without a deadline: the evaluation's workers find it past */
	struct query_expr *x;
	struct query_error e = {0};
	cr_assert_eq(query_parse("rate(ctr[5m])", &x, &e), 0);
	for (unsigned th = 1; th <= 4; th += 3) {
		struct query_opts o = {.deadline_ns = 1, .threads = th};
		struct query_result *r = NULL;
		cr_assert_neq(query_exec_range(st, &o, x, 600000, 24000000, 60000, &r, &e), 0);
		cr_expect_eq(e.type, QUERY_ERR_TIMEOUT, "%u threads: %s", th, e.msg);
		cr_expect_str_eq(e.msg, "query timed out in query execution");
		query_error_clear(&e);
	}
	query_expr_free(x);
}

Test(qpar, duplicate_labelsets_fail_as_with_one_thread)
{
	struct query_opts o = {0};
	fails("rate({__name__=~\"ctr|g\"}[5m])", &o, QUERY_ERR_EXECUTION,
	      "vector cannot contain metrics with the same labelset");
}
