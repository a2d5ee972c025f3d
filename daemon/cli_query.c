/*
 * cli_query.c — `pacewatch query`: evaluate PromQL against a store
 * directory, or against a running pacewatch (or Prometheus) over its HTTP
 * API, and print the result for people.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "daemon.h"
#include "query.h"
#include "store.h"

static void print_labels(const char *name, const struct pw_label *l, size_t n)
{
	bool first = true;
	if (name)
		fputs(name, stdout);
	fputc('{', stdout);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(l[i].name, "__name__") == 0)
			continue;
		printf("%s%s=\"", first ? "" : ", ", l[i].name);
		for (const char *p = l[i].value; *p; p++) {
			if (*p == '"' || *p == '\\')
				fputc('\\', stdout);
			if (*p == '\n')
				fputs("\\n", stdout);
			else
				fputc(*p, stdout);
		}
		fputc('"', stdout);
		first = false;
	}
	fputc('}', stdout);
}

static void print_point(int64_t t, const char *v)
{
	char ts[64];
	pw_fmt_time(ts, sizeof ts, t);
	printf("%s @ %s", v, ts);
}

static const char *name_of(const struct pw_label *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].name, "__name__") == 0)
			return l[i].value;
	return NULL;
}

static void print_result(const struct query_result *r)
{
	char v[400];
	switch (r->type) {
	case QUERY_SCALAR:
		pw_fmt_float(v, sizeof v, r->scalar, PW_FMT_GO_F);
		fputs("scalar ", stdout);
		print_point(r->t, v);
		fputc('\n', stdout);
		return;
	case QUERY_STRING:
		printf("string \"%s\" @ %lld\n", r->str, (long long)r->t);
		return;
	default:
		break;
	}
	for (size_t i = 0; i < r->nseries; i++) {
		const struct query_series *s = &r->series[i];
		print_labels(name_of(s->labels, s->nlabels), s->labels, s->nlabels);
		if (r->type == QUERY_VECTOR) {
			pw_fmt_float(v, sizeof v, s->pts[0].v, PW_FMT_GO_F);
			fputs(" => ", stdout);
			print_point(s->pts[0].t, v);
			fputc('\n', stdout);
			continue;
		}
		fputc('\n', stdout);
		for (size_t j = 0; j < s->n; j++) {
			pw_fmt_float(v, sizeof v, s->pts[j].v, PW_FMT_GO_F);
			fputs("  ", stdout);
			print_point(s->pts[j].t, v);
			fputc('\n', stdout);
		}
	}
	if (r->nseries == 0)
		puts("(empty result)");
}

/* ---- over HTTP ------------------------------------------------------------------- */

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
	struct pw_buf *b = ud;
	return pw_buf_append(b, p, sz * n) == 0 ? sz * n : 0;
}

CURLcode cli_http_post(CURL *c, const char *url, const void *data, size_t len,
		       struct curl_slist *hdr, struct pw_buf *body, long *code)
{
	CURLcode cc;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	if (hdr)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	return cc;
}

static int64_t json_time(json_t *t)
{
	return (int64_t)(json_number_value(t) * 1000 + (json_number_value(t) >= 0 ? 0.5 : -0.5));
}

static void print_json_labels(json_t *metric)
{
	const char *k;
	json_t *v;
	struct pw_label l[128];
	size_t n = 0;
	json_object_foreach(metric, k, v)
	{
		if (n < 128) {
			l[n].name = k;
			l[n++].value = json_string_value(v) ? json_string_value(v) : "";
		}
	}
	print_labels(name_of(l, n), l, n);
}

static int query_url(const char *url, const char *expr, const char *t, const char *start,
		     const char *end, const char *step)
{
	CURL *c = curl_easy_init();
	struct pw_buf body, form;
	char *e = curl_easy_escape(c, expr, 0), *full;
	long code = 0;
	int rc = 1;
	json_t *doc = NULL, *data, *res;
	json_error_t je;
	CURLcode cc;

	pw_buf_init(&body, 64 << 20);
	pw_buf_init(&form, 0);
	pw_buf_printf(&form, "query=%s", e);
	curl_free(e);
	if (start)
		pw_buf_printf(&form, "&start=%s&end=%s&step=%s", start, end, step);
	else if (t)
		pw_buf_printf(&form, "&time=%s", t);
	full = xasprintf("%s/api/v1/%s", url, start ? "query_range" : "query");
	cc = cli_http_post(c, full, form.data, form.len, NULL, &body, &code);
	if (cc != CURLE_OK) {
		fprintf(stderr, "pacewatch: query: %s: %s\n", full, curl_easy_strerror(cc));
		goto out;
	}
	doc = json_loadb(body.data ? body.data : "", body.len, 0, &je);
	if (!doc) {
		fprintf(stderr, "pacewatch: query: %s: HTTP %ld, not JSON: %s\n", full, code, je.text);
		goto out;
	}
	if (strcmp(json_string_value(json_object_get(doc, "status")) ?: "", "success") != 0) {
		fprintf(stderr, "pacewatch: query: %s (HTTP %ld): %s\n",
			json_string_value(json_object_get(doc, "errorType")) ?: "error", code,
			json_string_value(json_object_get(doc, "error")) ?: "");
		goto out;
	}
	data = json_object_get(doc, "data");
	res = json_object_get(data, "result");
	{
		const char *type = json_string_value(json_object_get(data, "resultType")) ?: "";
		size_t i;
		json_t *s;
		if (strcmp(type, "scalar") == 0 || strcmp(type, "string") == 0) {
			printf("%s ", type);
			print_point(json_time(json_array_get(res, 0)),
				    json_string_value(json_array_get(res, 1)) ?: "");
			fputc('\n', stdout);
		} else {
			json_array_foreach(res, i, s)
			{
				json_t *val = json_object_get(s, "value"), *vals, *p;
				size_t j;
				print_json_labels(json_object_get(s, "metric"));
				if (val) {
					fputs(" => ", stdout);
					print_point(json_time(json_array_get(val, 0)),
						    json_string_value(json_array_get(val, 1)) ?: "");
					fputc('\n', stdout);
					continue;
				}
				fputc('\n', stdout);
				vals = json_object_get(s, "values");
				json_array_foreach(vals, j, p)
				{
					fputs("  ", stdout);
					print_point(json_time(json_array_get(p, 0)),
						    json_string_value(json_array_get(p, 1)) ?: "");
					fputc('\n', stdout);
				}
			}
			if (json_array_size(res) == 0)
				puts("(empty result)");
		}
	}
	rc = 0;
out:
	json_decref(doc);
	free(full);
	pw_buf_free(&body);
	pw_buf_free(&form);
	curl_easy_cleanup(c);
	return rc;
}

/* a step: a duration ("15s") or seconds ("15", "0.5") */
static int parse_step(const char *s, int64_t *ms)
{
	double d;
	if (pw_parse_duration(s, ms) == 0)
		return 0;
	if (!pw_number(s, &d) || !(d > 0) || d > 1e12)
		return PW_EINVAL;
	*ms = (int64_t)(d * 1000 + 0.5);
	return 0;
}

int cmd_query(int argc, char **argv)
{
	static const struct option lo[] = {{"storage", required_argument, 0, 's'},
					   {"url", required_argument, 0, 'u'},
					   {"time", required_argument, 0, 't'},
					   {"start", required_argument, 0, 'a'},
					   {"end", required_argument, 0, 'b'},
					   {"step", required_argument, 0, 'p'},
					   {"lookback-delta", required_argument, 0, 'l'},
					   {"timeout", required_argument, 0, 'T'},
					   {"timezone", required_argument, 0, 'z'},
					   {0, 0, 0, 0}};
	const char *storage = NULL, *url = NULL, *ts = NULL, *ss = NULL, *es = NULL, *ps = NULL;
	const char *zone = NULL;
	struct query_opts qo = {0};
	int64_t t = pw_now_ms(), start = 0, end = 0, step = 0;
	int c, rc;
	struct store *st = NULL;
	struct store_opts so = {0};
	struct query_result *r = NULL;
	struct query_error err = {0};
	char *cause = NULL;
	const char *expr;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:u:t:a:b:p:l:T:z:", lo, NULL)) != -1) {
		switch (c) {
		case 'z': zone = optarg; break;
		case 's': storage = optarg; break;
		case 'u': url = optarg; break;
		case 't': ts = optarg; break;
		case 'a': ss = optarg; break;
		case 'b': es = optarg; break;
		case 'p': ps = optarg; break;
		case 'l':
		case 'T':
			if (pw_parse_duration(optarg, c == 'l' ? &qo.lookback_ms : &qo.timeout_ms)) {
				fprintf(stderr, "pacewatch: query: --%s: invalid duration \"%s\"\n",
					c == 'l' ? "lookback-delta" : "timeout", optarg);
				return 2;
			}
			break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || (!storage == !url)) {
		fprintf(stderr, "pacewatch: query: %s\n",
			!storage == !url ? "give one of --storage DIR and --url URL"
			: optind == argc ? "no EXPR given" : "give one EXPR (quote it)");
		return 2;
	}
	expr = argv[optind];
	if ((ss || es || ps) && !(ss && es && ps)) {
		fprintf(stderr, "pacewatch: query: a range query needs --start, --end and --step\n");
		return 2;
	}
	if ((ts && cli_time("query", "--time", ts, zone, &t) != 0) ||
	    (ss && (cli_time("query", "--start", ss, zone, &start) != 0 ||
		    cli_time("query", "--end", es, zone, &end) != 0)))
		return 2;
	if (ps && parse_step(ps, &step) != 0) {
		fprintf(stderr, "pacewatch: query: --step: invalid step \"%s\"\n", ps);
		return 2;
	}
	if (url) {
		char a[32], b[32], s[32], tt[32];
		snprintf(a, sizeof a, "%.3f", (double)start / 1000);
		snprintf(b, sizeof b, "%.3f", (double)end / 1000);
		snprintf(s, sizeof s, "%.3f", (double)step / 1000);
		snprintf(tt, sizeof tt, "%.3f", (double)t / 1000);
		return query_url(url, expr, tt, ss ? a : NULL, b, s);
	}
	so.path = storage;
	so.read_only = true;
	if ((rc = store_open(&so, &st, &cause)) != 0) {
		fprintf(stderr, "pacewatch: %s: %s\n", storage, cause ? cause : pw_strerror(rc));
		free(cause);
		return 1;
	}
	rc = ss ? query_range(st, &qo, expr, start, end, step, &r, &err)
		: query_instant(st, &qo, expr, t, &r, &err);
	if (rc != 0) {
		fprintf(stderr, "pacewatch: query: %s: %s\n", query_errtype_name(err.type), err.msg);
		if (err.pos >= 0) {
			char *caret = query_caret(expr, err.pos);
			fprintf(stderr, "%s\n", caret);
			free(caret);
		}
		query_error_clear(&err);
		store_close(st);
		return 1;
	}
	print_result(r);
	query_result_free(r);
	store_close(st);
	return 0;
}
