/*
 * cmd_format.c - owns the `seald inspect` and `seald verify-file` subcommands:
 * argument parsing, file I/O and printing JSON to stdout.  All decoding and
 * verification is delegated to ses.h.  verify-file takes a seal, an SES
 * signature or a GB/T 35275 SignedData (told apart by structure); --data is
 * the signed document (for a SignedValue taken out of an OFD, the bytes of
 * its Signature.xml).
 */
#include "cmd_format.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ses.h"
#include "util.h"

#define CMD_EXIT_USAGE 3

static int print_json(json_t *j)
{
    if (j == NULL || json_dumpf(j, stdout, JSON_INDENT(2)) != 0)
        return -1;
    fputc('\n', stdout);
    fflush(stdout);
    return 0;
}

static void usage_inspect(void)
{
    fprintf(stderr, "usage: seald inspect [--picture OUT] FILE\n");
}

static void usage_verify(void)
{
    fprintf(stderr,
            "usage: seald verify-file --signature FILE "
            "[--data FILE | --hash HEX] [--trust DIR] [--seal] [--id SM2ID]\n");
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
    int c, rc = CMD_EXIT_USAGE;

    err_clear(&e);
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
        if (c == 'p') {
            pic_out = optarg;
        } else {
            usage_inspect();
            goto done;
        }
    }
    if (optind != argc - 1) {
        usage_inspect();
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *sig_path = NULL, *data_path = NULL, *hash_hex = NULL;
    struct ses_verify_opts vo;
    uint8_t *buf = NULL, *data = NULL, hash[SES_MAX_HASH];
    size_t len = 0, data_len = 0, hash_len = 0;
    int force_seal = 0, c, rc = CMD_EXIT_USAGE;
    enum ses_kind kind;
    struct ses_seal *seal = NULL;
    struct ses_signature *sig = NULL;
    struct ses_signed_data *sd = NULL;
    json_t *report = NULL;
    struct err e;

    err_clear(&e);
    memset(&vo, 0, sizeof(vo));
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "s:d:H:t:Si:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': sig_path = optarg; break;
        case 'd': data_path = optarg; break;
        case 'H': hash_hex = optarg; break;
        case 't': vo.trust_dir = optarg; break;
        case 'S': force_seal = 1; break;
        case 'i': vo.signer_id = optarg; break;
        default: usage_verify(); goto done;
        }
    }
    if (sig_path == NULL && optind == argc - 1)
        sig_path = argv[optind++];       /* bare FILE accepted too */
    if (sig_path == NULL || optind != argc || (data_path && hash_hex) ||
        (vo.signer_id && strlen(vo.signer_id) > SM2_ID_MAX)) {
        usage_verify();
        goto done;
    }
    if (util_read_file(sig_path, SES_MAX_DER, &buf, &len, &e) != ERR_OK) {
        fprintf(stderr, "seald verify-file: %s\n", e.msg);
        goto done;
    }
    if (data_path != NULL) {
        if (util_read_file(data_path, (size_t)1 << 31, &data, &data_len, &e)
            != ERR_OK) {
            fprintf(stderr, "seald verify-file: %s\n", e.msg);
            goto done;
        }
        vo.data = data ? data : (const uint8_t *)"";
        vo.data_len = data_len;
    }
    if (hash_hex != NULL) {
        if (util_hex_decode(hash_hex, hash, sizeof(hash), &hash_len, &e) !=
                ERR_OK || hash_len != SM3_DIGEST_LEN) {
            fprintf(stderr, "seald verify-file: --hash must be 64 hex digits\n");
            goto done;
        }
        vo.hash = hash;
        vo.hash_len = hash_len;
    }
    kind = force_seal ? SES_KIND_SEAL : ses_sniff(buf, len);
    if (kind == SES_KIND_SEAL) {
        if (ses_seal_decode(buf, len, &seal, &e) == ERR_OK)
            report = ses_verify_seal(seal, &vo, &e);
        else
            report = ses_report_format_failure("seal", e.msg);
    } else if (kind == SES_KIND_SIGNATURE) {
        if (ses_signature_decode(buf, len, &sig, &e) == ERR_OK)
            report = ses_verify_signature(sig, &vo, &e);
        else
            report = ses_report_format_failure("signature", e.msg);
    } else if (kind == SES_KIND_SIGNED_DATA) {
        if (ses_signed_data_decode(buf, len, &sd, &e) == ERR_OK)
            report = ses_verify_signed_data(sd, &vo, &e);
        else
            report = ses_report_format_failure("signed_data", e.msg);
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
    ses_seal_free(seal);
    ses_signature_free(sig);
    ses_signed_data_free(sd);
    free(buf);
    free(data);
    return rc;
}
