/*
 * route.c — where an alert goes: Alertmanager's matchers, the routing
 * tree, inhibition (a firing source alert mutes its targets) and time
 * intervals (mute_time_intervals, active_time_intervals).
 * Flow: alert → [route] → group → render → outbox → transport.
 */
#include "notify_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * The tree: a node that matches hands the alert to the first matching
 * child, or to every matching child while they say continue, or keeps it
 * when no child matches. Time intervals are read in their time zones.
 */

/* ---- matchers ---------------------------------------------------------------- */

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

/* ---- time intervals ---------------------------------------------------------- */

/* a list of ranges ("monday:friday", "1:7", "january"; kind 0 weekdays, 1
 * days of the month, 2 months) into out, at most 8 */
int time_ranges(char **v, size_t n, int kind, int out[8][2], size_t *nout)
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
			char *why = NULL;
			const char *loc = ce->location ? ce->location : n->c->global.timezone;
			for (size_t t = 0; t < ce->ntimes && te->ntimes < 8; t++) {
				if (conf_clock_parse(ce->times[t].start_time, &te->times[te->ntimes][0]) ||
				    conf_clock_parse(ce->times[t].end_time, &te->times[te->ntimes][1])) {
					*cause = xasprintf("time interval %s: bad time of day", ci->name);
					return PW_EINVAL;
				}
				te->ntimes++;
			}
			if (time_ranges(ce->weekdays, ce->nweekdays, 0, te->wd, &te->nwd) ||
			    time_ranges(ce->days_of_month, ce->ndays_of_month, 1, te->dom, &te->ndom) ||
			    time_ranges(ce->months, ce->nmonths, 2, te->mon, &te->nmon)) {
				*cause = xasprintf("time interval %s: bad weekday, day or month", ci->name);
				return PW_EINVAL;
			}
			if (pw_tz_load(loc ? loc : "UTC", &te->tz, &why) != 0) {
				*cause = xasprintf("time interval %s: %s", ci->name, why);
				free(why);
				return PW_EINVAL;
			}
		}
	}
	return 0;
}

bool time_in_ranges(int v, int r[8][2], size_t n)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (v >= r[i][0] && v <= r[i][1])
			return true;
	return false;
}

/* an entry's days of the month (negative: from the month's end) hold day d
 * of month m of year y */
static bool in_days_of_month(const struct tentry *e, int64_t y, unsigned m, unsigned d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int len = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	for (size_t r = 0; r < e->ndom; r++) {
		int lo = e->dom[r][0] < 0 ? len + 1 + e->dom[r][0] : e->dom[r][0];
		int hi = e->dom[r][1] < 0 ? len + 1 + e->dom[r][1] : e->dom[r][1];
		if ((int)d >= lo && (int)d <= hi)
			return true;
	}
	return false;
}

/* one entry of a time interval holds ms (in the entry's time zone) */
static bool entry_contains(const struct tentry *e, int64_t ms)
{
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
	ok = ok && time_in_ranges(wd, (int(*)[2])e->wd, e->nwd) &&
	     time_in_ranges((int)m, (int(*)[2])e->mon, e->nmon);
	if (ok && e->ndom)
		ok = in_days_of_month(e, y, m, d);
	return ok;
}

/* Alertmanager's timeinterval.ContainsTime */
static bool interval_contains(const struct tinterval *ti, int64_t ms)
{
	for (size_t i = 0; i < ti->n; i++)
		if (entry_contains(&ti->e[i], ms))
			return true;
	return false;
}

/* is a route muted at ms: inside a mute interval, or outside all its
 * active intervals */
bool route_muted(const struct notify *n, const struct nroute *r, int64_t ms)
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

/* ---- the routing tree -------------------------------------------------------- */

/* the index of the receiver named name (0 if none: validation has checked) */
size_t route_receiver(const struct conf *c, const char *name)
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
	r->recv = c->receiver ? route_receiver(n->c, c->receiver) : 0;
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

/* the routes an alert reaches (Alertmanager's Route.Match) */
void route_match(struct nroute *r, const struct nalert *a, struct nroute ***out,
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

/* ---- inhibition -------------------------------------------------------------- */

/* AM's inhibitor: a firing source alert with the same equal labels mutes a
 * target (an alert never mutes itself) */
bool route_inhibited(const struct notify *n, const struct nalert *a)
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

/* ---- the notifier's routes, inhibit rules and time intervals ----------------- */

int routes_new(struct notify *n, char **cause)
{
	const struct conf_notify *cn = &n->c->notify;
	int rc;
	if ((rc = intervals_compile(n, cause)) != 0)
		return rc;
	if (cn->nreceivers && (rc = route_compile(n, &n->root, &cn->route, NULL, cause)) != 0)
		return rc;
	n->inh = xcalloc(cn->ninhibit + 1, sizeof *n->inh);
	for (size_t i = 0; i < cn->ninhibit; i++, n->ninh++) {
		const struct conf_inhibit *ci = &cn->inhibit_rules[i];
		if ((rc = matchers_compile(ci->source_matchers, ci->nsource, &n->inh[i].src, cause)) ||
		    (rc = matchers_compile(ci->target_matchers, ci->ntarget, &n->inh[i].dst, cause))) {
			n->ninh++;
			return rc;
		}
		n->inh[i].equal = ci->equal;
		n->inh[i].nequal = ci->nequal;
	}
	return 0;
}

void routes_free(struct notify *n)
{
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
}
