/*
 * cmd_ofd.c - owns the `seald verify-ofd` subcommand: argument parsing,
 * reading the file and printing the report of ofd_verify() as JSON.
 */
#include "cmd_ofd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "ofd.h"
#include "util.h"

#define CMD_OFD_EXIT_USAGE 3

static void usage(void)
{
    fprintf(stderr,
            "usage: seald verify-ofd FILE [--trust DIR] [--pictures]\n");
}

/* Contract: see cmd_ofd.h. */
int cmd_verify_ofd(int argc, char **argv)
{
    static const struct option opts[] = {
        {"trust", required_argument, NULL, 't'},
        {"pictures", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ofd_verify_opts vo = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    json_t *r = NULL;
    struct err e;
    int c, rc = CMD_OFD_EXIT_USAGE;

    err_clear(&e);
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "t:ph", opts, NULL)) != -1) {
        if (c == 't') {
            vo.trust_dir = optarg;
        } else if (c == 'p') {
            vo.include_picture = 1;
        } else {
            usage();
            goto done;
        }
    }
    if (optind != argc - 1) {
        usage();
        goto done;
    }
    if (util_read_file(argv[optind], OFD_MAX_PACKAGE, &buf, &len, &e) !=
        ERR_OK) {
        fprintf(stderr, "seald verify-ofd: %s\n", e.msg);
        goto done;
    }
    switch (ofd_verify(buf, len, &vo, &r, &e)) {
    case ERR_OK:
        break;
    case ERR_MALFORMED:
    case ERR_TOO_LARGE:
    case ERR_UNSUPPORTED:
    case ERR_INVALID:
        fprintf(stderr, "seald verify-ofd: refused: %s\n", e.msg);
        r = ofd_report_refused(&e);
        break;
    default:
        fprintf(stderr, "seald verify-ofd: %s\n", e.msg);
        goto done;
    }
    if (r == NULL || json_dumpf(r, stdout, JSON_INDENT(2)) != 0) {
        fprintf(stderr, "seald verify-ofd: out of memory\n");
        goto done;
    }
    fputc('\n', stdout);
    fflush(stdout);
    rc = ofd_report_exit_code(r);
done:
    json_decref(r);
    free(buf);
    return rc;
}
