/*
 * render_email.c — a group's notification as an RFC 5322 email: RFC 2047
 * subject, multipart/alternative text and HTML in quoted-printable, the
 * default bodies (render_default.c) or templates (render_tmpl.c); its MIME
 * serves digest.c too.
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

/* the subject (the template's, or the default), on one line */
static char *email_subject(const struct nmsg *m)
{
	const struct conf_email *e = &m->rc->email;
	char *subject = e->subject_template ? render_template(e->subject_template, m, false)
					    : render_default_subject(m);
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
	char *subject = email_subject(m);
	struct pw_tz *tz = email_zone(m->timezone);

	pw_buf_init(&t, 0);
	pw_buf_init(&h, 0);
	render_default_bodies(m, subject, tz, &t, &h);
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
