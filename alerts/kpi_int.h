/*
 * kpi_int.h — what the KPI engine's files share (kpi.c: level KPIs, the
 * units, the series and alerts; kpi_quota.c: calendar quotas).
 */
#ifndef PW_KPI_INT_H
#define PW_KPI_INT_H

#include "alerts_int.h"

/* the series written per unit, in kpi_put's table: seven numbers, then the
 * status series, one per status */
enum { K_VALUE, K_TARGET, K_EXPECTED, K_PROGRESS, K_EXPECTED_RATIO, K_FORECAST, K_DEADLINE,
       K_STATUS, K_N = K_STATUS + VIEW_NSTATUS };

struct unit {
	struct pw_lset *l; /* its labels, without __name__ */
	bool lagging;      /* for the hysteresis */
	bool have_baseline;
	double baseline;
	/* this evaluation */
	bool seen;
	enum view_status status;
	double value, target, expected, forecast;
	/* its series, prepared once: writing them is a copy */
	struct store_key keys[K_N];
	/* its alerts' $kpi.* numbers as text, rebuilt only when they change */
	struct pw_label nums[KPI_NUMBERS];
	double nums_in[5];
	const char *nums_deadline;
};

/* one KPI alert (an alerting rule of the group kpi:<name>) */
struct kpi_rule {
	struct astate *as;
	struct pw_label match[4]; /* its constant labels */
	size_t nmatch;
	char *last_error;
	int64_t last_eval;
};

struct kpi {
	const struct conf_kpi *c;
	struct pw_tz *tz;
	struct query_expr *value, *target, *roster;
	bool target_num, baseline_auto;
	double target_v, baseline_v;
	struct kpi_point plan[KPI_MAX_POINTS];
	size_t nplan;
	struct unit *u;
	size_t nu, capu;
	size_t *uidx, uidx_cap; /* units by hash: index + 1 */
	bool loaded;            /* units known from the store's history */
	/* the forecast at the deadline per unit, as of the last fit: refitted
	 * every forecast window / 100 (the line's value at the deadline does
	 * not depend on when it is read) */
	struct kpi_fcast {
		struct pw_lset *l; /* without the name */
		double v;
	} *fc;
	size_t nfc;
	bool have_fc;
	int64_t fc_at;
	struct kpi_rule rules[KPI_NALERTS];
	int64_t last_eval;
};

struct kpis {
	struct store *st;
	const struct conf *conf;
	struct kpi *k;
	size_t n;
	struct query_opts qo;
	struct pw_label *ext;
	size_t next;
	struct pw_lbuild lb;
};

/* ---- kpi_unit.c ---- */

/* The unit with these labels (a name among them is ignored), made when new. */
struct unit *kpi_unit(struct kpi *k, const struct pw_label *l, size_t n);
/* s holds exactly l's labels but a name; h: pw_labels_hash(l, n, true). */
bool kpi_same_unit(const struct pw_lset *s, uint64_t h, const struct pw_label *l, size_t n);
void kpi_units_free(struct kpi *k);
/* Write sample `which` of u's series at t. */
void kpi_put(struct store_batch *b, int which, struct unit *u, const char *kpi, int64_t t,
	     double v);
/* The $kpi.* numbers of an alert about u (a new array of KPI_NUMBERS owned
 * strings), for the deadline (or period) given. */
struct pw_label *kpi_numbers(const struct unit *u, const struct conf_kpi *c, const char *deadline);
void kpi_numbers_free(struct pw_label *x);
/* The same kept in the unit (valid until the unit changes): only what
 * changed is formatted again. */
const struct pw_label *kpi_unit_numbers(struct unit *u, const struct conf_kpi *c,
					const char *deadline);

/* What raises a KPI alert: a unit's labels (borrowed; a name among them is
 * ignored) with the alert's value and $kpi.* numbers. */
struct kpi_fire {
	const struct pw_label *l;
	size_t n;
	double v;
	const struct pw_label *nums;
};
/* Feed each of the KPI's five alerts the units that raise it (fires[a],
 * nfires[a]) at t. */
void kpi_feed_alerts(struct kpis *ks, struct kpi *k, int64_t t, struct store_batch *b,
		     struct kpi_fire *const *fires, const size_t *nfires);

/* ---- kpi_quota.c: evaluate a calendar quota at t ---- */
int kpi_eval_quota(struct kpis *ks, struct kpi *k, int64_t t, struct store_batch *b, char **cause);

#endif
