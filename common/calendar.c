/*
 * calendar.c — civil-date arithmetic in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil and civil_from_days), which both time zones
 * (tz.c) and the parsing of dates (time.c) stand on; and the calendar
 * periods of quotas, which the KPI engine counts in and the pages draw.
 */
#include "common.h"

#include <stdio.h>

int64_t pw_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void pw_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void pw_period_of(const struct pw_tz *tz, enum pw_period kind, int64_t t, int64_t *p0,
		  int64_t *p1, char *name, size_t sz)
{
	int64_t local = t / 1000 + (tz ? pw_tz_offset(tz, t / 1000) : 0), days, y, y1;
	unsigned m, d, m1, d1;
	char scratch[32];
	if (!name)
		name = scratch, sz = sizeof scratch;
	days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	pw_civil_from_days(days, &y, &m, &d);
	switch (kind) {
	case PW_PERIOD_WEEK: {
		int64_t monday = days - ((days % 7 + 7 + 3) % 7); /* 1970-01-01 was a Thursday */
		pw_civil_from_days(monday, &y, &m, &d);
		pw_civil_from_days(monday + 7, &y1, &m1, &d1);
		snprintf(name, sz, "%04lld-%02u-%02u", (long long)y, m, d);
		break;
	}
	case PW_PERIOD_QUARTER:
		m = (m - 1) / 3 * 3 + 1, d = 1;
		y1 = m == 10 ? y + 1 : y, m1 = m == 10 ? 1 : m + 3, d1 = 1;
		snprintf(name, sz, "%04lld-Q%u", (long long)y, (m - 1) / 3 + 1);
		break;
	case PW_PERIOD_YEAR:
		m = 1, d = 1, y1 = y + 1, m1 = 1, d1 = 1;
		snprintf(name, sz, "%04lld", (long long)y);
		break;
	default: /* month */
		d = 1;
		y1 = m == 12 ? y + 1 : y, m1 = m == 12 ? 1 : m + 1, d1 = 1;
		snprintf(name, sz, "%04lld-%02u", (long long)y, m);
		break;
	}
	if (tz) {
		*p0 = pw_tz_local_to_unix(tz, (int)y, (int)m, (int)d, 0, 0, 0) * 1000;
		*p1 = pw_tz_local_to_unix(tz, (int)y1, (int)m1, (int)d1, 0, 0, 0) * 1000;
	} else {
		*p0 = pw_days_from_civil(y, m, d) * 86400000;
		*p1 = pw_days_from_civil(y1, m1, d1) * 86400000;
	}
}
