/*
 * lex.c — the lexical pre-pass over a configuration file: comments become
 * spaces (newlines kept, so jansson's line/column stay right), an
 * unterminated comment or nesting deeper than CONF_MAX_DEPTH is refused
 * (the scan below and jansson recurse per level), and every
 * key's and value's byte offset is recorded under its path
 * ("targets[2].url"), since jansson's values carry no positions.
 */
#include "conf_int.h"

#include <stdlib.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

size_t conf_lex_check(char *t, size_t len, const char **why)
{
	size_t i = 0, depth = 0;

	while (i < len) {
		if (t[i] == '"') { /* skip a string */
			i++;
			while (i < len && t[i] != '"') {
				if (t[i] == '\\' && i + 1 < len)
					i++;
				i++;
			}
			i++;
		} else if (t[i] == '#' || (t[i] == '/' && i + 1 < len && t[i + 1] == '/')) {
			while (i < len && t[i] != '\n')
				t[i++] = ' ';
		} else if (t[i] == '/' && i + 1 < len && t[i + 1] == '*') {
			size_t open = i;
			t[i++] = ' ';
			t[i++] = ' ';
			while (i < len && !(t[i] == '*' && i + 1 < len && t[i + 1] == '/')) {
				if (t[i] != '\n')
					t[i] = ' ';
				i++;
			}
			if (i >= len) {
				*why = "unterminated /* comment: it runs to the end of the file";
				return open;
			}
			t[i++] = ' ';
			t[i++] = ' ';
		} else if (t[i] == '{' || t[i] == '[') {
			if (++depth > CONF_MAX_DEPTH) {
				*why = "nested more than " STR(CONF_MAX_DEPTH) " levels deep";
				return i;
			}
			i++;
		} else if (t[i] == '}' || t[i] == ']') {
			if (depth)
				depth--;
			i++;
		} else {
			i++;
		}
	}
	return SIZE_MAX;
}

/* every CK_STEP bytes, the line and column there: any offset's line and
 * column are then a short scan away, whatever the length of its line */
#define CK_STEP 4096

void conf_posmap_init(struct posmap *pm, const char *text, size_t len)
{
	size_t l = 1, c = 1;

	memset(pm, 0, sizeof *pm);
	pm->text = text;
	pm->len = len;
	pm->nck = len / CK_STEP + 1;
	pm->ck = xcalloc(pm->nck, sizeof *pm->ck);
	for (size_t i = 0; i <= len; i++) {
		if (i % CK_STEP == 0) {
			pm->ck[i / CK_STEP].line = l;
			pm->ck[i / CK_STEP].col = c;
		}
		if (i == len)
			break;
		if (text[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			c++;
		}
	}
}

void conf_posmap_linecol(const struct posmap *pm, size_t off, size_t *line, size_t *col)
{
	size_t l, c, i;

	if (off > pm->len)
		off = pm->len;
	if (!pm->ck) {
		conf_offset_linecol(pm->text, pm->len, off, line, col);
		return;
	}
	i = off / CK_STEP * CK_STEP;
	l = pm->ck[off / CK_STEP].line;
	c = pm->ck[off / CK_STEP].col;
	for (; i < off; i++) {
		if (pm->text[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)pm->text[i] & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static void pm_add(struct posmap *pm, const char *path, size_t key_off, size_t val_off)
{
	if (pm->n == pm->cap) {
		pm->cap = pm->cap ? pm->cap * 2 : 64;
		pm->v = xreallocarray(pm->v, pm->cap, sizeof *pm->v);
	}
	pm->v[pm->n].path = xstrdup(path);
	pm->v[pm->n].key_off = key_off;
	pm->v[pm->n].val_off = val_off;
	pm->n++;
}

struct scan {
	struct posmap *pm;
	const char *t;
	size_t len, i;
};

static void ws(struct scan *s)
{
	while (s->i < s->len && (s->t[s->i] == ' ' || s->t[s->i] == '\t' || s->t[s->i] == '\n' ||
				 s->t[s->i] == '\r'))
		s->i++;
}

/* Read a JSON string at s->i into out (raw bytes between quotes, escapes
 * decoded only for \" and \\, enough for key names). */
static void read_str(struct scan *s, struct pw_buf *out)
{
	s->i++; /* quote */
	while (s->i < s->len && s->t[s->i] != '"') {
		if (s->t[s->i] == '\\' && s->i + 1 < s->len) {
			s->i++;
			if (out)
				pw_buf_putc(out, s->t[s->i]);
		} else if (out) {
			pw_buf_putc(out, s->t[s->i]);
		}
		s->i++;
	}
	s->i++;
}

static void scan_value(struct scan *s, const char *path, size_t key_off)
{
	ws(s);
	if (s->i >= s->len)
		return;
	pm_add(s->pm, path, key_off, s->i);
	if (s->t[s->i] == '{') {
		s->i++;
		for (;;) {
			struct pw_buf key, sub;
			size_t koff;
			ws(s);
			if (s->i >= s->len || s->t[s->i] == '}') {
				s->i++;
				return;
			}
			if (s->t[s->i] == ',') {
				s->i++;
				continue;
			}
			if (s->t[s->i] != '"') {
				s->i++;
				continue; /* not valid JSON; jansson reports it */
			}
			koff = s->i;
			pw_buf_init(&key, 0);
			read_str(s, &key);
			ws(s);
			if (s->i < s->len && s->t[s->i] == ':')
				s->i++;
			pw_buf_init(&sub, 0);
			if (*path)
				pw_buf_printf(&sub, "%s.%s", path, key.data ? key.data : "");
			else
				pw_buf_puts(&sub, key.data ? key.data : "");
			scan_value(s, sub.data, koff);
			pw_buf_free(&sub);
			pw_buf_free(&key);
		}
	} else if (s->t[s->i] == '[') {
		size_t idx = 0;
		s->i++;
		for (;;) {
			ws(s);
			if (s->i >= s->len || s->t[s->i] == ']') {
				s->i++;
				return;
			}
			if (s->t[s->i] == ',') {
				s->i++;
				continue;
			}
			{
				char *sub = xasprintf("%s[%zu]", path, idx++);
				scan_value(s, sub, s->i);
				free(sub);
			}
		}
	} else if (s->t[s->i] == '"') {
		read_str(s, NULL);
	} else {
		size_t start = s->i;
		/* strchr finds the terminator too: a NUL byte ends a scalar */
		while (s->i < s->len && s->t[s->i] && !strchr(",}] \t\r\n", s->t[s->i]))
			s->i++;
		if (s->i == start)
			s->i++; /* not valid JSON (jansson says so); never stand still */
	}
}

void conf_posmap_build(struct posmap *pm, const char *text, size_t len)
{
	struct scan s = {pm, text, len, 0};
	pm->text = text;
	pm->len = len;
	scan_value(&s, "", 0);
	/* a hash index over the paths: a lookup per error or per key must
	 * not scan every path (that made loading quadratic) */
	pm->hcap = 16;
	while (pm->hcap < pm->n * 2)
		pm->hcap *= 2;
	pm->hidx = xmalloc(pm->hcap * sizeof *pm->hidx);
	for (size_t k = 0; k < pm->hcap; k++)
		pm->hidx[k] = SIZE_MAX;
	for (size_t i = 0; i < pm->n; i++) {
		size_t h = (size_t)pw_hash64(pm->v[i].path, strlen(pm->v[i].path)) & (pm->hcap - 1);
		bool dup = false;
		while (pm->hidx[h] != SIZE_MAX && !dup) {
			dup = strcmp(pm->v[pm->hidx[h]].path, pm->v[i].path) == 0;
			h = (h + 1) & (pm->hcap - 1);
		}
		if (!dup) /* the first place of a path wins */
			pm->hidx[h] = i;
	}
}

void conf_posmap_free(struct posmap *pm)
{
	for (size_t i = 0; i < pm->n; i++)
		free(pm->v[i].path);
	free(pm->v);
	free(pm->hidx);
	free(pm->ck);
	memset(pm, 0, sizeof *pm);
}

bool conf_posmap_find(const struct posmap *pm, const char *path, size_t *key_off, size_t *val_off)
{
	size_t h;

	if (!pm || !pm->hidx)
		return false;
	h = (size_t)pw_hash64(path, strlen(path)) & (pm->hcap - 1);
	for (; pm->hidx[h] != SIZE_MAX; h = (h + 1) & (pm->hcap - 1)) {
		const struct posmap_ent *e = &pm->v[pm->hidx[h]];
		if (strcmp(e->path, path) == 0) {
			*key_off = e->key_off;
			*val_off = e->val_off;
			return true;
		}
	}
	return false;
}

size_t conf_names_add(struct conf_names *ns, const char *name, size_t i)
{
	size_t h;

	if (!name)
		return SIZE_MAX;
	if ((ns->n + 1) * 2 > ns->cap) {
		struct conf_name *old = ns->v;
		size_t ocap = ns->cap;
		ns->cap = ns->cap ? ns->cap * 2 : 16;
		ns->v = xcalloc(ns->cap, sizeof *ns->v);
		for (size_t k = 0; k < ocap; k++) {
			if (!old[k].s)
				continue;
			h = (size_t)pw_hash64(old[k].s, strlen(old[k].s)) & (ns->cap - 1);
			while (ns->v[h].s)
				h = (h + 1) & (ns->cap - 1);
			ns->v[h] = old[k];
		}
		free(old);
	}
	h = (size_t)pw_hash64(name, strlen(name)) & (ns->cap - 1);
	for (; ns->v[h].s; h = (h + 1) & (ns->cap - 1))
		if (strcmp(ns->v[h].s, name) == 0)
			return ns->v[h].i;
	ns->v[h].s = name;
	ns->v[h].i = i;
	ns->n++;
	return SIZE_MAX;
}

size_t conf_names_find(const struct conf_names *ns, const char *name)
{
	size_t h;

	if (!name || !ns->cap)
		return SIZE_MAX;
	h = (size_t)pw_hash64(name, strlen(name)) & (ns->cap - 1);
	for (; ns->v[h].s; h = (h + 1) & (ns->cap - 1))
		if (strcmp(ns->v[h].s, name) == 0)
			return ns->v[h].i;
	return SIZE_MAX;
}

void conf_names_free(struct conf_names *ns)
{
	free(ns->v);
	memset(ns, 0, sizeof *ns);
}

void conf_offset_linecol(const char *text, size_t len, size_t off, size_t *line, size_t *col)
{
	size_t l = 1, c = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}
