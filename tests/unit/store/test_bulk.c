/* store_iter_read (the bulk read) against store_iter_next (a sample a
 * call): over a store holding every kind of place a sample can be (sealed
 * blocks with and without the 256-sample index, open blocks, heads, the
 * recent-samples log), with replaced and late samples, staleness markers,
 * NaN payloads, ±Inf and -0, and a range dropped by retention, the bulk
 * read must return the same samples, bit for bit and in the same order,
 * for every window and every max, whole or split across calls, mixed with
 * store_iter_next, and a damaged block's error after the same samples. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "../test_dir.h"
#include "store_int.h"

static char dir[256];
static struct store *st;

static void setup(void)
{
	struct store_opts o = {.no_sync = true};
	char *cause = NULL;
	snprintf(dir, sizeof dir, "/tmp/pw-bulk-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	rmdir(dir);
	o.path = dir;
	cr_assert_eq(store_open(&o, &st, &cause), 0, "store_open: %s", cause ? cause : "?");
}

static void teardown(void)
{
	store_close(st);
	test_dir_remove(dir);
}

TestSuite(bulk, .init = setup, .fini = teardown);

static uint64_t fbits(double v) { uint64_t b; memcpy(&b, &v, 8); return b; }
static double bits_f(uint64_t b) { double v; memcpy(&v, &b, 8); return v; }

/* a deterministic generator of our own (rand() differs between libcs) */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

enum { NSER = 8, STEP = 15000 };
static const char *const names[NSER] = {"counter", "noisy",  "mixed", "gauge",
				       "short",   "logged", "old",   "sparse"};

/* sample i of series s: counters (long blocks with the index), raw bit
 * patterns (short blocks), decimals mixed with the specials */
static double value(int s, int i, int gen)
{
	static const uint64_t sp[] = {STORE_STALE_NAN_BITS, 0x8000000000000000ULL,
				      0x7ff0000000000000ULL, 0xfff0000000000000ULL,
				      0x7ff8000000000001ULL, 0xfff8000000000003ULL};
	switch (s) {
	case 0: return (double)(i + gen * 7);
	case 1: return bits_f((rnd() & 0x3fffffffffffffffULL) | 0x3000000000000000ULL);
	case 3: return (double)((i * 37 + gen) % 1000) / 100;
	default:
		if ((i + gen) % 5 == 0)
			return bits_f(sp[(i / 5 + gen) % 6]);
		if ((i + gen) % 5 == 1)
			return sqrt((double)i + gen);
		return (double)(i * 3 + gen) / 100;
	}
}

static int64_t ts_of(int i)
{
	return 1700000000000LL + (int64_t)i * STEP + (int64_t)(i * 7919 % 41) - 20;
}

static void put(struct store_batch *b, int s, int64_t t, double v)
{
	struct pw_label ls[2] = {{"__name__", names[s]}, {"job", "bulk"}};
	cr_assert_eq(store_batch_put(b, ls, 2, t, v), 0);
}

static void commit(struct store_batch *b)
{
	char *cause = NULL;
	int rc = store_batch_commit(b, &cause);
	cr_assert_eq(rc, 0, "commit: %s", cause ? cause : "?");
}

/* per series: how many samples were written in order (before the log's) */
static const int lens[NSER] = {7000, 3000, 5000, 4000, 50, 1, 600, 900};

/* Every kind of place, then replaced and late samples, retention, and the
 * log again. Returns the last index written. */
static int build(void)
{
	/* in order, 100 a batch (sparse: every third step) */
	for (int i = 0; i < 7000; i += 100) {
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < NSER; s++)
			for (int k = i; k < i + 100 && k < lens[s]; k++)
				if (s != 7 || k % 3 == 0)
					put(b, s, ts_of(s == 6 ? k - 3000 : k), value(s, k, 0));
		commit(b);
	}
	/* scrapes: one sample per series per commit (the log, then heads) */
	for (int i = 7000; i < 7100; i++) {
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < NSER; s++)
			if (s != 6 && s != 4)
				put(b, s, ts_of(i), value(s, i, 0));
		commit(b);
	}
	/* replaced samples and late ones between existing (this folds the log) */
	{
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < NSER; s++) {
			for (int k = 3; k < lens[s]; k += 37)
				put(b, s, ts_of(s == 6 ? k - 3000 : k), value(s, k, 1));
			for (int k = 5; k < lens[s]; k += 53)
				put(b, s, ts_of(k) + 7000, value(s, k, 2));
		}
		put(b, 7, ts_of(7050) + 1, bits_f(STORE_STALE_NAN_BITS));
		commit(b);
	}
	/* retention through the blocks of several series; "old" goes whole */
	{
		uint64_t dropped = 0;
		char *cause = NULL;
		cr_assert_eq(store_retention(st, ts_of(1234) + 3, &dropped, &cause), 0, "%s",
			     cause ? cause : "?");
		cr_assert_gt(dropped, 0);
	}
	/* scrapes again: the log holds the newest of every series */
	for (int i = 7100; i < 7140; i++) {
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < NSER; s++)
			if (s != 6)
				put(b, s, ts_of(i), i % 9 == 0 ? -0.0 : value(s, i, 0));
		commit(b);
	}
	return 7139;
}

/* what the store holds: some sealed blocks above the index's 256 samples,
 * some below; logged samples; heads */
static void check_layout(struct store_snap *snap, const uint64_t *ids, size_t nids)
{
	MDB_cursor *c;
	MDB_val k, v;
	struct blk_codec codec;
	size_t small = 0, big = 0, logged = 0;
	blk_codec_init(&codec);
	cr_assert_eq(mdb_cursor_open(snap->txn, st->dbi_segs, &c), 0);
	while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
		size_t n = 0;
		cr_assert_eq(blk_decode(&codec, v.mv_data, v.mv_size, &n), 0);
		if (n > 2 * BLK_IDX_EVERY)
			big++;
		else if (n <= BLK_IDX_EVERY)
			small++;
	}
	mdb_cursor_close(c);
	blk_codec_free(&codec);
	for (size_t i = 0; i < nids; i++) {
		const int64_t *wts;
		const double *wvs;
		logged += wal_view_find(snap->wal, ids[i], &wts, &wvs);
	}
	cr_assert_gt(big, 0, "no sealed block with checkpoints");
	cr_assert_gt(small, 0, "no sealed block without an index");
	cr_assert_gt(logged, 0, "nothing in the log");
}

/* every sample of [mint, maxt] by store_iter_next */
static size_t ref_read(struct store_iter *it, uint64_t id, int64_t mint, int64_t maxt,
		       int64_t *ts, double *vs, size_t cap)
{
	size_t n = 0;
	int rc;
	cr_assert_eq(store_iter_seek(it, id, mint, maxt), 0);
	while ((rc = store_iter_next(it, &ts[n], &vs[n])) == 1)
		cr_assert_lt(++n, cap);
	cr_assert_eq(rc, 0);
	cr_assert_eq(store_iter_next(it, &ts[n], &vs[n]), 0, "0 stays 0");
	return n;
}

static int64_t gts[16384], rts[16384];
static double gvs[16384], rvs[16384];

static void same(const char *how, uint64_t id, int64_t mint, int64_t maxt, size_t max,
		 size_t got, size_t want)
{
	cr_assert_eq(got, want, "%s: series %llu [%lld, %lld] max %zu: %zu samples, want %zu",
		     how, (unsigned long long)id, (long long)mint, (long long)maxt, max, got, want);
	for (size_t i = 0; i < want; i++) {
		cr_assert_eq(gts[i], rts[i], "%s: series %llu [%lld, %lld] max %zu: sample %zu at %lld, want %lld",
			     how, (unsigned long long)id, (long long)mint, (long long)maxt, max, i,
			     (long long)gts[i], (long long)rts[i]);
		cr_assert_eq(fbits(gvs[i]), fbits(rvs[i]),
			     "%s: series %llu [%lld, %lld] max %zu: sample %zu (%lld): %016llx, want %016llx",
			     how, (unsigned long long)id, (long long)mint, (long long)maxt, max, i,
			     (long long)rts[i], (unsigned long long)fbits(gvs[i]),
			     (unsigned long long)fbits(rvs[i]));
	}
}

/* the bulk read in calls of max, the whole of [mint, maxt] */
static size_t bulk_read(struct store_iter *it, uint64_t id, int64_t mint, int64_t maxt,
			size_t max)
{
	size_t n = 0;
	int rc;
	cr_assert_eq(store_iter_seek(it, id, mint, maxt), 0);
	while ((rc = store_iter_read(it, gts + n, gvs + n, max)) > 0) {
		cr_assert_leq((size_t)rc, max);
		n += (size_t)rc;
		cr_assert_lt(n, sizeof gts / sizeof gts[0]);
	}
	cr_assert_eq(rc, 0, "rc %d", rc);
	cr_assert_eq(store_iter_read(it, gts + n, gvs + n, max), 0, "0 stays 0");
	int64_t t;
	double v;
	cr_assert_eq(store_iter_next(it, &t, &v), 0, "and for store_iter_next too");
	return n;
}

/* store_iter_read of random sizes (0 included) and store_iter_next, mixed */
static size_t mixed_read(struct store_iter *it, uint64_t id, int64_t mint, int64_t maxt)
{
	size_t n = 0;
	int rc;
	cr_assert_eq(store_iter_seek(it, id, mint, maxt), 0);
	for (;;) {
		uint64_t r = rnd();
		if (r % 3 == 0) {
			rc = store_iter_next(it, gts + n, gvs + n);
			if (rc == 1)
				n++;
		} else {
			size_t max = (size_t)(r >> 8) % (r % 3 == 1 ? 4 : 700);
			rc = store_iter_read(it, gts + n, gvs + n, max);
			if (max == 0 && rc == 0)
				continue; /* nothing asked */
			n += rc > 0 ? (size_t)rc : 0;
		}
		cr_assert_geq(rc, 0);
		if (rc == 0)
			break;
		cr_assert_lt(n, sizeof gts / sizeof gts[0] - 700);
	}
	return n;
}

/* the sizes of max tried on a window of n samples: every one up to 70 and
 * around n, then a spread up to past n */
static bool next_max(size_t *max, size_t n)
{
	size_t m = *max;
	if (m < 70 || (m + 3 >= n && m <= n + 2))
		m++;
	else if (m + 3 < n && m * 5 / 4 + 3 >= n)
		m = n > 3 ? n - 3 : m + 1;
	else
		m = m * 5 / 4 + 3;
	*max = m;
	return m <= n + 2 || m <= 70;
}

Test(bulk, equals_the_per_sample_read)
{
	int last = build();
	struct store_snap *snap;
	struct store_series *ss;
	size_t ns;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	cr_assert_eq(store_select(snap, NULL, 0, INT64_MIN, INT64_MAX, false, &ss, &ns), 0);
	cr_assert_eq(ns, NSER - 1, "%zu series (old was dropped whole)", ns);
	uint64_t ids[NSER + 2];
	size_t nids = 0;
	uint64_t maxid = 0;
	for (size_t i = 0; i < ns; i++)
		maxid = ss[i].id > maxid ? ss[i].id : maxid;
	/* every id up to one past the last: the dropped series' and none's too */
	for (uint64_t id = 1; id <= maxid + 1 && nids < NSER + 2; id++)
		ids[nids++] = id;
	check_layout(snap, ids, nids);
	struct store_iter *it = store_iter_new(snap), *ref = store_iter_new(snap);
	int64_t lo = ts_of(0) - 5 * STEP, hi = ts_of(last) + 5 * STEP;
	size_t windows = 0, reads = 0;
	static int64_t all[16384];
	static double allv[16384];
	for (size_t s = 0; s < nids; s++) {
		/* the series' own timestamps: windows that start or end on a
		 * sample, or beside it, near the log and the head most */
		size_t nall = ref_read(ref, ids[s], INT64_MIN, INT64_MAX, all, allv, 16384);
		for (int w = 0; w < 70; w++) {
			int64_t mint, maxt;
			if (w >= 40 && nall == 0)
				break;
			if (w >= 40) {
				size_t a = w < 55 ? nall - 1 - (size_t)(rnd() % (nall < 40 ? nall : 40))
						  : (size_t)(rnd() % nall);
				size_t b = a + (size_t)(rnd() % (w % 2 ? 5 : 600));
				mint = all[a] + (int64_t)(rnd() % 3) - 1;
				maxt = (b < nall ? all[b] : all[nall - 1] + 1) + (int64_t)(rnd() % 3) - 1;
				if (w % 5 == 0)
					maxt = INT64_MAX;
			} else switch (w) {
			case 0: mint = INT64_MIN; maxt = INT64_MAX; break;
			case 1: mint = ts_of(1234) + 3; maxt = INT64_MAX; break; /* the cutoff */
			case 2: mint = ts_of(7100); maxt = ts_of(7139); break;  /* the log */
			case 3: mint = ts_of(6990) + 1; maxt = ts_of(7120) - 1; break;
			case 4: mint = ts_of(3000); maxt = ts_of(2999); break; /* empty */
			case 5: mint = ts_of(256); maxt = ts_of(256 + 512); break;
			default: {
				/* random windows, their ends on a sample's time or
				 * beside it, of every length */
				int64_t span = hi - lo;
				int a = (int)(rnd() % (uint64_t)(last + 10)) - 5;
				int64_t len = w % 3 == 0 ? span : w % 3 == 1 ? 300 * STEP : 40 * STEP;
				mint = rnd() % 4 == 0 ? lo + (int64_t)(rnd() % (uint64_t)span)
						      : ts_of(a) + (int64_t)(rnd() % 3) - 1;
				maxt = mint + (int64_t)(rnd() % (uint64_t)len);
				if (rnd() % 4 == 0)
					maxt = ts_of(a + (int)(rnd() % 400)) + (int64_t)(rnd() % 3) - 1;
			}
			}
			size_t want = ref_read(ref, ids[s], mint, maxt, rts, rvs, 16384);
			windows++;
			size_t max = 0;
			while (next_max(&max, want)) {
				same("read", ids[s], mint, maxt, max, bulk_read(it, ids[s], mint, maxt, max),
				     want);
				reads++;
			}
			same("read", ids[s], mint, maxt, 100000,
			     bulk_read(it, ids[s], mint, maxt, 100000), want);
			for (int k = 0; k < 3; k++)
				same("mixed", ids[s], mint, maxt, 0, mixed_read(it, ids[s], mint, maxt), want);
		}
	}
	cr_log_info("%zu windows, %zu whole reads compared", windows, reads);
	store_iter_free(it);
	store_iter_free(ref);
	free(ss);
	store_snap_end(snap);
}

/* A damaged block: the bulk read returns the samples before it, as
 * store_iter_next does, then the error, and keeps returning it. */
Test(bulk, a_damaged_block_fails_after_the_same_samples)
{
	for (int i = 0; i < 6000; i += 100) {
		struct store_batch *b = store_batch_begin(st);
		for (int k = i; k < i + 100; k++)
			put(b, 2, ts_of(k), value(2, k, 0));
		commit(b);
	}
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	size_t nseg = 0;
	cr_assert_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, st->dbi_segs, &c), 0);
	while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0)
		if (++nseg == 3) { /* the third sealed block */
			uint8_t *copy = malloc(v.mv_size);
			memcpy(copy, v.mv_data, v.mv_size);
			copy[1] ^= 0xff;
			copy[v.mv_size / 2] ^= 0x55;
			MDB_val nv = {v.mv_size, copy};
			cr_assert_eq(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
			free(copy);
		}
	mdb_cursor_close(c);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	cr_assert_geq(nseg, 3);
	struct store_snap *snap;
	struct store_series *ss;
	size_t ns;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	cr_assert_eq(store_select(snap, NULL, 0, INT64_MIN, INT64_MAX, false, &ss, &ns), 0);
	cr_assert_eq(ns, 1);
	struct store_iter *it = store_iter_new(snap);
	size_t want = 0;
	int rc;
	cr_assert_eq(store_iter_seek(it, ss[0].id, INT64_MIN, INT64_MAX), 0);
	while ((rc = store_iter_next(it, &rts[want], &rvs[want])) == 1)
		want++;
	cr_assert_eq(rc, PW_ESTORE);
	cr_assert_gt(want, 0);
	for (size_t max = 1; max < want + 50; max += max < 40 ? 1 : 97) {
		size_t n = 0;
		cr_assert_eq(store_iter_seek(it, ss[0].id, INT64_MIN, INT64_MAX), 0);
		while ((rc = store_iter_read(it, gts + n, gvs + n, max)) > 0)
			n += (size_t)rc;
		cr_assert_eq(rc, PW_ESTORE, "max %zu: %d", max, rc);
		same("damaged", ss[0].id, INT64_MIN, INT64_MAX, max, n, want);
		cr_assert_eq(store_iter_read(it, gts, gvs, max), PW_ESTORE, "the error stays");
		int64_t t;
		double dv;
		cr_assert_eq(store_iter_next(it, &t, &dv), PW_ESTORE, "for store_iter_next too");
	}
	store_iter_free(it);
	free(ss);
	store_snap_end(snap);
}
