/*
 * sod.c - separation of duties: the one place where seald decides whether a
 * person may hold a power or take a decision (sod.h).
 *
 * Owns the numbered rules and their checks.  The role table itself (which
 * role carries which permission) is rbac.c's; which organisation a scope
 * covers is authz.c's.  Callers (account.c, application.c, seal.c,
 * seal_make.c, signing.c, auth.c) call one of these at every point where a
 * power is given or a decision is taken, inside their own transaction.
 */
#include <string.h>

#include "rbac.h"
#include "sod.h"
#include "util.h"
#include "store_account.h"

const struct sod_rule sod_rules[] = {
    {"SOD-1", "The system administrator, the security administrator and the "
              "auditor are three different people (三员分立): no account "
              "holds two of these roles."},
    {"SOD-2", "No account holds an administrator role together with a "
              "business role, whether granted or held through a deputy "
              "period (requested, approved or in force)."},
    {"SOD-3", "Nobody grants roles to themselves, approves a deputy period "
              "that names themselves, or reviews, makes or approves their "
              "own work."},
    {"SOD-4", "For one seal, the reviewer is neither the applicant nor the "
              "custodian, and the maker is neither the applicant, the "
              "custodian nor the reviewer."},
    {"SOD-5", "A seal's custodian is an active person holding the custodian "
              "role in their own right with a scope over the seal's "
              "organisation: checked when named, when the seal is made, "
              "when it is activated and at every use."},
    {"SOD-6", "For one signing request, the submitter, the approver and the "
              "signer (the custodian or their deputy) are three different "
              "people, and neither the submitter nor the approver is the "
              "seal's custodian."},
    {"SOD-7", "A credential issued to an account by someone else (a reset) "
              "holds the account: no role and nothing but whoami and "
              "rotation until a security administrator who did not reset it "
              "re-confirms it.  The last security administrator in force is "
              "not reset over the API."},
    {"SOD-8", "Acting for persons (统一身份认证): the portal role is granted "
              "only to a system account, and with no other role; a portal "
              "acting for a person acts with that person's roles only, "
              "never its own.  An identity of the identity platform is "
              "bound only to an active person account holding no "
              "administrator role, and never by that person."},
    {NULL, NULL},
};

/* ---- role combinations ---------------------------------------------------- */

err_code
sod_role_combination(const char *const *held, size_t n, const char *role,
                     struct err *e)
{
    size_t i;

    if (!rbac_role_known(role))
        return err_set(e, ERR_INVALID, "unknown role '%.32s'", role);
    for (i = 0; i < n; i++) {
        if (strcmp(held[i], role) == 0)
            continue;   /* the same role in another scope is fine */
        if (rbac_role_is_admin(held[i]) && rbac_role_is_admin(role))
            return err_set(e, ERR_CONFLICT, "separation of duties (SOD-1): "
                           "an account holding %s cannot also be %s",
                           held[i], role);
        if (rbac_role_is_admin(held[i]) != rbac_role_is_admin(role))
            return err_set(e, ERR_CONFLICT, "separation of duties (SOD-2): "
                           "administrator roles cannot be combined with "
                           "business roles (%s and %s)", held[i], role);
    }
    return ERR_OK;
}

err_code
sod_account_may_hold(struct store_conn *c, int64_t account_id,
                     const char *role, int64_t skip_deputy_id, struct err *e)
{
    struct store_role roles[STORE_MAX_ROLES];
    const char *held[STORE_MAX_ROLES] = {NULL};
    size_t n = 0, i, nheld = 0;
    err_code rc;

    if ((rc = store_account_roles_ahead(c, account_id, util_now_ms(), roles,
                                        STORE_MAX_ROLES, &n, e)) != ERR_OK)
        return rc;
    for (i = 0; i < n; i++)
        if (skip_deputy_id == 0 || roles[i].deputy_id != skip_deputy_id)
            held[nheld++] = roles[i].role;
    if (nheld >= STORE_MAX_ROLES - 1)
        return err_set(e, ERR_TOO_LARGE, "too many roles");
    if ((rc = sod_role_combination(held, nheld, role, e)) != ERR_OK)
        return rc;
    /* SOD-8: a portal is a system account that does nothing but act for
     * persons, so whatever it does is the person's and none of its own */
    for (i = 0; i < nheld; i++)
        if ((strcmp(held[i], "portal") == 0) != (strcmp(role, "portal") == 0))
            return err_set(e, ERR_CONFLICT, "separation of duties (SOD-8): "
                           "the portal role is held alone (%s and %s)",
                           held[i], role);
    if (strcmp(role, "portal") == 0) {
        struct store_account acct;
        if ((rc = store_account_get(c, account_id, &acct, e)) != ERR_OK)
            return rc;
        if (strcmp(acct.kind, "system") != 0)
            return err_set(e, ERR_CONFLICT, "separation of duties (SOD-8): "
                           "the portal role is for a system account");
    }
    return ERR_OK;
}

err_code
sod_identity_bind(const struct auth_principal *actor,
                  const struct store_account *target,
                  const struct store_role *roles, size_t n, struct err *e)
{
    size_t i;

    if (target->id == actor->account_id)
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-8): "
                       "nobody binds an identity to their own account");
    if (target->disabled || strcmp(target->kind, "person") != 0)
        return err_set(e, ERR_INVALID, "separation of duties (SOD-8): an "
                       "identity is bound only to an active person account");
    for (i = 0; i < n; i++)
        if (rbac_role_is_admin(roles[i].role))
            return err_set(e, ERR_CONFLICT, "separation of duties (SOD-8): "
                           "account %lld holds %s; administrators log in "
                           "with their own credential only",
                           (long long)target->id, roles[i].role);
    return ERR_OK;
}

void
sod_principal(struct auth_principal *p)
{
    int admin = 0;
    size_t i, keep = 0;

    if (p->account.held_by != 0) {
        p->held = 1;
        p->nroles = 0;
        return;
    }
    for (i = 0; i < p->nroles; i++)
        if (p->roles[i].deputy_id == 0 && rbac_role_is_admin(p->roles[i].role))
            admin = 1;
    /* Deputy periods are checked when requested and approved; this holds
     * even against a grant that raced them. */
    for (i = 0; i < p->nroles; i++)
        if (!(admin && p->roles[i].deputy_id != 0))
            p->roles[keep++] = p->roles[i];
    p->nroles = keep;
}

/* ---- people of a seal ----------------------------------------------------- */

err_code
sod_custodian_of(struct store_conn *c, const struct store_account *acct,
                 const struct store_role *roles, size_t n, int64_t org_id,
                 const char *what, struct err *e)
{
    size_t i;
    int yes = 0;
    err_code rc;

    if (acct->disabled || strcmp(acct->kind, "person") != 0 ||
        acct->held_by != 0)
        return err_set(e, ERR_INVALID, "separation of duties (SOD-5, %s): "
                       "account %lld is not an active person in good "
                       "standing and cannot be custodian", what,
                       (long long)acct->id);
    for (i = 0; i < n && !yes; i++) {
        if (strcmp(roles[i].role, "custodian") != 0 || roles[i].deputy_id)
            continue;
        if ((rc = store_org_in_subtree(c, roles[i].scope_org_id, org_id,
                                       &yes, e)) != ERR_OK &&
            rc != ERR_NOT_FOUND)
            return rc;
    }
    if (!yes)
        return err_set(e, ERR_INVALID, "separation of duties (SOD-5, %s): "
                       "account %lld does not hold the custodian role for "
                       "organisation %lld", what, (long long)acct->id,
                       (long long)org_id);
    return ERR_OK;
}

err_code
sod_custodian(struct store_conn *c, int64_t custodian_id, int64_t org_id,
              const char *what, struct err *e)
{
    struct store_account acct;
    struct store_role roles[STORE_MAX_ROLES];
    size_t n = 0;
    err_code rc;

    if (custodian_id == 0)
        return err_set(e, ERR_INVALID, "a seal needs a custodian (SOD-5)");
    if ((rc = store_account_get(c, custodian_id, &acct, e)) != ERR_OK)
        return rc == ERR_NOT_FOUND
            ? err_set(e, ERR_INVALID, "no account %lld to be custodian",
                      (long long)custodian_id) : rc;
    if ((rc = store_account_roles(c, custodian_id, util_now_ms(), roles,
                                  STORE_MAX_ROLES, &n, e)) != ERR_OK)
        return rc;
    return sod_custodian_of(c, &acct, roles, n, org_id, what, e);
}

/* 1 if a and b name the same, known person. */
static int
same(int64_t a, int64_t b)
{
    return a != 0 && a == b;
}

err_code
sod_seal_people(const struct sod_seal *s, struct err *e)
{
    if (same(s->reviewer_id, s->applicant_id))
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-4): "
                       "nobody reviews their own application");
    if (same(s->reviewer_id, s->custodian_id))
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-4): the "
                       "seal's custodian does not review its application");
    if (same(s->maker_id, s->applicant_id))
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-4): "
                       "nobody makes a seal they applied for");
    if (same(s->maker_id, s->custodian_id))
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-4): the "
                       "seal's custodian does not make it");
    if (same(s->maker_id, s->reviewer_id))
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-4): the "
                       "reviewer of an application does not make its seal");
    return ERR_OK;
}

/* ---- people of a signing request ------------------------------------------ */

err_code
sod_request_people(const struct sod_request *r, struct err *e)
{
    if (same(r->submitter_id, r->custodian_id))
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-6): the "
                       "seal's custodian does not ask for its own use; a "
                       "requester submits, an approver approves, the "
                       "custodian signs");
    if (same(r->approver_id, r->submitter_id) ||
        same(r->approver_id, r->custodian_id))
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-6): "
                       "nobody approves their own signing request or the "
                       "use of a seal they keep");
    if (same(r->signer_id, r->submitter_id))
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-6): the "
                       "submitter of a signing request does not sign it");
    if (same(r->signer_id, r->approver_id))
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-6): the "
                       "approver of a signing request does not sign it");
    return ERR_OK;
}

/* ---- credential resets ----------------------------------------------------- */

err_code
sod_credential_reset(struct store_conn *c, const struct auth_principal *actor,
                     const struct store_account *target, struct err *e)
{
    struct store_role roles[STORE_MAX_ROLES];
    size_t n = 0, i;
    int64_t others = 0;
    err_code rc;

    if (target->id == actor->account_id)
        return err_set(e, ERR_FORBIDDEN, "use POST /api/v1/account/"
                       "credential to replace your own credential");
    if ((rc = store_account_roles(c, target->id, util_now_ms(), roles,
                                  STORE_MAX_ROLES, &n, e)) != ERR_OK)
        return rc;
    for (i = 0; i < n; i++)
        if (strcmp(roles[i].role, "secadmin") == 0)
            break;
    if (i == n || target->held_by != 0)
        return ERR_OK;
    if ((rc = store_role_count_in_force(c, "secadmin", target->id, &others,
                                        e)) != ERR_OK)
        return rc;
    if (others == 0)
        return err_set(e, ERR_CONFLICT, "separation of duties (SOD-7): this "
                       "is the only security administrator in force; after "
                       "a reset nobody could re-confirm the account");
    return ERR_OK;
}

err_code
sod_reconfirm(const struct auth_principal *actor,
              const struct store_account *target, struct err *e)
{
    if (target->held_by == 0)
        return err_set(e, ERR_CONFLICT, "account %lld is not held after a "
                       "credential reset", (long long)target->id);
    if (target->id == actor->account_id)
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-7): "
                       "nobody re-confirms their own account");
    if (target->held_by == actor->account_id)
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-7): the "
                       "one who reset a credential does not re-confirm it");
    return ERR_OK;
}
