/*
 * view_json.c — a view as JSON: Prometheus' /api/v1/rules and /api/v1/alerts
 * shapes, field for field, and pacewatch's /api/v1/kpis (also what
 * `pacewatch kpi --json` prints).
 */
#include "view.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void jlset(struct pw_buf *b, const struct pw_lset *s)
{
	if (s)
		pw_buf_json_labels(b, s->l, s->n);
	else
		pw_buf_puts(b, "{}");
}

/* Prometheus' time.Time JSON: RFC 3339; the zero time when never */
static void json_rfc3339(struct pw_buf *b, int64_t ms, bool zero_is_never)
{
	char t[64];
	if (ms == 0 && zero_is_never)
		snprintf(t, sizeof t, "0001-01-01T00:00:00Z");
	else
		pw_fmt_time(t, sizeof t, ms);
	pw_buf_json_string(b, t);
}

static void jalert(struct pw_buf *b, const struct view_alert *a)
{
	char num[400];
	pw_buf_puts(b, "{\"labels\":");
	jlset(b, a->labels);
	pw_buf_puts(b, ",\"annotations\":");
	jlset(b, a->annotations);
	pw_buf_printf(b, ",\"state\":\"%s\",\"activeAt\":", view_alert_state_name(a->state));
	json_rfc3339(b, a->active_at, false);
	pw_buf_puts(b, ",\"value\":");
	pw_fmt_float(num, sizeof num, a->value, PW_FMT_GO_E);
	pw_buf_json_string(b, num);
	pw_buf_putc(b, '}');
}

static void jkvs(struct pw_buf *b, const struct pw_label *l, size_t n)
{
	pw_buf_json_labels(b, l, n); /* in the configured order */
}

static void jrule(struct pw_buf *b, const struct view *v, size_t ri)
{
	const struct view_meta_rule *m = &v->meta->rules[ri];
	const struct view_rule *r = &v->rules[ri];
	if (m->alerting) {
		enum view_alert_state st = VIEW_INACTIVE;
		for (size_t k = 0; k < r->nalerts; k++)
			if (v->alerts[r->alert0 + k].state > st)
				st = v->alerts[r->alert0 + k].state;
		pw_buf_printf(b, "{\"state\":\"%s\",\"name\":", view_alert_state_name(st));
		pw_buf_json_string(b, m->name);
		pw_buf_puts(b, ",\"query\":");
		pw_buf_json_string(b, m->query ? m->query : "(the KPI engine)");
		pw_buf_printf(b, ",\"duration\":%g,\"keepFiringFor\":%g,\"labels\":",
			      (double)m->for_ms / 1000, (double)m->keep_firing_for_ms / 1000);
		jkvs(b, m->labels, m->nlabels);
		pw_buf_puts(b, ",\"annotations\":");
		jkvs(b, m->annotations, m->nannotations);
		pw_buf_puts(b, ",\"alerts\":[");
		for (size_t k = 0, w = 0; k < r->nalerts; k++) {
			const struct view_alert *a = &v->alerts[r->alert0 + k];
			if (a->state == VIEW_INACTIVE)
				continue;
			if (w++)
				pw_buf_putc(b, ',');
			jalert(b, a);
		}
		pw_buf_putc(b, ']');
	} else {
		pw_buf_puts(b, "{\"name\":");
		pw_buf_json_string(b, m->name);
		pw_buf_puts(b, ",\"query\":");
		pw_buf_json_string(b, m->query);
		pw_buf_puts(b, ",\"labels\":");
		jkvs(b, m->labels, m->nlabels);
	}
	pw_buf_printf(b, ",\"health\":\"%s\",\"lastError\":",
		      r->last_eval == 0 ? "unknown" : r->last_error ? "err" : "ok");
	pw_buf_json_string(b, r->last_error ? r->last_error : "");
	pw_buf_printf(b, ",\"evaluationTime\":%.6f,\"lastEvaluation\":", r->eval_s);
	json_rfc3339(b, r->last_eval, true);
	pw_buf_printf(b, ",\"type\":\"%s\"}", m->alerting ? "alerting" : "recording");
}

void view_json_rules(const struct view *v, struct pw_buf *b, const char *type)
{
	pw_buf_puts(b, "{\"groups\":[");
	for (size_t g = 0; v && g < v->meta->ngroups; g++) {
		const struct view_meta_group *mg = &v->meta->groups[g];
		bool first = true;
		if (g)
			pw_buf_putc(b, ',');
		pw_buf_puts(b, "{\"name\":");
		pw_buf_json_string(b, mg->name);
		pw_buf_puts(b, ",\"file\":");
		pw_buf_json_string(b, mg->file);
		pw_buf_puts(b, ",\"rules\":[");
		for (size_t i = 0; i < mg->nrules; i++) {
			size_t ri = mg->rule0 + i;
			if (type && strcmp(type, v->meta->rules[ri].alerting ? "alert" : "record") != 0)
				continue;
			if (!first)
				pw_buf_putc(b, ',');
			first = false;
			jrule(b, v, ri);
		}
		pw_buf_printf(b, "],\"interval\":%g,\"limit\":%lld,\"evaluationTime\":%.6f,"
				 "\"lastEvaluation\":",
			      (double)mg->interval_ms / 1000, (long long)mg->limit, v->groups[g].eval_s);
		json_rfc3339(b, v->groups[g].last_eval, true);
		pw_buf_putc(b, '}');
	}
	pw_buf_puts(b, "]}");
}

void view_json_alerts(const struct view *v, struct pw_buf *b)
{
	size_t w = 0;
	pw_buf_puts(b, "{\"alerts\":[");
	for (size_t i = 0; v && i < v->nalerts; i++) {
		if (v->alerts[i].state == VIEW_INACTIVE)
			continue;
		if (w++)
			pw_buf_putc(b, ',');
		jalert(b, &v->alerts[i]);
	}
	pw_buf_puts(b, "]}");
}

static void jnum(struct pw_buf *b, double x)
{
	char n[400];
	if (isnan(x) || isinf(x)) {
		pw_buf_puts(b, "null");
		return;
	}
	pw_fmt_float(n, sizeof n, x, PW_FMT_GO_F);
	pw_buf_puts(b, n);
}

static const char *const kind_names[] = {"level", "coverage", "quota", "peers"};

static void jnum_field(struct pw_buf *b, const char *name, double x)
{
	pw_buf_printf(b, ",\"%s\":", name);
	jnum(b, x);
}

static void junit(struct pw_buf *b, const struct view_unit *u)
{
	char t[64];
	bool first = true;
	pw_buf_puts(b, "{\"labels\":");
	jlset(b, u->labels);
	pw_buf_puts(b, ",\"name\":");
	pw_buf_json_string(b, u->name ? u->name : "");
	pw_buf_printf(b, ",\"status\":\"%s\",\"conditions\":[", view_status_name(u->status));
	for (int c = 0; c < VIEW_ON_TRACK; c++) {
		if (!(u->conds & VIEW_COND(c)))
			continue;
		pw_buf_printf(b, "%s\"%s\"", first ? "" : ",", view_status_name(c));
		first = false;
	}
	pw_buf_putc(b, ']');
	jnum_field(b, "value", u->value);
	jnum_field(b, "target", u->target);
	jnum_field(b, "baseline", u->baseline);
	jnum_field(b, "expected", u->expected);
	jnum_field(b, "forecast", u->forecast);
	jnum_field(b, "progress", u->progress);
	jnum_field(b, "expected_progress", u->expected_progress);
	jnum_field(b, "gap", u->gap);
	jnum_field(b, "gap_target", u->gap_target);
	pw_buf_puts(b, ",\"last_seen\":");
	if (u->last_seen) {
		pw_fmt_time(t, sizeof t, u->last_seen);
		pw_buf_json_string(b, t);
	} else {
		pw_buf_puts(b, "null");
	}
	pw_buf_putc(b, '}');
}

static void jtime_field(struct pw_buf *b, const char *name, int64_t ms)
{
	char t[64];
	pw_buf_printf(b, ",\"%s\":", name);
	if (!ms) {
		pw_buf_puts(b, "null");
		return;
	}
	pw_fmt_time(t, sizeof t, ms);
	pw_buf_json_string(b, t);
}

static void jstr_field(struct pw_buf *b, const char *name, const char *s)
{
	pw_buf_printf(b, ",\"%s\":", name);
	if (s)
		pw_buf_json_string(b, s);
	else
		pw_buf_puts(b, "null");
}

void view_json_kpis(const struct view *v, struct pw_buf *b)
{
	pw_buf_puts(b, "{\"kpis\":[");
	for (size_t i = 0; v && i < v->meta->nkpis; i++) {
		const struct view_meta_kpi *k = &v->meta->kpis[i];
		const struct view_kpi *vk = &v->kpis[i];
		if (i)
			pw_buf_putc(b, ',');
		pw_buf_puts(b, "{\"name\":");
		pw_buf_json_string(b, k->name);
		jstr_field(b, "title", k->title);
		pw_buf_printf(b, ",\"kind\":\"%s\",\"direction\":\"%s\"", kind_names[k->kind],
			      k->at_most ? "at_most" : "at_least");
		jtime_field(b, "start", k->start_ms);
		jtime_field(b, "deadline", k->deadline_ms);
		jstr_field(b, "deadline_display", k->deadline_text);
		jstr_field(b, "period", vk->period);
		jstr_field(b, "previous_period", vk->previous_period);
		jstr_field(b, "item", k->item);
		jstr_field(b, "owner", k->owner);
		jstr_field(b, "contact", k->contact);
		jstr_field(b, "runbook", k->runbook);
		jtime_field(b, "evaluated_at", vk->evaluated_at);
		pw_buf_puts(b, ",\"units\":[");
		for (size_t j = 0; j < vk->nunits; j++) {
			if (j)
				pw_buf_putc(b, ',');
			junit(b, &v->units[vk->unit0 + j]);
		}
		pw_buf_puts(b, "]}");
	}
	pw_buf_puts(b, "]}");
}
