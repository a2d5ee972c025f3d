/*
 * cli_export.c — `pacewatch export-rules -c FILE`: the configuration's
 * rule groups and KPIs as a Prometheus rule file, for a central Prometheus,
 * vmalert or Mimir ruler over a fleet of pacewatch instances. Every string
 * is written as a YAML double-quoted (JSON) string.
 *
 * A KPI becomes a group of recording rules in standard PromQL that write
 * the series pacewatch writes (pacewatch_kpi_value, _target, _expected,
 * _progress_ratio, _expected_ratio, _forecast, _deadline_timestamp_seconds;
 * plus pacewatch_kpi_baseline, which the others use), the trajectory as a
 * sum of clamped segments of time(), the forecast through predict_linear,
 * and the alerts KpiLagging, KpiAtRisk and KpiMissed. What PromQL rules
 * cannot carry is said in comments: hysteresis, calendar quotas, stale and
 * missing units, the status series.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "common.h"
#include "conf.h"
#include "daemon.h"
#include "query.h"

static void q(struct pw_buf *b, const char *s)
{
	pw_buf_json_string(b, s);
}

static bool number(const char *s, double *v)
{
	char *end;
	if (!s || !*s)
		return false;
	*v = strtod(s, &end);
	return *end == '\0';
}

/* shortest text that reads back as the same double */
static void fnum(char *dst, size_t sz, double v)
{
	for (int p = 1; p <= 17; p++) {
		snprintf(dst, sz, "%.*g", p, v);
		if (strtod(dst, NULL) == v)
			return;
	}
}

static void kvs(struct pw_buf *b, const char *key, const struct conf_kvs *kv, const char *ind)
{
	if (!kv->n)
		return;
	pw_buf_printf(b, "%s%s:\n", ind, key);
	for (size_t i = 0; i < kv->n; i++) {
		pw_buf_printf(b, "%s  ", ind);
		q(b, kv->v[i].name);
		pw_buf_puts(b, ": ");
		q(b, kv->v[i].value);
		pw_buf_puts(b, "\n");
	}
}

static void duration(struct pw_buf *b, const char *key, int64_t ms, const char *ind)
{
	if (ms > 0)
		pw_buf_printf(b, "%s%s: %llds\n", ind, key, (long long)(ms / 1000));
	if (ms % 1000)
		fprintf(stderr, "pacewatch: export-rules: %s of %lld ms rounded to seconds\n", key,
			(long long)ms);
}

static void rule_groups(struct pw_buf *b, const struct conf *c)
{
	for (size_t g = 0; g < c->nrule_groups; g++) {
		const struct conf_rule_group *rg = &c->rule_groups[g];
		pw_buf_puts(b, "  - name: ");
		q(b, rg->name);
		pw_buf_puts(b, "\n");
		duration(b, "interval", rg->interval_ms, "    ");
		if (rg->limit)
			pw_buf_printf(b, "    limit: %lld\n", (long long)rg->limit);
		pw_buf_puts(b, "    rules:\n");
		for (size_t r = 0; r < rg->nrules; r++) {
			const struct conf_rule *ru = &rg->rules[r];
			pw_buf_printf(b, "      - %s: ", ru->alert ? "alert" : "record");
			q(b, ru->alert ? ru->alert : ru->record);
			pw_buf_puts(b, "\n        expr: ");
			q(b, ru->expr);
			pw_buf_puts(b, "\n");
			duration(b, "for", ru->for_ms, "        ");
			duration(b, "keep_firing_for", ru->keep_firing_for_ms, "        ");
			kvs(b, "labels", &ru->labels, "        ");
			kvs(b, "annotations", &ru->annotations, "        ");
		}
	}
}

static void record(struct pw_buf *b, const char *name, const char *expr, const char *kpi)
{
	pw_buf_printf(b, "      - record: %s\n        expr: ", name);
	q(b, expr);
	pw_buf_puts(b, "\n        labels:\n          kpi: ");
	q(b, kpi);
	pw_buf_puts(b, "\n");
}

static void alert(struct pw_buf *b, const struct conf_kpi *k, const char *name, const char *expr,
		  int64_t for_ms, const char *severity, const char *summary)
{
	pw_buf_printf(b, "      - alert: %s\n        expr: ", name);
	q(b, expr);
	pw_buf_puts(b, "\n");
	duration(b, "for", for_ms, "        ");
	pw_buf_puts(b, "        labels:\n          kpi: ");
	q(b, k->name);
	pw_buf_puts(b, "\n          severity: ");
	q(b, severity);
	pw_buf_puts(b, "\n");
	if (k->owner) {
		pw_buf_puts(b, "          owner: ");
		q(b, k->owner);
		pw_buf_puts(b, "\n");
	}
	if (k->contact) {
		pw_buf_puts(b, "          contact: ");
		q(b, k->contact);
		pw_buf_puts(b, "\n");
	}
	pw_buf_puts(b, "        annotations:\n          title: ");
	q(b, k->title ? k->title : k->name);
	pw_buf_puts(b, "\n          summary: ");
	q(b, summary);
	pw_buf_puts(b, "\n");
}

static void kpi(struct pw_buf *b, const struct conf *c, const struct conf_kpi *k)
{
	char sel[600], *x, t0[40], t1[40], num[40];
	double target = NAN, base = NAN;
	bool target_num = number(k->target, &target), base_num = number(k->baseline, &base);
	bool at_most = k->direction == CONF_AT_MOST;
	struct pw_buf e;
	/* pacewatch_kpi_<s>{kpi="name"} */
	{
		size_t w = 0;
		for (const char *p = k->name; *p && w + 3 < sizeof sel; p++) {
			if (*p == '"' || *p == '\\')
				sel[w++] = '\\';
			sel[w++] = *p;
		}
		sel[w] = '\0';
	}
#define S(metric) "pacewatch_kpi_" metric "{kpi=\"%s\"}"
	pw_buf_puts(b, "  # KPI ");
	pw_buf_puts(b, k->name);
	if (k->title) {
		pw_buf_puts(b, " — ");
		pw_buf_puts(b, k->title);
	}
	pw_buf_puts(b, "\n");
	if (k->period != CONF_PERIOD_NONE) {
		pw_buf_puts(b, "  # not exported: a calendar quota (period) counts within local calendar "
			       "periods, which PromQL rules cannot express; pacewatch evaluates it\n");
		return;
	}
	pw_buf_puts(b, "  # not carried: the lagging alert's hysteresis (here it clears as soon as "
		       "the unit is back within tolerance), KpiStale and KpiUnitMissing (roster), and "
		       "pacewatch_kpi_status\n");
	if (!base_num)
		pw_buf_puts(b, "  # baseline auto: the value at start, from a subquery at start "
			       "(pacewatch reads the value at start with stale_after lookback)\n");
	pw_buf_puts(b, "  - name: ");
	x = xasprintf("pacewatch-kpi:%s", k->name);
	q(b, x);
	free(x);
	pw_buf_puts(b, "\n");
	duration(b, "interval", c->global.evaluation_interval_ms, "    ");
	pw_buf_puts(b, "    rules:\n");
	record(b, "pacewatch_kpi_value", k->value, k->name);
	/* target and baseline: a number for every unit, or an expression */
	pw_buf_init(&e, 0);
	if (target_num) {
		fnum(num, sizeof num, target);
		pw_buf_printf(&e, "group without () (" S("value") ") * %s", sel, num);
	} else {
		pw_buf_puts(&e, k->target);
	}
	record(b, "pacewatch_kpi_target", e.data, k->name);
	pw_buf_free(&e);
	pw_buf_init(&e, 0);
	if (base_num) {
		fnum(num, sizeof num, base);
		pw_buf_printf(&e, "group without () (" S("value") ") * %s", sel, num);
	} else {
		pw_buf_printf(&e, "last_over_time((%s)[%llds:%llds] @ %.3f)", k->value,
			      (long long)(k->stale_after_ms / 1000),
			      (long long)(c->global.evaluation_interval_ms / 1000 > 0
						  ? c->global.evaluation_interval_ms / 1000
						  : 60),
			      (double)k->start_ms / 1000);
	}
	record(b, "pacewatch_kpi_baseline", e.data, k->name);
	pw_buf_free(&e);

	/* the trajectory: baseline + the sum over the plan's segments of the
	 * segment's rise times how much of it has passed (linear) or whether it
	 * has ended (step) */
	pw_buf_init(&e, 0);
	pw_buf_printf(&e, S("baseline"), sel);
	{
		int64_t pt[66];
		char *pv[66];
		size_t n = 0;
		pt[n] = k->start_ms;
		pv[n++] = xasprintf(S("baseline"), sel);
		for (size_t m = 0; m < k->nmilestones && n < 65; m++) {
			double v, f;
			pt[n] = k->milestone_ms[m];
			if (number(k->milestones[m].value, &v)) {
				fnum(num, sizeof num, v);
				pv[n++] = xasprintf("(group without () (" S("value") ") * %s)", sel, num);
			} else if (number(k->milestones[m].fraction, &f)) {
				fnum(num, sizeof num, f);
				pv[n++] = xasprintf("(" S("baseline") " + %s * (" S("target") " - " S("baseline") "))",
						    sel, num, sel, sel);
			}
		}
		pt[n] = k->deadline_ms;
		pv[n++] = xasprintf(S("target"), sel);
		for (size_t i = 1; i < n; i++) {
			snprintf(t0, sizeof t0, "%.3f", (double)pt[i - 1] / 1000);
			snprintf(t1, sizeof t1, "%.3f", (double)pt[i] / 1000);
			pw_buf_printf(&e, "\n  + (%s - %s)", pv[i], pv[i - 1]);
			if (k->curve == CONF_CURVE_STEP)
				pw_buf_printf(&e, " * scalar(vector(time()) >= bool %s)", t1);
			else
				pw_buf_printf(&e, " * scalar(clamp((vector(time()) - %s) / (%s - %s), 0, 1))",
					      t0, t1, t0);
		}
		for (size_t i = 0; i < n; i++)
			free(pv[i]);
	}
	record(b, "pacewatch_kpi_expected", e.data, k->name);
	pw_buf_free(&e);

	x = xasprintf("(" S("value") " - " S("baseline") ") / (" S("target") " - " S("baseline") ")",
		      sel, sel, sel, sel);
	record(b, "pacewatch_kpi_progress_ratio", x, k->name);
	free(x);
	x = xasprintf("(" S("expected") " - " S("baseline") ") / (" S("target") " - " S("baseline") ")",
		      sel, sel, sel, sel);
	record(b, "pacewatch_kpi_expected_ratio", x, k->name);
	free(x);
	snprintf(t1, sizeof t1, "%.3f", (double)k->deadline_ms / 1000);
	/* ordinary least squares over the forecast window, at the deadline: a
	 * selector over its own samples, an expression sampled 60 times */
	bool selector = false;
	{
		struct query_expr *qx;
		struct query_error qe = {0};
		if (query_parse(k->value, &qx, &qe) == 0) {
			selector = query_expr_is_selector(qx);
			query_expr_free(qx);
		}
		query_error_clear(&qe);
	}
	if (selector)
		x = xasprintf("predict_linear(%s[%llds], %s - time()) and on () (vector(time()) < %s)",
			      k->value, (long long)(k->forecast_ms / 1000), t1, t1);
	else
		x = xasprintf("predict_linear((%s)[%llds:%llds], %s - time()) and on () (vector(time()) < %s)",
			      k->value, (long long)(k->forecast_ms / 1000),
			      (long long)(k->forecast_ms / 60000 > 60 ? k->forecast_ms / 60000 : 60), t1,
			      t1);
	record(b, "pacewatch_kpi_forecast", x, k->name);
	free(x);
	x = xasprintf("group without () (" S("value") ") * %s", sel, t1);
	record(b, "pacewatch_kpi_deadline_timestamp_seconds", x, k->name);
	free(x);

	/* alerts */
	const char *ge = at_most ? "<=" : ">=", *lt = at_most ? ">" : "<";
	char tol[40];
	fnum(tol, sizeof tol, k->tolerance);
	char *met = xasprintf(S("value") " %s " S("target"), sel, ge, sel);
	x = xasprintf("(%s(" S("expected") " - " S("value") ")) > %s * abs(" S("target") " - " S("baseline")
		      ")\nunless %s\nand on () (vector(time()) < %s)",
		      at_most ? "-" : "", sel, sel, tol, sel, sel, met, t1);
	alert(b, k, "KpiLagging", x, k->for_ms, k->severity ? k->severity : "warning",
	      "{{ $labels.kpi }}: behind the plan by {{ $value }}");
	free(x);
	x = xasprintf(S("forecast") " %s " S("target") "\nunless %s", sel, lt, sel, met);
	alert(b, k, "KpiAtRisk", x, 0, k->severity ? k->severity : "warning",
	      "{{ $labels.kpi }}: forecast at the deadline {{ $value }}, short of the target");
	free(x);
	x = xasprintf(S("value") " %s " S("target") "\nand on () (vector(time()) >= %s)", sel, lt, sel,
		      t1);
	alert(b, k, "KpiMissed", x, 0, "critical",
	      "{{ $labels.kpi }}: the deadline passed at {{ $value }}");
	free(x);
	free(met);
#undef S
}

int cmd_export_rules(int argc, char **argv)
{
	static const struct option lo[] = {{"config", required_argument, 0, 'c'}, {0, 0, 0, 0}};
	const char *cfg = NULL;
	struct conf *c = NULL;
	struct conf_errs errs;
	struct pw_buf b;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
		if (o == 'c')
			cfg = optarg;
		else
			return 2;
	}
	if (!cfg) {
		fprintf(stderr, "usage: pacewatch export-rules -c FILE\n");
		return 2;
	}
	if (conf_load(cfg, &c, &errs) != 0) {
		conf_errs_print(&errs, stderr);
		conf_errs_free(&errs);
		return 1;
	}
	conf_errs_free(&errs);
	pw_buf_init(&b, 0);
	pw_buf_printf(&b, "# Prometheus rules from %s, written by pacewatch %s export-rules.\n", cfg,
		      PW_VERSION);
	pw_buf_puts(&b, "# The rule groups as they are, then each KPI as recording rules that write\n"
			"# the pacewatch_kpi_* series pacewatch writes (plus pacewatch_kpi_baseline)\n"
			"# and the alerts KpiLagging, KpiAtRisk, KpiMissed. Load them into a central\n"
			"# Prometheus, vmalert or Mimir ruler over the instances' data.\n");
	pw_buf_puts(&b, c->nrule_groups || c->nkpis ? "groups:\n" : "groups: []\n");
	rule_groups(&b, c);
	for (size_t i = 0; i < c->nkpis; i++)
		kpi(&b, c, &c->kpis[i]);
	fwrite(b.data, 1, b.len, stdout);
	pw_buf_free(&b);
	conf_free(c);
	return 0;
}
