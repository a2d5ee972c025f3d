/*
 * parse.c — PromQL's lexer and parser (recursive descent with precedence
 * climbing) and its type checks, giving eval.c its tree. Errors read as
 * Prometheus' do, "line:column: parse error: ...", and carry the byte
 * offset so callers can draw a caret under the fault.
 */
#include "query_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum tok {
	K_EOF, K_IDENT, K_NUM, K_DUR, K_STR, K_LPAREN, K_RPAREN, K_LBRACE, K_RBRACE, K_LBRACK,
	K_RBRACK, K_COMMA, K_COLON, K_AT, K_ASSIGN, K_EQ_RE, K_NEQ_RE,
	K_ADD, K_SUB, K_MUL, K_DIV, K_MOD, K_POW, K_EQL, K_NEQ, K_GTR, K_LSS, K_GTE, K_LTE,
};

struct token {
	enum tok k;
	int pos, end;
	double num;   /* K_NUM */
	int64_t dur;  /* K_DUR, ms */
	char *s;      /* K_IDENT, K_STR (decoded) */
};

struct ps {
	const char *q;
	struct query_expr *x;
	struct token *t;
	size_t nt, i;
	jmp_buf jb;
	char *msg;
	int epos;
	enum query_errtype etype;
	int depth;           /* nested parse_expr calls: QUERY_MAX_DEPTH */
	int64_t deadline_ns; /* 0: none */
	unsigned ticks;      /* tokens and nodes made, to look at the clock */
	uintptr_t stack_floor; /* qstack_floor() */
};

static _Noreturn void pfail(struct ps *p, int pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static _Noreturn void pfail(struct ps *p, int pos, const char *fmt, ...)
{
	va_list ap;
	char m[512];
	int line = 1, col = 1;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	for (int i = 0; i < pos && p->q[i]; i++) {
		if (p->q[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	p->msg = xasprintf("%d:%d: parse error: %s", line, col, m);
	p->epos = pos;
	p->etype = QUERY_ERR_BAD_DATA;
	longjmp(p->jb, 1);
}

/* a limit of the query's, not a fault of the text: memory (the arena's
 * refusal) or time */
static _Noreturn void plimit(struct ps *p, struct query_error *e)
{
	p->msg = e->msg;
	p->epos = -1;
	p->etype = e->type;
	longjmp(p->jb, 1);
}

static void parse_refuse(void *ctx, struct query_error *e) { plimit(ctx, e); }

/* every 4096 tokens and nodes: has the query's time run out? */
static void ptick(struct ps *p)
{
	if ((++p->ticks & 4095) == 0 && p->deadline_ns && pw_mono_ns() > p->deadline_ns) {
		struct query_error e = {QUERY_ERR_TIMEOUT, xstrdup("query timed out in query parsing"),
					-1};
		plimit(p, &e);
	}
	if ((p->ticks & 4095) == 0 && query_mem_stopped(p->x->a.mem)) {
		struct query_error e = {QUERY_ERR_CANCELED,
					xstrdup(QUERY_STOPPED_MSG), -1};
		plimit(p, &e);
	}
}

/* ---- lexer ------------------------------------------------------------------------ */

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

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

/* A string literal: "..." or '...' with Go's escapes, or `raw`. */
static int lex_string(struct ps *p, int pos, struct token *t)
{
	const char *s = p->q;
	char q = s[pos];
	int i = pos + 1;
	struct pw_buf b;

	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "");
	while (s[i] && s[i] != q) {
		if (q == '`' || s[i] != '\\') {
			if (q != '`' && s[i] == '\n') {
				pw_buf_free(&b);
				pfail(p, i, "unterminated quoted string");
			}
			pw_buf_putc(&b, s[i++]);
			continue;
		}
		int esc = i++;
		char c = s[i++];
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
				pfail(p, esc, "unknown escape sequence");
			}
			pw_buf_putc(&b, c);
			continue;
		case 'x': digits = 2; break;
		case 'u': digits = 4; break;
		case 'U': digits = 8; break;
		default:
			if (c >= '0' && c <= '7') {
				int v = c - '0';
				for (int k = 0; k < 2; k++) {
					if (s[i] < '0' || s[i] > '7') {
						pw_buf_free(&b);
						pfail(p, esc, "invalid octal escape");
					}
					v = v * 8 + (s[i++] - '0');
				}
				if (v > 255) {
					pw_buf_free(&b);
					pfail(p, esc, "octal escape value > 255");
				}
				pw_buf_putc(&b, (char)v);
				continue;
			}
			pw_buf_free(&b);
			pfail(p, esc, "unknown escape sequence");
		}
		for (int k = 0; k < digits; k++) {
			int h = hexval(s[i]);
			if (h < 0) {
				pw_buf_free(&b);
				pfail(p, esc, "invalid hexadecimal escape");
			}
			cp = cp << 4 | (uint32_t)h;
			i++;
		}
		if (digits == 2)
			pw_buf_putc(&b, (char)cp);
		else if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
			pw_buf_free(&b);
			pfail(p, esc, "escape sequence is an invalid Unicode code point");
		} else
			put_utf8(&b, cp);
	}
	if (s[i] != q) {
		pw_buf_free(&b);
		pfail(p, pos, "unterminated quoted string");
	}
	{
		char *v = pw_buf_take(&b);
		t->s = qarena_strdup(&p->x->a, v);
		free(v);
	}
	return i + 1;
}

static bool dur_unit(const char *s, int *len)
{
	if (s[0] == 'm' && s[1] == 's') { *len = 2; return true; }
	if (strchr("smhdwy", s[0]) && s[0]) { *len = 1; return true; }
	return false;
}

/* A duration "1h30m": digits and units, the units in decreasing size. */
static int lex_duration(const char *s, int pos)
{
	int i = pos;
	for (;;) {
		int ul;
		if (!is_digit(s[i]))
			break;
		while (is_digit(s[i]))
			i++;
		if (!dur_unit(s + i, &ul))
			return -1;
		i += ul;
		if (!is_digit(s[i]))
			break;
	}
	if (i == pos || is_alnum(s[i]) || s[i] == '.')
		return -1;
	return i;
}

static int lex_number(struct ps *p, int pos, struct token *t)
{
	const char *s = p->q;
	int i = pos;
	char buf[128];
	char *end;
	bool hex = false;

	if (s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		hex = true;
		i += 2;
		while (hexval(s[i]) >= 0)
			i++;
	} else {
		while (is_digit(s[i]))
			i++;
		if (s[i] == '.') {
			i++;
			while (is_digit(s[i]))
				i++;
		}
		if (s[i] == 'e' || s[i] == 'E') {
			int j = i + 1;
			if (s[j] == '+' || s[j] == '-')
				j++;
			if (is_digit(s[j])) {
				while (is_digit(s[j]))
					j++;
				i = j;
			}
		}
	}
	if (is_alnum(s[i]) || s[i] == '.' || i - pos >= (int)sizeof buf)
		pfail(p, pos, "bad number or duration syntax: \"%.*s\"", i - pos + 1, s + pos);
	memcpy(buf, s + pos, (size_t)(i - pos));
	buf[i - pos] = '\0';
	if (hex) {
		t->num = (double)strtoull(buf, &end, 16);
	} else {
		/* Go's ParseInt(s, 0, 64) first: a leading 0 means octal */
		bool octal = buf[0] == '0' && buf[1] && strspn(buf, "01234567") == strlen(buf);
		if (octal)
			t->num = (double)strtoll(buf, &end, 8);
		else
			t->num = strtod(buf, &end);
	}
	if (*end)
		pfail(p, pos, "bad number or duration syntax: \"%s\"", buf);
	return i;
}

static void lex(struct ps *p)
{
	const char *s = p->q;
	size_t cap = 16;
	int i = 0, brackets = 0;
	p->t = qarena_alloc(&p->x->a, cap * sizeof *p->t);
	for (;;) {
		struct token t = {0};
		while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '#') {
			if (s[i] == '#')
				while (s[i] && s[i] != '\n')
					i++;
			else
				i++;
		}
		t.pos = i;
		char c = s[i];
		if (!c) {
			t.k = K_EOF;
		} else if (is_alpha(c) || (c == ':' && !brackets)) {
			int j = i;
			while (is_alnum(s[j]) || s[j] == ':')
				j++;
			t.k = K_IDENT;
			t.s = qarena_strndup(&p->x->a, s + i, (size_t)(j - i));
			i = j;
		} else if (is_digit(c) || (c == '.' && is_digit(s[i + 1]))) {
			int j = lex_duration(s, i);
			if (j > 0) {
				char buf[64];
				if (j - i >= (int)sizeof buf)
					pfail(p, i, "duration too long");
				memcpy(buf, s + i, (size_t)(j - i));
				buf[j - i] = '\0';
				if (pw_parse_duration(buf, &t.dur) != 0)
					pfail(p, i, "not a valid duration string: \"%s\"", buf);
				/* Prometheus' durations are int64 nanoseconds */
				if (t.dur > INT64_MAX / 1000000)
					pfail(p, i, "duration out of range");
				t.k = K_DUR;
				i = j;
			} else {
				t.k = K_NUM;
				i = lex_number(p, i, &t);
			}
		} else if (c == '"' || c == '\'' || c == '`') {
			t.k = K_STR;
			i = lex_string(p, i, &t);
		} else {
			struct { const char *s; enum tok k; } ops[] = {
				{"==", K_EQL}, {"!=", K_NEQ}, {">=", K_GTE}, {"<=", K_LTE}, {"=~", K_EQ_RE},
				{"!~", K_NEQ_RE}, {"(", K_LPAREN}, {")", K_RPAREN}, {"{", K_LBRACE},
				{"}", K_RBRACE}, {"[", K_LBRACK}, {"]", K_RBRACK}, {",", K_COMMA},
				{":", K_COLON}, {"@", K_AT}, {"=", K_ASSIGN}, {"+", K_ADD}, {"-", K_SUB},
				{"*", K_MUL}, {"/", K_DIV}, {"%", K_MOD}, {"^", K_POW}, {">", K_GTR},
				{"<", K_LSS},
			};
			size_t k;
			for (k = 0; k < sizeof ops / sizeof ops[0]; k++) {
				size_t l = strlen(ops[k].s);
				if (strncmp(s + i, ops[k].s, l) == 0) {
					t.k = ops[k].k;
					i += (int)l;
					break;
				}
			}
			if (k == sizeof ops / sizeof ops[0]) {
				if ((unsigned char)c >= 0x80)
					pfail(p, i, "unexpected character: '%.*s'",
					      (int)(1 + ((unsigned char)c >= 0xC0) + ((unsigned char)c >= 0xE0) +
						    ((unsigned char)c >= 0xF0)), s + i);
				pfail(p, i, "unexpected character: '%c'", c);
			}
		}
		t.end = i;
		if (t.k == K_LBRACK)
			brackets++;
		else if (t.k == K_RBRACK && brackets)
			brackets--;
		if (p->nt == cap) {
			p->t = qarena_grow(&p->x->a, p->t, cap * sizeof *p->t, 2 * cap * sizeof *p->t);
			cap *= 2;
		}
		ptick(p);
		p->t[p->nt++] = t;
		if (t.k == K_EOF)
			break;
	}
}

/* ---- parser --------------------------------------------------------------------- */

static struct token *peek(struct ps *p) { return &p->t[p->i]; }
static struct token *next(struct ps *p) { return &p->t[p->i < p->nt - 1 ? p->i++ : p->i]; }

static const char *tokdesc(struct ps *p, const struct token *t, char *buf, size_t sz)
{
	switch (t->k) {
	case K_EOF: return "end of input";
	case K_IDENT: snprintf(buf, sz, "identifier \"%s\"", t->s); return buf;
	case K_NUM: snprintf(buf, sz, "number \"%.*s\"", t->end - t->pos, p->q + t->pos); return buf;
	case K_DUR: snprintf(buf, sz, "duration \"%.*s\"", t->end - t->pos, p->q + t->pos); return buf;
	case K_STR: snprintf(buf, sz, "string %.*s", t->end - t->pos, p->q + t->pos); return buf;
	default: snprintf(buf, sz, "\"%.*s\"", t->end - t->pos, p->q + t->pos); return buf;
	}
}

static _Noreturn void unexpected(struct ps *p, const struct token *t, const char *where)
{
	char b[160];
	pfail(p, t->pos, "unexpected %s%s%s", tokdesc(p, t, b, sizeof b), where ? " " : "",
	      where ? where : "");
}

static void expect(struct ps *p, enum tok k, const char *where)
{
	struct token *t = peek(p);
	if (t->k != k)
		unexpected(p, t, where);
	next(p);
}

static bool is_kw(const struct token *t, const char *kw)
{
	return t->k == K_IDENT && strcasecmp(t->s, kw) == 0;
}

static struct node *mk(struct ps *p, enum node_kind k, int pos)
{
	struct node *n;
	ptick(p);
	n = qarena_alloc(&p->x->a, sizeof *n);
	n->k = k;
	n->pos = pos;
	n->end = pos;
	return n;
}

static const char *vtype_name(enum vtype t)
{
	switch (t) {
	case T_SCALAR: return "scalar";
	case T_VECTOR: return "instant vector";
	case T_MATRIX: return "range vector";
	case T_STRING: return "string";
	default: return "none";
	}
}

static struct node *parse_expr(struct ps *p, int minprec);

/* A binary operator's precedence (0: not one). Lowest first: or; and
 * unless; == != <= < >= >; + -; * / % atan2; unary + -; ^
 * (right-associative) — so -2^2 is -4. */
static int binop_of(const struct token *t, int *op)
{
	switch (t->k) {
	case K_ADD: *op = OP_ADD; return 4;
	case K_SUB: *op = OP_SUB; return 4;
	case K_MUL: *op = OP_MUL; return 5;
	case K_DIV: *op = OP_DIV; return 5;
	case K_MOD: *op = OP_MOD; return 5;
	case K_POW: *op = OP_POW; return 7;
	case K_EQL: *op = OP_EQ; return 3;
	case K_NEQ: *op = OP_NE; return 3;
	case K_GTR: *op = OP_GT; return 3;
	case K_LSS: *op = OP_LT; return 3;
	case K_GTE: *op = OP_GE; return 3;
	case K_LTE: *op = OP_LE; return 3;
	case K_IDENT:
		if (strcasecmp(t->s, "and") == 0) { *op = OP_AND; return 2; }
		if (strcasecmp(t->s, "unless") == 0) { *op = OP_UNLESS; return 2; }
		if (strcasecmp(t->s, "or") == 0) { *op = OP_OR; return 1; }
		if (strcasecmp(t->s, "atan2") == 0) { *op = OP_ATAN2; return 5; }
		return 0;
	default: return 0;
	}
}

static const char *const op_names[] = {"+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">",
				       "<", ">=", "<=", "and", "or", "unless"};

/* ( label, label, ... ) — label names, keywords allowed */
static char **parse_label_list(struct ps *p, size_t *n)
{
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	expect(p, K_LPAREN, "in grouping opts, expected \"(\"");
	for (;;) {
		struct token *t = peek(p);
		if (t->k == K_RPAREN) {
			next(p);
			break;
		}
		if (t->k != K_IDENT || !pw_valid_label_name(t->s, strlen(t->s)))
			unexpected(p, t, "in grouping opts, expected label");
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 4;
			v = qarena_grow(&p->x->a, v, cap * sizeof *v, nc * sizeof *v);
			cap = nc;
		}
		v[(*n)++] = t->s;
		next(p);
		t = peek(p);
		if (t->k == K_COMMA) {
			next(p);
			continue;
		}
		if (t->k != K_RPAREN)
			unexpected(p, t, "in grouping opts, expected \",\" or \")\"");
	}
	return v;
}

static void add_mlist(struct ps *p, struct store_matcher *m, size_t n)
{
	struct query_expr *x = p->x;
	x->mlists = xreallocarray(x->mlists, x->nmlists + 1, sizeof *x->mlists);
	x->mlens = xreallocarray(x->mlens, x->nmlists + 1, sizeof *x->mlens);
	x->mlists[x->nmlists] = m;
	x->mlens[x->nmlists++] = n;
}

/* metric? { matchers } */
static struct node *parse_selector(struct ps *p, const char *metric, int pos)
{
	struct node *n = mk(p, N_VSEL, pos);
	struct store_matcher *m = NULL;
	size_t nm = 0, cap = 0, slot;
	bool nonempty = false;

	n->type = T_VECTOR;
	/* the expression owns the matchers from the start, so a parse error
	 * part-way frees them */
	add_mlist(p, NULL, 0);
	slot = p->x->nmlists - 1;
	if (metric) {
		m = xcalloc(4, sizeof *m);
		cap = 4;
		p->x->mlists[slot] = m;
		store_matcher_init(&m[nm++], STORE_MATCH_EQ, "__name__", metric, NULL);
		p->x->mlens[slot] = nm;
		n->metric = qarena_strdup(&p->x->a, metric);
	}
	if (peek(p)->k == K_LBRACE) {
		next(p);
		for (;;) {
			struct token *t = peek(p), *op, *v;
			enum store_match_type mt;
			char *cause = NULL;
			if (t->k == K_RBRACE) {
				next(p);
				break;
			}
			if (t->k != K_IDENT || strchr(t->s, ':'))
				unexpected(p, t, "in label matching, expected label");
			next(p);
			op = next(p);
			switch (op->k) {
			case K_ASSIGN: mt = STORE_MATCH_EQ; break;
			case K_NEQ: mt = STORE_MATCH_NE; break;
			case K_EQ_RE: mt = STORE_MATCH_RE; break;
			case K_NEQ_RE: mt = STORE_MATCH_NRE; break;
			default: unexpected(p, op, "in label matching, expected one of \"=\", \"!=\", \"=~\", \"!~\"");
			}
			v = next(p);
			if (v->k != K_STR)
				unexpected(p, v, "in label matching, expected string");
			if (nm == cap) {
				cap = cap ? cap * 2 : 4;
				m = xreallocarray(m, cap, sizeof *m);
				p->x->mlists[slot] = m;
			}
			if (store_matcher_init(&m[nm], mt, t->s, v->s, &cause) != 0) {
				char msg[400];
				snprintf(msg, sizeof msg, "%s", cause ? cause : "invalid regular expression");
				free(cause);
				pfail(p, t->pos, "%s", msg); /* Prometheus: the label */
			}
			p->x->mlens[slot] = ++nm;
			if (strcmp(t->s, "__name__") == 0 && metric)
				pfail(p, t->pos, "metric name must not be set twice: \"%s\" or \"%s\"", metric,
				      v->s);
			t = peek(p);
			if (t->k == K_COMMA) {
				next(p);
				continue;
			}
			if (t->k != K_RBRACE)
				unexpected(p, t, "in label matching, expected \",\" or \"}\"");
		}
	}
	n->m = m;
	n->nm = nm;
	for (size_t i = 0; i < nm; i++)
		if (!store_matcher_matches(&m[i], ""))
			nonempty = true;
	if (!nonempty)
		pfail(p, pos, "vector selector must contain at least one non-empty matcher");
	n->end = p->t[p->i - 1].end;
	return n;
}

static const char *const agg_names[] = {"sum", "avg", "count", "min", "max", "group", "stddev",
					"stdvar", "topk", "bottomk", "quantile", "count_values"};

static int agg_of(const char *s)
{
	for (size_t i = 0; i < sizeof agg_names / sizeof agg_names[0]; i++)
		if (strcasecmp(s, agg_names[i]) == 0)
			return (int)i;
	return -1;
}

static struct node *parse_aggregation(struct ps *p, int op, int pos)
{
	struct node *n = mk(p, N_AGG, pos);
	struct node *args[2];
	size_t na = 0;
	bool grouped = false;
	struct token *t;

	n->op = op;
	n->type = T_VECTOR;
	t = peek(p);
	if (is_kw(t, "by") || is_kw(t, "without")) {
		n->without = is_kw(t, "without");
		next(p);
		n->grouping = parse_label_list(p, &n->ngrouping);
		grouped = true;
	}
	expect(p, K_LPAREN, "in aggregation, expected \"(\"");
	for (;;) {
		if (peek(p)->k == K_RPAREN && na > 0)
			break;
		if (na == 2)
			unexpected(p, peek(p), "in aggregation, expected \")\"");
		args[na++] = parse_expr(p, 0);
		if (peek(p)->k == K_COMMA) {
			next(p);
			continue;
		}
		break;
	}
	expect(p, K_RPAREN, "in aggregation, expected \",\" or \")\"");
	t = peek(p);
	if (is_kw(t, "by") || is_kw(t, "without")) {
		if (grouped)
			pfail(p, t->pos, "aggregation must only contain one grouping clause");
		n->without = is_kw(t, "without");
		next(p);
		n->grouping = parse_label_list(p, &n->ngrouping);
	}
	n->end = p->t[p->i - 1].end;
	{
		bool wants_param = op == AG_TOPK || op == AG_BOTTOMK || op == AG_QUANTILE ||
				   op == AG_COUNT_VALUES;
		if ((size_t)(wants_param ? 2 : 1) != na)
			pfail(p, pos, "wrong number of arguments for aggregate expression provided, expected %d, got %zu",
			      wants_param ? 2 : 1, na);
		n->a = args[na - 1];
		if (wants_param) {
			n->param = args[0];
			enum vtype want = op == AG_COUNT_VALUES ? T_STRING : T_SCALAR;
			if (n->param->type != want)
				pfail(p, n->param->pos, "expected type %s in aggregation parameter, got %s",
				      vtype_name(want), vtype_name(n->param->type));
		}
		if (n->a->type != T_VECTOR)
			pfail(p, n->a->pos, "expected type instant vector in aggregation expression, got %s",
			      vtype_name(n->a->type));
	}
	return n;
}

static struct node *parse_call(struct ps *p, const struct func *f, int pos)
{
	struct node *n = mk(p, N_CALL, pos);
	struct node **args = NULL;
	size_t na = 0, cap = 0;
	int min, max;

	n->fn = f;
	n->type = f->ret;
	expect(p, K_LPAREN, NULL);
	while (peek(p)->k != K_RPAREN) {
		if (na == cap) {
			size_t nc = cap ? cap * 2 : 4;
			args = qarena_grow(&p->x->a, args, cap * sizeof *args, nc * sizeof *args);
			cap = nc;
		}
		args[na++] = parse_expr(p, 0);
		if (peek(p)->k == K_COMMA) {
			next(p);
			if (peek(p)->k == K_RPAREN)
				unexpected(p, peek(p), "in function call");
			continue;
		}
		if (peek(p)->k != K_RPAREN)
			unexpected(p, peek(p), "in function call, expected \",\" or \")\"");
	}
	next(p);
	n->end = p->t[p->i - 1].end;
	n->args = args;
	n->nargs = na;
	min = f->nargs - (f->optional > 0 ? f->optional : f->optional < 0 ? 1 : 0);
	max = f->optional < 0 ? 1 << 20 : f->nargs;
	if ((int)na < min || (int)na > max) {
		if (f->optional < 0)
			pfail(p, pos, "expected at least %d argument(s) in call to \"%s\", got %zu", min,
			      f->name, na);
		if (f->optional > 0)
			pfail(p, pos, "expected at most %d argument(s) in call to \"%s\", got %zu", max,
			      f->name, na);
		pfail(p, pos, "expected %d argument(s) in call to \"%s\", got %zu", f->nargs, f->name,
		      na);
	}
	for (size_t i = 0; i < na; i++) {
		enum vtype want = (int)i < f->nargs ? f->args[i] : f->args[f->nargs - 1];
		if (args[i]->type != want)
			pfail(p, args[i]->pos, "expected type %s in call to function \"%s\", got %s",
			      vtype_name(want), f->name, vtype_name(args[i]->type));
	}
	return n;
}

static struct node *parse_primary(struct ps *p)
{
	struct token *t = peek(p);
	struct node *n;

	switch (t->k) {
	case K_NUM:
		next(p);
		n = mk(p, N_NUM, t->pos);
		n->num = t->num;
		n->type = T_SCALAR;
		n->end = t->end;
		return n;
	case K_STR:
		next(p);
		n = mk(p, N_STR, t->pos);
		n->str = t->s;
		n->type = T_STRING;
		n->end = t->end;
		return n;
	case K_LPAREN:
		next(p);
		n = mk(p, N_PAREN, t->pos);
		n->a = parse_expr(p, 0);
		n->type = n->a->type;
		expect(p, K_RPAREN, "in paren expression, expected \")\"");
		n->end = p->t[p->i - 1].end;
		return n;
	case K_LBRACE:
		return parse_selector(p, NULL, t->pos);
	case K_IDENT: {
		struct token *nx = &p->t[p->i + 1 < p->nt ? p->i + 1 : p->i];
		int ag = agg_of(t->s);
		if (strcasecmp(t->s, "inf") == 0 || strcasecmp(t->s, "nan") == 0) {
			next(p);
			n = mk(p, N_NUM, t->pos);
			n->num = strcasecmp(t->s, "inf") == 0 ? INFINITY : NAN;
			n->type = T_SCALAR;
			n->end = t->end;
			return n;
		}
		if (ag >= 0 && (nx->k == K_LPAREN || is_kw(nx, "by") || is_kw(nx, "without"))) {
			next(p);
			return parse_aggregation(p, ag, t->pos);
		}
		if (nx->k == K_LPAREN) {
			const struct func *f = func_lookup(t->s, strlen(t->s));
			if (!f)
				pfail(p, t->pos, "unknown function with name \"%s\"", t->s);
			next(p);
			return parse_call(p, f, t->pos);
		}
		static const char *const reserved[] = {"by", "without", "on", "ignoring", "group_left",
						       "group_right", "bool", "offset", "and", "or",
						       "unless", "atan2"};
		for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
			if (strcasecmp(t->s, reserved[i]) == 0)
				unexpected(p, t, NULL);
		next(p);
		return parse_selector(p, t->s, t->pos);
	}
	default:
		unexpected(p, t, NULL);
	}
}

static bool modifiable(const struct node *n)
{
	return n->k == N_VSEL || n->k == N_MSEL || n->k == N_SUBQ;
}

static struct node *sel_of(struct node *n) { return n->k == N_MSEL ? n->a : n; }

static struct node *parse_postfix(struct ps *p, struct node *n)
{
	for (;;) {
		struct token *t = peek(p);
		if (t->k == K_LBRACK) {
			struct token *d;
			int64_t range, step = 0;
			bool subq = false;
			next(p);
			d = next(p);
			if (d->k != K_DUR)
				unexpected(p, d, "in subquery or range selector, expected duration");
			range = d->dur;
			struct token *sd = NULL;
			if (peek(p)->k == K_COLON) {
				next(p);
				subq = true;
				if (peek(p)->k == K_DUR) {
					sd = next(p);
					step = sd->dur;
				}
			}
			expect(p, K_RBRACK, "in subquery or range selector, expected \"]\"");
			if (range <= 0)
				pfail(p, d->pos, "duration must be greater than 0");
			/* a step given is a step: [1h:0s] is refused, as Prometheus
			 * refuses it, not read as the default */
			if (sd && step <= 0)
				pfail(p, sd->pos, "duration must be greater than 0");
			if (!subq) {
				if (n->k != N_VSEL)
					pfail(p, n->pos, "ranges only allowed for vector selectors");
				if (n->offset || n->at)
					pfail(p, t->pos, "no offset or @ modifiers allowed before range");
				struct node *m = mk(p, N_MSEL, n->pos);
				m->a = n;
				m->range = range;
				m->type = T_MATRIX;
				n = m;
			} else {
				if (n->type != T_VECTOR)
					pfail(p, n->pos, "subquery is only allowed on instant vector, got %s in \"%.*s\" instead",
					      vtype_name(n->type), n->end - n->pos, p->q + n->pos);
				struct node *s = mk(p, N_SUBQ, n->pos);
				s->a = n;
				s->range = range;
				s->step = step;
				s->type = T_MATRIX;
				n = s;
			}
			n->end = p->t[p->i - 1].end;
			continue;
		}
		if (is_kw(t, "offset")) {
			struct token *d;
			bool neg = false;
			next(p);
			if (!modifiable(n))
				pfail(p, t->pos, "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery");
			if (peek(p)->k == K_SUB || peek(p)->k == K_ADD) {
				neg = next(p)->k == K_SUB;
			}
			d = next(p);
			if (d->k != K_DUR)
				unexpected(p, d, "in offset, expected duration");
			if (sel_of(n)->offset || (n->k == N_VSEL && n->offset))
				pfail(p, t->pos, "offset may not be set multiple times");
			sel_of(n)->offset = neg ? -d->dur : d->dur;
			if (!sel_of(n)->offset)
				sel_of(n)->offset = 0;
			n->end = d->end;
			continue;
		}
		if (t->k == K_AT) {
			struct node *s;
			next(p);
			if (!modifiable(n))
				pfail(p, t->pos, "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery");
			s = sel_of(n);
			if (s->at)
				pfail(p, t->pos, "@ <timestamp> may not be set multiple times");
			struct token *v = next(p);
			bool neg = false;
			if (v->k == K_SUB || v->k == K_ADD) {
				neg = v->k == K_SUB;
				v = next(p);
			}
			if (v->k == K_NUM) {
				double ts = neg ? -v->num : v->num;
				if (!isfinite(ts) || fabs(ts) > 9.2e15)
					pfail(p, v->pos, "timestamp out of bounds for @ modifier: %g", ts);
				s->at = AT_TS;
				s->at_ts = (int64_t)llround(ts * 1000);
			} else if ((is_kw(v, "start") || is_kw(v, "end")) && !neg &&
				   peek(p)->k == K_LPAREN) {
				s->at = is_kw(v, "start") ? AT_START : AT_END;
				next(p);
				expect(p, K_RPAREN, "in @ modifier, expected \")\"");
			} else {
				unexpected(p, v, "in @ modifier, expected timestamp, start() or end()");
			}
			n->end = p->t[p->i - 1].end;
			continue;
		}
		return n;
	}
}

static struct node *parse_unary(struct ps *p)
{
	struct token *t = peek(p);
	if (t->k == K_SUB || t->k == K_ADD) {
		struct node *n, *e;
		next(p);
		e = parse_expr(p, 6); /* binds looser than ^ only */
		if (e->type != T_SCALAR && e->type != T_VECTOR)
			pfail(p, t->pos, "unary expression only allowed on expressions of type scalar or instant vector, got %s",
			      vtype_name(e->type));
		if (t->k == K_ADD)
			return e;
		if (e->k == N_NUM) {
			e->num = -e->num;
			e->pos = t->pos;
			return e;
		}
		n = mk(p, N_UNARY, t->pos);
		n->a = e;
		n->type = e->type;
		n->end = e->end;
		return n;
	}
	return parse_postfix(p, parse_primary(p));
}

/* An expression of operators binding at least as tightly as minprec. A
 * chain of them (1 + 2 - 3 ...) is built in this loop, left-deep, however
 * long; what nests (parentheses, arguments, unary operands, right-hand
 * operands) calls it again, one level deeper, at most QUERY_MAX_DEPTH. */
static struct node *parse_expr(struct ps *p, int minprec)
{
	struct node *lhs;
	if (++p->depth > QUERY_MAX_DEPTH)
		pfail(p, peek(p)->pos, "expression nested deeper than %d levels", QUERY_MAX_DEPTH);
	if (qstack_low(p->stack_floor))
		pfail(p, peek(p)->pos, "expression nested too deeply for the stack of the thread parsing it");
	lhs = parse_unary(p);
	for (;;) {
		struct token *t = peek(p);
		int op, prec = binop_of(t, &op);
		struct node *n, *rhs;
		if (!prec || prec < minprec) {
			p->depth--;
			return lhs;
		}
		next(p);
		n = mk(p, N_BIN, lhs->pos);
		n->op = op;
		n->card = OP_IS_SET(op) ? CARD_MANY_MANY : CARD_ONE_ONE;
		if (is_kw(peek(p), "bool")) {
			if (!OP_IS_CMP(op))
				pfail(p, peek(p)->pos, "bool modifier can only be used on comparison operators");
			next(p);
			n->ret_bool = true;
		}
		if (is_kw(peek(p), "on") || is_kw(peek(p), "ignoring")) {
			n->on = is_kw(peek(p), "on");
			n->has_matching = true;
			next(p);
			n->mlabels = parse_label_list(p, &n->nmlabels);
			if (is_kw(peek(p), "group_left") || is_kw(peek(p), "group_right")) {
				struct token *g = next(p);
				if (OP_IS_SET(op))
					pfail(p, g->pos, "no grouping allowed for \"%s\" operation", op_names[op]);
				n->card = is_kw(g, "group_left") ? CARD_MANY_ONE : CARD_ONE_MANY;
				if (peek(p)->k == K_LPAREN)
					n->include = parse_label_list(p, &n->ninclude);
			}
		}
		rhs = parse_expr(p, op == OP_POW ? prec : prec + 1);
		n->a = lhs;
		n->b = rhs;
		n->end = rhs->end;
		for (int side = 0; side < 2; side++) {
			struct node *o = side ? rhs : lhs;
			if (o->type != T_SCALAR && o->type != T_VECTOR)
				pfail(p, o->pos, "binary expression must contain only scalar and instant vector types");
		}
		if (OP_IS_SET(op) && (lhs->type == T_SCALAR || rhs->type == T_SCALAR))
			pfail(p, n->pos, "set operator \"%s\" not allowed in binary scalar expression",
			      op_names[op]);
		if (OP_IS_CMP(op) && !n->ret_bool && lhs->type == T_SCALAR && rhs->type == T_SCALAR)
			pfail(p, n->pos, "comparisons between scalars must use BOOL modifier");
		if (n->has_matching && (lhs->type != T_VECTOR || rhs->type != T_VECTOR))
			pfail(p, n->pos, "vector matching only allowed between instant vectors");
		for (size_t i = 0; n->on && i < n->ninclude; i++)
			for (size_t j = 0; j < n->nmlabels; j++)
				if (strcmp(n->include[i], n->mlabels[j]) == 0)
					pfail(p, n->pos, "label \"%s\" must not occur in ON and GROUP clause at once",
					      n->include[i]);
		n->type = lhs->type == T_VECTOR || rhs->type == T_VECTOR ? T_VECTOR : T_SCALAR;
		lhs = n;
	}
}

/* ---- public ----------------------------------------------------------------------- */

void query_expr_free(struct query_expr *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->nmlists; i++)
		query_matchers_free(x->mlists[i], x->mlens[i]);
	free(x->mlists);
	free(x->mlens);
	qarena_free(&x->a);
	free(x);
}

int query_parse(const char *q, struct query_expr **out, struct query_error *err)
{
	return query_parse_opts(q, NULL, out, err);
}

int query_parse_opts(const char *q, const struct query_opts *o, struct query_expr **out,
		     struct query_error *err)
{
	struct ps p = {0};
	struct query_expr *x = xcalloc(1, sizeof *x);

	*out = NULL;
	p.q = q;
	p.x = x;
	p.stack_floor = qstack_floor();
	if (o) {
		p.deadline_ns = o->deadline_ns;
		x->a.mem = o->mem;
		x->a.refuse = parse_refuse;
		x->a.ctx = &p;
	}
	if (setjmp(p.jb)) {
		query_expr_free(x);
		if (err) {
			err->type = p.etype;
			err->msg = p.msg;
			err->pos = p.epos;
		} else {
			free(p.msg);
		}
		return PW_EINVAL;
	}
	if (strlen(q) > 1 << 20)
		pfail(&p, 0, "query longer than 1 MiB");
	lex(&p);
	if (peek(&p)->k == K_EOF)
		pfail(&p, 0, "no expression found in input");
	x->root = parse_expr(&p, 0);
	if (peek(&p)->k != K_EOF)
		unexpected(&p, peek(&p), NULL);
	/* the expression may outlive the account: nothing more is charged */
	x->a.mem = NULL;
	x->a.refuse = NULL;
	x->a.ctx = NULL;
	*out = x;
	return 0;
}

enum query_type query_expr_type(const struct query_expr *x)
{
	switch (x->root->type) {
	case T_SCALAR: return QUERY_SCALAR;
	case T_MATRIX: return QUERY_MATRIX;
	case T_STRING: return QUERY_STRING;
	default: return QUERY_VECTOR;
	}
}

bool query_expr_is_selector(const struct query_expr *x)
{
	const struct node *n = x->root;
	while (n->k == N_PAREN)
		n = n->a;
	return n->k == N_VSEL && !n->at && !n->offset;
}

const char *query_type_name(enum query_type t)
{
	switch (t) {
	case QUERY_SCALAR: return "scalar";
	case QUERY_MATRIX: return "matrix";
	case QUERY_STRING: return "string";
	default: return "vector";
	}
}

void query_matchers_free(struct store_matcher *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_matcher_free(&m[i]);
	free(m);
}

int query_parse_selector(const char *s, struct store_matcher **out, size_t *nout, char **cause)
{
	struct query_expr *x;
	struct query_error e = {0};
	struct node *n;

	*out = NULL;
	*nout = 0;
	if (query_parse(s, &x, &e) != 0) {
		if (cause)
			*cause = e.msg;
		else
			free(e.msg);
		return PW_EINVAL;
	}
	n = x->root;
	if (n->k != N_VSEL || n->offset || n->at) {
		query_expr_free(x);
		if (cause)
			*cause = xasprintf("1:1: parse error: expected a series selector, got \"%s\"", s);
		return PW_EINVAL;
	}
	*out = xcalloc(n->nm ? n->nm : 1, sizeof **out);
	for (size_t i = 0; i < n->nm; i++)
		store_matcher_init(&(*out)[i], n->m[i].type, n->m[i].name, n->m[i].value, NULL);
	*nout = n->nm;
	query_expr_free(x);
	return 0;
}

char *query_caret(const char *q, int pos)
{
	int ls = pos, le = pos;
	struct pw_buf b;
	if (pos < 0)
		return xstrdup(q);
	while (ls > 0 && q[ls - 1] != '\n')
		ls--;
	while (q[le] && q[le] != '\n')
		le++;
	pw_buf_init(&b, 0);
	pw_buf_printf(&b, "  %.*s\n  ", le - ls, q + ls);
	for (int i = ls; i < pos; i++)
		if ((q[i] & 0xC0) != 0x80) /* one column per character */
			pw_buf_putc(&b, q[i] == '\t' ? '\t' : ' ');
	pw_buf_putc(&b, '^');
	return pw_buf_take(&b);
}

void query_error_clear(struct query_error *e)
{
	free(e->msg);
	e->msg = NULL;
	e->type = QUERY_OK;
	e->pos = -1;
}

const char *query_errtype_name(enum query_errtype t)
{
	switch (t) {
	case QUERY_ERR_BAD_DATA: return "bad_data";
	case QUERY_ERR_EXECUTION: return "execution";
	case QUERY_ERR_TIMEOUT: return "timeout";
	case QUERY_ERR_CANCELED: return "canceled";
	case QUERY_ERR_INTERNAL: return "internal";
	case QUERY_ERR_UNAVAILABLE: return "unavailable";
	default: return "";
	}
}

int query_errtype_status(enum query_errtype t)
{
	switch (t) {
	case QUERY_ERR_BAD_DATA: return 400;
	case QUERY_ERR_EXECUTION: return 422;
	case QUERY_ERR_TIMEOUT: case QUERY_ERR_CANCELED: case QUERY_ERR_UNAVAILABLE: return 503;
	default: return 500;
	}
}
