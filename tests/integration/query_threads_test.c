/*
 * The query engine's helper threads (query/par.c) under ThreadSanitizer,
 * without Criterion (whose runner does not start under TSan): range
 * functions and selectors over many series with 4 threads answer what one
 * thread answers, bit for bit, while four queries run at once (so that the
 * process' bound on helpers is met and some queries run alone), and a
 * query stopped by its memory limit or its deadline frees its helpers.
 * Exits non-zero on a difference; TSan's reports fail the test through its
 * exit code. tests/unit/query/test_parallel.c checks the same answers more
 * widely in the ordinary builds.
 *   query_threads_test PARENT_DIR   (a new store in it, removed at the end)
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query.h"

#define NSER 96
#define NPTS 800
#define STEP_MS 15000

static struct store *st;
static int failures;
static pthread_mutex_t fmu = PTHREAD_MUTEX_INITIALIZER;

static const char *queries[] = {
	"rate(ctr[5m])",
	"sum by (city) (increase(ctr[10m]))",
	"avg_over_time(g[15m])",
	"max_over_time(g[20m])",
	"predict_linear(g[10m], 3600)",
	"max_over_time(rate(ctr[5m])[30m:1m])",
	"ctr",
	"timestamp(g)",
	/* aggregations fed series by series (eval.c's agg_sink) */
	"sum by (city) (rate(ctr[5m]))",
	"avg by (city) (g)",
	"stddev without (inst) (avg_over_time(g[10m]))",
};

static void fail(const char *fmt, const char *q, unsigned th)
{
	pthread_mutex_lock(&fmu);
	fprintf(stderr, fmt, q, th);
	fputc('\n', stderr);
	failures++;
	pthread_mutex_unlock(&fmu);
}

static struct query_result *ask(const char *q, bool range, unsigned th)
{
	struct query_opts o = {.threads = th};
	struct query_result *r = NULL;
	struct query_error e = {0};
	int rc = range ? query_range(st, &o, q, 600000, 11000000, 60000, &r, &e)
		       : query_instant(st, &o, q, 9000000, &r, &e);
	if (rc != 0) {
		fail("%s with %u threads failed", q, th);
		query_error_clear(&e);
		return NULL;
	}
	return r;
}

static bool same(const struct query_result *a, const struct query_result *b)
{
	if (a->type != b->type || a->nseries != b->nseries)
		return false;
	for (size_t i = 0; i < a->nseries; i++) {
		const struct query_series *x = &a->series[i], *y = &b->series[i];
		if (x->nlabels != y->nlabels || x->n != y->n ||
		    (x->n && memcmp(x->pts, y->pts, x->n * sizeof *x->pts) != 0))
			return false;
		for (size_t l = 0; l < x->nlabels; l++)
			if (strcmp(x->labels[l].value, y->labels[l].value) != 0)
				return false;
	}
	return true;
}

static void *client(void *arg)
{
	size_t first = (size_t)(uintptr_t)arg;
	for (size_t k = 0; k < sizeof queries / sizeof *queries; k++) {
		const char *q = queries[(first + k) % (sizeof queries / sizeof *queries)];
		for (int range = 0; range < 2; range++) {
			struct query_result *a = ask(q, range, 1), *b = ask(q, range, 4);
			if (a && b && !same(a, b))
				fail("%s: 1 and %u threads differ", q, 4);
			query_result_free(a);
			query_result_free(b);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct store_opts so = {0};
	char *cause = NULL;
	pthread_t th[4];
	char dir[512], rm[600];
	if (argc != 2) {
		fprintf(stderr, "usage: query_threads_test PARENT_DIR\n");
		return 2;
	}
	snprintf(dir, sizeof dir, "%s/qthreads-XXXXXX", argv[1]);
	if (!mkdtemp(dir)) {
		perror(dir);
		return 1;
	}
	so.path = dir;
	so.no_sync = true;
	if (store_open(&so, &st, &cause) != 0) {
		fprintf(stderr, "store_open: %s\n", cause);
		return 1;
	}
	query__par_alone_ns = 0;
	for (int k0 = 0; k0 < NPTS; k0 += 100) {
		struct store_batch *b = store_batch_begin(st);
		for (int i = 0; i < NSER; i++) {
			char inst[16];
			const char *city = i % 3 ? "济南" : "青岛";
			snprintf(inst, sizeof inst, "i%03d", i);
			for (int k = k0; k < k0 + 100; k++) {
				int64_t t = (int64_t)k * STEP_MS + (i * 7919) % 1000;
				struct pw_label c[3] = {{"__name__", "ctr"}, {"city", city}, {"inst", inst}};
				struct pw_label g[3] = {{"__name__", "g"}, {"city", city}, {"inst", inst}};
				double v = (double)((k % (200 + i)) * (i + 1));
				if (i % 7 == 0 && k == 400)
					v = store_stale_nan();
				if (store_batch_put(b, c, 3, t, v) != 0 ||
				    store_batch_put(b, g, 3, t, sin((double)k / 30 + i) * 10) != 0)
					return 1;
			}
		}
		if (store_batch_commit(b, &cause) != 0) {
			fprintf(stderr, "commit: %s\n", cause);
			return 1;
		}
	}
	for (size_t i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, client, (void *)(uintptr_t)(i * 2));
	for (size_t i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* limits stop a threaded evaluation: its helpers are joined and freed */
	{
		struct query_opts o = {.threads = 4, .max_bytes = 1 << 16};
		struct query_result *r = NULL;
		struct query_error e = {0};
		if (query_range(st, &o, "max_over_time(g[20m])", 600000, 11000000, 60000, &r, &e) == 0)
			fail("%s with %u threads: no memory error", "max_over_time", 4);
		query_error_clear(&e);
		o.max_bytes = 0;
		o.max_samples = 5000;
		if (query_range(st, &o, "rate(ctr[5m])", 600000, 11000000, 60000, &r, &e) == 0)
			fail("%s with %u threads: no samples error", "rate", 4);
		query_error_clear(&e);
	}
	store_close(st);
	snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
	if (system(rm) != 0)
		failures++;
	if (failures)
		return 1;
	printf("query threads: %zu queries x 2 kinds x 4 clients, 1 and 4 threads equal\n",
	       sizeof queries / sizeof *queries);
	return 0;
}
