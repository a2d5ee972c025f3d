/*
 * kv.c — beside the samples: the records table, small keyed values of the
 * notifiers (alerts/: outbox, notification log, digest state), and the
 * change feed remote_write reads (exporters/). Writes take the same writer
 * lock and map growth as sample batches (write.c).
 */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int apply_ops(struct store *s, const struct store_rec_op *ops, size_t n)
{
	MDB_txn *txn;
	int rc = store__txn_begin(s, 0, &txn);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		MDB_val k = {ops[i].klen, (void *)ops[i].key};
		if (ops[i].val) {
			MDB_val v = {ops[i].vlen, (void *)ops[i].val};
			rc = mdb_put(txn, s->dbi_records, &k, &v, 0);
		} else {
			rc = mdb_del(txn, s->dbi_records, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		}
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

/* Run one write transaction (fn) under the writer lock, growing the map
 * and trying again while it is full; LMDB codes become PW_E* with *cause
 * naming what (what). */
static int write_growing(struct store *s, int (*fn)(struct store *, void *), void *ctx,
			 const char *what, char **cause)
{
	int rc;
	pthread_mutex_lock(&s->wlock);
	for (;;) {
		pthread_rwlock_rdlock(&s->resize);
		rc = fn(s, ctx);
		pthread_rwlock_unlock(&s->resize);
		if (rc != MDB_MAP_FULL)
			break;
		if ((rc = store__grow(s, cause)) != 0)
			break;
	}
	pthread_mutex_unlock(&s->wlock);
	if (rc != 0 && !(rc >= PW_E_BASE && rc < PW_E_LAST)) {
		if (cause && !*cause)
			*cause = store__cause(rc, what);
		rc = store__err(rc);
	}
	return rc;
}

struct ops_ctx {
	const struct store_rec_op *ops;
	size_t n;
};

static int apply_ops_fn(struct store *s, void *ctx)
{
	struct ops_ctx *o = ctx;
	return apply_ops(s, o->ops, o->n);
}

int store_rec_write(struct store *s, const struct store_rec_op *ops, size_t n, char **cause)
{
	int rc;
	if (cause)
		*cause = NULL;
	if (s->read_only || s->no_records) {
		if (cause)
			*cause = xstrdup("store is open read-only");
		return -EROFS;
	}
	for (size_t i = 0; i < n; i++) {
		if (ops[i].klen == 0 || ops[i].klen > 400) {
			if (cause)
				*cause = xasprintf("record key of %zu bytes (1 to 400 allowed)",
						   ops[i].klen);
			return PW_EINVAL;
		}
	}
	struct ops_ctx o = {ops, n};
	rc = write_growing(s, apply_ops_fn, &o, "writing records", cause);
	return rc;
}

int store_rec_get(struct store *s, const void *key, size_t klen, void **val, size_t *vlen)
{
	MDB_txn *txn;
	MDB_val k = {klen, (void *)key}, v;
	int rc;
	*val = NULL;
	*vlen = 0;
	if (s->no_records)
		return PW_ENOTFOUND;
	pthread_rwlock_rdlock(&s->resize);
	rc = store__txn_begin(s, MDB_RDONLY, &txn);
	if (rc != 0)
		txn = NULL;
	if (rc == 0) {
		rc = mdb_get(txn, s->dbi_records, &k, &v);
		if (rc == 0) {
			*val = xmalloc(v.mv_size + 1);
			memcpy(*val, v.mv_data, v.mv_size);
			((char *)*val)[v.mv_size] = '\0';
			*vlen = v.mv_size;
		}
		mdb_txn_abort(txn);
	}
	pthread_rwlock_unlock(&s->resize);
	if (rc == MDB_NOTFOUND)
		return PW_ENOTFOUND;
	return rc ? store__err(rc) : 0;
}

int store_rec_scan(struct store *s, const void *prefix, size_t plen, store_rec_cb cb, void *ctx)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k = {plen, (void *)prefix}, v;
	int rc, out = 0;
	if (s->no_records)
		return 0;
	pthread_rwlock_rdlock(&s->resize);
	rc = store__txn_begin(s, MDB_RDONLY, &txn);
	if (rc != 0)
		txn = NULL;
	if (rc == 0)
		rc = mdb_cursor_open(txn, s->dbi_records, &cur);
	if (rc == 0) {
		rc = plen ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
			  : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		while (rc == 0) {
			if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
				break;
			if ((out = cb(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size)) != 0)
				break;
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->resize);
	if (out)
		return out;
	return rc ? store__err(rc) : 0;
}

/* ---- the change feed ----------------------------------------------------------- */

void store_set_feed(struct store *s, bool on)
{
	pthread_mutex_lock(&s->wlock);
	s->feed = on && s->dbi_feed && !s->read_only;
	pthread_mutex_unlock(&s->wlock);
}

int store_feed_head(struct store_snap *snap, uint64_t *seq)
{
	int rc = store__meta_get_u64(snap->txn, snap->s, "feed_seq", seq);
	return rc ? store__err(rc) : 0;
}

int store_feed_read(struct store_snap *snap, uint64_t after, size_t max_commits,
		    struct store_change **out, size_t *n, uint64_t *last)
{
	MDB_cursor *cur;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	size_t got = 0, cap = *n;
	int rc;
	*last = after;
	if (!snap->s->dbi_feed)
		return 0;
	if ((rc = mdb_cursor_open(snap->txn, snap->s->dbi_feed, &cur)) != 0)
		return store__err(rc);
	key_put_u64(kb, after + 1);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && got < max_commits;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), got++) {
		size_t m = v.mv_size / 24;
		const uint8_t *p = v.mv_data;
		if (*n + m > cap) {
			cap = (*n + m) * 2;
			*out = xreallocarray(*out, cap, sizeof **out);
		}
		for (size_t i = 0; i < m; i++) {
			(*out)[*n].id = key_get_u64(p + 24 * i);
			(*out)[*n].mint = (int64_t)key_get_u64(p + 24 * i + 8);
			(*out)[(*n)++].maxt = (int64_t)key_get_u64(p + 24 * i + 16);
		}
		*last = key_get_u64(k.mv_data);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store__err(rc);
}

static int trim_ops(struct store *s, uint64_t upto, size_t *left)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t n = 0;
	int rc = store__txn_begin(s, 0, &txn);
	if (rc != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, s->dbi_feed, &cur)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	/* in steps, so one call never holds the writer for long */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < 10000;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (key_get_u64(k.mv_data) > upto)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return rc;
	}
	*left = n == 10000;
	return mdb_txn_commit(txn);
}

struct trim_ctx {
	uint64_t upto;
	size_t more;
};

static int trim_fn(struct store *s, void *ctx)
{
	struct trim_ctx *t = ctx;
	return trim_ops(s, t->upto, &t->more);
}

int store_feed_trim(struct store *s, uint64_t upto, char **cause)
{
	struct trim_ctx t = {upto, 1};
	int rc = 0;
	if (cause)
		*cause = NULL;
	if (!s->dbi_feed || s->read_only)
		return 0;
	while (t.more && rc == 0)
		rc = write_growing(s, trim_fn, &t, "trimming the change feed", cause);
	return rc;
}

int store_series_get(struct store_snap *snap, uint64_t id, struct store_series *out)
{
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	key_put_u64(kb, id);
	int rc = mdb_get(snap->txn, snap->s->dbi_series, &k, &v);
	if (rc == MDB_NOTFOUND)
		return PW_ENOTFOUND;
	if (rc != 0)
		return store__err(rc);
	memset(out, 0, sizeof *out);
	out->id = id;
	if ((rc = snap_series_enc(snap, &v, &out->enc, &out->enc_len)) != 0)
		return store__err(rc);
	return 0;
}
