/*
 * kpi.c — the KPI engine (docs/kpis.md): at every slot each KPI's units get
 * their value, target, baseline, the plan's value, the forecast, and their
 * conditions, all from the store: the source data and the KPI's own record
 * of the slot before (kpi_record.c). The record of the slot is written once,
 * and the KPI alerts are fed (kpi_unit.c). Calendar quotas are
 * kpi_quota.c's; level and coverage KPIs are here.
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
	k->kind = kpi_kind(k->c);
	tzn = k->c->timezone ? k->c->timezone : c->global.timezone;
	if (pw_tz_load(tzn ? tzn : "UTC", &k->tz, &why) != 0) {
		*cause = xasprintf("kpis[%zu] (%s): %s", i, k->c->name, why);
		free(why);
		return PW_EINVAL;
	}
	k->target_num = pw_number(k->c->target, &k->target_v);
	k->baseline_auto = !k->c->baseline || strcmp(k->c->baseline, "auto") == 0;
	if (k->kind == VIEW_KPI_COVERAGE) {
		k->baseline_auto = false;
		k->baseline_v = 0;
	} else if (!k->baseline_auto) {
		pw_number(k->c->baseline, &k->baseline_v);
	}
	k->nplan = kpi_plan(k->c, k->plan);
	if (query_parse(k->c->value, &k->value, &e) != 0 ||
	    (k->c->target && !k->target_num && query_parse(k->c->target, &k->target, &e) != 0) ||
	    (k->c->roster && query_parse(k->c->roster, &k->roster, &e) != 0)) {
		*cause = xasprintf("kpis[%zu] (%s): %s", i, k->c->name, e.msg);
		query_error_clear(&e);
		return PW_EINVAL;
	}
	k->selector = query_expr_is_selector(k->value);
	if (k->selector && query_parse_selector(k->c->value, &k->vm, &k->nvm, &why) != 0) {
		*cause = xasprintf("kpis[%zu] (%s): %s", i, k->c->name, why);
		free(why);
		return PW_EINVAL;
	}
	if (k->kind == VIEW_KPI_QUOTA && !k->selector) {
		*cause = xasprintf("kpis[%zu] (%s): a calendar quota counts samples, so its value "
				   "is a series selector, not \"%s\"", i, k->c->name, k->c->value);
		return PW_EINVAL;
	}
	if (k->kind == VIEW_KPI_QUOTA && !k->target_num) {
		*cause = xasprintf("kpis[%zu] (%s): a calendar quota's target is a number of each "
				   "period, not \"%s\"", i, k->c->name, k->c->target);
		return PW_EINVAL;
	}
	for (int a = 0; a < KPI_NALERTS; a++) {
		struct kpi_rule *r = &k->rules[a];
		if (!kpi_alert_applies(k->c, (enum kpi_alert)a))
			continue;
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
	ks->qo.threads = (unsigned)c->query.threads;
	/* query.max_bytes per evaluation, as for an API query (0: no limit) */
	ks->qo.max_bytes = c->query.max_bytes ? c->query.max_bytes : UINT64_MAX;
	ks->qo.timeout_ms = c->query.timeout_ms;
	ks->qo.ignore_stale = true;
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
	kpis_order(ks);
	*out = ks;
	return 0;
}

static void sel_free(struct kpi *k)
{
	for (size_t i = 0; i < k->nsel; i++)
		pw_lset_unref(k->sel[i].unit);
	free(k->sel);
	k->sel = NULL;
	k->nsel = 0;
	k->sel_epoch = 0;
}

void kpis_free(struct kpis *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n; i++) {
		struct kpi *k = &ks->k[i];
		query_expr_free(k->value);
		query_expr_free(k->target);
		query_expr_free(k->roster);
		query_matchers_free(k->vm, k->nvm);
		kpi_forecast_free(k);
		sel_free(k);
		free(k->rec_ids);
		pw_tz_free(k->tz);
		kpi_units_free(k);
		for (int a = 0; a < KPI_NALERTS; a++) {
			astate_free(k->rules[a].as);
			free(k->rules[a].last_error);
		}
	}
	free(ks->k);
	free(ks->order);
	store_batch_free(ks->batch);
	free(ks->ext);
	pw_lbuild_free(&ks->lb);
	free(ks);
}

int kpi_query(struct kpis *ks, const struct kpi *k, const struct query_expr *x, int64_t t,
	      int64_t lookback, struct query_result **res, const char *what, char **cause)
{
	struct query_opts o = ks->qo;
	struct query_error e = {0};
	o.lookback_ms = lookback;
	if (query_exec_instant(ks->st, &o, x, t, res, &e) != 0) {
		*cause = xasprintf("KPI %s, %s: %s", k->c->name, what, e.msg ? e.msg : "failed");
		query_error_clear(&e);
		*res = NULL;
		return PW_EINVAL;
	}
	return 0;
}

/* ---- the state a slot starts from ------------------------------------------------------------ */

bool kpi_prepare(struct kpis *ks, struct kpi *k, int64_t t)
{
	/* the latest slot at or before t with a record, of any age */
	int64_t p = kpi_record_slot(ks, k, k->c->start_ms, t);
	/* the daemon's own previous slot: its memory is that record */
	if (p && p < t && p == k->state_at)
		return false;
	kpi_units_free(k);
	kpi_forecast_free(k);
	k->state_at = 0;
	if (p) {
		/* a slot already recorded (by this process or one before it)
		 * is read back, never evaluated again; else the previous
		 * record is where this slot starts from */
		kpi_record_load(ks, k, p);
		k->state_at = p;
		return p == t;
	}
	kpi_derive_units(ks, k, t);
	return false;
}

/* ---- this slot's data ---------------------------------------------------------------------------- */

/* the selector's series of all time, kept until the store's set of series
 * changes: in steady state a slot looks nothing up */
static int selection(struct kpis *ks, struct kpi *k, struct store_snap *snap)
{
	uint64_t epoch = store_series_epoch(snap);
	struct store_series *ss = NULL;
	size_t n = 0;
	int rc;
	if (epoch && epoch == k->sel_epoch)
		return 0;
	sel_free(k);
	if ((rc = store_select(snap, k->vm, k->nvm, INT64_MIN, INT64_MAX, false, &ss, &n)) != 0)
		return rc;
	k->sel = xcalloc(n + 1, sizeof *k->sel);
	for (size_t i = 0; i < n; i++) {
		struct pw_label l[72];
		size_t nl = store_series_labels(&ss[i], l, 72);
		if (nl > 72)
			continue;
		k->sel[k->nsel].id = ss[i].id;
		k->sel[k->nsel++].unit = kpi_identity(l, nl);
	}
	free(ss);
	k->sel_epoch = epoch;
	(void)ks;
	return 0;
}

/* the units' fresh values: a selector's newest real sample within
 * stale_after (with its time), another expression's value with staleness
 * markers not counted */
static int read_values(struct kpis *ks, struct kpi *k, int64_t t, char **cause)
{
	const struct conf_kpi *c = k->c;
	struct query_result *val = NULL;
	int rc;
	for (size_t i = 0; i < k->nu; i++)
		k->u[i].fresh = false;
	if (k->selector) {
		struct store_snap *snap;
		int64_t from = t - c->stale_after_ms, quiet = from;
		if ((rc = store_snap_begin(ks->st, &snap)) != 0) {
			*cause = xasprintf("KPI %s, value: %s", c->name, pw_strerror(rc));
			return rc;
		}
		/* the series of the forecast's window too */
		if (k->kind == VIEW_KPI_LEVEL && t < c->deadline_ms && t - c->forecast_ms < quiet)
			quiet = t - c->forecast_ms;
		if ((rc = selection(ks, k, snap)) != 0) {
			store_snap_end(snap);
			*cause = xasprintf("KPI %s, value: %s", c->name, pw_strerror(rc));
			return rc;
		}
		struct store_iter *it = store_iter_new(snap);
		for (size_t i = 0; i < k->nsel; i++) {
			struct ksel *sl = &k->sel[i];
			int64_t ts = 0, x, latest = INT64_MIN;
			double v = NAN, y;
			bool got = false, any = false;
			if (store_latest(snap, sl->id, &x, &y) == 0) {
				latest = x;
				if (x <= t && !store_is_stale_nan(y)) {
					got = x >= from;
					any = x >= quiet;
					ts = x, v = y;
				}
			}
			if (!any && latest > INT64_MIN && latest >= quiet &&
			    store_iter_seek(it, sl->id, quiet, t) == 0) {
				while (store_iter_next(it, &x, &y) == 1) {
					any = true;
					if (!store_is_stale_nan(y) && x >= from)
						ts = x, v = y, got = true;
				}
			}
			if (!any)
				continue;
			/* its unit: where it was last time, else looked up */
			struct unit *u = sl->hint < k->nu && k->u[sl->hint].l == sl->unit
						 ? &k->u[sl->hint]
						 : kpi_unit_of(k, sl->unit, got);
			if (!u)
				continue;
			sl->hint = (size_t)(u - k->u);
			u->fit.sid = sl->id;
			u->fit.latest = latest;
			u->fit.latest_at = t;
			if (!got)
				continue;
			u->fresh = u->reported = true;
			u->value = v;
			u->last_seen = ts;
		}
		store_iter_free(it);
		store_snap_end(snap);
		return 0;
	}
	if ((rc = kpi_query(ks, k, k->value, t, c->stale_after_ms, &val, "value", cause)) != 0)
		return rc;
	for (size_t i = 0; val->type == QUERY_VECTOR && i < val->nseries; i++) {
		const struct query_series *s = &val->series[i];
		struct unit *u = kpi_unit(k, s->labels, s->nlabels);
		u->fresh = u->reported = true;
		u->value = s->pts[0].v;
		u->last_seen = t;
	}
	query_result_free(val);
	return 0;
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

/* every reporting unit's target: the number, or the target expression's
 * series whose shared labels agree (or one without labels); else the last
 * known one */
static int read_targets(struct kpis *ks, struct kpi *k, int64_t t, char **cause)
{
	struct query_result *tgt = NULL;
	int rc;
	if (k->kind == VIEW_KPI_PEERS)
		return 0; /* each unit's threshold comes from its group */
	if (k->target_num) {
		for (size_t i = 0; i < k->nu; i++)
			k->u[i].target = k->target_v;
		return 0;
	}
	if ((rc = kpi_query(ks, k, k->target, t, k->c->stale_after_ms, &tgt, "target", cause)) != 0)
		return rc;
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		for (size_t j = 0; j < tgt->nseries; j++) {
			const struct query_series *ts = &tgt->series[j];
			if (shared_agree(ts->labels, ts->nlabels, u->l->l, u->l->n) || ts->nlabels == 0 ||
			    (ts->nlabels == 1 && !strcmp(ts->labels[0].name, "__name__"))) {
				u->target = ts->pts[0].v;
				break;
			}
		}
	}
	query_result_free(tgt);
	return 0;
}

/* the roster: every unit it names is marked, made when none agrees */
int kpi_read_roster(struct kpis *ks, struct kpi *k, int64_t t, char **cause)
{
	struct query_result *ros = NULL;
	int rc;
	for (size_t i = 0; i < k->nu; i++)
		k->u[i].in_roster = false;
	kpi_roster_units(ks, k);
	if (!k->roster)
		return 0;
	if ((rc = kpi_query(ks, k, k->roster, t, k->c->stale_after_ms, &ros, "roster", cause)) != 0)
		return rc;
	for (size_t j = 0; j < ros->nseries; j++) {
		const struct query_series *rs = &ros->series[j];
		bool named = false, reported = false;
		/* the units that reported, when there are any (a unit the roster
		 * made before its unit first reported then leaves: kpi_roster_units) */
		for (size_t i = 0; i < k->nu; i++)
			if (k->u[i].reported &&
			    shared_agree(rs->labels, rs->nlabels, k->u[i].l->l, k->u[i].l->n))
				reported = true;
		for (size_t i = 0; i < k->nu; i++)
			if ((k->u[i].reported || !reported) &&
			    shared_agree(rs->labels, rs->nlabels, k->u[i].l->l, k->u[i].l->n))
				k->u[i].in_roster = named = true;
		if (!named)
			kpi_unit(k, rs->labels, rs->nlabels)->in_roster = true;
	}
	query_result_free(ros);
	return 0;
}

/* ---- judging --------------------------------------------------------------------------------------- */

void kpi_judge_unit(const struct kpi *k, struct unit *u, int64_t t, bool past_deadline,
		    bool can_meet)
{
	const struct conf_kpi *c = k->c;
	struct kpi_facts f = {0};
	u->n.value = u->reported ? u->value : NAN;
	u->n.target = u->target;
	u->n.baseline = u->have_baseline ? u->baseline : NAN;
	if (k->kind == VIEW_KPI_PEERS) {
		struct kpi_numbers *n = &u->n;
		n->expected = u->fresh ? u->peer_stat : NAN;
		n->target = u->fresh ? u->target : NAN;
		kpi_numbers_of(c, n);
		f.n = *n;
		f.reported = u->reported && u->fresh; /* judged on fresh values only */
		f.stale = u->reported && !u->fresh;
		f.in_roster = u->in_roster;
		f.below_peers = !isnan(n->target) &&
				(c->direction == CONF_AT_MOST ? n->value > n->target : n->value < n->target);
		u->conds = kpi_conditions(c, &f, &u->lagging);
		u->status = view_status_of(u->conds);
		return;
	}
	if (k->kind == VIEW_KPI_COVERAGE)
		u->n.baseline = u->n.expected = NAN; /* a switch follows no plan */
	else if (k->kind == VIEW_KPI_LEVEL)
		u->n.expected = isnan(u->n.target) || isnan(u->n.baseline)
					? NAN
					: kpi_expected(c, k->plan, k->nplan, u->n.baseline, u->n.target,
							       u->baseline_at, t);
	/* a baseline that already reaches the target leaves nothing to plan:
	 * the plan is the target, progress is met or not */
	bool done = k->kind == VIEW_KPI_LEVEL && kpi_reached(c, u->n.baseline, u->n.target);
	if (done)
		u->n.expected = u->n.target;
	kpi_numbers_of(c, &u->n);
	if (done) {
		u->n.progress = isnan(u->n.value) ? NAN : kpi_reached(c, u->n.value, u->n.target) ? 1 : 0;
		u->n.expected_progress = 1;
	}
	f.n = u->n;
	f.reported = u->reported;
	f.stale = u->reported && !u->fresh;
	f.in_roster = u->in_roster;
	f.past_deadline = past_deadline;
	f.can_meet = can_meet;
	f.firm_forecast = u->fc_span * 2 >= c->forecast_ms;
	u->conds = kpi_conditions(c, &f, &u->lagging);
	u->status = view_status_of(u->conds);
}

/* a unit that reported at the slot before and not now: for a selector,
 * when its newest real sample was (the record keeps only a stale unit's) */
void kpi_stale_since(struct kpis *ks, struct kpi *k, int64_t t)
{
	struct store_snap *snap;
	struct store_series *ss = NULL;
	size_t n = 0;
	bool need = false;
	for (size_t i = 0; i < k->nu && !need; i++)
		need = k->u[i].reported && !k->u[i].fresh && !k->u[i].last_seen;
	if (!need)
		return;
	if (!k->selector) {
		for (size_t i = 0; i < k->nu; i++)
			if (k->u[i].reported && !k->u[i].fresh && !k->u[i].last_seen)
				k->u[i].last_seen = k->state_at;
		return;
	}
	if (store_snap_begin(ks->st, &snap) != 0)
		return;
	struct store_iter *it = store_iter_new(snap);
	if (store_select(snap, k->vm, k->nvm, k->c->start_ms, t, false, &ss, &n) == 0)
		for (size_t i = 0; i < n; i++) {
			struct pw_label l[72];
			size_t nl = store_series_labels(&ss[i], l, 72);
			struct unit *u;
			int64_t x;
			double y;
			if (nl > 72 || !(u = kpi_unit_find(k, l, nl)) || u->fresh || u->last_seen)
				continue;
			if (store_iter_seek(it, ss[i].id, k->c->start_ms, t) == 0)
				while (store_iter_next(it, &x, &y) == 1)
					if (!store_is_stale_nan(y))
						u->last_seen = x;
		}
	free(ss);
	store_iter_free(it);
	store_snap_end(snap);
}

/* ---- one slot of a level or coverage KPI ------------------------------------------------------------ */

/* A slot the record has already: its numbers for the view and its
 * conditions for the alerts are the record's; only when fresh units last
 * reported is read from the data. */
static int recorded_slot(struct kpis *ks, struct kpi *k, int64_t t)
{
	double *keep = xcalloc(k->nu + 1, sizeof *keep);
	char *ignore = NULL;
	size_t n = k->nu;
	for (size_t i = 0; i < n; i++)
		keep[i] = k->u[i].value;
	read_values(ks, k, t, &ignore); /* fresh, last seen */
	free(ignore);
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		if (i < n)
			u->value = u->n.value = keep[i];
		u->fresh = u->reported && !(u->conds & VIEW_COND(VIEW_STALE));
		kpi_numbers_of(k->c, &u->n);
	}
	free(keep);
	return 0;
}

static int eval_level(struct kpis *ks, struct kpi *k, int64_t t, struct store_batch *b,
		      char **cause)
{
	const struct conf_kpi *c = k->c;
	bool recorded = kpi_prepare(ks, k, t), past = t >= c->deadline_ms;
	int rc;

	if (recorded)
		return recorded_slot(ks, k, t);
	if ((rc = read_values(ks, k, t, cause)) != 0)
		return rc;
	if (k->base)
		kpi_rollup_values(ks, k); /* its values are made from its base's units */
	if ((rc = kpi_read_roster(ks, k, t, cause)) != 0 || (rc = read_targets(ks, k, t, cause)) != 0)
		return rc;
	kpi_stale_since(ks, k, t);
	if (k->kind != VIEW_KPI_PEERS)
		kpi_baselines(ks, k, t);
	kpi_units_prune(k);
	if (k->kind == VIEW_KPI_LEVEL && !past)
		kpi_forecasts(ks, k, t);
	if (k->kind == VIEW_KPI_PEERS) {
		past = false; /* judged at every slot */
		kpi_peers_judge(k);
	}
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		if (k->kind == VIEW_KPI_COVERAGE || k->kind == VIEW_KPI_PEERS)
			u->n.forecast = NAN;
		else if (past)
			u->n.forecast = u->reported ? u->value : NAN;
		kpi_judge_unit(k, u, t, past, true);
		if (b)
			kpi_write_unit(b, k, u, t);
	}
	if (b)
		kpi_write_kpi(ks, b, k, t, c->deadline_ms);
	return 0;
}

int kpis_eval(struct kpis *ks, int64_t t, bool dry, char **cause)
{
	/* one transaction (one fsync) for the whole slot; a KPI whose query
	 * fails writes nothing of that slot (its part of the batch rewound) */
	struct store_batch *b;
	int rc;
	if (!ks->batch) { /* kept from slot to slot: a slot's batch is large */
		ks->batch = store_batch_begin(ks->st);
		store_batch_keep(ks->batch);
	}
	b = ks->batch;
	ks->dry = dry;
	for (size_t oi = 0; oi < ks->n; oi++) {
		struct kpi *k = &ks->k[ks->order ? ks->order[oi] : oi];
		char *why = NULL;
		bool recorded = false;
		struct store_batch_mark mark = store_batch_mark(b);
		k->evaluating_at = t;
		if (t < k->c->start_ms)
			continue;
		rc = k->kind == VIEW_KPI_QUOTA ? kpi_eval_quota(ks, k, t, b, &why)
					       : eval_level(ks, k, t, b, &why);
		recorded = k->state_at == t;
		if (rc != 0) {
			log_warnx("kpi", "%s", why);
			free(why);
			store_batch_rewind(b, mark);
			k->state_at = 0; /* nothing of this slot is recorded */
			continue;
		}
		/* the alerts are fed in any case: their states move on (what a
		 * recorded slot would write again is dropped) */
		kpi_feed_alerts(ks, k, t, b);
		if (recorded || dry)
			store_batch_rewind(b, mark);
		else if (store_batch_error(b)) {
			log_warnx("kpi", "KPI %s: %s", k->c->name, store_batch_error(b));
			store_batch_rewind(b, mark);
			k->state_at = 0;
			continue;
		}
		k->evaluated_at = t;
		/* memory is a record only once written */
		k->state_at = dry ? 0 : t;
	}
	if (dry) {
		store_batch_abort(b);
		return 0;
	}
	if ((rc = store_batch_commit(b, cause)) != 0) {
		for (size_t i = 0; i < ks->n; i++)
			ks->k[i].state_at = 0; /* not recorded: read back next time */
		return rc;
	}
	/* the units' series ids, so the next slot skips looking them up: the
	 * keys made since the last time, or every key when series were
	 * deleted since; in steady state nothing is looked at */
	{
		size_t n = 0, cap = 0;
		struct store_key **keys = NULL;
		uint64_t gen = store_keys_generation(ks->st);
		bool all = gen != ks->keys_gen;
		for (size_t i = 0; i < ks->n; i++)
			for (size_t j = 0; j < ks->k[i].nu; j++) {
				struct unit *u = &ks->k[i].u[j];
				if (!all && !u->keys_new)
					continue;
				u->keys_new = false;
				for (size_t q = 0; q < K_NSERIES + u->nx; q++) {
					struct store_key *key = q < K_NSERIES ? &u->keys[q]
									      : &u->xkeys[q - K_NSERIES].key;
					if (!store_key_stale(ks->st, key))
						continue;
					if (n == cap) {
						cap = cap ? 2 * cap : 1024;
						keys = xreallocarray(keys, cap, sizeof *keys);
					}
					keys[n++] = key;
				}
			}
		if (n)
			store_keys_resolve(ks->st, keys, n);
		free(keys);
		ks->keys_gen = gen;
		for (size_t i = 0; i < ks->n; i++)
			for (int a = 0; a < KPI_NALERTS; a++)
				if (ks->k[i].rules[a].as)
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
			struct pw_label l[4], ann[KPI_ANNOTATIONS + 1];
			if (!ks->k[i].rules[a].as)
				continue;
			view_meta_add_rule(m, &(struct view_meta_rule){
				.name = kpi_alert_defs[a].name, .alerting = true, .query = NULL,
				.for_ms = kpi_alert_defs[a].uses_for ? c->for_ms : 0, .labels = l,
				.nlabels = kpi_alert_labels(c, (enum kpi_alert)a, l), .annotations = ann,
				.nannotations = kpi_alert_annotations(c, ks->conf->global.language == CONF_LANG_ZH,
								(enum kpi_alert)a, ann)});
		}
	}
	for (size_t i = 0; i < ks->n; i++) {
		const struct kpi *k = &ks->k[i];
		const struct conf_kpi *c = k->c;
		/* the plan's milestones as the engine reads them (kpi_plan) */
		struct view_milestone ms[KPI_MAX_POINTS];
		size_t nms = 0;
		for (size_t p = 0; p < k->nplan; p++)
			if (k->plan[p].kind == KPI_PT_VALUE || k->plan[p].kind == KPI_PT_FRACTION)
				ms[nms++] = (struct view_milestone){
					k->plan[p].t, k->plan[p].kind == KPI_PT_VALUE ? k->plan[p].x : NAN,
					k->plan[p].kind == KPI_PT_FRACTION ? k->plan[p].x : NAN};
		view_meta_add_kpi(m, &(struct view_meta_kpi){
			.name = c->name, .title = c->title, .kind = k->kind, .at_most = kpi_at_most(c),
			.start_ms = c->start_ms, .deadline_ms = c->deadline_ms,
			.deadline_text = c->deadline, .owner = c->owner, .contact = c->contact,
			.runbook = c->runbook, .coverage = c->coverage, .item = c->item,
			.milestones = ms, .nmilestones = nms, .step = c->curve == CONF_CURVE_STEP,
			.period = (enum pw_period)c->period, .timezone = pw_tz_name(k->tz)});
	}
}

void kpis_view(struct kpis *ks, struct view *v, size_t g0, size_t r0)
{
	size_t ri = r0;
	for (size_t i = 0; i < ks->n; i++) {
		struct kpi *k = &ks->k[i];
		v->groups[g0 + i].last_eval = k->last_eval;
		for (int a = 0; a < KPI_NALERTS; a++) {
			if (!k->rules[a].as)
				continue;
			v->rules[ri].last_error = view_str(v, k->rules[a].last_error);
			v->rules[ri].last_eval = k->rules[a].last_eval;
			astate_view(k->rules[a].as, v, ri);
			ri++;
		}
		v->kpis[i].unit0 = v->nunits;
		v->kpis[i].nunits = k->nu;
		v->kpis[i].evaluated_at = k->evaluated_at;
		v->kpis[i].period = k->kind == VIEW_KPI_QUOTA && k->period[0] ? view_str(v, k->period)
									     : NULL;
		v->kpis[i].previous_period =
			k->kind == VIEW_KPI_QUOTA && k->prev_period[0] ? view_str(v, k->prev_period) : NULL;
		for (size_t j = 0; j < k->nu; j++) {
			struct unit *u = &k->u[j];
			struct view_unit *vu = view_add_unit(v, u->l);
			kpi_unit_name(ks, k, u);
			vu->name = view_str(v, u->name);
			vu->conds = u->conds;
			vu->status = u->status;
			vu->value = u->n.value;
			vu->target = u->n.target;
			vu->baseline = u->n.baseline;
			vu->expected = u->n.expected;
			vu->forecast = u->n.forecast;
			vu->progress = u->n.progress;
			vu->expected_progress = u->n.expected_progress;
			vu->gap = u->n.gap;
			vu->gap_target = u->n.gap_target;
			vu->last_seen = u->reported ? u->last_seen : 0;
			vu->plan_start = u->baseline_at > k->c->start_ms ? u->baseline_at : 0;
		}
		view_sort_units(v, i);
	}
}
