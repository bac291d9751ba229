/*
 * api_application.c - handlers for seal applications: submit, list, show,
 * history, resubmit, review.  Files (the impression image, identity
 * materials) arrive base64-encoded in the JSON body and are decoded here;
 * the rules are in application.c.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "application.h"
#include "config.h"
#include "sjson.h"
#include "util.h"

#define API_B64_MAX (APP_MATERIAL_MAX / 3 * 4 + 8)

/* Decoded files of one request; freed together. */
struct app_files {
    uint8_t *image;
    uint8_t *materials[APP_MAX_MATERIALS];
};

static void
files_free(struct app_files *f)
{
    size_t i;

    free(f->image);
    for (i = 0; i < APP_MAX_MATERIALS; i++)
        free(f->materials[i]);
}

static err_code
b64_field(const json_t *obj, const char *key, uint8_t **out, size_t *len,
          struct err *e)
{
    const char *s = NULL;
    err_code rc;

    if ((rc = sjson_get_str(obj, key, API_B64_MAX, 1, &s, e)) != ERR_OK)
        return rc;
    if (util_b64_decode(s, strlen(s), out, len, e) != ERR_OK)
        return err_set(e, ERR_BAD_REQUEST, "field '%s' is not base64", key);
    return ERR_OK;
}

err_code
api_parse_materials(const json_t *body, struct app_material *m,
                    uint8_t **bufs, size_t *n, struct err *e)
{
    static const char *const mat_fields[] = {"name", "media_type", "data",
                                             "type", NULL};
    const json_t *mats = json_object_get(body, "materials"), *x;
    size_t i;
    err_code rc;

    *n = 0;
    if (mats == NULL)
        return ERR_OK;
    if (!json_is_array(mats) || json_array_size(mats) > APP_MAX_MATERIALS)
        return err_set(e, ERR_BAD_REQUEST, "field 'materials' must be an "
                       "array of at most %d files", APP_MAX_MATERIALS);
    json_array_foreach(mats, i, x) {
        struct app_material *am = &m[i];
        if (!json_is_object(x))
            return err_set(e, ERR_BAD_REQUEST, "materials[%zu] must be an "
                           "object", i);
        if ((rc = sjson_only_keys(x, mat_fields, e)) != ERR_OK ||
            (rc = sjson_get_str(x, "name", APP_MATERIAL_NAME_MAX, 1, &am->name,
                               e)) != ERR_OK ||
            (rc = sjson_get_str(x, "media_type", 63, 1, &am->media_type, e))
            != ERR_OK ||
            (rc = sjson_get_str(x, "type", 23, 0, &am->type, e)) != ERR_OK ||
            (rc = b64_field(x, "data", &bufs[i], &am->len, e)) != ERR_OK)
            return rc;
        am->data = bufs[i];
        *n = i + 1;
    }
    return ERR_OK;
}

/* Fill *n from the request body; decoded files go to *f. */
static err_code
parse_app(const json_t *body, struct app_new *n, struct app_files *f,
          int need_org, struct err *e)
{
    static const char *const fields[] = {"org_id", "kind", "subkind",
        "business", "position", "seal_name", "custodian_id", "image",
        "reason", "materials", "purpose", "replaces_esid", NULL};
    static const char *const image_fields[] = {"data", "width_mm",
                                               "height_mm", NULL};
    const json_t *img;
    long long org = 0, cust = 0, w = 0, h = 0;
    err_code rc;

    memset(n, 0, sizeof(*n));
    if (body == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
    if ((rc = sjson_only_keys(body, fields, e)) != ERR_OK ||
        (rc = sjson_get_int(body, "org_id", 1, INT64_MAX, need_org, &org, e))
        != ERR_OK ||
        (rc = sjson_get_str(body, "kind", 16, 1, &n->kind, e)) != ERR_OK ||
        (rc = sjson_get_str(body, "subkind", 24, 0, &n->subkind, e))
        != ERR_OK ||
        (rc = sjson_get_str(body, "business", 24, 0, &n->business, e))
        != ERR_OK ||
        (rc = sjson_get_str(body, "position", APP_POSITION_MAX, 0,
                           &n->position, e)) != ERR_OK ||
        (rc = sjson_get_str(body, "seal_name", APP_NAME_MAX, 1, &n->seal_name,
                           e)) != ERR_OK ||
        (rc = sjson_get_int(body, "custodian_id", 1, INT64_MAX, 1, &cust, e))
        != ERR_OK ||
        (rc = sjson_get_str(body, "reason", APP_REASON_MAX, 0, &n->reason, e))
        != ERR_OK ||
        (rc = sjson_get_str(body, "purpose", 16, 0, &n->purpose, e))
        != ERR_OK ||
        (rc = sjson_get_str(body, "replaces_esid", 64, 0, &n->replaces_esid,
                           e)) != ERR_OK)
        return rc;
    n->org_id = org;
    n->custodian_id = cust;
    img = json_object_get(body, "image");
    if (!json_is_object(img))
        return err_set(e, ERR_BAD_REQUEST, "field 'image' must be an object "
                       "{data, width_mm, height_mm}");
    if ((rc = sjson_only_keys(img, image_fields, e)) != ERR_OK ||
        (rc = sjson_get_int(img, "width_mm", 1, 1000, 1, &w, e)) != ERR_OK ||
        (rc = sjson_get_int(img, "height_mm", 1, 1000, 1, &h, e)) != ERR_OK ||
        (rc = b64_field(img, "data", &f->image, &n->image_len, e)) != ERR_OK)
        return rc;
    n->image = f->image;
    n->width_mm = (long)w;
    n->height_mm = (long)h;
    return api_parse_materials(body, n->materials, f->materials,
                               &n->nmaterials, e);
}

static json_t *
app_json(const struct store_app *a)
{
    char sm3[65];

    util_hex_encode(a->image_sm3, sizeof(a->image_sm3), sm3);
    return json_pack("{s:I, s:I, s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:I, "
                     "s:{s:s, s:s, s:i, s:i, s:i, s:i}, s:s?, s:s, s:s?, "
                     "s:o, s:i, s:I, s:I}",
                     "id", (json_int_t)a->id,
                     "org_id", (json_int_t)a->org_id,
                     "applicant_id", (json_int_t)a->applicant_id,
                     "purpose", a->purpose, "kind", a->kind,
                     "subkind", a->subkind[0] ? a->subkind : NULL,
                     "business", a->business[0] ? a->business : NULL,
                     "position", a->position[0] ? a->position : NULL,
                     "seal_name", a->seal_name,
                     "custodian_id", (json_int_t)a->custodian_id,
                     "image", "type", a->image_type, "sm3", sm3,
                     "width_px", a->width_px, "height_px", a->height_px,
                     "width_mm", a->width_mm, "height_mm", a->height_mm,
                     "reason", a->reason[0] ? a->reason : NULL,
                     "state", app_state_name(a->state),
                     "state_reason", a->state_reason[0] ? a->state_reason
                                                        : NULL,
                     "reviewer_id", a->reviewer_id
                         ? json_integer(a->reviewer_id) : json_null(),
                     "revision", a->revision,
                     "created_ms", (json_int_t)a->created_ms,
                     "updated_ms", (json_int_t)a->updated_ms);
}

static err_code
material_add(void *ctx, const struct store_material *m)
{
    char sm3[65];

    util_hex_encode(m->sm3, sizeof(m->sm3), sm3);
    json_array_append_new(ctx, json_pack("{s:I, s:i, s:s, s:s, s:s, s:I, "
                          "s:s}", "id", (json_int_t)m->id, "revision",
                          m->revision, "name", m->name, "type", m->type,
                          "media_type", m->media_type,
                          "size", (json_int_t)m->size_bytes, "sm3", sm3));
    return ERR_OK;
}

/* The latest impression comparison of application a, or null: current
 * says whether it compared the image submitted now (a decision rests only
 * on such a one). */
static json_t *
impression_json(const struct store_app *a,
                const struct store_impression_check *c)
{
    char sm3[65];

    if (c->outcome[0] == '\0')
        return json_null();
    util_hex_encode(a->image_sm3, sizeof(a->image_sm3), sm3);
    return json_pack("{s:s, s:s, s:s?, s:s, s:b, s:I, s:I}", "code", c->code,
                     "outcome", c->outcome,
                     "filed_sm3", c->filed_sm3[0] ? c->filed_sm3 : NULL,
                     "submitted_sm3", c->compared_sm3,
                     "current", strcmp(sm3, c->compared_sm3) == 0,
                     "checked_by", (json_int_t)c->checked_by,
                     "checked_ms", (json_int_t)c->checked_ms);
}

/* The application with its materials' metadata, as an answer to a change
 * the actor just made or to a read already allowed. */
static err_code
app_full(const struct actor_ctx *actor, int64_t id, json_t **out,
         struct err *e)
{
    struct store_app a;
    struct store_impression_check ic;
    json_t *mats = json_array();
    err_code rc;

    if ((rc = application_get_state(actor, id, &a, e)) != ERR_OK ||
        (rc = application_materials(actor, &a, material_add, mats, e))
        != ERR_OK) {
        json_decref(mats);
        return rc;
    }
    if ((rc = application_impression(actor, &a, &ic, e)) != ERR_OK) {
        json_decref(mats);
        return rc;
    }
    *out = app_json(&a);
    json_object_set_new(*out, "materials", mats);
    json_object_set_new(*out, "impression_check", impression_json(&a, &ic));
    return ERR_OK;
}

err_code
api_app_submit(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct app_files f;
    struct app_new n;
    int64_t id;
    err_code rc;

    memset(&f, 0, sizeof(f));
    if ((rc = parse_app(req->json, &n, &f, 1, e)) == ERR_OK)
        n.required_materials = config_required_materials(req->app->cfg,
                                                         n.kind);
    if (rc == ERR_OK &&
        (rc = application_submit(&a, &n, &id, e)) == ERR_OK &&
        (rc = app_full(&a, id, &resp->data, e)) == ERR_OK)
        resp->status = 201;
    files_free(&f);
    return rc;
}

err_code
api_app_resubmit(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct app_files f;
    struct app_new n;
    int64_t id;
    err_code rc;

    memset(&f, 0, sizeof(f));
    if ((rc = http_param_id(req, 0, &id, e)) == ERR_OK &&
        (rc = parse_app(req->json, &n, &f, 0, e)) == ERR_OK)
        n.required_materials = config_required_materials(req->app->cfg,
                                                         n.kind);
    if (rc == ERR_OK &&
        (rc = application_resubmit(&a, id, &n, e)) == ERR_OK)
        rc = app_full(&a, id, &resp->data, e);
    files_free(&f);
    return rc;
}

err_code
api_app_review(struct http_req *req, struct http_resp *resp, struct err *e)
{
    static const char *const fields[] = {"decision", "reason", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    const char *decision = NULL, *reason = NULL;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK)
        return rc;
    if (req->json == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
    if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "decision", 16, 1, &decision, e))
        != ERR_OK ||
        (rc = sjson_get_str(req->json, "reason", APP_REASON_MAX, 0, &reason,
                           e)) != ERR_OK ||
        (rc = application_review(&a, id, decision, reason,
                                 req->app->cfg->filing_impression_url[0] != '\0',
                                 e)) != ERR_OK)
        return rc;
    return app_full(&a, id, &resp->data, e);
}

err_code
api_app_get(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_app row;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = application_get(&a, id, &row, e)) != ERR_OK)
        return rc;
    return app_full(&a, id, &resp->data, e);
}

err_code
api_history_add(void *ctx, const struct store_history *h)
{
    json_array_append_new(ctx, json_pack("{s:s?, s:s, s:I, s:I, s:s?}",
                          "from", h->from_state[0] ? h->from_state : NULL,
                          "to", h->to_state,
                          "actor_id", (json_int_t)h->actor_id,
                          "ts_ms", (json_int_t)h->ts_ms,
                          "reason", h->reason[0] ? h->reason : NULL));
    return ERR_OK;
}

err_code
api_app_history(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_app row;
    json_t *items = json_array();
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = application_get(&a, id, &row, e)) != ERR_OK ||
        (rc = application_history(&a, &row, api_history_add, items, e))
        != ERR_OK) {
        json_decref(items);
        return rc;
    }
    resp->data = json_pack("{s:o}", "items", items);
    return ERR_OK;
}

struct app_page {
    json_t  *items;
    int64_t  last;
    int      n;
};

static err_code
app_page_add(void *ctx, const struct store_app *row)
{
    struct app_page *pg = ctx;

    pg->last = row->id;
    pg->n++;
    json_array_append_new(pg->items, app_json(row));
    return ERR_OK;
}

err_code
api_app_list(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct app_page pg = {json_array(), 0, 0};
    const char *org = http_query(req, "org_id");
    const char *state = http_query(req, "state");
    enum app_state st = app_state_parse(state);
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
    /* a state no application can be in is no error: no application is
     * in it, an empty page */
    if ((state == NULL || st != APP_NONE) &&
        (rc = application_list(&a, org_id, st, after, limit,
                               app_page_add, &pg, e)) != ERR_OK)
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

/* GET /api/v1/applications/{id}/materials/{mid}: the material's bytes with
 * its media type, for the reviewer (and the applicant). */
err_code
api_app_material(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_material m;
    const char *type = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t id, mid;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = http_param_id(req, 1, &mid, e)) != ERR_OK ||
        (rc = application_material_file(&a, id, mid, &m, &type, &data, &len,
                                        e)) != ERR_OK) {
        free(data);
        return rc;
    }
    resp->raw = (char *)data;
    resp->raw_len = len;
    resp->content_type = type;
    api_attachment(resp, "material", mid, m.name);
    return ERR_OK;
}

/* GET /api/v1/applications/{id}/image: the impression image submitted. */
err_code
api_app_image(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_app app;
    uint8_t *data = NULL;
    size_t len = 0;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = application_image_file(&a, id, &app, &data, &len, e))
        != ERR_OK) {
        free(data);
        return rc;
    }
    resp->raw = (char *)data;
    resp->raw_len = len;
    resp->content_type = strcmp(app.image_type, "GIF") == 0 ? "image/gif"
                                                             : "image/png";
    api_attachment(resp, "impression", id,
                   strcmp(app.image_type, "GIF") == 0 ? "impression.gif"
                                                      : "impression.png");
    return ERR_OK;
}
