/*
 * check_start.c — what `pacewatch run` compiles at start, checked while
 * the configuration is loaded so that check-config refuses what run would
 * refuse, at the key's file:line:column: each JSON mapping's paths (the
 * elements' path, the value, every label, the timestamp) and the
 * pagination paths. The collector's own compiler does the work; a mapping
 * that fails is compiled again one field at a time to say which key is
 * wrong. And the templates (alerting rules' labels and annotations, a
 * KPI's runbook and unit_name, notification templates), which would
 * otherwise fail only when they are expanded.
 */
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "common.h"
#include "conf.h"
#include "daemon.h"
#include "notify.h"
#include "template.h"

/* 0, or PW_EINVAL and *cause */
static int compile(const struct conf_json_metric *m, char **cause)
{
	struct jsonmap *jm = NULL;
	int rc;

	*cause = NULL;
	rc = jsonmap_compile(m, &jm, cause);
	jsonmap_free(jm);
	return rc;
}

/* m with only the paths that the key names kept: the others are "$" and
 * "@", which always compile */
static struct conf_json_metric only(const struct conf_json_metric *m, bool path, bool value,
				    const struct conf_kv *label, bool ts)
{
	static char dollar[] = "$", at[] = "@";
	struct conf_json_metric x = *m;

	x.path = path && m->path ? m->path : dollar;
	x.value = value && m->value ? m->value : at;
	x.labels.v = (struct conf_kv *)label;
	x.labels.n = label ? 1 : 0;
	x.timestamp = ts ? m->timestamp : NULL;
	return x;
}

static void check_metric(const struct conf_json_metric *m, size_t i, conf_kpi_report report,
			 void *ctx)
{
	struct conf_json_metric x;
	char *cause = NULL, key[96];
	bool named = false;

	if (!m->metric || !m->value || compile(m, &cause) == 0) {
		free(cause);
		return;
	}
	/* which key: each path alone */
	struct {
		const char *what;
		bool path, value, ts;
		const struct conf_kv *label;
	} parts[3] = {{"path", true, false, false, NULL},
		      {"value", false, true, false, NULL},
		      {"timestamp", false, false, true, NULL}};
	for (size_t p = 0; p < 3; p++) {
		char *why = NULL;
		if (p == 2 && !m->timestamp)
			continue;
		x = only(m, parts[p].path, parts[p].value, NULL, parts[p].ts);
		if (compile(&x, &why) != 0) {
			snprintf(key, sizeof key, "metrics[%zu].%s", i, parts[p].what);
			report(ctx, key, why ? why : cause);
			named = true;
		}
		free(why);
	}
	for (size_t l = 0; l < m->labels.n; l++) {
		char *why = NULL;
		x = only(m, false, false, &m->labels.v[l], false);
		if (compile(&x, &why) != 0) {
			snprintf(key, sizeof key, "metrics[%zu].labels.%s", i, m->labels.v[l].name);
			report(ctx, key, why ? why : cause);
			named = true;
		}
		free(why);
	}
	if (!named) {
		snprintf(key, sizeof key, "metrics[%zu]", i);
		report(ctx, key, cause ? cause : "the mapping does not compile");
	}
	free(cause);
}

static void check_path(const char *path, const char *key, conf_kpi_report report, void *ctx)
{
	char *out = NULL;

	if (!path)
		return;
	/* an empty object: only a path that does not parse is an error */
	if (jsonmap_lookup("{}", 2, path, &out) == PW_EINVAL) {
		char *msg = xasprintf("\"%s\" is not a valid path ($.a.b, $.a[0], $['a b'])", path);
		report(ctx, key, msg);
		free(msg);
	}
	free(out);
}

static void check_target(const struct conf_target *t, conf_kpi_report report, void *ctx)
{
	for (size_t i = 0; i < t->nmetrics; i++)
		check_metric(&t->metrics[i], i, report, ctx);
	check_path(t->pagination.next_path, "pagination.next", report, ctx);
	check_path(t->pagination.done_path, "pagination.done", report, ctx);
}

/* templates: what rendering meets whatever the data (template.h) */
static int check_template(int kind, const char *t, size_t *at, char **cause)
{
	if (kind == CONF_TMPL_NOTIFY_TEXT || kind == CONF_TMPL_NOTIFY_HTML)
		return notify_check_template(t, kind == CONF_TMPL_NOTIFY_HTML, at, cause);
	/* an alert's and a unit's names: $labels, $value, $externalLabels (and
	 * their dotted forms); $kpi.* in a KPI's alerts */
	static const struct pw_label kpi[] = {{"value", ""}};
	struct template_data d = {.value = 0, .kpi = kind == CONF_TMPL_KPI ? kpi : NULL,
				  .nkpi = kind == CONF_TMPL_KPI ? 1 : 0};
	return template_check(t, &d, at, cause);
}

void cli_register_start_checks(void)
{
	conf_set_target_checker(check_target);
	conf_set_template_checker(check_template);
}
