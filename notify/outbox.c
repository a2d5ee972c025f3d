/*
 * outbox.c — delivery: the outbox in the store's records table (one key
 * per notification, its JSON record holding the rendered payload), one
 * thread per lane (a receiver, or one Alertmanager URL) sending its queue
 * oldest first, retrying with backoff, dropping only what the server
 * refuses for good or what is older than notify.max_age; and the views of
 * it (/api/v1/notifications, the pacewatch_notifications_* metrics).
 */
#include "notify_int.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUBSYS "notify"

static const char *jstr(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

/* ---- outbox ----------------------------------------------------------------- */

static void outbox_key(uint64_t id, unsigned char k[10])
{
	k[0] = 'o';
	k[1] = '/';
	for (int i = 0; i < 8; i++)
		k[2 + i] = (unsigned char)(id >> (56 - 8 * i));
}

static uint64_t key_id(const void *key)
{
	const unsigned char *k = key;
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | k[2 + i];
	return id;
}

static struct lane *lane_named(struct notify *n, const char *name)
{
	for (size_t i = 0; i < n->nlanes; i++)
		if (strcmp(n->lanes[i].name, name) == 0)
			return &n->lanes[i];
	return NULL;
}

static void lane_push(struct lane *l, uint64_t id, int64_t created)
{
	if (l->nq == l->capq) {
		l->capq = l->capq ? 2 * l->capq : 16;
		l->q = xreallocarray(l->q, l->capq, sizeof *l->q);
	}
	l->q[l->nq].id = id;
	l->q[l->nq++].created = created;
}

static void lane_remove(struct lane *l, uint64_t id)
{
	for (size_t i = 0; i < l->nq; i++)
		if (l->q[i].id == id) {
			memmove(&l->q[i], &l->q[i + 1], (l->nq - i - 1) * sizeof *l->q);
			l->nq--;
			return;
		}
}

static int load_cb(void *ctx, const void *k, size_t kn, const void *v, size_t vn)
{
	struct notify *n = ctx;
	json_error_t je;
	json_t *o;
	if (kn != 10)
		return 0;
	o = json_loadb(v, vn, 0, &je);
	if (!o) {
		log_warnx(SUBSYS, "outbox entry %llu is unreadable (%s); left in place",
			 (unsigned long long)key_id(k), je.text);
		return 0;
	}
	const char *lane = json_string_value(json_object_get(o, "lane"));
	struct lane *l = lane ? lane_named(n, lane) : NULL;
	uint64_t id = key_id(k);
	if (id >= n->next_id)
		n->next_id = id + 1;
	if (l)
		lane_push(l, id, (int64_t)json_integer_value(json_object_get(o, "created")));
	else
		log_warnx(SUBSYS, "outbox entry %llu is for receiver \"%s\", which the configuration "
				 "no longer has; it stays queued until the receiver returns",
			 (unsigned long long)id, lane ? lane : "?");
	json_decref(o);
	return 0;
}

/* Queue a rendered notification; ops are written in the same transaction
 * (the notification log entry). supersede: first delete what the lane
 * still has queued (Alertmanager posts carry the whole state). */
int outbox_enqueue(struct notify *n, struct lane *l, json_t *rec, struct store_rec_op *extra,
		   size_t nextra, bool supersede, int64_t now)
{
	unsigned char key[10];
	struct store_rec_op *ops;
	size_t nops = 0, nold = 0;
	uint64_t *old = NULL;
	char *cause = NULL, *val;
	int rc;

	pthread_mutex_lock(&n->lock);
	uint64_t id = n->next_id++;
	if (supersede && l->nq) {
		old = xcalloc(l->nq, sizeof *old);
		for (size_t i = 0; i < l->nq; i++)
			old[nold++] = l->q[i].id;
	}
	pthread_mutex_unlock(&n->lock);

	json_object_set_new(rec, "lane", json_string(l->name));
	json_object_set_new(rec, "created", json_integer(now));
	json_object_set_new(rec, "attempts", json_integer(0));
	val = json_dumps(rec, JSON_COMPACT);
	outbox_key(id, key);
	ops = xcalloc(nextra + nold + 1, sizeof *ops);
	unsigned char (*okeys)[10] = xcalloc(nold + 1, sizeof *okeys);
	for (size_t i = 0; i < nold; i++) {
		outbox_key(old[i], okeys[i]);
		ops[nops++] = (struct store_rec_op){okeys[i], 10, NULL, 0};
	}
	ops[nops++] = (struct store_rec_op){key, 10, val, strlen(val)};
	for (size_t i = 0; i < nextra; i++)
		ops[nops++] = extra[i];
	rc = store_rec_write(n->st, ops, nops, &cause);
	if (rc != 0) {
		log_error(SUBSYS, "receiver %s: cannot queue a notification: %s", l->name,
			  cause ? cause : pw_strerror(rc));
	} else {
		pthread_mutex_lock(&n->lock);
		for (size_t i = 0; i < nold; i++)
			lane_remove(l, old[i]);
		lane_push(l, id, now);
		pthread_cond_broadcast(&n->cond);
		pthread_mutex_unlock(&n->lock);
	}
	free(cause);
	free(val);
	free(ops);
	free(okeys);
	free(old);
	return rc;
}

/* ---- delivery --------------------------------------------------------------- */

struct upload {
	const char *p;
	size_t left;
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *ctx)
{
	struct upload *u = ctx;
	size_t n = size * nmemb < u->left ? size * nmemb : u->left;
	memcpy(dst, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

static size_t sink_cb(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct pw_buf *b = ctx;
	if (b->len < 512)
		pw_buf_append(b, p, size * nmemb < 512 ? size * nmemb : 512);
	return size * nmemb;
}

enum { SEND_OK, SEND_RETRY, SEND_DROP };

/* the address inside "Name <addr>" (or the whole), in <> */
static char *mail_addr(const char *s)
{
	const char *lt = strrchr(s, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt)
		return xasprintf("<%.*s>", (int)(gt - lt - 1), lt + 1);
	while (*s == ' ')
		s++;
	return xasprintf("<%s>", s);
}

static int send_email(const struct conf_email *e, const char *msg, char **err)
{
	CURL *h = curl_easy_init();
	struct curl_slist *rcpt = NULL;
	struct upload u = {msg, strlen(msg)};
	char *url, *from;
	const char *colon = strrchr(e->smarthost, ':');
	int tls = e->tls;
	long code = 0;
	CURLcode rc;
	char ebuf[CURL_ERROR_SIZE] = "";

	if (tls == CONF_TLS_AUTO)
		tls = colon && strcmp(colon + 1, "465") == 0 ? CONF_TLS_IMPLICIT : CONF_TLS_STARTTLS;
	/* the URL's path is the name given in EHLO */
	url = xasprintf("%s://%s/%s", tls == CONF_TLS_IMPLICIT ? "smtps" : "smtp", e->smarthost,
			e->hello ? e->hello : "localhost");
	from = mail_addr(e->from);
	for (size_t i = 0; i < e->nto; i++) {
		char *a = mail_addr(e->to[i]);
		rcpt = curl_slist_append(rcpt, a);
		free(a);
	}
	for (size_t i = 0; i < e->ncc; i++) {
		char *a = mail_addr(e->cc[i]);
		rcpt = curl_slist_append(rcpt, a);
		free(a);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &u);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)u.left);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	if (tls == CONF_TLS_STARTTLS)
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (tls != CONF_TLS_NONE) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, e->tls_verify ? 1L : 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, e->tls_verify ? 2L : 0L);
		if (e->ca_file)
			curl_easy_setopt(h, CURLOPT_CAINFO, e->ca_file);
	}
	if (e->auth_username) {
		curl_easy_setopt(h, CURLOPT_USERNAME, e->auth_username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, e->auth_password);
		if (e->auth_mechanism) {
			char *opt = xasprintf("AUTH=%s", e->auth_mechanism);
			curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, opt);
			rc = curl_easy_perform(h);
			free(opt);
			goto done;
		}
	}
	rc = curl_easy_perform(h);
done:
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	free(url);
	free(from);
	if (rc == CURLE_OK)
		return SEND_OK;
	*err = xasprintf("smtp %s: %s%s%s (last reply %ld)", e->smarthost, curl_easy_strerror(rc),
			 *ebuf ? ": " : "", ebuf, code);
	/* mailbox unavailable, not allowed, transaction failed: the message
	 * itself is refused and would be refused again */
	if (code == 550 || code == 553 || code == 554)
		return SEND_DROP;
	return SEND_RETRY;
}

static int send_http(const char *url, const struct conf_kvs *headers, const char *bearer,
		     int64_t timeout_ms, const char *body, char **err)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct pw_buf resp;
	long code = 0;
	CURLcode rc;
	char ebuf[CURL_ERROR_SIZE] = "";

	pw_buf_init(&resp, 0);
	hl = curl_slist_append(hl, "Content-Type: application/json");
	hl = curl_slist_append(hl, "User-Agent: pacewatch");
	for (size_t i = 0; headers && i < headers->n; i++) {
		char *x = xasprintf("%s: %s", headers->v[i].name, headers->v[i].value);
		hl = curl_slist_append(hl, x);
		free(x);
	}
	if (bearer) {
		char *x = xasprintf("Authorization: Bearer %s", bearer);
		hl = curl_slist_append(hl, x);
		free(x);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	int out = SEND_OK;
	if (rc != CURLE_OK) {
		*err = xasprintf("POST %s: %s%s%s", url, curl_easy_strerror(rc), *ebuf ? ": " : "",
				 ebuf);
		out = SEND_RETRY;
	} else if (code / 100 != 2) {
		char *body_text = xstrndup(resp.data ? resp.data : "", resp.len);
		for (char *p = body_text; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		*err = xasprintf("POST %s: HTTP status %ld: %s", url, code, body_text);
		free(body_text);
		/* Alertmanager's and Prometheus' rule: 4xx is the payload's fault
		 * (except timeouts and rate limits), so it is not sent again */
		out = (code / 100 == 4 && code != 408 && code != 429) ? SEND_DROP : SEND_RETRY;
	}
	pw_buf_free(&resp);
	return out;
}


static void lane_error(struct notify *n, struct lane *l, const char *err, int64_t t)
{
	pthread_mutex_lock(&n->lock);
	free(l->last_error);
	l->last_error = xstrdup(err);
	l->last_error_at = t;
	pthread_mutex_unlock(&n->lock);
}

static void deliver_one(struct notify *n, struct lane *l, uint64_t id)
{
	const struct conf_receiver *rc = &n->c->notify.receivers[l->recv];
	unsigned char key[10];
	void *val;
	size_t vn;
	json_error_t je;
	json_t *o;
	char *err = NULL;
	int out;
	int64_t t = pw_now_ms();

	outbox_key(id, key);
	if (store_rec_get(n->st, key, 10, &val, &vn) != 0) {
		/* superseded meanwhile */
		pthread_mutex_lock(&n->lock);
		lane_remove(l, id);
		pthread_mutex_unlock(&n->lock);
		return;
	}
	o = json_loadb(val, vn, 0, &je);
	free(val);
	const char *payload = o ? json_string_value(json_object_get(o, "payload")) : NULL;
	int64_t created = o ? (int64_t)json_integer_value(json_object_get(o, "created")) : 0;
	if (!payload) {
		err = xasprintf("outbox entry %llu is unreadable", (unsigned long long)id);
		out = SEND_DROP;
	} else if (t - created > n->c->notify.max_age_ms) {
		err = xasprintf("undelivered for longer than notify.max_age (queued at %lld)",
				(long long)created);
		out = SEND_DROP;
	} else if (rc->kind == CONF_RECV_EMAIL) {
		out = send_email(&rc->email, payload, &err);
	} else if (rc->kind == CONF_RECV_WEBHOOK) {
		out = send_http(rc->webhook.url, &rc->webhook.headers, rc->webhook.bearer_token,
				rc->webhook.timeout_ms, payload, &err);
	} else {
		char *u = xasprintf("%s/api/v2/alerts", rc->alertmanager.urls[l->url]);
		size_t ul = strlen(rc->alertmanager.urls[l->url]);
		if (ul && rc->alertmanager.urls[l->url][ul - 1] == '/') {
			free(u);
			u = xasprintf("%sapi/v2/alerts", rc->alertmanager.urls[l->url]);
		}
		out = send_http(u, NULL, NULL, rc->alertmanager.timeout_ms, payload, &err);
		free(u);
	}
	if (out == SEND_OK || out == SEND_DROP) {
		struct store_rec_op op = {key, 10, NULL, 0};
		char *cause = NULL;
		int wrc = store_rec_write(n->st, &op, 1, &cause);
		if (wrc != 0) {
			/* it went out; deleting failed: it may go out once more */
			log_error(SUBSYS, "receiver %s: sent, but the outbox entry stays: %s", l->name,
				  cause ? cause : pw_strerror(wrc));
		}
		free(cause);
		pthread_mutex_lock(&n->lock);
		lane_remove(l, id);
		if (out == SEND_OK) {
			l->sent++;
			if (l->fails)
				log_info(SUBSYS, "receiver %s: delivering again after %d failed attempts",
					 l->name, l->fails);
			l->fails = 0;
			l->next_try = 0;
		} else {
			l->dropped++;
		}
		pthread_mutex_unlock(&n->lock);
		if (out == SEND_DROP) {
			log_error(SUBSYS, "receiver %s: notification %llu dropped: %s", l->name,
				  (unsigned long long)id, err ? err : "?");
			lane_error(n, l, err ? err : "?", t);
		}
	} else {
		int64_t wait = n->c->notify.retry_min_ms;
		pthread_mutex_lock(&n->lock);
		l->failed++;
		for (int i = 0; i < l->fails && wait < n->c->notify.retry_max_ms; i++)
			wait *= 2;
		if (wait > n->c->notify.retry_max_ms)
			wait = n->c->notify.retry_max_ms;
		l->fails++;
		l->next_try = t + wait;
		int fails = l->fails;
		pthread_mutex_unlock(&n->lock);
		if (fails == 1)
			log_error(SUBSYS, "receiver %s: %s; retrying with backoff (%zu queued)", l->name,
				  err, l->nq);
		else
			log_debug(SUBSYS, "receiver %s: attempt %d failed: %s", l->name, fails, err);
		lane_error(n, l, err, t);
		/* the attempts count and error, for /api/v1/notifications */
		json_object_set_new(o, "attempts",
				    json_integer(json_integer_value(json_object_get(o, "attempts")) + 1));
		json_object_set_new(o, "error", json_string(err));
		json_object_set_new(o, "next", json_integer(t + wait));
		char *nv = json_dumps(o, JSON_COMPACT);
		struct store_rec_op op = {key, 10, nv, strlen(nv)};
		pthread_mutex_lock(&n->lock);
		bool still = false;
		for (size_t i = 0; i < l->nq; i++)
			still |= l->q[i].id == id;
		pthread_mutex_unlock(&n->lock);
		if (still)
			store_rec_write(n->st, &op, 1, NULL);
		free(nv);
	}
	json_decref(o);
	free(err);
}

void *lane_main(void *arg)
{
	struct lane *l = arg;
	struct notify *n = l->n;
	pthread_mutex_lock(&n->lock);
	while (!n->stop) {
		int64_t t = pw_now_ms();
		if (l->nq == 0 || t < l->next_try) {
			if (l->nq == 0) {
				pthread_cond_wait(&n->cond, &n->lock);
			} else {
				struct timespec ts = {(time_t)(l->next_try / 1000),
						      (long)(l->next_try % 1000) * 1000000};
				pthread_cond_timedwait(&n->cond, &n->lock, &ts);
			}
			continue;
		}
		uint64_t id = l->q[0].id;
		pthread_mutex_unlock(&n->lock);
		deliver_one(n, l, id);
		pthread_mutex_lock(&n->lock);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

/* ---- views ------------------------------------------------------------------ */

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
	pw_buf_printf(x->b, "{\"id\":%llu,\"receiver\":", (unsigned long long)key_id(k));
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

int outbox_load(struct notify *n)
{
	return store_rec_scan(n->st, "o/", 2, load_cb, n);
}
