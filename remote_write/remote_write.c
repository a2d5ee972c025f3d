/*
 * remote_write.c — Prometheus remote write 1.0 to every remote_write
 * endpoint of the configuration, read back from the store.
 *
 * Nothing is queued in memory. While an endpoint is configured the store
 * keeps a change feed: for each commit, in commit order, every series it
 * wrote and the time range it wrote in. Each endpoint keeps its place in
 * the store's records table (key r/<name>, JSON): seq, the last commit of
 * the feed it has sent; a history backfill still to do, by time, from
 * `time` up to `backfill_to`; and done_at, the time before which
 * everything committed has been sent (the lag and cursor metrics). A new
 * endpoint starts at the feed's head, with the backfill of everything
 * stored before then (start "all") or none (start "now").
 *
 * One thread per endpoint works in rounds, each read from one snapshot:
 *  - while there is backfill to do: every series' samples in (time, time
 *    + max_span], at most up to backfill_to; a range without samples
 *    skips to the next stored sample. (With no sample stored at all, it
 *    steps max_span at a time from the earliest time, saving its place at
 *    every step, until there is one.)
 *  - then the feed: the commits after seq (at most 4096), and for each
 *    series they wrote its samples in the time range those commits wrote
 *    in. When there are none, done_at becomes the time of the look and the
 *    thread waits batch_deadline.
 * A round is sent by `concurrency` threads started for it, the series
 * split among them by id (id % concurrency), each sending its series in
 * timestamp order, batch_size samples per request (protobuf through
 * protobuf-c, snappy block compression). A failed request is retried with
 * exponential backoff from min_backoff to max_backoff for as long as it
 * takes (network errors, 5xx, 429) or dropped, counted and logged (any
 * other status). Only when every sender is done does the place move and
 * get saved; after a feed round the feed is trimmed up to the place of
 * the endpoint furthest behind. A read that fails is tried again after
 * batch_deadline.
 * A receiver outage or a restart therefore ends in catch-up, not in a gap;
 * a round cut short by a stop or a crash is sent again, and the backfill
 * and the feed overlap around the endpoint's start, as two feed rounds do
 * for a series written in both (same timestamps, same values: receivers
 * take duplicates without complaint).
 *
 * `delay` is not read here: samples go out as soon as a round reads
 * their commit.
 */
#include "remote_write.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/remote.pb-c.h"

#define SUBSYS "remote_write"

struct rseries {
	uint64_t id;
	struct pw_label *l; /* sorted by name, external labels added */
	size_t nl;
	size_t off, n; /* into the round's samples */
};

struct rsample {
	int64_t t;
	double v;
};

struct endpoint;

struct worker {
	struct endpoint *e;
	size_t index;
	pthread_t th;
	CURL *h;
	int rc; /* 0 done, or stopped */
};

struct endpoint {
	struct remote_write *w;
	const struct conf_remote_write *c;
	struct pw_label *ext; /* external labels, sorted */
	size_t next;
	pthread_t th;
	bool started;
	/* where it stands: the feed's sequence number, a history backfill
	 * still to do (by time, up to backfill_to), and the time before which
	 * everything committed has been sent */
	uint64_t seq;
	int64_t cursor, backfill_to, done_at;
	bool loaded;
	/* the current round */
	struct rseries *s;
	size_t ns, caps;
	struct rsample *smp;
	size_t nsmp, capsmp;
	struct worker *wk;
	/* metrics (under w->lock) */
	uint64_t sent, failed, dropped, pending, requests;
	bool failing;
};

struct remote_write {
	const struct conf *c;
	struct store *st;
	struct endpoint *e;
	size_t ne;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};


/* wait up to ms, or until stopped; returns true when stopped */
static bool nap(struct remote_write *w, int64_t ms)
{
	struct timespec ts;
	bool stop;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->lock);
	if (!w->stop)
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	stop = w->stop;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

static bool stopping(struct remote_write *w)
{
	bool s;
	pthread_mutex_lock(&w->lock);
	s = w->stop;
	pthread_mutex_unlock(&w->lock);
	return s;
}

/* ---- the cursor ---------------------------------------------------------------- */

static char *cursor_key(const struct endpoint *e)
{
	return xasprintf("r/%s", e->c->name);
}

static int cursor_save(struct endpoint *e)
{
	char *k = cursor_key(e), *cause = NULL;
	json_t *o = json_object();
	pthread_mutex_lock(&e->w->lock);
	json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
	json_object_set_new(o, "time", json_integer(e->cursor));
	json_object_set_new(o, "backfill_to", json_integer(e->backfill_to));
	json_object_set_new(o, "done_at", json_integer(e->done_at));
	pthread_mutex_unlock(&e->w->lock);
	json_object_set_new(o, "url", json_string(e->c->url));
	char *v = json_dumps(o, JSON_COMPACT);
	struct store_rec_op op = {k, strlen(k), v, strlen(v)};
	int rc = store_rec_write(e->w->st, &op, 1, &cause);
	if (rc != 0)
		log_error(SUBSYS, "%s: cannot save the cursor: %s", e->c->name,
			  cause ? cause : pw_strerror(rc));
	free(cause);
	free(v);
	free(k);
	json_decref(o);
	return rc;
}

static void cursor_load(struct endpoint *e)
{
	char *k = cursor_key(e);
	void *v;
	size_t vn;
	bool have = false;
	if (store_rec_get(e->w->st, k, strlen(k), &v, &vn) == 0) {
		json_error_t je;
		json_t *o = json_loadb(v, vn, 0, &je);
		if (o && json_is_integer(json_object_get(o, "seq"))) {
			pthread_mutex_lock(&e->w->lock);
			e->seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
			e->cursor = (int64_t)json_integer_value(json_object_get(o, "time"));
			e->backfill_to = (int64_t)json_integer_value(json_object_get(o, "backfill_to"));
			e->done_at = (int64_t)json_integer_value(json_object_get(o, "done_at"));
			pthread_mutex_unlock(&e->w->lock);
			have = true;
		}
		json_decref(o);
		free(v);
	}
	if (!have) {
		/* a new endpoint: the feed from here on, and (start: all) the
		 * history up to now by time */
		struct store_snap *snap;
		uint64_t head = 0;
		if (store_snap_begin(e->w->st, &snap) == 0) {
			store_feed_head(snap, &head);
			store_snap_end(snap);
		}
		pthread_mutex_lock(&e->w->lock);
		e->seq = head;
		e->cursor = INT64_MIN;
		e->backfill_to = e->c->start == CONF_RW_START_ALL ? pw_now_ms() : INT64_MIN;
		e->done_at = e->c->start == CONF_RW_START_ALL ? 0 : pw_now_ms();
		pthread_mutex_unlock(&e->w->lock);
		cursor_save(e);
	}
	pthread_mutex_lock(&e->w->lock);
	e->loaded = true;
	pthread_mutex_unlock(&e->w->lock);
	free(k);
}

/* ---- reading a round ----------------------------------------------------------- */

static void round_clear(struct endpoint *e)
{
	for (size_t i = 0; i < e->ns; i++) {
		for (size_t j = 0; j < e->s[i].nl; j++) {
			free((char *)e->s[i].l[j].name);
			free((char *)e->s[i].l[j].value);
		}
		free(e->s[i].l);
	}
	e->ns = 0;
	e->nsmp = 0;
}

/* a series' labels, external labels added, sorted */
static void add_series(struct endpoint *e, const struct store_series *ss, size_t off)
{
	if (e->ns == e->caps) {
		e->caps = e->caps ? 2 * e->caps : 1024;
		e->s = xreallocarray(e->s, e->caps, sizeof *e->s);
	}
	struct rseries *r = &e->s[e->ns++];
	struct pw_label tmp[128];
	size_t n = store_series_labels(ss, tmp, 128);
	if (n > 128)
		n = 128;
	r->id = ss->id;
	r->l = xcalloc(n + e->next + 1, sizeof *r->l);
	r->nl = 0;
	for (size_t j = 0; j < n; j++) {
		r->l[r->nl].name = xstrdup(tmp[j].name);
		r->l[r->nl++].value = xstrdup(tmp[j].value);
	}
	for (size_t j = 0; j < e->next; j++) {
		bool have = false;
		for (size_t q = 0; q < n && !have; q++)
			have = strcmp(tmp[q].name, e->ext[j].name) == 0;
		if (!have) {
			r->l[r->nl].name = xstrdup(e->ext[j].name);
			r->l[r->nl++].value = xstrdup(e->ext[j].value);
		}
	}
	qsort(r->l, r->nl, sizeof *r->l, pw_label_cmp);
	r->off = off;
	r->n = e->nsmp - off;
}

static bool read_samples(struct endpoint *e, struct store_iter *it, uint64_t id, int64_t mint,
			 int64_t maxt, size_t *off)
{
	int64_t t;
	double v;
	*off = e->nsmp;
	if (store_iter_seek(it, id, mint, maxt) != 0)
		return false;
	while (store_iter_next(it, &t, &v) > 0) {
		if (e->nsmp == e->capsmp) {
			e->capsmp = e->capsmp ? 2 * e->capsmp : 65536;
			e->smp = xreallocarray(e->smp, e->capsmp, sizeof *e->smp);
		}
		e->smp[e->nsmp].t = t;
		e->smp[e->nsmp++].v = v;
	}
	return e->nsmp > *off;
}

static int change_cmp(const void *a, const void *b)
{
	const struct store_change *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The commits after e->seq (at most max_commits): every series they wrote,
 * with its samples in the time range the commits wrote it in. */
static int feed_read(struct endpoint *e, size_t max_commits, uint64_t *last)
{
	struct store_snap *snap;
	struct store_change *ch = NULL;
	size_t nch = 0;
	int rc;
	if ((rc = store_snap_begin(e->w->st, &snap)) != 0)
		return rc;
	rc = store_feed_read(snap, e->seq, max_commits, &ch, &nch, last);
	if (rc == 0 && nch) {
		qsort(ch, nch, sizeof *ch, change_cmp);
		struct store_iter *it = store_iter_new(snap);
		for (size_t i = 0; i < nch;) {
			size_t j = i;
			int64_t lo = ch[i].mint, hi = ch[i].maxt;
			while (j < nch && ch[j].id == ch[i].id) {
				lo = ch[j].mint < lo ? ch[j].mint : lo;
				hi = ch[j].maxt > hi ? ch[j].maxt : hi;
				j++;
			}
			struct store_series ss;
			size_t off;
			if (store_series_get(snap, ch[i].id, &ss) == 0 &&
			    read_samples(e, it, ch[i].id, lo, hi, &off))
				add_series(e, &ss, off);
			i = j;
		}
		store_iter_free(it);
	}
	free(ch);
	store_snap_end(snap);
	return rc;
}

/* Read (from, upto] of every series. Sets *next_data to the first
 * timestamp after upto when nothing was found (INT64_MAX: none). */
static int round_read(struct endpoint *e, int64_t from, int64_t upto, int64_t *next_data)
{
	struct store_snap *snap;
	struct store_series *ss = NULL;
	size_t nss = 0;
	int rc;

	*next_data = INT64_MAX;
	if ((rc = store_snap_begin(e->w->st, &snap)) != 0)
		return rc;
	rc = store_select(snap, NULL, 0, from == INT64_MIN ? INT64_MIN : from + 1, upto, false, &ss,
			  &nss);
	if (rc != 0) {
		store_snap_end(snap);
		return rc;
	}
	struct store_iter *it = store_iter_new(snap);
	for (size_t i = 0; i < nss; i++) {
		size_t off;
		if (read_samples(e, it, ss[i].id, from == INT64_MIN ? INT64_MIN : from + 1, upto, &off))
			add_series(e, &ss[i], off);
	}
	if (e->ns == 0) {
		/* a gap in the data: where does it go on? */
		free(ss);
		ss = NULL;
		nss = 0;
		if (store_select(snap, NULL, 0, upto + 1, INT64_MAX, false, &ss, &nss) != 0)
			nss = 0;
		for (size_t i = 0; i < nss; i++) {
			int64_t t;
			double v;
			if (store_iter_seek(it, ss[i].id, upto + 1, INT64_MAX) == 0 &&
			    store_iter_next(it, &t, &v) > 0 && t < *next_data)
				*next_data = t;
		}
	}
	store_iter_free(it);
	free(ss);
	store_snap_end(snap);
	return 0;
}

/* ---- sending ----------------------------------------------------------------------- */

struct sink {
	char buf[512];
	size_t n;
};

static size_t reply_cb(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t n = size * nmemb, room = sizeof s->buf - 1 - s->n;
	memcpy(s->buf + s->n, p, n < room ? n : room);
	s->n += n < room ? n : room;
	s->buf[s->n] = '\0';
	return size * nmemb;
}

enum { POST_OK, POST_RETRY, POST_DROP };

static int post(struct worker *wk, const char *body, size_t len, char **err)
{
	const struct conf_remote_write *c = wk->e->c;
	struct curl_slist *hl = NULL;
	struct sink resp = {.n = 0};
	char ebuf[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURLcode rc;

	if (!wk->h)
		wk->h = curl_easy_init();
	CURL *h = wk->h;
	curl_easy_reset(h);
	hl = curl_slist_append(hl, "Content-Type: application/x-protobuf");
	hl = curl_slist_append(hl, "Content-Encoding: snappy");
	hl = curl_slist_append(hl, "X-Prometheus-Remote-Write-Version: 0.1.0");
	hl = curl_slist_append(hl, "User-Agent: pacewatch/" PW_VERSION);
	for (size_t i = 0; i < c->headers.n; i++) {
		char *x = xasprintf("%s: %s", c->headers.v[i].name, c->headers.v[i].value);
		hl = curl_slist_append(hl, x);
		free(x);
	}
	if (c->bearer_token) {
		char *x = xasprintf("Authorization: Bearer %s", c->bearer_token);
		hl = curl_slist_append(hl, x);
		free(x);
	}
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, reply_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	if (c->basic_user) {
		curl_easy_setopt(h, CURLOPT_USERNAME, c->basic_user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->basic_password ? c->basic_password : "");
	}
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (c->cert_file)
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
	if (c->key_file)
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
	if (!c->tls_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hl);
	if (rc != CURLE_OK) {
		*err = xasprintf("POST %s: %s%s%s", c->url, curl_easy_strerror(rc), *ebuf ? ": " : "",
				 ebuf);
		return POST_RETRY;
	}
	if (code / 100 == 2)
		return POST_OK;
	for (char *p = resp.buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	*err = xasprintf("POST %s: HTTP status %ld: %s", c->url, code, resp.buf);
	/* the remote write specification: 5xx and 429 are retried, any other
	 * 4xx means the data is refused and sending it again will not help */
	return code / 100 == 5 || code == 429 ? POST_RETRY : POST_DROP;
}

/* encode series [lo, hi) of the worker's list, samples [s0 of the first,
 * s1 of the last) as a snappy-compressed WriteRequest */
struct piece {
	const struct rseries *s;
	size_t from, n; /* samples of s */
};

static char *encode_request(const struct endpoint *e, const struct piece *p, size_t np, size_t nsamples,
		    size_t *out_len)
{
	Prometheus__TimeSeries *ts = xcalloc(np, sizeof *ts);
	Prometheus__TimeSeries **tsp = xcalloc(np, sizeof *tsp);
	size_t nl = 0;
	for (size_t i = 0; i < np; i++)
		nl += p[i].s->nl;
	Prometheus__Label *lab = xcalloc(nl + 1, sizeof *lab);
	Prometheus__Label **labp = xcalloc(nl + 1, sizeof *labp);
	Prometheus__Sample *smp = xcalloc(nsamples + 1, sizeof *smp);
	Prometheus__Sample **smpp = xcalloc(nsamples + 1, sizeof *smpp);
	size_t li = 0, si = 0;
	for (size_t i = 0; i < np; i++) {
		prometheus__time_series__init(&ts[i]);
		tsp[i] = &ts[i];
		ts[i].labels = &labp[li];
		ts[i].n_labels = p[i].s->nl;
		for (size_t j = 0; j < p[i].s->nl; j++, li++) {
			prometheus__label__init(&lab[li]);
			lab[li].name = (char *)p[i].s->l[j].name;
			lab[li].value = (char *)p[i].s->l[j].value;
			labp[li] = &lab[li];
		}
		ts[i].samples = &smpp[si];
		ts[i].n_samples = p[i].n;
		for (size_t j = 0; j < p[i].n; j++, si++) {
			const struct rsample *r = &e->smp[p[i].s->off + p[i].from + j];
			prometheus__sample__init(&smp[si]);
			smp[si].timestamp = r->t;
			smp[si].value = r->v;
			smpp[si] = &smp[si];
		}
	}
	Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
	wr.n_timeseries = np;
	wr.timeseries = tsp;
	size_t plen = prometheus__write_request__get_packed_size(&wr);
	uint8_t *raw = xmalloc(plen + 1);
	prometheus__write_request__pack(&wr, raw);
	size_t clen = snappy_max_compressed_length(plen);
	char *z = xmalloc(clen + 1);
	if (snappy_compress((const char *)raw, plen, z, &clen) != SNAPPY_OK)
		clen = 0;
	free(raw);
	free(ts);
	free(tsp);
	free(lab);
	free(labp);
	free(smp);
	free(smpp);
	*out_len = clen;
	return z;
}

/* send one batch until it is delivered, dropped or the endpoint stops */
static int send_batch(struct worker *wk, const struct piece *p, size_t np, size_t n)
{
	struct endpoint *e = wk->e;
	struct remote_write *w = e->w;
	size_t len;
	char *body = encode_request(e, p, np, n, &len);
	int64_t backoff = e->c->min_backoff_ms;
	int out = 0;
	for (;;) {
		char *err = NULL;
		int rc = post(wk, body, len, &err);
		pthread_mutex_lock(&w->lock);
		e->requests++;
		if (rc == POST_OK) {
			e->sent += n;
			e->pending -= n;
			if (e->failing)
				log_info(SUBSYS, "%s: sending again", e->c->name);
			e->failing = false;
		} else if (rc == POST_DROP) {
			e->dropped += n;
			e->pending -= n;
		} else {
			e->failed += n;
		}
		bool first = rc == POST_RETRY && !e->failing;
		if (rc == POST_RETRY)
			e->failing = true;
		pthread_mutex_unlock(&w->lock);
		if (rc == POST_DROP)
			log_error(SUBSYS, "%s: %zu samples dropped: %s", e->c->name, n, err);
		else if (first)
			log_error(SUBSYS, "%s: %s; retrying with backoff", e->c->name, err);
		free(err);
		if (rc != POST_RETRY)
			break;
		if (nap(w, backoff)) {
			out = -1;
			break;
		}
		backoff = backoff * 2 > e->c->max_backoff_ms ? e->c->max_backoff_ms : backoff * 2;
	}
	free(body);
	return out;
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct endpoint *e = wk->e;
	size_t k = (size_t)e->c->concurrency, bs = (size_t)e->c->batch_size;
	struct piece *p = NULL;
	size_t np = 0, capp = 0, n = 0;
	wk->rc = 0;
	for (size_t i = 0; i < e->ns && wk->rc == 0; i++) {
		const struct rseries *s = &e->s[i];
		if (s->id % k != wk->index)
			continue;
		for (size_t from = 0; from < s->n && wk->rc == 0;) {
			size_t take = s->n - from < bs - n ? s->n - from : bs - n;
			if (np == capp) {
				capp = capp ? 2 * capp : 64;
				p = xreallocarray(p, capp, sizeof *p);
			}
			p[np++] = (struct piece){s, from, take};
			n += take;
			from += take;
			if (n == bs) {
				wk->rc = send_batch(wk, p, np, n);
				np = n = 0;
			}
		}
	}
	if (n && wk->rc == 0)
		wk->rc = send_batch(wk, p, np, n);
	free(p);
	return NULL;
}

static int round_send(struct endpoint *e)
{
	size_t k = (size_t)e->c->concurrency;
	int rc = 0;
	pthread_mutex_lock(&e->w->lock);
	e->pending = e->nsmp;
	pthread_mutex_unlock(&e->w->lock);
	for (size_t i = 0; i < k; i++) {
		e->wk[i].e = e;
		e->wk[i].index = i;
		if (pthread_create(&e->wk[i].th, NULL, worker_main, &e->wk[i]) != 0) {
			worker_main(&e->wk[i]); /* no thread: do it here */
			e->wk[i].th = 0;
		}
	}
	for (size_t i = 0; i < k; i++) {
		if (e->wk[i].th)
			pthread_join(e->wk[i].th, NULL);
		rc |= e->wk[i].rc;
	}
	return rc;
}

/* after a round, forget the feed every endpoint has sent */
static void feed_trim(struct remote_write *w)
{
	uint64_t min = UINT64_MAX;
	char *cause = NULL;
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < w->ne; i++) {
		uint64_t s = w->e[i].loaded ? w->e[i].seq : 0;
		if (s < min)
			min = s;
	}
	pthread_mutex_unlock(&w->lock);
	if (min && min != UINT64_MAX && store_feed_trim(w->st, min, &cause) != 0)
		log_error(SUBSYS, "trimming the change feed: %s", cause ? cause : "?");
	free(cause);
}

/* history up to backfill_to, by time, in rounds of max_span; 0 done a
 * round, 1 could not read, -1 stopping */
static int backfill_round(struct endpoint *e)
{
	int64_t upto, next_data, to;
	if (e->cursor == INT64_MIN)
		upto = INT64_MIN + 1; /* first find where the data starts */
	else
		upto = e->cursor + e->c->max_span_ms;
	if (upto > e->backfill_to || upto < e->cursor)
		upto = e->backfill_to;
	if (round_read(e, e->cursor, upto, &next_data) != 0) {
		round_clear(e);
		return 1;
	}
	to = upto;
	if (e->ns == 0 && next_data != INT64_MAX && next_data - 1 > upto)
		to = next_data - 1 < e->backfill_to ? next_data - 1 : e->backfill_to;
	if (e->ns && round_send(e) != 0) {
		round_clear(e);
		return -1;
	}
	round_clear(e);
	pthread_mutex_lock(&e->w->lock);
	e->cursor = to;
	e->done_at = to > 0 ? to : 0;
	if (to >= e->backfill_to)
		e->backfill_to = INT64_MIN; /* done: the feed from here */
	pthread_mutex_unlock(&e->w->lock);
	cursor_save(e);
	return 0;
}

static void *endpoint_main(void *arg)
{
	struct endpoint *e = arg;
	struct remote_write *w = e->w;
	cursor_load(e);
	while (!stopping(w)) {
		if (e->backfill_to != INT64_MIN) {
			int rc = backfill_round(e);
			if (rc < 0 || (rc > 0 && nap(w, e->c->batch_deadline_ms)))
				break;
			continue;
		}
		/* the feed: what was committed since the last round */
		int64_t started = pw_now_ms();
		uint64_t last;
		if (feed_read(e, 4096, &last) != 0) {
			round_clear(e);
			if (nap(w, e->c->batch_deadline_ms))
				break;
			continue;
		}
		if (last == e->seq) {
			/* nothing new: everything committed before we looked is sent */
			pthread_mutex_lock(&w->lock);
			e->done_at = started;
			pthread_mutex_unlock(&w->lock);
			if (nap(w, e->c->batch_deadline_ms))
				break;
			continue;
		}
		if (e->ns && round_send(e) != 0) {
			round_clear(e);
			break; /* stopping: the round is sent again next time */
		}
		round_clear(e);
		pthread_mutex_lock(&w->lock);
		e->seq = last;
		pthread_mutex_unlock(&w->lock);
		cursor_save(e);
		feed_trim(w);
	}
	return NULL;
}

/* ---- life ---------------------------------------------------------------------------- */

int remote_write_new(const struct conf *c, struct store *st, struct remote_write **out,
		     char **cause)
{
	struct remote_write *w = xcalloc(1, sizeof *w);
	(void)cause;
	w->c = c;
	w->st = st;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->e = xcalloc(c->nremote_write + 1, sizeof *w->e);
	w->ne = c->nremote_write;
	for (size_t i = 0; i < w->ne; i++) {
		struct endpoint *e = &w->e[i];
		const struct conf_remote_write *rc = &c->remote_write[i];
		e->w = w;
		e->c = rc;
		e->ext = xcalloc(c->global.external_labels.n + rc->external_labels.n + 1,
				 sizeof *e->ext);
		for (size_t j = 0; j < rc->external_labels.n; j++) {
			e->ext[e->next].name = rc->external_labels.v[j].name;
			e->ext[e->next++].value = rc->external_labels.v[j].value;
		}
		for (size_t j = 0; j < c->global.external_labels.n; j++) {
			bool have = false;
			for (size_t q = 0; q < rc->external_labels.n && !have; q++)
				have = strcmp(rc->external_labels.v[q].name,
					      c->global.external_labels.v[j].name) == 0;
			if (!have) {
				e->ext[e->next].name = c->global.external_labels.v[j].name;
				e->ext[e->next++].value = c->global.external_labels.v[j].value;
			}
		}
		e->wk = xcalloc((size_t)rc->concurrency + 1, sizeof *e->wk);
	}
	*out = w;
	return 0;
}

void remote_write_start(struct remote_write *w)
{
	for (size_t i = 0; i < w->ne; i++)
		if (pthread_create(&w->e[i].th, NULL, endpoint_main, &w->e[i]) == 0)
			w->e[i].started = true;
}

void remote_write_free(struct remote_write *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < w->ne; i++) {
		struct endpoint *e = &w->e[i];
		if (e->started)
			pthread_join(e->th, NULL);
		round_clear(e);
		free(e->s);
		free(e->smp);
		for (size_t k = 0; k < (size_t)e->c->concurrency; k++)
			if (e->wk[k].h)
				curl_easy_cleanup(e->wk[k].h);
		free(e->wk);
		free(e->ext);
	}
	free(w->e);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void remote_write_metrics(struct remote_write *w, struct pw_buf *b, bool om)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{"pacewatch_remote_write_samples_sent_total", "counter", "Samples the receiver accepted."},
		{"pacewatch_remote_write_samples_failed_total", "counter",
		 "Samples in requests that failed and were retried."},
		{"pacewatch_remote_write_samples_dropped_total", "counter",
		 "Samples the receiver refused for good (4xx other than 429)."},
		{"pacewatch_remote_write_requests_total", "counter", "Requests sent, retries included."},
		{"pacewatch_remote_write_samples_pending", "gauge",
		 "Samples of the current round not yet accepted or dropped."},
		{"pacewatch_remote_write_lag_seconds", "gauge",
		 "How long ago the endpoint last had everything committed sent."},
		{"pacewatch_remote_write_cursor_timestamp_seconds", "gauge",
		 "Everything committed before this time has been sent."},
	};
	int64_t now = pw_now_ms();
	pthread_mutex_lock(&w->lock);
	for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
		pw_buf_metric_header(b, m[k].name, m[k].type, m[k].help, om);
		for (size_t i = 0; i < w->ne; i++) {
			const struct endpoint *e = &w->e[i];
			pw_buf_printf(b, "%s{remote=", m[k].name);
			pw_buf_json_string(b, e->c->name);
			pw_buf_puts(b, ",url=");
			pw_buf_json_string(b, e->c->url);
			switch (k) {
			case 0: pw_buf_printf(b, "} %" PRIu64 "\n", e->sent); break;
			case 1: pw_buf_printf(b, "} %" PRIu64 "\n", e->failed); break;
			case 2: pw_buf_printf(b, "} %" PRIu64 "\n", e->dropped); break;
			case 3: pw_buf_printf(b, "} %" PRIu64 "\n", e->requests); break;
			case 4: pw_buf_printf(b, "} %" PRIu64 "\n", e->pending); break;
			case 5:
				pw_buf_printf(b, "} %.3f\n",
					      e->loaded && e->done_at > 0 ? (double)(now - e->done_at) / 1000
									  : 0.0);
				break;
			default:
				pw_buf_printf(b, "} %.3f\n", (double)e->done_at / 1000);
			}
		}
	}
	pthread_mutex_unlock(&w->lock);
}
