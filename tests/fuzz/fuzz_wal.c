/* Fuzz the recent-samples log's record decoder (store/wal.c) with arbitrary
 * bytes as one slice's portion, and check that whatever it decodes
 * encodes to a portion that decodes identically (ids, timestamps, value
 * bits). */
#include <stdlib.h>

#include "store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wal_samples a = {0}, b = {0};
	MDB_val in = {size, (void *)data};

	if (wal_rec_walk(&in, wal_samples_add, &a) == 0 && a.n > 0) {
		struct wal_rec_enc r;
		const uint8_t *p;
		size_t len;
		wal_rec_begin(&r);
		for (size_t i = 0; i < a.n;) {
			size_t j = i;
			while (j < a.n && a.id[j] == a.id[i])
				j++;
			wal_rec_series(&r, a.id[i], j - i);
			for (size_t k = i; k < j; k++) /* each refers to the one before */
				wal_rec_sample(&r, a.ts[k], a.vs[k], k > i ? &a.vs[k - 1] : NULL);
			i = j;
		}
		wal_rec_finish(&r, &p, &len);
		MDB_val out = {len, (void *)p};
		if (wal_rec_walk(&out, wal_samples_add, &b) != 0 || b.n != a.n)
			abort();
		for (size_t i = 0; i < a.n; i++)
			if (a.id[i] != b.id[i] || a.ts[i] != b.ts[i] ||
			    memcmp(&a.vs[i], &b.vs[i], 8) != 0)
				abort();
		wal_rec_free(&r);
	}
	wal_samples_free(&a);
	wal_samples_free(&b);
	return 0;
}
