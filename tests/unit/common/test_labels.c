/*
 * The shared small types of common/: the label set (sorted, empty values
 * dropped, Prometheus' fingerprint, reference counts), the canonical
 * encoding, the one float formatter in each of its styles (values as
 * Prometheus and Go print them), and the slot views are published in.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "common.h"

Test(lset, sorted_without_empty_values_and_fingerprinted)
{
	struct pw_label in[4] = {{"job", "x"}, {"__name__", "up"}, {"empty", ""}, {"city", "济南"}};
	struct pw_lset *s = pw_lset_new(in, 4);
	cr_assert_eq(s->n, 3, "the empty value is no label");
	cr_expect_str_eq(s->l[0].name, "__name__");
	cr_expect_str_eq(s->l[1].name, "city");
	cr_expect_str_eq(s->l[2].name, "job");
	cr_expect_str_eq(pw_lset_get(s, "city"), "济南");
	cr_expect_null(pw_lset_get(s, "empty"));
	/* model.LabelSet{"__name__":"up"}.Fingerprint(), worked by hand:
	 * FNV-1a 64 over "__name__" 0xff "up" 0xff */
	uint64_t h = 14695981039346656037ULL;
	const char *bytes = "__name__\xffup\xff";
	for (const unsigned char *p = (const unsigned char *)bytes; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	struct pw_label one[1] = {{"__name__", "up"}};
	struct pw_lset *u = pw_lset_new(one, 1);
	cr_expect_eq(u->h, h);
	cr_expect(!pw_lset_eq(s, u));
	cr_expect(pw_lset_cmp(u, s) < 0, "a prefix sorts first");
	pw_lset_unref(u);
	/* the strings are the set's own: the input may go */
	char city[16] = "青岛";
	struct pw_label in2[1] = {{"city", city}};
	struct pw_lset *c = pw_lset_new(in2, 1);
	strcpy(city, "xx");
	cr_expect_str_eq(c->l[0].value, "青岛");
	pw_lset_ref(c);
	pw_lset_unref(c);
	cr_expect_str_eq(c->l[0].value, "青岛", "one reference left");
	pw_lset_unref(c);
	pw_lset_unref(s);
}

Test(lset, placed_in_caller_memory)
{
	char mem[PW_LSET_SIZE(2)];
	struct pw_label in[2] = {{"b", "2"}, {"a", "1"}};
	struct pw_lset *s = pw_lset_place(mem, in, 2);
	cr_expect_str_eq(s->l[0].name, "a");
	cr_expect_eq(s->h, pw_labels_hash(s->l, 2, false));
	pw_lset_ref(s);
	pw_lset_unref(s); /* nothing to free: placed sets are not counted */
	struct pw_lset *h = pw_lset_new(in, 2);
	cr_expect(pw_lset_eq(s, h));
	cr_expect_eq(pw_lset_cmp(s, h), 0);
	pw_lset_unref(h);
}

Test(lset, builder_sets_replaces_and_deletes)
{
	struct pw_lbuild b;
	struct pw_label in[2] = {{"city", "a"}, {"severity", "warning"}};
	pw_lbuild_init(&b);
	pw_lbuild_add(&b, in, 2, NULL);
	pw_lbuild_set(&b, "severity", "critical");
	pw_lbuild_take(&b, "team", xstrdup("ops"));
	pw_lbuild_set(&b, "city", ""); /* deletes */
	cr_assert_eq(pw_lbuild_sorted(&b), 2);
	cr_expect_str_eq(b.l[0].name, "severity");
	cr_expect_str_eq(b.l[0].value, "critical");
	cr_expect_str_eq(b.l[1].value, "ops");
	struct pw_lset *s = pw_lbuild_lset(&b);
	pw_lbuild_free(&b); /* the set keeps its own copies */
	cr_expect_str_eq(pw_lset_get(s, "team"), "ops");
	pw_lset_unref(s);
}

Test(lset, canonical_encoding_round_trips)
{
	struct pw_label in[3] = {{"__name__", "up"}, {"city", "济南"}, {"job", "x"}}, out[8];
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pw_labels_encode(in, 3, &b);
	cr_assert_eq(b.len, sizeof "up\0city\0济南\0job\0x" );
	cr_assert_eq(memcmp(b.data, "up\0city\0济南\0job\0x", b.len), 0);
	size_t n = pw_labels_decode(b.data, b.len, out, 8);
	cr_assert_eq(n, 3);
	cr_expect(pw_labels_eq(in, 3, out, n));
	pw_buf_free(&b);
	struct pw_buf f;
	pw_buf_init(&f, 0);
	pw_labels_format(in + 1, 1, &f);
	cr_expect_str_eq(f.data, "{city=\"济南\"}");
	pw_buf_free(&f);
}

/* every style, with what Prometheus (exposition), Go's strconv and fmt
 * print for the same float64 */
Test(float, each_style_as_its_reader_expects)
{
	static const struct {
		double v;
		enum pw_float_style st;
		const char *want;
	} cases[] = {
		{1, PW_FMT_PROM, "1"},          {0.1, PW_FMT_PROM, "0.1"},
		{1e-5, PW_FMT_PROM, "1e-05"},   {1e21, PW_FMT_PROM, "1e+21"},
		{-0.0, PW_FMT_PROM, "-0"},      {NAN, PW_FMT_PROM, "NaN"},
		{-INFINITY, PW_FMT_PROM, "-Inf"}, {123456789.125, PW_FMT_PROM, "123456789.125"},
		{1e21, PW_FMT_GO_F, "1000000000000000000000"},
		{1e-7, PW_FMT_GO_F, "0.0000001"}, {0.3, PW_FMT_GO_F, "0.3"},
		{1234.5, PW_FMT_GO_E, "1.2345e+03"}, {5, PW_FMT_GO_E, "5e+00"},
		{0, PW_FMT_GO_E, "0e+00"},          {INFINITY, PW_FMT_GO_E, "+Inf"},
		{1234567, PW_FMT_GO_V, "1.234567e+06"}, {123456, PW_FMT_GO_V, "123456"},
		{0.0001, PW_FMT_GO_V, "0.0001"},        {0.00001, PW_FMT_GO_V, "1e-05"},
		{0.5, PW_FMT_GO_V, "0.5"},
		{183, PW_FMT_HUMAN, "183"},             {2.0 / 3, PW_FMT_HUMAN, "0.6667"},
		{1234567, PW_FMT_HUMAN, "1234567"},     {NAN, PW_FMT_HUMAN, "-"},
		{181.729411, PW_FMT_HUMAN, "181.73"},   {170, PW_FMT_HUMAN, "170"},
		{-0.5, PW_FMT_HUMAN, "-0.5"},           {-0.0001, PW_FMT_HUMAN, "-0.0001"},
		{2.5, PW_FMT_HUMAN, "2.5"},             {0.0001146, PW_FMT_HUMAN, "0.0001"},
		{0.01234, PW_FMT_HUMAN, "0.0123"},      {-0.00004, PW_FMT_HUMAN, "0"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char s[400];
		size_t n = pw_fmt_float(s, sizeof s, cases[i].v, cases[i].st);
		cr_expect_str_eq(s, cases[i].want, "case %zu", i);
		cr_expect_eq(n, strlen(cases[i].want), "case %zu", i);
		if (cases[i].st != PW_FMT_HUMAN && !isnan(cases[i].v))
			cr_expect(strtod(s, NULL) == cases[i].v, "case %zu reads back", i);
	}
	/* the smallest subnormal, 5e-324: Go writes 323 zeros after the point */
	char s[400], want[400] = "0.";
	memset(want + 2, '0', 323);
	strcpy(want + 325, "5");
	pw_fmt_float(s, sizeof s, 5e-324, PW_FMT_GO_F);
	cr_expect_str_eq(s, want);
}

Test(float, numbers_and_not)
{
	double v = 0;
	cr_expect(pw_number("201", &v) && v == 201);
	cr_expect(pw_number("-0.6", &v) && v == -0.6);
	cr_expect(pw_number("1e3", &v) && v == 1000);
	cr_expect(!pw_number("", &v));
	cr_expect(!pw_number("auto", &v));
	cr_expect(!pw_number("12 ", &v));
	cr_expect(!pw_number(" 12", &v));
	cr_expect(!pw_number(NULL, &v));
}

/* ---- the slot -------------------------------------------------------------------- */

struct obj {
	struct pw_shared sh;
	int gen;
};
static int freed;
static void obj_free(struct pw_shared *s)
{
	__atomic_add_fetch(&freed, 1, __ATOMIC_RELAXED);
	free(s);
}

static struct obj *obj_new(int gen)
{
	struct obj *o = xcalloc(1, sizeof *o);
	pw_shared_init(&o->sh, obj_free);
	o->gen = gen;
	return o;
}

Test(slot, readers_keep_what_they_took)
{
	struct pw_slot *s = pw_slot_new();
	freed = 0;
	cr_expect_null(pw_slot_get(s), "nothing published yet");
	pw_slot_publish(s, &obj_new(1)->sh);
	struct obj *a = (struct obj *)pw_slot_get(s);
	pw_slot_publish(s, &obj_new(2)->sh);
	cr_expect_eq(freed, 0, "a reader still holds the first");
	cr_expect_eq(a->gen, 1);
	pw_shared_unref(&a->sh);
	cr_expect_eq(freed, 1, "freed by its last reader");
	struct obj *b = (struct obj *)pw_slot_get(s);
	cr_expect_eq(b->gen, 2);
	pw_shared_unref(&b->sh);
	pw_slot_free(s);
	cr_expect_eq(freed, 2, "the slot's own reference goes with it");
}

static void *reader(void *arg)
{
	struct pw_slot *s = arg;
	int last = 0;
	for (int i = 0; i < 20000; i++) {
		struct obj *o = (struct obj *)pw_slot_get(s);
		if (o) {
			cr_assert_geq(o->gen, last, "never older than what was seen");
			last = o->gen;
			pw_shared_unref(&o->sh);
		}
	}
	return NULL;
}

Test(slot, publish_while_others_read)
{
	struct pw_slot *s = pw_slot_new();
	pthread_t th[3];
	freed = 0;
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, reader, s);
	for (int g = 1; g <= 5000; g++)
		pw_slot_publish(s, &obj_new(g)->sh);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	pw_slot_free(s);
	cr_expect_eq(freed, 5000, "every object freed once");
}
