/*
 * schema.c — the configuration's field tables: one row per key with its
 * type, where it goes, whether it is required, its default and a line of
 * help. The loader walks these rows; docs/configuration.md documents the
 * same rows, and a test checks that every row is documented.
 */
#include <stddef.h>

#include "conf_int.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define TBL(name, rows) {name, rows, N(rows)}

static const char *const format_names[] = {"json", "prometheus", "csv", NULL};

static const struct field json_metric_rows[] = {
	{.key = "path", .type = F_STR, .off = offsetof(struct conf_json_metric, path), .def = "\"$\"",
	 .help = "JSONPath of the elements that each give one sample"},
	{.key = "metric", .type = F_STR, .off = offsetof(struct conf_json_metric, metric),
	 .required = true, .help = "metric name of the samples"},
	{.key = "value", .type = F_STR, .off = offsetof(struct conf_json_metric, value),
	 .required = true, .help = "path of the value, relative to the element (\"@.count\")"},
	{.key = "labels", .type = F_KVS, .off = offsetof(struct conf_json_metric, labels),
	 .help = "label name to path: \"@.city\", \"@key\" (the element's key), \"@parent.code\""},
	{.key = "value_map", .type = F_KVS, .off = offsetof(struct conf_json_metric, value_map),
	 .help = "text or boolean values to numbers, e.g. {\"online\": 1, \"offline\": 0}"},
	{.key = "timestamp", .type = F_STR, .off = offsetof(struct conf_json_metric, timestamp),
	 .help = "path of a timestamp: epoch seconds or milliseconds, or a date in the target's time zone"},
	{.key = "help", .type = F_STR, .off = offsetof(struct conf_json_metric, help),
	 .help = "HELP text recorded as metadata"},
	{.key = "type", .type = F_STR, .off = offsetof(struct conf_json_metric, type),
	 .def = "\"gauge\"", .help = "TYPE recorded as metadata: counter, gauge or untyped"},
};
static const struct table json_metric_table = TBL("metric", json_metric_rows);

static const struct field pagination_rows[] = {
	{.key = "next", .type = F_STR, .off = offsetof(struct conf_pagination, next_path),
	 .help = "path of the next page's URL in each response"},
	{.key = "page_param", .type = F_STR, .off = offsetof(struct conf_pagination, page_param),
	 .help = "query parameter that numbers pages"},
	{.key = "page_start", .type = F_INT, .off = offsetof(struct conf_pagination, page_start),
	 .def = "1", .min = 0, .max = 1000000, .help = "number of the first page"},
	{.key = "step", .type = F_INT, .off = offsetof(struct conf_pagination, step), .def = "1",
	 .min = 1, .max = 1000000,
	 .help = "added to page_param per page: 1 for page numbers, the page size for an offset"},
	{.key = "done", .type = F_STR, .off = offsetof(struct conf_pagination, done_path),
	 .help = "path that is true (or an empty list) on the last page"},
	{.key = "max_pages", .type = F_INT, .off = offsetof(struct conf_pagination, max_pages),
	 .def = "100", .min = 1, .max = 100000, .help = "stop after this many pages"},
};
static const struct table pagination_table = TBL("pagination", pagination_rows);

static const struct field csv_rows[] = {
	{.key = "delimiter", .type = F_STR, .off = offsetof(struct conf_csv, delimiter),
	 .def = "\",\"", .help = "field separator"},
	{.key = "timestamp_column", .type = F_STR,
	 .off = offsetof(struct conf_csv, timestamp_column),
	 .help = "column holding the sample time (else the scrape time)"},
	{.key = "labels", .type = F_KVS, .off = offsetof(struct conf_csv, labels),
	 .help = "label name to column name"},
	{.key = "values", .type = F_KVS, .off = offsetof(struct conf_csv, values),
	 .help = "metric name to column name"},
};
static const struct table csv_table = TBL("csv", csv_rows);

struct basic_auth {
	char *username, *password;
};

static const struct field basic_rows[] = {
	{.key = "username", .type = F_STR, .off = 0, .required = true, .help = "user name"},
	{.key = "password_file", .type = F_SECRET, .off = sizeof(char *), .required = true,
	 .help = "file holding the password"},
};
static const struct table basic_table = TBL("basic_auth", basic_rows);

struct tls_conf {
	char *ca_file, *cert_file, *key_file;
	bool verify;
};

static const struct field tls_rows[] = {
	{.key = "ca_file", .type = F_STR, .off = offsetof(struct tls_conf, ca_file),
	 .help = "CA certificates to verify the platform with"},
	{.key = "cert_file", .type = F_STR, .off = offsetof(struct tls_conf, cert_file),
	 .help = "client certificate"},
	{.key = "key_file", .type = F_STR, .off = offsetof(struct tls_conf, key_file),
	 .help = "client key"},
	{.key = "verify", .type = F_BOOL, .off = offsetof(struct tls_conf, verify), .def = "true",
	 .help = "verify the platform's certificate"},
};
static const struct table tls_table = TBL("tls", tls_rows);

/* The target struct holds basic_user/basic_password and the TLS fields in
 * the same order as the small structs above. */
_Static_assert(offsetof(struct conf_target, basic_password) -
			       offsetof(struct conf_target, basic_user) ==
		       offsetof(struct basic_auth, password),
	       "basic_auth layout");
_Static_assert(offsetof(struct conf_target, tls_verify) - offsetof(struct conf_target, ca_file) ==
		       offsetof(struct tls_conf, verify),
	       "tls layout");

static const char *const method_names[] = {"GET", "POST", NULL};

static const struct field target_rows[] = {
	{.key = "name", .type = F_STR, .off = offsetof(struct conf_target, name), .required = true,
	 .help = "unique name; the job label of its samples"},
	{.key = "url", .type = F_STR, .off = offsetof(struct conf_target, url), .required = true,
	 .help = "http://, https:// or file:// URL"},
	{.key = "method", .type = F_STR, .off = offsetof(struct conf_target, method),
	 .def = "\"GET\"", .enums = method_names, .help = "GET or POST"},
	{.key = "headers", .type = F_KVS, .off = offsetof(struct conf_target, headers),
	 .help = "extra request headers"},
	{.key = "params", .type = F_KVS, .off = offsetof(struct conf_target, params),
	 .help = "query parameters added to the URL"},
	{.key = "body", .type = F_STR, .off = offsetof(struct conf_target, body),
	 .help = "request body (POST)"},
	{.key = "bearer_token_file", .type = F_SECRET,
	 .off = offsetof(struct conf_target, bearer_token),
	 .help = "file holding a bearer token sent as Authorization: Bearer"},
	{.key = "basic_auth", .type = F_OBJ, .off = offsetof(struct conf_target, basic_user),
	 .sub = &basic_table, .help = "HTTP basic authentication"},
	{.key = "tls", .type = F_OBJ, .off = offsetof(struct conf_target, ca_file), .sub = &tls_table,
	 .help = "TLS settings"},
	{.key = "proxy", .type = F_STR, .off = offsetof(struct conf_target, proxy),
	 .help = "proxy URL"},
	{.key = "interval", .type = F_DURATION, .off = offsetof(struct conf_target, interval_ms),
	 .help = "how often to poll (default: global.scrape_interval)"},
	{.key = "timeout", .type = F_DURATION, .off = offsetof(struct conf_target, timeout_ms),
	 .help = "give up on a poll after this long (default: global.scrape_timeout)"},
	{.key = "max_response_size", .type = F_SIZE,
	 .off = offsetof(struct conf_target, max_response_size), .def = "\"16MiB\"",
	 .help = "larger responses are refused"},
	{.key = "labels", .type = F_KVS, .off = offsetof(struct conf_target, labels),
	 .help = "labels added to every sample of the target"},
	{.key = "format", .type = F_ENUM, .off = offsetof(struct conf_target, format),
	 .def = "\"json\"", .enums = format_names, .help = "json, prometheus or csv"},
	{.key = "metrics", .type = F_OBJARR, .off = offsetof(struct conf_target, metrics),
	 .count_off = offsetof(struct conf_target, nmetrics), .sub = &json_metric_table,
	 .elem_size = sizeof(struct conf_json_metric), .help = "JSON mappings (format json)"},
	{.key = "pagination", .type = F_OBJ, .off = offsetof(struct conf_target, pagination),
	 .sub = &pagination_table, .help = "follow pages until the platform says done"},
	{.key = "csv", .type = F_OBJ, .off = offsetof(struct conf_target, csv), .sub = &csv_table,
	 .help = "CSV columns (format csv)"},
	{.key = "timezone", .type = F_STR, .off = offsetof(struct conf_target, timezone),
	 .help = "time zone of dates in responses (default: global.timezone)"},
};
static const struct table target_table = TBL("target", target_rows);

static const struct field global_rows[] = {
	{.key = "scrape_interval", .type = F_DURATION,
	 .off = offsetof(struct conf, global.scrape_interval_ms), .def = "\"1m\"",
	 .help = "default polling interval"},
	{.key = "scrape_timeout", .type = F_DURATION,
	 .off = offsetof(struct conf, global.scrape_timeout_ms), .def = "\"10s\"",
	 .help = "default polling timeout"},
	{.key = "lookback_delta", .type = F_DURATION,
	 .off = offsetof(struct conf, global.lookback_delta_ms), .def = "\"5m\"",
	 .help = "how far back queries look for a sample"},
	{.key = "evaluation_interval", .type = F_DURATION,
	 .off = offsetof(struct conf, global.evaluation_interval_ms), .def = "\"1m\"",
	 .help = "default interval of rule groups"},
	{.key = "outage_tolerance", .type = F_DURATION,
	 .off = offsetof(struct conf, global.outage_tolerance_ms), .def = "\"1h\"",
	 .help = "after a restart this short, pending and firing alerts keep their for clock"},
	{.key = "timezone", .type = F_STR, .off = offsetof(struct conf, global.timezone),
	 .def = "\"Asia/Shanghai\"", .help = "time zone of dates, calendars and reports"},
	{.key = "external_labels", .type = F_KVS, .off = offsetof(struct conf, global.external_labels),
	 .help = "labels added when data leaves this instance"},
	{.key = "max_concurrent_scrapes", .type = F_INT,
	 .off = offsetof(struct conf, global.max_concurrent_scrapes), .def = "64", .min = 1,
	 .max = 10000, .help = "transfers in flight at once"},
};

static const struct field storage_rows[] = {
	{.key = "path", .type = F_STR, .off = offsetof(struct conf, storage.path),
	 .def = "\"./data\"", .help = "directory of the store"},
	{.key = "retention", .type = F_DURATION, .off = offsetof(struct conf, storage.retention_ms),
	 .def = "\"400d\"", .help = "samples older than this are dropped"},
	{.key = "initial_size", .type = F_SIZE, .off = offsetof(struct conf, storage.initial_size),
	 .def = "\"64MiB\"", .help = "initial map size; it grows as needed"},
	{.key = "max_size", .type = F_SIZE, .off = offsetof(struct conf, storage.max_size),
	 .def = "\"64GiB\"", .help = "the store never grows past this"},
	{.key = "sync", .type = F_BOOL, .off = offsetof(struct conf, storage.sync), .def = "true",
	 .help = "fsync every batch (false: survives a killed process, not a power loss)"},
};

static const struct field auth_rows[] = {
	{.key = "bearer_token_file", .type = F_SECRET, .off = offsetof(struct conf_auth, bearer_token),
	 .help = "file holding the token callers send as Authorization: Bearer"},
	{.key = "username", .type = F_STR, .off = offsetof(struct conf_auth, username),
	 .help = "basic authentication user"},
	{.key = "password_file", .type = F_SECRET, .off = offsetof(struct conf_auth, password),
	 .help = "file holding the basic authentication password"},
};
static const struct table auth_table = TBL("auth", auth_rows);

static const struct field http_rows[] = {
	{.key = "listen", .type = F_STRS, .off = offsetof(struct conf, http.listen),
	 .count_off = offsetof(struct conf, http.nlisten), .def = "[\"127.0.0.1:9470\"]",
	 .help = "addresses to serve HTTP on (host:port, [v6]:port)"},
	{.key = "connection_limit", .type = F_INT, .off = offsetof(struct conf, http.connection_limit),
	 .def = "256", .min = 1, .max = 100000, .help = "connections served at once"},
	{.key = "connection_timeout", .type = F_DURATION,
	 .off = offsetof(struct conf, http.connection_timeout_ms), .def = "\"30s\"",
	 .help = "an idle or slow connection is closed after this long"},
	{.key = "max_request_size", .type = F_SIZE, .off = offsetof(struct conf, http.max_request_size),
	 .def = "\"32MiB\"", .help = "larger request bodies are refused with 413"},
	{.key = "tls_cert_file", .type = F_STR, .off = offsetof(struct conf, http.tls_cert_file),
	 .help = "serve HTTPS with this certificate (PEM)"},
	{.key = "tls_key_file", .type = F_STR, .off = offsetof(struct conf, http.tls_key_file),
	 .help = "and this key (PEM)"},
	{.key = "read_auth", .type = F_OBJ, .off = offsetof(struct conf, http.read_auth),
	 .sub = &auth_table, .help = "authentication for /metrics and the read API"},
	{.key = "write_auth", .type = F_OBJ, .off = offsetof(struct conf, http.write_auth),
	 .sub = &auth_table,
	 .help = "authentication for import and /-/reload; required unless listening on loopback only"},
	{.key = "openmetrics", .type = F_BOOL, .off = offsetof(struct conf, http.openmetrics),
	 .def = "true", .help = "offer OpenMetrics to scrapers that prefer it (false: always text 0.0.4)"},
	{.key = "metrics_timestamps", .type = F_BOOL,
	 .off = offsetof(struct conf, http.metrics_timestamps), .def = "false",
	 .help = "write sample timestamps on /metrics (off: Prometheus' staleness handling works)"},
};

static const struct field query_rows[] = {
	{.key = "timeout", .type = F_DURATION, .off = offsetof(struct conf, query.timeout_ms),
	 .def = "\"2m\"", .help = "a query running longer is stopped (503, errorType timeout)"},
	{.key = "max_samples", .type = F_INT, .off = offsetof(struct conf, query.max_samples),
	 .def = "50000000", .min = 1000, .max = 2000000000,
	 .help = "samples one query may hold in memory (422, errorType execution)"},
	{.key = "max_points_per_series", .type = F_INT,
	 .off = offsetof(struct conf, query.max_points), .def = "11000", .min = 10, .max = 10000000,
	 .help = "a range query asking for more steps is refused (400)"},
};

static const struct field rule_rows[] = {
	{.key = "alert", .type = F_STR, .off = offsetof(struct conf_rule, alert),
	 .help = "alerting rule: the alert's name (exactly one of alert, record)"},
	{.key = "record", .type = F_STR, .off = offsetof(struct conf_rule, record),
	 .help = "recording rule: the metric name its results are written as"},
	{.key = "expr", .type = F_STR, .off = offsetof(struct conf_rule, expr), .required = true,
	 .help = "PromQL; an alert for every series it returns"},
	{.key = "for", .type = F_DURATION, .off = offsetof(struct conf_rule, for_ms), .def = "\"0s\"",
	 .help = "pending this long before firing"},
	{.key = "keep_firing_for", .type = F_DURATION,
	 .off = offsetof(struct conf_rule, keep_firing_for_ms), .def = "\"0s\"",
	 .help = "keep firing this long after the condition clears"},
	{.key = "labels", .type = F_KVS, .off = offsetof(struct conf_rule, labels),
	 .help = "labels added (templates allowed in alerts)"},
	{.key = "annotations", .type = F_KVS, .off = offsetof(struct conf_rule, annotations),
	 .help = "annotations: templates with {{ $labels.x }}, {{ $value }}, humanize, printf"},
};
static const struct table rule_table = TBL("rule", rule_rows);

static const struct field rule_group_rows[] = {
	{.key = "name", .type = F_STR, .off = offsetof(struct conf_rule_group, name),
	 .required = true, .help = "unique name of the group"},
	{.key = "interval", .type = F_DURATION, .off = offsetof(struct conf_rule_group, interval_ms),
	 .help = "how often the group is evaluated (default: global.evaluation_interval)"},
	{.key = "limit", .type = F_INT, .off = offsetof(struct conf_rule_group, limit), .def = "0",
	 .min = 0, .max = 100000000, .help = "alerts or series one rule may produce (0: no limit)"},
	{.key = "rules", .type = F_OBJARR, .off = offsetof(struct conf_rule_group, rules),
	 .count_off = offsetof(struct conf_rule_group, nrules), .sub = &rule_table,
	 .elem_size = sizeof(struct conf_rule), .help = "the group's rules, evaluated in order"},
};
static const struct table rule_group_table = TBL("rule group", rule_group_rows);

static const char *const direction_names[] = {"at_least", "at_most", NULL};
static const char *const curve_names[] = {"linear", "step", NULL};
static const char *const period_names[] = {"none", "week", "month", "quarter", "year", NULL};
static const char *const count_names[] = {"sum", "increase", NULL};

static const struct field milestone_rows[] = {
	{.key = "at", .type = F_STR, .off = offsetof(struct conf_milestone, at), .required = true,
	 .help = "when (a date or time in the KPI's time zone, or RFC 3339)"},
	{.key = "value", .type = F_TEXT, .off = offsetof(struct conf_milestone, value),
	 .help = "the value planned by then"},
	{.key = "fraction", .type = F_TEXT, .off = offsetof(struct conf_milestone, fraction),
	 .help = "or: the share of the way from baseline to target (0.5)"},
};
static const struct table milestone_table = TBL("milestone", milestone_rows);

static const struct field kpi_rows[] = {
	{.key = "name", .type = F_STR, .off = offsetof(struct conf_kpi, name), .required = true,
	 .help = "unique id; the kpi label of its series"},
	{.key = "title", .type = F_STR, .off = offsetof(struct conf_kpi, title),
	 .help = "what people read (Chinese welcome); alerts speak its language"},
	{.key = "value", .type = F_STR, .off = offsetof(struct conf_kpi, value), .required = true,
	 .help = "PromQL; every series it returns is one unit, with its labels"},
	{.key = "target", .type = F_TEXT, .off = offsetof(struct conf_kpi, target), .required = true,
	 .help = "a number, or PromQL giving a target per unit (matched on shared labels)"},
	{.key = "direction", .type = F_ENUM, .off = offsetof(struct conf_kpi, direction),
	 .def = "\"at_least\"", .enums = direction_names, .help = "at_least or at_most"},
	{.key = "start", .type = F_STR, .off = offsetof(struct conf_kpi, start), .required = true,
	 .help = "when the plan starts"},
	{.key = "deadline", .type = F_STR, .off = offsetof(struct conf_kpi, deadline),
	 .required = true, .help = "when the target is due"},
	{.key = "baseline", .type = F_TEXT, .off = offsetof(struct conf_kpi, baseline),
	 .def = "\"auto\"", .help = "a number, or auto: each unit's value at start"},
	{.key = "milestones", .type = F_OBJARR, .off = offsetof(struct conf_kpi, milestones),
	 .count_off = offsetof(struct conf_kpi, nmilestones), .sub = &milestone_table,
	 .elem_size = sizeof(struct conf_milestone), .help = "phases of the plan, in time order"},
	{.key = "curve", .type = F_ENUM, .off = offsetof(struct conf_kpi, curve),
	 .def = "\"linear\"", .enums = curve_names,
	 .help = "linear between plan points, or step (a switch due on a date)"},
	{.key = "tolerance", .type = F_NUM, .off = offsetof(struct conf_kpi, tolerance), .def = "0.1",
	 .min = 0, .max = 1, .help = "lagging: behind the trajectory by more than this share of |target - baseline|"},
	{.key = "hysteresis", .type = F_NUM, .off = offsetof(struct conf_kpi, hysteresis),
	 .def = "0.5", .min = 0, .max = 1,
	 .help = "a lagging unit clears within this share of the tolerance"},
	{.key = "for", .type = F_DURATION, .off = offsetof(struct conf_kpi, for_ms), .def = "\"0s\"",
	 .help = "lagging this long before KpiLagging fires"},
	{.key = "forecast", .type = F_DURATION, .off = offsetof(struct conf_kpi, forecast_ms),
	 .def = "\"7d\"", .help = "least-squares window of the forecast at the deadline"},
	{.key = "stale_after", .type = F_DURATION, .off = offsetof(struct conf_kpi, stale_after_ms),
	 .def = "\"1h\"", .help = "a unit without data this long is stale"},
	{.key = "period", .type = F_ENUM, .off = offsetof(struct conf_kpi, period),
	 .def = "\"none\"", .enums = period_names,
	 .help = "a calendar quota: target per week, month, quarter or year (local midnight)"},
	{.key = "count", .type = F_ENUM, .off = offsetof(struct conf_kpi, count), .def = "\"sum\"",
	 .enums = count_names,
	 .help = "quotas: the sum of the samples in the period, or a counter's exact increase"},
	{.key = "roster", .type = F_STR, .off = offsetof(struct conf_kpi, roster),
	 .help = "PromQL listing the units that must report (counties over 100,000 residents)"},
	{.key = "timezone", .type = F_STR, .off = offsetof(struct conf_kpi, timezone),
	 .help = "time zone of the dates (default: global.timezone)"},
	{.key = "severity", .type = F_STR, .off = offsetof(struct conf_kpi, severity),
	 .def = "\"warning\"", .help = "severity label of its alerts"},
	{.key = "owner", .type = F_STR, .off = offsetof(struct conf_kpi, owner),
	 .help = "who answers for it (a label of its alerts)"},
	{.key = "contact", .type = F_STR, .off = offsetof(struct conf_kpi, contact),
	 .help = "how to reach the owner (a label of its alerts)"},
};
static const struct table kpi_table = TBL("kpi", kpi_rows);

/* Sections are tables over struct conf itself (offsets are absolute). */
static const struct table query_table = TBL("query", query_rows);
static const struct table global_table = TBL("global", global_rows);
static const struct table storage_table = TBL("storage", storage_rows);
static const struct table http_table = TBL("http", http_rows);

static const struct field root_rows[] = {
	{.key = "global", .type = F_OBJ, .off = 0, .sub = &global_table,
	 .help = "defaults for everything else"},
	{.key = "storage", .type = F_OBJ, .off = 0, .sub = &storage_table, .help = "the store"},
	{.key = "http", .type = F_OBJ, .off = 0, .sub = &http_table, .help = "the HTTP server"},
	{.key = "query", .type = F_OBJ, .off = 0, .sub = &query_table,
	 .help = "limits of the PromQL engine"},
	{.key = "rule_groups", .type = F_OBJARR, .off = offsetof(struct conf, rule_groups),
	 .count_off = offsetof(struct conf, nrule_groups), .sub = &rule_group_table,
	 .elem_size = sizeof(struct conf_rule_group),
	 .help = "Prometheus alerting and recording rules, in groups (the fields of a Prometheus rule file)"},
	{.key = "kpis", .type = F_OBJARR, .off = offsetof(struct conf, kpis),
	 .count_off = offsetof(struct conf, nkpis), .sub = &kpi_table,
	 .elem_size = sizeof(struct conf_kpi), .help = "the programme's targets, tracked per unit"},
	{.key = "targets", .type = F_OBJARR, .off = offsetof(struct conf, targets),
	 .count_off = offsetof(struct conf, ntargets), .sub = &target_table,
	 .elem_size = sizeof(struct conf_target), .help = "the platforms to poll"},
};

const struct table conf_root_table = TBL("", root_rows);
