/*
 * alerts_int.h — what the files of alerts/ share. The decider (alerts.c)
 * owns the rule groups (rules.c) and the KPI engine (kpi.c, kpi_quota.c);
 * both feed alert states (alert_state.c), neither calls the other, and the
 * decider publishes what they hold as a view.
 */
#ifndef PW_ALERTS_INT_H
#define PW_ALERTS_INT_H

#include "alerts.h"
#include "query.h"
#include "template.h"
#include "view.h"

/* ---- output.c: the series a rule writes at every evaluation ------------------------ */

struct output_series {
	struct pw_lset *ls;   /* with __name__ */
	struct store_key key; /* encoded once, its id remembered */
};

/* Begin (when evaluating), put each series, then end (staleness markers for
 * last time's series not put again) or abort (forget this evaluation's). */
struct output {
	struct output_series *prev, *cur;
	size_t nprev, ncur, cap, pcap_prev;
	size_t *ptab, pcap; /* prev by hash: index + 1 (while evaluating) */
	bool *moved;        /* prev[i] was put again */
	size_t *ctab, ccap; /* cur by hash, for duplicates (while evaluating) */
};
void output_begin(struct output *o);
/* Write a sample of the series with these sorted labels. Returns false
 * (writing nothing) when this evaluation put the series already. */
bool output_put(struct output *o, struct store_batch *b, const struct pw_label *l, size_t n,
		int64_t t, double v);
/* This evaluation put the series with these sorted labels already. */
bool output_has(const struct output *o, const struct pw_label *l, size_t n);
void output_end(struct output *o, struct store_batch *b, int64_t t);
void output_abort(struct output *o);
/* After the commit: remember the series' ids (store_keys_resolve). */
void output_resolve(struct output *o, struct store *st);
void output_free(struct output *o);

/* ---- alert_state.c: the alert state machine -------------------------------------------- */

struct astate_opts {
	const char *name;              /* the alertname (borrowed for the state's life) */
	int64_t for_ms, keep_firing_for_ms;
	int64_t limit;                 /* more active alerts fail the evaluation (0: none) */
	int64_t outage_tolerance_ms;   /* how far back a restart looks for ALERTS_FOR_STATE */
	const struct pw_label *match;  /* constant labels of its alerts, to narrow that look */
	size_t nmatch;
};
struct astate;
struct astate *astate_new(const struct astate_opts *o);
void astate_free(struct astate *s);
/* One evaluation at t: begin, feed every result (the alert's labels sorted,
 * alertname included, and its annotations, both borrowed), then end, which
 * moves the states on and writes ALERTS and ALERTS_FOR_STATE into b. A feed
 * that fails (two results with the same labels: PW_EINVAL, *cause) ends the
 * evaluation: call astate_cancel, and nothing changes but the values of the
 * alerts already fed. end fails (PW_EINVAL, *cause) past the limit, with
 * every alert dropped. */
void astate_begin(struct astate *s, int64_t t);
int astate_feed(struct astate *s, const struct pw_label *l, size_t n, const struct pw_label *ann,
		size_t nann, double v, int64_t t, char **cause);
/* The same with label sets already made (references taken when kept). */
int astate_feed_lset(struct astate *s, struct pw_lset *labels, struct pw_lset *ann, double v,
		     int64_t t, char **cause);
void astate_cancel(struct astate *s);
int astate_end(struct astate *s, struct store *st, struct store_batch *b, int64_t t, char **cause);
/* After the commit that wrote b. */
void astate_resolve(struct astate *s, struct store *st);
/* Append every alert (resolved ones kept too) to v as rule `rule`'s;
 * returns how many. */
size_t astate_view(const struct astate *s, struct view *v, size_t rule);

/* ---- rules.c: Prometheus' rule groups ---------------------------------------------------- */

struct rules;
/* Compile c->rule_groups. Errors: PW_EINVAL with *cause naming the rule. */
int rules_new(const struct conf *c, struct store *st, struct rules **out, char **cause);
void rules_free(struct rules *r);
size_t rules_ngroups(const struct rules *r);
/* Evaluate group g at t (ms); each rule's results are committed before the
 * next rule runs. Errors: the store's, with *cause (rule errors are the
 * rule's health, not the call's). */
int rules_eval_group(struct rules *r, size_t g, int64_t t, char **cause);
/* Evaluate the groups due at now (aligned to their intervals); returns
 * when the next is due; *evaluated tells whether any ran. */
int64_t rules_step(struct rules *r, int64_t now, bool *evaluated);
/* The groups and rules, into a view's meta / the latest state into v
 * (groups and rules from index g0, r0 of the view's). */
void rules_meta(const struct rules *r, struct view_meta *m);
void rules_view(const struct rules *r, struct view *v, size_t g0, size_t r0);

/* ---- kpi_model.c: what a KPI means (docs/kpis.md) ------------------------------------------- */

enum view_kpi_kind kpi_kind(const struct conf_kpi *c);

/* The plan's points: the baseline at start, the milestones (a value, or a
 * fraction of the way from baseline to target), the target at the deadline. */
enum kpi_point_kind { KPI_PT_BASELINE, KPI_PT_TARGET, KPI_PT_VALUE, KPI_PT_FRACTION };
struct kpi_point {
	int64_t t;
	enum kpi_point_kind kind;
	double x; /* the value or fraction */
};
#define KPI_MAX_POINTS 66
size_t kpi_plan(const struct conf_kpi *c, struct kpi_point *pts /* [KPI_MAX_POINTS] */);
double kpi_point_value(const struct kpi_point *p, double baseline, double target);
/* The plan's value at t: piecewise linear, or a step (curve: step); from
 * after the start: a late starter's plan, from (from, baseline) through the
 * points after it. */
double kpi_expected(const struct conf_kpi *c, const struct kpi_point *pts, size_t n,
		    double baseline, double target, int64_t from, int64_t t);
/* v meets the target: >= it (at_least), <= it (at_most), or the coverage
 * condition; false when either is unknown (NaN). */
bool kpi_reached(const struct conf_kpi *c, double v, double target);
/* A shortfall is a value above the target (direction at_most, coverage <=, <). */
bool kpi_at_most(const struct conf_kpi *c);

/* A unit's numbers: fill value, target, baseline, expected, forecast;
 * kpi_numbers_of computes the rest (NaN where there is none). */
struct kpi_numbers {
	double value, target, baseline, expected, forecast;
	double span, gap, gap_target, progress, expected_progress;
};
void kpi_numbers_of(const struct conf_kpi *c, struct kpi_numbers *n);

/* What a unit's conditions are decided on. */
struct kpi_facts {
	struct kpi_numbers n;
	bool reported;      /* it has a last known value */
	bool stale;         /* reported before, nothing fresh now */
	bool in_roster;
	bool past_deadline;
	bool can_meet;      /* quotas at_most cannot be met before the period ends */
	bool firm_forecast; /* its points span at least half the forecast window */
	bool below_peers;   /* below the peers: past its group's threshold */
};
/* The unit's conditions (VIEW_COND bits); *lagging carries the hysteresis
 * from the previous slot in and this slot's out. */
uint32_t kpi_conditions(const struct conf_kpi *c, const struct kpi_facts *f, bool *lagging);

/* The KPI alerts: one alerting rule each, group "kpi:<name>". */
enum kpi_alert { KPI_MISSED, KPI_NOT_COVERED, KPI_LAGGING, KPI_AT_RISK, KPI_STALE, KPI_MISSING,
		 KPI_BELOW_PEERS, KPI_NALERTS };
#define KPI_KINDS_LEVEL (1u << VIEW_KPI_LEVEL)
#define KPI_KINDS_COVERAGE (1u << VIEW_KPI_COVERAGE)
#define KPI_KINDS_QUOTA (1u << VIEW_KPI_QUOTA)
#define KPI_KINDS_PEERS (1u << VIEW_KPI_PEERS)
#define KPI_KINDS_ALL (KPI_KINDS_LEVEL | KPI_KINDS_COVERAGE | KPI_KINDS_QUOTA | KPI_KINDS_PEERS)
struct kpi_alert_def {
	const char *name;             /* alertname */
	enum view_status cond;        /* the condition it follows */
	unsigned kinds;               /* the kinds of KPI it applies to */
	bool uses_for;                /* the KPI's `for` applies */
	const char *headline_en, *headline_zh; /* what it is, in a few words */
	const char *summary_en, *summary_zh; /* the summary annotation, a template of $kpi.* */
	const char *promql;           /* its condition for export-rules; NULL: not exported */
	const char *export_summary;   /* the summary of the exported rule */
};
extern const struct kpi_alert_def kpi_alert_defs[KPI_NALERTS];
bool kpi_alert_applies(const struct conf_kpi *c, enum kpi_alert a);
/* severities' override, or the KPI's severity */
const char *kpi_severity(const struct conf_kpi *c, enum kpi_alert a);

/* The alerting rule's labels (at most 4) and annotations (at most
 * KPI_ANNOTATIONS, templates): borrowed strings, of c and static. */
size_t kpi_alert_labels(const struct conf_kpi *c, enum kpi_alert a, struct pw_label *out);
#define KPI_ANNOTATIONS 24
size_t kpi_alert_annotations(const struct conf_kpi *c, bool zh, enum kpi_alert a,
			     struct pw_label *out);
/* The checker conf_set_kpi_checker takes. */
void kpi_check(const struct conf_kpi *c, conf_kpi_report report, void *ctx);

/* ---- kpi.c, kpi_quota.c: the KPI engine -------------------------------------------------- */

struct kpis;
int kpis_new(const struct conf *c, struct store *st, struct kpis **out, char **cause);
void kpis_free(struct kpis *k);
/* Evaluate every KPI at t: the pacewatch_kpi_* series (one transaction) and
 * the KPI alerts. dry: compute, write nothing. */
int kpis_eval(struct kpis *k, int64_t t, bool dry, char **cause);
void kpis_meta(const struct kpis *k, struct view_meta *m);
void kpis_view(struct kpis *k, struct view *v, size_t g0, size_t r0);

#endif
