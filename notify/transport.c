/*
 * transport.c — sending one rendered notification, behind a table of
 * operations per receiver kind: SMTP through libcurl, HTTP POSTs for
 * webhooks and Alertmanager; each says whether to retry or to drop.
 * Flow: alert → route → group → render → outbox → [transport].
 */
#include "notify_int.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

/*
 * SMTP: STARTTLS (required) or implicit TLS, AUTH, the envelope from the
 * From, To and Cc addresses. What the server refuses for good (SMTP 550,
 * 553, 554; HTTP 4xx but 408 and 429, as Alertmanager and Prometheus do)
 * is dropped; anything else is retried by the delivery thread (outbox.c).
 */

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

static size_t reply_head_cb(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct pw_buf *b = ctx;
	if (b->len < 512)
		pw_buf_append(b, p, size * nmemb < 512 ? size * nmemb : 512);
	return size * nmemb;
}

/* the address inside "Name <addr>" (or the whole), in <> */
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

/* the SMTP envelope's recipients: To and Cc */
static struct curl_slist *smtp_rcpts(const struct conf_email *e)
{
	struct curl_slist *rcpt = NULL;
	for (size_t i = 0; i < e->nto + e->ncc; i++) {
		char *a = mail_addr(i < e->nto ? e->to[i] : e->cc[i - e->nto]);
		rcpt = curl_slist_append(rcpt, a);
		free(a);
	}
	return rcpt;
}

/* TLS (auto: implicit on port 465, else STARTTLS, required) and AUTH */
static void smtp_security(CURL *h, const struct conf_email *e, int tls)
{
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
	}
}

static int send_email(const struct conf_email *e, const char *msg, char **err)
{
	CURL *h = curl_easy_init();
	struct curl_slist *rcpt = smtp_rcpts(e);
	struct upload u = {msg, strlen(msg)};
	char *url, *from = mail_addr(e->from), *login = NULL;
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
	smtp_security(h, e, tls);
	if (e->auth_username && e->auth_mechanism) {
		login = xasprintf("AUTH=%s", e->auth_mechanism);
		curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, login);
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	free(login);
	free(url);
	free(from);
	if (rc == CURLE_OK)
		return TRANSPORT_OK;
	*err = xasprintf("smtp %s: %s%s%s (last reply %ld)", e->smarthost, curl_easy_strerror(rc),
			 *ebuf ? ": " : "", ebuf, code);
	/* mailbox unavailable, not allowed, transaction failed: the message
	 * itself is refused and would be refused again */
	if (code == 550 || code == 553 || code == 554)
		return TRANSPORT_DROP;
	return TRANSPORT_RETRY;
}

/* JSON, pacewatch, the configured headers and the bearer token */
static struct curl_slist *http_headers(const struct conf_kvs *headers, const char *bearer)
{
	struct curl_slist *hl = NULL;
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
	return hl;
}

static int send_http(const char *url, const struct conf_kvs *headers, const char *bearer,
		     int64_t timeout_ms, const char *body, char **err)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hl;
	struct pw_buf resp;
	long code = 0;
	CURLcode rc;
	char ebuf[CURL_ERROR_SIZE] = "";

	pw_buf_init(&resp, 0);
	hl = http_headers(headers, bearer);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, reply_head_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	int out = TRANSPORT_OK;
	if (rc != CURLE_OK) {
		*err = xasprintf("POST %s: %s%s%s", url, curl_easy_strerror(rc), *ebuf ? ": " : "",
				 ebuf);
		out = TRANSPORT_RETRY;
	} else if (code / 100 != 2) {
		char *body_text = xstrndup(resp.data ? resp.data : "", resp.len);
		for (char *p = body_text; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		*err = xasprintf("POST %s: HTTP status %ld: %s", url, code, body_text);
		free(body_text);
		/* Alertmanager's and Prometheus' rule: 4xx is the payload's fault
		 * (except timeouts and rate limits), so it is not sent again */
		out = (code / 100 == 4 && code != 408 && code != 429) ? TRANSPORT_DROP : TRANSPORT_RETRY;
	}
	pw_buf_free(&resp);
	return out;
}

static int email_op(const struct conf_receiver *rc, size_t url, const char *payload, char **cause)
{
	(void)url;
	return send_email(&rc->email, payload, cause);
}

static int webhook_op(const struct conf_receiver *rc, size_t url, const char *payload,
		      char **cause)
{
	(void)url;
	return send_http(rc->webhook.url, &rc->webhook.headers, rc->webhook.bearer_token,
			 rc->webhook.timeout_ms, payload, cause);
}

/* POST to <url>/api/v2/alerts of the receiver's URL number url */
static int alertmanager_op(const struct conf_receiver *rc, size_t url, const char *payload,
			   char **cause)
{
	const char *base = rc->alertmanager.urls[url];
	size_t bl = strlen(base);
	char *u = xasprintf("%s%sapi/v2/alerts", base, bl && base[bl - 1] == '/' ? "" : "/");
	int out = send_http(u, NULL, NULL, rc->alertmanager.timeout_ms, payload, cause);
	free(u);
	return out;
}

static const struct transport_ops ops[] = {
	[CONF_RECV_EMAIL] = {"email", email_op},
	[CONF_RECV_WEBHOOK] = {"webhook", webhook_op},
	[CONF_RECV_ALERTMANAGER] = {"alertmanager", alertmanager_op},
};

const struct transport_ops *transport_of(int kind)
{
	return &ops[kind];
}
