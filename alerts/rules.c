/*
 * rules.c — Prometheus' rule groups, step for step as Prometheus 2.42's
 * rules manager: groups run on their interval, their rules in order, a
 * query per rule at the evaluation time, each rule's results committed
 * before the next rule runs (so a rule may build on the one before it).
 * A recording rule writes its series under the record name; an alerting
 * rule turns each result into an alert (labels and annotations from
 * templates) and feeds its alert state (alert_state.c).
 */
#include "alerts_int.h"

#include <stdlib.h>
#include <string.h>

struct rule {
	const struct conf_rule *c;
	struct query_expr *x;
	struct astate *as;      /* an alerting rule's alerts */
	struct output out;      /* a recording rule's series */
	struct pw_label *match; /* its constant labels, for the state's restore */
	size_t nmatch;
	char *last_error;
	int64_t last_eval;
	double eval_s;
};

struct group {
	const struct conf_rule_group *c;
	struct rule *rules;
	size_t n;
	int64_t next, last_eval;
	double eval_s;
};

struct rules {
	const struct conf *conf;
	struct store *st;
	struct group *g;
	size_t ng;
	struct query_opts qo;
	struct pw_label *ext; /* $externalLabels */
	size_t next;
	struct pw_lbuild lb;  /* an alert's or a series' labels, reused */
};

static int rule_init(struct rules *r, const struct conf_rule_group *cg, size_t gi, size_t i,
		     char **cause)
{
	struct rule *ru = &r->g[gi].rules[i];
	const struct conf_rule *c = &cg->rules[i];
	struct query_error e = {0};
	ru->c = c;
	if (query_parse(c->expr, &ru->x, &e) != 0) {
		*cause = xasprintf("rule_groups[%zu].rules[%zu].expr: %s", gi, i, e.msg);
		query_error_clear(&e);
		return PW_EINVAL;
	}
	if (!c->alert)
		return 0;
	/* the labels every alert of it carries: what a restart looks for */
	ru->match = xcalloc(c->labels.n + 1, sizeof *ru->match);
	for (size_t k = 0; k < c->labels.n; k++)
		if (!strstr(c->labels.v[k].value, "{{") && *c->labels.v[k].value)
			ru->match[ru->nmatch++] = (struct pw_label){c->labels.v[k].name,
								    c->labels.v[k].value};
	ru->as = astate_new(&(struct astate_opts){
		.name = c->alert, .for_ms = c->for_ms, .keep_firing_for_ms = c->keep_firing_for_ms,
		.limit = cg->limit, .outage_tolerance_ms = r->conf->global.outage_tolerance_ms,
		.match = ru->match, .nmatch = ru->nmatch});
	return 0;
}

int rules_new(const struct conf *c, struct store *st, struct rules **out, char **cause)
{
	struct rules *r = xcalloc(1, sizeof *r);
	*out = NULL;
	r->conf = c;
	r->st = st;
	r->qo.lookback_ms = c->global.lookback_delta_ms;
	r->qo.max_samples = (uint64_t)c->query.max_samples;
	r->qo.threads = (unsigned)c->query.threads;
	/* query.max_bytes per evaluation, as for an API query (0: no limit) */
	r->qo.max_bytes = c->query.max_bytes ? c->query.max_bytes : UINT64_MAX;
	r->qo.timeout_ms = c->query.timeout_ms;
	r->ext = xcalloc(c->global.external_labels.n + 1, sizeof *r->ext);
	for (size_t i = 0; i < c->global.external_labels.n; i++)
		r->ext[i] = (struct pw_label){c->global.external_labels.v[i].name,
					      c->global.external_labels.v[i].value};
	r->next = c->global.external_labels.n;
	pw_lbuild_init(&r->lb);
	r->g = xcalloc(c->nrule_groups + 1, sizeof *r->g);
	r->ng = c->nrule_groups;
	for (size_t g = 0; g < r->ng; g++) {
		const struct conf_rule_group *cg = &c->rule_groups[g];
		r->g[g].c = cg;
		r->g[g].rules = xcalloc(cg->nrules + 1, sizeof *r->g[g].rules);
		r->g[g].n = cg->nrules;
		for (size_t i = 0; i < cg->nrules; i++) {
			if (rule_init(r, cg, g, i, cause) != 0) {
				rules_free(r);
				return PW_EINVAL;
			}
		}
	}
	*out = r;
	return 0;
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	for (size_t g = 0; g < r->ng; g++) {
		for (size_t i = 0; i < r->g[g].n; i++) {
			struct rule *ru = &r->g[g].rules[i];
			query_expr_free(ru->x);
			astate_free(ru->as);
			output_free(&ru->out);
			free(ru->match);
			free(ru->last_error);
		}
		free(r->g[g].rules);
	}
	free(r->g);
	free(r->ext);
	pw_lbuild_free(&r->lb);
	free(r);
}

size_t rules_ngroups(const struct rules *r) { return r->ng; }

/* ---- evaluation ------------------------------------------------------------------------ */

/* one result series: its value and labels */
static void result_at(const struct query_result *res, size_t i, const struct pw_label **l,
		      size_t *n, double *v)
{
	if (res->type == QUERY_SCALAR) {
		*l = NULL;
		*n = 0;
		*v = res->scalar;
	} else {
		*l = res->series[i].labels;
		*n = res->series[i].nlabels;
		*v = res->series[i].pts[0].v;
	}
}

/* each result is an alert: the series' labels without the name, the rule's
 * labels (templates), alertname; annotations from templates */
static int eval_alerting(struct rules *r, struct rule *ru, const struct query_result *res,
			 int64_t t, struct store_batch *b, char **cause)
{
	const struct conf_rule *c = ru->c;
	size_t nres = res->type == QUERY_SCALAR ? 1 : res->nseries;
	struct pw_label *ann = xcalloc(c->annotations.n + 1, sizeof *ann);
	int rc = 0;

	astate_begin(ru->as, t);
	for (size_t i = 0; i < nres && rc == 0; i++) {
		const struct pw_label *sl;
		size_t snl;
		double v;
		result_at(res, i, &sl, &snl, &v);
		struct template_data td = {.labels = sl, .ext = r->ext, .nlabels = snl,
					   .next = r->next, .value = v};
		pw_lbuild_reset(&r->lb);
		pw_lbuild_add(&r->lb, sl, snl, "__name__");
		for (size_t k = 0; k < c->labels.n; k++)
			pw_lbuild_take(&r->lb, c->labels.v[k].name,
				       template_expand(c->labels.v[k].value, &td));
		pw_lbuild_set(&r->lb, "alertname", c->alert);
		pw_lbuild_sorted(&r->lb);
		for (size_t k = 0; k < c->annotations.n; k++)
			ann[k] = (struct pw_label){c->annotations.v[k].name,
						   template_expand(c->annotations.v[k].value, &td)};
		rc = astate_feed(ru->as, r->lb.l, r->lb.n, ann, c->annotations.n, v, t, cause);
		for (size_t k = 0; k < c->annotations.n; k++)
			free((char *)ann[k].value);
	}
	free(ann);
	if (rc != 0) {
		astate_cancel(ru->as);
		return rc;
	}
	return astate_end(ru->as, r->st, b, t, cause);
}

/* each result is a series, renamed, with the rule's labels */
static int eval_recording(struct rules *r, const struct group *g, struct rule *ru,
			  const struct query_result *res, int64_t t, struct store_batch *b,
			  char **cause)
{
	size_t nres = res->type == QUERY_SCALAR ? 1 : res->nseries;
	output_begin(&ru->out);
	for (size_t i = 0; i < nres; i++) {
		const struct pw_label *sl;
		size_t snl;
		double v;
		result_at(res, i, &sl, &snl, &v);
		pw_lbuild_reset(&r->lb);
		pw_lbuild_add(&r->lb, sl, snl, NULL);
		pw_lbuild_set(&r->lb, "__name__", ru->c->record);
		for (size_t k = 0; k < ru->c->labels.n; k++)
			pw_lbuild_set(&r->lb, ru->c->labels.v[k].name, ru->c->labels.v[k].value);
		pw_lbuild_sorted(&r->lb);
		if (output_has(&ru->out, r->lb.l, r->lb.n)) {
			*cause = xstrdup("vector contains metrics with the same labelset after "
					 "applying rule labels");
			output_abort(&ru->out);
			return PW_EINVAL;
		}
		if (g->c->limit > 0 && (int64_t)ru->out.ncur >= g->c->limit) {
			*cause = xasprintf("exceeded limit of %lld with %zu series",
					   (long long)g->c->limit, nres);
			output_abort(&ru->out);
			return PW_EINVAL;
		}
		output_put(&ru->out, b, r->lb.l, r->lb.n, t, v);
	}
	output_end(&ru->out, b, t);
	return 0;
}

/* one rule at t: its query, its results into the batch; the rule's error
 * (a failed query, a limit) is its health, kept in last_error */
static void eval_rule(struct rules *r, const struct group *g, struct rule *ru, int64_t t,
		      struct store_batch *b)
{
	struct query_result *res = NULL;
	struct query_error e = {0};
	char *why = NULL;
	int64_t t0 = pw_mono_ns();

	if (query_exec_instant(r->st, &r->qo, ru->x, t, &res, &e) != 0)
		why = xasprintf("%s: %s", query_errtype_name(e.type), e.msg ? e.msg : "failed");
	else if (ru->c->alert)
		eval_alerting(r, ru, res, t, b, &why);
	else
		eval_recording(r, g, ru, res, t, b, &why);
	free(ru->last_error);
	ru->last_error = why;
	ru->last_eval = t;
	ru->eval_s = (double)(pw_mono_ns() - t0) / 1e9;
	if (why)
		log_warnx("rules", "group \"%s\", rule %s: %s", g->c->name,
			  ru->c->alert ? ru->c->alert : ru->c->record, why);
	query_error_clear(&e);
	query_result_free(res);
}

int rules_eval_group(struct rules *r, size_t gi, int64_t t, char **cause)
{
	struct group *g = &r->g[gi];
	int64_t g0 = pw_mono_ns();
	int rc = 0;

	for (size_t i = 0; i < g->n && rc == 0; i++) {
		struct rule *ru = &g->rules[i];
		struct store_batch *b = store_batch_begin(r->st);
		eval_rule(r, g, ru, t, b);
		/* stored before the next rule runs, so a rule may build on the
		 * one before it, as in Prometheus */
		rc = store_batch_commit(b, cause);
		if (rc == 0) {
			/* the series' ids, so the next evaluation skips looking them up */
			if (ru->as)
				astate_resolve(ru->as, r->st);
			else
				output_resolve(&ru->out, r->st);
		}
	}
	g->last_eval = t;
	g->eval_s = (double)(pw_mono_ns() - g0) / 1e9;
	return rc;
}

int64_t rules_step(struct rules *r, int64_t now, bool *evaluated)
{
	int64_t next = now + 60000;
	for (size_t g = 0; g < r->ng; g++) {
		struct group *gr = &r->g[g];
		int64_t iv = gr->c->interval_ms > 0 ? gr->c->interval_ms : 60000;
		if (gr->next == 0)
			gr->next = now - now % iv; /* the first evaluation at once */
		if (now >= gr->next) {
			int64_t t = now - now % iv; /* aligned; missed intervals are skipped */
			char *cause = NULL;
			if (rules_eval_group(r, g, t, &cause) != 0) {
				log_error("rules", "group \"%s\": writing results: %s", gr->c->name,
					  cause ? cause : "failed");
				free(cause);
			}
			gr->next = t + iv;
			*evaluated = true;
		}
		if (gr->next < next)
			next = gr->next;
	}
	return next;
}

/* ---- views ---------------------------------------------------------------------------------- */

static struct pw_label *kvs_labels(const struct conf_kvs *kv)
{
	struct pw_label *l = xcalloc(kv->n + 1, sizeof *l);
	for (size_t i = 0; i < kv->n; i++)
		l[i] = (struct pw_label){kv->v[i].name, kv->v[i].value};
	return l;
}

void rules_meta(const struct rules *r, struct view_meta *m)
{
	for (size_t g = 0; g < r->ng; g++) {
		const struct conf_rule_group *cg = r->g[g].c;
		view_meta_add_group(m, cg->name, r->conf->path, cg->interval_ms, cg->limit);
		for (size_t i = 0; i < cg->nrules; i++) {
			const struct conf_rule *c = &cg->rules[i];
			struct pw_label *l = kvs_labels(&c->labels), *a = kvs_labels(&c->annotations);
			view_meta_add_rule(m, &(struct view_meta_rule){
				.name = c->alert ? c->alert : c->record, .alerting = c->alert != NULL,
				.query = c->expr, .for_ms = c->for_ms,
				.keep_firing_for_ms = c->keep_firing_for_ms, .labels = l,
				.nlabels = c->labels.n, .annotations = a,
				.nannotations = c->annotations.n});
			free(l);
			free(a);
		}
	}
}

void rules_view(const struct rules *r, struct view *v, size_t g0, size_t r0)
{
	size_t ri = r0;
	for (size_t g = 0; g < r->ng; g++) {
		v->groups[g0 + g].eval_s = r->g[g].eval_s;
		v->groups[g0 + g].last_eval = r->g[g].last_eval;
		for (size_t i = 0; i < r->g[g].n; i++, ri++) {
			const struct rule *ru = &r->g[g].rules[i];
			v->rules[ri].last_error = view_str(v, ru->last_error);
			v->rules[ri].eval_s = ru->eval_s;
			v->rules[ri].last_eval = ru->last_eval;
			v->rules[ri].alert0 = v->nalerts;
			if (ru->as)
				astate_view(ru->as, v, ri);
		}
	}
}
