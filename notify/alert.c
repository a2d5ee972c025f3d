/*
 * alert.c — alerts as notifications carry them (struct nalert): the newest
 * view's firing and resolved alerts (pending ones are not notified) with
 * the external labels added, as Prometheus adds them to the alerts it
 * sends, and the generatorURL; copied into groups by reference counts.
 * Flow: [alert] → route → group → render → outbox → transport.
 */
#include "notify_int.h"

#include <stdlib.h>

struct nalert *nalert_copy(const struct nalert *a)
{
	struct nalert *c = xmalloc(sizeof *c);
	*c = *a;
	c->labels = pw_lset_ref(a->labels);
	c->ann = pw_lset_ref(a->ann);
	c->generator_url = a->generator_url ? xstrdup(a->generator_url) : NULL;
	return c;
}

void nalert_free(struct nalert *a)
{
	if (!a)
		return;
	pw_lset_unref(a->labels);
	pw_lset_unref(a->ann);
	free(a->generator_url);
	free(a);
}

/* the labels with the external ones added (a reference to l when there
 * are none); Prometheus' rule: an alert's own label wins */
static struct pw_lset *with_external(struct pw_lset *l, const struct conf_kvs *ext)
{
	struct pw_lbuild b;
	struct pw_lset *s;
	if (!ext->n)
		return pw_lset_ref(l);
	pw_lbuild_init(&b);
	for (size_t i = 0; i < ext->n; i++)
		pw_lbuild_set(&b, ext->v[i].name, ext->v[i].value);
	pw_lbuild_add(&b, l->l, l->n, NULL);
	s = pw_lbuild_lset(&b);
	pw_lbuild_free(&b);
	return s;
}

/* Prometheus' generatorURL: the rule's expression in the graph page, or
 * the KPIs for a KPI alert */
static char *generator_url(const char *external_url, const char *query)
{
	struct pw_buf u;
	pw_buf_init(&u, 0);
	pw_buf_puts(&u, external_url ? external_url : "");
	if (query) {
		pw_buf_puts(&u, "/graph?g0.expr=");
		url_escape(&u, query);
		pw_buf_puts(&u, "&g0.tab=1");
	} else {
		pw_buf_puts(&u, "/api/v1/kpis");
	}
	return pw_buf_take(&u);
}

static struct nalert *nalert_of(const struct view *v, const struct view_alert *va,
				const struct conf *c)
{
	const struct view_meta_rule *mr = &v->meta->rules[va->rule];
	struct nalert *a = xcalloc(1, sizeof *a);
	a->labels = with_external(va->labels, &c->global.external_labels);
	a->ann = va->annotations ? pw_lset_ref(va->annotations) : pw_lset_new(NULL, 0);
	a->firing = va->state == VIEW_FIRING;
	a->starts_ms = va->active_at;
	a->ends_ms = a->firing ? 0 : va->resolved_at;
	a->value = va->value;
	a->generator_url = generator_url(c->notify.external_url, mr->query);
	a->interval_ms = v->meta->groups[mr->group].interval_ms;
	return a;
}

size_t nalerts_of_view(const struct view *v, const struct conf *c, struct nalert ***out)
{
	size_t n = 0;
	*out = xcalloc((v ? v->nalerts : 0) + 1, sizeof **out);
	for (size_t i = 0; v && i < v->nalerts; i++)
		if (v->alerts[i].state != VIEW_PENDING)
			(*out)[n++] = nalert_of(v, &v->alerts[i], c);
	return n;
}
