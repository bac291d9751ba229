/*
 * store_audit.c - the audit chain's SQL: the chain head, chained inserts with
 * an explicit gapless seq, the walk the verifier makes, the auditor's
 * filtered queries, checkpoints, and online backup / file copy through
 * the database layer's backup.  The hashes themselves are computed by
 * audit.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"
#include "store_audit.h"
#include "util.h"

int
store_in_transaction(struct store_conn *c)
{
    return db_in_transaction(c->dbc);
}

/* Read (seq, hash) from the current row of st, a statement selecting
 * them; *has_hash 0 when the hash is NULL or not 32 bytes. */
static void
head_cols(struct db_stmt *st, int64_t *seq,
          uint8_t hash[STORE_AUDIT_HASH_LEN], int *has_hash)
{
    const void *p;
    size_t len;

    *seq = db_col_i64(st, 0);
    p = db_col_bytes(st, 1, &len);
    *has_hash = p != NULL && len == STORE_AUDIT_HASH_LEN;
    if (*has_hash)
        memcpy(hash, p, STORE_AUDIT_HASH_LEN);
}

/* Step st, a statement of at most one (seq, hash) row, into the outputs
 * (0 and no hash for no row); releases it. */
static err_code
head_step(struct db_stmt *st, int64_t *seq,
          uint8_t hash[STORE_AUDIT_HASH_LEN], int *has_hash, int *found,
          struct err *e)
{
    enum db_row row;
    err_code rc;

    *seq = 0;
    *has_hash = 0;
    *found = 0;
    if ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        head_cols(st, seq, hash, has_hash);
        *found = 1;
    }
    db_release(st);
    return rc;
}

err_code
store_audit_head(struct store_conn *c, int64_t *seq,
                 uint8_t hash[STORE_AUDIT_HASH_LEN], int *has_hash,
                 struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_AUDIT_HEAD, e);
    int found;

    if (st == NULL)
        return db_prep_failed(e);
    return head_step(st, seq, hash, has_hash, &found, e);
}

err_code
store_audit_head_claim(struct store_conn *c, int64_t *seq,
                       uint8_t prev[STORE_AUDIT_HASH_LEN], int *has_prev,
                       struct err *e)
{
    struct db_stmt *st;
    int found;
    err_code rc;

    if (c->head_known) {            /* a batch holding the head: store_int.h */
        *seq = c->head_seq + 1;
        memcpy(prev, c->head_hash, STORE_AUDIT_HASH_LEN);
        *has_prev = 1;
        c->head_claimed = 1;
        return ERR_OK;
    }
    if ((st = db_prep(c->dbc, DB_AUDIT_HEAD_CLAIM, e)) == NULL)
        return db_prep_failed(e);
    if ((rc = head_step(st, seq, prev, has_prev, &found, e)) != ERR_OK)
        return rc;
    if (!found)
        return err_set(e, ERR_INTERNAL, "the audit chain has no head row");
    c->head_claimed = 0;
    return ERR_OK;
}

err_code
store_audit_head_lock(struct store_conn *c, struct err *e)
{
    struct db_stmt *st;

    if (c->head_known)              /* this batch holds the lock already */
        return ERR_OK;
    if ((st = db_prep(c->dbc, DB_AUDIT_HEAD_LOCK, e)) == NULL)
        return db_prep_failed(e);
    return db_step_later(st, NULL, e, ERR_INTERNAL, "the audit chain has no "
                         "head row");
}

err_code
store_audit_head_set(struct store_conn *c, int64_t seq,
                     const uint8_t hash[STORE_AUDIT_HASH_LEN], struct err *e)
{
    /* after a claim from the batch's own copy the row still holds seq - 1:
     * ADVANCE moves seq and hash together */
    int advance = c->head_known && c->head_claimed;
    struct db_stmt *st = db_prep(c->dbc, advance ? DB_AUDIT_HEAD_ADVANCE
                                                 : DB_AUDIT_HEAD_SET, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, seq);
    db_bind_bytes(st, 2, hash, STORE_AUDIT_HASH_LEN);
    if ((rc = db_step_later(st, NULL, e, ERR_INTERNAL, "the audit head "
                            "moved under the append of seq %lld",
                            (long long)seq)) != ERR_OK)
        return rc;
    if (db_in_batch(c->dbc)) {
        c->head_known = 1;
        c->head_seq = seq;
        memcpy(c->head_hash, hash, STORE_AUDIT_HASH_LEN);
    }
    c->head_claimed = 0;
    return ERR_OK;
}

err_code
store_audit_head_row(struct store_conn *c, int64_t *seq,
                     uint8_t hash[STORE_AUDIT_HASH_LEN], int *has_hash,
                     int *found, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_AUDIT_HEAD_ROW, e);

    if (st == NULL)
        return db_prep_failed(e);
    return head_step(st, seq, hash, has_hash, found, e);
}

err_code
store_audit_insert_chained(struct store_conn *c, int64_t seq,
                           const struct store_audit_row *row,
                           const uint8_t hash[STORE_AUDIT_HASH_LEN],
                           struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_AUDIT_INSERT_CHAINED, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, seq);
    db_bind_i64(st, 2, row->ts_ms);
    db_bind_id(st, 3, row->account_id);
    db_bind_text(st, 4, row->role);
    db_bind_text(st, 5, row->client_addr);
    db_bind_text(st, 6, row->request_id);
    db_bind_text(st, 7, row->action);
    db_bind_text(st, 8, row->target_type);
    db_bind_text(st, 9, row->target_id);
    db_bind_text(st, 10, row->outcome);
    db_bind_text(st, 11, row->reason);
    db_bind_text(st, 12, row->details);
    db_bind_bytes(st, 13, hash, STORE_AUDIT_HASH_LEN);
    db_bind_id(st, 14, row->via_account_id);
    return db_step_later(st, NULL, e, ERR_OK, NULL);
}

/* Fill en from the current row of a statement selecting AUDIT_COLS (the
 * text and the hash are borrowed from the statement until its next step). */
static void
entry_row(struct db_stmt *st, struct store_audit_entry *en)
{
    en->seq = db_col_i64(st, 0);
    en->ts_ms = db_col_i64(st, 1);
    en->account_id = db_col_i64(st, 2);
    en->role = db_col_text(st, 3);
    en->client_addr = db_col_text(st, 4);
    en->request_id = db_col_text(st, 5);
    en->action = db_col_text(st, 6);
    en->target_type = db_col_text(st, 7);
    en->target_id = db_col_text(st, 8);
    en->outcome = db_col_text(st, 9);
    en->reason = db_col_text(st, 10);
    en->details = db_col_text(st, 11);
    en->hash = db_col_bytes(st, 12, &en->hash_len);
    en->via_account_id = db_col_i64(st, 13);
}

/* Step st to the end, calling fn per row; releases st. */
static err_code
walk_rows(struct db_stmt *st, store_audit_fn fn, void *ctx, struct err *e)
{
    struct store_audit_entry en;
    enum db_row row;
    err_code rc;

    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        entry_row(st, &en);
        if ((rc = fn(ctx, &en)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

err_code
store_audit_walk(struct store_conn *c, int64_t after, store_audit_fn fn,
                 void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_AUDIT_WALK, e);

    /* a database not migrated past 014 has no via_account_id: an old
     * backup is verified as it is (its rows have no portal) */
    if (st == NULL) {
        err_clear(e);
        st = db_prep(c->dbc, DB_AUDIT_WALK_V1, e);
    }
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, after);
    return walk_rows(st, fn, ctx, e);
}

err_code
store_audit_query(struct store_conn *c, const struct store_audit_filter *f,
                  store_audit_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st;

    if (f->nscope > STORE_MAX_ROLES)
        return err_set(e, ERR_INTERNAL, "audit query: scope too large");
    if ((st = db_prep(c->dbc, DB_AUDIT_QUERY, e)) == NULL)
        return db_prep_failed(e);
    db_bind_id(st, 1, f->org_id);
    db_bind_i64(st, 2, f->after);
    db_bind_id(st, 3, f->from_ms);
    db_bind_id(st, 4, f->to_ms);
    db_bind_id(st, 5, f->account_id);
    db_bind_text(st, 6, f->action);
    db_bind_text(st, 7, f->outcome);
    db_bind_text(st, 8, f->target_type);
    db_bind_text(st, 9, f->target_id);
    db_bind_int(st, 10, f->limit);
    db_bind_id_set(st, 11, f->scope, f->nscope);
    db_bind_int(st, 12, f->scoped != 0);
    return walk_rows(st, fn, ctx, e);
}

/* ---- checkpoints ---- */

/* Copy a bytes column into dst (cap bytes); 0 if it does not fit. */
static size_t
blob_col(struct db_stmt *st, int col, uint8_t *dst, size_t cap)
{
    size_t n;
    const void *p = db_col_bytes(st, col, &n);

    if (p == NULL || n > cap)
        return 0;
    memcpy(dst, p, n);
    return n;
}

/* Fill cp from the current row of a statement selecting CP_COLS. */
static void
cp_row(struct db_stmt *st, struct store_audit_checkpoint *cp)
{
    memset(cp, 0, sizeof(*cp));
    cp->id = db_col_i64(st, 0);
    cp->seq = db_col_i64(st, 1);
    if (blob_col(st, 2, cp->head_hash, sizeof(cp->head_hash))
        != STORE_AUDIT_HASH_LEN)
        memset(cp->head_hash, 0, sizeof(cp->head_hash));
    cp->ts_ms = db_col_i64(st, 3);
    db_col_copy(st, 4, cp->key_ref, sizeof(cp->key_ref));
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
    struct db_stmt *st = db_prep(c->dbc, DB_AUDIT_CHECKPOINT_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, cp->seq);
    db_bind_bytes(st, 2, cp->head_hash, STORE_AUDIT_HASH_LEN);
    db_bind_i64(st, 3, cp->ts_ms);
    db_bind_text(st, 4, cp->key_ref);
    db_bind_bytes(st, 5, cp->public_key, cp->public_key_len);
    db_bind_bytes(st, 6, cp->signature, cp->signature_len);
    return db_step_done(st, e);
}

err_code
store_audit_checkpoint_latest(struct store_conn *c,
                              struct store_audit_checkpoint *out,
                              struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_AUDIT_CHECKPOINT_LATEST, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    if ((rc = db_step_row(st, "checkpoint", e)) != ERR_OK)
        return rc;
    cp_row(st, out);
    db_release(st);
    return ERR_OK;
}

err_code
store_audit_checkpoint_list(struct store_conn *c, store_checkpoint_fn fn,
                            void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_AUDIT_CHECKPOINT_LIST, e);
    struct store_audit_checkpoint cp;
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        cp_row(st, &cp);
        if ((rc = fn(ctx, &cp)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
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

    if ((rc = store_open_readonly(src_path, NULL, &s, &c, e)) != ERR_OK)
        return rc;
    rc = db_backup(c->dbc, dest_path, e);
    store_close(s);
    return rc;
}
