/*
 * pages_int.h — what the files of pages/ share.
 */
#ifndef PW_PAGES_INT_H
#define PW_PAGES_INT_H

#include <stdio.h>

#include "pages.h"

struct store;

/* How wide s is in Latin letters (CJK counted as two): the legend's layout. */
size_t pages_text_width(const char *s);

/* ---- history.c: the KPIs' record, read with the PromQL engine ------------------ */

/* One line of history: points at start, start+step, ... (gaps left out). */
struct hist {
	int64_t *t;
	double *v;
	size_t n;
};
void hist_free(struct hist *h);
/* A PromQL selector `metric{kpi="kpi", <unit's labels>}` (values escaped as
 * PromQL string literals), appended; unit may be NULL (every unit). */
void hist_selector(struct pw_buf *b, const char *metric, const char *kpi,
		   const struct pw_lset *unit);
/* A chart reads about HIST_POINTS steps of its range; a step is at least 1 s. */
#define HIST_POINTS 300
/* The step a chart of [t0, t1] reads at. */
int64_t hist_step(int64_t t0, int64_t t1);
/* The first series of the range query q over [t0, t1] (empty on any error
 * or no data). */
void hist_query(struct store *st, const char *q, int64_t t0, int64_t t1, struct hist *out);

/* A unit's status over time: the changes, oldest first. */
struct hist_change {
	int64_t at;
	int status; /* enum view_status; -1: no record (not evaluated) */
};
/* The changes of the unit's pacewatch_kpi_status over [t0, t1] (at most
 * max, the newest kept); returns how many. */
size_t hist_status_changes(struct store *st, const char *kpi, const struct pw_lset *unit,
			   int64_t t0, int64_t t1, struct hist_change *out, size_t max);
/* For every unit of kpi k of v: since when it has had its current status,
 * as far back as [t0, now] shows (0: unknown). since[] has nunits entries. */
void hist_status_since(struct store *st, const struct view *v, size_t k, int64_t t0, int64_t t1,
		       int64_t *since);

#endif
