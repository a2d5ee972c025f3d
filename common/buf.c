/*
 * buf.c — a growable byte buffer with a hard maximum, for everything fed
 * from outside (response bodies, import bodies, error messages). Going past
 * the maximum is an error the caller reports, never a silent truncation.
 */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pw_buf_init(struct pw_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void pw_buf_free(struct pw_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void pw_buf_reset(struct pw_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int buf_reserve(struct pw_buf *b, size_t extra)
{
	size_t need, ncap;

	if (extra > SIZE_MAX - b->len - 1)
		return PW_ETOOBIG;
	need = b->len + extra;
	if (b->max && need > b->max)
		return PW_ETOOBIG;
	if (need + 1 <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need + 1)
		ncap = ncap > SIZE_MAX / 2 ? need + 1 : ncap * 2;
	b->data = xrealloc(b->data, ncap);
	b->cap = ncap;
	return 0;
}

int pw_buf_append(struct pw_buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

char *pw_buf_grow(struct pw_buf *b, size_t n)
{
	if (buf_reserve(b, n))
		return NULL;
	char *p = b->data + b->len;
	b->len += n;
	b->data[b->len] = '\0';
	return p;
}

int pw_buf_putc(struct pw_buf *b, char c) { return pw_buf_append(b, &c, 1); }

int pw_buf_puts(struct pw_buf *b, const char *s) { return pw_buf_append(b, s, strlen(s)); }

int pw_buf_printf(struct pw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return PW_EINVAL;
	rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *pw_buf_take(struct pw_buf *b)
{
	char *p = b->data ? b->data : xstrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/* the length of the valid UTF-8 sequence at p (first byte >= 0x80), or 0 */
void pw_buf_json_string(struct pw_buf *b, const char *s)
{
	pw_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		/* a run that needs no escaping goes in one append */
		const unsigned char *q = p;
		while (*q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
			q++;
		if (q != p) {
			pw_buf_append(b, (const char *)p, (size_t)(q - p));
			p = q;
			if (!*p)
				break;
		}
		switch (*p) {
		case '"': pw_buf_puts(b, "\\\""); break;
		case '\\': pw_buf_puts(b, "\\\\"); break;
		case '\n': pw_buf_puts(b, "\\n"); break;
		case '\r': pw_buf_puts(b, "\\r"); break;
		case '\t': pw_buf_puts(b, "\\t"); break;
		default:
			if (*p < 0x20) {
				pw_buf_printf(b, "\\u%04x", *p);
			} else if (*p < 0x80) {
				pw_buf_putc(b, (char)*p);
			} else {
				/* valid UTF-8 passes; anything else becomes U+FFFD, as
				 * Go's encoding/json writes it */
				size_t n = pw_utf8_len(p, 4); /* stops at the NUL */
				if (n) {
					pw_buf_append(b, (const char *)p, n);
					p += n - 1;
				} else {
					pw_buf_puts(b, "\\ufffd");
				}
			}
		}
	}
	pw_buf_putc(b, '"');
}

void pw_buf_json_labels(struct pw_buf *b, const struct pw_label *l, size_t n)
{
	pw_buf_putc(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			pw_buf_putc(b, ',');
		pw_buf_json_string(b, l[i].name);
		pw_buf_putc(b, ':');
		pw_buf_json_string(b, l[i].value);
	}
	pw_buf_putc(b, '}');
}

int pw_read_file(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	struct pw_buf b;
	char tmp[65536];
	size_t n;
	int rc = 0;

	*out = NULL;
	if (!f)
		return -errno;
	pw_buf_init(&b, max);
	while (rc == 0 && (n = fread(tmp, 1, sizeof tmp, f)) > 0)
		rc = pw_buf_append(&b, tmp, n);
	if (rc == 0 && ferror(f))
		rc = -(errno ? errno : EIO);
	if (f != stdin)
		fclose(f);
	if (rc) {
		pw_buf_free(&b);
		return rc;
	}
	if (len)
		*len = b.len;
	*out = pw_buf_take(&b);
	return 0;
}

void pw_buf_html(struct pw_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': pw_buf_puts(b, "&amp;"); break;
		case '<': pw_buf_puts(b, "&lt;"); break;
		case '>': pw_buf_puts(b, "&gt;"); break;
		case '"': pw_buf_puts(b, "&#34;"); break;
		case '\'': pw_buf_puts(b, "&#39;"); break;
		default: pw_buf_putc(b, s[i]);
		}
	}
}

void pw_buf_metric_header(struct pw_buf *b, const char *name, const char *type, const char *help,
			  bool om)
{
	int n = (int)strlen(name);
	if (om && strcmp(type, "counter") == 0 && n > 6 && strcmp(name + n - 6, "_total") == 0)
		n -= 6;
	pw_buf_printf(b, "# HELP %.*s %s\n# TYPE %.*s %s\n", n, name, help, n, name, type);
}
