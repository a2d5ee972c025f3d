/*
 * Rules where the differential test cannot go: a restart in the middle of
 * `for` (state restored from ALERTS_FOR_STATE), the group limit, ALERTS
 * written and marked stale, recording rules' results in the store, and
 * templates' edge cases. "Now" is a parameter, so every step is exact.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test_dir.h"
#include "alerts_test.h"
#include "alerts.h"
#include "query.h"

static char dir[64];
static struct store *st;

static void setup(void)
{
	struct store_opts o = {0};
	struct store_batch *b;
	char *cause = NULL;
	snprintf(dir, sizeof dir, "/tmp/pw-rules-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	o.path = dir;
	o.no_sync = true;
	cr_assert_eq(store_open(&o, &st, &cause), 0);
	b = store_batch_begin(st);
	for (int64_t t = 0; t <= 3600000; t += 60000) {
		struct pw_label a[2] = {{"__name__", "items"}, {"city", "济南"}};
		struct pw_label c[2] = {{"__name__", "items"}, {"city", "青岛"}};
		store_batch_put(b, a, 2, t, 150);
		store_batch_put(b, c, 2, t, t < 1800000 ? 190 : 250);
	}
	cr_assert_eq(store_batch_commit(b, &cause), 0);
}

static void teardown(void)
{
	store_close(st);
	test_dir_remove(dir);
}

TestSuite(rules, .init = setup, .fini = teardown);

static struct conf *config(const char *rules_json)
{
	char *text = NULL;
	cr_assert(asprintf(&text, "{\"global\": {\"evaluation_interval\": \"1m\"}, \"rule_groups\": %s}",
			   rules_json) > 0);
	struct conf *c = load_conf("rules.json", text);
	free(text);
	return c;
}

struct seen {
	int firing, pending;
	int64_t active_at;
};

static void count(struct seen *s, const struct view_alert *a)
{
	if (a->state == VIEW_FIRING)
		s->firing++;
	if (a->state == VIEW_PENDING)
		s->pending++;
	s->active_at = a->active_at;
}

static struct seen eval_at(struct alerts *r, int64_t t)
{
	struct seen s = {0};
	char *cause = NULL;
	for (size_t g = 0; g < alerts_ngroups(r); g++)
		cr_assert_eq(alerts_eval_group(r, g, t, &cause), 0, "%s", cause ? cause : "");
	struct view *v = alerts_view(r);
	for (size_t i = 0; i < v->nalerts; i++)
		count(&s, &v->alerts[i]);
	view_unref(v);
	return s;
}

static double value_at(const char *q, int64_t t, size_t *n)
{
	struct query_result *res;
	struct query_error e = {0};
	double v = -1;
	cr_assert_eq(query_instant(st, NULL, q, t, &res, &e), 0, "%s", e.msg);
	*n = res->nseries;
	if (res->nseries)
		v = res->series[0].pts[0].v;
	query_result_free(res);
	return v;
}

Test(rules, restart_keeps_the_for_clock)
{
	struct conf *c = config("[{\"name\": \"g\", \"rules\": [{\"alert\": \"Low\", "
				"\"expr\": \"items{city=\\\"济南\\\"} < 200\", \"for\": \"5m\"}]}]");
	struct alerts *r;
	char *cause = NULL;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0);
	for (int64_t t = 0; t <= 180000; t += 60000)
		cr_expect_eq(eval_at(r, t).pending, 1);
	alerts_free(r); /* a restart at 3m */
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0);
	struct seen s = eval_at(r, 240000);
	cr_expect_eq(s.pending, 1, "still pending at 4m");
	cr_expect_eq(s.active_at, 0, "active since 0, not since the restart");
	cr_expect_eq(eval_at(r, 300000).firing, 1, "fires at 5m as without the restart");
	alerts_free(r);
	conf_free(c);
}

Test(rules, alerts_series_are_written_and_marked_stale)
{
	struct conf *c = config("[{\"name\": \"g\", \"rules\": [{\"alert\": \"Low\", "
				"\"expr\": \"items < 200\", \"labels\": {\"sev\": \"x\"}}]}]");
	struct alerts *r;
	char *cause = NULL;
	size_t n;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0);
	for (int64_t t = 1500000; t <= 1860000; t += 60000)
		eval_at(r, t);
	/* 青岛 went to 250 at 30m: its ALERTS series ends with a staleness marker */
	value_at("ALERTS{alertname=\"Low\", alertstate=\"firing\", city=\"济南\", sev=\"x\"}", 1860000, &n);
	cr_expect_eq(n, 1);
	value_at("ALERTS{alertname=\"Low\", city=\"青岛\"}", 1860000, &n);
	cr_expect_eq(n, 0, "stale at once, not after the lookback");
	value_at("ALERTS{alertname=\"Low\", city=\"青岛\"}", 1740000, &n);
	cr_expect_eq(n, 1);
	double since = value_at("ALERTS_FOR_STATE{city=\"济南\"}", 1860000, &n);
	cr_expect_eq(since, 1500, "ALERTS_FOR_STATE holds activeAt in seconds");
	alerts_free(r);
	conf_free(c);
}

Test(rules, recording_rules_store_their_results)
{
	struct conf *c = config("[{\"name\": \"g\", \"rules\": ["
				"{\"record\": \"city:items:sum\", \"expr\": \"sum by (city) (items)\", "
				"\"labels\": {\"source\": \"rule\"}},"
				"{\"record\": \"all:items:sum\", \"expr\": \"sum(city:items:sum)\"}]}]");
	struct alerts *r;
	char *cause = NULL;
	size_t n;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0);
	eval_at(r, 600000);
	cr_expect_eq(value_at("city:items:sum{city=\"青岛\", source=\"rule\"}", 600000, &n), 190);
	cr_expect_eq(value_at("all:items:sum", 600000, &n), 340, "a rule builds on the one before");
	alerts_free(r);
	conf_free(c);
}

Test(rules, group_limit_refuses_and_clears)
{
	struct conf *c = config("[{\"name\": \"g\", \"limit\": 1, \"rules\": [{\"alert\": \"Low\", "
				"\"expr\": \"items < 200\"}]}]");
	struct alerts *r;
	char *cause = NULL;
	struct pw_buf b;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0);
	struct seen s = eval_at(r, 60000);
	cr_expect_eq(s.firing + s.pending, 0, "two alerts over a limit of one: none");
	pw_buf_init(&b, 0);
	json_rules(r, &b, NULL);
	cr_expect(strstr(b.data, "exceeded limit of 1 with 2 alerts"), "%s", b.data);
	cr_expect(strstr(b.data, "\"health\":\"err\""), "%s", b.data);
	pw_buf_free(&b);
	s = eval_at(r, 1860000); /* 青岛 recovered: one alert, within the limit */
	cr_expect_eq(s.firing, 1);
	alerts_free(r);
	conf_free(c);
}

Test(rules, bad_rules_are_refused_with_their_place)
{
	struct conf *c;
	struct conf_errs errs;
	const char *text = "{\"rule_groups\": [{\"name\": \"g\", \"rules\": [\n"
			   "  {\"alert\": \"A\", \"expr\": \"rate(items)\"},\n"
			   "  {\"record\": \"bad name\", \"expr\": \"items\"},\n"
			   "  {\"alert\": \"B\", \"record\": \"b\", \"expr\": \"items\"}]}]}";
	conf_set_expr_checker(alerts_check_expr);
	cr_assert_neq(conf_load_buffer("r.json", text, strlen(text), &c, &errs), 0);
	cr_assert_eq(errs.n, 3);
	cr_expect_eq(errs.v[0].line, 2);
	cr_expect(strstr(errs.v[0].msg, "expected type range vector"), "%s", errs.v[0].msg);
	cr_expect(strstr(errs.v[1].msg, "not a valid metric name"), "%s", errs.v[1].msg);
	cr_expect(strstr(errs.v[2].msg, "exactly one of alert and record"), "%s", errs.v[2].msg);
	conf_errs_free(&errs);
}

/* docs/promql.md: rules hold at most query.max_bytes per evaluation, as
 * API queries do (they held a fixed 1 GiB) */
Test(rules, evaluations_hold_at_most_query_max_bytes)
{
	struct conf *c = load_conf("rules.json",
				   "{\"global\": {\"evaluation_interval\": \"1m\"},"
				   " \"query\": {\"max_bytes\": \"1KiB\"},"
				   " \"rule_groups\": [{\"name\": \"g\", \"rules\": [{\"record\": \"w\","
				   " \"expr\": \"sum_over_time(items[1h])\"}]}]}");
	struct alerts *r;
	char *cause = NULL;
	struct pw_buf b;
	size_t n;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0);
	eval_at(r, 3600000);
	pw_buf_init(&b, 0);
	json_rules(r, &b, NULL);
	cr_expect(strstr(b.data, "more than 1KiB of memory (query.max_bytes)"), "%s", b.data);
	cr_expect(strstr(b.data, "\"health\":\"err\""), "%s", b.data);
	pw_buf_free(&b);
	value_at("w", 3600000, &n);
	cr_expect_eq(n, 0, "nothing recorded past the limit");
	alerts_free(r);
	conf_free(c);
}
