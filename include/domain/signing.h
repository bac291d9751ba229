/*
 * signing.h - using a seal: signing requests (用印申请), their approval,
 * rejection (退签), resubmission (重签), cancellation, extra copies (加印),
 * and signing the approved documents.
 *
 *   submitted -> approved (a bounded grant: these documents, `copies`
 *             \            signatures each, until expires_ms)
 *              -> rejected (reason; the submitter may resubmit a corrected
 *             \             request that refers to it)
 *              -> cancelled (by the submitter, before any signature)
 *
 * The custodian of an active seal, or their deputy during an approved
 * deputy period, submits and signs; an approver with authority over the
 * seal's organisation, never the submitter, approves.  The documents'
 * SM3 hashes are pinned at submission: a changed document is a new request.
 * Signing builds TBS_Sign and has the token sign it, then, in one
 * transaction, re-checks the grant, the seal's state and validity, and
 * records the use with its audit record; a signature that does not commit
 * is never returned.
 */
#ifndef SEALD_SIGNING_H
#define SEALD_SIGNING_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "authz.h"
#include "rbac.h"
#include "seal.h"
#include "store_types.h"

/* The life of a signing request as one table (sreq_moves in
 * sign_moves.c): a row per (event, the state the request is in), giving
 * the state after it (the same state for the events that use a request
 * without changing it: uploading a document, signing, and the previous
 * request's check when a request resubmits a rejected one or asks for
 * extra copies of an approved one), whether the event needs a reason, and
 * the permission the actor holds for the event (the same in every row of
 * an event).  Every state check on a signing request goes through
 * sign_request_move().  *to (may be NULL): the state after.  ERR_CONFLICT,
 * naming the state, if the event is not allowed in it. */
err_code sign_request_move(const char *event, enum sreq_state from,
                           enum sreq_state *to, int *needs_reason,
                           struct err *e);

/* The permission the table gives event, whatever the state: what the
 * domain checks before it reads the state; PERM_NONE for an event the
 * table does not know. */
enum rbac_perm sign_request_event_perm(const char *event);

/* The table's rows, for `seald permissions` and the tests: row i (from
 * 0) in *event, *from, *to (the states' names); 0 past the last row. */
int sign_request_move_row(size_t i, const char **event, const char **from,
                          const char **to);

/* Row i's permission (an enum rbac_perm); -1 past the last row. */
int sign_request_move_perm(size_t i);

#define SIGN_TITLE_MAX      200
#define SIGN_PURPOSE_MAX    500
#define SIGN_DOC_NAME_MAX   200
#define SIGN_MAX_COPIES     100

struct sign_doc_new {
    const char    *name;            /* also TBS_Sign.propertyInfo         */
    const uint8_t *data;            /* the document, or NULL ...          */
    size_t         len;
    uint8_t        sm3[32];         /* ... its SM3 (computed if data)     */
    int64_t        size;            /* declared size when only hashed     */
};

struct sign_new {
    const char          *esid;
    const char          *title;
    const char          *purpose;
    long                 copies;
    int64_t              resubmits_id;   /* 重签 of a rejected request */
    int64_t              extra_for_id;   /* 加印: more copies          */
    struct sign_doc_new *docs;
    size_t               ndocs;
    /* the documents' type (config_doctype_valid), or NULL: checked
     * against the scope of the seal's kind in cfg ([scope]); a seal of a
     * limited kind refuses a request without one (ERR_SEAL_SCOPE) */
    const char          *document_type;
    const struct config *cfg;
};

/* Submit a request (the seal usable, the caller its requester, the
 * document type within the seal's scope: sign_scope_check).  *id_out the
 * new request. */
err_code sign_submit(const struct actor_ctx *a, const struct sign_new *n,
                     long max_documents, int64_t *id_out, struct err *e);

/* Seal scope (issue 18 item 10): ERR_OK if seal s may seal documents of
 * doctype (NULL or "" for a request that named none) under cfg's [scope]
 * list for the seal's kind (official seals by subkind, business seals by
 * their business: "business_contract", ...; position and personal seals by
 * kind); an empty or unknown list is every type.  ERR_SEAL_SCOPE, naming
 * the kind and its list, otherwise.  Read on c (the application that made
 * the seal says its kind). */
err_code sign_scope_check(struct store_conn *c, const struct config *cfg,
                          const struct store_seal *s, const char *doctype,
                          struct err *e);

/* approve (grant valid for ttl_ms) or reject (reason required). */
err_code sign_decide(const struct actor_ctx *a, int64_t id, int approve,
                     const char *reason, int64_t ttl_ms, struct err *e);

err_code sign_cancel(const struct actor_ctx *a, int64_t id, struct err *e);

/* Sign the request's documents (doc_ids NULL: all), one signature each.
 * *results (new reference) is an array with one object per document:
 * {"document_id", "status": "signed", "signature_id", "signature"
 * (base64 DER), "timestamp" (tsa_outcome_json: {"status": "off" | "added"
 * with "gen_time" | "none" with "reason"})} or {"document_id", "status": "error", "error": {code,
 * message}}.  Per-document failures do not fail the call; the call fails
 * only when the request itself cannot be signed. */
err_code sign_documents(const struct actor_ctx *a, const struct seal_env *env,
                        int64_t id, const int64_t *doc_ids, size_t ndocs,
                        json_t **results, struct err *e);

/* Upload the bytes of document doc_id of request id, named by its hash at
 * submission: sm3 (computed as the body arrived) and the length must equal
 * what was pinned, so the approved document cannot change.  Allowed to the
 * custodian (or deputy) while the request is submitted or approved. */
err_code sign_upload(const struct actor_ctx *a, int64_t id, int64_t doc_id,
                     const uint8_t *data, size_t len, const uint8_t sm3[32],
                     struct err *e);

struct ofd_stamp_pos;
struct tsa_outcome;

/* Seal the approved OFD document doc_id of request id (uploaded, not given
 * by hash) at pos: Signature.xml, Seal.esl and SignedValue.dat added, the
 * SES_Signature timestamped by tsa.policy (*ts says how, tsa.h), the use
 * recorded as for sign_documents.  *out (malloc'ed) is the sealed
 * package; *sig_id the usage record. */
err_code sign_ofd(const struct actor_ctx *a, const struct seal_env *env,
                  int64_t id, int64_t doc_id, const struct ofd_stamp_pos *pos,
                  int protect_all, uint8_t **out, size_t *out_len,
                  int64_t *sig_id, struct tsa_outcome *ts, struct err *e);

/* sign_ofd, and more: base_id (0: none) names a sealed OFD kept of the
 * same document (sign_sealed_file), which is sealed again instead of the
 * uploaded document (a second seal on one file: a 骑缝章 and a 落款章),
 * using one more copy of the grant; the package returned is kept (stored
 * sealed, encryption at rest: BLOB_SEALED) with the signature's record in
 * the same transaction, *kept_id its id.  Without an active data key
 * (ERR_UNAVAILABLE) nothing is signed. */
err_code sign_ofd_kept(const struct actor_ctx *a, const struct seal_env *env,
                       int64_t id, int64_t doc_id, int64_t base_id,
                       const struct ofd_stamp_pos *pos, int protect_all,
                       uint8_t **out, size_t *out_len, int64_t *sig_id,
                       int64_t *kept_id, struct tsa_outcome *ts,
                       struct err *e);

/* May a open the files of request r (its documents, its sealed OFDs)?
 * The submitter; the seal's custodian or their deputy now (acting for the
 * custodian, as signing does); an approver over the seal's organisation
 * whom SOD-6 lets decide it.  *seal gets r's seal.  A caller who may not
 * read r at all (sign_may_read) gets ERR_NOT_FOUND, as for a request that
 * does not exist; one who may read but not open it, ERR_FORBIDDEN. */
err_code sign_may_open(const struct actor_ctx *a, const struct store_sreq *r,
                       struct store_seal *seal, struct err *e);

/* Read access: the submitter, the seal's custodian, or an approver or
 * auditor over the seal's organisation. */
err_code sign_may_read(const struct actor_ctx *a, const struct store_sreq *r,
                       struct store_seal *seal, struct err *e);

/* ---- Reading signing requests (sign_read.c) ----
 * What the handlers call to read; read authorisation is applied here.
 * Buffers are malloc'ed: the caller frees. */

/* Request id and its seal, if a may read it (sign_may_read). */
err_code sign_request_get(const struct actor_ctx *a, int64_t id,
                          struct store_sreq *r, struct store_seal *s,
                          struct err *e);

/* Request id and its seal whoever asks: the answer to a change a just
 * made to it. */
err_code sign_request_get_state(const struct actor_ctx *a, int64_t id,
                                struct store_sreq *r, struct store_seal *s,
                                struct err *e);

/* The documents of r (read with one of the two above), row by row. */
err_code sign_request_documents(const struct actor_ctx *a,
                                const struct store_sreq *r, store_sdoc_fn fn,
                                void *ctx, struct err *e);

/* The DER of signature id and the seal it was made with, if a may read
 * its signing request. */
err_code sign_signature_file(const struct actor_ctx *a, int64_t id,
                             struct store_seal *s, uint8_t **der,
                             size_t *len, struct err *e);

/* The requests a may read (sign_may_read's rule, applied in the query)
 * with id > after, filtered by f, at most limit, by id, to fn. */
err_code sign_request_list(const struct actor_ctx *a,
                           const struct store_sreq_filter *f, int64_t after,
                           int limit, store_sreq_fn fn, void *ctx,
                           struct err *e);

/* Document doc_id of request id with its bytes (*data malloc'ed, the
 * caller frees) if a may open it (sign_may_open); ERR_NOT_FOUND also for
 * a document given by hash only and never uploaded. */
err_code sign_document_file(const struct actor_ctx *a, int64_t id,
                            int64_t doc_id, struct store_sdoc *d,
                            uint8_t **data, size_t *len, struct err *e);

/* Kept sealed OFD sealed_id of request id with its bytes (opened from
 * their stored blob, malloc'ed, the caller frees), if a may open the
 * request's files (sign_may_open).  A stored package that does not open
 * is ERR_CRYPTO (logged blob_unreadable) and *data stays NULL. */
err_code sign_sealed_file(const struct actor_ctx *a, int64_t id,
                          int64_t sealed_id, struct store_sealed *k,
                          uint8_t **data, size_t *len, struct err *e);

/* The usage summary per seal in [from_ms, to_ms) of seal esid (its
 * organisation is then written to *org_id) or, when esid is NULL, of
 * organisation *org_id: for the auditor (usage.read) and for an applicant
 * over the organisation. */
err_code sign_usage(const struct actor_ctx *a, const char *esid,
                    int64_t *org_id, int64_t from_ms, int64_t to_ms,
                    store_usage_fn fn, void *ctx, struct err *e);

#endif
