/*
 * cmd_ofd.h - offline CLI subcommand of the OFD layer:
 *   seald verify-ofd FILE [--trust DIR] [--pictures]
 * argv[0] is the subcommand name.  Prints the JSON report of every signature
 * in the file.  Exit: 0 all valid, 1 some failed (or the package was
 * refused), 2 indeterminate, 3 usage or I/O error.
 */
#ifndef SEALD_CMD_OFD_H
#define SEALD_CMD_OFD_H

int cmd_verify_ofd(int argc, char **argv);

#endif
