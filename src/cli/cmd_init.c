/*
 * cmd_init.c - `seald init --dir DIR`: create an instance: config file,
 * server secret, TLS certificate, the development SM2 token with the audit
 * key (and its public key in DIR/audit-key.pem, the trust anchor of audit
 * verification outside the database), the database with schema, the root
 * organisation and the first administrator, whose credential is printed
 * once.  Refuses to touch a
 * directory that already holds an instance.
 *
 * Also `seald status-key --config FILE`: give an instance made before
 * signed status statements (migration 010) its status key, generated next
 * to the local CA's key and certified by it, as init does for a new one
 * (the daemon, restarted, then signs with it).  And `seald tsa-key
 * --config FILE` likewise gives an instance made before migration 013 its
 * TSA key (POST /tsa), certified by the local CA for timeStamping.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "audit.h"
#include "auth.h"
#include "cmd.h"
#include "config.h"
#include "ca.h"
#include "custody.h"
#include "store.h"
#include "tls_selfsigned.h"
#include "util.h"
#include "store_account.h"
#include "store_seal.h"

#define INIT_ADMIN_NAME_MAX 64
#define INIT_PIN_BYTES      16
#define INIT_TOKEN_NAME     "dev"
#define INIT_TOKEN_LABEL    "seald-dev"
#define INIT_TOKEN_PROFILE  "sm2-sansec"
#define INIT_CONF_MAX       (64 * 1024)
#define INIT_CA_DAYS        3650
#define INIT_MAKER_DAYS     3000
#define INIT_STATUS_DAYS    3000
#define INIT_STATUS_CN      "seald seal status"
#define INIT_TSA_CN         "seald TSA"
#define INIT_TSA_EKU        "critical,timeStamping"  /* RFC 3161 2.3 */
#define INIT_AUDIT_KEY_FILE "audit-key.pem"   /* audit.public_key default */

static void
init_usage(FILE *f)
{
    fprintf(f,
            "usage: seald init --dir DIR [--admin NAME] [--org NAME]\n"
            "                  [--database postgresql://USER@HOST/DB "
            "[--database-password-file FILE]]\n"
            "  Creates a new instance in DIR (config, database, TLS "
            "certificate,\n  server secret) and prints the first "
            "administrator's credential once.\n"
            "  The database is DIR/seald.db, or with --database an empty "
            "PostgreSQL\n  database (its password read from FILE, never "
            "from the command line).\n");
}

static err_code
make_dir(const char *path, struct err *e)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
    return ERR_OK;
}

static int
path_in(char *out, size_t cap, const char *dir, const char *name)
{
    return (size_t)snprintf(out, cap, "%s/%s", dir, name) < cap;
}

/* A random PIN written to path (0600), never shown. */
static err_code
write_pin(const char *path, struct err *e)
{
    uint8_t raw[INIT_PIN_BYTES];
    char hex[2 * INIT_PIN_BYTES + 2];
    err_code rc;

    if ((rc = util_random(raw, sizeof(raw), e)) != ERR_OK)
        return rc;
    util_hex_encode(raw, sizeof(raw), hex);
    hex[2 * INIT_PIN_BYTES] = '\n';
    rc = util_write_file(path, hex, 2 * INIT_PIN_BYTES + 1, 0600, e);
    util_wipe(raw, sizeof(raw));
    util_wipe(hex, sizeof(hex));
    return rc;
}

/* The keys init makes in the development token, and the certificates of
 * the local CA, the seal maker and the status signer (DER, malloc'ed). */
struct init_keys {
    char     audit[CUSTODY_ID_HEX_MAX];
    char     ca[CUSTODY_ID_HEX_MAX];
    char     maker[CUSTODY_ID_HEX_MAX];
    char     status[CUSTODY_ID_HEX_MAX];
    char     tsa[CUSTODY_ID_HEX_MAX];
    uint8_t *ca_cert, *maker_cert, *status_cert, *tsa_cert;
    uint8_t *audit_pub;                                        /* SPKI DER */
    size_t   ca_cert_len, maker_cert_len, status_cert_len, tsa_cert_len;
    size_t   audit_pub_len;
};

static void
init_keys_free(struct init_keys *k)
{
    free(k->ca_cert);
    free(k->maker_cert);
    free(k->status_cert);
    free(k->tsa_cert);
    free(k->audit_pub);
}

/* A certificate from the local CA ca (its certificate ca_cert) for the
 * key key_id in token, with subject subj, valid for days, with the
 * extendedKeyUsage eku (NULL: none): *der malloc'ed. */
static err_code
init_issue_eku(struct custody *c, const struct ca_key *ca,
               const uint8_t *ca_cert, size_t ca_len, const char *token,
               const char *key_id, const struct ca_subject *subj, int days,
               const char *eku, uint8_t **der, size_t *len, struct err *e)
{
    struct ca_issue_params ip;
    EVP_PKEY *pub = NULL;
    time_t now = time(NULL);
    err_code rc;

    if ((rc = custody_public_key(c, token, key_id, &pub, e)) != ERR_OK)
        return rc;
    memset(&ip, 0, sizeof(ip));
    ip.subject = subj;
    ip.holder_pub = pub;
    ip.not_before = now - 60;
    ip.not_after = now + (time_t)days * 86400;
    ip.ext_key_usage = eku;
    rc = ca_issue(ca, ca_cert, ca_len, &ip, der, len, e);
    EVP_PKEY_free(pub);
    return rc;
}

/* init_issue_eku without an extendedKeyUsage. */
static err_code
init_issue(struct custody *c, const struct ca_key *ca,
           const uint8_t *ca_cert, size_t ca_len, const char *token,
           const char *key_id, const struct ca_subject *subj, int days,
           uint8_t **der, size_t *len, struct err *e)
{
    return init_issue_eku(c, ca, ca_cert, ca_len, token, key_id, subj, days,
                          NULL, der, len, e);
}

/* The local CA (self-signed), and the seal maker's and the status
 * signer's certificates from it. */
static err_code
init_certs(struct custody *c, const char *org, struct init_keys *k,
           struct err *e)
{
    struct ca_key ca = {c, INIT_TOKEN_NAME, k->ca};
    struct ca_subject ca_subj = {"CN", NULL, NULL, NULL, "seald", NULL,
                                 "seald local CA"};
    struct ca_subject mk_subj = {"CN", NULL, NULL, NULL, "seald", NULL,
                                 "seald seal maker"};
    struct ca_subject st_subj = {"CN", NULL, NULL, NULL, "seald", NULL,
                                 INIT_STATUS_CN};
    struct ca_subject ts_subj = {"CN", NULL, NULL, NULL, "seald", NULL,
                                 INIT_TSA_CN};
    err_code rc;

    ca_subj.o = mk_subj.o = st_subj.o = ts_subj.o = org;
    if ((rc = ca_create_root(&ca, &ca_subj, INIT_CA_DAYS, &k->ca_cert,
                             &k->ca_cert_len, e)) != ERR_OK ||
        (rc = init_issue(c, &ca, k->ca_cert, k->ca_cert_len,
                         INIT_TOKEN_NAME, k->maker, &mk_subj,
                         INIT_MAKER_DAYS, &k->maker_cert,
                         &k->maker_cert_len, e)) != ERR_OK ||
        (rc = init_issue(c, &ca, k->ca_cert, k->ca_cert_len,
                         INIT_TOKEN_NAME, k->status, &st_subj,
                         INIT_STATUS_DAYS, &k->status_cert,
                         &k->status_cert_len, e)) != ERR_OK)
        return rc;
    return init_issue_eku(c, &ca, k->ca_cert, k->ca_cert_len,
                          INIT_TOKEN_NAME, k->tsa, &ts_subj,
                          INIT_STATUS_DAYS, INIT_TSA_EKU, &k->tsa_cert,
                          &k->tsa_cert_len, e);
}

/* The development token module init writes into the config: the one
 * installed beside this executable (SEALD_DEVTOKEN_REL, relative to the
 * executable's directory, as `cmake --install` and the Debian package lay
 * them out, wherever the tree is unpacked), else the one of the build tree
 * (SEALD_DEVTOKEN_MODULE).  out: a buffer of size n. */
static void
devtoken_module(char *out, size_t n)
{
    char exe[PATH_MAX], rel[PATH_MAX], real[PATH_MAX], *slash;
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (len > 0) {
        exe[len] = '\0';
        /* the config names the module without the "sbin/.." */
        if ((slash = strrchr(exe, '/')) != NULL) {
            *slash = '\0';
            if ((size_t)snprintf(rel, sizeof(rel), "%s/%s", exe,
                                 SEALD_DEVTOKEN_REL) < sizeof(rel) &&
                realpath(rel, real) != NULL && access(real, R_OK) == 0 &&
                strlen(real) < n) {
                memcpy(out, real, strlen(real) + 1);
                return;
            }
        }
    }
    snprintf(out, n, "%s", SEALD_DEVTOKEN_MODULE);
}

/* Set up the development SM2 token in DIR/token (PINs in DIR/token.pin and
 * DIR/token.so-pin), generate the audit, CA, maker and status keys in it,
 * and make the CA's, the maker's and the status signer's certificates. */
static err_code
init_devtoken(const char *dir, const char *org, struct init_keys *k,
              struct err *e)
{
    struct custody_token_conf conf;
    struct custody *c = NULL;
    char tokdir[PATH_MAX], sopin_path[PATH_MAX], prof[PATH_MAX];
    char *so = NULL, *pin = NULL;
    err_code rc;

    custody_conf_init(&conf);
    snprintf(conf.name, sizeof(conf.name), INIT_TOKEN_NAME);
    devtoken_module(conf.module, sizeof(conf.module));
    snprintf(conf.profile, sizeof(conf.profile), INIT_TOKEN_PROFILE);
    snprintf(conf.token_label, sizeof(conf.token_label), INIT_TOKEN_LABEL);
    if (!path_in(tokdir, sizeof(tokdir), dir, "token") ||
        !path_in(sopin_path, sizeof(sopin_path), dir, "token.so-pin") ||
        !path_in(conf.pin_file, sizeof(conf.pin_file), dir, "token.pin") ||
        !path_in(prof, sizeof(prof), dir, "token/profile"))
        return err_set(e, ERR_IO, "%s: path too long", dir);
    if ((rc = make_dir(tokdir, e)) != ERR_OK ||
        (rc = util_write_file(prof, "sansec", 6, 0600, e)) != ERR_OK ||
        (rc = write_pin(sopin_path, e)) != ERR_OK ||
        (rc = write_pin(conf.pin_file, e)) != ERR_OK ||
        (rc = custody_read_pin(sopin_path, NULL, &so, e)) != ERR_OK ||
        (rc = custody_read_pin(conf.pin_file, NULL, &pin, e)) != ERR_OK)
        goto done;
    /* the dev module finds its slots through the environment */
    setenv("SEALD_DEVTOKEN_DIR", tokdir, 1);
    if ((rc = custody_init_token(conf.module, 0, INIT_TOKEN_LABEL, so, pin,
                                 e)) != ERR_OK ||
        (rc = custody_open(&conf, 1, &c, e)) != ERR_OK ||
        (rc = custody_generate(c, INIT_TOKEN_NAME, "audit", NULL, 0,
                               k->audit, e)) != ERR_OK ||
        (rc = custody_generate(c, INIT_TOKEN_NAME, "ca", NULL, 0, k->ca, e))
        != ERR_OK ||
        (rc = custody_generate(c, INIT_TOKEN_NAME, "maker", NULL, 0,
                               k->maker, e)) != ERR_OK ||
        (rc = custody_generate(c, INIT_TOKEN_NAME, "status", NULL, 0,
                               k->status, e)) != ERR_OK ||
        (rc = custody_generate(c, INIT_TOKEN_NAME, "tsa", NULL, 0, k->tsa,
                               e)) != ERR_OK ||
        (rc = custody_public_key_der(c, INIT_TOKEN_NAME, k->audit,
                                     &k->audit_pub, &k->audit_pub_len, e))
        != ERR_OK)
        goto done;
    rc = init_certs(c, org, k, e);
done:
    custody_close(c);
    custody_pin_free(so);
    custody_pin_free(pin);
    return rc;
}

/* Append to out (cap bytes, *n used) the text with its first line that is
 * exactly "key =" or "key = old" (old NULL: nothing after "=") given the
 * value "prefix/value" (prefix NULL: "value"). */
static int
fill_line(char *out, size_t cap, size_t *n, const char *text,
          const char *key, const char *old, const char *prefix,
          const char *value)
{
    char mark[64];
    const char *at;
    int w;

    snprintf(mark, sizeof(mark), "\n%s =%s%s\n", key, old ? " " : "",
             old ? old : "");
    if ((at = strstr(text, mark)) == NULL)
        return -1;
    w = snprintf(out + *n, cap - *n, "%.*s\n%s = %s%s%s\n%s",
                 (int)(at - text), text, key, prefix ? prefix : "",
                 prefix ? "/" : "", value, at + strlen(mark));
    if (w < 0 || (size_t)w >= cap - *n)
        return -1;
    *n += (size_t)w;
    return 0;
}

/* fill_line for a [keys] line: "key = token/id". */
static int
fill_keyref(char *out, size_t cap, size_t *n, const char *text,
            const char *key, const char *id)
{
    return fill_line(out, cap, n, text, key, NULL, INIT_TOKEN_NAME, id);
}

/* The instance's config: the example with the key references (and, for a
 * PostgreSQL instance, database.url and password_file: db_url NULL for the
 * SQLite default) filled in and the development token's section appended. */
static err_code
write_config(const char *path, const struct init_keys *k, const char *db_url,
             const char *pwfile, struct err *e)
{
    char *a = malloc(INIT_CONF_MAX), *b = malloc(INIT_CONF_MAX);
    char module[PATH_MAX];
    size_t n;
    int w;
    err_code rc = ERR_OK;

    if (a == NULL || b == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    n = 0;
    if (fill_keyref(a, INIT_CONF_MAX, &n, config_example, "audit",
                    k->audit) != 0 ||
        (n = 0, fill_keyref(b, INIT_CONF_MAX, &n, a, "ca", k->ca)) != 0 ||
        (n = 0, fill_keyref(a, INIT_CONF_MAX, &n, b, "maker", k->maker))
        != 0 ||
        (n = 0, fill_keyref(b, INIT_CONF_MAX, &n, a, "status", k->status))
        != 0 ||
        (n = 0, fill_keyref(a, INIT_CONF_MAX, &n, b, "tsa", k->tsa)) != 0) {
        rc = err_set(e, ERR_INTERNAL, "config example lacks a [keys] line");
        goto done;
    }
    /* an odd number of fills: the text is in a, as what follows wants */
    if (db_url != NULL) {
        size_t m = 0;

        if (fill_line(b, INIT_CONF_MAX, &m, a, "url", "seald.db", NULL,
                      db_url) != 0 ||
            (n = 0, pwfile == NULL
                 ? (n = (size_t)snprintf(a, INIT_CONF_MAX, "%s", b), 0)
                 : fill_line(a, INIT_CONF_MAX, &n, b, "password_file", NULL,
                             NULL, pwfile)) != 0) {
            rc = err_set(e, ERR_INTERNAL, "config example lacks "
                         "database.url");
            goto done;
        }
    }
    devtoken_module(module, sizeof(module));
    w = snprintf(a + n, INIT_CONF_MAX - n,
                 "\n; The development SM2 token made by `seald init`.  Not "
                 "for production:\n; production instances use a certified "
                 "HSM.\n[token.%s]\nmodule = %s\nprofile = %s\n"
                 "token_label = %s\npin_file = token.pin\n"
                 "devtoken_dir = token\n", INIT_TOKEN_NAME,
                 module, INIT_TOKEN_PROFILE, INIT_TOKEN_LABEL);
    if (w < 0 || (size_t)w >= INIT_CONF_MAX - n)
        rc = err_set(e, ERR_INTERNAL, "config too long");
    else
        rc = util_write_file(path, a, n + (size_t)w, 0640, e);
done:
    free(a);
    free(b);
    return rc;
}

/* What bootstrap writes: store_run's work. */
struct boot_call {
    const struct auth_key  *key;
    const char             *org, *admin;
    const struct init_keys *k;
    char                   *cred;
};

static err_code
boot_work(struct store_conn *c, void *ctx, struct err *e)
{
    const struct boot_call *w = ctx;
    char ca_ref[CONFIG_KEYREF_MAX], maker_ref[CONFIG_KEYREF_MAX];
    char status_ref[CONFIG_KEYREF_MAX], tsa_ref[CONFIG_KEYREF_MAX];
    struct audit_actor who = {.role = "operator", .client_addr = "local"};
    struct audit_event ev = {"instance.init", "account", NULL, AUDIT_OK,
                             NULL, NULL};
    int64_t now = util_now_ms(), org_id, acct_id;
    char idbuf[24];
    json_t *details = NULL;
    err_code rc;

    if ((rc = store_org_insert(c, 0, w->org, "region", NULL, now, &org_id,
                               e)) != ERR_OK ||
        (rc = store_account_insert(c, w->admin, "person",
                                   "First administrator", org_id, NULL, NULL,
                                   0, now, &acct_id, e)) != ERR_OK ||
        (rc = store_role_insert(c, acct_id, "sysadmin", org_id, 0, now, e))
        != ERR_OK ||
        (rc = auth_credential_issue(c, w->key, acct_id, 1,
                                    AUTH_DEFAULT_MAX_AGE_MS, w->cred, e))
        != ERR_OK)
        return rc;
    snprintf(ca_ref, sizeof(ca_ref), "%s/%s", INIT_TOKEN_NAME, w->k->ca);
    snprintf(maker_ref, sizeof(maker_ref), "%s/%s", INIT_TOKEN_NAME,
             w->k->maker);
    snprintf(status_ref, sizeof(status_ref), "%s/%s", INIT_TOKEN_NAME,
             w->k->status);
    snprintf(tsa_ref, sizeof(tsa_ref), "%s/%s", INIT_TOKEN_NAME, w->k->tsa);
    if ((rc = store_authority_put(c, "ca", ca_ref, w->k->ca_cert,
                                  w->k->ca_cert_len, now, e)) != ERR_OK ||
        (rc = store_authority_put(c, "maker", maker_ref, w->k->maker_cert,
                                  w->k->maker_cert_len, now, e)) != ERR_OK ||
        (rc = store_authority_put(c, "status", status_ref,
                                  w->k->status_cert, w->k->status_cert_len,
                                  now, e)) != ERR_OK ||
        (rc = store_authority_put(c, "tsa", tsa_ref, w->k->tsa_cert,
                                  w->k->tsa_cert_len, now, e)) != ERR_OK)
        return rc;
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)acct_id);
    ev.target_id = idbuf;
    details = json_pack("{s:s, s:s, s:s}", "account", w->admin, "role",
                        "sysadmin", "organisation", w->org);
    ev.details = details;
    rc = audit_append(c, &who, &ev, e);
    json_decref(details);
    return rc;
}

/* The root organisation, the administrator, its role and credential, and
 * the audit record of it all, in one transaction. */
static err_code
bootstrap(struct store *s, const struct auth_key *key, const char *org,
          const char *admin, const struct init_keys *k,
          char cred[AUTH_CREDENTIAL_LEN + 1], struct err *e)
{
    struct boot_call w = {key, org, admin, k, cred};
    struct store_conn *c;
    err_code rc;

    if ((rc = store_conn_get(s, &c, e)) != ERR_OK)
        return rc;
    return store_run(c, boot_work, &w, e);
}

/* A PostgreSQL database given to init must hold no seald schema yet: init
 * makes a new instance, and its administrator and keys would not match an
 * existing one's. */
static err_code
require_empty(struct store *s, struct err *e)
{
    struct store_conn *c;
    int version = 0;
    err_code rc;

    if ((rc = store_conn_get(s, &c, e)) != ERR_OK ||
        (rc = store_schema_probe(s, &version, e)) != ERR_OK)
        return rc;
    if (version != 0)
        return err_set(e, ERR_CONFLICT, "the database already holds a seald "
                       "instance (schema version %d); refusing to overwrite "
                       "it", version);
    return ERR_OK;
}

int
cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"admin", required_argument, NULL, 'a'},
        {"org", required_argument, NULL, 'o'},
        {"database", required_argument, NULL, 'D'},
        {"database-password-file", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *dir = NULL, *admin = "admin", *org = "Default organisation";
    const char *db_url = NULL, *pwfile_arg = NULL;
    char pwfile[PATH_MAX];
    char conf[PATH_MAX], db[PATH_MAX], tlsdir[PATH_MAX], cert[PATH_MAX],
         key[PATH_MAX], secret[PATH_MAX];
    char cred[AUTH_CREDENTIAL_LEN + 1] = "";
    struct init_keys keys;
    char trustdir[PATH_MAX], capem_path[PATH_MAX], auditkey[PATH_MAX];
    char *capem = NULL;
    struct auth_key *ak = NULL;
    struct store *s = NULL;
    struct err e;
    int ch, status = CMD_EXIT_FAIL;

    err_clear(&e);
    memset(&keys, 0, sizeof(keys));
    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:a:o:D:P:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': dir = optarg; break;
        case 'D': db_url = optarg; break;
        case 'P': pwfile_arg = optarg; break;
        case 'a': admin = optarg; break;
        case 'o': org = optarg; break;
        case 'h': init_usage(stdout); return CMD_EXIT_OK;
        default: init_usage(stderr); return CMD_EXIT_USAGE;
        }
    }
    if (dir == NULL || optind != argc || strlen(admin) == 0 ||
        strlen(admin) > INIT_ADMIN_NAME_MAX || strlen(org) > 200 ||
        (pwfile_arg != NULL && db_url == NULL) ||
        (db_url != NULL && strncmp(db_url, "postgresql://", 13) != 0 &&
         strncmp(db_url, "postgres://", 11) != 0)) {
        init_usage(stderr);
        return CMD_EXIT_USAGE;
    }
    /* the config is read from DIR: a relative password file would move */
    if (pwfile_arg != NULL && realpath(pwfile_arg, pwfile) == NULL) {
        fprintf(stderr, "seald init: %s: %s\n", pwfile_arg, strerror(errno));
        return CMD_EXIT_FAIL;
    }
    if (!path_in(conf, sizeof(conf), dir, "seald.conf") ||
        !path_in(db, sizeof(db), dir, "seald.db") ||
        !path_in(tlsdir, sizeof(tlsdir), dir, "tls") ||
        !path_in(cert, sizeof(cert), dir, "tls/server.crt") ||
        !path_in(key, sizeof(key), dir, "tls/server.key") ||
        !path_in(secret, sizeof(secret), dir, "secret.key") ||
        !path_in(trustdir, sizeof(trustdir), dir, "trust") ||
        !path_in(capem_path, sizeof(capem_path), dir, "trust/local-ca.pem") ||
        !path_in(auditkey, sizeof(auditkey), dir, INIT_AUDIT_KEY_FILE)) {
        fprintf(stderr, "seald init: %s: path too long\n", dir);
        return CMD_EXIT_USAGE;
    }
    if (access(conf, F_OK) == 0 || access(db, F_OK) == 0 ||
        access(secret, F_OK) == 0) {
        fprintf(stderr, "seald init: %s already holds an instance; "
                "refusing to overwrite it\n", dir);
        return CMD_EXIT_FAIL;
    }
    /* A PostgreSQL target is checked before anything is written, so a
     * refusal leaves no half-made instance directory behind. */
    if (db_url != NULL &&
        (store_open(db_url, pwfile_arg ? pwfile : NULL, 5000, 1, &s, &e)
         != ERR_OK || require_empty(s, &e) != ERR_OK))
        goto done;
    if (make_dir(dir, &e) != ERR_OK || make_dir(tlsdir, &e) != ERR_OK ||
        auth_key_create(secret, &e) != ERR_OK ||
        auth_key_load(secret, &ak, &e) != ERR_OK ||
        tls_selfsigned_write(cert, key, &e) != ERR_OK ||
        init_devtoken(dir, org, &keys, &e) != ERR_OK ||
        audit_trusted_key_write(auditkey, keys.audit_pub, keys.audit_pub_len,
                                &e) != ERR_OK ||
        ca_der_to_pem("CERTIFICATE", keys.ca_cert, keys.ca_cert_len, &capem,
                      &e) != ERR_OK ||
        make_dir(trustdir, &e) != ERR_OK ||
        util_write_file(capem_path, capem, strlen(capem), 0644, &e)
        != ERR_OK ||
        (db_url == NULL && store_open(db, NULL, 5000, 1, &s, &e) != ERR_OK) ||
        store_migrate(s, NULL, &e) != ERR_OK ||
        bootstrap(s, ak, org, admin, &keys, cred, &e) != ERR_OK ||
        write_config(conf, &keys, db_url, pwfile_arg ? pwfile : NULL, &e)
        != ERR_OK)
        goto done;

    printf("seald: new instance in %s\n"
           "  config:      %s\n"
           "  database:    %s\n"
           "  TLS cert:    %s (self-signed, for localhost)\n"
           "  token:       %s/token (development SM2 token: audit, CA, "
           "seal maker, status and TSA keys)\n"
           "  local CA:    %s\n"
           "  audit key:   %s (public: verifies the audit checkpoints)\n"
           "  admin:       %s (role sysadmin)\n"
           "  credential:  %s\n"
           "This credential is shown once and stored only as a keyed hash. "
           "Keep it safe.\n", dir, conf, db_url ? db_url : db, cert, dir,
           capem_path,
           auditkey, admin, cred);
    fflush(stdout);
    status = CMD_EXIT_OK;
done:
    if (status != CMD_EXIT_OK)
        fprintf(stderr, "seald init: %s\n", e.msg);
    util_wipe(cred, sizeof(cred));
    init_keys_free(&keys);
    free(capem);
    store_close(s);
    auth_key_free(ak);
    return status;
}

/* ---- seald status-key ---------------------------------------------------- */

/* What status-key and tsa-key write: store_run's work. */
struct status_key_call {
    const char    *role;          /* "status" or "tsa"          */
    const char    *action;        /* its audit action           */
    const char    *ref;
    const uint8_t *cert;
    size_t         cert_len;
};

static err_code
status_key_work(struct store_conn *c, void *ctx, struct err *e)
{
    const struct status_key_call *w = ctx;
    struct audit_actor who = {.role = "operator", .client_addr = "local"};
    struct audit_event ev = {w->action, "authority", w->role, AUDIT_OK,
                             NULL, NULL};
    json_t *details;
    err_code rc;

    if ((rc = store_authority_put(c, w->role, w->ref, w->cert, w->cert_len,
                                  util_now_ms(), e)) != ERR_OK)
        return rc;
    if ((details = json_pack("{s:s}", "key", w->ref)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    ev.details = details;
    rc = audit_append(c, &who, &ev, e);
    json_decref(details);
    return rc;
}

/* The organisation (O) of the CA certificate der into o (cap bytes; ""
 * when it has none). */
static void
ca_org(const uint8_t *der, size_t len, char *o, size_t cap)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);

    o[0] = '\0';
    if (x != NULL &&
        X509_NAME_get_text_by_NID(X509_get_subject_name(x),
                                  NID_organizationName, o, (int)cap) < 0)
        o[0] = '\0';
    X509_free(x);
    ERR_clear_error();
}

/* The keys an older instance may be given: authority role, audit action,
 * certificate CN and extendedKeyUsage (NULL: none). */
struct added_key {
    const char *role, *action, *cn, *eku;
};

static const struct added_key status_key = {"status", "instance.status_key",
                                            INIT_STATUS_CN, NULL};
static const struct added_key tsa_key = {"tsa", "instance.tsa_key",
                                         INIT_TSA_CN, INIT_TSA_EKU};

/* Generate key k in the local CA's token, have the CA certify it and
 * record it (authority k->role, audited); ref gets "token/id". */
static err_code
add_role_key(struct store *s, struct custody *c, const struct added_key *k,
             char *ref, size_t cap, struct err *e)
{
    struct store_conn *conn;
    char ca_ref[CONFIG_KEYREF_MAX], tok[CUSTODY_NAME_MAX],
         ca_id[CUSTODY_ID_HEX_MAX], id[CUSTODY_ID_HEX_MAX],
         have[CONFIG_KEYREF_MAX], org[CA_NAME_FIELD_MAX + 1];
    uint8_t *ca_cert = NULL, *cert = NULL, *old = NULL;
    size_t ca_len = 0, cert_len = 0, old_len = 0;
    struct ca_subject subj = {"CN", NULL, NULL, NULL, "seald", NULL, NULL};
    struct ca_key ca;
    struct status_key_call w;
    err_code rc;

    subj.cn = k->cn;
    if ((rc = store_conn_get(s, &conn, e)) != ERR_OK)
        return rc;
    rc = store_authority_get(conn, k->role, have, sizeof(have), &old,
                             &old_len, e);
    free(old);
    if (rc == ERR_OK)
        return err_set(e, ERR_CONFLICT, "this instance has a %s key "
                       "already (%s)", k->role, have);
    if (rc != ERR_NOT_FOUND)
        return rc;
    if ((rc = store_authority_get(conn, "ca", ca_ref, sizeof(ca_ref),
                                  &ca_cert, &ca_len, e)) != ERR_OK) {
        if (rc == ERR_NOT_FOUND)
            rc = err_set(e, ERR_CONFIG, "this instance has no local CA");
        goto done;
    }
    if ((rc = config_keyref(ca_ref, tok, ca_id, e)) != ERR_OK ||
        (rc = custody_generate(c, tok, k->role, NULL, 0, id, e)) != ERR_OK)
        goto done;
    ca_org(ca_cert, ca_len, org, sizeof(org));
    subj.o = org[0] != '\0' ? org : NULL;
    ca.custody = c;
    ca.token = tok;
    ca.key_id = ca_id;
    if ((rc = init_issue_eku(c, &ca, ca_cert, ca_len, tok, id, &subj,
                             INIT_STATUS_DAYS, k->eku, &cert, &cert_len, e))
        != ERR_OK)
        goto done;
    snprintf(ref, cap, "%s/%s", tok, id);
    w.role = k->role;
    w.action = k->action;
    w.ref = ref;
    w.cert = cert;
    w.cert_len = cert_len;
    rc = store_run(conn, status_key_work, &w, e);
done:
    free(ca_cert);
    free(cert);
    return rc;
}

/* seald status-key / tsa-key: give the instance of --config FILE the key
 * k (name: the command's, help: its --help text). */
static int
cmd_add_key(int argc, char **argv, const struct added_key *k,
            const char *name, const char *help)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *conf = NULL;
    char ref[CONFIG_KEYREF_MAX];
    struct config cfg;
    struct custody *c = NULL;
    struct store *s = NULL;
    struct err e;
    int ch, status = CMD_EXIT_FAIL;

    err_clear(&e);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': conf = optarg; break;
        case 'h':
            fprintf(stdout, "usage: seald %s --config FILE\n%s", name, help);
            return CMD_EXIT_OK;
        default: return CMD_EXIT_USAGE;
        }
    }
    if (conf == NULL || optind != argc) {
        fprintf(stderr, "usage: seald %s --config FILE\n", name);
        return CMD_EXIT_USAGE;
    }
    config_defaults(&cfg);
    if (config_load(&cfg, conf, &e) != ERR_OK ||
        config_validate(&cfg, &e) != ERR_OK) {
        fprintf(stderr, "seald %s: %s\n", name, e.msg);
        return CMD_EXIT_CONFIG;
    }
    if (cmd_open_tokens(&cfg, &c, &e) != ERR_OK ||
        store_open(cfg.db_url, cfg.db_password_file[0] != '\0'
                       ? cfg.db_password_file : NULL,
                   cfg.db_busy_timeout_ms, 0, &s, &e) != ERR_OK ||
        store_migrate(s, NULL, &e) != ERR_OK ||
        add_role_key(s, c, k, ref, sizeof(ref), &e) != ERR_OK)
        goto done;
    printf("seald: %s key %s, certified by the local CA.\n"
           "Record it in %s under [keys]:\n  %s = %s\n"
           "and restart the daemon (every node) to use it.\n", k->role, ref,
           conf, k->role, ref);
    status = CMD_EXIT_OK;
done:
    if (status != CMD_EXIT_OK)
        fprintf(stderr, "seald %s: %s\n", name, e.msg);
    store_close(s);
    custody_close(c);
    return status;
}

int
cmd_status_key(int argc, char **argv)
{
    return cmd_add_key(argc, argv, &status_key, "status-key",
                       "  Gives an instance made before signed status "
                       "statements its status key:\n  generated in the local "
                       "CA's token, certified by the local CA, recorded\n  in "
                       "the database; restart the daemon to use it.\n");
}

int
cmd_tsa_key(int argc, char **argv)
{
    return cmd_add_key(argc, argv, &tsa_key, "tsa-key",
                       "  Gives an instance made before seald could be a TSA "
                       "its TSA key (POST /tsa):\n  generated in the local "
                       "CA's token, certified by the local CA for\n  "
                       "timeStamping, recorded in the database; restart the "
                       "daemon to use it.\n");
}
