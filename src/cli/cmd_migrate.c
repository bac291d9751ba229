/*
 * cmd_migrate.c - `seald migrate`: copy a whole instance's database into
 * an empty one, typically from SQLite to PostgreSQL (cmd_migrate.h).
 *
 * The order is what makes the copy safe: the source's audit chain must
 * verify (cmd_audit_verify, the check of `seald audit verify`, against the
 * trusted key from outside the database) and its schema must be this
 * build's newest; the target must hold no seald schema at all
 * (store_schema_probe); the target's own migrations then make the schema,
 * and the rows are copied (store_copy_rows) in one transaction that also
 * verifies the copied chain and compares its length and head with the
 * source's before it commits, so any failure leaves the target with no
 * row.  After the commit the copy is verified once more from a fresh
 * read-only connection, as `seald audit verify` would see it.  Locations
 * are never printed: a PostgreSQL URL may name more than it should.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cmd.h"
#include "cmd_audit.h"
#include "cmd_migrate.h"
#include "config.h"
#include "store.h"
#include "store_copy.h"
#include "util.h"

/* What the command was asked. */
struct migrate_opts {
    const char *from, *to, *from_pw, *to_pw, *audit_key, *config;
    int         tables;
};

/* The copy's transaction: the rows, then the chain verified on the
 * target before it commits. */
struct migrate_work {
    struct store_conn                 *from;
    const struct cmd_audit_trust      *trust;
    const struct audit_verify_report  *source;
    int64_t                            rows[STORE_COPY_TABLES];
};

static void
migrate_usage(FILE *f)
{
    fprintf(f,
            "usage: seald migrate --from SRC --to DST [--audit-key FILE]\n"
            "                     [--config FILE] [--from-password-file FILE]"
            "\n                     [--to-password-file FILE]\n"
            "       seald migrate --tables\n"
            "  Copies a whole instance's database into an empty one: SRC "
            "and DST are each\n  sqlite:PATH, a file path or a "
            "postgresql:// URL.  Stop the daemon on SRC\n  first.\n"
            "  The source's audit chain must verify against the trusted "
            "audit key\n  (--audit-key, else audit.public_key of --config, "
            "the source instance's\n  seald.conf, which also gives the "
            "checkpoint interval, else audit-key.pem\n  beside a SQLite "
            "source) and its schema be this seald's newest; DST must\n"
            "  hold no seald schema.  The copy is one transaction, verified "
            "(same chain\n  length and head) before it commits.\n"
            "  --tables prints the tables and columns the copy covers.\n");
}

/* Parse argv into *o: 0, 1 for --help, -1 for a usage error. */
static int
parse_opts(int argc, char **argv, struct migrate_opts *o)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"from-password-file", required_argument, NULL, 'F'},
        {"to-password-file", required_argument, NULL, 'T'},
        {"audit-key", required_argument, NULL, 'K'},
        {"config", required_argument, NULL, 'c'},
        {"tables", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;

    memset(o, 0, sizeof(*o));
    optind = 1;
    while ((ch = getopt_long(argc, argv, "f:t:F:T:K:c:Lh", opts, NULL)) != -1) {
        switch (ch) {
        case 'f': o->from = optarg; break;
        case 't': o->to = optarg; break;
        case 'F': o->from_pw = optarg; break;
        case 'T': o->to_pw = optarg; break;
        case 'K': o->audit_key = optarg; break;
        case 'c': o->config = optarg; break;
        case 'L': o->tables = 1; break;
        case 'h': return 1;
        default: return -1;
        }
    }
    if (optind != argc)
        return -1;
    if (o->tables)
        return o->from == NULL && o->to == NULL ? 0 : -1;
    return o->from != NULL && o->to != NULL ? 0 : -1;
}

static int
is_pg(const char *location)
{
    return strncmp(location, "postgresql://", 13) == 0 ||
           strncmp(location, "postgres://", 11) == 0;
}

/* The source instance's configuration (--config FILE) into *out, calloc'ed
 * (the caller frees); *out NULL without --config. */
static err_code
load_config(const char *path, struct config **out, struct err *e)
{
    err_code rc;

    *out = NULL;
    if (path == NULL)
        return ERR_OK;
    if ((*out = calloc(1, sizeof(**out))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    config_defaults(*out);
    if ((rc = config_load(*out, path, e)) != ERR_OK ||
        (rc = config_validate(*out, e)) != ERR_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* `seald migrate --tables`: each table the copy covers, then its columns,
 * one table a line. */
static int
print_tables(void)
{
    char cols[STORE_COPY_COLS_MAX];
    const char *name;
    struct err e;
    size_t i;

    err_clear(&e);
    if (store_copy_check(&e) != ERR_OK) {
        fprintf(stderr, "seald migrate: %s\n", e.msg);
        return CMD_EXIT_FAIL;
    }
    for (i = 0; i < STORE_COPY_TABLES; i++) {
        if (store_copy_table(i, &name, cols, sizeof(cols), &e) != ERR_OK) {
            fprintf(stderr, "seald migrate: %s\n", e.msg);
            return CMD_EXIT_FAIL;
        }
        printf("%s %s\n", name, cols);
    }
    return CMD_EXIT_OK;
}

/* ERR_CONFLICT unless the chain r describes verified, and, when want is
 * not NULL, ends where want's does (same length, same head). */
static err_code
chain_matches(const struct audit_verify_report *r,
              const struct audit_verify_report *want, const char *which,
              struct err *e)
{
    if (!r->ok)
        return err_set(e, ERR_CONFLICT, "the audit chain of the %s does not "
                       "verify (entry %lld: %s)", which,
                       (long long)r->bad_seq, r->reason);
    if (want != NULL &&
        (r->entries != want->entries || r->head_seq != want->head_seq ||
         memcmp(r->head_hash, want->head_hash, AUDIT_HASH_LEN) != 0))
        return err_set(e, ERR_CONFLICT, "the audit chain of the %s differs "
                       "from the source's (%lld entries, head %lld; the "
                       "source has %lld, head %lld)", which,
                       (long long)r->entries, (long long)r->head_seq,
                       (long long)want->entries, (long long)want->head_seq);
    return ERR_OK;
}

/* store_run work: copy, then verify the copy in the same transaction. */
static err_code
copy_work(struct store_conn *to, void *ctx, struct err *e)
{
    struct migrate_work *w = ctx;
    struct audit_verify_report r;
    err_code rc;

    if ((rc = store_copy_rows(w->from, to, w->rows, e)) != ERR_OK ||
        (rc = cmd_audit_verify(to, w->trust, NULL, &r, e)) != ERR_OK)
        return rc;
    return chain_matches(&r, w->source, "copy", e);
}

/* The source: opened read-only, at this build's newest schema, its chain
 * verified against t into *r. */
static err_code
open_source(const struct migrate_opts *o, const struct cmd_audit_trust *t,
            struct store **s, struct store_conn **c,
            struct audit_verify_report *r, struct err *e)
{
    int version = 0;
    err_code rc;

    if ((rc = store_open_readonly(o->from, o->from_pw, s, c, e)) != ERR_OK ||
        (rc = store_schema_version(*c, &version, e)) != ERR_OK)
        return err_wrap(e, rc, "the source");
    if (version != store_schema_latest(*c))
        return err_set(e, ERR_CONFLICT, "the source is at schema version %d, "
                       "this seald's is %d: run this seald's daemon on the "
                       "source once (it migrates at start), or upgrade the "
                       "source's seald, then migrate", version,
                       store_schema_latest(*c));
    if ((rc = cmd_audit_verify(*c, t, NULL, r, e)) != ERR_OK)
        return err_wrap(e, rc, "the source");
    if ((rc = chain_matches(r, NULL, "source", e)) != ERR_OK)
        return err_wrap(e, rc, "refusing to copy");
    return ERR_OK;
}

/* The target: empty of any seald schema, then migrated to the source's
 * version. */
static err_code
open_target(const struct migrate_opts *o, struct store **s,
            struct store_conn **c, struct err *e)
{
    int version = 0, applied = 0;
    err_code rc;

    if ((rc = store_open(o->to, o->to_pw, 5000, 1, s, e)) != ERR_OK ||
        (rc = store_schema_probe(*s, &version, e)) != ERR_OK)
        return err_wrap(e, rc, "the target");
    if (version != 0)
        return err_set(e, ERR_CONFLICT, "the target already holds a seald "
                       "schema (version %d): seald migrate copies only into "
                       "a database with none; nothing was changed", version);
    if ((rc = store_migrate(*s, &applied, e)) != ERR_OK ||
        (rc = store_conn_get(*s, c, e)) != ERR_OK)
        return err_wrap(e, rc, "migrating the target");
    return ERR_OK;
}

/* Verify the committed copy from a connection of its own, as `seald audit
 * verify` would. */
static err_code
verify_committed(const struct migrate_opts *o, const struct cmd_audit_trust *t,
                 const struct audit_verify_report *want, struct err *e)
{
    struct audit_verify_report r;
    struct store *s = NULL;
    struct store_conn *c = NULL;
    err_code rc;

    if ((rc = store_open_readonly(o->to, o->to_pw, &s, &c, e)) == ERR_OK &&
        (rc = cmd_audit_verify(c, t, NULL, &r, e)) == ERR_OK)
        rc = chain_matches(&r, want, "committed copy", e);
    store_close(s);
    return rc;
}

/* The summary on stdout. */
static void
print_summary(const struct migrate_work *w,
              const struct audit_verify_report *r)
{
    char hex[2 * AUDIT_HASH_LEN + 1];
    const char *name;
    int64_t total = 0;
    size_t i;

    for (i = 0; i < STORE_COPY_TABLES; i++)
        total += w->rows[i];
    util_hex_encode(r->head_hash, AUDIT_HASH_LEN, hex);
    printf("seald migrate: copied %d tables, %lld rows\n",
           STORE_COPY_TABLES, (long long)total);
    for (i = 0; i < STORE_COPY_TABLES; i++)
        if (store_copy_table(i, &name, NULL, 0, NULL) == ERR_OK)
            printf("  %-22s %lld\n", name, (long long)w->rows[i]);
    printf("audit chain: %lld entries, %lld checkpoints, head seq %lld, "
           "head hash %s: verified before and after the copy\n",
           (long long)r->entries, (long long)r->checkpoints,
           (long long)r->head_seq, hex);
}

int
cmd_migrate(int argc, char **argv)
{
    struct migrate_opts o;
    struct migrate_work w;
    struct cmd_audit_trust t;
    struct audit_verify_report src;
    struct store *ss = NULL, *ts = NULL;
    struct store_conn *sc = NULL, *tc = NULL;
    struct config *cfg = NULL;
    const char *key_beside;
    struct err e;
    int p, status = CMD_EXIT_FAIL;

    err_clear(&e);
    if ((p = parse_opts(argc, argv, &o)) != 0) {
        migrate_usage(p > 0 ? stdout : stderr);
        return p > 0 ? CMD_EXIT_OK : CMD_EXIT_USAGE;
    }
    if (o.tables)
        return print_tables();
    if (is_pg(o.from) && o.audit_key == NULL && o.config == NULL) {
        fprintf(stderr, "seald migrate: a PostgreSQL source needs "
                "--audit-key FILE (the instance's audit-key.pem) or "
                "--config FILE\n");
        return CMD_EXIT_USAGE;
    }
    /* the default key is audit-key.pem beside the SQLite source's file */
    key_beside = strncmp(o.from, "sqlite:", 7) == 0 ? o.from + 7 : o.from;
    memset(&w, 0, sizeof(w));
    if (store_copy_check(&e) != ERR_OK ||
        load_config(o.config, &cfg, &e) != ERR_OK ||
        cmd_audit_load_trust(o.audit_key, cfg, key_beside, NULL, &t, &e)
        != ERR_OK ||
        open_source(&o, &t, &ss, &sc, &src, &e) != ERR_OK ||
        open_target(&o, &ts, &tc, &e) != ERR_OK)
        goto done;
    w.from = sc;
    w.trust = &t;
    w.source = &src;
    if (store_run(tc, copy_work, &w, &e) != ERR_OK) {
        fprintf(stderr, "seald migrate: %s\n", e.msg);
        fprintf(stderr, "seald migrate: the copy was rolled back: the "
                "target holds the empty schema and no row; drop and "
                "re-create it before trying again\n");
        store_close(ts);
        store_close(ss);
        free(cfg);
        return CMD_EXIT_FAIL;
    }
    if (verify_committed(&o, &t, &src, &e) != ERR_OK)
        goto done;
    print_summary(&w, &src);
    status = CMD_EXIT_OK;
done:
    if (status != CMD_EXIT_OK)
        fprintf(stderr, "seald migrate: %s\n", e.msg);
    store_close(ts);
    store_close(ss);
    free(cfg);
    return status;
}
