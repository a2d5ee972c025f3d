/*
 * crash_test — whatever a commit reported survives kill -9, and no batch
 * is ever half there. A child commits numbered batches (new series, an
 * appended series, an out-of-order one, and one that mostly appends, so
 * goes to the recent-samples log, but every fifth batch goes behind it,
 * so the log is folded, and 300 samples a batch of values without a
 * decimal form, so that every batch fills and seals format 4's blocks
 * and the kills land among those writes too) and reports each commit through
 * a pipe; the parent SIGKILLs it at random moments, reopens the store and
 * checks every reported batch completely and every present batch whole.
 * Usage: crash_test DIR ROUNDS
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define PARTS 50

static struct store *open_or_die(const char *dir)
{
	struct store_opts o = {.path = dir, .initial_map_size = 1 << 20};
	struct store *s;
	char *cause = NULL;
	int rc = store_open(&o, &s, &cause);
	if (rc) {
		fprintf(stderr, "crash_test: open %s: %s\n", dir, cause);
		exit(2);
	}
	return s;
}

static int64_t zigzag_ts(long k)
{
	return 1000000 + k * 1000 - (k % 5 == 4 ? 1500 : 0);
}

/* batch k's j-th sample of crash_blocks: k and a fraction with no decimal
 * form, so (long) gives k back */
#define BLOCKS_PER_BATCH 300 /* more than a block of such values holds */
static double blocks_value(long k, int j) { return (double)k + (double)(j + 1) / 999.0 / 3.0; }

static void child(const char *dir, int fd, long start)
{
	struct store *s = open_or_die(dir);
	for (long k = start;; k++) {
		struct store_batch *b = store_batch_begin(s);
		char bl[32], pl[32];
		char *cause = NULL;
		snprintf(bl, sizeof bl, "%ld", k);
		for (int j = 0; j < PARTS; j++) {
			snprintf(pl, sizeof pl, "%d", j);
			struct pw_label ls[3] = {{"__name__", "crash_part"}, {"batch", bl}, {"part", pl}};
			store_batch_put(b, ls, 3, k, (double)(k * 100 + j));
		}
		struct pw_label app[1] = {{"__name__", "crash_append"}};
		store_batch_put(b, app, 1, 1000000 + k * 1000, (double)k);
		struct pw_label ooo[1] = {{"__name__", "crash_backwards"}};
		store_batch_put(b, ooo, 1, 100000000 - k * 7, (double)k);
		struct pw_label zz[1] = {{"__name__", "crash_zigzag"}};
		store_batch_put(b, zz, 1, zigzag_ts(k), (double)k);
		struct pw_label bl8[1] = {{"__name__", "crash_blocks"}};
		for (int j = 0; j < BLOCKS_PER_BATCH; j++)
			store_batch_put(b, bl8, 1, k * BLOCKS_PER_BATCH + j, blocks_value(k, j));
		if (store_batch_commit(b, &cause) != 0) {
			fprintf(stderr, "crash_test child: commit: %s\n", cause);
			_exit(3);
		}
		if (write(fd, &k, sizeof k) != sizeof k)
			_exit(4);
	}
}

/* Read the store once: parts[k] = how many of batch k's series hold their
 * correct sample; app[k]/back[k] = whether the shared series hold batch k's
 * sample with the right value. */
static void scan(struct store_snap *snap, long cap, int *parts, char *app, char *back, char *zig,
		 int *blk)
{
	struct store_matcher m;
	struct store_series *ss;
	size_t n;
	struct store_iter *it = store_iter_new(snap);
	int64_t t;
	double v;

	memset(parts, 0, (size_t)cap * sizeof *parts);
	memset(app, 0, (size_t)cap);
	memset(back, 0, (size_t)cap);
	memset(zig, 0, (size_t)cap);
	memset(blk, 0, (size_t)cap * sizeof *blk);
	store_matcher_init(&m, STORE_MATCH_RE, "__name__", "crash_.*", NULL);
	if (store_select(snap, &m, 1, INT64_MIN, INT64_MAX, false, &ss, &n) != 0)
		exit(2);
	for (size_t i = 0; i < n; i++) {
		const char *name = store_series_label(&ss[i], "__name__");
		store_iter_seek(it, ss[i].id, INT64_MIN, INT64_MAX);
		if (strcmp(name, "crash_part") == 0) {
			long k = atol(store_series_label(&ss[i], "batch"));
			int j = atoi(store_series_label(&ss[i], "part"));
			if (store_iter_next(it, &t, &v) == 1 && t == k && v == (double)(k * 100 + j) &&
			    k < cap)
				parts[k]++;
			continue;
		}
		while (store_iter_next(it, &t, &v) == 1) {
			long k = (long)v;
			if (k < 0 || k >= cap)
				continue;
			if (strcmp(name, "crash_append") == 0 && t == 1000000 + k * 1000)
				app[k] = 1;
			if (strcmp(name, "crash_backwards") == 0 && t == 100000000 - k * 7)
				back[k] = 1;
			if (strcmp(name, "crash_zigzag") == 0 && t == zigzag_ts(k))
				zig[k] = 1;
			if (strcmp(name, "crash_blocks") == 0 && t / BLOCKS_PER_BATCH == k &&
			    v == blocks_value(k, (int)(t % BLOCKS_PER_BATCH)))
				blk[k]++;
		}
	}
	store_iter_free(it);
	free(ss);
	store_matcher_free(&m);
}

int main(int argc, char **argv)
{
	const char *dir;
	int rounds;
	long max_reported = -1;
	long *reported;
	size_t nrep = 0, caprep = 1024;
	unsigned seed = (unsigned)time(NULL);

	if (argc != 3) {
		fprintf(stderr, "usage: crash_test DIR ROUNDS\n");
		return 2;
	}
	dir = argv[1];
	rounds = atoi(argv[2]);
	{
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return 2;
	}
	if (getenv("CRASH_SEED"))
		seed = (unsigned)atoi(getenv("CRASH_SEED"));
	srand(seed);
	printf("crash_test: seed %u (set CRASH_SEED to repeat)\n", seed);
	reported = malloc(caprep * sizeof *reported);

	for (int r = 0; r < rounds; r++) {
		int p[2];
		pid_t pid;
		long k;
		struct timespec ts = {0, (long)(1 + rand() % 60) * 1000000L};

		if (pipe(p) != 0)
			return 2;
		pid = fork();
		if (pid == 0) {
			close(p[0]);
			child(dir, p[1], max_reported + 1);
		}
		close(p[1]);
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		while (read(p[0], &k, sizeof k) == sizeof k) {
			if (nrep == caprep)
				reported = realloc(reported, (caprep *= 2) * sizeof *reported);
			reported[nrep++] = k;
			if (k > max_reported)
				max_reported = k;
		}
		close(p[0]);

		/* verify */
		struct store *s = open_or_die(dir);
		struct store_snap *snap;
		long cap = max_reported + 1000000;
		int *parts = malloc((size_t)cap * sizeof *parts);
		char *app = malloc((size_t)cap), *back = malloc((size_t)cap), *zig = malloc((size_t)cap);
		int *blk = malloc((size_t)cap * sizeof *blk);
		if (store_snap_begin(s, &snap) != 0)
			return 2;
		scan(snap, cap, parts, app, back, zig, blk);
		for (size_t i = 0; i < nrep; i++) {
			k = reported[i];
			if (parts[k] != PARTS || !app[k] || !back[k] || !zig[k] || blk[k] != BLOCKS_PER_BATCH) {
				printf("FAIL round %d: reported batch %ld lost data (%d of %d parts, "
				       "append %d, backwards %d, zigzag %d, blocks %d of 300)\n",
				       r, k, parts[k], PARTS, app[k], back[k], zig[k], blk[k]);
				printf("0 passed, 1 failed\n");
				return 1;
			}
		}
		/* no partial batch: a batch present at all is present whole */
		for (long bk = 0; bk < cap; bk++) {
			if ((parts[bk] || app[bk] || back[bk] || zig[bk] || blk[bk]) &&
			    (parts[bk] != PARTS || !app[bk] || !back[bk] || !zig[bk] || blk[bk] != BLOCKS_PER_BATCH)) {
				printf("FAIL round %d: batch %ld is partial (%d of %d parts, append %d, "
				       "backwards %d, zigzag %d, blocks %d of 300)\n",
				       r, bk, parts[bk], PARTS, app[bk], back[bk], zig[bk], blk[bk]);
				printf("0 passed, 1 failed\n");
				return 1;
			}
		}
		free(parts);
		free(app);
		free(back);
		free(zig);
		free(blk);
		store_snap_end(snap);
		store_close(s);
	}
	printf("crash_test: %d kills, %zu reported batches (max %ld), all intact\n", rounds, nrep,
	       max_reported);
	printf("1 passed, 0 failed\n");
	free(reported);
	return 0;
}
