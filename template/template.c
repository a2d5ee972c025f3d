/*
 * template.c — the part of Go's text/template that alert labels and
 * annotations use, with Prometheus' functions: {{ $labels.city }},
 * {{ $value }}, {{ $externalLabels.x }}, {{ .Labels.x }}, {{ .Value }},
 * humanize, humanize1024, humanizePercentage, humanizeDuration, printf,
 * pipelines ({{ $value | humanize }}), and {{- -}} trimming. An error
 * reads as Prometheus writes it into the annotation: <error expanding
 * template: ...>.
 */
#include "template.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Go's %.4g for humanize: C's, but NaN and Inf spelt as Go does */
static void g4(struct pw_buf *b, double v, const char *suffix)
{
	if (isnan(v))
		pw_buf_printf(b, "NaN%s", suffix);
	else if (isinf(v))
		pw_buf_printf(b, "%sInf%s", v > 0 ? "+" : "-", suffix);
	else
		pw_buf_printf(b, "%.4g%s", v, suffix);
}

static void humanize(struct pw_buf *b, double v, bool k1024)
{
	static const char *const big[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
	static const char *const big2[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
	static const char *const small[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
	const char *prefix = "";
	double base = k1024 ? 1024 : 1000;
	if (v == 0 || isnan(v) || isinf(v)) {
		g4(b, v, "");
		return;
	}
	if (fabs(v) >= 1 || k1024) {
		for (int i = 0; i < 8 && fabs(v) >= base; i++) {
			prefix = k1024 ? big2[i] : big[i];
			v /= base;
		}
	} else {
		for (int i = 0; i < 8 && fabs(v) < 1; i++) {
			prefix = small[i];
			v *= 1000;
		}
	}
	g4(b, v, prefix);
}

static void humanize_duration(struct pw_buf *b, double v)
{
	if (isnan(v) || isinf(v) || fabs(v) >= 9e15) {
		g4(b, v, "");
		return;
	}
	if (v == 0) {
		pw_buf_puts(b, "0s");
		return;
	}
	if (fabs(v) >= 1) {
		const char *sign = v < 0 ? "-" : "";
		double a = fabs(v);
		long long secs = (long long)a, d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60;
		double s = fmod(a, 60);
		pw_buf_puts(b, sign);
		if (d)
			pw_buf_printf(b, "%lldd %lldh %lldm %llds", d, h, m, (long long)s);
		else if (h)
			pw_buf_printf(b, "%lldh %lldm %llds", h, m, (long long)s);
		else if (m)
			pw_buf_printf(b, "%lldm %llds", m, (long long)s);
		else
			pw_buf_printf(b, "%.4gs", s);
		return;
	}
	{
		const char *prefix = "";
		static const char *const small[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
		for (int i = 0; i < 8 && fabs(v) < 1; i++) {
			prefix = small[i];
			v *= 1000;
		}
		pw_buf_printf(b, "%.4g%ss", v, prefix);
	}
}

/* ---- the template machine ---------------------------------------------------------- */

enum vk { V_NONE, V_STR, V_NUM };
struct tv {
	enum vk k;
	const char *s;
	double n;
	char buf[64];
};

struct tctx {
	const struct template_data *d;
	const char *err;
	char errbuf[200];
	char **mem; /* strings made while expanding, freed at the end */
	size_t nmem, capmem;
	size_t bytes; /* kept, and written out: TEMPLATE_MAX_BYTES */
	bool check;   /* template_check: only errors that do not depend on the data */
};

/* n more bytes for the expansion: false (and the error) past the limit */
static bool spend(struct tctx *c, size_t n)
{
	if (n > TEMPLATE_MAX_BYTES - c->bytes) {
		snprintf(c->errbuf, sizeof c->errbuf, "expansion larger than %d bytes",
			 TEMPLATE_MAX_BYTES);
		c->err = c->errbuf;
		return false;
	}
	c->bytes += n;
	return true;
}

/* a string that lives until the expansion ends */
static char *keep(struct tctx *c, const char *s, size_t n)
{
	char *p;
	if (!spend(c, n + 1))
		n = 0; /* the error ends the expansion; this stays valid */
	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	if (c->nmem == c->capmem) {
		c->capmem = c->capmem ? 2 * c->capmem : 16;
		c->mem = xreallocarray(c->mem, c->capmem, sizeof *c->mem);
	}
	return c->mem[c->nmem++] = p;
}

static const char *tmpl_skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static bool ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static const char *lookup(const struct pw_label *l, size_t n, const char *name, size_t nl)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(l[i].name) == nl && memcmp(l[i].name, name, nl) == 0)
			return l[i].value;
	return NULL;
}

/* one operand: $value, $labels.x, .Labels.x, "string", number */
static const char *operand(struct tctx *c, const char *p, const char *e, struct tv *out)
{
	const struct template_data *d = c->d;
	out->k = V_NONE;
	p = tmpl_skip_ws(p, e);
	if (p < e && (*p == '"' || *p == '`')) {
		char q = *p++;
		const char *s = p;
		while (p < e && *p != q)
			p += (*p == '\\' && q == '"' && p + 1 < e) ? 2 : 1;
		if (p >= e) {
			c->err = "unterminated quoted string";
			return e;
		}
		{
			size_t n = (size_t)(p - s), w = 0;
			char *t = keep(c, s, n);
			for (size_t i = 0; i < n; i++) {
				if (q == '"' && s[i] == '\\' && i + 1 < n) {
					i++;
					t[w++] = s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : s[i];
				} else {
					t[w++] = s[i];
				}
			}
			t[w] = '\0';
			out->k = V_STR;
			out->s = t;
		}
		return p + 1;
	}
	if (p < e && ((*p >= '0' && *p <= '9') || *p == '-')) {
		char *end;
		out->n = strtod(p, &end);
		out->k = V_NUM;
		return end;
	}
	{
		const char *s = p;
		const struct pw_label *src = NULL;
		size_t nsrc = 0;
		while (p < e && (ident_char(*p) || *p == '$' || *p == '.'))
			p++;
		size_t n = (size_t)(p - s);
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(s, lit, n) == 0)
		if (IS("$value") || IS(".Value")) {
			out->k = V_NUM;
			out->n = d->value;
			return p;
		}
		if (n > 8 && memcmp(s, "$labels.", 8) == 0) {
			src = d->labels, nsrc = d->nlabels, s += 8, n -= 8;
		} else if (n > 8 && memcmp(s, ".Labels.", 8) == 0) {
			src = d->labels, nsrc = d->nlabels, s += 8, n -= 8;
		} else if (n > 5 && memcmp(s, "$kpi.", 5) == 0) {
			src = d->kpi, nsrc = d->nkpi, s += 5, n -= 5;
		} else if (n > 16 && memcmp(s, "$externalLabels.", 16) == 0) {
			src = d->ext, nsrc = d->next, s += 16, n -= 16;
		} else if (n > 16 && memcmp(s, ".ExternalLabels.", 16) == 0) {
			src = d->ext, nsrc = d->next, s += 16, n -= 16;
		} else {
			for (size_t m = 0; m < d->nmaps; m++) {
				size_t pl = strlen(d->maps[m].prefix);
				if (n > pl && memcmp(s, d->maps[m].prefix, pl) == 0) {
					const char *v = lookup(d->maps[m].v, d->maps[m].n, s + pl, n - pl);
					out->k = V_STR;
					out->s = v ? v : "";
					return p;
				}
			}
			if (d->nfields) {
				const char *v = lookup(d->fields, d->nfields, s, n);
				if (v) {
					out->k = V_STR;
					out->s = v;
					return p;
				}
			}
			snprintf(c->errbuf, sizeof c->errbuf, "undefined variable or field \"%.*s\"",
				 (int)(n > 60 ? 60 : n), s);
			c->err = c->errbuf;
			return e;
		}
		const char *v = lookup(src, nsrc, s, n);
		out->k = V_STR;
		out->s = v ? v : "";
		return p;
#undef IS
	}
}

static void as_text(struct tctx *c, const struct tv *v, struct pw_buf *b)
{
	char num[400];
	(void)c;
	if (v->k == V_STR)
		pw_buf_puts(b, v->s);
	else if (v->k == V_NUM) {
		pw_fmt_float(num, sizeof num, v->n, PW_FMT_GO_V);
		pw_buf_puts(b, num);
	}
}

static bool as_num(struct tctx *c, const struct tv *v, double *out)
{
	if (v->k == V_NUM) {
		*out = v->n;
		return true;
	}
	if (v->k == V_STR) {
		if (pw_number(v->s, out))
			return true;
		if (c->check) { /* a label's value: a number or not, when it comes */
			*out = 0;
			return true;
		}
		snprintf(c->errbuf, sizeof c->errbuf, "strconv.ParseFloat: parsing \"%.60s\": invalid syntax",
			 v->s);
		c->err = c->errbuf;
	}
	return false;
}

/* printf with Go's common verbs on the given operands */
static void go_printf(struct tctx *c, const char *f, const struct tv *args, size_t na,
		      struct pw_buf *b)
{
	size_t ai = 0;
	for (const char *p = f; *p; p++) {
		char spec[32];
		size_t sl = 0;
		if (*p != '%') {
			pw_buf_putc(b, *p);
			continue;
		}
		if (p[1] == '%') {
			pw_buf_putc(b, '%');
			p++;
			continue;
		}
		spec[sl++] = '%';
		p++;
		{
			int run = 0;
			while (*p && strchr("+-# 0123456789.", *p) && sl < 24) {
				run = *p >= '0' && *p <= '9' ? run + 1 : 0;
				if (run > 4) { /* widths past 9999: an annotation, not a megabyte */
					c->err = "printf width or precision over 9999";
					return;
				}
				spec[sl++] = *p++;
			}
		}
		if (!*p)
			break;
		if (ai >= na) {
			pw_buf_printf(b, "%%!%c(MISSING)", *p);
			continue;
		}
		const struct tv *a = &args[ai++];
		switch (*p) {
		case 'f': case 'e': case 'g': case 'E': case 'G': {
			if (a->k != V_NUM) {
				/* Go: a wrong type prints as %!f(string=...), the
				 * precision cutting the string to that many characters */
				const char *str = a->k == V_STR ? a->s : "", *dot;
				spec[sl] = '\0';
				dot = strchr(spec, '.');
				size_t len = strlen(str);
				if (dot) {
					long prec = strtol(dot + 1, NULL, 10);
					size_t bytes = 0;
					for (long ch = 0; ch < prec && bytes < len; ch++)
						do
							bytes++;
						while (bytes < len && ((unsigned char)str[bytes] & 0xC0) == 0x80);
					len = bytes;
				}
				pw_buf_printf(b, "%%!%c(string=%.*s)", *p, (int)len, str);
				break;
			}
			spec[sl++] = *p;
			spec[sl] = '\0';
			pw_buf_printf(b, spec, a->n);
			break;
		}
		case 'd': {
			/* values are float64 in Prometheus' templates: Go refuses %d */
			char num[64];
			if (a->k == V_NUM) {
				pw_fmt_float(num, sizeof num, a->n, PW_FMT_GO_V);
				pw_buf_printf(b, "%%!d(float64=%s)", num);
			} else {
				pw_buf_printf(b, "%%!d(string=%s)", a->k == V_STR ? a->s : "");
			}
			break;
		}
		case 's': case 'v': case 'q':
			if (*p == 'q')
				pw_buf_putc(b, '"');
			as_text(c, a, b);
			if (*p == 'q')
				pw_buf_putc(b, '"');
			break;
		default:
			pw_buf_printf(b, "%%!%c(BADVERB)", *p);
		}
	}
}

/* one action: cmd args... [| cmd args...]* */
static void action(struct tctx *c, const char *p, const char *e, struct pw_buf *out)
{
	struct tv cur = {.k = V_NONE};
	bool have = false;
	int commands = 0;
	while (p < e && !c->err) {
		if (++commands > TEMPLATE_MAX_COMMANDS) {
			snprintf(c->errbuf, sizeof c->errbuf, "pipeline longer than %d commands",
				 TEMPLATE_MAX_COMMANDS);
			c->err = c->errbuf;
			return;
		}
		const char *seg_end = p;
		/* the pipeline segment ends at a | outside quotes */
		for (char q = 0; seg_end < e; seg_end++) {
			if (q) {
				if (*seg_end == q)
					q = 0;
				continue;
			}
			if (*seg_end == '"' || *seg_end == '`')
				q = *seg_end;
			else if (*seg_end == '|')
				break;
		}
		const char *s = tmpl_skip_ws(p, seg_end);
		const char *w = s;
		while (w < seg_end && ident_char(*w))
			w++;
		size_t wl = (size_t)(w - s);
		struct tv args[8];
		size_t na = 0;
		if (wl && !(s[0] >= '0' && s[0] <= '9')) {
			/* a function */
			const char *a = w;
			while (!c->err && (a = tmpl_skip_ws(a, seg_end)) < seg_end && na < 7)
				a = operand(c, a, seg_end, &args[na++]);
			if (have)
				args[na++] = cur;
			if (c->err)
				return;
			struct pw_buf r;
			pw_buf_init(&r, 0);
			double x;
#define FN(lit) (wl == sizeof(lit) - 1 && memcmp(s, lit, wl) == 0)
			if (FN("humanize") || FN("humanize1024") || FN("humanizePercentage") ||
			    FN("humanizeDuration")) {
				if (na != 1 || !as_num(c, &args[0], &x)) {
					if (!c->err)
						c->err = "wrong number of args";
					pw_buf_free(&r);
					return;
				}
				if (FN("humanizePercentage"))
					g4(&r, x * 100, "%");
				else if (FN("humanizeDuration"))
					humanize_duration(&r, x);
				else
					humanize(&r, x, FN("humanize1024"));
			} else if (FN("printf")) {
				if (na < 1 || args[0].k != V_STR) {
					c->err = "printf needs a format string";
					pw_buf_free(&r);
					return;
				}
				go_printf(c, args[0].s, args + 1, na - 1, &r);
			} else if (FN("toUpper") || FN("toLower") || FN("title")) {
				struct pw_buf t;
				pw_buf_init(&t, 0);
				if (na == 1)
					as_text(c, &args[0], &t);
				for (size_t i = 0; i < t.len; i++) {
					char ch = t.data[i];
					if (FN("toUpper") && ch >= 'a' && ch <= 'z')
						ch = (char)(ch - 32);
					if (FN("toLower") && ch >= 'A' && ch <= 'Z')
						ch = (char)(ch + 32);
					if (FN("title") && ch >= 'a' && ch <= 'z' &&
					    (i == 0 || t.data[i - 1] == ' '))
						ch = (char)(ch - 32);
					pw_buf_putc(&r, ch);
				}
				pw_buf_free(&t);
			} else {
				snprintf(c->errbuf, sizeof c->errbuf, "function \"%.*s\" not defined",
					 (int)(wl > 60 ? 60 : wl), s);
				c->err = c->errbuf;
				pw_buf_free(&r);
				return;
			}
#undef FN
			cur.k = V_STR;
			cur.s = keep(c, r.data ? r.data : "", r.len);
			pw_buf_free(&r);
		} else {
			operand(c, s, seg_end, &cur);
		}
		have = true;
		p = seg_end < e ? seg_end + 1 : e;
	}
	if (!c->err && have) {
		size_t before = out->len;
		if (c->d->html) {
			struct pw_buf t;
			pw_buf_init(&t, 0);
			as_text(c, &cur, &t);
			pw_buf_html(out, t.data ? t.data : "", t.len);
			pw_buf_free(&t);
		} else {
			as_text(c, &cur, out);
		}
		spend(c, out->len - before);
	}
}

/* the expansion of t into *out (NULL when checking); the error, if any, in
 * c->err, and *at the offset in t of the action at fault */
static void run(struct tctx *c, const char *t, struct pw_buf *out, size_t *at)
{
	const char *p = t;
	struct pw_buf scratch;
	struct pw_buf *b = out ? out : &scratch;
	if (!out)
		pw_buf_init(&scratch, 0);
	pw_buf_puts(b, "");
	while (*p) {
		const char *o = strstr(p, "{{");
		if (!o) {
			if (out)
				pw_buf_puts(b, p);
			break;
		}
		*at = (size_t)(o - t);
		const char *text_end = o;
		bool ltrim = o[2] == '-' && (o[3] == ' ' || o[3] == '\t' || o[3] == '\n');
		if (ltrim)
			while (text_end > p && (text_end[-1] == ' ' || text_end[-1] == '\t' ||
						text_end[-1] == '\n' || text_end[-1] == '\r'))
				text_end--;
		if (out)
			pw_buf_append(b, p, (size_t)(text_end - p));
		const char *cl = strstr(o + 2, "}}");
		if (!cl) {
			c->err = "unclosed action";
			break;
		}
		const char *as = o + 2 + (ltrim ? 1 : 0), *ae = cl;
		bool rtrim = cl - 1 > as && cl[-1] == '-' && (cl[-2] == ' ' || cl[-2] == '\t' ||
							     cl[-2] == '\n');
		if (rtrim)
			ae = cl - 1;
		if (!out)
			pw_buf_reset(b); /* checking: what an action writes is not kept */
		action(c, as, ae, b);
		if (c->err)
			break;
		p = cl + 2;
		if (rtrim)
			while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
				p++;
	}
	if (!out)
		pw_buf_free(&scratch);
	for (size_t i = 0; i < c->nmem; i++)
		free(c->mem[i]);
	free(c->mem);
	c->mem = NULL;
	c->nmem = c->capmem = 0;
}

char *template_expand(const char *t, const struct template_data *d)
{
	/* what KPI alerts carry by the hundred thousand: plain text, and
	 * "{{ $kpi.x }}" alone; the same result without the engine */
	if (!strstr(t, "{{"))
		return xstrdup(t);
	if (!d->html && strncmp(t, "{{ $kpi.", 8) == 0) {
		const char *n = t + 8, *e = n;
		while (ident_char(*e))
			e++;
		if (e > n && strcmp(e, " }}") == 0) {
			const char *v = lookup(d->kpi, d->nkpi, n, (size_t)(e - n));
			return xstrdup(v ? v : "");
		}
	}
	struct pw_buf b;
	struct tctx c = {.d = d};
	size_t at = 0;
	pw_buf_init(&b, 0);
	run(&c, t, &b, &at);
	char *out = c.err ? xasprintf("<error expanding template: %s>", c.err) : pw_buf_take(&b);
	pw_buf_free(&b);
	return out;
}

int template_check(const char *t, const struct template_data *d, size_t *at, char **cause)
{
	struct tctx c = {.d = d, .check = true};
	*at = 0;
	*cause = NULL;
	if (!strstr(t, "{{"))
		return 0;
	run(&c, t, NULL, at);
	if (!c.err)
		return 0;
	*cause = xstrdup(c.err);
	return PW_EINVAL;
}
