/*
 * cmd_audit.c - the offline audit and backup commands (cmd_audit.h): verify
 * the chain of a database file (optionally against an exported
 * checkpoint), force and export a checkpoint, export entries as JSON lines
 * or CSV, take an online backup while the daemon serves, and restore a
 * backup only if its audit chain verifies.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "cmd.h"
#include "cmd_audit.h"
#include "config.h"
#include "custody.h"
#include "store.h"
#include "util.h"

#define CMD_AUDIT_CP_MAX     (64 * 1024)   /* exported checkpoint file */
#define CMD_AUDIT_EXPORT_MAX 1000000       /* rows per export run      */

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

/* Verify the chain of the database file at path; print the report.
 * *ok gets the result. */
static err_code
verify_file(const char *path, const struct store_audit_checkpoint *exported,
            int *ok, struct err *e)
{
    struct audit_verify_opts o = {NULL, 0, exported};
    struct audit_verify_report r;
    struct store *s = NULL;
    struct store_conn *c = NULL;
    json_t *j;
    err_code rc;

    *ok = 0;
    if ((rc = store_open_readonly(path, &s, &c, e)) != ERR_OK)
        return rc;
    if ((rc = audit_verify(c, &o, &r, e)) == ERR_OK) {
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
audit_usage(void)
{
    fprintf(stderr,
            "usage: seald audit verify --db FILE [--checkpoint FILE]\n"
            "       seald audit checkpoint --config FILE [--out FILE]\n"
            "       seald audit export --db FILE [--format jsonl|csv] "
            "[--after N]\n"
            "  verify exits 0 when the chain verifies, 1 when it does "
            "not.\n");
}

struct cli_opts {
    const char *db, *config, *checkpoint, *out, *format, *backup;
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;

    memset(o, 0, sizeof(*o));
    optind = 1;
    while ((ch = getopt_long(argc, argv, "d:c:k:o:f:a:b:Fh", opts, NULL))
           != -1) {
        switch (ch) {
        case 'd': o->db = optarg; break;
        case 'c': o->config = optarg; break;
        case 'k': o->checkpoint = optarg; break;
        case 'o': o->out = optarg; break;
        case 'f': o->format = optarg; break;
        case 'b': o->backup = optarg; break;
        case 'F': o->force = 1; break;
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
    struct err e;
    int ok = 0;

    err_clear(&e);
    if (o->db == NULL) {
        audit_usage();
        return CMD_EXIT_USAGE;
    }
    if ((o->checkpoint != NULL &&
         load_checkpoint(o->checkpoint, &cp, &e) != ERR_OK) ||
        verify_file(o->db, o->checkpoint ? &cp : NULL, &ok, &e) != ERR_OK) {
        fprintf(stderr, "seald audit verify: %s\n", e.msg);
        return CMD_EXIT_FAIL;
    }
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
    json_t *j = NULL;
    char *text = NULL;
    struct err e;
    int status = CMD_EXIT_FAIL;

    err_clear(&e);
    if (o->config == NULL) {
        audit_usage();
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
    if (open_tokens(cfg, &cust, &e) != ERR_OK ||
        store_open(cfg->db_path, cfg->db_busy_timeout_ms, 0, &s, &e)
        != ERR_OK ||
        store_conn_get(s, &c, &e) != ERR_OK ||
        audit_checkpoint(c, cust, cfg->audit_key, &who, &cp, &e) != ERR_OK)
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
    char       *buf;
    size_t      len, cap;
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
        x->len = 0;
        if ((rc = audit_entry_csv(en, &x->buf, &x->len, &x->cap, x->e))
            != ERR_OK)
            return rc;
        fwrite(x->buf, 1, x->len, stdout);
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
    x.e = &e;
    if (o->db == NULL || (o->format != NULL && strcmp(o->format, "csv") &&
                          strcmp(o->format, "jsonl"))) {
        audit_usage();
        return CMD_EXIT_USAGE;
    }
    x.csv = o->format != NULL && strcmp(o->format, "csv") == 0;
    memset(&f, 0, sizeof(f));
    f.after = o->after;
    f.limit = CMD_AUDIT_EXPORT_MAX;
    if (store_open_readonly(o->db, &s, &c, &e) != ERR_OK)
        goto done;
    if (x.csv && audit_entry_csv(NULL, &x.buf, &x.len, &x.cap, &e) == ERR_OK)
        fwrite(x.buf, 1, x.len, stdout);
    if (store_audit_query(c, &f, export_row, &x, &e) != ERR_OK)
        goto done;
    status = CMD_EXIT_OK;
done:
    if (status != CMD_EXIT_OK)
        fprintf(stderr, "seald audit export: %s\n", e.msg);
    free(x.buf);
    store_close(s);
    return status;
}

int
cmd_audit(int argc, char **argv)
{
    struct cli_opts o;
    const char *sub;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        audit_usage();
        return argc < 2 ? CMD_EXIT_USAGE : CMD_EXIT_OK;
    }
    sub = argv[1];
    if (parse_opts(argc - 1, argv + 1, &o) != 0) {
        audit_usage();
        return CMD_EXIT_USAGE;
    }
    if (!strcmp(sub, "verify"))
        return do_verify(&o);
    if (!strcmp(sub, "checkpoint"))
        return do_checkpoint(&o);
    if (!strcmp(sub, "export"))
        return do_export(&o);
    audit_usage();
    return CMD_EXIT_USAGE;
}

int
cmd_backup(int argc, char **argv)
{
    struct cli_opts o;
    struct config *cfg = NULL;
    struct store *s = NULL;
    struct store_conn *c = NULL;
    const char *db;
    struct err e;
    int ok = 0, status = CMD_EXIT_FAIL;

    err_clear(&e);
    if (parse_opts(argc, argv, &o) != 0 || o.out == NULL ||
        (o.db == NULL) == (o.config == NULL)) {
        fprintf(stderr, "usage: seald backup (--config FILE | --db FILE) "
                "--out FILE\n  Copies the live database (the daemon may "
                "run) and verifies the copy's audit chain.\n");
        return CMD_EXIT_USAGE;
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
        db = cfg->db_path;
    }
    if (access(o.out, F_OK) == 0) {
        err_set(&e, ERR_CONFLICT, "%s exists; refusing to overwrite", o.out);
        goto done;
    }
    if (store_open(db, 5000, 0, &s, &e) != ERR_OK ||
        store_conn_get(s, &c, &e) != ERR_OK ||
        store_backup(c, o.out, &e) != ERR_OK ||
        verify_file(o.out, NULL, &ok, &e) != ERR_OK)
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
    struct err e;
    int ok = 0, status = CMD_EXIT_FAIL;

    err_clear(&e);
    if (parse_opts(argc, argv, &o) != 0 || o.backup == NULL || o.db == NULL) {
        fprintf(stderr, "usage: seald restore --backup FILE --db FILE "
                "[--checkpoint FILE] [--force]\n  Stop the daemon first.  "
                "Refuses a backup whose audit chain does not verify;\n  "
                "--force replaces an existing database.\n");
        return CMD_EXIT_USAGE;
    }
    if (o.checkpoint != NULL &&
        load_checkpoint(o.checkpoint, &cp, &e) != ERR_OK)
        goto done;
    if (verify_file(o.backup, o.checkpoint ? &cp : NULL, &ok, &e) != ERR_OK)
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
    return status;
}
