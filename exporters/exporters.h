/*
 * exporters.h — pacewatch over HTTP (libmicrohttpd, its own threads):
 * /metrics (Prometheus text 0.0.4, OpenMetrics 1.0.0 when asked, gzip when
 * accepted), /api/v1/import/prometheus, /-/healthy, /-/ready, /-/reload.
 * Reads the store through snapshots only; never blocks the event loop.
 */
#ifndef PW_EXPORTERS_H
#define PW_EXPORTERS_H

#include <stdbool.h>

#include "alerts.h"
#include "collector.h"
#include "conf.h"
#include "store.h"

struct httpd;

/* Called from an HTTP thread for POST /-/reload: reload the configuration
 * and return 0, or an error with *cause (new string). */
typedef int (*httpd_reload_fn)(void *ctx, char **cause);

struct httpd_deps {
	const struct conf *conf; /* the HTTP settings are read at start only */
	struct store *store;
	struct collector *collector; /* may be NULL; see httpd_set_collector */
	struct rules *rules;         /* may be NULL; see httpd_set_rules */
	struct notify *notify;       /* may be NULL; see httpd_set_notify */
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
/* The same for the rules whose state /api/v1/rules and /alerts show. */
void httpd_set_rules(struct httpd *h, struct rules *r);
/* And the notifier whose outbox /api/v1/notifications and /metrics show. */
void httpd_set_notify(struct httpd *h, struct notify *n);

#endif /* PW_EXPORTERS_H */
