/* What the collector decides about URLs a platform hands it, and the label
 * limits scrapes and imports share (collector/urls.c, collector/import.c;
 * docs/collector.md). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "collector_int.h"

static void redacts(const char *url, const char *want)
{
	char *got = collector_redact_url(url);
	cr_expect_str_eq(got, want, "redact(%s)", url);
	free(got);
}

Test(urls, redact_password_only)
{
	redacts("http://user:pa55@platform.example/api", "http://user:<secret>@platform.example/api");
	redacts("https://u:p@ss@h:8443/x?y=@z#@w", "https://u:<secret>@h:8443/x?y=@z#@w");
	redacts("http://:tok@h/", "http://:<secret>@h/");
	/* a user name alone, and @ or : outside the authority, are no password */
	redacts("http://user@h/", "http://user@h/");
	redacts("http://h/p?a=b:c@d", "http://h/p?a=b:c@d");
	redacts("http://h:8080/x", "http://h:8080/x");
	redacts("file:///etc/pacewatch/x.json", "file:///etc/pacewatch/x.json");
	redacts("not a url", "not a url");
}

static void origin_is(const char *url, const char *want)
{
	char *got = collector_url_origin(url);
	cr_assert(got != NULL, "origin(%s)", url);
	cr_expect_str_eq(got, want, "origin(%s)", url);
	free(got);
}

Test(urls, origin_fills_the_port_and_lowercases)
{
	origin_is("http://127.0.0.1/x", "http://127.0.0.1:80");
	origin_is("HTTPS://Platform.EXAMPLE/x?y", "https://platform.example:443");
	origin_is("http://h:8080", "http://h:8080");
	origin_is("file:///tmp/x", "file://");
	cr_expect_null(collector_url_origin("::"));
}

Test(urls, allowed_origins_are_origins)
{
	char *o = NULL, *why = NULL;
	cr_assert_eq(collector_origin_parse("https://cdn.example", &o, &why), 0);
	cr_expect_str_eq(o, "https://cdn.example:443");
	free(o);
	cr_assert_eq(collector_origin_parse("http://CDN.example:8080/", &o, &why), 0);
	cr_expect_str_eq(o, "http://cdn.example:8080");
	free(o);
	const char *bad[] = {"https://cdn.example/api", "https://cdn.example?x=1", "ftp://cdn.example",
			     "file:///tmp", "cdn.example", ""};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		o = why = NULL;
		cr_expect_eq(collector_origin_parse(bad[i], &o, &why), PW_EINVAL, "%s", bad[i]);
		cr_expect_null(o, "%s", bad[i]);
		cr_expect(why && strstr(why, "is not an origin"), "%s: %s", bad[i], why ? why : "");
		free(why);
	}
}

/* 0 and foreign, or the refusal's words */
static void link_ok(const char *target, const char *link, bool want_foreign)
{
	char *allowed[] = {"https://cdn.example:443"};
	char *why = NULL;
	bool foreign = !want_foreign;
	int rc = collector_link_check(target, allowed, 1, link, &foreign, &why);
	cr_expect_eq(rc, 0, "%s from %s: %s", link, target, why ? why : "");
	cr_expect_eq(foreign, want_foreign, "%s from %s: foreign", link, target);
	free(why);
}

static void link_refused(const char *target, const char *link, const char *words)
{
	char *allowed[] = {"https://cdn.example:443"};
	char *why = NULL;
	bool foreign = false;
	int rc = collector_link_check(target, allowed, 1, link, &foreign, &why);
	cr_expect_eq(rc, PW_EINVAL, "%s from %s is refused", link, target);
	cr_expect(why && strstr(why, words), "%s from %s: want \"%s\" in \"%s\"", link, target, words,
		  why ? why : "");
	free(why);
}

Test(urls, links_same_origin_and_allowed)
{
	link_ok("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b?page=2", false);
	link_ok("http://Platform.example/a", "HTTP://platform.EXAMPLE:80/b", false);
	link_ok("https://platform.example:443/a", "https://platform.example/b", false);
	link_ok("http://platform.example/a", "https://cdn.example/b", true);
	link_ok("http://platform.example/a", "https://CDN.example:443/b", true);
	link_ok("file:///srv/a.json", "file:///srv/b.json", false);
}

Test(urls, links_elsewhere_refused)
{
	const char *t = "http://127.0.0.1:8080/a";
	link_refused(t, "file:///etc/pacewatch/key.pem", "scheme \"file\" is not followed from an http://");
	link_refused(t, "ftp://127.0.0.1:8080/x", "scheme \"ftp\" is not followed");
	link_refused(t, "gopher://127.0.0.1:8080/x", "scheme \"gopher\"");
	link_refused(t, "dict://127.0.0.1:8080/x", "scheme \"dict\"");
	link_refused(t, "http://127.0.0.1:8081/x", "its origin http://127.0.0.1:8081 is neither");
	link_refused(t, "https://127.0.0.1:8080/x", "its origin https://127.0.0.1:8080");
	link_refused(t, "http://127.0.0.1.evil.example:8080/x", "neither the target's");
	/* the target's host as user name, another host behind it */
	link_refused(t, "http://127.0.0.1:8080@evil.example/x", "user:password@");
	link_refused(t, "http://x:y@127.0.0.1:8080/x", "user:password@");
	/* an allowed origin on another port or scheme is another origin */
	link_refused(t, "http://cdn.example/b", "pagination.allowed_origins");
	link_refused(t, "https://cdn.example:8443/b", "pagination.allowed_origins");
	link_refused(t, "", "not a URL");
}

Test(limits, label_limits)
{
	struct pw_label l[] = {{"__name__", "m"}, {"city", "vvvvvvvvvvv"}, {"job", "j"}};
	char *why;

	cr_expect_null(collector_label_limits(l, 3, 3, 3, 8, 11));
	cr_expect_null(collector_label_limits(l, 3, 3, 0, 0, 0), "0: no limit");
	why = collector_label_limits(l, 3, 4, 3, 0, 0);
	cr_expect_str_eq(why, "label_limit exceeded (metric: m, number of labels: 4, limit: 3)");
	free(why);
	why = collector_label_limits(l, 3, 3, 0, 7, 0);
	cr_expect_str_eq(why, "label_name_length_limit exceeded (metric: m, label name: __name__, "
			      "length: 8, limit: 7)");
	free(why);
	why = collector_label_limits(l, 3, 3, 0, 0, 10);
	cr_expect_str_eq(why, "label_value_length_limit exceeded (metric: m, label name: city, "
			      "value: \"vvvvvvvvvvv\", length: 11, limit: 10)");
	free(why);
}

Test(limits, long_names_cut_in_the_refusal)
{
	char big[5001];
	memset(big, 'x', 5000);
	big[5000] = '\0';
	struct pw_label l[] = {{"__name__", big}};
	char *why = collector_label_limits(l, 1, 1, 0, 0, 2048);
	cr_assert_not_null(why);
	cr_expect(strlen(why) < 300, "the refusal quotes at most 50 characters: %zu", strlen(why));
	cr_expect(strstr(why, "length: 5000, limit: 2048") != NULL, "%s", why);
	free(why);
}

Test(numbers, overflow_is_not_inf_written)
{
	cr_expect(collector_overflow("1e400", 5, __builtin_inf()));
	cr_expect(collector_overflow("-1e400", 6, -__builtin_inf()));
	cr_expect(!collector_overflow("+Inf", 4, __builtin_inf()));
	cr_expect(!collector_overflow("-inf", 4, -__builtin_inf()));
	cr_expect(!collector_overflow("1.5", 3, 1.5));
}
