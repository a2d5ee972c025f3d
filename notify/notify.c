/*
 * notify.c — the notifier's wiring: notify_new compiles the routes and makes
 * the lanes and loads the outbox, notify_start starts the delivery threads,
 * and each notify_step takes the newest view's alerts through the flow
 * alert → route → group (or am, for Alertmanager receivers) → render →
 * outbox, then sends the digests that are due. notify_free stops it all.
 */
#include "notify_int.h"

#include <stdlib.h>
#include <string.h>

#define SUBSYS "notify"

/* one lane per receiver, one per URL of an Alertmanager receiver */
static void lanes_new(struct notify *n)
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

int notify_new(const struct conf *c, struct store *st, struct pw_slot *views, struct notify **out,
	       char **cause)
{
	struct notify *n = xcalloc(1, sizeof *n);
	const struct conf_notify *cn = &c->notify;
	int rc = 0;

	*out = NULL;
	*cause = NULL;
	n->c = c;
	n->st = st;
	n->views = views;
	n->next_id = 1;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	if ((rc = routes_new(n, cause)) != 0)
		goto fail;
	lanes_new(n);
	n->am = xcalloc(cn->nreceivers + 1, sizeof *n->am);
	outbox_load(n);
	n->digest_next = xcalloc(cn->ndigests + 1, sizeof *n->digest_next);
	*out = n;
	return 0;
fail:
	notify_free(n);
	return rc;
}

void notify_start(struct notify *n)
{
	for (size_t i = 0; i < n->nlanes; i++) {
		if (pthread_create(&n->lanes[i].th, NULL, lane_main, &n->lanes[i]) == 0)
			n->lanes[i].started = true;
		else
			log_error(SUBSYS, "receiver %s: cannot start its delivery thread",
				  n->lanes[i].name);
	}
}

static void cur_free(struct notify *n)
{
	for (size_t i = 0; i < n->ncur; i++)
		nalert_free(n->cur[i]);
	free(n->cur);
	n->cur = NULL;
	n->ncur = 0;
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
	for (size_t i = 0; i < n->nlanes; i++) {
		if (n->lanes[i].started)
			pthread_join(n->lanes[i].th, NULL);
		free(n->lanes[i].q);
		free(n->lanes[i].name);
		free(n->lanes[i].target);
		free(n->lanes[i].last_error);
	}
	free(n->lanes);
	routes_free(n);
	groups_free(n);
	am_free(n);
	free(n->lane_of);
	free(n->digest_next);
	cur_free(n);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

/* route this step's alerts: into aggregation groups, or to the
 * Alertmanager receivers */
static void route_alerts(struct notify *n, int64_t now)
{
	const struct conf_notify *cn = &n->c->notify;
	struct nroute **hit = NULL;
	for (size_t i = 0; i < n->ncur; i++) {
		size_t nh = 0;
		route_match(&n->root, n->cur[i], &hit, &nh);
		for (size_t h = 0; h < nh; h++) {
			if (cn->receivers[hit[h]->recv].kind == CONF_RECV_ALERTMANAGER)
				am_add(n, hit[h]->recv, n->cur[i]);
			else
				group_add(n, hit[h], n->cur[i], now);
		}
	}
	free(hit);
}

int64_t notify_step(struct notify *n, int64_t now)
{
	int64_t next = now + 60000;
	struct view *v;

	if (!n->c->notify.nreceivers)
		return INT64_MAX;
	cur_free(n);
	v = view_get(n->views);
	n->ncur = nalerts_of_view(v, n->c, &n->cur);
	view_unref(v);
	route_alerts(n, now);
	groups_update(n, now);
	groups_flush(n, now, &next);
	am_step(n, now, &next);
	digests_step(n, now, &next);
	return next;
}
