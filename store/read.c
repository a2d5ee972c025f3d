/*
 * read.c — the read side, for query/, alerts/ and exporters/: snapshots,
 * label matchers (RE2 through pw_regex, anchored as Prometheus anchors),
 * series selection through the postings, sample iterators (sealed segments, the open one,
 * the head, then the log's view), latest values, label names and values,
 * metadata. What it returns lives until store_snap_end().
 */
#include "store_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

uint64_t store_series_epoch(struct store_snap *snap)
{
	uint64_t next = 0, gen = 0;
	if (store__meta_get_u64(snap->txn, snap->s, "next_id", &next) != 0 ||
	    store__meta_get_u64(snap->txn, snap->s, "generation", &gen) != 0)
		return 0;
	/* ids are never reused and deletions bump the generation */
	return next ? (gen << 40) ^ next : 0;
}

int store_snap_begin(struct store *s, struct store_snap **out)
{
	struct store_snap *snap = xcalloc(1, sizeof *snap);
	int rc;

	snap->s = s;
	pthread_rwlock_rdlock(&s->resize);
	rc = store__txn_begin(s, MDB_RDONLY, &snap->txn);
	if (rc == 0 && (rc = wal_view_get(s, snap->txn, &snap->wal)) != 0)
		mdb_txn_abort(snap->txn);
	if (rc == 0) {
		/* LMDB reads a named table's root into the transaction the first
		 * time the transaction uses the table; do it here, once, so that
		 * iterators of this snapshot on other threads (a query's helpers)
		 * only read the transaction */
		const MDB_dbi dbis[] = {s->dbi_heads, s->dbi_chunks, s->dbi_segs, s->dbi_open};
		MDB_stat st;
		for (size_t i = 0; rc == 0 && i < sizeof dbis / sizeof dbis[0]; i++)
			if (dbis[i] && (rc = mdb_stat(snap->txn, dbis[i], &st)) != 0)
				mdb_txn_abort(snap->txn);
	}
	if (rc != 0) {
		pthread_rwlock_unlock(&s->resize);
		free(snap);
		*out = NULL;
		return store__err(rc);
	}
	*out = snap;
	return 0;
}

void store_snap_end(struct store_snap *snap)
{
	if (!snap)
		return;
	mdb_txn_abort(snap->txn);
	pthread_rwlock_unlock(&snap->s->resize);
	wal_view_unref(snap->wal);
	for (size_t i = 0; i < snap->nchunks; i++)
		free(snap->chunks[i]);
	free(snap->chunks);
	pw_buf_free(&snap->scratch);
	free(snap);
}

int snap_series_enc(struct store_snap *snap, const MDB_val *v, const char **enc, size_t *len)
{
	int rc;
	if (snap->s->slots_legacy) { /* format 2 or older: labels in full (legacy.c) */
		*enc = v->mv_data;
		*len = v->mv_size;
		return 0;
	}
	const char *strs[64];
	uint32_t lens[64];
	size_t ns = 0, n = 0;
	const char *src = NULL;
	rc = series_strings(snap->s, snap->txn, v, strs, lens, 64, &ns, &n);
	if (rc == PW_ETOOBIG) { /* a series of many labels */
		snap->scratch.len = 0;
		if ((rc = series_decode(snap->s, snap->txn, v, &snap->scratch)) != 0)
			return rc;
		n = snap->scratch.len;
		src = snap->scratch.data;
	} else if (rc != 0) {
		return rc;
	}
	if (n > snap->left) {
		size_t sz = n > 65536 ? n : 65536;
		snap->chunks = xreallocarray(snap->chunks, snap->nchunks + 1, sizeof *snap->chunks);
		/* zeroed: labels used to be in the map, initialised to the
		 * page's end */
		snap->cur = snap->chunks[snap->nchunks++] = xcalloc(1, sz);
		snap->left = sz;
	}
	if (src) {
		memcpy(snap->cur, src, n);
	} else {
		char *o = snap->cur;
		for (size_t i = 0; i < ns; i++) {
			memcpy(o, strs[i], lens[i] + 1); /* with its NUL */
			o += lens[i] + 1;
		}
	}
	*enc = snap->cur;
	*len = n;
	snap->cur += n;
	snap->left -= n;
	return 0;
}

void snap_series_release(struct store_snap *snap, const char *enc, size_t len)
{
	if (!snap->s->slots_legacy && enc + len == snap->cur) {
		snap->cur -= len;
		snap->left += len;
	}
}

/* ---- matchers ------------------------------------------------------------ */

int store_matcher_init(struct store_matcher *m, enum store_match_type type, const char *name,
		       const char *value, char **cause)
{
	memset(m, 0, sizeof *m);
	m->type = type;
	m->name = xstrdup(name);
	m->value = xstrdup(value);
	if (type == STORE_MATCH_RE || type == STORE_MATCH_NRE) {
		char *why = NULL;
		if (!(m->re = pw_regex_new(value, true, &why))) {
			if (cause)
				*cause = why;
			else
				free(why);
			store_matcher_free(m);
			return PW_EINVAL;
		}
	}
	return 0;
}

void store_matcher_free(struct store_matcher *m)
{
	free(m->name);
	free(m->value);
	pw_regex_free(m->re);
	memset(m, 0, sizeof *m);
}

bool store_matcher_matches(const struct store_matcher *m, const char *value)
{
	switch (m->type) {
	case STORE_MATCH_EQ: return strcmp(value, m->value) == 0;
	case STORE_MATCH_NE: return strcmp(value, m->value) != 0;
	case STORE_MATCH_RE: return pw_regex_match(m->re, value, strlen(value));
	case STORE_MATCH_NRE: return !pw_regex_match(m->re, value, strlen(value));
	}
	return false;
}

/* ---- series labels ------------------------------------------------------- */

size_t store_series_labels(const struct store_series *s, struct pw_label *out, size_t max)
{
	size_t off = 0, n = 0;
	const char *name, *value;

	while (labels_next(s->enc, s->enc_len, &off, &name, &value)) {
		if (n < max) {
			out[n].name = name;
			out[n].value = value;
		}
		n++;
	}
	return n;
}

const char *store_series_label(const struct store_series *s, const char *want)
{
	size_t off = 0;
	const char *name, *value;

	while (labels_next(s->enc, s->enc_len, &off, &name, &value))
		if (strcmp(name, want) == 0)
			return value;
	return NULL;
}

/* ---- id sets ---------------------------------------------------------------- */

struct idset {
	uint64_t *v;
	size_t n, cap;
};

static void idset_add(struct idset *s, uint64_t id)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xreallocarray(s->v, s->cap, sizeof *s->v);
	}
	s->v[s->n++] = id;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void idset_sort_unique(struct idset *s)
{
	size_t o = 0;
	bool sorted = true;
	if (s->n == 0)
		return;
	/* one label value's postings come sorted: no sort needed */
	for (size_t i = 1; i < s->n && sorted; i++)
		sorted = s->v[i - 1] <= s->v[i];
	if (!sorted)
		qsort(s->v, s->n, sizeof *s->v, u64_cmp);
	for (size_t i = 0; i < s->n; i++)
		if (o == 0 || s->v[o - 1] != s->v[i])
			s->v[o++] = s->v[i];
	s->n = o;
}

static void idset_intersect(struct idset *a, const struct idset *b)
{
	size_t i = 0, j = 0, o = 0;
	while (i < a->n && j < b->n) {
		if (a->v[i] < b->v[j])
			i++;
		else if (a->v[i] > b->v[j])
			j++;
		else {
			a->v[o++] = a->v[i++];
			j++;
		}
	}
	a->n = o;
}

/* Append the posting list under cursor position (all dups) to set. */
static int postings_read(const struct store *s, MDB_cursor *cur, struct idset *set)
{
	MDB_val k, v;
	size_t cnt = 0, w = posting_width(s);
	int rc;

	/* GET_MULTIPLE leaves data untouched for a key with a single value */
	if ((rc = mdb_cursor_count(cur, &cnt)) != 0)
		return rc;
	if (cnt == 1) {
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT)) != 0)
			return rc;
		if (v.mv_size != w)
			return MDB_CORRUPTED;
		idset_add(set, posting_id(v.mv_data, w));
		return 0;
	}
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_MULTIPLE);
	while (rc == 0) {
		for (size_t i = 0; i + w <= v.mv_size; i += w)
			idset_add(set, posting_id((uint8_t *)v.mv_data + i, w));
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_MULTIPLE);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Full value of the posting at the cursor: the key, or for a hashed long
 * key the value read back from one of its series. */
static const char *posting_value(struct store_snap *snap, MDB_cursor *cur, const MDB_val *k,
				 size_t namelen, char *tmp, size_t tmpsz)
{
	const uint8_t *kv = (const uint8_t *)k->mv_data + namelen + 1;
	size_t vl = k->mv_size - namelen - 1;
	MDB_val dk, dv;

	if (vl >= 9 && kv[vl - 9] == 0xff) {
		if (mdb_cursor_get(cur, &dk, &dv, MDB_FIRST_DUP) == 0) {
			uint8_t ik[8];
			MDB_val sk = {8, ik}, sv;
			char name[LABEL_NAME_MAX + 1];
			if (dv.mv_size != posting_width(snap->s))
				return NULL;
			key_put_u64(ik, posting_id(dv.mv_data, dv.mv_size));
			memcpy(name, k->mv_data, namelen);
			name[namelen] = '\0';
			if (mdb_get(snap->txn, snap->s->dbi_series, &sk, &sv) == 0) {
				struct store_series ss = {.id = 0};
				if (snap_series_enc(snap, &sv, &ss.enc, &ss.enc_len) != 0)
					return NULL;
				const char *full = store_series_label(&ss, name);
				if (full)
					return full;
			}
		}
		return NULL;
	}
	if (vl + 1 > tmpsz)
		return NULL;
	memcpy(tmp, kv, vl);
	tmp[vl] = '\0';
	return tmp;
}

/* How many series carry name=value (a count LMDB keeps; no reading). */
static size_t eq_count(struct store_snap *snap, const struct store_matcher *m)
{
	uint8_t pk[POSTING_KEY_MAX + 16];
	MDB_cursor *cur;
	MDB_val k, v;
	size_t cnt = 0;
	if (mdb_cursor_open(snap->txn, snap->s->dbi_postings, &cur) != 0)
		return SIZE_MAX;
	k.mv_size = posting_key(pk, m->name, m->value);
	k.mv_data = pk;
	if (mdb_cursor_get(cur, &k, &v, MDB_SET_KEY) == 0)
		mdb_cursor_count(cur, &cnt);
	mdb_cursor_close(cur);
	return cnt;
}

/* Ids of series whose label `name` has a value accepted by m. */
static int matcher_ids(struct store_snap *snap, const struct store_matcher *m, struct idset *out)
{
	uint8_t pk[POSTING_KEY_MAX + 16];
	size_t nl = strlen(m->name);
	MDB_cursor *cur;
	MDB_val k, v;
	char tmp[POSTING_KEY_MAX + 1];
	int rc;

	if ((rc = mdb_cursor_open(snap->txn, snap->s->dbi_postings, &cur)) != 0)
		return rc;
	if (m->type == STORE_MATCH_EQ) {
		k.mv_size = posting_key(pk, m->name, m->value);
		k.mv_data = pk;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
		if (rc == 0)
			rc = postings_read(snap->s, cur, out);
		goto out;
	}
	memcpy(pk, m->name, nl);
	pk[nl] = '\0';
	k.mv_size = nl + 1;
	k.mv_data = pk;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP)) {
		const char *val;
		if (k.mv_size < nl + 1 || memcmp(k.mv_data, m->name, nl) != 0 ||
		    ((uint8_t *)k.mv_data)[nl] != 0)
			break;
		val = posting_value(snap, cur, &k, nl, tmp, sizeof tmp);
		if (val && store_matcher_matches(m, val) && (rc = postings_read(snap->s, cur, out)) != 0)
			goto out;
		/* postings_read moved within the dups; NEXT_NODUP still advances */
	}
out:
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int head_latest(const struct store *s, const MDB_val *v, int64_t *ts, double *val);

/* A record by 8-byte id through a cursor kept open: for ids in ascending
 * order LMDB finds the next one on the page it stands on, not from the
 * root (mdb_get starts from the root every time). */
static int get_by_id(struct store_snap *snap, MDB_cursor **cur, MDB_dbi dbi, uint64_t id,
		     MDB_val *out)
{
	uint8_t ik[8];
	MDB_val k = {8, ik};
	int rc;
	if (!*cur && (rc = mdb_cursor_open(snap->txn, dbi, cur)) != 0)
		return rc;
	key_put_u64(ik, id);
	return mdb_cursor_get(*cur, &k, out, MDB_SET_KEY);
}

/* index of the first of ts[0..n) >= t (n when none) */
static size_t lower_bound(const int64_t *ts, size_t n, int64_t t)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ts[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Has series ss a sample in [mint, maxt]? Notes its newest sample in ss
 * when it meets it. *it is created on first use and reused for every
 * series of a selection (the caller frees it). */
static int series_has_range(struct store_snap *snap, struct store_iter **it, struct slot_reader *heads,
			    struct store_series *ss, int64_t mint, int64_t maxt)
{
	int64_t t;
	double v;
	int rc;
	uint64_t id = ss->id;

	if (mint == INT64_MIN && maxt == INT64_MAX)
		return 1;
	/* logged samples are the newest */
	const int64_t *wts;
	const double *wvs;
	size_t wn = wal_view_find(snap->wal, id, &wts, &wvs);
	if (wn) {
		ss->has_latest = true;
		ss->latest_t = wts[wn - 1];
		ss->latest_v = wvs[wn - 1];
		if (ss->latest_t < mint)
			return 0;
		size_t lo = lower_bound(wts, wn, mint);
		if (wts[lo] <= maxt)
			return 1;
		if (lo > 0)
			return 0; /* the log covers mint and has nothing in range */
	}
	/* the head knows the newest stored sample: inside the range (queries
	 * at "now") or before it settles the question without a chunk */
	MDB_val hv;
	int64_t ht;
	double hval;
	if (slot_read(heads, id, &hv) == 0 &&
	    head_latest(snap->s, &hv, &ht, &hval) == 0) {
		if (!wn) {
			ss->has_latest = true;
			ss->latest_t = ht;
			ss->latest_v = hval;
		}
		if (ht < mint)
			return 0;
		if (ht <= maxt)
			return 1;
	}
	if (!*it)
		*it = store_iter_new(snap);
	rc = store_iter_seek(*it, id, mint, maxt);
	if (rc == 0)
		rc = store_iter_next(*it, &t, &v);
	return rc;
}

int store_series_cmp(const void *pa, const void *pb)
{
	const struct store_series *a = pa, *b = pb;
	size_t n = a->enc_len < b->enc_len ? a->enc_len : b->enc_len;
	int c = memcmp(a->enc, b->enc, n);
	if (c)
		return c;
	return a->enc_len < b->enc_len ? -1 : a->enc_len > b->enc_len;
}

int store_select(struct store_snap *snap, const struct store_matcher *m, size_t nm,
		 int64_t mint, int64_t maxt, bool sorted, struct store_series **out, size_t *nout)
{
	struct idset cand = {0}, tmp = {0};
	struct store_series *res = NULL;
	struct store_iter *it = NULL;
	MDB_cursor *scur = NULL;
	struct slot_reader heads;
	size_t nres = 0;
	bool have = false;
	int rc = 0;

	*out = NULL;
	*nout = 0;
	slot_reader_init(&heads, snap->s, snap->txn, SLOT_HEADS);
	/* Sources (matchers that exclude series without the label), equality
	 * ones by their posting count first. Once the candidates are few, a
	 * large posting list is not read: the check of every matcher on each
	 * candidate below filters just as well. */
	size_t order[64], cnts[64], no = 0;
	for (size_t i = 0; i < nm && no < 64; i++) {
		if (store_matcher_matches(&m[i], ""))
			continue; /* matches absent labels: a filter, not a source */
		cnts[no] = m[i].type == STORE_MATCH_EQ ? eq_count(snap, &m[i]) : SIZE_MAX;
		order[no++] = i;
	}
	for (size_t a = 1; a < no; a++)
		for (size_t b = a; b > 0 && cnts[b - 1] > cnts[b]; b--) {
			size_t t = cnts[b]; cnts[b] = cnts[b - 1]; cnts[b - 1] = t;
			t = order[b]; order[b] = order[b - 1]; order[b - 1] = t;
		}
	for (size_t oi = 0; oi < no; oi++) {
		size_t i = order[oi];
		if (have && cand.n * 8 < cnts[oi] && (cnts[oi] != SIZE_MAX || cand.n < 512))
			continue;
		tmp.n = 0;
		if ((rc = matcher_ids(snap, &m[i], &tmp)) != 0)
			goto out;
		idset_sort_unique(&tmp);
		if (!have) {
			struct idset sw = cand;
			cand = tmp;
			tmp = sw;
			have = true;
		} else {
			idset_intersect(&cand, &tmp);
		}
		if (cand.n == 0)
			goto out;
	}
	if (!have) {
		MDB_cursor *cur;
		MDB_val k, v;
		if ((rc = mdb_cursor_open(snap->txn, snap->s->dbi_series, &cur)) != 0)
			goto out;
		while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
			idset_add(&cand, key_get_u64(k.mv_data));
		mdb_cursor_close(cur);
		if (rc != MDB_NOTFOUND)
			goto out;
		rc = 0;
	}
	res = xcalloc(cand.n ? cand.n : 1, sizeof *res);
	for (size_t i = 0; i < cand.n; i++) {
		MDB_val v;
		struct store_series ss = {0};
		bool ok = true;

		rc = get_by_id(snap, &scur, snap->s->dbi_series, cand.v[i], &v);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc != 0)
			goto out;
		ss.id = cand.v[i];
		if ((rc = snap_series_enc(snap, &v, &ss.enc, &ss.enc_len)) != 0)
			goto out;
		for (size_t j = 0; j < nm && ok; j++) {
			const char *val = store_series_label(&ss, m[j].name);
			ok = store_matcher_matches(&m[j], val ? val : "");
		}
		if (!ok) {
			snap_series_release(snap, ss.enc, ss.enc_len);
			continue;
		}
		rc = series_has_range(snap, &it, &heads, &ss, mint, maxt);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			snap_series_release(snap, ss.enc, ss.enc_len);
			continue;
		}
		res[nres++] = ss;
	}
	rc = 0;
	if (sorted && nres > 1)
		qsort(res, nres, sizeof *res, store_series_cmp);
out:
	if (scur)
		mdb_cursor_close(scur);
	store_iter_free(it);
	free(cand.v);
	free(tmp.v);
	if (rc != 0) {
		free(res);
		return rc < 0 && rc >= PW_E_BASE ? rc : store__err(rc);
	}
	*out = res;
	*nout = nres;
	return 0;
}

/* ---- sample iteration ------------------------------------------------------ */

struct store_iter {
	struct store_snap *snap;
	MDB_cursor *cur;
	struct slot_reader heads, open; /* ids in order are found in the run read last */
	uint64_t id;
	int64_t mint, maxt;
	int phase; /* 0 sealed, 3 open segment, 1 head, 2 done */
	int open_rc; /* the open segment as seek found it: 0 and open_v */
	MDB_val open_v;
	bool have_chunk;
	struct chunk_dec dec;
	/* a block (format 4's segments) decoded whole: have_blk, its samples
	 * in blk.ts/vs from bpos to bn */
	bool have_blk, blk_past; /* blk_past: the block goes on after maxt */
	struct blk_codec blk;
	size_t bpos, bn;
	int head_rc;  /* the head as seek found it: 0 and head_v, or an MDB error */
	MDB_val head_v;
	/* the series' logged samples, after the head; wpos is the next */
	const int64_t *wts;
	const double *wvs;
	size_t wn, wpos;
	int err; /* a fault met after samples were returned: until the next seek */
};

struct store_iter *store_iter_new(struct store_snap *snap)
{
	struct store_iter *it = xcalloc(1, sizeof *it);
	it->snap = snap;
	it->phase = 2;
	slot_reader_init(&it->heads, snap->s, snap->txn, SLOT_HEADS);
	slot_reader_init(&it->open, snap->s, snap->txn, SLOT_OPEN);
	return it;
}

void store_iter_free(struct store_iter *it)
{
	if (!it)
		return;
	if (it->cur)
		mdb_cursor_close(it->cur);
	blk_codec_free(&it->blk);
	free(it);
}

/* Start on segment bytes v: a block (its samples of [mint, maxt] decoded:
 * blk_decode_range) or a Gorilla chunk (decoded as it goes). */
static int iter_load_seg(struct store_iter *it, const MDB_val *v, bool blk, uint64_t seq)
{
	if (!blk) {
		if (chunk_dec_init(&it->dec, v->mv_data, v->mv_size) < 0)
			return PW_ESTORE;
		it->have_chunk = true;
		return 0;
	}
	if (blk_decode_range(&it->blk, v->mv_data, v->mv_size, it->mint, it->maxt, &it->bn,
			     &it->blk_past) != 0) {
		char where[48];
		if (seq == UINT64_MAX)
			snprintf(where, sizeof where, "its open block");
		else
			snprintf(where, sizeof where, "its block segs/%llu", (unsigned long long)seq);
		log_error("store", "%s: series %llu: %s (%zu bytes) is not a valid block; the read "
			  "fails", it->snap->s->path, (unsigned long long)it->id, where, v->mv_size);
		return PW_ESTORE;
	}
	it->bpos = 0; /* the block's samples of [mint, maxt] only */
	it->have_blk = true;
	return 0;
}

/* The open segment's bytes and first timestamp (format 4: a block behind
 * it; older: a Gorilla chunk, which starts with it). */
static void iter_open_seg(const struct store_iter *it, MDB_val *v, int64_t *first)
{
	*v = it->open_v;
	if (it->snap->s->open_blk) {
		*first = key_get_ts(v->mv_data);
		v->mv_data = (uint8_t *)v->mv_data + OPEN_BLK_HDR;
		v->mv_size -= OPEN_BLK_HDR;
	} else {
		*first = chunk_first_ts(v->mv_data);
	}
}

int store_iter_seek(struct store_iter *it, uint64_t id, int64_t mint, int64_t maxt)
{
	uint8_t kb[16];
	MDB_val k = {16, kb}, v;
	int rc;

	it->id = id;
	it->mint = mint;
	it->maxt = maxt;
	it->phase = 0;
	it->have_chunk = false;
	it->have_blk = false;
	it->err = 0;
	if (!it->cur && (rc = mdb_cursor_open(it->snap->txn, it->snap->s->dbi_chunks, &it->cur)) != 0)
		return store__err(rc);
	it->wn = wal_view_find(it->snap->wal, id, &it->wts, &it->wvs);
	it->wpos = 0;
	if (it->wn && it->wts[0] <= mint) {
		/* the range starts inside the log: nothing stored is needed */
		it->wpos = lower_bound(it->wts, it->wn, mint);
		it->phase = 2;
		return 0;
	}
	/* Every sealed sample is older than the head's first: a range that
	 * starts inside the head (the last few dozen samples, what a rate over
	 * the last hour reads) needs no sealed chunk decoded. */
	{
		MDB_val hv = {0, NULL};
		struct chunk_dec d;
		int64_t t0;
		double v0;
		it->head_rc = slot_read(&it->heads, id, &hv);
		it->head_v = hv;
		if (it->head_rc == 0 &&
		    head_dec_init(&d, hv.mv_data, hv.mv_size, it->heads.legacy) > 0 &&
		    chunk_dec_next(&d, &t0, &v0) == 1 &&
		    t0 <= mint) {
			head_dec_init(&it->dec, hv.mv_data, hv.mv_size, it->heads.legacy);
			it->have_chunk = true;
			it->phase = 2; /* the head is the last chunk */
			return 0;
		}
	}
	/* The open segment follows the sealed ones: a range starting in it
	 * needs no sealed chunk either. */
	it->open_rc = MDB_NOTFOUND;
	if (it->snap->s->dbi_open) {
		it->open_rc = slot_read(&it->open, id, &it->open_v);
		if (it->open_rc == 0 && it->open_v.mv_size < 2 + 8)
			return PW_ESTORE; /* a chunk's count and first ts, or a block's header */
		if (it->open_rc != 0 && it->open_rc != MDB_NOTFOUND)
			return store__err(it->open_rc);
		MDB_val ov;
		int64_t first = 0;
		if (it->open_rc == 0)
			iter_open_seg(it, &ov, &first);
		if (it->open_rc == 0 && first <= mint) {
			it->phase = 3;
			return 0;
		}
	}
	/* Position on the chunk that may hold mint: greatest key <= (id, mint). */
	key_put_u64(kb, id);
	key_put_ts(kb + 8, mint);
	rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && key_get_u64(k.mv_data) == id && key_get_ts((uint8_t *)k.mv_data + 8) == mint) {
		/* exact */
	} else {
		int prc = rc == 0 ? mdb_cursor_get(it->cur, &k, &v, MDB_PREV)
				  : mdb_cursor_get(it->cur, &k, &v, MDB_LAST);
		if (prc != 0 || key_get_u64(k.mv_data) != id) {
			/* none before mint: start at the series' first chunk */
			k.mv_data = kb;
			k.mv_size = 16;
			key_put_ts(kb + 8, INT64_MIN);
			prc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
		}
		if (prc != 0 || key_get_u64(k.mv_data) != id) {
			it->phase = 3; /* no sealed chunks */
			return 0;
		}
	}
	if (key_get_ts((uint8_t *)k.mv_data + 8) > maxt) {
		it->phase = 2;
		return 0;
	}
	{
		bool blk = v.mv_size == 8 && seg_is_blk(it->snap->s, v.mv_data);
		uint64_t seq = v.mv_size == 8 ? key_get_u64(v.mv_data) : UINT64_MAX - 1;
		if ((rc = seg_resolve(it->snap->txn, it->snap->s, &v, &v)) != 0)
			return store__err(rc);
		return iter_load_seg(it, &v, blk, seq);
	}
}

static int iter_load_head(struct store_iter *it)
{
	MDB_val v = it->head_v; /* read by store_iter_seek in this snapshot */
	int rc = it->head_rc;

	it->phase = 2;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store__err(rc);
	if (head_dec_init(&it->dec, v.mv_data, v.mv_size, it->heads.legacy) < 0)
		return PW_ESTORE;
	it->have_chunk = true;
	return 0;
}

/* Nothing more in range: every later call returns 0 too. */
static void iter_end(struct store_iter *it)
{
	it->have_blk = false;
	it->have_chunk = false;
	it->phase = 2;
	it->wpos = it->wn;
}

/*
 * A series' samples by runs, walking sealed segments, the open one, the head
 * and the log: a block's decoded samples and the log's are copied as arrays,
 * and a Gorilla chunk is decoded straight into the caller's arrays (then the
 * samples before mint dropped, one past maxt ends the read). A fault met
 * after some samples were written returns those first and is kept for the
 * next call (and every one after it, until a seek). store_iter_next is this
 * with room for one sample.
 */
int store_iter_read(struct store_iter *it, int64_t *ts, double *vs, size_t max)
{
	size_t n = 0;
	int rc = 0;

	if (it->err)
		return it->err;
	if (max > INT_MAX)
		max = INT_MAX;
	while (n < max) {
		if (it->have_blk) {
			if (it->bpos < it->bn) {
				size_t take = it->bn - it->bpos, room = max - n;
				const int64_t *bt = it->blk.ts + it->bpos;
				bool end = false;
				if (take > room)
					take = room;
				/* blk_decode_range keeps [mint, maxt] only; kept
				 * all the same: the run is ascending (the decoder
				 * checks), so only its last can be past maxt, and a
				 * search finds the first */
				if (bt[take - 1] > it->maxt) {
					size_t lo = 0, hi = take - 1;
					while (lo < hi) {
						size_t mid = lo + (hi - lo) / 2;
						if (bt[mid] > it->maxt)
							hi = mid;
						else
							lo = mid + 1;
					}
					take = lo;
					end = true;
				}
				memcpy(ts + n, bt, take * sizeof *ts);
				memcpy(vs + n, it->blk.vs + it->bpos, take * sizeof *vs);
				n += take;
				it->bpos += take;
				if (end) {
					iter_end(it);
					break;
				}
				continue;
			}
			it->have_blk = false;
			if (it->blk_past) { /* nothing later is in range */
				iter_end(it);
				break;
			}
		}
		if (it->have_chunk) {
			size_t got = 0, o = n;
			bool end = false;
			int drc = chunk_dec_read(&it->dec, ts + n, vs + n, max - n, &got);
			bool ended = drc == 0 && got < max - n;
			for (size_t i = n; i < n + got; i++) {
				if (ts[i] < it->mint)
					continue;
				if (ts[i] > it->maxt) {
					end = true;
					break;
				}
				ts[o] = ts[i];
				vs[o++] = vs[i];
			}
			n = o;
			if (end) {
				iter_end(it);
				break;
			}
			if (drc < 0) {
				rc = PW_ESTORE;
				goto fail;
			}
			if (ended)
				it->have_chunk = false;
			continue;
		}
		if (it->phase == 0) {
			MDB_val k, v;
			int grc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT);
			if (grc == 0 && key_get_u64(k.mv_data) == it->id) {
				if (key_get_ts((uint8_t *)k.mv_data + 8) > it->maxt) {
					iter_end(it);
					break;
				}
				bool blk = v.mv_size == 8 && seg_is_blk(it->snap->s, v.mv_data);
				uint64_t seq = v.mv_size == 8 ? key_get_u64(v.mv_data) : UINT64_MAX - 1;
				if ((grc = seg_resolve(it->snap->txn, it->snap->s, &v, &v)) != 0) {
					rc = store__err(grc);
					goto fail;
				}
				if ((rc = iter_load_seg(it, &v, blk, seq)) != 0)
					goto fail;
				continue;
			}
			if (grc != 0 && grc != MDB_NOTFOUND) {
				rc = store__err(grc);
				goto fail;
			}
			it->phase = 3;
		}
		if (it->phase == 3) {
			it->phase = 1;
			if (it->open_rc != 0)
				continue;
			MDB_val ov;
			int64_t first;
			iter_open_seg(it, &ov, &first);
			if (first > it->maxt) {
				iter_end(it);
				break;
			}
			if ((rc = iter_load_seg(it, &ov, it->snap->s->open_blk, UINT64_MAX)) != 0)
				goto fail;
			continue;
		}
		if (it->phase == 1) {
			if ((rc = iter_load_head(it)) != 0)
				goto fail;
			continue;
		}
		/* the log: ascending, so a run from wpos up to maxt */
		while (it->wpos < it->wn && n < max) {
			size_t i = it->wpos++;
			if (it->wts[i] < it->mint)
				continue;
			if (it->wts[i] > it->maxt) {
				it->wpos = it->wn;
				break;
			}
			ts[n] = it->wts[i];
			vs[n++] = it->wvs[i];
		}
		if (it->wpos == it->wn)
			break;
	}
	return (int)n;
fail:
	it->err = rc; /* returned after the samples already written, and again */
	return n ? (int)n : rc;
}

/* one sample: store_iter_read's walk with room for one, so that the two
 * cannot disagree */
int store_iter_next(struct store_iter *it, int64_t *ts, double *val)
{
	return store_iter_read(it, ts, val, 1);
}

/* ---- latest values ---------------------------------------------------------- */

static int head_latest(const struct store *s, const MDB_val *v, int64_t *ts, double *val)
{
	struct head h;

	if (head_parse(v->mv_data, v->mv_size, s->slots_legacy, &h) != 0)
		return PW_ESTORE;
	*ts = h.a.t;
	memcpy(val, &h.a.v, sizeof *val);
	return 0;
}

/* the newest logged sample of series id, if it has any */
static bool wal_latest(const struct store_snap *snap, uint64_t id, int64_t *ts, double *val)
{
	const int64_t *wts;
	const double *wvs;
	size_t n = wal_view_find(snap->wal, id, &wts, &wvs);
	if (!n)
		return false;
	*ts = wts[n - 1];
	*val = wvs[n - 1];
	return true;
}

int store_latest(struct store_snap *snap, uint64_t id, int64_t *ts, double *val)
{
	struct slot_reader heads;
	MDB_val v;
	int rc;

	if (wal_latest(snap, id, ts, val))
		return 0;
	slot_reader_init(&heads, snap->s, snap->txn, SLOT_HEADS);
	rc = slot_read(&heads, id, &v);
	if (rc != 0)
		return store__err(rc);
	return head_latest(snap->s, &v, ts, val);
}

int store_scan_latest(struct store_snap *snap, store_latest_cb cb, void *ctx)
{
	MDB_cursor *sc = NULL;
	MDB_val sk, sv, hv;
	struct slot_reader heads;
	int rc, hrc;

	slot_reader_init(&heads, snap->s, snap->txn, SLOT_HEADS);
	if ((rc = mdb_cursor_open(snap->txn, snap->s->dbi_series, &sc)) != 0)
		goto out;
	/* series in id order: each run of heads is read once */
	for (rc = mdb_cursor_get(sc, &sk, &sv, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(sc, &sk, &sv, MDB_NEXT)) {
		uint64_t id = key_get_u64(sk.mv_data);
		hrc = slot_read(&heads, id, &hv);
		if (hrc == MDB_NOTFOUND)
			continue;
		if (hrc != 0) {
			rc = hrc;
			goto out;
		}
		struct store_series ss = {.id = id};
		int64_t ts;
		double val;
		int r;
		if ((r = snap_series_enc(snap, &sv, &ss.enc, &ss.enc_len)) != 0) {
			rc = r;
			goto out;
		}
		if (!wal_latest(snap, id, &ts, &val) && (r = head_latest(snap->s, &hv, &ts, &val)) != 0) {
			rc = r;
			goto out_pw;
		}
		r = cb(ctx, &ss, ts, val);
		snap_series_release(snap, ss.enc, ss.enc_len); /* the callback is done with it */
		if (r != 0) {
			rc = r;
			goto out_pw;
		}
	}
out:
	rc = rc == MDB_NOTFOUND ? 0 : store__err(rc);
out_pw:
	if (sc)
		mdb_cursor_close(sc);
	return rc;
}

/* ---- label names and values ------------------------------------------------ */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void strs_add(const char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		*v = xreallocarray(*v, *cap, sizeof **v);
	}
	(*v)[(*n)++] = s;
}

static void strs_sort_unique(const char **v, size_t *n)
{
	size_t o = 0;
	if (*n == 0)
		return;
	qsort(v, *n, sizeof *v, str_cmp);
	for (size_t i = 0; i < *n; i++)
		if (o == 0 || strcmp(v[o - 1], v[i]) != 0)
			v[o++] = v[i];
	*n = o;
}

int store_label_names(struct store_snap *snap, const struct store_matcher *m, size_t nm,
		      int64_t mint, int64_t maxt, const char ***out, size_t *n)
{
	const char **v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (nm == 0 && mint == INT64_MIN && maxt == INT64_MAX) {
		MDB_cursor *cur;
		MDB_val k, d;
		uint8_t seek[LABEL_NAME_MAX + 2];

		if ((rc = mdb_cursor_open(snap->txn, snap->s->dbi_postings, &cur)) != 0)
			return store__err(rc);
		rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
		while (rc == 0) {
			/* a posting key is "name\0value": its name is a C string
			 * in snapshot memory */
			const uint8_t *z = memchr(k.mv_data, 0, k.mv_size);
			size_t nl = z ? (size_t)(z - (const uint8_t *)k.mv_data) : k.mv_size;
			if (z)
				strs_add(&v, &cnt, &cap, (const char *)k.mv_data);
			/* skip to the next name: "name\1" sorts after all "name\0..." */
			if (nl > LABEL_NAME_MAX)
				break;
			memcpy(seek, k.mv_data, nl);
			seek[nl] = 1;
			k.mv_data = seek;
			k.mv_size = nl + 1;
			rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
		}
		mdb_cursor_close(cur);
		if (rc != MDB_NOTFOUND) {
			free(v);
			return store__err(rc);
		}
	} else {
		struct store_series *ss;
		size_t ns;
		if ((rc = store_select(snap, m, nm, mint, maxt, false, &ss, &ns)) != 0)
			return rc;
		for (size_t i = 0; i < ns; i++) {
			size_t off = 0;
			const char *name, *value;
			while (labels_next(ss[i].enc, ss[i].enc_len, &off, &name, &value))
				strs_add(&v, &cnt, &cap, name);
		}
		free(ss);
	}
	strs_sort_unique(v, &cnt);
	*out = v;
	*n = cnt;
	return 0;
}

int store_label_values(struct store_snap *snap, const char *lname,
		       const struct store_matcher *m, size_t nm, int64_t mint, int64_t maxt,
		       const char ***out, size_t *n)
{
	const char **v = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (nm == 0 && mint == INT64_MIN && maxt == INT64_MAX) {
		/* One series per distinct value gives a stable C string for it
		 * (posting keys are not NUL-terminated after the value). */
		uint8_t pk[LABEL_NAME_MAX + 2];
		size_t nl = strlen(lname);
		MDB_cursor *cur;
		MDB_val k, d;

		if (nl > LABEL_NAME_MAX)
			return 0;
		if ((rc = mdb_cursor_open(snap->txn, snap->s->dbi_postings, &cur)) != 0)
			return store__err(rc);
		memcpy(pk, lname, nl + 1);
		k.mv_data = pk;
		k.mv_size = nl + 1;
		for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_NODUP)) {
			uint8_t ik[8];
			MDB_val sk = {8, ik}, sv;
			if (k.mv_size < nl + 1 || memcmp(k.mv_data, pk, nl + 1) != 0)
				break;
			/* the first dup after SET_RANGE/NEXT_NODUP */
			if (d.mv_size != posting_width(snap->s)) {
				rc = MDB_CORRUPTED;
				break;
			}
			key_put_u64(ik, posting_id(d.mv_data, d.mv_size));
			if (mdb_get(snap->txn, snap->s->dbi_series, &sk, &sv) == 0) {
				struct store_series ss = {.id = key_get_u64(ik)};
				if ((rc = snap_series_enc(snap, &sv, &ss.enc, &ss.enc_len)) != 0)
					break;
				const char *val = store_series_label(&ss, lname);
				if (val)
					strs_add(&v, &cnt, &cap, val);
			}
		}
		mdb_cursor_close(cur);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			free(v);
			return store__err(rc);
		}
	} else {
		struct store_series *ss;
		size_t ns;
		if ((rc = store_select(snap, m, nm, mint, maxt, false, &ss, &ns)) != 0)
			return rc;
		for (size_t i = 0; i < ns; i++) {
			const char *val = store_series_label(&ss[i], lname);
			if (val)
				strs_add(&v, &cnt, &cap, val);
		}
		free(ss);
	}
	strs_sort_unique(v, &cnt);
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- metadata -------------------------------------------------------------- */

static int meta_decode(const MDB_val *v, struct store_meta *out)
{
	const char *p = v->mv_data;
	const char *end = p + v->mv_size;

	if (v->mv_size < 3 || end[-1] != '\0')
		return PW_ESTORE;
	out->type = (enum store_metric_type)(uint8_t)p[0];
	out->help = p + 1;
	out->unit = out->help + strlen(out->help) + 1;
	if (out->unit >= end)
		return PW_ESTORE;
	return 0;
}

int store_meta_get(struct store_snap *snap, const char *metric, struct store_meta *out)
{
	MDB_val k = {strlen(metric), (void *)metric}, v;
	int rc;

	if (k.mv_size == 0 || k.mv_size > POSTING_KEY_MAX)
		return PW_ENOTFOUND;
	rc = mdb_get(snap->txn, snap->s->dbi_metadata, &k, &v);
	if (rc != 0)
		return store__err(rc);
	return meta_decode(&v, out);
}

int store_meta_scan(struct store_snap *snap, store_meta_cb cb, void *ctx)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;
	char name[POSTING_KEY_MAX + 1];

	if ((rc = mdb_cursor_open(snap->txn, snap->s->dbi_metadata, &cur)) != 0)
		return store__err(rc);
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		struct store_meta m;
		int r;
		if (k.mv_size > POSTING_KEY_MAX || meta_decode(&v, &m) != 0)
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if ((r = cb(ctx, name, &m)) != 0) {
			mdb_cursor_close(cur);
			return r;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : store__err(rc);
}

/* ---- latest values grouped by metric name -------------------------------- */

struct store_latest_iter {
	struct store_snap *snap;
	MDB_cursor *pc;
	bool started, done;
	struct idset ids;
	size_t pos;
	struct slot_reader heads;
	const char *prev; /* the labels handed out last, given back next */
	size_t prev_len;
};

int store_latest_iter_new(struct store_snap *snap, struct store_latest_iter **out)
{
	struct store_latest_iter *it = xcalloc(1, sizeof *it);
	int rc = mdb_cursor_open(snap->txn, snap->s->dbi_postings, &it->pc);

	slot_reader_init(&it->heads, snap->s, snap->txn, SLOT_HEADS);
	if (rc != 0) {
		free(it);
		return store__err(rc);
	}
	it->snap = snap;
	*out = it;
	return 0;
}

void store_latest_iter_free(struct store_latest_iter *it)
{
	if (!it)
		return;
	mdb_cursor_close(it->pc);
	free(it->ids.v);
	free(it);
}

/* Load the ids of the next metric name into it->ids. */
static int latest_iter_fill(struct store_latest_iter *it)
{
	static const char prefix[] = "__name__";
	MDB_val k, v;
	int rc;

	it->ids.n = 0;
	it->pos = 0;
	if (!it->started) {
		k.mv_data = (void *)prefix;
		k.mv_size = sizeof prefix; /* with its NUL */
		rc = mdb_cursor_get(it->pc, &k, &v, MDB_SET_RANGE);
		it->started = true;
	} else {
		rc = mdb_cursor_get(it->pc, &k, &v, MDB_NEXT_NODUP);
	}
	if (rc == 0 && (k.mv_size < sizeof prefix || memcmp(k.mv_data, prefix, sizeof prefix) != 0))
		rc = MDB_NOTFOUND;
	if (rc == MDB_NOTFOUND) {
		it->done = true;
		return 0;
	}
	if (rc != 0)
		return store__err(rc);
	if ((rc = postings_read(it->snap->s, it->pc, &it->ids)) != 0)
		return store__err(rc);
	return 0;
}

int store_latest_iter_next(struct store_latest_iter *it, struct store_series *s, int64_t *ts,
			   double *v)
{
	for (;;) {
		while (it->pos < it->ids.n) {
			uint64_t id = it->ids.v[it->pos++];
			uint8_t ik[8];
			MDB_val k = {8, ik}, sv, hv;
			int rc;
			key_put_u64(ik, id);
			if (mdb_get(it->snap->txn, it->snap->s->dbi_series, &k, &sv) != 0 ||
			    slot_read(&it->heads, id, &hv) != 0)
				continue;
			if (!wal_latest(it->snap, id, ts, v) && (rc = head_latest(it->snap->s, &hv, ts, v)) != 0)
				return rc;
			s->id = id;
			if (it->prev) /* a scrape of every series takes one series' room */
				snap_series_release(it->snap, it->prev, it->prev_len);
			it->prev = NULL;
			if ((rc = snap_series_enc(it->snap, &sv, &s->enc, &s->enc_len)) != 0)
				return store__err(rc);
			it->prev = s->enc;
			it->prev_len = s->enc_len;
			return 1;
		}
		if (it->done)
			return 0;
		{
			int rc = latest_iter_fill(it);
			if (rc != 0)
				return rc;
		}
	}
}
