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

struct check_ctx {
    int64_t     app_id;
    const char *code;
    const char *filed_hex, *submitted_hex;
    int         same;
};

/* The comparison's unit: its audit entry is the record. */
static err_code
check_work(struct unit *u, void *vctx, struct err *e)
{
    struct check_ctx *c = vctx;

    return unit_audit_id(u, "application.impression_check", "application",
                         c->app_id,
                         json_pack("{s:s, s:s, s:s, s:b}", "code", c->code,
                                   "filed_sm3", c->filed_hex,
                                   "submitted_sm3", c->submitted_hex,
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
    char url[PATH_MAX + IMPRESSION_CODE_MAX], fhex[65], shex[65];
    uint8_t fsm3[SM3_DIGEST_LEN], *img = NULL;
    char *fb64 = NULL, *sb64 = NULL;
    size_t ilen = 0;
    struct check_ctx c;
    err_code rc;

    *out = NULL;
    memset(&r, 0, sizeof(r));
    if ((rc = application_get(a, app_id, &app, e)) != ERR_OK)
        return rc;
    /* reading it is not enough: the check is the reviewer's */
    if ((rc = authz_require(a->db, a->p, PERM_APPLICATION_REVIEW, app.org_id,
                            e)) != ERR_OK)
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
    if (r.status == 404) {
        fetch_resp_free(&r);
        return err_set(e, ERR_NOT_FOUND, "no impression is filed under "
                       "code %s", code);
    }
    if (r.status != 200 || r.len == 0) {
        long st = r.status;
        fetch_resp_free(&r);
        return err_set(e, ERR_UNAVAILABLE, "the impression adapter answered "
                       "%ld", st);
    }
    if ((rc = sm2_sm3(r.body, r.len, fsm3, e)) != ERR_OK ||
        (rc = store_app_image(a->db, app.id, &img, &ilen, e)) != ERR_OK ||
        (rc = blob_open_in_place(&(struct blob_ref){BLOB_IMAGE, 0,
                                                    app.image_sm3},
                                 &img, &ilen, e)) != ERR_OK ||
        (rc = util_b64_encode(r.body, r.len, &fb64, e)) != ERR_OK ||
        (rc = util_b64_encode(img, ilen, &sb64, e)) != ERR_OK)
        goto done;
    util_hex_encode(fsm3, sizeof(fsm3), fhex);
    util_hex_encode(app.image_sm3, sizeof(app.image_sm3), shex);
    memset(&c, 0, sizeof(c));
    c.app_id = app.id;
    c.code = code;
    c.filed_hex = fhex;
    c.submitted_hex = shex;
    c.same = memcmp(fsm3, app.image_sm3, sizeof(fsm3)) == 0;
    if ((rc = unit_run(a, check_work, &c, e)) != ERR_OK)
        goto done;
    *out = json_pack("{s:s, s:b, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}",
                     "code", code, "same", c.same,
                     "filed", "media_type", r.content_type, "sm3", fhex,
                     "data", fb64,
                     "submitted", "type", app.image_type, "sm3", shex,
                     "data", sb64);
    if (*out == NULL)
        rc = err_set(e, ERR_NOMEM, "out of memory");
done:
    fetch_resp_free(&r);
    free(img);
    free(fb64);
    free(sb64);
    return rc;
}
