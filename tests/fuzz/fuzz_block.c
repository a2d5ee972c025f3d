/* Fuzz format 4's block decoder (store/block.c) with arbitrary bytes, as a
 * damaged data.mdb would hand it: it must refuse or decode within bounds,
 * and whatever it decodes must encode to a block that decodes to the same
 * samples bit for bit; a range read of the damaged bytes (its bounds taken
 * from them) must stay within bounds too, and a range read of the
 * re-encoded block must give the range's samples. */
#include <stdlib.h>

#include "store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct blk_codec c, c2;
	static uint8_t out[BLK_RAW_MAX + 1];
	static int64_t ts[BLK_DEC_MAX];
	static double vs[BLK_DEC_MAX];
	size_t n, n2;

	if (size >= 17) { /* a range read of the bytes as they are */
		int64_t a, b;
		memcpy(&a, data + size - 16, 8);
		memcpy(&b, data + size - 8, 8);
		(void)blk_decode_range(&c, data, size, a, b, &n, &(bool){false});
	}
	if (blk_decode(&c, data, size, &n) != 0)
		return 0;
	if (n == 0 || n > BLK_DEC_MAX)
		abort();
	memcpy(ts, c.ts, n * sizeof *ts);
	memcpy(vs, c.vs, n * sizeof *vs);
	size_t len = blk_encode(&c2, ts, vs, n, out, sizeof out);
	if (len == 0 || blk_decode(&c2, out, len, &n2) != 0 || n2 != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if (c2.ts[i] != ts[i] || memcmp(&c2.vs[i], &vs[i], sizeof vs[i]) != 0)
			abort();
	/* a range: from the sample a quarter in to the one three quarters in */
	size_t lo = n / 4, hi = n - 1 - n / 4, got;
	bool past;
	if (blk_decode_range(&c2, out, len, ts[lo], ts[hi], &got, &past) != 0 ||
	    got != hi - lo + 1 || past != (hi + 1 < n))
		abort();
	for (size_t i = 0; i < got; i++)
		if (c2.ts[i] != ts[lo + i] || memcmp(&c2.vs[i], &vs[lo + i], sizeof vs[i]) != 0)
			abort();
	return 0;
}
