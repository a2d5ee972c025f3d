/*
 * cli_import.c — `pacewatch import`: Prometheus text files into the store,
 * streamed, so memory stays bounded whatever a file's size (a 300 MB file
 * took 790 MB when it was read whole).
 *
 * A file is read twice in blocks of whole lines (IMPORT_BLOCK, a line may
 * be up to IMPORT_MAX_LINE): the first pass parses every line and checks
 * every series' names as the store would, writing nothing, so a malformed
 * line imports nothing of the file and is named file:line:column; the
 * second pass writes each block as one batch (the parser and store batch
 * the HTTP import uses, collector_import_text). On a terminal, progress
 * (bytes, samples per second) is redrawn twice a second; elsewhere nothing
 * but the summary.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector.h"
#include "common.h"
#include "daemon.h"
#include "store.h"

#define IMPORT_BLOCK (4u << 20)
#define IMPORT_MAX_LINE (16u << 20)

struct reader {
	const char *path;
	FILE *f;
	char *buf;
	size_t cap, len; /* buf holds len bytes, of which the first block ends
			  * at a line end */
	size_t line0;    /* lines before buf */
	uint64_t done;   /* bytes handed out */
	bool eof;
};

static int reader_open(struct reader *r, const char *path)
{
	memset(r, 0, sizeof *r);
	r->path = path;
	if (!(r->f = fopen(path, "rb")))
		return -errno;
	r->cap = IMPORT_BLOCK;
	r->buf = xmalloc(r->cap);
	return 0;
}

static void reader_rewind(struct reader *r)
{
	rewind(r->f);
	r->len = 0;
	r->line0 = 0;
	r->done = 0;
	r->eof = false;
}

static void reader_close(struct reader *r)
{
	if (r->f)
		fclose(r->f);
	free(r->buf);
}

/* The next block of whole lines: *blen bytes at r->buf (0 at the end).
 * 0, or an error printed (a read error, a line too long). */
static int reader_next(struct reader *r, size_t *blen)
{
	for (;;) {
		char *nl = NULL;
		if (!r->eof && r->len < r->cap) {
			size_t n = fread(r->buf + r->len, 1, r->cap - r->len, r->f);
			r->len += n;
			if (n == 0) {
				if (ferror(r->f)) {
					fprintf(stderr, "pacewatch: %s: %s\n", r->path, strerror(errno));
					return 1;
				}
				r->eof = true;
			}
		}
		for (size_t i = r->len; i > 0; i--)
			if (r->buf[i - 1] == '\n') {
				nl = r->buf + i - 1;
				break;
			}
		if (nl) {
			*blen = (size_t)(nl - r->buf) + 1;
			return 0;
		}
		if (r->eof) { /* the last line, without its newline */
			*blen = r->len;
			return 0;
		}
		if (r->len < r->cap)
			continue;
		if (r->cap >= IMPORT_MAX_LINE) {
			fprintf(stderr, "pacewatch: %s:%zu: a line longer than %u MiB; nothing of this "
					"file was imported\n",
				r->path, r->line0 + 1, IMPORT_MAX_LINE >> 20);
			return 1;
		}
		r->cap *= 2;
		r->buf = xrealloc(r->buf, r->cap);
	}
}

/* Done with the block of blen bytes. */
static void reader_consume(struct reader *r, size_t blen)
{
	for (const char *p = r->buf, *end = r->buf + blen;
	     (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		r->line0++;
	memmove(r->buf, r->buf + blen, r->len - blen);
	r->len -= blen;
	r->done += blen;
	/* a long line made the buffer grow: back to the block size */
	if (r->cap > IMPORT_BLOCK && r->len <= IMPORT_BLOCK) {
		r->cap = IMPORT_BLOCK;
		r->buf = xrealloc(r->buf, r->cap);
	}
}

/* progress on a terminal */
struct progress {
	bool tty;
	const char *path, *what;
	uint64_t total;
	int64_t t0, last;
	bool shown;
};

static void progress_show(struct progress *p, uint64_t bytes, size_t samples, bool final)
{
	int64_t now = pw_mono_ns();
	double secs;

	if (!p->tty || (!final && now - p->last < 500000000LL))
		return;
	if (final && !p->shown)
		return;
	p->last = now;
	p->shown = true;
	secs = (double)(now - p->t0) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	fprintf(stderr, "\r\033[Kpacewatch: %s: %s %.1f", p->path, p->what, (double)bytes / 1048576.0);
	if (p->total)
		fprintf(stderr, " of %.1f MiB (%.0f%%)", (double)p->total / 1048576.0,
			100.0 * (double)bytes / (double)p->total);
	else
		fputs(" MiB", stderr);
	fprintf(stderr, ", %.1f MiB/s", (double)bytes / 1048576.0 / secs);
	if (samples)
		fprintf(stderr, ", %zu samples, %.0f samples/s", samples, (double)samples / secs);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

/* pass 1: names checked as the store checks them, nothing written */
struct check_ctx {
	const struct pw_label *extra;
	size_t nextra;
	struct pw_label *ls;
};

static int check_sample(void *vctx, const struct pw_label *labels, size_t n, double v, bool has_ts,
			int64_t ts, struct pt_error *err)
{
	struct check_ctx *c = vctx;
	const struct pw_label *use = labels;
	struct store_key k;
	char *cause = NULL;
	size_t nuse = n;
	(void)v, (void)has_ts, (void)ts;

	if (c->nextra) { /* --label replaces a label of the same name */
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			bool replaced = false;
			for (size_t j = 0; j < c->nextra; j++)
				if (strcmp(labels[i].name, c->extra[j].name) == 0)
					replaced = true;
			if (!replaced)
				c->ls[m++] = labels[i];
		}
		for (size_t j = 0; j < c->nextra; j++)
			c->ls[m++] = c->extra[j];
		use = c->ls;
		nuse = m;
	}
	if (store_key_make(use, nuse, &k, &cause) != 0) {
		pt_error_set(err, "%s", cause ? cause : "invalid series");
		free(cause);
		return PW_EINVAL;
	}
	store_key_free(&k);
	return 0;
}

static void print_err(const char *path, const struct pt_error *err, int rc, const char *tail)
{
	if (err->line)
		fprintf(stderr, "pacewatch: %s:%zu:%zu: %s%s\n", path, err->line, err->col,
			err->msg ? err->msg : pw_strerror(rc), tail);
	else
		fprintf(stderr, "pacewatch: %s: %s%s\n", path, err->msg ? err->msg : pw_strerror(rc),
			tail);
}

/* One file: 0, or 1 with the error printed. */
static int import_file(struct store *s, const char *path, const struct pw_label *extra,
		       size_t nextra)
{
	static const struct pt_handler check_h = {.sample = check_sample};
	struct check_ctx cc = {extra, nextra, NULL};
	struct progress pg = {0};
	struct reader r;
	struct pt_error err = {0};
	struct stat st;
	size_t blen, total = 0;
	int64_t now_ms = pw_now_ms(), t0 = pw_mono_ns();
	int rc;

	if ((rc = reader_open(&r, path)) != 0) {
		fprintf(stderr, "pacewatch: %s: %s\n", path, strerror(-rc));
		return 1;
	}
	pg.tty = isatty(STDERR_FILENO) == 1;
	pg.path = path;
	pg.total = fstat(fileno(r.f), &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	pg.t0 = pg.last = pw_mono_ns();
	cc.ls = xcalloc(PT_MAX_LABELS + 1 + nextra, sizeof *cc.ls);
	/* 1: every line parses and names a valid series */
	pg.what = "checking";
	while ((rc = reader_next(&r, &blen)) == 0 && blen > 0) {
		memset(&err, 0, sizeof err);
		if ((rc = promtext_parse(r.buf, blen, &check_h, &cc, &err)) != 0) {
			if (err.line)
				err.line += r.line0;
			progress_show(&pg, r.done, 0, true);
			print_err(path, &err, rc, "; nothing of this file was imported");
			pt_error_clear(&err);
			rc = 1;
			goto out;
		}
		reader_consume(&r, blen);
		progress_show(&pg, r.done, 0, false);
	}
	if (rc)
		goto out;
	progress_show(&pg, r.done, 0, true);
	/* 2: each block one batch */
	reader_rewind(&r);
	pg.what = "importing";
	pg.t0 = pg.last = pw_mono_ns();
	pg.shown = false;
	while ((rc = reader_next(&r, &blen)) == 0 && blen > 0) {
		size_t n = 0;
		memset(&err, 0, sizeof err);
		rc = collector_import_text(s, r.buf, blen, now_ms, extra, nextra, &n, &err);
		if (rc) {
			char tail[160];
			if (err.line)
				err.line += r.line0;
			snprintf(tail, sizeof tail, "; %zu samples (the lines before line %zu) were imported",
				 total, r.line0 + 1);
			progress_show(&pg, r.done, total, true);
			print_err(path, &err, rc, tail);
			pt_error_clear(&err);
			rc = 1;
			goto out;
		}
		total += n;
		reader_consume(&r, blen);
		progress_show(&pg, r.done, total, false);
	}
	if (rc)
		goto out;
	progress_show(&pg, r.done, total, true);
	fprintf(stderr, "pacewatch: %s: imported %zu samples in %.3f s\n", path, total,
		(double)(pw_mono_ns() - t0) / 1e9);
out:
	free(cc.ls);
	reader_close(&r);
	return rc ? 1 : 0;
}

int cli_import_files(struct store *s, char **files, int nfiles, const struct pw_label *extra,
		     size_t nextra)
{
	for (int i = 0; i < nfiles; i++)
		if (import_file(s, files[i], extra, nextra) != 0)
			return 1;
	return 0;
}
