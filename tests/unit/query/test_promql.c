/*
 * The PromQL engine where the differential test against Prometheus cannot
 * reach: staleness markers (promtool cannot load them), the lookback delta
 * option, the sample and time limits, error positions and carets, and the
 * API's number formatting.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test_dir.h"
#include "query.h"

static struct store *st;
static char dir[64];

static void put(struct store_batch *b, const char *name, const char *city, int64_t t, double v)
{
	struct pw_label l[2] = {{"__name__", name}, {"city", city}};
	cr_assert_eq(store_batch_put(b, l, 2, t, v), 0);
}

static void setup(void)
{
	struct store_opts o = {0};
	struct store_batch *b;
	char *cause = NULL;
	snprintf(dir, sizeof dir, "/tmp/pw-promql-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	o.path = dir;
	o.no_sync = true;
	cr_assert_eq(store_open(&o, &st, &cause), 0, "%s", cause ? cause : "");
	b = store_batch_begin(st);
	/* a: every 15 s from 0 to 60 s, then a staleness marker at 75 s */
	for (int64_t t = 0; t <= 60000; t += 15000)
		put(b, "spots", "a", t, 1);
	put(b, "spots", "a", 75000, store_stale_nan());
	/* b: same samples, no marker: visible for the lookback delta */
	for (int64_t t = 0; t <= 60000; t += 15000)
		put(b, "spots", "b", t, 2);
	/* many samples for the limits */
	for (int64_t t = 0; t < 3600000; t += 1000)
		put(b, "busy", "c", t, (double)t);
	cr_assert_eq(store_batch_commit(b, &cause), 0, "%s", cause ? cause : "");
}

static void teardown(void)
{
	store_close(st);
	test_dir_remove(dir);
}

TestSuite(promql, .init = setup, .fini = teardown);

static size_t count_at(const char *q, int64_t t, const struct query_opts *o)
{
	struct query_result *r;
	struct query_error e = {0};
	size_t n;
	cr_assert_eq(query_instant(st, o, q, t, &r, &e), 0, "%s: %s", q, e.msg ? e.msg : "");
	n = r->nseries;
	query_result_free(r);
	return n;
}

Test(promql, staleness_marker_ends_a_series_at_once)
{
	cr_expect_eq(count_at("spots{city=\"a\"}", 70000, NULL), 1);
	cr_expect_eq(count_at("spots{city=\"a\"}", 80000, NULL), 0, "stale after the marker");
	cr_expect_eq(count_at("spots{city=\"b\"}", 80000, NULL), 1, "no marker: lookback");
	cr_expect_eq(count_at("spots{city=\"b\"}", 360000, NULL), 1, "60 s + 5 m is still in");
	cr_expect_eq(count_at("spots{city=\"b\"}", 360001, NULL), 0, "past the lookback");
	/* a range selector skips the marker but keeps the samples before it */
	cr_expect_eq(count_at("count_over_time(spots{city=\"a\"}[1m])", 90000, NULL), 1);
	cr_expect_eq(count_at("spots{city=\"a\"} offset 20s", 80000, NULL), 1);
	cr_expect_eq(count_at("spots{city=\"a\"} @ 60", 1000000, NULL), 1);
	cr_expect_eq(count_at("spots{city=\"a\"} @ 80", 60000, NULL), 0);
}

Test(promql, staleness_in_range_queries)
{
	struct query_result *r;
	struct query_error e = {0};
	cr_assert_eq(query_range(st, NULL, "spots", 0, 120000, 10000, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(r->type, QUERY_MATRIX);
	cr_assert_eq(r->nseries, 2);
	/* sorted by labels: a then b; a stops at its marker (70 s), b runs on */
	cr_expect_eq(r->series[0].n, 8, "a: 0..70 s");
	cr_expect_eq(r->series[0].pts[7].t, 70000);
	cr_expect_eq(r->series[1].n, 13, "b: 0..120 s");
	query_result_free(r);
}

Test(promql, lookback_delta_option)
{
	struct query_opts o = {.lookback_ms = 30000};
	cr_expect_eq(count_at("spots{city=\"b\"}", 90000, &o), 1);
	cr_expect_eq(count_at("spots{city=\"b\"}", 90001, &o), 0);
}

Test(promql, too_many_samples_is_an_execution_error)
{
	struct query_opts o = {.max_samples = 1000};
	struct query_result *r;
	struct query_error e = {0};
	cr_assert_neq(query_range(st, &o, "busy", 0, 3600000, 1000, &r, &e), 0);
	cr_expect_eq(e.type, QUERY_ERR_EXECUTION);
	cr_expect(strstr(e.msg, "too many samples"), "%s", e.msg);
	cr_expect_eq(query_errtype_status(e.type), 422);
	query_error_clear(&e);
	/* within the limit it works */
	cr_assert_eq(query_range(st, &o, "busy", 0, 100000, 1000, &r, &e), 0, "%s", e.msg);
	query_result_free(r);
}

Test(promql, timeout_is_a_timeout_error)
{
	struct query_opts o = {.timeout_ms = 1};
	struct query_result *r;
	struct query_error e = {0};
	cr_assert_neq(query_range(st, &o, "sum_over_time(busy[1h:1s])", 0, 3600000, 1000, &r, &e),
		      0);
	cr_expect_eq(e.type, QUERY_ERR_TIMEOUT);
	cr_expect_str_eq(e.msg, "query timed out in query execution");
	cr_expect_eq(query_errtype_status(e.type), 503);
	query_error_clear(&e);
}

Test(promql, parse_errors_point_at_the_fault)
{
	static const struct { const char *q; int pos; const char *msg; } bad[] = {
		{"sum(rate(x[5m))", 13, "1:14: parse error: unexpected \")\" in subquery or range selector, expected \"]\""},
		{"x +", 3, "1:4: parse error: unexpected end of input"},
		{"rate(x)", 5, "expected type range vector in call to function \"rate\", got instant vector"},
		{"foo(x)", 0, "unknown function with name \"foo\""},
		{"x{a=~\"(\"}", 2, "1:3: parse error: error parsing regexp: missing closing ): `^(?:()$`"},
		{"1 > 2", 0, "comparisons between scalars must use BOOL modifier"},
		{"x\n  + on(a) 1", 0, "vector matching only allowed between instant vectors"},
		{"x\n  + )", 6, "2:5: parse error: unexpected \")\""},
		{"(x)[5m]", 0, "ranges only allowed for vector selectors"},
		{"x[5m:1m][1m:]", 0, "subquery is only allowed on instant vector"},
		{"sum(x) offset 5m", 7, "offset modifier must be preceded by"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct query_expr *x = NULL;
		struct query_error e = {0};
		cr_expect_eq(query_parse(bad[i].q, &x, &e), PW_EINVAL, "%s", bad[i].q);
		cr_expect_eq(e.type, QUERY_ERR_BAD_DATA);
		cr_expect(e.msg && strstr(e.msg, bad[i].msg), "%s: got \"%s\"", bad[i].q, e.msg);
		cr_expect_eq(e.pos, bad[i].pos, "%s: position %d", bad[i].q, e.pos);
		query_error_clear(&e);
	}
}

Test(promql, caret_sits_under_the_fault)
{
	char *c = query_caret("sum(rate(城市[5m))", 16);
	/* two leading spaces, then one column per character before the fault */
	cr_expect_str_eq(c, "  sum(rate(城市[5m))\n              ^");
	free(c);
	c = query_caret("a +\n  b )", 8);
	cr_expect_str_eq(c, "    b )\n      ^");
	free(c);
}

Test(promql, values_read_as_prometheus_writes_them)
{
	static const struct { double v; const char *s; } cases[] = {
		{1, "1"}, {0.1, "0.1"}, {-2.5, "-2.5"}, {1e21, "1000000000000000000000"},
		{1e-7, "0.0000001"}, {123456789.125, "123456789.125"}, {1.0 / 3, "0.3333333333333333"},
		{INFINITY, "+Inf"}, {-INFINITY, "-Inf"}, {NAN, "NaN"}, {-0.0, "-0"}, {0, "0"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char b[400];
		pw_fmt_float(b, sizeof b, cases[i].v, PW_FMT_GO_F);
		cr_expect_str_eq(b, cases[i].s);
	}
	{
		/* the smallest subnormal: "0." then 323 zeros then 5, no exponent */
		char b[400], want[400] = "0.";
		memset(want + 2, '0', 323);
		strcpy(want + 325, "5");
		pw_fmt_float(b, sizeof b, 5e-324, PW_FMT_GO_F);
		cr_expect_str_eq(b, want);
	}
}

Test(promql, results_own_their_labels)
{
	struct query_result *r;
	struct query_error e = {0};
	/* "${1}": "$1市" would name the group "1市", as 市 is a letter to Go */
	cr_assert_eq(query_instant(st, NULL, "label_replace(spots, \"town\", \"${1}市\", \"city\", \"(.*)\")",
				   60000, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(r->nseries, 2);
	cr_expect_eq(r->series[0].nlabels, 3);
	cr_expect_str_eq(r->series[0].labels[2].name, "town");
	cr_expect_str_eq(r->series[0].labels[2].value, "a市");
	query_result_free(r);
}

/* the shortest digits that read back, by brute force */
static int shortest_digits(double v)
{
	char e[64];
	for (int p = 1; p <= 17; p++) {
		snprintf(e, sizeof e, "%.*e", p - 1, v);
		if (strtod(e, NULL) == v)
			return p;
	}
	return 17;
}

Test(promql, value_formatting_is_shortest_and_exact)
{
	uint64_t x = 88172645463325252ULL;
	for (int i = 0; i < 200000; i++) {
		double v;
		char b[400];
		int sig = 0;
		bool lead = true;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(&v, &x, sizeof v);
		if (i % 2) /* also ordinary magnitudes, not only the whole exponent range */
			v = (double)(x % 100000000) / (double)(1 + x % 9973);
		if (isnan(v) || isinf(v) || v == 0)
			continue;
		pw_fmt_float(b, sizeof b, v, PW_FMT_GO_F);
		cr_assert_eq(strtod(b, NULL), v, "%s reads back as %.17g", b, v);
		cr_assert_null(strpbrk(b, "eE"), "%s has no exponent", b);
		for (const char *p = b; *p; p++) {
			if (*p >= '1' && *p <= '9')
				lead = false;
			if (*p >= '0' && *p <= '9' && !lead)
				sig++;
		}
		/* integers may carry zeros before the point that are not significant */
		if (!strchr(b, '.')) {
			const char *q = b + strlen(b);
			while (q > b && q[-1] == '0')
				q--, sig--;
		}
		cr_assert_eq(sig, shortest_digits(v), "%.17g printed as %s", v, b);
	}
}

/* A range query's steps must each be bit for bit what an instant query at
 * that step gives, where the range query takes shortcuts over many windows
 * (func.c: avg_over_time's windows computed side by side, rate's and
 * increase's counter resets counted once): q at 10 s steps over 30 min
 * against q{city=...} instant at each step. */
static size_t steps_match_instants(const char *fn, const char *metric, const char *win)
{
	struct query_result *r, *ri;
	struct query_error e = {0};
	char q[96];
	size_t checked = 0;
	snprintf(q, sizeof q, "%s(%s[%s])", fn, metric, win);
	cr_assert_eq(query_range(st, NULL, q, 0, 1800000, 10000, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(r->nseries, 6, "%s", q);
	for (size_t i = 0; i < r->nseries; i++) {
		const struct query_series *qs = &r->series[i];
		const char *city = NULL;
		for (size_t l = 0; l < qs->nlabels; l++)
			if (strcmp(qs->labels[l].name, "city") == 0)
				city = qs->labels[l].value;
		cr_assert_not_null(city);
		snprintf(q, sizeof q, "%s(%s{city=\"%s\"}[%s])", fn, metric, city, win);
		for (size_t k = 0; k < qs->n; k++) {
			uint64_t want, got;
			cr_assert_eq(query_instant(st, NULL, q, qs->pts[k].t, &ri, &e), 0, "%s", e.msg);
			cr_assert_eq(ri->nseries, 1, "%s at %lld", q, (long long)qs->pts[k].t);
			memcpy(&want, &ri->series[0].pts[0].v, 8);
			memcpy(&got, &qs->pts[k].v, 8);
			cr_assert_eq(got, want, "%s at %lld: range %a, instant %a", q,
				     (long long)qs->pts[k].t, qs->pts[k].v, ri->series[0].pts[0].v);
			query_result_free(ri);
			checked++;
		}
	}
	query_result_free(r);
	return checked;
}

/* series with gaps (windows of different lengths, one gap per series),
 * infinities of both signs and NaN (wobbly), counters that reset (ctr) */
Test(promql, range_steps_are_the_instant_answers)
{
	static const double special[] = {INFINITY, -INFINITY, NAN, 1e308, -1e308, 0.1, -0.0};
	struct store_batch *b = store_batch_begin(st);
	char *cause = NULL;
	uint64_t seed = 7;
	for (int s = 0; s < 6; s++) {
		char city[8];
		double c = 0;
		snprintf(city, sizeof city, "w%d", s);
		for (int64_t t = 0; t <= 1800000; t += 15000) {
			double v;
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			if (t > 600000 && t < 700000 + s * 60000)
				continue;
			v = (double)(seed >> 40) / 1000.0 + s * 1e6;
			if (s >= 3 && (seed >> 20) % 9 == 0)
				v = special[(seed >> 8) % 7 % (s == 3 ? 2 : 7)];
			put(b, "wobbly", city, t, v);
			c = (seed >> 24) % 13 == 0 ? (double)(seed % 5) : c + (double)(seed % 7) / 3;
			put(b, "ctr", city, t, c);
		}
	}
	cr_assert_eq(store_batch_commit(b, &cause), 0, "%s", cause ? cause : "");
	cr_expect_gt(steps_match_instants("avg_over_time", "wobbly", "2m"), 900);
	cr_expect_gt(steps_match_instants("avg_over_time", "wobbly", "30s"), 900);
	cr_expect_gt(steps_match_instants("rate", "ctr", "2m"), 900);
	cr_expect_gt(steps_match_instants("increase", "ctr", "5m"), 900);
	cr_expect_gt(steps_match_instants("rate", "wobbly", "1m"), 900);
}

/* avg_over_time is the window's compensated sum over its count
 * (docs/promql.md): 1e16, 1, -1e16, 1 average 0.5 exactly, where an
 * incremental mean gives 0.25; a sum that overflows turns to the
 * incremental mean, so values of 1.7e308 average 1.7e308, not +Inf. The
 * same at an instant and at each step of a range query (whose windows are
 * summed four at a time). */
Test(promql, avg_over_time_compensated_and_overflowing)
{
	static const double cancel[] = {1e16, 1, -1e16, 1};
	static const struct {
		const char *q;
		double want;
	} cases[] = {{"avg_over_time(cancel[59s])", 0.5}, {"avg_over_time(huge[59s])", 1.7e308}};
	struct store_batch *b = store_batch_begin(st);
	char *cause = NULL;
	for (int k = 0; k < 8; k++) {
		put(b, "cancel", "x", k * 15000, cancel[k % 4]);
		put(b, "huge", "x", k * 15000, 1.7e308);
	}
	cr_assert_eq(store_batch_commit(b, &cause), 0, "%s", cause ? cause : "");
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		struct query_result *r;
		struct query_error e = {0};
		/* the windows [-14 s, 45 s] and [46 s, 105 s]: four samples each */
		for (int64_t t = 45000; t <= 105000; t += 60000) {
			cr_assert_eq(query_instant(st, NULL, cases[c].q, t, &r, &e), 0, "%s", e.msg);
			cr_assert_eq(r->nseries, 1);
			cr_expect_eq(r->series[0].pts[0].v, cases[c].want, "%s at %lld: %a", cases[c].q,
				     (long long)t, r->series[0].pts[0].v);
			query_result_free(r);
		}
		cr_assert_eq(query_range(st, NULL, cases[c].q, 45000, 105000, 60000, &r, &e), 0,
			     "%s", e.msg);
		cr_assert_eq(r->nseries, 1);
		cr_assert_eq(r->series[0].n, 2);
		for (size_t k = 0; k < 2; k++)
			cr_expect_eq(r->series[0].pts[k].v, cases[c].want, "%s, range step %zu: %a",
				     cases[c].q, k, r->series[0].pts[k].v);
		query_result_free(r);
	}
}

/* predict_linear and deriv by hand: points every 60 s valued 30i + 10, 3
 * more at odd i. A window of three (at t = 60(i + 2) s, [2m] holding both
 * ends) has x = -120, -60, 0 s from t and, for deriv, 0, 60, 120 s from its
 * first point; sx = -180 (180), sx2 = 18000, so var = 18000 - 180^2/3 =
 * 7200, and cov = sxy - sx*sy/3 = 60(c - a) = 3600 for its first and last
 * values a, c (c - a = 60 at either parity): slope 0.5 a second. The
 * intercept is sy/3 + 0.5*180/3 = sy/3 + 30, sy = 90i + 123 at even i, 90i +
 * 126 at odd, so predict_linear(hw[2m], 60) = 30i + 101 (even), 30i + 102
 * (odd); every figure exact in binary. A constant answers itself (slope 0),
 * an infinite constant NaN. The range query's nine windows go four at a
 * time (then one), and must give these same figures. */
Test(promql, linreg_by_hand)
{
	static const struct {
		const char *q, *city;
		int kind; /* 0: predict 60 s ahead, 1: deriv, 2: predict time() - 120 s ahead */
	} cases[] = {
		{"predict_linear(hw[2m], 60)", "a", 0},
		{"deriv(hw[2m])", "a", 1},
		{"predict_linear(hw[2m], time() - 120)", "a", 2},
		{"predict_linear(hw[2m], 60)", "k", 3},
		{"deriv(hw[2m])", "k", 4},
		{"predict_linear(hw[2m], 60)", "i", 5},
		{"deriv(hw[2m])", "i", 5},
	};
	struct store_batch *b = store_batch_begin(st);
	char *cause = NULL;
	for (int i = 0; i <= 10; i++) {
		put(b, "hw", "a", i * 60000, 30.0 * i + 10 + 3 * (i % 2));
		put(b, "hw", "k", i * 60000, 5);
		put(b, "hw", "i", i * 60000, INFINITY);
	}
	cr_assert_eq(store_batch_commit(b, &cause), 0, "%s", cause ? cause : "");
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		struct query_result *r, *ri;
		struct query_error e = {0};
		const struct query_series *s = NULL;
		char qi[96];
		cr_assert_eq(query_range(st, NULL, cases[c].q, 120000, 600000, 60000, &r, &e), 0,
			     "%s", e.msg);
		for (size_t k = 0; k < r->nseries; k++)
			for (size_t l = 0; l < r->series[k].nlabels; l++)
				if (strcmp(r->series[k].labels[l].name, "city") == 0 &&
				    strcmp(r->series[k].labels[l].value, cases[c].city) == 0)
					s = &r->series[k];
		cr_assert_not_null(s, "%s: %s", cases[c].q, cases[c].city);
		cr_assert_eq(s->n, 9, "%s: %s", cases[c].q, cases[c].city);
		for (int i = 0; i < 9; i++) {
			int64_t t = (int64_t)(i + 2) * 60000;
			double want;
			switch (cases[c].kind) {
			case 0:
				want = 30.0 * i + 101 + i % 2;
				break;
			case 1:
				want = 0.5;
				break;
			case 2: /* the intercept and 0.5 a second for t/1000 - 120 s */
				want = 30.0 * i + 71 + i % 2 + 0.5 * ((double)t / 1000 - 120);
				break;
			case 3:
				want = 5;
				break;
			case 4:
				want = 0;
				break;
			default:
				want = NAN;
			}
			cr_expect_eq(s->pts[i].t, t);
			if (isnan(want))
				cr_expect(isnan(s->pts[i].v), "%s: %s at %lld: %a", cases[c].q,
					  cases[c].city, (long long)t, s->pts[i].v);
			else
				cr_expect_eq(s->pts[i].v, want, "%s: %s at %lld: %a, not %a",
					     cases[c].q, cases[c].city, (long long)t, s->pts[i].v, want);
			/* and the instant query at that step */
			snprintf(qi, sizeof qi, "%s", cases[c].q);
			*strchr(qi, '[') = 0;
			snprintf(qi + strlen(qi), sizeof qi - strlen(qi), "{city=\"%s\"}%s", cases[c].city,
				 strchr(cases[c].q, '['));
			cr_assert_eq(query_instant(st, NULL, qi, t, &ri, &e), 0, "%s", e.msg);
			cr_assert_eq(ri->nseries, 1, "%s", qi);
			if (isnan(want))
				cr_expect(isnan(ri->series[0].pts[0].v), "%s at %lld", qi, (long long)t);
			else
				cr_expect_eq(ri->series[0].pts[0].v, want, "%s at %lld: %a", qi,
					     (long long)t, ri->series[0].pts[0].v);
			query_result_free(ri);
		}
		query_result_free(r);
	}
}

/* q (a format whose %s takes a matcher: "" for all series) as a range
 * query over [0, 30 min] at 10 s steps, against the instant query of each
 * of ncity series (city lN) at every step: a point where the instant query
 * has one, none where it has none, bit for bit the same value, but any NaN
 * for a NaN: which of two NaN an addition passes on (so the sign bit of
 * NaN + -NaN) follows the order a compiler gives its operands, and no
 * answer shows a NaN's bits (they are all written NaN). */
static size_t range_is_instants(const char *q, int ncity)
{
	struct query_result *r, *ri;
	struct query_error e = {0};
	char qq[160], m[32];
	size_t checked = 0;
	snprintf(qq, sizeof qq, q, "");
	cr_assert_eq(query_range(st, NULL, qq, 0, 1800000, 10000, &r, &e), 0, "%s: %s", qq, e.msg);
	for (int c = 0; c < ncity; c++) {
		const struct query_series *s = NULL;
		char city[16];
		size_t k = 0;
		snprintf(city, sizeof city, "l%d", c);
		for (size_t i = 0; i < r->nseries; i++)
			for (size_t l = 0; l < r->series[i].nlabels; l++)
				if (strcmp(r->series[i].labels[l].name, "city") == 0 &&
				    strcmp(r->series[i].labels[l].value, city) == 0)
					s = &r->series[i];
		snprintf(m, sizeof m, "{city=\"%s\"}", city);
		snprintf(qq, sizeof qq, q, m);
		for (int64_t t = 0; t <= 1800000; t += 10000) {
			bool has = s && k < s->n && s->pts[k].t == t;
			cr_assert_eq(query_instant(st, NULL, qq, t, &ri, &e), 0, "%s: %s", qq, e.msg);
			cr_assert_eq(has, ri->nseries == 1, "%s at %lld: range %s a point, instant %zu",
				     qq, (long long)t, has ? "has" : "has no", ri->nseries);
			if (has) {
				uint64_t want, got;
				memcpy(&want, &ri->series[0].pts[0].v, 8);
				memcpy(&got, &s->pts[k].v, 8);
				if (isnan(s->pts[k].v) && isnan(ri->series[0].pts[0].v))
					got = want;
				cr_assert_eq(got, want, "%s at %lld: range %a, instant %a", qq,
					     (long long)t, s->pts[k].v, ri->series[0].pts[0].v);
				k++;
				checked++;
			}
			query_result_free(ri);
		}
		cr_assert(!s || k == s->n, "%s: points at no step", qq);
	}
	query_result_free(r);
	return checked;
}

/* predict_linear's and deriv's range steps (func.c: windows evaluated four
 * at a time) are the instant answers, over awkward series: l0 regular every
 * 15 s with NaN, infinities, +-1e308 and -0 here and there; l1 regular with
 * constant runs (finite, +0 against -0, infinite, NaN); l2 at jittered
 * times; l3 regular with gaps (windows of different lengths side by side);
 * l4 values near 1e306 (sums and products overflow); l5..l7 every 7, 20
 * and 60 s. The series begin 0, 10, ..., 70 s in, so that their numbers of
 * windows leave every remainder by four; windows of [40s] hold two to six
 * points, offset and @ move the windows against the steps, and the
 * subquery's points are its own regular grid. */
Test(promql, linreg_range_steps_are_the_instant_answers)
{
	static const char *const qs[] = {
		"predict_linear(lr%s[2m], 600)",
		"predict_linear(lr%s[75s], time() - 900)",
		"predict_linear(lr%s[1m] offset 25s, -60)",
		"predict_linear(lr%s[3m] @ 900, 60)",
		"deriv(lr%s[5m])",
		"deriv(lr%s[40s])",
		"deriv(lr%s[3m:20s])",
		"predict_linear(lr%s[150s:15s], 30)",
	};
	static const double special[] = {NAN, INFINITY, -INFINITY, 1e308, -1e308, -0.0};
	struct store_batch *b = store_batch_begin(st);
	char *cause = NULL;
	uint64_t seed = 11;
	for (int s = 0; s < 8; s++) {
		static const int64_t every[] = {15000, 15000, 15000, 15000, 15000, 7000, 20000, 60000};
		char city[8];
		int n = 0;
		snprintf(city, sizeof city, "l%d", s);
		for (int64_t t = s * 10000; t <= 1800000; t += every[s], n++) {
			int64_t at = t;
			double v;
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			v = (double)(seed >> 40) / 4096.0 - 2000;
			if (s == 0 && (seed >> 20) % 11 == 0)
				v = special[(seed >> 8) % 6];
			if (s == 1) {
				/* runs of 9 to 40 points, some longer than a window */
				static const double run[] = {3.5, 0.0, -0.0, INFINITY, -INFINITY, NAN, 7};
				v = run[(n / 9 + n / 40) % 7];
				if (n % 9 == 0 && n % 2)
					v = -v;
			}
			if (s == 2)
				at += (int64_t)((seed >> 30) % 3000) - 1500;
			if (s == 3 && ((n > 20 && n < 27) || n == 40 || n == 43 || (n > 70 && n < 90)))
				continue;
			if (s == 4)
				v = v * 1e303;
			put(b, "lr", city, at, v);
		}
	}
	cr_assert_eq(store_batch_commit(b, &cause), 0, "%s", cause ? cause : "");
	for (size_t i = 0; i < sizeof qs / sizeof *qs; i++)
		cr_expect_gt(range_is_instants(qs[i], 8), 800, "%s", qs[i]);
}
