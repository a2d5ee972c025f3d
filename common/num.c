/*
 * num.c — float formatting that round-trips bit-exactly, Prometheus-style
 * float parsing, the in-memory hash used by tables across the project, and
 * Prometheus' metric and label name rules.
 */
#include "common.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The shortest decimal of at least pmin significant digits that reads back
 * as v (v finite, not 0), as C's %.*e writes it: [-]d.ddde[+-]xx. Returns
 * the number of significant digits. */
static int shortest_e(double v, int pmin, char *e, size_t sz)
{
	int p = pmin;
	for (; p < 17; p++) {
		snprintf(e, sz, "%.*e", p - 1, v);
		if (strtod(e, NULL) == v)
			return p;
	}
	snprintf(e, sz, "%.*e", 16, v);
	return 17;
}

/* e's digits without the point and trailing zeros, and its exponent */
static int e_digits(const char *e, char *digits, int *exp10, bool *neg)
{
	int nd = 0;
	const char *p = e;
	*neg = *p == '-';
	if (*neg)
		p++;
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	*exp10 = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	return nd;
}

/* digits laid out without an exponent (Go's 'f' with the digits given) */
static size_t layout_f(char *out, const char *digits, int nd, int exp10, bool neg)
{
	size_t o = 0;
	if (neg)
		out[o++] = '-';
	if (exp10 < 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (int i = 0; i < -exp10 - 1; i++)
			out[o++] = '0';
		memcpy(out + o, digits, (size_t)nd);
		o += (size_t)nd;
	} else {
		for (int i = 0; i <= exp10 || i < nd; i++) {
			if (i == exp10 + 1)
				out[o++] = '.';
			out[o++] = i < nd ? digits[i] : '0';
		}
	}
	out[o] = '\0';
	return o;
}

/* C's %.{p}g of the digits of e: the exponent form when the exponent is
 * below -4 or at least p, trailing zeros dropped */
static size_t layout_g(char *out, const char *e, int p)
{
	char digits[24];
	int exp10, nd;
	bool neg;
	nd = e_digits(e, digits, &exp10, &neg);
	if (exp10 < -4 || exp10 >= p) {
		size_t o = 0;
		if (neg)
			out[o++] = '-';
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, (size_t)nd - 1);
			o += (size_t)nd - 1;
		}
		return o + (size_t)sprintf(out + o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	}
	return layout_f(out, digits, nd, exp10, neg);
}

size_t pw_fmt_float(char *dst, size_t dstsz, double v, enum pw_float_style style)
{
	char e[40], out[400], digits[24];
	int p, exp10, nd;
	bool neg;

	if (style == PW_FMT_HUMAN) {
		/* at most two decimals, below 1 four, fewer when not needed */
		if (isnan(v) || isinf(v)) {
			snprintf(out, sizeof out, "-");
		} else {
			char *end;
			snprintf(out, sizeof out, fabs(v) >= 1 ? "%.2f" : "%.4f", v);
			end = out + strlen(out);
			while (end[-1] == '0')
				*--end = '\0';
			if (end[-1] == '.')
				*--end = '\0';
			if (strcmp(out, "-0") == 0)
				snprintf(out, sizeof out, "0");
		}
	} else if (isnan(v)) {
		snprintf(out, sizeof out, "NaN");
	} else if (isinf(v)) {
		snprintf(out, sizeof out, v > 0 ? "+Inf" : "-Inf");
	} else if (v == 0) {
		snprintf(out, sizeof out, style == PW_FMT_GO_E ? (signbit(v) ? "-0e+00" : "0e+00")
							      : (signbit(v) ? "-0" : "0"));
	} else if (style == PW_FMT_GO_E) {
		shortest_e(v, 1, out, sizeof out);
	} else if (style != PW_FMT_GO_V && fabs(v) < 9007199254740992.0 && v == trunc(v)) {
		snprintf(out, sizeof out, "%lld", (long long)v); /* integers: the common case */
	} else if (style == PW_FMT_PROM) {
		/* the shortest of %.15g, %.16g, %.17g that reads back the same */
		p = shortest_e(v, 15, e, sizeof e);
		layout_g(out, e, p);
	} else {
		/* Go's 'f' -1; %v: the same, or 'e' -1 outside [1e-4, 1e21) by its
		 * shortest digits' exponent (Go uses the exponent from 1e+06 up for
		 * %v's shortest form, and so do we) */
		if (style == PW_FMT_GO_V) {
			shortest_e(v, 1, e, sizeof e);
			e_digits(e, digits, &exp10, &neg);
			if (exp10 < -4 || exp10 >= 6) {
				snprintf(dst, dstsz, "%s", e);
				return strlen(dst) < dstsz ? strlen(dst) : 0;
			}
			if (fabs(v) < 9007199254740992.0 && v == trunc(v)) {
				snprintf(dst, dstsz, "%lld", (long long)v);
				return strlen(dst);
			}
		}
		/* subnormals carry fewer bits: fewer digits may do */
		p = shortest_e(v, fabs(v) < DBL_MIN ? 1 : 15, e, sizeof e);
		nd = e_digits(e, digits, &exp10, &neg);
		layout_f(out, digits, nd, exp10, neg);
	}
	snprintf(dst, dstsz, "%s", out);
	nd = (int)strlen(out);
	return (size_t)nd < dstsz ? (size_t)nd : dstsz ? dstsz - 1 : 0;
}

bool pw_number(const char *s, double *v)
{
	double x;
	const char *end;
	if (!s || !*s || pw_parse_double(s, s + strlen(s), &x, &end) != 0 || *end)
		return false;
	*v = x;
	return true;
}

int pw_parse_double(const char *s, const char *lim, double *out, const char **end)
{
	char tmp[80];
	const char *p = s;
	size_t n;
	char *e;
	double v;

	while (p < lim && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' &&
	       *p != '}' && *p != ',')
		p++;
	n = (size_t)(p - s);
	if (n == 0 || n >= sizeof tmp)
		return PW_EINVAL;
	{
		/* Integers of up to 15 digits (scraped counters, mostly) are exact
		 * doubles: no copy and no strtod for them. */
		const char *q = s + (*s == '+' || *s == '-');
		uint64_t acc = 0;
		size_t digits = (size_t)(p - q);
		if (digits > 0 && digits <= 15) {
			const char *d = q;
			while (d < p && *d >= '0' && *d <= '9')
				acc = acc * 10 + (uint64_t)(*d++ - '0');
			if (d == p) {
				*out = *s == '-' ? -(double)acc : (double)acc;
				if (end)
					*end = p;
				return 0;
			}
		}
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	{
		const char *q = tmp + (tmp[0] == '+' || tmp[0] == '-');
		if (strcasecmp(q, "nan") == 0) {
			uint64_t bits = 0x7ff8000000000001ULL; /* Go's math.NaN() */
			memcpy(&v, &bits, sizeof v);
			*out = v;
			if (end)
				*end = p;
			return 0;
		}
		if (strcasecmp(q, "inf") == 0 || strcasecmp(q, "infinity") == 0) {
			*out = tmp[0] == '-' ? -INFINITY : INFINITY;
			if (end)
				*end = p;
			return 0;
		}
		/* strtod would accept these, Prometheus does not. */
		if (strncasecmp(q, "nan", 3) == 0 || strncasecmp(q, "inf", 3) == 0)
			return PW_EINVAL;
		if (*q == ' ' || *q == '\0')
			return PW_EINVAL;
	}
	v = strtod(tmp, &e);
	if (e != tmp + n)
		return PW_EINVAL;
	*out = v;
	if (end)
		*end = p;
	return 0;
}

uint64_t pw_hash64(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	/* 8 bytes at a time keeps this cheap for long label sets. */
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h ^= w;
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	while (n--) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

bool pw_name_char(unsigned char c, bool first, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

static bool valid_name(const char *s, size_t n, bool colon)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!pw_name_char((unsigned char)s[i], i == 0, colon))
			return false;
	return true;
}

bool pw_valid_metric_name(const char *s, size_t n) { return valid_name(s, n, true); }
bool pw_valid_label_name(const char *s, size_t n) { return valid_name(s, n, false); }
