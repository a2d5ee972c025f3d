/*
 * kpi_int.h — what the KPI engine's files share: kpi.c (set-up, level and
 * coverage KPIs, views), kpi_quota.c (calendar quotas), kpi_unit.c (units,
 * their names, series and alerts), kpi_record.c (reading a slot's record
 * back, and deriving the same facts from the source data without one).
 */
#ifndef PW_KPI_INT_H
#define PW_KPI_INT_H

#include "alerts_int.h"

/* A unit's series in the record (kpi_put's table), and its status and
 * condition series (which = K_STATUS0 + status, K_COND0 + condition). */
enum { K_VALUE, K_TARGET, K_BASELINE, K_EXPECTED, K_PROGRESS, K_EXPECTED_RATIO, K_FORECAST,
       K_LAST_SEEN, K_BASELINE_AT, K_NSERIES };
#define K_STATUS0 100
#define K_COND0 200

/* the $kpi.* numbers of a unit's alerts, in this order */
enum { N_TITLE, N_UNIT, N_VALUE, N_EXPECTED, N_TARGET, N_BASELINE, N_GAP, N_GAP_PCT, N_GAP_TARGET,
       N_GAP_TARGET_PCT, N_PROGRESS, N_EXPECTED_PROGRESS, N_FORECAST, N_DEADLINE, N_LAST_SEEN,
       N_COVERAGE, N_PERIOD, N_UNIT_ID, KPI_NUMS };

struct ukey {
	int which;
	struct store_key key;
};

/* a selector unit's least-squares sums over the forecast window
 * (kpi_forecast.c); x in seconds from origin */
struct ufit {
	uint64_t sid, fitted_sid; /* its series (0: none seen) */
	int64_t latest, latest_at; /* its newest sample's time, as read at slot latest_at */
	bool ok;
	int64_t origin, lo, hi; /* the oldest and newest sample in the sums */
	int64_t at, refit_at;   /* the slot they are for; when to make them again */
	double n, sx, sy, sxy, sx2;
};

struct unit {
	struct pw_lset *l; /* its labels, without __name__ and kpi */
	char *name;        /* for people (unit_name) */
	/* carried from slot to slot: what the previous slot's record says */
	bool reported;     /* it has a last known value */
	double value;      /* the last known value (quotas: the count) */
	int64_t last_seen; /* when it last had a fresh value (0: never) */
	int64_t first_seen; /* quotas: its first real sample (0: not known yet) */
	double prev_count;  /* quotas: its count in the period before (NaN: not judged) */
	bool have_baseline;
	double baseline;
	int64_t baseline_at; /* a late starter's first value: when; its plan starts then (0: start) */
	bool baseline_at_written; /* in the record already */
	double target;     /* the last known target (NaN: none) */
	bool lagging;      /* for the hysteresis */
	uint32_t conds;    /* its conditions (VIEW_COND bits) */
	enum view_status status;
	uint32_t conds_written; /* the condition series written at the previous slot */
	int status_written;     /* and its status series (-1: none) */
	/* this slot */
	bool fresh, in_roster, listed;
	struct kpi_numbers n;
	double peer_stat; /* below the peers: its group's mean or median (NaN: not judged) */
	int64_t fc_span; /* the time its forecast's points span (0: none) */
	struct ufit fit;
	/* its series, encoded once: writing them is a copy */
	struct store_key keys[K_NSERIES];
	struct ukey *xkeys;
	size_t nx;
	bool keys_new; /* a key without its series id was written */
	/* its alerts' labels and annotations, remade only when they change */
	struct pw_lset *alabels[KPI_NALERTS], *aann[KPI_NALERTS];
	uint64_t aann_gen[KPI_NALERTS];
	char *nums[KPI_NUMS]; /* $kpi.* as text */
	uint64_t nums_gen;    /* changes when a number's text does */
};

/* one KPI alert (an alerting rule of the group kpi:<name>) */
struct kpi_rule {
	struct astate *as;
	struct pw_label match[4]; /* its constant labels */
	size_t nmatch;
	char *last_error;
	int64_t last_eval;
};

/* the forecast of a unit at the deadline, as of a fit */
struct kpi_fcast {
	struct pw_lset *l;
	double v;
	int64_t span; /* from its first point to its last */
};

struct kpi {
	const struct conf_kpi *c;
	enum view_kpi_kind kind;
	struct pw_tz *tz;
	struct query_expr *value, *target, *roster;
	bool selector; /* value is a plain series selector */
	struct store_matcher *vm; /* and its matchers */
	size_t nvm;
	bool target_num, baseline_auto;
	double target_v, baseline_v;
	struct kpi_point plan[KPI_MAX_POINTS];
	size_t nplan;
	struct unit *u;
	size_t nu, capu;
	size_t *uidx, uidx_cap; /* units by hash: index + 1 */
	int64_t state_at;       /* the slot whose record the carried state is (0: none) */
	int64_t evaluating_at;  /* the slot being evaluated */
	struct kpi *base;       /* a roll-up's base KPI */
	int64_t evaluated_at;   /* the slot last evaluated */
	/* a selector's series, kept while the store's set of series is the
	 * same (store_series_epoch): its id and its unit's identity */
	struct ksel {
		uint64_t id;
		struct pw_lset *unit; /* shared with the unit, so hint is checked by pointer */
		size_t hint;          /* where its unit was last */
	} *sel;
	size_t nsel;
	uint64_t sel_epoch; /* 0: none kept */
	/* its pacewatch_kpi_units series (what marks a slot recorded), kept
	 * likewise */
	uint64_t *rec_ids;
	size_t nrec_ids;
	uint64_t rec_epoch;
	/* another expression's forecasts, for the subquery points in
	 * [fc_first, fc_last] */
	struct kpi_fcast *fc;
	size_t nfc;
	int64_t fc_first, fc_last;
	/* quotas: the current period, and the one before (what missed refers to) */
	char period[32], prev_period[32];
	struct kpi_rule rules[KPI_NALERTS];
	int64_t last_eval;
};

struct kpis {
	struct store *st;
	const struct conf *conf;
	struct kpi *k;
	size_t n;
	struct query_opts qo; /* lookback set per query; staleness markers ignored */
	struct pw_label *ext;
	size_t next;
	struct pw_lbuild lb;
	bool dry;
	uint64_t keys_gen; /* store_keys_generation at the last resolve */
	struct store_batch *batch; /* a slot's, its buffers kept (store_batch_keep) */
	size_t *order; /* the KPIs in the order they are evaluated: bases before roll-ups */
};

/* ---- kpi_unit.c ---- */

/* The unit with these labels (a name and a kpi label among them are
 * ignored), made when new. Pointers to units are valid until the next. */
struct unit *kpi_unit(struct kpi *k, const struct pw_label *l, size_t n);
/* The unit these labels name, or NULL. */
struct unit *kpi_unit_find(struct kpi *k, const struct pw_label *l, size_t n);
/* A unit's identity: the labels that tell units apart (a new set). */
struct pw_lset *kpi_identity(const struct pw_label *l, size_t n);
/* The unit of that identity (make: made when new, else NULL). */
struct unit *kpi_unit_of(struct kpi *k, struct pw_lset *id, bool make);
/* Drop units that only the roster named and it no longer does. */
void kpi_units_prune(struct kpi *k);
void kpi_units_free(struct kpi *k);
/* A unit's name for people (unit_name, or its labels' values). */
void kpi_unit_name(struct kpis *ks, struct kpi *k, struct unit *u);
/* Write sample `which` of u's series at t. */
void kpi_put(struct store_batch *b, int which, struct unit *u, const char *kpi, int64_t t,
	     double v);
/* u's whole record at t: its numbers, status and conditions, with
 * staleness markers for the status and condition series that ended. */
void kpi_write_unit(struct store_batch *b, const struct kpi *k, struct unit *u, int64_t t);
/* The per-KPI series at t: how many units, and the deadline (quotas: the
 * period's end). */
void kpi_write_kpi(struct kpis *ks, struct store_batch *b, struct kpi *k, int64_t t, int64_t due);
/* Feed each of the KPI's alerts the units whose condition holds. */
void kpi_feed_alerts(struct kpis *ks, struct kpi *k, int64_t t, struct store_batch *b);

/* ---- kpi_group.c ---- */

/* The units table's row of a unit (by the KPI's unit_code label), or NULL. */
const struct conf_unit *kpi_table_unit(const struct kpis *ks, const struct kpi *k,
				       const struct unit *u);
/* roster_units: mark (or make) the table's units of the kind that qualify. */
void kpi_roster_units(struct kpis *ks, struct kpi *k);
/* ks->order and every roll-up's base. */
void kpis_order(struct kpis *ks);
/* A roll-up's values at the slot being evaluated, from its base's units
 * (fresh: a unit under it is). */
void kpi_rollup_values(struct kpis *ks, struct kpi *k);
/* A below-the-peers KPI: each fresh unit's group statistic (peer_stat) and
 * threshold (target); NaN where its group has fewer than 3 units. */
void kpi_peers_judge(struct kpi *k);

/* ---- kpi_forecast.c ---- */

/* Every unit's n.forecast at t, before the deadline (NaN: none). */
void kpi_forecasts(struct kpis *ks, struct kpi *k, int64_t t);
void kpi_forecast_free(struct kpi *k);

/* ---- kpi_record.c ---- */

/* The latest slot in [from, to] with a record of k (0: none), looked for
 * backwards from to in growing windows. */
int64_t kpi_record_slot(struct kpis *ks, struct kpi *k, int64_t from, int64_t to);
/* Read the record at slot s into the units (made as needed). */
int kpi_record_load(struct kpis *ks, struct kpi *k, int64_t s);
/* Without a record: the units of a selector's series with a real sample
 * since start, with their last real value and when it was, up to t. */
int kpi_derive_units(struct kpis *ks, struct kpi *k, int64_t t);
/* A baseline for each unit without one (docs/kpis.md: auto). */
void kpi_baselines(struct kpis *ks, struct kpi *k, int64_t t);

/* ---- kpi.c ---- */

/* Evaluate the query x at t with a lookback of `lookback` (markers ignored). */
int kpi_query(struct kpis *ks, const struct kpi *k, const struct query_expr *x, int64_t t,
	      int64_t lookback, struct query_result **res, const char *what, char **cause);
/* Bring the units' carried state to the slot before t: from memory when it
 * is that, else from the latest record within global.outage_tolerance, else
 * derived. Returns true when slot t itself has a record already (it is
 * then loaded, and nothing is to be written). */
bool kpi_prepare(struct kpis *ks, struct kpi *k, int64_t t);
/* The roster at t: marks the units it names (made when none agrees). */
int kpi_read_roster(struct kpis *ks, struct kpi *k, int64_t t, char **cause);
/* When units that do not report now last did, where the record does not say. */
void kpi_stale_since(struct kpis *ks, struct kpi *k, int64_t t);
/* The slot's number work every kind shares once the values are in: the
 * units' numbers, conditions and status. */
void kpi_judge_unit(const struct kpi *k, struct unit *u, int64_t t, bool past_deadline,
		    bool can_meet);

/* ---- kpi_quota.c ---- */

/* Evaluate a calendar quota at t; writes into b unless recorded. */
int kpi_eval_quota(struct kpis *ks, struct kpi *k, int64_t t, struct store_batch *b, char **cause);

#endif
