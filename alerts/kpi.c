/*
 * kpi.c — KPI tracking: every evaluation reads each KPI's value per unit,
 * its target, the trajectory expected by now (piecewise linear through
 * start/baseline, milestones and deadline/target, or a step), the
 * least-squares forecast at the deadline, and a status; writes them as
 * pacewatch_kpi_* series; and hands the units that lag, are at risk, missed
 * the deadline, went stale or are missing from the roster to the KPI alerts
 * (alerting rules fed from here, with $kpi.* values for the annotations).
 */
#include "alerts_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_ON_TRACK, S_LAGGING, S_AT_RISK, S_MET, S_MISSED, S_STALE, S_MISSING, S_N };
static const char *const status_names[S_N] = {"on_track", "lagging", "at_risk", "met",
					      "missed",   "stale",   "missing"};

_Static_assert(S_N == 7, "seven status series per unit");

/* the series written per unit, in put_series' table */
enum { K_VALUE, K_TARGET, K_EXPECTED, K_PROGRESS, K_EXPECTED_RATIO, K_FORECAST, K_DEADLINE,
       K_STATUS, K_N = K_STATUS + 7 };

struct unit {
	struct pw_label *l; /* owned, without __name__ */
	size_t n;
	uint64_t h;         /* lhash of l */
	bool lagging;       /* for the hysteresis */
	bool have_baseline;
	double baseline;
	/* this evaluation */
	bool seen;
	int status;
	double value, target, expected, forecast;
	/* its series, prepared once: writing them is a copy */
	struct store_key keys[K_N];
	/* its alerts' $kpi.* numbers as text, rebuilt only when they change */
	struct pw_label nums[9];
	double nums_in[5];
	const char *nums_deadline;
};

struct kpi {
	const struct conf_kpi *c;
	struct pw_tz *tz;
	struct query_expr *value, *target, *roster;
	bool target_num, baseline_auto;
	double target_v, baseline_v;
	struct unit *u;
	size_t nu;
	bool loaded; /* units known from the store's history */
	/* the forecast's fit, refitted every forecast window / 100 (the line's
	 * value at the deadline does not depend on when it is read) */
	struct query_result *fc;
	int64_t fc_at;
};

struct kpis {
	struct rules *r;
	struct store *st;
	const struct conf *conf;
	struct kpi *k;
	size_t n;
	size_t group_base;
	struct query_opts qo;
};

static bool num(const char *s, double *v)
{
	char *end;
	if (!s || !*s)
		return false;
	*v = strtod(s, &end);
	return *end == '\0';
}

int kpis_new(struct rules *r, const struct conf *c, struct store *st, struct kpis **out,
	     char **cause)
{
	struct kpis *ks = xcalloc(1, sizeof *ks);
	ks->r = r;
	ks->st = st;
	ks->conf = c;
	ks->n = c->nkpis;
	ks->k = xcalloc(c->nkpis + 1, sizeof *ks->k);
	ks->group_base = c->nrule_groups;
	ks->qo.max_samples = (uint64_t)c->query.max_samples;
	ks->qo.timeout_ms = c->query.timeout_ms;
	for (size_t i = 0; i < c->nkpis; i++) {
		struct kpi *k = &ks->k[i];
		struct query_error e = {0};
		k->c = &c->kpis[i];
		{
			char err[200];
			const char *tzn = k->c->timezone ? k->c->timezone : c->global.timezone;
			if (pw_tz_load(tzn ? tzn : "UTC", &k->tz, err, sizeof err) != 0) {
				*cause = xasprintf("kpis[%zu] (%s): %s", i, k->c->name, err);
				kpis_free(ks);
				return PW_EINVAL;
			}
		}
		k->target_num = num(k->c->target, &k->target_v);
		k->baseline_auto = !k->c->baseline || strcmp(k->c->baseline, "auto") == 0;
		if (!k->baseline_auto)
			num(k->c->baseline, &k->baseline_v);
		if (query_parse(k->c->value, &k->value, &e) != 0 ||
		    (!k->target_num && query_parse(k->c->target, &k->target, &e) != 0) ||
		    (k->c->roster && query_parse(k->c->roster, &k->roster, &e) != 0)) {
			*cause = xasprintf("kpis[%zu] (%s): %s", i, k->c->name, e.msg);
			query_error_clear(&e);
			kpis_free(ks);
			return PW_EINVAL;
		}
		if (k->c->period != CONF_PERIOD_NONE && !query_expr_is_selector(k->value)) {
			*cause = xasprintf("kpis[%zu] (%s): a calendar quota counts samples, so its value "
					   "is a series selector, not \"%s\"", i, k->c->name, k->c->value);
			kpis_free(ks);
			return PW_EINVAL;
		}
	}
	*out = ks;
	return 0;
}

static void units_free(struct kpi *k)
{
	for (size_t i = 0; i < k->nu; i++) {
		for (size_t j = 0; j < k->u[i].n; j++) {
			free((char *)k->u[i].l[j].name);
			free((char *)k->u[i].l[j].value);
		}
		free(k->u[i].l);
		for (int q = 0; q < K_N; q++)
			store_key_free(&k->u[i].keys[q]);
		for (int q = 0; q < 9; q++)
			free((char *)k->u[i].nums[q].value);
	}
	free(k->u);
	k->u = NULL;
	k->nu = 0;
}

void kpis_free(struct kpis *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->n; i++) {
		query_expr_free(ks->k[i].value);
		query_expr_free(ks->k[i].target);
		query_expr_free(ks->k[i].roster);
		query_result_free(ks->k[i].fc);
		pw_tz_free(ks->k[i].tz);
		units_free(&ks->k[i]);
	}
	free(ks->k);
	free(ks);
}

/* ---- units ------------------------------------------------------------------------ */

static const char *get(const struct pw_label *l, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].name, name) == 0)
			return l[i].value;
	return NULL;
}

/* a's labels (without the name) equal b's */
static bool same_unit(const struct pw_label *a, size_t na, const struct pw_label *b, size_t nb)
{
	size_t ca = 0, cb = 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].name, "__name__")) {
			const char *v = get(b, nb, a[i].name);
			if (!v || strcmp(v, a[i].value))
				return false;
			ca++;
		}
	for (size_t i = 0; i < nb; i++)
		cb += strcmp(b[i].name, "__name__") != 0;
	return ca == cb;
}

/* the labels both have agree, and there is at least one */
static bool shared_agree(const struct pw_label *a, size_t na, const struct pw_label *b, size_t nb)
{
	size_t shared = 0;
	for (size_t i = 0; i < na; i++) {
		const char *v;
		if (!strcmp(a[i].name, "__name__") || !(v = get(b, nb, a[i].name)))
			continue;
		if (strcmp(v, a[i].value))
			return false;
		shared++;
	}
	return shared > 0;
}

/* a hash of the labels other than the name, in their (sorted) order */
static uint64_t lhash(const struct pw_label *l, size_t n)
{
	return pw_labels_hash(l, n, true);
}

/* the unit with these labels: hashes first, then the labels */
static bool is_unit(const struct unit *u, uint64_t h, const struct pw_label *l, size_t n)
{
	return u->h == h && same_unit(u->l, u->n, l, n);
}

/* the unit with these labels (created when new); hint: where it was last
 * time, tried first (the queries return units in the same order) */
static struct unit *unit_at(struct kpi *k, const struct pw_label *l, size_t n, size_t hint)
{
	struct unit *u;
	uint64_t h = lhash(l, n);
	for (size_t q = 0; q < k->nu; q++) {
		size_t i = (hint + q) % k->nu;
		if (is_unit(&k->u[i], h, l, n))
			return &k->u[i];
	}
	k->u = xreallocarray(k->u, k->nu + 1, sizeof *k->u);
	u = &k->u[k->nu++];
	memset(u, 0, sizeof *u);
	u->l = xcalloc(n + 1, sizeof *u->l);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(l[i].name, "__name__") == 0)
			continue;
		u->l[u->n].name = xstrdup(l[i].name);
		u->l[u->n++].value = xstrdup(l[i].value);
	}
	u->h = h;
	return u;
}

static struct unit *unit_of(struct kpi *k, const struct pw_label *l, size_t n)
{
	return unit_at(k, l, n, 0);
}

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

/* ---- the plan --------------------------------------------------------------------- */

/* the trajectory's value at t */
static double expected_at(const struct kpi *k, double baseline, double target, int64_t t)
{
	const struct conf_kpi *c = k->c;
	int64_t pt[66];
	double pv[66];
	size_t n = 0;
	pt[n] = c->start_ms;
	pv[n++] = baseline;
	for (size_t m = 0; m < c->nmilestones && n < 65; m++) {
		double v, f;
		pt[n] = c->milestone_ms[m];
		if (num(c->milestones[m].value, &v))
			pv[n++] = v;
		else if (num(c->milestones[m].fraction, &f))
			pv[n++] = baseline + f * (target - baseline);
	}
	pt[n] = c->deadline_ms;
	pv[n++] = target;
	if (t <= pt[0])
		return pv[0];
	if (t >= pt[n - 1])
		return pv[n - 1];
	for (size_t i = 1; i < n; i++) {
		if (t < pt[i]) {
			if (c->curve == CONF_CURVE_STEP)
				return pv[i - 1];
			return pv[i - 1] + (pv[i] - pv[i - 1]) * (double)(t - pt[i - 1]) /
						   (double)(pt[i] - pt[i - 1]);
		}
	}
	return pv[n - 1];
}

static bool reached(const struct kpi *k, double v, double target)
{
	return k->c->direction == CONF_AT_MOST ? v <= target : v >= target;
}

/* ---- evaluation --------------------------------------------------------------------- */

static void fmt_num(char *dst, size_t sz, double v)
{
	if (isnan(v)) {
		snprintf(dst, sz, "-");
		return;
	}
	if (fabs(v) >= 1e6 || (v != 0 && fabs(v) < 1e-3))
		snprintf(dst, sz, "%.4g", v);
	else
		snprintf(dst, sz, "%.4g", round(v * 10000) / 10000);
}

static void put_series(struct store_batch *b, int which, struct unit *u, const char *kpi,
		       int64_t t, double v)
{
	static const char *const names[K_STATUS + 1] = {
		"pacewatch_kpi_value",          "pacewatch_kpi_target",
		"pacewatch_kpi_expected",       "pacewatch_kpi_progress_ratio",
		"pacewatch_kpi_expected_ratio", "pacewatch_kpi_forecast",
		"pacewatch_kpi_deadline_timestamp_seconds", "pacewatch_kpi_status"};
	struct store_key *key = &u->keys[which];
	if (!key->enc) {
		struct pw_label l[72];
		size_t n = 0;
		l[n].name = "__name__";
		l[n++].value = names[which < K_STATUS ? which : K_STATUS];
		l[n].name = "kpi";
		l[n++].value = kpi;
		for (size_t i = 0; i < u->n && n < 70; i++)
			if (strcmp(u->l[i].name, "kpi"))
				l[n++] = u->l[i];
		if (which >= K_STATUS) {
			l[n].name = "status";
			l[n++].value = status_names[which - K_STATUS];
		}
		if (store_key_make(l, n, key, NULL) != 0) {
			store_batch_put(b, l, n, t, v); /* the batch reports the error */
			return;
		}
	}
	store_batch_put_key(b, key, t, v);
}

/* the unit as people name it: its labels, without where it was scraped */
static void unit_text(const struct unit *u, char *dst, size_t sz)
{
	size_t o = 0;
	dst[0] = '\0';
	for (size_t i = 0; i < u->n && o + 1 < sz; i++) {
		if (!strcmp(u->l[i].name, "instance") || !strcmp(u->l[i].name, "job"))
			continue;
		o += (size_t)snprintf(dst + o, sz - o, "%s%s=%s", o ? ", " : "", u->l[i].name,
				      u->l[i].value);
	}
}

/* units this KPI reported before (its own pacewatch_kpi_value history) */
static void load_known(struct kpis *ks, struct kpi *k, int64_t t)
{
	char *q = NULL;
	struct query_expr *x;
	struct query_result *res;
	struct query_error e = {0};
	char name[600];
	size_t w = 0;
	for (const char *p = k->c->name; *p && w + 3 < sizeof name; p++) {
		if (*p == '"' || *p == '\\')
			name[w++] = '\\';
		name[w++] = *p;
	}
	name[w] = '\0';
	q = xasprintf("last_over_time(pacewatch_kpi_value{kpi=\"%s\"}[%llds])", name,
		      (long long)(2 * k->c->stale_after_ms / 1000 + 60));
	if (query_parse(q, &x, &e) == 0) {
		if (query_exec_instant(ks->st, &ks->qo, x, t, &res, &e) == 0) {
			for (size_t i = 0; i < res->nseries; i++) {
				struct pw_label l[72];
				size_t n = 0;
				for (size_t j = 0; j < res->series[i].nlabels && n < 72; j++)
					if (strcmp(res->series[i].labels[j].name, "kpi"))
						l[n++] = res->series[i].labels[j];
				unit_of(k, l, n);
			}
			query_result_free(res);
		}
		query_expr_free(x);
	}
	query_error_clear(&e);
	free(q);
	k->loaded = true;
}

enum { A_LAGGING, A_AT_RISK, A_MISSED, A_STALE, A_MISSING, A_N };
enum { KPI_NUMBERS = 9 };

/* the $kpi.* values of an alert */
/* progress from baseline to target, as people read it: "62%" */
static void progress_text(char *dst, size_t sz, const struct unit *u)
{
	double den = u->target - u->baseline;
	if (den != 0 && !isnan(u->value) && !isnan(u->baseline))
		snprintf(dst, sz, "%.0f%%", 100 * (u->value - u->baseline) / den);
	else
		snprintf(dst, sz, "-");
}

static struct pw_label *numbers(const struct unit *u, const struct conf_kpi *c, const char *deadline)
{
	static const char *const names[] = {"value", "expected", "target", "forecast", "baseline"};
	struct pw_label *x = xcalloc(KPI_NUMBERS, sizeof *x);
	double vs[5] = {u->value, u->expected, u->target, u->forecast, u->baseline};
	char v[64], unit[512];
	for (int q = 0; q < 5; q++) {
		fmt_num(v, sizeof v, vs[q]);
		x[q].name = names[q];
		x[q].value = xstrdup(v);
	}
	unit_text(u, unit, sizeof unit);
	x[5].name = "unit";
	x[5].value = xstrdup(unit);
	x[6].name = "title";
	x[6].value = xstrdup(c->title ? c->title : c->name);
	x[7].name = "deadline";
	x[7].value = xstrdup(deadline);
	{
		char p[32];
		progress_text(p, sizeof p, u);
		x[8].name = "progress";
		x[8].value = xstrdup(p);
	}
	return x;
}

_Static_assert(KPI_NUMBERS == 9, "struct unit keeps nine numbers");

/* numbers() kept in the unit: only what changed is formatted again, and
 * a string is replaced only when its text changes (the strings belong to
 * the unit) */
static struct pw_label *unit_numbers(struct unit *u, const struct conf_kpi *c, const char *deadline)
{
	double vs[5] = {u->value, u->expected, u->target, u->forecast, u->baseline};
	if (!u->nums[0].value || u->nums_deadline != deadline) {
		struct pw_label *x = numbers(u, c, deadline);
		for (int q = 0; q < KPI_NUMBERS; q++) {
			free((char *)u->nums[q].value);
			u->nums[q] = x[q];
		}
		free(x);
	} else {
		bool any = false;
		for (int q = 0; q < 5; q++) {
			char v[64];
			if (memcmp(&vs[q], &u->nums_in[q], sizeof vs[q]) == 0)
				continue;
			any = true;
			fmt_num(v, sizeof v, vs[q]);
			if (strcmp(v, u->nums[q].value) != 0) {
				free((char *)u->nums[q].value);
				u->nums[q].value = xstrdup(v);
			}
		}
		if (any) {
			char p[32];
			progress_text(p, sizeof p, u);
			if (strcmp(p, u->nums[8].value) != 0) {
				free((char *)u->nums[8].value);
				u->nums[8].value = xstrdup(p);
			}
		}
	}
	memcpy(u->nums_in, vs, sizeof vs);
	u->nums_deadline = deadline;
	return u->nums;
}

/* hand each alert kind its units (then free what was built for it) */
static void feed_alerts(struct kpis *ks, size_t ki, int64_t t, struct store_batch *b,
			struct query_series **as, struct pw_label ***ax, size_t **anx,
			const size_t *nalert)
{
	for (int a = 0; a < A_N; a++) {
		struct query_result res = {.type = QUERY_VECTOR, .series = as[a], .nseries = nalert[a],
					   .t = t};
		rules_feed_alert(ks->r, ks->group_base + ki, (size_t)a, &res,
				 (const struct pw_label *const *)ax[a], anx[a], t, b);
		const struct kpi *k = &ks->k[ki];
		for (size_t j = 0; j < nalert[a]; j++) {
			const char *p = (const char *)ax[a][j];
			if (p >= (const char *)k->u && p < (const char *)(k->u + k->nu))
				continue; /* a unit's own numbers */
			for (int q = 0; q < KPI_NUMBERS; q++)
				free((char *)ax[a][j][q].value);
			free(ax[a][j]);
		}
		free(as[a]);
		free(ax[a]);
		free(anx[a]);
	}
}

static int eval_one(struct kpis *ks, size_t ki, int64_t t, struct store_batch *b, char **cause)
{
	struct kpi *k = &ks->k[ki];
	const struct conf_kpi *c = k->c;
	struct query_result *val = NULL, *tgt = NULL, *ros = NULL, *fc = NULL;
	int rc;
	char deadline[64];

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
	if (t < c->deadline_ms &&
	    (!k->fc || t < k->fc_at || t - k->fc_at >= c->forecast_ms / 100)) {
		/* ordinary least squares over the window, at the deadline */
		/* a selector: over its own samples; any other expression: sampled
		 * 60 times over the window */
		char *q = query_expr_is_selector(k->value)
				  ? xasprintf("predict_linear(%s[%llds], %.3f)", c->value,
					      (long long)(c->forecast_ms / 1000),
					      (double)(c->deadline_ms - t) / 1000)
				  : xasprintf("predict_linear((%s)[%llds:%llds], %.3f)", c->value,
					      (long long)(c->forecast_ms / 1000),
					      (long long)(c->forecast_ms / 60000 > 60 ? c->forecast_ms / 60000
										      : 60),
					      (double)(c->deadline_ms - t) / 1000);
		struct query_expr *x;
		struct query_error e = {0};
		query_result_free(k->fc);
		k->fc = NULL;
		if (query_parse(q, &x, &e) == 0) {
			struct query_opts o = ks->qo;
			o.lookback_ms = c->stale_after_ms;
			if (query_exec_instant(ks->st, &o, x, t, &k->fc, &e) != 0)
				k->fc = NULL;
			query_expr_free(x);
		}
		k->fc_at = t;
		query_error_clear(&e);
		free(q);
	}
	fc = t < c->deadline_ms ? k->fc : NULL;
	pw_fmt_time(deadline, sizeof deadline, c->deadline_ms);

	/* the forecast's series by hash, once (not once per unit) */
	uint64_t *fh = NULL;
	if (fc && fc->nseries) {
		fh = xcalloc(fc->nseries, sizeof *fh);
		for (size_t j = 0; j < fc->nseries; j++)
			fh[j] = lhash(fc->series[j].labels, fc->series[j].nlabels);
	}
	/* the units reporting now */
	for (size_t i = 0; val->type == QUERY_VECTOR && i < val->nseries; i++) {
		const struct query_series *s = &val->series[i];
		struct unit *u = unit_at(k, s->labels, s->nlabels, i);
		u->seen = true;
		u->value = s->pts[0].v;
		u->target = k->target_v;
		if (tgt) {
			u->target = NAN;
			for (size_t j = 0; j < tgt->nseries; j++)
				if (shared_agree(tgt->series[j].labels, tgt->series[j].nlabels, u->l, u->n) ||
				    tgt->series[j].nlabels == 0 ||
				    (tgt->series[j].nlabels == 1 &&
				     !strcmp(tgt->series[j].labels[0].name, "__name__"))) {
					u->target = tgt->series[j].pts[0].v;
					break;
				}
		}
		u->forecast = NAN;
		/* usually the same order as the values: try position i first */
		for (size_t q = 0; fc && q < fc->nseries; q++) {
			size_t j = (i + q) % fc->nseries;
			if (is_unit(u, fh[j], fc->series[j].labels, fc->series[j].nlabels)) {
				u->forecast = fc->series[j].pts[0].v;
				break;
			}
		}
		if (t >= c->deadline_ms)
			u->forecast = u->value;
	}
	free(fh);
	/* baselines: given, or each unit's value at start (read once, one
	 * query for all the units that need it) */
	{
		struct query_result *bs = NULL;
		bool need = false;
		for (size_t i = 0; i < k->nu && !need; i++)
			need = k->u[i].seen && !k->u[i].have_baseline && k->baseline_auto;
		if (need) {
			char *ignore = NULL;
			if (query_at(ks, k->value, c->start_ms,
				     c->stale_after_ms > 86400000 ? c->stale_after_ms : 86400000, &bs,
				     &ignore, "baseline", c->name) != 0)
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
			u->baseline = u->value; /* no data at start: from where it stands now */
			for (size_t j = 0; bs && j < bs->nseries; j++)
				if (is_unit(u, lhash(bs->series[j].labels, bs->series[j].nlabels),
					    bs->series[j].labels, bs->series[j].nlabels)) {
					u->baseline = bs->series[j].pts[0].v;
					break;
				}
		}
		query_result_free(bs);
	}
	/* the roster: units that must report */
	for (size_t j = 0; ros && j < ros->nseries; j++) {
		bool covered = false;
		/* a unit that reported before and stopped is stale, not missing */
		for (size_t i = 0; i < k->nu && !covered; i++)
			covered = (k->u[i].seen || k->u[i].status != S_MISSING) &&
				  shared_agree(ros->series[j].labels, ros->series[j].nlabels, k->u[i].l,
					       k->u[i].n);
		if (!covered) {
			struct unit *u = unit_of(k, ros->series[j].labels, ros->series[j].nlabels);
			u->seen = true;
			u->status = S_MISSING;
			u->value = NAN;
			u->target = k->target_num ? k->target_v : NAN;
			u->forecast = NAN;
			u->have_baseline = false;
		}
	}
	/* status */
	size_t nalert[A_N] = {0};
	struct query_series *as[A_N];
	struct pw_label **ax[A_N];
	size_t *anx[A_N];
	for (int a = 0; a < A_N; a++) {
		as[a] = xcalloc(k->nu + 1, sizeof *as[a]);
		ax[a] = xcalloc(k->nu + 1, sizeof *ax[a]);
		anx[a] = xcalloc(k->nu + 1, sizeof *anx[a]);
	}
	struct query_point *pts = xcalloc(k->nu + 1, sizeof *pts);
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		double span, gap;
		int alert = -1;
		if (!u->seen) {
			u->status = S_STALE;
			alert = A_STALE;
		} else if (u->status == S_MISSING && isnan(u->value)) {
			alert = A_MISSING;
		} else {
			u->expected = expected_at(k, u->baseline, u->target, t);
			span = fabs(u->target - u->baseline);
			gap = (k->c->direction == CONF_AT_MOST ? u->value - u->expected
								 : u->expected - u->value);
			if (reached(k, u->value, u->target)) {
				u->status = S_MET;
				u->lagging = false;
			} else if (t >= c->deadline_ms) {
				u->status = S_MISSED;
				alert = A_MISSED;
			} else {
				double lim = c->tolerance * span;
				if (u->lagging)
					u->lagging = gap > c->hysteresis * lim; /* clears within half */
				else
					u->lagging = gap > lim;
				if (u->lagging) {
					u->status = S_LAGGING;
					alert = A_LAGGING;
				} else if (!isnan(u->forecast) && !reached(k, u->forecast, u->target)) {
					u->status = S_AT_RISK;
					alert = A_AT_RISK;
				} else {
					u->status = S_ON_TRACK;
				}
			}
		}
		if (u->status != S_STALE && u->status != S_MISSING) {
			put_series(b, K_VALUE, u, c->name, t, u->value);
			put_series(b, K_TARGET, u, c->name, t, u->target);
			put_series(b, K_EXPECTED, u, c->name, t, u->expected);
			double den = u->target - u->baseline;
			put_series(b, K_PROGRESS, u, c->name, t,
				   den != 0 ? (u->value - u->baseline) / den
					    : reached(k, u->value, u->target));
			put_series(b, K_EXPECTED_RATIO, u, c->name, t,
				   den != 0 ? (u->expected - u->baseline) / den : 1);
			if (!isnan(u->forecast))
				put_series(b, K_FORECAST, u, c->name, t,
					   u->forecast);
		}
		put_series(b, K_DEADLINE, u, c->name, t,
			   (double)(c->deadline_ms / 1000));
		for (int s = 0; s < S_N; s++)
			put_series(b, K_STATUS + s, u, c->name, t,
				   s == u->status);
		if (alert < 0)
			continue;
		/* the alert's series and its numbers for the annotations */
		{
			size_t j = nalert[alert]++;
			ax[alert][j] = unit_numbers(u, c, c->deadline);
			anx[alert][j] = KPI_NUMBERS;
			as[alert][j].labels = u->l;
			as[alert][j].nlabels = u->n;
			pts[i].t = t;
			pts[i].v = isnan(u->value) ? 0 : u->value;
			as[alert][j].pts = &pts[i];
			as[alert][j].n = 1;
		}
	}
	feed_alerts(ks, ki, t, b, as, ax, anx, nalert);
	free(pts);
	rc = 0;
out:
	query_result_free(val);
	query_result_free(tgt);
	query_result_free(ros);
	return rc; /* fc is k->fc, kept for the next evaluations */
}

/* ---- calendar quotas ----------------------------------------------------------- */

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

/* each unit's count in [p0, end]: the sum of its samples, or a counter's
 * exact increase (resets handled, from the last sample before p0) */
static int period_counts(struct kpis *ks, struct kpi *k, int64_t p0, int64_t end,
			 struct query_result **res, char **cause)
{
	int64_t from = p0 - (k->c->count == CONF_COUNT_INCREASE ? k->c->stale_after_ms : 0);
	char *q = xasprintf("%s[%lldms]", k->c->value, (long long)(end - from));
	struct query_expr *x;
	struct query_error e = {0};
	int rc = query_parse(q, &x, &e);
	free(q);
	if (rc == 0) {
		rc = query_exec_instant(ks->st, &ks->qo, x, end, res, &e);
		query_expr_free(x);
	}
	if (rc != 0) {
		*cause = xasprintf("KPI %s, counting the period: %s", k->c->name, e.msg ? e.msg : "failed");
		query_error_clear(&e);
	}
	return rc;
}

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
			sum += v >= prev ? v - prev : v; /* a reset counts from zero */
		prev = v;
	}
	return sum;
}

static int eval_quota(struct kpis *ks, size_t ki, int64_t t, struct store_batch *b, char **cause)
{
	struct kpi *k = &ks->k[ki];
	const struct conf_kpi *c = k->c;
	int64_t now = t < c->deadline_ms ? t : c->deadline_ms - 1, p0, p1, q0, q1;
	char pname[32], qname[32];
	struct query_result *cur = NULL, *prev = NULL;
	int rc;

	if (now < c->start_ms)
		return 0;
	period_of(k, now, &p0, &p1, pname, sizeof pname);
	period_of(k, p0 - 1, &q0, &q1, qname, sizeof qname);
	if ((rc = period_counts(ks, k, p0, now, &cur, cause)) != 0)
		return rc;
	if (q1 > c->start_ms && (rc = period_counts(ks, k, q0, q1 - 1, &prev, cause)) != 0) {
		query_result_free(cur);
		return rc;
	}
	for (size_t i = 0; i < k->nu; i++)
		k->u[i].seen = false;
	double frac = (double)(now - p0) / (double)(p1 - p0);
	for (size_t i = 0; i < cur->nseries; i++) {
		struct unit *u = unit_of(k, cur->series[i].labels, cur->series[i].nlabels);
		double target = k->target_v, lim = c->tolerance * fabs(target), gap;
		u->seen = true;
		u->value = count_series(k, &cur->series[i], p0);
		u->target = target;
		u->baseline = 0;
		u->have_baseline = true;
		u->expected = target * frac;
		u->forecast = frac > 0 ? u->value / frac : NAN;
		gap = c->direction == CONF_AT_MOST ? u->value - u->expected : u->expected - u->value;
		if (reached(k, u->value, target) && c->direction == CONF_AT_LEAST) {
			u->status = S_MET;
			u->lagging = false;
		} else {
			u->lagging = u->lagging ? gap > c->hysteresis * lim : gap > lim;
			u->status = u->lagging ? S_LAGGING
				    : (!isnan(u->forecast) && !reached(k, u->forecast, target)) ? S_AT_RISK
												  : S_ON_TRACK;
		}
	}
	/* alerts: this period's laggards; last period's misses, named by period */
	struct query_series *as[A_N];
	struct pw_label **ax[A_N], *ml = NULL;
	size_t nalert[A_N] = {0}, *anx[A_N], nmiss = prev ? prev->nseries : 0;
	struct query_point *pts = xcalloc(k->nu + nmiss + 1, sizeof *pts);
	for (int a = 0; a < A_N; a++) {
		as[a] = xcalloc(k->nu + nmiss + 1, sizeof *as[a]);
		ax[a] = xcalloc(k->nu + nmiss + 1, sizeof *ax[a]);
		anx[a] = xcalloc(k->nu + nmiss + 1, sizeof *anx[a]);
	}
	size_t np = 0;
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		int alert = -1;
		if (!u->seen)
			continue;
		put_series(b, K_VALUE, u, c->name, t, u->value);
		put_series(b, K_TARGET, u, c->name, t, u->target);
		put_series(b, K_EXPECTED, u, c->name, t, u->expected);
		put_series(b, K_PROGRESS, u, c->name, t,
			   u->target != 0 ? u->value / u->target : 1);
		put_series(b, K_EXPECTED_RATIO, u, c->name, t, frac);
		if (!isnan(u->forecast))
			put_series(b, K_FORECAST, u, c->name, t, u->forecast);
		put_series(b, K_DEADLINE, u, c->name, t,
			   (double)(p1 / 1000));
		for (int st = 0; st < S_N; st++)
			put_series(b, K_STATUS + st, u, c->name, t,
				   st == u->status);
		if (u->status == S_LAGGING)
			alert = A_LAGGING;
		else if (u->status == S_AT_RISK)
			alert = A_AT_RISK;
		if (alert < 0)
			continue;
		size_t j = nalert[alert]++;
		ax[alert][j] = numbers(u, c, pname);
		anx[alert][j] = KPI_NUMBERS;
		as[alert][j].labels = u->l;
		as[alert][j].nlabels = u->n;
		pts[np].t = t;
		pts[np].v = u->value;
		as[alert][j].pts = &pts[np++];
		as[alert][j].n = 1;
	}
	ml = xcalloc((nmiss + 1) * 72, sizeof *ml);
	for (size_t i = 0; i < nmiss; i++) {
		const struct query_series *s = &prev->series[i];
		double cnt = count_series(k, s, q0);
		struct unit tmp = {0};
		struct pw_label *l = ml + i * 72;
		size_t n = 0;
		if (reached(k, cnt, k->target_v))
			continue;
		for (size_t q = 0; q < s->nlabels && n < 70; q++)
			if (strcmp(s->labels[q].name, "__name__"))
				l[n++] = s->labels[q];
		l[n].name = "period";
		l[n++].value = qname;
		tmp.l = l;
		tmp.n = n - 1;
		tmp.value = cnt;
		tmp.target = k->target_v;
		tmp.expected = k->target_v;
		tmp.forecast = cnt;
		size_t j = nalert[A_MISSED]++;
		ax[A_MISSED][j] = numbers(&tmp, c, qname);
		anx[A_MISSED][j] = KPI_NUMBERS;
		as[A_MISSED][j].labels = l;
		as[A_MISSED][j].nlabels = n;
		pts[np].t = t;
		pts[np].v = cnt;
		as[A_MISSED][j].pts = &pts[np++];
		as[A_MISSED][j].n = 1;
	}
	feed_alerts(ks, ki, t, b, as, ax, anx, nalert);
	free(ml);
	free(pts);
	query_result_free(cur);
	query_result_free(prev);
	return 0;
}

int kpis_eval(struct kpis *ks, int64_t t, bool dry, char **cause)
{
	/* one transaction (one fsync) for the whole evaluation; a KPI whose
	 * query fails writes what it computed before the failure, nothing
	 * after it */
	struct store_batch *b = store_batch_begin(ks->st);
	for (size_t i = 0; i < ks->n; i++) {
		char *why = NULL;
		if ((ks->k[i].c->period != CONF_PERIOD_NONE ? eval_quota(ks, i, t, b, &why)
							    : eval_one(ks, i, t, b, &why)) != 0) {
			log_warnx("kpi", "%s", why);
			free(why);
		}
	}
	if (dry) {
		store_batch_abort(b);
		return 0;
	}
	int rc = store_batch_commit(b, cause);
	if (rc == 0) {
		/* the units' series ids, so the next evaluation skips looking them
		 * up; in steady state none is stale and nothing is allocated */
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
			rules_resolve_keys(ks->r, ks->group_base + i);
	}
	return rc;
}

static void jstr(struct pw_buf *b, const char *s) { pw_buf_json_string(b, s); }

static void jnum(struct pw_buf *b, double v)
{
	char n[400];
	if (isnan(v) || isinf(v)) {
		pw_buf_puts(b, "null");
		return;
	}
	query_fmt_value(n, sizeof n, v);
	pw_buf_puts(b, n);
}

static int status_rank(int s)
{
	/* laggards first */
	static const int rank[S_N] = {5, 1, 3, 6, 0, 4, 2};
	return rank[s];
}

void kpis_json(struct kpis *ks, struct pw_buf *b)
{
	pw_buf_puts(b, "{\"kpis\":[");
	for (size_t i = 0; i < ks->n; i++) {
		struct kpi *k = &ks->k[i];
		const struct conf_kpi *c = k->c;
		char t[64];
		if (i)
			pw_buf_putc(b, ',');
		pw_buf_puts(b, "{\"name\":");
		jstr(b, c->name);
		pw_buf_puts(b, ",\"title\":");
		jstr(b, c->title ? c->title : c->name);
		pw_buf_printf(b, ",\"direction\":\"%s\",\"start\":",
			      c->direction == CONF_AT_MOST ? "at_most" : "at_least");
		pw_fmt_time(t, sizeof t, c->start_ms);
		jstr(b, t);
		pw_buf_puts(b, ",\"deadline\":");
		pw_fmt_time(t, sizeof t, c->deadline_ms);
		jstr(b, t);
		pw_buf_puts(b, ",\"owner\":");
		jstr(b, c->owner ? c->owner : "");
		pw_buf_puts(b, ",\"contact\":");
		jstr(b, c->contact ? c->contact : "");
		pw_buf_puts(b, ",\"units\":[");
		for (int r = 0, w = 0; r <= 6; r++) {
			for (size_t j = 0; j < k->nu; j++) {
				struct unit *u = &k->u[j];
				if (status_rank(u->status) != r)
					continue;
				if (w++)
					pw_buf_putc(b, ',');
				pw_buf_puts(b, "{\"labels\":");
				pw_buf_json_labels(b, u->l, u->n);
				pw_buf_printf(b, ",\"status\":\"%s\",\"value\":", status_names[u->status]);
				jnum(b, u->status == S_STALE ? NAN : u->value);
				pw_buf_puts(b, ",\"target\":");
				jnum(b, u->target);
				pw_buf_puts(b, ",\"baseline\":");
				jnum(b, u->have_baseline ? u->baseline : NAN);
				pw_buf_puts(b, ",\"expected\":");
				jnum(b, u->status >= S_STALE ? NAN : u->expected);
				pw_buf_puts(b, ",\"forecast\":");
				jnum(b, u->forecast);
				pw_buf_putc(b, '}');
			}
		}
		pw_buf_puts(b, "]}");
	}
	pw_buf_puts(b, "]}");
}
