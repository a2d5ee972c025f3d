/*
 * chunk.c — the sample chunk codec (Gorilla-style timestamps, XOR or
 * integer-step values, bit-exact) and a head's compact appender state
 * (format 3's; older stores' fixed one is legacy.c's): pure functions over
 * bytes that write.c and retention.c encode with and every reader decodes
 * with; no LMDB, so unit-tested and fuzzed alone. Calls no other file.
 */
#include "store_int.h"

#include <math.h>
#include <string.h>

/*
 * Chunk bytes: u16 LE sample count, then the bit stream (MSB first).
 *   sample 0: 64-bit timestamp, 64-bit value
 *   then per sample: timestamp delta-of-delta in buckets sized for
 *   millisecond scrape jitter
 *     '0' | '10'+8 bits | '110'+14 | '1110'+20 | '1111'+64
 *   and the value:
 *     '0'   same bits as the previous value
 *     '10'  integer step: both values are integers (|v| <= 2^53, not -0),
 *           zigzag(delta)-1 in '0'+6 bits | '10'+13 | '110'+24 | '111'+55
 *           (counters and counts, the programme's usual data, cost ~9 bits)
 *     '11'  XOR with the previous value, Gorilla-style:
 *           '0' + bits in the previous window
 *           '1' + 5-bit leading zeros + 6-bit length + bits
 * The appender's state (last t, delta, value, window, bit length) is kept by
 * the caller next to the chunk so that appends need no decoding.
 */

static void put_bits(uint8_t *buf, uint32_t *nbits, uint64_t v, unsigned n)
{
	uint32_t pos = *nbits;

	while (n > 0) {
		unsigned room = 8 - (pos & 7);
		unsigned take = n < room ? n : room;
		uint8_t piece = (uint8_t)((v >> (n - take)) & ((1u << take) - 1));
		buf[pos >> 3] |= (uint8_t)(piece << (room - take));
		pos += take;
		n -= take;
	}
	*nbits = pos;
}

static bool fits(int64_t x, unsigned nbits)
{
	return x >= -((int64_t)1 << (nbits - 1)) + 1 && x <= ((int64_t)1 << (nbits - 1));
}

/* Is v an integer that int64 arithmetic represents exactly? -0.0 is not
 * (its sign would be lost). */
static bool safe_int(double v)
{
	return v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == (double)(int64_t)v &&
	       !(v == 0 && signbit(v));
}

/* Worst case for one sample: 4+64 timestamp bits and 3+5+6+64 value bits. */
#define SAMPLE_MAX_BITS 146u

void chunk_app_init(struct chunk_app *a)
{
	memset(a, 0, sizeof *a);
	a->nbits = 16; /* the count field */
}

size_t chunk_app_bytes(const struct chunk_app *a) { return (a->nbits + 7) / 8; }

bool chunk_app_room(const struct chunk_app *a, size_t cap_bytes, unsigned max_samples)
{
	return a->count < max_samples &&
	       (a->nbits + SAMPLE_MAX_BITS + 7) / 8 <= cap_bytes;
}

void chunk_app_add(struct chunk_app *a, uint8_t *buf, int64_t t, double v)
{
	uint64_t vb;

	memcpy(&vb, &v, sizeof vb);
	if (a->count == 0) {
		put_bits(buf, &a->nbits, (uint64_t)t, 64);
		put_bits(buf, &a->nbits, vb, 64);
		a->delta = 0;
		a->lead = 0xff; /* no window yet */
	} else {
		/* wrapping arithmetic keeps every int64 pair representable */
		uint64_t delta = (uint64_t)t - (uint64_t)a->t;
		int64_t dod = (int64_t)(delta - (uint64_t)a->delta);
		uint64_t x = vb ^ a->v;

		if (dod == 0)
			put_bits(buf, &a->nbits, 0, 1);
		else if (fits(dod, 8)) {
			put_bits(buf, &a->nbits, 2, 2);
			put_bits(buf, &a->nbits, (uint64_t)dod, 8);
		} else if (fits(dod, 14)) {
			put_bits(buf, &a->nbits, 6, 3);
			put_bits(buf, &a->nbits, (uint64_t)dod, 14);
		} else if (fits(dod, 20)) {
			put_bits(buf, &a->nbits, 14, 4);
			put_bits(buf, &a->nbits, (uint64_t)dod, 20);
		} else {
			put_bits(buf, &a->nbits, 15, 4);
			put_bits(buf, &a->nbits, (uint64_t)dod, 64);
		}
		a->delta = (int64_t)delta;

		double pv;
		memcpy(&pv, &a->v, sizeof pv);
		if (x == 0) {
			put_bits(buf, &a->nbits, 0, 1);
		} else if (safe_int(v) && safe_int(pv)) {
			int64_t d = (int64_t)v - (int64_t)pv;
			uint64_t zz = ((uint64_t)d << 1) ^ (uint64_t)(d >> 63); /* >= 1 */
			uint64_t z = zz - 1;
			put_bits(buf, &a->nbits, 2, 2);
			if (z < (1u << 6)) {
				put_bits(buf, &a->nbits, 0, 1);
				put_bits(buf, &a->nbits, z, 6);
			} else if (z < (1u << 13)) {
				put_bits(buf, &a->nbits, 2, 2);
				put_bits(buf, &a->nbits, z, 13);
			} else if (z < (1u << 24)) {
				put_bits(buf, &a->nbits, 6, 3);
				put_bits(buf, &a->nbits, z, 24);
			} else {
				put_bits(buf, &a->nbits, 7, 3);
				put_bits(buf, &a->nbits, z, 55);
			}
		} else {
			unsigned lead = (unsigned)__builtin_clzll(x);
			unsigned trail = (unsigned)__builtin_ctzll(x);
			put_bits(buf, &a->nbits, 3, 2);
			if (lead > 31)
				lead = 31;
			if (a->lead != 0xff && lead >= a->lead && trail >= a->trail) {
				unsigned sig = 64 - a->lead - a->trail;
				put_bits(buf, &a->nbits, 0, 1);
				put_bits(buf, &a->nbits, x >> a->trail, sig);
			} else {
				unsigned sig = 64 - lead - trail;
				put_bits(buf, &a->nbits, 1, 1);
				put_bits(buf, &a->nbits, lead, 5);
				put_bits(buf, &a->nbits, sig & 63, 6); /* 64 is written as 0 */
				put_bits(buf, &a->nbits, x >> trail, sig);
				a->lead = (uint8_t)lead;
				a->trail = (uint8_t)trail;
			}
		}
	}
	a->t = t;
	a->v = vb;
	a->count++;
	buf[0] = (uint8_t)(a->count & 0xff);
	buf[1] = (uint8_t)(a->count >> 8);
}

/* ---- a head's compact state --------------------------------------------- */

/* u16 LE (window lead (32: none), trail, bit length mod 8), varint
 * zigzag(last t - first t), varint zigzag(delta), the last value (8 bytes
 * LE). The first timestamp, the count and the byte length come from the
 * chunk. */
size_t head_state_put(const struct chunk_app *a, const uint8_t *chunk, uint8_t *out)
{
	int64_t first = (int64_t)key_get_u64(chunk + 2);
	unsigned lead = a->lead == 0xff ? 32u : a->lead;
	unsigned code = ((lead * 64u) + (a->trail & 63u)) * 8u + (a->nbits & 7u);
	size_t n = 0;
	out[n++] = (uint8_t)code;
	out[n++] = (uint8_t)(code >> 8);
	uint64_t dt = (uint64_t)a->t - (uint64_t)first;
	n += varint_put(out + n, zigzag((int64_t)dt));
	n += varint_put(out + n, zigzag(a->delta));
	le64_put(out + n, a->v);
	return n + 8;
}

int head_parse_compact(const void *p, size_t len, struct head *h)
{
	const uint8_t *b = p, *end = b + len;
	struct chunk_app *a = &h->a;
	uint64_t zt, zd;

	if (len < 2)
		return PW_EINVAL;
	unsigned code = (unsigned)b[0] | (unsigned)b[1] << 8;
	b += 2;
	if (!varint_get(&b, end, &zt) || !varint_get(&b, end, &zd) || end - b < 8 + 2 + 16)
		return PW_EINVAL;
	a->v = le64_get(b);
	b += 8;
	h->chunk = b;
	h->clen = (size_t)(end - b);
	if (h->clen > CHUNK_BUF_BYTES)
		return PW_EINVAL;
	unsigned lead = code / 8 / 64, r = code & 7;
	if (lead > 32)
		return PW_EINVAL;
	a->lead = lead == 32 ? 0xff : (uint8_t)lead;
	a->trail = (uint8_t)(code / 8 % 64);
	a->nbits = (uint32_t)(r ? (h->clen - 1) * 8 + r : h->clen * 8);
	a->count = (uint16_t)(h->chunk[0] | h->chunk[1] << 8);
	h->mint = (int64_t)key_get_u64(h->chunk + 2);
	a->t = (int64_t)((uint64_t)h->mint + (uint64_t)unzigzag(zt));
	a->delta = unzigzag(zd);
	if (a->count == 0 || a->nbits < 16 + 128)
		return PW_EINVAL;
	return 0;
}

/* ---- decoding ----------------------------------------------------------- */

int chunk_app_resume(struct chunk_app *a, uint8_t *buf, size_t len)
{
	struct chunk_dec d;
	int64_t t;
	double v;
	int cnt = chunk_dec_init(&d, buf, len), rc;

	if (cnt <= 0)
		return PW_EINVAL;
	while ((rc = chunk_dec_next(&d, &t, &v)) == 1)
		;
	if (rc < 0 || (d.pos + 7) / 8 != len)
		return PW_EINVAL;
	a->t = d.t;
	a->delta = d.delta;
	a->v = d.v;
	a->nbits = (uint32_t)d.pos;
	a->count = (uint16_t)cnt;
	a->lead = d.lead;
	a->trail = d.trail;
	if (d.pos & 7) /* appends OR bits in: the padding must be clear */
		buf[d.pos >> 3] &= (uint8_t)(0xff00u >> (d.pos & 7));
	return 0;
}

int chunk_dec_init(struct chunk_dec *d, const uint8_t *buf, size_t len)
{
	memset(d, 0, sizeof *d);
	if (len < 2)
		return PW_EINVAL;
	d->buf = buf;
	d->nbits = (uint64_t)len * 8;
	d->pos = 16;
	d->left = (uint16_t)(buf[0] | buf[1] << 8);
	d->lead = 0xff;
	return d->left;
}

static inline bool get_bits(struct chunk_dec *d, unsigned n, uint64_t *out)
{
	uint64_t v = 0;
	uint64_t pos = d->pos;

	if (n > d->nbits - pos)
		return false;
	if (n - 1 < 56 && (pos >> 3) + 8 <= d->nbits >> 3) {
		/* eight bytes at once, big-endian: the bits wanted are inside */
		uint64_t w;
		memcpy(&w, d->buf + (pos >> 3), sizeof w);
		w = __builtin_bswap64(w);
		*out = (w << (pos & 7)) >> (64 - n);
		d->pos = pos + n;
		return true;
	}
	while (n > 0) {
		unsigned room = 8 - (unsigned)(pos & 7);
		unsigned take = n < room ? n : room;
		unsigned byte = d->buf[pos >> 3];
		v = (v << take) | ((byte >> (room - take)) & ((1u << take) - 1));
		pos += take;
		n -= take;
	}
	d->pos = pos;
	*out = v;
	return true;
}

/* The writer keeps dod in n bits for -(2^(n-1)-1) <= dod <= 2^(n-1)
 * (the range `fits` accepts), so 2^(n-1) itself reads back positive. */
static int64_t sext(uint64_t v, unsigned n)
{
	int64_t x = (int64_t)(v & (((uint64_t)1 << n) - 1));
	if (x > ((int64_t)1 << (n - 1)))
		x -= (int64_t)1 << n;
	return x;
}

/* Sixty-four bits from bit pos on, the first at the top; at least the
 * first 57 are the chunk's (the caller keeps 8 bytes inside the buffer). */
static inline uint64_t peek(const uint8_t *buf, uint64_t pos)
{
	uint64_t w;
	memcpy(&w, buf + (pos >> 3), sizeof w);
	return __builtin_bswap64(w) << (pos & 7);
}

/* Leading ones of w, at most max. */
static inline unsigned ones(uint64_t w, unsigned max)
{
	unsigned n = ~w ? (unsigned)__builtin_clzll(~w) : 64;
	return n < max ? n : max;
}

/* One sample (not the first) read with a load per field instead of a call
 * per bit: 1 done, 0 when the sample has a field this does not take (a
 * 64-bit timestamp step, an XOR window over 57 bits; the caller then reads
 * it bit by bit), nothing changed then. The caller guarantees 24 bytes of
 * chunk from pos: the loads reach at most 13 bytes past it. */
static inline int dec_fast(struct chunk_dec *d)
{
	static const unsigned tsw[] = {0, 8, 14, 20};
	static const unsigned width[] = {6, 13, 24, 55};
	uint64_t pos = d->pos, w = peek(d->buf, pos);
	unsigned pre = ones(w, 4), n;
	int64_t dod;

	if (pre == 4)
		return 0;
	n = tsw[pre];
	dod = n ? sext((w << (pre + 1)) >> (64 - n), n) : 0;
	pos += pre + 1 + n;
	int64_t delta = (int64_t)((uint64_t)d->delta + (uint64_t)dod);
	int64_t t = (int64_t)((uint64_t)d->t + (uint64_t)delta);
	uint64_t val = d->v;
	uint8_t lead = d->lead, trail = d->trail;

	w = peek(d->buf, pos);
	if (!(w >> 63)) {
		pos += 1; /* unchanged */
	} else if (!((w >> 62) & 1)) {
		/* integer step: 10, k ones (at most 3), 0 unless k is 3, width[k] bits */
		unsigned k = ones(w << 2, 3), used = 2 + k + (k < 3);
		uint64_t z = peek(d->buf, pos + used) >> (64 - width[k]), zz = z + 1;
		int64_t step = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
		double pv, nv;
		memcpy(&pv, &val, sizeof pv);
		if (!safe_int(pv))
			return PW_EINVAL;
		nv = (double)(int64_t)((uint64_t)(int64_t)pv + (uint64_t)step);
		memcpy(&val, &nv, sizeof nv);
		pos += used + width[k];
	} else if (!((w >> 61) & 1)) {
		/* XOR in the window of the last one */
		if (lead == 0xff)
			return PW_EINVAL; /* window reused before set */
		unsigned sig = 64u - lead - trail;
		if (sig > 57)
			return 0;
		val ^= (peek(d->buf, pos + 3) >> (64 - sig)) << trail;
		pos += 3 + sig;
	} else {
		/* XOR in a new window: 5 bits of leading zeros, 6 of length */
		unsigned l = (unsigned)((w << 3) >> 59), sig = (unsigned)((w << 8) >> 58);
		if (sig == 0)
			sig = 64;
		if (l + sig > 64)
			return PW_EINVAL;
		if (sig > 57)
			return 0;
		lead = (uint8_t)l;
		trail = (uint8_t)(64 - l - sig);
		val ^= (peek(d->buf, pos + 14) >> (64 - sig)) << trail;
		pos += 14 + sig;
	}
	d->pos = pos;
	d->delta = delta;
	d->t = t;
	d->v = val;
	d->lead = lead;
	d->trail = trail;
	return 1;
}

/* chunk_dec_next's body, inlined into it and into chunk_dec_read's loop */
static inline int dec_next(struct chunk_dec *d, int64_t *t, double *v)
{
	uint64_t b, x;
	int rc;

	if (d->left == 0)
		return 0;
	if (d->started == 0) {
		if (!get_bits(d, 64, &b))
			return PW_EINVAL;
		d->t = (int64_t)b;
		if (!get_bits(d, 64, &d->v))
			return PW_EINVAL;
		d->delta = 0;
		d->started = 1;
	} else if (d->nbits >= 192 && d->pos <= d->nbits - 192 &&
		   (rc = dec_fast(d)) != 0) {
		if (rc < 0)
			return rc;
	} else {
		int64_t dod;
		unsigned prefix = 0;

		while (prefix < 4) {
			if (!get_bits(d, 1, &b))
				return PW_EINVAL;
			if (b == 0)
				break;
			prefix++;
		}
		switch (prefix) {
		case 0: dod = 0; break;
		case 1: if (!get_bits(d, 8, &b)) return PW_EINVAL; dod = sext(b, 8); break;
		case 2: if (!get_bits(d, 14, &b)) return PW_EINVAL; dod = sext(b, 14); break;
		case 3: if (!get_bits(d, 20, &b)) return PW_EINVAL; dod = sext(b, 20); break;
		default: if (!get_bits(d, 64, &b)) return PW_EINVAL; dod = (int64_t)b; break;
		}
		d->delta = (int64_t)((uint64_t)d->delta + (uint64_t)dod);
		d->t = (int64_t)((uint64_t)d->t + (uint64_t)d->delta);

		if (!get_bits(d, 1, &b))
			return PW_EINVAL;
		if (b == 1) {
			if (!get_bits(d, 1, &b))
				return PW_EINVAL;
			if (b == 0) {
				/* integer step */
				static const unsigned width[] = {6, 13, 24, 55};
				unsigned k = 0;
				double pv, nv;
				uint64_t z, zz;
				int64_t delta;
				while (k < 3) {
					if (!get_bits(d, 1, &b))
						return PW_EINVAL;
					if (b == 0)
						break;
					k++;
				}
				if (!get_bits(d, width[k], &z))
					return PW_EINVAL;
				zz = z + 1;
				delta = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
				memcpy(&pv, &d->v, sizeof pv);
				if (!safe_int(pv))
					return PW_EINVAL;
				nv = (double)(int64_t)((uint64_t)(int64_t)pv + (uint64_t)delta);
				memcpy(&d->v, &nv, sizeof nv);
			} else {
				if (!get_bits(d, 1, &b))
					return PW_EINVAL;
				if (b == 0) {
					unsigned sig;
					if (d->lead == 0xff)
						return PW_EINVAL; /* window reused before set */
					sig = 64 - d->lead - d->trail;
					if (!get_bits(d, sig, &x))
						return PW_EINVAL;
					d->v ^= x << d->trail;
				} else {
					uint64_t lead, sig;
					if (!get_bits(d, 5, &lead) || !get_bits(d, 6, &sig))
						return PW_EINVAL;
					if (sig == 0)
						sig = 64;
					if (lead + sig > 64)
						return PW_EINVAL;
					d->lead = (uint8_t)lead;
					d->trail = (uint8_t)(64 - lead - sig);
					if (!get_bits(d, (unsigned)sig, &x))
						return PW_EINVAL;
					d->v ^= x << d->trail;
				}
			}
		}
	}
	d->left--;
	*t = d->t;
	memcpy(v, &d->v, sizeof *v);
	return 1;
}

int chunk_dec_next(struct chunk_dec *d, int64_t *t, double *v)
{
	return dec_next(d, t, v);
}

int chunk_dec_read(struct chunk_dec *d, int64_t *t, double *v, size_t max, size_t *n)
{
	size_t i = 0;
	int rc = 0;
	while (i < max && (rc = dec_next(d, &t[i], &v[i])) == 1)
		i++;
	*n = i;
	return rc < 0 ? rc : 0;
}

size_t chunk_encode(const int64_t *ts, const double *vs, size_t n, uint8_t *out,
		    size_t outcap, unsigned max_samples, struct chunk_app *app)
{
	struct chunk_app a;
	size_t i;

	chunk_app_init(&a);
	memset(out, 0, outcap);
	for (i = 0; i < n && chunk_app_room(&a, outcap, max_samples); i++)
		chunk_app_add(&a, out, ts[i], vs[i]);
	if (app)
		*app = a;
	return i;
}
