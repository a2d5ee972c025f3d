/* The chunk codec (store/chunk.c): exact round trips, property tests
 * against a plain array, and a decoder that refuses damaged chunks. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "store_int.h"

static uint64_t bits(double v) { uint64_t b; memcpy(&b, &v, 8); return b; }
static double from_bits(uint64_t b) { double v; memcpy(&v, &b, 8); return v; }

static void same_state(const struct chunk_app *x, const struct chunk_app *a, const char *what)
{
	cr_assert_eq(x->t, a->t, "%s: t", what);
	cr_assert_eq(x->delta, a->delta, "%s: delta", what);
	cr_assert_eq(x->v, a->v, "%s: value", what);
	cr_assert_eq(x->nbits, a->nbits, "%s: bit length", what);
	cr_assert_eq(x->count, a->count, "%s: count", what);
	cr_assert_eq(x->lead, a->lead, "%s: lead", what);
	if (a->lead != 0xff)
		cr_assert_eq(x->trail, a->trail, "%s: trail", what);
}

/* A head's compact state, stored in front of the chunk, parses back to
 * the appender's state. */
static void head_state_round_trip(const struct chunk_app *a, const uint8_t *buf)
{
	uint8_t hv[HEAD_STATE_MAX + CHUNK_BUF_BYTES];
	struct head h;
	size_t sl = head_state_put(a, buf, hv);
	cr_assert_leq(sl, HEAD_STATE_MAX);
	memcpy(hv + sl, buf, chunk_app_bytes(a));
	cr_assert_eq(head_parse(hv, sl + chunk_app_bytes(a), false, &h), 0);
	same_state(&h.a, a, "compact head state");
	cr_assert_eq(h.chunk, hv + sl);
	cr_assert_eq(h.clen, chunk_app_bytes(a));
}

/* Encode (appending one at a time, as the store does, sealing when full)
 * and decode; every sample must come back bit for bit. */
static void round_trip(const int64_t *ts, const double *vs, size_t n)
{
	size_t done = 0;
	while (done < n) {
		uint8_t buf[CHUNK_BUF_BYTES] = {0};
		struct chunk_app a;
		struct chunk_dec d;
		size_t k = 0;
		chunk_app_init(&a);
		while (done + k < n && chunk_app_room(&a, SEG_CAP_BYTES, SEG_MAX_SAMPLES)) {
			chunk_app_add(&a, buf, ts[done + k], vs[done + k]);
			head_state_round_trip(&a, buf);
			k++;
		}
		cr_assert_gt(k, 0);
		cr_assert_leq(chunk_app_bytes(&a), SEG_CAP_BYTES);
		cr_assert_eq(chunk_dec_init(&d, buf, chunk_app_bytes(&a)), (int)k);
		for (size_t i = 0; i < k; i++) {
			int64_t t;
			double v;
			cr_assert_eq(chunk_dec_next(&d, &t, &v), 1, "sample %zu", done + i);
			cr_assert_eq(t, ts[done + i], "ts of sample %zu", done + i);
			cr_assert_eq(bits(v), bits(vs[done + i]), "value bits of sample %zu: %016llx != %016llx",
				     done + i, (unsigned long long)bits(v),
				     (unsigned long long)bits(vs[done + i]));
		}
		int64_t t;
		double v;
		cr_assert_eq(chunk_dec_next(&d, &t, &v), 0);
		/* the appender state survives a save/load */
		uint8_t st[HEAD_STATE_BYTES];
		struct chunk_app b;
		chunk_app_save(&a, st);
		cr_assert_eq(chunk_app_load(&b, st, buf, chunk_app_bytes(&a)), 0);
		cr_assert_eq(b.t, a.t);
		cr_assert_eq(b.nbits, a.nbits);
		cr_assert_eq(b.count, a.count);
		/* and decoding the chunk finds it (open segments keep none) */
		uint8_t copy[CHUNK_BUF_BYTES];
		struct chunk_app r;
		memset(copy, 0xff, sizeof copy); /* padding bits set: resume clears them */
		memcpy(copy, buf, chunk_app_bytes(&a));
		cr_assert_eq(chunk_app_resume(&r, copy, chunk_app_bytes(&a)), 0);
		same_state(&r, &a, "resumed state");
		if (done + k < n && chunk_app_room(&r, CHUNK_BUF_BYTES - 8, SEG_MAX_SAMPLES + 1)) {
			/* appending after the resume writes what the appender would */
			uint8_t more[CHUNK_BUF_BYTES] = {0};
			memcpy(more, buf, chunk_app_bytes(&a));
			memset(copy + chunk_app_bytes(&a), 0, sizeof copy - chunk_app_bytes(&a));
			chunk_app_add(&r, copy, ts[done + k], vs[done + k]);
			chunk_app_add(&a, more, ts[done + k], vs[done + k]);
			cr_assert_eq(chunk_app_bytes(&r), chunk_app_bytes(&a));
			cr_assert_eq(memcmp(copy, more, chunk_app_bytes(&a)), 0, "append after resume");
		}
		done += k;
	}
}

Test(chunk, one_sample)
{
	int64_t ts[] = {1751299140000};
	double vs[] = {215};
	round_trip(ts, vs, 1);
}

Test(chunk, special_values_bit_exact)
{
	int64_t ts[8];
	double vs[] = {from_bits(STORE_STALE_NAN_BITS), INFINITY, -INFINITY, -0.0, 0.0,
		       from_bits(0x7ff8000000000001ULL), from_bits(0xfff0000000000abcULL), 1e-310};
	for (int i = 0; i < 8; i++)
		ts[i] = 1000 * i;
	round_trip(ts, vs, 8);
}

Test(chunk, huge_and_negative_deltas)
{
	int64_t ts[] = {INT64_MIN, -5, 0, 1, INT64_MAX - 10, INT64_MAX};
	double vs[] = {1, 2, 3, 4, 5, 6};
	round_trip(ts, vs, 6);
	int64_t ts2[] = {-1000000, -999000, -998000, 5000000000000, 5000000000001};
	double vs2[] = {1, 1, 1, 2, 2};
	round_trip(ts2, vs2, 5);
}

Test(chunk, scrape_jitter_and_counters)
{
	enum { N = 5000 };
	static int64_t ts[N];
	static double vs[N];
	srand(7);
	for (int i = 0; i < N; i++) {
		ts[i] = 1751299140000LL + i * 15000LL + (rand() % 40) - 20;
		vs[i] = i ? vs[i - 1] + (rand() % 5) : 9480000;
	}
	round_trip(ts, vs, N);
}

/* Property test: random series of random shapes must decode to exactly the
 * plain arrays they came from. */
Test(chunk, randomised_property)
{
	srand(12345);
	for (int iter = 0; iter < 300; iter++) {
		size_t n = 1 + (size_t)(rand() % 700);
		int64_t *ts = malloc(n * sizeof *ts);
		double *vs = malloc(n * sizeof *vs);
		int64_t t = (int64_t)rand() * (rand() % 2 ? 1 : -1000);
		int shape = rand() % 4;
		for (size_t i = 0; i < n; i++) {
			int64_t step = shape == 0 ? 15000 : shape == 1 ? 1 + rand() % 100000
				       : shape == 2 ? 1 + ((int64_t)rand() << 20) : 1 + rand() % 3;
			t += step;
			ts[i] = t;
			switch (rand() % 5) {
			case 0: vs[i] = (double)rand() / 7.0; break;
			case 1: vs[i] = i ? vs[i - 1] : 1; break;
			case 2: { uint64_t b = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand(); vs[i] = from_bits(b); break; }
			case 3: vs[i] = (double)(rand() % 1000); break;
			default: vs[i] = -(double)rand() * 1e200; break;
			}
		}
		round_trip(ts, vs, n);
		free(ts);
		free(vs);
	}
}

Test(chunk, truncated_chunks_are_rejected_not_overread)
{
	uint8_t buf[CHUNK_BUF_BYTES] = {0};
	struct chunk_app a;
	chunk_app_init(&a);
	for (int i = 0; i < 50; i++)
		chunk_app_add(&a, buf, 1000 * i + (i % 3), i * 1.5);
	size_t len = chunk_app_bytes(&a);
	for (size_t cut = 0; cut < len; cut++) {
		struct chunk_dec d;
		int64_t t;
		double v;
		int rc, n = 0;
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, buf, cut);
		if (chunk_dec_init(&d, copy, cut) < 0) {
			free(copy);
			continue;
		}
		while ((rc = chunk_dec_next(&d, &t, &v)) == 1)
			n++;
		cr_expect(rc == PW_EINVAL || n == 50, "cut %zu: rc %d after %d samples", cut, rc, n);
		free(copy);
	}
}

Test(chunk, counter_compresses_well)
{
	uint8_t buf[CHUNK_BUF_BYTES] = {0};
	struct chunk_app a;
	chunk_app_init(&a);
	for (int i = 0; i < 240; i++)
		chunk_app_add(&a, buf, 1751299140000LL + 15000LL * i + i % 7, 9480000 + 3 * i + i % 5);
	/* jittered timestamps ~10 bits, small integer steps ~9 bits */
	cr_expect_lt(chunk_app_bytes(&a), 240 * 21 / 8 + 20, "%zu bytes", chunk_app_bytes(&a));
}
