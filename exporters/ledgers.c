/*
 * ledgers.c — POST /api/v1/ledgers/NAME (docs/ledgers.md, docs/http.md):
 * the body is a ledger file, read as the configured ledger NAME and stored
 * as one batch when no row is rejected (or keep_good=1). The answer, in
 * the Prometheus API's envelope, lists every rejected row and column.
 */
#include "exporters_int.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collector.h"

static enum MHD_Result reply(struct httpd *h, struct MHD_Connection *c, int path, unsigned code,
			     struct pw_buf *b)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len = b->len;
	char *data = pw_buf_take(b);
	r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	count(h, path, code);
	return ret;
}

static enum MHD_Result fail(struct httpd *h, struct MHD_Connection *c, int path, unsigned code,
			    const char *type, const char *msg)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_buf_printf(&b, "{\"status\":\"error\",\"errorType\":\"%s\",\"error\":", type);
	pw_buf_json_string(&b, msg);
	pw_buf_putc(&b, '}');
	return reply(h, c, path, code, &b);
}

static void result_json(struct pw_buf *b, const char *name, const struct ledger_result *res,
			bool stored)
{
	pw_buf_puts(b, "{\"ledger\":");
	pw_buf_json_string(b, name);
	pw_buf_puts(b, ",\"format\":");
	pw_buf_json_string(b, res->format ? res->format : "");
	if (res->sheet) {
		pw_buf_puts(b, ",\"sheet\":");
		pw_buf_json_string(b, res->sheet);
	}
	pw_buf_printf(b,
		      ",\"headerRow\":%zu,\"rows\":%zu,\"accepted\":%zu,\"skipped\":%zu,"
		      "\"samples\":%zu,\"stored\":%s,\"rejectedRows\":%zu,\"rejectedTotal\":%zu,"
		      "\"rejected\":[",
		      res->header_row, res->rows, res->accepted, res->skipped, res->samples,
		      stored ? "true" : "false", res->rejected_rows, res->rejected_total);
	for (size_t i = 0; i < res->nrejected; i++) {
		const struct ledger_reject *j = &res->rejected[i];
		pw_buf_printf(b, "%s{\"row\":%zu,\"column\":\"%s\",\"header\":", i ? "," : "", j->row,
			      j->column);
		pw_buf_json_string(b, j->header);
		pw_buf_puts(b, ",\"value\":");
		pw_buf_json_string(b, j->value);
		pw_buf_puts(b, ",\"error\":");
		pw_buf_json_string(b, j->error);
		pw_buf_putc(b, '}');
	}
	pw_buf_puts(b, "]}");
}

enum MHD_Result serve_ledger(struct httpd *h, struct MHD_Connection *c, int path, const char *url,
			     struct req *rq)
{
	const char *name = url + strlen("/api/v1/ledgers/");
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	const char *kg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "keep_good");
	const struct conf_ledger *l = NULL;
	struct ledger_result res;
	bool keep_good = kg && (strcmp(kg, "1") == 0 || strcasecmp(kg, "true") == 0);
	bool stored = false;
	char *cause = NULL, *msg, *file;
	struct pw_buf b;
	enum MHD_Result ret;
	int rc;

	if (rq->too_big) {
		char m[160];
		snprintf(m, sizeof m, "request body larger than http.max_request_size (%llu bytes)",
			 (unsigned long long)h->max_body);
		return fail(h, c, path, 413, "bad_data", m);
	}
	for (size_t i = 0; i < h->conf->nledgers; i++)
		if (strcmp(h->conf->ledgers[i].name, name) == 0)
			l = &h->conf->ledgers[i];
	if (!l) {
		char esc[160];
		pw_esc(esc, sizeof esc, name, strlen(name));
		msg = xasprintf("no ledger \"%s\" is configured (ledgers[].name)", esc);
		ret = fail(h, c, path, 404, "not_found", msg);
		free(msg);
		return ret;
	}
	if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0)
		return fail(h, c, path, 400, "bad_data",
			    "a form upload is not read: send the file itself as the body "
			    "(curl --data-binary @FILE)");
	file = xasprintf("ledger %s", l->name);
	rc = ledger_import(h->store, l, file, rq->body.data ? rq->body.data : "", rq->body.len,
			   keep_good, pw_now_ms(), (size_t)h->conf->global.label_value_length_limit,
			   &res, &stored, &cause);
	free(file);
	if (rc != 0) {
		bool store = rc != PW_EINVAL && rc != PW_ETOOBIG;
		ret = fail(h, c, path, store ? 503 : 400, store ? "unavailable" : "bad_data",
			   cause ? cause : pw_strerror(rc));
		free(cause);
		ledger_result_free(&res);
		return ret;
	}
	pw_buf_init(&b, 0);
	if (stored || !res.rejected_rows) {
		pw_buf_puts(&b, "{\"status\":\"success\",\"data\":");
		result_json(&b, l->name, &res, stored);
		pw_buf_putc(&b, '}');
		ret = reply(h, c, path, 200, &b);
	} else {
		msg = xasprintf("%zu row%s rejected; nothing was stored (keep_good=1 stores the %zu "
				"good row%s)",
				res.rejected_rows, res.rejected_rows == 1 ? "" : "s", res.accepted,
				res.accepted == 1 ? "" : "s");
		pw_buf_puts(&b, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":");
		pw_buf_json_string(&b, msg);
		pw_buf_puts(&b, ",\"data\":");
		result_json(&b, l->name, &res, stored);
		pw_buf_putc(&b, '}');
		free(msg);
		ret = reply(h, c, path, 422, &b);
	}
	free(cause);
	ledger_result_free(&res);
	return ret;
}
