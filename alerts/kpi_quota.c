/*
 * kpi_quota.c — calendar quotas ("at least 6 events a month"): the count of
 * each unit in the current calendar period of the KPI's time zone (the sum
 * of its samples, or a counter's exact increase), the count expected pro
 * rata by now, and the units of the period before that ended short, which
 * raise KpiMissed with a `period` label.
 */
#include "kpi_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the period holding t, in the KPI's time zone, from local midnight */
static void period_of(const struct kpi *k, int64_t t, int64_t *p0, int64_t *p1, char *name,
		      size_t sz)
{
	int64_t local = t / 1000 + pw_tz_offset(k->tz, t / 1000), days, y, y1;
	unsigned m, d, m1, d1;
	days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	pw_civil_from_days(days, &y, &m, &d);
	switch (k->c->period) {
	case CONF_PERIOD_WEEK: {
		int64_t monday = days - ((days % 7 + 7 + 3) % 7); /* 1970-01-01 was a Thursday */
		pw_civil_from_days(monday, &y, &m, &d);
		pw_civil_from_days(monday + 7, &y1, &m1, &d1);
		snprintf(name, sz, "%04lld-%02u-%02u", (long long)y, m, d);
		break;
	}
	case CONF_PERIOD_QUARTER:
		m = (m - 1) / 3 * 3 + 1, d = 1;
		y1 = m == 10 ? y + 1 : y, m1 = m == 10 ? 1 : m + 3, d1 = 1;
		snprintf(name, sz, "%04lld-Q%u", (long long)y, (m - 1) / 3 + 1);
		break;
	case CONF_PERIOD_YEAR:
		m = 1, d = 1, y1 = y + 1, m1 = 1, d1 = 1;
		snprintf(name, sz, "%04lld", (long long)y);
		break;
	default: /* month */
		d = 1;
		y1 = m == 12 ? y + 1 : y, m1 = m == 12 ? 1 : m + 1, d1 = 1;
		snprintf(name, sz, "%04lld-%02u", (long long)y, m);
		break;
	}
	*p0 = pw_tz_local_to_unix(k->tz, (int)y, (int)m, (int)d, 0, 0, 0) * 1000;
	*p1 = pw_tz_local_to_unix(k->tz, (int)y1, (int)m1, (int)d1, 0, 0, 0) * 1000;
}

/* each unit's samples in [p0, end] (a counter's from stale_after before p0,
 * for the increase across the boundary) */
static int period_samples(struct kpis *ks, struct kpi *k, int64_t p0, int64_t end,
			  struct query_result **res, char **cause)
{
	int64_t from = p0 - (k->c->count == CONF_COUNT_INCREASE ? k->c->stale_after_ms : 0);
	struct query_error e = {0};
	if (query_exec_window(ks->st, &ks->qo, k->value, end, end - from, 0, res, &e) != 0) {
		*cause = xasprintf("KPI %s, counting the period: %s", k->c->name,
				   e.msg ? e.msg : "failed");
		query_error_clear(&e);
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

/* this period's count, plan and forecast (the count at this pace) per unit */
static void judge_period(struct kpi *k, const struct query_result *cur, int64_t p0, double frac)
{
	const struct conf_kpi *c = k->c;
	for (size_t i = 0; i < cur->nseries; i++) {
		struct unit *u = kpi_unit(k, cur->series[i].labels, cur->series[i].nlabels);
		u->seen = true;
		u->value = count_series(k, &cur->series[i], p0);
		u->target = k->target_v;
		u->baseline = 0;
		u->have_baseline = true;
		u->expected = u->target * frac;
		u->forecast = frac > 0 ? u->value / frac : NAN;
		u->status = kpi_judge(c, &(struct kpi_judgement){
			.value = u->value, .expected = u->expected, .target = u->target,
			.span = fabs(u->target), .forecast = u->forecast, .past_deadline = false,
			.can_meet = c->direction == CONF_AT_LEAST}, &u->lagging);
	}
}

static void write_period(struct store_batch *b, const struct kpi *k, struct unit *u, int64_t t,
			 double frac, int64_t p1)
{
	const char *name = k->c->name;
	kpi_put(b, K_VALUE, u, name, t, u->value);
	kpi_put(b, K_TARGET, u, name, t, u->target);
	kpi_put(b, K_EXPECTED, u, name, t, u->expected);
	kpi_put(b, K_PROGRESS, u, name, t, u->target != 0 ? u->value / u->target : 1);
	kpi_put(b, K_EXPECTED_RATIO, u, name, t, frac);
	if (!isnan(u->forecast))
		kpi_put(b, K_FORECAST, u, name, t, u->forecast);
	kpi_put(b, K_DEADLINE, u, name, t, (double)(p1 / 1000));
	for (int st = 0; st < VIEW_NSTATUS; st++)
		kpi_put(b, K_STATUS + st, u, name, t, st == (int)u->status);
}

int kpi_eval_quota(struct kpis *ks, struct kpi *k, int64_t t, struct store_batch *b, char **cause)
{
	const struct conf_kpi *c = k->c;
	int64_t now = t < c->deadline_ms ? t : c->deadline_ms - 1, p0, p1, q0, q1;
	char pname[32], qname[32];
	struct query_result *cur = NULL, *prev = NULL;
	struct kpi_fire *fires[KPI_NALERTS];
	size_t nfires[KPI_NALERTS] = {0}, nmiss;
	struct pw_label *ml, **nums;
	size_t nnums = 0;
	int rc;

	if (now < c->start_ms)
		return 0;
	period_of(k, now, &p0, &p1, pname, sizeof pname);
	period_of(k, p0 - 1, &q0, &q1, qname, sizeof qname);
	if ((rc = period_samples(ks, k, p0, now, &cur, cause)) != 0)
		return rc;
	if (q1 > c->start_ms && (rc = period_samples(ks, k, q0, q1 - 1, &prev, cause)) != 0) {
		query_result_free(cur);
		return rc;
	}
	for (size_t i = 0; i < k->nu; i++)
		k->u[i].seen = false;
	double frac = (double)(now - p0) / (double)(p1 - p0);
	judge_period(k, cur, p0, frac);

	/* alerts: this period's laggards; last period's misses, named by period */
	nmiss = prev ? prev->nseries : 0;
	for (int a = 0; a < KPI_NALERTS; a++)
		fires[a] = xcalloc(k->nu + nmiss + 1, sizeof *fires[a]);
	nums = xcalloc(k->nu + nmiss + 1, sizeof *nums);
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		int a;
		if (!u->seen)
			continue;
		write_period(b, k, u, t, frac, p1);
		if (u->status != VIEW_LAGGING && u->status != VIEW_AT_RISK)
			continue;
		a = kpi_alert_of(u->status);
		nums[nnums] = kpi_numbers(u, c, pname);
		fires[a][nfires[a]++] = (struct kpi_fire){u->l->l, u->l->n, u->value, nums[nnums]};
		nnums++;
	}
	ml = xcalloc((nmiss + 1) * 72, sizeof *ml);
	for (size_t i = 0; i < nmiss; i++) {
		const struct query_series *s = &prev->series[i];
		double cnt = count_series(k, s, q0);
		struct pw_label *l = ml + i * 72;
		size_t n = 0;
		if (kpi_reached(c, cnt, k->target_v))
			continue;
		for (size_t q = 0; q < s->nlabels && n < 70; q++)
			if (strcmp(s->labels[q].name, "__name__"))
				l[n++] = s->labels[q];
		/* the numbers are the unit's in that period */
		struct pw_lset *ls = pw_lset_new(l, n);
		struct unit tmp = {.l = ls, .value = cnt, .target = k->target_v,
				   .expected = k->target_v, .forecast = cnt};
		l[n++] = (struct pw_label){"period", qname};
		nums[nnums] = kpi_numbers(&tmp, c, qname);
		fires[KPI_MISSED][nfires[KPI_MISSED]++] = (struct kpi_fire){l, n, cnt, nums[nnums]};
		nnums++;
		pw_lset_unref(ls);
	}
	kpi_feed_alerts(ks, k, t, b, fires, nfires);
	for (size_t i = 0; i < nnums; i++)
		kpi_numbers_free(nums[i]);
	for (int a = 0; a < KPI_NALERTS; a++)
		free(fires[a]);
	free(nums);
	free(ml);
	query_result_free(cur);
	query_result_free(prev);
	return 0;
}
