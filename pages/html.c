/*
 * html.c — escaping for HTML and URLs: every label value, title, annotation
 * and error message a page shows goes through pages_esc.
 */
#include "pages_int.h"

#include <string.h>

void pages_esc(struct pw_buf *b, const char *s)
{
	const char *run = s;
	if (!s)
		return;
	for (; *s; s++) {
		const char *e;
		switch (*s) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		default: continue;
		}
		pw_buf_append(b, run, (size_t)(s - run));
		pw_buf_puts(b, e);
		run = s + 1;
	}
	pw_buf_append(b, run, (size_t)(s - run));
}

void pages_url_seg(struct pw_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			pw_buf_putc(b, (char)*p);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			pw_buf_append(b, e, 3);
		}
	}
}

size_t pages_text_width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if ((*p & 0xC0) == 0x80)
			continue;
		w += *p >= 0xE0 ? 2 : 1; /* CJK and most of the BMP above U+0800 are wide */
	}
	return w;
}
