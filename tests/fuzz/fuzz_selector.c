/* Fuzz the series selector parser. */
#include <stdlib.h>
#include <string.h>

#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct store_matcher *m;
	size_t n;
	char *cause = NULL;

	memcpy(s, data, size);
	s[size] = '\0';
	if (query_parse_selector(s, &m, &n, &cause) == 0)
		query_matchers_free(m, n);
	else if (!cause)
		abort();
	free(cause);
	free(s);
	return 0;
}
