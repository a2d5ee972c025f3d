/*
 * symbols.c — label names and values stored once, as ids (table symbols):
 * series.c stores a series as the ids of its strings, interning new ones
 * in the write transaction (whose symbols write.c begins and finishes),
 * and readers turn ids back into strings (sym_get, inline in store_int.h)
 * through a table every process keeps in memory.
 */
#include "store_int.h"

#include <stdlib.h>

/*
 * Each distinct string has an id (table symbols: u32 BE id -> the string's
 * bytes; meta next_sym), and a series is stored as the varint ids of its
 * metric name and then of each label's name and value, in the order of the
 * canonical encoding (series.c). So a label value shared by a thousand
 * series (a city, a metric name) is stored once, not a thousand times (in
 * full, the series table was a fifth of the 100,000-series benchmark's
 * store). Ids only grow and a commit's new ones are consecutive, so the
 * ids a committed series refers to always form a prefix of what is
 * committed; symbols are never deleted (a label value of deleted series
 * stays, a few bytes).
 *
 * In memory, every process keeps the symbols it has met in blocks that
 * never move, published by a count: readers look ids below it up without
 * a lock, and load the rest from their snapshot (under s->syms.lock). The
 * writer also keeps string -> id (under the store's wlock); the symbols a
 * commit creates are published only once it is on disk, so that no reader
 * is ever handed a string that was not committed.
 */

/* Append id (== t->n) to the table; the caller holds t->lock. */
static void sym_push(struct symtab *t, uint32_t id, const void *str, size_t len)
{
	if (!t->blk[id >> SYM_BLOCK_BITS])
		t->blk[id >> SYM_BLOCK_BITS] = xcalloc(SYM_BLOCK, sizeof(struct sym));
	struct sym *e = sym_at(t, id);
	char *copy = xmalloc(len + 1);
	memcpy(copy, str, len);
	copy[len] = '\0';
	e->s = copy;
	e->len = (uint32_t)len;
	__atomic_store_n(&t->n, id + 1, __ATOMIC_RELEASE);
}

static void sym_key(uint8_t kb[4], uint32_t id)
{
	kb[0] = (uint8_t)(id >> 24);
	kb[1] = (uint8_t)(id >> 16);
	kb[2] = (uint8_t)(id >> 8);
	kb[3] = (uint8_t)id;
}

/* Load ids [t->n, upto] from txn; the caller holds t->lock. */
static int sym_load(struct store *s, MDB_txn *txn, uint32_t upto)
{
	struct symtab *t = &s->syms;
	uint8_t kb[4];
	MDB_val k = {4, kb}, v;
	MDB_cursor *c;
	int rc;

	if (t->n > upto)
		return 0;
	if (upto >= (uint32_t)SYM_BLOCKS * SYM_BLOCK)
		return MDB_CORRUPTED;
	if ((rc = mdb_cursor_open(txn, s->dbi_symbols, &c)) != 0)
		return rc;
	sym_key(kb, t->n);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY); rc == 0 && t->n <= upto;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const uint8_t *p = k.mv_data;
		uint32_t id = k.mv_size == 4 ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
						       (uint32_t)p[2] << 8 | p[3]
					     : UINT32_MAX;
		if (id != t->n || memchr(v.mv_data, '\0', v.mv_size)) {
			rc = MDB_CORRUPTED; /* ids are dense; strings hold no NUL */
			break;
		}
		sym_push(t, id, v.mv_data, v.mv_size);
		if (id == upto)
			break;
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = MDB_CORRUPTED; /* referred to, but not there */
	return t->n > upto ? 0 : rc;
}

int sym_fetch(struct store *s, MDB_txn *txn, uint32_t id)
{
	struct symtab *t = &s->syms;
	pthread_mutex_lock(&t->lock);
	int rc = sym_load(s, txn, id);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void symtab_free(struct symtab *t)
{
	for (size_t b = 0; b < SYM_BLOCKS; b++) {
		if (!t->blk[b])
			continue;
		for (size_t i = 0; i < SYM_BLOCK; i++)
			free(t->blk[b][i].s);
		free(t->blk[b]);
		t->blk[b] = NULL;
	}
	t->n = 0;
	free(t->map);
	t->map = NULL;
	t->mapcap = t->mapn = 0;
	t->map_upto = 0;
	for (size_t i = 0; i < t->npending; i++)
		free(t->pending[i].s);
	free(t->pending);
	t->pending = NULL;
	t->npending = t->cappending = 0;
}

/* ---- the writer ------------------------------------------------------------ */

static uint64_t str_hash(const void *p, size_t len) { return pw_hash64(p, len) | 1; }

/* The string of id for the writer: published, or created by this attempt. */
static const char *writer_str(struct symtab *t, uint32_t id, uint32_t *len)
{
	if (id >= t->base) {
		const struct sym *e = &t->pending[id - t->base];
		*len = e->len;
		return e->s;
	}
	const struct sym *e = sym_at(t, id);
	*len = e->len;
	return e->s;
}

static void map_put(struct symtab *t, uint64_t hash, uint32_t id)
{
	if ((t->mapn + 1) * 2 > t->mapcap) {
		size_t ocap = t->mapcap;
		struct sym_slot *old = t->map;
		t->mapcap = ocap ? ocap * 2 : 1024;
		t->map = xcalloc(t->mapcap, sizeof *t->map);
		t->mapn = 0;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].hash)
				map_put(t, old[i].hash, old[i].id);
		free(old);
	}
	size_t i = (size_t)hash & (t->mapcap - 1);
	while (t->map[i].hash)
		i = (i + 1) & (t->mapcap - 1);
	t->map[i].hash = hash;
	t->map[i].id = id;
	t->mapn++;
}

int sym_writer_begin(struct store *s, MDB_txn *txn)
{
	struct symtab *t = &s->syms;
	uint64_t next;
	int rc;

	for (size_t i = 0; i < t->npending; i++)
		free(t->pending[i].s);
	t->npending = 0;
	if ((rc = store__meta_get_u64(txn, s, "next_sym", &next)) != 0)
		return rc;
	if (next > (uint64_t)SYM_BLOCKS * SYM_BLOCK)
		return MDB_CORRUPTED;
	if (next > 0) { /* what other processes added, or all at the first commit */
		pthread_mutex_lock(&t->lock);
		rc = sym_load(s, txn, (uint32_t)(next - 1));
		pthread_mutex_unlock(&t->lock);
		if (rc != 0)
			return rc;
	}
	for (; t->map_upto < next; t->map_upto++) {
		const struct sym *e = sym_at(t, t->map_upto);
		map_put(t, str_hash(e->s, e->len), t->map_upto);
	}
	t->base = (uint32_t)next;
	return 0;
}

int sym_intern(struct store *s, MDB_txn *txn, const char *str, size_t len, uint32_t *id)
{
	struct symtab *t = &s->syms;
	uint64_t h = str_hash(str, len);
	int rc;

	if (t->mapcap) {
		for (size_t i = (size_t)h & (t->mapcap - 1); t->map[i].hash;
		     i = (i + 1) & (t->mapcap - 1)) {
			uint32_t l;
			const char *c;
			if (t->map[i].hash != h)
				continue;
			c = writer_str(t, t->map[i].id, &l);
			if (l == len && memcmp(c, str, len) == 0) {
				*id = t->map[i].id;
				return 0;
			}
		}
	}
	uint64_t nid = (uint64_t)t->base + t->npending;
	if (nid >= (uint64_t)SYM_BLOCKS * SYM_BLOCK)
		return MDB_MAP_FULL;
	uint8_t kb[4];
	sym_key(kb, (uint32_t)nid);
	MDB_val k = {4, kb}, v = {len, (void *)str};
	if ((rc = mdb_put(txn, s->dbi_symbols, &k, &v, MDB_APPEND)) != 0)
		return rc;
	if (t->npending == t->cappending) {
		t->cappending = t->cappending ? t->cappending * 2 : 64;
		t->pending = xreallocarray(t->pending, t->cappending, sizeof *t->pending);
	}
	struct sym *e = &t->pending[t->npending++];
	char *copy = xmalloc(len + 1);
	memcpy(copy, str, len);
	copy[len] = '\0';
	e->s = copy;
	e->len = (uint32_t)len;
	map_put(t, h, (uint32_t)nid);
	*id = (uint32_t)nid;
	return 0;
}

int sym_writer_finish(struct store *s, MDB_txn *txn)
{
	struct symtab *t = &s->syms;
	if (t->npending == 0)
		return 0;
	return store__meta_put_u64(txn, s, "next_sym", (uint64_t)t->base + t->npending);
}

void sym_writer_committed(struct store *s)
{
	struct symtab *t = &s->syms;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->npending; i++) {
		uint32_t id = t->base + (uint32_t)i;
		if (id == t->n) /* a reader may have loaded it from disk already */
			sym_push(t, id, t->pending[i].s, t->pending[i].len);
		free(t->pending[i].s);
	}
	pthread_mutex_unlock(&t->lock);
	t->map_upto = t->base + (uint32_t)t->npending;
	t->base = t->map_upto;
	t->npending = 0;
}

void sym_writer_abort(struct store *s)
{
	struct symtab *t = &s->syms;
	if (t->npending == 0)
		return;
	/* forget this attempt's ids: rebuild the index at the next begin */
	for (size_t i = 0; i < t->npending; i++)
		free(t->pending[i].s);
	t->npending = 0;
	free(t->map);
	t->map = NULL;
	t->mapcap = t->mapn = 0;
	t->map_upto = 0;
}
