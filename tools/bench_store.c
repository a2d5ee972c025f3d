/*
 * bench_store — the store benchmark (issue 2). Generates a deterministic
 * dataset shaped like the programme's KPIs (counters and slowly moving
 * gauges per institution, 15 s step) and measures, on pacewatch's store:
 * ingest in scrape order (one batch per timestamp) through the store API
 * and through the text import path, ingest in backfill order (one batch
 * per series), bytes on disk per sample, full-range reads, and the latest
 * sample of every series. With --vm-url it sends the same text to
 * VictoriaMetrics' /api/v1/import/prometheus in the same batches; with
 * --om-out it writes the same data as OpenMetrics for promtool.
 *
 * Not a test: it prints figures. tools/bench-store runs it side by side.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector.h"
#include "common.h"
#include "store.h"

static long nseries = 10000, nsamples = 1000;
static bool no_sync; /* --no-sync: storage.sync=false (no fsync per commit) */
static long backfill_series; /* series per backfill batch */
static int64_t t0;

static const char *const families[] = {
	"mr_recognitions_total", "hotline_calls_offered_total", "dialysis_sessions_total",
	"mr_items_recognised",   "mr_recognition_ratio",        "hotline_seats_staffed",
};
static const char *const cities[] = {"济南", "青岛", "淄博", "枣庄", "东营", "烟台",
				     "潍坊", "济宁", "泰安", "威海", "日照", "临沂",
				     "德州", "聊城", "滨州", "菏泽"};

struct ser {
	char name[40], city[16], county[24], inst[32];
	double v;
	uint64_t rng;
};
static struct ser *ser;

static uint64_t xs(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void gen_init(void)
{
	free(ser);
	ser = calloc((size_t)nseries, sizeof *ser);
	for (long i = 0; i < nseries; i++) {
		struct ser *s = &ser[i];
		int f = (int)(i % 6);
		s->rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
		snprintf(s->name, sizeof s->name, "%.39s", families[f]);
		snprintf(s->city, sizeof s->city, "%s", cities[(i / 6) % 16]);
		snprintf(s->county, sizeof s->county, "%04ld", (i / 6) % 137);
		snprintf(s->inst, sizeof s->inst, "inst-%06ld", i / 6);
		switch (f) {
		case 0: case 1: case 2: s->v = (double)(xs(&s->rng) % 1000000); break;
		case 3: s->v = 150 + (double)(xs(&s->rng) % 150); break;
		case 4: s->v = (double)(xs(&s->rng) % 10000) / 10000; break;
		default: s->v = 2 + (double)(xs(&s->rng) % 4); break;
		}
	}
}

/* Advance series i to sample j; returns (ts, value). */
static void gen_next(long i, long j, int64_t *ts, double *v)
{
	struct ser *s = &ser[i];
	uint64_t r = xs(&s->rng);
	int f = (int)(i % 6);
	*ts = t0 + j * 15000 + (int64_t)(r % 50); /* scrape jitter of a few ms */
	if (j > 0) {
		switch (f) {
		case 0: case 1: case 2: s->v += (double)((r >> 8) % 20); break;
		case 3: if ((r >> 8) % 200 == 0) s->v += 1; break;
		case 4: if ((r >> 8) % 20 == 0) s->v = (double)((r >> 16) % 10000) / 10000; break;
		default: if ((r >> 8) % 500 == 0) s->v = 2 + (double)((r >> 16) % 4); break;
		}
	}
	*v = s->v;
}

static void labels_of(long i, struct pw_label ls[4])
{
	ls[0].name = "__name__"; ls[0].value = ser[i].name;
	ls[1].name = "city"; ls[1].value = ser[i].city;
	ls[2].name = "county"; ls[2].value = ser[i].county;
	ls[3].name = "institution"; ls[3].value = ser[i].inst;
}

static void line_of(struct pw_buf *b, long i, int64_t ts, double v)
{
	char num[64];
	pw_fmt_float(num, sizeof num, v, PW_FMT_PROM);
	pw_buf_printf(b, "%s{city=\"%s\",county=\"%s\",institution=\"%s\"} %s %lld\n", ser[i].name,
		      ser[i].city, ser[i].county, ser[i].inst, num, (long long)ts);
}

static double secs(int64_t a, int64_t b) { return (double)(b - a) / 1e9; }

static double cpu_self(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static struct store *open_store(const char *dir)
{
	struct store_opts o = {.path = dir, .no_sync = no_sync};
	struct store *s;
	char *cause = NULL;
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s-backup'", dir, dir);
	if (system(cmd) != 0 || store_open(&o, &s, &cause) != 0) {
		fprintf(stderr, "bench: open %s: %s\n", dir, cause);
		exit(1);
	}
	return s;
}

static void commit_or_die(struct store_batch *b)
{
	char *cause = NULL;
	if (store_batch_commit(b, &cause) != 0) {
		fprintf(stderr, "bench: commit: %s\n", cause);
		exit(1);
	}
}

static void report_size(const char *what, struct store *s, const char *dir)
{
	struct store_stats st;
	char bk[600], *cause = NULL;
	struct stat sb;
	store_stats(s, &st);
	/* the compacted hot backup: the same data without free pages */
	snprintf(bk, sizeof bk, "%s-backup", dir);
	if (store_backup(s, bk, &cause) != 0) {
		fprintf(stderr, "bench: backup: %s\n", cause);
		exit(1);
	}
	snprintf(bk, sizeof bk, "%s-backup/data.mdb", dir);
	stat(bk, &sb);
	printf("%-44s %12.3f bytes/sample (file %llu B; live pages %.3f; compacted backup %.3f)\n",
	       what, (double)st.bytes_file / (double)st.samples, (unsigned long long)st.bytes_file,
	       (double)st.bytes_used / (double)st.samples, (double)sb.st_size / (double)st.samples);
}

static void bench_scrape_api(const char *dir)
{
	struct store *s = open_store(dir);
	struct pw_label ls[4];
	int64_t a, ts;
	double v, c0 = cpu_self();

	gen_init();
	a = pw_mono_ns();
	for (long j = 0; j < nsamples; j++) {
		struct store_batch *b = store_batch_begin(s);
		for (long i = 0; i < nseries; i++) {
			gen_next(i, j, &ts, &v);
			labels_of(i, ls);
			store_batch_put(b, ls, 4, ts, v);
		}
		commit_or_die(b);
	}
	double t = secs(a, pw_mono_ns());
	printf("%-44s %12.0f samples/s (%.2f s, %.2f CPU s)\n", "pacewatch ingest, scrape order, store API",
	       (double)(nseries * nsamples) / t, t, cpu_self() - c0);
	report_size("pacewatch bytes on disk (scrape order)", s, dir);
	store_close(s);
}

static void bench_scrape_text(const char *dir)
{
	struct store *s = open_store(dir);
	struct pw_buf b;
	int64_t ts, total = 0;
	double v;

	gen_init();
	pw_buf_init(&b, 0);
	for (long j = 0; j < nsamples; j++) {
		struct pt_error err;
		size_t n;
		int64_t a;
		pw_buf_reset(&b);
		for (long i = 0; i < nseries; i++) {
			gen_next(i, j, &ts, &v);
			line_of(&b, i, ts, v);
		}
		a = pw_mono_ns();
		if (collector_import_text(s, b.data, b.len, 0, NULL, 0, &n, &err) != 0) {
			fprintf(stderr, "bench: import: %zu:%zu %s\n", err.line, err.col, err.msg);
			exit(1);
		}
		total += pw_mono_ns() - a;
	}
	printf("%-44s %12.0f samples/s (%.2f s of parse+store)\n",
	       "pacewatch ingest, scrape order, text import", (double)(nseries * nsamples) / (total / 1e9),
	       total / 1e9);
	pw_buf_free(&b);
	store_close(s);
}

static void bench_backfill_api(const char *dir)
{
	struct store *s = open_store(dir);
	struct pw_label ls[4];
	int64_t a, ts;
	double v;

	gen_init();
	/* series by series, each series' samples in time order; batches of
	 * whole series holding at least as many samples as a scrape batch */
	a = pw_mono_ns();
	for (long i = 0; i < nseries;) {
		struct store_batch *b = store_batch_begin(s);
		for (long k = 0; k < backfill_series && i < nseries; k++, i++) {
			labels_of(i, ls);
			for (long j = 0; j < nsamples; j++) {
				gen_next(i, j, &ts, &v);
				store_batch_put(b, ls, 4, ts, v);
			}
		}
		commit_or_die(b);
	}
	double t = secs(a, pw_mono_ns());
	printf("%-44s %12.0f samples/s (%.2f s, %ld series per batch)\n",
	       "pacewatch ingest, backfill order, store API", (double)(nseries * nsamples) / t, t,
	       backfill_series);
	report_size("pacewatch bytes on disk (backfill order)", s, dir);
	store_close(s);
}

static int latest_cb(void *ctx, const struct store_series *s, int64_t ts, double v)
{
	struct pw_label ls[8];
	long *n = ctx;
	(void)ts;
	(void)v;
	store_series_labels(s, ls, 8); /* what /metrics does per series */
	(*n)++;
	return 0;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void bench_reads(const char *dir)
{
	struct store_opts o = {.path = dir, .read_only = true};
	struct store *s;
	struct store_snap *snap;
	struct store_series *ss;
	size_t n;
	char *cause = NULL;
	int64_t a;
	double lat[7];
	long total = 0;

	if (store_open(&o, &s, &cause) != 0) {
		fprintf(stderr, "bench: %s\n", cause);
		exit(1);
	}
	store_snap_begin(s, &snap);
	a = pw_mono_ns();
	store_select(snap, NULL, 0, INT64_MIN, INT64_MAX, false, &ss, &n);
	struct store_iter *it = store_iter_new(snap);
	/* read by runs, as the query engine reads (store_iter_read) */
	int64_t tsb[256];
	double vb[256];
	for (size_t i = 0; i < n; i++) {
		int got;
		store_iter_seek(it, ss[i].id, INT64_MIN, INT64_MAX);
		while ((got = store_iter_read(it, tsb, vb, 256)) > 0)
			total += got;
	}
	double t = secs(a, pw_mono_ns());
	printf("%-44s %12.0f samples/s (%ld samples in %.2f s)\n", "pacewatch full-range read",
	       (double)total / t, total, t);
	/* an hour of each series at a time of its history: what a dashboard's
	 * short range costs when it is not in the head (a whole segment or
	 * block is decoded for a part of it) */
	{
		uint64_t r = 12345;
		long got = 0;
		a = pw_mono_ns();
		for (int rep = 0; rep < 3; rep++)
			for (size_t i = 0; i < n; i++) {
				r ^= r << 13; r ^= r >> 7; r ^= r << 17;
				int64_t from = t0 + (int64_t)(r % (uint64_t)(nsamples * 15000 * 3 / 4));
				int k;
				store_iter_seek(it, ss[i].id, from, from + 3600000);
				while ((k = store_iter_read(it, tsb, vb, 256)) > 0)
					got += k;
			}
		t = secs(a, pw_mono_ns());
		printf("%-44s %12.1f us per series (%ld samples, %zu reads)\n",
		       "pacewatch one-hour read in history", t * 1e6 / (double)(3 * n), got, 3 * n);
	}
	store_iter_free(it);
	free(ss);
	store_snap_end(snap);
	for (int r = 0; r < 7; r++) {
		long cnt = 0;
		a = pw_mono_ns();
		store_snap_begin(s, &snap);
		store_scan_latest(snap, latest_cb, &cnt);
		store_snap_end(snap);
		lat[r] = secs(a, pw_mono_ns()) * 1000;
		if (cnt != nseries) {
			fprintf(stderr, "bench: latest saw %ld series\n", cnt);
			exit(1);
		}
	}
	qsort(lat, 7, sizeof lat[0], dcmp);
	printf("%-44s %12.2f ms median of 7 (min %.2f, max %.2f) for %ld series\n",
	       "pacewatch latest sample of every series", lat[3], lat[0], lat[6], nseries);
	store_close(s);
}

/* ---- VictoriaMetrics ---------------------------------------------------- */

static size_t sink(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

static void post(CURL *c, const char *url, const char *body, size_t len)
{
	long code = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	if (curl_easy_perform(c) != CURLE_OK ||
	    (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code), code / 100 != 2)) {
		fprintf(stderr, "bench: POST %s failed (HTTP %ld)\n", url, code);
		exit(1);
	}
}

static double proc_cpu(long pid)
{
	char path[64], buf[1024];
	FILE *f;
	unsigned long ut = 0, st = 0;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "r")) || !fgets(buf, sizeof buf, f)) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	/* fields 14 and 15 after the ")" of the command name */
	char *p = strrchr(buf, ')');
	int field = 2;
	for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
		field++;
		if (field == 14) ut = strtoul(tok, NULL, 10);
		if (field == 15) { st = strtoul(tok, NULL, 10); break; }
	}
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void bench_vm(const char *base, long pid, bool backfill)
{
	CURL *c = curl_easy_init();
	char url[512];
	struct pw_buf b;
	int64_t ts, total = 0, a;
	double v, cpu0 = proc_cpu(pid);

	snprintf(url, sizeof url, "%s/api/v1/import/prometheus", base);
	gen_init();
	pw_buf_init(&b, 0);
	if (!backfill) {
		for (long j = 0; j < nsamples; j++) {
			pw_buf_reset(&b);
			for (long i = 0; i < nseries; i++) {
				gen_next(i, j, &ts, &v);
				line_of(&b, i, ts, v);
			}
			a = pw_mono_ns();
			post(c, url, b.data, b.len);
			total += pw_mono_ns() - a;
		}
	} else {
		for (long i = 0; i < nseries;) {
			pw_buf_reset(&b);
			for (long k = 0; k < backfill_series && i < nseries; k++, i++) {
				for (long j = 0; j < nsamples; j++) {
					gen_next(i, j, &ts, &v);
					line_of(&b, i, ts, v);
				}
			}
			a = pw_mono_ns();
			post(c, url, b.data, b.len);
			total += pw_mono_ns() - a;
		}
	}
	/* make the data durable and searchable, as our commit does */
	snprintf(url, sizeof url, "%s/internal/force_flush", base);
	a = pw_mono_ns();
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_perform(c);
	total += pw_mono_ns() - a;
	printf("%-44s %12.0f samples/s (%.2f s incl. force_flush, VM CPU %.2f s)\n",
	       backfill ? "VictoriaMetrics import, backfill order" : "VictoriaMetrics import, scrape order",
	       (double)(nseries * nsamples) / (total / 1e9), total / 1e9, proc_cpu(pid) - cpu0);
	pw_buf_free(&b);
	curl_easy_cleanup(c);
}

static void write_openmetrics(const char *path)
{
	FILE *f = fopen(path, "w");
	int64_t ts;
	double v;
	char num[64];

	if (!f) {
		perror(path);
		exit(1);
	}
	gen_init();
	/* OpenMetrics wants each family contiguous: family by family */
	for (int fam = 0; fam < 6; fam++) {
		fprintf(f, "# TYPE %s gauge\n", families[fam]);
		for (long i = fam; i < nseries; i += 6) {
			for (long j = 0; j < nsamples; j++) {
				gen_next(i, j, &ts, &v);
				pw_fmt_float(num, sizeof num, v, PW_FMT_PROM);
				fprintf(f, "%s{city=\"%s\",county=\"%s\",institution=\"%s\"} %s %lld.%03lld\n",
					ser[i].name, ser[i].city, ser[i].county, ser[i].inst, num,
					(long long)(ts / 1000), (long long)(ts % 1000));
			}
		}
	}
	fprintf(f, "# EOF\n");
	fclose(f);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"series", required_argument, 0, 'n'}, {"samples", required_argument, 0, 'm'},
		{"dir", required_argument, 0, 'd'},    {"vm-url", required_argument, 0, 'v'},
		{"vm-pid", required_argument, 0, 'p'}, {"om-out", required_argument, 0, 'o'},
		{"only", required_argument, 0, 'y'},   {"no-sync", no_argument, 0, 'S'},
		{0, 0, 0, 0}};
	const char *dir = "bench-out/store", *vm = NULL, *om = NULL, *only = "all";
	long vm_pid = 0;
	char path[600];
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': nseries = atol(optarg); break;
		case 'm': nsamples = atol(optarg); break;
		case 'd': dir = optarg; break;
		case 'v': vm = optarg; break;
		case 'p': vm_pid = atol(optarg); break;
		case 'o': om = optarg; break;
		case 'y': only = optarg; break;
		case 'S': no_sync = true; break;
		default: return 2;
		}
	}
	pw_log_set_level(PW_LOG_WARN);
	backfill_series = (nseries + nsamples - 1) / nsamples;
	if (backfill_series < 1)
		backfill_series = 1;
	/* data ends now, so every peer keeps it within retention */
	t0 = (pw_now_ms() / 15000) * 15000 - nsamples * 15000;
	printf("dataset: %ld series x %ld samples = %ld samples, 15 s step%s\n", nseries, nsamples,
	       nseries * nsamples, no_sync ? "; store without fsync per commit" : "");
	mkdir(dir, 0755);
	if (strcmp(only, "scrape") == 0) { /* one part alone, for profiling */
		snprintf(path, sizeof path, "%s/scrape", dir);
		bench_scrape_api(path);
	}
	if (strcmp(only, "reads") == 0) { /* the reads alone, of a store written before */
		snprintf(path, sizeof path, "%s/scrape", dir);
		bench_reads(path);
	}
	if (strcmp(only, "text") == 0) {
		snprintf(path, sizeof path, "%s/text", dir);
		bench_scrape_text(path);
	}
	if (strcmp(only, "all") == 0 || strcmp(only, "pacewatch") == 0) {
		snprintf(path, sizeof path, "%s/scrape", dir);
		bench_scrape_api(path);
		bench_reads(path);
		snprintf(path, sizeof path, "%s/text", dir);
		bench_scrape_text(path);
		snprintf(path, sizeof path, "%s/backfill", dir);
		bench_backfill_api(path);
	}
	if (vm) {
		bool backfill = strcmp(only, "vm-backfill") == 0;
		curl_global_init(CURL_GLOBAL_DEFAULT);
		bench_vm(vm, vm_pid, backfill);
	}
	if (om)
		write_openmetrics(om);
	return 0;
}
