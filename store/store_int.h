/*
 * store_int.h — what the files of store/ share: the LMDB layout, key and
 * byte encodings, and what each file offers the others (chunk codec, log,
 * runs, symbols, older formats, the store, transactions, series cache).
 *
 * LMDB layout (named databases), format 4:
 *   meta      "magic", "format", "next_id", "next_sym", "samples",
 *             "generation", ...
 *   series    id(8, BE)                     -> labels as symbol ids (series.c)
 *   symbols   id(4, BE)                     -> a label name or value (symbols.c)
 *   postings  name \0 value   DUPSORT|FIXED -> id(4, BE)
 *   headruns  run(8, BE)                    -> the heads of a run of SLOT_RUN ids
 *                                              (slots.c), each its compact
 *                                              appender state + chunk
 *   chunks    id(8, BE) + mint(8, BE^sign)  -> seq(8, BE) of a sealed segment
 *                                              in segs
 *   segs      seq(8, BE)                    -> a sealed segment: from meta
 *                                              segs_blk_from on a block
 *                                              (block.c), before it a Gorilla
 *                                              chunk (keys before meta
 *                                              segs_plain_from: format 1's,
 *                                              with its appender state in
 *                                              front; legacy.c)
 *   openruns  run(8, BE)                    -> the open segments of a run of
 *                                              1 << OPEN_RUN_BITS ids
 *                                              (slots.c): each series' last
 *                                              segment while it still has
 *                                              room, its first ts (8) and
 *                                              the block
 *   metadata  metric name                   -> type(1) help \0 unit \0
 *   wal       seq(8, BE) group(1)           -> the samples of one commit that
 *                                              only extend series, of a group
 *                                              of slices of them (wal.c)
 * Sealed segments are only ever appended to segs (MDB_APPEND), so its
 * pages are full; the chunks index holds only fixed-size pointers. Stores
 * of format 1 and 2 (read as they are when opened read-only, else
 * upgraded): legacy.c.
 * Encoded labels (the canonical encoding, what readers get and the writer's
 * cache holds): "name\0" then "label\0value\0" pairs sorted by label
 * name, so memcmp orders series by name then labels and every string is a
 * C string.
 * Invariants per series: its sealed segments, its open segment, its head
 * and its samples in the log cover disjoint, ascending time ranges, in that
 * order; a series with samples always has a head.
 */
#ifndef PW_STORE_INT_H
#define PW_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <string.h>

#include "store.h"

/* The format this build writes: 4, format 3 (heads and open segments
 * packed by runs of ids, labels as symbols, the log in entries per group
 * of slices) with segments as blocks (block.c): the open ones in openruns
 * behind their first timestamp, sealed ones in segs from meta
 * segs_blk_from on. A store of format 1, 2 or 3 is upgraded when opened
 * for writing and read as it is when opened read-only (legacy.c); a newer
 * one is refused. */
#define STORE_FORMAT 4u
#define STORE_MAGIC "pacewatch-store"

/* A head is its appender state followed by the chunk bytes, so it can be
 * appended to without decoding: the compact state of head_state_put, at
 * most HEAD_STATE_MAX bytes (~17 for a scrape). */
#define HEAD_STATE_MAX 30u
/* The head: the newest samples of a series, rewritten when its slice of
 * the log is folded (every sixteenth commit of a scrape), so it can be as
 * long as a segment: flushed at a per-series fill level between 120 and
 * 239 samples, appended to the series' last segment. */
#define HEAD_MAX_SAMPLES 240u
#define CHUNK_CAP_BYTES 1900u
/* Segments: ~1 KB. A series' last segment grows in the run of open
 * segments; once full it moves to the append-only segs log. Sizes were
 * chosen with tools/bench-store (see docs/storage.md). */
#define SEG_CAP_BYTES 960u
/* at most 240 samples: a read decodes a segment from its start, so this
 * bounds the work of "the last hour" (see docs/storage.md) */
#define SEG_MAX_SAMPLES 240u
/* The most one sample takes: 4 + 64 timestamp bits, 3 + 5 + 6 + 64 value
 * bits. */
#define CHUNK_SAMPLE_MAX_BYTES 19u
/* Re-encoding a trimmed chunk can take a few more bits than the original;
 * every chunk buffer has this much room. */
#define CHUNK_BUF_BYTES ((CHUNK_CAP_BYTES > SEG_CAP_BYTES ? CHUNK_CAP_BYTES : SEG_CAP_BYTES) + 256u)

#define POSTING_KEY_MAX 400u    /* longer "name\0value" keys are hashed */
#define LABEL_NAME_MAX 256u

/* ---- chunk codec (chunk.c) ---------------------------------------------- */

struct chunk_app {
	int64_t t, delta;
	uint64_t v;
	uint32_t nbits;
	uint16_t count;
	uint8_t lead, trail;
};

void chunk_app_init(struct chunk_app *a);
bool chunk_app_room(const struct chunk_app *a, size_t cap_bytes, unsigned max_samples);
/* buf must hold CHUNK_CAP_BYTES zeroed past the current bit length. */
void chunk_app_add(struct chunk_app *a, uint8_t *buf, int64_t t, double v);
size_t chunk_app_bytes(const struct chunk_app *a);
/* The appender state of a chunk without a stored one, by decoding it;
 * clears the padding bits after the last sample in buf (a copy the caller
 * will append to). */
int chunk_app_resume(struct chunk_app *a, uint8_t *buf, size_t len);

struct chunk_dec {
	const uint8_t *buf;
	uint64_t nbits, pos;
	uint16_t left;
	uint8_t started, lead, trail;
	int64_t t, delta;
	uint64_t v;
};
/* Returns the sample count (>= 0) or PW_EINVAL. */
int chunk_dec_init(struct chunk_dec *d, const uint8_t *buf, size_t len);
/* 1 with a sample, 0 at the end, PW_EINVAL on a malformed chunk. */
int chunk_dec_next(struct chunk_dec *d, int64_t *t, double *v);
/* Up to max samples into t/v[0..*n), as that many chunk_dec_next calls
 * would give them: 0 (*n < max: the chunk ended), or PW_EINVAL on a
 * malformed chunk, *n then the samples before the fault. */
int chunk_dec_read(struct chunk_dec *d, int64_t *t, double *v, size_t max, size_t *n);
/* Encode as many of the n samples as fit into out (outcap bytes); returns
 * how many. The final appender state is stored in *app when non-NULL. */
size_t chunk_encode(const int64_t *ts, const double *vs, size_t n, uint8_t *out,
		    size_t outcap, unsigned max_samples, struct chunk_app *app);
/* A stored head: its appender state, chunk and first timestamp. */
struct head {
	struct chunk_app a;
	const uint8_t *chunk;
	size_t clen;
	int64_t mint;
};
/* The compact state of appender a over chunk (out: HEAD_STATE_MAX bytes);
 * returns its length. */
size_t head_state_put(const struct chunk_app *a, const uint8_t *chunk, uint8_t *out);
/* Parse a stored head of format 3 (the compact state); 0 or PW_EINVAL. */
int head_parse_compact(const void *p, size_t len, struct head *h);
/* Parse a stored head, of format 3 or (legacy) with format 2's fixed
 * state (legacy_head_parse); 0 or PW_EINVAL. The caller's flag chooses,
 * here (below), so that chunk.c knows only format 3. */
static inline int head_parse(const void *p, size_t len, bool legacy, struct head *h);
/* Start decoding a stored head. */
static inline int head_dec_init(struct chunk_dec *d, const void *p, size_t len, bool legacy)
{
	struct head h;
	if (head_parse(p, len, legacy, &h) != 0)
		return PW_EINVAL;
	return chunk_dec_init(d, h.chunk, h.clen);
}

/* ---- format 4's block codec (block.c) ----------------------------------- */

/* Segments (a series' open one in openruns, sealed ones in segs) are
 * blocks: decimal mantissas and timestamp deltas as zigzag varints,
 * compressed with zstd (block.c has the layout). A sealed block stays at
 * most BLK_CAP_BYTES so that two fit an LMDB page (larger values take
 * overflow pages of whole 4 KiB); it holds at most BLK_MAX_SAMPLES. */
#define BLK_RAW 0xb1u
#define BLK_ZSTD1 0xb3u /* 0xb2 (three frames) was never stored by a release */
#define BLK_CAP_BYTES 2000u
#define BLK_MAX_SAMPLES 2048u
/* the most a decoder accepts (hostile bytes are bounded by it) */
#define BLK_DEC_MAX 8192u
/* A block of more samples than this has an index: a checkpoint every
 * BLK_IDX_EVERY samples, where a read can start decoding. */
#define BLK_IDX_EVERY 256u
#define BLK_IDX_MAX (BLK_DEC_MAX / BLK_IDX_EVERY)
#define BLK_RAW_MAX                                                                          \
	(3u * VARINT_MAX_BYTES + 2u + BLK_DEC_MAX * (2u * VARINT_MAX_BYTES + 8u) +           \
	 BLK_IDX_MAX * 5u * VARINT_MAX_BYTES)
#define BLK_K_MAX 17
#define BLK_ZSTD_LEVEL 1
/* The open block keeps growing while it is at most this large. */
#define BLK_OPEN_ROOM (BLK_CAP_BYTES - 100u)

/* Buffers and zstd contexts, reused; decoded samples land in ts/vs. */
struct blk_codec {
	void *cctx, *dctx;
	uint8_t *raw, *z1buf;
	size_t rawcap, z1cap;
	int64_t *mant;
	int8_t *kd;
	uint64_t *bmant; /* mode 2's */
	int8_t *bok;
	size_t scap;
	int64_t *ts;
	double *vs;
	size_t dcap;
	size_t need; /* the last blk_encode's size, stored or not */
	size_t split; /* in raw: where the values' part starts */
	size_t codes_at, codes_end, split2; /* the codes; where their rest starts */
	bool mode2;
};
void blk_codec_init(struct blk_codec *c);
void blk_codec_free(struct blk_codec *c);
/* Make c->ts/vs hold n samples. */
void blk_codec_samples(struct blk_codec *c, size_t n);
/* Encode n samples (ascending timestamps, n <= BLK_DEC_MAX) into out (cap
 * bytes); returns the length, or 0 when it needs more than cap (c->need). */
size_t blk_encode(struct blk_codec *c, const int64_t *ts, const double *vs, size_t n,
		  uint8_t *out, size_t cap);
/* Encode the longest prefix of the n samples (at most BLK_MAX_SAMPLES)
 * that fits in cap bytes; returns how many, the length in *len. */
size_t blk_encode_fit(struct blk_codec *c, const int64_t *ts, const double *vs, size_t n,
		      uint8_t *out, size_t cap, size_t *len);
/* Decode a block into c->ts/vs; 0 with *n samples, or PW_EINVAL for bytes
 * that are not a well-formed block (every length and count is checked). */
int blk_decode(struct blk_codec *c, const uint8_t *blk, size_t len, size_t *n);
/* Decode only the samples of [mint, maxt] (ascending) into c->ts/vs[0..*n);
 * *past: the block has samples after maxt. */
int blk_decode_range(struct blk_codec *c, const uint8_t *blk, size_t len, int64_t mint,
		     int64_t maxt, size_t *n, bool *past);

/* ---- varints (LEB128: 7 bits a byte, low first) ------------------------ */

#define VARINT_MAX_BYTES 10u
/* Write v at p (VARINT_MAX_BYTES of room); returns the bytes written. */
static inline size_t varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Read one at *p (advanced) before end; false when cut short or too long. */
static inline bool varint_get(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return false;
		uint8_t c = *(*p)++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/* 8 bytes little-endian: a value's bits. */
static inline void le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t le64_get(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A double's 8 bytes LE at *p (advanced) before end; false when cut short. */
static inline bool f64_get(const uint8_t **p, const uint8_t *end, double *v)
{
	uint64_t bits;
	if (end - *p < 8)
		return false;
	bits = le64_get(*p);
	*p += 8;
	memcpy(v, &bits, 8);
	return true;
}

static inline uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* ---- keys ---------------------------------------------------------------- */

static inline void key_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t key_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void key_put_ts(uint8_t *p, int64_t ts)
{
	key_put_u64(p, (uint64_t)ts ^ 0x8000000000000000ULL);
}

static inline int64_t key_get_ts(const uint8_t *p)
{
	return (int64_t)(key_get_u64(p) ^ 0x8000000000000000ULL);
}

/* A posting's series id: 4 bytes, big-endian (series ids stay below
 * 2^32); 8 in an older store read as it is (posting_width). */
#define POSTING_ID_MAX UINT32_MAX
static inline size_t posting_width(const struct store *s);
static inline uint64_t posting_id(const void *p, size_t w)
{
	const uint8_t *b = p;
	if (w == 8)
		return key_get_u64(b);
	return (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
}
static inline void posting_id_put(uint8_t *b, uint64_t id)
{
	b[0] = (uint8_t)(id >> 24);
	b[1] = (uint8_t)(id >> 16);
	b[2] = (uint8_t)(id >> 8);
	b[3] = (uint8_t)id;
}

/* Build the postings key of (name, value) into out (>= POSTING_KEY_MAX + 16
 * bytes); returns its length. */
size_t posting_key(uint8_t *out, const char *name, const char *value);

/* ---- the recent-samples log (wal.c) --------------------------------------- */

/* The series are split into slices (runs of 256 ids, round robin). A
 * commit's record holds one portion per slice; each slice is folded on
 * its own turn (the commit's sequence number modulo WAL_SLICES), so a
 * scrape of every series rewrites a sixteenth of the heads, and a record
 * is deleted once every slice has been folded past it. */
#define WAL_SLICES 16u
/* A commit's portions are kept in groups of slices that fold one after the
 * other, one entry each, deleted when the group's last slice is folded. */
#define WAL_GROUP 2u
#define WAL_GROUPS (WAL_SLICES / WAL_GROUP)
#define WAL_GROUP_HEADER (4u * WAL_GROUP) /* u32 LE length of each portion */
#define WAL_KEY_BYTES 9u /* sequence number (8, BE), then group */
void wal_key(uint8_t kb[WAL_KEY_BYTES], unsigned group, uint64_t seq);
static inline unsigned wal_slice_of(uint64_t id) { return (unsigned)(id >> 8) & (WAL_SLICES - 1); }
/* Fold everything when the log holds this many samples. */
#define WAL_MAX_SAMPLES (2048u * 1024u)
/* Larger batches rewrite their heads anyway: they skip the log. */
#define WAL_BATCH_MAX (128u * 1024u)

struct wal_rec_enc {
	struct pw_buf buf;
	size_t nseries, nsamples;
	uint64_t last_id;
	int64_t last_ts;
};
void wal_rec_begin(struct wal_rec_enc *r);
void wal_rec_series(struct wal_rec_enc *r, uint64_t id, size_t n);
/* prev: the series' previous logged sample (in this portion or the
 * slice's earlier unfolded ones), NULL when there is none */
void wal_rec_sample(struct wal_rec_enc *r, int64_t ts, double v, const double *prev);
void wal_rec_finish(struct wal_rec_enc *r, const uint8_t **p, size_t *len);
void wal_rec_free(struct wal_rec_enc *r);
struct store;
/* Per slice, the sequence number through which its portions are folded
 * into the heads (meta wal_folded). */
int wal_folded_get(struct store *s, MDB_txn *txn, uint64_t folded[WAL_SLICES]);
int wal_folded_put(struct store *s, MDB_txn *txn, const uint64_t folded[WAL_SLICES]);
/* cb(ctx, id, ts, value) for every sample not yet folded, of one slice
 * (or all, slice < 0), in log order; nrecs (optional) counts the records
 * each slice has such samples in. */
int wal_read(struct store *s, MDB_txn *txn, int slice, const uint64_t folded[WAL_SLICES],
	     size_t *nrecs, int (*cb)(void *, uint64_t, int64_t, double), void *ctx);

/* Decoded log samples in flat arrays; wal_samples_add is a wal_read /
 * wal_rec_walk callback that appends one. */
struct wal_samples {
	uint64_t *id;
	int64_t *ts;
	double *vs;
	size_t n, cap;
};
int wal_samples_add(void *ctx, uint64_t id, int64_t ts, double v);
void wal_samples_free(struct wal_samples *w);

/* cb(ctx, id, ts, value) for every sample of one portion standing alone
 * (no earlier portions of its slice) */
int wal_rec_walk(const MDB_val *rec, int (*cb)(void *, uint64_t, int64_t, double), void *ctx);

/* What the writer knows of the log: per slice its records and samples
 * and each logged series' newest timestamp. Guarded by the store's
 * wlock; valid while meta wal_gen equals gen. */
struct wal_last {
	uint64_t id;
	int64_t ts;
	double v;
};
struct wal_map { /* the ids of one slice only (wal.c, slice_slot) */
	struct wal_last *tab;
	size_t cap, n;
	uint64_t probes; /* slots passed over looking for free ones */
};
struct wal_slice {
	size_t nrecs, nsamples;
	struct wal_map map;
};
struct wal_writer {
	bool valid;
	uint64_t gen;
	uint64_t folded[WAL_SLICES];
	size_t nsamples;
	struct wal_slice slice[WAL_SLICES];
};
struct store;
/* Make s->wal describe the log as txn sees it (re-read when another
 * process changed it). */
int wal_writer_sync(struct store *s, MDB_txn *txn);
bool wal_writer_last(const struct wal_writer *w, uint64_t id, int64_t *ts, double *v);
void wal_writer_set(struct wal_writer *w, uint64_t id, int64_t ts, double v);
void wal_writer_clear_slice(struct wal_writer *w, unsigned slice);
void wal_writer_reset(struct wal_writer *w);
void wal_writer_free(struct wal_writer *w);

/* The log as a snapshot sees it, per series; shared and refcounted. */
struct wal_view;
int wal_view_get(struct store *s, MDB_txn *txn, struct wal_view **out);
void wal_view_unref(struct wal_view *w);
/* The logged samples of series id (ascending, all newer than its head). */
size_t wal_view_find(const struct wal_view *w, uint64_t id, const int64_t **ts,
		     const double **vs);

/* ---- heads and open segments, packed by runs of ids (slots.c) ------------- */

#define SLOT_RUN_BITS 8u
#define SLOT_RUN (1u << SLOT_RUN_BITS)
/* Format 4's open blocks are larger than format 3's open segments: runs
 * of 64 ids keep a run's value near 80 KB on tools/bench-store's data, so
 * a head flush rewrites that much, and LMDB finds room for it among the
 * pages it freed (an overflow value needs consecutive free pages; values
 * of ~300 KB left them unused and the file grew). With 32 ids, short
 * series' runs (~6 KB) wasted a quarter of their second page. */
#define OPEN_RUN_BITS 6u
enum slot_table { SLOT_HEADS = 0, SLOT_OPEN = 1 };

/* A reader's look-ups in one table of a snapshot; consecutive ids of one
 * run read the run's value once. */
struct slot_reader {
	MDB_txn *txn;
	MDB_dbi dbi;
	bool legacy, have;
	unsigned bits; /* ids per run: 1 << bits */
	unsigned skip; /* legacy and skip: a store read as it is (legacy.c) */
	uint64_t run;
	MDB_val blk;
	int rc;
};
struct store;
static inline void slot_reader_init(struct slot_reader *r, const struct store *s,
				    MDB_txn *txn, enum slot_table t);
/* The entry of series id: a head is its appender state + chunk
 * (head_parse), an open segment the chunk alone. 0, MDB_NOTFOUND, or an
 * LMDB error. */
static inline int slot_read(struct slot_reader *r, uint64_t id, MDB_val *out);
/* Entries in table t. */
static inline int slot_count(const struct store *s, MDB_txn *txn, enum slot_table t,
			     uint64_t *n);
/* Format 3's readers (slots.c): the three above (inline, below) call
 * them, or legacy.c's for an older store read as it is, so that slots.c
 * knows only runs. */
int slot_read_packed(struct slot_reader *r, uint64_t id, MDB_val *out);
int slot_count_packed(MDB_txn *txn, MDB_dbi dbi, uint64_t *n);
/* A stored run: its entries in id order (out holds SLOT_RUN), or the one
 * of id & (SLOT_RUN - 1) == lo; MDB_CORRUPTED for a malformed value. */
struct slot_ent {
	unsigned lo;
	const uint8_t *p;
	size_t len;
};
int slot_block_parse(const MDB_val *blk, struct slot_ent *out, size_t *n);
int slot_block_find(const MDB_val *blk, unsigned lo, MDB_val *out);

/* The runs a write transaction changes, written by slots_flush() just
 * before the commit and dropped by slots_reset() on abort. Guarded by the
 * store's wlock. */
struct slot_run;
struct slot_writer {
	struct slot_run **tab;
	size_t cap, n;
	bool flushed; /* this transaction wrote runs already */
	/* the scratch buffer the entries put are copied to */
	uint8_t **chunks, *cur;
	size_t *chunk_size, nchunks, left;
	/* the last unchanged run looked up per table */
	bool cached[2];
	uint64_t cached_run[2];
	MDB_val cached_blk[2];
	int cached_rc[2];
};
/* As slot_read, inside the write transaction: sees its changes. The
 * value stays valid until the entry is put or deleted, or the flush. */
int slot_get(struct store *s, MDB_txn *txn, enum slot_table t, uint64_t id, MDB_val *out);
/* The entry becomes hdr (hlen bytes, may be 0) followed by p (len). */
int slot_put(struct store *s, MDB_txn *txn, enum slot_table t, uint64_t id, const void *hdr,
	     size_t hlen, const void *p, size_t len);
/* 0, or MDB_NOTFOUND when there was no entry */
int slot_del(struct store *s, MDB_txn *txn, enum slot_table t, uint64_t id);
int slots_flush(struct store *s, MDB_txn *txn);
void slots_reset(struct slot_writer *w);
/* At the start of every write transaction. */
void slots_begin(struct slot_writer *w);
void slots_free(struct slot_writer *w);

/* ---- label strings stored once (symbols.c) --------------------------------- */

#define SYM_BLOCK_BITS 16u
#define SYM_BLOCK (1u << SYM_BLOCK_BITS)
#define SYM_BLOCKS 4096u
struct sym {
	char *s; /* NUL-terminated */
	uint32_t len;
};
struct sym_slot {
	uint64_t hash; /* 0: empty */
	uint32_t id;
};
struct symtab {
	pthread_mutex_t lock;         /* loading and publishing */
	struct sym *blk[SYM_BLOCKS];  /* never move once allocated */
	uint32_t n;                   /* ids below are published (atomic) */
	/* the writer's (under wlock): string -> id of ids below map_upto and
	 * of this attempt's new ones, which are base, base + 1, ... */
	struct sym_slot *map;
	size_t mapcap, mapn;
	uint32_t map_upto, base;
	struct sym *pending;
	size_t npending, cappending;
};
static inline struct sym *sym_at(struct symtab *t, uint32_t id)
{
	return &t->blk[id >> SYM_BLOCK_BITS][id & (SYM_BLOCK - 1)];
}
struct store;
/* The string of symbol id, loading it from txn if this process has not
 * met it yet; valid until the store closes. Inline (below): decoding a
 * series' labels (series.c) calls it for every string. */
static inline int sym_get(struct store *s, MDB_txn *txn, uint32_t id, const char **str,
			  uint32_t *len);
/* sym_get of an id this process has not met: loads the symbols up to id
 * from txn (under the table's lock). */
int sym_fetch(struct store *s, MDB_txn *txn, uint32_t id);
void symtab_free(struct symtab *t);
/* A write transaction's symbols: begin (sees other processes' additions),
 * intern, finish (before the commit), then committed or abort. */
int sym_writer_begin(struct store *s, MDB_txn *txn);
int sym_intern(struct store *s, MDB_txn *txn, const char *str, size_t len, uint32_t *id);
int sym_writer_finish(struct store *s, MDB_txn *txn);
void sym_writer_committed(struct store *s);
void sym_writer_abort(struct store *s);

/* ---- stores of format 1 and 2 (legacy.c) ---------------------------------- */

/* Opened for writing, such a store is upgraded to format 3 in one
 * transaction by store_open (legacy_upgrade); opened read-only it is read
 * as it is, and the readers' hot paths decide by one flag each:
 *   s->slots_legacy  format 2 or older: heads and open segments an entry
 *                    per series with the fixed state (slot_read,
 *                    head_parse), labels in full in series
 *                    (snap_series_enc), 8-byte ids in postings
 *                    (posting_width)
 *   s->wal_v1        the log holds format 2's records (wal_read)
 *   dbi 0            a table the store lacks: dbi_open (format 1),
 *                    dbi_wal, dbi_symbols, dbi_feed; s->no_records
 * Upgraded or not, segments written before meta segs_plain_from keep the
 * fixed state (seg_resolve, retention). */

/* store_open, read-only, found no table *d of format 3: 0 when an older
 * store may lack it (*d is then the older table, or 0 for none), else
 * MDB_NOTFOUND. Sets s->slots_legacy for a store of format 2 or older. */
int legacy_table_missing(struct store *s, MDB_txn *txn, MDB_dbi *d);
/* s->segs_plain_from from meta (set to the next segs key for a store
 * without it opened for writing: a new one or format 1's). */
int legacy_segs_plain_from(struct store *s, MDB_txn *txn);
/* The format of an existing store (newer ones were refused before); sets
 * s->wal_v1 for format 2's log. */
int legacy_format_get(struct store *s, MDB_txn *txn, uint64_t *format);
/* s->segs_blk_from and s->open_blk from meta (a new store: every
 * segment a block; format 3 or older: none). */
int legacy_segs_blk_from(struct store *s, MDB_txn *txn, bool is_new);
/* Upgrade a store of format 1, 2 or 3 to format 4, in one transaction. */
int legacy_upgrade(struct store *s, uint64_t format, char **cause);

/* Format 2's heads and open segments, and format 1's segments, carry the
 * appender state in a fixed 30 bytes in front of the chunk. */
#define HEAD_STATE_BYTES 30u
void chunk_app_save(const struct chunk_app *a, uint8_t *p);
int chunk_app_load(struct chunk_app *a, const uint8_t *state, const uint8_t *chunk, size_t len);
/* head_parse of a head with the fixed state. */
int legacy_head_parse(const void *p, size_t len, struct head *h);
/* slot_reader_init, slot_read and slot_count of a store read as it is
 * (s->slots_legacy): an entry per series. */
void legacy_slot_reader_init(struct slot_reader *r, enum slot_table t);
int legacy_slot_read(struct slot_reader *r, uint64_t id, MDB_val *out);
int legacy_slot_count(MDB_txn *txn, MDB_dbi dbi, uint64_t *n);
/* The chunk bytes of a segment stored with the fixed state in front (v
 * and out may be the same); MDB_CORRUPTED when too short. */
int legacy_seg_strip(const MDB_val *v, MDB_val *out);
/* Retention's rewrite of such a segment in its form: under its segs key
 * seq with the state in front, or, seq NULL, inline in the chunks index
 * under key k (format 1's last segment). */
int legacy_seg_put(struct store *s, MDB_txn *txn, const MDB_val *k, const uint8_t *seq,
		   const struct chunk_app *a, const uint8_t *chunk);

/* Format 2's log (s->wal_v1): a record per commit, keyed by its sequence
 * number alone, holding every slice's portion after WAL_REC_HEADER bytes
 * of u32 LE portion lengths. */
#define WAL_V1_KEY_BYTES 8u
#define WAL_V1_PARTS WAL_SLICES
#define WAL_REC_HEADER (4u * WAL_V1_PARTS)
/* In its portions, a series' header and a value, read at *p (advanced)
 * before end; false when malformed. */
bool legacy_wal_series(const uint8_t **p, const uint8_t *end, uint64_t *did, uint64_t *n);
bool legacy_wal_value(uint64_t vh, const uint8_t **p, const uint8_t *end, double *v);

/* ---- the store ----------------------------------------------------------- */

struct cache_ent {
	uint64_t hash;
	uint64_t id; /* 0 = empty slot */
	char *enc;
	uint32_t len;
};

/* The writer's index of every series: all with ids below upto. */
struct series_cache {
	struct cache_ent *tab;
	size_t cap, n;
	uint64_t upto;
};

struct store {
	MDB_env *env;
	MDB_dbi dbi_meta, dbi_series, dbi_postings, dbi_symbols, dbi_heads, dbi_chunks,
		dbi_segs, dbi_metadata, dbi_records, dbi_feed, dbi_wal, dbi_open;
	bool feed; /* record every commit in dbi_feed */
	bool no_records; /* read-only open of a store without the records table */
	char *path;
	uint64_t map_size, max_map;
	uint64_t max_series; /* 0: no limit (store_opts.max_series) */
	bool read_only;
	pthread_mutex_t wlock;      /* one committer at a time; guards cache */
	pthread_rwlock_t resize;    /* transactions share, map resize excludes */
	struct series_cache cache;
	uint64_t cache_gen;
	uint64_t serial;            /* store_serial: unique among the process's stores */
	uint64_t segs_plain_from;   /* segs keys from here hold no appender state (legacy.c) */
	uint64_t segs_blk_from;     /* segs keys from here hold blocks (block.c), older
				     * ones Gorilla chunks; UINT64_MAX read as it is */
	bool open_blk;              /* open segments are blocks after their first
				     * timestamp (format 4), else Gorilla chunks */
	struct blk_codec blkw;      /* the writer's, guarded by wlock */
	struct wal_writer wal;      /* guarded by wlock */
	struct slot_writer slots;   /* guarded by wlock */
	bool slots_legacy;          /* read-only, format <= 2: an entry per series (legacy.c) */
	bool wal_v1;                /* the log holds format 2's records (legacy.c) */
	struct store_batch *spare_batch; /* a finished batch's buffers (write.c) */
	struct symtab syms;
	pthread_mutex_t vlock;      /* guards view */
	struct wal_view *view;      /* the newest log view built */
	uint64_t wal_probes;        /* slots passed over in the id tables of wal_read
				     * and of the views built (__atomic): they stay
				     * few per sample (test_wal.c) */
	int lock_fd;                /* a writer's STORE_LOCK_FILE, flocked; -1 */
};

/* The writer's lock file in a store's directory (env.c). */
#define STORE_LOCK_FILE "pacewatch.lock"
/* Tests only: open writers without the lock, to check that the store stays
 * right when two writers meet anyway (a file system without flock). */
extern bool store__test_no_writer_lock;

struct store_snap {
	struct store *s;
	MDB_txn *txn;
	struct wal_view *wal; /* the log as txn sees it, NULL when empty */
	/* decoded labels handed out, valid until store_snap_end */
	char *cur;
	size_t left;
	char **chunks;
	size_t nchunks;
	struct pw_buf scratch;
};

/* The canonical encoding of a series' stored labels v, in memory of the
 * snapshot. Release gives the memory back when it was the last handed
 * out (a candidate that did not match). */
int snap_series_enc(struct store_snap *snap, const MDB_val *v, const char **enc, size_t *len);
void snap_series_release(struct store_snap *snap, const char *enc, size_t len);

/* txn.c: transactions, the meta table's numbers, errors, map growth, for
 * every file (env.c opens and closes the store and calls the files; none
 * calls env.c) */
int store__err(int mdb_rc);
char *store__cause(int mdb_rc, const char *what);
int store__grow(struct store *s, char **cause);
int store__meta_get_u64(MDB_txn *txn, struct store *s, const char *key, uint64_t *v);
int store__meta_put_u64(MDB_txn *txn, struct store *s, const char *key, uint64_t v);
int store__txn_begin(struct store *s, unsigned flags, MDB_txn **txn);

/* write.c: free the buffers kept for the next batch */
void store__batch_spare_free(struct store *s);
/* write.c: fold the log into the heads inside txn (the caller commits) */
int store__wal_fold(struct store *s, MDB_txn *txn);

/* series.c */
void cache_clear(struct series_cache *c);
uint64_t cache_find(const struct series_cache *c, uint64_t hash, const char *enc, size_t len);
void cache_insert(struct series_cache *c, uint64_t hash, uint64_t id, const char *enc, size_t len);
void cache_remove(struct series_cache *c, uint64_t hash, uint64_t id);
/* Put every series with an id below next_id, as txn sees them, into the
 * cache (those from s->cache.upto on). */
int cache_sync(struct store *s, MDB_txn *txn, uint64_t next_id);
int series_create(struct store *s, MDB_txn *txn, uint64_t hash, const char *enc, size_t len,
		  uint64_t id);
int series_delete(struct store *s, MDB_txn *txn, uint64_t id);
/* Iterate the "label\0value\0" pairs of an encoding (the name comes first
 * as __name__). Returns false at the end. */
bool labels_next(const char *enc, size_t len, size_t *off, const char **name,
		 const char **value);
/* A series' labels, canonical encoding <-> stored form (the varint
 * symbol ids of the name and each label's name and value, symbols.c);
 * series_decode appends to out. */
int series_encode_syms(struct store *s, MDB_txn *txn, const char *enc, size_t len,
		       struct pw_buf *out);
int series_decode(struct store *s, MDB_txn *txn, const MDB_val *v, struct pw_buf *out);
/* The strings of a stored series (at most max; PW_ETOOBIG beyond), and
 * the bytes of its canonical encoding. */
int series_strings(struct store *s, MDB_txn *txn, const MDB_val *v, const char **strs,
		   uint32_t *lens, size_t max, size_t *n, size_t *total);

/* The first timestamp of chunk bytes (the caller checked the size). */
static inline int64_t chunk_first_ts(const void *chunk)
{
	return (int64_t)key_get_u64((const uint8_t *)chunk + 2);
}

static inline size_t posting_width(const struct store *s) { return s->slots_legacy ? 8 : 4; }

static inline int sym_get(struct store *s, MDB_txn *txn, uint32_t id, const char **str,
			  uint32_t *len)
{
	struct symtab *t = &s->syms;
	if (id >= __atomic_load_n(&t->n, __ATOMIC_ACQUIRE)) {
		int rc = sym_fetch(s, txn, id);
		if (rc != 0)
			return rc;
	}
	const struct sym *e = sym_at(t, id);
	*str = e->s;
	*len = e->len;
	return 0;
}

/* ---- format 3 or older: the readers' choice -------------------------------- */

/* Stores of format 1 and 2 read as they are (legacy.c) are read behind
 * one test, made here so that chunk.c and slots.c know only format 3. */

static inline int head_parse(const void *p, size_t len, bool legacy, struct head *h)
{
	return legacy ? legacy_head_parse(p, len, h) : head_parse_compact(p, len, h);
}

static inline unsigned slot_run_bits(const struct store *s, enum slot_table t)
{
	return t == SLOT_OPEN && s->open_blk ? OPEN_RUN_BITS : SLOT_RUN_BITS;
}

static inline void slot_reader_init(struct slot_reader *r, const struct store *s,
				    MDB_txn *txn, enum slot_table t)
{
	memset(r, 0, sizeof *r);
	r->txn = txn;
	r->dbi = t == SLOT_HEADS ? s->dbi_heads : s->dbi_open;
	r->bits = slot_run_bits(s, t);
	if (s->slots_legacy)
		legacy_slot_reader_init(r, t);
}

static inline int slot_read(struct slot_reader *r, uint64_t id, MDB_val *out)
{
	return r->legacy ? legacy_slot_read(r, id, out) : slot_read_packed(r, id, out);
}

static inline int slot_count(const struct store *s, MDB_txn *txn, enum slot_table t,
			     uint64_t *n)
{
	MDB_dbi dbi = t == SLOT_HEADS ? s->dbi_heads : s->dbi_open;

	return s->slots_legacy ? legacy_slot_count(txn, dbi, n) : slot_count_packed(txn, dbi, n);
}

/* The chunk bytes of the segment an entry of the chunks index stands
 * for: a sealed segment in segs. Older forms, read by legacy.c: segments
 * written before meta segs_plain_from have the appender state in front,
 * and format 1 kept a series' last segment inline, the entry itself. */
static inline int seg_resolve(MDB_txn *txn, const struct store *s, const MDB_val *v,
			      MDB_val *out)
{
	uint8_t seq[8]; /* out may be v */
	MDB_val k = {8, seq};
	int rc;

	if (v->mv_size != 8)
		return legacy_seg_strip(v, out);
	memcpy(seq, v->mv_data, 8);
	if ((rc = mdb_get(txn, s->dbi_segs, &k, out)) != 0)
		return rc;
	if (key_get_u64(seq) < s->segs_plain_from)
		return legacy_seg_strip(out, out);
	return out->mv_size < 2 ? MDB_CORRUPTED : 0;
}

/* Is the segs value of key seq a block (else a Gorilla chunk)? */
static inline bool seg_is_blk(const struct store *s, const uint8_t seq[8])
{
	return key_get_u64(seq) >= s->segs_blk_from;
}

/* Format 4's open segment: 8 bytes of its first timestamp (key_put_ts),
 * then the block. */
#define OPEN_BLK_HDR 8u
/* The most an open segment's entry takes: a block trimmed by retention
 * may come out a little larger than it was. */
#define OPEN_BLK_MAX (OPEN_BLK_HDR + BLK_CAP_BYTES + 128u)

#endif /* PW_STORE_INT_H */
