/*
 * lex.c — the lexical pre-pass over a configuration file: comments become
 * spaces (newlines kept, so jansson's line/column stay right), and every
 * key's and value's byte offset is recorded under its path
 * ("targets[2].url"), since jansson's values carry no positions.
 */
#include "conf_int.h"

#include <stdlib.h>
#include <string.h>

void conf_blank_comments(char *t, size_t len)
{
	size_t i = 0;

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
			t[i++] = ' ';
			t[i++] = ' ';
			while (i < len && !(t[i] == '*' && i + 1 < len && t[i + 1] == '/')) {
				if (t[i] != '\n')
					t[i] = ' ';
				i++;
			}
			if (i < len) {
				t[i++] = ' ';
				t[i++] = ' ';
			}
		} else {
			i++;
		}
	}
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
}

void conf_posmap_free(struct posmap *pm)
{
	for (size_t i = 0; i < pm->n; i++)
		free(pm->v[i].path);
	free(pm->v);
	memset(pm, 0, sizeof *pm);
}

bool conf_posmap_find(const struct posmap *pm, const char *path, size_t *key_off, size_t *val_off)
{
	if (!pm)
		return false;
	for (size_t i = 0; i < pm->n; i++) {
		if (strcmp(pm->v[i].path, path) == 0) {
			*key_off = pm->v[i].key_off;
			*val_off = pm->v[i].val_off;
			return true;
		}
	}
	return false;
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
