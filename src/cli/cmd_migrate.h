/*
 * cmd_migrate.h - `seald migrate` (src/cli/cmd_migrate.c):
 *   seald migrate --from SRC --to DST [--audit-key FILE] [--config FILE]
 *                 [--from-password-file FILE] [--to-password-file FILE]
 *   seald migrate --tables
 * copies a whole instance's database (sqlite:PATH, a file path or a
 * postgresql:// URL) into an empty one.  Returns the exit status (cmd.h).
 */
#ifndef SEALD_CMD_MIGRATE_H
#define SEALD_CMD_MIGRATE_H

int cmd_migrate(int argc, char **argv);

#endif
