/*
 * parse_promtext.c — the Prometheus text exposition format (0.0.4) with
 * optional millisecond timestamps: bytes in, samples and metadata out
 * through callbacks. Pure: no I/O, no store. Every error names the line,
 * the column (in characters) and what was expected. Fuzzed.
 */
#include "collector_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lbl {
	size_t name_off, value_off;
};

struct parser {
	const char *buf, *end, *p, *line_start;
	size_t line;
	struct pt_error *err;
	struct pw_buf scratch;
	struct lbl lbls[PT_MAX_LABELS + 1];
	size_t nl;
};

static size_t utf8_cols(const char *a, const char *b)
{
	size_t n = 0;
	for (; a < b; a++)
		if (((unsigned char)*a & 0xC0) != 0x80)
			n++;
	return n;
}

void pt_error_set(struct pt_error *err, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	free(err->msg);
	err->msg = m ? m : xstrdup("out of memory");
}

void pt_error_clear(struct pt_error *err)
{
	free(err->msg);
	memset(err, 0, sizeof *err);
}

static int fail(struct parser *ps, const char *at, const char *fmt, const char *arg)
{
	ps->err->line = ps->line;
	ps->err->col = utf8_cols(ps->line_start, at) + 1;
	pt_error_set(ps->err, fmt, arg ? arg : "");
	return PW_EINVAL;
}

static bool is_ws(char c) { return c == ' ' || c == '\t'; }

static void pt_skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && is_ws(*ps->p))
		ps->p++;
}


/* Read a metric (colon) or label name; store it NUL-terminated in
 * scratch; returns its offset or SIZE_MAX. */
static size_t read_name(struct parser *ps, bool colon)
{
	const char *s = ps->p;
	size_t off = ps->scratch.len;

	if (ps->p >= ps->end || !pw_name_char((unsigned char)*ps->p, true, colon))
		return SIZE_MAX;
	while (ps->p < ps->end && pw_name_char((unsigned char)*ps->p, false, colon))
		ps->p++;
	pw_buf_append(&ps->scratch, s, (size_t)(ps->p - s));
	pw_buf_putc(&ps->scratch, '\0');
	return off;
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t len;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
		else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
		else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
		else return false;
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

/* A quoted label value with \\ \" \n escapes. */
static int read_value(struct parser *ps, size_t *off)
{
	const char *open = ps->p;
	size_t start = ps->scratch.len;

	if (ps->p >= ps->end || *ps->p != '"')
		return fail(ps, ps->p, "expected '\"' to open the label value", NULL);
	ps->p++;
	for (;;) {
		const char *q = ps->p;
		while (q < ps->end && *q != '"' && *q != '\\' && *q != '\n' && *q != '\0')
			q++;
		pw_buf_append(&ps->scratch, ps->p, (size_t)(q - ps->p));
		ps->p = q;
		if (q >= ps->end || *q == '\n')
			return fail(ps, open, "label value is not closed with '\"'", NULL);
		if (*q == '\0')
			return fail(ps, q, "NUL byte in label value", NULL);
		if (*q == '"')
			break;
		/* backslash */
		if (q + 1 >= ps->end)
			return fail(ps, q, "label value is not closed with '\"'", NULL);
		switch (q[1]) {
		case '\\': pw_buf_putc(&ps->scratch, '\\'); break;
		case '"': pw_buf_putc(&ps->scratch, '"'); break;
		case 'n': pw_buf_putc(&ps->scratch, '\n'); break;
		default:
			return fail(ps, q, "invalid escape sequence in label value "
					   "(expected \\\\, \\\" or \\n)", NULL);
		}
		ps->p = q + 2;
	}
	if (!valid_utf8((const unsigned char *)ps->scratch.data + start, ps->scratch.len - start))
		return fail(ps, open + 1, "label value is not valid UTF-8", NULL);
	ps->p++; /* closing quote */
	pw_buf_putc(&ps->scratch, '\0');
	*off = start;
	return 0;
}

static int pt_parse_labels(struct parser *ps)
{
	ps->p++; /* '{' */
	for (;;) {
		size_t noff, voff;
		const char *at;
		int rc;

		pt_skip_ws(ps);
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return 0;
		}
		at = ps->p;
		if ((noff = read_name(ps, false)) == SIZE_MAX)
			return fail(ps, at, "expected a label name or '}'", NULL);
		if (ps->nl >= PT_MAX_LABELS)
			return fail(ps, at, "too many labels (at most %s)", "256");
		for (size_t i = 1; i < ps->nl; i++)
			if (strcmp(ps->scratch.data + ps->lbls[i].name_off, ps->scratch.data + noff) == 0)
				return fail(ps, at, "duplicate label name \"%s\"",
					    ps->scratch.data + noff);
		if (strcmp(ps->scratch.data + noff, "__name__") == 0)
			return fail(ps, at, "label \"__name__\" inside braces is not supported; "
					    "put the metric name first", NULL);
		pt_skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '=')
			return fail(ps, ps->p, "expected '=' after the label name", NULL);
		ps->p++;
		pt_skip_ws(ps);
		if ((rc = read_value(ps, &voff)) != 0)
			return rc;
		ps->lbls[ps->nl].name_off = noff;
		ps->lbls[ps->nl].value_off = voff;
		ps->nl++;
		pt_skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return 0;
		}
		return fail(ps, ps->p, "expected ',' or '}' after the label value", NULL);
	}
}

static int parse_int64(const char *s, const char *lim, int64_t *out, const char **end)
{
	const char *p = s;
	bool neg = false;
	uint64_t v = 0;

	if (p < lim && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	if (p >= lim || *p < '0' || *p > '9')
		return PW_EINVAL;
	while (p < lim && *p >= '0' && *p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return PW_EINVAL;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	if (v > (uint64_t)INT64_MAX + neg)
		return PW_EINVAL;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	*end = p;
	return 0;
}

static const char *line_end(struct parser *ps)
{
	const char *e = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
	return e ? e : ps->end;
}

/* "# HELP name text", "# TYPE name type", "# UNIT name unit"; other
 * comments are ignored. */
static int parse_comment(struct parser *ps, const struct pt_handler *h, void *ctx)
{
	const char *eol = line_end(ps), *kw;
	enum pt_meta_kind kind;
	size_t moff, toff;
	int rc;

	ps->p++; /* '#' */
	pt_skip_ws(ps);
	kw = ps->p;
	if (eol - kw >= 4 && memcmp(kw, "HELP", 4) == 0)
		kind = PT_META_HELP;
	else if (eol - kw >= 4 && memcmp(kw, "TYPE", 4) == 0)
		kind = PT_META_TYPE;
	else if (eol - kw >= 4 && memcmp(kw, "UNIT", 4) == 0)
		kind = PT_META_UNIT;
	else
		goto skip;
	ps->p += 4;
	if (ps->p < eol && !is_ws(*ps->p))
		goto skip; /* "# HELPER ..." is a comment */
	pt_skip_ws(ps);
	{
		const char *at = ps->p;
		if ((moff = read_name(ps, true)) == SIZE_MAX)
			return fail(ps, at, "expected a metric name after # %s",
				    kind == PT_META_HELP ? "HELP" : kind == PT_META_TYPE ? "TYPE" : "UNIT");
	}
	if (ps->p < eol && !is_ws(*ps->p) && *ps->p != '\r')
		return fail(ps, ps->p, "unexpected character after the metric name", NULL);
	pt_skip_ws(ps);
	toff = ps->scratch.len;
	if (kind == PT_META_HELP) {
		const char *q = ps->p;
		while (q < eol) {
			if (*q == '\\' && q + 1 < eol && (q[1] == '\\' || q[1] == 'n')) {
				pw_buf_putc(&ps->scratch, q[1] == 'n' ? '\n' : '\\');
				q += 2;
			} else {
				pw_buf_putc(&ps->scratch, *q++);
			}
		}
		if (ps->scratch.len > toff && ps->scratch.data[ps->scratch.len - 1] == '\r')
			ps->scratch.len--;
		if (!valid_utf8((const unsigned char *)ps->scratch.data + toff,
				ps->scratch.len - toff))
			return fail(ps, ps->p, "HELP text is not valid UTF-8", NULL);
	} else {
		const char *q = ps->p, *e = eol;
		while (e > q && (is_ws(e[-1]) || e[-1] == '\r'))
			e--;
		pw_buf_append(&ps->scratch, q, (size_t)(e - q));
		if (kind == PT_META_TYPE) {
			enum store_metric_type t;
			if (store_type_parse(q, (size_t)(e - q), &t) != 0)
				return fail(ps, q, "unknown metric type (expected counter, gauge, "
						   "histogram, summary or untyped)", NULL);
		}
	}
	pw_buf_putc(&ps->scratch, '\0');
	if (h && h->meta) {
		pt_error_clear(ps->err);
		ps->err->line = ps->line;
		ps->err->col = 1;
		rc = h->meta(ctx, kind, ps->scratch.data + moff, ps->scratch.data + toff, ps->err);
		if (rc)
			return rc;
	}
skip:
	ps->p = eol;
	return 0;
}

/* The length of the series text a sample line starts with, as parse_sample
 * reads it: a name, and when blanks and '{' follow, up to the matching '}'
 * (quoted values skipped with their escapes). 0 when the line cannot be a
 * sample (the full parse then says why). Nothing is checked here beyond
 * where the text ends: a handler's lookup only matches it against texts
 * that parsed before. */
static size_t series_span(const char *s, const char *end)
{
	const char *p = s, *q;
	if (p >= end || !pw_name_char((unsigned char)*p, true, true))
		return 0;
	while (p < end && pw_name_char((unsigned char)*p, false, true))
		p++;
	for (q = p; q < end && is_ws(*q); q++)
		;
	if (q >= end || *q != '{')
		return (size_t)(p - s);
	for (q++;;) {
		while (q < end && *q != '"' && *q != '}' && *q != '\n')
			q++;
		if (q >= end || *q == '\n')
			return 0;
		if (*q == '}')
			return (size_t)(q + 1 - s);
		for (q++; q < end && *q != '"' && *q != '\n'; q++)
			if (*q == '\\' && ++q >= end)
				return 0;
		if (q >= end || *q == '\n')
			return 0;
		q++; /* closing quote */
	}
}

static int parse_sample(struct parser *ps, const struct pt_handler *h, void *ctx)
{
	struct pw_label labels[PT_MAX_LABELS + 1];
	const char *at = ps->p, *end;
	const void *known = NULL;
	size_t moff = 0;
	double v;
	int64_t ts = 0;
	bool has_ts = false;
	int rc;

	if (h && h->lookup && h->known) {
		size_t n = series_span(ps->p, ps->end);
		known = h->lookup(ctx, ps->p, n);
		if (known && n == 0)
			known = NULL; /* no text stands for nothing */
		if (known) {
			bool braces = ps->p[n - 1] == '}';
			const char *after_name = ps->p += n;
			pt_skip_ws(ps);
			if (ps->p == after_name && ps->p < ps->end && *ps->p != '\n')
				return fail(ps, ps->p, "expected a space and the value after the %s",
					    braces ? "labels" : "metric name");
			goto value;
		}
	}
	ps->nl = 1;
	if ((moff = read_name(ps, true)) == SIZE_MAX)
		return fail(ps, at, "expected a metric name", NULL);
	ps->lbls[0].name_off = SIZE_MAX;
	ps->lbls[0].value_off = moff;
	{
		const char *after_name = ps->p;
		bool braces;
		pt_skip_ws(ps);
		braces = ps->p < ps->end && *ps->p == '{';
		if (braces) {
			if ((rc = pt_parse_labels(ps)) != 0)
				return rc;
			after_name = ps->p;
			pt_skip_ws(ps);
		}
		if (ps->p == after_name && ps->p < ps->end && *ps->p != '\n')
			return fail(ps, ps->p, "expected a space and the value after the %s",
				    braces ? "labels" : "metric name");
	}
value:
	at = ps->p;
	if (ps->p >= ps->end || *ps->p == '\n' || *ps->p == '\r')
		return fail(ps, at, "expected a value", NULL);
	if (pw_parse_double(ps->p, ps->end, &v, &end) != 0)
		return fail(ps, at, "expected a float value (such as 42, -1.5e3, NaN, +Inf)",
			    NULL);
	if (collector_overflow(at, (size_t)(end - at), v)) {
		char num[96];
		pw_esc(num, sizeof num, at, (size_t)(end - at));
		return fail(ps, at, "number out of range: \"%s\" (larger than a 64-bit float; "
				    "write +Inf if that is meant)", num);
	}
	ps->p = end;
	pt_skip_ws(ps);
	if (ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r') {
		at = ps->p;
		if (parse_int64(ps->p, ps->end, &ts, &end) != 0 ||
		    (end < ps->end && !is_ws(*end) && *end != '\n' && *end != '\r'))
			return fail(ps, at, "expected a timestamp in milliseconds (an integer)",
				    NULL);
		ps->p = end;
		has_ts = true;
		pt_skip_ws(ps);
	}
	if (ps->p < ps->end && *ps->p == '\r')
		ps->p++;
	if (ps->p < ps->end && *ps->p != '\n')
		return fail(ps, ps->p, "unexpected text after the %s", has_ts ? "timestamp" : "value");
	if (known) {
		pt_error_clear(ps->err);
		ps->err->line = ps->line;
		ps->err->col = 1;
		return h->known(ctx, known, v, has_ts, ts, ps->err);
	}
	labels[0].name = "__name__";
	labels[0].value = ps->scratch.data + moff;
	for (size_t i = 1; i < ps->nl; i++) {
		labels[i].name = ps->scratch.data + ps->lbls[i].name_off;
		labels[i].value = ps->scratch.data + ps->lbls[i].value_off;
	}
	if (h && h->sample) {
		pt_error_clear(ps->err);
		ps->err->line = ps->line;
		ps->err->col = 1;
		rc = h->sample(ctx, labels, ps->nl, v, has_ts, ts, ps->err);
		if (rc)
			return rc;
	}
	return 0;
}

int promtext_parse(const char *buf, size_t len, const struct pt_handler *h, void *ctx,
		   struct pt_error *err)
{
	struct parser ps;
	int rc = 0;

	memset(&ps, 0, sizeof ps);
	ps.buf = ps.p = buf;
	ps.end = buf + len;
	ps.err = err;
	memset(err, 0, sizeof *err);
	pw_buf_init(&ps.scratch, 0);
	while (ps.p < ps.end) {
		ps.line++;
		ps.line_start = ps.p;
		pw_buf_reset(&ps.scratch);
		pt_skip_ws(&ps);
		if (ps.p >= ps.end)
			break;
		if (*ps.p == '\n' || *ps.p == '\r') {
			/* blank line */
		} else if (*ps.p == '#') {
			rc = parse_comment(&ps, h, ctx);
		} else {
			rc = parse_sample(&ps, h, ctx);
		}
		if (rc)
			break;
		ps.p = line_end(&ps);
		if (ps.p < ps.end)
			ps.p++; /* '\n' */
	}
	pw_buf_free(&ps.scratch);
	return rc;
}
