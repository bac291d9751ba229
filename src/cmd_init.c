/*
 * cmd_init.c - `seald init --dir DIR`: create an instance: config file,
 * server secret, TLS certificate, database with schema, the root
 * organisation and the first administrator, whose credential is printed
 * once.  Refuses to touch a directory that already holds an instance.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "auth.h"
#include "cmd.h"
#include "config.h"
#include "store.h"
#include "tls_selfsigned.h"
#include "util.h"

#define INIT_ADMIN_NAME_MAX 64

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
                                   org_id, now, &acct_id, e)) != ERR_OK ||
        (rc = store_role_insert(c, acct_id, "sysadmin", org_id, now, e))
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
        store_open(db, 5000, 1, &s, &e) != ERR_OK ||
        store_migrate(s, NULL, &e) != ERR_OK ||
        bootstrap(s, ak, org, admin, cred, &e) != ERR_OK ||
        util_write_file(conf, config_example, strlen(config_example), 0640,
                        &e) != ERR_OK)
        goto done;

    printf("seald: new instance in %s\n"
           "  config:      %s\n"
           "  database:    %s\n"
           "  TLS cert:    %s (self-signed, for localhost)\n"
           "  admin:       %s (role sysadmin)\n"
           "  credential:  %s\n"
           "This credential is shown once and stored only as a keyed hash. "
           "Keep it safe.\n", dir, conf, db, cert, admin, cred);
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
