/*
 * KPI tracking with "now" as a parameter: trajectories (linear, milestones,
 * step), progress ratios, at_most, lagging with tolerance and hysteresis,
 * the least-squares forecast against a hand computation, met and missed at
 * the deadline, roster coverage naming the missing unit, stale units, and
 * the alerts' numbers in the KPI title's language.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test_dir.h"
#include "alerts_test.h"
#include "alerts.h"
#include "query.h"

#define DAY 86400000LL
/* 2025-01-01T00:00:00+08:00 */
#define T0 1735660800000LL

static char dir[64];
static struct store *st;

static void setup(void)
{
	struct store_opts o = {0};
	char *cause = NULL;
	snprintf(dir, sizeof dir, "/tmp/pw-kpi-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	o.path = dir;
	o.no_sync = true;
	cr_assert_eq(store_open(&o, &st, &cause), 0);
}

static void teardown(void)
{
	store_close(st);
	test_dir_remove(dir);
}

TestSuite(kpi, .init = setup, .fini = teardown);

static void put(const char *metric, const char *lname, const char *lval, int64_t t, double v)
{
	struct pw_label l[2] = {{"__name__", metric}, {lname, lval}};
	struct store_batch *b = store_batch_begin(st);
	char *cause = NULL;
	store_batch_put(b, l, lval ? 2 : 1, t, v);
	cr_assert_eq(store_batch_commit(b, &cause), 0);
}

static struct conf *config(const char *kpis)
{
	char *text = NULL;
	cr_assert(asprintf(&text, "{\"global\": {\"timezone\": \"Asia/Shanghai\"}, \"kpis\": %s}",
			   kpis) > 0);
	struct conf *c = load_conf("kpi.json", text);
	free(text);
	return c;
}

/* the KPI's unit whose label lname=lval, from /api/v1/kpis data */
static json_t *unit_at(struct alerts *r, int64_t t, const char *lname, const char *lval,
		       json_t **doc)
{
	struct pw_buf b;
	char *cause = NULL;
	json_error_t je;
	size_t i;
	json_t *u;
	cr_assert_eq(alerts_eval_kpis(r, t, &cause), 0, "%s", cause ? cause : "");
	pw_buf_init(&b, 0);
	json_kpis(r, &b);
	*doc = json_loadb(b.data, b.len, 0, &je);
	pw_buf_free(&b);
	cr_assert_not_null(*doc, "%s", je.text);
	json_array_foreach(json_object_get(json_array_get(json_object_get(*doc, "kpis"), 0), "units"), i, u)
	{
		const char *v = json_string_value(json_object_get(json_object_get(u, "labels"), lname));
		if (v && strcmp(v, lval) == 0)
			return u;
	}
	return NULL;
}

/* the first unit of KPI ki, after evaluating at t */
static json_t *unit_kpi(struct alerts *r, int64_t t, size_t ki, json_t **doc)
{
	struct pw_buf b;
	char *cause = NULL;
	json_error_t je;
	cr_assert_eq(alerts_eval_kpis(r, t, &cause), 0, "%s", cause ? cause : "");
	pw_buf_init(&b, 0);
	json_kpis(r, &b);
	*doc = json_loadb(b.data, b.len, 0, &je);
	pw_buf_free(&b);
	return json_array_get(json_object_get(json_array_get(json_object_get(*doc, "kpis"), ki),
					      "units"), 0);
}

static double num(json_t *u, const char *k) { return json_number_value(json_object_get(u, k)); }
static const char *status(json_t *u) { return json_string_value(json_object_get(u, "status")); }

Test(kpi, linear_trajectory_progress_and_lagging_with_hysteresis)
{
	/* 100 items on 1 Jan, 200 due on 11 Apr (100 days): 1 item a day */
	struct conf *c = config("[{\"name\": \"mr\", \"title\": \"互认项目数\", \"value\": \"items\", "
				"\"target\": 200, \"baseline\": 100, \"start\": \"2025-01-01\", "
				"\"deadline\": \"2025-04-11\", \"tolerance\": 0.1, \"forecast\": \"10d\", "
				"\"stale_after\": \"3d\"}]");
	struct alerts *r;
	char *cause = NULL;
	json_t *doc, *u;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0, "%s", cause);
	/* day 50: expected 150 */
	put("items", "city", "济南", T0 + 50 * DAY, 145);
	u = unit_at(r, T0 + 50 * DAY, "city", "济南", &doc);
	cr_assert_not_null(u);
	cr_expect_float_eq(num(u, "expected"), 150, 1e-9);
	cr_expect_str_eq(status(u), "on_track", "5 behind: within 10");
	json_decref(doc);
	/* day 60: expected 160, value 145: 15 behind > 10: lagging */
	put("items", "city", "济南", T0 + 60 * DAY, 145);
	u = unit_at(r, T0 + 60 * DAY, "city", "济南", &doc);
	cr_expect_str_eq(status(u), "lagging");
	json_decref(doc);
	/* day 61: 161 expected, 153: 8 behind: still lagging (clears within 5) */
	put("items", "city", "济南", T0 + 61 * DAY, 153);
	u = unit_at(r, T0 + 61 * DAY, "city", "济南", &doc);
	cr_expect_str_eq(status(u), "lagging", "hysteresis: 8 is not within half of 10");
	json_decref(doc);
	/* day 62: 162 expected, 158: 4 behind: clears */
	put("items", "city", "济南", T0 + 62 * DAY, 158);
	u = unit_at(r, T0 + 62 * DAY, "city", "济南", &doc);
	cr_expect_str_neq(status(u), "lagging");
	json_decref(doc);
	/* the progress ratio series: (158 - 100) / (200 - 100) */
	{
		struct query_result *res;
		struct query_error e = {0};
		cr_assert_eq(query_instant(st, NULL, "pacewatch_kpi_progress_ratio{kpi=\"mr\"}",
					   T0 + 62 * DAY, &res, &e), 0);
		cr_assert_eq(res->nseries, 1);
		cr_expect_float_eq(res->series[0].pts[0].v, 0.58, 1e-12);
		query_result_free(res);
	}
	alerts_free(r);
	conf_free(c);
}

Test(kpi, forecast_is_the_least_squares_line_at_the_deadline)
{
	/* samples y = 10 + 0.5 x (x in days) with noise that cancels out */
	struct conf *c = config("[{\"name\": \"cc\", \"value\": \"spots\", \"target\": 48, "
				"\"baseline\": 0, \"start\": \"2025-01-01\", \"deadline\": \"2025-03-02\", "
				"\"forecast\": \"10d\", \"stale_after\": \"2d\"}]");
	struct alerts *r;
	char *cause = NULL;
	json_t *doc, *u;
	static const double noise[] = {0.3, -0.3, 0.3, -0.3, 0.3, -0.3, 0.3, -0.3, 0.3, -0.3, 0};
	double sx = 0, sy = 0, sxy = 0, sx2 = 0, n = 0;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0, "%s", cause);
	/* one sample a day from day 20 to day 30 (the subquery step is 1 day) */
	for (int d = 20; d <= 30; d++) {
		double y = 10 + 0.5 * d + noise[d - 20];
		put("spots", "city", "青岛", T0 + d * DAY, y);
	}
	/* docs/kpis.md: least squares through the samples in [t - 10 d, t]
	 * (both ends included: days 20 to 30), read at the deadline (day 60) */
	int64_t t = T0 + 30 * DAY;
	for (int d = 20; d <= 30; d++) {
		int64_t ts = T0 + d * DAY;
		double x = (double)(ts - t) / DAY, y = 10 + 0.5 * d + noise[d - 20];
		sx += x, sy += y, sxy += x * y, sx2 += x * x, n++;
	}
	double slope = (sxy - sx * sy / n) / (sx2 - sx * sx / n), icpt = sy / n - slope * sx / n;
	double at_deadline = icpt + slope * 30; /* x in days from t: the deadline is 30 */
	u = unit_at(r, t, "city", "青岛", &doc);
	cr_assert_not_null(u);
	cr_expect_float_eq(num(u, "forecast"), at_deadline, 1e-9, "got %g want %g",
			   num(u, "forecast"), at_deadline);
	cr_expect_str_eq(status(u), at_deadline >= 48 ? "on_track" : "at_risk");
	json_decref(doc);
	alerts_free(r);
	conf_free(c);
}

/* the forecast the daemon carries from slot to slot (sums moved with the
 * window) is the least-squares line of the samples then in the window,
 * slot after slot, with staleness markers not counted */
Test(kpi, forecast_moves_with_the_window)
{
	struct conf *c = config("[{\"name\": \"fw\", \"value\": \"beds\", \"target\": 5000, "
				"\"baseline\": 0, \"start\": \"2025-01-01\", \"deadline\": \"2025-03-02\", "
				"\"forecast\": \"5h\", \"stale_after\": \"1d\"}]");
	struct alerts *r;
	char *cause = NULL;
	/* one sample every 20 s for 12 h; a 5 h window is refitted from the
	 * store every 3 min, moved in between */
	enum { NS = 12 * 180 };
	static double ys[NS];
	int64_t t0 = T0 + 10 * DAY, ts[NS];
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0, "%s", cause);
	for (int i = 0; i < NS; i++) {
		ts[i] = t0 + i * 20000LL;
		ys[i] = 100 + 0.01 * i + ((i * 7919) % 13) * 0.37 - (i / 300) * 5.5;
		if (i % 97 == 50)
			ys[i] = NAN; /* a staleness marker: a failed scrape */
	}
	for (int m = 0; m <= 12 * 60; m += 1) {
		int64_t t = t0 + m * 60000LL;
		struct pw_label l[2] = {{"__name__", "beds"}, {"city", "威海"}};
		struct store_batch *b = store_batch_begin(st);
		for (int i = 0; i < NS; i++)
			if (ts[i] > t - 60000 && ts[i] <= t)
				store_batch_put(b, l, 2, ts[i], isnan(ys[i]) ? store_stale_nan() : ys[i]);
		cr_assert_eq(store_batch_commit(b, &cause), 0);
		if (m < 2)
			continue;
		/* by hand: the real samples in [t - 1h, t], x in seconds from t */
		double sx = 0, sy = 0, sxy = 0, sx2 = 0, n = 0;
		for (int i = 0; i < NS; i++) {
			if (ts[i] < t - 5 * 3600000 || ts[i] > t || isnan(ys[i]))
				continue;
			double x = (double)(ts[i] - t) / 1000;
			sx += x, sy += ys[i], sxy += x * ys[i], sx2 += x * x, n++;
		}
		double slope = (sxy - sx * sy / n) / (sx2 - sx * sx / n), icpt = sy / n - slope * sx / n;
		double want = icpt + slope * (double)(T0 + 60 * DAY - t) / 1000;
		json_t *doc, *u = unit_at(r, t, "city", "威海", &doc);
		cr_assert_not_null(u);
		cr_assert_float_eq(num(u, "forecast"), want, 1e-9 * fabs(want), "minute %d: got %.12g want %.12g",
				   m, num(u, "forecast"), want);
		json_decref(doc);
	}
	alerts_free(r);
	conf_free(c);
}

/* docs/kpis.md, "The plan": a unit whose baseline already reaches the
 * target has nothing left to plan */
Test(kpi, baseline_already_at_the_target)
{
	struct conf *c = config("[{\"name\": \"mr\", \"value\": \"items\", \"target\": 201, "
				"\"start\": \"2025-01-01\", \"deadline\": \"2025-12-01\", "
				"\"stale_after\": \"30d\"}]");
	struct alerts *r;
	char *cause = NULL;
	json_t *doc, *u;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0, "%s", cause);
	/* first reported on day 100 with 225: B = 225 (a late starter) */
	put("items", "city", "东营", T0 + 100 * DAY, 225);
	u = unit_at(r, T0 + 100 * DAY, "city", "东营", &doc);
	cr_assert_not_null(u);
	cr_expect_float_eq(num(u, "baseline"), 225, 1e-9);
	cr_expect_float_eq(num(u, "expected"), 201, 1e-9, "the plan is the target");
	cr_expect_float_eq(num(u, "progress"), 1, 1e-12);
	cr_expect_float_eq(num(u, "expected_progress"), 1, 1e-12);
	cr_expect_str_eq(status(u), "met");
	json_decref(doc);
	/* falls to 195: 6 below the target, more than 0.1 * |201 - 225| = 2.4 */
	put("items", "city", "东营", T0 + 101 * DAY, 195);
	u = unit_at(r, T0 + 101 * DAY, "city", "东营", &doc);
	cr_expect_float_eq(num(u, "gap"), 6, 1e-9);
	cr_expect_float_eq(num(u, "progress"), 0, 1e-12);
	cr_expect_str_eq(status(u), "lagging");
	json_decref(doc);
	alerts_free(r);
	conf_free(c);
}

/* docs/kpis.md, at_risk: a forecast from points spanning less than half
 * its window is shown, but does not make a unit at risk */
Test(kpi, at_risk_needs_half_a_window_of_points)
{
	struct conf *c = config("[{\"name\": \"f\", \"value\": \"beds\", \"target\": 100, "
				"\"baseline\": 0, \"start\": \"2025-01-01\", \"deadline\": \"2025-01-31\", "
				"\"forecast\": \"4d\", \"stale_after\": \"2d\", \"tolerance\": 0.5}]");
	struct alerts *r;
	char *cause = NULL;
	json_t *doc, *u;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0, "%s", cause);
	/* flat at 40 from day 10: well within the tolerance of the plan (E =
	 * 100 * day / 30), forecast 40 < 100 */
	for (int h = 0; h <= 4 * 24; h += 6)
		put("beds", "city", "滨州", T0 + 10 * DAY + h * 3600000LL, 40);
	/* day 11: the points span 1 day of the 4-day window: not yet at risk */
	u = unit_at(r, T0 + 11 * DAY, "city", "滨州", &doc);
	cr_expect_float_eq(num(u, "forecast"), 40, 1e-9, "the forecast is shown");
	cr_expect_str_eq(status(u), "on_track", "1 day of points is not half of 4");
	json_decref(doc);
	/* day 12: 2 days: at risk */
	u = unit_at(r, T0 + 12 * DAY, "city", "滨州", &doc);
	cr_expect_str_eq(status(u), "at_risk");
	json_decref(doc);
	alerts_free(r);
	conf_free(c);
}

Test(kpi, milestones_step_and_at_most)
{
	struct conf *c = config(
		"[{\"name\": \"vc\", \"value\": \"clinics\", \"target\": 200, \"baseline\": 0, "
		"\"start\": \"2025-01-01\", \"deadline\": \"2025-11-30\", \"milestones\": "
		"[{\"at\": \"2025-06-30\", \"value\": 120}]},"
		" {\"name\": \"hl\", \"value\": \"answering\", \"target\": 1, \"baseline\": 0, "
		"\"curve\": \"step\", \"start\": \"2025-01-01\", \"deadline\": \"2025-05-01\"},"
		" {\"name\": \"dep\", \"value\": \"deposit\", \"target\": 100, \"baseline\": 1000, "
		"\"direction\": \"at_most\", \"start\": \"2025-01-01\", \"deadline\": \"2025-01-11\"}]");
	struct alerts *r;
	char *cause = NULL;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0, "%s", cause);
	int64_t jun30 = T0 + 180 * DAY, mar1 = T0 + 59 * DAY;
	put("clinics", "county", "郓城县", jun30, 95);
	put("answering", "line", "1", mar1, 0);
	put("deposit", "hospital", "h1", T0 + 5 * DAY, 600);
	/* each KPI looked at on its own day */
	json_t *doc;
	json_t *vc = unit_kpi(r, jun30, 0, &doc);
	cr_expect_float_eq(num(vc, "expected"), 120, 1e-9, "the milestone's value on its day");
	cr_expect_str_eq(status(vc), "lagging", "95 against 120: 25 behind, more than the tolerance of 20");
	json_decref(doc);
	json_t *hl = unit_kpi(r, mar1, 1, &doc);
	cr_expect_float_eq(num(hl, "expected"), 0, 1e-9, "a step: nothing due before 1 May");
	cr_expect_str_eq(status(hl), "on_track");
	json_decref(doc);
	/* at_most, halfway: 1000 -> 100, expected 550; 600 is 50 above: within 90 */
	json_t *dep = unit_kpi(r, T0 + 5 * DAY, 2, &doc);
	cr_expect_float_eq(num(dep, "expected"), 550, 1e-9);
	cr_expect_str_eq(status(dep), "on_track");
	cr_expect_float_eq(num(dep, "value"), 600, 1e-9);
	json_decref(doc);
	alerts_free(r);
	conf_free(c);
}

Test(kpi, met_missed_roster_and_stale)
{
	struct conf *c = config(
		"[{\"name\": \"dialysis\", \"title\": \"透析覆盖\", \"value\": \"hospitals > 0\", "
		"\"target\": 1, \"baseline\": 0, \"start\": \"2025-01-01\", \"deadline\": \"2025-01-21\", "
		"\"roster\": \"residents > 100000\", \"stale_after\": \"2d\"}]");
	struct alerts *r;
	char *cause = NULL;
	json_t *doc, *u;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0, "%s", cause);
	for (int d = 0; d <= 30; d++) {
		put("residents", "county", "A县", T0 + d * DAY, 300000);
		put("residents", "county", "B县", T0 + d * DAY, 150000);
		put("residents", "county", "C县", T0 + d * DAY, 50000);
		if (d <= 12)
			put("hospitals", "county", "A县", T0 + d * DAY, 2);
	}
	u = unit_at(r, T0 + 10 * DAY, "county", "A县", &doc);
	cr_expect_str_eq(status(u), "met");
	json_decref(doc);
	u = unit_at(r, T0 + 10 * DAY, "county", "B县", &doc);
	cr_assert_not_null(u, "B county is in the roster and reports nothing");
	cr_expect_str_eq(status(u), "not_reporting");
	json_decref(doc);
	u = unit_at(r, T0 + 10 * DAY, "county", "C县", &doc);
	cr_expect_null(u, "under 100,000 residents: not in the roster");
	json_decref(doc);
	/* A stops reporting after day 12: stale once 2 days pass */
	u = unit_at(r, T0 + 16 * DAY, "county", "A县", &doc);
	cr_expect_str_eq(status(u), "stale");
	json_decref(doc);
	/* the alerts: B missing, A stale, in Chinese */
	{
		struct pw_buf b;
		pw_buf_init(&b, 0);
		json_alerts(r, &b);
		cr_expect(strstr(b.data, "\"alertname\":\"KpiUnitMissing\""), "%s", b.data);
		cr_expect(strstr(b.data, "透析覆盖：B县 应报未报"), "%s", b.data);
		cr_expect(strstr(b.data, "\"alertname\":\"KpiStale\""), "%s", b.data);
		pw_buf_free(&b);
	}
	alerts_free(r);
	conf_free(c);
}

Test(kpi, missed_after_the_deadline)
{
	struct conf *c = config("[{\"name\": \"x\", \"title\": \"Items\", \"value\": \"items\", "
				"\"target\": 200, \"baseline\": 100, \"start\": \"2025-01-01\", "
				"\"deadline\": \"2025-01-11\", \"stale_after\": \"5d\"}]");
	struct alerts *r;
	char *cause = NULL;
	json_t *doc, *u;
	struct pw_buf b;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0, "%s", cause);
	put("items", "city", "烟台", T0 + 11 * DAY, 190);
	u = unit_at(r, T0 + 12 * DAY, "city", "烟台", &doc);
	cr_expect_str_eq(status(u), "missed");
	json_decref(doc);
	pw_buf_init(&b, 0);
	json_alerts(r, &b);
	cr_expect(strstr(b.data, "Items: 烟台 missed 2025-01-11: 190 against the target 200, 10 short"),
		  "%s", b.data);
	pw_buf_free(&b);
	alerts_free(r);
	conf_free(c);
}

Test(kpi, monthly_quota_counts_in_local_time)
{
	/* >= 6 events a month, counted in Asia/Shanghai */
	struct conf *c = config("[{\"name\": \"events\", \"title\": \"专家下基层\", "
				"\"value\": \"events_total\", \"count\": \"increase\", \"period\": \"month\", "
				"\"target\": 6, \"start\": \"2025-01-01\", \"deadline\": \"2025-12-31\", "
				"\"stale_after\": \"40d\"}]");
	struct alerts *r;
	char *cause = NULL;
	json_t *doc, *u;
	int64_t jun30_2359 = 1751299140000LL; /* 2025-06-30T23:59:00+08:00 */
	int64_t jul01_0001 = 1751299260000LL; /* 2025-07-01T00:01:00+08:00 */
	int64_t jun01 = 1748707200000LL;      /* 2025-06-01T00:00:00+08:00 */
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0, "%s", cause);
	/* a counter: 0 early in May and 10 at its end (May met: June is not
	 * missed for May), +2, reset to 1, +3 in June; +1 just after midnight */
	put("events_total", "county", "郓城县", jun01 - 30 * DAY, 0);
	put("events_total", "county", "郓城县", jun01 - 3600000, 10);
	put("events_total", "county", "郓城县", jun01 + 5 * DAY, 12);
	put("events_total", "county", "郓城县", jun01 + 10 * DAY, 1); /* reset: counts 1 */
	put("events_total", "county", "郓城县", jun30_2359, 4);      /* +3 before midnight */
	put("events_total", "county", "郓城县", jul01_0001, 5);      /* July */
	/* in June: 2 + 1 + 3 = 6: met */
	u = unit_at(r, jun30_2359 + 30000, "county", "郓城县", &doc);
	cr_assert_not_null(u);
	cr_expect_float_eq(num(u, "value"), 6, 1e-9, "June counts 2 + 1 (reset) + 3");
	cr_expect_str_eq(status(u), "met");
	json_decref(doc);
	/* in July: only the sample after midnight: 1 of 6, expected pro rata ~0 */
	u = unit_at(r, jul01_0001 + 60000, "county", "郓城县", &doc);
	cr_expect_float_eq(num(u, "value"), 1, 1e-9, "the 00:01 sample is July's");
	cr_expect_str_eq(status(u), "on_track");
	json_decref(doc);
	/* mid July, still 1: lagging (expected ~2.9) */
	u = unit_at(r, jul01_0001 + 15 * DAY, "county", "郓城县", &doc);
	cr_expect_str_eq(status(u), "lagging");
	json_decref(doc);
	alerts_free(r);
	conf_free(c);
}

Test(kpi, missed_months_are_named_by_period)
{
	struct conf *c = config("[{\"name\": \"lectures\", \"title\": \"Lectures\", "
				"\"value\": \"lectures\", \"period\": \"month\", \"target\": 1, "
				"\"start\": \"2025-01-01\", \"deadline\": \"2025-12-31\", "
				"\"stale_after\": \"40d\"}]");
	struct alerts *r;
	char *cause = NULL;
	struct pw_buf b;
	int64_t jun01 = 1748707200000LL, jul01 = 1751299200000LL;
	cr_assert_eq(alerts_new(c, st, NULL, &r, &cause), 0, "%s", cause);
	/* a monthly ledger: 0 lectures in June, 2 in July */
	put("lectures", "county", "曹县", jun01 + 29 * DAY, 0);
	put("lectures", "county", "曹县", jul01 + 20 * DAY, 2);
	cr_assert_eq(alerts_eval_kpis(r, jul01 + 21 * DAY, &cause), 0);
	pw_buf_init(&b, 0);
	json_alerts(r, &b);
	cr_expect(strstr(b.data, "\"alertname\":\"KpiMissed\""), "%s", b.data);
	cr_expect(strstr(b.data, "\"period\":\"2025-06\""), "%s", b.data);
	cr_expect(strstr(b.data, "Lectures: 曹县 missed 2025-06: 0 against the target 1, 1 short"), "%s", b.data);
	pw_buf_free(&b);
	alerts_free(r);
	conf_free(c);
}
