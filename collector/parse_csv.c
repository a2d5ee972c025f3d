/*
 * parse_csv.c — CSV ledgers: since issue 18 read through the ledger mapping
 * (ledger.c), which gives them Excel's encodings, a header row below a
 * title and Chinese header names. Kept as the entry point its fuzz target
 * and tests use.
 */
#include "collector_int.h"

int csv_apply(const struct conf_csv *csv, const char *body, size_t len, const struct pw_tz *tz,
	      int64_t now_ms, jsonmap_sample_cb cb, void *ctx, size_t *nsamples, char **cause)
{
	return ledger_scrape(csv, "csv", body, len, tz, now_ms, cb, ctx, nsamples, cause);
}
