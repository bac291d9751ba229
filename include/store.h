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

/* ---- organisations and accounts ---- */

struct store_account {
    int64_t id;
    char    name[STORE_NAME_MAX];
    char    kind[16];
    char    display_name[STORE_NAME_MAX];
    int64_t org_id;
    int     disabled;
    int64_t created_ms;
};

struct store_role {
    char    role[STORE_ROLE_MAX];
    int64_t scope_org_id;
};

err_code store_org_insert(struct store_conn *c, int64_t parent_id,
                          const char *name, const char *kind,
                          const char *credit_code, int64_t now_ms,
                          int64_t *id_out, struct err *e);

err_code store_account_insert(struct store_conn *c, const char *name,
                              const char *kind, const char *display_name,
                              int64_t org_id, int64_t now_ms,
                              int64_t *id_out, struct err *e);

/* ERR_NOT_FOUND if there is no such account. */
err_code store_account_get(struct store_conn *c, int64_t id,
                           struct store_account *out, struct err *e);

err_code store_role_insert(struct store_conn *c, int64_t account_id,
                           const char *role, int64_t scope_org_id,
                           int64_t now_ms, struct err *e);

/* Up to max roles of the account into roles[]; *n gets how many. */
err_code store_account_roles(struct store_conn *c, int64_t account_id,
                             struct store_role *roles, size_t max, size_t *n,
                             struct err *e);

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
