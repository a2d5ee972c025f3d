/*
 * kpi_forecast.c — a level KPI's forecast at the deadline (docs/kpis.md,
 * "Numbers of a unit"): ordinary least squares over the forecast window
 * [t - window, t], read at the deadline, as Prometheus' predict_linear.
 *
 * For a series selector the fit is over the unit's own real samples. A
 * window of days holds thousands of samples per unit, too many to read at
 * every slot, so each unit keeps the sums of the fit and moves them with
 * the window: the samples that arrived since the last slot are added, the
 * ones that left the window are taken out. Every window / 100 (spread over
 * the units) a unit's sums are made again from the store, so a sample
 * written with an old timestamp counts from then on, and rounding does not
 * pile up.
 *
 * Any other expression is sampled at multiples of max(60 s, window / 60),
 * as the subquery `(value)[window:step]`; those points change only when a
 * step boundary enters or leaves the window, so the fit is made again only
 * then.
 */
#include "kpi_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t refit_every(const struct kpis *ks, const struct kpi *k)
{
	int64_t iv = ks->conf->global.evaluation_interval_ms, r = k->c->forecast_ms / 100;
	return r > iv ? r : iv;
}

static void fit_add(struct ufit *f, int64_t ts, double v, double sign)
{
	double x = (double)(ts - f->origin) / 1000;
	f->n += sign;
	f->sx += sign * x;
	f->sy += sign * v;
	f->sxy += sign * x * v;
	f->sx2 += sign * x * x;
}

static void fit_clear(struct ufit *f, int64_t origin)
{
	f->origin = origin;
	f->n = f->sx = f->sy = f->sxy = f->sx2 = 0;
	f->lo = f->hi = 0;
}

/* the sums made again from the samples in [t - w, t] */
static void fit_full(struct kpis *ks, const struct kpi *k, struct unit *u, struct store_iter *it,
		     int64_t t)
{
	struct ufit *f = &u->fit;
	int64_t w = k->c->forecast_ms, r = refit_every(ks, k), iv = ks->conf->global.evaluation_interval_ms;
	int64_t ts;
	double v;
	fit_clear(f, t);
	if (store_iter_seek(it, f->sid, t - w, t) == 0)
		while (store_iter_next(it, &ts, &v) == 1) {
			if (store_is_stale_nan(v))
				continue;
			fit_add(f, ts, v, 1);
			if (!f->lo)
				f->lo = ts;
			f->hi = ts;
		}
	/* the next refit, spread over [t + I, t + r] by the unit's labels */
	f->refit_at = t + r - (int64_t)(u->l->h % (uint64_t)(r / iv)) * iv;
	if (f->refit_at <= t)
		f->refit_at = t + iv;
	f->at = t;
	f->ok = true;
}

/* the sums moved from the slot before to t */
static void fit_move(struct kpis *ks, const struct kpi *k, struct unit *u, struct store_snap *snap,
		     struct store_iter *it, int64_t t)
{
	struct ufit *f = &u->fit;
	int64_t w = k->c->forecast_ms, ts;
	double v;
	if (!f->ok || t < f->at || t >= f->refit_at || f->sid != f->fitted_sid) {
		f->fitted_sid = f->sid;
		fit_full(ks, k, u, it, t);
		return;
	}
	/* what arrived since (read_values has just read its newest sample) */
	if (f->latest_at == t)
		ts = f->latest;
	else if (store_latest(snap, f->sid, &ts, &v) != 0)
		ts = INT64_MAX;
	if (ts > f->hi) {
		if (store_iter_seek(it, f->sid, f->hi + 1, t) == 0)
			while (store_iter_next(it, &ts, &v) == 1) {
				if (store_is_stale_nan(v))
					continue;
				fit_add(f, ts, v, 1);
				if (!f->lo)
					f->lo = ts;
				f->hi = ts;
			}
	}
	/* what left the window */
	if (f->lo && f->lo < t - w) {
		int64_t lo = 0;
		if (store_iter_seek(it, f->sid, f->lo, f->hi) == 0)
			while (store_iter_next(it, &ts, &v) == 1) {
				if (store_is_stale_nan(v))
					continue;
				if (ts >= t - w) {
					lo = ts;
					break;
				}
				fit_add(f, ts, v, -1);
			}
		f->lo = lo;
		if (!lo)
			fit_clear(f, f->origin); /* empty: exactly zero */
	}
	f->at = t;
}

/* the fitted line at the deadline (NaN: fewer than two points) */
static double fit_value(const struct ufit *f, int64_t deadline)
{
	double cov, var, slope;
	if (f->n < 2)
		return NAN;
	cov = f->sxy - f->sx * f->sy / f->n;
	var = f->sx2 - f->sx * f->sx / f->n;
	slope = var != 0 ? cov / var : 0;
	return (f->sy - slope * f->sx) / f->n + slope * (double)(deadline - f->origin) / 1000;
}

static void selector_forecasts(struct kpis *ks, struct kpi *k, int64_t t)
{
	struct store_snap *snap;
	struct store_iter *it;
	if (store_snap_begin(ks->st, &snap) != 0)
		return;
	it = store_iter_new(snap);
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		if (!u->fit.sid)
			continue;
		fit_move(ks, k, u, snap, it, t);
		u->n.forecast = fit_value(&u->fit, k->c->deadline_ms);
		u->fc_span = u->fit.lo && u->fit.n >= 2 ? u->fit.hi - u->fit.lo : 0;
	}
	store_iter_free(it);
	store_snap_end(snap);
}

void kpi_forecast_free(struct kpi *k)
{
	for (size_t i = 0; i < k->nfc; i++)
		pw_lset_unref(k->fc[i].l);
	free(k->fc);
	k->fc = NULL;
	k->nfc = 0;
	k->fc_first = k->fc_last = 0;
}

/* the subquery's points: multiples of step in [t - w, t] */
static void expr_fit(struct kpis *ks, struct kpi *k, int64_t t)
{
	const struct conf_kpi *c = k->c;
	struct query_result *w = NULL;
	struct query_error e = {0};
	struct query_opts o = ks->qo;
	int64_t step = 1000 * (c->forecast_ms / 60000 > 60 ? c->forecast_ms / 60000 : 60);
	int64_t last = t - ((t % step) + step) % step, lo = t - c->forecast_ms;
	int64_t first = lo - ((lo % step) + step) % step;
	if (first < lo)
		first += step;
	if (k->fc && first == k->fc_first && last == k->fc_last)
		return;
	kpi_forecast_free(k);
	k->fc_first = first;
	k->fc_last = last;
	o.lookback_ms = c->stale_after_ms;
	if (query_exec_window(ks->st, &o, k->value, t, c->forecast_ms, step, &w, &e) != 0) {
		query_error_clear(&e);
		k->fc = xcalloc(1, sizeof *k->fc);
		return;
	}
	k->fc = xcalloc(w->nseries + 1, sizeof *k->fc);
	for (size_t i = 0; i < w->nseries; i++) {
		const struct query_series *s = &w->series[i];
		struct pw_label tmp[72];
		size_t m = 0;
		double v;
		if (!query_predict_linear(s->pts, s->n, t, (double)(c->deadline_ms - t) / 1000, &v))
			continue;
		for (size_t j = 0; j < s->nlabels && m < 72; j++)
			if (strcmp(s->labels[j].name, "__name__"))
				tmp[m++] = s->labels[j];
		k->fc[k->nfc].l = pw_lset_new(tmp, pw_labels_sort(tmp, m));
		k->fc[k->nfc].span = s->pts[s->n - 1].t - s->pts[0].t;
		k->fc[k->nfc++].v = v;
	}
	query_result_free(w);
}

void kpi_forecasts(struct kpis *ks, struct kpi *k, int64_t t)
{
	for (size_t i = 0; i < k->nu; i++) {
		k->u[i].n.forecast = NAN;
		k->u[i].fc_span = 0;
	}
	if (k->selector) {
		selector_forecasts(ks, k, t);
		return;
	}
	expr_fit(ks, k, t);
	for (size_t i = 0; i < k->nu; i++)
		for (size_t q = 0; q < k->nfc; q++) {
			size_t j = (i + q) % k->nfc;
			if (pw_lset_eq(k->fc[j].l, k->u[i].l)) {
				k->u[i].n.forecast = k->fc[j].v;
				k->u[i].fc_span = k->fc[j].span;
				break;
			}
		}
}
