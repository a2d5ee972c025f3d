/*
 * daemon.h — the command line: one function per subcommand, each taking
 * argc/argv after the subcommand name and returning the exit status.
 */
#ifndef PW_DAEMON_H
#define PW_DAEMON_H

int cmd_import(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_kpi(int argc, char **argv);
int cmd_export_rules(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_retention(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_config_keys(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif
