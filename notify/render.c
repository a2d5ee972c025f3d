/*
 * render.c — what the renderers share (render_email.c, render_tmpl.c,
 * render_json.c): the labels and annotations common to a notification's
 * alerts, Go's RFC 3339 time, URL query escaping (alert.c's generatorURL
 * too). Flow: alert → route → group → [render] → outbox → transport.
 */
#include "notify_int.h"

#include <string.h>

void go_time(char *dst, size_t sz, int64_t ms)
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int frac = (int)(ms - secs * 1000);
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int64_t rem = secs - days * 86400, y;
	unsigned mo, d;
	pw_civil_from_days(days, &y, &mo, &d);
	if (ms == 0 && sz > 20) {
		snprintf(dst, sz, "0001-01-01T00:00:00Z");
		return;
	}
	int n = snprintf(dst, sz, "%04lld-%02u-%02uT%02d:%02d:%02d", (long long)y, mo, d,
			 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	if (frac && n > 0 && (size_t)n < sz) {
		char f[8];
		snprintf(f, sizeof f, ".%03d", frac);
		for (int i = 3; i > 0 && f[i] == '0'; i--)
			f[i] = '\0';
		n += snprintf(dst + n, sz - (size_t)n, "%s", f);
	}
	if (n > 0 && (size_t)n < sz)
		snprintf(dst + n, sz - (size_t)n, "Z");
}

void url_escape(struct pw_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || *p == '.' || *p == '~')
			pw_buf_putc(b, (char)*p);
		else
			pw_buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
}

/* the labels (ann: annotations) every alert of a has with the same value, in
 * a[0]'s order, borrowing a[0]'s strings; *out: how many */
struct pw_label *render_common(struct nalert *const *a, size_t n, bool ann, size_t *out)
{
	struct pw_label *c = NULL;
	*out = 0;
	if (!n)
		return NULL;
	const struct pw_lset *s0 = ann ? a[0]->ann : a[0]->labels;
	size_t n0 = s0->n;
	const struct pw_label *l0 = s0->l;
	c = xcalloc(n0 + 1, sizeof *c);
	for (size_t i = 0; i < n0; i++) {
		bool all = true;
		for (size_t j = 1; j < n && all; j++) {
			const char *v = ann ? nalert_ann(a[j], l0[i].name) : nalert_label(a[j], l0[i].name);
			all = v && strcmp(v, l0[i].value) == 0;
		}
		if (all)
			c[(*out)++] = l0[i];
	}
	return c;
}
