/*
 * authz.c - permission checks with organisation scopes (authz.h).
 */
#include "authz.h"
#include "store_account.h"

int
authz_holds(const struct auth_principal *p, enum rbac_perm perm)
{
    size_t i;

    if (perm == PERM_NONE || perm == PERM_SELF)
        return 1;
    for (i = 0; i < p->nroles; i++)
        if (rbac_role_has(p->roles[i].role, perm))
            return 1;
    return 0;
}

size_t
authz_scope(const struct auth_principal *p, enum rbac_perm perm,
            int64_t out[STORE_MAX_ROLES])
{
    size_t i, n = 0;

    for (i = 0; i < p->nroles && n < STORE_MAX_ROLES; i++)
        if (rbac_role_has(p->roles[i].role, perm))
            out[n++] = p->roles[i].scope_org_id;
    return n;
}

err_code
authz_require(struct store_conn *c, const struct auth_principal *p,
              enum rbac_perm perm, int64_t org_id, struct err *e)
{
    struct store_org org;
    size_t i;
    int yes = 0;
    err_code rc;

    /* an unknown organisation is "not found", not "forbidden" */
    if ((rc = store_org_get(c, org_id, &org, e)) != ERR_OK)
        return rc == ERR_NOT_FOUND
            ? err_set(e, ERR_NOT_FOUND, "no organisation %lld",
                      (long long)org_id) : rc;
    for (i = 0; i < p->nroles; i++) {
        if (!rbac_role_has(p->roles[i].role, perm))
            continue;
        rc = store_org_in_subtree(c, p->roles[i].scope_org_id, org_id, &yes,
                                  e);
        if (rc == ERR_NOT_FOUND)
            return err_set(e, ERR_NOT_FOUND, "no organisation %lld",
                           (long long)org_id);
        if (rc != ERR_OK)
            return rc;
        if (yes)
            return ERR_OK;
    }
    return err_set(e, ERR_FORBIDDEN, "no %s authority over organisation "
                   "%lld", rbac_perm_name(perm), (long long)org_id);
}
