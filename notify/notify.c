/*
 * notify.c — from alerts to notifications.
 *
 * Every step: take the rules' firing and resolved alerts, walk the routing
 * tree (Alertmanager's: a node that matches hands the alert to the first
 * matching child, or to every matching child while they say continue, or
 * keeps it when no child matches), put each into its aggregation group
 * (route, receiver, group_by values), and flush the groups that are due:
 * a new group waits group_wait (not when its alert is older than that),
 * then is looked at every group_interval, and notifies when the
 * notification log says something changed (a new firing alert, a newly
 * resolved one with send_resolved, all resolved) or repeat_interval has
 * passed. Inhibited alerts are left out; a muted route sends nothing.
 *
 * A notification is rendered once and written to the outbox together with
 * the notification log entry (one transaction); outbox.c delivers it.
 *
 * Alertmanager receivers skip grouping: routed alerts are posted to
 * /api/v2/alerts when they fire or resolve and again every resend_delay,
 * with endsAt as Prometheus sets it (4 x max(resend_delay, interval)).
 */
#include "notify_int.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUBSYS "notify"

/* ---- alerts ----------------------------------------------------------------- */

struct nalert *nalert_copy(const struct nalert *a)
{
	struct nalert *c = xmalloc(sizeof *c);
	*c = *a;
	c->labels = pw_lset_ref(a->labels);
	c->ann = pw_lset_ref(a->ann);
	c->generator_url = a->generator_url ? xstrdup(a->generator_url) : NULL;
	return c;
}

void nalert_free(struct nalert *a)
{
	if (!a)
		return;
	pw_lset_unref(a->labels);
	pw_lset_unref(a->ann);
	free(a->generator_url);
	free(a);
}

/* ---- matchers, routes, inhibition, time intervals ---------------------------- */

static int matchers_compile(char **src, size_t n, struct nmatchers *out, char **cause)
{
	struct pw_buf t;
	out->m = xcalloc(n + 1, sizeof *out->m);
	out->n = 0;
	pw_buf_init(&t, 0);
	pw_buf_putc(&t, '{');
	for (size_t i = 0; i < n; i++) {
		struct conf_matcher cm;
		char *e = NULL;
		static const char *const ops[] = {"=", "!=", "=~", "!~"};
		static const enum store_match_type types[] = {STORE_MATCH_EQ, STORE_MATCH_NE,
							      STORE_MATCH_RE, STORE_MATCH_NRE};
		if (conf_matcher_parse(src[i], &cm, &e) != 0) {
			*cause = e;
			pw_buf_free(&t);
			return PW_EINVAL;
		}
		if (store_matcher_init(&out->m[out->n], types[cm.op], cm.name, cm.value, cause) != 0) {
			conf_matcher_free(&cm);
			pw_buf_free(&t);
			return PW_EINVAL;
		}
		out->n++;
		pw_buf_printf(&t, "%s%s%s", i ? "," : "", cm.name, ops[cm.op]);
		pw_buf_json_string(&t, cm.value);
		conf_matcher_free(&cm);
	}
	pw_buf_putc(&t, '}');
	out->text = pw_buf_take(&t);
	return 0;
}

static void matchers_free(struct nmatchers *m)
{
	for (size_t i = 0; i < m->n; i++)
		store_matcher_free(&m->m[i]);
	free(m->m);
	free(m->text);
}

static bool matchers_match(const struct nmatchers *m, const struct nalert *a)
{
	for (size_t i = 0; i < m->n; i++) {
		const char *v = nalert_label(a, m->m[i].name);
		if (!store_matcher_matches(&m->m[i], v ? v : ""))
			return false;
	}
	return true;
}

/* ---- compile ---------------------------------------------------------------- */

static size_t recv_index(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->notify.nreceivers; i++)
		if (strcmp(c->notify.receivers[i].name, name) == 0)
			return i;
	return 0;
}

static size_t *interval_indexes(struct notify *n, char **names, size_t k)
{
	size_t *o = xcalloc(k + 1, sizeof *o);
	for (size_t i = 0; i < k; i++) {
		o[i] = SIZE_MAX;
		for (size_t j = 0; j < n->nti; j++)
			if (strcmp(n->ti[j].name, names[i]) == 0)
				o[i] = j;
	}
	return o;
}

static int route_compile(struct notify *n, struct nroute *r, const struct conf_route *c,
			 const char *parent_key, char **cause)
{
	int rc;
	r->c = c;
	if ((rc = matchers_compile(c->matchers, c->nmatchers, &r->m, cause)) != 0)
		return rc;
	r->key = parent_key ? xasprintf("%s/%s", parent_key, r->m.text) : xstrdup("{}");
	r->recv = c->receiver ? recv_index(n->c, c->receiver) : 0;
	r->mute = interval_indexes(n, c->mute_time_intervals, c->nmute);
	r->active = interval_indexes(n, c->active_time_intervals, c->nactive);
	r->kids = xcalloc(c->nroutes + 1, sizeof *r->kids);
	r->nkids = c->nroutes;
	for (size_t i = 0; i < c->nroutes; i++)
		if ((rc = route_compile(n, &r->kids[i], &c->routes[i], r->key, cause)) != 0)
			return rc;
	return 0;
}

static void route_free(struct nroute *r)
{
	for (size_t i = 0; i < r->nkids; i++)
		route_free(&r->kids[i]);
	free(r->kids);
	matchers_free(&r->m);
	free(r->key);
	free(r->mute);
	free(r->active);
}

static int ranges(char **v, size_t n, int kind, int out[8][2], size_t *nout)
{
	*nout = 0;
	for (size_t i = 0; i < n && *nout < 8; i++) {
		if (conf_range_parse(v[i], kind, &out[*nout][0], &out[*nout][1]) != 0)
			return PW_EINVAL;
		(*nout)++;
	}
	return 0;
}

static int intervals_compile(struct notify *n, char **cause)
{
	const struct conf_notify *cn = &n->c->notify;
	n->ti = xcalloc(cn->ntime_intervals + 1, sizeof *n->ti);
	n->nti = cn->ntime_intervals;
	for (size_t i = 0; i < cn->ntime_intervals; i++) {
		const struct conf_time_interval *ci = &cn->time_intervals[i];
		n->ti[i].name = ci->name;
		n->ti[i].e = xcalloc(ci->ntime_intervals + 1, sizeof *n->ti[i].e);
		n->ti[i].n = ci->ntime_intervals;
		for (size_t j = 0; j < ci->ntime_intervals; j++) {
			const struct conf_time_entry *ce = &ci->time_intervals[j];
			struct tentry *te = &n->ti[i].e[j];
			char err[256];
			const char *loc = ce->location ? ce->location : n->c->global.timezone;
			for (size_t t = 0; t < ce->ntimes && te->ntimes < 8; t++) {
				if (conf_clock_parse(ce->times[t].start_time, &te->times[te->ntimes][0]) ||
				    conf_clock_parse(ce->times[t].end_time, &te->times[te->ntimes][1])) {
					*cause = xasprintf("time interval %s: bad time of day", ci->name);
					return PW_EINVAL;
				}
				te->ntimes++;
			}
			if (ranges(ce->weekdays, ce->nweekdays, 0, te->wd, &te->nwd) ||
			    ranges(ce->days_of_month, ce->ndays_of_month, 1, te->dom, &te->ndom) ||
			    ranges(ce->months, ce->nmonths, 2, te->mon, &te->nmon)) {
				*cause = xasprintf("time interval %s: bad weekday, day or month", ci->name);
				return PW_EINVAL;
			}
			if (pw_tz_load(loc ? loc : "UTC", &te->tz, err, sizeof err) != 0) {
				*cause = xasprintf("time interval %s: %s", ci->name, err);
				return PW_EINVAL;
			}
		}
	}
	return 0;
}

static bool in_ranges(int v, int r[8][2], size_t n)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (v >= r[i][0] && v <= r[i][1])
			return true;
	return false;
}

/* Alertmanager's timeinterval.ContainsTime */
static bool interval_contains(const struct tinterval *ti, int64_t ms)
{
	for (size_t i = 0; i < ti->n; i++) {
		const struct tentry *e = &ti->e[i];
		int64_t local = ms / 1000 + pw_tz_offset(e->tz, ms / 1000);
		int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
		int mins = (int)((local - days * 86400) / 60);
		int wd = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
		int64_t y;
		unsigned m, d;
		pw_civil_from_days(days, &y, &m, &d);
		bool ok = true;
		if (e->ntimes) {
			ok = false;
			for (size_t t = 0; t < e->ntimes; t++)
				if (mins >= e->times[t][0] && mins < e->times[t][1])
					ok = true;
		}
		ok = ok && in_ranges(wd, (int(*)[2])e->wd, e->nwd) &&
		     in_ranges((int)m, (int(*)[2])e->mon, e->nmon);
		if (ok && e->ndom) {
			static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
			int len = mdays[m - 1] +
				  (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
			bool any = false;
			for (size_t r = 0; r < e->ndom; r++) {
				int lo = e->dom[r][0] < 0 ? len + 1 + e->dom[r][0] : e->dom[r][0];
				int hi = e->dom[r][1] < 0 ? len + 1 + e->dom[r][1] : e->dom[r][1];
				if ((int)d >= lo && (int)d <= hi)
					any = true;
			}
			ok = any;
		}
		if (ok)
			return true;
	}
	return false;
}

/* is a route muted at ms: inside a mute interval, or outside all its
 * active intervals */
static bool route_muted(const struct notify *n, const struct nroute *r, int64_t ms)
{
	for (size_t i = 0; i < r->c->nmute; i++)
		if (r->mute[i] != SIZE_MAX && interval_contains(&n->ti[r->mute[i]], ms))
			return true;
	if (r->c->nactive) {
		for (size_t i = 0; i < r->c->nactive; i++)
			if (r->active[i] != SIZE_MAX && interval_contains(&n->ti[r->active[i]], ms))
				return false;
		return true;
	}
	return false;
}

/* ---- new / free ------------------------------------------------------------- */

int notify_new(const struct conf *c, struct store *st, struct pw_slot *views, struct notify **out,
	       char **cause)
{
	struct notify *n = xcalloc(1, sizeof *n);
	const struct conf_notify *cn = &c->notify;
	int rc = 0;

	*out = NULL;
	*cause = NULL;
	n->c = c;
	n->st = st;
	n->views = views;
	n->next_id = 1;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	if ((rc = intervals_compile(n, cause)) != 0)
		goto fail;
	if (cn->nreceivers && (rc = route_compile(n, &n->root, &cn->route, NULL, cause)) != 0)
		goto fail;
	n->inh = xcalloc(cn->ninhibit + 1, sizeof *n->inh);
	for (size_t i = 0; i < cn->ninhibit; i++, n->ninh++) {
		const struct conf_inhibit *ci = &cn->inhibit_rules[i];
		if ((rc = matchers_compile(ci->source_matchers, ci->nsource, &n->inh[i].src, cause)) ||
		    (rc = matchers_compile(ci->target_matchers, ci->ntarget, &n->inh[i].dst, cause))) {
			n->ninh++;
			goto fail;
		}
		n->inh[i].equal = ci->equal;
		n->inh[i].nequal = ci->nequal;
	}
	n->lane_of = xcalloc(cn->nreceivers + 1, sizeof *n->lane_of);
	n->am = xcalloc(cn->nreceivers + 1, sizeof *n->am);
	n->nam = xcalloc(cn->nreceivers + 1, sizeof *n->nam);
	for (size_t i = 0; i < cn->nreceivers; i++) {
		const struct conf_receiver *rc2 = &cn->receivers[i];
		size_t k = rc2->kind == CONF_RECV_ALERTMANAGER ? rc2->alertmanager.nurls : 1;
		n->lane_of[i] = n->nlanes;
		n->lanes = xreallocarray(n->lanes, n->nlanes + k, sizeof *n->lanes);
		for (size_t u = 0; u < k; u++) {
			struct lane *l = &n->lanes[n->nlanes++];
			memset(l, 0, sizeof *l);
			l->n = n;
			l->recv = i;
			l->url = u;
			l->name = rc2->kind == CONF_RECV_ALERTMANAGER && k > 1
					  ? xasprintf("%s[%zu]", rc2->name, u)
					  : xstrdup(rc2->name);
			l->target = xstrdup(rc2->kind == CONF_RECV_EMAIL     ? rc2->email.smarthost
					    : rc2->kind == CONF_RECV_WEBHOOK ? rc2->webhook.url
									     : rc2->alertmanager.urls[u]);
		}
	}
	outbox_load(n);
	n->digest_next = xcalloc(cn->ndigests + 1, sizeof *n->digest_next);
	*out = n;
	return 0;
fail:
	notify_free(n);
	return rc;
}

void notify_start(struct notify *n)
{
	for (size_t i = 0; i < n->nlanes; i++) {
		if (pthread_create(&n->lanes[i].th, NULL, lane_main, &n->lanes[i]) == 0)
			n->lanes[i].started = true;
		else
			log_error(SUBSYS, "receiver %s: cannot start its delivery thread",
				  n->lanes[i].name);
	}
}

static void group_free(struct ngroup *g)
{
	for (size_t i = 0; i < g->n; i++)
		nalert_free(g->a[i]);
	free(g->a);
	free(g->done);
	pw_lset_unref(g->gl);
	free(g->key);
	free(g->gkey);
	free(g);
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
	for (size_t i = 0; i < n->nlanes; i++) {
		if (n->lanes[i].started)
			pthread_join(n->lanes[i].th, NULL);
		free(n->lanes[i].q);
		free(n->lanes[i].name);
		free(n->lanes[i].target);
		free(n->lanes[i].last_error);
	}
	free(n->lanes);
	if (n->root.key)
		route_free(&n->root);
	for (size_t i = 0; i < n->ninh; i++) {
		matchers_free(&n->inh[i].src);
		matchers_free(&n->inh[i].dst);
	}
	free(n->inh);
	for (size_t i = 0; i < n->nti; i++) {
		for (size_t j = 0; j < n->ti[i].n; j++)
			pw_tz_free(n->ti[i].e[j].tz);
		free(n->ti[i].e);
	}
	free(n->ti);
	for (size_t i = 0; i < n->ng; i++)
		group_free(n->g[i]);
	free(n->g);
	for (size_t i = 0; n->am && i < n->c->notify.nreceivers; i++)
		free(n->am[i]);
	free(n->am);
	free(n->nam);
	free(n->lane_of);
	free(n->digest_next);
	for (size_t i = 0; i < n->ncur; i++)
		nalert_free(n->cur[i]);
	free(n->cur);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

/* ---- the step --------------------------------------------------------------- */

struct snap_ctx {
	struct notify *n;
	struct nalert **v;
	size_t nv, cap;
};

/* an alert of the view as notifications carry it: external labels added,
 * as Prometheus adds them to alerts it sends */
static void snap_alert(struct snap_ctx *s, const struct view *v, const struct view_alert *va)
{
	const struct conf *c = s->n->c;
	const struct view_meta_rule *mr = &v->meta->rules[va->rule];
	const struct conf_kvs *ext = &c->global.external_labels;
	struct nalert *a;
	if (va->state == VIEW_PENDING)
		return; /* pending alerts are not notified */
	a = xcalloc(1, sizeof *a);
	if (ext->n) {
		/* Prometheus' rule: an alert's own label wins over an external one */
		struct pw_lbuild b;
		pw_lbuild_init(&b);
		for (size_t i = 0; i < ext->n; i++)
			pw_lbuild_set(&b, ext->v[i].name, ext->v[i].value);
		pw_lbuild_add(&b, va->labels->l, va->labels->n, NULL);
		a->labels = pw_lbuild_lset(&b);
		pw_lbuild_free(&b);
	} else {
		a->labels = pw_lset_ref(va->labels);
	}
	a->ann = va->annotations ? pw_lset_ref(va->annotations) : pw_lset_new(NULL, 0);
	a->firing = va->state == VIEW_FIRING;
	a->starts_ms = va->active_at;
	a->ends_ms = a->firing ? 0 : va->resolved_at;
	a->value = va->value;
	{
		struct pw_buf u;
		pw_buf_init(&u, 0);
		pw_buf_puts(&u, c->notify.external_url ? c->notify.external_url : "");
		if (mr->query) {
			pw_buf_puts(&u, "/graph?g0.expr=");
			url_escape(&u, mr->query);
			pw_buf_puts(&u, "&g0.tab=1");
		} else {
			pw_buf_puts(&u, "/api/v1/kpis");
		}
		a->generator_url = pw_buf_take(&u);
	}
	a->interval_ms = v->meta->groups[mr->group].interval_ms;
	if (s->nv == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xreallocarray(s->v, s->cap, sizeof *s->v);
	}
	s->v[s->nv++] = a;
}

/* AM's inhibitor: a firing source alert with the same equal labels mutes a
 * target (an alert never mutes itself) */
static bool inhibited(const struct notify *n, const struct nalert *a)
{
	if (!a->firing)
		return false;
	for (size_t r = 0; r < n->ninh; r++) {
		const struct inhibit *ih = &n->inh[r];
		if (!matchers_match(&ih->dst, a))
			continue;
		for (size_t i = 0; i < n->ncur; i++) {
			const struct nalert *s = n->cur[i];
			if (s == a || !s->firing || !matchers_match(&ih->src, s))
				continue;
			bool eq = true;
			for (size_t e = 0; e < ih->nequal && eq; e++) {
				const char *x = nalert_label(a, ih->equal[e]), *y = nalert_label(s, ih->equal[e]);
				eq = strcmp(x ? x : "", y ? y : "") == 0;
			}
			if (eq)
				return true;
		}
	}
	return false;
}

/* the routes an alert reaches (Alertmanager's Route.Match) */
static void route_match(struct nroute *r, const struct nalert *a, struct nroute ***out,
			size_t *nout)
{
	size_t before = *nout;
	for (size_t i = 0; i < r->nkids; i++) {
		struct nroute *k = &r->kids[i];
		if (!matchers_match(&k->m, a))
			continue;
		route_match(k, a, out, nout);
		if (!k->c->cont)
			break;
	}
	if (*nout == before) {
		*out = xreallocarray(*out, *nout + 1, sizeof **out);
		(*out)[(*nout)++] = r;
	}
}

/* the group's labels (group_by's values; "...": every label) and
 * Alertmanager's groupKey part of them, LabelSet.String(): {a="x", b="y"} */
static struct pw_lset *group_labels_of(const struct nroute *r, const struct nalert *a,
				       struct pw_buf *key)
{
	const struct conf_route *c = r->c;
	struct pw_lset *gl;
	if (c->ngroup_by == 1 && strcmp(c->group_by[0], "...") == 0) {
		gl = pw_lset_ref(a->labels);
	} else {
		struct pw_lbuild b;
		pw_lbuild_init(&b);
		for (size_t i = 0; i < c->ngroup_by; i++)
			pw_lbuild_set(&b, c->group_by[i], nalert_label(a, c->group_by[i]));
		gl = pw_lbuild_lset(&b);
		pw_lbuild_free(&b);
	}
	pw_buf_putc(key, '{');
	for (size_t i = 0; i < gl->n; i++) {
		pw_buf_printf(key, "%s%s=", i ? ", " : "", gl->l[i].name);
		pw_buf_json_string(key, gl->l[i].value);
	}
	pw_buf_putc(key, '}');
	return gl;
}

static struct ngroup *group_get(struct notify *n, struct nroute *r, const struct nalert *a,
				int64_t now)
{
	struct pw_buf gk;
	struct pw_lset *gl;
	const char *rname = n->c->notify.receivers[r->recv].name;
	pw_buf_init(&gk, 0);
	pw_buf_printf(&gk, "%s:", r->key);
	gl = group_labels_of(r, a, &gk);
	char *key = xasprintf("n/%s\x1f%s", rname, gk.data);
	for (size_t i = 0; i < n->ng; i++)
		if (n->g[i]->route == r && strcmp(n->g[i]->key, key) == 0) {
			free(key);
			pw_lset_unref(gl);
			pw_buf_free(&gk);
			return n->g[i];
		}
	struct ngroup *g = xcalloc(1, sizeof *g);
	g->key = key;
	g->gkey = pw_buf_take(&gk);
	g->route = r;
	g->gl = gl;
	g->next_flush = now + r->c->group_wait_ms;
	n->g = xreallocarray(n->g, n->ng + 1, sizeof *n->g);
	n->g[n->ng++] = g;
	return g;
}

static int fp_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* the notification log entry of a group: what was last notified */
struct nflog {
	uint64_t *firing, *resolved;
	size_t nf, nr;
	int64_t ts;
	bool have;
};

static bool fp_in(const uint64_t *v, size_t n, uint64_t fp)
{
	return bsearch(&fp, v, n, sizeof *v, fp_cmp) != NULL;
}

static void nflog_load(struct notify *n, const struct ngroup *g, struct nflog *e)
{
	void *v;
	size_t vn;
	json_error_t je;
	memset(e, 0, sizeof *e);
	if (store_rec_get(n->st, g->key, strlen(g->key), &v, &vn) != 0)
		return;
	json_t *o = json_loadb(v, vn, 0, &je);
	free(v);
	if (!o)
		return;
	json_t *f = json_object_get(o, "firing"), *r = json_object_get(o, "resolved");
	e->firing = xcalloc(json_array_size(f) + 1, sizeof *e->firing);
	e->resolved = xcalloc(json_array_size(r) + 1, sizeof *e->resolved);
	for (size_t i = 0; i < json_array_size(f); i++)
		e->firing[e->nf++] = strtoull(json_is_string(json_array_get(f, i)) ? json_string_value(json_array_get(f, i)) : "0", NULL, 16);
	for (size_t i = 0; i < json_array_size(r); i++)
		e->resolved[e->nr++] =
			strtoull(json_is_string(json_array_get(r, i)) ? json_string_value(json_array_get(r, i)) : "0", NULL, 16);
	qsort(e->firing, e->nf, sizeof *e->firing, fp_cmp);
	qsort(e->resolved, e->nr, sizeof *e->resolved, fp_cmp);
	e->ts = (int64_t)json_integer_value(json_object_get(o, "ts"));
	e->have = true;
	json_decref(o);
}

static void nflog_free(struct nflog *e)
{
	free(e->firing);
	free(e->resolved);
}

static int alert_order(const void *x, const void *y)
{
	const struct nalert *a = *(struct nalert *const *)x, *b = *(struct nalert *const *)y;
	if (a->firing != b->firing)
		return a->firing ? -1 : 1;
	return pw_lset_cmp(a->labels, b->labels);
}

static void flush_group(struct notify *n, struct ngroup *g, int64_t now)
{
	const struct nroute *r = g->route;
	const struct conf_receiver *rc = &n->c->notify.receivers[r->recv];
	struct nalert **sel = xcalloc(g->n + 1, sizeof *sel);
	uint64_t *ff = xcalloc(g->n + 1, sizeof *ff), *rf = xcalloc(g->n + 1, sizeof *rf);
	size_t ns = 0, nf = 0, nr = 0;
	struct nflog e;
	bool update = false;

	g->flushed = true;
	g->next_flush = now + r->c->group_interval_ms;
	if (route_muted(n, r, now)) {
		log_debug(SUBSYS, "group %s muted now", g->gkey);
		goto out_nolog;
	}
	for (size_t i = 0; i < g->n; i++) {
		struct nalert *a = g->a[i];
		if (a->firing) {
			if (inhibited(n, a))
				continue;
			ff[nf++] = nalert_fp(a);
			sel[ns++] = a;
		} else {
			rf[nr++] = nalert_fp(a);
			if (rc->send_resolved)
				sel[ns++] = a;
		}
	}
	qsort(ff, nf, sizeof *ff, fp_cmp);
	qsort(rf, nr, sizeof *rf, fp_cmp);
	nflog_load(n, g, &e);
	/* Alertmanager's DedupStage.needsUpdate */
	if (!e.have) {
		update = nf > 0;
	} else {
		bool firing_subset = true, resolved_subset = true;
		for (size_t i = 0; i < nf; i++)
			firing_subset &= fp_in(e.firing, e.nf, ff[i]);
		for (size_t i = 0; i < nr; i++)
			resolved_subset &= fp_in(e.resolved, e.nr, rf[i]);
		if (!firing_subset)
			update = true;
		else if (nf == 0)
			update = e.nf > 0;
		else if (rc->send_resolved && !resolved_subset)
			update = true;
		else
			update = e.ts + r->c->repeat_interval_ms <= now;
	}
	if (update) {
		json_t *log = json_object(), *fa = json_array(), *ra = json_array();
		char hex[20];
		for (size_t i = 0; i < nf; i++) {
			snprintf(hex, sizeof hex, "%016llx", (unsigned long long)ff[i]);
			json_array_append_new(fa, json_string(hex));
		}
		for (size_t i = 0; i < nr; i++) {
			snprintf(hex, sizeof hex, "%016llx", (unsigned long long)rf[i]);
			json_array_append_new(ra, json_string(hex));
		}
		json_object_set_new(log, "firing", fa);
		json_object_set_new(log, "resolved", ra);
		json_object_set_new(log, "ts", json_integer(now));
		char *logv = json_dumps(log, JSON_COMPACT);
		json_decref(log);
		struct store_rec_op op = {g->key, strlen(g->key), logv, strlen(logv)};
		if (nf == 0) /* all resolved: the group ends with this notification */
			op.val = NULL, op.vlen = 0;
		qsort(sel, ns, sizeof *sel, alert_order);
		size_t nfiring = 0;
		while (nfiring < ns && sel[nfiring]->firing)
			nfiring++;
		struct nmsg m = {.rc = rc, .group_key = g->gkey, .group_labels = g->gl,
				 .alerts = sel, .n = ns, .nfiring = nfiring,
				 .external_url = n->c->notify.external_url,
				 .dashboard_url = n->c->notify.dashboard_url, .now_ms = now,
				 .timezone = n->c->global.timezone};
		struct lane *l = &n->lanes[n->lane_of[r->recv]];
		if (ns == 0) {
			/* nothing this receiver wants (only resolved, send_resolved off):
			 * only the log changes */
			store_rec_write(n->st, &op, 1, NULL);
		} else {
			json_t *rec = json_object();
			json_object_set_new(rec, "group", json_string(g->gkey));
			json_object_set_new(rec, "alerts", json_integer((json_int_t)ns));
			json_object_set_new(rec, "firing", json_integer((json_int_t)nfiring));
			if (rc->kind == CONF_RECV_EMAIL) {
				char mid[160], *subject = NULL;
				pthread_mutex_lock(&n->lock);
				uint64_t seq = n->next_id;
				pthread_mutex_unlock(&n->lock);
				snprintf(mid, sizeof mid, "<%lld.%llu.%016llx@%s>", (long long)now,
					 (unsigned long long)seq,
					 (unsigned long long)pw_hash64(g->key, strlen(g->key)),
					 rc->email.hello ? rc->email.hello : "pacewatch");
				char *msg = render_email(&m, mid, &subject);
				json_object_set_new(rec, "kind", json_string("email"));
				json_object_set_new(rec, "subject", json_string(subject));
				json_object_set_new(rec, "message_id", json_string(mid));
				json_object_set_new(rec, "payload", json_string(msg));
				free(msg);
				free(subject);
			} else {
				char *body = render_webhook(&m, (size_t)rc->webhook.max_alerts);
				json_object_set_new(rec, "kind", json_string("webhook"));
				json_object_set_new(rec, "payload", json_string(body));
				free(body);
			}
			outbox_enqueue(n, l, rec, &op, 1, false, now);
			json_decref(rec);
		}
		free(logv);
	}
	nflog_free(&e);
out_nolog:
	/* what was notified as resolved, or left the rules, leaves the group */
	{
		size_t w = 0;
		for (size_t i = 0; i < g->n; i++) {
			if (!g->a[i]->firing && (update || g->a[i]->gone)) {
				if (update && !g->a[i]->gone) {
					g->done = xreallocarray(g->done, g->ndone + 1, sizeof *g->done);
					g->done[g->ndone].fp = nalert_fp(g->a[i]);
					g->done[g->ndone++].ends = g->a[i]->ends_ms;
				}
				nalert_free(g->a[i]);
			} else
				g->a[w++] = g->a[i];
		}
		g->n = w;
	}
	free(sel);
	free(ff);
	free(rf);
}

/* Alertmanager receivers: Prometheus' sending rules */
static void am_step(struct notify *n, size_t ri, struct nalert **v, size_t nv, int64_t now)
{
	const struct conf_receiver *rc = &n->c->notify.receivers[ri];
	struct amstate *st = n->am[ri];
	size_t nst = n->nam[ri];
	struct nalert **send = xcalloc(nv + 1, sizeof *send);
	size_t ns = 0;
	bool pending = false;

	for (size_t u = 0; u < rc->alertmanager.nurls; u++)
		pending |= n->lanes[n->lane_of[ri] + u].nq > 0;
	for (size_t i = 0; i < nst; i++)
		st[i].seen = false;
	for (size_t i = 0; i < nv; i++) {
		struct nalert *a = v[i];
		struct amstate *s = NULL;
		for (size_t j = 0; j < nst; j++)
			if (st[j].fp == nalert_fp(a))
				s = &st[j];
		if (!s) {
			st = xreallocarray(st, nst + 1, sizeof *st);
			s = &st[nst++];
			memset(s, 0, sizeof *s);
			s->fp = nalert_fp(a);
		}
		s->seen = true;
		/* Alert.needsSending */
		bool need = (!a->firing && a->ends_ms > s->last_sent) ||
			    s->last_sent + rc->alertmanager.resend_delay_ms <= now || s->last_sent == 0;
		if (need || pending) {
			int64_t delta = rc->alertmanager.resend_delay_ms;
			if (a->interval_ms > delta)
				delta = a->interval_ms;
			s->last_sent = now;
			struct nalert *c = nalert_copy(a);
			c->valid_until_ms = now + 4 * delta;
			send[ns++] = c;
		}
	}
	/* forget alerts gone from the rules */
	size_t w = 0;
	for (size_t j = 0; j < nst; j++)
		if (st[j].seen)
			st[w++] = st[j];
	n->am[ri] = st;
	n->nam[ri] = w;
	if (ns) {
		char *body = render_am(send, ns);
		for (size_t u = 0; u < rc->alertmanager.nurls; u++) {
			json_t *rec = json_object();
			json_object_set_new(rec, "kind", json_string("alertmanager"));
			json_object_set_new(rec, "alerts", json_integer((json_int_t)ns));
			json_object_set_new(rec, "payload", json_string(body));
			/* a post carries the whole state when one is still queued,
			 * so it replaces what is queued */
			outbox_enqueue(n, &n->lanes[n->lane_of[ri] + u], rec, NULL, 0, pending, now);
			json_decref(rec);
		}
		free(body);
	}
	for (size_t i = 0; i < ns; i++)
		nalert_free(send[i]);
	free(send);
}

/* ---- digests ---------------------------------------------------------------- */

/* the first scheduled time after t */
static int64_t digest_after(const struct conf_digest *d, int64_t t)
{
	struct pw_tz *tz = NULL;
	char err[200];
	int at = 9 * 60;
	int wd[8][2];
	size_t nwd = 0;
	if (pw_tz_load(d->timezone ? d->timezone : "Asia/Shanghai", &tz, err, sizeof err) != 0)
		return INT64_MAX;
	conf_clock_parse(d->at ? d->at : "09:00", &at);
	ranges(d->weekdays, d->nweekdays, 0, wd, &nwd);
	int64_t local = t / 1000 + pw_tz_offset(tz, t / 1000);
	int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
	int64_t out = INT64_MAX;
	for (int64_t k = day - 1; k <= day + 8; k++) {
		int w = (int)(((k % 7) + 11) % 7);
		if (!in_ranges(w, wd, nwd))
			continue;
		int64_t y;
		unsigned m, dd;
		pw_civil_from_days(k, &y, &m, &dd);
		int64_t s = pw_tz_local_to_unix(tz, (int)y, (int)m, (int)dd, at / 60, at % 60, 0);
		if (s * 1000 > t) {
			out = s * 1000;
			break;
		}
	}
	pw_tz_free(tz);
	return out;
}

static void digest_key(const struct conf_digest *d, size_t i, char *k, size_t sz)
{
	snprintf(k, sz, "d/%zu\x1f%s", i, d->receiver);
}

static void digest_send(struct notify *n, size_t i, int64_t now)
{
	const struct conf_digest *d = &n->c->notify.digests[i];
	size_t ri = recv_index(n->c, d->receiver);
	const struct conf_receiver *rc = &n->c->notify.receivers[ri];
	char key[300], mid[160];
	void *prev = NULL;
	size_t pn;
	char *subject = NULL, *state = NULL;
	struct view *v;

	digest_key(d, i, key, sizeof key);
	store_rec_get(n->st, key, strlen(key), &prev, &pn);
	v = view_get(n->views);
	snprintf(mid, sizeof mid, "<digest.%lld.%zu@%s>", (long long)now, i,
		 rc->email.hello ? rc->email.hello : "pacewatch");
	char *msg = render_digest(d, &rc->email, v, prev, now, mid,
				  n->c->notify.dashboard_url, &subject, &state);
	json_t *rec = json_object();
	json_object_set_new(rec, "kind", json_string("email"));
	json_object_set_new(rec, "group", json_string("digest"));
	json_object_set_new(rec, "subject", json_string(subject));
	json_object_set_new(rec, "message_id", json_string(mid));
	json_object_set_new(rec, "payload", json_string(msg));
	json_object_set_new(rec, "alerts", json_integer(0));
	struct store_rec_op op = {key, strlen(key), state, strlen(state)};
	outbox_enqueue(n, &n->lanes[n->lane_of[ri]], rec, &op, 1, false, now);
	log_info(SUBSYS, "digest for %s queued", d->receiver);
	json_decref(rec);
	free(msg);
	free(subject);
	free(state);
	free(prev);
	view_unref(v);
}

static void digests_step(struct notify *n, int64_t now)
{
	for (size_t i = 0; i < n->c->notify.ndigests; i++) {
		const struct conf_digest *d = &n->c->notify.digests[i];
		if (!n->digest_next[i]) {
			/* from the last one sent: a digest due while pacewatch was
			 * down goes out now, once */
			char key[300];
			void *prev = NULL;
			size_t pn;
			int64_t last = now;
			digest_key(d, i, key, sizeof key);
			if (store_rec_get(n->st, key, strlen(key), &prev, &pn) == 0) {
				json_error_t je;
				json_t *o = json_loadb(prev, pn, 0, &je);
				if (o)
					last = (int64_t)json_integer_value(json_object_get(o, "sent"));
				json_decref(o);
				free(prev);
			}
			n->digest_next[i] = digest_after(d, last);
		}
		if (now >= n->digest_next[i]) {
			digest_send(n, i, now);
			n->digest_next[i] = digest_after(d, now);
		}
	}
}

int64_t notify_step(struct notify *n, int64_t now)
{
	struct snap_ctx s = {n, NULL, 0, 0};
	int64_t next = now + 60000;
	const struct conf_notify *cn = &n->c->notify;

	if (!cn->nreceivers)
		return INT64_MAX;
	{
		struct view *v = view_get(n->views);
		for (size_t i = 0; v && i < v->nalerts; i++)
			snap_alert(&s, v, &v->alerts[i]);
		view_unref(v);
	}
	for (size_t i = 0; i < n->ncur; i++)
		nalert_free(n->cur[i]);
	free(n->cur);
	n->cur = s.v;
	n->ncur = s.nv;

	/* route */
	struct nroute **hit = NULL;
	struct nalert ***am = xcalloc(cn->nreceivers + 1, sizeof *am);
	size_t *nam = xcalloc(cn->nreceivers + 1, sizeof *nam);
	for (size_t i = 0; i < n->ncur; i++) {
		size_t nh = 0;
		route_match(&n->root, n->cur[i], &hit, &nh);
		for (size_t h = 0; h < nh; h++) {
			struct nroute *r = hit[h];
			const struct conf_receiver *rc = &cn->receivers[r->recv];
			if (rc->kind == CONF_RECV_ALERTMANAGER) {
				bool dup = false;
				for (size_t j = 0; j < nam[r->recv]; j++)
					dup |= am[r->recv][j] == n->cur[i];
				if (!dup) {
					am[r->recv] = xreallocarray(am[r->recv], nam[r->recv] + 1,
								    sizeof **am);
					am[r->recv][nam[r->recv]++] = n->cur[i];
				}
				continue;
			}
			struct ngroup *g = group_get(n, r, n->cur[i], now);
			bool dup = false;
			for (size_t j = 0; j < g->nnm && !dup; j++)
				dup = g->nm[j] == n->cur[i];
			if (dup)
				continue;
			g->nm = xreallocarray(g->nm, g->nnm + 1, sizeof *g->nm);
			g->nm[g->nnm++] = n->cur[i];
			/* an alert older than group_wait is not held back */
			if (!g->flushed && n->cur[i]->starts_ms + r->c->group_wait_ms < now &&
			    g->next_flush > now)
				g->next_flush = now;
		}
	}
	free(hit);

	/* replace each group's members; one that left the rules while firing
	 * is resolved now and kept until notified */
	for (size_t gi = 0; gi < n->ng; gi++) {
		struct ngroup *g = n->g[gi];
		struct nalert **nv = xcalloc(g->nnm + g->n + 1, sizeof *nv);
		size_t k = 0, nd = 0;
		struct done *keep = xcalloc(g->ndone + 1, sizeof *keep);
		for (size_t j = 0; j < g->nnm; j++) {
			bool done = false;
			for (size_t d = 0; d < g->ndone && !g->nm[j]->firing && !done; d++)
				if (g->done[d].fp == nalert_fp(g->nm[j]) && g->done[d].ends == g->nm[j]->ends_ms) {
					done = true;
					keep[nd++] = g->done[d]; /* still reported: remember */
				}
			if (!done)
				nv[k++] = nalert_copy(g->nm[j]);
		}
		free(g->done);
		g->done = keep;
		g->ndone = nd;
		for (size_t j = 0; j < g->n; j++) {
			bool present = false;
			for (size_t q = 0; q < g->nnm && !present; q++)
				present = nalert_fp(g->nm[q]) == nalert_fp(g->a[j]);
			if (present) {
				nalert_free(g->a[j]);
				continue;
			}
			if (g->a[j]->firing) {
				g->a[j]->firing = false;
				g->a[j]->ends_ms = now;
			}
			g->a[j]->gone = true;
			nv[k++] = g->a[j];
		}
		free(g->a);
		g->a = nv;
		g->n = k;
		free(g->nm);
		g->nm = NULL;
		g->nnm = 0;
	}

	/* flush what is due; drop groups with nothing left */
	for (size_t gi = 0; gi < n->ng; gi++) {
		struct ngroup *g = n->g[gi];
		if (now >= g->next_flush)
			flush_group(n, g, now);
		if (g->n == 0) {
			group_free(g);
			n->g[gi] = n->g[--n->ng];
			gi--;
			continue;
		}
		if (g->next_flush < next)
			next = g->next_flush;
	}
	for (size_t ri = 0; ri < cn->nreceivers; ri++) {
		if (cn->receivers[ri].kind == CONF_RECV_ALERTMANAGER) {
			am_step(n, ri, am[ri], nam[ri], now);
			int64_t t = now + cn->receivers[ri].alertmanager.resend_delay_ms;
			if (t < next)
				next = t;
		}
		free(am[ri]);
	}
	free(am);
	free(nam);
	digests_step(n, now);
	for (size_t i = 0; i < cn->ndigests; i++)
		if (n->digest_next[i] < next)
			next = n->digest_next[i];
	return next;
}
