/* Series selectors (query/selector.c). */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "query.h"

Test(selector, parses_names_and_matchers)
{
	struct store_matcher *m;
	size_t n;
	char *cause = NULL;
	cr_assert_eq(query_parse_selector("mr_items{city=~\"济.*\", code!=\"1\",x!~'a|b',y=`raw\\n`}",
					  &m, &n, &cause), 0, "%s", cause);
	cr_assert_eq(n, 5);
	cr_expect_str_eq(m[0].name, "__name__");
	cr_expect_str_eq(m[0].value, "mr_items");
	cr_expect_eq(m[1].type, STORE_MATCH_RE);
	cr_expect(store_matcher_matches(&m[1], "济南"));
	cr_expect_eq(m[2].type, STORE_MATCH_NE);
	cr_expect_eq(m[3].type, STORE_MATCH_NRE);
	cr_expect_str_eq(m[4].value, "raw\\n");
	query_matchers_free(m, n);
	cr_assert_eq(query_parse_selector("{job=\"a\\u6d4e\\x41\\n\"}", &m, &n, &cause), 0, "%s", cause);
	cr_expect_str_eq(m[0].value, "a济A\n");
	query_matchers_free(m, n);
}

Test(selector, errors_name_the_column)
{
	static const struct { const char *in, *msg; } bad[] = {
		{"x{a=\"1\"", "1:8: parse error: unexpected end of input in label matching, expected \",\" or \"}\""},
		{"x{a~\"1\"}", "1:4: parse error: unexpected character: '~'"},
		{"x{a=\"1}", "1:5: parse error: unterminated quoted string"},
		{"{a=\"\"}", "at least one non-empty matcher"},
		/* Prometheus points at the label, and says it in Go's words */
		{"x{a=~\"(\"}", "1:3: parse error: error parsing regexp: missing closing ): `^(?:()$`"},
		{"x y", "1:3: parse error: unexpected identifier \"y\""},
		{"", "no expression found in input"},
		{"x{a=\"\\q\"}", "1:6: parse error: unknown escape sequence"},
		{"rate(x[5m])", "expected a series selector"},
		{"x offset 5m", "expected a series selector"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct store_matcher *m;
		size_t n;
		char *cause = NULL;
		cr_expect_eq(query_parse_selector(bad[i].in, &m, &n, &cause), PW_EINVAL, "%s", bad[i].in);
		cr_expect(cause && strstr(cause, bad[i].msg), "%s: got \"%s\"", bad[i].in, cause);
		free(cause);
	}
}
