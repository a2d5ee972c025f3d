/*
 * kpi.c — the KPI engine: every evaluation reads each KPI's value per unit,
 * its target, the plan's value by now (kpi_model.c), the least-squares
 * forecast at the deadline and a status; writes them as pacewatch_kpi_*
 * series; and feeds the KPI alerts the units that lag, are at risk, missed
 * the deadline, went stale or are missing from the roster. Calendar quotas
 * are kpi_quota.c's; the units, their series and alerts kpi_unit.c's.
 */
#include "kpi_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- set-up ------------------------------------------------------------------------ */

static int kpi_init(struct kpis *ks, size_t i, char **cause)
{
	struct kpi *k = &ks->k[i];
	const struct conf *c = ks->conf;
	struct query_error e = {0};
	char *why = NULL;
	const char *tzn;

	k->c = &c->kpis[i];
	tzn = k->c->timezone ? k->c->timezone : c->global.timezone;
	if (pw_tz_load(tzn ? tzn : "UTC", &k->tz, &why) != 0) {
		*cause = xasprintf("kpis[%zu] (%s): %s", i, k->c->name, why);
		free(why);
		return PW_EINVAL;
	}
	k->target_num = pw_number(k->c->target, &k->target_v);
	k->baseline_auto = !k->c->baseline || strcmp(k->c->baseline, "auto") == 0;
	if (!k->baseline_auto)
		pw_number(k->c->baseline, &k->baseline_v);
	k->nplan = kpi_plan(k->c, k->plan);
	if (query_parse(k->c->value, &k->value, &e) != 0 ||
	    (!k->target_num && query_parse(k->c->target, &k->target, &e) != 0) ||
	    (k->c->roster && query_parse(k->c->roster, &k->roster, &e) != 0)) {
		*cause = xasprintf("kpis[%zu] (%s): %s", i, k->c->name, e.msg);
		query_error_clear(&e);
		return PW_EINVAL;
	}
	if (k->c->period != CONF_PERIOD_NONE && !query_expr_is_selector(k->value)) {
		*cause = xasprintf("kpis[%zu] (%s): a calendar quota counts samples, so its value "
				   "is a series selector, not \"%s\"", i, k->c->name, k->c->value);
		return PW_EINVAL;
	}
	for (int a = 0; a < KPI_NALERTS; a++) {
		struct kpi_rule *r = &k->rules[a];
		r->nmatch = kpi_alert_labels(k->c, (enum kpi_alert)a, r->match);
		r->as = astate_new(&(struct astate_opts){
			.name = kpi_alert_defs[a].name,
			.for_ms = kpi_alert_defs[a].uses_for ? k->c->for_ms : 0,
			.outage_tolerance_ms = c->global.outage_tolerance_ms,
			.match = r->match, .nmatch = r->nmatch});
	}
	return 0;
}

int kpis_new(const struct conf *c, struct store *st, struct kpis **out, char **cause)
{
	struct kpis *ks = xcalloc(1, sizeof *ks);
	*out = NULL;
	ks->st = st;
	ks->conf = c;
	ks->n = c->nkpis;
	ks->k = xcalloc(c->nkpis + 1, sizeof *ks->k);
	ks->qo.max_samples = (uint64_t)c->query.max_samples;
	ks->qo.timeout_ms = c->query.timeout_ms;
	ks->ext = xcalloc(c->global.external_labels.n + 1, sizeof *ks->ext);
	for (size_t i = 0; i < c->global.external_labels.n; i++)
		ks->ext[i] = (struct pw_label){c->global.external_labels.v[i].name,
					       c->global.external_labels.v[i].value};
	ks->next = c->global.external_labels.n;
	pw_lbuild_init(&ks->lb);
	for (size_t i = 0; i < c->nkpis; i++) {
		if (kpi_init(ks, i, cause) != 0) {
			kpis_free(ks);
			return PW_EINVAL;
		}
	}
	*out = ks;
	return 0;
}

static void forecast_free(struct kpi *k);

void kpis_free(struct kpis *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n; i++) {
		struct kpi *k = &ks->k[i];
		query_expr_free(k->value);
		query_expr_free(k->target);
		query_expr_free(k->roster);
		forecast_free(k);
		pw_tz_free(k->tz);
		kpi_units_free(k);
		for (int a = 0; a < KPI_NALERTS; a++) {
			astate_free(k->rules[a].as);
			free(k->rules[a].last_error);
		}
	}
	free(ks->k);
	free(ks->ext);
	pw_lbuild_free(&ks->lb);
	free(ks);
}

/* units this KPI reported before: its own pacewatch_kpi_value series with
 * a sample within twice stale_after */
static void load_known(struct kpis *ks, struct kpi *k, int64_t t)
{
	struct store_snap *snap;
	struct store_matcher m[2];
	struct store_series *ss = NULL;
	size_t n = 0;
	int64_t from = t - (2 * k->c->stale_after_ms + 60000);
	k->loaded = true;
	if (store_snap_begin(ks->st, &snap) != 0)
		return;
	store_matcher_init(&m[0], STORE_MATCH_EQ, "__name__", "pacewatch_kpi_value", NULL);
	store_matcher_init(&m[1], STORE_MATCH_EQ, "kpi", k->c->name, NULL);
	if (store_select(snap, m, 2, from, t, false, &ss, &n) == 0) {
		struct store_iter *it = store_iter_new(snap);
		for (size_t i = 0; i < n; i++) {
			struct pw_label l[72], w[72];
			size_t nl = store_series_labels(&ss[i], l, 72), nw = 0;
			int64_t ts;
			double v;
			bool fresh = false;
			if (nl > 72 || store_iter_seek(it, ss[i].id, from, t) != 0)
				continue;
			while (!fresh && store_iter_next(it, &ts, &v) == 1)
				fresh = !store_is_stale_nan(v);
			if (!fresh)
				continue;
			for (size_t j = 0; j < nl; j++)
				if (strcmp(l[j].name, "kpi"))
					w[nw++] = l[j];
			kpi_unit(k, w, pw_labels_sort(w, nw));
		}
		store_iter_free(it);
	}
	free(ss);
	store_matcher_free(&m[0]);
	store_matcher_free(&m[1]);
	store_snap_end(snap);
}

/* ---- one evaluation of a level KPI ----------------------------------------------------------------- */

static int query_at(struct kpis *ks, const struct query_expr *x, int64_t t, int64_t lookback,
		    struct query_result **res, char **cause, const char *what, const char *kpi)
{
	struct query_opts o = ks->qo;
	struct query_error e = {0};
	o.lookback_ms = lookback;
	if (query_exec_instant(ks->st, &o, x, t, res, &e) != 0) {
		*cause = xasprintf("KPI %s, %s: %s", kpi, what, e.msg ? e.msg : "failed");
		query_error_clear(&e);
		return PW_EINVAL;
	}
	return 0;
}

static void forecast_free(struct kpi *k)
{
	for (size_t i = 0; i < k->nfc; i++)
		pw_lset_unref(k->fc[i].l);
	free(k->fc);
	k->fc = NULL;
	k->nfc = 0;
	k->have_fc = false;
}

/* ordinary least squares over the forecast window (predict_linear), read at
 * the deadline: a selector over its own samples, any other expression
 * sampled 60 times over the window; refitted every window / 100 */
static void refit_forecast(struct kpis *ks, struct kpi *k, int64_t t)
{
	const struct conf_kpi *c = k->c;
	struct query_result *w = NULL;
	struct query_error e = {0};
	struct query_opts o = ks->qo;
	int64_t step = 1000 * (c->forecast_ms / 60000 > 60 ? c->forecast_ms / 60000 : 60);
	if (t >= c->deadline_ms ||
	    (k->have_fc && t >= k->fc_at && t - k->fc_at < c->forecast_ms / 100))
		return;
	forecast_free(k);
	k->fc_at = t;
	o.lookback_ms = c->stale_after_ms;
	if (query_exec_window(ks->st, &o, k->value, t, c->forecast_ms, step, &w, &e) != 0) {
		query_error_clear(&e);
		return;
	}
	k->fc = xcalloc(w->nseries + 1, sizeof *k->fc);
	k->have_fc = true;
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
		k->fc[k->nfc].l = pw_lset_new(tmp, m);
		k->fc[k->nfc++].v = v;
	}
	query_result_free(w);
}

/* the unit's forecast; hint: where to look first (the window's series come
 * in the order of the values') */
static double forecast_of(const struct kpi *k, const struct unit *u, size_t hint)
{
	for (size_t q = 0; q < k->nfc; q++) {
		size_t i = (hint + q) % k->nfc;
		if (pw_lset_eq(k->fc[i].l, u->l))
			return k->fc[i].v;
	}
	return NAN;
}

/* the labels both have agree, and there is at least one */
static bool shared_agree(const struct pw_label *a, size_t na, const struct pw_label *b, size_t nb)
{
	size_t shared = 0;
	for (size_t i = 0; i < na; i++) {
		const char *v;
		if (!strcmp(a[i].name, "__name__") || !(v = pw_labels_get(b, nb, a[i].name)))
			continue;
		if (strcmp(v, a[i].value))
			return false;
		shared++;
	}
	return shared > 0;
}

/* the units reporting now: value, target, forecast */
static void take_values(struct kpi *k, const struct query_result *val,
			const struct query_result *tgt, int64_t t)
{
	for (size_t i = 0; val->type == QUERY_VECTOR && i < val->nseries; i++) {
		const struct query_series *s = &val->series[i];
		struct unit *u = kpi_unit(k, s->labels, s->nlabels);
		u->seen = true;
		u->value = s->pts[0].v;
		u->target = k->target_v;
		if (tgt) {
			/* the target series whose shared labels agree (or one without labels) */
			u->target = NAN;
			for (size_t j = 0; j < tgt->nseries; j++) {
				const struct query_series *ts = &tgt->series[j];
				if (shared_agree(ts->labels, ts->nlabels, u->l->l, u->l->n) ||
				    ts->nlabels == 0 ||
				    (ts->nlabels == 1 && !strcmp(ts->labels[0].name, "__name__"))) {
					u->target = ts->pts[0].v;
					break;
				}
			}
		}
		u->forecast = t >= k->c->deadline_ms ? u->value : forecast_of(k, u, i);
	}
}

/* baselines: given, or each unit's value at start (read once, one query for
 * all the units that need it; a unit without data then starts from where it
 * stands when first seen) */
static void take_baselines(struct kpis *ks, struct kpi *k)
{
	const struct conf_kpi *c = k->c;
	struct query_result *bs = NULL;
	bool need = false;
	for (size_t i = 0; i < k->nu && !need; i++)
		need = k->u[i].seen && !k->u[i].have_baseline && k->baseline_auto;
	if (need) {
		char *ignore = NULL;
		if (query_at(ks, k->value, c->start_ms,
			     c->stale_after_ms > 86400000 ? c->stale_after_ms : 86400000, &bs, &ignore,
			     "baseline", c->name) != 0)
			bs = NULL;
		free(ignore);
	}
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		if (!u->seen || u->have_baseline)
			continue;
		u->have_baseline = true;
		if (!k->baseline_auto) {
			u->baseline = k->baseline_v;
			continue;
		}
		u->baseline = u->value;
		for (size_t j = 0; bs && j < bs->nseries; j++) {
			const struct query_series *s = &bs->series[j];
			if (kpi_same_unit(u->l, pw_labels_hash(s->labels, s->nlabels, true), s->labels,
				      s->nlabels)) {
				u->baseline = s->pts[0].v;
				break;
			}
		}
	}
	query_result_free(bs);
}

/* the roster: a unit that must report and is covered by no unit (a unit
 * that reported before and stopped is stale, not missing) is missing */
static void take_roster(struct kpi *k, const struct query_result *ros)
{
	for (size_t j = 0; ros && j < ros->nseries; j++) {
		const struct query_series *rs = &ros->series[j];
		bool covered = false;
		for (size_t i = 0; i < k->nu && !covered; i++)
			covered = (k->u[i].seen || k->u[i].status != VIEW_MISSING) &&
				  shared_agree(rs->labels, rs->nlabels, k->u[i].l->l, k->u[i].l->n);
		if (!covered) {
			struct unit *u = kpi_unit(k, rs->labels, rs->nlabels);
			u->seen = true;
			u->status = VIEW_MISSING;
			u->value = NAN;
			u->target = k->target_num ? k->target_v : NAN;
			u->forecast = NAN;
			u->have_baseline = false;
		}
	}
}

/* a unit's status and the alert it raises (-1: none) */
static int judge_unit(const struct kpi *k, struct unit *u, int64_t t)
{
	const struct conf_kpi *c = k->c;
	if (!u->seen) {
		u->status = VIEW_STALE;
		return KPI_STALE;
	}
	if (u->status == VIEW_MISSING && isnan(u->value))
		return KPI_MISSING;
	u->expected = kpi_expected(c, k->plan, k->nplan, u->baseline, u->target, t);
	u->status = kpi_judge(c, &(struct kpi_judgement){
		.value = u->value, .expected = u->expected, .target = u->target,
		.span = fabs(u->target - u->baseline), .forecast = u->forecast,
		.past_deadline = t >= c->deadline_ms, .can_meet = true}, &u->lagging);
	return kpi_alert_of(u->status);
}

static void write_unit(struct store_batch *b, const struct kpi *k, struct unit *u, int64_t t)
{
	const struct conf_kpi *c = k->c;
	if (u->status != VIEW_STALE && u->status != VIEW_MISSING) {
		double den = u->target - u->baseline;
		kpi_put(b, K_VALUE, u, c->name, t, u->value);
		kpi_put(b, K_TARGET, u, c->name, t, u->target);
		kpi_put(b, K_EXPECTED, u, c->name, t, u->expected);
		kpi_put(b, K_PROGRESS, u, c->name, t,
			den != 0 ? (u->value - u->baseline) / den : kpi_reached(c, u->value, u->target));
		kpi_put(b, K_EXPECTED_RATIO, u, c->name, t,
			den != 0 ? (u->expected - u->baseline) / den : 1);
		if (!isnan(u->forecast))
			kpi_put(b, K_FORECAST, u, c->name, t, u->forecast);
	}
	kpi_put(b, K_DEADLINE, u, c->name, t, (double)(c->deadline_ms / 1000));
	for (int s = 0; s < VIEW_NSTATUS; s++)
		kpi_put(b, K_STATUS + s, u, c->name, t, s == (int)u->status);
}

static int eval_level(struct kpis *ks, struct kpi *k, int64_t t, struct store_batch *b,
		      char **cause)
{
	const struct conf_kpi *c = k->c;
	struct query_result *val = NULL, *tgt = NULL, *ros = NULL;
	struct kpi_fire *fires[KPI_NALERTS];
	size_t nfires[KPI_NALERTS] = {0};
	int rc;

	if (!k->loaded)
		load_known(ks, k, t);
	for (size_t i = 0; i < k->nu; i++)
		k->u[i].seen = false;
	if ((rc = query_at(ks, k->value, t, c->stale_after_ms, &val, cause, "value", c->name)) != 0)
		return rc;
	if (k->target && (rc = query_at(ks, k->target, t, c->stale_after_ms, &tgt, cause, "target",
					c->name)) != 0)
		goto out;
	if (k->roster && (rc = query_at(ks, k->roster, t, c->stale_after_ms, &ros, cause, "roster",
					c->name)) != 0)
		goto out;
	refit_forecast(ks, k, t);
	take_values(k, val, tgt, t);
	take_baselines(ks, k);
	take_roster(k, ros);
	for (int a = 0; a < KPI_NALERTS; a++)
		fires[a] = xcalloc(k->nu + 1, sizeof *fires[a]);
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		int a = judge_unit(k, u, t);
		write_unit(b, k, u, t);
		if (a < 0)
			continue;
		fires[a][nfires[a]++] = (struct kpi_fire){u->l->l, u->l->n,
							  isnan(u->value) ? 0 : u->value,
							  kpi_unit_numbers(u, c, c->deadline)};
	}
	kpi_feed_alerts(ks, k, t, b, fires, nfires);
	for (int a = 0; a < KPI_NALERTS; a++)
		free(fires[a]);
out:
	query_result_free(val);
	query_result_free(tgt);
	query_result_free(ros);
	return rc;
}

int kpis_eval(struct kpis *ks, int64_t t, bool dry, char **cause)
{
	/* one transaction (one fsync) for the whole evaluation; a KPI whose
	 * query fails writes what it computed before the failure, nothing
	 * after it */
	struct store_batch *b = store_batch_begin(ks->st);
	int rc;
	for (size_t i = 0; i < ks->n; i++) {
		struct kpi *k = &ks->k[i];
		char *why = NULL;
		if ((k->c->period != CONF_PERIOD_NONE ? kpi_eval_quota(ks, k, t, b, &why)
						      : eval_level(ks, k, t, b, &why)) != 0) {
			log_warnx("kpi", "%s", why);
			free(why);
		}
	}
	if (dry) {
		store_batch_abort(b);
		return 0;
	}
	if ((rc = store_batch_commit(b, cause)) != 0)
		return rc;
	/* the units' series ids, so the next evaluation skips looking them up;
	 * in steady state none is stale and nothing is allocated */
	{
		size_t n = 0, cap = 0;
		struct store_key **keys = NULL;
		for (size_t i = 0; i < ks->n; i++)
			for (size_t j = 0; j < ks->k[i].nu; j++)
				for (int q = 0; q < K_N; q++) {
					if (!store_key_stale(ks->st, &ks->k[i].u[j].keys[q]))
						continue;
					if (n == cap) {
						cap = cap ? 2 * cap : 1024;
						keys = xreallocarray(keys, cap, sizeof *keys);
					}
					keys[n++] = &ks->k[i].u[j].keys[q];
				}
		if (n)
			store_keys_resolve(ks->st, keys, n);
		free(keys);
		for (size_t i = 0; i < ks->n; i++)
			for (int a = 0; a < KPI_NALERTS; a++)
				astate_resolve(ks->k[i].rules[a].as, ks->st);
	}
	return 0;
}

/* ---- views ---------------------------------------------------------------------------------------- */

void kpis_meta(const struct kpis *ks, struct view_meta *m)
{
	for (size_t i = 0; i < ks->n; i++) {
		const struct conf_kpi *c = ks->k[i].c;
		char *name = xasprintf("kpi:%s", c->name);
		view_meta_add_group(m, name, ks->conf->path, ks->conf->global.evaluation_interval_ms, 0);
		free(name);
		for (int a = 0; a < KPI_NALERTS; a++) {
			struct pw_label l[4], ann[KPI_NUMBERS + 1];
			view_meta_add_rule(m, &(struct view_meta_rule){
				.name = kpi_alert_defs[a].name, .alerting = true, .query = NULL,
				.for_ms = kpi_alert_defs[a].uses_for ? c->for_ms : 0, .labels = l,
				.nlabels = kpi_alert_labels(c, (enum kpi_alert)a, l), .annotations = ann,
				.nannotations = kpi_alert_annotations(c, (enum kpi_alert)a, ann)});
		}
	}
	for (size_t i = 0; i < ks->n; i++) {
		const struct conf_kpi *c = ks->k[i].c;
		view_meta_add_kpi(m, &(struct view_meta_kpi){
			.name = c->name, .title = c->title, .at_most = c->direction == CONF_AT_MOST,
			.start_ms = c->start_ms, .deadline_ms = c->deadline_ms, .owner = c->owner,
			.contact = c->contact});
	}
}

void kpis_view(const struct kpis *ks, struct view *v, size_t g0, size_t r0)
{
	for (size_t i = 0; i < ks->n; i++) {
		const struct kpi *k = &ks->k[i];
		v->groups[g0 + i].last_eval = k->last_eval;
		for (int a = 0; a < KPI_NALERTS; a++) {
			size_t ri = r0 + i * KPI_NALERTS + (size_t)a;
			v->rules[ri].last_error = view_str(v, k->rules[a].last_error);
			v->rules[ri].last_eval = k->rules[a].last_eval;
			astate_view(k->rules[a].as, v, ri);
		}
		/* the units with their numbers as people should read them: no
		 * value for a stale unit, no plan for one that does not report */
		v->kpis[i].unit0 = v->nunits;
		v->kpis[i].nunits = k->nu;
		for (size_t j = 0; j < k->nu; j++) {
			const struct unit *u = &k->u[j];
			struct view_unit *vu = view_add_unit(v, u->l);
			vu->status = u->status;
			vu->value = u->status == VIEW_STALE ? NAN : u->value;
			vu->target = u->target;
			vu->baseline = u->have_baseline ? u->baseline : NAN;
			vu->expected = u->status >= VIEW_STALE ? NAN : u->expected;
			vu->forecast = u->forecast;
		}
		view_sort_units(v, i);
	}
}
