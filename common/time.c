/*
 * time.c — parsing and formatting of instants: RFC 3339, Unix seconds and
 * local dates in a named zone (tz.c); wall and monotonic clocks.
 */
#include "common.h"

#include <string.h>
#include <time.h>

/* Read exactly n digits. */
static bool digits(const char **pp, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*pp)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*pp += n;
	*out = v;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return dm[m - 1] + (m == 2 && leap);
}

/* Unix seconds with optional fraction: "1751299140", "1751299140.123". */
static int parse_unix(const char *s, int64_t *ms)
{
	const char *p = s;
	int64_t sec = 0, frac = 0;
	int neg = 0, fd = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (*p < '0' || *p > '9')
		return PW_EINVAL;
	while (*p >= '0' && *p <= '9') {
		if (sec > (INT64_MAX / 1000 - 9) / 10)
			return PW_EINVAL;
		sec = sec * 10 + (*p++ - '0');
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return PW_EINVAL;
		while (*p >= '0' && *p <= '9') {
			if (fd < 3) {
				frac = frac * 10 + (*p - '0');
				fd++;
			}
			p++;
		}
		while (fd < 3) {
			frac *= 10;
			fd++;
		}
	}
	if (*p)
		return PW_EINVAL;
	*ms = (neg ? -1 : 1) * (sec * 1000 + frac);
	return 0;
}

int pw_parse_time(const char *s, const struct pw_tz *tz, int64_t *ms)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
	int64_t t;

	if (!s || !*s)
		return PW_EINVAL;
	if (strlen(s) < 10 || s[4] != '-')
		return parse_unix(s, ms);
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return PW_EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return PW_EINVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return PW_EINVAL;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &sec))
				return PW_EINVAL;
			if (*p == '.') {
				int fd = 0;
				p++;
				if (*p < '0' || *p > '9')
					return PW_EINVAL;
				while (*p >= '0' && *p <= '9') {
					if (fd < 3) {
						frac = frac * 10 + (*p - '0');
						fd++;
					}
					p++;
				}
				while (fd++ < 3)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return PW_EINVAL;
	}
	if (*p == 'Z' || *p == 'z') {
		if (p[1])
			return PW_EINVAL;
		t = pw_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
		    mi * 60 + sec;
	} else if (*p == '+' || *p == '-') {
		int oh, om, sign = *p == '-' ? -1 : 1;
		p++;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || *p ||
		    oh > 23 || om > 59)
			return PW_EINVAL;
		t = pw_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
		    mi * 60 + sec - sign * (oh * 3600 + om * 60);
	} else if (*p == '\0') {
		t = pw_tz_local_to_unix(tz, y, mo, d, h, mi, sec);
	} else {
		return PW_EINVAL;
	}
	*ms = t * 1000 + frac;
	return 0;
}

size_t pw_fmt_time(char *dst, size_t dstsz, int64_t ms)
{
	int64_t secs = ms / 1000 - (ms % 1000 < 0);
	int msr = (int)(ms - secs * 1000);
	int64_t days = secs / 86400 - (secs % 86400 < 0);
	int64_t sod = secs - days * 86400, y;
	unsigned m, d;
	int n;

	pw_civil_from_days(days, &y, &m, &d);
	if (msr)
		n = snprintf(dst, dstsz, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y,
			     m, d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), msr);
	else
		n = snprintf(dst, dstsz, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
			     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	return n < 0 ? 0 : (size_t)n < dstsz ? (size_t)n : dstsz - 1;
}

int64_t pw_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pw_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static size_t fmt_local(char *dst, size_t dstsz, int64_t ms, const struct pw_tz *tz, bool secs)
{
	int64_t s = ms / 1000 - (ms % 1000 < 0);
	int32_t off = tz ? pw_tz_offset(tz, s) : 0;
	int64_t local = s + off;
	int64_t days = local / 86400 - (local % 86400 < 0);
	int64_t sod = local - days * 86400, y;
	unsigned m, d;
	int32_t ao = off < 0 ? -off : off;
	char ss[8] = "";
	int n;

	pw_civil_from_days(days, &y, &m, &d);
	if (secs)
		snprintf(ss, sizeof ss, ":%02u", (unsigned)(sod % 60) % 60u);
	n = snprintf(dst, dstsz, "%04lld-%02u-%02u %02d:%02d%s %c%02d:%02d", (long long)y, m, d,
		     (int)(sod / 3600), (int)(sod / 60 % 60), ss, off < 0 ? '-' : '+',
		     (int)(ao / 3600), (int)(ao / 60 % 60));
	return n < 0 ? 0 : (size_t)n < dstsz ? (size_t)n : dstsz - 1;
}

size_t pw_fmt_local(char *dst, size_t dstsz, int64_t ms, const struct pw_tz *tz)
{
	return fmt_local(dst, dstsz, ms, tz, false);
}

size_t pw_fmt_local_secs(char *dst, size_t dstsz, int64_t ms, const struct pw_tz *tz)
{
	return fmt_local(dst, dstsz, ms, tz, true);
}

int pw_parse_time_rel(const char *s, const struct pw_tz *tz, int64_t now, int64_t *ms)
{
	int64_t d;
	if (!s || !*s)
		return PW_EINVAL;
	if (strcmp(s, "now") == 0) {
		*ms = now;
		return 0;
	}
	if (strncmp(s, "now", 3) == 0)
		s += 3;
	else if (*s != '-' && *s != '+')
		return pw_parse_time(s, tz, ms);
	if ((*s != '-' && *s != '+') || pw_parse_duration(s + 1, &d) != 0)
		return PW_EINVAL;
	*ms = *s == '-' ? now - d : now + d;
	return 0;
}
