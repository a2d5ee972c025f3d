/*
 * sheet.h — a spreadsheet as staff keep it, read into rows of UTF-8 cells:
 * CSV as Excel saves it (UTF-8 with or without a byte-order mark, GB18030,
 * UTF-16 with a byte-order mark), and .xlsx workbooks. The units table
 * (conf/) and ledgers (collector/) read their files through it.
 */
#ifndef PW_SHEET_H
#define PW_SHEET_H

#include <stddef.h>

struct sheet_row {
	char **cells;  /* UTF-8, trimmed of spaces (U+3000 and no-break too); empty: "" */
	size_t n;
	size_t line;   /* where the row is in the file: CSV line, xlsx row number (1-based) */
};

struct sheet {
	struct sheet_row *rows;
	size_t nrows;
	char *encoding; /* what the file was read as: "UTF-8", "GB18030", "UTF-16", "xlsx" */
	char *name;     /* xlsx: the worksheet read; NULL for CSV */
	int date1904;   /* xlsx: the workbook counts dates from 1904 (workbook.xml) */
};

struct sheet_opts {
	const char *sheet;  /* xlsx: the worksheet's name (NULL: the first) */
	char delimiter;     /* CSV: 0 for ',' */
	size_t max_rows;    /* 0: 1,000,000 */
	size_t max_cells;   /* per row; 0: 4,096 */
};

/* Read a file's bytes (name: what errors call it). *cause names the line
 * and what is wrong. PW_EINVAL, PW_ETOOBIG. */
int sheet_read(const char *name, const void *data, size_t len, const struct sheet_opts *o,
	       struct sheet **out, char **cause);
/* The same from a file; files above 256 MiB are refused. */
int sheet_read_file(const char *path, const struct sheet_opts *o, struct sheet **out,
		    char **cause);
void sheet_free(struct sheet *s);

/* Excel's letters for a 0-based column: 0 "A", 27 "AB". */
void sheet_column_name(size_t col, char out[8]);

/* Is every cell of the row empty? */
int sheet_row_blank(const struct sheet_row *r);

#endif
