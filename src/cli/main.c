/*
 * main.c - the seald command: dispatches to a subcommand.  Each subcommand
 * lives in its own cmd_*.c and returns the exit status.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "cmd_format.h"
#include "cmd_token.h"
#include "cmd_ofd.h"
#include "cmd_audit.h"
#include "cmd_migrate.h"
#include "cmd_impression.h"
#include "cmd_datakey.h"

struct subcommand {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct subcommand subcommands[] = {
    {"init", cmd_init, "create a new instance (config, database, TLS, admin)"},
    {"run", cmd_run, "run the daemon"},
    {"inspect", cmd_inspect, "print a seal or signature file as JSON"},
    {"verify-file", cmd_verify_file, "verify a signature, SignedData or seal file"},
    {"token", cmd_token, "key custody: list, generate, pubkey, sign, selftest, "
                         "health, init-dev"},
    {"audit", cmd_audit, "audit chain: verify, checkpoint, export"},
    {"backup", cmd_backup, "online backup of the database (verified)"},
    {"restore", cmd_restore, "restore a backup whose audit chain verifies"},
    {"migrate", cmd_migrate, "copy the database into an empty one "
                             "(to PostgreSQL)"},
    {"verify-ofd", cmd_verify_ofd, "verify every signature of an OFD file"},
    {"routes", cmd_routes, "print the API routing table as JSON"},
    {"permissions", cmd_permissions, "print the role x route matrix as JSON"},
    {"config-keys", cmd_config_keys, "list every configuration key"},
    {"status-key", cmd_status_key, "give an older instance its status key"},
    {"impression", cmd_impression, "make a seal picture: drawn, or from a "
                                   "scan"},
    {"tsa-key", cmd_tsa_key, "give an older instance its TSA key (POST /tsa)"},
    {"data-key", cmd_data_key, "encryption at rest: list, rotate, encrypt "
                               "old rows"},
};

static void
usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: seald COMMAND [OPTIONS]\n\ncommands:\n");
    for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
        fprintf(f, "  %-12s %s\n", subcommands[i].name, subcommands[i].help);
    fprintf(f, "  %-12s %s\n", "version", "print the version");
    fprintf(f, "\nRun 'seald COMMAND --help' for a command's options.\n");
}

int
main(int argc, char **argv)
{
    size_t i;

    /* Everything seald writes (database, keys, logs) is private. */
    umask(077);
    if (argc < 2) {
        usage(stderr);
        return CMD_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("seald %s\n", SEALD_VERSION);
        return CMD_EXIT_OK;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return CMD_EXIT_OK;
    }
    for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "seald: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CMD_EXIT_USAGE;
}
