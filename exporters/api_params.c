/*
 * api_params.c — the Prometheus API's parameters: form decoding, times and
 * durations as Prometheus parses them, the arguments of query and
 * query_range, match[] selectors and limits. Every parameter comes from an
 * unauthenticated client: each refusal names the parameter and the value,
 * and no arithmetic on a value can overflow. api.c answers with what these
 * return; tests/fuzz/fuzz_api.c feeds them anything.
 */
#include "api_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

/* ---- form fields ----------------------------------------------------------------------- */

void params_add(struct params *p, const char *k, size_t kl, const char *v, size_t vl)
{
	if (p->n == 256)
		return;
	p->k[p->n] = xstrndup(k, kl);
	p->v[p->n++] = xstrndup(v, vl);
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* decode a form field in place; returns the new length */
static size_t form_decode(char *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			s[w++] = ' ';
		} else if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
			s[w++] = (char)(hexv(s[i + 1]) << 4 | hexv(s[i + 2]));
			i += 2;
		} else {
			s[w++] = s[i];
		}
	}
	return w;
}

void params_parse_form(struct params *p, char *body, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t j = i, eq;
		while (j < len && body[j] != '&')
			j++;
		for (eq = i; eq < j && body[eq] != '='; eq++)
			;
		if (j > i) {
			size_t kl = form_decode(body + i, eq - i);
			size_t vl = eq < j ? form_decode(body + eq + 1, j - eq - 1) : 0;
			params_add(p, body + i, kl, eq < j ? body + eq + 1 : "", vl);
		}
		i = j + 1;
	}
}

const char *params_get(const struct params *p, const char *k)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->k[i], k) == 0)
			return p->v[i];
	return NULL;
}

void params_free(struct params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->k[i]);
		free(p->v[i]);
	}
	p->n = 0;
}

/* ---- times and durations as Prometheus parses them ---------------------------- */

int api_parse_ts(const char *s, int64_t *ms)
{
	double d;
	if (pw_number(s, &d) && isfinite(d)) {
		if (fabs(d) > 9.2e15)
			return PW_EINVAL;
		*ms = (int64_t)llround(d * 1000);
		return 0;
	}
	if (strcmp(s, "-292273086-05-16T16:47:06Z") == 0) {
		*ms = INT64_MIN / 2;
		return 0;
	}
	if (strcmp(s, "292277025-08-18T07:12:54.999999999Z") == 0) {
		*ms = INT64_MAX / 2;
		return 0;
	}
	return pw_parse_time(s, NULL, ms);
}

/* Prometheus' durations are int64 nanoseconds */
#define MAX_DUR_MS (INT64_MAX / 1000000)

int api_parse_dur(const char *s, int64_t *ms)
{
	double d;
	if (pw_number(s, &d) && isfinite(d)) {
		if (d * 1000 > (double)MAX_DUR_MS || d * 1000 < -(double)MAX_DUR_MS)
			return PW_EINVAL;
		*ms = (int64_t)llround(d * 1000);
		return 0;
	}
	if (pw_parse_duration(s, ms) != 0 || *ms > MAX_DUR_MS)
		return PW_EINVAL;
	return 0;
}

/* ---- query, query_range ------------------------------------------------------------ */

static int bad_param(char **msg, const char *name, const char *v, const char *what)
{
	*msg = xasprintf("invalid parameter \"%s\": cannot parse \"%.400s\" to a valid %s", name,
			 v ? v : "", what);
	return PW_EINVAL;
}

int api_query_args(const struct params *p, const struct conf *c, bool range, int64_t now,
		   struct api_query_args *a, char **msg)
{
	const char *v;
	int64_t tmo;

	*msg = NULL;
	memset(a, 0, sizeof *a);
	a->t = now;
	a->timeout_ms = c->query.timeout_ms;
	a->lookback_ms = c->global.lookback_delta_ms;
	if ((v = params_get(p, "timeout"))) {
		if (api_parse_dur(v, &tmo) != 0)
			return bad_param(msg, "timeout", v, "duration");
		if (tmo > 0 && tmo < a->timeout_ms)
			a->timeout_ms = tmo;
	}
	if ((v = params_get(p, "lookback_delta"))) {
		if (api_parse_dur(v, &a->lookback_ms) != 0)
			return bad_param(msg, "lookback_delta", v, "duration");
		if (a->lookback_ms <= 0)
			a->lookback_ms = c->global.lookback_delta_ms;
	}
	if (!range) {
		if ((v = params_get(p, "time")) && api_parse_ts(v, &a->t) != 0)
			return bad_param(msg, "time", v, "timestamp");
	} else {
		uint64_t points;
		if (!(v = params_get(p, "start")) || api_parse_ts(v, &a->start) != 0)
			return bad_param(msg, "start", v, "timestamp");
		if (!(v = params_get(p, "end")) || api_parse_ts(v, &a->end) != 0)
			return bad_param(msg, "end", v, "timestamp");
		if (a->end < a->start) {
			*msg = xstrdup("end timestamp must not be before start time");
			return PW_EINVAL;
		}
		if (!(v = params_get(p, "step")) || api_parse_dur(v, &a->step) != 0)
			return bad_param(msg, "step", v, "duration");
		if (a->step <= 0) {
			*msg = xstrdup("zero or negative query resolution step widths are not accepted. Try a positive integer");
			return PW_EINVAL;
		}
		/* end - start can pass int64 (from -9.2e18 to 9.2e18 ms): the
		 * difference is taken unsigned, where it fits */
		points = ((uint64_t)a->end - (uint64_t)a->start) / (uint64_t)a->step;
		if (points > (uint64_t)c->query.max_points) {
			*msg = xasprintf("exceeded maximum resolution of %lld points per timeseries. Try decreasing the query resolution (?step=XX)",
					 (long long)c->query.max_points);
			return PW_EINVAL;
		}
	}
	a->q = params_get(p, "query");
	if (!a->q)
		a->q = "";
	return 0;
}

/* ---- series, labels, label values ---------------------------------------------------- */

void api_sel_free(struct api_sel *s)
{
	for (size_t i = 0; i < s->n; i++)
		query_matchers_free(s->m[i], s->nm[i]);
	s->n = 0;
}

int api_sel_args(const struct params *p, struct api_sel *s, char **msg)
{
	const char *v;
	*msg = NULL;
	s->n = 0;
	s->mint = INT64_MIN;
	s->maxt = INT64_MAX;
	if ((v = params_get(p, "start")) && api_parse_ts(v, &s->mint) != 0)
		return bad_param(msg, "start", v, "timestamp");
	if ((v = params_get(p, "end")) && api_parse_ts(v, &s->maxt) != 0)
		return bad_param(msg, "end", v, "timestamp");
	for (size_t i = 0; i < p->n; i++) {
		char *cause = NULL;
		if (strcmp(p->k[i], "match[]") != 0)
			continue;
		if (s->n == 64) {
			api_sel_free(s);
			*msg = xstrdup("at most 64 match[] parameters");
			return PW_EINVAL;
		}
		if (query_parse_selector(p->v[i], &s->m[s->n], &s->nm[s->n], &cause) != 0) {
			api_sel_free(s);
			*msg = cause ? cause : xstrdup("invalid match[]");
			return PW_EINVAL;
		}
		s->n++;
	}
	return 0;
}

int api_limit_arg(const struct params *p, const char *name, long *limit, char **msg)
{
	const char *l = params_get(p, name);
	char *end;
	*msg = NULL;
	*limit = -1;
	if (!l || !*l)
		return 0;
	errno = 0;
	*limit = strtol(l, &end, 10);
	if (*end || errno == ERANGE)
		return bad_param(msg, name, l, "number");
	if (*limit <= 0)
		*limit = -1;
	return 0;
}
