/*
 * notify_int.h — what the notifier's files share: an alert as notifications
 * carry it, a notification to render, and the renderers (render.c).
 */
#ifndef PW_NOTIFY_INT_H
#define PW_NOTIFY_INT_H

#include <jansson.h>

#include "notify.h"
#include "template.h"
#include "view.h"

/* An alert as notifications carry it: its labels (external labels added)
 * and annotations as label sets (references: a view's sets are shared, not
 * copied), firing or resolved. Its fingerprint is labels->h, Prometheus'
 * (and Alertmanager's) fingerprint of the labels. */
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
};

/* render_email.c: RFC 5322 message: headers (Subject RFC 2047-encoded) and
 * a multipart/alternative body, text and HTML, quoted-printable, CRLF. */
char *render_email(const struct nmsg *m, const char *message_id, char **subject);
/* render_tmpl.c: a template from a file expanded for m (html: values
 * HTML-escaped); a new string */
char *render_template(const char *t, const struct nmsg *m, bool html);
/* render_json.c: Alertmanager's webhook payload, version 4 (max 0: every
 * alert), and the body of POST /api/v2/alerts. */
char *render_webhook(const struct nmsg *m, size_t max_alerts);
char *render_am(struct nalert *const *a, size_t n);

/* A KPI digest email: every KPI's units, laggards first, and the changes
 * since the previous digest (prev: the JSON state it saved, or NULL).
 * *state receives the state to save for the next one. */
char *render_digest(const struct conf_digest *d, const struct conf_email *e, const struct view *v,
		    const char *prev, int64_t now_ms, const char *message_id,
		    const char *dashboard_url, char **subject, char **state);

/* render.c: what the renderers share. The labels (ann: annotations) that
 * every alert of a has with the same value (new array, borrowed strings) */
struct pw_label *render_common(struct nalert *const *a, size_t n, bool ann, size_t *out);
/* Go's RFC 3339 with nanoseconds trimmed, UTC ("2025-06-30T16:00:00.5Z") */
void go_time(char *dst, size_t sz, int64_t ms);
/* percent-encode s for a URL query (RFC 3986 unreserved kept) */
void url_escape(struct pw_buf *b, const char *s);

/* ---- the notifier's state (notify.c routes and groups, outbox.c delivers) ---- */

#include <pthread.h>

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

struct amstate {
	uint64_t fp;
	int64_t last_sent;
	bool seen;
};

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
	struct lane *lanes;
	size_t nlanes;
	size_t *lane_of; /* first lane of each receiver */
	struct amstate **am; /* per receiver (Alertmanager kinds) */
	size_t *nam;
	int64_t *digest_next;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	uint64_t next_id;
	/* the current step's alerts */
	struct nalert **cur;
	size_t ncur;
};

/* outbox.c */
int outbox_load(struct notify *n);
/* Queue a rendered notification (rec: its JSON record, payload included)
 * for lane l; extra records are written in the same transaction;
 * supersede drops what the lane still has queued. */
int outbox_enqueue(struct notify *n, struct lane *l, json_t *rec, struct store_rec_op *extra,
		   size_t nextra, bool supersede, int64_t now);
void *lane_main(void *arg);

#endif
