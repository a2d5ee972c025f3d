/*
 * sheet.c — reading a spreadsheet's bytes: which format and encoding they
 * are, CSV records (RFC 4180: quoted fields, "" inside quotes, CRLF or LF)
 * into rows of trimmed UTF-8 cells, and the bounds every input gets.
 */
#include "sheet.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "sheet_int.h"

#define MAX_FILE (256u << 20)

/* ---- encodings ------------------------------------------------------------------- */

static int valid_utf8(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		size_t k;
		if (c < 0x80)
			k = 0;
		else if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if ((c & 0xf0) == 0xe0)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return 0;
		if (i + k >= n && k)
			return 0;
		for (size_t j = 1; j <= k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
		i += k + 1;
	}
	return 1;
}

/* text in `from` to UTF-8 (a new buffer); NULL with *cause when invalid */
static char *to_utf8(const char *from, const char *in, size_t len, size_t *outlen, const char *name,
		     char **cause)
{
	iconv_t cd = iconv_open("UTF-8", from);
	size_t cap = len * 2 + 16, left = cap, inleft = len;
	char *out, *o, *ip = (char *)in;
	if (cd == (iconv_t)-1) {
		*cause = xasprintf("%s: cannot read %s text on this system", name, from);
		return NULL;
	}
	out = o = xmalloc(cap + 1);
	while (inleft) {
		if (iconv(cd, &ip, &inleft, &o, &left) != (size_t)-1)
			continue;
		if (errno == E2BIG) {
			size_t used = (size_t)(o - out);
			cap *= 2;
			out = xrealloc(out, cap + 1);
			o = out + used;
			left = cap - used;
			continue;
		}
		/* where it stops: the line, for people */
		size_t line = 1;
		for (const char *q = in; q < ip; q++)
			line += *q == '\n';
		*cause = xasprintf("%s: line %zu: bytes that are not %s text", name, line, from);
		free(out);
		iconv_close(cd);
		return NULL;
	}
	iconv_close(cd);
	*outlen = (size_t)(o - out);
	out[*outlen] = '\0';
	return out;
}

/* ---- CSV ------------------------------------------------------------------------- */

static int is_space_at(const char *p, const char *e, size_t *w)
{
	if (p < e && (*p == ' ' || *p == '\t')) {
		*w = 1;
		return 1;
	}
	if (e - p >= 3 && memcmp(p, "\xe3\x80\x80", 3) == 0) { /* U+3000 ideographic space */
		*w = 3;
		return 1;
	}
	if (e - p >= 2 && memcmp(p, "\xc2\xa0", 2) == 0) { /* no-break space */
		*w = 2;
		return 1;
	}
	return 0;
}

char *sheet_trimmed(const char *s, size_t n)
{
	const char *p = s, *e = s + n;
	size_t w;
	while (is_space_at(p, e, &w))
		p += w;
	for (;;) {
		if (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		else if (e - p >= 3 && memcmp(e - 3, "\xe3\x80\x80", 3) == 0)
			e -= 3;
		else if (e - p >= 2 && memcmp(e - 2, "\xc2\xa0", 2) == 0)
			e -= 2;
		else
			break;
	}
	return xstrndup(p, (size_t)(e - p));
}

void sheet_row_add(struct sheet_row *r, size_t *cap, char *cell)
{
	if (r->n == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		r->cells = xreallocarray(r->cells, *cap, sizeof *r->cells);
	}
	r->cells[r->n++] = cell;
}

void sheet_row_free(struct sheet_row *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->cells[i]);
	free(r->cells);
}

static int read_csv(const char *name, const char *p, const char *end, const struct sheet_opts *o,
		    struct sheet *s, char **cause)
{
	char delim = o && o->delimiter ? o->delimiter : ',';
	size_t max_rows = o && o->max_rows ? o->max_rows : 1000000;
	size_t max_cells = o && o->max_cells ? o->max_cells : 4096, caprows = 0, line = 1;
	struct pw_buf f;
	pw_buf_init(&f, 0);
	while (p < end) {
		struct sheet_row r = {.line = line};
		size_t cap = 0;
		for (;;) {
			pw_buf_reset(&f);
			if (p < end && *p == '"') {
				size_t qline = line;
				p++;
				for (;;) {
					if (p >= end) {
						*cause = xasprintf("%s: line %zu: a quote opened here is never "
								   "closed", name, qline);
						sheet_row_free(&r);
						pw_buf_free(&f);
						return PW_EINVAL;
					}
					if (*p == '"') {
						if (p + 1 < end && p[1] == '"') {
							pw_buf_putc(&f, '"');
							p += 2;
							continue;
						}
						p++;
						break;
					}
					line += *p == '\n';
					pw_buf_putc(&f, *p++);
				}
				/* what follows a closing quote up to the delimiter */
				while (p < end && *p != delim && *p != '\n' && *p != '\r')
					pw_buf_putc(&f, *p++);
			} else {
				const char *b = p;
				while (p < end && *p != delim && *p != '\n' && *p != '\r')
					p++;
				pw_buf_append(&f, b, (size_t)(p - b));
			}
			if (r.n >= max_cells) {
				*cause = xasprintf("%s: line %zu: more than %zu cells", name, r.line,
						   max_cells);
				sheet_row_free(&r);
				pw_buf_free(&f);
				return PW_ETOOBIG;
			}
			sheet_row_add(&r, &cap, sheet_trimmed(f.data ? f.data : "", f.len));
			if (p < end && *p == delim) {
				p++;
				continue;
			}
			if (p < end && *p == '\r')
				p++;
			if (p < end && *p == '\n')
				p++;
			line++;
			break;
		}
		if (s->nrows >= max_rows) {
			*cause = xasprintf("%s: more than %zu rows", name, max_rows);
			sheet_row_free(&r);
			pw_buf_free(&f);
			return PW_ETOOBIG;
		}
		if (s->nrows == caprows) {
			caprows = caprows ? 2 * caprows : 64;
			s->rows = xreallocarray(s->rows, caprows, sizeof *s->rows);
		}
		s->rows[s->nrows++] = r;
	}
	pw_buf_free(&f);
	return 0;
}

/* ---- the public part ------------------------------------------------------------- */

int sheet_read(const char *name, const void *data, size_t len, const struct sheet_opts *o,
	       struct sheet **out, char **cause)
{
	const unsigned char *b = data;
	struct sheet *s = xcalloc(1, sizeof *s);
	char *text = NULL;
	size_t tlen = 0;
	int rc;
	*out = NULL;
	if (len > MAX_FILE) {
		*cause = xasprintf("%s: %zu bytes, more than a sheet may have (%u MiB)", name, len,
				   MAX_FILE >> 20);
		free(s);
		return PW_ETOOBIG;
	}
	if (len >= 4 && memcmp(b, "PK\x03\x04", 4) == 0) {
		s->encoding = xstrdup("xlsx");
		rc = sheet_read_xlsx(name, data, len, o, s, cause);
	} else if (len >= 8 && memcmp(b, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) == 0) {
		*cause = xasprintf("%s: an .xls (Excel 97-2003) or password-protected workbook, "
				   "which pacewatch does not read: save it as .xlsx (without a "
				   "password) or CSV", name);
		free(s);
		return PW_EINVAL;
	} else {
		const char *enc = "UTF-8";
		if (len >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) {
			text = xstrndup((const char *)b + 3, len - 3);
			tlen = len - 3;
		} else if (len >= 2 && (memcmp(b, "\xFF\xFE", 2) == 0 || memcmp(b, "\xFE\xFF", 2) == 0)) {
			enc = "UTF-16";
			text = to_utf8(enc, data, len, &tlen, name, cause);
		} else if (valid_utf8(b, len)) {
			text = xstrndup(data, len);
			tlen = len;
		} else {
			enc = "GB18030";
			text = to_utf8(enc, data, len, &tlen, name, cause);
		}
		if (!text) {
			free(s);
			return PW_EINVAL;
		}
		s->encoding = xstrdup(enc);
		/* UTF-16's tab-separated "Unicode text" from Excel */
		struct sheet_opts so = o ? *o : (struct sheet_opts){0};
		if (!so.delimiter && strcmp(enc, "UTF-16") == 0)
			so.delimiter = '\t';
		rc = read_csv(name, text, text + tlen, &so, s, cause);
		free(text);
	}
	if (rc != 0) {
		sheet_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int sheet_read_file(const char *path, const struct sheet_opts *o, struct sheet **out, char **cause)
{
	FILE *f = fopen(path, "rb");
	struct pw_buf b;
	char chunk[65536];
	size_t n;
	int rc;
	*out = NULL;
	if (!f) {
		int e = errno;
		*cause = xasprintf("%s: %s", path, strerror(e));
		return -e;
	}
	pw_buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b.len + n > MAX_FILE) {
			fclose(f);
			pw_buf_free(&b);
			*cause = xasprintf("%s: more than a sheet may have (%u MiB)", path, MAX_FILE >> 20);
			return PW_ETOOBIG;
		}
		pw_buf_append(&b, chunk, n);
	}
	if (ferror(f)) {
		int e = errno ? errno : EIO;
		*cause = xasprintf("%s: %s", path, strerror(e));
		fclose(f);
		pw_buf_free(&b);
		return -e;
	}
	fclose(f);
	rc = sheet_read(path, b.data ? b.data : "", b.len, o, out, cause);
	pw_buf_free(&b);
	return rc;
}

void sheet_free(struct sheet *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nrows; i++)
		sheet_row_free(&s->rows[i]);
	free(s->rows);
	free(s->encoding);
	free(s->name);
	free(s);
}

int sheet_row_blank(const struct sheet_row *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->cells[i][0])
			return 0;
	return 1;
}
