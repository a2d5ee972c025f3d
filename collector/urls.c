/*
 * urls.c — what the collector decides about URLs a platform hands it
 * (docs/collector.md): the origin of a URL, whether a pagination link may
 * be followed and with which credentials, and URLs with their password
 * redacted for everything people read. Pure: strings in, strings out.
 */
#include "collector_int.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

char *collector_redact_url(const char *url)
{
	const char *auth = strstr(url, "://"), *end, *at = NULL, *colon = NULL;

	if (!auth)
		return xstrdup(url);
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p; /* the last one: a password may hold an unescaped @ */
	if (!at)
		return xstrdup(url);
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (!colon)
		return xstrdup(url); /* a user name alone, as Go's url.Redacted keeps it */
	return xasprintf("%.*s<secret>%s", (int)(colon + 1 - url), url, at);
}

/* The parts of an absolute URL: scheme and host lowercase, the port filled
 * in; has_userinfo when it carries user or password. 0 or PW_EINVAL. */
static int url_parts(const char *url, char **scheme, char **host, char **port, bool *has_userinfo)
{
	CURLU *u = curl_url();
	char *user = NULL, *pass = NULL;
	int rc = 0;

	*scheme = *host = *port = NULL;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, scheme, 0) != CURLUE_OK) {
		rc = PW_EINVAL;
		goto out;
	}
	for (char *p = *scheme; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (strcmp(*scheme, "file") != 0) {
		if (curl_url_get(u, CURLUPART_HOST, host, 0) != CURLUE_OK ||
		    curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
			rc = PW_EINVAL;
			goto out;
		}
		for (char *p = *host; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
	*has_userinfo = (user && *user) || (pass && *pass);
out:
	if (rc) {
		curl_free(*scheme);
		curl_free(*host);
		curl_free(*port);
		*scheme = *host = *port = NULL;
	}
	curl_free(user);
	curl_free(pass);
	curl_url_cleanup(u);
	return rc;
}

static char *origin_of(const char *scheme, const char *host, const char *port)
{
	if (!host)
		return xasprintf("%s://", scheme);
	return xasprintf("%s://%s:%s", scheme, host, port ? port : "");
}

char *collector_url_origin(const char *url)
{
	char *scheme, *host, *port, *out;
	bool ui;

	if (url_parts(url, &scheme, &host, &port, &ui) != 0)
		return NULL;
	out = origin_of(scheme, host, port);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return out;
}

int collector_origin_parse(const char *text, char **origin, char **why)
{
	CURLU *u = curl_url();
	char *path = NULL, *query = NULL;
	bool ok;

	*origin = NULL;
	ok = curl_url_set(u, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK;
	if (ok) {
		curl_url_get(u, CURLUPART_PATH, &path, 0);
		curl_url_get(u, CURLUPART_QUERY, &query, 0);
	}
	curl_url_cleanup(u);
	if (ok && ((path && strcmp(path, "/") != 0 && *path) || query))
		ok = false;
	curl_free(path);
	curl_free(query);
	if (ok)
		*origin = collector_url_origin(text);
	if (!*origin || (strncmp(*origin, "http://", 7) != 0 && strncmp(*origin, "https://", 8) != 0)) {
		free(*origin);
		*origin = NULL;
		*why = xasprintf("\"%s\" is not an origin such as \"https://host\" or "
				 "\"http://host:8080\" (scheme, host and port only)", text);
		return PW_EINVAL;
	}
	return 0;
}

int collector_link_check(const char *target_url, char *const *allowed, size_t nallowed,
			 const char *link, bool *foreign, char **why)
{
	char *ts = NULL, *th = NULL, *tp = NULL, *ls = NULL, *lh = NULL, *lp = NULL;
	char *torigin = NULL, *lorigin = NULL;
	bool tui, lui;
	int rc = PW_EINVAL;

	*foreign = false;
	*why = NULL;
	if (url_parts(target_url, &ts, &th, &tp, &tui) != 0) {
		*why = xstrdup("the target's URL cannot be parsed");
		goto out;
	}
	if (url_parts(link, &ls, &lh, &lp, &lui) != 0) {
		*why = xstrdup("it is not a URL");
		goto out;
	}
	if (strcmp(ls, "http") != 0 && strcmp(ls, "https") != 0 && strcmp(ls, "file") != 0) {
		*why = xasprintf("scheme \"%s\" is not followed (http and https only)", ls);
		goto out;
	}
	if (strcmp(ls, "file") == 0 && strcmp(ts, "file") != 0) {
		*why = xasprintf("scheme \"file\" is not followed from an %s:// target", ts);
		goto out;
	}
	if (lui) {
		*why = xstrdup("it carries user:password@");
		goto out;
	}
	torigin = origin_of(ts, th, tp);
	lorigin = origin_of(ls, lh, lp);
	if (strcmp(torigin, lorigin) == 0) {
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < nallowed; i++) {
		if (strcmp(allowed[i], lorigin) == 0) {
			*foreign = true;
			rc = 0;
			goto out;
		}
	}
	*why = xasprintf("its origin %s is neither the target's (%s) nor listed in "
			 "pagination.allowed_origins", lorigin, torigin);
out:
	curl_free(ts);
	curl_free(th);
	curl_free(tp);
	curl_free(ls);
	curl_free(lh);
	curl_free(lp);
	free(torigin);
	free(lorigin);
	return rc;
}
