/*
 * conf_int.h — what the files of conf/ share: the position map built by
 * the lexical pre-pass, the field-table types and the error list.
 */
#ifndef PW_CONF_INT_H
#define PW_CONF_INT_H

#include <jansson.h>

#include "common.h"
#include "conf.h"

/* ---- lex.c ---------------------------------------------------------------- */

struct posmap_ent {
	char *path;
	size_t key_off;   /* offset of the key's opening quote (or value for elements) */
	size_t val_off;   /* offset of the value */
};

struct posmap {
	struct posmap_ent *v;
	size_t n, cap;
	size_t *hidx, hcap;   /* hash index into v by path */
	const char *text;
	size_t len;
	struct { size_t line, col; } *ck; /* line and column every 4 KiB */
	size_t nck;
};

/* Replace comments with spaces (newlines kept), in place, and check the
 * nesting depth: SIZE_MAX, or the offset of the first problem (an
 * unterminated comment's opening, the first bracket too deep) and *why. */
size_t conf_lex_check(char *text, size_t len, const char **why);
/* Start a position map of text: lines and columns only, no paths yet. */
void conf_posmap_init(struct posmap *pm, const char *text, size_t len);
/* Line and column of an offset in the map's text, in bounded time. */
void conf_posmap_linecol(const struct posmap *pm, size_t off, size_t *line, size_t *col);
/* Record where every key and value of a (valid) JSON text is. */
void conf_posmap_build(struct posmap *pm, const char *text, size_t len);
void conf_posmap_free(struct posmap *pm);
/* Offsets for a path; false when unknown. */
bool conf_posmap_find(const struct posmap *pm, const char *path, size_t *key_off,
		      size_t *val_off);
/* 1-based line and (character) column of an offset. */
void conf_offset_linecol(const char *text, size_t len, size_t off, size_t *line, size_t *col);

/* Names that must be unique, in a hash set: conf_names_add returns the
 * index of the first entry with the same name, or SIZE_MAX (and keeps
 * name, not a copy, as entry i). NULL names are ignored. */
struct conf_name {
	const char *s;
	size_t i;
};
struct conf_names {
	struct conf_name *v;
	size_t n, cap;
};
size_t conf_names_add(struct conf_names *ns, const char *name, size_t i);
/* The index of name's entry, or SIZE_MAX. */
size_t conf_names_find(const struct conf_names *ns, const char *name);
void conf_names_free(struct conf_names *ns);

/* ---- errors.c ------------------------------------------------------------- */

/* Add an error at byte offset off (SIZE_MAX: no place). */
void conf_err_add(struct conf_errs *errs, const struct posmap *pm, size_t off, const char *path,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Add an error at the key (at_key) or value of path. */
void conf_err_at(struct conf_errs *errs, const struct posmap *pm, const char *path, bool at_key,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A warning at the key (at_key) or value of path: printed, not fatal. */
void conf_warn_at(struct conf_errs *errs, const struct posmap *pm, const char *path, bool at_key,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- schema.c / load.c ---------------------------------------------------- */

enum ftype {
	F_STR,      /* char * */
	F_BOOL,     /* bool */
	F_INT,      /* int64_t, within [min, max] */
	F_DURATION, /* int64_t milliseconds */
	F_SIZE,     /* uint64_t bytes */
	F_ENUM,     /* int, index into enums[] */
	F_KVS,      /* struct conf_kvs from an object of strings */
	F_STRS,     /* char ** at off, size_t count at count_off */
	F_SECRET,   /* key names a file holding a credential; its content
		     * (trailing newlines trimmed) goes to off; empty or
		     * whitespace-only is an error */
	F_FILE,     /* key names a file (a template); its content goes to off */
	F_OBJ,      /* nested table at off */
	F_OBJARR,   /* array of objects: pointer at off, size_t count at count_off */
	F_NUM,      /* double, within [min, max] */
	F_TEXT,     /* char *: a string, or a number kept as its text */
};

struct table;

struct field {
	const char *key;
	enum ftype type;
	size_t off;
	bool required;
	const char *def;          /* default, written as the value would be */
	const char *help;
	const struct table *sub;  /* F_OBJ, F_OBJARR */
	size_t elem_size;         /* F_OBJARR */
	size_t count_off;         /* F_OBJARR, F_STRS */
	const char *const *enums; /* F_ENUM, NULL-terminated */
	int64_t min, max;         /* F_INT */
};

struct table {
	const char *name;
	const struct field *fields;
	size_t n;
};

extern const struct table conf_root_table;

/* units.c: read and check the units table named by units.file (errors at
 * units.file, naming the table's file, row and column). */
void conf_units_load(struct conf *c, struct conf_errs *errs, const struct posmap *pm);
void conf_units_free(struct conf_units *t);

/* Walk obj with table t into base; errors go to errs. */
void conf_walk(const struct table *t, json_t *obj, void *base, const char *path,
	       struct conf_errs *errs, const struct posmap *pm);
/* An error at path unless name is a time zone the system knows (NULL: fine). */
void conf_check_tz(const char *name, const char *path, struct conf_errs *errs,
		   const struct posmap *pm);
/* Run the registered PromQL checker (0 when none is registered). */
int conf_check_expr_text(const char *expr, char **cause);
/* The KPI model's own checks of kpis[i] (path), through the registered checker. */
void conf_check_target_runtime(const struct conf_target *t, const char *path,
			       struct conf_errs *errs, const struct posmap *pm);
void conf_check_kpi(const struct conf_kpi *k, const char *path, struct conf_errs *errs,
		    const struct posmap *pm);
/* An error at path unless template t (kind: enum conf_template_kind) is
 * one the template engine expands without error whatever the data. A
 * template of one line is quoted around the action at fault; one read from
 * a file (in_file) names the line and column inside it. */
void conf_check_template(int kind, const char *t, bool in_file, const char *path,
			 struct conf_errs *errs, const struct posmap *pm);
/* Errors at path.NAME for HTTP headers whose name is not a token (RFC 9110)
 * or whose value holds a line break or another control character: sent as
 * they are, they would add headers or requests of their own. */
void conf_check_headers(const struct conf_kvs *h, const char *path, struct conf_errs *errs,
			const struct posmap *pm);
/* ">= 1", "> 0", "<= 5", "< 5", "== 1": 0, or PW_EINVAL. */
int conf_cmp_parse(const char *s, int *cmp, double *v);
/* An error at path unless expr compiles. */
void conf_check_expr(const char *expr, const char *path, struct conf_errs *errs,
		     const struct posmap *pm);
/* The notify section's cross-field checks and defaults (notify.c). */
void conf_validate_notify(struct conf *c, struct conf_errs *errs, const struct posmap *pm);
/* Cross-field checks (validate.c). */
void conf_validate(struct conf *c, struct conf_errs *errs, const struct posmap *pm);

#endif /* PW_CONF_INT_H */
