/*
 * kv.c — the records table: small keyed values the notifiers keep beside
 * the samples (outbox, notification log, digest state). Writes go through
 * the same writer lock and map growth as sample batches.
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
	pthread_mutex_lock(&s->wlock);
	for (;;) {
		pthread_rwlock_rdlock(&s->resize);
		rc = apply_ops(s, ops, n);
		pthread_rwlock_unlock(&s->resize);
		if (rc != MDB_MAP_FULL)
			break;
		if ((rc = store__grow(s, cause)) != 0)
			break;
	}
	pthread_mutex_unlock(&s->wlock);
	if (rc != 0 && !(rc >= PW_E_BASE && rc < PW_E_LAST)) {
		if (cause && !*cause)
			*cause = store__cause(rc, "writing records");
		rc = store__err(rc);
	}
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
