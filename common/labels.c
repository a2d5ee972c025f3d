/*
 * labels.c — the one label set type of pacewatch (struct pw_lset): sorted
 * by name, no empty values, Prometheus' fingerprint as its hash; made on the
 * heap as one reference-counted block, or placed in a caller's memory (an
 * arena) with borrowed strings. The store, PromQL, rules, KPIs, views, the
 * notifier and the collector all hold label sets as this type.
 */
#include "common.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

uint64_t pw_labels_hash(const struct pw_label *l, size_t n, bool skip_name)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++) {
		if (skip_name && l[i].name[0] == '_' && strcmp(l[i].name, "__name__") == 0)
			continue;
		for (const unsigned char *p = (const unsigned char *)l[i].name; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
		for (const unsigned char *p = (const unsigned char *)l[i].value; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	return h;
}

int pw_label_cmp(const void *x, const void *y)
{
	return strcmp(((const struct pw_label *)x)->name, ((const struct pw_label *)y)->name);
}

size_t pw_labels_sort(struct pw_label *l, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (l[i].value && l[i].value[0])
			l[k++] = l[i];
	if (k > 16) {
		qsort(l, k, sizeof *l, pw_label_cmp);
		return k;
	}
	/* insertion: label sets are small and usually come almost sorted */
	for (size_t i = 1; i < k; i++) {
		struct pw_label x = l[i];
		size_t j = i;
		while (j > 0 && strcmp(l[j - 1].name, x.name) > 0) {
			l[j] = l[j - 1];
			j--;
		}
		l[j] = x;
	}
	return k;
}

struct pw_lset *pw_lset_place(void *mem, const struct pw_label *l, size_t n)
{
	struct pw_lset *s = mem;
	if (n)
		memcpy(s->l, l, n * sizeof *l);
	s->n = (uint32_t)pw_labels_sort(s->l, n);
	s->heap = false;
	atomic_init(&s->refs, 0);
	s->h = pw_labels_hash(s->l, s->n, false);
	return s;
}

struct pw_lset *pw_lset_new(const struct pw_label *l, size_t n)
{
	size_t bytes = 0, k = 0;
	for (size_t i = 0; i < n; i++)
		if (l[i].value && l[i].value[0])
			bytes += strlen(l[i].name) + strlen(l[i].value) + 2;
	struct pw_lset *s = xmalloc(PW_LSET_SIZE(n) + bytes);
	char *p = (char *)s + PW_LSET_SIZE(n);
	for (size_t i = 0; i < n; i++) {
		size_t a, b;
		if (!l[i].value || !l[i].value[0])
			continue;
		a = strlen(l[i].name) + 1;
		b = strlen(l[i].value) + 1;
		memcpy(p, l[i].name, a);
		memcpy(p + a, l[i].value, b);
		s->l[k].name = p;
		s->l[k++].value = p + a;
		p += a + b;
	}
	s->n = (uint32_t)pw_labels_sort(s->l, k);
	s->heap = true;
	atomic_init(&s->refs, 1);
	s->h = pw_labels_hash(s->l, s->n, false);
	return s;
}

struct pw_lset *pw_lset_ref(struct pw_lset *s)
{
	if (s && s->heap)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void pw_lset_unref(struct pw_lset *s)
{
	if (s && s->heap && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		free(s);
}

void pw_lset_set(struct pw_lset **slot, struct pw_lset *s)
{
	pw_lset_unref(*slot);
	*slot = s;
}

const char *pw_lset_get(const struct pw_lset *s, const char *name)
{
	return pw_labels_get(s->l, s->n, name);
}

const char *pw_labels_get(const struct pw_label *l, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].name, name) == 0)
			return l[i].value;
	return NULL;
}

bool pw_labels_eq(const struct pw_label *a, size_t na, const struct pw_label *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].name, b[i].name) || strcmp(a[i].value, b[i].value))
			return false;
	return true;
}

bool pw_lset_eq(const struct pw_lset *a, const struct pw_lset *b)
{
	if (a == b)
		return true;
	return a->h == b->h && pw_labels_eq(a->l, a->n, b->l, b->n);
}

bool pw_lset_is(const struct pw_lset *s, uint64_t h, const struct pw_label *l, size_t n)
{
	return s->h == h && pw_labels_eq(s->l, s->n, l, n);
}

int pw_lset_cmp(const struct pw_lset *a, const struct pw_lset *b)
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

void pw_lset_format(const struct pw_lset *s, struct pw_buf *b)
{
	pw_labels_format(s->l, s->n, b);
}

void pw_labels_format(const struct pw_label *l, size_t n, struct pw_buf *b)
{
	pw_buf_putc(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			pw_buf_puts(b, ", ");
		pw_buf_printf(b, "%s=\"", l[i].name);
		for (const char *p = l[i].value; *p; p++) {
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

/* the label a name is: __name__ (checked on its first bytes first: this
 * runs for every label of every sample the store API is handed) */
static inline bool is_name_label(const char *name)
{
	return name[0] == '_' && name[1] == '_' && strcmp(name, "__name__") == 0;
}

int pw_labels_encode(const struct pw_label *l, size_t n, struct pw_buf *out)
{
	const char *metric = NULL;
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_name_label(l[i].name)) {
			if (!metric)
				metric = l[i].value;
		} else
			total += strlen(l[i].name) + strlen(l[i].value) + 2;
	}
	size_t mlen = metric ? strlen(metric) + 1 : 1;
	char *p = pw_buf_grow(out, total + mlen);
	if (!p)
		return PW_ETOOBIG;
	memcpy(p, metric ? metric : "", mlen);
	p += mlen;
	for (size_t i = 0; i < n; i++) {
		if (is_name_label(l[i].name))
			continue;
		size_t a = strlen(l[i].name) + 1, b = strlen(l[i].value) + 1;
		memcpy(p, l[i].name, a);
		memcpy(p + a, l[i].value, b);
		p += a + b;
	}
	return 0;
}

size_t pw_labels_decode(const char *p, size_t len, struct pw_label *l, size_t max)
{
	const char *end = p + len, *z;
	size_t n = 0;
	if (!(z = memchr(p, '\0', len)))
		return 0;
	if (z > p && n < max) {
		l[n].name = "__name__";
		l[n++].value = p;
	}
	p = z + 1;
	while (p < end && n < max) {
		const char *name = p;
		if (!(z = memchr(p, '\0', (size_t)(end - p))) || z + 1 >= end)
			break;
		p = z + 1;
		if (!(z = memchr(p, '\0', (size_t)(end - p))))
			break;
		l[n].name = name;
		l[n++].value = p;
		p = z + 1;
	}
	return n;
}

/* ---- building a label set ------------------------------------------------------ */

void pw_lbuild_init(struct pw_lbuild *b)
{
	memset(b, 0, sizeof *b);
}

void pw_lbuild_free(struct pw_lbuild *b)
{
	for (size_t i = 0; i < b->nown; i++)
		free(b->own[i]);
	free(b->own);
	free(b->l);
	memset(b, 0, sizeof *b);
}

void pw_lbuild_reset(struct pw_lbuild *b)
{
	for (size_t i = 0; i < b->nown; i++)
		free(b->own[i]);
	b->nown = 0;
	b->n = 0;
}

static void lbuild_put(struct pw_lbuild *b, const char *name, const char *value)
{
	for (size_t i = 0; i < b->n; i++) {
		if (strcmp(b->l[i].name, name) == 0) {
			if (!value || !*value)
				b->l[i] = b->l[--b->n]; /* an empty value deletes */
			else
				b->l[i].value = value;
			return;
		}
	}
	if (!value || !*value)
		return;
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 8;
		b->l = xreallocarray(b->l, b->cap, sizeof *b->l);
	}
	b->l[b->n].name = name;
	b->l[b->n++].value = value;
}

void pw_lbuild_set(struct pw_lbuild *b, const char *name, const char *value)
{
	lbuild_put(b, name, value);
}

void pw_lbuild_take(struct pw_lbuild *b, const char *name, char *value)
{
	if (b->nown == b->capown) {
		b->capown = b->capown ? 2 * b->capown : 8;
		b->own = xreallocarray(b->own, b->capown, sizeof *b->own);
	}
	b->own[b->nown++] = value;
	lbuild_put(b, name, value);
}

void pw_lbuild_add(struct pw_lbuild *b, const struct pw_label *l, size_t n, const char *skip)
{
	for (size_t i = 0; i < n; i++)
		if (!skip || strcmp(l[i].name, skip))
			lbuild_put(b, l[i].name, l[i].value);
}

size_t pw_lbuild_sorted(struct pw_lbuild *b)
{
	return b->n = pw_labels_sort(b->l, b->n);
}

struct pw_lset *pw_lbuild_lset(struct pw_lbuild *b)
{
	return pw_lset_new(b->l, b->n);
}
