/*
 * api_int.h — the Prometheus API's parameters (api_params.c) as api.c and
 * the fuzz target tests/fuzz/fuzz_api.c read them: form fields, times,
 * durations, the query and query_range arguments, match[] selectors, limit;
 * and its JSON answers written within a query's limits (api_json.c).
 * Nothing here touches a connection or the store.
 */
#ifndef PW_API_INT_H
#define PW_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "query.h"
#include "store.h"

/* A request's parameters: the query string's and a form-encoded body's,
 * at most 256 (more are ignored). */
struct params {
	char *k[256], *v[256];
	size_t n;
};
void params_add(struct params *p, const char *k, size_t kl, const char *v, size_t vl);
/* application/x-www-form-urlencoded; decodes body in place */
void params_parse_form(struct params *p, char *body, size_t len);
const char *params_get(const struct params *p, const char *k);
void params_free(struct params *p);

/* Times as Prometheus reads them: Unix seconds (to the millisecond) within
 * +-9.2e15, RFC 3339, or Prometheus' minimum and maximum time. */
int api_parse_ts(const char *s, int64_t *ms);
/* Durations: seconds or "1h30m", within int64 nanoseconds as Prometheus'
 * (about 292 years either way). */
int api_parse_dur(const char *s, int64_t *ms);

/* What /api/v1/query and /api/v1/query_range ask. */
struct api_query_args {
	const char *q;    /* borrowed from the params */
	int64_t t;        /* instant: the evaluation time, ms */
	int64_t start, end, step;
	int64_t timeout_ms, lookback_ms;
};
/* The arguments, with conf's limits (query.timeout, lookback, max points)
 * and now (ms) for a missing time. 0, or PW_EINVAL and *msg: a new
 * message saying which parameter and why (errorType bad_data, 400). */
int api_query_args(const struct params *p, const struct conf *c, bool range, int64_t now,
		   struct api_query_args *a, char **msg);

/* match[] (at most 64), start and end of series, labels, label values. */
struct api_sel {
	struct store_matcher *m[64];
	size_t nm[64];
	size_t n;
	int64_t mint, maxt;
};
int api_sel_args(const struct params *p, struct api_sel *s, char **msg);
void api_sel_free(struct api_sel *s);

/* metadata's limit: -1 (none) or a positive count */
int api_limit_arg(const struct params *p, const char *name, long *limit, char **msg);

/* ---- JSON answers (api_json.c) ---- */

/* A JSON answer whose buffer is charged to the query's account before it
 * grows, and whose writing stops at the query's deadline. Writers reserve
 * (jout_reserve) at least what they append next, so the pw_buf functions
 * never grow the buffer themselves. */
struct jout {
	struct pw_buf b;
	struct query_mem *m;
	int64_t deadline_ns;
	unsigned ticks;
	bool failed;
	struct query_error err; /* why, once failed */
};
/* room for extra more bytes: false once failed (memory or time) */
bool jout_reserve(struct jout *j, size_t extra);
/* past the deadline (looked at every 256 calls, or now)? then failed */
bool jout_late_now(struct jout *j, bool now);
bool jout_late(struct jout *j);
void jout_puts(struct jout *j, const char *s);
void jout_labels(struct jout *j, const struct pw_label *l, size_t n);
void jout_point(struct jout *j, int64_t t, double v);
void jout_string(struct jout *j, const char *s);
/* a query's result as the data of /api/v1/query or query_range; on
 * failure j->failed and j->err say why */
void api_write_result(struct jout *j, const struct query_result *r);

#endif
