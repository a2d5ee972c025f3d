/*
 * kpi_model.c — what a KPI means, in one place: the plan (the trajectory
 * from the baseline at start through the milestones to the target at the
 * deadline), how a unit's status follows from its numbers, and the KPI
 * alerts as a table: name, the status that raises it, its severity and
 * texts per language, and its condition in PromQL. The evaluator (kpi.c,
 * kpi_quota.c) and export-rules (kpi_export.c) both read this file, so a
 * change to the model is made here once.
 */
#include "alerts_int.h"

#include <math.h>
#include <string.h>

/* ---- the plan --------------------------------------------------------------------- */

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
		    double baseline, double target, int64_t t)
{
	if (t <= pts[0].t)
		return kpi_point_value(&pts[0], baseline, target);
	for (size_t i = 1; i < n; i++) {
		if (t < pts[i].t) {
			double a = kpi_point_value(&pts[i - 1], baseline, target);
			double b = kpi_point_value(&pts[i], baseline, target);
			if (c->curve == CONF_CURVE_STEP)
				return a; /* each point's value holds until the next */
			return a + (b - a) * (double)(t - pts[i - 1].t) / (double)(pts[i].t - pts[i - 1].t);
		}
	}
	return kpi_point_value(&pts[n - 1], baseline, target);
}

bool kpi_reached(const struct conf_kpi *c, double v, double target)
{
	return c->direction == CONF_AT_MOST ? v <= target : v >= target;
}

/* ---- a unit's status ------------------------------------------------------------------ */

enum view_status kpi_judge(const struct conf_kpi *c, const struct kpi_judgement *j, bool *lagging)
{
	double gap = c->direction == CONF_AT_MOST ? j->value - j->expected : j->expected - j->value;
	double lim = c->tolerance * j->span;
	if (j->can_meet && kpi_reached(c, j->value, j->target)) {
		*lagging = false;
		return VIEW_MET;
	}
	if (j->past_deadline)
		return VIEW_MISSED;
	/* behind by more than the tolerance; once lagging, it clears only
	 * within hysteresis x the tolerance, so noisy data does not flap */
	*lagging = *lagging ? gap > c->hysteresis * lim : gap > lim;
	if (*lagging)
		return VIEW_LAGGING;
	if (!isnan(j->forecast) && !kpi_reached(c, j->forecast, j->target))
		return VIEW_AT_RISK;
	return VIEW_ON_TRACK;
}

/* ---- the alerts --------------------------------------------------------------------------- */

/*
 * Each alert's condition in PromQL for export-rules, over the series the
 * evaluator writes: $value, $target, $expected, $baseline, $forecast stand
 * for pacewatch_kpi_<name>{kpi="..."}; $met for the met condition;
 * $deadline for the deadline in Unix seconds; $tolerance; $behind and
 * $short for the comparison that means behind the target (">"/"<" as the
 * direction says) and $gap for the sign that makes a shortfall positive.
 */
const struct kpi_alert_def kpi_alert_defs[KPI_NALERTS] = {
	[KPI_LAGGING] = {
		.name = "KpiLagging", .status = VIEW_LAGGING, .uses_for = true,
		.summary_en = "{{ $kpi.title }}: {{ $kpi.unit }} is behind the plan: {{ $kpi.value }} "
			      "now, {{ $kpi.expected }} expected (target {{ $kpi.target }} by "
			      "{{ $kpi.deadline }})",
		.summary_zh = "{{ $kpi.title }}：{{ $kpi.unit }} 进度落后，当前 {{ $kpi.value }}，"
			      "按计划应达 {{ $kpi.expected }}（目标 {{ $kpi.target }}，截止 "
			      "{{ $kpi.deadline }}）",
		.promql = "($gap($expected - $value)) > $tolerance * abs($target - $baseline)\n"
			  "unless $met\nand on () (vector(time()) < $deadline)",
		.export_summary = "{{ $labels.kpi }}: behind the plan by {{ $value }}",
	},
	[KPI_AT_RISK] = {
		.name = "KpiAtRisk", .status = VIEW_AT_RISK,
		.summary_en = "{{ $kpi.title }}: {{ $kpi.unit }} is forecast to reach "
			      "{{ $kpi.forecast }} by {{ $kpi.deadline }}, short of the target "
			      "{{ $kpi.target }}",
		.summary_zh = "{{ $kpi.title }}：{{ $kpi.unit }} 按当前趋势到 {{ $kpi.deadline }} "
			      "预计仅达 {{ $kpi.forecast }}，未达目标 {{ $kpi.target }}",
		.promql = "$forecast $short $target\nunless $met",
		.export_summary = "{{ $labels.kpi }}: forecast at the deadline {{ $value }}, short "
				  "of the target",
	},
	[KPI_MISSED] = {
		.name = "KpiMissed", .status = VIEW_MISSED, .critical = true,
		.summary_en = "{{ $kpi.title }}: {{ $kpi.unit }} missed the deadline "
			      "{{ $kpi.deadline }}: {{ $kpi.value }} against the target "
			      "{{ $kpi.target }}",
		.summary_zh = "{{ $kpi.title }}：{{ $kpi.unit }} 已过截止时间 {{ $kpi.deadline }}，"
			      "当前 {{ $kpi.value }}，目标 {{ $kpi.target }}",
		.promql = "$value $short $target\nand on () (vector(time()) >= $deadline)",
		.export_summary = "{{ $labels.kpi }}: the deadline passed at {{ $value }}",
	},
	[KPI_STALE] = {
		.name = "KpiStale", .status = VIEW_STALE,
		.summary_en = "{{ $kpi.title }}: no fresh data from {{ $kpi.unit }}",
		.summary_zh = "{{ $kpi.title }}：{{ $kpi.unit }} 数据未更新",
		/* not exported: staleness needs the unit's history */
	},
	[KPI_MISSING] = {
		.name = "KpiUnitMissing", .status = VIEW_MISSING, .critical = true,
		.summary_en = "{{ $kpi.title }}: {{ $kpi.unit }} must report but reports nothing",
		.summary_zh = "{{ $kpi.title }}：{{ $kpi.unit }} 应报未报",
		/* not exported: the roster needs the units' history */
	},
};

int kpi_alert_of(enum view_status s)
{
	for (int a = 0; a < KPI_NALERTS; a++)
		if (kpi_alert_defs[a].status == s)
			return a;
	return -1;
}

const char *kpi_severity(const struct conf_kpi *c, enum kpi_alert a)
{
	return kpi_alert_defs[a].critical ? "critical" : c->severity;
}

/* the title is Chinese (or another language in non-ASCII letters) */
static bool has_cjk(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
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

size_t kpi_alert_annotations(const struct conf_kpi *c, enum kpi_alert a, struct pw_label *out)
{
	const struct kpi_alert_def *d = &kpi_alert_defs[a];
	size_t n = 0;
	out[n++] = (struct pw_label){"summary", has_cjk(c->title) ? d->summary_zh : d->summary_en};
	out[n++] = (struct pw_label){"title", c->title ? c->title : c->name};
	/* the numbers, for notification tables and receivers downstream */
	out[n++] = (struct pw_label){"unit", "{{ $kpi.unit }}"};
	out[n++] = (struct pw_label){"value", "{{ $kpi.value }}"};
	out[n++] = (struct pw_label){"expected", "{{ $kpi.expected }}"};
	out[n++] = (struct pw_label){"target", "{{ $kpi.target }}"};
	out[n++] = (struct pw_label){"deadline", "{{ $kpi.deadline }}"};
	out[n++] = (struct pw_label){"progress", "{{ $kpi.progress }}"};
	out[n++] = (struct pw_label){"forecast", "{{ $kpi.forecast }}"};
	return n;
}
