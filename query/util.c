/*
 * util.c — what parse.c, eval.c and func.c share: the query arena, the
 * label-set operations only PromQL needs (dropping the name, projecting for
 * on/ignoring/by/without, the matching signature) over common's struct
 * pw_lset, and Go's float min and max.
 */
#include "query_int.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
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
		if (a->mem) {
			struct query_error e = {0};
			if (query_mem_charge(a->mem, sizeof *b + cap, &e) != 0) {
				a->refuse(a->ctx, &e);
				abort(); /* refuse does not return */
			}
		}
		b = xmalloc(sizeof *b + cap);
		a->bytes += sizeof *b + cap;
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

/* The charges stay with the account: its owner gives them back. */
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

/* ---- the stack ----------------------------------------------------------------------- */

/* what a frame of the parser or the evaluator may still call below it (the
 * store, formatting, the regex matcher): a quarter of the stack, at most
 * 256 KiB */
#define STACK_SPARE (256 * 1024)

uintptr_t qstack_floor(void)
{
	static _Thread_local uintptr_t floor_;
	static _Thread_local bool known;
	if (!known) {
		pthread_attr_t a;
		void *addr;
		size_t size;
		known = true;
		if (pthread_getattr_np(pthread_self(), &a) == 0) {
			if (pthread_attr_getstack(&a, &addr, &size) == 0)
				floor_ = (uintptr_t)addr + (size / 4 < STACK_SPARE ? size / 4 : STACK_SPARE);
			pthread_attr_destroy(&a);
		}
	}
	return floor_;
}

/* ---- label sets ------------------------------------------------------------------ */

struct pw_lset *qlabels_make(struct qarena *a, const struct pw_label *l, size_t n)
{
	static const struct pw_label none[1];
	return pw_lset_place(qarena_alloc(a, PW_LSET_SIZE(n)), n ? l : none, n);
}

static bool in_list(const char *name, char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* Does on/ignoring (by/without) names keep this label? Without also drops
 * the metric name. */
static bool qlabels_keeps(const char *name, bool on, char **names, size_t n)
{
	bool listed = in_list(name, names, n);
	return on ? listed : !listed && strcmp(name, "__name__") != 0;
}

struct pw_lset *qlabels_project(struct qarena *a, const struct pw_lset *s, bool on, char **names,
				size_t n)
{
	struct pw_label buf[64], *l = s->n <= 64 ? buf : qarena_alloc(a, s->n * sizeof *l);
	size_t k = 0;
	for (uint32_t i = 0; i < s->n; i++)
		if (qlabels_keeps(s->l[i].name, on, names, n))
			l[k++] = s->l[i];
	return qlabels_make(a, l, k);
}

struct pw_lset *qlabels_drop_name(struct qarena *a, const struct pw_lset *s)
{
	if (!pw_lset_get(s, "__name__"))
		return (struct pw_lset *)s;
	return qlabels_project(a, s, false, NULL, 0); /* without (): all but the name */
}

uint64_t qlabels_sig(const struct pw_lset *s, bool on, char **names, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	for (uint32_t i = 0; i < s->n; i++) {
		if (qlabels_keeps(s->l[i].name, on, names, n)) {
			h = h * 0x100000001b3ULL ^ pw_hash64(s->l[i].name, strlen(s->l[i].name));
			h = h * 0x100000001b3ULL ^ pw_hash64(s->l[i].value, strlen(s->l[i].value));
		}
	}
	return h;
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

