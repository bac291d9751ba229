/*
 * api_system.c - handlers for the service itself: liveness, readiness,
 * version, and whoami.  What they check is in system.c.
 */
#include <string.h>

#include "api.h"
#include "router.h"
#include "system.h"
#include "util.h"

err_code
api_healthz(struct http_req *req, struct http_resp *resp, struct err *e)
{
    resp->data = json_pack("{s:s}", "status", "alive");
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

/* Ready when the database answers and every token is present and logged
 * in (system_readiness); 503 names what is not. */
err_code
api_readyz(struct http_req *req, struct http_resp *resp, struct err *e)
{
    json_t *tokens = NULL;
    err_code rc;

    if ((rc = system_readiness(req->app, req->db, &tokens, e)) != ERR_OK)
        return rc;
    resp->data = json_pack("{s:s, s:{s:s, s:o}}", "status", "ready", "checks",
                           "database", "ok", "tokens",
                           tokens ? tokens : json_array());
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

err_code
api_version(struct http_req *req, struct http_resp *resp, struct err *e)
{
    int schema = 0;
    err_code rc;

    if ((rc = system_schema_version(req->db, &schema, e)) != ERR_OK)
        return rc;
    resp->data = json_pack("{s:s, s:s, s:s, s:i}", "name", "seald",
                           "version", SEALD_VERSION, "api", "v1",
                           "schema_version", schema);
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

err_code
api_whoami(struct http_req *req, struct http_resp *resp, struct err *e)
{
    const struct auth_principal *p = &req->principal;
    char expires[21];
    json_t *roles;
    size_t i;

    if ((roles = json_array()) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (i = 0; i < p->nroles; i++)
        json_array_append_new(roles, json_pack("{s:s, s:I, s:o}", "role",
                              p->roles[i].role, "scope_org_id",
                              (json_int_t)p->roles[i].scope_org_id,
                              "deputy_id", p->roles[i].deputy_id
                                  ? json_integer(p->roles[i].deputy_id)
                                  : json_null()));
    util_time_rfc3339((time_t)(p->expires_ms / 1000), expires);
    resp->data = json_pack("{s:{s:I, s:s, s:s, s:s, s:I, s:b}, s:o, "
                           "s:{s:b, s:s}, s:o}",
                           "account", "id", (json_int_t)p->account.id,
                           "name", p->account.name, "kind", p->account.kind,
                           "display_name", p->account.display_name,
                           "org_id", (json_int_t)p->account.org_id,
                           "held", p->held,
                           "roles", roles,
                           "credential", "initial", p->initial,
                           "expires_at", expires,
                           /* the portal acting for this person, if any */
                           "via_account_id", req->via_account_id
                               ? json_integer(req->via_account_id)
                               : json_null());
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

err_code
api_permissions(struct http_req *req, struct http_resp *resp, struct err *e)
{
    resp->data = router_matrix(&api_routes);
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}
