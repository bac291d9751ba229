/*
 * cmd.h - the seald subcommands that live in the core (init, run, routes).
 * Each takes argc/argv with argv[0] the subcommand name and returns the
 * process exit status.  main.c dispatches to them.
 */
#ifndef SEALD_CMD_H
#define SEALD_CMD_H

/* Exit statuses shared by the subcommands. */
#define CMD_EXIT_OK      0
#define CMD_EXIT_FAIL    1
#define CMD_EXIT_USAGE   64
#define CMD_EXIT_CONFIG  78

int cmd_init(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_routes(int argc, char **argv);
int cmd_permissions(int argc, char **argv);
int cmd_config_keys(int argc, char **argv);

#endif
