/*
 * block.c — format 4's block codec for segments (open and sealed): a
 * series' samples as decimal mantissas and timestamp deltas in zigzag
 * varints, compressed with zstd. Pure functions over bytes that write.c
 * and retention.c encode with and read.c decodes with; no LMDB, so
 * unit-tested and fuzzed alone (tests/fuzz/fuzz_block.c). Heads stay in
 * chunk.c's Gorilla form: appending to them must not decode anything.
 *
 * A stored block (docs/storage.md has a worked example):
 *   u8 kind: BLK_RAW (the raw block follows) or BLK_ZSTD1 (one zstd frame
 *   that inflates to the raw block and declares its size), whichever is
 *   shorter
 * The raw block:
 *   varint n                       samples, 1..BLK_DEC_MAX
 *   varint zigzag(t0)              the first timestamp
 *   varint zigzag(step)            when n >= 2: the timestamps' usual step
 *   varint tslen                   when n > BLK_IDX_EVERY: the length of
 *                                  the differences that follow
 *   (n-1) x varint zigzag(t[i] - t[i-1] - step)
 *   u8 K | mode << 5               decimal exponent K (0..BLK_K_MAX) and
 *                                  mode (0: mantissa deltas, 1: deltas of
 *                                  deltas, 2: binary mantissas, below)
 *   index                          when n > BLK_IDX_EVERY: per sample
 *                                  j = k * BLK_IDX_EVERY (k >= 1), the
 *                                  decoder's state there (add_index)
 *   n x varint code                0: the value is an exception, its 8 bytes
 *                                  come from the exception area; else
 *                                  zigzag(M - P - (mode ? D : 0)) + 1 where
 *                                  M is the value's mantissa (v = M / 10^K),
 *                                  P the previous mantissa, D the previous
 *                                  mantissa step (both 0 at the start;
 *                                  exceptions change neither)
 *   nexc x 8 bytes LE              the exceptions' bits, in order
 * Mode 2 (K 0): then varint zigzag(E) and u8 S; the values are M * 2^E,
 * and the codes 0: an exception; 1: followed by varint zigzag(M - P);
 * else zigzag((M - P) >> S) + 2. Chosen when many values have no decimal
 * form and it is shorter (a counter stepping by integers from 82.2901...).
 * A value is a mantissa only when M / 10^K gives its bits back exactly
 * (|M| <= 2^53, not -0.0); NaN payloads, ±Inf, -0.0 and values such as
 * 0.1 + 0.2 are exceptions, so every value is kept bit for bit.
 */
#include "store_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static const double p10[BLK_K_MAX + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
					  1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
					  1e14, 1e15, 1e16, 1e17};
static const int64_t i10[BLK_K_MAX + 1] = {
	1LL,	      10LL,	     100LL,	     1000LL,	     10000LL,	      100000LL,
	1000000LL,    10000000LL,    100000000LL,    1000000000LL,   10000000000LL,   100000000000LL,
	1000000000000LL, 10000000000000LL, 100000000000000LL, 1000000000000000LL,
	10000000000000000LL, 100000000000000000LL};

#define MANT_MAX 9007199254740992.0 /* 2^53 */

void blk_codec_init(struct blk_codec *c) { memset(c, 0, sizeof *c); }

void blk_codec_free(struct blk_codec *c)
{
	if (c->cctx)
		ZSTD_freeCCtx(c->cctx);
	if (c->dctx)
		ZSTD_freeDCtx(c->dctx);
	free(c->raw);
	free(c->z1buf);
	free(c->mant);
	free(c->kd);
	free(c->bmant);
	free(c->bok);
	free(c->ts);
	free(c->vs);
	memset(c, 0, sizeof *c);
}

static void raw_room(struct blk_codec *c, size_t n)
{
	if (n > c->rawcap) {
		c->rawcap = n;
		c->raw = xrealloc(c->raw, n);
	}
}

static void samp_room(struct blk_codec *c, size_t n)
{
	if (n > c->scap) {
		c->scap = n;
		c->mant = xreallocarray(c->mant, n, sizeof *c->mant);
		c->kd = xreallocarray(c->kd, n, sizeof *c->kd);
		c->bmant = xreallocarray(c->bmant, n, sizeof *c->bmant);
		c->bok = xreallocarray(c->bok, n, sizeof *c->bok);
	}
}

void blk_codec_samples(struct blk_codec *c, size_t n)
{
	if (n > c->dcap) {
		c->dcap = n;
		c->ts = xreallocarray(c->ts, n, sizeof *c->ts);
		c->vs = xreallocarray(c->vs, n, sizeof *c->vs);
	}
}

/* The fewest decimals k with v == m / 10^k exactly (|m| <= 2^53), or -1. */
static int decimals(double v, int64_t *m)
{
	if (!(fabs(v) <= MANT_MAX) || (v == 0 && signbit(v)))
		return -1; /* NaN, ±Inf, too large, -0.0 */
	for (int k = 0; k <= BLK_K_MAX; k++) {
		double s = v * p10[k];
		if (fabs(s) > MANT_MAX)
			return -1;
		double r = nearbyint(s);
		int64_t mi = (int64_t)r;
		if ((double)mi / p10[k] == v) {
			*m = mi;
			return k;
		}
	}
	return -1;
}

/* decimals(), trying k = hint (>= 0) first: the previous value's k fits
 * most values of a series. The k it returns may exceed v's fewest, but is
 * always another value's fewest, so the block's K (the most) is the same
 * as decimals() would make it, and so is the block. */
static inline int decimals_hint(double v, int hint, int64_t *m)
{
	if (hint >= 0 && fabs(v) <= MANT_MAX && !(v == 0 && signbit(v))) {
		double sc = v * p10[hint];
		if (fabs(sc) <= MANT_MAX) {
			int64_t mi = (int64_t)nearbyint(sc);
			if ((double)mi / p10[hint] == v) {
				*m = mi;
				return hint;
			}
		}
	}
	return decimals(v, m);
}

static inline size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* The lowest power of two dividing finite v (*e) and v / 2^*e (odd, or 0
 * for zero, *e then 0), with its sign. */
static int64_t bin_split(uint64_t b, int *e)
{
	uint64_t frac = b & ((1ULL << 52) - 1);
	int ex = (int)((b >> 52) & 0x7ff);
	uint64_t m = ex ? frac | 1ULL << 52 : frac;
	int x = ex ? ex - 1075 : -1074;
	if (m == 0) {
		*e = 0;
		return 0;
	}
	int tz = __builtin_ctzll(m);
	*e = x + tz;
	m >>= tz;
	return b >> 63 ? -(int64_t)m : (int64_t)m;
}

/* Mode 2, the values as integers M times 2^E (E the block's least): a
 * value whose M would pass 2^62 is an exception; the deltas in units of
 * 2^S, S the trailing zeros most of them share (a delta that has fewer
 * is escaped). Writes the values' part at p when it is shorter than
 * budget bytes, returning its length, else 0. */
static size_t binary_encode(struct blk_codec *c, const double *vs, size_t n, size_t budget,
			    uint8_t *p)
{
	int E = INT32_MAX;
	uint64_t *bits = c->bmant; /* the decimal pass's are kept for the fallback */
	int8_t *ok = c->bok;
	for (size_t i = 0; i < n; i++) {
		uint64_t b;
		int e;
		memcpy(&b, &vs[i], 8);
		ok[i] = !(((b >> 52) & 0x7ff) == 0x7ff || b == 0x8000000000000000ULL);
		if (ok[i] && bin_split(b, &e) != 0 && e < E)
			E = e;
	}
	if (E == INT32_MAX)
		E = 0;
	/* M = odd * 2^(e - E) */
	for (size_t i = 0; i < n; i++) {
		uint64_t b;
		int e;
		if (!ok[i])
			continue;
		memcpy(&b, &vs[i], 8);
		int64_t m = bin_split(b, &e);
		uint64_t mag = m < 0 ? (uint64_t)-m : (uint64_t)m;
		if (m != 0 && (e - E > 62 || 64 - __builtin_clzll(mag) + (e - E) > 62)) {
			ok[i] = 0;
			continue;
		}
		bits[i] = m == 0 ? 0 : (uint64_t)(m * (int64_t)(1ULL << (e - E)));
		double back = ldexp((double)(int64_t)bits[i], E);
		if (memcmp(&back, &b, 8) != 0) /* never expected: checked anyway */
			ok[i] = 0;
	}
	/* S: the most trailing zeros that 7 of 8 nonzero deltas share */
	size_t tzn[65] = {0}, nz = 0;
	{
		uint64_t P = 0;
		for (size_t i = 0; i < n; i++) {
			if (!ok[i])
				continue;
			uint64_t d = bits[i] - P;
			P = bits[i];
			if (d) {
				tzn[__builtin_ctzll(d)]++;
				nz++;
			}
		}
	}
	unsigned S = 0;
	{
		size_t above = 0;
		for (int t = 63; t >= 0; t--) {
			above += tzn[t];
			if (above * 8 >= nz * 7) {
				S = (unsigned)t;
				break;
			}
		}
	}
	size_t o = 0, nexc = 0;
	uint8_t hdr[2 + VARINT_MAX_BYTES];
	size_t h = 0;
	hdr[h++] = 2u << 5;
	h += varint_put(hdr + h, zigzag(E));
	hdr[h++] = (uint8_t)S;
	size_t len = h;
	{
		uint64_t P = 0;
		for (size_t i = 0; i < n; i++) {
			if (!ok[i]) {
				len += 9;
				continue;
			}
			int64_t d = (int64_t)(bits[i] - P);
			P = bits[i];
			if (((uint64_t)d & ((1ULL << S) - 1)) == 0)
				len += varint_len(zigzag(d >> S) + 2);
			else
				len += 1 + varint_len(zigzag(d));
		}
	}
	if (len >= budget)
		return 0;
	memcpy(p, hdr, h);
	o = h;
	c->codes_at = (size_t)(p - c->raw) + o;
	uint64_t P = 0;
	for (size_t i = 0; i < n; i++) {
		if (!ok[i]) {
			p[o++] = 0;
			nexc++;
			continue;
		}
		int64_t d = (int64_t)(bits[i] - P);
		P = bits[i];
		if (((uint64_t)d & ((1ULL << S) - 1)) == 0) {
			o += varint_put(p + o, zigzag(d >> S) + 2);
		} else {
			p[o++] = 1;
			o += varint_put(p + o, zigzag(d));
		}
	}
	c->codes_end = (size_t)(p - c->raw) + o;
	c->mode2 = true;
	for (size_t i = 0; nexc && i < n; i++)
		if (!ok[i]) {
			uint64_t b;
			memcpy(&b, &vs[i], 8);
			le64_put(p + o, b);
			o += 8;
		}
	return o;
}

/* Rewrite the n codes at c->raw[codes_at, codes_end) as the first byte of
 * each code, then the rest of their bytes (and mode 2's escaped deltas)
 * in order: the first bytes of two-byte codes are near random, the rest
 * small, and zstd codes each part better on its own (11 % on gauges that
 * move by hundreds). Sets c->split2 where the rest starts; returns len. */
static size_t split_codes(struct blk_codec *c, size_t n, size_t len)
{
	size_t at = c->codes_at, clen = c->codes_end - at, a1 = 0, a2 = n;
	raw_room(c, len + clen); /* scratch after the block */
	uint8_t *src = c->raw + at, *tmp = c->raw + len;
	for (size_t i = 0, q = 0; i < n; i++) {
		uint64_t code = 0;
		unsigned shift = 0;
		uint8_t b = src[q++];
		tmp[a1++] = b;
		code = b & 0x7f;
		while (b & 0x80) {
			b = src[q++];
			tmp[a2++] = b;
			shift += 7;
			code |= (uint64_t)(b & 0x7f) << shift;
		}
		if (c->mode2 && code == 1)
			do
				tmp[a2++] = b = src[q++];
			while (b & 0x80);
	}
	memcpy(src, tmp, clen);
	c->split2 = at + n;
	return len;
}

/* A code: its first byte b, the rest (if any) at *p (advanced) before
 * end; false when cut short or too long. */
static inline bool code_get(uint8_t b, const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = b & 0x7f;
	for (unsigned shift = 7; b & 0x80; shift += 7) {
		if (shift >= 64 || *p >= end)
			return false;
		b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
	}
	*out = v;
	return true;
}

/* code_get for the decoder's loop: a code of one or two bytes (nearly
 * all) without a branch on its length, which follows the data and would
 * be mispredicted about as often as a two-byte code comes; longer codes,
 * or none left after *p, go to code_get. */
static inline bool code_get_fast(uint8_t b, const uint8_t **p, const uint8_t *end,
				 uint64_t *out)
{
	const uint8_t *q = *p;
	if (q < end) {
		uint64_t more = b >> 7, c = q[0];
		if (!(more & (c >> 7))) {
			*out = (uint64_t)(b & 0x7f) | (((c & 0x7f) << 7) & (0 - more));
			*p = q + more;
			return true;
		}
	}
	return code_get(b, p, end, out);
}

/* Insert the index of a raw block of n > BLK_IDX_EVERY samples (len bytes,
 * laid out by raw_encode): the timestamps' length after the header, and
 * after the values' header one checkpoint per BLK_IDX_EVERY samples, the
 * state a decoder has on reaching sample j = c * BLK_IDX_EVERY: the sum of
 * the timestamp differences so far, where the next difference starts, where
 * sample j's rest bytes start, and the mantissa P (and, in mode 1, the step
 * D) so far. Returns the new length. */
static size_t add_index(struct blk_codec *c, size_t n, size_t len)
{
	if (n <= BLK_IDX_EVERY)
		return len;
	const uint8_t *p = c->raw, *end = c->raw + len;
	uint64_t u;
	varint_get(&p, end, &u); /* n */
	varint_get(&p, end, &u); /* t0 */
	varint_get(&p, end, &u); /* step */
	size_t hdr = (size_t)(p - c->raw), tslen = c->split - hdr;
	uint8_t idx[BLK_IDX_MAX * 5 * VARINT_MAX_BYTES];
	size_t il = 0;
	uint64_t sumd = 0, sums[BLK_IDX_MAX + 1], tsoff[BLK_IDX_MAX + 1];
	for (size_t i = 1; i < n; i++) {
		varint_get(&p, end, &u);
		sumd += (uint64_t)unzigzag(u);
		if (i % BLK_IDX_EVERY == 0) {
			sums[i / BLK_IDX_EVERY] = sumd;
			tsoff[i / BLK_IDX_EVERY] = (uint64_t)(p - c->raw) - hdr;
		}
	}
	unsigned mode = c->raw[c->split] >> 5, S = mode == 2 ? c->raw[c->codes_at - 1] : 0;
	const uint8_t *a1 = c->raw + c->codes_at, *a2 = c->raw + c->split2;
	uint64_t P = 0, D = 0, pP = 0, pa2 = 0, ptso = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && i % BLK_IDX_EVERY == 0) {
			size_t k = i / BLK_IDX_EVERY;
			uint64_t off = (uint64_t)(a2 - (c->raw + c->split2));
			il += varint_put(idx + il, zigzag((int64_t)sums[k]));
			il += varint_put(idx + il, tsoff[k] - ptso);
			il += varint_put(idx + il, off - pa2);
			il += varint_put(idx + il, zigzag((int64_t)(P - pP)));
			if (mode == 1)
				il += varint_put(idx + il, zigzag((int64_t)D));
			ptso = tsoff[k];
			pa2 = off;
			pP = P;
		}
		uint64_t code;
		code_get(a1[i], &a2, end, &code);
		if (code == 0)
			continue;
		if (mode == 2) {
			uint64_t db;
			if (code == 1) {
				varint_get(&a2, end, &u);
				db = (uint64_t)unzigzag(u);
			} else {
				db = (uint64_t)unzigzag(code - 2) << S;
			}
			P += db;
			continue;
		}
		uint64_t dm = (uint64_t)unzigzag(code - 1) + (mode ? D : 0);
		P += dm;
		D = dm;
	}
	uint8_t tl[VARINT_MAX_BYTES];
	size_t l1 = varint_put(tl, tslen);
	raw_room(c, len + l1 + il);
	uint8_t *r = c->raw;
	/* header | tslen | timestamps | values' header | index | codes | exceptions */
	memmove(r + c->codes_at + l1 + il, r + c->codes_at, len - c->codes_at);
	memcpy(r + c->codes_at + l1, idx, il);
	memmove(r + hdr + l1, r + hdr, c->codes_at - hdr);
	memcpy(r + hdr, tl, l1);
	c->split += l1;
	c->codes_at += l1 + il;
	c->split2 += l1 + il;
	c->codes_end += l1 + il;
	return len + l1 + il;
}

/* The raw block of n samples into c->raw; returns its length. */
static size_t raw_encode(struct blk_codec *c, const int64_t *ts, const double *vs, size_t n)
{
	size_t cap = 2 * VARINT_MAX_BYTES + 2 + n * (2 * VARINT_MAX_BYTES + 8), o = 0, nexc = 0;
	int K = 0;

	raw_room(c, cap);
	samp_room(c, n);
	uint8_t *p = c->raw;
	o += varint_put(p + o, n);
	o += varint_put(p + o, zigzag(ts[0]));
	if (n >= 2) {
		/* the mean step, rounded: jitter around it stays small */
		int64_t step = (int64_t)(((uint64_t)ts[n - 1] - (uint64_t)ts[0]) / (uint64_t)(n - 1));
		if (ts[n - 1] < ts[0]) /* not ascending: any step decodes right */
			step = 0;
		o += varint_put(p + o, zigzag(step));
		for (size_t i = 1; i < n; i++)
			o += varint_put(p + o, zigzag((int64_t)((uint64_t)ts[i] - (uint64_t)ts[i - 1] -
							     (uint64_t)step)));
	}
	/* the block's exponent: the most decimals any value needs */
	for (size_t i = 0, hint = 0; i < n; i++) {
		int k = decimals_hint(vs[i], (int)hint, &c->mant[i]);
		c->kd[i] = (int8_t)k;
		if (k > K)
			K = k;
		if (k >= 0)
			hint = (size_t)k;
	}
	/* mantissas at K; those that no longer fit become exceptions */
	for (size_t i = 0; i < n; i++) {
		int k = c->kd[i];
		if (k < 0)
			continue;
		int64_t m = c->mant[i], f = i10[K - k];
		if (f > 1 && (m > (int64_t)MANT_MAX / f || m < -(int64_t)MANT_MAX / f)) {
			c->kd[i] = -1;
			continue;
		}
		m *= f;
		double back = (double)m / p10[K];
		if (memcmp(&back, &vs[i], 8) != 0) { /* never expected: checked anyway */
			c->kd[i] = -1;
			continue;
		}
		c->mant[i] = m;
	}
	/* deltas or deltas of deltas: whichever is shorter */
	size_t len[2] = {0, 0};
	{
		uint64_t P = 0, D = 0;
		for (size_t i = 0; i < n; i++) {
			if (c->kd[i] < 0) {
				len[0]++;
				len[1]++;
				continue;
			}
			uint64_t M = (uint64_t)c->mant[i], d = M - P;
			len[0] += varint_len(zigzag((int64_t)d) + 1);
			len[1] += varint_len(zigzag((int64_t)(d - D)) + 1);
			D = d;
			P = M;
		}
	}
	unsigned mode = len[1] < len[0];
	c->split = o; /* the values' part starts here */
	{
		size_t exc = 0;
		for (size_t i = 0; i < n; i++)
			exc += c->kd[i] < 0;
		/* many values without a decimal form: binary mantissas may do
		 * better (a counter counting from a fraction such as 82.29016948897019) */
		if (exc > n / 8 && (o += binary_encode(c, vs, n, len[mode] + 8 * exc, p + o)) > c->split)
			return add_index(c, n, split_codes(c, n, o));
	}
	p[o++] = (uint8_t)(K | mode << 5);
	c->codes_at = o;
	c->mode2 = false;
	uint64_t P = 0, D = 0;
	for (size_t i = 0; i < n; i++) {
		if (c->kd[i] < 0) {
			p[o++] = 0;
			nexc++;
			continue;
		}
		uint64_t M = (uint64_t)c->mant[i], d = M - P;
		o += varint_put(p + o, zigzag((int64_t)(d - (mode ? D : 0))) + 1);
		D = d;
		P = M;
	}
	c->codes_end = o;
	for (size_t i = 0; nexc && i < n; i++)
		if (c->kd[i] < 0) {
			uint64_t b;
			memcpy(&b, &vs[i], 8);
			le64_put(p + o, b);
			o += 8;
		}
	return add_index(c, n, split_codes(c, n, o));
}

static void oom(void)
{
	fprintf(stderr, "pacewatch: out of memory (zstd)\n");
	abort();
}

size_t blk_encode(struct blk_codec *c, const int64_t *ts, const double *vs, size_t n,
		  uint8_t *out, size_t cap)
{
	c->need = 0;
	if (n == 0 || n > BLK_DEC_MAX)
		return 0;
	size_t rawlen = raw_encode(c, ts, vs, n);
	if (!c->cctx) {
		if (!(c->cctx = ZSTD_createCCtx()))
			oom();
		ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, BLK_ZSTD_LEVEL);
		ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 0);
		ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 1);
	}
	/* one zstd frame: three (the timestamps, the codes' first bytes, the
	 * rest, each with entropy tables of its own) came out no smaller on
	 * tools/bench-store's data (1.85 against 1.87 bytes a sample in scrape
	 * order, 1.67 against 1.66 in backfill), and a read inflates every frame
	 * it needs: building each frame's tables was most of the cost of reading
	 * an hour from a block (one-hour reads 12-14 us a series against 10). */
	const uint8_t *src = c->raw;
	uint8_t kind = BLK_RAW;
	size_t l = rawlen;
	size_t zb = ZSTD_compressBound(rawlen);
	if (zb > c->z1cap) {
		c->z1cap = zb;
		c->z1buf = xrealloc(c->z1buf, zb);
	}
	size_t z1 = ZSTD_compress2(c->cctx, c->z1buf, c->z1cap, c->raw, rawlen);
	if (!ZSTD_isError(z1) && z1 < l) {
		src = c->z1buf;
		kind = BLK_ZSTD1;
		l = z1;
	}
	c->need = l + 1;
	if (l + 1 > cap)
		return 0;
	out[0] = kind;
	memcpy(out + 1, src, l);
	return l + 1;
}

static bool get_zz(const uint8_t **p, const uint8_t *end, int64_t *v)
{
	uint64_t u;
	if (!varint_get(p, end, &u))
		return false;
	*v = unzigzag(u);
	return true;
}

/* The raw block of a stored one: inflated into c->raw where zstd made it,
 * else the bytes after the kind. */
static int blk_inflate(struct blk_codec *c, const uint8_t *blk, size_t len, const uint8_t **rp,
		       const uint8_t **rend)
{
	const uint8_t *p, *end;

	if (len < 2)
		return PW_EINVAL;
	if (blk[0] == BLK_RAW) {
		p = blk + 1;
		end = blk + len;
	} else if (blk[0] == BLK_ZSTD1) {
		unsigned long long w = ZSTD_getFrameContentSize(blk + 1, len - 1);
		if (w == ZSTD_CONTENTSIZE_ERROR || w == ZSTD_CONTENTSIZE_UNKNOWN || w == 0 ||
		    w > BLK_RAW_MAX)
			return PW_EINVAL;
		raw_room(c, (size_t)w);
		if (!c->dctx && !(c->dctx = ZSTD_createDCtx()))
			oom();
		size_t got = ZSTD_decompressDCtx(c->dctx, c->raw, (size_t)w, blk + 1, len - 1);
		if (ZSTD_isError(got) || got != w)
			return PW_EINVAL;
		p = c->raw;
		end = c->raw + got;
	} else {
		return PW_EINVAL;
	}
	*rp = p;
	*rend = end;
	return 0;
}

/* blk_decode_range's values: the decoder's state from a checkpoint on,
 * and what it checks against */
struct vdec {
	const uint8_t *a2, *exc; /* the next code's rest, the next exception */
	uint64_t P, D;
	const uint8_t *a2s, *excend;
	const uint64_t *ck_P, *ck_a2, *ck_D;
	size_t j0;
	unsigned S;
	double div;
	bool scaled;
	double scale;
	int64_t E;
};

/* The values of samples [i0, i1): summed, and with store converted into
 * out[i - s]. mode and store are constants where it is called, so that
 * each case is a loop of its own without their branches. */
static inline __attribute__((always_inline)) bool vals(struct vdec *v, const uint8_t *a1,
						       size_t i0, size_t i1, unsigned mode,
						       bool store, double *out, size_t s)
{
	const uint8_t *a2 = v->a2, *exc = v->exc, *excend = v->excend;
	uint64_t P = v->P, D = v->D;
	for (size_t i = i0; i < i1; i++) {
		uint64_t code;
		if (i > v->j0 && i % BLK_IDX_EVERY == 0) {
			size_t q = i / BLK_IDX_EVERY;
			if (P != v->ck_P[q] || (uint64_t)(a2 - v->a2s) != v->ck_a2[q] ||
			    (mode == 1 && D != v->ck_D[q]))
				return false; /* the index disagrees with the values */
		}
		if (!code_get_fast(a1[i], &a2, excend, &code))
			return false;
		if (code == 0) {
			if (a1[i] != 0) /* a zero written long: not what a writer makes */
				return false;
			if (store) {
				uint64_t b = le64_get(exc);
				memcpy(&out[i - s], &b, 8);
			}
			exc += 8;
			continue;
		}
		if (mode == 2) {
			uint64_t db;
			if (code == 1) {
				uint64_t esc;
				if (!varint_get(&a2, excend, &esc))
					return false;
				db = (uint64_t)unzigzag(esc);
			} else {
				db = (uint64_t)unzigzag(code - 2) << v->S;
			}
			P += db;
			if (store)
				out[i - s] = v->scaled ? (double)(int64_t)P * v->scale
						       : ldexp((double)(int64_t)P, (int)v->E);
			continue;
		}
		uint64_t dm = (uint64_t)unzigzag(code - 1) + (mode ? D : 0);
		P += dm;
		D = dm;
		if (store)
			out[i - s] = (double)(int64_t)P / v->div;
	}
	v->a2 = a2;
	v->exc = exc;
	v->P = P;
	v->D = D;
	return true;
}

int blk_decode(struct blk_codec *c, const uint8_t *blk, size_t len, size_t *nout)
{
	bool past;
	return blk_decode_range(c, blk, len, INT64_MIN, INT64_MAX, nout, &past);
}

/* Decoding converts only the samples of [mint, maxt]: the timestamps before
 * them are summed and the values' codes before them only accumulated (no
 * double made or stored), and nothing after maxt is decoded. A read of the
 * last minutes of a block of 2,048 samples so costs a fraction of decoding
 * it whole. What is not decoded is not checked beyond finding where the
 * parts start: a damaged tail fails the reads that reach it. */
int blk_decode_range(struct blk_codec *c, const uint8_t *blk, size_t len, int64_t mint,
		     int64_t maxt, size_t *nout, bool *past)
{
	const uint8_t *p, *end;
	uint64_t n, tslen = 0;
	int rc;

	*nout = 0;
	*past = false;
	if ((rc = blk_inflate(c, blk, len, &p, &end)) != 0)
		return rc;
	if (!varint_get(&p, end, &n) || n == 0 || n > BLK_DEC_MAX)
		return PW_EINVAL;
	blk_codec_samples(c, (size_t)n);
	int64_t t0, step = 0;
	if (!get_zz(&p, end, &t0))
		return PW_EINVAL;
	if (n >= 2 && !get_zz(&p, end, &step))
		return PW_EINVAL;
	size_t m = (size_t)(n - 1) / BLK_IDX_EVERY; /* checkpoints */
	const uint8_t *tsp = p, *vp = NULL;
	if (n > BLK_IDX_EVERY) {
		if (!varint_get(&p, end, &tslen) || tslen >= (uint64_t)(end - p))
			return PW_EINVAL;
		tsp = p;
		vp = p + tslen; /* the values' header */
	} else {
		m = 0;
	}
	/* the values' header: found by the index, else after the n - 1
	 * differences (at most BLK_IDX_EVERY of them) */
	if (!vp) {
		vp = tsp;
		for (size_t left = (size_t)n - 1; left; vp++) {
			if (vp >= end)
				return PW_EINVAL;
			left -= !(*vp & 0x80);
		}
	}
	if (vp >= end)
		return PW_EINVAL;
	p = vp;
	unsigned K = *p & 31, mode = *p >> 5, S = 0;
	int64_t E = 0;
	p++;
	if (K > BLK_K_MAX || mode > 2 || (mode == 2 && K != 0))
		return PW_EINVAL;
	if (mode == 2) {
		if (!get_zz(&p, end, &E) || E < -1100 || E > 1100 || p >= end || *p > 63)
			return PW_EINVAL;
		S = *p++;
	}
	/* the index: checkpoint k (1..m) at sample k * BLK_IDX_EVERY */
	int64_t ck_t[BLK_IDX_MAX + 1];
	uint64_t ck_ts[BLK_IDX_MAX + 1], ck_a2[BLK_IDX_MAX + 1], ck_P[BLK_IDX_MAX + 1],
		ck_D[BLK_IDX_MAX + 1];
	ck_t[0] = t0;
	ck_ts[0] = ck_a2[0] = ck_P[0] = ck_D[0] = 0;
	for (size_t k = 1; k <= m; k++) {
		uint64_t sd, dts, da2, dP, d = 0;
		if (!varint_get(&p, end, &sd) || !varint_get(&p, end, &dts) ||
		    !varint_get(&p, end, &da2) || !varint_get(&p, end, &dP) ||
		    (mode == 1 && !varint_get(&p, end, &d)))
			return PW_EINVAL;
		ck_t[k] = (int64_t)((uint64_t)t0 + (uint64_t)step * (k * BLK_IDX_EVERY) +
				    (uint64_t)unzigzag(sd));
		ck_ts[k] = ck_ts[k - 1] + dts;
		ck_a2[k] = ck_a2[k - 1] + da2;
		ck_P[k] = ck_P[k - 1] + (uint64_t)unzigzag(dP);
		ck_D[k] = (uint64_t)unzigzag(d);
		if (dts == 0 || ck_ts[k] > tslen || ck_ts[k] < dts || ck_a2[k] < da2 ||
		    ck_t[k] <= ck_t[k - 1])
			return PW_EINVAL;
	}
	/* the codes' first bytes (n; an exception's is 0), the rest of their
	 * bytes and mode 2's escaped deltas, then 8 bytes per exception */
	if ((uint64_t)(end - p) < n)
		return PW_EINVAL;
	const uint8_t *a1 = p, *a2s = p + n;
	size_t nexc = 0;
	for (size_t i = 0; i < n; i++)
		nexc += a1[i] == 0;
	if ((size_t)(end - a2s) < nexc * 8)
		return PW_EINVAL;
	const uint8_t *excend = end - nexc * 8;
	/* start at the last checkpoint at or before mint */
	size_t k0 = 0;
	while (k0 < m && ck_t[k0 + 1] <= mint)
		k0++;
	size_t j0 = k0 * BLK_IDX_EVERY;
	if (ck_a2[k0] > (uint64_t)(excend - a2s))
		return PW_EINVAL;

	/* timestamps from j0: s the first at or after mint, e the first after maxt */
	size_t s = (size_t)n, e = (size_t)n, k = 0;
	int64_t t = ck_t[k0], prev, d;
	p = tsp + ck_ts[k0];
	const uint8_t *tsend = m ? tsp + tslen : end;
	for (size_t i = j0;;) {
		if (t > maxt) {
			e = i;
			break;
		}
		if (t >= mint) {
			if (s == n)
				s = i;
			c->ts[k++] = t;
		}
		if (++i == n)
			break;
		prev = t;
		if (!get_zz(&p, tsend, &d))
			return PW_EINVAL;
		t = (int64_t)((uint64_t)t + (uint64_t)step + (uint64_t)d);
		if (t <= prev) /* strictly ascending, as stored */
			return PW_EINVAL;
		if (i % BLK_IDX_EVERY == 0 &&
		    (t != ck_t[i / BLK_IDX_EVERY] || (uint64_t)(p - tsp) != ck_ts[i / BLK_IDX_EVERY]))
			return PW_EINVAL; /* the index disagrees with the timestamps */
	}
	if (e == n && (m ? p != tsend : p != vp))
		return PW_EINVAL;
	if (s > e)
		s = e;

	/* values from j0 */
	size_t before = 0;
	for (size_t i = 0; i < j0; i++)
		before += a1[i] == 0;
	/* 2^E as a double: x * 2^E equals ldexp(x, E), correctly rounded, for
	 * every E a normal double can scale by (|x| >= 1 or 0 here) */
	bool scaled = E >= -1022 && E <= 1023;
	struct vdec v = {.a2 = a2s + ck_a2[k0], .exc = excend + before * 8, .P = ck_P[k0],
			 .D = ck_D[k0], .a2s = a2s, .excend = excend, .ck_P = ck_P,
			 .ck_a2 = ck_a2, .ck_D = ck_D, .j0 = j0, .S = S, .div = p10[K],
			 .scaled = scaled, .scale = scaled ? ldexp(1.0, (int)E) : 1.0, .E = E};
	/* up to s only summed, then converted: each mode its own loops */
	bool ok = mode == 0   ? vals(&v, a1, j0, s, 0, false, NULL, 0) &&
				    vals(&v, a1, s, e, 0, true, c->vs, s)
		  : mode == 1 ? vals(&v, a1, j0, s, 1, false, NULL, 0) &&
				    vals(&v, a1, s, e, 1, true, c->vs, s)
			      : vals(&v, a1, j0, s, 2, false, NULL, 0) &&
				    vals(&v, a1, s, e, 2, true, c->vs, s);
	if (!ok)
		return PW_EINVAL;
	const uint8_t *a2 = v.a2, *exc = v.exc;
	if (e == n && (a2 != excend || exc != end))
		return PW_EINVAL; /* decoded whole: exactly the exceptions remain */
	*nout = k;
	*past = e < n;
	return 0;
}

size_t blk_encode_fit(struct blk_codec *c, const int64_t *ts, const double *vs, size_t n,
		      uint8_t *out, size_t cap, size_t *len)
{
	size_t k = n < BLK_MAX_SAMPLES ? n : BLK_MAX_SAMPLES;

	for (;;) {
		size_t l = blk_encode(c, ts, vs, k, out, cap);
		if (l > 0) {
			*len = l;
			return k;
		}
		if (k == 1) {
			fprintf(stderr, "pacewatch: block codec: one sample needs %zu bytes\n", c->need);
			abort(); /* at most ~30 bytes: cap is far larger */
		}
		/* too large: shrink in proportion, with a margin */
		size_t nk = (size_t)((double)k * (double)cap / (double)c->need * 0.95);
		k = nk >= k ? k - 1 : nk ? nk : 1;
	}
}
