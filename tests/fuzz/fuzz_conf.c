/* Fuzz the configuration loader (comment blanking, position map, walker,
 * validation): no crash, and a refusal always explains itself. */
#include <stdlib.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = NULL;
	struct conf_errs errs;

	if (conf_load_buffer("fuzz.json", (const char *)data, size, &c, &errs) != 0) {
		if (errs.n == 0)
			abort();
		for (size_t i = 0; i < errs.n; i++)
			if (!errs.v[i].msg || !errs.v[i].msg[0])
				abort();
	}
	conf_errs_free(&errs);
	conf_free(c);
	return 0;
}
