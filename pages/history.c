/*
 * history.c — what the charts and the status histories read: a KPI's
 * record (docs/kpis.md, "Series written at every slot") over a chart's
 * range, with the PromQL engine at about 300 steps, so a chart costs the
 * same for a week as for a year.
 */
#include "pages_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

void hist_free(struct hist *h)
{
	free(h->t);
	free(h->v);
	*h = (struct hist){0};
}

static void promql_str(struct pw_buf *b, const char *s)
{
	pw_buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			pw_buf_putc(b, '\\');
		if (*s == '\n')
			pw_buf_puts(b, "\\n");
		else
			pw_buf_putc(b, *s);
	}
	pw_buf_putc(b, '"');
}

void hist_selector(struct pw_buf *b, const char *metric, const char *kpi,
		   const struct pw_lset *unit)
{
	pw_buf_printf(b, "%s{kpi=", metric);
	promql_str(b, kpi);
	for (uint32_t i = 0; unit && i < unit->n; i++) {
		if (strcmp(unit->l[i].name, "kpi") == 0)
			continue;
		pw_buf_printf(b, ",%s=", unit->l[i].name);
		promql_str(b, unit->l[i].value);
	}
	pw_buf_putc(b, '}');
}

int64_t hist_step(int64_t t0, int64_t t1)
{
	int64_t s = (t1 - t0) / HIST_POINTS;
	return s < 1000 ? 1000 : s;
}

static struct query_result *range_at(struct store *st, const char *q, int64_t t0, int64_t t1,
				     int64_t step)
{
	struct query_opts o = {.timeout_ms = 10000, .max_samples = 5000000};
	struct query_result *r = NULL;
	struct query_error err = {0};
	if (!st || t1 < t0)
		return NULL;
	if (query_range(st, &o, q, t0, t1, step, &r, &err) != 0) {
		log_warnx("pages", "history %s: %s", q, err.msg ? err.msg : "failed");
		query_error_clear(&err);
		return NULL;
	}
	return r;
}

static struct query_result *range(struct store *st, const char *q, int64_t t0, int64_t t1)
{
	return range_at(st, q, t0, t1, hist_step(t0, t1));
}

void hist_query(struct store *st, const char *q, int64_t t0, int64_t t1, struct hist *out)
{
	struct query_result *r = range(st, q, t0, t1);
	*out = (struct hist){0};
	if (r && r->nseries > 0 && r->series[0].n > 0) {
		const struct query_series *s = &r->series[0];
		out->t = xcalloc(s->n, sizeof *out->t);
		out->v = xcalloc(s->n, sizeof *out->v);
		for (size_t i = 0; i < s->n; i++)
			out->t[i] = s->pts[i].t, out->v[i] = s->pts[i].v;
		out->n = s->n;
	}
	query_result_free(r);
}

static int status_of_name(const char *s)
{
	for (int i = 0; s && i < VIEW_NSTATUS; i++)
		if (strcmp(view_status_name((enum view_status)i), s) == 0)
			return i;
	return -1;
}

size_t hist_status_changes(struct store *st, const char *kpi, const struct pw_lset *unit,
			   int64_t t0, int64_t t1, struct hist_change *out, size_t max)
{
	struct pw_buf q;
	struct query_result *r;
	int64_t step = hist_step(t0, t1);
	size_t nsteps = (size_t)((t1 - t0) / step) + 1, n = 0;
	signed char *at;
	pw_buf_init(&q, 0);
	hist_selector(&q, "pacewatch_kpi_status", kpi, unit);
	r = range(st, q.data, t0, t1);
	pw_buf_free(&q);
	if (!r || max == 0)
		return query_result_free(r), 0;
	at = xcalloc(nsteps, 1);
	memset(at, -1, nsteps);
	for (size_t i = 0; i < r->nseries; i++) {
		int s = status_of_name(pw_labels_get(r->series[i].labels, r->series[i].nlabels, "status"));
		for (size_t k = 0; s >= 0 && k < r->series[i].n; k++) {
			int64_t j = (r->series[i].pts[k].t - t0) / step;
			if (j >= 0 && (size_t)j < nsteps)
				at[j] = (signed char)s;
		}
	}
	for (size_t j = 0; j < nsteps; j++) {
		if (j > 0 && at[j] == at[j - 1])
			continue;
		if (j == 0 && at[j] < 0)
			continue;
		if (n == max) { /* keep the newest */
			memmove(out, out + 1, (max - 1) * sizeof *out);
			n--;
		}
		out[n++] = (struct hist_change){t0 + (int64_t)j * step, at[j]};
	}
	free(at);
	query_result_free(r);
	/* the newest change is only known to a step (a day over a year): look
	 * again at the last two steps, finer, down to a second */
	if (n > 0 && step > 1000 && out[n - 1].at >= t1 - 2 * step && t1 - 2 * step > t0) {
		struct hist_change fine[8];
		size_t nf = hist_status_changes(st, kpi, unit, t1 - 2 * step, t1, fine, 8);
		if (nf > 0 && fine[nf - 1].status == out[n - 1].status && fine[nf - 1].at > t1 - 2 * step)
			out[n - 1].at = fine[nf - 1].at;
	}
	return n;
}

/* since[u] from the runs of range query r (step apart): the first point of
 * the last unbroken run of unit u's current status */
static void runs_since(const struct view *v, size_t k, const struct query_result *r,
		       int64_t step, int64_t *since)
{
	const struct view_kpi *vk = &v->kpis[k];
	for (size_t i = 0; r && i < r->nseries; i++) {
		const struct query_series *s = &r->series[i];
		struct pw_label l[64];
		size_t nl = 0;
		uint64_t h;
		int stt = status_of_name(pw_labels_get(s->labels, s->nlabels, "status"));
		if (stt < 0 || s->n == 0)
			continue;
		/* the unit's own labels: the series' less its name, kpi and status */
		for (size_t j = 0; j < s->nlabels && nl < 64; j++)
			if (strcmp(s->labels[j].name, "__name__") && strcmp(s->labels[j].name, "kpi") &&
			    strcmp(s->labels[j].name, "status"))
				l[nl++] = s->labels[j];
		h = pw_labels_hash(l, nl, true);
		for (size_t u = 0; u < vk->nunits; u++) {
			const struct view_unit *vu = &v->units[vk->unit0 + u];
			size_t p;
			if (vu->labels->h != h || (int)vu->status != stt)
				continue;
			/* the last unbroken run of the current status */
			p = s->n - 1;
			while (p > 0 && s->pts[p].t - s->pts[p - 1].t <= step)
				p--;
			since[u] = s->pts[p].t;
		}
	}
}

void hist_status_since(struct store *st, const struct view *v, size_t k, int64_t t0, int64_t t1,
		       int64_t *since)
{
	const struct view_kpi *vk = &v->kpis[k];
	struct pw_buf q;
	struct query_result *r;
	int64_t step = hist_step(t0, t1);
	memset(since, 0, vk->nunits * sizeof *since);
	pw_buf_init(&q, 0);
	hist_selector(&q, "pacewatch_kpi_status", v->meta->kpis[k].name, NULL);
	r = range(st, q.data, t0, t1);
	runs_since(v, k, r, step, since);
	query_result_free(r);
	/* A run that began within the last steps is only known to a step (a
	 * day over a year): look again at the last two steps, at 1/150 of a
	 * step, and so on down to a second, for the units whose status is
	 * that recent. A few queries over a short window each. */
	int64_t *fine = xcalloc(vk->nunits + 1, sizeof *fine);
	for (int level = 0; level < 4 && step > 1000; level++) {
		int64_t w0 = t1 - 2 * step, fstep;
		bool recent = false;
		for (size_t u = 0; u < vk->nunits; u++)
			recent |= since[u] >= w0;
		if (!recent || w0 <= t0)
			break;
		fstep = hist_step(w0, t1);
		r = range(st, q.data, w0, t1);
		memset(fine, 0, vk->nunits * sizeof *fine);
		runs_since(v, k, r, fstep, fine);
		query_result_free(r);
		for (size_t u = 0; u < vk->nunits; u++)
			if (since[u] >= w0 && fine[u] > w0) /* began inside the window */
				since[u] = fine[u];
		step = fstep;
	}
	free(fine);
	pw_buf_free(&q);
}
