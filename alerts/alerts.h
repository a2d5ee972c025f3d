/*
 * alerts.h — Prometheus-compatible alerting and recording rules: groups
 * evaluated on their interval, the alert state machine (inactive, pending,
 * firing, resolved kept 15 minutes, for, keep_firing_for), templated labels
 * and annotations, ALERTS and ALERTS_FOR_STATE written to the store, and a
 * restart that keeps the for clock (state restored from ALERTS_FOR_STATE
 * within global.outage_tolerance).
 *
 * Threads: rules_step/rules_eval_group from one thread (the event loop);
 * the JSON views from any thread (they take the rules' lock).
 */
#ifndef PW_ALERTS_H
#define PW_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "conf.h"
#include "store.h"

struct rules;

/* Compile every rule of c->rule_groups. Errors: PW_EINVAL with *cause
 * naming the rule. The configuration must outlive the rules. */
int rules_new(const struct conf *c, struct store *st, struct rules **out, char **cause);
void rules_free(struct rules *r);

/* Evaluate the groups that are due at now_ms; returns when the next one is
 * due. Evaluation times are aligned to each group's interval. */
int64_t rules_step(struct rules *r, int64_t now_ms);
/* Evaluate group g at time t (ms), as if it were due then: tests, and
 * replaying history. Returns 0 or an error with *cause. */
int rules_eval_group(struct rules *r, size_t g, int64_t t, char **cause);
size_t rules_ngroups(const struct rules *r);

/* Evaluate every KPI at t (ms): the pacewatch_kpi_* series and the KPI
 * alerts (KpiLagging, KpiAtRisk, KpiMissed, KpiStale, KpiUnitMissing). */
int rules_eval_kpis(struct rules *r, int64_t t, char **cause);
/* Compute without writing (pacewatch kpi: a look, not a backfill). */
void rules_set_dry_run(struct rules *r, bool dry);
/* /api/v1/kpis data: every KPI and unit with its numbers, laggards first. */
void rules_json_kpis(struct rules *r, struct pw_buf *b);

/* The PromQL checker conf_set_expr_checker takes. */
int rules_check_expr(const char *expr, char **msg);

/* Prometheus' /api/v1/rules data ({"groups": [...]}; type "alert" or
 * "record" or NULL for both) and /api/v1/alerts data ({"alerts": [...]}),
 * appended to b. */
void rules_json_rules(struct rules *r, struct pw_buf *b, const char *type);
void rules_json_alerts(struct rules *r, struct pw_buf *b);

/* An alert as the notifiers see it. */
struct rules_alert {
	const struct pw_label *labels, *annotations;
	size_t nlabels, nannotations;
	int state; /* 1 pending, 2 firing, 0 resolved (kept 15 minutes) */
	int64_t active_at, fired_at, resolved_at;
	double value;
	const char *expr;    /* the rule's PromQL (NULL for KPI alerts) */
	int64_t interval_ms; /* its group's evaluation interval */
};
typedef void (*rules_alert_cb)(void *ctx, const struct rules_alert *a);
/* Every active or recently resolved alert (under the lock). */
void rules_foreach_alert(struct rules *r, rules_alert_cb cb, void *ctx);

/* ---- notifications ------------------------------------------------------ */

/*
 * The notifier: routes firing and resolved alerts through the notify
 * section's tree (Alertmanager's semantics: group_by, group_wait,
 * group_interval, repeat_interval, continue, inhibition, mute and active
 * time intervals) into notifications, which go through an outbox in the
 * store; one delivery thread per receiver (and per Alertmanager URL)
 * sends them, retrying with backoff, so a failing receiver never delays
 * the others and nothing queued is lost to an outage or a kill -9.
 * Alertmanager receivers get every routed alert with Prometheus' resend
 * and endsAt rules instead of groups. Digests are sent on their schedule.
 */
struct notify;
int notify_new(const struct conf *c, struct store *st, struct rules *r, struct notify **out,
	       char **cause);
/* Start the delivery threads. */
void notify_start(struct notify *n);
/* Route the rules' alerts and flush the groups and digests due at now;
 * returns when it next needs to run. From one thread (the event loop). */
int64_t notify_step(struct notify *n, int64_t now_ms);
/* Stop the delivery threads (an attempt in flight finishes) and free. */
void notify_free(struct notify *n);
/* /api/v1/notifications data and the pacewatch_notifications_* metrics. */
void notify_json(struct notify *n, struct pw_buf *b);
void notify_metrics(struct notify *n, struct pw_buf *b, bool openmetrics);

#endif /* PW_ALERTS_H */
