/*
 * alert_state.c — the alert state machine, the only code that knows it,
 * step for step as Prometheus 2.42's AlertingRule: the alerts of one
 * alerting rule (or one KPI alert), keyed by their labels, move inactive ->
 * pending -> firing (after `for`), stay firing for `keep_firing_for` after
 * the condition clears, and are kept 15 minutes once resolved. Every
 * evaluation writes ALERTS{alertstate} and ALERTS_FOR_STATE (the activation
 * time) for the active ones, with staleness markers for series that end.
 * After a restart the first evaluation restores each new alert's activation
 * time from ALERTS_FOR_STATE within global.outage_tolerance, so `for` keeps
 * counting and a firing alert fires again at once.
 *
 * Rules (rules.c) and KPIs (kpi.c) feed it the results of an evaluation;
 * views (alerts.c) read its alerts.
 */
#include "alerts_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RESOLVED_RETENTION_MS (15 * 60 * 1000)
#define MAX_LABELS 96

struct alert {
	struct pw_lset *labels, *ann;
	enum view_alert_state state;
	int64_t active_at, fired_at, resolved_at, keep_since, seen_at;
	uint64_t seen_gen; /* the evaluation that last saw it */
	bool resolved, keeping;
	double value;
};

/* open addressing over alerts by their labels' hash: index + 1 */
struct aindex {
	size_t *tab, cap;
};

struct astate {
	struct astate_opts o;
	struct alert *al; /* in the order Prometheus' API lists them: new ones last */
	size_t nal;
	struct alert *fresh; /* this evaluation's new alerts, merged at the end */
	size_t nfresh;
	struct aindex idx, fidx;
	bool idx_dirty;
	bool restored; /* the first evaluation after a start looked at history */
	uint64_t gen;
	struct output out; /* ALERTS and ALERTS_FOR_STATE */
};

struct astate *astate_new(const struct astate_opts *o)
{
	struct astate *s = xcalloc(1, sizeof *s);
	s->o = *o;
	s->idx_dirty = true;
	return s;
}

static void alert_clear(struct alert *a)
{
	pw_lset_unref(a->labels);
	pw_lset_unref(a->ann);
	memset(a, 0, sizeof *a);
}

static void clear_all(struct astate *s)
{
	for (size_t i = 0; i < s->nal; i++)
		alert_clear(&s->al[i]);
	s->nal = 0;
	s->idx_dirty = true;
}

static void fresh_clear(struct astate *s)
{
	for (size_t i = 0; i < s->nfresh; i++)
		alert_clear(&s->fresh[i]);
	free(s->fresh);
	s->fresh = NULL;
	s->nfresh = 0;
	free(s->fidx.tab);
	memset(&s->fidx, 0, sizeof s->fidx);
}

void astate_free(struct astate *s)
{
	if (!s)
		return;
	clear_all(s);
	free(s->al);
	fresh_clear(s);
	free(s->idx.tab);
	output_free(&s->out);
	free(s);
}

/* ---- the index --------------------------------------------------------------------- */

static void index_build(struct aindex *x, const struct alert *al, size_t n)
{
	size_t cap = 16;
	while (cap < n * 2)
		cap *= 2;
	if (cap != x->cap) {
		free(x->tab);
		x->tab = xcalloc(cap, sizeof *x->tab);
		x->cap = cap;
	} else {
		memset(x->tab, 0, cap * sizeof *x->tab);
	}
	for (size_t j = 0; j < n; j++) {
		size_t i = al[j].labels->h & (cap - 1);
		while (x->tab[i])
			i = (i + 1) & (cap - 1);
		x->tab[i] = j + 1;
	}
}

static struct alert *index_find(const struct aindex *x, struct alert *al, uint64_t h,
				const struct pw_label *l, size_t n)
{
	if (!x->cap)
		return NULL;
	for (size_t i = h & (x->cap - 1); x->tab[i]; i = (i + 1) & (x->cap - 1)) {
		struct alert *a = &al[x->tab[i] - 1];
		if (pw_lset_is(a->labels, h, l, n))
			return a;
	}
	return NULL;
}

/* ---- an evaluation ------------------------------------------------------------------ */

void astate_begin(struct astate *s, int64_t t)
{
	(void)t;
	s->gen++;
	if (s->idx_dirty) {
		index_build(&s->idx, s->al, s->nal);
		s->idx_dirty = false;
	}
}

/* the newest fresh alert (hash h) into the fresh index */
static void fresh_index(struct astate *s, uint64_t h)
{
	if (s->nfresh * 2 > s->fidx.cap) {
		index_build(&s->fidx, s->fresh, s->nfresh);
		return;
	}
	size_t i = h & (s->fidx.cap - 1);
	while (s->fidx.tab[i])
		i = (i + 1) & (s->fidx.cap - 1);
	s->fidx.tab[i] = s->nfresh;
}

static const char *const duplicate_msg =
	"vector contains metrics with the same labelset after applying alert labels";

/* a's annotations become these (sorted copies), unless they are already */
static void set_annotations(struct alert *a, const struct pw_label *ann, size_t nann)
{
	struct pw_label small[32], *tmp = nann > 32 ? xcalloc(nann, sizeof *tmp) : small;
	size_t n;
	if (nann)
		memcpy(tmp, ann, nann * sizeof *ann);
	n = pw_labels_sort(tmp, nann);
	if (!a->ann || !pw_labels_eq(a->ann->l, a->ann->n, tmp, n))
		pw_lset_set(&a->ann, pw_lset_new(tmp, n));
	if (tmp != small)
		free(tmp);
}

int astate_feed(struct astate *s, const struct pw_label *l, size_t n, const struct pw_label *ann,
		size_t nann, double v, int64_t t, char **cause)
{
	uint64_t h = pw_labels_hash(l, n, false);
	struct alert *a = index_find(&s->idx, s->al, h, l, n);
	if (a && a->state != VIEW_INACTIVE) {
		/* known: it takes the new value and annotations */
		if (a->seen_gen == s->gen) {
			*cause = xstrdup(duplicate_msg);
			return PW_EINVAL;
		}
		a->value = v;
		a->seen_at = t;
		a->seen_gen = s->gen;
		set_annotations(a, ann, nann);
		return 0;
	}
	/* new (or an inactive one starting over): merged when all are in */
	if (index_find(&s->fidx, s->fresh, h, l, n)) {
		*cause = xstrdup(duplicate_msg);
		return PW_EINVAL;
	}
	if ((s->nfresh & (s->nfresh - 1)) == 0) /* 0, 1, 2, 4, ...: room doubles */
		s->fresh = xreallocarray(s->fresh, s->nfresh ? 2 * s->nfresh : 1, sizeof *s->fresh);
	a = &s->fresh[s->nfresh++];
	memset(a, 0, sizeof *a);
	a->labels = pw_lset_new(l, n);
	set_annotations(a, ann, nann);
	a->value = v;
	a->active_at = t;
	a->state = VIEW_PENDING;
	a->seen_at = t;
	a->seen_gen = s->gen;
	fresh_index(s, h);
	return 0;
}

int astate_feed_lset(struct astate *s, struct pw_lset *labels, struct pw_lset *ann, double v,
		     int64_t t, char **cause)
{
	struct alert *a = index_find(&s->idx, s->al, labels->h, labels->l, labels->n);
	if (a && a->state != VIEW_INACTIVE) {
		if (a->seen_gen == s->gen) {
			*cause = xstrdup(duplicate_msg);
			return PW_EINVAL;
		}
		a->value = v;
		a->seen_at = t;
		a->seen_gen = s->gen;
		if (a->ann != ann && (!a->ann || !ann || !pw_lset_eq(a->ann, ann)))
			pw_lset_set(&a->ann, pw_lset_ref(ann));
		return 0;
	}
	if (index_find(&s->fidx, s->fresh, labels->h, labels->l, labels->n)) {
		*cause = xstrdup(duplicate_msg);
		return PW_EINVAL;
	}
	if ((s->nfresh & (s->nfresh - 1)) == 0)
		s->fresh = xreallocarray(s->fresh, s->nfresh ? 2 * s->nfresh : 1, sizeof *s->fresh);
	a = &s->fresh[s->nfresh++];
	memset(a, 0, sizeof *a);
	a->labels = pw_lset_ref(labels);
	a->ann = pw_lset_ref(ann);
	a->value = v;
	a->active_at = t;
	a->state = VIEW_PENDING;
	a->seen_at = t;
	a->seen_gen = s->gen;
	fresh_index(s, labels->h);
	return 0;
}

void astate_cancel(struct astate *s)
{
	fresh_clear(s);
}

/* What ALERTS_FOR_STATE says of this rule's alerts in [t - tolerance, t]:
 * read once, at the rule's first evaluation with new alerts after a start. */
struct restore {
	struct pw_lset **l;
	int64_t *act;
	size_t n;
};

static void restore_load(const struct astate *s, struct store *st, int64_t t, struct restore *rs)
{
	struct store_snap *snap;
	struct store_matcher m[34];
	struct store_series *ss = NULL;
	size_t n = 0, nm = 0;
	int64_t from = t - s->o.outage_tolerance_ms;
	memset(rs, 0, sizeof *rs);
	if (store_snap_begin(st, &snap) != 0)
		return;
	store_matcher_init(&m[nm++], STORE_MATCH_EQ, "__name__", "ALERTS_FOR_STATE", NULL);
	store_matcher_init(&m[nm++], STORE_MATCH_EQ, "alertname", s->o.name, NULL);
	for (size_t i = 0; i < s->o.nmatch && nm < 34; i++)
		store_matcher_init(&m[nm++], STORE_MATCH_EQ, s->o.match[i].name, s->o.match[i].value,
				   NULL);
	if (store_select(snap, m, nm, from, t, false, &ss, &n) == 0 && n) {
		struct store_iter *it = store_iter_new(snap);
		rs->l = xcalloc(n, sizeof *rs->l);
		rs->act = xcalloc(n, sizeof *rs->act);
		for (size_t i = 0; i < n; i++) {
			struct pw_label tmp[72];
			size_t nl = store_series_labels(&ss[i], tmp, 72), k = 0;
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
			for (size_t q = 0; q < nl; q++)
				if (strcmp(tmp[q].name, "__name__"))
					tmp[k++] = tmp[q];
			rs->l[rs->n++] = pw_lset_new(tmp, k);
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
		pw_lset_unref(rs->l[i]);
	free(rs->l);
	free(rs->act);
}

/* the fresh alerts join: an inactive one with the same labels is replaced,
 * a new one is appended (restored from history at the first evaluation) */
static void merge_fresh(struct astate *s, struct store *st, int64_t t)
{
	struct restore rs = {0};
	if (!s->restored && s->nfresh)
		restore_load(s, st, t, &rs);
	for (size_t k = 0; k < s->nfresh; k++) {
		struct alert *f = &s->fresh[k];
		struct alert *old = index_find(&s->idx, s->al, f->labels->h, f->labels->l,
					       f->labels->n);
		if (!old && !s->restored) {
			/* the first evaluation after a start: the for clock goes on */
			for (size_t q = 0; q < rs.n; q++)
				if (pw_lset_eq(rs.l[q], f->labels) && rs.act[q] <= t) {
					f->active_at = rs.act[q];
					break;
				}
		}
		if (old) {
			alert_clear(old);
			*old = *f;
		} else {
			s->al = xreallocarray(s->al, s->nal + 1, sizeof *s->al);
			s->al[s->nal++] = *f;
			s->idx_dirty = true;
		}
		memset(f, 0, sizeof *f); /* moved */
	}
	fresh_clear(s);
	restore_free(&rs);
	s->restored = true;
}

/* ALERTS_FOR_STATE's value: the activation time in Unix seconds, rounded down */
static double for_state_value(int64_t active_at)
{
	return (double)(active_at >= 0 ? active_at / 1000 : -((-active_at + 999) / 1000));
}

/* the alert's labels, __name__ and one more label, sorted, into dst */
static size_t series_labels(struct pw_label *dst, size_t max, const struct pw_lset *l,
			    const char *name, const char *extra_name, const char *extra_value)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n && n + 2 < max; i++)
		if (strcmp(l->l[i].name, "__name__") &&
		    (!extra_name || strcmp(l->l[i].name, extra_name)))
			dst[n++] = l->l[i];
	dst[n].name = "__name__";
	dst[n++].value = name;
	if (extra_name) {
		dst[n].name = extra_name;
		dst[n++].value = extra_value;
	}
	return pw_labels_sort(dst, n);
}

static void write_alert(struct astate *s, struct store_batch *b, const struct alert *a, int64_t t)
{
	struct pw_label tmp[80];
	size_t n = series_labels(tmp, 80, a->labels, "ALERTS", "alertstate",
				 a->state == VIEW_FIRING ? "firing" : "pending");
	output_put(&s->out, b, tmp, n, t, 1);
	n = series_labels(tmp, 80, a->labels, "ALERTS_FOR_STATE", NULL, NULL);
	output_put(&s->out, b, tmp, n, t, for_state_value(a->active_at));
}

/* an alert not seen by this evaluation: kept firing, resolved, or dropped;
 * returns false when it is gone from the list */
static bool unseen(struct astate *s, size_t i, int64_t t, bool *active)
{
	struct alert *a = &s->al[i];
	bool keep = false, drop;
	if (a->state == VIEW_FIRING && s->o.keep_firing_for_ms > 0) {
		if (!a->keeping) {
			a->keeping = true;
			a->keep_since = t;
		}
		keep = t - a->keep_since < s->o.keep_firing_for_ms;
	}
	drop = a->state == VIEW_PENDING || (a->resolved && t - a->resolved_at > RESOLVED_RETENTION_MS);
	if (a->state != VIEW_INACTIVE && !keep) {
		a->state = VIEW_INACTIVE;
		a->resolved = true;
		a->resolved_at = t;
	}
	*active = keep;
	if (drop && !keep) {
		alert_clear(a);
		s->al[i] = s->al[--s->nal];
		s->idx_dirty = true;
		return false;
	}
	return true;
}

int astate_end(struct astate *s, struct store *st, struct store_batch *b, int64_t t, char **cause)
{
	size_t nactive = 0;
	merge_fresh(s, st, t);
	output_begin(&s->out);
	for (size_t i = 0; i < s->nal;) {
		struct alert *a = &s->al[i];
		if (a->seen_at != t) {
			bool active;
			if (!unseen(s, i, t, &active))
				continue;
			if (!active) {
				i++;
				continue;
			}
		} else {
			a->keeping = false;
		}
		nactive++;
		if (a->state == VIEW_PENDING && t - a->active_at >= s->o.for_ms) {
			a->state = VIEW_FIRING;
			a->fired_at = t;
		}
		write_alert(s, b, a, t);
		i++;
	}
	if (s->o.limit > 0 && (int64_t)nactive > s->o.limit) {
		clear_all(s);
		*cause = xasprintf("exceeded limit of %lld with %zu alerts", (long long)s->o.limit,
				   nactive);
		output_end(&s->out, b, t); /* everything it wrote last time ends now */
		return PW_EINVAL;
	}
	output_end(&s->out, b, t);
	return 0;
}

void astate_resolve(struct astate *s, struct store *st)
{
	output_resolve(&s->out, st);
}

size_t astate_view(const struct astate *s, struct view *v, size_t rule)
{
	size_t first = v->nalerts;
	for (size_t i = 0; i < s->nal; i++) {
		const struct alert *a = &s->al[i];
		struct view_alert *va = view_add_alert(v, a->labels, a->ann);
		va->state = a->state;
		va->active_at = a->active_at;
		va->fired_at = a->fired_at;
		va->resolved_at = a->resolved ? a->resolved_at : 0;
		va->value = a->value;
		va->rule = rule;
	}
	v->rules[rule].alert0 = first;
	v->rules[rule].nalerts = s->nal;
	return s->nal;
}
