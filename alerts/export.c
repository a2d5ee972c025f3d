/*
 * export.c — the configuration's rule groups and KPIs as a Prometheus rule
 * file, for a central Prometheus, vmalert or Mimir ruler over a fleet of
 * pacewatch instances (`pacewatch export-rules`). Every string is a YAML
 * double-quoted (JSON) string.
 *
 * A KPI becomes a group of recording rules in standard PromQL that write
 * the series pacewatch writes (pacewatch_kpi_value, _target, _expected,
 * _progress_ratio, _expected_ratio, _forecast, _deadline_timestamp_seconds;
 * plus pacewatch_kpi_baseline, which the others use) and the KPI alerts the
 * model's table (kpi_model.c) gives a PromQL condition. The plan is the
 * model's: its points become a sum of clamped segments of time(). What
 * PromQL rules cannot carry is said in comments.
 */
#include "alerts_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ex {
	struct pw_buf *b;
	struct pw_buf warn;
};

static void q(struct ex *x, const char *s) { pw_buf_json_string(x->b, s); }

static void num(char *dst, size_t sz, double v) { pw_fmt_float(dst, sz, v, PW_FMT_PROM); }

static void duration(struct ex *x, const char *key, int64_t ms, const char *ind)
{
	if (ms > 0)
		pw_buf_printf(x->b, "%s%s: %llds\n", ind, key, (long long)(ms / 1000));
	if (ms % 1000)
		pw_buf_printf(&x->warn, "%s of %lld ms rounded to seconds\n", key, (long long)ms);
}

static void kvs(struct ex *x, const char *key, const struct pw_label *l, size_t n, const char *ind)
{
	if (!n)
		return;
	pw_buf_printf(x->b, "%s%s:\n", ind, key);
	for (size_t i = 0; i < n; i++) {
		pw_buf_printf(x->b, "%s  ", ind);
		q(x, l[i].name);
		pw_buf_puts(x->b, ": ");
		q(x, l[i].value);
		pw_buf_puts(x->b, "\n");
	}
}

static void conf_kvs(struct ex *x, const char *key, const struct conf_kvs *kv, const char *ind)
{
	struct pw_label *l = xcalloc(kv->n + 1, sizeof *l);
	for (size_t i = 0; i < kv->n; i++)
		l[i] = (struct pw_label){kv->v[i].name, kv->v[i].value};
	kvs(x, key, l, kv->n, ind);
	free(l);
}

static void rule_groups(struct ex *x, const struct conf *c)
{
	for (size_t g = 0; g < c->nrule_groups; g++) {
		const struct conf_rule_group *rg = &c->rule_groups[g];
		pw_buf_puts(x->b, "  - name: ");
		q(x, rg->name);
		pw_buf_puts(x->b, "\n");
		duration(x, "interval", rg->interval_ms, "    ");
		if (rg->limit)
			pw_buf_printf(x->b, "    limit: %lld\n", (long long)rg->limit);
		pw_buf_puts(x->b, "    rules:\n");
		for (size_t r = 0; r < rg->nrules; r++) {
			const struct conf_rule *ru = &rg->rules[r];
			pw_buf_printf(x->b, "      - %s: ", ru->alert ? "alert" : "record");
			q(x, ru->alert ? ru->alert : ru->record);
			pw_buf_puts(x->b, "\n        expr: ");
			q(x, ru->expr);
			pw_buf_puts(x->b, "\n");
			duration(x, "for", ru->for_ms, "        ");
			duration(x, "keep_firing_for", ru->keep_firing_for_ms, "        ");
			conf_kvs(x, "labels", &ru->labels, "        ");
			conf_kvs(x, "annotations", &ru->annotations, "        ");
		}
	}
}

/* ---- a KPI ------------------------------------------------------------------------ */

/* pacewatch_kpi_<metric>{kpi="name"} */
static char *sel(const struct conf_kpi *k, const char *metric)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_buf_printf(&b, "pacewatch_kpi_%s{kpi=", metric);
	pw_buf_json_string(&b, k->name); /* a JSON string is a PromQL string */
	pw_buf_putc(&b, '}');
	return pw_buf_take(&b);
}

static void record(struct ex *x, const char *name, const char *expr, const char *kpi)
{
	pw_buf_printf(x->b, "      - record: %s\n        expr: ", name);
	q(x, expr);
	pw_buf_puts(x->b, "\n        labels:\n          kpi: ");
	q(x, kpi);
	pw_buf_puts(x->b, "\n");
}

/* a number for every unit: group without () (value) * n */
static char *per_unit(const struct conf_kpi *k, double v)
{
	char n[400], *s = sel(k, "value"), *e;
	num(n, sizeof n, v);
	e = xasprintf("group without () (%s) * %s", s, n);
	free(s);
	return e;
}

/* a plan point's value in PromQL */
static char *point_expr(const struct conf_kpi *k, const struct kpi_point *p)
{
	char n[400], *b, *t, *e;
	switch (p->kind) {
	case KPI_PT_BASELINE: return sel(k, "baseline");
	case KPI_PT_TARGET: return sel(k, "target");
	case KPI_PT_VALUE:
		b = per_unit(k, p->x);
		e = xasprintf("(%s)", b);
		free(b);
		return e;
	default:
		num(n, sizeof n, p->x);
		b = sel(k, "baseline");
		t = sel(k, "target");
		e = xasprintf("(%s + %s * (%s - %s))", b, n, t, b);
		free(b);
		free(t);
		return e;
	}
}

/* the plan: the baseline plus, for each segment, its rise times how much of
 * it has passed (linear) or whether it has ended (step) */
static char *plan_expr(const struct conf_kpi *k)
{
	struct kpi_point pts[KPI_MAX_POINTS];
	size_t n = kpi_plan(k, pts);
	struct pw_buf e;
	char *base = sel(k, "baseline");
	pw_buf_init(&e, 0);
	pw_buf_puts(&e, base);
	free(base);
	for (size_t i = 1; i < n; i++) {
		char *a = point_expr(k, &pts[i - 1]), *b = point_expr(k, &pts[i]);
		char t0[40], t1[40];
		snprintf(t0, sizeof t0, "%.3f", (double)pts[i - 1].t / 1000);
		snprintf(t1, sizeof t1, "%.3f", (double)pts[i].t / 1000);
		pw_buf_printf(&e, "\n  + (%s - %s)", b, a);
		if (k->curve == CONF_CURVE_STEP)
			pw_buf_printf(&e, " * scalar(vector(time()) >= bool %s)", t1);
		else
			pw_buf_printf(&e, " * scalar(clamp((vector(time()) - %s) / (%s - %s), 0, 1))",
				      t0, t1, t0);
		free(a);
		free(b);
	}
	return pw_buf_take(&e);
}

/* a condition of the table with its placeholders filled in */
static char *condition(const struct conf_kpi *k, const char *tmpl)
{
	static const char *const series[] = {"value", "target", "expected", "baseline", "forecast"};
	bool at_most = k->direction == CONF_AT_MOST;
	struct pw_buf e;
	pw_buf_init(&e, 0);
	for (const char *p = tmpl; *p;) {
		char word[32], buf[400];
		size_t n = 0;
		const char *fill = NULL;
		char *own = NULL;
		if (*p != '$') {
			pw_buf_putc(&e, *p++);
			continue;
		}
		p++;
		while (n + 1 < sizeof word && ((*p >= 'a' && *p <= 'z') || *p == '_'))
			word[n++] = *p++;
		word[n] = '\0';
		for (size_t s = 0; s < sizeof series / sizeof series[0] && !fill; s++)
			if (!strcmp(word, series[s]))
				fill = own = sel(k, series[s]);
		if (fill) {
		} else if (!strcmp(word, "met")) {
			char *v = sel(k, "value"), *t = sel(k, "target");
			fill = own = xasprintf("%s %s %s", v, at_most ? "<=" : ">=", t);
			free(v);
			free(t);
		} else if (!strcmp(word, "deadline")) {
			snprintf(buf, sizeof buf, "%.3f", (double)k->deadline_ms / 1000);
			fill = buf;
		} else if (!strcmp(word, "tolerance")) {
			num(buf, sizeof buf, k->tolerance);
			fill = buf;
		} else if (!strcmp(word, "short")) {
			fill = at_most ? ">" : "<";
		} else if (!strcmp(word, "gap")) {
			fill = at_most ? "-" : "";
		} else {
			fill = word; /* not a placeholder */
			pw_buf_putc(&e, '$');
		}
		pw_buf_puts(&e, fill);
		free(own);
	}
	return pw_buf_take(&e);
}

static void kpi_alert(struct ex *x, const struct conf_kpi *k, enum kpi_alert a)
{
	const struct kpi_alert_def *d = &kpi_alert_defs[a];
	const char *sev = kpi_severity(k, a);
	char *expr = condition(k, d->promql);
	pw_buf_printf(x->b, "      - alert: %s\n        expr: ", d->name);
	q(x, expr);
	pw_buf_puts(x->b, "\n");
	free(expr);
	duration(x, "for", d->uses_for ? k->for_ms : 0, "        ");
	pw_buf_puts(x->b, "        labels:\n          kpi: ");
	q(x, k->name);
	pw_buf_puts(x->b, "\n          severity: ");
	q(x, sev ? sev : "warning");
	pw_buf_puts(x->b, "\n");
	if (k->owner) {
		pw_buf_puts(x->b, "          owner: ");
		q(x, k->owner);
		pw_buf_puts(x->b, "\n");
	}
	if (k->contact) {
		pw_buf_puts(x->b, "          contact: ");
		q(x, k->contact);
		pw_buf_puts(x->b, "\n");
	}
	pw_buf_puts(x->b, "        annotations:\n          title: ");
	q(x, k->title ? k->title : k->name);
	pw_buf_puts(x->b, "\n          summary: ");
	q(x, d->export_summary);
	pw_buf_puts(x->b, "\n");
}

/* the value at start (pacewatch reads it with stale_after lookback) */
static char *baseline_expr(const struct conf *c, const struct conf_kpi *k)
{
	double base;
	if (pw_number(k->baseline, &base))
		return per_unit(k, base);
	return xasprintf("last_over_time((%s)[%llds:%llds] @ %.3f)", k->value,
			 (long long)(k->stale_after_ms / 1000),
			 (long long)(c->global.evaluation_interval_ms / 1000 > 0
					     ? c->global.evaluation_interval_ms / 1000
					     : 60),
			 (double)k->start_ms / 1000);
}

/* ordinary least squares over the forecast window, at the deadline: a
 * selector over its own samples, an expression sampled 60 times */
static char *forecast_expr(const struct conf_kpi *k)
{
	struct query_expr *qx;
	struct query_error qe = {0};
	bool selector = false;
	char t1[40];
	if (query_parse(k->value, &qx, &qe) == 0) {
		selector = query_expr_is_selector(qx);
		query_expr_free(qx);
	}
	query_error_clear(&qe);
	snprintf(t1, sizeof t1, "%.3f", (double)k->deadline_ms / 1000);
	if (selector)
		return xasprintf("predict_linear(%s[%llds], %s - time()) and on () (vector(time()) < %s)",
				 k->value, (long long)(k->forecast_ms / 1000), t1, t1);
	return xasprintf("predict_linear((%s)[%llds:%llds], %s - time()) and on () "
			 "(vector(time()) < %s)",
			 k->value, (long long)(k->forecast_ms / 1000),
			 (long long)(k->forecast_ms / 60000 > 60 ? k->forecast_ms / 60000 : 60), t1, t1);
}

static void kpi(struct ex *x, const struct conf *c, const struct conf_kpi *k)
{
	char *e, *g;
	double target;
	pw_buf_puts(x->b, "  # KPI ");
	pw_buf_puts(x->b, k->name);
	if (k->title) {
		pw_buf_puts(x->b, " — ");
		pw_buf_puts(x->b, k->title);
	}
	pw_buf_puts(x->b, "\n");
	if (k->period != CONF_PERIOD_NONE) {
		pw_buf_puts(x->b, "  # not exported: a calendar quota (period) counts within local "
				  "calendar periods, which PromQL rules cannot express; pacewatch "
				  "evaluates it\n");
		return;
	}
	if (k->coverage) {
		pw_buf_puts(x->b, "  # not exported: a coverage KPI is judged against its roster and "
				  "the units' history; pacewatch evaluates it\n");
		return;
	}
	if (k->rollup.kpi) {
		pw_buf_puts(x->b, "  # not exported: a roll-up's value is made from another KPI's "
				  "units through the units table, which PromQL rules cannot express; "
				  "pacewatch evaluates it\n");
		return;
	}
	if (k->has_peers) {
		pw_buf_puts(x->b, "  # not exported: a below-the-peers KPI judges each unit against "
				  "its group at every slot and has no target of its own; pacewatch "
				  "evaluates it\n");
		return;
	}
	pw_buf_puts(x->b, "  # not carried: the lagging alert's hysteresis (here it clears as soon "
			  "as the unit is back within tolerance), KpiAtRisk's wait for points "
			  "spanning half the forecast window, KpiStale and KpiUnitMissing "
			  "(roster), and pacewatch_kpi_status\n");
	if (!pw_number(k->baseline, &target))
		pw_buf_puts(x->b, "  # baseline auto: the value at start, from a subquery at start "
				  "(pacewatch reads the value at start with stale_after lookback); not "
				  "carried: a unit without a value at start (a late starter), whose "
				  "baseline and plan pacewatch takes from its first value\n");
	g = xasprintf("pacewatch-kpi:%s", k->name);
	pw_buf_puts(x->b, "  - name: ");
	q(x, g);
	free(g);
	pw_buf_puts(x->b, "\n");
	duration(x, "interval", c->global.evaluation_interval_ms, "    ");
	pw_buf_puts(x->b, "    rules:\n");
	record(x, "pacewatch_kpi_value", k->value, k->name);
	e = pw_number(k->target, &target) ? per_unit(k, target) : xstrdup(k->target);
	record(x, "pacewatch_kpi_target", e, k->name);
	free(e);
	e = baseline_expr(c, k);
	record(x, "pacewatch_kpi_baseline", e, k->name);
	free(e);
	e = plan_expr(k);
	record(x, "pacewatch_kpi_expected", e, k->name);
	free(e);
	e = condition(k, "($value - $baseline) / ($target - $baseline)");
	record(x, "pacewatch_kpi_progress_ratio", e, k->name);
	free(e);
	e = condition(k, "($expected - $baseline) / ($target - $baseline)");
	record(x, "pacewatch_kpi_expected_ratio", e, k->name);
	free(e);
	e = forecast_expr(k);
	record(x, "pacewatch_kpi_forecast", e, k->name);
	free(e);
	e = condition(k, "group without () ($value) * $deadline");
	record(x, "pacewatch_kpi_deadline_timestamp_seconds", e, k->name);
	free(e);
	for (int a = 0; a < KPI_NALERTS; a++)
		if (kpi_alert_defs[a].promql && kpi_alert_applies(k, (enum kpi_alert)a))
			kpi_alert(x, k, (enum kpi_alert)a);
}

void alerts_export_rules(const struct conf *c, const char *source, struct pw_buf *b,
			 char **warnings)
{
	struct ex x = {.b = b};
	pw_buf_init(&x.warn, 0);
	pw_buf_printf(b, "# Prometheus rules from %s, written by pacewatch %s export-rules.\n", source,
		      PW_VERSION);
	pw_buf_puts(b, "# The rule groups as they are, then each KPI as recording rules that write\n"
		       "# the pacewatch_kpi_* series pacewatch writes (plus pacewatch_kpi_baseline)\n"
		       "# and the alerts KpiLagging, KpiAtRisk, KpiMissed. Load them into a central\n"
		       "# Prometheus, vmalert or Mimir ruler over the instances' data.\n");
	pw_buf_puts(b, c->nrule_groups || c->nkpis ? "groups:\n" : "groups: []\n");
	rule_groups(&x, c);
	for (size_t i = 0; i < c->nkpis; i++)
		kpi(&x, c, &c->kpis[i]);
	*warnings = x.warn.len ? pw_buf_take(&x.warn) : NULL;
	pw_buf_free(&x.warn);
}
