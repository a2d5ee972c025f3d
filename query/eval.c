/*
 * eval.c — the PromQL evaluator: the tree parse.c built, over a store
 * snapshot, with Prometheus 2.42's semantics; func.c adds the functions.
 * The query_exec_* entry points of query.h are at the end.
 */
#include "query_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Like Prometheus' it evaluates a node over every step of the query at
 * once: an instant vector is a set of series with points at step times, a
 * scalar one value per step. Selectors read the store series by series;
 * operators and aggregations then walk the steps with a cursor per input
 * series, and label sets derived from an input series (name dropped,
 * grouping key, matching signature) are computed once per series, not once
 * per step.
 *
 * Errors unwind with longjmp: all memory is in the query's arena, and the
 * few malloc'd things (scratch buffer, store iterator) are freed by the
 * entry point.
 */

_Static_assert(sizeof(struct pt) == sizeof(struct query_point), "point layout");

/* ---- errors, limits ------------------------------------------------------------ */

void ev_fail(struct ev *ev, enum query_errtype t, const char *fmt, ...)
{
	va_list ap;
	char m[1024];
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	ev->root->etype = t;
	ev->root->emsg = xstrdup(m);
	longjmp(*ev->jb, 1);
}

void ev_tick(struct ev *ev)
{
	if ((++ev->tick & 1023) == 0)
		ev_check_time(ev);
}

void ev_check_time(struct ev *ev)
{
	if (pw_mono_ns() > ev->deadline_ns)
		ev_fail(ev, QUERY_ERR_TIMEOUT, "query timed out in query execution");
	if (query_mem_stopped(ev->mem))
		ev_fail(ev, QUERY_ERR_CANCELED, QUERY_STOPPED_MSG);
}

/* the arena's refusal of a block (util.c): unwinds the evaluation */
static void ev_refuse(void *ctx, struct query_error *e)
{
	struct ev *ev = ctx;
	ev->root->etype = e->type;
	ev->root->emsg = e->msg;
	longjmp(*ev->jb, 1);
}

void ev_charge(struct ev *ev, size_t n)
{
	struct query_error e = {0};
	if (ev->a->mem && query_mem_charge(ev->a->mem, n, &e) != 0)
		ev_refuse(ev->root, &e);
}

void ev_account(struct ev *ev, size_t n)
{
	ev->samples += n;
	if (ev->samples > ev->max_samples)
		ev_fail(ev, QUERY_ERR_EXECUTION,
			"query processing would load too many samples into memory in query execution");
}

void ser_push(struct ev *ev, struct ser *s, int64_t t, double v)
{
	if (s->n == s->cap) {
		uint32_t nc = s->cap ? s->cap * 2 : 4;
		s->p = qarena_grow(ev->a, s->p, s->cap * sizeof *s->p, nc * sizeof *s->p);
		s->cap = nc;
	}
	s->p[s->n].t = t;
	s->p[s->n++].v = v;
	ev_account(ev, 1);
}

void ser_reserve(struct ev *ev, struct ser *s, size_t n)
{
	if (s->cap >= n)
		return;
	s->p = qarena_grow(ev->a, s->p, s->cap * sizeof *s->p, n * sizeof *s->p);
	s->cap = (uint32_t)n;
}

struct ser *mat_add(struct ev *ev, struct mat *m, struct pw_lset *ls)
{
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 8;
		m->s = qarena_grow(ev->a, m->s, m->cap * sizeof *m->s, nc * sizeof *m->s);
		m->cap = nc;
	}
	memset(&m->s[m->n], 0, sizeof m->s[0]);
	m->s[m->n].ls = ls;
	return &m->s[m->n++];
}

/* ---- output builder ------------------------------------------------------------- */

size_t outb_find(struct ev *ev, struct outb *o, struct pw_lset *ls)
{
	size_t i;
	if (o->m.n * 2 >= o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 16;
		size_t *t = qarena_alloc(ev->a, nc * sizeof *t);
		for (size_t k = 0; k < o->cap; k++) {
			if (!o->tab[k])
				continue;
			size_t j = qlabels_slot(o->m.s[o->tab[k] - 1].ls->h, nc);
			while (t[j])
				j = (j + 1) & (nc - 1);
			t[j] = o->tab[k];
		}
		o->tab = t;
		o->cap = nc;
	}
	for (i = qlabels_slot(ls->h, o->cap); o->tab[i]; i = (i + 1) & (o->cap - 1))
		if (pw_lset_eq(o->m.s[o->tab[i] - 1].ls, ls))
			return o->tab[i] - 1;
	mat_add(ev, &o->m, ls);
	o->tab[i] = o->m.n;
	return o->m.n - 1;
}

void outb_put(struct ev *ev, struct outb *o, size_t idx, int64_t t, double v)
{
	struct ser *s = &o->m.s[idx];
	size_t lo = 0, hi;
	if (s->n == 0 || s->p[s->n - 1].t < t) {
		ser_push(ev, s, t, v);
		return;
	}
	/* out of order: only when two inputs map to one output */
	hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->p[mid].t < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->n && s->p[lo].t == t)
		ev_fail(ev, QUERY_ERR_EXECUTION, "vector cannot contain metrics with the same labelset");
	ser_push(ev, s, 0, 0);
	memmove(&s->p[lo + 1], &s->p[lo], (s->n - 1 - lo) * sizeof s->p[0]);
	s->p[lo].t = t;
	s->p[lo].v = v;
}

/* ---- small hash map: uint64 key -> size_t, cleared in O(1) by generation ------ */

struct u64map {
	uint64_t *k;
	size_t *v;
	uint32_t *g;
	size_t cap, n;
	uint32_t gen;
};

static void u64map_reset(struct ev *ev, struct u64map *m, size_t want)
{
	m->gen++;
	m->n = 0;
	if (want * 2 > m->cap || m->cap == 0) {
		size_t nc = 16;
		while (nc < want * 2)
			nc *= 2;
		m->k = qarena_alloc(ev->a, nc * sizeof *m->k);
		m->v = qarena_alloc(ev->a, nc * sizeof *m->v);
		m->g = qarena_alloc(ev->a, nc * sizeof *m->g);
		m->cap = nc;
		m->gen = 1;
	}
}

/* Slot of key: *found tells whether it was there. */
static size_t u64map_slot(struct u64map *m, uint64_t key, bool *found)
{
	size_t i = (key ^ key >> 29) & (m->cap - 1);
	while (m->g[i] == m->gen) {
		if (m->k[i] == key) {
			*found = true;
			return i;
		}
		i = (i + 1) & (m->cap - 1);
	}
	*found = false;
	return i;
}

static void u64map_set(struct ev *ev, struct u64map *m, size_t slot, uint64_t key, size_t v)
{
	m->k[slot] = key;
	m->v[slot] = v;
	m->g[slot] = m->gen;
	if (++m->n * 2 > m->cap) {
		/* grow: rehash live entries */
		struct u64map o = *m;
		size_t nc = m->cap * 2;
		m->k = qarena_alloc(ev->a, nc * sizeof *m->k);
		m->v = qarena_alloc(ev->a, nc * sizeof *m->v);
		m->g = qarena_alloc(ev->a, nc * sizeof *m->g);
		m->cap = nc;
		m->gen = 1;
		for (size_t i = 0; i < o.cap; i++) {
			bool f;
			if (o.g[i] != o.gen)
				continue;
			size_t s = u64map_slot(m, o.k[i], &f);
			m->k[s] = o.k[i];
			m->v[s] = o.v[i];
			m->g[s] = m->gen;
		}
	}
}

/* ---- helpers ----------------------------------------------------------------------- */


int64_t ref_time(const struct ev *ev, const struct node *sel, int64_t ts)
{
	switch (sel->at) {
	case AT_TS: ts = sel->at_ts; break;
	case AT_START: ts = ev->qstart; break;
	case AT_END: ts = ev->qend; break;
	default: break;
	}
	return qsat_sub(ts, sel->offset);
}


struct val scalar_val(struct ev *ev)
{
	struct val v = {.type = T_SCALAR};
	ev_account(ev, ev->nsteps);
	v.sc = qarena_alloc(ev->a, ev->nsteps * sizeof *v.sc);
	return v;
}

struct selres select_series(struct ev *ev, const struct node *vs, int64_t mint, int64_t maxt)
{
	struct selres r = {0};
	struct store_series *got = NULL;
	size_t n = 0;
	int rc = store_select(ev->snap, vs->m, vs->nm, mint, maxt, true, &got, &n);
	if (rc != 0)
		ev_fail(ev, QUERY_ERR_INTERNAL, "selecting series: %s", pw_strerror(rc));
	r.s = qarena_alloc(ev->a, (n ? n : 1) * sizeof *r.s);
	if (n)
		memcpy(r.s, got, n * sizeof *r.s);
	free(got);
	r.n = n;
	r.ls = qarena_alloc(ev->a, (n ? n : 1) * sizeof *r.ls);
	for (size_t i = 0; i < n; i++) {
		struct pw_label l[64], *lp = l;
		size_t nl = store_series_labels(&r.s[i], l, 64);
		if (nl > 64) {
			lp = qarena_alloc(ev->a, nl * sizeof *lp);
			store_series_labels(&r.s[i], lp, nl);
		}
		r.ls[i] = qlabels_make(ev->a, lp, nl);
	}
	return r;
}

/* Points of one series in [mint, maxt] into ev's scratch buffer. */
struct scratch {
	struct pt *p;
	size_t n, cap;
};

static struct scratch *scratch_of(struct ev *ev);

size_t load_points(struct ev *ev, uint64_t id, int64_t mint, int64_t maxt, bool skip_stale,
			  struct pt **out)
{
	struct scratch *sc = scratch_of(ev);
	int64_t ts[LOAD_RUN];
	double vs[LOAD_RUN];
	int rc;
	sc->n = 0;
	if ((rc = store_iter_seek(ev->it, id, mint, maxt)) != 0)
		ev_fail(ev, QUERY_ERR_INTERNAL, "reading series: %s", pw_strerror(rc));
	/* the store's samples a run at a time; each is taken, charged and
	 * ticked as one store_iter_next call at a time took it */
	while ((rc = store_iter_read(ev->it, ts, vs, LOAD_RUN)) > 0) {
		for (int k = 0; k < rc; k++) {
			if (skip_stale && is_stale(vs[k]))
				continue;
			if (sc->n == sc->cap) {
				size_t nc = sc->cap ? sc->cap * 2 : 1024;
				ev_charge(ev, (nc - sc->cap) * sizeof *sc->p);
				sc->p = xreallocarray(sc->p, nc, sizeof *sc->p);
				sc->cap = nc;
			}
			sc->p[sc->n].t = ts[k];
			sc->p[sc->n++].v = vs[k];
			if ((sc->n & 4095) == 0)
				ev_tick(ev);
		}
	}
	if (rc < 0)
		ev_fail(ev, QUERY_ERR_INTERNAL, "reading series: %s", pw_strerror(rc));
	*out = sc->p;
	return sc->n;
}

/* ---- selectors -------------------------------------------------------------------- */

/* An instant selector at every step: the selected sample's value, or with
 * timestamps its time in seconds (what timestamp() of a selector gives). */
struct val eval_vsel_as(struct ev *ev, struct node *n, bool timestamps)
{
	struct agg_sink *sink = ev->sink;
	ev->sink = NULL;
	struct val out = {.type = T_VECTOR};
	int64_t r0 = ref_time(ev, n, ev->start), r1 = ref_time(ev, n, ev->end);
	int64_t mint = qsat_sub(r0 < r1 ? r0 : r1, ev->lookback), maxt = r0 > r1 ? r0 : r1;
	struct selres sr = select_series(ev, n, mint, maxt);

	if (ev->threads > 1 && sr.n >= QUERY_PAR_MIN_SERIES)
		return vsel_par(ev, n, timestamps, &sr, mint, maxt, sink);
	for (size_t i = 0; i < sr.n; i++) {
		struct pt *p, last;
		size_t np, j = 0;
		struct ser *s = NULL;
		ev_tick(ev);
		/* one step at or after the newest sample (a dashboard's instant
		 * query at "now"): the newest sample answers, no chunk to decode */
		if (ev->nsteps == 1 &&
		    (sr.s[i].has_latest ? (last.t = sr.s[i].latest_t, last.v = sr.s[i].latest_v, 1)
					: store_latest(ev->snap, sr.s[i].id, &last.t, &last.v) == 0) &&
		    last.t <= r0 && !(ev->ignore_stale && is_stale(last.v))) {
			if (last.t >= qsat_sub(r0, ev->lookback) && !is_stale(last.v))
				ser_push(ev, mat_add(ev, &out.m, sr.ls[i]), ev->start,
					 timestamps ? (double)last.t / 1000 : last.v);
			continue;
		}
		np = load_points(ev, sr.s[i].id, mint, maxt, ev->ignore_stale, &p);
		for (size_t k = 0; k < ev->nsteps; k++) {
			int64_t ts = step_ts(ev, k), r = ref_time(ev, n, ts);
			ev_tick(ev);
			while (j < np && p[j].t <= r)
				j++;
			if (j == 0 || p[j - 1].t < qsat_sub(r, ev->lookback) || is_stale(p[j - 1].v))
				continue;
			if (!s) {
				s = mat_add(ev, &out.m, sr.ls[i]);
				ser_reserve(ev, s, ev->nsteps - k);
			}
			ser_push(ev, s, ts, timestamps ? (double)p[j - 1].t / 1000 : p[j - 1].v);
		}
	}
	return out;
}

/* The raw points of a range selector, one window (instant queries only). */
static struct val eval_msel(struct ev *ev, struct node *n)
{
	struct val out = {.type = T_MATRIX};
	struct node *vs = n->a;
	int64_t r = ref_time(ev, vs, ev->start);
	struct selres sr = select_series(ev, vs, qsat_sub(r, n->range), r);
	for (size_t i = 0; i < sr.n; i++) {
		struct pt *p;
		size_t np = load_points(ev, sr.s[i].id, qsat_sub(r, n->range), r, true, &p);
		struct ser *s;
		if (!np)
			continue;
		s = mat_add(ev, &out.m, sr.ls[i]);
		for (size_t j = 0; j < np; j++)
			ser_push(ev, s, p[j].t, p[j].v);
	}
	return out;
}

/* A subquery: the inner expression at its own steps, aligned to multiples of
 * the step, from the first window's start to the last window's end. */
struct val eval_subq_between(struct ev *ev, struct node *n, int64_t first, int64_t last)
{
	struct ev sub = *ev;
	struct val in, out = {.type = T_MATRIX};
	int64_t step = n->step > 0 ? n->step : 60000, lo = qsat_sub(first, n->range), st;

	st = step * (lo / step);
	if (st < lo)
		st = qsat_add(st, step);
	sub.start = st;
	sub.end = last;
	sub.interval = step;
	if (sub.end < sub.start)
		return out;
	if (((uint64_t)sub.end - (uint64_t)sub.start) / (uint64_t)step >= ev->max_samples)
		ev_fail(ev, QUERY_ERR_EXECUTION,
			"query processing would load too many samples into memory in query execution");
	sub.nsteps = (size_t)(((uint64_t)sub.end - (uint64_t)sub.start) / (uint64_t)step) + 1;
	in = eval(&sub, n->a);
	ev->samples = sub.samples;
	ev->tick = sub.tick;
	if (in.type == T_SCALAR) {
		struct ser *s = mat_add(ev, &out.m, qlabels_make(ev->a, NULL, 0));
		for (size_t k = 0; k < sub.nsteps; k++)
			ser_push(ev, s, step_ts(&sub, k), in.sc[k]);
		return out;
	}
	out.m = in.m;
	return out;
}

static struct val eval_subquery(struct ev *ev, struct node *n)
{
	int64_t r0 = ref_time(ev, n, ev->start), r1 = ref_time(ev, n, ev->end);
	return eval_subq_between(ev, n, r0 < r1 ? r0 : r1, r0 > r1 ? r0 : r1);
}

/* ---- binary operators ------------------------------------------------------------ */

static double binop_val(int op, double l, double r, bool *keep)
{
	*keep = true;
	switch (op) {
	case OP_ADD: return l + r;
	case OP_SUB: return l - r;
	case OP_MUL: return l * r;
	case OP_DIV: return l / r;
	case OP_MOD: return fmod(l, r);
	case OP_POW: return pow(l, r);
	case OP_ATAN2: return atan2(l, r);
	case OP_EQ: *keep = l == r; return l;
	case OP_NE: *keep = l != r; return l;
	case OP_GT: *keep = l > r; return l;
	case OP_LT: *keep = l < r; return l;
	case OP_GE: *keep = l >= r; return l;
	case OP_LE: *keep = l <= r; return l;
	default: return NAN;
	}
}

static bool drops_name(int op) { return op <= OP_POW; }

static struct val eval_vec_scalar(struct ev *ev, struct node *n, struct val *vec, double *sc,
				  bool swap)
{
	struct outb o = {0};
	struct val out = {.type = T_VECTOR};
	for (size_t i = 0; i < vec->m.n; i++) {
		struct ser *s = &vec->m.s[i];
		struct pw_lset *ls =
			drops_name(n->op) || n->ret_bool ? qlabels_drop_name(ev->a, s->ls) : s->ls;
		size_t idx = SIZE_MAX;
		ev_tick(ev);
		for (uint32_t j = 0; j < s->n; j++) {
			size_t k = step_of(ev, s->p[j].t);
			double lv = s->p[j].v, rv = sc[k], v;
			bool keep;
			if (swap) {
				double t = lv;
				lv = rv;
				rv = t;
			}
			v = binop_val(n->op, lv, rv, &keep);
			if (OP_IS_CMP(n->op) && swap)
				v = rv;
			if (n->ret_bool) {
				v = keep ? 1 : 0;
				keep = true;
			}
			if (!keep)
				continue;
			if (idx == SIZE_MAX)
				idx = outb_find(ev, &o, ls);
			outb_put(ev, &o, idx, s->p[j].t, v);
		}
	}
	out.m = o.m;
	return out;
}

static uint64_t *signatures(struct ev *ev, struct node *n, const struct mat *m)
{
	uint64_t *sig = qarena_alloc(ev->a, (m->n ? m->n : 1) * sizeof *sig);
	for (size_t i = 0; i < m->n; i++)
		sig[i] = qlabels_sig(m->s[i].ls, n->on, n->mlabels,
				     n->has_matching ? n->nmlabels : 0);
	return sig;
}

static struct val eval_setop(struct ev *ev, struct node *n, struct val *L, struct val *R)
{
	struct outb o = {0};
	struct val out = {.type = T_VECTOR};
	uint64_t *sl = signatures(ev, n, &L->m), *sr = signatures(ev, n, &R->m);
	size_t *cl = qarena_alloc(ev->a, (L->m.n + 1) * sizeof *cl);
	size_t *cr = qarena_alloc(ev->a, (R->m.n + 1) * sizeof *cr);
	size_t *il = qarena_alloc(ev->a, (L->m.n + 1) * sizeof *il);
	size_t *ir = qarena_alloc(ev->a, (R->m.n + 1) * sizeof *ir);
	struct u64map set = {0};

	for (size_t i = 0; i < L->m.n; i++)
		il[i] = SIZE_MAX;
	for (size_t i = 0; i < R->m.n; i++)
		ir[i] = SIZE_MAX;
	for (size_t k = 0; k < ev->nsteps; k++) {
		int64_t ts = step_ts(ev, k);
		double v;
		bool f;
		ev_tick(ev);
		u64map_reset(ev, &set, n->op == OP_OR ? L->m.n : R->m.n);
		if (n->op == OP_OR) {
			for (size_t i = 0; i < L->m.n; i++) {
				if (!at_step(&L->m.s[i], &cl[i], ts, &v))
					continue;
				size_t s = u64map_slot(&set, sl[i], &f);
				if (!f)
					u64map_set(ev, &set, s, sl[i], 0);
				if (il[i] == SIZE_MAX)
					il[i] = outb_find(ev, &o, L->m.s[i].ls);
				outb_put(ev, &o, il[i], ts, v);
			}
			for (size_t i = 0; i < R->m.n; i++) {
				if (!at_step(&R->m.s[i], &cr[i], ts, &v))
					continue;
				u64map_slot(&set, sr[i], &f);
				if (f)
					continue;
				if (ir[i] == SIZE_MAX)
					ir[i] = outb_find(ev, &o, R->m.s[i].ls);
				outb_put(ev, &o, ir[i], ts, v);
			}
			continue;
		}
		for (size_t i = 0; i < R->m.n; i++) {
			if (!at_step(&R->m.s[i], &cr[i], ts, &v))
				continue;
			size_t s = u64map_slot(&set, sr[i], &f);
			if (!f)
				u64map_set(ev, &set, s, sr[i], 0);
		}
		for (size_t i = 0; i < L->m.n; i++) {
			if (!at_step(&L->m.s[i], &cl[i], ts, &v))
				continue;
			u64map_slot(&set, sl[i], &f);
			if (f != (n->op == OP_AND))
				continue;
			if (il[i] == SIZE_MAX)
				il[i] = outb_find(ev, &o, L->m.s[i].ls);
			outb_put(ev, &o, il[i], ts, v);
		}
	}
	out.m = o.m;
	return out;
}

static struct pw_lset *result_metric(struct ev *ev, struct node *n, const struct pw_lset *l,
				     const struct pw_lset *r)
{
	struct pw_lset *s = drops_name(n->op) ? qlabels_drop_name(ev->a, l) : (struct pw_lset *)l;
	if (n->card == CARD_ONE_ONE && n->has_matching) {
		if (n->on) {
			s = qlabels_project(ev->a, s, true, n->mlabels, n->nmlabels);
		} else {
			/* ignoring: drop the listed labels only (the name stays for
			 * comparisons) */
			struct pw_label *lb = qarena_alloc(ev->a, (s->n + 1) * sizeof *lb);
			size_t k = 0;
			for (uint32_t i = 0; i < s->n; i++) {
				bool listed = false;
				for (size_t j = 0; j < n->nmlabels; j++)
					listed |= strcmp(s->l[i].name, n->mlabels[j]) == 0;
				if (!listed)
					lb[k++] = s->l[i];
			}
			s = qlabels_make(ev->a, lb, k);
		}
	}
	if (n->ninclude) {
		struct pw_label *lb = qarena_alloc(ev->a, (s->n + n->ninclude) * sizeof *lb);
		size_t k = 0;
		for (uint32_t i = 0; i < s->n; i++) {
			bool listed = false;
			for (size_t j = 0; j < n->ninclude; j++)
				listed |= strcmp(s->l[i].name, n->include[j]) == 0;
			if (!listed)
				lb[k++] = s->l[i];
		}
		for (size_t j = 0; j < n->ninclude; j++) {
			const char *v = pw_lset_get(r, n->include[j]);
			if (v && *v) {
				lb[k].name = n->include[j];
				lb[k++].value = v;
			}
		}
		s = qlabels_make(ev->a, lb, k);
	}
	if (n->ret_bool)
		s = qlabels_drop_name(ev->a, s);
	return s;
}

static struct val eval_vec_vec(struct ev *ev, struct node *n, struct val *L0, struct val *R0)
{
	struct val *L = L0, *R = R0;
	struct outb o = {0};
	struct val out = {.type = T_VECTOR};
	uint64_t *sl, *sr;
	size_t *cl, *cr;
	double *vr;
	struct u64map right = {0}, pairs = {0}, matched = {0}, inserted = {0};

	if (n->card == CARD_ONE_MANY) {
		L = R0;
		R = L0;
	}
	if (L->m.n == 0 || R->m.n == 0)
		return out;
	sl = signatures(ev, n, &L->m);
	sr = signatures(ev, n, &R->m);
	cl = qarena_alloc(ev->a, L->m.n * sizeof *cl);
	cr = qarena_alloc(ev->a, R->m.n * sizeof *cr);
	vr = qarena_alloc(ev->a, R->m.n * sizeof *vr);
	u64map_reset(ev, &pairs, 64);
	for (size_t k = 0; k < ev->nsteps; k++) {
		int64_t ts = step_ts(ev, k);
		bool f;
		ev_tick(ev);
		u64map_reset(ev, &right, R->m.n);
		for (size_t j = 0; j < R->m.n; j++) {
			if (!at_step(&R->m.s[j], &cr[j], ts, &vr[j]))
				continue;
			size_t s = u64map_slot(&right, sr[j], &f);
			if (f) {
				struct pw_buf b;
				struct pw_lset *ml =
					qlabels_project(ev->a, R->m.s[j].ls, n->on, n->mlabels,
							n->has_matching ? n->nmlabels : 0);
				pw_buf_init(&b, 0);
				pw_lset_format(ml, &b);
				pw_buf_printf(&b, " on the %s hand-side of the operation: [",
					      n->card == CARD_ONE_MANY ? "left" : "right");
				pw_lset_format(R->m.s[j].ls, &b);
				pw_buf_puts(&b, ", ");
				pw_lset_format(R->m.s[right.v[s]].ls, &b);
				pw_buf_puts(&b, "]");
				char *msg = pw_buf_take(&b);
				char tmp[900];
				snprintf(tmp, sizeof tmp, "%s", msg);
				free(msg);
				ev_fail(ev, QUERY_ERR_EXECUTION,
					"found duplicate series for the match group %s;many-to-many matching not allowed: matching labels must be unique on one side",
					tmp);
			}
			u64map_set(ev, &right, s, sr[j], j);
		}
		u64map_reset(ev, &matched, 16);
		u64map_reset(ev, &inserted, 16);
		for (size_t i = 0; i < L->m.n; i++) {
			double lv, rv, v;
			bool keep;
			size_t s, j, idx;
			if (!at_step(&L->m.s[i], &cl[i], ts, &lv))
				continue;
			s = u64map_slot(&right, sl[i], &f);
			if (!f)
				continue;
			j = right.v[s];
			rv = vr[j];
			if (n->card == CARD_ONE_MANY) {
				double t = lv;
				lv = rv;
				rv = t;
			}
			v = binop_val(n->op, lv, rv, &keep);
			if (n->ret_bool) {
				v = keep ? 1 : 0;
			} else if (!keep) {
				continue;
			}
			/* the output series of this (left, right) pair */
			uint64_t pk = (uint64_t)i * 0x9E3779B97F4A7C15ULL ^ (uint64_t)j;
			size_t ps = u64map_slot(&pairs, pk, &f);
			struct pw_lset *ms;
			if (f) {
				idx = pairs.v[ps];
				ms = o.m.s[idx].ls;
			} else {
				ms = result_metric(ev, n, L->m.s[i].ls, R->m.s[j].ls);
				idx = outb_find(ev, &o, ms);
				u64map_set(ev, &pairs, ps, pk, idx);
			}
			if (n->card == CARD_ONE_ONE) {
				size_t ms_slot = u64map_slot(&matched, sl[i], &f);
				if (f)
					ev_fail(ev, QUERY_ERR_EXECUTION,
						"multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
				u64map_set(ev, &matched, ms_slot, sl[i], 0);
			} else {
				uint64_t ik = sl[i] * 31 ^ ms->h;
				size_t is = u64map_slot(&inserted, ik, &f);
				if (f)
					ev_fail(ev, QUERY_ERR_EXECUTION,
						"multiple matches for labels: grouping labels must ensure unique matches");
				u64map_set(ev, &inserted, is, ik, 0);
			}
			outb_put(ev, &o, idx, ts, v);
		}
	}
	out.m = o.m;
	return out;
}

/* One operator over its operands' values. */
static struct val bin_apply(struct ev *ev, struct node *n, struct val L, struct val R)
{
	if (L.type == T_SCALAR && R.type == T_SCALAR) {
		struct val out = scalar_val(ev);
		for (size_t k = 0; k < ev->nsteps; k++) {
			bool keep;
			double v = binop_val(n->op, L.sc[k], R.sc[k], &keep);
			out.sc[k] = n->ret_bool ? (keep ? 1 : 0) : v;
		}
		return out;
	}
	if (L.type == T_VECTOR && R.type == T_SCALAR)
		return eval_vec_scalar(ev, n, &L, R.sc, false);
	if (L.type == T_SCALAR && R.type == T_VECTOR)
		return eval_vec_scalar(ev, n, &R, L.sc, true);
	if (OP_IS_SET(n->op))
		return eval_setop(ev, n, &L, &R);
	return eval_vec_vec(ev, n, &L, &R);
}

/* A binary operator, and the chain of them down its left operands
 * (1 + 1 + ... or x or y or ..., which the parser builds left-deep however
 * long): walked in a loop, so that the chain's length costs no stack; only
 * the right operands, whose depth the parser bounds, recurse. */
static struct val eval_bin(struct ev *ev, struct node *n)
{
	size_t len = 0, k;
	struct node *m, **chain;
	struct val L;

	for (m = n; m->k == N_BIN; m = m->a)
		len++;
	chain = qarena_alloc(ev->a, len * sizeof *chain);
	for (m = n, k = len; m->k == N_BIN; m = m->a)
		chain[--k] = m;
	L = eval(ev, m);
	for (k = 0; k < len; k++) {
		ev_tick(ev);
		L = bin_apply(ev, chain[k], L, eval(ev, chain[k]->b));
	}
	return L;
}

/* ---- aggregations ------------------------------------------------------------------- */

/* sum, avg, count, min, max, group, stddev and stdvar of a group at one
 * step, the values added in input series order as Prometheus adds them */
struct acc {
	double v, mean, count;
};

static inline void acc_first(int op, struct acc *a, double v)
{
	a->count = 1;
	a->mean = v;
	switch (op) {
	case AG_STDDEV: case AG_STDVAR: a->v = 0; break;
	case AG_GROUP: case AG_COUNT: a->v = 1; break;
	default: a->v = v; break;
	}
}

static inline void acc_add(int op, struct acc *a, double v)
{
	a->count++;
	switch (op) {
	case AG_SUM: a->v += v; break;
	case AG_AVG:
		if (isinf(a->mean)) {
			if (isinf(v) && (a->mean > 0) == (v > 0))
				break;
			if (!isinf(v) && !isnan(v))
				break;
		}
		a->mean += v / a->count - a->mean / a->count;
		break;
	case AG_COUNT: a->v += 1; break;
	case AG_MIN: if (a->v > v || isnan(a->v)) a->v = v; break;
	case AG_MAX: if (a->v < v || isnan(a->v)) a->v = v; break;
	case AG_STDDEV: case AG_STDVAR: {
		double d = v - a->mean;
		a->mean += d / a->count;
		a->v += d * (v - a->mean);
		break;
	}
	default: break; /* group: 1 from the first value on */
	}
}

static inline double acc_result(int op, const struct acc *a)
{
	switch (op) {
	case AG_AVG: return a->mean;
	case AG_STDVAR: return a->v / a->count;
	case AG_STDDEV: return sqrt(a->v / a->count);
	default: return a->v;
	}
}

/* A group at the step being walked (agg_by_step). */
struct grp {
	struct acc a;
	bool seen;
	size_t out; /* output series index, SIZE_MAX until needed */
	/* topk / bottomk / quantile */
	size_t *hs;   /* series indexes */
	double *hv;
	size_t hn, hcap;
};

static bool heap_less(bool top, double a, double b)
{
	/* the root is the element to evict first; NaN is always evicted first */
	if (isnan(a))
		return true;
	return top ? a < b : a > b;
}

static void grp_heap_swap(struct grp *g, size_t i, size_t j)
{
	double tv = g->hv[i];
	size_t ts = g->hs[i];
	g->hv[i] = g->hv[j];
	g->hs[i] = g->hs[j];
	g->hv[j] = tv;
	g->hs[j] = ts;
}

/* Go's container/heap, step for step: which of equal values survive
 * depends on it, and Prometheus' answers with it */
static bool grp_heap_down(struct grp *g, size_t i0, bool top)
{
	size_t i = i0, n = g->hn;
	for (;;) {
		size_t j1 = 2 * i + 1, j = j1;
		if (j1 >= n)
			break;
		if (j1 + 1 < n && heap_less(top, g->hv[j1 + 1], g->hv[j1]))
			j = j1 + 1;
		if (!heap_less(top, g->hv[j], g->hv[i]))
			break;
		grp_heap_swap(g, i, j);
		i = j;
	}
	return i > i0;
}

static void grp_heap_up(struct grp *g, size_t j, bool top)
{
	while (j > 0) {
		size_t i = (j - 1) / 2;
		if (!heap_less(top, g->hv[j], g->hv[i]))
			break;
		grp_heap_swap(g, i, j);
		j = i;
	}
}

static int dbl_cmp_nan_first(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	if (isnan(x))
		return isnan(y) ? 0 : -1;
	if (isnan(y))
		return 1;
	return x < y ? -1 : x > y;
}

double quantile_of(double q, double *v, size_t n)
{
	double rank, lo, hi, w;
	if (n == 0)
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	if (isnan(q))
		return NAN;
	qsort(v, n, sizeof *v, dbl_cmp_nan_first);
	rank = q * (double)(n - 1);
	lo = fmax(0, floor(rank));
	hi = fmin((double)n - 1, lo + 1);
	w = rank - floor(rank);
	return v[(size_t)lo] * (1 - w) + v[(size_t)hi] * w;
}

static void grp_push(struct ev *ev, struct grp *g, size_t s, double v)
{
	if (g->hn == g->hcap) {
		size_t nc = g->hcap ? g->hcap * 2 : 8;
		g->hs = qarena_grow(ev->a, g->hs, g->hcap * sizeof *g->hs, nc * sizeof *g->hs);
		g->hv = qarena_grow(ev->a, g->hv, g->hcap * sizeof *g->hv, nc * sizeof *g->hv);
		g->hcap = nc;
	}
	g->hs[g->hn] = s;
	g->hv[g->hn++] = v;
}

/* count_values' output series for value v of an input series' labels src */
static size_t count_values_out(struct ev *ev, struct node *n, struct outb *o,
			       const struct pw_lset *src, const char *lab, double v)
{
	char num[400];
	struct pw_label *lb = qarena_alloc(ev->a, (src->n + 1) * sizeof *lb);
	size_t nl = 0;
	struct pw_lset *m, *g;

	pw_fmt_float(num, sizeof num, v, PW_FMT_GO_F);
	for (uint32_t j = 0; j < src->n; j++)
		if (strcmp(src->l[j].name, lab))
			lb[nl++] = src->l[j];
	lb[nl].name = lab;
	lb[nl++].value = qarena_strdup(ev->a, num);
	m = qlabels_make(ev->a, lb, nl);
	if (n->without) {
		g = qlabels_project(ev->a, m, false, n->grouping, n->ngrouping);
	} else {
		char **gl = qarena_alloc(ev->a, (n->ngrouping + 1) * sizeof *gl);
		if (n->ngrouping)
			memcpy(gl, n->grouping, n->ngrouping * sizeof *gl);
		gl[n->ngrouping] = (char *)lab;
		g = qlabels_project(ev->a, m, true, gl, n->ngrouping + 1);
	}
	return outb_find(ev, o, g);
}

static struct val eval_count_values(struct ev *ev, struct node *n, struct val *in, const char *lab)
{
	struct outb o = {0};
	struct val out = {.type = T_VECTOR};
	size_t *c = qarena_alloc(ev->a, (in->m.n + 1) * sizeof *c);
	struct u64map cnt = {0};
	double *counts = qarena_alloc(ev->a, (in->m.n + 1) * sizeof *counts);
	size_t *order = qarena_alloc(ev->a, (in->m.n + 1) * sizeof *order);
	/* each input series' previous value and its output series: a value
	 * that stays makes no new label set at every step */
	uint64_t *lastv = qarena_alloc(ev->a, (in->m.n + 1) * sizeof *lastv);
	size_t *lastidx = qarena_alloc(ev->a, (in->m.n + 1) * sizeof *lastidx);

	if (!pw_valid_label_name(lab, strlen(lab)))
		ev_fail(ev, QUERY_ERR_EXECUTION, "invalid label name \"%s\"", lab);
	for (size_t i = 0; i < in->m.n; i++)
		lastidx[i] = SIZE_MAX;
	for (size_t k = 0; k < ev->nsteps; k++) {
		int64_t ts = step_ts(ev, k);
		size_t ng = 0;
		ev_tick(ev);
		u64map_reset(ev, &cnt, in->m.n);
		for (size_t i = 0; i < in->m.n; i++) {
			double v;
			bool f;
			uint64_t vb;
			size_t idx, s;
			if (!at_step(&in->m.s[i], &c[i], ts, &v))
				continue;
			memcpy(&vb, &v, sizeof vb);
			if (lastidx[i] == SIZE_MAX || lastv[i] != vb) {
				lastidx[i] = count_values_out(ev, n, &o, in->m.s[i].ls, lab, v);
				lastv[i] = vb;
			}
			idx = lastidx[i];
			s = u64map_slot(&cnt, idx, &f);
			if (!f) {
				u64map_set(ev, &cnt, s, idx, ng);
				order[ng] = idx;
				counts[ng++] = 0;
			}
			counts[cnt.v[u64map_slot(&cnt, idx, &f)]] += 1;
		}
		for (size_t g = 0; g < ng; g++)
			outb_put(ev, &o, order[g], ts, counts[g]);
	}
	out.m = o.m;
	return out;
}

/* The groups of an aggregation: gi[i] is input series i's, gl[g] group g's
 * label set, groups numbered in order of first appearance. */
struct groups {
	size_t *gi;
	struct pw_lset **gl;
	size_t ng;
};

static struct groups agg_group(struct ev *ev, struct node *n, const struct val *in)
{
	struct groups gs = {0};
	struct u64map gmap = {0};

	gs.gi = qarena_alloc(ev->a, (in->m.n + 1) * sizeof *gs.gi);
	gs.gl = qarena_alloc(ev->a, (in->m.n + 1) * sizeof *gs.gl);
	u64map_reset(ev, &gmap, in->m.n);
	for (size_t i = 0; i < in->m.n; i++) {
		struct pw_lset *ls = qlabels_project(ev->a, in->m.s[i].ls, !n->without, n->grouping,
						     n->ngrouping);
		bool f;
		size_t s = u64map_slot(&gmap, ls->h, &f);
		while (f && !pw_lset_eq(gs.gl[gmap.v[s]], ls)) {
			/* hash collision between different groups: probe on */
			s = (s + 1) & (gmap.cap - 1);
			if (gmap.g[s] != gmap.gen) {
				f = false;
				break;
			}
			f = gmap.k[s] == ls->h;
		}
		if (f) {
			gs.gi[i] = gmap.v[s];
		} else {
			gs.gl[gs.ng] = ls;
			u64map_set(ev, &gmap, s, ls->h, gs.ng);
			gs.gi[i] = gs.ng++;
		}
	}
	return gs;
}

/* Walk series by series rather than step by step? For the struct acc
 * kernels over several steps, while one accumulator per (group, step)
 * costs no more than about twice the input points. */
static bool agg_by_series_fits(const struct ev *ev, const struct node *n, const struct val *in,
			       size_t ng)
{
	size_t total = 0;
	if (ev->nsteps <= 1 || n->op > AG_STDVAR)
		return false;
	for (size_t i = 0; i < in->m.n; i++)
		total += in->m.s[i].n;
	return (uint64_t)ng * ev->nsteps <= 2 * (uint64_t)total + 4096;
}

/* Series by series into one accumulator per (group, step): the points of a
 * step still arrive in series order, so every sum is added in the order the
 * step-by-step walk would add it. */
static struct val agg_by_series(struct ev *ev, struct node *n, struct val *in,
				const struct groups *gs)
{
	struct val out = {.type = T_VECTOR};
	struct outb o = {0};
	struct acc *acc = qarena_alloc(ev->a, gs->ng * ev->nsteps * sizeof *acc);

	for (size_t i = 0; i < in->m.n; i++) {
		const struct ser *s = &in->m.s[i];
		struct acc *row = acc + gs->gi[i] * ev->nsteps;
		ev_tick(ev);
		for (uint32_t j = 0; j < s->n; j++) {
			struct acc *a = row + step_of(ev, s->p[j].t);
			if (a->count != 0)
				acc_add(n->op, a, s->p[j].v);
			else
				acc_first(n->op, a, s->p[j].v);
		}
	}
	for (size_t g = 0; g < gs->ng; g++) {
		struct acc *row = acc + g * ev->nsteps;
		size_t idx = SIZE_MAX;
		for (size_t k = 0; k < ev->nsteps; k++) {
			if (row[k].count == 0)
				continue;
			if (idx == SIZE_MAX) {
				idx = outb_find(ev, &o, gs->gl[g]);
				ser_reserve(ev, &o.m.s[idx], ev->nsteps - k);
			}
			ser_push(ev, &o.m.s[idx], step_ts(ev, k), acc_result(n->op, &row[k]));
		}
	}
	out.m = o.m;
	return out;
}

/* ---- an aggregation fed series by series ------------------------------------------- */

/*
 * sum by (city) (rate(x[5m])) over 10,000 series made the 10,000 series of
 * rate's answer, every point of them (16 bytes each, a hundred MB over a
 * month at hourly steps), for agg_by_series to read them back in order.
 * The evaluator of the argument (range_par's merge, in series order) feeds
 * each series to the aggregation as it comes instead: the same groups in
 * the same order, the same additions in the same order into the same
 * accumulators as agg_by_series, and at the end the output in the order
 * eval_agg would give, agg_by_series' (groups in order of first
 * appearance) when it would have chosen that walk, else agg_by_step's (by
 * the first step a group has a value, then by its first series at that
 * step). The points are still counted against the samples limit.
 */
struct agg_sink {
	struct node *n;
	bool used;
	struct u64map gmap;
	struct pw_lset **gl;
	size_t ng, gcap;
	struct acc *acc;  /* gcap rows of nsteps */
	size_t *kmin, *imin; /* per group: its first step, its first series there */
	size_t nin;       /* input series so far */
	uint64_t total;   /* their points */
};

void agg_sink_take(struct agg_sink *k)
{
	k->used = true;
}

void agg_sink_put(struct ev *ev, struct agg_sink *k, struct pw_lset *ls, const struct pt *p,
		  size_t np)
{
	struct node *n = k->n;
	struct pw_lset *g = qlabels_project(ev->a, ls, !n->without, n->grouping, n->ngrouping);
	size_t gi, i = k->nin++;
	bool f;
	size_t s = u64map_slot(&k->gmap, g->h, &f);
	while (f && !pw_lset_eq(k->gl[k->gmap.v[s]], g)) {
		s = (s + 1) & (k->gmap.cap - 1);
		if (k->gmap.g[s] != k->gmap.gen) {
			f = false;
			break;
		}
		f = k->gmap.k[s] == g->h;
	}
	if (f) {
		gi = k->gmap.v[s];
	} else {
		if (k->ng == k->gcap) {
			size_t nc = k->gcap ? k->gcap * 2 : 16;
			k->gl = qarena_grow(ev->a, k->gl, k->gcap * sizeof *k->gl, nc * sizeof *k->gl);
			k->kmin = qarena_grow(ev->a, k->kmin, k->gcap * sizeof *k->kmin,
					      nc * sizeof *k->kmin);
			k->imin = qarena_grow(ev->a, k->imin, k->gcap * sizeof *k->imin,
					      nc * sizeof *k->imin);
			k->acc = qarena_grow(ev->a, k->acc, k->gcap * ev->nsteps * sizeof *k->acc,
					     nc * ev->nsteps * sizeof *k->acc);
			k->gcap = nc;
		}
		gi = k->ng++;
		k->gl[gi] = g;
		k->kmin[gi] = SIZE_MAX;
		u64map_set(ev, &k->gmap, s, g->h, gi);
	}
	struct acc *row = k->acc + gi * ev->nsteps;
	for (size_t j = 0; j < np; j++) {
		size_t st = step_of(ev, p[j].t);
		struct acc *a = row + st;
		if (a->count != 0)
			acc_add(n->op, a, p[j].v);
		else
			acc_first(n->op, a, p[j].v);
		if (st < k->kmin[gi]) {
			k->kmin[gi] = st;
			k->imin[gi] = i;
		}
	}
	k->total += np;
}

static int sink_cmp_r(const void *a, const void *b, void *arg)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	const struct agg_sink *k = arg;
	if (k->kmin[x] != k->kmin[y])
		return k->kmin[x] < k->kmin[y] ? -1 : 1;
	return k->imin[x] < k->imin[y] ? -1 : k->imin[x] > k->imin[y];
}

static struct val agg_sink_out(struct ev *ev, struct agg_sink *k)
{
	struct val out = {.type = T_VECTOR};
	struct outb o = {0};
	size_t *order = qarena_alloc(ev->a, (k->ng + 1) * sizeof *order);
	for (size_t g = 0; g < k->ng; g++)
		order[g] = g;
	/* agg_by_series_fits with this input: else agg_by_step's order
	 * (first steps and first series differ between groups: a total
	 * order) */
	if (!(ev->nsteps > 1 && (uint64_t)k->ng * ev->nsteps <= 2 * k->total + 4096))
		qsort_r(order, k->ng, sizeof *order, sink_cmp_r, k);
	for (size_t q = 0; q < k->ng; q++) {
		size_t g = order[q];
		struct acc *row = k->acc + g * ev->nsteps;
		size_t idx = SIZE_MAX;
		ev_tick(ev);
		for (size_t s = 0; s < ev->nsteps; s++) {
			if (row[s].count == 0)
				continue;
			if (idx == SIZE_MAX) {
				idx = outb_find(ev, &o, k->gl[g]);
				ser_reserve(ev, &o.m.s[idx], ev->nsteps - s);
			}
			ser_push(ev, &o.m.s[idx], step_ts(ev, s), acc_result(k->n->op, &row[s]));
		}
	}
	out.m = o.m;
	return out;
}

/* topk and bottomk's k at one step: the parameter as an int64 */
static int64_t agg_topk_k(struct ev *ev, double pk)
{
	if (isnan(pk) || pk >= 9223372036854775807.0 || pk < -9223372036854775807.0) {
		char num[400];
		pw_fmt_float(num, sizeof num, pk, PW_FMT_GO_F);
		ev_fail(ev, QUERY_ERR_EXECUTION, "Scalar value %s overflows int64", num);
	}
	return (int64_t)pk;
}

/* v of input series i into a group's heap of its kk best: as 2.42, a NaN
 * on top is always displaced; pop, then push */
static void agg_topk_add(struct ev *ev, struct grp *gr, size_t i, double v, int64_t kk, bool top)
{
	if ((int64_t)gr->hn < kk || isnan(gr->hv[0]) || (top ? gr->hv[0] < v : gr->hv[0] > v)) {
		if ((int64_t)gr->hn == kk) {
			if (kk == 1) {
				gr->hv[0] = v;
				gr->hs[0] = i;
				return;
			}
			grp_heap_swap(gr, 0, gr->hn - 1);
			gr->hn--;
			grp_heap_down(gr, 0, top);
		}
		grp_push(ev, gr, i, v);
		grp_heap_up(gr, gr->hn - 1, top);
	}
}

/* A group's topk or bottomk at step time ts, best first as Prometheus
 * returns them, each under its input series' labels (sidx: input series
 * -> output). Empties the heap. */
static void agg_topk_emit(struct ev *ev, struct outb *o, struct grp *gr, const struct val *in,
			  size_t *sidx, int64_t ts, bool top)
{
	size_t hn = gr->hn;
	size_t *os = qarena_alloc(ev->a, hn * sizeof *os);
	double *ov = qarena_alloc(ev->a, hn * sizeof *ov);
	for (size_t q = hn; q-- > 0;) {
		os[q] = gr->hs[0];
		ov[q] = gr->hv[0];
		gr->hs[0] = gr->hs[gr->hn - 1];
		gr->hv[0] = gr->hv[gr->hn - 1];
		gr->hn--;
		grp_heap_down(gr, 0, top);
	}
	for (size_t q = 0; q < hn; q++) {
		size_t si = os[q];
		if (sidx[si] == SIZE_MAX)
			sidx[si] = outb_find(ev, o, in->m.s[si].ls);
		outb_put(ev, o, sidx[si], ts, ov[q]);
	}
}

/* The first value of a group at a step, then every later one. */
static void grp_first(struct ev *ev, int op, struct grp *gr, size_t i, double v)
{
	acc_first(op, &gr->a, v);
	gr->hn = 0;
	if (op == AG_TOPK || op == AG_BOTTOMK || op == AG_QUANTILE)
		grp_push(ev, gr, i, v);
}

static void grp_add(struct ev *ev, int op, struct grp *gr, size_t i, double v, int64_t kk)
{
	switch (op) {
	case AG_TOPK: case AG_BOTTOMK: agg_topk_add(ev, gr, i, v, kk, op == AG_TOPK); break;
	case AG_QUANTILE: grp_push(ev, gr, i, v); break;
	default: acc_add(op, &gr->a, v); break;
	}
}

/* Step by step: at each step the values of the input series in series
 * order into their groups, then a point for every group that had one (for
 * topk and bottomk, a point for each series kept). par: the parameter. */
static struct val agg_by_step(struct ev *ev, struct node *n, struct val *in,
			      const struct val *par, const struct groups *gs)
{
	struct val out = {.type = T_VECTOR};
	struct outb o = {0};
	size_t *c = qarena_alloc(ev->a, (in->m.n + 1) * sizeof *c);
	struct grp *g = qarena_alloc(ev->a, (gs->ng + 1) * sizeof *g);
	size_t *touched = qarena_alloc(ev->a, (gs->ng + 1) * sizeof *touched);
	bool topk = n->op == AG_TOPK || n->op == AG_BOTTOMK;
	size_t *sidx = NULL; /* topk/bottomk: input series -> output */

	for (size_t q = 0; q < gs->ng; q++)
		g[q].out = SIZE_MAX;
	if (topk) {
		sidx = qarena_alloc(ev->a, (in->m.n + 1) * sizeof *sidx);
		for (size_t i = 0; i < in->m.n; i++)
			sidx[i] = SIZE_MAX;
	}
	for (size_t k = 0; k < ev->nsteps; k++) {
		int64_t ts = step_ts(ev, k), kk = 0;
		size_t nt = 0;
		double v;
		ev_tick(ev);
		if (topk && (kk = agg_topk_k(ev, par->sc[k])) < 1) {
			for (size_t i = 0; i < in->m.n; i++)
				at_step(&in->m.s[i], &c[i], ts, &v); /* skip the step */
			continue;
		}
		for (size_t i = 0; i < in->m.n; i++) {
			struct grp *gr;
			if (!at_step(&in->m.s[i], &c[i], ts, &v))
				continue;
			gr = &g[gs->gi[i]];
			if (gr->seen) {
				grp_add(ev, n->op, gr, i, v, kk);
				continue;
			}
			gr->seen = true;
			touched[nt++] = gs->gi[i];
			grp_first(ev, n->op, gr, i, v);
		}
		for (size_t t = 0; t < nt; t++) {
			struct grp *gr = &g[touched[t]];
			gr->seen = false;
			if (topk) {
				agg_topk_emit(ev, &o, gr, in, sidx, ts, n->op == AG_TOPK);
				continue;
			}
			v = n->op == AG_QUANTILE ? quantile_of(par->sc[k], gr->hv, gr->hn)
						 : acc_result(n->op, &gr->a);
			if (gr->out == SIZE_MAX)
				gr->out = outb_find(ev, &o, gs->gl[touched[t]]);
			outb_put(ev, &o, gr->out, ts, v);
		}
	}
	out.m = o.m;
	return out;
}

/* the argument of an aggregation that can feed it series by series */
static bool sink_feeds(const struct node *a)
{
	while (a->k == N_PAREN)
		a = a->a;
	return a->k == N_VSEL || (a->k == N_CALL && range_call_feeds(a));
}

static struct val eval_agg(struct ev *ev, struct node *n)
{
	struct val in, par = {0};
	struct groups gs;

	if (n->op <= AG_STDVAR && sink_feeds(n->a)) {
		struct agg_sink k = {.n = n};
		u64map_reset(ev, &k.gmap, 16);
		ev->sink = &k;
		in = eval(ev, n->a);
		ev->sink = NULL;
		if (k.used)
			return agg_sink_out(ev, &k);
	} else {
		in = eval(ev, n->a);
	}

	if (n->param)
		par = eval(ev, n->param);
	if (n->op == AG_COUNT_VALUES)
		return eval_count_values(ev, n, &in, par.str);
	gs = agg_group(ev, n, &in);
	if (agg_by_series_fits(ev, n, &in, gs.ng))
		return agg_by_series(ev, n, &in, &gs);
	return agg_by_step(ev, n, &in, &par, &gs);
}

/* ---- dispatch ------------------------------------------------------------------- */

struct val eval(struct ev *ev, struct node *n)
{
	struct val v = {0};
	ev_tick(ev);
	if (qstack_low(ev->stack_floor))
		ev_fail(ev, QUERY_ERR_EXECUTION,
			"query nested too deeply for the stack of the thread evaluating it");
	switch (n->k) {
	case N_NUM:
		v = scalar_val(ev);
		for (size_t k = 0; k < ev->nsteps; k++)
			v.sc[k] = n->num;
		return v;
	case N_STR:
		v.type = T_STRING;
		v.str = n->str;
		return v;
	case N_PAREN:
		return eval(ev, n->a);
	case N_VSEL:
		return eval_vsel_as(ev, n, false);
	case N_MSEL:
		return eval_msel(ev, n);
	case N_SUBQ:
		return eval_subquery(ev, n);
	case N_UNARY:
		v = eval(ev, n->a);
		if (v.type == T_SCALAR) {
			for (size_t k = 0; k < ev->nsteps; k++)
				v.sc[k] = -v.sc[k];
			return v;
		} else {
			struct outb o = {0};
			for (size_t i = 0; i < v.m.n; i++) {
				struct ser *s = &v.m.s[i];
				size_t idx = outb_find(ev, &o, qlabels_drop_name(ev->a, s->ls));
				for (uint32_t j = 0; j < s->n; j++)
					outb_put(ev, &o, idx, s->p[j].t, -s->p[j].v);
			}
			v.m = o.m;
			return v;
		}
	case N_BIN:
		return eval_bin(ev, n);
	case N_AGG:
		return eval_agg(ev, n);
	case N_CALL:
		return eval_call(ev, n);
	}
	return v;
}

/* ---- entry points ------------------------------------------------------------------ */

static struct scratch *scratch_of(struct ev *ev)
{
	return (struct scratch *)ev->scratch;
}

static int result_series_cmp(const void *a, const void *b)
{
	const struct query_series *x = a, *y = b;
	size_t n = x->nlabels < y->nlabels ? x->nlabels : y->nlabels;
	for (size_t i = 0; i < n; i++) {
		int c = strcmp(x->labels[i].name, y->labels[i].name);
		if (c)
			return c;
		if ((c = strcmp(x->labels[i].value, y->labels[i].value)))
			return c;
	}
	return x->nlabels < y->nlabels ? -1 : x->nlabels > y->nlabels;
}

static void fill_series(struct qarena *ra, struct query_series *qs, const struct ser *s)
{
	struct pw_label *l = qarena_alloc(ra, (s->ls->n + 1) * sizeof *l);
	for (uint32_t i = 0; i < s->ls->n; i++) {
		l[i].name = qarena_strdup(ra, s->ls->l[i].name);
		l[i].value = qarena_strdup(ra, s->ls->l[i].value);
	}
	qs->labels = l;
	qs->nlabels = s->ls->n;
	qs->pts = (const struct query_point *)s->p;
	qs->n = s->n;
}

/* the node a window evaluation evaluates: x[range] or (x)[range:step] */
static struct node *window_node(struct qarena *a, const struct query_expr *x, int64_t range,
				int64_t step)
{
	struct node *w = qarena_alloc(a, sizeof *w), *in = x->root;
	while (in->k == N_PAREN)
		in = in->a;
	w->type = T_MATRIX;
	w->pos = x->root->pos;
	w->end = x->root->end;
	w->range = range;
	if (query_expr_is_selector(x)) {
		w->k = N_MSEL;
		w->a = in;
	} else {
		w->k = N_SUBQ;
		w->a = x->root;
		w->step = step;
	}
	return w;
}

static int run(struct store *st, const struct query_opts *o, const struct query_expr *x,
	       int64_t start, int64_t end, int64_t step, bool range, int64_t window,
	       int64_t wstep, struct query_result **out, struct query_error *err)
{
	struct qarena *ra = xcalloc(1, sizeof *ra);
	struct ev ev = {0};
	jmp_buf jb;
	struct scratch sc = {0};
	struct query_result *r;
	volatile int rc = 0;
	struct val v;
	struct query_mem own = {.limit = o && o->max_bytes ? o->max_bytes : QUERY_DEFAULT_MAX_BYTES};

	*out = NULL;
	if (err) {
		err->type = QUERY_OK;
		err->msg = NULL;
		err->pos = -1;
	}
	ev.a = ra;
	ev.start = start;
	ev.end = end;
	ev.interval = step > 0 ? step : 1;
	if (end < start ||
	    ((uint64_t)end - (uint64_t)start) / (uint64_t)ev.interval >=
		    (o && o->max_samples ? o->max_samples : 50000000)) {
		free(ra);
		if (err) {
			err->type = QUERY_ERR_EXECUTION;
			err->msg = xstrdup("query processing would load too many samples into memory in query execution");
		}
		return PW_EINVAL;
	}
	ev.nsteps = (size_t)(((uint64_t)end - (uint64_t)start) / (uint64_t)ev.interval) + 1;
	ev.qstart = start;
	ev.qend = end;
	ev.lookback = o && o->lookback_ms > 0 ? o->lookback_ms : 5 * 60 * 1000;
	ev.ignore_stale = o && o->ignore_stale;
	ev.threads = o && o->threads ? o->threads : query_threads_default();
	if (ev.threads > QUERY_MAX_THREADS)
		ev.threads = QUERY_MAX_THREADS;
	ev.max_samples = o && o->max_samples ? o->max_samples : 50000000;
	if (o && o->deadline_ns)
		ev.deadline_ns = o->deadline_ns;
	else
		ev.deadline_ns = qsat_add(pw_mono_ns(),
					  o && o->timeout_ms > 0 && o->timeout_ms < INT64_MAX / 1000000
						  ? o->timeout_ms * (int64_t)1000000
						  : (int64_t)120000 * 1000000);
	ev.mem = o ? o->mem : NULL;
	ev.jb = &jb;
	ev.scratch = &sc;
	ev.root = &ev;
	ev.stack_floor = qstack_floor();
	/* every block of the arena, and the scratch buffer, is charged to
	 * the caller's account or to one of max_bytes for this evaluation */
	ra->mem = o && o->mem ? o->mem : &own;
	ra->refuse = ev_refuse;
	ra->ctx = &ev;
	if ((rc = store_snap_begin(st, &ev.snap)) != 0) {
		free(ra);
		if (err) {
			err->type = QUERY_ERR_INTERNAL;
			err->msg = xasprintf("cannot read the store: %s", pw_strerror(rc));
		}
		return rc;
	}
	ev.it = store_iter_new(ev.snap);
	if (setjmp(jb)) {
		if (ev.cleanup)
			ev.cleanup(ev.cleanup_arg);
		store_iter_free(ev.it);
		store_snap_end(ev.snap);
		free(sc.p);
		qarena_free(ra);
		free(ra);
		if (err) {
			err->type = ev.etype;
			err->msg = ev.emsg;
		} else {
			free(ev.emsg);
		}
		return ev.etype == QUERY_ERR_INTERNAL ? PW_ESTORE : PW_EINVAL;
	}
	v = eval(&ev, window > 0 ? window_node(ra, x, window, wstep) : x->root);
	r = qarena_alloc(ra, sizeof *r);
	r->mem = ra;
	r->t = start;
	switch (v.type) {
	case T_SCALAR:
		if (range) {
			struct ser s = {.ls = qlabels_make(ra, NULL, 0)};
			ser_reserve(&ev, &s, ev.nsteps);
			for (size_t k = 0; k < ev.nsteps; k++)
				ser_push(&ev, &s, step_ts(&ev, k), v.sc[k]);
			r->type = QUERY_MATRIX;
			r->series = qarena_alloc(ra, sizeof *r->series);
			r->nseries = 1;
			fill_series(ra, &r->series[0], &s);
		} else {
			r->type = QUERY_SCALAR;
			r->scalar = v.sc[0];
		}
		break;
	case T_STRING:
		r->type = QUERY_STRING;
		r->str = qarena_strdup(ra, v.str);
		break;
	default:
		r->type = v.type == T_MATRIX || range ? QUERY_MATRIX : QUERY_VECTOR;
		r->series = qarena_alloc(ra, (v.m.n + 1) * sizeof *r->series);
		for (size_t i = 0; i < v.m.n; i++) {
			ev_tick(&ev);
			if (v.m.s[i].n)
				fill_series(ra, &r->series[r->nseries++], &v.m.s[i]);
		}
		if (r->type == QUERY_MATRIX)
			qsort(r->series, r->nseries, sizeof *r->series, result_series_cmp);
		break;
	}
	ev_check_time(&ev);
	/* the result may outlive the account: nothing more is charged */
	ra->mem = NULL;
	ra->refuse = NULL;
	ra->ctx = NULL;
	store_iter_free(ev.it);
	store_snap_end(ev.snap);
	free(sc.p);
	*out = r;
	return 0;
}

int query_exec_instant(struct store *st, const struct query_opts *o, const struct query_expr *x,
		       int64_t t, struct query_result **out, struct query_error *err)
{
	return run(st, o, x, t, t, 0, false, 0, 0, out, err);
}

int query_exec_range(struct store *st, const struct query_opts *o, const struct query_expr *x,
		     int64_t start, int64_t end, int64_t step, struct query_result **out,
		     struct query_error *err)
{
	*out = NULL;
	if (x->root->type != T_SCALAR && x->root->type != T_VECTOR) {
		if (err) {
			err->type = QUERY_ERR_BAD_DATA;
			err->pos = -1;
			err->msg = xasprintf("invalid expression type \"%s\" for range query, must be Scalar or instant Vector",
					     x->root->type == T_MATRIX ? "range vector" : "string");
		}
		return PW_EINVAL;
	}
	if (step <= 0 || end < start) {
		if (err) {
			err->type = QUERY_ERR_BAD_DATA;
			err->pos = -1;
			err->msg = xstrdup(step <= 0 ? "zero or negative query resolution step widths are not accepted. Try a positive integer"
						     : "end timestamp must not be before start time");
		}
		return PW_EINVAL;
	}
	return run(st, o, x, start, end, step, true, 0, 0, out, err);
}

int query_exec_window(struct store *st, const struct query_opts *o, const struct query_expr *x,
		      int64_t t, int64_t range_ms, int64_t step_ms, struct query_result **out,
		      struct query_error *err)
{
	*out = NULL;
	if (x->root->type != T_VECTOR || range_ms <= 0) {
		if (err) {
			err->type = QUERY_ERR_BAD_DATA;
			err->pos = -1;
			err->msg = xstrdup(range_ms <= 0 ? "a window needs a positive range"
							 : "a window reads an instant vector expression");
		}
		return PW_EINVAL;
	}
	return run(st, o, x, t, t, 0, false, range_ms, step_ms, out, err);
}

int query_instant(struct store *st, const struct query_opts *o, const char *q, int64_t t,
		  struct query_result **out, struct query_error *err)
{
	struct query_expr *x;
	int rc;
	*out = NULL;
	if ((rc = query_parse(q, &x, err)) != 0)
		return rc;
	rc = query_exec_instant(st, o, x, t, out, err);
	query_expr_free(x);
	return rc;
}

int query_range(struct store *st, const struct query_opts *o, const char *q, int64_t start,
		int64_t end, int64_t step, struct query_result **out, struct query_error *err)
{
	struct query_expr *x;
	int rc;
	*out = NULL;
	if ((rc = query_parse(q, &x, err)) != 0)
		return rc;
	rc = query_exec_range(st, o, x, start, end, step, out, err);
	query_expr_free(x);
	return rc;
}

void query_result_free(struct query_result *r)
{
	struct qarena *a;
	if (!r)
		return;
	a = r->mem;
	qarena_free(a);
	free(a);
}
