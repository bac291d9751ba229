/*
 * account.c - organisations, accounts, roles, credentials and deputies
 * (account.h).  Each change is one unit of work (unit.h): the public
 * function checks what needs no database and runs its *_work function in
 * a unit, which does the authority checks, rule checks and writes and
 * names the audit entry; unit_run appends it and commits.  A refusal is
 * an error returned by the work: the unit rolls back and the HTTP layer
 * records the refusal.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "rbac.h"
#include "seal.h"
#include "sod.h"
#include "unit.h"
#include "util.h"
#include "store_account.h"

/* ---- organisations ---- */

static int
org_kind_ok(const char *kind)
{
    return !strcmp(kind, "region") || !strcmp(kind, "agency") ||
           !strcmp(kind, "department") || !strcmp(kind, "branch");
}

/* A unified social credit code: 18 characters of 0-9 and A-Z without
 * I, O, S, V, Z (GB 32100). */
static int
credit_code_ok(const char *s)
{
    size_t i;

    if (strlen(s) != 18)
        return 0;
    for (i = 0; i < 18; i++) {
        char ch = s[i];
        if (!(isdigit((unsigned char)ch) || (ch >= 'A' && ch <= 'Z')) ||
            strchr("IOSVZ", ch) != NULL)
            return 0;
    }
    return 1;
}

struct org_new_args {
    int64_t     parent_id;
    const char *name, *kind, *credit_code;
    int64_t    *id_out;
};

/* Only an account whose org.write scope is a root may add another root:
 * a new root is outside every scope but the whole tree's. */
static err_code
may_add_root(const struct actor_ctx *a, struct err *e)
{
    struct store_org o;
    size_t i;

    for (i = 0; i < a->p->nroles; i++)
        if (rbac_role_has(a->p->roles[i].role, PERM_ORG_WRITE) &&
            store_org_get(a->db, a->p->roles[i].scope_org_id, &o, NULL)
                == ERR_OK && o.parent_id == 0)
            return ERR_OK;
    return err_set(e, ERR_FORBIDDEN, "org.write over a root organisation "
                   "is needed");
}

static err_code
org_create_work(struct unit *u, void *ctx, struct err *e)
{
    struct org_new_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_org parent;
    err_code rc;

    if (w->parent_id == 0) {
        if ((rc = may_add_root(a, e)) != ERR_OK)
            return rc;
    } else {
        if ((rc = store_org_get(a->db, w->parent_id, &parent, e)) != ERR_OK)
            return rc == ERR_NOT_FOUND
                ? err_set(e, ERR_INVALID, "no parent organisation %lld",
                          (long long)w->parent_id) : rc;
        if (parent.disabled)
            return err_set(e, ERR_CONFLICT, "parent organisation is "
                           "disabled");
        if ((rc = authz_require(a->db, a->p, PERM_ORG_WRITE, w->parent_id,
                                e)) != ERR_OK)
            return rc;
    }
    if ((rc = store_org_insert(a->db, w->parent_id, w->name, w->kind,
                               w->credit_code, util_now_ms(), w->id_out, e))
        != ERR_OK)
        return rc;
    return unit_audit_id(u, "organisation.create", "organisation",
                         *w->id_out,
                         json_pack("{s:s, s:s, s:I}", "name", w->name, "kind",
                                   w->kind, "parent_id",
                                   (json_int_t)w->parent_id), e);
}

err_code
org_create(const struct actor_ctx *a, int64_t parent_id, const char *name,
           const char *kind, const char *credit_code, int64_t *id_out,
           struct err *e)
{
    struct org_new_args w = {parent_id, name, kind, credit_code, id_out};

    if (!org_kind_ok(kind))
        return err_set(e, ERR_INVALID, "kind must be region, agency, "
                       "department or branch");
    if (credit_code != NULL && !credit_code_ok(credit_code))
        return err_set(e, ERR_INVALID, "credit_code is not a unified social "
                       "credit code (18 characters)");
    if (parent_id == 0 && strcmp(kind, "region") != 0)
        return err_set(e, ERR_INVALID, "only a region may have no parent");
    return unit_run(a, org_create_work, &w, e);
}

struct org_update_args {
    int64_t     id;
    const char *name, *credit_code;
};

/* A new name makes the organisation's legal-name seals stale: they are
 * flagged for change in the same unit (seal.c). */
static err_code
org_update_work(struct unit *u, void *ctx, struct err *e)
{
    struct org_update_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_org old;
    int flagged = 0;
    err_code rc;

    if ((rc = authz_require(a->db, a->p, PERM_ORG_WRITE, w->id, e))
        != ERR_OK ||
        (rc = store_org_get(a->db, w->id, &old, e)) != ERR_OK ||
        (rc = store_org_update(a->db, w->id, w->name, w->credit_code, e))
        != ERR_OK)
        return rc;
    if (w->name != NULL && strcmp(w->name, old.name) != 0 &&
        (rc = seal_org_renamed_in_tx(u, w->id, old.name, w->name, &flagged,
                                     e)) != ERR_OK)
        return rc;
    return unit_audit_id(u, "organisation.update", "organisation", w->id,
                         json_pack("{s:s?, s:s?, s:i}", "name", w->name,
                                   "credit_code", w->credit_code,
                                   "seals_flagged", flagged), e);
}

err_code
org_update(const struct actor_ctx *a, int64_t id, const char *name,
           const char *credit_code, struct err *e)
{
    struct org_update_args w = {id, name, credit_code};

    if (credit_code != NULL && !credit_code_ok(credit_code))
        return err_set(e, ERR_INVALID, "credit_code is not a unified social "
                       "credit code (18 characters)");
    return unit_run(a, org_update_work, &w, e);
}

/* The subtree is disabled with it, and its active seals are suspended in
 * the same unit (manual 3.1 says why). */
static err_code
org_disable_work(struct unit *u, void *ctx, struct err *e)
{
    int64_t id = *(int64_t *)ctx;
    const struct actor_ctx *a = &u->a;
    int orgs = 0, seals = 0;
    err_code rc;

    if ((rc = authz_require(a->db, a->p, PERM_ORG_WRITE, id, e)) != ERR_OK ||
        (rc = store_org_set_disabled(a->db, id, &orgs, e)) != ERR_OK ||
        (rc = seal_org_disabled_in_tx(u, id, &seals, e)) != ERR_OK)
        return rc;
    return unit_audit_id(u, "organisation.disable", "organisation", id,
                         json_pack("{s:i, s:i}", "organisations", orgs,
                                   "seals_suspended", seals), e);
}

err_code
org_disable(const struct actor_ctx *a, int64_t id, struct err *e)
{
    return unit_run(a, org_disable_work, &id, e);
}

err_code
org_get(const struct actor_ctx *a, int64_t id, struct store_org *out,
        struct err *e)
{
    err_code rc;

    if ((rc = store_org_get(a->db, id, out, e)) != ERR_OK)
        return rc;
    return authz_require(a->db, a->p, PERM_ORG_READ, id, e);
}

err_code
org_list(const struct actor_ctx *a, int64_t parent_id, int64_t after,
         int limit, store_org_fn fn, void *ctx, struct err *e)
{
    int64_t scope[STORE_MAX_ROLES];
    size_t n = authz_scope(a->p, PERM_ORG_READ, scope);

    return store_org_list(a->db, scope, n, parent_id, after, limit, fn, ctx,
                          e);
}

err_code
org_get_state(const struct actor_ctx *a, int64_t id, struct store_org *out,
              struct err *e)
{
    return store_org_get(a->db, id, out, e);
}

/* ---- accounts ---- */

static int
account_name_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > ACCOUNT_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
              strchr("._-", s[i]) != NULL))
            return 0;
    return 1;
}

struct account_new_args {
    const struct account_new *n;
    const struct auth_key    *k;
    int64_t                   max_age_ms;
    int64_t                  *id_out;
    char                     *cred;
    int                      *issued;
};

static err_code
account_create_work(struct unit *u, void *ctx, struct err *e)
{
    struct account_new_args *w = ctx;
    const struct account_new *n = w->n;
    const struct actor_ctx *a = &u->a;
    struct store_org org;
    err_code rc;

    if ((rc = store_org_get(a->db, n->org_id, &org, e)) != ERR_OK)
        return rc == ERR_NOT_FOUND
            ? err_set(e, ERR_INVALID, "no organisation %lld",
                      (long long)n->org_id) : rc;
    if (org.disabled)
        return err_set(e, ERR_CONFLICT, "organisation is disabled");
    if ((rc = authz_require(a->db, a->p, PERM_ACCOUNT_WRITE, n->org_id, e))
        != ERR_OK)
        return rc;
    rc = store_account_insert(a->db, n->name, n->kind, n->display_name,
                              n->org_id, n->cert_subject, n->cert_issuer,
                              a->p->account_id, util_now_ms(), w->id_out, e);
    if (rc == ERR_CONFLICT)
        return err_set(e, ERR_CONFLICT, "an account with this name or "
                       "certificate exists");
    if (rc != ERR_OK)
        return rc;
    if (!strcmp(n->kind, "person") || n->api_key) {
        if ((rc = auth_credential_issue(a->db, w->k, *w->id_out, 1,
                                        w->max_age_ms, w->cred, e))
            != ERR_OK)
            return rc;
        *w->issued = 1;
    }
    return unit_audit_id(u, "account.create", "account", *w->id_out,
                         json_pack("{s:s, s:s, s:I, s:b}", "name", n->name,
                                   "kind", n->kind, "org_id",
                                   (json_int_t)n->org_id, "credential",
                                   *w->issued), e);
}

err_code
account_create(const struct actor_ctx *a, const struct account_new *n,
               const struct auth_key *k, int64_t max_age_ms, int64_t *id_out,
               char cred[AUTH_CREDENTIAL_LEN + 1], int *issued, struct err *e)
{
    struct account_new_args w = {n, k, max_age_ms, id_out, cred, issued};
    int person = n->kind != NULL && !strcmp(n->kind, "person");
    int system = n->kind != NULL && !strcmp(n->kind, "system");
    err_code rc;

    *issued = 0;
    if (!account_name_ok(n->name))
        return err_set(e, ERR_INVALID, "name must be 1-%d characters of "
                       "a-z, 0-9, '.', '_' and '-'", ACCOUNT_NAME_MAX);
    if (!person && !system)
        return err_set(e, ERR_INVALID, "kind must be person or system");
    if (person && (n->cert_subject || n->cert_issuer))
        return err_set(e, ERR_INVALID, "only system accounts have "
                       "certificates");
    if (system && (n->cert_subject == NULL) != (n->cert_issuer == NULL))
        return err_set(e, ERR_INVALID, "cert_subject and cert_issuer go "
                       "together");
    if (system && n->cert_subject == NULL && !n->api_key)
        return err_set(e, ERR_INVALID, "a system account needs a client "
                       "certificate (cert_subject, cert_issuer) or api_key");
    if ((rc = unit_run(a, account_create_work, &w, e)) != ERR_OK) {
        util_wipe(cred, AUTH_CREDENTIAL_LEN + 1);
        *issued = 0;
    }
    return rc;
}

err_code
account_get(const struct actor_ctx *a, int64_t id, struct store_account *out,
            struct err *e)
{
    err_code rc;

    if ((rc = store_account_get(a->db, id, out, e)) != ERR_OK)
        return rc;
    if (id == a->p->account_id)
        return ERR_OK;
    return authz_require(a->db, a->p, PERM_ACCOUNT_READ, out->org_id, e);
}

/* The roles account v->acct holds now. */
static err_code
view_roles(const struct actor_ctx *a, struct account_view *v, struct err *e)
{
    return store_account_roles(a->db, v->acct.id, util_now_ms(), v->roles,
                               STORE_MAX_ROLES, &v->nroles, e);
}

err_code
account_view_get(const struct actor_ctx *a, int64_t id,
                 struct account_view *out, struct err *e)
{
    err_code rc;

    if ((rc = account_get(a, id, &out->acct, e)) != ERR_OK)
        return rc;
    return view_roles(a, out, e);
}

err_code
account_view_state(const struct actor_ctx *a, int64_t id,
                   struct account_view *out, struct err *e)
{
    err_code rc;

    if ((rc = store_account_get(a->db, id, &out->acct, e)) != ERR_OK)
        return rc;
    return view_roles(a, out, e);
}

/* A page of accounts as store_account_list delivers them. */
struct account_rows {
    struct store_account *rows;
    size_t                n, cap;
};

static err_code
account_row_add(void *ctx, const struct store_account *acct)
{
    struct account_rows *p = ctx;

    if (p->n == p->cap)
        return ERR_INTERNAL;            /* more rows than the LIMIT */
    p->rows[p->n++] = *acct;
    return ERR_OK;
}

err_code
account_list(const struct actor_ctx *a, int64_t org_id, int64_t after,
             int limit, account_view_fn fn, void *ctx, struct err *e)
{
    int64_t scope[STORE_MAX_ROLES];
    size_t nscope = authz_scope(a->p, PERM_ACCOUNT_READ, scope), i;
    struct account_rows page = {NULL, 0, 0};
    struct account_view *v = NULL;
    err_code rc;

    if (limit < 1 || limit > STORE_PAGE_MAX)
        return err_set(e, ERR_INVALID, "limit must be 1 to %d",
                       STORE_PAGE_MAX);
    page.cap = (size_t)limit;
    if ((page.rows = calloc(page.cap, sizeof(*page.rows))) == NULL ||
        (v = calloc(1, sizeof(*v))) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = store_account_list(a->db, scope, nscope, org_id, after, limit,
                                 account_row_add, &page, e)) != ERR_OK)
        goto done;
    for (i = 0; i < page.n && rc == ERR_OK; i++) {
        v->acct = page.rows[i];
        if ((rc = view_roles(a, v, e)) == ERR_OK)
            rc = fn(ctx, v);
    }
done:
    free(page.rows);
    free(v);
    return rc;
}

/* Inside a unit: load the target account and check perm over its
 * organisation. */
static err_code
load_account(const struct actor_ctx *a, int64_t id, enum rbac_perm perm,
             struct store_account *acct, struct err *e)
{
    err_code rc;

    if ((rc = store_account_get(a->db, id, acct, e)) != ERR_OK)
        return rc;
    return authz_require(a->db, a->p, perm, acct->org_id, e);
}

static err_code
account_disable_work(struct unit *u, void *ctx, struct err *e)
{
    int64_t id = *(int64_t *)ctx;
    const struct actor_ctx *a = &u->a;
    struct store_account acct;
    int n = 0;
    err_code rc;

    if ((rc = load_account(a, id, PERM_ACCOUNT_WRITE, &acct, e)) != ERR_OK)
        return rc;
    if (acct.disabled)
        return err_set(e, ERR_CONFLICT, "account is already disabled");
    if ((rc = store_account_set_disabled(a->db, id, e)) != ERR_OK ||
        (rc = store_credential_revoke_all(a->db, id, util_now_ms(), &n, e))
        != ERR_OK)
        return rc;
    return unit_audit_id(u, "account.disable", "account", id,
                         json_pack("{s:i}", "credentials_revoked", n), e);
}

err_code
account_disable(const struct actor_ctx *a, int64_t id, struct err *e)
{
    if (id == a->p->account_id)
        return err_set(e, ERR_FORBIDDEN, "nobody disables their own "
                       "account");
    return unit_run(a, account_disable_work, &id, e);
}

struct credential_args {
    int64_t                id;
    const struct auth_key *k;
    int64_t                max_age_ms;
    char                  *cred;
    int                   *n;
};

/* SOD-7: whoever resets a credential could become its holder, so the
 * account is held (no role, nothing but whoami and rotation) until a
 * security administrator other than the resetter re-confirms it. */
static err_code
issue_credential_work(struct unit *u, void *ctx, struct err *e)
{
    struct credential_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_account acct;
    int64_t now = util_now_ms();
    int n = 0;
    err_code rc;

    if ((rc = load_account(a, w->id, PERM_ACCOUNT_WRITE, &acct, e))
        != ERR_OK)
        return rc;
    if (acct.disabled)
        return err_set(e, ERR_CONFLICT, "account is disabled");
    if ((rc = sod_credential_reset(a->db, a->p, &acct, e)) != ERR_OK ||
        (rc = store_credential_revoke_all(a->db, w->id, now, &n, e))
        != ERR_OK ||
        (rc = store_account_set_held(a->db, w->id, a->p->account_id, now,
                                     e)) != ERR_OK ||
        (rc = auth_credential_issue(a->db, w->k, w->id, 1, w->max_age_ms,
                                    w->cred, e)) != ERR_OK)
        return rc;
    return unit_audit_id(u, "credential.issue", "account", w->id,
                         json_pack("{s:i, s:b}", "credentials_revoked", n,
                                   "held", 1), e);
}

err_code
account_issue_credential(const struct actor_ctx *a, int64_t id,
                         const struct auth_key *k, int64_t max_age_ms,
                         char cred[AUTH_CREDENTIAL_LEN + 1], struct err *e)
{
    struct credential_args w = {id, k, max_age_ms, cred, NULL};
    err_code rc;

    if (id == a->p->account_id)
        return err_set(e, ERR_FORBIDDEN, "use POST /api/v1/account/"
                       "credential to replace your own credential");
    if ((rc = unit_run(a, issue_credential_work, &w, e)) != ERR_OK)
        util_wipe(cred, AUTH_CREDENTIAL_LEN + 1);
    return rc;
}

static err_code
revoke_credentials_work(struct unit *u, void *ctx, struct err *e)
{
    struct credential_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_account acct;
    err_code rc;

    if ((rc = load_account(a, w->id, PERM_ACCOUNT_WRITE, &acct, e))
        != ERR_OK ||
        (rc = store_credential_revoke_all(a->db, w->id, util_now_ms(), w->n,
                                          e)) != ERR_OK)
        return rc;
    return unit_audit_id(u, "credential.revoke", "account", w->id,
                         json_pack("{s:i}", "credentials_revoked", *w->n), e);
}

err_code
account_revoke_credentials(const struct actor_ctx *a, int64_t id, int *n,
                           struct err *e)
{
    struct credential_args w = {id, NULL, 0, NULL, n};

    return unit_run(a, revoke_credentials_work, &w, e);
}

static err_code
rotate_credential_work(struct unit *u, void *ctx, struct err *e)
{
    struct credential_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    err_code rc;

    if ((rc = store_credential_revoke(a->db, a->p->credential_id,
                                      util_now_ms(), e)) != ERR_OK ||
        (rc = auth_credential_issue(a->db, w->k, a->p->account_id, 0,
                                    w->max_age_ms, w->cred, e)) != ERR_OK)
        return rc;
    return unit_audit_id(u, "credential.rotate", "account", a->p->account_id,
                         NULL, e);
}

err_code
account_rotate_credential(const struct actor_ctx *a, const struct auth_key *k,
                          int64_t max_age_ms,
                          char out[AUTH_CREDENTIAL_LEN + 1], struct err *e)
{
    struct credential_args w = {0, k, max_age_ms, out, NULL};
    err_code rc;

    if (a->p->credential_id == 0)
        return err_set(e, ERR_FORBIDDEN, "this call was authenticated by "
                       "certificate; there is no credential to rotate");
    if ((rc = unit_run(a, rotate_credential_work, &w, e)) != ERR_OK)
        util_wipe(out, AUTH_CREDENTIAL_LEN + 1);
    return rc;
}

static err_code
reconfirm_work(struct unit *u, void *ctx, struct err *e)
{
    int64_t id = *(int64_t *)ctx;
    const struct actor_ctx *a = &u->a;
    struct store_account acct;
    err_code rc;

    if ((rc = load_account(a, id, PERM_ROLE_ASSIGN, &acct, e)) != ERR_OK ||
        (rc = sod_reconfirm(a->p, &acct, e)) != ERR_OK ||
        (rc = store_account_set_held(a->db, id, 0, 0, e)) != ERR_OK)
        return rc;
    return unit_audit_id(u, "account.reconfirm", "account", id,
                         json_pack("{s:I, s:I}", "reset_by",
                                   (json_int_t)acct.held_by, "reset_ms",
                                   (json_int_t)acct.held_ms), e);
}

err_code
account_reconfirm(const struct actor_ctx *a, int64_t id, struct err *e)
{
    return unit_run(a, reconfirm_work, &id, e);
}

/* ---- roles ---- */

/* Grant role to account id at scope, checking the account and the
 * separation-of-duties rules (with every deputy period that names the
 * account).  Runs inside the caller's transaction. */
static err_code
grant_checked(const struct actor_ctx *a, int64_t id, const char *role,
              int64_t scope_org_id, struct err *e)
{
    struct store_account acct;
    err_code rc;

    if ((rc = store_account_get(a->db, id, &acct, e)) != ERR_OK)
        return rc;
    if (acct.disabled)
        return err_set(e, ERR_CONFLICT, "account is disabled");
    if (acct.held_by != 0)
        return err_set(e, ERR_CONFLICT, "account %lld is held after a "
                       "credential reset; re-confirm it first (SOD-7)",
                       (long long)id);
    if ((rc = sod_account_may_hold(a->db, id, role, 0, e)) != ERR_OK)
        return rc;
    return store_role_insert(a->db, id, role, scope_org_id, a->p->account_id,
                             util_now_ms(), e);
}

struct role_args {
    int64_t     id;
    const char *role;
    int64_t     scope_org_id;
};

static err_code
bootstrap_work(struct unit *u, void *ctx, struct err *e)
{
    struct role_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_org root;
    int64_t n = 0;
    err_code rc;

    if ((rc = store_role_count(a->db, "secadmin", &n, e)) != ERR_OK ||
        (rc = store_account_get(a->db, w->id, &(struct store_account){0}, e))
        != ERR_OK)
        return rc;
    if (n > 0)
        return err_set(e, ERR_CONFLICT, "a security administrator exists; "
                       "roles are granted by them");
    if ((rc = store_org_get(a->db, a->p->account.org_id, &root, e)) != ERR_OK)
        return rc;
    if (root.parent_id != 0 || !auth_has_role(a->p, "sysadmin"))
        return err_set(e, ERR_FORBIDDEN, "only a system administrator of a "
                       "root organisation may appoint the first security "
                       "administrator");
    if ((rc = grant_checked(a, w->id, "secadmin", root.id, e)) != ERR_OK)
        return rc;
    return unit_audit_id(u, "role.bootstrap", "account", w->id,
                         json_pack("{s:s, s:I}", "role", "secadmin",
                                   "scope_org_id", (json_int_t)root.id), e);
}

err_code
account_bootstrap_secadmin(const struct actor_ctx *a, int64_t id,
                           struct err *e)
{
    struct role_args w = {id, "secadmin", 0};

    if (id == a->p->account_id)
        return err_set(e, ERR_FORBIDDEN, "nobody grants roles to "
                       "themselves");
    return unit_run(a, bootstrap_work, &w, e);
}

static err_code
grant_role_work(struct unit *u, void *ctx, struct err *e)
{
    struct role_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_org org;
    err_code rc;

    if ((rc = store_org_get(a->db, w->scope_org_id, &org, e)) != ERR_OK)
        return rc == ERR_NOT_FOUND
            ? err_set(e, ERR_INVALID, "no organisation %lld",
                      (long long)w->scope_org_id) : rc;
    if ((rc = authz_require(a->db, a->p, PERM_ROLE_ASSIGN, w->scope_org_id,
                            e)) != ERR_OK ||
        (rc = grant_checked(a, w->id, w->role, w->scope_org_id, e))
        != ERR_OK)
        return rc;
    return unit_audit_id(u, "role.grant", "account", w->id,
                         json_pack("{s:s, s:I}", "role", w->role,
                                   "scope_org_id",
                                   (json_int_t)w->scope_org_id), e);
}

err_code
account_grant_role(const struct actor_ctx *a, int64_t id, const char *role,
                   int64_t scope_org_id, struct err *e)
{
    struct role_args w = {id, role, scope_org_id};

    if (!rbac_role_known(role))
        return err_set(e, ERR_INVALID, "unknown role '%.32s'", role);
    if (id == a->p->account_id)
        return err_set(e, ERR_FORBIDDEN, "nobody grants roles to "
                       "themselves");
    return unit_run(a, grant_role_work, &w, e);
}

static err_code
remove_role_work(struct unit *u, void *ctx, struct err *e)
{
    struct role_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_account acct;
    err_code rc;

    if ((rc = store_account_get(a->db, w->id, &acct, e)) != ERR_OK ||
        (rc = authz_require(a->db, a->p, PERM_ROLE_ASSIGN, w->scope_org_id,
                            e)) != ERR_OK ||
        (rc = store_role_remove(a->db, w->id, w->role, w->scope_org_id,
                                a->p->account_id, util_now_ms(), e))
        != ERR_OK)
        return rc;
    return unit_audit_id(u, "role.remove", "account", w->id,
                         json_pack("{s:s, s:I}", "role", w->role,
                                   "scope_org_id",
                                   (json_int_t)w->scope_org_id), e);
}

err_code
account_remove_role(const struct actor_ctx *a, int64_t id, const char *role,
                    int64_t scope_org_id, struct err *e)
{
    struct role_args w = {id, role, scope_org_id};

    return unit_run(a, remove_role_work, &w, e);
}

/* ---- deputies ---- */

/* Is the caller a custodian of scope in their own right (not as deputy)? */
static err_code
own_custodian(const struct actor_ctx *a, int64_t scope, struct err *e)
{
    size_t i;
    int yes = 0;
    err_code rc;

    for (i = 0; i < a->p->nroles; i++) {
        if (strcmp(a->p->roles[i].role, "custodian") != 0 ||
            a->p->roles[i].deputy_id != 0)
            continue;
        if ((rc = store_org_in_subtree(a->db, a->p->roles[i].scope_org_id,
                                       scope, &yes, e)) != ERR_OK)
            return rc == ERR_NOT_FOUND
                ? err_set(e, ERR_INVALID, "no organisation %lld",
                          (long long)scope) : rc;
        if (yes)
            return ERR_OK;
    }
    return err_set(e, ERR_FORBIDDEN, "only a custodian of organisation %lld "
                   "(not a deputy) may name a deputy for it",
                   (long long)scope);
}

struct deputy_args {
    struct store_deputy d;      /* the period asked for */
    int64_t            *id_out;
};

static err_code
deputy_request_work(struct unit *u, void *ctx, struct err *e)
{
    struct deputy_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_account dep;
    err_code rc;

    if ((rc = own_custodian(a, w->d.scope_org_id, e)) != ERR_OK)
        return rc;
    if ((rc = store_account_get(a->db, w->d.deputy_id, &dep, e)) != ERR_OK)
        return rc == ERR_NOT_FOUND
            ? err_set(e, ERR_INVALID, "no account %lld",
                      (long long)w->d.deputy_id) : rc;
    if (dep.disabled || strcmp(dep.kind, "person") != 0 || dep.held_by)
        return err_set(e, ERR_CONFLICT, "the deputy must be an active person "
                       "account");
    if ((rc = sod_account_may_hold(a->db, w->d.deputy_id, "custodian", 0, e))
        != ERR_OK ||
        (rc = store_deputy_insert(a->db, &w->d, w->id_out, e)) != ERR_OK)
        return rc;
    return unit_audit_id(u, "deputy.request", "deputy", *w->id_out,
                         json_pack("{s:I, s:I, s:I, s:I}", "deputy_id",
                                   (json_int_t)w->d.deputy_id, "scope_org_id",
                                   (json_int_t)w->d.scope_org_id, "start_ms",
                                   (json_int_t)w->d.start_ms, "end_ms",
                                   (json_int_t)w->d.end_ms), e);
}

err_code
deputy_request(const struct actor_ctx *a, int64_t deputy_id,
               int64_t scope_org_id, int64_t start_ms, int64_t end_ms,
               const char *reason, int64_t *id_out, struct err *e)
{
    struct deputy_args w;
    int64_t now = util_now_ms();

    if (deputy_id == a->p->account_id)
        return err_set(e, ERR_INVALID, "a custodian cannot be their own "
                       "deputy");
    if (end_ms <= start_ms || end_ms <= now)
        return err_set(e, ERR_INVALID, "the deputy period must end after it "
                       "starts and after now");
    if (end_ms - start_ms > (int64_t)DEPUTY_MAX_DAYS * 86400000)
        return err_set(e, ERR_INVALID, "a deputy period is at most %d days",
                       DEPUTY_MAX_DAYS);
    memset(&w, 0, sizeof(w));
    w.d.custodian_id = a->p->account_id;
    w.d.deputy_id = deputy_id;
    w.d.scope_org_id = scope_org_id;
    w.d.start_ms = start_ms;
    w.d.end_ms = end_ms;
    snprintf(w.d.reason, sizeof(w.d.reason), "%s", reason);
    w.d.created_ms = now;
    w.id_out = id_out;
    return unit_run(a, deputy_request_work, &w, e);
}

err_code
deputy_list(const struct actor_ctx *a, int64_t after, int limit,
            store_deputy_fn fn, void *ctx, struct err *e)
{
    int64_t scope[STORE_MAX_ROLES];
    size_t n = authz_scope(a->p, PERM_DEPUTY_APPROVE, scope);

    return store_deputy_list(a->db, a->p->account_id, scope, n, after, limit,
                             fn, ctx, e);
}

err_code
deputy_get_state(const struct actor_ctx *a, int64_t id,
                 struct store_deputy *out, struct err *e)
{
    return store_deputy_get(a->db, id, out, e);
}

struct decide_args {
    int64_t id;
    int     approve;
};

static err_code
deputy_decide_work(struct unit *u, void *ctx, struct err *e)
{
    struct decide_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_deputy d;
    err_code rc;

    if ((rc = store_deputy_get(a->db, w->id, &d, e)) != ERR_OK)
        return rc;
    if (d.custodian_id == a->p->account_id ||
        d.deputy_id == a->p->account_id)
        return err_set(e, ERR_FORBIDDEN, "separation of duties: the "
                       "custodian or the deputy cannot decide their own "
                       "deputy request");
    if ((rc = authz_require(a->db, a->p, PERM_DEPUTY_APPROVE, d.scope_org_id,
                            e)) != ERR_OK ||
        (w->approve && (rc = sod_account_may_hold(a->db, d.deputy_id,
                                                  "custodian", d.id, e))
                       != ERR_OK) ||
        (rc = store_deputy_transition(a->db, w->id, "requested",
                                      w->approve ? "approved" : "rejected",
                                      a->p->account_id, util_now_ms(), e))
        != ERR_OK)
        return rc;
    return unit_audit_id(u, w->approve ? "deputy.approve" : "deputy.reject",
                         "deputy", w->id, NULL, e);
}

err_code
deputy_decide(const struct actor_ctx *a, int64_t id, int approve,
              struct err *e)
{
    struct decide_args w = {id, approve};

    return unit_run(a, deputy_decide_work, &w, e);
}
