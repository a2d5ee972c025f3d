/*
 * cli_conf.c — `pacewatch check-config FILE`: prints "ok" or every error
 * with file:line:column, the key path, the line and a caret (like
 * `smtpd -n`); exit status 0 or 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "daemon.h"

int cmd_check_config(int argc, char **argv)
{
	static const struct option lo[] = {{"config", required_argument, 0, 'c'}, {0, 0, 0, 0}};
	struct conf *c = NULL;
	struct conf_errs errs;
	const char *file = NULL;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
		if (o != 'c')
			return 2;
		file = optarg;
	}
	if (!file && optind < argc)
		file = argv[optind++];
	if (!file || optind != argc) {
		fprintf(stderr, "pacewatch: check-config: %s\n",
			file ? "give one FILE" : "no FILE given");
		return 2;
	}
	rc = conf_load(file, &c, &errs);
	if (rc != 0) {
		conf_errs_print(&errs, stderr);
		conf_errs_free(&errs);
		return 1;
	}
	{
		char *cause = NULL;
		if (run_probe(c, &cause) != 0) {
			fprintf(stderr, "%s: %s\n", file, cause ? cause : "pacewatch run would refuse it");
			free(cause);
			conf_errs_free(&errs);
			conf_free(c);
			return 1;
		}
	}
	conf_errs_print(&errs, stderr); /* the warnings */
	printf("ok: %s (%zu target%s, %zu rule group%s, %zu KPI%s, %zu receiver%s)\n", file,
	       c->ntargets, c->ntargets == 1 ? "" : "s",
	       c->nrule_groups, c->nrule_groups == 1 ? "" : "s", c->nkpis, c->nkpis == 1 ? "" : "s",
	       c->notify.nreceivers, c->notify.nreceivers == 1 ? "" : "s");
	conf_errs_free(&errs);
	conf_free(c);
	return 0;
}

/* `pacewatch config-keys`: every configuration key as a Markdown table row
 * (used to write docs/configuration.md; a test checks the doc has them all). */
int cmd_config_keys(int argc, char **argv)
{
	struct conf_key_doc d;

	if (argc == 2 && strcmp(argv[1], "--man") == 0)
		return cli_man_conf(stdout);
	if (argc > 1) {
		fprintf(stderr, "pacewatch: config-keys: unexpected argument \"%s\"\n", argv[1]);
		return 2;
	}
	printf("| key | type | default | meaning |\n|-----|------|---------|---------|\n");
	for (size_t i = 0; conf_key_doc(i, &d); i++)
		printf("| `%s` | %s | %s%s%s | %s |\n", d.path, d.type, *d.def && strcmp(d.def, "required") ? "`" : "",
		       d.def, *d.def && strcmp(d.def, "required") ? "`" : "", d.help);
	return 0;
}
