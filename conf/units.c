/*
 * units.c — the units table (docs/kpis.md, "The units table"): read with the
 * configuration through sheet/, checked (codes unique, parents known, no
 * cycle, depth bounded), looked up by code, walked up to an ancestor of a
 * kind.
 */
#include "conf_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sheet.h"

#define MAX_UNITS 200000
#define MAX_DEPTH 16

static uint64_t code_hash(const char *s)
{
	return pw_hash64(s, strlen(s));
}

static void index_build(struct conf_units *t)
{
	size_t cap = 16;
	while (cap < t->n * 2)
		cap *= 2;
	t->index = xcalloc(cap, sizeof *t->index);
	t->index_cap = cap;
	for (size_t i = 0; i < t->n; i++) {
		size_t j = code_hash(t->v[i].code) & (cap - 1);
		while (t->index[j])
			j = (j + 1) & (cap - 1);
		t->index[j] = i + 1;
	}
}

static const struct conf_unit *find(const struct conf_units *t, const char *code)
{
	if (!t->index_cap || !code)
		return NULL;
	for (size_t j = code_hash(code) & (t->index_cap - 1); t->index[j];
	     j = (j + 1) & (t->index_cap - 1))
		if (strcmp(t->v[t->index[j] - 1].code, code) == 0)
			return &t->v[t->index[j] - 1];
	return NULL;
}

const struct conf_unit *conf_unit_find(const struct conf *c, const char *code)
{
	return find(&c->units, code);
}

const struct conf_unit *conf_unit_parent(const struct conf *c, const struct conf_unit *u)
{
	return u && u->parent ? &c->units.v[u->parent - 1] : NULL;
}

const struct conf_unit *conf_unit_ancestor(const struct conf *c, const struct conf_unit *u,
					   const char *kind)
{
	for (int d = 0; u && d <= MAX_DEPTH; d++, u = conf_unit_parent(c, u))
		if (strcmp(u->kind, kind) == 0)
			return u;
	return NULL;
}

double conf_unit_attr(const struct conf *c, const struct conf_unit *u, const char *name)
{
	for (size_t i = 0; u && i < c->units.nattrs; i++)
		if (strcmp(c->units.attr_names[i], name) == 0)
			return u->attrs[i];
	return NAN;
}

bool conf_units_has_attr(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->units.nattrs; i++)
		if (strcmp(c->units.attr_names[i], name) == 0)
			return true;
	return false;
}

void conf_units_free(struct conf_units *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].code);
		free(t->v[i].name);
		free(t->v[i].kind);
		free(t->v[i].attrs);
	}
	free(t->v);
	for (size_t i = 0; i < t->nattrs; i++)
		free(t->attr_names[i]);
	free(t->attr_names);
	free(t->index);
	t->v = NULL;
	t->attr_names = NULL;
	t->index = NULL;
	t->n = t->nattrs = t->index_cap = 0;
}

/* the file as the configuration names it: relative to its folder */
static char *file_path(const struct conf *c)
{
	const char *f = c->units.file, *slash = c->path ? strrchr(c->path, '/') : NULL;
	if (f[0] == '/' || !slash)
		return xstrdup(f);
	return xasprintf("%.*s/%s", (int)(slash - c->path), c->path, f);
}

static long column(const struct sheet_row *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->cells[i], name) == 0)
			return (long)i;
	return -1;
}

/* the checks of a table read into t: parents known, no cycle, depth */
static void check_tree(struct conf_units *t, const size_t *rowline, const char *path,
		       const char *pcol, const char **parents, struct conf_errs *errs,
		       const struct posmap *pm)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_unit *p;
		if (!parents[i][0])
			continue;
		if (!(p = find(t, parents[i]))) {
			conf_err_at(errs, pm, "units.file", false,
				    "%s: row %zu, column \"%s\": no unit has the code \"%s\"", path,
				    rowline[i], pcol, parents[i]);
			continue;
		}
		t->v[i].parent = (size_t)(p - t->v) + 1;
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t j = i, d = 0;
		while (t->v[j].parent && d <= MAX_DEPTH) {
			j = t->v[j].parent - 1;
			d++;
			if (j == i)
				break;
		}
		if (j == i && d) {
			conf_err_at(errs, pm, "units.file", false,
				    "%s: row %zu: unit \"%s\" is its own ancestor", path, rowline[i],
				    t->v[i].code);
			t->v[i].parent = 0; /* no walking in circles later */
		} else if (d > MAX_DEPTH) {
			conf_err_at(errs, pm, "units.file", false,
				    "%s: row %zu: unit \"%s\" is more than %d levels deep", path,
				    rowline[i], t->v[i].code, MAX_DEPTH);
		}
	}
}

void conf_units_load(struct conf *c, struct conf_errs *errs, const struct posmap *pm)
{
	struct conf_units *t = &c->units;
	struct sheet *sh = NULL;
	struct sheet_opts so = {.max_rows = MAX_UNITS + 64};
	char *path, *cause = NULL;
	size_t h = 0, *rowline = NULL;
	long col[4];
	const char **parents = NULL;
	const char *names[4] = {t->columns.code, t->columns.name, t->columns.kind,
				t->columns.parent};
	if (!t->file)
		return;
	path = file_path(c);
	if (sheet_read_file(path, &so, &sh, &cause) != 0) {
		conf_err_at(errs, pm, "units.file", false, "%s", cause);
		goto out;
	}
	/* the header: the first row naming the code column (a title and blank
	 * rows may stand above it, as in a workbook) */
	while (h < sh->nrows && h < 50 && column(&sh->rows[h], names[0]) < 0)
		h++;
	if (h == sh->nrows || h == 50) {
		conf_err_at(errs, pm, "units.file", false,
			    "%s: no header row: no row has a column \"%s\" (units.columns.code)",
			    path, names[0]);
		goto out;
	}
	for (int q = 0; q < 4; q++)
		if ((col[q] = column(&sh->rows[h], names[q])) < 0) {
			conf_err_at(errs, pm, "units.file", false,
				    "%s: row %zu: the header has no column \"%s\" (units.columns)", path,
				    sh->rows[h].line, names[q]);
			goto out;
		}
	/* every other column is an attribute */
	t->attr_names = xcalloc(sh->rows[h].n + 1, sizeof *t->attr_names);
	size_t *acol = xcalloc(sh->rows[h].n + 1, sizeof *acol);
	for (size_t i = 0; i < sh->rows[h].n; i++)
		if ((long)i != col[0] && (long)i != col[1] && (long)i != col[2] && (long)i != col[3] &&
		    sh->rows[h].cells[i][0]) {
			acol[t->nattrs] = i;
			t->attr_names[t->nattrs++] = xstrdup(sh->rows[h].cells[i]);
		}
	if (sh->nrows - h - 1 > MAX_UNITS) {
		conf_err_at(errs, pm, "units.file", false, "%s: more than %d units", path, MAX_UNITS);
		free(acol);
		goto out;
	}
	t->v = xcalloc(sh->nrows - h + 1, sizeof *t->v);
	rowline = xcalloc(sh->nrows - h + 1, sizeof *rowline);
	parents = xcalloc(sh->nrows - h + 1, sizeof *parents);
	for (size_t r = h + 1; r < sh->nrows; r++) {
		const struct sheet_row *row = &sh->rows[r];
		struct conf_unit *u;
		if (sheet_row_blank(row))
			continue;
#define CELL(i) ((size_t)(i) < row->n ? row->cells[i] : "")
		if (!CELL(col[0])[0]) {
			conf_err_at(errs, pm, "units.file", false,
				    "%s: row %zu, column \"%s\": no code", path, row->line, names[0]);
			continue;
		}
		u = &t->v[t->n];
		u->code = xstrdup(CELL(col[0]));
		u->name = xstrdup(CELL(col[1])[0] ? CELL(col[1]) : CELL(col[0]));
		u->kind = xstrdup(CELL(col[2]));
		u->attrs = xcalloc(t->nattrs + 1, sizeof *u->attrs);
		for (size_t a = 0; a < t->nattrs; a++) {
			double v;
			u->attrs[a] = pw_number(CELL(acol[a]), &v) ? v : NAN;
		}
		parents[t->n] = CELL(col[3]);
		rowline[t->n] = row->line;
		t->n++;
#undef CELL
	}
	free(acol);
	/* codes are unique */
	index_build(t);
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_unit *f = find(t, t->v[i].code);
		if (f != &t->v[i])
			conf_err_at(errs, pm, "units.file", false,
				    "%s: row %zu, column \"%s\": the code \"%s\" is also on row %zu", path,
				    rowline[i], names[0], t->v[i].code, rowline[f - t->v]);
	}
	check_tree(t, rowline, path, names[3], parents, errs, pm);
out:
	free(rowline);
	free(parents);
	sheet_free(sh);
	free(cause);
	free(path);
}
