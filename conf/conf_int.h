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
	const char *text;
	size_t len;
};

/* Replace comments with spaces (newlines kept), in place. */
void conf_blank_comments(char *text, size_t len);
/* Record where every key and value of a (valid) JSON text is. */
void conf_posmap_build(struct posmap *pm, const char *text, size_t len);
void conf_posmap_free(struct posmap *pm);
/* Offsets for a path; false when unknown. */
bool conf_posmap_find(const struct posmap *pm, const char *path, size_t *key_off,
		      size_t *val_off);
/* 1-based line and (character) column of an offset. */
void conf_offset_linecol(const char *text, size_t len, size_t off, size_t *line, size_t *col);

/* ---- errors.c ------------------------------------------------------------- */

/* Add an error at byte offset off (SIZE_MAX: no place). */
void conf_err_add(struct conf_errs *errs, const struct posmap *pm, size_t off, const char *path,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Add an error at the key (at_key) or value of path. */
void conf_err_at(struct conf_errs *errs, const struct posmap *pm, const char *path, bool at_key,
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
	F_SECRET,   /* key names a file; its content (trimmed) goes to off */
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
