/*
 * sheet_int.h — what the files of sheet/ share.
 */
#ifndef PW_SHEET_INT_H
#define PW_SHEET_INT_H

#include "sheet.h"

/* s[0..n) without leading and trailing spaces, tabs, no-break and
 * ideographic spaces, as a new string */
char *sheet_trimmed(const char *s, size_t n);
void sheet_row_add(struct sheet_row *r, size_t *cap, char *cell);
void sheet_row_free(struct sheet_row *r);

/* An .xlsx workbook's worksheet into s's rows (xlsx.c). */
int sheet_read_xlsx(const char *name, const void *data, size_t len, const struct sheet_opts *o,
		    struct sheet *s, char **cause);

#endif
