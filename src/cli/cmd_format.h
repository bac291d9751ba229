/*
 * cmd_format.h - offline CLI subcommands of the format layer:
 *   seald inspect [--picture OUT] FILE
 *   seald verify-file --signature FILE [--data FILE | --hash HEX]
 *                     [--trust DIR] [--seal] [--id SM2ID]
 *                     [--instance DIR | --status-list FILE]
 * argv[0] is the subcommand name.  Exit codes: inspect 0 ok, 1 undecodable
 * input; verify-file 0 TOTAL_PASSED, 1 TOTAL_FAILED, 2 INDETERMINATE;
 * 3 usage or I/O error for both.
 */
#ifndef SEALD_CMD_FORMAT_H
#define SEALD_CMD_FORMAT_H

int cmd_inspect(int argc, char **argv);
int cmd_verify_file(int argc, char **argv);

#endif
