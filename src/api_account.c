/*
 * api_account.c - handlers for the caller's own account: credential
 * rotation.  (Account administration arrives with roles.)
 */
#include "account.h"
#include "api.h"
#include "json.h"
#include "util.h"

err_code
api_credential_rotate(struct http_req *req, struct http_resp *resp,
                      struct err *e)
{
    static const char *const fields[] = {NULL};
    char cred[AUTH_CREDENTIAL_LEN + 1];
    struct audit_actor who = http_actor(req);
    int64_t max_age = req->app->cfg->credential_max_age_days * 86400000LL;
    char expires[21];
    err_code rc;

    if (req->json != NULL && (rc = json_only_keys(req->json, fields, e))
        != ERR_OK)
        return rc;
    if ((rc = account_rotate_credential(req->db, req->app->key,
                                        &req->principal, &who, max_age, cred,
                                        e)) != ERR_OK)
        return rc;
    util_time_rfc3339((time_t)((util_now_ms() + max_age) / 1000), expires);
    resp->status = 201;
    resp->data = json_pack("{s:s, s:s, s:s}", "credential", cred,
                           "expires_at", expires, "note",
                           "shown once; the previous credential is revoked");
    util_wipe(cred, sizeof(cred));
    return resp->data ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}
