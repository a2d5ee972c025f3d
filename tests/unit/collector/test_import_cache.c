/* The text import's cache of series texts (collector/import.c) and the
 * parser's lookup/known hooks it uses (parse_promtext.c): whatever a line's
 * series text was found or not, the same samples reach the store, the
 * same errors come out with the same line and column, and ids never cross
 * from one store to another. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test_dir.h"
#include "collector.h"
#include "store.h"

/* ---- the parser's hooks -------------------------------------------------------- */

/* A handler that prints what it gets, and knows series texts it saw
 * parsed before, each standing for the labels it printed then. */
struct known {
	char raw[256];
	size_t len;
	char labels[512];
};
struct hctx {
	char text[8192];
	struct known k[64];
	size_t nk;
	const char *pend;
	size_t pendlen;
	size_t hits, found;
};

static void print_value(struct hctx *g, double v, bool has_ts, int64_t ts)
{
	char num[64];
	size_t o = strlen(g->text);
	pw_fmt_float(num, sizeof num, v, PW_FMT_PROM);
	snprintf(g->text + o, sizeof g->text - o, has_ts ? " %s @%lld\n" : " %s\n", num,
		 (long long)ts);
}

static int h_sample(void *ctx, const struct pw_label *l, size_t n, double v, bool has_ts,
		    int64_t ts, struct pt_error *err)
{
	struct hctx *g = ctx;
	char lb[512] = "";
	size_t o = 0;
	(void)err;
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(lb + o, sizeof lb - o, "%s%s=%s", i ? "," : "", l[i].name,
				      l[i].value);
	strcat(g->text, lb);
	print_value(g, v, has_ts, ts);
	if (g->pend && g->nk < 64 && g->pendlen < sizeof g->k[0].raw) {
		memcpy(g->k[g->nk].raw, g->pend, g->pendlen);
		g->k[g->nk].len = g->pendlen;
		strcpy(g->k[g->nk++].labels, lb);
	}
	g->pend = NULL;
	return 0;
}

static const void *h_lookup(void *ctx, const char *raw, size_t len)
{
	struct hctx *g = ctx;
	g->pend = NULL;
	for (size_t i = 0; i < g->nk; i++)
		if (g->k[i].len == len && memcmp(g->k[i].raw, raw, len) == 0) {
			g->found++;
			return &g->k[i];
		}
	g->pend = len ? raw : NULL;
	g->pendlen = len;
	return NULL;
}

static int h_known(void *ctx, const void *series, double v, bool has_ts, int64_t ts,
		   struct pt_error *err)
{
	struct hctx *g = ctx;
	const struct known *k = series;
	(void)err;
	strcat(g->text, k->labels);
	print_value(g, v, has_ts, ts);
	g->hits++;
	return 0;
}

static const struct pt_handler plain = {.sample = h_sample};
static const struct pt_handler hooked = {.sample = h_sample, .lookup = h_lookup,
					 .known = h_known};

/* Each line parsed alone, after a line with the same series text (so
 * the hooked parse finds it), must come out as the plain parse's. */
Test(import_cache, known_series_parse_as_the_full_parse)
{
	static const char *const seeds[] = {
		"a 1\n", "a{b=\"c\"} 1\n", "a {b=\"c\",d=\"e\\\"}\"} 1\n", "a{ b = \"c\" , } 1\n",
		"a:b_c{x=\"\\\\\\n\"} 1\n", "a{b=\"}\"} 1\n", "a{b=\"济南\"} 1\n",
	};
	static const char *const tails[] = {
		" 2\n", " 2 1000\n", " 2 1000 \r\n", "\t-1.5e3\t-7\n", " NaN\n", " +Inf 5\n",
		" 0.1234", "2\n", " \n", " x\n", " 1 2 3\n", " 1 1.5\n", " 1e400\n", " 1\r\r\n",
		"", " ", " 1 99999999999999999999\n", " 0x1p-2\n",
	};
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		size_t slen = strcspn(seeds[i], " \t\n");
		/* the series text: up to the last '}' when there are braces */
		const char *brace = strrchr(seeds[i], '}');
		if (strchr(seeds[i], '{'))
			slen = (size_t)(brace - seeds[i]) + 1;
		for (size_t j = 0; j < sizeof tails / sizeof tails[0]; j++) {
			char line[256];
			snprintf(line, sizeof line, "%.*s%s", (int)slen, seeds[i], tails[j]);
			struct hctx *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
			struct pt_error ea, eb;
			int ra = promtext_parse(line, strlen(line), &plain, a, &ea);
			cr_assert_eq(promtext_parse(seeds[i], strlen(seeds[i]), &hooked, b, &eb), 0,
				     "seed %s", seeds[i]);
			pt_error_clear(&eb);
			b->text[0] = '\0';
			int rb = promtext_parse(line, strlen(line), &hooked, b, &eb);
			/* (after a bare name, a tail starting with a digit is more name) */
			if (strchr(seeds[i], '{') || !isalnum((unsigned char)tails[j][0]))
				cr_assert_eq(b->found, 1, "[%s] was not found", line);
			cr_expect_eq(ra, rb, "[%s]", line);
			cr_expect_str_eq(a->text, b->text, "[%s]", line);
			cr_expect_eq(ea.line, eb.line, "[%s]", line);
			cr_expect_eq(ea.col, eb.col, "[%s]", line);
			cr_expect_str_eq(ea.msg ? ea.msg : "", eb.msg ? eb.msg : "", "[%s]", line);
			pt_error_clear(&ea);
			pt_error_clear(&eb);
			free(a);
			free(b);
		}
	}
}

/* ---- imports against the store ------------------------------------------------- */

static struct store *open_tmp(char *dir, size_t n)
{
	struct store_opts o = {.path = dir, .no_sync = true};
	struct store *s = NULL;
	char *cause = NULL;
	snprintf(dir, n, "/tmp/pw-import-cache-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	rmdir(dir);
	o.path = dir;
	cr_assert_eq(store_open(&o, &s, &cause), 0, "%s", cause ? cause : "?");
	return s;
}

/* Every series (labels) and sample (timestamp, value bits) of a store. */
static char *dump(struct store *s)
{
	struct store_snap *snap;
	struct store_series *ss;
	size_t n;
	struct pw_buf out;
	pw_buf_init(&out, 0);
	cr_assert_eq(store_snap_begin(s, &snap), 0);
	cr_assert_eq(store_select(snap, NULL, 0, INT64_MIN, INT64_MAX, true, &ss, &n), 0);
	for (size_t i = 0; i < n; i++) {
		struct pw_label l[16];
		size_t nl = store_series_labels(&ss[i], l, 16);
		struct store_iter *it = store_iter_new(snap);
		int64_t t;
		double v;
		for (size_t k = 0; k < nl && k < 16; k++)
			pw_buf_printf(&out, "%s=%s,", l[k].name, l[k].value);
		cr_assert_eq(store_iter_seek(it, ss[i].id, INT64_MIN, INT64_MAX), 0);
		while (store_iter_next(it, &t, &v) == 1) {
			uint64_t bits;
			memcpy(&bits, &v, 8);
			pw_buf_printf(&out, " %lld:%016llx", (long long)t, (unsigned long long)bits);
		}
		pw_buf_putc(&out, '\n');
		store_iter_free(it);
	}
	free(ss);
	store_snap_end(snap);
	pw_buf_putc(&out, '\0');
	return pw_buf_take(&out);
}

/* The import as it was before the cache: every sample's labels parsed
 * and put (what on_sample did). */
struct ref_ctx {
	struct store_batch *b;
	int64_t default_ts;
};
static int ref_sample(void *ctx, const struct pw_label *l, size_t n, double v, bool has_ts,
		      int64_t ts, struct pt_error *err)
{
	struct ref_ctx *c = ctx;
	int rc = store_batch_put(c->b, l, n, has_ts ? ts : c->default_ts, v);
	if (rc)
		pt_error_set(err, "%s", store_batch_error(c->b));
	return rc;
}

static int ref_import(struct store *s, const char *buf, size_t len, int64_t dts,
		      struct pt_error *err)
{
	static const struct pt_handler h = {.sample = ref_sample};
	struct ref_ctx c = {store_batch_begin(s), dts};
	char *cause = NULL;
	int rc = promtext_parse(buf, len, &h, &c, err);
	if (rc) {
		store_batch_abort(c.b);
		return rc;
	}
	rc = store_batch_commit(c.b, &cause);
	free(cause);
	return rc;
}

static uint64_t rnd(uint64_t *r)
{
	*r ^= *r << 13, *r ^= *r >> 7, *r ^= *r << 17;
	return *r;
}

/* One series of the pool written one of several ways: spacing, label
 * order, an empty label (the same as none), escapes. */
static void series_text(struct pw_buf *b, int i, uint64_t how)
{
	static const char *const names[] = {"up", "mr_total", "ratio", "x:y"};
	const char *nm = names[i % 4];
	char inst[32];
	snprintf(inst, sizeof inst, "i-%d", i / 4);
	switch (how % 6) {
	case 0: pw_buf_printf(b, "%s{inst=\"%s\",city=\"济南\"}", nm, inst); break;
	case 1: pw_buf_printf(b, "%s{city=\"济南\",inst=\"%s\"}", nm, inst); break;
	case 2: pw_buf_printf(b, "%s { inst = \"%s\" , city=\"济南\", }", nm, inst); break;
	case 3: pw_buf_printf(b, "%s{inst=\"%s\",city=\"济南\",zone=\"\"}", nm, inst); break;
	case 4: pw_buf_printf(b, "%s{inst=\"%s\",city=\"济\\\\南\"}", nm, inst); break;
	default: pw_buf_printf(b, "%s{inst=\"%s\",q=\"a\\\"b}\\n\",city=\"济南\"}", nm, inst); break;
	}
}

static const char *const values[] = {"1", "0.1234", "-0", "NaN", "+Inf", "1e300", "150.5",
				     "0.30000000000000004", "9007199254740993", "2.5e-3"};

/* Batches of random lines (series of a pool, each written several ways,
 * in random order, repeated: replace), imported through the cache into
 * one store and the plain way into another: the stores must hold the
 * same series and samples, bit for bit; a batch with a bad line fails the
 * same way on both and writes nothing. */
Test(import_cache, imports_match_plain_puts, .timeout = 300)
{
	char da[128], db[128];
	struct store *a = open_tmp(da, sizeof da), *b = open_tmp(db, sizeof db);
	struct pw_buf t;
	uint64_t r = 0x9E3779B97F4A7C15ULL;
	pw_buf_init(&t, 0);
	for (int batch = 0; batch < 60; batch++) {
		pw_buf_reset(&t);
		int nlines = 50 + (int)(rnd(&r) % 400);
		bool bad = batch % 7 == 3;
		for (int k = 0; k < nlines; k++) {
			int i = (int)(rnd(&r) % 120);
			uint64_t x = rnd(&r);
			series_text(&t, i, x % 3 == 0 ? x >> 8 : (uint64_t)i);
			pw_buf_printf(&t, " %s", values[(x >> 20) % 10]);
			if ((x >> 30) % 5)
				pw_buf_printf(&t, " %lld", (long long)(1000 * batch + (int)((x >> 40) % 50)));
			pw_buf_putc(&t, '\n');
			if (bad && k == nlines / 2) {
				series_text(&t, i, x >> 8); /* a known series text, a bad value */
				pw_buf_printf(&t, " 1x 5\n");
			}
		}
		struct pt_error ea = {0}, eb = {0};
		size_t n = 0;
		int ra = collector_import_text(a, t.data, t.len, 777, NULL, 0, &n, &ea);
		int rb = ref_import(b, t.data, t.len, 777, &eb);
		cr_assert_eq(ra, rb, "batch %d: %s / %s", batch, ea.msg, eb.msg);
		cr_assert_eq(ra != 0, bad, "batch %d: %s", batch, ea.msg);
		if (ra) { /* a success's err is not looked at */
			cr_expect_eq(ea.line, eb.line, "batch %d", batch);
			cr_expect_eq(ea.col, eb.col, "batch %d", batch);
			cr_expect_str_eq(ea.msg ? ea.msg : "", eb.msg ? eb.msg : "");
		}
		if (!ra)
			cr_expect_eq(n, (size_t)nlines);
		pt_error_clear(&ea);
		pt_error_clear(&eb);
	}
	char *sa = dump(a), *sb = dump(b);
	cr_expect_gt(strlen(sa), 1000);
	cr_expect_str_eq(sa, sb);
	free(sa);
	free(sb);
	pw_buf_free(&t);
	store_close(a);
	store_close(b);
	test_dir_remove(da);
	test_dir_remove(db);
}

/* Imports into two stores in turn, whose series have different ids (the
 * second had a series first): the ids the cache learnt from one store
 * must not be used for the other, though the texts are the same. */
Test(import_cache, ids_stay_with_their_store)
{
	char da[128], dc[128];
	struct store *a = open_tmp(da, sizeof da), *c = open_tmp(dc, sizeof dc);
	struct pw_buf t;
	size_t n;
	struct pt_error err = {0};
	pw_buf_init(&t, 0);
	cr_assert_eq(collector_import_text(c, "zz 1 1\nyy 1 1\n", 14, 0, NULL, 0, &n, &err), 0);
	for (int batch = 0; batch < 6; batch++) {
		struct store *s = batch % 2 ? c : a;
		pw_buf_reset(&t);
		for (int i = 0; i < 30; i++)
			pw_buf_printf(&t, "m{i=\"%d\"} %d %d\n", (i * 7 + batch / 2) % 30, i + 100 * batch,
				      1000 * (batch / 2) + i);
		cr_assert_eq(collector_import_text(s, t.data, t.len, 0, NULL, 0, &n, &err), 0, "%s",
			     err.msg);
	}
	/* each series of a holds its own samples: i's value at batch 0 is its
	 * position in that batch's text */
	struct store_snap *snap;
	struct store_series *ss;
	size_t ns;
	for (int which = 0; which < 2; which++) {
		struct store *s = which ? c : a;
		cr_assert_eq(store_snap_begin(s, &snap), 0);
		struct store_matcher m;
		store_matcher_init(&m, STORE_MATCH_EQ, "__name__", "m", NULL);
		cr_assert_eq(store_select(snap, &m, 1, INT64_MIN, INT64_MAX, false, &ss, &ns), 0);
		cr_assert_eq(ns, 30);
		for (size_t k = 0; k < ns; k++) {
			int i = atoi(store_series_label(&ss[k], "i"));
			struct store_iter *it = store_iter_new(snap);
			int64_t ts;
			double v;
			int got = 0;
			cr_assert_eq(store_iter_seek(it, ss[k].id, INT64_MIN, INT64_MAX), 0);
			while (store_iter_next(it, &ts, &v) == 1) {
				int b = (int)(ts / 1000) * 2 + which; /* the batch that wrote it */
				int pos = (int)(ts % 1000);
				cr_expect_eq((pos * 7 + b / 2) % 30, i, "store %d series %d", which, i);
				cr_expect_eq(v, pos + 100 * b, "store %d series %d", which, i);
				got++;
			}
			cr_expect_eq(got, 3);
			store_iter_free(it);
		}
		free(ss);
		store_matcher_free(&m);
		store_snap_end(snap);
	}
	pw_buf_free(&t);
	store_close(a);
	store_close(c);
	test_dir_remove(da);
	test_dir_remove(dc);
}

/* Bodies over 256 KiB are parsed by several threads that read the cache
 * together, and imports of other requests may run at the same time (the
 * HTTP endpoint): two threads importing large bodies into one store, each
 * of whose samples must arrive (run under ThreadSanitizer too). */
struct big {
	struct store *s;
	int which;
	size_t n;
	int rc;
};

static void *import_big(void *arg)
{
	struct big *g = arg;
	struct pw_buf t;
	pw_buf_init(&t, 0);
	for (int round = 0; round < 4 && !g->rc; round++) {
		pw_buf_reset(&t);
		for (int i = 0; i < 5000; i++)
			pw_buf_printf(&t, "big_%d{city=\"济南\",inst=\"inst-%06d\"} %d.25 %d\n", g->which, i,
				      i, 1000 * round + g->which);
		struct pt_error err = {0};
		size_t n = 0;
		g->rc = collector_import_text(g->s, t.data, t.len, 0, NULL, 0, &n, &err);
		pt_error_clear(&err);
		g->n += n;
	}
	pw_buf_free(&t);
	return NULL;
}

Test(import_cache, large_bodies_from_two_threads, .timeout = 300)
{
	char d[128];
	struct store *s = open_tmp(d, sizeof d);
	struct big g[2] = {{s, 0, 0, 0}, {s, 1, 0, 0}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, import_big, &g[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++) {
		cr_expect_eq(g[i].rc, 0);
		cr_expect_eq(g[i].n, 20000);
	}
	char *all = dump(s);
	size_t lines = 0, samples = 0;
	for (const char *p = all; *p; p++) {
		lines += *p == '\n';
		samples += *p == ':';
	}
	cr_expect_eq(lines, 10000);
	cr_expect_eq(samples, 40000);
	free(all);
	store_close(s);
	test_dir_remove(d);
}

/* Series deleted by retention (their ids then stale in the cache) and
 * imported again: they get new series, every sample where it belongs. */
Test(import_cache, series_deleted_and_imported_again)
{
	char d[128];
	struct store *s = open_tmp(d, sizeof d);
	struct pt_error err = {0};
	uint64_t dropped = 0;
	char *cause = NULL;
	size_t n;
	const char *old = "m{i=\"1\"} 1 1000\nm{i=\"2\"} 2 1000\n";
	const char *keep = "k 5 900000\n";
	cr_assert_eq(collector_import_text(s, old, strlen(old), 0, NULL, 0, &n, &err), 0);
	cr_assert_eq(collector_import_text(s, keep, strlen(keep), 0, NULL, 0, &n, &err), 0);
	cr_assert_eq(store_retention(s, 500000, &dropped, &cause), 0, "%s", cause);
	cr_assert_eq(dropped, 2);
	/* the same texts, in the other order, and a new one */
	const char *again = "m{i=\"2\"} 20 600000\nm{i=\"1\"} 10 600000\nm{i=\"3\"} 30 600000\n";
	for (int round = 0; round < 2; round++)
		cr_assert_eq(collector_import_text(s, again, strlen(again), 0, NULL, 0, &n, &err), 0,
			     "%s", err.msg);
	char *got = dump(s);
	cr_expect_str_eq(got, "__name__=k, 900000:4014000000000000\n"
			      "__name__=m,i=1, 600000:4024000000000000\n"
			      "__name__=m,i=2, 600000:4034000000000000\n"
			      "__name__=m,i=3, 600000:403e000000000000\n");
	free(got);
	store_close(s);
	test_dir_remove(d);
}
