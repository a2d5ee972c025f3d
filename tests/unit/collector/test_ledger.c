/* Ledgers as staff keep them (collector/ledger.c, docs/ledgers.md): the
 * same ledger written by openpyxl, LibreOffice, and saved as GB18030 and
 * UTF-8 CSV (tests/fixtures/ledgers/make.py) reads the same; every
 * rejection names its row, column and why. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

#define FIX PW_SOURCE_DIR "/tests/fixtures/ledgers/"

struct got {
	char text[8192];
};

static int on_sample(void *ctx, const struct pw_label *l, size_t n, int64_t ts, double v)
{
	struct got *g = ctx;
	size_t o = strlen(g->text);
	char num[64];
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(g->text + o, sizeof g->text - o, "%s%s", i ? "," : "", l[i].value);
	pw_fmt_float(num, sizeof num, v, PW_FMT_PROM);
	snprintf(g->text + o, sizeof g->text - o, " %s %lld\n", num, (long long)ts);
	return 0;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *b;
	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(*n + 1);
	cr_assert_eq(fread(b, 1, *n, f), *n);
	fclose(f);
	return b;
}

static struct conf_kv out_lab[] = {{"county", "县区"}, {"county_code", "县区编码"}};
static struct conf_kv out_val[] = {{"outreach_lectures", "宣讲场次"},
				   {"outreach_participants", "参与人数"}};
static struct conf_csv outreach = {NULL, "月份", {out_lab, 2}, {out_val, 2}, NULL, 0, {NULL, 0}};

static int apply(const struct conf_csv *l, const char *name, const char *data, size_t len,
		 struct got *g, struct ledger_result *res, char **cause)
{
	struct pw_tz *tz;
	int rc;
	cr_assert_eq(pw_tz_load("Asia/Shanghai", &tz, NULL), 0);
	memset(g, 0, sizeof *g);
	*cause = NULL;
	rc = ledger_apply(l, name, data, len, tz, 5, on_sample, g, res, cause);
	pw_tz_free(tz);
	return rc;
}

/* 2025-05-01 and 2025-06-01 00:00 in China, worked out by hand:
 * 1746057600 and 1748736000 are those days at 00:00 UTC, less 8 hours */
#define MAY1 "1746028800000"
#define JUN1 "1748707200000"

Test(ledger, the_same_ledger_from_four_programs)
{
	static const char *const files[] = {"outreach.xlsx", "outreach_lo.xlsx",
					    "outreach_gb18030.csv", "outreach_utf8bom.csv"};
	static const char *const formats[] = {"xlsx", "xlsx", "GB18030", "UTF-8"};
	for (size_t i = 0; i < 4; i++) {
		char path[512], *cause;
		size_t n;
		struct got g;
		struct ledger_result res;
		snprintf(path, sizeof path, FIX "%s", files[i]);
		char *data = slurp(path, &n);
		cr_assert_eq(apply(&outreach, files[i], data, n, &g, &res, &cause), 0, "%s: %s",
			     files[i], cause ? cause : "");
		cr_expect_str_eq(res.format, formats[i], "%s", files[i]);
		cr_expect_eq(res.header_row, 3, "%s: the header below the title", files[i]);
		cr_expect_eq(res.rows, 3, "%s", files[i]);
		cr_expect_eq(res.accepted, 2, "%s", files[i]);
		cr_expect_eq(res.skipped, 2, "%s: the blank row and the footer", files[i]);
		cr_expect_eq(res.samples, 4, "%s", files[i]);
		cr_expect_eq(res.rejected_rows, 1, "%s", files[i]);
		cr_assert_eq(res.nrejected, 1, "%s", files[i]);
		char *t = ledger_reject_text(files[i], &res.rejected[0]);
		char want[256];
		snprintf(want, sizeof want,
			 "%s: row 6, column D \"宣讲场次\": expected a number, found \"三场\"", files[i]);
		cr_expect_str_eq(t, want);
		free(t);
		cr_expect_str_eq(res.rejected[0].value, "三场");
		cr_expect_str_eq(g.text,
				 "outreach_lectures,牡丹区,371702 6 " MAY1 "\n"
				 "outreach_participants,牡丹区,371702 1230 " MAY1 "\n"
				 "outreach_lectures,牡丹区,371702 7 " JUN1 "\n"
				 "outreach_participants,牡丹区,371702 1315 " JUN1 "\n",
				 "%s: row 5's county from the merged cell (xlsx) or as written (CSV)",
				 files[i]);
		ledger_result_free(&res);
		free(data);
	}
}

Test(ledger, the_1904_date_system)
{
	static struct conf_kv lab[] = {{"county", "县区"}};
	static struct conf_kv val[] = {{"outreach_lectures", "宣讲场次"}};
	struct conf_csv l = {NULL, "月份", {lab, 1}, {val, 1}, NULL, 0, {NULL, 0}};
	size_t n;
	char *data = slurp(FIX "dates1904.xlsx", &n), *cause;
	struct got g;
	struct ledger_result res;
	cr_assert_eq(apply(&l, "d.xlsx", data, n, &g, &res, &cause), 0, "%s", cause);
	/* 2025-06-30 00:00 in China: 1751241600 (00:00 UTC) less 8 hours */
	cr_expect_str_eq(g.text, "outreach_lectures,牡丹区 3 1751212800000\n");
	ledger_result_free(&res);
	free(data);
}

static struct conf_kv d_lab[] = {{"county", "县"}};
static struct conf_kv d_val[] = {{"n", "数"}};
static struct conf_csv dl = {NULL, "日期", {d_lab, 1}, {d_val, 1}, NULL, 0, {NULL, 0}};

/* one CSV row's date and number; the sample line, or the rejection */
static void one(const char *date, const char *num, const char *want)
{
	char csv[512], *cause;
	struct got g;
	struct ledger_result res;
	snprintf(csv, sizeof csv, "日期,县,数\n\"%s\",曹县,\"%s\"\n", date, num);
	cr_assert_eq(apply(&dl, "t.csv", csv, strlen(csv), &g, &res, &cause), 0, "%s", cause);
	if (res.nrejected) {
		char *t = ledger_reject_text(NULL, &res.rejected[0]);
		cr_expect_str_eq(t, want, "%s / %s", date, num);
		free(t);
	} else {
		cr_expect_str_eq(g.text, want, "%s / %s", date, num);
	}
	ledger_result_free(&res);
}

/* two dates give the same time */
static void same(const char *a, const char *b)
{
	char csv[256], *cause;
	struct got g;
	struct ledger_result res;
	snprintf(csv, sizeof csv, "日期,县,数\n%s,a,1\n%s,a,1\n", a, b);
	cr_assert_eq(apply(&dl, "s.csv", csv, strlen(csv), &g, &res, &cause), 0, "%s", cause);
	cr_assert_eq(res.accepted, 2, "%s, %s", a, b);
	char *nl = strchr(g.text, '\n');
	cr_expect(strncmp(g.text, nl + 1, (size_t)(nl - g.text + 1)) == 0, "%s and %s: %s", a, b, g.text);
	ledger_result_free(&res);
}

Test(ledger, dates_as_staff_write_them)
{
	/* 2025-06-30 00:00 +08:00 */
	const char *d = "n,曹县 1 1751212800000\n";
	one("2025-06-30", "1", d);
	one("2025/6/30", "1", d);
	one("2025.6.30", "1", d);
	one("20250630", "1", d);
	one("2025年6月30日", "1", d);
	one("45838", "1", d);
	one("2025年6月", "1", "n,曹县 1 1748707200000\n");
	one("2025-06", "1", "n,曹县 1 1748707200000\n");
	/* 08:30 is 30600 s after midnight; .35416666666 of a day rounds to it */
	one("2025/6/30 8:30", "1", "n,曹县 1 1751243400000\n");
	one("45838.35416666666", "1", "n,曹县 1 1751243400000\n");
	one("2025-06-30T08:30:00+08:00", "1", "n,曹县 1 1751243400000\n");
	one("2025-06-30T00:30:00Z", "1", "n,曹县 1 1751243400000\n");
	/* serials below 60 count from 1900-01-01 (1 is that day), from 61 on from 1899-12-30
	 * (Excel's 29 February 1900); China's 1900 offset was local mean time, so the
	 * serial is compared with the date it stands for */
	same("1", "1900-01-01");
	same("59", "1900-02-28");
	same("61", "1900-03-01");
	same("367", "1901-01-01");
	one("1751212800", "1", "n,曹县 1 1751212800000\n");
	one("60", "1", "row 2, column A \"日期\": Excel serial 60 is 29 February 1900, a day that never was");
	one("六月", "1", "row 2, column A \"日期\": expected a date (2025-06-30, 2025/6/30, 2025年6月30日, "
			 "2025年6月, an Excel serial), found \"六月\"");
	one("2025-02-30", "1", "row 2, column A \"日期\": no such day: \"2025-02-30\"");
	one("", "1", "row 2, column A \"日期\": empty: the row has no date");
}

Test(ledger, numbers_as_excel_writes_them)
{
	const char *d = "2025-06-30";
	one(d, "1,230", "n,曹县 1230 1751212800000\n");
	one(d, "1,234,567.5", "n,曹县 1234567.5 1751212800000\n");
	one(d, "85%", "n,曹县 0.85 1751212800000\n");
	one(d, "6.19%", "n,曹县 0.0619 1751212800000\n"); /* not 6.19 / 100 = 0.061900000000000004 */
	one(d, "1,230%", "n,曹县 12.3 1751212800000\n");
	one(d, "-3", "n,曹县 -3 1751212800000\n");
	one(d, "1e3", "n,曹县 1000 1751212800000\n");
	one(d, "12,30", "row 2, column C \"数\": expected a number, found \"12,30\"");
	one(d, "1,230.5,0", "row 2, column C \"数\": expected a number, found \"1,230.5,0\"");
	one(d, "1234,567", "row 2, column C \"数\": expected a number, found \"1234,567\"");
	one(d, "三场", "row 2, column C \"数\": expected a number, found \"三场\"");
	one(d, "#DIV/0!", "row 2, column C \"数\": an Excel error value #DIV/0!, not a number");
	one(d, "1e400", "row 2, column C \"数\": number out of range: \"1e400\"");
}

Test(ledger, the_header_row)
{
	char *cause;
	struct got g;
	struct ledger_result res;
	/* a header cell with a line break (Alt+Enter) matches */
	const char *a = "台账\n\"日\n期\",县,数\n2025-06-30,曹县,4\n";
	cr_assert_eq(apply(&dl, "a.csv", a, strlen(a), &g, &res, &cause), 0, "%s", cause);
	cr_expect_eq(res.header_row, 2);
	cr_expect_str_eq(g.text, "n,曹县 4 1751212800000\n");
	ledger_result_free(&res);
	/* a name in two columns */
	const char *b = "日期,县,数,数\n2025-06-30,曹县,4,5\n";
	cr_expect_eq(apply(&dl, "b.csv", b, strlen(b), &g, &res, &cause), PW_EINVAL);
	cr_expect_str_eq(cause, "b.csv: row 1: \"数\" (values.n) stands in two columns, C and D");
	free(cause);
	ledger_result_free(&res);
	/* no header: the closest row and what it lacks */
	const char *c = "标题\n日期,县区,数\n";
	cr_expect_eq(apply(&dl, "c.csv", c, strlen(c), &g, &res, &cause), PW_EINVAL);
	cr_expect_str_eq(cause, "c.csv: no row names every configured column; row 2 comes closest "
				"but has no column \"县\" (labels.county); it has 日期, 县区, 数");
	free(cause);
	ledger_result_free(&res);
	/* a configured header row that is not one */
	struct conf_csv h2 = dl;
	h2.header_row = 1;
	const char *e = "标题\n日期,县,数\n";
	cr_expect_eq(apply(&h2, "e.csv", e, strlen(e), &g, &res, &cause), PW_EINVAL);
	cr_expect_str_eq(cause, "e.csv: header_row 1 does not name every configured column: "
				"no column \"日期\" (timestamp_column) and 2 more; it has 标题");
	free(cause);
	ledger_result_free(&res);
	/* a configured header row */
	struct conf_csv l = dl;
	l.header_row = 3;
	const char *d = "日期,县,数\n2025-06-30,曹县,4\n日期,县,数\n2025-06-30,单县,5\n";
	cr_assert_eq(apply(&l, "d.csv", d, strlen(d), &g, &res, &cause), 0, "%s", cause);
	cr_expect_str_eq(g.text, "n,单县 5 1751212800000\n");
	ledger_result_free(&res);
}

Test(ledger, at_most_1000_rejections_listed_all_counted)
{
	struct pw_buf b;
	char *cause;
	struct got g;
	struct ledger_result res;
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "日期,县,数\n");
	for (int i = 0; i < 1500; i++)
		pw_buf_puts(&b, "六月,,1\n"); /* two wrong cells a row */
	cr_assert_eq(apply(&dl, "m.csv", b.data, b.len, &g, &res, &cause), 0, "%s", cause);
	cr_expect_eq(res.nrejected, 1000);
	cr_expect_eq(res.rejected_total, 3000);
	cr_expect_eq(res.rejected_rows, 1500);
	cr_expect_eq(res.accepted, 0);
	cr_expect_str_eq(g.text, "");
	ledger_result_free(&res);
	pw_buf_free(&b);
}

Test(ledger, csv_carries_merged_cells_down_and_skips_footers)
{
	char *cause;
	struct got g;
	struct ledger_result res;
	/* Excel saves a merged cell's value in its first row only; a blank row ends the
	 * block; a footer's text in a value column without a label is no row of data */
	const char *a = "日期,县,数\n"
			"2025-06-30,曹县,1\n"
			",,2\n"
			",单县,3\n"
			"\n"
			",,4\n"
			"填表人：,,审核人：\n";
	cr_assert_eq(apply(&dl, "a.csv", a, strlen(a), &g, &res, &cause), 0, "%s", cause);
	cr_expect_str_eq(g.text, "n,曹县 1 1751212800000\n"
				 "n,曹县 2 1751212800000\n"
				 "n,单县 3 1751212800000\n");
	cr_expect_eq(res.skipped, 2, "the blank row and the footer");
	cr_expect_eq(res.rejected_rows, 1, "row 6: nothing above it after the blank row");
	cr_assert_eq(res.nrejected, 2);
	char *t = ledger_reject_text(NULL, &res.rejected[0]);
	cr_expect_str_eq(t, "row 6, column A \"日期\": empty: the row has no date");
	free(t);
	ledger_result_free(&res);
}

/* docs/ledgers.md, "Text in value columns": ledger.value_map reads the
 * mental-clinics ledger's 已开设 / 未开设 as 1 / 0 and its "/" as blank; a
 * text that is not in the map still rejects its row. Hand-worked: 2025-06
 * is 1748707200000 (JUN1). */
Test(ledger, value_map_reads_text_cells)
{
	static struct conf_kv lab[] = {{"hospital", "医院名称"}};
	static struct conf_kv val[] = {{"psych_clinic", "心理门诊"}, {"psych_visits", "心理门诊人次"}};
	static struct conf_kv map[] = {{"已开设", "1"}, {"未开设", "0"}, {"/", ""}};
	struct conf_csv l = {NULL, "月份", {lab, 1}, {val, 2}, NULL, 0, {map, 3}};
	const char *csv = "医院名称,月份,心理门诊,心理门诊人次\n"
			  "郓城县人民医院,2025年6月,已开设,210\n"
			  "郓城县妇幼保健院,2025年6月,未开设,/\n"
			  "郓城县第二人民医院,2025年6月,/,/\n"
			  "郓城县中医医院,2025年6月,待定,12\n";
	struct got g;
	struct ledger_result res;
	char *cause;
	cr_assert_eq(apply(&l, "m.csv", csv, strlen(csv), &g, &res, &cause), 0, "%s", cause);
	cr_expect_str_eq(g.text,
			 "psych_clinic,郓城县人民医院 1 " JUN1 "\n"
			 "psych_visits,郓城县人民医院 210 " JUN1 "\n"
			 "psych_clinic,郓城县妇幼保健院 0 " JUN1 "\n");
	cr_expect_eq(res.skipped, 1, "a row whose values all map to blank is skipped like a blank row");
	cr_expect_eq(res.accepted, 2);
	cr_assert_eq(res.nrejected, 1);
	char *t = ledger_reject_text(NULL, &res.rejected[0]);
	cr_expect_str_eq(t, "row 5, column C \"心理门诊\": expected a number, found \"待定\"");
	free(t);
	ledger_result_free(&res);
}
