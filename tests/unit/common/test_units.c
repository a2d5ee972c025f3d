/* Durations, sizes and float formatting (common/units.c, common/num.c). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* ---- pw_parse_double's decimal fast path against strtod ---------------------- */

/* pw_parse_double as it was before the fast path: every number through
 * strtod (its integer path is exact, so strtod says the same there). */
static int ref_parse(const char *s, const char *lim, double *out, const char **end)
{
	char tmp[80], *e;
	const char *p = s;
	size_t n;
	while (p < lim && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '}' &&
	       *p != ',')
		p++;
	n = (size_t)(p - s);
	if (n == 0 || n >= sizeof tmp)
		return PW_EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	const char *q = tmp + (tmp[0] == '+' || tmp[0] == '-');
	if (strcasecmp(q, "nan") == 0) {
		uint64_t b = 0x7ff8000000000001ULL;
		memcpy(out, &b, 8);
	} else if (strcasecmp(q, "inf") == 0 || strcasecmp(q, "infinity") == 0) {
		*out = tmp[0] == '-' ? -INFINITY : INFINITY;
	} else {
		if (strncasecmp(q, "nan", 3) == 0 || strncasecmp(q, "inf", 3) == 0 || *q == ' ' ||
		    *q == '\0')
			return PW_EINVAL;
		*out = strtod(tmp, &e);
		if (e != tmp + n)
			return PW_EINVAL;
	}
	*end = p;
	return 0;
}

static void same_as_strtod(const char *s, size_t n)
{
	double a = 0, b = 0;
	const char *ea = NULL, *eb = NULL;
	int ra = pw_parse_double(s, s + n, &a, &ea), rb = ref_parse(s, s + n, &b, &eb);
	cr_assert_eq(ra, rb, "\"%.*s\": rc %d, strtod's %d", (int)n, s, ra, rb);
	if (ra == 0) {
		cr_assert_eq(bits(a), bits(b), "\"%.*s\": %a, strtod %a", (int)n, s, a, b);
		cr_assert_eq(ea, eb, "\"%.*s\": end", (int)n, s);
	}
}

Test(num, parse_double_edges_match_strtod)
{
	static const char *const in[] = {
		"0", "-0", "+0", "0.0", "-0.0", "-0e5", "0e-400", "0e999", "00000.000000", ".5", "5.",
		"-.5", ".", "-.", "+", "-", "e5", ".e5", "1e", "1e+", "1e-", "1e+5", "1E5", "1e-5",
		"1e22", "1e23", "1e-22", "1e-23", "9007199254740992", "9007199254740993",
		"9007199254740993.0", "900719925474099.3", "9007199254740992e22", "9007199254740992e-22",
		"9007199254740993e-22", "0.1", "0.2", "0.3", "0.30000000000000004", "1.7976931348623157e308",
		"2.2250738585072014e-308", "4.9e-324", "123456789012345678", "0.000000000000000000001",
		"1.00000000000000000000", "1.0000000000000001", "3.14159", "-2.5e-3", "1e0", "1e00",
		"1e000", "1e0000", "0x1p3", "0X10", "1_000", "1,5", "1.5.5", "1e5e5", "--1", "+-1",
		"nan", "NaN", "-Inf", "+inf", "infinity", "infx", "nanx", "1 ", "1}", "1\t2", "1\r",
		"0.1234", "150.5", "99.99", "4503599627370497.5", "2251799813685248.25",
		"179769313486231570000000000000000000000", "1e308", "1e309", "-1e-324",
		"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
	};
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
		same_as_strtod(in[i], strlen(in[i]));
}

/* Random strings of the fast path's grammar and around it: signs, runs of
 * digits and zeros, '.', exponents near the limits, stray characters. */
Test(num, parse_double_random_matches_strtod, .timeout = 600)
{
	static const char alpha[] = "0123456789.eE+-x ";
	uint64_t r = 0x2545F4914F6CDD1DULL;
	char s[64];
	long fast = 0;
	for (long it = 0; it < 3000000; it++) {
		size_t n = 0;
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		uint64_t x = r;
		int shape = (int)(x % 8);
		x >>= 3;
		if (shape == 0) { /* any characters of the alphabet */
			size_t len = 1 + x % 24;
			x >>= 5;
			for (size_t k = 0; k < len; k++) {
				r ^= r << 13, r ^= r >> 7, r ^= r << 17;
				s[n++] = alpha[r % (sizeof alpha - 1)];
			}
		} else { /* [sign] digits [. digits] [e [sign] digits] */
			if (x & 1)
				s[n++] = (x & 2) ? '-' : '+';
			x >>= 2;
			size_t li = x % 19, lf = (x >> 5) % 19;
			x >>= 10;
			for (size_t k = 0; k < li; k++) {
				r ^= r << 13, r ^= r >> 7, r ^= r << 17;
				s[n++] = (char)('0' + (shape == 1 ? (r % 4 == 0) * 9 : r % 10));
			}
			if (x & 1) {
				s[n++] = '.';
				for (size_t k = 0; k < lf; k++) {
					r ^= r << 13, r ^= r >> 7, r ^= r << 17;
					s[n++] = (char)('0' + (shape == 2 ? (r % 8 == 0) : r % 10));
				}
			}
			if (x & 2) {
				s[n++] = (x & 4) ? 'e' : 'E';
				if (x & 8)
					s[n++] = (x & 16) ? '-' : '+';
				int e = (int)((x >> 5) % 60);
				n += (size_t)snprintf(s + n, sizeof s - n, shape == 3 ? "%03d" : "%d", e);
			}
		}
		double v;
		const char *end;
		fast += pw_parse_double(s, s + n, &v, &end) == 0;
		same_as_strtod(s, n);
	}
	cr_expect_gt(fast, 1000000, "the grammar should make mostly numbers");
}
