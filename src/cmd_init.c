/*
 * cmd_init.c - `seald init --dir DIR`: create an instance: config file,
 * server secret, TLS certificate, the development SM2 token with the audit
 * key, the database with schema, the root organisation and the first
 * administrator, whose credential is printed once.  Refuses to touch a
 * directory that already holds an instance.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "auth.h"
#include "cmd.h"
#include "config.h"
#include "custody.h"
#include "store.h"
#include "tls_selfsigned.h"
#include "util.h"

#define INIT_ADMIN_NAME_MAX 64
#define INIT_PIN_BYTES      16
#define INIT_TOKEN_NAME     "dev"
#define INIT_TOKEN_LABEL    "seald-dev"
#define INIT_TOKEN_PROFILE  "sm2-sansec"
#define INIT_CONF_MAX       (64 * 1024)

static void
init_usage(void)
{
    fprintf(stderr,
            "usage: seald init --dir DIR [--admin NAME] [--org NAME]\n"
            "  Creates a new instance in DIR (config, database, TLS "
            "certificate,\n  server secret) and prints the first "
            "administrator's credential once.\n");
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

/* Set up the development SM2 token in DIR/token (PINs in DIR/token.pin and
 * DIR/token.so-pin) and generate the audit key in it; id_hex gets its id. */
static err_code
init_devtoken(const char *dir, char id_hex[CUSTODY_ID_HEX_MAX],
              struct err *e)
{
    struct custody_token_conf conf;
    struct custody *c = NULL;
    char tokdir[PATH_MAX], sopin_path[PATH_MAX], prof[PATH_MAX];
    char *so = NULL, *pin = NULL;
    err_code rc;

    custody_conf_init(&conf);
    snprintf(conf.name, sizeof(conf.name), INIT_TOKEN_NAME);
    snprintf(conf.module, sizeof(conf.module), "%s", SEALD_DEVTOKEN_MODULE);
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
        (rc = custody_generate(c, INIT_TOKEN_NAME, "audit", NULL, 0, id_hex,
                               e)) != ERR_OK)
        goto done;
done:
    custody_close(c);
    if (so != NULL)
        util_wipe(so, strlen(so));
    if (pin != NULL)
        util_wipe(pin, strlen(pin));
    free(so);
    free(pin);
    return rc;
}

/* The instance's config: the example with the key references filled in and
 * the development token's section appended. */
static err_code
write_config(const char *path, const char *audit_id, struct err *e)
{
    const char *mark = "\naudit =\n", *at = strstr(config_example, mark);
    char *text;
    int n;
    err_code rc;

    if (at == NULL)
        return err_set(e, ERR_INTERNAL, "config example lacks keys.audit");
    if ((text = malloc(INIT_CONF_MAX)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    n = snprintf(text, INIT_CONF_MAX,
                 "%.*s\naudit = %s/%s\n%s\n"
                 "; The development SM2 token made by `seald init`.  Not for "
                 "production:\n; production instances use a certified HSM.\n"
                 "[token.%s]\nmodule = %s\nprofile = %s\ntoken_label = %s\n"
                 "pin_file = token.pin\ndevtoken_dir = token\n",
                 (int)(at - config_example), config_example, INIT_TOKEN_NAME,
                 audit_id, at + strlen(mark), INIT_TOKEN_NAME,
                 SEALD_DEVTOKEN_MODULE, INIT_TOKEN_PROFILE, INIT_TOKEN_LABEL);
    if (n < 0 || n >= INIT_CONF_MAX)
        rc = err_set(e, ERR_INTERNAL, "config too long");
    else
        rc = util_write_file(path, text, (size_t)n, 0640, e);
    free(text);
    return rc;
}

/* The root organisation, the administrator, its role and credential, and
 * the audit record of it all, in one transaction. */
static err_code
bootstrap(struct store *s, const struct auth_key *key, const char *org,
          const char *admin, char cred[AUTH_CREDENTIAL_LEN + 1],
          struct err *e)
{
    struct store_conn *c;
    struct audit_actor who = {0, NULL, "local", NULL};
    struct audit_event ev = {"instance.init", "account", NULL, AUDIT_OK,
                             NULL, NULL};
    int64_t now = util_now_ms(), org_id, acct_id;
    char idbuf[24];
    json_t *details = NULL;
    err_code rc;

    if ((rc = store_conn_get(s, &c, e)) != ERR_OK ||
        (rc = store_begin(c, e)) != ERR_OK)
        return rc;
    if ((rc = store_org_insert(c, 0, org, "region", NULL, now, &org_id, e))
        != ERR_OK ||
        (rc = store_account_insert(c, admin, "person", "First administrator",
                                   org_id, NULL, NULL, 0, now, &acct_id, e))
        != ERR_OK ||
        (rc = store_role_insert(c, acct_id, "sysadmin", org_id, 0, now, e))
        != ERR_OK ||
        (rc = auth_credential_issue(c, key, acct_id, 1,
                                    AUTH_DEFAULT_MAX_AGE_MS, cred, e))
        != ERR_OK)
        goto done;
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)acct_id);
    ev.target_id = idbuf;
    details = json_pack("{s:s, s:s, s:s}", "account", admin, "role",
                        "sysadmin", "organisation", org);
    ev.details = details;
    if ((rc = audit_append(c, &who, &ev, e)) != ERR_OK)
        goto done;
    rc = store_commit(c, e);
done:
    json_decref(details);
    if (rc != ERR_OK)
        store_rollback(c);
    return rc;
}

int
cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"admin", required_argument, NULL, 'a'},
        {"org", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *dir = NULL, *admin = "admin", *org = "Default organisation";
    char conf[PATH_MAX], db[PATH_MAX], tlsdir[PATH_MAX], cert[PATH_MAX],
         key[PATH_MAX], secret[PATH_MAX];
    char cred[AUTH_CREDENTIAL_LEN + 1] = "";
    char audit_id[CUSTODY_ID_HEX_MAX] = "";
    struct auth_key *ak = NULL;
    struct store *s = NULL;
    struct err e;
    int ch, status = CMD_EXIT_FAIL;

    err_clear(&e);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:a:o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': dir = optarg; break;
        case 'a': admin = optarg; break;
        case 'o': org = optarg; break;
        case 'h': init_usage(); return CMD_EXIT_OK;
        default: init_usage(); return CMD_EXIT_USAGE;
        }
    }
    if (dir == NULL || optind != argc || strlen(admin) == 0 ||
        strlen(admin) > INIT_ADMIN_NAME_MAX || strlen(org) > 200) {
        init_usage();
        return CMD_EXIT_USAGE;
    }
    if (!path_in(conf, sizeof(conf), dir, "seald.conf") ||
        !path_in(db, sizeof(db), dir, "seald.db") ||
        !path_in(tlsdir, sizeof(tlsdir), dir, "tls") ||
        !path_in(cert, sizeof(cert), dir, "tls/server.crt") ||
        !path_in(key, sizeof(key), dir, "tls/server.key") ||
        !path_in(secret, sizeof(secret), dir, "secret.key")) {
        fprintf(stderr, "seald init: %s: path too long\n", dir);
        return CMD_EXIT_USAGE;
    }
    if (access(conf, F_OK) == 0 || access(db, F_OK) == 0 ||
        access(secret, F_OK) == 0) {
        fprintf(stderr, "seald init: %s already holds an instance; "
                "refusing to overwrite it\n", dir);
        return CMD_EXIT_FAIL;
    }
    if (make_dir(dir, &e) != ERR_OK || make_dir(tlsdir, &e) != ERR_OK ||
        auth_key_create(secret, &e) != ERR_OK ||
        auth_key_load(secret, &ak, &e) != ERR_OK ||
        tls_selfsigned_write(cert, key, &e) != ERR_OK ||
        init_devtoken(dir, audit_id, &e) != ERR_OK ||
        store_open(db, 5000, 1, &s, &e) != ERR_OK ||
        store_migrate(s, NULL, &e) != ERR_OK ||
        bootstrap(s, ak, org, admin, cred, &e) != ERR_OK ||
        write_config(conf, audit_id, &e) != ERR_OK)
        goto done;

    printf("seald: new instance in %s\n"
           "  config:      %s\n"
           "  database:    %s\n"
           "  TLS cert:    %s (self-signed, for localhost)\n"
           "  token:       %s/token (development SM2 token; audit key %s)\n"
           "  admin:       %s (role sysadmin)\n"
           "  credential:  %s\n"
           "This credential is shown once and stored only as a keyed hash. "
           "Keep it safe.\n", dir, conf, db, cert, dir, audit_id, admin, cred);
    fflush(stdout);
    status = CMD_EXIT_OK;
done:
    if (status != CMD_EXIT_OK)
        fprintf(stderr, "seald init: %s\n", e.msg);
    util_wipe(cred, sizeof(cred));
    store_close(s);
    auth_key_free(ak);
    return status;
}
