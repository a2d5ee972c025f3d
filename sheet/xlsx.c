/*
 * xlsx.c — one worksheet of an .xlsx workbook (Office Open XML) into rows:
 * libzip opens the archive from memory, expat streams each XML part. Shared
 * and inline strings, numbers printed the shortest way that reads back as
 * the same double, booleans, error values, merged ranges filled with their
 * top-left value, the workbook's date system. Every bound is counted from
 * the bytes actually decompressed; a DOCTYPE is never read (no entities).
 */
#include <errno.h>
#include <expat.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "common.h"
#include "sheet_int.h"

#define MAX_PARTS 10000
#define MAX_XML (512ull << 20)     /* all parts read, uncompressed */
#define MAX_RATIO 250              /* a part's expansion beyond its first MiB */
#define MAX_TEXT (256ull << 20)    /* the text of all cells */
#define MAX_STRINGS 1000000
#define MAX_DEPTH 64
#define MAX_TOTAL_CELLS 10000000ull
#define NS_SEP '|'

struct xl {
	const char *name;          /* the file, for messages */
	zip_t *za;
	char *cause;
	int rc;
	uint64_t xml_total, text_total;
	/* the shared strings */
	char **ss;
	size_t nss, capss;
	/* workbook.xml */
	int date1904;
	char **sheet_names, **sheet_rids;
	size_t nsheets;
	/* the relationships: id -> target */
	char **rel_ids, **rel_targets;
	size_t nrels;
	/* the worksheet */
	struct sheet *s;
	size_t max_rows, max_cells, caprows;
	uint64_t cells_total;
	struct merge {
		size_t r1, c1, r2, c2;
	} *merges;
	size_t nmerges, capmerges;
};

/* one XML part being parsed */
struct px {
	struct xl *x;
	const char *part;
	XML_Parser p;
	int depth;
	/* sharedStrings: in <si>, in <t>, in <rPh> (phonetic guide, left out) */
	int in_si, in_t, in_rph;
	/* worksheet */
	int in_sheetdata, in_v, in_is;
	size_t row, col;           /* the current row (1-based), the next cell's column (0-based) */
	size_t cur_col;            /* the current cell's column */
	char cell_type[16];
	int in_cell;
	struct pw_buf text;
	size_t rowcap;
};

static void fail(struct px *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct px *c, int rc, const char *fmt, ...)
{
	va_list ap;
	char m[512];
	if (c->x->cause)
		return;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	c->x->cause = xasprintf("%s: %s: line %lu, column %lu: %s", c->x->name, c->part,
				(unsigned long)XML_GetCurrentLineNumber(c->p),
				(unsigned long)XML_GetCurrentColumnNumber(c->p) + 1, m);
	c->x->rc = rc;
	XML_StopParser(c->p, XML_FALSE);
}

/* the local part of an expat namespace-qualified name */
static const char *local(const char *n)
{
	const char *p = strrchr(n, NS_SEP);
	return p ? p + 1 : n;
}

static const char *attr(const XML_Char **a, const char *name)
{
	for (; a && a[0]; a += 2)
		if (strcmp(local(a[0]), name) == 0)
			return a[1];
	return NULL;
}

/* "B12" -> column 1 (0-based), row 12; 0 when it is not a cell reference */
static int cell_ref(const char *s, size_t *col, size_t *row)
{
	size_t c = 0, r = 0, nl = 0, nd = 0;
	for (; *s >= 'A' && *s <= 'Z'; s++, nl++) {
		c = c * 26 + (size_t)(*s - 'A' + 1);
		if (nl >= 3)
			return 0;
	}
	for (; *s >= '0' && *s <= '9'; s++, nd++) {
		r = r * 10 + (size_t)(*s - '0');
		if (nd >= 7)
			return 0;
	}
	if (*s || (nl == 0 && nd == 0))
		return 0;
	*col = nl ? c - 1 : (size_t)-1;
	*row = nd ? r : 0;
	return 1;
}

/* Excel's column letters for a 0-based column */
void sheet_column_name(size_t col, char out[8])
{
	char t[8];
	size_t n = 0;
	col++;
	while (col && n < 7) {
		t[n++] = (char)('A' + (col - 1) % 26);
		col = (col - 1) / 26;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = t[n - 1 - i];
	out[n] = '\0';
}

/* A number the shortest way that reads back as the same double, never in
 * exponent form for the magnitudes ledgers hold. */
static char *shortest(const char *text)
{
	char *e;
	double d = strtod(text, &e);
	char buf[400];
	int p;
	if (e == text || *e || !isfinite(d))
		return xstrdup(text);
	for (p = 1; p <= 17; p++) {
		snprintf(buf, sizeof buf, "%.*g", p, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (strchr(buf, 'e')) {
		int exp10 = d == 0 ? 0 : (int)floor(log10(fabs(d)));
		if (exp10 >= -20 && exp10 <= 20) {
			int dec = p - 1 - exp10;
			if (dec < 0)
				dec = 0;
			snprintf(buf, sizeof buf, "%.*f", dec, d);
		}
	}
	return xstrdup(buf);
}

/* ---- reading a part -------------------------------------------------------------- */

static int zip_err_cause(struct xl *x, const char *what)
{
	x->cause = xasprintf("%s: %s: %s", x->name, what, zip_strerror(x->za));
	return PW_EINVAL;
}

/* Stream the part through a parser with c's handlers. 1 when the part is
 * absent, 0 when read, <0 with x->cause. */
static int parse_part(struct px *c, const char *part, XML_StartElementHandler st,
		      XML_EndElementHandler en, XML_CharacterDataHandler ch);

static void XMLCALL on_doctype(void *ud, const XML_Char *n, const XML_Char *sys,
			       const XML_Char *pub, int has_internal)
{
	struct px *c = ud;
	(void)n, (void)sys, (void)pub, (void)has_internal;
	fail(c, PW_EINVAL, "a DOCTYPE (entity declarations: an XML entity expansion attack?) is "
			   "not read");
}

static void XMLCALL on_entity(void *ud, const XML_Char *n, int pe, const XML_Char *v, int vl,
			      const XML_Char *base, const XML_Char *sys, const XML_Char *pub,
			      const XML_Char *nn)
{
	struct px *c = ud;
	(void)n, (void)pe, (void)v, (void)vl, (void)base, (void)sys, (void)pub, (void)nn;
	fail(c, PW_EINVAL, "an entity declaration (an XML entity expansion attack?) is not read");
}

static int parse_part(struct px *c, const char *part, XML_StartElementHandler st,
		      XML_EndElementHandler en, XML_CharacterDataHandler ch)
{
	struct xl *x = c->x;
	zip_stat_t zs;
	zip_file_t *zf;
	zip_int64_t idx = zip_name_locate(x->za, part, 0);
	uint64_t done = 0, comp;
	char buf[65536];
	if (idx < 0)
		return 1;
	if (zip_stat_index(x->za, (zip_uint64_t)idx, 0, &zs) != 0)
		return zip_err_cause(x, part);
	comp = (zs.valid & ZIP_STAT_COMP_SIZE) ? zs.comp_size : 0;
	if (!(zf = zip_fopen_index(x->za, (zip_uint64_t)idx, 0)))
		return zip_err_cause(x, part);
	c->part = part;
	c->p = XML_ParserCreateNS(NULL, NS_SEP);
	if (!c->p) {
		zip_fclose(zf);
		x->cause = xasprintf("%s: out of memory", x->name);
		return -ENOMEM;
	}
	XML_SetUserData(c->p, c);
	XML_SetElementHandler(c->p, st, en);
	XML_SetCharacterDataHandler(c->p, ch);
	XML_SetStartDoctypeDeclHandler(c->p, on_doctype);
	XML_SetEntityDeclHandler(c->p, on_entity);
	/* no external entities, ever */
	XML_SetParamEntityParsing(c->p, XML_PARAM_ENTITY_PARSING_NEVER);
	for (;;) {
		zip_int64_t n = zip_fread(zf, buf, sizeof buf);
		if (n < 0) {
			x->cause = xasprintf("%s: %s: %s", x->name, part,
					     zip_file_strerror(zf));
			x->rc = PW_EINVAL;
			break;
		}
		done += (uint64_t)n;
		x->xml_total += (uint64_t)n;
		if (done > (1u << 20) && done > comp * MAX_RATIO) {
			x->cause = xasprintf("%s: %s expands more than %d times: a zip bomb, refused",
					     x->name, part, MAX_RATIO);
			x->rc = PW_ETOOBIG;
			break;
		}
		if (x->xml_total > MAX_XML) {
			x->cause = xasprintf("%s: %s: more than %llu MiB of XML uncompressed", x->name,
					     part, MAX_XML >> 20);
			x->rc = PW_ETOOBIG;
			break;
		}
		if (XML_Parse(c->p, buf, (int)n, n == 0) != XML_STATUS_OK) {
			if (!x->cause) {
				x->cause = xasprintf(
					"%s: %s: line %lu, column %lu: %s", x->name, part,
					(unsigned long)XML_GetCurrentLineNumber(c->p),
					(unsigned long)XML_GetCurrentColumnNumber(c->p) + 1,
					XML_ErrorString(XML_GetErrorCode(c->p)));
				x->rc = PW_EINVAL;
			}
			break;
		}
		if (n == 0)
			break;
	}
	XML_ParserFree(c->p);
	c->p = NULL;
	zip_fclose(zf);
	return x->cause ? (x->rc ? x->rc : PW_EINVAL) : 0;
}

static int depth_in(struct px *c)
{
	if (++c->depth > MAX_DEPTH) {
		fail(c, PW_ETOOBIG, "elements nest deeper than %d", MAX_DEPTH);
		return 0;
	}
	return 1;
}

static int text_add(struct px *c, const char *s, int len)
{
	c->x->text_total += (uint64_t)len;
	if (c->x->text_total > MAX_TEXT) {
		fail(c, PW_ETOOBIG, "the cells' text comes to more than %llu MiB", MAX_TEXT >> 20);
		return 0;
	}
	pw_buf_append(&c->text, s, (size_t)len);
	return 1;
}

/* ---- workbook.xml and its relationships ---------------------------------------- */

static void XMLCALL wb_start(void *ud, const XML_Char *n, const XML_Char **a)
{
	struct px *c = ud;
	struct xl *x = c->x;
	const char *l = local(n);
	if (!depth_in(c))
		return;
	if (strcmp(l, "workbookPr") == 0) {
		const char *v = attr(a, "date1904");
		x->date1904 = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
	} else if (strcmp(l, "sheet") == 0) {
		const char *nm = attr(a, "name"), *id = NULL;
		for (const XML_Char **p = a; p && p[0]; p += 2)
			if (strchr(p[0], NS_SEP) && strcmp(local(p[0]), "id") == 0)
				id = p[1];
		if (!nm || !id)
			return;
		if (x->nsheets >= 4096) {
			fail(c, PW_ETOOBIG, "more than 4096 worksheets");
			return;
		}
		x->sheet_names = xreallocarray(x->sheet_names, x->nsheets + 1, sizeof(char *));
		x->sheet_rids = xreallocarray(x->sheet_rids, x->nsheets + 1, sizeof(char *));
		x->sheet_names[x->nsheets] = xstrdup(nm);
		x->sheet_rids[x->nsheets++] = xstrdup(id);
	}
}

static void XMLCALL any_end(void *ud, const XML_Char *n)
{
	struct px *c = ud;
	(void)n;
	c->depth--;
}

static void XMLCALL no_text(void *ud, const XML_Char *s, int len)
{
	(void)ud, (void)s, (void)len;
}

static void XMLCALL rels_start(void *ud, const XML_Char *n, const XML_Char **a)
{
	struct px *c = ud;
	struct xl *x = c->x;
	if (!depth_in(c))
		return;
	if (strcmp(local(n), "Relationship") == 0) {
		const char *id = attr(a, "Id"), *t = attr(a, "Target");
		if (!id || !t)
			return;
		if (x->nrels >= 4096) {
			fail(c, PW_ETOOBIG, "more than 4096 relationships");
			return;
		}
		x->rel_ids = xreallocarray(x->rel_ids, x->nrels + 1, sizeof(char *));
		x->rel_targets = xreallocarray(x->rel_targets, x->nrels + 1, sizeof(char *));
		x->rel_ids[x->nrels] = xstrdup(id);
		x->rel_targets[x->nrels++] = xstrdup(t);
	}
}

/* ---- sharedStrings.xml ------------------------------------------------------------ */

static void XMLCALL ss_start(void *ud, const XML_Char *n, const XML_Char **a)
{
	struct px *c = ud;
	const char *l = local(n);
	(void)a;
	if (!depth_in(c))
		return;
	if (strcmp(l, "si") == 0) {
		c->in_si = 1;
		pw_buf_reset(&c->text);
	} else if (strcmp(l, "rPh") == 0)
		c->in_rph++;
	else if (strcmp(l, "t") == 0 && c->in_si)
		c->in_t = 1;
}

static void XMLCALL ss_end(void *ud, const XML_Char *n)
{
	struct px *c = ud;
	struct xl *x = c->x;
	const char *l = local(n);
	c->depth--;
	if (strcmp(l, "si") == 0 && c->in_si) {
		c->in_si = 0;
		if (x->nss >= MAX_STRINGS) {
			fail(c, PW_ETOOBIG, "more than %d shared strings", MAX_STRINGS);
			return;
		}
		if (x->nss == x->capss) {
			x->capss = x->capss ? 2 * x->capss : 256;
			x->ss = xreallocarray(x->ss, x->capss, sizeof *x->ss);
		}
		x->ss[x->nss++] = sheet_trimmed(c->text.data ? c->text.data : "", c->text.len);
	} else if (strcmp(l, "rPh") == 0)
		c->in_rph--;
	else if (strcmp(l, "t") == 0)
		c->in_t = 0;
}

static void XMLCALL ss_text(void *ud, const XML_Char *s, int len)
{
	struct px *c = ud;
	if (c->in_si && c->in_t && !c->in_rph)
		text_add(c, s, len);
}

/* ---- the worksheet ---------------------------------------------------------------- */

static struct sheet_row *row_at(struct px *c, size_t r)
{
	struct xl *x = c->x;
	struct sheet *s = x->s;
	if (r > x->max_rows) {
		fail(c, PW_ETOOBIG, "more than %zu rows", x->max_rows);
		return NULL;
	}
	while (s->nrows < r) {
		if (s->nrows == x->caprows) {
			x->caprows = x->caprows ? 2 * x->caprows : 64;
			while (x->caprows < r)
				x->caprows *= 2;
			s->rows = xreallocarray(s->rows, x->caprows, sizeof *s->rows);
		}
		s->rows[s->nrows] = (struct sheet_row){.line = s->nrows + 1};
		s->nrows++;
	}
	return &s->rows[r - 1];
}

/* set cell (r, col) of the sheet, filling the row with empty cells up to it */
static int cell_put(struct px *c, size_t r, size_t col, char *v)
{
	struct xl *x = c->x;
	struct sheet_row *row;
	if (col >= x->max_cells) {
		free(v);
		fail(c, PW_ETOOBIG, "row %zu: more than %zu cells", r, x->max_cells);
		return 0;
	}
	if (!(row = row_at(c, r))) {
		free(v);
		return 0;
	}
	while (row->n <= col) {
		if (++x->cells_total > MAX_TOTAL_CELLS) {
			free(v);
			fail(c, PW_ETOOBIG, "more than %llu cells", MAX_TOTAL_CELLS);
			return 0;
		}
		/* rows grow one cell at a time: capacity is the next power of two */
		if ((row->n & (row->n - 1)) == 0 || row->n < 8) {
			size_t cap = row->n < 8 ? 8 : 2 * row->n;
			row->cells = xreallocarray(row->cells, cap, sizeof *row->cells);
		}
		row->cells[row->n++] = xstrdup("");
	}
	free(row->cells[col]);
	row->cells[col] = v;
	return 1;
}

static void XMLCALL ws_start(void *ud, const XML_Char *n, const XML_Char **a)
{
	struct px *c = ud;
	struct xl *x = c->x;
	const char *l = local(n);
	if (!depth_in(c))
		return;
	if (strcmp(l, "sheetData") == 0) {
		c->in_sheetdata = 1;
	} else if (c->in_sheetdata && strcmp(l, "row") == 0) {
		const char *r = attr(a, "r");
		size_t col, row = c->row + 1;
		if (r && (!cell_ref(r, &col, &row) || col != (size_t)-1 || row == 0)) {
			char esc[64];
			fail(c, PW_EINVAL, "row number \"%s\" is not one", pw_esc(esc, sizeof esc, r, strlen(r)));
			return;
		}
		if (row <= c->row && c->row) {
			fail(c, PW_EINVAL, "row %zu comes after row %zu", row, c->row);
			return;
		}
		c->row = row;
		c->col = 0;
		row_at(c, row);
	} else if (c->in_sheetdata && strcmp(l, "c") == 0) {
		const char *r = attr(a, "r"), *t = attr(a, "t");
		size_t col = c->col, row = c->row;
		if (r) {
			size_t rr;
			if (!cell_ref(r, &col, &rr) || col == (size_t)-1 || (rr && rr != c->row)) {
				char esc[64];
				fail(c, PW_EINVAL, "cell reference \"%s\" is not in row %zu",
				     pw_esc(esc, sizeof esc, r, strlen(r)), c->row);
				return;
			}
		}
		if (row == 0) {
			fail(c, PW_EINVAL, "a cell outside a row");
			return;
		}
		c->cur_col = col;
		c->col = col + 1;
		snprintf(c->cell_type, sizeof c->cell_type, "%s", t ? t : "n");
		c->in_cell = 1;
		pw_buf_reset(&c->text);
	} else if (c->in_cell && strcmp(l, "v") == 0) {
		c->in_v = 1;
	} else if (c->in_cell && strcmp(l, "is") == 0) {
		c->in_is = 1;
	} else if (c->in_is && strcmp(l, "rPh") == 0) {
		c->in_rph++;
	} else if (c->in_is && strcmp(l, "t") == 0) {
		c->in_t = 1;
	} else if (strcmp(l, "mergeCell") == 0) {
		const char *ref = attr(a, "ref"), *colon = ref ? strchr(ref, ':') : NULL;
		struct merge m;
		char a1[16], b1[16];
		if (!colon || colon - ref >= 16 || strlen(colon + 1) >= 16)
			return;
		memcpy(a1, ref, (size_t)(colon - ref));
		a1[colon - ref] = '\0';
		strcpy(b1, colon + 1);
		if (!cell_ref(a1, &m.c1, &m.r1) || !cell_ref(b1, &m.c2, &m.r2) || m.c1 == (size_t)-1 ||
		    m.c2 == (size_t)-1 || !m.r1 || !m.r2 || m.r2 < m.r1 || m.c2 < m.c1)
			return;
		if (x->nmerges >= 100000) {
			fail(c, PW_ETOOBIG, "more than 100000 merged ranges");
			return;
		}
		if (x->nmerges == x->capmerges) {
			x->capmerges = x->capmerges ? 2 * x->capmerges : 16;
			x->merges = xreallocarray(x->merges, x->capmerges, sizeof *x->merges);
		}
		x->merges[x->nmerges++] = m;
	}
}

static void XMLCALL ws_end(void *ud, const XML_Char *n)
{
	struct px *c = ud;
	struct xl *x = c->x;
	const char *l = local(n);
	c->depth--;
	if (strcmp(l, "sheetData") == 0) {
		c->in_sheetdata = 0;
	} else if (c->in_cell && strcmp(l, "c") == 0) {
		const char *v = c->text.data ? c->text.data : "";
		char *out;
		c->in_cell = 0;
		if (strcmp(c->cell_type, "s") == 0) {
			char *e;
			unsigned long i = strtoul(v, &e, 10);
			if (!*v) {
				out = xstrdup("");
			} else if (*e || i >= x->nss) {
				char esc[64];
				fail(c, PW_EINVAL, "shared string \"%s\" is not one of the %zu",
				     pw_esc(esc, sizeof esc, v, strlen(v)), x->nss);
				return;
			} else {
				out = xstrdup(x->ss[i]);
			}
		} else if (strcmp(c->cell_type, "b") == 0) {
			out = xstrdup(!*v ? "" : strcmp(v, "0") == 0 ? "FALSE" : "TRUE");
		} else if (strcmp(c->cell_type, "n") == 0) {
			char *tv = sheet_trimmed(v, c->text.len);
			out = *tv ? shortest(tv) : xstrdup("");
			free(tv);
		} else { /* str, inlineStr, e, d: their text */
			out = sheet_trimmed(v, c->text.len);
		}
		cell_put(c, c->row, c->cur_col, out);
	} else if (strcmp(l, "v") == 0) {
		c->in_v = 0;
	} else if (strcmp(l, "is") == 0) {
		c->in_is = 0;
	} else if (strcmp(l, "rPh") == 0 && c->in_rph) {
		c->in_rph--;
	} else if (strcmp(l, "t") == 0) {
		c->in_t = 0;
	}
}

static void XMLCALL ws_text(void *ud, const XML_Char *s, int len)
{
	struct px *c = ud;
	if (c->in_cell && (c->in_v || (c->in_is && c->in_t && !c->in_rph)))
		text_add(c, s, len);
}

/* every cell of a merged range gets its top-left cell's value */
static int fill_merges(struct px *c)
{
	struct xl *x = c->x;
	for (size_t i = 0; i < x->nmerges && !x->cause; i++) {
		const struct merge *m = &x->merges[i];
		const char *tl = "";
		char *v;
		if (m->r1 <= x->s->nrows && m->c1 < x->s->rows[m->r1 - 1].n)
			tl = x->s->rows[m->r1 - 1].cells[m->c1];
		if (!*tl)
			continue;
		v = xstrdup(tl);
		/* rows past the sheet's last are not made for it */
		for (size_t r = m->r1; r <= m->r2 && r <= x->s->nrows && !x->cause; r++)
			for (size_t col = m->c1; col <= m->c2 && !x->cause; col++)
				if (r != m->r1 || col != m->c1)
					cell_put(c, r, col, xstrdup(v));
		free(v);
	}
	return x->cause ? x->rc : 0;
}

/* ---- the workbook --------------------------------------------------------------- */

static char *part_of_target(const char *t)
{
	if (t[0] == '/')
		return xstrdup(t + 1);
	if (strncmp(t, "xl/", 3) == 0)
		return xstrdup(t);
	return xasprintf("xl/%s", t);
}

int sheet_read_xlsx(const char *name, const void *data, size_t len, const struct sheet_opts *o,
		    struct sheet *s, char **cause)
{
	struct xl x = {.name = name, .s = s};
	struct px c = {.x = &x};
	zip_error_t ze;
	zip_source_t *src;
	zip_int64_t nent;
	char *part = NULL;
	const char *want = o ? o->sheet : NULL;
	size_t si = 0;
	int rc;

	x.max_rows = o && o->max_rows ? o->max_rows : 1000000;
	x.max_cells = o && o->max_cells ? o->max_cells : 4096;
	pw_buf_init(&c.text, 0);
	zip_error_init(&ze);
	if (!(src = zip_source_buffer_create(data, len, 0, &ze)) ||
	    !(x.za = zip_open_from_source(src, ZIP_RDONLY, &ze))) {
		*cause = xasprintf("%s: not a readable .xlsx workbook: %s", name, zip_error_strerror(&ze));
		if (src)
			zip_source_free(src);
		zip_error_fini(&ze);
		pw_buf_free(&c.text);
		return PW_EINVAL;
	}
	zip_error_fini(&ze);
	nent = zip_get_num_entries(x.za, 0);
	if (nent > MAX_PARTS) {
		x.cause = xasprintf("%s: more than %d parts in the archive", name, MAX_PARTS);
		x.rc = PW_ETOOBIG;
		goto out;
	}
	if (zip_name_locate(x.za, "xl/workbook.xml", 0) < 0) {
		const char *what = zip_name_locate(x.za, "content.xml", 0) >= 0
					   ? "an OpenDocument spreadsheet (.ods)"
					   : "a zip archive that is no .xlsx workbook (no xl/workbook.xml)";
		x.cause = xasprintf("%s: %s, which pacewatch does not read: save it as .xlsx or CSV",
				    name, what);
		x.rc = PW_EINVAL;
		goto out;
	}
	if ((rc = parse_part(&c, "xl/workbook.xml", wb_start, any_end, no_text)) < 0)
		goto out;
	c.depth = 0;
	if ((rc = parse_part(&c, "xl/_rels/workbook.xml.rels", rels_start, any_end, no_text)) < 0)
		goto out;
	c.depth = 0;
	if (x.nsheets == 0) {
		x.cause = xasprintf("%s: the workbook has no worksheet", name);
		x.rc = PW_EINVAL;
		goto out;
	}
	if (want) {
		for (si = 0; si < x.nsheets && strcmp(x.sheet_names[si], want) != 0; si++)
			;
		if (si == x.nsheets) {
			struct pw_buf b;
			pw_buf_init(&b, 0);
			for (size_t i = 0; i < x.nsheets && i < 20; i++)
				pw_buf_printf(&b, "%s\"%s\"", i ? ", " : "", x.sheet_names[i]);
			x.cause = xasprintf("%s: no worksheet \"%s\"; the workbook has %s", name, want,
					    b.data);
			pw_buf_free(&b);
			x.rc = PW_EINVAL;
			goto out;
		}
	}
	for (size_t i = 0; i < x.nrels; i++)
		if (strcmp(x.rel_ids[i], x.sheet_rids[si]) == 0)
			part = part_of_target(x.rel_targets[i]);
	if (!part) {
		x.cause = xasprintf("%s: worksheet \"%s\" has no part in the archive", name,
				    x.sheet_names[si]);
		x.rc = PW_EINVAL;
		goto out;
	}
	if ((rc = parse_part(&c, "xl/sharedStrings.xml", ss_start, ss_end, ss_text)) < 0)
		goto out;
	c.depth = 0;
	rc = parse_part(&c, part, ws_start, ws_end, ws_text);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		x.cause = xasprintf("%s: worksheet \"%s\": %s is not in the archive", name,
				    x.sheet_names[si], part);
		x.rc = PW_EINVAL;
		goto out;
	}
	fill_merges(&c);
	s->name = xstrdup(x.sheet_names[si]);
	s->date1904 = x.date1904;
out:
	rc = x.cause ? (x.rc ? x.rc : PW_EINVAL) : 0;
	if (x.cause)
		*cause = x.cause;
	zip_discard(x.za);
	free(part);
	for (size_t i = 0; i < x.nss; i++)
		free(x.ss[i]);
	free(x.ss);
	for (size_t i = 0; i < x.nsheets; i++) {
		free(x.sheet_names[i]);
		free(x.sheet_rids[i]);
	}
	free(x.sheet_names);
	free(x.sheet_rids);
	for (size_t i = 0; i < x.nrels; i++) {
		free(x.rel_ids[i]);
		free(x.rel_targets[i]);
	}
	free(x.rel_ids);
	free(x.rel_targets);
	free(x.merges);
	pw_buf_free(&c.text);
	return rc;
}
