/* Fuzz the PromQL parser, and the evaluator on what parses: a small store
 * made once per process, tight limits so no input runs long. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *st;
static char dir[64];

static void cleanup(void)
{
	char cmd[128];
	store_close(st);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static void init(void)
{
	struct store_opts o = {0};
	struct store_batch *b;
	static const char *const cities[] = {"杭州", "宁波", "温州"};
	snprintf(dir, sizeof dir, "/tmp/pw-fuzz-promql-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	o.path = dir;
	o.no_sync = true;
	if (store_open(&o, &st, NULL) != 0)
		abort();
	b = store_batch_begin(st);
	for (int c = 0; c < 3; c++)
		for (int64_t t = 0; t <= 600000; t += 15000) {
			struct pw_label l[3] = {{"__name__", "x"}, {"city", cities[c]}, {"le", c ? "1" : "+Inf"}};
			struct pw_label m[2] = {{"__name__", "y"}, {"city", cities[c]}};
			store_batch_put(b, l, 3, t, (double)(t / 1000 * (c + 1)));
			store_batch_put(b, m, 2, t, t % 45000 ? 1.5 * c : store_stale_nan());
		}
	if (store_batch_commit(b, NULL) != 0)
		abort();
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct query_expr *x = NULL;
	struct query_error e = {0};
	struct query_opts o = {.max_samples = 200000, .timeout_ms = 200};
	struct query_result *r = NULL;

	if (!st)
		init();
	memcpy(s, data, size);
	s[size] = '\0';
	if (query_parse(s, &x, &e) != 0) {
		if (!e.msg || e.pos < 0 || (size_t)e.pos > strlen(s))
			abort();
		free(query_caret(s, e.pos));
		query_error_clear(&e);
		free(s);
		return 0;
	}
	if (query_exec_instant(st, &o, x, 300000, &r, &e) == 0)
		query_result_free(r);
	else if (!e.msg)
		abort();
	query_error_clear(&e);
	if (query_expr_type(x) == QUERY_SCALAR || query_expr_type(x) == QUERY_VECTOR) {
		if (query_exec_range(st, &o, x, 0, 600000, 30000, &r, &e) == 0)
			query_result_free(r);
		query_error_clear(&e);
	}
	query_expr_free(x);
	free(s);
	return 0;
}
