/* The store through its public API (store.h): writes, replace and
 * out-of-order merges, matchers, label listings, metadata, latest values,
 * poisoned batches, map growth and refusal of foreign or newer stores. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_dir.h"
#include "store_int.h"

static char dir[256];
static struct store *st;

static void mkdir_tmp(char *out, size_t n)
{
	snprintf(out, n, "/tmp/pw-store-test-XXXXXX");
	cr_assert_not_null(mkdtemp(out));
	rmdir(out); /* let the store create it */
}


static struct store *open_at(const char *d, uint64_t init, uint64_t max)
{
	struct store_opts o = {.path = d, .initial_map_size = init, .max_map_size = max,
			       .no_sync = true};
	struct store *s = NULL;
	char *cause = NULL;
	int rc = store_open(&o, &s, &cause);
	cr_assert_eq(rc, 0, "store_open: %s", cause ? cause : "?");
	return s;
}

static void setup(void)
{
	mkdir_tmp(dir, sizeof dir);
	st = open_at(dir, 0, 0);
}

static void teardown(void)
{
	store_close(st);
	test_dir_remove(dir);
}

TestSuite(store, .init = setup, .fini = teardown);

static int put1(struct store_batch *b, const char *metric, const char *l1, const char *v1,
		int64_t ts, double v)
{
	struct pw_label ls[2] = {{"__name__", metric}, {l1, v1}};
	return store_batch_put(b, ls, l1 ? 2 : 1, ts, v);
}

static void commit(struct store_batch *b)
{
	char *cause = NULL;
	int rc = store_batch_commit(b, &cause);
	cr_assert_eq(rc, 0, "commit: %s", cause ? cause : "?");
}

/* All samples of the one series matching name{l1=v1}. */
static size_t read_series(const char *metric, const char *l1, const char *v1, int64_t *ts,
			  double *vs, size_t max)
{
	struct store_snap *snap;
	struct store_matcher m[2];
	struct store_series *ss;
	size_t n, nm = 1, got = 0;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	store_matcher_init(&m[0], STORE_MATCH_EQ, "__name__", metric, NULL);
	if (l1)
		store_matcher_init(&m[nm++], STORE_MATCH_EQ, l1, v1, NULL);
	cr_assert_eq(store_select(snap, m, nm, INT64_MIN, INT64_MAX, true, &ss, &n), 0);
	if (n == 1) {
		struct store_iter *it = store_iter_new(snap);
		int64_t t;
		double v;
		cr_assert_eq(store_iter_seek(it, ss[0].id, INT64_MIN, INT64_MAX), 0);
		while (store_iter_next(it, &t, &v) == 1) {
			cr_assert_lt(got, max);
			ts[got] = t;
			vs[got++] = v;
		}
		store_iter_free(it);
	}
	cr_assert_leq(n, 1);
	free(ss);
	for (size_t i = 0; i < nm; i++)
		store_matcher_free(&m[i]);
	store_snap_end(snap);
	return got;
}

Test(store, write_and_read_back)
{
	struct store_batch *b = store_batch_begin(st);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(put1(b, "mr_recognitions_total", "city", "济南", 1000LL * i, i * 2.0), 0);
	commit(b);
	static int64_t ts[2000];
	static double vs[2000];
	size_t n = read_series("mr_recognitions_total", "city", "济南", ts, vs, 2000);
	cr_assert_eq(n, 1000);
	for (int i = 0; i < 1000; i++) {
		cr_expect_eq(ts[i], 1000LL * i);
		cr_expect_eq(vs[i], i * 2.0);
	}
	struct store_stats s;
	cr_assert_eq(store_stats(st, &s), 0);
	cr_expect_eq(s.series, 1);
	cr_expect_eq(s.samples, 1000);
}

Test(store, out_of_order_and_replace)
{
	/* in order, then older samples between, before and inside chunks */
	struct store_batch *b = store_batch_begin(st);
	for (int i = 0; i < 1000; i += 2)
		put1(b, "m", "u", "1", 10LL * i + 100000, i);
	commit(b);
	b = store_batch_begin(st);
	for (int i = 999; i >= 1; i -= 2)
		put1(b, "m", "u", "1", 10LL * i + 100000, i);
	put1(b, "m", "u", "1", 5, -1);                  /* before everything */
	put1(b, "m", "u", "1", 100000 + 10 * 500, 4242); /* replace */
	put1(b, "m", "u", "1", 100000 + 10 * 500, 4343); /* replace again: last wins */
	commit(b);
	b = store_batch_begin(st);
	put1(b, "m", "u", "1", 100000 + 10 * 998, -998); /* replace inside the head */
	commit(b);
	static int64_t ts[2000];
	static double vs[2000];
	size_t n = read_series("m", "u", "1", ts, vs, 2000);
	cr_assert_eq(n, 1001);
	cr_expect_eq(ts[0], 5);
	cr_expect_eq(vs[0], -1);
	for (int i = 0; i < 1000; i++) {
		double want = i == 500 ? 4343 : i == 998 ? -998 : i;
		cr_expect_eq(ts[i + 1], 10LL * i + 100000);
		cr_expect_eq(vs[i + 1], want, "sample %d: %g", i, vs[i + 1]);
	}
	struct store_stats s;
	cr_assert_eq(store_stats(st, &s), 0);
	cr_expect_eq(s.samples, 1001, "replaced samples are not counted twice");
}

Test(store, random_order_matches_a_plain_model)
{
	enum { N = 3000 };
	static double model[N];
	static bool have[N];
	srand(99);
	for (int round = 0; round < 20; round++) {
		struct store_batch *b = store_batch_begin(st);
		for (int k = 0; k < 300; k++) {
			int i = rand() % N;
			double v = rand() % 1000;
			model[i] = v;
			have[i] = true;
			put1(b, "rnd", NULL, NULL, 1000LL * i, v);
		}
		commit(b);
	}
	static int64_t ts[N];
	static double vs[N];
	size_t n = read_series("rnd", NULL, NULL, ts, vs, N), j = 0;
	for (int i = 0; i < N; i++) {
		if (!have[i])
			continue;
		cr_assert_lt(j, n);
		cr_expect_eq(ts[j], 1000LL * i);
		cr_expect_eq(vs[j], model[i]);
		j++;
	}
	cr_expect_eq(j, n);
}

/* A batch whose series come in a few runs of id order (a KPI slot writes
 * its series in the order they were made, new ones after), with a series
 * written twice at one time (the last put wins), reads back exactly. */
Test(store, batches_in_a_few_runs_read_back_exactly)
{
	enum { S = 400 };
	char name[16];
	struct store_batch *b = store_batch_begin(st);
	for (int i = 0; i < S; i++) {
		snprintf(name, sizeof name, "s%03d", i);
		put1(b, "runs", "u", name, 1000, i);
	}
	commit(b);
	/* ids follow s000 .. s399: write s200 .. s399, then s000 .. s199, then
	 * s100 .. s149 again at the same time (replacing), then a new series */
	b = store_batch_begin(st);
	for (int i = 200; i < S; i++) {
		snprintf(name, sizeof name, "s%03d", i);
		put1(b, "runs", "u", name, 2000, 10000 + i);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "s%03d", i);
		put1(b, "runs", "u", name, 2000, 10000 + i);
	}
	for (int i = 100; i < 150; i++) {
		snprintf(name, sizeof name, "s%03d", i);
		put1(b, "runs", "u", name, 2000, 20000 + i);
	}
	put1(b, "runs", "u", "new", 2000, -1);
	commit(b);
	for (int i = 0; i < S; i++) {
		int64_t ts[4];
		double vs[4];
		snprintf(name, sizeof name, "s%03d", i);
		size_t n = read_series("runs", "u", name, ts, vs, 4);
		cr_assert_eq(n, 2, "%s", name);
		cr_expect_eq(ts[0], 1000);
		cr_expect_eq(vs[0], i);
		cr_expect_eq(ts[1], 2000);
		cr_expect_eq(vs[1], i >= 100 && i < 150 ? 20000 + i : 10000 + i, "%s: %g", name, vs[1]);
	}
	int64_t ts[2];
	double vs[2];
	cr_assert_eq(read_series("runs", "u", "new", ts, vs, 2), 1);
	cr_expect_eq(vs[0], -1);
}

/* A kept batch (store_batch_keep) is its owner's from commit to commit: it
 * holds nothing of the last batch, an abort or a rewind drops what it
 * should, and what was committed reads back. */
Test(store, kept_batch_is_reused_commit_after_commit)
{
	struct store_batch *b = store_batch_begin(st);
	char *cause = NULL;
	store_batch_keep(b);
	for (int round = 0; round < 3; round++) {
		put1(b, "kept", "r", "a", 1000 * (round + 1), round);
		struct store_batch_mark m = store_batch_mark(b);
		put1(b, "kept", "r", "dropped", 1000 * (round + 1), -1);
		cr_assert_eq(put1(b, "1bad", NULL, NULL, 1, 1), PW_EINVAL, "poisons the batch");
		store_batch_rewind(b, m); /* the rewind forgets the error too */
		cr_assert_eq(store_batch_commit(b, &cause), 0, "%s", cause ? cause : "");
	}
	put1(b, "kept", "r", "aborted", 5000, 5);
	store_batch_abort(b);
	put1(b, "kept", "r", "a", 4000, 3);
	cr_assert_eq(store_batch_commit(b, &cause), 0, "%s", cause ? cause : "");
	store_batch_free(b);
	int64_t ts[8];
	double vs[8];
	cr_assert_eq(read_series("kept", "r", "a", ts, vs, 8), 4);
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(ts[i], 1000 * (i + 1));
		cr_expect_eq(vs[i], i);
	}
	cr_expect_eq(read_series("kept", "r", "dropped", ts, vs, 8), 0);
	cr_expect_eq(read_series("kept", "r", "aborted", ts, vs, 8), 0);
}

/* Ranges read back the model wherever they start: in a sealed segment, in
 * the head, between them; after appends in order and late samples. */
Test(store, ranges_match_the_model_wherever_they_start)
{
	enum { N = 4000 };
	static double model[N];
	static bool have[N];
	struct store_snap *snap;
	struct store_matcher m;
	struct store_series *ss;
	size_t n;
	srand(7);
	/* in order first (sealed segments and a head), then late samples */
	for (int round = 0; round < 40; round++) {
		struct store_batch *b = store_batch_begin(st);
		for (int k = 0; k < 100; k++) {
			int i = round < 30 ? round * 100 + k : rand() % N;
			double v = rand() % 100000;
			model[i] = v;
			have[i] = true;
			put1(b, "rng", NULL, NULL, 1000LL * i, v);
		}
		commit(b);
	}
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	store_matcher_init(&m, STORE_MATCH_EQ, "__name__", "rng", NULL);
	cr_assert_eq(store_select(snap, &m, 1, INT64_MIN, INT64_MAX, false, &ss, &n), 0);
	cr_assert_eq(n, 1);
	struct store_iter *it = store_iter_new(snap);
	for (int q = 0; q < 400; q++) {
		int lo = q < 200 ? N - 1 - rand() % 300 : rand() % N, hi = lo + rand() % 500;
		int i = lo;
		int64_t t;
		double v;
		cr_assert_eq(store_iter_seek(it, ss[0].id, 1000LL * lo, 1000LL * hi), 0);
		while (store_iter_next(it, &t, &v) == 1) {
			while (i <= hi && i < N && !have[i])
				i++;
			cr_assert_eq(t, 1000LL * i, "[%d, %d]: got %lld, want %d", lo, hi, (long long)t, i);
			cr_assert_eq(v, model[i]);
			i++;
		}
		while (i <= hi && i < N && !have[i])
			i++;
		cr_assert(i > hi || i >= N, "[%d, %d]: missing sample %d", lo, hi, i);
	}
	store_iter_free(it);
	free(ss);
	store_matcher_free(&m);
	store_snap_end(snap);
}

Test(store, values_bit_exact)
{
	uint64_t want[] = {STORE_STALE_NAN_BITS, 0x7ff8000000000001ULL, 0x8000000000000000ULL,
			   0x7ff0000000000000ULL, 0xfff0000000000000ULL};
	struct store_batch *b = store_batch_begin(st);
	for (int i = 0; i < 5; i++) {
		double v;
		memcpy(&v, &want[i], 8);
		put1(b, "bits", NULL, NULL, i, v);
	}
	commit(b);
	int64_t ts[8];
	double vs[8];
	cr_assert_eq(read_series("bits", NULL, NULL, ts, vs, 8), 5);
	for (int i = 0; i < 5; i++) {
		uint64_t got;
		memcpy(&got, &vs[i], 8);
		cr_expect_eq(got, want[i]);
	}
	cr_expect(store_is_stale_nan(vs[0]));
}

static size_t select_count(const char *name, enum store_match_type t, const char *value)
{
	struct store_snap *snap;
	struct store_matcher m[2];
	struct store_series *ss;
	size_t n;
	char *cause = NULL;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	store_matcher_init(&m[0], STORE_MATCH_EQ, "__name__", "up", NULL);
	cr_assert_eq(store_matcher_init(&m[1], t, name, value, &cause), 0, "%s", cause);
	cr_assert_eq(store_select(snap, m, 2, INT64_MIN, INT64_MAX, true, &ss, &n), 0);
	free(ss);
	store_matcher_free(&m[0]);
	store_matcher_free(&m[1]);
	store_snap_end(snap);
	return n;
}

Test(store, matchers_follow_prometheus)
{
	struct store_batch *b = store_batch_begin(st);
	const char *cities[] = {"济南", "青岛", "淄博", "jinan", "Jinan-2"};
	for (int i = 0; i < 5; i++)
		put1(b, "up", "city", cities[i], 1, 1);
	put1(b, "up", "job", "x", 1, 1); /* no city label */
	commit(b);
	cr_expect_eq(select_count("city", STORE_MATCH_EQ, "济南"), 1);
	cr_expect_eq(select_count("city", STORE_MATCH_NE, "济南"), 5); /* includes no-city */
	cr_expect_eq(select_count("city", STORE_MATCH_RE, "jinan"), 1);
	cr_expect_eq(select_count("city", STORE_MATCH_RE, "jin"), 0, "anchored");
	cr_expect_eq(select_count("city", STORE_MATCH_RE, "(?i)jinan.*"), 2);
	cr_expect_eq(select_count("city", STORE_MATCH_RE, "济南|青岛"), 2);
	cr_expect_eq(select_count("city", STORE_MATCH_RE, ".*"), 6, "matches the empty value");
	cr_expect_eq(select_count("city", STORE_MATCH_RE, ".+"), 5);
	cr_expect_eq(select_count("city", STORE_MATCH_NRE, ".+"), 1);
	cr_expect_eq(select_count("city", STORE_MATCH_EQ, ""), 1);
	cr_expect_eq(select_count("city", STORE_MATCH_NE, ""), 5);
	cr_expect_eq(select_count("city", STORE_MATCH_RE, "\\w+-\\d"), 1);
	struct store_matcher m;
	char *cause = NULL;
	cr_expect_eq(store_matcher_init(&m, STORE_MATCH_RE, "city", "(unclosed", &cause), PW_EINVAL);
	cr_expect(cause && strstr(cause, "(unclosed"), "%s", cause);
	free(cause);
}

/* The finding of issue 17: PCRE2 hit its backtracking limit on long runs
 * of "a" and the matcher silently dropped the series. Every value here is
 * a run of a's and digits, so every one matches "a*[0-9]+" and thus the
 * alternation, as it does under Prometheus' RE2 semantics. */
Test(store, regex_matchers_never_drop_a_match)
{
	struct store_batch *b = store_batch_begin(st);
	char v[400];
	for (int i = 0; i < 302; i++) {
		memset(v, 'a', (size_t)i);
		snprintf(v + i, sizeof v - (size_t)i, "%d", i);
		put1(b, "up", "v", v, 1, 1);
	}
	commit(b);
	cr_expect_eq(select_count("v", STORE_MATCH_RE, "(a|aa)*b|a*[0-9]+"), 302);
	cr_expect_eq(select_count("v", STORE_MATCH_NRE, "(a|aa)*b|a*[0-9]+"), 0);
	cr_expect_eq(select_count("v", STORE_MATCH_RE, "(a*)*[0-9]+"), 302);
}

/* What Prometheus (Go's regexp) refuses, the matcher refuses, in its words */
Test(store, pcre_only_syntax_is_refused)
{
	static const char *const pats[] = {"(?C1)", "\\C", "(?R)", "a(?=b)", "(a)\\1", "a++"};
	for (size_t i = 0; i < sizeof pats / sizeof *pats; i++) {
		struct store_matcher m;
		char *cause = NULL;
		int rc = store_matcher_init(&m, STORE_MATCH_RE, "v", pats[i], &cause);
		cr_expect_eq(rc, PW_EINVAL, "%s", pats[i]);
		if (rc == 0)
			store_matcher_free(&m);
		cr_expect(cause && strncmp(cause, "error parsing regexp: ", 22) == 0, "%s: %s",
			  pats[i], cause ? cause : "(no cause)");
		free(cause);
	}
}

Test(store, label_names_values_and_time_ranges)
{
	struct store_batch *b = store_batch_begin(st);
	put1(b, "a", "city", "济南", 1000, 1);
	put1(b, "a", "county", "郓城县", 5000, 1);
	put1(b, "b", "city", "青岛", 9000, 1);
	commit(b);
	struct store_snap *snap;
	const char **v;
	size_t n;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	cr_assert_eq(store_label_names(snap, NULL, 0, INT64_MIN, INT64_MAX, &v, &n), 0);
	cr_assert_eq(n, 3);
	cr_expect_str_eq(v[0], "__name__");
	cr_expect_str_eq(v[1], "city");
	cr_expect_str_eq(v[2], "county");
	free(v);
	cr_assert_eq(store_label_values(snap, "city", NULL, 0, INT64_MIN, INT64_MAX, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(v[0], "济南");
	cr_expect_str_eq(v[1], "青岛");
	free(v);
	cr_assert_eq(store_label_values(snap, "__name__", NULL, 0, INT64_MIN, INT64_MAX, &v, &n), 0);
	cr_assert_eq(n, 2);
	free(v);
	/* restricted by time: only series with samples in [4000, 6000] */
	cr_assert_eq(store_label_names(snap, NULL, 0, 4000, 6000, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(v[1], "county");
	free(v);
	/* restricted by matcher */
	struct store_matcher m;
	store_matcher_init(&m, STORE_MATCH_EQ, "__name__", "b", NULL);
	cr_assert_eq(store_label_values(snap, "city", &m, 1, INT64_MIN, INT64_MAX, &v, &n), 0);
	cr_assert_eq(n, 1);
	cr_expect_str_eq(v[0], "青岛");
	free(v);
	store_matcher_free(&m);
	store_snap_end(snap);
}

Test(store, long_label_values_use_hashed_postings)
{
	char *big = malloc(3000), *big2 = malloc(3000);
	memset(big, 'x', 2999);
	big[2999] = 0;
	memcpy(big2, big, 3000);
	big2[2998] = 'y'; /* same prefix, different value */
	struct store_batch *b = store_batch_begin(st);
	put1(b, "up", "note", big, 1, 1);
	put1(b, "up", "note", big2, 1, 2);
	commit(b);
	cr_expect_eq(select_count("note", STORE_MATCH_EQ, big), 1);
	cr_expect_eq(select_count("note", STORE_MATCH_EQ, big2), 1);
	cr_expect_eq(select_count("note", STORE_MATCH_RE, "x+y"), 1);
	struct store_snap *snap;
	const char **v;
	size_t n;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	cr_assert_eq(store_label_values(snap, "note", NULL, 0, INT64_MIN, INT64_MAX, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_eq(strlen(v[0]), 2999);
	free(v);
	store_snap_end(snap);
	free(big);
	free(big2);
}

Test(store, metadata_and_latest)
{
	struct store_batch *b = store_batch_begin(st);
	put1(b, "dialysis_sessions_total", "county", "郓城县", 1000, 5);
	put1(b, "dialysis_sessions_total", "county", "郓城县", 3000, 7);
	put1(b, "dialysis_sessions_total", "county", "郓城县", 2000, 6);
	store_batch_put_meta(b, "dialysis_sessions_total", STORE_TYPE_COUNTER, "血液透析人次", NULL);
	commit(b);
	b = store_batch_begin(st);
	store_batch_put_meta(b, "dialysis_sessions_total", STORE_TYPE_KEEP, NULL, "sessions");
	commit(b);
	struct store_snap *snap;
	struct store_meta m;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	cr_assert_eq(store_meta_get(snap, "dialysis_sessions_total", &m), 0);
	cr_expect_eq(m.type, STORE_TYPE_COUNTER);
	cr_expect_str_eq(m.help, "血液透析人次");
	cr_expect_str_eq(m.unit, "sessions");
	cr_expect_eq(store_meta_get(snap, "nope", &m), PW_ENOTFOUND);
	struct store_series *ss;
	size_t n;
	int64_t ts;
	double v;
	cr_assert_eq(store_select(snap, NULL, 0, INT64_MIN, INT64_MAX, true, &ss, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(store_latest(snap, ss[0].id, &ts, &v), 0);
	cr_expect_eq(ts, 3000);
	cr_expect_eq(v, 7);
	struct pw_label ls[4];
	cr_assert_eq(store_series_labels(&ss[0], ls, 4), 2);
	cr_expect_str_eq(ls[0].name, "__name__");
	cr_expect_str_eq(ls[0].value, "dialysis_sessions_total");
	cr_expect_str_eq(ls[1].value, "郓城县");
	free(ss);
	store_snap_end(snap);
}

static int count_cb(void *ctx, const struct store_series *s, int64_t ts, double v)
{
	(void)s;
	(void)v;
	int64_t *sum = ctx;
	*sum += ts;
	return 0;
}

Test(store, scan_latest_visits_every_series)
{
	struct store_batch *b = store_batch_begin(st);
	char name[32];
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof name, "%d", i);
		put1(b, "g", "unit", name, 10, 1);
		put1(b, "g", "unit", name, 20 + i, 1);
	}
	commit(b);
	struct store_snap *snap;
	int64_t sum = 0;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	cr_assert_eq(store_scan_latest(snap, count_cb, &sum), 0);
	store_snap_end(snap);
	cr_expect_eq(sum, 500 * 20 + 499 * 500 / 2);
}

Test(store, bad_names_poison_the_batch)
{
	struct store_batch *b = store_batch_begin(st);
	cr_assert_eq(put1(b, "ok_metric", "city", "a", 1, 1), 0);
	cr_expect_eq(put1(b, "1bad", NULL, NULL, 1, 1), PW_EINVAL);
	cr_expect(strstr(store_batch_error(b), "invalid metric name \"1bad\"") != NULL, "%s",
		  store_batch_error(b));
	cr_expect_eq(put1(b, "ok_metric", "city", "b", 1, 1), PW_EPOISONED);
	char *cause = NULL;
	cr_expect_eq(store_batch_commit(b, &cause), PW_EINVAL);
	cr_expect(cause && strstr(cause, "1bad"), "%s", cause);
	free(cause);
	/* nothing of the batch was applied */
	struct store_stats s;
	cr_assert_eq(store_stats(st, &s), 0);
	cr_expect_eq(s.series, 0);

	b = store_batch_begin(st);
	cr_expect_eq(put1(b, "m", "bad-label", "x", 1, 1), PW_EINVAL);
	cr_expect(strstr(store_batch_error(b), "invalid label name \"bad-label\""));
	store_batch_abort(b);
	b = store_batch_begin(st);
	struct pw_label dup[3] = {{"__name__", "m"}, {"a", "1"}, {"a", "2"}};
	cr_expect_eq(store_batch_put(b, dup, 3, 1, 1), PW_EINVAL);
	cr_expect(strstr(store_batch_error(b), "duplicate label name \"a\""));
	store_batch_abort(b);
	b = store_batch_begin(st);
	struct pw_label noname[1] = {{"a", "1"}};
	cr_expect_eq(store_batch_put(b, noname, 1, 1, 1), PW_EINVAL);
	store_batch_abort(b);
}

/* store_batch_put takes labels in any order: the name anywhere, empty
 * values dropped; one series per set however it is written, and a
 * duplicate found wherever it stands (also past 32 labels). */
Test(store, labels_in_any_order_name_one_series)
{
	struct pw_label ways[4][4] = {
		{{"__name__", "m"}, {"a", "1"}, {"b", "2"}, {"c", "3"}},
		{{"c", "3"}, {"__name__", "m"}, {"b", "2"}, {"a", "1"}},
		{{"b", "2"}, {"a", "1"}, {"c", "3"}, {"__name__", "m"}},
		{{"a", "1"}, {"c", "3"}, {"b", "2"}, {"__name__", "m"}},
	};
	struct pw_label five[5] = {{"c", "3"}, {"z", ""}, {"a", "1"}, {"__name__", "m"}, {"b", "2"}};
	struct pw_label big[41];
	char names[40][8];
	struct store_batch *b = store_batch_begin(st);
	for (int w = 0; w < 4; w++)
		cr_assert_eq(store_batch_put(b, ways[w], 4, 1000 * (w + 1), w), 0);
	cr_assert_eq(store_batch_put(b, five, 5, 5000, 4), 0);
	/* 40 labels, descending, and the name last */
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof names[i], "l%02d", 39 - i);
		big[i] = (struct pw_label){names[i], "v"};
	}
	big[40] = (struct pw_label){"__name__", "big"};
	cr_assert_eq(store_batch_put(b, big, 41, 1000, 1), 0);
	char *cause = NULL;
	cr_assert_eq(store_batch_commit(b, &cause), 0, "%s", cause);
	struct store_stats s;
	cr_assert_eq(store_stats(st, &s), 0);
	cr_expect_eq(s.series, 2);
	cr_expect_eq(s.samples, 6);

	/* a duplicate after the list stopped ascending, and one among 40 */
	struct pw_label dup[4] = {{"__name__", "m"}, {"b", "1"}, {"a", "x"}, {"b", "2"}};
	b = store_batch_begin(st);
	cr_expect_eq(store_batch_put(b, dup, 4, 1, 1), PW_EINVAL);
	cr_expect(strstr(store_batch_error(b), "duplicate label name \"b\"") != NULL, "%s",
		  store_batch_error(b));
	store_batch_abort(b);
	big[7] = (struct pw_label){names[20], "w"};
	b = store_batch_begin(st);
	cr_expect_eq(store_batch_put(b, big, 41, 1, 1), PW_EINVAL);
	cr_expect(strstr(store_batch_error(b), "duplicate label name \"l19\"") != NULL, "%s",
		  store_batch_error(b));
	store_batch_abort(b);
	/* two names */
	struct pw_label two[3] = {{"__name__", "m"}, {"a", "1"}, {"__name__", "n"}};
	b = store_batch_begin(st);
	cr_expect_eq(store_batch_put(b, two, 3, 1, 1), PW_EINVAL);
	cr_expect(strstr(store_batch_error(b), "duplicate label name \"__name__\"") != NULL);
	store_batch_abort(b);
}

Test(store, map_grows_then_refuses_cleanly_at_max)
{
	/* a separate small store: 64 KiB initial, 2 MiB max */
	char d2[256];
	mkdir_tmp(d2, sizeof d2);
	struct store *s2 = open_at(d2, 64 << 10, 2 << 20);
	char lab[64];
	int committed = 0, rc = 0;
	char *cause = NULL;
	for (int round = 0; round < 200 && rc == 0; round++) {
		struct store_batch *b = store_batch_begin(s2);
		for (int i = 0; i < 100; i++) {
			struct pw_label ls[2] = {{"__name__", "fill"}, {"k", lab}};
			snprintf(lab, sizeof lab, "series-%d-%d-padding-padding-padding", round, i);
			store_batch_put(b, ls, 2, round, round);
		}
		rc = store_batch_commit(b, &cause);
		if (rc == 0)
			committed++;
	}
	cr_assert_eq(rc, PW_EMAPFULL, "rc %d", rc);
	cr_expect(cause && strstr(cause, "maximum size"), "%s", cause);
	free(cause);
	cr_expect_gt(committed, 10, "the map grew past its initial size");
	/* still readable: every committed series is there */
	struct store_stats s;
	cr_assert_eq(store_stats(s2, &s), 0);
	cr_expect_eq(s.series, (uint64_t)committed * 100);
	/* and still writable for a small batch into existing series */
	struct store_batch *b = store_batch_begin(s2);
	struct pw_label ls[2] = {{"__name__", "fill"}, {"k", "series-0-0-padding-padding-padding"}};
	store_batch_put(b, ls, 2, 999999, 1);
	cause = NULL;
	rc = store_batch_commit(b, &cause);
	cr_expect(rc == 0 || rc == PW_EMAPFULL, "rc %d %s", rc, cause);
	free(cause);
	store_close(s2);
	/* reopening works and holds the same data */
	s2 = open_at(d2, 0, 2 << 20);
	struct store_stats s3;
	cr_assert_eq(store_stats(s2, &s3), 0);
	cr_expect_eq(s3.series, s.series);
	store_close(s2);
	test_dir_remove(d2);
}

Test(store, refuses_foreign_and_newer_stores)
{
	char d2[300], path[400];
	struct store *s2 = NULL;
	char *cause = NULL;
	struct store_opts o = {0};
	struct stat sb;

	/* a directory with other files */
	snprintf(d2, sizeof d2, "%s-foreign", dir);
	mkdir(d2, 0755);
	snprintf(path, sizeof path, "%s/notes.txt", d2);
	FILE *f = fopen(path, "w");
	fputs("hello", f);
	fclose(f);
	o.path = d2;
	cr_expect_eq(store_open(&o, &s2, &cause), PW_EFORMAT);
	cr_expect(cause && strstr(cause, "not a pacewatch store"), "%s", cause);
	free(cause);
	cause = NULL;
	snprintf(path, sizeof path, "%s/lock.mdb", d2);
	cr_expect_neq(stat(path, &sb), 0, "nothing was created in the foreign directory");
	test_dir_remove(d2);

	/* a data.mdb that is not LMDB */
	mkdir(d2, 0755);
	snprintf(path, sizeof path, "%s/data.mdb", d2);
	f = fopen(path, "w");
	for (int i = 0; i < 10000; i++)
		fputc('z', f);
	fclose(f);
	cr_expect_eq(store_open(&o, &s2, &cause), PW_EFORMAT);
	cr_expect(cause && strstr(cause, "not a pacewatch store"), "%s", cause);
	free(cause);
	cause = NULL;
	stat(path, &sb);
	cr_expect_eq(sb.st_size, 10000, "the foreign file is untouched");
	test_dir_remove(d2);

	/* a store of a newer format */
	store_close(st);
	{
		MDB_env *env;
		MDB_txn *txn;
		MDB_dbi dbi;
		uint8_t b[8];
		MDB_val k = {6, (void *)"format"}, v = {8, b};
		mdb_env_create(&env);
		mdb_env_set_maxdbs(env, 16);
		cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
		mdb_txn_begin(env, NULL, 0, &txn);
		mdb_dbi_open(txn, "meta", 0, &dbi);
		key_put_u64(b, STORE_FORMAT + 1);
		mdb_put(txn, dbi, &k, &v, 0);
		cr_assert_eq(mdb_txn_commit(txn), 0);
		mdb_env_close(env);
	}
	o.path = dir;
	cr_expect_eq(store_open(&o, &s2, &cause), PW_EFORMAT);
	cr_expect(cause && strstr(cause, "newer pacewatch"), "%s", cause);
	free(cause);
	st = NULL; /* closed above; teardown removes the directory */
}

/* Regression found by the crash test: a kill between creating data.mdb and
 * the first commit left a store that was then refused. */
Test(store, interrupted_creation_is_finished_not_refused)
{
	char d2[300], path[400];
	struct store *s2;
	snprintf(d2, sizeof d2, "%s-interrupted", dir);
	/* an empty data.mdb, as a kill right after creating the file leaves */
	mkdir(d2, 0755);
	snprintf(path, sizeof path, "%s/data.mdb", d2);
	fclose(fopen(path, "w"));
	s2 = open_at(d2, 0, 0);
	store_close(s2);
	test_dir_remove(d2);
	/* an LMDB file with nothing committed in it */
	{
		MDB_env *env;
		mkdir(d2, 0755);
		mdb_env_create(&env);
		cr_assert_eq(mdb_env_open(env, d2, 0, 0644), 0);
		mdb_env_close(env);
	}
	s2 = open_at(d2, 0, 0);
	struct store_batch *b = store_batch_begin(s2);
	struct pw_label ls[1] = {{"__name__", "m"}};
	store_batch_put(b, ls, 1, 1, 1);
	char *cause = NULL;
	cr_expect_eq(store_batch_commit(b, &cause), 0, "%s", cause);
	store_close(s2);
	test_dir_remove(d2);
}

Test(store, backup_is_a_consistent_copy)
{
	struct store_batch *b = store_batch_begin(st);
	for (int i = 0; i < 100; i++)
		put1(b, "bk", "i", i % 2 ? "odd" : "even", i, i);
	commit(b);
	char dest[300];
	snprintf(dest, sizeof dest, "%s-backup", dir);
	char *cause = NULL;
	cr_assert_eq(store_backup(st, dest, &cause), 0, "%s", cause);
	cr_expect_neq(store_backup(st, dest, &cause), 0, "refuses to overwrite");
	free(cause);
	struct store *s2 = open_at(dest, 0, 0);
	struct store_stats a, c;
	store_stats(st, &a);
	store_stats(s2, &c);
	cr_expect_eq(a.series, c.series);
	cr_expect_eq(a.samples, c.samples);
	store_close(s2);
	test_dir_remove(dest);
}

struct rec_seen {
	char keys[16][32];
	size_t n;
};

static int rec_collect(void *ctx, const void *k, size_t kn, const void *v, size_t vn)
{
	struct rec_seen *s = ctx;
	(void)v;
	(void)vn;
	cr_assert_lt(s->n, 16);
	cr_assert_lt(kn, 32);
	memcpy(s->keys[s->n], k, kn);
	s->keys[s->n++][kn] = '\0';
	return 0;
}

Test(store, records_write_scan_delete_and_reopen)
{
	struct store_rec_op ops[] = {
		{"o/2", 3, "second", 6}, {"o/1", 3, "first", 5}, {"n/x", 3, "log", 3},
		{"o/3", 3, "third", 5},
	};
	char *cause = NULL;
	cr_assert_eq(store_rec_write(st, ops, 4, &cause), 0, "%s", cause ? cause : "");
	struct rec_seen seen = {0};
	cr_assert_eq(store_rec_scan(st, "o/", 2, rec_collect, &seen), 0);
	cr_assert_eq(seen.n, 3);
	cr_assert_str_eq(seen.keys[0], "o/1");
	cr_assert_str_eq(seen.keys[2], "o/3");

	/* delete one, replace one, delete a missing one: one transaction */
	struct store_rec_op upd[] = {{"o/1", 3, NULL, 0}, {"o/2", 3, "SECOND", 6}, {"o/9", 3, NULL, 0}};
	cr_assert_eq(store_rec_write(st, upd, 3, NULL), 0);
	void *v;
	size_t vn;
	cr_assert_eq(store_rec_get(st, "o/1", 3, &v, &vn), PW_ENOTFOUND);
	cr_assert_eq(store_rec_get(st, "o/2", 3, &v, &vn), 0);
	cr_assert_eq(vn, 6);
	cr_assert_str_eq(v, "SECOND");
	free(v);

	/* an empty key is refused and nothing of the write is applied */
	struct store_rec_op bad[] = {{"o/4", 3, "x", 1}, {"", 0, "y", 1}};
	cr_assert_eq(store_rec_write(st, bad, 2, &cause), PW_EINVAL);
	cr_assert_not_null(cause);
	free(cause);
	cr_assert_eq(store_rec_get(st, "o/4", 3, &v, &vn), PW_ENOTFOUND);

	store_close(st);
	st = open_at(dir, 0, 0);
	memset(&seen, 0, sizeof seen);
	cr_assert_eq(store_rec_scan(st, "", 0, rec_collect, &seen), 0);
	cr_assert_eq(seen.n, 3);
	cr_assert_str_eq(seen.keys[0], "n/x");
	cr_assert_str_eq(seen.keys[1], "o/2");
	cr_assert_str_eq(seen.keys[2], "o/3");
}

Test(store, change_feed_records_commits_in_order)
{
	struct store_snap *snap;
	struct store_change *ch = NULL;
	size_t n = 0;
	uint64_t head, last;
	char *cause = NULL;

	/* commits before the feed is on are not recorded */
	struct store_batch *b = store_batch_begin(st);
	cr_assert_eq(put1(b, "m", "city", "a", 1000, 1), 0);
	cr_assert_eq(store_batch_commit(b, &cause), 0);
	store_set_feed(st, true);
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "m", "city", "a", 5000, 2), 0);
	cr_assert_eq(put1(b, "m", "city", "a", 3000, 3), 0); /* out of order in one batch */
	cr_assert_eq(put1(b, "m", "city", "b", 4000, 4), 0);
	cr_assert_eq(store_batch_commit(b, &cause), 0);
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "m", "city", "b", 500, 5), 0); /* backfilled into the past */
	cr_assert_eq(store_batch_commit(b, &cause), 0);

	cr_assert_eq(store_snap_begin(st, &snap), 0);
	cr_assert_eq(store_feed_head(snap, &head), 0);
	cr_assert_eq(head, 2);
	cr_assert_eq(store_feed_read(snap, 0, 100, &ch, &n, &last), 0);
	cr_assert_eq(last, 2);
	cr_assert_eq(n, 3);
	struct store_series s0, s1;
	cr_assert_eq(store_series_get(snap, ch[0].id, &s0), 0);
	cr_assert_str_eq(store_series_label(&s0, "city"), "a");
	cr_assert_eq(ch[0].mint, 3000);
	cr_assert_eq(ch[0].maxt, 5000);
	cr_assert_eq(store_series_get(snap, ch[1].id, &s1), 0);
	cr_assert_str_eq(store_series_label(&s1, "city"), "b");
	cr_assert_eq(ch[1].mint, 4000);
	cr_assert_eq(ch[2].id, ch[1].id);
	cr_assert_eq(ch[2].mint, 500, "the second commit, in commit order");
	/* one commit at a time */
	n = 0;
	cr_assert_eq(store_feed_read(snap, 0, 1, &ch, &n, &last), 0);
	cr_assert_eq(last, 1);
	cr_assert_eq(n, 2);
	cr_assert_eq(store_series_get(snap, 987654, &s0), PW_ENOTFOUND);
	store_snap_end(snap);

	/* trimmed up to 1: only the second commit is left */
	cr_assert_eq(store_feed_trim(st, 1, &cause), 0);
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	n = 0;
	cr_assert_eq(store_feed_read(snap, 0, 100, &ch, &n, &last), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(last, 2);
	cr_assert_eq(ch[0].mint, 500);
	store_snap_end(snap);
	free(ch);

	/* off again: commits go unrecorded, the sequence stays */
	store_set_feed(st, false);
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "m", "city", "c", 9000, 6), 0);
	cr_assert_eq(store_batch_commit(b, &cause), 0);
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	cr_assert_eq(store_feed_head(snap, &head), 0);
	cr_assert_eq(head, 2);
	store_snap_end(snap);
}

static double latest_of(const char *city)
{
	struct store_snap *snap;
	struct store_matcher m[2];
	struct store_series *ss = NULL;
	size_t n = 0;
	int64_t t;
	double v = NAN;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	store_matcher_init(&m[0], STORE_MATCH_EQ, "__name__", "k", NULL);
	store_matcher_init(&m[1], STORE_MATCH_EQ, "city", city, NULL);
	cr_assert_eq(store_select(snap, m, 2, INT64_MIN, INT64_MAX, false, &ss, &n), 0);
	if (n == 1)
		store_latest(snap, ss[0].id, &t, &v);
	cr_assert_leq(n, 1, "one series per label set");
	free(ss);
	store_matcher_free(&m[0]);
	store_matcher_free(&m[1]);
	store_snap_end(snap);
	return v;
}

Test(store, keys_resolve_and_survive_series_deletion)
{
	struct pw_label la[2] = {{"city", "a"}, {"__name__", "k"}}, lb[2] = {{"__name__", "k"}, {"city", "b"}};
	struct store_key ka, kb, *ks[2] = {&ka, &kb};
	char *cause = NULL;
	cr_assert_eq(store_key_make(la, 2, &ka, &cause), 0);
	cr_assert_eq(store_key_make(lb, 2, &kb, &cause), 0);
	struct pw_label bad[1] = {{"city", "x"}};
	struct store_key kx;
	cr_assert_eq(store_key_make(bad, 1, &kx, &cause), PW_EINVAL, "no metric name");
	cr_assert_not_null(cause);
	free(cause);
	cause = NULL;

	struct store_batch *b = store_batch_begin(st);
	cr_assert_eq(store_batch_put_key(b, &ka, 1000, 1), 0);
	cr_assert_eq(store_batch_put_key(b, &kb, 1000, 2), 0);
	cr_assert_eq(store_batch_commit(b, &cause), 0);
	cr_assert(store_key_stale(st, &ka));
	store_keys_resolve(st, ks, 2);
	cr_assert(!store_key_stale(st, &ka));
	cr_assert_neq(ka.id, kb.id);
	/* resolved: the ids go straight in, samples land in their series */
	b = store_batch_begin(st);
	cr_assert_eq(store_batch_put_key(b, &kb, 2000, 20), 0);
	cr_assert_eq(store_batch_put_key(b, &ka, 2000, 10), 0);
	cr_assert_eq(store_batch_commit(b, &cause), 0);
	cr_assert_eq(latest_of("a"), 10);
	cr_assert_eq(latest_of("b"), 20);
	/* retention deletes both series: the keys' ids are stale and the
	 * next batch creates the series again instead of writing to the dead */
	uint64_t dropped = 0;
	cr_assert_eq(store_retention(st, 5000, &dropped, &cause), 0);
	cr_assert_eq(dropped, 4);
	cr_assert(store_key_stale(st, &ka));
	b = store_batch_begin(st);
	cr_assert_eq(store_batch_put_key(b, &ka, 9000, 90), 0);
	cr_assert_eq(store_batch_put(b, lb, 2, 9000, 91), 0);
	cr_assert_eq(store_batch_commit(b, &cause), 0);
	cr_assert_eq(latest_of("a"), 90);
	cr_assert_eq(latest_of("b"), 91);
	store_key_free(&ka);
	store_key_free(&kb);
}

/* The writer keeps every series in memory (no on-disk index from labels
 * to id): series another process creates (past the writer lock, which
 * normally refuses it), and series a reopened store holds, are found by
 * their labels, never created twice. */
Test(store, series_from_another_process_or_a_reopen_are_not_created_twice)
{
	struct store_batch *b = store_batch_begin(st);
	cr_assert_eq(put1(b, "shared", "city", "a", 1000, 1), 0);
	commit(b);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct store_opts o = {.path = dir, .no_sync = true};
		struct store *other = NULL;
		char *cause = NULL;
		/* the writer lock keeps a second writer out; past it (a file
		 * system without flock) the store still never doubles a series */
		store__test_no_writer_lock = true;
		if (store_open(&o, &other, &cause) != 0)
			_exit(1);
		b = store_batch_begin(other);
		for (int i = 0; i < 300; i++) { /* more than one run of ids */
			char v[16];
			snprintf(v, sizeof v, "n%d", i);
			if (put1(b, "shared", "city", v, 2000, i) != 0)
				_exit(2);
		}
		if (put1(b, "shared", "city", "a", 2000, 2) != 0 ||
		    store_batch_commit(b, &cause) != 0)
			_exit(3);
		store_close(other);
		_exit(0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %d", status);
	/* this writer's cache has "a" but not what the other process made */
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "shared", "city", "n7", 3000, 70), 0);
	cr_assert_eq(put1(b, "shared", "city", "n299", 3000, 2990), 0);
	cr_assert_eq(put1(b, "shared", "city", "a", 3000, 3), 0);
	commit(b);
	store_close(st);
	st = open_at(dir, 0, 0);
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "shared", "city", "n7", 4000, 71), 0);
	cr_assert_eq(put1(b, "shared", "city", "a", 4000, 4), 0);
	cr_assert_eq(put1(b, "shared", "city", "new", 4000, 5), 0);
	commit(b);

	int64_t ts[8];
	double vs[8];
	/* read_series asserts at most one series matches */
	cr_assert_eq(read_series("shared", "city", "a", ts, vs, 8), 4);
	cr_assert(vs[0] == 1 && vs[1] == 2 && vs[2] == 3 && vs[3] == 4);
	cr_assert_eq(read_series("shared", "city", "n7", ts, vs, 8), 3);
	cr_assert(vs[0] == 7 && vs[1] == 70 && vs[2] == 71);
	cr_assert_eq(read_series("shared", "city", "n299", ts, vs, 8), 2);
	struct store_stats ss;
	cr_assert_eq(store_stats(st, &ss), 0);
	cr_assert_eq(ss.series, 302);
	/* label strings are stored once, whichever process met them first */
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	char **strs = NULL;
	size_t n = 0;
	cr_assert_eq(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, st->dbi_symbols, &c), 0);
	while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
		strs = xreallocarray(strs, n + 1, sizeof *strs);
		strs[n] = xstrndup(v.mv_data, v.mv_size);
		for (size_t i = 0; i < n; i++)
			cr_assert_str_neq(strs[i], strs[n], "\"%s\" stored twice", strs[n]);
		n++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	/* shared, city, a, n0..n299, new */
	cr_assert_eq(n, 3 + 300 + 1);
	for (size_t i = 0; i < n; i++)
		free(strs[i]);
	free(strs);
}

/* Series ids are never reused and postings hold them in 4 bytes: past
 * 2^32 - 1 a batch that creates a series fails with a message and writes
 * nothing; existing series still take samples. */
Test(store, series_ids_run_out_cleanly)
{
	struct store_batch *b = store_batch_begin(st);
	cr_assert_eq(put1(b, "ids", "n", "first", 1000, 1), 0);
	commit(b);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	cr_assert_eq(store__meta_put_u64(txn, st, "next_id", UINT32_MAX), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "ids", "n", "last", 1000, 2), 0);
	commit(b);
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "ids", "n", "first", 2000, 3), 0);
	cr_assert_eq(put1(b, "ids", "n", "one too many", 2000, 4), 0);
	char *cause = NULL;
	cr_assert_eq(store_batch_commit(b, &cause), PW_ETOOBIG);
	cr_assert_not_null(cause);
	cr_assert(strstr(cause, "no series id left"), "%s", cause);
	free(cause);
	int64_t ts[4];
	double vs[4];
	cr_assert_eq(read_series("ids", "n", "first", ts, vs, 4), 1, "the batch wrote nothing");
	cr_assert_eq(read_series("ids", "n", "last", ts, vs, 4), 1);
	cr_assert_eq(vs[0], 2);
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "ids", "n", "first", 2000, 3), 0);
	cr_assert_eq(put1(b, "ids", "n", "last", 2000, 5), 0);
	commit(b);
	cr_assert_eq(read_series("ids", "n", "last", ts, vs, 4), 2);
	cr_assert_eq(vs[1], 5);
}

/* A series with many labels (more than readers decode on the stack) reads
 * back with every label, in order. */
Test(store, series_with_many_labels)
{
	enum { NL = 40 };
	struct pw_label ls[NL + 1];
	char names[NL][16], values[NL][16];
	ls[0] = (struct pw_label){"__name__", "wide"};
	for (int i = 0; i < NL; i++) {
		snprintf(names[i], sizeof names[i], "l%02d", i);
		snprintf(values[i], sizeof values[i], "v%d", i * 7);
		ls[i + 1] = (struct pw_label){names[i], values[i]};
	}
	struct store_batch *b = store_batch_begin(st);
	cr_assert_eq(store_batch_put(b, ls, NL + 1, 1000, 1), 0);
	commit(b);
	struct store_snap *snap;
	struct store_matcher m;
	struct store_series *ss;
	size_t n;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	store_matcher_init(&m, STORE_MATCH_EQ, "l39", "v273", NULL);
	cr_assert_eq(store_select(snap, &m, 1, INT64_MIN, INT64_MAX, false, &ss, &n), 0);
	cr_assert_eq(n, 1);
	for (int i = 0; i < NL; i++) {
		const char *v = store_series_label(&ss[0], names[i]);
		cr_assert_not_null(v, "%s", names[i]);
		cr_assert_str_eq(v, values[i]);
	}
	cr_assert_str_eq(store_series_label(&ss[0], "__name__"), "wide");
	free(ss);
	store_matcher_free(&m);
	store_snap_end(snap);
}

/* docs/storage.md: "whatever a commit reported survives"; by default each
 * commit's data and its meta page are flushed (LMDB without MDB_NOSYNC and
 * without MDB_NOMETASYNC, whose lazy meta page lets a system crash undo the
 * last reported commit). The trade-offs are the options that name them. */
Test(store, commits_are_durable_unless_a_trade_off_is_chosen)
{
	static const struct {
		bool no_sync, no_meta_sync;
		unsigned want;
	} cases[] = {
		{false, false, 0},
		{false, true, MDB_NOMETASYNC},
		{true, false, MDB_NOSYNC},
	};
	store_close(st);
	st = NULL;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct store_opts o = {.path = dir, .no_sync = cases[i].no_sync,
				       .no_meta_sync = cases[i].no_meta_sync};
		struct store *s = NULL;
		char *cause = NULL;
		unsigned flags = 0;
		cr_assert_eq(store_open(&o, &s, &cause), 0, "%s", cause ? cause : "");
		cr_assert_eq(mdb_env_get_flags(s->env, &flags), 0);
		cr_expect_eq(flags & (MDB_NOSYNC | MDB_NOMETASYNC), cases[i].want,
			     "case %zu: sync flags %#x, want %#x", i,
			     flags & (MDB_NOSYNC | MDB_NOMETASYNC), cases[i].want);
		store_close(s);
	}
}

/* One writer per store: a second open for writing, from this process or
 * another, is refused with the PID of the one that holds the store, and
 * nothing is written; readers open beside it; once the writer closes,
 * another may write. */
Test(store, one_writer_per_store)
{
	struct store_batch *b = store_batch_begin(st);
	cr_assert_eq(put1(b, "one_writer", "a", "1", 1000, 1), 0);
	commit(b);

	struct store_opts o = {.path = dir, .no_sync = true};
	struct store *s2 = NULL;
	char *cause = NULL, pid[32];
	snprintf(pid, sizeof pid, "PID %ld", (long)getpid());
	cr_expect_eq(store_open(&o, &s2, &cause), -EBUSY);
	cr_expect(cause && strstr(cause, pid) && strstr(cause, dir), "names the holder: %s", cause);
	free(cause);
	cause = NULL;

	/* another process: refused with this one's PID; a reader works */
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t child = fork();
	cr_assert_neq(child, -1);
	if (child == 0) {
		struct store *w = NULL, *r = NULL;
		struct store_opts ro = {.path = dir, .read_only = true};
		char *why = NULL;
		int rc = store_open(&o, &w, &why);
		if (why && write(p[1], why, strlen(why)) < 0)
			_exit(9);
		if (rc != -EBUSY)
			_exit(1);
		if (store_open(&ro, &r, NULL) != 0)
			_exit(2);
		struct store_snap *snap;
		struct store_series *ss;
		size_t n = 0;
		if (store_snap_begin(r, &snap) != 0 ||
		    store_select(snap, NULL, 0, INT64_MIN, INT64_MAX, false, &ss, &n) != 0 || n != 1)
			_exit(3);
		free(ss);
		store_snap_end(snap);
		store_close(r);
		_exit(0);
	}
	close(p[1]);
	char msg[2048] = "";
	ssize_t got = read(p[0], msg, sizeof msg - 1);
	close(p[0]);
	msg[got > 0 ? got : 0] = '\0';
	int status;
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %d (%s)", status, msg);
	cr_expect(strstr(msg, pid) != NULL, "the other process is told who holds it: %s", msg);

	/* the writer's data is intact and it goes on writing */
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "one_writer", "a", "1", 2000, 2), 0);
	commit(b);
	store_close(st);
	st = NULL;
	/* now another writer may open it */
	cr_expect_eq(store_open(&o, &st, &cause), 0, "%s", cause ? cause : "");
}

/* Commands that read or maintain a store never create one: a mistyped
 * --storage is "no pacewatch store at ...", and no directory appears. */
Test(store, never_created_when_it_must_exist)
{
	char missing[300], empty[300];
	struct stat sb;
	snprintf(missing, sizeof missing, "%s-typo", dir);
	snprintf(empty, sizeof empty, "%s-empty", dir);
	cr_assert_eq(mkdir(empty, 0755), 0);
	const char *paths[] = {missing, empty};
	for (size_t i = 0; i < 2; i++) {
		for (int ro = 0; ro < 2; ro++) {
			struct store_opts o = {.path = paths[i], .must_exist = true, .read_only = ro};
			struct store *s = NULL;
			char *cause = NULL;
			cr_expect_eq(store_open(&o, &s, &cause), -ENOENT, "%s", paths[i]);
			cr_expect(cause && strstr(cause, "no pacewatch store at") &&
					  strstr(cause, paths[i]),
				  "%s", cause ? cause : "(no cause)");
			free(cause);
		}
	}
	cr_expect_neq(stat(missing, &sb), 0, "%s was not created", missing);
	char lock[400];
	snprintf(lock, sizeof lock, "%s/data.mdb", empty);
	cr_expect_neq(stat(lock, &sb), 0, "nothing was created in %s", empty);
	snprintf(lock, sizeof lock, "%s/pacewatch.lock", empty);
	cr_expect_neq(stat(lock, &sb), 0, "no lock file in %s", empty);
	rmdir(empty);
}

/* storage.max_series: a batch that would create more series than the limit
 * fails whole, naming the limit; the series the store holds keep taking
 * samples; a reopened store counts the series it has. */
Test(store, max_series_refuses_new_series_not_samples)
{
	store_close(st);
	struct store_opts o = {.path = dir, .no_sync = true, .max_series = 3};
	char *cause = NULL;
	cr_assert_eq(store_open(&o, &st, &cause), 0, "%s", cause ? cause : "?");
	struct store_batch *b = store_batch_begin(st);
	cr_assert_eq(put1(b, "m", "city", "a", 1000, 1), 0);
	cr_assert_eq(put1(b, "m", "city", "b", 1000, 1), 0);
	commit(b);
	/* two new series and one known: 4 > 3, refused whole */
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "m", "city", "a", 2000, 2), 0);
	cr_assert_eq(put1(b, "m", "city", "c", 2000, 2), 0);
	cr_assert_eq(put1(b, "m", "city", "d", 2000, 2), 0);
	cr_assert_eq(store_batch_commit(b, &cause), PW_ETOOBIG);
	cr_assert_not_null(cause);
	cr_assert(strstr(cause, "storage.max_series 3"), "%s", cause);
	free(cause);
	cause = NULL;
	int64_t ts[8];
	double vs[8];
	cr_assert_eq(read_series("m", "city", "a", ts, vs, 8), 1, "nothing of the refused batch");
	cr_assert_eq(read_series("m", "city", "c", ts, vs, 8), 0);
	/* one new series fits; the known ones keep taking samples */
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "m", "city", "a", 3000, 3), 0);
	cr_assert_eq(put1(b, "m", "city", "c", 3000, 3), 0);
	commit(b);
	cr_assert_eq(read_series("m", "city", "c", ts, vs, 8), 1);
	store_close(st);
	cr_assert_eq(store_open(&o, &st, &cause), 0, "%s", cause ? cause : "?");
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "m", "city", "e", 4000, 4), 0);
	cr_assert_eq(store_batch_commit(b, &cause), PW_ETOOBIG, "reopened, it still holds 3");
	free(cause);
	b = store_batch_begin(st);
	cr_assert_eq(put1(b, "m", "city", "b", 4000, 4), 0);
	commit(b);
}

/* ---- format 4's blocks through the store ------------------------------------ */

static uint64_t fbits(double v) { uint64_t b; memcpy(&b, &v, 8); return b; }
static double bits_f(uint64_t b) { double v; memcpy(&v, &b, 8); return v; }

/* The value a model holds at step i: decimals, counters and specials mixed,
 * so that blocks hold mantissas and exceptions. */
static double blk_value(int i, int gen)
{
	static const uint64_t sp[] = {0x7ff0000000000002ULL, 0x8000000000000000ULL,
				      0x7ff0000000000000ULL, 0xfff8000000000001ULL};
	switch ((i + gen) % 7) {
	case 0: return bits_f(sp[(i / 7 + gen) % 4]);
	case 1: return sqrt((double)i + gen); /* no decimal form */
	case 2: return 0.1 + 0.2;
	default: return (double)(i * 3 + gen) / 100;
	}
}

/* Compare every sample of series "blk" with the model (bit for bit). */
static void blk_check(const int64_t *mts, const double *mvs, size_t mn)
{
	static int64_t ts[20000];
	static double vs[20000];
	size_t n = read_series("blk", NULL, NULL, ts, vs, 20000);
	cr_assert_eq(n, mn, "%zu samples, want %zu", n, mn);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(ts[i], mts[i], "sample %zu: ts %lld, want %lld", i, (long long)ts[i],
			     (long long)mts[i]);
		cr_assert_eq(fbits(vs[i]), fbits(mvs[i]), "sample %zu (ts %lld): %016llx, want %016llx",
			     i, (long long)ts[i], (unsigned long long)fbits(vs[i]),
			     (unsigned long long)fbits(mvs[i]));
	}
}

/* Sealed and open blocks: replacing existing samples and inserting late
 * ones between them, the specials included, reads back exactly; so does
 * retention cutting through a sealed block; and all of it after a reopen. */
Test(store, blocks_replace_insert_retain)
{
	enum { N = 6000 };
	static int64_t mts[2 * N];
	static double mvs[2 * N];
	size_t mn = 0;
	/* in order, 100 a batch: many sealed blocks, an open one, a head */
	for (int i = 0; i < N; i += 100) {
		struct store_batch *b = store_batch_begin(st);
		for (int k = i; k < i + 100; k++)
			put1(b, "blk", NULL, NULL, 1000LL * 2 * k, blk_value(k, 0));
		commit(b);
	}
	for (int k = 0; k < N; k++) {
		mts[mn] = 1000LL * 2 * k;
		mvs[mn++] = blk_value(k, 0);
	}
	{
		struct store_stats ss;
		cr_assert_eq(store_stats(st, &ss), 0);
		cr_assert_gt(ss.chunks, 5, "sealed blocks: %llu", (unsigned long long)ss.chunks);
	}
	blk_check(mts, mvs, mn);
	/* replace every 13th sample, insert a late one after every 17th */
	srand(11);
	for (int round = 0; round < 3; round++) {
		struct store_batch *b = store_batch_begin(st);
		for (size_t i = (size_t)round; i < (size_t)N; i += 13) {
			double v = blk_value((int)i, round + 1);
			put1(b, "blk", NULL, NULL, 1000LL * 2 * (int64_t)i, v);
			mvs[i] = v;
		}
		commit(b);
	}
	{
		struct store_batch *b = store_batch_begin(st);
		for (int k = 0; k < N; k += 17)
			put1(b, "blk", NULL, NULL, 1000LL * (2 * k + 1), blk_value(k, 5));
		commit(b);
		/* the model: merge the odd timestamps in */
		static int64_t t2[2 * N];
		static double v2[2 * N];
		size_t o = 0;
		for (size_t i = 0; i < mn; i++) {
			t2[o] = mts[i];
			v2[o++] = mvs[i];
			int k = (int)(mts[i] / 2000);
			if (k % 17 == 0) {
				t2[o] = 1000LL * (2 * k + 1);
				v2[o++] = blk_value(k, 5);
			}
		}
		memcpy(mts, t2, o * sizeof *mts);
		memcpy(mvs, v2, o * sizeof *mvs);
		mn = o;
	}
	blk_check(mts, mvs, mn);
	/* retention through the middle of the sealed blocks */
	uint64_t dropped = 0;
	char *cause = NULL;
	int64_t cutoff = 1000LL * 2 * 2345 + 1;
	cr_assert_eq(store_retention(st, cutoff, &dropped, &cause), 0, "%s", cause ? cause : "?");
	size_t first = 0;
	while (first < mn && mts[first] < cutoff)
		first++;
	cr_assert_eq(dropped, first);
	blk_check(mts + first, mvs + first, mn - first);
	store_close(st);
	st = open_at(dir, 0, 0);
	blk_check(mts + first, mvs + first, mn - first);
}

/* A damaged sealed block fails the read with an error; it does not crash
 * the reader or hand out samples past it. */
Test(store, damaged_block_refused)
{
	for (int i = 0; i < 4000; i += 100) {
		struct store_batch *b = store_batch_begin(st);
		for (int k = i; k < i + 100; k++)
			put1(b, "blk", NULL, NULL, 1000LL * k, sqrt((double)k));
		commit(b);
	}
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	size_t damaged = 0;
	cr_assert_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, st->dbi_segs, &c), 0);
	while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
		uint8_t *copy = malloc(v.mv_size);
		memcpy(copy, v.mv_data, v.mv_size);
		copy[1] ^= 0xff; /* the zstd frame length, or the raw count */
		copy[v.mv_size / 2] ^= 0x55;
		MDB_val nv = {v.mv_size, copy};
		cr_assert_eq(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
		free(copy);
		damaged++;
	}
	mdb_cursor_close(c);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	cr_assert_gt(damaged, 0);
	struct store_snap *snap;
	struct store_matcher m;
	struct store_series *ss;
	size_t n;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	store_matcher_init(&m, STORE_MATCH_EQ, "__name__", "blk", NULL);
	cr_assert_eq(store_select(snap, &m, 1, INT64_MIN, INT64_MAX, false, &ss, &n), 0);
	cr_assert_eq(n, 1);
	struct store_iter *it = store_iter_new(snap);
	int64_t t;
	double dv;
	int rc = store_iter_seek(it, ss[0].id, INT64_MIN, INT64_MAX);
	while (rc == 0 && (rc = store_iter_next(it, &t, &dv)) == 1)
		;
	cr_assert_eq(rc, PW_ESTORE, "a damaged block is an error, got %d", rc);
	store_iter_free(it);
	free(ss);
	store_matcher_free(&m);
	store_snap_end(snap);
}
