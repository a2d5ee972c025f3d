/*
 * daemon.h — the command line: one function per subcommand, each taking
 * argc/argv after the subcommand name and returning the exit status.
 */
#ifndef PW_DAEMON_H
#define PW_DAEMON_H

#include <stdint.h>

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

/* A time a person typed (cli_time.c): read in zone (NULL: the default)
 * unless it carries an offset, or relative to now. 0, or 2 with the error
 * printed. */
#define CLI_DEFAULT_ZONE "Asia/Shanghai"
int cli_time(const char *cmd, const char *opt, const char *s, const char *zone, int64_t *ms);

#endif
