/*
 * sign_read.c - the query side of signing (signing.h, "Reading signing
 * requests"): signing requests, their documents, signature files and the
 * usage report, with read authorisation applied here so that the
 * handlers in api_sign.c call only domain functions.  Nothing here
 * changes anything.
 */
#include <stdlib.h>

#include "blobcrypt.h"
#include "signing.h"
#include "store_seal.h"
#include "store_sign.h"

err_code
sign_request_get(const struct actor_ctx *a, int64_t id, struct store_sreq *r,
                 struct store_seal *s, struct err *e)
{
    err_code rc;

    if ((rc = store_sreq_get(a->db, id, r, e)) != ERR_OK)
        return rc;
    return sign_may_read(a, r, s, e);
}

err_code
sign_request_get_state(const struct actor_ctx *a, int64_t id,
                       struct store_sreq *r, struct store_seal *s,
                       struct err *e)
{
    err_code rc;

    if ((rc = store_sreq_get(a->db, id, r, e)) != ERR_OK)
        return rc;
    return store_seal_get_id(a->db, r->seal_id, s, e);
}

err_code
sign_request_documents(const struct actor_ctx *a, const struct store_sreq *r,
                       store_sdoc_fn fn, void *ctx, struct err *e)
{
    return store_sdoc_list(a->db, r->id, fn, ctx, e);
}

err_code
sign_signature_file(const struct actor_ctx *a, int64_t id,
                    struct store_seal *s, uint8_t **der, size_t *len,
                    struct err *e)
{
    struct store_sig sig;
    struct store_sreq r;
    err_code rc;

    if ((rc = store_sig_get(a->db, id, &sig, NULL, NULL, e)) != ERR_OK ||
        (rc = sign_request_get(a, sig.request_id, &r, s, e)) != ERR_OK)
        return rc;
    return store_sig_get(a->db, id, &sig, der, len, e);
}

err_code
sign_request_list(const struct actor_ctx *a, const struct store_sreq_filter *f,
                  int64_t after, int limit, store_sreq_fn fn, void *ctx,
                  struct err *e)
{
    int64_t scope[STORE_MAX_ROLES], usage[STORE_MAX_ROLES],
        approve[STORE_MAX_ROLES];
    size_t n, k, i, na;

    /* sign_may_read's organisations: the scopes of request.approve and of
     * usage.read; each is one of the principal's roles, so both fit */
    na = authz_scope(a->p, PERM_REQUEST_APPROVE, approve);
    k = authz_scope(a->p, PERM_USAGE_READ, usage);
    for (n = 0; n < na; n++)
        scope[n] = approve[n];
    for (i = 0; i < k && n < STORE_MAX_ROLES; i++)
        scope[n++] = usage[i];
    return store_sreq_list(a->db, a->p->account_id, scope, n, approve, na, f,
                           after, limit, fn, ctx, e);
}

/* Request id and its seal, if a may open its files. */
static err_code
openable(const struct actor_ctx *a, int64_t id, struct store_sreq *r,
         struct store_seal *s, struct err *e)
{
    err_code rc;

    if ((rc = store_sreq_get(a->db, id, r, e)) != ERR_OK)
        return rc;
    return sign_may_open(a, r, s, e);
}

err_code
sign_document_file(const struct actor_ctx *a, int64_t id, int64_t doc_id,
                   struct store_sdoc *d, uint8_t **data, size_t *len,
                   struct err *e)
{
    struct store_sreq r;
    struct store_seal s;
    err_code rc;

    *data = NULL;
    if ((rc = openable(a, id, &r, &s, e)) != ERR_OK ||
        (rc = store_sdoc_get(a->db, doc_id, d, data, len, e)) != ERR_OK)
        return rc;
    if (d->request_id != id || *data == NULL) {
        free(*data);
        *data = NULL;
        return err_set(e, ERR_NOT_FOUND, d->request_id != id
                       ? "document %lld is not in request %lld"
                       : "document %lld of request %lld was given by hash "
                         "and not uploaded", (long long)doc_id,
                       (long long)id);
    }
    /* stored sealed (encryption at rest) */
    return blob_open_in_place(&(struct blob_ref){BLOB_DOCUMENT,
                                                 d->request_id, d->sm3},
                              data, len, e);
}

err_code
sign_sealed_file(const struct actor_ctx *a, int64_t id, int64_t sealed_id,
                 struct store_sealed *k, uint8_t **data, size_t *len,
                 struct err *e)
{
    struct store_sreq r;
    struct store_seal s;
    err_code rc;

    *data = NULL;
    if ((rc = openable(a, id, &r, &s, e)) != ERR_OK ||
        (rc = store_sealed_get(a->db, sealed_id, k, NULL, NULL, e))
        != ERR_OK)
        return rc;
    if (k->request_id != id)
        return err_set(e, ERR_NOT_FOUND, "sealed OFD %lld is not of request "
                       "%lld", (long long)sealed_id, (long long)id);
    /* stored sealed (encryption at rest): a package that does not open
     * is an error, never bytes of it */
    if ((rc = store_sealed_get(a->db, sealed_id, k, data, len, e)) != ERR_OK)
        return rc;
    return blob_open_in_place(&(struct blob_ref){BLOB_SEALED,
                                                 k->document_id, k->sm3},
                              data, len, e);
}

err_code
sign_usage(const struct actor_ctx *a, const char *esid, int64_t *org_id,
           int64_t from_ms, int64_t to_ms, store_usage_fn fn, void *ctx,
           struct err *e)
{
    struct store_seal s;
    int64_t seal_id = 0;
    err_code rc;

    if (esid != NULL) {
        if ((rc = store_seal_get(a->db, esid, &s, e)) != ERR_OK)
            return rc;
        seal_id = s.id;
        *org_id = s.org_id;
    }
    /* the auditor (usage.read), or the organisation itself (an applicant
     * over it) */
    if (authz_require(a->db, a->p, PERM_USAGE_READ, *org_id, NULL)
        != ERR_OK &&
        (rc = authz_require(a->db, a->p, PERM_APPLICATION_SUBMIT, *org_id,
                            e)) != ERR_OK)
        return rc;
    return store_usage_summary(a->db, seal_id, esid ? 0 : *org_id, from_ms,
                               to_ms, fn, ctx, e);
}
