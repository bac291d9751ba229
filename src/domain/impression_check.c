/*
 * impression_check.c - the reverse filing adapter (impression_check.h): one GET to the
 * configured URL with the seal code put in, the comparison with the
 * submitted image, and its audit entry.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobcrypt.h"
#include "application.h"
#include "config.h"
#include "fetch.h"
#include "impression_check.h"
#include "rbac.h"
#include "sm2.h"
#include "store.h"
#include "store_seal.h"
#include "unit.h"
#include "util.h"

/* The URL of code: the template's one "{code}" replaced (the code is
 * checked to be URL-safe first, so it cannot leave the path the
 * configuration names). */
static err_code
code_url(const char *tmpl, const char *code, char *out, size_t cap,
         struct err *e)
{
    const char *at = strstr(tmpl, "{code}");
    size_t i, n = strlen(code);

    if (n == 0 || n > IMPRESSION_CODE_MAX)
        return err_set(e, ERR_INVALID, "code must be 1-%d characters",
                       IMPRESSION_CODE_MAX);
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)code[i]) && code[i] != '-')
            return err_set(e, ERR_INVALID, "code: letters, digits and - "
                           "only");
    if (at == NULL)
        return err_set(e, ERR_INTERNAL, "filing.impression_url has no "
                       "{code}");
    if ((size_t)snprintf(out, cap, "%.*s%s%s", (int)(at - tmpl), tmpl, code,
                         at + 6) >= cap)
        return err_set(e, ERR_INVALID, "the impression URL is too long");
    return ERR_OK;
}

/* A comparison is made before the decision: on an application submitted
 * or under review.  ERR_CONFLICT otherwise. */
static err_code
impression_check_open(enum app_state state, struct err *e)
{
    if (state == APP_SUBMITTED || state == APP_UNDER_REVIEW)
        return ERR_OK;
    return err_set(e, ERR_CONFLICT, "the application is %s: its impression "
                   "is compared before the decision",
                   app_state_name(state));
}

struct check_ctx {
    int64_t                       app_id;
    struct store_impression_check row;
    int                           same;
};

/* The comparison's unit: the application still awaits its decision (a
 * decision made while the adapter answered keeps the comparison it was
 * made on), the row its decision will name, and the audit entry. */
static err_code
check_work(struct unit *u, void *vctx, struct err *e)
{
    struct check_ctx *c = vctx;
    const struct actor_ctx *a = &u->a;
    struct store_app app;
    err_code rc;

    if ((rc = store_app_get(a->db, c->app_id, &app, e)) != ERR_OK)
        return rc;
    if ((rc = impression_check_open(app.state, e)) != ERR_OK)
        return rc;
    if ((rc = store_app_impression_set(a->db, c->app_id, &c->row, e))
        != ERR_OK)
        return rc;
    return unit_audit_id(u, "application.impression_check", "application",
                         c->app_id,
                         json_pack("{s:s, s:s, s:s?, s:s, s:b}",
                                   "code", c->row.code,
                                   "outcome", c->row.outcome,
                                   "filed_sm3", c->row.filed_sm3[0]
                                       ? c->row.filed_sm3 : NULL,
                                   "submitted_sm3", c->row.compared_sm3,
                                   "same", c->same), e);
}

/* Contract: impression_check.h. */
err_code
impression_check(const struct actor_ctx *a, const struct config *cfg,
                 int64_t app_id, const char *code, json_t **out,
                 struct err *e)
{
    struct store_app app;
    struct fetch_opts fo;
    struct fetch_resp r;
    char url[PATH_MAX + IMPRESSION_CODE_MAX];
    uint8_t fsm3[SM3_DIGEST_LEN], *img = NULL;
    char *fb64 = NULL, *sb64 = NULL;
    size_t ilen = 0;
    struct check_ctx c;
    json_t *filed = NULL;
    err_code rc;

    *out = NULL;
    memset(&r, 0, sizeof(r));
    memset(&c, 0, sizeof(c));
    if ((rc = application_get(a, app_id, &app, e)) != ERR_OK)
        return rc;
    /* reading it is not enough: the check is the reviewer's */
    if ((rc = authz_require(a->db, a->p, PERM_APPLICATION_REVIEW, app.org_id,
                            e)) != ERR_OK ||
        (rc = impression_check_open(app.state, e)) != ERR_OK)
        return rc;
    if (cfg->filing_impression_url[0] == '\0')
        return err_set(e, ERR_NOT_FOUND, "no impression adapter is "
                       "configured (filing.impression_url)");
    if ((rc = code_url(cfg->filing_impression_url, code, url, sizeof(url),
                       e)) != ERR_OK)
        return rc;
    memset(&fo, 0, sizeof(fo));
    fo.timeout_ms = (int)cfg->filing_impression_timeout_ms;
    fo.max_bytes = IMPRESSION_MAX_BYTES;
    fo.ca_file = cfg->filing_impression_ca_file[0]
                     ? cfg->filing_impression_ca_file : NULL;
    if ((rc = fetch_url(url, NULL, NULL, 0, &fo, &r, e)) != ERR_OK) {
        fetch_resp_free(&r);
        return err_wrap(e, ERR_UNAVAILABLE, "the impression adapter");
    }
    if (r.status != 404 && (r.status != 200 || r.len == 0)) {
        long st = r.status;
        fetch_resp_free(&r);
        return err_set(e, ERR_UNAVAILABLE, "the impression adapter answered "
                       "%ld", st);
    }
    snprintf(c.row.code, sizeof(c.row.code), "%s", code);
    c.app_id = app.id;
    c.row.checked_by = a->p->account_id;
    c.row.checked_ms = util_now_ms();
    util_hex_encode(app.image_sm3, sizeof(app.image_sm3), c.row.compared_sm3);
    if ((rc = store_app_image(a->db, app.id, &img, &ilen, e)) != ERR_OK ||
        (rc = blob_open_in_place(&(struct blob_ref){BLOB_IMAGE, 0,
                                                    app.image_sm3},
                                 &img, &ilen, e)) != ERR_OK ||
        (rc = util_b64_encode(img, ilen, &sb64, e)) != ERR_OK)
        goto done;
    if (r.status == 404) {
        /* nothing filed under the code: an outcome the decision names */
        snprintf(c.row.outcome, sizeof(c.row.outcome), "not_filed");
        filed = json_null();
    } else {
        if ((rc = sm2_sm3(r.body, r.len, fsm3, e)) != ERR_OK ||
            (rc = util_b64_encode(r.body, r.len, &fb64, e)) != ERR_OK)
            goto done;
        util_hex_encode(fsm3, sizeof(fsm3), c.row.filed_sm3);
        c.same = memcmp(fsm3, app.image_sm3, sizeof(fsm3)) == 0;
        snprintf(c.row.outcome, sizeof(c.row.outcome), "%s",
                 c.same ? "same" : "different");
        filed = json_pack("{s:s, s:s, s:s}", "media_type", r.content_type,
                          "sm3", c.row.filed_sm3, "data", fb64);
    }
    if (filed == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = unit_run(a, check_work, &c, e)) != ERR_OK)
        goto done;
    *out = json_pack("{s:s, s:s, s:b, s:O, s:{s:s, s:s, s:s}, s:I}",
                     "code", code, "outcome", c.row.outcome, "same", c.same,
                     "filed", filed,
                     "submitted", "type", app.image_type, "sm3",
                     c.row.compared_sm3, "data", sb64,
                     "checked_ms", (json_int_t)c.row.checked_ms);
    if (*out == NULL)
        rc = err_set(e, ERR_NOMEM, "out of memory");
done:
    json_decref(filed);
    fetch_resp_free(&r);
    free(img);
    free(fb64);
    free(sb64);
    return rc;
}
