/*
 * kpi_model.c — what a KPI means, in one place (docs/kpis.md): its kind,
 * the plan, a unit's numbers and conditions, and the KPI alerts as a table
 * (name, the condition it follows, texts per language, its PromQL for
 * export-rules). The engine (kpi*.c) and export-rules (export.c) both read
 * this file, so a change to the model is made here once.
 */
#include "alerts_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum view_kpi_kind kpi_kind(const struct conf_kpi *c)
{
	if (c->has_peers)
		return VIEW_KPI_PEERS;
	if (c->coverage)
		return VIEW_KPI_COVERAGE;
	return c->period != CONF_PERIOD_NONE ? VIEW_KPI_QUOTA : VIEW_KPI_LEVEL;
}

/* ---- the plan ------------------------------------------------------------------------ */

size_t kpi_plan(const struct conf_kpi *c, struct kpi_point *pts)
{
	size_t n = 0;
	pts[n++] = (struct kpi_point){c->start_ms, KPI_PT_BASELINE, 0};
	for (size_t m = 0; m < c->nmilestones && n < KPI_MAX_POINTS - 1; m++) {
		double v;
		if (pw_number(c->milestones[m].value, &v))
			pts[n++] = (struct kpi_point){c->milestone_ms[m], KPI_PT_VALUE, v};
		else if (pw_number(c->milestones[m].fraction, &v))
			pts[n++] = (struct kpi_point){c->milestone_ms[m], KPI_PT_FRACTION, v};
	}
	pts[n++] = (struct kpi_point){c->deadline_ms, KPI_PT_TARGET, 0};
	return n;
}

double kpi_point_value(const struct kpi_point *p, double baseline, double target)
{
	switch (p->kind) {
	case KPI_PT_BASELINE: return baseline;
	case KPI_PT_TARGET: return target;
	case KPI_PT_VALUE: return p->x;
	default: return baseline + p->x * (target - baseline);
	}
}

double kpi_expected(const struct conf_kpi *c, const struct kpi_point *pts, size_t n,
		    double baseline, double target, int64_t from, int64_t t)
{
	struct kpi_point q[KPI_MAX_POINTS];
	if (t >= pts[n - 1].t)
		return kpi_point_value(&pts[n - 1], baseline, target);
	if (from > pts[0].t) {
		/* a late starter's plan: from its first value, through the
		 * milestones after it */
		size_t m = 0;
		q[m++] = (struct kpi_point){from, KPI_PT_BASELINE, 0};
		for (size_t i = 1; i < n; i++)
			if (pts[i].t > from)
				q[m++] = pts[i];
		pts = q;
		n = m;
	}
	if (t <= pts[0].t || n < 2)
		return kpi_point_value(&pts[0], baseline, target);
	for (size_t i = 1; i < n; i++) {
		if (t < pts[i].t) {
			double a = kpi_point_value(&pts[i - 1], baseline, target);
			double b = kpi_point_value(&pts[i], baseline, target);
			if (c->curve == CONF_CURVE_STEP)
				return a; /* each point's value holds from its instant */
			return a + (b - a) * (double)(t - pts[i - 1].t) / (double)(pts[i].t - pts[i - 1].t);
		}
	}
	return kpi_point_value(&pts[n - 1], baseline, target);
}

/* ---- a unit's numbers and conditions ------------------------------------------------------ */

bool kpi_reached(const struct conf_kpi *c, double v, double target)
{
	if (isnan(v) || isnan(target))
		return false;
	switch (c->coverage ? c->coverage_cmp : CONF_CMP_NONE) {
	case CONF_CMP_GE: return v >= target;
	case CONF_CMP_GT: return v > target;
	case CONF_CMP_LE: return v <= target;
	case CONF_CMP_LT: return v < target;
	case CONF_CMP_EQ: return v == target;
	default: return c->direction == CONF_AT_MOST ? v <= target : v >= target;
	}
}

bool kpi_at_most(const struct conf_kpi *c)
{
	if (c->coverage)
		return c->coverage_cmp == CONF_CMP_LE || c->coverage_cmp == CONF_CMP_LT;
	return c->direction == CONF_AT_MOST;
}

void kpi_numbers_of(const struct conf_kpi *c, struct kpi_numbers *n)
{
	double sign = kpi_at_most(c) ? -1 : 1, den = n->target - n->baseline;
	if (c->has_peers) {
		/* against its group: E the group's mean or median, T the threshold */
		n->baseline = n->forecast = n->span = n->expected_progress = NAN;
		n->gap = sign * (n->expected - n->value);
		n->gap_target = sign * (n->target - n->value);
		n->progress = n->expected != 0 ? n->value / n->expected : NAN;
		return;
	}
	if (c->coverage) {
		/* a switch: covered or not, no plan to be ahead of or behind */
		n->span = n->gap = n->expected_progress = NAN;
		n->gap_target = sign * (n->target - n->value);
		n->progress = isnan(n->value) ? NAN : kpi_reached(c, n->value, n->target) ? 1 : 0;
		return;
	}
	n->span = fabs(den);
	n->gap = sign * (n->expected - n->value);
	n->gap_target = sign * (n->target - n->value);
	if (kpi_reached(c, n->baseline, n->target)) {
		/* a baseline that already reaches the target leaves nothing to
		 * plan: progress is met or not (every path: an evaluation, a
		 * recorded slot read back, kpi --at) */
		n->progress = isnan(n->value) ? NAN : kpi_reached(c, n->value, n->target) ? 1 : 0;
		n->expected_progress = 1;
		return;
	}
	if (isnan(n->value) || isnan(n->target)) {
		n->progress = NAN;
	} else if (den != 0) {
		n->progress = (n->value - n->baseline) / den + 0.0; /* never -0 */
	} else {
		n->progress = kpi_reached(c, n->value, n->target) ? 1 : 0;
	}
	n->expected_progress =
		isnan(n->target) ? NAN : den != 0 ? (n->expected - n->baseline) / den + 0.0 : 1;
}

uint32_t kpi_conditions(const struct conf_kpi *c, const struct kpi_facts *f, bool *lagging)
{
	enum view_kpi_kind kind = kpi_kind(c);
	uint32_t conds = 0;
	bool met, judged = f->reported && !isnan(f->n.target);
	if (f->stale)
		conds |= VIEW_COND(VIEW_STALE);
	if (f->in_roster && !f->reported)
		conds |= VIEW_COND(VIEW_NOT_REPORTING);
	if (!judged) {
		*lagging = false;
		return conds;
	}
	if (kind == VIEW_KPI_PEERS) { /* names laggards; never met */
		*lagging = false;
		return conds | (f->below_peers ? VIEW_COND(VIEW_BELOW_PEERS) : 0);
	}
	met = kpi_reached(c, f->n.value, f->n.target) && (f->can_meet || kind != VIEW_KPI_QUOTA);
	if (met) {
		*lagging = false;
		return conds | VIEW_COND(VIEW_MET);
	}
	if (kind == VIEW_KPI_COVERAGE)
		conds |= VIEW_COND(VIEW_NOT_COVERED);
	if (f->past_deadline) {
		*lagging = false;
		return conds | VIEW_COND(VIEW_MISSED);
	}
	if (kind == VIEW_KPI_COVERAGE) {
		*lagging = false; /* a switch follows no trajectory */
		return conds;
	}
	/* behind the plan by more than the tolerance; once lagging, it clears
	 * only within hysteresis x the tolerance, so noisy data does not flap */
	double lim = c->tolerance * f->n.span;
	*lagging = *lagging ? f->n.gap > c->hysteresis * lim : f->n.gap > lim;
	if (*lagging)
		return conds | VIEW_COND(VIEW_LAGGING);
	/* a quota's pace forecast misses exactly when it is behind the plan
	 * at all: lagging judges that, with its tolerance */
	if (kind == VIEW_KPI_LEVEL && f->firm_forecast && !isnan(f->n.forecast) &&
	    !kpi_reached(c, f->n.forecast, f->n.target))
		conds |= VIEW_COND(VIEW_AT_RISK);
	return conds;
}

/* ---- the alerts ---------------------------------------------------------------------------- */

/*
 * Each alert's condition in PromQL for export-rules, over the series the
 * engine writes: $value, $target, $expected, $baseline, $forecast stand for
 * pacewatch_kpi_<name>{kpi="..."}; $met for the met condition; $deadline
 * for the deadline in Unix seconds; $tolerance; $short for the comparison
 * that means short of the target (">"/"<" as the direction says) and $gap
 * for the sign that makes a shortfall positive.
 */
const struct kpi_alert_def kpi_alert_defs[KPI_NALERTS] = {
	[KPI_MISSED] = {
		.name = "KpiMissed", .cond = VIEW_MISSED, .kinds = KPI_KINDS_LEVEL | KPI_KINDS_QUOTA,
		.headline_en = "missed the deadline", .headline_zh = "逾期未达标",
		.summary_en = "{{ $kpi.title }}: {{ $kpi.unit }} missed {{ $kpi.deadline }}: "
			      "{{ $kpi.value }} against the target {{ $kpi.target }}, "
			      "{{ $kpi.gap_target }} short",
		.summary_zh = "{{ $kpi.title }}：{{ $kpi.unit }} 截至 {{ $kpi.deadline }} 未达标：当前 "
			      "{{ $kpi.value }}，目标 {{ $kpi.target }}，还差 {{ $kpi.gap_target }}",
		.promql = "$value $short $target\nand on () (vector(time()) >= $deadline)",
		.export_summary = "{{ $labels.kpi }}: the deadline passed at {{ $value }}",
	},
	[KPI_NOT_COVERED] = {
		.name = "KpiNotCovered", .cond = VIEW_MISSED, .kinds = KPI_KINDS_COVERAGE,
		.headline_en = "not covered by the deadline", .headline_zh = "逾期未覆盖",
		.summary_en = "{{ $kpi.title }}: {{ $kpi.unit }} reports {{ $kpi.value }} and is not "
			      "covered by {{ $kpi.deadline }} (it must be {{ $kpi.coverage }})",
		.summary_zh = "{{ $kpi.title }}：{{ $kpi.unit }} 截至 {{ $kpi.deadline }} 尚未达标（上报 "
			      "{{ $kpi.value }}，要求 {{ $kpi.coverage }}）",
	},
	[KPI_LAGGING] = {
		.name = "KpiLagging", .cond = VIEW_LAGGING, .uses_for = true,
		.headline_en = "behind the plan", .headline_zh = "进度落后",
		.kinds = KPI_KINDS_LEVEL | KPI_KINDS_QUOTA,
		.summary_en = "{{ $kpi.title }}: {{ $kpi.unit }} is behind the plan: {{ $kpi.value }} "
			      "now, {{ $kpi.expected }} expected, {{ $kpi.gap }} behind (target "
			      "{{ $kpi.target }} by {{ $kpi.deadline }})",
		.summary_zh = "{{ $kpi.title }}：{{ $kpi.unit }} 进度落后：当前 {{ $kpi.value }}，"
			      "按计划应达 {{ $kpi.expected }}，落后 {{ $kpi.gap }}（目标 "
			      "{{ $kpi.target }}，截至 {{ $kpi.deadline }}）",
		.promql = "($gap($expected - $value)) > $tolerance * abs($target - $baseline)\n"
			  "unless $met\nand on () (vector(time()) < $deadline)",
		.export_summary = "{{ $labels.kpi }}: behind the plan by {{ $value }}",
	},
	[KPI_AT_RISK] = {
		.name = "KpiAtRisk", .cond = VIEW_AT_RISK, .kinds = KPI_KINDS_LEVEL,
		.headline_en = "at risk of missing the target", .headline_zh = "预计不能按期达标",
		.summary_en = "{{ $kpi.title }}: {{ $kpi.unit }} is forecast to reach "
			      "{{ $kpi.forecast }} by {{ $kpi.deadline }}, short of the target "
			      "{{ $kpi.target }}",
		.summary_zh = "{{ $kpi.title }}：{{ $kpi.unit }} 按当前趋势截至 {{ $kpi.deadline }} "
			      "预计仅达 {{ $kpi.forecast }}，未达目标 {{ $kpi.target }}",
		.promql = "$forecast $short $target\nunless $met",
		.export_summary = "{{ $labels.kpi }}: forecast at the deadline {{ $value }}, short "
				  "of the target",
	},
	[KPI_STALE] = {
		.name = "KpiStale", .cond = VIEW_STALE, .kinds = KPI_KINDS_ALL,
		.headline_en = "no fresh data", .headline_zh = "数据未更新",
		.summary_en = "{{ $kpi.title }}: no fresh data from {{ $kpi.unit }} since "
			      "{{ $kpi.last_seen }} (last value {{ $kpi.value }})",
		.summary_zh = "{{ $kpi.title }}：{{ $kpi.unit }} 自 {{ $kpi.last_seen }} 起数据未更新"
			      "（最后数值 {{ $kpi.value }}）",
		/* not exported: staleness needs the unit's history */
	},
	[KPI_MISSING] = {
		.name = "KpiUnitMissing", .cond = VIEW_NOT_REPORTING, .kinds = KPI_KINDS_ALL,
		.headline_en = "never reported", .headline_zh = "应报未报",
		.summary_en = "{{ $kpi.title }}: {{ $kpi.unit }} must report but has never reported",
		.summary_zh = "{{ $kpi.title }}：{{ $kpi.unit }} 应报未报",
		/* not exported: the roster needs the units' history */
	},
	[KPI_BELOW_PEERS] = {
		.name = "KpiBelowPeers", .cond = VIEW_BELOW_PEERS, .kinds = KPI_KINDS_PEERS,
		.uses_for = true,
		.headline_en = "clearly below its peers", .headline_zh = "明显低于同组",
		.summary_en = "{{ $kpi.title }}: {{ $kpi.unit }} is at {{ $kpi.value }}, its group's "
			      "average {{ $kpi.expected }}, below the threshold {{ $kpi.target }}",
		.summary_zh = "{{ $kpi.title }}：{{ $kpi.unit }} 为 {{ $kpi.value }}，同组平均 "
			      "{{ $kpi.expected }}，低于阈值 {{ $kpi.target }}",
		/* not exported: a group's statistics over units are pacewatch's */
	},
};

bool kpi_alert_applies(const struct conf_kpi *c, enum kpi_alert a)
{
	return kpi_alert_defs[a].kinds & (1u << kpi_kind(c));
}

const char *kpi_severity(const struct conf_kpi *c, enum kpi_alert a)
{
	for (size_t i = 0; i < c->severities.n; i++)
		if (strcmp(c->severities.v[i].name, kpi_alert_defs[a].name) == 0)
			return c->severities.v[i].value;
	return c->severity;
}

size_t kpi_alert_labels(const struct conf_kpi *c, enum kpi_alert a, struct pw_label *out)
{
	size_t n = 0;
	const char *sev = kpi_severity(c, a);
	out[n++] = (struct pw_label){"kpi", c->name};
	if (sev)
		out[n++] = (struct pw_label){"severity", sev};
	if (c->owner)
		out[n++] = (struct pw_label){"owner", c->owner};
	if (c->contact)
		out[n++] = (struct pw_label){"contact", c->contact};
	return n;
}

/* the annotations every KPI alert carries: its numbers, as $kpi.* */
static const char *const annotated[] = {
	"title",    "unit",     "value",    "expected",          "target",  "baseline",
	"gap",      "gap_pct",  "gap_target", "gap_target_pct",  "progress", "expected_progress",
	"forecast", "deadline", "last_seen", "coverage", "unit_id"};

size_t kpi_alert_annotations(const struct conf_kpi *c, bool zh, enum kpi_alert a,
			     struct pw_label *out)
{
	static const char *const tmpl[] = {
		"{{ $kpi.title }}",    "{{ $kpi.unit }}",     "{{ $kpi.value }}",
		"{{ $kpi.expected }}", "{{ $kpi.target }}",   "{{ $kpi.baseline }}",
		"{{ $kpi.gap }}",      "{{ $kpi.gap_pct }}",  "{{ $kpi.gap_target }}",
		"{{ $kpi.gap_target_pct }}", "{{ $kpi.progress }}", "{{ $kpi.expected_progress }}",
		"{{ $kpi.forecast }}", "{{ $kpi.deadline }}", "{{ $kpi.last_seen }}",
		"{{ $kpi.coverage }}", "{{ $kpi.unit_id }}"};
	const struct kpi_alert_def *d = &kpi_alert_defs[a];
	size_t n = 0;
	_Static_assert(sizeof tmpl / sizeof tmpl[0] == sizeof annotated / sizeof annotated[0],
		       "one template per annotation");
	_Static_assert(sizeof annotated / sizeof annotated[0] + 4 <= KPI_ANNOTATIONS,
		       "KPI_ANNOTATIONS holds them all");
	out[n++] = (struct pw_label){"summary", zh ? d->summary_zh : d->summary_en};
	out[n++] = (struct pw_label){"headline", zh ? d->headline_zh : d->headline_en};
	out[n++] = (struct pw_label){"condition", view_status_name(d->cond)};
	for (size_t i = 0; i < sizeof annotated / sizeof annotated[0]; i++)
		out[n++] = (struct pw_label){annotated[i], tmpl[i]};
	if (c->runbook)
		out[n++] = (struct pw_label){"runbook", c->runbook};
	return n;
}

/* ---- what the configuration may say of a KPI ----------------------------------------------------- */

void kpi_check(const struct conf_kpi *c, conf_kpi_report report, void *ctx)
{
	for (size_t i = 0; i < c->severities.n; i++) {
		const char *name = c->severities.v[i].name;
		int a;
		for (a = 0; a < KPI_NALERTS && strcmp(kpi_alert_defs[a].name, name); a++)
			;
		if (a < KPI_NALERTS)
			continue;
		char key[300], msg[600];
		snprintf(key, sizeof key, "severities.%s", name);
		snprintf(msg, sizeof msg, "no KPI alert is called \"%s\" (KpiMissed, KpiNotCovered, "
					  "KpiLagging, KpiAtRisk, KpiStale, KpiUnitMissing, KpiBelowPeers)",
			 name);
		report(ctx, key, msg);
	}
	/* what kpis_new refuses at start, here too so that check-config says
	 * it with file:line:column */
	if (kpi_kind(c) == VIEW_KPI_QUOTA) {
		struct query_expr *x = NULL;
		struct query_error e = {0};
		double v;
		if (c->value && query_parse(c->value, &x, &e) == 0 && !query_expr_is_selector(x))
			report(ctx, "value", "a calendar quota counts samples, so its value is a series "
					     "selector");
		query_expr_free(x);
		query_error_clear(&e);
		if (c->target && !pw_number(c->target, &v))
			report(ctx, "target", "a calendar quota's target is a number of each period");
	}
}
