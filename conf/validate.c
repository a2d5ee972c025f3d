/*
 * validate.c — rules that span keys, run by load.c once the field tables
 * (schema.c) have been walked: unique names, timeouts within intervals,
 * names Prometheus accepts, time zones that exist, the keys each format
 * needs. Fills per-target defaults from `global`.
 */
#include "conf_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check_label_names(const struct conf_kvs *kv, const char *path,
			      struct conf_errs *errs, const struct posmap *pm)
{
	for (size_t i = 0; i < kv->n; i++) {
		if (!pw_valid_label_name(kv->v[i].name, strlen(kv->v[i].name)) ||
		    strncmp(kv->v[i].name, "__", 2) == 0) {
			char *p = xasprintf("%s.%s", path, kv->v[i].name);
			conf_err_at(errs, pm, p, true,
				    "\"%s\" is not a valid label name (letters, digits and _, not "
				    "starting with a digit or __)",
				    kv->v[i].name);
			free(p);
		}
	}
}

static void check_rule_groups(struct conf *c, struct conf_errs *errs, const struct posmap *pm)
{
	struct conf_names names = {0};
	for (size_t g = 0; g < c->nrule_groups; g++) {
		struct conf_rule_group *rg = &c->rule_groups[g];
		char *p = xasprintf("rule_groups[%zu]", g), *q;
		size_t h = conf_names_add(&names, rg->name, g);
		if (h != SIZE_MAX) {
			q = xasprintf("%s.name", p);
			conf_err_at(errs, pm, q, false,
				    "group name \"%s\" is already used by rule_groups[%zu]", rg->name, h);
			free(q);
		}
		if (rg->interval_ms == 0)
			rg->interval_ms = c->global.evaluation_interval_ms;
		for (size_t r = 0; r < rg->nrules; r++) {
			struct conf_rule *ru = &rg->rules[r];
			char *rp = xasprintf("%s.rules[%zu]", p, r);
			if (!ru->alert == !ru->record) {
				conf_err_at(errs, pm, rp, true, "a rule has exactly one of alert and record");
			} else if (ru->record && !pw_valid_metric_name(ru->record, strlen(ru->record))) {
				q = xasprintf("%s.record", rp);
				conf_err_at(errs, pm, q, false, "\"%s\" is not a valid metric name", ru->record);
				free(q);
			} else if (ru->alert && !*ru->alert) {
				q = xasprintf("%s.alert", rp);
				conf_err_at(errs, pm, q, false, "the alert needs a name");
				free(q);
			}
			if (ru->record && (ru->for_ms || ru->keep_firing_for_ms || ru->annotations.n)) {
				conf_err_at(errs, pm, rp, true,
					    "for, keep_firing_for and annotations belong to alerting rules");
			}
			q = xasprintf("%s.labels", rp);
			check_label_names(&ru->labels, q, errs, pm);
			free(q);
			/* an alerting rule's labels and annotations are templates */
			for (size_t k = 0; ru->alert && k < ru->labels.n + ru->annotations.n; k++) {
				bool lab = k < ru->labels.n;
				const struct conf_kv *kv = lab ? &ru->labels.v[k]
							       : &ru->annotations.v[k - ru->labels.n];
				q = xasprintf("%s.%s.%s", rp, lab ? "labels" : "annotations", kv->name);
				conf_check_template(CONF_TMPL_ALERT, kv->value, false, q, errs, pm);
				free(q);
			}
			q = xasprintf("%s.expr", rp);
			conf_check_expr(ru->expr, q, errs, pm);
			free(q);
			free(rp);
		}
		free(p);
	}
	conf_names_free(&names);
}

/* A KPI's milestones (kpis[i] at path p): times parsed in tz into
 * milestone_ms, within start and deadline (when those parsed: times_ok),
 * in order; a value or a fraction each. */
static void check_milestones(struct conf_kpi *k, const char *p, const struct pw_tz *tz,
			     bool times_ok, struct conf_errs *errs, const struct posmap *pm)
{
	double v;
	char *q;

	free(k->milestone_ms);
	k->milestone_ms = xcalloc(k->nmilestones + 1, sizeof *k->milestone_ms);
	for (size_t m = 0; m < k->nmilestones; m++) {
		struct conf_milestone *ms = &k->milestones[m];
		char *mp;
		if (!ms->at)
			continue;
		mp = xasprintf("%s.milestones[%zu]", p, m);
		if (pw_parse_time(ms->at, tz, &k->milestone_ms[m]) != 0) {
			q = xasprintf("%s.at", mp);
			conf_err_at(errs, pm, q, false, "expected a date or time, found \"%s\"", ms->at);
			free(q);
		} else if (times_ok && (k->milestone_ms[m] <= k->start_ms ||
					k->milestone_ms[m] >= k->deadline_ms)) {
			q = xasprintf("%s.at", mp);
			conf_err_at(errs, pm, q, false,
				    "a milestone lies between start (%s) and deadline (%s), not at %s",
				    k->start, k->deadline, ms->at);
			free(q);
		} else if (m > 0 && k->milestone_ms[m] <= k->milestone_ms[m - 1]) {
			q = xasprintf("%s.at", mp);
			conf_err_at(errs, pm, q, false, "milestones go in time order");
			free(q);
		}
		if (!ms->value == !ms->fraction || (ms->value && !pw_number(ms->value, &v)) ||
		    (ms->fraction && (!pw_number(ms->fraction, &v) || v < 0 || v > 1)))
			conf_err_at(errs, pm, mp, true,
				    "a milestone has a number value or a fraction from 0 to 1, not both");
		free(mp);
	}
}

/* a level KPI has a target, a coverage KPI a condition instead (its number
 * becomes the target), a quota counts against a target; false when what is
 * missing makes the rest unchecked */
static bool check_kpi_kind(struct conf_kpi *k, const char *p, struct conf_errs *errs,
			   const struct posmap *pm)
{
	char *q;
	if (k->has_peers) {
		q = xasprintf("%s.peers", p);
		if (k->coverage || k->period != CONF_PERIOD_NONE || k->rollup.kpi)
			conf_err_at(errs, pm, q, false, "a below-the-peers KPI is not also a coverage "
							"KPI, a quota or a roll-up");
		else if (k->target)
			conf_err_at(errs, pm, q, false, "a below-the-peers KPI's target is its group's "
							"threshold: remove target");
		free(q);
		return true;
	}
	if (k->rollup.kpi && (k->coverage || k->period != CONF_PERIOD_NONE)) {
		q = xasprintf("%s.rollup", p);
		conf_err_at(errs, pm, q, false, "a roll-up is a level KPI: no coverage, no period");
		free(q);
		return false;
	}
	if (k->coverage) {
		q = xasprintf("%s.coverage", p);
		if (conf_cmp_parse(k->coverage, &k->coverage_cmp, &k->coverage_v) != 0)
			conf_err_at(errs, pm, q, false,
				    "expected a comparison and a number (\">= 1\", \"> 0\", \"<= 5\", "
				    "\"< 5\", \"== 1\"), found \"%s\"", k->coverage);
		else if (k->target)
			conf_err_at(errs, pm, q, false, "a coverage KPI takes its target from "
							"coverage: remove target");
		else if (k->period != CONF_PERIOD_NONE)
			conf_err_at(errs, pm, q, false, "a calendar quota counts; it has no coverage");
		else
			k->target = xasprintf("%.17g", k->coverage_v);
		free(q);
		return k->target != NULL;
	}
	if (!k->target) {
		q = xasprintf("%s.target", p);
		conf_err_at(errs, pm, q, false, "required (or coverage, for a coverage KPI)");
		free(q);
		return false;
	}
	return true;
}

/* unit_code, roster_units: against the units table */
static void check_kpi_units(struct conf *c, struct conf_kpi *k, const char *p,
			    struct conf_errs *errs, const struct posmap *pm)
{
	char *q;
	if (k->unit_code && !pw_valid_label_name(k->unit_code, strlen(k->unit_code))) {
		q = xasprintf("%s.unit_code", p);
		conf_err_at(errs, pm, q, false, "\"%s\" is not a label name", k->unit_code);
		free(q);
	}
	if (k->roster_units.kind) {
		struct conf_roster_units *r = &k->roster_units;
		bool any = false;
		q = xasprintf("%s.roster_units", p);
		if (!c->units.file)
			conf_err_at(errs, pm, q, false, "a roster from the units table needs a units "
							"table (units.file)");
		else if (!k->unit_code)
			conf_err_at(errs, pm, q, false, "a roster from the units table needs unit_code "
							"(the label holding a unit's code)");
		for (size_t i = 0; i < c->units.n && !any; i++)
			any = strcmp(c->units.v[i].kind, r->kind) == 0;
		if (c->units.n && !any)
			conf_err_at(errs, pm, q, false, "no unit of the kind \"%s\" in the units table",
				    r->kind);
		free(q);
		if (r->where) {
			const char *w = r->where, *op;
			q = xasprintf("%s.roster_units.where", p);
			while (*w == ' ')
				w++;
			op = w + strcspn(w, " <>=!");
			r->attr = xstrndup(w, (size_t)(op - w));
			if (!*r->attr || conf_cmp_parse(op, &r->cmp, &r->v) != 0)
				conf_err_at(errs, pm, q, false,
					    "expected an attribute, a comparison and a number "
					    "(\"population > 100000\"), found \"%s\"", r->where);
			else if (c->units.n && !conf_units_has_attr(c, r->attr))
				conf_err_at(errs, pm, q, false, "the units table has no column \"%s\"",
					    r->attr);
			free(q);
		}
	}
}

/* a roll-up's base: another KPI, with unit_code; its kind in the table; no
 * roll-up of itself through others */
static void check_rollups(struct conf *c, struct conf_errs *errs, const struct posmap *pm)
{
	for (size_t i = 0; i < c->nkpis; i++) {
		struct conf_kpi *k = &c->kpis[i];
		const struct conf_kpi *b = NULL;
		char *q;
		bool any = false;
		if (!k->rollup.kpi)
			continue;
		q = xasprintf("kpis[%zu].rollup", i);
		for (size_t j = 0; j < c->nkpis; j++)
			if (j != i && c->kpis[j].name && strcmp(c->kpis[j].name, k->rollup.kpi) == 0)
				b = &c->kpis[j];
		if (!c->units.file)
			conf_err_at(errs, pm, q, false, "a roll-up needs the units table (units.file)");
		else if (!b)
			conf_err_at(errs, pm, q, false, "no other KPI is called \"%s\"", k->rollup.kpi);
		else if (!b->unit_code)
			conf_err_at(errs, pm, q, false, "KPI \"%s\" has no unit_code: its units are not "
							"in the units table", b->name);
		for (size_t u = 0; u < c->units.n && !any; u++)
			any = strcmp(c->units.v[u].kind, k->rollup.to) == 0;
		if (c->units.n && !any)
			conf_err_at(errs, pm, q, false, "no unit of the kind \"%s\" in the units table",
				    k->rollup.to);
		/* follow the bases: a cycle comes back to k */
		for (size_t steps = 0; b && b->rollup.kpi && steps <= c->nkpis; steps++) {
			const struct conf_kpi *n = NULL;
			if (b == k) {
				conf_err_at(errs, pm, q, false, "roll-ups in a circle: \"%s\" is rolled "
								"up from itself", k->name);
				break;
			}
			for (size_t j = 0; j < c->nkpis; j++)
				if (c->kpis[j].name && strcmp(c->kpis[j].name, b->rollup.kpi) == 0)
					n = &c->kpis[j];
			b = n;
		}
		free(q);
	}
}

static void check_kpis(struct conf *c, struct conf_errs *errs, const struct posmap *pm)
{
	struct conf_names names = {0};
	for (size_t i = 0; i < c->nkpis; i++) {
		struct conf_kpi *k = &c->kpis[i];
		char *p = xasprintf("kpis[%zu]", i), *q;
		struct pw_tz *tz = NULL;
		const char *tzname = k->timezone ? k->timezone : c->global.timezone;
		double v;
		char *why = NULL;
		q = xasprintf("%s.peers", p);
		k->has_peers = pm && conf_posmap_find(pm, q, &(size_t){0}, &(size_t){0});
		free(q);
		if (k->rollup.kpi && k->name) {
			/* a roll-up reads its own record: its value series is its value */
			if (k->value) {
				q = xasprintf("%s.value", p);
				conf_err_at(errs, pm, q, false, "a roll-up's value comes from rollup: "
								"remove value");
				free(q);
			} else {
				k->value = xasprintf("pacewatch_kpi_value{kpi=\"%s\"}", k->name);
			}
			if (!k->unit_code) {
				k->unit_code = xasprintf("%s_code", k->rollup.to);
				if (!pw_valid_label_name(k->unit_code, strlen(k->unit_code))) {
					q = xasprintf("%s.rollup.to", p);
					conf_err_at(errs, pm, q, false,
						    "\"%s\" is not a label name: give the roll-up a "
						    "unit_code (city_code) for its units' label",
						    k->unit_code);
					free(q);
				}
			}
		}
		if (k->name && !k->value && !k->rollup.kpi) {
			q = xasprintf("%s.value", p);
			conf_err_at(errs, pm, q, false, "required (or rollup, for a roll-up KPI)");
			free(q);
		}
		if (!k->name || !k->value || !k->start || !k->deadline) {
			free(p);
			continue; /* reported as missing */
		}
		if (!check_kpi_kind(k, p, errs, pm)) {
			free(p);
			continue;
		}
		size_t j = conf_names_add(&names, k->name, i);
		if (j != SIZE_MAX) {
			q = xasprintf("%s.name", p);
			conf_err_at(errs, pm, q, false, "KPI name \"%s\" is already used by kpis[%zu]",
				    k->name, j);
			free(q);
		}
		if (pw_tz_load(tzname ? tzname : "UTC", &tz, &why) != 0) {
			q = xasprintf("%s.timezone", p);
			conf_err_at(errs, pm, q, false, "%s", why);
			free(why);
			free(q);
			free(p);
			continue;
		}
		q = xasprintf("%s.value", p);
		conf_check_expr(k->value, q, errs, pm);
		free(q);
		conf_check_kpi(k, p, errs, pm);
		q = xasprintf("%s.runbook", p);
		conf_check_template(CONF_TMPL_KPI, k->runbook, false, q, errs, pm);
		free(q);
		q = xasprintf("%s.unit_name", p);
		conf_check_template(CONF_TMPL_UNIT_NAME, k->unit_name, false, q, errs, pm);
		free(q);
		if (!pw_number(k->target, &v)) {
			q = xasprintf("%s.target", p);
			conf_check_expr(k->target, q, errs, pm);
			free(q);
		}
		if (k->roster) {
			q = xasprintf("%s.roster", p);
			conf_check_expr(k->roster, q, errs, pm);
			free(q);
		}
		if (k->baseline && strcmp(k->baseline, "auto") != 0 && !pw_number(k->baseline, &v)) {
			q = xasprintf("%s.baseline", p);
			conf_err_at(errs, pm, q, false, "expected a number or \"auto\", found \"%s\"",
				    k->baseline);
			free(q);
		}
		bool times_ok = true;
		if (pw_parse_time(k->start, tz, &k->start_ms) != 0) {
			q = xasprintf("%s.start", p);
			conf_err_at(errs, pm, q, false, "expected a date or time, found \"%s\"", k->start);
			free(q);
			times_ok = false;
		}
		if (pw_parse_time(k->deadline, tz, &k->deadline_ms) != 0) {
			q = xasprintf("%s.deadline", p);
			conf_err_at(errs, pm, q, false, "expected a date or time, found \"%s\"",
				    k->deadline);
			free(q);
			times_ok = false;
		}
		if (times_ok && k->deadline_ms <= k->start_ms) {
			q = xasprintf("%s.deadline", p);
			conf_err_at(errs, pm, q, false, "the deadline (%s) is not after the start (%s)",
				    k->deadline, k->start);
			free(q);
		}
		check_milestones(k, p, tz, times_ok, errs, pm);
		check_kpi_units(c, k, p, errs, pm);
		pw_tz_free(tz);
		free(p);
	}
	conf_names_free(&names);
	check_rollups(c, errs, pm);
}

static bool valid_listen(const char *s)
{
	const char *colon;
	char *end;
	long port;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return false;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
	}
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && colon[1] && port >= 0 && port <= 65535;
}

/* Did loading already report an error at path? Then rules that read it
 * would only add noise. */
static _Thread_local const struct conf_names *load_errs; /* their paths */

static bool bad(const struct conf_errs *errs, size_t nload, const char *path)
{
	if (load_errs) /* a lookup per check, not a scan of the errors */
		return conf_names_find(load_errs, path) != SIZE_MAX;
	for (size_t i = 0; i < nload; i++)
		if (strcmp(errs->v[i].path, path) == 0)
			return true;
	return false;
}

/* global: the time zone, external labels, scrape interval and timeout */
static void check_global(struct conf *c, struct conf_errs *errs, const struct posmap *pm,
			 size_t nload)
{
	conf_check_tz(c->global.timezone, "global.timezone", errs, pm);
	check_label_names(&c->global.external_labels, "global.external_labels", errs, pm);
	/* auto: Chinese when a KPI's title is written in it (non-ASCII) */
	if (c->global.language == CONF_LANG_AUTO) {
		c->global.language = CONF_LANG_EN;
		for (size_t i = 0; i < c->nkpis; i++)
			for (const char *t = c->kpis[i].title; t && *t; t++)
				if ((unsigned char)*t >= 0x80)
					c->global.language = CONF_LANG_ZH;
	}
	if (bad(errs, nload, "global.scrape_interval") || bad(errs, nload, "global.scrape_timeout"))
		; /* already reported */
	else if (c->global.scrape_interval_ms <= 0)
		conf_err_at(errs, pm, "global.scrape_interval", false, "must be longer than 0s");
	else if (c->global.scrape_timeout_ms > c->global.scrape_interval_ms)
		conf_err_at(errs, pm, "global.scrape_timeout", false,
			    "scrape_timeout is longer than scrape_interval");
}

static void check_storage(struct conf *c, struct conf_errs *errs, const struct posmap *pm,
			  size_t nload)
{
	if (bad(errs, nload, "storage.initial_size") || bad(errs, nload, "storage.max_size"))
		; /* already reported */
	else if (c->storage.initial_size > c->storage.max_size)
		conf_err_at(errs, pm, "storage.initial_size", false,
			    "initial_size is larger than max_size");
	if (c->storage.retention_ms <= 0 && !bad(errs, nload, "storage.retention"))
		conf_err_at(errs, pm, "storage.retention", false, "must be longer than 0s");
}

/* http: listen addresses, TLS files and credentials that come in pairs */
static void check_http(struct conf *c, struct conf_errs *errs, const struct posmap *pm,
		       size_t nload)
{
	const struct conf_auth *auths[2] = {&c->http.read_auth, &c->http.write_auth};
	static const char *const names[2] = {"http.read_auth", "http.write_auth"};

	for (size_t i = 0; i < c->http.nlisten; i++) {
		if (!valid_listen(c->http.listen[i])) {
			char *p = xasprintf("http.listen[%zu]", i);
			conf_err_at(errs, pm, p, false,
				    "expected host:port or [ipv6]:port, found \"%s\"", c->http.listen[i]);
			free(p);
		}
	}
	if (!c->http.tls_cert_file != !c->http.tls_key_file)
		conf_err_at(errs, pm, c->http.tls_cert_file ? "http.tls_key_file" : "http.tls_cert_file",
			    false, "tls_cert_file and tls_key_file go together");
	else if (c->http.tls_cert_file) {
		/* what run would meet when it starts serving, told now, at the key */
		char *cause = NULL, *warning = NULL;
		if (conf_tls_check_files(c->http.tls_cert_file, c->http.tls_key_file,
					 pw_now_ms(), &cause, &warning) != 0)
			conf_err_at(errs, pm,
				    strstr(cause, "private key") || strstr(cause, "does not belong")
					    ? "http.tls_key_file"
					    : "http.tls_cert_file",
				    false, "%s", cause);
		if (warning)
			conf_warn_at(errs, pm, "http.tls_cert_file", false, "%s", warning);
		free(cause);
		free(warning);
	}
	for (size_t i = 0; i < c->http.nhealth_listen; i++) {
		if (!valid_listen(c->http.health_listen[i])) {
			char *p = xasprintf("http.health_listen[%zu]", i);
			conf_err_at(errs, pm, p, false, "expected host:port or [ipv6]:port, found \"%s\"",
				    c->http.health_listen[i]);
			free(p);
		}
	}
	for (int a = 0; a < 2; a++) {
		if (!auths[a]->username != !auths[a]->password) {
			char *q = xasprintf("%s.%s", names[a],
					    auths[a]->username ? "password_file" : "username");
			if (!bad(errs, nload, q)) /* an unreadable or empty file was reported */
				conf_err_at(errs, pm, q, false, "username and password_file go together");
			free(q);
		}
	}
}

static void check_shard(struct conf *c, struct conf_errs *errs, const struct posmap *pm,
			size_t nload)
{
	if (c->global.shard_index >= c->global.shard_count && !bad(errs, nload, "global.shard.index"))
		conf_err_at(errs, pm, "global.shard.index", false,
			    "shard index %lld is not below shard count %lld",
			    (long long)c->global.shard_index, (long long)c->global.shard_count);
}

/* remote_write[i], at path p: a unique name, the URL, labels, backoffs */
static void check_remote_write(struct conf *c, size_t i, const char *p, struct conf_errs *errs,
			       const struct posmap *pm)
{
	struct conf_remote_write *w = &c->remote_write[i];
	char *q;

	if (strncmp(w->url, "http://", 7) != 0 && strncmp(w->url, "https://", 8) != 0) {
		q = xasprintf("%s.url", p);
		conf_err_at(errs, pm, q, false, "expected an http:// or https:// URL, found \"%s\"",
			    w->url);
		free(q);
	}
	q = xasprintf("%s.external_labels", p);
	check_label_names(&w->external_labels, q, errs, pm);
	free(q);
	q = xasprintf("%s.headers", p);
	conf_check_headers(&w->headers, q, errs, pm);
	free(q);
	if (w->max_backoff_ms < w->min_backoff_ms) {
		q = xasprintf("%s.max_backoff", p);
		conf_err_at(errs, pm, q, false, "max_backoff is shorter than min_backoff");
		free(q);
	}
	if (w->batch_deadline_ms <= 0 || w->max_span_ms <= 0) {
		q = xasprintf("%s.%s", p, w->batch_deadline_ms <= 0 ? "batch_deadline" : "max_span");
		conf_err_at(errs, pm, q, false, "must be longer than 0s");
		free(q);
	}
}

static void check_remote_writes(struct conf *c, struct conf_errs *errs, const struct posmap *pm)
{
	struct conf_names names = {0};
	for (size_t i = 0; i < c->nremote_write; i++) {
		char *p;
		size_t j = conf_names_add(&names, c->remote_write[i].name, i);
		if (!c->remote_write[i].name || !c->remote_write[i].url)
			continue; /* already reported as missing */
		p = xasprintf("remote_write[%zu]", i);
		if (j != SIZE_MAX) {
			char *q = xasprintf("%s.name", p);
			conf_err_at(errs, pm, q, false,
				    "remote_write name \"%s\" is already used by remote_write[%zu]",
				    c->remote_write[i].name, j);
			free(q);
		}
		check_remote_write(c, i, p, errs, pm);
		free(p);
	}
	conf_names_free(&names);
}

/* targets[i], at path p: a unique name, the URL, interval, timeout and
 * time zone (defaults from global filled in), labels */
static void check_target_common(struct conf *c, size_t i, const char *p, struct conf_errs *errs,
				const struct posmap *pm, size_t nload)
{
	struct conf_target *t = &c->targets[i];
	char *q;

	if (t->path) {
		/* a ledger file, relative to the configuration's folder: made absolute
		 * (the collector looks at it) and read as its file:// URL */
		const char *slash = c->path ? strrchr(c->path, '/') : NULL;
		char *abs = t->path[0] == '/' || !slash
				    ? xstrdup(t->path)
				    : xasprintf("%.*s/%s", (int)(slash - c->path), c->path, t->path);
		if (abs[0] != '/') {
			char cwd[4096], *a;
			if (getcwd(cwd, sizeof cwd)) {
				a = xasprintf("%s/%s", cwd, abs);
				free(abs);
				abs = a;
			}
		}
		struct pw_buf u;
		pw_buf_init(&u, 0);
		pw_buf_puts(&u, "file://");
		for (const unsigned char *b = (const unsigned char *)abs; *b; b++) {
			if (isalnum(*b) || strchr("/-._~", *b))
				pw_buf_putc(&u, (char)*b);
			else
				pw_buf_printf(&u, "%%%02X", *b);
		}
		free(t->path);
		t->path = abs;
		t->url = pw_buf_take(&u);
	}
	if (strncmp(t->url, "http://", 7) != 0 && strncmp(t->url, "https://", 8) != 0 &&
	    strncmp(t->url, "file://", 7) != 0) {
		q = xasprintf("%s.url", p);
		conf_err_at(errs, pm, q, false,
			    "expected an http://, https:// or file:// URL, found \"%s\"", t->url);
		free(q);
	}
	if (t->interval_ms == 0)
		t->interval_ms = c->global.scrape_interval_ms;
	if (t->timeout_ms == 0)
		t->timeout_ms = c->global.scrape_timeout_ms < t->interval_ms
					? c->global.scrape_timeout_ms
					: t->interval_ms;
	q = xasprintf("%s.timeout", p);
	if (t->timeout_ms > t->interval_ms && !bad(errs, nload, q))
		conf_err_at(errs, pm, q, false, "timeout is longer than the target's interval");
	free(q);
	if (!t->timezone)
		t->timezone = xstrdup(c->global.timezone ? c->global.timezone : "Asia/Shanghai");
	else {
		q = xasprintf("%s.timezone", p);
		conf_check_tz(t->timezone, q, errs, pm);
		free(q);
	}
	q = xasprintf("%s.headers", p);
	conf_check_headers(&t->headers, q, errs, pm);
	free(q);
	q = xasprintf("%s.labels", p);
	check_label_names(&t->labels, q, errs, pm);
	free(q);
}

/* the keys the target's format needs, and those only json takes */
static void check_target_format(const struct conf_target *t, const char *p,
				struct conf_errs *errs, const struct posmap *pm)
{
	char *q;

	if (t->format == CONF_FORMAT_JSON && t->nmetrics == 0) {
		q = xasprintf("%s.format", p);
		conf_err_at(errs, pm, t->format ? q : p, false,
			    "a json target needs \"metrics\": which values to take from the response");
		free(q);
	}
	if (t->format != CONF_FORMAT_JSON && t->nmetrics > 0) {
		q = xasprintf("%s.metrics", p);
		conf_err_at(errs, pm, q, true, "\"metrics\" applies to format \"json\" only");
		free(q);
	}
}

/* a ledger's columns at p (docs/ledgers.md): the delimiter, metric and label names */
static void check_ledger_cols(const struct conf_csv *l, const char *p, struct conf_errs *errs,
			      const struct posmap *pm)
{
	char *q;

	if (l->delimiter && strlen(l->delimiter) != 1) {
		q = xasprintf("%s.delimiter", p);
		conf_err_at(errs, pm, q, false, "expected one character");
		free(q);
	}
	for (size_t k = 0; k < l->values.n; k++) {
		if (!pw_valid_metric_name(l->values.v[k].name, strlen(l->values.v[k].name))) {
			q = xasprintf("%s.values.%s", p, l->values.v[k].name);
			conf_err_at(errs, pm, q, true, "\"%s\" is not a valid metric name",
				    l->values.v[k].name);
			free(q);
		}
	}
	q = xasprintf("%s.labels", p);
	check_label_names(&l->labels, q, errs, pm);
	free(q);
	for (size_t k = 0; k < l->value_map.n; k++) {
		double d;
		const char *end, *val = l->value_map.v[k].value;
		if (*val && (pw_parse_double(val, val + strlen(val), &d, &end) != 0 || *end)) {
			q = xasprintf("%s.value_map.%s", p, l->value_map.v[k].name);
			conf_err_at(errs, pm, q, false,
				    "expected a number, or \"\" for a blank cell, found \"%s\"", val);
			free(q);
		}
	}
}

/* csv and xlsx: value columns (in ledger, or csv for format csv) */
static void check_target_csv(const struct conf_target *t, const char *p, struct conf_errs *errs,
			     const struct posmap *pm)
{
	char *q;
	int is_ledger = t->format == CONF_FORMAT_CSV || t->format == CONF_FORMAT_XLSX;

	if (t->csv.values.n && t->ledger.values.n) {
		q = xasprintf("%s.csv", p);
		conf_err_at(errs, pm, q, false, "give either \"ledger\" or its older name \"csv\", not both");
		free(q);
	} else if (is_ledger && t->csv.values.n == 0 && t->ledger.values.n == 0) {
		int csv = t->format == CONF_FORMAT_CSV;
		q = xasprintf("%s.%s", p, csv ? "csv" : "ledger");
		conf_err_at(errs, pm, q, false, "a %s target needs %s.values: which columns are metrics",
			    csv ? "csv" : "xlsx", csv ? "csv" : "ledger");
		free(q);
	}
	q = xasprintf("%s.csv", p);
	check_ledger_cols(&t->csv, q, errs, pm);
	free(q);
	q = xasprintf("%s.ledger", p);
	check_ledger_cols(&t->ledger, q, errs, pm);
	free(q);
}

static void check_ledgers(struct conf *c, struct conf_errs *errs, const struct posmap *pm)
{
	struct conf_names names = {0};
	for (size_t i = 0; i < c->nledgers; i++) {
		struct conf_ledger *l = &c->ledgers[i];
		size_t j = conf_names_add(&names, l->name, i);
		char *p = xasprintf("ledgers[%zu]", i), *q;
		if (!l->name) {
			free(p);
			continue;
		}
		if (j != SIZE_MAX) {
			q = xasprintf("%s.name", p);
			conf_err_at(errs, pm, q, false,
				    "ledger name \"%s\" is already used by ledgers[%zu]", l->name, j);
			free(q);
		}
		if (l->format != CONF_FORMAT_CSV && l->format != CONF_FORMAT_XLSX) {
			q = xasprintf("%s.format", p);
			conf_err_at(errs, pm, q, false, "a ledger is \"csv\" or \"xlsx\"");
			free(q);
		}
		if (l->ledger.values.n == 0) {
			q = xasprintf("%s.ledger", p);
			conf_err_at(errs, pm, q, false, "a ledger needs ledger.values: which columns are metrics");
			free(q);
		}
		q = xasprintf("%s.ledger", p);
		check_ledger_cols(&l->ledger, q, errs, pm);
		free(q);
		q = xasprintf("%s.labels", p);
		check_label_names(&l->labels, q, errs, pm);
		free(q);
		if (!l->timezone)
			c->ledgers[i].timezone =
				xstrdup(c->global.timezone ? c->global.timezone : "Asia/Shanghai");
		q = xasprintf("%s.timezone", p);
		conf_check_tz(c->ledgers[i].timezone, q, errs, pm);
		free(q);
		free(p);
	}
	conf_names_free(&names);
}

/* one of a json target's metrics, at path mp */
static void check_json_metric(const struct conf_json_metric *jm, const char *mp,
			      struct conf_errs *errs, const struct posmap *pm)
{
	char *q;

	if (jm->metric && !pw_valid_metric_name(jm->metric, strlen(jm->metric))) {
		q = xasprintf("%s.metric", mp);
		conf_err_at(errs, pm, q, false,
			    "\"%s\" is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
			    jm->metric);
		free(q);
	}
	if (jm->type && strcmp(jm->type, "counter") && strcmp(jm->type, "gauge") &&
	    strcmp(jm->type, "untyped")) {
		q = xasprintf("%s.type", mp);
		conf_err_at(errs, pm, q, false,
			    "expected \"counter\", \"gauge\" or \"untyped\", found \"%s\"", jm->type);
		free(q);
	}
	q = xasprintf("%s.labels", mp);
	check_label_names(&jm->labels, q, errs, pm);
	free(q);
	for (size_t k = 0; k < jm->value_map.n; k++) {
		double d;
		const char *end, *val = jm->value_map.v[k].value;
		if (pw_parse_double(val, val + strlen(val), &d, &end) != 0 || *end) {
			q = xasprintf("%s.value_map.%s", mp, jm->value_map.v[k].name);
			conf_err_at(errs, pm, q, false, "expected a number, found \"%s\"", val);
			free(q);
		}
	}
}

static void check_target(struct conf *c, size_t i, const char *p, struct conf_errs *errs,
			 const struct posmap *pm, size_t nload)
{
	const struct conf_target *t = &c->targets[i];
	char *q;

	check_target_common(c, i, p, errs, pm, nload);
	check_target_format(t, p, errs, pm);
	check_target_csv(t, p, errs, pm);
	if (t->pagination.next_path && t->pagination.page_param) {
		q = xasprintf("%s.pagination.page_param", p);
		conf_err_at(errs, pm, q, true, "give either \"next\" or \"page_param\", not both");
		free(q);
	}
	/* an origin a pagination link may lead to: scheme, host and port only
	 * (docs/collector.md); the collector compares it to links */
	for (size_t k = 0; k < t->pagination.nallowed_origins; k++) {
		const char *o = t->pagination.allowed_origins[k], *h;
		size_t hl;
		h = strncmp(o, "https://", 8) == 0 ? o + 8 : strncmp(o, "http://", 7) == 0 ? o + 7 : NULL;
		hl = h ? strcspn(h, "/?#@") : 0;
		if (!h || hl == 0 || (h[hl] && strcmp(h + hl, "/") != 0)) {
			q = xasprintf("%s.pagination.allowed_origins[%zu]", p, k);
			conf_err_at(errs, pm, q, false,
				    "expected an origin such as \"https://host\" or \"http://host:8080\" "
				    "(http or https, host and port only), found \"%s\"", o);
			free(q);
		}
	}
	for (size_t m = 0; m < t->nmetrics; m++) {
		char *mp = xasprintf("%s.metrics[%zu]", p, m);
		check_json_metric(&t->metrics[m], mp, errs, pm);
		free(mp);
	}
	conf_check_target_runtime(t, p, errs, pm);
}

static void check_targets(struct conf *c, struct conf_errs *errs, const struct posmap *pm,
			  size_t nload)
{
	struct conf_names names = {0};
	for (size_t i = 0; i < c->ntargets; i++) {
		char *p;
		size_t j = conf_names_add(&names, c->targets[i].name, i);
		if (!c->targets[i].name)
			continue; /* already reported as missing */
		p = xasprintf("targets[%zu]", i);
		if (j != SIZE_MAX) {
			char *q = xasprintf("%s.name", p);
			conf_err_at(errs, pm, q, false,
				    "target name \"%s\" is already used by targets[%zu]",
				    c->targets[i].name, j);
			free(q);
		}
		if (!c->targets[i].url == !c->targets[i].path) {
			conf_err_at(errs, pm, p, false, "%s", c->targets[i].url
				    ? "give either \"url\" or \"path\", not both"
				    : "missing required key \"url\" (or \"path\", a ledger file)");
			free(p);
			continue;
		}
		check_target(c, i, p, errs, pm, nload);
		free(p);
	}
	conf_names_free(&names);
}

/* Section by section, in the order the errors are reported in. */
void conf_validate(struct conf *c, struct conf_errs *errs, const struct posmap *pm)
{
	size_t nload = errs->n; /* the errors loading found */
	struct conf_names paths = {0};

	for (size_t i = 0; i < nload; i++)
		conf_names_add(&paths, errs->v[i].path, i);
	load_errs = &paths;

	check_global(c, errs, pm, nload);
	check_ledgers(c, errs, pm);
	check_storage(c, errs, pm, nload);
	check_http(c, errs, pm, nload);
	check_rule_groups(c, errs, pm);
	conf_units_load(c, errs, pm);
	check_kpis(c, errs, pm);
	conf_validate_notify(c, errs, pm);
	check_shard(c, errs, pm, nload);
	check_remote_writes(c, errs, pm);
	check_targets(c, errs, pm, nload);
	load_errs = NULL;
	conf_names_free(&paths);
}
