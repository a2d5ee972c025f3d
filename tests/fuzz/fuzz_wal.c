/* Fuzz the recent-samples log's record decoder (store/wal.c) with arbitrary
 * bytes as one slice's portion, and check that whatever it decodes
 * encodes to a portion that decodes identically (ids, timestamps, value
 * bits). */
#include <stdlib.h>

#include "store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct got {
	uint64_t *id;
	int64_t *ts;
	uint64_t *bits;
	size_t n, cap;
};

static int collect(void *ctx, uint64_t id, int64_t ts, double v)
{
	struct got *g = ctx;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->id = xreallocarray(g->id, g->cap, sizeof *g->id);
		g->ts = xreallocarray(g->ts, g->cap, sizeof *g->ts);
		g->bits = xreallocarray(g->bits, g->cap, sizeof *g->bits);
	}
	g->id[g->n] = id;
	g->ts[g->n] = ts;
	memcpy(&g->bits[g->n], &v, 8);
	g->n++;
	return 0;
}

static void got_free(struct got *g)
{
	free(g->id);
	free(g->ts);
	free(g->bits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct got a = {0}, b = {0};
	MDB_val in = {size, (void *)data};

	if (wal_rec_walk(&in, collect, &a) == 0 && a.n > 0) {
		struct wal_rec_enc r;
		const uint8_t *p;
		size_t len;
		wal_rec_begin(&r);
		for (size_t i = 0; i < a.n;) {
			size_t j = i;
			while (j < a.n && a.id[j] == a.id[i])
				j++;
			wal_rec_series(&r, a.id[i], j - i);
			for (size_t k = i; k < j; k++) {
				double v;
				memcpy(&v, &a.bits[k], 8);
				wal_rec_sample(&r, a.ts[k], v);
			}
			i = j;
		}
		wal_rec_finish(&r, &p, &len);
		MDB_val out = {len, (void *)p};
		if (wal_rec_walk(&out, collect, &b) != 0 || b.n != a.n)
			abort();
		for (size_t i = 0; i < a.n; i++)
			if (a.id[i] != b.id[i] || a.ts[i] != b.ts[i] || a.bits[i] != b.bits[i])
				abort();
		wal_rec_free(&r);
	}
	got_free(&a);
	got_free(&b);
	return 0;
}
