/*
 * seal_read.c - the query side of seals (seal.h, "Reading seals"): what a
 * caller may read of a seal and how, so that the handlers in api_seal.c
 * call only domain functions and read authorisation is applied here, once,
 * rather than by each handler.  Nothing here changes anything.
 */
#include <string.h>

#include "blobcrypt.h"
#include "seal.h"
#include "store_account.h"
#include "store_seal.h"

err_code
seal_get(const struct actor_ctx *a, const char *esid, struct store_seal *out,
         struct err *e)
{
    err_code rc;

    if ((rc = store_seal_get(a->db, esid, out, e)) != ERR_OK)
        return rc;
    return seal_may_read(a, out, e);
}

err_code
seal_get_state(const struct actor_ctx *a, const char *esid,
               struct store_seal *out, struct err *e)
{
    return store_seal_get(a->db, esid, out, e);
}

err_code
seal_list(const struct actor_ctx *a, const struct seal_filter *f,
          int64_t after, int limit, store_seal_fn fn, void *ctx,
          struct err *e)
{
    int64_t orgs[STORE_MAX_ROLES];
    struct store_seal_reader r = {a->p->account_id, orgs, 0};
    size_t i;

    /* the organisations of every role the caller holds, granted or as a
     * deputy: the same set seal_may_read() checks one seal against */
    for (i = 0; i < a->p->nroles && r.nscope < STORE_MAX_ROLES; i++)
        orgs[r.nscope++] = a->p->roles[i].scope_org_id;
    return store_seal_list(a->db, &r, f->org_id, f->kind, f->state,
                           f->expiring_before_ms, after, limit, fn, ctx, e);
}

err_code
seal_file(const struct actor_ctx *a, const struct store_seal *s,
          uint8_t **der, size_t *len, struct err *e)
{
    return store_seal_blob(a->db, s->id, "seal", der, len, e);
}

err_code
seal_picture(const struct actor_ctx *a, const struct store_seal *s,
             uint8_t **buf, size_t *len, int *gif, struct err *e)
{
    struct store_app app;
    err_code rc;

    if ((rc = store_app_get(a->db, s->application_id, &app, e)) != ERR_OK ||
        (rc = store_app_image(a->db, s->application_id, buf, len, e))
        != ERR_OK ||
        (rc = blob_open_in_place(&(struct blob_ref){BLOB_IMAGE, 0,
                                                    app.image_sm3},
                                 buf, len, e)) != ERR_OK)
        return rc;
    *gif = !strcmp(app.image_type, "GIF");
    return ERR_OK;
}

err_code
seal_history(const struct actor_ctx *a, const struct store_seal *s,
             store_history_fn fn, void *ctx, struct err *e)
{
    return store_history_list(a->db, "seal", s->id, fn, ctx, e);
}

err_code
seal_filing_parts(const struct actor_ctx *a, const struct store_seal *s,
                  struct store_org *org, struct store_app *app,
                  uint8_t **der, size_t *len, struct err *e)
{
    err_code rc;

    if ((rc = store_org_get(a->db, s->org_id, org, e)) != ERR_OK ||
        (rc = store_app_get(a->db, s->application_id, app, e)) != ERR_OK)
        return rc;
    return store_seal_blob(a->db, s->id, "seal", der, len, e);
}
