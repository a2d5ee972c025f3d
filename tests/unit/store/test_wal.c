/* The recent-samples log (store/wal.c) through the public API: commits that
 * only extend series go to the log, everything reads them as if they were
 * in the heads, the log folds when full or when a commit goes behind it,
 * survives a reopen and retention. Checked against a plain model after
 * every commit, with the log's size read from the store to show it is
 * really in use. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_dir.h"
#include "store_int.h"

enum { NSER = 40, NT = 400 };

static char dir[256];
static struct store *st;
/* model[s][t]: the value at timestamp T(t) of series s, have[s][t] set */
static double model[NSER][NT];
static bool have[NSER][NT];
static size_t nmodel;

#define T(t) (1700000000000LL + 15000LL * (t))

static struct store *open_store(void)
{
	struct store_opts o = {.path = dir, .initial_map_size = 64 << 20, .no_sync = true};
	struct store *s = NULL;
	char *cause = NULL;
	cr_assert_eq(store_open(&o, &s, &cause), 0, "store_open: %s", cause ? cause : "?");
	return s;
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/pw-wal-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	rmdir(dir);
	st = open_store();
	memset(have, 0, sizeof have);
	nmodel = 0;
}

static void teardown(void)
{
	store_close(st);
	test_dir_remove(dir);
}

TestSuite(wal, .init = setup, .fini = teardown);

/* Records of slice 0 (where the few series of most tests are) after k
 * logged commits: one more per commit, folded when it is slice 0's turn
 * (every WAL_SLICES-th commit) before that commit's record is added. */
static size_t slice0_recs(int k)
{
	size_t r = 0;
	for (int j = 1; j <= k; j++) {
		if (j % WAL_SLICES == 0)
			r = 0;
		r++;
	}
	return r;
}

static int count_cb(void *ctx, uint64_t id, int64_t ts, double v)
{
	(void)id;
	(void)ts;
	(void)v;
	(*(size_t *)ctx)++;
	return 0;
}

/* per slice, the records holding samples of it not yet folded; the
 * samples not yet folded */
static void slice_recs(size_t *per, size_t *samples)
{
	MDB_txn *txn;
	uint64_t folded[WAL_SLICES];
	size_t n = 0;
	memset(per, 0, WAL_SLICES * sizeof *per);
	cr_assert_eq(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(wal_folded_get(st, txn, folded), 0);
	cr_assert_eq(wal_read(st, txn, -1, folded, per, count_cb, &n), 0);
	mdb_txn_abort(txn);
	if (samples)
		*samples = n;
}

/* records (of slice 0, where the series of most tests are) and samples
 * in the log not yet folded, read from the store itself; the samples are
 * counted twice, from the records and from what readers see */
static void log_size(size_t *recs, size_t *samples)
{
	size_t per[WAL_SLICES], n;
	slice_recs(per, &n);
	*recs = 0;
	for (unsigned i = 0; i < WAL_SLICES; i++)
		*recs += per[i];
	*samples = 0;
	struct store_snap *snap;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	for (uint64_t id = 1; id <= 5000; id++) {
		const int64_t *ts;
		const double *vs;
		*samples += wal_view_find(snap->wal, id, &ts, &vs);
	}
	store_snap_end(snap);
	cr_assert_eq(*samples, n, "readers see %zu logged samples, the records hold %zu", *samples,
		     n);
}

static void put(struct store_batch *b, int s, int t, double v)
{
	char sv[16];
	snprintf(sv, sizeof sv, "%d", s);
	struct pw_label ls[2] = {{"__name__", "wal_kpi"}, {"unit", sv}};
	cr_assert_eq(store_batch_put(b, ls, 2, T(t), v), 0);
	if (!have[s][t])
		nmodel++;
	have[s][t] = true;
	model[s][t] = v;
}

static void commit(struct store_batch *b)
{
	char *cause = NULL;
	cr_assert_eq(store_batch_commit(b, &cause), 0, "commit: %s", cause ? cause : "?");
}

static int unit_of(const struct store_series *ss)
{
	return atoi(store_series_label(ss, "unit"));
}

/* Retention at T(cut), checked against the model, which forgets the same */
static void retain_from(int cut)
{
	uint64_t dropped = 0, want = 0;
	char *cause = NULL;
	for (int s = 0; s < NSER; s++)
		for (int t = 0; t < cut && t < NT; t++)
			if (have[s][t]) {
				have[s][t] = false;
				nmodel--;
				want++;
			}
	cr_assert_eq(store_retention(st, T(cut), &dropped, &cause), 0, "%s", cause ? cause : "?");
	cr_assert_eq(dropped, want, "retention dropped %llu, want %llu",
		     (unsigned long long)dropped, (unsigned long long)want);
}

static int latest_cb(void *ctx, const struct store_series *ss, int64_t ts, double v)
{
	int *seen = ctx;
	int s = unit_of(ss), t = NT - 1;
	while (t >= 0 && !have[s][t])
		t--;
	cr_assert_geq(t, 0);
	cr_assert_eq(ts, T(t), "unit %d: latest at %lld, want %lld", s, (long long)ts,
		     (long long)T(t));
	cr_assert_eq(v, model[s][t]);
	(*seen)++;
	return 0;
}

/* Everything the store says equals the model. */
static void check_all(unsigned seed)
{
	struct store_snap *snap;
	struct store_matcher m;
	struct store_series *ss;
	size_t n;
	int64_t t;
	double v;

	srand(seed);
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	store_matcher_init(&m, STORE_MATCH_EQ, "__name__", "wal_kpi", NULL);
	cr_assert_eq(store_select(snap, &m, 1, INT64_MIN, INT64_MAX, false, &ss, &n), 0);
	struct store_iter *it = store_iter_new(snap);
	for (size_t i = 0; i < n; i++) {
		int s = unit_of(&ss[i]), k = 0;
		/* the whole series */
		cr_assert_eq(store_iter_seek(it, ss[i].id, INT64_MIN, INT64_MAX), 0);
		while (store_iter_next(it, &t, &v) == 1) {
			while (k < NT && !have[s][k])
				k++;
			cr_assert_lt(k, NT, "unit %d: sample beyond the model", s);
			cr_assert_eq(t, T(k), "unit %d: %lld, want %lld", s, (long long)t,
				     (long long)T(k));
			cr_assert_eq(v, model[s][k], "unit %d at %d: %g, want %g", s, k, v,
				     model[s][k]);
			k++;
		}
		while (k < NT && !have[s][k])
			k++;
		cr_assert_eq(k, NT, "unit %d: sample %d missing", s, k);
		/* ranges starting anywhere, the newest part most often */
		for (int q = 0; q < 6; q++) {
			int lo = q < 3 ? NT - 1 - rand() % 60 : rand() % NT, hi = lo + rand() % 80;
			int j = lo;
			cr_assert_eq(store_iter_seek(it, ss[i].id, T(lo), T(hi)), 0);
			while (store_iter_next(it, &t, &v) == 1) {
				while (j <= hi && j < NT && !have[s][j])
					j++;
				cr_assert(j <= hi && j < NT, "unit %d [%d, %d]: extra sample", s, lo, hi);
				cr_assert_eq(t, T(j));
				cr_assert_eq(v, model[s][j]);
				j++;
			}
			while (j <= hi && j < NT && !have[s][j])
				j++;
			cr_assert(j > hi || j >= NT, "unit %d [%d, %d]: missing %d", s, lo, hi, j);
		}
		/* the newest sample */
		k = NT - 1;
		while (!have[s][k])
			k--;
		cr_assert_eq(store_latest(snap, ss[i].id, &t, &v), 0);
		cr_assert_eq(t, T(k));
		cr_assert_eq(v, model[s][k]);
	}
	store_iter_free(it);
	free(ss);
	/* series with a sample in a short window near the end */
	for (int q = 0; q < 5; q++) {
		int lo = NT - 1 - rand() % 100, hi = lo + rand() % 10;
		size_t want = 0;
		for (int s = 0; s < NSER; s++)
			for (int j = lo; j <= hi && j < NT; j++)
				if (have[s][j]) {
					want++;
					break;
				}
		cr_assert_eq(store_select(snap, &m, 1, T(lo), T(hi), false, &ss, &n), 0);
		cr_assert_eq(n, want, "[%d, %d]: %zu series, want %zu", lo, hi, n, want);
		for (size_t i = 0; i < n; i++) {
			if (!ss[i].has_latest)
				continue;
			int s = unit_of(&ss[i]), k = NT - 1;
			while (!have[s][k])
				k--;
			cr_assert_eq(ss[i].latest_t, T(k));
		}
		free(ss);
	}
	store_matcher_free(&m);
	int seen = 0, want = 0;
	for (int s = 0; s < NSER; s++)
		for (int j = 0; j < NT; j++)
			if (have[s][j]) {
				want++;
				break;
			}
	cr_assert_eq(store_scan_latest(snap, latest_cb, &seen), 0);
	cr_assert_eq(seen, want);
	struct store_latest_iter *li;
	struct store_series one;
	seen = 0;
	cr_assert_eq(store_latest_iter_new(snap, &li), 0);
	while (store_latest_iter_next(li, &one, &t, &v) == 1) {
		latest_cb(&seen, &one, t, v);
	}
	store_latest_iter_free(li);
	cr_assert_eq(seen, want);
	store_snap_end(snap);
	struct store_stats stt;
	cr_assert_eq(store_stats(st, &stt), 0);
	cr_assert_eq(stt.samples, nmodel, "stats: %llu samples, want %zu",
		     (unsigned long long)stt.samples, nmodel);
}

Test(wal, scrapes_go_to_the_log_and_read_back_everywhere)
{
	size_t recs, samples, max_recs = 0;
	bool folded = false;
	/* the first scrape creates the series (heads), the next ones extend
	 * them: logged, until the log is full and folds */
	for (int t = 0; t < 80; t++) {
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < NSER; s++)
			put(b, s, t, t % 7 == 3 ? s * 0.25 + t : (double)(s * 1000 + t));
		commit(b);
		log_size(&recs, &samples);
		if (t == 1)
			cr_assert_eq(recs, 1, "the second scrape is logged");
		if (t > 0) {
			cr_assert_eq(recs, slice0_recs(t), "after scrape %d", t);
			cr_assert_eq(samples, recs * NSER);
		}
		if (recs < max_recs)
			folded = true;
		if (recs > max_recs)
			max_recs = recs;
		if (t % 9 == 0 || t == 79)
			check_all((unsigned)t);
	}
	cr_assert(folded, "the log folded into the heads");
	cr_assert_eq(max_recs, WAL_SLICES);
}

/* Every slice's series in the log at once, as a scrape of thousands of
 * series leaves it: the tables of ids that reading the log builds (the
 * per-slice ones of wal_read and the view's of every slice) find each
 * series a few slots from where it hashes. Counted (st->wal_probes), not
 * timed: when the view's table placed ids by the slot that suits one
 * slice's ids only, the sixteen slices' ids piled up in runs of thousands
 * of slots and building a view of 10,000 series took seconds, quadratic. */
Test(wal, reading_a_log_of_every_slice_finds_ids_near_their_slot)
{
	enum { MANY = 4 * 4096, SCRAPES = 3 };
	size_t per[WAL_SLICES], samples = 0;
	uint64_t before;
	for (int t = 0; t < SCRAPES; t++) {
		struct store_batch *b = store_batch_begin(st);
		for (int i = 0; i < MANY; i++) {
			char sv[16];
			snprintf(sv, sizeof sv, "%d", i);
			struct pw_label ls[2] = {{"__name__", "wal_many"}, {"i", sv}};
			cr_assert_eq(store_batch_put(b, ls, 2, T(t), (double)(i + t)), 0);
		}
		commit(b);
	}
	before = __atomic_load_n(&st->wal_probes, __ATOMIC_RELAXED);
	slice_recs(per, &samples);
	for (unsigned i = 0; i < WAL_SLICES; i++)
		cr_assert_gt(per[i], 0, "slice %u is in the log", i);
	cr_assert_geq(samples, (size_t)MANY, "the later scrapes are logged: %zu", samples);
	struct store_snap *snap;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	cr_assert_not_null(snap->wal);
	size_t seen = 0;
	for (uint64_t id = 1; id <= MANY; id++) {
		const int64_t *ts;
		const double *vs;
		seen += wal_view_find(snap->wal, id, &ts, &vs);
	}
	store_snap_end(snap);
	cr_assert_eq(seen, samples);
	uint64_t probes = __atomic_load_n(&st->wal_probes, __ATOMIC_RELAXED) - before;
	/* a read of the log and a view: each sample placed or found once or
	 * twice in a table at most half full, a few slots passed over each */
	cr_assert_leq(probes, 8 * (uint64_t)samples, "%llu slots passed over for %zu samples",
		      (unsigned long long)probes, samples);
}

Test(wal, going_behind_the_log_folds_it_and_replaces)
{
	size_t recs, samples;
	for (int t = 0; t < 10; t++) {
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < NSER; s++)
			put(b, s, 2 * t, s + t);
		commit(b);
	}
	log_size(&recs, &samples);
	cr_assert_eq(recs, 9);
	/* a late sample for one series, between two logged ones */
	struct store_batch *b = store_batch_begin(st);
	put(b, 5, 7, -7);
	put(b, 6, 30, 30); /* and an append in the same batch */
	commit(b);
	log_size(&recs, &samples);
	cr_assert_eq(recs, 1, "folded; the append starts a new log");
	cr_assert_eq(samples, 1);
	check_all(1);
	/* replacing a logged sample's value */
	for (int t = 10; t < 14; t++) {
		b = store_batch_begin(st);
		for (int s = 0; s < NSER; s++)
			put(b, s, 2 * t, s * t);
		commit(b);
	}
	log_size(&recs, &samples);
	cr_assert_gt(recs, 0);
	b = store_batch_begin(st);
	put(b, 3, 24, 4242.5);
	commit(b);
	check_all(2);
	/* special values through the log, bit for bit */
	b = store_batch_begin(st);
	put(b, 1, 40, NAN);
	put(b, 2, 40, -0.0);
	put(b, 4, 40, INFINITY);
	put(b, 7, 40, 9007199254740993.0);
	put(b, 8, 40, -123456789.0);
	commit(b);
	log_size(&recs, &samples);
	cr_assert_gt(recs, 0);
	struct store_snap *snap;
	cr_assert_eq(store_snap_begin(st, &snap), 0);
	struct store_matcher m;
	struct store_series *ss;
	size_t n;
	store_matcher_init(&m, STORE_MATCH_EQ, "__name__", "wal_kpi", NULL);
	cr_assert_eq(store_select(snap, &m, 1, INT64_MIN, INT64_MAX, false, &ss, &n), 0);
	for (size_t i = 0; i < n; i++) {
		int s = unit_of(&ss[i]);
		int64_t t;
		double v;
		if (s != 1 && s != 2)
			continue;
		cr_assert_eq(store_latest(snap, ss[i].id, &t, &v), 0);
		uint64_t got, want;
		double w = s == 1 ? NAN : -0.0;
		memcpy(&got, &v, 8);
		memcpy(&want, &w, 8);
		cr_assert_eq(got, want, "unit %d: bits %016llx", s, (unsigned long long)got);
	}
	free(ss);
	store_matcher_free(&m);
	store_snap_end(snap);
	model[1][40] = 0; /* NaN compares unequal: check the rest */
	have[1][40] = false;
	nmodel--;
	b = store_batch_begin(st);
	put(b, 1, 41, 1); /* newer than the NaN */
	commit(b);
	have[1][40] = true; /* present, value checked above */
	nmodel++;
	/* check_all compares values; take the NaN out of the comparison by
	 * replacing it (a replace of a logged sample: the log folds) */
	b = store_batch_begin(st);
	put(b, 1, 40, 40);
	commit(b);
	check_all(3);
}

Test(wal, survives_reopen_and_retention)
{
	size_t recs, samples;
	/* enough samples that folds seal segments (next_seq is used) */
	for (int t = 0; t < 285; t++) {
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < NSER; s++)
			put(b, s, t, s + t * 0.5);
		commit(b);
	}
	log_size(&recs, &samples);
	cr_assert_eq(recs, slice0_recs(284));
	store_close(st);
	st = open_store();
	check_all(1);
	/* the writer picks up the log it finds */
	for (int t = 285; t < 320; t++) {
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < NSER; s++)
			put(b, s, t, s - t);
		commit(b);
	}
	log_size(&recs, &samples);
	cr_assert_eq(recs, slice0_recs(319));
	cr_assert_eq(recs, WAL_SLICES, "retention has a full log to fold");
	check_all(2);
	/* retention folds the log and drops exactly what is older */
	retain_from(100);
	log_size(&recs, &samples);
	cr_assert_eq(recs, 0);
	check_all(3);
	for (int t = 320; t < 325; t++) {
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < NSER; s += 2)
			put(b, s, t, t);
		commit(b);
	}
	log_size(&recs, &samples);
	cr_assert_eq(recs, 5);
	cr_assert_eq(samples, 5 * NSER / 2);
	check_all(4);
	/* and everything but the newest */
	retain_from(324);
	check_all(5);
}

/* Random batches: appends for some series, late samples and replaces for
 * others, new series, all mixed; the model decides. */
Test(wal, random_batches_match_the_model)
{
	int next_t[NSER] = {0};
	srand(4711);
	for (int round = 0; round < 300; round++) {
		struct store_batch *b = store_batch_begin(st);
		int kind = rand() % 10;
		for (int s = 0; s < NSER; s++) {
			if (rand() % 3 == 0 || next_t[s] >= NT)
				continue;
			if (kind == 0 && next_t[s] > 0) {
				int t = rand() % next_t[s]; /* late or replace */
				put(b, s, t, rand() % 1000);
			} else {
				int n = 1 + (kind == 1 ? rand() % 4 : 0);
				for (int j = 0; j < n && next_t[s] < NT; j++) {
					put(b, s, next_t[s], rand() % 2 ? rand() % 100000 : rand() / 7.0);
					next_t[s] += 1 + rand() % 2;
				}
			}
		}
		commit(b);
		if (round % 25 == 24)
			check_all((unsigned)round);
		if (round == 150) {
			store_close(st);
			st = open_store();
		}
	}
	check_all(1);
}

/* Another process appends to the log of a store this one has open; this
 * writer must see those records before it writes (here a sample that goes
 * behind them, so the log must fold, and appends after them). */
Test(wal, another_process_writing_is_seen)
{
	for (int t = 0; t < 3; t++) {
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < NSER; s++)
			put(b, s, t, t);
		commit(b);
	}
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct store_opts o = {.path = dir, .no_sync = true};
		struct store *s2 = NULL;
		store__test_no_writer_lock = true; /* past the lock, as in test_store.c */
		if (store_open(&o, &s2, NULL) != 0)
			_exit(2);
		for (int t = 3; t < 8; t++) {
			struct store_batch *b = store_batch_begin(s2);
			for (int s = 0; s < NSER; s++) {
				char sv[16];
				snprintf(sv, sizeof sv, "%d", s);
				struct pw_label ls[2] = {{"__name__", "wal_kpi"}, {"unit", sv}};
				store_batch_put(b, ls, 2, T(t), 100 + t);
			}
			if (store_batch_commit(b, NULL) != 0)
				_exit(3);
		}
		store_close(s2);
		_exit(0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int t = 3; t < 8; t++)
		for (int s = 0; s < NSER; s++) {
			have[s][t] = true;
			model[s][t] = 100 + t;
			nmodel++;
		}
	struct store_batch *b = store_batch_begin(st);
	put(b, 0, 6, -6);  /* behind the other process's samples */
	put(b, 1, 9, 9);   /* after them */
	commit(b);
	check_all(1);
}

/* bytes of keys and values in table dbi, its leaf and overflow pages, and
 * its entries (per series for the heads and open tables: slot_count) */
static void table_fill(MDB_dbi dbi, size_t *bytes, size_t *pages, size_t *entries)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	MDB_stat ms;
	*bytes = 0;
	cr_assert_eq(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
	while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0)
		*bytes += k.mv_size + v.mv_size + 8 + 2; /* node header and pointer */
	mdb_cursor_close(c);
	cr_assert_eq(mdb_stat(txn, dbi, &ms), 0);
	*pages = ms.ms_leaf_pages + ms.ms_overflow_pages;
	*entries = ms.ms_entries;
	if (dbi == st->dbi_heads || dbi == st->dbi_open) {
		uint64_t n;
		cr_assert_eq(slot_count(st, txn, dbi == st->dbi_heads ? SLOT_HEADS : SLOT_OPEN, &n), 0);
		*entries = n;
	}
	mdb_txn_abort(txn);
}

/* Heads and open segments are packed by runs of ids, one value per run
 * rewritten whole, so their pages stay full however often the folds
 * rewrite them (an entry per series, growing in place, drifted to two
 * thirds full and less). */
Test(wal, heads_and_open_segments_are_packed_by_runs)
{
	enum { SER = 3000 };
	char sv[16];
	/* long enough for every head to flush (at 120 to 239 samples) */
	for (int t = 0; t < 300; t++) {
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < SER; s++) {
			snprintf(sv, sizeof sv, "%d", s);
			struct pw_label ls[2] = {{"__name__", "packed"}, {"unit", sv}};
			cr_assert_eq(store_batch_put(b, ls, 2, T(t), (double)(s * 7 + t * (s % 5))), 0);
		}
		commit(b);
	}
	size_t per[WAL_SLICES], live = 0;
	slice_recs(per, NULL);
	for (unsigned i = 0; i < WAL_SLICES; i++) {
		cr_assert_leq(per[i], WAL_SLICES);
		live += per[i];
	}
	{
		/* every entry of the log holds an unfolded portion: an entry
		 * goes when its group's slices are folded past it */
		MDB_txn *txn;
		MDB_cursor *c;
		MDB_val k, v;
		uint64_t folded[WAL_SLICES];
		size_t entries = 0;
		cr_assert_eq(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn), 0);
		cr_assert_eq(wal_folded_get(st, txn, folded), 0);
		cr_assert_eq(mdb_cursor_open(txn, st->dbi_wal, &c), 0);
		while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
			cr_assert_eq(k.mv_size, WAL_KEY_BYTES);
			uint64_t seq = key_get_u64(k.mv_data);
			unsigned g = ((uint8_t *)k.mv_data)[8], unfolded = 0;
			const uint8_t *h = v.mv_data;
			for (unsigned j = 0; j < WAL_GROUP; j++)
				if (seq > folded[g * WAL_GROUP + j] && (h[4 * j] | h[4 * j + 1] |
									 h[4 * j + 2] | h[4 * j + 3]))
					unfolded++;
			cr_assert_gt(unfolded, 0, "entry %llu/%u is folded",
				     (unsigned long long)seq, g);
			entries++;
		}
		mdb_cursor_close(c);
		mdb_txn_abort(txn);
		cr_assert_gt(live, WAL_SLICES);
		cr_assert_leq(entries, live);
	}
	MDB_dbi dbis[2] = {st->dbi_heads, st->dbi_open};
	const char *names[2] = {"heads", "open"};
	for (int i = 0; i < 2; i++) {
		size_t bytes, pages, entries;
		table_fill(dbis[i], &bytes, &pages, &entries);
		/* every series has a head; an open segment, unless its last
		 * one was just sealed full */
		if (i == 0)
			cr_assert_eq(entries, SER, "%s: %zu entries", names[i], entries);
		else
			cr_assert_geq(entries, SER * 9 / 10, "%s: %zu entries", names[i], entries);
		/* heads: full; format 4's open blocks are in runs of 64 ids,
		 * here a few KB each, a page or two (on the benchmark's data
		 * ~80 KB each, ~95 % full) */
		cr_assert_geq(bytes, pages * 4096 * (i == 0 ? 7 : 3) / 8,
			      "%s: %zu bytes in %zu pages", names[i], bytes, pages);
	}
	struct store_stats ss;
	cr_assert_eq(store_stats(st, &ss), 0);
	cr_assert_geq(ss.chunks, 2 * SER);
}

/* Rewrite every segment as format 3 kept them (format 4 writes blocks):
 * Gorilla chunks of at most SEG_MAX_SAMPLES samples and SEG_CAP_BYTES,
 * sealed ones in segs (keys from 0), each series' last in openruns while
 * it has room; meta segs_blk_from goes. */
static void to_gorilla(MDB_txn *txn)
{
	struct blk_codec bc;
	struct ser { uint64_t id; int64_t *ts; double *vs; size_t n; } *sers = NULL;
	size_t nsers = 0;
	MDB_cursor *c;
	MDB_val k, v;

	blk_codec_init(&bc);
	cr_assert_eq(mdb_cursor_open(txn, st->dbi_series, &c), 0);
	while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
		sers = xreallocarray(sers, nsers + 1, sizeof *sers);
		struct ser *e = &sers[nsers++];
		memset(e, 0, sizeof *e);
		e->id = key_get_u64(k.mv_data);
	}
	mdb_cursor_close(c);
	for (size_t i = 0; i < nsers; i++) {
		struct ser *e = &sers[i];
		uint8_t kb[16];
		MDB_val ck = {16, kb}, cv, sv, ov;
		size_t got;
		e->ts = xreallocarray(NULL, 100000, sizeof *e->ts);
		e->vs = xreallocarray(NULL, 100000, sizeof *e->vs);
		key_put_u64(kb, e->id);
		key_put_ts(kb + 8, INT64_MIN);
		cr_assert_eq(mdb_cursor_open(txn, st->dbi_chunks, &c), 0);
		int rc = mdb_cursor_get(c, &ck, &cv, MDB_SET_RANGE);
		for (; rc == 0 && key_get_u64(ck.mv_data) == e->id;
		     rc = mdb_cursor_get(c, &ck, &cv, MDB_NEXT)) {
			MDB_val sk = {8, cv.mv_data};
			cr_assert_eq(cv.mv_size, 8);
			cr_assert(seg_is_blk(st, cv.mv_data));
			cr_assert_eq(mdb_get(txn, st->dbi_segs, &sk, &sv), 0);
			cr_assert_eq(blk_decode(&bc, sv.mv_data, sv.mv_size, &got), 0);
			memcpy(e->ts + e->n, bc.ts, got * sizeof *e->ts);
			memcpy(e->vs + e->n, bc.vs, got * sizeof *e->vs);
			e->n += got;
		}
		mdb_cursor_close(c);
		if (slot_get(st, txn, SLOT_OPEN, e->id, &ov) == 0) {
			cr_assert_eq(blk_decode(&bc, (uint8_t *)ov.mv_data + OPEN_BLK_HDR,
					       ov.mv_size - OPEN_BLK_HDR, &got), 0);
			memcpy(e->ts + e->n, bc.ts, got * sizeof *e->ts);
			memcpy(e->vs + e->n, bc.vs, got * sizeof *e->vs);
			e->n += got;
			cr_assert_eq(slot_del(st, txn, SLOT_OPEN, e->id), 0);
		}
	}
	cr_assert_eq(mdb_drop(txn, st->dbi_segs, 0), 0);
	cr_assert_eq(mdb_drop(txn, st->dbi_chunks, 0), 0);
	cr_assert_eq(slots_flush(st, txn), 0);
	st->segs_blk_from = UINT64_MAX; /* format 3: runs of SLOT_RUN ids, Gorilla chunks */
	st->open_blk = false;
	uint64_t seq = 0;
	for (size_t i = 0; i < nsers; i++) {
		struct ser *e = &sers[i];
		for (size_t done = 0; done < e->n;) {
			uint8_t buf[CHUNK_BUF_BYTES], kb[16], sb[8];
			struct chunk_app a;
			/* 239 a segment: the last piece of a series with a
			 * multiple of 240 samples stays open, as most do */
			size_t n = chunk_encode(e->ts + done, e->vs + done, e->n - done, buf,
						SEG_CAP_BYTES, SEG_MAX_SAMPLES - 1, &a);
			if (done + n == e->n && chunk_app_room(&a, SEG_CAP_BYTES, SEG_MAX_SAMPLES)) {
				cr_assert_eq(slot_put(st, txn, SLOT_OPEN, e->id, NULL, 0, buf,
						      chunk_app_bytes(&a)), 0);
			} else {
				key_put_u64(sb, seq++);
				key_put_u64(kb, e->id);
				key_put_ts(kb + 8, e->ts[done]);
				MDB_val sk = {8, sb}, sv = {chunk_app_bytes(&a), buf}, ck = {16, kb},
					cv = {8, sb};
				cr_assert_eq(mdb_put(txn, st->dbi_segs, &sk, &sv, MDB_APPEND), 0);
				cr_assert_eq(mdb_put(txn, st->dbi_chunks, &ck, &cv, 0), 0);
			}
			done += n;
		}
		free(e->ts);
		free(e->vs);
	}
	free(sers);
	blk_codec_free(&bc);
	cr_assert_eq(slots_flush(st, txn), 0);
	cr_assert_eq(store__meta_put_u64(txn, st, "next_seq", seq), 0);
	cr_assert_eq(store__meta_put_u64(txn, st, "segs_plain_from", 0), 0);
	MDB_val bk = {13, (void *)"segs_blk_from"};
	cr_assert_eq(mdb_del(txn, st->dbi_meta, &bk, NULL), 0);
}

/* Rewrite the store in the layout of format 1 or 2, from a store whose log
 * is folded. Both kept an entry per series in tables "heads" (appender
 * state + chunk, as the runs still hold) and, format 2, "open" (state +
 * chunk); format 1 kept the open segment inline in the chunks index (state
 * + chunk), sealed segments with their appender state, and had no wal or
 * open table. */
static void make_legacy(int format)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	MDB_dbi heads, open = 0;
	size_t nheads = 0, nopen = 0;

	cr_assert_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	int frc = store__wal_fold(st, txn);
	cr_assert_eq(frc, 0, "fold: %s", mdb_strerror(frc));
	cr_assert_eq(slots_flush(st, txn), 0);
	to_gorilla(txn);
	if (format == 3) {
		uint8_t fb[8];
		key_put_u64(fb, 3);
		MDB_val fk = {6, (void *)"format"}, fv = {8, fb};
		cr_assert_eq(mdb_put(txn, st->dbi_meta, &fk, &fv, 0), 0);
		cr_assert_eq(mdb_txn_commit(txn), 0);
		return;
	}
	cr_assert_eq(mdb_dbi_open(txn, "heads", MDB_CREATE, &heads), 0);
	{
		/* and the index from label hashes to ids */
		MDB_dbi sindex;
		uint8_t hk[8], ik[8];
		cr_assert_eq(mdb_dbi_open(txn, "sindex", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
					  &sindex), 0);
		cr_assert_eq(mdb_cursor_open(txn, st->dbi_series, &c), 0);
		while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
			key_put_u64(hk, pw_hash64(v.mv_data, v.mv_size));
			memcpy(ik, k.mv_data, 8);
			MDB_val sk = {8, hk}, sv = {8, ik};
			cr_assert_eq(mdb_put(txn, sindex, &sk, &sv, 0), 0);
		}
		mdb_cursor_close(c);
	}
	if (format == 2)
		cr_assert_eq(mdb_dbi_open(txn, "open", MDB_CREATE, &open), 0);
	struct slot_reader hr, orr;
	slot_reader_init(&hr, st, txn, SLOT_HEADS);
	slot_reader_init(&orr, st, txn, SLOT_OPEN);
	cr_assert_eq(mdb_cursor_open(txn, st->dbi_series, &c), 0);
	while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
		uint64_t id = key_get_u64(k.mv_data);
		uint8_t key[16], val[HEAD_STATE_BYTES + CHUNK_BUF_BYTES];
		MDB_val e;
		memcpy(key, k.mv_data, 8);
		if (slot_read(&hr, id, &e) == 0) {
			/* the fixed 30-byte appender state */
			struct head h;
			cr_assert_eq(head_parse(e.mv_data, e.mv_size, false, &h), 0);
			chunk_app_save(&h.a, val);
			memcpy(val + HEAD_STATE_BYTES, h.chunk, h.clen);
			MDB_val hk = {8, key}, hv = {HEAD_STATE_BYTES + h.clen, val};
			cr_assert_eq(mdb_put(txn, heads, &hk, &hv, 0), 0);
			nheads++;
		}
		if (slot_read(&orr, id, &e) == 0) {
			struct chunk_app a;
			memset(val, 0, sizeof val);
			memcpy(val + HEAD_STATE_BYTES, e.mv_data, e.mv_size);
			cr_assert_eq(chunk_app_resume(&a, val + HEAD_STATE_BYTES, e.mv_size), 0);
			chunk_app_save(&a, val);
			MDB_val ov = {HEAD_STATE_BYTES + e.mv_size, val};
			key_put_ts(key + 8, chunk_first_ts(e.mv_data));
			MDB_val ok = {format == 2 ? 8 : 16, key};
			cr_assert_eq(mdb_put(txn, format == 2 ? open : st->dbi_chunks, &ok, &ov, 0), 0);
			nopen++;
		}
	}
	mdb_cursor_close(c);
	cr_assert_gt(nheads, 0);
	cr_assert_gt(nopen, 0);
	cr_assert_eq(mdb_drop(txn, st->dbi_heads, 1), 0);
	cr_assert_eq(mdb_drop(txn, st->dbi_open, 1), 0);
	{
		/* labels stored in full, no symbols table */
		struct pw_buf enc;
		pw_buf_init(&enc, 0);
		cr_assert_eq(mdb_cursor_open(txn, st->dbi_series, &c), 0);
		while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
			enc.len = 0;
			cr_assert_eq(series_decode(st, txn, &v, &enc), 0);
			uint8_t kb[8]; /* the key may move with its page */
			memcpy(kb, k.mv_data, 8);
			MDB_val ek = {8, kb}, ev = {enc.len, enc.data};
			cr_assert_eq(mdb_cursor_put(c, &ek, &ev, MDB_CURRENT), 0);
		}
		mdb_cursor_close(c);
		pw_buf_free(&enc);
		cr_assert_eq(mdb_drop(txn, st->dbi_symbols, 1), 0);
		MDB_val nk = {8, (void *)"next_sym"};
		cr_assert_eq(mdb_del(txn, st->dbi_meta, &nk, NULL), 0);
		/* postings with 8-byte ids */
		struct {
			uint8_t key[POSTING_KEY_MAX + 16];
			size_t klen;
			uint64_t id;
		} *ps = NULL;
		size_t np = 0;
		cr_assert_eq(mdb_cursor_open(txn, st->dbi_postings, &c), 0);
		while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
			cr_assert_eq(v.mv_size, 4);
			ps = xreallocarray(ps, np + 1, sizeof *ps);
			memcpy(ps[np].key, k.mv_data, k.mv_size);
			ps[np].klen = k.mv_size;
			ps[np++].id = posting_id(v.mv_data, 4);
		}
		mdb_cursor_close(c);
		cr_assert_eq(np, 2 * NSER); /* __name__ and unit */
		cr_assert_eq(mdb_drop(txn, st->dbi_postings, 0), 0);
		for (size_t i = 0; i < np; i++) {
			uint8_t id8[8];
			key_put_u64(id8, ps[i].id);
			MDB_val pk = {ps[i].klen, ps[i].key}, pv = {8, id8};
			cr_assert_eq(mdb_put(txn, st->dbi_postings, &pk, &pv, 0), 0);
		}
		free(ps);
	}
	if (format == 1) {
		/* format 1's sealed segments carried the appender state */
		size_t stateful = 0;
		struct {
			uint8_t key[8];
			MDB_val v;
		} *segs = NULL;
		cr_assert_eq(mdb_cursor_open(txn, st->dbi_segs, &c), 0);
		while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
			segs = xreallocarray(segs, stateful + 1, sizeof *segs);
			memcpy(segs[stateful].key, k.mv_data, 8);
			segs[stateful].v.mv_size = HEAD_STATE_BYTES + v.mv_size;
			segs[stateful].v.mv_data = xmalloc(HEAD_STATE_BYTES + v.mv_size);
			memset(segs[stateful].v.mv_data, 0xa5, HEAD_STATE_BYTES);
			memcpy((uint8_t *)segs[stateful].v.mv_data + HEAD_STATE_BYTES, v.mv_data,
			       v.mv_size);
			stateful++;
		}
		mdb_cursor_close(c);
		cr_assert_gt(stateful, 0);
		for (size_t i = 0; i < stateful; i++) {
			MDB_val sk = {8, segs[i].key};
			cr_assert_eq(mdb_put(txn, st->dbi_segs, &sk, &segs[i].v, 0), 0);
			free(segs[i].v.mv_data);
		}
		free(segs);
		MDB_val pk = {15, (void *)"segs_plain_from"};
		cr_assert_eq(mdb_del(txn, st->dbi_meta, &pk, NULL), 0);
		cr_assert_eq(mdb_drop(txn, st->dbi_wal, 1), 0);
	}
	uint8_t fb[8];
	key_put_u64(fb, (uint64_t)format);
	MDB_val fk = {6, (void *)"format"}, fv = {8, fb};
	cr_assert_eq(mdb_put(txn, st->dbi_meta, &fk, &fv, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* Append to the log a record as store format 2 wrote it (values on their
 * own: zigzag(v) << 1 for integers, else 1 and the 8 bytes; id delta and
 * count as two varints), with samples at T(t0) .. T(t0 + nt - 1) of every
 * series, half of them not integers; the model follows. */
static void v1_varint(uint8_t **p, uint64_t v)
{
	while (v >= 0x80) {
		*(*p)++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*(*p)++ = (uint8_t)v;
}

/* the id of every unit's series */
static void unit_ids(uint64_t ids[NSER])
{
	struct store_snap *snap;
	struct store_matcher m;
	struct store_series *ss;
	size_t n;

	cr_assert_eq(store_snap_begin(st, &snap), 0);
	store_matcher_init(&m, STORE_MATCH_EQ, "__name__", "wal_kpi", NULL);
	cr_assert_eq(store_select(snap, &m, 1, INT64_MIN, INT64_MAX, false, &ss, &n), 0);
	cr_assert_eq(n, NSER);
	for (size_t i = 0; i < n; i++) {
		ids[unit_of(&ss[i])] = ss[i].id;
		cr_assert_lt(ss[i].id, 256, "all in slice 0");
	}
	free(ss);
	store_matcher_free(&m);
	store_snap_end(snap);
}

static void append_v1_record(const uint64_t ids[NSER], int t0, int nt)
{
	static uint8_t rec[WAL_REC_HEADER + 5 + NSER * 8 * (20 + 10)];
	uint64_t seq, gen, samples;

	memset(rec, 0, sizeof rec);
	uint8_t *p = rec + WAL_REC_HEADER + 5; /* nseries: fixed 5-byte varint */
	uint64_t last_id = 0;
	int64_t last_ts = 0;
	for (uint64_t id = 1; id < 256; id++) { /* ascending ids */
		int s = -1;
		for (int j = 0; j < NSER; j++)
			if (ids[j] == id)
				s = j;
		if (s < 0)
			continue;
		v1_varint(&p, id - last_id);
		v1_varint(&p, (uint64_t)nt);
		last_id = id;
		for (int t = t0; t < t0 + nt; t++) {
			int64_t d = T(t) - last_ts;
			double v = s % 2 ? s * 5 - t + 0.25 : (double)(s * 5 - t);
			last_ts = T(t);
			v1_varint(&p, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
			if (s % 2) {
				uint64_t bits;
				memcpy(&bits, &v, 8);
				v1_varint(&p, 1);
				for (int b = 0; b < 8; b++)
					*p++ = (uint8_t)(bits >> (8 * b));
			} else {
				int64_t iv = (int64_t)v;
				v1_varint(&p, (((uint64_t)iv << 1) ^ (uint64_t)(iv >> 63)) << 1);
			}
			if (!have[s][t])
				nmodel++;
			have[s][t] = true;
			model[s][t] = v;
		}
	}
	uint8_t *h = rec + WAL_REC_HEADER;
	uint64_t cnt = NSER;
	for (int i = 0; i < 4; i++, cnt >>= 7)
		h[i] = (uint8_t)(cnt | 0x80);
	h[4] = (uint8_t)cnt;
	uint32_t plen = (uint32_t)(p - h); /* slice 0's portion, the others empty */
	rec[0] = (uint8_t)plen;
	rec[1] = (uint8_t)(plen >> 8);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(st->env, NULL, 0, &txn), 0);
	cr_assert_eq(store__meta_get_u64(txn, st, "wal_seq", &seq), 0);
	cr_assert_eq(store__meta_get_u64(txn, st, "wal_gen", &gen), 0);
	cr_assert_eq(store__meta_get_u64(txn, st, "samples", &samples), 0);
	uint8_t kb[8];
	key_put_u64(kb, seq + 1);
	MDB_val k = {8, kb}, v = {(size_t)(p - rec), rec};
	cr_assert_eq(mdb_put(txn, st->dbi_wal, &k, &v, MDB_APPEND), 0);
	cr_assert_eq(store__meta_put_u64(txn, st, "wal_seq", seq + 1), 0);
	cr_assert_eq(store__meta_put_u64(txn, st, "wal_gen", gen + 1), 0);
	cr_assert_eq(store__meta_put_u64(txn, st, "samples", samples + (uint64_t)(NSER * nt)), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* A store of an older format reads as it is when opened read-only; opened
 * for writing it is upgraded, reads the same, takes new samples, late ones
 * and retention, and reopens. */
static void legacy_formats_read_and_upgrade(int format)
{
	for (int t = 0; t < 300; t++) {
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < NSER; s++)
			put(b, s, t, (double)(s * 3 + t));
		commit(b);
	}
	uint64_t ids[NSER];
	unit_ids(ids);
	make_legacy(format);
	if (format == 2)
		append_v1_record(ids, 300, 3); /* a log of format 2's records */
	store_close(st);
	struct store_opts ro = {.path = dir, .read_only = true};
	char *cause = NULL;
	cr_assert_eq(store_open(&ro, &st, &cause), 0, "%s", cause ? cause : "?");
	cr_assert(format == 3 ? !st->slots_legacy : st->slots_legacy);
	cr_assert(!st->open_blk && st->segs_blk_from == UINT64_MAX, "read as it is");
	if (format == 1)
		cr_assert_eq(st->dbi_open, 0);
	check_all(1);
	struct store_stats ss;
	cr_assert_eq(store_stats(st, &ss), 0);
	cr_assert_geq(ss.chunks, NSER);
	store_close(st);
	st = open_store();
	cr_assert(!st->slots_legacy && !st->wal_v1);
	cr_assert(st->open_blk && st->segs_blk_from > 0, "upgraded to blocks");
	check_all(2);
	{
		size_t per[WAL_SLICES], samples;
		slice_recs(per, &samples);
		cr_assert_eq(samples, 0, "the upgrade folded the log");
	}
	{
		size_t bytes, pages, entries;
		table_fill(st->dbi_open, &bytes, &pages, &entries);
		cr_assert_gt(entries, 0, "the upgrade moved the open segments");
		table_fill(st->dbi_heads, &bytes, &pages, &entries);
		cr_assert_eq(entries, NSER, "the upgrade moved the heads");
		MDB_txn *txn;
		MDB_dbi old;
		cr_assert_eq(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn), 0);
		cr_assert_eq(mdb_dbi_open(txn, "heads", 0, &old), MDB_NOTFOUND);
		cr_assert_eq(mdb_dbi_open(txn, "open", 0, &old), MDB_NOTFOUND);
		cr_assert_eq(mdb_dbi_open(txn, "sindex", 0, &old), MDB_NOTFOUND);
		MDB_stat ms;
		cr_assert_eq(mdb_stat(txn, st->dbi_symbols, &ms), 0);
		cr_assert_geq(ms.ms_entries, NSER + 2, "the upgrade stored the labels' strings");
		mdb_txn_abort(txn);
	}
	for (int t = 300; t < 340; t++) {
		struct store_batch *b = store_batch_begin(st);
		for (int s = 0; s < NSER; s++)
			put(b, s, t, (double)(s - t));
		commit(b);
	}
	struct store_batch *b = store_batch_begin(st);
	put(b, 9, 5, -5); /* into the oldest segment */
	commit(b);
	check_all(3);
	/* retention trims old segments in their own form */
	retain_from(130);
	check_all(4);
	store_close(st);
	st = open_store();
	check_all(5);
}

Test(wal, format_1_stores_read_and_upgrade) { legacy_formats_read_and_upgrade(1); }
Test(wal, format_2_stores_read_and_upgrade) { legacy_formats_read_and_upgrade(2); }
Test(wal, format_3_stores_read_and_upgrade) { legacy_formats_read_and_upgrade(3); }
