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
#include <pthread.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "query.h"

/* ---- parameters (api_params.c) ------------------------------------------------------ */

static enum MHD_Result get_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	(void)kind;
	params_add(cls, key, strlen(key), value ? value : "", value ? strlen(value) : 0);
	return MHD_YES;
}

static const char *param(const struct params *p, const char *k) { return params_get(p, k); }

/* ---- JSON (the query answers' writer: api_json.c) ------------------------------------ */

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

/* ---- answers held to a query's limits ------------------------------------------------- */

/* What all API queries hold at once (query.max_bytes_total) and how many
 * run (query.max_concurrency): one budget for the process, whatever the
 * configuration's generation. */
static struct query_budget *api_budget;
static pthread_once_t api_budget_once = PTHREAD_ONCE_INIT;

static void api_budget_init(void) { api_budget = query_budget_new(); }

static struct query_budget *budget_of(const struct conf *c)
{
	pthread_once(&api_budget_once, api_budget_init);
	query_budget_set(api_budget, c->query.max_bytes_total, (int)c->query.max_concurrency);
	return api_budget;
}

void api_stop_queries(void)
{
	pthread_once(&api_budget_once, api_budget_init);
	query_budget_stop(api_budget);
}









/* The bytes go to MHD with the charge for them, given back when MHD frees
 * the response: a slow reader's answer still counts in the total. */
struct held {
	char *data;
	struct query_mem m;
};

static void held_free(void *cls)
{
	struct held *hd = cls;
	free(hd->data);
	query_mem_release(&hd->m, hd->m.used);
	free(hd);
}

/* Send j's JSON (200), or its refusal; gives back m's charges but the
 * answer's, which go with the response. */
static enum MHD_Result jout_send(struct httpd *h, struct MHD_Connection *c, int path, struct jout *j)
{
	struct MHD_Response *r;
	struct held *hd;
	enum MHD_Result ret;
	if (j->failed) {
		enum MHD_Result e;
		pw_buf_free(&j->b);
		query_mem_release(j->m, j->m->used);
		e = send_error(h, c, path, j->err.type, j->err.msg ? j->err.msg : "failed");
		query_error_clear(&j->err);
		return e;
	}
	hd = xcalloc(1, sizeof *hd);
	hd->m.shared = j->m->shared;
	hd->m.used = j->b.cap;
	/* the rest of the account: parse, evaluation, read buffers */
	j->m->used -= j->b.cap;
	query_mem_release(j->m, j->m->used);
	j->m->used = 0;
	hd->data = j->b.data ? j->b.data : xstrdup("");
	r = MHD_create_response_from_buffer_with_free_callback_cls(j->b.len, hd->data, held_free, hd);
	j->b.data = NULL;
	j->b.len = j->b.cap = 0;
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	count(h, path, 200);
	return ret;
}

/* ---- query, query_range ---------------------------------------------------------------- */


static enum MHD_Result query_error_answer(struct httpd *h, struct MHD_Connection *c, int path,
					  struct query_mem *m, struct query_error *err)
{
	enum MHD_Result ret = send_error(h, c, path, err->type, err->msg ? err->msg : "failed");
	query_error_clear(err);
	query_mem_release(m, m->used);
	return ret;
}

/* One query, from its parameters to its JSON, within its limits: the
 * deadline (query.timeout or the smaller timeout parameter) counts from
 * here and covers the wait for a place among the queries that run at once,
 * parsing, evaluation and encoding; one account of query.max_bytes, in the
 * budget of query.max_bytes_total, holds the parse, the evaluation and the
 * answer until it is sent. */
static enum MHD_Result run_query(struct httpd *h, struct MHD_Connection *c, int path,
				 const struct params *p, bool range)
{
	int64_t t0 = pw_mono_ns();
	struct api_query_args a;
	struct query_opts o = {0};
	struct query_result *r = NULL;
	struct query_error err = {0};
	struct query_expr *x = NULL;
	struct query_mem m = {.limit = h->conf->query.max_bytes};
	struct jout j = {.m = &m};
	char *msg;
	int rc;

	if (api_query_args(p, h->conf, range, pw_now_ms(), &a, &msg) != 0) {
		enum MHD_Result ret = send_error(h, c, path, QUERY_ERR_BAD_DATA, msg);
		free(msg);
		return ret;
	}
	m.shared = budget_of(h->conf);
	o.lookback_ms = a.lookback_ms;
	o.max_samples = (uint64_t)h->conf->query.max_samples;
	o.threads = (unsigned)h->conf->query.threads;
	o.timeout_ms = a.timeout_ms > 0 ? a.timeout_ms : 120000;
	o.deadline_ns = o.timeout_ms < (INT64_MAX - t0) / 1000000 ? t0 + o.timeout_ms * 1000000
								  : INT64_MAX;
	o.mem = &m;
	if (query_budget_enter(m.shared, o.deadline_ns, &err) != 0)
		return query_error_answer(h, c, path, &m, &err);
	if (query_parse_opts(a.q, &o, &x, &err) != 0) {
		query_budget_leave(m.shared);
		/* Prometheus names the parameter of an instant query's parse
		 * error (invalidParamError), not a range query's */
		if (!range && err.type == QUERY_ERR_BAD_DATA && err.msg) {
			char *w = xasprintf("invalid parameter \"query\": %s", err.msg);
			free(err.msg);
			err.msg = w;
		}
		return query_error_answer(h, c, path, &m, &err);
	}
	rc = range ? query_exec_range(h->store, &o, x, a.start, a.end, a.step, &r, &err)
		   : query_exec_instant(h->store, &o, x, a.t, &r, &err);
	query_expr_free(x);
	if (rc != 0) {
		query_budget_leave(m.shared);
		return query_error_answer(h, c, path, &m, &err);
	}
	j.deadline_ns = o.deadline_ns;
	pw_buf_init(&j.b, 0);
	jout_puts(&j, "{\"status\":\"success\",\"data\":");
	api_write_result(&j, r);
	jout_puts(&j, "}");
	jout_late_now(&j, true);
	query_result_free(r);
	query_budget_leave(m.shared);
	return jout_send(h, c, path, &j);
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

/* match[], start, end; on error an answer was sent and *ret holds it */
static bool parse_sel(struct httpd *h, struct MHD_Connection *c, int path,
		      const struct params *p, struct api_sel *s, enum MHD_Result *ret)
{
	char *msg;
	if (api_sel_args(p, s, &msg) == 0)
		return true;
	*ret = send_error(h, c, path, QUERY_ERR_BAD_DATA, msg);
	free(msg);
	return false;
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

/* an account for a listing's answer: query.max_bytes, in the budget */
static void listing_account(struct httpd *h, struct query_mem *m, struct jout *j)
{
	m->limit = h->conf->query.max_bytes;
	m->shared = budget_of(h->conf);
	j->m = m;
	int64_t t0 = pw_mono_ns(), tmo = h->conf->query.timeout_ms > 0 ? h->conf->query.timeout_ms : 120000;
	j->deadline_ns = tmo < (INT64_MAX - t0) / 1000000 ? t0 + tmo * 1000000 : INT64_MAX;
	pw_buf_init(&j->b, 0);
	jout_puts(j, "{\"status\":\"success\",\"data\":");
}

static enum MHD_Result serve_series(struct httpd *h, struct MHD_Connection *c, int path,
				    const struct params *p, const char *name)
{
	struct api_sel s;
	enum MHD_Result ret;
	struct store_snap *snap;
	struct store_series *all = NULL;
	size_t nall = 0;
	struct query_mem m = {0};
	struct jout j = {0};
	int rc = 0;

	(void)name;
	if (!parse_sel(h, c, path, p, &s, &ret))
		return ret;
	if (s.n == 0)
		return send_error(h, c, path, QUERY_ERR_BAD_DATA, "no match[] parameter provided");
	if ((rc = store_snap_begin(h->store, &snap)) != 0) {
		api_sel_free(&s);
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
	listing_account(h, &m, &j);
	if (rc == 0) {
		size_t k = 0;
		qsort(all, nall, sizeof *all, id_cmp);
		for (size_t i = 0; i < nall; i++)
			if (k == 0 || all[k - 1].id != all[i].id)
				all[k++] = all[i];
		nall = k;
		qsort(all, nall, sizeof *all, store_series_cmp);
		jout_puts(&j, "[");
		for (size_t i = 0; i < nall && !jout_late(&j); i++) {
			struct pw_label l[128];
			size_t nl = store_series_labels(&all[i], l, 128);
			if (i)
				jout_puts(&j, ",");
			jout_labels(&j, l, nl < 128 ? nl : 128);
		}
		jout_puts(&j, "]}");
	}
	store_snap_end(snap);
	free(all);
	api_sel_free(&s);
	if (rc != 0) {
		pw_buf_free(&j.b);
		query_mem_release(&m, m.used);
		return send_error(h, c, path, QUERY_ERR_INTERNAL, pw_strerror(rc));
	}
	return jout_send(h, c, path, &j);
}

/* label names (name == NULL) or the values of one label */
static enum MHD_Result serve_labels(struct httpd *h, struct MHD_Connection *c, int path,
				    const struct params *p, const char *name)
{
	struct api_sel s;
	enum MHD_Result ret;
	struct store_snap *snap;
	const char **all = NULL;
	size_t nall = 0;
	struct query_mem m = {0};
	struct jout j = {0};
	int rc = 0;

	if (name && !pw_valid_label_name(name, strlen(name))) {
		char msg[300];
		snprintf(msg, sizeof msg, "invalid label name: \"%.200s\"", name);
		return send_error(h, c, path, QUERY_ERR_BAD_DATA, msg);
	}
	if (!parse_sel(h, c, path, p, &s, &ret))
		return ret;
	if ((rc = store_snap_begin(h->store, &snap)) != 0) {
		api_sel_free(&s);
		return send_error(h, c, path, QUERY_ERR_INTERNAL, pw_strerror(rc));
	}
	for (size_t i = 0; i < (s.n ? s.n : 1) && rc == 0; i++) {
		const char **got = NULL;
		size_t n = 0;
		struct store_matcher *mt = s.n ? s.m[i] : NULL;
		size_t nm = s.n ? s.nm[i] : 0;
		rc = name ? store_label_values(snap, name, mt, nm, s.mint, s.maxt, &got, &n)
			  : store_label_names(snap, mt, nm, s.mint, s.maxt, &got, &n);
		if (rc != 0)
			break;
		all = xreallocarray(all, nall + n + 1, sizeof *all);
		if (n) /* got may be NULL then */
			memcpy(all + nall, got, n * sizeof *got);
		nall += n;
		free(got);
	}
	listing_account(h, &m, &j);
	if (rc == 0) {
		size_t k = 0;
		qsort(all, nall, sizeof *all, strp_cmp);
		jout_puts(&j, "[");
		for (size_t i = 0; i < nall && !jout_late(&j); i++) {
			if (k && strcmp(all[i], all[k - 1]) == 0)
				continue;
			all[k++] = all[i];
			if (k > 1)
				jout_puts(&j, ",");
			jout_string(&j, all[i]);
		}
		jout_puts(&j, "]}");
	}
	store_snap_end(snap);
	free(all);
	api_sel_free(&s);
	if (rc != 0) {
		pw_buf_free(&j.b);
		query_mem_release(&m, m.used);
		return send_error(h, c, path, QUERY_ERR_INTERNAL, pw_strerror(rc));
	}
	return jout_send(h, c, path, &j);
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
	char *msg;
	int rc;
	(void)name;
	if (api_limit_arg(p, "limit", &mc.limit, &msg) != 0) {
		enum MHD_Result ret = send_error(h, c, path, QUERY_ERR_BAD_DATA, msg);
		free(msg);
		return ret;
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
		params_parse_form(&p, rq->body.data, rq->body.len);
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
