/*
 * render_email.c — a group's notification as an RFC 5322 email: RFC 2047
 * subject, multipart/alternative text and HTML in quoted-printable, the
 * default bodies or templates (render_tmpl.c); its MIME serves digest.c too.
 * Flow: alert → route → group → [render] → outbox → transport.
 */
#include "notify_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * The default bodies have a table per state (firing, resolved) with each
 * unit's numbers for KPI alerts, each alert's summary and description, and
 * links to the dashboard and the alerts; in Chinese when the KPI titles are.
 */

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

bool email_has_cjk(const char *s)
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
struct pw_tz *email_zone(const char *name)
{
	struct pw_tz *tz = NULL;
	if (name && pw_tz_load(name, &tz, NULL) != 0)
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

void email_local_time(char *dst, size_t sz, int64_t ms, const struct pw_tz *zone)
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
		email_local_time(scratch[1], 64, a->starts_ms, tz);
		cell[k++] = scratch[1];
		cell[k++] = or_dash(nalert_ann(a, "summary"));
	}
	if (!a->firing) {
		email_local_time(scratch[2], 64, a->ends_ms, tz);
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

/* what each alert says: its summary and description */
static void default_details(const struct nmsg *m, const struct cols *c, struct pw_buf *t,
			    struct pw_buf *h)
{
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
	pw_buf_puts(h, "</ul>\n");
}

/* the links (the dashboard, every alert) and the signature */
static void default_links(const struct nmsg *m, const struct cols *c, struct pw_buf *t,
			  struct pw_buf *h)
{
	pw_buf_puts(h, "<p>");
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

/* the default text and HTML bodies: the subject, the common title, the
 * tables, the details, the links */
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
	default_details(m, c, t, h);
	default_links(m, c, t, h);
}

void email_mime(struct pw_buf *b, const struct conf_email *e, const char *mid, const char *subject,
		const char *text, const char *html, int64_t now, const struct pw_tz *tz)
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

/* the columns and language of the tables; returns the title the alerts
 * share (a KPI's), or NULL */
static const char *email_cols(const struct nmsg *m, struct cols *c)
{
	size_t nca;
	struct pw_label *ca = render_common(m->alerts, m->n, true, &nca);
	const char *title = NULL; /* the first alert's: outlives ca */
	for (size_t i = 0; i < nca; i++)
		if (strcmp(ca[i].name, "title") == 0)
			title = ca[i].value;
	free(ca);
	memset(c, 0, sizeof *c);
	c->zh = email_has_cjk(title);
	for (size_t i = 0; i < m->n; i++) {
		c->zh |= email_has_cjk(nalert_ann(m->alerts[i], "title"));
		c->kpi |= nalert_ann(m->alerts[i], "unit") != NULL;
		if (i && strcmp(or_dash(nalert_label(m->alerts[i], "alertname")),
				or_dash(nalert_label(m->alerts[0], "alertname"))))
			c->alertname = true;
	}
	return title;
}

/* the subject (the template's, or the default), on one line */
static char *email_subject(const struct nmsg *m, const char *title)
{
	const struct conf_email *e = &m->rc->email;
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
	return subject;
}

/* a template's expansion replaces the default body in b */
static void templated(struct pw_buf *b, const char *tmpl, const struct nmsg *m, bool html)
{
	char *x = render_template(tmpl, m, html);
	pw_buf_free(b);
	pw_buf_init(b, 0);
	pw_buf_puts(b, x);
	free(x);
}

char *render_email(const struct nmsg *m, const char *message_id, char **subject_out)
{
	const struct conf_email *e = &m->rc->email;
	struct pw_buf t, h, b;
	struct cols c;
	const char *title = email_cols(m, &c);
	char *subject = email_subject(m, title);
	struct pw_tz *tz = email_zone(m->timezone);

	pw_buf_init(&t, 0);
	pw_buf_init(&h, 0);
	default_bodies(m, title, &c, tz, subject, &t, &h);
	if (e->text_template)
		templated(&t, e->text_template, m, false);
	if (e->html_template)
		templated(&h, e->html_template, m, true);
	pw_buf_init(&b, 0);
	email_mime(&b, e, message_id, subject, t.data ? t.data : "", h.data ? h.data : "", m->now_ms,
		   tz);
	pw_tz_free(tz);
	pw_buf_free(&t);
	pw_buf_free(&h);
	*subject_out = subject;
	return pw_buf_take(&b);
}
