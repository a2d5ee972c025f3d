/*
 * view.h — what the decider (alerts/: rules and KPIs) publishes after each
 * evaluation, and what everybody else reads: the HTTP API (/api/v1/rules,
 * /alerts, /kpis), the notifier, the digest and `pacewatch kpi`. A view is
 * immutable once published and reference counted, so a reader takes one
 * (pw_slot_get), reads and formats it with no lock held, and drops it; the
 * decider goes on and publishes the next one by swapping one pointer.
 *
 * Two parts: view_meta, what a configuration says (rule groups, rules, KPIs:
 * names, queries, labels), made once per configuration and shared by every
 * view of it; and the view, what the latest evaluation found (rule health,
 * alerts, KPI units with their numbers). Strings a view or its meta hold
 * are their own copies: a view outlives the configuration it came from.
 *
 * Also the vocabulary every reader shares: alert states, KPI unit
 * statuses and their names, and "laggards first".
 */
#ifndef PW_VIEW_H
#define PW_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* ---- the vocabulary ---------------------------------------------------------------- */

enum view_alert_state {
	VIEW_INACTIVE, /* resolved: no longer active, kept 15 minutes for the notifiers */
	VIEW_PENDING,  /* active, waiting for `for` */
	VIEW_FIRING,
};
const char *view_alert_state_name(enum view_alert_state s); /* "inactive" ... */

/* A KPI unit's conditions (docs/kpis.md), in the order that makes one its
 * status: the first that holds, or VIEW_ON_TRACK. The order is also
 * "laggards first". A unit's conditions are a bit set of these. */
enum view_status {
	VIEW_MISSED,        /* the deadline (or a quota's period) passed unmet */
	VIEW_NOT_REPORTING, /* the roster names it; it never reported */
	VIEW_NOT_COVERED,   /* a coverage KPI: it reports, it is not covered */
	VIEW_BELOW_PEERS,   /* a below-the-peers KPI: clearly below its group */
	VIEW_LAGGING,       /* behind the plan by more than the tolerance */
	VIEW_AT_RISK,       /* the forecast misses the target */
	VIEW_STALE,         /* it reported before; nothing fresh now */
	VIEW_MET,           /* the target is reached */
	VIEW_ON_TRACK,      /* none of the above */
	VIEW_NSTATUS
};
#define VIEW_COND(s) (1u << (s))
const char *view_status_name(enum view_status s);    /* "missed" ... "on_track" */
const char *view_status_name_zh(enum view_status s); /* "逾期未达标" ... */
/* The status a set of conditions makes. */
enum view_status view_status_of(uint32_t conds);
/* Laggards first: the status's place in that order (0 first). */
int view_status_rank(enum view_status s);

/* The language of what pacewatch writes for people. */
enum view_language { VIEW_LANG_ZH, VIEW_LANG_EN };

/* ---- what a configuration says -------------------------------------------------------- */

struct view_meta_rule {
	size_t group;            /* its group (set by view_meta_add_rule) */
	const char *name;        /* the alert's or the record's name */
	bool alerting;
	const char *query;       /* its PromQL; NULL for a KPI alert (fed by the KPI engine) */
	int64_t for_ms, keep_firing_for_ms;
	const struct pw_label *labels, *annotations; /* as configured (templates) */
	size_t nlabels, nannotations;
};

struct view_meta_group {
	const char *name, *file;
	int64_t interval_ms, limit;
	size_t rule0, nrules; /* its rules: meta->rules[rule0 .. rule0 + nrules) */
};

enum view_kpi_kind { VIEW_KPI_LEVEL, VIEW_KPI_COVERAGE, VIEW_KPI_QUOTA, VIEW_KPI_PEERS };

/* A milestone of a KPI's plan: by at_ms, the value (when it is a
 * number), else the fraction of the way from baseline to target. */
struct view_milestone {
	int64_t at_ms;
	double value, fraction; /* one of them is NaN */
};

struct view_meta_kpi {
	const char *name, *title;
	enum view_kpi_kind kind;
	bool at_most;
	int64_t start_ms, deadline_ms;
	const char *deadline_text;   /* the deadline as configured ("2025-12-01") */
	const char *owner, *contact; /* "" when not configured */
	const char *runbook;         /* "" when not configured */
	const char *coverage;        /* a coverage KPI's condition (">= 1"), else "" */
	const char *item;            /* the programme item ("N2 心理健康服务"), else "" */
	/* the plan's shape, for pictures of it (docs/kpis.md, "The plan") */
	const struct view_milestone *milestones; /* ascending; copied by view_meta_add_kpi */
	size_t nmilestones;
	bool step;                   /* curve: step (else linear) */
	enum pw_period period;       /* a quota's calendar period, else PW_PERIOD_NONE */
	const char *timezone;        /* the KPI's zone: its dates and periods ("" : UTC) */
};

struct view_meta {
	struct pw_shared sh;
	enum view_language lang; /* what is written for people */
	const char *timezone;    /* where people read times (global.timezone) */
	struct view_meta_group *groups;
	size_t ngroups;
	struct view_meta_rule *rules;
	size_t nrules;
	struct view_meta_kpi *kpis;
	size_t nkpis;
	char **strs; /* every string above */
	size_t nstrs;
};

/* An empty meta (count 1) to fill with view_meta_add_*. */
struct view_meta *view_meta_new(void);
/* A copy of s owned by the meta (NULL stays NULL). */
const char *view_meta_str(struct view_meta *m, const char *s);
/* Append a group, a rule of the last group, a KPI: strings are copied.
 * Returns the new entry's index. */
size_t view_meta_add_group(struct view_meta *m, const char *name, const char *file,
			   int64_t interval_ms, int64_t limit);
size_t view_meta_add_rule(struct view_meta *m, const struct view_meta_rule *r);
size_t view_meta_add_kpi(struct view_meta *m, const struct view_meta_kpi *k);

/* ---- what an evaluation found ------------------------------------------------------------ */

struct view_alert {
	struct pw_lset *labels, *annotations; /* references the view holds */
	enum view_alert_state state;
	int64_t active_at, fired_at, resolved_at; /* ms; resolved_at 0 while active */
	double value;
	size_t rule;                          /* index into meta->rules */
};

struct view_rule {
	const char *last_error; /* NULL when the last evaluation worked */
	double eval_s;          /* how long the last evaluation took */
	int64_t last_eval;      /* ms; 0: not evaluated yet */
	size_t alert0, nalerts; /* its alerts (every state): alerts[alert0 ..) */
};

struct view_group {
	double eval_s;
	int64_t last_eval;
};

struct view_unit {
	struct pw_lset *labels; /* the unit's labels (a reference) */
	const char *name;       /* its name for people (the view's string) */
	uint32_t conds;         /* VIEW_COND bits */
	enum view_status status;
	double value, target, baseline, expected, forecast; /* NaN: none */
	double progress, expected_progress, gap, gap_target; /* NaN: none */
	int64_t last_seen;      /* ms; 0: never reported */
	int64_t plan_start;     /* ms: where its plan starts (a late starter's first value), 0: start */
};

struct view_kpi {
	size_t unit0, nunits; /* its units, laggards first: units[unit0 ..) */
	int64_t evaluated_at; /* the slot its numbers are for (0: not yet) */
	const char *period;   /* a quota's current period ("2025-06"), else NULL */
	const char *previous_period; /* the one its missed refers to, else NULL */
};

struct view {
	struct pw_shared sh;
	struct view_meta *meta; /* a reference */
	int64_t at;             /* when it was published (ms) */
	struct view_group *groups;  /* meta->ngroups */
	struct view_rule *rules;    /* meta->nrules */
	struct view_alert *alerts;
	size_t nalerts;
	struct view_kpi *kpis;      /* meta->nkpis */
	struct view_unit *units;
	size_t nunits;
	char **strs;
	size_t nstrs;
	size_t cap_alerts, cap_units; /* while building */
};

/* A view of meta (a reference is taken) with its group, rule and KPI
 * arrays zeroed, to fill: the decider's thread, before publishing. */
struct view *view_new(struct view_meta *meta, int64_t at);
/* A copy of s the view owns (NULL stays NULL). */
const char *view_str(struct view *v, const char *s);
/* Append an alert (labels and annotations: references taken) / a unit
 * (labels: a reference taken); returns a pointer valid until the next
 * append. */
struct view_alert *view_add_alert(struct view *v, struct pw_lset *labels,
				  struct pw_lset *annotations);
struct view_unit *view_add_unit(struct view *v, struct pw_lset *labels);
/* Order kpi k's units [unit0, nunits) laggards first: by status
 * (view_status_rank), then by gap to target, largest first, then labels. */
void view_sort_units(struct view *v, size_t k);

static inline struct view *view_ref(struct view *v)
{
	return v ? (pw_shared_ref(&v->sh), v) : NULL;
}
static inline void view_unref(struct view *v)
{
	if (v)
		pw_shared_unref(&v->sh);
}
/* The newest view in a slot (a new reference, or NULL before the first). */
struct view *view_get(struct pw_slot *slot);

/* ---- Prometheus' and pacewatch's JSON of a view (appended to b) ---------------- */

/* /api/v1/rules' data: {"groups":[...]}; type "alert", "record" or NULL. */
void view_json_rules(const struct view *v, struct pw_buf *b, const char *type);
/* /api/v1/alerts' data: {"alerts":[...]}, pending and firing ones. */
void view_json_alerts(const struct view *v, struct pw_buf *b);
/* /api/v1/kpis' data: {"kpis":[...]}, every KPI and unit, laggards first. */
void view_json_kpis(const struct view *v, struct pw_buf *b);

#endif /* PW_VIEW_H */
