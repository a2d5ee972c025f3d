/* Fuzz the alert template expander: any text, fixed labels and values. */
#include <stdlib.h>
#include <string.h>

#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pw_label labels[] = {{"__name__", "up"}, {"city", "济南"}, {"job", "x"}};
	static const struct pw_label kpi[] = {{"value", "183"}, {"unit", "city=枣庄"}};
	struct template_data d = {.labels = labels, .ext = labels, .nlabels = 3, .next = 1,
				  .value = 1234567.5, .kpi = kpi, .nkpi = 2};
	char *t = malloc(size + 1), *out;
	memcpy(t, data, size);
	t[size] = '\0';
	out = template_expand(t, &d);
	if (!out)
		abort();
	free(out);
	free(t);
	return 0;
}
