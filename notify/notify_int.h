/*
 * notify_int.h — what the notifier's files share. The flow, file by file
 * (notify.c wires it, once per notify_step):
 *
 *   view ─ alert.c ─ route.c ─┬─ group.c ── render_email.c, render_json.c ─┐
 *                             └─ am.c ───── render_json.c ─────────────────┼─ outbox.c ─ transport.c
 *   view ─ digest.c ─────────── render_email.c ────────────────────────────┘
 *
 * alert.c: a view's alerts as notifications carry them; route.c: matchers,
 * the routing tree, inhibition, time intervals; group.c: aggregation
 * groups, their timers and the notification log; am.c: Alertmanager
 * receivers; digest.c: KPI digests; render_email.c (with render_tmpl.c's
 * templates) and render_json.c: what notifications look like, render.c
 * what they share; outbox.c: the queue in the store and the delivery
 * threads; transport.c: SMTP and HTTP; status.c, beside the flow:
 * /api/v1/notifications and the metrics, from a copy of the groups that
 * notify_step publishes.
 *
 * Calls go one way, down that flow; render.c and route.c's time ranges and
 * receiver lookup are leaves others use too. Nothing calls back up it.
 */
#ifndef PW_NOTIFY_INT_H
#define PW_NOTIFY_INT_H

#include <jansson.h>
#include <pthread.h>

#include "notify.h"
#include "template.h"
#include "view.h"

/* ---- alert.c: an alert as notifications carry it ----------------------------- */

/* Its labels (external labels added) and annotations as label sets
 * (references: a view's sets are shared, not copied), firing or resolved.
 * Its fingerprint is labels->h, Prometheus' (and Alertmanager's)
 * fingerprint of the labels. */
struct nalert {
	struct pw_lset *labels, *ann;
	bool firing;
	int64_t starts_ms, ends_ms; /* ends_ms: resolved at, or 0 */
	int64_t valid_until_ms;     /* firing alerts sent to Alertmanager */
	int64_t interval_ms;        /* the rule group's evaluation interval */
	double value;
	char *generator_url;
	bool gone;                  /* left the rules; kept until notified */
};
/* The firing and resolved alerts of v (NULL: none) with c's external
 * labels; *out: a new array of new alerts. Returns how many. */
size_t nalerts_of_view(const struct view *v, const struct conf *c, struct nalert ***out);
struct nalert *nalert_copy(const struct nalert *a);
void nalert_free(struct nalert *a);
static inline uint64_t nalert_fp(const struct nalert *a)
{
	return a->labels->h;
}
static inline const char *nalert_label(const struct nalert *a, const char *name)
{
	return pw_lset_get(a->labels, name);
}
static inline const char *nalert_ann(const struct nalert *a, const char *name)
{
	return pw_lset_get(a->ann, name);
}

/* ---- the notifier's state ------------------------------------------------------ */

struct nmatchers {
	struct store_matcher *m;
	size_t n;
	char *text; /* {a="b",c=~"d"}: Alertmanager's route key part */
};

struct nroute {
	const struct conf_route *c;
	struct nmatchers m;
	struct nroute *kids;
	size_t nkids;
	char *key;       /* {}/{...}/{...} */
	size_t recv;     /* receiver index */
	size_t *mute, *active; /* time interval indexes */
};

struct tentry {
	int times[8][2];
	size_t ntimes;
	int wd[8][2], dom[8][2], mon[8][2];
	size_t nwd, ndom, nmon;
	struct pw_tz *tz;
};

struct tinterval {
	const char *name;
	struct tentry *e;
	size_t n;
};

struct inhibit {
	struct nmatchers src, dst;
	char **equal;
	size_t nequal;
};

struct ngroup {
	char *key;     /* the notification log key: receiver, route key, group labels */
	char *gkey;    /* Alertmanager's groupKey */
	struct nroute *route;
	struct pw_lset *gl; /* the group_by labels' values */
	struct nalert **a;
	size_t n;
	int64_t next_flush;
	bool flushed;
	struct nalert **nm; /* this step's members, while routing */
	size_t nnm;
	/* resolved alerts already notified (fingerprint, resolved at): the
	 * rules keep sending them for 15 minutes; they are not news again */
	struct done {
		uint64_t fp;
		int64_t ends;
	} *done;
	size_t ndone;
};

struct qent {
	uint64_t id;
	int64_t created;
};

/* A delivery thread's queue: a receiver, or one URL of an Alertmanager
 * receiver. q, nq, next_try, fails, the counters and the last error are
 * guarded by notify.lock; the rest is fixed once made. */
struct lane {
	struct notify *n;
	size_t recv;
	size_t url; /* Alertmanager: which URL */
	char *name; /* receiver, or receiver[url] */
	char *target;
	pthread_t th;
	bool started;
	struct qent *q;
	size_t nq, capq;
	int64_t next_try;
	int fails;
	uint64_t sent, failed, dropped;
	char *last_error;
	int64_t last_error_at;
};

/* what was last posted of an alert to an Alertmanager receiver */
struct amstate {
	uint64_t fp;
	int64_t last_sent;
	bool seen;
};

/* an Alertmanager receiver's state */
struct amrecv {
	struct amstate *st;
	size_t nst;
	struct nalert **now; /* this step's alerts routed to it (borrowed) */
	size_t nnow;
};

/* The notifier. Everything but the lanes' queues and counters, next_id and
 * stop (guarded by lock) belongs to the thread that calls notify_step;
 * other threads see the groups only as published in the slot groups
 * (status.c). */
struct notify {
	const struct conf *c;
	struct store *st;
	struct pw_slot *views;
	struct nroute root;
	struct inhibit *inh;
	size_t ninh;
	struct tinterval *ti;
	size_t nti;
	struct ngroup **g;
	size_t ng;
	struct pw_slot *groups; /* a copy of g after each step (status.c) */
	struct lane *lanes;
	size_t nlanes;
	size_t *lane_of;  /* first lane of each receiver */
	struct amrecv *am; /* per receiver (used by Alertmanager kinds) */
	int64_t *digest_next;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	uint64_t next_id;
	/* the current step's alerts */
	struct nalert **cur;
	size_t ncur;
};

/* ---- route.c: where an alert goes ---------------------------------------------- */

/* Compile the routing tree, the inhibit rules and the time intervals of
 * n's configuration; PW_EINVAL with *cause (new). */
int routes_new(struct notify *n, char **cause);
void routes_free(struct notify *n);
/* The routes alert a reaches from r (Alertmanager's Route.Match), appended
 * to *out (grown). */
void route_match(struct nroute *r, const struct nalert *a, struct nroute ***out, size_t *nout);
/* Route r is muted at ms: inside a mute interval, or outside all its
 * active intervals. */
bool route_muted(const struct notify *n, const struct nroute *r, int64_t ms);
/* a is muted by an inhibit rule: a firing source alert of this step with
 * the same equal labels (an alert never mutes itself). */
bool route_inhibited(const struct notify *n, const struct nalert *a);
/* The index of the receiver named name (0 if none: validation has checked). */
size_t route_receiver(const struct conf *c, const char *name);
/* Ranges of weekdays (kind 0: "monday:friday"), days of the month (1:
 * "1:7", "-1") or months (2: "january:march"), at most 8; v in them (none:
 * every v is). Time intervals and digests use them. */
int time_ranges(char **v, size_t n, int kind, int out[8][2], size_t *nout);
bool time_in_ranges(int v, int r[8][2], size_t n);

/* ---- group.c: aggregation groups ---------------------------------------------------- */

/* Put this step's alert a (borrowed until groups_update) into route r's
 * group of its labels. */
void group_add(struct notify *n, struct nroute *r, struct nalert *a, int64_t now);
/* Make each group's members this step's (copies); an alert gone from the
 * rules resolves now and stays until notified. */
void groups_update(struct notify *n, int64_t now);
/* Flush the groups due at now into the outbox, drop the empty ones; lower
 * *next to the next flush. */
void groups_flush(struct notify *n, int64_t now, int64_t *next);
void groups_free(struct notify *n);

/* ---- am.c: Alertmanager receivers ------------------------------------------------- */

/* This step's alert a (borrowed until am_step) routed to receiver ri. */
void am_add(struct notify *n, size_t ri, struct nalert *a);
/* Post what each Alertmanager receiver needs now; lower *next to the next
 * resend. */
void am_step(struct notify *n, int64_t now, int64_t *next);
void am_free(struct notify *n);

/* ---- digest.c: KPI digests ---------------------------------------------------------- */

/* Send the digests due at now; lower *next to the next one. */
void digests_step(struct notify *n, int64_t now, int64_t *next);

/* ---- render*.c: what notifications look like ------------------------------------ */

/* A notification to render: one group's alerts for one receiver. */
struct nmsg {
	const struct conf_receiver *rc;
	const char *group_key;
	const struct pw_lset *group_labels;
	struct nalert *const *alerts; /* firing first, then resolved */
	size_t n, nfiring;
	const char *external_url, *dashboard_url;
	int64_t now_ms;
	const char *timezone; /* for times people read */
	bool zh;              /* in Chinese (global.language) */
	const struct conf *conf;
};

/* render_email.c: RFC 5322 message: headers (Subject RFC 2047-encoded) and
 * a multipart/alternative body, text and HTML, quoted-printable, CRLF. */
char *render_email(const struct nmsg *m, const char *message_id, char **subject);
/* An email of e's addresses with this subject and bodies, dated now in tz. */
void email_mime(struct pw_buf *b, const struct conf_email *e, const char *mid, const char *subject,
		const char *text, const char *html, int64_t now, const struct pw_tz *tz);
/* The zone people read times in (NULL or unknown: UTC, as NULL). */
struct pw_tz *email_zone(const char *name);

/* render_default.c: the default subject (new) and text and HTML bodies. */
char *render_default_subject(const struct nmsg *m);
void render_default_bodies(const struct nmsg *m, const char *subject, const struct pw_tz *tz,
			   struct pw_buf *text, struct pw_buf *html);

/* render_tmpl.c: a template from a file expanded for m (html: values
 * HTML-escaped); a new string. */
char *render_template(const char *t, const struct nmsg *m, bool html);

/* render_json.c: Alertmanager's webhook payload, version 4 (max 0: every
 * alert), and the body of POST /api/v2/alerts. */
char *render_webhook(const struct nmsg *m, size_t max_alerts);
char *render_am(struct nalert *const *a, size_t n);

/* render.c: what the renderers share. The labels (ann: annotations) that
 * every alert of a has with the same value (new array, borrowed strings). */
struct pw_label *render_common(struct nalert *const *a, size_t n, bool ann, size_t *out);
/* Go's RFC 3339 with nanoseconds trimmed, UTC ("2025-06-30T16:00:00.5Z") */
void go_time(char *dst, size_t sz, int64_t ms);
/* percent-encode s for a URL query (RFC 3986 unreserved kept) */
void url_escape(struct pw_buf *b, const char *s);

/* ---- outbox.c: the queue and the delivery threads --------------------------------- */

/* The lanes of n's receivers (made, their threads started, stopped and
 * freed). */
void lanes_new(struct notify *n);
void lanes_start(struct notify *n);
void lanes_stop(struct notify *n);
void lanes_free(struct notify *n);
/* Put what the outbox holds in the lanes' queues (after a restart). */
int outbox_load(struct notify *n);
/* Queue a rendered notification (rec: its JSON record, payload included)
 * for lane l; extra records are written in the same transaction;
 * supersede drops what the lane still has queued. */
int outbox_enqueue(struct notify *n, struct lane *l, json_t *rec, struct store_rec_op *extra,
		   size_t nextra, bool supersede, int64_t now);
/* How many notifications lane l has queued (its delivery thread changes
 * that: read under the lock). */
size_t outbox_queued(struct notify *n, const struct lane *l);
/* The id of an outbox key ("o/" and 8 bytes, big-endian). */
uint64_t outbox_id(const void *key);

/* ---- transport.c: sending --------------------------------------------------------- */

enum { TRANSPORT_OK, TRANSPORT_RETRY, TRANSPORT_DROP };

/* How a receiver kind sends: send one payload for receiver rc (url: which
 * of an Alertmanager receiver's URLs); TRANSPORT_RETRY or TRANSPORT_DROP
 * with *cause (new string) when it did not go out. */
struct transport_ops {
	const char *kind; /* "email", "webhook", "alertmanager" */
	int (*send)(const struct conf_receiver *rc, size_t url, const char *payload, char **cause);
};
const struct transport_ops *transport_of(int kind); /* CONF_RECV_* */

/* ---- status.c: what the notifier shows ----------------------------------------------- */

/* Publish a copy of the groups for the status (after each step). */
void status_publish(struct notify *n);

#endif
