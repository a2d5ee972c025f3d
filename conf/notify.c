/*
 * notify.c — checks of the notify section that span keys: receivers and
 * their kinds, the routing tree (receivers and time intervals that exist,
 * matchers that parse, timers that make sense, inheritance from the
 * parent), inhibit rules, time intervals and digests. Also the matcher
 * and clock-time parsers the notifiers share.
 */
#include "conf_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int conf_matcher_parse(const char *s, struct conf_matcher *out, char **cause)
{
	const char *p = s, *n0;
	memset(out, 0, sizeof *out);
	*cause = NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	n0 = p;
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_')) {
		*cause = xasprintf("expected a label name at the start of \"%s\"", s);
		return PW_EINVAL;
	}
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '_')
		p++;
	size_t nl = (size_t)(p - n0);
	while (*p == ' ' || *p == '\t')
		p++;
	if (p[0] == '=' && p[1] == '~')
		out->op = CONF_MATCH_RE, p += 2;
	else if (p[0] == '!' && p[1] == '~')
		out->op = CONF_MATCH_NRE, p += 2;
	else if (p[0] == '!' && p[1] == '=')
		out->op = CONF_MATCH_NEQ, p += 2;
	else if (p[0] == '=')
		out->op = CONF_MATCH_EQ, p += 1;
	else {
		*cause = xasprintf("expected =, !=, =~ or !~ after \"%.*s\" in \"%s\"", (int)nl, n0, s);
		return PW_EINVAL;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	struct pw_buf v;
	pw_buf_init(&v, 0);
	pw_buf_puts(&v, "");
	if (*p == '"') {
		p++;
		while (*p && *p != '"') {
			if (*p == '\\' && p[1]) {
				p++;
				pw_buf_putc(&v, *p == 'n' ? '\n' : *p == 't' ? '\t' : *p);
			} else {
				pw_buf_putc(&v, *p);
			}
			p++;
		}
		if (*p != '"') {
			*cause = xasprintf("unterminated quoted value in \"%s\"", s);
			pw_buf_free(&v);
			return PW_EINVAL;
		}
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p) {
			*cause = xasprintf("unexpected \"%s\" after the value in \"%s\"", p, s);
			pw_buf_free(&v);
			return PW_EINVAL;
		}
	} else {
		const char *e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		pw_buf_append(&v, p, (size_t)(e - p));
	}
	out->name = xstrndup(n0, nl);
	out->value = pw_buf_take(&v);
	return 0;
}

void conf_matcher_free(struct conf_matcher *m)
{
	free(m->name);
	free(m->value);
	memset(m, 0, sizeof *m);
}

int conf_clock_parse(const char *s, int *minutes)
{
	int h, m;
	char tail;
	if (!s || sscanf(s, "%2d:%2d%c", &h, &m, &tail) != 2 || strlen(s) != 5)
		return PW_EINVAL;
	if (h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0))
		return PW_EINVAL;
	*minutes = h * 60 + m;
	return 0;
}

static const char *const weekday_names[] = {"sunday", "monday", "tuesday", "wednesday",
					    "thursday", "friday", "saturday", NULL};
static const char *const month_names[] = {"january", "february", "march",     "april",
					  "may",     "june",     "july",      "august",
					  "september", "october", "november", "december", NULL};

static int name_or_number(const char *s, size_t n, const char *const *names, int base, int *out)
{
	for (int i = 0; names && names[i]; i++)
		if (strlen(names[i]) == n && strncasecmp(names[i], s, n) == 0) {
			*out = i + base;
			return 0;
		}
	char buf[16], *end;
	if (n == 0 || n >= sizeof buf)
		return PW_EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	long v = strtol(buf, &end, 10);
	if (*end)
		return PW_EINVAL;
	*out = (int)v;
	return 0;
}

int conf_range_parse(const char *s, int kind, int *lo, int *hi)
{
	const char *colon = strchr(s, ':');
	size_t n1 = colon ? (size_t)(colon - s) : strlen(s);
	const char *const *names = kind == 0 ? weekday_names : kind == 2 ? month_names : NULL;
	int base = kind == 2 ? 1 : 0, min, max;
	if (kind == 0)
		min = 0, max = 6;
	else if (kind == 1)
		min = -31, max = 31;
	else
		min = 1, max = 12;
	if (name_or_number(s, n1, names, base, lo) != 0)
		return PW_EINVAL;
	if (colon) {
		if (name_or_number(colon + 1, strlen(colon + 1), names, base, hi) != 0)
			return PW_EINVAL;
	} else {
		*hi = *lo;
	}
	if (*lo < min || *lo > max || *hi < min || *hi > max || (kind == 1 && (*lo == 0 || *hi == 0)))
		return PW_EINVAL;
	if (kind == 0 && *lo > *hi)
		return PW_EINVAL;
	if (kind == 1 && ((*lo > 0) == (*hi > 0)) && *lo > *hi)
		return PW_EINVAL;
	if (kind == 2 && *lo > *hi)
		return PW_EINVAL;
	return 0;
}

/* ---- checks --------------------------------------------------------------- */

struct ctx {
	struct conf *c;
	struct conf_errs *errs;
	const struct posmap *pm;
};

static void err(struct ctx *x, const char *path, bool at_key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void err(struct ctx *x, const char *path, bool at_key, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	conf_err_at(x->errs, x->pm, path, at_key, "%s", msg ? msg : "?");
	free(msg);
}

static void check_matchers(struct ctx *x, char **ms, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		struct conf_matcher m;
		char *e = NULL, *p = xasprintf("%s[%zu]", path, i);
		if (conf_matcher_parse(ms[i], &m, &e) != 0) {
			err(x, p, false, "%s", e);
		} else if (m.op == CONF_MATCH_RE || m.op == CONF_MATCH_NRE) {
			/* the regex through PromQL's own check: {name=~"re"} */
			struct pw_buf q;
			char *msg = NULL;
			pw_buf_init(&q, 0);
			pw_buf_printf(&q, "{%s=~", m.name);
			pw_buf_json_string(&q, m.value);
			pw_buf_puts(&q, "}");
			if (conf_check_expr_text(q.data, &msg) != 0)
				err(x, p, false, "bad regular expression in \"%s\": %s", ms[i],
				    msg ? msg : "?");
			free(msg);
			pw_buf_free(&q);
		}
		conf_matcher_free(&m);
		free(e);
		free(p);
	}
}

static const struct conf_receiver *receiver(const struct conf *c, const char *name)
{
	for (size_t i = 0; name && i < c->notify.nreceivers; i++)
		if (c->notify.receivers[i].name && strcmp(c->notify.receivers[i].name, name) == 0)
			return &c->notify.receivers[i];
	return NULL;
}

static bool interval_exists(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->notify.ntime_intervals; i++)
		if (c->notify.time_intervals[i].name &&
		    strcmp(c->notify.time_intervals[i].name, name) == 0)
			return true;
	return false;
}

static char **strs_dup(char **v, size_t n)
{
	char **o = xcalloc(n + 1, sizeof *o);
	for (size_t i = 0; i < n; i++)
		o[i] = xstrdup(v[i]);
	return o;
}

/* was key written at path (0s is a value: group_wait 0s sends at once) */
static bool given(struct ctx *x, const char *path, const char *key)
{
	size_t a, b;
	char *p = xasprintf("%s.%s", path, key);
	bool yes = x->pm && conf_posmap_find(x->pm, p, &a, &b);
	free(p);
	return yes;
}

static void check_route(struct ctx *x, struct conf_route *r, const struct conf_route *parent,
			const char *path)
{
	char *p;
	if (parent) {
		if (!r->receiver && parent->receiver)
			r->receiver = xstrdup(parent->receiver);
		if (!r->ngroup_by && parent->ngroup_by) {
			free(r->group_by);
			r->group_by = strs_dup(parent->group_by, parent->ngroup_by);
			r->ngroup_by = parent->ngroup_by;
		}
		if (!given(x, path, "group_wait"))
			r->group_wait_ms = parent->group_wait_ms;
		if (!given(x, path, "group_interval"))
			r->group_interval_ms = parent->group_interval_ms;
		if (!given(x, path, "repeat_interval"))
			r->repeat_interval_ms = parent->repeat_interval_ms;
	} else {
		/* Alertmanager's defaults */
		if (!given(x, path, "group_wait"))
			r->group_wait_ms = 30 * 1000;
		if (!given(x, path, "group_interval"))
			r->group_interval_ms = 5 * 60 * 1000;
		if (!given(x, path, "repeat_interval"))
			r->repeat_interval_ms = 4 * 3600 * 1000;
		if (r->nmatchers) {
			p = xasprintf("%s.matchers", path);
			err(x, p, true, "the root route takes every alert; it has no matchers");
			free(p);
		}
	}
	if (!r->receiver) {
		if (!parent)
			err(x, path, true, "the root route needs a receiver");
	} else if (!receiver(x->c, r->receiver)) {
		p = xasprintf("%s.receiver", path);
		err(x, p, false, "no receiver is named \"%s\"", r->receiver);
		free(p);
	}
	for (size_t i = 0; i < r->ngroup_by; i++) {
		const char *g = r->group_by[i];
		if (strcmp(g, "...") == 0 && r->ngroup_by > 1) {
			p = xasprintf("%s.group_by[%zu]", path, i);
			err(x, p, false, "\"...\" (every label) stands alone in group_by");
			free(p);
		} else if (strcmp(g, "...") != 0 && !pw_valid_label_name(g, strlen(g))) {
			p = xasprintf("%s.group_by[%zu]", path, i);
			err(x, p, false, "\"%s\" is not a valid label name", g);
			free(p);
		}
	}
	p = xasprintf("%s.matchers", path);
	check_matchers(x, r->matchers, r->nmatchers, p);
	free(p);
	if (r->repeat_interval_ms < r->group_interval_ms) {
		p = xasprintf("%s.repeat_interval", path);
		err(x, p, false,
		    "repeat_interval (%lld s) is shorter than group_interval (%lld s): a group is only "
		    "looked at every group_interval, so it would repeat every group_interval anyway",
		    (long long)(r->repeat_interval_ms / 1000), (long long)(r->group_interval_ms / 1000));
		free(p);
	}
	if (r->group_interval_ms <= 0 || r->group_wait_ms < 0) {
		p = xasprintf("%s.group_interval", path);
		err(x, p, false, "must be longer than 0s");
		free(p);
	}
	for (int k = 0; k < 2; k++) {
		char **v = k ? r->active_time_intervals : r->mute_time_intervals;
		size_t n = k ? r->nactive : r->nmute;
		for (size_t i = 0; i < n; i++)
			if (!interval_exists(x->c, v[i])) {
				p = xasprintf("%s.%s[%zu]", path,
					      k ? "active_time_intervals" : "mute_time_intervals", i);
				err(x, p, false, "no time interval is named \"%s\"", v[i]);
				free(p);
			}
	}
	for (size_t i = 0; i < r->nroutes; i++) {
		p = xasprintf("%s.routes[%zu]", path, i);
		check_route(x, &r->routes[i], r, p);
		free(p);
	}
}

/* "local@domain" or "Display Name <local@domain>", one line, sane length */
static bool valid_addr(const char *s)
{
	const char *lt = strrchr(s, '<'), *a = lt ? lt + 1 : s, *gt = lt ? strchr(lt, '>') : NULL;
	size_t n = strlen(s);
	if (n == 0 || n > 320 || (lt && (!gt || gt[1])))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	const char *at = strchr(a, '@');
	size_t alen = gt ? (size_t)(gt - a) : strlen(a);
	if (!at || at == a || (size_t)(at - a) + 1 >= alen)
		return false;
	for (const char *p = a; p < a + alen; p++)
		if (*p == ' ' || *p == '<' || *p == '>' || *p == ',')
			return false;
	return true;
}

static void check_addrs(struct ctx *x, char **v, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (!valid_addr(v[i])) {
			char *p = xasprintf("%s[%zu]", path, i);
			err(x, p, false, "expected an address such as duty@example.org or "
					 "\"值班室 <duty@example.org>\", found \"%s\"", v[i]);
			free(p);
		}
}

static void check_receivers(struct ctx *x)
{
	struct conf_notify *n = &x->c->notify;
	struct conf_names names = {0};
	for (size_t i = 0; i < n->nreceivers; i++) {
		struct conf_receiver *r = &n->receivers[i];
		char *p = xasprintf("notify.receivers[%zu]", i), *q;
		int kinds = 0;
		if (!r->name) {
			free(p);
			continue;
		}
		size_t j = conf_names_add(&names, r->name, i);
		if (j != SIZE_MAX) {
			q = xasprintf("%s.name", p);
			err(x, q, false, "receiver name \"%s\" is already used by receivers[%zu]",
			    r->name, j);
			free(q);
		}
		if (r->email.smarthost || r->email.from || r->email.nto)
			kinds++, r->kind = CONF_RECV_EMAIL;
		if (r->webhook.url)
			kinds++, r->kind = CONF_RECV_WEBHOOK;
		if (r->alertmanager.nurls)
			kinds++, r->kind = CONF_RECV_ALERTMANAGER;
		if (kinds != 1) {
			err(x, p, true, "receiver \"%s\" needs exactly one of email, webhook and "
				       "alertmanager (found %d)", r->name, kinds);
			free(p);
			continue;
		}
		if (r->kind == CONF_RECV_EMAIL) {
			struct conf_email *e = &r->email;
			q = xasprintf("%s.email", p);
			if (!e->smarthost)
				err(x, q, true, "an email receiver needs smarthost (host:port)");
			else if (!strchr(e->smarthost, ':') || !strtol(strrchr(e->smarthost, ':') + 1, NULL, 10)) {
				char *s = xasprintf("%s.smarthost", q);
				err(x, s, false, "expected host:port, found \"%s\"", e->smarthost);
				free(s);
			}
			if (!e->from) {
				err(x, q, true, "an email receiver needs from");
			} else if (!valid_addr(e->from)) {
				char *s2 = xasprintf("%s.from", q);
				err(x, s2, false, "expected an address such as pacewatch@example.org or "
						  "\"pacewatch <pacewatch@example.org>\", found \"%s\"", e->from);
				free(s2);
			}
			{
				char *s2 = xasprintf("%s.to", q);
				check_addrs(x, e->to, e->nto, s2);
				free(s2);
				s2 = xasprintf("%s.cc", q);
				check_addrs(x, e->cc, e->ncc, s2);
				free(s2);
			}
			if (!e->nto)
				err(x, q, true, "an email receiver needs at least one address in to");
			if (!e->auth_username != !e->auth_password) {
				char *s = xasprintf("%s.%s", q, e->auth_username ? "auth_password_file"
										 : "auth_username");
				err(x, s, true, "auth_username and auth_password_file go together");
				free(s);
			}
			{
				static const char *const keys[] = {"subject_template_file",
								   "text_template_file",
								   "html_template_file"};
				const char *t[] = {e->subject_template, e->text_template,
						   e->html_template};
				for (int k = 0; k < 3; k++) {
					char *s = xasprintf("%s.%s", q, keys[k]);
					conf_check_template(k == 2 ? CONF_TMPL_NOTIFY_HTML
								   : CONF_TMPL_NOTIFY_TEXT,
							    t[k], true, s, x->errs, x->pm);
					free(s);
				}
			}
			if (e->auth_username && e->tls == CONF_TLS_NONE) {
				char *s = xasprintf("%s.tls", q);
				err(x, s, false, "\"none\" would send the SMTP password in plain text; use "
						 "starttls or implicit");
				free(s);
			}
			free(q);
		} else if (r->kind == CONF_RECV_WEBHOOK) {
			q = xasprintf("%s.webhook.headers", p);
			conf_check_headers(&r->webhook.headers, q, x->errs, x->pm);
			free(q);
			if (strncmp(r->webhook.url, "http://", 7) != 0 &&
			    strncmp(r->webhook.url, "https://", 8) != 0) {
				q = xasprintf("%s.webhook.url", p);
				err(x, q, false, "expected an http:// or https:// URL, found \"%s\"",
				    r->webhook.url);
				free(q);
			}
		} else {
			for (size_t u = 0; u < r->alertmanager.nurls; u++) {
				const char *url = r->alertmanager.urls[u];
				if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
					q = xasprintf("%s.alertmanager.urls[%zu]", p, u);
					err(x, q, false, "expected an http:// or https:// URL, found \"%s\"",
					    url);
					free(q);
				}
			}
		}
		free(p);
	}
	conf_names_free(&names);
}


static void check_ranges(struct ctx *x, char **v, size_t n, int kind, const char *path)
{
	static const char *const what[] = {"a weekday or weekday range (monday, monday:friday)",
					   "a day of the month or a range (1, 1:7, -1)",
					   "a month or a range (january, 1:3)"};
	for (size_t i = 0; i < n; i++) {
		int lo, hi;
		if (conf_range_parse(v[i], kind, &lo, &hi) != 0) {
			char *p = xasprintf("%s[%zu]", path, i);
			err(x, p, false, "expected %s, found \"%s\"", what[kind], v[i]);
			free(p);
		}
	}
}

static void check_intervals(struct ctx *x)
{
	struct conf_notify *n = &x->c->notify;
	struct conf_names names = {0};
	for (size_t i = 0; i < n->ntime_intervals; i++) {
		struct conf_time_interval *ti = &n->time_intervals[i];
		char *p = xasprintf("notify.time_intervals[%zu]", i), *q;
		size_t j = conf_names_add(&names, ti->name, i);
		if (j != SIZE_MAX) {
			q = xasprintf("%s.name", p);
			err(x, q, false, "time interval \"%s\" is already defined at "
					 "time_intervals[%zu]", ti->name, j);
			free(q);
		}
		for (size_t e = 0; e < ti->ntime_intervals; e++) {
			struct conf_time_entry *te = &ti->time_intervals[e];
			char *ep = xasprintf("%s.time_intervals[%zu]", p, e);
			for (size_t t = 0; t < te->ntimes; t++) {
				int a, b;
				const char *bad = NULL, *key = NULL;
				if (!te->times[t].start_time || !te->times[t].end_time)
					continue;
				if (conf_clock_parse(te->times[t].start_time, &a) != 0 || a >= 24 * 60)
					bad = te->times[t].start_time, key = "start_time";
				else if (conf_clock_parse(te->times[t].end_time, &b) != 0)
					bad = te->times[t].end_time, key = "end_time";
				else if (b <= a)
					bad = te->times[t].end_time, key = "end_time";
				if (bad) {
					q = xasprintf("%s.times[%zu].%s", ep, t, key);
					if (strcmp(key, "end_time") == 0 && conf_clock_parse(bad, &b) == 0)
						err(x, q, false, "end_time %s is not after start_time %s (a "
								 "range over midnight is two ranges: 22:00-24:00 "
								 "and 00:00-08:00)",
						    bad, te->times[t].start_time);
					else
						err(x, q, false, "expected a time of day HH:MM, found \"%s\"",
						    bad);
					free(q);
				}
			}
			q = xasprintf("%s.weekdays", ep);
			check_ranges(x, te->weekdays, te->nweekdays, 0, q);
			free(q);
			q = xasprintf("%s.days_of_month", ep);
			check_ranges(x, te->days_of_month, te->ndays_of_month, 1, q);
			free(q);
			q = xasprintf("%s.months", ep);
			check_ranges(x, te->months, te->nmonths, 2, q);
			free(q);
			q = xasprintf("%s.location", ep);
			conf_check_tz(te->location, q, x->errs, x->pm);
			free(q);
			free(ep);
		}
		free(p);
	}
	conf_names_free(&names);
}

static void check_inhibit(struct ctx *x)
{
	struct conf_notify *n = &x->c->notify;
	for (size_t i = 0; i < n->ninhibit; i++) {
		struct conf_inhibit *ih = &n->inhibit_rules[i];
		char *p = xasprintf("notify.inhibit_rules[%zu]", i), *q;
		if (!ih->nsource || !ih->ntarget)
			err(x, p, true, "an inhibit rule needs source_matchers and target_matchers");
		q = xasprintf("%s.source_matchers", p);
		check_matchers(x, ih->source_matchers, ih->nsource, q);
		free(q);
		q = xasprintf("%s.target_matchers", p);
		check_matchers(x, ih->target_matchers, ih->ntarget, q);
		free(q);
		for (size_t e = 0; e < ih->nequal; e++)
			if (!pw_valid_label_name(ih->equal[e], strlen(ih->equal[e]))) {
				q = xasprintf("%s.equal[%zu]", p, e);
				err(x, q, false, "\"%s\" is not a valid label name", ih->equal[e]);
				free(q);
			}
		free(p);
	}
}

static void check_digests(struct ctx *x)
{
	struct conf_notify *n = &x->c->notify;
	for (size_t i = 0; i < n->ndigests; i++) {
		struct conf_digest *d = &n->digests[i];
		char *p = xasprintf("notify.digests[%zu]", i), *q;
		const struct conf_receiver *r = receiver(x->c, d->receiver);
		int m;
		if (d->receiver && !r) {
			q = xasprintf("%s.receiver", p);
			err(x, q, false, "no receiver is named \"%s\"", d->receiver);
			free(q);
		} else if (r && r->kind != CONF_RECV_EMAIL) {
			q = xasprintf("%s.receiver", p);
			err(x, q, false, "digests are emails; \"%s\" is not an email receiver",
			    d->receiver);
			free(q);
		}
		if (d->at && (conf_clock_parse(d->at, &m) != 0 || m >= 24 * 60)) {
			q = xasprintf("%s.at", p);
			err(x, q, false, "expected a time of day HH:MM, found \"%s\"", d->at);
			free(q);
		}
		q = xasprintf("%s.weekdays", p);
		check_ranges(x, d->weekdays, d->nweekdays, 0, q);
		free(q);
		q = xasprintf("%s.timezone", p);
		conf_check_tz(d->timezone, q, x->errs, x->pm);
		free(q);
		if (!d->timezone)
			d->timezone = xstrdup(x->c->global.timezone ? x->c->global.timezone
								    : "Asia/Shanghai");
		free(p);
	}
}

void conf_validate_notify(struct conf *c, struct conf_errs *errs, const struct posmap *pm)
{
	struct ctx x = {c, errs, pm};
	struct conf_notify *n = &c->notify;
	check_receivers(&x);
	check_intervals(&x);
	if (n->nreceivers || n->route.receiver || n->route.nroutes)
		check_route(&x, &n->route, NULL, "notify.route");
	check_inhibit(&x);
	check_digests(&x);
	if (n->retry_max_ms < n->retry_min_ms)
		err(&x, "notify.retry_max", false, "retry_max is shorter than retry_min");
	if (!n->external_url) {
		const char *l = c->http.nlisten ? c->http.listen[0] : "127.0.0.1:9470";
		if (strncmp(l, "0.0.0.0:", 8) == 0)
			n->external_url = xasprintf("http://localhost%s", l + 7);
		else
			n->external_url = xasprintf("http://%s", l);
	}
}
