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

/* template_check: what every expansion of a template meets is reported with
 * the offset of its action, before any data; what depends on the data is not */
Test(template, check_reports_what_every_expansion_meets)
{
	static const struct {
		const char *t, *err;
		size_t at;
	} bad[] = {
		{"ok {{ $labels.city ", "unclosed action", 3},
		{"{{ $labels.city }} {{ \"abc }}", "unterminated quoted string", 19},
		{"{{ $value | humanise }}", "function \"humanise\" not defined", 0},
		{"a\n{{ $lables.city }}", "undefined variable or field \"$lables.city\"", 2},
		{"{{ .Status }}", "undefined variable or field \".Status\"", 0},
		{"{{ humanize 1 2 }}", "wrong number of args", 0},
		{"{{ printf \"%99999.0f\" $value }}", "printf width or precision over 9999", 0},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *cause = NULL, *o = template_expand(bad[i].t, &data);
		size_t at = 99;
		cr_expect_eq(template_check(bad[i].t, &data, &at, &cause), PW_EINVAL, "%s", bad[i].t);
		cr_expect_str_eq(cause ? cause : "", bad[i].err, "%s", bad[i].t);
		cr_expect_eq(at, bad[i].at, "%s: at %zu", bad[i].t, at);
		/* the same error the expansion writes */
		char *want = NULL;
		cr_assert(asprintf(&want, "<error expanding template: %s>", bad[i].err) > 0);
		cr_expect_str_eq(o, want);
		free(want);
		free(o);
		free(cause);
	}
	/* fine whatever the data: a label that may be a number, one that is
	 * missing, fields and maps d defines */
	static const struct pw_label fields[] = {{".Status", "firing"}};
	static const struct template_map maps[] = {{".GroupLabels.", NULL, 0}};
	struct template_data d = {.fields = fields, .nfields = 1, .maps = maps, .nmaps = 1};
	const char *good[] = {"plain", "{{ $labels.city | humanize }}", "{{ $labels.nothing }}",
			      "{{- .Status -}} {{ .GroupLabels.x }}", "{{ $value | printf \"%.1f\" }}"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char *cause = NULL;
		size_t at;
		cr_expect_eq(template_check(good[i], &d, &at, &cause), 0, "%s: %s", good[i],
			     cause ? cause : "");
		free(cause);
	}
}
