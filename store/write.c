/*
 * write.c — write batches, the way in for samples (collector/, alerts/,
 * exporters/' import): puts are checked and buffered; a commit applies the
 * batch in one LMDB transaction, to the log (wal.c) when it only extends
 * series, else to heads and segments (slots.c, chunk.c). On MDB_MAP_FULL
 * the map grows and the batch is replayed: all or nothing.
 */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>

struct ent {
	uint64_t hash;
	uint64_t id;
	uint64_t gen; /* id came from a store_key valid in cache generation gen - 1 */
	uint32_t off, len; /* encoded labels in the arena */
	uint32_t seq;
	int64_t ts;
	double v;
};

struct meta_ent {
	char *metric, *help, *unit;
	int type; /* -1 = leave */
};

struct store_batch {
	/* buffers, kept for the next batch (batch_free) */
	struct pw_buf arena;
	struct ent *ents;
	size_t cap;
	struct ent *sorted; /* ents_sort's second array */
	size_t sorted_cap;
	bool kept; /* store_batch_keep: its owner's between commits */
	int64_t *ts_a, *ts_b; /* scratch for merges */
	double *v_a, *v_b;
	size_t scratch_cap;
	int64_t *ts_c; /* an open block and what is appended to it */
	double *v_c;
	size_t cap_c;
	struct { uint64_t hash, id; } *created;
	size_t capcreated;
	struct wal_last *logged;
	size_t caplogged;
	struct wal_last *inlog;
	size_t capinlog;
	uint8_t headbuf[CHUNK_BUF_BYTES];
	uint8_t segbuf[CHUNK_BUF_BYTES];
	/* the batch: from here on zeroed for the next one */
	struct store *s;
	size_t n; /* entries in ents */
	struct meta_ent *metas;
	size_t nmeta;
	int err;
	char *errmsg;
	/* cache entries created by the current attempt, undone on failure */
	size_t ncreated;
	int64_t added;
	uint64_t next_seq; /* next key in the segs log */
	MDB_txn *txn;      /* of the current attempt */
	/* the log records of the current attempt, one per slice (wal.c) */
	struct wal_rec_enc rec[WAL_SLICES];
	uint32_t rec_open;  /* bit per slice */
	bool folded_all;    /* the whole log was folded */
	int folded_slice;   /* the slice folded, or -1 */
	uint64_t folded[WAL_SLICES]; /* meta wal_folded as this attempt leaves it */
	size_t nlogged; /* series logged and their newest sample, in logged */
	/* inlog, per series of the batch (at its first entry): its newest
	 * logged timestamp as behind_log() found it; id 0 when it has none */
	char *idmsg; /* why series ids ran out */
};

/* A finished batch's buffers go to the next batch of the store: a
 * scrape's batch grows to the same size every time, and allocated anew,
 * buffers that large come from mmap and fault in page by page at every
 * commit. Buffers past this size are given back instead. */
#define BATCH_KEEP_BYTES (64u << 20)

struct store_batch *store_batch_begin(struct store *s)
{
	struct store_batch *b = __atomic_exchange_n(&s->spare_batch, NULL, __ATOMIC_ACQ_REL);
	if (!b) {
		b = xcalloc(1, sizeof *b);
		pw_buf_init(&b->arena, 0);
	}
	b->s = s;
	b->folded_slice = -1;
	return b;
}

static void batch_destroy(struct store_batch *b)
{
	pw_buf_free(&b->arena);
	free(b->ents);
	free(b->sorted);
	free(b->ts_a);
	free(b->ts_b);
	free(b->v_a);
	free(b->v_b);
	free(b->ts_c);
	free(b->v_c);
	free(b->created);
	free(b->logged);
	free(b->inlog);
	free(b);
}

void store__batch_spare_free(struct store *s)
{
	struct store_batch *b = __atomic_exchange_n(&s->spare_batch, NULL, __ATOMIC_ACQ_REL);
	if (b)
		batch_destroy(b);
}

static void batch_free(struct store_batch *b)
{
	for (size_t i = 0; i < b->nmeta; i++) {
		free(b->metas[i].metric);
		free(b->metas[i].help);
		free(b->metas[i].unit);
	}
	free(b->metas);
	free(b->errmsg);
	free(b->idmsg);
	for (unsigned i = 0; i < WAL_SLICES; i++)
		if (b->rec_open & (1u << i))
			wal_rec_free(&b->rec[i]);
	size_t bytes = b->arena.cap + (b->cap + b->sorted_cap) * sizeof *b->ents +
		       b->scratch_cap * (2 * sizeof *b->ts_a + 2 * sizeof *b->v_a) +
		       b->capinlog * sizeof *b->inlog + b->caplogged * sizeof *b->logged;
	if (!b->kept && bytes > BATCH_KEEP_BYTES) {
		batch_destroy(b);
		return;
	}
	/* keep the buffers, forget everything else */
	struct store *s = b->s;
	b->arena.len = 0;
	memset((char *)b + offsetof(struct store_batch, s), 0,
	       sizeof *b - offsetof(struct store_batch, s));
	if (b->kept) { /* its owner's, ready for the next batch */
		b->s = s;
		b->folded_slice = -1;
		return;
	}
	struct store_batch *old = __atomic_exchange_n(&s->spare_batch, b, __ATOMIC_ACQ_REL);
	if (old)
		batch_destroy(old);
}

void store_batch_abort(struct store_batch *b)
{
	if (b)
		batch_free(b);
}

void store_batch_keep(struct store_batch *b)
{
	b->kept = true;
}

void store_batch_free(struct store_batch *b)
{
	if (!b)
		return;
	b->kept = true;
	batch_free(b); /* what the batch holds, its buffers kept */
	batch_destroy(b);
}

const char *store_batch_error(const struct store_batch *b) { return b->errmsg; }

static int poison(struct store_batch *b, int err, char *msg)
{
	if (b->err == 0) {
		b->err = err;
		b->errmsg = msg;
	} else {
		free(msg);
	}
	return err;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pw_label *)a)->name, ((const struct pw_label *)b)->name);
}

/* check, sort and encode labels into out (pw_labels_encode's canonical
 * bytes: "name\0" then "label\0value\0" sorted by label); 0, or PW_EINVAL
 * with a message. This runs once per sample written through
 * store_batch_put, so strings are compared as little as possible: a
 * strictly ascending list (what writers usually hand) is sorted and has
 * no duplicates. */
static int encode(const struct pw_label *labels, size_t n, struct pw_buf *out, char **msg)
{
	struct pw_label small[33], *all = small, *ls = small + 1; /* all[0]: the name */
	const char *metric = NULL;
	size_t nl = 0;
	bool ascending = true;
	char esc[128];
	int rc = 0;

	*msg = NULL;
	if (n > 32) {
		all = xcalloc(n + 1, sizeof *all);
		ls = all + 1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = labels[i].name;
		if (name[0] == '_' && name[1] == '_' && strcmp(name, "__name__") == 0) {
			if (metric) {
				*msg = xstrdup("duplicate label name \"__name__\"");
				rc = PW_EINVAL;
				goto out;
			}
			metric = labels[i].value;
			continue;
		}
		size_t len = strlen(name);
		if (!pw_valid_label_name(name, len) || len > LABEL_NAME_MAX) {
			pw_esc(esc, sizeof esc, name, len);
			*msg = xasprintf("invalid label name \"%s\": must match "
					 "[a-zA-Z_][a-zA-Z0-9_]* (at most %u bytes)",
					 esc, LABEL_NAME_MAX);
			rc = PW_EINVAL;
			goto out;
		}
		if (labels[i].value[0] == '\0')
			continue; /* an empty label value is the same as no label */
		if (nl > 0 && ascending && strcmp(ls[nl - 1].name, name) >= 0)
			ascending = false;
		ls[nl++] = labels[i];
	}
	if (!metric) {
		*msg = xstrdup("sample without a metric name");
		rc = PW_EINVAL;
		goto out;
	}
	if (!pw_valid_metric_name(metric, strlen(metric))) {
		pw_esc(esc, sizeof esc, metric, strlen(metric));
		*msg = xasprintf("invalid metric name \"%s\": must match [a-zA-Z_:][a-zA-Z0-9_:]*",
				 esc);
		rc = PW_EINVAL;
		goto out;
	}
	if (!ascending) {
		qsort(ls, nl, sizeof *ls, label_cmp);
		for (size_t i = 1; i < nl; i++)
			if (strcmp(ls[i].name, ls[i - 1].name) == 0) {
				*msg = xasprintf("duplicate label name \"%s\"", ls[i].name);
				rc = PW_EINVAL;
				goto out;
			}
	}
	all[0] = (struct pw_label){"__name__", metric};
	if ((rc = pw_labels_encode(all, nl + 1, out)) != 0)
		*msg = xstrdup("the batch's labels passed the buffer's maximum");
out:
	if (all != small)
		free(all);
	return rc;
}

/* a new entry for the bytes at arena[start, end) (hash: computed unless given) */
static void add_ent(struct store_batch *b, size_t start, const uint64_t *hash, int64_t ts,
		    double v)
{
	struct ent *e;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->ents = xreallocarray(b->ents, b->cap, sizeof *b->ents);
	}
	e = &b->ents[b->n];
	e->off = (uint32_t)start;
	e->len = (uint32_t)(b->arena.len - start);
	/* Same series as the previous put (backfill order): share the bytes. */
	if (b->n > 0 && b->ents[b->n - 1].len == e->len &&
	    memcmp(b->arena.data + b->ents[b->n - 1].off, b->arena.data + start, e->len) == 0) {
		e->off = b->ents[b->n - 1].off;
		e->hash = b->ents[b->n - 1].hash;
		b->arena.len = start;
	} else {
		e->hash = hash ? *hash : pw_hash64(b->arena.data + start, e->len);
	}
	e->seq = (uint32_t)b->n;
	e->ts = ts;
	e->v = v;
	e->id = 0;
	e->gen = 0;
	b->n++;
}

int store_batch_put(struct store_batch *b, const struct pw_label *labels, size_t n,
		    int64_t ts, double v)
{
	char *msg;
	size_t start;
	int rc;

	if (b->err)
		return PW_EPOISONED;
	start = b->arena.len;
	if ((rc = encode(labels, n, &b->arena, &msg)) != 0) {
		b->arena.len = start;
		return poison(b, rc, msg);
	}
	add_ent(b, start, NULL, ts, v);
	return 0;
}

int store_key_make(const struct pw_label *labels, size_t n, struct store_key *out, char **cause)
{
	struct pw_buf e;
	char *msg;
	int rc;
	memset(out, 0, sizeof *out);
	pw_buf_init(&e, 0);
	if ((rc = encode(labels, n, &e, &msg)) != 0) {
		pw_buf_free(&e);
		if (cause)
			*cause = msg;
		else
			free(msg);
		return rc;
	}
	out->len = (uint32_t)e.len;
	out->enc = pw_buf_take(&e);
	out->hash = pw_hash64(out->enc, out->len);
	return 0;
}

void store_key_free(struct store_key *k)
{
	free(k->enc);
	memset(k, 0, sizeof *k);
}

int store_batch_put_key(struct store_batch *b, const struct store_key *k, int64_t ts, double v)
{
	size_t start;
	if (b->err)
		return PW_EPOISONED;
	start = b->arena.len;
	pw_buf_append(&b->arena, k->enc, k->len);
	add_ent(b, start, &k->hash, ts, v);
	b->ents[b->n - 1].id = k->id;
	b->ents[b->n - 1].gen = k->gen;
	return 0;
}

bool store_key_stale(struct store *s, const struct store_key *k)
{
	return k->enc && (!k->id || k->gen != __atomic_load_n(&s->cache_gen, __ATOMIC_RELAXED) + 1);
}

uint64_t store_keys_generation(struct store *s)
{
	return __atomic_load_n(&s->cache_gen, __ATOMIC_RELAXED) + 1;
}

void store_keys_resolve(struct store *s, struct store_key *const *keys, size_t n)
{
	pthread_mutex_lock(&s->wlock);
	uint64_t now = s->cache_gen + 1;
	for (size_t i = 0; i < n; i++) {
		struct store_key *k = keys[i];
		if (!k->enc || (k->id && k->gen == now))
			continue;
		k->id = cache_find(&s->cache, k->hash, k->enc, k->len);
		k->gen = k->id ? now : 0;
	}
	pthread_mutex_unlock(&s->wlock);
}

int store_batch_put_meta(struct store_batch *b, const char *metric, enum store_metric_type type,
			 const char *help, const char *unit)
{
	struct meta_ent *m;

	if (b->err)
		return PW_EPOISONED;
	if (!pw_valid_metric_name(metric, strlen(metric)) ||
	    strlen(metric) > POSTING_KEY_MAX)
		return poison(b, PW_EINVAL, xasprintf("invalid metric name in metadata"));
	b->metas = xreallocarray(b->metas, b->nmeta + 1, sizeof *b->metas);
	m = &b->metas[b->nmeta++];
	m->metric = xstrdup(metric);
	m->help = help ? xstrdup(help) : NULL;
	m->unit = unit ? xstrdup(unit) : NULL;
	m->type = (int)type;
	return 0;
}

struct store_batch_mark store_batch_mark(const struct store_batch *b)
{
	return (struct store_batch_mark){b->n, b->arena.len, b->nmeta, b->err};
}

void store_batch_rewind(struct store_batch *b, struct store_batch_mark m)
{
	if (m.n > b->n || m.arena > b->arena.len || m.nmeta > b->nmeta)
		return; /* not a mark of this batch as it is */
	b->n = m.n;
	b->arena.len = m.arena;
	for (size_t i = m.nmeta; i < b->nmeta; i++) {
		free(b->metas[i].metric);
		free(b->metas[i].help);
		free(b->metas[i].unit);
	}
	b->nmeta = m.nmeta;
	if (!m.err && b->err) {
		b->err = 0;
		free(b->errmsg);
		b->errmsg = NULL;
	}
}

int store_batch_merge(struct store_batch *dst, struct store_batch *src)
{
	int rc = src->err;
	size_t base;

	if (rc) {
		batch_free(src);
		return rc;
	}
	if (dst->err) {
		batch_free(src);
		return PW_EPOISONED;
	}
	base = dst->arena.len;
	pw_buf_append(&dst->arena, src->arena.data ? src->arena.data : "", src->arena.len);
	if (dst->n + src->n > dst->cap) {
		dst->cap = dst->n + src->n;
		dst->ents = xreallocarray(dst->ents, dst->cap, sizeof *dst->ents);
	}
	for (size_t i = 0; i < src->n; i++) {
		struct ent e = src->ents[i];
		e.off += (uint32_t)base;
		e.seq = (uint32_t)(dst->n);
		dst->ents[dst->n++] = e;
	}
	if (src->nmeta) {
		dst->metas = xreallocarray(dst->metas, dst->nmeta + src->nmeta, sizeof *dst->metas);
		memcpy(dst->metas + dst->nmeta, src->metas, src->nmeta * sizeof *src->metas);
		dst->nmeta += src->nmeta;
		src->nmeta = 0; /* moved */
	}
	batch_free(src);
	return 0;
}

static int ent_cmp(const void *pa, const void *pb)
{
	const struct ent *a = pa, *b = pb;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Entries src[0 .. n) in (id, ts, seq) order, in src or in tmp (room for
 * n): the one returned. A scrape's batch, or a KPI slot's, writes its
 * series in the order they were made: it is in order already, or a few
 * runs in order (series made later); a fold of the log reads one run in id
 * order per commit. Runs are merged pairwise, so a handful of runs costs a
 * few passes, not a full sort; many runs are sorted. */
static struct ent *ents_order(struct ent *src, size_t n, struct ent *tmp)
{
	size_t nr = 0, cap = 0, *r = NULL;
	struct ent *dst = tmp;
	if (n < 2)
		return src;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || ent_cmp(&src[i - 1], &src[i]) > 0) {
			if (nr == cap) {
				cap = cap ? 2 * cap : 16;
				r = xreallocarray(r, cap + 1, sizeof *r);
			}
			r[nr++] = i;
		}
	if (nr == 1 || nr > n / 16) {
		if (nr > 1)
			qsort(src, n, sizeof *src, ent_cmp);
		free(r);
		return src;
	}
	r[nr] = n; /* run k is [r[k], r[k + 1]) */
	while (nr > 1) {
		size_t w = 0;
		for (size_t k = 0; k < nr; k += 2) {
			size_t a = r[k], am = r[k + 1], o = a;
			if (k + 1 == nr) { /* an odd run out: copied */
				memcpy(dst + a, src + a, (am - a) * sizeof *src);
				r[w++] = r[k];
				continue;
			}
			size_t c = am, bm = r[k + 2];
			while (a < am && c < bm)
				dst[o++] = ent_cmp(&src[c], &src[a]) < 0 ? src[c++] : src[a++];
			memcpy(dst + o, src + a, (am - a) * sizeof *src);
			o += am - a;
			memcpy(dst + o, src + c, (bm - c) * sizeof *src);
			r[w++] = r[k];
		}
		r[w] = n;
		nr = w;
		struct ent *t = src;
		src = dst;
		dst = t;
	}
	free(r);
	return src;
}

static void scratch(struct store_batch *b, size_t n)
{
	if (n <= b->scratch_cap)
		return;
	b->scratch_cap = n * 2;
	b->ts_a = xreallocarray(b->ts_a, b->scratch_cap, sizeof *b->ts_a);
	b->ts_b = xreallocarray(b->ts_b, b->scratch_cap, sizeof *b->ts_b);
	b->v_a = xreallocarray(b->v_a, b->scratch_cap, sizeof *b->v_a);
	b->v_b = xreallocarray(b->v_b, b->scratch_cap, sizeof *b->v_b);
}

/* Decode chunk bytes and append their samples to ts_a/v_a at *n. */
static int decode_chunk_into(struct store_batch *b, const void *p, size_t len, size_t *n)
{
	struct chunk_dec d;
	int cnt = chunk_dec_init(&d, p, len), rc;
	int64_t t;
	double v;

	if (cnt < 0)
		return MDB_CORRUPTED;
	scratch(b, *n + (size_t)cnt);
	while ((rc = chunk_dec_next(&d, &t, &v)) == 1) {
		b->ts_a[*n] = t;
		b->v_a[*n] = v;
		(*n)++;
	}
	return rc < 0 ? MDB_CORRUPTED : 0;
}

/* Decode a block (block.c) and append its samples to ts_a/v_a at *n. */
static int decode_blk_into(struct store_batch *b, const void *p, size_t len, size_t *n)
{
	struct blk_codec *c = &b->s->blkw;
	size_t got;

	if (blk_decode(c, p, len, &got) != 0)
		return MDB_CORRUPTED;
	scratch(b, *n + got);
	memcpy(b->ts_a + *n, c->ts, got * sizeof *c->ts);
	memcpy(b->v_a + *n, c->vs, got * sizeof *c->vs);
	*n += got;
	return 0;
}

static int decode_head_into(struct store_batch *b, const void *p, size_t len, size_t *n)
{
	struct head h;
	if (head_parse(p, len, false, &h) != 0)
		return MDB_CORRUPTED;
	return decode_chunk_into(b, h.chunk, h.clen, n);
}

/* Merge the existing samples (ts_a/v_a[0..na)) with new ones (sorted,
 * unique) into ts_b/v_b; new values replace equal timestamps. */
static size_t merge(struct store_batch *b, size_t na, const struct ent *nw, size_t nn)
{
	size_t i = 0, j = 0, o = 0;

	scratch(b, na + nn);
	while (i < na || j < nn) {
		if (j >= nn || (i < na && b->ts_a[i] < nw[j].ts)) {
			b->ts_b[o] = b->ts_a[i];
			b->v_b[o++] = b->v_a[i++];
		} else {
			if (i < na && b->ts_a[i] == nw[j].ts)
				i++; /* replaced */
			else
				b->added++;
			b->ts_b[o] = nw[j].ts;
			b->v_b[o++] = nw[j].v;
			j++;
		}
	}
	return o;
}

/* Write a segment (a block, len bytes) of series id starting at mint: as
 * the series' open segment (the open table, behind its first timestamp)
 * while it is its last one and has room, else appended to the segs log
 * with the chunks index pointing at it. */
static int put_segment(struct store_batch *b, MDB_txn *txn, uint64_t id, int64_t mint,
		       const uint8_t *blk, size_t len, bool open)
{
	uint8_t kb[16], sk[8];
	MDB_val k = {16, kb}, v = {8, sk};
	int rc;

	key_put_u64(kb, id);
	key_put_ts(kb + 8, mint);
	if (open)
		return slot_put(b->s, txn, SLOT_OPEN, id, kb + 8, OPEN_BLK_HDR, blk, len);
	key_put_u64(sk, b->next_seq++);
	{
		/* sealed: only ever appended, so its pages are full */
		MDB_val lk = {8, sk}, lv = {len, (void *)blk};
		if ((rc = mdb_put(txn, b->s->dbi_segs, &lk, &lv, MDB_APPEND)) != 0)
			return rc;
	}
	return mdb_put(txn, b->s->dbi_chunks, &k, &v, 0);
}

/* The open segment of series id: 0 and its block, MDB_NOTFOUND, or an
 * error. *mint is its first timestamp. */
static int open_get(struct store_batch *b, MDB_txn *txn, uint64_t id, MDB_val *v, int64_t *mint)
{
	int rc;

	if ((rc = slot_get(b->s, txn, SLOT_OPEN, id, v)) != 0)
		return rc;
	if (v->mv_size < OPEN_BLK_HDR + 2 || v->mv_size > OPEN_BLK_MAX)
		return MDB_CORRUPTED;
	*mint = key_get_ts(v->mv_data);
	v->mv_data = (uint8_t *)v->mv_data + OPEN_BLK_HDR;
	v->mv_size -= OPEN_BLK_HDR;
	return 0;
}

static int open_del(struct store_batch *b, MDB_txn *txn, uint64_t id)
{
	return slot_del(b->s, txn, SLOT_OPEN, id);
}

/* Write the head of series id: appender state + chunk. */
static int put_head(struct store_batch *b, uint64_t id, const struct chunk_app *a,
		    const uint8_t *chunk)
{
	uint8_t st[HEAD_STATE_MAX];
	size_t n = head_state_put(a, chunk, st);
	return slot_put(b->s, b->txn, SLOT_HEADS, id, st, n, chunk, chunk_app_bytes(a));
}

static int head_find(struct store_batch *b, uint64_t id, MDB_val *v)
{
	return slot_get(b->s, b->txn, SLOT_HEADS, id, v);
}

/* Does a block of len bytes and n samples stay open to grow? */
static bool blk_room(size_t len, size_t n) { return len <= BLK_OPEN_ROOM && n < BLK_MAX_SAMPLES; }

/* Write samples as new blocks of up to BLK_CAP_BYTES each; when they end
 * the series' segments (last_region), the final piece stays open if it
 * has room to grow. */
static int write_segments(struct store_batch *b, MDB_txn *txn, uint64_t id, const int64_t *ts,
			  const double *vs, size_t n, bool last_region)
{
	size_t done = 0, len;
	int rc;

	while (done < n) {
		size_t k = blk_encode_fit(&b->s->blkw, ts + done, vs + done, n - done, b->segbuf,
					  BLK_CAP_BYTES, &len);
		bool open = last_region && done + k == n && blk_room(len, k);
		if ((rc = put_segment(b, txn, id, ts[done], b->segbuf, len, open)) != 0)
			return rc;
		done += k;
	}
	return 0;
}

/* Append samples newer than everything in the series' segments: into its
 * open block while the result fits (re-encoded whole: this happens once
 * per head flush, every 120 to 239 samples), else the open block is
 * sealed as it is and new ones start. */
static int seg_append(struct store_batch *b, MDB_txn *txn, uint64_t id, const int64_t *ts,
		      const double *vs, size_t n)
{
	MDB_val v;
	int64_t mint;
	int rc;

	if (n == 0)
		return 0;
	rc = open_get(b, txn, id, &v, &mint);
	if (rc == 0) {
		struct blk_codec *c = &b->s->blkw;
		size_t na = 0, len = 0;
		/* ts and vs may be ts_a/v_a or ts_b/v_b: ts_c/v_c are ours */
		if (blk_decode(c, v.mv_data, v.mv_size, &na) != 0)
			return MDB_CORRUPTED;
		if (na + n <= BLK_MAX_SAMPLES) {
			if (na + n > b->cap_c) {
				b->cap_c = BLK_MAX_SAMPLES;
				b->ts_c = xreallocarray(b->ts_c, b->cap_c, sizeof *b->ts_c);
				b->v_c = xreallocarray(b->v_c, b->cap_c, sizeof *b->v_c);
			}
			memcpy(b->ts_c, c->ts, na * sizeof *ts);
			memcpy(b->v_c, c->vs, na * sizeof *vs);
			memcpy(b->ts_c + na, ts, n * sizeof *ts);
			memcpy(b->v_c + na, vs, n * sizeof *vs);
			len = blk_encode(c, b->ts_c, b->v_c, na + n, b->segbuf, BLK_CAP_BYTES);
		}
		if (len > 0) { /* all of it in the open block, sealed when full */
			bool room = blk_room(len, na + n);
			if (!room && (rc = open_del(b, txn, id)) != 0)
				return rc;
			return put_segment(b, txn, id, mint, b->segbuf, len, room);
		}
		/* sealed as it is; the new samples start afresh */
		if ((rc = put_segment(b, txn, id, mint, v.mv_data, v.mv_size, false)) != 0 ||
		    (rc = open_del(b, txn, id)) != 0)
			return rc;
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	return write_segments(b, txn, id, ts, vs, n, true);
}

/* Merge samples older than the head into the segments that cover them:
 * sealed ones through the chunks index, then the open one. */
static int apply_sealed(struct store_batch *b, MDB_txn *txn, MDB_cursor *cur, uint64_t id,
			const struct ent *e, size_t n)
{
	size_t i = 0;
	int rc;

	while (i < n) {
		uint8_t kb[16];
		MDB_val k = {16, kb}, v, ov;
		int64_t next_mint = INT64_MAX, omint = INT64_MAX;
		size_t j, na = 0, nm;
		bool in_open = false;

		rc = open_get(b, txn, id, &ov, &omint);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return rc;
		if (rc == MDB_NOTFOUND)
			omint = INT64_MAX;
		if (e[i].ts >= omint) {
			in_open = true;
		} else {
			/* the chunk with the greatest mint <= ts, else the first */
			key_put_u64(kb, id);
			key_put_ts(kb + 8, e[i].ts);
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
			if (!(rc == 0 && key_get_u64(k.mv_data) == id &&
			      key_get_ts((uint8_t *)k.mv_data + 8) == e[i].ts)) {
				if (rc == 0)
					rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
				else if (rc == MDB_NOTFOUND)
					rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
				if (rc == MDB_NOTFOUND || (rc == 0 && key_get_u64(k.mv_data) != id)) {
					/* before the series' first chunk: merge into it */
					key_put_u64(kb, id);
					key_put_ts(kb + 8, INT64_MIN);
					k.mv_data = kb;
					k.mv_size = 16;
					rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
				}
				if (rc == MDB_NOTFOUND || (rc == 0 && key_get_u64(k.mv_data) != id)) {
					/* no sealed chunk at all: the open segment */
					if (omint == INT64_MAX)
						return MDB_CORRUPTED;
					in_open = true;
					rc = 0;
				}
				if (rc != 0)
					return rc;
			}
		}
		if (in_open) {
			if ((rc = decode_blk_into(b, ov.mv_data, ov.mv_size, &na)) != 0 ||
			    (rc = open_del(b, txn, id)) != 0)
				return rc;
		} else {
			MDB_val data;
			uint8_t seq[8];
			bool ptr = v.mv_size == 8; /* else inline (format 1's, seg_resolve) */
			int64_t cmint = key_get_ts((uint8_t *)k.mv_data + 8);
			if (ptr)
				memcpy(seq, v.mv_data, 8);
			if ((rc = seg_resolve(txn, b->s, &v, &data)) != 0 ||
			    (rc = ptr && seg_is_blk(b->s, seq)
					  ? decode_blk_into(b, data.mv_data, data.mv_size, &na)
					  : decode_chunk_into(b, data.mv_data, data.mv_size, &na)) != 0)
				return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
			if (ptr) { /* the sealed copy goes; the merge is written anew */
				MDB_val sk = {8, seq};
				if ((rc = mdb_del(txn, b->s->dbi_segs, &sk, NULL)) != 0)
					return rc;
				/* re-position: the delete may have moved pages */
				k.mv_data = kb;
				k.mv_size = 16;
				key_put_u64(kb, id);
				key_put_ts(kb + 8, cmint);
				if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY)) != 0)
					return rc;
			}
			{
				MDB_val nk, nv;
				if (mdb_cursor_get(cur, &nk, &nv, MDB_NEXT) == 0 &&
				    key_get_u64(nk.mv_data) == id)
					next_mint = key_get_ts((uint8_t *)nk.mv_data + 8);
				else
					next_mint = omint;
			}
			k.mv_data = kb;
			k.mv_size = 16;
			key_put_u64(kb, id);
			key_put_ts(kb + 8, cmint);
			if ((rc = mdb_del(txn, b->s->dbi_chunks, &k, NULL)) != 0)
				return rc;
		}
		for (j = i; j < n && e[j].ts < next_mint; j++)
			;
		nm = merge(b, na, e + i, j - i);
		if ((rc = write_segments(b, txn, id, b->ts_b, b->v_b, nm, next_mint == INT64_MAX)) != 0)
			return rc;
		i = j;
	}
	return 0;
}

/* Has series id any segment, sealed or open? */
static int has_sealed(struct store_batch *b, MDB_txn *txn, MDB_cursor *cur, uint64_t id,
		      bool *yes)
{
	uint8_t kb[16];
	MDB_val k = {16, kb}, v;
	int rc;

	key_put_u64(kb, id);
	key_put_ts(kb + 8, INT64_MIN);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	*yes = rc == 0 && key_get_u64(k.mv_data) == id;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (!*yes) {
		rc = slot_get(b->s, txn, SLOT_OPEN, id, &v);
		*yes = rc == 0;
		if (rc != 0 && rc != MDB_NOTFOUND)
			return rc;
	}
	return 0;
}

/* A series' head flushes into its open block at this many samples: runs of
 * open blocks flush at different fill levels, so that series scraped
 * together do not all rewrite their segments in the same commit; the
 * series of one run flush at the same level, so that a run scraped
 * together is rewritten once per flush, not once per series. */
static unsigned head_max_of(uint64_t id)
{
	uint64_t orun = id >> OPEN_RUN_BITS;
	return HEAD_MAX_SAMPLES / 2 +
	       (unsigned)((orun * 0x9e3779b97f4a7c15ULL) >> 32) % (HEAD_MAX_SAMPLES / 2);
}

/* Samples written whole (a new series, an import, a merge) go to the
 * segments, except the newest half head's worth (60 to 119 samples: 15 to
 * 30 minutes at 15 s), which start a new head. A read of the last minutes
 * then decodes the head alone, as it does for a scraped series, instead of
 * the end of an open block of up to 2,048 samples. ts/vs must be newer than
 * every segment sample. */
static int write_tail(struct store_batch *b, MDB_txn *txn, uint64_t id, const int64_t *ts,
		      const double *vs, size_t n)
{
	struct chunk_app a;
	size_t keep = head_max_of(id) / 2, got;
	int rc;

	if (keep > n)
		keep = n;
	/* the newest `keep` that fit in a head (random doubles may not) */
	while ((got = chunk_encode(ts + n - keep, vs + n - keep, keep, b->headbuf,
				   CHUNK_CAP_BYTES, HEAD_MAX_SAMPLES, &a)) < keep)
		keep = got;
	if (n > keep && (rc = seg_append(b, txn, id, ts, vs, n - keep)) != 0)
		return rc;
	return put_head(b, id, &a, b->headbuf);
}

/* Apply the samples of series id (sorted, one per timestamp) to its head
 * and segments: appends go to the head without decoding it, older samples
 * are merged into the segments that cover them, equal timestamps
 * replace. */
static int apply_series(struct store_batch *b, MDB_txn *txn, MDB_cursor *ccur, uint64_t id,
			const struct ent *e, size_t n)
{
	MDB_val v;
	struct chunk_app a;
	uint8_t *buf = b->headbuf;
	int64_t head_mint;
	size_t i, split;
	bool sealed;
	int rc;

	rc = head_find(b, id, &v);
	if (rc == MDB_NOTFOUND) {
		/* New series (or emptied by retention). */
		scratch(b, n);
		for (i = 0; i < n; i++) {
			b->ts_b[i] = e[i].ts;
			b->v_b[i] = e[i].v;
		}
		b->added += (int64_t)n;
		return write_tail(b, txn, id, b->ts_b, b->v_b, n);
	}
	if (rc != 0)
		return rc;
	struct head h;
	if (head_parse(v.mv_data, v.mv_size, false, &h) != 0)
		return MDB_CORRUPTED;
	a = h.a;
	head_mint = h.mint;
	for (split = 0; split < n && e[split].ts < head_mint; split++)
		;
	if (split > 0) {
		if ((rc = has_sealed(b, txn, ccur, id, &sealed)) != 0)
			return rc;
		if (!sealed)
			split = 0; /* nothing older: the head takes them */
	}
	if (split > 0) {
		if ((rc = apply_sealed(b, txn, ccur, id, e, split)) != 0)
			return rc;
		if ((rc = head_find(b, id, &v)) != 0)
			return rc;
		if (head_parse(v.mv_data, v.mv_size, false, &h) != 0)
			return MDB_CORRUPTED;
	}
	e += split;
	n -= split;
	if (n == 0)
		return 0;

	if (e[0].ts > a.t) {
		/* Fast path: append to the head without decoding it; a full
		 * head moves into the last segment. */
		unsigned head_max = head_max_of(id);
		/* appends OR their bits in: zero what the n samples can reach
		 * (not the whole buffer: this runs once per series per commit) */
		size_t zero = h.clen + n * CHUNK_SAMPLE_MAX_BYTES + 1;
		memcpy(buf, h.chunk, h.clen);
		memset(buf + h.clen, 0, (zero < CHUNK_BUF_BYTES ? zero : CHUNK_BUF_BYTES) - h.clen);
		for (i = 0; i < n; i++) {
			if (!chunk_app_room(&a, CHUNK_CAP_BYTES, head_max)) {
				size_t na = 0;
				{
					struct chunk_dec d;
					int64_t t;
					double dv;
					int r;
					chunk_dec_init(&d, buf, chunk_app_bytes(&a));
					scratch(b, a.count);
					while ((r = chunk_dec_next(&d, &t, &dv)) == 1) {
						b->ts_a[na] = t;
						b->v_a[na++] = dv;
					}
					if (r < 0)
						return MDB_CORRUPTED;
				}
				if ((rc = seg_append(b, txn, id, b->ts_a, b->v_a, na)) != 0)
					return rc;
				chunk_app_init(&a);
				memset(buf, 0, CHUNK_BUF_BYTES);
			}
			chunk_app_add(&a, buf, e[i].ts, e[i].v);
		}
		b->added += (int64_t)n;
		return put_head(b, id, &a, buf);
	}
	/* Merge into the head, re-encode: all but the newest sample go to the
	 * segments, the newest starts a new head. */
	{
		size_t na = 0, nm;
		if ((rc = decode_head_into(b, v.mv_data, v.mv_size, &na)) != 0)
			return rc;
		nm = merge(b, na, e, n);
		return write_tail(b, txn, id, b->ts_b, b->v_b, nm);
	}
}

/* ---- the recent-samples log (wal.c) ---------------------------------------- */

/* Delete the entries whose slices are all folded past them. */
static int wal_trim(struct store *s, MDB_txn *txn, const uint64_t folded[WAL_SLICES])
{
	uint64_t upto = 0, gmin[WAL_GROUPS];
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	for (unsigned g = 0; g < WAL_GROUPS; g++) {
		gmin[g] = UINT64_MAX;
		for (unsigned j = 0; j < WAL_GROUP; j++)
			if (folded[g * WAL_GROUP + j] < gmin[g])
				gmin[g] = folded[g * WAL_GROUP + j];
		if (gmin[g] > upto)
			upto = gmin[g];
	}
	if ((rc = mdb_cursor_open(txn, s->dbi_wal, &c)) != 0)
		return rc;
	/* the oldest entries; after a delete, MDB_NEXT returns the entry
	 * that followed it */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	     rc == 0 && k.mv_size == WAL_KEY_BYTES && key_get_u64(k.mv_data) <= upto;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		unsigned g = ((const uint8_t *)k.mv_data)[8];
		if (g < WAL_GROUPS && key_get_u64(k.mv_data) <= gmin[g] &&
		    (rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Apply the logged samples of one slice (or all, slice < 0) to the heads,
 * inside txn, and mark them folded through seq `through` in folded[];
 * records every slice is past are deleted. The samples were counted when
 * they were logged. */
static int wal_fold(struct store_batch *b, MDB_txn *txn, MDB_cursor *ccur, int slice,
		    uint64_t folded[WAL_SLICES], uint64_t through)
{
	struct store *s = b->s;
	struct wal_samples got = {0};
	struct ent *own = NULL, *tmp = NULL, *v; /* v: own or tmp, sorted */
	size_t n = 0;
	int64_t added = b->added;
	int rc;

	if ((rc = wal_read(s, txn, slice, folded, NULL, wal_samples_add, &got)) != 0)
		goto out;
	n = got.n;
	own = xreallocarray(NULL, n ? n : 1, sizeof *own);
	for (size_t i = 0; i < n; i++)
		own[i] = (struct ent){.id = got.id[i], .ts = got.ts[i], .v = got.vs[i],
				      .seq = (uint32_t)i};
	wal_samples_free(&got);
	for (unsigned i = 0; i < WAL_SLICES; i++)
		if ((slice < 0 || (int)i == slice) && folded[i] < through)
			folded[i] = through;
	if ((rc = slice < 0 ? mdb_drop(txn, s->dbi_wal, 0) : wal_trim(s, txn, folded)) != 0 ||
	    (rc = wal_folded_put(s, txn, folded)) != 0 || n == 0)
		goto out;
	/* ascending timestamps per series already; seq keeps a series'
	 * samples in the log's order */
	tmp = xreallocarray(NULL, n, sizeof *tmp);
	v = ents_order(own, n, tmp);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && v[j].id == v[i].id)
			j++;
		if ((rc = apply_series(b, txn, ccur, v[i].id, v + i, j - i)) != 0)
			goto out;
		i = j;
	}
out:
	b->added = added;
	wal_samples_free(&got); /* a read that failed part way holds some */
	free(own);
	free(tmp);
	return rc;
}

/* Count a change of the log, so that readers and other writers see it. */
static int wal_gen_bump(struct store *s, MDB_txn *txn, uint64_t *gen)
{
	int rc = store__meta_get_u64(txn, s, "wal_gen", gen);
	if (rc == 0)
		rc = store__meta_put_u64(txn, s, "wal_gen", ++*gen);
	return rc;
}

int store__wal_fold(struct store *s, MDB_txn *txn)
{
	struct store_batch *b = store_batch_begin(s);
	MDB_cursor *ccur = NULL;
	MDB_stat ms;
	uint64_t gen, seq, folded[WAL_SLICES];
	int rc;

	if ((rc = mdb_stat(txn, s->dbi_wal, &ms)) != 0 || ms.ms_entries == 0)
		goto out;
	if ((rc = store__meta_get_u64(txn, s, "next_seq", &b->next_seq)) == 0 &&
	    (rc = store__meta_get_u64(txn, s, "wal_seq", &seq)) == 0 &&
	    (rc = wal_folded_get(s, txn, folded)) == 0 &&
	    (rc = mdb_cursor_open(txn, s->dbi_chunks, &ccur)) == 0 &&
	    (b->txn = txn, rc = wal_fold(b, txn, ccur, -1, folded, seq)) == 0 &&
	    (rc = store__meta_put_u64(txn, s, "next_seq", b->next_seq)) == 0)
		rc = wal_gen_bump(s, txn, &gen);
out:
	if (ccur)
		mdb_cursor_close(ccur);
	batch_free(b);
	s->wal.valid = false; /* re-read at the next commit */
	return rc;
}

/* Log the samples of series id instead of rewriting its head when they
 * all come after its newest sample; *logged says whether they were. */
static int log_series(struct store_batch *b, size_t at, size_t n, bool *logged)
{
	const struct ent *e = b->ents + at;
	uint64_t id = e->id;
	int64_t last;
	int rc;

	*logged = false;
	unsigned sl = wal_slice_of(id);
	/* the series' previous logged sample, which values refer to; none
	 * when its slice was folded by this commit */
	bool prev_known = !(b->folded_all || (int)sl == b->folded_slice || b->inlog[at].id != id);
	double prev = 0;
	if (!prev_known) {
		struct head h;
		MDB_val v;
		rc = head_find(b, id, &v);
		if (rc == MDB_NOTFOUND)
			return 0; /* a new series: it needs a head */
		if (rc != 0)
			return rc;
		if (head_parse(v.mv_data, v.mv_size, false, &h) != 0)
			return MDB_CORRUPTED;
		last = h.a.t;
	} else {
		last = b->inlog[at].ts;
		prev = b->inlog[at].v;
	}
	if (e[0].ts <= last)
		return 0;
	if (!(b->rec_open & (1u << sl))) {
		wal_rec_begin(&b->rec[sl]);
		b->rec_open |= 1u << sl;
	}
	wal_rec_series(&b->rec[sl], id, n);
	for (size_t i = 0; i < n; i++) {
		wal_rec_sample(&b->rec[sl], e[i].ts, e[i].v, prev_known ? &prev : NULL);
		prev = e[i].v;
		prev_known = true;
	}
	if (b->nlogged == b->caplogged) {
		b->caplogged = b->caplogged ? b->caplogged * 2 : 256;
		b->logged = xreallocarray(b->logged, b->caplogged, sizeof *b->logged);
	}
	b->logged[b->nlogged++] = (struct wal_last){id, e[n - 1].ts, e[n - 1].v};
	b->added += (int64_t)n;
	*logged = true;
	return 0;
}

/* Does the batch go behind a logged sample of some series? Then the log
 * must be folded first. Notes each series' newest logged timestamp in
 * b->inlog for log_series(). */
static bool behind_log(struct store_batch *b)
{
	const struct wal_writer *w = &b->s->wal;
	if (b->n > b->capinlog) {
		b->capinlog = b->n;
		b->inlog = xreallocarray(b->inlog, b->capinlog, sizeof *b->inlog);
	}
	for (size_t i = 0; i < b->n; i++) {
		if (i > 0 && b->ents[i - 1].id == b->ents[i].id)
			continue;
		b->inlog[i].id = 0;
		if (w->nsamples &&
		    wal_writer_last(w, b->ents[i].id, &b->inlog[i].ts, &b->inlog[i].v)) {
			b->inlog[i].id = b->ents[i].id;
			if (b->ents[i].ts <= b->inlog[i].ts)
				return true;
		}
	}
	return false;
}

/* Put this attempt's portions under sequence number seq: an entry per
 * group of slices it logged series of. */
static int wal_append(struct store_batch *b, MDB_txn *txn, uint64_t seq)
{
	struct store *s = b->s;
	uint8_t kb[WAL_KEY_BYTES];
	int rc;

	for (unsigned g = 0; g < WAL_GROUPS; g++) {
		const uint8_t *p[WAL_GROUP];
		size_t len[WAL_GROUP], total = WAL_GROUP_HEADER;
		for (unsigned j = 0; j < WAL_GROUP; j++) {
			unsigned sl = g * WAL_GROUP + j;
			len[j] = 0;
			if (b->rec_open & (1u << sl)) {
				wal_rec_finish(&b->rec[sl], &p[j], &len[j]);
				total += len[j];
			}
		}
		if (total == WAL_GROUP_HEADER)
			continue;
		wal_key(kb, g, seq);
		MDB_val k = {sizeof kb, kb}, v = {total, NULL};
		if ((rc = mdb_put(txn, s->dbi_wal, &k, &v, MDB_APPEND | MDB_RESERVE)) != 0)
			return rc;
		uint8_t *o = v.mv_data, *d = o + WAL_GROUP_HEADER;
		for (unsigned j = 0; j < WAL_GROUP; j++) {
			uint32_t l = (uint32_t)len[j];
			o[4 * j] = (uint8_t)l;
			o[4 * j + 1] = (uint8_t)(l >> 8);
			o[4 * j + 2] = (uint8_t)(l >> 16);
			o[4 * j + 3] = (uint8_t)(l >> 24);
			if (l) {
				memcpy(d, p[j], l);
				d += l;
			}
		}
	}
	return store__meta_put_u64(txn, s, "wal_seq", seq);
}

static int resolve_ids(struct store_batch *b, MDB_txn *txn, uint64_t *next_id)
{
	struct store *s = b->s;
	int rc;

	b->ncreated = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct ent *e = &b->ents[i];
		const char *enc = b->arena.data + e->off;
		uint64_t id;

		if (i > 0 && b->ents[i - 1].off == e->off) {
			e->id = b->ents[i - 1].id;
			continue;
		}
		if (e->id && e->gen == s->cache_gen + 1)
			continue; /* from a resolved store_key, still valid */
		id = cache_find(&s->cache, e->hash, enc, e->len);
		if (id == 0) { /* the cache holds every series: a new one */
			if (*next_id > POSTING_ID_MAX) {
				free(b->idmsg);
				b->idmsg = xasprintf("store %s has no series id left: ids are "
						     "never reused and %llu series were created",
						     s->path, (unsigned long long)POSTING_ID_MAX);
				return PW_ETOOBIG;
			}
			if (s->max_series && s->cache.n >= s->max_series) {
				/* every series lives in the writer's memory: refuse
				 * the batch rather than grow past the limit */
				free(b->idmsg);
				b->idmsg = xasprintf("store %s holds %zu series, its limit "
						     "(storage.max_series %llu): a batch with new "
						     "series is refused",
						     s->path, s->cache.n,
						     (unsigned long long)s->max_series);
				return PW_ETOOBIG;
			}
			id = (*next_id)++;
			if ((rc = series_create(s, txn, e->hash, enc, e->len, id)) != 0)
				return rc;
			if (b->ncreated == b->capcreated) {
				b->capcreated = b->capcreated ? b->capcreated * 2 : 64;
				b->created =
					xreallocarray(b->created, b->capcreated, sizeof *b->created);
			}
			b->created[b->ncreated].hash = e->hash;
			b->created[b->ncreated++].id = id;
			cache_insert(&s->cache, e->hash, id, enc, e->len);
		}
		e->id = id;
	}
	return 0;
}

static int apply_meta(struct store_batch *b, MDB_txn *txn)
{
	for (size_t i = 0; i < b->nmeta; i++) {
		struct meta_ent *m = &b->metas[i];
		MDB_val k = {strlen(m->metric), m->metric}, v;
		uint8_t type = 0;
		const char *help = "", *unit = "";
		struct pw_buf val;
		int rc = mdb_get(txn, b->s->dbi_metadata, &k, &v);

		if (rc == 0 && v.mv_size >= 3) {
			type = ((uint8_t *)v.mv_data)[0];
			help = (const char *)v.mv_data + 1;
			unit = help + strlen(help) + 1;
		} else if (rc != 0 && rc != MDB_NOTFOUND) {
			return rc;
		}
		pw_buf_init(&val, 0);
		pw_buf_putc(&val, (char)(m->type >= 0 ? (uint8_t)m->type : type));
		pw_buf_append(&val, m->help ? m->help : help, strlen(m->help ? m->help : help) + 1);
		pw_buf_append(&val, m->unit ? m->unit : unit, strlen(m->unit ? m->unit : unit) + 1);
		v.mv_size = val.len;
		v.mv_data = val.data;
		rc = mdb_put(txn, b->s->dbi_metadata, &k, &v, 0);
		pw_buf_free(&val);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* the change feed: under the next sequence number, (id, mint, maxt) of
 * every series this commit wrote; b->ents is sorted by id, then time */
static int feed_append(struct store_batch *b, MDB_txn *txn)
{
	struct store *s = b->s;
	uint64_t seq;
	int rc;
	size_t nser = 0;
	if ((rc = store__meta_get_u64(txn, s, "feed_seq", &seq)) != 0)
		return rc;
	seq++;
	uint8_t *v = xmalloc(b->n * 24 + 1), kb[8];
	for (size_t i = 0; i < b->n;) {
		size_t j = i;
		int64_t lo = b->ents[i].ts, hi = b->ents[i].ts;
		while (j < b->n && b->ents[j].id == b->ents[i].id) {
			if (b->ents[j].ts < lo)
				lo = b->ents[j].ts;
			if (b->ents[j].ts > hi)
				hi = b->ents[j].ts;
			j++;
		}
		key_put_u64(v + nser * 24, b->ents[i].id);
		key_put_u64(v + nser * 24 + 8, (uint64_t)lo);
		key_put_u64(v + nser * 24 + 16, (uint64_t)hi);
		nser++;
		i = j;
	}
	key_put_u64(kb, seq);
	MDB_val k = {8, kb}, val = {nser * 24, v};
	rc = mdb_put(txn, s->dbi_feed, &k, &val, MDB_APPEND);
	free(v);
	if (rc == 0)
		rc = store__meta_put_u64(txn, s, "feed_seq", seq);
	return rc;
}

/* The batch's entries in (id, ts, seq) order (ents_order). */
static void ents_sort(struct store_batch *b)
{
	if (b->n < 2)
		return;
	if (b->sorted_cap < b->n) {
		free(b->sorted);
		b->sorted_cap = b->cap > b->n ? b->cap : b->n;
		b->sorted = xreallocarray(NULL, b->sorted_cap, sizeof *b->sorted);
	}
	/* the array holding the merged entries becomes the batch's, the
	 * other one the second array for next time */
	if (ents_order(b->ents, b->n, b->sorted) != b->ents) {
		struct ent *e = b->ents;
		size_t c = b->cap;
		b->ents = b->sorted;
		b->cap = b->sorted_cap;
		b->sorted = e;
		b->sorted_cap = c;
	}
}

/* One attempt at applying the whole batch in one transaction. */
/* The counters a commit reads at its start and writes back at its end. */
struct apply_meta {
	uint64_t next_id, samples, seq, wgen;
};

/* The transaction's start: the store's counters, series and symbols other
 * processes made since, ids for the batch's series, entries in id order. */
static int apply_begin(struct store_batch *b, MDB_txn *txn, struct apply_meta *m)
{
	struct store *s = b->s;
	uint64_t gen;
	int rc;
	if ((rc = store__meta_get_u64(txn, s, "generation", &gen)) != 0)
		return rc;
	if (gen != s->cache_gen) { /* series were deleted by someone */
		cache_clear(&s->cache);
		__atomic_store_n(&s->cache_gen, gen, __ATOMIC_RELAXED);
	}
	if ((rc = store__meta_get_u64(txn, s, "next_id", &m->next_id)) != 0 ||
	    (rc = store__meta_get_u64(txn, s, "next_seq", &b->next_seq)) != 0 ||
	    (rc = store__meta_get_u64(txn, s, "samples", &m->samples)) != 0)
		return rc;
	if (m->next_id == 0)
		m->next_id = 1;
	/* symbols and series other processes created since, or all after a
	 * reset */
	if ((rc = sym_writer_begin(s, txn)) != 0 || (rc = cache_sync(s, txn, m->next_id)) != 0 ||
	    (rc = resolve_ids(b, txn, &m->next_id)) != 0)
		return rc;
	ents_sort(b);
	return 0;
}

/* The log before the batch goes in: fold it all when full or when this
 * batch goes behind it, else the slice whose turn it is. */
static int apply_fold(struct store_batch *b, MDB_txn *txn, MDB_cursor *ccur, struct apply_meta *m)
{
	struct store *s = b->s;
	int rc;
	for (unsigned i = 0; i < WAL_SLICES; i++)
		if (b->rec_open & (1u << i))
			wal_rec_free(&b->rec[i]);
	b->rec_open = 0;
	b->nlogged = 0;
	b->folded_all = false;
	b->folded_slice = -1;
	if ((rc = wal_writer_sync(s, txn)) != 0 ||
	    (rc = store__meta_get_u64(txn, s, "wal_seq", &m->seq)) != 0)
		return rc;
	m->wgen = s->wal.gen;
	m->seq++; /* this commit's record, if it logs */
	memcpy(b->folded, s->wal.folded, sizeof b->folded);
	bool behind = behind_log(b); /* also notes what log_series needs */
	if (s->wal.nsamples && (behind || s->wal.nsamples + b->n > WAL_MAX_SAMPLES)) {
		if ((rc = wal_fold(b, txn, ccur, -1, b->folded, m->seq - 1)) != 0)
			return rc;
		b->folded_all = true;
	} else if (s->wal.slice[m->seq % WAL_SLICES].nrecs ||
		   b->folded[m->seq % WAL_SLICES] + WAL_SLICES < m->seq) {
		/* its turn: fold it (or, with nothing logged, just move its
		 * mark so that old records can go) */
		if ((rc = wal_fold(b, txn, ccur, (int)(m->seq % WAL_SLICES), b->folded,
				   m->seq - 1)) != 0)
			return rc;
		b->folded_slice = (int)(m->seq % WAL_SLICES);
	}
	return 0;
}

/* Every series' samples: into the log when it takes them, else into the
 * series' head and segments. */
static int apply_entries(struct store_batch *b, MDB_txn *txn, MDB_cursor *ccur)
{
	bool use_log = b->n <= WAL_BATCH_MAX;
	int rc;
	for (size_t i = 0; i < b->n;) {
		size_t j = i, u = i;
		bool logged = false;
		/* unique timestamps per series: the last put wins */
		while (j < b->n && b->ents[j].id == b->ents[i].id) {
			if (u > i && b->ents[u - 1].ts == b->ents[j].ts)
				b->ents[u - 1] = b->ents[j];
			else
				b->ents[u++] = b->ents[j];
			j++;
		}
		if (use_log && (rc = log_series(b, i, u - i, &logged)) != 0)
			return rc;
		if (!logged &&
		    (rc = apply_series(b, txn, ccur, b->ents[i].id, b->ents + i, u - i)) != 0)
			return rc;
		/* The slots [u, j) now hold stale copies; make them duplicates of
		 * the last winner so that a replay (after map growth) dedups them
		 * to the same result. */
		for (size_t k = u; k < j; k++)
			b->ents[k] = b->ents[u - 1];
		i = j;
	}
	return 0;
}

/* The transaction's end: runs, metadata, the change feed, the log record,
 * symbols and the counters. */
static int apply_end(struct store_batch *b, MDB_txn *txn, struct apply_meta *m)
{
	struct store *s = b->s;
	int rc;
	if ((rc = slots_flush(s, txn)) != 0 || (rc = apply_meta(b, txn)) != 0)
		return rc;
	if (s->feed && b->n && (rc = feed_append(b, txn)) != 0)
		return rc;
	if (b->nlogged && (rc = wal_append(b, txn, m->seq)) != 0)
		return rc;
	if ((b->nlogged || b->folded_all || b->folded_slice >= 0) &&
	    (rc = wal_gen_bump(s, txn, &m->wgen)) != 0)
		return rc;
	if ((rc = sym_writer_finish(s, txn)) != 0 ||
	    (rc = store__meta_put_u64(txn, s, "next_id", m->next_id)) != 0 ||
	    (rc = store__meta_put_u64(txn, s, "next_seq", b->next_seq)) != 0 ||
	    (rc = store__meta_put_u64(txn, s, "samples", m->samples + (uint64_t)b->added)) != 0)
		return rc;
	return 0;
}

/* After the commit: what the writer keeps in memory follows what is now on
 * disk (the series it created, symbols, the log). */
static void applied(struct store_batch *b, const struct apply_meta *m)
{
	struct store *s = b->s;
	s->cache.upto = m->next_id; /* the series it created are in the cache */
	sym_writer_committed(s);
	if (b->folded_all)
		wal_writer_reset(&s->wal);
	else if (b->folded_slice >= 0)
		wal_writer_clear_slice(&s->wal, (unsigned)b->folded_slice);
	memcpy(s->wal.folded, b->folded, sizeof b->folded);
	if (b->nlogged) {
		for (unsigned i = 0; i < WAL_SLICES; i++) {
			if (!(b->rec_open & (1u << i)))
				continue;
			s->wal.slice[i].nrecs++;
			s->wal.slice[i].nsamples += b->rec[i].nsamples;
			s->wal.nsamples += b->rec[i].nsamples;
		}
		for (size_t i = 0; i < b->nlogged; i++)
			wal_writer_set(&s->wal, b->logged[i].id, b->logged[i].ts, b->logged[i].v);
	}
	s->wal.gen = m->wgen;
}

/* The batch in one write transaction: 0, or an error with nothing of it
 * applied (ids it made forgotten, the writer's caches as before). */
static int apply(struct store_batch *b)
{
	struct store *s = b->s;
	MDB_txn *txn = NULL;
	MDB_cursor *ccur = NULL;
	struct apply_meta m = {0};
	int rc;

	b->added = 0;
	slots_begin(&s->slots); /* nothing from another transaction */
	if ((rc = store__txn_begin(s, 0, &txn)) != 0)
		return rc;
	if ((rc = apply_begin(b, txn, &m)) != 0 ||
	    (rc = mdb_cursor_open(txn, s->dbi_chunks, &ccur)) != 0)
		goto fail;
	b->txn = txn;
	if ((rc = apply_fold(b, txn, ccur, &m)) != 0 || (rc = apply_entries(b, txn, ccur)) != 0)
		goto fail;
	mdb_cursor_close(ccur);
	ccur = NULL;
	if ((rc = apply_end(b, txn, &m)) != 0)
		goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto fail;
	applied(b, &m);
	return 0;
fail:
	if (ccur)
		mdb_cursor_close(ccur);
	slots_reset(&s->slots);
	sym_writer_abort(s);
	if (txn)
		mdb_txn_abort(txn);
	/* forget series ids this attempt created: they were never committed */
	for (size_t i = 0; i < b->ncreated; i++)
		cache_remove(&s->cache, b->created[i].hash, b->created[i].id);
	b->ncreated = 0;
	return rc;
}

int store_batch_commit(struct store_batch *b, char **cause)
{
	struct store *s = b->s;
	int rc;

	if (cause)
		*cause = NULL;
	if (b->err) {
		rc = b->err;
		if (cause)
			*cause = xstrdup(b->errmsg ? b->errmsg : pw_strerror(rc));
		batch_free(b);
		return rc;
	}
	if (s->read_only) {
		if (cause)
			*cause = xstrdup("store is open read-only");
		batch_free(b);
		return -EROFS;
	}
	if (b->n == 0 && b->nmeta == 0) {
		batch_free(b);
		return 0;
	}
	pthread_mutex_lock(&s->wlock);
	for (;;) {
		pthread_rwlock_rdlock(&s->resize);
		rc = apply(b);
		pthread_rwlock_unlock(&s->resize);
		if (rc != MDB_MAP_FULL)
			break;
		if ((rc = store__grow(s, cause)) != 0)
			break;
		for (size_t i = 0; i < b->n; i++)
			b->ents[i].id = 0;
	}
	pthread_mutex_unlock(&s->wlock);
	if (rc != 0 && b->idmsg && cause && !*cause)
		*cause = xstrdup(b->idmsg);
	if (rc != 0 && !(rc >= PW_E_BASE && rc < PW_E_LAST)) {
		/* an LMDB code or errno from LMDB: name it once, here */
		if (cause && !*cause)
			*cause = store__cause(rc, "writing batch");
		rc = store__err(rc);
	} else if (rc != 0 && cause && !*cause) {
		*cause = xstrdup(pw_strerror(rc));
	}
	batch_free(b);
	return rc;
}
