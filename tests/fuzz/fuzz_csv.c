/* Fuzz the CSV ledger parser. */
#include <stdlib.h>
#include <string.h>

#include "collector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ctx, const struct pw_label *l, size_t n, int64_t ts, double v)
{
	(void)ctx; (void)ts; (void)v;
	for (size_t i = 0; i < n; i++)
		if (!l[i].value)
			abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf_kv lab[] = {{"county", "county"}};
	static struct conf_kv val[] = {{"events", "events"}, {"lectures", "lectures"}};
	static struct conf_csv csv = {",", "date", {lab, 1}, {val, 2}, NULL, 0, {NULL, 0}};
	char *copy = malloc(size ? size : 1), *cause = NULL;
	size_t n;

	memcpy(copy, data, size);
	if (csv_apply(&csv, copy, size, NULL, 0, sink, NULL, &n, &cause) != 0 && !cause)
		abort();
	free(cause);
	free(copy);
	return 0;
}
