/* The bounded buffer and escaping (common/buf.c, common/log.c). */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "common.h"

Test(buf, grows_until_max_then_refuses_without_change)
{
	struct pw_buf b;
	pw_buf_init(&b, 10);
	cr_expect_eq(pw_buf_puts(&b, "hello"), 0);
	cr_expect_eq(pw_buf_printf(&b, "%d", 1234), 0);
	cr_expect_eq(b.len, 9);
	cr_expect_eq(pw_buf_puts(&b, "xy"), PW_ETOOBIG);
	cr_expect_str_eq(b.data, "hello1234");
	cr_expect_eq(pw_buf_putc(&b, '!'), 0);
	cr_expect_eq(pw_buf_putc(&b, '!'), PW_ETOOBIG);
	char *s = pw_buf_take(&b);
	cr_expect_str_eq(s, "hello1234!");
	free(s);
	cr_expect_eq(b.len, 0);
	pw_buf_free(&b);
}

Test(esc, escapes_control_quotes_and_bad_utf8)
{
	char out[64];
	pw_esc(out, sizeof out, "a\"b\\c\nd\x01", 8);
	cr_expect_str_eq(out, "a\\\"b\\\\c\\nd\\x01");
	pw_esc(out, sizeof out, "济南\xff", 7);
	cr_expect_str_eq(out, "济南\\xff");
	pw_esc(out, 8, "abcdefghijkl", 12);
	cr_expect_str_eq(out, "abcd...");
}

Test(err, strerror_covers_both_ranges)
{
	cr_expect_str_eq(pw_strerror(PW_EMAPFULL), "store is full (storage.max_size reached)");
	cr_expect_str_eq(pw_strerror(-2), "No such file or directory");
}

Test(buf, json_strings_and_labels)
{
	struct pw_buf b;
	struct pw_label l[2] = {{"city", "济南\"市\"\n"}, {"x", "a\\b\x01"}};
	char *s;
	pw_buf_init(&b, 0);
	pw_buf_json_labels(&b, l, 2);
	s = pw_buf_take(&b);
	cr_expect_str_eq(s, "{\"city\":\"济南\\\"市\\\"\\n\",\"x\":\"a\\\\b\\u0001\"}");
	free(s);
}

Test(buf, json_strings_replace_invalid_utf8)
{
	struct pw_buf b;
	char *s;
	pw_buf_init(&b, 0);
	/* a lone continuation byte, a truncated sequence, an overlong '/', a
	 * surrogate, then valid 2-, 3- and 4-byte characters */
	pw_buf_json_string(&b, "a\x80" "b\xe6\xb5" "c\xc0\xaf" "d\xed\xa0\x80" "e\xc3\xa9\xe6\xb5\x8e\xf0\x9f\x98\x80");
	s = pw_buf_take(&b);
	cr_expect_str_eq(s, "\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffde\xc3\xa9\xe6\xb5\x8e\xf0\x9f\x98\x80\"");
	free(s);
}
