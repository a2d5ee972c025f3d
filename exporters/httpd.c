/*
 * httpd.c — the HTTP server: one libmicrohttpd daemon per listen address
 * (thread per connection, a connection limit overall and per client
 * address, an idle timeout, header and request deadlines a trickle cannot
 * extend, optional TLS 1.2+ with modern ciphers), health listeners that
 * serve only /metrics and health checks from connections of their own,
 * the route table, authentication (read and write/admin
 * separately; write endpoints refuse to run unauthenticated beyond
 * loopback), request-body limits, request counters, and the small
 * endpoints: health, readiness, reload and import.
 */
#include "exporters_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zlib.h>

#include "pages.h"

static const char *const path_names[NPATHS] = {
	[PATH_METRICS] = "/metrics",
	[PATH_IMPORT] = "/api/v1/import/prometheus",
	[PATH_HEALTHY] = "/-/healthy",
	[PATH_READY] = "/-/ready",
	[PATH_RELOAD] = "/-/reload",
	[PATH_OTHER] = "other",
	[PATH_QUERY] = "/api/v1/query",
	[PATH_QUERY_RANGE] = "/api/v1/query_range",
	[PATH_API_OTHER] = "/api/v1/other",
	[PATH_PAGES] = "pages",
};

void httpd_set_notify(struct httpd *h, struct notify *n)
{
	pthread_mutex_lock(&h->lock);
	h->notify = n;
	pthread_mutex_unlock(&h->lock);
}

void httpd_set_metrics(struct httpd *h, size_t slot, httpd_metrics_fn fn, void *ctx)
{
	if (slot >= HTTPD_METRICS_MAX)
		return;
	pthread_mutex_lock(&h->lock);
	h->metrics[slot].fn = fn;
	h->metrics[slot].ctx = ctx;
	pthread_mutex_unlock(&h->lock);
}

void httpd_set_collector(struct httpd *h, struct collector *col)
{
	pthread_mutex_lock(&h->lock);
	h->col = col;
	pthread_mutex_unlock(&h->lock);
}

void count(struct httpd *h, int path, unsigned code)
{
	pthread_mutex_lock(&h->counts_lock);
	for (size_t i = 0; i < h->ncounts; i++) {
		if (h->counts[i].path == path && h->counts[i].code == (int)code) {
			h->counts[i].n++;
			pthread_mutex_unlock(&h->counts_lock);
			return;
		}
	}
	if (h->ncounts < 64) {
		h->counts[h->ncounts].path = path;
		h->counts[h->ncounts].code = (int)code;
		h->counts[h->ncounts++].n = 1;
	}
	pthread_mutex_unlock(&h->counts_lock);
}

enum MHD_Result send_text(struct httpd *h, struct MHD_Connection *c, int path, unsigned code,
				 const char *ctype, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	MHD_add_response_header(r, "Content-Type", ctype);
	if (code == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Basic realm=\"pacewatch\"");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	count(h, path, code);
	return ret;
}

/* ---- authentication -------------------------------------------------------- */

/* Is the credential a client gave the configured one? Every byte of the
 * secret is looked at whatever the client sent, so the time taken says
 * nothing about how much of it was right (only the secret's length shows). */
static bool same(const char *given, const char *secret)
{
	size_t lg = strlen(given), ls = strlen(secret);
	volatile unsigned char d = (unsigned char)(lg != ls);
	for (size_t i = 0; i < ls; i++)
		d |= (unsigned char)(secret[i] ^ (i < lg ? given[i] : 0));
	return d == 0 && ls > 0;
}

static bool auth_set(const struct conf_auth *a) { return a->bearer_token || a->username; }

static bool auth_ok(struct MHD_Connection *c, const struct conf_auth *a)
{
	const char *hdr;
	if (!auth_set(a))
		return true;
	hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (a->bearer_token && hdr && strncmp(hdr, "Bearer ", 7) == 0 &&
	    same(hdr + 7, a->bearer_token))
		return true;
	if (a->username) {
		char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass);
		bool ok = user && pass && same(user, a->username) && same(pass, a->password);
		MHD_free(user);
		MHD_free(pass);
		if (ok)
			return true;
	}
	return false;
}

/* ---- connection deadlines --------------------------------------------------- */

/* libmicrohttpd's connection timeout counts from the last byte, so a client
 * that sends a header line every few seconds keeps its connection (and its
 * thread) forever. Every connection is tracked from its start; a watchdog
 * shuts down the socket of one whose headers (http.header_timeout) or
 * whole request (http.request_timeout) are late, however much trickled in:
 * libmicrohttpd then reads end-of-file and closes it. Between requests of
 * a kept-alive connection the idle timeout (http.connection_timeout)
 * governs. */
enum { PHASE_IDLE, PHASE_HEADERS, PHASE_BODY, PHASE_ANSWER };

struct conn {
	struct conn *prev, *next;
	int fd;
	int phase;
	int64_t since_ms; /* the start of the request, or of idleness */
};

static void conn_phase(struct httpd *h, struct MHD_Connection *c, int phase)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *k = ci ? ci->socket_context : NULL;
	if (!k)
		return;
	pthread_mutex_lock(&h->conns_lock);
	if (k->phase != phase) {
		/* a request's deadlines count from its start (the connection's,
		 * for the first; its headers', after idling) */
		if (phase == PHASE_IDLE || k->phase == PHASE_IDLE)
			k->since_ms = pw_mono_ns() / 1000000;
		k->phase = phase;
	}
	pthread_mutex_unlock(&h->conns_lock);
}

static void notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
			enum MHD_ConnectionNotificationCode toe)
{
	struct httpd *h = cls;
	struct conn *k;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		k = xcalloc(1, sizeof *k);
		k->fd = ci ? ci->connect_fd : -1;
		k->phase = PHASE_HEADERS;
		k->since_ms = pw_mono_ns() / 1000000;
		pthread_mutex_lock(&h->conns_lock);
		k->next = h->conns;
		if (h->conns)
			h->conns->prev = k;
		h->conns = k;
		pthread_mutex_unlock(&h->conns_lock);
		*socket_context = k;
	} else if ((k = *socket_context) != NULL) {
		/* called before the socket is closed: under the lock, the
		 * watchdog never shuts down a descriptor reused since */
		pthread_mutex_lock(&h->conns_lock);
		if (k->prev)
			k->prev->next = k->next;
		else
			h->conns = k->next;
		if (k->next)
			k->next->prev = k->prev;
		pthread_mutex_unlock(&h->conns_lock);
		free(k);
		*socket_context = NULL;
	}
}

static void *watchdog(void *arg)
{
	struct httpd *h = arg;
	const struct conf *cf = h->conf;
	int64_t idle = cf->http.connection_timeout_ms;

	pthread_mutex_lock(&h->conns_lock);
	while (!h->wd_stop) {
		struct timespec ts;
		int64_t now = pw_mono_ns() / 1000000;
		for (struct conn *k = h->conns; k; k = k->next) {
			int64_t age = now - k->since_ms;
			bool late = (k->phase == PHASE_HEADERS && age > cf->http.header_timeout_ms) ||
				    ((k->phase == PHASE_HEADERS || k->phase == PHASE_BODY) &&
				     age > cf->http.request_timeout_ms) ||
				    (k->phase == PHASE_IDLE && age > idle + cf->http.header_timeout_ms);
			if (late && k->fd >= 0) {
				log_debug("http", "closing a connection: its %s did not arrive in time",
					  k->phase == PHASE_BODY ? "request" : "headers");
				shutdown(k->fd, SHUT_RDWR);
				k->fd = -1; /* once */
			}
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->wd_cond, &h->conns_lock, &ts);
	}
	pthread_mutex_unlock(&h->conns_lock);
	return NULL;
}

/* ---- content negotiation ---------------------------------------------------- */

/* q of the best Accept entry starting with type (0 when absent). */
static double accept_q(const char *accept, const char *type)
{
	double best = 0;
	const char *p = accept;
	while (p && *p) {
		const char *end = strchr(p, ','), *q;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (*p == ' ')
			p++, len--;
		if (strncmp(p, type, strlen(type)) == 0) {
			double qv = 1;
			for (q = p; q < p + len; q++)
				if (strncmp(q, "q=", 2) == 0)
					qv = strtod(q + 2, NULL);
			if (qv > best)
				best = qv;
		}
		p = end ? end + 1 : NULL;
	}
	return best;
}

/* ---- /metrics ------------------------------------------------------------------ */

struct mstream {
	struct expo *e;
	struct pw_buf plain, out;
	size_t out_pos;
	bool gzip, more, finished;
	z_stream z;
};

static ssize_t metrics_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct mstream *m = cls;
	(void)pos;
	while (m->out.len - m->out_pos == 0) {
		if (m->finished)
			return MHD_CONTENT_READER_END_OF_STREAM;
		pw_buf_reset(&m->plain);
		m->more = expo_fill(m->e, &m->plain, 64 * 1024);
		pw_buf_reset(&m->out);
		m->out_pos = 0;
		if (!m->gzip) {
			pw_buf_append(&m->out, m->plain.data ? m->plain.data : "", m->plain.len);
		} else {
			unsigned char zbuf[32768];
			m->z.next_in = (unsigned char *)(m->plain.data ? m->plain.data : "");
			m->z.avail_in = (uInt)m->plain.len;
			do {
				m->z.next_out = zbuf;
				m->z.avail_out = sizeof zbuf;
				deflate(&m->z, m->more ? Z_NO_FLUSH : Z_FINISH);
				pw_buf_append(&m->out, zbuf, sizeof zbuf - m->z.avail_out);
			} while (m->z.avail_out == 0 || (m->z.avail_in > 0));
		}
		if (!m->more)
			m->finished = true;
	}
	{
		size_t n = m->out.len - m->out_pos;
		if (n > max)
			n = max;
		memcpy(buf, m->out.data + m->out_pos, n);
		m->out_pos += n;
		return (ssize_t)n;
	}
}

static void metrics_free(void *cls)
{
	struct mstream *m = cls;
	expo_free(m->e);
	pw_buf_free(&m->plain);
	pw_buf_free(&m->out);
	if (m->gzip)
		deflateEnd(&m->z);
	free(m);
}

static void line(struct pw_buf *b, bool om, const char *name, const char *type, const char *help)
{
	pw_buf_metric_header(b, name, type, help, om);
}

/* Import requests refused by a limit (docs/http.md). */
static void import_metrics(struct pw_buf *b, bool om)
{
	struct collector_import_stats st;
	collector_import_stats(&st);
	line(b, om, "pacewatch_import_requests_exceeded_series_limit_total", "counter",
	     "Import requests refused by http.import_series_limit.");
	pw_buf_printf(b, "pacewatch_import_requests_exceeded_series_limit_total %llu\n",
		      (unsigned long long)st.series_limit);
	line(b, om, "pacewatch_import_requests_exceeded_label_limits_total", "counter",
	     "Import requests refused by a label limit.");
	pw_buf_printf(b, "pacewatch_import_requests_exceeded_label_limits_total %llu\n",
		      (unsigned long long)st.label_limits);
	line(b, om, "pacewatch_import_requests_exceeded_size_limit_total", "counter",
	     "Import requests whose decompressed body was larger than http.max_request_size.");
	pw_buf_printf(b, "pacewatch_import_requests_exceeded_size_limit_total %llu\n",
		      (unsigned long long)st.size_limit);
}

/* pacewatch's own metrics, under pacewatch_. */
static char *self_metrics(struct httpd *h, bool om)
{
	struct pw_buf b;
	struct store_stats st;
	struct notify_status *ns;
	struct pw_label l[3];

	pw_buf_init(&b, 0);
	line(&b, om, "pacewatch_build_info", "gauge", "pacewatch's version.");
	pw_buf_printf(&b, "pacewatch_build_info{version=\"%s\"} 1\n", PW_VERSION);
	if (store_stats(h->store, &st) == 0) {
		line(&b, om, "pacewatch_store_series", "gauge", "Series in the store.");
		pw_buf_printf(&b, "pacewatch_store_series %llu\n", (unsigned long long)st.series);
		line(&b, om, "pacewatch_store_samples", "gauge", "Samples in the store.");
		pw_buf_printf(&b, "pacewatch_store_samples %llu\n", (unsigned long long)st.samples);
		line(&b, om, "pacewatch_store_size_bytes", "gauge", "Size of the store's data file.");
		pw_buf_printf(&b, "pacewatch_store_size_bytes %llu\n", (unsigned long long)st.bytes_file);
	}
	line(&b, om, "pacewatch_http_requests_total", "counter", "HTTP requests by path and code.");
	pthread_mutex_lock(&h->counts_lock);
	for (size_t i = 0; i < h->ncounts; i++)
		pw_buf_printf(&b, "pacewatch_http_requests_total{code=\"%d\",path=\"%s\"} %llu\n",
			      h->counts[i].code, path_names[h->counts[i].path],
			      (unsigned long long)h->counts[i].n);
	pthread_mutex_unlock(&h->counts_lock);
	pthread_mutex_lock(&h->lock);
	ns = notify_status_take(h->notify);
	pthread_mutex_unlock(&h->lock);
	notify_status_metrics(ns, &b, om);
	notify_status_free(ns);
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < HTTPD_METRICS_MAX; i++)
		if (h->metrics[i].fn)
			h->metrics[i].fn(h->metrics[i].ctx, &b, om);
	if (h->col) {
		static const struct {
			const char *name, *type, *help;
		} fams[] = {
			{"pacewatch_target_up", "gauge", "1 when the target's last scrape succeeded."},
			{"pacewatch_target_last_scrape_timestamp_seconds", "gauge",
			 "When the target last answered or failed (freshness)."},
			{"pacewatch_target_scrapes_total", "counter", "Scrapes of the target."},
			{"pacewatch_target_scrape_failures_total", "counter", "Failed scrapes of the target."},
			{"pacewatch_samples_appended_total", "counter", "Samples stored from the target."},
			{"pacewatch_scrape_duration_seconds", "histogram", "How long scrapes took."},
			/* docs/collector.md */
			{"pacewatch_target_scrapes_exceeded_sample_limit_total", "counter",
			 "Scrapes refused by sample_limit."},
			{"pacewatch_target_scrapes_exceeded_label_limits_total", "counter",
			 "Scrapes refused by a label limit."},
			{"pacewatch_target_scrapes_exceeded_new_series_limit_total", "counter",
			 "Scrapes refused by global.new_series_limit."},
			{"pacewatch_target_pagination_links_refused_total", "counter",
			 "Scrapes failed on a refused pagination link."},
		};
		/* one copy of every target's status, then a family at a time */
		struct collector_target_status *all = NULL;
		size_t n = 0;
		for (;; n++) {
			all = xreallocarray(all, n + 1, sizeof *all);
			if (!collector_target(h->col, n, &all[n]))
				break;
		}
		pthread_mutex_unlock(&h->lock);
		for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
			line(&b, om, fams[f].name, fams[f].type, fams[f].help);
			for (size_t i = 0; i < n; i++) {
				const struct collector_target_status *ts = &all[i];
				l[0].name = "__name__";
				l[0].value = fams[f].name;
				l[1].name = "job";
				l[1].value = ts->name;
				switch (f) {
				case 0:
					if (ts->health >= 0)
						expo_sample(&b, l, 2, ts->health, false, 0, om);
					break;
				case 1:
					if (ts->health >= 0)
						expo_sample(&b, l, 2, (double)ts->last_scrape_ms / 1000.0, false, 0,
							    om);
					break;
				case 2:
				case 3:
				case 4:
					expo_sample(&b, l, 2,
						    (double)(f == 2 ? ts->scrapes_total
							     : f == 3 ? ts->failures_total : ts->samples_total),
						    false, 0, om);
					break;
				case 6:
				case 7:
				case 8:
				case 9:
					expo_sample(&b, l, 2,
						    (double)(f == 6 ? ts->exceeded_sample_limit
							     : f == 7 ? ts->exceeded_label_limits
							     : f == 8 ? ts->exceeded_new_series_limit
								      : ts->links_refused),
						    false, 0, om);
					break;
				default: {
					char le[32];
					l[0].value = "pacewatch_scrape_duration_seconds_bucket";
					l[2].name = "le";
					for (int k = 0; k < COLLECTOR_DURATION_BUCKETS; k++) {
						pw_fmt_float(le, sizeof le, collector_duration_bounds[k], PW_FMT_PROM);
						l[2].value = le;
						expo_sample(&b, l, 3, (double)ts->duration_buckets[k], false, 0, om);
					}
					l[0].value = "pacewatch_scrape_duration_seconds_sum";
					expo_sample(&b, l, 2, ts->duration_sum, false, 0, om);
					l[0].value = "pacewatch_scrape_duration_seconds_count";
					expo_sample(&b, l, 2, (double)ts->scrapes_total, false, 0, om);
				}
				}
			}
		}
		free(all);
		import_metrics(&b, om);
		return pw_buf_take(&b);
	}
	pthread_mutex_unlock(&h->lock);
	import_metrics(&b, om);
	return pw_buf_take(&b);
}

static enum MHD_Result serve_metrics(struct httpd *h, struct MHD_Connection *c, int path,
				     const char *url, struct req *rq)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
	bool om = h->conf->http.openmetrics && accept &&
		  accept_q(accept, "application/openmetrics-text") > 0 &&
		  accept_q(accept, "application/openmetrics-text") >=
			  accept_q(accept, "text/plain");
	bool gz = enc && accept_q(enc, "gzip") > 0;
	struct store_snap *snap;
	struct mstream *m;
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)url;
	(void)rq;
	if (enc && strstr(enc, "gzip") && !strstr(enc, "gzip;q=0") && accept_q(enc, "gzip") == 0)
		gz = true; /* "gzip" without q */
	char *self = self_metrics(h, om); /* before the snapshot: it reads stats */

	if (store_snap_begin(h->store, &snap) != 0) {
		free(self);
		return send_text(h, c, path, 503, "text/plain", "store unavailable\n");
	}
	m = xcalloc(1, sizeof *m);
	pw_buf_init(&m->plain, 0);
	pw_buf_init(&m->out, 0);
	m->gzip = gz;
	if (gz && deflateInit2(&m->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		m->gzip = false;
	m->e = expo_new(snap, om, h->conf->http.metrics_timestamps, self);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, metrics_cb, m,
					      metrics_free);
	MHD_add_response_header(r, "Content-Type",
				om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
				   : "text/plain; version=0.0.4; charset=utf-8");
	if (m->gzip)
		MHD_add_response_header(r, "Content-Encoding", "gzip");
	MHD_add_response_header(r, "Vary", "Accept, Accept-Encoding");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	count(h, path, 200);
	return ret;
}

/* ---- /api/v1/import/prometheus ----------------------------------------------- */

struct extra {
	struct pw_label v[32];
	char *mem[32];
	size_t n;
	bool bad;
};

static enum MHD_Result extra_label(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct extra *x = cls;
	const char *eq;
	(void)kind;
	if (strcmp(key, "extra_label") != 0 || !value)
		return MHD_YES;
	eq = strchr(value, '=');
	if (!eq || eq == value || x->n == 32) {
		x->bad = true;
		return MHD_YES;
	}
	x->mem[x->n] = xstrdup(value);
	x->mem[x->n][eq - value] = '\0';
	x->v[x->n].name = x->mem[x->n];
	x->v[x->n].value = x->mem[x->n] + (eq - value) + 1;
	x->n++;
	return MHD_YES;
}

static enum MHD_Result serve_import(struct httpd *h, struct MHD_Connection *c, int path,
				    const char *url, struct req *rq)
{
	struct extra x = {0};
	char msg[512], *answer = NULL;
	unsigned code;
	enum MHD_Result ret;

	(void)url;
	if (rq->too_big) {
		snprintf(msg, sizeof msg, "request body larger than http.max_request_size (%llu bytes)\n",
			 (unsigned long long)h->max_body);
		return send_text(h, c, path, 413, "text/plain", msg);
	}
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, extra_label, &x);
	if (x.bad) {
		ret = send_text(h, c, path, 400, "text/plain", "extra_label wants name=value\n");
		goto out;
	}
	{
		/* decoding, limits and the answer's words: collector/import.c */
		const struct conf *cf = h->conf;
		struct collector_import_req r = {
			cf->storage.path,
			MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding"),
			h->max_body,
			{pw_now_ms(), x.v, x.n, cf->http.import_series_limit, cf->global.label_limit,
			 cf->global.label_name_length_limit, cf->global.label_value_length_limit}};
		code = collector_import_request(h->store, &r, rq->body.data ? rq->body.data : "",
						rq->body.len, &answer);
		ret = send_text(h, c, path, code, "text/plain", answer ? answer : "");
		free(answer);
	}
out:
	for (size_t i = 0; i < x.n; i++)
		free(x.mem[i]);
	return ret;
}

/* ---- health, readiness, reload ------------------------------------------------ */

static enum MHD_Result serve_healthy(struct httpd *h, struct MHD_Connection *c, int path,
				     const char *url, struct req *rq)
{
	(void)url;
	(void)rq;
	return send_text(h, c, path, 200, "text/plain", "pacewatch is Healthy.\n");
}

static enum MHD_Result serve_ready(struct httpd *h, struct MHD_Connection *c, int path,
				   const char *url, struct req *rq)
{
	bool ready;
	(void)url;
	(void)rq;
	pthread_mutex_lock(&h->lock);
	ready = h->col == NULL || collector_first_round_done(h->col);
	pthread_mutex_unlock(&h->lock);
	return ready ? send_text(h, c, path, 200, "text/plain", "pacewatch is Ready.\n")
		     : send_text(h, c, path, 503, "text/plain",
				 "pacewatch is not ready: the first round of scrapes is not done.\n");
}

static enum MHD_Result serve_reload(struct httpd *h, struct MHD_Connection *c, int path,
				    const char *url, struct req *rq)
{
	char *cause = NULL;
	int rc = h->reload ? h->reload(h->reload_ctx, &cause) : PW_EINVAL;
	enum MHD_Result ret;
	(void)url;
	(void)rq;
	if (rc == 0)
		ret = send_text(h, c, path, 200, "text/plain", "reloaded\n");
	else
		ret = send_text(h, c, path, 500, "text/plain", cause ? cause : "reload failed\n");
	free(cause);
	return ret;
}

/* ---- the pages for people (pages/, docs/pages.md) ------------------------------ */

#define PAGES_MAX_TARGETS 1024

/* The collector's and the notifier's status are copied under the lock
 * (which keeps them alive across a reload), the page is drawn with none. */
static enum MHD_Result serve_page(struct httpd *h, struct MHD_Connection *c, int path,
				  const char *url, struct req *rq)
{
	/* only /targets shows the targets */
	bool targets = strcmp(url, "/targets") == 0;
	struct collector_target_status *ts = targets ? xcalloc(PAGES_MAX_TARGETS, sizeof *ts) : NULL;
	struct pages_src src = {.store = h->store, .targets = ts, .now_ms = pw_now_ms()};
	struct notify_status *ns;
	struct view *v = view_get(h->views);
	struct pw_buf b;
	struct MHD_Response *r;
	const char *ctype;
	unsigned code;
	enum MHD_Result ret;
	(void)rq;
	pthread_mutex_lock(&h->lock);
	while (targets && h->col && src.ntargets < PAGES_MAX_TARGETS &&
	       collector_target(h->col, src.ntargets, &ts[src.ntargets]))
		src.ntargets++;
	ns = notify_status_take(h->notify);
	pthread_mutex_unlock(&h->lock);
	src.v = v;
	src.notify = ns;
	pw_buf_init(&b, 0);
	code = pages_render(&src, url, &b, &ctype);
	notify_status_free(ns);
	view_unref(v);
	free(ts);
	r = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
	b.data = NULL;
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'none'; style-src 'unsafe-inline'; "
				"script-src 'unsafe-inline'; img-src 'self'; form-action 'none'; "
				"frame-ancestors 'none'");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	count(h, path, code);
	return ret;
}

/* ---- routing --------------------------------------------------------------------- */

/* the credentials a route asks for: none, http.read_auth or
 * http.write_auth (without write_auth, 403 beyond loopback) */
enum route_auth { AUTH_NONE, AUTH_READ, AUTH_WRITE };

struct route {
	const char *url;         /* the path; a trailing * matches any rest, even none */
	const char *methods;     /* "GET", "POST" or "GET POST" (GET takes HEAD too); NULL: any */
	enum route_auth auth;
	int path;                /* PATH_*: the counter of its requests */
	route_fn serve;
	const char *not_allowed; /* the 405 body for another method */
};

/* Every endpoint: the first row that matches serves the request, anything
 * else is 404 (counted as "other"). The dispatcher (handle) checks the
 * method (405), then the credentials (403, 401), then calls the handler.
 * The endpoints under /api/v1/ are in api.c's table. */
static const struct route routes[] = {
	/* url                        methods     auth        counter         handler        405 body */
	{"/metrics",                  "GET",      AUTH_READ,  PATH_METRICS,   serve_metrics, "GET /metrics\n"},
	{"/-/healthy",                NULL,       AUTH_NONE,  PATH_HEALTHY,   serve_healthy, NULL},
	{"/-/ready",                  NULL,       AUTH_NONE,  PATH_READY,     serve_ready,   NULL},
	{"/-/reload",                 "POST",     AUTH_WRITE, PATH_RELOAD,    serve_reload,  "use POST\n"},
	{"/api/v1/import/prometheus", "POST",     AUTH_WRITE, PATH_IMPORT,    serve_import,  "use POST\n"},
	{"/api/v1/ledgers/*",         "POST",     AUTH_WRITE, PATH_API_OTHER, serve_ledger,  "use POST\n"},
	{"/api/v1/*",                 "GET POST", AUTH_READ,  PATH_API_OTHER, api_handle,    "use GET or POST\n"},
	{"/",                         "GET",      AUTH_READ,  PATH_PAGES,     serve_page,    "use GET\n"},
	{"/kpis/*",                   "GET",      AUTH_READ,  PATH_PAGES,     serve_page,    "use GET\n"},
	{"/alerts",                   "GET",      AUTH_READ,  PATH_PAGES,     serve_page,    "use GET\n"},
	{"/targets",                  "GET",      AUTH_READ,  PATH_PAGES,     serve_page,    "use GET\n"},
	{"/notifications",            "GET",      AUTH_READ,  PATH_PAGES,     serve_page,    "use GET\n"},
};

static const struct route *route_find(const char *url)
{
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const char *u = routes[i].url;
		size_t n = strlen(u);
		if (u[n - 1] == '*' ? strncmp(url, u, n - 1) == 0 : strcmp(url, u) == 0)
			return &routes[i];
	}
	return NULL;
}

/* Is method one of the words of methods (HEAD counting as GET)? */
static bool method_ok(const char *methods, const char *method)
{
	size_t n;
	if (!methods)
		return true;
	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	n = strlen(method);
	for (const char *p = methods; *p;) {
		size_t w = strcspn(p, " ");
		if (w == n && strncmp(p, method, n) == 0)
			return true;
		p += w;
		p += strspn(p, " ");
	}
	return false;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct httpd *h = cls;
	struct req *rq = *con_cls;
	const struct route *rt;
	const struct conf_auth *auth;
	(void)version;

	if (!rq) { /* first call: headers only */
		rq = xcalloc(1, sizeof *rq);
		pw_buf_init(&rq->body, h->max_body);
		rq->post = strcmp(method, "POST") == 0;
		*con_cls = rq;
		conn_phase(h, c, PHASE_BODY);
		return MHD_YES;
	}
	if (*upload_size) {
		if (pw_buf_append(&rq->body, upload, *upload_size) != 0)
			rq->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	conn_phase(h, c, PHASE_ANSWER);
	if (!(rt = route_find(url)))
		return send_text(h, c, PATH_OTHER, 404, "text/plain", "not found\n");
	if (!method_ok(rt->methods, method))
		return send_text(h, c, rt->path, 405, "text/plain", rt->not_allowed);
	auth = rt->auth == AUTH_WRITE ? &h->conf->http.write_auth : &h->conf->http.read_auth;
	if (rt->auth == AUTH_WRITE && !auth_set(auth) && !h->loopback_only)
		return send_text(h, c, rt->path, 403, "text/plain",
				 "write endpoints need http.write_auth when pacewatch listens "
				 "beyond loopback\n");
	if (rt->auth != AUTH_NONE && !auth_ok(c, auth))
		return send_text(h, c, rt->path, 401, "text/plain", "authentication required\n");
	return rt->serve(h, c, rt->path, url, rq);
}

/* A health listener's dispatcher: /metrics and the health checks only. */
static enum MHD_Result handle_health(void *cls, struct MHD_Connection *c, const char *url,
				     const char *method, const char *version, const char *upload,
				     size_t *upload_size, void **con_cls)
{
	if (strcmp(url, "/metrics") != 0 && strcmp(url, "/-/healthy") != 0 &&
	    strcmp(url, "/-/ready") != 0) {
		if (*con_cls) /* the whole request was read: answer it */
			return send_text(cls, c, PATH_OTHER, 404, "text/plain",
					 "this address serves only /metrics, /-/healthy and "
					 "/-/ready (http.health_listen)\n");
	}
	return handle(cls, c, url, method, version, upload, upload_size, con_cls);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;
	(void)toe;
	conn_phase(cls, c, PHASE_IDLE);
	if (rq) {
		pw_buf_free(&rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http", "%s", msg);
}

/* GnuTLS priority strings: TLS 1.2 (or 1.3) and newer, ephemeral key
 * exchange, AEAD ciphers only */
#define TLS_SUITES                                                                         \
	":-CIPHER-ALL:+CHACHA20-POLY1305:+AES-256-GCM:+AES-128-GCM:-MAC-ALL:+AEAD"        \
	":-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"
#define TLS12_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" TLS_SUITES
#define TLS13_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3" TLS_SUITES

int httpd_start(const struct httpd_deps *dp, struct httpd **out, char **cause)
{
	struct httpd *h = xcalloc(1, sizeof *h);
	const struct conf *conf = dp->conf;
	char *cert = NULL, *key = NULL;
	int rc = 0;

	*out = NULL;
	h->conf = conf;
	h->store = dp->store;
	h->col = dp->collector;
	h->views = dp->views;
	h->notify = dp->notify;
	memcpy(h->metrics, dp->metrics, sizeof h->metrics);
	h->reload = dp->reload;
	h->reload_ctx = dp->reload_ctx;
	h->max_body = conf->http.max_request_size;
	h->loopback_only = true;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->counts_lock, NULL);
	pthread_mutex_init(&h->conns_lock, NULL);
	pthread_cond_init(&h->wd_cond, NULL);
	if (conf->http.tls_cert_file) {
		char *why = NULL;
		/* what GnuTLS would refuse, said as such (not as "cannot listen") */
		if (conf_tls_check_files(conf->http.tls_cert_file, conf->http.tls_key_file,
					 pw_now_ms(), &why, NULL) != 0) {
			*cause = xasprintf("http TLS: %s", why);
			free(why);
			rc = PW_EINVAL;
			goto fail;
		}
		if ((rc = pw_read_file(conf->http.tls_cert_file, 1 << 20, &cert, NULL)) != 0 ||
		    (rc = pw_read_file(conf->http.tls_key_file, 1 << 20, &key, NULL)) != 0) {
			*cause = xasprintf("cannot read %s: %s",
					   cert ? conf->http.tls_key_file : conf->http.tls_cert_file,
					   pw_strerror(rc));
			goto fail;
		}
	}
	if (pthread_create(&h->wd, NULL, watchdog, h) != 0) {
		*cause = xstrdup("cannot start the HTTP watchdog thread");
		rc = PW_EINVAL;
		goto fail;
	}
	h->wd_started = true;
	for (size_t i = 0; i < conf->http.nlisten + conf->http.nhealth_listen; i++) {
		bool health = i >= conf->http.nlisten;
		const char *addr = health ? conf->http.health_listen[i - conf->http.nlisten]
					  : conf->http.listen[i];
		struct sockaddr_storage ss;
		char host[256];
		const char *colon = strrchr(addr, ':');
		int port = colon ? atoi(colon + 1) : 0;
		unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
				 MHD_USE_ERROR_LOG;
		size_t hl;

		memset(&ss, 0, sizeof ss);
		if (!colon) {
			*cause = xasprintf("http.listen \"%s\": expected host:port", addr);
			rc = PW_EINVAL;
			goto fail;
		}
		hl = (size_t)(colon - addr);
		if (addr[0] == '[' && hl >= 2) {
			snprintf(host, sizeof host, "%.*s", (int)(hl - 2), addr + 1);
		} else {
			snprintf(host, sizeof host, "%.*s", (int)hl, addr);
		}
		if (strcmp(host, "localhost") == 0)
			snprintf(host, sizeof host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
			struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
			sa->sin_family = AF_INET;
			sa->sin_port = htons((uint16_t)port);
			if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127 && !health)
				h->loopback_only = false;
		} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
			struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
			sa->sin6_family = AF_INET6;
			sa->sin6_port = htons((uint16_t)port);
			flags |= MHD_USE_IPv6;
			if (!IN6_IS_ADDR_LOOPBACK(&sa->sin6_addr) && !health)
				h->loopback_only = false;
		} else {
			*cause = xasprintf("http.listen \"%s\": not an IPv4 or IPv6 address", addr);
			rc = PW_EINVAL;
			goto fail;
		}
		if (h->nd == MAX_DAEMONS) {
			*cause = xasprintf("http: more than %d listen addresses", MAX_DAEMONS);
			rc = PW_EINVAL;
			goto fail;
		}
		if (cert)
			flags |= MHD_USE_TLS;
		/* a health listener's own pool: small, since a scraper and a
		 * few health checks need few connections */
		h->d[h->nd] = MHD_start_daemon(
			flags, (uint16_t)port, NULL, NULL, health ? handle_health : handle, h,
			MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_LIMIT,
			health ? 64u : (unsigned)conf->http.connection_limit,
			MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)conf->http.per_ip_connection_limit,
			MHD_OPTION_CONNECTION_TIMEOUT,
			(unsigned)((conf->http.connection_timeout_ms + 999) / 1000),
			MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_NOTIFY_CONNECTION,
			notify_conn, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
			cert ? MHD_OPTION_HTTPS_PRIORITIES : MHD_OPTION_END,
			conf->http.tls_min_version == CONF_TLS_1_3 ? TLS13_PRIORITIES : TLS12_PRIORITIES,
			MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
		if (!h->d[h->nd]) {
			*cause = xasprintf("cannot listen on %s (in use, or not an address of this host)",
					   addr);
			rc = -EADDRINUSE;
			goto fail;
		}
		log_info("http", "listening on %s%s%s", addr, cert ? " (TLS)" : "",
			 health ? " for /metrics and health checks" : "");
		h->nd++;
	}
	free(cert);
	free(key);
	*out = h;
	return 0;
fail:
	free(cert);
	free(key);
	httpd_stop(h);
	return rc;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nd; i++)
		MHD_stop_daemon(h->d[i]);
	if (h->wd_started) {
		pthread_mutex_lock(&h->conns_lock);
		h->wd_stop = true;
		pthread_cond_signal(&h->wd_cond);
		pthread_mutex_unlock(&h->conns_lock);
		pthread_join(h->wd, NULL);
	}
	pthread_mutex_destroy(&h->conns_lock);
	pthread_cond_destroy(&h->wd_cond);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->counts_lock);
	free(h);
}
