/* CSV ledgers (collector/parse_csv.c, through collector/ledger.c since issue
 * 18: what deliberately changed is marked "since ledgers"). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"

struct got {
	char text[4096];
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

static struct conf_kv lab[] = {{"county", "county"}, {"county_code", "code"}};
static struct conf_kv val[] = {{"outreach_events", "events"}, {"outreach_lectures", "lectures"}};
static struct conf_csv csv = {",", "date", {lab, 2}, {val, 2}, NULL, 0, {NULL, 0}};

static int run(const char *in, struct got *g, char **cause)
{
	struct pw_tz *tz;
	size_t n;
	int rc;
	pw_tz_load("Asia/Shanghai", &tz, NULL);
	memset(g, 0, sizeof *g);
	rc = csv_apply(&csv, in, strlen(in), tz, 5, on_sample, g, &n, cause);
	pw_tz_free(tz);
	return rc;
}

Test(csv, ledgers_with_quotes_bom_crlf_and_empty_cells)
{
	struct got g;
	char *cause = NULL;
	const char *in = "\xEF\xBB\xBF" "date,code,county,lectures,events\r\n"
			 "2025-06-30,371725,\"郓城县, \"\"二期\"\"\",1,6\r\n"
			 "2025-07-31,371722,\"单\n县\",,7\r\n"
			 "\r\n"
			 "45869,371721,曹县, 2 ,8\n"; /* since ledgers: an Excel serial, 2025-07-31 */
	cr_assert_eq(run(in, &g, &cause), 0, "%s", cause);
	cr_expect_str_eq(g.text,
			 "outreach_events,郓城县, \"二期\",371725 6 1751212800000\n"
			 "outreach_lectures,郓城县, \"二期\",371725 1 1751212800000\n"
			 "outreach_events,单\n县,371722 7 1753891200000\n"
			 "outreach_events,曹县,371721 8 1753891200000\n"
			 "outreach_lectures,曹县,371721 2 1753891200000\n");
}

struct bad {
	const char *in, *msg;
};

Test(csv, errors_name_line_and_column)
{
	static const struct bad cases[] = {
		{"", "csv: no row names any configured column"},
		{"date,code,county,lectures\n",
		 "csv: no row names every configured column; row 1 comes closest but has no column "
		 "\"events\" (values.outreach_events); it has date, code, county, lectures"},
		{"date,code,events,lectures\n", "has no column \"county\" (labels.county)"},
		{"date,code,county,lectures,events\n2025-06-30,1,a,1,many\n",
		 "1 row rejected, nothing stored: row 2, column E \"events\": expected a number, found \"many\""},
		/* since ledgers: a short row's missing cells are empty, a missing label refused */
		{"date,code,county,lectures,events\n2025-06-30,1,,1\n",
		 "row 2, column C \"county\": empty: every sample needs its county label"},
		{"date,code,county,lectures,events\n2025-06-30,1,\"a,1,2\n",
		 "csv: line 2: a quote opened here is never closed"},
		{"date,code,county,lectures,events\nlast week,1,a,1,2\n",
		 "row 2, column A \"date\": expected a date (2025-06-30, 2025/6/30, 2025年6月30日, "
		 "2025年6月, an Excel serial), found \"last week\""},
		/* since ledgers: a row with values and no date is refused, not given the scrape time */
		{"date,code,county,lectures,events\n,1,a,1,2\n",
		 "row 2, column A \"date\": empty: the row has no date"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct got g;
		char *cause = NULL;
		cr_expect_eq(run(cases[i].in, &g, &cause), PW_EINVAL, "case %zu", i);
		cr_expect(cause && strstr(cause, cases[i].msg), "case %zu: %s", i, cause);
		free(cause);
	}
}
