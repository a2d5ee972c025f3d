/*
 * txn.c — what every file of store/ uses around its transactions:
 * beginning one (adopting another process's map size), the meta table's
 * numbers, LMDB errors as pacewatch's, and growing the map when a write
 * transaction ran out of room. Calls nothing else of store/.
 */
#include "store_int.h"

/* ---- errors -------------------------------------------------------------- */

int store__err(int rc)
{
	switch (rc) {
	case 0: return 0;
	case MDB_MAP_FULL: return PW_EMAPFULL;
	case MDB_NOTFOUND: return PW_ENOTFOUND;
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH: return PW_EFORMAT;
	default: return rc > 0 ? -rc : PW_ESTORE;
	}
}

char *store__cause(int rc, const char *what)
{
	return xasprintf("%s: %s", what, mdb_strerror(rc));
}

/* ---- the meta table ------------------------------------------------------ */

int store__meta_get_u64(MDB_txn *txn, struct store *s, const char *key, uint64_t *out)
{
	MDB_val k = {strlen(key), (void *)key}, v;
	int rc = mdb_get(txn, s->dbi_meta, &k, &v);

	if (rc == MDB_NOTFOUND) {
		*out = 0;
		return 0;
	}
	if (rc != 0)
		return rc;
	if (v.mv_size != 8)
		return MDB_CORRUPTED;
	*out = key_get_u64(v.mv_data);
	return 0;
}

int store__meta_put_u64(MDB_txn *txn, struct store *s, const char *key, uint64_t val)
{
	uint8_t b[8];
	MDB_val k = {strlen(key), (void *)key}, v = {8, b};

	key_put_u64(b, val);
	return mdb_put(txn, s->dbi_meta, &k, &v, 0);
}

/* ---- transactions and the map -------------------------------------------- */

/* Begin a transaction, adopting a map size another process has set. The
 * caller holds s->resize for reading. */
int store__txn_begin(struct store *s, unsigned flags, MDB_txn **txn)
{
	int rc = mdb_txn_begin(s->env, NULL, flags, txn);

	if (rc == MDB_MAP_RESIZED) {
		/* Only legal with no transaction active in this process: upgrade. */
		pthread_rwlock_unlock(&s->resize);
		pthread_rwlock_wrlock(&s->resize);
		mdb_env_set_mapsize(s->env, 0);
		pthread_rwlock_unlock(&s->resize);
		pthread_rwlock_rdlock(&s->resize);
		rc = mdb_txn_begin(s->env, NULL, flags, txn);
	}
	return rc;
}

int store__grow(struct store *s, char **cause)
{
	MDB_envinfo info;
	uint64_t next;
	int rc;

	pthread_rwlock_wrlock(&s->resize);
	mdb_env_info(s->env, &info);
	s->map_size = info.me_mapsize;
	if (s->map_size >= s->max_map) {
		pthread_rwlock_unlock(&s->resize);
		if (cause)
			*cause = xasprintf("store %s is full: it reached its maximum size of "
					   "%llu bytes (storage.max_size); the batch was not "
					   "written, earlier data is intact",
					   s->path, (unsigned long long)s->max_map);
		return PW_EMAPFULL;
	}
	next = s->map_size * 2;
	if (next > s->max_map || next < s->map_size)
		next = s->max_map;
	rc = mdb_env_set_mapsize(s->env, (size_t)next);
	if (rc == 0)
		s->map_size = next;
	pthread_rwlock_unlock(&s->resize);
	if (rc != 0) {
		if (cause)
			*cause = store__cause(rc, "growing the store map");
		return store__err(rc);
	}
	log_info("store", "%s: map grown to %llu bytes", s->path, (unsigned long long)next);
	return 0;
}
