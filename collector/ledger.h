/*
 * ledger.h — ledgers as staff keep them (docs/ledgers.md): a workbook's or
 * CSV file's rows mapped to samples by a ledger's columns, every wrong cell
 * a rejection with its row, column and why.
 */
#ifndef PW_LEDGER_H
#define PW_LEDGER_H

#include "collector.h"

struct ledger_reject {
	size_t row;      /* as the spreadsheet numbers it */
	char column[8];  /* "D" */
	char *header;    /* the header cell above it */
	char *value;     /* the cell */
	char *error;     /* why */
};

struct ledger_result {
	char *format;            /* what the bytes were read as: xlsx, UTF-8, GB18030, UTF-16 */
	char *sheet;             /* xlsx: the worksheet read */
	size_t header_row;
	size_t rows;             /* rows below the header with a value (not skipped) */
	size_t accepted, skipped, samples;
	struct ledger_reject *rejected; /* the first 1000 */
	size_t nrejected, rejected_total; /* wrong cells: listed, all */
	size_t rejected_rows;             /* rows with a wrong cell */
};

/* Read the file's bytes (name: what messages call it) as ledger l. Calls
 * cb for every sample of an accepted row (labels[0] is __name__, then the
 * ledger's label columns). Returns 0 when the file was read, rejected rows
 * or not (res says); PW_EINVAL or PW_ETOOBIG with *cause when it cannot be
 * read as this ledger (not a spreadsheet, no header row, a bound); or what
 * cb returned. Dates without an offset are local time in tz (NULL: UTC);
 * without timestamp_column, samples get now_ms. Free res with
 * ledger_result_free in every case. */
int ledger_apply(const struct conf_csv *l, const char *name, const void *data, size_t len,
		 const struct pw_tz *tz, int64_t now_ms, jsonmap_sample_cb cb, void *ctx,
		 struct ledger_result *res, char **cause);
void ledger_result_free(struct ledger_result *res);
/* "NAME: row 6, column D "宣讲场次": expected a number, found "三场"" (new) */
char *ledger_reject_text(const char *name, const struct ledger_reject *j);

/* A scrape of a ledger target: 0 when every row was accepted; PW_EINVAL
 * with *cause giving the count of rejected rows and the first of them
 * (the caller stores nothing of it then), or ledger_apply's errors. */
int ledger_scrape(const struct conf_csv *l, const char *name, const void *data, size_t len,
		  const struct pw_tz *tz, int64_t now_ms, jsonmap_sample_cb cb, void *ctx,
		  size_t *nsamples, char **cause);

/* Read a named ledger's file into the store as one batch (docs/ledgers.md,
 * "All or nothing"): labelled job=the ledger's name and its fixed labels;
 * stored (*stored) when no row was rejected, or keep_good. Returns 0 when
 * the file was read (res says what was accepted and rejected); PW_EINVAL
 * or PW_ETOOBIG with *cause when it cannot be read as this ledger; a store
 * error with *cause when the store refused the batch (nothing stored). */
int ledger_import(struct store *s, const struct conf_ledger *l, const char *file, const void *data,
		  size_t len, bool keep_good, int64_t now_ms, struct ledger_result *res,
		  bool *stored, char **cause);

#endif
