/* What the alerts tests share: a configuration from text, PromQL checked
 * by the query engine, refused loudly (its errors printed) if it fails. */
#ifndef PW_ALERTS_TEST_H
#define PW_ALERTS_TEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "alerts.h"

static inline struct conf *load_conf(const char *name, const char *text)
{
	struct conf *c = NULL;
	struct conf_errs errs;
	conf_set_expr_checker(rules_check_expr);
	int rc = conf_load_buffer(name, text, strlen(text), &c, &errs);
	if (rc != 0)
		conf_errs_print(&errs, stderr);
	cr_assert_eq(rc, 0, "%s loads", name);
	conf_errs_free(&errs);
	return c;
}

#endif
