/*
 * sheet/: CSV as Excel saves it — UTF-8 with and without a byte-order
 * mark, GB18030, UTF-16 (tab-separated) — quoted fields, trimmed cells
 * (ideographic space too), row numbers, and the bounds.
 */
#include <criterion/criterion.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "sheet.h"

static struct sheet *read_ok(const char *name, const char *data, size_t len)
{
	struct sheet *s = NULL;
	char *cause = NULL;
	cr_assert_eq(sheet_read(name, data, len, NULL, &s, &cause), 0, "%s", cause ? cause : "");
	return s;
}

/* text in UTF-8 converted to enc with iconv, as the file would hold it */
static char *encode(const char *enc, const char *text, size_t *len)
{
	iconv_t cd = iconv_open(enc, "UTF-8");
	size_t in = strlen(text), cap = in * 4 + 8, left = cap;
	char *out = malloc(cap), *o = out, *ip = (char *)text;
	cr_assert_neq(cd, (iconv_t)-1);
	cr_assert_neq(iconv(cd, &ip, &in, &o, &left), (size_t)-1);
	iconv_close(cd);
	*len = cap - left;
	return out;
}

Test(sheet, utf8_with_bom_quotes_and_trimmed_cells)
{
	const char csv[] = "\xEF\xBB\xBF编码, 名称 ,备注\r\n"
			   "370100,\"济南, 市\",\"说\"\"明\"\"\"\n"
			   "\n"
			   "370200,\xE3\x80\x80青岛\xE3\x80\x80,\"两\n行\"\n";
	struct sheet *s = read_ok("a.csv", csv, sizeof csv - 1);
	cr_assert_str_eq(s->encoding, "UTF-8");
	cr_assert_eq(s->nrows, 4);
	cr_expect_str_eq(s->rows[0].cells[0], "编码", "the byte-order mark is not part of it");
	cr_expect_str_eq(s->rows[0].cells[1], "名称", "trimmed");
	cr_expect_str_eq(s->rows[1].cells[1], "济南, 市");
	cr_expect_str_eq(s->rows[1].cells[2], "说\"明\"");
	cr_expect(sheet_row_blank(&s->rows[2]));
	cr_expect_str_eq(s->rows[3].cells[1], "青岛", "ideographic spaces trimmed");
	cr_expect_str_eq(s->rows[3].cells[2], "两\n行");
	cr_expect_eq(s->rows[3].line, 4, "rows keep their line in the file");
	sheet_free(s);
}

Test(sheet, gb18030_and_utf16_as_excel_saves_them)
{
	size_t n;
	char *gb = encode("GB18030", "编码,名称\n371702,牡丹区\n", &n);
	struct sheet *s = read_ok("gb.csv", gb, n);
	cr_expect_str_eq(s->encoding, "GB18030");
	cr_expect_str_eq(s->rows[1].cells[1], "牡丹区");
	sheet_free(s);
	free(gb);
	char *u16 = encode("UTF-16", "编码\t名称\r\n371721\t曹县\r\n", &n); /* with a BOM */
	s = read_ok("u16.txt", u16, n);
	cr_expect_str_eq(s->encoding, "UTF-16");
	cr_assert_eq(s->rows[1].n, 2, "tab-separated");
	cr_expect_str_eq(s->rows[1].cells[1], "曹县");
	sheet_free(s);
	free(u16);
}

Test(sheet, refusals_name_the_line)
{
	struct sheet *s = NULL;
	char *cause = NULL;
	const char bad[] = "a,b\n1,\"open\n2,3\n";
	cr_expect_eq(sheet_read("q.csv", bad, sizeof bad - 1, NULL, &s, &cause), PW_EINVAL);
	cr_expect_str_eq(cause, "q.csv: line 2: a quote opened here is never closed");
	free(cause);
	struct sheet_opts o = {.max_rows = 2};
	cause = NULL;
	cr_expect_eq(sheet_read("r.csv", "1\n2\n3\n", 6, &o, &s, &cause), PW_ETOOBIG);
	cr_expect_str_eq(cause, "r.csv: more than 2 rows");
	free(cause);
	cause = NULL;
	cr_expect_eq(sheet_read("x.xlsx", "PK\x03\x04....", 8, NULL, &s, &cause), PW_EINVAL);
	free(cause);
	cr_expect_null(s);
}
