/*
 * kpi_unit.c — a KPI's units, shared by every kind (kpi.c, kpi_quota.c):
 * finding or making a unit by its labels, its name for people, writing its
 * record (the pacewatch_kpi_* series of a slot), the $kpi.* numbers its
 * alerts carry, and feeding the KPI alerts (one alert state per alert of
 * kpi_model.c's table).
 */
#include "kpi_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- identity ---------------------------------------------------------------------- */

/* labels that do not tell units apart: the metric name, and the labels the
 * record's series carry of their own (kpi, status, condition) */
static bool ignored(const char *name)
{
	return !strcmp(name, "__name__") || !strcmp(name, "kpi") || !strcmp(name, "status") ||
	       !strcmp(name, "condition");
}

/* l without the ignored labels (sorted: query results and lsets are) */
static size_t identity(const struct pw_label *l, size_t n, struct pw_label *out, size_t max)
{
	size_t m = 0;
	for (size_t i = 0; i < n && m < max; i++)
		if (!ignored(l[i].name) && l[i].value[0])
			out[m++] = l[i];
	return pw_labels_sort(out, m);
}

static void uidx_add(struct kpi *k, size_t j)
{
	size_t i = k->u[j].l->h & (k->uidx_cap - 1);
	while (k->uidx[i])
		i = (i + 1) & (k->uidx_cap - 1);
	k->uidx[i] = j + 1;
}

static void uidx_rebuild(struct kpi *k)
{
	size_t cap = 32;
	while (cap < k->nu * 2)
		cap *= 2;
	free(k->uidx);
	k->uidx_cap = cap;
	k->uidx = xcalloc(cap, sizeof *k->uidx);
	for (size_t j = 0; j < k->nu; j++)
		uidx_add(k, j);
}

static struct unit *find(struct kpi *k, const struct pw_label *id, size_t m, uint64_t h)
{
	for (size_t i = k->uidx_cap ? h & (k->uidx_cap - 1) : 0; k->uidx_cap && k->uidx[i];
	     i = (i + 1) & (k->uidx_cap - 1))
		if (pw_lset_is(k->u[k->uidx[i] - 1].l, h, id, m))
			return &k->u[k->uidx[i] - 1];
	return NULL;
}

struct pw_lset *kpi_identity(const struct pw_label *l, size_t n)
{
	struct pw_label id[72];
	size_t m = identity(l, n, id, 72);
	return pw_lset_new(id, m);
}

struct unit *kpi_unit_of(struct kpi *k, struct pw_lset *id, bool make)
{
	struct unit *u = find(k, id->l, id->n, id->h);
	if (!u && make)
		u = kpi_unit(k, id->l, id->n);
	if (u && u->l != id) { /* the same labels: share them */
		pw_lset_unref(u->l);
		u->l = pw_lset_ref(id);
	}
	return u;
}

struct unit *kpi_unit_find(struct kpi *k, const struct pw_label *l, size_t n)
{
	struct pw_label id[72];
	size_t m = identity(l, n, id, 72);
	return find(k, id, m, pw_labels_hash(id, m, false));
}

struct unit *kpi_unit(struct kpi *k, const struct pw_label *l, size_t n)
{
	struct pw_label id[72];
	size_t m = identity(l, n, id, 72);
	uint64_t h = pw_labels_hash(id, m, false);
	struct unit *u = find(k, id, m, h);
	if (u)
		return u;
	if (k->nu == k->capu) {
		k->capu = k->capu ? 2 * k->capu : 16;
		k->u = xreallocarray(k->u, k->capu, sizeof *k->u);
	}
	u = &k->u[k->nu++];
	memset(u, 0, sizeof *u);
	u->l = pw_lset_new(id, m);
	u->value = u->baseline = u->target = NAN;
	u->n = (struct kpi_numbers){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
	u->status = VIEW_ON_TRACK;
	u->status_written = -1;
	if (k->nu * 2 > k->uidx_cap)
		uidx_rebuild(k);
	else
		uidx_add(k, k->nu - 1);
	return u;
}

static void unit_free(struct unit *u)
{
	pw_lset_unref(u->l);
	free(u->name);
	for (int q = 0; q < K_NSERIES; q++)
		store_key_free(&u->keys[q]);
	for (size_t q = 0; q < u->nx; q++)
		store_key_free(&u->xkeys[q].key);
	free(u->xkeys);
	for (int a = 0; a < KPI_NALERTS; a++) {
		pw_lset_unref(u->alabels[a]);
		pw_lset_unref(u->aann[a]);
	}
	for (int q = 0; q < KPI_NUMS; q++)
		free(u->nums[q]);
}

void kpi_units_prune(struct kpi *k)
{
	size_t w = 0;
	for (size_t i = 0; i < k->nu; i++) {
		if (!k->u[i].reported && !k->u[i].in_roster) {
			unit_free(&k->u[i]);
			continue;
		}
		if (w != i)
			k->u[w] = k->u[i];
		w++;
	}
	if (w != k->nu) {
		k->nu = w;
		uidx_rebuild(k);
	}
}

void kpi_units_free(struct kpi *k)
{
	for (size_t i = 0; i < k->nu; i++)
		unit_free(&k->u[i]);
	free(k->u);
	free(k->uidx);
	k->u = NULL;
	k->uidx = NULL;
	k->nu = k->capu = k->uidx_cap = 0;
}

void kpi_unit_name(struct kpis *ks, struct kpi *k, struct unit *u)
{
	struct pw_buf b;
	if (u->name)
		return;
	if (k->c->unit_name) {
		struct template_data td = {.labels = u->l->l, .nlabels = u->l->n, .ext = ks->ext,
					   .next = ks->next, .value = NAN};
		u->name = template_expand(k->c->unit_name, &td);
		return;
	}
	/* its name in the units table */
	const struct conf_unit *tu = kpi_table_unit(ks, k, u);
	if (tu) {
		u->name = xstrdup(tu->name);
		return;
	}
	const char *code = k->c->unit_code ? pw_labels_get(u->l->l, u->l->n, k->c->unit_code) : NULL;
	if (code && ks->conf->units.n)
		log_warnx("kpi", "KPI %s: unit code %s is not in the units table; named by its labels",
			  k->c->name, code);
	/* the values of its labels but where it was scraped */
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "");
	for (size_t i = 0; i < u->l->n; i++) {
		if (!strcmp(u->l->l[i].name, "instance") || !strcmp(u->l->l[i].name, "job"))
			continue;
		pw_buf_printf(&b, "%s%s", b.len ? " " : "", u->l->l[i].value);
	}
	u->name = pw_buf_take(&b);
}

/* ---- the record ----------------------------------------------------------------------- */

static const char *const series_names[K_NSERIES] = {
	"pacewatch_kpi_value",          "pacewatch_kpi_target",
	"pacewatch_kpi_baseline",       "pacewatch_kpi_expected",
	"pacewatch_kpi_progress_ratio", "pacewatch_kpi_expected_ratio",
	"pacewatch_kpi_forecast",       "pacewatch_kpi_last_seen_timestamp_seconds",
	"pacewatch_kpi_baseline_timestamp_seconds"};

static struct store_key *key_of(struct unit *u, int which)
{
	if (which < K_NSERIES)
		return &u->keys[which];
	for (size_t i = 0; i < u->nx; i++)
		if (u->xkeys[i].which == which)
			return &u->xkeys[i].key;
	u->xkeys = xreallocarray(u->xkeys, u->nx + 1, sizeof *u->xkeys);
	memset(&u->xkeys[u->nx], 0, sizeof u->xkeys[u->nx]);
	u->xkeys[u->nx].which = which;
	return &u->xkeys[u->nx++].key;
}

void kpi_put(struct store_batch *b, int which, struct unit *u, const char *kpi, int64_t t, double v)
{
	struct store_key *key = key_of(u, which);
	if (!key->id)
		u->keys_new = true; /* resolve it after the commit */
	if (!key->enc) {
		struct pw_label l[72];
		size_t n = 0;
		if (which < K_NSERIES) {
			l[n++] = (struct pw_label){"__name__", series_names[which]};
		} else if (which >= K_COND0) {
			l[n++] = (struct pw_label){"__name__", "pacewatch_kpi_condition"};
			l[n++] = (struct pw_label){"condition", view_status_name(which - K_COND0)};
		} else {
			l[n++] = (struct pw_label){"__name__", "pacewatch_kpi_status"};
			l[n++] = (struct pw_label){"status", view_status_name(which - K_STATUS0)};
		}
		l[n++] = (struct pw_label){"kpi", kpi};
		for (size_t i = 0; i < u->l->n && n < 70; i++)
			l[n++] = u->l->l[i];
		if (store_key_make(l, n, key, NULL) != 0) {
			store_batch_put(b, l, n, t, v); /* the batch reports the error */
			return;
		}
	}
	store_batch_put_key(b, key, t, v);
}

static void put_num(struct store_batch *b, int which, struct unit *u, const char *kpi, int64_t t,
		    double v)
{
	if (!isnan(v))
		kpi_put(b, which, u, kpi, t, v);
}

void kpi_write_unit(struct store_batch *b, const struct kpi *k, struct unit *u, int64_t t)
{
	const char *name = k->c->name;
	put_num(b, K_VALUE, u, name, t, u->n.value);
	put_num(b, K_TARGET, u, name, t, u->n.target);
	put_num(b, K_BASELINE, u, name, t, u->n.baseline);
	put_num(b, K_EXPECTED, u, name, t, u->n.expected);
	put_num(b, K_PROGRESS, u, name, t, u->n.progress);
	put_num(b, K_EXPECTED_RATIO, u, name, t, u->n.expected_progress);
	put_num(b, K_FORECAST, u, name, t, u->n.forecast);
	if (u->conds & VIEW_COND(VIEW_STALE))
		kpi_put(b, K_LAST_SEEN, u, name, t, (double)u->last_seen / 1000);
	/* when a late starter's plan starts: written once, at the slot its
	 * baseline was taken (the record reads the newest at or before a slot) */
	if (u->have_baseline && u->baseline_at > k->c->start_ms && !u->baseline_at_written) {
		kpi_put(b, K_BASELINE_AT, u, name, t, (double)u->baseline_at / 1000);
		u->baseline_at_written = true;
	}
	/* the status's series and each condition's: 1 while it holds, a
	 * staleness marker when it ends */
	if (u->status_written >= 0 && u->status_written != (int)u->status)
		kpi_put(b, K_STATUS0 + u->status_written, u, name, t, store_stale_nan());
	kpi_put(b, K_STATUS0 + (int)u->status, u, name, t, 1);
	u->status_written = (int)u->status;
	for (int c = 0; c < VIEW_ON_TRACK; c++) {
		if (u->conds & VIEW_COND(c))
			kpi_put(b, K_COND0 + c, u, name, t, 1);
		else if (u->conds_written & VIEW_COND(c))
			kpi_put(b, K_COND0 + c, u, name, t, store_stale_nan());
	}
	u->conds_written = u->conds;
}

void kpi_write_kpi(struct kpis *ks, struct store_batch *b, struct kpi *k, int64_t t, int64_t due)
{
	struct pw_label l[2] = {{"__name__", "pacewatch_kpi_units"}, {"kpi", k->c->name}};
	(void)ks;
	store_batch_put(b, l, 2, t, (double)k->nu);
	l[0].value = "pacewatch_kpi_deadline_timestamp_seconds";
	store_batch_put(b, l, 2, t, (double)(due / 1000));
}

/* ---- the numbers alerts carry ------------------------------------------------------------- */

/* a number for people: at most two decimals, four significant digits below 1 */
static void people(char *dst, size_t sz, double v)
{
	if (isnan(v) || isinf(v))
		snprintf(dst, sz, "-");
	else
		pw_fmt_float(dst, sz, v, PW_FMT_HUMAN);
}

static void people_time(char *dst, size_t sz, int64_t ms, const struct pw_tz *tz)
{
	if (!ms) {
		snprintf(dst, sz, "-");
		return;
	}
	pw_fmt_local(dst, sz, ms, tz);
}

/* set number q's text, counting a change */
static void num_set(struct unit *u, int q, const char *text)
{
	if (u->nums[q] && strcmp(u->nums[q], text) == 0)
		return;
	free(u->nums[q]);
	u->nums[q] = xstrdup(text);
	u->nums_gen++;
}

/* a share as a percentage with one decimal ("-": none) */
static void percent(char *dst, size_t sz, double v)
{
	if (isnan(v) || isinf(v))
		snprintf(dst, sz, "-");
	else
		snprintf(dst, sz, "%.1f%%", 100 * v + 0.0);
}

static void unit_numbers(struct kpis *ks, struct kpi *k, struct unit *u)
{
	const struct conf_kpi *c = k->c;
	char v[400];
	const double span = u->n.span;
	const double nums[] = {u->n.value, u->n.expected, u->n.target, u->n.baseline,
			       u->n.gap,   u->n.gap_target, u->n.forecast};
	static const int at[] = {N_VALUE, N_EXPECTED, N_TARGET, N_BASELINE,
				 N_GAP,   N_GAP_TARGET, N_FORECAST};
	const double shares[] = {span > 0 ? u->n.gap / span : NAN,
				 span > 0 ? u->n.gap_target / span : NAN, u->n.progress,
				 u->n.expected_progress};
	static const int sat[] = {N_GAP_PCT, N_GAP_TARGET_PCT, N_PROGRESS, N_EXPECTED_PROGRESS};
	kpi_unit_name(ks, k, u);
	num_set(u, N_TITLE, c->title ? c->title : c->name);
	num_set(u, N_UNIT, u->name);
	for (size_t q = 0; q < sizeof at / sizeof at[0]; q++) {
		people(v, sizeof v, nums[q]);
		num_set(u, at[q], v);
	}
	for (size_t q = 0; q < sizeof sat / sizeof sat[0]; q++) {
		percent(v, sizeof v, shares[q]);
		num_set(u, sat[q], v);
	}
	num_set(u, N_DEADLINE, k->kind == VIEW_KPI_QUOTA ? k->period : c->deadline);
	people_time(v, sizeof v, u->last_seen, k->tz);
	num_set(u, N_LAST_SEEN, v);
	num_set(u, N_COVERAGE, c->coverage ? c->coverage : "");
	num_set(u, N_PERIOD, k->period);
	snprintf(v, sizeof v, "%016llx", (unsigned long long)u->l->h);
	num_set(u, N_UNIT_ID, v);
}

/* ---- the alerts ------------------------------------------------------------------------------ */

static const char *const num_names[KPI_NUMS] = {
	"title",    "unit",           "value",    "expected",          "target",
	"baseline", "gap",            "gap_pct",  "gap_target",        "gap_target_pct",
	"progress", "expected_progress", "forecast", "deadline",       "last_seen",
	"coverage", "period",   "unit_id"};

/* the $kpi.* numbers as labels: the unit's, or for a quota's missed
 * period the numbers of that period (the plan was the whole target) */
static void nums_of(const struct kpi *k, const struct unit *u, bool missed_period,
		    struct pw_label *out, char (*buf)[64])
{
	double t = k->target_v, short_by = t - u->prev_count;
	for (int q = 0; q < KPI_NUMS; q++)
		out[q] = (struct pw_label){num_names[q], u->nums[q] ? u->nums[q] : ""};
	if (!missed_period)
		return;
	people(buf[0], 64, u->prev_count);
	people(buf[1], 64, short_by);
	percent(buf[2], 64, t > 0 ? short_by / t : NAN);
	percent(buf[3], 64, t > 0 ? u->prev_count / t : NAN);
	out[N_VALUE].value = buf[0];
	out[N_GAP_TARGET].value = out[N_GAP].value = buf[1];
	out[N_GAP_TARGET_PCT].value = out[N_GAP_PCT].value = buf[2];
	out[N_PROGRESS].value = buf[3];
	out[N_EXPECTED_PROGRESS].value = "100.0%";
	out[N_DEADLINE].value = k->prev_period;
	out[N_PERIOD].value = k->prev_period;
	out[N_EXPECTED].value = u->nums[N_TARGET] ? u->nums[N_TARGET] : "";
	out[N_FORECAST].value = buf[0];
}

/* the alert's labels (made once) and annotations (made again when a number
 * changed) for unit u */
static void alert_sets(struct kpis *ks, struct kpi *k, struct unit *u, enum kpi_alert a,
		       const struct pw_label *extra)
{
	struct kpi_rule *r = &k->rules[a];
	if (!u->alabels[a] || extra) {
		pw_lbuild_reset(&ks->lb);
		pw_lbuild_add(&ks->lb, u->l->l, u->l->n, NULL);
		if (extra)
			pw_lbuild_set(&ks->lb, extra->name, extra->value);
		for (size_t q = 0; q < r->nmatch; q++)
			pw_lbuild_set(&ks->lb, r->match[q].name, r->match[q].value);
		pw_lbuild_set(&ks->lb, "alertname", kpi_alert_defs[a].name);
		pw_lbuild_sorted(&ks->lb);
		pw_lset_set(&u->alabels[a], pw_lbuild_lset(&ks->lb));
	}
	if (!u->aann[a] || u->aann_gen[a] != u->nums_gen || extra) {
		struct pw_label tann[KPI_ANNOTATIONS + 1], ann[KPI_ANNOTATIONS + 1], nums[KPI_NUMS];
		char buf[4][64];
		size_t nann = kpi_alert_annotations(k->c, ks->conf->global.language == CONF_LANG_ZH, a,
						    tann);
		nums_of(k, u, extra != NULL, nums, buf);
		struct template_data td = {.labels = u->l->l, .nlabels = u->l->n, .ext = ks->ext,
					   .next = ks->next, .value = u->n.value, .kpi = nums,
					   .nkpi = KPI_NUMS};
		for (size_t q = 0; q < nann; q++)
			ann[q] = (struct pw_label){tann[q].name, template_expand(tann[q].value, &td)};
		pw_lset_set(&u->aann[a], pw_lset_new(ann, nann));
		for (size_t q = 0; q < nann; q++)
			free((char *)ann[q].value);
		u->aann_gen[a] = u->nums_gen;
	}
}

static bool fires(const struct kpi *k, const struct unit *u, enum kpi_alert a)
{
	return kpi_alert_applies(k->c, a) && (u->conds & VIEW_COND(kpi_alert_defs[a].cond));
}

void kpi_feed_alerts(struct kpis *ks, struct kpi *k, int64_t t, struct store_batch *b)
{
	for (size_t i = 0; i < k->nu; i++) {
		struct unit *u = &k->u[i];
		for (int a = 0; a < KPI_NALERTS; a++)
			if (fires(k, u, (enum kpi_alert)a)) {
				unit_numbers(ks, k, u);
				break;
			}
	}
	for (int a = 0; a < KPI_NALERTS; a++) {
		struct kpi_rule *r = &k->rules[a];
		char *why = NULL;
		int rc = 0;
		if (!r->as)
			continue;
		astate_begin(r->as, t);
		for (size_t i = 0; i < k->nu && rc == 0; i++) {
			struct unit *u = &k->u[i];
			struct pw_label period = {"period", k->prev_period};
			bool by_period = a == KPI_MISSED && k->kind == VIEW_KPI_QUOTA;
			if (!fires(k, u, (enum kpi_alert)a))
				continue;
			/* a quota's missed period is named by a label: the alert of
			 * one period is not the next one's */
			alert_sets(ks, k, u, (enum kpi_alert)a, by_period ? &period : NULL);
			rc = astate_feed_lset(r->as, u->alabels[a], u->aann[a],
					      by_period ? u->prev_count
							: isnan(u->n.value) ? 0 : u->n.value,
					      t, &why);
		}
		if (rc != 0)
			astate_cancel(r->as);
		else
			astate_end(r->as, ks->st, b, t, &why);
		free(r->last_error);
		r->last_error = why;
		r->last_eval = t;
	}
	k->last_eval = t;
}
