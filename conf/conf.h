/*
 * conf.h — pacewatch's configuration: one JSON file (comments allowed:
 * //, slash-star and #, as ISC Kea accepts) read through field tables
 * into the plain structs below. Every error names file:line:column, the
 * key path and what was expected; all errors are collected before the
 * file is refused. Knows nothing of HTTP or LMDB.
 *
 * Ownership: conf_load() returns a new struct conf; conf_free() releases
 * it and every string inside. Durations are milliseconds, sizes bytes,
 * times milliseconds since the epoch.
 */
#ifndef PW_CONF_H
#define PW_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct conf_kv {
	char *name;
	char *value;
};

struct conf_kvs {
	struct conf_kv *v;
	size_t n;
};

enum conf_format { CONF_FORMAT_JSON, CONF_FORMAT_PROMETHEUS, CONF_FORMAT_CSV, CONF_FORMAT_XLSX };

/* One metric taken from a JSON response. Paths are in the JSONPath subset
 * of docs/configuration.md, relative to each element `path` matches. */
struct conf_json_metric {
	char *path;             /* elements to turn into samples ("$.data[*]") */
	char *metric;           /* metric name */
	char *value;            /* path of the value within the element */
	struct conf_kvs labels; /* label name -> path ("@key", "$parent.code") */
	struct conf_kvs value_map; /* text -> number ("online" -> "1") */
	char *timestamp;        /* optional path of a timestamp */
	char *help;
	char *type;             /* counter, gauge, untyped */
};

struct conf_pagination {
	char *next_path;  /* a path to the next page's URL, or */
	char *page_param; /* a query parameter counting pages (or an offset) */
	int64_t page_start;
	int64_t step;     /* added per page: 1 for page numbers, the page size for offsets */
	char *done_path;  /* optional: a boolean/number path that is true on the last page */
	int64_t max_pages;
	char **allowed_origins; /* other scheme://host:port a next link may lead to */
	size_t nallowed_origins;
};

/* A ledger's columns (docs/ledgers.md): a target's `ledger` (or, for
 * format csv, its older name `csv`: the collector reads whichever has
 * values), a named ledger's `ledger`. */
struct conf_csv {
	char *delimiter;
	char *timestamp_column;       /* optional */
	struct conf_kvs labels;       /* label name -> column */
	struct conf_kvs values;       /* metric name -> column */
	char *sheet;                  /* xlsx: the worksheet (NULL: the first) */
	int64_t header_row;           /* as the spreadsheet numbers it; 0: found */
	struct conf_kvs value_map;    /* a value cell's text -> a number, or "" (blank) */
};

struct conf_target {
	char *name;
	char *url;
	char *path;             /* a ledger file instead of url (validation sets url to its file:// URL) */
	char *method;
	struct conf_kvs headers;
	struct conf_kvs params;
	char *body;
	char *bearer_token;     /* read from bearer_token_file */
	char *basic_user;
	char *basic_password;   /* read from basic_password_file */
	char *ca_file, *cert_file, *key_file;
	bool tls_verify;
	char *proxy;
	int64_t interval_ms, timeout_ms;
	uint64_t max_response_size;
	struct conf_kvs labels;
	enum conf_format format;
	struct conf_csv ledger; /* format csv, xlsx: the columns (or csv, its older name) */
	struct conf_json_metric *metrics;
	size_t nmetrics;
	struct conf_pagination pagination;
	struct conf_csv csv;
	char *timezone;         /* for date strings in responses */
	/* cardinality limits; 0: global's (collector.c) */
	int64_t sample_limit, label_limit, label_name_length_limit, label_value_length_limit;
};

/* Who may call an HTTP endpoint: a bearer token, basic credentials, or
 * both (either one suffices); neither set means no authentication. */
struct conf_auth {
	char *bearer_token; /* from bearer_token_file */
	char *username;
	char *password;     /* from password_file */
};

/* A Prometheus alerting (alert set) or recording (record set) rule. */
struct conf_rule {
	char *alert, *record, *expr;
	int64_t for_ms, keep_firing_for_ms;
	struct conf_kvs labels, annotations;
};

struct conf_rule_group {
	char *name;
	int64_t interval_ms; /* 0: global.evaluation_interval */
	int64_t limit;       /* 0: no limit on alerts or series a rule may produce */
	struct conf_rule *rules;
	size_t nrules;
};

/* A milestone of a KPI's plan: by `at`, `value` (or `fraction` of the way
 * from baseline to target). Strings as written; kpi.c reads them. */
struct conf_milestone {
	char *at, *value, *fraction;
};

enum conf_direction { CONF_AT_LEAST, CONF_AT_MOST };
enum conf_curve { CONF_CURVE_LINEAR, CONF_CURVE_STEP };
enum conf_period { CONF_PERIOD_NONE, CONF_PERIOD_WEEK, CONF_PERIOD_MONTH, CONF_PERIOD_QUARTER,
		   CONF_PERIOD_YEAR };
enum conf_count { CONF_COUNT_SUM, CONF_COUNT_INCREASE };
/* a coverage KPI's condition on a unit's value */
enum conf_cmp { CONF_CMP_NONE, CONF_CMP_GE, CONF_CMP_GT, CONF_CMP_LE, CONF_CMP_LT, CONF_CMP_EQ,
		CONF_CMP_NE };
/* the language of what pacewatch writes for people (emails, digests, pages) */
enum conf_language { CONF_LANG_AUTO, CONF_LANG_ZH, CONF_LANG_EN };

/* A KPI: a target with a deadline, tracked per unit (see docs/kpis.md). */
/* a KPI made from another's units (docs/kpis.md, "Roll-ups") */
enum conf_rollup_measure { CONF_RU_SHARE_MET, CONF_RU_COUNT_MET, CONF_RU_SUM, CONF_RU_MEAN,
			   CONF_RU_MEAN_PROGRESS };
struct conf_rollup {
	char *kpi;   /* the base KPI's name */
	char *to;    /* the units table's kind the units are rolled up to */
	int measure; /* enum conf_rollup_measure */
};

/* a KPI naming the units below their peers ("Below the peers") */
enum conf_peers_below { CONF_PEERS_MEAN, CONF_PEERS_MEDIAN };
struct conf_peers {
	char **group_by;
	size_t ngroup_by;
	int below;       /* enum conf_peers_below */
	double k;        /* mean: the threshold is mean - k sd */
	double fraction; /* median: the threshold is fraction x median */
};

/* a roster from the units table: every unit of a kind whose attribute
 * compares (where: "population > 100000", parsed by validation) */
struct conf_roster_units {
	char *kind, *where;
	char *attr;      /* resolved: the attribute compared (NULL: none) */
	int cmp;         /* enum conf_cmp */
	double v;
};

struct conf_kpi {
	char *name, *title, *value, *target, *baseline, *start, *deadline, *roster;
	int direction, curve;
	double tolerance, hysteresis;
	int64_t for_ms, forecast_ms, stale_after_ms;
	char *timezone, *severity, *owner, *contact;
	char *item;       /* the programme item it serves ("N2 心理健康服务") */
	struct conf_kvs severities; /* alert name -> severity, overriding severity */
	char *coverage;   /* a coverage KPI: ">= 1" (see coverage_cmp, coverage_v) */
	char *unit_name;  /* template naming a unit for people */
	char *runbook;    /* what to do, for the people an alert reaches */
	char *unit_code;  /* the label holding a unit's code in the units table */
	struct conf_roster_units roster_units;
	struct conf_rollup rollup; /* rollup.kpi set: a roll-up KPI */
	struct conf_peers peers;   /* peers set (peers.k > 0 or fraction > 0): below the peers */
	bool has_peers;
	int period;       /* CONF_PERIOD_NONE, or a calendar quota's period */
	int count;        /* quotas: CONF_COUNT_SUM of samples, or CONF_COUNT_INCREASE */
	struct conf_milestone *milestones;
	size_t nmilestones;
	/* resolved by validation (ms since the epoch) */
	int64_t start_ms, deadline_ms;
	int coverage_cmp; /* enum conf_cmp */
	double coverage_v;
	int64_t *milestone_ms;
};

/* ---- notifications (see docs/notifications.md) ---- */

enum conf_smtp_tls { CONF_TLS_STARTTLS, CONF_TLS_IMPLICIT, CONF_TLS_NONE, CONF_TLS_AUTO };

struct conf_email {
	char *smarthost;        /* host:port */
	char *from, *hello;
	char **to, **cc;
	size_t nto, ncc;
	int tls;                /* enum conf_smtp_tls; auto: implicit on port 465, else STARTTLS */
	char *auth_username, *auth_password; /* password from auth_password_file */
	char *auth_mechanism;   /* PLAIN or LOGIN (NULL: what the server offers) */
	char *ca_file;
	bool tls_verify;
	int64_t timeout_ms;
	char *subject_template, *text_template, *html_template; /* the files' contents */
};

struct conf_webhook {
	char *url;
	struct conf_kvs headers;
	char *bearer_token;
	int64_t timeout_ms;
	int64_t max_alerts;
};

struct conf_am {
	char **urls;
	size_t nurls;
	int64_t timeout_ms;
	int64_t resend_delay_ms;
};

enum conf_receiver_kind { CONF_RECV_EMAIL, CONF_RECV_WEBHOOK, CONF_RECV_ALERTMANAGER };

struct conf_receiver {
	char *name;
	bool send_resolved;
	struct conf_email email;
	struct conf_webhook webhook;
	struct conf_am alertmanager;
	int kind; /* resolved by validation */
};

struct conf_route {
	char *receiver;          /* NULL: the parent's */
	char **matchers;         /* Alertmanager matchers: name="value", name=~"re", ... */
	size_t nmatchers;
	char **group_by;         /* NULL: the parent's; ["..."]: every label */
	size_t ngroup_by;
	int64_t group_wait_ms, group_interval_ms, repeat_interval_ms; /* 0: the parent's */
	bool cont;               /* continue: keep matching siblings */
	char **mute_time_intervals, **active_time_intervals;
	size_t nmute, nactive;
	struct conf_route *routes;
	size_t nroutes;
};

struct conf_inhibit {
	char **source_matchers, **target_matchers, **equal;
	size_t nsource, ntarget, nequal;
};

/* Alertmanager's time_intervals: times of day, weekdays, days of the
 * month, months, in a time zone; a moment inside any one entry matches. */
struct conf_time_range {
	char *start_time, *end_time; /* HH:MM */
};
struct conf_time_entry {
	struct conf_time_range *times;
	size_t ntimes;
	char **weekdays, **days_of_month, **months; /* "monday:friday", "1:7", "january" */
	size_t nweekdays, ndays_of_month, nmonths;
	char *location;
};
struct conf_time_interval {
	char *name;
	struct conf_time_entry *time_intervals;
	size_t ntime_intervals;
};

struct conf_digest {
	char *receiver;
	char **weekdays;
	size_t nweekdays;
	char *at;        /* HH:MM */
	char *timezone;  /* default: global.timezone */
	char *title;
	int64_t max_units; /* unit rows per KPI */
};

struct conf_notify {
	struct conf_receiver *receivers;
	size_t nreceivers;
	struct conf_route route;
	struct conf_inhibit *inhibit_rules;
	size_t ninhibit;
	struct conf_time_interval *time_intervals;
	size_t ntime_intervals;
	struct conf_digest *digests;
	size_t ndigests;
	char *external_url;   /* pacewatch's own address, for links */
	char *dashboard_url;  /* the Grafana dashboard the emails link to */
	int64_t retry_min_ms, retry_max_ms, max_age_ms;
};

/* A remote_write endpoint (Prometheus remote write 1.0). */
struct conf_remote_write {
	char *name;
	char *url;
	struct conf_kvs headers;
	struct conf_kvs external_labels; /* over global.external_labels */
	char *bearer_token;              /* from bearer_token_file */
	char *basic_user, *basic_password;
	char *ca_file, *cert_file, *key_file;
	bool tls_verify;
	int64_t batch_size;      /* samples per request */
	int64_t batch_deadline_ms; /* send at least this often */
	int64_t concurrency;     /* requests in flight (series are split by hash) */
	int64_t timeout_ms;
	int64_t min_backoff_ms, max_backoff_ms;
	int64_t max_span_ms;     /* catch-up in rounds of at most this much time */
	int64_t delay_ms;        /* ship samples once they are this old */
	int start;               /* CONF_RW_START_* */
};
enum { CONF_RW_START_ALL, CONF_RW_START_NOW };

/* A ledger that can be uploaded (POST /api/v1/ledgers/NAME, pacewatch
 * import-ledger; docs/ledgers.md). */
struct conf_ledger {
	char *name;
	int format;             /* enum conf_format: csv or xlsx */
	struct conf_csv ledger;
	struct conf_kvs labels; /* added to every sample */
	char *timezone;         /* of dates (default: global.timezone) */
};

/* one row of the units table (docs/kpis.md, "The units table") */
struct conf_unit {
	char *code, *name, *kind;
	size_t parent; /* index + 1 in the table; 0: a root */
	double *attrs; /* the table's attributes, NaN where the cell is not a number */
};

struct conf_units {
	char *file;
	struct {
		char *code, *name, *kind, *parent;
	} columns;
	/* read by validation */
	struct conf_unit *v;
	size_t n;
	char **attr_names;
	size_t nattrs;
	size_t *index; /* by code: index + 1, open addressing */
	size_t index_cap;
};

enum { CONF_TLS_1_2, CONF_TLS_1_3 };

struct conf {
	char *path;
	struct {
		int64_t scrape_interval_ms, scrape_timeout_ms, lookback_delta_ms;
		int64_t evaluation_interval_ms, outage_tolerance_ms;
		char *timezone;
		int language; /* enum conf_language; auto resolved by validation */
		struct conf_kvs external_labels;
		int64_t max_concurrent_scrapes;
		int64_t shard_index, shard_count;
		/* cardinality limits (0: none); docs/configuration.md */
		int64_t sample_limit, label_limit, label_name_length_limit,
			label_value_length_limit, new_series_limit;
	} global;
	struct {
		char *path;
		int64_t retention_ms;
		uint64_t initial_size, max_size;
		int64_t max_series;
		bool sync;
		bool sync_meta;
	} storage;
	struct {
		char **listen;
		size_t nlisten;
		int64_t connection_limit;
		int64_t connection_timeout_ms;
		uint64_t max_request_size;
		int64_t import_series_limit; /* 0: none */
		char *tls_cert_file, *tls_key_file;
		int tls_min_version;            /* CONF_TLS_1_2, CONF_TLS_1_3 */
		int64_t per_ip_connection_limit;
		int64_t header_timeout_ms;      /* request line and headers, from the start */
		int64_t request_timeout_ms;     /* the whole request, body included */
		char **health_listen;           /* /metrics and health checks only */
		size_t nhealth_listen;
		struct conf_auth read_auth, write_auth;
		bool metrics_timestamps;
		bool openmetrics;
	} http;
	struct {
		int64_t timeout_ms;
		int64_t max_samples;
		int64_t max_points;
		uint64_t max_bytes, max_bytes_total; /* 0: no limit */
		int64_t max_concurrency;
		int64_t threads; /* 0: the processors online, at most 8 */
	} query;
	struct conf_target *targets;
	size_t ntargets;
	struct conf_rule_group *rule_groups;
	size_t nrule_groups;
	struct conf_kpi *kpis;
	size_t nkpis;
	struct conf_units units;
	struct conf_notify notify;
	struct conf_remote_write *remote_write;
	size_t nremote_write;
	struct conf_ledger *ledgers;
	size_t nledgers;
};

/* What a configuration may be: larger files are refused before they are
 * parsed, deeper nesting where it goes too deep; at most CONF_MAX_ERRORS
 * errors are kept (the others are counted), each with a window of its
 * line of up to CONF_ERR_WINDOW characters each side of its column. */
#define CONF_MAX_SIZE (16u << 20)
#define CONF_MAX_DEPTH 64
#define CONF_MAX_ERRORS 1000
#define CONF_ERR_WINDOW 60

/* One error (or warning): where and what. */
struct conf_err {
	size_t line, col;    /* 1-based; 0 when not tied to a place */
	char *path;          /* key path, e.g. "targets[2].url" */
	char *msg;
	char *source_line;   /* the part of the line around col, for the caret */
	size_t source_col;   /* col within source_line (1-based characters) */
	bool cut_before, cut_after; /* source_line is not the whole line */
};

struct conf_errs {
	struct conf_err *v;
	size_t n;
	size_t more;         /* errors past CONF_MAX_ERRORS, counted only */
	struct conf_err *warn; /* things that work but deserve a look */
	size_t nwarn;
	char *file;
};

/* PromQL is checked by the query engine, which conf does not link: the
 * program registers a checker (0, or non-zero and a new message). */
typedef int (*conf_expr_checker)(const char *expr, char **cause);
void conf_set_expr_checker(conf_expr_checker fn);
/* What a KPI may say (its alerts' names, a coverage KPI's fields) is the
 * KPI model's to check, which conf does not link either: the program
 * registers a checker that calls report(ctx, key, message) for each
 * problem, key naming the KPI's field ("severities.KpiMised"). */
typedef void (*conf_kpi_report)(void *ctx, const char *key, const char *msg);
typedef void (*conf_kpi_checker)(const struct conf_kpi *k, conf_kpi_report report, void *ctx);
void conf_set_kpi_checker(conf_kpi_checker fn);
/* What the collector compiles at start (a JSON mapping's paths, the
 * pagination paths) is the collector's to check: the program registers a
 * checker that reports like the KPI checker, key relative to the target
 * ("metrics[0].path"), so check-config and run refuse the same things
 * with file:line:column. */
struct conf_target;
typedef void (*conf_target_checker)(const struct conf_target *t, conf_kpi_report report, void *ctx);
void conf_set_target_checker(conf_target_checker fn);
/* Templates are the template engine's to check, which conf does not link:
 * the program registers a checker (0, or non-zero, a new message and the
 * byte offset in t of the action at fault). kind says what the template
 * may read: an alerting rule's labels and annotations, a KPI's runbook
 * (its alerts' annotations, with $kpi.*), a KPI's unit_name, an email
 * receiver's subject and text templates, its HTML template. */
enum conf_template_kind { CONF_TMPL_ALERT, CONF_TMPL_KPI, CONF_TMPL_UNIT_NAME,
			  CONF_TMPL_NOTIFY_TEXT, CONF_TMPL_NOTIFY_HTML };
typedef int (*conf_template_checker)(int kind, const char *t, size_t *at, char **cause);
void conf_set_template_checker(conf_template_checker fn);

/* An Alertmanager label matcher: name="value", name!=value, name=~"re",
 * name!~"re" (quotes optional, Go escapes inside them). */
enum conf_match_op { CONF_MATCH_EQ, CONF_MATCH_NEQ, CONF_MATCH_RE, CONF_MATCH_NRE };
struct conf_matcher {
	char *name, *value;
	int op;
};
int conf_matcher_parse(const char *s, struct conf_matcher *out, char **cause);
void conf_matcher_free(struct conf_matcher *m);
/* "HH:MM" to minutes after midnight (24:00 is 1440). */
int conf_clock_parse(const char *s, int *minutes);
/* A weekday (kind 0: sunday = 0), day of month (1: 1..31, -1 the last)
 * or month (2: 1..12) or a "lo:hi" range of them. */
int conf_range_parse(const char *s, int kind, int *lo, int *hi);

/* Built-in defaults, as `pacewatch run` uses with no file. */
struct conf *conf_defaults(void);

/* Load and validate a file. On success returns 0 and *out; on failure
 * returns PW_EINVAL (or -errno when the file cannot be read) with every
 * error in errs (caller frees with conf_errs_free). */
int conf_load(const char *path, struct conf **out, struct conf_errs *errs);
/* The same from a buffer; name is used in messages. */
int conf_load_buffer(const char *name, const char *buf, size_t len, struct conf **out,
		     struct conf_errs *errs);
/* The units table (docs/kpis.md): the unit of a code (NULL: none), its
 * parent, its nearest ancestor of a kind (itself when of that kind), an
 * attribute (NaN: none or not a number). */
const struct conf_unit *conf_unit_find(const struct conf *c, const char *code);
const struct conf_unit *conf_unit_parent(const struct conf *c, const struct conf_unit *u);
const struct conf_unit *conf_unit_ancestor(const struct conf *c, const struct conf_unit *u,
					   const char *kind);
double conf_unit_attr(const struct conf *c, const struct conf_unit *u, const char *name);
bool conf_units_has_attr(const struct conf *c, const char *name);
void conf_free(struct conf *c);
/* Load and check a TLS certificate and key (PEM): they parse, they match,
 * the certificate is valid at now_ms. 0, or PW_EINVAL with *cause (which
 * names the file, never the key's content). *warning (may be NULL on
 * entry): a certificate that expires within 30 days or is not valid yet. */
int conf_tls_check_files(const char *cert_file, const char *key_file, int64_t now_ms,
			 char **cause, char **warning);
void conf_errs_free(struct conf_errs *errs);
/* Print "file:line:col: path: message", the line and a caret, per error
 * (warnings first, as "path: warning: message"). */
void conf_errs_print(const struct conf_errs *errs, FILE *f);

/* Every key the field tables know, as "section.key" paths with their type
 * and default, one per call (for documentation and its test). Returns
 * false past the last. */
struct conf_key_doc {
	const char *path;
	const char *type;
	const char *def;
	const char *help;
};
bool conf_key_doc(size_t i, struct conf_key_doc *out);

#endif /* PW_CONF_H */
