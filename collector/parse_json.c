/*
 * parse_json.c — JSON platform responses to samples, through the mappings
 * of a target's "metrics" (conf.h). Paths are a JSONPath subset:
 *   $ (root), @ (the element), @parent / @parent2 / @parent3 (enclosing
 *   elements), .key, ['key'], [n], [-n], [*], .* (object values: their
 *   keys become @key), [?(@.field == 'x')] with == != < <= > >= or bare
 *   existence, and the suffix .@key for the key of a context.
 * Pure: bytes in, samples out through a callback; errors name the
 * mapping, the path and the offending text. Fuzzed.
 */
#include "collector_int.h"

#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tree's memory -------------------------------------------------------
 * jansson allocates every value, key and hashtable of a response on its own
 * (over a thousand mallocs for a page of 200 elements) and the scrape frees
 * them all together a moment later. While jsonmap_apply parses and walks a
 * response, the thread's allocations for jansson come from one arena instead
 * and the whole tree goes at once. Everywhere else (other threads, any other
 * use of jansson) jansson allocates with malloc as before: the functions
 * below are jansson's allocator for the whole process, and pass through to
 * malloc and free unless the calling thread is inside jsonmap_apply. */

struct tree_block {
	struct tree_block *next; /* older */
	size_t size, used;
	alignas(max_align_t) unsigned char mem[];
};

static _Thread_local struct {
	struct tree_block *blocks; /* newest first */
	bool active;
} tree;

/* A response's tree is mostly 16- to 100-byte pieces: start with 64 KiB and
 * double; keep at most this much for the next response. */
#define TREE_FIRST_BLOCK ((size_t)64 << 10)
#define TREE_KEEP_BLOCK ((size_t)1 << 20)

static void *tree_malloc(size_t n)
{
	struct tree_block *b = tree.blocks;
	const size_t align = alignof(max_align_t);
	void *p;

	if (!tree.active)
		return malloc(n);
	n = (n + align - 1) & ~(align - 1);
	if (!b || b->size - b->used < n) {
		size_t size = b ? b->size * 2 : TREE_FIRST_BLOCK;
		while (size < n)
			size *= 2;
		b = xmalloc(sizeof *b + size);
		b->size = size;
		b->used = 0;
		b->next = tree.blocks;
		tree.blocks = b;
	}
	p = b->mem + b->used;
	b->used += n;
	return p;
}

static void tree_free(void *p)
{
	if (!p)
		return;
	if (tree.active)
		for (struct tree_block *b = tree.blocks; b; b = b->next)
			if ((unsigned char *)p >= b->mem && (unsigned char *)p < b->mem + b->size)
				return; /* goes with the whole tree */
	free(p);
}

static pthread_once_t tree_once = PTHREAD_ONCE_INIT;
static void tree_install(void) { json_set_alloc_funcs(tree_malloc, tree_free); }

void jsonmap_init(void) { pthread_once(&tree_once, tree_install); }

/* Start a response's tree: jansson allocates from the arena. */
static void tree_begin(void)
{
	jsonmap_init();
	tree.active = true;
}

/* The tree is gone (nothing of it is used after this): the newest block,
 * when not too large, stays for the next response. */
static void tree_end(void)
{
	struct tree_block *keep = tree.blocks, *b, *next;

	tree.active = false;
	if (keep && keep->size > TREE_KEEP_BLOCK)
		keep = NULL;
	for (b = tree.blocks; b; b = next) {
		next = b->next;
		if (b != keep)
			free(b);
	}
	if (keep) {
		keep->next = NULL;
		keep->used = 0;
	}
	tree.blocks = keep;
}

enum step_kind { S_KEY, S_INDEX, S_ALL, S_FILTER };
enum cmp_op { OP_EXISTS, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

struct jpath;

struct step {
	enum step_kind kind;
	char *key;
	long index;
	/* filter */
	struct jpath *fpath;
	enum cmp_op op;
	json_t *lit;
};

struct jpath {
	int ctx;      /* -1: root ($); 0: element (@); k > 0: k-th enclosing element */
	bool key_of;  /* ends in .@key (or is @key) */
	struct step *steps;
	size_t n;
};

struct jsonmap {
	char *metric, *help, *type;
	struct jpath *path, *value, *ts;
	size_t nlabels;
	char **label_names;
	struct jpath **labels;
	struct conf_kvs value_map;
};

static void jpath_free(struct jpath *p);

static void step_free(struct step *s)
{
	free(s->key);
	if (s->fpath)
		jpath_free(s->fpath);
	if (s->lit)
		json_decref(s->lit);
}

static void jpath_free(struct jpath *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		step_free(&p->steps[i]);
	free(p->steps);
	free(p);
}

static struct step *add_step(struct jpath *p, enum step_kind k)
{
	p->steps = xreallocarray(p->steps, p->n + 1, sizeof *p->steps);
	memset(&p->steps[p->n], 0, sizeof p->steps[p->n]);
	p->steps[p->n].kind = k;
	return &p->steps[p->n++];
}

static int perr(char **cause, const char *src, const char *at, const char *what)
{
	*cause = xasprintf("path \"%s\", character %zu: %s", src, (size_t)(at - src) + 1, what);
	return PW_EINVAL;
}

static void skip_sp(const char **p)
{
	while (**p == ' ')
		(*p)++;
}

/* A quoted string 'x' or "x" with \\ and \' \" escapes. */
static char *quoted(const char **pp)
{
	const char *p = *pp;
	char q = *p++;
	struct pw_buf b;

	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "");
	while (*p && *p != q) {
		if (*p == '\\' && p[1])
			p++;
		pw_buf_putc(&b, *p++);
	}
	if (*p != q) {
		pw_buf_free(&b);
		return NULL;
	}
	*pp = p + 1;
	return pw_buf_take(&b);
}

static int parse_path(const char *src, const char **pp, struct jpath **out, char **cause,
		      bool in_filter);

static int parse_filter(const char *src, const char **pp, struct step *st, char **cause)
{
	const char *p = *pp;
	int rc;

	skip_sp(&p);
	if (*p != '@')
		return perr(cause, src, p, "a filter starts with @");
	if ((rc = parse_path(src, &p, &st->fpath, cause, true)) != 0)
		return rc;
	skip_sp(&p);
	if (p[0] == '=' && p[1] == '=') { st->op = OP_EQ; p += 2; }
	else if (p[0] == '!' && p[1] == '=') { st->op = OP_NE; p += 2; }
	else if (p[0] == '<' && p[1] == '=') { st->op = OP_LE; p += 2; }
	else if (p[0] == '>' && p[1] == '=') { st->op = OP_GE; p += 2; }
	else if (p[0] == '<') { st->op = OP_LT; p += 1; }
	else if (p[0] == '>') { st->op = OP_GT; p += 1; }
	else st->op = OP_EXISTS;
	if (st->op != OP_EXISTS) {
		skip_sp(&p);
		if (*p == '\'' || *p == '"') {
			char *s = quoted(&p);
			if (!s)
				return perr(cause, src, p, "unterminated string in filter");
			st->lit = json_string(s);
			free(s);
		} else {
			const char *e = p;
			char tmp[64];
			json_error_t je;
			while (*e && *e != ')' && *e != ' ')
				e++;
			if (e == p || (size_t)(e - p) >= sizeof tmp)
				return perr(cause, src, p, "expected a literal after the operator");
			memcpy(tmp, p, (size_t)(e - p));
			tmp[e - p] = '\0';
			st->lit = json_loads(tmp, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
			if (!st->lit)
				return perr(cause, src, p, "expected a number, 'string', true, false or null");
			p = e;
		}
	}
	skip_sp(&p);
	if (p[0] != ')' || p[1] != ']')
		return perr(cause, src, p, "expected \")]\" to close the filter");
	*pp = p + 2;
	return 0;
}

/* Parse a path starting at *pp; stops at the end, or in a filter at an
 * operator or ')'. */
static int parse_path(const char *src, const char **pp, struct jpath **out, char **cause,
		      bool in_filter)
{
	const char *p = *pp;
	struct jpath *jp = xcalloc(1, sizeof *jp);
	int rc;

	if (*p == '$') {
		jp->ctx = -1;
		p++;
	} else if (strncmp(p, "@key", 4) == 0 &&
		   (p[4] == '\0' || (in_filter && strchr("=!<> )", p[4])))) {
		jp->ctx = 0;
		jp->key_of = true;
		p += 4;
		goto done;
	} else if (strncmp(p, "@parent", 7) == 0) {
		p += 7;
		jp->ctx = 1;
		if (*p >= '2' && *p <= '9')
			jp->ctx = *p++ - '0';
	} else if (*p == '@') {
		jp->ctx = 0;
		p++;
	} else {
		rc = perr(cause, src, p, "a path starts with $ (the response), @ (the element) or "
					 "@parent");
		goto fail;
	}
	while (*p && !(in_filter && strchr("=!<>) ", *p))) {
		if (p[0] == '.' && p[1] == '@' && strncmp(p + 2, "key", 3) == 0 && !p[5]) {
			jp->key_of = true;
			p += 5;
			break;
		}
		if (p[0] == '.' && p[1] == '*') {
			add_step(jp, S_ALL);
			p += 2;
		} else if (p[0] == '.') {
			const char *s = ++p;
			while (*p && !strchr(".[", *p) && !(in_filter && strchr("=!<>) ", *p)))
				p++;
			if (p == s) {
				rc = perr(cause, src, p, "expected a key after '.'");
				goto fail;
			}
			add_step(jp, S_KEY)->key = xstrndup(s, (size_t)(p - s));
		} else if (p[0] == '[') {
			p++;
			skip_sp(&p);
			if (*p == '*') {
				add_step(jp, S_ALL);
				p++;
			} else if (*p == '\'' || *p == '"') {
				char *k = quoted(&p);
				if (!k) {
					rc = perr(cause, src, p, "unterminated quoted key");
					goto fail;
				}
				add_step(jp, S_KEY)->key = k;
			} else if (*p == '?' && p[1] == '(') {
				struct step *st = add_step(jp, S_FILTER);
				p += 2;
				if ((rc = parse_filter(src, &p, st, cause)) != 0)
					goto fail;
				continue; /* parse_filter consumed ")]" */
			} else if ((*p >= '0' && *p <= '9') || *p == '-') {
				char *e;
				long n = strtol(p, &e, 10);
				if (e == p || (*p == '-' && e == p + 1)) {
					rc = perr(cause, src, p, "expected an index");
					goto fail;
				}
				add_step(jp, S_INDEX)->index = n;
				p = e;
			} else {
				rc = perr(cause, src, p, "expected *, an index, a 'key' or ?( after '['");
				goto fail;
			}
			skip_sp(&p);
			if (*p != ']') {
				rc = perr(cause, src, p, "expected ']'");
				goto fail;
			}
			p++;
		} else {
			rc = perr(cause, src, p, "expected '.' or '['");
			goto fail;
		}
	}
done:
	*pp = p;
	*out = jp;
	return 0;
fail:
	jpath_free(jp);
	return rc;
}

static int compile_path(const char *src, struct jpath **out, char **cause)
{
	const char *p = src;
	int rc = parse_path(src, &p, out, cause, false);
	if (rc == 0 && *p) {
		jpath_free(*out);
		*out = NULL;
		return perr(cause, src, p, "unexpected text after the path");
	}
	return rc;
}

void jsonmap_free(struct jsonmap *m)
{
	if (!m)
		return;
	jpath_free(m->path);
	jpath_free(m->value);
	jpath_free(m->ts);
	for (size_t i = 0; i < m->nlabels; i++) {
		free(m->label_names[i]);
		jpath_free(m->labels[i]);
	}
	free(m->label_names);
	free(m->labels);
	for (size_t i = 0; i < m->value_map.n; i++) {
		free(m->value_map.v[i].name);
		free(m->value_map.v[i].value);
	}
	free(m->value_map.v);
	free(m->metric);
	free(m->help);
	free(m->type);
	free(m);
}

int jsonmap_compile(const struct conf_json_metric *c, struct jsonmap **out, char **cause)
{
	struct jsonmap *m = xcalloc(1, sizeof *m);
	char *why = NULL;
	int rc;

	*out = NULL;
	m->metric = xstrdup(c->metric);
	m->help = c->help ? xstrdup(c->help) : NULL;
	m->type = c->type ? xstrdup(c->type) : NULL;
	if ((rc = compile_path(c->path ? c->path : "$", &m->path, &why)) != 0 ||
	    (rc = compile_path(c->value, &m->value, &why)) != 0 ||
	    (c->timestamp && (rc = compile_path(c->timestamp, &m->ts, &why)) != 0))
		goto fail;
	m->label_names = xcalloc(c->labels.n + 1, sizeof *m->label_names);
	m->labels = xcalloc(c->labels.n + 1, sizeof *m->labels);
	for (size_t i = 0; i < c->labels.n; i++) {
		if ((rc = compile_path(c->labels.v[i].value, &m->labels[i], &why)) != 0)
			goto fail;
		m->label_names[i] = xstrdup(c->labels.v[i].name);
		m->nlabels++;
	}
	m->value_map.v = xcalloc(c->value_map.n + 1, sizeof *m->value_map.v);
	for (size_t i = 0; i < c->value_map.n; i++) {
		m->value_map.v[i].name = xstrdup(c->value_map.v[i].name);
		m->value_map.v[i].value = xstrdup(c->value_map.v[i].value);
	}
	m->value_map.n = c->value_map.n;
	*out = m;
	return 0;
fail:
	*cause = xasprintf("metric \"%s\": %s", c->metric, why);
	free(why);
	jsonmap_free(m);
	return rc;
}

/* ---- evaluation ------------------------------------------------------------ */

struct level {       /* an element and how it was reached */
	json_t *node;
	const char *keyp; /* its object key (in the tree), or NULL: */
	size_t index;     /* its index in an array */
	char key[24];     /* the index as text, for @key, made when asked for */
};

/* One step of where the walk is: an object's key or an array's index. */
struct seg {
	const char *key; /* NULL: index */
	size_t index;
};

struct ctx {
	struct level *levels; /* levels[0] is the root */
	size_t nlevels, cap;
	/* where the walk is, for error messages (made into text only then) */
	struct seg *segs;
	size_t nsegs, capsegs;
};

static void push(struct ctx *c, json_t *node, const char *key, size_t index)
{
	struct level *l;
	if (c->nlevels == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->levels = xreallocarray(c->levels, c->cap, sizeof *c->levels);
	}
	l = &c->levels[c->nlevels++];
	l->node = node;
	l->keyp = key;
	l->index = index;
}

static const char *level_key(struct level *l)
{
	if (l->keyp)
		return l->keyp;
	snprintf(l->key, sizeof l->key, "%zu", l->index);
	return l->key;
}

static void seg_push(struct ctx *c, const char *key, size_t index)
{
	if (c->nsegs == c->capsegs) {
		c->capsegs = c->capsegs ? c->capsegs * 2 : 8;
		c->segs = xreallocarray(c->segs, c->capsegs, sizeof *c->segs);
	}
	c->segs[c->nsegs++] = (struct seg){key, index};
}

static json_t *resolve(const struct jpath *p, struct ctx *c, const char **key);

static int cmp_num(double a, double b) { return a < b ? -1 : a > b; }

static bool filter_ok(const struct step *st, json_t *elem, struct ctx *c)
{
	const char *k;
	json_t *v;
	/* the filter's @ is the candidate element */
	push(c, elem, "", 0);
	v = resolve(st->fpath, c, &k);
	c->nlevels--;
	if (st->op == OP_EXISTS)
		return v != NULL && !json_is_null(v) && !json_is_false(v);
	if (!v)
		return st->op == OP_NE; /* a missing field differs from any value */
	if ((json_is_number(v) && json_is_number(st->lit)) ||
	    (json_is_string(v) && json_is_string(st->lit))) {
		int r = json_is_number(v)
				? cmp_num(json_number_value(v), json_number_value(st->lit))
				: strcmp(json_string_value(v), json_string_value(st->lit));
		switch (st->op) {
		case OP_EQ: return r == 0;
		case OP_NE: return r != 0;
		case OP_LT: return r < 0;
		case OP_LE: return r <= 0;
		case OP_GT: return r > 0;
		case OP_GE: return r >= 0;
		default: return false;
		}
	}
	if (st->op == OP_EQ)
		return json_equal(v, st->lit);
	if (st->op == OP_NE)
		return !json_equal(v, st->lit);
	return false;
}

/* A single-valued path (value, label, timestamp): wildcards take the
 * first match. */
static json_t *resolve(const struct jpath *p, struct ctx *c, const char **key)
{
	json_t *n;
	const char *k;
	size_t lvl;

	if (p->ctx < 0) {
		lvl = 0;
	} else {
		if (c->nlevels < (size_t)p->ctx + 1)
			return NULL;
		lvl = c->nlevels - 1 - (size_t)p->ctx;
	}
	n = c->levels[lvl].node;
	k = level_key(&c->levels[lvl]);
	for (size_t i = 0; i < p->n && n; i++) {
		const struct step *s = &p->steps[i];
		switch (s->kind) {
		case S_KEY:
			k = s->key;
			n = json_is_object(n) ? json_object_get(n, s->key) : NULL;
			break;
		case S_INDEX: {
			long idx = s->index;
			if (!json_is_array(n))
				return NULL;
			if (idx < 0)
				idx += (long)json_array_size(n);
			n = idx >= 0 ? json_array_get(n, (size_t)idx) : NULL;
			k = NULL;
			break;
		}
		default:
			return NULL; /* wildcards and filters select elements, not values */
		}
	}
	if (key)
		*key = k;
	return n;
}

struct emit {
	const struct jsonmap *m;
	const struct pw_tz *tz;
	int64_t now_ms;
	jsonmap_sample_cb cb;
	void *cbctx;
	char **cause;
	size_t nsamples;
};

static char *where(const struct ctx *c)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_buf_putc(&b, '$');
	for (size_t i = 0; i < c->nsegs; i++) {
		if (c->segs[i].key)
			pw_buf_printf(&b, "['%s']", c->segs[i].key);
		else
			pw_buf_printf(&b, "[%zu]", c->segs[i].index);
	}
	return pw_buf_take(&b);
}

static int fail_at(struct emit *e, const struct ctx *c, const char *what, const char *path,
		   json_t *v)
{
	char *w = where(c), *text = NULL;
	if (v && json_is_number(v)) {
		char num[64];
		pw_fmt_float(num, sizeof num, json_number_value(v), PW_FMT_PROM);
		text = xstrdup(num);
	} else if (v) {
		char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT); /* jansson's memory */
		text = d ? xstrdup(d) : NULL;
		tree_free(d);
	}
	char esc[160];
	pw_esc(esc, sizeof esc, text ? text : "nothing", strlen(text ? text : "nothing"));
	*e->cause = xasprintf("metric \"%s\", element %s: %s \"%s\": %s, found %s", e->m->metric, w,
			      what, path, what[0] == 'v' ? "expected a number" :
				      what[0] == 't' ? "expected a time" : "expected a text",
			      esc);
	free(w);
	free(text);
	return PW_EINVAL;
}

/* A number written as text: 1, 0 when it is none, -1 when it overflows a
 * 64-bit float ("1e400"). */
static int num_text(const char *s, double *out)
{
	const char *e;
	size_t n;
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || pw_parse_double(s, s + n, out, &e) != 0 || e != s + n)
		return 0;
	return collector_overflow(s, n, *out) ? -1 : 1;
}

static bool num_from_text(const char *s, double *out) { return num_text(s, out) > 0; }

static const char *map_lookup(const struct conf_kvs *map, const char *k)
{
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->v[i].name, k) == 0)
			return map->v[i].value;
	return NULL;
}

/* The value of element: 1 with a number, 0 when absent/null (no sample). */
static int value_of(struct emit *e, struct ctx *c, double *out)
{
	const char *k, *mapped;
	json_t *v = resolve(e->m->value, c, &k);

	if (e->m->value->key_of) {
		/* a key as a value: through value_map or as a number */
		if (!k)
			return 0;
		if ((mapped = map_lookup(&e->m->value_map, k)) && num_from_text(mapped, out))
			return 1;
		if (num_from_text(k, out))
			return 1;
		{
			json_t *s = json_string(k);
			int rc = fail_at(e, c, "value", "@key", s);
			json_decref(s);
			return rc;
		}
	}
	if (!v || json_is_null(v))
		return 0;
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 1;
	}
	if (json_is_string(v)) {
		if ((mapped = map_lookup(&e->m->value_map, json_string_value(v))) &&
		    num_from_text(mapped, out))
			return 1;
		if (num_from_text(json_string_value(v), out))
			return 1;
		if (num_text(json_string_value(v), out) < 0) {
			char *w = where(c), esc[96];
			const char *sv = json_string_value(v);
			pw_esc(esc, sizeof esc, sv, strlen(sv));
			*e->cause = xasprintf("metric \"%s\", element %s: value: number out of range: "
					      "\"%s\"", e->m->metric, w, esc);
			free(w);
			return PW_EINVAL;
		}
	}
	if (json_is_boolean(v)) {
		const char *b = json_is_true(v) ? "true" : "false";
		if ((mapped = map_lookup(&e->m->value_map, b)) && num_from_text(mapped, out))
			return 1;
		*out = json_is_true(v) ? 1 : 0;
		return 1;
	}
	return fail_at(e, c, "value", "value", v);
}

static int ts_of(struct emit *e, struct ctx *c, int64_t *out)
{
	json_t *v;
	double d;

	*out = e->now_ms;
	if (!e->m->ts)
		return 0;
	v = resolve(e->m->ts, c, NULL);
	if (!v || json_is_null(v))
		return 0;
	if (json_is_number(v))
		d = json_number_value(v);
	else if (json_is_string(v) && num_from_text(json_string_value(v), &d))
		;
	else if (json_is_string(v)) {
		int64_t ms;
		if (pw_parse_time(json_string_value(v), e->tz, &ms) != 0)
			return fail_at(e, c, "timestamp", "timestamp", v);
		*out = ms;
		return 0;
	} else
		return fail_at(e, c, "timestamp", "timestamp", v);
	if (!isfinite(d) || fabs(d) > 9e15)
		return fail_at(e, c, "timestamp", "timestamp", v);
	/* epoch seconds (up to year 5138) or milliseconds */
	*out = fabs(d) < 1e11 ? (int64_t)llround(d * 1000) : (int64_t)llround(d);
	return 0;
}

static int emit_one(struct emit *e, struct ctx *c)
{
	struct pw_label ls[PT_MAX_LABELS + 1];
	char *owned[PT_MAX_LABELS + 1];
	size_t nl = 1, no = 0;
	double v;
	int64_t ts;
	int rc;

	rc = value_of(e, c, &v);
	if (rc <= 0)
		return rc;
	if ((rc = ts_of(e, c, &ts)) != 0)
		return rc;
	ls[0].name = "__name__";
	ls[0].value = e->m->metric;
	for (size_t i = 0; i < e->m->nlabels && nl < PT_MAX_LABELS; i++) {
		const char *k;
		json_t *lv = resolve(e->m->labels[i], c, &k);
		const char *text = NULL;
		if (e->m->labels[i]->key_of) {
			text = k;
		} else if (!lv || json_is_null(lv)) {
			continue; /* absent label */
		} else if (json_is_string(lv)) {
			text = json_string_value(lv);
		} else if (json_is_number(lv) || json_is_boolean(lv)) {
			char num[64];
			if (json_is_boolean(lv))
				snprintf(num, sizeof num, "%s", json_is_true(lv) ? "true" : "false");
			else
				pw_fmt_float(num, sizeof num, json_number_value(lv), PW_FMT_PROM);
			text = owned[no++] = xstrdup(num);
		} else {
			rc = fail_at(e, c, "label", e->m->label_names[i], lv);
			goto out;
		}
		if (!text || !*text)
			continue;
		ls[nl].name = e->m->label_names[i];
		ls[nl++].value = text;
	}
	rc = e->cb(e->cbctx, ls, nl, ts, v);
	if (rc == 0)
		e->nsamples++;
out:
	for (size_t i = 0; i < no; i++)
		free(owned[i]);
	return rc;
}

/* Walk the selector path from node n. Wildcards and filters open a new
 * level (an element, with its key); plain keys and indexes only move
 * along. The node the path ends on is the element a sample comes from. */
static int walk(struct emit *e, struct ctx *c, json_t *n, const char *key, size_t index,
		size_t si)
{
	const struct jpath *p = e->m->path;
	int rc;

	if (si == p->n) {
		if (c->levels[c->nlevels - 1].node == n)
			return emit_one(e, c);
		push(c, n, key, index);
		rc = emit_one(e, c);
		c->nlevels--;
		return rc;
	}
	const struct step *s = &p->steps[si];
	switch (s->kind) {
	case S_KEY: {
		void *it = json_is_object(n) ? json_object_iter_at(n, s->key) : NULL;
		if (!it)
			return 0;
		seg_push(c, s->key, 0);
		rc = walk(e, c, json_object_iter_value(it), json_object_iter_key(it), 0, si + 1);
		c->nsegs--;
		return rc;
	}
	case S_INDEX: {
		long idx = s->index;
		json_t *x;
		if (!json_is_array(n))
			return 0;
		if (idx < 0)
			idx += (long)json_array_size(n);
		if (idx < 0 || !(x = json_array_get(n, (size_t)idx)))
			return 0;
		seg_push(c, NULL, (size_t)idx);
		rc = walk(e, c, x, NULL, (size_t)idx, si + 1);
		c->nsegs--;
		return rc;
	}
	case S_ALL:
	case S_FILTER:
		if (json_is_array(n)) {
			size_t i;
			json_t *x;
			json_array_foreach(n, i, x) {
				if (s->kind == S_FILTER && !filter_ok(s, x, c))
					continue;
				seg_push(c, NULL, i);
				push(c, x, NULL, i);
				rc = walk(e, c, x, NULL, i, si + 1);
				c->nlevels--;
				c->nsegs--;
				if (rc)
					return rc;
			}
		} else if (json_is_object(n)) {
			const char *k;
			json_t *x;
			json_object_foreach(n, k, x) {
				if (s->kind == S_FILTER && !filter_ok(s, x, c))
					continue;
				seg_push(c, k, 0);
				push(c, x, k, 0);
				rc = walk(e, c, x, k, 0, si + 1);
				c->nlevels--;
				c->nsegs--;
				if (rc)
					return rc;
			}
		}
		return 0;
	}
	return 0;
}

/* A platform's JSON, before jansson builds it: nesting and the number of
 * values (keys counted) bounded, so that neither the parser's depth nor
 * the tree's memory (some 130 bytes a value) follows the response's will.
 * 0, or PW_EINVAL with *cause. */
static int json_bounds(const char *body, size_t len, char **cause)
{
	size_t depth = 0, values = 0;
	bool in_str = false, in_scalar = false;

	for (size_t i = 0; i < len; i++) {
		char ch = body[i];
		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = false;
			continue;
		}
		switch (ch) {
		case '[':
		case '{':
			if (++depth > JSON_MAX_DEPTH) {
				*cause = xasprintf("response nests arrays and objects deeper than %d levels "
						   "(at byte %zu)", JSON_MAX_DEPTH, i);
				return PW_EINVAL;
			}
			values++;
			in_scalar = false;
			break;
		case ']':
		case '}':
			if (depth)
				depth--;
			in_scalar = false;
			break;
		case '"':
			in_str = true;
			values++;
			in_scalar = false;
			break;
		case ',':
		case ':':
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			in_scalar = false;
			break;
		default:
			if (!in_scalar)
				values++;
			in_scalar = true;
		}
		if (values > JSON_MAX_VALUES) {
			*cause = xasprintf("response holds more than %d JSON values", JSON_MAX_VALUES);
			return PW_EINVAL;
		}
	}
	return 0;
}

int jsonmap_apply(struct jsonmap *const *maps, size_t nmaps, const char *body, size_t len,
		  const struct pw_tz *tz, int64_t now_ms, jsonmap_sample_cb cb, void *cbctx,
		  size_t *nsamples, char **cause)
{
	json_error_t je;
	json_t *root;
	struct ctx c = {0};
	int rc = 0;

	*nsamples = 0;
	if (json_bounds(body, len, cause) != 0)
		return PW_EINVAL;
	/* big integers and tiny/huge numbers all as doubles; the tree in the
	 * arena, gone at tree_end() */
	tree_begin();
	root = json_loadb(body, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
	if (!root) {
		tree_end();
		*cause = xasprintf("response is not valid JSON: line %d, column %d: %s", je.line,
				   je.column, je.text);
		return PW_EINVAL;
	}
	for (size_t i = 0; i < nmaps && rc == 0; i++) {
		struct emit e = {maps[i], tz, now_ms, cb, cbctx, cause, 0};
		const struct jpath *p = maps[i]->path;
		c.nlevels = 0;
		c.nsegs = 0;
		push(&c, root, "$", 0);
		if (p->ctx > 0) {
			*cause = xasprintf("metric \"%s\": \"path\" must start with $ or @",
					   maps[i]->metric);
			rc = PW_EINVAL;
			break;
		}
		rc = walk(&e, &c, root, "$", 0, 0);
		*nsamples += e.nsamples;
	}
	free(c.levels);
	free(c.segs);
	tree_end(); /* the whole tree at once: no json_decref */
	return rc;
}

const char *jsonmap_metric(const struct jsonmap *m) { return m->metric; }
const char *jsonmap_help(const struct jsonmap *m) { return m->help; }
const char *jsonmap_type(const struct jsonmap *m) { return m->type; }

int jsonmap_lookup(const char *body, size_t len, const char *path, char **out)
{
	json_error_t je;
	json_t *root, *v;
	struct jpath *jp = NULL;
	struct ctx c = {0};
	char *why = NULL;
	int rc = 0;

	*out = NULL;
	if (compile_path(path, &jp, &why) != 0 || json_bounds(body, len, &why) != 0) {
		free(why);
		jpath_free(jp);
		return PW_EINVAL;
	}
	root = json_loadb(body, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
	if (!root) {
		jpath_free(jp);
		return PW_EINVAL;
	}
	push(&c, root, "$", 0);
	v = resolve(jp, &c, NULL);
	if (v && json_is_string(v)) {
		*out = xstrdup(json_string_value(v));
		rc = 1;
	} else if (v && (json_is_number(v) || json_is_boolean(v))) {
		char num[64];
		if (json_is_boolean(v))
			snprintf(num, sizeof num, "%s", json_is_true(v) ? "true" : "false");
		else
			pw_fmt_float(num, sizeof num, json_number_value(v), PW_FMT_PROM);
		*out = xstrdup(num);
		rc = 1;
	} else if (v && json_is_array(v)) {
		*out = xasprintf("%zu", json_array_size(v)); /* a list: its length */
		rc = 1;
	}
	free(c.levels);
	jpath_free(jp);
	json_decref(root);
	return rc;
}
