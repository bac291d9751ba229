/*
 * store_audit.c - the audit chain's SQL: the chain head, chained inserts with
 * an explicit gapless seq, the walk the verifier makes, the auditor's
 * filtered queries, checkpoints, and online backup / file copy through
 * SQLite's backup API.  The hashes themselves are computed by audit.c.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

#define AUDIT_COLS "seq, ts_ms, account_id, role, client_addr, request_id, " \
    "action, target_type, target_id, outcome, reason, details, hash"


int
store_in_transaction(struct store_conn *c)
{
    return db_in_transaction(c->dbc);
}

err_code
store_audit_head(struct store_conn *c, int64_t *seq,
                 uint8_t hash[STORE_AUDIT_HASH_LEN], int *has_hash,
                 struct err *e)
{
    static const char sql[] =
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";
    sqlite3_stmt *st = st_prep(c, sql, e);
    int rc;

    if (st == NULL)
        return ERR_DB;
    *seq = 0;
    *has_hash = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) == SQLITE_BLOB &&
            sqlite3_column_bytes(st, 1) == STORE_AUDIT_HASH_LEN) {
            memcpy(hash, sqlite3_column_blob(st, 1), STORE_AUDIT_HASH_LEN);
            *has_hash = 1;
        }
    }
    st_release(c, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return st_db_err(c, e, "audit head");
    return ERR_OK;
}

err_code
store_audit_insert_chained(struct store_conn *c, int64_t seq,
                           const struct store_audit_row *row,
                           const uint8_t hash[STORE_AUDIT_HASH_LEN],
                           struct err *e)
{
    static const char sql[] =
        "INSERT INTO audit_log (seq, ts_ms, account_id, role, client_addr, "
        "request_id, action, target_type, target_id, outcome, reason, "
        "details, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, row->ts_ms);
    st_bind_id(st, 3, row->account_id);
    st_bind_text(st, 4, row->role);
    st_bind_text(st, 5, row->client_addr);
    st_bind_text(st, 6, row->request_id);
    st_bind_text(st, 7, row->action);
    st_bind_text(st, 8, row->target_type);
    st_bind_text(st, 9, row->target_id);
    st_bind_text(st, 10, row->outcome);
    st_bind_text(st, 11, row->reason);
    st_bind_text(st, 12, row->details);
    sqlite3_bind_blob(st, 13, hash, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
    return st_step_done(c, st, e);
}

/* Text column col, NULL for SQL NULL (borrowed from the statement). */
static const char *
col_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

/* Fill en from the current row of a statement selecting AUDIT_COLS. */
static void
entry_row(sqlite3_stmt *st, struct store_audit_entry *en)
{
    en->seq = sqlite3_column_int64(st, 0);
    en->ts_ms = sqlite3_column_int64(st, 1);
    en->account_id = st_col_id(st, 2);
    en->role = col_text(st, 3);
    en->client_addr = col_text(st, 4);
    en->request_id = col_text(st, 5);
    en->action = col_text(st, 6);
    en->target_type = col_text(st, 7);
    en->target_id = col_text(st, 8);
    en->outcome = col_text(st, 9);
    en->reason = col_text(st, 10);
    en->details = col_text(st, 11);
    en->hash = sqlite3_column_type(st, 12) == SQLITE_NULL ? NULL
                   : sqlite3_column_blob(st, 12);
    en->hash_len = en->hash ? (size_t)sqlite3_column_bytes(st, 12) : 0;
}

/* Step st to the end, calling fn per row. */
static err_code
walk_rows(struct store_conn *c, sqlite3_stmt *st, store_audit_fn fn,
          void *ctx, struct err *e)
{
    struct store_audit_entry en;
    err_code out = ERR_OK;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        entry_row(st, &en);
        if ((out = fn(ctx, &en)) != ERR_OK)
            break;
    }
    if (out == ERR_OK && rc != SQLITE_DONE)
        out = st_db_err(c, e, "audit log");
    st_release(c, st);
    return out;
}

err_code
store_audit_walk(struct store_conn *c, int64_t after, store_audit_fn fn,
                 void *ctx, struct err *e)
{
    static const char sql[] =
        "SELECT " AUDIT_COLS " FROM audit_log WHERE seq > ? ORDER BY seq";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, after);
    return walk_rows(c, st, fn, ctx, e);
}

err_code
store_audit_query(struct store_conn *c, const struct store_audit_filter *f,
                  store_audit_fn fn, void *ctx, struct err *e)
{
    /* One statement for every combination: a NULL parameter does not
     * filter.  The organisation filter takes the actor accounts of the
     * organisation's subtree (depth-bounded like store_org_in_subtree). */
    static const char sql[] =
        "WITH RECURSIVE sub(id, depth) AS ("
        "  SELECT id, 0 FROM organisations WHERE id = ?1 "
        "  UNION ALL SELECT o.id, sub.depth + 1 FROM organisations o "
        "  JOIN sub ON o.parent_id = sub.id WHERE sub.depth < 64), "
        STORE_SCOPE_CTE("?11")
        "SELECT " AUDIT_COLS " FROM audit_log WHERE seq > ?2 "
        "AND (?12 = 0 "
        "     OR account_id IN (SELECT a.id FROM accounts a "
        "        WHERE a.org_id IN (SELECT id FROM scope)) "
        "     OR (account_id IS NULL AND EXISTS (SELECT 1 FROM "
        "        organisations r WHERE r.parent_id IS NULL AND "
        "        r.id IN (SELECT id FROM scope)))) "
        "AND (?3 IS NULL OR ts_ms >= ?3) AND (?4 IS NULL OR ts_ms < ?4) "
        "AND (?5 IS NULL OR account_id = ?5) "
        "AND (?1 IS NULL OR account_id IN (SELECT a.id FROM accounts a "
        "     WHERE a.org_id IN (SELECT id FROM sub))) "
        "AND (?6 IS NULL OR action = ?6) AND (?7 IS NULL OR outcome = ?7) "
        "AND (?8 IS NULL OR target_type = ?8) "
        "AND (?9 IS NULL OR target_id = ?9) "
        "ORDER BY seq LIMIT ?10";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    st_bind_id(st, 1, f->org_id);
    sqlite3_bind_int64(st, 2, f->after);
    st_bind_id(st, 3, f->from_ms);
    st_bind_id(st, 4, f->to_ms);
    st_bind_id(st, 5, f->account_id);
    st_bind_text(st, 6, f->action);
    st_bind_text(st, 7, f->outcome);
    st_bind_text(st, 8, f->target_type);
    st_bind_text(st, 9, f->target_id);
    sqlite3_bind_int(st, 10, f->limit);
    if (f->nscope > STORE_MAX_ROLES) {
        st_release(c, st);
        return err_set(e, ERR_INTERNAL, "audit query: scope too large");
    }
    st_bind_id_set(st, 11, f->scope, f->nscope);
    sqlite3_bind_int(st, 12, f->scoped != 0);
    return walk_rows(c, st, fn, ctx, e);
}

/* ---- checkpoints ---- */

#define CP_COLS "id, seq, head_hash, ts_ms, key_ref, public_key, signature"

/* Copy a blob column into dst (cap bytes); 0 if it does not fit. */
static size_t
blob_col(sqlite3_stmt *st, int col, uint8_t *dst, size_t cap)
{
    int n = sqlite3_column_bytes(st, col);
    const void *p = sqlite3_column_blob(st, col);

    if (p == NULL || n <= 0 || (size_t)n > cap)
        return 0;
    memcpy(dst, p, (size_t)n);
    return (size_t)n;
}

/* Fill cp from the current row of a statement selecting CP_COLS. */
static void
cp_row(sqlite3_stmt *st, struct store_audit_checkpoint *cp)
{
    memset(cp, 0, sizeof(*cp));
    cp->id = sqlite3_column_int64(st, 0);
    cp->seq = sqlite3_column_int64(st, 1);
    if (blob_col(st, 2, cp->head_hash, sizeof(cp->head_hash))
        != STORE_AUDIT_HASH_LEN)
        memset(cp->head_hash, 0, sizeof(cp->head_hash));
    cp->ts_ms = sqlite3_column_int64(st, 3);
    st_copy_col(st, 4, cp->key_ref, sizeof(cp->key_ref));
    cp->public_key_len = blob_col(st, 5, cp->public_key,
                                  sizeof(cp->public_key));
    cp->signature_len = blob_col(st, 6, cp->signature,
                                 sizeof(cp->signature));
}

err_code
store_audit_checkpoint_insert(struct store_conn *c,
                              const struct store_audit_checkpoint *cp,
                              struct err *e)
{
    static const char sql[] =
        "INSERT INTO audit_checkpoints (seq, head_hash, ts_ms, key_ref, "
        "public_key, signature) VALUES (?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = st_prep(c, sql, e);

    if (st == NULL)
        return ERR_DB;
    sqlite3_bind_int64(st, 1, cp->seq);
    sqlite3_bind_blob(st, 2, cp->head_hash, STORE_AUDIT_HASH_LEN,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, cp->ts_ms);
    st_bind_text(st, 4, cp->key_ref);
    sqlite3_bind_blob(st, 5, cp->public_key, (int)cp->public_key_len,
                      SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, cp->signature, (int)cp->signature_len,
                      SQLITE_STATIC);
    return st_step_done(c, st, e);
}

err_code
store_audit_checkpoint_latest(struct store_conn *c,
                              struct store_audit_checkpoint *out,
                              struct err *e)
{
    static const char sql[] =
        "SELECT " CP_COLS " FROM audit_checkpoints ORDER BY id DESC LIMIT 1";
    sqlite3_stmt *st = st_prep(c, sql, e);
    err_code rc;

    if (st == NULL)
        return ERR_DB;
    if ((rc = st_step_row(c, st, "checkpoint", e)) != ERR_OK)
        return rc;
    cp_row(st, out);
    st_release(c, st);
    return ERR_OK;
}

err_code
store_audit_checkpoint_list(struct store_conn *c, store_checkpoint_fn fn,
                            void *ctx, struct err *e)
{
    static const char sql[] =
        "SELECT " CP_COLS " FROM audit_checkpoints ORDER BY seq, id";
    sqlite3_stmt *st = st_prep(c, sql, e);
    struct store_audit_checkpoint cp;
    err_code out = ERR_OK;
    int rc;

    if (st == NULL)
        return ERR_DB;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cp_row(st, &cp);
        if ((out = fn(ctx, &cp)) != ERR_OK)
            break;
    }
    if (out == ERR_OK && rc != SQLITE_DONE)
        out = st_db_err(c, e, "checkpoints");
    st_release(c, st);
    return out;
}

/* ---- backup and restore ---- */

err_code
store_backup(struct store_conn *c, const char *dest_path, struct err *e)
{
    return db_backup(c->dbc, dest_path, e);
}

err_code
store_copy_file(const char *src_path, const char *dest_path, struct err *e)
{
    struct store *s;
    struct store_conn *c;
    err_code rc;

    if ((rc = store_open_readonly(src_path, &s, &c, e)) != ERR_OK)
        return rc;
    rc = db_backup(c->dbc, dest_path, e);
    store_close(s);
    return rc;
}
