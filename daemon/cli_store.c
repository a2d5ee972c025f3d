/*
 * cli_store.c — the store subcommands: import, dump, backup, stats,
 * retention. Errors go to stderr as "pacewatch: WHERE: WHAT" and the exit
 * status is 1 (2 for usage errors).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collector.h"
#include "common.h"
#include "daemon.h"
#include "query.h"
#include "store.h"

struct common_opts {
	const char *storage;
	uint64_t max_size;
};

/* How a command opens its store: import may create one; the commands that
 * maintain a store write to one that exists; the others only read (beside
 * a running daemon, which holds the writer lock). */
enum open_mode { OPEN_CREATE, OPEN_WRITE, OPEN_READ };

static int open_store(const struct common_opts *o, enum open_mode mode, struct store **s)
{
	struct store_opts so = {0};
	char *cause = NULL;
	int rc;

	if (!o->storage) {
		fprintf(stderr, "pacewatch: --storage DIR is required\n");
		return 2;
	}
	so.path = o->storage;
	so.max_map_size = o->max_size;
	so.read_only = mode == OPEN_READ;
	so.must_exist = mode != OPEN_CREATE;
	rc = store_open(&so, s, &cause);
	if (rc) {
		fprintf(stderr, "pacewatch: %s\n", cause ? cause : pw_strerror(rc));
		free(cause);
		return 1;
	}
	return 0;
}

static int parse_common(int c, struct common_opts *o)
{
	switch (c) {
	case 's': o->storage = optarg; return 0;
	case 'M':
		if (pw_parse_size(optarg, &o->max_size) != 0) {
			fprintf(stderr, "pacewatch: --max-size: invalid size \"%s\" (e.g. 8GiB)\n",
				optarg);
			return 2;
		}
		return 0;
	default: return 2;
	}
}

int cmd_import(int argc, char **argv)
{
	static const struct option lo[] = {{"storage", required_argument, 0, 's'},
					   {"max-size", required_argument, 0, 'M'},
					   {"label", required_argument, 0, 'l'},
					   {0, 0, 0, 0}};
	struct common_opts o = {0};
	struct pw_label extra[32];
	size_t nextra = 0;
	struct store *s = NULL;
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:M:l:", lo, NULL)) != -1) {
		if (c == 'l') {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || nextra == 32) {
				fprintf(stderr, "pacewatch: --label wants NAME=VALUE, got \"%s\"\n",
					optarg);
				return 2;
			}
			*eq = '\0';
			extra[nextra].name = optarg;
			extra[nextra++].value = eq + 1;
			continue;
		}
		if ((rc = parse_common(c, &o)) != 0)
			return rc;
	}
	if (optind >= argc) {
		fprintf(stderr, "pacewatch: import: no FILE given\n");
		return 2;
	}
	if ((rc = open_store(&o, OPEN_CREATE, &s)) != 0)
		return rc;
	for (int i = optind; i < argc; i++) {
		char *buf = NULL;
		size_t len = 0, n = 0;
		struct pt_error err;
		int64_t t0 = pw_mono_ns();

		if ((rc = pw_read_file(argv[i], 0, &buf, &len)) != 0) {
			fprintf(stderr, "pacewatch: %s: %s\n", argv[i], strerror(-rc));
			rc = 1;
			break;
		}
		rc = collector_import_text(s, buf, len, pw_now_ms(), extra, nextra, &n, &err);
		free(buf);
		if (rc) {
			if (err.line)
				fprintf(stderr, "pacewatch: %s:%zu:%zu: %s; nothing of this file was "
						"imported\n",
					argv[i], err.line, err.col, err.msg ? err.msg : pw_strerror(rc));
			else
				fprintf(stderr, "pacewatch: %s: %s; nothing of this file was imported\n",
					argv[i], err.msg ? err.msg : pw_strerror(rc));
			pt_error_clear(&err);
			rc = 1;
			break;
		}
		fprintf(stderr, "pacewatch: %s: imported %zu samples in %.3f s\n", argv[i], n,
			(double)(pw_mono_ns() - t0) / 1e9);
	}
	store_close(s);
	return rc;
}

/* Label values: \\ \" \n escaped, as the text format wants. */
static void put_escaped(FILE *f, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (quote && *s == '"')
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

/* the series the selectors match (all without any): sorted by labels,
 * each once; 0, 2 for a bad selector (printed), or a store error */
static int dump_select(struct store_snap *snap, const char *const *matches, size_t nmatch,
		       int64_t mint, int64_t maxt, struct store_series **out, size_t *nout)
{
	struct store_series *all = NULL;
	size_t nall = 0, u = 0;
	int rc;
	if (nmatch == 0)
		return store_select(snap, NULL, 0, mint, maxt, true, out, nout);
	for (size_t i = 0; i < nmatch; i++) {
		struct store_matcher *m;
		struct store_series *ss;
		size_t nm, ns;
		char *cause = NULL;
		if (query_parse_selector(matches[i], &m, &nm, &cause) != 0) {
			fprintf(stderr, "pacewatch: --match \"%s\": %s\n", matches[i], cause);
			free(cause);
			free(all);
			return 2;
		}
		rc = store_select(snap, m, nm, mint, maxt, false, &ss, &ns);
		query_matchers_free(m, nm);
		if (rc) {
			free(all);
			return rc;
		}
		all = xreallocarray(all, nall + ns + 1, sizeof *all);
		if (ns)
			memcpy(all + nall, ss, ns * sizeof *ss);
		nall += ns;
		free(ss);
	}
	/* the union, sorted by labels, without duplicates */
	if (nall > 1)
		qsort(all, nall, sizeof *all, store_series_cmp);
	for (size_t i = 0; i < nall; i++)
		if (u == 0 || all[u - 1].id != all[i].id)
			all[u++] = all[i];
	*out = all;
	*nout = u;
	return 0;
}

/* # HELP, # TYPE and # UNIT of a metric, as stored */
static void dump_meta(struct store_snap *snap, const char *metric)
{
	struct store_meta meta;
	if (store_meta_get(snap, metric, &meta) != 0)
		return;
	if (meta.help[0]) {
		printf("# HELP %s ", metric);
		put_escaped(stdout, meta.help, false);
		putchar('\n');
	}
	if (meta.type != STORE_TYPE_UNKNOWN)
		printf("# TYPE %s %s\n", metric, store_type_name(meta.type));
	if (meta.unit[0])
		printf("# UNIT %s %s\n", metric, meta.unit);
}

/* one series' samples in [mint, maxt] in the text format (staleness
 * markers cannot be expressed there and are left out) */
static int dump_series(struct store_iter *it, const struct store_series *s,
		       const struct pw_label *ls, size_t nl, int64_t mint, int64_t maxt)
{
	int64_t ts;
	double v;
	char num[64];
	int rc;
	if ((rc = store_iter_seek(it, s->id, mint, maxt)) != 0)
		return rc;
	while ((rc = store_iter_next(it, &ts, &v)) == 1) {
		if (store_is_stale_nan(v))
			continue;
		fputs(ls[0].value, stdout);
		if (nl > 1) {
			putchar('{');
			for (size_t j = 1; j < nl; j++) {
				if (j > 1)
					putchar(',');
				printf("%s=\"", ls[j].name);
				put_escaped(stdout, ls[j].value, true);
				putchar('"');
			}
			putchar('}');
		}
		pw_fmt_float(num, sizeof num, v, PW_FMT_PROM);
		printf(" %s %lld\n", num, (long long)ts);
	}
	return rc < 0 ? rc : 0;
}

int cmd_dump(int argc, char **argv)
{
	static const struct option lo[] = {{"storage", required_argument, 0, 's'},
					   {"match", required_argument, 0, 'm'},
					   {"start", required_argument, 0, 'a'},
					   {"end", required_argument, 0, 'b'},
					   {"timezone", required_argument, 0, 'z'},
					   {0, 0, 0, 0}};
	struct common_opts o = {0};
	const char *matches[64], *ts_start = NULL, *ts_end = NULL, *zone = NULL;
	size_t nmatch = 0;
	int64_t mint = INT64_MIN, maxt = INT64_MAX;
	struct store *s = NULL;
	struct store_snap *snap = NULL;
	struct store_series *all = NULL;
	size_t nall = 0;
	struct store_iter *it = NULL;
	const char *last_metric = NULL;
	char *outbuf = xmalloc(1 << 20);
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:m:a:b:z:", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (nmatch == 64) {
				fprintf(stderr, "pacewatch: at most 64 --match\n");
				rc = 2;
				goto out;
			}
			matches[nmatch++] = optarg;
			break;
		case 'a': ts_start = optarg; break;
		case 'b': ts_end = optarg; break;
		case 'z': zone = optarg; break;
		default:
			if ((rc = parse_common(c, &o)) != 0)
				goto out;
		}
	}
	if ((ts_start && (rc = cli_time("dump", "--start", ts_start, zone, &mint)) != 0) ||
	    (ts_end && (rc = cli_time("dump", "--end", ts_end, zone, &maxt)) != 0))
		goto out;
	if ((rc = open_store(&o, OPEN_READ, &s)) != 0)
		goto out;
	if ((rc = store_snap_begin(s, &snap)) != 0) {
		fprintf(stderr, "pacewatch: %s: %s\n", o.storage, pw_strerror(rc));
		rc = 1;
		goto out;
	}
	if ((rc = dump_select(snap, matches, nmatch, mint, maxt, &all, &nall)) == 2)
		goto out;
	if (rc)
		goto store_fail;
	setvbuf(stdout, outbuf, _IOFBF, 1 << 20);
	it = store_iter_new(snap);
	for (size_t i = 0; i < nall; i++) {
		struct pw_label ls[PT_MAX_LABELS + 1];
		size_t nl = store_series_labels(&all[i], ls, PT_MAX_LABELS + 1);
		if (nl > PT_MAX_LABELS + 1)
			nl = PT_MAX_LABELS + 1;
		if (!last_metric || strcmp(last_metric, ls[0].value) != 0)
			dump_meta(snap, last_metric = ls[0].value);
		if ((rc = dump_series(it, &all[i], ls, nl, mint, maxt)) != 0)
			goto store_fail;
	}
	rc = 0;
	if (fflush(stdout) != 0) {
		fprintf(stderr, "pacewatch: writing output: %s\n", strerror(errno));
		rc = 1;
	}
	goto out;
store_fail:
	fprintf(stderr, "pacewatch: reading %s: %s\n", o.storage, pw_strerror(rc));
	rc = 1;
out:
	store_iter_free(it);
	free(all);
	store_snap_end(snap);
	store_close(s);
	fflush(stdout);
	setvbuf(stdout, NULL, _IOLBF, 0);
	free(outbuf);
	return rc;
}

int cmd_backup(int argc, char **argv)
{
	static const struct option lo[] = {{"storage", required_argument, 0, 's'}, {0, 0, 0, 0}};
	struct common_opts o = {0};
	struct store *s = NULL;
	char *cause = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:", lo, NULL)) != -1)
		if ((rc = parse_common(c, &o)) != 0)
			return rc;
	if (optind != argc - 1) {
		fprintf(stderr, "pacewatch: backup: give exactly one DEST directory\n");
		return 2;
	}
	/* a reader: the copy is one snapshot, taken beside a running writer */
	if ((rc = open_store(&o, OPEN_READ, &s)) != 0)
		return rc;
	rc = store_backup(s, argv[optind], &cause);
	if (rc) {
		fprintf(stderr, "pacewatch: backup: %s\n", cause ? cause : pw_strerror(rc));
		free(cause);
		rc = 1;
	} else {
		fprintf(stderr, "pacewatch: backup of %s written to %s\n", o.storage, argv[optind]);
	}
	store_close(s);
	return rc;
}

int cmd_stats(int argc, char **argv)
{
	static const struct option lo[] = {{"storage", required_argument, 0, 's'}, {0, 0, 0, 0}};
	struct common_opts o = {0};
	struct store *s = NULL;
	struct store_stats st;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:", lo, NULL)) != -1)
		if ((rc = parse_common(c, &o)) != 0)
			return rc;
	if ((rc = open_store(&o, OPEN_READ, &s)) != 0)
		return rc;
	rc = store_stats(s, &st);
	if (rc) {
		fprintf(stderr, "pacewatch: stats: %s\n", pw_strerror(rc));
		store_close(s);
		return 1;
	}
	printf("series        %llu\n", (unsigned long long)st.series);
	printf("samples       %llu\n", (unsigned long long)st.samples);
	printf("chunks        %llu\n", (unsigned long long)st.chunks);
	printf("bytes_file    %llu\n", (unsigned long long)st.bytes_file);
	printf("bytes_used    %llu\n", (unsigned long long)st.bytes_used);
	printf("bytes/sample  %.3f\n",
	       st.samples ? (double)st.bytes_used / (double)st.samples : 0.0);
	printf("map_size      %llu\n", (unsigned long long)st.map_size);
	store_close(s);
	return 0;
}

/* A retention that would drop every sample, or data younger than a day,
 * is more likely a slip (`--older-than 0s`, a store that stopped months
 * ago) than a wish: it is refused unless --force says it is meant. */
#define RETENTION_MIN_AGE_MS 86400000LL

static void print_plan(const struct store_retention_plan *p, int64_t cutoff, bool dry)
{
	char cut[64], newest[64];
	pw_fmt_time(cut, sizeof cut, cutoff);
	if (p->newest != INT64_MIN)
		pw_fmt_time(newest, sizeof newest, p->newest);
	else
		snprintf(newest, sizeof newest, "none");
	printf("%s %llu of %llu samples (those before %s); %llu of %llu series %s left empty and "
	       "removed; the newest sample is from %s%s\n",
	       dry ? "would drop" : "dropping", (unsigned long long)p->samples,
	       (unsigned long long)p->samples_total, cut, (unsigned long long)p->series_emptied,
	       (unsigned long long)p->series, dry ? "would be" : "are", newest,
	       dry ? "; nothing was dropped (--dry-run)" : "");
}

int cmd_retention(int argc, char **argv)
{
	static const struct option lo[] = {{"storage", required_argument, 0, 's'},
					   {"older-than", required_argument, 0, 'o'},
					   {"dry-run", no_argument, 0, 'n'},
					   {"force", no_argument, 0, 'f'},
					   {0, 0, 0, 0}};
	struct common_opts o = {0};
	struct store *s = NULL;
	struct store_retention_plan plan;
	const char *age_text = NULL;
	int64_t age = -1, cutoff;
	uint64_t dropped = 0;
	bool dry = false, force = false;
	char *cause = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:o:nf", lo, NULL)) != -1) {
		if (c == 'o') {
			if (pw_parse_duration(optarg, &age) != 0) {
				fprintf(stderr, "pacewatch: --older-than: invalid duration \"%s\" "
						"(e.g. 400d)\n",
					optarg);
				return 2;
			}
			age_text = optarg;
			continue;
		}
		if (c == 'n' || c == 'f') {
			*(c == 'n' ? &dry : &force) = true;
			continue;
		}
		if ((rc = parse_common(c, &o)) != 0)
			return rc;
	}
	if (age < 0) {
		fprintf(stderr, "pacewatch: retention: --older-than DURATION is required\n");
		return 2;
	}
	if ((rc = open_store(&o, dry ? OPEN_READ : OPEN_WRITE, &s)) != 0)
		return rc;
	cutoff = pw_now_ms() - age;
	if ((rc = store_retention_plan(s, cutoff, &plan)) != 0) {
		fprintf(stderr, "pacewatch: retention: reading %s: %s\n", o.storage, pw_strerror(rc));
		store_close(s);
		return 1;
	}
	if (dry) {
		print_plan(&plan, cutoff, true);
		store_close(s);
		return 0;
	}
	if (!force && plan.samples > 0 &&
	    (plan.newest < cutoff || age < RETENTION_MIN_AGE_MS)) {
		char newest[64];
		pw_fmt_time(newest, sizeof newest, plan.newest);
		if (plan.newest < cutoff)
			fprintf(stderr, "pacewatch: retention: --older-than %s would drop every sample of "
					"%s (%llu samples in %llu series; the newest is from %s)",
				age_text, o.storage, (unsigned long long)plan.samples,
				(unsigned long long)plan.series, newest);
		else
			fprintf(stderr, "pacewatch: retention: --older-than %s is shorter than a day: it "
					"would drop %llu of the %llu samples of %s, recent ones among them",
				age_text, (unsigned long long)plan.samples,
				(unsigned long long)plan.samples_total, o.storage);
		fprintf(stderr, "; nothing was dropped. --dry-run shows what it would drop; "
				"--force drops it.\n");
		store_close(s);
		return 1;
	}
	rc = store_retention(s, cutoff, &dropped, &cause);
	if (rc) {
		fprintf(stderr, "pacewatch: retention: %s\n", cause ? cause : pw_strerror(rc));
		free(cause);
		rc = 1;
	} else {
		printf("dropped %llu samples\n", (unsigned long long)dropped);
	}
	store_close(s);
	return rc;
}
