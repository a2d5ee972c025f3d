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
#include "conf.h"
#include "notify.h"
#include "store.h"
#include "view.h"

struct httpd;

/* Called from an HTTP thread for POST /-/reload: reload the configuration
 * and return 0, or an error with *cause (new string). */
typedef int (*httpd_reload_fn)(void *ctx, char **cause);

struct httpd_deps {
	const struct conf *conf; /* the HTTP settings are read at start only */
	struct store *store;
	struct collector *collector; /* may be NULL; see httpd_set_collector */
	struct pw_slot *views;       /* the decider's views (rules, alerts, KPIs); may be NULL */
	struct notify *notify;       /* may be NULL; see httpd_set_notify */
	struct remote_write *remote_write; /* may be NULL; see httpd_set_remote_write */
	httpd_reload_fn reload;
	void *reload_ctx;
};

/* Listen on every http.listen address. Errors: -errno or PW_EINVAL with
 * *cause naming the address (caller frees). */
int httpd_start(const struct httpd_deps *d, struct httpd **out, char **cause);
/* Stop serving (waits for the handlers in progress) and free. */
void httpd_stop(struct httpd *h);
/* Swap the collector whose status is shown (after a reload). Call before
 * freeing the old one. Thread-safe. */
void httpd_set_collector(struct httpd *h, struct collector *col);
/* And the notifier whose outbox /api/v1/notifications and /metrics show. */
void httpd_set_notify(struct httpd *h, struct notify *n);

/* And the remote_write whose metrics /metrics shows. */
void httpd_set_remote_write(struct httpd *h, struct remote_write *w);

/* ---- remote_write ------------------------------------------------------- */

/* Prometheus remote write 1.0 to every endpoint of c->remote_write, from
 * the store (a cursor per endpoint kept in the store), one thread per
 * endpoint plus `concurrency` senders; see remote_write.c. */
struct remote_write;
int remote_write_new(const struct conf *c, struct store *st, struct remote_write **out,
		     char **cause);
void remote_write_start(struct remote_write *w);
/* Stop (a request in flight finishes or times out) and free. */
void remote_write_free(struct remote_write *w);
/* The pacewatch_remote_write_* metrics. */
void remote_write_metrics(struct remote_write *w, struct pw_buf *b, bool openmetrics);

#endif /* PW_EXPORTERS_H */
