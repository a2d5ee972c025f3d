/*
 * main.c — pacewatch's entry point: dispatches subcommands.
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "alerts.h"
#include "common.h"
#include "conf.h"
#include "daemon.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *usage;
} cmds[] = {
	{"run", cmd_run,
	 "run [-c FILE] [--storage DIR] [--listen ADDR] [--log-level LEVEL]\n"
	 "      Run the daemon: poll the targets of FILE into the store (without FILE:\n"
	 "      built-in defaults, storage ./data, listen 127.0.0.1:9470, no targets)."},
	{"import", cmd_import,
	 "import --storage DIR [--label NAME=VALUE]... FILE...\n"
	 "      Import Prometheus text exposition files (optional ms timestamps).\n"
	 "      Each file is one batch: a malformed line imports nothing of it."},
	{"import-ledger", cmd_import_ledger,
	 "import-ledger -c FILE [--storage DIR | --url URL] [--keep-good] NAME PATH\n"
	 "      Read a ledger (.xlsx or Excel's CSV) as the configured ledger NAME into the\n"
	 "      store, or send it to a running pacewatch; every rejected row and column is\n"
	 "      printed, and nothing is stored when one is, unless --keep-good."},
	{"dump", cmd_dump,
	 "dump --storage DIR [--match SELECTOR]... [--start T] [--end T]\n"
	 "      Print samples in the import format (sorted by series, then time)."},
	{"query", cmd_query,
	 "query (--storage DIR | --url URL) EXPR [--time T | --start T --end T --step S]\n"
	 "      [--lookback-delta D] [--timeout D]\n"
	 "      Evaluate PromQL on a store, or on a running pacewatch's HTTP API."},
	{"rules", cmd_rules,
	 "rules -c FILE [--storage DIR] (--at T | --start T --end T [--step D]) [--json]\n"
	 "      Evaluate the rule groups over history and print the alerts; their results\n"
	 "      (recording rules, ALERTS) are written to the store (a backfill)."},
	{"kpi", cmd_kpi,
	 "kpi -c FILE [--storage DIR] [--at T] [--json]\n"
	 "      Every KPI's units: value, expected, target, forecast, status; laggards first.\n"
	 "      --at evaluates over history (what was the status on 30 June?)."},
	{"export-rules", cmd_export_rules,
	 "export-rules -c FILE\n"
	 "      The rule groups and KPIs as a Prometheus rule file (YAML), for a central\n"
	 "      Prometheus, vmalert or Mimir ruler; says in comments what is not carried."},
	{"export-dashboard", cmd_export_dashboard,
	 "export-dashboard -c FILE\n"
	 "      The KPI dashboard for Grafana (JSON): the panels of any programme, then a\n"
	 "      row per programme item (kpis[].item) with a panel per KPI."},
	{"backup", cmd_backup,
	 "backup --storage DIR DEST\n"
	 "      Hot, consistent, compacted copy of the store into DEST."},
	{"stats", cmd_stats, "stats --storage DIR\n      Series, samples and bytes on disk."},
	{"check-config", cmd_check_config,
	 "check-config [-c] FILE\n"
	 "      Validate a configuration: prints ok, or every error with file:line:column."},
	{"retention", cmd_retention,
	 "retention --storage DIR --older-than DURATION [--dry-run] [--force]\n"
	 "      Drop samples older than DURATION (for example 400d); --dry-run says what\n"
	 "      it would drop. Dropping every sample, or data younger than a day, needs --force."},
};

static void usage(FILE *f)
{
	fprintf(f, "pacewatch %s — watches a public-health programme's targets\n\n"
		   "usage: pacewatch COMMAND [OPTIONS]\n\ncommands:\n",
		PW_VERSION);
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		fprintf(f, "  %s\n", cmds[i].usage);
	fprintf(f, "  version\n      Print the version.\n"
		   "  help\n      This text.\n\n"
		   "Times (T) are RFC 3339, Unix seconds, or YYYY-MM-DD (UTC).\n");
}

int main(int argc, char **argv)
{
#ifdef __GLIBC__
	/* Queries and evaluations allocate and free tens of megabytes each;
	 * keep freed memory for the next one (up to 256 MiB) instead of
	 * handing it back to the kernel and taking page faults again. */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
	conf_set_expr_checker(alerts_check_expr);
	conf_set_kpi_checker(alerts_check_kpi); /* PromQL in the configuration */
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("pacewatch %s\n", PW_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "config-keys") == 0) /* for docs/configuration.md */
		return cmd_config_keys(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "pacewatch: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}
