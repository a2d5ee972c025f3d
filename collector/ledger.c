/*
 * ledger.c — a ledger's rows to samples (docs/ledgers.md): the file read
 * through sheet/ (.xlsx, CSV in any of Excel's encodings), the header row
 * found as the first that names every configured column, dates as Excel
 * serials (1900 or 1904 system) or as staff write them, numbers with
 * thousands separators and percentages. Every wrong cell is a rejection
 * naming its row, column and why; the caller decides what is stored.
 */
#include "collector.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sheet.h"

#define MAX_LISTED 1000
#define SERIAL_MAX 2958466.0 /* 10000-01-01: past any date Excel shows */

/* ---- names of columns --------------------------------------------------------------- */

/* s without any white space (a header cell with a line break matches) */
static char *squeezed(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *r = xmalloc(n + 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			i++;
		} else if (n - i >= 3 && memcmp(s + i, "\xe3\x80\x80", 3) == 0) {
			i += 3;
		} else if (n - i >= 2 && memcmp(s + i, "\xc2\xa0", 2) == 0) {
			i += 2;
		} else {
			r[o++] = s[i++];
		}
	}
	r[o] = '\0';
	return r;
}

struct want {
	const char *name;   /* as configured */
	char *sq;           /* squeezed */
	const char *what;   /* "timestamp_column", "labels.county", "values.x" */
	char whatbuf[160];
	long col;
};

/* ---- numbers --------------------------------------------------------------------- */

static int excel_error(const char *s)
{
	static const char *const errs[] = {"#DIV/0!", "#N/A",  "#NAME?",	 "#NULL!", "#NUM!",
					   "#REF!",   "#VALUE!", "#GETTING_DATA", "#SPILL!", "#CALC!"};
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
		if (strcmp(s, errs[i]) == 0)
			return 1;
	return 0;
}

/* "1,234,567.5" -> "1234567.5" when the commas group by three; else NULL */
static char *ungrouped(const char *s)
{
	const char *p = s, *dot;
	size_t digits = 0;
	char *r, *o;
	if (*p == '-' || *p == '+')
		p++;
	dot = strchr(p, '.');
	if (!strchr(p, ',') || (dot && strchr(dot, ',')))
		return NULL; /* no separators, or one among the decimals */
	for (const char *q = p; *q && q != dot; q++) {
		if (*q == ',') {
			if (digits == 0 || (q == strchr(p, ',') ? digits > 3 : digits != 3))
				return NULL;
			digits = 0;
		} else if (isdigit((unsigned char)*q)) {
			digits++;
		} else {
			return NULL;
		}
	}
	if (digits != 3)
		return NULL;
	r = o = xmalloc(strlen(s) + 1);
	for (const char *q = s; *q; q++)
		if (*q != ',')
			*o++ = *q;
	*o = '\0';
	return r;
}

/* 0 with *v, or a new message */
static char *read_number(const char *cell, double *v)
{
	size_t n = strlen(cell);
	char *u = NULL, esc[96];
	const char *s = cell;
	int pct = 0;
	if (excel_error(cell))
		return xasprintf("an Excel error value %s, not a number", cell);
	if (n > 1 && cell[n - 1] == '%') {
		/* "6.19%" read as 6.19e-2, the double nearest 0.0619 (6.19 / 100 is not) */
		pct = !strpbrk(cell, "eE") ? 2 : 1;
		u = pct == 2 ? xasprintf("%.*se-2", (int)(n - 1), cell) : xstrndup(cell, n - 1);
		s = u;
	}
	if (!pw_number(s, v)) {
		char *g;
		if (pct == 2) { /* "1,230%": the separators first */
			u[n - 1] = '\0';
			pct = 1;
		}
		g = ungrouped(s);
		int ok = g && pw_number(g, v);
		free(g);
		if (!ok) {
			free(u);
			return xasprintf("expected a number, found \"%s\"", pw_esc(esc, sizeof esc, cell, n));
		}
	}
	free(u);
	if (isinf(*v) && !strpbrk(cell, "iI")) {
		return xasprintf("number out of range: \"%s\"", pw_esc(esc, sizeof esc, cell, n));
	}
	if (pct == 1)
		*v /= 100;
	return NULL;
}

/* A value cell: a text of ledger.value_map reads as its number, or as
 * blank (*blank) when it maps to ""; any other cell as read_number reads
 * it. 0 with *v (or *blank), or a new message. */
static char *read_value(const struct conf_csv *l, const char *cell, double *v, int *blank)
{
	*blank = 0;
	for (size_t k = 0; k < l->value_map.n; k++) {
		if (strcmp(cell, l->value_map.v[k].name) != 0)
			continue;
		if (!l->value_map.v[k].value[0]) {
			*blank = 1;
			return NULL;
		}
		return read_number(l->value_map.v[k].value, v);
	}
	return read_number(cell, v);
}

/* ---- dates ------------------------------------------------------------------------- */

static int days_in(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* read up to maxd digits; -1 when none */
static long digits(const char **p, int maxd)
{
	long v = 0;
	int n = 0;
	while (n < maxd && isdigit((unsigned char)**p)) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n ? v : -1;
}

static int time_part(const char **p, int *hh, int *mi, int *ss)
{
	const char *q = *p;
	long h, m, s = 0;
	if ((h = digits(&q, 2)) < 0 || *q != ':')
		return 0;
	q++;
	if ((m = digits(&q, 2)) < 0)
		return 0;
	if (*q == ':') {
		q++;
		if ((s = digits(&q, 2)) < 0)
			return 0;
	}
	if (h > 23 || m > 59 || s > 59)
		return 0;
	*hh = (int)h, *mi = (int)m, *ss = (int)s;
	*p = q;
	return 1;
}

#define DATE_FORMS "(2025-06-30, 2025/6/30, 2025年6月30日, 2025年6月, an Excel serial)"

/* a date cell to milliseconds, or a new message */
static char *read_date(const char *cell, const struct pw_tz *tz, int date1904, int64_t *ms)
{
	const char *p = cell;
	long y, m, d = 1;
	int hh = 0, mi = 0, ss = 0;
	char esc[96];
	double v;
	size_t n = strlen(cell);

	/* 20250630 */
	if (n == 8 && strspn(cell, "0123456789") == 8) {
		y = strtol(cell, NULL, 10) / 10000;
		m = strtol(cell, NULL, 10) / 100 % 100;
		d = strtol(cell, NULL, 10) % 100;
		if (y >= 1900 && y <= 2999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in((int)y, (int)m)) {
			*ms = pw_tz_local_to_unix(tz, (int)y, (int)m, (int)d, 0, 0, 0) * 1000;
			return NULL;
		}
	}
	if (pw_number(cell, &v)) {
		if (!isfinite(v) || v < 0)
			goto bad;
		if (v < SERIAL_MAX) {
			double day = floor(v);
			int64_t secs = llround((v - day) * 86400), days;
			int64_t yy;
			unsigned mm, dd;
			if (date1904) {
				days = pw_days_from_civil(1904, 1, 1) + (int64_t)day;
			} else {
				if (day == 60)
					return xasprintf("Excel serial %s is 29 February 1900, a day that never was",
							 pw_esc(esc, sizeof esc, cell, n));
				if (day < 1)
					return xasprintf("Excel serial %s is before 1 January 1900",
							 pw_esc(esc, sizeof esc, cell, n));
				days = pw_days_from_civil(1899, 12, day < 60 ? 31 : 30) + (int64_t)day;
			}
			days += secs / 86400;
			secs %= 86400;
			pw_civil_from_days(days, &yy, &mm, &dd);
			*ms = pw_tz_local_to_unix(tz, (int)yy, (int)mm, (int)dd, (int)(secs / 3600),
						  (int)(secs / 60 % 60), (int)(secs % 60)) *
			      1000;
			return NULL;
		}
		if (v < 1e11)
			*ms = (int64_t)llround(v * 1000);
		else if (v < 9e15)
			*ms = (int64_t)llround(v);
		else
			goto bad;
		return NULL;
	}
	/* 2025年6月30日, 2025年6月 */
	if ((y = digits(&p, 4)) >= 1000 && strncmp(p, "年", 3) == 0) {
		p += 3;
		if ((m = digits(&p, 2)) < 0 || strncmp(p, "月", 3) != 0)
			goto bad;
		p += 3;
		if (*p) {
			if ((d = digits(&p, 2)) < 0)
				goto bad;
			if (strncmp(p, "日", 3) == 0 || strncmp(p, "号", 3) == 0)
				p += 3;
			if (*p == ' ') {
				p++;
				if (!time_part(&p, &hh, &mi, &ss))
					goto bad;
			}
		}
		if (*p)
			goto bad;
		goto civil;
	}
	p = cell;
	/* 2025-06-30, 2025/6/30, 2025.6.30, 2025-06, 2025/6, with a time */
	if ((y = digits(&p, 4)) >= 1000 && (*p == '-' || *p == '/' || *p == '.')) {
		char sep = *p++;
		if ((m = digits(&p, 2)) < 0)
			goto bad;
		if (*p == sep) {
			p++;
			if ((d = digits(&p, 2)) < 0)
				goto bad;
			if (*p == ' ' || *p == 'T') {
				const char *t = p + 1;
				if (!time_part(&t, &hh, &mi, &ss))
					goto bad;
				if (*t == '.' || *t == 'Z' || *t == '+' || *t == '-') {
					/* an instant: RFC 3339 */
					if (sep == '-' && pw_parse_time(cell, tz, ms) == 0)
						return NULL;
					goto bad;
				}
				p = t;
			}
		}
		if (*p)
			goto bad;
		goto civil;
	}
bad:
	return xasprintf("expected a date " DATE_FORMS ", found \"%s\"", pw_esc(esc, sizeof esc, cell, n));
civil:
	if (m < 1 || m > 12 || d < 1 || d > days_in((int)y, (int)m))
		return xasprintf("no such day: \"%s\"", pw_esc(esc, sizeof esc, cell, n));
	*ms = pw_tz_local_to_unix(tz, (int)y, (int)m, (int)d, hh, mi, ss) * 1000;
	return NULL;
}

/* ---- the mapping ----------------------------------------------------------------- */

/* a cell as an answer echoes it: at most ECHO_MAX bytes, cut between
 * UTF-8 characters, "…" where it was cut (a hostile cell may be megabytes) */
#define ECHO_MAX 200
static char *echo(const char *cell)
{
	size_t n = strlen(cell);
	if (n <= ECHO_MAX)
		return xstrdup(cell);
	n = ECHO_MAX;
	while (n > 0 && ((unsigned char)cell[n] & 0xc0) == 0x80)
		n--;
	return xasprintf("%.*s…", (int)n, cell);
}

static void reject(struct ledger_result *res, const struct sheet_row *r, long col,
		   const struct sheet_row *hdr, char *why)
{
	res->rejected_total++;
	if (res->nrejected < MAX_LISTED) {
		struct ledger_reject *j;
		res->rejected = xreallocarray(res->rejected, res->nrejected + 1, sizeof *res->rejected);
		j = &res->rejected[res->nrejected++];
		j->row = r->line;
		sheet_column_name((size_t)col, j->column);
		j->header = xstrdup((size_t)col < hdr->n ? hdr->cells[col] : "");
		j->value = echo((size_t)col < r->n ? r->cells[col] : "");
		j->error = why;
	} else {
		free(why);
	}
}

static const char *cell_of(const struct sheet_row *r, long col)
{
	return col >= 0 && (size_t)col < r->n ? r->cells[col] : "";
}

int ledger_apply(const struct conf_csv *l, const char *name, const void *data, size_t len,
		 const struct pw_tz *tz, int64_t now_ms, jsonmap_sample_cb cb, void *ctx,
		 struct ledger_result *res, char **cause)
{
	return ledger_apply_limited(l, name, data, len, tz, now_ms, 0, cb, ctx, res, cause);
}

int ledger_apply_limited(const struct conf_csv *l, const char *name, const void *data,
			 size_t len, const struct pw_tz *tz, int64_t now_ms, size_t max_label_len,
			 jsonmap_sample_cb cb, void *ctx, struct ledger_result *res, char **cause)
{
	struct sheet_opts so = {.sheet = l->sheet,
				.delimiter = l->delimiter && l->delimiter[0] ? l->delimiter[0] : 0};
	struct sheet *s = NULL;
	struct want *w;
	const char **key = NULL, **carry = NULL;
	size_t nw = 0, nlab = l->labels.n, nval = l->values.n, hdr = 0;
	long tcol = -1;
	int rc;

	memset(res, 0, sizeof *res);
	*cause = NULL;
	if ((rc = sheet_read(name, data, len, &so, &s, cause)) != 0)
		return rc;
	res->format = xstrdup(s->encoding);
	res->sheet = s->name ? xstrdup(s->name) : NULL;

	/* the columns wanted, in the order messages name them */
	w = xcalloc(nlab + nval + 1, sizeof *w);
	if (l->timestamp_column) {
		w[nw].name = l->timestamp_column;
		snprintf(w[nw].whatbuf, sizeof w[nw].whatbuf, "timestamp_column");
		nw++;
	}
	for (size_t i = 0; i < nlab; i++, nw++) {
		w[nw].name = l->labels.v[i].value;
		snprintf(w[nw].whatbuf, sizeof w[nw].whatbuf, "labels.%s", l->labels.v[i].name);
	}
	for (size_t i = 0; i < nval; i++, nw++) {
		w[nw].name = l->values.v[i].value;
		snprintf(w[nw].whatbuf, sizeof w[nw].whatbuf, "values.%s", l->values.v[i].name);
	}
	for (size_t i = 0; i < nw; i++) {
		w[i].sq = squeezed(w[i].name);
		w[i].what = w[i].whatbuf;
	}

	/* the header: the configured row, or the first naming every column */
	{
		size_t best = 0, bestrow = 0;
		for (size_t r = 0; r < s->nrows; r++) {
			const struct sheet_row *row = &s->rows[r];
			size_t found = 0;
			if (l->header_row > 0 && row->line != (size_t)l->header_row)
				continue;
			for (size_t i = 0; i < nw; i++)
				w[i].col = -1;
			for (size_t c = 0; c < row->n; c++) {
				char *sq;
				if (!row->cells[c][0])
					continue;
				sq = squeezed(row->cells[c]);
				for (size_t i = 0; i < nw; i++) {
					if (strcmp(sq, w[i].sq) != 0)
						continue;
					if (w[i].col >= 0) {
						char a[8], b[8];
						sheet_column_name((size_t)w[i].col, a);
						sheet_column_name(c, b);
						*cause = xasprintf("%s: row %zu: \"%s\" (%s) stands in two "
								   "columns, %s and %s",
								   name, row->line, w[i].name, w[i].what, a, b);
						free(sq);
						rc = PW_EINVAL;
						goto out;
					}
					w[i].col = (long)c;
				}
				free(sq);
			}
			for (size_t i = 0; i < nw; i++)
				found += w[i].col >= 0;
			if (found == nw) {
				hdr = r + 1;
				break;
			}
			if (found > best || (l->header_row > 0 && !bestrow)) {
				best = found;
				bestrow = r + 1;
			}
		}
		if (!hdr) {
			struct pw_buf b;
			pw_buf_init(&b, 0);
			if (l->header_row > 0 && (size_t)l->header_row > (s->nrows ? s->rows[s->nrows - 1].line : 0)) {
				*cause = xasprintf("%s: header_row %lld is past the last row (%zu)", name,
						   (long long)l->header_row, s->nrows);
			} else if (!bestrow) {
				*cause = xasprintf("%s: no row names any configured column (the first: "
						   "\"%s\", %s)",
						   name, nw ? w[0].name : "", nw ? w[0].what : "");
			} else {
				const struct sheet_row *row = &s->rows[bestrow - 1];
				size_t miss = 0;
				/* recompute which are missing in the closest row */
				for (size_t i = 0; i < nw; i++) {
					int has = 0;
					for (size_t c = 0; c < row->n && !has; c++) {
						char *sq = squeezed(row->cells[c]);
						has = strcmp(sq, w[i].sq) == 0;
						free(sq);
					}
					if (!has && miss++ == 0)
						pw_buf_printf(&b, "no column \"%s\" (%s)", w[i].name, w[i].what);
				}
				if (miss > 1)
					pw_buf_printf(&b, " and %zu more", miss - 1);
				pw_buf_puts(&b, "; it has ");
				for (size_t c = 0, k = 0; c < row->n && k < 30; c++)
					if (row->cells[c][0])
						pw_buf_printf(&b, "%s%s", k++ ? ", " : "", row->cells[c]);
				if (l->header_row > 0)
					*cause = xasprintf("%s: header_row %zu does not name every configured "
							   "column: %s", name, row->line, b.data);
				else
					*cause = xasprintf("%s: no row names every configured column; row %zu "
							   "comes closest but has %s", name, row->line, b.data);
			}
			pw_buf_free(&b);
			rc = PW_EINVAL;
			goto out;
		}
	}
	res->header_row = s->rows[hdr - 1].line;
	if (l->timestamp_column)
		tcol = w[0].col;

	/* the rows below it. CSV has no merged cells: Excel saves a merged
	 * cell's value in its first row only, so an empty date or label cell
	 * of a CSV row carries the one of the row above (until a blank row). */
	size_t nkey = nw - nval, v0 = nw - nval, lab0 = nw - nval - nlab;
	int carry_down = strcmp(s->encoding, "xlsx") != 0;
	key = xcalloc(nkey + 1, sizeof *key);
	carry = xcalloc(nkey + 1, sizeof *carry);
	for (size_t r = hdr; r < s->nrows; r++) {
		const struct sheet_row *row = &s->rows[r], *hrow = &s->rows[hdr - 1];
		size_t before = res->rejected_total, ns = 0;
		int64_t ts = now_ms;
		int any = 0, number = 0, labelled = 0;
		if (sheet_row_blank(row))
			memset(carry, 0, (nkey + 1) * sizeof *carry);
		for (size_t i = v0; i < nw; i++) {
			const char *c = cell_of(row, w[i].col);
			double d;
			char *why;
			int blank;
			if (!c[0])
				continue;
			why = read_value(l, c, &d, &blank);
			if (blank)
				continue;
			any = 1;
			if (!why)
				number = 1;
			free(why);
		}
		for (size_t i = lab0; i < v0; i++)
			labelled |= cell_of(row, w[i].col)[0] != '\0';
		/* blank, no values, or a footer's text (填表人： 审核人：) without a label */
		if (!any || (!labelled && !number)) {
			res->skipped++;
			continue;
		}
		res->rows++;
		for (size_t i = 0; i < nkey; i++) {
			key[i] = cell_of(row, w[i].col);
			if (carry_down && !key[i][0] && carry[i])
				key[i] = carry[i];
			if (key[i][0])
				carry[i] = key[i];
		}
		if (tcol >= 0) {
			const char *t = key[0];
			char *why = !t[0] ? xstrdup("empty: the row has no date")
					  : read_date(t, tz, s->date1904, &ts);
			if (why)
				reject(res, row, tcol, hrow, why);
		}
		for (size_t i = 0; i < nlab; i++) {
			const struct want *x = &w[lab0 + i];
			if (!key[lab0 + i][0])
				reject(res, row, x->col, hrow,
				       xasprintf("empty: every sample needs its %s label", l->labels.v[i].name));
			else if (max_label_len && strlen(key[lab0 + i]) > max_label_len)
				reject(res, row, x->col, hrow,
				       xasprintf("the %s label would be %zu bytes long, over the limit "
						 "of %zu (global.label_value_length_limit)",
						 l->labels.v[i].name, strlen(key[lab0 + i]),
						 max_label_len));
		}
		double *vals = xcalloc(nval + 1, sizeof *vals);
		int *blanks = xcalloc(nval + 1, sizeof *blanks);
		for (size_t i = 0; i < nval; i++) {
			const char *c = cell_of(row, w[v0 + i].col);
			char *why;
			vals[i] = NAN;
			blanks[i] = !c[0];
			if (!c[0])
				continue;
			if ((why = read_value(l, c, &vals[i], &blanks[i])))
				reject(res, row, w[v0 + i].col, hrow, why);
		}
		if (res->rejected_total != before) {
			res->rejected_rows++;
			free(vals);
			free(blanks);
			continue;
		}
		res->accepted++;
		for (size_t i = 0; i < nval; i++) {
			struct pw_label ls[PT_MAX_LABELS + 1];
			size_t nl = 1;
			if (blanks[i])
				continue;
			ls[0].name = "__name__";
			ls[0].value = l->values.v[i].name;
			for (size_t k = 0; k < nlab && nl < PT_MAX_LABELS; k++) {
				ls[nl].name = l->labels.v[k].name;
				ls[nl++].value = key[lab0 + k];
			}
			if ((rc = cb(ctx, ls, nl, ts, vals[i])) != 0) {
				free(vals);
				free(blanks);
				goto out;
			}
			ns++;
		}
		res->samples += ns;
		free(vals);
		free(blanks);
	}
	rc = 0;
out:
	free(key);
	free(carry);
	for (size_t i = 0; i < nw; i++)
		free(w[i].sq);
	free(w);
	sheet_free(s);
	return rc;
}

void ledger_result_free(struct ledger_result *res)
{
	for (size_t i = 0; i < res->nrejected; i++) {
		free(res->rejected[i].header);
		free(res->rejected[i].value);
		free(res->rejected[i].error);
	}
	free(res->rejected);
	free(res->format);
	free(res->sheet);
	memset(res, 0, sizeof *res);
}

char *ledger_reject_text(const char *name, const struct ledger_reject *j)
{
	return xasprintf("%s%srow %zu, column %s \"%s\": %s", name ? name : "", name ? ": " : "",
			 j->row, j->column, j->header, j->error);
}

int ledger_scrape(const struct conf_csv *l, const char *name, const void *data, size_t len,
		  const struct pw_tz *tz, int64_t now_ms, jsonmap_sample_cb cb, void *ctx,
		  size_t *nsamples, char **cause)
{
	struct ledger_result res;
	int rc = ledger_apply(l, name, data, len, tz, now_ms, cb, ctx, &res, cause);
	*nsamples = res.samples;
	if (rc == 0 && res.rejected_rows) {
		struct pw_buf b;
		pw_buf_init(&b, 0);
		pw_buf_printf(&b, "%zu row%s rejected, nothing stored: ", res.rejected_rows,
			      res.rejected_rows == 1 ? "" : "s");
		for (size_t i = 0; i < res.nrejected && i < 3; i++) {
			char *t = ledger_reject_text(NULL, &res.rejected[i]);
			pw_buf_printf(&b, "%s%s", i ? "; " : "", t);
			free(t);
		}
		if (res.rejected_total > 3)
			pw_buf_puts(&b, "; ...");
		*cause = pw_buf_take(&b);
		*nsamples = 0;
		rc = PW_EINVAL;
	}
	ledger_result_free(&res);
	return rc;
}

/* ---- uploads and the command: one batch into the store ------------------------------- */

struct import_ctx {
	struct store_batch *b;
	const struct conf_ledger *l;
	char *err;
};

static int import_sample(void *vctx, const struct pw_label *l, size_t n, int64_t ts, double v)
{
	struct import_ctx *c = vctx;
	struct pw_label ls[PT_MAX_LABELS + 8];
	char *renamed[PT_MAX_LABELS + 1];
	size_t nl = 0, nr = 0;
	int rc;
	/* as a target's samples: a column label named like a fixed one is exported_ */
	for (size_t i = 0; i < n && nl < PT_MAX_LABELS; i++) {
		int clash = strcmp(l[i].name, "job") == 0;
		for (size_t k = 0; k < c->l->labels.n && !clash; k++)
			clash = strcmp(l[i].name, c->l->labels.v[k].name) == 0;
		ls[nl] = l[i];
		if (clash && i > 0)
			ls[nl].name = renamed[nr++] = xasprintf("exported_%s", l[i].name);
		nl++;
	}
	ls[nl].name = "job";
	ls[nl++].value = c->l->name;
	for (size_t k = 0; k < c->l->labels.n && nl < PT_MAX_LABELS + 7; k++) {
		ls[nl].name = c->l->labels.v[k].name;
		ls[nl++].value = c->l->labels.v[k].value;
	}
	rc = store_batch_put(c->b, ls, nl, ts, v);
	if (rc && !c->err)
		c->err = xstrdup(store_batch_error(c->b) ? store_batch_error(c->b) : pw_strerror(rc));
	for (size_t i = 0; i < nr; i++)
		free(renamed[i]);
	return rc;
}

int ledger_import(struct store *s, const struct conf_ledger *l, const char *file, const void *data,
		  size_t len, bool keep_good, int64_t now_ms, size_t max_label_len,
		  struct ledger_result *res, bool *stored, char **cause)
{
	struct import_ctx c = {store_batch_begin(s), l, NULL};
	struct pw_tz *tz = NULL;
	int rc;

	*stored = false;
	*cause = NULL;
	memset(res, 0, sizeof *res);
	if (l->timezone && (rc = pw_tz_load(l->timezone, &tz, cause)) != 0) {
		store_batch_abort(c.b);
		return rc;
	}
	rc = ledger_apply_limited(&l->ledger, file, data, len, tz, now_ms, max_label_len,
				  import_sample, &c, res, cause);
	pw_tz_free(tz);
	if (rc != 0) {
		store_batch_abort(c.b);
		if (c.err) {
			free(*cause);
			*cause = xasprintf("%s: %s; nothing was stored", file, c.err);
			free(c.err);
			return PW_ESTORE;
		}
		return rc;
	}
	if (res->rejected_rows && !keep_good) {
		store_batch_abort(c.b);
		return 0;
	}
	for (size_t k = 0; k < l->ledger.values.n; k++) {
		char *help = xasprintf("Column \"%s\" of the ledger %s.", l->ledger.values.v[k].value,
				       l->name);
		store_batch_put_meta(c.b, l->ledger.values.v[k].name, STORE_TYPE_GAUGE, help, NULL);
		free(help);
	}
	if ((rc = store_batch_commit(c.b, cause)) != 0) {
		char *m = xasprintf("%s: the store refused the batch: %s; nothing was stored", file,
				    *cause ? *cause : pw_strerror(rc));
		free(*cause);
		*cause = m;
		return rc;
	}
	*stored = true;
	return 0;
}
