/*
 * num.c — float formatting that round-trips bit-exactly, Prometheus-style
 * float parsing, the in-memory hash used by tables across the project, and
 * Prometheus' metric and label name rules.
 */
#include "common.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* v's p significant digits (p <= 17) correctly rounded, as printf's %.*e
 * rounds the exact binary value: *d in [10^(p-1), 10^p), v = d * 10^(*e10 -
 * p + 1) rounded. Computed in x87 extended precision, where v * 10^k (|k| <=
 * 27, 10^k exact) is off by at most half a unit in its 64th bit: when that
 * error could move the rounding (the fraction within the error of one half)
 * or v is out of range, returns false and the caller asks printf. */
#if defined(__x86_64__) && LDBL_MANT_DIG == 64
#define PW_FAST_DIGITS 1
static const long double pow10l_tab[28] = {
	1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L, 1e12L, 1e13L,
	1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L,
	1e26L, 1e27L,
};
static const double pow10_tab[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static bool fast_digits(double a, int p, int *e10io, uint64_t *d, int *e10out)
{
	int e10 = *e10io;
	for (int tries = 0; tries < 2; tries++) {
		int k = p - 1 - e10;
		long double x, fl, frac, margin;
		if (k > 27 || k < -27)
			return false;
		x = k >= 0 ? (long double)a * pow10l_tab[k] : (long double)a / pow10l_tab[-k];
		if (!(x < 0x1p63L))
			return false;
		fl = (long double)(uint64_t)x; /* x >= 0: truncation is the floor */
		if (fl < pow10l_tab[p - 1]) {
			e10--;
			continue;
		}
		if (fl >= pow10l_tab[p]) {
			e10++;
			continue;
		}
		frac = x - fl;
		/* x's error is at most half its ulp, below x * 2^-64 */
		margin = x * 0x1p-63L;
		if (fabsl(frac - 0.5L) <= margin)
			return false;
		*d = (uint64_t)fl + (frac > 0.5L);
		*e10io = e10;
		if ((long double)*d == pow10l_tab[p]) { /* 9.99... rounded up */
			*d /= 10;
			e10++;
		}
		*e10out = e10;
		return true;
	}
	return false;
}

/* does d * 10^(e10 - p + 1) read back as a? */
static bool reads_back(double a, uint64_t d, int p, int e10)
{
	int k = p - 1 - e10;
	char s[40];
	if (d <= (UINT64_C(1) << 53) && k >= -22 && k <= 22) /* both exact: one rounding */
		return (k >= 0 ? (double)d / pow10_tab[k] : (double)d * pow10_tab[-k]) == a;
	snprintf(s, sizeof s, "%llue%d", (unsigned long long)d, -k);
	return strtod(s, NULL) == a;
}

/* The shortest correctly rounded digits of a (finite, > 0) of at least
 * pmin that read back as a: *d has *p digits, a ~ d * 10^(*e10 - *p + 1).
 * False when the fast way cannot tell (printf must). */
/* Does long double arithmetic really carry 64 bits here? Not under an
 * emulator that computes it in double (valgrind does): then printf. */
static bool x87_extended(void)
{
	static _Atomic int known; /* 0 unknown, 1 yes, 2 no */
	int k = known;
	if (!k) {
		volatile long double one = 1.0L, tiny = 0x1p-63L;
		k = one + tiny != one ? 1 : 2;
		known = k;
	}
	return k == 1;
}

static bool fast_shortest(double a, int pmin, uint64_t *d, int *p, int *e10)
{
	uint64_t bits;
	int guess;
	if (!(a >= DBL_MIN && a <= DBL_MAX) || !x87_extended())
		return false;
	/* floor(log10(a)), or one less: the binary exponent times log10(2) */
	memcpy(&bits, &a, sizeof bits);
	guess = (int)floor((double)((int)(bits >> 52) - 1023) * 0.30102999566398120);
	for (int q = pmin; q <= 17; q++) {
		if (!fast_digits(a, q, &guess, d, e10))
			return false;
		if (q == 17 || reads_back(a, *d, q, *e10)) {
			*p = q;
			return true;
		}
	}
	return false;
}
#endif

/* The shortest decimal of at least pmin significant digits that reads back
 * as v (v finite, not 0), as C's %.*e writes it: [-]d.ddde[+-]xx. Returns
 * the number of significant digits. */
static int shortest_e(double v, int pmin, char *e, size_t sz)
{
	int p = pmin;
#ifdef PW_FAST_DIGITS
	uint64_t d;
	int de;
	if (sz >= 32 && fast_shortest(fabs(v), pmin, &d, &p, &de)) {
		/* as printf writes it */
		char dig[20];
		size_t o = 0;
		for (int i = p - 1; i >= 0; i--, d /= 10)
			dig[i] = (char)('0' + d % 10);
		if (v < 0)
			e[o++] = '-';
		e[o++] = dig[0];
		if (p > 1) {
			e[o++] = '.';
			memcpy(e + o, dig + 1, (size_t)p - 1);
			o += (size_t)p - 1;
		}
		e[o++] = 'e';
		e[o++] = de < 0 ? '-' : '+';
		de = abs(de);
		if (de >= 100)
			e[o++] = (char)('0' + de / 100);
		e[o++] = (char)('0' + de / 10 % 10);
		e[o++] = (char)('0' + de % 10);
		e[o] = '\0';
		return p;
	}
	p = pmin;
#endif
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
	{
		const char *q = p + 1;
		int x = 0, sign = 1;
		if (*q == '-' || *q == '+')
			sign = *q++ == '-' ? -1 : 1;
		while (*q >= '0' && *q <= '9')
			x = x * 10 + (*q++ - '0');
		*exp10 = sign * x;
	}
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
#ifdef PW_FAST_DIGITS
		/* the API's values: the digits straight from fast_shortest */
		uint64_t d;
		int de;
		if (style == PW_FMT_GO_F && fast_shortest(fabs(v), 15, &d, &p, &de)) {
			for (int i = p - 1; i >= 0; i--, d /= 10)
				digits[i] = (char)('0' + d % 10);
			while (p > 1 && digits[p - 1] == '0')
				p--;
			if (dstsz >= sizeof out)
				return layout_f(dst, digits, p, de, v < 0);
			layout_f(out, digits, p, de, v < 0);
			goto done;
		}
#endif
		/* subnormals carry fewer bits: fewer digits may do */
		p = shortest_e(v, fabs(v) < DBL_MIN ? 1 : 15, e, sizeof e);
		nd = e_digits(e, digits, &exp10, &neg);
		layout_f(out, digits, nd, exp10, neg);
	}
#ifdef PW_FAST_DIGITS
done:
#endif
	{
		size_t len = strlen(out);
		if (!dstsz)
			return 0;
		if (len >= dstsz)
			len = dstsz - 1;
		memcpy(dst, out, len);
		dst[len] = '\0';
		return len;
	}
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

/* Clinger's fast path: [+-]digits[.digits][(e|E)[+-]digits], the digits a
 * mantissa M <= 2^53 and the decimal exponent E within [-22, 22]. M and
 * 10^|E| are then exact doubles and one IEEE multiplication or division
 * rounds their exact product or quotient once, to nearest even: the
 * correctly rounded value, which is what glibc's strtod returns for every
 * input. Anything else (more digits, larger exponents, hex, nan, inf, a
 * character out of place) returns false and takes strtod's path.
 * tests/unit/common/test_units.c compares the two on millions of strings. */
static bool fast_decimal(const char *s, const char *lim, double *out)
{
#if FLT_EVAL_METHOD == 0
	static const double p10[23] = {
		1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
	};
	const char *p = s;
	bool neg = false;
	uint64_t m = 0;
	int nd = 0, frac = 0, ex = 0; /* digits in m (past leading zeros); of them after '.' */
	bool any = false;

	if (p < lim && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	for (; p < lim && *p >= '0' && *p <= '9'; p++) {
		any = true;
		if (m == 0 && *p == '0')
			continue;
		if (++nd > 16)
			return false;
		m = m * 10 + (uint64_t)(*p - '0');
	}
	if (p < lim && *p == '.') {
		for (p++; p < lim && *p >= '0' && *p <= '9'; p++) {
			any = true;
			frac++;
			if (m == 0 && *p == '0')
				continue;
			if (++nd > 16)
				return false;
			m = m * 10 + (uint64_t)(*p - '0');
		}
	}
	if (!any)
		return false;
	if (p < lim && (*p == 'e' || *p == 'E')) {
		bool eneg = false;
		int k = 0;
		p++;
		if (p < lim && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p >= lim || *p < '0' || *p > '9')
			return false;
		for (; p < lim && *p >= '0' && *p <= '9'; p++) {
			if (++k > 3)
				return false;
			ex = ex * 10 + (*p - '0');
		}
		if (eneg)
			ex = -ex;
	}
	if (p != lim || m > (1ULL << 53))
		return false;
	ex -= frac;
	if (m == 0)
		ex = 0; /* zero with any exponent */
	if (ex < -22 || ex > 22)
		return false;
	double v = (double)m;
	v = ex < 0 ? v / p10[-ex] : v * p10[ex];
	*out = neg ? -v : v;
	return true;
#else
	(void)s, (void)lim, (void)out;
	return false;
#endif
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
	if (fast_decimal(s, p, out)) {
		if (end)
			*end = p;
		return 0;
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
