/*
 * api_ofd.c - OFD documents over the API: sealing an approved OFD of a
 * signing request, and verifying any sealed OFD.  The package work is in
 * the seald_ofd library; the rules of signing in signing.c.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_verify_in.h"
#include "sjson.h"
#include "ofd.h"
#include "signing.h"
#include "tsa.h"
#include "util.h"
#include "verify.h"

/* position: {"mode": "page", "page", "x", "y"[, "width", "height"]} |
 * {"mode": "keyword", "keyword"[, "page"]} | {"mode": "cross_page"[,
 * "first_page", "last_page", "y"]}; pages are 0-based, lengths in mm. */
static err_code
parse_position(const json_t *o, struct ofd_stamp_pos *pos, struct err *e)
{
    static const char *const fields[] = {"mode", "page", "x", "y", "width",
        "height", "keyword", "first_page", "last_page", NULL};
    const char *mode = NULL;
    long long page = -1, first = 0, last = 0;
    const json_t *v;
    err_code rc;

    memset(pos, 0, sizeof(*pos));
    if (!json_is_object(o))
        return err_set(e, ERR_BAD_REQUEST, "field 'position' must be an "
                       "object");
    if ((rc = sjson_only_keys(o, fields, e)) != ERR_OK ||
        (rc = sjson_get_str(o, "mode", 16, 1, &mode, e)) != ERR_OK ||
        (rc = sjson_get_int(o, "page", 0, OFD_MAX_PAGES, 0, &page, e))
        != ERR_OK ||
        (rc = sjson_get_int(o, "first_page", 0, OFD_MAX_PAGES, 0, &first, e))
        != ERR_OK ||
        (rc = sjson_get_int(o, "last_page", 0, OFD_MAX_PAGES, 0, &last, e))
        != ERR_OK ||
        (rc = sjson_get_str(o, "keyword", OFD_MAX_KEYWORD, 0, &pos->keyword,
                           e)) != ERR_OK)
        return rc;
#define MM(name, field)                                                     \
    if ((v = json_object_get(o, name)) != NULL) {                           \
        if (!json_is_number(v) || json_number_value(v) < -1000 ||           \
            json_number_value(v) > 10000)                                   \
            return err_set(e, ERR_INVALID, "position.%s must be a number " \
                           "of millimetres", name);                        \
        pos->field = json_number_value(v);                                  \
    }
    MM("x", x)
    MM("y", y)
    MM("width", width)
    MM("height", height)
#undef MM
    if (!strcmp(mode, "page")) {
        if (page < 0)
            return err_set(e, ERR_BAD_REQUEST, "position.page is required");
        pos->mode = OFD_STAMP_PAGE;
        pos->page = (size_t)page;
    } else if (!strcmp(mode, "keyword")) {
        if (pos->keyword == NULL)
            return err_set(e, ERR_BAD_REQUEST, "position.keyword is "
                           "required");
        pos->mode = OFD_STAMP_KEYWORD;
        pos->page = page < 0 ? OFD_PAGE_ANY : (size_t)page;
    } else if (!strcmp(mode, "cross_page")) {
        pos->mode = OFD_STAMP_CROSS_PAGE;
        pos->first_page = (size_t)first;
        pos->last_page = (size_t)last;
        if (json_object_get(o, "y") == NULL)
            pos->y = -1;
    } else {
        return err_set(e, ERR_INVALID, "position.mode must be page, keyword "
                       "or cross_page");
    }
    return ERR_OK;
}

err_code
api_sreq_seal_ofd(struct http_req *req, struct http_resp *resp, struct err *e)
{
    static const char *const fields[] = {"position", "protect", "sealed_id",
                                         NULL};
    struct actor_ctx a = http_actor_ctx(req);
    struct seal_env env = {req->app->custody, req->app->cfg};
    struct ofd_stamp_pos pos;
    const char *protect = NULL;
    uint8_t *out = NULL;
    char *b64 = NULL;
    size_t len = 0;
    int64_t id, doc, sig_id = 0, kept = 0;
    long long base = 0;
    struct tsa_outcome ts;
    err_code rc;

    if ((rc = http_param_id(req, 0, &id, e)) != ERR_OK ||
        (rc = http_param_id(req, 1, &doc, e)) != ERR_OK)
        return rc;
    if (req->json == NULL)
        return err_set(e, ERR_BAD_REQUEST, "a JSON body is required");
    if ((rc = sjson_only_keys(req->json, fields, e)) != ERR_OK ||
        (rc = sjson_get_str(req->json, "protect", 16, 0, &protect, e))
        != ERR_OK ||
        (rc = sjson_get_int(req->json, "sealed_id", 1, INT64_MAX, 0, &base,
                           e)) != ERR_OK ||
        (rc = parse_position(json_object_get(req->json, "position"), &pos,
                             e)) != ERR_OK)
        return rc;
    if (protect != NULL && strcmp(protect, "content") != 0 &&
        strcmp(protect, "all") != 0)
        return err_set(e, ERR_INVALID, "protect must be content or all");
    if ((rc = sign_ofd_kept(&a, &env, id, doc, (int64_t)base, &pos,
                            protect != NULL && !strcmp(protect, "all"), &out,
                            &len, &sig_id, &kept, &ts, e)) != ERR_OK)
        return rc;
    if ((rc = util_b64_encode(out, len, &b64, e)) == ERR_OK)
        resp->data = json_pack("{s:I, s:I, s:I, s:I, s:o, s:s, s:o}",
                               "request_id", (json_int_t)id, "document_id",
                               (json_int_t)doc, "signature_id",
                               (json_int_t)sig_id, "sealed_id",
                               (json_int_t)kept, "base_id",
                               base ? json_integer(base) : json_null(),
                               "ofd", b64, "timestamp",
                               tsa_outcome_json(&ts));
    free(out);
    free(b64);
    return rc;
}

/* POST /api/v1/verify/ofd {"ofd": base64[, "pictures": true]} (or the
 * same as multipart/form-data parts): the report of every signature in
 * the package, each with its seal's status (the input is read by
 * api_verify_in.c, the work is verify_ofd's). */
err_code
api_verify_ofd(struct http_req *req, struct http_resp *resp, struct err *e)
{
    static const struct api_verify_form form = {
        API_VERIFY_OFD, "document_sm3", 0, 0, "give {ofd[, pictures]}"};
    struct api_verify_req v;
    json_t *report = NULL;
    err_code rc;

    memset(&v, 0, sizeof(v));
    if ((rc = api_verify_rate(req, resp, e)) == ERR_OK &&
        (rc = api_verify_read(req, &form, &v, e)) == ERR_OK &&
        (rc = api_verify_run(req, &v,
                             (size_t)req->app->cfg->ofd_max_inflated_bytes,
                             &report, e)) == ERR_OK)
        resp->data = report;
    api_verify_req_free(&v);
    return rc;
}
