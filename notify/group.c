/*
 * group.c — aggregation groups (Alertmanager's): their members, their
 * timers (group_wait, group_interval, repeat_interval), the notification
 * log that says what is news, and the flush into the outbox.
 * Flow: alert → route → [group] → render → outbox → transport.
 */
#include "notify_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Each routed alert joins its route's group of its group_by values. A new
 * group waits group_wait (not when its alert is older than that), then is
 * looked at every group_interval, and notifies when the notification log
 * says something changed (a new firing alert, a newly resolved one with
 * send_resolved, all resolved) or repeat_interval has passed. Inhibited
 * alerts are left out; a muted route sends nothing. A notification is
 * rendered once and written to the outbox with its log entry, in one
 * transaction.
 */

#define SUBSYS "notify"

/* ---- groups and their members ------------------------------------------------ */

static void group_free(struct ngroup *g)
{
	for (size_t i = 0; i < g->n; i++)
		nalert_free(g->a[i]);
	free(g->a);
	free(g->nm);
	free(g->done);
	pw_lset_unref(g->gl);
	free(g->key);
	free(g->gkey);
	free(g);
}

void groups_free(struct notify *n)
{
	for (size_t i = 0; i < n->ng; i++)
		group_free(n->g[i]);
	free(n->g);
	n->g = NULL;
	n->ng = 0;
}

/* the group's labels (group_by's values; "...": every label) and
 * Alertmanager's groupKey part of them, LabelSet.String(): {a="x", b="y"} */
static struct pw_lset *group_labels_of(const struct nroute *r, const struct nalert *a,
				       struct pw_buf *key)
{
	const struct conf_route *c = r->c;
	struct pw_lset *gl;
	if (c->ngroup_by == 1 && strcmp(c->group_by[0], "...") == 0) {
		gl = pw_lset_ref(a->labels);
	} else {
		struct pw_lbuild b;
		pw_lbuild_init(&b);
		for (size_t i = 0; i < c->ngroup_by; i++)
			pw_lbuild_set(&b, c->group_by[i], nalert_label(a, c->group_by[i]));
		gl = pw_lbuild_lset(&b);
		pw_lbuild_free(&b);
	}
	pw_buf_putc(key, '{');
	for (size_t i = 0; i < gl->n; i++) {
		pw_buf_printf(key, "%s%s=", i ? ", " : "", gl->l[i].name);
		pw_buf_json_string(key, gl->l[i].value);
	}
	pw_buf_putc(key, '}');
	return gl;
}

/* the group of route r that alert a belongs to, made if new */
static struct ngroup *group_get(struct notify *n, struct nroute *r, const struct nalert *a,
				int64_t now)
{
	struct pw_buf gk;
	struct pw_lset *gl;
	const char *rname = n->c->notify.receivers[r->recv].name;
	pw_buf_init(&gk, 0);
	pw_buf_printf(&gk, "%s:", r->key);
	gl = group_labels_of(r, a, &gk);
	char *key = xasprintf("n/%s\x1f%s", rname, gk.data);
	for (size_t i = 0; i < n->ng; i++)
		if (n->g[i]->route == r && strcmp(n->g[i]->key, key) == 0) {
			free(key);
			pw_lset_unref(gl);
			pw_buf_free(&gk);
			return n->g[i];
		}
	struct ngroup *g = xcalloc(1, sizeof *g);
	g->key = key;
	g->gkey = pw_buf_take(&gk);
	g->route = r;
	g->gl = gl;
	g->next_flush = now + r->c->group_wait_ms;
	n->g = xreallocarray(n->g, n->ng + 1, sizeof *n->g);
	n->g[n->ng++] = g;
	return g;
}

void group_add(struct notify *n, struct nroute *r, struct nalert *a, int64_t now)
{
	struct ngroup *g = group_get(n, r, a, now);
	for (size_t j = 0; j < g->nnm; j++)
		if (g->nm[j] == a)
			return;
	g->nm = xreallocarray(g->nm, g->nnm + 1, sizeof *g->nm);
	g->nm[g->nnm++] = a;
	/* an alert older than group_wait is not held back */
	if (!g->flushed && a->starts_ms + r->c->group_wait_ms < now && g->next_flush > now)
		g->next_flush = now;
}

/* a resolved alert this group already notified (the rules keep reporting
 * it for 15 minutes): kept in keep[*nkeep] while it is reported */
static bool already_done(const struct ngroup *g, const struct nalert *a, struct done *keep,
			 size_t *nkeep)
{
	if (a->firing)
		return false;
	for (size_t d = 0; d < g->ndone; d++)
		if (g->done[d].fp == nalert_fp(a) && g->done[d].ends == a->ends_ms) {
			keep[(*nkeep)++] = g->done[d];
			return true;
		}
	return false;
}

/* replace a group's members with this step's; one that left the rules
 * while firing is resolved now and kept until notified */
static void group_members(struct ngroup *g, int64_t now)
{
	struct nalert **nv = xcalloc(g->nnm + g->n + 1, sizeof *nv);
	struct done *keep = xcalloc(g->ndone + 1, sizeof *keep);
	size_t k = 0, nd = 0;
	for (size_t j = 0; j < g->nnm; j++)
		if (!already_done(g, g->nm[j], keep, &nd))
			nv[k++] = nalert_copy(g->nm[j]);
	free(g->done);
	g->done = keep;
	g->ndone = nd;
	for (size_t j = 0; j < g->n; j++) {
		bool present = false;
		for (size_t q = 0; q < g->nnm && !present; q++)
			present = nalert_fp(g->nm[q]) == nalert_fp(g->a[j]);
		if (present) {
			nalert_free(g->a[j]);
			continue;
		}
		if (g->a[j]->firing) {
			g->a[j]->firing = false;
			g->a[j]->ends_ms = now;
		}
		g->a[j]->gone = true;
		nv[k++] = g->a[j];
	}
	free(g->a);
	g->a = nv;
	g->n = k;
	free(g->nm);
	g->nm = NULL;
	g->nnm = 0;
}

void groups_update(struct notify *n, int64_t now)
{
	for (size_t i = 0; i < n->ng; i++)
		group_members(n->g[i], now);
}

/* ---- the notification log ---------------------------------------------------- */

static int fp_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static bool fp_in(const uint64_t *v, size_t n, uint64_t fp)
{
	return bsearch(&fp, v, n, sizeof *v, fp_cmp) != NULL;
}

/* the notification log entry of a group: what was last notified */
struct nflog {
	uint64_t *firing, *resolved;
	size_t nf, nr;
	int64_t ts;
	bool have;
};

/* a JSON array of hex fingerprints, sorted */
static uint64_t *fps_of(json_t *a, size_t *n)
{
	uint64_t *v = xcalloc(json_array_size(a) + 1, sizeof *v);
	*n = 0;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		v[(*n)++] = strtoull(s ? s : "0", NULL, 16);
	}
	qsort(v, *n, sizeof *v, fp_cmp);
	return v;
}

static void nflog_load(struct notify *n, const struct ngroup *g, struct nflog *e)
{
	void *v;
	size_t vn;
	json_error_t je;
	memset(e, 0, sizeof *e);
	if (store_rec_get(n->st, g->key, strlen(g->key), &v, &vn) != 0)
		return;
	json_t *o = json_loadb(v, vn, 0, &je);
	free(v);
	if (!o)
		return;
	e->firing = fps_of(json_object_get(o, "firing"), &e->nf);
	e->resolved = fps_of(json_object_get(o, "resolved"), &e->nr);
	e->ts = (int64_t)json_integer_value(json_object_get(o, "ts"));
	e->have = true;
	json_decref(o);
}

static void nflog_free(struct nflog *e)
{
	free(e->firing);
	free(e->resolved);
}

static json_t *hex_array(const uint64_t *v, size_t n)
{
	json_t *a = json_array();
	char hex[20];
	for (size_t i = 0; i < n; i++) {
		snprintf(hex, sizeof hex, "%016llx", (unsigned long long)v[i]);
		json_array_append_new(a, json_string(hex));
	}
	return a;
}

/* ---- flushing a group -------------------------------------------------------- */

/* What a flush looks at: the alerts the receiver gets (firing ones not
 * inhibited, resolved ones with send_resolved; firing first), and the
 * fingerprints of the firing and resolved ones for the log, sorted. */
struct flush {
	struct nalert **sel;
	size_t ns, nfiring;
	uint64_t *ff, *rf;
	size_t nf, nr;
};

static int alert_order(const void *x, const void *y)
{
	const struct nalert *a = *(struct nalert *const *)x, *b = *(struct nalert *const *)y;
	if (a->firing != b->firing)
		return a->firing ? -1 : 1;
	return pw_lset_cmp(a->labels, b->labels);
}

static void flush_select(const struct notify *n, const struct ngroup *g, bool send_resolved,
			 struct flush *f)
{
	memset(f, 0, sizeof *f);
	f->sel = xcalloc(g->n + 1, sizeof *f->sel);
	f->ff = xcalloc(g->n + 1, sizeof *f->ff);
	f->rf = xcalloc(g->n + 1, sizeof *f->rf);
	for (size_t i = 0; i < g->n; i++) {
		struct nalert *a = g->a[i];
		if (a->firing) {
			if (route_inhibited(n, a))
				continue;
			f->ff[f->nf++] = nalert_fp(a);
			f->sel[f->ns++] = a;
		} else {
			f->rf[f->nr++] = nalert_fp(a);
			if (send_resolved)
				f->sel[f->ns++] = a;
		}
	}
	qsort(f->ff, f->nf, sizeof *f->ff, fp_cmp);
	qsort(f->rf, f->nr, sizeof *f->rf, fp_cmp);
	qsort(f->sel, f->ns, sizeof *f->sel, alert_order);
	while (f->nfiring < f->ns && f->sel[f->nfiring]->firing)
		f->nfiring++;
}

static void flush_free(struct flush *f)
{
	free(f->sel);
	free(f->ff);
	free(f->rf);
}

/* Alertmanager's DedupStage.needsUpdate */
static bool flush_needed(const struct nflog *e, const struct flush *f, bool send_resolved,
			 int64_t repeat_ms, int64_t now)
{
	bool firing_subset = true, resolved_subset = true;
	if (!e->have)
		return f->nf > 0;
	for (size_t i = 0; i < f->nf; i++)
		firing_subset &= fp_in(e->firing, e->nf, f->ff[i]);
	for (size_t i = 0; i < f->nr; i++)
		resolved_subset &= fp_in(e->resolved, e->nr, f->rf[i]);
	if (!firing_subset)
		return true;
	if (f->nf == 0)
		return e->nf > 0;
	if (send_resolved && !resolved_subset)
		return true;
	return e->ts + repeat_ms <= now;
}

/* the outbox record of the group's notification, rendered for its receiver */
static json_t *flush_record(struct notify *n, const struct ngroup *g,
			    const struct conf_receiver *rc, const struct flush *f, int64_t now)
{
	struct nmsg m = {.rc = rc, .group_key = g->gkey, .group_labels = g->gl,
			 .alerts = f->sel, .n = f->ns, .nfiring = f->nfiring,
			 .external_url = n->c->notify.external_url,
			 .dashboard_url = n->c->notify.dashboard_url, .now_ms = now,
			 .timezone = n->c->global.timezone,
			 .zh = n->c->global.language == CONF_LANG_ZH, .conf = n->c};
	json_t *rec = json_object();
	json_object_set_new(rec, "group", json_string(g->gkey));
	json_object_set_new(rec, "alerts", json_integer((json_int_t)f->ns));
	json_object_set_new(rec, "firing", json_integer((json_int_t)f->nfiring));
	if (rc->kind == CONF_RECV_EMAIL) {
		char mid[160], *subject = NULL;
		pthread_mutex_lock(&n->lock);
		uint64_t seq = n->next_id;
		pthread_mutex_unlock(&n->lock);
		snprintf(mid, sizeof mid, "<%lld.%llu.%016llx@%s>", (long long)now,
			 (unsigned long long)seq, (unsigned long long)pw_hash64(g->key, strlen(g->key)),
			 rc->email.hello ? rc->email.hello : "pacewatch");
		char *msg = render_email(&m, mid, &subject);
		json_object_set_new(rec, "kind", json_string("email"));
		json_object_set_new(rec, "subject", json_string(subject));
		json_object_set_new(rec, "message_id", json_string(mid));
		json_object_set_new(rec, "payload", json_string(msg));
		free(msg);
		free(subject);
	} else {
		char *body = render_webhook(&m, (size_t)rc->webhook.max_alerts);
		json_object_set_new(rec, "kind", json_string("webhook"));
		json_object_set_new(rec, "payload", json_string(body));
		free(body);
	}
	return rec;
}

/* notify: the log entry, and the notification when the receiver gets any
 * alert (nothing but resolved ones with send_resolved off: only the log),
 * in one transaction */
static void flush_send(struct notify *n, const struct ngroup *g, const struct flush *f,
		       int64_t now)
{
	const struct conf_receiver *rc = &n->c->notify.receivers[g->route->recv];
	json_t *log = json_object();
	json_object_set_new(log, "firing", hex_array(f->ff, f->nf));
	json_object_set_new(log, "resolved", hex_array(f->rf, f->nr));
	json_object_set_new(log, "ts", json_integer(now));
	char *logv = json_dumps(log, JSON_COMPACT);
	json_decref(log);
	struct store_rec_op op = {g->key, strlen(g->key), logv, strlen(logv)};
	if (f->nf == 0) /* all resolved: the group ends with this notification */
		op.val = NULL, op.vlen = 0;
	if (f->ns == 0) {
		store_rec_write(n->st, &op, 1, NULL);
	} else {
		json_t *rec = flush_record(n, g, rc, f, now);
		outbox_enqueue(n, &n->lanes[n->lane_of[g->route->recv]], rec, &op, 1, false, now);
		json_decref(rec);
	}
	free(logv);
}

/* what was notified as resolved, or left the rules, leaves the group;
 * a resolved alert notified is remembered as done */
static void group_forget(struct ngroup *g, bool notified)
{
	size_t w = 0;
	for (size_t i = 0; i < g->n; i++) {
		struct nalert *a = g->a[i];
		if (a->firing || !(notified || a->gone)) {
			g->a[w++] = a;
			continue;
		}
		if (notified && !a->gone) {
			g->done = xreallocarray(g->done, g->ndone + 1, sizeof *g->done);
			g->done[g->ndone].fp = nalert_fp(a);
			g->done[g->ndone++].ends = a->ends_ms;
		}
		nalert_free(a);
	}
	g->n = w;
}

static void flush_group(struct notify *n, struct ngroup *g, int64_t now)
{
	const struct nroute *r = g->route;
	const struct conf_receiver *rc = &n->c->notify.receivers[r->recv];
	struct flush f;
	struct nflog e;
	bool update;

	g->flushed = true;
	g->next_flush = now + r->c->group_interval_ms;
	if (route_muted(n, r, now)) {
		log_debug(SUBSYS, "group %s muted now", g->gkey);
		group_forget(g, false);
		return;
	}
	flush_select(n, g, rc->send_resolved, &f);
	nflog_load(n, g, &e);
	update = flush_needed(&e, &f, rc->send_resolved, r->c->repeat_interval_ms, now);
	if (update)
		flush_send(n, g, &f, now);
	nflog_free(&e);
	flush_free(&f);
	group_forget(g, update);
}

void groups_flush(struct notify *n, int64_t now, int64_t *next)
{
	for (size_t gi = 0; gi < n->ng; gi++) {
		struct ngroup *g = n->g[gi];
		if (now >= g->next_flush)
			flush_group(n, g, now);
		if (g->n == 0) {
			group_free(g);
			n->g[gi] = n->g[--n->ng];
			gi--;
			continue;
		}
		if (g->next_flush < *next)
			*next = g->next_flush;
	}
}
