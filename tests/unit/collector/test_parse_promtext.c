/* The text exposition parser (collector/parse_promtext.c): what it accepts,
 * and every error message with its line and column. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "collector.h"

struct got {
	char text[4096];
	size_t n;
};

static int on_sample(void *ctx, const struct pw_label *l, size_t n, double v, bool has_ts,
		     int64_t ts, struct pt_error *err)
{
	struct got *g = ctx;
	char num[64];
	size_t o = strlen(g->text);
	(void)err;
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(g->text + o, sizeof g->text - o, "%s%s=%s", i ? "," : "",
				      l[i].name, l[i].value);
	pw_fmt_float(num, sizeof num, v, PW_FMT_PROM);
	if (has_ts)
		snprintf(g->text + o, sizeof g->text - o, " %s @%lld\n", num, (long long)ts);
	else
		snprintf(g->text + o, sizeof g->text - o, " %s\n", num);
	g->n++;
	return 0;
}

static int on_meta(void *ctx, enum pt_meta_kind k, const char *m, const char *t,
		   struct pt_error *err)
{
	struct got *g = ctx;
	size_t o = strlen(g->text);
	(void)err;
	snprintf(g->text + o, sizeof g->text - o, "%s %s [%s]\n",
		 k == PT_META_HELP ? "HELP" : k == PT_META_TYPE ? "TYPE" : "UNIT", m, t);
	return 0;
}

static const struct pt_handler H = {.sample = on_sample, .meta = on_meta};

static void parse_ok(const char *in, const char *want)
{
	struct got g = {{0}, 0};
	struct pt_error err;
	int rc = promtext_parse(in, strlen(in), &H, &g, &err);
	cr_assert_eq(rc, 0, "input %s: %zu:%zu: %s", in, err.line, err.col, err.msg);
	cr_expect_str_eq(g.text, want);
	pt_error_clear(&err);
}

Test(promtext, accepts_the_format)
{
	parse_ok("# HELP mr_items 互认项目数\n# TYPE mr_items gauge\n"
		 "mr_items{city=\"济南\",code=\"370100\"} 215 1751299140000\n",
		 "HELP mr_items [互认项目数]\nTYPE mr_items [gauge]\n"
		 "__name__=mr_items,city=济南,code=370100 215 @1751299140000\n");
	parse_ok("a 1\n\n  \nb{} 2\n# just a comment\nc{x=\"y\",} -3.5e2\n",
		 "__name__=a 1\n__name__=b 2\n__name__=c,x=y -350\n");
	parse_ok("esc{v=\"q\\\"b\\\\n\\n\"} NaN\n", "__name__=esc,v=q\"b\\n\n NaN\n");
	parse_ok("i +Inf -5\r\nj -Inf\n", "__name__=i +Inf @-5\n__name__=j -Inf\n");
	parse_ok("spaced {a = \"1\" , b=\"2\"}\t7\n", "__name__=spaced,a=1,b=2 7\n");
	parse_ok("# HELP h line\\nbreak \\\\ back\nh 1", "HELP h [line\nbreak \\ back]\n__name__=h 1\n");
	parse_ok("# TYPE u untyped\n# UNIT u seconds\nu:rate 0x10\n",
		 "TYPE u [untyped]\nUNIT u [seconds]\n__name__=u:rate 16\n");
}

struct bad {
	const char *in;
	size_t line, col;
	const char *msg;
};

Test(promtext, every_error_names_line_column_and_expectation)
{
	static const struct bad cases[] = {
		{"1abc 1\n", 1, 1, "expected a metric name"},
		{"ok 1\nx{a=\"b\" 1\n", 2, 9, "expected ',' or '}' after the label value"},
		{"x{a=\"b} 1\n", 1, 5, "label value is not closed with '\"'"},
		{"x{a 1\n", 1, 5, "expected '=' after the label name"},
		{"x{=\"1\"} 1\n", 1, 3, "expected a label name or '}'"},
		{"x{a=1} 1\n", 1, 5, "expected '\"' to open the label value"},
		{"x{a=\"\\t\"} 1\n", 1, 6, "invalid escape sequence in label value"},
		{"x{a=\"1\",a=\"2\"} 1\n", 1, 9, "duplicate label name \"a\""},
		{"x\n", 1, 2, "expected a value"},
		{"x abc\n", 1, 3, "expected a float value"},
		{"x 1 12.5\n", 1, 5, "expected a timestamp in milliseconds"},
		{"x 1 2 3\n", 1, 7, "unexpected text after the timestamp"},
		{"城市{a=\"1\"} 1\n", 1, 1, "expected a metric name"},
		{"x{城=\"1\"} 1\n", 1, 3, "expected a label name or '}'"},
		{"x{a=\"济南\"} 1 9223372036854775808\n", 1, 13, "expected a timestamp"},
		{"x{a=\"\xff\"} 1\n", 1, 6, "label value is not valid UTF-8"},
		{"# TYPE x bogus\n", 1, 10, "unknown metric type"},
		{"# HELP 9x text\n", 1, 8, "expected a metric name after # HELP"},
		{"x{} 1\ny{a=\"济南\",b=\"青岛\"} 1 2 junk\n", 2, 22, "unexpected text after the timestamp"},
		{"x{__name__=\"y\"} 1\n", 1, 3, "label \"__name__\" inside braces"},
		{"x 1{}\n", 1, 3, "expected a float value"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct got g = {{0}, 0};
		struct pt_error err;
		int rc = promtext_parse(cases[i].in, strlen(cases[i].in), &H, &g, &err);
		cr_expect_eq(rc, PW_EINVAL, "case %zu (%s) should fail", i, cases[i].in);
		cr_expect_eq(err.line, cases[i].line, "case %zu: line %zu", i, err.line);
		cr_expect_eq(err.col, cases[i].col, "case %zu: col %zu (%s)", i, err.col, err.msg);
		cr_expect(err.msg && strstr(err.msg, cases[i].msg) != NULL, "case %zu: msg \"%s\"", i,
			  err.msg);
		pt_error_clear(&err);
	}
}

Test(promtext, handler_errors_stop_parsing)
{
	struct got g = {{0}, 0};
	struct pt_error err;
	const char *in = "a 1\nb 2\nc 3\n";
	cr_expect_eq(promtext_parse(in, strlen(in), NULL, &g, &err), 0);
	cr_expect_eq(g.n, 0);
}
