/*
 * render_json.c — the JSON notifications: Alertmanager's webhook payload
 * (version 4, field for field) for a group, and the body of Alertmanager's
 * POST /api/v2/alerts for forwarded alerts (am.c).
 * Flow: alert → route → group → [render] → outbox → transport.
 */
#include "notify_int.h"

#include <stdlib.h>

static void alert_json(struct pw_buf *b, const struct nalert *a, bool webhook)
{
	char t[64];
	pw_buf_putc(b, '{');
	if (webhook)
		pw_buf_printf(b, "\"status\":\"%s\",", a->firing ? "firing" : "resolved");
	pw_buf_puts(b, "\"labels\":");
	pw_buf_json_labels(b, a->labels->l, a->labels->n);
	pw_buf_puts(b, ",\"annotations\":");
	pw_buf_json_labels(b, a->ann->l, a->ann->n);
	go_time(t, sizeof t, a->starts_ms);
	pw_buf_printf(b, ",\"startsAt\":\"%s\"", t);
	go_time(t, sizeof t, a->firing ? (webhook ? 0 : a->valid_until_ms) : a->ends_ms);
	pw_buf_printf(b, ",\"endsAt\":\"%s\",\"generatorURL\":", t);
	pw_buf_json_string(b, a->generator_url ? a->generator_url : "");
	if (webhook)
		pw_buf_printf(b, ",\"fingerprint\":\"%016llx\"", (unsigned long long)nalert_fp(a));
	pw_buf_putc(b, '}');
}

char *render_webhook(const struct nmsg *m, size_t max_alerts)
{
	struct pw_buf b;
	size_t n = max_alerts && m->n > max_alerts ? max_alerts : m->n, ncl, nca;
	struct pw_label *cl = render_common(m->alerts, m->n, false, &ncl);
	struct pw_label *ca = render_common(m->alerts, m->n, true, &nca);
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "{\"receiver\":");
	pw_buf_json_string(&b, m->rc->name);
	pw_buf_printf(&b, ",\"status\":\"%s\",\"alerts\":[", m->nfiring ? "firing" : "resolved");
	for (size_t i = 0; i < n; i++) {
		if (i)
			pw_buf_putc(&b, ',');
		alert_json(&b, m->alerts[i], true);
	}
	pw_buf_puts(&b, "],\"groupLabels\":");
	pw_buf_json_labels(&b, m->group_labels->l, m->group_labels->n);
	pw_buf_puts(&b, ",\"commonLabels\":");
	pw_buf_json_labels(&b, cl, ncl);
	pw_buf_puts(&b, ",\"commonAnnotations\":");
	pw_buf_json_labels(&b, ca, nca);
	pw_buf_puts(&b, ",\"externalURL\":");
	pw_buf_json_string(&b, m->external_url ? m->external_url : "");
	pw_buf_puts(&b, ",\"version\":\"4\",\"groupKey\":");
	pw_buf_json_string(&b, m->group_key);
	pw_buf_printf(&b, ",\"truncatedAlerts\":%zu}", m->n - n);
	free(cl);
	free(ca);
	return pw_buf_take(&b);
}

char *render_am(struct nalert *const *a, size_t n)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			pw_buf_putc(&b, ',');
		alert_json(&b, a[i], false);
	}
	pw_buf_putc(&b, ']');
	return pw_buf_take(&b);
}
