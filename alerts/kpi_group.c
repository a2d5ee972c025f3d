/*
 * kpi_group.c — what a KPI knows of units beyond each one alone
 * (docs/kpis.md): the units table's names and rosters, roll-ups (a value
 * made from another KPI's units below each unit of a kind), and the peers
 * a below-the-peers KPI compares each unit with.
 */
#include "kpi_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the units table ---------------------------------------------------------------------- */

const struct conf_unit *kpi_table_unit(const struct kpis *ks, const struct kpi *k,
				       const struct unit *u)
{
	const char *code;
	if (!k->c->unit_code || !ks->conf->units.n)
		return NULL;
	code = pw_labels_get(u->l->l, u->l->n, k->c->unit_code);
	return code ? conf_unit_find(ks->conf, code) : NULL;
}

static bool where_holds(const struct conf *c, const struct conf_roster_units *r,
			const struct conf_unit *u)
{
	double v;
	if (!r->attr)
		return true;
	v = conf_unit_attr(c, u, r->attr);
	if (isnan(v))
		return false;
	switch (r->cmp) {
	case CONF_CMP_GE: return v >= r->v;
	case CONF_CMP_GT: return v > r->v;
	case CONF_CMP_LE: return v <= r->v;
	case CONF_CMP_LT: return v < r->v;
	case CONF_CMP_EQ: return v == r->v;
	case CONF_CMP_NE: return v != r->v;
	default: return false;
	}
}

void kpi_roster_units(struct kpis *ks, struct kpi *k)
{
	const struct conf *c = ks->conf;
	const struct conf_roster_units *r = &k->c->roster_units;
	if (!r->kind || !k->c->unit_code)
		return;
	for (size_t i = 0; i < c->units.n; i++) {
		const struct conf_unit *tu = &c->units.v[i];
		struct pw_label l = {k->c->unit_code, tu->code};
		bool named = false;
		if (strcmp(tu->kind, r->kind) != 0 || !where_holds(c, r, tu))
			continue;
		/* the value's units with that code are the roster's unit: those that
		 * reported when there are any, so that a unit made for the roster
		 * before its unit first reported (with the code label alone) is no
		 * longer named and leaves (kpi_units_prune), not stays beside it */
		bool reported = false;
		for (size_t j = 0; j < k->nu; j++) {
			const char *code = pw_labels_get(k->u[j].l->l, k->u[j].l->n, k->c->unit_code);
			if (code && strcmp(code, tu->code) == 0 && k->u[j].reported)
				reported = true;
		}
		for (size_t j = 0; j < k->nu; j++) {
			const char *code = pw_labels_get(k->u[j].l->l, k->u[j].l->n, k->c->unit_code);
			if (code && strcmp(code, tu->code) == 0 && (k->u[j].reported || !reported))
				k->u[j].in_roster = named = true;
		}
		if (!named)
			kpi_unit(k, &l, 1)->in_roster = true;
	}
}

/* ---- the order of evaluation ------------------------------------------------------------------- */

void kpis_order(struct kpis *ks)
{
	size_t n = 0;
	bool *placed = xcalloc(ks->n + 1, sizeof *placed);
	ks->order = xcalloc(ks->n + 1, sizeof *ks->order);
	for (size_t i = 0; i < ks->n; i++) {
		const char *b = ks->k[i].c->rollup.kpi;
		ks->k[i].base = NULL;
		for (size_t j = 0; b && j < ks->n; j++)
			if (j != i && strcmp(ks->k[j].c->name, b) == 0)
				ks->k[i].base = &ks->k[j];
	}
	/* bases first; validation refused circles, so every pass places one */
	while (n < ks->n) {
		size_t before = n;
		for (size_t i = 0; i < ks->n; i++)
			if (!placed[i] && (!ks->k[i].base || placed[ks->k[i].base - ks->k])) {
				placed[i] = true;
				ks->order[n++] = i;
			}
		if (n == before) /* cannot happen after validation; stay total */
			for (size_t i = 0; i < ks->n; i++)
				if (!placed[i]) {
					placed[i] = true;
					ks->order[n++] = i;
				}
	}
	free(placed);
}

/* ---- roll-ups -------------------------------------------------------------------------------- */

struct acc {
	const struct conf_unit *to;
	double n, met, sum, nval, progress, nprog;
	bool fresh;
	int64_t last_seen;
};

void kpi_rollup_values(struct kpis *ks, struct kpi *k)
{
	const struct conf *c = ks->conf;
	const struct kpi *b = k->base;
	const struct conf_rollup *ru = &k->c->rollup;
	struct acc *acc;
	size_t nacc = 0;
	for (size_t i = 0; i < k->nu; i++)
		k->u[i].fresh = false;
	if (!b || b->evaluated_at != k->evaluating_at)
		return; /* its base was not evaluated at this slot (before its start, or failed) */
	acc = xcalloc(b->nu + 1, sizeof *acc);
	for (size_t i = 0; i < b->nu; i++) {
		const struct unit *bu = &b->u[i];
		const struct conf_unit *tu = kpi_table_unit(ks, b, bu), *to;
		size_t a;
		if (!tu || !(to = conf_unit_ancestor(c, tu, ru->to)))
			continue;
		for (a = 0; a < nacc && acc[a].to != to; a++)
			;
		if (a == nacc)
			acc[nacc++].to = to;
		acc[a].n++;
		acc[a].met += (bu->conds & VIEW_COND(VIEW_MET)) != 0;
		if (bu->reported && !isnan(bu->n.value)) {
			acc[a].sum += bu->n.value;
			acc[a].nval++;
		}
		if (!isnan(bu->n.progress)) {
			acc[a].progress += bu->n.progress;
			acc[a].nprog++;
		}
		if (bu->fresh) {
			acc[a].fresh = true;
			if (bu->last_seen > acc[a].last_seen)
				acc[a].last_seen = bu->last_seen;
		}
	}
	for (size_t a = 0; a < nacc; a++) {
		const char *lname = k->c->unit_code; /* set by validation */
		double v;
		switch (ru->measure) {
		case CONF_RU_SHARE_MET: v = acc[a].met / acc[a].n; break;
		case CONF_RU_COUNT_MET: v = acc[a].met; break;
		case CONF_RU_SUM: v = acc[a].nval ? acc[a].sum : NAN; break;
		case CONF_RU_MEAN: v = acc[a].nval ? acc[a].sum / acc[a].nval : NAN; break;
		default: v = acc[a].nprog ? acc[a].progress / acc[a].nprog : NAN; break;
		}
		if (isnan(v))
			continue;
		struct pw_label l = {lname, acc[a].to->code};
		struct unit *u = kpi_unit(k, &l, 1);
		u->value = v;
		u->reported = true;
		u->fresh = acc[a].fresh;
		if (acc[a].fresh)
			u->last_seen = acc[a].last_seen ? acc[a].last_seen : k->evaluating_at;
	}
	free(acc);
}

/* ---- below the peers ---------------------------------------------------------------------------- */

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* the group key of a unit: its group_by labels' values */
static bool same_group(const struct conf_peers *p, const struct unit *a, const struct unit *b)
{
	for (size_t g = 0; g < p->ngroup_by; g++) {
		const char *x = pw_labels_get(a->l->l, a->l->n, p->group_by[g]);
		const char *y = pw_labels_get(b->l->l, b->l->n, p->group_by[g]);
		if (strcmp(x ? x : "", y ? y : ""))
			return false;
	}
	return true;
}

void kpi_peers_judge(struct kpi *k)
{
	const struct conf_peers *p = &k->c->peers;
	bool at_most = k->c->direction == CONF_AT_MOST;
	size_t *grp = xcalloc(k->nu + 1, sizeof *grp), ng = 0;
	double *vals = xcalloc(k->nu + 1, sizeof *vals);
	/* groups of the fresh units: grp[i] = group index + 1 */
	for (size_t i = 0; i < k->nu; i++) {
		k->u[i].target = NAN;
		k->u[i].peer_stat = NAN;
		if (!k->u[i].fresh)
			continue;
		for (size_t j = 0; j < i && !grp[i]; j++)
			if (grp[j] && same_group(p, &k->u[i], &k->u[j]))
				grp[i] = grp[j];
		if (!grp[i])
			grp[i] = ++ng;
	}
	for (size_t g = 1; g <= ng; g++) {
		size_t n = 0;
		double mean = 0, var = 0, stat, thr;
		for (size_t i = 0; i < k->nu; i++)
			if (grp[i] == g)
				vals[n++] = k->u[i].value;
		if (n < 3)
			continue; /* too few to tell who is behind */
		for (size_t q = 0; q < n; q++)
			mean += vals[q];
		mean /= (double)n;
		for (size_t q = 0; q < n; q++)
			var += (vals[q] - mean) * (vals[q] - mean);
		if (p->below == CONF_PEERS_MEDIAN) {
			qsort(vals, n, sizeof *vals, dcmp);
			stat = n % 2 ? vals[n / 2] : (vals[n / 2 - 1] + vals[n / 2]) / 2;
			thr = at_most ? (p->fraction > 0 ? stat / p->fraction : INFINITY)
				      : stat * p->fraction;
		} else {
			double sd = sqrt(var / (double)n);
			stat = mean;
			thr = at_most ? mean + p->k * sd : mean - p->k * sd;
		}
		for (size_t i = 0; i < k->nu; i++)
			if (grp[i] == g) {
				k->u[i].peer_stat = stat;
				k->u[i].target = thr;
			}
	}
	free(grp);
	free(vals);
}
