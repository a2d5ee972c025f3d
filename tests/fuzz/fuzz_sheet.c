/* Fuzz sheet_read: CSV in every encoding and .xlsx workbooks (libzip and
 * expat underneath, our handlers and bounds on top). Every refusal has a
 * cause; every row read has its cells. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "sheet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
