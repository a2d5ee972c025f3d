/* Fuzz the JSON mapper with arbitrary response bodies against mappings
 * that use every path feature. */
#include <stdlib.h>
#include <string.h>

#include "collector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CONF[] =
	"{\"targets\": [{\"name\": \"f\", \"url\": \"http://127.0.0.1/\", \"metrics\": ["
	"{\"path\": \"$.data[*]\", \"metric\": \"a\", \"value\": \"@.v\", \"timestamp\": \"@.t\","
	" \"labels\": {\"k\": \"@key\", \"p\": \"@parent.@key\", \"n\": \"@.name\", \"r\": \"$.r\"},"
	" \"value_map\": {\"on\": 1}},"
	"{\"path\": \"$.*.*[?(@.x > 1)]\", \"metric\": \"b\", \"value\": \"@\"},"
	"{\"path\": \"$.c[-1]\", \"metric\": \"c\", \"value\": \"@['q r']\", \"labels\": {\"z\": \"@parent2.id\"}}"
	"]}]}";

static int sink(void *ctx, const struct pw_label *l, size_t n, int64_t ts, double v)
{
	(void)ctx; (void)ts; (void)v;
	for (size_t i = 0; i < n; i++)
		if (!l[i].value || !l[i].value[0])
			abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jsonmap *maps[3];
	static struct pw_tz *tz;
	size_t n;
	char *cause = NULL;

	if (!maps[0]) {
		struct conf *c;
		struct conf_errs errs;
		if (conf_load_buffer("f", CONF, strlen(CONF), &c, &errs) != 0)
			abort();
		for (int i = 0; i < 3; i++)
			if (jsonmap_compile(&c->targets[0].metrics[i], &maps[i], &cause) != 0)
				abort();
		conf_errs_free(&errs);
		conf_free(c);
		pw_tz_load("Asia/Shanghai", &tz, NULL);
	}
	if (jsonmap_apply(maps, 3, (const char *)data, size, tz, 0, sink, NULL, &n, &cause) != 0 &&
	    (!cause || !cause[0]))
		abort();
	free(cause);
	return 0;
}
