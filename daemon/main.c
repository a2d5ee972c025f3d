/*
 * main.c — pacewatch's entry point: dispatches subcommands. Every
 * subcommand answers --help (or -h) with its own usage on stdout and exit
 * status 0; a usage error (exit status 2: an unknown option, a missing
 * argument) is followed by that subcommand's usage on stderr.
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "alerts.h"
#include "common.h"
#include "conf.h"
#include "daemon.h"

static int cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "pacewatch version: takes no arguments\n");
		return 2;
	}
	printf("pacewatch %s\n", PW_VERSION);
	return 0;
}

const struct cli_cmd cli_cmds[] = {
	{"run", cmd_run, "run [-c FILE] [--storage DIR] [--listen ADDR] [--log-level LEVEL]",
	 "Run the daemon: poll the targets of FILE into the store, evaluate its rules and KPIs,\n"
	 "send its notifications and answer HTTP (without FILE: built-in defaults, storage\n"
	 "./data, listen 127.0.0.1:9470, no targets). SIGHUP reloads FILE; SIGTERM stops after\n"
	 "the scrapes in flight. LEVEL is error, warn, info (default) or debug (one line per\n"
	 "scrape). Under systemd (Type=notify) it reports readiness, reloads and the watchdog."},
	{"check-config", cmd_check_config, "check-config [-c] FILE",
	 "Validate a configuration as run would load it: prints ok, or every error with\n"
	 "file:line:column, the key and a caret; exit status 0 or 1."},
	{"import", cmd_import, "import --storage DIR [--max-size SIZE] [--label NAME=VALUE]... FILE...",
	 "Import Prometheus text exposition files (optional millisecond timestamps),\n"
	 "streamed: memory stays bounded whatever the size. A file is checked whole first:\n"
	 "a malformed line imports nothing of it and is named as file:line:column. Then it\n"
	 "is written in batches of 4 MiB; a store failure partway (its max_size) says how\n"
	 "many samples were written. --label adds a label to every sample. On a terminal,\n"
	 "progress: bytes and samples per second."},
	{"import-ledger", cmd_import_ledger,
	 "import-ledger -c FILE [--storage DIR | --url URL] [--keep-good] NAME PATH",
	 "Read a ledger (.xlsx or Excel's CSV) as the configured ledger NAME into the store,\n"
	 "or send it to a running pacewatch (--url); every rejected row and column is\n"
	 "printed, and nothing is stored when one is, unless --keep-good."},
	{"dump", cmd_dump,
	 "dump --storage DIR [--match SELECTOR]... [--start T] [--end T] [--timezone TZ]",
	 "Print samples in the import format (sorted by series, then time); import then\n"
	 "dump round-trips exactly. Staleness markers are not printed."},
	{"query", cmd_query,
	 "query (--storage DIR | --url URL) EXPR [--time T | --start T --end T --step S]\n"
	 "      [--lookback-delta D] [--timeout D] [--timezone TZ]",
	 "Evaluate PromQL on a store, or over a running pacewatch's HTTP API (--url)."},
	{"kpi", cmd_kpi, "kpi -c FILE [--storage DIR] [--at T] [--json]",
	 "Every KPI's units: value, expected, target, forecast, status; laggards first.\n"
	 "--at evaluates over history (what was the status on 30 June?)."},
	{"rules", cmd_rules,
	 "rules -c FILE [--storage DIR] (--at T | --start T --end T [--step D]) [--json] [--timing]",
	 "Evaluate the rule groups over history and print the alerts; their results\n"
	 "(recording rules, ALERTS) are written to the store (a backfill)."},
	{"export-rules", cmd_export_rules, "export-rules -c FILE",
	 "The rule groups and KPIs as a Prometheus rule file (YAML), for a central\n"
	 "Prometheus, vmalert or Mimir ruler; says in comments what is not carried."},
	{"export-dashboard", cmd_export_dashboard, "export-dashboard -c FILE",
	 "The KPI dashboard for Grafana (JSON): the panels of any programme, then a\n"
	 "row per programme item (kpis[].item) with a panel per KPI."},
	{"backup", cmd_backup, "backup --storage DIR DEST",
	 "Hot, consistent, compacted copy of the store into the directory DEST."},
	{"stats", cmd_stats, "stats --storage DIR", "Series, samples and bytes on disk."},
	{"retention", cmd_retention,
	 "retention --storage DIR --older-than DURATION [--dry-run] [--force]",
	 "Drop samples older than DURATION (for example 400d); --dry-run says what it\n"
	 "would drop. Dropping every sample, or data younger than a day, needs --force."},
	{"config-keys", cmd_config_keys, "config-keys [--man]",
	 "Every configuration key with its type, default and meaning, as the Markdown table\n"
	 "of docs/configuration.md; --man: the pacewatch.conf(5) manual page (roff)."},
	{"man", cmd_man, "man",
	 "The pacewatch(1) manual page (roff), from this command table."},
	{"version", cmd_version, "version", "Print the version."},
};
const size_t cli_ncmds = sizeof cli_cmds / sizeof cli_cmds[0];

static void usage(FILE *f)
{
	fprintf(f, "pacewatch %s — watches a public-health programme's targets\n\n"
		   "usage: pacewatch COMMAND [OPTIONS]\n\ncommands:\n",
		PW_VERSION);
	for (size_t i = 0; i < cli_ncmds; i++)
		fprintf(f, "  %s\n", cli_cmds[i].synopsis);
	fprintf(f, "  help\n\n"
		   "pacewatch COMMAND --help describes one command. Times (T) are read in\n"
		   "global.timezone (Asia/Shanghai unless configured): YYYY-MM-DD [HH:MM],\n"
		   "RFC 3339 with an offset, Unix seconds, now, -7d.\n");
}

static void cmd_usage(FILE *f, const struct cli_cmd *c)
{
	const char *p;

	fprintf(f, "usage: pacewatch %s\n\n", c->synopsis);
	/* the description, indented */
	for (p = c->help; *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		fprintf(f, "  %.*s\n", (int)n, p);
		p += n + (e != NULL);
	}
}

/* --help or -h among the subcommand's arguments (before a "--") */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	char prog[64];

#ifdef __GLIBC__
	/* Queries and evaluations allocate and free tens of megabytes each;
	 * keep freed memory for the next one (up to 256 MiB) instead of
	 * handing it back to the kernel and taking page faults again. */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
	conf_set_expr_checker(alerts_check_expr);
	conf_set_kpi_checker(alerts_check_kpi); /* PromQL in the configuration */
	cli_register_start_checks();            /* the collector's paths */
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) /* help COMMAND */
			for (size_t i = 0; i < cli_ncmds; i++)
				if (strcmp(argv[2], cli_cmds[i].name) == 0) {
					cmd_usage(stdout, &cli_cmds[i]);
					return 0;
				}
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(1, argv + 1);
	for (size_t i = 0; i < cli_ncmds; i++) {
		const struct cli_cmd *c = &cli_cmds[i];
		int rc;

		if (strcmp(argv[1], c->name) != 0)
			continue;
		if (wants_help(argc - 1, argv + 1)) {
			cmd_usage(stdout, c);
			return 0;
		}
		/* getopt names the program as argv[0]: "pacewatch run:
		 * unrecognized option '--frob'" */
		snprintf(prog, sizeof prog, "pacewatch %s", c->name);
		argv[1] = prog;
		rc = c->fn(argc - 1, argv + 1);
		if (rc == 2) {
			fputc('\n', stderr);
			cmd_usage(stderr, c);
		}
		return rc;
	}
	fprintf(stderr, "pacewatch: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}
