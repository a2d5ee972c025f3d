/*
 * slots.c — heads and open segments packed by runs of SLOT_RUN series ids,
 * one LMDB value per run: write.c and retention.c change entries through
 * the writer's runs, written once per commit (slots_flush); readers look
 * entries up in the mapped value (slot_read). Format 3 only: slot_read
 * (store_int.h) sends an older store, read as it is, to legacy.c.
 */
#include "store_int.h"

#include <stdlib.h>

/*
 * Every series has a head (its newest samples, rewritten by each fold)
 * and usually an open segment (the last segment while it grows). Kept as
 * one LMDB entry per series, both tables would cost a key and a node
 * header per series and, rewritten in place, drift to two thirds full
 * pages: with 100 samples a series, half the store. So one value holds
 * the entries of a run of SLOT_RUN consecutive ids:
 *
 *   u16 LE n, then n x (u8 id & 0xff, u24 LE end offset), then the entries'
 *   bytes back to back (entry i spans [end[i-1], end[i]) of that area)
 *
 * A run's value is an overflow value of a few pages, rewritten whole, so
 * its pages are full. A write transaction collects the runs it changes in
 * memory (s->slots) and writes each once, in slots_flush() before the
 * commit; the log's folds rewrite whole runs anyway (a slice is a set of
 * runs). Readers look entries up in the mapped value, copying nothing.
 */

#define BLK_HDR 2u
#define BLK_ENT 4u

/* The run of id in table t, and id's place in it. */
static inline uint64_t run_of(const struct store *s, enum slot_table t, uint64_t id)
{
	return id >> slot_run_bits(s, t);
}
static inline unsigned lo_of(const struct store *s, enum slot_table t, uint64_t id)
{
	return (unsigned)(id & ((1u << slot_run_bits(s, t)) - 1));
}

/* Find entry lo in a stored block; 0 with *out, MDB_NOTFOUND, or
 * MDB_CORRUPTED. */
int slot_block_find(const MDB_val *blk, unsigned lo, MDB_val *out)
{
	const uint8_t *p = blk->mv_data;
	if (blk->mv_size < BLK_HDR)
		return MDB_CORRUPTED;
	size_t n = (size_t)p[0] | (size_t)p[1] << 8;
	size_t data = BLK_HDR + n * BLK_ENT;
	if (n > SLOT_RUN || data > blk->mv_size)
		return MDB_CORRUPTED;
	const uint8_t *e = p + BLK_HDR;
	size_t a = 0, b = n;
	while (a < b) { /* entries are in id order */
		size_t m = a + (b - a) / 2;
		if (e[m * BLK_ENT] < lo)
			a = m + 1;
		else
			b = m;
	}
	if (a == n || e[a * BLK_ENT] != lo)
		return MDB_NOTFOUND;
	size_t start = 0, end;
	if (a > 0) {
		const uint8_t *q = e + (a - 1) * BLK_ENT + 1;
		start = (size_t)q[0] | (size_t)q[1] << 8 | (size_t)q[2] << 16;
	}
	const uint8_t *q = e + a * BLK_ENT + 1;
	end = (size_t)q[0] | (size_t)q[1] << 8 | (size_t)q[2] << 16;
	if (start > end || data + end > blk->mv_size)
		return MDB_CORRUPTED;
	out->mv_data = (uint8_t *)p + data + start;
	out->mv_size = end - start;
	return 0;
}

static void blk_key(uint8_t kb[8], uint64_t run) { key_put_u64(kb, run); }

int slot_block_parse(const MDB_val *blk, struct slot_ent *out, size_t *n)
{
	const uint8_t *p = blk->mv_data;
	if (blk->mv_size < BLK_HDR)
		return MDB_CORRUPTED;
	size_t cnt = (size_t)p[0] | (size_t)p[1] << 8, data = BLK_HDR + cnt * BLK_ENT;
	if (cnt > SLOT_RUN || data > blk->mv_size)
		return MDB_CORRUPTED;
	size_t start = 0;
	for (size_t i = 0; i < cnt; i++) {
		const uint8_t *e = p + BLK_HDR + i * BLK_ENT;
		size_t end = (size_t)e[1] | (size_t)e[2] << 8 | (size_t)e[3] << 16;
		if (end < start || data + end > blk->mv_size || (i > 0 && e[0] <= *(e - BLK_ENT)))
			return MDB_CORRUPTED; /* ids ascending, entries within the value */
		out[i].lo = e[0];
		out[i].p = p + data + start;
		out[i].len = end - start;
		start = end;
	}
	*n = cnt;
	return 0;
}



/* ---- readers ---------------------------------------------------------------- */

int slot_read_packed(struct slot_reader *r, uint64_t id, MDB_val *out)
{
	uint8_t kb[8];
	MDB_val k = {8, kb};

	if (!r->have || r->run != id >> r->bits) {
		r->run = id >> r->bits;
		r->have = true;
		blk_key(kb, r->run);
		r->rc = mdb_get(r->txn, r->dbi, &k, &r->blk);
	}
	if (r->rc != 0)
		return r->rc;
	return slot_block_find(&r->blk, (unsigned)(id & ((1u << r->bits) - 1)), out);
}

int slot_count_packed(MDB_txn *txn, MDB_dbi dbi, uint64_t *n)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	*n = 0;
	if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		if (v.mv_size < BLK_HDR) {
			rc = MDB_CORRUPTED;
			break;
		}
		*n += (uint64_t)((const uint8_t *)v.mv_data)[0] |
		      (uint64_t)((const uint8_t *)v.mv_data)[1] << 8;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- the writer's runs ----------------------------------------------------- */

/* A run being changed: its entries as pointers into the stored value
 * (committed pages stay as they are until the commit, whatever the
 * transaction writes) or into the writer's scratch buffer. */
struct slot_run {
	uint64_t key; /* run << 1 | table */
	const uint8_t *ptr[SLOT_RUN]; /* NULL: no entry */
	uint32_t len[SLOT_RUN];
};

/* The writer's scratch buffer: memory for the entries a transaction
 * writes, in chunks dropped all at once by slots_reset. */
static uint8_t *writer_scratch_alloc(struct slot_writer *w, size_t n)
{
	if (n > w->left) {
		size_t sz = n > (1u << 20) ? n : (1u << 20);
		w->chunks = xreallocarray(w->chunks, w->nchunks + 1, sizeof *w->chunks);
		w->chunk_size = xreallocarray(w->chunk_size, w->nchunks + 1, sizeof *w->chunk_size);
		w->chunks[w->nchunks] = xmalloc(sz);
		w->chunk_size[w->nchunks] = sz;
		w->cur = w->chunks[w->nchunks++];
		w->left = sz;
	}
	uint8_t *p = w->cur;
	w->cur += n;
	w->left -= n;
	return p;
}

static inline uint64_t run_key(enum slot_table t, uint64_t run) { return run << 1 | (uint64_t)t; }

static struct slot_run *dirty_find(const struct slot_writer *w, uint64_t key)
{
	if (!w->cap)
		return NULL;
	size_t mask = w->cap - 1;
	for (size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL >> 20) & mask;; i = (i + 1) & mask) {
		if (!w->tab[i])
			return NULL;
		if (w->tab[i]->key == key)
			return w->tab[i];
	}
}

static void dirty_insert(struct slot_writer *w, struct slot_run *r)
{
	if ((w->n + 1) * 2 > w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 64;
		struct slot_run **old = w->tab;
		size_t ocap = w->cap;
		w->tab = xcalloc(ncap, sizeof *w->tab);
		w->cap = ncap;
		w->n = 0;
		for (size_t i = 0; i < ocap; i++)
			if (old[i])
				dirty_insert(w, old[i]);
		free(old);
	}
	size_t mask = w->cap - 1;
	size_t i = (size_t)(r->key * 0x9e3779b97f4a7c15ULL >> 20) & mask;
	while (w->tab[i])
		i = (i + 1) & mask;
	w->tab[i] = r;
	w->n++;
}

void slots_reset(struct slot_writer *w)
{
	for (size_t i = 0; i < w->cap; i++)
		free(w->tab[i]);
	free(w->tab);
	w->tab = NULL;
	w->cap = w->n = 0;
	for (int t = 0; t < 2; t++)
		w->cached[t] = false;
	/* keep the scratch buffer's first chunk for the next transaction */
	for (size_t i = 1; i < w->nchunks; i++)
		free(w->chunks[i]);
	w->nchunks = w->nchunks ? 1 : 0;
	w->cur = w->nchunks ? w->chunks[0] : NULL;
	w->left = w->nchunks ? w->chunk_size[0] : 0;
}

void slots_free(struct slot_writer *w)
{
	slots_reset(w);
	if (w->nchunks)
		free(w->chunks[0]);
	free(w->chunks);
	free(w->chunk_size);
	w->chunks = NULL;
	w->chunk_size = NULL;
	w->nchunks = 0;
	w->cur = NULL;
	w->left = 0;
}

void slots_begin(struct slot_writer *w)
{
	slots_reset(w);
	w->flushed = false;
}

/* The run as the transaction sees it, loaded into memory to be changed. */
static int dirty_get(struct store *s, MDB_txn *txn, enum slot_table t, uint64_t run,
		     struct slot_run **out)
{
	struct slot_writer *w = &s->slots;
	uint64_t key = run_key(t, run);
	struct slot_run *r = dirty_find(w, key);
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	int rc;

	if (r) {
		*out = r;
		return 0;
	}
	blk_key(kb, run);
	rc = mdb_get(txn, t == SLOT_HEADS ? s->dbi_heads : s->dbi_open, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	r = xcalloc(1, sizeof *r);
	r->key = key;
	if (rc == 0) {
		struct slot_ent ents[SLOT_RUN];
		size_t n;
		if ((rc = slot_block_parse(&v, ents, &n)) != 0) {
			free(r);
			return rc;
		}
		/* A committed value stays in place until the commit: LMDB reuses
		 * the pages a transaction frees only after it. One this
		 * transaction wrote (a flush before) may be rewritten in
		 * place by the next: a copy. */
		const uint8_t *base = v.mv_data;
		if (w->flushed && n) {
			size_t off = (size_t)(ents[0].p - base);
			uint8_t *copy = writer_scratch_alloc(w, v.mv_size - off);
			memcpy(copy, base + off, v.mv_size - off);
			base = copy - off;
		}
		for (size_t i = 0; i < n; i++) {
			r->ptr[ents[i].lo] = base + (ents[i].p - (const uint8_t *)v.mv_data);
			r->len[ents[i].lo] = (uint32_t)ents[i].len;
		}
	}
	dirty_insert(w, r);
	w->cached[t] = false; /* the stored value is no longer what counts */
	*out = r;
	return 0;
}

int slot_get(struct store *s, MDB_txn *txn, enum slot_table t, uint64_t id, MDB_val *out)
{
	struct slot_writer *w = &s->slots;
	uint64_t run = run_of(s, t, id);
	unsigned lo = lo_of(s, t, id);
	struct slot_run *r = dirty_find(w, run_key(t, run));

	if (r) {
		if (!r->ptr[lo])
			return MDB_NOTFOUND;
		out->mv_data = (void *)r->ptr[lo];
		out->mv_size = r->len[lo];
		return 0;
	}
	/* an unchanged run: its stored value, which stays in place until the
	 * flush (series come in id order, so mostly the run of the last look) */
	if (!w->cached[t] || w->cached_run[t] != run) {
		uint8_t kb[8];
		MDB_val k = {8, kb};
		blk_key(kb, run);
		w->cached_rc[t] = mdb_get(txn, t == SLOT_HEADS ? s->dbi_heads : s->dbi_open, &k,
					  &w->cached_blk[t]);
		w->cached_run[t] = run;
		w->cached[t] = true;
	}
	if (w->cached_rc[t] != 0)
		return w->cached_rc[t];
	return slot_block_find(&w->cached_blk[t], lo, out);
}

int slot_put(struct store *s, MDB_txn *txn, enum slot_table t, uint64_t id, const void *hdr,
	     size_t hlen, const void *p, size_t len)
{
	struct slot_run *r;
	unsigned lo = lo_of(s, t, id);
	int rc;

	if (hlen + len == 0 || hlen + len > CHUNK_BUF_BYTES + HEAD_STATE_MAX)
		return MDB_BAD_VALSIZE;
	if ((rc = dirty_get(s, txn, t, run_of(s, t, id), &r)) != 0)
		return rc;
	uint8_t *copy = writer_scratch_alloc(&s->slots, hlen + len); /* p may be the entry itself */
	if (hlen)
		memcpy(copy, hdr, hlen);
	memcpy(copy + hlen, p, len);
	r->ptr[lo] = copy;
	r->len[lo] = (uint32_t)(hlen + len);
	return 0;
}

int slot_del(struct store *s, MDB_txn *txn, enum slot_table t, uint64_t id)
{
	struct slot_run *r;
	unsigned lo = lo_of(s, t, id);
	int rc;

	if ((rc = dirty_get(s, txn, t, run_of(s, t, id), &r)) != 0)
		return rc;
	if (!r->ptr[lo])
		return MDB_NOTFOUND;
	r->ptr[lo] = NULL;
	r->len[lo] = 0;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	uint64_t x = (*(struct slot_run *const *)a)->key, y = (*(struct slot_run *const *)b)->key;
	return x < y ? -1 : x > y;
}

int slots_flush(struct store *s, MDB_txn *txn)
{
	struct slot_writer *w = &s->slots;
	struct slot_run **runs;
	size_t n = 0;
	int rc = 0;

	if (w->n == 0) {
		slots_reset(w); /* the looked-up values belong to this transaction */
		return 0;
	}
	runs = xreallocarray(NULL, w->n, sizeof *runs);
	for (size_t i = 0; i < w->cap; i++)
		if (w->tab[i])
			runs[n++] = w->tab[i];
	qsort(runs, n, sizeof *runs, key_cmp); /* in key order: sequential B-tree writes */
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct slot_run *r = runs[i];
		enum slot_table t = (enum slot_table)(r->key & 1);
		MDB_dbi dbi = t == SLOT_HEADS ? s->dbi_heads : s->dbi_open;
		uint8_t kb[8];
		MDB_val k = {8, kb}, v;
		size_t cnt = 0, bytes = 0;
		for (unsigned j = 0; j < SLOT_RUN; j++)
			if (r->ptr[j]) {
				cnt++;
				bytes += r->len[j];
			}
		blk_key(kb, r->key >> 1);
		if (cnt == 0) {
			rc = mdb_del(txn, dbi, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
			continue;
		}
		if (bytes >= (1u << 24)) {
			rc = MDB_BAD_VALSIZE;
			break;
		}
		v.mv_size = BLK_HDR + cnt * BLK_ENT + bytes;
		if ((rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE)) != 0)
			break;
		uint8_t *o = v.mv_data, *e = o + BLK_HDR, *d = e + cnt * BLK_ENT;
		size_t end = 0;
		o[0] = (uint8_t)cnt;
		o[1] = (uint8_t)(cnt >> 8);
		for (unsigned j = 0; j < SLOT_RUN; j++) {
			if (!r->ptr[j])
				continue;
			memcpy(d + end, r->ptr[j], r->len[j]);
			end += r->len[j];
			e[0] = (uint8_t)j;
			e[1] = (uint8_t)end;
			e[2] = (uint8_t)(end >> 8);
			e[3] = (uint8_t)(end >> 16);
			e += BLK_ENT;
		}
	}
	free(runs);
	slots_reset(w);
	w->flushed = true;
	return rc;
}
