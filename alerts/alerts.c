/*
 * alerts.c — the decider: the rule groups (rules.c) and the KPI engine
 * (kpi.c) of one configuration, run on their intervals; after each
 * evaluation a view of both (view.h) is published by swapping one pointer,
 * which is all the HTTP API, the notifier and the digest ever see.
 */
#include "alerts_int.h"

#include <stdlib.h>
#include <string.h>

struct alerts {
	const struct conf *conf;
	struct store *st;
	struct pw_slot *slot, *own_slot;
	struct rules *rules;
	struct kpis *kpis; /* NULL without KPIs */
	struct view_meta *meta;
	size_t rule_groups, rule_rules; /* where the KPIs' groups and rules start in views */
	bool dry_run;
	int64_t kpi_next;
};

enum view_language alerts_language(const struct conf *c)
{
	return c->global.language == CONF_LANG_ZH ? VIEW_LANG_ZH : VIEW_LANG_EN;
}

void alerts_check_kpi(const struct conf_kpi *k, conf_kpi_report report, void *ctx)
{
	kpi_check(k, report, ctx);
}

int alerts_check_expr(const char *expr, char **cause)
{
	struct query_expr *x;
	struct query_error e = {0};
	if (query_parse(expr, &x, &e) != 0) {
		*cause = e.msg;
		return PW_EINVAL;
	}
	if (query_check_static(x, cause) != 0) {
		query_expr_free(x);
		return PW_EINVAL;
	}
	if (query_expr_type(x) != QUERY_VECTOR && query_expr_type(x) != QUERY_SCALAR) {
		*cause = xasprintf("a rule's expression gives an instant vector or a scalar, not a %s",
				 query_type_name(query_expr_type(x)));
		query_expr_free(x);
		return PW_EINVAL;
	}
	query_expr_free(x);
	return 0;
}

/* a view of what the rules and KPIs hold now */
void alerts_publish(struct alerts *a)
{
	struct view *v = view_new(a->meta, pw_now_ms());
	rules_view(a->rules, v, 0, 0);
	if (a->kpis)
		kpis_view(a->kpis, v, a->rule_groups, a->rule_rules);
	pw_slot_publish(a->slot, &v->sh);
}

int alerts_new(const struct conf *c, struct store *st, struct pw_slot *views, struct alerts **out,
	       char **cause)
{
	struct alerts *a = xcalloc(1, sizeof *a);
	*out = NULL;
	a->conf = c;
	a->st = st;
	if (rules_new(c, st, &a->rules, cause) != 0 ||
	    (c->nkpis && kpis_new(c, st, &a->kpis, cause) != 0)) {
		alerts_free(a);
		return PW_EINVAL;
	}
	if (!views)
		views = a->own_slot = pw_slot_new();
	a->slot = views;
	a->meta = view_meta_new();
	a->meta->lang = alerts_language(c);
	a->meta->timezone = view_meta_str(a->meta, c->global.timezone ? c->global.timezone : "UTC");
	rules_meta(a->rules, a->meta);
	a->rule_groups = a->meta->ngroups;
	a->rule_rules = a->meta->nrules;
	if (a->kpis)
		kpis_meta(a->kpis, a->meta);
	*out = a;
	return 0;
}

void alerts_free(struct alerts *a)
{
	if (!a)
		return;
	rules_free(a->rules);
	kpis_free(a->kpis);
	if (a->meta)
		pw_shared_unref(&a->meta->sh);
	pw_slot_free(a->own_slot);
	free(a);
}

size_t alerts_ngroups(const struct alerts *a) { return rules_ngroups(a->rules); }

void alerts_set_dry_run(struct alerts *a, bool dry) { a->dry_run = dry; }

struct view *alerts_view(struct alerts *a) { return view_get(a->slot); }

int alerts_eval_group(struct alerts *a, size_t g, int64_t t, char **cause)
{
	int rc = rules_eval_group(a->rules, g, t, cause);
	alerts_publish(a);
	return rc;
}

int alerts_eval_kpis(struct alerts *a, int64_t t, char **cause)
{
	int rc = a->kpis ? kpis_eval(a->kpis, t, a->dry_run, cause) : 0;
	alerts_publish(a);
	return rc;
}

int64_t alerts_step(struct alerts *a, int64_t now)
{
	int64_t next;
	bool evaluated = false;
	if (a->kpis && now >= a->kpi_next) {
		int64_t iv = a->conf->global.evaluation_interval_ms;
		int64_t t = now - now % iv;
		char *cause = NULL;
		if (kpis_eval(a->kpis, t, a->dry_run, &cause) != 0) {
			log_error("kpi", "writing results: %s", cause ? cause : "failed");
			free(cause);
		}
		a->kpi_next = t + iv;
		evaluated = true;
	}
	next = rules_step(a->rules, now, &evaluated);
	if (a->kpis && a->kpi_next < next)
		next = a->kpi_next;
	if (evaluated)
		alerts_publish(a);
	return next;
}
