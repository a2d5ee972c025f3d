/* Fuzz the decoder of a stored run of heads or open segments
 * (store/slots.c) with arbitrary bytes as the value: parsing either fails
 * or yields entries in ascending id order inside the value, and looking
 * each id up finds exactly what the parse found (and nothing for the ids
 * it did not); each entry, read as a head, either parses to a chunk inside
 * it whose samples decode or is refused. */
#include <stdlib.h>

#include "store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slot_ent ents[SLOT_RUN];
	bool seen[SLOT_RUN] = {false};
	size_t n = 0;
	MDB_val blk = {size, (void *)data}, v;

	if (slot_block_parse(&blk, ents, &n) != 0) {
		for (unsigned lo = 0; lo < SLOT_RUN; lo += 17) /* must not crash */
			(void)slot_block_find(&blk, lo, &v);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (ents[i].lo >= SLOT_RUN || (i > 0 && ents[i].lo <= ents[i - 1].lo) ||
		    ents[i].p < data || ents[i].p + ents[i].len > data + size)
			abort();
		if (slot_block_find(&blk, ents[i].lo, &v) != 0 || v.mv_data != ents[i].p ||
		    v.mv_size != ents[i].len)
			abort();
		seen[ents[i].lo] = true;
		for (int legacy = 0; legacy < 2; legacy++) {
			struct head h;
			struct chunk_dec d;
			int64_t t;
			double dv;
			if (head_parse(ents[i].p, ents[i].len, legacy, &h) != 0)
				continue;
			if (h.chunk < ents[i].p || h.chunk + h.clen > ents[i].p + ents[i].len ||
			    h.a.nbits > h.clen * 8 || h.a.count == 0)
				abort();
			if (chunk_dec_init(&d, h.chunk, h.clen) >= 0)
				while (chunk_dec_next(&d, &t, &dv) == 1)
					;
		}
	}
	for (unsigned lo = 0; lo < SLOT_RUN; lo++)
		if (!seen[lo] && slot_block_find(&blk, lo, &v) != MDB_NOTFOUND)
			abort();
	return 0;
}
