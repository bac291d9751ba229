/*
 * cmd_datakey.c - `seald data-key`: the data keys of encryption at rest
 * (domain/blobcrypt.h, docs/manual.md 7.1).  list reports the keys and how
 * many blobs each seals; rotate makes a new data key (optionally under a
 * new wrap key, re-wrapping the old ones, and optionally re-encrypting
 * every blob under the new key); encrypt seals the rows an instance stored
 * before encryption at rest.  Each change is audited; all run while the
 * daemon serves.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "blobcrypt.h"
#include "cmd.h"
#include "cmd_datakey.h"
#include "config.h"
#include "custody.h"
#include "store.h"

static const char usage_text[] =
    "usage: seald data-key list    --config FILE\n"
    "       seald data-key rotate  --config FILE [--new-wrap-key] "
    "[--reencrypt]\n"
    "       seald data-key encrypt --config FILE\n"
    "       seald data-key verify  --config FILE\n"
    "  list:    the data keys and the blobs each seals (JSON)\n"
    "  rotate:  a new data key seals new blobs; old ones stay readable.\n"
    "           --new-wrap-key: a new wrap key in the same token, and every\n"
    "           data key re-wrapped to it; --reencrypt: every blob sealed\n"
    "           again under the new data key (one row per transaction)\n"
    "  encrypt: seal the blobs stored before encryption at rest\n"
    "  verify:  open every blob and check it against its row's SM3 (JSON;\n"
    "           exit 1 when one does not open)\n";

int
cmd_data_key(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"new-wrap-key", no_argument, NULL, 'w'},
        {"reencrypt", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *conf = NULL, *verb;
    int ch, new_wrap = 0, reencrypt = 0, status = CMD_EXIT_FAIL, made = 0;
    char wrap[128], tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    struct config cfg;
    struct custody *c = NULL;
    struct store *s = NULL;
    json_t *rep = NULL;
    int64_t n = 0, kid = 0, rewrapped = 0;
    struct err e;

    err_clear(&e);
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && !strcmp(argv[1], "--help")) {
            fputs(usage_text, stdout);
            return CMD_EXIT_OK;
        }
        fputs(usage_text, stderr);
        return CMD_EXIT_USAGE;
    }
    verb = argv[1];
    optind = 2;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': conf = optarg; break;
        case 'w': new_wrap = 1; break;
        case 'r': reencrypt = 1; break;
        case 'h': fputs(usage_text, stdout); return CMD_EXIT_OK;
        default: return CMD_EXIT_USAGE;
        }
    }
    if (conf == NULL || optind != argc ||
        (strcmp(verb, "list") && strcmp(verb, "rotate") &&
         strcmp(verb, "encrypt") && strcmp(verb, "verify")) ||
        ((new_wrap || reencrypt) && strcmp(verb, "rotate"))) {
        fputs(usage_text, stderr);
        return CMD_EXIT_USAGE;
    }
    config_defaults(&cfg);
    if (config_load(&cfg, conf, &e) != ERR_OK ||
        config_validate(&cfg, &e) != ERR_OK) {
        fprintf(stderr, "seald data-key: %s\n", e.msg);
        return CMD_EXIT_CONFIG;
    }
    if (cmd_open_tokens(&cfg, &c, &e) != ERR_OK ||
        store_open(cfg.db_url, cfg.db_password_file[0] != '\0'
                       ? cfg.db_password_file : NULL,
                   cfg.db_busy_timeout_ms, 0, &s, &e) != ERR_OK ||
        store_migrate(s, NULL, &e) != ERR_OK)
        goto done;
    if (c == NULL) {
        err_set(&e, ERR_CONFIG, "no token is configured");
        goto done;
    }
    /* the ring keeps a key as the daemon would: a walk over a million
     * rows then asks the token once per key, not once per row */
    if (blobcrypt_start(c, s, cfg.data_key_cache_seconds, &e) != ERR_OK)
        goto done;
    if (!strcmp(verb, "list")) {
        if (blobcrypt_report(s, &rep, &e) != ERR_OK)
            goto done;
        json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
    } else if (!strcmp(verb, "verify")) {
        int64_t checked = 0, failed = 0;
        json_t *bad = json_array();
        if (bad == NULL ||
            blobcrypt_verify_rows(s, &checked, &failed, bad, &e) != ERR_OK) {
            json_decref(bad);
            goto done;
        }
        rep = json_pack("{s:b, s:I, s:I, s:o}", "ok", failed == 0,
                        "checked", (json_int_t)checked, "failed",
                        (json_int_t)failed, "failures", bad);
        json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        if (failed > 0) {
            err_set(&e, ERR_CRYPTO, "%lld of %lld blobs do not open",
                    (long long)failed, (long long)checked);
            goto done;
        }
    } else if (!strcmp(verb, "encrypt")) {
        if (blobcrypt_ensure_key(s, c, &made, &e) != ERR_OK ||
            blobcrypt_encrypt_rows(s, 0, &n, &e) != ERR_OK)
            goto done;
        printf("seald: %lld blobs sealed%s\n", (long long)n,
               made ? " (under a first data key, made now)" : "");
    } else {
        if (blobcrypt_ensure_key(s, c, &made, &e) != ERR_OK ||
            blobcrypt_current_wrap(s, wrap, sizeof(wrap), &e) != ERR_OK)
            goto done;
        if (new_wrap &&
            (config_keyref(wrap, tok, id, &e) != ERR_OK ||
             blobcrypt_new_wrap_key(c, tok, wrap, sizeof(wrap), &e)
             != ERR_OK ||
             blobcrypt_rewrap(s, c, wrap, &rewrapped, &e) != ERR_OK))
            goto done;
        if (blobcrypt_create_key(s, c, wrap, &kid, &e) != ERR_OK)
            goto done;
        printf("seald: data key %lld (wrap key %s) seals new blobs; "
               "%lld older keys re-wrapped\n", (long long)kid, wrap,
               (long long)rewrapped);
        fflush(stdout);
        if (reencrypt) {
            if (blobcrypt_encrypt_rows(s, 1, &n, &e) != ERR_OK)
                goto done;
            printf("seald: %lld blobs sealed again under data key %lld\n",
                   (long long)n, (long long)kid);
        }
        printf("Every node uses it within storage.data_key_cache_seconds "
               "(%ld s).\n", cfg.data_key_cache_seconds);
    }
    status = CMD_EXIT_OK;
done:
    if (status != CMD_EXIT_OK)
        fprintf(stderr, "seald data-key %s: %s\n", verb, e.msg);
    json_decref(rep);
    blobcrypt_stop();
    store_close(s);
    custody_close(c);
    return status;
}
