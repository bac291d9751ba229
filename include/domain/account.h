/*
 * account.h - domain logic for organisations, accounts, roles, credentials
 * and deputies.  Every function checks the caller's authority, enforces the
 * separation-of-duties rules, runs its own transaction and writes its audit
 * record; none of them knows about HTTP.
 */
#ifndef SEALD_ACCOUNT_H
#define SEALD_ACCOUNT_H

#include <stdint.h>

#include "audit.h"
#include "auth.h"
#include "authz.h"
#include "store_types.h"

#define ACCOUNT_NAME_MAX      64
#define ACCOUNT_DISPLAY_MAX   120
#define ORG_NAME_MAX          200
#define DEPUTY_MAX_DAYS       90
#define DEPUTY_REASON_MAX     500

/* ---- organisations ---- */

/* kind: region, agency, department, branch.  credit_code: 18 characters
 * (unified social credit code) or NULL.  parent_id 0 only for a region. */
err_code org_create(const struct actor_ctx *a, int64_t parent_id,
                    const char *name, const char *kind,
                    const char *credit_code, int64_t *id_out, struct err *e);
err_code org_update(const struct actor_ctx *a, int64_t id, const char *name,
                    const char *credit_code, struct err *e);
err_code org_disable(const struct actor_ctx *a, int64_t id, struct err *e);
err_code org_get(const struct actor_ctx *a, int64_t id, struct store_org *out,
                 struct err *e);
/* The organisations a may read (org.read over them) with id > after and
 * parent parent_id (-1: any), at most limit, by id, to fn. */
err_code org_list(const struct actor_ctx *a, int64_t parent_id,
                  int64_t after, int limit, store_org_fn fn, void *ctx,
                  struct err *e);
/* The organisation id whoever asks: the answer to a change a just made. */
err_code org_get_state(const struct actor_ctx *a, int64_t id,
                       struct store_org *out, struct err *e);

/* ---- accounts ---- */

struct account_new {
    const char *name;            /* [a-z0-9._-], 1..ACCOUNT_NAME_MAX  */
    const char *display_name;
    const char *kind;            /* person or system                  */
    int64_t     org_id;
    const char *cert_subject;    /* system accounts: certificate DNs  */
    const char *cert_issuer;
    int         api_key;         /* system accounts: also an API key  */
};

/* Create an account; people (and systems asking for one) get an initial
 * credential in cred (shown once; caller wipes), *issued says whether. */
err_code account_create(const struct actor_ctx *a, const struct account_new *n,
                        const struct auth_key *k, int64_t max_age_ms,
                        int64_t *id_out, char cred[AUTH_CREDENTIAL_LEN + 1],
                        int *issued, struct err *e);

err_code account_get(const struct actor_ctx *a, int64_t id,
                     struct store_account *out, struct err *e);

/* An account as a reader sees it: the record and the roles it holds now,
 * granted and as a deputy. */
struct account_view {
    struct store_account acct;
    struct store_role    roles[STORE_MAX_ROLES];
    size_t               nroles;
};
typedef err_code (*account_view_fn)(void *ctx, const struct account_view *v);

/* Account id with its roles, if a may read it (account_get's rule). */
err_code account_view_get(const struct actor_ctx *a, int64_t id,
                          struct account_view *out, struct err *e);

/* Account id with its roles whoever asks: the answer to a change a just
 * made to it. */
err_code account_view_state(const struct actor_ctx *a, int64_t id,
                            struct account_view *out, struct err *e);

/* The accounts a may read (account.read over their organisation) with id
 * > after, in org_id unless 0, at most limit (1 .. STORE_PAGE_MAX), by
 * id, each with its roles, to fn.  The page is read first and the roles
 * after it, so that no query runs inside another's rows. */
err_code account_list(const struct actor_ctx *a, int64_t org_id,
                      int64_t after, int limit, account_view_fn fn,
                      void *ctx, struct err *e);

/* Disable an account and revoke its credentials. */
err_code account_disable(const struct actor_ctx *a, int64_t id,
                         struct err *e);

/* Issue a new initial credential (the old ones are revoked), e.g. when the
 * holder lost theirs.  Not for oneself: use account_rotate_credential.  The
 * account is then held (rule SOD-7) until account_reconfirm. */
err_code account_issue_credential(const struct actor_ctx *a, int64_t id,
                                  const struct auth_key *k, int64_t max_age_ms,
                                  char cred[AUTH_CREDENTIAL_LEN + 1],
                                  struct err *e);

/* Re-confirm an account held after a credential reset (rule SOD-7): a
 * security administrator for its organisation, neither the account nor the
 * one who reset it.  Its roles are in force again. */
err_code account_reconfirm(const struct actor_ctx *a, int64_t id,
                           struct err *e);
/* Revoke every credential of an account; *n gets how many. */
err_code account_revoke_credentials(const struct actor_ctx *a, int64_t id,
                                    int *n, struct err *e);

/* Replace the caller's own credential (revokes the presented one). */
err_code account_rotate_credential(const struct actor_ctx *a,
                                   const struct auth_key *k,
                                   int64_t max_age_ms,
                                   char out[AUTH_CREDENTIAL_LEN + 1],
                                   struct err *e);

/* ---- roles ---- */

err_code account_grant_role(const struct actor_ctx *a, int64_t id,
                            const char *role, int64_t scope_org_id,
                            struct err *e);
/* Appoint the first security administrator: allowed to a system
 * administrator of a root organisation while nobody holds secadmin, so that
 * a new instance can leave the bootstrap state.  ERR_CONFLICT afterwards. */
err_code account_bootstrap_secadmin(const struct actor_ctx *a, int64_t id,
                                    struct err *e);

err_code account_remove_role(const struct actor_ctx *a, int64_t id,
                             const char *role, int64_t scope_org_id,
                             struct err *e);

/* ---- deputies ---- */

/* The caller (a custodian for scope_org_id) names deputy_id for
 * [start_ms, end_ms); the record waits for an approver. */
err_code deputy_request(const struct actor_ctx *a, int64_t deputy_id,
                        int64_t scope_org_id, int64_t start_ms,
                        int64_t end_ms, const char *reason, int64_t *id_out,
                        struct err *e);

/* The deputy records a may read: their own (as custodian or deputy) and,
 * for an approver, those whose scope lies in the organisations they
 * approve deputies for; id > after, by id, at most limit, to fn. */
err_code deputy_list(const struct actor_ctx *a, int64_t after, int limit,
                     store_deputy_fn fn, void *ctx, struct err *e);

/* Deputy record id whoever asks: the answer to a change a just made. */
err_code deputy_get_state(const struct actor_ctx *a, int64_t id,
                          struct store_deputy *out, struct err *e);

/* An approver (neither the custodian nor the deputy) approves or rejects. */
err_code deputy_decide(const struct actor_ctx *a, int64_t id, int approve,
                       struct err *e);

#endif
