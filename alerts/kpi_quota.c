/*
 * kpi_quota.c — calendar quotas ("at least 6 events a month", docs/kpis.md):
 * each unit's count in the calendar period of the KPI's time zone that holds
 * the slot (the sum of its samples, or a counter's exact increase), the count
 * expected pro rata by now, and the period before: a unit whose count there
 * fell short is missed throughout this one. A unit with nothing this period
 * counts 0 and stays listed.
 */
#include "kpi_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the period holding t, in the KPI's time zone, from local midnight
 * (conf's periods are pw_period's, in the same order) */
_Static_assert((int)PW_PERIOD_WEEK == CONF_PERIOD_WEEK && (int)PW_PERIOD_MONTH == CONF_PERIOD_MONTH &&
		       (int)PW_PERIOD_QUARTER == CONF_PERIOD_QUARTER &&
		       (int)PW_PERIOD_YEAR == CONF_PERIOD_YEAR,
	       "conf's periods are pw_period's");
static void period_of(const struct kpi *k, int64_t t, int64_t *p0, int64_t *p1, char *name,
		      size_t sz)
{
	pw_period_of(k->tz, (enum pw_period)k->c->period, t, p0, p1, name, sz);
}

/* each series' real samples in [p0, end] (a counter's from stale_after
 * before p0, for the increase across the boundary) */
static int period_samples(struct kpis *ks, struct kpi *k, int64_t p0, int64_t end,
			  struct query_result **res, char **cause)
{
	int64_t from = p0 - (k->c->count == CONF_COUNT_INCREASE ? k->c->stale_after_ms : 0);
	struct query_error e = {0};
	if (query_exec_window(ks->st, &ks->qo, k->value, end, end - from, 0, res, &e) != 0) {
		*cause = xasprintf("KPI %s, counting the period: %s", k->c->name,
				   e.msg ? e.msg : "failed");
		query_error_clear(&e);
		*res = NULL;
		return PW_EINVAL;
	}
	return 0;
}

/* a unit's count from p0: the sum of its samples, or a counter's exact
 * increase (a reset counts from zero; no extrapolation) */
static double count_series(const struct kpi *k, const struct query_series *s, int64_t p0)
{
	double sum = 0, prev = NAN;
	for (size_t i = 0; i < s->n; i++) {
		double v = s->pts[i].v;
		if (k->c->count == CONF_COUNT_SUM) {
			if (s->pts[i].t >= p0 && !isnan(v))
				sum += v;
			continue;
		}
		if (s->pts[i].t >= p0 && !isnan(prev))
			sum += v >= prev ? v - prev : v;
		prev = v;
	}
	return sum;
}

/* the time of a series' newest and first samples in [from, ...] */
static void seen(struct unit *u, const struct query_series *s, int64_t p0)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->pts[i].t < p0)
			continue;
		if (!u->first_seen || s->pts[i].t < u->first_seen)
			u->first_seen = s->pts[i].t;
		if (s->pts[i].t > u->last_seen)
			u->last_seen = s->pts[i].t;
	}
}

/* units that reported before the period before ended, though not in it:
 * they are judged for it (with 0) */
static void known_before(struct kpis *ks, struct kpi *k, int64_t q1)
{
	struct store_snap *snap;
	struct store_series *ss = NULL;
	size_t n = 0;
	bool need = false;
	for (size_t i = 0; i < k->nu && !need; i++)
		need = isnan(k->u[i].prev_count) && !(k->u[i].first_seen && k->u[i].first_seen < q1);
	if (!need || store_snap_begin(ks->st, &snap) != 0)
		return;
	if (store_select(snap, k->vm, k->nvm, INT64_MIN, q1 - 1, false, &ss, &n) == 0)
		for (size_t i = 0; i < n; i++) {
			struct pw_label l[72];
			size_t nl = store_series_labels(&ss[i], l, 72);
			struct unit *u;
			if (nl <= 72 && (u = kpi_unit_find(k, l, nl)) && isnan(u->prev_count))
				u->prev_count = 0;
		}
	free(ss);
	store_snap_end(snap);
}

/* this period's counts and the period before's */
static int count_periods(struct kpis *ks, struct kpi *k, int64_t t, int64_t now, int64_t p0,
			 int64_t q0, int64_t q1, char **cause)
{
	const struct conf_kpi *c = k->c;
	struct query_result *cur = NULL, *prev = NULL;
	int rc;
	if ((rc = period_samples(ks, k, p0, now, &cur, cause)) != 0)
		return rc;
	if (q1 > c->start_ms && (rc = period_samples(ks, k, q0, q1 - 1, &prev, cause)) != 0) {
		query_result_free(cur);
		return rc;
	}
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		u->fresh = false;
		if (u->reported)
			u->value = 0; /* nothing yet this period */
		u->prev_count = NAN;
	}
	for (size_t i = 0; cur && i < cur->nseries; i++) {
		const struct query_series *s = &cur->series[i];
		struct unit *u = kpi_unit(k, s->labels, s->nlabels);
		u->value = count_series(k, s, p0);
		u->reported = true;
		seen(u, s, p0 - (c->count == CONF_COUNT_INCREASE ? c->stale_after_ms : 0));
	}
	for (size_t i = 0; prev && i < prev->nseries; i++) {
		const struct query_series *s = &prev->series[i];
		struct unit *u = kpi_unit(k, s->labels, s->nlabels);
		u->prev_count = count_series(k, s, q0);
		if (!u->reported) {
			u->reported = true;
			u->value = 0;
		}
		seen(u, s, q0 - (c->count == CONF_COUNT_INCREASE ? c->stale_after_ms : 0));
	}
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		u->fresh = u->reported && u->last_seen && u->last_seen >= t - c->stale_after_ms &&
			   u->last_seen <= t;
	}
	if (prev)
		known_before(ks, k, q1);
	query_result_free(cur);
	query_result_free(prev);
	return 0;
}

int kpi_eval_quota(struct kpis *ks, struct kpi *k, int64_t t, struct store_batch *b, char **cause)
{
	const struct conf_kpi *c = k->c;
	int64_t now = t < c->deadline_ms ? t : c->deadline_ms - 1, p0, p1, q0, q1;
	bool recorded;
	char qname[32];
	double frac, target = k->target_v;
	int rc;

	recorded = kpi_prepare(ks, k, t);
	period_of(k, now, &p0, &p1, k->period, sizeof k->period);
	period_of(k, p0 - 1, &q0, &q1, qname, sizeof qname);
	snprintf(k->prev_period, sizeof k->prev_period, "%s", q1 > c->start_ms ? qname : "");
	if (recorded) {
		for (size_t i = 0; i < k->nu; i++) {
			struct unit *u = &k->u[i];
			u->fresh = u->reported && !(u->conds & VIEW_COND(VIEW_STALE));
			kpi_numbers_of(c, &u->n);
		}
		return 0;
	}
	if ((rc = count_periods(ks, k, t, now, p0, q0, q1, cause)) != 0 ||
	    (rc = kpi_read_roster(ks, k, t, cause)) != 0)
		return rc;
	kpi_stale_since(ks, k, t);
	kpi_units_prune(k);
	frac = (double)(now - p0) / (double)(p1 - p0);
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		bool judged = !isnan(u->prev_count) || u->in_roster;
		double pc = isnan(u->prev_count) ? 0 : u->prev_count;
		u->target = target;
		u->baseline = 0;
		u->have_baseline = true;
		u->n.expected = target * frac;
		u->n.forecast = u->reported && frac > 0 ? u->value / frac : NAN;
		kpi_judge_unit(k, u, t, false, c->direction == CONF_AT_LEAST);
		/* the period before, if the unit had reported by its end */
		if (q1 > c->start_ms && judged && u->reported && !kpi_reached(c, pc, target)) {
			u->prev_count = pc;
			u->conds |= VIEW_COND(VIEW_MISSED);
			u->status = view_status_of(u->conds);
		}
		kpi_write_unit(b, k, u, t);
	}
	kpi_write_kpi(ks, b, k, t, p1);
	return 0;
}
