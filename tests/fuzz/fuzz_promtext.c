/* Fuzz the text exposition parser: no crash, no overread, and an error
 * always carries a position inside the input. */
#include <stdlib.h>
#include <string.h>

#include "collector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_sample(void *ctx, const struct pw_label *l, size_t n, double v, bool has_ts,
		     int64_t ts, struct pt_error *err)
{
	size_t *count = ctx;
	(void)v; (void)has_ts; (void)ts; (void)err;
	for (size_t i = 0; i < n; i++)
		if (!l[i].name || !l[i].value || strlen(l[i].name) == 0)
			abort();
	(*count)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pt_handler h = {.sample = on_sample};
	struct pt_error err;
	size_t count = 0;
	char *copy = malloc(size ? size : 1);

	memcpy(copy, data, size); /* exact-size buffer: ASan sees overreads */
	if (promtext_parse(copy, size, &h, &count, &err) != 0) {
		if (err.line == 0 || err.col == 0 || !err.msg || err.msg[0] == '\0')
			abort();
	}
	pt_error_clear(&err);
	free(copy);
	return 0;
}
