/*
 * util.c — the query arena, label sets, and number formatting as Go writes
 * it (the API's values must read exactly as Prometheus' do).
 */
#include "query_int.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qarena_blk {
	struct qarena_blk *next;
	size_t cap, off;
	max_align_t data[];
};

#define ALIGN(n) (((n) + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1))

void *qarena_alloc(struct qarena *a, size_t n)
{
	struct qarena_blk *b = a->head;
	void *p;
	n = ALIGN(n ? n : 1);
	if (!b || b->cap - b->off < n) {
		size_t cap = n > 60000 ? n : 64 * 1024 - sizeof *b;
		b = xmalloc(sizeof *b + cap);
		b->cap = cap;
		b->off = 0;
		if (a->head && n > 60000) { /* keep filling the current block */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	p = (char *)b->data + b->off;
	b->off += n;
	memset(p, 0, n);
	a->last = p;
	a->last_len = n;
	a->used += n;
	return p;
}

void *qarena_grow(struct qarena *a, void *p, size_t old, size_t n)
{
	void *q;
	if (p && p == a->last && a->head) {
		struct qarena_blk *b = a->head;
		char *base = (char *)b->data;
		if ((char *)p >= base && (char *)p < base + b->cap) {
			size_t off = (size_t)((char *)p - base), need = ALIGN(n);
			if (off + need <= b->cap) {
				if (need > a->last_len)
					memset((char *)p + a->last_len, 0, need - a->last_len);
				a->used += need - a->last_len;
				b->off = off + need;
				a->last_len = need;
				return p;
			}
		}
	}
	q = qarena_alloc(a, n);
	if (p && old)
		memcpy(q, p, old < n ? old : n);
	return q;
}

char *qarena_strndup(struct qarena *a, const char *s, size_t n)
{
	char *p = qarena_alloc(a, n + 1);
	memcpy(p, s, n);
	return p;
}

char *qarena_strdup(struct qarena *a, const char *s) { return qarena_strndup(a, s, strlen(s)); }

void qarena_free(struct qarena *a)
{
	struct qarena_blk *b = a->head;
	while (b) {
		struct qarena_blk *n = b->next;
		free(b);
		b = n;
	}
	memset(a, 0, sizeof *a);
}

/* ---- label sets ------------------------------------------------------------------ */

static int lcmp(const void *x, const void *y)
{
	const struct pw_label *a = x, *b = y;
	return strcmp(a->name, b->name);
}

static void lset_hash(struct lset *s)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	for (uint32_t i = 0; i < s->n; i++) {
		h = h * 0x100000001b3ULL ^ pw_hash64(s->l[i].name, strlen(s->l[i].name));
		h = h * 0x100000001b3ULL ^ pw_hash64(s->l[i].value, strlen(s->l[i].value));
	}
	s->h = h;
}

struct lset *lset_make(struct qarena *a, const struct pw_label *l, size_t n)
{
	struct lset *s = qarena_alloc(a, sizeof *s + n * sizeof s->l[0]);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (l[i].value && l[i].value[0])
			s->l[k++] = l[i];
	s->n = (uint32_t)k;
	if (k > 16) {
		qsort(s->l, k, sizeof s->l[0], lcmp);
	} else {
		/* insertion: the store's labels come almost sorted */
		for (size_t i = 1; i < k; i++) {
			struct pw_label x = s->l[i];
			size_t j = i;
			while (j > 0 && strcmp(s->l[j - 1].name, x.name) > 0) {
				s->l[j] = s->l[j - 1];
				j--;
			}
			s->l[j] = x;
		}
	}
	lset_hash(s);
	return s;
}

const char *lset_get(const struct lset *s, const char *name)
{
	for (uint32_t i = 0; i < s->n; i++)
		if (strcmp(s->l[i].name, name) == 0)
			return s->l[i].value;
	return NULL;
}

bool lset_eq(const struct lset *a, const struct lset *b)
{
	if (a == b)
		return true;
	if (a->h != b->h || a->n != b->n)
		return false;
	for (uint32_t i = 0; i < a->n; i++)
		if (strcmp(a->l[i].name, b->l[i].name) || strcmp(a->l[i].value, b->l[i].value))
			return false;
	return true;
}

int lset_cmp(const struct lset *a, const struct lset *b)
{
	uint32_t n = a->n < b->n ? a->n : b->n;
	for (uint32_t i = 0; i < n; i++) {
		int c = strcmp(a->l[i].name, b->l[i].name);
		if (c)
			return c;
		if ((c = strcmp(a->l[i].value, b->l[i].value)))
			return c;
	}
	return a->n < b->n ? -1 : a->n > b->n;
}

struct lset *lset_drop_name(struct qarena *a, const struct lset *s)
{
	struct lset *o;
	uint32_t k = 0;
	if (!lset_get(s, "__name__"))
		return (struct lset *)s;
	o = qarena_alloc(a, sizeof *o + s->n * sizeof o->l[0]);
	for (uint32_t i = 0; i < s->n; i++)
		if (strcmp(s->l[i].name, "__name__"))
			o->l[k++] = s->l[i];
	o->n = k;
	lset_hash(o);
	return o;
}

static bool in_list(const char *name, char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

struct lset *lset_project(struct qarena *a, const struct lset *s, bool on, char **names, size_t n)
{
	struct lset *o = qarena_alloc(a, sizeof *o + s->n * sizeof o->l[0]);
	uint32_t k = 0;
	for (uint32_t i = 0; i < s->n; i++) {
		bool listed = in_list(s->l[i].name, names, n);
		if (on ? listed : (!listed && strcmp(s->l[i].name, "__name__")))
			o->l[k++] = s->l[i];
	}
	o->n = k;
	lset_hash(o);
	return o;
}

uint64_t lset_sig(const struct lset *s, bool on, char **names, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	for (uint32_t i = 0; i < s->n; i++) {
		bool listed = in_list(s->l[i].name, names, n);
		if (on ? listed : (!listed && strcmp(s->l[i].name, "__name__"))) {
			h = h * 0x100000001b3ULL ^ pw_hash64(s->l[i].name, strlen(s->l[i].name));
			h = h * 0x100000001b3ULL ^ pw_hash64(s->l[i].value, strlen(s->l[i].value));
		}
	}
	return h;
}

void lset_format(const struct lset *s, struct pw_buf *b)
{
	pw_buf_putc(b, '{');
	for (uint32_t i = 0; i < s->n; i++) {
		if (i)
			pw_buf_puts(b, ", ");
		pw_buf_printf(b, "%s=\"", s->l[i].name);
		for (const char *p = s->l[i].value; *p; p++) {
			if (*p == '"' || *p == '\\')
				pw_buf_putc(b, '\\');
			if (*p == '\n')
				pw_buf_puts(b, "\\n");
			else
				pw_buf_putc(b, *p);
		}
		pw_buf_putc(b, '"');
	}
	pw_buf_putc(b, '}');
}

/* ---- numbers --------------------------------------------------------------------- */

double go_max(double a, double b)
{
	if (isinf(a) && a > 0) return a;
	if (isinf(b) && b > 0) return b;
	if (isnan(a) || isnan(b)) return NAN;
	if (a == 0 && a == b) return signbit(a) ? b : a;
	return a > b ? a : b;
}

double go_min(double a, double b)
{
	if (isinf(a) && a < 0) return a;
	if (isinf(b) && b < 0) return b;
	if (isnan(a) || isnan(b)) return NAN;
	if (a == 0 && a == b) return signbit(a) ? a : b;
	return a < b ? a : b;
}

