/*
 * cli_rules.c — `pacewatch rules`: evaluate the configuration's rule groups
 * over the store's history, at one time or at every step of a range, and
 * print the alerts (for people, or one JSON line per step). The results
 * (recording rules, ALERTS, ALERTS_FOR_STATE) are written to the store, as
 * the daemon would have written them: a backfill.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts.h"
#include "common.h"
#include "conf.h"
#include "daemon.h"
#include "query.h"
#include "store.h"

/* a time a person typed, in global.timezone */
static int user_time(const char *cmd, const char *opt, const char *s, const struct conf *c,
		     int64_t *ms)
{
	return cli_time(cmd, opt, s, c->global.timezone, ms);
}

/* the pending and firing alerts of a view, for people; returns how many */
static size_t print_alerts(const struct view *v)
{
	size_t n = 0;
	for (size_t k = 0; v && k < v->nalerts; k++) {
		const struct view_alert *a = &v->alerts[k];
		char act[64];
		if (a->state == VIEW_INACTIVE)
			continue;
		n++;
		pw_fmt_time(act, sizeof act, a->active_at);
		printf("%-8s since %s  {", view_alert_state_name(a->state), act);
		for (size_t i = 0; i < a->labels->n; i++)
			printf("%s%s=\"%s\"", i ? ", " : "", a->labels->l[i].name,
			       a->labels->l[i].value);
		printf("}\n");
		for (size_t i = 0; a->annotations && i < a->annotations->n; i++)
			printf("         %s: %s\n", a->annotations->l[i].name,
			       a->annotations->l[i].value);
	}
	return n;
}

/* The configuration, its store and its rules (KPIs included); errors are
 * printed. read_only: a look that writes nothing. */
static int open_rules(const char *cfg, const char *storage, bool read_only, struct conf **conf,
		      struct store **st, struct alerts **r)
{
	struct conf_errs errs;
	struct store_opts so = {0};
	char *cause = NULL;
	int rc;
	*conf = NULL;
	*st = NULL;
	*r = NULL;
	if (conf_load(cfg, conf, &errs) != 0) {
		conf_errs_print(&errs, stderr);
		conf_errs_free(&errs);
		return 1;
	}
	conf_errs_free(&errs);
	so.path = storage ? storage : (*conf)->storage.path;
	so.max_map_size = (*conf)->storage.max_size;
	so.max_series = (uint64_t)(*conf)->storage.max_series;
	so.no_sync = !(*conf)->storage.sync;
	so.read_only = read_only;
	so.must_exist = true; /* a backfill writes into a store, never a new one */
	if ((rc = store_open(&so, st, &cause)) != 0) {
		fprintf(stderr, "pacewatch: %s: %s\n", so.path, cause ? cause : pw_strerror(rc));
		free(cause);
		conf_free(*conf);
		return 1;
	}
	if (alerts_new(*conf, *st, NULL, r, &cause) != 0) {
		fprintf(stderr, "pacewatch: %s: %s\n", cfg, cause);
		free(cause);
		store_close(*st);
		conf_free(*conf);
		return 1;
	}
	alerts_set_dry_run(*r, read_only);
	return 0;
}

int cmd_rules(int argc, char **argv)
{
	static const struct option lo[] = {{"config", required_argument, 0, 'c'},
					   {"storage", required_argument, 0, 's'},
					   {"at", required_argument, 0, 't'},
					   {"start", required_argument, 0, 'a'},
					   {"end", required_argument, 0, 'b'},
					   {"step", required_argument, 0, 'p'},
					   {"json", no_argument, 0, 'j'},
					   {"timing", no_argument, 0, 'T'},
					   {0, 0, 0, 0}};
	const char *cfg = NULL, *storage = NULL, *ts_at = NULL, *ts_start = NULL, *ts_end = NULL;
	int64_t at = 0, start = 0, end = 0, step = 0;
	bool have_at = false, have_range = false, json = false, timing = false;
	struct conf *conf = NULL;
	struct store *st = NULL;
	struct alerts *r = NULL;
	char *cause = NULL;
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:s:t:a:b:p:jT", lo, NULL)) != -1) {
		switch (c) {
		case 'c': cfg = optarg; break;
		case 's': storage = optarg; break;
		case 'j': json = true; break;
		case 'T': timing = true; break;
		case 't': ts_at = optarg, have_at = true; break;
		case 'a': ts_start = optarg, have_range = true; break;
		case 'b': ts_end = optarg, have_range = true; break;
		case 'p':
			if (pw_parse_duration(optarg, &step) != 0 || step <= 0) {
				fprintf(stderr, "pacewatch: rules: --step: invalid duration \"%s\"\n", optarg);
				return 2;
			}
			break;
		default: return 2;
		}
	}
	if (!cfg || optind != argc || have_at == have_range) {
		fprintf(stderr, "pacewatch: rules: %s\n",
			!cfg ? "-c FILE is required"
			: optind != argc ? "unexpected argument"
					 : "give either --at T or --start T --end T");
		return 2;
	}
	if (open_rules(cfg, storage, false, &conf, &st, &r) != 0)
		return 1;
	if ((have_at && user_time("rules", "--at", ts_at, conf, &at) != 0) ||
	    (have_range && (user_time("rules", "--start", ts_start, conf, &start) != 0 ||
			    user_time("rules", "--end", ts_end, conf, &end) != 0))) {
		alerts_free(r);
		store_close(st);
		conf_free(conf);
		return 2;
	}
	if (have_at)
		start = end = at;
	if (!step)
		step = conf->global.evaluation_interval_ms;
	{
		/* the slots from start on: multiples of the evaluation interval */
		int64_t iv = conf->global.evaluation_interval_ms;
		start = start % iv == 0 ? start : start - ((start % iv) + iv) % iv + iv;
	}
	rc = 0;
	for (int64_t t = start; t <= end && rc == 0; t += step) {
		int64_t w0 = pw_mono_ns();
		clock_t c0 = clock();
		if ((rc = alerts_eval_kpis(r, t, &cause)) != 0) {
			fprintf(stderr, "pacewatch: rules: KPIs at %lld: %s\n", (long long)t,
				cause ? cause : "failed");
			free(cause);
		}
		for (size_t g = 0; g < alerts_ngroups(r) && rc == 0; g++) {
			if ((rc = alerts_eval_group(r, g, t, &cause)) != 0) {
				fprintf(stderr, "pacewatch: rules: writing results at %lld: %s\n",
					(long long)t, cause ? cause : "failed");
				free(cause);
			}
		}
		if (timing)
			fprintf(stderr, "evaluation at %lld: %.3f s wall, %.3f s CPU\n", (long long)t,
				(double)(pw_mono_ns() - w0) / 1e9, (double)(clock() - c0) / CLOCKS_PER_SEC);
		if (json) {
			struct pw_buf b;
			struct view *v = alerts_view(r);
			pw_buf_init(&b, 0);
			view_json_alerts(v, &b);
			printf("{\"t\":%lld,\"data\":%.*s}\n", (long long)t, (int)b.len, b.data);
			pw_buf_free(&b);
			view_unref(v);
		}
	}
	if (!json) {
		struct view *v = alerts_view(r);
		if (print_alerts(v) == 0)
			puts("no pending or firing alerts");
		view_unref(v);
	}
	alerts_free(r);
	store_close(st);
	conf_free(conf);
	return rc ? 1 : 0;
}

/* `pacewatch kpi`: every KPI's units with their numbers, laggards first. */
/* a number for people (docs/kpis.md): at most two decimals, "-" for none */
static void people(char *dst, size_t sz, double v)
{
	if (isnan(v) || isinf(v))
		snprintf(dst, sz, "-");
	else
		pw_fmt_float(dst, sz, v, PW_FMT_HUMAN);
}

/* the KPIs of a view as a table, laggards first */
static void print_kpis(const struct view *v, int64_t at, const struct conf *c)
{
	struct pw_tz *tz = NULL;
	char when[64];
	pw_tz_load(c->global.timezone ? c->global.timezone : "UTC", &tz, NULL);
	pw_fmt_local(when, sizeof when, at, tz);
	printf("KPIs at %s\n", when);
	for (size_t i = 0; v && i < v->meta->nkpis; i++) {
		const struct view_meta_kpi *k = &v->meta->kpis[i];
		printf("\n%s — %s (deadline %s)\n", k->name, k->title, k->deadline_text);
		if (v->kpis[i].nunits == 0) {
			/* an empty table would look like "all fine" */
			if (at < k->start_ms) {
				pw_fmt_local(when, sizeof when, k->start_ms, tz);
				printf("  not started: the KPI starts at %s\n", when);
			} else {
				printf("  no units: its selector matched no series by this time\n");
			}
			continue;
		}
		printf("  %-14s %10s %10s %10s %10s %9s %10s  %s\n", "status", "value", "expected",
		       "target", "gap", "progress", "forecast", "unit");
		for (size_t j = 0; j < v->kpis[i].nunits; j++) {
			const struct view_unit *u = &v->units[v->kpis[i].unit0 + j];
			const double cols[4] = {u->value, u->expected, u->target, u->gap};
			char num[400], prog[32];
			printf("  %-14s", view_status_name(u->status));
			for (int q = 0; q < 4; q++) {
				people(num, sizeof num, cols[q]);
				printf(" %10s", num);
			}
			if (isnan(u->progress))
				snprintf(prog, sizeof prog, "-");
			else
				snprintf(prog, sizeof prog, "%.1f%%", 100 * u->progress);
			people(num, sizeof num, u->forecast);
			printf(" %9s %10s  %s\n", prog, num, u->name ? u->name : "");
		}
	}
	pw_tz_free(tz);
}

int cmd_kpi(int argc, char **argv)
{
	static const struct option lo[] = {{"config", required_argument, 0, 'c'},
					   {"storage", required_argument, 0, 's'},
					   {"at", required_argument, 0, 't'},
					   {"json", no_argument, 0, 'j'},
					   {0, 0, 0, 0}};
	const char *cfg = NULL, *storage = NULL, *ts_at = "now";
	int64_t at = 0;
	bool json = false;
	struct conf *conf = NULL;
	struct store *st = NULL;
	struct alerts *r = NULL;
	char *cause = NULL;
	int c;
	struct pw_buf b;
	struct view *v;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:s:t:j", lo, NULL)) != -1) {
		switch (c) {
		case 'c': cfg = optarg; break;
		case 's': storage = optarg; break;
		case 'j': json = true; break;
		case 't': ts_at = optarg; break;
		default: return 2;
		}
	}
	if (!cfg || optind != argc) {
		fprintf(stderr, "pacewatch: kpi: %s\n", !cfg ? "-c FILE is required" : "unexpected argument");
		return 2;
	}
	if (open_rules(cfg, storage, true, &conf, &st, &r) != 0)
		return 1;
	if (user_time("kpi", "--at", ts_at, conf, &at) != 0) {
		alerts_free(r);
		store_close(st);
		conf_free(conf);
		return 2;
	}
	/* the slot at or before the time asked */
	at -= ((at % conf->global.evaluation_interval_ms) + conf->global.evaluation_interval_ms) %
	      conf->global.evaluation_interval_ms;
	if (alerts_eval_kpis(r, at, &cause) != 0) {
		fprintf(stderr, "pacewatch: kpi: %s\n", cause ? cause : "failed");
		free(cause);
		alerts_free(r);
		store_close(st);
		conf_free(conf);
		return 1;
	}
	v = alerts_view(r);
	if (json) {
		pw_buf_init(&b, 0);
		view_json_kpis(v, &b);
		printf("%.*s\n", (int)b.len, b.data);
		pw_buf_free(&b);
	} else {
		print_kpis(v, at, conf);
	}
	view_unref(v);
	alerts_free(r);
	store_close(st);
	conf_free(conf);
	return 0;
}
