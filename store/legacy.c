/*
 * legacy.c — stores of format 1, 2 and 3: how env.c's store_open finds
 * one, how it is read as it is when opened read-only, and its upgrade to
 * format 4 in one transaction when opened for writing (format 3's open
 * segments become blocks, block.c; sealed ones stay Gorilla chunks, read
 * by key below meta segs_blk_from). The hot paths (read.c,
 * wal.c, retention.c; head_parse, slot_read, seg_resolve in store_int.h)
 * call in behind one test; chunk.c and slots.c know only format 3.
 */
#include "store_int.h"

#include <stdlib.h>

/*
 * Format 1 and 2, as they differ from format 3 (store_int.h):
 *   heads     id(8, BE) -> the fixed 30-byte appender state + chunk
 *             (chunk_app_save), an entry per series
 *   open      format 2: id(8, BE) -> the series' open segment, state(30)
 *             + chunk; format 1 kept it inline in the chunks index instead
 *             (key id + mint, value state(30) + chunk in place of a seq)
 *   segs      format 1 wrote the appender state in front of every sealed
 *             segment; meta segs_plain_from is the first key without it
 *   series    id -> the labels in full (the canonical encoding), no symbols
 *   postings  8-byte ids (format 3: 4)
 *   sindex    label hash -> id (format 3's writer keeps it in memory)
 *   wal       format 2 only: seq(8, BE) -> a record per commit: WAL_SLICES
 *             u32 LE portion lengths, then the portions; in a portion a
 *             series' id delta and sample count are two varints, and a
 *             value stands on its own: varint zigzag(v) << 1 for an
 *             integer, else 1 and the 8 bytes LE
 * Older stores may also lack the records, feed, wal and symbols tables.
 *
 * Opened read-only, such a store is read as it is: the readers test
 * s->slots_legacy and s->wal_v1 and call the functions under "reading as
 * it is". Opened for writing, legacy_upgrade rewrites it in one
 * transaction: heads into headruns with the compact state, open segments
 * (format 1's inline ones too) into openruns without one, labels into
 * symbols, postings with 4-byte ids, "heads", "open" and "sindex" dropped,
 * the log folded, meta format 3. Sealed segments stay as they are: those
 * before segs_plain_from keep the state for good (seg_resolve, retention).
 */

/* ---- opening ---------------------------------------------------------------- */

int legacy_table_missing(struct store *s, MDB_txn *txn, MDB_dbi *d)
{
	int rc;

	if (d == &s->dbi_records) {
		s->no_records = true; /* a store from before the records table */
		return 0;
	}
	if (d == &s->dbi_feed || d == &s->dbi_wal || d == &s->dbi_symbols) {
		*d = 0; /* a store from before these tables */
		return 0;
	}
	if (d != &s->dbi_heads && d != &s->dbi_open)
		return MDB_NOTFOUND;
	/* format 2 or older: read it as it is, an entry per series (format 1
	 * has no open table) */
	s->slots_legacy = true;
	rc = mdb_dbi_open(txn, d == &s->dbi_heads ? "heads" : "open", 0, d);
	if (rc == MDB_NOTFOUND && d == &s->dbi_open) {
		*d = 0;
		return 0;
	}
	return rc;
}

int legacy_segs_plain_from(struct store *s, MDB_txn *txn)
{
	MDB_val k = {15, (void *)"segs_plain_from"}, v;
	int rc = mdb_get(txn, s->dbi_meta, &k, &v);

	if (rc == 0 && v.mv_size == 8) {
		s->segs_plain_from = key_get_u64(v.mv_data);
		return 0;
	}
	if (rc == MDB_NOTFOUND && s->read_only) {
		s->segs_plain_from = UINT64_MAX; /* format 1: every segment has it */
		return 0;
	}
	if (rc == MDB_NOTFOUND) { /* a new store, or format 1 being upgraded */
		if ((rc = store__meta_get_u64(txn, s, "next_seq", &s->segs_plain_from)) != 0)
			return rc;
		return store__meta_put_u64(txn, s, "segs_plain_from", s->segs_plain_from);
	}
	return rc == 0 ? MDB_CORRUPTED : rc;
}

int legacy_segs_blk_from(struct store *s, MDB_txn *txn, bool is_new)
{
	MDB_val k = {13, (void *)"segs_blk_from"}, v;
	int rc = mdb_get(txn, s->dbi_meta, &k, &v);

	if (rc == 0 && v.mv_size == 8) {
		s->segs_blk_from = key_get_u64(v.mv_data);
		s->open_blk = true;
		return 0;
	}
	if (rc == MDB_NOTFOUND && is_new) {
		s->segs_blk_from = 0;
		s->open_blk = true;
		return store__meta_put_u64(txn, s, "segs_blk_from", 0);
	}
	if (rc == MDB_NOTFOUND) { /* format 3 or older: Gorilla chunks everywhere */
		s->segs_blk_from = UINT64_MAX;
		s->open_blk = false;
		return 0;
	}
	return rc == 0 ? MDB_CORRUPTED : rc;
}

int legacy_format_get(struct store *s, MDB_txn *txn, uint64_t *format)
{
	int rc = store__meta_get_u64(txn, s, "format", format);

	if (rc == 0)
		s->wal_v1 = *format < 3; /* format 2's log records */
	return rc;
}

/* ---- reading as it is ---------------------------------------------------------- */

/* The fixed state: t, delta, value (8 bytes LE each), bit length (u24
 * LE), window lead and trail, a zero byte. */
void chunk_app_save(const struct chunk_app *a, uint8_t *p)
{
	le64_put(p, (uint64_t)a->t);
	le64_put(p + 8, (uint64_t)a->delta);
	le64_put(p + 16, a->v);
	p[24] = (uint8_t)(a->nbits & 0xff);
	p[25] = (uint8_t)(a->nbits >> 8);
	p[26] = (uint8_t)(a->nbits >> 16);
	p[27] = a->lead;
	p[28] = a->trail;
	p[29] = 0;
}

int chunk_app_load(struct chunk_app *a, const uint8_t *p, const uint8_t *chunk, size_t len)
{
	a->t = (int64_t)le64_get(p);
	a->delta = (int64_t)le64_get(p + 8);
	a->v = le64_get(p + 16);
	a->nbits = (uint32_t)p[24] | (uint32_t)p[25] << 8 | (uint32_t)p[26] << 16;
	a->lead = p[27];
	a->trail = p[28];
	if (len < 2)
		return PW_EINVAL;
	a->count = (uint16_t)(chunk[0] | chunk[1] << 8);
	if ((a->nbits + 7) / 8 != len || a->count == 0 || a->nbits < 16 + 128)
		return PW_EINVAL;
	return 0;
}

int legacy_head_parse(const void *p, size_t len, struct head *h)
{
	const uint8_t *b = p;

	if (len < HEAD_STATE_BYTES + 2 + 16 ||
	    chunk_app_load(&h->a, b, b + HEAD_STATE_BYTES, len - HEAD_STATE_BYTES) != 0)
		return PW_EINVAL;
	h->chunk = b + HEAD_STATE_BYTES;
	h->clen = len - HEAD_STATE_BYTES;
	h->mint = (int64_t)key_get_u64(h->chunk + 2);
	return h->clen > CHUNK_BUF_BYTES ? PW_EINVAL : 0;
}

/* Open segments lose the state in front for their readers; heads keep it
 * (head_parse with legacy set). */
void legacy_slot_reader_init(struct slot_reader *r, enum slot_table t)
{
	r->legacy = true;
	r->skip = t == SLOT_OPEN ? HEAD_STATE_BYTES : 0;
}

int legacy_slot_read(struct slot_reader *r, uint64_t id, MDB_val *out)
{
	uint8_t kb[8];
	MDB_val k = {8, kb};
	int rc;

	if (r->dbi == 0)
		return MDB_NOTFOUND; /* format 1: no open table */
	key_put_u64(kb, id);
	if ((rc = mdb_get(r->txn, r->dbi, &k, out)) != 0)
		return rc;
	if (out->mv_size < r->skip + 2)
		return MDB_CORRUPTED;
	out->mv_data = (uint8_t *)out->mv_data + r->skip;
	out->mv_size -= r->skip;
	return 0;
}

int legacy_slot_count(MDB_txn *txn, MDB_dbi dbi, uint64_t *n)
{
	MDB_stat ms;
	int rc;

	*n = 0;
	if (dbi == 0)
		return 0; /* format 1: no open table */
	if ((rc = mdb_stat(txn, dbi, &ms)) == 0)
		*n = ms.ms_entries;
	return rc;
}

int legacy_seg_strip(const MDB_val *v, MDB_val *out)
{
	uint8_t *p = v->mv_data;
	size_t len = v->mv_size;

	if (len < HEAD_STATE_BYTES + 2)
		return MDB_CORRUPTED;
	out->mv_data = p + HEAD_STATE_BYTES;
	out->mv_size = len - HEAD_STATE_BYTES;
	return 0;
}

int legacy_seg_put(struct store *s, MDB_txn *txn, const MDB_val *k, const uint8_t *seq,
		   const struct chunk_app *a, const uint8_t *chunk)
{
	uint8_t buf[HEAD_STATE_BYTES + CHUNK_BUF_BYTES];
	MDB_val key = *k, v = {HEAD_STATE_BYTES + chunk_app_bytes(a), buf};
	int rc;

	chunk_app_save(a, buf);
	memcpy(buf + HEAD_STATE_BYTES, chunk, chunk_app_bytes(a));
	if (seq) {
		MDB_val sk = {8, (void *)seq};
		if ((rc = mdb_put(txn, s->dbi_segs, &sk, &v, 0)) != 0)
			return rc;
		v.mv_size = 8;
		v.mv_data = (void *)seq;
	}
	return mdb_put(txn, s->dbi_chunks, &key, &v, 0);
}

bool legacy_wal_series(const uint8_t **p, const uint8_t *end, uint64_t *did, uint64_t *n)
{
	return varint_get(p, end, did) && varint_get(p, end, n) && *n != 0;
}

bool legacy_wal_value(uint64_t vh, const uint8_t **p, const uint8_t *end, double *v)
{
	if (vh & 1) /* 1 and the 8 bytes */
		return vh == 1 && f64_get(p, end, v);
	*v = (double)unzigzag(vh >> 1); /* an integer */
	return true;
}

/* ---- the upgrade -------------------------------------------------------------- */

/* Heads and open segments into runs (slots.c), open segments without
 * their appender state, and the old tables go, as does "sindex"; series'
 * labels become symbol ids and the postings are rebuilt with 4-byte ids. */
static int upgrade_to_runs(struct store *s, MDB_txn *txn)
{
	MDB_dbi old[2];
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_dbi_open(txn, "heads", 0, &old[SLOT_HEADS])) != 0)
		return rc;
	rc = mdb_dbi_open(txn, "open", 0, &old[SLOT_OPEN]);
	if (rc == MDB_NOTFOUND)
		old[SLOT_OPEN] = 0; /* format 1 */
	else if (rc != 0)
		return rc;
	for (int t = SLOT_HEADS; t <= SLOT_OPEN; t++) {
		if (!old[t])
			continue;
		if ((rc = mdb_cursor_open(txn, old[t], &c)) != 0)
			return rc;
		while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
			/* open segments lose the state, heads get the compact one */
			struct head h;
			uint8_t st[HEAD_STATE_MAX];
			size_t sl = 0;
			if (k.mv_size != 8 || legacy_head_parse(v.mv_data, v.mv_size, &h) != 0) {
				rc = MDB_CORRUPTED;
				break;
			}
			if (t == SLOT_HEADS)
				sl = head_state_put(&h.a, h.chunk, st);
			if ((rc = slot_put(s, txn, (enum slot_table)t, key_get_u64(k.mv_data), st, sl,
					   h.chunk, h.clen)) != 0 ||
			    (s->slots.n >= 4096 && (rc = slots_flush(s, txn)) != 0))
				break;
		}
		mdb_cursor_close(c);
		if (rc != MDB_NOTFOUND)
			return rc;
	}
	/* format 1: the last segment of each series inline in the chunks index */
	if ((rc = mdb_cursor_open(txn, s->dbi_chunks, &c)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		if (v.mv_size == 8)
			continue;
		if (k.mv_size != 16 || v.mv_size < HEAD_STATE_BYTES + 2 + 8) {
			rc = MDB_CORRUPTED;
			break;
		}
		if ((rc = slot_put(s, txn, SLOT_OPEN, key_get_u64(k.mv_data), NULL, 0,
				   (uint8_t *)v.mv_data + HEAD_STATE_BYTES,
				   v.mv_size - HEAD_STATE_BYTES)) != 0 ||
		    (rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = slots_flush(s, txn)) != 0 || (rc = mdb_drop(txn, old[SLOT_HEADS], 1)) != 0)
		return rc;
	if (old[SLOT_OPEN] && (rc = mdb_drop(txn, old[SLOT_OPEN], 1)) != 0)
		return rc;
	/* labels as symbol ids, and the postings again with 4-byte ids */
	if ((rc = sym_writer_begin(s, txn)) != 0 || (rc = mdb_drop(txn, s->dbi_postings, 0)) != 0 ||
	    (rc = mdb_cursor_open(txn, s->dbi_series, &c)) != 0)
		return rc;
	struct pw_buf enc, syms;
	pw_buf_init(&enc, 0);
	pw_buf_init(&syms, 0);
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		enc.len = syms.len = 0;
		pw_buf_append(&enc, v.mv_data, v.mv_size);
		if ((rc = series_encode_syms(s, txn, enc.data, enc.len, &syms)) != 0)
			break;
		uint8_t kb[8]; /* the key may move with its page */
		if (k.mv_size != 8) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(kb, k.mv_data, 8);
		MDB_val sk = {8, kb}, sv = {syms.len, syms.data};
		if ((rc = mdb_cursor_put(c, &sk, &sv, MDB_CURRENT)) != 0)
			break;
		uint64_t id = key_get_u64(kb);
		uint8_t pk[POSTING_KEY_MAX + 16], pid[4];
		const char *name, *value;
		size_t off = 0;
		if (id > POSTING_ID_MAX) {
			rc = MDB_BAD_VALSIZE;
			break;
		}
		posting_id_put(pid, id);
		while (rc == 0 && labels_next(enc.data, enc.len, &off, &name, &value)) {
			MDB_val pkv = {posting_key(pk, name, value), pk}, piv = {4, pid};
			rc = mdb_put(txn, s->dbi_postings, &pkv, &piv, MDB_APPENDDUP);
		}
		if (rc != 0)
			break;
	}
	mdb_cursor_close(c);
	pw_buf_free(&enc);
	pw_buf_free(&syms);
	if (rc != MDB_NOTFOUND || (rc = sym_writer_finish(s, txn)) != 0)
		return rc;
	/* the index from label hashes to ids: the writer keeps it in memory */
	MDB_dbi sindex;
	rc = mdb_dbi_open(txn, "sindex", 0, &sindex);
	if (rc == 0)
		rc = mdb_drop(txn, sindex, 1);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Format 3's open segments (Gorilla chunks in openruns) into blocks
 * behind their first timestamp; sealed segments stay Gorilla chunks, read
 * as such by their keys (below segs_blk_from, which becomes next_seq). */
static int open_to_blocks(struct store *s, MDB_txn *txn)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t next_seq, *runs = NULL;
	size_t nruns = 0;
	int rc;

	if ((rc = slots_flush(s, txn)) != 0 || /* the runs written so far */
	    (rc = mdb_cursor_open(txn, s->dbi_open, &c)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		if (k.mv_size != 8) {
			rc = MDB_CORRUPTED;
			break;
		}
		runs = xreallocarray(runs, nruns + 1, sizeof *runs);
		runs[nruns++] = key_get_u64(k.mv_data);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND) {
		free(runs);
		return rc;
	}
	rc = 0;
	/* Runs of SLOT_RUN ids become runs of 1 << OPEN_RUN_BITS: run R's
	 * entries go to keys R << 3 and up, so the old runs are taken from
	 * the last, each deleted before its entries are put back: the keys
	 * put never meet an old run not yet taken. */
	s->open_blk = true;
	for (size_t r = nruns; r-- > 0 && rc == 0;) {
		uint8_t kb[8];
		MDB_val rk = {8, kb};
		struct slot_ent ents[SLOT_RUN];
		size_t n;
		uint8_t *copy;
		key_put_u64(kb, runs[r]);
		if ((rc = mdb_get(txn, s->dbi_open, &rk, &v)) != 0)
			break;
		copy = xmalloc(v.mv_size);
		memcpy(copy, v.mv_data, v.mv_size);
		v.mv_data = copy;
		if ((rc = mdb_del(txn, s->dbi_open, &rk, NULL)) != 0 ||
		    (rc = slot_block_parse(&v, ents, &n)) != 0) {
			free(copy);
			break;
		}
		for (size_t i = 0; i < n && rc == 0; i++) {
			uint64_t id = runs[r] << SLOT_RUN_BITS | ents[i].lo;
			struct chunk_dec d;
			int64_t t;
			double dv;
			size_t m = 0, len;
			int res, cnt = chunk_dec_init(&d, ents[i].p, ents[i].len);
			if (cnt <= 0) {
				rc = MDB_CORRUPTED;
				break;
			}
			blk_codec_samples(&s->blkw, (size_t)cnt);
			while ((res = chunk_dec_next(&d, &t, &dv)) == 1) {
				s->blkw.ts[m] = t;
				s->blkw.vs[m++] = dv;
			}
			if (res < 0 || m == 0) {
				rc = MDB_CORRUPTED;
				break;
			}
			uint8_t hdr[OPEN_BLK_HDR], out[BLK_CAP_BYTES];
			key_put_ts(hdr, s->blkw.ts[0]);
			/* at most 240 samples of at most ~1 KB: one block */
			if (blk_encode_fit(&s->blkw, s->blkw.ts, s->blkw.vs, m, out, sizeof out, &len) !=
			    m) {
				rc = MDB_CORRUPTED;
				break;
			}
			rc = slot_put(s, txn, SLOT_OPEN, id, hdr, sizeof hdr, out, len);
		}
		free(copy);
		if (rc == 0 && s->slots.n >= 4096)
			rc = slots_flush(s, txn);
	}
	free(runs);
	if (rc != 0)
		return rc;
	if ((rc = store__meta_get_u64(txn, s, "next_seq", &next_seq)) != 0 ||
	    (rc = store__meta_put_u64(txn, s, "segs_blk_from", next_seq)) != 0)
		return rc;
	s->segs_blk_from = next_seq;
	return 0;
}

/* Format 1 or 2: heads and open segments into runs; then (format 3 too)
 * open segments into blocks, the log folded (read as the store's format
 * wrote it), then the format. The rewritten tables need room, so the map
 * grows as for a batch. Sealed segments stay as they are. */
int legacy_upgrade(struct store *s, uint64_t format, char **cause)
{
	MDB_txn *txn;
	int rc;

	for (;;) {
		pthread_rwlock_rdlock(&s->resize);
		slots_begin(&s->slots);
		if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) == 0) {
			if ((format < 3 && (rc = upgrade_to_runs(s, txn)) != 0) ||
			    (rc = open_to_blocks(s, txn)) != 0 ||
			    (rc = store__wal_fold(s, txn)) != 0 || (rc = slots_flush(s, txn)) != 0 ||
			    (rc = store__meta_put_u64(txn, s, "format", STORE_FORMAT)) != 0)
				mdb_txn_abort(txn);
			else if ((rc = mdb_txn_commit(txn)) == 0)
				sym_writer_committed(s);
		}
		if (rc != 0) {
			sym_writer_abort(s);
			s->segs_blk_from = UINT64_MAX;
			s->open_blk = false;
		}
		slots_reset(&s->slots);
		pthread_rwlock_unlock(&s->resize);
		if (rc != MDB_MAP_FULL)
			break;
		if ((rc = store__grow(s, cause)) != 0)
			return rc;
	}
	if (rc != 0) {
		if (cause)
			*cause = store__cause(rc, "upgrading the store to format 4");
		return store__err(rc);
	}
	s->wal_v1 = false;
	log_info("store", "%s: upgraded to store format %u", s->path, STORE_FORMAT);
	return 0;
}
