/* What the alerts tests share: a configuration from text, PromQL checked
 * by the query engine, refused loudly (its errors printed) if it fails. */
#ifndef PW_ALERTS_TEST_H
#define PW_ALERTS_TEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "alerts.h"
#include "view.h"

static inline struct conf *load_conf(const char *name, const char *text)
{
	struct conf *c = NULL;
	struct conf_errs errs;
	conf_set_expr_checker(alerts_check_expr);
	conf_set_kpi_checker(alerts_check_kpi);
	int rc = conf_load_buffer(name, text, strlen(text), &c, &errs);
	if (rc != 0)
		conf_errs_print(&errs, stderr);
	cr_assert_eq(rc, 0, "%s loads", name);
	conf_errs_free(&errs);
	return c;
}

/* The decider's newest view as JSON: /api/v1/rules, /alerts, /kpis. */
static inline void json_rules(struct alerts *a, struct pw_buf *b, const char *type)
{
	struct view *v = alerts_view(a);
	view_json_rules(v, b, type);
	view_unref(v);
}
static inline void json_alerts(struct alerts *a, struct pw_buf *b)
{
	struct view *v = alerts_view(a);
	view_json_alerts(v, b);
	view_unref(v);
}
static inline void json_kpis(struct alerts *a, struct pw_buf *b)
{
	struct view *v = alerts_view(a);
	view_json_kpis(v, b);
	view_unref(v);
}

#endif
