/*
 * api_identity.c - the identities of the identity platform bound to an
 * account (统一身份认证): list, bind, end a binding.  The rules (who may
 * bind what, SOD-8) and the audit are the domain's (idtoken.c).
 */
#include <stdint.h>

#include "api.h"
#include "app.h"
#include "idtoken.h"
#include "sjson.h"

err_code
api_identity_list(struct http_req *req, struct http_resp *resp,
                  struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    json_t *arr = NULL;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = idtoken_bindings(&a, id, &arr, e)) != ERR_OK)
        return rc;
    resp->data = json_pack("{s:I, s:o}", "account_id", (json_int_t)id,
                           "identities", arr);
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

/* {"issuer": iss or [issuer.NAME] name, "subject": the claim's value} */
err_code
api_identity_bind(struct http_req *req, struct http_resp *resp,
                  struct err *e)
{
    static const char *const fields[] = {"issuer", "subject", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    const char *issuer = NULL, *subject = NULL;
    int64_t id, binding = 0;
    json_t *arr = NULL;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK)
        return rc;
    if (req->json == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
    if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "issuer", CONFIG_ISSUER_TEXT_MAX - 1,
                            1, &issuer, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "subject", IDTOKEN_SUBJECT_MAX - 1, 1,
                            &subject, e)) != ERR_OK ||
        (rc = idtoken_bind(&a, req->app->cfg, id, issuer, subject, &binding,
                           e)) != ERR_OK ||
        (rc = idtoken_bindings(&a, id, &arr, e)) != ERR_OK)
        return rc;
    resp->status = 201;
    resp->data = json_pack("{s:I, s:I, s:o}", "account_id", (json_int_t)id,
                           "binding_id", (json_int_t)binding, "identities",
                           arr);
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

err_code
api_identity_unbind(struct http_req *req, struct http_resp *resp,
                    struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    int64_t id, binding;
    json_t *arr = NULL;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = http_param_id(req, 1, &binding, e)) != ERR_OK ||
        (rc = idtoken_unbind(&a, id, binding, e)) != ERR_OK ||
        (rc = idtoken_bindings(&a, id, &arr, e)) != ERR_OK)
        return rc;
    resp->data = json_pack("{s:I, s:I, s:o}", "account_id", (json_int_t)id,
                           "binding_id", (json_int_t)binding, "identities",
                           arr);
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}
