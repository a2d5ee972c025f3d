/*
 * api_int.h — the Prometheus API's parameters (api_params.c) as api.c and
 * the fuzz target tests/fuzz/fuzz_api.c read them: form fields, times,
 * durations, the query and query_range arguments, match[] selectors, limit.
 * Nothing here touches a connection or the store.
 */
#ifndef PW_API_INT_H
#define PW_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
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

#endif
