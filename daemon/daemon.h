/*
 * daemon.h — the command line: one function per subcommand, each taking
 * argc/argv after the subcommand name and returning the exit status.
 */
#ifndef PW_DAEMON_H
#define PW_DAEMON_H

#include <stdbool.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdint.h>

struct pw_buf;

int cmd_import(int argc, char **argv);
int cmd_import_ledger(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_kpi(int argc, char **argv);
int cmd_export_rules(int argc, char **argv);
int cmd_export_dashboard(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_retention(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_config_keys(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_man(int argc, char **argv);
/* pacewatch.conf(5) from the configuration's field tables (cli_man.c) */
int cli_man_conf(FILE *f);

/* The subcommands (main.c): name, function, synopsis (after "pacewatch "),
 * description; --help, the usage after a usage error and the pacewatch(1)
 * manual page are written from this one table. */
struct cli_cmd {
	const char *name;
	int (*fn)(int, char **);
	const char *synopsis, *help;
};
extern const struct cli_cmd cli_cmds[];
extern const size_t cli_ncmds;

/* A time a person typed (cli_time.c): read in zone (NULL: the default)
 * unless it carries an offset, or relative to now. 0, or 2 with the error
 * printed. */
#define CLI_DEFAULT_ZONE "Asia/Shanghai"
int cli_time(const char *cmd, const char *opt, const char *s, const char *zone, int64_t *ms);
/* POST data (len bytes) to url with the extra headers hdr (may be NULL):
 * the answer into body (within its bound: a longer one fails the transfer),
 * the HTTP status into *code. For the commands that talk to a running
 * pacewatch (query --url, import-ledger --url). */
CURLcode cli_http_post(CURL *c, const char *url, const void *data, size_t len,
		       struct curl_slist *hdr, struct pw_buf *body, long *code);

/* `import`'s files, streamed (cli_import.c): 0, or 1 with the error printed */
struct store;
struct pw_label;
int cli_import_files(struct store *s, char **files, int nfiles, const struct pw_label *extra,
		     size_t nextra);

/* run's start-up over a throwaway store (run.c): 0 or an error with *cause */
struct conf;
int run_probe(struct conf *c, char **cause);

/* what run compiles at start, checked when a configuration is loaded
 * (check_start.c) */
void cli_register_start_checks(void);

/* systemd's notification protocol (sd_notify.c): msg is "READY=1\n..." */
void sd_notify_send(const char *msg);
void sd_notify_reloading(void);
/* how often to send WATCHDOG=1 (half of WATCHDOG_USEC), 0: not asked */
int64_t sd_watchdog_interval_ms(void);

#endif
