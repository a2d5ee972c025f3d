/*
 * chart.c — server-rendered SVG time charts: actual against plan against
 * target, the deadline, now, milestones and periods; the same code draws
 * the pages' charts, the overview's sparklines and the standalone
 * chart.svg an email links to. Coordinates are rounded to 0.1 px and the
 * points of a line thinned to PAGES_CHART_MAX_POINTS, so a chart's size is
 * bounded whatever the history holds.
 */
#include "pages_int.h"

#include <math.h>
#include <string.h>

struct frame {
	double x0, x1, y0, y1; /* the plot area in px */
	int64_t t0, t1;
	double lo, hi;         /* the value range */
};

static double xof(const struct frame *f, int64_t t)
{
	return f->x0 + (f->x1 - f->x0) * (double)(t - f->t0) / (double)(f->t1 - f->t0);
}

static double yof(const struct frame *f, double v)
{
	return f->y1 - (f->y1 - f->y0) * (v - f->lo) / (f->hi - f->lo);
}

static const struct {
	const char *cls, *stroke, *dash;
	double w;
} styles[] = {
	{"actual", "#1f5fbf", NULL, 2.5},
	{"plan", "#595959", "6 4", 1.6},
	{"target", "#1b7f3b", "2 3", 1.6},
	{"forecast", "#b34700", "8 4", 2.0},
};

static void style_of(const char *cls, const char **stroke, const char **dash, double *w)
{
	*stroke = "#333", *dash = NULL, *w = 1.5;
	for (size_t i = 0; cls && i < sizeof styles / sizeof styles[0]; i++)
		if (strcmp(cls, styles[i].cls) == 0)
			*stroke = styles[i].stroke, *dash = styles[i].dash, *w = styles[i].w;
}

/* a short date for the time axis: "11-30" (or "2025-11" over long ranges) */
static void tick_date(char *dst, size_t sz, int64_t t, const struct pw_tz *tz, bool months)
{
	int64_t s = t / 1000 + (tz ? pw_tz_offset(tz, t / 1000) : 0), y;
	int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
	unsigned m, d;
	pw_civil_from_days(days, &y, &m, &d);
	if (months)
		snprintf(dst, sz, "%04lld-%02u", (long long)y, m);
	else
		snprintf(dst, sz, "%02u-%02u", m, d);
}

/* a round step for about four grid lines over span: 1, 2, 2.5 or 5 times a power of ten */
static double nice_step(double span)
{
	double raw = span / 4, mag = pow(10, floor(log10(raw))), r = raw / mag;
	return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10) * mag;
}

static void value_label(char *dst, size_t sz, double v, bool percent)
{
	if (percent)
		snprintf(dst, sz, "%.0f%%", v * 100);
	else
		pw_fmt_float(dst, sz, v, PW_FMT_HUMAN);
}

static void vline(struct pw_buf *b, const struct frame *f, int64_t t, const char *stroke,
		  const char *dash, double w, const char *cls)
{
	double x;
	if (t < f->t0 || t > f->t1)
		return;
	x = xof(f, t);
	pw_buf_printf(b, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
			 "stroke=\"%s\" stroke-width=\"%.1f\"%s%s%s/>",
		      cls, x, f->y0, x, f->y1, stroke, w, dash ? " stroke-dasharray=\"" : "",
		      dash ? dash : "", dash ? "\"" : "");
}

static void path(struct pw_buf *b, const struct frame *f, const struct pages_line *l)
{
	const char *stroke, *dash;
	double w;
	size_t stride = l->n > PAGES_CHART_MAX_POINTS ? (l->n + PAGES_CHART_MAX_POINTS - 1) /
								   PAGES_CHART_MAX_POINTS
							 : 1;
	bool pen = false, any = false;
	double pt = 0, pv = NAN; /* the previous point, for a cut at the edge */
	style_of(l->cls, &stroke, &dash, &w);
	for (size_t i = 0; i < l->n; i += stride) {
		/* the last point is always drawn */
		size_t k = i + stride >= l->n ? l->n - 1 : i;
		double v = l->v[k], x, y;
		if (!isfinite(v) || l->t[k] < f->t0 || l->t[k] > f->t1) {
			pen = false, pv = NAN;
			if (k == l->n - 1)
				break;
			continue;
		}
		double t = (double)l->t[k];
		bool out = v > f->hi || v < f->lo;
		if (out) { /* leaves the chart: draw to the edge, lift the pen */
			double edge = v > f->hi ? f->hi : f->lo;
			if (pen && !l->step && isfinite(pv) && pv <= f->hi && pv >= f->lo) {
				double tc = pt + (t - pt) * (edge - pv) / (v - pv);
				pw_buf_printf(b, "L%.1f %.1f", xof(f, (int64_t)tc), yof(f, edge));
			}
			pen = false, pt = t, pv = v;
			if (k == l->n - 1)
				break;
			continue;
		}
		if (!pen && !l->step && isfinite(pv) && any) { /* comes back in at the edge */
			double edge = pv > f->hi ? f->hi : f->lo;
			double tc = pt + (t - pt) * (edge - pv) / (v - pv);
			pw_buf_printf(b, "M%.1f %.1f", xof(f, (int64_t)tc), yof(f, edge));
			pen = true;
		}
		pt = t, pv = v;
		x = xof(f, l->t[k]), y = yof(f, v);
		if (!any) {
			pw_buf_printf(b, "<path class=\"line %s\" fill=\"none\" stroke=\"%s\" "
					 "stroke-width=\"%.1f\" stroke-linejoin=\"round\"%s%s%s d=\"",
				      l->cls ? l->cls : "", stroke, w, dash ? " stroke-dasharray=\"" : "",
				      dash ? dash : "", dash ? "\"" : "");
			any = true;
		}
		if (!pen)
			pw_buf_printf(b, "M%.1f %.1f", x, y);
		else if (l->step)
			pw_buf_printf(b, "H%.1fV%.1f", x, y);
		else
			pw_buf_printf(b, "L%.1f %.1f", x, y);
		pen = true;
		if (k == l->n - 1)
			break;
	}
	if (any) {
		pw_buf_puts(b, "\"><title>");
		pages_esc(b, l->label);
		pw_buf_puts(b, "</title></path>");
	}
	/* a lone point (one sample, or a line of one step) is a dot */
	if (any && l->n == 1 && isfinite(l->v[0]))
		pw_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
			      xof(f, l->t[0]), yof(f, l->v[0]), stroke);
}

void pages_chart_svg(const struct pages_chart *c, struct pw_buf *b)
{
	struct frame f;
	double lo = INFINITY, hi = -INFINITY;
	int W = c->width > 0 ? c->width : 640, H = c->height > 0 ? c->height : 260;
	bool small = c->small;

	f.t0 = c->t0, f.t1 = c->t1 > c->t0 ? c->t1 : c->t0 + 1;
	/* the range of what was and is planned; a forecast widens it by at
	 * most half of that and is cut where it leaves the chart, so one wild
	 * forecast cannot flatten the actual and the plan to a line */
	double flo = INFINITY, fhi = -INFINITY;
	for (size_t i = 0; i < c->nlines; i++) {
		bool fc = c->lines[i].cls && strcmp(c->lines[i].cls, "forecast") == 0;
		for (size_t k = 0; k < c->lines[i].n; k++) {
			double v = c->lines[i].v[k];
			if (!isfinite(v) || c->lines[i].t[k] < f.t0 || c->lines[i].t[k] > f.t1)
				continue;
			double *l = fc ? &flo : &lo, *h = fc ? &fhi : &hi;
			*l = v < *l ? v : *l;
			*h = v > *h ? v : *h;
		}
	}
	if (!(lo <= hi)) {
		lo = flo, hi = fhi;
	} else if (flo <= fhi) {
		double room = (hi - lo > 0 ? hi - lo : fabs(hi) + 1) * 0.5;
		lo = flo < lo ? (flo > lo - room ? flo : lo - room) : lo;
		hi = fhi > hi ? (fhi < hi + room ? fhi : hi + room) : hi;
	}
	if (!(lo <= hi))
		lo = 0, hi = 1;
	if (lo > 0)
		lo = 0; /* the baseline of a picture of progress is zero */
	if (hi < 0)
		hi = 0;
	if (hi - lo < 1e-9 * (fabs(hi) + 1))
		hi = lo + (lo == 0 ? 1 : fabs(lo));
	double gstep = nice_step(hi - lo);
	if (!small) {
		lo = floor(lo / gstep) * gstep;
		hi = ceil(hi / gstep) * gstep;
		if (hi - lo < 1e-12)
			hi = lo + gstep;
	}
	f.lo = lo, f.hi = small ? hi + (hi - lo) * 0.06 : hi;
	f.x0 = small ? 2 : 58, f.x1 = W - (small ? 2 : 14);
	f.y0 = small ? 3 : 28, f.y1 = H - (small ? 3 : 26);

	pw_buf_printf(b, "<svg %sclass=\"chart%s\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
			 "role=\"img\" aria-label=\"",
		      c->standalone ? "xmlns=\"http://www.w3.org/2000/svg\" " : "",
		      small ? " spark" : "", W, H, W, H);
	pages_esc(b, c->title);
	pw_buf_puts(b, "\" font-family=\"sans-serif\" font-size=\"11\"><title>");
	pages_esc(b, c->title);
	pw_buf_puts(b, "</title>");
	if (c->standalone)
		pw_buf_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>", W, H);

	/* periods, milestones, grid */
	for (size_t i = 0; i < c->nperiods; i++)
		vline(b, &f, c->periods[i], "#c8c8c8", "1 3", 1, "period");
	if (!small) {
		char lab[64];
		for (int g = 0; g <= 12 && f.lo + gstep * g <= f.hi + gstep * 1e-9; g++) {
			double v = f.lo + gstep * g, y = yof(&f, v);
			value_label(lab, sizeof lab, v, c->percent);
			pw_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
					 "stroke=\"#e3e3e3\"/><text x=\"%.1f\" y=\"%.1f\" "
					 "text-anchor=\"end\" fill=\"#444\">%s</text>",
				      f.x0, y, f.x1, y, f.x0 - 4, y + 4, lab);
		}
		bool months = f.t1 - f.t0 > 150LL * 86400000;
		for (int g = 0; g <= 4; g++) {
			int64_t t = f.t0 + (f.t1 - f.t0) * g / 4;
			tick_date(lab, sizeof lab, t, c->tz, months);
			pw_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\" fill=\"#444\">%s</text>",
				      xof(&f, t), H - 8, g == 0 ? "start" : g == 4 ? "end" : "middle", lab);
		}
		pw_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>",
			      f.x0, f.y1, f.x1, f.y1);
	}
	for (size_t i = 0; i < c->nmilestones; i++) {
		vline(b, &f, c->milestones[i], "#7a5fb0", "3 3", 1.2, "milestone");
		if (!small && c->milestones[i] >= f.t0 && c->milestones[i] <= f.t1)
			pw_buf_printf(b, "<path class=\"milestone-mark\" d=\"M%.1f %.1fl4 5l-4 5l-4 -5z\" "
					 "fill=\"#7a5fb0\"/>",
				      xof(&f, c->milestones[i]), f.y0 - 2);
	}
	if (c->now_ms)
		vline(b, &f, c->now_ms, "#999", NULL, 1, "now");
	if (c->deadline_ms)
		vline(b, &f, c->deadline_ms, "#b00020", "4 2", 1.5, "deadline");
	for (size_t i = 0; i < c->nlines; i++)
		path(b, &f, &c->lines[i]);
	if (!small) {
		/* the legend, one row across the top */
		double x = f.x0;
		for (size_t i = 0; i < c->nlines; i++) {
			const char *stroke, *dash;
			double w;
			if (!c->lines[i].label)
				continue;
			style_of(c->lines[i].cls, &stroke, &dash, &w);
			pw_buf_printf(b, "<line x1=\"%.1f\" y1=\"12\" x2=\"%.1f\" y2=\"12\" stroke=\"%s\" "
					 "stroke-width=\"%.1f\"%s%s%s/><text x=\"%.1f\" y=\"16\" fill=\"#222\">",
				      x, x + 18, stroke, w, dash ? " stroke-dasharray=\"" : "",
				      dash ? dash : "", dash ? "\"" : "", x + 22);
			pages_esc(b, c->lines[i].label);
			pw_buf_puts(b, "</text>");
			x += 34 + 7.5 * (double)pages_text_width(c->lines[i].label);
		}
		if (c->deadline_label && c->deadline_ms >= f.t0 && c->deadline_ms <= f.t1) {
			pw_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#b00020\">",
				      xof(&f, c->deadline_ms) - 3, f.y0 + 12);
			pages_esc(b, c->deadline_label);
			pw_buf_puts(b, "</text>");
		}
	}
	pw_buf_puts(b, "</svg>");
}
