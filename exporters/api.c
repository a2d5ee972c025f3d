/*
 * api.c — the Prometheus HTTP API (the subset Grafana, promtool and
 * scrapers use): query, query_range, series, labels, label values,
 * metadata, query_exemplars, status/buildinfo, targets, rules, alerts —
 * and pacewatch's kpis and notifications. GET and form-encoded POST;
 * Prometheus' JSON, status codes and errorTypes, so that Grafana's
 * Prometheus data source works unchanged. Every endpoint is a row of
 * api_routes, at the end.
 */
#include "exporters_int.h"

#include <math.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

/* ---- parameters ----------------------------------------------------------------------- */

struct params {
	char *k[256], *v[256];
	size_t n;
};

static void params_add(struct params *p, const char *k, size_t kl, const char *v, size_t vl)
{
	if (p->n == 256)
		return;
	p->k[p->n] = xstrndup(k, kl);
	p->v[p->n++] = xstrndup(v, vl);
}

static enum MHD_Result get_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	(void)kind;
	params_add(cls, key, strlen(key), value ? value : "", value ? strlen(value) : 0);
	return MHD_YES;
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

static void parse_form(struct params *p, char *body, size_t len)
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

static const char *param(const struct params *p, const char *k)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->k[i], k) == 0)
			return p->v[i];
	return NULL;
}

static void params_free(struct params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->k[i]);
		free(p->v[i]);
	}
}

/* ---- JSON ---------------------------------------------------------------------------- */

static void json_unix_time(struct pw_buf *b, int64_t t)
{
	if (t < 0) {
		pw_buf_putc(b, '-');
		t = -t;
	}
	pw_buf_printf(b, "%lld", (long long)(t / 1000));
	if (t % 1000)
		pw_buf_printf(b, ".%03lld", (long long)(t % 1000));
}

static void jpoint(struct pw_buf *b, int64_t t, double v)
{
	char num[400];
	pw_buf_putc(b, '[');
	json_unix_time(b, t);
	pw_fmt_float(num, sizeof num, v, PW_FMT_GO_F);
	pw_buf_printf(b, ",\"%s\"]", num);
}

static void jlabels(struct pw_buf *b, const struct pw_label *l, size_t n)
{
	pw_buf_json_labels(b, l, n);
}

static enum MHD_Result send_json(struct httpd *h, struct MHD_Connection *c, int path,
				 unsigned code, struct pw_buf *b)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len = b->len;
	char *data = pw_buf_take(b);
	r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	count(h, path, code);
	return ret;
}

static enum MHD_Result send_error(struct httpd *h, struct MHD_Connection *c, int path,
				  enum query_errtype t, const char *msg)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_buf_printf(&b, "{\"status\":\"error\",\"errorType\":\"%s\",\"error\":",
		      query_errtype_name(t));
	pw_buf_json_string(&b, msg);
	pw_buf_putc(&b, '}');
	return send_json(h, c, path, (unsigned)query_errtype_status(t), &b);
}

static enum MHD_Result send_data(struct httpd *h, struct MHD_Connection *c, int path,
				 struct pw_buf *data)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "{\"status\":\"success\",\"data\":");
	pw_buf_append(&b, data->data ? data->data : "null", data->data ? data->len : 4);
	pw_buf_putc(&b, '}');
	pw_buf_free(data);
	return send_json(h, c, path, 200, &b);
}

/* ---- times and durations as Prometheus parses them ---------------------------- */

static int parse_ts(const char *s, int64_t *ms)
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

static int parse_dur(const char *s, int64_t *ms)
{
	double d;
	if (pw_number(s, &d) && isfinite(d)) {
		if (d * 1000 > 9.2e18 || d * 1000 < -9.2e18)
			return PW_EINVAL;
		*ms = (int64_t)llround(d * 1000);
		return 0;
	}
	return pw_parse_duration(s, ms);
}

/* ---- query, query_range ---------------------------------------------------------------- */

static void write_result(struct pw_buf *b, const struct query_result *r)
{
	pw_buf_printf(b, "{\"resultType\":\"%s\",\"result\":", query_type_name(r->type));
	switch (r->type) {
	case QUERY_SCALAR:
		jpoint(b, r->t, r->scalar);
		break;
	case QUERY_STRING:
		pw_buf_putc(b, '[');
		json_unix_time(b, r->t);
		pw_buf_putc(b, ',');
		pw_buf_json_string(b, r->str);
		pw_buf_putc(b, ']');
		break;
	default:
		pw_buf_putc(b, '[');
		for (size_t i = 0; i < r->nseries; i++) {
			const struct query_series *s = &r->series[i];
			if (i)
				pw_buf_putc(b, ',');
			pw_buf_puts(b, "{\"metric\":");
			jlabels(b, s->labels, s->nlabels);
			if (r->type == QUERY_VECTOR) {
				pw_buf_puts(b, ",\"value\":");
				jpoint(b, s->pts[0].t, s->pts[0].v);
			} else {
				pw_buf_puts(b, ",\"values\":[");
				for (size_t j = 0; j < s->n; j++) {
					if (j)
						pw_buf_putc(b, ',');
					jpoint(b, s->pts[j].t, s->pts[j].v);
				}
				pw_buf_putc(b, ']');
			}
			pw_buf_putc(b, '}');
		}
		pw_buf_putc(b, ']');
	}
	pw_buf_putc(b, '}');
}

static enum MHD_Result bad_param(struct httpd *h, struct MHD_Connection *c, int path,
				 const char *name, const char *v, const char *what)
{
	char msg[600];
	snprintf(msg, sizeof msg, "invalid parameter \"%s\": cannot parse \"%.400s\" to a valid %s",
		 name, v, what);
	return send_error(h, c, path, QUERY_ERR_BAD_DATA, msg);
}

static enum MHD_Result run_query(struct httpd *h, struct MHD_Connection *c, int path,
				 const struct params *p, bool range)
{
	const char *q = param(p, "query"), *v;
	struct query_opts o = {0};
	struct query_result *r = NULL;
	struct query_error err = {0};
	struct query_expr *x = NULL;
	int64_t t = pw_now_ms(), start = 0, end = 0, step = 0, tmo;
	struct pw_buf b;
	int rc;

	o.lookback_ms = h->conf->global.lookback_delta_ms;
	o.max_samples = (uint64_t)h->conf->query.max_samples;
	o.timeout_ms = h->conf->query.timeout_ms;
	if ((v = param(p, "timeout"))) {
		if (parse_dur(v, &tmo) != 0)
			return bad_param(h, c, path, "timeout", v, "duration");
		if (tmo > 0 && tmo < o.timeout_ms)
			o.timeout_ms = tmo;
	}
	if ((v = param(p, "lookback_delta"))) {
		if (parse_dur(v, &o.lookback_ms) != 0)
			return bad_param(h, c, path, "lookback_delta", v, "duration");
		if (o.lookback_ms <= 0)
			o.lookback_ms = h->conf->global.lookback_delta_ms;
	}
	if (!range) {
		if ((v = param(p, "time")) && parse_ts(v, &t) != 0)
			return bad_param(h, c, path, "time", v, "timestamp");
	} else {
		if (!(v = param(p, "start")) || parse_ts(v, &start) != 0)
			return bad_param(h, c, path, "start", v ? v : "", "timestamp");
		if (!(v = param(p, "end")) || parse_ts(v, &end) != 0)
			return bad_param(h, c, path, "end", v ? v : "", "timestamp");
		if (end < start)
			return send_error(h, c, path, QUERY_ERR_BAD_DATA,
					  "end timestamp must not be before start time");
		if (!(v = param(p, "step")) || parse_dur(v, &step) != 0)
			return bad_param(h, c, path, "step", v ? v : "", "duration");
		if (step <= 0)
			return send_error(h, c, path, QUERY_ERR_BAD_DATA,
					  "zero or negative query resolution step widths are not accepted. Try a positive integer");
		if ((end - start) / step > h->conf->query.max_points) {
			char msg[200];
			snprintf(msg, sizeof msg,
				 "exceeded maximum resolution of %lld points per timeseries. Try decreasing the query resolution (?step=XX)",
				 (long long)h->conf->query.max_points);
			return send_error(h, c, path, QUERY_ERR_BAD_DATA, msg);
		}
	}
	if (!q)
		q = "";
	if (query_parse(q, &x, &err) != 0) {
		enum MHD_Result ret = send_error(h, c, path, err.type, err.msg);
		query_error_clear(&err);
		return ret;
	}
	rc = range ? query_exec_range(h->store, &o, x, start, end, step, &r, &err)
		   : query_exec_instant(h->store, &o, x, t, &r, &err);
	query_expr_free(x);
	if (rc != 0) {
		enum MHD_Result ret = send_error(h, c, path, err.type, err.msg ? err.msg : "failed");
		query_error_clear(&err);
		return ret;
	}
	pw_buf_init(&b, 0);
	write_result(&b, r);
	query_result_free(r);
	return send_data(h, c, path, &b);
}

static enum MHD_Result serve_query(struct httpd *h, struct MHD_Connection *c, int path,
				   const struct params *p, const char *name)
{
	(void)name;
	return run_query(h, c, path, p, false);
}

static enum MHD_Result serve_query_range(struct httpd *h, struct MHD_Connection *c, int path,
					 const struct params *p, const char *name)
{
	(void)name;
	return run_query(h, c, path, p, true);
}

/* ---- series, labels, label values ---------------------------------------------------- */

struct sel {
	struct store_matcher *m[64];
	size_t nm[64];
	size_t n;
	int64_t mint, maxt;
};

static void sel_free(struct sel *s)
{
	for (size_t i = 0; i < s->n; i++)
		query_matchers_free(s->m[i], s->nm[i]);
}

/* match[], start, end; on error an answer was sent and *ret holds it */
static bool parse_sel(struct httpd *h, struct MHD_Connection *c, int path,
		      const struct params *p, struct sel *s, enum MHD_Result *ret)
{
	const char *v;
	s->n = 0;
	s->mint = INT64_MIN;
	s->maxt = INT64_MAX;
	if ((v = param(p, "start")) && parse_ts(v, &s->mint) != 0) {
		*ret = bad_param(h, c, path, "start", v, "timestamp");
		return false;
	}
	if ((v = param(p, "end")) && parse_ts(v, &s->maxt) != 0) {
		*ret = bad_param(h, c, path, "end", v, "timestamp");
		return false;
	}
	for (size_t i = 0; i < p->n; i++) {
		char *cause = NULL;
		if (strcmp(p->k[i], "match[]") != 0)
			continue;
		if (s->n == 64) {
			*ret = send_error(h, c, path, QUERY_ERR_BAD_DATA,
					  "at most 64 match[] parameters");
			sel_free(s);
			return false;
		}
		if (query_parse_selector(p->v[i], &s->m[s->n], &s->nm[s->n], &cause) != 0) {
			*ret = send_error(h, c, path, QUERY_ERR_BAD_DATA,
					  cause ? cause : "invalid match[]");
			free(cause);
			sel_free(s);
			return false;
		}
		s->n++;
	}
	return true;
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int id_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct store_series *)a)->id, y = ((const struct store_series *)b)->id;
	return x < y ? -1 : x > y;
}

static enum MHD_Result serve_series(struct httpd *h, struct MHD_Connection *c, int path,
				    const struct params *p, const char *name)
{
	struct sel s;
	enum MHD_Result ret;
	struct store_snap *snap;
	struct store_series *all = NULL;
	size_t nall = 0;
	struct pw_buf b;
	int rc = 0;

	(void)name;
	if (!parse_sel(h, c, path, p, &s, &ret))
		return ret;
	if (s.n == 0)
		return send_error(h, c, path, QUERY_ERR_BAD_DATA, "no match[] parameter provided");
	if ((rc = store_snap_begin(h->store, &snap)) != 0) {
		sel_free(&s);
		return send_error(h, c, path, QUERY_ERR_INTERNAL, pw_strerror(rc));
	}
	for (size_t i = 0; i < s.n && rc == 0; i++) {
		struct store_series *got;
		size_t n;
		if ((rc = store_select(snap, s.m[i], s.nm[i], s.mint, s.maxt, false, &got, &n)) != 0)
			break;
		all = xreallocarray(all, nall + n + 1, sizeof *all);
		if (n) /* got may be NULL then */
			memcpy(all + nall, got, n * sizeof *got);
		nall += n;
		free(got);
	}
	pw_buf_init(&b, 0);
	if (rc == 0) {
		size_t k = 0;
		qsort(all, nall, sizeof *all, id_cmp);
		for (size_t i = 0; i < nall; i++)
			if (k == 0 || all[k - 1].id != all[i].id)
				all[k++] = all[i];
		nall = k;
		qsort(all, nall, sizeof *all, store_series_cmp);
		pw_buf_putc(&b, '[');
		for (size_t i = 0; i < nall; i++) {
			struct pw_label l[128];
			size_t nl = store_series_labels(&all[i], l, 128);
			if (i)
				pw_buf_putc(&b, ',');
			jlabels(&b, l, nl < 128 ? nl : 128);
		}
		pw_buf_putc(&b, ']');
	}
	store_snap_end(snap);
	free(all);
	sel_free(&s);
	if (rc != 0) {
		pw_buf_free(&b);
		return send_error(h, c, path, QUERY_ERR_INTERNAL, pw_strerror(rc));
	}
	return send_data(h, c, path, &b);
}

/* label names (name == NULL) or the values of one label */
static enum MHD_Result serve_labels(struct httpd *h, struct MHD_Connection *c, int path,
				    const struct params *p, const char *name)
{
	struct sel s;
	enum MHD_Result ret;
	struct store_snap *snap;
	const char **all = NULL;
	size_t nall = 0;
	struct pw_buf b;
	int rc = 0;

	if (name && !pw_valid_label_name(name, strlen(name))) {
		char msg[300];
		snprintf(msg, sizeof msg, "invalid label name: \"%.200s\"", name);
		return send_error(h, c, path, QUERY_ERR_BAD_DATA, msg);
	}
	if (!parse_sel(h, c, path, p, &s, &ret))
		return ret;
	if ((rc = store_snap_begin(h->store, &snap)) != 0) {
		sel_free(&s);
		return send_error(h, c, path, QUERY_ERR_INTERNAL, pw_strerror(rc));
	}
	for (size_t i = 0; i < (s.n ? s.n : 1) && rc == 0; i++) {
		const char **got = NULL;
		size_t n = 0;
		struct store_matcher *m = s.n ? s.m[i] : NULL;
		size_t nm = s.n ? s.nm[i] : 0;
		rc = name ? store_label_values(snap, name, m, nm, s.mint, s.maxt, &got, &n)
			  : store_label_names(snap, m, nm, s.mint, s.maxt, &got, &n);
		if (rc != 0)
			break;
		all = xreallocarray(all, nall + n + 1, sizeof *all);
		if (n) /* got may be NULL then */
			memcpy(all + nall, got, n * sizeof *got);
		nall += n;
		free(got);
	}
	pw_buf_init(&b, 0);
	if (rc == 0) {
		size_t k = 0;
		qsort(all, nall, sizeof *all, strp_cmp);
		pw_buf_putc(&b, '[');
		for (size_t i = 0; i < nall; i++) {
			if (k && strcmp(all[i], all[k - 1]) == 0)
				continue;
			all[k++] = all[i];
			if (k > 1)
				pw_buf_putc(&b, ',');
			pw_buf_json_string(&b, all[i]);
		}
		pw_buf_putc(&b, ']');
	}
	store_snap_end(snap);
	free(all);
	sel_free(&s);
	if (rc != 0) {
		pw_buf_free(&b);
		return send_error(h, c, path, QUERY_ERR_INTERNAL, pw_strerror(rc));
	}
	return send_data(h, c, path, &b);
}

/* ---- metadata, buildinfo, targets --------------------------------------------------- */

struct meta_ctx {
	struct pw_buf *b;
	const char *only;
	long limit, n;
};

static int meta_cb(void *ctx, const char *metric, const struct store_meta *m)
{
	struct meta_ctx *mc = ctx;
	if (mc->only && strcmp(mc->only, metric) != 0)
		return 0;
	if (mc->limit >= 0 && mc->n >= mc->limit)
		return 1;
	if (mc->n++)
		pw_buf_putc(mc->b, ',');
	pw_buf_json_string(mc->b, metric);
	pw_buf_puts(mc->b, ":[{\"type\":");
	pw_buf_json_string(mc->b, store_type_name(m->type));
	pw_buf_puts(mc->b, ",\"help\":");
	pw_buf_json_string(mc->b, m->help ? m->help : "");
	pw_buf_puts(mc->b, ",\"unit\":");
	pw_buf_json_string(mc->b, m->unit ? m->unit : "");
	pw_buf_puts(mc->b, "}]");
	return 0;
}

static enum MHD_Result serve_metadata(struct httpd *h, struct MHD_Connection *c, int path,
				      const struct params *p, const char *name)
{
	struct pw_buf b;
	struct store_snap *snap;
	struct meta_ctx mc = {&b, param(p, "metric"), -1, 0};
	const char *l = param(p, "limit");
	int rc;
	(void)name;
	if (l && *l) {
		char *end;
		mc.limit = strtol(l, &end, 10);
		if (*end)
			return bad_param(h, c, path, "limit", l, "number");
		if (mc.limit <= 0)
			mc.limit = -1;
	}
	if ((rc = store_snap_begin(h->store, &snap)) != 0)
		return send_error(h, c, path, QUERY_ERR_INTERNAL, pw_strerror(rc));
	pw_buf_init(&b, 0);
	pw_buf_putc(&b, '{');
	rc = store_meta_scan(snap, meta_cb, &mc);
	store_snap_end(snap);
	pw_buf_putc(&b, '}');
	if (rc < 0) {
		pw_buf_free(&b);
		return send_error(h, c, path, QUERY_ERR_INTERNAL, pw_strerror(rc));
	}
	return send_data(h, c, path, &b);
}

static void jdur(struct pw_buf *b, int64_t ms)
{
	char d[64];
	pw_fmt_duration(d, sizeof d, ms);
	pw_buf_json_string(b, d);
}

static enum MHD_Result serve_targets(struct httpd *h, struct MHD_Connection *c, int path,
				     const struct params *p, const char *name)
{
	struct pw_buf b;
	const char *state = param(p, "state");
	bool active = !state || !*state || strcmp(state, "active") == 0 || strcmp(state, "any") == 0;
	struct collector_target_status st;

	(void)name;
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "{\"activeTargets\":[");
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; active && h->col && collector_target(h->col, i, &st); i++) {
		int64_t iv = h->conf->global.scrape_interval_ms, to = h->conf->global.scrape_timeout_ms;
		char ts[64];
		for (size_t k = 0; k < h->conf->ntargets; k++)
			if (strcmp(h->conf->targets[k].name, st.name) == 0) {
				iv = h->conf->targets[k].interval_ms;
				to = h->conf->targets[k].timeout_ms;
			}
		if (i)
			pw_buf_putc(&b, ',');
		{
			struct pw_label disc[2] = {{"__address__", st.instance}, {"job", st.name}};
			struct pw_label lab[2] = {{"instance", st.instance}, {"job", st.name}};
			pw_buf_puts(&b, "{\"discoveredLabels\":");
			jlabels(&b, disc, 2);
			pw_buf_puts(&b, ",\"labels\":");
			jlabels(&b, lab, 2);
		}
		pw_buf_puts(&b, ",\"scrapePool\":");
		pw_buf_json_string(&b, st.name);
		pw_buf_puts(&b, ",\"scrapeUrl\":");
		pw_buf_json_string(&b, st.url);
		pw_buf_puts(&b, ",\"globalUrl\":");
		pw_buf_json_string(&b, st.url);
		pw_buf_puts(&b, ",\"lastError\":");
		pw_buf_json_string(&b, st.last_error);
		pw_buf_puts(&b, ",\"lastScrape\":");
		if (st.last_scrape_ms > 0)
			pw_fmt_time(ts, sizeof ts, st.last_scrape_ms);
		else
			snprintf(ts, sizeof ts, "0001-01-01T00:00:00Z");
		pw_buf_json_string(&b, ts);
		pw_buf_printf(&b, ",\"lastScrapeDuration\":%.6f,\"lastSamplesScraped\":%zu,\"health\":",
			      st.last_duration_s, st.last_samples);
		pw_buf_json_string(&b, st.health == 1 ? "up" : st.health == 0 ? "down" : "unknown");
		pw_buf_puts(&b, ",\"scrapeInterval\":");
		jdur(&b, iv);
		pw_buf_puts(&b, ",\"scrapeTimeout\":");
		jdur(&b, to);
		pw_buf_putc(&b, '}');
	}
	pthread_mutex_unlock(&h->lock);
	pw_buf_puts(&b, "],\"droppedTargets\":[]}");
	return send_data(h, c, path, &b);
}

static enum MHD_Result serve_buildinfo(struct httpd *h, struct MHD_Connection *c, int path,
				       const struct params *p, const char *name)
{
	struct pw_buf b;
	(void)p;
	(void)name;
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "{\"version\":");
	pw_buf_json_string(&b, PW_VERSION);
	pw_buf_puts(&b, ",\"revision\":\"\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\","
			"\"goVersion\":\"\",\"application\":\"pacewatch\",\"features\":{}}");
	return send_data(h, c, path, &b);
}

/* ---- exemplars, rules, alerts, KPIs, notifications ------------------------------------ */

static enum MHD_Result serve_exemplars(struct httpd *h, struct MHD_Connection *c, int path,
				       const struct params *p, const char *name)
{
	struct pw_buf b;
	(void)p;
	(void)name;
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "[]");
	return send_data(h, c, path, &b);
}

/* the decider's newest view, formatted with no lock held */
static enum MHD_Result serve_rules(struct httpd *h, struct MHD_Connection *c, int path,
				   const struct params *p, const char *name)
{
	struct pw_buf b;
	const char *type = param(p, "type");
	struct view *v = view_get(h->views);
	(void)name;
	pw_buf_init(&b, 0);
	view_json_rules(v, &b, type && *type ? type : NULL);
	view_unref(v);
	return send_data(h, c, path, &b);
}

static enum MHD_Result serve_alerts(struct httpd *h, struct MHD_Connection *c, int path,
				    const struct params *p, const char *name)
{
	struct pw_buf b;
	struct view *v = view_get(h->views);
	(void)p;
	(void)name;
	pw_buf_init(&b, 0);
	view_json_alerts(v, &b);
	view_unref(v);
	return send_data(h, c, path, &b);
}

static enum MHD_Result serve_kpis(struct httpd *h, struct MHD_Connection *c, int path,
				  const struct params *p, const char *name)
{
	struct pw_buf b;
	struct view *v = view_get(h->views);
	(void)p;
	(void)name;
	pw_buf_init(&b, 0);
	view_json_kpis(v, &b);
	view_unref(v);
	return send_data(h, c, path, &b);
}

static enum MHD_Result serve_notifications(struct httpd *h, struct MHD_Connection *c, int path,
					   const struct params *p, const char *name)
{
	struct pw_buf b;
	struct notify_status *st;
	(void)p;
	(void)name;
	/* the lock keeps the notifier alive (httpd_set_notify) while the
	 * status is taken; it is formatted without it */
	pthread_mutex_lock(&h->lock);
	st = notify_status_take(h->notify);
	pthread_mutex_unlock(&h->lock);
	pw_buf_init(&b, 0);
	notify_status_json(st, &b);
	notify_status_free(st);
	return send_data(h, c, path, &b);
}

/* ---- routing ----------------------------------------------------------------------- */

/* An endpoint's handler: p holds the query string's parameters and a
 * form-encoded POST body's; name is what the row's * matched, else NULL. */
typedef enum MHD_Result (*api_fn)(struct httpd *h, struct MHD_Connection *c, int path,
				  const struct params *p, const char *name);

struct api_route {
	const char *url; /* after /api/v1/; a * matches one character or more */
	int path;        /* PATH_*: the counter of its requests */
	api_fn serve;
};

/* Every endpoint under /api/v1/ (httpd.c's table has checked the method,
 * GET or POST, and http.read_auth): the first row that matches serves the
 * request, anything else is 404. */
static const struct api_route api_routes[] = {
	/* url               counter           handler */
	{"query",            PATH_QUERY,       serve_query},
	{"query_range",      PATH_QUERY_RANGE, serve_query_range},
	{"series",           PATH_API_OTHER,   serve_series},
	{"labels",           PATH_API_OTHER,   serve_labels},
	{"label/*/values",   PATH_API_OTHER,   serve_labels},
	{"metadata",         PATH_API_OTHER,   serve_metadata},
	{"query_exemplars",  PATH_API_OTHER,   serve_exemplars},
	{"status/buildinfo", PATH_API_OTHER,   serve_buildinfo},
	{"targets",          PATH_API_OTHER,   serve_targets},
	{"kpis",             PATH_API_OTHER,   serve_kpis},
	{"notifications",    PATH_API_OTHER,   serve_notifications},
	{"rules",            PATH_API_OTHER,   serve_rules},
	{"alerts",           PATH_API_OTHER,   serve_alerts},
};

/* Does rest match url? What a * matched goes to *name (a new string). */
static bool api_match(const char *url, const char *rest, char **name)
{
	const char *star = strchr(url, '*');
	size_t n = strlen(rest), pre, suf;
	if (!star)
		return strcmp(rest, url) == 0;
	pre = (size_t)(star - url);
	suf = strlen(star + 1);
	if (n <= pre + suf || strncmp(rest, url, pre) != 0 || strcmp(rest + n - suf, star + 1) != 0)
		return false;
	*name = xstrndup(rest + pre, n - pre - suf);
	return true;
}

static bool is_form(struct MHD_Connection *c)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

enum MHD_Result api_handle(struct httpd *h, struct MHD_Connection *c, int path, const char *url,
			   struct req *rq)
{
	struct params p = {0};
	enum MHD_Result ret;
	const char *rest = url + strlen("/api/v1/"); /* httpd.c's row is /api/v1/ */
	const struct api_route *rt = NULL;
	char *name = NULL;

	if (rq->too_big)
		return send_error(h, c, path, QUERY_ERR_BAD_DATA,
				  "request body larger than http.max_request_size");
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, get_arg, &p);
	if (rq->post && is_form(c) && rq->body.len)
		parse_form(&p, rq->body.data, rq->body.len);
	for (size_t i = 0; i < sizeof api_routes / sizeof api_routes[0] && !rt; i++)
		if (api_match(api_routes[i].url, rest, &name))
			rt = &api_routes[i];
	if (rt)
		ret = rt->serve(h, c, rt->path, &p, name);
	else
		ret = send_text(h, c, path, 404, "text/plain", "404 page not found\n");
	free(name);
	params_free(&p);
	return ret;
}
