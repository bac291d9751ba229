/*
 * api_system.c - handlers for the service itself: liveness, readiness,
 * version, and whoami.
 */
#include <string.h>

#include "api.h"
#include "config.h"
#include "custody.h"
#include "router.h"
#include "store.h"
#include "util.h"

err_code
api_healthz(struct http_req *req, struct http_resp *resp, struct err *e)
{
    resp->data = json_pack("{s:s}", "status", "alive");
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

#define READY_SIGN_MAX_AGE_MS 10000

/* A sign round-trip with the audit key when none succeeded recently: it
 * proves the token works and lets a token that came back reconnect. */
static void
probe_sign(const struct app *app, json_t *tokens)
{
    char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    uint8_t e32[32] = {0}, sig[CUSTODY_SIG_MAX];
    size_t siglen = 0, i;
    json_t *t;

    if (app->cfg->audit_key[0] == '\0' ||
        config_keyref(app->cfg->audit_key, tok, id, NULL) != ERR_OK)
        return;
    json_array_foreach(tokens, i, t) {
        json_t *age = json_object_get(t, "last_sign_age_ms");
        if (strcmp(json_string_value(json_object_get(t, "name")), tok) != 0)
            continue;
        if (json_is_true(json_object_get(t, "logged_in")) &&
            json_is_integer(age) &&
            json_integer_value(age) < READY_SIGN_MAX_AGE_MS)
            return;
        custody_sign_e(app->custody, tok, id, e32, sig, &siglen, NULL);
    }
}

/* Ready when the database answers and every token is present, logged in and
 * has signed recently; 503 names what is not. */
err_code
api_readyz(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct err sub;
    json_t *tokens = NULL, *t;
    const char *why = NULL;
    size_t i;
    err_code rc;

    err_clear(&sub);
    if (atomic_load(&req->app->stopping))
        return err_set(e, ERR_UNAVAILABLE, "shutting down");
    rc = req->db ? store_ping(req->db, &sub)
                 : err_set(&sub, ERR_DB, "no database connection");
    if (rc != ERR_OK)
        return err_set(e, ERR_UNAVAILABLE, "database: %s", sub.msg);
    if (req->app->custody != NULL &&
        (rc = custody_health(req->app->custody, &tokens, &sub)) != ERR_OK)
        return err_set(e, ERR_UNAVAILABLE, "tokens: %s", sub.msg);
    if (tokens != NULL) {
        probe_sign(req->app, tokens);
        json_decref(tokens);
        tokens = NULL;
        if ((rc = custody_health(req->app->custody, &tokens, &sub)) != ERR_OK)
            return err_set(e, ERR_UNAVAILABLE, "tokens: %s", sub.msg);
    }
    json_array_foreach(tokens, i, t) {
        if (!json_is_true(json_object_get(t, "present")))
            why = "is not present";
        else if (!json_is_true(json_object_get(t, "logged_in")))
            why = "is not logged in";
        if (why != NULL) {
            rc = err_set(e, ERR_HSM_UNAVAILABLE, "token %s %s",
                         json_string_value(json_object_get(t, "name")), why);
            json_decref(tokens);
            return rc;
        }
    }
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
        json_array_append_new(roles, json_pack("{s:s, s:I, s:o}", "role",
                              p->roles[i].role, "scope_org_id",
                              (json_int_t)p->roles[i].scope_org_id,
                              "deputy_id", p->roles[i].deputy_id
                                  ? json_integer(p->roles[i].deputy_id)
                                  : json_null()));
    util_time_rfc3339((time_t)(p->expires_ms / 1000), expires);
    resp->data = json_pack("{s:{s:I, s:s, s:s, s:s, s:I, s:b}, s:o, "
                           "s:{s:b, s:s}}",
                           "account", "id", (json_int_t)p->account.id,
                           "name", p->account.name, "kind", p->account.kind,
                           "display_name", p->account.display_name,
                           "org_id", (json_int_t)p->account.org_id,
                           "held", p->held,
                           "roles", roles,
                           "credential", "initial", p->initial,
                           "expires_at", expires);
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

err_code
api_permissions(struct http_req *req, struct http_resp *resp, struct err *e)
{
    resp->data = router_matrix();
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}
