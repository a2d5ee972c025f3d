/*
 * notify.c — the notifier's wiring: new, start, free, and each step taking
 * the newest view's alerts through alert → route → group (or am) → render →
 * outbox, then the digests that are due, then publishing the groups for
 * the status (status.c).
 */
#include "notify_int.h"

#include <stdlib.h>
#include <string.h>

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
	n->groups = pw_slot_new();
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
	lanes_start(n);
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
	lanes_free(n);
	routes_free(n);
	groups_free(n);
	am_free(n);
	free(n->digest_next);
	cur_free(n);
	pw_slot_free(n->groups);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

void notify_carry(struct notify *to, struct notify *from)
{
	if (!to || !from)
		return;
	lanes_stop(from);
	for (size_t i = 0; i < to->nlanes; i++) {
		struct lane *l = &to->lanes[i];
		for (size_t j = 0; j < from->nlanes; j++) {
			struct lane *o = &from->lanes[j];
			if (strcmp(l->name, o->name) != 0)
				continue;
			l->sent = o->sent;
			l->failed = o->failed;
			l->dropped = o->dropped;
			if (o->last_error) {
				free(l->last_error);
				l->last_error = xstrdup(o->last_error);
				l->last_error_at = o->last_error_at;
			}
			break;
		}
	}
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
	status_publish(n);
	return next;
}
