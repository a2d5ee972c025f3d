/*
 * What one query may cost, whatever its text: nesting refused past
 * QUERY_MAX_DEPTH with a parse error (never a crash), long chains of
 * operators evaluated without recursion, times and durations at the edge
 * of int64 without undefined behaviour (the sanitizer build aborts on it),
 * memory counted in bytes per query and across queries, the timeout read
 * inside label_replace, and Prometheus' refusal of a subquery step of 0.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test_dir.h"
#include "query.h"

static struct store *st;
static char dir[64];

/* the regex label_replace is given below backtracks on these values:
 * (a+)+ tries every split of the a's before "$" fails after the b */
#define SLOW_VALUE "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaabX"
#define SLOW_RE "(a+)+b"

static void setup(void)
{
	struct store_opts o = {0};
	struct store_batch *b;
	char *cause = NULL;
	snprintf(dir, sizeof dir, "/tmp/pw-qlimits-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	o.path = dir;
	o.no_sync = true;
	cr_assert_eq(store_open(&o, &st, &cause), 0, "%s", cause ? cause : "");
	b = store_batch_begin(st);
	for (int s = 0; s < 2; s++)
		for (int64_t t = 0; t <= 600000; t += 15000) {
			struct pw_label l[2] = {{"__name__", "spots"}, {"city", s ? "b" : "a"}};
			cr_assert_eq(store_batch_put(b, l, 2, t, s + 1), 0);
		}
	/* 500 series whose values change at every sample: count_values and
	 * label_replace make a new label set for nearly every point */
	for (int s = 0; s < 500; s++) {
		char id[16];
		snprintf(id, sizeof id, "%d", s);
		for (int64_t t = 0; t <= 1800000; t += 15000) {
			struct pw_label l[2] = {{"__name__", "many"}, {"id", id}};
			cr_assert_eq(store_batch_put(b, l, 2, t, (double)(t / 15000 + s * 1000)), 0);
		}
	}
	/* 300 series with a value the slow regex backtracks on */
	for (int s = 0; s < 300; s++) {
		char id[16];
		snprintf(id, sizeof id, "%d", s);
		struct pw_label l[3] = {{"__name__", "slow"}, {"id", id}, {"v", SLOW_VALUE}};
		cr_assert_eq(store_batch_put(b, l, 3, 0, 1), 0);
	}
	cr_assert_eq(store_batch_commit(b, &cause), 0, "%s", cause ? cause : "");
}

static void teardown(void)
{
	store_close(st);
	test_dir_remove(dir);
}

TestSuite(limits, .init = setup, .fini = teardown, .timeout = 120);

/* pre, n times mid... : a query of n repetitions (a new string) */
static char *repeat(const char *pre, const char *mid, size_t n, const char *post)
{
	size_t lp = strlen(pre), lm = strlen(mid), lq = strlen(post);
	char *q = malloc(lp + n * lm + n * lq + 1), *w = q;
	memcpy(w, pre, lp);
	w += lp;
	for (size_t i = 0; i < n; i++, w += lm)
		memcpy(w, mid, lm);
	for (size_t i = 0; i < n; i++, w += lq)
		memcpy(w, post, lq);
	*w = '\0';
	return q;
}

/* "a op a op a ..." with n operands */
static char *chain(const char *operand, const char *op, size_t n)
{
	size_t lo = strlen(operand), lp = strlen(op);
	char *q = malloc(n * (lo + lp) + 1), *w = q;
	for (size_t i = 0; i < n; i++) {
		if (i) {
			memcpy(w, op, lp);
			w += lp;
		}
		memcpy(w, operand, lo);
		w += lo;
	}
	*w = '\0';
	return q;
}

/* ---- nesting -------------------------------------------------------------------------- */

/* n nested pre ... post around inner, n the most the limit allows
 * (levels_each 0: one more) */
static char *deepest(const char *pre, const char *inner, const char *post, int levels_each)
{
	size_t n = levels_each ? (QUERY_MAX_DEPTH - 1) / (size_t)levels_each : QUERY_MAX_DEPTH;
	char *outer = repeat("", pre, n, post), *q;
	size_t lp = strlen(pre) * n;
	q = malloc(strlen(outer) + strlen(inner) + 1);
	memcpy(q, outer, lp);
	strcpy(q + lp, inner);
	strcat(q, outer + lp);
	free(outer);
	return q;
}

static void expect_too_deep(char *q, const char *what)
{
	struct query_expr *x = NULL;
	struct query_error e = {0};
	cr_assert_eq(query_parse(q, &x, &e), PW_EINVAL, "%s parses", what);
	cr_expect_eq(e.type, QUERY_ERR_BAD_DATA, "%s", what);
	cr_expect(e.msg && strstr(e.msg, "parse error: expression nested deeper than 256 levels"),
		  "%s: %s", what, e.msg);
	cr_expect(e.pos > 0 && (size_t)e.pos < strlen(q), "%s: position %d", what, e.pos);
	free(query_caret(q, e.pos));
	query_error_clear(&e);
	free(q);
}

Test(limits, deep_nesting_is_a_parse_error)
{
	/* the findings: each of these killed the daemon */
	expect_too_deep(repeat("", "abs(", 4000, ")"), "abs( 4,000 deep");
	expect_too_deep(repeat("", "(", 100000, ")"), "100,000 parentheses");
	expect_too_deep(repeat("", "-", 100000, ""), "100,000 unary minus");
	expect_too_deep(repeat("", "- (", 100000, ")"), "100,000 unary minus on parentheses");
	/* and the other ways to nest */
	expect_too_deep(chain("2", " ^ ", 20000), "20,000 ^ (right-associative)");
	expect_too_deep(repeat("", "sum(", 1000, ")"), "aggregations");
	expect_too_deep(repeat("", "spots + (", 1000, ")"), "right-hand operands");
	expect_too_deep(repeat("", "max_over_time(", 1000, "[1m:1m])"), "subqueries");
	expect_too_deep(repeat("", "label_replace(", 1000, ", \"a\", \"b\", \"c\", \"d\")"),
			"label_replace");
}

/* the deepest query allowed is 256 levels: 255 calls around a selector */
Test(limits, nesting_up_to_the_limit_is_allowed)
{
	char *ok = repeat("", "abs(", QUERY_MAX_DEPTH - 1, ")"), *q;
	struct query_expr *x;
	struct query_error e = {0};
	size_t n = strlen(ok);
	/* the innermost argument: spots in the middle */
	q = malloc(n + 6);
	memcpy(q, ok, (QUERY_MAX_DEPTH - 1) * 4);
	strcpy(q + (QUERY_MAX_DEPTH - 1) * 4, "spots");
	strcat(q, ok + (QUERY_MAX_DEPTH - 1) * 4);
	cr_assert_eq(query_parse(q, &x, &e), 0, "%s", e.msg);
	query_expr_free(x);
	free(q);
	free(ok);
	expect_too_deep(deepest("abs(", "spots", ")", 0), "one level more");
}

static double scalar_at(const char *q, int64_t t)
{
	struct query_result *r;
	struct query_error e = {0};
	double v;
	cr_assert_eq(query_instant(st, NULL, q, t, &r, &e), 0, "%.60s...: %s", q, e.msg);
	cr_assert_eq(r->type, QUERY_SCALAR);
	v = r->scalar;
	query_result_free(r);
	return v;
}

Test(limits, long_chains_evaluate_without_recursion)
{
	/* 20,000 terms: a rule of this passed check-config and killed the
	 * daemon at its first evaluation */
	char *q = chain("1", "+", 20000);
	struct query_result *r;
	struct query_error e = {0};
	cr_expect_eq(scalar_at(q, 60000), 20000);
	cr_assert_eq(query_range(st, NULL, q, 0, 600000, 60000, &r, &e), 0, "%s", e.msg);
	cr_expect_eq(r->nseries, 1);
	cr_expect_eq(r->series[0].n, 11);
	cr_expect_eq(r->series[0].pts[10].v, 20000);
	query_result_free(r);
	free(q);
	/* x or x or ... 10,000 times: the two series of x */
	q = chain("spots", " or ", 10000);
	cr_assert_eq(query_instant(st, NULL, q, 60000, &r, &e), 0, "%s", e.msg);
	cr_expect_eq(r->nseries, 2);
	query_result_free(r);
	free(q);
	/* mixed operators: each * binds its two operands, the + chain runs
	 * 10,000 long: 10,000 x 2 x 3 */
	q = chain("2 * 3", " + ", 10000);
	cr_expect_eq(scalar_at(q, 0), 60000);
	free(q);
}

/* Evaluating the deepest queries allowed: on a thread with the default
 * stack of Debian's threads (libmicrohttpd's), an answer; on one with a
 * small stack, an answer or an error, never an overflow. */
struct deep {
	const char *name;
	char *q;
	size_t stack;
	int rc;
	char *err;
};

static void *eval_deep(void *arg)
{
	struct deep *d = arg;
	struct query_result *r;
	struct query_error e = {0};
	struct query_opts o = {.timeout_ms = 60000};
	d->rc = query_range(st, &o, d->q, 0, 600000, 60000, &r, &e);
	if (d->rc == 0)
		query_result_free(r);
	d->err = e.msg;
	return NULL;
}

static int eval_on_thread(struct deep *d, size_t stack)
{
	pthread_attr_t at;
	pthread_t th;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, stack);
	cr_assert_eq(pthread_create(&th, &at, eval_deep, d), 0);
	pthread_join(th, NULL);
	pthread_attr_destroy(&at);
	return d->rc;
}

Test(limits, the_deepest_queries_never_overflow_the_stack)
{
	struct deep d[] = {
		{"functions", deepest("abs(", "spots", ")", 1), 0, 0, NULL},
		{"parentheses", deepest("(", "spots", ")", 1), 0, 0, NULL},
		{"aggregations", deepest("sum by (city) (", "spots", ")", 1), 0, 0, NULL},
		{"right-hand operands", deepest("spots + (", "spots", ")", 2), 0, 0, NULL},
		{"unary minus", deepest("-", "spots", "", 1), 0, 0, NULL},
		{"subqueries", deepest("max_over_time(", "spots", "[2m:1m])", 1), 0, 0, NULL},
		{"range functions over subqueries", deepest("rate(", "spots", "[2m:1m])", 1), 0, 0, NULL},
		{"label_replace", deepest("label_replace(", "spots", ", \"a\", \"$1\", \"city\", \"(.*)\")", 1), 0, 0, NULL},
		{"^", chain("1", "^", QUERY_MAX_DEPTH - 1), 0, 0, NULL},
	};
	for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
		struct query_expr *x;
		struct query_error e = {0};
		cr_assert_eq(query_parse(d[i].q, &x, &e), 0, "%s: %s", d[i].name, e.msg);
		query_expr_free(x);
		cr_expect_eq(eval_on_thread(&d[i], 8 << 20), 0, "%s: %s", d[i].name, d[i].err);
		free(d[i].err);
		d[i].err = NULL;
		if (eval_on_thread(&d[i], 512 << 10) != 0)
			cr_expect(d[i].err && strstr(d[i].err, "nested too deeply for the stack"),
				  "%s: %s", d[i].name, d[i].err);
		free(d[i].err);
		free(d[i].q);
	}
}

/* ---- undefined behaviour at the edges ---------------------------------------------- */

static void expect_parse_error(const char *q, const char *msg, int pos)
{
	struct query_expr *x = NULL;
	struct query_error e = {0};
	cr_assert_eq(query_parse(q, &x, &e), PW_EINVAL, "%s parses", q);
	cr_expect_eq(e.type, QUERY_ERR_BAD_DATA);
	cr_expect(e.msg && strcmp(e.msg, msg) == 0, "%s: \"%s\", not \"%s\"", q, e.msg, msg);
	cr_expect_eq(e.pos, pos, "%s: position %d, not %d", q, e.pos, pos);
	query_error_clear(&e);
}

Test(limits, durations_past_int64_nanoseconds_are_refused_as_prometheus_refuses_them)
{
	/* Prometheus 2.42's answers, word for word; these overflowed int64
	 * milliseconds at extreme times */
	expect_parse_error("spots offset -1000000y", "1:15: parse error: duration out of range", 14);
	expect_parse_error("rate(spots[1000000y])", "1:12: parse error: duration out of range", 11);
	expect_parse_error("spots[300y]", "1:7: parse error: duration out of range", 6);
	/* 292 years still fits */
	struct query_expr *x;
	struct query_error e = {0};
	cr_expect_eq(query_parse("rate(spots[292y])", &x, &e), 0, "%s", e.msg);
	query_expr_free(x);
}

static void run_ok(const char *q, int64_t start, int64_t end, int64_t step)
{
	struct query_result *r = NULL;
	struct query_error e = {0};
	int rc = step ? query_range(st, NULL, q, start, end, step, &r, &e)
		      : query_instant(st, NULL, q, start, &r, &e);
	/* an answer or an error, never undefined behaviour (the sanitizer
	 * build aborts on it) */
	cr_expect(rc == 0 || e.msg, "%s", q);
	query_result_free(r);
	query_error_clear(&e);
}

Test(limits, extreme_times_with_the_longest_durations)
{
	static const char *const qs[] = {
		"spots offset -292y", "spots offset 292y", "rate(spots[292y])",
		"rate(spots[292y] offset -292y)", "max_over_time(spots[292y:292y])",
		"max_over_time(spots[292y:1y] offset -292y)", "spots @ 9200000000000000",
		"spots @ -9200000000000000 offset 292y", "count_over_time(spots[292y] @ -9200000000000000)",
		"timestamp(spots offset -292y)", "absent_over_time(spots[292y])",
	};
	static const int64_t ts[] = {INT64_MAX, INT64_MIN, INT64_MAX / 2, INT64_MIN / 2,
				     9200000000000000000, -9200000000000000000};
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
		for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++)
			run_ok(qs[i], ts[k], 0, 0);
	/* range queries over all of int64 (the API's min and max times are
	 * int64's halves; its numbers reach 9.2e18 ms) */
	run_ok("spots", INT64_MIN, INT64_MAX, 1);
	run_ok("spots", INT64_MIN, INT64_MAX, INT64_MAX);
	run_ok("rate(spots[292y])", -9200000000000000000, 9200000000000000000, 9200000000000000000);
	run_ok("max_over_time(spots[292y:292y])", -9200000000000000000, 9200000000000000000,
	       4600000000000000000);
	run_ok("spots offset -292y", INT64_MIN / 2, INT64_MAX / 2, INT64_MAX / 4);
}

Test(limits, zero_subquery_step_is_refused)
{
	/* Prometheus 2.42: "1:30: parse error: duration must be greater than 0" */
	expect_parse_error("max_over_time(rate(spots[5m])[1h:0s])",
			   "1:34: parse error: duration must be greater than 0", 33);
	expect_parse_error("max_over_time(spots[1h:0ms])",
			   "1:24: parse error: duration must be greater than 0", 23);
	/* no step is the default step, not zero */
	struct query_expr *x;
	struct query_error e = {0};
	cr_expect_eq(query_parse("max_over_time(spots[1h:])", &x, &e), 0, "%s", e.msg);
	query_expr_free(x);
}

/* ---- memory ------------------------------------------------------------------------- */

static int run_limited(const char *q, uint64_t max_bytes, struct query_error *e)
{
	struct query_opts o = {.max_bytes = max_bytes};
	struct query_result *r;
	int rc = query_range(st, &o, q, 0, 1800000, 15000, &r, e);
	if (rc == 0)
		query_result_free(r);
	return rc;
}

Test(limits, memory_is_counted_in_bytes)
{
	static const char *const heavy[] = {
		"count_values(\"v\", many)",
		"label_replace(many, \"x\", \"$1-$1-$1-$1\", \"id\", \"(.*)\")",
		"many * 2 + many",
		"sum by (id) (rate(many[1m]))",
	};
	for (size_t i = 0; i < sizeof heavy / sizeof heavy[0]; i++) {
		struct query_error e = {0};
		/* within a generous limit: an answer */
		cr_expect_eq(run_limited(heavy[i], 256 << 20, &e), 0, "%s: %s", heavy[i], e.msg);
		query_error_clear(&e);
		/* the same within 2 MiB: refused, as too many samples are */
		cr_assert_neq(run_limited(heavy[i], 2 << 20, &e), 0, "%s", heavy[i]);
		cr_expect_eq(e.type, QUERY_ERR_EXECUTION, "%s", heavy[i]);
		cr_expect_eq(query_errtype_status(e.type), 422);
		cr_expect_str_eq(e.msg, "query processing would use more than 2MiB of memory (query.max_bytes)");
		query_error_clear(&e);
	}
}

Test(limits, a_caller_account_holds_parse_and_evaluation)
{
	struct query_budget *b = query_budget_new();
	struct query_mem m = {.limit = 64 << 20, .shared = b};
	struct query_opts o = {.mem = &m};
	struct query_expr *x;
	struct query_result *r;
	struct query_error e = {0};
	uint64_t parsed;

	query_budget_set(b, 128 << 20, 0);
	cr_assert_eq(query_parse_opts("count_values(\"v\", many)", &o, &x, &e), 0, "%s", e.msg);
	parsed = m.used;
	cr_expect_gt(parsed, 0, "the parse is charged");
	cr_assert_eq(query_exec_range(st, &o, x, 0, 1800000, 15000, &r, &e), 0, "%s", e.msg);
	cr_expect_gt(m.used, parsed, "the evaluation is charged");
	cr_expect_eq(query_budget_used(b), m.used, "and the shared budget with it");
	query_result_free(r);
	query_expr_free(x);
	query_mem_release(&m, m.used);
	cr_expect_eq(query_budget_used(b), 0);
	query_budget_free(b);
}

Test(limits, the_total_across_queries_is_refused_with_503)
{
	struct query_budget *b = query_budget_new();
	struct query_mem big = {.limit = 0, .shared = b}, small = {.limit = 0, .shared = b};
	struct query_opts o = {.mem = &small};
	struct query_result *r;
	struct query_error e = {0};

	query_budget_set(b, 64 << 20, 0);
	/* another query holds 60 MiB of the 64 */
	cr_assert_eq(query_mem_charge(&big, 60 << 20, &e), 0);
	cr_assert_neq(query_range(st, &o, "count_values(\"v\", many)", 0, 1800000, 15000, &r, &e), 0);
	cr_expect_eq(e.type, QUERY_ERR_UNAVAILABLE);
	cr_expect_eq(query_errtype_status(e.type), 503);
	cr_expect_str_eq(query_errtype_name(e.type), "unavailable");
	cr_expect(strstr(e.msg, "(query.max_bytes_total)"), "%s", e.msg);
	query_error_clear(&e);
	query_mem_release(&small, small.used);
	/* once it is done, the same query runs */
	query_mem_release(&big, big.used);
	cr_assert_eq(query_range(st, &o, "count_values(\"v\", many)", 0, 1800000, 15000, &r, &e), 0,
		     "%s", e.msg);
	query_result_free(r);
	query_mem_release(&small, small.used);
	cr_expect_eq(query_budget_used(b), 0);
	query_budget_free(b);
}

struct holder {
	struct query_budget *b;
	int64_t hold_ns;
};

static void *hold_place(void *arg)
{
	struct holder *h = arg;
	usleep((useconds_t)(h->hold_ns / 1000));
	query_budget_leave(h->b);
	return NULL;
}

Test(limits, queries_past_max_concurrency_wait_then_time_out)
{
	struct query_budget *b = query_budget_new();
	struct query_error e = {0};
	struct holder h = {b, 1500 * 1000000LL};
	pthread_t th;
	int64_t t0;

	query_budget_set(b, 0, 1);
	cr_assert_eq(query_budget_enter(b, pw_mono_ns() + 1000000000, &e), 0);
	/* the only place is taken: a second query waits out its deadline */
	t0 = pw_mono_ns();
	cr_assert_neq(query_budget_enter(b, t0 + 300 * 1000000LL, &e), 0);
	cr_expect_geq(pw_mono_ns() - t0, 300 * 1000000LL, "it waited");
	cr_expect_eq(e.type, QUERY_ERR_TIMEOUT);
	cr_expect_str_eq(e.msg, "query timed out in query queue");
	query_error_clear(&e);
	/* a place that comes free before the deadline is taken */
	cr_assert_eq(pthread_create(&th, NULL, hold_place, &h), 0);
	cr_expect_eq(query_budget_enter(b, pw_mono_ns() + 30000 * 1000000LL, &e), 0, "%s", e.msg);
	pthread_join(th, NULL);
	query_budget_leave(b);
	query_budget_free(b);
}

struct waiter {
	struct query_budget *b;
	struct query_error e;
	int rc;
};

static void *wait_place(void *arg)
{
	struct waiter *w = arg;
	w->rc = query_budget_enter(w->b, pw_mono_ns() + 600000 * 1000000LL, &w->e);
	return NULL;
}

/* The daemon's stop (query_budget_stop): a query waiting for a place ends
 * at once instead of after its deadline (ten minutes here), and a query of
 * the budget that runs, or parses, ends canceled, 503 */
Test(limits, a_stopped_budget_cancels_waiting_and_running_queries)
{
	struct query_budget *b = query_budget_new();
	struct query_mem m = {.shared = b};
	struct query_opts o = {.mem = &m};
	struct waiter w = {.b = b};
	struct query_result *r = NULL;
	struct query_expr *x = NULL;
	struct query_error e = {0};
	char *q = chain("spots", " + ", 10000);
	pthread_t th;

	query_budget_set(b, 0, 1);
	cr_assert_eq(query_budget_enter(b, pw_mono_ns() + 1000000000, &e), 0);
	cr_assert_eq(pthread_create(&th, NULL, wait_place, &w), 0);
	usleep(100000);
	query_budget_stop(b);
	pthread_join(th, NULL);
	cr_expect_eq(w.rc, -ECANCELED);
	cr_expect_eq(w.e.type, QUERY_ERR_CANCELED);
	cr_expect_eq(query_errtype_status(w.e.type), 503);
	cr_expect_str_eq(w.e.msg, "query canceled: pacewatch is stopping");
	query_error_clear(&w.e);
	query_budget_leave(b);

	cr_assert_neq(query_range(st, &o, "count_values(\"v\", many)", 0, 1800000, 15000, &r, &e), 0);
	cr_expect_eq(e.type, QUERY_ERR_CANCELED, "%s", e.msg);
	cr_expect_str_eq(e.msg, "query canceled: pacewatch is stopping");
	query_error_clear(&e);
	cr_assert_neq(query_parse_opts(q, &o, &x, &e), 0);
	cr_expect_eq(e.type, QUERY_ERR_CANCELED, "%s", e.msg);
	query_error_clear(&e);
	query_mem_release(&m, m.used);
	/* queries of no budget (rules, KPIs) run on */
	cr_assert_eq(query_range(st, NULL, "count_values(\"v\", many)", 0, 1800000, 15000, &r, &e),
		     0, "%s", e.msg);
	query_result_free(r);
	free(q);
	query_budget_free(b);
}

/* ---- time --------------------------------------------------------------------------- */

Test(limits, label_replace_reads_the_clock_between_matches)
{
	struct query_opts o = {.timeout_ms = 500};
	struct query_result *r = NULL;
	struct query_error e = {0};
	int64_t t0 = pw_mono_ns(), el;
	int rc = query_instant(st, &o, "label_replace(slow, \"m\", \"$1\", \"v\", \"" SLOW_RE "\")",
			       0, &r, &e);
	el = (pw_mono_ns() - t0) / 1000000;
	/* a backtracking matcher times out a little after 500 ms (it took
	 * 30 s over these 300 series); a linear one answers at once */
	cr_expect_lt(el, 5000, "%lld ms with a timeout of 500 ms", (long long)el);
	if (rc != 0)
		cr_expect_eq(e.type, QUERY_ERR_TIMEOUT, "%s", e.msg);
	query_result_free(r);
	query_error_clear(&e);
}

Test(limits, the_deadline_covers_parsing)
{
	char *q = chain("spots", " + ", 100000);
	struct query_opts o = {.deadline_ns = pw_mono_ns() - 1};
	struct query_expr *x = NULL;
	struct query_error e = {0};
	cr_assert_neq(query_parse_opts(q, &o, &x, &e), 0);
	cr_expect_eq(e.type, QUERY_ERR_TIMEOUT);
	cr_expect_str_eq(e.msg, "query timed out in query parsing");
	query_error_clear(&e);
	free(q);
}
