/*
 * status.c — what the notifier shows: /api/v1/notifications (each receiver's
 * lane with its counters and last error, the aggregation groups, every
 * queued notification) and the pacewatch_notifications_* metrics.
 * Beside the flow alert → route → group → render → outbox → transport: it
 * only reads the groups, the lanes and the outbox.
 */
#include "notify_int.h"

#include <string.h>

static const char *jstr(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

struct json_ctx {
	struct notify *n;
	struct pw_buf *b;
	int w;
	int64_t now;
};

static int json_entry_cb(void *ctx, const void *k, size_t kn, const void *v, size_t vn)
{
	struct json_ctx *x = ctx;
	json_error_t je;
	json_t *o;
	char t[64];
	if (kn != 10 || !(o = json_loadb(v, vn, 0, &je)))
		return 0;
	if (x->w++)
		pw_buf_putc(x->b, ',');
	pw_buf_printf(x->b, "{\"id\":%llu,\"receiver\":", (unsigned long long)outbox_id(k));
	pw_buf_json_string(x->b, jstr(o, "lane"));
	pw_buf_puts(x->b, ",\"kind\":");
	pw_buf_json_string(x->b, jstr(o, "kind"));
	pw_fmt_time(t, sizeof t, (int64_t)json_integer_value(json_object_get(o, "created")));
	pw_buf_puts(x->b, ",\"queuedAt\":");
	pw_buf_json_string(x->b, t);
	pw_buf_printf(x->b, ",\"attempts\":%lld,\"alerts\":%lld",
		      (long long)json_integer_value(json_object_get(o, "attempts")),
		      (long long)json_integer_value(json_object_get(o, "alerts")));
	if (json_object_get(o, "group")) {
		pw_buf_puts(x->b, ",\"group\":");
		pw_buf_json_string(x->b, jstr(o, "group"));
	}
	if (json_object_get(o, "subject")) {
		pw_buf_puts(x->b, ",\"subject\":");
		pw_buf_json_string(x->b, jstr(o, "subject"));
	}
	if (json_object_get(o, "message_id")) {
		pw_buf_puts(x->b, ",\"messageId\":");
		pw_buf_json_string(x->b, jstr(o, "message_id"));
	}
	if (json_object_get(o, "error")) {
		pw_buf_puts(x->b, ",\"lastError\":");
		pw_buf_json_string(x->b, jstr(o, "error"));
		pw_fmt_time(t, sizeof t, (int64_t)json_integer_value(json_object_get(o, "next")));
		pw_buf_puts(x->b, ",\"nextAttempt\":");
		pw_buf_json_string(x->b, t);
	}
	pw_buf_putc(x->b, '}');
	json_decref(o);
	return 0;
}

static int64_t oldest(const struct lane *l)
{
	int64_t o = 0;
	for (size_t i = 0; i < l->nq; i++)
		if (!o || l->q[i].created < o)
			o = l->q[i].created;
	return o;
}

void notify_json(struct notify *n, struct pw_buf *b)
{
	struct json_ctx x = {n, b, 0, pw_now_ms()};
	char t[64];
	pw_buf_puts(b, "{\"receivers\":[");
	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < n->nlanes; i++) {
		const struct lane *l = &n->lanes[i];
		static const char *const kinds[] = {"email", "webhook", "alertmanager"};
		if (i)
			pw_buf_putc(b, ',');
		pw_buf_puts(b, "{\"name\":");
		pw_buf_json_string(b, l->name);
		pw_buf_printf(b, ",\"kind\":\"%s\",\"target\":",
			      kinds[n->c->notify.receivers[l->recv].kind]);
		pw_buf_json_string(b, l->target);
		pw_buf_printf(b, ",\"queued\":%zu,\"sent\":%llu,\"failed\":%llu,\"dropped\":%llu", l->nq,
			      (unsigned long long)l->sent, (unsigned long long)l->failed,
			      (unsigned long long)l->dropped);
		int64_t o = oldest(l);
		pw_buf_printf(b, ",\"oldestQueuedAgeSeconds\":%.3f",
			      o ? (double)(x.now - o) / 1000.0 : 0.0);
		if (l->last_error) {
			pw_buf_puts(b, ",\"lastError\":");
			pw_buf_json_string(b, l->last_error);
			pw_fmt_time(t, sizeof t, l->last_error_at);
			pw_buf_puts(b, ",\"lastErrorAt\":");
			pw_buf_json_string(b, t);
		}
		pw_buf_putc(b, '}');
	}
	pw_buf_puts(b, "],\"groups\":[");
	for (size_t i = 0; i < n->ng; i++) {
		const struct ngroup *g = n->g[i];
		size_t nf = 0;
		for (size_t j = 0; j < g->n; j++)
			nf += g->a[j]->firing;
		if (i)
			pw_buf_putc(b, ',');
		pw_buf_puts(b, "{\"receiver\":");
		pw_buf_json_string(b, n->c->notify.receivers[g->route->recv].name);
		pw_buf_puts(b, ",\"groupKey\":");
		pw_buf_json_string(b, g->gkey);
		pw_buf_puts(b, ",\"labels\":");
		pw_buf_json_labels(b, g->gl->l, g->gl->n);
		pw_fmt_time(t, sizeof t, g->next_flush);
		pw_buf_printf(b, ",\"firing\":%zu,\"resolved\":%zu,\"nextFlush\":", nf, g->n - nf);
		pw_buf_json_string(b, t);
		pw_buf_putc(b, '}');
	}
	pthread_mutex_unlock(&n->lock);
	pw_buf_puts(b, "],\"queued\":[");
	store_rec_scan(n->st, "o/", 2, json_entry_cb, &x);
	pw_buf_puts(b, "]}");
}

void notify_metrics(struct notify *n, struct pw_buf *b, bool om)
{
	int64_t t = pw_now_ms();
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{"pacewatch_notifications_sent_total", "counter", "Notifications delivered."},
		{"pacewatch_notifications_failed_total", "counter",
		 "Delivery attempts that failed (retried later)."},
		{"pacewatch_notifications_dropped_total", "counter",
		 "Notifications given up: refused permanently or older than notify.max_age."},
		{"pacewatch_notifications_queued", "gauge", "Notifications waiting in the outbox."},
		{"pacewatch_notifications_oldest_queued_age_seconds", "gauge",
		 "Age of the oldest notification waiting in the outbox (0: none)."},
	};
	pthread_mutex_lock(&n->lock);
	for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
		pw_buf_metric_header(b, m[k].name, m[k].type, m[k].help, om);
		for (size_t i = 0; i < n->nlanes; i++) {
			const struct lane *l = &n->lanes[i];
			int64_t o = oldest(l);
			pw_buf_printf(b, "%s{receiver=", m[k].name);
			pw_buf_json_string(b, l->name);
			switch (k) {
			case 0: pw_buf_printf(b, "} %llu\n", (unsigned long long)l->sent); break;
			case 1: pw_buf_printf(b, "} %llu\n", (unsigned long long)l->failed); break;
			case 2: pw_buf_printf(b, "} %llu\n", (unsigned long long)l->dropped); break;
			case 3: pw_buf_printf(b, "} %zu\n", l->nq); break;
			default:
				pw_buf_printf(b, "} %.3f\n", o ? (double)(t - o) / 1000.0 : 0.0);
			}
		}
	}
	pthread_mutex_unlock(&n->lock);
}
