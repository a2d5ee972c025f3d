/*
 * common.h — the small shared layer every pacewatch folder may use:
 * status codes, logging, allocation wrappers, a bounded growable buffer,
 * and parsing of durations, sizes, times and time zones.
 *
 * Conventions used across the project:
 *  - Functions returning int return 0 on success and a negative value on
 *    failure: either -errno (e.g. -ENOENT) or one of the PW_E* codes below,
 *    which sit in a range that cannot collide with errno values.
 *    pw_strerror() describes both.
 *  - Allocation failure aborts (x* wrappers); code deals with real failures.
 *  - Strings are UTF-8. "Borrowed" means valid until the owner changes;
 *    "new" means the caller frees.
 */
#ifndef PW_COMMON_H
#define PW_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- status codes ------------------------------------------------------ */

enum pw_err {
	PW_E_BASE = -32000,
	PW_EINVAL = PW_E_BASE,  /* malformed input (a message says where) */
	PW_ETOOBIG,             /* a bounded buffer or limit was exceeded */
	PW_EMAPFULL,            /* store reached its configured maximum size */
	PW_EFORMAT,             /* store directory holds a foreign/newer format */
	PW_ESTORE,              /* other storage (LMDB) failure */
	PW_EPOISONED,           /* batch refused: an earlier put failed */
	PW_ENOTFOUND,           /* no such item */
	PW_E_LAST
};

/* Describe a status code (PW_E*, -errno, or 0). Returns a static string. */
const char *pw_strerror(int err);

/* ---- logging ----------------------------------------------------------- */

enum pw_log_level { PW_LOG_ERROR = 0, PW_LOG_WARN, PW_LOG_INFO, PW_LOG_DEBUG };

extern int pw_log_level_cur;

/* Set the threshold; messages above it are not formatted at all. */
void pw_log_set_level(enum pw_log_level level);
/* Parse "error|warn|info|debug"; returns 0 or PW_EINVAL. */
int pw_log_level_parse(const char *s, enum pw_log_level *out);

/* Emit one line per event, key=value (logfmt):
 *   2025-06-30T08:00:00.123Z level=error component=collector msg="..."
 * Thread-safe. Untrusted text in the message is escaped once where it is
 * put in (pw_esc); the logger quotes the message, passing those escapes
 * through, and escapes only what is left (quotes, control characters).
 * Under systemd (JOURNAL_STREAM names our stderr) the time is left to the
 * journal and each line starts with its syslog priority ("<3>"). */
void pw_log_emit(enum pw_log_level level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same line with fields instead of a message: fmt gives
 * "key=value key2=\"quoted value\"...", values escaped by the caller. */
void pw_log_emit_kv(enum pw_log_level level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Re-read JOURNAL_STREAM (tests; the first line reads it by itself). */
void pw_log_reset_journal(void);

#define pw_log(level, subsys, ...)                                   \
	do {                                                         \
		if ((int)(level) <= pw_log_level_cur)                \
			pw_log_emit((level), (subsys), __VA_ARGS__); \
	} while (0)
#define log_error(subsys, ...) pw_log(PW_LOG_ERROR, subsys, __VA_ARGS__)
#define log_warnx(subsys, ...) pw_log(PW_LOG_WARN, subsys, __VA_ARGS__)
#define log_info(subsys, ...)  pw_log(PW_LOG_INFO, subsys, __VA_ARGS__)
#define log_debug(subsys, ...) pw_log(PW_LOG_DEBUG, subsys, __VA_ARGS__)
#define log_kv(level, subsys, ...)                                      \
	do {                                                            \
		if ((int)(level) <= pw_log_level_cur)                   \
			pw_log_emit_kv((level), (subsys), __VA_ARGS__); \
	} while (0)

/* Length of the valid UTF-8 sequence at p (1 for ASCII), reading at most n
 * bytes; 0 when it is not valid UTF-8 (truncated, overlong, a surrogate,
 * past U+10FFFF). */
size_t pw_utf8_len(const unsigned char *p, size_t n);
/* Escape untrusted bytes (platform responses, label values) for a log line
 * or an error message: control characters and invalid UTF-8 become \xNN,
 * quotes and backslashes are backslashed, and output longer than dstsz-1 is
 * cut with "...". Returns dst. */
char *pw_esc(char *dst, size_t dstsz, const char *src, size_t srclen);

/* ---- allocation: abort on out-of-memory --------------------------------- */

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- bounded growable buffer ------------------------------------------- */

/* A byte buffer that grows up to `max` bytes (0 = unbounded). Appends past
 * the maximum fail with PW_ETOOBIG and leave the buffer unchanged. The data
 * is always NUL-terminated (the NUL is not counted in len). */
struct pw_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void pw_buf_init(struct pw_buf *b, size_t max);
void pw_buf_free(struct pw_buf *b);
void pw_buf_reset(struct pw_buf *b);
int pw_buf_append(struct pw_buf *b, const void *p, size_t n);
/* Make room for n more bytes and count them in len: the caller writes
 * them at the pointer returned; NULL (buffer unchanged) past the maximum. */
char *pw_buf_grow(struct pw_buf *b, size_t n);
int pw_buf_putc(struct pw_buf *b, char c);
int pw_buf_puts(struct pw_buf *b, const char *s);
int pw_buf_printf(struct pw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Give the data to the caller (a new string) and reset the buffer. */
char *pw_buf_take(struct pw_buf *b);
/* A label: name and value (borrowed strings). */
struct pw_label {
	const char *name;
	const char *value;
};
/* Append labels as a JSON object {"name":"value",...}. */
void pw_buf_json_labels(struct pw_buf *b, const struct pw_label *l, size_t n);
/* Append s as a JSON string: quotes, \" \\ \n \r \t and \u00XX escapes,
 * UTF-8 passed through. */
void pw_buf_json_string(struct pw_buf *b, const char *s);
/* "# HELP name help" and "# TYPE name type" lines of a metric family; in
 * OpenMetrics (om) a counter's family is named without _total. */
void pw_buf_metric_header(struct pw_buf *b, const char *name, const char *type, const char *help,
			  bool om);
/* Append n bytes of s with &, <, >, " and ' escaped for HTML. */
void pw_buf_html(struct pw_buf *b, const char *s, size_t n);

/* Read a whole file ("-" is standard input) into a new NUL-terminated
 * string. Errors: -errno, or PW_ETOOBIG past max bytes (0 = no limit). */
int pw_read_file(const char *path, size_t max, char **out, size_t *len);

/* ---- label sets ---------------------------------------------------------- */

/* Prometheus' label set fingerprint (model.LabelSet.Fingerprint): FNV-1a 64
 * over each label's name, 0xff, value, 0xff, in the order given (sorted by
 * name for Prometheus' value); skip_name leaves __name__ out. */
uint64_t pw_labels_hash(const struct pw_label *l, size_t n, bool skip_name);
/* qsort comparator of labels by name. */
int pw_label_cmp(const void *a, const void *b);
/* Drop labels with an empty value (the same as no label) and sort the rest
 * by name, in place; returns how many are left. */
size_t pw_labels_sort(struct pw_label *l, size_t n);
/* The value of a label (borrowed), or NULL. */
const char *pw_labels_get(const struct pw_label *l, size_t n, const char *name);
/* Same names and values in the same order. */
bool pw_labels_eq(const struct pw_label *a, size_t na, const struct pw_label *b, size_t nb);
/* Prometheus' LabelSet.String(): {a="x", b="y"} (labels as given). */
void pw_labels_format(const struct pw_label *l, size_t n, struct pw_buf *b);
/* The canonical bytes of a series: the metric name (or nothing) and a NUL,
 * then "name\0value\0" for every other label, in the order given (sorted:
 * equal sets give equal bytes). The store keys series by these bytes.
 * Appended in one piece; PW_ETOOBIG (out unchanged) past out's maximum. */
int pw_labels_encode(const struct pw_label *l, size_t n, struct pw_buf *out);
/* The labels of pw_labels_encode's bytes (pointing into them), at most max;
 * returns how many. */
size_t pw_labels_decode(const char *p, size_t len, struct pw_label *l, size_t max);

/*
 * A label set: labels sorted by name (bytewise), none with an empty value,
 * h its Prometheus fingerprint. Immutable once made, so threads may share
 * one. Two kinds:
 *  - pw_lset_new: one heap block holding the strings too, reference
 *    counted (pw_lset_ref / pw_lset_unref; the last unref frees it). The
 *    count is atomic: a set may be shared with views read by other threads.
 *  - pw_lset_place: in memory the caller provides (PW_LSET_SIZE(n) bytes,
 *    e.g. from an arena), with borrowed strings; ref and unref do nothing.
 */
struct pw_lset {
	uint64_t h;
	uint32_t n;
	bool heap;
	_Atomic unsigned refs;
	struct pw_label l[];
};
#define PW_LSET_SIZE(n) (sizeof(struct pw_lset) + (n) * sizeof(struct pw_label))
/* A new set (count 1) of copies of l's labels: sorted, empty values dropped. */
struct pw_lset *pw_lset_new(const struct pw_label *l, size_t n);
/* A set in mem (PW_LSET_SIZE(n) bytes) borrowing l's strings. */
struct pw_lset *pw_lset_place(void *mem, const struct pw_label *l, size_t n);
struct pw_lset *pw_lset_ref(struct pw_lset *s); /* returns s; NULL is fine */
void pw_lset_unref(struct pw_lset *s);         /* NULL is fine */
/* *slot = s, dropping the reference *slot held (s is taken). */
void pw_lset_set(struct pw_lset **slot, struct pw_lset *s);
const char *pw_lset_get(const struct pw_lset *s, const char *name);
bool pw_lset_eq(const struct pw_lset *a, const struct pw_lset *b);
/* s holds exactly these sorted labels, whose fingerprint is h */
bool pw_lset_is(const struct pw_lset *s, uint64_t h, const struct pw_label *l, size_t n);
/* Order by labels (name, then value, label by label; shorter first). */
int pw_lset_cmp(const struct pw_lset *a, const struct pw_lset *b);
void pw_lset_format(const struct pw_lset *s, struct pw_buf *b); /* {a="x", b="y"} */

/* Building a label set label by label (Prometheus' labels.Builder): set
 * (a later value replaces; an empty one deletes), then sort or make a set.
 * Strings are borrowed (set, add) or taken (take: freed with the builder). */
struct pw_lbuild {
	struct pw_label *l;
	size_t n, cap;
	char **own;
	size_t nown, capown;
};
void pw_lbuild_init(struct pw_lbuild *b);
void pw_lbuild_free(struct pw_lbuild *b);
void pw_lbuild_reset(struct pw_lbuild *b); /* empty again, memory kept */
void pw_lbuild_set(struct pw_lbuild *b, const char *name, const char *value);
void pw_lbuild_take(struct pw_lbuild *b, const char *name, char *value);
/* set each of l's labels but the one named skip (NULL: all) */
void pw_lbuild_add(struct pw_lbuild *b, const struct pw_label *l, size_t n, const char *skip);
/* sort b->l[0..n) in place (the count may drop); returns it */
size_t pw_lbuild_sorted(struct pw_lbuild *b);
/* a new set (count 1) of the labels */
struct pw_lset *pw_lbuild_lset(struct pw_lbuild *b);

/* ---- sharing immutable state between threads ------------------------------ */

/*
 * A published object: built by one thread, never changed after, read by
 * others, freed by whoever drops the last reference. Embed struct
 * pw_shared first in the object and set free_fn.
 */
struct pw_shared {
	_Atomic unsigned refs;
	void (*free_fn)(struct pw_shared *s);
};
/* Count 1 and the function that frees the object. */
void pw_shared_init(struct pw_shared *s, void (*free_fn)(struct pw_shared *s));
struct pw_shared *pw_shared_ref(struct pw_shared *s); /* NULL is fine */
void pw_shared_unref(struct pw_shared *s);           /* NULL is fine */

/*
 * A slot holding the newest published object: the publisher swaps one
 * pointer, a reader takes a reference to what is there and reads it with no
 * lock held. The slot's mutex guards only the pointer and the count.
 */
struct pw_slot;
struct pw_slot *pw_slot_new(void);
/* Drops the reference the slot holds. */
void pw_slot_free(struct pw_slot *s);
/* Put obj in the slot (the caller's reference is taken) and drop the one
 * the slot held. Any thread. */
void pw_slot_publish(struct pw_slot *s, struct pw_shared *obj);
/* A new reference to the newest object (NULL if none): unref when done. */
struct pw_shared *pw_slot_get(struct pw_slot *s);

/* ---- numbers ------------------------------------------------------------ */

/* Every way pacewatch writes a float64. All but HUMAN read back as the same
 * bits; NaN, +Inf and -Inf are spelt as Prometheus and Go spell them. */
enum pw_float_style {
	PW_FMT_PROM,  /* the exposition format: the shortest of %.15g, %.16g and
		       * %.17g, integers below 2^53 without an exponent */
	PW_FMT_GO_F,  /* Go's FormatFloat(v, 'f', -1): sample values in the API */
	PW_FMT_GO_E,  /* Go's FormatFloat(v, 'e', -1): an alert's value */
	PW_FMT_GO_V,  /* Go's fmt %v: what templates print */
	PW_FMT_HUMAN, /* for people: at most two decimals (170, 181.73), below 1 at
		       * most four (0.6173, 0.0001); NaN and Inf are "-" */
};
/* Format v into dst (400 bytes hold any); returns the length. */
size_t pw_fmt_float(char *dst, size_t dstsz, double v, enum pw_float_style style);

/* s is exactly one number (pw_parse_double's syntax, nothing after). */
bool pw_number(const char *s, double *v);

/* Parse a Prometheus float: decimal, exponent, hex floats, "NaN", "Inf",
 * "+Inf", "-Inf" (case-insensitive). On success *end points past it. */
int pw_parse_double(const char *s, const char *lim, double *out, const char **end);

/* ---- durations, sizes, times ------------------------------------------- */

/* Prometheus durations: "90s", "15m", "1h30m", "400d", "2w", "1y", "500ms".
 * Result in milliseconds. PW_EINVAL on anything else, including overflow. */
int pw_parse_duration(const char *s, int64_t *ms);
/* Format milliseconds back as the shortest duration string ("1h30m"). */
size_t pw_fmt_duration(char *dst, size_t dstsz, int64_t ms);

/* Sizes: "512MiB", "1GB", "4096", "64KiB", "2TiB" (B, kB/KB, KiB, MB, MiB,
 * GB, GiB, TB, TiB). PW_EINVAL on anything else or overflow. */
int pw_parse_size(const char *s, uint64_t *bytes);

/* A time zone loaded from the system zoneinfo (TZif files). */
struct pw_tz;

/* Load a zone by IANA name ("Asia/Shanghai", "UTC"). On failure returns
 * -errno or PW_EINVAL and, when cause is non-NULL, sets *cause to a new
 * message. The returned zone is new; free with pw_tz_free(). */
int pw_tz_load(const char *name, struct pw_tz **out, char **cause);
void pw_tz_free(struct pw_tz *tz);
const char *pw_tz_name(const struct pw_tz *tz);
/* UTC offset in seconds in force at Unix time t. */
int32_t pw_tz_offset(const struct pw_tz *tz, int64_t t);
/* Unix time of a local civil time (earliest match when ambiguous, shifted
 * forward across a gap). Fields as in struct tm but year is the full year
 * and mon is 1..12. */
int64_t pw_tz_local_to_unix(const struct pw_tz *tz, int year, int mon, int day,
			    int hour, int min, int sec);

/* Civil date helpers (proleptic Gregorian, UTC). */
int64_t pw_days_from_civil(int64_t y, unsigned m, unsigned d);
void pw_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Calendar periods of quotas (docs/kpis.md, "Calendar quotas"), in the
 * order of conf's `period`: weeks from Monday, months, quarters, years, with
 * boundaries at local midnight in tz. */
enum pw_period { PW_PERIOD_NONE, PW_PERIOD_WEEK, PW_PERIOD_MONTH, PW_PERIOD_QUARTER,
		 PW_PERIOD_YEAR };
/* The period of that kind holding t_ms: [*p0, *p1) in ms, and its name
 * ("2025-06-30" for the week's Monday, "2025-06", "2025-Q3", "2025") in
 * name[sz] (name may be NULL). PW_PERIOD_NONE counts as a month. */
void pw_period_of(const struct pw_tz *tz, enum pw_period kind, int64_t t_ms, int64_t *p0,
		  int64_t *p1, char *name, size_t sz);

/* Parse a time: RFC 3339 ("2025-06-30T23:59:00+08:00", fractions allowed),
 * Unix seconds ("1751299140", "1751299140.5"), or a local date/time in tz
 * ("2025-06-30", "2025-06-30 23:59", "2025-06-30T23:59:00"); tz NULL = UTC.
 * Result in milliseconds since the epoch. */
int pw_parse_time(const char *s, const struct pw_tz *tz, int64_t *ms);
/* RFC 3339 in UTC with milliseconds when non-zero. */
size_t pw_fmt_time(char *dst, size_t dstsz, int64_t ms);
/* For people: local time in tz with its offset, "2025-11-30 16:00 +08:00"
 * (tz NULL: UTC). */
size_t pw_fmt_local(char *dst, size_t dstsz, int64_t ms, const struct pw_tz *tz);
/* The same to the second, "2025-11-30 16:00:05 +08:00": for what happens
 * every few seconds (scrapes). */
size_t pw_fmt_local_secs(char *dst, size_t dstsz, int64_t ms, const struct pw_tz *tz);
/* What a person types on a command line: pw_parse_time's forms (read in tz
 * unless they carry an offset), or relative to now: "now", "-7d", "now-2h",
 * "+30m". */
int pw_parse_time_rel(const char *s, const struct pw_tz *tz, int64_t now, int64_t *ms);

/* Wall-clock now in milliseconds since the epoch. */
int64_t pw_now_ms(void);
/* Monotonic clock in nanoseconds. */
int64_t pw_mono_ns(void);

/* Prometheus' name rules: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label
 * names [a-zA-Z_][a-zA-Z0-9_]*. */
bool pw_valid_metric_name(const char *s, size_t n);
/* c may stand in a name: letters, '_', digits (not first), ':' (colon). */
bool pw_name_char(unsigned char c, bool first, bool colon);
bool pw_valid_label_name(const char *s, size_t n);

/* 64-bit hash (FNV-1a variant mixed with a finaliser) for in-memory tables. */
uint64_t pw_hash64(const void *p, size_t n);

/* Regular expressions as Prometheus compiles them (common/regex.cc, over
 * RE2): pattern P becomes "^(?:" P ")$" in RE2 syntax (Go's regexp, UTF-8)
 * and matches in time linear in the subject. pw_regex_new refuses what Go's
 * regexp refuses (also \C) and programs over 8 MiB, with *cause (malloc'd)
 * in Go's words: "error parsing regexp: missing closing ): `^(?:(a)$`".
 * alone: P must also parse by itself, as label matchers' patterns must in
 * Prometheus (not label_replace's). A compiled regex may be used by several
 * threads at once. */
struct pw_regex;
struct pw_regex *pw_regex_new(const char *pattern, bool alone, char **cause);
void pw_regex_free(struct pw_regex *re);
/* Does the regex match s (n bytes)? */
bool pw_regex_match(const struct pw_regex *re, const char *s, size_t n);
/* label_replace: when the regex matches s, *out = tpl expanded as Go's
 * regexp.Expand does ($1, ${1}, $name, ${name}, $$; malloc'd) and true. */
bool pw_regex_replace(const struct pw_regex *re, const char *s, const char *tpl, char **out);

#endif /* PW_COMMON_H */
