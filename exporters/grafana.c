/*
 * grafana.c — the KPI dashboard for Grafana, made from a configuration
 * (`pacewatch export-dashboard -c FILE`): the panels every programme has,
 * driven by the $kpi variable, then one row per programme item with one
 * panel per KPI: its units per status over time, stacked, so a KPI of 16
 * cities and one of 1,800 township centres read alike.
 *
 * exporters/grafana/pacewatch-kpis.json is this output for the example
 * programme; a test keeps the two equal.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "exporters.h"

static json_t *ds(void)
{
	return json_pack("{s:s, s:s}", "type", "prometheus", "uid", "${datasource}");
}

/* a query of a panel: instant (a table, a stat) or range (a time series) */
static json_t *target(const char *ref, const char *expr, const char *legend, bool instant)
{
	return json_pack("{s:s, s:o, s:s, s:s, s:b, s:b}", "refId", ref, "datasource", ds(), "expr",
			 expr, "legendFormat", legend, "range", !instant, "instant", instant);
}

static json_t *panel(json_t *panels, const char *type, const char *title, const char *desc,
		     int x, int y, int w, int h)
{
	json_t *p = json_pack("{s:I, s:s, s:s, s:s, s:o, s:{s:i, s:i, s:i, s:i}, s:[], s:{s:{}, "
			      "s:[]}, s:{}}",
			      "id", (json_int_t)json_array_size(panels) + 1, "type", type, "title",
			      title, "description", desc, "datasource", ds(), "gridPos", "x", x, "y",
			      y, "w", w, "h", h, "targets", "fieldConfig", "defaults", "overrides",
			      "options");
	json_array_append_new(panels, p);
	return p;
}

static void add(json_t *p, json_t *t)
{
	json_array_append_new(json_object_get(p, "targets"), t);
}

/* what people read, in the configuration's language */
#define T(en, zh) (zh_ ? (zh) : (en))

/* the panels of any programme, for the KPIs chosen in $kpi */
static int generic_panels(json_t *ps, bool zh_)
{
	json_t *p;
	p = panel(ps, "timeseries", T("Actual, expected and target", "实际、计划与目标"),
		  T("Per unit: the value, where the plan says it should be now, and the target.", "每个单位：当前值、计划此刻应达到的值和目标。"), 0,
		  0, 12, 8);
	add(p, target("A", "pacewatch_kpi_value{kpi=~\"$kpi\"}", "{{kpi}} {{city}}{{county}} actual",
		      false));
	add(p, target("B", "pacewatch_kpi_expected{kpi=~\"$kpi\"}",
		      "{{kpi}} {{city}}{{county}} expected", false));
	add(p, target("C", "pacewatch_kpi_target{kpi=~\"$kpi\"}", "{{kpi}} {{city}}{{county}} target",
		      false));
	p = panel(ps, "table", T("Units behind (laggards first)", "落后单位（最落后的在前）"),
		  T("Every unit with its status: missed, not reporting, not covered, lagging, at risk "
		  "and stale first.", "每个单位及其状态：逾期未达标、应报未报、未覆盖、进度落后、有风险和停报在前。"),
		  12, 0, 12, 8);
	add(p, target("A", "sort_desc(pacewatch_kpi_status{kpi=~\"$kpi\", status!~\"on_track|met\"} == 1)",
		      "{{status}}", true));
	add(p, target("B", "pacewatch_kpi_status{kpi=~\"$kpi\", status=~\"on_track|met\"} == 1",
		      "{{status}}", true));
	p = panel(ps, "bargauge", T("Progress against the plan", "进度与计划"),
		  T("Per unit: the share of the way from baseline to target covered, and the share the "
		  "plan expects by now.", "每个单位：从基线到目标已完成的比例，以及计划此刻应完成的比例。"),
		  0, 8, 12, 8);
	add(p, target("A", "pacewatch_kpi_progress_ratio{kpi=~\"$kpi\"}",
		      "{{kpi}} {{city}}{{county}} progress", true));
	add(p, target("B", "pacewatch_kpi_expected_ratio{kpi=~\"$kpi\"}",
		      "{{kpi}} {{city}}{{county}} expected", true));
	p = panel(ps, "timeseries", T("Forecast at the deadline", "截止时预测"),
		  T("Least squares over the KPI's forecast window, evaluated at the deadline.", "按指标的预测窗口做最小二乘拟合，推算到截止时。"), 12, 8,
		  12, 8);
	add(p, target("A", "pacewatch_kpi_forecast{kpi=~\"$kpi\"}", "{{kpi}} {{city}}{{county}} forecast",
		      false));
	add(p, target("B", "pacewatch_kpi_target{kpi=~\"$kpi\"}", "{{kpi}} {{city}}{{county}} target",
		      false));
	p = panel(ps, "stat", T("Units per status", "各状态单位数"), "", 0, 16, 12, 8);
	add(p, target("A", "count by (status) (pacewatch_kpi_status{kpi=~\"$kpi\"} == 1)", "{{status}}",
		      true));
	p = panel(ps, "table", T("KPI alerts firing", "正在告警的指标"), "", 12, 16, 12, 8);
	add(p, target("A", "ALERTS{alertname=~\"Kpi.*\", alertstate=\"firing\", kpi=~\"$kpi\"}",
		      "{{alertname}} {{kpi}}", true));
	p = panel(ps, "stat", T("Days to the deadline", "距截止天数"),
		  T("Per KPI: days until its deadline (a quota: until its current period ends), from "
		  "pacewatch_kpi_deadline_timestamp_seconds.", "每个指标距截止的天数（定额指标：距本期结束），取自 pacewatch_kpi_deadline_timestamp_seconds。"),
		  0, 24, 12, 4);
	add(p, target("A",
		      "(max by (kpi) (pacewatch_kpi_deadline_timestamp_seconds{kpi=~\"$kpi\"}) - "
		      "time()) / 86400",
		      "{{kpi}}", true));
	json_object_set_new(json_object_get(json_object_get(p, "fieldConfig"), "defaults"), "unit",
			    json_string("none"));
	p = panel(ps, "table", T("Conditions holding", "成立的条件"),
		  T("Every condition of every unit (a unit can be missed and stale at once): "
		  "pacewatch_kpi_condition.", "每个单位成立的每个条件（一个单位可同时逾期未达标和停报）：pacewatch_kpi_condition。"),
		  12, 24, 12, 8);
	add(p, target("A", "pacewatch_kpi_condition{kpi=~\"$kpi\"} == 1", "{{condition}}", true));
	return 32; /* the next free row */
}

/* the colour people expect of each status */
static const struct {
	const char *status, *colour;
} colours[] = {{"missed", "dark-red"},      {"not_reporting", "purple"},
	       {"not_covered", "red"},      {"below_peers", "orange"},
	       {"lagging", "orange"},       {"at_risk", "yellow"},
	       {"stale", "blue"},           {"met", "green"},
	       {"on_track", "light-green"}};

/* one KPI's units per status over time, stacked */
static void kpi_panel(json_t *ps, const struct conf_kpi *k, int x, int y, bool zh_)
{
	char title[512], expr[512];
	snprintf(title, sizeof title, "%s", k->title ? k->title : k->name);
	json_t *p = panel(ps, "timeseries", title,
			  zh_ ? "各状态单位数随时间变化（pacewatch_kpi_status），堆叠。"
			      : "Units per status over time (pacewatch_kpi_status), stacked.",
			  x, y, 12, 7);
	snprintf(expr, sizeof expr, "count by (status) (pacewatch_kpi_status{kpi=\"%s\"} == 1)",
		 k->name);
	add(p, target("A", expr, "{{status}}", false));
	json_t *fc = json_object_get(p, "fieldConfig");
	json_object_set_new(json_object_get(fc, "defaults"), "custom",
			    json_pack("{s:{s:s}, s:i, s:s}", "stacking", "mode", "normal",
				      "fillOpacity", 60, "drawStyle", "line"));
	json_t *ov = json_object_get(fc, "overrides");
	for (size_t i = 0; i < sizeof colours / sizeof colours[0]; i++)
		json_array_append_new(
			ov, json_pack("{s:{s:s, s:s}, s:[{s:s, s:{s:s, s:s}}]}", "matcher", "id",
				      "byName", "options", colours[i].status, "properties", "id",
				      "color", "value", "mode", "fixed", "fixedColor",
				      colours[i].colour));
}

char *grafana_kpi_dashboard(const struct conf *c)
{
	json_t *ps = json_array();
	bool zh = c->global.language != CONF_LANG_EN;
	int y = generic_panels(ps, zh);
	/* items in order of first appearance; KPIs without one last */
	bool *done = xcalloc(c->nkpis + 1, sizeof *done);
	for (size_t pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < c->nkpis; i++) {
			const char *item = c->kpis[i].item;
			if (done[i] || (pass == 0) != (item && *item))
				continue;
			json_t *row = panel(ps, "row", item && *item ? item : zh ? "其他指标" : "Other KPIs", "", 0, y,
					    24, 1);
			json_object_del(row, "datasource");
			json_object_del(row, "targets");
			json_object_del(row, "fieldConfig");
			json_object_del(row, "options");
			json_object_set_new(row, "collapsed", json_false());
			json_object_set_new(row, "panels", json_array());
			y++;
			int col = 0;
			for (size_t j = i; j < c->nkpis; j++) {
				const char *it = c->kpis[j].item;
				bool same = pass == 0 ? it && !strcmp(it, item) : !(it && *it);
				if (done[j] || !same)
					continue;
				kpi_panel(ps, &c->kpis[j], col * 12, y, zh);
				done[j] = true;
				if (++col == 2) {
					col = 0;
					y += 7;
				}
			}
			if (col)
				y += 7;
		}
	}
	free(done);
	json_t *d = json_pack(
		"{s:s, s:s, s:[s], s:s, s:i, s:i, s:b, s:s, s:{s:s, s:s}, s:{s:[{s:s, s:s, s:s, "
		"s:s, s:{}, s:i, s:i}, {s:s, s:s, s:s, s:o, s:{s:s, s:s}, s:s, s:b, s:b, s:s, s:i, "
		"s:i, s:{s:b, s:[s], s:[s]}}]}, s:o}",
		"uid", "pacewatch-kpis", "title", zh ? "pacewatch — 指标进度" : "pacewatch — KPIs", "tags", "pacewatch", "timezone",
		c->global.timezone ? c->global.timezone : "browser", "schemaVersion", 37, "version",
		1, "editable", true, "refresh", "1m", "time", "from", "now-7d", "to", "now",
		"templating", "list", "name", "datasource", "type", "datasource", "query",
		"prometheus", "label", zh ? "数据源" : "Data source", "current", "hide", 0, "refresh", 1, "name",
		"kpi", "type", "query", "label", zh ? "指标" : "KPI", "datasource", ds(), "query", "query",
		"label_values(pacewatch_kpi_value, kpi)", "refId", "kpi", "definition",
		"label_values(pacewatch_kpi_value, kpi)", "includeAll", true, "multi", true,
		"allValue", ".*", "refresh", 2, "sort", 1, "current", "selected", true, "text", "All",
		"value", "$__all", "panels", ps);
	char *s = json_dumps(d, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(d);
	return s;
}
