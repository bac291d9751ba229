/*
 * api_seal.c - handlers for making seals and for seals themselves:
 * making (local or external CA), listing, showing for confirmation,
 * downloads, confirmation, filing, suspension, loss, renewal and revocation
 * requests, the status service and the signed status list.  Seals are
 * addressed by their esID.  The rules are in seal.c and application.c.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "application.h"
#include "ca.h"
#include "sjson.h"
#include "statuslist.h"
#include "seal.h"
#include "seal_list.h"
#include "ses.h"
#include "util.h"

#define API_CERT_PEM_MAX (256 * 1024)

static struct seal_env
env_of(const struct http_req *req)
{
    struct seal_env env = {req->app->custody, req->app->cfg};

    return env;
}

/* The {esid} path parameter, as the router checked it (router.h). */
static err_code
param_esid(const struct http_req *req, const char **out, struct err *e)
{
    *out = req->nparams > 0 ? req->params[0] : "";
    if ((*out)[0] == '\0')
        return err_set(e, ERR_NOT_FOUND, "no such seal");
    return ERR_OK;
}

/* Load the seal named in the path, if the caller may read it. */
static err_code
readable_seal(struct http_req *req, struct store_seal *s, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    const char *esid;
    err_code rc;

    if ((rc = param_esid(req, &esid, e)) != ERR_OK)
        return rc;
    return seal_get(&a, esid, s, e);
}

static json_t *
seal_json(const struct store_seal *s)
{
    char start[21], end[21];

    util_time_rfc3339((time_t)(s->valid_start_ms / 1000), start);
    util_time_rfc3339((time_t)(s->valid_end_ms / 1000), end);
    return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:s, s:I, s:s?, "
                     "s:s?, s:b, s:o, s:i, s:s, s:s, s:s, s:I, s:I, s:s}",
                     "esid", s->esid, "lineage_esid", s->lineage_esid,
                     "application_id", (json_int_t)s->application_id,
                     "org_id", (json_int_t)s->org_id, "kind", s->kind,
                     "name", s->name,
                     "custodian_id", (json_int_t)s->custodian_id,
                     "state", seal_state_name(s->state),
                     "state_since_ms", (json_int_t)s->state_since_ms,
                     "reason_code", s->reason_code[0] ? s->reason_code : NULL,
                     "hold", s->hold[0] ? s->hold : NULL,
                     "change_required", s->change_required_ms != 0,
                     "change_required_ms", s->change_required_ms
                         ? json_integer(s->change_required_ms) : json_null(),
                     "version", s->version, "holder_key", s->holder_key,
                     "valid_start", start, "valid_end", end,
                     "made_by", (json_int_t)s->made_by,
                     "confirmed_ms", (json_int_t)s->confirmed_ms,
                     "filing_state", s->filing_state);
}

/* Answer with the seal esid (201). */
static err_code
made(struct http_req *req, struct http_resp *resp, const char *esid,
     struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_seal s;
    err_code rc;

    if ((rc = seal_get_state(&a, esid, &s, e)) != ERR_OK)
        return rc;
    resp->status = 201;
    resp->data = seal_json(&s);
    return ERR_OK;
}

err_code
api_seal_make(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct seal_env env = env_of(req);
    char esid[STORE_ESID_MAX];
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = seal_make_local(&a, &env, id, esid, e)) != ERR_OK)
        return rc;
    return made(req, resp, esid, e);
}

err_code
api_seal_csr(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct seal_env env = env_of(req);
    char *pem = NULL;
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = seal_request_certificate(&a, &env, id, &pem, e)) != ERR_OK)
        return rc;
    resp->data = json_pack("{s:I, s:s}", "application_id", (json_int_t)id,
                           "csr_pem", pem);
    free(pem);
    return ERR_OK;
}

err_code
api_seal_certificate(struct http_req *req, struct http_resp *resp,
                     struct err *e)
{
    static const char *const fields[] = {"certificate", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    struct seal_env env = env_of(req);
    const char *pem = NULL;
    char esid[STORE_ESID_MAX];
    int64_t id;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK)
        return rc;
    if (req->json == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
    if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "certificate", API_CERT_PEM_MAX, 1,
                           &pem, e)) != ERR_OK ||
        (rc = seal_make_with_certificate(&a, &env, id, (const uint8_t *)pem,
                                         strlen(pem), esid, e)) != ERR_OK)
        return rc;
    return made(req, resp, esid, e);
}

struct seal_page {
    json_t  *items;
    int64_t  last;
    int      n;
};

static err_code
seal_page_add(void *ctx, const struct store_seal *s)
{
    struct seal_page *pg = ctx;

    pg->last = s->id;
    pg->n++;
    json_array_append_new(pg->items, seal_json(s));
    return ERR_OK;
}

err_code
api_seal_list(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct seal_page pg = {json_array(), 0, 0};
    struct seal_filter f;
    const char *org = http_query(req, "org_id");
    const char *days = http_query(req, "expiring_within_days");
    const char *state = http_query(req, "state");
    int64_t after, before = 0;
    long org_id = 0, d = 0;
    int limit;
    err_code rc;

    if ((rc = http_page(req, &after, &limit, e)) != ERR_OK)
        goto fail;
    if ((org != NULL &&
         util_parse_long(org, 1, INT64_MAX, &org_id, e) != ERR_OK) ||
        (days != NULL && util_parse_long(days, 0, 3650, &d, e) != ERR_OK)) {
        rc = err_wrap(e, ERR_INVALID, "org_id / expiring_within_days");
        goto fail;
    }
    if (days != NULL)
        before = util_now_ms() + d * 86400000LL;
    f = (struct seal_filter){org_id, http_query(req, "kind"),
                             seal_state_parse(state), before};
    /* a state no seal can be in is not refused: no seal is in it */
    if ((state == NULL || f.state != SEAL_NONE) &&
        (rc = seal_list(&a, &f, after, limit, seal_page_add, &pg, e))
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

/* The seal record, the decoded seal (what `seald inspect` shows) and the
 * impression, base64: what the applicant looks at before confirming. */
err_code
api_seal_get(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct store_seal s;
    struct ses_seal *decoded = NULL;
    uint8_t *der = NULL;
    char *b64 = NULL;
    size_t len = 0;
    json_t *inspect = NULL;
    err_code rc;

    struct actor_ctx a = http_actor_ctx(req);

    if ((rc = readable_seal(req, &s, e)) != ERR_OK ||
        (rc = seal_file(&a, &s, &der, &len, e)) != ERR_OK)
        return rc;
    if ((rc = ses_seal_decode(der, len, &decoded, e)) == ERR_OK &&
        (inspect = ses_seal_to_json(decoded)) != NULL &&
        (rc = util_b64_encode(der, len, &b64, e)) == ERR_OK) {
        resp->data = seal_json(&s);
        json_object_set_new(resp->data, "seal", inspect);
        json_object_set_new(resp->data, "seal_der", json_string(b64));
        inspect = NULL;
    }
    json_decref(inspect);
    ses_seal_free(decoded);
    free(der);
    free(b64);
    return rc;
}

static err_code
send_blob(struct http_req *req, struct http_resp *resp, const char *which,
          struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_seal s;
    uint8_t *buf = NULL;
    size_t len = 0;
    err_code rc;

    if ((rc = readable_seal(req, &s, e)) != ERR_OK)
        return rc;
    if (!strcmp(which, "seal")) {
        if ((rc = seal_file(&a, &s, &buf, &len, e)) != ERR_OK)
            return rc;
        resp->content_type = "application/octet-stream";
        snprintf(resp->disposition, sizeof(resp->disposition),
                 "attachment; filename=\"%s.esl\"", s.esid);
    } else {
        int gif = 0;
        if ((rc = seal_picture(&a, &s, &buf, &len, &gif, e)) != ERR_OK)
            return rc;
        resp->content_type = gif ? "image/gif" : "image/png";
        snprintf(resp->disposition, sizeof(resp->disposition),
                 "inline; filename=\"%s.%s\"", s.esid, gif ? "gif" : "png");
    }
    resp->raw = (char *)buf;
    resp->raw_len = len;
    return ERR_OK;
}

err_code
api_seal_file(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return send_blob(req, resp, "seal", e);
}

err_code
api_seal_picture(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return send_blob(req, resp, "picture", e);
}

err_code
api_seal_history(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_seal s;
    json_t *items = json_array();
    err_code rc;

    if ((rc = readable_seal(req, &s, e)) != ERR_OK ||
        (rc = seal_history(&a, &s, api_history_add, items, e)) != ERR_OK) {
        json_decref(items);
        return rc;
    }
    resp->data = json_pack("{s:s, s:o}", "esid", s.esid, "items", items);
    return ERR_OK;
}

/* Run op(actor, esid, reason) for POST /seals/{esid}/... with an optional
 * {"reason"} body, then answer with the seal. */
static err_code
seal_action(struct http_req *req, struct http_resp *resp,
            err_code (*op)(const struct actor_ctx *, const char *,
                           const char *, struct err *),
            int need_reason, struct err *e)
{
    static const char *const fields[] = {"reason", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    struct store_seal s;
    const char *esid, *reason = NULL;
    err_code rc;

    if ((rc = param_esid(req, &esid, e)) != ERR_OK)
        return rc;
    if (req->json != NULL &&
        ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
         (rc = sjson_get_str(req->json, "reason", SEAL_REASON_MAX, 0, &reason,
                            e)) != ERR_OK))
        return rc;
    if (need_reason && reason == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a reason is required");
    if ((rc = op(&a, esid, reason, e)) != ERR_OK ||
        (rc = seal_get_state(&a, esid, &s, e)) != ERR_OK)
        return rc;
    resp->data = seal_json(&s);
    return ERR_OK;
}

static err_code
op_confirm(const struct actor_ctx *a, const char *esid, const char *reason,
           struct err *e)
{
    return seal_confirm(a, esid, e);
}

static err_code
op_filed(const struct actor_ctx *a, const char *esid, const char *reason,
         struct err *e)
{
    return seal_mark_filed(a, esid, e);
}

err_code
api_seal_confirm(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return seal_action(req, resp, op_confirm, 0, e);
}

err_code
api_seal_filed(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return seal_action(req, resp, op_filed, 0, e);
}

err_code
api_seal_suspend(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return seal_action(req, resp, seal_suspend, 1, e);
}

err_code
api_seal_resume(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return seal_action(req, resp, seal_resume, 1, e);
}

err_code
api_seal_loss(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return seal_action(req, resp, seal_report_loss, 1, e);
}

err_code
api_seal_loss_resolve(struct http_req *req, struct http_resp *resp,
                      struct err *e)
{
    static const char *const fields[] = {"outcome", "reason", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    struct store_seal s;
    const char *esid, *outcome = NULL, *reason = NULL;
    err_code rc;

    if ((rc = param_esid(req, &esid, e)) != ERR_OK)
        return rc;
    if (req->json == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
    if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "outcome", 16, 1, &outcome, e))
        != ERR_OK ||
        (rc = sjson_get_str(req->json, "reason", SEAL_REASON_MAX, 1, &reason,
                           e)) != ERR_OK ||
        (rc = seal_resolve_loss(&a, esid, outcome, reason, e)) != ERR_OK ||
        (rc = seal_get_state(&a, esid, &s, e)) != ERR_OK)
        return rc;
    resp->data = seal_json(&s);
    return ERR_OK;
}

/* Renewal or revocation request: a new application in review. */
static err_code
seal_request(struct http_req *req, struct http_resp *resp,
             const char *purpose, struct err *e)
{
    static const char *const fields[] = {"reason", "materials", NULL};
    struct actor_ctx a = http_actor_ctx(req);
    struct app_material mats[APP_MAX_MATERIALS];
    uint8_t *bufs[APP_MAX_MATERIALS] = {NULL};
    const char *esid, *reason = NULL;
    size_t n = 0, i;
    int64_t id = 0;
    err_code rc;

    memset(mats, 0, sizeof(mats));
    if ((rc = param_esid(req, &esid, e)) != ERR_OK)
        return rc;
    if (req->json != NULL &&
        ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
         (rc = sjson_get_str(req->json, "reason", SEAL_REASON_MAX, 0, &reason,
                            e)) != ERR_OK ||
         (rc = api_parse_materials(req->json, mats, bufs, &n, e))
         != ERR_OK))
        goto done;
    if ((rc = application_request(&a, esid, purpose, reason, mats, n,
                                  req->app->cfg->seal_renewal_days, &id, e))
        != ERR_OK)
        goto done;
    resp->status = 201;
    resp->data = json_pack("{s:I, s:s, s:s, s:s}", "application_id",
                           (json_int_t)id, "purpose", purpose, "esid", esid,
                           "state", app_state_name(APP_SUBMITTED));
done:
    for (i = 0; i < APP_MAX_MATERIALS; i++)
        free(bufs[i]);
    return rc;
}

err_code
api_seal_renewal(struct http_req *req, struct http_resp *resp, struct err *e)
{
    return seal_request(req, resp, "renewal", e);
}

err_code
api_seal_revocation(struct http_req *req, struct http_resp *resp,
                    struct err *e)
{
    return seal_request(req, resp, "revocation", e);
}

/* The filing record (备案) for the national platform and the police. */
err_code
api_seal_filing(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct store_seal s;
    struct store_org org;
    struct store_app app;
    uint8_t *der = NULL;
    char *b64 = NULL, sm3[65];
    size_t len = 0;
    err_code rc;

    struct actor_ctx a = http_actor_ctx(req);

    if ((rc = readable_seal(req, &s, e)) != ERR_OK ||
        (rc = seal_filing_parts(&a, &s, &org, &app, &der, &len, e))
        != ERR_OK ||
        (rc = util_b64_encode(der, len, &b64, e)) != ERR_OK)
        goto done;
    util_hex_encode(app.image_sm3, sizeof(app.image_sm3), sm3);
    resp->data = json_pack(
        "{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:{s:I, s:s, s:s?}, s:I, s:I, "
        "s:s, s:s, s:s, s:s}",
        "record_type", "seald-seal-filing-1", "esid", s.esid, "name", s.name,
        "kind", s.kind, "subkind", app.subkind[0] ? app.subkind : NULL,
        "business", app.business[0] ? app.business : NULL,
        "organisation", "id", (json_int_t)org.id, "name", org.name,
        "credit_code", org.credit_code[0] ? org.credit_code : NULL,
        "custodian_id", (json_int_t)s.custodian_id,
        "made_ms", (json_int_t)s.made_ms,
        "impression_sm3", sm3, "state", seal_state_name(s.state),
        "filing_state", s.filing_state, "seal_der", b64);
done:
    free(der);
    free(b64);
    return rc;
}

/* Seal status for relying parties: any authenticated caller. */
err_code
api_seal_status(struct http_req *req, struct http_resp *resp, struct err *e)
{
    struct actor_ctx a = http_actor_ctx(req);
    struct store_seal s;
    const char *esid;
    err_code rc;

    if ((rc = param_esid(req, &esid, e)) != ERR_OK ||
        (rc = seal_get_state(&a, esid, &s, e)) != ERR_OK)
        return rc;
    /* a seal past its validity is expired even before the job marks it */
    if (s.state == SEAL_ACTIVE && s.valid_end_ms < util_now_ms())
        s.state = SEAL_EXPIRED;
    resp->data = json_pack("{s:s, s:s, s:I, s:s?, s:b, s:I, s:I}",
                           "esid", s.esid, "state", seal_state_name(s.state),
                           "since_ms", (json_int_t)s.state_since_ms,
                           "reason_code", s.reason_code[0] ? s.reason_code
                                                           : NULL,
                           "change_required", s.change_required_ms != 0,
                           "valid_start_ms", (json_int_t)s.valid_start_ms,
                           "valid_end_ms", (json_int_t)s.valid_end_ms);
    return ERR_OK;
}

err_code
api_seal_status_list(struct http_req *req, struct http_resp *resp,
                     struct err *e)
{
    struct seal_env env = env_of(req);
    struct seal_list_part p;
    const char *q = http_query(req, "part");
    char *sig64 = NULL;
    long part = 0;
    err_code rc;

    memset(&p, 0, sizeof(p));
    if (q != NULL &&
        util_parse_long(q, 0, STATUSLIST_MAX_PARTS - 1, &part, e) != ERR_OK)
        return err_wrap(e, ERR_INVALID, "part");
    if ((rc = seal_status_list(req->db, &env, part, &p, e)) != ERR_OK ||
        (rc = util_b64_encode(p.sig, p.sig_len, &sig64, e)) != ERR_OK) {
        if (rc == ERR_RATE_LIMITED)
            resp->retry_after = 1;         /* a part takes well under 1 s */
        goto done;
    }
    resp->data = json_pack("{s:s%, s:s, s:s, s:I, s:I, s:I}", "list", p.json,
                           p.json_len, "signature", sig64,
                           "signature_algorithm",
                           "SM2-with-SM3, ID 1234567812345678, over the "
                           "exact bytes of list",
                           "part", (json_int_t)p.part,
                           "parts", (json_int_t)p.parts,
                           "total", (json_int_t)p.total);
done:
    free(p.json);
    free(sig64);
    return rc;
}
