/*
 * pages.c — the pages themselves (docs/pages.md): the programme at a
 * glance, a KPI, a unit, alerts, targets, the outbox. Plain HTML that works
 * without JavaScript (a small script only sorts tables and refreshes),
 * one inline stylesheet with a phone layout and an A4 print layout, table
 * semantics for screen readers. Every string from the configuration, the
 * platforms or the store is escaped (pages_esc).
 */
#include "pages_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "notify.h"

/* ---- words ------------------------------------------------------------------------ */

enum word {
	W_PROGRAMME, W_KPIS, W_ALERTS, W_TARGETS, W_NOTIFICATIONS, W_OWNER, W_CONTACT,
	W_DEADLINE, W_DAYS_LEFT, W_OVERDUE, W_PROGRESS, W_PLAN, W_UNITS, W_UNIT, W_VALUE,
	W_PLAN_NOW, W_GAP, W_FORECAST, W_STATUS, W_SINCE, W_TARGET, W_ACTUAL, W_NOT_EVALUATED,
	W_EVALUATED_AT, W_NOT_FOUND, W_STATUS_HISTORY, W_NONE, W_STATE, W_ACTIVE_SINCE,
	W_SUMMARY, W_LABELS, W_TARGET_NAME, W_HEALTH, W_LAST_SCRAPE, W_LAST_ERROR, W_NEXT_DUE,
	W_UP, W_DOWN, W_UNKNOWN, W_IN_FLIGHT, W_RECEIVER, W_KIND, W_QUEUED, W_SENT, W_FAILED,
	W_DROPPED, W_QUEUED_AT, W_ATTEMPTS, W_SUBJECT, W_NEXT_ATTEMPT, W_RUNBOOK, W_BY, W_AHEAD,
	W_ALL_UNITS, W_PERIOD, W_BACK, W_LAST_SEEN, W_NEVER, W_PROGRESS_VS_PLAN, W_BEHIND, W_ST_INACTIVE, W_ST_PENDING, W_ST_FIRING, W_MORE_ROWS, W_NWORDS
};

static const char *const words[2][W_NWORDS] = {
	[VIEW_LANG_ZH] = {"项目总览", "指标", "告警", "采集目标", "通知", "负责单位", "联系人",
			  "截止", "剩余 %lld 天", "已逾期 %lld 天", "进度", "计划", "单位", "单位",
			  "当前值", "当前计划", "差距", "预测", "状态", "起始", "目标", "实际",
			  "尚未评估", "评估时间", "未找到", "状态变化", "无", "状态", "开始于",
			  "摘要", "标签", "目标名称", "状态", "上次采集", "上次错误", "下次采集",
			  "正常", "故障", "未知", "采集中", "接收方", "类型", "排队", "已发送",
			  "失败", "已放弃", "排队时间", "尝试次数", "主题", "下次尝试", "处置手册",
			  "截至", "领先", "全部单位", "周期", "返回", "最后上报", "从未上报",
			  "实际进度对比计划", "落后单位", "已恢复", "待触发", "告警中",
			  "<p class=\"meta\">仅列出落后在前的 %zu 个单位（共 %zu 个）；全部单位见 "
			  "<a href=\"/api/v1/kpis\">/api/v1/kpis</a>。</p>"},
	[VIEW_LANG_EN] = {"Programme", "KPIs", "Alerts", "Targets", "Notifications", "Owner",
			  "Contact", "Deadline", "%lld days left", "%lld days overdue", "Progress",
			  "Plan", "Units", "Unit", "Value", "Plan now", "Gap", "Forecast", "Status",
			  "Since", "Target", "Actual", "not evaluated yet", "Evaluated at",
			  "Not found", "Status changes", "none", "State", "Active since", "Summary",
			  "Labels", "Target", "Health", "Last scrape", "Last error", "Next scrape",
			  "up", "down", "unknown", "scraping", "Receiver", "Kind", "Queued", "Sent",
			  "Failed", "Dropped", "Queued at", "Attempts", "Subject", "Next attempt",
			  "Runbook", "by", "ahead", "all units", "Period", "back", "Last seen",
			  "never", "actual progress against the plan", "behind", "resolved", "pending",
			  "firing",
			  "<p class=\"meta\">The first %zu units of %zu, laggards first; all of them: "
			  "<a href=\"/api/v1/kpis\">/api/v1/kpis</a>.</p>"},
};

struct pg {
	const struct pages_src *src;
	const struct view *v;
	enum view_language lang;
	struct pw_tz *tz; /* global.timezone (NULL: UTC) */
	struct pw_buf *b;
	/* a quota's missed refers to its previous period ("2025-11"): badges
	 * of the KPI being written say which (NULL: not a quota) */
	const char *missed_period;
};

static const char *w(const struct pg *p, enum word x)
{
	return words[p->lang == VIEW_LANG_EN][x];
}

static const char *status_word(const struct pg *p, enum view_status s)
{
	static const char *const en[VIEW_NSTATUS] = {
		"missed", "not reporting", "not covered", "below peers", "lagging", "at risk",
		"stale", "met", "on track"};
	if (p->lang == VIEW_LANG_ZH)
		return view_status_name_zh(s);
	return (unsigned)s < VIEW_NSTATUS ? en[s] : "unknown";
}

/* ---- small pieces --------------------------------------------------------------- */

static void esc(struct pg *p, const char *s) { pages_esc(p->b, s); }
static void put(struct pg *p, const char *s) { pw_buf_puts(p->b, s); }

static void num(struct pg *p, double v)
{
	char t[400];
	pw_fmt_float(t, sizeof t, v, PW_FMT_HUMAN);
	put(p, t);
}

static void pct(struct pg *p, double r)
{
	if (isfinite(r))
		pw_buf_printf(p->b, "%.1f%%", r * 100);
	else
		put(p, "-");
}

static void when_as(struct pg *p, int64_t ms, bool secs)
{
	char t[80];
	if (ms <= 0) {
		put(p, "-");
		return;
	}
	put(p, "<time datetime=\"");
	pw_fmt_time(t, sizeof t, ms);
	put(p, t);
	put(p, "\">");
	if (secs)
		pw_fmt_local_secs(t, sizeof t, ms, p->tz);
	else
		pw_fmt_local(t, sizeof t, ms, p->tz);
	put(p, t);
	put(p, "</time>");
}

static void when(struct pg *p, int64_t ms)
{
	when_as(p, ms, false);
}

/* scrapes come every few seconds: to the second */
static void when_s(struct pg *p, int64_t ms)
{
	when_as(p, ms, true);
}

static void badge(struct pg *p, enum view_status s)
{
	pw_buf_printf(p->b, "<span class=\"st st-%s\">", view_status_name(s));
	esc(p, status_word(p, s));
	put(p, "</span>");
	if (s == VIEW_MISSED && p->missed_period) { /* which month was missed */
		put(p, " <small class=\"per\">");
		esc(p, p->missed_period);
		put(p, "</small>");
	}
}

static void kpi_href(struct pg *p, const char *kpi)
{
	put(p, "/kpis/");
	pages_url_seg(p->b, kpi);
}

static void unit_href(struct pg *p, const char *kpi, const struct view_unit *u)
{
	kpi_href(p, kpi);
	pw_buf_printf(p->b, "/%016llx", (unsigned long long)u->labels->h);
}

/* "2025-12-01 (by 30 Nov, 12 days left)" */
static void deadline(struct pg *p, const struct view_meta_kpi *k)
{
	int64_t now = p->src->now_ms, left;
	esc(p, k->deadline_text);
	if (k->deadline_ms <= 0)
		return;
	{
		int64_t last = k->deadline_ms - 1, s = last / 1000 + (p->tz ? pw_tz_offset(p->tz, last / 1000) : 0);
		int64_t y, days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
		unsigned m, d;
		static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
						  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
		pw_civil_from_days(days, &y, &m, &d);
		if (p->lang == VIEW_LANG_ZH)
			/* the last day it covers, to its end: "截至" would read as "as of" */
			pw_buf_printf(p->b, "（至 %u月%u日 24 时，", m, d);
		else
			pw_buf_printf(p->b, " (by %u %s, ", d, mon[(m - 1) % 12]);
	}
	left = k->deadline_ms - now;
	if (left >= 0)
		pw_buf_printf(p->b, w(p, W_DAYS_LEFT), (long long)((left + 86399999) / 86400000));
	else
		pw_buf_printf(p->b, w(p, W_OVERDUE), (long long)((-left) / 86400000));
	put(p, p->lang == VIEW_LANG_ZH ? "）" : ")");
}

/* a progress bar: the unit's progress, the plan's mark */
static void bar(struct pg *p, double prog, double plan)
{
	double a = isfinite(prog) ? fmin(fmax(prog, 0), 1) : 0;
	pw_buf_printf(p->b, "<span class=\"bar\" role=\"img\" aria-label=\"%s ", w(p, W_PROGRESS));
	pct(p, prog);
	pw_buf_printf(p->b, ", %s ", w(p, W_PLAN));
	pct(p, plan);
	pw_buf_printf(p->b, "\"><span class=\"fill%s\" style=\"width:%.1f%%\"></span>",
		      /* behind as the percentages shown say it (one decimal) */
		      isfinite(plan) && isfinite(prog) && prog < plan - 0.0005 ? " behind" : "",
		      a * 100);
	if (isfinite(plan))
		pw_buf_printf(p->b, "<span class=\"mark\" style=\"left:%.1f%%\"></span>",
			      fmin(fmax(plan, 0), 1) * 100);
	put(p, "</span>");
}

static const char css[] =
	"*{box-sizing:border-box}"
	"body{margin:0;font:15px/1.45 system-ui,-apple-system,\"Noto Sans CJK SC\",\"Microsoft YaHei\","
	"sans-serif;color:#1a1a1a;background:#f6f7f9}"
	"header{background:#16325c;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;"
	"gap:.25rem 1.25rem;align-items:baseline}"
	"header a{color:#fff;text-decoration:none}header a[aria-current]{text-decoration:underline}"
	"header .brand{font-weight:700}"
	"main{max-width:1200px;margin:0 auto;padding:1rem}"
	"h1{font-size:1.35rem;margin:.2rem 0 .6rem}h2{font-size:1.1rem;margin:1.2rem 0 .5rem}"
	"a{color:#0b4fa8}"
	".meta{color:#333;margin:.2rem 0}"
	".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:.8rem}"
	".card{background:#fff;border:1px solid #d5d9e0;border-left:6px solid #2e7d32;border-radius:6px;"
	"padding:.7rem .8rem}"
	".card.w-missed,.card.w-not_reporting{border-left-color:#b00020}"
	".card.w-not_covered,.card.w-below_peers,.card.w-lagging{border-left-color:#c45100}"
	".card.w-at_risk{border-left-color:#8a6d00}.card.w-stale{border-left-color:#6b6b6b}"
	".card h2{margin:0 0 .3rem;font-size:1.05rem}"
	".counts{display:flex;flex-wrap:wrap;gap:.3rem;margin:.4rem 0}"
	".st{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.85em;"
	"white-space:nowrap;color:#fff;background:#2e7d32}"
	".st-missed,.st-not_reporting{background:#b00020}"
	".st-not_covered,.st-below_peers,.st-lagging{background:#b34700}"
	".st-at_risk{background:#7a5c00}.st-stale{background:#5f5f5f}.st-on_track{background:#1d6b2a}"
	".st-met{background:#14532d}.st-firing{background:#b00020}.st-pending{background:#7a5c00}"
	".st-up{background:#1d6b2a}.st-down{background:#b00020}.st-unknown{background:#5f5f5f}"
	".bar{display:inline-block;position:relative;width:8rem;height:.8rem;background:#e4e7ec;"
	"border-radius:3px;vertical-align:middle;overflow:hidden}"
	".bar .fill{position:absolute;left:0;top:0;bottom:0;background:#2e7d32}"
	".bar .fill.behind{background:#c45100}"
	".bar .mark{position:absolute;top:0;bottom:0;width:2px;background:#1a1a1a}"
	".tw{overflow-x:auto;background:#fff;border:1px solid #d5d9e0;border-radius:6px}"
	"table{border-collapse:collapse;width:100%}"
	"caption{text-align:left;font-weight:600;padding:.4rem .6rem}"
	"th,td{padding:.35rem .6rem;border-bottom:1px solid #e4e7ec;text-align:left;vertical-align:top;"
	"overflow-wrap:anywhere}caption{overflow-wrap:anywhere}"
	"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
	"thead th{background:#eef1f5;position:sticky;top:0}"
	"th[data-sort]{cursor:pointer}"
	"tbody tr.lag{background:#fff6ef}tbody tr.bad{background:#fdf0f2}"
	".chart{width:100%;height:auto;max-width:100%;background:#fff;border:1px solid #d5d9e0;"
	"border-radius:6px}.chart.spark{border:0;background:none;height:48px}"
	".ch-wide .chart{max-width:980px}.ch-narrow{display:none}"
	".err{color:#8c0016;word-break:break-word}"
	"ul.lag{margin:.3rem 0;padding-left:1.1rem}ul.lag li{margin:.1rem 0}ul.lag li.more{list-style:none}"
	"td.when{white-space:nowrap;font-size:.9em}"
	"footer{color:#444;font-size:.85rem;padding:1rem;text-align:center}"
	"@media (max-width:640px){body{font-size:14px}main{padding:.6rem}"
	".cards{grid-template-columns:1fr}.opt{display:none}th,td{padding:.3rem .35rem}"
	".bar{display:none}.ch-wide{display:none}.ch-narrow{display:block}"
	"th[scope=row]{min-width:5.5em}td.n{white-space:normal;overflow-wrap:anywhere}}"
	"@media print{@page{size:A4;margin:12mm}body{background:#fff;font-size:10.5pt}"
	"header nav,footer .noprint,script{display:none}header{background:none;color:#000;"
	"border-bottom:2px solid #000;padding:0 0 .3rem}header a{color:#000}"
	"main{max-width:none;padding:0}.card,.tw,.chart{break-inside:avoid;border-color:#999}"
	".cards{grid-template-columns:1fr 1fr}thead th{position:static}"
	".st,.bar .fill,.bar .mark,tbody tr{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
	"a{color:#000;text-decoration:none}}";

/* sorting by a column (click its header), and a refresh each minute unless
 * the page is being printed; the pages work without it */
static const char script[] =
	"(function(){document.querySelectorAll('th[data-sort]').forEach(function(th){"
	"th.tabIndex=0;function go(){var t=th.closest('table'),b=t.tBodies[0],i=th.cellIndex,"
	"d=th.getAttribute('aria-sort')==='ascending'?-1:1;"
	"var rows=Array.prototype.slice.call(b.rows);rows.sort(function(x,y){"
	"var a=x.cells[i].getAttribute('data-v'),c=y.cells[i].getAttribute('data-v');"
	"var fa=parseFloat(a),fc=parseFloat(c);if(!isNaN(fa)&&!isNaN(fc))return d*(fa-fc);"
	"return d*String(a).localeCompare(String(c));});"
	"rows.forEach(function(r){b.appendChild(r);});"
	"t.querySelectorAll('th[aria-sort]').forEach(function(o){o.removeAttribute('aria-sort');});"
	"th.setAttribute('aria-sort',d>0?'ascending':'descending');}"
	"th.addEventListener('click',go);th.addEventListener('keydown',function(e){"
	"if(e.key==='Enter')go();});});"
	"var printing=false;window.addEventListener('beforeprint',function(){printing=true;});"
	"window.addEventListener('afterprint',function(){printing=false;});"
	"setTimeout(function(){if(!printing&&!document.hidden)location.reload();},60000);})();";

enum nav { NAV_HOME, NAV_KPI, NAV_ALERTS, NAV_TARGETS, NAV_NOTIFICATIONS, NAV_NONE };

static void begin(struct pg *p, enum nav active, const char *title)
{
	static const struct {
		const char *href;
		enum word wd;
	} nav[] = {{"/", W_PROGRAMME}, {NULL, W_KPIS}, {"/alerts", W_ALERTS},
		   {"/targets", W_TARGETS}, {"/notifications", W_NOTIFICATIONS}};
	pw_buf_printf(p->b, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
			    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			    "<title>",
		      p->lang == VIEW_LANG_ZH ? "zh-CN" : "en");
	esc(p, title);
	put(p, " — pacewatch</title><style>");
	put(p, css);
	put(p, "</style></head><body><header><a class=\"brand\" href=\"/\">pacewatch</a>"
	       "<nav aria-label=\"pacewatch\">");
	for (size_t i = 0; i < sizeof nav / sizeof nav[0]; i++) {
		if (!nav[i].href)
			continue;
		pw_buf_printf(p->b, "<a href=\"%s\"%s>%s</a> ", nav[i].href,
			      (enum nav)i == active ? " aria-current=\"page\"" : "", w(p, nav[i].wd));
	}
	put(p, "</nav></header><main>");
}

static void end(struct pg *p)
{
	put(p, "</main><footer>");
	put(p, w(p, W_EVALUATED_AT));
	put(p, " ");
	if (p->v)
		when(p, p->v->at);
	else
		put(p, w(p, W_NOT_EVALUATED));
	put(p, " · pacewatch " PW_VERSION "</footer><script>");
	put(p, script);
	put(p, "</script></body></html>\n");
}

static unsigned not_found(struct pg *p, const char *what, const char *name)
{
	begin(p, NAV_NONE, w(p, W_NOT_FOUND));
	pw_buf_printf(p->b, "<h1>%s</h1><p class=\"err\">", w(p, W_NOT_FOUND));
	esc(p, what);
	put(p, ": ");
	esc(p, name);
	put(p, "</p><p><a href=\"/\">");
	put(p, w(p, W_PROGRAMME));
	put(p, "</a></p>");
	end(p);
	return 404;
}

/* ---- charts ------------------------------------------------------------------------ */

#define PLAN_MAX 66 /* start, 64 milestones, deadline */

/* a chart's history starts at the KPI's start (or 30 days back) */
static int64_t chart_start(const struct view_meta_kpi *m, int64_t now)
{
	return m->start_ms > 0 && m->start_ms < now ? m->start_ms : now - 30LL * 86400000;
}


/* the plan's points of one unit (or, summed, of every unit): baseline at
 * start, the milestones, the target at the deadline */
static size_t plan_points(const struct view *v, size_t k, const struct view_unit *only,
			  int64_t *t, double *val, size_t max)
{
	const struct view_meta_kpi *m = &v->meta->kpis[k];
	const struct view_kpi *vk = &v->kpis[k];
	size_t n = 0;
	if (m->kind == VIEW_KPI_QUOTA || m->kind == VIEW_KPI_PEERS || m->nmilestones + 2 > max)
		return 0;
	/* one unit's plan runs from its plan start (a late starter's first
	 * value, docs/kpis.md "The plan"), through the milestones after it */
	int64_t s0 = only && only->plan_start > m->start_ms ? only->plan_start : m->start_ms;
	for (size_t i = 0; i < m->nmilestones + 2 && n < max; i++) {
		int64_t at = i == 0 ? s0
			     : i == m->nmilestones + 1 ? m->deadline_ms
						       : m->milestones[i - 1].at_ms;
		if (i > 0 && i <= m->nmilestones && at <= s0)
			continue;
		double sum = 0;
		size_t have = 0;
		for (size_t u = 0; u < vk->nunits; u++) {
			const struct view_unit *vu = &v->units[vk->unit0 + u];
			double b = vu->baseline, tg = vu->target, x;
			if (only && vu != only)
				continue;
			if (!isfinite(b) || !isfinite(tg))
				continue;
			if (i == 0)
				x = b;
			else if (i == m->nmilestones + 1)
				x = tg;
			else if (isfinite(m->milestones[i - 1].value))
				x = m->milestones[i - 1].value;
			else
				x = b + m->milestones[i - 1].fraction * (tg - b);
			sum += x, have++;
		}
		if (!have)
			return 0;
		t[n] = at, val[n] = sum, n++;
	}
	return n;
}

/* the chart of kpi k: every unit summed (u NULL), or one unit */
static void kpi_chart_at(struct pg *p, size_t k, const struct view_unit *u, bool standalone,
			 int width, int height);

/* the page's chart twice: wide for screens and paper, narrow for phones
 * (SVG text scales with the picture, so a phone gets one drawn for it) */
static void kpi_chart(struct pg *p, size_t k, const struct view_unit *u, bool standalone)
{
	if (standalone) {
		kpi_chart_at(p, k, u, true, 760, 280);
		return;
	}
	put(p, "<div class=\"ch-wide\">");
	kpi_chart_at(p, k, u, false, 760, 280);
	put(p, "</div><div class=\"ch-narrow\">");
	kpi_chart_at(p, k, u, false, 370, 240);
	put(p, "</div>");
}

static void kpi_chart_at(struct pg *p, size_t k, const struct view_unit *u, bool standalone,
			 int width, int height)
{
	const struct view_meta_kpi *m = &p->v->meta->kpis[k];
	const struct view_kpi *vk = &p->v->kpis[k];
	struct pw_buf q;
	struct hist actual, expected, target;
	int64_t now = p->src->now_ms;
	int64_t t0 = m->start_ms > 0 ? m->start_ms : now - 30LL * 86400000;
	int64_t t1 = m->deadline_ms > now ? m->deadline_ms : now;
	int64_t hend = now < t1 ? now : t1;
	int64_t pt[PLAN_MAX], ft[2], ms[64], per[128];
	double pv[PLAN_MAX], fv[2], tv[2];
	int64_t tt[2] = {t0, t1};
	struct pages_line lines[5];
	size_t nl = 0, npt, nms = 0, nper = 0;
	char title[512];

	pw_buf_init(&q, 0);
	hist_selector(&q, "pacewatch_kpi_value", m->name, u ? u->labels : NULL);
	if (!u) {
		pw_buf_reset(&q);
		pw_buf_puts(&q, "sum(");
		hist_selector(&q, "pacewatch_kpi_value", m->name, NULL);
		pw_buf_putc(&q, ')');
	}
	hist_query(p->src->store, q.data, t0, hend, &actual);
	pw_buf_reset(&q);
	if (!u)
		pw_buf_puts(&q, "sum(");
	hist_selector(&q, "pacewatch_kpi_expected", m->name, u ? u->labels : NULL);
	if (!u)
		pw_buf_putc(&q, ')');
	hist_query(p->src->store, q.data, t0, hend, &expected);
	pw_buf_reset(&q);
	if (!u)
		pw_buf_puts(&q, "sum(");
	hist_selector(&q, "pacewatch_kpi_target", m->name, u ? u->labels : NULL);
	if (!u)
		pw_buf_putc(&q, ')');
	hist_query(p->src->store, q.data, t0, hend, &target);
	pw_buf_free(&q);

	/* the plan: as recorded up to now; ahead, as configured */
	npt = plan_points(p->v, k, u, pt, pv, PLAN_MAX);
	if (npt)
		lines[nl++] = (struct pages_line){pt, pv, npt, "plan", w(p, W_PLAN), m->step};
	else if (expected.n)
		lines[nl++] = (struct pages_line){expected.t, expected.v, expected.n, "plan",
						  w(p, W_PLAN), m->step};
	/* the target: a line across (or, for quotas, as recorded per period) */
	{
		double sum = 0;
		size_t have = 0;
		for (size_t i = 0; i < vk->nunits; i++) {
			const struct view_unit *vu = &p->v->units[vk->unit0 + i];
			if ((!u || vu == u) && isfinite(vu->target))
				sum += vu->target, have++;
		}
		tv[0] = tv[1] = have ? sum : NAN;
		if (m->kind == VIEW_KPI_QUOTA && target.n)
			lines[nl++] = (struct pages_line){target.t, target.v, target.n, "target",
							  w(p, W_TARGET), true};
		else if (have)
			lines[nl++] = (struct pages_line){tt, tv, 2, "target", w(p, W_TARGET), false};
	}
	lines[nl++] = (struct pages_line){actual.t, actual.v, actual.n, "actual", w(p, W_ACTUAL),
					  false};
	/* the forecast: from the value now to the forecast at the deadline */
	{
		double sv = 0, sf = 0;
		size_t have = 0;
		for (size_t i = 0; i < vk->nunits; i++) {
			const struct view_unit *vu = &p->v->units[vk->unit0 + i];
			if ((!u || vu == u) && isfinite(vu->forecast) && isfinite(vu->value))
				sv += vu->value, sf += vu->forecast, have++;
		}
		if (have && m->deadline_ms > now && m->kind != VIEW_KPI_QUOTA) {
			ft[0] = now, ft[1] = m->deadline_ms, fv[0] = sv, fv[1] = sf;
			lines[nl++] = (struct pages_line){ft, fv, 2, "forecast", w(p, W_FORECAST),
							  false};
		}
	}
	for (size_t i = 0; i < m->nmilestones && nms < 64; i++)
		ms[nms++] = m->milestones[i].at_ms;
	if (m->period != PW_PERIOD_NONE) {
		int64_t a = t0, p0, p1;
		while (a < t1 && nper < 128) {
			pw_period_of(p->tz, m->period, a, &p0, &p1, NULL, 0);
			if (p1 <= a)
				break;
			per[nper++] = p1;
			a = p1;
		}
	}
	if (u)
		snprintf(title, sizeof title, "%s — %s", m->title && *m->title ? m->title : m->name,
			 u->name ? u->name : "");
	else
		snprintf(title, sizeof title, "%s — %s", m->title && *m->title ? m->title : m->name,
			 w(p, W_ALL_UNITS));
	pages_chart_svg(&(struct pages_chart){
				.width = width, .height = height, .t0 = t0, .t1 = t1, .lines = lines,
				.nlines = nl, .deadline_ms = m->deadline_ms, .now_ms = now,
				.milestones = ms, .nmilestones = nms, .periods = per, .nperiods = nper,
				.title = title, .deadline_label = w(p, W_DEADLINE), .tz = p->tz,
				.standalone = standalone},
			p->b);
	hist_free(&actual);
	hist_free(&expected);
	hist_free(&target);
}

/* the overview's small chart, drawn from the view alone (no history: a
 * glance at the whole programme costs no store reads): the plan as a share
 * of the way from baseline to target, the units' mean progress now, and
 * where their forecast says they will be at the deadline */
static void spark(struct pg *p, size_t k, double mprog)
{
	const struct view *v = p->v;
	const struct view_meta_kpi *m = &v->meta->kpis[k];
	const struct view_kpi *vk = &v->kpis[k];
	int64_t now = p->src->now_ms, t0 = chart_start(m, now);
	int64_t t1 = m->deadline_ms > now ? m->deadline_ms : now;
	int64_t pt[PLAN_MAX], nt[1] = {now}, ft[2];
	double pv[PLAN_MAX], nv[1] = {mprog}, fv[2], b = 0, tg = 0, f = 0, f0 = 0;
	size_t npt = plan_points(v, k, NULL, pt, pv, PLAN_MAX), nl = 0, nf = 0, np = 0;
	struct pages_line lines[3];
	char title[512];
	for (size_t i = 0; i < vk->nunits; i++) {
		const struct view_unit *u = &v->units[vk->unit0 + i];
		if (isfinite(u->baseline) && isfinite(u->target))
			b += u->baseline, tg += u->target;
		np += isfinite(u->progress);
		/* a late starter that began beyond its target has no way to go */
		if (isfinite(u->forecast) && isfinite(u->progress) && isfinite(u->baseline) &&
		    isfinite(u->target) &&
		    (m->at_most ? u->target < u->baseline : u->target > u->baseline)) {
			/* the same units now and at the deadline, as far as the target */
			f += fmin(fmax((u->forecast - u->baseline) / (u->target - u->baseline), 0), 1);
			f0 += fmin(fmax(u->progress, 0), 1);
			nf++;
		}
	}
	for (size_t i = 0; i < npt; i++)
		pv[i] = tg != b ? (pv[i] - b) / (tg - b) : NAN;
	if (npt && tg != b)
		lines[nl++] = (struct pages_line){pt, pv, npt, "plan", w(p, W_PLAN), m->step};
	/* a forecast of the whole, only when every unit that has a progress has one:
	 * the line starts where the dot is */
	if (nf && nf == np && m->deadline_ms > now && isfinite(mprog)) {
		ft[0] = now, ft[1] = m->deadline_ms, fv[0] = f0 / (double)nf, fv[1] = f / (double)nf;
		lines[nl++] = (struct pages_line){ft, fv, 2, "forecast", w(p, W_FORECAST), false};
	}
	if (isfinite(mprog))
		lines[nl++] = (struct pages_line){nt, nv, 1, "actual", w(p, W_PROGRESS), false};
	snprintf(title, sizeof title, "%s — %s", m->title && *m->title ? m->title : m->name,
		 w(p, W_PROGRESS_VS_PLAN));
	pages_chart_svg(&(struct pages_chart){
				.width = 320, .height = 48, .t0 = t0, .t1 = t1, .lines = lines,
				.nlines = nl, .deadline_ms = m->deadline_ms, .now_ms = now,
				.title = title, .tz = p->tz, .small = true, .percent = true},
			p->b);
}

/* ---- / ---------------------------------------------------------------------------- */

struct kpi_order {
	size_t k;
	int worst;
	size_t behind;
};

static int kpi_order_cmp(const void *a, const void *b)
{
	const struct kpi_order *x = a, *y = b;
	if (x->worst != y->worst)
		return x->worst < y->worst ? -1 : 1;
	if (x->behind != y->behind)
		return x->behind > y->behind ? -1 : 1;
	return x->k < y->k ? -1 : x->k > y->k;
}

static bool is_laggard(enum view_status s) { return view_status_rank(s) < view_status_rank(VIEW_MET); }

static void mean_progress(const struct view *v, size_t k, double *prog, double *plan)
{
	const struct view_kpi *vk = &v->kpis[k];
	double a = 0, e = 0;
	size_t na = 0, ne = 0;
	for (size_t i = 0; i < vk->nunits; i++) {
		const struct view_unit *u = &v->units[vk->unit0 + i];
		if (isfinite(u->progress))
			a += fmin(u->progress, 1), na++;
		if (isfinite(u->expected_progress))
			e += fmin(u->expected_progress, 1), ne++;
	}
	*prog = na ? a / (double)na : NAN;
	*plan = ne ? e / (double)ne : NAN;
}

/* who is behind, by how much: the first few laggards, linked */
#define CARD_LAGGARDS 5
static void laggards(struct pg *p, size_t k)
{
	const struct view_meta_kpi *m = &p->v->meta->kpis[k];
	const struct view_kpi *vk = &p->v->kpis[k];
	size_t n = 0;
	p->missed_period = vk->previous_period;
	for (size_t i = 0; i < vk->nunits; i++) {
		const struct view_unit *u = &p->v->units[vk->unit0 + i];
		if (!is_laggard(u->status))
			break; /* laggards first */
		if (n == CARD_LAGGARDS) {
			/* the laggards not listed (laggards come first; the rest are not behind) */
			size_t more = 0;
			for (size_t j = i; j < vk->nunits && is_laggard(p->v->units[vk->unit0 + j].status); j++)
				more++;
			pw_buf_printf(p->b, p->lang == VIEW_LANG_ZH ? "<li class=\"more\">等 %zu 个</li>"
								    : "<li class=\"more\">and %zu more</li>",
				      more);
			break;
		}
		if (!n++)
			pw_buf_printf(p->b, "<ul class=\"lag\" aria-label=\"%s\">", w(p, W_BEHIND));
		put(p, "<li><a href=\"");
		unit_href(p, m->name, u);
		put(p, "\">");
		esc(p, u->name && *u->name ? u->name : "-");
		put(p, "</a> ");
		badge(p, u->status);
		if (isfinite(u->gap) && u->gap > 0) {
			pw_buf_printf(p->b, " %s ", w(p, W_GAP));
			num(p, u->gap);
		}
		put(p, "</li>");
	}
	if (n)
		put(p, "</ul>");
	p->missed_period = NULL;
}

static unsigned overview(struct pg *p)
{
	const struct view *v = p->v;
	struct kpi_order *o;
	begin(p, NAV_HOME, w(p, W_PROGRAMME));
	pw_buf_printf(p->b, "<h1>%s</h1>", w(p, W_PROGRAMME));
	if (!v || !v->meta->nkpis) {
		pw_buf_printf(p->b, "<p>%s</p>", v ? w(p, W_NONE) : w(p, W_NOT_EVALUATED));
		end(p);
		return 200;
	}
	o = xcalloc(v->meta->nkpis, sizeof *o);
	for (size_t k = 0; k < v->meta->nkpis; k++) {
		const struct view_kpi *vk = &v->kpis[k];
		o[k].k = k;
		o[k].worst = vk->nunits ? view_status_rank(v->units[vk->unit0].status) : VIEW_NSTATUS;
		for (size_t i = 0; i < vk->nunits; i++)
			o[k].behind += is_laggard(v->units[vk->unit0 + i].status);
	}
	qsort(o, v->meta->nkpis, sizeof *o, kpi_order_cmp);
	put(p, "<div class=\"cards\">");
	for (size_t j = 0; j < v->meta->nkpis; j++) {
		size_t k = o[j].k, counts[VIEW_NSTATUS] = {0};
		const struct view_meta_kpi *m = &v->meta->kpis[k];
		const struct view_kpi *vk = &v->kpis[k];
		double mprog, mplan;
		for (size_t i = 0; i < vk->nunits; i++)
			counts[v->units[vk->unit0 + i].status]++;
		pw_buf_printf(p->b, "<section class=\"card w-%s\" data-kpi=\"",
			      vk->nunits ? view_status_name(v->units[vk->unit0].status) : "none");
		esc(p, m->name);
		put(p, "\"><h2><a href=\"");
		kpi_href(p, m->name);
		put(p, "\">");
		esc(p, m->title && *m->title ? m->title : m->name);
		put(p, "</a></h2>");
		if (*m->owner) {
			pw_buf_printf(p->b, "<div class=\"meta\">%s：", w(p, W_OWNER));
			esc(p, m->owner);
			if (*m->contact) {
				put(p, " · ");
				esc(p, m->contact);
			}
			put(p, "</div>");
		}
		pw_buf_printf(p->b, "<div class=\"meta\">%s：", w(p, W_DEADLINE));
		deadline(p, m);
		put(p, "</div><div class=\"counts\">");
		for (int s = 0; s < VIEW_NSTATUS; s++) {
			if (!counts[s])
				continue;
			pw_buf_printf(p->b, "<span class=\"st st-%s\" data-status=\"%s\" data-n=\"%zu\">",
				      view_status_name((enum view_status)s),
				      view_status_name((enum view_status)s), counts[s]);
			esc(p, status_word(p, (enum view_status)s));
			pw_buf_printf(p->b, " %zu</span>", counts[s]);
		}
		if (!vk->nunits)
			pw_buf_printf(p->b, "<span>%s</span>", w(p, W_NOT_EVALUATED));
		put(p, "</div><div class=\"meta\">");
		mean_progress(v, k, &mprog, &mplan);
		pw_buf_printf(p->b, "%s ", w(p, W_PROGRESS));
		pct(p, mprog);
		pw_buf_printf(p->b, " / %s ", w(p, W_PLAN));
		pct(p, mplan);
		put(p, " ");
		bar(p, mprog, mplan);
		put(p, "</div>");
		laggards(p, k);
		spark(p, k, mprog);
		put(p, "</section>");
	}
	put(p, "</div>");
	free(o);
	end(p);
	return 200;
}

/* ---- /kpis/NAME -------------------------------------------------------------------- */

static void unit_cells(struct pg *p, const struct view_meta_kpi *m, const struct view_unit *u,
		       int64_t since)
{
	double span = fabs(u->target - u->baseline);
	pw_buf_printf(p->b, "<td data-v=\"%d\">", view_status_rank(u->status));
	badge(p, u->status);
	pw_buf_printf(p->b, "</td><td class=\"n\" data-v=\"%.17g\">", isfinite(u->value) ? u->value : -1e300);
	num(p, u->value);
	pw_buf_printf(p->b, "</td><td class=\"n opt\" data-v=\"%.17g\">", isfinite(u->expected) ? u->expected : -1e300);
	num(p, u->expected);
	pw_buf_printf(p->b, "</td><td class=\"n\" data-v=\"%.17g\">", isfinite(u->gap) ? u->gap : -1e300);
	if (isfinite(u->gap) && u->gap < 0) {
		put(p, w(p, W_AHEAD));
		put(p, " ");
		num(p, -u->gap);
	} else {
		num(p, u->gap);
		if (isfinite(u->gap) && u->gap > 0 && span > 0)
			pw_buf_printf(p->b, "<span class=\"opt\"> (%.1f%%)</span>", 100 * u->gap / span);
	}
	pw_buf_printf(p->b, "</td><td class=\"n\" data-v=\"%.17g\">", isfinite(u->progress) ? u->progress : -1e300);
	pct(p, u->progress);
	put(p, " ");
	bar(p, u->progress, u->expected_progress);
	pw_buf_printf(p->b, "</td><td class=\"n opt\" data-v=\"%.17g\">",
		      isfinite(u->forecast) ? u->forecast : -1e300);
	num(p, u->forecast);
	pw_buf_printf(p->b, "</td><td class=\"n opt\" data-v=\"%.17g\">", isfinite(u->target) ? u->target : -1e300);
	num(p, u->target);
	pw_buf_printf(p->b, "</td><td class=\"opt when\" data-v=\"%lld\">", (long long)since);
	if (since)
		when(p, since);
	else
		put(p, "-");
	put(p, "</td>");
	(void)m;
}

static void units_head(struct pg *p, bool with_name)
{
	put(p, "<thead><tr>");
	if (with_name)
		pw_buf_printf(p->b, "<th scope=\"col\" data-sort>%s</th>", w(p, W_UNIT));
	pw_buf_printf(p->b,
		      "<th scope=\"col\" data-sort>%s</th><th scope=\"col\" class=\"n\" data-sort>%s</th>"
		      "<th scope=\"col\" class=\"n opt\" data-sort>%s</th><th scope=\"col\" class=\"n\" "
		      "data-sort>%s</th><th scope=\"col\" class=\"n\" data-sort>%s</th>"
		      "<th scope=\"col\" class=\"n opt\" data-sort>%s</th><th scope=\"col\" class=\"n opt\" "
		      "data-sort>%s</th><th scope=\"col\" class=\"opt\" data-sort>%s</th></tr></thead>",
		      w(p, W_STATUS), w(p, W_VALUE), w(p, W_PLAN_NOW), w(p, W_GAP), w(p, W_PROGRESS),
		      w(p, W_FORECAST), w(p, W_TARGET), w(p, W_SINCE));
}

static void kpi_head(struct pg *p, const struct view_meta_kpi *m, const struct view_kpi *vk)
{
	if (*m->owner || *m->contact) {
		pw_buf_printf(p->b, "<p class=\"meta\">%s：", w(p, W_OWNER));
		esc(p, *m->owner ? m->owner : "-");
		pw_buf_printf(p->b, " · %s：", w(p, W_CONTACT));
		esc(p, *m->contact ? m->contact : "-");
		put(p, "</p>");
	}
	pw_buf_printf(p->b, "<p class=\"meta\">%s：", w(p, W_DEADLINE));
	deadline(p, m);
	if (vk->period) {
		pw_buf_printf(p->b, " · %s：", w(p, W_PERIOD));
		esc(p, vk->period);
	}
	put(p, " · ");
	put(p, w(p, W_EVALUATED_AT));
	put(p, " ");
	when(p, vk->evaluated_at);
	put(p, "</p>");
	if (*m->runbook) {
		pw_buf_printf(p->b, "<p class=\"meta\">%s：", w(p, W_RUNBOOK));
		if (strncmp(m->runbook, "https://", 8) == 0 || strncmp(m->runbook, "http://", 7) == 0) {
			put(p, "<a href=\"");
			esc(p, m->runbook);
			put(p, "\">");
			esc(p, m->runbook);
			put(p, "</a>");
		} else {
			esc(p, m->runbook);
		}
		put(p, "</p>");
	}
}

static void row_class(struct pg *p, enum view_status s)
{
	int r = view_status_rank(s);
	put(p, r <= view_status_rank(VIEW_NOT_COVERED) ? " class=\"bad\""
	       : r < view_status_rank(VIEW_MET)        ? " class=\"lag\""
						       : "");
}

static unsigned kpi_page(struct pg *p, size_t k)
{
	const struct view *v = p->v;
	const struct view_meta_kpi *m = &v->meta->kpis[k];
	const struct view_kpi *vk = &v->kpis[k];
	int64_t *since = xcalloc(vk->nunits + 1, sizeof *since);
	p->missed_period = vk->previous_period;
	int64_t now = p->src->now_ms, t0 = m->start_ms > 0 && m->start_ms < now ? m->start_ms
									      : now - 30LL * 86400000;
	begin(p, NAV_KPI, m->title && *m->title ? m->title : m->name);
	put(p, "<h1>");
	esc(p, m->title && *m->title ? m->title : m->name);
	put(p, "</h1>");
	kpi_head(p, m, vk);
	kpi_chart(p, k, NULL, false);
	hist_status_since(p->src->store, v, k, t0, now, since);
	pw_buf_printf(p->b, "<h2>%s</h2><div class=\"tw\"><table class=\"units\"><caption>", w(p, W_UNITS));
	esc(p, m->title && *m->title ? m->title : m->name);
	pw_buf_printf(p->b, " — %zu %s</caption>", vk->nunits, w(p, W_UNITS));
	units_head(p, true);
	put(p, "<tbody>");
	for (size_t i = 0; i < vk->nunits && i < PAGES_MAX_ROWS; i++) {
		const struct view_unit *u = &v->units[vk->unit0 + i];
		pw_buf_printf(p->b, "<tr data-unit=\"%016llx\"", (unsigned long long)u->labels->h);
		row_class(p, u->status);
		put(p, "><th scope=\"row\" data-v=\"");
		esc(p, u->name);
		put(p, "\"><a href=\"");
		unit_href(p, m->name, u);
		put(p, "\">");
		esc(p, u->name && *u->name ? u->name : "-");
		put(p, "</a></th>");
		unit_cells(p, m, u, since[i]);
		put(p, "</tr>");
	}
	put(p, "</tbody></table></div>");
	if (vk->nunits > PAGES_MAX_ROWS) /* a page stays small: the rest are in the API */
		pw_buf_printf(p->b, w(p, W_MORE_ROWS), (size_t)PAGES_MAX_ROWS, vk->nunits);
	free(since);
	end(p);
	return 200;
}

/* ---- /kpis/NAME/UNIT ---------------------------------------------------------------- */

static bool alert_of_unit(const struct view_alert *a, const char *kpi, const struct pw_lset *u)
{
	const char *ak = pw_lset_get(a->labels, "kpi");
	if (!ak || strcmp(ak, kpi))
		return false;
	for (uint32_t i = 0; i < u->n; i++) {
		const char *x = pw_lset_get(a->labels, u->l[i].name);
		if (!x || strcmp(x, u->l[i].value))
			return false;
	}
	return true;
}

/* a KPI alert links to its unit's page (or, past ALERT_LINK_UNITS units,
 * to its KPI's): opens <a ...> and says so */
#define ALERT_LINK_UNITS 5000
static bool alert_link(struct pg *p, const struct view_alert *a)
{
	const char *kn = pw_lset_get(a->labels, "kpi");
	for (size_t k = 0; kn && k < p->v->meta->nkpis; k++) {
		const struct view_kpi *vk = &p->v->kpis[k];
		if (strcmp(p->v->meta->kpis[k].name, kn))
			continue;
		for (size_t i = 0; vk->nunits <= ALERT_LINK_UNITS && i < vk->nunits; i++) {
			const struct view_unit *u = &p->v->units[vk->unit0 + i];
			if (alert_of_unit(a, kn, u->labels)) {
				put(p, "<a href=\"");
				unit_href(p, kn, u);
				put(p, "\">");
				return true;
			}
		}
		put(p, "<a href=\"");
		kpi_href(p, kn);
		put(p, "\">");
		return true;
	}
	return false;
}

static void alerts_table(struct pg *p, const char *kpi, const struct pw_lset *unit)
{
	const struct view *v = p->v;
	size_t shown = 0;
	pw_buf_printf(p->b, "<div class=\"tw\"><table class=\"alerts\"><thead><tr><th scope=\"col\">"
			    "%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
			    "<th scope=\"col\" class=\"opt\">%s</th></tr></thead><tbody>",
		      w(p, W_ALERTS), w(p, W_STATE), w(p, W_SUMMARY), w(p, W_ACTIVE_SINCE));
	for (size_t i = 0; v && i < v->nalerts; i++) {
		const struct view_alert *a = &v->alerts[i];
		const char *sum;
		if (kpi && !alert_of_unit(a, kpi, unit))
			continue;
		if (!kpi && a->state == VIEW_INACTIVE)
			continue;
		shown++;
		put(p, "<tr");
		put(p, a->state == VIEW_FIRING ? " class=\"bad\"" : "");
		put(p, "><th scope=\"row\">");
		if (!kpi && alert_link(p, a)) {
			esc(p, pw_lset_get(a->labels, "alertname"));
			put(p, "</a>");
		} else {
			esc(p, pw_lset_get(a->labels, "alertname"));
		}
		if (!kpi) {
			put(p, "<br><small>");
			for (uint32_t j = 0; j < a->labels->n; j++) {
				if (!strcmp(a->labels->l[j].name, "alertname"))
					continue;
				esc(p, a->labels->l[j].name);
				put(p, "=");
				esc(p, a->labels->l[j].value);
				put(p, " ");
			}
			put(p, "</small>");
		}
		pw_buf_printf(p->b, "</th><td><span class=\"st st-%s\">%s</span></td><td>",
			      view_alert_state_name(a->state), w(p, W_ST_INACTIVE + (int)a->state));
		sum = a->annotations ? pw_lset_get(a->annotations, "summary") : NULL;
		if (!sum && a->annotations)
			sum = pw_lset_get(a->annotations, "description");
		esc(p, sum ? sum : "");
		put(p, "</td><td class=\"opt\">");
		when(p, a->active_at);
		put(p, "</td></tr>");
	}
	if (!shown)
		pw_buf_printf(p->b, "<tr><td colspan=\"4\">%s</td></tr>", w(p, W_NONE));
	put(p, "</tbody></table></div>");
}

/* the notifications about a unit: the notification log's entries that
 * held one of its alerts */
struct unit_log {
	struct pg *p;
	uint64_t fp[64];
	const char *name[64];
	size_t n, shown;
};

static int unit_log_row(void *ctx, const struct notify_log_info *e)
{
	struct unit_log *x = ctx;
	struct pg *p = x->p;
	bool any = false;
	for (int pass = 0; pass < 2; pass++) {
		const uint64_t *fps = pass ? e->resolved : e->firing;
		size_t nf = pass ? e->nresolved : e->nfiring;
		for (size_t i = 0; i < nf; i++)
			for (size_t j = 0; j < x->n; j++) {
				if (fps[i] != x->fp[j])
					continue;
				if (!any) {
					put(p, "<tr><td>");
					when(p, e->sent_ms);
					put(p, "</td><td>");
					esc(p, e->receiver);
					put(p, "</td><td>");
					any = true;
				}
				esc(p, x->name[j]);
				pw_buf_printf(p->b, " <span class=\"st st-%s\">%s</span> ",
					      pass ? "on_track" : "firing",
					      w(p, pass ? W_ST_INACTIVE : W_ST_FIRING));
			}
	}
	if (any) {
		put(p, "</td></tr>");
		x->shown++;
	}
	return x->shown >= 50;
}

static void unit_notifications(struct pg *p, const char *kpi, const struct pw_lset *unit)
{
	struct unit_log x = {.p = p};
	for (size_t i = 0; p->v && i < p->v->nalerts && x.n < 64; i++) {
		const struct view_alert *a = &p->v->alerts[i];
		if (!alert_of_unit(a, kpi, unit))
			continue;
		x.fp[x.n] = notify_status_fingerprint(p->src->notify, a->labels);
		x.name[x.n++] = pw_lset_get(a->labels, "alertname");
	}
	pw_buf_printf(p->b, "<h2>%s</h2><div class=\"tw\"><table class=\"sent\"><thead><tr>"
			    "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">"
			    "%s</th></tr></thead><tbody>",
		      w(p, W_NOTIFICATIONS), w(p, W_SENT), w(p, W_RECEIVER), w(p, W_ALERTS));
	if (x.n)
		notify_status_log(p->src->notify, unit_log_row, &x);
	if (!x.shown)
		pw_buf_printf(p->b, "<tr><td colspan=\"3\">%s</td></tr>", w(p, W_NONE));
	put(p, "</tbody></table></div>");
}

static unsigned unit_page(struct pg *p, size_t k, const struct view_unit *u)
{
	const struct view *v = p->v;
	const struct view_meta_kpi *m = &v->meta->kpis[k];
	p->missed_period = v->kpis[k].previous_period;
	struct hist_change ch[64];
	int64_t now = p->src->now_ms, t0 = m->start_ms > 0 && m->start_ms < now ? m->start_ms
									      : now - 30LL * 86400000;
	size_t nch;
	char title[512];
	snprintf(title, sizeof title, "%s — %s", u->name ? u->name : "",
		 m->title && *m->title ? m->title : m->name);
	begin(p, NAV_KPI, title);
	put(p, "<h1>");
	esc(p, u->name && *u->name ? u->name : "-");
	put(p, " ");
	badge(p, u->status);
	put(p, "</h1><p class=\"meta\"><a href=\"");
	kpi_href(p, m->name);
	put(p, "\">");
	esc(p, m->title && *m->title ? m->title : m->name);
	put(p, "</a> · ");
	put(p, w(p, W_LABELS));
	put(p, "： <code>");
	for (uint32_t i = 0; i < u->labels->n; i++) {
		esc(p, u->labels->l[i].name);
		put(p, "=");
		esc(p, u->labels->l[i].value);
		put(p, " ");
	}
	put(p, "</code> · ");
	put(p, w(p, W_LAST_SEEN));
	put(p, " ");
	if (u->last_seen)
		when(p, u->last_seen);
	else
		put(p, w(p, W_NEVER));
	put(p, "</p>");
	kpi_head(p, m, &v->kpis[k]);
	kpi_chart(p, k, u, false);
	nch = hist_status_changes(p->src->store, m->name, u->labels, t0, now, ch, 64);
	put(p, "<div class=\"tw\"><table class=\"units\">");
	units_head(p, false);
	put(p, "<tbody><tr>");
	unit_cells(p, m, u, nch ? ch[nch - 1].at : 0);
	put(p, "</tr></tbody></table></div>");
	pw_buf_printf(p->b, "<h2>%s</h2><div class=\"tw\"><table class=\"history\"><thead><tr>"
			    "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead><tbody>",
		      w(p, W_STATUS_HISTORY), w(p, W_SINCE), w(p, W_STATUS));
	p->missed_period = NULL; /* older statuses: their period is not known here */
	for (size_t i = nch; i-- > 0;) {
		put(p, "<tr><td>");
		when(p, ch[i].at);
		put(p, "</td><td>");
		if (ch[i].status >= 0)
			badge(p, (enum view_status)ch[i].status);
		else
			put(p, w(p, W_NOT_EVALUATED));
		put(p, "</td></tr>");
	}
	if (!nch)
		pw_buf_printf(p->b, "<tr><td colspan=\"2\">%s</td></tr>", w(p, W_NONE));
	put(p, "</tbody></table></div>");
	pw_buf_printf(p->b, "<h2>%s</h2>", w(p, W_ALERTS));
	alerts_table(p, m->name, u->labels);
	unit_notifications(p, m->name, u->labels);
	end(p);
	return 200;
}

/* ---- /alerts, /targets, /notifications --------------------------------------------- */

static unsigned alerts_page(struct pg *p)
{
	begin(p, NAV_ALERTS, w(p, W_ALERTS));
	pw_buf_printf(p->b, "<h1>%s</h1>", w(p, W_ALERTS));
	alerts_table(p, NULL, NULL);
	end(p);
	return 200;
}

static unsigned targets_page(struct pg *p)
{
	begin(p, NAV_TARGETS, w(p, W_TARGETS));
	pw_buf_printf(p->b, "<h1>%s</h1><div class=\"tw\"><table class=\"targets\"><thead><tr>"
			    "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
			    "<th scope=\"col\">%s</th><th scope=\"col\" class=\"opt\">%s</th></tr>"
			    "</thead><tbody>",
		      w(p, W_TARGETS), w(p, W_TARGET_NAME), w(p, W_HEALTH), w(p, W_LAST_SCRAPE),
		      w(p, W_LAST_ERROR), w(p, W_NEXT_DUE));
	for (size_t i = 0; i < p->src->ntargets; i++) {
		const struct collector_target_status *t = &p->src->targets[i];
		const char *h = t->health == 1 ? "up" : t->health == 0 ? "down" : "unknown";
		put(p, "<tr");
		put(p, t->health == 0 ? " class=\"bad\"" : "");
		pw_buf_printf(p->b, " data-target=\"");
		esc(p, t->name);
		put(p, "\"><th scope=\"row\">");
		esc(p, t->name);
		put(p, "<br><small>");
		esc(p, t->url);
		pw_buf_printf(p->b, "</small></th><td><span class=\"st st-%s\">%s</span></td><td>", h,
			      w(p, t->health == 1 ? W_UP : t->health == 0 ? W_DOWN : W_UNKNOWN));
		when_s(p, t->last_scrape_ms);
		put(p, "</td><td class=\"err\">");
		esc(p, *t->last_error ? t->last_error : "-");
		put(p, "</td><td class=\"opt\">");
		if (t->next_due_ms)
			when_s(p, t->next_due_ms);
		else
			put(p, w(p, W_IN_FLIGHT));
		put(p, "</td></tr>");
	}
	if (!p->src->ntargets)
		pw_buf_printf(p->b, "<tr><td colspan=\"5\">%s</td></tr>", w(p, W_NONE));
	put(p, "</tbody></table></div>");
	end(p);
	return 200;
}

static int queued_row(void *ctx, const struct notify_queued_info *q)
{
	struct pg *p = ctx;
	put(p, "<tr");
	put(p, *q->last_error ? " class=\"bad\"" : "");
	put(p, "><td>");
	when(p, q->queued_ms);
	put(p, "</td><td>");
	esc(p, q->receiver);
	put(p, "</td><td>");
	esc(p, q->subject);
	pw_buf_printf(p->b, "</td><td class=\"n\">%lld</td><td class=\"err\">", q->attempts);
	esc(p, *q->last_error ? q->last_error : "-");
	put(p, "</td><td class=\"opt\">");
	when(p, q->next_attempt_ms);
	put(p, "</td></tr>");
	return 0;
}

static unsigned notifications_page(struct pg *p)
{
	const struct notify_status *st = p->src->notify;
	size_t n = notify_status_nreceivers(st);
	begin(p, NAV_NOTIFICATIONS, w(p, W_NOTIFICATIONS));
	pw_buf_printf(p->b, "<h1>%s</h1><div class=\"tw\"><table class=\"receivers\"><thead><tr>"
			    "<th scope=\"col\">%s</th><th scope=\"col\" class=\"n\">%s</th>"
			    "<th scope=\"col\" class=\"n\">%s</th><th scope=\"col\" class=\"n\">%s</th>"
			    "<th scope=\"col\" class=\"n\">%s</th><th scope=\"col\">%s</th></tr>"
			    "</thead><tbody>",
		      w(p, W_NOTIFICATIONS), w(p, W_RECEIVER), w(p, W_QUEUED), w(p, W_SENT),
		      w(p, W_FAILED), w(p, W_DROPPED), w(p, W_LAST_ERROR));
	for (size_t i = 0; i < n; i++) {
		struct notify_receiver_info r;
		notify_status_receiver(st, i, &r);
		put(p, "<tr");
		put(p, r.last_error ? " class=\"lag\"" : "");
		put(p, "><th scope=\"row\">");
		esc(p, r.name);
		put(p, "<br><small>");
		esc(p, r.kind);
		put(p, " ");
		esc(p, r.target);
		pw_buf_printf(p->b, "</small></th><td class=\"n\">%zu</td><td class=\"n\">%llu</td>"
				    "<td class=\"n\">%llu</td><td class=\"n\">%llu</td><td class=\"err\">",
			      r.queued, (unsigned long long)r.sent, (unsigned long long)r.failed,
			      (unsigned long long)r.dropped);
		if (r.last_error) {
			esc(p, r.last_error);
			put(p, " (");
			when(p, r.last_error_ms);
			put(p, ")");
		} else {
			put(p, "-");
		}
		put(p, "</td></tr>");
	}
	if (!n)
		pw_buf_printf(p->b, "<tr><td colspan=\"6\">%s</td></tr>", w(p, W_NONE));
	pw_buf_printf(p->b, "</tbody></table></div><h2>%s</h2><div class=\"tw\"><table "
			    "class=\"outbox\"><thead><tr><th scope=\"col\">%s</th><th scope=\"col\">%s"
			    "</th><th scope=\"col\">%s</th><th scope=\"col\" class=\"n\">%s</th>"
			    "<th scope=\"col\">%s</th><th scope=\"col\" class=\"opt\">%s</th></tr>"
			    "</thead><tbody>",
		      w(p, W_QUEUED), w(p, W_QUEUED_AT), w(p, W_RECEIVER), w(p, W_SUBJECT),
		      w(p, W_ATTEMPTS), w(p, W_LAST_ERROR), w(p, W_NEXT_ATTEMPT));
	{
		size_t before = p->b->len;
		notify_status_queued(st, queued_row, p);
		if (p->b->len == before)
			pw_buf_printf(p->b, "<tr><td colspan=\"6\">%s</td></tr>", w(p, W_NONE));
	}
	put(p, "</tbody></table></div>");
	end(p);
	return 200;
}

/* ---- dispatch ----------------------------------------------------------------------- */

bool pages_match(const char *url)
{
	return strcmp(url, "/") == 0 || strncmp(url, "/kpis/", 6) == 0 ||
	       strcmp(url, "/alerts") == 0 || strcmp(url, "/targets") == 0 ||
	       strcmp(url, "/notifications") == 0;
}

static bool parse_unit_id(const char *s, size_t n, uint64_t *id)
{
	uint64_t x = 0;
	if (n != 16)
		return false;
	for (size_t i = 0; i < n; i++) {
		int d = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
			: s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
			: s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10
						     : -1;
		if (d < 0)
			return false;
		x = x << 4 | (uint64_t)d;
	}
	*id = x;
	return true;
}

/* /kpis/NAME[/UNIT_ID][/chart.svg] */
static unsigned kpi_route(struct pg *p, const char *rest, const char **ctype)
{
	const struct view *v = p->v;
	const char *slash = strchr(rest, '/');
	size_t nlen = slash ? (size_t)(slash - rest) : strlen(rest);
	char name[256];
	const char *tail = slash ? slash + 1 : NULL, *unit_s = NULL;
	size_t unit_n = 0;
	bool svg = false;
	size_t k;
	if (nlen >= sizeof name) /* no KPI has so long a name */
		return not_found(p, w(p, W_KPIS), rest);
	memcpy(name, rest, nlen);
	name[nlen] = '\0';
	if (tail && *tail) {
		const char *s2 = strchr(tail, '/');
		if (strcmp(tail, "chart.svg") == 0) {
			svg = true;
		} else {
			unit_s = tail;
			unit_n = s2 ? (size_t)(s2 - tail) : strlen(tail);
			if (s2 && strcmp(s2 + 1, "chart.svg") == 0)
				svg = true;
			else if (s2 && s2[1])
				return not_found(p, w(p, W_KPIS), rest);
		}
	}
	for (k = 0; v && k < v->meta->nkpis; k++)
		if (strcmp(v->meta->kpis[k].name, name) == 0)
			break;
	if (!v || k == v->meta->nkpis)
		return not_found(p, w(p, W_KPIS), name);
	if (unit_s) {
		uint64_t id;
		const struct view_kpi *vk = &v->kpis[k];
		const struct view_unit *u = NULL;
		if (parse_unit_id(unit_s, unit_n, &id))
			for (size_t i = 0; i < vk->nunits && !u; i++)
				if (v->units[vk->unit0 + i].labels->h == id)
					u = &v->units[vk->unit0 + i];
		if (!u)
			return not_found(p, w(p, W_UNIT), rest);
		if (svg) {
			*ctype = "image/svg+xml";
			kpi_chart(p, k, u, true);
			return 200;
		}
		return unit_page(p, k, u);
	}
	if (svg) {
		*ctype = "image/svg+xml";
		kpi_chart(p, k, NULL, true);
		return 200;
	}
	return kpi_page(p, k);
}

unsigned pages_render(const struct pages_src *src, const char *url, struct pw_buf *out,
		      const char **ctype)
{
	struct pg p = {.src = src, .v = src->v, .b = out};
	unsigned code;
	*ctype = "text/html; charset=utf-8";
	p.lang = src->v ? src->v->meta->lang : VIEW_LANG_ZH;
	if (src->v && src->v->meta->timezone && *src->v->meta->timezone &&
	    pw_tz_load(src->v->meta->timezone, &p.tz, NULL) != 0)
		p.tz = NULL;
	if (strcmp(url, "/") == 0)
		code = overview(&p);
	else if (strncmp(url, "/kpis/", 6) == 0)
		code = kpi_route(&p, url + 6, ctype);
	else if (strcmp(url, "/alerts") == 0)
		code = alerts_page(&p);
	else if (strcmp(url, "/targets") == 0)
		code = targets_page(&p);
	else if (strcmp(url, "/notifications") == 0)
		code = notifications_page(&p);
	else
		code = not_found(&p, "URL", url);
	pw_tz_free(p.tz);
	return code;
}
