/*
 * load.c — reads a configuration file: blank comments, parse with jansson,
 * walk the field tables (schema.c) over the JSON values, then check
 * cross-field rules (validate.c). Unknown keys, wrong types and bad values
 * are all collected with their positions before the file is refused.
 */
#include "conf_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define AT(base, off, type) ((type *)((char *)(base) + (off)))

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static size_t lev(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];
	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t d = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			cur[j] = d;
		}
		memcpy(prev, cur, (lb + 1) * sizeof *prev);
	}
	return prev[lb];
}

static char *join(const char *path, const char *key)
{
	return *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
}

/* Directory of the file being loaded: relative *_file paths are read from
 * there, as Prometheus does. */
static _Thread_local const char *base_dir;

static char *read_secret(const char *name, char **cause)
{
	char *joined = name[0] != '/' && base_dir ? xasprintf("%s/%s", base_dir, name) : NULL;
	char *text = NULL;
	size_t len = 0;
	int rc = pw_read_file(joined ? joined : name, 1 << 20, &text, &len);

	free(joined);
	if (rc) {
		*cause = rc == PW_ETOOBIG ? xasprintf("\"%s\" is larger than 1 MiB", name)
					  : xasprintf("cannot read \"%s\": %s", name, pw_strerror(rc));
		return NULL;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	return text;
}

static char *scalar_text(json_t *v)
{
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	if (json_is_real(v)) {
		char b[64];
		pw_fmt_float(b, sizeof b, json_real_value(v), PW_FMT_PROM);
		return xstrdup(b);
	}
	if (json_is_boolean(v))
		return xstrdup(json_is_true(v) ? "true" : "false");
	return NULL;
}

/* "\"a\", \"b\", \"c\"" for error messages (new string). */
static char *enum_list(const char *const *e)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	for (size_t i = 0; e[i]; i++)
		pw_buf_printf(&b, "%s\"%s\"", i ? ", " : "", e[i]);
	return pw_buf_take(&b);
}

/* ---- one value into its field, by field type ------------------------------ */

/* Each conv_* stores v at dst, or reports why it cannot at path and leaves
 * the field as it was. */

static void conv_str(const char *const *enums, json_t *v, char **dst, const char *path,
		     struct conf_errs *errs, const struct posmap *pm)
{
	if (!json_is_string(v)) {
		conf_err_at(errs, pm, path, false, "expected a string, found %s", json_kind(v));
		return;
	}
	if (enums) {
		bool ok = false;
		for (size_t i = 0; enums[i]; i++)
			ok |= strcmp(enums[i], json_string_value(v)) == 0;
		if (!ok) {
			char *list = enum_list(enums);
			conf_err_at(errs, pm, path, false, "expected one of %s, found \"%s\"", list,
				    json_string_value(v));
			free(list);
			return;
		}
	}
	free(*dst);
	*dst = xstrdup(json_string_value(v));
}

static void conv_bool(json_t *v, bool *dst, const char *path, struct conf_errs *errs,
		      const struct posmap *pm)
{
	if (!json_is_boolean(v)) {
		conf_err_at(errs, pm, path, false, "expected true or false, found %s", json_kind(v));
		return;
	}
	*dst = json_is_true(v);
}

static void conv_int(const struct field *f, json_t *v, int64_t *dst, const char *path,
		     struct conf_errs *errs, const struct posmap *pm)
{
	if (!json_is_integer(v)) {
		conf_err_at(errs, pm, path, false, "expected an integer, found %s", json_kind(v));
		return;
	}
	if (json_integer_value(v) < f->min || json_integer_value(v) > f->max) {
		conf_err_at(errs, pm, path, false, "expected an integer from %lld to %lld, found %lld",
			    (long long)f->min, (long long)f->max, (long long)json_integer_value(v));
		return;
	}
	*dst = json_integer_value(v);
}

static void conv_num(const struct field *f, json_t *v, double *dst, const char *path,
		     struct conf_errs *errs, const struct posmap *pm)
{
	if (!json_is_number(v)) {
		conf_err_at(errs, pm, path, false, "expected a number, found %s", json_kind(v));
		return;
	}
	if (json_number_value(v) < (double)f->min || json_number_value(v) > (double)f->max) {
		conf_err_at(errs, pm, path, false, "expected a number from %lld to %lld, found %g",
			    (long long)f->min, (long long)f->max, json_number_value(v));
		return;
	}
	*dst = json_number_value(v);
}

/* a string, or a number kept as the text Prometheus would print */
static void conv_text(json_t *v, char **dst, const char *path, struct conf_errs *errs,
		      const struct posmap *pm)
{
	char num[64];
	if (!json_is_string(v) && !json_is_number(v)) {
		conf_err_at(errs, pm, path, false, "expected a number or a string, found %s",
			    json_kind(v));
		return;
	}
	if (json_is_number(v))
		pw_fmt_float(num, sizeof num, json_number_value(v), PW_FMT_PROM);
	free(*dst);
	*dst = xstrdup(json_is_number(v) ? num : json_string_value(v));
}

static void conv_duration(json_t *v, int64_t *dst, const char *path, struct conf_errs *errs,
			  const struct posmap *pm)
{
	int64_t ms;
	if (!json_is_string(v) || pw_parse_duration(json_string_value(v), &ms) != 0) {
		conf_err_at(errs, pm, path, false,
			    "expected a duration such as \"90s\", \"15m\" or \"1h30m\", found %s%s%s",
			    json_is_string(v) ? "\"" : "",
			    json_is_string(v) ? json_string_value(v) : json_kind(v),
			    json_is_string(v) ? "\"" : "");
		return;
	}
	*dst = ms;
}

static void conv_size(json_t *v, uint64_t *dst, const char *path, struct conf_errs *errs,
		      const struct posmap *pm)
{
	uint64_t n;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*dst = (uint64_t)json_integer_value(v);
		return;
	}
	if (!json_is_string(v) || pw_parse_size(json_string_value(v), &n) != 0) {
		conf_err_at(errs, pm, path, false,
			    "expected a size such as \"512MiB\", \"16MB\" or a number of bytes, found %s%s%s",
			    json_is_string(v) ? "\"" : "",
			    json_is_string(v) ? json_string_value(v) : json_kind(v),
			    json_is_string(v) ? "\"" : "");
		return;
	}
	*dst = n;
}

/* the index of the name in enums */
static void conv_enum(const char *const *enums, json_t *v, int *dst, const char *path,
		      struct conf_errs *errs, const struct posmap *pm)
{
	char *list;
	if (json_is_string(v)) {
		for (size_t i = 0; enums[i]; i++) {
			if (strcmp(enums[i], json_string_value(v)) == 0) {
				*dst = (int)i;
				return;
			}
		}
	}
	list = enum_list(enums);
	conf_err_at(errs, pm, path, false, "expected one of %s", list);
	free(list);
}

/* an object of names to strings or numbers, appended to kv */
static void conv_kvs(json_t *v, struct conf_kvs *kv, const char *path, struct conf_errs *errs,
		     const struct posmap *pm)
{
	const char *k;
	json_t *x;
	if (!json_is_object(v)) {
		conf_err_at(errs, pm, path, false, "expected an object of names to values, found %s",
			    json_kind(v));
		return;
	}
	json_object_foreach(v, k, x) {
		char *t = scalar_text(x);
		if (!t) {
			char *p = join(path, k);
			conf_err_at(errs, pm, p, false, "expected a string or number, found %s",
				    json_kind(x));
			free(p);
			continue;
		}
		kv->v = xreallocarray(kv->v, kv->n + 1, sizeof *kv->v);
		kv->v[kv->n].name = xstrdup(k);
		kv->v[kv->n++].value = t;
	}
}

/* a list of strings replacing *arr (*cnt of them); elements that are not
 * strings are reported and left out */
static void conv_strs(json_t *v, char ***arr, size_t *cnt, const char *path,
		      struct conf_errs *errs, const struct posmap *pm)
{
	size_t i;
	json_t *x;
	if (!json_is_array(v)) {
		conf_err_at(errs, pm, path, false, "expected a list of strings, found %s",
			    json_kind(v));
		return;
	}
	for (size_t k = 0; k < *cnt; k++)
		free((*arr)[k]);
	free(*arr);
	*arr = xcalloc(json_array_size(v) + 1, sizeof **arr);
	*cnt = 0;
	json_array_foreach(v, i, x) {
		if (!json_is_string(x)) {
			char *p = xasprintf("%s[%zu]", path, i);
			conf_err_at(errs, pm, p, false, "expected a string, found %s", json_kind(x));
			free(p);
			continue;
		}
		(*arr)[(*cnt)++] = xstrdup(json_string_value(x));
	}
}

/* Nothing but spaces, tabs and line ends? */
static bool blank(const char *s)
{
	return s[strspn(s, " \t\r\n\v\f")] == '\0';
}

/* the content of the file v names; a credential (F_SECRET) may not be
 * empty: an empty token or password would let in whoever sends an empty
 * one. The content is never part of a message. */
static void conv_secret(const struct field *f, json_t *v, char **dst, const char *path,
			struct conf_errs *errs, const struct posmap *pm)
{
	char *s, *cause = NULL;
	if (!json_is_string(v)) {
		conf_err_at(errs, pm, path, false, "expected a file name, found %s", json_kind(v));
		return;
	}
	s = read_secret(json_string_value(v), &cause);
	if (!s) {
		conf_err_at(errs, pm, path, false, "%s", cause);
		free(cause);
		return;
	}
	if (f->type == F_SECRET && blank(s)) {
		conf_err_at(errs, pm, path, true,
			    "\"%s\" is empty or holds only white space: an empty credential would "
			    "be accepted from anyone; put the secret in the file or remove %s",
			    json_string_value(v), f->key);
		free(s);
		return;
	}
	free(*dst);
	*dst = s;
}

/* a list of objects, each walked with f->sub into a new array at base */
static void conv_objarr(const struct field *f, json_t *v, void *base, const char *path,
			struct conf_errs *errs, const struct posmap *pm)
{
	void **arr = AT(base, f->off, void *);
	size_t *cnt = AT(base, f->count_off, size_t);
	size_t i;
	json_t *x;
	if (!json_is_array(v)) {
		conf_err_at(errs, pm, path, false, "expected a list of objects, found %s",
			    json_kind(v));
		return;
	}
	*arr = xcalloc(json_array_size(v) + 1, f->elem_size);
	*cnt = json_array_size(v);
	json_array_foreach(v, i, x) {
		char *p = xasprintf("%s[%zu]", path, i);
		void *elem = (char *)*arr + i * f->elem_size;
		if (!json_is_object(x))
			conf_err_at(errs, pm, p, false, "expected an object, found %s", json_kind(x));
		else
			conf_walk(f->sub, x, elem, p, errs, pm);
		free(p);
	}
}

/* The value v of field f into its place in base (path names it). */
static void convert(const struct field *f, json_t *v, void *base, const char *path,
		    struct conf_errs *errs, const struct posmap *pm)
{
	switch (f->type) {
	case F_STR: conv_str(f->enums, v, AT(base, f->off, char *), path, errs, pm); return;
	case F_BOOL: conv_bool(v, AT(base, f->off, bool), path, errs, pm); return;
	case F_INT: conv_int(f, v, AT(base, f->off, int64_t), path, errs, pm); return;
	case F_NUM: conv_num(f, v, AT(base, f->off, double), path, errs, pm); return;
	case F_TEXT: conv_text(v, AT(base, f->off, char *), path, errs, pm); return;
	case F_DURATION: conv_duration(v, AT(base, f->off, int64_t), path, errs, pm); return;
	case F_SIZE: conv_size(v, AT(base, f->off, uint64_t), path, errs, pm); return;
	case F_ENUM: conv_enum(f->enums, v, AT(base, f->off, int), path, errs, pm); return;
	case F_KVS: conv_kvs(v, AT(base, f->off, struct conf_kvs), path, errs, pm); return;
	case F_STRS:
		conv_strs(v, AT(base, f->off, char **), AT(base, f->count_off, size_t), path, errs,
			  pm);
		return;
	case F_SECRET:
	case F_FILE: conv_secret(f, v, AT(base, f->off, char *), path, errs, pm); return;
	case F_OBJ:
		if (!json_is_object(v)) {
			conf_err_at(errs, pm, path, false, "expected an object, found %s", json_kind(v));
			return;
		}
		conf_walk(f->sub, v, (char *)base + f->off, path, errs, pm);
		return;
	case F_OBJARR: conv_objarr(f, v, base, path, errs, pm); return;
	}
}

static void apply_default(const struct field *f, void *base, const char *path,
			  struct conf_errs *errs)
{
	json_t *v;
	json_error_t je;

	if (f->type == F_OBJ) {
		json_t *empty = json_object();
		conf_walk(f->sub, empty, (char *)base + f->off, path, errs, NULL);
		json_decref(empty);
		return;
	}
	if (!f->def)
		return;
	v = json_loads(f->def, JSON_DECODE_ANY, &je);
	if (!v) {
		conf_err_add(errs, NULL, SIZE_MAX, path, "internal: bad default %s", f->def);
		return;
	}
	convert(f, v, base, path, errs, NULL);
	json_decref(v);
}

void conf_walk(const struct table *t, json_t *obj, void *base, const char *path,
	       struct conf_errs *errs, const struct posmap *pm)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		const struct field *f = NULL;
		for (size_t i = 0; i < t->n; i++)
			if (strcmp(t->fields[i].key, key) == 0)
				f = &t->fields[i];
		if (!f) {
			const char *best = NULL;
			size_t bd = 99;
			char *p = join(path, key);
			for (size_t i = 0; i < t->n; i++) {
				size_t d = lev(key, t->fields[i].key);
				if (d < bd) {
					bd = d;
					best = t->fields[i].key;
				}
			}
			if (best && bd <= 3)
				conf_err_at(errs, pm, p, true, "unknown key \"%s\"; did you mean \"%s\"?", key,
					    best);
			else
				conf_err_at(errs, pm, p, true, "unknown key \"%s\"%s%s", key,
					    *t->name ? " in " : "", t->name);
			free(p);
		}
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct field *f = &t->fields[i];
		char *p = join(path, f->key);
		v = json_object_get(obj, f->key);
		if (v && !json_is_null(v))
			convert(f, v, base, p, errs, pm);
		else if (f->required && pm)
			conf_err_at(errs, pm, p, false, "missing required key \"%s\"", f->key);
		else
			apply_default(f, base, p, errs);
		free(p);
	}
}

/* ---- freeing, through the same tables --------------------------------- */

static void free_fields(const struct table *t, void *base)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct field *f = &t->fields[i];
		switch (f->type) {
		case F_STR:
		case F_TEXT:
		case F_SECRET:
		case F_FILE:
			free(*AT(base, f->off, char *));
			break;
		case F_KVS: {
			struct conf_kvs *kv = AT(base, f->off, struct conf_kvs);
			for (size_t k = 0; k < kv->n; k++) {
				free(kv->v[k].name);
				free(kv->v[k].value);
			}
			free(kv->v);
			break;
		}
		case F_STRS: {
			char **arr = *AT(base, f->off, char **);
			size_t n = *AT(base, f->count_off, size_t);
			for (size_t k = 0; k < n; k++)
				free(arr[k]);
			free(arr);
			break;
		}
		case F_OBJ:
			free_fields(f->sub, (char *)base + f->off);
			break;
		case F_OBJARR: {
			char *arr = *AT(base, f->off, char *);
			size_t n = *AT(base, f->count_off, size_t);
			for (size_t k = 0; arr && k < n; k++)
				free_fields(f->sub, arr + k * f->elem_size);
			free(arr);
			break;
		}
		default:
			break;
		}
	}
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nkpis; i++) {
		free(c->kpis[i].milestone_ms);
		free(c->kpis[i].roster_units.attr);
	}
	conf_units_free(&c->units);
	free_fields(&conf_root_table, c);
	free(c->path);
	free(c);
}

struct conf *conf_defaults(void)
{
	struct conf *c = xcalloc(1, sizeof *c);
	struct conf_errs errs = {0};
	json_t *empty = json_object();

	conf_walk(&conf_root_table, empty, c, "", &errs, NULL);
	json_decref(empty);
	conf_errs_free(&errs);
	return c;
}

/* the error for a configuration of size bytes, over CONF_MAX_SIZE */
static void too_big(struct conf_errs *errs, size_t size)
{
	conf_err_add(errs, NULL, SIZE_MAX, "",
		     "the configuration is %zu bytes, larger than %u MiB: refused unread",
		     size, CONF_MAX_SIZE >> 20);
}

int conf_load_buffer(const char *name, const char *buf, size_t len, struct conf **out,
		     struct conf_errs *errs)
{
	char *text;
	struct posmap pm = {0};
	json_error_t je;
	json_t *root;
	struct conf *c;
	const char *why = NULL;
	size_t bad_off;

	*out = NULL;
	memset(errs, 0, sizeof *errs);
	errs->file = xstrdup(name);
	if (len > CONF_MAX_SIZE) {
		too_big(errs, len);
		return PW_ETOOBIG;
	}
	text = xmalloc(len + 1);
	memcpy(text, buf, len);
	text[len] = '\0';
	bad_off = conf_lex_check(text, len, &why);
	conf_posmap_init(&pm, text, len);
	if (bad_off != SIZE_MAX) {
		conf_err_add(errs, &pm, bad_off, "", "%s", why);
		conf_posmap_free(&pm);
		free(text);
		return PW_EINVAL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		size_t off = (size_t)je.position;
		/* jansson points just past the bad token; step back onto it */
		if (off > 0 && off <= len)
			off--;
		/* on a string (a duplicate key), point at its opening quote */
		if (off < len && text[off] == '"' && off > 0) {
			size_t q = off - 1;
			while (q > 0 && !(text[q] == '"' && text[q - 1] != '\\'))
				q--;
			if (text[q] == '"')
				off = q;
		}
		conf_err_add(errs, &pm, off, "", "%s", je.text);
		conf_posmap_free(&pm);
		free(text);
		return PW_EINVAL;
	}
	if (!json_is_object(root)) {
		conf_err_add(errs, &pm, 0, "", "expected an object at the top of the file, found %s",
			     json_kind(root));
		json_decref(root);
		conf_posmap_free(&pm);
		free(text);
		return PW_EINVAL;
	}
	conf_posmap_build(&pm, text, len);
	c = xcalloc(1, sizeof *c);
	c->path = xstrdup(name);
	{
		char *dir = xstrdup(name), *slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			base_dir = dir;
		}
		conf_walk(&conf_root_table, root, c, "", errs, &pm);
		base_dir = NULL;
		free(dir);
	}
	json_decref(root);
	conf_validate(c, errs, &pm); /* also after errors: report everything at once */
	conf_posmap_free(&pm);
	free(text);
	if (errs->n) {
		conf_free(c);
		return PW_EINVAL;
	}
	*out = c;
	return 0;
}

int conf_load(const char *path, struct conf **out, struct conf_errs *errs)
{
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	int rc;

	memset(errs, 0, sizeof *errs);
	*out = NULL;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > CONF_MAX_SIZE) {
		errs->file = xstrdup(path);
		too_big(errs, (size_t)st.st_size);
		return PW_ETOOBIG;
	}
	rc = pw_read_file(path, CONF_MAX_SIZE, &text, &len);
	if (rc) {
		errs->file = xstrdup(path);
		if (rc == PW_ETOOBIG)
			conf_err_add(errs, NULL, SIZE_MAX, "",
				     "the configuration is larger than %u MiB: refused",
				     CONF_MAX_SIZE >> 20);
		else
			conf_err_add(errs, NULL, SIZE_MAX, "", "cannot read the configuration: %s",
				     pw_strerror(rc));
		return rc;
	}
	rc = conf_load_buffer(path, text, len, out, errs);
	free(text);
	return rc;
}

/* ---- documentation rows ------------------------------------------------- */

static const char *ftype_name(const struct field *f)
{
	switch (f->type) {
	case F_STR: return "string";
	case F_BOOL: return "boolean";
	case F_INT: return "integer";
	case F_NUM: return "number";
	case F_TEXT: return "number or string";
	case F_DURATION: return "duration";
	case F_SIZE: return "size";
	case F_ENUM: return "enum";
	case F_KVS: return "map";
	case F_STRS: return "list of strings";
	case F_SECRET:
	case F_FILE: return "file";
	case F_OBJ: return "object";
	case F_OBJARR: return "list of objects";
	}
	return "?";
}

static struct conf_key_doc *docs;
static size_t ndocs;

static void flatten(const struct table *t, const char *prefix)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct field *f = &t->fields[i];
		char *p = *prefix ? xasprintf("%s.%s", prefix, f->key) : xstrdup(f->key);
		docs = xreallocarray(docs, ndocs + 1, sizeof *docs);
		docs[ndocs].path = p;
		docs[ndocs].type = ftype_name(f);
		docs[ndocs].def = f->def ? f->def : (f->required ? "required" : "");
		docs[ndocs].help = f->help ? f->help : "";
		ndocs++;
		if (f->sub == t)
			; /* a recursive table (routes): its keys are the ones listed */
		else if (f->type == F_OBJ)
			flatten(f->sub, p);
		else if (f->type == F_OBJARR) {
			char *q = xasprintf("%s[]", p);
			flatten(f->sub, q);
			free(q);
		}
	}
}

bool conf_key_doc(size_t i, struct conf_key_doc *out)
{
	if (!docs)
		flatten(&conf_root_table, "");
	if (i >= ndocs)
		return false;
	*out = docs[i];
	return true;
}
