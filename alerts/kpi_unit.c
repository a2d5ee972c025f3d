/*
 * kpi_unit.c — a KPI's units, shared by level KPIs (kpi.c) and calendar
 * quotas (kpi_quota.c): finding or making a unit by its labels, writing its
 * pacewatch_kpi_* series, the $kpi.* numbers its alerts carry, and feeding
 * the KPI alerts (one alert state per alert of kpi_model.c's table).
 */
#include "kpi_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- units ------------------------------------------------------------------------------ */

/* s holds exactly l's labels but a name */
bool kpi_same_unit(const struct pw_lset *s, uint64_t h, const struct pw_label *l, size_t n)
{
	size_t j = 0;
	if (s->h != h)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(l[i].name, "__name__") || !l[i].value[0])
			continue;
		if (j >= s->n || strcmp(s->l[j].name, l[i].name) || strcmp(s->l[j].value, l[i].value))
			return false;
		j++;
	}
	return j == s->n;
}

static void uidx_add(struct kpi *k, size_t j)
{
	size_t i = k->u[j].l->h & (k->uidx_cap - 1);
	while (k->uidx[i])
		i = (i + 1) & (k->uidx_cap - 1);
	k->uidx[i] = j + 1;
}

struct unit *kpi_unit(struct kpi *k, const struct pw_label *l, size_t n)
{
	/* query results come sorted: the hash without the name is the unit's */
	uint64_t h = pw_labels_hash(l, n, true);
	struct pw_label tmp[72];
	size_t m = 0;
	struct unit *u;
	for (size_t i = k->uidx_cap ? h & (k->uidx_cap - 1) : 0; k->uidx_cap && k->uidx[i];
	     i = (i + 1) & (k->uidx_cap - 1))
		if (kpi_same_unit(k->u[k->uidx[i] - 1].l, h, l, n))
			return &k->u[k->uidx[i] - 1];
	if (k->nu == k->capu) {
		k->capu = k->capu ? 2 * k->capu : 16;
		k->u = xreallocarray(k->u, k->capu, sizeof *k->u);
	}
	u = &k->u[k->nu++];
	memset(u, 0, sizeof *u);
	for (size_t i = 0; i < n && m < 72; i++)
		if (strcmp(l[i].name, "__name__"))
			tmp[m++] = l[i];
	u->l = pw_lset_new(tmp, m);
	if (k->nu * 2 > k->uidx_cap) {
		k->uidx_cap = k->uidx_cap ? 2 * k->uidx_cap : 32;
		free(k->uidx);
		k->uidx = xcalloc(k->uidx_cap, sizeof *k->uidx);
		for (size_t j = 0; j < k->nu; j++)
			uidx_add(k, j);
	} else {
		uidx_add(k, k->nu - 1);
	}
	return u;
}

void kpi_units_free(struct kpi *k)
{
	for (size_t i = 0; i < k->nu; i++) {
		pw_lset_unref(k->u[i].l);
		for (int q = 0; q < K_N; q++)
			store_key_free(&k->u[i].keys[q]);
		for (int q = 0; q < KPI_NUMBERS; q++)
			free((char *)k->u[i].nums[q].value);
	}
	free(k->u);
	free(k->uidx);
}

/* ---- the series ----------------------------------------------------------------------------- */

void kpi_put(struct store_batch *b, int which, struct unit *u, const char *kpi, int64_t t, double v)
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
		l[n++] = (struct pw_label){"__name__", names[which < K_STATUS ? which : K_STATUS]};
		l[n++] = (struct pw_label){"kpi", kpi};
		for (size_t i = 0; i < u->l->n && n < 70; i++)
			if (strcmp(u->l->l[i].name, "kpi"))
				l[n++] = u->l->l[i];
		if (which >= K_STATUS)
			l[n++] = (struct pw_label){"status", view_status_name(which - K_STATUS)};
		if (store_key_make(l, n, key, NULL) != 0) {
			store_batch_put(b, l, n, t, v); /* the batch reports the error */
			return;
		}
	}
	store_batch_put_key(b, key, t, v);
}

/* ---- the numbers alerts carry ------------------------------------------------------------------ */

/* the unit as people name it: its labels, without where it was scraped */
static void unit_text(const struct pw_label *l, size_t n, char *dst, size_t sz)
{
	size_t o = 0;
	dst[0] = '\0';
	for (size_t i = 0; i < n && o + 1 < sz; i++) {
		if (!strcmp(l[i].name, "instance") || !strcmp(l[i].name, "job"))
			continue;
		o += (size_t)snprintf(dst + o, sz - o, "%s%s=%s", o ? ", " : "", l[i].name, l[i].value);
	}
}

/* progress from baseline to target, as people read it: "62%" */
static void progress_text(char *dst, size_t sz, const struct unit *u)
{
	double den = u->target - u->baseline;
	if (den != 0 && !isnan(u->value) && !isnan(u->baseline))
		snprintf(dst, sz, "%.0f%%", 100 * (u->value - u->baseline) / den);
	else
		snprintf(dst, sz, "-");
}

struct pw_label *kpi_numbers(const struct unit *u, const struct conf_kpi *c, const char *deadline)
{
	static const char *const names[] = {"value", "expected", "target", "forecast", "baseline"};
	struct pw_label *x = xcalloc(KPI_NUMBERS, sizeof *x);
	double vs[5] = {u->value, u->expected, u->target, u->forecast, u->baseline};
	char v[400], unit[512], p[32];
	for (int q = 0; q < 5; q++) {
		pw_fmt_float(v, sizeof v, vs[q], PW_FMT_HUMAN);
		x[q] = (struct pw_label){names[q], xstrdup(v)};
	}
	unit_text(u->l->l, u->l->n, unit, sizeof unit);
	x[5] = (struct pw_label){"unit", xstrdup(unit)};
	x[6] = (struct pw_label){"title", xstrdup(c->title ? c->title : c->name)};
	x[7] = (struct pw_label){"deadline", xstrdup(deadline)};
	progress_text(p, sizeof p, u);
	x[8] = (struct pw_label){"progress", xstrdup(p)};
	return x;
}

void kpi_numbers_free(struct pw_label *x)
{
	for (int q = 0; x && q < KPI_NUMBERS; q++)
		free((char *)x[q].value);
	free(x);
}

/* kpi_numbers kept in the unit: only what changed is formatted again, and
 * a string is replaced only when its text changes */
const struct pw_label *kpi_unit_numbers(struct unit *u, const struct conf_kpi *c,
					 const char *deadline)
{
	double vs[5] = {u->value, u->expected, u->target, u->forecast, u->baseline};
	if (!u->nums[0].value || u->nums_deadline != deadline) {
		struct pw_label *x = kpi_numbers(u, c, deadline);
		for (int q = 0; q < KPI_NUMBERS; q++) {
			free((char *)u->nums[q].value);
			u->nums[q] = x[q];
		}
		free(x);
	} else {
		bool any = false;
		for (int q = 0; q < 5; q++) {
			char v[400];
			if (memcmp(&vs[q], &u->nums_in[q], sizeof vs[q]) == 0)
				continue;
			any = true;
			pw_fmt_float(v, sizeof v, vs[q], PW_FMT_HUMAN);
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

/* ---- the alerts ---------------------------------------------------------------------------------- */

/* one KPI alert's evaluation: every unit that raises it, as an alert with
 * the rule's labels and the annotations of the table */
static void feed_one(struct kpis *ks, struct kpi *k, enum kpi_alert a, int64_t t,
		     struct store_batch *b, const struct kpi_fire *f, size_t n)
{
	struct kpi_rule *r = &k->rules[a];
	struct pw_label ann[KPI_NUMBERS + 1], tann[KPI_NUMBERS + 1];
	size_t nann = kpi_alert_annotations(k->c, a, tann);
	char *why = NULL;
	int rc = 0;

	astate_begin(r->as, t);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct template_data td = {.labels = f[i].l, .ext = ks->ext, .nlabels = f[i].n,
					   .next = ks->next, .value = f[i].v, .kpi = f[i].nums,
					   .nkpi = KPI_NUMBERS};
		pw_lbuild_reset(&ks->lb);
		pw_lbuild_add(&ks->lb, f[i].l, f[i].n, "__name__");
		for (size_t q = 0; q < r->nmatch; q++)
			pw_lbuild_set(&ks->lb, r->match[q].name, r->match[q].value);
		pw_lbuild_set(&ks->lb, "alertname", kpi_alert_defs[a].name);
		pw_lbuild_sorted(&ks->lb);
		for (size_t q = 0; q < nann; q++)
			ann[q] = (struct pw_label){tann[q].name, template_expand(tann[q].value, &td)};
		rc = astate_feed(r->as, ks->lb.l, ks->lb.n, ann, nann, f[i].v, t, &why);
		for (size_t q = 0; q < nann; q++)
			free((char *)ann[q].value);
	}
	if (rc != 0)
		astate_cancel(r->as);
	else
		astate_end(r->as, ks->st, b, t, &why);
	free(r->last_error);
	r->last_error = why;
	r->last_eval = t;
	k->last_eval = t;
}

void kpi_feed_alerts(struct kpis *ks, struct kpi *k, int64_t t, struct store_batch *b,
		     struct kpi_fire *const *fires, const size_t *nfires)
{
	for (int a = 0; a < KPI_NALERTS; a++)
		feed_one(ks, k, (enum kpi_alert)a, t, b, fires[a], nfires[a]);
}
