/*
 * alerts.h — deciding: Prometheus-compatible alerting and recording rules
 * and pacewatch's KPIs, evaluated on their intervals over the store, their
 * results (recorded series, pacewatch_kpi_*, ALERTS, ALERTS_FOR_STATE)
 * written back to it. After each evaluation the decider publishes a view
 * (view.h) of its rules, alerts and KPI units into a slot; the HTTP API, the
 * notifier and `pacewatch kpi` read views, never the decider itself.
 *
 * Semantics: docs/rules.md (Prometheus 2.42's rules manager, with a restart
 * that keeps the `for` clock) and docs/kpis.md.
 *
 * Threads: everything here from one thread (the event loop, or a command);
 * the views it publishes may be read from any thread.
 */
#ifndef PW_ALERTS_H
#define PW_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "conf.h"
#include "store.h"
#include "view.h"

struct alerts;

/* Compile every rule group and KPI of c. Views go to `views` (borrowed: it
 * must outlive the decider; NULL: a slot of its own, see alerts_view). The
 * configuration must outlive the decider. Errors: PW_EINVAL with *cause
 * (new string) naming the rule or KPI. */
int alerts_new(const struct conf *c, struct store *st, struct pw_slot *views, struct alerts **out,
	       char **cause);
void alerts_free(struct alerts *a);

/* Publish a view of what the decider holds now (before any evaluation: its
 * rules and KPIs, nothing evaluated yet). A reload publishes the new
 * decider's first view once it is sure to replace the old one. */
void alerts_publish(struct alerts *a);

/* Evaluate the KPIs and the rule groups due at now_ms (times aligned to
 * their intervals; missed intervals are skipped), publish a view if anything
 * ran, and return when the next is due. */
int64_t alerts_step(struct alerts *a, int64_t now_ms);

/* Evaluate rule group g (KPIs not included: 0 .. alerts_ngroups - 1) at t,
 * as if it were due then: tests, and replaying history. Publishes a view.
 * Errors: the store's, with *cause. */
int alerts_eval_group(struct alerts *a, size_t g, int64_t t, char **cause);
size_t alerts_ngroups(const struct alerts *a);
/* Evaluate every KPI at t (ms): the pacewatch_kpi_* series and the KPI
 * alerts (KpiLagging, KpiAtRisk, KpiMissed, KpiStale, KpiUnitMissing).
 * Publishes a view. Errors: the store's, with *cause. */
int alerts_eval_kpis(struct alerts *a, int64_t t, char **cause);
/* Compute without writing (pacewatch kpi: a look, not a backfill). */
void alerts_set_dry_run(struct alerts *a, bool dry);

/* The newest view (a new reference: view_unref it). */
struct view *alerts_view(struct alerts *a);

/* The PromQL checker conf_set_expr_checker takes: a rule's expression
 * parses and gives an instant vector or a scalar. */
int alerts_check_expr(const char *expr, char **cause);

/* The checker conf_set_kpi_checker takes: what the KPI model allows a KPI
 * to say (its alerts' names in severities). */
void alerts_check_kpi(const struct conf_kpi *k, conf_kpi_report report, void *ctx);

/* The language of what is written for people: global.language, or with
 * auto Chinese when a KPI's title is. */
enum view_language alerts_language(const struct conf *c);

/* The rule groups and KPIs of c as a Prometheus rule file (YAML), appended
 * to b: the groups as they are, each KPI as recording rules that write the
 * series pacewatch writes, and its alerts, from the KPI model the evaluator
 * uses. What PromQL cannot carry is said in comments. Warnings (durations
 * rounded to seconds) go to *warnings (new string, or NULL). */
void alerts_export_rules(const struct conf *c, const char *source, struct pw_buf *b,
			 char **warnings);

#endif /* PW_ALERTS_H */
