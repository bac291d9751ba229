/*
 * cmd.h - the seald subcommands that live in the core (init, status-key,
 * run, routes).
 * Each takes argc/argv with argv[0] the subcommand name and returns the
 * process exit status.  main.c dispatches to them.
 */
#ifndef SEALD_CMD_H
#define SEALD_CMD_H

#include "err.h"

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
int cmd_status_key(int argc, char **argv);
int cmd_tsa_key(int argc, char **argv);

struct config;
struct custody;
/* Open the tokens of cfg (none: *out NULL); the development token finds
 * its directory through the environment, set here.  cmd_run.c. */
err_code cmd_open_tokens(const struct config *cfg, struct custody **out,
                         struct err *e);

#endif
