/* Durations, sizes and float formatting (common/units.c, common/num.c). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

struct dur_case { const char *in; int rc; int64_t want; };

Test(units, durations)
{
	static const struct dur_case cases[] = {
		{"90s", 0, 90000}, {"15m", 0, 900000}, {"400d", 0, 400LL * 86400000},
		{"1h30m", 0, 5400000}, {"500ms", 0, 500}, {"2w", 0, 14LL * 86400000},
		{"1y", 0, 365LL * 86400000}, {"0", 0, 0}, {"1m1s1ms", 0, 61001},
		{"", PW_EINVAL, 0}, {"10", PW_EINVAL, 0}, {"1x", PW_EINVAL, 0},
		{"1s1m", PW_EINVAL, 0}, {"-5m", PW_EINVAL, 0}, {"1.5h", PW_EINVAL, 0},
		{"99999999999999999999y", PW_EINVAL, 0}, {"5m ", PW_EINVAL, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t got = -1;
		int rc = pw_parse_duration(cases[i].in, &got);
		cr_expect_eq(rc, cases[i].rc, "parse_duration(\"%s\") rc=%d", cases[i].in, rc);
		if (rc == 0)
			cr_expect_eq(got, cases[i].want, "parse_duration(\"%s\") = %lld", cases[i].in,
				     (long long)got);
	}
}

Test(units, duration_format_round_trip)
{
	static const int64_t v[] = {1, 999, 1000, 61001, 5400000, 400LL * 86400000, 0};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char b[64];
		int64_t back;
		pw_fmt_duration(b, sizeof b, v[i]);
		cr_assert_eq(pw_parse_duration(b, &back), 0, "%s", b);
		cr_expect_eq(back, v[i], "%s", b);
	}
}

Test(units, sizes)
{
	uint64_t b;
	cr_expect_eq(pw_parse_size("512MiB", &b), 0);
	cr_expect_eq(b, 512ULL << 20);
	cr_expect_eq(pw_parse_size("1GB", &b), 0);
	cr_expect_eq(b, 1000000000ULL);
	cr_expect_eq(pw_parse_size("4096", &b), 0);
	cr_expect_eq(b, 4096);
	cr_expect_eq(pw_parse_size("2TiB", &b), 0);
	cr_expect_eq(b, 2ULL << 40);
	cr_expect_eq(pw_parse_size("64kB", &b), 0);
	cr_expect_eq(b, 64000);
	cr_expect_eq(pw_parse_size("1.5GiB", &b), PW_EINVAL);
	cr_expect_eq(pw_parse_size("MiB", &b), PW_EINVAL);
	cr_expect_eq(pw_parse_size("5 MiB", &b), PW_EINVAL);
	cr_expect_eq(pw_parse_size("99999999999TiB", &b), PW_EINVAL);
}

static uint64_t bits(double v) { uint64_t b; memcpy(&b, &v, 8); return b; }

Test(num, format_round_trips_bits)
{
	static const double v[] = {0.1, 1.0 / 3, 1e300, -1e-300, 4.9e-324, 123456789.125,
				   9007199254740993.0, 1e21, -0.0, 0.0, 42, -7, 2.5e-5};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char s[64];
		double back;
		const char *end;
		size_t n = pw_fmt_float(s, sizeof s, v[i], PW_FMT_PROM);
		cr_assert_eq(pw_parse_double(s, s + n, &back, &end), 0, "%s", s);
		cr_expect_eq(bits(back), bits(v[i]), "%s", s);
	}
}

Test(num, special_values)
{
	char s[64];
	double v;
	const char *end;
	pw_fmt_float(s, sizeof s, NAN, PW_FMT_PROM);
	cr_expect_str_eq(s, "NaN");
	pw_fmt_float(s, sizeof s, INFINITY, PW_FMT_PROM);
	cr_expect_str_eq(s, "+Inf");
	pw_fmt_float(s, sizeof s, -INFINITY, PW_FMT_PROM);
	cr_expect_str_eq(s, "-Inf");
	pw_fmt_float(s, sizeof s, -0.0, PW_FMT_PROM);
	cr_expect_str_eq(s, "-0");
	pw_fmt_float(s, sizeof s, 0.1, PW_FMT_PROM);
	cr_expect_str_eq(s, "0.1");
	const char *in = "nan";
	cr_expect_eq(pw_parse_double(in, in + 3, &v, &end), 0);
	cr_expect_eq(bits(v), 0x7ff8000000000001ULL);
	in = "-Inf";
	cr_expect_eq(pw_parse_double(in, in + 4, &v, &end), 0);
	cr_expect(isinf(v) && v < 0);
	in = "0x1p-2";
	cr_expect_eq(pw_parse_double(in, in + 6, &v, &end), 0);
	cr_expect_eq(v, 0.25);
	in = "nan(123)";
	cr_expect_eq(pw_parse_double(in, in + 8, &v, &end), PW_EINVAL);
	in = "12abc";
	cr_expect_eq(pw_parse_double(in, in + 5, &v, &end), PW_EINVAL);
	in = " 1";
	cr_expect_eq(pw_parse_double(in, in + 2, &v, &end), PW_EINVAL);
}

/* ---- the shortest digits: what printf and strtod say, and at what cost ---- */

#include <stdio.h>
#include <stdlib.h>

/* printf's definition of the digits pw_fmt_float writes: the fewest from
 * pmin on whose correctly rounded %.*e reads back as v */
static int ref_shortest(double v, int pmin, char *e, size_t sz)
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

static uint64_t xs_state = 88172645463325252ULL;
static uint64_t xs(void)
{
	xs_state ^= xs_state << 13;
	xs_state ^= xs_state >> 7;
	xs_state ^= xs_state << 17;
	return xs_state;
}

/* doubles of every kind: any bit pattern, prices, rates (counts over
 * windows), wide magnitudes, neighbours of powers of ten and of decimals
 * that sit on a rounding tie at 15, 16 and 17 digits */
static double sample_double(size_t i)
{
	double v;
	uint64_t b;
	char s[64];
	switch (i % 8) {
	case 0:
		b = xs();
		memcpy(&v, &b, 8);
		return v;
	case 1: return (double)(xs() % 100000000) / 100.0;
	case 2: return (double)(xs() % 100000) / (15.0 * (double)(1 + xs() % 40));
	case 3: return ((double)xs() / 18446744073709551616.0) * pow(10, (int)(xs() % 60) - 30);
	case 4:
		v = pow(10, (int)(xs() % 60) - 30);
		memcpy(&b, &v, 8);
		b += (xs() % 5) - 2;
		memcpy(&v, &b, 8);
		return v;
	default:
		snprintf(s, sizeof s, "%llu5e%d", (unsigned long long)(xs() % 100000000000000ULL) *
			 (i % 8 == 5 ? 1 : i % 8 == 6 ? 10 : 100), (int)(xs() % 40) - 30);
		v = strtod(s, NULL);
		memcpy(&b, &v, 8);
		b += (xs() % 3) - 1;
		memcpy(&v, &b, 8);
		return v;
	}
}

Test(num, shortest_digits_are_printfs)
{
	char got[400], want[400];
	for (size_t i = 0; i < 120000; i++) {
		double v = sample_double(i);
		if (isnan(v) || isinf(v) || v == 0)
			continue;
		/* Go's 'e' -1: the shortest digits from one on, as %.*e writes them */
		pw_fmt_float(got, sizeof got, v, PW_FMT_GO_E);
		ref_shortest(v, 1, want, sizeof want);
		cr_assert_str_eq(got, want, "%a", v);
		/* the exposition format: %.15g, %.16g or %.17g, the first that reads back */
		if (!(fabs(v) < 9007199254740992.0 && v == trunc(v))) {
			int p = ref_shortest(v, 15, want, sizeof want);
			snprintf(want, sizeof want, "%.*g", p, v);
			pw_fmt_float(got, sizeof got, v, PW_FMT_PROM);
			cr_assert_str_eq(got, want, "%a", v);
		}
		/* the API's 'f' -1 reads back */
		pw_fmt_float(got, sizeof got, v, PW_FMT_GO_F);
		cr_assert_eq(bits(strtod(got, NULL)), bits(v), "%a: %s", v, got);
	}
}

/* Plain integers (the fast path of up to 15 digits, and past it) read as
 * strtod reads them, bit for bit; what is not a number still is not. */
Test(num, integers_as_strtod_reads_them)
{
	static const char *ok[] = {"0", "-0", "+0", "+7", "007", "42", "-42", "999999999999999",
				   "-999999999999999", "1000000000000000", "9007199254740993",
				   "123456789012345678901234567890", "18446744073709551617"};
	static const char *bad[] = {"+", "-", "12a", "1_000", "--1", "+-1", "1-"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		double v, want = strtod(ok[i], NULL);
		const char *end;
		cr_assert_eq(pw_parse_double(ok[i], ok[i] + strlen(ok[i]), &v, &end), 0, "%s", ok[i]);
		cr_expect_eq(bits(v), bits(want), "%s", ok[i]);
		cr_expect_eq(end, ok[i] + strlen(ok[i]), "%s", ok[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		double v;
		const char *end;
		cr_expect_neq(pw_parse_double(bad[i], bad[i] + strlen(bad[i]), &v, &end), 0, "%s",
			      bad[i]);
	}
	{
		const char *in = "17 1700000000000"; /* a value, then a timestamp */
		double v;
		const char *end;
		cr_expect_eq(pw_parse_double(in, in + strlen(in), &v, &end), 0);
		cr_expect_eq(v, 17);
		cr_expect_eq(end, in + 2);
	}
}
