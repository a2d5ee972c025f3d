/*
 * cli_ledger.c — `pacewatch import-ledger`: a ledger file (docs/ledgers.md)
 * into the store as one batch, or sent to a running pacewatch's
 * POST /api/v1/ledgers/NAME. One line per rejection and a summary on
 * standard error; exit 0 when stored, 1 when not, 2 for a usage error.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "conf.h"
#include "daemon.h"
#include "collector.h"
#include "store.h"

#define MAX_LEDGER_FILE (256u << 20)

static const char usage_text[] =
	"pacewatch: import-ledger: usage: import-ledger -c FILE [--storage DIR] [--keep-good] NAME PATH\n"
	"       or: import-ledger -c FILE --url URL [--bearer-token-file F] [--keep-good] NAME PATH\n";

static void summary(const char *file, size_t accepted, size_t rejected, size_t skipped,
		    size_t header, size_t samples, bool stored, bool keep_good)
{
	fprintf(stderr, "%s: %zu row%s accepted, %zu rejected, %zu skipped (header row %zu); ", file,
		accepted, accepted == 1 ? "" : "s", rejected, skipped, header);
	if (stored)
		fprintf(stderr, "%zu samples stored\n", samples);
	else if (rejected && !keep_good)
		fprintf(stderr, "nothing was stored (--keep-good stores the accepted rows)\n");
	else
		fprintf(stderr, "nothing was stored\n");
}

/* --url: the file to a running pacewatch; its answer as lines */
static int send_url(const char *url, const char *token_file, const char *name, const char *path,
		    const char *data, size_t len, bool keep_good)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = NULL;
	struct pw_buf body;
	char *esc = curl_easy_escape(c, name, 0), *full, *token = NULL;
	long code = 0;
	CURLcode cc;
	json_t *j;
	json_error_t je;
	int rc = 1;

	pw_buf_init(&body, 64u << 20);
	full = xasprintf("%s/api/v1/ledgers/%s%s", url, esc, keep_good ? "?keep_good=1" : "");
	curl_free(esc);
	hdr = curl_slist_append(hdr, "Content-Type: application/octet-stream");
	if (token_file) {
		size_t tl;
		if (pw_read_file(token_file, 4096, &token, &tl) != 0) {
			fprintf(stderr, "pacewatch: %s: cannot read the bearer token\n", token_file);
			goto out;
		}
		while (tl && (token[tl - 1] == '\n' || token[tl - 1] == '\r'))
			token[--tl] = '\0';
		char *h = xasprintf("Authorization: Bearer %s", token);
		hdr = curl_slist_append(hdr, h);
		free(h);
	}
	cc = cli_http_post(c, full, data, len, hdr, &body, &code);
	if (cc != CURLE_OK) {
		fprintf(stderr, "pacewatch: %s: %s\n", full, curl_easy_strerror(cc));
		goto out;
	}
	j = json_loadb(body.data ? body.data : "", body.len, 0, &je);
	if (!j) {
		fprintf(stderr, "pacewatch: %s: HTTP %ld: %.*s\n", full, code, (int)(body.len > 500 ? 500 : body.len),
			body.data ? body.data : "");
		goto out;
	}
	json_t *d = json_object_get(j, "data");
	const char *err = json_string_value(json_object_get(j, "error"));
	if (d) {
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(d, "rejected"), i, r)
			fprintf(stderr, "%s: row %lld, column %s \"%s\": %s\n", path,
				(long long)json_integer_value(json_object_get(r, "row")),
				json_string_value(json_object_get(r, "column")),
				json_string_value(json_object_get(r, "header")),
				json_string_value(json_object_get(r, "error")));
		size_t total = (size_t)json_integer_value(json_object_get(d, "rejectedTotal"));
		if (total > json_array_size(json_object_get(d, "rejected")))
			fprintf(stderr, "%s: and %zu more rejections\n", path,
				total - json_array_size(json_object_get(d, "rejected")));
		bool stored = json_is_true(json_object_get(d, "stored"));
		summary(path, (size_t)json_integer_value(json_object_get(d, "accepted")),
			(size_t)json_integer_value(json_object_get(d, "rejectedRows")),
			(size_t)json_integer_value(json_object_get(d, "skipped")),
			(size_t)json_integer_value(json_object_get(d, "headerRow")),
			(size_t)json_integer_value(json_object_get(d, "samples")), stored, keep_good);
		rc = stored ? 0 : 1;
	} else {
		fprintf(stderr, "pacewatch: %s: HTTP %ld: %s\n", path, code, err ? err : "no answer");
	}
	json_decref(j);
out:
	free(token);
	free(full);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	pw_buf_free(&body);
	return rc;
}

int cmd_import_ledger(int argc, char **argv)
{
	static const struct option lo[] = {{"config", required_argument, 0, 'c'},
					   {"storage", required_argument, 0, 's'},
					   {"url", required_argument, 0, 'u'},
					   {"bearer-token-file", required_argument, 0, 'b'},
					   {"keep-good", no_argument, 0, 'k'},
					   {0, 0, 0, 0}};
	const char *cfg = NULL, *storage = NULL, *url = NULL, *token = NULL, *name, *path;
	bool keep_good = false, stored = false;
	struct conf *conf = NULL;
	struct conf_errs errs;
	const struct conf_ledger *l = NULL;
	char *data = NULL, *cause = NULL;
	size_t len = 0;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:s:u:b:k", lo, NULL)) != -1) {
		switch (c) {
		case 'c': cfg = optarg; break;
		case 's': storage = optarg; break;
		case 'u': url = optarg; break;
		case 'b': token = optarg; break;
		case 'k': keep_good = true; break;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (!cfg || optind != argc - 2 || (url && storage)) {
		fputs(usage_text, stderr);
		return 2;
	}
	name = argv[optind];
	path = argv[optind + 1];
	if (conf_load(cfg, &conf, &errs) != 0) {
		conf_errs_print(&errs, stderr);
		conf_errs_free(&errs);
		return 1;
	}
	conf_errs_free(&errs);
	for (size_t i = 0; i < conf->nledgers; i++)
		if (strcmp(conf->ledgers[i].name, name) == 0)
			l = &conf->ledgers[i];
	if (!l) {
		fprintf(stderr, "pacewatch: import-ledger: %s configures no ledger \"%s\"", cfg, name);
		for (size_t i = 0; i < conf->nledgers; i++)
			fprintf(stderr, "%s\"%s\"", i ? ", " : " (it has ", conf->ledgers[i].name);
		fprintf(stderr, "%s\n", conf->nledgers ? ")" : " (it has no ledgers)");
		conf_free(conf);
		return 2;
	}
	if ((rc = pw_read_file(path, MAX_LEDGER_FILE, &data, &len)) != 0) {
		fprintf(stderr, "pacewatch: %s: %s\n", path,
			rc == PW_ETOOBIG ? "larger than 256 MiB, more than a ledger may be" : strerror(-rc));
		conf_free(conf);
		return 1;
	}
	if (url) {
		rc = send_url(url, token, name, path, data, len, keep_good);
	} else {
		struct store_opts so = {0};
		struct store *st = NULL;
		struct ledger_result res;
		so.path = storage ? storage : conf->storage.path;
		so.max_map_size = conf->storage.max_size;
		so.max_series = (uint64_t)conf->storage.max_series;
		so.no_sync = !conf->storage.sync;
		if ((rc = store_open(&so, &st, &cause)) != 0) {
			fprintf(stderr, "pacewatch: %s: %s\n", so.path, cause ? cause : pw_strerror(rc));
			free(cause);
			free(data);
			conf_free(conf);
			return 1;
		}
		rc = ledger_import(st, l, path, data, len, keep_good, pw_now_ms(),
				   (size_t)conf->global.label_value_length_limit, &res, &stored, &cause);
		if (rc != 0) {
			fprintf(stderr, "%s%s; nothing was stored\n", cause ? "" : "pacewatch: ",
				cause ? cause : pw_strerror(rc));
		} else {
			for (size_t i = 0; i < res.nrejected; i++) {
				char *t = ledger_reject_text(path, &res.rejected[i]);
				fprintf(stderr, "%s\n", t);
				free(t);
			}
			if (res.rejected_total > res.nrejected)
				fprintf(stderr, "%s: and %zu more rejections\n", path,
					res.rejected_total - res.nrejected);
			summary(path, res.accepted, res.rejected_rows, res.skipped, res.header_row,
				res.samples, stored, keep_good);
		}
		ledger_result_free(&res);
		free(cause);
		store_close(st);
		rc = stored ? 0 : 1;
	}
	free(data);
	conf_free(conf);
	return rc;
}
