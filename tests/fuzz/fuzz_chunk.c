/* Fuzz the chunk decoder with arbitrary bytes, and check that whatever it
 * decodes re-encodes to samples that decode identically. */
#include <stdlib.h>

#include "store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chunk_dec d;
	static int64_t ts[SEG_MAX_SAMPLES + 1];
	static double vs[SEG_MAX_SAMPLES + 1];
	size_t n = 0;
	int64_t t;
	double v;

	if (chunk_dec_init(&d, data, size) < 0)
		return 0;
	while (n < SEG_MAX_SAMPLES && chunk_dec_next(&d, &t, &v) == 1) {
		ts[n] = t;
		vs[n++] = v;
	}
	if (n > 0) {
		uint8_t buf[CHUNK_BUF_BYTES];
		struct chunk_app a;
		size_t k = chunk_encode(ts, vs, n, buf, SEG_CAP_BYTES, SEG_MAX_SAMPLES, &a);
		struct chunk_dec d2;
		chunk_dec_init(&d2, buf, chunk_app_bytes(&a));
		for (size_t i = 0; i < k; i++) {
			if (chunk_dec_next(&d2, &t, &v) != 1 || t != ts[i] ||
			    memcmp(&v, &vs[i], sizeof v) != 0)
				abort();
		}
	}
	return 0;
}
