/*
 * cmd_token.c - `seald token ...`: administration of PKCS#11 key custody
 * from the command line.  Token settings come from flags (the config file is
 * not read here):
 *   --module PATH --profile NAME --token-label L [--slot N]
 *   --pin-file F | --pin-env VAR
 * Subcommands:
 *   list      slots of the module; with token settings also the keys (JSON)
 *   generate  [--label L] [--id HEX]        prints the hex CKA_ID
 *   pubkey    --id HEX [--out F]            SubjectPublicKeyInfo as PEM
 *   sign      --id HEX --in F [--out F] [--sm2-id ID]
 *             SM2: signs e = SM3(Z || M); ECDSA: SHA-256(M); DER signature
 *   selftest  [--id HEX]   sign a random message, verify with OpenSSL
 *   health    JSON health of the token
 *   init-dev  --dir D --so-pin-file F --pin-file F [--label L] [--profile P]
 *             initialize a dev token (libsealdtoken.so) in directory D
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "cmd.h"
#include "cmd_token.h"
#include "custody.h"
#include "util.h"

#define TOK_MSG_MAX       (64u * 1024 * 1024)
#define TOK_SELFTEST_LEN  64
#define TOK_TOKEN_NAME    "cli"

struct tok_opts {
    struct custody_token_conf conf;
    const char *id, *label, *in, *out, *dir, *so_pin_file, *sm2_id;
};

static void tok_usage(FILE *f)
{
    fprintf(f,
        "usage: seald token SUBCOMMAND --module PATH [--profile NAME --token-label L\n"
        "                   [--slot N] (--pin-file F | --pin-env VAR)] [options]\n"
        "  list | generate [--label L] [--id HEX] | pubkey --id HEX [--out F]\n"
        "  sign --id HEX --in F [--out F] [--sm2-id ID] | selftest [--id HEX] | health\n"
        "  init-dev --dir D --so-pin-file F --pin-file F [--label L] [--profile P]\n"
        "profiles: sm2-sansec sm2-tass sm2-luna sm2-ibm ecdsa-p256\n");
}

static int tok_copy(char *dst, size_t cap, const char *src, const char *what)
{
    if (strlen(src) >= cap) {
        fprintf(stderr, "seald token: %s too long\n", what);
        return -1;
    }
    strcpy(dst, src);
    return 0;
}

/* Parse flags after the subcommand.  0 ok, -1 usage error. */
static int tok_parse(int argc, char **argv, struct tok_opts *o)
{
    static const struct option opts[] = {
        { "module", required_argument, NULL, 'm' },
        { "profile", required_argument, NULL, 'p' },
        { "token-label", required_argument, NULL, 't' },
        { "slot", required_argument, NULL, 's' },
        { "pin-file", required_argument, NULL, 'f' },
        { "pin-env", required_argument, NULL, 'v' },
        { "id", required_argument, NULL, 'i' },
        { "label", required_argument, NULL, 'l' },
        { "in", required_argument, NULL, 'I' },
        { "out", required_argument, NULL, 'o' },
        { "dir", required_argument, NULL, 'd' },
        { "so-pin-file", required_argument, NULL, 'S' },
        { "sm2-id", required_argument, NULL, 'z' },
        { "pool", required_argument, NULL, 'P' },
        { NULL, 0, NULL, 0 },
    };
    struct err e = { 0 };
    long v;
    int c;
    memset(o, 0, sizeof *o);
    custody_conf_init(&o->conf);
    strcpy(o->conf.name, TOK_TOKEN_NAME);
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'm': bad = tok_copy(o->conf.module, sizeof o->conf.module, optarg, "--module"); break;
        case 'p': bad = tok_copy(o->conf.profile, sizeof o->conf.profile, optarg, "--profile"); break;
        case 't': bad = tok_copy(o->conf.token_label, sizeof o->conf.token_label, optarg, "--token-label"); break;
        case 'f': bad = tok_copy(o->conf.pin_file, sizeof o->conf.pin_file, optarg, "--pin-file"); break;
        case 'v': bad = tok_copy(o->conf.pin_env, sizeof o->conf.pin_env, optarg, "--pin-env"); break;
        case 's':
            if (util_parse_long(optarg, 0, 1L << 30, &v, &e) != ERR_OK)
                bad = -1;
            o->conf.slot = (int)v;
            break;
        case 'P':
            if (util_parse_long(optarg, 1, CUSTODY_POOL_MAX, &v, &e) != ERR_OK)
                bad = -1;
            o->conf.pool_size = (int)v;
            break;
        case 'i': o->id = optarg; break;
        case 'l': o->label = optarg; break;
        case 'I': o->in = optarg; break;
        case 'o': o->out = optarg; break;
        case 'd': o->dir = optarg; break;
        case 'S': o->so_pin_file = optarg; break;
        case 'z': o->sm2_id = optarg; break;
        default: bad = -1; break;
        }
        if (bad)
            return -1;
    }
    if (optind != argc) {
        fprintf(stderr, "seald token: unexpected argument %s\n", argv[optind]);
        return -1;
    }
    if (!o->conf.module[0]) {
        fprintf(stderr, "seald token: --module is required\n");
        return -1;
    }
    return 0;
}

static int tok_fail(const struct err *e)
{
    fprintf(stderr, "seald token: %s: %s\n", err_name(e->code), e->msg);
    return 1;
}

static int tok_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    if (!s)
        return 1;
    printf("%s\n", s);
    free(s);
    return 0;
}

static int tok_write_out(const char *path, const void *buf, size_t len)
{
    struct err e = { 0 };
    if (!path) {
        return fwrite(buf, 1, len, stdout) == len ? 0 : 1;
    }
    if (util_write_file(path, buf, len, 0644, &e) != ERR_OK)
        return tok_fail(&e);
    return 0;
}

/* Sign msg with the key; DER into sig.  Computes e or the digest here. */
static err_code tok_sign_msg(struct custody *c, const char *id, const char *sm2_id,
                             const uint8_t *msg, size_t len, uint8_t *sig,
                             size_t *sig_len, EVP_PKEY **pub_out, struct err *e)
{
    EVP_PKEY *pub = NULL;
    uint8_t h[32];
    unsigned int hl = 0;
    err_code rc;
    if ((rc = custody_public_key(c, TOK_TOKEN_NAME, id, &pub, e)) != ERR_OK)
        return rc;
    if (custody_token_is_sm2(c, TOK_TOKEN_NAME) == 1) {
        if ((rc = custody_sm2_e(pub, sm2_id, msg, len, h, e)) == ERR_OK)
            rc = custody_sign_e(c, TOK_TOKEN_NAME, id, h, sig, sig_len, e);
    } else {
        if (EVP_Digest(msg, len, h, &hl, EVP_sha256(), NULL) != 1)
            rc = err_set(e, ERR_CRYPTO, "SHA-256 failed");
        else
            rc = custody_sign_digest(c, TOK_TOKEN_NAME, id, h, sig, sig_len, e);
    }
    if (rc == ERR_OK && pub_out)
        *pub_out = pub;
    else
        EVP_PKEY_free(pub);
    return rc;
}

/* Verify sig over msg with OpenSSL (SM2-with-SM3 + distid, or ECDSA SHA-256). */
static err_code tok_verify(EVP_PKEY *pub, int sm2, const char *sm2_id,
                           const uint8_t *msg, size_t len, const uint8_t *sig,
                           size_t sig_len, struct err *e)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    err_code rc = ERR_CRYPTO;
    if (!sm2_id)
        sm2_id = CUSTODY_SM2_DEFAULT_ID;
    if (!md)
        goto done;
    if (sm2) {
        pc = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
        if (!pc || EVP_PKEY_CTX_set1_id(pc, sm2_id, strlen(sm2_id)) != 1)
            goto done;
        EVP_MD_CTX_set_pkey_ctx(md, pc);
    }
    if (EVP_DigestVerifyInit(md, NULL, sm2 ? EVP_sm3() : EVP_sha256(), NULL, pub) != 1 ||
        EVP_DigestVerify(md, sig, sig_len, msg, len) != 1) {
        err_set(e, ERR_CRYPTO, "signature does not verify");
        goto done;
    }
    rc = ERR_OK;
done:
    EVP_MD_CTX_free(md);
    EVP_PKEY_CTX_free(pc);
    return rc;
}

static int tok_init_dev(struct tok_opts *o)
{
    struct err e = { 0 };
    char *so = NULL, *pin = NULL;
    int status = 1;
    if (!o->dir || !o->so_pin_file || (!o->conf.pin_file[0] && !o->conf.pin_env[0])) {
        fprintf(stderr, "seald token init-dev: --dir, --so-pin-file and --pin-file are required\n");
        return CMD_EXIT_USAGE;
    }
    if (mkdir(o->dir, 0700) != 0 && access(o->dir, F_OK) != 0) {
        fprintf(stderr, "seald token init-dev: cannot create %s\n", o->dir);
        return 1;
    }
    setenv("SEALD_DEVTOKEN_DIR", o->dir, 1);
    if (o->conf.profile[0]) {
        char path[CUSTODY_PATH_MAX + 16];
        const char *p = o->conf.profile;
        if (strncmp(p, "sm2-", 4) == 0)
            p += 4;
        snprintf(path, sizeof path, "%s/profile", o->dir);
        if (util_write_file(path, p, strlen(p), 0600, &e) != ERR_OK) {
            status = tok_fail(&e);
            goto done;
        }
    }
    if (custody_read_pin(o->so_pin_file, NULL, &so, &e) != ERR_OK ||
        custody_read_pin(o->conf.pin_file, o->conf.pin_env, &pin, &e) != ERR_OK ||
        custody_init_token(o->conf.module, o->conf.slot, o->label ? o->label : "seald-dev",
                           so, pin, &e) != ERR_OK) {
        status = tok_fail(&e);
        goto done;
    }
    printf("initialized dev token in %s\n", o->dir);
    status = 0;
done:
    custody_pin_free(so);
    custody_pin_free(pin);
    return status;
}

static int tok_selftest(struct custody *c, struct tok_opts *o)
{
    struct err e = { 0 };
    uint8_t msg[TOK_SELFTEST_LEN], sig[CUSTODY_SIG_MAX];
    size_t sig_len = 0;
    EVP_PKEY *pub = NULL;
    json_t *keys = NULL, *res = NULL;
    const char *id = o->id;
    int64_t t0;
    int status = 1;
    if (!id) {
        if (custody_list_keys(c, TOK_TOKEN_NAME, &keys, &e) != ERR_OK)
            return tok_fail(&e);
        if (json_array_size(keys) == 0) {
            fprintf(stderr, "seald token selftest: no keys on the token (use --id or generate)\n");
            goto done;
        }
        id = json_string_value(json_object_get(json_array_get(keys, 0), "id"));
    }
    if (RAND_bytes(msg, sizeof msg) != 1)
        goto done;
    t0 = util_mono_ms();
    if (tok_sign_msg(c, id, o->sm2_id, msg, sizeof msg, sig, &sig_len, &pub, &e) != ERR_OK ||
        tok_verify(pub, custody_token_is_sm2(c, TOK_TOKEN_NAME) == 1, o->sm2_id, msg,
                   sizeof msg, sig, sig_len, &e) != ERR_OK) {
        status = tok_fail(&e);
        goto done;
    }
    res = json_pack("{s:b,s:s,s:s,s:I}", "ok", 1, "id", id, "profile",
                    custody_token_profile(c, TOK_TOKEN_NAME),
                    "ms", (json_int_t)(util_mono_ms() - t0));
    status = res ? tok_print_json(res) : 1;
done:
    json_decref(res);
    json_decref(keys);
    EVP_PKEY_free(pub);
    return status;
}

static int tok_sign(struct custody *c, struct tok_opts *o)
{
    struct err e = { 0 };
    uint8_t *msg = NULL, sig[CUSTODY_SIG_MAX];
    size_t len = 0, sig_len = 0;
    int status;
    if (!o->id || !o->in) {
        fprintf(stderr, "seald token sign: --id and --in are required\n");
        return CMD_EXIT_USAGE;
    }
    if (util_read_file(o->in, TOK_MSG_MAX, &msg, &len, &e) != ERR_OK ||
        tok_sign_msg(c, o->id, o->sm2_id, msg, len, sig, &sig_len, NULL, &e) != ERR_OK)
        status = tok_fail(&e);
    else
        status = tok_write_out(o->out, sig, sig_len);
    free(msg);
    return status;
}

static int tok_pubkey(struct custody *c, struct tok_opts *o)
{
    struct err e = { 0 };
    EVP_PKEY *pub = NULL;
    BIO *b = NULL;
    char *pem = NULL;
    long n;
    int status = 1;
    if (!o->id) {
        fprintf(stderr, "seald token pubkey: --id is required\n");
        return CMD_EXIT_USAGE;
    }
    if (custody_public_key(c, TOK_TOKEN_NAME, o->id, &pub, &e) != ERR_OK)
        return tok_fail(&e);
    b = BIO_new(BIO_s_mem());
    if (!b || PEM_write_bio_PUBKEY(b, pub) != 1)
        goto done;
    n = BIO_get_mem_data(b, &pem);
    status = tok_write_out(o->out, pem, (size_t)n);
done:
    BIO_free(b);
    EVP_PKEY_free(pub);
    return status;
}

int cmd_token(int argc, char **argv)
{
    struct tok_opts o;
    struct custody *c = NULL;
    struct err e = { 0 };
    json_t *j = NULL;
    const char *sub;
    char id_hex[CUSTODY_ID_HEX_MAX];
    uint8_t id[CUSTODY_ID_MAX];
    size_t id_len = 0;
    int status = 1;
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        tok_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CMD_EXIT_USAGE : CMD_EXIT_OK;
    }
    sub = argv[1];
    if (tok_parse(argc - 1, argv + 1, &o) != 0) {
        tok_usage(stderr);
        return CMD_EXIT_USAGE;
    }
    if (strcmp(sub, "init-dev") == 0)
        return tok_init_dev(&o);
    if (strcmp(sub, "list") == 0) {
        if (custody_list_slots(o.conf.module, &j, &e) != ERR_OK)
            return tok_fail(&e);
        if (o.conf.token_label[0] && o.conf.profile[0]) {
            json_t *keys = NULL, *res;
            json_t *slots = j;
            if (custody_open(&o.conf, 1, &c, &e) != ERR_OK ||
                custody_list_keys(c, TOK_TOKEN_NAME, &keys, &e) != ERR_OK) {
                json_decref(slots);
                status = tok_fail(&e);
                goto done;
            }
            res = json_pack("{s:o,s:o}", "slots", slots, "keys", keys);
            j = res;
        }
        status = j ? tok_print_json(j) : 1;
        goto done;
    }
    if (!o.conf.profile[0] || (!o.conf.token_label[0] && o.conf.slot < 0)) {
        fprintf(stderr, "seald token %s: --profile and --token-label (or --slot) are required\n", sub);
        return CMD_EXIT_USAGE;
    }
    if (custody_open(&o.conf, 1, &c, &e) != ERR_OK) {
        status = tok_fail(&e);
        goto done;
    }
    if (strcmp(sub, "generate") == 0) {
        if (o.id && (util_hex_decode(o.id, id, sizeof id, &id_len, &e) != ERR_OK || id_len == 0)) {
            fprintf(stderr, "seald token generate: bad --id\n");
            status = 2;
            goto done;
        }
        if (custody_generate(c, TOK_TOKEN_NAME, o.label ? o.label : "", o.id ? id : NULL,
                             id_len, id_hex, &e) != ERR_OK) {
            status = tok_fail(&e);
            goto done;
        }
        printf("%s\n", id_hex);
        status = 0;
    } else if (strcmp(sub, "pubkey") == 0) {
        status = tok_pubkey(c, &o);
    } else if (strcmp(sub, "sign") == 0) {
        status = tok_sign(c, &o);
    } else if (strcmp(sub, "selftest") == 0) {
        status = tok_selftest(c, &o);
    } else if (strcmp(sub, "health") == 0) {
        if (custody_health(c, &j, &e) != ERR_OK)
            status = tok_fail(&e);
        else
            status = tok_print_json(j);
    } else {
        fprintf(stderr, "seald token: unknown subcommand %s\n", sub);
        tok_usage(stderr);
        status = 2;
    }
done:
    json_decref(j);
    custody_close(c);
    return status;
}
