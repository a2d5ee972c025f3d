/*
 * Fuzz the HTTP API's parameter parsing (exporters/api_params.c): the input
 * is a form-encoded request (query string or POST body) read as
 * /api/v1/query, /api/v1/query_range, the listings (match[], start, end)
 * and metadata (limit) read it, with the default configuration. Every
 * parameter is also parsed as a time and as a duration. A refusal must say
 * why; what is accepted must hold the limits the evaluator relies on.
 */
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct conf *defaults;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct params p = {0};
	struct api_query_args a;
	struct api_sel s;
	char *body = malloc(size + 1), *msg;
	long limit;

	if (!defaults)
		defaults = conf_defaults();
	memcpy(body, data, size);
	body[size] = '\0';
	params_parse_form(&p, body, size);
	for (size_t i = 0; i < p.n; i++) {
		int64_t v;
		(void)api_parse_ts(p.v[i], &v);
		if (api_parse_dur(p.v[i], &v) == 0 && (v > INT64_MAX / 1000000 || v < -(INT64_MAX / 1000000)))
			abort(); /* past int64 nanoseconds */
	}
	for (int range = 0; range < 2; range++) {
		if (api_query_args(&p, defaults, range, 1700000000000, &a, &msg) != 0) {
			if (!msg || !*msg)
				abort();
			free(msg);
			continue;
		}
		if (!a.q || a.timeout_ms <= 0 || a.timeout_ms > defaults->query.timeout_ms ||
		    a.lookback_ms <= 0)
			abort();
		if (range && (a.end < a.start || a.step <= 0 ||
			      ((uint64_t)a.end - (uint64_t)a.start) / (uint64_t)a.step >
				      (uint64_t)defaults->query.max_points))
			abort();
	}
	if (api_sel_args(&p, &s, &msg) == 0) {
		if (s.n > 64)
			abort();
		api_sel_free(&s);
	} else {
		if (!msg || !*msg)
			abort();
		free(msg);
	}
	if (api_limit_arg(&p, "limit", &limit, &msg) == 0) {
		if (limit == 0 || limit < -1)
			abort();
	} else {
		if (!msg || !*msg)
			abort();
		free(msg);
	}
	params_free(&p);
	free(body);
	return 0;
}
