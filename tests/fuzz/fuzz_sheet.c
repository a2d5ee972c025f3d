/* Fuzz sheet_read: CSV in every encoding and .xlsx workbooks (libzip and
 * expat underneath, our handlers and bounds on top). Every refusal has a
 * cause; every row read has its cells. Then the ledger mapping of the same
 * bytes (collector/ledger.c): header search, dates, numbers, rejections. */
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "common.h"
#include "sheet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ctx, const struct pw_label *l, size_t n, int64_t ts, double v)
{
	(void)ctx, (void)ts, (void)v;
	for (size_t i = 0; i < n; i++)
		if (!l[i].name || !l[i].value)
			abort();
	return 0;
}

/* the columns of tests/fixtures/ledgers/outreach.xlsx */
static void ledger(const uint8_t *data, size_t size)
{
	static struct conf_kv lab[] = {{"county", "县区"}, {"county_code", "县区编码"}};
	static struct conf_kv val[] = {{"outreach_lectures", "宣讲场次"},
				       {"outreach_participants", "参与人数"}};
	static struct conf_csv l = {NULL, "月份", {lab, 2}, {val, 2}, NULL, 0, {NULL, 0}};
	struct ledger_result res;
	char *cause = NULL;
	int rc = ledger_apply(&l, "fuzz", data, size, NULL, 0, sink, NULL, &res, &cause);
	if (rc != 0 && !cause)
		abort();
	if (res.nrejected > 1000 || res.nrejected > res.rejected_total ||
	    res.accepted + res.rejected_rows != res.rows)
		abort();
	free(cause);
	ledger_result_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* small bounds, so that inputs reach them */
	struct sheet_opts o = {.max_rows = 2000, .max_cells = 256};
	struct sheet *s = NULL;
	char *cause = NULL;
	int rc = sheet_read("fuzz", data, size, &o, &s, &cause);
	if (rc != 0) {
		if (!cause || s)
			abort();
		free(cause);
		return 0;
	}
	ledger(data, size);
	for (size_t i = 0; i < s->nrows; i++) {
		if (s->rows[i].n > o.max_cells)
			abort();
		for (size_t k = 0; k < s->rows[i].n; k++)
			if (!s->rows[i].cells[k])
				abort();
	}
	if (s->nrows > o.max_rows)
		abort();
	sheet_free(s);
	return 0;
}
