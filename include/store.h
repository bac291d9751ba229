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

/* A schema migration compiled into the binary from sql/NNN_name.sql. */
struct store_migration {
    int         version;
    const char *name;
    const char *sql;
};
extern const struct store_migration store_migrations[];
extern const size_t store_migrations_count;

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

/* Highest applied schema version (0 for an empty database). */
err_code store_schema_version(struct store_conn *c, int *version,
                              struct err *e);

/* Transactions.  begin takes the write lock at once (BEGIN IMMEDIATE) so a
 * writer never fails half-way on a lock upgrade. */
err_code store_begin(struct store_conn *c, struct err *e);
err_code store_commit(struct store_conn *c, struct err *e);
void     store_rollback(struct store_conn *c);

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

/* Organisations with id > after (and parent == parent_id unless it is -1),
 * by id, at most limit. */
err_code store_org_list(struct store_conn *c, int64_t parent_id,
                        int64_t after, int limit, store_org_fn fn, void *ctx,
                        struct err *e);

/* Change name and credit code (NULL: keep).  ERR_NOT_FOUND if absent. */
err_code store_org_update(struct store_conn *c, int64_t id, const char *name,
                          const char *credit_code, struct err *e);

err_code store_org_set_disabled(struct store_conn *c, int64_t id,
                                struct err *e);

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

/* Accounts with id > after (in org_id unless it is 0), by id. */
err_code store_account_list(struct store_conn *c, int64_t org_id,
                            int64_t after, int limit, store_account_fn fn,
                            void *ctx, struct err *e);

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
/* Deputy records where account is custodian or deputy (account 0: all). */
err_code store_deputy_list(struct store_conn *c, int64_t account_id,
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

/* The lock end of subject (0 if not locked or unknown). */
err_code store_authfail_locked_until(struct store_conn *c, const char *kind,
                                     const char *subject,
                                     int64_t *locked_until, struct err *e);

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

err_code store_audit_insert(struct store_conn *c,
                            const struct store_audit_row *row,
                            int64_t *seq_out, struct err *e);

#endif
