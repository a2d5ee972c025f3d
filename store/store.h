/*
 * store.h — pacewatch's time-series store: one LMDB environment holding the
 * series index, postings, compressed sample chunks and metric metadata.
 *
 * Data model (Prometheus'): a series is a metric name plus labels; a sample
 * is (int64 milliseconds since the epoch, float64). Values are kept
 * bit-exact (NaN payloads such as the staleness marker, ±Inf, -0.0).
 * Samples may arrive out of order or for the past; writing an existing
 * (series, timestamp) again replaces the value.
 *
 * Threads: any thread may hold snapshots; writes are serialised inside the
 * store (one LMDB write transaction at a time). A struct store_batch or
 * store_snap belongs to the thread that uses it. A thread holding a
 * snapshot must not begin another one, nor call store_stats, backup,
 * retention or commit: growing the map waits for every snapshot to end.
 *
 * Errors: 0 on success, negative PW_E* or -errno (see common.h). Functions
 * taking `char **cause` set it, on failure, to a new human-readable message
 * (caller frees); cause may be NULL.
 */
#ifndef PW_STORE_H
#define PW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* The staleness marker Prometheus writes when a series disappears. */
#define STORE_STALE_NAN_BITS 0x7ff0000000000002ULL
bool store_is_stale_nan(double v);
double store_stale_nan(void);

struct store;

struct store_opts {
	const char *path;          /* directory; created if missing (unless must_exist) */
	uint64_t initial_map_size; /* bytes; 0 = 64 MiB */
	uint64_t max_map_size;     /* bytes; 0 = 64 GiB. Growth stops here. */
	bool no_sync;              /* skip fsync at commit: a killed process loses
				    * nothing committed, a system crash may (storage.sync) */
	bool no_meta_sync;         /* flush a commit's data but not its meta page
				    * (LMDB's MDB_NOMETASYNC): a system crash may undo
				    * the last commit, never corrupt (storage.sync_meta) */
	uint64_t max_series;       /* series the store may hold (the writer keeps each in
				    * memory); a batch that would create more fails
				    * (PW_ETOOBIG) naming the limit. 0: no limit */
	bool read_only;            /* open for reading only */
	bool must_exist;           /* refuse (-ENOENT) rather than create a store */
};

/* Open (or create) the store at o->path.
 * Errors: PW_EFORMAT when the directory holds something that is not a
 * pacewatch store, or a store of a newer format (left untouched);
 * -errno for file system errors; PW_ESTORE for other LMDB failures. */
int store_open(const struct store_opts *o, struct store **out, char **cause);
/* Close. No batch or snapshot may be open. */
void store_close(struct store *s);
/* A number no other store opened by this process had or will have (a
 * store's address may be reused once it is closed): what caches of series
 * ids made outside the store (store_key) are tagged with. */
uint64_t store_serial(const struct store *s);

/* ---- writing ------------------------------------------------------------ */

enum store_metric_type {
	STORE_TYPE_KEEP = -1, /* store_batch_put_meta: leave the type as it is */
	STORE_TYPE_UNKNOWN = 0,
	STORE_TYPE_COUNTER,
	STORE_TYPE_GAUGE,
	STORE_TYPE_HISTOGRAM,
	STORE_TYPE_SUMMARY,
	STORE_TYPE_GAUGEHISTOGRAM,
	STORE_TYPE_STATESET,
	STORE_TYPE_INFO,
};
const char *store_type_name(enum store_metric_type t);
int store_type_parse(const char *s, size_t n, enum store_metric_type *out);

/* A write batch: puts are buffered and applied in one LMDB transaction at
 * commit, so a batch is all or nothing. A put that fails (invalid name,
 * duplicate label) poisons the batch: later puts return PW_EPOISONED and
 * commit returns the first error. */
struct store_batch;

/* Start a batch. Never fails; the batch is new (commit or abort frees it). */
struct store_batch *store_batch_begin(struct store *s);
/* Add one sample. labels must include "__name__"; they are copied, in any
 * order. Errors: PW_EINVAL (bad metric or label name, duplicate label name,
 * missing metric name, NUL byte in a value; see store_batch_error()),
 * PW_EPOISONED. */
int store_batch_put(struct store_batch *b, const struct pw_label *labels, size_t n,
		    int64_t ts_ms, double v);
/* Record HELP / TYPE / unit of a metric name (NULL or STORE_TYPE_KEEP
 * leaves a field as it is). */
/* A series' identity prepared once (names checked, labels sorted and
 * encoded, hashed), for writers that put samples to the same series again
 * and again (the KPI engine): store_batch_put_key costs a copy. */
struct store_key {
	char *enc;
	uint32_t len;
	uint64_t hash;
	uint64_t id, gen; /* set by store_keys_resolve: the series id, while valid */
};
/* Errors as store_batch_put's (PW_EINVAL and *cause). */
int store_key_make(const struct pw_label *labels, size_t n, struct store_key *out, char **cause);
void store_key_free(struct store_key *k);
int store_batch_put_key(struct store_batch *b, const struct store_key *k, int64_t ts, double v);
/* After a commit that wrote them: remember the keys' series ids, so later
 * batches skip looking them up (until series are deleted: then they are
 * looked up again). Takes the writer lock briefly. */
void store_keys_resolve(struct store *s, struct store_key *const *keys, size_t n);
/* Does a key still need store_keys_resolve (never resolved, or series were
 * deleted since)? A cheap look without the lock; resolving decides. */
bool store_key_stale(struct store *s, const struct store_key *k);
/* Changes whenever resolved keys go stale (series were deleted): a writer
 * that saw the same value after its last resolve need only resolve the
 * keys it made since. */
uint64_t store_keys_generation(struct store *s);
int store_batch_put_meta(struct store_batch *b, const char *metric,
			 enum store_metric_type type, const char *help, const char *unit);
/* Message of the first failed put (borrowed, valid until commit/abort). */
const char *store_batch_error(const struct store_batch *b);
/* Apply and free the batch. The map grows as needed up to max_map_size;
 * past it: PW_EMAPFULL and nothing of the batch is applied (the store stays
 * readable and writable). Returns the first put error of a poisoned batch. */
int store_batch_commit(struct store_batch *b, char **cause);
/* Discard and free the batch. */
void store_batch_abort(struct store_batch *b);
/* Move everything of src into dst and free src, so that several batches
 * (the scrapes that finished together) commit in one transaction: a crash
 * still never half-applies any of them, and they share one fsync. A
 * poisoned src is not merged: its first error is returned, src freed. */
int store_batch_merge(struct store_batch *dst, struct store_batch *src);
/* Keep b's buffers with its owner: after a commit or an abort b is empty
 * and ready for the owner's next batch (a writer of one large batch a
 * minute, the KPI engine, saves allocating and faulting it in each time);
 * store_batch_free frees it. */
void store_batch_keep(struct store_batch *b);
void store_batch_free(struct store_batch *b);
/* A place in a batch to come back to: rewinding drops every put (and
 * metadata, and an error) made after the mark, so one batch can hold parts
 * that each either go in whole or not at all, without merging batches. */
struct store_batch_mark {
	size_t n, arena, nmeta;
	int err;
};
struct store_batch_mark store_batch_mark(const struct store_batch *b);
void store_batch_rewind(struct store_batch *b, struct store_batch_mark m);

/* ---- reading ------------------------------------------------------------ */

/* A consistent read snapshot (an LMDB read transaction). Strings and label
 * arrays returned through it are borrowed and valid until store_snap_end().
 * Holding one long keeps old pages from reuse; keep them short. */
struct store_snap;
int store_snap_begin(struct store *s, struct store_snap **out);
void store_snap_end(struct store_snap *snap);
/* What changes whenever a series is created or deleted, as the snapshot
 * sees the store: equal values mean the same set of series, so a reader
 * may keep what a selection found (0: cannot tell). */
uint64_t store_series_epoch(struct store_snap *snap);

enum store_match_type { STORE_MATCH_EQ, STORE_MATCH_NE, STORE_MATCH_RE, STORE_MATCH_NRE };

/* A label matcher with Prometheus semantics: regexes are RE2 (Go's regexp)
 * anchored as "^(?:" value ")$" (pw_regex); a missing label counts as the
 * empty value. */
struct store_matcher {
	enum store_match_type type;
	char *name;
	char *value;
	struct pw_regex *re; /* compiled regex for RE/NRE */
};
/* Errors: PW_EINVAL for an invalid or too large regex (cause: Go's text,
 * "error parsing regexp: ...: `...`"). */
int store_matcher_init(struct store_matcher *m, enum store_match_type type, const char *name,
		       const char *value, char **cause);
void store_matcher_free(struct store_matcher *m);
bool store_matcher_matches(const struct store_matcher *m, const char *value);

struct store_series {
	uint64_t id;
	const char *enc; /* encoded labels (borrowed) */
	size_t enc_len;
	/* store_select with a time range: the newest sample, when it was read
	 * on the way (has_latest), so callers need not ask again */
	bool has_latest;
	int64_t latest_t;
	double latest_v;
};

/* qsort comparator for struct store_series: by metric name, then labels
 * (the order store_select returns when sorted). */
int store_series_cmp(const void *a, const void *b);

/* Decode a series' labels into out[0..max) (pointers into the snapshot;
 * out[0] is __name__). Returns the label count (may exceed max). */
size_t store_series_labels(const struct store_series *s, struct pw_label *out, size_t max);
/* Value of one label, or NULL. */
const char *store_series_label(const struct store_series *s, const char *name);

/* Series matching every matcher (none: all series) that have at least one
 * sample in [mint, maxt] (use INT64_MIN/INT64_MAX for any). *out is a new
 * array (caller frees) sorted by labels when sorted is true. */
int store_select(struct store_snap *snap, const struct store_matcher *m, size_t nm,
		 int64_t mint, int64_t maxt, bool sorted, struct store_series **out, size_t *n);

/* Samples of one series in [mint, maxt], ascending. Iterators are created
 * (store_iter_new) on the snapshot's thread; an iterator may then be used
 * on another thread, one thread per iterator, while the snapshot lives:
 * store_snap_begin loaded what iterators read lazily (a query's helper
 * threads, query/par.c). */
struct store_iter;
struct store_iter *store_iter_new(struct store_snap *snap);
void store_iter_free(struct store_iter *it);
int store_iter_seek(struct store_iter *it, uint64_t id, int64_t mint, int64_t maxt);
/* The next samples, ascending, up to max (1 to INT_MAX; 0 returns 0) into
 * ts[]/v[], copied a run at a time (a block's decoded range, a chunk, the
 * log): the count, 0 at the end, negative on a corrupt segment (after the
 * samples before it, returned first; then again until a seek). */
int store_iter_read(struct store_iter *it, int64_t *ts, double *v, size_t max);
/* store_iter_read of one sample: 1 and a sample, 0 at the end, negative
 * on a corrupt segment. Calls of the two may be mixed. */
int store_iter_next(struct store_iter *it, int64_t *ts, double *v);

/* The newest sample of a series. PW_ENOTFOUND when it has none. */
int store_latest(struct store_snap *snap, uint64_t id, int64_t *ts, double *v);
/* Every series with its newest sample, in id order; cb returning non-zero
 * stops the scan and is returned. s (and its labels) is valid during the
 * call only. */
typedef int (*store_latest_cb)(void *ctx, const struct store_series *s, int64_t ts, double v);
int store_scan_latest(struct store_snap *snap, store_latest_cb cb, void *ctx);

/* The newest sample of every series grouped by metric name (names in
 * byte order), pulled one at a time, for streaming expositions. */
struct store_latest_iter;
int store_latest_iter_new(struct store_snap *snap, struct store_latest_iter **out);
/* 1 with a series and its newest sample, 0 at the end, negative on error.
 * The series' labels are valid until the next call. */
int store_latest_iter_next(struct store_latest_iter *it, struct store_series *s, int64_t *ts,
			   double *v);
void store_latest_iter_free(struct store_latest_iter *it);

/* Label names (sorted, borrowed strings in a new array) of series matching
 * the matchers in [mint, maxt]; with nm == 0 and an unbounded range this
 * reads the postings index only. */
int store_label_names(struct store_snap *snap, const struct store_matcher *m, size_t nm,
		      int64_t mint, int64_t maxt, const char ***out, size_t *n);
/* Values of one label name, same rules. */
int store_label_values(struct store_snap *snap, const char *name,
		       const struct store_matcher *m, size_t nm, int64_t mint, int64_t maxt,
		       const char ***out, size_t *n);

struct store_meta {
	enum store_metric_type type;
	const char *help; /* borrowed, "" when unknown */
	const char *unit;
};
int store_meta_get(struct store_snap *snap, const char *metric, struct store_meta *out);
typedef int (*store_meta_cb)(void *ctx, const char *metric, const struct store_meta *m);
int store_meta_scan(struct store_snap *snap, store_meta_cb cb, void *ctx);

/* ---- records ------------------------------------------------------------ */

/* Small keyed records beside the samples: the notification outbox, the
 * notification log, digest state. Keys and values are opaque bytes (keys
 * up to 400 bytes); keys sort bytewise. A store_rec_write applies all its
 * operations in one transaction (one fsync): all or none survive a crash. */
struct store_rec_op {
	const void *key;
	size_t klen;
	const void *val; /* NULL: delete the key (absent is not an error) */
	size_t vlen;
};
int store_rec_write(struct store *s, const struct store_rec_op *ops, size_t n, char **cause);
/* A copy of one record (*val malloc'd; caller frees). PW_ENOTFOUND when absent. */
int store_rec_get(struct store *s, const void *key, size_t klen, void **val, size_t *vlen);
/* Every record whose key starts with prefix, in key order, from one
 * snapshot. The callback may not write to the store; a non-zero return
 * stops the scan and is returned. */
typedef int (*store_rec_cb)(void *ctx, const void *key, size_t klen, const void *val,
			    size_t vlen);
int store_rec_scan(struct store *s, const void *prefix, size_t plen, store_rec_cb cb, void *ctx);

/* ---- change feed ---------------------------------------------------------- */

/* With the feed on, every commit also records, under the next sequence
 * number, which series it wrote and the time range it wrote in each: the
 * order in which data became durable, for readers that ship it elsewhere
 * (remote_write) and must not miss a sample stamped before one they have
 * already passed. */
void store_set_feed(struct store *s, bool on);
struct store_change {
	uint64_t id;
	int64_t mint, maxt;
};
/* The newest sequence number (0: nothing recorded yet). */
int store_feed_head(struct store_snap *snap, uint64_t *seq);
/* Changes of the commits after `after`, at most max_commits of them,
 * appended to *out (realloc'd; *n updated); *last is the last sequence
 * number read (after, when none). */
int store_feed_read(struct store_snap *snap, uint64_t after, size_t max_commits,
		    struct store_change **out, size_t *n, uint64_t *last);
/* Forget the commits up to and including upto. */
int store_feed_trim(struct store *s, uint64_t upto, char **cause);
/* A series by id (labels as store_select gives them). PW_ENOTFOUND. */
int store_series_get(struct store_snap *snap, uint64_t id, struct store_series *out);

/* ---- maintenance -------------------------------------------------------- */

/* Drop every sample older than cutoff_ms; series left empty are removed.
 * Works in several transactions; safe while writers and readers run. */
int store_retention(struct store *s, int64_t cutoff_ms, uint64_t *dropped, char **cause);

/* What store_retention(s, cutoff) would drop, counted on one snapshot and
 * dropping nothing (`pacewatch retention --dry-run`, and the guards that
 * ask for --force). */
struct store_retention_plan {
	uint64_t samples;        /* older than the cutoff */
	uint64_t samples_total;  /* in the store */
	uint64_t series;         /* in the store */
	uint64_t series_emptied; /* whose samples are all older: they go */
	int64_t newest;          /* the newest sample's time; INT64_MIN: none */
};
int store_retention_plan(struct store *s, int64_t cutoff, struct store_retention_plan *out);

/* Hot backup: a consistent, compacted copy into dest (an empty or missing
 * directory) while writers keep running. */
int store_backup(struct store *s, const char *dest, char **cause);

struct store_stats {
	uint64_t series;
	uint64_t samples;
	uint64_t chunks;
	uint64_t bytes_file;  /* size of the data file on disk */
	uint64_t bytes_used;  /* pages in use (excluding free pages) */
	uint64_t map_size;
	uint64_t max_map_size;
};
int store_stats(struct store *s, struct store_stats *out);

#endif /* PW_STORE_H */
