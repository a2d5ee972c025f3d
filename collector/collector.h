/*
 * collector.h — from platform bytes to samples: the scrape scheduler (a
 * heap of due times, backoff, one error line and one "recovered" line) and
 * fetching over libcurl's multi interface on the event loop; the parsers of
 * JSON responses (a JSONPath subset), CSV ledgers and the Prometheus text
 * format (0.0.4 with optional millisecond timestamps, also what `pacewatch
 * import` and /api/v1/import/prometheus take); health series and staleness
 * markers; group commits into the store.
 */
#ifndef PW_COLLECTOR_H
#define PW_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "conf.h"
#include "store.h"

/* Where and why parsing stopped. line and col are 1-based; col counts
 * UTF-8 characters, so it matches what an editor shows. msg is a new
 * string (or NULL): pt_error_clear frees it. */
struct pt_error {
	size_t line, col;
	char *msg;
};
/* Set err's message (replacing one set before). */
void pt_error_set(struct pt_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pt_error_clear(struct pt_error *err);

enum pt_meta_kind { PT_META_HELP, PT_META_TYPE, PT_META_UNIT };

struct pt_handler {
	/* One sample. labels[0] is __name__; strings are valid only during the
	 * call. Return 0 to go on; non-zero stops parsing and is returned
	 * (pt_error_set explains it; line and col are set by the parser). */
	int (*sample)(void *ctx, const struct pw_label *labels, size_t n, double v, bool has_ts,
		      int64_t ts_ms, struct pt_error *err);
	/* # HELP (unescaped text), # TYPE (validated type name), # UNIT. */
	int (*meta)(void *ctx, enum pt_meta_kind kind, const char *metric, const char *text,
		    struct pt_error *err);
	/* Optional, both or neither: a series the handler has seen before, by
	 * its text. Before each sample line the parser hands lookup the line's
	 * series text as written (the metric name, and the braces with what is
	 * between them when there are braces; len 0 when the line does not
	 * start like a sample). A non-NULL answer stands for that text, which
	 * parsed without error before: the parser skips it, reads the value and
	 * timestamp, and calls known instead of sample. NULL: the line is
	 * parsed whole and goes to sample as without these. */
	const void *(*lookup)(void *ctx, const char *series, size_t len);
	int (*known)(void *ctx, const void *series, double v, bool has_ts, int64_t ts_ms,
		     struct pt_error *err);
};

/* Parse buf[0..len). Returns 0, PW_EINVAL with err filled on the first
 * malformed line, or what a handler returned. Handlers may be NULL. */
int promtext_parse(const char *buf, size_t len, const struct pt_handler *h, void *ctx,
		   struct pt_error *err);

/* Largest number of labels a sample may carry. */
#define PT_MAX_LABELS 256

/* Import a text exposition body into the store as one batch: all samples
 * or none. Samples without a timestamp get default_ts_ms; `extra` labels
 * are added to every sample (replacing same-named ones). # HELP / # TYPE
 * / # UNIT become metadata. On failure err says where (line 0 for store
 * errors, with the store's message). *nsamples gets the count written. */
int collector_import_text(struct store *s, const char *buf, size_t len, int64_t default_ts_ms,
			  const struct pw_label *extra, size_t nextra, size_t *nsamples,
			  struct pt_error *err);

/* How an import is parsed: samples without a timestamp get default_ts_ms,
 * `extra` labels are added to every sample (replacing same-named ones);
 * limits (0: none) as docs/http.md says. */
struct collector_import_opts {
	int64_t default_ts_ms;
	const struct pw_label *extra;
	size_t nextra;
	int64_t series_limit, label_limit, name_len_limit, value_len_limit;
};

/* An import request as the HTTP endpoint gets it. */
struct collector_import_req {
	const char *storage_path; /* named when storing fails */
	const char *encoding;     /* the Content-Encoding header, NULL when none */
	uint64_t max_size;        /* of the body once decoded (http.max_request_size) */
	struct collector_import_opts o;
};

/* Decode (gzip), parse and store an import request, all or nothing
 * (docs/http.md). Returns the HTTP status: 204, or 400, 413, 415 or 503
 * with *msg, the answer's text (new string). Storage failures are logged
 * once per episode. Any thread. */
unsigned collector_import_request(struct store *s, const struct collector_import_req *r,
				  const char *body, size_t len, char **msg);

/* Import requests refused by a limit since the start. Any thread. */
struct collector_import_stats {
	uint64_t series_limit, label_limits, size_limit;
};
void collector_import_stats(struct collector_import_stats *out);

/* ---- JSON responses (parse_json.c) ---------------------------------------- */

/* One compiled mapping of a target's "metrics" entry. */
struct jsonmap;

/* Compile the paths of m. Errors: PW_EINVAL with *cause naming the metric,
 * the path and the character where it went wrong (caller frees). */
int jsonmap_compile(const struct conf_json_metric *m, struct jsonmap **out, char **cause);
void jsonmap_free(struct jsonmap *m);
const char *jsonmap_metric(const struct jsonmap *m);
const char *jsonmap_help(const struct jsonmap *m);
const char *jsonmap_type(const struct jsonmap *m);

/* Called per sample; labels[0] is __name__, strings valid during the
 * call. Non-zero stops and is returned. */
typedef int (*jsonmap_sample_cb)(void *ctx, const struct pw_label *labels, size_t n,
				 int64_t ts_ms, double v);

/* A response nesting arrays and objects deeper, or holding more values
 * (keys counted), is refused before it is parsed. */
#define JSON_MAX_DEPTH 256
#define JSON_MAX_VALUES 1000000

/* Apply the mappings to a response body. Elements whose value is absent
 * or null give no sample; a value, label or timestamp of the wrong kind is
 * an error (PW_EINVAL, *cause names the metric, the element's path and the
 * offending text). Dates without a zone are read in tz; samples without a
 * timestamp get now_ms. */
int jsonmap_apply(struct jsonmap *const *maps, size_t nmaps, const char *body, size_t len,
		  const struct pw_tz *tz, int64_t now_ms, jsonmap_sample_cb cb, void *ctx,
		  size_t *nsamples, char **cause);

/* Look up a single value at an absolute path ($...) in a JSON body, as
 * text (numbers formatted, booleans "true"/"false"). Returns 1 and a new
 * string, 0 when absent or null, PW_EINVAL for bad JSON or path. */
int jsonmap_lookup(const char *body, size_t len, const char *path, char **out);

/* ---- CSV ledgers (parse_csv.c) ---------------------------------------------- */

/* Rows of a CSV body with a header row to samples, per csv's columns.
 * Empty value cells give no sample; errors name the line and column. */
int csv_apply(const struct conf_csv *csv, const char *body, size_t len, const struct pw_tz *tz,
	      int64_t now_ms, jsonmap_sample_cb cb, void *ctx, size_t *nsamples, char **cause);

/* ---- ledgers (ledger.c; docs/ledgers.md) ------------------------------------- */

/* A workbook's or CSV file's rows mapped to samples by a ledger's columns,
 * every wrong cell a rejection with its row, column and why. */
struct ledger_reject {
	size_t row;      /* as the spreadsheet numbers it */
	char column[8];  /* "D" */
	char *header;    /* the header cell above it */
	char *value;     /* the cell */
	char *error;     /* why */
};

struct ledger_result {
	char *format;            /* what the bytes were read as: xlsx, UTF-8, GB18030, UTF-16 */
	char *sheet;             /* xlsx: the worksheet read */
	size_t header_row;
	size_t rows;             /* rows below the header with a value (not skipped) */
	size_t accepted, skipped, samples;
	struct ledger_reject *rejected; /* the first 1000 */
	size_t nrejected, rejected_total; /* wrong cells: listed, all */
	size_t rejected_rows;             /* rows with a wrong cell */
};

/* Read the file's bytes (name: what messages call it) as ledger l. Calls
 * cb for every sample of an accepted row (labels[0] is __name__, then the
 * ledger's label columns). Returns 0 when the file was read, rejected rows
 * or not (res says); PW_EINVAL or PW_ETOOBIG with *cause when it cannot be
 * read as this ledger (not a spreadsheet, no header row, a bound); or what
 * cb returned. Dates without an offset are local time in tz (NULL: UTC);
 * without timestamp_column, samples get now_ms. Free res with
 * ledger_result_free in every case. */
int ledger_apply(const struct conf_csv *l, const char *name, const void *data, size_t len,
		 const struct pw_tz *tz, int64_t now_ms, jsonmap_sample_cb cb, void *ctx,
		 struct ledger_result *res, char **cause);
/* The same, rejecting a row whose label cell is longer than max_label_len
 * bytes (global.label_value_length_limit; 0: no limit). */
int ledger_apply_limited(const struct conf_csv *l, const char *name, const void *data,
			 size_t len, const struct pw_tz *tz, int64_t now_ms, size_t max_label_len,
			 jsonmap_sample_cb cb, void *ctx, struct ledger_result *res, char **cause);
void ledger_result_free(struct ledger_result *res);
/* "NAME: row 6, column D "宣讲场次": expected a number, found "三场"" (new) */
char *ledger_reject_text(const char *name, const struct ledger_reject *j);

/* A scrape of a ledger target: 0 when every row was accepted; PW_EINVAL
 * with *cause giving the count of rejected rows and the first of them
 * (the caller stores nothing of it then), or ledger_apply's errors. */
int ledger_scrape(const struct conf_csv *l, const char *name, const void *data, size_t len,
		  const struct pw_tz *tz, int64_t now_ms, jsonmap_sample_cb cb, void *ctx,
		  size_t *nsamples, char **cause);

/* Read a named ledger's file into the store as one batch (docs/ledgers.md,
 * "All or nothing"): labelled job=the ledger's name and its fixed labels;
 * stored (*stored) when no row was rejected, or keep_good. Returns 0 when
 * the file was read (res says what was accepted and rejected); PW_EINVAL
 * or PW_ETOOBIG with *cause when it cannot be read as this ledger; a store
 * error with *cause when the store refused the batch (nothing stored).
 * A label cell longer than max_label_len bytes rejects its row (0: no
 * limit). */
int ledger_import(struct store *s, const struct conf_ledger *l, const char *file, const void *data,
		  size_t len, bool keep_good, int64_t now_ms, size_t max_label_len,
		  struct ledger_result *res, bool *stored, char **cause);

/* ---- URLs a platform hands us (urls.c; docs/collector.md) ------------------ */

/* url with the password of its user:password@ replaced by <secret>
 * ("http://user:<secret>@host/"), or a copy; new string. */
char *collector_redact_url(const char *url);
/* "scheme://host:port" of an absolute URL, scheme and host in lowercase,
 * the port filled in ("file://" for files); new string, NULL when url is
 * not one. */
char *collector_url_origin(const char *url);
/* An entry of pagination.allowed_origins as an origin (collector_url_origin's
 * form): 0 and *origin (new), or PW_EINVAL with *why (new) for anything but
 * an http(s) scheme, host and port. */
int collector_origin_parse(const char *text, char **origin, char **why);
/* May a pagination link (absolute) be followed from target_url? 0 when it
 * may, with *foreign set when it leads to one of the allowed origins
 * (collector_origin_parse's form) rather than the target's own: such a
 * page gets no credentials. PW_EINVAL with *why (new) saying why not. */
int collector_link_check(const char *target_url, char *const *allowed, size_t nallowed,
			 const char *link, bool *foreign, char **why);

/* ---- the collector (collector.c) -------------------------------------------- */

/* Polls every target of a configuration on its interval and writes each
 * scrape as one store batch: its samples, the health series (up,
 * scrape_duration_seconds, scrape_samples_scraped,
 * scrape_response_size_bytes, labelled job and instance) and staleness
 * markers for series that disappeared. Single-threaded: all calls from the
 * thread that runs collector_step(). conf and store must outlive it. */
struct collector;

/* The shard (0 to count - 1) a target belongs to under global.shard. */
int64_t collector_shard_of(const char *target, int64_t count);
int collector_new(const struct conf *c, struct store *s, struct collector **out, char **cause);
/* Abandon transfers in flight (nothing of them is written) and free. */
void collector_free(struct collector *col);
/* Start due scrapes, wait up to max_wait_ms for network events, finish
 * completed scrapes. When draining, no new scrape starts. */
void collector_step(struct collector *col, int max_wait_ms);
void collector_set_draining(struct collector *col, bool draining);
/* Transfers in flight. */
size_t collector_inflight(const struct collector *col);
/* Every target has completed one scrape (successful or not). Any thread. */
bool collector_first_round_done(struct collector *col);

#define COLLECTOR_DURATION_BUCKETS 10
/* Upper bounds of the scrape-duration histogram, in seconds (+Inf last). */
extern const double collector_duration_bounds[COLLECTOR_DURATION_BUCKETS];

struct collector_target_status {
	char name[128], url[512], instance[256]; /* url with its password redacted */
	int health;              /* 1 up, 0 down, -1 not scraped yet */
	char last_error[256];    /* "" when none */
	int64_t last_scrape_ms;
	double last_duration_s;
	size_t last_samples;
	unsigned failures;       /* consecutive */
	int64_t next_due_ms;     /* when the next scrape is due (backoff included); 0: in flight */
	uint64_t scrapes_total, failures_total, samples_total;
	uint64_t duration_buckets[COLLECTOR_DURATION_BUCKETS]; /* cumulative counts */
	double duration_sum;
	/* scrapes refused by a limit, or failed on a refused pagination link */
	uint64_t exceeded_sample_limit, exceeded_label_limits, exceeded_new_series_limit;
	uint64_t links_refused;
};
/* A copy of target i's status; false past the last. Any thread may call
 * it (it takes the collector's status lock). */
bool collector_target(struct collector *col, size_t i, struct collector_target_status *out);

#endif /* PW_COLLECTOR_H */
