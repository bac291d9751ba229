/*
 * api_org.c - handlers for organisations: list, create, show, update,
 * disable.  Validation of shapes here; rules in account.c.
 */
#include "account.h"
#include "api.h"
#include "sjson.h"
#include "util.h"

json_t *api_org_json(const struct store_org *o);

json_t *
api_org_json(const struct store_org *o)
{
    return json_pack("{s:I, s:o, s:s, s:s, s:o, s:b, s:I}",
                     "id", (json_int_t)o->id,
                     "parent_id", o->parent_id ? json_integer(o->parent_id)
                                               : json_null(),
                     "name", o->name, "kind", o->kind,
                     "credit_code", o->credit_code[0]
                         ? json_string(o->credit_code) : json_null(),
                     "disabled", o->disabled,
                     "created_ms", (json_int_t)o->created_ms);
}

struct org_page {
    json_t  *items;
    int64_t  last;
    int      n;
};

static err_code
org_page_add(void *ctx, const struct store_org *o)
{
    struct org_page *pg = ctx;

    pg->last = o->id;
    pg->n++;
    json_array_append_new(pg->items, api_org_json(o));
    return ERR_OK;
}

err_code
api_org_list(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct org_page pg = {json_array(), 0, 0};
    const char *parent = http_query(req, "parent_id");
    int64_t after;
    long pid = -1;
    int limit;
    err_code rc;

    if ((rc = http_page(req, &after, &limit, e)) != ERR_OK)
        goto fail;
    if (parent != NULL && util_parse_long(parent, 0, INT64_MAX, &pid, e)
        != ERR_OK) {
        rc = err_wrap(e, ERR_INVALID, "parent_id");
        goto fail;
    }
    if ((rc = org_list(&a, pid, after, limit, org_page_add, &pg, e))
        != ERR_OK)
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
api_org_create(struct http_req *req, struct http_resp *resp, struct err *e)
{
    static const char *const fields[] = {"parent_id", "name", "kind",
                                         "credit_code", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    const char *name = NULL, *kind = NULL, *code = NULL;
    long long parent = 0;
    struct store_org o;
    int64_t id;
    err_code rc;

    if (req->json == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
    if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "name", ORG_NAME_MAX, 1, &name, e))
        != ERR_OK ||
        (rc = sjson_get_str(req->json, "kind", 16, 1, &kind, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "credit_code", 18, 0, &code, e))
        != ERR_OK ||
        (rc = sjson_get_int(req->json, "parent_id", 0, INT64_MAX, 0, &parent,
                           e)) != ERR_OK)
        return rc;
    if ((rc = org_create(&a, parent, name, kind, code, &id, e)) != ERR_OK ||
        (rc = org_get_state(&a, id, &o, e)) != ERR_OK)
        return rc;
    resp->status = 201;
    resp->data = api_org_json(&o);
    return ERR_OK;
}

err_code
api_org_get(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_org o;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = org_get(&a, id, &o, e)) != ERR_OK)
        return rc;
    resp->data = api_org_json(&o);
    return ERR_OK;
}

err_code
api_org_update(struct http_req *req, struct http_resp *resp, struct err *e)
{
    static const char *const fields[] = {"name", "credit_code", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    const char *name = NULL, *code = NULL;
    struct store_org o;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK)
        return rc;
    if (req->json == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
    if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "name", ORG_NAME_MAX, 0, &name, e))
        != ERR_OK ||
        (rc = sjson_get_str(req->json, "credit_code", 18, 0, &code, e))
        != ERR_OK)
        return rc;
    if (name == NULL && code == NULL)
        return err_set(e, ERR_BAD_REQUEST, "nothing to change");
    if ((rc = org_update(&a, id, name, code, e)) != ERR_OK ||
        (rc = org_get_state(&a, id, &o, e)) != ERR_OK)
        return rc;
    resp->data = api_org_json(&o);
    return ERR_OK;
}

err_code
api_org_disable(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_org o;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = org_disable(&a, id, e)) != ERR_OK ||
        (rc = org_get_state(&a, id, &o, e)) != ERR_OK)
        return rc;
    resp->data = api_org_json(&o);
    return ERR_OK;
}
