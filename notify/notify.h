/*
 * notify.h — delivering: routes the firing and resolved alerts of the
 * newest view (view.h) through the notify section's tree (Alertmanager's
 * semantics: group_by, group_wait, group_interval, repeat_interval,
 * continue, inhibition, mute and active time intervals) into
 * notifications, which go through an outbox in the store; one delivery
 * thread per receiver (and per Alertmanager URL) sends them, retrying with
 * backoff, so a failing receiver never delays the others and nothing queued
 * is lost to an outage or a kill -9. Alertmanager receivers get every
 * routed alert with Prometheus' resend and endsAt rules instead of groups.
 * Digests of the KPIs are sent on their schedule.
 *
 * It knows alerts only as views show them, not how they are decided.
 *
 * Threads: notify_step from one thread (the event loop); notify_status_take
 * from any thread while the notifier lives. What it returns is a copy: it
 * is read, formatted and freed with no lock held, even after the notifier
 * is freed (a reload), so a caller that must keep the notifier alive (the
 * HTTP server across httpd_set_notify) holds its own lock only to take it.
 */
#ifndef PW_NOTIFY_H
#define PW_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "conf.h"
#include "store.h"

struct notify;

/* The notifier of c's notify section, reading alerts from the views in
 * `views` (borrowed: it must outlive the notifier) and keeping its outbox
 * and notification log in st's records table. Errors: PW_EINVAL with
 * *cause (new string). The configuration must outlive the notifier. */
int notify_new(const struct conf *c, struct store *st, struct pw_slot *views, struct notify **out,
	       char **cause);
/* Start the delivery threads. */
void notify_start(struct notify *n);
/* Route the newest view's alerts and flush the groups and digests due at
 * now; returns when it next needs to run. */
int64_t notify_step(struct notify *n, int64_t now_ms);
/* A notification template (an email receiver's subject, text or HTML
 * template file) checked as rendering would read it, with the fields and
 * name spaces of a group and, inside {{ range .Alerts }}, of an alert: 0, or
 * PW_EINVAL, *cause (new string) and *at (the byte offset in t of the
 * action at fault). Errors that depend on the alerts are not reported. */
int notify_check_template(const char *t, bool html, size_t *at, char **cause);
/* Stop the delivery threads (an attempt in flight finishes) and free. */
void notify_free(struct notify *n);
/* A reload: `from`, the notifier being replaced, stops delivering (an
 * attempt in flight finishes) and hands its counters (sent, failed,
 * dropped) and last error to the lanes of `to` with the same receiver
 * name, so pacewatch_notifications_*_total do not fall back to zero;
 * `to` must not have started. Free `from` afterwards. */
void notify_carry(struct notify *to, struct notify *from);

/* What the notifier shows, as of now: the lanes' counters (copied under the
 * notifier's lock), the aggregation groups as the last notify_step left
 * them, and the store, whose outbox is read when it is formatted (the
 * store must outlive the status; the notifier need not). NULL for a NULL
 * notifier. Free with notify_status_free (NULL is fine). */
struct notify_status;
struct notify_status *notify_status_take(struct notify *n);
void notify_status_free(struct notify_status *s);
/* /api/v1/notifications data (st NULL: no receivers, no groups, nothing
 * queued) and the pacewatch_notifications_* metrics (st NULL: none),
 * appended to b. No lock is taken but the store's own. */
void notify_status_json(const struct notify_status *st, struct pw_buf *b);
void notify_status_metrics(const struct notify_status *st, struct pw_buf *b, bool openmetrics);

/* The same status read field by field (pacewatch's pages). Strings are
 * borrowed from the status (or, in callbacks, valid during the call). */
struct notify_receiver_info {
	const char *name, *kind, *target;
	size_t queued;
	uint64_t sent, failed, dropped;
	int64_t oldest_queued_ms; /* when the oldest queued one was queued; 0: none */
	const char *last_error;   /* NULL: none since the start */
	int64_t last_error_ms;
};
size_t notify_status_nreceivers(const struct notify_status *st); /* NULL: 0 */
void notify_status_receiver(const struct notify_status *st, size_t i,
			    struct notify_receiver_info *out);

/* One queued notification of the outbox, oldest first. */
struct notify_queued_info {
	uint64_t id;
	const char *receiver, *kind, *group_key, *subject; /* "" when none */
	const char *last_error;                              /* "" while not failed */
	int64_t queued_ms, next_attempt_ms;                  /* next_attempt_ms 0: not failed */
	long long attempts, alerts;
};
typedef int (*notify_queued_fn)(void *ctx, const struct notify_queued_info *q);
/* Every queued notification (fn returning non-zero stops; that is
 * returned); negative on a store error. */
int notify_status_queued(const struct notify_status *st, notify_queued_fn fn, void *ctx);

/* The notification log: what each aggregation group last notified, when,
 * and the fingerprints of the alerts it held then (firing, resolved). */
struct notify_log_info {
	const char *receiver, *group_key;
	int64_t sent_ms;
	const uint64_t *firing, *resolved;
	size_t nfiring, nresolved;
};
typedef int (*notify_log_fn)(void *ctx, const struct notify_log_info *e);
int notify_status_log(const struct notify_status *st, notify_log_fn fn, void *ctx);
/* An alert's fingerprint as the notifier (and Alertmanager) knows it: its
 * labels with global.external_labels added, its own winning. */
uint64_t notify_status_fingerprint(const struct notify_status *st, const struct pw_lset *labels);

#endif /* PW_NOTIFY_H */
