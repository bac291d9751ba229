/*
 * api_impression.c - the reviewer's comparison of an application's
 * impression with the one filed with public security (impression.c):
 * POST /api/v1/applications/{id}/impression-check {"code": "..."}.
 */
#include "api.h"
#include "impression_check.h"
#include "sjson.h"

/* POST /api/v1/applications/{id}/impression-check (api.h). */
err_code
api_impression_check(struct http_req *req, struct http_resp *resp,
                     struct err *e)
{
    static const char *const fields[] = {"code", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    const char *code = NULL;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK)
        return rc;
    if (req->json == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
    if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "code", IMPRESSION_CODE_MAX, 1, &code,
                            e)) != ERR_OK)
        return rc;
    return impression_check(&a, req->app->cfg, id, code, &resp->data, e);
}
