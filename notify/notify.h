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
 * Threads: notify_step from one thread (the event loop); notify_json and
 * notify_metrics from any thread.
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
/* Stop the delivery threads (an attempt in flight finishes) and free. */
void notify_free(struct notify *n);
/* /api/v1/notifications data and the pacewatch_notifications_* metrics,
 * appended to b. */
void notify_json(struct notify *n, struct pw_buf *b);
void notify_metrics(struct notify *n, struct pw_buf *b, bool openmetrics);

#endif /* PW_NOTIFY_H */
