/*
 * api_json.c — the query API's JSON answers, written within the query's
 * limits: the buffer is charged to the query's account (query.max_bytes,
 * in query.max_bytes_total) before it grows, and writing stops at the
 * query's deadline, which covers encoding too. api.c sends what these
 * write; tests/unit/exporters/test_api_json.c holds them to their limits.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* t (ms) as seconds with up to three decimals, at o (32 bytes room) */
static size_t put_unix_time(char *o, int64_t t)
{
	/* unsigned: -INT64_MIN is no int64 */
	uint64_t u = t < 0 ? -(uint64_t)t : (uint64_t)t, s = u / 1000;
	unsigned ms = (unsigned)(u % 1000);
	char tmp[24];
	size_t n = 0, k = 0;
	if (t < 0)
		o[n++] = '-';
	do
		tmp[k++] = (char)('0' + s % 10);
	while ((s /= 10) != 0);
	while (k)
		o[n++] = tmp[--k];
	if (ms) {
		o[n++] = '.';
		o[n++] = (char)('0' + ms / 100);
		o[n++] = (char)('0' + ms / 10 % 10);
		o[n++] = (char)('0' + ms % 10);
	}
	return n;
}

static void json_unix_time(struct pw_buf *b, int64_t t)
{
	char o[32];
	pw_buf_append(b, o, put_unix_time(o, t));
}


bool jout_reserve(struct jout *j, size_t extra)
{
	size_t need, ncap;
	if (j->failed)
		return false;
	if (extra > SIZE_MAX / 4 - j->b.len)
		extra = SIZE_MAX / 4 - j->b.len; /* refused below */
	need = j->b.len + extra + 1;
	if (need <= j->b.cap)
		return true;
	ncap = j->b.cap ? j->b.cap : 4096;
	while (ncap < need)
		ncap *= 2;
	if (query_mem_charge(j->m, ncap - j->b.cap, &j->err) != 0) {
		j->failed = true;
		return false;
	}
	j->b.data = xrealloc(j->b.data, ncap);
	j->b.cap = ncap;
	return true;
}

/* past the deadline (looked at every 256 calls, or now)? */
bool jout_late_now(struct jout *j, bool now)
{
	if (j->failed)
		return true;
	if ((now || (++j->ticks & 255) == 0) && pw_mono_ns() > j->deadline_ns) {
		j->failed = true;
		j->err.type = QUERY_ERR_TIMEOUT;
		j->err.msg = xstrdup("query timed out in result encoding");
		j->err.pos = -1;
	}
	return j->failed;
}

bool jout_late(struct jout *j) { return jout_late_now(j, false); }


void jout_puts(struct jout *j, const char *s)
{
	size_t n = strlen(s);
	if (jout_reserve(j, n))
		pw_buf_append(&j->b, s, n);
}

/* a label set as a JSON object: at most 6 bytes a byte (\u00XX) */
void jout_labels(struct jout *j, const struct pw_label *l, size_t n)
{
	size_t need = 2;
	for (size_t i = 0; i < n; i++)
		need += 6 * (strlen(l[i].name) + strlen(l[i].value)) + 6;
	if (jout_reserve(j, need))
		pw_buf_json_labels(&j->b, l, n);
}

/* [t,"v"], after a comma when comma: written in place, no printf */
static void jout_point_after(struct jout *j, int64_t t, double v, bool comma)
{
	char *o;
	size_t k = 0;
	/* ,[, 32 for the time, ,", 400 for the value, "] */
	if (!jout_reserve(j, 440))
		return;
	o = j->b.data + j->b.len;
	if (comma)
		o[k++] = ',';
	o[k++] = '[';
	k += put_unix_time(o + k, t);
	o[k++] = ',';
	o[k++] = '"';
	k += pw_fmt_float(o + k, 400, v, PW_FMT_GO_F);
	o[k++] = '"';
	o[k++] = ']';
	j->b.len += k;
	j->b.data[j->b.len] = '\0';
}

void jout_point(struct jout *j, int64_t t, double v) { jout_point_after(j, t, v, false); }

void jout_string(struct jout *j, const char *s)
{
	if (jout_reserve(j, 6 * strlen(s) + 2))
		pw_buf_json_string(&j->b, s);
}

void api_write_result(struct jout *j, const struct query_result *r)
{
	char head[64];
	snprintf(head, sizeof head, "{\"resultType\":\"%s\",\"result\":", query_type_name(r->type));
	jout_puts(j, head);
	switch (r->type) {
	case QUERY_SCALAR:
		jout_point(j, r->t, r->scalar);
		break;
	case QUERY_STRING:
		if (jout_reserve(j, 32)) {
			pw_buf_putc(&j->b, '[');
			json_unix_time(&j->b, r->t);
			pw_buf_putc(&j->b, ',');
		}
		jout_string(j, r->str);
		jout_puts(j, "]");
		break;
	default:
		jout_puts(j, "[");
		for (size_t i = 0; i < r->nseries && !jout_late(j); i++) {
			const struct query_series *s = &r->series[i];
			jout_puts(j, i ? ",{\"metric\":" : "{\"metric\":");
			jout_labels(j, s->labels, s->nlabels);
			if (r->type == QUERY_VECTOR) {
				jout_puts(j, ",\"value\":");
				jout_point(j, s->pts[0].t, s->pts[0].v);
			} else {
				jout_puts(j, ",\"values\":[");
				/* a tick a point: the clock is read every 256
				 * points, however the points fall into series */
				for (size_t k = 0; k < s->n && !jout_late(j); k++)
					jout_point_after(j, s->pts[k].t, s->pts[k].v, k > 0);
				jout_puts(j, "]");
			}
			jout_puts(j, "}");
		}
		jout_puts(j, "]");
	}
	jout_puts(j, "}");
}
