/*
 * import.c — a text exposition body into one store batch, all or nothing:
 * the path shared by `pacewatch import` and the HTTP import endpoint, which
 * also decodes gzip bodies and holds the import's limits (docs/http.md).
 * The label limits and the naming of a failed commit (a full disk) are
 * shared with the scrapes of collector.c.
 */
#include "collector_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

/* ---- what scrapes and imports share --------------------------------------------- */

/* At most 50 characters of s, escaped, for a refusal's message. */
static const char *cut(char *buf, size_t n, const char *s)
{
	return pw_esc(buf, n < 54 ? n : 54, s, strlen(s));
}

char *collector_label_limits(const struct pw_label *l, size_t n, size_t total,
			     int64_t label_limit, int64_t name_len, int64_t value_len)
{
	const char *metric = n ? l[0].value : "";
	char m[64], a[64], b[64];

	if (label_limit > 0 && total > (size_t)label_limit)
		return xasprintf("label_limit exceeded (metric: %s, number of labels: %zu, limit: %lld)",
				 cut(m, sizeof m, metric), total, (long long)label_limit);
	for (size_t i = 0; i < n; i++) {
		size_t ln = strlen(l[i].name), lv = strlen(l[i].value);
		if (name_len > 0 && ln > (size_t)name_len)
			return xasprintf("label_name_length_limit exceeded (metric: %s, label name: %s, "
					 "length: %zu, limit: %lld)", cut(m, sizeof m, metric),
					 cut(a, sizeof a, l[i].name), ln, (long long)name_len);
		if (value_len > 0 && lv > (size_t)value_len)
			return xasprintf("label_value_length_limit exceeded (metric: %s, label name: %s, "
					 "value: \"%s\", length: %zu, limit: %lld)",
					 cut(m, sizeof m, metric), cut(a, sizeof a, l[i].name),
					 cut(b, sizeof b, l[i].value), lv, (long long)value_len);
	}
	return NULL;
}

char *collector_store_failure(const char *path, int rc, const char *cause, bool *episode)
{
	*episode = false;
	if (rc < 0 && rc > PW_E_BASE) { /* -errno */
		int e = -rc;
		struct statvfs sv;
		unsigned long long avail = 0;
		bool known = path && statvfs(path, &sv) == 0;
		if (known)
			avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
		*episode = true;
		/* LMDB reports a write the disk cut short as EIO: a file system with
		 * (almost) nothing left is the cause */
		if (e == ENOSPC || e == EDQUOT || (e == EIO && known && avail < (1u << 20)))
			return xasprintf("no space left on device: %s has %llu bytes free (LMDB: %s, "
					 "errno %d)", path, avail, strerror(e), e);
		return xasprintf("%s: %s (errno %d)", path ? path : "the store", strerror(e), e);
	}
	if (rc == PW_EMAPFULL || rc == PW_ESTORE)
		*episode = true;
	return xstrdup(cause ? cause : pw_strerror(rc));
}

/* ---- parsing into batches ------------------------------------------------------------ */

/* The series an import writes, as 64-bit hashes of their label sets. */
struct hset {
	uint64_t *v;
	size_t cap, n;
};

/* Add h; true when it was not there yet. */
static bool hset_add(struct hset *s, uint64_t h)
{
	size_t i;
	if (h == 0)
		h = 1; /* 0 marks an empty slot */
	if (2 * (s->n + 1) > s->cap) {
		struct hset o = *s;
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = xcalloc(s->cap, sizeof *s->v);
		s->n = 0;
		for (size_t k = 0; k < o.cap; k++)
			if (o.v[k])
				hset_add(s, o.v[k]);
		free(o.v);
	}
	for (i = h & (s->cap - 1); s->v[i]; i = (i + 1) & (s->cap - 1))
		if (s->v[i] == h)
			return false;
	s->v[i] = h;
	s->n++;
	return true;
}

/* A label set's hash, whatever the labels' order. */
static uint64_t lset_hash(const struct pw_label *l, size_t n)
{
	uint64_t h = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t a = pw_hash64(l[i].name, strlen(l[i].name));
		uint64_t b = pw_hash64(l[i].value, strlen(l[i].value));
		uint64_t x = a ^ (b * 0x9E3779B97F4A7C15ULL);
		x ^= x >> 31;
		x *= 0xBF58476D1CE4E5B9ULL;
		h += x ^ (x >> 29);
	}
	return h;
}

enum refused { REF_NONE, REF_SERIES, REF_LABELS };

/* ---- the series of earlier imports, by their text ---------------------------------- */

/* Imports repeat the same series text batch after batch (a scrape order
 * import writes every series once per batch). The text of a series that
 * parsed and encoded before maps to its store key, with its series id once
 * a commit wrote it: such a line skips the label parse, the checks and
 * encoding of its labels, and the commit's series lookup. What decides
 * limits is kept with it (label count, longest name and value, the label
 * set's hash); an entry a request's limits would refuse is not used, so
 * the full parse names the refusal. Imports with extra labels do not use
 * it. Bounded: past TC_MAX_BYTES it is emptied and filled anew. */
struct tc_ent {
	char *raw; /* the series text, not NUL-terminated */
	uint32_t rawlen, nlabels;
	uint64_t rawhash, lhash;
	size_t name_max, value_max;
	struct store_key key;
};

#define TC_MAX_BYTES (64u << 20)
#define TC_MAX_RAW 4096u

static struct {
	pthread_rwlock_t lock; /* parses read under it, commits' additions write */
	uint64_t serial;       /* the store whose ids the keys hold (store_serial) */
	uint64_t kgen;         /* store_keys_generation at the last resolve */
	uint32_t *slot;        /* index + 1 into ents, 0 empty; cap a power of two */
	size_t cap;
	struct tc_ent *ents;
	size_t n, capents, bytes;
	uint64_t clears; /* times tc_clear emptied it */
} tc = {.lock = PTHREAD_RWLOCK_INITIALIZER};

static void tc_clear(void)
{
	for (size_t i = 0; i < tc.n; i++) {
		free(tc.ents[i].raw);
		store_key_free(&tc.ents[i].key);
	}
	free(tc.ents);
	free(tc.slot);
	tc.ents = NULL;
	tc.slot = NULL;
	tc.n = tc.capents = tc.cap = tc.bytes = 0;
	tc.clears++;
}

/* The entry of raw, or NULL. Under tc.lock. */
static struct tc_ent *tc_find(const char *raw, size_t len, uint64_t h)
{
	if (!tc.cap)
		return NULL;
	for (size_t i = h & (tc.cap - 1); tc.slot[i]; i = (i + 1) & (tc.cap - 1)) {
		struct tc_ent *e = &tc.ents[tc.slot[i] - 1];
		if (e->rawhash == h && e->rawlen == len && memcmp(e->raw, raw, len) == 0)
			return e;
	}
	return NULL;
}

/* A series seen by a parse and not found: added after its commit. */
struct tc_miss {
	size_t off, len; /* of its text in the body */
	uint64_t rawhash;
	struct tc_ent e; /* raw NULL until added */
};

/* Add a piece's misses (their keys move into the cache); under the write
 * lock. */
static void tc_add(const char *body, struct tc_miss *m, size_t nm)
{
	for (size_t i = 0; i < nm; i++) {
		size_t cost = sizeof(struct tc_ent) + 2 * sizeof(uint32_t) + m[i].len + m[i].e.key.len;
		if (tc_find(body + m[i].off, m[i].len, m[i].rawhash)) {
			store_key_free(&m[i].e.key); /* twice in the body */
			continue;
		}
		if (tc.bytes + cost > TC_MAX_BYTES || tc.n >= UINT32_MAX - 1)
			tc_clear();
		if (2 * (tc.n + 1) > tc.cap) {
			size_t cap = tc.cap ? tc.cap * 2 : 4096;
			uint32_t *slot = xcalloc(cap, sizeof *slot);
			for (size_t k = 0; k < tc.n; k++) {
				size_t j = tc.ents[k].rawhash & (cap - 1);
				while (slot[j])
					j = (j + 1) & (cap - 1);
				slot[j] = (uint32_t)k + 1;
			}
			free(tc.slot);
			tc.slot = slot;
			tc.cap = cap;
		}
		if (tc.n == tc.capents) {
			tc.capents = tc.capents ? tc.capents * 2 : 1024;
			tc.ents = xreallocarray(tc.ents, tc.capents, sizeof *tc.ents);
		}
		struct tc_ent *e = &tc.ents[tc.n];
		*e = m[i].e;
		e->raw = xmalloc(m[i].len);
		memcpy(e->raw, body + m[i].off, m[i].len);
		e->rawlen = (uint32_t)m[i].len;
		e->rawhash = m[i].rawhash;
		size_t j = e->rawhash & (tc.cap - 1);
		while (tc.slot[j])
			j = (j + 1) & (tc.cap - 1);
		tc.slot[j] = (uint32_t)++tc.n;
		tc.bytes += cost;
		memset(&m[i].e.key, 0, sizeof m[i].e.key);
	}
}

static void tc_miss_free(struct tc_miss *m, size_t nm)
{
	for (size_t i = 0; i < nm; i++)
		store_key_free(&m[i].e.key);
	free(m);
}

struct import_ctx {
	struct store_batch *b;
	const struct collector_import_opts *o;
	size_t n;
	struct pw_label *ls;
	struct hset series;
	enum refused refused;
	/* the cache (no extra labels): the text lookup found no entry for, and
	 * the misses to add once committed */
	bool cached, hits; /* hits: the cache holds this store's keys */
	size_t next;       /* the entry after the last one found */
	const char *body;
	const char *pend;
	size_t pendlen;
	uint64_t pendhash;
	struct tc_miss *miss;
	size_t nmiss, capmiss;
};

static const void *tc_lookup(void *vctx, const char *raw, size_t len)
{
	struct import_ctx *c = vctx;
	const struct collector_import_opts *o = c->o;
	struct tc_ent *e;

	c->pend = NULL;
	if (!c->cached || len == 0 || len > TC_MAX_RAW)
		return NULL;
	/* Bodies repeat their series in the same order, which is the order
	 * they were added in: the entry after the last one found is the first
	 * guess (no hash, and memory read in order). */
	e = NULL;
	if (c->hits && c->next < tc.n) {
		e = &tc.ents[c->next];
		if (e->rawlen != len || memcmp(e->raw, raw, len) != 0)
			e = NULL;
	}
	if (!e) {
		c->pendhash = pw_hash64(raw, len);
		e = c->hits ? tc_find(raw, len, c->pendhash) : NULL;
	}
	if (e)
		c->next = (size_t)(e - tc.ents) + 1;
	if (!e || (o->label_limit > 0 && e->nlabels > (uint64_t)o->label_limit) ||
	    (o->name_len_limit > 0 && e->name_max > (uint64_t)o->name_len_limit) ||
	    (o->value_len_limit > 0 && e->value_max > (uint64_t)o->value_len_limit)) {
		if (e)
			c->pendhash = e->rawhash;
		c->pend = raw; /* on_sample records it */
		c->pendlen = len;
		return NULL;
	}
	return e;
}

static int series_limit_hit(struct import_ctx *c, uint64_t lhash, struct pt_error *err)
{
	if (c->o->series_limit > 0 && hset_add(&c->series, lhash) &&
	    c->series.n > (size_t)c->o->series_limit) {
		pt_error_set(err, "more than %lld series in one request (http.import_series_limit)",
			     (long long)c->o->series_limit);
		c->refused = REF_SERIES;
		return PW_ETOOBIG;
	}
	return 0;
}

static int on_known(void *vctx, const void *series, double v, bool has_ts, int64_t ts,
		    struct pt_error *err)
{
	struct import_ctx *c = vctx;
	const struct tc_ent *e = series;
	int rc;

	if ((rc = series_limit_hit(c, e->lhash, err)) != 0)
		return rc;
	rc = store_batch_put_key(c->b, &e->key, has_ts ? ts : c->o->default_ts_ms, v);
	if (rc) {
		pt_error_set(err, "%s", store_batch_error(c->b));
		return rc;
	}
	c->n++;
	return 0;
}

/* A sample whose series text the cache did not hold: put through a key
 * made here, which the cache gets after the commit. */
static int put_miss(struct import_ctx *c, const char *raw, const struct pw_label *l, size_t n,
		    uint64_t lhash, int64_t ts, double v, struct pt_error *err)
{
	struct tc_miss *m;
	char *cause = NULL;
	int rc;

	if (c->nmiss == c->capmiss) {
		c->capmiss = c->capmiss ? c->capmiss * 2 : 256;
		c->miss = xreallocarray(c->miss, c->capmiss, sizeof *c->miss);
	}
	m = &c->miss[c->nmiss];
	memset(m, 0, sizeof *m);
	if (store_key_make(l, n, &m->e.key, &cause) != 0) {
		/* what store_batch_put says of these labels */
		rc = store_batch_put(c->b, l, n, ts, v);
		pt_error_set(err, "%s", store_batch_error(c->b) ? store_batch_error(c->b)
				: cause ? cause : pw_strerror(rc ? rc : PW_EINVAL));
		free(cause);
		return rc ? rc : PW_EINVAL;
	}
	if ((rc = store_batch_put_key(c->b, &m->e.key, ts, v)) != 0) {
		store_key_free(&m->e.key);
		pt_error_set(err, "%s", store_batch_error(c->b));
		return rc;
	}
	m->off = (size_t)(raw - c->body);
	m->len = c->pendlen;
	m->rawhash = c->pendhash;
	m->e.nlabels = (uint32_t)n;
	m->e.lhash = lhash;
	for (size_t i = 0; i < n; i++) {
		size_t ln = strlen(l[i].name), lv = strlen(l[i].value);
		if (ln > m->e.name_max)
			m->e.name_max = ln;
		if (lv > m->e.value_max)
			m->e.value_max = lv;
	}
	c->nmiss++;
	return 0;
}

static int on_sample(void *vctx, const struct pw_label *labels, size_t n, double v, bool has_ts,
		     int64_t ts, struct pt_error *err)
{
	struct import_ctx *c = vctx;
	const struct collector_import_opts *o = c->o;
	const struct pw_label *use = labels;
	size_t nuse = n;
	char *why;
	int rc;

	if (o->nextra) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			bool replaced = false;
			for (size_t j = 0; j < o->nextra; j++)
				if (strcmp(labels[i].name, o->extra[j].name) == 0)
					replaced = true;
			if (!replaced)
				c->ls[k++] = labels[i];
		}
		for (size_t j = 0; j < o->nextra; j++)
			c->ls[k++] = o->extra[j];
		use = c->ls;
		nuse = k;
	}
	if ((why = collector_label_limits(use, nuse, nuse, o->label_limit, o->name_len_limit,
					  o->value_len_limit)) != NULL) {
		pt_error_set(err, "%s", why);
		free(why);
		c->refused = REF_LABELS;
		return PW_EINVAL;
	}
	if (c->pend) { /* the cache's miss: its text is known */
		const char *raw = c->pend;
		uint64_t lh = lset_hash(use, nuse);
		c->pend = NULL;
		if ((rc = series_limit_hit(c, lh, err)) != 0)
			return rc;
		if ((rc = put_miss(c, raw, use, nuse, lh, has_ts ? ts : o->default_ts_ms, v, err)) != 0)
			return rc;
		c->n++;
		return 0;
	}
	if (o->series_limit > 0 && (rc = series_limit_hit(c, lset_hash(use, nuse), err)) != 0)
		return rc;
	rc = store_batch_put(c->b, use, nuse, has_ts ? ts : o->default_ts_ms, v);
	if (rc) {
		pt_error_set(err, "%s", store_batch_error(c->b));
		return rc;
	}
	c->n++;
	return 0;
}

static int on_meta(void *vctx, enum pt_meta_kind kind, const char *metric, const char *text,
		   struct pt_error *err)
{
	struct import_ctx *c = vctx;
	enum store_metric_type t = STORE_TYPE_UNKNOWN;
	int rc;

	switch (kind) {
	case PT_META_HELP:
		rc = store_batch_put_meta(c->b, metric, STORE_TYPE_KEEP, text, NULL);
		break;
	case PT_META_TYPE:
		store_type_parse(text, strlen(text), &t);
		rc = store_batch_put_meta(c->b, metric, t, NULL, NULL);
		break;
	default:
		rc = store_batch_put_meta(c->b, metric, STORE_TYPE_KEEP, NULL, text);
		break;
	}
	if (rc)
		pt_error_set(err, "%s", store_batch_error(c->b));
	return rc;
}

/* One piece of a body, parsed into its own batch by its own thread. */
struct piece {
	struct import_ctx c;
	const char *buf;
	size_t len, line0; /* lines before the piece */
	struct pt_error err;
	int rc;
	pthread_t tid;
};

static void *parse_piece(void *arg)
{
	static const struct pt_handler h = {on_sample, on_meta, tc_lookup, on_known};
	struct piece *p = arg;
	if (p->c.o->nextra)
		p->c.ls = xcalloc(PT_MAX_LABELS + 1 + p->c.o->nextra, sizeof *p->c.ls);
	p->rc = promtext_parse(p->buf, p->len, &h, &p->c, &p->err);
	if (p->rc && p->err.line)
		p->err.line += p->line0;
	free(p->c.ls);
	p->c.ls = NULL;
	return NULL;
}

static size_t count_lines(const char *p, size_t n)
{
	size_t k = 0;
	const char *end = p + n;
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		k++;
		p++;
	}
	return k;
}

/* Bodies from this size on are parsed by several threads, cut at line
 * ends; the pieces' batches are merged in order and committed as one. */
#define PARALLEL_MIN (256u * 1024u)
#define MAX_PIECES 8

/* The series texts a parse did not find in the cache, for tc_commit. */
struct tc_pending {
	struct tc_miss *miss;
	size_t n;
};

/* After the commit of a batch parsed from body: its new series texts go
 * into the cache, and the keys get their series ids (all of them when
 * series were deleted since the last time). */
static void tc_commit(struct store *s, const char *body, struct tc_pending *p)
{
	uint64_t serial = store_serial(s), gen = store_keys_generation(s);
	bool stale;
	size_t n0;
	uint64_t clears;

	/* nothing to add: only ids gone stale (series deleted) need work */
	pthread_rwlock_rdlock(&tc.lock);
	stale = tc.serial == serial && tc.kgen != gen && tc.n;
	pthread_rwlock_unlock(&tc.lock);
	if (!p->n && !stale)
		goto out;
	pthread_rwlock_wrlock(&tc.lock);
	if (tc.serial != serial) {
		tc_clear();
		tc.serial = serial;
		tc.kgen = gen;
	}
	n0 = tc.n;
	clears = tc.clears;
	tc_add(body, p->miss, p->n);
	if (tc.clears != clears || tc.kgen != gen)
		n0 = 0; /* emptied on the way, or ids went stale: resolve all */
	if (tc.n > n0) {
		struct store_key **k = xcalloc(tc.n - n0, sizeof *k);
		for (size_t i = n0; i < tc.n; i++)
			k[i - n0] = &tc.ents[i].key;
		store_keys_resolve(s, k, tc.n - n0);
		free(k);
	}
	tc.kgen = gen;
	pthread_rwlock_unlock(&tc.lock);
out:
	tc_miss_free(p->miss, p->n);
	memset(p, 0, sizeof *p);
}

/* Parse buf into one batch (not committed). 0 with *out, or an error in
 * err (and *refused saying which limit, if one did). *pend: series texts
 * for tc_commit after the commit (tc_miss_free otherwise). */
static int import_parse(struct store *s, const char *buf, size_t len,
			const struct collector_import_opts *o, struct store_batch **out,
			size_t *nsamples, struct pt_error *err, enum refused *refused,
			struct tc_pending *pend)
{
	struct piece pc[MAX_PIECES];
	size_t np = 1, done = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	bool cached = o->nextra == 0, hits = false;
	int rc = 0;

	*out = NULL;
	*nsamples = 0;
	*refused = REF_NONE;
	memset(pend, 0, sizeof *pend);
	if (len >= PARALLEL_MIN && ncpu > 1)
		np = (size_t)(ncpu < MAX_PIECES ? ncpu : MAX_PIECES);
	memset(pc, 0, sizeof pc);
	for (size_t i = 0, line0 = 0; i < np; i++) {
		size_t end = i + 1 == np ? len : len / np * (i + 1);
		const char *nl;
		if (end < done)
			end = done;
		/* cut after a line end */
		if (end < len && (nl = memchr(buf + end, '\n', len - end)) != NULL)
			end = (size_t)(nl - buf) + 1;
		else
			end = len;
		pc[i].c.b = store_batch_begin(s);
		pc[i].c.o = o;
		pc[i].c.cached = cached;
		pc[i].c.body = buf;
		pc[i].buf = buf + done;
		pc[i].len = end - done;
		pc[i].line0 = line0;
		if (i + 1 < np)
			line0 += count_lines(pc[i].buf, pc[i].len);
		done = end;
	}
	/* the cache is read by every piece, written once the batch is in */
	if (cached) {
		pthread_rwlock_rdlock(&tc.lock);
		hits = tc.serial == store_serial(s);
		for (size_t i = 0; i < np; i++)
			pc[i].c.hits = hits;
	}
	for (size_t i = 1; i < np; i++)
		if (pthread_create(&pc[i].tid, NULL, parse_piece, &pc[i]) != 0)
			parse_piece(&pc[i]), pc[i].tid = 0;
	parse_piece(&pc[0]);
	for (size_t i = 1; i < np; i++)
		if (pc[i].tid)
			pthread_join(pc[i].tid, NULL);
	if (cached)
		pthread_rwlock_unlock(&tc.lock);
	/* the pieces' misses, in one list */
	for (size_t i = 0; i < np; i++) {
		if (!pc[i].c.nmiss) {
			free(pc[i].c.miss);
		} else if (!pend->miss) {
			pend->miss = pc[i].c.miss;
			pend->n = pc[i].c.nmiss;
		} else {
			pend->miss = xreallocarray(pend->miss, pend->n + pc[i].c.nmiss,
						   sizeof *pend->miss);
			memcpy(pend->miss + pend->n, pc[i].c.miss,
			       pc[i].c.nmiss * sizeof *pend->miss);
			pend->n += pc[i].c.nmiss;
			free(pc[i].c.miss);
		}
		pc[i].c.miss = NULL;
	}
	/* the first piece with an error names it; nothing is committed */
	for (size_t i = 0; i < np; i++) {
		if (pc[i].rc && !rc) {
			rc = pc[i].rc;
			*err = pc[i].err; /* its message moves to the caller */
			*refused = pc[i].c.refused;
		} else {
			pt_error_clear(&pc[i].err);
		}
	}
	/* the pieces' series together, when each was within the limit */
	if (!rc && np > 1 && o->series_limit > 0) {
		for (size_t i = 1; i < np && !rc; i++)
			for (size_t k = 0; k < pc[i].c.series.cap && !rc; k++)
				if (pc[i].c.series.v[k] && hset_add(&pc[0].c.series, pc[i].c.series.v[k]) &&
				    pc[0].c.series.n > (size_t)o->series_limit) {
					memset(err, 0, sizeof *err);
					pt_error_set(err, "more than %lld series in one request "
						     "(http.import_series_limit)", (long long)o->series_limit);
					*refused = REF_SERIES;
					rc = PW_ETOOBIG;
				}
	}
	for (size_t i = 0; i < np; i++)
		free(pc[i].c.series.v);
	if (rc) {
		for (size_t i = 0; i < np; i++)
			store_batch_abort(pc[i].c.b);
		tc_miss_free(pend->miss, pend->n);
		memset(pend, 0, sizeof *pend);
		return rc;
	}
	memset(err, 0, sizeof *err);
	size_t n = pc[0].c.n;
	for (size_t i = 1; i < np; i++) {
		n += pc[i].c.n;
		if ((rc = store_batch_merge(pc[0].c.b, pc[i].c.b)) != 0) {
			for (size_t j = i + 1; j < np; j++)
				store_batch_abort(pc[j].c.b);
			store_batch_abort(pc[0].c.b);
			pt_error_set(err, "%s", pw_strerror(rc));
			tc_miss_free(pend->miss, pend->n);
			memset(pend, 0, sizeof *pend);
			return rc;
		}
	}
	*out = pc[0].c.b;
	*nsamples = n;
	return 0;
}

int collector_import_text(struct store *s, const char *buf, size_t len, int64_t default_ts,
			  const struct pw_label *extra, size_t nextra, size_t *nsamples,
			  struct pt_error *err)
{
	struct collector_import_opts o = {.default_ts_ms = default_ts, .extra = extra,
					  .nextra = nextra};
	struct store_batch *b;
	struct tc_pending pend;
	enum refused refused;
	char *cause = NULL;
	size_t n;
	int rc;

	*nsamples = 0;
	if ((rc = import_parse(s, buf, len, &o, &b, &n, err, &refused, &pend)) != 0)
		return rc;
	rc = store_batch_commit(b, &cause);
	if (rc) {
		pt_error_set(err, "%s", cause ? cause : pw_strerror(rc));
		free(cause);
		tc_miss_free(pend.miss, pend.n);
		return rc;
	}
	tc_commit(s, buf, &pend);
	*nsamples = n;
	return 0;
}

/* ---- the HTTP endpoint's requests ---------------------------------------------- */

static _Atomic uint64_t refused_series, refused_labels, refused_size;

void collector_import_stats(struct collector_import_stats *out)
{
	out->series_limit = atomic_load(&refused_series);
	out->label_limits = atomic_load(&refused_labels);
	out->size_limit = atomic_load(&refused_size);
}

/* gzip (one member or several back to back) into *out, at most max bytes
 * (0: no bound). 0, PW_ETOOBIG past max, PW_EINVAL with *why. */
static int gunzip(const char *in, size_t len, uint64_t max, struct pw_buf *out, char **why)
{
	z_stream z;
	char chunk[64 * 1024];
	int zr = Z_OK;

	memset(&z, 0, sizeof z);
	pw_buf_init(out, max > SIZE_MAX ? SIZE_MAX : (size_t)max);
	if (inflateInit2(&z, 15 + 16) != Z_OK) {
		*why = xstrdup("zlib could not start");
		return PW_EINVAL;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	for (;;) {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof chunk;
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			break;
		if (pw_buf_append(out, chunk, sizeof chunk - z.avail_out) != 0) {
			inflateEnd(&z);
			pw_buf_free(out);
			return PW_ETOOBIG;
		}
		if (zr == Z_STREAM_END) {
			if (z.avail_in == 0)
				break;
			inflateReset(&z); /* another member follows */
			continue;
		}
		if (zr == Z_BUF_ERROR && z.avail_in == 0 && z.avail_out == sizeof chunk)
			break; /* the input ended inside a member */
	}
	if (zr == Z_STREAM_END) {
		inflateEnd(&z);
		return 0;
	}
	if (zr == Z_BUF_ERROR)
		*why = xstrdup("the gzip body is truncated");
	else
		*why = xasprintf("the gzip body is corrupt: %s", z.msg ? z.msg : "invalid data");
	inflateEnd(&z);
	pw_buf_free(out);
	return PW_EINVAL;
}

/* A storage failure logged once per episode: the first failure, then once
 * more when an import is stored again. */
static pthread_mutex_t episode_lock = PTHREAD_MUTEX_INITIALIZER;
static bool failing;

static void episode(bool failed, const char *path, const char *why)
{
	pthread_mutex_lock(&episode_lock);
	if (failed && !failing)
		log_error("import", "storing an import into %s failed: %s; further failures are not "
				    "logged until an import is stored", path ? path : "the store", why);
	else if (!failed && failing)
		log_info("import", "storing imports into %s works again", path ? path : "the store");
	failing = failed;
	pthread_mutex_unlock(&episode_lock);
}

unsigned collector_import_request(struct store *s, const struct collector_import_req *r,
				  const char *body, size_t len, char **msg)
{
	struct pw_buf plain = {0};
	struct store_batch *b;
	struct tc_pending pend;
	struct pt_error err;
	enum refused refused;
	char *why = NULL, *cause = NULL;
	size_t n;
	unsigned code;
	int rc;

	*msg = NULL;
	if (r->encoding && *r->encoding && strcasecmp(r->encoding, "identity") != 0) {
		char esc[80];
		if (strcasecmp(r->encoding, "gzip") != 0 && strcasecmp(r->encoding, "x-gzip") != 0) {
			pw_esc(esc, sizeof esc, r->encoding, strlen(r->encoding));
			*msg = xasprintf("Content-Encoding \"%s\" is not supported (gzip or identity); "
					 "nothing was imported\n", esc);
			return 415;
		}
		rc = gunzip(body, len, r->max_size, &plain, &why);
		if (rc == PW_ETOOBIG) {
			atomic_fetch_add(&refused_size, 1);
			*msg = xasprintf("decompressed body larger than http.max_request_size (%llu "
					 "bytes); nothing was imported\n",
					 (unsigned long long)r->max_size);
			return 413;
		}
		if (rc) {
			*msg = xasprintf("%s; nothing was imported\n", why);
			free(why);
			return 400;
		}
		body = plain.data ? plain.data : "";
		len = plain.len;
	}
	rc = import_parse(s, body, len, &r->o, &b, &n, &err, &refused, &pend);
	if (rc) {
		if (refused == REF_SERIES) {
			atomic_fetch_add(&refused_series, 1);
			code = 413;
			*msg = xasprintf("%s; nothing was imported\n", err.msg ? err.msg : "");
		} else {
			if (refused == REF_LABELS)
				atomic_fetch_add(&refused_labels, 1);
			code = err.line || rc == PW_EINVAL ? 400 : 503;
			if (err.line)
				*msg = xasprintf("line %zu, column %zu: %s; nothing was imported\n",
						 err.line, err.col, err.msg ? err.msg : pw_strerror(rc));
			else
				*msg = xasprintf("%s; nothing was imported\n",
						 err.msg ? err.msg : pw_strerror(rc));
		}
		pt_error_clear(&err);
		pw_buf_free(&plain);
		return code;
	}
	rc = store_batch_commit(b, &cause);
	if (rc) {
		bool ep = false;
		tc_miss_free(pend.miss, pend.n);
		pw_buf_free(&plain);
		why = collector_store_failure(r->storage_path, rc, cause, &ep);
		if (ep)
			episode(true, r->storage_path, why);
		*msg = xasprintf("storing the import failed: %s; nothing was imported\n", why);
		free(why);
		free(cause);
		return rc == PW_EINVAL ? 400 : 503;
	}
	tc_commit(s, body, &pend); /* the misses' texts are in body */
	pw_buf_free(&plain);
	episode(false, r->storage_path, NULL);
	return 204;
}
