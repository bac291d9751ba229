/*
 * db_sqlite.c - the SQLite dialect of the database layer (db.h): the only
 * file that calls SQLite.
 *
 * What is SQLite's own here: the file is opened with WAL (readers beside
 * the one writer) and synchronous=FULL (a commit is on disk before the
 * client hears "ok"); writers take the lock at BEGIN IMMEDIATE, so the
 * one-writer rule of SQLite is also what serialises the audit chain's head
 * (migration 008's audit_head row is what another dialect locks);
 * parameters are rewritten from $N to ?N, an id set {ids $N} becomes
 * a json_each over the JSON array text that db_bind_id_set binds, and
 * {explicit ids} is dropped (a rowid takes any id it is given, and the next
 * one assigned is max(rowid) + 1, so db_ids_follow has nothing to do).
 * The migration series is sql/sqlite/.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db_int.h"

/* The migrations compiled from sql/sqlite/ (sql_migrations.c). */
extern const struct db_migration db_sqlite_migrations[];
extern const size_t db_sqlite_migrations_count;

/* Backup pages copied per sqlite3_backup_step: the source is locked only
 * during a step, so writers wait at most one step. */
#define DB_BACKUP_PAGES     256
#define DB_BACKUP_BUSY_MAX  2000    /* 5 ms sleeps: 10 s of busy source */

/* Transaction statements, prepared once per connection like the others. */
enum txn_stmt { TX_BEGIN, TX_BEGIN_READ, TX_COMMIT, TX_ROLLBACK, TX_SP, TX_SP_UNDO,
                TX_SP_END, TX__COUNT };
static const char *const txn_sql[TX__COUNT] = {
    [TX_BEGIN]   = "BEGIN IMMEDIATE",
    [TX_BEGIN_READ] = "BEGIN DEFERRED",   /* snapshot at the first read */
    [TX_COMMIT]  = "COMMIT",
    [TX_ROLLBACK] = "ROLLBACK",
    [TX_SP]      = "SAVEPOINT unit",
    [TX_SP_UNDO] = "ROLLBACK TO unit",
    [TX_SP_END]  = "RELEASE unit",
};

struct sq_stmt {
    struct db_stmt  base;      /* first: db.c reads the dialect */
    struct sq_conn *conn;
    sqlite3_stmt   *h;
    int             bind_rc;   /* first failed bind, SQLITE_OK if none */
    int             cached;    /* one of conn->slot: never freed */
    int             in_use;
    char           *idset[4];  /* copies bound by db_bind_id_set */
};

struct sq_conn {
    struct db_conn  base;      /* first */
    sqlite3        *h;
    struct sq_db   *owner;
    enum db_fail    last;
    sqlite3_stmt   *txn[TX__COUNT];
    struct sq_stmt  slot[DB_STMT__COUNT];
};

struct sq_db {
    struct db        base;     /* first */
    char            *path;
    long             busy_ms;
    int              read_only;
};

static int sq_in_transaction(struct db_conn *c_);

/* ---- failures ----------------------------------------------------------- */

static enum db_fail
fail_class(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return DB_FAIL_NONE;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE ||
            rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return DB_FAIL_UNIQUE;
        return DB_FAIL_CONSTRAINT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DB_FAIL_BUSY;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
        return DB_FAIL_IO;
    default:
        return DB_FAIL_OTHER;
    }
}

/* Record the failure rc of c (what says where) in *e; returns its code. */
static err_code
fail(struct sq_conn *c, int rc, const char *what, struct err *e)
{
    enum db_fail f = fail_class(rc);
    err_code code = db_fail_code(f);

    c->last = f;
    if (f == DB_FAIL_UNIQUE)
        return err_set(e, code, "already exists");
    if (f == DB_FAIL_CONSTRAINT)
        return err_set(e, code, "constraint failed: %s", sqlite3_errmsg(c->h));
    if (what == NULL)
        return err_set(e, code, "%s", sqlite3_errmsg(c->h));
    return err_set(e, code, "%s: %s", what, sqlite3_errmsg(c->h));
}

static err_code
sq_schema_lock(struct db_conn *c, int lock, struct err *e)
{
    (void)c;
    (void)lock;
    (void)e;
    return ERR_OK;
}

/* Contract: db.h.  No table is AUTOINCREMENT (there is no sqlite_sequence
 * to move): each INTEGER PRIMARY KEY assigns max(rowid) + 1, which already
 * follows the ids written. */
static err_code
sq_ids_follow(struct db_conn *c, const char *table, const char *column,
              int64_t max_id, struct err *e)
{
    (void)c;
    (void)table;
    (void)column;
    (void)max_id;
    (void)e;
    return ERR_OK;
}

static enum db_fail
sq_last_fail(struct db_conn *c_)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    return c->last;
}

/* ---- connections -------------------------------------------------------- */

static err_code
exec_plain(struct sq_conn *c, const char *sql, struct err *e)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c->h, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        c->last = fail_class(rc);
        err_set(e, db_fail_code(c->last), "%s", msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return db_fail_code(c->last);
    }
    c->last = DB_FAIL_NONE;
    return ERR_OK;
}

/* Finalize every statement of the connection, then close it. */
static void
conn_free(struct sq_conn *c)
{
    sqlite3_stmt *st;

    if (c == NULL)
        return;
    while ((st = sqlite3_next_stmt(c->h, NULL)) != NULL)
        sqlite3_finalize(st);
    sqlite3_close(c->h);
    free(c);
}

static void
sq_conn_free(struct db_conn *c)
{
    conn_free((struct sq_conn *)c);
}

/* A new connection to d's file in *out, with the pragmas every connection
 * runs under. */
static err_code
sq_conn_open(struct db *d_, int create, struct db_conn **out, struct err *e)
{
    struct sq_db *d = (struct sq_db *)d_;
    struct sq_conn *c;
    int flags = SQLITE_OPEN_NOMUTEX;
    err_code rc;
    size_t i;

    *out = NULL;
    if (d->read_only)
        flags |= SQLITE_OPEN_READONLY;
    else
        flags |= SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    c->base.dialect = &db_sqlite;
    for (i = 0; i < DB_STMT__COUNT; i++) {
        c->slot[i].base.dialect = &db_sqlite;
        c->slot[i].conn = c;
        c->slot[i].cached = 1;
    }
    if (sqlite3_open_v2(d->path, &c->h, flags, NULL) != SQLITE_OK) {
        rc = err_set(e, ERR_DB, "%s: %s", d->path,
                     c->h ? sqlite3_errmsg(c->h) : "cannot open");
        conn_free(c);
        return rc;
    }
    sqlite3_busy_timeout(c->h, (int)d->busy_ms);
    sqlite3_extended_result_codes(c->h, 1);
    rc = d->read_only
        ? exec_plain(c, "PRAGMA query_only=ON; PRAGMA trusted_schema=OFF;"
                     "SELECT count(*) FROM sqlite_schema", e)
        : exec_plain(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;", e);
    if (rc != ERR_OK) {
        err_wrap(e, rc, "%s", d->path);
        conn_free(c);
        return rc;
    }
    c->owner = d;
    *out = &c->base;
    return ERR_OK;
}

static int
location_path(const char *location, const char **path)
{
    if (strncmp(location, "sqlite:", 7) == 0)
        location += 7;
    *path = location;
    return location[0] != '\0';
}

static err_code
sq_open(const char *location, const char *password_file, long busy_ms,
        int read_only, struct db **out, struct err *e)
{
    struct sq_db *d;
    const char *path;

    *out = NULL;
    if (password_file != NULL && password_file[0] != '\0')
        return err_set(e, ERR_CONFIG, "database.password_file is for "
                       "PostgreSQL; an SQLite file has no password");
    if (!location_path(location, &path))
        return err_set(e, ERR_CONFIG, "database: empty location");
    if ((d = calloc(1, sizeof(*d))) == NULL ||
        (d->path = strdup(path)) == NULL) {
        free(d);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    d->busy_ms = busy_ms;
    d->read_only = read_only;
    *out = &d->base;
    return ERR_OK;
}

static void
sq_free(struct db *d_)
{
    struct sq_db *d = (struct sq_db *)d_;

    free(d->path);
    free(d);
}

/* ---- statements --------------------------------------------------------- */

/* The SQLite text of a portable statement in a malloc'ed string (caller
 * frees): $N becomes ?N, {ids $N} the rows of a JSON array bound as
 * text, and {explicit ids} nothing.  Quoted strings and identifiers are
 * copied as they are.  NULL when out of memory. */
static char *
sqlite_text(const char *in)
{
    static const char explicit_ids[] = "{explicit ids}";
    static const char ids_open[] = "{ids ";
    static const char ids_sqlite[] = "(SELECT value FROM json_each(";
    size_t n = strlen(in), k = 0, sets = 0;
    const char *p;
    char *out, quote = 0;

    /* each {ids $N} grows by the SQLite words and two parentheses */
    for (p = in; (p = strchr(p, '{')) != NULL; p++)
        sets++;
    if ((out = malloc(n + sets * (sizeof(ids_sqlite) + 2) + 1)) == NULL)
        return NULL;
    while (*in != '\0') {
        if (quote) {
            if (*in == quote)
                quote = 0;
            out[k++] = *in++;
        } else if (*in == '\'' || *in == '"') {
            quote = *in;
            out[k++] = *in++;
        } else if (*in == '$') {
            out[k++] = '?';
            in++;
        } else if (strncmp(in, explicit_ids, sizeof(explicit_ids) - 1)
                   == 0) {
            in += sizeof(explicit_ids) - 1;
        } else if (strncmp(in, ids_open, sizeof(ids_open) - 1) == 0) {
            memcpy(out + k, ids_sqlite, sizeof(ids_sqlite) - 1);
            k += sizeof(ids_sqlite) - 1;
            in += sizeof(ids_open) - 1;
            while (*in != '\0' && *in != '}') {
                out[k++] = *in == '$' ? '?' : *in;
                in++;
            }
            if (*in == '}')
                in++;
            out[k++] = ')';
            out[k++] = ')';
        } else {
            out[k++] = *in++;
        }
    }
    out[k] = '\0';
    return out;
}

/* Prepare statement id on c into *h; persistent for the cached copies. */
static err_code
prepare(struct sq_conn *c, enum db_stmt_id id, int persistent,
        sqlite3_stmt **h, struct err *e)
{
    const char *text = db_stmt_text(id);
    char *sql;
    int rc;

    *h = NULL;
    if (text == NULL)
        return err_set(e, ERR_INTERNAL, "statement %d has no text", (int)id);
    if ((sql = sqlite_text(text)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = sqlite3_prepare_v3(c->h, sql, -1,
                            persistent ? SQLITE_PREPARE_PERSISTENT : 0, h,
                            NULL);
    free(sql);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*h);
        *h = NULL;
        return fail(c, rc, "prepare", e);
    }
    return ERR_OK;
}

static void
stmt_clear(struct sq_stmt *st)
{
    size_t i;

    for (i = 0; i < sizeof(st->idset) / sizeof(st->idset[0]); i++) {
        free(st->idset[i]);
        st->idset[i] = NULL;
    }
    st->bind_rc = SQLITE_OK;
}

/* Contract: db.h.  A cached statement held but not being stepped
 * (sqlite3_stmt_busy false) is handed out again: only a holder that forgot
 * db_release is in that state, and sharing costs it nothing.  One that is
 * being stepped gets an uncached twin for this caller alone. */
static struct db_stmt *
sq_prep(struct db_conn *c_, enum db_stmt_id id, struct err *e)
{
    struct sq_conn *c = (struct sq_conn *)c_;
    struct sq_stmt *st;

    if ((unsigned)id >= DB_STMT__COUNT) {
        err_set(e, ERR_INTERNAL, "statement %d out of range", (int)id);
        return NULL;
    }
    st = &c->slot[id];
    if (st->h != NULL && st->in_use && sqlite3_stmt_busy(st->h)) {
        if ((st = calloc(1, sizeof(*st))) == NULL) {
            err_set(e, ERR_NOMEM, "out of memory");
            return NULL;
        }
        st->base.dialect = &db_sqlite;
        st->conn = c;
        if (prepare(c, id, 0, &st->h, e) != ERR_OK) {
            free(st);
            return NULL;
        }
    } else if (st->h == NULL) {
        if (prepare(c, id, 1, &st->h, e) != ERR_OK)
            return NULL;
    } else {
        sqlite3_reset(st->h);
        sqlite3_clear_bindings(st->h);
        stmt_clear(st);
    }
    st->bind_rc = SQLITE_OK;
    st->in_use = 1;
    return &st->base;
}

static void
sq_release(struct db_stmt *st_)
{
    struct sq_stmt *st = (struct sq_stmt *)st_;

    if (st == NULL)
        return;
    stmt_clear(st);
    if (st->cached) {
        sqlite3_reset(st->h);
        st->in_use = 0;
        return;
    }
    sqlite3_finalize(st->h);
    free(st);
}

static void
bound(struct sq_stmt *st, int rc)
{
    if (rc != SQLITE_OK && st->bind_rc == SQLITE_OK)
        st->bind_rc = rc;
}

static void
sq_bind_null(struct db_stmt *st_, int i)
{
    struct sq_stmt *st = (struct sq_stmt *)st_;

    bound(st, sqlite3_bind_null(st->h, i));
}

static void
sq_bind_i64(struct db_stmt *st_, int i, int64_t v)
{
    struct sq_stmt *st = (struct sq_stmt *)st_;

    bound(st, sqlite3_bind_int64(st->h, i, v));
}


static void
sq_bind_text(struct db_stmt *st_, int i, const char *v)
{
    struct sq_stmt *st = (struct sq_stmt *)st_;

    bound(st, v == NULL ? sqlite3_bind_null(st->h, i)
                        : sqlite3_bind_text(st->h, i, v, -1, SQLITE_STATIC));
}

static void
sq_bind_bytes(struct db_stmt *st_, int i, const void *p, size_t n)
{
    struct sq_stmt *st = (struct sq_stmt *)st_;

    if (n > (size_t)INT32_MAX) {
        bound(st, SQLITE_TOOBIG);
        return;
    }
    bound(st, sqlite3_bind_blob(st->h, i, n ? p : "", (int)n, SQLITE_STATIC));
}


/* The set as JSON array text, kept in the statement until its release. */
static void
sq_bind_id_set(struct db_stmt *st_, int i, const int64_t *ids, size_t n)
{
    struct sq_stmt *st = (struct sq_stmt *)st_;
    size_t k, len = 0, cap = 2 + n * 21, slot;
    char *text;

    for (slot = 0; slot < sizeof(st->idset) / sizeof(st->idset[0]); slot++)
        if (st->idset[slot] == NULL)
            break;
    if (n > DB_MAX_ID_SET ||
        slot == sizeof(st->idset) / sizeof(st->idset[0])) {
        bound(st, SQLITE_RANGE);
        return;
    }
    if ((text = malloc(cap + 1)) == NULL) {
        bound(st, SQLITE_NOMEM);
        return;
    }
    text[len++] = '[';
    for (k = 0; k < n; k++)
        len += (size_t)snprintf(text + len, cap + 1 - len, "%s%lld",
                                k ? "," : "", (long long)ids[k]);
    snprintf(text + len, cap + 1 - len, "]");
    st->idset[slot] = text;
    bound(st, sqlite3_bind_text(st->h, i, text, -1, SQLITE_STATIC));
}

static err_code
sq_step(struct db_stmt *st_, enum db_row *row, struct err *e)
{
    struct sq_stmt *st = (struct sq_stmt *)st_;
    int rc;

    *row = DB_DONE;
    if (st->bind_rc != SQLITE_OK) {
        st->conn->last = fail_class(st->bind_rc);
        return err_set(e, ERR_INTERNAL, "bind: %s",
                       sqlite3_errstr(st->bind_rc));
    }
    rc = sqlite3_step(st->h);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        *row = rc == SQLITE_ROW ? DB_ROW : DB_DONE;
        st->conn->last = DB_FAIL_NONE;
        return ERR_OK;
    }
    return fail(st->conn, rc, "step", e);
}

static int64_t
sq_col_i64(struct db_stmt *st_, int col)
{
    struct sq_stmt *st = (struct sq_stmt *)st_;

    return sqlite3_column_int64(st->h, col);
}


static int
sq_col_is_null(struct db_stmt *st_, int col)
{
    struct sq_stmt *st = (struct sq_stmt *)st_;

    return sqlite3_column_type(st->h, col) == SQLITE_NULL;
}

static const char *
sq_col_text(struct db_stmt *st_, int col)
{
    struct sq_stmt *st = (struct sq_stmt *)st_;

    return (const char *)sqlite3_column_text(st->h, col);
}

static const void *
sq_col_bytes(struct db_stmt *st_, int col, size_t *len)
{
    struct sq_stmt *st = (struct sq_stmt *)st_;
    const void *p = sqlite3_column_blob(st->h, col);
    int n = sqlite3_column_bytes(st->h, col);

    *len = p != NULL && n > 0 ? (size_t)n : 0;
    return *len ? p : NULL;
}

static size_t
sq_live_statements(struct db_conn *c_)
{
    struct sq_conn *c = (struct sq_conn *)c_;
    sqlite3_stmt *st = NULL;
    size_t n = 0;

    while ((st = sqlite3_next_stmt(c->h, st)) != NULL)
        n++;
    return n;
}

static struct db_conn *
sq_stmt_conn(struct db_stmt *st_)
{
    struct sq_stmt *st = (struct sq_stmt *)st_;

    return &st->conn->base;
}

static int64_t
sq_changes(struct db_conn *c_)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    return sqlite3_changes64(c->h);
}

/* ---- transactions ------------------------------------------------------- */

static err_code
txn(struct sq_conn *c, enum txn_stmt t, struct err *e)
{
    int rc;

    if (c->txn[t] == NULL &&
        (rc = sqlite3_prepare_v3(c->h, txn_sql[t], -1,
                                 SQLITE_PREPARE_PERSISTENT, &c->txn[t],
                                 NULL)) != SQLITE_OK)
        return fail(c, rc, txn_sql[t], e);
    rc = sqlite3_step(c->txn[t]);
    sqlite3_reset(c->txn[t]);
    if (rc != SQLITE_DONE)      /* the database's words alone, as exec */
        return fail(c, rc, NULL, e);
    c->last = DB_FAIL_NONE;
    return ERR_OK;
}

static err_code
sq_begin(struct db_conn *c_, struct err *e)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    return txn(c, TX_BEGIN, e);
}

static err_code
sq_begin_read(struct db_conn *c_, struct err *e)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    return txn(c, TX_BEGIN_READ, e);
}

static err_code
sq_commit(struct db_conn *c_, struct err *e)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    return txn(c, TX_COMMIT, e);
}

static void
sq_rollback(struct db_conn *c_)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    if (sq_in_transaction(&c->base))
        (void)txn(c, TX_ROLLBACK, NULL);
}

static int
sq_in_transaction(struct db_conn *c_)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    return sqlite3_get_autocommit(c->h) == 0;
}

static err_code
sq_savepoint(struct db_conn *c_, struct err *e)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    return txn(c, TX_SP, e);
}

static err_code
sq_savepoint_undo(struct db_conn *c_, struct err *e)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    return txn(c, TX_SP_UNDO, e);
}

static err_code
sq_savepoint_end(struct db_conn *c_, struct err *e)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    return txn(c, TX_SP_END, e);
}

static err_code
sq_exec_script(struct db_conn *c_, const char *sql, struct err *e)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    return exec_plain(c, sql, e);
}

static void
sq_migrations(struct db_conn *c_, const struct db_migration **list, size_t *n)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    (void)c;
    *list = db_sqlite_migrations;
    *n = db_sqlite_migrations_count;
}

/* ---- backup ------------------------------------------------------------- */

/* Copy src into a new database file at dest_path through a temporary
 * file, fsync and rename.  One cleanup path. */
static err_code
backup_into(sqlite3 *src, const char *dest_path, struct err *e)
{
    char tmp[4096];
    sqlite3 *dst = NULL;
    sqlite3_backup *b = NULL;
    int rc, busy = 0, fd = -1;
    err_code out = ERR_OK;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", dest_path)
        >= sizeof(tmp))
        return err_set(e, ERR_INVALID, "backup path too long");
    unlink(tmp);
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE |
                        SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        out = err_set(e, ERR_IO, "%s: %s", tmp,
                      dst ? sqlite3_errmsg(dst) : "cannot open");
        goto done;
    }
    if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
        out = err_set(e, ERR_DB, "backup: %s", sqlite3_errmsg(dst));
        goto done;
    }
    for (;;) {
        rc = sqlite3_backup_step(b, DB_BACKUP_PAGES);
        if (rc == SQLITE_DONE)
            break;
        if (rc == SQLITE_OK)
            continue;
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) &&
            busy++ < DB_BACKUP_BUSY_MAX) {
            sqlite3_sleep(5);
            continue;
        }
        out = err_set(e, ERR_DB, "backup step: %s", sqlite3_errstr(rc));
        goto done;
    }
    rc = sqlite3_backup_finish(b);
    b = NULL;
    if (rc != SQLITE_OK) {
        out = err_set(e, ERR_DB, "backup: %s", sqlite3_errstr(rc));
        goto done;
    }
    /* A self-contained file: no WAL beside it. */
    if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL)
        != SQLITE_OK) {
        out = err_set(e, ERR_DB, "backup: %s", sqlite3_errmsg(dst));
        goto done;
    }
    sqlite3_close(dst);
    dst = NULL;
    if ((fd = open(tmp, O_RDONLY)) < 0 || fsync(fd) != 0) {
        out = err_set(e, ERR_IO, "%s: cannot sync", tmp);
        goto done;
    }
    if (rename(tmp, dest_path) != 0) {
        out = err_set(e, ERR_IO, "%s: cannot rename into place", dest_path);
        goto done;
    }
done:
    if (fd >= 0)
        close(fd);
    if (b != NULL)
        sqlite3_backup_finish(b);
    if (dst != NULL)
        sqlite3_close(dst);
    if (out != ERR_OK)
        unlink(tmp);
    return out;
}

static err_code
sq_backup(struct db_conn *c_, const char *dest_path, struct err *e)
{
    struct sq_conn *c = (struct sq_conn *)c_;

    if (sq_in_transaction(&c->base))
        return err_set(e, ERR_INTERNAL, "backup inside a transaction");
    return backup_into(c->h, dest_path, e);
}

const struct db_dialect db_sqlite = {
    .name            = "sqlite",
    .open            = sq_open,
    .free            = sq_free,
    .conn_open       = sq_conn_open,
    .conn_free       = sq_conn_free,
    .prep            = sq_prep,
    .release         = sq_release,
    .bind_null       = sq_bind_null,
    .bind_i64        = sq_bind_i64,
    .bind_text       = sq_bind_text,
    .bind_bytes      = sq_bind_bytes,
    .bind_id_set     = sq_bind_id_set,
    .step            = sq_step,
    .col_i64         = sq_col_i64,
    .col_is_null     = sq_col_is_null,
    .col_text        = sq_col_text,
    .col_bytes       = sq_col_bytes,
    .stmt_conn       = sq_stmt_conn,
    .changes         = sq_changes,
    .begin           = sq_begin,
    .begin_read      = sq_begin_read,
    .commit          = sq_commit,
    .rollback        = sq_rollback,
    .in_transaction  = sq_in_transaction,
    .savepoint       = sq_savepoint,
    .savepoint_undo  = sq_savepoint_undo,
    .savepoint_end   = sq_savepoint_end,
    .exec_script     = sq_exec_script,
    .migrations      = sq_migrations,
    .backup          = sq_backup,
    .live_statements = sq_live_statements,
    .last_fail       = sq_last_fail,
    .schema_lock     = sq_schema_lock,
    .ids_follow      = sq_ids_follow,
};
