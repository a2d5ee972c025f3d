/* Time parsing and time zones (common/time.c, common/tz.c). */
#include <criterion/criterion.h>

#include "common.h"

static struct pw_tz *load(const char *name)
{
	struct pw_tz *tz = NULL;
	char *cause = NULL;
	cr_assert_eq(pw_tz_load(name, &tz, &cause), 0, "%s", cause);
	return tz;
}

Test(time, rfc3339_and_unix)
{
	int64_t ms;
	cr_assert_eq(pw_parse_time("2025-06-30T23:59:00+08:00", NULL, &ms), 0);
	cr_expect_eq(ms, 1751299140000LL);
	cr_assert_eq(pw_parse_time("2025-06-30T15:59:00Z", NULL, &ms), 0);
	cr_expect_eq(ms, 1751299140000LL);
	cr_assert_eq(pw_parse_time("2025-06-30T15:59:00.25Z", NULL, &ms), 0);
	cr_expect_eq(ms, 1751299140250LL);
	cr_assert_eq(pw_parse_time("1751299140", NULL, &ms), 0);
	cr_expect_eq(ms, 1751299140000LL);
	cr_assert_eq(pw_parse_time("1751299140.5", NULL, &ms), 0);
	cr_expect_eq(ms, 1751299140500LL);
	cr_expect_eq(pw_parse_time("2025-02-30", NULL, &ms), PW_EINVAL);
	cr_expect_eq(pw_parse_time("2025-06-30T24:00:00Z", NULL, &ms), PW_EINVAL);
	cr_expect_eq(pw_parse_time("2025-06-30T10:00:00+8", NULL, &ms), PW_EINVAL);
	cr_expect_eq(pw_parse_time("yesterday", NULL, &ms), PW_EINVAL);
	cr_expect_eq(pw_parse_time("", NULL, &ms), PW_EINVAL);
}

Test(time, local_dates_in_shanghai)
{
	struct pw_tz *tz = load("Asia/Shanghai");
	int64_t ms;
	/* local midnight 2025-07-01 in UTC+8 is 2025-06-30T16:00Z */
	cr_assert_eq(pw_parse_time("2025-07-01", tz, &ms), 0);
	cr_expect_eq(ms, 1751299200000LL);
	cr_assert_eq(pw_parse_time("2025-06-30 23:59", tz, &ms), 0);
	cr_expect_eq(ms, 1751299140000LL);
	cr_expect_eq(pw_tz_offset(tz, 1751299140), 8 * 3600);
	/* China observed DST in 1986-1991 */
	cr_expect_eq(pw_tz_offset(tz, 584000000), 9 * 3600); /* 1988-07 */
	cr_expect_str_eq(pw_tz_name(tz), "Asia/Shanghai");
	pw_tz_free(tz);
}

Test(time, dst_zone_beyond_table_uses_footer)
{
	struct pw_tz *tz = load("America/New_York");
	int64_t ms;
	/* 2300-07-01 is past any transition table: the POSIX rule decides */
	cr_assert_eq(pw_parse_time("2300-07-01T12:00:00Z", NULL, &ms), 0);
	cr_expect_eq(pw_tz_offset(tz, ms / 1000), -4 * 3600);
	cr_assert_eq(pw_parse_time("2300-01-01T12:00:00Z", NULL, &ms), 0);
	cr_expect_eq(pw_tz_offset(tz, ms / 1000), -5 * 3600);
	/* 2025-03-09 02:30 does not exist: shifted forward to 03:30 EDT */
	cr_assert_eq(pw_parse_time("2025-03-09 02:30", tz, &ms), 0);
	cr_expect_eq(ms, 1741505400000LL);
	/* 2025-11-02 01:30 happens twice: the earlier (EDT) one */
	cr_assert_eq(pw_parse_time("2025-11-02 01:30", tz, &ms), 0);
	cr_expect_eq(ms, 1762061400000LL);
	pw_tz_free(tz);
}

Test(time, unknown_zone_is_a_clear_error)
{
	struct pw_tz *tz = NULL;
	char *cause = NULL;
	cr_expect_neq(pw_tz_load("Mars/Olympus", &tz, &cause), 0);
	cr_expect(cause && strstr(cause, "Mars/Olympus") != NULL, "%s", cause);
	free(cause);
	cause = NULL;
	cr_expect_neq(pw_tz_load("../etc/passwd", &tz, &cause), 0);
	free(cause);
}

Test(time, format)
{
	char b[64];
	pw_fmt_time(b, sizeof b, 1751299140000LL);
	cr_expect_str_eq(b, "2025-06-30T15:59:00Z");
	pw_fmt_time(b, sizeof b, -1);
	cr_expect_str_eq(b, "1969-12-31T23:59:59.999Z");
}

Test(time, civil_round_trip)
{
	for (int64_t d = -800000; d < 800000; d += 997) {
		int64_t y;
		unsigned m, dd;
		pw_civil_from_days(d, &y, &m, &dd);
		cr_assert_eq(pw_days_from_civil(y, m, dd), d);
	}
}
