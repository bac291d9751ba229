/*
 * store_account.h - the queries of store.c: organisations, accounts and
 * their roles, deputies, authentication failures, credentials.
 */
#ifndef SEALD_STORE_ACCOUNT_H
#define SEALD_STORE_ACCOUNT_H

#include "store.h"

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

#endif
