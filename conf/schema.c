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

static const char *const format_names[] = {"json", "prometheus", "csv", "xlsx", NULL};

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
	{.key = "allowed_origins", .type = F_STRS,
	 .off = offsetof(struct conf_pagination, allowed_origins),
	 .count_off = offsetof(struct conf_pagination, nallowed_origins),
	 .help = "other origins (\"https://host:port\") next links may lead to; they get no credentials"},
};
static const struct table pagination_table = TBL("pagination", pagination_rows);

static const struct field csv_rows[] = {
	{.key = "delimiter", .type = F_STR, .off = offsetof(struct conf_csv, delimiter),
	 .help = "CSV field separator (default: a comma; a tab for UTF-16 \"Unicode text\")"},
	{.key = "timestamp_column", .type = F_STR,
	 .off = offsetof(struct conf_csv, timestamp_column),
	 .help = "column holding the sample time (else the scrape time)"},
	{.key = "labels", .type = F_KVS, .off = offsetof(struct conf_csv, labels),
	 .help = "label name to column name"},
	{.key = "values", .type = F_KVS, .off = offsetof(struct conf_csv, values),
	 .help = "metric name to column name"},
	{.key = "sheet", .type = F_STR, .off = offsetof(struct conf_csv, sheet),
	 .help = "xlsx: the worksheet's name (default: the first)"},
	{.key = "header_row", .type = F_INT, .off = offsetof(struct conf_csv, header_row),
	 .min = 0, .max = 1048576,
	 .help = "the header's row number (0: the first row naming every configured column)"},
	{.key = "value_map", .type = F_KVS, .off = offsetof(struct conf_csv, value_map),
	 .help = "a value cell's text to a number, or \"\" to read it as blank, e.g. {\"已开设\": 1, "
		 "\"未开设\": 0, \"/\": \"\"}"},
};
static const struct table csv_table = TBL("csv", csv_rows);
static const struct table ledger_cols_table = TBL("ledger", csv_rows);

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
	{.key = "url", .type = F_STR, .off = offsetof(struct conf_target, url),
	 .help = "http://, https:// or file:// URL (or path)"},
	{.key = "path", .type = F_STR, .off = offsetof(struct conf_target, path),
	 .help = "a ledger file on this machine, relative to the configuration's folder (or url)"},
	{.key = "method", .type = F_STR, .off = offsetof(struct conf_target, method),
	 .def = "\"GET\"", .enums = method_names, .help = "GET or POST"},
	{.key = "headers", .type = F_KVS, .off = offsetof(struct conf_target, headers),
	 .help = "extra request headers (names are tokens; values on one line)"},
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
	 .def = "\"json\"", .enums = format_names, .help = "json, prometheus, csv or xlsx"},
	{.key = "metrics", .type = F_OBJARR, .off = offsetof(struct conf_target, metrics),
	 .count_off = offsetof(struct conf_target, nmetrics), .sub = &json_metric_table,
	 .elem_size = sizeof(struct conf_json_metric), .help = "JSON mappings (format json)"},
	{.key = "pagination", .type = F_OBJ, .off = offsetof(struct conf_target, pagination),
	 .sub = &pagination_table, .help = "follow pages until the platform says done"},
	{.key = "csv", .type = F_OBJ, .off = offsetof(struct conf_target, csv), .sub = &csv_table,
	 .help = "the older name of ledger (format csv)"},
	{.key = "ledger", .type = F_OBJ, .off = offsetof(struct conf_target, ledger),
	 .sub = &ledger_cols_table, .help = "a ledger's columns (format csv or xlsx; docs/ledgers.md)"},
	{.key = "timezone", .type = F_STR, .off = offsetof(struct conf_target, timezone),
	 .help = "time zone of dates in responses (default: global.timezone)"},
	{.key = "sample_limit", .type = F_INT, .off = offsetof(struct conf_target, sample_limit),
	 .min = 0, .max = 1000000000, .help = "as global.sample_limit, for this target (0: the global one)"},
	{.key = "label_limit", .type = F_INT, .off = offsetof(struct conf_target, label_limit),
	 .min = 0, .max = 1000000, .help = "as global.label_limit, for this target (0: the global one)"},
	{.key = "label_name_length_limit", .type = F_INT,
	 .off = offsetof(struct conf_target, label_name_length_limit), .min = 0, .max = 1000000000,
	 .help = "as global.label_name_length_limit, for this target (0: the global one)"},
	{.key = "label_value_length_limit", .type = F_INT,
	 .off = offsetof(struct conf_target, label_value_length_limit), .min = 0, .max = 1000000000,
	 .help = "as global.label_value_length_limit, for this target (0: the global one)"},
};
static const struct table target_table = TBL("target", target_rows);

static const struct field shard_rows[] = {
	{.key = "index", .type = F_INT, .off = offsetof(struct conf, global.shard_index), .def = "0",
	 .min = 0, .max = 9999, .help = "this instance's shard, 0 to count - 1"},
	{.key = "count", .type = F_INT, .off = offsetof(struct conf, global.shard_count), .def = "1",
	 .min = 1, .max = 10000, .help = "how many instances share the targets"},
};
static const struct table shard_table = TBL("shard", shard_rows);

static const char *const language_names[] = {"auto", "zh", "en", NULL};

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
	{.key = "language", .type = F_ENUM, .off = offsetof(struct conf, global.language),
	 .def = "\"auto\"", .enums = language_names,
	 .help = "language of emails, digests and pages: zh, en, or auto (zh when a KPI's title is)"},
	{.key = "external_labels", .type = F_KVS, .off = offsetof(struct conf, global.external_labels),
	 .help = "labels added when data leaves this instance"},
	{.key = "max_concurrent_scrapes", .type = F_INT,
	 .off = offsetof(struct conf, global.max_concurrent_scrapes), .def = "64", .min = 1,
	 .max = 10000, .help = "transfers in flight at once"},
	{.key = "shard", .type = F_OBJ, .off = 0, .sub = &shard_table,
	 .help = "split the targets among instances: this one scrapes those whose name hashes to index"},
	{.key = "sample_limit", .type = F_INT, .off = offsetof(struct conf, global.sample_limit),
	 .def = "50000", .min = 0, .max = 1000000000,
	 .help = "a scrape (all its pages) returning more samples fails; 0: no limit"},
	{.key = "label_limit", .type = F_INT, .off = offsetof(struct conf, global.label_limit),
	 .def = "64", .min = 0, .max = 1000000,
	 .help = "a series with more labels (with __name__, job, instance) fails its scrape or import; 0: no limit"},
	{.key = "label_name_length_limit", .type = F_INT,
	 .off = offsetof(struct conf, global.label_name_length_limit), .def = "128", .min = 0,
	 .max = 1000000000, .help = "longer label names (bytes) fail the scrape or import; 0: no limit"},
	{.key = "label_value_length_limit", .type = F_INT,
	 .off = offsetof(struct conf, global.label_value_length_limit), .def = "2048", .min = 0,
	 .max = 1000000000,
	 .help = "longer label values and metric names (bytes) fail the scrape or import; 0: no limit"},
	{.key = "new_series_limit", .type = F_INT, .off = offsetof(struct conf, global.new_series_limit),
	 .def = "100000", .min = 0, .max = 1000000000,
	 .help = "new series all targets together may add per minute; a scrape adding more fails; 0: no limit"},
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
	{.key = "max_series", .type = F_INT, .off = offsetof(struct conf, storage.max_series),
	 .def = "10000000", .min = 0, .max = 4000000000LL,
	 .help = "series the store may hold (each is kept in the writer's memory); a scrape, "
		 "import or evaluation that would create more fails naming it (0: no limit)"},
	{.key = "sync", .type = F_BOOL, .off = offsetof(struct conf, storage.sync), .def = "true",
	 .help = "fsync every batch (false: survives a killed process, not a power loss)"},
	{.key = "sync_meta", .type = F_BOOL, .off = offsetof(struct conf, storage.sync_meta),
	 .def = "true",
	 .help = "with sync, also flush each commit's meta page (false: one flush less per batch; "
		 "a power loss may undo the last batch, never corrupt the store)"},
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

static const char *const tls_version_names[] = {"TLS1.2", "TLS1.3", NULL};

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
	{.key = "import_series_limit", .type = F_INT,
	 .off = offsetof(struct conf, http.import_series_limit), .def = "100000", .min = 0,
	 .max = 1000000000, .help = "an import request writing more series is refused with 413; 0: no limit"},
	{.key = "tls_cert_file", .type = F_STR, .off = offsetof(struct conf, http.tls_cert_file),
	 .help = "serve HTTPS with this certificate (PEM)"},
	{.key = "tls_key_file", .type = F_STR, .off = offsetof(struct conf, http.tls_key_file),
	 .help = "and this key (PEM)"},
	{.key = "tls_min_version", .type = F_ENUM, .off = offsetof(struct conf, http.tls_min_version),
	 .def = "\"TLS1.2\"", .enums = tls_version_names,
	 .help = "oldest TLS version served: TLS1.2 or TLS1.3"},
	{.key = "per_ip_connection_limit", .type = F_INT,
	 .off = offsetof(struct conf, http.per_ip_connection_limit), .def = "32", .min = 1,
	 .max = 100000, .help = "connections one client address may hold open at once"},
	{.key = "header_timeout", .type = F_DURATION,
	 .off = offsetof(struct conf, http.header_timeout_ms), .def = "\"10s\"",
	 .help = "the request line and headers must arrive within this, however slowly they trickle"},
	{.key = "request_timeout", .type = F_DURATION,
	 .off = offsetof(struct conf, http.request_timeout_ms), .def = "\"60s\"",
	 .help = "the whole request, body included, must arrive within this"},
	{.key = "health_listen", .type = F_STRS, .off = offsetof(struct conf, http.health_listen),
	 .count_off = offsetof(struct conf, http.nhealth_listen), .def = "[]",
	 .help = "addresses serving only /metrics, /-/healthy and /-/ready, with connections of their own"},
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
	{.key = "max_bytes", .type = F_SIZE, .off = offsetof(struct conf, query.max_bytes),
	 .def = "\"1GiB\"",
	 .help = "memory one query may hold: parse, evaluation, JSON answer (422, errorType execution); 0: no limit"},
	{.key = "max_bytes_total", .type = F_SIZE, .off = offsetof(struct conf, query.max_bytes_total),
	 .def = "\"2GiB\"",
	 .help = "memory the API's queries running at once may hold together (503, errorType unavailable); 0: no limit"},
	{.key = "max_concurrency", .type = F_INT, .off = offsetof(struct conf, query.max_concurrency),
	 .def = "20", .min = 1, .max = 10000,
	 .help = "API queries evaluated at once; more wait, until their timeout (503, errorType timeout)"},
	{.key = "threads", .type = F_INT, .off = offsetof(struct conf, query.threads), .def = "0",
	 .min = 0, .max = 8,
	 .help = "threads one query's range functions and selectors over many series use, its own included; 0: the processors online, at most 8; 1: one (same answers whatever the number)"},
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

static const char *const rollup_measure_names[] = {"share_met", "count_met", "sum", "mean",
						    "mean_progress", NULL};
static const struct field rollup_rows[] = {
	{.key = "kpi", .type = F_STR, .off = offsetof(struct conf_rollup, kpi), .required = true,
	 .help = "the KPI whose units are rolled up"},
	{.key = "to", .type = F_STR, .off = offsetof(struct conf_rollup, to), .required = true,
	 .help = "the units table's kind they are rolled up to (city)"},
	{.key = "measure", .type = F_ENUM, .off = offsetof(struct conf_rollup, measure),
	 .def = "\"share_met\"", .enums = rollup_measure_names,
	 .help = "share_met, count_met, sum, mean or mean_progress of the units below"},
};
static const struct table rollup_table = TBL("rollup", rollup_rows);

static const char *const peers_below_names[] = {"mean", "median", NULL};
static const struct field peers_rows[] = {
	{.key = "group_by", .type = F_STRS, .off = offsetof(struct conf_peers, group_by),
	 .count_off = offsetof(struct conf_peers, ngroup_by),
	 .help = "labels whose values make a group (none: one group)"},
	{.key = "below", .type = F_ENUM, .off = offsetof(struct conf_peers, below),
	 .def = "\"mean\"", .enums = peers_below_names,
	 .help = "mean: below mean - k sd; median: below fraction x median"},
	{.key = "k", .type = F_NUM, .off = offsetof(struct conf_peers, k), .def = "1.5", .min = 0,
	 .max = 100, .help = "standard deviations below the mean"},
	{.key = "fraction", .type = F_NUM, .off = offsetof(struct conf_peers, fraction),
	 .def = "0.5", .min = 0, .max = 1, .help = "share of the median"},
};
static const struct table peers_table = TBL("peers", peers_rows);

static const struct field roster_units_rows[] = {
	{.key = "kind", .type = F_STR, .off = offsetof(struct conf_roster_units, kind),
	 .required = true, .help = "the units table's kind (county)"},
	{.key = "where", .type = F_STR, .off = offsetof(struct conf_roster_units, where),
	 .help = "an attribute compared with a number: \"population > 100000\""},
};
static const struct table roster_units_table = TBL("roster_units", roster_units_rows);

static const struct field kpi_rows[] = {
	{.key = "name", .type = F_STR, .off = offsetof(struct conf_kpi, name), .required = true,
	 .help = "unique id; the kpi label of its series"},
	{.key = "title", .type = F_STR, .off = offsetof(struct conf_kpi, title),
	 .help = "what people read (Chinese welcome); alerts speak its language"},
	{.key = "value", .type = F_STR, .off = offsetof(struct conf_kpi, value),
	 .help = "PromQL; every series it returns is one unit, with its labels; required but for "
		 "roll-ups"},
	{.key = "target", .type = F_TEXT, .off = offsetof(struct conf_kpi, target),
	 .help = "a number, or PromQL giving a target per unit (matched on shared labels); "
		 "required but for coverage KPIs"},
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
	{.key = "item", .type = F_STR, .off = offsetof(struct conf_kpi, item),
	 .help = "the programme item it serves (\"N2 心理健康服务\"): shown in digests and pages"},
	{.key = "owner", .type = F_STR, .off = offsetof(struct conf_kpi, owner),
	 .help = "who answers for it (a label of its alerts)"},
	{.key = "contact", .type = F_STR, .off = offsetof(struct conf_kpi, contact),
	 .help = "how to reach the owner (a label of its alerts)"},
	{.key = "severities", .type = F_KVS, .off = offsetof(struct conf_kpi, severities),
	 .help = "severity per alert, overriding severity: {\"KpiMissed\": \"critical\"}"},
	{.key = "coverage", .type = F_STR, .off = offsetof(struct conf_kpi, coverage),
	 .help = "a coverage KPI: the condition a unit's value must meet, \">= 1\""},
	{.key = "unit_name", .type = F_STR, .off = offsetof(struct conf_kpi, unit_name),
	 .help = "template naming a unit for people: \"{{ $labels.city }}市\""},
	{.key = "runbook", .type = F_STR, .off = offsetof(struct conf_kpi, runbook),
	 .help = "what to do when it lags or misses, shown in its alerts"},
	{.key = "unit_code", .type = F_STR, .off = offsetof(struct conf_kpi, unit_code),
	 .help = "the label holding a unit's code in the units table (county_code)"},
	{.key = "roster_units", .type = F_OBJ, .off = offsetof(struct conf_kpi, roster_units),
	 .sub = &roster_units_table, .help = "a roster from the units table: a kind, and a condition"},
	{.key = "rollup", .type = F_OBJ, .off = offsetof(struct conf_kpi, rollup),
	 .sub = &rollup_table, .help = "a roll-up KPI: its value made from another KPI's units below"},
	{.key = "peers", .type = F_OBJ, .off = offsetof(struct conf_kpi, peers), .sub = &peers_table,
	 .help = "a below-the-peers KPI: units clearly below their group"},
};
static const struct table kpi_table = TBL("kpi", kpi_rows);


/* ---- notify --------------------------------------------------------------- */

static const char *const smtp_tls_names[] = {"starttls", "implicit", "none", "auto", NULL};
static const char *const auth_mech_names[] = {"PLAIN", "LOGIN", NULL};

static const struct field email_rows[] = {
	{.key = "smarthost", .type = F_STR, .off = offsetof(struct conf_email, smarthost),
	 .help = "the SMTP server, host:port"},
	{.key = "from", .type = F_STR, .off = offsetof(struct conf_email, from),
	 .help = "sender address (From:)"},
	{.key = "to", .type = F_STRS, .off = offsetof(struct conf_email, to),
	 .count_off = offsetof(struct conf_email, nto), .help = "recipients"},
	{.key = "cc", .type = F_STRS, .off = offsetof(struct conf_email, cc),
	 .count_off = offsetof(struct conf_email, ncc), .help = "copy recipients"},
	{.key = "hello", .type = F_STR, .off = offsetof(struct conf_email, hello),
	 .def = "\"localhost\"", .help = "the name pacewatch gives in EHLO"},
	{.key = "tls", .type = F_ENUM, .off = offsetof(struct conf_email, tls), .def = "\"auto\"",
	 .enums = smtp_tls_names,
	 .help = "starttls (required), implicit (SMTPS), none (plain text), auto: implicit on port 465, else starttls"},
	{.key = "auth_username", .type = F_STR, .off = offsetof(struct conf_email, auth_username),
	 .help = "SMTP AUTH user"},
	{.key = "auth_password_file", .type = F_SECRET,
	 .off = offsetof(struct conf_email, auth_password), .help = "file holding the SMTP AUTH password"},
	{.key = "auth_mechanism", .type = F_STR, .off = offsetof(struct conf_email, auth_mechanism),
	 .enums = auth_mech_names,
	 .help = "PLAIN or LOGIN (default: what the server offers)"},
	{.key = "ca_file", .type = F_STR, .off = offsetof(struct conf_email, ca_file),
	 .help = "CA certificates to verify the server with"},
	{.key = "tls_verify", .type = F_BOOL, .off = offsetof(struct conf_email, tls_verify),
	 .def = "true", .help = "verify the server's certificate and name"},
	{.key = "timeout", .type = F_DURATION, .off = offsetof(struct conf_email, timeout_ms),
	 .def = "\"30s\"", .help = "give up on one delivery attempt after this long"},
	{.key = "subject_template_file", .type = F_FILE,
	 .off = offsetof(struct conf_email, subject_template),
	 .help = "replaces the subject (template, see docs/notifications.md)"},
	{.key = "text_template_file", .type = F_FILE,
	 .off = offsetof(struct conf_email, text_template), .help = "replaces the text part"},
	{.key = "html_template_file", .type = F_FILE,
	 .off = offsetof(struct conf_email, html_template),
	 .help = "replaces the HTML part (values are HTML-escaped)"},
};
static const struct table email_table = TBL("email", email_rows);

static const struct field webhook_rows[] = {
	{.key = "url", .type = F_STR, .off = offsetof(struct conf_webhook, url),
	 .help = "where Alertmanager's webhook JSON (version 4) is POSTed"},
	{.key = "headers", .type = F_KVS, .off = offsetof(struct conf_webhook, headers),
	 .help = "extra request headers (names are tokens; values on one line)"},
	{.key = "bearer_token_file", .type = F_SECRET,
	 .off = offsetof(struct conf_webhook, bearer_token),
	 .help = "file holding a token sent as Authorization: Bearer"},
	{.key = "timeout", .type = F_DURATION, .off = offsetof(struct conf_webhook, timeout_ms),
	 .def = "\"10s\"", .help = "give up on one attempt after this long"},
	{.key = "max_alerts", .type = F_INT, .off = offsetof(struct conf_webhook, max_alerts),
	 .def = "0", .min = 0, .max = 1000000,
	 .help = "alerts per payload; the rest are counted in truncatedAlerts (0: all)"},
};
static const struct table webhook_table = TBL("webhook", webhook_rows);

static const struct field am_rows[] = {
	{.key = "urls", .type = F_STRS, .off = offsetof(struct conf_am, urls),
	 .count_off = offsetof(struct conf_am, nurls),
	 .help = "Alertmanager base URLs; alerts are POSTed to <url>/api/v2/alerts"},
	{.key = "timeout", .type = F_DURATION, .off = offsetof(struct conf_am, timeout_ms),
	 .def = "\"10s\"", .help = "give up on one attempt after this long"},
	{.key = "resend_delay", .type = F_DURATION, .off = offsetof(struct conf_am, resend_delay_ms),
	 .def = "\"1m\"", .help = "firing alerts are sent again this often (Prometheus' --rules.alert.resend-delay)"},
};
static const struct table am_table = TBL("alertmanager", am_rows);

static const struct field receiver_rows[] = {
	{.key = "name", .type = F_STR, .off = offsetof(struct conf_receiver, name), .required = true,
	 .help = "unique name routes refer to"},
	{.key = "send_resolved", .type = F_BOOL, .off = offsetof(struct conf_receiver, send_resolved),
	 .def = "true", .help = "also notify when alerts resolve"},
	{.key = "email", .type = F_OBJ, .off = offsetof(struct conf_receiver, email),
	 .sub = &email_table, .help = "deliver by email (exactly one of email, webhook, alertmanager)"},
	{.key = "webhook", .type = F_OBJ, .off = offsetof(struct conf_receiver, webhook),
	 .sub = &webhook_table, .help = "deliver to a webhook"},
	{.key = "alertmanager", .type = F_OBJ, .off = offsetof(struct conf_receiver, alertmanager),
	 .sub = &am_table, .help = "forward to Alertmanager, which groups and routes itself"},
};
static const struct table receiver_table = TBL("receiver", receiver_rows);

static const struct table route_table;
static const struct field route_rows[] = {
	{.key = "receiver", .type = F_STR, .off = offsetof(struct conf_route, receiver),
	 .help = "receiver of the alerts this route takes (default: the parent's)"},
	{.key = "matchers", .type = F_STRS, .off = offsetof(struct conf_route, matchers),
	 .count_off = offsetof(struct conf_route, nmatchers),
	 .help = "label matchers an alert must meet: severity=\"critical\", kpi=~\"mr_.*\""},
	{.key = "group_by", .type = F_STRS, .off = offsetof(struct conf_route, group_by),
	 .count_off = offsetof(struct conf_route, ngroup_by),
	 .help = "labels that make one notification group ([\"...\"]: all; default: the parent's)"},
	{.key = "group_wait", .type = F_DURATION, .off = offsetof(struct conf_route, group_wait_ms),
	 .help = "wait this long for more alerts before a new group's first notification (default 30s)"},
	{.key = "group_interval", .type = F_DURATION,
	 .off = offsetof(struct conf_route, group_interval_ms),
	 .help = "wait this long before notifying about changes to a group (default 5m)"},
	{.key = "repeat_interval", .type = F_DURATION,
	 .off = offsetof(struct conf_route, repeat_interval_ms),
	 .help = "notify again about a group still firing after this long (default 4h)"},
	{.key = "continue", .type = F_BOOL, .off = offsetof(struct conf_route, cont), .def = "false",
	 .help = "after matching, keep trying the following sibling routes"},
	{.key = "mute_time_intervals", .type = F_STRS,
	 .off = offsetof(struct conf_route, mute_time_intervals),
	 .count_off = offsetof(struct conf_route, nmute),
	 .help = "names of time intervals in which this route sends nothing"},
	{.key = "active_time_intervals", .type = F_STRS,
	 .off = offsetof(struct conf_route, active_time_intervals),
	 .count_off = offsetof(struct conf_route, nactive),
	 .help = "names of time intervals outside which this route sends nothing"},
	{.key = "routes", .type = F_OBJARR, .off = offsetof(struct conf_route, routes),
	 .count_off = offsetof(struct conf_route, nroutes), .sub = &route_table,
	 .elem_size = sizeof(struct conf_route),
	 .help = "child routes (the same keys as route), tried in order"},
};
static const struct table route_table = TBL("route", route_rows);

static const struct field inhibit_rows[] = {
	{.key = "source_matchers", .type = F_STRS,
	 .off = offsetof(struct conf_inhibit, source_matchers),
	 .count_off = offsetof(struct conf_inhibit, nsource),
	 .help = "a firing alert meeting these mutes ..."},
	{.key = "target_matchers", .type = F_STRS,
	 .off = offsetof(struct conf_inhibit, target_matchers),
	 .count_off = offsetof(struct conf_inhibit, ntarget), .help = "... alerts meeting these ..."},
	{.key = "equal", .type = F_STRS, .off = offsetof(struct conf_inhibit, equal),
	 .count_off = offsetof(struct conf_inhibit, nequal),
	 .help = "... that have the same values of these labels"},
};
static const struct table inhibit_table = TBL("inhibit rule", inhibit_rows);

static const struct field time_range_rows[] = {
	{.key = "start_time", .type = F_STR, .off = offsetof(struct conf_time_range, start_time),
	 .required = true, .help = "HH:MM, inclusive"},
	{.key = "end_time", .type = F_STR, .off = offsetof(struct conf_time_range, end_time),
	 .required = true, .help = "HH:MM, exclusive (24:00 allowed)"},
};
static const struct table time_range_table = TBL("time range", time_range_rows);

static const struct field time_entry_rows[] = {
	{.key = "times", .type = F_OBJARR, .off = offsetof(struct conf_time_entry, times),
	 .count_off = offsetof(struct conf_time_entry, ntimes), .sub = &time_range_table,
	 .elem_size = sizeof(struct conf_time_range), .help = "times of day (none: all day)"},
	{.key = "weekdays", .type = F_STRS, .off = offsetof(struct conf_time_entry, weekdays),
	 .count_off = offsetof(struct conf_time_entry, nweekdays),
	 .help = "\"monday\", ranges \"monday:friday\" (none: every day)"},
	{.key = "days_of_month", .type = F_STRS, .off = offsetof(struct conf_time_entry, days_of_month),
	 .count_off = offsetof(struct conf_time_entry, ndays_of_month),
	 .help = "\"1\", \"1:7\", \"-1\" (the last day)"},
	{.key = "months", .type = F_STRS, .off = offsetof(struct conf_time_entry, months),
	 .count_off = offsetof(struct conf_time_entry, nmonths),
	 .help = "\"january\", \"1:3\""},
	{.key = "location", .type = F_STR, .off = offsetof(struct conf_time_entry, location),
	 .help = "time zone (default: global.timezone)"},
};
static const struct table time_entry_table = TBL("time interval", time_entry_rows);

static const struct field time_interval_rows[] = {
	{.key = "name", .type = F_STR, .off = offsetof(struct conf_time_interval, name),
	 .required = true, .help = "the name routes refer to"},
	{.key = "time_intervals", .type = F_OBJARR,
	 .off = offsetof(struct conf_time_interval, time_intervals),
	 .count_off = offsetof(struct conf_time_interval, ntime_intervals), .sub = &time_entry_table,
	 .elem_size = sizeof(struct conf_time_entry),
	 .help = "a moment inside any of these is inside the interval"},
};
static const struct table time_interval_table = TBL("time interval", time_interval_rows);

static const struct field digest_rows[] = {
	{.key = "receiver", .type = F_STR, .off = offsetof(struct conf_digest, receiver),
	 .required = true, .help = "an email receiver that gets the digest"},
	{.key = "weekdays", .type = F_STRS, .off = offsetof(struct conf_digest, weekdays),
	 .count_off = offsetof(struct conf_digest, nweekdays),
	 .def = "[\"monday\"]", .help = "days it is sent on (\"monday\", \"monday:friday\")"},
	{.key = "at", .type = F_STR, .off = offsetof(struct conf_digest, at), .def = "\"09:00\"",
	 .help = "local time of day it is sent (HH:MM)"},
	{.key = "timezone", .type = F_STR, .off = offsetof(struct conf_digest, timezone),
	 .help = "time zone of at (default: global.timezone)"},
	{.key = "title", .type = F_STR, .off = offsetof(struct conf_digest, title),
	 .help = "subject (default: 进度周报 / KPI digest and the date)"},
	{.key = "max_units", .type = F_INT, .off = offsetof(struct conf_digest, max_units),
	 .def = "20", .min = 0, .max = 100000,
	 .help = "unit rows listed per KPI, laggards first; the rest are counted by status"},
};
static const struct table digest_table = TBL("digest", digest_rows);

static const struct field notify_rows[] = {
	{.key = "receivers", .type = F_OBJARR, .off = offsetof(struct conf, notify.receivers),
	 .count_off = offsetof(struct conf, notify.nreceivers), .sub = &receiver_table,
	 .elem_size = sizeof(struct conf_receiver), .help = "where notifications go"},
	{.key = "route", .type = F_OBJ, .off = offsetof(struct conf, notify.route),
	 .sub = &route_table, .help = "the routing tree's root: it takes every alert"},
	{.key = "inhibit_rules", .type = F_OBJARR, .off = offsetof(struct conf, notify.inhibit_rules),
	 .count_off = offsetof(struct conf, notify.ninhibit), .sub = &inhibit_table,
	 .elem_size = sizeof(struct conf_inhibit),
	 .help = "firing alerts that mute others (a critical one mutes warnings for the same unit)"},
	{.key = "time_intervals", .type = F_OBJARR,
	 .off = offsetof(struct conf, notify.time_intervals),
	 .count_off = offsetof(struct conf, notify.ntime_intervals), .sub = &time_interval_table,
	 .elem_size = sizeof(struct conf_time_interval),
	 .help = "named times for mute_time_intervals and active_time_intervals"},
	{.key = "digests", .type = F_OBJARR, .off = offsetof(struct conf, notify.digests),
	 .count_off = offsetof(struct conf, notify.ndigests), .sub = &digest_table,
	 .elem_size = sizeof(struct conf_digest),
	 .help = "scheduled emails with every KPI's status and what changed"},
	{.key = "external_url", .type = F_STR, .off = offsetof(struct conf, notify.external_url),
	 .help = "pacewatch's address as people reach it (default: http://<first listen address>)"},
	{.key = "dashboard_url", .type = F_STR, .off = offsetof(struct conf, notify.dashboard_url),
	 .help = "the Grafana dashboard emails link to"},
	{.key = "retry_min", .type = F_DURATION, .off = offsetof(struct conf, notify.retry_min_ms),
	 .def = "\"5s\"", .help = "first wait after a failed delivery; doubles each time"},
	{.key = "retry_max", .type = F_DURATION, .off = offsetof(struct conf, notify.retry_max_ms),
	 .def = "\"5m\"", .help = "longest wait between attempts"},
	{.key = "max_age", .type = F_DURATION, .off = offsetof(struct conf, notify.max_age_ms),
	 .def = "\"7d\"", .help = "a notification undelivered this long is dropped (logged and counted)"},
};
static const struct table notify_table = TBL("notify", notify_rows);


/* ---- remote_write ------------------------------------------------------------ */

static const char *const rw_start_names[] = {"all", "now", NULL};

_Static_assert(offsetof(struct conf_remote_write, basic_password) -
			       offsetof(struct conf_remote_write, basic_user) ==
		       offsetof(struct basic_auth, password),
	       "remote_write basic_auth layout");
_Static_assert(offsetof(struct conf_remote_write, tls_verify) -
			       offsetof(struct conf_remote_write, ca_file) ==
		       offsetof(struct tls_conf, verify),
	       "remote_write tls layout");

static const struct field rw_rows[] = {
	{.key = "name", .type = F_STR, .off = offsetof(struct conf_remote_write, name),
	 .required = true, .help = "unique name; the remote label of its metrics and its cursor's key"},
	{.key = "url", .type = F_STR, .off = offsetof(struct conf_remote_write, url),
	 .required = true, .help = "the receiver's remote write URL (http:// or https://)"},
	{.key = "headers", .type = F_KVS, .off = offsetof(struct conf_remote_write, headers),
	 .help = "extra request headers (X-Scope-OrgID for Mimir, ...; names are tokens, values on one line)"},
	{.key = "external_labels", .type = F_KVS,
	 .off = offsetof(struct conf_remote_write, external_labels),
	 .help = "labels added to every series sent, over global.external_labels"},
	{.key = "bearer_token_file", .type = F_SECRET,
	 .off = offsetof(struct conf_remote_write, bearer_token),
	 .help = "file holding a bearer token sent as Authorization: Bearer"},
	{.key = "basic_auth", .type = F_OBJ, .off = offsetof(struct conf_remote_write, basic_user),
	 .sub = &basic_table, .help = "HTTP basic authentication"},
	{.key = "tls", .type = F_OBJ, .off = offsetof(struct conf_remote_write, ca_file),
	 .sub = &tls_table, .help = "TLS settings"},
	{.key = "batch_size", .type = F_INT, .off = offsetof(struct conf_remote_write, batch_size),
	 .def = "5000", .min = 1, .max = 10000000, .help = "samples per request"},
	{.key = "batch_deadline", .type = F_DURATION,
	 .off = offsetof(struct conf_remote_write, batch_deadline_ms), .def = "\"5s\"",
	 .help = "new samples are sent at least this often"},
	{.key = "concurrency", .type = F_INT, .off = offsetof(struct conf_remote_write, concurrency),
	 .def = "4", .min = 1, .max = 256,
	 .help = "requests in flight; series are split among them by hash, each in order"},
	{.key = "timeout", .type = F_DURATION, .off = offsetof(struct conf_remote_write, timeout_ms),
	 .def = "\"30s\"", .help = "give up on one request after this long (then retry)"},
	{.key = "min_backoff", .type = F_DURATION,
	 .off = offsetof(struct conf_remote_write, min_backoff_ms), .def = "\"30ms\"",
	 .help = "first wait after a failed request; doubles each time"},
	{.key = "max_backoff", .type = F_DURATION,
	 .off = offsetof(struct conf_remote_write, max_backoff_ms), .def = "\"5s\"",
	 .help = "longest wait between retries"},
	{.key = "max_span", .type = F_DURATION, .off = offsetof(struct conf_remote_write, max_span_ms),
	 .def = "\"15m\"", .help = "after an outage, catch up in rounds of at most this much time"},
	{.key = "delay", .type = F_DURATION, .off = offsetof(struct conf_remote_write, delay_ms),
	 .def = "\"0s\"",
	 .help = "ship samples once they are this old (room for samples that arrive late)"},
	{.key = "start", .type = F_ENUM, .off = offsetof(struct conf_remote_write, start),
	 .def = "\"all\"", .enums = rw_start_names,
	 .help = "a new endpoint first gets everything stored (all) or only what comes next (now)"},
};
static const struct table rw_table = TBL("remote_write", rw_rows);

/* Sections are tables over struct conf itself (offsets are absolute). */
static const struct table query_table = TBL("query", query_rows);
static const struct table global_table = TBL("global", global_rows);
static const struct table storage_table = TBL("storage", storage_rows);
static const struct table http_table = TBL("http", http_rows);

static const struct field units_columns_rows[] = {
	{.key = "code", .type = F_STR, .off = 0, .def = "\"code\"", .help = "the header of the codes"},
	{.key = "name", .type = F_STR, .off = sizeof(char *), .def = "\"name\"",
	 .help = "the header of the names"},
	{.key = "kind", .type = F_STR, .off = 2 * sizeof(char *), .def = "\"kind\"",
	 .help = "the header of the kinds (city, county)"},
	{.key = "parent", .type = F_STR, .off = 3 * sizeof(char *), .def = "\"parent\"",
	 .help = "the header of the parents' codes"},
};
static const struct table units_columns_table = TBL("columns", units_columns_rows);
static const struct field units_rows[] = {
	{.key = "file", .type = F_STR, .off = offsetof(struct conf_units, file), .required = true,
	 .help = "the table: CSV (UTF-8 or GB18030), relative to the configuration's folder"},
	{.key = "columns", .type = F_OBJ, .off = offsetof(struct conf_units, columns),
	 .sub = &units_columns_table, .help = "which header names the code, name, kind and parent"},
};
static const struct table units_table = TBL("units", units_rows);

static const struct field ledger_rows[] = {
	{.key = "name", .type = F_STR, .off = offsetof(struct conf_ledger, name), .required = true,
	 .help = "the NAME of POST /api/v1/ledgers/NAME; the job label of its samples"},
	{.key = "format", .type = F_ENUM, .off = offsetof(struct conf_ledger, format),
	 .def = "\"xlsx\"", .enums = format_names,
	 .help = "csv or xlsx (the bytes decide; this names the expected one)"},
	{.key = "ledger", .type = F_OBJ, .off = offsetof(struct conf_ledger, ledger),
	 .sub = &ledger_cols_table, .required = true, .help = "the columns (docs/ledgers.md)"},
	{.key = "labels", .type = F_KVS, .off = offsetof(struct conf_ledger, labels),
	 .help = "labels added to every sample"},
	{.key = "timezone", .type = F_STR, .off = offsetof(struct conf_ledger, timezone),
	 .help = "time zone of dates (default: global.timezone)"},
};
static const struct table ledgers_table = TBL("ledgers", ledger_rows);

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
	{.key = "units", .type = F_OBJ, .off = offsetof(struct conf, units), .sub = &units_table,
	 .help = "the programme's units and their hierarchy (docs/kpis.md)"},
	{.key = "notify", .type = F_OBJ, .off = 0, .sub = &notify_table,
	 .help = "alert notifications: receivers, routes, inhibition, mute times, digests"},
	{.key = "remote_write", .type = F_OBJARR, .off = offsetof(struct conf, remote_write),
	 .count_off = offsetof(struct conf, nremote_write), .sub = &rw_table,
	 .elem_size = sizeof(struct conf_remote_write),
	 .help = "send every sample to Prometheus, VictoriaMetrics, Mimir or Thanos (remote write 1.0)"},
	{.key = "targets", .type = F_OBJARR, .off = offsetof(struct conf, targets),
	 .count_off = offsetof(struct conf, ntargets), .sub = &target_table,
	 .elem_size = sizeof(struct conf_target), .help = "the platforms to poll"},
	{.key = "ledgers", .type = F_OBJARR, .off = offsetof(struct conf, ledgers),
	 .count_off = offsetof(struct conf, nledgers), .sub = &ledgers_table,
	 .elem_size = sizeof(struct conf_ledger),
	 .help = "ledgers that can be uploaded (POST /api/v1/ledgers/NAME, pacewatch import-ledger)"},
};

const struct table conf_root_table = TBL("", root_rows);
