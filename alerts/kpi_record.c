/*
 * kpi_record.c — a KPI's record read back (docs/kpis.md, "Evaluations and
 * the record"): which slot has one, and what a slot's record says of every
 * unit; and, where there is no record, the same facts derived from the
 * source data: the units of a selector since start with their last real
 * values, and automatic baselines.
 */
#include "kpi_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading series of the store ----------------------------------------------------------- */

struct reader {
	struct store_snap *snap;
	struct store_iter *it;
};

static int reader_open(struct kpis *ks, struct reader *r)
{
	int rc = store_snap_begin(ks->st, &r->snap);
	if (rc == 0)
		r->it = store_iter_new(r->snap);
	return rc;
}

static void reader_close(struct reader *r)
{
	store_iter_free(r->it);
	store_snap_end(r->snap);
}

/* the newest real sample of series id in [mint, maxt]: true and *ts, *v */
static bool newest_real(struct reader *r, uint64_t id, int64_t mint, int64_t maxt, int64_t *ts,
			double *v)
{
	int64_t t;
	double x;
	bool found = false;
	if (store_latest(r->snap, id, &t, &x) == 0 && t <= maxt && !store_is_stale_nan(x)) {
		if (t < mint)
			return false;
		*ts = t;
		*v = x;
		return true;
	}
	if (store_iter_seek(r->it, id, mint, maxt) != 0)
		return false;
	while (store_iter_next(r->it, &t, &x) == 1)
		if (!store_is_stale_nan(x)) {
			*ts = t;
			*v = x;
			found = true;
		}
	return found;
}

/* the first real sample of series id in [mint, maxt] */
static bool first_real(struct reader *r, uint64_t id, int64_t mint, int64_t maxt, int64_t *ts,
		       double *v)
{
	int64_t t;
	double x;
	if (store_iter_seek(r->it, id, mint, maxt) != 0)
		return false;
	while (store_iter_next(r->it, &t, &x) == 1)
		if (!store_is_stale_nan(x)) {
			*ts = t;
			*v = x;
			return true;
		}
	return false;
}

/* series of the KPI's own metric in [mint, maxt] */
static int select_kpi(struct reader *r, const char *metric, const char *kpi, int64_t mint,
		      int64_t maxt, struct store_series **ss, size_t *n)
{
	struct store_matcher m[2];
	int rc;
	store_matcher_init(&m[0], STORE_MATCH_EQ, "__name__", metric, NULL);
	store_matcher_init(&m[1], STORE_MATCH_EQ, "kpi", kpi, NULL);
	rc = store_select(r->snap, m, 2, mint, maxt, false, ss, n);
	store_matcher_free(&m[0]);
	store_matcher_free(&m[1]);
	return rc;
}

/* ---- the record ---------------------------------------------------------------------------- */

/* the newest real sample of id in [start, t], looking back in growing
 * windows from t, so that the usual case reads a few samples however long
 * the series */
static bool newest_since(struct reader *r, uint64_t id, int64_t start, int64_t t, int64_t w,
			 int64_t *ts, double *v)
{
	for (int64_t hi = t;;) {
		int64_t lo = hi - w < start ? start : hi - w;
		if (newest_real(r, id, lo, hi, ts, v))
			return true;
		if (lo <= start)
			return false;
		hi = lo - 1;
		w *= 4;
	}
}

int64_t kpi_record_slot(struct kpis *ks, struct kpi *k, int64_t from, int64_t to)
{
	struct reader r;
	int64_t best = 0, ts, w = ks->conf->global.outage_tolerance_ms;
	uint64_t epoch;
	double v;
	if (to < from || reader_open(ks, &r) != 0)
		return 0;
	if (w < 60000)
		w = 60000;
	/* the KPI's pacewatch_kpi_units series, looked up again only when the
	 * store's set of series changed */
	epoch = store_series_epoch(r.snap);
	if (!epoch || epoch != k->rec_epoch) {
		struct store_series *ss = NULL;
		size_t n = 0;
		free(k->rec_ids);
		k->rec_ids = NULL;
		k->nrec_ids = 0;
		k->rec_epoch = 0;
		if (select_kpi(&r, "pacewatch_kpi_units", k->c->name, INT64_MIN, INT64_MAX, &ss, &n) ==
		    0) {
			k->rec_ids = xcalloc(n + 1, sizeof *k->rec_ids);
			for (size_t i = 0; i < n; i++)
				k->rec_ids[k->nrec_ids++] = ss[i].id;
			k->rec_epoch = epoch;
		}
		free(ss);
	}
	for (size_t i = 0; i < k->nrec_ids; i++)
		if (newest_since(&r, k->rec_ids[i], from, to, w, &ts, &v) && ts > best)
			best = ts;
	reader_close(&r);
	return best;
}

enum rec_field { R_VALUE, R_TARGET, R_BASELINE, R_EXPECTED, R_FORECAST, R_LAST_SEEN, R_BASELINE_AT,
		 R_STATUS, R_COND };

static const struct {
	const char *metric;
	enum rec_field f;
	const char *label; /* the label that says which status or condition */
} rec_fields[] = {
	{"pacewatch_kpi_value", R_VALUE, NULL},
	{"pacewatch_kpi_target", R_TARGET, NULL},
	{"pacewatch_kpi_baseline", R_BASELINE, NULL},
	{"pacewatch_kpi_expected", R_EXPECTED, NULL},
	{"pacewatch_kpi_forecast", R_FORECAST, NULL},
	{"pacewatch_kpi_last_seen_timestamp_seconds", R_LAST_SEEN, NULL},
	{"pacewatch_kpi_baseline_timestamp_seconds", R_BASELINE_AT, NULL},
	{"pacewatch_kpi_status", R_STATUS, "status"},
	{"pacewatch_kpi_condition", R_COND, "condition"},
};

static int status_by_name(const char *s)
{
	for (int i = 0; i < VIEW_NSTATUS; i++)
		if (strcmp(view_status_name(i), s) == 0)
			return i;
	return -1;
}

/* one recorded sample of unit u */
static void rec_set(struct unit *u, enum rec_field f, const char *which, double v)
{
	int s;
	switch (f) {
	case R_VALUE:
		u->value = u->n.value = v;
		u->reported = true;
		break;
	case R_TARGET: u->target = u->n.target = v; break;
	case R_BASELINE:
		u->baseline = u->n.baseline = v;
		u->have_baseline = true;
		break;
	case R_EXPECTED: u->n.expected = v; break;
	case R_FORECAST: u->n.forecast = v; break;
	case R_LAST_SEEN: u->last_seen = (int64_t)llround(v * 1000); break;
	case R_BASELINE_AT:
		u->baseline_at = (int64_t)llround(v * 1000);
		u->baseline_at_written = true;
		break;
	case R_STATUS:
		if (which && (s = status_by_name(which)) >= 0) {
			u->status = (enum view_status)s;
			u->status_written = s;
		}
		break;
	case R_COND:
		if (which && (s = status_by_name(which)) >= 0 && s < VIEW_ON_TRACK) {
			u->conds |= VIEW_COND(s);
			u->conds_written |= VIEW_COND(s);
		}
		break;
	}
}

int kpi_record_load(struct kpis *ks, struct kpi *k, int64_t s)
{
	struct reader r;
	int rc;
	if ((rc = reader_open(ks, &r)) != 0)
		return rc;
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		u->conds = u->conds_written = 0;
		u->status = VIEW_ON_TRACK;
		u->status_written = -1;
		u->n.expected = u->n.forecast = NAN;
	}
	for (size_t f = 0; f < sizeof rec_fields / sizeof rec_fields[0]; f++) {
		struct store_series *ss = NULL;
		size_t n = 0;
		/* a late starter's plan start is written once, when its
		 * baseline was taken: the newest at or before s */
		bool once = rec_fields[f].f == R_BASELINE_AT;
		int64_t from = once ? k->c->start_ms : s;
		if (select_kpi(&r, rec_fields[f].metric, k->c->name, from, s, &ss, &n) != 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			struct pw_label l[72], w[72];
			size_t nl = store_series_labels(&ss[i], l, 72), nw = 0;
			const char *which = NULL;
			struct unit *u;
			int64_t ts;
			double v;
			if (nl > 72 || !(once ? newest_since(&r, ss[i].id, from, s, 86400000, &ts, &v)
					      : newest_real(&r, ss[i].id, s, s, &ts, &v)))
				continue;
			for (size_t j = 0; j < nl; j++) {
				if (rec_fields[f].label && !strcmp(l[j].name, rec_fields[f].label))
					which = l[j].value;
				else
					w[nw++] = l[j];
			}
			u = once ? kpi_unit_find(k, w, nw) : kpi_unit(k, w, nw);
			if (u)
				rec_set(u, rec_fields[f].f, which, v);
		}
		free(ss);
	}
	reader_close(&r);
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		u->lagging = (u->conds & VIEW_COND(VIEW_LAGGING)) != 0;
		u->in_roster = (u->conds & VIEW_COND(VIEW_NOT_REPORTING)) != 0;
	}
	return 0;
}

/* ---- without a record ------------------------------------------------------------------------------ */

int kpi_derive_units(struct kpis *ks, struct kpi *k, int64_t t)
{
	struct reader r;
	struct store_series *ss = NULL;
	size_t n = 0;
	int64_t w = k->c->stale_after_ms > 3600000 ? k->c->stale_after_ms : 3600000;
	int rc;
	if (!k->selector || t < k->c->start_ms)
		return 0;
	if ((rc = reader_open(ks, &r)) != 0)
		return rc;
	if (store_select(r.snap, k->vm, k->nvm, k->c->start_ms, t, false, &ss, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct pw_label l[72];
			size_t nl = store_series_labels(&ss[i], l, 72);
			int64_t ts;
			double v;
			if (nl > 72 || !newest_since(&r, ss[i].id, k->c->start_ms, t, w, &ts, &v))
				continue;
			struct unit *u = kpi_unit(k, l, nl);
			u->reported = true;
			u->value = v;
			u->last_seen = ts;
		}
	}
	free(ss);
	reader_close(&r);
	return 0;
}

/* baselines of units that need one, as a selector's first real sample in
 * [start, t] */
static void first_samples(struct kpis *ks, struct kpi *k, int64_t t)
{
	struct reader r;
	struct store_series *ss = NULL;
	size_t n = 0;
	if (reader_open(ks, &r) != 0)
		return;
	if (store_select(r.snap, k->vm, k->nvm, k->c->start_ms, t, false, &ss, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct pw_label l[72];
			size_t nl = store_series_labels(&ss[i], l, 72);
			struct unit *u;
			int64_t ts;
			double v;
			if (nl > 72 || !(u = kpi_unit_find(k, l, nl)) || u->have_baseline)
				continue;
			if (first_real(&r, ss[i].id, k->c->start_ms, t, &ts, &v)) {
				u->baseline = v;
				u->baseline_at = ts;
				u->have_baseline = true;
			}
		}
	}
	free(ss);
	reader_close(&r);
}

/* baselines of units that need one, as another expression's value at the
 * first whole UTC hour from start at which it has one */
static void first_hours(struct kpis *ks, struct kpi *k, int64_t t)
{
	struct query_result *res = NULL;
	struct query_error e = {0};
	struct query_opts o = ks->qo;
	int64_t h0 = (k->c->start_ms + 3599999) / 3600000 * 3600000;
	if (h0 > t)
		return;
	o.lookback_ms = k->c->stale_after_ms;
	if (query_exec_range(ks->st, &o, k->value, h0, t, 3600000, &res, &e) != 0) {
		query_error_clear(&e);
		return;
	}
	for (size_t i = 0; i < res->nseries; i++) {
		struct unit *u = kpi_unit_find(k, res->series[i].labels, res->series[i].nlabels);
		if (u && !u->have_baseline && res->series[i].n) {
			u->baseline = res->series[i].pts[0].v;
			u->baseline_at = res->series[i].pts[0].t;
			u->have_baseline = true;
		}
	}
	query_result_free(res);
}

void kpi_baselines(struct kpis *ks, struct kpi *k, int64_t t)
{
	const struct conf_kpi *c = k->c;
	struct query_result *bs = NULL;
	char *ignore = NULL;
	bool need = false;
	if (k->kind == VIEW_KPI_COVERAGE)
		return; /* a switch has no baseline */
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		if (u->have_baseline || !u->reported)
			continue;
		if (!k->baseline_auto) {
			u->baseline = k->baseline_v;
			u->have_baseline = true;
			continue;
		}
		need = true;
	}
	if (!need)
		return;
	/* its value at start */
	if (kpi_query(ks, k, k->value, c->start_ms,
		      c->stale_after_ms > 86400000 ? c->stale_after_ms : 86400000, &bs, "baseline",
		      &ignore) == 0) {
		for (size_t j = 0; j < bs->nseries; j++) {
			struct unit *u = kpi_unit_find(k, bs->series[j].labels, bs->series[j].nlabels);
			if (u && !u->have_baseline) {
				u->baseline = bs->series[j].pts[0].v;
				u->have_baseline = true;
			}
		}
	}
	free(ignore);
	query_result_free(bs);
	/* else its first value after start */
	if (k->selector)
		first_samples(ks, k, t);
	else
		first_hours(ks, k, t);
	/* else where it stands now */
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		if (!u->have_baseline && u->fresh) {
			u->baseline = u->value;
			u->baseline_at = t;
			u->have_baseline = true;
		}
	}
}
