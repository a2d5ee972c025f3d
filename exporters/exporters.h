/*
 * exporters.h — pacewatch over HTTP (libmicrohttpd, its own threads):
 * /metrics (Prometheus text 0.0.4, OpenMetrics 1.0.0 when asked, gzip when
 * accepted), /api/v1/import/prometheus, /-/healthy, /-/ready, /-/reload.
 * Reads the store through snapshots only; never blocks the event loop.
 */
#ifndef PW_EXPORTERS_H
#define PW_EXPORTERS_H

#include <stdbool.h>

#include "collector.h"
#include "common.h"
#include "conf.h"
#include "notify.h"
#include "store.h"
#include "view.h"

struct httpd;

/* Called from an HTTP thread for POST /-/reload: reload the configuration
 * and return 0, or an error with *cause (new string). */
typedef int (*httpd_reload_fn)(void *ctx, char **cause);

/* Metrics another part of the daemon adds to /metrics, among pacewatch's
 * own (after the notifier's, before the targets'): append whole families
 * to b, OpenMetrics 1.0.0 when openmetrics, else text format 0.0.4 (see
 * pw_buf_metric_header). Called from HTTP threads with the server's lock
 * held: be quick, and call no httpd_* function. */
typedef void (*httpd_metrics_fn)(void *ctx, struct pw_buf *b, bool openmetrics);

struct httpd_metrics {
	httpd_metrics_fn fn; /* NULL: none */
	void *ctx;
};

#define HTTPD_METRICS_MAX 4

struct httpd_deps {
	const struct conf *conf; /* the HTTP settings are read at start only */
	struct store *store;
	struct collector *collector; /* may be NULL; see httpd_set_collector */
	struct pw_slot *views;       /* the decider's views (rules, alerts, KPIs); may be NULL */
	struct notify *notify;       /* may be NULL; see httpd_set_notify */
	/* shown in this order; see httpd_set_metrics */
	struct httpd_metrics metrics[HTTPD_METRICS_MAX];
	httpd_reload_fn reload;
	void *reload_ctx;
};

/* Listen on every http.listen address. Errors: -errno or PW_EINVAL with
 * *cause naming the address (caller frees). */
int httpd_start(const struct httpd_deps *d, struct httpd **out, char **cause);
/* The daemon's stop, before httpd_stop: every API query running or waiting
 * for its turn ends now, answered 503 (errorType canceled), so that the
 * server's threads can be joined without waiting for query.timeout. */
void api_stop_queries(void);
/* Stop serving (waits for the handlers in progress) and free. */
void httpd_stop(struct httpd *h);
/* Swap the collector whose status is shown (after a reload). Call before
 * freeing the old one. Thread-safe. */
void httpd_set_collector(struct httpd *h, struct collector *col);
/* And the notifier whose outbox /api/v1/notifications and /metrics show. */
void httpd_set_notify(struct httpd *h, struct notify *n);

/* Replace the metrics provider in slot (< HTTPD_METRICS_MAX; fn NULL
 * empties it), e.g. with a new ctx after a reload. Once this returns no
 * HTTP thread uses the old ctx: call it before freeing that. Thread-safe. */
void httpd_set_metrics(struct httpd *h, size_t slot, httpd_metrics_fn fn, void *ctx);

/* The KPI dashboard for Grafana made from c (JSON, new string): the panels
 * of any programme driven by $kpi, then a row per kpis[].item with a panel per
 * KPI (its units per status over time). */
char *grafana_kpi_dashboard(const struct conf *c);

#endif /* PW_EXPORTERS_H */
