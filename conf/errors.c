/*
 * errors.c — the configuration error list: every message carries
 * file:line:column, the key path and the source line for a caret; all are
 * collected, then printed together.
 */
#include "conf_int.h"

#include <stdlib.h>
#include <string.h>

/* up to CONF_ERR_WINDOW characters of off's line each side of off, into e
 * (a 200 KB line with 10,000 errors must not be copied 10,000 times) */
static void window(struct conf_err *e, const char *t, size_t len, size_t off)
{
	size_t a = off, b = off, n;

	for (n = 0; a > 0 && t[a - 1] != '\n' && n < CONF_ERR_WINDOW;) {
		a--;
		if (((unsigned char)t[a] & 0xC0) != 0x80)
			n++;
	}
	while (a > 0 && ((unsigned char)t[a] & 0xC0) == 0x80) /* whole characters */
		a--;
	e->cut_before = a > 0 && t[a - 1] != '\n';
	e->source_col = n + 1;
	for (n = 0; b < len && t[b] != '\n' && t[b] != '\r' && n < CONF_ERR_WINDOW;) {
		b++;
		while (b < len && ((unsigned char)t[b] & 0xC0) == 0x80)
			b++;
		n++;
	}
	e->cut_after = b < len && t[b] != '\n' && t[b] != '\r';
	e->source_line = xstrndup(t + a, b - a);
}

/* a new entry at the end of *v (n of them), grown geometrically */
static struct conf_err *push(struct conf_err **v, size_t *n)
{
	if ((*n & (*n - 1)) == 0) /* 0, 1, 2, 4, ...: full */
		*v = xreallocarray(*v, *n ? *n * 2 : 1, sizeof **v);
	memset(&(*v)[*n], 0, sizeof **v);
	return &(*v)[(*n)++];
}

static void add_v(struct conf_errs *errs, const struct posmap *pm, size_t off, const char *path,
		  bool warn, const char *fmt, va_list ap)
{
	struct conf_err *e;
	char *msg = NULL;

	if (!warn && errs->n >= CONF_MAX_ERRORS) {
		errs->more++; /* counted, not kept: bounded memory */
		return;
	}
	if (warn && errs->nwarn >= CONF_MAX_ERRORS)
		return;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	e = warn ? push(&errs->warn, &errs->nwarn) : push(&errs->v, &errs->n);
	e->msg = msg;
	e->path = xstrdup(path ? path : "");
	if (pm && pm->text && off != SIZE_MAX && off <= pm->len) {
		conf_posmap_linecol(pm, off, &e->line, &e->col);
		window(e, pm->text, pm->len, off);
	}
}

void conf_err_add(struct conf_errs *errs, const struct posmap *pm, size_t off, const char *path,
		  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_v(errs, pm, off, path, false, fmt, ap);
	va_end(ap);
}

/* the offset of path's key (at_key) or value, or of its nearest parent
 * in the file when path is not there */
static size_t place(const struct posmap *pm, const char *path, bool at_key)
{
	size_t k = SIZE_MAX, v = SIZE_MAX;

	if (!conf_posmap_find(pm, path, &k, &v)) {
		/* a missing key: point at its parent object */
		char *parent = xstrdup(path);
		for (;;) {
			char *dot = strrchr(parent, '.'), *br = strrchr(parent, '[');
			char *cut = dot > br ? dot : br;
			if (!cut) {
				parent[0] = '\0';
			} else {
				*cut = '\0';
			}
			if (conf_posmap_find(pm, parent, &k, &v) || !cut)
				break;
		}
		at_key = false;
		free(parent);
	}
	return at_key ? k : v;
}

void conf_err_at(struct conf_errs *errs, const struct posmap *pm, const char *path, bool at_key,
		 const char *fmt, ...)
{
	va_list ap;

	if (errs->n >= CONF_MAX_ERRORS) {
		errs->more++;
		return;
	}
	va_start(ap, fmt);
	add_v(errs, pm, place(pm, path, at_key), path, false, fmt, ap);
	va_end(ap);
}

void conf_warn_at(struct conf_errs *errs, const struct posmap *pm, const char *path, bool at_key,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_v(errs, pm, place(pm, path, at_key), path, true, fmt, ap);
	va_end(ap);
}

static void free_list(struct conf_err *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].msg);
		free(v[i].source_line);
	}
	free(v);
}

void conf_errs_free(struct conf_errs *errs)
{
	free_list(errs->v, errs->n);
	free_list(errs->warn, errs->nwarn);
	free(errs->file);
	memset(errs, 0, sizeof *errs);
}

static void print_one(const struct conf_errs *errs, const struct conf_err *e, bool warn, FILE *f)
{
	if (e->line)
		fprintf(f, "%s:%zu:%zu: ", errs->file ? errs->file : "-", e->line, e->col);
	else
		fprintf(f, "%s: ", errs->file ? errs->file : "-");
	if (e->path && *e->path)
		fprintf(f, "%s: ", e->path);
	fprintf(f, "%s%s\n", warn ? "warning: " : "", e->msg);
	if (e->source_line) {
		/* the window of the line, then a caret under the column (tabs
		 * kept; CJK characters take two cells in a terminal) */
		size_t c = 1;
		const char *p;
		fprintf(f, "  %s%s%s\n  %s", e->cut_before ? "..." : "", e->source_line,
			e->cut_after ? "..." : "", e->cut_before ? "   " : "");
		for (p = e->source_line; *p && c < e->source_col; p++) {
			if (((unsigned char)*p & 0xC0) == 0x80)
				continue;
			fputc(*p == '\t' ? '\t' : ' ', f);
			if ((unsigned char)*p >= 0xE3 && (unsigned char)*p <= 0xED)
				fputc(' ', f);
			c++;
		}
		fputs("^\n", f);
	}
}

void conf_errs_print(const struct conf_errs *errs, FILE *f)
{
	for (size_t i = 0; i < errs->nwarn; i++)
		print_one(errs, &errs->warn[i], true, f);
	for (size_t i = 0; i < errs->n; i++)
		print_one(errs, &errs->v[i], false, f);
	if (errs->more)
		fprintf(f, "%zu more errors not shown\n", errs->more);
	if (errs->n + errs->more > 1)
		fprintf(f, "%zu errors\n", errs->n + errs->more);
}
