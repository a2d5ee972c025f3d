/*
 * pages.h — pacewatch's own pages for people (docs/pages.md): the
 * programme at a glance (/), one KPI (/kpis/NAME), one unit
 * (/kpis/NAME/UNIT_ID), alerts, targets and the notification outbox, as
 * HTML with server-rendered SVG charts; and the charts alone
 * (/kpis/NAME/chart.svg, /kpis/NAME/UNIT_ID/chart.svg) for emails to link.
 *
 * Everything a page shows comes from what the caller hands over: the
 * decider's view, the KPIs' record in the store (read with the PromQL
 * engine), the collector's target statuses and the notifier's status. The
 * renderer takes no lock and keeps nothing between requests.
 */
#ifndef PW_PAGES_H
#define PW_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "view.h"

struct store;
struct collector_target_status;
struct notify_status;

/* What a page is drawn from. Every pointer may be NULL (before the first
 * evaluation, without a collector or a notifier): the page says so. */
struct pages_src {
	const struct view *v;
	struct store *store; /* the KPIs' record: charts, status history */
	const struct collector_target_status *targets;
	size_t ntargets;
	const struct notify_status *notify;
	int64_t now_ms;
};

/* Is url one of the pages' paths ("/", "/kpis/...", "/alerts",
 * "/targets", "/notifications")? */
bool pages_match(const char *url);
/* The page at url into out (HTML, or SVG for a chart.svg); *ctype is set
 * to its Content-Type. Returns the HTTP status: 200, or 404 with a page
 * saying what was not found. */
unsigned pages_render(const struct pages_src *src, const char *url, struct pw_buf *out,
		      const char **ctype);

/* A KPI's page lists at most this many units (laggards first), so that a
 * page stays under 300 KB; the rest are in /api/v1/kpis. */
#define PAGES_MAX_ROWS 300

/* ---- the building blocks (tested on their own) ------------------------------------ */

/* s escaped for HTML text and attribute values (& < > " ' ), appended. */
void pages_esc(struct pw_buf *b, const char *s);
/* s percent-encoded as one URL path segment, appended (not HTML-escaped:
 * the result holds only unreserved characters and %XX). */
void pages_url_seg(struct pw_buf *b, const char *s);

/* One line of a chart: points (t ms, v), NaN breaks the line. */
struct pages_line {
	const int64_t *t;
	const double *v;
	size_t n;
	const char *cls;   /* its CSS class: "actual", "plan", "target", "forecast" */
	const char *label; /* for the legend and the title (escaped when written) */
	bool step;         /* drawn as steps (a plan's step curve) */
};

/* A time chart: lines over [t0, t1], a vertical mark at the deadline and
 * at now, thin marks at milestones and at period boundaries. Values are
 * scaled to fit every line (and zero). */
struct pages_chart {
	int width, height; /* in px (viewBox); the SVG scales to its box */
	int64_t t0, t1;
	const struct pages_line *lines;
	size_t nlines;
	int64_t deadline_ms, now_ms; /* 0: none */
	const int64_t *milestones;
	size_t nmilestones;
	const int64_t *periods; /* period boundaries */
	size_t nperiods;
	const char *title;       /* the SVG's <title> (escaped when written) */
	const char *deadline_label; /* written beside the deadline's line (NULL: none) */
	const struct pw_tz *tz;  /* the axis' dates (NULL: UTC) */
	bool small;              /* a sparkline: no axes, no legend */
	bool percent;            /* values are ratios, labelled as percentages */
	bool standalone;         /* a document of its own (xmlns, style inside) */
};
/* The chart as an <svg> element, appended. Bounded: at most
 * PAGES_CHART_MAX_POINTS points per line are drawn (the rest are
 * thinned). */
#define PAGES_CHART_MAX_POINTS 2000
void pages_chart_svg(const struct pages_chart *c, struct pw_buf *b);

#endif /* PW_PAGES_H */
