/*
 * collector.h — from platform bytes to samples. For now: the Prometheus
 * text exposition parser (format 0.0.4 with optional millisecond
 * timestamps, the body VictoriaMetrics' /api/v1/import/prometheus takes),
 * used by `pacewatch import`, prometheus-format targets and the import
 * endpoint. The scheduler and fetcher arrive with the collector issue.
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
 * UTF-8 characters, so it matches what an editor shows. */
struct pt_error {
	size_t line, col;
	char msg[256];
};

enum pt_meta_kind { PT_META_HELP, PT_META_TYPE, PT_META_UNIT };

struct pt_handler {
	/* One sample. labels[0] is __name__; strings are valid only during the
	 * call. Return 0 to go on; non-zero stops parsing and is returned
	 * (fill err->msg to explain; line and col are set by the parser). */
	int (*sample)(void *ctx, const struct pw_label *labels, size_t n, double v, bool has_ts,
		      int64_t ts_ms, struct pt_error *err);
	/* # HELP (unescaped text), # TYPE (validated type name), # UNIT. */
	int (*meta)(void *ctx, enum pt_meta_kind kind, const char *metric, const char *text,
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

/* Apply the mappings to a response body. Elements whose value is absent
 * or null give no sample; a value, label or timestamp of the wrong kind is
 * an error (PW_EINVAL, *cause names the metric, the element's path and the
 * offending text). Dates without a zone are read in tz; samples without a
 * timestamp get now_ms. */
int jsonmap_apply(struct jsonmap *const *maps, size_t nmaps, const char *body, size_t len,
		  const struct pw_tz *tz, int64_t now_ms, jsonmap_sample_cb cb, void *ctx,
		  size_t *nsamples, char **cause);

#endif /* PW_COLLECTOR_H */
