/*
 * cmd_format.c - owns the `seald inspect` and `seald verify-file` subcommands:
 * argument parsing, file I/O and printing JSON to stdout.  All decoding and
 * verification is delegated to ses.h.  verify-file takes a seal, an SES
 * signature or a GB/T 35275 SignedData (told apart by structure); --data is
 * the signed document (for a SignedValue taken out of an OFD, the bytes of
 * its Signature.xml).  verify-file verifies through verify.h, as the API
 * does, with the seal's status from --instance or --status-list
 * (cmd_status.h); without either the status is "not checked".
 */
#include "cmd_format.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "cmd_status.h"
#include "ses.h"
#include "util.h"
#include "verify.h"

/* A file that cannot be read or a status source that does not verify (a
 * usage error is cmd.h's CMD_EXIT_USAGE, 64, as for every command). */
#define CMD_EXIT_INPUT 3

static int print_json(json_t *j)
{
    if (j == NULL || json_dumpf(j, stdout, JSON_INDENT(2)) != 0)
        return -1;
    fputc('\n', stdout);
    fflush(stdout);
    return 0;
}

static void usage_inspect(FILE *f)
{
    fprintf(f, "usage: seald inspect [--picture OUT] FILE\n");
}

static void usage_verify(FILE *f)
{
    fprintf(f,
            "usage: seald verify-file --signature FILE "
            "[--data FILE | --hash HEX] [--trust DIR] [--seal] [--id SM2ID]\n"
            "                         [--instance DIR | "
            "--status-list FILE|DIR ...]\n"
            "  --status-list: a part as GET /api/v1/seal-status-list?part=N "
            "answers it;\n"
            "  repeat it, or name a directory of parts (*.json), to give "
            "several\n");
}

/* Contract: see cmd_format.h. */
int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"picture", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *pic_out = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct ses_seal *seal = NULL;
    struct ses_signature *sig = NULL;
    const struct ses_seal *view = NULL;
    json_t *j = NULL;
    struct err e;
    int c, rc = CMD_EXIT_INPUT;

    err_clear(&e);
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
        if (c == 'p') {
            pic_out = optarg;
        } else {
            usage_inspect(c == 'h' ? stdout : stderr);
            rc = c == 'h' ? CMD_EXIT_OK : CMD_EXIT_USAGE;
            goto done;
        }
    }
    if (optind != argc - 1) {
        usage_inspect(stderr);
        rc = CMD_EXIT_USAGE;
        goto done;
    }
    if (util_read_file(argv[optind], SES_MAX_DER, &buf, &len, &e) != ERR_OK) {
        fprintf(stderr, "seald inspect: %s\n", e.msg);
        goto done;
    }
    switch (ses_sniff(buf, len)) {
    case SES_KIND_SEAL:
        if (ses_seal_decode(buf, len, &seal, &e) == ERR_OK) {
            j = ses_seal_to_json(seal);
            view = seal;
        }
        break;
    case SES_KIND_SIGNATURE:
        if (ses_signature_decode(buf, len, &sig, &e) == ERR_OK) {
            j = ses_signature_to_json(sig);
            view = &sig->seal;
        }
        break;
    default:
        err_set(&e, ERR_MALFORMED, "neither a seal nor a seal signature");
        break;
    }
    if (view == NULL) {
        fprintf(stderr, "seald inspect: %s: %s\n", argv[optind], e.msg);
        rc = 1;
        goto done;
    }
    if (pic_out != NULL) {
        if (util_write_file(pic_out, view->picture.p, view->picture.len, 0644,
                            &e) != ERR_OK) {
            fprintf(stderr, "seald inspect: %s\n", e.msg);
            goto done;
        }
    }
    if (print_json(j) != 0) {
        fprintf(stderr, "seald inspect: cannot print JSON\n");
        goto done;
    }
    rc = 0;
done:
    json_decref(j);
    ses_seal_free(seal);
    ses_signature_free(sig);
    free(buf);
    return rc;
}

/* The report for a file that does not decode (rc: verify.h's error), or
 * NULL when rc is not about the input (then the error is printed). */
static json_t *
input_failure(err_code rc, const char *what, const struct err *e)
{
    if (rc == ERR_MALFORMED || rc == ERR_TOO_LARGE || rc == ERR_UNSUPPORTED)
        return ses_report_format_failure(what, e->msg);
    fprintf(stderr, "seald verify-file: %s\n", e->msg);
    return NULL;
}

/* Contract: see cmd_format.h. */
int cmd_verify_file(int argc, char **argv)
{
    static const struct option opts[] = {
        {"signature", required_argument, NULL, 's'},
        {"data", required_argument, NULL, 'd'},
        {"hash", required_argument, NULL, 'H'},
        {"trust", required_argument, NULL, 't'},
        {"seal", no_argument, NULL, 'S'},
        {"id", required_argument, NULL, 'i'},
        {"instance", required_argument, NULL, 'I'},
        {"status-list", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *sig_path = NULL, *data_path = NULL, *hash_hex = NULL;
    const char *trust = NULL, *instance = NULL;
    const char *lists[CMD_STATUS_MAX_PARTS];
    size_t n_lists = 0;
    struct verify_input in;
    struct verify_service *svc = NULL;
    struct cmd_status cs;
    uint8_t *buf = NULL, *data = NULL, hash[SES_MAX_HASH];
    size_t len = 0, data_len = 0, hash_len = 0;
    int force_seal = 0, c, rc = CMD_EXIT_INPUT;
    enum ses_kind kind;
    json_t *report = NULL;
    struct err e;
    err_code vr;

    err_clear(&e);
    memset(&in, 0, sizeof(in));
    memset(&cs, 0, sizeof(cs));
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "s:d:H:t:Si:I:L:h", opts, NULL)) !=
           -1) {
        switch (c) {
        case 's': sig_path = optarg; break;
        case 'd': data_path = optarg; break;
        case 'H': hash_hex = optarg; break;
        case 't': trust = optarg; break;
        case 'S': force_seal = 1; break;
        case 'i': in.signer_id = optarg; break;
        case 'I': instance = optarg; break;
        case 'L':
            if (n_lists >= CMD_STATUS_MAX_PARTS) {
                usage_verify(stderr);
                rc = CMD_EXIT_USAGE;
                goto done;
            }
            lists[n_lists++] = optarg;
            break;
        default:
            usage_verify(c == 'h' ? stdout : stderr);
            rc = c == 'h' ? CMD_EXIT_OK : CMD_EXIT_USAGE;
            goto done;
        }
    }
    if (sig_path == NULL && optind == argc - 1)
        sig_path = argv[optind++];       /* bare FILE accepted too */
    if (sig_path == NULL || optind != argc || (data_path && hash_hex) ||
        (instance && n_lists > 0) ||
        (in.signer_id && strlen(in.signer_id) > SM2_ID_MAX)) {
        usage_verify(stderr);
        rc = CMD_EXIT_USAGE;
        goto done;
    }
    if (util_read_file(sig_path, SES_MAX_DER, &buf, &len, &e) != ERR_OK) {
        fprintf(stderr, "seald verify-file: %s\n", e.msg);
        goto done;
    }
    in.der = buf;
    in.der_len = len;
    if (data_path != NULL) {
        if (util_read_file(data_path, (size_t)1 << 31, &data, &data_len, &e)
            != ERR_OK) {
            fprintf(stderr, "seald verify-file: %s\n", e.msg);
            goto done;
        }
        in.doc = data ? data : (const uint8_t *)"";
        in.doc_len = data_len;
    }
    if (hash_hex != NULL) {
        if (util_hex_decode(hash_hex, hash, sizeof(hash), &hash_len, &e) !=
                ERR_OK || hash_len != SM3_DIGEST_LEN) {
            fprintf(stderr, "seald verify-file: --hash must be 64 hex digits\n");
            goto done;
        }
        in.hash = hash;
        in.hash_len = hash_len;
    }
    if (cmd_status_open(instance, lists, n_lists, trust, &cs,
                        &e) != ERR_OK ||
        verify_service_new(cs.trust, 0, 1, &svc, &e) != ERR_OK) {
        fprintf(stderr, "seald verify-file: %s\n", e.msg);
        goto done;
    }
    kind = force_seal ? SES_KIND_SEAL : ses_sniff(buf, len);
    if (kind == SES_KIND_SEAL) {
        if ((vr = verify_seal(svc, &cs.vs, &in, &report, &e)) != ERR_OK &&
            (report = input_failure(vr, "seal", &e)) == NULL)
            goto done;
    } else if (kind == SES_KIND_SIGNATURE || kind == SES_KIND_SIGNED_DATA) {
        if ((vr = verify_signature(svc, &cs.vs, &in, &report, &e)) !=
                ERR_OK &&
            (report = input_failure(vr, kind == SES_KIND_SIGNATURE
                                    ? "signature" : "signed_data", &e)) ==
                NULL)
            goto done;
    } else {
        report = ses_report_format_failure(
            "unknown", "neither a seal, a seal signature nor a GB/T 35275 "
            "SignedData");
    }
    if (report == NULL || print_json(report) != 0) {
        fprintf(stderr, "seald verify-file: cannot produce report\n");
        goto done;
    }
    rc = ses_report_exit_code(report);
done:
    json_decref(report);
    verify_service_free(svc);
    cmd_status_close(&cs);
    free(buf);
    free(data);
    return rc;
}
