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
	const struct pw_label *kpi; /* $kpi.x: a KPI alert's numbers, as text */
	size_t nkpi;
	/* notification templates: more maps (".GroupLabels." -> labels) and
	 * scalar fields (".Status" -> "firing"); html escapes what actions write */
	const struct tmpl_map *maps;
	size_t nmaps;
	const struct pw_label *fields;
	size_t nfields;
	bool html;
};
struct tmpl_map {
	const char *prefix;
	const struct pw_label *v;
	size_t n;
};
/* Expand a template (a new string; errors expand to Prometheus' text). */
char *tmpl_expand(const char *t, const struct tmpl_data *d);
/* Go's %v of a float64 */
void go_fmt_v(char *dst, size_t sz, double v);

/* rules.c, for kpi.c: KPI alerts are alerting rules whose results the KPI
 * engine hands in (with $kpi.* values per series) instead of a query. */
struct rules;
struct group;
struct rule;
void rules_feed_alert(struct rules *r, size_t group, size_t rule, const struct query_result *res,
		      const struct pw_label *const *kx, const size_t *nkx, int64_t t,
		      struct store_batch *b);

/* After the commit that wrote group gi's series: remember their ids. */
void rules_resolve_keys(struct rules *r, size_t gi);

/* kpi.c */
struct kpis;
int kpis_new(struct rules *r, const struct conf *c, struct store *st, struct kpis **out,
	     char **cause);
void kpis_free(struct kpis *k);
/* Evaluate every KPI at t; writes the pacewatch_kpi_* series and feeds the
 * KPI alerts (groups base, base + 1, ...). */
int kpis_eval(struct kpis *k, int64_t t, bool dry, char **cause);
void kpis_json(struct kpis *k, struct pw_buf *b);

#endif
