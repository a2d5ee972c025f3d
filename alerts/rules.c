/*
 * rules.c — rule groups and the alert state machine, step for step as
 * Prometheus 2.42's rules manager: a query per rule at the evaluation
 * time; for alerting rules the alerts keyed by their label set move
 * inactive -> pending -> firing (after `for`), stay firing for
 * `keep_firing_for` after the condition clears, and are kept 15 minutes
 * once resolved; ALERTS and ALERTS_FOR_STATE (and recording rules'
 * results) are written to the store, with staleness markers for series
 * that stop. After a restart the first evaluation restores each alert's
 * activeAt from ALERTS_FOR_STATE (within global.outage_tolerance), so
 * `for` keeps counting and firing alerts stay firing.
 */
#include "alerts_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESOLVED_RETENTION_MS (15 * 60 * 1000)

/* ---- small helpers ------------------------------------------------------------- */

void *arena_alloc_t(struct talloc *a, size_t n)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->p = xreallocarray(a->p, a->cap, sizeof *a->p);
	}
	return a->p[a->n++] = xcalloc(1, n ? n : 1);
}

char *arena_strndup_t(struct talloc *a, const char *s, size_t n)
{
	char *p = arena_alloc_t(a, n + 1);
	memcpy(p, s, n);
	return p;
}

void talloc_free(struct talloc *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->p[i]);
	free(a->p);
	memset(a, 0, sizeof *a);
}

/* an owned, sorted label set */
struct lbls {
	struct pw_label *l;
	size_t n;
	uint64_t h;
	struct store_key key; /* a series written at every evaluation: encoded once */
};

static int lcmp(const void *x, const void *y)
{
	return strcmp(((const struct pw_label *)x)->name, ((const struct pw_label *)y)->name);
}

static uint64_t lbl_hash(const struct pw_label *l, size_t n)
{
	return pw_labels_hash(l, n, false);
}

static void lbls_finish(struct lbls *s)
{
	if (s->n > 1)
		qsort(s->l, s->n, sizeof *s->l, lcmp);
	s->h = lbl_hash(s->l, s->n);
}

/* set name=value (an empty value deletes); value is taken (freed or kept) */
static void lbls_take(struct lbls *s, const char *name, char *value)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->l[i].name, name) == 0) {
			free((char *)s->l[i].value);
			if (!*value) {
				free((char *)s->l[i].name);
				free(value);
				s->l[i] = s->l[--s->n];
			} else {
				s->l[i].value = value;
			}
			return;
		}
	}
	if (!*value) {
		free(value);
		return;
	}
	/* room for 4, then doubling: n is the count, the capacity follows */
	if (s->n == 0 || (s->n >= 4 && (s->n & (s->n - 1)) == 0))
		s->l = xreallocarray(s->l, s->n ? s->n * 2 : 4, sizeof *s->l);
	s->l[s->n].name = xstrdup(name);
	s->l[s->n++].value = value;
}

/* set name=value (an empty value deletes), copying the strings */
static void lbls_set(struct lbls *s, const char *name, const char *value)
{
	lbls_take(s, name, xstrdup(value));
}

static void lbls_free(struct lbls *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free((char *)s->l[i].name);
		free((char *)s->l[i].value);
	}
	free(s->l);
	store_key_free(&s->key);
	memset(s, 0, sizeof *s);
}

static bool lbls_eq(const struct lbls *a, const struct lbls *b)
{
	if (a->h != b->h || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->l[i].name, b->l[i].name) || strcmp(a->l[i].value, b->l[i].value))
			return false;
	return true;
}

/* ---- the model ------------------------------------------------------------------- */

enum { ST_INACTIVE, ST_PENDING, ST_FIRING };

struct alert {
	struct lbls labels, ann;
	int state;
	int64_t active_at, fired_at, resolved_at, keep_since, seen_at;
	uint64_t seen_gen; /* the rule's evaluation that last saw it */
	bool resolved, keeping;
	double value;
};

struct rule {
	const struct conf_rule *c;
	struct query_expr *x;
	struct alert *al;
	size_t nal;
	char *last_error;
	int64_t last_eval;
	double eval_s;
	bool restored;
	struct lbls *prev; /* series written by the last evaluation */
	size_t nprev;
	uint64_t gen; /* evaluations so far */
};

struct group {
	const struct conf_rule_group *c;
	struct rule *rules;
	size_t n;
	int64_t next, last_eval;
	double eval_s;
};

struct rules {
	const struct conf *conf;
	struct store *st;
	struct group *g;
	size_t ng;
	struct kpis *kpis;
	bool dry_run;
	struct conf_rule_group *kg; /* the KPI alerts' groups, one per KPI (owned) */
	size_t nkg;
	int64_t kpi_next;
	pthread_mutex_t lock;
	struct query_opts qo;
	struct pw_label *ext;
	size_t next;
};

int rules_check_expr(const char *expr, char **msg)
{
	struct query_expr *x;
	struct query_error e = {0};
	if (query_parse(expr, &x, &e) != 0) {
		*msg = e.msg;
		return PW_EINVAL;
	}
	if (query_expr_type(x) != QUERY_VECTOR && query_expr_type(x) != QUERY_SCALAR) {
		*msg = xasprintf("a rule's expression gives an instant vector or a scalar, not a %s",
				 query_type_name(query_expr_type(x)));
		query_expr_free(x);
		return PW_EINVAL;
	}
	query_expr_free(x);
	return 0;
}

static bool has_cjk(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

static void kv_add(struct conf_kvs *kv, const char *k, const char *v)
{
	if (!v)
		return;
	kv->v = xreallocarray(kv->v, kv->n + 1, sizeof *kv->v);
	kv->v[kv->n].name = xstrdup(k);
	kv->v[kv->n++].value = xstrdup(v);
}

/* Five alerting rules per KPI; the KPI engine feeds them its units. */
static void make_kpi_groups(struct rules *r, const struct conf *c)
{
	static const char *const names[5] = {"KpiLagging", "KpiAtRisk", "KpiMissed", "KpiStale",
					     "KpiUnitMissing"};
	static const char *const en[5] = {
		"{{ $kpi.title }}: {{ $kpi.unit }} is behind the plan: {{ $kpi.value }} now, "
		"{{ $kpi.expected }} expected (target {{ $kpi.target }} by {{ $kpi.deadline }})",
		"{{ $kpi.title }}: {{ $kpi.unit }} is forecast to reach {{ $kpi.forecast }} by "
		"{{ $kpi.deadline }}, short of the target {{ $kpi.target }}",
		"{{ $kpi.title }}: {{ $kpi.unit }} missed the deadline {{ $kpi.deadline }}: "
		"{{ $kpi.value }} against the target {{ $kpi.target }}",
		"{{ $kpi.title }}: no fresh data from {{ $kpi.unit }}",
		"{{ $kpi.title }}: {{ $kpi.unit }} must report but reports nothing"};
	static const char *const zh[5] = {
		"{{ $kpi.title }}：{{ $kpi.unit }} 进度落后，当前 {{ $kpi.value }}，按计划应达 "
		"{{ $kpi.expected }}（目标 {{ $kpi.target }}，截止 {{ $kpi.deadline }}）",
		"{{ $kpi.title }}：{{ $kpi.unit }} 按当前趋势到 {{ $kpi.deadline }} 预计仅达 "
		"{{ $kpi.forecast }}，未达目标 {{ $kpi.target }}",
		"{{ $kpi.title }}：{{ $kpi.unit }} 已过截止时间 {{ $kpi.deadline }}，当前 "
		"{{ $kpi.value }}，目标 {{ $kpi.target }}",
		"{{ $kpi.title }}：{{ $kpi.unit }} 数据未更新",
		"{{ $kpi.title }}：{{ $kpi.unit }} 应报未报"};
	r->nkg = c->nkpis;
	r->kg = xcalloc(c->nkpis + 1, sizeof *r->kg);
	for (size_t i = 0; i < c->nkpis; i++) {
		const struct conf_kpi *k = &c->kpis[i];
		struct conf_rule_group *g = &r->kg[i];
		bool cn = has_cjk(k->title);
		g->name = xasprintf("kpi:%s", k->name);
		g->interval_ms = c->global.evaluation_interval_ms;
		g->nrules = 5;
		g->rules = xcalloc(5, sizeof *g->rules);
		for (int a = 0; a < 5; a++) {
			struct conf_rule *ru = &g->rules[a];
			ru->alert = xstrdup(names[a]);
			ru->for_ms = a == 0 ? k->for_ms : 0;
			kv_add(&ru->labels, "kpi", k->name);
			kv_add(&ru->labels, "severity", a == 2 || a == 4 ? "critical" : k->severity);
			kv_add(&ru->labels, "owner", k->owner);
			kv_add(&ru->labels, "contact", k->contact);
			kv_add(&ru->annotations, "summary", cn ? zh[a] : en[a]);
			kv_add(&ru->annotations, "title", k->title ? k->title : k->name);
			/* the numbers, for notification tables and receivers downstream */
			kv_add(&ru->annotations, "unit", "{{ $kpi.unit }}");
			kv_add(&ru->annotations, "value", "{{ $kpi.value }}");
			kv_add(&ru->annotations, "expected", "{{ $kpi.expected }}");
			kv_add(&ru->annotations, "target", "{{ $kpi.target }}");
			kv_add(&ru->annotations, "deadline", "{{ $kpi.deadline }}");
			kv_add(&ru->annotations, "progress", "{{ $kpi.progress }}");
			kv_add(&ru->annotations, "forecast", "{{ $kpi.forecast }}");
		}
	}
}

int rules_new(const struct conf *c, struct store *st, struct rules **out, char **cause)
{
	struct rules *r = xcalloc(1, sizeof *r);
	*out = NULL;
	r->conf = c;
	r->st = st;
	pthread_mutex_init(&r->lock, NULL);
	r->qo.lookback_ms = c->global.lookback_delta_ms;
	r->qo.max_samples = (uint64_t)c->query.max_samples;
	r->qo.timeout_ms = c->query.timeout_ms;
	r->ext = xcalloc(c->global.external_labels.n + 1, sizeof *r->ext);
	for (size_t i = 0; i < c->global.external_labels.n; i++) {
		r->ext[i].name = c->global.external_labels.v[i].name;
		r->ext[i].value = c->global.external_labels.v[i].value;
	}
	r->next = c->global.external_labels.n;
	make_kpi_groups(r, c);
	r->g = xcalloc(c->nrule_groups + r->nkg + 1, sizeof *r->g);
	r->ng = c->nrule_groups + r->nkg;
	for (size_t g = 0; g < r->ng; g++) {
		const struct conf_rule_group *cg =
			g < c->nrule_groups ? &c->rule_groups[g] : &r->kg[g - c->nrule_groups];
		r->g[g].c = cg;
		r->g[g].rules = xcalloc(cg->nrules + 1, sizeof *r->g[g].rules);
		r->g[g].n = cg->nrules;
		for (size_t i = 0; i < cg->nrules; i++) {
			struct query_error e = {0};
			r->g[g].rules[i].c = &cg->rules[i];
			if (!cg->rules[i].expr)
				continue; /* a KPI alert: fed by the KPI engine */
			if (query_parse(cg->rules[i].expr, &r->g[g].rules[i].x, &e) != 0) {
				*cause = xasprintf("rule_groups[%zu].rules[%zu].expr: %s", g, i, e.msg);
				query_error_clear(&e);
				rules_free(r);
				return PW_EINVAL;
			}
		}
	}
	if (c->nkpis && kpis_new(r, c, st, &r->kpis, cause) != 0) {
		rules_free(r);
		return PW_EINVAL;
	}
	*out = r;
	return 0;
}

static void rule_clear(struct rule *ru)
{
	for (size_t i = 0; i < ru->nal; i++) {
		lbls_free(&ru->al[i].labels);
		lbls_free(&ru->al[i].ann);
	}
	free(ru->al);
	ru->al = NULL;
	ru->nal = 0;
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	for (size_t g = 0; g < r->ng; g++) {
		for (size_t i = 0; i < r->g[g].n; i++) {
			struct rule *ru = &r->g[g].rules[i];
			rule_clear(ru);
			query_expr_free(ru->x);
			free(ru->last_error);
			for (size_t k = 0; k < ru->nprev; k++)
				lbls_free(&ru->prev[k]);
			free(ru->prev);
		}
		free(r->g[g].rules);
	}
	free(r->g);
	free(r->ext);
	kpis_free(r->kpis);
	for (size_t g = 0; g < r->nkg; g++) {
		for (size_t i = 0; i < r->kg[g].nrules; i++) {
			struct conf_rule *ru = &r->kg[g].rules[i];
			free(ru->alert);
			for (size_t k = 0; k < ru->labels.n; k++) {
				free(ru->labels.v[k].name);
				free(ru->labels.v[k].value);
			}
			for (size_t k = 0; k < ru->annotations.n; k++) {
				free(ru->annotations.v[k].name);
				free(ru->annotations.v[k].value);
			}
			free(ru->labels.v);
			free(ru->annotations.v);
		}
		free(r->kg[g].rules);
		free(r->kg[g].name);
	}
	free(r->kg);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

size_t rules_ngroups(const struct rules *r) { return r->ng; }

/* ---- evaluation ------------------------------------------------------------------ */

/* The series an evaluation writes. A series written last time too is moved
 * over from the rule's previous set instead of copied again; what is left
 * there gets a staleness marker. */
struct outset {
	struct lbls *s;
	size_t n, cap;
	struct rule *ru;
	size_t *ptab, pcap; /* the previous set by hash: index + 1 */
	bool *moved;
};

static void outset_begin(struct outset *o, struct rule *ru)
{
	memset(o, 0, sizeof *o);
	o->ru = ru;
	o->pcap = 16;
	while (o->pcap < ru->nprev * 2)
		o->pcap *= 2;
	o->ptab = xcalloc(o->pcap, sizeof *o->ptab);
	o->moved = xcalloc(ru->nprev + 1, sizeof *o->moved);
	for (size_t j = 0; j < ru->nprev; j++) {
		size_t i = ru->prev[j].h & (o->pcap - 1);
		while (o->ptab[i])
			i = (i + 1) & (o->pcap - 1);
		o->ptab[i] = j + 1;
	}
}

static struct lbls *outset_add(struct outset *o, const struct pw_label *l, size_t n)
{
	struct lbls w = {0};
	uint64_t h = lbl_hash(l, n);
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 16;
		o->s = xreallocarray(o->s, o->cap, sizeof *o->s);
	}
	for (size_t i = h & (o->pcap - 1); o->ptab[i]; i = (i + 1) & (o->pcap - 1)) {
		size_t j = o->ptab[i] - 1;
		struct lbls *p = &o->ru->prev[j];
		bool eq = !o->moved[j] && p->h == h && p->n == n;
		for (size_t k = 0; eq && k < n; k++)
			eq = !strcmp(p->l[k].name, l[k].name) && !strcmp(p->l[k].value, l[k].value);
		if (eq) {
			o->moved[j] = true;
			o->s[o->n++] = *p;
			return &o->s[o->n - 1];
		}
	}
	w.l = xcalloc(n + 1, sizeof *w.l);
	for (size_t k = 0; k < n; k++) {
		w.l[k].name = xstrdup(l[k].name);
		w.l[k].value = xstrdup(l[k].value);
	}
	w.n = n;
	w.h = h;
	o->s[o->n++] = w;
	return &o->s[o->n - 1];
}

/* write a sample of the series e stands for, encoding it the first time */
static void put_lbls(struct store_batch *b, struct lbls *e, int64_t t, double v)
{
	if (!e->key.enc && store_key_make(e->l, e->n, &e->key, NULL) != 0) {
		store_batch_put(b, e->l, e->n, t, v); /* the batch reports the error */
		return;
	}
	store_batch_put_key(b, &e->key, t, v);
}

static void outset_abort(struct outset *o)
{
	for (size_t k = 0; k < o->n; k++) {
		bool from_prev = false;
		for (size_t j = 0; j < o->ru->nprev && !from_prev; j++)
			from_prev = o->moved[j] && o->ru->prev[j].l == o->s[k].l;
		if (!from_prev)
			lbls_free(&o->s[k]);
	}
	free(o->s);
	free(o->ptab);
	free(o->moved);
}

/* labels sorted by name into a caller's array (n at most max) */
static size_t sorted_into(struct pw_label *dst, size_t max, const struct lbls *l, const char *name,
			  const char *extra_name, const char *extra_value)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n && n + 2 < max; i++)
		if (strcmp(l->l[i].name, "__name__") && (!extra_name || strcmp(l->l[i].name, extra_name)))
			dst[n++] = l->l[i];
	dst[n].name = "__name__";
	dst[n++].value = name;
	if (extra_name) {
		dst[n].name = extra_name;
		dst[n++].value = extra_value;
	}
	for (size_t i = 1; i < n; i++) {
		struct pw_label x = dst[i];
		size_t j = i;
		while (j > 0 && strcmp(dst[j - 1].name, x.name) > 0) {
			dst[j] = dst[j - 1];
			j--;
		}
		dst[j] = x;
	}
	return n;
}

static void put(struct store_batch *b, struct outset *o, struct lbls *l, const char *name,
		const char *extra_name, const char *extra_value, int64_t t, double v)
{
	struct pw_label tmp[80];
	size_t n = sorted_into(tmp, 80, l, name, extra_name, extra_value);
	put_lbls(b, outset_add(o, tmp, n), t, v);
}

/* staleness markers for the series of the last evaluation that are gone */
static void mark_stale(struct store_batch *b, struct rule *ru, struct outset *now, int64_t t)
{
	for (size_t i = 0; i < ru->nprev; i++) {
		if (now->moved[i])
			continue; /* written again: it lives on in now */
		put_lbls(b, &ru->prev[i], t, store_stale_nan());
		lbls_free(&ru->prev[i]);
	}
	free(ru->prev);
	free(now->ptab);
	free(now->moved);
	ru->prev = now->s;
	ru->nprev = now->n;
}

/* What ALERTS_FOR_STATE says of this rule's alerts in [t - tolerance, t]:
 * read once, at the rule's first evaluation after a start. */
struct restore {
	struct lbls *l;
	int64_t *act;
	size_t n;
};

static void restore_load(struct rules *r, const struct rule *ru, int64_t t, struct restore *rs)
{
	struct store_snap *snap;
	struct store_matcher m[34];
	struct store_series *ss = NULL;
	size_t n = 0, nm = 0;
	int64_t from = t - r->conf->global.outage_tolerance_ms;
	memset(rs, 0, sizeof *rs);
	if (store_snap_begin(r->st, &snap) != 0)
		return;
	store_matcher_init(&m[nm++], STORE_MATCH_EQ, "__name__", "ALERTS_FOR_STATE", NULL);
	store_matcher_init(&m[nm++], STORE_MATCH_EQ, "alertname", ru->c->alert, NULL);
	for (size_t i = 0; i < ru->c->labels.n && nm < 34; i++)
		if (!strstr(ru->c->labels.v[i].value, "{{") && *ru->c->labels.v[i].value)
			store_matcher_init(&m[nm++], STORE_MATCH_EQ, ru->c->labels.v[i].name,
					   ru->c->labels.v[i].value, NULL);
	if (store_select(snap, m, nm, from, t, false, &ss, &n) == 0 && n) {
		struct store_iter *it = store_iter_new(snap);
		rs->l = xcalloc(n, sizeof *rs->l);
		rs->act = xcalloc(n, sizeof *rs->act);
		for (size_t i = 0; i < n; i++) {
			struct pw_label tmp[72];
			size_t nl = store_series_labels(&ss[i], tmp, 72);
			int64_t ts;
			double v;
			bool ok = false;
			if (nl > 72)
				continue;
			if (store_iter_seek(it, ss[i].id, from, t) == 0)
				while (store_iter_next(it, &ts, &v) == 1)
					if (!store_is_stale_nan(v) && isfinite(v)) {
						rs->act[rs->n] = (int64_t)llround(v * 1000);
						ok = true;
					}
			if (!ok)
				continue;
			for (size_t k = 0; k < nl; k++)
				if (strcmp(tmp[k].name, "__name__"))
					lbls_set(&rs->l[rs->n], tmp[k].name, tmp[k].value);
			lbls_finish(&rs->l[rs->n]);
			rs->n++;
		}
		store_iter_free(it);
	}
	free(ss);
	for (size_t i = 0; i < nm; i++)
		store_matcher_free(&m[i]);
	store_snap_end(snap);
}

static void restore_free(struct restore *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		lbls_free(&rs->l[i]);
	free(rs->l);
	free(rs->act);
}

static struct alert *find_alert(struct rule *ru, const struct lbls *l)
{
	for (size_t i = 0; i < ru->nal; i++)
		if (lbls_eq(&ru->al[i].labels, l))
			return &ru->al[i];
	return NULL;
}

/* marks "the same labels twice in one evaluation" */
static struct alert duplicate_marker;
#define DUPLICATE (&duplicate_marker)

static const char *lbls_get(const struct lbls *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->l[i].name, name) == 0)
			return s->l[i].value;
	return NULL;
}

/* The active alert (pending or firing) these labels stand for, found
 * without copying them: the series' labels, the rule's labels (templated)
 * and alertname, sorted and hashed on the stack. DUPLICATE when this
 * evaluation already saw it; NULL for a new alert (or an inactive one, which
 * starts over). */
static struct alert *known_alert(struct rule *ru, const struct conf_rule *c,
				 const struct pw_label *sl, size_t snl, const struct tmpl_data *td)
{
	struct pw_label l[96];
	char *own[32];
	size_t n = 0, nown = 0;
	struct alert *hit = NULL;
	if (snl + c->labels.n + 1 > 96 || c->labels.n > 32)
		return NULL; /* unusual: the slow path sorts it out */
	for (size_t k = 0; k < snl; k++)
		if (strcmp(sl[k].name, "__name__") && sl[k].value[0])
			l[n++] = sl[k];
	for (size_t k = 0; k < c->labels.n + 1; k++) {
		const char *name = k < c->labels.n ? c->labels.v[k].name : "alertname";
		const char *v;
		if (k < c->labels.n) {
			if (strstr(c->labels.v[k].value, "{{")) {
				own[nown] = tmpl_expand(c->labels.v[k].value, td);
				v = own[nown++];
			} else {
				v = c->labels.v[k].value;
			}
		} else {
			v = c->alert;
		}
		size_t j = 0;
		while (j < n && strcmp(l[j].name, name))
			j++;
		if (!*v) { /* an empty value deletes */
			if (j < n)
				l[j] = l[--n];
			continue;
		}
		if (j == n)
			n++;
		l[j].name = name;
		l[j].value = v;
	}
	/* insertion sort: a handful of labels */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(l[j - 1].name, l[j].name) > 0; j--) {
			struct pw_label x = l[j];
			l[j] = l[j - 1];
			l[j - 1] = x;
		}
	uint64_t h = lbl_hash(l, n);
	for (size_t i = 0; i < ru->nal && !hit; i++) {
		struct alert *a = &ru->al[i];
		bool eq = a->labels.h == h && a->labels.n == n;
		for (size_t k = 0; eq && k < n; k++)
			eq = !strcmp(a->labels.l[k].name, l[k].name) &&
			     !strcmp(a->labels.l[k].value, l[k].value);
		if (eq)
			hit = a;
	}
	for (size_t k = 0; k < nown; k++)
		free(own[k]);
	if (hit && hit->seen_gen == ru->gen && hit->state != ST_INACTIVE)
		return DUPLICATE;
	if (hit && hit->state == ST_INACTIVE)
		return NULL;
	return hit;
}

static void drop_alert(struct rule *ru, size_t i)
{
	lbls_free(&ru->al[i].labels);
	lbls_free(&ru->al[i].ann);
	ru->al[i] = ru->al[--ru->nal];
}

static void free_fresh(struct alert *f, size_t n)
{
	for (size_t q = 0; q < n; q++) {
		lbls_free(&f[q].labels);
		lbls_free(&f[q].ann);
	}
	free(f);
}

static int eval_alerting(struct rules *r, struct group *g, struct rule *ru,
			 const struct query_result *res, const struct pw_label *const *kx,
			 const size_t *nkx, int64_t t, struct store_batch *b, char **cause)
{
	const struct conf_rule *c = ru->c;
	struct alert *fresh = NULL;
	size_t nfresh = 0, nactive = 0;
	size_t nres = res->type == QUERY_SCALAR ? 1 : res->nseries;
	struct outset out;

	ru->gen++;
	/* one alert per result series: labels (templated), annotations. An
	 * alert already known is found with borrowed labels and only takes
	 * the new value and the annotations that changed; only a new one
	 * copies its labels. */
	for (size_t i = 0; i < nres; i++) {
		const struct pw_label *sl = res->type == QUERY_SCALAR ? NULL : res->series[i].labels;
		size_t snl = res->type == QUERY_SCALAR ? 0 : res->series[i].nlabels;
		double v = res->type == QUERY_SCALAR ? res->scalar : res->series[i].pts[0].v;
		struct talloc ta = {0};
		struct tmpl_data td = {.labels = sl, .ext = r->ext, .nlabels = snl, .next = r->next,
				       .value = v, .a = &ta, .kpi = kx ? kx[i] : NULL,
				       .nkpi = kx ? nkx[i] : 0};
		struct alert a = {0};
		struct alert *old = known_alert(ru, c, sl, snl, &td);
		if (old == DUPLICATE) {
			*cause = xstrdup("vector contains metrics with the same labelset after "
					 "applying alert labels");
			talloc_free(&ta);
			free_fresh(fresh, nfresh);
			return PW_EINVAL;
		}
		if (old) {
			old->value = v;
			old->seen_at = t;
			old->seen_gen = ru->gen;
			for (size_t k = 0; k < c->annotations.n; k++) {
				char *e = tmpl_expand(c->annotations.v[k].value, &td);
				const char *was = lbls_get(&old->ann, c->annotations.v[k].name);
				if (was && strcmp(was, e) == 0)
					free(e);
				else
					lbls_take(&old->ann, c->annotations.v[k].name, e);
			}
			lbls_finish(&old->ann);
			talloc_free(&ta);
			continue;
		}
		for (size_t k = 0; k < snl; k++)
			if (strcmp(sl[k].name, "__name__"))
				lbls_set(&a.labels, sl[k].name, sl[k].value);
		for (size_t k = 0; k < c->labels.n; k++)
			lbls_take(&a.labels, c->labels.v[k].name, tmpl_expand(c->labels.v[k].value, &td));
		lbls_set(&a.labels, "alertname", c->alert);
		lbls_finish(&a.labels);
		for (size_t k = 0; k < c->annotations.n; k++)
			lbls_take(&a.ann, c->annotations.v[k].name,
				  tmpl_expand(c->annotations.v[k].value, &td));
		lbls_finish(&a.ann);
		talloc_free(&ta);
		a.value = v;
		a.active_at = t;
		a.state = ST_PENDING;
		a.seen_at = t;
		a.seen_gen = ru->gen;
		for (size_t k = 0; k < nfresh; k++) {
			if (lbls_eq(&fresh[k].labels, &a.labels)) {
				*cause = xstrdup("vector contains metrics with the same labelset after "
						 "applying alert labels");
				lbls_free(&a.labels);
				lbls_free(&a.ann);
				free_fresh(fresh, nfresh);
				return PW_EINVAL;
			}
		}
		fresh = xreallocarray(fresh, nfresh + 1, sizeof *fresh);
		fresh[nfresh++] = a;
	}
	/* merge: known alerts take the new value and annotations */
	struct restore rs = {0};
	if (!ru->restored && nfresh)
		restore_load(r, ru, t, &rs);
	for (size_t k = 0; k < nfresh; k++) {
		struct alert *old = find_alert(ru, &fresh[k].labels);
		if (old && old->state != ST_INACTIVE) {
			old->value = fresh[k].value;
			old->seen_at = t;
			old->seen_gen = ru->gen;
			lbls_free(&old->ann);
			old->ann = fresh[k].ann;
			fresh[k].ann.l = NULL;
			fresh[k].ann.n = 0;
			lbls_free(&fresh[k].labels);
			continue;
		}
		if (!old && !ru->restored) {
			/* the first evaluation after a start: the for clock goes on */
			for (size_t q = 0; q < rs.n; q++)
				if (lbls_eq(&rs.l[q], &fresh[k].labels) && rs.act[q] <= t) {
					fresh[k].active_at = rs.act[q];
					break;
				}
		}
		if (old) {
			lbls_free(&old->labels);
			lbls_free(&old->ann);
			*old = fresh[k];
		} else {
			ru->al = xreallocarray(ru->al, ru->nal + 1, sizeof *ru->al);
			ru->al[ru->nal++] = fresh[k];
		}
	}
	free(fresh);
	restore_free(&rs);
	ru->restored = true;
	/* gone ones resolve (or keep firing); pending ones fire after `for` */
	outset_begin(&out, ru);
	for (size_t i = 0; i < ru->nal;) {
		struct alert *a = &ru->al[i];
		if (a->seen_at != t) {
			bool keep = false, drop;
			if (a->state == ST_FIRING && c->keep_firing_for_ms > 0) {
				if (!a->keeping) {
					a->keeping = true;
					a->keep_since = t;
				}
				keep = t - a->keep_since < c->keep_firing_for_ms;
			}
			drop = a->state == ST_PENDING ||
			       (a->resolved && t - a->resolved_at > RESOLVED_RETENTION_MS);
			if (a->state != ST_INACTIVE && !keep) {
				a->state = ST_INACTIVE;
				a->resolved = true;
				a->resolved_at = t;
			}
			if (drop && !keep) {
				drop_alert(ru, i);
				continue;
			}
			if (!keep) {
				i++;
				continue;
			}
		} else {
			a->keeping = false;
		}
		nactive++;
		if (a->state == ST_PENDING && t - a->active_at >= c->for_ms) {
			a->state = ST_FIRING;
			a->fired_at = t;
		}
		put(b, &out, &a->labels, "ALERTS", "alertstate",
		    a->state == ST_FIRING ? "firing" : "pending", t, 1);
		put(b, &out, &a->labels, "ALERTS_FOR_STATE", NULL, NULL, t,
		    (double)(a->active_at >= 0 ? a->active_at / 1000 : -((-a->active_at + 999) / 1000)));
		i++;
	}
	if (g->c->limit > 0 && (int64_t)nactive > g->c->limit) {
		rule_clear(ru);
		*cause = xasprintf("exceeded limit of %lld with %zu alerts", (long long)g->c->limit,
				   nactive);
		mark_stale(b, ru, &out, t); /* everything it wrote last time ends now */
		return PW_EINVAL;
	}
	mark_stale(b, ru, &out, t);
	return 0;
}

static int eval_recording(struct group *g, struct rule *ru, const struct query_result *res,
			  int64_t t, struct store_batch *b, char **cause)
{
	struct outset out;
	size_t nres = res->type == QUERY_SCALAR ? 1 : res->nseries;
	outset_begin(&out, ru);
	for (size_t i = 0; i < nres; i++) {
		struct lbls l = {0};
		double v = res->type == QUERY_SCALAR ? res->scalar : res->series[i].pts[0].v;
		if (res->type != QUERY_SCALAR)
			for (size_t k = 0; k < res->series[i].nlabels; k++)
				lbls_set(&l, res->series[i].labels[k].name, res->series[i].labels[k].value);
		lbls_set(&l, "__name__", ru->c->record);
		for (size_t k = 0; k < ru->c->labels.n; k++)
			lbls_set(&l, ru->c->labels.v[k].name, ru->c->labels.v[k].value);
		lbls_finish(&l);
		for (size_t k = 0; k < out.n; k++) {
			if (lbls_eq(&out.s[k], &l)) {
				*cause = xstrdup("vector contains metrics with the same labelset after "
						 "applying rule labels");
				lbls_free(&l);
				outset_abort(&out);
				return PW_EINVAL;
			}
		}
		if (g->c->limit > 0 && (int64_t)out.n >= g->c->limit) {
			*cause = xasprintf("exceeded limit of %lld with %zu series",
					   (long long)g->c->limit, nres);
			lbls_free(&l);
			outset_abort(&out);
			return PW_EINVAL;
		}
		put_lbls(b, outset_add(&out, l.l, l.n), t, v);
		lbls_free(&l);
	}
	mark_stale(b, ru, &out, t);
	return 0;
}

static void rule_resolve_keys(struct rules *r, struct rule *ru);

int rules_eval_group(struct rules *r, size_t gi, int64_t t, char **cause)
{
	struct group *g = &r->g[gi];
	int64_t g0 = pw_mono_ns();
	int rc = 0;

	for (size_t i = 0; i < g->n && rc == 0; i++) {
		struct rule *ru = &g->rules[i];
		struct query_result *res = NULL;
		struct query_error e = {0};
		struct store_batch *b;
		char *why = NULL;
		int64_t t0 = pw_mono_ns();
		if (!ru->x)
			continue; /* a KPI alert */
		b = store_batch_begin(r->st);
		int qrc = query_exec_instant(r->st, &r->qo, ru->x, t, &res, &e);
		pthread_mutex_lock(&r->lock);
		if (qrc != 0) {
			why = xasprintf("%s: %s", query_errtype_name(e.type), e.msg ? e.msg : "failed");
		} else if (ru->c->alert) {
			eval_alerting(r, g, ru, res, NULL, NULL, t, b, &why);
		} else {
			eval_recording(g, ru, res, t, b, &why);
		}
		free(ru->last_error);
		ru->last_error = why;
		ru->last_eval = t;
		ru->eval_s = (double)(pw_mono_ns() - t0) / 1e9;
		pthread_mutex_unlock(&r->lock);
		if (why)
			log_warnx("rules", "group \"%s\", rule %s: %s", g->c->name,
				  ru->c->alert ? ru->c->alert : ru->c->record, why);
		query_error_clear(&e);
		query_result_free(res);
		/* each rule's results are stored before the next rule runs, so a
		 * rule may build on the one before it, as in Prometheus */
		rc = store_batch_commit(b, cause);
		if (rc == 0)
			rule_resolve_keys(r, ru);
	}
	pthread_mutex_lock(&r->lock);
	g->last_eval = t;
	g->eval_s = (double)(pw_mono_ns() - g0) / 1e9;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* after the commit that wrote a rule's series: their ids, for next time */
static void rule_resolve_keys(struct rules *r, struct rule *ru)
{
	struct store_key **k = NULL;
	size_t n = 0;
	for (size_t i = 0; i < ru->nprev; i++) {
		if (!store_key_stale(r->st, &ru->prev[i].key))
			continue;
		if (!k)
			k = xcalloc(ru->nprev - i + 1, sizeof *k);
		k[n++] = &ru->prev[i].key;
	}
	if (n)
		store_keys_resolve(r->st, k, n);
	free(k);
}

void rules_resolve_keys(struct rules *r, size_t gi)
{
	for (size_t i = 0; i < r->g[gi].n; i++)
		rule_resolve_keys(r, &r->g[gi].rules[i]);
}

void rules_feed_alert(struct rules *r, size_t gi, size_t ri, const struct query_result *res,
		      const struct pw_label *const *kx, const size_t *nkx, int64_t t,
		      struct store_batch *b)
{
	struct group *g = &r->g[gi];
	struct rule *ru = &g->rules[ri];
	char *why = NULL;
	pthread_mutex_lock(&r->lock);
	eval_alerting(r, g, ru, res, kx, nkx, t, b, &why);
	free(ru->last_error);
	ru->last_error = why;
	ru->last_eval = t;
	g->last_eval = t;
	pthread_mutex_unlock(&r->lock);
}

int rules_eval_kpis(struct rules *r, int64_t t, char **cause)
{
	return r->kpis ? kpis_eval(r->kpis, t, r->dry_run, cause) : 0;
}

void rules_set_dry_run(struct rules *r, bool dry) { r->dry_run = dry; }

void rules_json_kpis(struct rules *r, struct pw_buf *b)
{
	pthread_mutex_lock(&r->lock);
	if (r->kpis)
		kpis_json(r->kpis, b);
	else
		pw_buf_puts(b, "{\"kpis\":[]}");
	pthread_mutex_unlock(&r->lock);
}

int64_t rules_step(struct rules *r, int64_t now)
{
	int64_t next = now + 60000;
	if (r->kpis) {
		int64_t iv = r->conf->global.evaluation_interval_ms;
		if (now >= r->kpi_next) {
			int64_t t = now - now % iv;
			char *cause = NULL;
			if (rules_eval_kpis(r, t, &cause) != 0) {
				log_error("kpi", "writing results: %s", cause ? cause : "failed");
				free(cause);
			}
			r->kpi_next = t + iv;
		}
		next = r->kpi_next;
	}
	for (size_t g = 0; g < r->ng; g++) {
		struct group *gr = &r->g[g];
		int64_t iv = gr->c->interval_ms > 0 ? gr->c->interval_ms : 60000;
		if (gr->next == 0)
			gr->next = now - now % iv; /* the first evaluation at once */
		if (now >= gr->next) {
			int64_t t = now - now % iv; /* aligned; missed intervals are skipped */
			char *cause = NULL;
			if (rules_eval_group(r, g, t, &cause) != 0) {
				log_error("rules", "group \"%s\": writing results: %s", gr->c->name,
					  cause ? cause : "failed");
				free(cause);
			}
			gr->next = t + iv;
		}
		if (gr->next < next)
			next = gr->next;
	}
	return next;
}

/* ---- views ---------------------------------------------------------------------------- */

static void jstr(struct pw_buf *b, const char *s) { pw_buf_json_string(b, s); }

static void jlbls(struct pw_buf *b, const struct pw_label *l, size_t n)
{
	pw_buf_json_labels(b, l, n);
}

static void jkvs(struct pw_buf *b, const struct conf_kvs *kv)
{
	pw_buf_putc(b, '{');
	for (size_t i = 0; i < kv->n; i++) {
		if (i)
			pw_buf_putc(b, ',');
		jstr(b, kv->v[i].name);
		pw_buf_putc(b, ':');
		jstr(b, kv->v[i].value);
	}
	pw_buf_putc(b, '}');
}

static void jtime(struct pw_buf *b, int64_t ms)
{
	char t[64];
	if (ms == 0)
		snprintf(t, sizeof t, "0001-01-01T00:00:00Z");
	else
		pw_fmt_time(t, sizeof t, ms);
	jstr(b, t);
}

/* Go's FormatFloat(v, 'e', -1, 64) */
static void jvalue_e(struct pw_buf *b, double v)
{
	char d[64];
	if (isnan(v) || isinf(v)) {
		jstr(b, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(d, sizeof d, "%.*e", p - 1, v);
		if (strtod(d, NULL) == v)
			break;
	}
	jstr(b, d);
}

static const char *state_name(int s)
{
	return s == ST_FIRING ? "firing" : s == ST_PENDING ? "pending" : "inactive";
}

static void jalert(struct pw_buf *b, const struct alert *a)
{
	pw_buf_puts(b, "{\"labels\":");
	jlbls(b, a->labels.l, a->labels.n);
	pw_buf_puts(b, ",\"annotations\":");
	jlbls(b, a->ann.l, a->ann.n);
	pw_buf_printf(b, ",\"state\":\"%s\",\"activeAt\":", state_name(a->state));
	{
		char t[64]; /* always set, the epoch included */
		pw_fmt_time(t, sizeof t, a->active_at);
		jstr(b, t);
	}
	pw_buf_puts(b, ",\"value\":");
	jvalue_e(b, a->value);
	pw_buf_putc(b, '}');
}

void rules_json_rules(struct rules *r, struct pw_buf *b, const char *type)
{
	pthread_mutex_lock(&r->lock);
	pw_buf_puts(b, "{\"groups\":[");
	for (size_t g = 0; g < r->ng; g++) {
		struct group *gr = &r->g[g];
		bool first = true;
		if (g)
			pw_buf_putc(b, ',');
		pw_buf_puts(b, "{\"name\":");
		jstr(b, gr->c->name);
		pw_buf_puts(b, ",\"file\":");
		jstr(b, r->conf->path ? r->conf->path : "");
		pw_buf_puts(b, ",\"rules\":[");
		for (size_t i = 0; i < gr->n; i++) {
			struct rule *ru = &gr->rules[i];
			const struct conf_rule *c = ru->c;
			if (type && strcmp(type, c->alert ? "alert" : "record") != 0)
				continue;
			if (!first)
				pw_buf_putc(b, ',');
			first = false;
			if (c->alert) {
				int st = ST_INACTIVE;
				for (size_t k = 0; k < ru->nal; k++)
					if (ru->al[k].state > st)
						st = ru->al[k].state;
				pw_buf_printf(b, "{\"state\":\"%s\",\"name\":", state_name(st));
				jstr(b, c->alert);
				pw_buf_puts(b, ",\"query\":");
				jstr(b, c->expr ? c->expr : "(the KPI engine)");
				pw_buf_printf(b, ",\"duration\":%g,\"keepFiringFor\":%g,\"labels\":",
					      (double)c->for_ms / 1000, (double)c->keep_firing_for_ms / 1000);
				jkvs(b, &c->labels);
				pw_buf_puts(b, ",\"annotations\":");
				jkvs(b, &c->annotations);
				pw_buf_puts(b, ",\"alerts\":[");
				for (size_t k = 0, w = 0; k < ru->nal; k++) {
					if (ru->al[k].state == ST_INACTIVE)
						continue;
					if (w++)
						pw_buf_putc(b, ',');
					jalert(b, &ru->al[k]);
				}
				pw_buf_putc(b, ']');
			} else {
				pw_buf_puts(b, "{\"name\":");
				jstr(b, c->record);
				pw_buf_puts(b, ",\"query\":");
				jstr(b, c->expr);
				pw_buf_puts(b, ",\"labels\":");
				jkvs(b, &c->labels);
			}
			pw_buf_printf(b, ",\"health\":\"%s\",\"lastError\":",
				      ru->last_eval == 0 ? "unknown" : ru->last_error ? "err" : "ok");
			jstr(b, ru->last_error ? ru->last_error : "");
			pw_buf_printf(b, ",\"evaluationTime\":%.6f,\"lastEvaluation\":", ru->eval_s);
			jtime(b, ru->last_eval);
			pw_buf_printf(b, ",\"type\":\"%s\"}", c->alert ? "alerting" : "recording");
		}
		pw_buf_printf(b, "],\"interval\":%g,\"limit\":%lld,\"evaluationTime\":%.6f,"
				 "\"lastEvaluation\":",
			      (double)gr->c->interval_ms / 1000, (long long)gr->c->limit, gr->eval_s);
		jtime(b, gr->last_eval);
		pw_buf_putc(b, '}');
	}
	pw_buf_puts(b, "]}");
	pthread_mutex_unlock(&r->lock);
}

void rules_json_alerts(struct rules *r, struct pw_buf *b)
{
	size_t w = 0;
	pthread_mutex_lock(&r->lock);
	pw_buf_puts(b, "{\"alerts\":[");
	for (size_t g = 0; g < r->ng; g++)
		for (size_t i = 0; i < r->g[g].n; i++)
			for (size_t k = 0; k < r->g[g].rules[i].nal; k++) {
				const struct alert *a = &r->g[g].rules[i].al[k];
				if (a->state == ST_INACTIVE)
					continue;
				if (w++)
					pw_buf_putc(b, ',');
				jalert(b, a);
			}
	pw_buf_puts(b, "]}");
	pthread_mutex_unlock(&r->lock);
}

void rules_foreach_alert(struct rules *r, rules_alert_cb cb, void *ctx)
{
	pthread_mutex_lock(&r->lock);
	for (size_t g = 0; g < r->ng; g++)
		for (size_t i = 0; i < r->g[g].n; i++)
			for (size_t k = 0; k < r->g[g].rules[i].nal; k++) {
				const struct alert *a = &r->g[g].rules[i].al[k];
				struct rules_alert ra = {a->labels.l, a->ann.l, a->labels.n, a->ann.n,
							 a->state, a->active_at, a->fired_at,
							 a->resolved ? a->resolved_at : 0, a->value,
							 r->g[g].c->rules[i].expr, r->g[g].c->interval_ms};
				cb(ctx, &ra);
			}
	pthread_mutex_unlock(&r->lock);
}
