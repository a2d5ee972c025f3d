/*
 * series.c — label sets to series ids: the canonical encoding and its
 * stored form (the ids of its strings, symbols.c), the series and postings
 * tables, and the writer's in-memory index of every series (hash -> id),
 * against which write.c resolves a batch's series.
 */
#include "store_int.h"

#include <stdlib.h>

/*
 * The writer keeps all series in memory (as Prometheus keeps its head's
 * index), loaded from the series table at its first commit and kept up to
 * date by ids, which only grow: so the store needs no on-disk index from
 * labels to id.
 */

bool labels_next(const char *enc, size_t len, size_t *off, const char **name, const char **value)
{
	size_t o = *off;

	if (o == 0) {
		*name = "__name__";
		*value = enc;
		*off = strlen(enc) + 1;
		return len > 0;
	}
	if (o >= len)
		return false;
	*name = enc + o;
	o += strlen(enc + o) + 1;
	*value = enc + o;
	o += strlen(enc + o) + 1;
	*off = o;
	return true;
}

size_t posting_key(uint8_t *out, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value), room;

	memcpy(out, name, nl);
	out[nl] = '\0';
	room = POSTING_KEY_MAX - nl - 1;
	if (vl <= room) {
		memcpy(out + nl + 1, value, vl);
		return nl + 1 + vl;
	}
	/* Too long for an LMDB key: a prefix, 0xff (never in UTF-8), and a
	 * hash of the whole value. Readers recover the value from a series. */
	room -= 9;
	memcpy(out + nl + 1, value, room);
	out[nl + 1 + room] = 0xff;
	key_put_u64(out + nl + 2 + room, pw_hash64(value, vl));
	return nl + 1 + room + 9;
}

/* ---- the stored form: the ids of its strings (symbols.c) ---------------- */

int series_encode_syms(struct store *s, MDB_txn *txn, const char *enc, size_t len,
		       struct pw_buf *out)
{
	size_t off = 0;
	const char *name, *value;
	int rc;

	bool first = true;
	while (labels_next(enc, len, &off, &name, &value)) {
		const char *strs[2] = {name, value};
		/* the metric name alone first (labels_next calls it __name__) */
		for (int j = first ? 1 : 0; j < 2; j++) {
			uint32_t id;
			uint8_t tmp[VARINT_MAX_BYTES];
			if ((rc = sym_intern(s, txn, strs[j], strlen(strs[j]), &id)) != 0)
				return rc;
			pw_buf_append(out, tmp, varint_put(tmp, id));
		}
		first = false;
	}
	return 0;
}

/* The next string of a stored series at *p: 1 and it, 0 at end, or an
 * error. */
static int series_next(struct store *s, MDB_txn *txn, const uint8_t **p, const uint8_t *end,
		       const char **str, uint32_t *len)
{
	uint64_t id;
	if (*p == end)
		return 0;
	if (!varint_get(p, end, &id) || id > UINT32_MAX)
		return MDB_CORRUPTED;
	int rc = sym_get(s, txn, (uint32_t)id, str, len);
	return rc ? rc : 1;
}

int series_decode(struct store *s, MDB_txn *txn, const MDB_val *v, struct pw_buf *out)
{
	const uint8_t *p = v->mv_data, *end = p + v->mv_size;
	const char *str = NULL;
	uint32_t len = 0;
	unsigned k = 0;
	int rc;

	while ((rc = series_next(s, txn, &p, end, &str, &len)) == 1) {
		pw_buf_append(out, str, len + 1); /* with its NUL */
		k++;
	}
	if (rc != 0)
		return rc;
	return k % 2 == 1 ? 0 : MDB_CORRUPTED; /* the name, then pairs */
}

int series_strings(struct store *s, MDB_txn *txn, const MDB_val *v, const char **strs,
		   uint32_t *lens, size_t max, size_t *n, size_t *total)
{
	const uint8_t *p = v->mv_data, *end = p + v->mv_size;
	const char *str = NULL;
	uint32_t len = 0;
	size_t k = 0, bytes = 0;
	int rc;

	while ((rc = series_next(s, txn, &p, end, &str, &len)) == 1) {
		if (k == max)
			return PW_ETOOBIG;
		strs[k] = str;
		lens[k++] = len;
		bytes += len + 1;
	}
	if (rc != 0)
		return rc;
	if (k % 2 != 1)
		return MDB_CORRUPTED; /* the name, then pairs */
	*n = k;
	*total = bytes;
	return 0;
}

/* ---- cache ---------------------------------------------------------------- */

void cache_clear(struct series_cache *c)
{
	for (size_t i = 0; i < c->cap; i++) {
		if (c->tab[i].id)
			free(c->tab[i].enc);
		c->tab[i].enc = NULL;
		c->tab[i].id = 0;
	}
	c->n = 0;
	c->upto = 0;
}

uint64_t cache_find(const struct series_cache *c, uint64_t hash, const char *enc, size_t len)
{
	if (c->cap == 0)
		return 0;
	for (size_t i = hash & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
		const struct cache_ent *e = &c->tab[i];
		if (e->id == 0)
			return 0;
		if (e->hash == hash && e->len == len && memcmp(e->enc, enc, len) == 0)
			return e->id;
	}
}

static void cache_place(struct series_cache *c, struct cache_ent e)
{
	size_t i = e.hash & (c->cap - 1);
	while (c->tab[i].id != 0)
		i = (i + 1) & (c->cap - 1);
	c->tab[i] = e;
}

void cache_insert(struct series_cache *c, uint64_t hash, uint64_t id, const char *enc, size_t len)
{
	struct cache_ent e = {hash, id, NULL, (uint32_t)len};

	if ((c->n + 1) * 4 > c->cap * 3) {
		struct cache_ent *old = c->tab;
		size_t oldcap = c->cap;
		c->cap = oldcap ? oldcap * 2 : 1024;
		c->tab = xcalloc(c->cap, sizeof *c->tab);
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].id)
				cache_place(c, old[i]);
		free(old);
	}
	e.enc = xmalloc(len);
	memcpy(e.enc, enc, len);
	cache_place(c, e);
	c->n++;
}

void cache_remove(struct series_cache *c, uint64_t hash, uint64_t id)
{
	size_t i, j;

	if (c->cap == 0)
		return;
	for (i = hash & (c->cap - 1); c->tab[i].id != id; i = (i + 1) & (c->cap - 1))
		if (c->tab[i].id == 0)
			return;
	free(c->tab[i].enc);
	c->tab[i].id = 0;
	c->tab[i].enc = NULL;
	c->n--;
	/* Re-place the rest of the probe run (linear probing deletion). */
	for (j = (i + 1) & (c->cap - 1); c->tab[j].id != 0; j = (j + 1) & (c->cap - 1)) {
		struct cache_ent e = c->tab[j];
		c->tab[j].id = 0;
		c->tab[j].enc = NULL;
		cache_place(c, e);
	}
}

/* ---- LMDB tables ----------------------------------------------------------- */

int cache_sync(struct store *s, MDB_txn *txn, uint64_t next_id)
{
	struct series_cache *c = &s->cache;
	uint8_t ik[8];
	MDB_val k = {8, ik}, v;
	MDB_cursor *cur;
	int rc;

	if (c->upto >= next_id)
		return 0;
	if ((rc = mdb_cursor_open(txn, s->dbi_series, &cur)) != 0)
		return rc;
	key_put_u64(ik, c->upto);
	struct pw_buf enc;
	pw_buf_init(&enc, 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			rc = MDB_CORRUPTED;
			break;
		}
		enc.len = 0;
		if ((rc = series_decode(s, txn, &v, &enc)) != 0)
			break;
		cache_insert(c, pw_hash64(enc.data, enc.len), key_get_u64(k.mv_data), enc.data,
			     enc.len);
	}
	pw_buf_free(&enc);
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc;
	c->upto = next_id;
	return 0;
}

int series_create(struct store *s, MDB_txn *txn, uint64_t hash, const char *enc, size_t len,
		  uint64_t id)
{
	uint8_t ik[8], pk[POSTING_KEY_MAX + 16];
	MDB_val k = {8, ik}, v = {len, (void *)enc};
	const char *name, *value;
	size_t off = 0;
	int rc;

	struct pw_buf syms;
	pw_buf_init(&syms, 0);
	key_put_u64(ik, id);
	if ((rc = series_encode_syms(s, txn, enc, len, &syms)) == 0) {
		v.mv_size = syms.len;
		v.mv_data = syms.data;
		rc = mdb_put(txn, s->dbi_series, &k, &v, MDB_APPEND);
	}
	pw_buf_free(&syms);
	if (rc != 0)
		return rc;
	uint8_t pid[4];
	posting_id_put(pid, id);
	while (labels_next(enc, len, &off, &name, &value)) {
		k.mv_size = posting_key(pk, name, value);
		k.mv_data = pk;
		v.mv_size = sizeof pid;
		v.mv_data = pid;
		/* ids only grow, so a new one goes at the end of every posting
		 * list: appended, LMDB fills the list's pages instead of
		 * splitting them in half */
		rc = mdb_put(txn, s->dbi_postings, &k, &v, MDB_APPENDDUP);
		if (rc == MDB_KEYEXIST)
			rc = mdb_put(txn, s->dbi_postings, &k, &v, 0);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int series_delete(struct store *s, MDB_txn *txn, uint64_t id)
{
	uint8_t ik[8], pk[POSTING_KEY_MAX + 16];
	uint8_t pid[4];
	MDB_val k = {8, ik}, v, iv = {sizeof pid, pid};
	const char *name, *value, *enc;
	size_t off = 0, len;
	int rc;

	key_put_u64(ik, id);
	posting_id_put(pid, id);
	if ((rc = mdb_get(txn, s->dbi_series, &k, &v)) != 0)
		return rc;
	struct pw_buf dec; /* a copy: deleting invalidates the pointer */
	pw_buf_init(&dec, 0);
	if ((rc = series_decode(s, txn, &v, &dec)) != 0) {
		pw_buf_free(&dec);
		return rc;
	}
	len = dec.len;
	enc = pw_buf_take(&dec);
	while (labels_next(enc, len, &off, &name, &value)) {
		MDB_val pkv = {posting_key(pk, name, value), pk};
		rc = mdb_del(txn, s->dbi_postings, &pkv, &iv);
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto out;
	}
	rc = mdb_del(txn, s->dbi_series, &k, NULL);
out:
	free((char *)enc);
	return rc;
}
