/*
 * errors.c — the configuration error list: every message carries
 * file:line:column, the key path and the source line for a caret; all are
 * collected, then printed together.
 */
#include "conf_int.h"

#include <stdlib.h>
#include <string.h>

static char *line_text(const char *t, size_t len, size_t off)
{
	size_t a = off, b = off;
	while (a > 0 && t[a - 1] != '\n')
		a--;
	while (b < len && t[b] != '\n' && t[b] != '\r')
		b++;
	return xstrndup(t + a, b - a);
}

static void add_v(struct conf_errs *errs, const struct posmap *pm, size_t off, const char *path,
		  const char *fmt, va_list ap)
{
	struct conf_err *e;
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	errs->v = xreallocarray(errs->v, errs->n + 1, sizeof *errs->v);
	e = &errs->v[errs->n++];
	memset(e, 0, sizeof *e);
	e->msg = msg;
	e->path = xstrdup(path ? path : "");
	if (pm && pm->text && off != SIZE_MAX && off <= pm->len) {
		conf_offset_linecol(pm->text, pm->len, off, &e->line, &e->col);
		e->source_line = line_text(pm->text, pm->len, off);
	}
}

void conf_err_add(struct conf_errs *errs, const struct posmap *pm, size_t off, const char *path,
		  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_v(errs, pm, off, path, fmt, ap);
	va_end(ap);
}

void conf_err_at(struct conf_errs *errs, const struct posmap *pm, const char *path, bool at_key,
		 const char *fmt, ...)
{
	size_t k = SIZE_MAX, v = SIZE_MAX;
	va_list ap;

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
	va_start(ap, fmt);
	add_v(errs, pm, at_key ? k : v, path, fmt, ap);
	va_end(ap);
}

void conf_errs_free(struct conf_errs *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->v[i].path);
		free(errs->v[i].msg);
		free(errs->v[i].source_line);
	}
	free(errs->v);
	free(errs->file);
	memset(errs, 0, sizeof *errs);
}

void conf_errs_print(const struct conf_errs *errs, FILE *f)
{
	for (size_t i = 0; i < errs->n; i++) {
		const struct conf_err *e = &errs->v[i];
		if (e->line)
			fprintf(f, "%s:%zu:%zu: ", errs->file ? errs->file : "-", e->line, e->col);
		else
			fprintf(f, "%s: ", errs->file ? errs->file : "-");
		if (e->path && *e->path)
			fprintf(f, "%s: ", e->path);
		fprintf(f, "%s\n", e->msg);
		if (e->source_line) {
			/* the line, then a caret under the column (tabs kept); a
			 * long line shows a window of 60 characters each side */
			size_t c = 1, first = e->col > 60 ? e->col - 60 : 1, shown = 0;
			const char *p = e->source_line, *start;
			while (*p && c < first) {
				p++;
				while ((((unsigned char)*p) & 0xC0) == 0x80)
					p++;
				c++;
			}
			start = p;
			fputs(first > 1 ? "  ..." : "  ", f);
			for (; *p && shown < 120; shown++) {
				const char *q = p + 1;
				while ((((unsigned char)*q) & 0xC0) == 0x80)
					q++;
				fwrite(p, 1, (size_t)(q - p), f);
				p = q;
			}
			fputs(*p ? "...\n  " : "\n  ", f);
			if (first > 1)
				fputs("   ", f);
			for (p = start; *p && c < e->col; p++) {
				if (((unsigned char)*p & 0xC0) == 0x80)
					continue;
				/* CJK characters take two cells in a terminal */
				fputc(*p == '\t' ? '\t' : ' ', f);
				if ((unsigned char)*p >= 0xE3 && (unsigned char)*p <= 0xED)
					fputc(' ', f);
				c++;
			}
			fputs("^\n", f);
		}
	}
	if (errs->n > 1)
		fprintf(f, "%zu errors\n", errs->n);
}
