/*
 * view.c — making views and their metas (the decider's thread), the slot
 * readers take them from, and the vocabulary of alert states and KPI
 * statuses every reader shares.
 */
#include "view.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *view_alert_state_name(enum view_alert_state s)
{
	return s == VIEW_FIRING ? "firing" : s == VIEW_PENDING ? "pending" : "inactive";
}

static const char *const status_names[VIEW_NSTATUS] = {
	"missed", "not_reporting", "not_covered", "below_peers", "lagging", "at_risk", "stale", "met",
	"on_track"};
static const char *const status_names_zh[VIEW_NSTATUS] = {
	"逾期未达标", "应报未报", "尚未达标", "明显低于同组", "进度落后", "有风险", "数据未更新", "已达标",
	"正常"};

const char *view_status_name(enum view_status s)
{
	return (unsigned)s < VIEW_NSTATUS ? status_names[s] : "unknown";
}

const char *view_status_name_zh(enum view_status s)
{
	return (unsigned)s < VIEW_NSTATUS ? status_names_zh[s] : "未知";
}

enum view_status view_status_of(uint32_t conds)
{
	for (int s = 0; s < VIEW_ON_TRACK; s++)
		if (conds & VIEW_COND(s))
			return (enum view_status)s;
	return VIEW_ON_TRACK;
}

int view_status_rank(enum view_status s)
{
	return (unsigned)s < VIEW_NSTATUS ? (int)s : VIEW_NSTATUS;
}

/* ---- strings owned by a meta or a view ------------------------------------------ */

static const char *own(char ***strs, size_t *n, const char *s)
{
	char *c;
	if (!s)
		return NULL;
	c = xstrdup(s);
	if ((*n & (*n - 1)) == 0) /* 0, 1, 2, 4, ...: room doubles */
		*strs = xreallocarray(*strs, *n ? 2 * *n : 1, sizeof **strs);
	return (*strs)[(*n)++] = c;
}

static void own_free(char **strs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(strs[i]);
	free(strs);
}

/* ---- meta ---------------------------------------------------------------------------- */

static void meta_free(struct pw_shared *sh)
{
	struct view_meta *m = (struct view_meta *)sh;
	for (size_t i = 0; i < m->nrules; i++) {
		free((void *)m->rules[i].labels);
		free((void *)m->rules[i].annotations);
	}
	for (size_t i = 0; i < m->nkpis; i++)
		free((void *)m->kpis[i].milestones);
	free(m->groups);
	free(m->rules);
	free(m->kpis);
	own_free(m->strs, m->nstrs);
	free(m);
}

struct view_meta *view_meta_new(void)
{
	struct view_meta *m = xcalloc(1, sizeof *m);
	pw_shared_init(&m->sh, meta_free);
	return m;
}

const char *view_meta_str(struct view_meta *m, const char *s)
{
	return own(&m->strs, &m->nstrs, s);
}

size_t view_meta_add_group(struct view_meta *m, const char *name, const char *file,
			   int64_t interval_ms, int64_t limit)
{
	struct view_meta_group *g;
	m->groups = xreallocarray(m->groups, m->ngroups + 1, sizeof *m->groups);
	g = &m->groups[m->ngroups];
	g->name = view_meta_str(m, name);
	g->file = view_meta_str(m, file ? file : "");
	g->interval_ms = interval_ms;
	g->limit = limit;
	g->rule0 = m->nrules;
	g->nrules = 0;
	return m->ngroups++;
}

static const struct pw_label *labels_copy(struct view_meta *m, const struct pw_label *l, size_t n)
{
	struct pw_label *c = xcalloc(n + 1, sizeof *c);
	for (size_t i = 0; i < n; i++) {
		c[i].name = view_meta_str(m, l[i].name);
		c[i].value = view_meta_str(m, l[i].value);
	}
	return c;
}

size_t view_meta_add_rule(struct view_meta *m, const struct view_meta_rule *r)
{
	struct view_meta_rule *c;
	m->rules = xreallocarray(m->rules, m->nrules + 1, sizeof *m->rules);
	c = &m->rules[m->nrules];
	*c = *r;
	c->name = view_meta_str(m, r->name);
	c->query = view_meta_str(m, r->query);
	c->labels = labels_copy(m, r->labels, r->nlabels);
	c->annotations = labels_copy(m, r->annotations, r->nannotations);
	c->group = m->ngroups ? m->ngroups - 1 : 0;
	if (m->ngroups)
		m->groups[m->ngroups - 1].nrules++;
	return m->nrules++;
}

size_t view_meta_add_kpi(struct view_meta *m, const struct view_meta_kpi *k)
{
	struct view_meta_kpi *c;
	m->kpis = xreallocarray(m->kpis, m->nkpis + 1, sizeof *m->kpis);
	c = &m->kpis[m->nkpis];
	*c = *k;
	c->name = view_meta_str(m, k->name);
	c->title = view_meta_str(m, k->title ? k->title : k->name);
	c->owner = view_meta_str(m, k->owner ? k->owner : "");
	c->contact = view_meta_str(m, k->contact ? k->contact : "");
	c->deadline_text = view_meta_str(m, k->deadline_text ? k->deadline_text : "");
	c->runbook = view_meta_str(m, k->runbook ? k->runbook : "");
	c->coverage = view_meta_str(m, k->coverage ? k->coverage : "");
	c->item = view_meta_str(m, k->item ? k->item : "");
	c->timezone = view_meta_str(m, k->timezone ? k->timezone : "");
	c->milestones = NULL;
	if (k->nmilestones) {
		struct view_milestone *ms = xcalloc(k->nmilestones, sizeof *ms);
		memcpy(ms, k->milestones, k->nmilestones * sizeof *ms);
		c->milestones = ms;
	}
	return m->nkpis++;
}

/* ---- views ------------------------------------------------------------------------------ */

static void view_free(struct pw_shared *sh)
{
	struct view *v = (struct view *)sh;
	for (size_t i = 0; i < v->nalerts; i++) {
		pw_lset_unref(v->alerts[i].labels);
		pw_lset_unref(v->alerts[i].annotations);
	}
	for (size_t i = 0; i < v->nunits; i++)
		pw_lset_unref(v->units[i].labels);
	pw_shared_unref(&v->meta->sh);
	free(v->groups);
	free(v->rules);
	free(v->alerts);
	free(v->kpis);
	free(v->units);
	own_free(v->strs, v->nstrs);
	free(v);
}

struct view *view_new(struct view_meta *meta, int64_t at)
{
	struct view *v = xcalloc(1, sizeof *v);
	pw_shared_init(&v->sh, view_free);
	pw_shared_ref(&meta->sh);
	v->meta = meta;
	v->at = at;
	v->groups = xcalloc(meta->ngroups + 1, sizeof *v->groups);
	v->rules = xcalloc(meta->nrules + 1, sizeof *v->rules);
	v->kpis = xcalloc(meta->nkpis + 1, sizeof *v->kpis);
	return v;
}

const char *view_str(struct view *v, const char *s)
{
	return own(&v->strs, &v->nstrs, s);
}

struct view_alert *view_add_alert(struct view *v, struct pw_lset *labels,
				  struct pw_lset *annotations)
{
	struct view_alert *a;
	if (v->nalerts == v->cap_alerts) {
		v->cap_alerts = v->cap_alerts ? 2 * v->cap_alerts : 64;
		v->alerts = xreallocarray(v->alerts, v->cap_alerts, sizeof *v->alerts);
	}
	a = &v->alerts[v->nalerts++];
	memset(a, 0, sizeof *a);
	a->labels = pw_lset_ref(labels);
	a->annotations = pw_lset_ref(annotations);
	return a;
}

struct view_unit *view_add_unit(struct view *v, struct pw_lset *labels)
{
	struct view_unit *u;
	if (v->nunits == v->cap_units) {
		v->cap_units = v->cap_units ? 2 * v->cap_units : 256;
		v->units = xreallocarray(v->units, v->cap_units, sizeof *v->units);
	}
	u = &v->units[v->nunits++];
	memset(u, 0, sizeof *u);
	u->labels = pw_lset_ref(labels);
	return u;
}

static int unit_order(const void *x, const void *y)
{
	const struct view_unit *a = x, *b = y;
	int ra = view_status_rank(a->status), rb = view_status_rank(b->status);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	/* the largest gap to target first; units without one after */
	if (isnan(a->gap_target) != isnan(b->gap_target))
		return isnan(a->gap_target) ? 1 : -1;
	if (!isnan(a->gap_target) && a->gap_target != b->gap_target)
		return a->gap_target > b->gap_target ? -1 : 1;
	return pw_lset_cmp(a->labels, b->labels);
}

void view_sort_units(struct view *v, size_t k)
{
	struct view_kpi *vk = &v->kpis[k];
	if (vk->nunits < 2)
		return;
	qsort(v->units + vk->unit0, vk->nunits, sizeof *v->units, unit_order);
}

struct view *view_get(struct pw_slot *slot)
{
	return slot ? (struct view *)pw_slot_get(slot) : NULL;
}
