/*
 * sheet/: CSV as Excel saves it — UTF-8 with and without a byte-order
 * mark, GB18030, UTF-16 (tab-separated) — quoted fields, trimmed cells
 * (ideographic space too), row numbers, and the bounds.
 */
#include <criterion/criterion.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- .xlsx workbooks ---------------------------------------------------------------
 * The fixtures in tests/fixtures/ledgers/ were written by openpyxl and
 * LibreOffice (make.py there); hostile archives are built here with libzip. */

#include <zip.h>

#define FIX PW_SOURCE_DIR "/tests/fixtures/ledgers/"

static struct sheet *read_fixture(const char *file, const struct sheet_opts *o)
{
	struct sheet *s = NULL;
	char *cause = NULL;
	cr_assert_eq(sheet_read_file(file, o, &s, &cause), 0, "%s", cause ? cause : "");
	return s;
}

static const char *cell(const struct sheet *s, size_t row, size_t col)
{
	cr_assert(row >= 1 && row <= s->nrows, "row %zu of %zu", row, s->nrows);
	cr_assert_eq(s->rows[row - 1].line, row);
	return col < s->rows[row - 1].n ? s->rows[row - 1].cells[col] : "";
}

Test(xlsx, the_ledger_as_staff_keep_it)
{
	struct sheet *s = read_fixture(FIX "outreach.xlsx", NULL);
	cr_expect_str_eq(s->encoding, "xlsx");
	cr_expect_str_eq(s->name, "六月", "the first worksheet");
	cr_expect_eq(s->date1904, 0);
	cr_assert_eq(s->nrows, 8);
	for (size_t c = 0; c < 6; c++)
		cr_expect_str_eq(cell(s, 1, c), "菏泽市健康宣讲活动台账（2025年）",
				 "column %zu of the merged title", c);
	cr_expect_str_eq(cell(s, 3, 3), "宣讲场次");
	cr_expect_str_eq(cell(s, 4, 1), "牡丹区");
	cr_expect_str_eq(cell(s, 5, 1), "牡丹区", "the merged county names row 5 too");
	cr_expect_str_eq(cell(s, 4, 4), "1230", "a number as written, not its format");
	cr_expect_str_eq(cell(s, 6, 3), "三场");
	cr_expect(sheet_row_blank(&s->rows[6]), "row 7 is blank and kept");
	cr_expect_str_eq(cell(s, 8, 0), "填表人：张三");
	sheet_free(s);

	struct sheet_opts o = {.sheet = "说明"};
	s = read_fixture(FIX "outreach.xlsx", &o);
	cr_expect_str_eq(s->name, "说明");
	cr_expect_str_eq(cell(s, 1, 0), "本表按月填报");
	sheet_free(s);

	char *cause = NULL;
	o.sheet = "七月";
	cr_expect_eq(sheet_read_file(FIX "outreach.xlsx", &o, &s, &cause), PW_EINVAL);
	cr_expect_str_eq(cause, FIX "outreach.xlsx: no worksheet \"七月\"; the workbook has "
				    "\"六月\", \"说明\"");
	free(cause);
}

Test(xlsx, every_kind_of_cell)
{
	struct sheet *s = read_fixture(FIX "cells.xlsx", NULL);
	cr_expect_str_eq(cell(s, 2, 0), "45838", "a date cell gives its serial");
	cr_expect_str_eq(cell(s, 3, 0), "45838.35416666666");
	cr_expect_str_eq(cell(s, 2, 1), "0.1");
	cr_expect_str_eq(cell(s, 3, 1), "0.00001", "written 1e-05, never printed so");
	cr_expect_str_eq(cell(s, 4, 1), "0.85", "a percent format is not applied");
	cr_expect_str_eq(cell(s, 5, 1), "1234567.5");
	cr_expect_str_eq(cell(s, 6, 1), "TRUE");
	cr_expect_str_eq(cell(s, 7, 1), "#DIV/0!");
	cr_expect_str_eq(cell(s, 8, 1), "", "a formula nobody computed has no value");
	cr_expect_str_eq(cell(s, 10, 1), "1e+21");
	sheet_free(s);
}

Test(xlsx, the_1904_date_system)
{
	struct sheet *s = read_fixture(FIX "dates1904.xlsx", NULL);
	cr_expect_eq(s->date1904, 1);
	/* 2025-06-30 is 45838 in the 1900 system, 1462 days fewer from 1904 */
	cr_expect_str_eq(cell(s, 2, 0), "44376");
	sheet_free(s);
}

Test(xlsx, libreoffice_shared_strings_read_as_the_csv_reads)
{
	struct sheet *x = read_fixture(FIX "outreach_lo.xlsx", NULL);
	struct sheet *c = read_fixture(FIX "outreach_gb18030.csv", NULL);
	cr_expect_str_eq(c->encoding, "GB18030");
	cr_assert_eq(x->nrows, 8);
	for (size_t r = 1; r <= 8; r++)
		for (size_t k = 0; k < 6; k++) {
			const char *a = cell(x, r, k), *b = cell(c, r, k);
			if (r == 6 && k == 0)
				continue; /* Calc reads 2025/6/30 as a date: a serial */
			if (strcmp(b, "1,230") == 0 || strcmp(b, "1,315") == 0)
				cr_expect_eq(strtol(a, NULL, 10), strtol(b, NULL, 10) * 1000 + strtol(strchr(b, ',') + 1, NULL, 10));
			else
				cr_expect_str_eq(a, b, "row %zu column %zu", r, k);
		}
	sheet_free(x);
	sheet_free(c);
}

/* An archive built from (name, content) pairs, read with sheet_read. */
static int read_parts(const char *const *parts, size_t n, struct sheet **s, char **cause)
{
	char path[] = "/tmp/pw_xlsx_XXXXXX";
	int fd = mkstemp(path), rc, err;
	cr_assert(fd >= 0);
	close(fd);
	zip_t *z = zip_open(path, ZIP_TRUNCATE, &err);
	cr_assert_not_null(z);
	for (size_t i = 0; i < n; i++) {
		zip_source_t *src = zip_source_buffer(z, parts[2 * i + 1], strlen(parts[2 * i + 1]), 0);
		cr_assert_geq(zip_file_add(z, parts[2 * i], src, ZIP_FL_OVERWRITE), 0);
	}
	cr_assert_eq(zip_close(z), 0);
	*s = NULL;
	rc = sheet_read_file(path, NULL, s, cause);
	unlink(path);
	if (rc == 0 || !*cause)
		return rc;
	/* the temporary name out of the message */
	char *colon = strchr(*cause, ':');
	char *m = xasprintf("x.xlsx%s", colon ? colon : "");
	free(*cause);
	*cause = m;
	return rc;
}

#define WB "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" " \
	   "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">" \
	   "<sheets><sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"
#define RELS "<Relationships><Relationship Id=\"rId1\" Target=\"worksheets/sheet1.xml\"/></Relationships>"

static int read_sheet_xml(const char *sheet_xml, const char *ss, struct sheet **s, char **cause)
{
	const char *parts[] = {"xl/workbook.xml", WB, "xl/_rels/workbook.xml.rels", RELS,
			       "xl/worksheets/sheet1.xml", sheet_xml, "xl/sharedStrings.xml",
			       ss ? ss : "<sst/>"};
	return read_parts(parts, 4, s, cause);
}

Test(xlsx, hostile_workbooks_are_refused_by_name)
{
	struct sheet *s;
	char *cause = NULL;

	/* a small hand-made sheet reads, prefixed names too */
	cr_assert_eq(read_sheet_xml("<x:worksheet xmlns:x=\"http://schemas.openxmlformats.org/"
				    "spreadsheetml/2006/main\"><x:sheetData><x:row r=\"2\"><x:c "
				    "r=\"C2\" t=\"s\"><x:v>0</x:v></x:c><x:c><x:v>7</x:v></x:c>"
				    "</x:row></x:sheetData></x:worksheet>",
				    "<sst><si><r><t>县</t></r><r><t>区</t></r><rPh><t>けん</t></rPh></si></sst>",
				    &s, &cause),
		     0, "%s", cause ? cause : "");
	cr_expect_eq(s->nrows, 2);
	cr_expect_str_eq(cell(s, 2, 2), "县区", "rich text runs, without the phonetic guide");
	cr_expect_str_eq(cell(s, 2, 3), "7", "a cell without a reference follows the one before");
	sheet_free(s);

	/* entity expansion (billion laughs) */
	cr_expect_eq(read_sheet_xml("<worksheet><sheetData/></worksheet>",
				    "<?xml version=\"1.0\"?>\n<!DOCTYPE sst [<!ENTITY a \"aaaa\">"
				    "<!ENTITY b \"&a;&a;&a;&a;\">]><sst><si><t>&b;</t></si></sst>",
				    &s, &cause),
		     PW_EINVAL);
	cr_expect_str_eq(cause, "x.xlsx: xl/sharedStrings.xml: line 2, column 15: a DOCTYPE (entity "
				"declarations: an XML entity expansion attack?) is not read");
	free(cause);
	cause = NULL;

	/* nesting */
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "<worksheet><sheetData>");
	for (int i = 0; i < 100; i++)
		pw_buf_puts(&b, "<a>");
	cr_expect_eq(read_sheet_xml(b.data, NULL, &s, &cause), PW_ETOOBIG);
	cr_expect(strstr(cause, "xl/worksheets/sheet1.xml: line 1, column ") &&
		  strstr(cause, "elements nest deeper than 64"), "%s", cause);
	free(cause);
	cause = NULL;

	/* a zip bomb: 64 MiB of spaces deflate to about 64 KiB */
	pw_buf_reset(&b);
	pw_buf_puts(&b, "<worksheet><sheetData>");
	for (int i = 0; i < 64 * 1024; i++)
		pw_buf_puts(&b, "                                                                "
				"                                                                "
				"                                                                "
				"                                                                "
				"                                                                "
				"                                                                "
				"                                                                "
				"                                                                "
				"                                                                "
				"                                                                "
				"                                                                "
				"                                                                "
				"                                                                "
				"                                                                "
				"                                                                "
				"                                                                ");
	cr_expect_eq(read_sheet_xml(b.data, NULL, &s, &cause), PW_ETOOBIG);
	cr_expect_str_eq(cause, "x.xlsx: xl/worksheets/sheet1.xml expands more than 250 times: a "
				"zip bomb, refused");
	free(cause);
	cause = NULL;
	pw_buf_free(&b);

	/* cells past the bound, rows past the bound, shared strings that are not */
	cr_expect_eq(read_sheet_xml("<worksheet><sheetData><row r=\"7\"><c r=\"XFD7\"><v>1</v></c>"
				    "</row></sheetData></worksheet>", NULL, &s, &cause),
		     PW_ETOOBIG);
	cr_expect(strstr(cause, "row 7: more than 4096 cells"), "%s", cause);
	free(cause);
	cause = NULL;
	cr_expect_eq(read_sheet_xml("<worksheet><sheetData><row r=\"1048576\"><c><v>1</v></c>"
				    "</row></sheetData></worksheet>", NULL, &s, &cause),
		     PW_ETOOBIG);
	cr_expect(strstr(cause, "more than 1000000 rows"), "%s", cause);
	free(cause);
	cause = NULL;
	cr_expect_eq(read_sheet_xml("<worksheet><sheetData><row r=\"1\"><c t=\"s\"><v>5</v></c>"
				    "</row></sheetData></worksheet>", NULL, &s, &cause),
		     PW_EINVAL);
	cr_expect(strstr(cause, "shared string \"5\" is not one of the 0"), "%s", cause);
	free(cause);
	cause = NULL;
	/* a merged range that would fill more cells than a row may have */
	cr_expect_eq(read_sheet_xml("<worksheet><sheetData><row r=\"1\"><c><v>1</v></c>"
				    "</row></sheetData><mergeCells><mergeCell ref=\"A1:XFD1\"/>"
				    "</mergeCells></worksheet>", NULL, &s, &cause),
		     PW_ETOOBIG);
	free(cause);
	cause = NULL;

	/* what is not .xlsx */
	const char *ods[] = {"mimetype", "application/vnd.oasis.opendocument.spreadsheet",
			     "content.xml", "<office:document-content/>"};
	cr_expect_eq(read_parts(ods, 2, &s, &cause), PW_EINVAL);
	cr_expect_str_eq(cause, "x.xlsx: an OpenDocument spreadsheet (.ods), which pacewatch does "
				"not read: save it as .xlsx or CSV");
	free(cause);
	cause = NULL;
	cr_expect_eq(sheet_read("old.xls", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0", 10, NULL, &s,
				&cause),
		     PW_EINVAL);
	cr_expect(strstr(cause, "old.xls: an .xls (Excel 97-2003) or password-protected workbook"),
		  "%s", cause);
	free(cause);
}
