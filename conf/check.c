/*
 * check.c — the checks that several sections of the configuration share:
 * a PromQL expression compiles (through the checker the program sets, so
 * conf/ needs no query engine) and a time zone exists. validate.c and
 * notify.c both call them.
 */
#include "conf_int.h"

#include <stdlib.h>

static conf_expr_checker expr_checker;

void conf_set_expr_checker(conf_expr_checker fn) { expr_checker = fn; }

int conf_check_expr_text(const char *expr, char **cause)
{
	*cause = NULL;
	return expr_checker ? expr_checker(expr, cause) : 0;
}

void conf_check_expr(const char *expr, const char *path, struct conf_errs *errs,
		     const struct posmap *pm)
{
	char *cause = NULL;
	if (expr && expr_checker && expr_checker(expr, &cause) != 0)
		conf_err_at(errs, pm, path, false, "%s", cause ? cause : "invalid expression");
	free(cause);
}

void conf_check_tz(const char *name, const char *path, struct conf_errs *errs,
		   const struct posmap *pm)
{
	struct pw_tz *tz = NULL;
	char *cause = NULL;

	if (!name)
		return;
	if (pw_tz_load(name, &tz, &cause) != 0)
		conf_err_at(errs, pm, path, false, "%s", cause);
	free(cause);
	pw_tz_free(tz);
}
