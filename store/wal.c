/*
 * wal.c — the recent-samples log: a commit that only extends series logs
 * their samples here (write.c) instead of rewriting their heads; folds
 * apply them to the heads a slice of the series at a time, and snapshots
 * read them through a shared view (read.c).
 */
#include "store_int.h"

#include <math.h>
#include <stdlib.h>

/*
 * A commit whose samples only extend series (every sample newer than the
 * series' newest) does not rewrite the series' heads: it appends one
 * record to the `wal` table holding all of its samples. Heads are B-tree
 * values spread over every page of their table, so rewriting them for a
 * scrape of 10,000 series dirties (and fsyncs) every page; the record is a
 * few dozen pages written once, appended in key order.
 *
 * Series are split into WAL_SLICES slices (runs of 256 ids, round robin)
 * and a commit writes one portion per slice it has samples of. Each commit
 * folds the slice whose turn it is (its sequence number modulo WAL_SLICES)
 * into the heads: that slice's unfolded portions are applied and its mark
 * in meta wal_folded moves to the previous sequence number. A commit's
 * portions are stored in groups of WAL_GROUP slices that fold one after
 * the other, an entry per group, deleted once the group's last slice is
 * folded past it: a few commits after the first, so little of what the log
 * holds is folded already (a record per commit, deleted once all sixteen
 * slices were past it, would hold half of it folded), and entries stay
 * large enough to fill their pages. So a scrape of every series rewrites
 * a sixteenth of the heads, each head takes ~16 samples at a time, and no
 * commit rewrites them all (which would also double the file's high-water mark for a
 * moment). A commit that goes behind a logged sample (late data, a
 * replace), or a log over WAL_MAX_SAMPLES, folds everything first.
 *
 * Entry (key: the commit's sequence number, 8 bytes big-endian, never
 * reused, then the group, 1 byte; so the log is only ever appended to):
 *   WAL_GROUP u32 LE, the byte length of each slice's portion, then the
 *   portions. A portion: varint nseries (5 bytes), then per series
 *   (ascending id): varint (id - previous id) << 1 | more, and when more
 *   is set varint n (else n is 1), then n samples:
 *       varint zigzag(ts - previous ts in the portion), value
 *   value, against the series' previous logged sample ("prev": the one
 *   before in the portion, else the last in the slice's earlier unfolded
 *   portions, else none):
 *       varint zigzag(x) << 2   an integer (|v| <= 2^53, not -0.0): x = v
 *                               - prev when prev is such an integer too,
 *                               else x = v (a counter's step: one byte)
 *       1                       the same bits as prev
 *       2, then 8 bytes LE      any other double
 *   Decoding therefore starts at a slice's fold mark, as every reader of
 *   the log does; the writer knows each logged series' last sample (its
 *   map), and a fold clears the slice's map, so the first portion after a
 *   mark refers to nothing before it. Format 2's records: legacy.c.
 * Every unfolded sample of the log is newer than every stored sample of
 * its series and samples of one series are ascending across records, so a
 * reader appends a series' logged samples after its head: no merging.
 *
 * Readers: the log as a snapshot sees it, decoded into per-series arrays,
 * is a view shared by all snapshots that see the same log (meta wal_gen
 * counts its changes), built once per new log state.
 */

/* ---- encoding ---------------------------------------------------------------- */

static void put_varint(struct pw_buf *b, uint64_t v)
{
	uint8_t tmp[VARINT_MAX_BYTES];
	pw_buf_append(b, tmp, varint_put(tmp, v));
}

void wal_rec_begin(struct wal_rec_enc *r)
{
	pw_buf_init(&r->buf, 0);
	r->nseries = 0;
	r->nsamples = 0;
	r->last_id = 0;
	r->last_ts = 0;
	/* room for the series count, written at the end */
	pw_buf_append(&r->buf, "\0\0\0\0\0", 5);
}

void wal_rec_series(struct wal_rec_enc *r, uint64_t id, size_t n)
{
	put_varint(&r->buf, (id - r->last_id) << 1 | (n > 1));
	if (n > 1)
		put_varint(&r->buf, n);
	r->last_id = id;
	r->nseries++;
}

/* An integer int64 arithmetic holds exactly; -0.0 is not (its sign). */
static bool safe_int(double v)
{
	return v == v && fabs(v) <= 9007199254740992.0 && v == (double)(int64_t)v &&
	       !(v == 0 && signbit(v));
}

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

void wal_rec_sample(struct wal_rec_enc *r, int64_t ts, double v, const double *prev)
{
	/* room for the longest sample (two varints and 8 bytes) at once: this
	 * runs for every sample a commit logs */
	size_t at = r->buf.len;
	uint8_t *p0 = (uint8_t *)pw_buf_grow(&r->buf, 2 * VARINT_MAX_BYTES + 8), *p = p0;
	p += varint_put(p, zigzag((int64_t)((uint64_t)ts - (uint64_t)r->last_ts)));
	r->last_ts = ts;
	if (prev && same_bits(v, *prev)) {
		p += varint_put(p, 1);
	} else if (safe_int(v)) {
		int64_t x = (int64_t)v;
		if (prev && safe_int(*prev))
			x -= (int64_t)*prev; /* both within 2^53: no overflow */
		p += varint_put(p, zigzag(x) << 2);
	} else {
		uint64_t bits;
		memcpy(&bits, &v, 8);
		p += varint_put(p, 2);
		le64_put(p, bits);
		p += 8;
	}
	r->buf.len = at + (size_t)(p - p0);
	r->buf.data[r->buf.len] = '\0';
	r->nsamples++;
}

/* The finished record: the series count as a fixed 5-byte varint in
 * front (so it can be written last). */
void wal_rec_finish(struct wal_rec_enc *r, const uint8_t **p, size_t *len)
{
	uint8_t *h = (uint8_t *)r->buf.data;
	uint64_t v = r->nseries;
	for (int i = 0; i < 4; i++) {
		h[i] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	h[4] = (uint8_t)(v & 0x7f);
	*p = (const uint8_t *)r->buf.data;
	*len = r->buf.len;
}

void wal_rec_free(struct wal_rec_enc *r) { pw_buf_free(&r->buf); }

/* ---- id -> value hash (open addressing, id 0 = empty) ------------------- */

/* Two kinds of table, two slot functions.
 *
 * A wal_map only ever holds the ids of one slice (the writer's per slice,
 * wal_read's per slice too). A slice's ids are runs of 256 every 4,096
 * (wal_slice_of): c numbers them densely, so a commit's ascending ids
 * visit the table in order rather than at random (the table is larger
 * than the caches at 10,000 series: scattered, the writer's look-ups
 * before and updates after a commit were a sixth of a scrape-order
 * commit's CPU). Within each window of cap consecutive c the slots are
 * c's low bits XORed with a hash of the window's number: a bijection, so
 * dense ids never collide, and cache lines are visited together; ids of
 * other windows land elsewhere. c drops the slice's bits (8 to 11): ids
 * of the sixteen slices that differ only there share c, so a table
 * holding ids of several slices must not use slice_slot. In one table,
 * 10,000 dense ids made runs of thousands of occupied slots and every
 * look-up walked them (quadratic: the readers' view of the log took
 * seconds to build, remote_write and queries stalled behind it).
 *
 * The readers' view holds the ids of every slice: any_slot, a
 * multiplicative hash, spreads whatever ids it is given. */
static size_t slice_slot(uint64_t id, size_t cap)
{
	uint64_t c = (id >> 12 << 8) | (id & 255);
	uint64_t w = c >> __builtin_ctzll((unsigned long long)cap);
	return (size_t)(c ^ ((w * 0x9e3779b97f4a7c15ULL) >> 20)) & (cap - 1);
}

static size_t any_slot(uint64_t id, size_t cap)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 17) & (cap - 1);
}

/* ---- the writer's picture of the log ------------------------------------ */

static struct wal_last *map_find(const struct wal_map *m, uint64_t id)
{
	if (!m->cap)
		return NULL;
	for (size_t i = slice_slot(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->tab[i].id == id)
			return &m->tab[i];
		if (m->tab[i].id == 0)
			return NULL;
	}
}

static void map_set(struct wal_map *m, uint64_t id, int64_t ts, double v)
{
	struct wal_last *e;
	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 256;
		struct wal_last *old = m->tab;
		size_t ocap = m->cap;
		m->tab = xcalloc(ncap, sizeof *m->tab);
		m->cap = ncap;
		for (size_t i = 0; i < ocap; i++) {
			if (!old[i].id)
				continue;
			size_t j = slice_slot(old[i].id, ncap);
			while (m->tab[j].id) {
				j = (j + 1) & (ncap - 1);
				m->probes++;
			}
			m->tab[j] = old[i];
		}
		free(old);
	}
	for (size_t i = slice_slot(id, m->cap);; i = (i + 1) & (m->cap - 1), m->probes++) {
		e = &m->tab[i];
		if (e->id == id || e->id == 0)
			break;
	}
	if (!e->id) {
		e->id = id;
		m->n++;
	}
	e->ts = ts;
	e->v = v;
}

/* Walk one portion: cb(ctx, id, ts, v) for every sample in order. prev
 * holds each series' last sample of the slice's earlier portions and is
 * updated (NULL: a portion on its own). v1: a portion as format 2 wrote
 * it (legacy.c). Returns 0, MDB_CORRUPTED for a malformed portion, or
 * what cb returned. */
static int rec_walk(const MDB_val *val, struct wal_map *prev, bool v1,
		    int (*cb)(void *, uint64_t, int64_t, double), void *ctx)
{
	const uint8_t *p = val->mv_data, *end = p + val->mv_size;
	uint64_t nser, id = 0;
	int64_t ts = 0;

	if (!varint_get(&p, end, &nser))
		return MDB_CORRUPTED;
	for (uint64_t i = 0; i < nser; i++) {
		uint64_t did, n = 1, h;
		if (v1) {
			if (!legacy_wal_series(&p, end, &did, &n))
				return MDB_CORRUPTED;
		} else {
			if (!varint_get(&p, end, &h) || ((h & 1) && (!varint_get(&p, end, &n) || n < 2)))
				return MDB_CORRUPTED;
			did = h >> 1;
		}
		if ((did == 0 && i > 0) || n > (uint64_t)(end - p))
			return MDB_CORRUPTED;
		id += did;
		const struct wal_last *last = prev ? map_find(prev, id) : NULL;
		bool have = last != NULL;
		double pv = have ? last->v : 0;
		for (uint64_t j = 0; j < n; j++) {
			uint64_t dts, vh;
			double v;
			int rc;
			if (!varint_get(&p, end, &dts) || !varint_get(&p, end, &vh))
				return MDB_CORRUPTED;
			ts = (int64_t)((uint64_t)ts + (uint64_t)unzigzag(dts));
			if (v1) {
				if (!legacy_wal_value(vh, &p, end, &v))
					return MDB_CORRUPTED;
			} else if (vh == 1) {
				if (!have)
					return MDB_CORRUPTED;
				v = pv;
			} else if (vh == 2) {
				if (!f64_get(&p, end, &v))
					return MDB_CORRUPTED;
			} else if ((vh & 3) == 0) {
				uint64_t x = (uint64_t)unzigzag(vh >> 2);
				if (have && safe_int(pv))
					x += (uint64_t)(int64_t)pv; /* wraps on bad input only */
				v = (double)(int64_t)x;
			} else {
				return MDB_CORRUPTED;
			}
			if ((rc = cb(ctx, id, ts, v)) != 0)
				return rc;
			have = true;
			pv = v;
		}
		if (prev)
			map_set(prev, id, ts, pv);
	}
	return p == end ? 0 : MDB_CORRUPTED;
}

int wal_rec_walk(const MDB_val *val, int (*cb)(void *, uint64_t, int64_t, double), void *ctx)
{
	return rec_walk(val, NULL, false, cb, ctx);
}

bool wal_writer_last(const struct wal_writer *w, uint64_t id, int64_t *ts, double *v)
{
	const struct wal_last *e = map_find(&w->slice[wal_slice_of(id)].map, id);
	if (!e)
		return false;
	*ts = e->ts;
	*v = e->v;
	return true;
}

void wal_writer_set(struct wal_writer *w, uint64_t id, int64_t ts, double v)
{
	map_set(&w->slice[wal_slice_of(id)].map, id, ts, v);
}

void wal_writer_clear_slice(struct wal_writer *w, unsigned slice)
{
	struct wal_slice *sl = &w->slice[slice];
	w->nsamples -= sl->nsamples;
	if (sl->map.cap > 4096) { /* do not keep a large table for a small log */
		free(sl->map.tab);
		sl->map.tab = NULL;
		sl->map.cap = 0;
	} else if (sl->map.cap) {
		memset(sl->map.tab, 0, sl->map.cap * sizeof *sl->map.tab);
	}
	sl->map.n = 0;
	sl->nrecs = 0;
	sl->nsamples = 0;
}

void wal_writer_reset(struct wal_writer *w)
{
	for (unsigned i = 0; i < WAL_SLICES; i++)
		wal_writer_clear_slice(w, i);
	w->nsamples = 0;
}

void wal_writer_free(struct wal_writer *w)
{
	for (unsigned i = 0; i < WAL_SLICES; i++)
		free(w->slice[i].map.tab);
	memset(w, 0, sizeof *w);
}

static int wlast_cb(void *ctx, uint64_t id, int64_t ts, double v)
{
	struct wal_writer *w = ctx;
	wal_writer_set(w, id, ts, v);
	w->slice[wal_slice_of(id)].nsamples++;
	w->nsamples++;
	return 0;
}

int wal_writer_sync(struct store *s, MDB_txn *txn)
{
	struct wal_writer *w = &s->wal;
	uint64_t gen;
	int rc;

	if ((rc = store__meta_get_u64(txn, s, "wal_gen", &gen)) != 0)
		return rc;
	if (w->valid && gen == w->gen)
		return 0;
	/* another process wrote, or this is the first commit: read the log */
	wal_writer_reset(w);
	w->valid = false;
	size_t nrecs[WAL_SLICES] = {0};
	if ((rc = wal_folded_get(s, txn, w->folded)) != 0 ||
	    (rc = wal_read(s, txn, -1, w->folded, nrecs, wlast_cb, w)) != 0)
		return rc;
	for (unsigned i = 0; i < WAL_SLICES; i++)
		w->slice[i].nrecs = nrecs[i];
	w->gen = gen;
	w->valid = true;
	return 0;
}

/* ---- the readers' view ---------------------------------------------------- */

struct wv_ent {
	uint64_t id;
	uint32_t off, n;
};

struct wal_view {
	unsigned refs;
	uint64_t gen; /* meta wal_gen of the log it shows */
	struct wv_ent *tab;
	size_t cap;
	uint64_t probes; /* while building: s->wal_probes */
	int64_t *ts;
	double *vs;
};

static struct wv_ent *wv_slot(struct wal_view *w, uint64_t id, bool insert)
{
	for (size_t i = any_slot(id, w->cap);; i = (i + 1) & (w->cap - 1), w->probes++) {
		if (w->tab[i].id == id)
			return &w->tab[i];
		if (w->tab[i].id == 0) {
			if (!insert)
				return NULL;
			w->tab[i].id = id;
			return &w->tab[i];
		}
	}
}

int wal_samples_add(void *ctx, uint64_t id, int64_t ts, double v)
{
	struct wal_samples *w = ctx;
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 4096;
		w->id = xreallocarray(w->id, w->cap, sizeof *w->id);
		w->ts = xreallocarray(w->ts, w->cap, sizeof *w->ts);
		w->vs = xreallocarray(w->vs, w->cap, sizeof *w->vs);
	}
	w->id[w->n] = id;
	w->ts[w->n] = ts;
	w->vs[w->n++] = v;
	return 0;
}

void wal_samples_free(struct wal_samples *w)
{
	free(w->id);
	free(w->ts);
	free(w->vs);
	memset(w, 0, sizeof *w);
}

/* The log decoded once into flat arrays, counted per series on the way. */
struct wv_build {
	struct wal_view *w;
	size_t nids;
	struct wal_samples all;
};

static int wv_collect_cb(void *ctx, uint64_t id, int64_t ts, double v)
{
	struct wv_build *b = ctx;
	if (b->all.n == UINT32_MAX)
		return MDB_CORRUPTED;
	wal_samples_add(&b->all, id, ts, v);
	/* grow at half load: rebuild the table with the counts so far */
	if ((b->nids + 1) * 2 > b->w->cap) {
		struct wal_view *w = b->w;
		struct wv_ent *old = w->tab;
		size_t ocap = w->cap;
		w->cap = ocap ? ocap * 2 : 1024;
		w->tab = xcalloc(w->cap, sizeof *w->tab);
		for (size_t i = 0; i < ocap; i++)
			if (old[i].id)
				*wv_slot(w, old[i].id, true) = old[i];
		free(old);
	}
	struct wv_ent *e = wv_slot(b->w, id, true);
	if (e->n == 0)
		b->nids++;
	e->n++;
	return 0;
}

static void wv_free(struct wal_view *w)
{
	if (!w)
		return;
	free(w->tab);
	free(w->ts);
	free(w->vs);
	free(w);
}

void wal_view_unref(struct wal_view *w)
{
	if (w && __atomic_sub_fetch(&w->refs, 1, __ATOMIC_ACQ_REL) == 0)
		wv_free(w);
}

static int wv_build(struct store *s, MDB_txn *txn, uint64_t gen, struct wal_view **out)
{
	uint64_t folded[WAL_SLICES];
	struct wal_view *w = xcalloc(1, sizeof *w);
	struct wv_build b = {.w = w};
	size_t off = 0;
	int rc;

	w->refs = 1;
	w->gen = gen;
	if ((rc = wal_folded_get(s, txn, folded)) != 0 ||
	    (rc = wal_read(s, txn, -1, folded, NULL, wv_collect_cb, &b)) != 0)
		goto out;
	w->ts = xreallocarray(NULL, b.all.n ? b.all.n : 1, sizeof *w->ts);
	w->vs = xreallocarray(NULL, b.all.n ? b.all.n : 1, sizeof *w->vs);
	for (size_t i = 0; i < w->cap; i++) {
		if (!w->tab[i].id)
			continue;
		w->tab[i].off = (uint32_t)off;
		off += w->tab[i].n;
	}
	/* place each series' samples together, in log order; off counts up
	 * while filling, n stays the total */
	for (size_t i = 0; i < b.all.n; i++) {
		struct wv_ent *e = wv_slot(w, b.all.id[i], false);
		w->ts[e->off] = b.all.ts[i];
		w->vs[e->off++] = b.all.vs[i];
	}
	for (size_t i = 0; i < w->cap; i++) /* back to the start */
		if (w->tab[i].id)
			w->tab[i].off -= w->tab[i].n;
out:
	wal_samples_free(&b.all);
	__atomic_add_fetch(&s->wal_probes, w->probes, __ATOMIC_RELAXED);
	if (rc != 0) {
		wv_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int wal_folded_get(struct store *s, MDB_txn *txn, uint64_t folded[WAL_SLICES])
{
	MDB_val k = {10, (void *)"wal_folded"}, v;
	int rc = mdb_get(txn, s->dbi_meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		memset(folded, 0, WAL_SLICES * sizeof *folded);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (v.mv_size != WAL_SLICES * 8)
		return MDB_CORRUPTED;
	for (unsigned i = 0; i < WAL_SLICES; i++)
		folded[i] = key_get_u64((const uint8_t *)v.mv_data + 8 * i);
	return 0;
}

int wal_folded_put(struct store *s, MDB_txn *txn, const uint64_t folded[WAL_SLICES])
{
	uint8_t b[WAL_SLICES * 8];
	MDB_val k = {10, (void *)"wal_folded"}, v = {sizeof b, b};
	for (unsigned i = 0; i < WAL_SLICES; i++)
		key_put_u64(b + 8 * i, folded[i]);
	return mdb_put(txn, s->dbi_meta, &k, &v, 0);
}

void wal_key(uint8_t kb[WAL_KEY_BYTES], unsigned group, uint64_t seq)
{
	key_put_u64(kb, seq);
	kb[8] = (uint8_t)group;
}

/* Portion j of an entry holding nparts (u32 LE lengths, then the
 * portions): 0 and *out (empty when it has none), or MDB_CORRUPTED. */
static int entry_portion(const MDB_val *ent, unsigned nparts, unsigned j, MDB_val *out)
{
	const uint8_t *p = ent->mv_data;
	size_t off = 4u * nparts, len = 0;
	if (ent->mv_size < off)
		return MDB_CORRUPTED;
	for (unsigned i = 0; i <= j; i++) {
		uint32_t l = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
			     (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
		if (i < j)
			off += l;
		else
			len = l;
		if (off > ent->mv_size)
			return MDB_CORRUPTED;
	}
	if (len > ent->mv_size - off)
		return MDB_CORRUPTED;
	out->mv_data = (uint8_t *)ent->mv_data + off;
	out->mv_size = len;
	return 0;
}

int wal_read(struct store *s, MDB_txn *txn, int slice, const uint64_t folded[WAL_SLICES],
	     size_t *nrecs, int (*cb)(void *, uint64_t, int64_t, double), void *ctx)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t kb[WAL_KEY_BYTES];
	uint64_t from = UINT64_MAX;
	/* per slice, each series' last sample so far: a portion refers to the
	 * earlier portions of its slice only, and a wal_map holds one slice's
	 * ids (slice_slot) */
	struct wal_map prev[WAL_SLICES] = {{0}};
	uint64_t probes = 0;
	size_t klen = s->wal_v1 ? WAL_V1_KEY_BYTES : WAL_KEY_BYTES;
	unsigned nparts = s->wal_v1 ? WAL_V1_PARTS : WAL_GROUP;
	int rc = 0;

	for (unsigned i = 0; i < WAL_SLICES; i++)
		if ((slice < 0 || (int)i == slice) && folded[i] < from)
			from = folded[i];
	if (from == UINT64_MAX)
		return 0;
	if ((rc = mdb_cursor_open(txn, s->dbi_wal, &c)) != 0)
		return rc;
	wal_key(kb, 0, from + 1);
	k.mv_size = klen;
	k.mv_data = kb;
	/* in log order, so each slice's portions come in the order of its
	 * series' samples */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		unsigned g = s->wal_v1 ? 0 : ((const uint8_t *)k.mv_data)[8];
		if (k.mv_size != klen || g * nparts >= WAL_SLICES) {
			rc = MDB_CORRUPTED;
			break;
		}
		uint64_t seq = key_get_u64(k.mv_data);
		for (unsigned j = 0; j < nparts && rc == 0; j++) {
			unsigned i = g * nparts + j;
			MDB_val part;
			if ((slice >= 0 && (int)i != slice) || seq <= folded[i])
				continue;
			if ((rc = entry_portion(&v, nparts, j, &part)) != 0 || part.mv_size == 0)
				continue;
			if (nrecs)
				nrecs[i]++;
			rc = rec_walk(&part, &prev[i], s->wal_v1, cb, ctx);
		}
		if (rc != 0)
			break;
	}
	mdb_cursor_close(c);
	for (unsigned i = 0; i < WAL_SLICES; i++) {
		probes += prev[i].probes;
		free(prev[i].tab);
	}
	__atomic_add_fetch(&s->wal_probes, probes, __ATOMIC_RELAXED);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int wal_view_get(struct store *s, MDB_txn *txn, struct wal_view **out)
{
	uint64_t gen;
	struct wal_view *w;
	MDB_stat ms;
	int rc;

	*out = NULL;
	if (!s->dbi_wal)
		return 0; /* a store from before the log, opened read-only */
	if ((rc = mdb_stat(txn, s->dbi_wal, &ms)) != 0)
		return rc;
	if (ms.ms_entries == 0) {
		/* folded: the last view is of no use any more */
		pthread_mutex_lock(&s->vlock);
		w = s->view;
		s->view = NULL;
		pthread_mutex_unlock(&s->vlock);
		wal_view_unref(w);
		return 0;
	}
	if ((rc = store__meta_get_u64(txn, s, "wal_gen", &gen)) != 0)
		return rc;
	pthread_mutex_lock(&s->vlock);
	w = s->view;
	if (w && w->gen == gen) {
		__atomic_add_fetch(&w->refs, 1, __ATOMIC_ACQ_REL);
		pthread_mutex_unlock(&s->vlock);
		*out = w;
		return 0;
	}
	pthread_mutex_unlock(&s->vlock);
	if ((rc = wv_build(s, txn, gen, &w)) != 0)
		return rc;
	/* keep the newest view for the snapshots to come */
	pthread_mutex_lock(&s->vlock);
	if (!s->view || s->view->gen < gen) {
		struct wal_view *old = s->view;
		__atomic_add_fetch(&w->refs, 1, __ATOMIC_ACQ_REL);
		s->view = w;
		pthread_mutex_unlock(&s->vlock);
		wal_view_unref(old);
	} else {
		pthread_mutex_unlock(&s->vlock);
	}
	*out = w;
	return 0;
}

size_t wal_view_find(const struct wal_view *w, uint64_t id, const int64_t **ts, const double **vs)
{
	if (!w || !w->cap)
		return 0;
	for (size_t i = any_slot(id, w->cap);; i = (i + 1) & (w->cap - 1)) {
		const struct wv_ent *e = &w->tab[i];
		if (e->id == id) {
			*ts = w->ts + e->off;
			*vs = w->vs + e->off;
			return e->n;
		}
		if (e->id == 0)
			return 0;
	}
}
