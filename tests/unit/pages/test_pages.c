/*
 * test_pages.c — the pages' building blocks: escaping of every string a
 * page shows (a unit named <script> renders as text), URL segments, the
 * SVG chart's geometry and bounds, and whole pages drawn from a view built
 * here (no store: the charts have no history).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "pages.h"

static char *esc(const char *s)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pages_esc(&b, s);
	pw_buf_putc(&b, '\0');
	return b.data;
}

Test(pages, escapes_html_specials)
{
	char *s = esc("<script>alert('x')</script> & \"q\"");
	cr_assert_str_eq(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
	free(s);
	s = esc("枣庄市 plain");
	cr_assert_str_eq(s, "枣庄市 plain", "UTF-8 and plain text pass through");
	free(s);
	s = esc("");
	cr_assert_str_eq(s, "");
	free(s);
}

Test(pages, url_segment_is_percent_encoded)
{
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pages_url_seg(&b, "a b/c\"<枣>");
	cr_assert_str_eq(b.data, "a%20b%2Fc%22%3C%E6%9E%A3%3E");
	pw_buf_free(&b);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

Test(pages, chart_places_lines_and_marks)
{
	/* t over [0, 1000] onto x in [58, 626]; values 0..100 (round already:
	 * grid lines every 25) onto y from 234 up to 28 */
	int64_t t[3] = {0, 500, 1000};
	double v[3] = {0, 50, 100};
	struct pages_line l = {t, v, 3, "actual", "实际 <b>", false};
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pages_chart_svg(&(struct pages_chart){.width = 640, .height = 260, .t0 = 0, .t1 = 1000,
					      .lines = &l, .nlines = 1, .deadline_ms = 750,
					      .title = "<script>x</script>", .deadline_label = "截止"},
			&b);
	cr_assert(strncmp(b.data, "<svg ", 5) == 0);
	cr_assert(strstr(b.data, "</svg>") == b.data + b.len - 6);
	cr_assert(!strstr(b.data, "<script"), "the title is escaped: %s", b.data);
	cr_assert(strstr(b.data, "&lt;script&gt;x&lt;/script&gt;"));
	cr_assert(strstr(b.data, "实际 &lt;b&gt;"), "the legend is escaped");
	/* the first point at the plot's left bottom, the last at its right */
	cr_assert(strstr(b.data, "d=\"M58.0 234.0L342.0 131.0L626.0 28.0\""), "%s", b.data);
	cr_assert_eq(count(b.data, "stroke=\"#e3e3e3\""), 5, "grid lines at 0, 25, .. 100");
	cr_assert(strstr(b.data, ">75</text>"));
	cr_assert(strstr(b.data, "L626.0 "));
	/* the deadline: 3/4 of the way */
	cr_assert(strstr(b.data, "class=\"deadline\" x1=\"484.0\""), "%s", b.data);
	pw_buf_free(&b);
}

Test(pages, a_wild_forecast_is_cut_at_the_edge)
{
	/* actual 0..100 over [0, 500]; the forecast from (500, 100) to
	 * (1000, 1e6): the range stops at 100 + 50 (150, grid to 150), and the
	 * forecast is drawn up to where it crosses 150, just after t = 500 */
	int64_t ta[2] = {0, 500}, tf[2] = {500, 1000};
	double va[2] = {0, 100}, vf[2] = {100, 1e6};
	struct pages_line l[2] = {{ta, va, 2, "actual", "actual", false},
				  {tf, vf, 2, "forecast", "forecast", false}};
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pages_chart_svg(&(struct pages_chart){.width = 640, .height = 260, .t0 = 0, .t1 = 1000,
					      .lines = l, .nlines = 2, .title = "f"},
			&b);
	cr_assert(!strstr(b.data, ">1000000<") && !strstr(b.data, "1e+06"), "%s", b.data);
	cr_assert(strstr(b.data, ">150</text>"), "the range ends at 150: %s", b.data);
	/* the actual keeps two thirds of the height: 100 of 150 */
	const char *fc = strstr(b.data, "class=\"line forecast\"");
	cr_assert_not_null(fc, "%s", b.data);
	const char *d = strstr(fc, " d=\"M");
	cr_assert_not_null(d);
	double x0, y0, x1, y1;
	cr_assert_eq(sscanf(d, " d=\"M%lf %lfL%lf %lf", &x0, &y0, &x1, &y1), 4, "%s", d);
	cr_assert(y1 == 28.0, "cut at the top edge: %s", d);
	cr_assert(x1 >= x0 && x1 < x0 + 1.0, "where it crosses 150, just after now: %s", d);
	pw_buf_free(&b);
}

Test(pages, chart_breaks_at_nan_and_draws_steps)
{
	int64_t t[4] = {0, 100, 200, 300};
	double v[4] = {1, NAN, 2, 3};
	struct pages_line l = {t, v, 4, "plan", "plan", true};
	struct pw_buf b;
	pw_buf_init(&b, 0);
	pages_chart_svg(&(struct pages_chart){.t0 = 0, .t1 = 300, .lines = &l, .nlines = 1,
					      .small = true, .title = "s"},
			&b);
	cr_assert_eq(count(b.data, "class=\"line plan\""), 1);
	cr_assert_eq(count(b.data, "M"), 2, "two runs: %s", b.data);
	cr_assert_eq(count(b.data, "H"), 1, "a step curve goes across, then up: %s", b.data);
	pw_buf_free(&b);
}

Test(pages, chart_is_bounded)
{
	size_t n = 100000;
	int64_t *t = calloc(n, sizeof *t);
	double *v = calloc(n, sizeof *v);
	struct pw_buf b;
	for (size_t i = 0; i < n; i++)
		t[i] = (int64_t)i, v[i] = (double)(i % 97);
	struct pages_line l = {t, v, n, "actual", "a", false};
	pw_buf_init(&b, 0);
	pages_chart_svg(&(struct pages_chart){.t0 = 0, .t1 = (int64_t)n, .lines = &l, .nlines = 1,
					      .title = "big"},
			&b);
	cr_assert_leq(count(b.data, "L"), PAGES_CHART_MAX_POINTS + 1);
	cr_assert_lt(b.len, 64 * 1024, "a chart of 100,000 points is %zu bytes", b.len);
	pw_buf_free(&b);
	free(t);
	free(v);
}

/* a view of one KPI with a hostile unit and a plain one */
static struct view *hostile_view(uint64_t *hostile_id)
{
	struct view_meta *m = view_meta_new();
	struct view *v;
	struct pw_label l1[] = {{"city", "<script>window.pwned=1</script>"}};
	struct pw_label l2[] = {{"city", "枣庄"}};
	struct pw_lset *s1 = pw_lset_new(l1, 1), *s2 = pw_lset_new(l2, 1);
	struct view_unit *u;
	m->lang = VIEW_LANG_ZH;
	m->timezone = view_meta_str(m, "UTC");
	view_meta_add_kpi(m, &(struct view_meta_kpi){
		.name = "mr_items", .title = "互认 <b>项目</b>", .kind = VIEW_KPI_LEVEL,
		.start_ms = 1000, .deadline_ms = 86400000LL * 400, .deadline_text = "1971-02-05",
		.owner = "医政处 & <i>", .contact = "a@b", .runbook = "javascript:alert(1)"});
	v = view_new(m, 5000);
	pw_shared_unref(&m->sh);
	v->kpis[0].unit0 = 0;
	u = view_add_unit(v, s1);
	u->name = view_str(v, "<script>window.pwned=1</script>市");
	u->status = VIEW_LAGGING, u->value = 3, u->target = 201, u->baseline = 0;
	u->expected = 10, u->gap = 7, u->progress = 3.0 / 201, u->expected_progress = 10.0 / 201;
	u->forecast = NAN, u->gap_target = 198;
	u = view_add_unit(v, s2);
	u->name = view_str(v, "枣庄市");
	u->status = VIEW_ON_TRACK, u->value = 150, u->target = 201, u->baseline = 0;
	u->expected = 10, u->gap = -140, u->progress = 150.0 / 201, u->expected_progress = 0.05;
	u->forecast = 210, u->gap_target = 51;
	v->kpis[0].nunits = 2;
	v->kpis[0].evaluated_at = 5000;
	*hostile_id = s1->h;
	pw_lset_unref(s1);
	pw_lset_unref(s2);
	return v;
}

static unsigned render(const struct view *v, const char *url, struct pw_buf *b)
{
	const char *ctype;
	pw_buf_init(b, 0);
	return pages_render(&(struct pages_src){.v = v, .now_ms = 86400000LL * 10}, url, b, &ctype);
}

Test(pages, hostile_names_render_as_text)
{
	uint64_t id;
	struct view *v = hostile_view(&id);
	char url[64];
	const char *urls[3] = {"/", "/kpis/mr_items", url};
	snprintf(url, sizeof url, "/kpis/mr_items/%016llx", (unsigned long long)id);
	for (size_t i = 0; i < 3; i++) {
		struct pw_buf b;
		cr_assert_eq(render(v, urls[i], &b), 200, "%s", urls[i]);
		cr_assert(!strstr(b.data, "<script>window"), "%s: %s", urls[i], b.data);
		cr_assert(!strstr(b.data, "<b>项目"), "%s: the title is escaped", urls[i]);
		cr_assert(!strstr(b.data, "<i>"), "%s: the owner is escaped", urls[i]);
		cr_assert(strstr(b.data, "&lt;script&gt;window.pwned=1&lt;/script&gt;"), "%s",
			  urls[i]);
		cr_assert(!strstr(b.data, "href=\"javascript:"), "%s: a runbook that is no http(s) "
								 "URL is not a link", urls[i]);
		/* the page's own script: one, at the end */
		cr_assert_eq(count(b.data, "<script>"), 1, "%s", urls[i]);
		pw_buf_free(&b);
	}
	view_unref(v);
}

Test(pages, laggards_first_and_links_by_unit_id)
{
	uint64_t id;
	struct view *v = hostile_view(&id);
	struct pw_buf b;
	char href[64];
	cr_assert_eq(render(v, "/kpis/mr_items", &b), 200);
	snprintf(href, sizeof href, "href=\"/kpis/mr_items/%016llx\"", (unsigned long long)id);
	cr_assert(strstr(b.data, href), "the unit links to its page by its id");
	cr_assert(strstr(b.data, "滞后") < strstr(b.data, "枣庄市"), "the laggard comes first");
	cr_assert(strstr(b.data, "领先 140"), "a unit ahead says so: %s", b.data);
	pw_buf_free(&b);
	cr_assert_eq(render(v, "/", &b), 200);
	cr_assert(strstr(b.data, "data-status=\"lagging\" data-n=\"1\""));
	cr_assert(strstr(b.data, "data-status=\"on_track\" data-n=\"1\""));
	pw_buf_free(&b);
	view_unref(v);
}

Test(pages, unknown_pages_are_404_and_say_what)
{
	uint64_t id;
	struct view *v = hostile_view(&id);
	struct pw_buf b;
	cr_assert_eq(render(v, "/kpis/<nope>", &b), 404);
	cr_assert(strstr(b.data, "&lt;nope&gt;"), "%s", b.data);
	pw_buf_free(&b);
	cr_assert_eq(render(v, "/kpis/mr_items/0123456789abcdef", &b), 404);
	pw_buf_free(&b);
	cr_assert_eq(render(v, "/kpis/mr_items/zz", &b), 404);
	pw_buf_free(&b);
	{
		/* a name longer than any KPI's: 404, naming it */
		char url[400] = "/kpis/";
		memset(url + 6, 'x', 300);
		cr_assert_eq(render(v, url, &b), 404);
		pw_buf_free(&b);
	}
	cr_assert_eq(render(NULL, "/kpis/mr_items", &b), 404, "no view yet");
	pw_buf_free(&b);
	cr_assert_eq(render(NULL, "/", &b), 200, "the overview says nothing is evaluated yet");
	cr_assert(strstr(b.data, "尚未评估"));
	pw_buf_free(&b);
	view_unref(v);
}

Test(pages, a_kpi_page_is_bounded)
{
	/* 5,000 units with long names: the page lists the first PAGES_MAX_ROWS
	 * (laggards first) and stays under 300 KB */
	struct view_meta *m = view_meta_new();
	struct view *v;
	struct pw_buf b;
	char name[200], val[32];
	m->lang = VIEW_LANG_EN;
	view_meta_add_kpi(m, &(struct view_meta_kpi){.name = "k", .title = "K", .start_ms = 1,
						      .deadline_ms = 86400000LL * 100});
	v = view_new(m, 5000);
	pw_shared_unref(&m->sh);
	for (int i = 0; i < 5000; i++) {
		struct pw_label l = {"city", val};
		struct pw_lset *s;
		struct view_unit *u;
		snprintf(val, sizeof val, "c%d", i);
		s = pw_lset_new(&l, 1);
		u = view_add_unit(v, s);
		pw_lset_unref(s);
		snprintf(name, sizeof name, "%0150d", i);
		u->name = view_str(v, name);
		u->status = i < 10 ? VIEW_LAGGING : VIEW_ON_TRACK;
		u->value = i, u->target = 5000, u->baseline = 0, u->expected = i, u->gap = 0;
		u->progress = i / 5000.0, u->expected_progress = i / 5000.0, u->forecast = 5000;
	}
	v->kpis[0].nunits = 5000;
	cr_assert_eq(render(v, "/kpis/k", &b), 200);
	cr_assert_lt(b.len, 300 * 1024, "%zu bytes", b.len);
	cr_assert_eq(count(b.data, "<tr data-unit="), PAGES_MAX_ROWS);
	cr_assert(strstr(b.data, "The first 300 units of 5000"));
	pw_buf_free(&b);
	cr_assert_eq(render(v, "/", &b), 200);
	cr_assert_lt(b.len, 300 * 1024, "%zu bytes", b.len);
	pw_buf_free(&b);
	view_unref(v);
}

/* one KPI, one unit with these progress figures */
static struct view *one_unit(double prog, double plan, double baseline, double forecast)
{
	struct view_meta *m = view_meta_new();
	struct view *v;
	struct pw_label l = {"city", "a"};
	struct pw_lset *s = pw_lset_new(&l, 1);
	struct view_unit *u;
	m->lang = VIEW_LANG_EN;
	view_meta_add_kpi(m, &(struct view_meta_kpi){.name = "k", .title = "K", .start_ms = 1,
						      .deadline_ms = 86400000LL * 100});
	v = view_new(m, 5000);
	pw_shared_unref(&m->sh);
	u = view_add_unit(v, s);
	pw_lset_unref(s);
	u->name = view_str(v, "a");
	u->status = VIEW_ON_TRACK, u->value = 1, u->target = 100, u->baseline = baseline;
	u->expected = 1, u->gap = 0, u->progress = prog, u->expected_progress = plan;
	u->forecast = forecast;
	v->kpis[0].nunits = 1;
	return v;
}

Test(pages, a_bar_is_behind_only_as_far_as_the_figures_show)
{
	struct pw_buf b;
	struct view *v = one_unit(0.76499999, 0.765, 0, 100);
	cr_assert_eq(render(v, "/kpis/k", &b), 200);
	cr_assert(strstr(b.data, "76.5% / Plan 76.5%") || strstr(b.data, "76.5%"));
	cr_assert(!strstr(b.data, "fill behind"), "76.5%% against 76.5%% is not behind");
	pw_buf_free(&b);
	view_unref(v);
	v = one_unit(0.70, 0.765, 0, 100);
	cr_assert_eq(render(v, "/kpis/k", &b), 200);
	cr_assert(strstr(b.data, "fill behind"));
	pw_buf_free(&b);
	view_unref(v);
}

Test(pages, a_late_starter_beyond_its_target_has_no_forecast_in_the_overview)
{
	/* baseline 150 above the target 100 (a late starter that began past
	 * it): no share of the way to forecast, so no forecast line */
	struct pw_buf b;
	struct view *v = one_unit(1, 1, 150, 160);
	cr_assert_eq(render(v, "/", &b), 200);
	cr_assert(!strstr(b.data, "line forecast"), "%s", b.data);
	pw_buf_free(&b);
	view_unref(v);
	v = one_unit(0.5, 0.6, 0, 90);
	cr_assert_eq(render(v, "/", &b), 200);
	cr_assert(strstr(b.data, "line forecast"));
	pw_buf_free(&b);
	view_unref(v);
}

Test(pages, the_overview_forecasts_only_the_whole)
{
	/* one unit without a forecast: the overview's chart draws none, so its
	 * forecast line never starts away from the units' mean progress */
	uint64_t id;
	struct view *v = hostile_view(&id);
	struct pw_buf b;
	cr_assert_eq(render(v, "/", &b), 200);
	cr_assert(!strstr(b.data, "line forecast"), "%s", b.data);
	pw_buf_free(&b);
	view_unref(v);
}

Test(pages, a_late_starters_plan_starts_where_it_started)
{
	/* the KPI runs from t = 1 ms to day 100; the unit's plan starts at
	 * day 50 (its first value): its chart's plan (chart.svg: x from 58 to
	 * 746) begins half way across (402), not at the left edge (58) */
	struct view *v = one_unit(0, 0, 10, 100);
	struct view_unit *u = &v->units[0];
	u->plan_start = 86400000LL * 50;
	char url[96];
	snprintf(url, sizeof url, "/kpis/k/%016llx/chart.svg", (unsigned long long)u->labels->h);
	struct pw_buf b;
	cr_assert_eq(render(v, url, &b), 200, "%s", url);
	const char *plan = strstr(b.data, "class=\"line plan\"");
	cr_assert_not_null(plan, "%s", b.data);
	const char *d = strstr(plan, " d=\"M");
	cr_assert_not_null(d);
	double x = 0;
	cr_assert_eq(sscanf(d, " d=\"M%lf", &x), 1);
	cr_assert(x > 350 && x < 450, "the plan starts at day 50 (half of 58..746): %s", d);
	pw_buf_free(&b);
	view_unref(v);
}
