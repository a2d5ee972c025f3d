/* JSON mapping (collector/parse_json.c), data-driven: every file in
 * tests/cases/collector/json/ is one case with a mapping (the "metrics"
 * list of a target), a response, and the expected samples or error.
 * Adding a case is adding a file; see tests/cases/collector/json/README. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "conf.h"

#define CASES PW_SOURCE_DIR "/tests/cases/collector/json"

struct out {
	char **lines;
	size_t n;
};

static int lcmp(const void *a, const void *b)
{
	return strcmp(((const struct pw_label *)a)->name, ((const struct pw_label *)b)->name);
}

static int scmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int on_sample(void *ctx, const struct pw_label *l, size_t n, int64_t ts, double v)
{
	struct out *o = ctx;
	struct pw_label sorted[64];
	struct pw_buf b;
	char num[64];

	memcpy(sorted, l + 1, (n - 1) * sizeof *l);
	qsort(sorted, n - 1, sizeof *sorted, lcmp);
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, l[0].value);
	if (n > 1) {
		pw_buf_putc(&b, '{');
		for (size_t i = 0; i < n - 1; i++)
			pw_buf_printf(&b, "%s%s=\"%s\"", i ? "," : "", sorted[i].name, sorted[i].value);
		pw_buf_putc(&b, '}');
	}
	pw_fmt_float(num, sizeof num, v, PW_FMT_PROM);
	pw_buf_printf(&b, " %s %lld", num, (long long)ts);
	o->lines = realloc(o->lines, (o->n + 1) * sizeof *o->lines);
	o->lines[o->n++] = pw_buf_take(&b);
	return 0;
}

/* Split "--- name" sections. */
static char *section(const char *text, const char *name)
{
	char hdr[64];
	const char *s, *e;
	snprintf(hdr, sizeof hdr, "--- %s\n", name);
	s = strstr(text, hdr);
	if (!s)
		return NULL;
	s += strlen(hdr);
	e = strstr(s, "\n--- ");
	if (!e)
		e = s + strlen(s);
	else
		e++;
	return strndup(s, (size_t)(e - s));
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;
	if (!f)
		return NULL;
	if (getdelim(&buf, &cap, '\0', f) < 0) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static bool run_case(const char *file, char *report, size_t rsz)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", CASES, file);
	char *text = slurp(path);
	char *mapping = section(text, "mapping"), *response = section(text, "response");
	char *expected = section(text, "expected"), *error = section(text, "error");
	char *now_s = section(text, "now"), *tzname = section(text, "timezone");
	struct conf *c = NULL;
	struct conf_errs errs;
	struct jsonmap **maps = NULL;
	struct pw_tz *tz = NULL;
	struct out o = {0};
	char *cause = NULL, *conftext;
	size_t nm = 0, ns = 0;
	bool ok = false;
	int rc = 0;

	if (!mapping || !response || (!expected && !error)) {
		snprintf(report, rsz, "%s: needs --- mapping, --- response and --- expected or --- error",
			 file);
		goto out;
	}
	conftext = xasprintf("{\"targets\": [{\"name\": \"t\", \"url\": \"http://127.0.0.1/\", "
			     "\"metrics\": %s}]}",
			     mapping);
	rc = conf_load_buffer(file, conftext, strlen(conftext), &c, &errs);
	free(conftext);
	if (rc) {
		cause = xstrdup(errs.n ? errs.v[0].msg : "config error");
		conf_errs_free(&errs);
	} else {
		conf_errs_free(&errs);
		maps = calloc(c->targets[0].nmetrics, sizeof *maps);
		for (size_t i = 0; i < c->targets[0].nmetrics && rc == 0; i++) {
			rc = jsonmap_compile(&c->targets[0].metrics[i], &maps[i], &cause);
			if (rc == 0)
				nm++;
		}
	}
	if (rc == 0) {
		char *z = tzname ? strtok(tzname, "\n") : "Asia/Shanghai";
		pw_tz_load(z, &tz, NULL);
		rc = jsonmap_apply(maps, nm, response, strlen(response), tz,
				   now_s ? atoll(now_s) : 1751299140000LL, on_sample, &o, &ns, &cause);
	}
	if (error) {
		char *want = strtok(error, "\n");
		if (rc == 0)
			snprintf(report, rsz, "%s: expected error \"%s\", got %zu samples", file, want, o.n);
		else if (!strstr(cause, want))
			snprintf(report, rsz, "%s: expected error \"%s\", got \"%s\"", file, want, cause);
		else
			ok = true;
		goto out;
	}
	if (rc != 0) {
		snprintf(report, rsz, "%s: unexpected error: %s", file, cause);
		goto out;
	}
	{
		struct pw_buf got, want;
		char *line, *save;
		char **wl = NULL;
		size_t nw = 0;
		pw_buf_init(&got, 0);
		pw_buf_init(&want, 0);
		if (o.n > 1)
			qsort(o.lines, o.n, sizeof *o.lines, scmp);
		for (size_t i = 0; i < o.n; i++)
			pw_buf_printf(&got, "%s\n", o.lines[i]);
		for (line = strtok_r(expected, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (!*line || line[0] == '#')
				continue;
			wl = realloc(wl, (nw + 1) * sizeof *wl);
			wl[nw++] = line;
		}
		if (nw)
			qsort(wl, nw, sizeof *wl, scmp);
		for (size_t i = 0; i < nw; i++)
			pw_buf_printf(&want, "%s\n", wl[i]);
		free(wl);
		ok = strcmp(got.data ? got.data : "", want.data ? want.data : "") == 0 && ns == o.n;
		if (!ok)
			snprintf(report, rsz, "%s:\n--- want\n%s--- got\n%s", file,
				 want.data ? want.data : "", got.data ? got.data : "");
		pw_buf_free(&got);
		pw_buf_free(&want);
	}
out:
	for (size_t i = 0; i < o.n; i++)
		free(o.lines[i]);
	free(o.lines);
	for (size_t i = 0; i < nm; i++)
		jsonmap_free(maps[i]);
	free(maps);
	conf_free(c);
	pw_tz_free(tz);
	free(cause);
	free(text);
	free(mapping);
	free(response);
	free(expected);
	free(error);
	free(now_s);
	free(tzname);
	return ok;
}

Test(parse_json, data_driven_cases)
{
	DIR *d = opendir(CASES);
	struct dirent *e;
	size_t n = 0, failed = 0;
	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char report[8192];
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".case") != 0)
			continue;
		n++;
		if (!run_case(e->d_name, report, sizeof report)) {
			failed++;
			cr_log_error("%s", report);
		}
	}
	closedir(d);
	cr_expect_geq(n, 30, "at least 30 cases, found %zu", n);
	cr_expect_eq(failed, 0, "%zu of %zu cases failed", failed, n);
}

struct tally {
	size_t n;
	double sum;
	bool labels_ok;
};

static int tally_sample(void *ctx, const struct pw_label *l, size_t n, int64_t ts, double v)
{
	struct tally *t = ctx;
	char want[32];
	(void)ts;
	/* element i has id "e<i>" and value i */
	snprintf(want, sizeof want, "e%zu", t->n);
	t->labels_ok &= n == 2 && strcmp(l[1].name, "id") == 0 && strcmp(l[1].value, want) == 0 &&
			v == (double)t->n;
	t->n++;
	t->sum += v;
	return 0;
}

/* A response whose tree takes several of the arena's blocks, applied twice
 * (the second reuses what the first kept), gives every sample each time;
 * jansson values made outside jsonmap_apply live through it and are freed
 * as usual after it. */
Test(parse_json, large_response_twice_and_jansson_around_it)
{
	const char *cfg = "{\"targets\": [{\"name\": \"t\", \"url\": \"http://127.0.0.1/\", "
			  "\"metrics\": [{\"path\": \"$.data[*]\", \"metric\": \"m\", "
			  "\"value\": \"@.v\", \"labels\": {\"id\": \"@.id\"}}]}]}";
	enum { N = 20000 };
	struct conf *c = NULL;
	struct conf_errs errs;
	struct jsonmap *map = NULL;
	struct pw_buf body;
	char *cause = NULL;
	json_t *before = json_pack("{s:[i,s]}", "kept", 1, "across the scrape");
	cr_assert_not_null(before);

	cr_assert_eq(conf_load_buffer("t", cfg, strlen(cfg), &c, &errs), 0);
	conf_errs_free(&errs);
	cr_assert_eq(jsonmap_compile(&c->targets[0].metrics[0], &map, &cause), 0);
	pw_buf_init(&body, 0);
	pw_buf_puts(&body, "{\"data\": [");
	for (size_t i = 0; i < N; i++)
		pw_buf_printf(&body, "%s{\"id\": \"e%zu\", \"v\": %zu, \"pad\": {\"x\": [1, 2, 3]}}",
			      i ? ", " : "", i, i);
	pw_buf_puts(&body, "]}");
	for (int round = 0; round < 2; round++) {
		struct tally t = {0, 0, true};
		size_t ns = 0;
		cr_assert_eq(jsonmap_apply(&map, 1, body.data, body.len, NULL, 1000, tally_sample, &t,
					   &ns, &cause),
			     0, "round %d: %s", round, cause ? cause : "");
		cr_expect_eq(ns, N);
		cr_expect_eq(t.n, N);
		cr_expect(t.labels_ok, "round %d: every sample has its own id and value", round);
		cr_expect_eq(t.sum, (double)N * (N - 1) / 2);
	}
	{
		char *text = json_dumps(before, JSON_COMPACT);
		cr_expect_str_eq(text, "{\"kept\":[1,\"across the scrape\"]}");
		free(text);
	}
	json_decref(before);
	pw_buf_free(&body);
	jsonmap_free(map);
	conf_free(c);
}
