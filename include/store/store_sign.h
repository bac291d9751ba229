/*
 * store_sign.h - the queries of store_sign.c: signing requests, their
 * documents, signatures and the usage record.
 */
#ifndef SEALD_STORE_SIGN_H
#define SEALD_STORE_SIGN_H

#include "store.h"

err_code store_sreq_insert(struct store_conn *c, const struct store_sreq *r,
                           int64_t *id_out, struct err *e);

err_code store_sreq_get(struct store_conn *c, int64_t id,
                        struct store_sreq *out, struct err *e);

/* from -> to with reason; approver/approved/expires set when non-zero;
 * ERR_CONFLICT if not in `from`. */
err_code store_sreq_transition(struct store_conn *c, int64_t id,
                               enum sreq_state from, enum sreq_state to,
                               const char *reason, int64_t approver_id,
                               int64_t approved_ms, int64_t expires_ms,
                               int64_t now_ms, struct err *e);

/* The signing requests reader_id may read (sign_may_read's rule, in the
 * query): submitted by the reader, of a seal the reader keeps, or of a
 * seal of an organisation in the subtrees of scope (the scopes of
 * request.approve and usage.read); approve_scope (the scopes of
 * request.approve) bounds f->waiting_for_reader.  id > after, at most
 * limit, by id, to fn. */
err_code store_sreq_list(struct store_conn *c, int64_t reader_id,
                         const int64_t *scope, size_t nscope,
                         const int64_t *approve_scope, size_t napprove,
                         const struct store_sreq_filter *f, int64_t after,
                         int limit, store_sreq_fn fn, void *ctx,
                         struct err *e);

/* Keep sealed OFD data (s: request, document, base, and the size and SM3
 * of the package; data is the blob as stored, sealed by blobcrypt) with
 * the signature sig_der that sealed it, recorded in this transaction (the
 * row is found by it).  *id_out its id (in a batch: set at the batch's
 * check).  With store_sealed_get the one place sealed OFD bytes are
 * written and read. */
err_code store_sealed_insert(struct store_conn *c,
                             const struct store_sealed *s,
                             const uint8_t *sig_der, size_t sig_len,
                             const uint8_t *data, size_t len,
                             int64_t *id_out, struct err *e);

/* Kept sealed OFD id; with data != NULL also its bytes as stored
 * (malloc'ed; sealed: blob_open them with BLOB_SEALED). */
err_code store_sealed_get(struct store_conn *c, int64_t id,
                          struct store_sealed *out, uint8_t **data,
                          size_t *len, struct err *e);

err_code store_sdoc_insert(struct store_conn *c, int64_t request_id,
                           const char *name, int64_t size,
                           const uint8_t sm3[32], const void *data,
                           size_t data_len, struct err *e);

err_code store_sdoc_list(struct store_conn *c, int64_t request_id,
                         store_sdoc_fn fn, void *ctx, struct err *e);

/* One document; with data != NULL also its bytes (*data malloc'ed, NULL
 * and *len 0 when only the hash was given). */
err_code store_sdoc_get(struct store_conn *c, int64_t id,
                        struct store_sdoc *out, uint8_t **data, size_t *len,
                        struct err *e);

/* Attach the bytes of a document named by hash only; ERR_CONFLICT if it
 * already has them. */
err_code store_sdoc_set_data(struct store_conn *c, int64_t id,
                             const void *data, size_t len, struct err *e);

/* Count one more signature of document id of request request_id, if the
 * request is still approved and unexpired at now_ms and fewer signatures
 * of the document were made than it grants; ERR_CONFLICT otherwise.  In a
 * batch (db.h) the answer comes at the batch's check, and the id of
 * store_sig_insert below likewise. */
err_code store_sdoc_take(struct store_conn *c, int64_t id, int64_t request_id,
                         int64_t now_ms, struct err *e);

/* Signatures made under a request so far. */
err_code store_sreq_signed(struct store_conn *c, int64_t request_id,
                           int64_t *n, struct err *e);

/* A fault check on seal_id's token values failed: mark every signature of
 * the seal made since its last checked one, and not checked itself, as
 * suspect.  *n gets how many were marked. */
err_code store_sig_mark_suspect(struct store_conn *c, int64_t seal_id,
                                int64_t *n, struct err *e);

/* The record of signature der (of document hash data_sm3 with seal_id), if
 * this instance made it: *found 1 and *out filled, else *found 0. */
err_code store_sig_find(struct store_conn *c, int64_t seal_id,
                        const uint8_t data_sm3[32], const uint8_t *der,
                        size_t len, int *found, struct store_sig *out,
                        struct err *e);

/* The same by the signature alone, among the records of seal_id made in
 * [from_ms, to_ms] (the index signatures_seal bounds the search): for an
 * OFD signature, whose dataHash is not the stored document's SM3. */
err_code store_sig_find_near(struct store_conn *c, int64_t seal_id,
                             int64_t from_ms, int64_t to_ms,
                             const uint8_t *der, size_t len, int *found,
                             struct store_sig *out, struct err *e);

/* Record signature s with its DER; *id_out its id (in a batch: set at the
 * batch's check, so id_out must stay valid until then). */
err_code store_sig_insert(struct store_conn *c, const struct store_sig *s,
                          const uint8_t *der, size_t len, int64_t *id_out,
                          struct err *e);

/* A signature's record and (if der is not NULL) its DER, malloc'ed. */
err_code store_sig_get(struct store_conn *c, int64_t id,
                       struct store_sig *out, uint8_t **der, size_t *len,
                       struct err *e);

/* Usage records of seal (0: any) / org (0: any) in [from_ms, to_ms). */
err_code store_sig_list(struct store_conn *c, int64_t seal_id,
                        int64_t org_id, int64_t from_ms, int64_t to_ms,
                        int64_t after, int limit, store_sig_fn fn, void *ctx,
                        struct err *e);

/* Summary per seal of seal (0: any) / org (0: any) in [from_ms, to_ms). */
err_code store_usage_summary(struct store_conn *c, int64_t seal_id,
                             int64_t org_id, int64_t from_ms, int64_t to_ms,
                             store_usage_fn fn, void *ctx, struct err *e);

/* The seal was used now (drives automatic suspension), if it is still
 * usable at now_ms (active, within its validity, its organisation and
 * those above in service): ERR_CONFLICT when it is not (in a batch, at
 * the batch's check; the caller words why).  The statement locks the seal's
 * row: on PostgreSQL a change of the seal's state on another node (a
 * suspension, a revocation) either commits first, and this finds it, or
 * waits for the signature's transaction to commit. */
err_code store_seal_touch(struct store_conn *c, int64_t seal_id,
                          int64_t now_ms, struct err *e);

#endif
