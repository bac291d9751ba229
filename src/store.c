/*
 * store.c - SQLite access: connections per thread, the statement cache,
 * migrations, transactions, and one function per query.  This is the only
 * file that contains SQL text besides sql/.
 *
 * Dialect notes live here (docs/design.md has the list): SQLite wants
 * "BEGIN IMMEDIATE" for writers and PRAGMAs for WAL and foreign keys; a
 * PostgreSQL-family backend would use plain BEGIN and server settings.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"
#include "util.h"

#define STORE_STMT_CACHE 64

struct store_conn {
    sqlite3           *db;
    struct store      *owner;
    struct store_conn *next;
    struct {
        const char   *sql;      /* static string: compared by address */
        sqlite3_stmt *stmt;
    } cache[STORE_STMT_CACHE];
    size_t ncache;
};

struct store {
    char              *path;
    long               busy_ms;
    pthread_mutex_t    lock;     /* guards conns */
    struct store_conn *conns;
};

/* Each thread remembers its connection; the owner check keeps a thread from
 * using a connection of a store that was closed and replaced. */
static __thread struct store_conn *thread_conn;

static err_code
db_err(struct store_conn *c, struct err *e, const char *what)
{
    return err_set(e, ERR_DB, "%s: %s", what, sqlite3_errmsg(c->db));
}

static err_code
exec(struct store_conn *c, const char *sql, struct err *e)
{
    char *msg = NULL;

    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        err_set(e, ERR_DB, "%s", msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return ERR_DB;
    }
    return ERR_OK;
}

static err_code
conn_open(struct store *s, int create, struct store_conn **out, struct err *e)
{
    struct store_conn *c;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

    if (create)
        flags |= SQLITE_OPEN_CREATE;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (sqlite3_open_v2(s->path, &c->db, flags, NULL) != SQLITE_OK) {
        err_set(e, ERR_DB, "%s: %s", s->path,
                c->db ? sqlite3_errmsg(c->db) : "cannot open");
        sqlite3_close(c->db);
        free(c);
        return ERR_DB;
    }
    sqlite3_busy_timeout(c->db, (int)s->busy_ms);
    sqlite3_extended_result_codes(c->db, 1);
    /* WAL lets readers run beside the writer; synchronous=FULL makes every
     * commit durable before the client hears "ok" (nothing acknowledged is
     * ever lost). */
    if (exec(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                "PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;",
             e) != ERR_OK) {
        sqlite3_close(c->db);
        free(c);
        return ERR_DB;
    }
    c->owner = s;
    *out = c;
    return ERR_OK;
}

static void
conn_free(struct store_conn *c)
{
    size_t i;

    for (i = 0; i < c->ncache; i++)
        sqlite3_finalize(c->cache[i].stmt);
    sqlite3_close(c->db);
    free(c);
}

err_code
store_open(const char *path, long busy_timeout_ms, int create,
           struct store **out, struct err *e)
{
    struct store *s;
    struct store_conn *c = NULL;
    err_code rc;

    if ((s = calloc(1, sizeof(*s))) == NULL ||
        (s->path = strdup(path)) == NULL) {
        free(s);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    s->busy_ms = busy_timeout_ms;
    pthread_mutex_init(&s->lock, NULL);
    /* Open one connection now so a missing or unreadable file is reported
     * at start-up, not at the first request. */
    if ((rc = conn_open(s, create, &c, e)) != ERR_OK) {
        pthread_mutex_destroy(&s->lock);
        free(s->path);
        free(s);
        return rc;
    }
    s->conns = c;
    thread_conn = c;
    *out = s;
    return ERR_OK;
}

void
store_close(struct store *s)
{
    struct store_conn *c, *next;

    if (s == NULL)
        return;
    for (c = s->conns; c != NULL; c = next) {
        next = c->next;
        if (thread_conn == c)
            thread_conn = NULL;
        conn_free(c);
    }
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

err_code
store_conn_get(struct store *s, struct store_conn **out, struct err *e)
{
    struct store_conn *c;
    err_code rc;

    if (thread_conn != NULL && thread_conn->owner == s) {
        *out = thread_conn;
        return ERR_OK;
    }
    if ((rc = conn_open(s, 0, &c, e)) != ERR_OK)
        return rc;
    pthread_mutex_lock(&s->lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->lock);
    thread_conn = c;
    *out = c;
    return ERR_OK;
}

/* The cached prepared statement for sql (a string literal), reset and with
 * bindings cleared.  Owned by the connection: callers never finalize it. */
static sqlite3_stmt *
prep(struct store_conn *c, const char *sql, struct err *e)
{
    sqlite3_stmt *st = NULL;
    size_t i;

    for (i = 0; i < c->ncache; i++) {
        if (c->cache[i].sql == sql) {
            sqlite3_reset(c->cache[i].stmt);
            sqlite3_clear_bindings(c->cache[i].stmt);
            return c->cache[i].stmt;
        }
    }
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                           NULL) != SQLITE_OK) {
        db_err(c, e, "prepare");
        return NULL;
    }
    if (c->ncache < STORE_STMT_CACHE) {
        c->cache[c->ncache].sql = sql;
        c->cache[c->ncache].stmt = st;
        c->ncache++;
    } else {
        /* Cache full means a new query was added without raising the
         * limit; still correct, just slower: finalize at the next use. */
        sqlite3_finalize(c->cache[0].stmt);
        c->cache[0].sql = sql;
        c->cache[0].stmt = st;
    }
    return st;
}

/* Bind text or NULL. */
static int
bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int
bind_id(sqlite3_stmt *st, int i, int64_t v)
{
    if (v == 0)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_int64(st, i, v);
}

/* Step a statement that returns no row; map constraint errors. */
static err_code
step_done(struct store_conn *c, sqlite3_stmt *st, struct err *e)
{
    int rc = sqlite3_step(st);
    err_code out = ERR_OK;

    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        out = err_set(e, ERR_CONFLICT, "already exists");
    else if ((rc & 0xff) == SQLITE_CONSTRAINT)
        out = err_set(e, ERR_INVALID, "constraint failed: %s",
                      sqlite3_errmsg(c->db));
    else if (rc != SQLITE_DONE)
        out = db_err(c, e, "step");
    sqlite3_reset(st);
    return out;
}

static void
copy_col(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);

    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

err_code
store_begin(struct store_conn *c, struct err *e)
{
    return exec(c, "BEGIN IMMEDIATE", e);
}

err_code
store_commit(struct store_conn *c, struct err *e)
{
    return exec(c, "COMMIT", e);
}

void
store_rollback(struct store_conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

err_code
store_ping(struct store_conn *c, struct err *e)
{
    static const char sql[] = "SELECT count(*) FROM schema_version";
    sqlite3_stmt *st = prep(c, sql, e);
    int rc;

    if (st == NULL)
        return ERR_DB;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return db_err(c, e, "ping");
    return ERR_OK;
}

err_code
store_schema_version(struct store_conn *c, int *version, struct err *e)
{
    static const char sql[] =
        "SELECT coalesce(max(version), 0) FROM schema_version";
    sqlite3_stmt *st;
    int rc;

    if ((rc = exec(c, "CREATE TABLE IF NOT EXISTS schema_version ("
                      "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                      "applied_ms INTEGER NOT NULL)", e)) != ERR_OK)
        return rc;
    if ((st = prep(c, sql, e)) == NULL)
        return ERR_DB;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return db_err(c, e, "schema version");
    }
    *version = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return ERR_OK;
}

err_code
store_migrate(struct store *s, int *applied, struct err *e)
{
    static const char ins[] =
        "INSERT INTO schema_version (version, name, applied_ms) "
        "VALUES (?, ?, ?)";
    struct store_conn *c;
    sqlite3_stmt *st;
    int have, count = 0;
    size_t i;
    err_code rc;

    if ((rc = store_conn_get(s, &c, e)) != ERR_OK ||
        (rc = store_schema_version(c, &have, e)) != ERR_OK)
        return rc;
    for (i = 0; i < store_migrations_count; i++) {
        const struct store_migration *m = &store_migrations[i];
        if (m->version <= have)
            continue;
        /* The migration and its schema_version row commit together: a
         * crash leaves either both or neither. */
        if ((rc = store_begin(c, e)) != ERR_OK)
            return rc;
        if ((rc = exec(c, m->sql, e)) != ERR_OK) {
            store_rollback(c);
            return err_set(e, ERR_DB, "migration %s: %s", m->name, e->msg);
        }
        if ((st = prep(c, ins, e)) == NULL) {
            store_rollback(c);
            return ERR_DB;
        }
        sqlite3_bind_int(st, 1, m->version);
        sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, util_now_ms());
        if ((rc = step_done(c, st, e)) != ERR_OK ||
            (rc = store_commit(c, e)) != ERR_OK) {
            store_rollback(c);
            return rc;
        }
        count++;
    }
    if (applied != NULL)
        *applied = count;
    return ERR_OK;
}

/* ---- organisations and accounts ---- */

err_code
store_org_insert(struct store_conn *c, int64_t parent_id, const char *name,
                 const char *kind, const char *credit_code, int64_t now_ms,
                 int64_t *id_out, struct err *e)
{
    static const char sql[] =
        "INSERT INTO organisations (parent_id, name, kind, credit_code, "
        "created_ms) VALUES (?, ?, ?, ?, ?)";
    sqlite3_stmt *st = prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    bind_id(st, 1, parent_id);
    bind_text(st, 2, name);
    bind_text(st, 3, kind);
    bind_text(st, 4, credit_code);
    sqlite3_bind_int64(st, 5, now_ms);
    if ((rc = step_done(c, st, e)) != ERR_OK)
        return rc;
    *id_out = sqlite3_last_insert_rowid(c->db);
    return ERR_OK;
}

err_code
store_account_insert(struct store_conn *c, const char *name, const char *kind,
                     const char *display_name, int64_t org_id, int64_t now_ms,
                     int64_t *id_out, struct err *e)
{
    static const char sql[] =
        "INSERT INTO accounts (name, kind, display_name, org_id, created_ms) "
        "VALUES (?, ?, ?, ?, ?)";
    sqlite3_stmt *st = prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    bind_text(st, 1, name);
    bind_text(st, 2, kind);
    bind_text(st, 3, display_name);
    sqlite3_bind_int64(st, 4, org_id);
    sqlite3_bind_int64(st, 5, now_ms);
    if ((rc = step_done(c, st, e)) != ERR_OK)
        return rc;
    *id_out = sqlite3_last_insert_rowid(c->db);
    return ERR_OK;
}

err_code
store_account_get(struct store_conn *c, int64_t id, struct store_account *out,
                  struct err *e)
{
    static const char sql[] =
        "SELECT id, name, kind, display_name, org_id, disabled, created_ms "
        "FROM accounts WHERE id = ?";
    sqlite3_stmt *st = prep(c, sql, e);
    int rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        copy_col(st, 1, out->name, sizeof(out->name));
        copy_col(st, 2, out->kind, sizeof(out->kind));
        copy_col(st, 3, out->display_name, sizeof(out->display_name));
        out->org_id = sqlite3_column_int64(st, 4);
        out->disabled = sqlite3_column_int(st, 5);
        out->created_ms = sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return err_set(e, ERR_NOT_FOUND, "no account %lld", (long long)id);
    if (rc != SQLITE_ROW)
        return db_err(c, e, "account");
    return ERR_OK;
}

err_code
store_role_insert(struct store_conn *c, int64_t account_id, const char *role,
                  int64_t scope_org_id, int64_t now_ms, struct err *e)
{
    static const char sql[] =
        "INSERT INTO account_roles (account_id, role, scope_org_id, "
        "created_ms) VALUES (?, ?, ?, ?)";
    sqlite3_stmt *st = prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, account_id);
    bind_text(st, 2, role);
    sqlite3_bind_int64(st, 3, scope_org_id);
    sqlite3_bind_int64(st, 4, now_ms);
    return step_done(c, st, e);
}

err_code
store_account_roles(struct store_conn *c, int64_t account_id,
                    struct store_role *roles, size_t max, size_t *n,
                    struct err *e)
{
    static const char sql[] =
        "SELECT role, scope_org_id FROM account_roles WHERE account_id = ? "
        "ORDER BY role, scope_org_id";
    sqlite3_stmt *st = prep(c, sql, e);
    size_t count = 0;
    int rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, account_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && count < max) {
        copy_col(st, 0, roles[count].role, sizeof(roles[count].role));
        roles[count].scope_org_id = sqlite3_column_int64(st, 1);
        count++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_err(c, e, "roles");
    *n = count;
    return ERR_OK;
}

/* ---- credentials ---- */

err_code
store_credential_insert(struct store_conn *c, int64_t account_id,
                        const char *key_id, const uint8_t *mac,
                        size_t mac_len, int initial, int64_t now_ms,
                        int64_t expires_ms, struct err *e)
{
    static const char sql[] =
        "INSERT INTO credentials (account_id, key_id, mac, initial, "
        "created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, account_id);
    bind_text(st, 2, key_id);
    sqlite3_bind_blob(st, 3, mac, (int)mac_len, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, initial);
    sqlite3_bind_int64(st, 5, now_ms);
    sqlite3_bind_int64(st, 6, expires_ms);
    return step_done(c, st, e);
}

err_code
store_credential_revoke(struct store_conn *c, int64_t id, int64_t now_ms,
                        struct err *e)
{
    static const char sql[] =
        "UPDATE credentials SET revoked_ms = ? "
        "WHERE id = ? AND revoked_ms IS NULL";
    sqlite3_stmt *st = prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, id);
    return step_done(c, st, e);
}

err_code
store_credential_by_key_id(struct store_conn *c, const char *key_id,
                           struct store_credential *out, struct err *e)
{
    static const char sql[] =
        "SELECT id, account_id, mac, initial, created_ms, expires_ms, "
        "coalesce(revoked_ms, 0) FROM credentials WHERE key_id = ?";
    sqlite3_stmt *st = prep(c, sql, e);
    int rc;

    if (st == NULL)
        return ERR_DB;
    bind_text(st, 1, key_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int len = sqlite3_column_bytes(st, 2);
        out->id = sqlite3_column_int64(st, 0);
        out->account_id = sqlite3_column_int64(st, 1);
        out->mac_len = len > 0 && len <= STORE_MAC_MAX ? (size_t)len : 0;
        if (out->mac_len > 0)
            memcpy(out->mac, sqlite3_column_blob(st, 2), out->mac_len);
        out->initial = sqlite3_column_int(st, 3);
        out->created_ms = sqlite3_column_int64(st, 4);
        out->expires_ms = sqlite3_column_int64(st, 5);
        out->revoked_ms = sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return err_set(e, ERR_NOT_FOUND, "no such credential");
    if (rc != SQLITE_ROW)
        return db_err(c, e, "credential");
    return ERR_OK;
}

/* ---- audit ---- */

err_code
store_audit_insert(struct store_conn *c, const struct store_audit_row *row,
                   int64_t *seq_out, struct err *e)
{
    static const char sql[] =
        "INSERT INTO audit_log (ts_ms, account_id, role, client_addr, "
        "request_id, action, target_type, target_id, outcome, reason, "
        "details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, row->ts_ms);
    bind_id(st, 2, row->account_id);
    bind_text(st, 3, row->role);
    bind_text(st, 4, row->client_addr);
    bind_text(st, 5, row->request_id);
    bind_text(st, 6, row->action);
    bind_text(st, 7, row->target_type);
    bind_text(st, 8, row->target_id);
    bind_text(st, 9, row->outcome);
    bind_text(st, 10, row->reason);
    bind_text(st, 11, row->details);
    if ((rc = step_done(c, st, e)) != ERR_OK)
        return rc;
    if (seq_out != NULL)
        *seq_out = sqlite3_last_insert_rowid(c->db);
    return ERR_OK;
}
