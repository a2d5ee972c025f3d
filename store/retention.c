/*
 * retention.c — drop samples older than a cutoff (daemon/'s schedule and
 * CLI): the log is folded first, whole segments below the cutoff go, one
 * straddling it is re-encoded, series left empty leave the index. A write
 * transaction per slice of series, so writers are not blocked for long.
 */
#include "store_int.h"

#include <stdlib.h>

#define SLICE 512

/* Rewrite the samples >= cutoff of chunk bytes p into buf; returns the
 * number kept, the appender state in *a and the first kept ts in *mint. */
static int trim_chunk(const uint8_t *p, size_t len, int64_t cutoff, uint8_t *buf,
		      struct chunk_app *a, int64_t *mint, uint64_t *dropped)
{
	struct chunk_dec d;
	int64_t t;
	double v;
	int rc, kept = 0;

	if (chunk_dec_init(&d, p, len) < 0)
		return PW_ESTORE;
	chunk_app_init(a);
	memset(buf, 0, CHUNK_BUF_BYTES);
	while ((rc = chunk_dec_next(&d, &t, &v)) == 1) {
		if (t < cutoff) {
			(*dropped)++;
			continue;
		}
		if (kept++ == 0)
			*mint = t;
		chunk_app_add(a, buf, t, v);
	}
	return rc < 0 ? PW_ESTORE : kept;
}

/* Keep the samples >= cutoff of block p (len bytes): encoded anew into
 * *out (a buffer of the writer's codec, BLK_RAW_MAX + 1 bytes), *olen
 * bytes, first kept ts *mint; returns the number kept or PW_ESTORE. */
static int trim_blk(struct store *s, const uint8_t *p, size_t len, int64_t cutoff, uint8_t *out,
		    size_t *olen, int64_t *mint, uint64_t *dropped)
{
	struct blk_codec *c = &s->blkw;
	size_t n, i;

	if (blk_decode(c, p, len, &n) != 0)
		return PW_ESTORE;
	for (i = 0; i < n && c->ts[i] < cutoff; i++)
		;
	*dropped += i;
	if (i == n)
		return 0;
	*mint = c->ts[i];
	*olen = blk_encode(c, c->ts + i, c->vs + i, n - i, out, BLK_RAW_MAX + 1);
	return *olen ? (int)(n - i) : PW_ESTORE;
}

/* The sealed segments of series id older than cutoff, oldest first: gone,
 * or (the one the cutoff falls in) rewritten without its old samples, in
 * which case *done: everything after it is newer. */
static int trim_sealed(struct store *s, MDB_txn *txn, MDB_cursor *cc, uint64_t id, int64_t cutoff,
		       uint64_t *dropped, bool *done)
{
	uint8_t kb[16], buf[CHUNK_BUF_BYTES];
	MDB_val k = {16, kb}, v;
	struct chunk_app a;
	int64_t mint;
	size_t blen = 0;
	int rc;

	*done = false;
	/* sealed chunks, oldest first */
	for (;;) {
		int64_t cmint, next_mint = INT64_MAX;
		MDB_val nk, nv;
		int kept;

		key_put_u64(kb, id);
		key_put_ts(kb + 8, INT64_MIN);
		k.mv_data = kb;
		k.mv_size = 16;
		rc = mdb_cursor_get(cc, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND || (rc == 0 && key_get_u64(k.mv_data) != id))
			break;
		if (rc != 0)
			return rc;
		cmint = key_get_ts((uint8_t *)k.mv_data + 8);
		if (cmint >= cutoff)
			break;
		bool ptr = v.mv_size == 8;
		uint8_t seq[8];
		if (ptr)
			memcpy(seq, v.mv_data, 8);
		bool blk = ptr && seg_is_blk(s, seq);
		uint8_t *bout = NULL;
		{
			/* copy before we modify the tree */
			MDB_val data;
			uint8_t *copy;
			size_t vlen;
			if ((rc = seg_resolve(txn, s, &v, &data)) != 0)
				return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
			vlen = data.mv_size;
			copy = xmalloc(vlen);
			memcpy(copy, data.mv_data, vlen);
			if (mdb_cursor_get(cc, &nk, &nv, MDB_NEXT) == 0 &&
			    key_get_u64(nk.mv_data) == id)
				next_mint = key_get_ts((uint8_t *)nk.mv_data + 8);
			if (blk) {
				bout = xmalloc(BLK_RAW_MAX + 1);
				kept = trim_blk(s, copy, vlen, cutoff, bout, &blen, &mint, dropped);
			} else if (vlen < 2 || vlen > CHUNK_BUF_BYTES) {
				kept = -1;
			} else if (next_mint <= cutoff) { /* wholly old */
				struct chunk_dec d;
				int cnt = chunk_dec_init(&d, copy, vlen);
				*dropped += cnt > 0 ? (uint64_t)cnt : 0;
				kept = 0;
			} else {
				kept = trim_chunk(copy, vlen, cutoff, buf, &a, &mint, dropped);
			}
			free(copy);
		}
		if (kept < 0) {
			free(bout);
			return MDB_CORRUPTED;
		}
		key_put_ts(kb + 8, cmint);
		k.mv_data = kb;
		k.mv_size = 16;
		if ((rc = mdb_del(txn, s->dbi_chunks, &k, NULL)) != 0) {
			free(bout);
			return rc;
		}
		if (kept > 0 && blk) { /* a block stays one under its key */
			*done = true;
			key_put_ts(kb + 8, mint);
			MDB_val sk = {8, seq}, pv = {blen, bout};
			rc = mdb_put(txn, s->dbi_segs, &sk, &pv, 0);
			free(bout);
			if (rc != 0)
				return rc;
			v.mv_size = 8;
			v.mv_data = seq;
			return mdb_put(txn, s->dbi_chunks, &k, &v, 0);
		}
		free(bout);
		if (kept > 0) {
			/* a sealed segment is rewritten under its own log key, in
			 * the form that key has (see seg_resolve); the rest is
			 * newer */
			*done = true;
			key_put_ts(kb + 8, mint);
			if (!ptr || key_get_u64(seq) < s->segs_plain_from)
				return legacy_seg_put(s, txn, &k, ptr ? seq : NULL, &a, buf);
			MDB_val sk = {8, seq}, pv = {chunk_app_bytes(&a), buf};
			if ((rc = mdb_put(txn, s->dbi_segs, &sk, &pv, 0)) != 0)
				return rc;
			v.mv_size = 8;
			v.mv_data = seq;
			return mdb_put(txn, s->dbi_chunks, &k, &v, 0);
		}
		if (ptr) {
			MDB_val sk = {8, seq};
			if ((rc = mdb_del(txn, s->dbi_segs, &sk, NULL)) != 0)
				return rc;
		}
	}
	return 0;
}

/* The open segment, newer than every sealed one: trimmed or gone; *done
 * when it keeps samples (the head is newer still). */
static int trim_open(struct store *s, MDB_txn *txn, uint64_t id, int64_t cutoff,
		     uint64_t *dropped, bool *done)
{
	MDB_val v;
	int64_t mint;
	int rc;

	*done = false;
	rc = slot_get(s, txn, SLOT_OPEN, id, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (rc == 0) {
		int kept;
		size_t blen;
		uint8_t hdr[OPEN_BLK_HDR], *bout;
		if (v.mv_size < OPEN_BLK_HDR + 2 || v.mv_size > OPEN_BLK_MAX)
			return MDB_CORRUPTED;
		*done = true;
		if (key_get_ts(v.mv_data) >= cutoff)
			return 0; /* it and the head are newer */
		bout = xmalloc(BLK_RAW_MAX + 1);
		kept = trim_blk(s, (uint8_t *)v.mv_data + OPEN_BLK_HDR, v.mv_size - OPEN_BLK_HDR,
				cutoff, bout, &blen, &mint, dropped);
		if (kept > 0 && blen + OPEN_BLK_HDR > OPEN_BLK_MAX)
			kept = -1; /* fewer samples than a block held: never expected */
		if (kept < 0) {
			free(bout);
			return MDB_CORRUPTED;
		}
		if (kept > 0) { /* the head is newer */
			key_put_ts(hdr, mint);
			rc = slot_put(s, txn, SLOT_OPEN, id, hdr, sizeof hdr, bout, blen);
			free(bout);
			return rc;
		}
		free(bout);
		*done = false;
		if ((rc = slot_del(s, txn, SLOT_OPEN, id)) != 0)
			return rc;
	}
	return 0;
}

/* The head, the newest samples: trimmed, or gone with the whole series
 * (*removed). */
static int trim_head(struct store *s, MDB_txn *txn, uint64_t id, int64_t cutoff,
		     uint64_t *dropped, bool *removed)
{
	uint8_t buf[CHUNK_BUF_BYTES];
	MDB_val v;
	struct chunk_app a;
	struct head h;
	int64_t mint;
	int rc;

	rc = slot_get(s, txn, SLOT_HEADS, id, &v);
	if (rc == MDB_NOTFOUND)
		goto remove;
	if (rc != 0)
		return rc;
	if (head_parse(v.mv_data, v.mv_size, false, &h) != 0)
		return MDB_CORRUPTED;
	if (h.a.t < cutoff) {
		*dropped += h.a.count;
		if ((rc = slot_del(s, txn, SLOT_HEADS, id)) != 0)
			return rc;
		/* no sealed chunk can remain: they are all older than the head */
		goto remove;
	}
	{
		int kept;
		uint64_t before = *dropped;
		/* v stays valid: nothing changes the entry before the put */
		kept = trim_chunk(h.chunk, h.clen, cutoff, buf, &a, &mint, dropped);
		if (kept < 0)
			return MDB_CORRUPTED;
		if (*dropped != before) {
			uint8_t st[HEAD_STATE_MAX];
			size_t sl = head_state_put(&a, buf, st);
			if ((rc = slot_put(s, txn, SLOT_HEADS, id, st, sl, buf, chunk_app_bytes(&a))) != 0)
				return rc;
		}
	}
	return 0;
remove:
	*removed = true;
	return series_delete(s, txn, id);
}

/* Drop series id's samples older than cutoff; *removed when none is left
 * and the series went. */
static int retain_series(struct store *s, MDB_txn *txn, MDB_cursor *cc, uint64_t id,
			 int64_t cutoff, uint64_t *dropped, bool *removed)
{
	bool done;
	int rc;
	*removed = false;
	if ((rc = trim_sealed(s, txn, cc, id, cutoff, dropped, &done)) != 0 || done)
		return rc;
	if ((rc = trim_open(s, txn, id, cutoff, dropped, &done)) != 0 || done)
		return rc;
	return trim_head(s, txn, id, cutoff, dropped, removed);
}

int store_retention(struct store *s, int64_t cutoff, uint64_t *dropped_out, char **cause)
{
	uint64_t next = 1, total = 0;
	int rc = 0;

	if (cause)
		*cause = NULL;
	for (;;) {
		MDB_txn *txn = NULL;
		MDB_cursor *sc = NULL, *cc = NULL;
		uint8_t kb[8];
		MDB_val k = {8, kb}, v;
		uint64_t dropped = 0, samples, gen = 0, slice_start = next;
		bool any_removed = false, done = false;
		int n = 0;

		pthread_mutex_lock(&s->wlock);
		pthread_rwlock_rdlock(&s->resize);
		slots_begin(&s->slots);
		if ((rc = store__txn_begin(s, 0, &txn)) != 0)
			goto slice_out;
		/* the log's samples go into the heads first: retention works on
		 * heads and segments only */
		if ((rc = store__wal_fold(s, txn)) != 0)
			goto slice_out;
		if ((rc = mdb_cursor_open(txn, s->dbi_series, &sc)) != 0 ||
		    (rc = mdb_cursor_open(txn, s->dbi_chunks, &cc)) != 0)
			goto slice_out;
		key_put_u64(kb, next);
		rc = mdb_cursor_get(sc, &k, &v, MDB_SET_RANGE);
		while (rc == 0 && n < SLICE) {
			uint64_t id = key_get_u64(k.mv_data);
			bool removed;
			if ((rc = retain_series(s, txn, cc, id, cutoff, &dropped, &removed)) != 0)
				goto slice_out;
			any_removed |= removed;
			next = id + 1;
			n++;
			key_put_u64(kb, next);
			k.mv_data = kb;
			k.mv_size = 8;
			rc = mdb_cursor_get(sc, &k, &v, MDB_SET_RANGE);
		}
		if (rc == MDB_NOTFOUND) {
			done = true;
			rc = 0;
		}
		if (rc != 0)
			goto slice_out;
		if ((rc = store__meta_get_u64(txn, s, "samples", &samples)) != 0 ||
		    (rc = store__meta_put_u64(txn, s, "samples",
					      samples > dropped ? samples - dropped : 0)) != 0)
			goto slice_out;
		if (any_removed) {
			if ((rc = store__meta_get_u64(txn, s, "generation", &gen)) != 0 ||
			    (rc = store__meta_put_u64(txn, s, "generation", gen + 1)) != 0)
				goto slice_out;
		}
		mdb_cursor_close(sc);
		mdb_cursor_close(cc);
		sc = cc = NULL;
		if ((rc = slots_flush(s, txn)) != 0)
			goto slice_out;
		rc = mdb_txn_commit(txn);
		txn = NULL;
		if (rc == 0) {
			total += dropped;
			if (any_removed) {
				cache_clear(&s->cache);
				__atomic_store_n(&s->cache_gen, gen + 1, __ATOMIC_RELAXED);
			}
		}
slice_out:
		if (sc)
			mdb_cursor_close(sc);
		if (cc)
			mdb_cursor_close(cc);
		slots_reset(&s->slots);
		if (txn)
			mdb_txn_abort(txn);
		pthread_rwlock_unlock(&s->resize);
		pthread_mutex_unlock(&s->wlock);
		if (rc == MDB_MAP_FULL) {
			if ((rc = store__grow(s, cause)) != 0)
				break;
			next = slice_start; /* retry the slice */
			continue;
		}
		if (rc != 0 || done)
			break;
	}
	if (dropped_out)
		*dropped_out = total;
	if (rc != 0 && !(rc >= PW_E_BASE && rc < PW_E_LAST)) {
		if (cause && !*cause)
			*cause = store__cause(rc, "retention");
		rc = store__err(rc);
	}
	return rc;
}

/* ---- what retention would drop ------------------------------------------- */

struct plan_scan {
	uint64_t *ids;
	size_t n, cap;
	int64_t cutoff;
	struct store_retention_plan *p;
};

static int plan_series(void *ctx, const struct store_series *ss, int64_t ts, double v)
{
	struct plan_scan *x = ctx;
	(void)v;
	x->p->series++;
	if (ts > x->p->newest)
		x->p->newest = ts;
	if (ts < x->cutoff)
		x->p->series_emptied++;
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 1024;
		x->ids = xreallocarray(x->ids, x->cap, sizeof *x->ids);
	}
	x->ids[x->n++] = ss->id;
	return 0;
}

int store_retention_plan(struct store *s, int64_t cutoff, struct store_retention_plan *p)
{
	struct plan_scan x = {.cutoff = cutoff, .p = p};
	struct store_snap *snap = NULL;
	struct store_iter *it = NULL;
	struct store_stats st;
	int rc;

	memset(p, 0, sizeof *p);
	p->newest = INT64_MIN;
	if ((rc = store_stats(s, &st)) != 0)
		return rc;
	p->samples_total = st.samples;
	if ((rc = store_snap_begin(s, &snap)) != 0)
		return rc;
	if ((rc = store_scan_latest(snap, plan_series, &x)) != 0)
		goto out;
	it = store_iter_new(snap);
	for (size_t i = 0; i < x.n && cutoff > INT64_MIN; i++) {
		int64_t ts;
		double v;
		if ((rc = store_iter_seek(it, x.ids[i], INT64_MIN, cutoff - 1)) != 0)
			goto out;
		while ((rc = store_iter_next(it, &ts, &v)) == 1)
			p->samples++;
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	store_iter_free(it);
	store_snap_end(snap);
	free(x.ids);
	return rc;
}
