/*
 * metrics.c — the /metrics exposition, streamed: the newest sample of every
 * live series (stale-marked ones are left out), grouped by metric name with
 * HELP and TYPE from the stored metadata, in text format 0.0.4 or
 * OpenMetrics 1.0.0, produced a block at a time from one read snapshot so
 * memory stays flat however many series there are.
 */
#include "exporters_int.h"

#include <stdlib.h>
#include <string.h>

struct expo {
	struct store_snap *snap;
	struct store_latest_iter *it;
	bool openmetrics, timestamps, done;
	char *prefix;        /* pacewatch's own metrics, written first */
	char last_name[512];
	bool family_counter_total; /* OpenMetrics: the family's samples end in _total */
};

struct expo *expo_new(struct store_snap *snap, bool openmetrics, bool timestamps, char *prefix)
{
	struct expo *e = xcalloc(1, sizeof *e);
	e->snap = snap;
	e->openmetrics = openmetrics;
	e->timestamps = timestamps;
	e->prefix = prefix;
	if (store_latest_iter_new(snap, &e->it) != 0)
		e->done = true;
	return e;
}

void expo_free(struct expo *e)
{
	if (!e)
		return;
	store_latest_iter_free(e->it);
	store_snap_end(e->snap);
	free(e->prefix);
	free(e);
}

void expo_escape(struct pw_buf *b, const char *s, bool quote)
{
	const char *run = s;
	for (; *s; s++) {
		const char *rep = NULL;
		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (quote && *s == '"')
			rep = "\\\"";
		if (rep) {
			pw_buf_append(b, run, (size_t)(s - run));
			pw_buf_puts(b, rep);
			run = s + 1;
		}
	}
	pw_buf_append(b, run, (size_t)(s - run));
}

static void family_header(struct expo *e, struct pw_buf *b, const char *name)
{
	struct store_meta m;
	bool have = store_meta_get(e->snap, name, &m) == 0;
	size_t nl = strlen(name);
	const char *type = have ? store_type_name(m.type) : NULL;
	char family[512];

	snprintf(family, sizeof family, "%s", name);
	e->family_counter_total = false;
	if (e->openmetrics) {
		/* OpenMetrics names a counter family without its _total */
		if (have && m.type == STORE_TYPE_COUNTER) {
			if (nl > 6 && strcmp(name + nl - 6, "_total") == 0) {
				family[nl - 6] = '\0';
				e->family_counter_total = true;
			} else {
				type = "unknown";
			}
		}
		if (have && m.type != STORE_TYPE_COUNTER && m.type != STORE_TYPE_GAUGE)
			type = "unknown"; /* our samples are not grouped as it wants */
		if (!have)
			type = "unknown";
	} else if (have && m.type != STORE_TYPE_COUNTER && m.type != STORE_TYPE_GAUGE) {
		type = "untyped";
	}
	if (have && m.help[0]) {
		pw_buf_printf(b, "# HELP %s ", family);
		expo_escape(b, m.help, false);
		pw_buf_putc(b, '\n');
	} else {
		/* scrapers and linters expect one; say plainly there was none */
		pw_buf_printf(b, "# HELP %s No HELP text was given for this metric.\n", family);
	}
	if (type && (have || e->openmetrics) && strcmp(type, "unknown") != 0)
		pw_buf_printf(b, "# TYPE %s %s\n", family, type);
	else if (type && e->openmetrics)
		pw_buf_printf(b, "# TYPE %s unknown\n", family);
	if (e->openmetrics && have && m.unit[0] && e->family_counter_total == false &&
	    strlen(family) > strlen(m.unit) &&
	    strcmp(family + strlen(family) - strlen(m.unit), m.unit) == 0)
		pw_buf_printf(b, "# UNIT %s %s\n", family, m.unit);
}

void expo_sample(struct pw_buf *b, const struct pw_label *ls, size_t nl, double v, bool with_ts,
		 int64_t ts, bool openmetrics)
{
	char num[64];

	pw_buf_puts(b, ls[0].value);
	if (nl > 1) {
		pw_buf_putc(b, '{');
		for (size_t i = 1; i < nl; i++) {
			if (i > 1)
				pw_buf_putc(b, ',');
			pw_buf_puts(b, ls[i].name);
			pw_buf_puts(b, "=\"");
			expo_escape(b, ls[i].value, true);
			pw_buf_putc(b, '"');
		}
		pw_buf_putc(b, '}');
	}
	pw_fmt_float(num, sizeof num, v, PW_FMT_PROM);
	pw_buf_putc(b, ' ');
	pw_buf_puts(b, num);
	if (with_ts) {
		if (openmetrics)
			pw_buf_printf(b, " %lld.%03lld", (long long)(ts / 1000),
				      (long long)(ts % 1000 < 0 ? -(ts % 1000) : ts % 1000));
		else
			pw_buf_printf(b, " %lld", (long long)ts);
	}
	pw_buf_putc(b, '\n');
}

bool expo_fill(struct expo *e, struct pw_buf *out, size_t want)
{
	if (e->prefix) {
		pw_buf_puts(out, e->prefix);
		free(e->prefix);
		e->prefix = NULL;
	}
	while (!e->done && out->len < want) {
		struct store_series s;
		struct pw_label ls[260];
		int64_t ts;
		double v;
		size_t nl;
		int rc = store_latest_iter_next(e->it, &s, &ts, &v);

		if (rc <= 0) {
			e->done = true;
			break;
		}
		if (store_is_stale_nan(v))
			continue; /* the series went away */
		nl = store_series_labels(&s, ls, 260);
		if (nl > 260)
			nl = 260;
		if (strcmp(ls[0].value, e->last_name) != 0) {
			snprintf(e->last_name, sizeof e->last_name, "%s", ls[0].value);
			family_header(e, out, ls[0].value);
		}
		expo_sample(out, ls, nl, v, e->timestamps, ts, e->openmetrics);
	}
	if (e->done && e->openmetrics) {
		pw_buf_puts(out, "# EOF\n");
		e->openmetrics = false; /* once */
		return false;
	}
	return !e->done;
}
