/*
 * status.c — what the notifier shows: /api/v1/notifications and the
 * pacewatch_notifications_* metrics, from a copy of the groups published
 * after each step and the lanes' counters, formatted with no lock held.
 * Beside the flow alert → route → group → render → outbox → transport.
 */
#include "notify_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * The groups belong to the thread of notify_step, so after each step it
 * publishes an immutable copy of them (struct gsnap in a pw_slot). A status
 * (struct notify_status) is that copy, the lanes' counters copied under the
 * notifier's lock, and the store, whose outbox is read when the status is
 * formatted. It owns copies of everything it shows, so it outlives the
 * notifier (a reload).
 */

/* ---- the groups, published after each step ---------------------------------- */

/* One aggregation group as the status shows it. Strings are copies: the
 * snapshot may outlive the notifier and its configuration. */
struct gsnap_group {
	char *receiver, *gkey;
	struct pw_lset *labels; /* a reference */
	size_t firing, resolved;
	int64_t next_flush;
};

struct gsnap {
	struct pw_shared sh;
	struct gsnap_group *g;
	size_t n;
};

static void gsnap_free(struct pw_shared *sh)
{
	struct gsnap *s = (struct gsnap *)sh;
	for (size_t i = 0; i < s->n; i++) {
		free(s->g[i].receiver);
		free(s->g[i].gkey);
		pw_lset_unref(s->g[i].labels);
	}
	free(s->g);
	free(s);
}

void status_publish(struct notify *n)
{
	struct gsnap *s = xcalloc(1, sizeof *s);
	pw_shared_init(&s->sh, gsnap_free);
	s->g = xcalloc(n->ng + 1, sizeof *s->g);
	for (size_t i = 0; i < n->ng; i++) {
		const struct ngroup *g = n->g[i];
		struct gsnap_group *o = &s->g[s->n++];
		for (size_t j = 0; j < g->n; j++)
			o->firing += g->a[j]->firing;
		o->resolved = g->n - o->firing;
		o->receiver = xstrdup(n->c->notify.receivers[g->route->recv].name);
		o->gkey = xstrdup(g->gkey);
		o->labels = pw_lset_ref(g->gl);
		o->next_flush = g->next_flush;
	}
	pw_slot_publish(n->groups, &s->sh);
}

/* ---- taking a status ------------------------------------------------------------ */

/* A lane's numbers, copied. */
struct lane_status {
	char *name, *target;
	const char *kind; /* static */
	size_t queued;
	uint64_t sent, failed, dropped;
	int64_t oldest; /* when the oldest queued one was queued; 0: none */
	char *last_error;
	int64_t last_error_at;
};

struct notify_status {
	struct store *st;
	struct pw_lset *ext; /* global.external_labels: alerts' fingerprints */
	struct lane_status *lanes;
	size_t nlanes;
	struct gsnap *groups; /* a reference; NULL before the first step */
};

static int64_t oldest(const struct lane *l)
{
	int64_t o = 0;
	for (size_t i = 0; i < l->nq; i++)
		if (!o || l->q[i].created < o)
			o = l->q[i].created;
	return o;
}

struct notify_status *notify_status_take(struct notify *n)
{
	struct notify_status *s;
	if (!n)
		return NULL;
	s = xcalloc(1, sizeof *s);
	s->st = n->st;
	{
		const struct conf_kvs *e = &n->c->global.external_labels;
		struct pw_lbuild b;
		pw_lbuild_init(&b);
		for (size_t i = 0; i < e->n; i++)
			pw_lbuild_set(&b, e->v[i].name, e->v[i].value);
		s->ext = pw_lbuild_lset(&b);
		pw_lbuild_free(&b);
	}
	s->lanes = xcalloc(n->nlanes + 1, sizeof *s->lanes);
	s->nlanes = n->nlanes;
	for (size_t i = 0; i < n->nlanes; i++) {
		const struct lane *l = &n->lanes[i];
		struct lane_status *o = &s->lanes[i];
		o->name = xstrdup(l->name);
		o->target = xstrdup(l->target);
		o->kind = transport_of(n->c->notify.receivers[l->recv].kind)->kind;
	}
	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < n->nlanes; i++) {
		const struct lane *l = &n->lanes[i];
		struct lane_status *o = &s->lanes[i];
		o->queued = l->nq;
		o->sent = l->sent;
		o->failed = l->failed;
		o->dropped = l->dropped;
		o->oldest = oldest(l);
		o->last_error = l->last_error ? xstrdup(l->last_error) : NULL;
		o->last_error_at = l->last_error_at;
	}
	pthread_mutex_unlock(&n->lock);
	s->groups = (struct gsnap *)pw_slot_get(n->groups);
	return s;
}

void notify_status_free(struct notify_status *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nlanes; i++) {
		free(s->lanes[i].name);
		free(s->lanes[i].target);
		free(s->lanes[i].last_error);
	}
	free(s->lanes);
	pw_lset_unref(s->ext);
	if (s->groups)
		pw_shared_unref(&s->groups->sh);
	free(s);
}

/* ---- /api/v1/notifications ------------------------------------------------------ */

static const char *rec_str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

struct queued_ctx {
	struct pw_buf *b;
	int w;
};

/* one queued notification of the outbox (x->w: how many so far) */
static int queued_cb(void *ctx, const void *k, size_t kn, const void *v, size_t vn)
{
	struct queued_ctx *x = ctx;
	json_error_t je;
	json_t *o;
	char t[64];
	if (kn != 10 || !(o = json_loadb(v, vn, 0, &je)))
		return 0;
	if (x->w++)
		pw_buf_putc(x->b, ',');
	pw_buf_printf(x->b, "{\"id\":%llu,\"receiver\":", (unsigned long long)outbox_id(k));
	pw_buf_json_string(x->b, rec_str(o, "lane"));
	pw_buf_puts(x->b, ",\"kind\":");
	pw_buf_json_string(x->b, rec_str(o, "kind"));
	pw_fmt_time(t, sizeof t, (int64_t)json_integer_value(json_object_get(o, "created")));
	pw_buf_puts(x->b, ",\"queuedAt\":");
	pw_buf_json_string(x->b, t);
	pw_buf_printf(x->b, ",\"attempts\":%lld,\"alerts\":%lld",
		      (long long)json_integer_value(json_object_get(o, "attempts")),
		      (long long)json_integer_value(json_object_get(o, "alerts")));
	if (json_object_get(o, "group")) {
		pw_buf_puts(x->b, ",\"group\":");
		pw_buf_json_string(x->b, rec_str(o, "group"));
	}
	if (json_object_get(o, "subject")) {
		pw_buf_puts(x->b, ",\"subject\":");
		pw_buf_json_string(x->b, rec_str(o, "subject"));
	}
	if (json_object_get(o, "message_id")) {
		pw_buf_puts(x->b, ",\"messageId\":");
		pw_buf_json_string(x->b, rec_str(o, "message_id"));
	}
	if (json_object_get(o, "error")) {
		pw_buf_puts(x->b, ",\"lastError\":");
		pw_buf_json_string(x->b, rec_str(o, "error"));
		pw_fmt_time(t, sizeof t, (int64_t)json_integer_value(json_object_get(o, "next")));
		pw_buf_puts(x->b, ",\"nextAttempt\":");
		pw_buf_json_string(x->b, t);
	}
	pw_buf_putc(x->b, '}');
	json_decref(o);
	return 0;
}

static void lane_json(const struct lane_status *l, struct pw_buf *b, int64_t now)
{
	char t[64];
	pw_buf_puts(b, "{\"name\":");
	pw_buf_json_string(b, l->name);
	pw_buf_printf(b, ",\"kind\":\"%s\",\"target\":", l->kind);
	pw_buf_json_string(b, l->target);
	pw_buf_printf(b, ",\"queued\":%zu,\"sent\":%llu,\"failed\":%llu,\"dropped\":%llu", l->queued,
		      (unsigned long long)l->sent, (unsigned long long)l->failed,
		      (unsigned long long)l->dropped);
	pw_buf_printf(b, ",\"oldestQueuedAgeSeconds\":%.3f",
		      l->oldest ? (double)(now - l->oldest) / 1000.0 : 0.0);
	if (l->last_error) {
		pw_buf_puts(b, ",\"lastError\":");
		pw_buf_json_string(b, l->last_error);
		pw_fmt_time(t, sizeof t, l->last_error_at);
		pw_buf_puts(b, ",\"lastErrorAt\":");
		pw_buf_json_string(b, t);
	}
	pw_buf_putc(b, '}');
}

static void group_json(const struct gsnap_group *g, struct pw_buf *b)
{
	char t[64];
	pw_buf_puts(b, "{\"receiver\":");
	pw_buf_json_string(b, g->receiver);
	pw_buf_puts(b, ",\"groupKey\":");
	pw_buf_json_string(b, g->gkey);
	pw_buf_puts(b, ",\"labels\":");
	pw_buf_json_labels(b, g->labels->l, g->labels->n);
	pw_fmt_time(t, sizeof t, g->next_flush);
	pw_buf_printf(b, ",\"firing\":%zu,\"resolved\":%zu,\"nextFlush\":", g->firing,
		      g->resolved);
	pw_buf_json_string(b, t);
	pw_buf_putc(b, '}');
}

void notify_status_json(const struct notify_status *s, struct pw_buf *b)
{
	struct queued_ctx x = {b, 0};
	int64_t now = pw_now_ms();
	if (!s) {
		pw_buf_puts(b, "{\"receivers\":[],\"groups\":[],\"queued\":[]}");
		return;
	}
	pw_buf_puts(b, "{\"receivers\":[");
	for (size_t i = 0; i < s->nlanes; i++) {
		if (i)
			pw_buf_putc(b, ',');
		lane_json(&s->lanes[i], b, now);
	}
	pw_buf_puts(b, "],\"groups\":[");
	for (size_t i = 0; s->groups && i < s->groups->n; i++) {
		if (i)
			pw_buf_putc(b, ',');
		group_json(&s->groups->g[i], b);
	}
	pw_buf_puts(b, "],\"queued\":[");
	store_rec_scan(s->st, "o/", 2, queued_cb, &x);
	pw_buf_puts(b, "]}");
}

/* ---- the metrics ------------------------------------------------------------------ */

void notify_status_metrics(const struct notify_status *s, struct pw_buf *b, bool om)
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
	if (!s)
		return;
	for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
		pw_buf_metric_header(b, m[k].name, m[k].type, m[k].help, om);
		for (size_t i = 0; i < s->nlanes; i++) {
			const struct lane_status *l = &s->lanes[i];
			pw_buf_printf(b, "%s{receiver=", m[k].name);
			pw_buf_json_string(b, l->name);
			switch (k) {
			case 0: pw_buf_printf(b, "} %llu\n", (unsigned long long)l->sent); break;
			case 1: pw_buf_printf(b, "} %llu\n", (unsigned long long)l->failed); break;
			case 2: pw_buf_printf(b, "} %llu\n", (unsigned long long)l->dropped); break;
			case 3: pw_buf_printf(b, "} %zu\n", l->queued); break;
			default:
				pw_buf_printf(b, "} %.3f\n",
					      l->oldest ? (double)(t - l->oldest) / 1000.0 : 0.0);
			}
		}
	}
}

/* ---- the same, field by field (pacewatch's pages) ---------------------------------- */

size_t notify_status_nreceivers(const struct notify_status *s)
{
	return s ? s->nlanes : 0;
}

void notify_status_receiver(const struct notify_status *s, size_t i,
			    struct notify_receiver_info *o)
{
	const struct lane_status *l = &s->lanes[i];
	*o = (struct notify_receiver_info){
		.name = l->name, .kind = l->kind, .target = l->target, .queued = l->queued,
		.sent = l->sent, .failed = l->failed, .dropped = l->dropped,
		.oldest_queued_ms = l->oldest, .last_error = l->last_error,
		.last_error_ms = l->last_error_at};
}

struct queued_fn_ctx {
	notify_queued_fn fn;
	void *ctx;
};

static int queued_info_cb(void *ctx, const void *k, size_t kn, const void *v, size_t vn)
{
	struct queued_fn_ctx *x = ctx;
	json_error_t je;
	json_t *o;
	int rc;
	if (kn != 10 || !(o = json_loadb(v, vn, 0, &je)))
		return 0;
	rc = x->fn(x->ctx, &(struct notify_queued_info){
		.id = outbox_id(k), .receiver = rec_str(o, "lane"), .kind = rec_str(o, "kind"),
		.group_key = rec_str(o, "group"), .subject = rec_str(o, "subject"),
		.last_error = rec_str(o, "error"),
		.queued_ms = (int64_t)json_integer_value(json_object_get(o, "created")),
		.next_attempt_ms = json_object_get(o, "error")
					   ? (int64_t)json_integer_value(json_object_get(o, "next"))
					   : 0,
		.attempts = (long long)json_integer_value(json_object_get(o, "attempts")),
		.alerts = (long long)json_integer_value(json_object_get(o, "alerts"))});
	json_decref(o);
	return rc;
}

int notify_status_queued(const struct notify_status *s, notify_queued_fn fn, void *ctx)
{
	struct queued_fn_ctx x = {fn, ctx};
	if (!s)
		return 0;
	return store_rec_scan(s->st, "o/", 2, queued_info_cb, &x);
}

uint64_t notify_status_fingerprint(const struct notify_status *s, const struct pw_lset *labels)
{
	struct pw_lbuild b;
	struct pw_lset *l;
	uint64_t h;
	if (!s || !s->ext || !s->ext->n)
		return labels->h;
	/* as notify/alert.c adds them: the external labels under the alert's own */
	pw_lbuild_init(&b);
	for (uint32_t i = 0; i < s->ext->n; i++)
		pw_lbuild_set(&b, s->ext->l[i].name, s->ext->l[i].value);
	pw_lbuild_add(&b, labels->l, labels->n, NULL);
	l = pw_lbuild_lset(&b);
	h = l->h;
	pw_lset_unref(l);
	pw_lbuild_free(&b);
	return h;
}

struct log_fn_ctx {
	notify_log_fn fn;
	void *ctx;
};

static uint64_t *log_fps(json_t *a, size_t *n)
{
	uint64_t *v = xcalloc(json_array_size(a) + 1, sizeof *v);
	*n = 0;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *h = json_string_value(json_array_get(a, i));
		if (h)
			v[(*n)++] = strtoull(h, NULL, 16);
	}
	return v;
}

/* one entry of the notification log: key "n/<receiver>\x1f<group key>" */
static int log_cb(void *ctx, const void *k, size_t kn, const void *v, size_t vn)
{
	struct log_fn_ctx *x = ctx;
	const char *key = k, *sep = memchr(key, '\x1f', kn);
	json_error_t je;
	json_t *o;
	char recv[256], gkey[1024];
	struct notify_log_info e = {0};
	uint64_t *f, *r;
	int rc;
	if (!sep || kn < 2 || !(o = json_loadb(v, vn, 0, &je)))
		return 0;
	snprintf(recv, sizeof recv, "%.*s", (int)(sep - key - 2), key + 2);
	snprintf(gkey, sizeof gkey, "%.*s", (int)(kn - (size_t)(sep + 1 - key)), sep + 1);
	f = log_fps(json_object_get(o, "firing"), &e.nfiring);
	r = log_fps(json_object_get(o, "resolved"), &e.nresolved);
	e.receiver = recv, e.group_key = gkey, e.firing = f, e.resolved = r;
	e.sent_ms = (int64_t)json_integer_value(json_object_get(o, "ts"));
	rc = x->fn(x->ctx, &e);
	free(f);
	free(r);
	json_decref(o);
	return rc;
}

int notify_status_log(const struct notify_status *s, notify_log_fn fn, void *ctx)
{
	struct log_fn_ctx x = {fn, ctx};
	if (!s)
		return 0;
	return store_rec_scan(s->st, "n/", 2, log_cb, &x);
}
