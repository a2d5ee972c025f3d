/*
 * render_email.c — a group's notification as an RFC 5322 email: the UTF-8
 * subject in RFC 2047 encoded words, multipart/alternative text and HTML in
 * quoted-printable, the default bodies (a table per state with each unit's
 * numbers), or templates from files (render_tmpl.c); and the KPI digest.
 * Flow: alert → route → group → [render] → outbox → transport.
 */
#include "notify_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small pieces ----------------------------------------------------------- */

static bool ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static void b64(struct pw_buf *b, const unsigned char *p, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		pw_buf_putc(b, t[v >> 18 & 63]);
		pw_buf_putc(b, t[v >> 12 & 63]);
		pw_buf_putc(b, i + 1 < n ? t[v >> 6 & 63] : '=');
		pw_buf_putc(b, i + 2 < n ? t[v & 63] : '=');
	}
}

/* RFC 2047: encoded words on lines of at most 76 characters (the first
 * one after the header's name at column col), never splitting a UTF-8
 * sequence, folded onto continuation lines */
static void rfc2047(struct pw_buf *b, const char *s, size_t col)
{
	size_t n = strlen(s), i = 0;
	if (ascii_printable(s) && col + n <= 76) {
		pw_buf_puts(b, s);
		return;
	}
	while (i < n) {
		size_t room = (i ? 1 : col) + 12 < 76 ? (76 - (i ? 1 : col) - 12) / 4 * 3 : 3;
		size_t k = n - i > room ? room : n - i;
		while (k < n - i && k > 0 && ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k--;
		if (k == 0) /* not UTF-8: cut anywhere, but make progress */
			k = n - i > room ? room : n - i;
		if (i)
			pw_buf_puts(b, "\r\n ");
		pw_buf_puts(b, "=?UTF-8?B?");
		b64(b, (const unsigned char *)s + i, k);
		pw_buf_puts(b, "?=");
		i += k;
	}
}

static void addr_header1(struct pw_buf *b, const char *s)
{
	const char *lt = strrchr(s, '<');
	if (lt && lt > s) {
		const char *e = lt;
		while (e > s && e[-1] == ' ')
			e--;
		char *name = xstrndup(s, (size_t)(e - s));
		rfc2047(b, name, 5);
		free(name);
		pw_buf_printf(b, " %s", lt);
	} else {
		pw_buf_puts(b, s);
	}
}

/* an address header value: display names in RFC 2047; line breaks in
 * configured addresses become spaces (no header injection) */
static void addr_header(struct pw_buf *b, const char *raw)
{
	char *s = xstrdup(raw);
	for (char *p = s; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	addr_header1(b, s);
	free(s);
}

/* quoted-printable (RFC 2045): lines of at most 76 characters, CRLF line
 * breaks, =XX never split, trailing white space encoded */
static void qp(struct pw_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n') {
			pw_buf_puts(b, "\r\n");
			col = 0;
			continue;
		}
		bool last = p[1] == '\n' || p[1] == '\r' || p[1] == '\0';
		bool enc = *p == '=' || *p > 126 || (*p < 32 && *p != '\t') ||
			   ((*p == ' ' || *p == '\t') && last) || (*p == '.' && col == 0);
		size_t w = enc ? 3 : 1;
		if (col + w > 75) {
			pw_buf_puts(b, "=\r\n");
			col = 0;
		}
		if (enc) {
			pw_buf_putc(b, '=');
			pw_buf_putc(b, hex[*p >> 4]);
			pw_buf_putc(b, hex[*p & 15]);
		} else {
			pw_buf_putc(b, (char)*p);
		}
		col += w;
	}
}

static bool has_cjk(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; s && *p; p++)
		if (*p >= 0xe3 && *p <= 0xe9)
			return true;
	return false;
}

/* ms in tz (NULL: UTC): the offset, days since the epoch and seconds into the day */
static void local_parts(int64_t ms, const struct pw_tz *tz, int32_t *off, int64_t *days,
			int64_t *rem)
{
	*off = tz ? pw_tz_offset(tz, ms / 1000) : 0;
	int64_t local = ms / 1000 + *off;
	*days = local / 86400;
	*rem = local % 86400;
}

/* the zone people read times in, loaded once per message (NULL: UTC) */
static struct pw_tz *zone_load(const char *name)
{
	struct pw_tz *tz = NULL;
	char err[100];
	if (name && pw_tz_load(name, &tz, err, sizeof err) != 0)
		tz = NULL;
	return tz;
}

static void rfc5322_date(struct pw_buf *b, int64_t ms, const struct pw_tz *zone)
{
	static const char *const wd[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
	static const char *const mn[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int32_t off;
	int64_t days, rem, y;
	unsigned m, d;
	local_parts(ms, zone, &off, &days, &rem);
	pw_civil_from_days(days, &y, &m, &d);
	int32_t ao = off < 0 ? -off : off;
	pw_buf_printf(b, "%s, %u %s %lld %02d:%02d:%02d %c%02d%02d", wd[days % 7], d, mn[m - 1],
		      (long long)y, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60),
		      off < 0 ? '-' : '+', ao / 3600, ao / 60 % 60);
}

static void local_time(char *dst, size_t sz, int64_t ms, const struct pw_tz *zone)
{
	int32_t off;
	int64_t days, rem, y;
	unsigned m, d;
	local_parts(ms, zone, &off, &days, &rem);
	pw_civil_from_days(days, &y, &m, &d);
	snprintf(dst, sz, "%04lld-%02u-%02u %02d:%02d", (long long)y, m, d, (int)(rem / 3600),
		 (int)(rem / 60 % 60));
}

/* ---- the default email ------------------------------------------------------------ */

struct cols {
	bool zh, kpi, alertname;
};

static void dashboard_link(struct pw_buf *b, const char *dash, const struct nalert *a)
{
	const char *kpi = nalert_label(a, "kpi");
	pw_buf_puts(b, dash);
	if (kpi) {
		pw_buf_puts(b, strchr(dash, '?') ? "&var-kpi=" : "?var-kpi=");
		url_escape(b, kpi);
	}
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* the cells of one row */
static size_t row(const struct nalert *a, const struct cols *c, const struct pw_tz *tz,
		  const char **cell,
		  char (*scratch)[64], char *lab, size_t labsz)
{
	size_t k = 0;
	if (c->alertname)
		cell[k++] = or_dash(nalert_label(a, "alertname"));
	if (c->kpi) {
		cell[k++] = or_dash(nalert_ann(a, "unit"));
		cell[k++] = or_dash(nalert_ann(a, "value"));
		cell[k++] = or_dash(nalert_ann(a, "expected"));
		cell[k++] = or_dash(nalert_ann(a, "target"));
		cell[k++] = or_dash(nalert_ann(a, "deadline"));
		cell[k++] = or_dash(nalert_ann(a, "progress"));
		cell[k++] = or_dash(nalert_ann(a, "forecast"));
		cell[k++] = or_dash(nalert_label(a, "owner"));
		cell[k++] = or_dash(nalert_label(a, "contact"));
	} else {
		/* labels other than the name */
		size_t o = 0;
		lab[0] = '\0';
		for (size_t i = 0; i < a->labels->n && o + 1 < labsz; i++)
			if (strcmp(a->labels->l[i].name, "alertname"))
				o += (size_t)snprintf(lab + o, labsz - o, "%s%s=%s", o ? ", " : "",
						      a->labels->l[i].name, a->labels->l[i].value);
		cell[k++] = lab;
		pw_fmt_float(scratch[0], 64, a->value, PW_FMT_GO_V);
		cell[k++] = scratch[0];
		local_time(scratch[1], 64, a->starts_ms, tz);
		cell[k++] = scratch[1];
		cell[k++] = or_dash(nalert_ann(a, "summary"));
	}
	if (!a->firing) {
		local_time(scratch[2], 64, a->ends_ms, tz);
		cell[k++] = scratch[2];
	}
	return k;
}

static size_t heads(const struct cols *c, bool resolved, const char **h)
{
	size_t k = 0;
	if (c->alertname)
		h[k++] = c->zh ? "告警" : "Alert";
	if (c->kpi) {
		static const char *const zh[] = {"单位", "当前值", "按计划应达", "目标",   "截止",
						 "进度", "预测",   "责任人",     "联系方式"};
		static const char *const en[] = {"Unit",     "Value",    "Expected now",
						 "Target",   "Deadline", "Progress",
						 "Forecast", "Owner",    "Contact"};
		for (int i = 0; i < 9; i++)
			h[k++] = c->zh ? zh[i] : en[i];
	} else {
		h[k++] = c->zh ? "标签" : "Labels";
		h[k++] = c->zh ? "值" : "Value";
		h[k++] = c->zh ? "开始于" : "Since";
		h[k++] = c->zh ? "摘要" : "Summary";
	}
	if (resolved)
		h[k++] = c->zh ? "恢复于" : "Resolved at";
	return k;
}

static void tables(const struct nmsg *m, const struct cols *c, const struct pw_tz *tz,
		   struct pw_buf *t, struct pw_buf *h)
{
	for (int part = 0; part < 2; part++) {
		size_t lo = part ? m->nfiring : 0, hi = part ? m->n : m->nfiring;
		if (lo == hi)
			continue;
		const char *hd[16], *cell[16];
		char scratch[3][64], lab[1024];
		size_t nh = heads(c, part == 1, hd);
		const char *title = part ? (c->zh ? "已恢复" : "Resolved") : (c->zh ? "告警中" : "Firing");
		pw_buf_printf(t, "\n%s (%zu)\n\n", title, hi - lo);
		pw_buf_printf(h, "<h3>%s (%zu)</h3>\n<table border=\"1\" cellpadding=\"4\" "
				 "cellspacing=\"0\" style=\"border-collapse:collapse\">\n<tr>",
			      title, hi - lo);
		for (size_t i = 0; i < nh; i++) {
			pw_buf_printf(t, "%s%s", i ? " | " : "", hd[i]);
			pw_buf_puts(h, "<th>");
			pw_buf_html(h, hd[i], strlen(hd[i]));
			pw_buf_puts(h, "</th>");
		}
		pw_buf_puts(t, "\n");
		pw_buf_puts(h, "</tr>\n");
		for (size_t i = lo; i < hi; i++) {
			size_t nc = row(m->alerts[i], c, tz, cell, scratch, lab, sizeof lab);
			pw_buf_puts(h, "<tr>");
			for (size_t k = 0; k < nc; k++) {
				pw_buf_printf(t, "%s%s", k ? " | " : "", cell[k]);
				pw_buf_puts(h, "<td>");
				pw_buf_html(h, cell[k], strlen(cell[k]));
				pw_buf_puts(h, "</td>");
			}
			pw_buf_puts(t, "\n");
			pw_buf_puts(h, "</tr>\n");
		}
		pw_buf_puts(h, "</table>\n");
	}
}

static char *default_subject(const struct nmsg *m, const char *title)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	if (m->nfiring)
		pw_buf_printf(&b, "[FIRING:%zu]", m->nfiring);
	else
		pw_buf_puts(&b, "[RESOLVED]");
	for (size_t i = 0; i < m->group_labels->n; i++) {
		const char *v = m->group_labels->l[i].value;
		if (strcmp(m->group_labels->l[i].name, "kpi") == 0 && title)
			v = title;
		pw_buf_printf(&b, " %s", v);
	}
	return pw_buf_take(&b);
}

static void default_bodies(const struct nmsg *m, const char *title, const struct cols *c,
			   const struct pw_tz *tz, const char *subject, struct pw_buf *t,
			   struct pw_buf *h)
{
	pw_buf_printf(t, "%s\n", subject);
	pw_buf_puts(h, "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"></head><body>\n<h2>");
	pw_buf_html(h, subject, strlen(subject));
	pw_buf_puts(h, "</h2>\n");
	if (title) {
		pw_buf_printf(t, "\n%s\n", title);
		pw_buf_puts(h, "<p><b>");
		pw_buf_html(h, title, strlen(title));
		pw_buf_puts(h, "</b></p>\n");
	}
	tables(m, c, tz, t, h);
	/* what each alert says */
	pw_buf_printf(t, "\n%s\n", c->zh ? "说明" : "Details");
	pw_buf_printf(h, "<h3>%s</h3>\n<ul>\n", c->zh ? "说明" : "Details");
	for (size_t i = 0; i < m->n; i++) {
		const char *s = nalert_ann(m->alerts[i], "summary");
		const char *d = nalert_ann(m->alerts[i], "description");
		const char *st = m->alerts[i]->firing ? "" : (c->zh ? "[已恢复] " : "[resolved] ");
		pw_buf_printf(t, "- %s%s%s%s\n", st, or_dash(s), d ? " " : "", d ? d : "");
		pw_buf_printf(h, "<li>%s", st);
		pw_buf_html(h, or_dash(s), strlen(or_dash(s)));
		if (d) {
			pw_buf_puts(h, " ");
			pw_buf_html(h, d, strlen(d));
		}
		pw_buf_puts(h, "</li>\n");
	}
	pw_buf_puts(h, "</ul>\n<p>");
	if (m->dashboard_url && m->n) {
		struct pw_buf l;
		pw_buf_init(&l, 0);
		dashboard_link(&l, m->dashboard_url, m->alerts[0]);
		pw_buf_printf(t, "\n%s: %s\n", c->zh ? "仪表盘" : "Dashboard", l.data);
		pw_buf_puts(h, "<a href=\"");
		pw_buf_html(h, l.data, l.len);
		pw_buf_printf(h, "\">%s</a> · ", c->zh ? "仪表盘 Dashboard" : "Dashboard");
		pw_buf_free(&l);
	}
	pw_buf_printf(t, "%s: %s/api/v1/alerts\n", c->zh ? "全部告警" : "All alerts", m->external_url);
	pw_buf_puts(h, "<a href=\"");
	pw_buf_html(h, m->external_url, strlen(m->external_url));
	pw_buf_printf(h, "/api/v1/alerts\">%s</a></p>\n", c->zh ? "全部告警 All alerts" : "All alerts");
	pw_buf_printf(t, "\n-- \npacewatch, %s\n", m->group_key);
	pw_buf_puts(h, "<p style=\"color:#888\">pacewatch, ");
	pw_buf_html(h, m->group_key, strlen(m->group_key));
	pw_buf_puts(h, "</p>\n</body></html>\n");
}

static void mime(struct pw_buf *b, const struct conf_email *e, const char *mid, const char *subject,
		 const char *text, const char *html, int64_t now, const struct pw_tz *tz,
		 const char *extra_header)
{
	pw_buf_puts(b, "Date: ");
	rfc5322_date(b, now, tz);
	pw_buf_puts(b, "\r\nFrom: ");
	addr_header(b, e->from);
	pw_buf_puts(b, "\r\nTo: ");
	for (size_t i = 0; i < e->nto; i++) {
		if (i)
			pw_buf_puts(b, ",\r\n ");
		addr_header(b, e->to[i]);
	}
	if (e->ncc) {
		pw_buf_puts(b, "\r\nCc: ");
		for (size_t i = 0; i < e->ncc; i++) {
			if (i)
				pw_buf_puts(b, ",\r\n ");
			addr_header(b, e->cc[i]);
		}
	}
	pw_buf_printf(b, "\r\nMessage-ID: %s\r\nSubject: ", mid);
	rfc2047(b, subject, 9);
	pw_buf_puts(b, "\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n");
	if (extra_header)
		pw_buf_puts(b, extra_header);
	char boundary[64];
	snprintf(boundary, sizeof boundary, "=_pacewatch_%016llx",
		 (unsigned long long)pw_hash64(mid, strlen(mid)));
	pw_buf_printf(b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
	pw_buf_printf(b, "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
		      boundary);
	qp(b, text);
	pw_buf_printf(b, "\r\n--%s\r\nContent-Type: text/html; charset=UTF-8\r\n"
			 "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
		      boundary);
	qp(b, html);
	pw_buf_printf(b, "\r\n--%s--\r\n", boundary);
}

char *render_email(const struct nmsg *m, const char *message_id, char **subject_out)
{
	const struct conf_email *e = &m->rc->email;
	struct pw_buf t, h, b;
	size_t nca;
	struct pw_label *ca = render_common(m->alerts, m->n, true, &nca);
	const char *title = NULL;
	struct cols c = {0};
	for (size_t i = 0; i < nca; i++)
		if (strcmp(ca[i].name, "title") == 0)
			title = ca[i].value;
	c.zh = has_cjk(title);
	for (size_t i = 0; i < m->n; i++) {
		c.zh |= has_cjk(nalert_ann(m->alerts[i], "title"));
		c.kpi |= nalert_ann(m->alerts[i], "unit") != NULL;
		if (i && strcmp(or_dash(nalert_label(m->alerts[i], "alertname")),
				or_dash(nalert_label(m->alerts[0], "alertname"))))
			c.alertname = true;
	}
	char *subject = e->subject_template ? render_template(e->subject_template, m, false)
					    : default_subject(m, title);
	for (char *p = subject; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	if (strlen(subject) > 300) {
		/* a subject is read on one line: cut at a character boundary */
		size_t k = 297;
		while (k > 0 && ((unsigned char)subject[k] & 0xc0) == 0x80)
			k--;
		memcpy(subject + k, "...", 4);
	}
	pw_buf_init(&t, 0);
	pw_buf_init(&h, 0);
	struct pw_tz *tz = zone_load(m->timezone);
	default_bodies(m, title, &c, tz, subject, &t, &h);
	if (e->text_template) {
		pw_buf_free(&t);
		pw_buf_init(&t, 0);
		char *x = render_template(e->text_template, m, false);
		pw_buf_puts(&t, x);
		free(x);
	}
	if (e->html_template) {
		pw_buf_free(&h);
		pw_buf_init(&h, 0);
		char *x = render_template(e->html_template, m, true);
		pw_buf_puts(&h, x);
		free(x);
	}
	pw_buf_init(&b, 0);
	mime(&b, e, message_id, subject, t.data ? t.data : "", h.data ? h.data : "", m->now_ms, tz,
	     NULL);
	pw_tz_free(tz);
	pw_buf_free(&t);
	pw_buf_free(&h);
	free(ca);
	*subject_out = subject;
	return pw_buf_take(&b);
}

/* ---- the digest ---------------------------------------------------------------------- */

/* a status's name in Chinese, from its English name */
static const char *status_zh(const char *s)
{
	for (int q = 0; q < VIEW_NSTATUS; q++)
		if (!strcmp(view_status_name(q), s))
			return view_status_name_zh(q);
	return s;
}

/* the unit as people name it: its labels, without where it was scraped */
static char *unit_name(const struct pw_lset *l)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "");
	for (size_t i = 0; i < l->n; i++) {
		if (!strcmp(l->l[i].name, "instance") || !strcmp(l->l[i].name, "job"))
			continue;
		pw_buf_printf(&b, "%s%s=%s", b.len ? ", " : "", l->l[i].name, l->l[i].value);
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

char *render_digest(const struct conf_digest *d, const struct conf_email *e, const struct view *v,
		    const char *prev, int64_t now, const char *mid, const char *dashboard_url,
		    char **subject_out, char **state_out)
{
	json_error_t je;
	json_t *old = prev ? json_loads(prev, 0, &je) : NULL;
	json_t *old_units = json_object_get(old, "units");
	json_t *state = json_object(), *units = json_object();
	struct pw_buf t, h, ch_t, ch_h, b;
	char day[64], when[64];
	size_t counts[VIEW_NSTATUS] = {0};
	bool zh = false;
	size_t nchanges = 0, nkpis = v ? v->meta->nkpis : 0;
	struct pw_tz *tz = zone_load(d->timezone);

	local_time(day, sizeof day, now, tz);
	day[10] = '\0';
	pw_buf_init(&t, 0);
	pw_buf_init(&h, 0);
	pw_buf_init(&ch_t, 0);
	pw_buf_init(&ch_h, 0);
	for (size_t i = 0; i < nkpis; i++)
		zh |= has_cjk(v->meta->kpis[i].title);
	const char *title = d->title ? d->title : zh ? "进度周报" : "KPI digest";
	pw_buf_puts(&h, "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"></head><body>\n");
	for (size_t i = 0; i < nkpis; i++) {
		const struct view_meta_kpi *k = &v->meta->kpis[i];
		const struct view_kpi *vk = &v->kpis[i];
		char deadline[64];
		pw_fmt_time(deadline, sizeof deadline, k->deadline_ms);
		pw_buf_printf(&t, "\n%s (%s) — %s %s\n", k->title, k->name, zh ? "截止" : "deadline",
			      deadline);
		pw_buf_puts(&h, "<h3>");
		pw_buf_html(&h, k->title, strlen(k->title));
		pw_buf_puts(&h, "</h3>\n<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\" "
				"style=\"border-collapse:collapse\">\n<tr>");
		static const char *const hz[] = {"单位", "状态", "当前值", "按计划应达", "目标", "预测"};
		static const char *const he[] = {"Unit", "Status", "Value", "Expected now", "Target",
						 "Forecast"};
		for (int c = 0; c < 6; c++) {
			pw_buf_printf(&t, "%s%s", c ? " | " : "", zh ? hz[c] : he[c]);
			pw_buf_printf(&h, "<th>%s</th>", zh ? hz[c] : he[c]);
		}
		pw_buf_puts(&t, "\n");
		pw_buf_puts(&h, "</tr>\n");
		if (vk->nunits == 0) {
			pw_buf_printf(&t, "%s\n", zh ? "（暂无数据）" : "(no data yet)");
			pw_buf_printf(&h, "<tr><td colspan=\"6\">%s</td></tr>\n",
				      zh ? "（暂无数据）" : "(no data yet)");
		}
		for (size_t j = 0; j < vk->nunits; j++) {
			const struct view_unit *u = &v->units[vk->unit0 + j];
			const char *st = view_status_name(u->status);
			char *name = unit_name(u->labels);
			char val[4][400];
			pw_fmt_float(val[0], sizeof val[0], u->value, PW_FMT_HUMAN);
			pw_fmt_float(val[1], sizeof val[1], u->expected, PW_FMT_HUMAN);
			pw_fmt_float(val[2], sizeof val[2], u->target, PW_FMT_HUMAN);
			pw_fmt_float(val[3], sizeof val[3], u->forecast, PW_FMT_HUMAN);
			const char *stt = zh ? view_status_name_zh(u->status) : st;
			counts[u->status]++;
			const char *cells[6] = {name, stt, val[0], val[1], val[2], val[3]};
			pw_buf_puts(&h, "<tr>");
			for (int c = 0; c < 6; c++) {
				pw_buf_printf(&t, "%s%s", c ? " | " : "", cells[c]);
				pw_buf_puts(&h, "<td>");
				pw_buf_html(&h, cells[c], strlen(cells[c]));
				pw_buf_puts(&h, "</td>");
			}
			pw_buf_puts(&t, "\n");
			pw_buf_puts(&h, "</tr>\n");
			/* the state for the next digest, and what changed since the last */
			char *lk = unit_key(k->name, u->labels);
			json_t *rec = json_object();
			json_object_set_new(rec, "s", json_string(st));
			json_object_set_new(rec, "v", isnan(u->value) || isinf(u->value) ? json_null()
						      : fabs(u->value) < 9007199254740992.0 &&
								    u->value == trunc(u->value)
							      ? json_integer((json_int_t)u->value)
							      : json_real(u->value));
			json_object_set_new(units, lk, rec);
			json_t *o = old_units ? json_object_get(old_units, lk) : NULL;
			const char *ost = o ? json_string_value(json_object_get(o, "s")) : NULL;
			if (old && (!o || (ost && strcmp(ost, st)))) {
				char ov[400], line[1024];
				json_t *jv = json_object_get(o, "v");
				pw_fmt_float(ov, sizeof ov, json_is_number(jv) ? json_number_value(jv) : NAN,
					     PW_FMT_HUMAN);
				if (!o)
					snprintf(line, sizeof line, "%s %s: %s %s (%s)", k->title, name,
						 zh ? "新出现" : "new", stt, val[0]);
				else
					snprintf(line, sizeof line, "%s %s: %s → %s (%s → %s)", k->title,
						 name, zh ? status_zh(ost) : ost, stt, ov, val[0]);
				pw_buf_printf(&ch_t, "- %s\n", line);
				pw_buf_puts(&ch_h, "<li>");
				pw_buf_html(&ch_h, line, strlen(line));
				pw_buf_puts(&ch_h, "</li>\n");
				nchanges++;
			}
			free(lk);
			free(name);
		}
		pw_buf_puts(&h, "</table>\n");
	}
	/* units the last digest had and this one has not */
	if (old_units) {
		const char *k;
		json_t *ou;
		json_object_foreach(old_units, k, ou)
		{
			if (json_object_get(units, k))
				continue;
			const char *sep = strchr(k, '\x1f');
			char line[1024];
			snprintf(line, sizeof line, "%.*s %s: %s", sep ? (int)(sep - k) : 0, k,
				 sep ? sep + 1 : k, zh ? "不再跟踪" : "no longer tracked");
			pw_buf_printf(&ch_t, "- %s\n", line);
			pw_buf_puts(&ch_h, "<li>");
			pw_buf_html(&ch_h, line, strlen(line));
			pw_buf_puts(&ch_h, "</li>\n");
			nchanges++;
		}
	}
	/* the subject counts the laggards */
	static const enum view_status order[] = {VIEW_MISSING, VIEW_LAGGING, VIEW_MISSED,
						 VIEW_AT_RISK, VIEW_STALE};
	struct pw_buf s;
	pw_buf_init(&s, 0);
	pw_buf_printf(&s, "%s %s", title, day);
	for (size_t q = 0; q < sizeof order / sizeof order[0]; q++) {
		if (!counts[order[q]])
			continue;
		pw_buf_printf(&s, "%s %zu %s", s.len && strchr(s.data, ':') ? "," : ":",
			      counts[order[q]],
			      zh ? view_status_name_zh(order[q]) : view_status_name(order[q]));
	}
	char *subject = pw_buf_take(&s);
	struct pw_buf tt, hh;
	pw_buf_init(&tt, 0);
	pw_buf_init(&hh, 0);
	local_time(when, sizeof when, now, tz);
	pw_buf_printf(&tt, "%s\n%s %s\n", subject, zh ? "生成于" : "as of", when);
	pw_buf_puts(&hh, "<h2>");
	pw_buf_html(&hh, subject, strlen(subject));
	pw_buf_puts(&hh, "</h2>\n");
	pw_buf_printf(&tt, "\n%s\n", zh ? "自上次周报以来的变化" : "Changes since the last digest");
	pw_buf_printf(&hh, "<h3>%s</h3>\n<ul>\n",
		      zh ? "自上次周报以来的变化" : "Changes since the last digest");
	if (!old) {
		pw_buf_printf(&tt, "%s\n", zh ? "（首份周报）" : "(the first digest)");
		pw_buf_printf(&hh, "<li>%s</li>\n", zh ? "（首份周报）" : "(the first digest)");
	} else if (!nchanges) {
		pw_buf_printf(&tt, "%s\n", zh ? "（无变化）" : "(none)");
		pw_buf_printf(&hh, "<li>%s</li>\n", zh ? "（无变化）" : "(none)");
	}
	pw_buf_append(&tt, ch_t.data ? ch_t.data : "", ch_t.len);
	pw_buf_append(&hh, ch_h.data ? ch_h.data : "", ch_h.len);
	pw_buf_puts(&hh, "</ul>\n");
	pw_buf_append(&tt, t.data ? t.data : "", t.len);
	pw_buf_append(&hh, h.data ? h.data : "", h.len);
	if (dashboard_url) {
		pw_buf_printf(&tt, "\n%s: %s\n", zh ? "仪表盘" : "Dashboard", dashboard_url);
		pw_buf_puts(&hh, "<p><a href=\"");
		pw_buf_html(&hh, dashboard_url, strlen(dashboard_url));
		pw_buf_printf(&hh, "\">%s</a></p>\n", zh ? "仪表盘 Dashboard" : "Dashboard");
	}
	pw_buf_puts(&hh, "</body></html>\n");
	pw_buf_init(&b, 0);
	mime(&b, e, mid, subject, tt.data ? tt.data : "", hh.data ? hh.data : "", now, tz,
	     NULL);
	json_object_set_new(state, "sent", json_integer(now));
	json_object_set_new(state, "units", units);
	*state_out = json_dumps(state, JSON_COMPACT);
	*subject_out = subject;
	json_decref(state);
	json_decref(old);
	pw_tz_free(tz);
	pw_buf_free(&t);
	pw_buf_free(&h);
	pw_buf_free(&ch_t);
	pw_buf_free(&ch_h);
	pw_buf_free(&tt);
	pw_buf_free(&hh);
	return pw_buf_take(&b);
}
