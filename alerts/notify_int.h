/*
 * notify_int.h — what the notifier's files share: an alert as notifications
 * carry it, a notification to render, and the renderers (render.c).
 */
#ifndef PW_NOTIFY_INT_H
#define PW_NOTIFY_INT_H

#include "alerts_int.h"

/* An alert as notifications carry it: labels sorted by name (external
 * labels added), firing or resolved. */
struct nalert {
	struct pw_label *labels, *ann;
	size_t nl, na;
	bool firing;
	int64_t starts_ms, ends_ms; /* ends_ms: resolved at, or 0 */
	int64_t valid_until_ms;     /* firing alerts sent to Alertmanager */
	double value;
	uint64_t fp;                /* Alertmanager's fingerprint of the labels */
	char *generator_url;
	bool gone;                  /* left the rules; kept until notified */
};
struct nalert *nalert_copy(const struct nalert *a);
void nalert_free(struct nalert *a);
const char *nalert_label(const struct nalert *a, const char *name);
const char *nalert_ann(const struct nalert *a, const char *name);
/* model.LabelSet.Fingerprint: FNV-1a 64 over sorted name, 0xff, value, 0xff */
uint64_t labels_fingerprint(const struct pw_label *l, size_t n);

/* A notification to render: one group's alerts for one receiver. */
struct nmsg {
	const struct conf_receiver *rc;
	const char *group_key;
	const struct pw_label *group_labels;
	size_t ngl;
	struct nalert *const *alerts; /* firing first, then resolved */
	size_t n, nfiring;
	const char *external_url, *dashboard_url;
	int64_t now_ms;
	const char *timezone; /* for times people read */
};

/* RFC 5322 message: headers (Subject RFC 2047-encoded) and a
 * multipart/alternative body, text and HTML, quoted-printable, CRLF. */
char *render_email(const struct nmsg *m, const char *message_id, char **subject);
/* Alertmanager's webhook payload, version 4 (max 0: every alert). */
char *render_webhook(const struct nmsg *m, size_t max_alerts);
/* The body of POST /api/v2/alerts. */
char *render_am(struct nalert *const *a, size_t n);

/* A KPI digest email: every KPI's units, laggards first, and the changes
 * since the previous digest (prev: the JSON state it saved, or NULL).
 * *state receives the state to save for the next one. */
char *render_digest(const struct conf_digest *d, const struct conf_email *e, const char *kpis_json,
		    const char *prev, int64_t now_ms, const char *message_id,
		    const char *dashboard_url, char **subject, char **state);

/* Go's RFC 3339 with nanoseconds trimmed, UTC ("2025-06-30T16:00:00.5Z") */
void go_time(char *dst, size_t sz, int64_t ms);
/* the address inside "Name <addr>" (or the whole) */
char *mail_addr(const char *s);

#endif
