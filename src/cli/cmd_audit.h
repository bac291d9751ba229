/*
 * cmd_audit.h - the audit and backup subcommands (src/cli/cmd_audit.c):
 *   seald audit verify --db FILE [--config FILE] [--audit-key FILE]
 *                      [--checkpoint FILE] [--sink-file FILE]
 *   seald audit checkpoint --config FILE [--out FILE]
 *   seald audit export --db FILE [--format jsonl|csv] [--after N]
 *   seald backup (--config FILE | --db FILE) --out FILE [--audit-key FILE]
 *   seald restore --backup FILE --db FILE [--config FILE] [--audit-key FILE]
 *                 [--checkpoint FILE] [--sink-file FILE] [--force]
 * Each returns the process exit status (cmd.h).
 */
#ifndef SEALD_CMD_AUDIT_H
#define SEALD_CMD_AUDIT_H

int cmd_audit(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);

#endif
