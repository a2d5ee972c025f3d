/*
 * cli_conf.c — `pacewatch check-config FILE`: prints "ok" or every error
 * with file:line:column, the key path, the line and a caret (like
 * `smtpd -n`); exit status 0 or 1.
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "daemon.h"

int cmd_check_config(int argc, char **argv)
{
	struct conf *c = NULL;
	struct conf_errs errs;
	int rc;

	const char *file = argc == 2 ? argv[1] : argc == 3 && !strcmp(argv[1], "-c") ? argv[2] : NULL;
	if (!file) {
		fprintf(stderr, "usage: pacewatch check-config [-c] FILE\n");
		return 2;
	}
	rc = conf_load(file, &c, &errs);
	if (rc != 0) {
		conf_errs_print(&errs, stderr);
		conf_errs_free(&errs);
		return 1;
	}
	conf_errs_print(&errs, stderr); /* the warnings */
	printf("ok: %s (%zu targets, %zu rule groups, %zu KPIs, %zu receivers)\n", file, c->ntargets,
	       c->nrule_groups, c->nkpis, c->notify.nreceivers);
	conf_errs_free(&errs);
	conf_free(c);
	return 0;
}

/* `pacewatch config-keys`: every configuration key as a Markdown table row
 * (used to write docs/configuration.md; a test checks the doc has them all). */
int cmd_config_keys(int argc, char **argv)
{
	struct conf_key_doc d;
	(void)argc;
	(void)argv;
	printf("| key | type | default | meaning |\n|-----|------|---------|---------|\n");
	for (size_t i = 0; conf_key_doc(i, &d); i++)
		printf("| `%s` | %s | %s%s%s | %s |\n", d.path, d.type, *d.def && strcmp(d.def, "required") ? "`" : "",
		       d.def, *d.def && strcmp(d.def, "required") ? "`" : "", d.help);
	return 0;
}
