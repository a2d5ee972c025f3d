/*
 * collector.c — the scrape loop: a min-heap of next-due targets, libcurl's
 * multi interface for the transfers (at most global.max_concurrent_scrapes
 * in flight), and for each finished scrape one store batch with its
 * samples, health series and staleness markers. A failing target backs off
 * (doubling up to a cap), logs one error, then one "recovered" line.
 */
#include "collector_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A series a scrape reported: its label set (staleness, new series) and the
 * store's key for it, made once and resolved to the series' id after the
 * commit that stored it, so that later scrapes put its samples by key.
 * Shared by the sets of consecutive scrapes; reference counted, touched by
 * the collector's thread only. */
struct series {
	unsigned refs;
	struct pw_lset *ls;
	struct store_key key; /* enc NULL until the labels passed the limits */
	/* the labels as the parser handed them ("name\0value\0" each, in
	 * their order) when the series was stored: the same labels again are
	 * the same series, with the same outcome of the limits */
	char *raw;
	size_t rawlen;
};

/* the series a scrape reported: the next scrape marks stale those it does
 * not report again */
struct seriesset {
	struct series **v;
	size_t n, cap;
};

/* Why a scrape failed, for the counters of refusals. */
enum refusal { REFUSED_NONE, REFUSED_SAMPLES, REFUSED_LABELS, REFUSED_NEW_SERIES, REFUSED_LINK };

struct ctarget {
	const struct conf_target *t;
	struct jsonmap **maps;
	size_t nmaps;
	struct pw_tz *tz;
	char *instance;
	char *url_shown;         /* the URL with its password redacted */
	bool is_file;            /* a file:// target */
	char **allowed;          /* pagination.allowed_origins, as origins */
	size_t nallowed;
	char **secrets;          /* never shown: token, passwords, basic credentials */
	size_t nsecrets;
	char *url_user, *url_pass; /* the URL's user:password@, decoded (NULL: none) */
	/* limits in force (0: none) */
	int64_t sample_limit, label_limit, name_len_limit, value_len_limit;
	const char *sample_limit_key;
	size_t heap_idx;
	int64_t next_due;
	int64_t offset;
	unsigned failures;
	long http_code; /* of the last page fetched, 0 for file:// and failures */
	bool meta_written;
	/* the scrape in flight; the handle stays with the target between
	 * scrapes (reset, not made anew) */
	CURL *easy;
	bool in_multi;
	char *first_url;         /* the first page's URL, when no page parameter changes it */
	struct curl_slist *hdrs;
	struct pw_buf body;
	bool too_big;
	int page;
	char *page_url;
	bool page_foreign;       /* page_url is at an allowed other origin: no credentials */
	enum refusal refused;    /* why this scrape failed, when a limit or a link refused it */
	char *limit_msg;         /* the refusal, when a put stopped the parse */
	int64_t started_ns, start_ms;
	struct store_batch *batch;
	size_t samples;
	uint64_t resp_bytes;
	struct seriesset cur, prev;
	/* prev's series in the order the scrape reported them (no references
	 * of its own): where the next scrape looks for each of its series */
	struct seriesset arrival;
	/* the last successful scrape's series (sorted), against which new series
	 * are counted; ever_ok once there was one */
	struct seriesset seen;
	bool ever_ok;
	/* status, under collector.status_lock */
	char *last_error;
	int health;
	int64_t last_ms;
	double last_dur;
	size_t last_samples;
	uint64_t scrapes_total, failures_total, samples_total;
	uint64_t buckets[COLLECTOR_DURATION_BUCKETS];
	double dur_sum;
	/* a ledger by path: read again only when it changed (docs/ledgers.md) */
	struct stat sig;
	bool have_sig, unchanged;
	char *raw_error; /* the last scrape's error, unescaped */
	uint64_t exc_samples, exc_labels, exc_new_series, links_refused;
	int64_t status_next_due; /* next_due as the status shows it (0: in flight) */
};

const double collector_duration_bounds[COLLECTOR_DURATION_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, INFINITY};

struct collector {
	const struct conf *conf;
	struct store *store;
	CURLM *multi;
	struct ctarget *tg;
	size_t ntg;
	struct ctarget **heap;
	size_t nheap;
	size_t inflight;
	bool draining;
	/* scrapes finished but not yet committed: committed together */
	struct pending {
		struct ctarget *t;
		char *error;
		double dur;
	} *pend;
	size_t npend;
	int64_t pend_since_ns;
	pthread_mutex_t status_lock; /* status fields read by the HTTP threads */
	/* global.new_series_limit: what is left of the allowance, refilled
	 * continuously, and when it was last refilled */
	double ns_left;
	int64_t ns_refilled_ns;
	bool store_failing; /* an episode of a full disk or I/O errors was logged */
	struct store_key **keys; /* resolve_keys' list */
	size_t ncap_keys;
};

static void flush_pending(struct collector *c);

/* How long a finished scrape waits for others to share its commit, and how
 * many finished scrapes make a commit at once (docs/collector.md). */
#define GROUP_COMMIT_NS 200000000LL
#define GROUP_COMMIT_MAX 1024

/* ---- series seen in a scrape, for staleness ------------------------------ */

/* A platform usually answers with the same series in the same order every
 * time, so a scrape's sets are mostly the previous scrape's own (see
 * series_of): the same pointer is the same series, without comparing. */
static int series_cmp(const struct series *a, const struct series *b)
{
	return a == b ? 0 : pw_lset_cmp(a->ls, b->ls);
}

static int set_cmp(const void *a, const void *b)
{
	return series_cmp(*(struct series *const *)a, *(struct series *const *)b);
}

static struct series *series_new(struct pw_lset *ls) /* takes ls */
{
	struct series *s = xcalloc(1, sizeof *s);
	s->refs = 1;
	s->ls = ls;
	return s;
}

static struct series *series_ref(struct series *s)
{
	s->refs++;
	return s;
}

static void series_unref(struct series *s)
{
	if (s && --s->refs == 0) {
		pw_lset_unref(s->ls);
		store_key_free(&s->key);
		free(s->raw);
		free(s);
	}
}

/* Both hold the very same sets in the same order. */
static bool set_same(const struct seriesset *a, const struct seriesset *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i] != b->v[i])
			return false;
	return true;
}

/* Sorted already (in the order set_cmp sorts)? */
static bool set_sorted(const struct seriesset *s)
{
	for (size_t i = 1; i < s->n; i++)
		if (series_cmp(s->v[i - 1], s->v[i]) > 0)
			return false;
	return true;
}

static void set_add(struct seriesset *s, struct series *ls)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xreallocarray(s->v, s->cap, sizeof *s->v);
	}
	s->v[s->n++] = ls;
}

static void set_clear(struct seriesset *s)
{
	for (size_t i = 0; i < s->n; i++)
		series_unref(s->v[i]);
	s->n = 0;
}

static void set_free(struct seriesset *s)
{
	set_clear(s);
	free(s->v);
	s->v = NULL;
	s->cap = 0;
}

/* ---- heap of next-due targets ------------------------------------------- */

static void due_swap(struct collector *c, size_t a, size_t b)
{
	struct ctarget *t = c->heap[a];
	c->heap[a] = c->heap[b];
	c->heap[b] = t;
	c->heap[a]->heap_idx = a;
	c->heap[b]->heap_idx = b;
}

static void due_up(struct collector *c, size_t i)
{
	while (i > 0 && c->heap[(i - 1) / 2]->next_due > c->heap[i]->next_due) {
		due_swap(c, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void due_down(struct collector *c, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < c->nheap && c->heap[l]->next_due < c->heap[m]->next_due)
			m = l;
		if (r < c->nheap && c->heap[r]->next_due < c->heap[m]->next_due)
			m = r;
		if (m == i)
			return;
		due_swap(c, i, m);
		i = m;
	}
}

static void heap_push(struct collector *c, struct ctarget *t)
{
	c->heap[c->nheap] = t;
	t->heap_idx = c->nheap++;
	due_up(c, t->heap_idx);
}

static struct ctarget *heap_pop(struct collector *c)
{
	struct ctarget *t = c->heap[0];
	c->heap[0] = c->heap[--c->nheap];
	c->heap[0]->heap_idx = 0;
	if (c->nheap)
		due_down(c, 0);
	return t;
}

/* ---- set-up ------------------------------------------------------------- */

static char *instance_of(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *path = NULL, *out;

	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		return xstrdup(url);
	}
	if (strncmp(url, "file://", 7) == 0) {
		curl_url_get(u, CURLUPART_PATH, &path, 0);
		out = xstrdup(path ? path : url);
	} else {
		curl_url_get(u, CURLUPART_HOST, &host, 0);
		curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
		out = xasprintf("%s:%s", host ? host : "", port ? port : "");
	}
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return out;
}

static void add_secret(struct ctarget *t, const char *s)
{
	/* shorter ones cannot be told apart from ordinary text */
	if (!s || strlen(s) < 4)
		return;
	t->secrets = xreallocarray(t->secrets, t->nsecrets + 1, sizeof *t->secrets);
	t->secrets[t->nsecrets++] = xstrdup(s);
}

static char *base64(const char *s)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* What a platform could echo back and must never be shown: the bearer
 * token, the basic password, the URL's password (as written and decoded),
 * the Basic credentials as sent, and the values of custom headers (API
 * keys travel in them). */
static void collect_secrets(struct ctarget *t)
{
	const struct conf_target *ct = t->t;
	CURLU *u = curl_url();
	char *user = NULL, *pass = NULL, *raw = NULL;

	add_secret(t, ct->bearer_token);
	for (size_t i = 0; i < ct->headers.n; i++)
		add_secret(t, ct->headers.v[i].value);
	add_secret(t, ct->basic_password);
	if (ct->basic_user && ct->basic_password) {
		char *up = xasprintf("%s:%s", ct->basic_user, ct->basic_password), *b = base64(up);
		add_secret(t, b);
		free(b);
		free(up);
	}
	if (curl_url_set(u, CURLUPART_URL, ct->url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_PASSWORD, &raw, 0);
		curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE);
		add_secret(t, pass);
		add_secret(t, raw);
		/* for the pages of its own origin, which links name without them */
		t->url_user = xstrdup(user ? user : "");
		t->url_pass = xstrdup(pass);
		{
			char *up = xasprintf("%s:%s", user ? user : "", pass), *b = base64(up);
			add_secret(t, b);
			free(b);
			free(up);
		}
	}
	curl_free(user);
	curl_free(pass);
	curl_free(raw);
	curl_url_cleanup(u);
}

/* s with every secret of t replaced by <secret>; new string. */
static char *scrub(const struct ctarget *t, const char *s)
{
	struct pw_buf b;
	const char *p = s;

	if (t->nsecrets == 0)
		return xstrdup(s);
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "");
	while (*p) {
		size_t hit = 0;
		for (size_t i = 0; i < t->nsecrets && !hit; i++)
			if (strncmp(p, t->secrets[i], strlen(t->secrets[i])) == 0)
				hit = strlen(t->secrets[i]);
		if (hit) {
			pw_buf_puts(&b, "<secret>");
			p += hit;
		} else {
			pw_buf_putc(&b, *p++);
		}
	}
	return pw_buf_take(&b);
}

/* The target's own limit, else the global one. */
static int64_t limit_of(int64_t own, int64_t global) { return own > 0 ? own : global; }

int64_t collector_shard_of(const char *target, int64_t count)
{
	return (int64_t)(pw_hash64(target, strlen(target)) % (uint64_t)count);
}

int collector_new(const struct conf *conf, struct store *s, struct collector **out, char **cause)
{
	struct collector *c = xcalloc(1, sizeof *c);
	int64_t now = pw_now_ms();

	*out = NULL;
	jsonmap_init(); /* before the daemon's other threads use jansson */
	c->conf = conf;
	c->store = s;
	pthread_mutex_init(&c->status_lock, NULL);
	c->multi = curl_multi_init();
	curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
			  (long)conf->global.max_concurrent_scrapes);
	/* keep connections to the platforms open between scrapes */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
			  (long)(conf->ntargets < 1024 ? conf->ntargets + 8 : 1024));
	c->tg = xcalloc(conf->ntargets + 1, sizeof *c->tg);
	c->heap = xcalloc(conf->ntargets + 1, sizeof *c->heap);
	c->ns_left = (double)conf->global.new_series_limit;
	c->ns_refilled_ns = pw_mono_ns();
	for (size_t i = 0; i < conf->ntargets; i++) {
		struct ctarget *t;
		char *why = NULL;
		/* global.shard: N instances split the targets by a hash of the
		 * name, the same on every instance */
		if (conf->global.shard_count > 1 &&
		    collector_shard_of(conf->targets[i].name, conf->global.shard_count) !=
			    conf->global.shard_index)
			continue;
		t = &c->tg[c->ntg++];
		t->t = &conf->targets[i];
		t->health = -1;
		t->instance = t->t->path ? xstrdup(t->t->path) : instance_of(t->t->url);
		t->url_shown = collector_redact_url(t->t->url);
		t->is_file = strncmp(t->t->url, "file://", 7) == 0;
		collect_secrets(t);
		t->sample_limit = limit_of(t->t->sample_limit, conf->global.sample_limit);
		t->sample_limit_key = t->t->sample_limit > 0 ? "targets[].sample_limit"
							     : "global.sample_limit";
		t->label_limit = limit_of(t->t->label_limit, conf->global.label_limit);
		t->name_len_limit = limit_of(t->t->label_name_length_limit,
					     conf->global.label_name_length_limit);
		t->value_len_limit = limit_of(t->t->label_value_length_limit,
					      conf->global.label_value_length_limit);
		pw_buf_init(&t->body, t->t->max_response_size);
		t->allowed = xcalloc(t->t->pagination.nallowed_origins + 1, sizeof *t->allowed);
		for (size_t k = 0; k < t->t->pagination.nallowed_origins; k++) {
			if (collector_origin_parse(t->t->pagination.allowed_origins[k],
						   &t->allowed[t->nallowed], &why) != 0) {
				*cause = xasprintf("target %s: pagination.allowed_origins[%zu]: %s",
						   t->t->name, k, why);
				free(why);
				collector_free(c);
				return PW_EINVAL;
			}
			t->nallowed++;
		}
		if (pw_tz_load(t->t->timezone, &t->tz, &why) != 0) {
			*cause = xasprintf("target %s: %s", t->t->name, why);
			free(why);
			collector_free(c);
			return PW_EINVAL;
		}
		t->maps = xcalloc(t->t->nmetrics + 1, sizeof *t->maps);
		for (size_t m = 0; m < t->t->nmetrics; m++) {
			if (jsonmap_compile(&t->t->metrics[m], &t->maps[m], &why) != 0) {
				*cause = xasprintf("target %s: %s", t->t->name, why);
				free(why);
				collector_free(c);
				return PW_EINVAL;
			}
			t->nmaps++;
		}
		/* A deterministic offset per target spreads the load over the
		 * interval and keeps each target on the same phase. */
		t->offset = (int64_t)(pw_hash64(t->t->name, strlen(t->t->name)) %
				      (uint64_t)t->t->interval_ms);
		t->next_due = now + (t->offset % 1000); /* first round soon after start */
		t->status_next_due = t->next_due; /* no other thread sees t yet */
		heap_push(c, t);
	}
	*out = c;
	return 0;
}

static void transfer_cleanup(struct collector *c, struct ctarget *t)
{
	if (t->in_multi) {
		curl_multi_remove_handle(c->multi, t->easy);
		t->in_multi = false;
		c->inflight--;
	}
	curl_slist_free_all(t->hdrs);
	t->hdrs = NULL;
}

void collector_free(struct collector *c)
{
	if (!c)
		return;
	/* finished scrapes waiting for their group commit are stored (their
	 * targets' status, series and secrets are still needed for that) */
	flush_pending(c);
	for (size_t i = 0; i < c->ntg; i++) {
		struct ctarget *t = &c->tg[i];
		transfer_cleanup(c, t);
		curl_easy_cleanup(t->easy);
		free(t->first_url);
		if (t->batch)
			store_batch_abort(t->batch);
		for (size_t m = 0; m < t->nmaps; m++)
			jsonmap_free(t->maps[m]);
		free(t->maps);
		pw_tz_free(t->tz);
		free(t->instance);
		free(t->url_shown);
		free(t->url_user);
		free(t->url_pass);
		for (size_t k = 0; k < t->nallowed; k++)
			free(t->allowed[k]);
		free(t->allowed);
		for (size_t k = 0; k < t->nsecrets; k++)
			free(t->secrets[k]);
		free(t->secrets);
		free(t->limit_msg);
		pw_buf_free(&t->body);
		free(t->page_url);
		set_free(&t->cur);
		set_free(&t->prev);
		set_free(&t->seen);
		free(t->arrival.v); /* no references of its own */
		free(t->last_error);
		free(t->raw_error);
		t->raw_error = NULL;
	}
	free(c->pend);
	free(c->keys);
	free(c->tg);
	free(c->heap);
	curl_multi_cleanup(c->multi);
	pthread_mutex_destroy(&c->status_lock);
	free(c);
}

/* ---- one transfer ------------------------------------------------------- */

static size_t on_body(char *p, size_t sz, size_t n, void *u)
{
	struct ctarget *t = u;
	if (pw_buf_append(&t->body, p, sz * n) != 0) {
		t->too_big = true;
		return 0; /* aborts the transfer */
	}
	return sz * n;
}

static char *page_url(const struct ctarget *t)
{
	const struct conf_target *ct = t->t;
	CURLU *u;
	char *url = NULL, *out;

	if (t->page_url)
		return xstrdup(t->page_url);
	u = curl_url();
	if (curl_url_set(u, CURLUPART_URL, ct->url, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		return xstrdup(ct->url);
	}
	for (size_t i = 0; i < ct->params.n; i++) {
		char *q = xasprintf("%s=%s", ct->params.v[i].name, ct->params.v[i].value);
		curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE);
		free(q);
	}
	if (ct->pagination.page_param) {
		char *q = xasprintf("%s=%lld", ct->pagination.page_param,
				    (long long)(ct->pagination.page_start +
						(int64_t)t->page * ct->pagination.step));
		curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE);
		free(q);
	}
	curl_url_get(u, CURLUPART_URL, &url, 0);
	out = xstrdup(url ? url : ct->url);
	curl_free(url);
	curl_url_cleanup(u);
	return out;
}

static void start_transfer(struct collector *c, struct ctarget *t)
{
	const struct conf_target *ct = t->t;
	CURL *e = t->easy;
	char *url = t->page_url || ct->pagination.page_param ? page_url(t) : NULL;
	int64_t left_ms = ct->timeout_ms - (pw_mono_ns() - t->started_ns) / 1000000;

	if (e)
		curl_easy_reset(e); /* options as new; connections and caches kept */
	else
		e = t->easy = curl_easy_init();
	if (!url && !t->first_url)
		t->first_url = page_url(t);
	pw_buf_reset(&t->body);
	t->too_big = false;
	curl_easy_setopt(e, CURLOPT_URL, url ? url : t->first_url);
	free(url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(left_ms > 1 ? left_ms : 1));
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "pacewatch/" PW_VERSION);
	/* a target reads files or speaks HTTP, whatever a response says; a
	 * redirect is not followed, so no credential follows one */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, t->is_file ? "file" : "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, t->is_file ? "file" : "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
	if (ct->max_response_size)
		curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ct->max_response_size);
	if (ct->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, ct->ca_file);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, ct->tls_verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, ct->tls_verify ? 2L : 0L);
	if (ct->proxy)
		curl_easy_setopt(e, CURLOPT_PROXY, ct->proxy);
	if (ct->method && strcmp(ct->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, ct->body ? ct->body : "");
	}
	/* credentials go to the target's own origin only */
	if (!t->page_foreign) {
		for (size_t i = 0; i < ct->headers.n; i++) {
			char *h = xasprintf("%s: %s", ct->headers.v[i].name, ct->headers.v[i].value);
			t->hdrs = curl_slist_append(t->hdrs, h);
			free(h);
		}
		if (ct->bearer_token) {
			char *h = xasprintf("Authorization: Bearer %s", ct->bearer_token);
			t->hdrs = curl_slist_append(t->hdrs, h);
			free(h);
		}
		if (t->hdrs)
			curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->hdrs);
		if (ct->basic_user) {
			curl_easy_setopt(e, CURLOPT_USERNAME, ct->basic_user);
			curl_easy_setopt(e, CURLOPT_PASSWORD,
					 ct->basic_password ? ct->basic_password : "");
		} else if (t->page_url && t->url_pass) {
			/* a link of the target's own origin: the URL's user:password@ */
			curl_easy_setopt(e, CURLOPT_USERNAME, t->url_user);
			curl_easy_setopt(e, CURLOPT_PASSWORD, t->url_pass);
		}
		if (ct->cert_file)
			curl_easy_setopt(e, CURLOPT_SSLCERT, ct->cert_file);
		if (ct->key_file)
			curl_easy_setopt(e, CURLOPT_SSLKEY, ct->key_file);
	}
	curl_multi_add_handle(c->multi, e);
	t->in_multi = true;
	c->inflight++;
}

/* ---- samples into the batch ----------------------------------------------- */

struct put_ctx {
	struct ctarget *t;
	int64_t now_ms;
};

/* The scrape is refused: why (taken), for the error and the counters.
 * Returns what stops the parser. */
static int refuse(struct ctarget *t, enum refusal why, char *msg)
{
	free(t->limit_msg);
	t->limit_msg = msg;
	t->refused = why;
	return PW_ETOOBIG;
}

/* The series the scrape reports with these labels (a new reference): the
 * previous scrape's at the same place when it has these labels (a platform
 * that answers in the same order costs no allocation and no encoding),
 * else a new one. */
static struct series *series_of(struct ctarget *t, const struct pw_label *l, size_t n)
{
	struct pw_label sorted[PT_MAX_LABELS + 8];
	struct series *p = t->cur.n < t->arrival.n ? t->arrival.v[t->cur.n] : NULL;

	if (p && n <= sizeof sorted / sizeof sorted[0]) {
		size_t k;
		memcpy(sorted, l, n * sizeof *l);
		k = pw_labels_sort(sorted, n);
		if (pw_labels_eq(p->ls->l, p->ls->n, sorted, k))
			return series_ref(p);
	}
	return series_new(pw_lset_new(l, n));
}

/* Does s hold the scraped labels l[0..n) as the parser handed them? */
static bool raw_is(const struct series *s, const struct pw_label *l, size_t n)
{
	const char *p = s->raw, *lim = s->raw + s->rawlen;
	if (!p)
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(l[i].name) + 1, b = strlen(l[i].value) + 1;
		if ((size_t)(lim - p) < a + b || memcmp(p, l[i].name, a) != 0 ||
		    memcmp(p + a, l[i].value, b) != 0)
			return false;
		p += a + b;
	}
	return p == lim;
}

static void raw_set(struct series *s, const struct pw_label *l, size_t n)
{
	size_t len = 0;
	char *p;
	if (s->raw)
		return;
	for (size_t i = 0; i < n; i++)
		len += strlen(l[i].name) + strlen(l[i].value) + 2;
	s->raw = p = xmalloc(len + 1);
	s->rawlen = len;
	for (size_t i = 0; i < n; i++) {
		size_t a = strlen(l[i].name) + 1, b = strlen(l[i].value) + 1;
		memcpy(p, l[i].name, a);
		memcpy(p + a, l[i].value, b);
		p += a + b;
	}
}

/* Scraped labels, then the target's (a scraped label of the same name is
 * kept as exported_<name>, as Prometheus does); remembers the series. */
static int put_sample(void *vctx, const struct pw_label *l, size_t n, int64_t ts, double v)
{
	struct ctarget *t = ((struct put_ctx *)vctx)->t;
	const struct conf_target *ct = t->t;
	struct pw_label ls[PT_MAX_LABELS + 8];
	char *renamed[PT_MAX_LABELS + 1], *why;
	size_t nl = 0, nr = 0;
	struct series *se;
	int rc;

	/* Prometheus' sample_limit: all pages of the scrape together */
	if (t->sample_limit && t->samples >= (size_t)t->sample_limit)
		return refuse(t, REFUSED_SAMPLES,
			      xasprintf("sample_limit exceeded: more than %lld samples (%s)",
					(long long)t->sample_limit, t->sample_limit_key));
	/* the previous scrape's series at this place, with these very labels:
	 * the same labels as stored, checked and keyed then */
	se = t->cur.n < t->arrival.n ? t->arrival.v[t->cur.n] : NULL;
	if (se && raw_is(se, l, n)) {
		rc = store_batch_put_key(t->batch, &se->key, ts, v);
		if (rc == 0) {
			set_add(&t->cur, series_ref(se));
			t->samples++;
		}
		return rc;
	}
	for (size_t i = 0; i < n && nl < PT_MAX_LABELS; i++) {
		bool clash = strcmp(l[i].name, "job") == 0 || strcmp(l[i].name, "instance") == 0;
		for (size_t k = 0; k < ct->labels.n && !clash; k++)
			clash = strcmp(l[i].name, ct->labels.v[k].name) == 0;
		ls[nl] = l[i];
		if (clash && i > 0)
			ls[nl].name = renamed[nr++] = xasprintf("exported_%s", l[i].name);
		nl++;
	}
	ls[nl].name = "job";
	ls[nl++].value = ct->name;
	ls[nl].name = "instance";
	ls[nl++].value = t->instance;
	for (size_t k = 0; k < ct->labels.n && nl < PT_MAX_LABELS + 7; k++) {
		ls[nl].name = ct->labels.v[k].name;
		ls[nl++].value = ct->labels.v[k].value;
	}
	/* and its label limits, on the series as stored */
	if ((why = collector_label_limits(ls, nl, n + 2 + ct->labels.n, t->label_limit,
					  t->name_len_limit, t->value_len_limit)) != NULL) {
		for (size_t i = 0; i < nr; i++)
			free(renamed[i]);
		return refuse(t, REFUSED_LABELS, why);
	}
	/* the series (its label set for staleness) and its store key */
	se = series_of(t, ls, nl);
	if (!se->key.enc && store_key_make(ls, nl, &se->key, NULL) != 0)
		rc = store_batch_put(t->batch, ls, nl, ts, v); /* the batch's error says why */
	else
		rc = store_batch_put_key(t->batch, &se->key, ts, v);
	if (rc == 0) {
		raw_set(se, l, n);
		set_add(&t->cur, se);
		t->samples++;
	} else {
		series_unref(se);
	}
	for (size_t i = 0; i < nr; i++)
		free(renamed[i]);
	return rc;
}

static int pt_sample(void *ctx, const struct pw_label *l, size_t n, double v, bool has_ts,
		     int64_t ts, struct pt_error *err)
{
	struct put_ctx *pc = ctx;
	int rc = put_sample(ctx, l, n, has_ts ? ts : pc->now_ms, v);
	if (rc)
		pt_error_set(err, "%s", pc->t->limit_msg ? pc->t->limit_msg
				      : store_batch_error(pc->t->batch) ? store_batch_error(pc->t->batch)
				      : pw_strerror(rc));
	return rc;
}

static int pt_meta(void *ctx, enum pt_meta_kind k, const char *metric, const char *text,
		   struct pt_error *err)
{
	struct put_ctx *pc = ctx;
	enum store_metric_type ty = STORE_TYPE_UNKNOWN;
	(void)err;
	if (k == PT_META_HELP)
		return store_batch_put_meta(pc->t->batch, metric, STORE_TYPE_KEEP, text, NULL);
	if (k == PT_META_TYPE) {
		store_type_parse(text, strlen(text), &ty);
		return store_batch_put_meta(pc->t->batch, metric, ty, NULL, NULL);
	}
	return 0;
}

/* Parse the page just received into the batch. Returns 0, or PW_EINVAL
 * with *cause. *more is set when another page is to be fetched. */
static int parse_page(struct ctarget *t, bool *more, char **cause)
{
	const struct conf_target *ct = t->t;
	struct put_ctx pc = {t, t->start_ms};
	size_t n = 0, before = t->samples;
	int rc;

	*more = false;
	switch (ct->format) {
	case CONF_FORMAT_JSON:
		rc = jsonmap_apply(t->maps, t->nmaps, t->body.data ? t->body.data : "", t->body.len,
				   t->tz, t->start_ms, put_sample, &pc, &n, cause);
		break;
	case CONF_FORMAT_CSV:
	case CONF_FORMAT_XLSX: /* ledgers (ledger.c): `ledger`, or its older name `csv` */
		rc = ledger_scrape(ct->ledger.values.n ? &ct->ledger : &ct->csv, ct->name,
				   t->body.data ? t->body.data : "", t->body.len, t->tz, t->start_ms,
				   put_sample, &pc, &n, cause);
		break;
	default: {
		static const struct pt_handler h = {.sample = pt_sample, .meta = pt_meta};
		struct pt_error err;
		rc = promtext_parse(t->body.data ? t->body.data : "", t->body.len, &h, &pc, &err);
		if (rc)
			*cause = xasprintf("line %zu, column %zu: %s", err.line, err.col,
					   err.msg ? err.msg : pw_strerror(rc));
		pt_error_clear(&err);
		break;
	}
	}
	if (rc) {
		if (!*cause)
			*cause = xstrdup(t->limit_msg ? t->limit_msg
					 : store_batch_error(t->batch) ? store_batch_error(t->batch)
					 : pw_strerror(rc));
		return rc;
	}
	if (ct->format != CONF_FORMAT_JSON || t->page + 1 >= ct->pagination.max_pages)
		return 0;
	free(t->page_url);
	t->page_url = NULL;
	t->page_foreign = false;
	if (ct->pagination.next_path) {
		char *next = NULL;
		if (jsonmap_lookup(t->body.data, t->body.len, ct->pagination.next_path, &next) == 1 &&
		    next[0]) {
			/* the platform's words: resolved against the target's URL,
			 * followed only where docs/collector.md says */
			CURLU *u = curl_url();
			char *abs = NULL, *link, *why = NULL;
			bool foreign = false;
			curl_url_set(u, CURLUPART_URL, ct->url, 0);
			/* a user:password@ in the link is the platform's, never ours */
			curl_url_set(u, CURLUPART_USER, NULL, 0);
			curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
			if (curl_url_set(u, CURLUPART_URL, next, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK)
				curl_url_get(u, CURLUPART_URL, &abs, 0);
			link = xstrdup(abs ? abs : next);
			curl_free(abs);
			curl_url_cleanup(u);
			free(next);
			if (collector_link_check(ct->url, t->allowed, t->nallowed, link, &foreign,
						 &why) != 0) {
				char *shown = collector_redact_url(link), esc[300];
				pw_esc(esc, sizeof esc, shown, strlen(shown));
				*cause = xasprintf("pagination: next link \"%s\" on page %d refused: %s",
						   esc, t->page + 1, why);
				t->refused = REFUSED_LINK;
				free(shown);
				free(why);
				free(link);
				return PW_EINVAL;
			}
			t->page_url = link;
			t->page_foreign = foreign;
			*more = true;
		} else {
			free(next);
		}
	} else if (ct->pagination.page_param) {
		char *done = NULL;
		bool is_done = t->samples == before; /* an empty page ends it */
		if (ct->pagination.done_path &&
		    jsonmap_lookup(t->body.data, t->body.len, ct->pagination.done_path, &done) == 1)
			is_done |= strcmp(done, "true") == 0 ||
				   (strcmp(done, "false") != 0 && strcmp(done, "0") != 0);
		free(done);
		*more = !is_done;
	}
	if (*more)
		t->page++;
	return 0;
}

/* ---- finishing a scrape ------------------------------------------------ */

static void put_health(struct ctarget *t, const char *name, double v)
{
	struct pw_label ls[PT_MAX_LABELS + 4];
	size_t nl = 0;
	ls[nl].name = "__name__";
	ls[nl++].value = name;
	ls[nl].name = "job";
	ls[nl++].value = t->t->name;
	ls[nl].name = "instance";
	ls[nl++].value = t->instance;
	for (size_t k = 0; k < t->t->labels.n; k++) {
		ls[nl].name = t->t->labels.v[k].name;
		ls[nl++].value = t->t->labels.v[k].value;
	}
	store_batch_put(t->batch, ls, nl, t->start_ms, v);
}

/* Write a staleness marker for every series of the previous scrape that
 * this one did not report. */
static void put_stale(struct ctarget *t)
{
	size_t i = 0, j = 0;
	if (set_same(&t->prev, &t->cur))
		return; /* the same series as last time */
	while (i < t->prev.n) { /* both sorted */
		int c = j < t->cur.n ? series_cmp(t->prev.v[i], t->cur.v[j]) : -1;
		if (c < 0) {
			store_batch_put_key(t->batch, &t->prev.v[i]->key, t->start_ms,
					    store_stale_nan());
			i++;
		} else if (c == 0) {
			i++;
			j++;
		} else {
			j++;
		}
	}
}

static void schedule(struct collector *c, struct ctarget *t, int64_t now)
{
	int64_t iv = t->t->interval_ms, next;
	if (t->failures) {
		/* back off: double per failure, at most 16 intervals or an hour */
		int64_t cap = iv * 16 < 3600000 ? iv * 16 : (iv > 3600000 ? iv : 3600000);
		int64_t d = iv;
		for (unsigned k = 1; k < t->failures && d < cap; k++)
			d *= 2;
		next = now + (d < cap ? d : cap);
	} else {
		/* the next slot on this target's phase; when late, the next one
		 * after now (re-anchored, never a burst of catch-up scrapes) */
		int64_t base = ((now - t->offset) / iv) * iv + t->offset;
		next = base + iv;
		if (next <= now)
			next += iv;
	}
	t->next_due = next;
	pthread_mutex_lock(&c->status_lock);
	t->status_next_due = next;
	pthread_mutex_unlock(&c->status_lock);
	heap_push(c, t);
}

/* global.new_series_limit: the series of this scrape (sorted) that the
 * target's last successful scrape did not have come out of an allowance
 * that refills continuously at the limit a minute and holds at most that
 * much. NULL, or why the scrape is refused (a new string). This bounds how
 * fast scrapes add series; how many the store holds (its writer keeps each in
 * memory) is storage.max_series, which the store enforces. docs/collector.md. */
static char *check_new_series(struct collector *c, struct ctarget *t)
{
	double lim = (double)c->conf->global.new_series_limit;
	int64_t now = pw_mono_ns();
	size_t fresh = 0, i = 0, j = 0;

	if (lim <= 0 || !t->ever_ok)
		return NULL; /* a first scrape is bounded by sample_limit alone */
	if (set_same(&t->cur, &t->seen))
		i = t->cur.n; /* nothing new: the series of the last stored scrape */
	while (i < t->cur.n) {
		int cmp;
		if (i > 0 && series_cmp(t->cur.v[i - 1], t->cur.v[i]) == 0) {
			i++; /* the same series again (samples at several times) */
			continue;
		}
		cmp = j < t->seen.n ? series_cmp(t->cur.v[i], t->seen.v[j]) : -1;
		if (cmp < 0) {
			fresh++;
			i++;
		} else if (cmp == 0) {
			i++;
			j++;
		} else {
			j++;
		}
	}
	c->ns_left += (double)(now - c->ns_refilled_ns) / 60e9 * lim;
	if (c->ns_left > lim)
		c->ns_left = lim;
	c->ns_refilled_ns = now;
	if ((double)fresh > c->ns_left) {
		t->refused = REFUSED_NEW_SERIES;
		return xasprintf("new_series_limit exceeded: the scrape would add %zu new series, "
				 "%.0f are left of global.new_series_limit (%.0f a minute)",
				 fresh, floor(c->ns_left), lim);
	}
	c->ns_left -= (double)fresh;
	return NULL;
}

/* A scrape is over: complete its batch (health, staleness, metadata) and
 * queue it; flush_pending() commits the queue in one transaction. */
static void finish(struct collector *c, struct ctarget *t, char *error)
{
	double dur = (double)(pw_mono_ns() - t->started_ns) / 1e9;

	if (!t->unchanged) {
		/* the same series in the same order as last time are, sorted, the
		 * previous scrape's set as it is */
		bool as_before = set_same(&t->cur, &t->arrival);
		if (t->arrival.cap < t->cur.n) {
			t->arrival.cap = t->cur.n;
			t->arrival.v = xreallocarray(t->arrival.v, t->arrival.cap, sizeof *t->arrival.v);
		}
		if (t->cur.n)
			memcpy(t->arrival.v, t->cur.v, t->cur.n * sizeof *t->cur.v);
		t->arrival.n = t->cur.n;
		if (as_before && t->cur.n && t->cur.n == t->prev.n)
			memcpy(t->cur.v, t->prev.v, t->cur.n * sizeof *t->cur.v);
		else if (t->cur.n > 1 && !set_sorted(&t->cur))
			qsort(t->cur.v, t->cur.n, sizeof *t->cur.v, set_cmp);
	}
	if (!error)
		error = check_new_series(c, t);
	if (error) {
		/* nothing of a failed scrape is kept but its health */
		store_batch_abort(t->batch);
		t->batch = store_batch_begin(c->store);
		set_clear(&t->cur);
		t->arrival.n = 0;
		t->samples = 0;
	}
	put_health(t, "up", error ? 0 : 1);
	put_health(t, "scrape_duration_seconds", dur);
	put_health(t, "scrape_samples_scraped", (double)t->samples);
	put_health(t, "scrape_response_size_bytes", (double)t->resp_bytes);
	if (!t->unchanged)
		put_stale(t);
	if (!t->meta_written) {
		static const struct {
			const char *name, *help;
		} health[] = {
			{"up", "1 when the target's last scrape succeeded, else 0."},
			{"scrape_duration_seconds", "How long the scrape took."},
			{"scrape_samples_scraped", "Samples the scrape returned."},
			{"scrape_response_size_bytes", "Bytes the target answered (all pages)."},
		};
		for (size_t k = 0; k < sizeof health / sizeof health[0]; k++)
			store_batch_put_meta(t->batch, health[k].name, STORE_TYPE_GAUGE, health[k].help,
					     NULL);
		const struct conf_csv *lc = t->t->ledger.values.n ? &t->t->ledger : &t->t->csv;
		for (size_t k = 0; k < lc->values.n; k++) {
			char *help = xasprintf("Column \"%s\" of the ledger %s.",
					       lc->values.v[k].value, t->t->name);
			store_batch_put_meta(t->batch, lc->values.v[k].name, STORE_TYPE_GAUGE, help,
					     NULL);
			free(help);
		}
	}
	if (!error && !t->meta_written) {
		for (size_t m = 0; m < t->nmaps; m++) {
			const char *ty = jsonmap_type(t->maps[m]);
			enum store_metric_type st = STORE_TYPE_KEEP;
			if (ty)
				store_type_parse(ty, strlen(ty), &st);
			store_batch_put_meta(t->batch, jsonmap_metric(t->maps[m]), st,
					     jsonmap_help(t->maps[m]), NULL);
		}
	}
	if (c->npend == 0)
		c->pend_since_ns = pw_mono_ns();
	c->pend = xreallocarray(c->pend, c->npend + 1, sizeof *c->pend);
	c->pend[c->npend].t = t;
	c->pend[c->npend].error = error;
	c->pend[c->npend].dur = dur;
	c->npend++;
}

/* A scrape's error for the log and lastError: its parts quote the
 * platform's bytes already escaped (pw_esc), so only what could still break
 * a log line is escaped here (control characters, invalid UTF-8), not the
 * quotes around those parts; cut with "..." to dstsz - 1 bytes. */
static void shown_esc(char *dst, size_t dstsz, const char *src)
{
	size_t o = 0, n = strlen(src);

	for (size_t i = 0; i < n;) {
		const unsigned char *p = (const unsigned char *)src + i;
		size_t ul = *p < 0x20 || *p == 0x7f ? 0 : pw_utf8_len(p, n - i);
		char tmp[8];
		size_t tl;
		if (ul == 0 && *p == '\n') {
			memcpy(tmp, "\\n", 2);
			tl = 2;
			ul = 1;
		} else if (ul == 0) {
			tl = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", *p);
			ul = 1;
		} else {
			memcpy(tmp, p, ul);
			tl = ul;
		}
		if (o + tl + 4 > dstsz) {
			memcpy(dst + o, "...", 4);
			return;
		}
		memcpy(dst + o, tmp, tl);
		o += tl;
		i += ul;
	}
	dst[o] = '\0';
}

/* After the commit that stored them: the series' ids into their keys, so
 * the next scrapes' samples skip the look-up (only new series, or all of
 * them after series were deleted, need it). */
static void resolve_keys(struct collector *c, const struct seriesset *set)
{
	size_t n = 0;
	for (size_t i = 0; i < set->n; i++) {
		if (!store_key_stale(c->store, &set->v[i]->key))
			continue;
		if (n == c->ncap_keys) {
			c->ncap_keys = c->ncap_keys ? c->ncap_keys * 2 : 256;
			c->keys = xreallocarray(c->keys, c->ncap_keys, sizeof *c->keys);
		}
		c->keys[n++] = &set->v[i]->key;
	}
	if (n)
		store_keys_resolve(c->store, c->keys, n);
}

/* After the commit: status, the one error / one recovered line, and the
 * next due time. logged: a failed commit was logged for all (a full disk). */
static void finalize(struct collector *c, struct ctarget *t, char *error, double dur, int rc,
		     const char *cause, bool logged)
{
	int64_t now = pw_now_ms();

	pthread_mutex_lock(&c->status_lock);
	if (error) {
		/* what people read: no secret, the platform's bytes escaped */
		char esc[512], *clean = scrub(t, error);
		shown_esc(esc, sizeof esc, clean);
		free(clean);
		if (t->failures == 0)
			log_error("collector", "target %s (%s): %s", t->t->name, t->url_shown, esc);
		else
			log_debug("collector", "target %s: still failing: %s", t->t->name, esc);
		t->failures++;
		t->failures_total++;
		free(t->last_error);
		t->last_error = xstrdup(esc);
		switch (t->refused) {
		case REFUSED_SAMPLES: t->exc_samples++; break;
		case REFUSED_LABELS: t->exc_labels++; break;
		case REFUSED_NEW_SERIES: t->exc_new_series++; break;
		case REFUSED_LINK: t->links_refused++; break;
		case REFUSED_NONE: break;
		}
	}
	if (rc) {
		if (!logged)
			log_error("collector", "target %s: storing the scrape failed: %s", t->t->name,
				  cause ? cause : pw_strerror(rc));
	} else if (!error) {
		t->meta_written = true;
		if (t->failures)
			log_info("collector", "target %s (%s): recovered after %u failed scrapes",
				 t->t->name, t->url_shown, t->failures);
		t->failures = 0;
		free(t->last_error);
		t->last_error = NULL;
		t->samples_total += t->samples;
	}
	/* this scrape's series are the next one's reference (an unchanged
	 * ledger file reported those of the scrape that read it) */
	if (!t->unchanged) {
		set_clear(&t->prev);
		struct seriesset tmp = t->prev;
		t->prev = t->cur;
		t->cur = tmp;
	}
	free(t->raw_error);
	t->raw_error = error ? xstrdup(error) : NULL;
	if (rc)
		t->have_sig = false; /* not stored: read the file again */
	if (!error && !rc) {
		/* and, stored, what the next one's new series are counted against */
		if (!set_same(&t->seen, &t->prev)) {
			set_clear(&t->seen);
			for (size_t i = 0; i < t->prev.n; i++)
				set_add(&t->seen, series_ref(t->prev.v[i]));
		}
		t->ever_ok = true;
	}
	t->health = error ? 0 : 1;
	t->last_ms = t->start_ms;
	t->last_dur = dur;
	t->last_samples = t->samples;
	t->scrapes_total++;
	t->dur_sum += dur;
	for (int b = 0; b < COLLECTOR_DURATION_BUCKETS; b++)
		if (dur <= collector_duration_bounds[b])
			t->buckets[b]++;
	pthread_mutex_unlock(&c->status_lock);
	if (!error && !rc && !t->unchanged)
		resolve_keys(c, &t->prev); /* the store's lock, not under ours */
	if (pw_log_level_cur >= PW_LOG_DEBUG) {
		char name[160];
		pw_esc(name, sizeof name, t->t->name, strlen(t->t->name));
		log_kv(PW_LOG_DEBUG, "collector",
		       "event=scrape target=\"%s\" status=%s http_status=%ld bytes=%llu "
		       "duration_seconds=%.3f samples=%zu pages=%d",
		       name, error ? "failed" : rc ? "store_failed" : "ok", t->http_code,
		       (unsigned long long)t->resp_bytes, dur, t->samples, t->page);
	}
	if (dur * 1000 > (double)t->t->interval_ms)
		log_warnx("collector", "target %s: scrape took %.1f s, longer than its interval; "
				       "raise targets[].interval",
			  t->t->name, dur);
	free(error);
	schedule(c, t, now);
}

/* Commit every queued scrape in one transaction (one fsync). A batch that
 * cannot merge (poisoned) is committed alone to get its error. */
static void flush_pending(struct collector *c)
{
	struct store_batch *all;
	int *rcs, rc = 0;
	char *cause = NULL;
	bool logged = false;

	if (c->npend == 0)
		return;
	rcs = xcalloc(c->npend, sizeof *rcs);
	all = store_batch_begin(c->store);
	for (size_t i = 0; i < c->npend; i++) {
		/* a poisoned batch is left out alone; the others still commit */
		rcs[i] = store_batch_merge(all, c->pend[i].t->batch); /* frees it */
		c->pend[i].t->batch = NULL;
	}
	rc = store_batch_commit(all, &cause);
	if (rc) {
		bool episode = false;
		char *why = collector_store_failure(c->conf->storage.path, rc, cause, &episode);
		if (episode && !c->store_failing)
			log_error("collector", "storing scrapes into %s failed: %s; further failures "
					       "are not logged until a commit succeeds",
				  c->conf->storage.path, why);
		c->store_failing |= episode;
		free(cause);
		cause = why;
		logged = episode;
	} else if (c->store_failing) {
		log_info("collector", "storing scrapes into %s works again", c->conf->storage.path);
		c->store_failing = false;
	}
	for (size_t i = 0; i < c->npend; i++)
		finalize(c, c->pend[i].t, c->pend[i].error, c->pend[i].dur, rcs[i] ? rcs[i] : rc,
			 cause, !rcs[i] && logged);
	free(cause);
	free(rcs);
	c->npend = 0;
}

static void on_done(struct collector *c, CURLMsg *msg)
{
	struct ctarget *t = NULL;
	CURL *e = msg->easy_handle;
	CURLcode res = msg->data.result;
	long code = 0;
	char *error = NULL, *url = NULL;
	bool more = false;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	t->http_code = code;
	curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &url);
	t->resp_bytes += t->body.len;
	if (t->too_big || res == CURLE_FILESIZE_EXCEEDED)
		error = xasprintf("response larger than max_response_size (%llu bytes)",
				  (unsigned long long)t->t->max_response_size);
	else if (res != CURLE_OK)
		error = xasprintf("%s", curl_easy_strerror(res));
	else if (!t->is_file && (code < 200 || code > 299)) {
		/* the platform's bytes, its echo of a secret taken out before they are
		 * cut (a secret cut in two would not be found) */
		char esc[160], *raw = xstrndup(t->body.data ? t->body.data : "",
					      t->body.len < 4096 ? t->body.len : 4096);
		char *clean = scrub(t, raw), *shown = collector_redact_url(url ? url : t->t->url);
		pw_esc(esc, sizeof esc, clean, strlen(clean) < 120 ? strlen(clean) : 120);
		error = xasprintf("HTTP %ld from %s: %s", code, shown, esc);
		free(raw);
		free(clean);
		free(shown);
	}
	transfer_cleanup(c, t);
	if (!error) {
		char *cause = NULL;
		if (parse_page(t, &more, &cause) != 0) {
			error = cause;
		} else if (more) {
			start_transfer(c, t);
			return;
		}
	}
	free(t->page_url);
	t->page_url = NULL;
	t->page_foreign = false;
	finish(c, t, error);
}

/* A ledger target's file (path) that has the size, modification time and
 * inode of the last read; records them for the next look. */
static bool file_unchanged(struct ctarget *t)
{
	struct stat st;
	bool same;
	if (!t->t->path || stat(t->t->path, &st) != 0) {
		t->have_sig = false;
		return false;
	}
	same = t->have_sig && t->scrapes_total > 0 && st.st_dev == t->sig.st_dev &&
	       st.st_ino == t->sig.st_ino && st.st_size == t->sig.st_size &&
	       st.st_mtim.tv_sec == t->sig.st_mtim.tv_sec &&
	       st.st_mtim.tv_nsec == t->sig.st_mtim.tv_nsec;
	t->sig = st;
	t->have_sig = true;
	return same;
}

static void start_scrape(struct collector *c, struct ctarget *t)
{
	t->started_ns = pw_mono_ns();
	t->start_ms = pw_now_ms();
	pthread_mutex_lock(&c->status_lock);
	t->status_next_due = 0; /* in flight */
	pthread_mutex_unlock(&c->status_lock);
	t->batch = store_batch_begin(c->store);
	t->samples = 0;
	t->resp_bytes = 0;
	t->page = 0;
	t->page_foreign = false;
	t->refused = REFUSED_NONE;
	free(t->limit_msg);
	t->limit_msg = NULL;
	set_clear(&t->cur);
	t->unchanged = file_unchanged(t);
	if (t->unchanged) {
		/* a successful scrape that stores nothing new, or the same failure */
		t->samples = t->raw_error ? 0 : t->last_samples;
		finish(c, t, t->raw_error ? xstrdup(t->raw_error) : NULL);
		return;
	}
	start_transfer(c, t);
}

void collector_step(struct collector *c, int max_wait_ms)
{
	int64_t now = pw_now_ms();
	int running, numfds, wait = max_wait_ms;
	CURLMsg *msg;
	int left;

	while (!c->draining && c->nheap > 0 && c->heap[0]->next_due <= now &&
	       c->inflight < (size_t)c->conf->global.max_concurrent_scrapes)
		start_scrape(c, heap_pop(c));
	if (c->nheap > 0 && !c->draining) {
		int64_t until = c->heap[0]->next_due - now;
		if (c->inflight >= (size_t)c->conf->global.max_concurrent_scrapes)
			until = wait;
		if (until < wait)
			wait = until < 0 ? 0 : (int)until;
	}
	if (c->npend) {
		int64_t due_ms = (GROUP_COMMIT_NS - (pw_mono_ns() - c->pend_since_ns)) / 1000000;
		if (wait > due_ms)
			wait = due_ms < 0 ? 0 : (int)due_ms;
	}
	curl_multi_perform(c->multi, &running);
	if (c->inflight > 0 || wait > 0)
		curl_multi_poll(c->multi, NULL, 0, wait, &numfds);
	curl_multi_perform(c->multi, &running);
	while ((msg = curl_multi_info_read(c->multi, &left)))
		if (msg->msg == CURLMSG_DONE)
			on_done(c, msg);
	/* group commit: the scrapes that finish within 200 ms of the first share
	 * a transaction, its fsync and its pages (committing whenever nothing
	 * was in flight made it one commit a scrape when scrapes are spread
	 * over the interval, and the commit was half of the collector's CPU) */
	if (c->npend && (c->draining || c->npend >= GROUP_COMMIT_MAX ||
			 pw_mono_ns() - c->pend_since_ns >= GROUP_COMMIT_NS))
		flush_pending(c);
}

void collector_set_draining(struct collector *c, bool draining) { c->draining = draining; }
size_t collector_inflight(const struct collector *c) { return c->inflight; }

bool collector_first_round_done(struct collector *c)
{
	bool done = true;
	pthread_mutex_lock(&c->status_lock);
	for (size_t i = 0; i < c->ntg && done; i++)
		done = c->tg[i].health >= 0;
	pthread_mutex_unlock(&c->status_lock);
	return done;
}

bool collector_target(struct collector *c, size_t i, struct collector_target_status *o)
{
	const struct ctarget *t;
	if (i >= c->ntg)
		return false;
	t = &c->tg[i];
	memset(o, 0, sizeof *o);
	snprintf(o->name, sizeof o->name, "%s", t->t->name);
	snprintf(o->url, sizeof o->url, "%s", t->url_shown);
	snprintf(o->instance, sizeof o->instance, "%s", t->instance);
	pthread_mutex_lock(&c->status_lock);
	o->health = t->health;
	snprintf(o->last_error, sizeof o->last_error, "%s", t->last_error ? t->last_error : "");
	o->last_scrape_ms = t->last_ms;
	o->last_duration_s = t->last_dur;
	o->last_samples = t->last_samples;
	o->failures = t->failures;
	o->next_due_ms = t->status_next_due;
	o->scrapes_total = t->scrapes_total;
	o->failures_total = t->failures_total;
	o->samples_total = t->samples_total;
	memcpy(o->duration_buckets, t->buckets, sizeof t->buckets);
	o->duration_sum = t->dur_sum;
	o->exceeded_sample_limit = t->exc_samples;
	o->exceeded_label_limits = t->exc_labels;
	o->exceeded_new_series_limit = t->exc_new_series;
	o->links_refused = t->links_refused;
	pthread_mutex_unlock(&c->status_lock);
	return true;
}
