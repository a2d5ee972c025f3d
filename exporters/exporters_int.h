/*
 * exporters_int.h — what the files of exporters/ share.
 */
#ifndef PW_EXPORTERS_INT_H
#define PW_EXPORTERS_INT_H

#include <microhttpd.h>
#include <pthread.h>

#include "common.h"
#include "exporters.h"

#define MAX_DAEMONS 16
/* The request counters' paths (the path label of
 * pacewatch_http_requests_total: path_names in httpd.c). */
enum {
	PATH_METRICS,
	PATH_IMPORT,
	PATH_HEALTHY,
	PATH_READY,
	PATH_RELOAD,
	PATH_OTHER, /* no route */
	PATH_QUERY,
	PATH_QUERY_RANGE,
	PATH_API_OTHER, /* the rest of /api/v1/ */
	PATH_PAGES,     /* the pages for people (pages/) */
	NPATHS
};

struct httpd {
	struct MHD_Daemon *d[MAX_DAEMONS];
	size_t nd;
	const struct conf *conf;
	struct store *store;
	struct collector *col;
	struct pw_slot *views;
	struct notify *notify;
	struct httpd_metrics metrics[HTTPD_METRICS_MAX];
	/* col, notify and metrics: keeps them alive across a reload while they
	 * are used; for the notifier, only while its status is taken
	 * (notify_status_take), which opens no store snapshot */
	pthread_mutex_t lock;
	/* the counters only, and a leaf: nothing is locked while it is held.
	 * count() runs with a store snapshot open (/metrics streams from one),
	 * so count() taking lock could make a lock-order cycle with the
	 * store's resize lock. */
	pthread_mutex_t counts_lock;
	httpd_reload_fn reload;
	void *reload_ctx;
	bool loopback_only;
	uint64_t max_body;
	/* every open connection, for the watchdog that holds each request to
	 * http.header_timeout and http.request_timeout (httpd.c) */
	pthread_mutex_t conns_lock;
	pthread_cond_t wd_cond;
	struct conn *conns;
	pthread_t wd;
	bool wd_started, wd_stop;
	struct {
		int path, code;
		uint64_t n;
	} counts[64];
	size_t ncounts;
};

/* One request, from its headers to its answer. */
struct req {
	struct pw_buf body;
	bool too_big; /* the body went past http.max_request_size */
	bool post;
};

/* A route's handler (the route tables: httpd.c, api.c): the method and the
 * authentication were checked; it answers, counting under path (PATH_*). */
typedef enum MHD_Result (*route_fn)(struct httpd *h, struct MHD_Connection *c, int path,
				    const char *url, struct req *rq);

enum MHD_Result send_text(struct httpd *h, struct MHD_Connection *c, int path, unsigned code,
			  const char *ctype, const char *text);
void count(struct httpd *h, int path, unsigned code);

/* api.c: the handler of everything under /api/v1/: the Prometheus HTTP
 * API (query, query_range, series, labels, label values, metadata,
 * exemplars, buildinfo, targets, rules, alerts) and pacewatch's own
 * (kpis, notifications). */
enum MHD_Result api_handle(struct httpd *h, struct MHD_Connection *c, int path, const char *url,
			   struct req *rq);

/* ledgers.c: POST /api/v1/ledgers/NAME, a ledger file into the store. */
enum MHD_Result serve_ledger(struct httpd *h, struct MHD_Connection *c, int path, const char *url,
			     struct req *rq);

/* metrics.c: a streamed exposition over one snapshot (which it ends). */
struct expo;
struct expo *expo_new(struct store_snap *snap, bool openmetrics, bool timestamps, char *prefix);
/* Append exposition text to out until it holds about `want` bytes; false
 * once everything (and OpenMetrics' # EOF) was written. */
bool expo_fill(struct expo *e, struct pw_buf *out, size_t want);
void expo_free(struct expo *e);
void expo_escape(struct pw_buf *b, const char *s, bool quote);
void expo_sample(struct pw_buf *b, const struct pw_label *ls, size_t nl, double v, bool with_ts,
		 int64_t ts, bool openmetrics);

#endif
