/*
 * cmd_audit.c - the offline audit and backup commands (cmd_audit.h): verify
 * the chain of a database file (optionally against exported checkpoints: a
 * file and the sink), force and export a checkpoint, export entries as
 * JSON lines or CSV, take an online backup while the daemon serves, and
 * restore a backup only if its audit chain verifies.  Verification trusts
 * only what is outside the database: the audit public key file and the
 * configuration (cmd_audit_load_trust), never a key a checkpoint carries.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "csv.h"
#include "cmd.h"
#include "cmd_audit.h"
#include "config.h"
#include "custody.h"
#include "store.h"
#include "util.h"
#include "store_audit.h"

#define CMD_AUDIT_CP_MAX     (64 * 1024)   /* exported checkpoint file */
#define CMD_AUDIT_EXPORT_MAX 1000000       /* rows per export run      */
#define CMD_AUDIT_KEY_DEFAULT "audit-key.pem" /* beside the database      */

/* Print a JSON value to stdout (indented). */
static void
print_json(json_t *j)
{
    if (j != NULL) {
        json_dumpf(j, stdout, JSON_INDENT(2));
        putchar('\n');
    }
}

/* Load an exported checkpoint file. */
static err_code
load_checkpoint(const char *path, struct store_audit_checkpoint *cp,
                struct err *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    json_t *j = NULL, *d;
    json_error_t je;
    err_code rc;

    if ((rc = util_read_file(path, CMD_AUDIT_CP_MAX, &buf, &len, e))
        != ERR_OK)
        return rc;
    if ((j = json_loadb((const char *)buf, len, 0, &je)) == NULL) {
        rc = err_set(e, ERR_INVALID, "%s: %s", path, je.text);
        goto done;
    }
    /* accept the API's envelope {"data": {...}} as well */
    d = json_object_get(j, "data");
    rc = audit_checkpoint_parse(d ? d : j, cp, e);
done:
    json_decref(j);
    free(buf);
    return rc;
}

/* Contract: cmd_audit.h. */
err_code
cmd_audit_verify(struct store_conn *c, const struct cmd_audit_trust *t,
                 const struct store_audit_checkpoint *exported,
                 struct audit_verify_report *r, struct err *e)
{
    struct audit_verify_opts o;

    memset(&o, 0, sizeof(o));
    o.pinned_key = t->key;
    o.pinned_key_len = t->key_len;
    o.exported = exported;
    o.nexported = exported != NULL;
    o.sink_file = t->sink_file;
    o.every = t->every;
    o.seconds = t->seconds;
    o.prechain = t->prechain;
    return audit_verify(c, &o, r, e);
}

/* Verify the chain of the database file at path against t (and an
 * exported checkpoint, or NULL); print the report.  *ok gets the
 * result. */
static err_code
verify_file(const char *path, const char *password_file,
            const struct cmd_audit_trust *t,
            const struct store_audit_checkpoint *exported, int *ok,
            struct err *e)
{
    struct audit_verify_report r;
    struct store *s = NULL;
    struct store_conn *c = NULL;
    json_t *j;
    err_code rc;

    *ok = 0;
    if ((rc = store_open_readonly(path, password_file, &s, &c, e)) != ERR_OK)
        return rc;
    if ((rc = cmd_audit_verify(c, t, exported, &r, e)) == ERR_OK) {
        j = audit_verify_json(&r);
        print_json(j);
        json_decref(j);
        *ok = r.ok;
    }
    store_close(s);
    return rc;
}

/* Load the configuration file (as `seald run` does, without overrides). */
static err_code
load_config(const char *path, struct config *cfg, struct err *e)
{
    err_code rc;

    config_defaults(cfg);
    if ((rc = config_load(cfg, path, e)) != ERR_OK)
        return rc;
    return config_validate(cfg, e);
}

/* --config FILE, if given, into *out (calloc'ed; the caller frees it);
 * *out NULL without --config. */
static err_code
maybe_config(const char *path, struct config **out, struct err *e)
{
    err_code rc;

    *out = NULL;
    if (path == NULL)
        return ERR_OK;
    if ((*out = calloc(1, sizeof(**out))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = load_config(path, *out, e)) != ERR_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* Contract: cmd_audit.h. */
err_code
cmd_audit_load_trust(const char *audit_key, const struct config *cfg,
                     const char *instance_db, const char *sink_file,
                     struct cmd_audit_trust *t, struct err *e)
{
    char path[PATH_MAX];
    const char *slash = strrchr(instance_db, '/');
    int n;

    memset(t, 0, sizeof(*t));
    t->every = cfg ? cfg->audit_checkpoint_every
                   : AUDIT_CHECKPOINT_EVERY_DEFAULT;
    t->seconds = cfg ? cfg->audit_checkpoint_seconds
                     : AUDIT_CHECKPOINT_SECONDS_DEFAULT;
    t->prechain = cfg ? cfg->audit_prechain_entries : 0;
    t->sink_file = sink_file;
    if (audit_key != NULL)
        n = snprintf(path, sizeof(path), "%s", audit_key);
    else if (cfg != NULL)
        n = snprintf(path, sizeof(path), "%s", cfg->audit_public_key);
    else if (slash != NULL)
        n = snprintf(path, sizeof(path), "%.*s/%s",
                     (int)(slash - instance_db), instance_db,
                     CMD_AUDIT_KEY_DEFAULT);
    else
        n = snprintf(path, sizeof(path), "%s", CMD_AUDIT_KEY_DEFAULT);
    if (n < 0 || (size_t)n >= sizeof(path))
        return err_set(e, ERR_INVALID, "audit key path too long");
    if (path[0] == '\0' || access(path, F_OK) != 0)
        return err_set(e, ERR_CONFIG, "no trusted audit key: '%s' does not "
                       "exist (give --audit-key FILE or --config FILE)",
                       path);
    return audit_trusted_key_load(path, t->key, &t->key_len, e);
}

/* Open the configured tokens (the dev token finds its keys through the
 * environment, as in cmd_run.c). */
static err_code
open_tokens(const struct config *cfg, struct custody **out, struct err *e)
{
    struct custody_token_conf confs[CONFIG_MAX_TOKENS];
    size_t i;

    *out = NULL;
    for (i = 0; i < cfg->ntokens; i++) {
        confs[i] = cfg->tokens[i].c;
        if (cfg->tokens[i].devtoken_dir[0] != '\0')
            setenv("SEALD_DEVTOKEN_DIR", cfg->tokens[i].devtoken_dir, 1);
    }
    if (cfg->ntokens == 0)
        return err_set(e, ERR_CONFIG, "no token configured");
    return custody_open(confs, cfg->ntokens, out, e);
}

/* Usage of `seald audit` on stderr. */
static void
audit_usage(FILE *f)
{
    fprintf(f,
            "usage: seald audit verify (--db FILE | --config FILE) "
            "[--audit-key FILE]\n"
            "                          [--checkpoint FILE] "
            "[--sink-file FILE]\n"
            "       seald audit checkpoint --config FILE [--out FILE]\n"
            "       seald audit export --db FILE [--format jsonl|csv] "
            "[--after N]\n"
            "  verify exits 0 when the chain verifies, 1 when it does "
            "not.  Checkpoints\n  must be signed by the trusted audit key: "
            "--audit-key, else audit.public_key\n  of --config, else "
            "audit-key.pem beside the database.\n");
}

struct cli_opts {
    const char *db, *config, *checkpoint, *out, *format, *backup;
    const char *audit_key, *sink_file;
    long        after;
    int         force;
};

/* Parse the options every audit/backup command shares. */
static int
parse_opts(int argc, char **argv, struct cli_opts *o)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"checkpoint", required_argument, NULL, 'k'},
        {"out", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"after", required_argument, NULL, 'a'},
        {"backup", required_argument, NULL, 'b'},
        {"force", no_argument, NULL, 'F'},
        {"audit-key", required_argument, NULL, 'K'},
        {"sink-file", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;

    memset(o, 0, sizeof(*o));
    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:c:k:o:f:a:b:FK:S:h", opts, NULL))
           != -1) {
        switch (ch) {
        case 'd': o->db = optarg; break;
        case 'c': o->config = optarg; break;
        case 'k': o->checkpoint = optarg; break;
        case 'o': o->out = optarg; break;
        case 'f': o->format = optarg; break;
        case 'b': o->backup = optarg; break;
        case 'F': o->force = 1; break;
        case 'K': o->audit_key = optarg; break;
        case 'S': o->sink_file = optarg; break;
        case 'a':
            if (util_parse_long(optarg, 0, LONG_MAX, &o->after, NULL)
                != ERR_OK)
                return -1;
            break;
        default: return -1;
        }
    }
    return optind == argc ? 0 : -1;
}

/* `seald audit verify`: exit 0 if the chain verifies, 1 if not. */
static int
do_verify(const struct cli_opts *o)
{
    struct store_audit_checkpoint cp;
    struct config *cfg = NULL;
    struct cmd_audit_trust t;
    struct err e;
    int ok = 0;

    err_clear(&e);
    if (o->db == NULL && o->config == NULL) {
        audit_usage(stderr);
        return CMD_EXIT_USAGE;
    }
    /* Without --db, the configuration's database (a file or a server). */
    if (maybe_config(o->config, &cfg, &e) != ERR_OK ||
        cmd_audit_load_trust(o->audit_key, cfg, o->db ? o->db : cfg->db_url,
                   o->sink_file, &t, &e) != ERR_OK ||
        (o->checkpoint != NULL &&
         load_checkpoint(o->checkpoint, &cp, &e) != ERR_OK) ||
        verify_file(o->db ? o->db : cfg->db_url,
                    o->db ? NULL : cfg->db_password_file, &t,
                    o->checkpoint ? &cp : NULL, &ok, &e) != ERR_OK) {
        fprintf(stderr, "seald audit verify: %s\n", e.msg);
        free(cfg);
        return CMD_EXIT_FAIL;
    }
    free(cfg);
    if (!ok)
        fprintf(stderr, "seald audit verify: the audit chain does NOT "
                "verify\n");
    return ok ? CMD_EXIT_OK : CMD_EXIT_FAIL;
}

/* `seald audit checkpoint`: sign the head through the configured token,
 * print the exported form (and write it to --out). */
static int
do_checkpoint(const struct cli_opts *o)
{
    struct config *cfg = NULL;
    struct custody *cust = NULL;
    struct store *s = NULL;
    struct store_conn *c = NULL;
    struct store_audit_checkpoint cp;
    struct audit_actor who = {.role = "operator", .client_addr = "local"};
    struct audit_sink sink = {NULL, NULL};
    json_t *j = NULL;
    char *text = NULL;
    struct err e;
    int status = CMD_EXIT_FAIL;

    err_clear(&e);
    if (o->config == NULL) {
        audit_usage(stderr);
        return CMD_EXIT_USAGE;
    }
    if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
        err_set(&e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (load_config(o->config, cfg, &e) != ERR_OK) {
        status = CMD_EXIT_CONFIG;
        goto done;
    }
    sink.file = cfg->audit_sink_file;
    sink.syslog = cfg->audit_sink_syslog;
    if (open_tokens(cfg, &cust, &e) != ERR_OK ||
        store_open(cfg->db_url, cfg->db_password_file,
                   cfg->db_busy_timeout_ms, 0, &s, &e)
        != ERR_OK ||
        store_conn_get(s, &c, &e) != ERR_OK ||
        audit_checkpoint(c, cust, cfg->audit_key, &sink, &who, &cp, &e)
        != ERR_OK)
        goto done;
    if ((j = audit_checkpoint_json(&cp)) == NULL ||
        (text = json_dumps(j, JSON_INDENT(2))) == NULL) {
        err_set(&e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (o->out != NULL &&
        util_write_file(o->out, text, strlen(text), 0600, &e) != ERR_OK)
        goto done;
    printf("%s\n", text);
    status = CMD_EXIT_OK;
done:
    if (status != CMD_EXIT_OK)
        fprintf(stderr, "seald audit checkpoint: %s\n", e.msg);
    free(text);
    json_decref(j);
    store_close(s);
    custody_close(cust);
    free(cfg);
    return status;
}

struct export_ctx {
    int         csv;
    struct csv  out;            /* one row at a time */
    struct err *e;
};

/* store_audit_query callback: print one entry as a JSON or CSV line. */
static err_code
export_row(void *ctx, const struct store_audit_entry *en)
{
    struct export_ctx *x = ctx;
    json_t *j;
    err_code rc;

    if (x->csv) {
        csv_clear(&x->out);
        if ((rc = audit_entry_csv(en, &x->out, x->e)) != ERR_OK)
            return rc;
        fwrite(x->out.buf, 1, x->out.len, stdout);
        return ERR_OK;
    }
    if ((j = audit_entry_json(en)) == NULL)
        return err_set(x->e, ERR_NOMEM, "out of memory");
    json_dumpf(j, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(j);
    return ERR_OK;
}

/* `seald audit export`: every entry after --after, to stdout. */
static int
do_export(const struct cli_opts *o)
{
    struct store_audit_filter f;
    struct export_ctx x;
    struct store *s = NULL;
    struct store_conn *c = NULL;
    struct err e;
    int status = CMD_EXIT_FAIL;

    err_clear(&e);
    memset(&x, 0, sizeof(x));
    csv_init(&x.out, 0);
    x.e = &e;
    if (o->db == NULL || (o->format != NULL && strcmp(o->format, "csv") &&
                          strcmp(o->format, "jsonl"))) {
        audit_usage(stderr);
        return CMD_EXIT_USAGE;
    }
    x.csv = o->format != NULL && strcmp(o->format, "csv") == 0;
    memset(&f, 0, sizeof(f));
    f.after = o->after;
    f.limit = CMD_AUDIT_EXPORT_MAX;
    if (store_open_readonly(o->db, NULL, &s, &c, &e) != ERR_OK)
        goto done;
    if (x.csv && audit_entry_csv(NULL, &x.out, &e) == ERR_OK)
        fwrite(x.out.buf, 1, x.out.len, stdout);
    if (store_audit_query(c, &f, export_row, &x, &e) != ERR_OK)
        goto done;
    status = CMD_EXIT_OK;
done:
    if (status != CMD_EXIT_OK)
        fprintf(stderr, "seald audit export: %s\n", e.msg);
    csv_free(&x.out);
    store_close(s);
    return status;
}

int
cmd_audit(int argc, char **argv)
{
    struct cli_opts o;
    const char *sub;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        audit_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CMD_EXIT_USAGE : CMD_EXIT_OK;
    }
    sub = argv[1];
    if (parse_opts(argc - 1, argv + 1, &o) != 0) {
        audit_usage(stderr);
        return CMD_EXIT_USAGE;
    }
    if (!strcmp(sub, "verify"))
        return do_verify(&o);
    if (!strcmp(sub, "checkpoint"))
        return do_checkpoint(&o);
    if (!strcmp(sub, "export"))
        return do_export(&o);
    audit_usage(stderr);
    return CMD_EXIT_USAGE;
}

int
cmd_backup(int argc, char **argv)
{
    struct cli_opts o;
    struct config *cfg = NULL;
    struct store *s = NULL;
    struct store_conn *c = NULL;
    struct cmd_audit_trust t;
    const char *db, *pwfile = NULL;
    struct err e;
    int ok = 0, status = CMD_EXIT_FAIL, help;

    err_clear(&e);
    help = argc == 2 &&
           (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    if (help || parse_opts(argc, argv, &o) != 0 || o.out == NULL ||
        (o.db == NULL) == (o.config == NULL)) {
        fprintf(help ? stdout : stderr, "usage: seald backup (--config FILE | --db FILE) "
                "--out FILE [--audit-key FILE]\n  Copies the live database "
                "(the daemon may run) and verifies the copy's audit chain.\n");
        return help ? CMD_EXIT_OK : CMD_EXIT_USAGE;
    }
    db = o.db;
    if (o.config != NULL) {
        if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
            err_set(&e, ERR_NOMEM, "out of memory");
            goto done;
        }
        if (load_config(o.config, cfg, &e) != ERR_OK) {
            status = CMD_EXIT_CONFIG;
            goto done;
        }
        db = cfg->db_url;
        pwfile = cfg->db_password_file;
    }
    if (access(o.out, F_OK) == 0) {
        err_set(&e, ERR_CONFLICT, "%s exists; refusing to overwrite", o.out);
        goto done;
    }
    if (cmd_audit_load_trust(o.audit_key, cfg, db, NULL, &t, &e) != ERR_OK ||
        store_open(db, pwfile, 5000, 0, &s, &e) != ERR_OK ||
        store_conn_get(s, &c, &e) != ERR_OK ||
        store_backup(c, o.out, &e) != ERR_OK ||
        verify_file(o.out, NULL, &t, NULL, &ok, &e) != ERR_OK)
        goto done;
    if (!ok) {
        err_set(&e, ERR_CONFLICT, "the backup %s was written but its audit "
                "chain does not verify", o.out);
        goto done;
    }
    status = CMD_EXIT_OK;
done:
    if (status != CMD_EXIT_OK)
        fprintf(stderr, "seald backup: %s\n", e.msg);
    store_close(s);
    free(cfg);
    return status;
}

/* Remove path + suffix if it exists. */
static err_code
unlink_suffix(const char *path, const char *suffix, struct err *e)
{
    char p[PATH_MAX];

    if ((size_t)snprintf(p, sizeof(p), "%s%s", path, suffix) >= sizeof(p))
        return err_set(e, ERR_IO, "path too long");
    if (unlink(p) != 0 && errno != ENOENT)
        return err_set(e, ERR_IO, "%s: %s", p, strerror(errno));
    return ERR_OK;
}

int
cmd_restore(int argc, char **argv)
{
    struct cli_opts o;
    struct store_audit_checkpoint cp;
    struct config *cfg = NULL;
    struct cmd_audit_trust t;
    struct err e;
    int ok = 0, status = CMD_EXIT_FAIL, help;

    err_clear(&e);
    help = argc == 2 &&
           (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    if (help || parse_opts(argc, argv, &o) != 0 || o.backup == NULL ||
        o.db == NULL) {
        fprintf(help ? stdout : stderr, "usage: seald restore --backup FILE --db FILE "
                "[--config FILE] [--audit-key FILE]\n"
                "                     [--checkpoint FILE] [--sink-file FILE] "
                "[--force]\n  Stop the daemon first.  Refuses a backup that "
                "`seald audit verify` with the\n  same options refuses; the "
                "trusted audit key is that of the instance\n  restored into "
                "(--audit-key, --config, or audit-key.pem beside --db).\n"
                "  --force replaces an existing database.\n");
        return help ? CMD_EXIT_OK : CMD_EXIT_USAGE;
    }
    /* The trust is the target instance's: whatever the backup holds is
     * what is being checked. */
    if (maybe_config(o.config, &cfg, &e) != ERR_OK ||
        cmd_audit_load_trust(o.audit_key, cfg, o.db, o.sink_file, &t, &e)
        != ERR_OK)
        goto done;
    if (o.checkpoint != NULL &&
        load_checkpoint(o.checkpoint, &cp, &e) != ERR_OK)
        goto done;
    if (verify_file(o.backup, NULL, &t, o.checkpoint ? &cp : NULL, &ok, &e)
        != ERR_OK)
        goto done;
    if (!ok) {
        err_set(&e, ERR_CONFLICT, "refusing: the audit chain of %s does not "
                "verify", o.backup);
        goto done;
    }
    if (access(o.db, F_OK) == 0 && !o.force) {
        err_set(&e, ERR_CONFLICT, "%s exists; stop the daemon and add "
                "--force to replace it", o.db);
        goto done;
    }
    /* A stale WAL of the old database must not be replayed onto the
     * restored one. */
    if (unlink_suffix(o.db, "-wal", &e) != ERR_OK ||
        unlink_suffix(o.db, "-shm", &e) != ERR_OK ||
        store_copy_file(o.backup, o.db, &e) != ERR_OK)
        goto done;
    fprintf(stderr, "seald restore: %s restored into %s\n", o.backup, o.db);
    status = CMD_EXIT_OK;
done:
    if (status != CMD_EXIT_OK)
        fprintf(stderr, "seald restore: %s\n", e.msg);
    free(cfg);
    return status;
}
