/*
 * pw_regex: regular expressions as Prometheus compiles them (Go's regexp,
 * which RE2 is the model of): "^(?:" P ")$", Go's refusals in Go's words,
 * no limit that turns a match into a silent non-match, and label_replace's
 * expansion as Go's regexp.Expand does it. The expected texts are Go's
 * regexp/syntax error strings (ErrInvalidPerlOp, ErrInvalidEscape, ...).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static bool m(const char *pat, const char *s)
{
	char *cause = NULL;
	struct pw_regex *re = pw_regex_new(pat, true, &cause);
	cr_assert_not_null(re, "%s: %s", pat, cause ? cause : "?");
	bool r = pw_regex_match(re, s, strlen(s));
	pw_regex_free(re);
	return r;
}

static char *refusal(const char *pat)
{
	char *cause = NULL;
	struct pw_regex *re = pw_regex_new(pat, true, &cause);
	cr_assert_null(re, "%s is refused", pat);
	cr_assert_not_null(cause);
	return cause;
}

static void expect_refusal(const char *pat, const char *want)
{
	char *cause = refusal(pat);
	cr_expect_str_eq(cause, want);
	free(cause);
}

Test(regex, anchored_as_prometheus_anchors)
{
	cr_expect(m("jinan", "jinan"));
	cr_expect(!m("jin", "jinan"), "the whole value must match");
	cr_expect(!m("inan", "jinan"));
	cr_expect(m("a|b", "b"), "alternation inside the anchors");
	cr_expect(m(".*", ""));
	cr_expect(!m(".+", ""));
	cr_expect(!m("a$", "a\n"), "$ is the end of text, not before a newline");
	cr_expect(!m(".*", "a\nb"), ". does not match a newline");
	cr_expect(m("(?s).*", "a\nb"));
	cr_expect(m("(?i)jinan", "JiNaN"));
	cr_expect(m("(?i)straße", "STRAßE"));
	cr_expect(m("济南|青岛", "青岛"));
	cr_expect(m("[^a]", "\n"), "a negated class matches a newline in Go");
	cr_expect(m("\\d+\\s\\w", "12 x"));
	cr_expect(!m("\\d", "٣"), "\\d is ASCII only");
	cr_expect(m("\\p{Han}+", "济南"));
	cr_expect(m("^a$", "a"), "anchors inside the pattern");
	/* the shapes matched without RE2 keep Go's meaning */
	cr_expect(m("a|", ""), "an empty alternative");
	cr_expect(!m("a|b", "ab"));
	cr_expect(m("", ""));
	cr_expect(!m("", "a"));
	cr_expect(m("mr_.*", "mr_"));
	cr_expect(!m("mr_.*", "mr_a\nb"), ".* stops at a newline");
	cr_expect(!m("mr_.*", "xmr_"));
	cr_expect(m(".*9", "9"));
	cr_expect(!m(".*9", "a\n9"));
	cr_expect(!m(".*9", "95"));
	cr_expect(m(".*-9", "东营-9"));
	cr_expect(m("(?m)a$", "a"));
}

Test(regex, pasted_in_as_prometheus_pastes_it)
{
	/* label_replace pastes the pattern between "^(?:" and ")$": this is
	 * "^(?:a)|(b)$", a value starting with a or ending in b */
	char *cause = NULL;
	struct pw_regex *re = pw_regex_new("a)|(b", false, &cause);
	cr_assert_not_null(re, "%s", cause ? cause : "?");
	cr_expect(pw_regex_match(re, "axx", 3));
	cr_expect(pw_regex_match(re, "xxb", 3));
	cr_expect(!pw_regex_match(re, "xbx", 3));
	pw_regex_free(re);
	/* label matchers also parse it alone, and refuse it as Prometheus does */
	cr_expect_null(pw_regex_new("a)|(b", true, &cause));
	cr_expect_str_eq(cause, "error parsing regexp: unexpected ): `a)|(b`");
	free(cause);
}

Test(regex, no_backtracking_limit)
{
	/* PCRE2 gave up on these and called them non-matches; RE2 is linear */
	char s[4100];
	memset(s, 'a', 4096);
	strcpy(s + 4096, "123");
	cr_expect(m("(a|aa)*b|a*[0-9]+", s));
	cr_expect(m("(a*)*[0-9]+", s));
	cr_expect(!m("(a|aa)*b", s));
	memset(s, 'a', 4096);
	s[4096] = 'b';
	s[4097] = '\0';
	cr_expect(m("(a|aa)*b", s));
	cr_expect(m("(.*)*.*b", s));
}

Test(regex, go_refusals_in_go_words)
{
	/* PCRE-only syntax */
	expect_refusal("(?C1)", "error parsing regexp: invalid or unsupported Perl syntax: `(?C`");
	expect_refusal("(?R)", "error parsing regexp: invalid or unsupported Perl syntax: `(?R`");
	expect_refusal("a\\C", "error parsing regexp: invalid escape sequence: `\\C`");
	expect_refusal("(?=a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`");
	expect_refusal("(a)\\1", "error parsing regexp: invalid escape sequence: `\\1`");
	expect_refusal("a++", "error parsing regexp: invalid nested repetition operator: `++`");
	/* plain errors: the argument is the expression as Prometheus compiles it */
	expect_refusal("(unclosed", "error parsing regexp: missing closing ): `^(?:(unclosed)$`");
	expect_refusal("[a", "error parsing regexp: missing closing ]: `[a)$`");
	expect_refusal("*", "error parsing regexp: missing argument to repetition operator: `*`");
	expect_refusal("a{1001}", "error parsing regexp: invalid repeat count: `{1001}`");
	/* "\\" pasted in becomes "^(?:\\)$": an escaped ) and no closing one */
	expect_refusal("\\", "error parsing regexp: missing closing ): `^(?:\\)$`");
	/* \Q...\E is literal text: \C inside it is two characters */
	cr_expect(m("\\Qa\\C\\E", "a\\C"));
	cr_expect(m("\\\\C", "\\C"), "an escaped backslash, then C");
}

Test(regex, program_size_is_bounded_and_named)
{
	/* a thousand copies of every letter of Unicode is far past 8 MiB of
	 * program: refused, naming the expression and the limit */
	char *cause = refusal("x\\pL{1000}");
	cr_expect(strstr(cause, "expression too large") != NULL, "%s", cause);
	cr_expect(strstr(cause, "`^(?:x\\pL{1000})$`") != NULL, "%s", cause);
	cr_expect(strstr(cause, "8 MiB") != NULL, "%s", cause);
	free(cause);
	/* nested repeats beyond 1000 in all are Go's "invalid repeat count" */
	cause = refusal("((a{100}){100})");
	cr_expect(strstr(cause, "invalid repeat count") != NULL, "%s", cause);
	free(cause);
	/* a dashboard's alternation of 5,000 values is fine */
	size_t cap = 5000 * 12 + 1, n = 0;
	char *alt = malloc(cap);
	for (int i = 0; i < 5000; i++)
		n += (size_t)snprintf(alt + n, cap - n, "%sv%05d", i ? "|" : "", i);
	cr_expect(m(alt, "v04999"));
	cr_expect(!m(alt, "v05000"));
	free(alt);
}

static void expect_replace(const char *pat, const char *subj, const char *tpl, const char *want)
{
	char *cause = NULL, *out = NULL;
	struct pw_regex *re = pw_regex_new(pat, false, &cause);
	cr_assert_not_null(re, "%s: %s", pat, cause ? cause : "?");
	bool ok = pw_regex_replace(re, subj, tpl, &out);
	if (want) {
		cr_expect(ok, "%s matches %s", pat, subj);
		if (ok)
			cr_expect_str_eq(out, want, "%s on %s with %s", pat, subj, tpl);
	} else {
		cr_expect(!ok, "%s does not match %s", pat, subj);
	}
	free(out);
	pw_regex_free(re);
}

Test(regex, replacement_as_go_expands_it)
{
	expect_replace("(.*)-(.*)", "a-b", "$2-$1", "b-a");
	expect_replace("(.*)-(.*)", "a-b", "${2}x", "bx");
	expect_replace("(.*)-(.*)", "a-b", "$2x", ""); /* $2x names the group "2x" */
	expect_replace("(?P<city>.*)-(.*)", "济南-1", "<$city>", "<济南>");
	expect_replace("(?P<city>.*)-(.*)", "济南-1", "${city}${2}", "济南1");
	expect_replace("(.*)", "ab", "$$1 $", "$1 $");
	expect_replace("(.*)", "ab", "${1", "${1"); /* a malformed $ is text */
	expect_replace("(.*)", "ab", "$01", ""); /* no leading zeros: the name "01" */
	expect_replace("(.*)", "ab", "$9", ""); /* no such group */
	expect_replace("(a)|(b)", "b", "[$1][$2]", "[][b]");
	expect_replace("(.*)", "ab", "$名", ""); /* names may be any letters, as in Go */
	expect_replace("x(.*)", "ab", "$1", NULL);
	expect_replace("", "", "e", "e");
}
