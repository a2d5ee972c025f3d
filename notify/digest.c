/*
 * digest.c — KPI digests: when each is due, and what it says (every KPI's
 * units, laggards first, and what changed since the previous digest), from
 * the newest view; an email, queued like any notification.
 * Flow: view → [digest] → render (render_email.c's MIME) → outbox → transport.
 */
#include "notify_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * A digest is due on its weekdays at its time of day in its time zone; one
 * that fell due while pacewatch was down goes out once when it is back. The
 * statuses it showed are kept in the store (d/ records) for the next one's
 * changes.
 */

#define SUBSYS "notify"

/* ---- what a digest says -------------------------------------------------------- */

/* a status's name in Chinese, from its English name */
static const char *status_zh(const char *s)
{
	for (int q = 0; q < VIEW_NSTATUS; q++)
		if (!strcmp(view_status_name(q), s))
			return view_status_name_zh(q);
	return s;
}

/* the unit as people name it: its name, else its labels' values */
static char *unit_name(const struct view_unit *u)
{
	struct pw_buf b;
	if (u->name && *u->name)
		return xstrdup(u->name);
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "");
	for (size_t i = 0; i < u->labels->n; i++) {
		if (!strcmp(u->labels->l[i].name, "instance") || !strcmp(u->labels->l[i].name, "job"))
			continue;
		pw_buf_printf(&b, "%s%s", b.len ? " " : "", u->labels->l[i].value);
	}
	return pw_buf_take(&b);
}

/* the digest's key of a unit: the KPI, \x1f, its labels as sorted JSON */
static char *unit_key(const char *kpi, const struct pw_lset *l)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_buf_printf(&b, "%s\x1f", kpi);
	pw_buf_json_labels(&b, l->l, l->n);
	return pw_buf_take(&b);
}

/* A digest being written: the KPIs' tables, the changes since the previous
 * digest (whose state is old), the state for the next one, the count of
 * units in each status. */
struct digest_doc {
	bool zh;
	const char *base;        /* pacewatch's address (notify.external_url), or NULL */
	size_t max_units;        /* unit rows listed per KPI */
	const char *missed_period; /* the KPI being written is a quota: its missed's period */
	json_t *old, *old_units; /* NULL: the first digest */
	json_t *units;           /* the state for the next digest, per unit */
	struct pw_buf o, oh;     /* the programme at a glance, text and HTML */
	struct pw_buf t, h;      /* the KPIs' tables, text and HTML */
	struct pw_buf ct, ch;    /* the changes, text and HTML */
	size_t counts[VIEW_NSTATUS], nchanges;
};

/* at most this many lines of changes; the rest are counted */
#define MAX_CHANGES 200

#define NCOLS 6

/* a table's header row, text and HTML: the first nleft columns left-aligned */
static void table_head(bool zh, const char *const *hz, const char *const *he, int ncols,
		       int nleft, struct pw_buf *t, struct pw_buf *h)
{
	pw_buf_puts(h, "<table style=\"width:100%;border-collapse:collapse;font-size:14px\">"
		       "\n<tr style=\"background:#f3f4f6\">");
	for (int c = 0; c < ncols; c++) {
		pw_buf_printf(t, "%s%s", c ? " | " : "", zh ? hz[c] : he[c]);
		pw_buf_printf(h, "<th style=\"text-align:%s;padding:6px 4px;white-space:nowrap\">%s"
				 "</th>",
			      c < nleft ? "left" : "right", zh ? hz[c] : he[c]);
	}
	pw_buf_puts(t, "\n");
	pw_buf_puts(h, "</tr>\n");
}

/* a KPI's heading and its table's header row */
static void kpi_head(struct digest_doc *x, const struct view_meta_kpi *k)
{
	static const char *const hz[NCOLS] = {"单位", "状态", "当前值", "计划应达", "落后计划",
					      "目标"};
	static const char *const he[NCOLS] = {"Unit", "Status", "Value", "Plan now", "Behind plan",
					      "Target"};
	const char *due = k->deadline_text ? k->deadline_text : "";
	pw_buf_printf(&x->t, "\n%s — %s %s", k->title, x->zh ? "截止" : "due", due);
	if (k->owner && *k->owner)
		pw_buf_printf(&x->t, " · %s %s", x->zh ? "负责" : "owner", k->owner);
	pw_buf_puts(&x->t, "\n");
	pw_buf_puts(&x->h, "<h3 style=\"font-size:16px;margin:18px 0 4px\">");
	if (x->base) { /* the KPI's page, with its chart and every unit */
		struct pw_buf u;
		pw_buf_init(&u, 0);
		pw_buf_printf(&u, "%s/kpis/", x->base);
		url_escape(&u, k->name);
		pw_buf_printf(&x->t, "%s\n", u.data);
		pw_buf_puts(&x->h, "<a href=\"");
		pw_buf_html(&x->h, u.data, u.len);
		pw_buf_puts(&x->h, "\" style=\"color:#0969da\">");
		pw_buf_html(&x->h, k->title, strlen(k->title));
		pw_buf_puts(&x->h, "</a>");
		pw_buf_free(&u);
	} else {
		pw_buf_html(&x->h, k->title, strlen(k->title));
	}
	pw_buf_puts(&x->h, "</h3>\n<p style=\"margin:0 0 6px;color:#57606a\">");
	pw_buf_printf(&x->h, "%s ", x->zh ? "截止" : "due");
	pw_buf_html(&x->h, due, strlen(due));
	if (k->owner && *k->owner) {
		pw_buf_printf(&x->h, " · %s ", x->zh ? "负责" : "owner");
		pw_buf_html(&x->h, k->owner, strlen(k->owner));
	}
	pw_buf_puts(&x->h, "</p>\n");
	table_head(x->zh, hz, he, NCOLS, 2, &x->t, &x->h);
}

static void unit_row(struct digest_doc *x, const char *const cells[NCOLS])
{
	pw_buf_puts(&x->h, "<tr style=\"border-top:1px solid #d0d7de\">");
	for (int c = 0; c < NCOLS; c++) {
		pw_buf_printf(&x->t, "%s%s", c ? " | " : "", cells[c]);
		pw_buf_printf(&x->h, "<td style=\"text-align:%s;padding:6px 4px%s\">",
			      c < 2 ? "left" : "right", c < 2 ? "" : ";white-space:nowrap");
		pw_buf_html(&x->h, cells[c], strlen(cells[c]));
		pw_buf_puts(&x->h, "</td>");
	}
	pw_buf_puts(&x->t, "\n");
	pw_buf_puts(&x->h, "</tr>\n");
}

/* one line of the changes */
static void change(struct digest_doc *x, const char *line)
{
	if (x->nchanges++ >= MAX_CHANGES)
		return;
	pw_buf_printf(&x->ct, "- %s\n", line);
	pw_buf_puts(&x->ch, "<li>");
	pw_buf_html(&x->ch, line, strlen(line));
	pw_buf_puts(&x->ch, "</li>\n");
}

/* a unit's value in the state: an integer when it is one */
static json_t *state_value(double v)
{
	if (isnan(v) || isinf(v))
		return json_null();
	if (fabs(v) < 9007199254740992.0 && v == trunc(v))
		return json_integer((json_int_t)v);
	return json_real(v);
}

/* keep a unit's status for the next digest, and list it among the changes
 * when the last digest did not have it or had another status (stt: the
 * status as written, val: the value) */
static void unit_compare(struct digest_doc *x, const struct view_meta_kpi *k, const char *name,
			 const struct view_unit *u, const char *stt, const char *val)
{
	const char *st = view_status_name(u->status);
	char *lk = unit_key(k->name, u->labels);
	json_t *rec = json_object();
	json_object_set_new(rec, "s", json_string(st));
	json_object_set_new(rec, "v", state_value(u->value));
	json_object_set_new(x->units, lk, rec);
	json_t *o = x->old_units ? json_object_get(x->old_units, lk) : NULL;
	const char *ost = o ? json_string_value(json_object_get(o, "s")) : NULL;
	if (x->old && (!o || (ost && strcmp(ost, st)))) {
		char ov[400], line[1024];
		json_t *jv = json_object_get(o, "v");
		pw_fmt_float(ov, sizeof ov, json_is_number(jv) ? json_number_value(jv) : NAN,
			     PW_FMT_HUMAN);
		if (!o)
			snprintf(line, sizeof line, "%s %s: %s %s (%s)", k->title, name,
				 x->zh ? "新出现" : "new", stt, val);
		else
			snprintf(line, sizeof line, "%s %s: %s → %s (%s → %s)", k->title, name,
				 x->zh ? status_zh(ost) : ost, stt, ov, val);
		change(x, line);
	}
	free(lk);
}

static void digest_unit(struct digest_doc *x, const struct view_meta_kpi *k,
			const struct view_unit *u, bool listed)
{
	char *name = unit_name(u);
	char val[4][400];
	double span = fabs(u->target - u->baseline);
	pw_fmt_float(val[0], sizeof val[0], u->value, PW_FMT_HUMAN);
	pw_fmt_float(val[1], sizeof val[1], u->expected, PW_FMT_HUMAN);
	/* behind the plan: by how much, and what share of the way; ahead:
	 * said so */
	pw_fmt_float(val[2], sizeof val[2], fabs(u->gap), PW_FMT_HUMAN);
	if (!isnan(u->gap) && u->gap <= 0) {
		char ahead[400];
		snprintf(ahead, sizeof ahead, "%s %s", x->zh ? "领先" : "ahead", val[2]);
		snprintf(val[2], sizeof val[2], "%s", u->gap < 0 ? ahead : "0");
	} else if (!isnan(u->gap) && span > 0) {
		size_t n = strlen(val[2]);
		snprintf(val[2] + n, sizeof val[2] - n, " (%.1f%%)", 100 * u->gap / span);
	}
	pw_fmt_float(val[3], sizeof val[3], u->target, PW_FMT_HUMAN);
	const char *stt = x->zh ? view_status_name_zh(u->status) : view_status_name(u->status);
	char sttp[128]; /* a quota's missed says which period it missed */
	if (u->status == VIEW_MISSED && x->missed_period) {
		snprintf(sttp, sizeof sttp, "%s %s", stt, x->missed_period);
		stt = sttp;
	}
	const char *cells[NCOLS] = {name, stt, val[0], val[1], val[2], val[3]};
	x->counts[u->status]++;
	if (listed)
		unit_row(x, cells);
	unit_compare(x, k, name, u, stt, val[0]);
	free(name);
}

/* the units a KPI's table leaves out, counted by status: "另有 4 个单位：已达标 4" */
static void digest_rest(struct digest_doc *x, const struct view *v, const struct view_kpi *vk)
{
	size_t n[VIEW_NSTATUS] = {0}, rest = vk->nunits - x->max_units;
	struct pw_buf l;
	for (size_t j = x->max_units; j < vk->nunits; j++)
		n[v->units[vk->unit0 + j].status]++;
	pw_buf_init(&l, 0);
	pw_buf_printf(&l, x->zh ? "另有 %zu 个单位：" : "%zu more units: ", rest);
	bool first = true;
	for (int q = 0; q < VIEW_NSTATUS; q++) {
		if (!n[q])
			continue;
		pw_buf_printf(&l, "%s%s %zu", first ? "" : x->zh ? "，" : ", ",
			      x->zh ? view_status_name_zh(q) : view_status_name(q), n[q]);
		first = false;
	}
	pw_buf_printf(&x->t, "%s\n", l.data);
	pw_buf_printf(&x->h, "<tr><td colspan=\"%d\" style=\"padding:6px 4px;color:#57606a\">",
		      NCOLS);
	pw_buf_html(&x->h, l.data, l.len);
	pw_buf_puts(&x->h, "</td></tr>\n");
	pw_buf_free(&l);
}

static void digest_kpi(struct digest_doc *x, const struct view *v, size_t i)
{
	const struct view_meta_kpi *k = &v->meta->kpis[i];
	const struct view_kpi *vk = &v->kpis[i];
	x->missed_period = vk->previous_period;
	kpi_head(x, k);
	if (vk->nunits == 0) {
		const char *none = x->zh ? "（暂无数据）" : "(no data yet)";
		pw_buf_printf(&x->t, "%s\n", none);
		pw_buf_printf(&x->h, "<tr><td colspan=\"%d\">%s</td></tr>\n", NCOLS, none);
	}
	for (size_t j = 0; j < vk->nunits; j++)
		digest_unit(x, k, &v->units[vk->unit0 + j], j < x->max_units);
	if (vk->nunits > x->max_units)
		digest_rest(x, v, vk);
	pw_buf_puts(&x->h, "</table>\n");
}

/* ---- the programme at a glance ------------------------------------------------- */

/* a KPI's units per status, its rank (0: a unit missed, not reporting or
 * not covered; 1: below its peers or lagging; 2: at risk; 3: stale; 4: the
 * rest) and how many units are behind */
struct kpi_sum {
	size_t i, n[VIEW_NSTATUS], behind;
	int rank;
};

static void kpi_sum(const struct view *v, size_t i, struct kpi_sum *s)
{
	const struct view_kpi *vk = &v->kpis[i];
	memset(s, 0, sizeof *s);
	s->i = i;
	for (size_t j = 0; j < vk->nunits; j++)
		s->n[v->units[vk->unit0 + j].status]++;
	s->behind = s->n[VIEW_MISSED] + s->n[VIEW_NOT_REPORTING] + s->n[VIEW_NOT_COVERED] +
		    s->n[VIEW_BELOW_PEERS] + s->n[VIEW_LAGGING];
	if (s->n[VIEW_MISSED] || s->n[VIEW_NOT_REPORTING] || s->n[VIEW_NOT_COVERED])
		s->rank = 0;
	else if (s->n[VIEW_BELOW_PEERS] || s->n[VIEW_LAGGING])
		s->rank = 1;
	else if (s->n[VIEW_AT_RISK])
		s->rank = 2;
	else if (s->n[VIEW_STALE])
		s->rank = 3;
	else
		s->rank = 4;
}

static int kpi_sum_order(const void *pa, const void *pb)
{
	const struct kpi_sum *a = pa, *b = pb;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	if (a->behind != b->behind)
		return a->behind > b->behind ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

#define OCOLS 8

/* one row of the overview: item, title, deadline, behind, at risk, stale,
 * on track, met */
static void overview_row(struct digest_doc *x, const struct view_meta_kpi *k,
			 const struct kpi_sum *s)
{
	char c[5][32];
	snprintf(c[0], sizeof c[0], "%zu", s->behind);
	snprintf(c[1], sizeof c[1], "%zu", s->n[VIEW_AT_RISK]);
	snprintf(c[2], sizeof c[2], "%zu", s->n[VIEW_STALE]);
	snprintf(c[3], sizeof c[3], "%zu", s->n[VIEW_ON_TRACK]);
	snprintf(c[4], sizeof c[4], "%zu", s->n[VIEW_MET]);
	const char *cells[OCOLS] = {*k->item ? k->item : "—", k->title, k->deadline_text,
				    c[0], c[1], c[2], c[3], c[4]};
	bool none = !s->behind && !s->n[VIEW_AT_RISK] && !s->n[VIEW_STALE] &&
		    !s->n[VIEW_ON_TRACK] && !s->n[VIEW_MET];
	pw_buf_puts(&x->oh, "<tr style=\"border-top:1px solid #d0d7de\">");
	for (int q = 0; q < OCOLS; q++) {
		const char *cell = none && q == 3 ? (x->zh ? "暂无数据" : "no data yet") : cells[q];
		if (none && q > 3)
			continue;
		pw_buf_printf(&x->o, "%s%s", q ? " | " : "", cell);
		pw_buf_printf(&x->oh, "<td style=\"text-align:%s;padding:6px 4px%s%s\"%s>",
			      q < 3 ? "left" : "right", q == 2 || q > 2 ? ";white-space:nowrap" : "",
			      q == 3 && s->behind ? ";color:#cf222e;font-weight:600" : "",
			      none && q == 3 ? " colspan=\"5\"" : "");
		pw_buf_html(&x->oh, cell, strlen(cell));
		pw_buf_puts(&x->oh, "</td>");
	}
	pw_buf_puts(&x->o, "\n");
	pw_buf_puts(&x->oh, "</tr>\n");
}

/* the overview, and the KPIs' tables in its order */
static void digest_programme(struct digest_doc *x, const struct view *v)
{
	static const char *const hz[OCOLS] = {"项目", "指标", "截止", "落后", "有风险",
					      "停报", "正常", "已达标"};
	static const char *const he[OCOLS] = {"Item", "KPI", "Due", "Behind", "At risk",
					      "Stale", "On track", "Met"};
	size_t nk = v ? v->meta->nkpis : 0;
	struct kpi_sum *s = xcalloc(nk ? nk : 1, sizeof *s);
	for (size_t i = 0; i < nk; i++)
		kpi_sum(v, i, &s[i]);
	qsort(s, nk, sizeof *s, kpi_sum_order);
	const char *head = x->zh ? "项目总览" : "The programme at a glance";
	pw_buf_printf(&x->o, "\n%s\n", head);
	pw_buf_printf(&x->oh, "<h3>%s</h3>\n", head);
	table_head(x->zh, hz, he, OCOLS, 3, &x->o, &x->oh);
	for (size_t i = 0; i < nk; i++)
		overview_row(x, &v->meta->kpis[s[i].i], &s[i]);
	pw_buf_puts(&x->oh, "</table>\n");
	for (size_t i = 0; i < nk; i++)
		digest_kpi(x, v, s[i].i);
	free(s);
}

/* units the last digest had and this one has not */
static void digest_gone(struct digest_doc *x)
{
	const char *k;
	json_t *ou;
	if (!x->old_units)
		return;
	json_object_foreach(x->old_units, k, ou)
	{
		if (json_object_get(x->units, k))
			continue;
		const char *sep = strchr(k, '\x1f');
		char line[1024];
		snprintf(line, sizeof line, "%.*s %s: %s", sep ? (int)(sep - k) : 0, k,
			 sep ? sep + 1 : k, x->zh ? "不再跟踪" : "no longer tracked");
		change(x, line);
	}
}

/* the title and the day, then how many units lag, in each status */
static char *digest_subject(const struct digest_doc *x, const char *title, const char *day)
{
	static const enum view_status order[] = {VIEW_MISSED,	  VIEW_NOT_REPORTING,
						 VIEW_NOT_COVERED, VIEW_BELOW_PEERS,
						 VIEW_LAGGING,	  VIEW_AT_RISK,
						 VIEW_STALE};
	struct pw_buf s;
	pw_buf_init(&s, 0);
	pw_buf_printf(&s, "%s %s", title, day);
	for (size_t q = 0; q < sizeof order / sizeof order[0]; q++) {
		if (!x->counts[order[q]])
			continue;
		pw_buf_printf(&s, "%s %zu %s", s.len && strchr(s.data, ':') ? "," : ":",
			      x->counts[order[q]],
			      x->zh ? view_status_name_zh(order[q]) : view_status_name(order[q]));
	}
	return pw_buf_take(&s);
}

/* the text and HTML bodies: the subject and when, the changes, the KPIs'
 * tables, the dashboard */
static void digest_bodies(const struct digest_doc *x, const char *subject, const char *when,
			  const char *dashboard_url, struct pw_buf *tt, struct pw_buf *hh)
{
	const char *changes = x->zh ? "自上次周报以来的变化" : "Changes since the last digest";
	pw_buf_printf(tt, "%s\n%s %s\n", subject, x->zh ? "生成于" : "as of", when);
	pw_buf_printf(hh, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"UTF-8\">"
			    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			    "</head>\n<body style=\"margin:0;padding:12px;font-family:-apple-system,"
			    "'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;"
			    "font-size:15px;line-height:1.5;color:#1f2328;max-width:900px\">\n",
		      x->zh ? "zh-CN" : "en");
	pw_buf_puts(hh, "<h2>");
	pw_buf_html(hh, subject, strlen(subject));
	pw_buf_puts(hh, "</h2>\n");
	pw_buf_append(tt, x->o.data ? x->o.data : "", x->o.len);
	pw_buf_append(hh, x->oh.data ? x->oh.data : "", x->oh.len);
	pw_buf_printf(tt, "\n%s\n", changes);
	pw_buf_printf(hh, "<h3>%s</h3>\n<ul>\n", changes);
	if (!x->old) {
		pw_buf_printf(tt, "%s\n", x->zh ? "（首份周报）" : "(the first digest)");
		pw_buf_printf(hh, "<li>%s</li>\n", x->zh ? "（首份周报）" : "(the first digest)");
	} else if (!x->nchanges) {
		pw_buf_printf(tt, "%s\n", x->zh ? "（无变化）" : "(none)");
		pw_buf_printf(hh, "<li>%s</li>\n", x->zh ? "（无变化）" : "(none)");
	}
	pw_buf_append(tt, x->ct.data ? x->ct.data : "", x->ct.len);
	pw_buf_append(hh, x->ch.data ? x->ch.data : "", x->ch.len);
	if (x->nchanges > MAX_CHANGES) {
		char more[128];
		snprintf(more, sizeof more,
			 x->zh ? "…以及另外 %zu 项变化" : "… and %zu more changes",
			 x->nchanges - MAX_CHANGES);
		pw_buf_printf(tt, "%s\n", more);
		pw_buf_printf(hh, "<li>%s</li>\n", more);
	}
	pw_buf_puts(hh, "</ul>\n");
	pw_buf_append(tt, x->t.data ? x->t.data : "", x->t.len);
	pw_buf_append(hh, x->h.data ? x->h.data : "", x->h.len);
	if (x->base) {
		pw_buf_printf(tt, "\n%s: %s/\n", x->zh ? "项目看板" : "The programme board", x->base);
		pw_buf_puts(hh, "<p><a href=\"");
		pw_buf_html(hh, x->base, strlen(x->base));
		pw_buf_printf(hh, "/\">%s</a></p>\n", x->zh ? "项目看板" : "The programme board");
	}
	if (dashboard_url) {
		pw_buf_printf(tt, "\n%s: %s\n", x->zh ? "仪表盘" : "Dashboard", dashboard_url);
		pw_buf_puts(hh, "<p><a href=\"");
		pw_buf_html(hh, dashboard_url, strlen(dashboard_url));
		pw_buf_printf(hh, "\">%s</a></p>\n", x->zh ? "仪表盘 Dashboard" : "Dashboard");
	}
	pw_buf_puts(hh, "</body></html>\n");
}

static void doc_free(struct digest_doc *x)
{
	json_decref(x->old);
	json_decref(x->units);
	pw_buf_free(&x->o);
	pw_buf_free(&x->oh);
	pw_buf_free(&x->t);
	pw_buf_free(&x->h);
	pw_buf_free(&x->ct);
	pw_buf_free(&x->ch);
}

/* A digest email of view v (NULL: no KPIs yet) and the changes since the
 * previous digest (prev: the state it saved, or NULL); *state receives the
 * state to save for the next one, *subject the subject. */
static char *digest_render(const struct conf_digest *d, const struct conf_email *e,
			   const struct view *v, const char *prev, int64_t now, const char *mid,
			   const char *dashboard_url, const char *base, char **subject_out,
			   char **state_out)
{
	struct digest_doc x = {0};
	json_error_t je;
	struct pw_buf tt, hh, b;
	char day[64], when[64];
	struct pw_tz *tz = email_zone(d->timezone);

	x.old = prev ? json_loads(prev, 0, &je) : NULL;
	x.old_units = json_object_get(x.old, "units");
	x.units = json_object();
	pw_buf_init(&x.o, 0);
	pw_buf_init(&x.oh, 0);
	pw_buf_init(&x.t, 0);
	pw_buf_init(&x.h, 0);
	pw_buf_init(&x.ct, 0);
	pw_buf_init(&x.ch, 0);
	pw_fmt_local(day, sizeof day, now, tz);
	day[10] = '\0';
	x.zh = v ? v->meta->lang == VIEW_LANG_ZH : false;
	const char *title = d->title ? d->title : x.zh ? "进度周报" : "KPI digest";
	x.max_units = d->max_units > 0 ? (size_t)d->max_units : 0;
	x.base = base && *base ? base : NULL;
	digest_programme(&x, v);
	digest_gone(&x);
	char *subject = digest_subject(&x, title, day);
	pw_fmt_local(when, sizeof when, now, tz);
	pw_buf_init(&tt, 0);
	pw_buf_init(&hh, 0);
	digest_bodies(&x, subject, when, dashboard_url, &tt, &hh);
	pw_buf_init(&b, 0);
	email_mime(&b, e, mid, subject, tt.data ? tt.data : "", hh.data ? hh.data : "", now, tz);
	json_t *state = json_object();
	json_object_set_new(state, "sent", json_integer(now));
	json_object_set_new(state, "units", json_incref(x.units));
	*state_out = json_dumps(state, JSON_COMPACT);
	*subject_out = subject;
	json_decref(state);
	doc_free(&x);
	pw_tz_free(tz);
	pw_buf_free(&tt);
	pw_buf_free(&hh);
	return pw_buf_take(&b);
}

/* ---- when digests go out ------------------------------------------------------- */

/* the first scheduled time after t */
static int64_t digest_after(const struct conf_digest *d, int64_t t)
{
	struct pw_tz *tz = NULL;
	int at = 9 * 60;
	int wd[8][2];
	size_t nwd = 0;
	if (pw_tz_load(d->timezone ? d->timezone : "Asia/Shanghai", &tz, NULL) != 0)
		return INT64_MAX;
	conf_clock_parse(d->at ? d->at : "09:00", &at);
	time_ranges(d->weekdays, d->nweekdays, 0, wd, &nwd);
	int64_t local = t / 1000 + pw_tz_offset(tz, t / 1000);
	int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
	int64_t out = INT64_MAX;
	for (int64_t k = day - 1; k <= day + 8; k++) {
		int w = (int)(((k % 7) + 11) % 7);
		if (!time_in_ranges(w, wd, nwd))
			continue;
		int64_t y;
		unsigned m, dd;
		pw_civil_from_days(k, &y, &m, &dd);
		int64_t s = pw_tz_local_to_unix(tz, (int)y, (int)m, (int)dd, at / 60, at % 60, 0);
		if (s * 1000 > t) {
			out = s * 1000;
			break;
		}
	}
	pw_tz_free(tz);
	return out;
}

static void digest_key(const struct conf_digest *d, size_t i, char *k, size_t sz)
{
	snprintf(k, sz, "d/%zu\x1f%s", i, d->receiver);
}

static void digest_send(struct notify *n, size_t i, int64_t now)
{
	const struct conf_digest *d = &n->c->notify.digests[i];
	size_t ri = route_receiver(n->c, d->receiver);
	const struct conf_receiver *rc = &n->c->notify.receivers[ri];
	char key[300], mid[160];
	void *prev = NULL;
	size_t pn;
	char *subject = NULL, *state = NULL;
	struct view *v;

	digest_key(d, i, key, sizeof key);
	store_rec_get(n->st, key, strlen(key), &prev, &pn);
	v = view_get(n->views);
	snprintf(mid, sizeof mid, "<digest.%lld.%zu@%s>", (long long)now, i,
		 rc->email.hello ? rc->email.hello : "pacewatch");
	char *msg = digest_render(d, &rc->email, v, prev, now, mid, n->c->notify.dashboard_url,
				  n->c->notify.external_url, &subject, &state);
	json_t *rec = json_object();
	json_object_set_new(rec, "kind", json_string("email"));
	json_object_set_new(rec, "group", json_string("digest"));
	json_object_set_new(rec, "subject", json_string(subject));
	json_object_set_new(rec, "message_id", json_string(mid));
	json_object_set_new(rec, "payload", json_string(msg));
	json_object_set_new(rec, "alerts", json_integer(0));
	struct store_rec_op op = {key, strlen(key), state, strlen(state)};
	outbox_enqueue(n, &n->lanes[n->lane_of[ri]], rec, &op, 1, false, now);
	log_info(SUBSYS, "digest for %s queued", d->receiver);
	json_decref(rec);
	free(msg);
	free(subject);
	free(state);
	free(prev);
	view_unref(v);
}

/* when digest i was last sent (now if never): a digest due while
 * pacewatch was down goes out now, once */
static int64_t digest_last(struct notify *n, size_t i, int64_t now)
{
	char key[300];
	void *prev = NULL;
	size_t pn;
	int64_t last = now;
	digest_key(&n->c->notify.digests[i], i, key, sizeof key);
	if (store_rec_get(n->st, key, strlen(key), &prev, &pn) == 0) {
		json_error_t je;
		json_t *o = json_loadb(prev, pn, 0, &je);
		if (o)
			last = (int64_t)json_integer_value(json_object_get(o, "sent"));
		json_decref(o);
		free(prev);
	}
	return last;
}

void digests_step(struct notify *n, int64_t now, int64_t *next)
{
	for (size_t i = 0; i < n->c->notify.ndigests; i++) {
		const struct conf_digest *d = &n->c->notify.digests[i];
		if (!n->digest_next[i])
			n->digest_next[i] = digest_after(d, digest_last(n, i, now));
		if (now >= n->digest_next[i]) {
			digest_send(n, i, now);
			n->digest_next[i] = digest_after(d, now);
		}
		if (n->digest_next[i] < *next)
			*next = n->digest_next[i];
	}
}
