/*
 * selector.c — PromQL series selectors and string literals (Go's escape
 * rules, as PromQL uses them). The PromQL lexer and parser will take these
 * functions over.
 */
#include "query.h"

#include <stdlib.h>
#include <string.h>

struct sp {
	const char *s, *p;
	char *cause;
};

static int sfail(struct sp *sp, const char *at, const char *what)
{
	if (!sp->cause)
		sp->cause = xasprintf("column %zu: %s", (size_t)(at - sp->s) + 1, what);
	return PW_EINVAL;
}

static void ws(struct sp *sp)
{
	while (*sp->p == ' ' || *sp->p == '\t' || *sp->p == '\n' || *sp->p == '\r')
		sp->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static void put_utf8(struct pw_buf *b, uint32_t cp)
{
	char o[4];
	size_t n;
	if (cp < 0x80) { o[0] = (char)cp; n = 1; }
	else if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
	else if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
	} else {
		o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
	}
	pw_buf_append(b, o, n);
}

/* A PromQL string: "..." or '...' with escapes, or `raw`. */
static int read_string(struct sp *sp, char **out)
{
	char q = *sp->p;
	const char *open = sp->p;
	struct pw_buf b;

	if (q != '"' && q != '\'' && q != '`')
		return sfail(sp, sp->p, "expected a quoted string");
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "");
	sp->p++;
	while (*sp->p && *sp->p != q) {
		if (q == '`' || *sp->p != '\\') {
			pw_buf_putc(&b, *sp->p++);
			continue;
		}
		const char *esc = sp->p++;
		char c = *sp->p++;
		int digits = 0;
		uint32_t cp = 0;
		switch (c) {
		case 'a': pw_buf_putc(&b, '\a'); continue;
		case 'b': pw_buf_putc(&b, '\b'); continue;
		case 'f': pw_buf_putc(&b, '\f'); continue;
		case 'n': pw_buf_putc(&b, '\n'); continue;
		case 'r': pw_buf_putc(&b, '\r'); continue;
		case 't': pw_buf_putc(&b, '\t'); continue;
		case 'v': pw_buf_putc(&b, '\v'); continue;
		case '\\': pw_buf_putc(&b, '\\'); continue;
		case '"': case '\'':
			if (c != q) {
				pw_buf_free(&b);
				return sfail(sp, esc, "unknown escape sequence");
			}
			pw_buf_putc(&b, c);
			continue;
		case 'x': digits = 2; break;
		case 'u': digits = 4; break;
		case 'U': digits = 8; break;
		default:
			if (c >= '0' && c <= '7') {
				int v = c - '0';
				for (int i = 0; i < 2; i++) {
					if (*sp->p < '0' || *sp->p > '7') {
						pw_buf_free(&b);
						return sfail(sp, esc, "invalid octal escape");
					}
					v = v * 8 + (*sp->p++ - '0');
				}
				if (v > 255) {
					pw_buf_free(&b);
					return sfail(sp, esc, "octal escape out of range");
				}
				pw_buf_putc(&b, (char)v);
				continue;
			}
			pw_buf_free(&b);
			return sfail(sp, esc, "unknown escape sequence");
		}
		for (int i = 0; i < digits; i++) {
			int h = hexval(*sp->p);
			if (h < 0) {
				pw_buf_free(&b);
				return sfail(sp, esc, "invalid hexadecimal escape");
			}
			cp = cp << 4 | (uint32_t)h;
			sp->p++;
		}
		if (digits == 2)
			pw_buf_putc(&b, (char)cp);
		else if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
			pw_buf_free(&b);
			return sfail(sp, esc, "escape is not a valid Unicode code point");
		} else
			put_utf8(&b, cp);
	}
	if (*sp->p != q) {
		pw_buf_free(&b);
		return sfail(sp, open, "unterminated string");
	}
	sp->p++;
	*out = pw_buf_take(&b);
	return 0;
}

static bool nstart(char c, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static char *read_ident(struct sp *sp, bool colon)
{
	const char *s = sp->p;
	if (!nstart(*sp->p, colon))
		return NULL;
	while (nstart(*sp->p, colon) || (*sp->p >= '0' && *sp->p <= '9'))
		sp->p++;
	return xstrndup(s, (size_t)(sp->p - s));
}

void query_matchers_free(struct store_matcher *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_matcher_free(&m[i]);
	free(m);
}

int query_parse_selector(const char *s, struct store_matcher **out, size_t *nout, char **cause)
{
	struct sp sp = {s, s, NULL};
	struct store_matcher *m = NULL;
	size_t n = 0;
	char *name = NULL, *value = NULL;
	int rc = 0;
	bool any_nonempty = false;

	*out = NULL;
	*nout = 0;
	ws(&sp);
	if ((name = read_ident(&sp, true))) {
		m = xreallocarray(m, n + 1, sizeof *m);
		store_matcher_init(&m[n++], STORE_MATCH_EQ, "__name__", name, NULL);
		free(name);
		name = NULL;
		ws(&sp);
	}
	if (*sp.p == '{') {
		sp.p++;
		for (;;) {
			enum store_match_type t;
			const char *at;
			char *rcause = NULL;
			ws(&sp);
			if (*sp.p == '}') {
				sp.p++;
				break;
			}
			at = sp.p;
			if (!(name = read_ident(&sp, false))) {
				rc = sfail(&sp, at, "expected a label name or '}'");
				goto out;
			}
			ws(&sp);
			if (sp.p[0] == '=' && sp.p[1] == '~') { t = STORE_MATCH_RE; sp.p += 2; }
			else if (sp.p[0] == '!' && sp.p[1] == '~') { t = STORE_MATCH_NRE; sp.p += 2; }
			else if (sp.p[0] == '!' && sp.p[1] == '=') { t = STORE_MATCH_NE; sp.p += 2; }
			else if (sp.p[0] == '=') { t = STORE_MATCH_EQ; sp.p += 1; }
			else {
				rc = sfail(&sp, sp.p, "expected one of =, !=, =~, !~");
				goto out;
			}
			ws(&sp);
			at = sp.p;
			if ((rc = read_string(&sp, &value)) != 0)
				goto out;
			m = xreallocarray(m, n + 1, sizeof *m);
			if ((rc = store_matcher_init(&m[n], t, name, value, &rcause)) != 0) {
				sp.cause = xasprintf("column %zu: %s", (size_t)(at - s) + 1, rcause);
				free(rcause);
				goto out;
			}
			n++;
			free(name);
			free(value);
			name = value = NULL;
			ws(&sp);
			if (*sp.p == ',') {
				sp.p++;
				continue;
			}
			if (*sp.p == '}') {
				sp.p++;
				break;
			}
			rc = sfail(&sp, sp.p, "expected ',' or '}'");
			goto out;
		}
	}
	ws(&sp);
	if (*sp.p) {
		rc = sfail(&sp, sp.p, "unexpected character after the selector");
		goto out;
	}
	if (n == 0) {
		rc = sfail(&sp, sp.p, "expected a metric name or '{'");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!store_matcher_matches(&m[i], ""))
			any_nonempty = true;
	if (!any_nonempty) {
		rc = sfail(&sp, s, "vector selector must contain at least one non-empty matcher");
		goto out;
	}
out:
	free(name);
	free(value);
	if (rc) {
		query_matchers_free(m, n);
		if (cause)
			*cause = sp.cause;
		else
			free(sp.cause);
		return rc;
	}
	*out = m;
	*nout = n;
	return 0;
}
