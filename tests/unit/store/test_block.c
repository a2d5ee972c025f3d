/* Format 4's block codec (store/block.c): bit-exact round trips of every
 * special value and decimal edge case, the worked example of
 * docs/storage.md byte by byte, and a decoder that refuses damaged
 * blocks without reading outside them. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <zstd.h>

#include "store_int.h"

static uint64_t bits(double v) { uint64_t b; memcpy(&b, &v, 8); return b; }
static double from_bits(uint64_t b) { double v; memcpy(&v, &b, 8); return v; }

static struct blk_codec C;
static void setup(void) { blk_codec_init(&C); }
static void teardown(void) { blk_codec_free(&C); }

/* A range decode of [mint, maxt] must give exactly the samples of the
 * whole that fall in it, and say whether later ones exist. */
static void check_range(const uint8_t *blk, size_t len, const int64_t *ts, const double *vs,
			size_t n, int64_t mint, int64_t maxt)
{
	size_t got, lo = 0, hi;
	bool past;
	while (lo < n && ts[lo] < mint)
		lo++;
	for (hi = lo; hi < n && ts[hi] <= maxt; hi++)
		;
	cr_assert_eq(blk_decode_range(&C, blk, len, mint, maxt, &got, &past), 0,
		     "[%lld, %lld] decodes", (long long)mint, (long long)maxt);
	cr_assert_eq(got, hi - lo, "[%lld, %lld]: %zu samples, want %zu", (long long)mint,
		     (long long)maxt, got, hi - lo);
	cr_assert_eq(past, ts[n - 1] > maxt, "[%lld, %lld]: past", (long long)mint,
		     (long long)maxt);
	for (size_t i = 0; i < got; i++) {
		cr_assert_eq(C.ts[i], ts[lo + i], "[%lld, %lld] sample %zu: ts", (long long)mint,
			     (long long)maxt, lo + i);
		cr_assert_eq(bits(C.vs[i]), bits(vs[lo + i]), "[%lld, %lld] sample %zu: %016llx != %016llx",
			     (long long)mint, (long long)maxt, lo + i,
			     (unsigned long long)bits(C.vs[i]), (unsigned long long)bits(vs[lo + i]));
	}
}

/* Encode, decode, compare bit for bit (whole, and ranges starting and
 * ending at, before and after every index checkpoint and at random);
 * returns the stored length. */
static size_t round_trip(const int64_t *ts, const double *vs, size_t n)
{
	static uint8_t out[BLK_RAW_MAX + 64];
	size_t len = blk_encode(&C, ts, vs, n, out, sizeof out), got;
	cr_assert_gt(len, 0, "%zu samples encode", n);
	cr_assert(out[0] == BLK_RAW || out[0] == BLK_ZSTD1);
	cr_assert_eq(blk_decode(&C, out, len, &got), 0, "%zu samples decode", n);
	cr_assert_eq(got, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(C.ts[i], ts[i], "sample %zu: ts %lld != %lld", i, (long long)C.ts[i],
			     (long long)ts[i]);
		cr_assert_eq(bits(C.vs[i]), bits(vs[i]), "sample %zu: %016llx != %016llx (%.17g)", i,
			     (unsigned long long)bits(C.vs[i]), (unsigned long long)bits(vs[i]), vs[i]);
	}
	if (ts[0] == INT64_MIN || ts[n - 1] == INT64_MAX)
		return len; /* no room around them for the ranges below */
	check_range(out, len, ts, vs, n, INT64_MIN, INT64_MAX);
	check_range(out, len, ts, vs, n, ts[n - 1] + 1, INT64_MAX);
	check_range(out, len, ts, vs, n, INT64_MIN, ts[0] - 1);
	check_range(out, len, ts, vs, n, ts[n - 1], ts[0]); /* empty */
	for (size_t j = 0; j < n; j += BLK_IDX_EVERY / 2) {
		size_t b = j ? j - 1 : 0;
		check_range(out, len, ts, vs, n, ts[b], INT64_MAX);
		check_range(out, len, ts, vs, n, ts[j], ts[n - 1]);
		check_range(out, len, ts, vs, n, ts[j] + 1, ts[j] + 3600000);
		check_range(out, len, ts, vs, n, INT64_MIN, ts[j]);
		check_range(out, len, ts, vs, n, ts[b], ts[j]);
	}
	uint64_t r = 0x853c49e6748fea9bULL ^ n;
	for (int k = 0; k < 40; k++) {
		r ^= r << 13; r ^= r >> 7; r ^= r << 17;
		size_t a = (size_t)(r % n), z = a + (size_t)((r >> 20) % 300);
		check_range(out, len, ts, vs, n, ts[a] - (int64_t)(r >> 40) % 2,
			    z < n ? ts[z] : ts[n - 1]);
	}
	return len;
}

static void series(double (*f)(size_t), size_t n, int64_t step, int64_t jitter)
{
	int64_t *ts = malloc(n * sizeof *ts);
	double *vs = malloc(n * sizeof *vs);
	uint64_t r = 88172645463325252ULL;
	for (size_t i = 0; i < n; i++) {
		r ^= r << 13; r ^= r >> 7; r ^= r << 17;
		ts[i] = 1700000000000LL + (int64_t)i * step + (jitter ? (int64_t)(r % (uint64_t)jitter) : 0);
		vs[i] = f(i);
	}
	round_trip(ts, vs, n);
	free(ts);
	free(vs);
}

static double special_at(size_t i)
{
	static const uint64_t sp[] = {
		0x7ff0000000000002ULL, /* the staleness marker */
		0x7ff8000000000000ULL, 0xfff8000000000001ULL, 0x7ff4000000000123ULL,
		0x7ff0000000000000ULL, 0xfff0000000000000ULL, /* ±Inf */
		0x8000000000000000ULL, 0x0000000000000000ULL, /* -0.0, +0.0 */
		0x0000000000000001ULL, 0x000fffffffffffffULL, /* subnormals */
		0x7fefffffffffffffULL, 0xffefffffffffffffULL, /* ±DBL_MAX */
	};
	return i % 3 == 0 ? (double)i : from_bits(sp[i % (sizeof sp / sizeof sp[0])]);
}

Test(block, special_values_bit_exact, .init = setup, .fini = teardown)
{
	series(special_at, 300, 15000, 0);
}

static double edge_at(size_t i)
{
	static const double e[] = {1e-15, 0.1 + 0.2, 9007199254740992.0, 9007199254740993.0,
				   -9007199254740992.0, 1e300, -1e-300, 5e-324, 1e22, 1e23,
				   123456789012345.67, 0.1, -0.0, 3.14159, 2.5e-7, 1e17,
				   -1e-17, 4.35, 1234.5678, 99.99};
	return e[i % (sizeof e / sizeof e[0])];
}

Test(block, decimal_edges, .init = setup, .fini = teardown)
{
	series(edge_at, 200, 15000, 0);
}

static double counter_at(size_t i) { return 1000 + (double)(i * 7 % 20) * (double)i; }
static double gauge2_at(size_t i) { return (double)(400 + (long)(i * 37 % 90)) / 100; }
static double mixed_at(size_t i)
{
	/* decimal and non-decimal runs in one block */
	return (i / 50) % 2 ? sqrt((double)i) : (double)(i % 13) / 4;
}
static double huge_at(size_t i) { return i % 2 ? 1e-15 * (double)i : 123456.0 * (double)i; }

Test(block, counters_gauges_mixed_runs, .init = setup, .fini = teardown)
{
	series(counter_at, 2048, 15000, 50);
	series(gauge2_at, 2048, 15000, 50);
	series(mixed_at, 1000, 15000, 0);
	series(huge_at, 500, 60000, 3);
	series(counter_at, 1, 0, 0);
	series(gauge2_at, 2, 1, 0);
}

Test(block, extreme_timestamps, .init = setup, .fini = teardown)
{
	int64_t ts[] = {INT64_MIN, INT64_MIN + 1, -5, 0, 7, INT64_MAX - 1, INT64_MAX};
	double vs[] = {1, 2, 3, 4, 5, 6, 7};
	round_trip(ts, vs, 7);
}

/* Programme-shaped data: a counter stepping by small integers at 15 s with
 * millisecond jitter takes far less than Gorilla's ~2 bytes a sample. */
Test(block, compresses_programme_data, .init = setup, .fini = teardown)
{
	int64_t ts[1000];
	double vs[1000], v = 5000;
	uint64_t r = 42;
	uint8_t out[BLK_RAW_MAX];
	for (size_t i = 0; i < 1000; i++) {
		r ^= r << 13; r ^= r >> 7; r ^= r << 17;
		ts[i] = 1700000000000LL + (int64_t)i * 15000 + (int64_t)(r % 50);
		v += (double)((r >> 8) % 20);
		vs[i] = v;
	}
	size_t len = blk_encode(&C, ts, vs, 1000, out, sizeof out);
	cr_assert_gt(len, 0);
	/* 1.5 bytes a sample in the codes, ~0.1 for the index and one zstd
	 * frame for the whole (docs/storage.md) */
	cr_assert_lt(len, 1000 * 17 / 10, "%zu bytes for 1000 samples", len);
	round_trip(ts, vs, 1000);
}

/* docs/storage.md's worked example, byte by byte. */
Test(block, worked_example, .init = setup, .fini = teardown)
{
	int64_t ts[] = {1000, 16000, 31001};
	double vs[] = {1.5, 1.75, 2.0};
	static const uint8_t want[] = {0xb1, 0x03, 0xd0, 0x0f, 0xb0, 0xea, 0x01, 0x00, 0x02,
				       0x02, 0xad, 0x33, 0x33, 0x02};
	uint8_t out[64];
	size_t len = blk_encode(&C, ts, vs, 3, out, sizeof out);
	cr_assert_eq(len, sizeof want);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(out[i], want[i], "byte %zu: %02x, want %02x", i, out[i], want[i]);
	/* with the staleness marker after them: an exception */
	int64_t ts2[] = {1000, 16000, 31001, 46000};
	double vs2[] = {1.5, 1.75, 2.0, from_bits(0x7ff0000000000002ULL)};
	static const uint8_t want2[] = {0xb1, 0x04, 0xd0, 0x0f, 0xb0, 0xea, 0x01, 0x00, 0x02,
					0x01, 0x02, 0xad, 0x33, 0x33, 0x00, 0x02, 0x02, 0x00,
					0x00, 0x00, 0x00, 0x00, 0xf0, 0x7f};
	len = blk_encode(&C, ts2, vs2, 4, out, sizeof out);
	cr_assert_eq(len, sizeof want2);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(out[i], want2[i], "byte %zu: %02x, want %02x", i, out[i], want2[i]);
}

Test(block, encode_fit_respects_cap, .init = setup, .fini = teardown)
{
	static int64_t ts[4000];
	static double vs[4000];
	static uint8_t out[BLK_CAP_BYTES];
	for (size_t i = 0; i < 4000; i++) {
		ts[i] = (int64_t)i * 15000 + (int64_t)(i * 7919 % 997);
		vs[i] = sqrt((double)i + 0.5); /* no decimals: 8 raw bytes each */
	}
	size_t len, k = blk_encode_fit(&C, ts, vs, 4000, out, BLK_CAP_BYTES, &len);
	cr_assert_gt(k, 100);
	cr_assert_leq(len, BLK_CAP_BYTES);
	size_t got;
	cr_assert_eq(blk_decode(&C, out, len, &got), 0);
	cr_assert_eq(got, k);
}

/* Every prefix and every single-byte change of a valid block is refused
 * or decodes to something; never a read outside the bytes (ASan). */
Test(block, damaged_blocks_refused, .init = setup, .fini = teardown)
{
	int64_t ts[300];
	double vs[300];
	uint8_t out[BLK_RAW_MAX], bad[BLK_RAW_MAX];
	for (size_t i = 0; i < 300; i++) {
		ts[i] = (int64_t)i * 15000 + (int64_t)(i % 7);
		vs[i] = i % 10 == 0 ? special_at(i + 1) : gauge2_at(i);
	}
	size_t len = blk_encode(&C, ts, vs, 300, out, sizeof out), got;
	cr_assert_gt(len, 0);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *p = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
		memcpy(p, out, cut);
		cr_assert_neq(blk_decode(&C, p, cut, &got), 0, "a block cut at %zu decodes", cut);
		free(p);
	}
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, out, len);
		bad[i] ^= 0x5a;
		uint8_t *p = malloc(len);
		memcpy(p, bad, len);
		(void)blk_decode(&C, p, len, &got);
		free(p);
	}
	uint8_t junk[] = {0x07, 0x01, 0x02};
	cr_assert_neq(blk_decode(&C, junk, sizeof junk, &got), 0);
	/* raw: a count past the bound */
	uint8_t big[] = {BLK_RAW, 0x81, 0x80, 0x01, 0x00};
	cr_assert_neq(blk_decode(&C, big, sizeof big, &got), 0);
}

/* The index is checked against the streams wherever a decode passes a
 * checkpoint: a damaged byte anywhere in a raw block of 600 samples (three
 * checkpoints) fails the whole decode or changes what it returns; an index
 * byte, which a whole decode does not otherwise use, must fail it. */
Test(block, damaged_index_refused, .init = setup, .fini = teardown)
{
	enum { N = 600 };
	int64_t ts[N];
	double vs[N];
	static uint8_t out[BLK_RAW_MAX], raw[BLK_RAW_MAX + 1];
	for (size_t i = 0; i < N; i++) {
		ts[i] = 1700000000000LL + (int64_t)i * 15000 + (int64_t)(i * 7 % 50);
		vs[i] = i % 97 == 0 ? special_at(i + 1) : counter_at(i);
	}
	size_t len = blk_encode(&C, ts, vs, N, out, sizeof out), got, rl;
	cr_assert_gt(len, 0);
	if (out[0] == BLK_ZSTD1) {
		unsigned long long w = ZSTD_getFrameContentSize(out + 1, len - 1);
		cr_assert(w > 0 && w < sizeof raw - 1);
		cr_assert_eq(ZSTD_decompress(raw + 1, sizeof raw - 1, out + 1, len - 1), w);
		rl = (size_t)w + 1;
	} else {
		memcpy(raw + 1, out + 1, len - 1);
		rl = len;
	}
	raw[0] = BLK_RAW;
	cr_assert_eq(blk_decode(&C, raw, rl, &got), 0);
	cr_assert_eq(got, (size_t)N);
	size_t refused = 0;
	for (size_t i = 1; i < rl; i++) {
		uint8_t *p = malloc(rl);
		memcpy(p, raw, rl);
		p[i] ^= 0x5a;
		if (blk_decode(&C, p, rl, &got) != 0) {
			refused++;
		} else {
			bool same = got == N;
			for (size_t j = 0; same && j < N; j++)
				same = C.ts[j] == ts[j] && bits(C.vs[j]) == bits(vs[j]);
			cr_assert(!same, "byte %zu of %zu damaged, the decode is unchanged", i, rl);
		}
		free(p);
	}
	cr_assert_gt(refused, rl / 2, "only %zu of %zu damaged bytes refused", refused, rl);
}

/* A counter counting by small integers from a fraction (82.29016948897019,
 * as tools/bench_query.py's counters do) has no decimal form: mode 2's
 * binary mantissas keep it small, across the binades it crosses (where
 * the sums round), and exact. */
Test(block, binary_mantissas, .init = setup, .fini = teardown)
{
	int64_t ts[1500];
	double vs[1500], v = 82.29016948897019;
	uint64_t r = 9;
	uint8_t out[BLK_RAW_MAX];
	for (size_t i = 0; i < 1500; i++) {
		r ^= r << 13; r ^= r >> 7; r ^= r << 17;
		ts[i] = 1700000000000LL + (int64_t)i * 1800000;
		v += (double)(r % 21);
		vs[i] = i == 700 ? from_bits(0x7ff0000000000002ULL) : v;
	}
	size_t len = blk_encode(&C, ts, vs, 1500, out, sizeof out);
	cr_assert_gt(len, 0);
	cr_assert_lt(len, 1500, "%zu bytes for 1500 samples", len);
	round_trip(ts, vs, 1500);
	/* negative, subnormal and huge neighbours */
	for (size_t i = 0; i < 300; i++)
		vs[i] = i % 3 == 0 ? -1e-310 * (double)(i + 1) : i % 3 == 1 ? 1e300 / (double)(i + 1) : sqrt((double)i);
	round_trip(ts, vs, 300);
}

/* A short block (a backfilled series of 99 samples) takes one zstd frame
 * when that is smaller than separate ones: every kind decodes. */
Test(block, short_blocks_one_frame, .init = setup, .fini = teardown)
{
	int64_t ts[99];
	double vs[99];
	uint8_t out[BLK_RAW_MAX];
	bool seen[3] = {false, false, false};
	for (int shape = 0; shape < 3; shape++) {
		for (size_t i = 0; i < 99; i++) {
			ts[i] = 1700000000000LL + (int64_t)i * 15000 + (int64_t)(i * 7 % 50);
			vs[i] = shape == 0 ? (double)(i * 13 % 20) : shape == 1 ? (double)(i % 500) / 100 : (double)i;
		}
		size_t len = blk_encode(&C, ts, vs, 99, out, sizeof out);
		cr_assert_gt(len, 0);
		seen[out[0] - BLK_RAW] = true;
		round_trip(ts, vs, 99);
	}
	cr_assert(seen[BLK_ZSTD1 - BLK_RAW], "a short block in one frame");
}
