/*
 * am.c — Alertmanager receivers: every alert routed to one is posted to
 * /api/v2/alerts of each of its URLs with Prometheus' resend and endsAt
 * rules; no groups or timers here (Alertmanager has its own).
 * Flow: alert → route → [am] → render → outbox → transport.
 */
#include "notify_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * An alert is posted when it fires or resolves and again every
 * resend_delay, firing ones with endsAt = now + 4 × max(resend_delay, the
 * rule group's interval). A post carries the whole state, so while one is
 * still queued the next replaces it and sends everything.
 */

void am_add(struct notify *n, size_t ri, struct nalert *a)
{
	struct amrecv *r = &n->am[ri];
	for (size_t j = 0; j < r->nnow; j++)
		if (r->now[j] == a)
			return;
	r->now = xreallocarray(r->now, r->nnow + 1, sizeof *r->now);
	r->now[r->nnow++] = a;
}

void am_free(struct notify *n)
{
	for (size_t i = 0; n->am && i < n->c->notify.nreceivers; i++) {
		free(n->am[i].st);
		free(n->am[i].now);
	}
	free(n->am);
}

/* what was sent of alert fp (made when new) */
static struct amstate *am_state(struct amrecv *r, uint64_t fp)
{
	for (size_t j = 0; j < r->nst; j++)
		if (r->st[j].fp == fp)
			return &r->st[j];
	r->st = xreallocarray(r->st, r->nst + 1, sizeof *r->st);
	memset(&r->st[r->nst], 0, sizeof *r->st);
	r->st[r->nst].fp = fp;
	return &r->st[r->nst++];
}

/* the alerts to post now, copied with their endsAt (Prometheus'
 * Alert.needsSending; everything while a post is still queued) */
static size_t am_select(struct amrecv *r, const struct conf_am *c, bool pending, int64_t now,
			struct nalert **send)
{
	size_t ns = 0;
	for (size_t i = 0; i < r->nst; i++)
		r->st[i].seen = false;
	for (size_t i = 0; i < r->nnow; i++) {
		struct nalert *a = r->now[i];
		struct amstate *s = am_state(r, nalert_fp(a));
		s->seen = true;
		bool need = (!a->firing && a->ends_ms > s->last_sent) ||
			    s->last_sent + c->resend_delay_ms <= now || s->last_sent == 0;
		if (!need && !pending)
			continue;
		int64_t delta = c->resend_delay_ms;
		if (a->interval_ms > delta)
			delta = a->interval_ms;
		s->last_sent = now;
		send[ns] = nalert_copy(a);
		send[ns++]->valid_until_ms = now + 4 * delta;
	}
	/* forget alerts gone from the rules */
	size_t w = 0;
	for (size_t j = 0; j < r->nst; j++)
		if (r->st[j].seen)
			r->st[w++] = r->st[j];
	r->nst = w;
	return ns;
}

/* queue one post per URL; supersede: it replaces what is still queued */
static void am_post(struct notify *n, size_t ri, struct nalert *const *send, size_t ns,
		    bool supersede, int64_t now)
{
	const struct conf_receiver *rc = &n->c->notify.receivers[ri];
	char *body = render_am(send, ns);
	for (size_t u = 0; u < rc->alertmanager.nurls; u++) {
		json_t *rec = json_object();
		json_object_set_new(rec, "kind", json_string("alertmanager"));
		json_object_set_new(rec, "alerts", json_integer((json_int_t)ns));
		json_object_set_new(rec, "payload", json_string(body));
		outbox_enqueue(n, &n->lanes[n->lane_of[ri] + u], rec, NULL, 0, supersede, now);
		json_decref(rec);
	}
	free(body);
}

static void am_receiver_step(struct notify *n, size_t ri, int64_t now)
{
	const struct conf_receiver *rc = &n->c->notify.receivers[ri];
	struct amrecv *r = &n->am[ri];
	struct nalert **send = xcalloc(r->nnow + 1, sizeof *send);
	bool pending = false;

	for (size_t u = 0; u < rc->alertmanager.nurls; u++)
		pending |= outbox_queued(n, &n->lanes[n->lane_of[ri] + u]) > 0;
	size_t ns = am_select(r, &rc->alertmanager, pending, now, send);
	if (ns)
		am_post(n, ri, send, ns, pending, now);
	for (size_t i = 0; i < ns; i++)
		nalert_free(send[i]);
	free(send);
}

void am_step(struct notify *n, int64_t now, int64_t *next)
{
	const struct conf_notify *cn = &n->c->notify;
	for (size_t ri = 0; ri < cn->nreceivers; ri++) {
		if (cn->receivers[ri].kind == CONF_RECV_ALERTMANAGER) {
			am_receiver_step(n, ri, now);
			int64_t t = now + cn->receivers[ri].alertmanager.resend_delay_ms;
			if (t < *next)
				*next = t;
		}
		free(n->am[ri].now);
		n->am[ri].now = NULL;
		n->am[ri].nnow = 0;
	}
}
