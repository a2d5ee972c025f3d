/*
 * outbox.c — the outbox in the store's records table and one delivery
 * thread per lane (a receiver, or one Alertmanager URL): oldest first,
 * retried with backoff, dropped only when refused for good or too old.
 * Flow: alert → route → group → render → [outbox] → transport.
 */
#include "notify_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * One key per notification ("o/" and its id), its JSON record holding the
 * rendered payload, written with the notification log entry in one
 * transaction, so nothing queued is lost to an outage or a kill -9. A
 * failed attempt waits retry_min, doubling up to retry_max; what the server
 * refuses for good or what is older than notify.max_age is dropped.
 */

#define SUBSYS "notify"

/* ---- outbox ----------------------------------------------------------------- */

static void outbox_key(uint64_t id, unsigned char k[10])
{
	k[0] = 'o';
	k[1] = '/';
	for (int i = 0; i < 8; i++)
		k[2 + i] = (unsigned char)(id >> (56 - 8 * i));
}

uint64_t outbox_id(const void *key)
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
			 (unsigned long long)outbox_id(k), je.text);
		return 0;
	}
	const char *lane = json_string_value(json_object_get(o, "lane"));
	struct lane *l = lane ? lane_named(n, lane) : NULL;
	uint64_t id = outbox_id(k);
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

size_t outbox_queued(struct notify *n, const struct lane *l)
{
	size_t nq;
	pthread_mutex_lock(&n->lock);
	nq = l->nq;
	pthread_mutex_unlock(&n->lock);
	return nq;
}

/* ---- delivery --------------------------------------------------------------- */

static void lane_error(struct notify *n, struct lane *l, const char *err, int64_t t)
{
	pthread_mutex_lock(&n->lock);
	free(l->last_error);
	l->last_error = xstrdup(err);
	l->last_error_at = t;
	pthread_mutex_unlock(&n->lock);
}

/* send entry o (its record) now: TRANSPORT_*, *err saying why not */
static int deliver_try(struct notify *n, const struct lane *l, json_t *o, uint64_t id, int64_t t,
		       char **err)
{
	const struct conf_receiver *rc = &n->c->notify.receivers[l->recv];
	const char *payload = o ? json_string_value(json_object_get(o, "payload")) : NULL;
	int64_t created = o ? (int64_t)json_integer_value(json_object_get(o, "created")) : 0;
	if (!payload) {
		*err = xasprintf("outbox entry %llu is unreadable", (unsigned long long)id);
		return TRANSPORT_DROP;
	}
	if (t - created > n->c->notify.max_age_ms) {
		*err = xasprintf("undelivered for longer than notify.max_age (queued at %lld)",
				 (long long)created);
		return TRANSPORT_DROP;
	}
	return transport_of(rc->kind)->send(rc, l->url, payload, err);
}

/* sent, or given up: out of the outbox and the lane, counted */
static void delivered(struct notify *n, struct lane *l, uint64_t id, const unsigned char key[10],
		      bool sent, const char *err, int64_t t)
{
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
	if (sent) {
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
	if (!sent) {
		log_error(SUBSYS, "receiver %s: notification %llu dropped: %s", l->name,
			  (unsigned long long)id, err ? err : "?");
		lane_error(n, l, err ? err : "?", t);
	}
}

/* the attempt failed: the lane waits (retry_min, doubling up to
 * retry_max), and the entry keeps its attempts, error and next try for
 * /api/v1/notifications */
static void retry_later(struct notify *n, struct lane *l, uint64_t id, const unsigned char key[10],
			json_t *o, const char *err, int64_t t)
{
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
	size_t queued = l->nq;
	pthread_mutex_unlock(&n->lock);
	if (fails == 1)
		log_error(SUBSYS, "receiver %s: %s; retrying with backoff (%zu queued)", l->name, err,
			  queued);
	else
		log_debug(SUBSYS, "receiver %s: attempt %d failed: %s", l->name, fails, err);
	lane_error(n, l, err, t);
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

static void deliver_one(struct notify *n, struct lane *l, uint64_t id)
{
	unsigned char key[10];
	void *val;
	size_t vn;
	json_error_t je;
	json_t *o;
	char *err = NULL;
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
	int out = deliver_try(n, l, o, id, t, &err);
	if (out == TRANSPORT_RETRY)
		retry_later(n, l, id, key, o, err, t);
	else
		delivered(n, l, id, key, out == TRANSPORT_OK, err, t);
	json_decref(o);
	free(err);
}

static void *lane_main(void *arg)
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

int outbox_load(struct notify *n)
{
	return store_rec_scan(n->st, "o/", 2, load_cb, n);
}

/* ---- lanes ------------------------------------------------------------------ */

void lanes_new(struct notify *n)
{
	const struct conf_notify *cn = &n->c->notify;
	n->lane_of = xcalloc(cn->nreceivers + 1, sizeof *n->lane_of);
	for (size_t i = 0; i < cn->nreceivers; i++) {
		const struct conf_receiver *rc = &cn->receivers[i];
		size_t k = rc->kind == CONF_RECV_ALERTMANAGER ? rc->alertmanager.nurls : 1;
		n->lane_of[i] = n->nlanes;
		n->lanes = xreallocarray(n->lanes, n->nlanes + k, sizeof *n->lanes);
		for (size_t u = 0; u < k; u++) {
			struct lane *l = &n->lanes[n->nlanes++];
			memset(l, 0, sizeof *l);
			l->n = n;
			l->recv = i;
			l->url = u;
			l->name = rc->kind == CONF_RECV_ALERTMANAGER && k > 1
					  ? xasprintf("%s[%zu]", rc->name, u)
					  : xstrdup(rc->name);
			l->target = xstrdup(rc->kind == CONF_RECV_EMAIL     ? rc->email.smarthost
					    : rc->kind == CONF_RECV_WEBHOOK ? rc->webhook.url
									    : rc->alertmanager.urls[u]);
		}
	}
}

void lanes_start(struct notify *n)
{
	for (size_t i = 0; i < n->nlanes; i++) {
		if (pthread_create(&n->lanes[i].th, NULL, lane_main, &n->lanes[i]) == 0)
			n->lanes[i].started = true;
		else
			log_error(SUBSYS, "receiver %s: cannot start its delivery thread",
				  n->lanes[i].name);
	}
}

/* stop the delivery threads (an attempt in flight finishes); idempotent */
void lanes_stop(struct notify *n)
{
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
	for (size_t i = 0; i < n->nlanes; i++) {
		if (n->lanes[i].started)
			pthread_join(n->lanes[i].th, NULL);
		n->lanes[i].started = false;
	}
}

void lanes_free(struct notify *n)
{
	lanes_stop(n);
	for (size_t i = 0; i < n->nlanes; i++) {
		free(n->lanes[i].q);
		free(n->lanes[i].name);
		free(n->lanes[i].target);
		free(n->lanes[i].last_error);
	}
	free(n->lanes);
	free(n->lane_of);
}
