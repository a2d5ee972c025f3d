/*
 * template.h — the part of Go's text/template that alert labels and
 * annotations (Prometheus' templates) and notification templates
 * (Alertmanager's) use: {{ $labels.city }}, {{ $value }},
 * {{ $externalLabels.x }}, {{ .Labels.x }}, {{ .Value }}, pipelines, printf
 * and Prometheus' humanize functions, {{- -}} trimming.
 *
 * Pure: no I/O, no global state; any thread.
 */
#ifndef PW_TEMPLATE_H
#define PW_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

/* A name space of strings: "{{ <prefix>name }}" reads v's "name". */
struct template_map {
	const char *prefix; /* ".GroupLabels.", "$annotations." ... */
	const struct pw_label *v;
	size_t n;
};

/* What a template may read. Every pointer is borrowed for the call. */
struct template_data {
	const struct pw_label *labels, *ext; /* $labels / .Labels, $externalLabels */
	size_t nlabels, next;
	double value;                        /* $value / .Value */
	const struct pw_label *kpi;          /* $kpi.x: a KPI alert's numbers, as text */
	size_t nkpi;
	const struct template_map *maps;     /* more name spaces */
	size_t nmaps;
	const struct pw_label *fields;       /* bare fields: ".Status" -> "firing" */
	size_t nfields;
	bool html;                           /* HTML-escape what actions write */
};

/* Expand template t: a new string (caller frees). A template error expands
 * to Prometheus' text, "<error expanding template: ...>", as Prometheus
 * writes it into the annotation; it is not reported otherwise.
 *
 * Limits, since a template can grow its text at every command: a pipeline
 * has at most TEMPLATE_MAX_COMMANDS commands, and what one expansion writes
 * and keeps (its result and the values pipelines pass on) at most
 * TEMPLATE_MAX_BYTES; past either the expansion is that error. Nothing
 * nests (no if, range, with, define or parenthesised pipelines), so no
 * input recurses. */
#define TEMPLATE_MAX_COMMANDS 100
#define TEMPLATE_MAX_BYTES (1024 * 1024)
char *template_expand(const char *t, const struct template_data *d);

/* Check t without expanding it for real: 0, or PW_EINVAL, *cause (a new
 * string: the error template_expand would write inside "<error expanding
 * template: ...>") and *at (the byte offset in t of the "{{" of the action
 * at fault). Reported are the errors every expansion of t meets, whatever
 * the data: an unclosed action, an unterminated string, a variable or field
 * d does not define, a function that does not exist, a wrong number of
 * arguments, a pipeline or a printf width past the limits. d says which
 * names exist (its labels, maps and fields; their values do not matter);
 * a value that may or may not be a number when it comes is taken as one. */
int template_check(const char *t, const struct template_data *d, size_t *at, char **cause);

#endif /* PW_TEMPLATE_H */
