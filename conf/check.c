/*
 * check.c — the checks that several sections of the configuration share:
 * a PromQL expression compiles (through the checker the program sets, so
 * conf/ needs no query engine) and a time zone exists. validate.c and
 * notify.c both call them.
 */
#include "conf_int.h"

#include <stdlib.h>
#include <string.h>

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

static conf_kpi_checker kpi_checker;

void conf_set_kpi_checker(conf_kpi_checker fn) { kpi_checker = fn; }

struct kpi_report_ctx {
	struct conf_errs *errs;
	const struct posmap *pm;
	const char *path;
};

static void kpi_report(void *vctx, const char *key, const char *msg)
{
	struct kpi_report_ctx *x = vctx;
	char *q = xasprintf("%s.%s", x->path, key);
	conf_err_at(x->errs, x->pm, q, false, "%s", msg);
	free(q);
}

void conf_check_kpi(const struct conf_kpi *k, const char *path, struct conf_errs *errs,
		    const struct posmap *pm)
{
	struct kpi_report_ctx x = {errs, pm, path};
	if (kpi_checker)
		kpi_checker(k, kpi_report, &x);
}

static conf_target_checker target_checker;

void conf_set_target_checker(conf_target_checker fn) { target_checker = fn; }

void conf_check_target_runtime(const struct conf_target *t, const char *path,
			       struct conf_errs *errs, const struct posmap *pm)
{
	struct kpi_report_ctx x = {errs, pm, path};
	if (target_checker)
		target_checker(t, kpi_report, &x);
}

int conf_cmp_parse(const char *s, int *cmp, double *v)
{
	static const struct {
		const char *op;
		int cmp;
	} ops[] = {{">=", CONF_CMP_GE}, {"<=", CONF_CMP_LE}, {"==", CONF_CMP_EQ},
		   {"!=", CONF_CMP_NE}, {">", CONF_CMP_GT},  {"<", CONF_CMP_LT}};
	while (*s == ' ')
		s++;
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		size_t n = strlen(ops[i].op);
		if (strncmp(s, ops[i].op, n) == 0) {
			const char *p = s + n;
			while (*p == ' ')
				p++;
			if (!pw_number(p, v))
				return PW_EINVAL;
			*cmp = ops[i].cmp;
			return 0;
		}
	}
	return PW_EINVAL;
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
