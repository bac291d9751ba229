/*
 * api_system.c - handlers for the service itself: liveness, readiness,
 * version, and whoami.
 */
#include "api.h"
#include "store.h"
#include "util.h"

err_code
api_healthz(struct http_req *req, struct http_resp *resp, struct err *e)
{
    resp->data = json_pack("{s:s}", "status", "alive");
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

err_code
api_readyz(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct err dberr;
    err_code rc;

    err_clear(&dberr);
    rc = req->db ? store_ping(req->db, &dberr)
                 : err_set(&dberr, ERR_DB, "no database connection");
    if (atomic_load(&req->app->stopping))
        return err_set(e, ERR_UNAVAILABLE, "shutting down");
    if (rc != ERR_OK)
        return err_set(e, ERR_UNAVAILABLE, "database: %s", dberr.msg);
    resp->data = json_pack("{s:s, s:{s:s}}", "status", "ready", "checks",
                           "database", "ok");
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

err_code
api_version(struct http_req *req, struct http_resp *resp, struct err *e)
{
    int schema = 0;
    err_code rc;

    if ((rc = store_schema_version(req->db, &schema, e)) != ERR_OK)
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
        json_array_append_new(roles, json_pack("{s:s, s:I}", "role",
                              p->roles[i].role, "scope_org_id",
                              (json_int_t)p->roles[i].scope_org_id));
    util_time_rfc3339((time_t)(p->expires_ms / 1000), expires);
    resp->data = json_pack("{s:{s:I, s:s, s:s, s:s, s:I}, s:o, "
                           "s:{s:b, s:s}}",
                           "account", "id", (json_int_t)p->account.id,
                           "name", p->account.name, "kind", p->account.kind,
                           "display_name", p->account.display_name,
                           "org_id", (json_int_t)p->account.org_id,
                           "roles", roles,
                           "credential", "initial", p->initial,
                           "expires_at", expires);
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}
