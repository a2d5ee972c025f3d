/*
 * import.c — a text exposition body into one store batch, all or nothing:
 * the path shared by `pacewatch import` and the HTTP import endpoint.
 */
#include "collector.h"

#include <stdlib.h>
#include <string.h>

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
		snprintf(err->msg, sizeof err->msg, "%s", store_batch_error(c->b));
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
		snprintf(err->msg, sizeof err->msg, "%s", store_batch_error(c->b));
	return rc;
}

int collector_import_text(struct store *s, const char *buf, size_t len, int64_t default_ts,
			  const struct pw_label *extra, size_t nextra, size_t *nsamples,
			  struct pt_error *err)
{
	static const struct pt_handler h = {on_sample, on_meta};
	struct import_ctx c = {store_batch_begin(s), default_ts, extra, nextra, 0, NULL};
	char *cause = NULL;
	int rc;

	if (nextra)
		c.ls = xcalloc(PT_MAX_LABELS + 1 + nextra, sizeof *c.ls);
	*nsamples = 0;
	rc = promtext_parse(buf, len, &h, &c, err);
	free(c.ls);
	if (rc) {
		store_batch_abort(c.b);
		return rc;
	}
	rc = store_batch_commit(c.b, &cause);
	if (rc) {
		memset(err, 0, sizeof *err);
		snprintf(err->msg, sizeof err->msg, "%s", cause ? cause : pw_strerror(rc));
		free(cause);
		return rc;
	}
	*nsamples = c.n;
	return 0;
}
