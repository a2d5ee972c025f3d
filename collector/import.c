/*
 * import.c — a text exposition body into one store batch, all or nothing:
 * the path shared by `pacewatch import` and the HTTP import endpoint.
 */
#include "collector.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct import_ctx {
	struct store_batch *b;
	int64_t default_ts;
	const struct pw_label *extra;
	size_t nextra;
	size_t n;
	struct pw_label *ls;
};

static int on_sample(void *vctx, const struct pw_label *labels, size_t n, double v, bool has_ts,
		     int64_t ts, struct pt_error *err)
{
	struct import_ctx *c = vctx;
	const struct pw_label *use = labels;
	size_t nuse = n;
	int rc;

	if (c->nextra) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			bool replaced = false;
			for (size_t j = 0; j < c->nextra; j++)
				if (strcmp(labels[i].name, c->extra[j].name) == 0)
					replaced = true;
			if (!replaced)
				c->ls[k++] = labels[i];
		}
		for (size_t j = 0; j < c->nextra; j++)
			c->ls[k++] = c->extra[j];
		use = c->ls;
		nuse = k;
	}
	rc = store_batch_put(c->b, use, nuse, has_ts ? ts : c->default_ts, v);
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
	static const struct pt_handler h = {on_sample, on_meta};
	struct piece *p = arg;
	if (p->c.nextra)
		p->c.ls = xcalloc(PT_MAX_LABELS + 1 + p->c.nextra, sizeof *p->c.ls);
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

int collector_import_text(struct store *s, const char *buf, size_t len, int64_t default_ts,
			  const struct pw_label *extra, size_t nextra, size_t *nsamples,
			  struct pt_error *err)
{
	struct piece pc[MAX_PIECES];
	size_t np = 1, done = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char *cause = NULL;
	int rc = 0;

	*nsamples = 0;
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
		pc[i].c = (struct import_ctx){store_batch_begin(s), default_ts, extra, nextra, 0, NULL};
		pc[i].buf = buf + done;
		pc[i].len = end - done;
		pc[i].line0 = line0;
		if (i + 1 < np)
			line0 += count_lines(pc[i].buf, pc[i].len);
		done = end;
	}
	for (size_t i = 1; i < np; i++)
		if (pthread_create(&pc[i].tid, NULL, parse_piece, &pc[i]) != 0)
			parse_piece(&pc[i]), pc[i].tid = 0;
	parse_piece(&pc[0]);
	for (size_t i = 1; i < np; i++)
		if (pc[i].tid)
			pthread_join(pc[i].tid, NULL);
	/* the first piece with an error names it; nothing is committed */
	for (size_t i = 0; i < np; i++) {
		if (pc[i].rc && !rc) {
			rc = pc[i].rc;
			*err = pc[i].err; /* its message moves to the caller */
		} else {
			pt_error_clear(&pc[i].err);
		}
	}
	if (rc) {
		for (size_t i = 0; i < np; i++)
			store_batch_abort(pc[i].c.b);
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
			return rc;
		}
	}
	rc = store_batch_commit(pc[0].c.b, &cause);
	if (rc) {
		pt_error_set(err, "%s", cause ? cause : pw_strerror(rc));
		free(cause);
		return rc;
	}
	*nsamples = n;
	return 0;
}
