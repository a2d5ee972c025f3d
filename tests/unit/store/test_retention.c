/* Retention (store/retention.c): samples older than the cutoff go, newer
 * ones stay exactly, emptied series leave the index, and writes go on. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

#include "../test_dir.h"
#include "store.h"

static char dir[64];
static struct store *st;

static void setup(void)
{
	struct store_opts o = {.no_sync = true};
	char *cause = NULL;
	snprintf(dir, sizeof dir, "/tmp/pw-ret-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	o.path = dir;
	cr_assert_eq(store_open(&o, &st, &cause), 0, "%s", cause);
}

static void teardown(void)
{
	store_close(st);
	test_dir_remove(dir);
}

TestSuite(retention, .init = setup, .fini = teardown);

static size_t count(const char *metric, int64_t *first)
{
	struct store_snap *snap;
	struct store_matcher m;
	struct store_series *ss;
	size_t n, total = 0;
	store_snap_begin(st, &snap);
	store_matcher_init(&m, STORE_MATCH_EQ, "__name__", metric, NULL);
	store_select(snap, &m, 1, INT64_MIN, INT64_MAX, false, &ss, &n);
	struct store_iter *it = store_iter_new(snap);
	*first = INT64_MAX;
	for (size_t i = 0; i < n; i++) {
		int64_t t;
		double v;
		store_iter_seek(it, ss[i].id, INT64_MIN, INT64_MAX);
		while (store_iter_next(it, &t, &v) == 1) {
			if (t < *first)
				*first = t;
			total++;
		}
	}
	store_iter_free(it);
	free(ss);
	store_matcher_free(&m);
	store_snap_end(snap);
	return total;
}

Test(retention, drops_exactly_the_old_samples)
{
	struct store_batch *b = store_batch_begin(st);
	for (int s = 0; s < 20; s++) {
		char lab[16];
		snprintf(lab, sizeof lab, "%d", s);
		struct pw_label ls[2] = {{"__name__", "kept"}, {"unit", lab}};
		for (int i = 0; i < 1000; i++)
			store_batch_put(b, ls, 2, 1000LL * i, i);
		struct pw_label old[2] = {{"__name__", "gone"}, {"unit", lab}};
		for (int i = 0; i < 100; i++)
			store_batch_put(b, old, 2, 1000LL * i, i);
	}
	char *cause = NULL;
	cr_assert_eq(store_batch_commit(b, &cause), 0, "%s", cause);
	uint64_t dropped = 0;
	cr_assert_eq(store_retention(st, 500500, &dropped, &cause), 0, "%s", cause);
	cr_expect_eq(dropped, 20 * 501 + 20 * 100);
	int64_t first;
	cr_expect_eq(count("kept", &first), 20 * 499);
	cr_expect_eq(first, 501000);
	cr_expect_eq(count("gone", &first), 0);
	struct store_stats s;
	store_stats(st, &s);
	cr_expect_eq(s.series, 20, "emptied series are removed");
	cr_expect_eq(s.samples, 20 * 499);
	/* a removed series can be written again, and new writes work */
	b = store_batch_begin(st);
	struct pw_label again[2] = {{"__name__", "gone"}, {"unit", "3"}};
	store_batch_put(b, again, 2, 2000000, 1);
	cr_assert_eq(store_batch_commit(b, &cause), 0, "%s", cause);
	cr_expect_eq(count("gone", &first), 1);
	store_stats(st, &s);
	cr_expect_eq(s.series, 21);
	/* label values no longer list what retention removed */
	struct store_snap *snap;
	const char **v;
	size_t n;
	store_snap_begin(st, &snap);
	store_label_values(snap, "__name__", NULL, 0, INT64_MIN, INT64_MAX, &v, &n);
	cr_expect_eq(n, 2);
	free(v);
	store_snap_end(snap);
}
