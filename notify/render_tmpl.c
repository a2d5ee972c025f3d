/*
 * render_tmpl.c — notification templates from files (subject, text, HTML):
 * {{ range .Alerts }} ... {{ end }} (and .Alerts.Firing, .Alerts.Resolved)
 * around the engine of template/, with Alertmanager's fields of a group and
 * of an alert (docs/notifications.md lists them). Called by render_email.c.
 * Flow: alert → route → group → [render] → outbox → transport.
 */
#include "notify_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void alert_fields(const struct nalert *a, struct pw_label *f, char (*buf)[64])
{
	go_time(buf[0], 64, a->starts_ms);
	go_time(buf[1], 64, a->ends_ms);
	snprintf(buf[2], 64, "%016llx", (unsigned long long)nalert_fp(a));
	f[0] = (struct pw_label){".Status", a->firing ? "firing" : "resolved"};
	f[1] = (struct pw_label){".StartsAt", buf[0]};
	f[2] = (struct pw_label){".EndsAt", buf[1]};
	f[3] = (struct pw_label){".Fingerprint", buf[2]};
	f[4] = (struct pw_label){".GeneratorURL", a->generator_url ? a->generator_url : ""};
}

static char *expand_tmpl(const char *t, const struct nmsg *m, const struct nalert *a, bool html)
{
	struct pw_label *cl, *ca;
	size_t ncl, nca;
	char nums[2][32], buf[3][64];
	struct pw_label f[12];
	size_t nf = 0;
	cl = render_common(m->alerts, m->n, false, &ncl);
	ca = render_common(m->alerts, m->n, true, &nca);
	struct template_map maps[] = {
		{".GroupLabels.", m->group_labels->l, m->group_labels->n},
		{".CommonLabels.", cl, ncl},
		{".CommonAnnotations.", ca, nca},
		{"$annotations.", a ? a->ann->l : NULL, a ? a->ann->n : 0},
		{".Annotations.", a ? a->ann->l : NULL, a ? a->ann->n : 0},
	};
	snprintf(nums[0], sizeof nums[0], "%zu", m->nfiring);
	snprintf(nums[1], sizeof nums[1], "%zu", m->n - m->nfiring);
	if (a) {
		alert_fields(a, f, buf);
		nf = 5;
	} else {
		f[nf++] = (struct pw_label){".Status", m->nfiring ? "firing" : "resolved"};
	}
	f[nf++] = (struct pw_label){".Receiver", m->rc->name};
	f[nf++] = (struct pw_label){".ExternalURL", m->external_url ? m->external_url : ""};
	f[nf++] = (struct pw_label){".DashboardURL", m->dashboard_url ? m->dashboard_url : ""};
	f[nf++] = (struct pw_label){".GroupKey", m->group_key};
	f[nf++] = (struct pw_label){".NumFiring", nums[0]};
	f[nf++] = (struct pw_label){".NumResolved", nums[1]};
	struct template_data d = {.labels = a ? a->labels->l : NULL, .nlabels = a ? a->labels->n : 0,
			      .value = a ? a->value : NAN, .maps = maps,
			      .nmaps = sizeof maps / sizeof maps[0], .fields = f, .nfields = nf,
			      .html = html};
	char *out = template_expand(t, &d);
	free(cl);
	free(ca);
	return out;
}

static const char *range_open(const char *p, int *which, const char **body)
{
	/* {{ range .Alerts }}, {{ range .Alerts.Firing }}, {{ range .Alerts.Resolved }} */
	static const char *const forms[] = {".Alerts.Firing", ".Alerts.Resolved", ".Alerts"};
	for (const char *o = strstr(p, "{{"); o; o = strstr(o + 2, "{{")) {
		const char *q = o + 2;
		if (*q == '-')
			q++;
		while (*q == ' ')
			q++;
		if (strncmp(q, "range", 5) != 0)
			continue;
		q += 5;
		while (*q == ' ')
			q++;
		for (int f = 0; f < 3; f++) {
			size_t l = strlen(forms[f]);
			if (strncmp(q, forms[f], l) == 0) {
				const char *c = strstr(q, "}}");
				if (!c)
					return NULL;
				*which = f;
				*body = c + 2;
				return o;
			}
		}
	}
	return NULL;
}

/* where the {{ end }} (or {{end}}) of a range's body is, *el its length; NULL: none */
static const char *range_end(const char *body, size_t *el)
{
	const char *end = strstr(body, "{{ end }}");
	*el = 9;
	if (!end) {
		end = strstr(body, "{{end}}");
		*el = 7;
	}
	return end;
}

char *render_template(const char *t, const struct nmsg *m, bool html)
{
	struct pw_buf out;
	const char *p = t;
	pw_buf_init(&out, 0);
	pw_buf_puts(&out, "");
	for (;;) {
		int which;
		const char *body;
		const char *o = range_open(p, &which, &body);
		if (!o) {
			char *x = expand_tmpl(p, m, NULL, html);
			pw_buf_puts(&out, x);
			free(x);
			break;
		}
		char *head = xstrndup(p, (size_t)(o - p));
		char *x = expand_tmpl(head, m, NULL, html);
		pw_buf_puts(&out, x);
		free(x);
		free(head);
		size_t el;
		const char *end = range_end(body, &el);
		if (!end) {
			pw_buf_puts(&out, "<error expanding template: range without {{ end }}>");
			break;
		}
		char *inner = xstrndup(body, (size_t)(end - body));
		for (size_t i = 0; i < m->n; i++) {
			const struct nalert *a = m->alerts[i];
			if ((which == 0 && !a->firing) || (which == 1 && a->firing))
				continue;
			x = expand_tmpl(inner, m, a, html);
			pw_buf_puts(&out, x);
			free(x);
		}
		free(inner);
		p = end + el;
	}
	return pw_buf_take(&out);
}

/* ---- checking, before any alert ---------------------------------------------------- */

/* t (length n, at offset off in the whole template) checked with the names
 * expand_tmpl gives a group (alert false) or an alert */
static int check_part(const char *t, size_t n, size_t off, bool alert, bool html, size_t *at,
		      char **cause)
{
	static const struct pw_label group_f[] = {
		{".Status", ""},   {".Receiver", ""},  {".ExternalURL", ""}, {".DashboardURL", ""},
		{".GroupKey", ""}, {".NumFiring", ""}, {".NumResolved", ""}};
	static const struct pw_label alert_f[] = {
		{".Status", ""},       {".StartsAt", ""},  {".EndsAt", ""},
		{".Fingerprint", ""},  {".GeneratorURL", ""}, {".Receiver", ""},
		{".ExternalURL", ""},  {".DashboardURL", ""}, {".GroupKey", ""},
		{".NumFiring", ""},    {".NumResolved", ""}};
	static const struct template_map maps[] = {
		{".GroupLabels.", NULL, 0},   {".CommonLabels.", NULL, 0},
		{".CommonAnnotations.", NULL, 0}, {"$annotations.", NULL, 0},
		{".Annotations.", NULL, 0},
	};
	struct template_data d = {.value = NAN, .maps = maps, .nmaps = sizeof maps / sizeof maps[0],
				  .fields = alert ? alert_f : group_f,
				  .nfields = alert ? sizeof alert_f / sizeof alert_f[0]
						   : sizeof group_f / sizeof group_f[0],
				  .html = html};
	char *part = xstrndup(t, n);
	int rc = template_check(part, &d, at, cause);
	free(part);
	*at += off;
	return rc;
}

int notify_check_template(const char *t, bool html, size_t *at, char **cause)
{
	const char *p = t;
	*at = 0;
	*cause = NULL;
	for (;;) {
		int which;
		const char *body;
		const char *o = range_open(p, &which, &body);
		if (!o)
			return check_part(p, strlen(p), (size_t)(p - t), false, html, at, cause);
		if (check_part(p, (size_t)(o - p), (size_t)(p - t), false, html, at, cause))
			return PW_EINVAL;
		size_t el;
		const char *end = range_end(body, &el);
		if (!end) {
			*at = (size_t)(o - t);
			*cause = xstrdup("range without {{ end }}");
			return PW_EINVAL;
		}
		if (check_part(body, (size_t)(end - body), (size_t)(body - t), true, html, at, cause))
			return PW_EINVAL;
		p = end + el;
	}
}
