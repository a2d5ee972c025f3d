/* Configuration loading (conf/): values, defaults, comments, and every
 * error message with its line and column, in files with comments and
 * Chinese text. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "common.h"

static struct conf *load_ok(const char *text)
{
	struct conf *c = NULL;
	struct conf_errs errs;
	int rc = conf_load_buffer("t.json", text, strlen(text), &c, &errs);
	if (rc) {
		conf_errs_print(&errs, stderr);
		cr_assert_fail("config should load");
	}
	conf_errs_free(&errs);
	return c;
}

Test(conf, values_defaults_and_comments)
{
	struct conf *c = load_ok(
		"// 配置 with a comment\n"
		"{\n"
		"  /* block\n     comment */\n"
		"  \"global\": {\"scrape_interval\": \"15s\", \"external_labels\": {\"province\": \"山东\"}},\n"
		"  # hash comment, \"quotes\" inside\n"
		"  \"storage\": {\"path\": \"/tmp/x\", \"max_size\": \"1GiB\", \"sync\": false},\n"
		"  \"targets\": [{\"name\": \"mr\", \"url\": \"http://127.0.0.1:1/a//b\",\n"
		"               \"labels\": {\"source\": \"互认平台 // not a comment\"},\n"
		"               \"metrics\": [{\"metric\": \"m\", \"value\": \"@.v\",\n"
		"                            \"value_map\": {\"online\": 1, \"offline\": 0}}]}]\n"
		"}\n");
	cr_expect_eq(c->global.scrape_interval_ms, 15000);
	cr_expect_eq(c->global.scrape_timeout_ms, 10000);
	cr_expect_str_eq(c->global.timezone, "Asia/Shanghai");
	cr_assert_eq(c->global.external_labels.n, 1);
	cr_expect_str_eq(c->global.external_labels.v[0].value, "山东");
	cr_expect_str_eq(c->storage.path, "/tmp/x");
	cr_expect_eq(c->storage.max_size, 1ULL << 30);
	cr_expect_eq(c->storage.initial_size, 64ULL << 20);
	cr_expect_eq(c->storage.sync, false);
	cr_expect_eq(c->storage.sync_meta, true, "a reported commit survives a power loss");
	cr_expect_eq(c->storage.retention_ms, 400LL * 86400000);
	cr_assert_eq(c->http.nlisten, 1);
	cr_expect_str_eq(c->http.listen[0], "127.0.0.1:9470");
	cr_assert_eq(c->ntargets, 1);
	struct conf_target *t = &c->targets[0];
	cr_expect_str_eq(t->url, "http://127.0.0.1:1/a//b");
	cr_expect_str_eq(t->labels.v[0].value, "互认平台 // not a comment");
	cr_expect_eq(t->interval_ms, 15000, "interval defaults to global");
	cr_expect_eq(t->timeout_ms, 10000);
	cr_expect_str_eq(t->method, "GET");
	cr_expect_eq(t->format, CONF_FORMAT_JSON);
	cr_expect_eq(t->tls_verify, true);
	cr_expect_eq(t->max_response_size, 16ULL << 20);
	cr_assert_eq(t->nmetrics, 1);
	cr_expect_str_eq(t->metrics[0].path, "$");
	cr_expect_str_eq(t->metrics[0].value_map.v[0].value, "1");
	cr_expect_eq(t->pagination.max_pages, 100);
	conf_free(c);
}

Test(conf, defaults_without_a_file)
{
	struct conf *c = conf_defaults();
	cr_expect_str_eq(c->storage.path, "./data");
	cr_expect_str_eq(c->http.listen[0], "127.0.0.1:9470");
	cr_expect_eq(c->ntargets, 0);
	conf_free(c);
}

Test(conf, secrets_come_from_files)
{
	FILE *f = fopen("/tmp/pw-conf-test.token", "w");
	fputs("s3cret-令牌\n", f);
	fclose(f);
	struct conf *c = load_ok(
		"{\"targets\": [{\"name\": \"a\", \"url\": \"https://x/\", \"format\": \"prometheus\",\n"
		"  \"bearer_token_file\": \"/tmp/pw-conf-test.token\",\n"
		"  \"basic_auth\": {\"username\": \"u\", \"password_file\": \"/tmp/pw-conf-test.token\"}}]}");
	cr_expect_str_eq(c->targets[0].bearer_token, "s3cret-令牌");
	cr_expect_str_eq(c->targets[0].basic_user, "u");
	cr_expect_str_eq(c->targets[0].basic_password, "s3cret-令牌");
	conf_free(c);
	remove("/tmp/pw-conf-test.token");
}

/* An empty or whitespace-only credential file would make an empty
 * credential valid (`Authorization: Bearer ` with nothing after it, `curl
 * -u user:`): it is an error at the key, naming the file, and its content
 * is never shown. */
Test(conf, empty_secret_files_are_errors)
{
	static const char *const contents[] = {"", "\n", " \t\r\n", "\n\n"};
	static const char *const keys[] = {
		"{\"http\": {\"read_auth\": {\n  \"bearer_token_file\": \"%s\"}}}",
		"{\"http\": {\"write_auth\": {\"username\": \"r\",\n  \"password_file\": \"%s\"}}}",
		("{\"targets\": [{\"name\": \"a\", \"url\": \"http://a/\", \"format\": \"prometheus\",\n"
		 "  \"bearer_token_file\": \"%s\"}]}"),
	};
	static const char *const paths[] = {"http.read_auth.bearer_token_file",
					    "http.write_auth.password_file",
					    "targets[0].bearer_token_file"};
	const char *file = "/tmp/pw-conf-test-empty.secret";
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		for (size_t i = 0; i < sizeof contents / sizeof contents[0]; i++) {
			FILE *f = fopen(file, "w");
			cr_assert_not_null(f);
			fputs(contents[i], f);
			fclose(f);
			char *text = xasprintf(keys[k], file);
			struct conf *c = NULL;
			struct conf_errs errs;
			cr_expect_eq(conf_load_buffer("t.json", text, strlen(text), &c, &errs), PW_EINVAL,
				     "key %zu, content %zu: an empty secret is refused", k, i);
			bool found = false;
			for (size_t e = 0; e < errs.n; e++) {
				if (strcmp(errs.v[e].path, paths[k]) != 0)
					continue;
				found = true;
				cr_expect_eq(errs.v[e].line, 2, "at the key's line");
				cr_expect_eq(errs.v[e].col, 3, "at the key's column, got %zu", errs.v[e].col);
				cr_expect(strstr(errs.v[e].msg, file) != NULL, "names the file: %s",
					  errs.v[e].msg);
				cr_expect(strstr(errs.v[e].msg, "empty") != NULL, "says why: %s",
					  errs.v[e].msg);
			}
			cr_expect(found, "key %zu, content %zu: an error at %s", k, i, paths[k]);
			conf_errs_free(&errs);
			conf_free(c);
			free(text);
		}
	}
	/* a secret with spaces inside is a secret */
	FILE *f = fopen(file, "w");
	fputs(" p@ss word \n", f);
	fclose(f);
	char *text = xasprintf(keys[0], file);
	struct conf *c = load_ok(text);
	cr_expect_str_eq(c->http.read_auth.bearer_token, " p@ss word ");
	conf_free(c);
	free(text);
	remove(file);
}

struct bad {
	const char *text;
	size_t line, col;
	const char *path, *msg;
};

/* each case fails with its message at its path, line and column */
static void expect_errors(const struct bad *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct conf *c = NULL;
		struct conf_errs errs;
		bool found = false;
		int rc = conf_load_buffer("bad.json", cases[i].text, strlen(cases[i].text), &c, &errs);
		cr_expect_eq(rc, PW_EINVAL, "case %zu should fail", i);
		for (size_t k = 0; k < errs.n; k++) {
			const struct conf_err *e = &errs.v[k];
			if (strstr(e->msg, cases[i].msg) && strcmp(e->path, cases[i].path) == 0) {
				found = true;
				cr_expect_eq(e->line, cases[i].line, "case %zu: line %zu", i, e->line);
				cr_expect_eq(e->col, cases[i].col, "case %zu: col %zu", i, e->col);
			}
		}
		if (!found) {
			conf_errs_print(&errs, stderr);
			cr_expect(found, "case %zu: no error \"%s\" at %s", i, cases[i].msg, cases[i].path);
		}
		conf_errs_free(&errs);
		conf_free(c);
	}
}

#define T(name, url) "{\"name\": \"" name "\", \"url\": \"" url "\", \"format\": \"prometheus\""

Test(conf, every_error_has_its_place)
{
	static const struct bad cases[] = {
		{"{\n  \"global\": {\"scrape_intervall\": \"1m\"}\n}", 2, 14, "global.scrape_intervall",
		 "unknown key \"scrape_intervall\"; did you mean \"scrape_interval\"?"},
		{"{\"zzz\": 1}", 1, 2, "zzz", "unknown key \"zzz\""},
		{"// 注释\n{\"storage\": {\"max_size\": \"lots\"}}", 2, 26, "storage.max_size",
		 "expected a size such as"},
		{"{\"global\": {\"scrape_timeout\": 15}}", 1, 31, "global.scrape_timeout",
		 "expected a duration such as \"90s\", \"15m\" or \"1h30m\", found an integer"},
		{"{\"storage\": {\"sync\": \"yes\"}}", 1, 22, "storage.sync", "expected true or false"},
		{"{\"global\": {\"max_concurrent_scrapes\": 0}}", 1, 39, "global.max_concurrent_scrapes",
		 "expected an integer from 1 to 10000, found 0"},
		{"{\"query\": {\"threads\": 9}}", 1, 23, "query.threads",
		 "expected an integer from 0 to 8, found 9"},
		{"{\"targets\": [{\"url\": \"http://a/\"}]}", 1, 14, "targets[0].name",
		 "missing required key \"name\""},
		{"{\"targets\": [" T("a", "http://a/") "}, " T("a", "http://b/") "}]}", 1, 82,
		 "targets[1].name", "target name \"a\" is already used by targets[0]"},
		{"{\"targets\": [" T("a", "ftp://a/") "}]}", 1, 35, "targets[0].url",
		 "expected an http://, https:// or file:// URL"},
		{"{\"global\": {\"timezone\": \"Mars/Base\"}}", 1, 25, "global.timezone",
		 "unknown time zone \"Mars/Base\""},
		{"{\"targets\": [" T("a", "http://a/") ", \"labels\": {\"bad-name\": \"x\"}}]}", 1, 83,
		 "targets[0].labels.bad-name", "is not a valid label name"},
		{"{\"targets\": [" T("a", "http://a/") ", \"interval\": \"10s\", \"timeout\": \"1m\"}]}",
		 1, 102, "targets[0].timeout", "timeout is longer than the target's interval"},
		{"{\"targets\": [" T("a", "http://a/") ", \"method\": \"PUT\"}]}", 1, 82,
		 "targets[0].method", "expected one of \"GET\", \"POST\", found \"PUT\""},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"http://a/\", \"format\": \"xml\"}]}", 1, 58,
		 "targets[0].format", "expected one of \"json\", \"prometheus\", \"csv\""},
		{"{\"targets\": [" T("a", "http://a/") ", \"bearer_token_file\": \"/nonexistent/t\"}]}",
		 1, 93, "targets[0].bearer_token_file", "cannot read \"/nonexistent/t\": No such file"},
		{"{\"a\": 1,\n \"a\": 2}", 2, 2, "", "duplicate object key"},
		{"{\n  \"storage\": {\"path\": \"x\",}\n}", 2, 27, "", "string or '}' expected"},
		{"[1, 2]", 1, 1, "", "expected an object at the top of the file"},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"http://a/\"}]}", 1, 14, "targets[0]",
		 "a json target needs \"metrics\""},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"http://a/\", \"metrics\": [{\"metric\": \"1x\", "
		 "\"value\": \"@\"}]}]}", 1, 71, "targets[0].metrics[0].metric",
		 "\"1x\" is not a valid metric name"},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"http://a/\", \"metrics\": [{\"metric\": \"m\", "
		 "\"value\": \"@\", \"value_map\": {\"on\": \"yes\"}}]}]}", 1, 110,
		 "targets[0].metrics[0].value_map.on", "expected a number, found \"yes\""},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"http://a/\", \"format\": \"csv\", "
		 "\"csv\": {\"values\": {\"m\": \"c\"}, \"value_map\": {\"/\": \"blank\"}}}]}", 1, 114,
		 "targets[0].csv.value_map./",
		 "expected a number, or \"\" for a blank cell, found \"blank\""},
		{"{\"targets\": [" T("a", "http://a/") ", \"pagination\": {\"next\": \"$.n\", "
		 "\"page_param\": \"p\"}}]}", 1, 102, "targets[0].pagination.page_param",
		 "give either \"next\" or \"page_param\", not both"},
		{"{\"targets\": [" T("a", "http://a/") ", \"pagination\": {\"next\": \"$.n\", "
		 "\"allowed_origins\": [\"https://ok.example:8443/\", \"https://cdn.example/api\"]}}]}", 1, 150,
		 "targets[0].pagination.allowed_origins[1]",
		 "expected an origin such as \"https://host\" or \"http://host:8080\" (http or https, "
		 "host and port only), found \"https://cdn.example/api\""},
		{"{\"targets\": [" T("a", "http://a/") ", \"pagination\": {\"next\": \"$.n\", "
		 "\"allowed_origins\": [\"https://ok.example:8443/\", \"ftp://cdn.example\"]}}]}", 1, 150,
		 "targets[0].pagination.allowed_origins[1]",
		 "expected an origin such as \"https://host\" or \"http://host:8080\" (http or https, "
		 "host and port only), found \"ftp://cdn.example\""},
		{"{\"targets\": [" T("a", "http://a/") ", \"pagination\": {\"next\": \"$.n\", "
		 "\"allowed_origins\": [\"https://ok.example:8443/\", \"https://u:p@cdn.example\"]}}]}", 1, 150,
		 "targets[0].pagination.allowed_origins[1]",
		 "expected an origin such as \"https://host\" or \"http://host:8080\" (http or https, "
		 "host and port only), found \"https://u:p@cdn.example\""},
		{"{\"http\": {\"listen\": [\"localhost\"]}}", 1, 22, "http.listen[0]",
		 "expected host:port or [ipv6]:port"},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"file:///x.csv\", \"format\": \"csv\"}]}", 1, 14,
		 "targets[0].csv", "a csv target needs csv.values"},
		/* ledgers (docs/ledgers.md) */
		{"{\"targets\": [{\"name\": \"a\", \"format\": \"prometheus\"}]}", 1, 14, "targets[0]",
		 "missing required key \"url\" (or \"path\", a ledger file)"},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"file:///x\", \"path\": \"x\", \"format\": \"prometheus\"}]}",
		 1, 14, "targets[0]", "give either \"url\" or \"path\", not both"},
		{"{\"targets\": [{\"name\": \"a\", \"path\": \"x.xlsx\", \"format\": \"xlsx\"}]}", 1, 14,
		 "targets[0].ledger", "a xlsx target needs ledger.values"},
		{"{\"targets\": [{\"name\": \"a\", \"path\": \"x.csv\", \"format\": \"csv\",\n"
		 " \"csv\": {\"values\": {\"n\": \"N\"}}, \"ledger\": {\"values\": {\"n\": \"N\"}}}]}", 2, 9,
		 "targets[0].csv", "give either \"ledger\" or its older name \"csv\", not both"},
		{"{\"ledgers\": [{\"name\": \"a\", \"ledger\": {\"values\": {\"x\": \"X\"}}},\n"
		 " {\"name\": \"a\", \"ledger\": {\"values\": {\"x\": \"X\"}}}]}", 2, 11, "ledgers[1].name",
		 "ledger name \"a\" is already used by ledgers[0]"},
		{"{\"ledgers\": [{\"name\": \"a\", \"ledger\": {\"values\": {\"x-y\": \"X\"}}}]}", 1, 50,
		 "ledgers[0].ledger.values.x-y", "\"x-y\" is not a valid metric name"},
		{"{\"ledgers\": [{\"name\": \"a\", \"format\": \"json\", \"ledger\": {\"values\": {\"x\": \"X\"}}}]}",
		 1, 38, "ledgers[0].format", "a ledger is \"csv\" or \"xlsx\""},
		{"{\"ledgers\": [{\"name\": \"a\", \"timezone\": \"Mars/Olympus\", \"ledger\": {\"values\": {\"x\": \"X\"}}}]}",
		 1, 40, "ledgers[0].timezone", "Mars/Olympus"},
		{"{\"storage\": {\"path\": 5}}", 1, 22, "storage.path", "expected a string, found an integer"},
		{"{\"global\": {\"max_concurrent_scrapes\": \"many\"}}", 1, 39, "global.max_concurrent_scrapes", "expected an integer, found a string"},
		{"{\"global\": {\"external_labels\": [\"a\"]}}", 1, 32, "global.external_labels", "expected an object of names to values, found a list"},
		{"{\"global\": {\"external_labels\": {\"a\": {\"b\": 1}}}}", 1, 38, "global.external_labels.a", "expected a string or number, found an object"},
		{"{\"http\": {\"listen\": \"127.0.0.1:1\"}}", 1, 21, "http.listen", "expected a list of strings, found a string"},
		{"{\"http\": {\"listen\": [1]}}", 1, 22, "http.listen[0]", "expected a string, found an integer"},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"http://a/\", \"format\": \"prometheus\", \"bearer_token_file\": true}]}", 1, 93, "targets[0].bearer_token_file", "expected a file name, found a boolean"},
		{"{\"storage\": []}", 1, 13, "storage", "expected an object, found a list"},
		{"{\"targets\": {\"a\": 1}}", 1, 13, "targets", "expected a list of objects, found an object"},
		{"{\"targets\": [1]}", 1, 14, "targets[0]", "expected an object, found an integer"},
		{"{\"global\": {\"scrape_interval\": \"10s\", \"scrape_timeout\": \"20s\"}}", 1, 57, "global.scrape_timeout", "scrape_timeout is longer than scrape_interval"},
		{"{\"global\": {\"scrape_interval\": \"0\"}}", 1, 32, "global.scrape_interval", "must be longer than 0s"},
		{"{\"storage\": {\"initial_size\": \"2GiB\", \"max_size\": \"1GiB\"}}", 1, 30, "storage.initial_size", "initial_size is larger than max_size"},
		{"{\"storage\": {\"retention\": \"0\"}}", 1, 27, "storage.retention", "must be longer than 0s"},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"http://a/\", \"format\": \"prometheus\", \"timezone\": \"Moon/Base\"}]}", 1, 84, "targets[0].timezone", "unknown time zone \"Moon/Base\""},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"http://a/\", \"format\": \"prometheus\", \"metrics\": [{\"metric\": \"m\", \"value\": \"@\"}]}]}", 1, 72, "targets[0].metrics", "\"metrics\" applies to format \"json\" only"},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"file:///x\", \"format\": \"csv\", \"csv\": {\"delimiter\": \";;\", \"values\": {\"m\": \"c\"}}}]}", 1, 86, "targets[0].csv.delimiter", "expected one character"},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"file:///x\", \"format\": \"csv\", \"csv\": {\"values\": {\"9m\": \"c\"}}}]}", 1, 84, "targets[0].csv.values.9m", "\"9m\" is not a valid metric name"},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"http://a/\", \"metrics\": [{\"metric\": \"m\", \"value\": \"@\", \"type\": \"summary\"}]}]}", 1, 98, "targets[0].metrics[0].type", "expected \"counter\", \"gauge\" or \"untyped\", found \"summary\""},
		{"{\"http\": {\"tls_cert_file\": \"c.pem\"}}", 1, 10, "http.tls_key_file", "tls_cert_file and tls_key_file go together"},
		{"{\"http\": {\"write_auth\": {\"username\": \"u\"}}}", 1, 25, "http.write_auth.password_file", "username and password_file go together"},
		{"{\"targets\": [{\"name\": \"a\", \"url\": \"http://a/\", \"metrics\": [{\"metric\": \"m\"}]}]}", 1, 60, "targets[0].metrics[0].value", "missing required key \"value\""},
		/* columns count characters, after comments and Chinese text */
		{"/* 检查检验结果互认 */\n// 注释：山东\n{\"targets\": [{\"name\": \"互认平台\", \"labels\": "
		 "{\"市\": \"济南\"}, \"url\": \"http://a/\", \"format\": \"prometheus\"}]}",
		 3, 42, "targets[0].labels.市", "is not a valid label name"},
		{"# 第一行注释\n{\"global\": {\"external_labels\": {\"省份\": \"山东\"}, \"timezone\": \"亚洲/上海\"}}",
		 2, 58, "global.timezone", "unknown time zone \"亚洲/上海\""},
	};
	expect_errors(cases, sizeof cases / sizeof cases[0]);
}

#define HOOK_A "{\"name\": \"a\", \"webhook\": {\"url\": \"http://x/\"}}"

Test(conf, notify_errors_have_their_place)
{
	static const struct bad cases[] = {
		{"{\"notify\": {\"receivers\": [" HOOK_A "],\n"
		 "  \"route\": {\"receiver\": \"b\"}}}", 2, 25, "notify.route.receiver",
		 "no receiver is named \"b\""},
		{"{\"notify\": {\"receivers\": [" HOOK_A "],\n"
		 "  \"route\": {\"receiver\": \"a\", \"group_interval\": \"10m\",\n"
		 "             \"repeat_interval\": \"5m\"}}}", 3, 33, "notify.route.repeat_interval",
		 "repeat_interval (300 s) is shorter than group_interval (600 s)"},
		{"{\"notify\": {\"receivers\": [" HOOK_A "],\n"
		 "  \"route\": {\"receiver\": \"a\", \"routes\": [{\"matchers\": [\"=x\"]}]}}}", 2,
		 55, "notify.route.routes[0].matchers[0]", "expected a label name at the start of \"=x\""},
		{"{\"notify\": {\"receivers\": [\n"
		 "  {\"name\": \"a\", \"webhook\": {\"url\": \"http://x/\"}, \"alertmanager\": "
		 "{\"urls\": [\"http://y/\"]}}],\n"
		 "  \"route\": {\"receiver\": \"a\"}}}", 2, 3, "notify.receivers[0]",
		 "receiver \"a\" needs exactly one of email, webhook and alertmanager (found 2)"},
		{"{\"notify\": {\"receivers\": [\n"
		 "  {\"name\": \"m\", \"email\": {\"smarthost\": \"mail\", \"from\": \"a@b\", \"to\": "
		 "[\"c@d\"]}}],\n  \"route\": {\"receiver\": \"m\"}}}", 2, 40,
		 "notify.receivers[0].email.smarthost", "expected host:port, found \"mail\""},
		{"{\"notify\": {\"time_intervals\": [{\"name\": \"night\", \"time_intervals\": [\n"
		 "  {\"times\": [{\"start_time\": \"22:00\", \"end_time\": \"08:00\"}]}]}]}}", 2, 50,
		 "notify.time_intervals[0].time_intervals[0].times[0].end_time",
		 "end_time 08:00 is not after start_time 22:00"},
		{"{\"notify\": {\"time_intervals\": [{\"name\": \"w\", \"time_intervals\": [\n"
		 "  {\"weekdays\": [\"monday:funday\"]}]}]}}", 2, 17,
		 "notify.time_intervals[0].time_intervals[0].weekdays[0]",
		 "expected a weekday or weekday range (monday, monday:friday), found \"monday:funday\""},
		{"{\"notify\": {\"receivers\": [" HOOK_A "],\n"
		 "  \"route\": {\"receiver\": \"a\", \"mute_time_intervals\": [\"nights\"]}}}", 2,
		 54, "notify.route.mute_time_intervals[0]", "no time interval is named \"nights\""},
		{"{\"notify\": {\"receivers\": [" HOOK_A "], \"route\": {\"receiver\": \"a\"},\n"
		 "  \"digests\": [{\"receiver\": \"a\", \"at\": \"9am\"}]}}", 2, 28,
		 "notify.digests[0].receiver", "digests are emails; \"a\" is not an email receiver"},
		{"{\"notify\": {\"receivers\": [" HOOK_A "], \"route\": {\"receiver\": \"a\"},\n"
		 "  \"digests\": [{\"receiver\": \"a\", \"at\": \"9am\"}]}}", 2, 39,
		 "notify.digests[0].at", "expected a time of day HH:MM, found \"9am\""},
		{"{\"notify\": {\"receivers\": [" HOOK_A "],\n"
		 "  \"route\": {\"group_by\": [\"kpi\"]}}}", 2, 3, "notify.route",
		 "the root route needs a receiver"},
		{"{\"notify\": {\"receivers\": [{\"name\": \"m\", \"email\": {\"smarthost\": \"h:25\",\n"
		 "  \"from\": \"pacewatch\", \"to\": [\"值班 <duty@example.org>\", \"a@b, c@d\"]}}],"
		 " \"route\": {\"receiver\": \"m\"}}}", 2, 11, "notify.receivers[0].email.from",
		 "expected an address such as pacewatch@example.org"},
		/* remote_write and shards */
		{"{\"remote_write\": [{\"name\": \"vm\",\n  \"url\": \"ftp://vm/\"}]}", 2, 10,
		 "remote_write[0].url", "expected an http:// or https:// URL, found \"ftp://vm/\""},
		{"{\"remote_write\": [{\"name\": \"vm\", \"url\": \"http://a/\"},\n"
		 "  {\"name\": \"vm\", \"url\": \"http://b/\"}]}", 2, 12, "remote_write[1].name",
		 "remote_write name \"vm\" is already used by remote_write[0]"},
		{"{\"remote_write\": [{\"name\": \"vm\", \"url\": \"http://a/\",\n"
		 "  \"min_backoff\": \"10s\", \"max_backoff\": \"1s\"}]}", 2, 40,
		 "remote_write[0].max_backoff", "max_backoff is shorter than min_backoff"},
		{"{\"global\": {\"shard\": {\"count\": 2,\n  \"index\": 2}}}", 2, 12,
		 "global.shard.index", "shard index 2 is not below shard count 2"},
		{"{\"notify\": {\"receivers\": [{\"name\": \"m\", \"email\": {\"smarthost\": \"h:25\",\n"
		 "  \"from\": \"pacewatch\", \"to\": [\"值班 <duty@example.org>\", \"a@b, c@d\"]}}],"
		 " \"route\": {\"receiver\": \"m\"}}}", 2, 56, "notify.receivers[0].email.to[1]",
		 "expected an address such as duty@example.org"},
	};
	expect_errors(cases, sizeof cases / sizeof cases[0]);
}

Test(conf, notify_routes_inherit)
{
	static const char text[] =
		"{\"notify\": {\"receivers\": [" HOOK_A ", {\"name\": \"b\", \"webhook\": "
		"{\"url\": \"http://y/\"}}],"
		" \"route\": {\"receiver\": \"a\", \"group_by\": [\"kpi\"], \"group_wait\": \"0s\","
		"  \"routes\": [{\"matchers\": [\"severity=critical\"], \"receiver\": \"b\", "
		"   \"repeat_interval\": \"1h\"}, {\"matchers\": [\"x!~\\\"y\\\"\"]}]}}}";
	struct conf *c = NULL;
	struct conf_errs errs;
	int rc = conf_load_buffer("ok.json", text, strlen(text), &c, &errs);
	if (rc)
		conf_errs_print(&errs, stderr);
	cr_assert_eq(rc, 0);
	const struct conf_route *r = &c->notify.route;
	cr_expect_eq(r->group_wait_ms, 0, "0s is a value, not unset");
	cr_expect_eq(r->group_interval_ms, 300000);
	cr_expect_eq(r->repeat_interval_ms, 4 * 3600000);
	cr_assert_eq(r->nroutes, 2);
	cr_expect_str_eq(r->routes[0].receiver, "b");
	cr_expect_eq(r->routes[0].repeat_interval_ms, 3600000);
	cr_expect_eq(r->routes[0].group_wait_ms, 0);
	cr_expect_str_eq(r->routes[1].receiver, "a", "a child without receiver takes the parent's");
	cr_assert_eq(r->routes[1].ngroup_by, 1);
	cr_expect_str_eq(r->routes[1].group_by[0], "kpi");
	struct conf_matcher m;
	char *err = NULL;
	cr_assert_eq(conf_matcher_parse(r->routes[1].matchers[0], &m, &err), 0);
	cr_expect_str_eq(m.name, "x");
	cr_expect_eq(m.op, CONF_MATCH_NRE);
	cr_expect_str_eq(m.value, "y");
	conf_matcher_free(&m);
	cr_assert_eq(conf_matcher_parse("city = 济南 ", &m, &err), 0);
	cr_expect_str_eq(m.value, "济南", "unquoted values are trimmed");
	conf_matcher_free(&m);
	cr_expect_str_eq(c->notify.external_url, "http://127.0.0.1:9470");
	conf_free(c);
	conf_errs_free(&errs);
}

Test(conf, all_errors_are_collected)
{
	const char *text = "{\"global\": {\"scrape_interval\": 5, \"timezone\": 1},\n"
			   " \"storage\": {\"sync\": 1, \"bogus\": true}}";
	struct conf *c = NULL;
	struct conf_errs errs;
	cr_expect_eq(conf_load_buffer("x.json", text, strlen(text), &c, &errs), PW_EINVAL);
	cr_expect_eq(errs.n, 4, "no follow-on errors from values already reported");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	conf_errs_print(&errs, f);
	fclose(f);
	cr_expect(strstr(buf, "x.json:2:25: storage.bogus: unknown key") != NULL, "%s", buf);
	cr_expect(strstr(buf, "4 errors") != NULL, "%s", buf);
	cr_expect(strstr(buf, "\n  ") != NULL, "shows the source line: %s", buf);
	free(buf);
	conf_errs_free(&errs);
}

Test(conf, reference_documents_every_key)
{
	FILE *f = fopen(PW_SOURCE_DIR "/docs/configuration.md", "r");
	cr_assert_not_null(f);
	char *doc = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&doc, &cap, '\0', f);
	fclose(f);
	cr_assert_gt(n, 0);
	struct conf_key_doc d;
	size_t i;
	for (i = 0; conf_key_doc(i, &d); i++) {
		char *want = xasprintf("`%s`", d.path);
		cr_expect(strstr(doc, want) != NULL, "docs/configuration.md lacks %s", want);
		free(want);
	}
	cr_expect_gt(i, 40);
	free(doc);
}

Test(conf, examples_load)
{
	static const char *const files[] = {"minimal.json", "notify.json"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char *p = xasprintf("%s/conf/examples/%s", PW_SOURCE_DIR, files[i]);
		struct conf *c = NULL;
		struct conf_errs errs;
		int rc = conf_load(p, &c, &errs);
		if (rc)
			conf_errs_print(&errs, stderr);
		cr_expect_eq(rc, 0, "%s", p);
		conf_errs_free(&errs);
		conf_free(c);
		free(p);
	}
}

/* the first error at path whose message holds msg, or NULL */
static const struct conf_err *find_err(const struct conf_errs *errs, const char *path,
				       const char *msg)
{
	for (size_t k = 0; k < errs->n; k++)
		if (strcmp(errs->v[k].path, path) == 0 && strstr(errs->v[k].msg, msg))
			return &errs->v[k];
	return NULL;
}

/* An unterminated block comment used to swallow the rest of the file
 * silently; it is an error where it opens. */
Test(conf, unterminated_comment_is_an_error)
{
	static const char text[] = "{\"global\": {\"scrape_interval\": \"15s\"}\n"
				   "  /* the rest is commented out\n"
				   "  , \"storage\": {\"path\": \"/x\"}}\n";
	struct conf *c = NULL;
	struct conf_errs errs;
	cr_expect_eq(conf_load_buffer("t.json", text, strlen(text), &c, &errs), PW_EINVAL);
	const struct conf_err *e = find_err(&errs, "", "unterminated /* comment");
	cr_expect_not_null(e, "an error for the comment");
	if (e) {
		cr_expect_eq(e->line, 2);
		cr_expect_eq(e->col, 3);
	}
	conf_errs_free(&errs);
	conf_free(c);
}

/* Nesting is bounded (CONF_MAX_DEPTH): the first bracket too deep is named. */
Test(conf, nesting_depth_is_bounded)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "{\"global\": {\"external_labels\":\n");
	for (int i = 0; i < 5000; i++)
		pw_buf_putc(&b, '[');
	for (int i = 0; i < 5000; i++)
		pw_buf_putc(&b, ']');
	pw_buf_puts(&b, "}}");
	struct conf *c = NULL;
	struct conf_errs errs;
	cr_expect_eq(conf_load_buffer("t.json", b.data, b.len, &c, &errs), PW_EINVAL);
	const struct conf_err *e = find_err(&errs, "", "nested more than");
	cr_expect_not_null(e, "an error for the depth");
	if (e) {
		cr_expect_eq(e->line, 2);
		cr_expect_eq(e->col, CONF_MAX_DEPTH - 1, "at the first bracket too deep: %zu", e->col);
	}
	conf_errs_free(&errs);
	conf_free(c);
	pw_buf_free(&b);
}

/* A configuration larger than CONF_MAX_SIZE is refused with its size,
 * before it is parsed. */
Test(conf, size_is_bounded)
{
	size_t n = CONF_MAX_SIZE + 10;
	char *text = xmalloc(n + 1);
	static const char head[] = "{\"global\": {\"external_labels\": {\"a\": \"";
	memset(text, 'x', n);
	memcpy(text, head, strlen(head));
	memcpy(text + n - 4, "\"}}}", 4);
	text[n] = '\0';
	struct conf *c = NULL;
	struct conf_errs errs;
	cr_expect_eq(conf_load_buffer("t.json", text, n, &c, &errs), PW_ETOOBIG);
	cr_expect(errs.n == 1 && strstr(errs.v[0].msg, "larger than 16 MiB"), "%s",
		  errs.n ? errs.v[0].msg : "no error");
	conf_errs_free(&errs);
	conf_free(c);

	const char *file = "/tmp/pw-conf-test-big.json";
	FILE *f = fopen(file, "w");
	cr_assert_not_null(f);
	fwrite(text, 1, n, f);
	fclose(f);
	cr_expect_eq(conf_load(file, &c, &errs), PW_ETOOBIG);
	cr_expect(errs.n == 1 && strstr(errs.v[0].msg, "larger than 16 MiB") &&
			  strstr(errs.v[0].msg, "16777226 bytes"),
		  "%s", errs.n ? errs.v[0].msg : "no error");
	conf_errs_free(&errs);
	remove(file);
	free(text);
}

/* 10,000 unknown keys on one 230 KB line: each error keeps a window of the
 * line, not the line (which took 1.6 GB); at most CONF_MAX_ERRORS are kept,
 * the rest counted; every error still has its column. */
Test(conf, errors_on_a_long_line_keep_a_window)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "{\"global\": {");
	for (int i = 0; i < 10000; i++)
		pw_buf_printf(&b, "%s\"unknown_key_%05d\": 1", i ? ", " : "", i);
	pw_buf_puts(&b, "}}");
	struct conf *c = NULL;
	struct conf_errs errs;
	cr_expect_eq(conf_load_buffer("t.json", b.data, b.len, &c, &errs), PW_EINVAL);
	cr_expect_eq(errs.n + errs.more, 10000, "%zu + %zu", errs.n, errs.more);
	cr_expect_leq(errs.n, CONF_MAX_ERRORS);
	size_t bytes = 0;
	for (size_t k = 0; k < errs.n; k++) {
		const struct conf_err *e = &errs.v[k];
		char want[64];
		snprintf(want, sizeof want, "unknown_key_%05zu", k);
		cr_assert(strstr(e->msg, want), "error %zu in order: %s", k, e->msg);
		cr_expect_eq(e->line, 1);
		cr_expect_eq(e->col, 13 + k * 24, "error %zu: col %zu", k, e->col);
		cr_assert_not_null(e->source_line);
		bytes += strlen(e->source_line);
		cr_expect_leq(strlen(e->source_line), 4 * 2 * CONF_ERR_WINDOW);
		/* the caret's column in the window shows the key */
		cr_expect(strncmp(e->source_line + e->source_col - 1, "\"unknown_key_", 13) == 0,
			  "error %zu: the window's column %zu shows the key", k, e->source_col);
	}
	cr_expect_lt(bytes, 1000000, "windows, not lines: %zu bytes", bytes);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	conf_errs_print(&errs, f);
	fclose(f);
	cr_expect(strstr(out, "10000 errors") != NULL, "the total is said");
	cr_expect(strstr(out, "9000 more errors") != NULL, "what is not shown is counted");
	cr_expect_lt(len, 1000 * 600, "%zu bytes printed", len);
	free(out);
	conf_errs_free(&errs);
	conf_free(c);
	pw_buf_free(&b);
}

/* CPU time of this process, in seconds: the box may be loaded (eight
 * builds on two cores), so wall time says little; CPU time does */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Loading is linear: many targets (unique names checked), many errors at
 * many paths (a plain build loads 250,000 targets in 17 s). */
Test(conf, loading_is_linear, .timeout = 180)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_buf_puts(&b, "{\"targets\": [\n");
	for (int i = 0; i < 100000; i++)
		pw_buf_printf(&b, "%s{\"name\": \"t%06d\", \"url\": \"http://127.0.0.1:9/\", "
				  "\"format\": \"prometheus\"%s}\n",
			      i ? "," : "", i % 50000, i % 1000 == 0 ? ", \"timezone\": \"UTC\"" : "");
	pw_buf_puts(&b, "]}");
	struct conf *c = NULL;
	struct conf_errs errs;
	double t0 = cpu_s();
	cr_expect_eq(conf_load_buffer("t.json", b.data, b.len, &c, &errs), PW_EINVAL);
	double s = cpu_s() - t0;
	/* the second half repeats the first's names: 50,000 duplicates */
	cr_expect_eq(errs.n + errs.more, 50000, "%zu + %zu", errs.n, errs.more);
	const struct conf_err *e = find_err(&errs, "targets[50000].name", "already used by targets[0]");
	cr_expect_not_null(e);
	if (e)
		cr_expect_eq(e->line, 50002);
	/* no timing asserted (a figure belongs to a benchmark, not a unit test):
	 * quadratic, this did not end within the test's timeout; linear, it
	 * took about 7 s of CPU under ASan */
	cr_log_info("100,000 targets loaded in %.1f s of CPU", s);
	conf_errs_free(&errs);
	conf_free(c);
	pw_buf_free(&b);
}
