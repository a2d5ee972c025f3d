/*
 * cli_export.c — `pacewatch export-rules -c FILE`: the configuration's
 * rule groups and KPIs as a Prometheus rule file, for a central Prometheus,
 * vmalert or Mimir ruler over a fleet of pacewatch instances. The file is
 * made by the decider from the KPI model its evaluator uses
 * (alerts_export_rules).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "common.h"
#include "conf.h"
#include "daemon.h"
#include "exporters.h"

/* `-c FILE` of an export command, loaded: 0 with *c and *cfg, or the exit
 * status (2: usage, 1: the configuration's errors, printed) */
static int export_conf(int argc, char **argv, const char *cmd, const char **cfg, struct conf **c)
{
	static const struct option lo[] = {{"config", required_argument, 0, 'c'}, {0, 0, 0, 0}};
	struct conf_errs errs;
	int o;

	*cfg = NULL;
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
		if (o == 'c')
			*cfg = optarg;
		else
			return 2;
	}
	if (!*cfg) {
		fprintf(stderr, "pacewatch: %s: -c FILE is required\n", cmd);
		return 2;
	}
	if (conf_load(*cfg, c, &errs) != 0) {
		conf_errs_print(&errs, stderr);
		conf_errs_free(&errs);
		return 1;
	}
	conf_errs_free(&errs);
	return 0;
}

int cmd_export_rules(int argc, char **argv)
{
	const char *cfg;
	struct conf *c = NULL;
	struct pw_buf b;
	char *warn = NULL;
	int rc = export_conf(argc, argv, "export-rules", &cfg, &c);

	if (rc)
		return rc;
	pw_buf_init(&b, 0);
	alerts_export_rules(c, cfg, &b, &warn);
	for (char *l = warn, *e; l && *l; l = e + 1) {
		e = strchr(l, '\n');
		fprintf(stderr, "pacewatch: export-rules: %.*s\n", (int)(e - l), l);
	}
	free(warn);
	fwrite(b.data, 1, b.len, stdout);
	pw_buf_free(&b);
	conf_free(c);
	return 0;
}

/* `pacewatch export-dashboard -c FILE`: the KPI dashboard for Grafana */
int cmd_export_dashboard(int argc, char **argv)
{
	const char *cfg;
	struct conf *c = NULL;
	int rc = export_conf(argc, argv, "export-dashboard", &cfg, &c);

	if (rc)
		return rc;
	char *s = grafana_kpi_dashboard(c);
	printf("%s\n", s);
	free(s);
	conf_free(c);
	return 0;
}
