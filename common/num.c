/*
 * num.c — float formatting that round-trips bit-exactly, Prometheus-style
 * float parsing, the in-memory hash used by tables across the project, and
 * Prometheus' metric and label name rules.
 */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t pw_fmt_double(char *dst, size_t dstsz, double v)
{
	int n;

	if (isnan(v))
		n = snprintf(dst, dstsz, "NaN");
	else if (isinf(v))
		n = snprintf(dst, dstsz, v > 0 ? "+Inf" : "-Inf");
	else if (v == 0)
		n = snprintf(dst, dstsz, signbit(v) ? "-0" : "0");
	else if (fabs(v) < 9007199254740992.0 && v == trunc(v))
		n = snprintf(dst, dstsz, "%lld", (long long)v);
	else {
		n = 0;
		for (int prec = 15; prec <= 17; prec++) {
			n = snprintf(dst, dstsz, "%.*g", prec, v);
			if (n > 0 && (size_t)n < dstsz && strtod(dst, NULL) == v)
				break;
		}
	}
	if (n < 0)
		n = 0;
	return (size_t)n < dstsz ? (size_t)n : dstsz ? dstsz - 1 : 0;
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

static bool name_char(unsigned char c, bool first, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

static bool valid_name(const char *s, size_t n, bool colon)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char((unsigned char)s[i], i == 0, colon))
			return false;
	return true;
}

bool pw_valid_metric_name(const char *s, size_t n) { return valid_name(s, n, true); }
bool pw_valid_label_name(const char *s, size_t n) { return valid_name(s, n, false); }
