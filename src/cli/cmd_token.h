/*
 * cmd_token.h - the `seald token` command line (key custody administration).
 */
#ifndef SEALD_CMD_TOKEN_H
#define SEALD_CMD_TOKEN_H

/* Run `seald token SUBCOMMAND ...`; argv[0] is "token".  Subcommands: list,
 * generate, pubkey, sign, selftest, health, init-dev (see `seald token help`).
 * Returns the process exit status (0 ok, 1 failure, 2 usage). */
int cmd_token(int argc, char **argv);

#endif
