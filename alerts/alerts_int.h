/*
 * alerts_int.h — what the files of alerts/ share.
 */
#ifndef PW_ALERTS_INT_H
#define PW_ALERTS_INT_H

#include "alerts.h"
#include "query.h"

/* a small arena for templates' strings */
struct talloc {
	char **p;
	size_t n, cap;
};
void *arena_alloc_t(struct talloc *a, size_t n);
#define arena_alloc(a, n) arena_alloc_t((a), (n))
char *arena_strndup_t(struct talloc *a, const char *s, size_t n);
#define arena_strndup(a, s, n) arena_strndup_t((a), (s), (n))
void talloc_free(struct talloc *a);

struct tmpl_data {
	const struct pw_label *labels, *ext;
	size_t nlabels, next;
	double value;
	struct talloc *a;
};
/* Expand a template (a new string; errors expand to Prometheus' text). */
char *tmpl_expand(const char *t, const struct tmpl_data *d);
/* Go's %v of a float64 */
void go_fmt_v(char *dst, size_t sz, double v);

#endif
