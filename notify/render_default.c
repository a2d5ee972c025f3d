/*
 * render_default.c — the default subject and bodies of a notification email
 * (render_email.c wraps them in MIME; templates replace them), in the
 * configured language, made to be acted on from a phone:
 *
 *   [告警 3] 互认项目数：进度落后 3
 *   目标 201 · 截止 2025-12-01 · 负责 省卫健委医政处 · 0531-12345678
 *   告警中 3
 *   单位    当前   计划应达   落后计划        距目标
 *   枣庄市   170    181.73   11.73 (14.5%)   31 (38.3%)
 *           进度落后 · 进度 61.7%（计划 76.2%）· 预测 190.2 · 自 …
 *   处理办法 …   links to the KPI's page and its unit's, and the dashboard
 *
 * A KPI alert's numbers are its annotations, the numbers of /api/v1/kpis as
 * people read them (docs/kpis.md); the percentages are shares of the way
 * from baseline to target. Other alerts show their summary, value, labels
 * and since when.
 */
#include "notify_int.h"

#include <stdlib.h>
#include <string.h>

/* what the default email says and how */
struct look {
	bool zh;
	bool kpi;          /* KPI alerts (they carry a unit) */
	const char *title; /* the title the alerts share, or NULL */
	const char *kpi_name;
	const struct pw_tz *tz;
	const struct nmsg *m;
};

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static const char *tr(const struct look *k, const char *zh, const char *en)
{
	return k->zh ? zh : en;
}

/* ---- what the alerts share ------------------------------------------------------------ */

static void look_of(const struct nmsg *m, const struct pw_tz *tz, struct look *k)
{
	size_t nca, ncl;
	struct pw_label *ca = render_common(m->alerts, m->n, true, &nca);
	struct pw_label *cl = render_common(m->alerts, m->n, false, &ncl);
	memset(k, 0, sizeof *k);
	k->zh = m->zh;
	k->tz = tz;
	k->m = m;
	for (size_t i = 0; i < nca; i++)
		if (strcmp(ca[i].name, "title") == 0)
			k->title = ca[i].value; /* the first alert's string: outlives ca */
	for (size_t i = 0; i < ncl; i++)
		if (strcmp(cl[i].name, "kpi") == 0)
			k->kpi_name = cl[i].value;
	free(ca);
	free(cl);
	k->kpi = m->n > 0;
	for (size_t i = 0; i < m->n; i++)
		k->kpi &= nalert_ann(m->alerts[i], "unit") != NULL;
}

/* the alert's headline: what it is, in a few words */
static const char *headline(const struct nalert *a)
{
	const char *h = nalert_ann(a, "headline");
	return or_dash(h && *h ? h : nalert_label(a, "alertname"));
}

/* ---- the subject ------------------------------------------------------------------------- */

char *render_default_subject(const struct nmsg *m)
{
	struct look k;
	struct pw_buf b;
	size_t lo = 0, hi = m->nfiring ? m->nfiring : m->n; /* the firing, else the resolved */
	look_of(m, NULL, &k);
	pw_buf_init(&b, 0);
	if (m->nfiring)
		pw_buf_printf(&b, k.zh ? "[告警 %zu]" : "[FIRING:%zu]", m->nfiring);
	else
		pw_buf_puts(&b, k.zh ? "[已恢复]" : "[RESOLVED]");
	if (k.kpi) {
		/* the KPI, then how many units of each kind */
		const char *sep = k.zh ? "：" : ": ";
		pw_buf_printf(&b, " %s", or_dash(k.title ? k.title : k.kpi_name));
		for (size_t i = lo; i < hi; i++) {
			const char *h = headline(m->alerts[i]);
			size_t count = 0;
			bool seen = false;
			for (size_t j = lo; j < i && !seen; j++)
				seen = strcmp(headline(m->alerts[j]), h) == 0;
			if (seen)
				continue;
			for (size_t j = i; j < hi; j++)
				count += strcmp(headline(m->alerts[j]), h) == 0;
			if (k.zh)
				pw_buf_printf(&b, "%s%s %zu", sep, h, count);
			else
				pw_buf_printf(&b, "%s%zu %s", sep, count, h);
			sep = k.zh ? "，" : ", ";
		}
	} else {
		/* the alert's title (or name), then the group's other labels */
		pw_buf_printf(&b, " %s", k.title ? k.title : or_dash(nalert_label(m->alerts[0], "alertname")));
		for (size_t i = 0; i < m->group_labels->n; i++)
			if (strcmp(m->group_labels->l[i].name, "alertname"))
				pw_buf_printf(&b, " %s", m->group_labels->l[i].value);
	}
	return pw_buf_take(&b);
}

/* ---- links ------------------------------------------------------------------------------ */

/* the page of the KPI (unit: and of the alert's unit, by its id) */
static void page_url(struct pw_buf *b, const struct look *k, const struct nalert *unit)
{
	const char *id = unit ? nalert_ann(unit, "unit_id") : NULL;
	pw_buf_printf(b, "%s/kpis/", k->m->external_url);
	url_escape(b, or_dash(k->kpi_name ? k->kpi_name : unit ? nalert_label(unit, "kpi") : NULL));
	if (id && *id) {
		pw_buf_putc(b, '/');
		url_escape(b, id);
	}
}

static void dashboard_url(struct pw_buf *b, const struct look *k)
{
	const char *d = k->m->dashboard_url;
	pw_buf_puts(b, d);
	if (k->kpi_name) {
		pw_buf_puts(b, strchr(d, '?') ? "&var-kpi=" : "?var-kpi=");
		url_escape(b, k->kpi_name);
	}
}

/* ---- pieces of HTML ------------------------------------------------------------------- */

static void html(struct pw_buf *h, const char *s)
{
	pw_buf_html(h, s, strlen(s));
}

static void link(struct pw_buf *h, const char *url, const char *text)
{
	pw_buf_puts(h, "<a href=\"");
	html(h, url);
	pw_buf_puts(h, "\" style=\"color:#0b57d0\">");
	html(h, text);
	pw_buf_puts(h, "</a>");
}

#define TH "<th style=\"text-align:%s;padding:6px 4px;font-weight:600;white-space:nowrap\">"
#define TD_NUM "<td style=\"text-align:right;padding:6px 4px;vertical-align:top;white-space:nowrap\">"
#define SMALL "<br><span style=\"color:#57606a;font-size:12px\">"

/* a number and, under it, its share of the way */
static void num_cell(struct pw_buf *h, const char *v, const char *pct)
{
	pw_buf_puts(h, TD_NUM);
	html(h, or_dash(v));
	if (pct && *pct && strcmp(pct, "-")) {
		pw_buf_puts(h, SMALL);
		html(h, pct);
		pw_buf_puts(h, "</span>");
	}
	pw_buf_puts(h, "</td>");
}

/* A gap that is negative is a lead: "领先 0.09 (8.8%)", as the pages and the
 * digest say it, never "落后计划 -0.09 (-8.8%)": the caller picks the word,
 * the number and the share lose their sign. */
static const char *unsigned_of(const char *v)
{
	return v && v[0] == '-' && v[1] ? v + 1 : v;
}

static bool is_lead(const char *v)
{
	return v && v[0] == '-' && v[1];
}

/* a gap's cell: a negative one is a lead, written "领先 0.09" */
static void lead_cell(const struct look *k, struct pw_buf *h, const char *v, const char *pct,
		      const char *word)
{
	(void)k;
	if (!is_lead(v)) {
		num_cell(h, v, pct);
		return;
	}
	char buf[160];
	snprintf(buf, sizeof buf, "%s %s", word, unsigned_of(v));
	num_cell(h, buf, unsigned_of(pct));
}

/* ---- a KPI alert ----------------------------------------------------------------------- */

/* the line under a unit's numbers: what it is and the rest of its numbers */
static void kpi_detail(struct pw_buf *o, const struct look *k, const struct nalert *a)
{
	const char *sep = " · ";
	const char *cond = nalert_ann(a, "condition");
	char since[64];
	pw_buf_puts(o, headline(a));
	if (cond && strcmp(cond, "stale") == 0) {
		pw_buf_printf(o, "%s%s %s", sep, tr(k, "最后上报", "last reported"),
			      or_dash(nalert_ann(a, "last_seen")));
	} else if (cond && strcmp(cond, "not_reporting") == 0) {
		pw_buf_printf(o, "%s%s", sep, tr(k, "从未上报", "has never reported"));
	} else if (!nalert_ann(a, "coverage")) {
		const char *p = nalert_ann(a, "progress"), *ep = nalert_ann(a, "expected_progress");
		if (p && strcmp(p, "-"))
			pw_buf_printf(o, k->zh ? "%s进度 %s" : "%sprogress %s", sep, p);
		if (p && strcmp(p, "-") && ep && strcmp(ep, "-"))
			pw_buf_printf(o, k->zh ? "（计划 %s）" : " (plan %s)", ep);
		const char *f = nalert_ann(a, "forecast");
		if (f && strcmp(f, "-"))
			pw_buf_printf(o, "%s%s %s", sep, tr(k, "预测截止时达", "forecast"), f);
	}
	if (!nalert_ann(a, "coverage"))
		pw_buf_printf(o, "%s%s %s", sep, tr(k, "目标", "target"),
			      or_dash(nalert_ann(a, "target")));
	pw_buf_printf(o, "%s%s %s", sep, tr(k, "截止", "due"), or_dash(nalert_ann(a, "deadline")));
	if (a->firing) {
		pw_fmt_local(since, sizeof since, a->starts_ms, k->tz);
		pw_buf_printf(o, "%s%s %s", sep, tr(k, "告警始于", "since"), since);
	} else {
		pw_fmt_local(since, sizeof since, a->ends_ms, k->tz);
		pw_buf_printf(o, "%s%s %s", sep, tr(k, "恢复于", "resolved at"), since);
	}
}

/* "label value" for the text line, when there is a value */
static void text_part(struct pw_buf *t, bool *first, const char *label, const char *v,
		      const char *pct)
{
	if (!v || !*v || !strcmp(v, "-"))
		return;
	pw_buf_printf(t, "%s%s %s", *first ? "" : " · ", label, v);
	if (pct && *pct && strcmp(pct, "-"))
		pw_buf_printf(t, " (%s)", pct);
	*first = false;
}

static void kpi_table(const struct look *k, size_t lo, size_t hi, struct pw_buf *t,
		      struct pw_buf *h)
{
	const struct nmsg *m = k->m;
	static const char *const zh[] = {"单位", "当前值", "计划应达", "落后计划", "距目标"};
	static const char *const en[] = {"Unit", "Value", "Plan now", "Behind plan", "To target"};
	static const char *const czh[] = {"单位", "当前值", "要求"};
	static const char *const cen[] = {"Unit", "Value", "Must be"};
	bool coverage = true; /* a switch: no plan, the condition instead */
	for (size_t i = lo; i < hi; i++)
		coverage &= nalert_ann(m->alerts[i], "coverage") != NULL;
	int ncols = coverage ? 3 : 5;
	pw_buf_puts(h, "<table style=\"width:100%;border-collapse:collapse;font-size:14px\">\n"
		       "<thead><tr style=\"background:#f3f4f6\">");
	for (int i = 0; i < ncols; i++) {
		pw_buf_printf(h, TH, i ? "right" : "left");
		html(h, coverage ? (k->zh ? czh[i] : cen[i]) : (k->zh ? zh[i] : en[i]));
		pw_buf_puts(h, "</th>");
	}
	pw_buf_puts(h, "</tr></thead>\n<tbody>\n");
	for (size_t i = lo; i < hi; i++) {
		const struct nalert *a = m->alerts[i];
		struct pw_buf url, d;
		bool first = true;
		pw_buf_init(&url, 0);
		pw_buf_init(&d, 0);
		page_url(&url, k, a);
		/* text: the unit and its numbers, the rest, the link */
		pw_buf_printf(t, "%s: ", or_dash(nalert_ann(a, "unit")));
		text_part(t, &first, tr(k, "当前值", "value"), nalert_ann(a, "value"), NULL);
		if (coverage) {
			text_part(t, &first, tr(k, "要求", "must be"), nalert_ann(a, "coverage"), NULL);
		} else {
			text_part(t, &first, tr(k, "计划应达", "plan now"), nalert_ann(a, "expected"), NULL);
			const char *g = nalert_ann(a, "gap"), *gt = nalert_ann(a, "gap_target");
			text_part(t, &first,
				  is_lead(g) ? tr(k, "领先计划", "ahead of plan")
					     : tr(k, "落后计划", "behind plan"),
				  unsigned_of(g), unsigned_of(nalert_ann(a, "gap_pct")));
			text_part(t, &first,
				  is_lead(gt) ? tr(k, "超过目标", "past target")
					      : tr(k, "距目标", "to target"),
				  unsigned_of(gt), unsigned_of(nalert_ann(a, "gap_target_pct")));
		}
		kpi_detail(&d, k, a);
		pw_buf_printf(t, "\n  %s\n  %s\n", d.data, url.data);
		/* HTML: a row of numbers, a row of the rest */
		pw_buf_puts(h, "<tr style=\"border-top:1px solid #d0d7de\">"
			       "<td style=\"padding:6px 4px;vertical-align:top\">");
		link(h, url.data, or_dash(nalert_ann(a, "unit")));
		pw_buf_puts(h, "</td>");
		num_cell(h, nalert_ann(a, "value"), NULL);
		if (coverage) {
			num_cell(h, nalert_ann(a, "coverage"), NULL);
		} else {
			num_cell(h, nalert_ann(a, "expected"), NULL);
			lead_cell(k, h, nalert_ann(a, "gap"), nalert_ann(a, "gap_pct"),
				  tr(k, "领先", "ahead"));
			lead_cell(k, h, nalert_ann(a, "gap_target"), nalert_ann(a, "gap_target_pct"),
				  tr(k, "超过", "past"));
		}
		pw_buf_printf(h, "</tr>\n<tr><td colspan=\"%d\" style=\"padding:0 4px 8px;color:#57606a;"
				 "font-size:12px\">",
			      ncols);
		html(h, d.data);
		pw_buf_puts(h, "</td></tr>\n");
		pw_buf_free(&url);
		pw_buf_free(&d);
	}
	pw_buf_puts(h, "</tbody></table>\n");
}

/* ---- another alert --------------------------------------------------------------------- */

static void rule_table(const struct look *k, size_t lo, size_t hi, struct pw_buf *t,
		       struct pw_buf *h)
{
	const struct nmsg *m = k->m;
	pw_buf_puts(h, "<table style=\"width:100%;border-collapse:collapse;font-size:14px\">\n<tbody>\n");
	for (size_t i = lo; i < hi; i++) {
		const struct nalert *a = m->alerts[i];
		const char *summary = nalert_ann(a, "summary"), *desc = nalert_ann(a, "description");
		char when[64], value[64];
		struct pw_buf lab;
		pw_buf_init(&lab, 0);
		for (size_t j = 0; j < a->labels->n; j++)
			if (strcmp(a->labels->l[j].name, "alertname"))
				pw_buf_printf(&lab, "%s%s=%s", lab.len ? ", " : "", a->labels->l[j].name,
					      a->labels->l[j].value);
		pw_fmt_local(when, sizeof when, a->firing ? a->starts_ms : a->ends_ms, k->tz);
		pw_fmt_float(value, sizeof value, a->value, PW_FMT_HUMAN);
		const char *first = summary && *summary ? summary : or_dash(nalert_label(a, "alertname"));
		pw_buf_printf(t, "- %s\n", first);
		if (desc && *desc)
			pw_buf_printf(t, "  %s\n", desc);
		pw_buf_printf(t, "  %s %s · %s %s · %s\n",
			      a->firing ? tr(k, "告警始于", "since") : tr(k, "恢复于", "resolved at"),
			      when, tr(k, "值", "value"), value, lab.data ? lab.data : "");
		pw_buf_puts(h, "<tr style=\"border-top:1px solid #d0d7de\"><td style=\"padding:6px 4px\">"
			       "<b>");
		html(h, first);
		pw_buf_puts(h, "</b>");
		if (desc && *desc) {
			pw_buf_puts(h, "<br>");
			html(h, desc);
		}
		pw_buf_printf(h, SMALL "%s ", a->firing ? tr(k, "告警始于", "since")
							: tr(k, "恢复于", "resolved at"));
		html(h, when);
		pw_buf_printf(h, " · %s ", tr(k, "值", "value"));
		html(h, value);
		pw_buf_puts(h, "<br>");
		html(h, lab.data ? lab.data : "");
		pw_buf_puts(h, "</span></td></tr>\n");
		pw_buf_free(&lab);
	}
	pw_buf_puts(h, "</tbody></table>\n");
}

/* ---- the whole body --------------------------------------------------------------------- */

/* the KPI's line: owner and contact (labels every alert of a KPI has) */
static void kpi_head(const struct look *k, struct pw_buf *t, struct pw_buf *h)
{
	const struct nalert *a = k->m->alerts[0];
	const char *owner = nalert_label(a, "owner"), *contact = nalert_label(a, "contact");
	struct pw_buf l;
	if (!owner && !contact)
		return;
	pw_buf_init(&l, 0);
	pw_buf_printf(&l, "%s %s", tr(k, "负责", "Owner"), or_dash(owner));
	if (contact)
		pw_buf_printf(&l, " · %s", contact);
	pw_buf_printf(t, "%s\n", l.data);
	pw_buf_puts(h, "<p style=\"margin:0 0 4px;color:#57606a\">");
	html(h, l.data);
	pw_buf_puts(h, "</p>\n");
	pw_buf_free(&l);
}

/* what to do: each runbook once */
static void runbooks(const struct look *k, struct pw_buf *t, struct pw_buf *h)
{
	const struct nmsg *m = k->m;
	bool any = false;
	for (size_t i = 0; i < m->n; i++) {
		const char *r = nalert_ann(m->alerts[i], "runbook");
		bool seen = false;
		if (!r || !*r)
			continue;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *q = nalert_ann(m->alerts[j], "runbook");
			seen = q && strcmp(q, r) == 0;
		}
		if (seen)
			continue;
		if (!any) {
			pw_buf_printf(t, "\n%s\n", tr(k, "处理办法", "What to do"));
			pw_buf_printf(h, "<h3 style=\"font-size:16px;margin:16px 0 6px\">%s</h3>\n",
				      tr(k, "处理办法", "What to do"));
			any = true;
		}
		pw_buf_printf(t, "%s\n", r);
		pw_buf_puts(h, "<p style=\"margin:0 0 8px;white-space:pre-line\">");
		html(h, r);
		pw_buf_puts(h, "</p>\n");
	}
}

static void links(const struct look *k, struct pw_buf *t, struct pw_buf *h)
{
	const struct nmsg *m = k->m;
	struct pw_buf u;
	pw_buf_init(&u, 0);
	pw_buf_puts(h, "<p style=\"margin:16px 0 8px\">");
	pw_buf_puts(t, "\n");
	if (k->kpi && k->kpi_name) {
		page_url(&u, k, NULL);
		pw_buf_printf(t, "%s: %s\n", tr(k, "指标页面", "KPI page"), u.data);
		link(h, u.data, tr(k, "查看指标页面", "Open the KPI's page"));
		pw_buf_puts(h, " · ");
		/* the chart of that page alone (SVG), drawn by the same code */
		pw_buf_puts(&u, "/chart.svg");
		pw_buf_printf(t, "%s: %s\n", tr(k, "趋势图", "Chart"), u.data);
		link(h, u.data, tr(k, "趋势图", "Chart"));
		pw_buf_puts(h, " · ");
		u.len = 0;
	}
	if (m->dashboard_url && m->n) {
		dashboard_url(&u, k);
		pw_buf_printf(t, "%s: %s\n", tr(k, "仪表盘", "Dashboard"), u.data);
		link(h, u.data, tr(k, "仪表盘", "Dashboard"));
		pw_buf_puts(h, " · ");
		u.len = 0;
	}
	pw_buf_printf(&u, "%s/alerts", m->external_url);
	pw_buf_printf(t, "%s: %s\n", tr(k, "全部告警", "All alerts"), u.data);
	link(h, u.data, tr(k, "全部告警", "All alerts"));
	pw_buf_puts(h, "</p>\n");
	pw_buf_free(&u);
	pw_buf_printf(t, "\n-- \n%s\n", tr(k, "pacewatch 自动发送", "Sent by pacewatch"));
	pw_buf_printf(h, "<p style=\"color:#8c959f;font-size:12px;margin:16px 0 0\">%s</p>\n",
		      tr(k, "pacewatch 自动发送", "Sent by pacewatch"));
}

void render_default_bodies(const struct nmsg *m, const char *subject, const struct pw_tz *tz,
			   struct pw_buf *t, struct pw_buf *h)
{
	struct look k;
	char now[64];
	look_of(m, tz, &k);
	pw_fmt_local(now, sizeof now, m->now_ms, tz);
	pw_buf_printf(t, "%s\n", subject);
	pw_buf_printf(h, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"UTF-8\">"
			 "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			 "<title>",
		      k.zh ? "zh-CN" : "en");
	html(h, subject);
	pw_buf_puts(h, "</title></head>\n<body style=\"margin:0;padding:12px;font-family:-apple-system,"
		       "'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;font-size:15px;"
		       "line-height:1.5;color:#1f2328;max-width:760px\">\n"
		       "<h2 style=\"font-size:18px;margin:0 0 8px\">");
	html(h, subject);
	pw_buf_puts(h, "</h2>\n");
	if (k.kpi)
		kpi_head(&k, t, h);
	pw_buf_printf(t, "%s %s\n", tr(&k, "发送于", "Sent at"), now);
	pw_buf_printf(h, "<p style=\"margin:0 0 12px;color:#57606a\">%s ", tr(&k, "发送于", "Sent at"));
	html(h, now);
	pw_buf_puts(h, "</p>\n");
	for (int part = 0; part < 2; part++) {
		size_t lo = part ? m->nfiring : 0, hi = part ? m->n : m->nfiring;
		if (lo == hi)
			continue;
		const char *title = part ? tr(&k, "已恢复", "Resolved") : tr(&k, "告警中", "Firing");
		pw_buf_printf(t, "\n%s (%zu)\n", title, hi - lo);
		pw_buf_printf(h, "<h3 style=\"font-size:16px;margin:16px 0 6px;color:%s\">%s (%zu)</h3>\n",
			      part ? "#1a7f37" : "#cf222e", title, hi - lo);
		if (k.kpi)
			kpi_table(&k, lo, hi, t, h);
		else
			rule_table(&k, lo, hi, t, h);
	}
	runbooks(&k, t, h);
	links(&k, t, h);
	pw_buf_puts(h, "</body></html>\n");
}
