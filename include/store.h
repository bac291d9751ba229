/*
 * store.h - the database layer: the only code that speaks SQL.
 *
 * One struct store per process holds where the database is; each thread that
 * needs the database gets its own connection (struct store_conn) from
 * store_conn_get(), with its prepared statements cached.  Every statement is
 * prepared with bound parameters: no SQL is ever built from strings.
 * Nothing here keeps state another seald node would need: all of it is in the
 * database.
 */
#ifndef SEALD_STORE_H
#define SEALD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct store;
struct store_conn;

#define STORE_NAME_MAX   128
#define STORE_ROLE_MAX   32
#define STORE_MAX_ROLES  32

/* Open (create = 1: create if missing) the SQLite database at path.  The
 * returned store is shared by all threads; free with store_close(). */
err_code store_open(const char *path, long busy_timeout_ms, int create,
                    struct store **out, struct err *e);

/* Close every connection and free the store.  No thread may still use it. */
void store_close(struct store *s);

/* The calling thread's connection (opened on first use; owned by the store,
 * never freed by the caller). */
err_code store_conn_get(struct store *s, struct store_conn **out,
                        struct err *e);

/* Apply every migration newer than the schema_version table says, each in
 * its own transaction.  *applied (may be NULL) gets how many ran. */
err_code store_migrate(struct store *s, int *applied, struct err *e);

/* Highest applied schema version (0 for an empty database; 0 also on
 * failure). */
err_code store_schema_version(struct store_conn *c, int *version,
                              struct err *e);

/* Transactions.  begin takes the write lock at once (BEGIN IMMEDIATE) so a
 * writer never fails half-way on a lock upgrade. */
err_code store_begin(struct store_conn *c, struct err *e);
err_code store_commit(struct store_conn *c, struct err *e);
void     store_rollback(struct store_conn *c);

/*
 * Group commit: run fn(conn, ctx, e) inside a write transaction shared
 * with whatever other threads run at the same time, and return when that
 * transaction has committed.  fn must do all its work on conn (which may
 * be another thread's connection), must not begin, commit or roll back,
 * and may be run at most once.  When fn fails, only its own writes are
 * undone and its error is returned; an ERR_DB from any fn, or a failed
 * commit, fails every fn of the group with ERR_DB and nothing of the group
 * is written.  ERR_OK means fn's writes are durable.
 */
typedef err_code (*store_work_fn)(struct store_conn *conn, void *ctx,
                                  struct err *e);
err_code store_group_run(struct store_conn *c, store_work_fn fn, void *ctx,
                         struct err *e);

/* A trivial query proving the database answers (for /readyz). */
err_code store_ping(struct store_conn *c, struct err *e);

/* ---- organisations ---- */

#define STORE_DN_MAX     512
#define STORE_CODE_MAX   32
#define STORE_PAGE_MAX   500

struct store_org {
    int64_t id;
    int64_t parent_id;           /* 0: a root */
    char    name[STORE_NAME_MAX * 2];
    char    kind[16];
    char    credit_code[STORE_CODE_MAX];
    int     disabled;
    int64_t created_ms;
};

/* List callbacks: return ERR_OK to go on; anything else stops the walk and
 * is returned by the list function. */
typedef err_code (*store_org_fn)(void *ctx, const struct store_org *o);

err_code store_org_insert(struct store_conn *c, int64_t parent_id,
                          const char *name, const char *kind,
                          const char *credit_code, int64_t now_ms,
                          int64_t *id_out, struct err *e);

/* ERR_NOT_FOUND if there is no such organisation. */
err_code store_org_get(struct store_conn *c, int64_t id,
                       struct store_org *out, struct err *e);

/* Organisations with id > after in the subtrees of the nscope scope
 * organisations (at most STORE_MAX_ROLES; the reader's), and with parent
 * == parent_id unless it is -1, by id, at most limit.  The scope is
 * applied before LIMIT. */
err_code store_org_list(struct store_conn *c, const int64_t *scope,
                        size_t nscope, int64_t parent_id, int64_t after,
                        int limit, store_org_fn fn, void *ctx,
                        struct err *e);

/* Change name and credit code (NULL: keep).  ERR_NOT_FOUND if absent. */
err_code store_org_update(struct store_conn *c, int64_t id, const char *name,
                          const char *credit_code, struct err *e);

/* Disable organisation id and its whole subtree; *n (may be NULL) gets
 * how many were newly disabled.  ERR_NOT_FOUND if id is absent. */
err_code store_org_set_disabled(struct store_conn *c, int64_t id, int *n,
                                struct err *e);

/* *yes = 1 if org or one of its ancestors is disabled. */
err_code store_org_disabled_within(struct store_conn *c, int64_t org,
                                   int *yes, struct err *e);

/* *yes = 1 if org is ancestor or org itself lies in ancestor's subtree. */
err_code store_org_in_subtree(struct store_conn *c, int64_t ancestor,
                              int64_t org, int *yes, struct err *e);

/* ---- accounts and roles ---- */

struct store_account {
    int64_t id;
    char    name[STORE_NAME_MAX];
    char    kind[16];
    char    display_name[STORE_NAME_MAX];
    int64_t org_id;
    char    cert_subject[STORE_DN_MAX];
    char    cert_issuer[STORE_DN_MAX];
    int     disabled;
    int64_t created_ms;
    int64_t held_by;             /* non-zero: held after a credential reset
                                    by this account (rule SOD-7)         */
    int64_t held_ms;
};

struct store_role {
    char    role[STORE_ROLE_MAX];
    int64_t scope_org_id;
    int64_t deputy_id;           /* non-zero: held as a deputy (deputies.id) */
};

typedef err_code (*store_account_fn)(void *ctx,
                                     const struct store_account *a);

/* cert_subject/cert_issuer NULL for people. */
err_code store_account_insert(struct store_conn *c, const char *name,
                              const char *kind, const char *display_name,
                              int64_t org_id, const char *cert_subject,
                              const char *cert_issuer, int64_t created_by,
                              int64_t now_ms, int64_t *id_out,
                              struct err *e);

/* ERR_NOT_FOUND if there is no such account. */
err_code store_account_get(struct store_conn *c, int64_t id,
                           struct store_account *out, struct err *e);

/* The system account whose certificate has exactly this subject and issuer;
 * ERR_NOT_FOUND if none. */
err_code store_account_by_cert(struct store_conn *c, const char *subject,
                               const char *issuer, struct store_account *out,
                               struct err *e);

/* Accounts with id > after of the organisations in the subtrees of the
 * nscope scope organisations (at most STORE_MAX_ROLES; the reader's), in
 * org_id unless it is 0, by id, at most limit.  The scope is applied
 * before LIMIT. */
err_code store_account_list(struct store_conn *c, const int64_t *scope,
                            size_t nscope, int64_t org_id, int64_t after,
                            int limit, store_account_fn fn, void *ctx,
                            struct err *e);

err_code store_account_set_disabled(struct store_conn *c, int64_t id,
                                    struct err *e);

err_code store_role_insert(struct store_conn *c, int64_t account_id,
                           const char *role, int64_t scope_org_id,
                           int64_t granted_by, int64_t now_ms,
                           struct err *e);

/* End an active grant.  ERR_NOT_FOUND if there is none. */
err_code store_role_remove(struct store_conn *c, int64_t account_id,
                           const char *role, int64_t scope_org_id,
                           int64_t removed_by, int64_t now_ms,
                           struct err *e);

/* Up to max active roles of the account into roles[], plus the custodian
 * authority the account holds as an approved deputy at now_ms; *n gets how
 * many. */
err_code store_account_roles(struct store_conn *c, int64_t account_id,
                             int64_t now_ms, struct store_role *roles,
                             size_t max, size_t *n, struct err *e);

/* Like store_account_roles, but with every deputy period that names the
 * account and has not ended, requested or approved, whether it has begun
 * or not: what the account holds or may come to hold (separation-of-duties
 * checks).  deputy_id is set for those. */
err_code store_account_roles_ahead(struct store_conn *c, int64_t account_id,
                                   int64_t now_ms, struct store_role *roles,
                                   size_t max, size_t *n, struct err *e);

/* Hold account id after a credential reset by `by` at now_ms (rule SOD-7),
 * or release it (by 0).  ERR_NOT_FOUND if there is no such account. */
err_code store_account_set_held(struct store_conn *c, int64_t id, int64_t by,
                                int64_t now_ms, struct err *e);

/* How many active accounts other than except_id hold role and are not held
 * after a credential reset. */
err_code store_role_count_in_force(struct store_conn *c, const char *role,
                                   int64_t except_id, int64_t *count,
                                   struct err *e);

/* How many accounts hold role actively. */
err_code store_role_count(struct store_conn *c, const char *role,
                          int64_t *count, struct err *e);

/* ---- deputies ---- */

struct store_deputy {
    int64_t id;
    int64_t custodian_id;
    int64_t deputy_id;
    int64_t scope_org_id;
    int64_t start_ms, end_ms;
    char    reason[512];
    char    state[16];
    int64_t created_ms;
    int64_t approved_by;
    int64_t approved_ms;
};

typedef err_code (*store_deputy_fn)(void *ctx, const struct store_deputy *d);

err_code store_deputy_insert(struct store_conn *c,
                             const struct store_deputy *d, int64_t *id_out,
                             struct err *e);
err_code store_deputy_get(struct store_conn *c, int64_t id,
                          struct store_deputy *out, struct err *e);
/* Move from state `from` to `to`; ERR_CONFLICT if it was not in `from`. */
err_code store_deputy_transition(struct store_conn *c, int64_t id,
                                 const char *from, const char *to,
                                 int64_t by, int64_t now_ms, struct err *e);
/* Deputy records with id > after where account_id is the custodian or the
 * deputy, or whose scope organisation lies in the subtrees of the nscope
 * scope organisations (at most STORE_MAX_ROLES: those the reader approves
 * deputies for), by id, at most limit; the scope is applied before
 * LIMIT. */
err_code store_deputy_list(struct store_conn *c, int64_t account_id,
                           const int64_t *scope, size_t nscope,
                           int64_t after, int limit, store_deputy_fn fn,
                           void *ctx, struct err *e);

/* ---- authentication failures (lockout) ---- */

/* Record one failure of subject (kind "account" or "address") at now_ms:
 * failures within window_ms are counted; reaching threshold locks the
 * subject until now_ms + lock_ms.  *locked_until gets the lock end (0 if
 * not locked). */
err_code store_authfail_record(struct store_conn *c, const char *kind,
                               const char *subject, int64_t now_ms,
                               int64_t window_ms, long threshold,
                               int64_t lock_ms, int64_t *locked_until,
                               struct err *e);

/* Add n failures of subject at now_ms, in the caller's transaction (or
 * autocommit): counted within window_ms as store_authfail_record does,
 * and reaching threshold locks it until now_ms + lock_ms.  Used by
 * lockout.c to write a batch of failures with one commit. */
err_code store_authfail_add(struct store_conn *c, const char *kind,
                            const char *subject, long n, int64_t now_ms,
                            int64_t window_ms, long threshold,
                            int64_t lock_ms, struct err *e);

/* The failures of subject counted in the window that is open at now_ms
 * (0 if none, or the window is over) and its lock end (0: not locked). */
err_code store_authfail_get(struct store_conn *c, const char *kind,
                            const char *subject, int64_t now_ms,
                            int64_t window_ms, long *failures,
                            int64_t *locked_until, struct err *e);

/* The lock end of subject (0 if not locked or unknown); *counted (may be
 * NULL) is 1 when subject has failures counted and is not locked, the case
 * store_authfail_clear clears. */
err_code store_authfail_locked_until(struct store_conn *c, const char *kind,
                                     const char *subject,
                                     int64_t *locked_until, int *counted,
                                     struct err *e);

/* Forget the failures of subject (after a success). */
err_code store_authfail_clear(struct store_conn *c, const char *kind,
                              const char *subject, struct err *e);

/* ---- credentials ---- */

#define STORE_MAC_MAX 64

struct store_credential {
    int64_t id;
    int64_t account_id;
    uint8_t mac[STORE_MAC_MAX];
    size_t  mac_len;
    int     initial;
    int64_t created_ms;
    int64_t expires_ms;
    int64_t revoked_ms;          /* 0: not revoked */
};

err_code store_credential_insert(struct store_conn *c, int64_t account_id,
                                 const char *key_id, const uint8_t *mac,
                                 size_t mac_len, int initial, int64_t now_ms,
                                 int64_t expires_ms, struct err *e);

/* Mark a credential revoked at now_ms (no-op if already revoked). */
err_code store_credential_revoke(struct store_conn *c, int64_t id,
                                 int64_t now_ms, struct err *e);

/* Revoke every live credential of an account; *n (may be NULL) gets how
 * many. */
err_code store_credential_revoke_all(struct store_conn *c, int64_t account_id,
                                     int64_t now_ms, int *n, struct err *e);

/* ERR_NOT_FOUND if no credential has this key id. */
err_code store_credential_by_key_id(struct store_conn *c, const char *key_id,
                                    struct store_credential *out,
                                    struct err *e);

/* ---- audit ---- */

struct store_audit_row {
    int64_t     ts_ms;
    int64_t     account_id;      /* 0: none (unauthenticated) */
    const char *role;
    const char *client_addr;
    const char *request_id;
    const char *action;
    const char *target_type;
    const char *target_id;
    const char *outcome;         /* ok, refused, failed */
    const char *reason;
    const char *details;         /* JSON text or NULL */
};

/* Inserted by store_audit_insert_chained() (the store-audit block). */

/* The audit chain's SQL (src/store_audit.c).  audit.c computes the hashes;
 * these functions only read and write rows. */

#define STORE_AUDIT_HASH_LEN   32
#define STORE_AUDIT_KEYREF_MAX 160   /* "token/hexid" */
#define STORE_AUDIT_PUBKEY_MAX 256   /* SubjectPublicKeyInfo DER */
#define STORE_AUDIT_SIG_MAX    80    /* DER SM2 signature */

/* One stored audit row as read back (strings borrowed from the statement:
 * valid only during the callback; NULL where the column is NULL). */
struct store_audit_entry {
    int64_t        seq;
    int64_t        ts_ms;
    int64_t        account_id;   /* 0: NULL */
    const char    *role, *client_addr, *request_id, *action;
    const char    *target_type, *target_id, *outcome, *reason, *details;
    const uint8_t *hash;         /* NULL for rows older than the chain */
    size_t         hash_len;
};

typedef err_code (*store_audit_fn)(void *ctx,
                                   const struct store_audit_entry *en);

/* 1 if a transaction is open on c (sqlite3_get_autocommit() == 0). */
int store_in_transaction(struct store_conn *c);

/* The newest row: *seq (0 for an empty log) and its stored hash into
 * hash[STORE_AUDIT_HASH_LEN] (*has_hash 0 if the row has none). */
err_code store_audit_head(struct store_conn *c, int64_t *seq,
                          uint8_t hash[STORE_AUDIT_HASH_LEN], int *has_hash,
                          struct err *e);

/* Insert a row with an explicit seq and hash (no AUTOINCREMENT gaps). */
err_code store_audit_insert_chained(struct store_conn *c, int64_t seq,
                                    const struct store_audit_row *row,
                                    const uint8_t hash[STORE_AUDIT_HASH_LEN],
                                    struct err *e);

/* Every row with seq > after, by seq (the chain walk). */
err_code store_audit_walk(struct store_conn *c, int64_t after,
                          store_audit_fn fn, void *ctx, struct err *e);

/* Query filters; zero/NULL fields do not filter. */
struct store_audit_filter {
    int64_t     after;           /* seq > after */
    int64_t     from_ms, to_ms;  /* ts_ms >= from_ms, ts_ms < to_ms */
    int64_t     account_id;
    int64_t     org_id;          /* actor's account in this org's subtree */
    const char *action;
    const char *outcome;
    const char *target_type;
    const char *target_id;
    int         limit;
    /* The reader's scope (audit_query sets it; the offline CLI, run by
     * whoever holds the database file, does not): when scoped, only the
     * entries of actors whose organisation lies in the subtrees of the
     * nscope scope organisations (at most STORE_MAX_ROLES), and the
     * entries without an actor (anonymous refusals, maintenance) only
     * for a reader whose scope holds a root organisation. */
    int            scoped;
    const int64_t *scope;
    size_t         nscope;
};

err_code store_audit_query(struct store_conn *c,
                           const struct store_audit_filter *f,
                           store_audit_fn fn, void *ctx, struct err *e);

struct store_audit_checkpoint {
    int64_t id;
    int64_t seq;
    uint8_t head_hash[STORE_AUDIT_HASH_LEN];
    int64_t ts_ms;
    char    key_ref[STORE_AUDIT_KEYREF_MAX];
    uint8_t public_key[STORE_AUDIT_PUBKEY_MAX];
    size_t  public_key_len;
    uint8_t signature[STORE_AUDIT_SIG_MAX];
    size_t  signature_len;
};

typedef err_code (*store_checkpoint_fn)(void *ctx,
                                        const struct store_audit_checkpoint *cp);

err_code store_audit_checkpoint_insert(struct store_conn *c,
                                       const struct store_audit_checkpoint *cp,
                                       struct err *e);

/* The newest checkpoint (highest id); ERR_NOT_FOUND if there is none. */
err_code store_audit_checkpoint_latest(struct store_conn *c,
                                       struct store_audit_checkpoint *out,
                                       struct err *e);

/* Every checkpoint by (seq, id). */
err_code store_audit_checkpoint_list(struct store_conn *c,
                                     store_checkpoint_fn fn, void *ctx,
                                     struct err *e);

/* Copy the live database into dest_path with SQLite's online backup API
 * (readers and writers go on meanwhile; WAL).  Written to dest_path.tmp,
 * fsync'ed and renamed, so dest_path is either absent or complete. */
err_code store_backup(struct store_conn *c, const char *dest_path,
                      struct err *e);

/* Open an existing database read-only (no PRAGMA changes the file: for the
 * offline verifier and for checking backups).  *conn is the store's one
 * connection, for the calling thread only; free with store_close(*out). */
err_code store_open_readonly(const char *path, struct store **out,
                             struct store_conn **conn, struct err *e);

/* Copy the database file src_path into dest_path the same way (restore). */
err_code store_copy_file(const char *src_path, const char *dest_path,
                         struct err *e);

/* ---- seal applications and history (store_seal.c) ---- */

#define STORE_TEXT_MAX 512
#define STORE_KEYREF_MAX 160  /* "token/hex-id" */

struct store_app {
    int64_t id;
    int64_t org_id;
    int64_t applicant_id;
    char    purpose[16];
    int64_t replaces_seal_id;
    char    kind[16];
    char    subkind[24];
    char    business[24];
    char    position[STORE_NAME_MAX];
    char    seal_name[STORE_NAME_MAX * 2];
    int64_t custodian_id;
    char    image_type[8];
    uint8_t image_sm3[32];
    int     width_px, height_px, width_mm, height_mm;
    char    reason[STORE_TEXT_MAX];
    char    state[16];
    char    state_reason[STORE_TEXT_MAX];
    int64_t reviewer_id;
    char    holder_key[STORE_KEYREF_MAX];
    int     revision;
    int64_t created_ms, updated_ms;
};

struct store_material {
    int64_t     id;
    int         revision;
    char        name[STORE_NAME_MAX];
    char        media_type[64];
    int64_t     size_bytes;
    uint8_t     sm3[32];
    const void *data;            /* insert only; not filled by listing */
};

struct store_history {
    int64_t id;
    char    from_state[16];
    char    to_state[16];
    int64_t actor_id;
    int64_t ts_ms;
    char    reason[STORE_TEXT_MAX];
};

typedef err_code (*store_app_fn)(void *ctx, const struct store_app *a);
typedef err_code (*store_material_fn)(void *ctx,
                                      const struct store_material *m);
typedef err_code (*store_history_fn)(void *ctx,
                                     const struct store_history *h);

/* Insert an application (state and revision from *a) with its image. */
err_code store_app_insert(struct store_conn *c, const struct store_app *a,
                          const void *image, size_t image_len,
                          int64_t *id_out, struct err *e);

/* Replace the content of an application on resubmission: every field the
 * applicant gives, the image, revision + 1. */
err_code store_app_replace(struct store_conn *c, const struct store_app *a,
                           const void *image, size_t image_len,
                           struct err *e);

/* ERR_NOT_FOUND if absent. */
err_code store_app_get(struct store_conn *c, int64_t id,
                       struct store_app *out, struct err *e);

/* The image bytes; *buf malloc'ed, caller frees. */
err_code store_app_image(struct store_conn *c, int64_t id, uint8_t **buf,
                         size_t *len, struct err *e);

/* Move from state `from` to `to` with reason (may be NULL) and reviewer (0:
 * keep); ERR_CONFLICT if it was not in `from`. */
err_code store_app_transition(struct store_conn *c, int64_t id,
                              const char *from, const char *to,
                              const char *reason, int64_t reviewer_id,
                              int64_t now_ms, struct err *e);

/* Applications with id > after that reader_id applied for or whose
 * organisation lies in the subtrees of the nscope scope organisations (at
 * most STORE_MAX_ROLES: the reader's), optionally of org (0: any) and in
 * state (NULL: any), by id, at most limit; the scope is applied before
 * LIMIT. */
err_code store_app_list(struct store_conn *c, int64_t reader_id,
                        const int64_t *scope, size_t nscope, int64_t org_id,
                        const char *state, int64_t after, int limit,
                        store_app_fn fn, void *ctx, struct err *e);

err_code store_material_insert(struct store_conn *c, int64_t app_id,
                               const struct store_material *m,
                               struct err *e);
err_code store_material_list(struct store_conn *c, int64_t app_id,
                             store_material_fn fn, void *ctx, struct err *e);

/* One history row for subject ("application" or "seal"). */
err_code store_history_insert(struct store_conn *c, const char *type,
                              int64_t id, const char *from, const char *to,
                              int64_t actor_id, int64_t now_ms,
                              const char *reason, struct err *e);
err_code store_history_list(struct store_conn *c, const char *type,
                            int64_t id, store_history_fn fn, void *ctx,
                            struct err *e);
/* ---- seals ---- */

#define STORE_ESID_MAX 64

struct store_seal {
    int64_t id;
    char    esid[STORE_ESID_MAX];
    char    lineage_esid[STORE_ESID_MAX];
    int64_t application_id;
    int64_t org_id;
    char    kind[16];
    char    name[STORE_NAME_MAX * 2];
    int64_t custodian_id;
    char    state[16];
    int64_t state_since_ms;
    char    reason_code[32];
    int     version;
    char    holder_key[STORE_KEYREF_MAX];
    int64_t valid_start_ms, valid_end_ms;
    int64_t predecessor_id;
    int64_t made_by, made_ms, confirmed_ms;
    char    filing_state[16];
    int64_t filed_ms;
    int64_t last_used_ms;
    char    hold[16];            /* why held (seal.c); "" when not held */
    char    before_loss[16];     /* state when its loss was reported, or "" */
    int64_t change_required_ms;  /* a rename made its name stale; 0: no */
};

typedef err_code (*store_seal_fn)(void *ctx, const struct store_seal *s);

/* Insert a seal (fields from *s) with its DER and certificate. */
err_code store_seal_insert(struct store_conn *c, const struct store_seal *s,
                           const uint8_t *seal_der, size_t seal_len,
                           const uint8_t *cert_der, size_t cert_len,
                           int64_t *id_out, struct err *e);

/* By esID; ERR_NOT_FOUND if absent. */
err_code store_seal_get(struct store_conn *c, const char *esid,
                        struct store_seal *out, struct err *e);
err_code store_seal_get_id(struct store_conn *c, int64_t id,
                           struct store_seal *out, struct err *e);

/* The seal file or the holder certificate (which: "seal" or "cert");
 * *buf malloc'ed, caller frees. */
err_code store_seal_blob(struct store_conn *c, int64_t id, const char *which,
                         uint8_t **buf, size_t *len, struct err *e);

/* One state change of a seal (the rules are seal.c's): from -> to, and
 * what the seal keeps in its new state; NULL clears a field. */
struct store_seal_move {
    const char *from, *to;
    const char *reason_code;
    const char *hold;            /* why it is held (seals.hold)           */
    const char *before_loss;     /* state when a loss was reported        */
};

/* Apply m to seal id at now_ms; ERR_CONFLICT if the seal is not in
 * m->from (it changed meanwhile). */
err_code store_seal_transition(struct store_conn *c, int64_t id,
                               const struct store_seal_move *m,
                               int64_t now_ms, struct err *e);

/* Flag a seal for change (a rename made its name stale) at now_ms, unless
 * it is flagged already; *flagged 1 if this call flagged it. */
err_code store_seal_flag_change(struct store_conn *c, int64_t id,
                                int64_t now_ms, int *flagged,
                                struct err *e);

/* Active seals of organisation org_id and its whole subtree, by id. */
err_code store_seal_list_active_subtree(struct store_conn *c, int64_t org_id,
                                        store_seal_fn fn, void *ctx,
                                        struct err *e);

/* Legal-name seals (kind official, subkind legal_name) of organisation
 * org_id that are not revoked or expired, by id. */
err_code store_seal_list_legal_name(struct store_conn *c, int64_t org_id,
                                    store_seal_fn fn, void *ctx,
                                    struct err *e);

/* Set confirmed_ms / filing state. */
err_code store_seal_confirmed(struct store_conn *c, int64_t id,
                              int64_t now_ms, struct err *e);
err_code store_seal_filed(struct store_conn *c, int64_t id, int64_t now_ms,
                          struct err *e);

/* Who may read which seals, for a list: the seals whose custodian is
 * reader_id, and those of the organisations in the subtrees of the
 * scope_orgs (the organisations of the reader's roles). */
struct store_seal_reader {
    int64_t        reader_id;
    const int64_t *scope_orgs;
    size_t         nscope;            /* at most STORE_MAX_ROLES */
};

/* The seals r may read with id > after, at most limit, in id order;
 * filters: org (0 any), kind / state (NULL any), valid_end before
 * expiring_before_ms (0 any).  The scope is applied in SQL, so a page
 * holds limit seals whenever there are that many more. */
err_code store_seal_list(struct store_conn *c,
                         const struct store_seal_reader *r, int64_t org_id,
                         const char *kind, const char *state,
                         int64_t expiring_before_ms, int64_t after,
                         int limit, store_seal_fn fn, void *ctx,
                         struct err *e);

/* Every seal not active, for the status list. */
err_code store_seal_list_inactive(struct store_conn *c, store_seal_fn fn,
                                  void *ctx, struct err *e);

/* Active seals unused (last use, else confirmation) since before_ms, or
 * whose validity ended before now_ms: for the maintenance job. */
err_code store_seal_list_stale(struct store_conn *c, int64_t before_ms,
                               int64_t now_ms, store_seal_fn fn, void *ctx,
                               struct err *e);

/* Next number in the esID sequence of region (1, 2, ...). */
err_code store_esid_next(struct store_conn *c, const char *region,
                         int64_t *seq, struct err *e);

/* Remember the holder key generated for an application. */
err_code store_app_set_holder_key(struct store_conn *c, int64_t id,
                                  const char *key_ref, struct err *e);

/* Copy an earlier application's content into a new one for a renewal or a
 * revocation request of its seal. */
err_code store_app_copy(struct store_conn *c, int64_t from_app,
                        int64_t applicant_id, const char *purpose,
                        int64_t seal_id, const char *reason, int64_t now_ms,
                        int64_t *id_out, struct err *e);

/* The instance's CA or maker certificate (role "ca" / "maker").  put
 * inserts or replaces; get gives key_ref (cap CONFIG-sized) and the DER
 * (*der malloc'ed, caller frees); ERR_NOT_FOUND if absent. */
err_code store_authority_put(struct store_conn *c, const char *role,
                             const char *key_ref, const uint8_t *der,
                             size_t len, int64_t now_ms, struct err *e);
err_code store_authority_get(struct store_conn *c, const char *role,
                             char *key_ref, size_t cap, uint8_t **der,
                             size_t *len, struct err *e);

/* ---- signing requests, documents, signatures (store_sign.c) ---- */

struct store_sreq {
    int64_t id;
    int64_t seal_id;
    int64_t submitter_id;
    int64_t deputy_id;
    char    title[STORE_NAME_MAX * 2];
    char    purpose[STORE_TEXT_MAX];
    int     copies;
    int64_t resubmits_id;
    int64_t extra_for_id;
    char    state[16];
    char    state_reason[STORE_TEXT_MAX];
    int64_t approver_id;
    int64_t approved_ms;
    int64_t expires_ms;
    int64_t created_ms, updated_ms;
};

struct store_sdoc {
    int64_t id;
    int64_t request_id;
    char    name[STORE_NAME_MAX * 2];
    int64_t size_bytes;
    uint8_t sm3[32];
    int     has_data;
    int     signatures;
};

struct store_sig {
    int64_t id;
    int64_t request_id, document_id, seal_id, org_id;
    int64_t signer_id, approver_id;
    char    client_addr[64];
    char    request_rid[40];
    uint8_t data_sm3[32];
    int64_t ts_ms;
    int     token_checked;       /* the value was verified before given out */
    int     token_suspect;       /* unchecked, and a later check failed     */
};

/* One row of the usage summary: signatures of a seal in a period. */
struct store_usage {
    int64_t seal_id;
    char    esid[STORE_ESID_MAX];
    char    seal_name[STORE_NAME_MAX * 2];
    int64_t org_id;
    int64_t count;
    int64_t first_ms, last_ms;
};

typedef err_code (*store_sdoc_fn)(void *ctx, const struct store_sdoc *d);
typedef err_code (*store_usage_fn)(void *ctx, const struct store_usage *u);
typedef err_code (*store_sig_fn)(void *ctx, const struct store_sig *s);

err_code store_sreq_insert(struct store_conn *c, const struct store_sreq *r,
                           int64_t *id_out, struct err *e);
err_code store_sreq_get(struct store_conn *c, int64_t id,
                        struct store_sreq *out, struct err *e);
/* from -> to with reason; approver/approved/expires set when non-zero;
 * ERR_CONFLICT if not in `from`. */
err_code store_sreq_transition(struct store_conn *c, int64_t id,
                               const char *from, const char *to,
                               const char *reason, int64_t approver_id,
                               int64_t approved_ms, int64_t expires_ms,
                               int64_t now_ms, struct err *e);
err_code store_sdoc_insert(struct store_conn *c, int64_t request_id,
                           const char *name, int64_t size,
                           const uint8_t sm3[32], const void *data,
                           size_t data_len, struct err *e);
err_code store_sdoc_list(struct store_conn *c, int64_t request_id,
                         store_sdoc_fn fn, void *ctx, struct err *e);
/* One document; with data != NULL also its bytes (*data malloc'ed, NULL
 * and *len 0 when only the hash was given). */
err_code store_sdoc_get(struct store_conn *c, int64_t id,
                        struct store_sdoc *out, uint8_t **data, size_t *len,
                        struct err *e);
/* Attach the bytes of a document named by hash only; ERR_CONFLICT if it
 * already has them. */
err_code store_sdoc_set_data(struct store_conn *c, int64_t id,
                             const void *data, size_t len, struct err *e);
/* Count one more signature of document id if fewer than copies were made;
 * ERR_CONFLICT when the grant is used up. */
err_code store_sdoc_take(struct store_conn *c, int64_t id, int copies,
                         struct err *e);
/* Signatures made under a request so far. */
err_code store_sreq_signed(struct store_conn *c, int64_t request_id,
                           int64_t *n, struct err *e);
/* A fault check on seal_id's token values failed: mark every signature of
 * the seal made since its last checked one, and not checked itself, as
 * suspect.  *n gets how many were marked. */
err_code store_sig_mark_suspect(struct store_conn *c, int64_t seal_id,
                                int64_t *n, struct err *e);

/* The record of signature der (of document hash data_sm3 with seal_id), if
 * this instance made it: *found 1 and *out filled, else *found 0. */
err_code store_sig_find(struct store_conn *c, int64_t seal_id,
                        const uint8_t data_sm3[32], const uint8_t *der,
                        size_t len, int *found, struct store_sig *out,
                        struct err *e);

err_code store_sig_insert(struct store_conn *c, const struct store_sig *s,
                          const uint8_t *der, size_t len, int64_t *id_out,
                          struct err *e);
/* A signature's record and (if der is not NULL) its DER, malloc'ed. */
err_code store_sig_get(struct store_conn *c, int64_t id,
                       struct store_sig *out, uint8_t **der, size_t *len,
                       struct err *e);
/* Usage records of seal (0: any) / org (0: any) in [from_ms, to_ms). */
err_code store_sig_list(struct store_conn *c, int64_t seal_id,
                        int64_t org_id, int64_t from_ms, int64_t to_ms,
                        int64_t after, int limit, store_sig_fn fn, void *ctx,
                        struct err *e);
/* Summary per seal of seal (0: any) / org (0: any) in [from_ms, to_ms). */
err_code store_usage_summary(struct store_conn *c, int64_t seal_id,
                             int64_t org_id, int64_t from_ms, int64_t to_ms,
                             store_usage_fn fn, void *ctx, struct err *e);
/* The seal was used now (drives automatic suspension). */
err_code store_seal_touch(struct store_conn *c, int64_t seal_id,
                          int64_t now_ms, struct err *e);

#endif
