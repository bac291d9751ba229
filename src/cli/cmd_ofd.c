/*
 * cmd_ofd.c - owns the `seald verify-ofd` subcommand: argument parsing,
 * reading the file and printing the report of verify_ofd() (verify.h: the
 * same code as POST /api/v1/verify/ofd) as JSON, with the seals' status
 * from --instance or --status-list (cmd_status.h).
 */
#include "cmd_ofd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cmd.h"
#include "cmd_status.h"
#include "ofd.h"
#include "util.h"
#include "verify.h"

/* A file that cannot be read or a status source that does not verify (a
 * usage error is cmd.h's CMD_EXIT_USAGE, 64, as for every command). */
#define CMD_OFD_EXIT_INPUT 3

static void usage(FILE *f)
{
    fprintf(f,
            "usage: seald verify-ofd FILE [--trust DIR] [--pictures]\n"
            "                        [--instance DIR | "
            "--status-list FILE|DIR ...]\n"
            "  --status-list: a part as GET /api/v1/seal-status-list?part=N "
            "answers it;\n"
            "  repeat it, or name a directory of parts (*.json), to give "
            "several\n");
}

/* Contract: see cmd_ofd.h. */
int cmd_verify_ofd(int argc, char **argv)
{
    static const struct option opts[] = {
        {"trust", required_argument, NULL, 't'},
        {"pictures", no_argument, NULL, 'p'},
        {"instance", required_argument, NULL, 'I'},
        {"status-list", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *trust = NULL, *instance = NULL;
    const char *lists[CMD_STATUS_MAX_PARTS];
    size_t n_lists = 0;
    struct verify_service *svc = NULL;
    struct verify_input in;
    struct cmd_status cs;
    int pictures = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    json_t *r = NULL;
    struct err e;
    int c, rc = CMD_OFD_EXIT_INPUT;

    err_clear(&e);
    memset(&in, 0, sizeof(in));
    memset(&cs, 0, sizeof(cs));
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "t:pI:L:h", opts, NULL)) != -1) {
        if (c == 't') {
            trust = optarg;
        } else if (c == 'p') {
            pictures = 1;
        } else if (c == 'I') {
            instance = optarg;
        } else if (c == 'L' && n_lists < CMD_STATUS_MAX_PARTS) {
            lists[n_lists++] = optarg;
        } else {
            usage(c == 'h' ? stdout : stderr);
            rc = c == 'h' ? CMD_EXIT_OK : CMD_EXIT_USAGE;
            goto done;
        }
    }
    if (optind != argc - 1 || (instance && n_lists > 0)) {
        usage(stderr);
        rc = CMD_EXIT_USAGE;
        goto done;
    }
    if (util_read_file(argv[optind], OFD_MAX_PACKAGE, &buf, &len, &e) !=
        ERR_OK) {
        fprintf(stderr, "seald verify-ofd: %s\n", e.msg);
        goto done;
    }
    if (cmd_status_open(instance, lists, n_lists, trust, &cs,
                        &e) != ERR_OK ||
        verify_service_new(cs.trust, 0, 1, &svc, &e) != ERR_OK) {
        fprintf(stderr, "seald verify-ofd: %s\n", e.msg);
        goto done;
    }
    in.der = buf;
    in.der_len = len;
    switch (verify_ofd(svc, &cs.vs, &in, pictures, 0, &r, &e)) {
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
    verify_service_free(svc);
    cmd_status_close(&cs);
    free(buf);
    return rc;
}
