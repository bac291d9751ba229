/*
 * api_account.c - handlers for accounts, credentials, roles and deputies.
 * Shapes are checked here; the rules live in account.c.
 */
#include <string.h>

#include "account.h"
#include "api.h"
#include "sjson.h"
#include "util.h"

#define ROLE_NAME_MAX 32

static int64_t
max_age_ms(const struct http_req *req)
{
    return req->app->cfg->credential_max_age_days * 86400000LL;
}

/* The JSON of an account with its roles. */
static json_t *
account_json(const struct account_view *v)
{
    const struct store_account *acct = &v->acct;
    json_t *r = json_array();
    size_t i;

    for (i = 0; i < v->nroles; i++)
        json_array_append_new(r, json_pack("{s:s, s:I, s:o}",
            "role", v->roles[i].role, "scope_org_id",
            (json_int_t)v->roles[i].scope_org_id, "deputy_id",
            v->roles[i].deputy_id ? json_integer(v->roles[i].deputy_id)
                                  : json_null()));
    return json_pack("{s:I, s:s, s:s, s:s, s:I, s:o, s:o, s:b, s:I, s:o, "
                     "s:o}",
                     "id", (json_int_t)acct->id, "name", acct->name,
                     "kind", acct->kind, "display_name", acct->display_name,
                     "org_id", (json_int_t)acct->org_id,
                     "cert_subject", acct->cert_subject[0]
                         ? json_string(acct->cert_subject) : json_null(),
                     "cert_issuer", acct->cert_issuer[0]
                         ? json_string(acct->cert_issuer) : json_null(),
                     "disabled", acct->disabled,
                     "created_ms", (json_int_t)acct->created_ms,
                     "roles", r,
                     "held", acct->held_by == 0 ? json_null()
                         : json_pack("{s:I, s:I}", "reset_by",
                                     (json_int_t)acct->held_by, "reset_ms",
                                     (json_int_t)acct->held_ms));
}

err_code
api_credential_rotate(struct http_req *req, struct http_resp *resp,
                      struct err *e)
{
    static const char *const fields[] = {NULL};
    struct actor_ctx a = http_actor_ctx(req);
    char cred[AUTH_CREDENTIAL_LEN + 1];
    char expires[21];
    err_code rc;

    if (req->json != NULL && (rc = sjson_only_keys(req->json, fields, e))
        != ERR_OK)
        return rc;
    if ((rc = account_rotate_credential(&a, req->app->key, max_age_ms(req),
                                        cred, e)) != ERR_OK)
        return rc;
    util_time_rfc3339((time_t)((util_now_ms() + max_age_ms(req)) / 1000),
                      expires);
    resp->status = 201;
    resp->data = json_pack("{s:s, s:s, s:s}", "credential", cred,
                           "expires_at", expires, "note",
                           "shown once; the previous credential is revoked");
    util_wipe(cred, sizeof(cred));
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

struct account_page {
    json_t  *items;
    int64_t  last;
    int      n;
};

static err_code
account_page_add(void *ctx, const struct account_view *v)
{
    struct account_page *pg = ctx;

    pg->last = v->acct.id;
    pg->n++;
    json_array_append_new(pg->items, account_json(v));
    return ERR_OK;
}

err_code
api_account_list(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct account_page pg = {json_array(), 0, 0};
    const char *org = http_query(req, "org_id");
    int64_t after;
    long org_id = 0;
    int limit;
    err_code rc;

    if ((rc = http_page(req, &after, &limit, e)) != ERR_OK)
        goto fail;
    if (org != NULL && util_parse_long(org, 1, INT64_MAX, &org_id, e)
        != ERR_OK) {
        rc = err_wrap(e, ERR_INVALID, "org_id");
        goto fail;
    }
    if ((rc = account_list(&a, org_id, after, limit, account_page_add, &pg,
                           e)) != ERR_OK)
        goto fail;
    /* a full page may have more after it; a short one is the last */
    resp->data = json_pack("{s:o, s:o}", "items", pg.items, "next_after",
                           pg.n == limit ? json_integer(pg.last)
                                         : json_null());
    return ERR_OK;
fail:
    json_decref(pg.items);
    return rc;
}

err_code
api_account_create(struct http_req *req, struct http_resp *resp, struct err *e)
{
    static const char *const fields[] = {"name", "display_name", "kind",
                                         "org_id", "cert_subject",
                                         "cert_issuer", "api_key", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    struct account_new n;
    struct account_view v;
    char cred[AUTH_CREDENTIAL_LEN + 1] = "";
    long long org_id = 0;
    int64_t id;
    int issued = 0;
    err_code rc;

    memset(&n, 0, sizeof(n));
    if (req->json == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
    if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "name", ACCOUNT_NAME_MAX, 1, &n.name,
                           e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "display_name", ACCOUNT_DISPLAY_MAX, 1,
                           &n.display_name, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "kind", 16, 1, &n.kind, e)) != ERR_OK ||
        (rc = sjson_get_int(req->json, "org_id", 1, INT64_MAX, 1, &org_id, e))
        != ERR_OK ||
        (rc = sjson_get_str(req->json, "cert_subject", STORE_DN_MAX - 1, 0,
                           &n.cert_subject, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "cert_issuer", STORE_DN_MAX - 1, 0,
                           &n.cert_issuer, e)) != ERR_OK ||
        (rc = sjson_get_bool(req->json, "api_key", 0, &n.api_key, e))
        != ERR_OK)
        return rc;
    n.org_id = org_id;
    if ((rc = account_create(&a, &n, req->app->key, max_age_ms(req), &id,
                             cred, &issued, e)) != ERR_OK)
        return rc;
    if ((rc = account_view_state(&a, id, &v, e)) == ERR_OK) {
        resp->status = 201;
        resp->data = json_pack("{s:o, s:o}", "account",
                               account_json(&v), "credential",
                               issued ? json_string(cred) : json_null());
    }
    util_wipe(cred, sizeof(cred));
    return rc;
}

err_code
api_account_get(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct account_view v;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = account_view_get(&a, id, &v, e)) != ERR_OK)
        return rc;
    resp->data = account_json(&v);
    return ERR_OK;
}

err_code
api_account_disable(struct http_req *req, struct http_resp *resp,
                    struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct account_view v;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = account_disable(&a, id, e)) != ERR_OK ||
        (rc = account_view_state(&a, id, &v, e)) != ERR_OK)
        return rc;
    resp->data = account_json(&v);
    return ERR_OK;
}

err_code
api_account_issue(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    char cred[AUTH_CREDENTIAL_LEN + 1];
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = account_issue_credential(&a, id, req->app->key,
                                       max_age_ms(req), cred, e)) != ERR_OK)
        return rc;
    resp->status = 201;
    resp->data = json_pack("{s:I, s:s, s:b}", "account_id", (json_int_t)id,
                           "credential", cred, "initial", 1);
    util_wipe(cred, sizeof(cred));
    return ERR_OK;
}

err_code
api_account_revoke(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    int64_t id;
    int n = 0;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = account_revoke_credentials(&a, id, &n, e)) != ERR_OK)
        return rc;
    resp->data = json_pack("{s:I, s:i}", "account_id", (json_int_t)id,
                           "revoked", n);
    return ERR_OK;
}

/* {"role": "...", "scope_org_id": N} */
static err_code
role_body(const struct http_req *req, const char **role, int64_t *scope,
          struct err *e)
{
    static const char *const fields[] = {"role", "scope_org_id", NULL};
    long long s = 0;
    err_code rc;

    if (req->json == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
    if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "role", ROLE_NAME_MAX, 1, role, e))
        != ERR_OK ||
        (rc = sjson_get_int(req->json, "scope_org_id", 1, INT64_MAX, 1, &s,
                           e)) != ERR_OK)
        return rc;
    *scope = s;
    return ERR_OK;
}

err_code
api_role_grant(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct account_view v;
    const char *role = NULL;
    int64_t id, scope;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = role_body(req, &role, &scope, e)) != ERR_OK ||
        (rc = account_grant_role(&a, id, role, scope, e)) != ERR_OK ||
        (rc = account_view_state(&a, id, &v, e)) != ERR_OK)
        return rc;
    resp->status = 201;
    resp->data = account_json(&v);
    return ERR_OK;
}

err_code
api_role_remove(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct account_view v;
    const char *role = NULL;
    int64_t id, scope;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = role_body(req, &role, &scope, e)) != ERR_OK ||
        (rc = account_remove_role(&a, id, role, scope, e)) != ERR_OK ||
        (rc = account_view_state(&a, id, &v, e)) != ERR_OK)
        return rc;
    resp->data = account_json(&v);
    return ERR_OK;
}

err_code
api_account_reconfirm(struct http_req *req, struct http_resp *resp,
                      struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct account_view v;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = account_reconfirm(&a, id, e)) != ERR_OK ||
        (rc = account_view_state(&a, id, &v, e)) != ERR_OK)
        return rc;
    resp->data = account_json(&v);
    return ERR_OK;
}

err_code
api_role_bootstrap(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct account_view v;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = account_bootstrap_secadmin(&a, id, e)) != ERR_OK ||
        (rc = account_view_state(&a, id, &v, e)) != ERR_OK)
        return rc;
    resp->status = 201;
    resp->data = account_json(&v);
    return ERR_OK;
}

static json_t *
deputy_json(const struct store_deputy *d)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:o}",
                     "id", (json_int_t)d->id,
                     "custodian_id", (json_int_t)d->custodian_id,
                     "deputy_id", (json_int_t)d->deputy_id,
                     "scope_org_id", (json_int_t)d->scope_org_id,
                     "start_ms", (json_int_t)d->start_ms,
                     "end_ms", (json_int_t)d->end_ms,
                     "reason", d->reason, "state", d->state,
                     "approved_by", d->approved_by
                         ? json_integer(d->approved_by) : json_null());
}

struct deputy_page {
    json_t  *items;
    int64_t  last;
    int      n;
};

static err_code
deputy_page_add(void *ctx, const struct store_deputy *d)
{
    struct deputy_page *pg = ctx;

    pg->last = d->id;
    pg->n++;
    json_array_append_new(pg->items, deputy_json(d));
    return ERR_OK;
}

err_code
api_deputy_list(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct deputy_page pg = {json_array(), 0, 0};
    int64_t after;
    int limit;
    err_code rc;

    if ((rc = http_page(req, &after, &limit, e)) != ERR_OK ||
        (rc = deputy_list(&a, after, limit, deputy_page_add, &pg, e))
        != ERR_OK) {
        json_decref(pg.items);
        return rc;
    }
    /* a full page may have more after it; a short one is the last */
    resp->data = json_pack("{s:o, s:o}", "items", pg.items, "next_after",
                           pg.n == limit ? json_integer(pg.last)
                                         : json_null());
    return ERR_OK;
}

err_code
api_deputy_request(struct http_req *req, struct http_resp *resp, struct err *e)
{
    static const char *const fields[] = {"deputy_id", "scope_org_id",
                                         "start_ms", "end_ms", "reason",
                                         NULL};
    struct actor_ctx a = http_actor_ctx(req);
    struct store_deputy d;
    const char *reason = NULL;
    long long dep = 0, scope = 0, start = 0, end = 0;
    int64_t id;
    err_code rc;

    if (req->json == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
    if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
        (rc = sjson_get_int(req->json, "deputy_id", 1, INT64_MAX, 1, &dep, e))
        != ERR_OK ||
        (rc = sjson_get_int(req->json, "scope_org_id", 1, INT64_MAX, 1, &scope,
                           e)) != ERR_OK ||
        (rc = sjson_get_int(req->json, "start_ms", 0, INT64_MAX, 1, &start,
                           e)) != ERR_OK ||
        (rc = sjson_get_int(req->json, "end_ms", 0, INT64_MAX, 1, &end, e))
        != ERR_OK ||
        (rc = sjson_get_str(req->json, "reason", DEPUTY_REASON_MAX, 1,
                           &reason, e)) != ERR_OK)
        return rc;
    if ((rc = deputy_request(&a, dep, scope, start, end, reason, &id, e))
        != ERR_OK ||
        (rc = deputy_get_state(&a, id, &d, e)) != ERR_OK)
        return rc;
    resp->status = 201;
    resp->data = deputy_json(&d);
    return ERR_OK;
}

static err_code
deputy_decision(struct http_req *req, struct http_resp *resp, int approve,
                struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_deputy d;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = deputy_decide(&a, id, approve, e)) != ERR_OK ||
        (rc = deputy_get_state(&a, id, &d, e)) != ERR_OK)
        return rc;
    resp->data = deputy_json(&d);
    return ERR_OK;
}

err_code
api_deputy_approve(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return deputy_decision(req, resp, 1, e);
}

err_code
api_deputy_reject(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return deputy_decision(req, resp, 0, e);
}
