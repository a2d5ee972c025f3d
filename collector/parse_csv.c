/*
 * parse_csv.c — ledgers as CSV (RFC 4180: quoted fields, "" inside quotes,
 * CRLF or LF): a header row names the columns; configured columns become
 * labels, values and the timestamp. Pure; errors name line, column and
 * the offending text. Fuzzed.
 */
#include "collector_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct row {
	char **f;
	size_t n, cap;
};

static void row_clear(struct row *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->f[i]);
	r->n = 0;
}

/* Read one record starting at *pp; returns 1 with a row, 0 at the end,
 * PW_EINVAL on an unterminated quote. */
static int read_row(const char **pp, const char *end, char delim, struct row *r, size_t *line)
{
	const char *p = *pp;
	struct pw_buf f;

	row_clear(r);
	if (p >= end)
		return 0;
	pw_buf_init(&f, 0);
	for (;;) {
		pw_buf_reset(&f);
		pw_buf_puts(&f, "");
		if (p < end && *p == '"') {
			p++;
			for (;;) {
				if (p >= end) {
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
				if (*p == '\n')
					(*line)++;
				pw_buf_putc(&f, *p++);
			}
		} else {
			const char *s = p;
			while (p < end && *p != delim && *p != '\n' && *p != '\r')
				p++;
			pw_buf_append(&f, s, (size_t)(p - s));
		}
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 16;
			r->f = xreallocarray(r->f, r->cap, sizeof *r->f);
		}
		r->f[r->n++] = xstrdup(f.data);
		if (p < end && *p == delim) {
			p++;
			continue;
		}
		if (p < end && *p == '\r')
			p++;
		if (p < end && *p == '\n')
			p++;
		break;
	}
	pw_buf_free(&f);
	(*line)++;
	*pp = p;
	return 1;
}

static long col_index(const struct row *hdr, const char *name)
{
	for (size_t i = 0; i < hdr->n; i++)
		if (strcmp(hdr->f[i], name) == 0)
			return (long)i;
	return -1;
}

int csv_apply(const struct conf_csv *csv, const char *body, size_t len, const struct pw_tz *tz,
	      int64_t now_ms, jsonmap_sample_cb cb, void *ctx, size_t *nsamples, char **cause)
{
	const char *p = body, *end = body + len;
	char delim = csv->delimiter && csv->delimiter[0] ? csv->delimiter[0] : ',';
	struct row hdr = {0}, r = {0};
	long *lcol = NULL, *vcol = NULL, tcol = -1;
	size_t line = 0;
	int rc;

	*nsamples = 0;
	/* a UTF-8 byte order mark, as spreadsheet exports write */
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	rc = read_row(&p, end, delim, &hdr, &line);
	if (rc <= 0) {
		*cause = xstrdup(rc == 0 ? "empty CSV: no header row" : "line 1: unterminated quote");
		rc = PW_EINVAL;
		goto out;
	}
	lcol = xcalloc(csv->labels.n + 1, sizeof *lcol);
	vcol = xcalloc(csv->values.n + 1, sizeof *vcol);
	for (size_t i = 0; i < csv->labels.n; i++) {
		if ((lcol[i] = col_index(&hdr, csv->labels.v[i].value)) < 0) {
			*cause = xasprintf("line 1: the header has no column \"%s\" (for label %s)",
					   csv->labels.v[i].value, csv->labels.v[i].name);
			rc = PW_EINVAL;
			goto out;
		}
	}
	for (size_t i = 0; i < csv->values.n; i++) {
		if ((vcol[i] = col_index(&hdr, csv->values.v[i].value)) < 0) {
			*cause = xasprintf("line 1: the header has no column \"%s\" (for metric %s)",
					   csv->values.v[i].value, csv->values.v[i].name);
			rc = PW_EINVAL;
			goto out;
		}
	}
	if (csv->timestamp_column && (tcol = col_index(&hdr, csv->timestamp_column)) < 0) {
		*cause = xasprintf("line 1: the header has no column \"%s\" (timestamp_column)",
				   csv->timestamp_column);
		rc = PW_EINVAL;
		goto out;
	}
	for (;;) {
		size_t row_line = line + 1;
		int64_t ts = now_ms;
		rc = read_row(&p, end, delim, &r, &line);
		if (rc == 0)
			break;
		if (rc < 0) {
			*cause = xasprintf("line %zu: unterminated quote", row_line);
			goto out;
		}
		if (r.n == 1 && r.f[0][0] == '\0')
			continue; /* blank line */
		if (r.n != hdr.n) {
			*cause = xasprintf("line %zu: %zu fields, the header has %zu", row_line, r.n, hdr.n);
			rc = PW_EINVAL;
			goto out;
		}
		if (tcol >= 0 && r.f[tcol][0]) {
			const char *t = r.f[tcol], *e;
			double d;
			if (pw_parse_double(t, t + strlen(t), &d, &e) == 0 && !*e && isfinite(d))
				ts = fabs(d) < 1e11 ? (int64_t)llround(d * 1000) : (int64_t)llround(d);
			else if (pw_parse_time(t, tz, &ts) != 0) {
				char esc[96];
				pw_esc(esc, sizeof esc, t, strlen(t));
				*cause = xasprintf("line %zu, column \"%s\": expected a date or time, found \"%s\"",
						   row_line, csv->timestamp_column, esc);
				rc = PW_EINVAL;
				goto out;
			}
		}
		for (size_t i = 0; i < csv->values.n; i++) {
			struct pw_label ls[PT_MAX_LABELS + 1];
			const char *cell = r.f[vcol[i]], *e;
			size_t nl = 1, cl = strlen(cell);
			double v;
			bool bad, range;
			while (cl && cell[cl - 1] == ' ')
				cl--;
			while (*cell == ' ')
				cell++, cl--;
			if (cl == 0)
				continue; /* an empty cell is no sample */
			bad = pw_parse_double(cell, cell + cl, &v, &e) != 0 || e != cell + cl;
			range = !bad && collector_overflow(cell, cl, v);
			if (bad || range) {
				char esc[96];
				pw_esc(esc, sizeof esc, cell, cl);
				*cause = xasprintf("line %zu, column \"%s\": %s \"%s\"", row_line,
						   csv->values.v[i].value,
						   range ? "number out of range:" : "expected a number, found",
						   esc);
				rc = PW_EINVAL;
				goto out;
			}
			ls[0].name = "__name__";
			ls[0].value = csv->values.v[i].name;
			for (size_t k = 0; k < csv->labels.n && nl < PT_MAX_LABELS; k++) {
				if (!r.f[lcol[k]][0])
					continue;
				ls[nl].name = csv->labels.v[k].name;
				ls[nl++].value = r.f[lcol[k]];
			}
			if ((rc = cb(ctx, ls, nl, ts, v)) != 0)
				goto out;
			(*nsamples)++;
		}
	}
	rc = 0;
out:
	row_clear(&hdr);
	row_clear(&r);
	free(hdr.f);
	free(r.f);
	free(lcol);
	free(vcol);
	return rc;
}
