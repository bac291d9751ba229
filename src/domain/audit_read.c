/*
 * audit_read.c - the query side of the audit log (audit.h, "Reading the
 * log"): what an auditor may read of it, with their scope applied in the
 * query, so that api_audit.c calls no store function.
 */
#include "audit.h"
#include "authz.h"
#include "rbac.h"
#include "store_audit.h"

err_code
audit_query(const struct actor_ctx *a, struct store_audit_filter *f,
            store_audit_fn fn, void *ctx, struct err *e)
{
    int64_t scope[STORE_MAX_ROLES];
    err_code rc;

    /* an organisation filter must lie inside the auditor's scope */
    if (f->org_id != 0 &&
        (rc = authz_require(a->db, a->p, PERM_AUDIT_READ, f->org_id, e))
        != ERR_OK)
        return rc;
    f->nscope = authz_scope(a->p, PERM_AUDIT_READ, scope);
    f->scope = scope;
    f->scoped = 1;
    rc = store_audit_query(a->db, f, fn, ctx, e);
    f->scope = NULL;                /* the array goes with this frame */
    return rc;
}

err_code
audit_latest_checkpoint(const struct actor_ctx *a,
                        struct store_audit_checkpoint *cp, struct err *e)
{
    return store_audit_checkpoint_latest(a->db, cp, e);
}
