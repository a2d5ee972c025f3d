/*
 * func.c — PromQL's function library as Prometheus 2.42 computes it, for
 * parse.c's type checks (func_lookup) and eval.c (eval_call): element-wise
 * math, the range functions (rate's extrapolation, deriv's regression, the
 * *_over_time family), label manipulation, calendar functions in UTC,
 * histogram_quantile over classic buckets.
 */
#include "query_int.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	FN_ABS, FN_ABSENT, FN_ABSENT_OVER_TIME, FN_CEIL, FN_FLOOR, FN_ROUND, FN_CLAMP, FN_CLAMP_MIN,
	FN_CLAMP_MAX, FN_CHANGES, FN_RESETS, FN_DELTA, FN_IDELTA, FN_DERIV, FN_INCREASE, FN_RATE,
	FN_IRATE, FN_PREDICT_LINEAR, FN_EXP, FN_LN, FN_LOG2, FN_LOG10, FN_SQRT, FN_SGN, FN_TIME,
	FN_TIMESTAMP, FN_VECTOR, FN_SCALAR, FN_SORT, FN_SORT_DESC, FN_LABEL_REPLACE, FN_LABEL_JOIN,
	FN_DAY_OF_MONTH, FN_DAY_OF_WEEK, FN_DAY_OF_YEAR, FN_DAYS_IN_MONTH, FN_HOUR, FN_MINUTE,
	FN_MONTH, FN_YEAR, FN_HISTOGRAM_QUANTILE, FN_AVG_OT, FN_MIN_OT, FN_MAX_OT, FN_SUM_OT,
	FN_COUNT_OT, FN_QUANTILE_OT, FN_STDDEV_OT, FN_STDVAR_OT, FN_LAST_OT, FN_PRESENT_OT,
	FN_HOLT_WINTERS, FN_PI, FN_TRIG, FN_DEG, FN_RAD,
};

/* ---- element-wise --------------------------------------------------------------- */

static double f_abs(double v, const double *a) { (void)a; return fabs(v); }
static double f_ceil(double v, const double *a) { (void)a; return ceil(v); }
static double f_floor(double v, const double *a) { (void)a; return floor(v); }
static double f_exp(double v, const double *a) { (void)a; return exp(v); }
static double f_ln(double v, const double *a) { (void)a; return log(v); }
static double f_log2(double v, const double *a) { (void)a; return log2(v); }
static double f_log10(double v, const double *a) { (void)a; return log10(v); }
static double f_sqrt(double v, const double *a) { (void)a; return sqrt(v); }
static double f_sgn(double v, const double *a) { (void)a; return v < 0 ? -1 : v > 0 ? 1 : v; }
static double f_clamp_min(double v, const double *a) { return go_max(a[0], v); }
static double f_clamp_max(double v, const double *a) { return go_min(a[0], v); }
static double f_deg(double v, const double *a) { (void)a; return v * 180 / M_PI; }
static double f_rad(double v, const double *a) { (void)a; return v * M_PI / 180; }
static double f_acos(double v, const double *a) { (void)a; return acos(v); }
static double f_acosh(double v, const double *a) { (void)a; return acosh(v); }
static double f_asin(double v, const double *a) { (void)a; return asin(v); }
static double f_asinh(double v, const double *a) { (void)a; return asinh(v); }
static double f_atan(double v, const double *a) { (void)a; return atan(v); }
static double f_atanh(double v, const double *a) { (void)a; return atanh(v); }
static double f_cos(double v, const double *a) { (void)a; return cos(v); }
static double f_cosh(double v, const double *a) { (void)a; return cosh(v); }
static double f_sin(double v, const double *a) { (void)a; return sin(v); }
static double f_sinh(double v, const double *a) { (void)a; return sinh(v); }
static double f_tan(double v, const double *a) { (void)a; return tan(v); }
static double f_tanh(double v, const double *a) { (void)a; return tanh(v); }

static double f_round(double v, const double *a)
{
	double inv = 1.0 / a[0];
	return floor(v * inv + 0.5) / inv;
}

/* calendar fields of Unix seconds v, in UTC, as Go's time.Unix(int64(v)) */
static void civil(double v, int64_t *y, unsigned *m, unsigned *d, int64_t *days, int64_t *secs)
{
	int64_t t = (int64_t)v, z = t / 86400, s = t % 86400;
	if (s < 0) {
		s += 86400;
		z--;
	}
	pw_civil_from_days(z, y, m, d);
	*days = z;
	*secs = s;
}

static double f_date(double v, int which)
{
	int64_t y, z, s;
	unsigned m, d;
	if (isnan(v) || isinf(v) || fabs(v) > 9e15)
		return NAN;
	civil(v, &y, &m, &d, &z, &s);
	switch (which) {
	case FN_DAY_OF_MONTH: return d;
	case FN_DAY_OF_WEEK: return (double)(((z % 7) + 11) % 7);
	case FN_DAY_OF_YEAR: return (double)(z - pw_days_from_civil(y, 1, 1) + 1);
	case FN_DAYS_IN_MONTH:
		return (double)(pw_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) -
				pw_days_from_civil(y, m, 1));
	case FN_HOUR: return (double)(s / 3600);
	case FN_MINUTE: return (double)(s / 60 % 60);
	case FN_MONTH: return m;
	default: return (double)y;
	}
}

/* ---- over a window ----------------------------------------------------------------- */

/* scan: look for counter resets (false: the caller knows there are none) */
static bool extrapolated_scan(const struct pt *p, size_t n, int64_t ref, int64_t range,
			      bool counter, bool rate, bool scan, double *out)
{
	double result, prev, to_start, to_end, sampled, avg, thr, interval, factor;
	int64_t rstart = qsat_sub(ref, range);
	if (n < 2)
		return false;
	result = p[n - 1].v - p[0].v;
	prev = p[0].v;
	if (counter && scan) {
		for (size_t i = 1; i < n; i++) {
			if (p[i].v < prev)
				result += prev;
			prev = p[i].v;
		}
	}
	/* differences of times as doubles: exact below 2^53 ms, and no
	 * overflow at the edges of int64 */
	to_start = ((double)p[0].t - (double)rstart) / 1000;
	to_end = ((double)ref - (double)p[n - 1].t) / 1000;
	sampled = ((double)p[n - 1].t - (double)p[0].t) / 1000;
	avg = sampled / (double)(n - 1);
	if (counter && result > 0 && p[0].v >= 0) {
		double to_zero = sampled * (p[0].v / result);
		if (to_zero < to_start)
			to_start = to_zero;
	}
	thr = avg * 1.1;
	interval = sampled;
	interval += to_start < thr ? to_start : avg / 2;
	interval += to_end < thr ? to_end : avg / 2;
	factor = interval / sampled;
	if (rate)
		factor /= (double)range / 1000;
	*out = result * factor;
	return true;
}

static bool extrapolated(const struct pt *p, size_t n, int64_t ref, int64_t range, bool counter,
			 bool rate, double *out)
{
	return extrapolated_scan(p, n, ref, range, counter, rate, true, out);
}

static bool r_rate(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		   int64_t range, const double *a, double *out)
{
	(void)ev, (void)ts, (void)a;
	return extrapolated(p, n, ref, range, true, true, out);
}

static bool r_increase(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		       int64_t range, const double *a, double *out)
{
	(void)ev, (void)ts, (void)a;
	return extrapolated(p, n, ref, range, true, false, out);
}

static bool r_delta(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		    int64_t range, const double *a, double *out)
{
	(void)ev, (void)ts, (void)a;
	return extrapolated(p, n, ref, range, false, false, out);
}

static bool instant_value(const struct pt *p, size_t n, bool rate, double *out)
{
	double r, dt;
	if (n < 2)
		return false;
	if (rate && p[n - 1].v < p[n - 2].v)
		r = p[n - 1].v;
	else
		r = p[n - 1].v - p[n - 2].v;
	if (p[n - 1].t == p[n - 2].t)
		return false;
	dt = (double)p[n - 1].t - (double)p[n - 2].t;
	if (rate)
		r /= dt / 1000;
	*out = r;
	return true;
}

static bool r_irate(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		    int64_t range, const double *a, double *out)
{
	(void)ev, (void)ts, (void)ref, (void)range, (void)a;
	return instant_value(p, n, true, out);
}

static bool r_idelta(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		     int64_t range, const double *a, double *out)
{
	(void)ev, (void)ts, (void)ref, (void)range, (void)a;
	return instant_value(p, n, false, out);
}

/* linreg's sums over a window's points, Prometheus 2.42's: plain sums of
 * x (seconds from the intercept's time), y, xy and x^2 in the points'
 * order, and whether every value past the first equals the first */
struct lrsum {
	double sx, sy, sxy, sx2;
	bool consty;
};

/* the window's points p[from, to) (p its first point, p[0].v init) into
 * s; at from == 0 the first point's own comparison is left out (the
 * batch compares it too, which is only different for a NaN first value
 * of a window of more than one point: unequal to the second anyway) */
static inline void lr_add(struct lrsum *s, const struct pt *p, size_t from, size_t to,
			  double icept, double init)
{
	for (size_t i = from; i < to; i++) {
		double x = ((double)p[i].t - icept) / 1e3;
		if (i > 0 && p[i].v != init)
			s->consty = false;
		s->sx += x;
		s->sy += p[i].v;
		s->sxy += x * p[i].v;
		s->sx2 += x * x;
	}
}

/* slope and intercept from the sums of n points (n exactly, as the sum
 * of n ones), the first value init; a constant y answers slope 0 and
 * itself, or NaN for an infinite constant */
static inline void lr_end(const struct lrsum *s, size_t n, double init, double *slope,
			  double *inter)
{
	double cnt = (double)n;
	if (s->consty) {
		if (isinf(init)) {
			*slope = *inter = NAN;
			return;
		}
		*slope = 0;
		*inter = init;
		return;
	}
	double cov = s->sxy - s->sx * s->sy / cnt, var = s->sx2 - s->sx * s->sx / cnt;
	*slope = cov / var;
	*inter = s->sy / cnt - *slope * s->sx / cnt;
}

/* Prometheus 2.42's linearRegression of p[0..n), n >= 2, x relative to
 * icept (ms) */
static void linreg(const struct pt *p, size_t n, int64_t icept, double *slope, double *inter)
{
	struct lrsum s = {0, 0, 0, 0, true};
	lr_add(&s, p, 0, n, (double)icept, p[0].v);
	lr_end(&s, n, p[0].v, slope, inter);
}

static bool r_deriv(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		    int64_t range, const double *a, double *out)
{
	double s, i;
	(void)ev, (void)ts, (void)ref, (void)range, (void)a;
	if (n < 2)
		return false;
	linreg(p, n, p[0].t, &s, &i);
	*out = s;
	return true;
}

static bool r_predict(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		      int64_t range, const double *a, double *out)
{
	double s, i;
	(void)ev, (void)ref, (void)range;
	if (n < 2)
		return false;
	linreg(p, n, ts, &s, &i);
	*out = s * a[0] + i;
	return true;
}

bool query_predict_linear(const struct query_point *p, size_t n, int64_t t_ms, double dt_s,
			  double *out)
{
	double s, i;
	if (n < 2)
		return false;
	linreg((const struct pt *)p, n, t_ms, &s, &i);
	*out = s * dt_s + i;
	return true;
}

static bool r_changes(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		      int64_t range, const double *a, double *out)
{
	double c = 0;
	(void)ev, (void)ts, (void)ref, (void)range, (void)a;
	for (size_t i = 1; i < n; i++)
		if (p[i].v != p[i - 1].v && !(isnan(p[i].v) && isnan(p[i - 1].v)))
			c++;
	*out = c;
	return true;
}

static bool r_resets(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		     int64_t range, const double *a, double *out)
{
	double c = 0;
	(void)ev, (void)ts, (void)ref, (void)range, (void)a;
	for (size_t i = 1; i < n; i++)
		if (p[i].v < p[i - 1].v)
			c++;
	*out = c;
	return true;
}

/* Neumaier's compensated addition: s + v, its rounding error added to *c
 * (an infinite sum leaves no error to carry) */
static inline double csum_add(double s, double v, double *c)
{
	double t = s + v;
	if (isinf(t))
		*c = 0;
	else if (fabs(s) >= fabs(v))
		*c += (s - t) + v;
	else
		*c += (v - t) + s;
	return t;
}

/* avg_over_time of p[0..n), n >= 1 (docs/promql.md): the compensated sum
 * of the values over their count; once that sum overflows (past the first
 * value), a compensated incremental mean from the mean so far, which an
 * infinite mean keeps against a finite value or the same infinity. */
static double avg_of(const struct pt *p, size_t n)
{
	double sum = 0, c = 0, mean = 0, count = 0;
	bool incremental = false;
	for (size_t i = 0; i < n; i++) {
		double v = p[i].v;
		count++;
		if (!incremental) {
			double c2 = c, t = csum_add(sum, v, &c2);
			if (count == 1 || !isinf(t)) {
				sum = t, c = c2;
				continue;
			}
			incremental = true;
			mean = sum / (count - 1);
			c /= count - 1;
		}
		if (isinf(mean)) {
			if (isinf(v) && (mean > 0) == (v > 0))
				continue;
			if (!isinf(v) && !isnan(v))
				continue;
		}
		mean = csum_add(mean, v / count - (mean + c) / count, &c);
	}
	return incremental ? mean + c : (sum + c) / count;
}

static bool r_avg(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		  int64_t range, const double *a, double *out)
{
	(void)ev, (void)ts, (void)ref, (void)range, (void)a;
	*out = avg_of(p, n);
	return true;
}

/* avg_over_time of many windows of one series (a range query's steps):
 * avg_of's compensated sums, operation for operation, so each mean is bit
 * for bit avg_of's; but four windows advance together in one vector of
 * four doubles (GCC's and Clang's vector extensions: SSE2 on any x86-64),
 * branch-free, while all four have points, then each alone. A window whose
 * sum overflows past its first value (values near 1e308, or an infinity)
 * is done again by avg_of, which turns to the incremental mean. Windows w:
 * points p[lo[w] .. hi[w]), none empty. */
#define AVG_LANES 4
typedef double v2d __attribute__((vector_size(2 * sizeof(double))));
typedef int64_t v2i __attribute__((vector_size(2 * sizeof(int64_t))));
#define V2_SEL(m, a, b) ((v2d)(((m) & (v2i)(a)) | (~(m) & (v2i)(b))))
#define V2_ABS(x) ((v2d)((v2i)(x) & (v2i){INT64_MAX, INT64_MAX}))

/* csum_add on two lanes; the error is dropped at an infinite sum, and
 * *over notes one past the first point (later: all ones) */
static inline void v2_csum(v2d *s, v2d *c, v2i *over, v2d v, v2i later)
{
	const v2d inf = {INFINITY, INFINITY}, zero = {0, 0};
	v2d t = *s + v;
	v2i big = V2_ABS(*s) >= V2_ABS(v), isinf_t = V2_ABS(t) == inf;
	v2d d = V2_SEL(big, (*s - t) + v, (v - t) + *s);
	*over |= isinf_t & later;
	*c = V2_SEL(isinf_t, zero, *c + d);
	*s = t;
}

static void avg_windows(const struct pt *p, const size_t *lo, const size_t *hi, size_t nw,
			double *out)
{
	for (size_t w0 = 0; w0 < nw; w0 += AVG_LANES) {
		size_t nl = nw - w0 < AVG_LANES ? nw - w0 : AVG_LANES, len[AVG_LANES], minlen, i;
		const struct pt *q[AVG_LANES];
		v2d s01 = {0, 0}, s23 = {0, 0}, c01 = {0, 0}, c23 = {0, 0};
		v2i o01 = {0, 0}, o23 = {0, 0}, later = {0, 0};
		/* a missing lane repeats the first window, and is dropped */
		for (size_t l = 0; l < AVG_LANES; l++) {
			size_t w = w0 + (l < nl ? l : 0);
			q[l] = p + lo[w];
			len[l] = hi[w] - lo[w];
		}
		minlen = len[0];
		for (size_t l = 1; l < AVG_LANES; l++)
			if (len[l] < minlen)
				minlen = len[l];
		for (i = 0; i < minlen; i++) {
			v2_csum(&s01, &c01, &o01, (v2d){q[0][i].v, q[1][i].v}, later);
			v2_csum(&s23, &c23, &o23, (v2d){q[2][i].v, q[3][i].v}, later);
			later = (v2i){-1, -1};
		}
		for (size_t l = 0; l < nl; l++) {
			double s = l < 2 ? s01[l] : s23[l - 2], c = l < 2 ? c01[l] : c23[l - 2];
			bool over = (l < 2 ? o01[l] : o23[l - 2]) != 0;
			for (size_t k = i; k < len[l] && !over; k++) {
				double c2 = c, t = csum_add(s, q[l][k].v, &c2);
				over = isinf(t) && k > 0;
				s = t, c = c2;
			}
			out[w0 + l] = over ? avg_of(q[l], len[l]) : (s + c) / (double)len[l];
		}
	}
}

/* predict_linear's and deriv's windows of one series (a range query's
 * steps), with linreg's sums operation for operation, so that each slope
 * and intercept is bit for bit linreg's. Four windows advance together in
 * two vectors of two doubles (as avg_windows) while all four have points,
 * then each alone; lr_close's divisions go two windows at a time. A window
 * of constant values never gets here (lr_batch answers it), so the lanes
 * only sum. A window w: points p[lo .. lo + len), len >= 2. */
#define LR_LANES 4
struct lrw {
	size_t lo, len, out; /* out: its index in the slopes and intercepts */
	double ic;           /* x's origin (ms), as a double */
	int sh;              /* its shape (struct lrshape), or -1 */
};

/* The x of a series' windows whose points are evenly spaced, g ms apart,
 * the first point off ms from the window's origin: x[j] = (off + j g) /
 * 1e3, the same double as linreg's ((double)t - (double)icept) / 1e3 while
 * times and origins are within 2^53 (exact as doubles, so that their
 * difference is rounded once, as the integer's conversion is); and the
 * sums of the first j x and x^2, sx[j] and sx2[j], added in linreg's order
 * from 0, so that they are linreg's sx and sx2 of every such window of j
 * points. need: the longest window's points. */
#define LR_SHAPES 16
struct lrshape {
	int64_t off;
	size_t need;
	const double *x, *sx, *sx2;
};

/* the slopes and intercepts of lanes [0, nl) from their sums */
static void lr_close(const struct lrsum *s, const size_t *len, size_t nl, const struct lrw *wv,
		     double *slope, double *inter)
{
	for (size_t h = 0; h < nl; h += 2) {
		size_t h1 = h + 1 < nl ? h + 1 : h;
		v2d cnt = {(double)len[h], (double)len[h1]};
		v2d sx = {s[h].sx, s[h1].sx}, sy = {s[h].sy, s[h1].sy};
		v2d sxy = {s[h].sxy, s[h1].sxy}, sx2 = {s[h].sx2, s[h1].sx2};
		/* lr_end's, left to right */
		v2d cov = sxy - sx * sy / cnt, var = sx2 - sx * sx / cnt;
		v2d sl = cov / var, it = sy / cnt - sl * sx / cnt;
		slope[wv[h].out] = sl[0];
		inter[wv[h].out] = it[0];
		if (h1 != h) {
			slope[wv[h1].out] = sl[1];
			inter[wv[h1].out] = it[1];
		}
	}
}

/* windows of any times: x = (t - ic) / 1e3 per point, tt[k - a] the
 * double of p[k].t */
static void lr_lanes_any(const struct pt *p, const double *tt, size_t a, const struct lrw *wv,
			 size_t nw, double *slope, double *inter)
{
	const v2d ms = {1e3, 1e3};
	for (size_t w0 = 0; w0 < nw; w0 += LR_LANES) {
		size_t nl = nw - w0 < LR_LANES ? nw - w0 : LR_LANES, len[LR_LANES], minlen, i;
		const struct pt *q[LR_LANES];
		const double *t[LR_LANES];
		double ic[LR_LANES];
		struct lrsum s[LR_LANES];
		/* a missing lane repeats the first window, and is dropped */
		for (size_t l = 0; l < LR_LANES; l++) {
			const struct lrw *x = &wv[w0 + (l < nl ? l : 0)];
			q[l] = p + x->lo;
			t[l] = tt + (x->lo - a);
			len[l] = x->len;
			ic[l] = x->ic;
		}
		minlen = len[0];
		for (size_t l = 1; l < LR_LANES; l++)
			if (len[l] < minlen)
				minlen = len[l];
		v2d ic01 = {ic[0], ic[1]}, ic23 = {ic[2], ic[3]};
		v2d sx01 = {0, 0}, sx23 = {0, 0}, sy01 = {0, 0}, sy23 = {0, 0};
		v2d sxy01 = {0, 0}, sxy23 = {0, 0}, sx201 = {0, 0}, sx223 = {0, 0};
		for (i = 0; i < minlen; i++) {
			v2d t01 = {t[0][i], t[1][i]}, t23 = {t[2][i], t[3][i]};
			v2d y01 = {q[0][i].v, q[1][i].v}, y23 = {q[2][i].v, q[3][i].v};
			v2d x01 = (t01 - ic01) / ms, x23 = (t23 - ic23) / ms;
			sx01 += x01;
			sx23 += x23;
			sy01 += y01;
			sy23 += y23;
			sxy01 += x01 * y01;
			sxy23 += x23 * y23;
			sx201 += x01 * x01;
			sx223 += x23 * x23;
		}
		/* each lane's rest alone */
		for (size_t l = 0; l < nl; l++) {
			bool lo2 = l < 2;
			size_t e = l & 1;
			s[l].sx = lo2 ? sx01[e] : sx23[e];
			s[l].sy = lo2 ? sy01[e] : sy23[e];
			s[l].sxy = lo2 ? sxy01[e] : sxy23[e];
			s[l].sx2 = lo2 ? sx201[e] : sx223[e];
			s[l].consty = false;
			lr_add(&s[l], q[l], i, len[l], ic[l], q[l][0].v);
		}
		lr_close(s, len, nl, wv + w0, slope, inter);
	}
}

/* windows of evenly spaced points (a shape each): x from the shape, sx and
 * sx2 the shape's sums, so that only y and xy are summed here */
static void lr_lanes_grid(const struct pt *p, const struct lrshape *sh, const struct lrw *wv,
			  size_t nw, double *slope, double *inter)
{
	for (size_t w0 = 0; w0 < nw; w0 += LR_LANES) {
		size_t nl = nw - w0 < LR_LANES ? nw - w0 : LR_LANES, len[LR_LANES], minlen, i;
		const struct pt *q[LR_LANES];
		const struct lrshape *h[LR_LANES];
		struct lrsum s[LR_LANES];
		for (size_t l = 0; l < LR_LANES; l++) {
			const struct lrw *x = &wv[w0 + (l < nl ? l : 0)];
			q[l] = p + x->lo;
			len[l] = x->len;
			h[l] = &sh[x->sh];
		}
		minlen = len[0];
		for (size_t l = 1; l < LR_LANES; l++)
			if (len[l] < minlen)
				minlen = len[l];
		const double *x0 = h[0]->x, *x1 = h[1]->x, *x2 = h[2]->x, *x3 = h[3]->x;
		v2d sy01 = {0, 0}, sy23 = {0, 0}, sxy01 = {0, 0}, sxy23 = {0, 0};
		for (i = 0; i < minlen; i++) {
			v2d x01 = {x0[i], x1[i]}, x23 = {x2[i], x3[i]};
			v2d y01 = {q[0][i].v, q[1][i].v}, y23 = {q[2][i].v, q[3][i].v};
			sy01 += y01;
			sy23 += y23;
			sxy01 += x01 * y01;
			sxy23 += x23 * y23;
		}
		for (size_t l = 0; l < nl; l++) {
			bool lo2 = l < 2;
			size_t e = l & 1;
			double sy = lo2 ? sy01[e] : sy23[e], sxy = lo2 ? sxy01[e] : sxy23[e];
			for (size_t k = i; k < len[l]; k++) {
				sy += q[l][k].v;
				sxy += h[l]->x[k] * q[l][k].v;
			}
			s[l] = (struct lrsum){h[l]->sx[len[l]], sy, sxy, h[l]->sx2[len[l]], false};
		}
		lr_close(s, len, nl, wv + w0, slope, inter);
	}
}

static bool r_min(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		  int64_t range, const double *a, double *out)
{
	double m = p[0].v;
	(void)ev, (void)ts, (void)ref, (void)range, (void)a;
	for (size_t i = 0; i < n; i++)
		if (p[i].v < m || isnan(m))
			m = p[i].v;
	*out = m;
	return true;
}

static bool r_max(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		  int64_t range, const double *a, double *out)
{
	double m = p[0].v;
	(void)ev, (void)ts, (void)ref, (void)range, (void)a;
	for (size_t i = 0; i < n; i++)
		if (p[i].v > m || isnan(m))
			m = p[i].v;
	*out = m;
	return true;
}

static bool r_sum(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		  int64_t range, const double *a, double *out)
{
	double s = 0;
	(void)ev, (void)ts, (void)ref, (void)range, (void)a;
	for (size_t i = 0; i < n; i++)
		s += p[i].v;
	*out = s;
	return true;
}

static bool r_count(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		    int64_t range, const double *a, double *out)
{
	(void)ev, (void)p, (void)ts, (void)ref, (void)range, (void)a;
	*out = (double)n;
	return true;
}

static bool r_last(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		   int64_t range, const double *a, double *out)
{
	(void)ev, (void)ts, (void)ref, (void)range, (void)a;
	*out = p[n - 1].v;
	return true;
}

static bool r_present(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		      int64_t range, const double *a, double *out)
{
	(void)ev, (void)p, (void)n, (void)ts, (void)ref, (void)range, (void)a;
	*out = 1;
	return true;
}

static double variance(const struct pt *p, size_t n)
{
	double count = 0, mean = 0, aux = 0;
	for (size_t i = 0; i < n; i++) {
		double d;
		count++;
		d = p[i].v - mean;
		mean += d / count;
		aux += d * (p[i].v - mean);
	}
	return aux / count;
}

static bool r_stdvar(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		     int64_t range, const double *a, double *out)
{
	(void)ev, (void)ts, (void)ref, (void)range, (void)a;
	*out = variance(p, n);
	return true;
}

static bool r_stddev(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		     int64_t range, const double *a, double *out)
{
	(void)ev, (void)ts, (void)ref, (void)range, (void)a;
	*out = sqrt(variance(p, n));
	return true;
}

static bool r_quantile(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
		       int64_t range, const double *a, double *out)
{
	double *v = qarena_alloc(ev->a, n * sizeof *v);
	(void)ts, (void)ref, (void)range;
	for (size_t i = 0; i < n; i++)
		v[i] = p[i].v;
	*out = quantile_of(a[0], v, n);
	return true;
}

static bool r_holt_winters(struct ev *ev, const struct pt *p, size_t n, int64_t ts, int64_t ref,
			   int64_t range, const double *a, double *out)
{
	double sf = a[0], tf = a[1], s0 = 0, s1, b;
	(void)ts, (void)ref, (void)range;
	if (!(sf > 0 && sf < 1))
		ev_fail(ev, QUERY_ERR_EXECUTION,
			"invalid smoothing factor. Expected: 0 < sf < 1, got: %f", sf);
	if (!(tf > 0 && tf < 1))
		ev_fail(ev, QUERY_ERR_EXECUTION, "invalid trend factor. Expected: 0 < tf < 1, got: %f",
			tf);
	if (n < 2)
		return false;
	s1 = p[0].v;
	b = p[1].v - p[0].v;
	for (size_t i = 1; i < n; i++) {
		double x = sf * p[i].v;
		if (i > 1)
			b = tf * (s1 - s0) + (1 - tf) * b;
		double y = (1 - sf) * (s1 + b);
		s0 = s1;
		s1 = x + y;
	}
	*out = s1;
	return true;
}

/* ---- the table ------------------------------------------------------------------- */

#define S T_SCALAR
#define V T_VECTOR
#define M T_MATRIX
#define STR T_STRING

static const struct func funcs[] = {
	{"abs", FN_ABS, F_VEC, V, 1, 0, {V}, f_abs, NULL},
	{"absent", FN_ABSENT, F_SPECIAL, V, 1, 0, {V}, NULL, NULL},
	{"absent_over_time", FN_ABSENT_OVER_TIME, F_SPECIAL, V, 1, 0, {M}, NULL, NULL},
	{"acos", FN_TRIG, F_VEC, V, 1, 0, {V}, f_acos, NULL},
	{"acosh", FN_TRIG, F_VEC, V, 1, 0, {V}, f_acosh, NULL},
	{"asin", FN_TRIG, F_VEC, V, 1, 0, {V}, f_asin, NULL},
	{"asinh", FN_TRIG, F_VEC, V, 1, 0, {V}, f_asinh, NULL},
	{"atan", FN_TRIG, F_VEC, V, 1, 0, {V}, f_atan, NULL},
	{"atanh", FN_TRIG, F_VEC, V, 1, 0, {V}, f_atanh, NULL},
	{"avg_over_time", FN_AVG_OT, F_RANGE, V, 1, 0, {M}, NULL, r_avg},
	{"ceil", FN_CEIL, F_VEC, V, 1, 0, {V}, f_ceil, NULL},
	{"changes", FN_CHANGES, F_RANGE, V, 1, 0, {M}, NULL, r_changes},
	{"clamp", FN_CLAMP, F_SPECIAL, V, 3, 0, {V, S, S}, NULL, NULL},
	{"clamp_max", FN_CLAMP_MAX, F_VEC, V, 2, 0, {V, S}, f_clamp_max, NULL},
	{"clamp_min", FN_CLAMP_MIN, F_VEC, V, 2, 0, {V, S}, f_clamp_min, NULL},
	{"cos", FN_TRIG, F_VEC, V, 1, 0, {V}, f_cos, NULL},
	{"cosh", FN_TRIG, F_VEC, V, 1, 0, {V}, f_cosh, NULL},
	{"count_over_time", FN_COUNT_OT, F_RANGE, V, 1, 0, {M}, NULL, r_count},
	{"day_of_month", FN_DAY_OF_MONTH, F_SPECIAL, V, 1, 1, {V}, NULL, NULL},
	{"day_of_week", FN_DAY_OF_WEEK, F_SPECIAL, V, 1, 1, {V}, NULL, NULL},
	{"day_of_year", FN_DAY_OF_YEAR, F_SPECIAL, V, 1, 1, {V}, NULL, NULL},
	{"days_in_month", FN_DAYS_IN_MONTH, F_SPECIAL, V, 1, 1, {V}, NULL, NULL},
	{"deg", FN_DEG, F_VEC, V, 1, 0, {V}, f_deg, NULL},
	{"delta", FN_DELTA, F_RANGE, V, 1, 0, {M}, NULL, r_delta},
	{"deriv", FN_DERIV, F_RANGE, V, 1, 0, {M}, NULL, r_deriv},
	{"exp", FN_EXP, F_VEC, V, 1, 0, {V}, f_exp, NULL},
	{"floor", FN_FLOOR, F_VEC, V, 1, 0, {V}, f_floor, NULL},
	{"histogram_quantile", FN_HISTOGRAM_QUANTILE, F_SPECIAL, V, 2, 0, {S, V}, NULL, NULL},
	{"holt_winters", FN_HOLT_WINTERS, F_RANGE, V, 3, 0, {M, S, S}, NULL, r_holt_winters},
	{"hour", FN_HOUR, F_SPECIAL, V, 1, 1, {V}, NULL, NULL},
	{"idelta", FN_IDELTA, F_RANGE, V, 1, 0, {M}, NULL, r_idelta},
	{"increase", FN_INCREASE, F_RANGE, V, 1, 0, {M}, NULL, r_increase},
	{"irate", FN_IRATE, F_RANGE, V, 1, 0, {M}, NULL, r_irate},
	{"label_join", FN_LABEL_JOIN, F_SPECIAL, V, 4, -1, {V, STR, STR, STR}, NULL, NULL},
	{"label_replace", FN_LABEL_REPLACE, F_SPECIAL, V, 5, 0, {V, STR, STR, STR, STR}, NULL, NULL},
	{"last_over_time", FN_LAST_OT, F_RANGE, V, 1, 0, {M}, NULL, r_last},
	{"ln", FN_LN, F_VEC, V, 1, 0, {V}, f_ln, NULL},
	{"log10", FN_LOG10, F_VEC, V, 1, 0, {V}, f_log10, NULL},
	{"log2", FN_LOG2, F_VEC, V, 1, 0, {V}, f_log2, NULL},
	{"max_over_time", FN_MAX_OT, F_RANGE, V, 1, 0, {M}, NULL, r_max},
	{"min_over_time", FN_MIN_OT, F_RANGE, V, 1, 0, {M}, NULL, r_min},
	{"minute", FN_MINUTE, F_SPECIAL, V, 1, 1, {V}, NULL, NULL},
	{"month", FN_MONTH, F_SPECIAL, V, 1, 1, {V}, NULL, NULL},
	{"pi", FN_PI, F_SPECIAL, S, 0, 0, {0}, NULL, NULL},
	{"predict_linear", FN_PREDICT_LINEAR, F_RANGE, V, 2, 0, {M, S}, NULL, r_predict},
	{"present_over_time", FN_PRESENT_OT, F_RANGE, V, 1, 0, {M}, NULL, r_present},
	{"quantile_over_time", FN_QUANTILE_OT, F_RANGE, V, 2, 0, {S, M}, NULL, r_quantile},
	{"rad", FN_RAD, F_VEC, V, 1, 0, {V}, f_rad, NULL},
	{"rate", FN_RATE, F_RANGE, V, 1, 0, {M}, NULL, r_rate},
	{"resets", FN_RESETS, F_RANGE, V, 1, 0, {M}, NULL, r_resets},
	{"round", FN_ROUND, F_VEC, V, 2, 1, {V, S}, f_round, NULL},
	{"scalar", FN_SCALAR, F_SPECIAL, S, 1, 0, {V}, NULL, NULL},
	{"sgn", FN_SGN, F_VEC, V, 1, 0, {V}, f_sgn, NULL},
	{"sin", FN_TRIG, F_VEC, V, 1, 0, {V}, f_sin, NULL},
	{"sinh", FN_TRIG, F_VEC, V, 1, 0, {V}, f_sinh, NULL},
	{"sort", FN_SORT, F_SPECIAL, V, 1, 0, {V}, NULL, NULL},
	{"sort_desc", FN_SORT_DESC, F_SPECIAL, V, 1, 0, {V}, NULL, NULL},
	{"sqrt", FN_SQRT, F_VEC, V, 1, 0, {V}, f_sqrt, NULL},
	{"stddev_over_time", FN_STDDEV_OT, F_RANGE, V, 1, 0, {M}, NULL, r_stddev},
	{"stdvar_over_time", FN_STDVAR_OT, F_RANGE, V, 1, 0, {M}, NULL, r_stdvar},
	{"sum_over_time", FN_SUM_OT, F_RANGE, V, 1, 0, {M}, NULL, r_sum},
	{"tan", FN_TRIG, F_VEC, V, 1, 0, {V}, f_tan, NULL},
	{"tanh", FN_TRIG, F_VEC, V, 1, 0, {V}, f_tanh, NULL},
	{"time", FN_TIME, F_SPECIAL, S, 0, 0, {0}, NULL, NULL},
	{"timestamp", FN_TIMESTAMP, F_SPECIAL, V, 1, 0, {V}, NULL, NULL},
	{"vector", FN_VECTOR, F_SPECIAL, V, 1, 0, {S}, NULL, NULL},
	{"year", FN_YEAR, F_SPECIAL, V, 1, 1, {V}, NULL, NULL},
};

const struct func *func_lookup(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
		if (strlen(funcs[i].name) == n && memcmp(funcs[i].name, name, n) == 0)
			return &funcs[i];
	return NULL;
}

/* ---- evaluation --------------------------------------------------------------------- */

static struct node *unparen(struct node *n)
{
	while (n->k == N_PAREN)
		n = n->a;
	return n;
}

struct pw_lset *absent_labels(struct ev *ev, struct node *arg)
{
	struct pw_label l[64];
	size_t n = 0;
	arg = unparen(arg);
	if (arg->k == N_MSEL)
		arg = arg->a;
	if (arg->k != N_VSEL)
		return qlabels_make(ev->a, NULL, 0);
	/* equality matchers give labels; a label matched twice, or by
	 * anything else, is left out */
	for (size_t i = 0; i < arg->nm && n < 64; i++) {
		const struct store_matcher *m = &arg->m[i];
		bool seen = false;
		if (strcmp(m->name, "__name__") == 0)
			continue;
		for (size_t j = 0; j < n; j++)
			seen |= strcmp(l[j].name, m->name) == 0;
		if (m->type == STORE_MATCH_EQ && !seen) {
			l[n].name = m->name;
			l[n++].value = m->value;
		}
	}
	for (size_t i = 0; i < arg->nm; i++) {
		const struct store_matcher *m = &arg->m[i];
		if (strcmp(m->name, "__name__") == 0)
			continue;
		bool first_eq = false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(arg->m[j].name, m->name) == 0)
				first_eq = true;
		if (m->type != STORE_MATCH_EQ || first_eq)
			for (size_t j = 0; j < n; j++)
				if (strcmp(l[j].name, m->name) == 0)
					l[j].value = "";
	}
	return qlabels_make(ev->a, l, n);
}

/* scalar arguments, one array per argument, NULL for the others */
static double **scalar_args(struct ev *ev, struct node *n)
{
	double **sa = qarena_alloc(ev->a, (n->nargs + 1) * sizeof *sa);
	for (size_t i = 0; i < n->nargs; i++)
		if (n->args[i]->type == T_SCALAR)
			sa[i] = eval(ev, n->args[i]).sc;
	return sa;
}

/* ---- range functions over many series, on several threads --------------------------- */

/*
 * The windows of one series at every step depend on that series alone: a
 * job computes series after series (rj_series) into its worker's buffers,
 * on the helper threads of a pool and this one, and this thread alone then
 * merges them in the order of the series (rj_merge) into the output, with
 * the arena, the samples limit and the duplicate-labels check exactly as
 * one thread would. The series go in runs of about RJ_RUN_POINTS output
 * points, so that the buffers between computation and merge stay small.
 * Workers neither unwind nor touch the arena: an error (a store fault,
 * the memory limit their buffers are charged to, the deadline) is
 * recorded, the lowest series' kept, the others stop, and the merge
 * raises it. With one thread the same code runs without a pool.
 */

#define RJ_RUN_POINTS ((size_t)1 << 18)
int64_t query__par_alone_ns = 1000000; /* 1 ms */

struct rwork {
	struct store_iter *it; /* NULL: the evaluation's own (worker 0) */
	struct pt *p;          /* the series' points */
	size_t pcap;
	uint32_t *resets;
	size_t rcap;
	size_t *dq;
	size_t dcap;
	size_t *wl;   /* a batch's windows: their lo, hi, step, nsteps each */
	double *wval; /* avg_over_time's means; predict_linear's and deriv's
		       * slopes and intercepts, then values (nsteps each) */
	size_t wlcap, wcap;
	/* predict_linear's and deriv's batch (lr_batch): the windows, two
	 * counts per point (values unequal to the one before, steps off the
	 * grid), the points' times as doubles, the shapes' x and sums */
	struct lrw *lw;
	size_t lwcap;
	uint32_t *lrc;
	size_t lrccap;
	double *tt;
	size_t ttcap;
	double *shx;
	size_t shxcap;
	struct pt *out; /* the points of this run's series, one after another */
	size_t on, ocap;
	unsigned tick;
};

struct rres {
	unsigned w;
	size_t off, n;
};

struct rjob {
	struct ev *ev; /* read only while workers run */
	const struct func *f;
	struct node *n, *sel;
	double **sa;
	int64_t range, mint, maxt;
	const struct selres *sr; /* a matrix selector's series, or */
	const struct val *sub;   /* a subquery's */
	bool mono, batch, counts;
	bool lr;            /* the batch is predict_linear's or deriv's */
	const double *larg; /* predict_linear's scalar at each step */
	/* an instant selector at every step instead (eval_vsel_as): its
	 * samples' values or, timestamps, their times */
	bool vsel, timestamps;
	struct query_mem *mem;
	struct rwork w[QUERY_MAX_THREADS];
	struct rres *res; /* of the current run's series, from base */
	size_t base, rescap;
	struct qpool *pool;
	pthread_mutex_t mu; /* mem, charged, the error */
	atomic_bool stop;
	uint64_t charged;
	size_t err_i;
	enum query_errtype etype;
	char *emsg;
};

static void rj_fail(struct rjob *j, size_t i, enum query_errtype t, char *msg)
{
	pthread_mutex_lock(&j->mu);
	if (!j->emsg || i < j->err_i) {
		free(j->emsg);
		j->emsg = msg;
		j->etype = t;
		j->err_i = i;
	} else {
		free(msg);
	}
	atomic_store(&j->stop, true);
	pthread_mutex_unlock(&j->mu);
}

/* room for want elements of size elem in *buf, charged first */
static bool rj_grow(struct rjob *j, size_t i, void **buf, size_t *cap, size_t want, size_t elem)
{
	struct query_error e = {0};
	size_t nc = *cap ? *cap : 64;
	int rc = 0;
	if (*cap >= want)
		return true;
	while (nc < want)
		nc *= 2;
	pthread_mutex_lock(&j->mu);
	if (j->mem && (rc = query_mem_charge(j->mem, (uint64_t)(nc - *cap) * elem, &e)) == 0)
		j->charged += (uint64_t)(nc - *cap) * elem;
	pthread_mutex_unlock(&j->mu);
	if (rc != 0) {
		rj_fail(j, i, e.type, e.msg);
		return false;
	}
	*buf = xreallocarray(*buf, nc, elem);
	*cap = nc;
	return true;
}

/* every 1024 calls: another worker's error, the deadline */
static bool rj_tick(struct rjob *j, struct rwork *w, size_t i)
{
	if ((++w->tick & 1023) != 0)
		return true;
	if (atomic_load_explicit(&j->stop, memory_order_relaxed))
		return false;
	if (pw_mono_ns() > j->ev->deadline_ns) {
		rj_fail(j, i, QUERY_ERR_TIMEOUT, xstrdup("query timed out in query execution"));
		return false;
	}
	if (query_mem_stopped(j->ev->mem)) {
		rj_fail(j, i, QUERY_ERR_CANCELED, xstrdup(QUERY_STOPPED_MSG));
		return false;
	}
	return true;
}

/* load_points for a worker: the series' non-stale points in [mint, maxt] */
static bool rj_load(struct rjob *j, struct rwork *w, size_t i, uint64_t id, bool skip_stale,
		    size_t *np)
{
	struct store_iter *it = w->it ? w->it : j->ev->it;
	int64_t ts[LOAD_RUN];
	double vs[LOAD_RUN];
	size_t n = 0;
	int rc;
	if ((rc = store_iter_seek(it, id, j->mint, j->maxt)) != 0)
		goto bad;
	/* the store's samples a run at a time; each is taken, charged and
	 * ticked as one store_iter_next call at a time took it */
	while ((rc = store_iter_read(it, ts, vs, LOAD_RUN)) > 0) {
		for (int k = 0; k < rc; k++) {
			if (skip_stale && is_stale(vs[k]))
				continue;
			if (n == w->pcap &&
			    !rj_grow(j, i, (void **)&w->p, &w->pcap, n + 1, sizeof *w->p))
				return false;
			w->p[n].t = ts[k];
			w->p[n++].v = vs[k];
			if ((n & 4095) == 0 && !rj_tick(j, w, i))
				return false;
		}
	}
	if (rc < 0)
		goto bad;
	*np = n;
	return true;
bad:
	rj_fail(j, i, QUERY_ERR_INTERNAL, xasprintf("reading series: %s", pw_strerror(rc)));
	return false;
}

static bool rj_put(struct rjob *j, struct rwork *w, size_t i, int64_t t, double v)
{
	if (w->on == w->ocap && !rj_grow(j, i, (void **)&w->out, &w->ocap, w->on + 1, sizeof *w->out))
		return false;
	w->out[w->on].t = t;
	w->out[w->on++].v = v;
	return true;
}

/* the shape, of sh[0 .. *nsh), of a window of len points the first off ms
 * from its origin; -1 when the shapes would hold more than room x in all
 * (made later, by lr_shapes) */
static int lr_shape(struct lrshape *sh, unsigned *nsh, size_t *total, size_t room, int64_t off,
		    size_t len)
{
	unsigned k;
	for (k = 0; k < *nsh && sh[k].off != off; k++)
		;
	if (k == *nsh) {
		if (k == LR_SHAPES || *total + len > room)
			return -1;
		sh[k] = (struct lrshape){off, len, NULL, NULL, NULL};
		*total += len;
		++*nsh;
	} else if (sh[k].need < len) {
		if (*total + (len - sh[k].need) > room)
			return -1;
		*total += len - sh[k].need;
		sh[k].need = len;
	}
	return (int)k;
}

/* the shapes' x and sums, total x in all, in w->shx */
static bool lr_shapes(struct rjob *j, struct rwork *w, size_t i, struct lrshape *sh, unsigned nsh,
		      size_t total, int64_t g)
{
	double *b;
	if (!rj_grow(j, i, (void **)&w->shx, &w->shxcap, 3 * total + 2 * nsh, sizeof *w->shx))
		return false;
	b = w->shx;
	for (unsigned k = 0; k < nsh; k++) {
		size_t n = sh[k].need;
		double *x = b, *sx = b + n, *sx2 = b + 2 * n + 1;
		sx[0] = sx2[0] = 0;
		for (size_t m = 0; m < n; m++) {
			x[m] = (double)(sh[k].off + (int64_t)m * g) / 1e3;
			sx[m + 1] = sx[m] + x[m];
			sx2[m + 1] = sx2[m] + x[m] * x[m];
		}
		sh[k].x = x;
		sh[k].sx = sx;
		sh[k].sx2 = sx2;
		b += 3 * n + 2;
	}
	return true;
}

/* within 2^53 of 0: exact as a double */
static inline bool lr_exact(int64_t t)
{
	return t >= -((int64_t)1 << 53) && t <= (int64_t)1 << 53;
}

/* predict_linear's or deriv's value at each of the batch's nw windows
 * (w->wl), at least two points each, as r_predict and r_deriv give it, into
 * w->wval. A window of constant values (none unequal to the one before,
 * counted once per point) is answered at once. One whose points are evenly
 * spaced, as far apart as the first window's first two (no step off that
 * grid inside it, counted once per point), takes the x of its shape: of
 * the windows as far from their origins (every one of deriv's; of
 * predict_linear's, those at steps a multiple of the spacing apart), up to
 * 16 shapes and as many x in all as the series' points. The others compute
 * x at every point. */
static bool lr_batch(struct rjob *j, struct rwork *w, size_t i, const struct pt *p, size_t nw)
{
	const struct ev *ev = j->ev;
	const size_t ns = ev->nsteps, *lo = w->wl, *hi = w->wl + ns, *ks = w->wl + 2 * ns;
	const bool deriv = j->f->id == FN_DERIV;
	/* the points any window holds: windows move forward */
	const size_t a = lo[0], e = hi[nw - 1];
	const int64_t g = p[a + 1].t - p[a].t;
	double *sl = w->wval, *it = w->wval + ns;
	size_t nr = 0, nx = nw, total = 0;
	struct lrshape sh[LR_SHAPES];
	unsigned nsh = 0;
	uint32_t *brk, *gap;

	if (!rj_grow(j, i, (void **)&w->lrc, &w->lrccap, 2 * (e - a), sizeof *w->lrc))
		return false;
	/* of point k at [k - a] */
	brk = w->lrc;
	gap = w->lrc + (e - a);
	brk[0] = gap[0] = 0;
	for (size_t k = a + 1; k < e; k++) {
		brk[k - a] = brk[k - a - 1] + !(p[k].v == p[k - 1].v);
		gap[k - a] = gap[k - a - 1] + (p[k].t - p[k - 1].t != g);
	}
	for (size_t k = 0; k < nw; k++) {
		size_t l = lo[k], h = hi[k];
		int64_t ic = deriv ? p[l].t : step_ts(ev, ks[k]);
		struct lrw x = {l, h - l, k, (double)ic, -1};
		if (brk[h - 1 - a] == brk[l - a]) {
			/* every value equals the first (== is transitive) */
			struct lrsum s = {0, 0, 0, 0, true};
			lr_end(&s, h - l, p[l].v, &sl[k], &it[k]);
			continue;
		}
		if (gap[h - 1 - a] == gap[l - a] && lr_exact(p[l].t) && lr_exact(p[h - 1].t) && lr_exact(ic))
			x.sh = lr_shape(sh, &nsh, &total, e - a, p[l].t - ic, h - l);
		if (x.sh >= 0)
			w->lw[nr++] = x;
		else
			w->lw[--nx] = x;
	}
	if (nr && !lr_shapes(j, w, i, sh, nsh, total, g))
		return false;
	lr_lanes_grid(p, sh, w->lw, nr, sl, it);
	if (nx < nw) {
		if (!rj_grow(j, i, (void **)&w->tt, &w->ttcap, e - a, sizeof *w->tt))
			return false;
		for (size_t k = a; k < e; k++)
			w->tt[k - a] = (double)p[k].t;
		lr_lanes_any(p, w->tt, a, w->lw + nx, nw - nx, sl, it);
	}
	for (size_t k = 0; k < nw; k++)
		w->wval[k] = deriv ? sl[k] : sl[k] * j->larg[ks[k]] + it[k];
	return true;
}

/* series i's value at every step whose window holds points, into w->out */
static void rj_series(void *ctx, unsigned wi, size_t i)
{
	struct rjob *j = ctx;
	struct rwork *w = &j->w[wi];
	const struct ev *ev = j->ev;
	const struct func *f = j->f;
	struct rres *rr = &j->res[i - j->base];
	const struct pt *p;
	size_t np, lo = 0, hi = 0, nw = 0, dh = 0, dt = 0, fed = 0;
	double sargs[5];

	rr->w = wi;
	rr->off = w->on;
	rr->n = 0;
	if (atomic_load_explicit(&j->stop, memory_order_relaxed))
		return;
	if (j->sr) {
		if (!rj_load(j, w, i, j->sr->s[i].id, true, &np))
			return;
		p = w->p;
	} else {
		p = j->sub->m.s[i].p;
		np = j->sub->m.s[i].n;
	}
	if (!rj_tick(j, w, i))
		return;
	if (j->counts && np) {
		if (!rj_grow(j, i, (void **)&w->resets, &w->rcap, np, sizeof *w->resets))
			return;
		w->resets[0] = 0;
		for (size_t k = 1; k < np; k++)
			w->resets[k] = w->resets[k - 1] + (p[k].v < p[k - 1].v);
	}
	if (j->mono && !rj_grow(j, i, (void **)&w->dq, &w->dcap, np, sizeof *w->dq))
		return;
	for (size_t k = 0; k < ev->nsteps; k++) {
		int64_t ts = step_ts(ev, k), r = ref_time(ev, j->sel, ts);
		double v;
		if (!rj_tick(j, w, i))
			return;
		while (hi < np && p[hi].t <= r)
			hi++;
		while (lo < hi && p[lo].t < qsat_sub(r, j->range))
			lo++;
		if (hi <= lo)
			continue;
		if (j->batch) {
			if (j->lr && hi - lo < 2)
				continue;
			w->wl[nw] = lo;
			w->wl[ev->nsteps + nw] = hi;
			w->wl[2 * ev->nsteps + nw++] = k;
			continue;
		}
		if (j->mono) {
			bool mx = f->id == FN_MAX_OT;
			size_t *dq = w->dq;
			for (; fed < hi; fed++) {
				if (isnan(p[fed].v))
					continue;
				/* strict: of equal values the earliest answers,
				 * as in the plain scan (+0 and -0 stay apart) */
				while (dt > dh && (mx ? p[dq[dt - 1]].v < p[fed].v
						      : p[dq[dt - 1]].v > p[fed].v))
					dt--;
				dq[dt++] = fed;
			}
			while (dt > dh && dq[dh] < lo)
				dh++;
			v = dt > dh ? p[dq[dh]].v : NAN;
		} else if (j->counts) {
			if (!extrapolated_scan(p + lo, hi - lo, r, j->range, true, f->id == FN_RATE,
					       w->resets[hi - 1] != w->resets[lo], &v))
				continue;
		} else {
			for (size_t a = 0, q = 0; a < j->n->nargs; a++)
				if (j->sa[a])
					sargs[q++] = j->sa[a][k];
			/* the functions run here do not use ev */
			if (!f->rf((struct ev *)ev, p + lo, hi - lo, ts, r, j->range, sargs, &v))
				continue;
		}
		if (!rj_put(j, w, i, ts, v))
			return;
	}
	if (j->batch && nw) {
		const size_t ns = ev->nsteps, *ks = w->wl + 2 * ns;
		if (!j->lr) {
			avg_windows(p, w->wl, w->wl + ns, nw, w->wval);
		} else if (!lr_batch(j, w, i, p, nw)) {
			return;
		}
		for (size_t k = 0; k < nw; k++)
			if (!rj_put(j, w, i, step_ts(ev, ks[k]), w->wval[k]))
				return;
	}
	rr->n = w->on - rr->off;
}

/* eval_vsel_as's series i, into w->out */
static void rj_vsel(void *ctx, unsigned wi, size_t i)
{
	struct rjob *j = ctx;
	struct rwork *w = &j->w[wi];
	const struct ev *ev = j->ev;
	const struct store_series *se = &j->sr->s[i];
	struct rres *rr = &j->res[i - j->base];
	int64_t r0 = ref_time(ev, j->sel, ev->start);
	size_t np, c = 0;
	struct pt last;

	rr->w = wi;
	rr->off = w->on;
	rr->n = 0;
	if (atomic_load_explicit(&j->stop, memory_order_relaxed) || !rj_tick(j, w, i))
		return;
	/* one step at or after the newest sample (a dashboard's instant
	 * query at "now"): the newest sample answers, no chunk to decode */
	if (ev->nsteps == 1 &&
	    (se->has_latest ? (last.t = se->latest_t, last.v = se->latest_v, 1)
			    : store_latest(ev->snap, se->id, &last.t, &last.v) == 0) &&
	    last.t <= r0 && !(ev->ignore_stale && is_stale(last.v))) {
		if (last.t >= qsat_sub(r0, ev->lookback) && !is_stale(last.v) &&
		    !rj_put(j, w, i, ev->start, j->timestamps ? (double)last.t / 1000 : last.v))
			return;
		rr->n = w->on - rr->off;
		return;
	}
	if (!rj_load(j, w, i, se->id, ev->ignore_stale, &np))
		return;
	for (size_t k = 0; k < ev->nsteps; k++) {
		int64_t ts = step_ts(ev, k), r = ref_time(ev, j->sel, ts);
		const struct pt *p = w->p;
		if (!rj_tick(j, w, i))
			return;
		while (c < np && p[c].t <= r)
			c++;
		if (c == 0 || p[c - 1].t < qsat_sub(r, ev->lookback) || is_stale(p[c - 1].v))
			continue;
		if (!rj_put(j, w, i, ts, j->timestamps ? (double)p[c - 1].t / 1000 : p[c - 1].v))
			return;
	}
	rr->n = w->on - rr->off;
}

static void rj_free(void *arg)
{
	struct rjob *j = arg;
	qpool_stop(j->pool);
	for (size_t k = 0; k < QUERY_MAX_THREADS; k++) {
		struct rwork *w = &j->w[k];
		store_iter_free(w->it);
		free(w->p);
		free(w->resets);
		free(w->dq);
		free(w->wl);
		free(w->wval);
		free(w->lw);
		free(w->lrc);
		free(w->tt);
		free(w->shx);
		free(w->out);
	}
	free(j->res);
	free(j->emsg);
	if (j->mem && j->charged)
		query_mem_release(j->mem, j->charged);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

/* the batch buffers of worker k */
static void rj_buffers(struct ev *ev, struct rjob *j, unsigned k)
{
	struct rwork *w = &j->w[k];
	if (j->batch &&
	    (!rj_grow(j, 0, (void **)&w->wl, &w->wlcap, 3 * ev->nsteps, sizeof *w->wl) ||
	     !rj_grow(j, 0, (void **)&w->wval, &w->wcap, (j->lr ? 2 : 1) * ev->nsteps,
		      sizeof *w->wval) ||
	     (j->lr && !rj_grow(j, 0, (void **)&w->lw, &w->lwcap, ev->nsteps, sizeof *w->lw))))
		ev_fail(ev, j->etype, "%s", j->emsg);
}

/* the helpers: they read the snapshot with iterators of their own, made
 * here, on the snapshot's thread (store_snap_begin has read every table
 * root an iterator reads into the transaction: store.h) */
static void rj_start(struct ev *ev, struct rjob *j)
{
	unsigned want = ev->threads > QUERY_MAX_THREADS ? QUERY_MAX_THREADS : ev->threads;
	if (j->sr)
		for (unsigned k = 1; k < want; k++)
			j->w[k].it = store_iter_new(ev->snap);
	for (unsigned k = 1; k < want; k++)
		rj_buffers(ev, j, k);
	j->pool = qpool_start(want, j->vsel ? rj_vsel : rj_series, j);
}

/* The range function's vector over series [0, nser) of a selector (sr)
 * or a subquery (sub). */
static struct val range_par(struct ev *ev, struct node *n, struct node *sel, double **sa,
			    int64_t range, int64_t mint, int64_t maxt, const struct selres *sr,
			    const struct val *sub, size_t nser, bool timestamps,
			    struct agg_sink *sink)
{
	const struct func *f = n ? n->fn : NULL;
	struct val out = {.type = T_VECTOR};
	struct outb o = {0};
	struct rjob *j = xcalloc(1, sizeof *j);
	size_t run;

	j->ev = ev;
	j->f = f;
	j->n = n;
	j->sel = sel;
	j->sa = sa;
	j->range = range;
	j->mint = mint;
	j->maxt = maxt;
	j->sr = sr;
	j->sub = sub;
	j->mem = ev->a->mem;
	j->vsel = !n;
	j->timestamps = timestamps;
	if (j->vsel)
		goto setup;
	/* max/min over overlapping windows: a monotonic queue of the non-NaN
	 * points, O(points) instead of O(points x window) */
	j->mono = (f->id == FN_MAX_OT || f->id == FN_MIN_OT) && ev->nsteps > 1 &&
		  ev->interval < range;
	/* avg_over_time, predict_linear and deriv at many steps: the windows
	 * first, then their values together (avg_windows, lr_batch) */
	j->lr = (f->id == FN_PREDICT_LINEAR || f->id == FN_DERIV) && ev->nsteps > 1;
	j->batch = (f->id == FN_AVG_OT && ev->nsteps > 1) || j->lr;
	for (size_t a = 0; j->lr && a < n->nargs; a++)
		if (sa[a] && !j->larg)
			j->larg = sa[a];
	/* rate and increase at many steps: the counter resets before each
	 * point counted once, so that a window without any (nearly all) is not
	 * scanned for them again at every step */
	j->counts = (f->id == FN_RATE || f->id == FN_INCREASE) && ev->nsteps > 1;
setup:
	pthread_mutex_init(&j->mu, NULL);
	ev->root->cleanup = rj_free;
	ev->root->cleanup_arg = j;
	if (sink)
		agg_sink_take(sink);

	/* helpers only once this thread has spent query__par_alone_ns alone: a small
	 * query is over before starting a thread would pay */
	bool par = ev->threads > 1 && nser >= QUERY_PAR_MIN_SERIES;
	int64_t t0 = par ? pw_mono_ns() : 0, alone_until = qsat_add(t0, query__par_alone_ns);
	rj_buffers(ev, j, 0);
	run = RJ_RUN_POINTS / (ev->nsteps ? ev->nsteps : 1);
	if (run < 16)
		run = 16;
	if (run > nser)
		run = nser;
	j->res = xreallocarray(NULL, run ? run : 1, sizeof *j->res);
	for (size_t b = 0; b < nser; b += run) {
		size_t e = nser - b < run ? nser : b + run, nx = b;
		j->base = b;
		for (unsigned k = 0; k < QUERY_MAX_THREADS; k++)
			j->w[k].on = 0;
		if (par && !j->pool) {
			for (; nx < e && !j->emsg && pw_mono_ns() < alone_until; nx++)
				(j->vsel ? rj_vsel : rj_series)(j, 0, nx);
			/* and only when what is left would take as long again,
			 * at the pace so far */
			if (nx < e && !j->emsg) {
				int64_t spent = pw_mono_ns() - t0;
				if (nx == 0 ||
				    (double)spent * (double)(nser - nx) / (double)nx >= (double)query__par_alone_ns)
					rj_start(ev, j);
				par = false;
			}
		}
		if (j->pool && nx < e)
			qpool_run(j->pool, nx, e);
		else
			for (; nx < e; nx++)
				(j->vsel ? rj_vsel : rj_series)(j, 0, nx);
		if (j->emsg)
			ev_fail(ev, j->etype, "%s", j->emsg);
		ev_check_time(ev);
		for (size_t i = b; i < e; i++) {
			const struct rres *rr = &j->res[i - b];
			struct pw_lset *ls = sr ? sr->ls[i] : sub->m.s[i].ls;
			size_t before = o.m.n, idx;
			struct ser *s;
			if (!rr->n)
				continue;
			if (j->vsel && sink) {
				agg_sink_put(ev, sink, ls, j->w[rr->w].out + rr->off, rr->n);
				ev_account(ev, rr->n);
				continue;
			}
			if (j->vsel) {
				/* a selector's series are distinct */
				s = mat_add(ev, &out.m, ls);
				ser_reserve(ev, s, rr->n);
				memcpy(s->p, j->w[rr->w].out + rr->off, rr->n * sizeof *s->p);
				s->n = (uint32_t)rr->n;
				ev_account(ev, rr->n);
				continue;
			}
			if (f->id != FN_LAST_OT)
				ls = qlabels_drop_name(ev->a, ls);
			idx = outb_find(ev, &o, ls);
			if (o.m.n == before)
				ev_fail(ev, QUERY_ERR_EXECUTION,
					"vector cannot contain metrics with the same labelset");
			if (sink) {
				agg_sink_put(ev, sink, ls, j->w[rr->w].out + rr->off, rr->n);
				ev_account(ev, rr->n);
				continue;
			}
			s = &o.m.s[idx];
			ser_reserve(ev, s, rr->n);
			memcpy(s->p, j->w[rr->w].out + rr->off, rr->n * sizeof *s->p);
			s->n = (uint32_t)rr->n;
			ev_account(ev, rr->n);
		}
	}
	ev->root->cleanup = NULL;
	ev->root->cleanup_arg = NULL;
	rj_free(j);
	if (!n)
		return out;
	out.m = o.m;
	return out;
}

struct val vsel_par(struct ev *ev, struct node *vs, bool timestamps, const struct selres *sr,
		    int64_t mint, int64_t maxt, struct agg_sink *sink)
{
	return range_par(ev, NULL, vs, NULL, 0, mint, maxt, sr, NULL, sr->n, timestamps, sink);
}

/* range_call goes series by series (range_par): it can feed an aggregation */
bool range_call_feeds(const struct node *n)
{
	const struct func *f = n->fn;
	return f->kind == F_RANGE && f->id != FN_ABSENT_OVER_TIME && f->id != FN_QUANTILE_OT &&
	       f->id != FN_HOLT_WINTERS;
}

static struct val range_call(struct ev *ev, struct node *n)
{
	struct agg_sink *sink = ev->sink; /* before any argument is evaluated */
	ev->sink = NULL;
	const struct func *f = n->fn;
	struct val out = {.type = T_VECTOR}, sub = {0};
	struct outb o = {0};
	struct node *arg = NULL, *sel;
	double **sa = scalar_args(ev, n), sargs[5];
	int64_t range, r0, r1, mint, maxt;
	struct selres sr = {0};
	size_t nser;

	for (size_t i = 0; i < n->nargs; i++)
		if (n->args[i]->type == T_MATRIX)
			arg = unparen(n->args[i]);
	sel = arg->k == N_MSEL ? arg->a : arg;
	range = arg->range;
	r0 = ref_time(ev, sel, ev->start);
	r1 = ref_time(ev, sel, ev->end);
	mint = qsat_sub(r0 < r1 ? r0 : r1, range);
	maxt = r0 > r1 ? r0 : r1;
	if (arg->k == N_MSEL) {
		sr = select_series(ev, sel, mint, maxt);
		nser = sr.n;
	} else {
		sub = eval_subq_between(ev, arg, r0 < r1 ? r0 : r1, r0 > r1 ? r0 : r1);
		nser = sub.m.n;
	}
	bool absent = f->id == FN_ABSENT_OVER_TIME;
	/* quantile_over_time's and holt_winters' windows use the arena and
	 * may fail: on this thread, window by window; every other function
	 * goes series by series, on the query's threads (range_par) */
	if (range_call_feeds(n))
		return range_par(ev, n, sel, sa, range, mint, maxt, arg->k == N_MSEL ? &sr : NULL,
				 arg->k == N_MSEL ? NULL : &sub, nser, false, sink);
	bool *present = absent ? qarena_alloc(ev->a, ev->nsteps) : NULL;
	for (size_t i = 0; i < nser; i++) {
		struct pt *p;
		size_t np, lo = 0, hi = 0, idx = SIZE_MAX;
		struct pw_lset *ls;
		if (arg->k == N_MSEL) {
			np = load_points(ev, sr.s[i].id, mint, maxt, true, &p);
			ls = sr.ls[i];
		} else {
			p = sub.m.s[i].p;
			np = sub.m.s[i].n;
			ls = sub.m.s[i].ls;
		}
		ls = qlabels_drop_name(ev->a, ls);
		ev_tick(ev);
		for (size_t k = 0; k < ev->nsteps; k++) {
			int64_t ts = step_ts(ev, k), r = ref_time(ev, sel, ts);
			double v;
			ev_tick(ev);
			while (hi < np && p[hi].t <= r)
				hi++;
			while (lo < hi && p[lo].t < qsat_sub(r, range))
				lo++;
			if (hi <= lo)
				continue;
			if (absent) {
				present[k] = true;
				continue;
			}
			for (size_t j = 0, q = 0; j < n->nargs; j++)
				if (sa[j])
					sargs[q++] = sa[j][k];
			if (!f->rf(ev, p + lo, hi - lo, ts, r, range, sargs, &v))
				continue;
			if (idx == SIZE_MAX) {
				size_t before = o.m.n;
				idx = outb_find(ev, &o, ls);
				if (o.m.n == before)
					ev_fail(ev, QUERY_ERR_EXECUTION,
						"vector cannot contain metrics with the same labelset");
				ser_reserve(ev, &o.m.s[idx], ev->nsteps - k);
			}
			outb_put(ev, &o, idx, ts, v);
		}
	}
	if (absent) {
		struct ser *s = NULL;
		for (size_t k = 0; k < ev->nsteps; k++) {
			if (present[k])
				continue;
			if (!s)
				s = mat_add(ev, &out.m, absent_labels(ev, arg));
			ser_push(ev, s, step_ts(ev, k), 1);
		}
		return out;
	}
	out.m = o.m;
	return out;
}

/* Element-wise over a vector: f(v, scalar args at the step). */
static struct val map_vec(struct ev *ev, struct val *in, double **sa, size_t nsa, bool keep_name,
			  double (*vf)(double, const double *), int date, int clamp)
{
	struct outb o = {0};
	struct val out = {.type = T_VECTOR};
	double args[5];
	for (size_t i = 0; i < in->m.n; i++) {
		struct ser *s = &in->m.s[i];
		struct pw_lset *ls = keep_name ? s->ls : qlabels_drop_name(ev->a, s->ls);
		size_t idx = SIZE_MAX;
		ev_tick(ev);
		for (uint32_t j = 0; j < s->n; j++) {
			size_t k = step_of(ev, s->p[j].t);
			double v = s->p[j].v;
			for (size_t q = 0; q < nsa; q++)
				args[q] = sa[q][k];
			if (clamp) {
				if (args[1] < args[0])
					continue;
				v = go_max(args[0], go_min(args[1], v));
			} else if (date) {
				v = f_date(v, date);
			} else {
				v = vf(v, args);
			}
			if (idx == SIZE_MAX)
				idx = outb_find(ev, &o, ls);
			outb_put(ev, &o, idx, s->p[j].t, v);
		}
	}
	out.m = o.m;
	return out;
}

static struct val label_replace(struct ev *ev, struct node *n)
{
	struct val in = eval(ev, n->args[0]), out = {.type = T_VECTOR};
	const char *dst = unparen(n->args[1])->str, *repl = unparen(n->args[2])->str,
		   *src = unparen(n->args[3])->str, *rx = unparen(n->args[4])->str;
	struct outb o = {0};
	/* as Prometheus: Go's regexp of "^(?:" rx ")$", Expand for the
	 * replacement, an empty result removes the label */
	struct pw_regex *re = pw_regex_new(rx, false, NULL);

	if (!re)
		ev_fail(ev, QUERY_ERR_EXECUTION, "invalid regular expression in label_replace(): %s", rx);
	if (!pw_valid_label_name(dst, strlen(dst))) {
		pw_regex_free(re);
		ev_fail(ev, QUERY_ERR_EXECUTION, "invalid destination label name in label_replace(): %s",
			dst);
	}
	/* new label sets first: nothing below may fail while the regex is held
	 * (their memory is charged after it) */
	struct pw_lset **nls = qarena_alloc(ev->a, (in.m.n + 1) * sizeof *nls);
	bool late = false;
	struct query_mem *mem = ev->a->mem;
	size_t held = ev->a->bytes;
	ev->a->mem = NULL;
	for (size_t i = 0; i < in.m.n; i++) {
		struct ser *s = &in.m.s[i];
		const char *sv = pw_lset_get(s->ls, src);
		struct pw_lset *ls = s->ls;
		char *res;
		/* one match may take long: the clock before each; a timeout
		 * unwinds once the regex is freed */
		if ((late = pw_mono_ns() > ev->deadline_ns || query_mem_stopped(ev->mem)))
			break;
		if (!sv)
			sv = "";
		if (pw_regex_replace(re, sv, repl, &res)) {
			struct pw_label *lb = qarena_alloc(ev->a, (ls->n + 1) * sizeof *lb);
			size_t k = 0;
			for (uint32_t j = 0; j < ls->n; j++)
				if (strcmp(ls->l[j].name, dst))
					lb[k++] = ls->l[j];
			if (res[0]) {
				lb[k].name = dst;
				lb[k++].value = qarena_strdup(ev->a, res);
			}
			free(res);
			ls = qlabels_make(ev->a, lb, k);
		}
		nls[i] = ls;
	}
	pw_regex_free(re);
	ev->a->mem = mem;
	if (mem)
		ev_charge(ev, ev->a->bytes - held);
	if (late)
		ev_check_time(ev);
	for (size_t i = 0; i < in.m.n; i++) {
		struct ser *s = &in.m.s[i];
		size_t idx = outb_find(ev, &o, nls[i]);
		for (uint32_t j = 0; j < s->n; j++)
			outb_put(ev, &o, idx, s->p[j].t, s->p[j].v);
	}
	out.m = o.m;
	return out;
}

static struct val label_join(struct ev *ev, struct node *n)
{
	struct val in = eval(ev, n->args[0]), out = {.type = T_VECTOR};
	const char *dst = unparen(n->args[1])->str, *sep = unparen(n->args[2])->str;
	struct outb o = {0};

	if (!pw_valid_label_name(dst, strlen(dst)))
		ev_fail(ev, QUERY_ERR_EXECUTION, "invalid destination label name in label_join(): %s",
			dst);
	for (size_t a = 3; a < n->nargs; a++) {
		const char *s = unparen(n->args[a])->str;
		if (!pw_valid_label_name(s, strlen(s)))
			ev_fail(ev, QUERY_ERR_EXECUTION, "invalid source label name in label_join(): %s",
				s);
	}
	for (size_t i = 0; i < in.m.n; i++) {
		struct ser *s = &in.m.s[i];
		struct pw_lset *ls = s->ls;
		struct pw_buf b;
		struct pw_label *lb = qarena_alloc(ev->a, (ls->n + 1) * sizeof *lb);
		size_t k = 0;
		char *res;
		pw_buf_init(&b, 0);
		pw_buf_puts(&b, "");
		for (size_t a = 3; a < n->nargs; a++) {
			const char *v = pw_lset_get(ls, unparen(n->args[a])->str);
			if (a > 3)
				pw_buf_puts(&b, sep);
			pw_buf_puts(&b, v ? v : "");
		}
		res = pw_buf_take(&b);
		for (uint32_t j = 0; j < ls->n; j++)
			if (strcmp(ls->l[j].name, dst))
				lb[k++] = ls->l[j];
		lb[k].name = dst;
		lb[k++].value = qarena_strdup(ev->a, res);
		free(res);
		ls = qlabels_make(ev->a, lb, k);
		size_t idx = outb_find(ev, &o, ls);
		for (uint32_t j = 0; j < s->n; j++)
			outb_put(ev, &o, idx, s->p[j].t, s->p[j].v);
	}
	out.m = o.m;
	return out;
}

struct bucket {
	double le, v;
};

static int bucket_cmp(const void *a, const void *b)
{
	double x = ((const struct bucket *)a)->le, y = ((const struct bucket *)b)->le;
	return x < y ? -1 : x > y;
}

static double bucket_quantile(double q, struct bucket *b, size_t n)
{
	size_t k = 0, i;
	double obs, rank, start = 0, end, count;
	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	qsort(b, n, sizeof *b, bucket_cmp);
	if (!(isinf(b[n - 1].le) && b[n - 1].le > 0))
		return NAN;
	/* coalesce equal bounds */
	for (i = 0; i < n; i++) {
		if (k > 0 && b[k - 1].le == b[i].le)
			b[k - 1].v += b[i].v;
		else
			b[k++] = b[i];
	}
	n = k;
	/* make monotonic */
	{
		double max = -INFINITY;
		for (i = 0; i < n; i++) {
			if (b[i].v > max)
				max = b[i].v;
			else if (b[i].v < max)
				b[i].v = max;
		}
	}
	if (n < 2)
		return NAN;
	obs = b[n - 1].v;
	if (obs == 0)
		return NAN;
	rank = q * obs;
	for (i = 0; i < n - 1; i++)
		if (b[i].v >= rank)
			break;
	if (i == n - 1)
		return b[n - 2].le;
	if (i == 0 && b[0].le <= 0)
		return b[0].le;
	end = b[i].le;
	count = b[i].v;
	if (i > 0) {
		start = b[i - 1].le;
		count -= b[i - 1].v;
		rank -= b[i - 1].v;
	}
	return start + (end - start) * (rank / count);
}

static struct val histogram_quantile(struct ev *ev, struct node *n)
{
	double *q = eval(ev, n->args[0]).sc;
	struct val in = eval(ev, n->args[1]), out = {.type = T_VECTOR};
	struct outb groups = {0}, o = {0};
	size_t *gi = qarena_alloc(ev->a, (in.m.n + 1) * sizeof *gi);
	double *le = qarena_alloc(ev->a, (in.m.n + 1) * sizeof *le);
	size_t *c = qarena_alloc(ev->a, (in.m.n + 1) * sizeof *c);
	char *excl[] = {(char *)"le"};
	struct bucket **bk;
	size_t *bn, *bcap, *outidx;

	for (size_t i = 0; i < in.m.n; i++) {
		const char *l = pw_lset_get(in.m.s[i].ls, "le"), *end;
		gi[i] = SIZE_MAX;
		if (!l || pw_parse_double(l, l + strlen(l), &le[i], &end) != 0 || *end)
			continue;
		gi[i] = outb_find(ev, &groups,
				  qlabels_project(ev->a, in.m.s[i].ls, false, excl, 1));
	}
	bk = qarena_alloc(ev->a, (groups.m.n + 1) * sizeof *bk);
	bn = qarena_alloc(ev->a, (groups.m.n + 1) * sizeof *bn);
	bcap = qarena_alloc(ev->a, (groups.m.n + 1) * sizeof *bcap);
	outidx = qarena_alloc(ev->a, (groups.m.n + 1) * sizeof *outidx);
	for (size_t g = 0; g < groups.m.n; g++)
		outidx[g] = SIZE_MAX;
	for (size_t k = 0; k < ev->nsteps; k++) {
		int64_t ts = step_ts(ev, k);
		ev_tick(ev);
		for (size_t i = 0; i < in.m.n; i++) {
			double v;
			size_t g = gi[i];
			if (!at_step(&in.m.s[i], &c[i], ts, &v) || g == SIZE_MAX)
				continue;
			if (bn[g] == bcap[g]) {
				size_t nc = bcap[g] ? bcap[g] * 2 : 16;
				bk[g] = qarena_grow(ev->a, bk[g], bcap[g] * sizeof **bk, nc * sizeof **bk);
				bcap[g] = nc;
			}
			bk[g][bn[g]].le = le[i];
			bk[g][bn[g]++].v = v;
		}
		for (size_t g = 0; g < groups.m.n; g++) {
			if (!bn[g])
				continue;
			double v = bucket_quantile(q[k], bk[g], bn[g]);
			bn[g] = 0;
			if (outidx[g] == SIZE_MAX)
				outidx[g] = outb_find(ev, &o, groups.m.s[g].ls);
			outb_put(ev, &o, outidx[g], ts, v);
		}
	}
	out.m = o.m;
	return out;
}

struct sortel {
	struct ser s;
	double v;
};

/* NaN last either way */
static int sort_asc(const void *a, const void *b)
{
	double x = ((const struct sortel *)a)->v, y = ((const struct sortel *)b)->v;
	if (isnan(x) || isnan(y))
		return isnan(x) - isnan(y);
	return x < y ? -1 : x > y;
}

static int sort_desc(const void *a, const void *b)
{
	double x = ((const struct sortel *)a)->v, y = ((const struct sortel *)b)->v;
	if (isnan(x) || isnan(y))
		return isnan(x) - isnan(y);
	return x > y ? -1 : x < y;
}

static struct val timestamp_call(struct ev *ev, struct node *n)
{
	/* of a selector: the selected samples' own times; of anything else:
	 * the evaluation time of each point */
	struct node *a = unparen(n->args[0]);
	struct val in = a->k == N_VSEL ? eval_vsel_as(ev, a, true) : eval(ev, a);
	struct val out = {.type = T_VECTOR};
	struct outb o = {0};
	for (size_t i = 0; i < in.m.n; i++) {
		struct ser *s = &in.m.s[i];
		size_t idx = outb_find(ev, &o, qlabels_drop_name(ev->a, s->ls));
		for (uint32_t j = 0; j < s->n; j++)
			outb_put(ev, &o, idx, s->p[j].t,
				 a->k == N_VSEL ? s->p[j].v : (double)s->p[j].t / 1000);
	}
	out.m = o.m;
	return out;
}

struct val eval_call(struct ev *ev, struct node *n)
{
	const struct func *f = n->fn;
	struct val out = {.type = T_VECTOR}, in;

	if (f->kind == F_RANGE || f->id == FN_ABSENT_OVER_TIME)
		return range_call(ev, n);
	switch (f->id) {
	case FN_TIME: case FN_PI:
		out = scalar_val(ev);
		for (size_t k = 0; k < ev->nsteps; k++)
			out.sc[k] = f->id == FN_PI ? M_PI : (double)step_ts(ev, k) / 1000;
		return out;
	case FN_VECTOR: {
		double *s = eval(ev, n->args[0]).sc;
		struct ser *se = mat_add(ev, &out.m, qlabels_make(ev->a, NULL, 0));
		for (size_t k = 0; k < ev->nsteps; k++)
			ser_push(ev, se, step_ts(ev, k), s[k]);
		return out;
	}
	case FN_SCALAR: {
		size_t *c, *cnt;
		in = eval(ev, n->args[0]);
		out = scalar_val(ev);
		c = qarena_alloc(ev->a, (in.m.n + 1) * sizeof *c);
		cnt = qarena_alloc(ev->a, ev->nsteps * sizeof *cnt);
		for (size_t k = 0; k < ev->nsteps; k++)
			out.sc[k] = NAN;
		for (size_t k = 0; k < ev->nsteps; k++) {
			int64_t ts = step_ts(ev, k);
			for (size_t i = 0; i < in.m.n; i++) {
				double v;
				if (at_step(&in.m.s[i], &c[i], ts, &v)) {
					out.sc[k] = ++cnt[k] == 1 ? v : NAN;
				}
			}
		}
		return out;
	}
	case FN_ABSENT: {
		size_t *c;
		struct ser *se = NULL;
		in = eval(ev, n->args[0]);
		c = qarena_alloc(ev->a, (in.m.n + 1) * sizeof *c);
		for (size_t k = 0; k < ev->nsteps; k++) {
			int64_t ts = step_ts(ev, k);
			bool any = false;
			for (size_t i = 0; i < in.m.n; i++) {
				double v;
				any |= at_step(&in.m.s[i], &c[i], ts, &v);
			}
			if (any)
				continue;
			if (!se)
				se = mat_add(ev, &out.m, absent_labels(ev, n->args[0]));
			ser_push(ev, se, ts, 1);
		}
		return out;
	}
	case FN_TIMESTAMP:
		return timestamp_call(ev, n);
	case FN_LABEL_REPLACE:
		return label_replace(ev, n);
	case FN_LABEL_JOIN:
		return label_join(ev, n);
	case FN_HISTOGRAM_QUANTILE:
		return histogram_quantile(ev, n);
	case FN_SORT: case FN_SORT_DESC:
		in = eval(ev, n->args[0]);
		if (ev->nsteps == 1 && in.m.n > 1) {
			struct sortel *e = qarena_alloc(ev->a, in.m.n * sizeof *e);
			size_t k = 0;
			for (size_t i = 0; i < in.m.n; i++)
				if (in.m.s[i].n) {
					e[k].s = in.m.s[i];
					e[k++].v = in.m.s[i].p[0].v;
				}
			qsort(e, k, sizeof *e, f->id == FN_SORT ? sort_asc : sort_desc);
			for (size_t i = 0; i < k; i++)
				in.m.s[i] = e[i].s;
			in.m.n = k;
		}
		return in;
	case FN_CLAMP: {
		double **sa = scalar_args(ev, n), *two[2] = {sa[1], sa[2]};
		in = eval(ev, n->args[0]);
		return map_vec(ev, &in, two, 2, false, NULL, 0, 1);
	}
	case FN_DAY_OF_MONTH: case FN_DAY_OF_WEEK: case FN_DAY_OF_YEAR: case FN_DAYS_IN_MONTH:
	case FN_HOUR: case FN_MINUTE: case FN_MONTH: case FN_YEAR:
		if (n->nargs == 0) {
			struct ser *se = mat_add(ev, &out.m, qlabels_make(ev->a, NULL, 0));
			for (size_t k = 0; k < ev->nsteps; k++)
				ser_push(ev, se, step_ts(ev, k),
					 f_date((double)step_ts(ev, k) / 1000, f->id));
			return out;
		}
		in = eval(ev, n->args[0]);
		return map_vec(ev, &in, NULL, 0, false, NULL, f->id, 0);
	default:
		break;
	}
	/* element-wise */
	{
		double **sa = scalar_args(ev, n), *args[4], one[1] = {1};
		size_t na = 0;
		in = eval(ev, n->args[0]);
		for (size_t i = 1; i < n->nargs; i++)
			args[na++] = sa[i];
		if (f->id == FN_ROUND && n->nargs == 1) {
			double *ones = qarena_alloc(ev->a, ev->nsteps * sizeof *ones);
			for (size_t k = 0; k < ev->nsteps; k++)
				ones[k] = one[0];
			args[na++] = ones;
		}
		return map_vec(ev, &in, args, na, false, f->vf, 0, 0);
	}
}
