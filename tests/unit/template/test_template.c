/*
 * The template expander's limits: a pipeline of more than
 * TEMPLATE_MAX_COMMANDS commands, and an expansion that would write and keep
 * more than TEMPLATE_MAX_BYTES, are Prometheus' error text in the
 * annotation, not gigabytes; the expansions alerts use stay as they were.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

static const struct pw_label labels[] = {{"city", "济南"}, {"job", "hotline"}};
static const struct template_data data = {.labels = labels, .nlabels = 2, .value = 1234567.5};

static char *expand(const char *t) { return template_expand(t, &data); }

/* "{{ first" then n times cmd, then " }}" */
static char *pipeline(const char *first, const char *cmd, size_t n)
{
	size_t lf = strlen(first), lc = strlen(cmd);
	char *t = malloc(4 + lf + n * lc + 4), *w = t;
	memcpy(w, "{{ ", 3), w += 3;
	memcpy(w, first, lf), w += lf;
	for (size_t i = 0; i < n; i++, w += lc)
		memcpy(w, cmd, lc);
	strcpy(w, " }}");
	return t;
}

Test(template, what_alerts_use_is_unchanged)
{
	char *o = expand("{{ $labels.city }}: {{ $value | humanize }} calls, {{ .Labels.job | toUpper }}");
	cr_expect_str_eq(o, "济南: 1.235M calls, HOTLINE");
	free(o);
	o = expand("{{ printf \"%.1f\" $value }}");
	cr_expect_str_eq(o, "1234567.5");
	free(o);
}

Test(template, long_pipelines_are_an_error)
{
	char *t = pipeline("$labels.job", " | toUpper", TEMPLATE_MAX_COMMANDS - 1), *o;
	o = expand(t);
	cr_expect_str_eq(o, "HOTLINE", "%d commands are fine", TEMPLATE_MAX_COMMANDS);
	free(o);
	free(t);
	t = pipeline("$labels.job", " | toUpper", 100000);
	o = expand(t);
	cr_expect_str_eq(o, "<error expanding template: pipeline longer than 100 commands>");
	free(o);
	free(t);
}

Test(template, growing_text_is_bounded)
{
	/* each command adds 9,999 bytes to what the pipeline passes on, and
	 * every intermediate value is kept: 120 commands wrote 1.2 MB and kept
	 * 72 MB; a template of 100 KiB could keep 40 GB */
	char *t = pipeline("\"x\"", " | printf \"%9999.0f%s\" 1", 99), *o;
	o = expand(t);
	cr_expect_str_eq(o, "<error expanding template: expansion larger than 1048576 bytes>");
	free(o);
	free(t);
	/* many actions, each within the limit, together past it */
	size_t n = 200, l = strlen("{{ printf \"%9999.0f\" 1 }}");
	t = malloc(n * l + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(t + i * l, "{{ printf \"%9999.0f\" 1 }}", l);
	t[n * l] = '\0';
	o = expand(t);
	cr_expect_str_eq(o, "<error expanding template: expansion larger than 1048576 bytes>");
	free(o);
	free(t);
	/* and below the limit the text is all there */
	t = pipeline("\"x\"", " | printf \"%999.0f%s\" 1", 30);
	o = expand(t);
	cr_expect_eq(strlen(o), 30 * 999 + 1, "%zu", strlen(o));
	free(o);
	free(t);
}
