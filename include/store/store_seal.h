/*
 * store_seal.h - the queries of store_seal.c: seal applications, their
 * materials, the state history, seals and their holds.
 */
#ifndef SEALD_STORE_SEAL_H
#define SEALD_STORE_SEAL_H

#include "store.h"

/* Insert an application (state and revision from *a) with its image. */
err_code store_app_insert(struct store_conn *c, const struct store_app *a,
                          const void *image, size_t image_len,
                          int64_t *id_out, struct err *e);

/* Replace the content of an application on resubmission: every field the
 * applicant gives, the image, revision + 1. */
err_code store_app_replace(struct store_conn *c, const struct store_app *a,
                           const void *image, size_t image_len,
                           struct err *e);

/* ERR_NOT_FOUND if absent. */
err_code store_app_get(struct store_conn *c, int64_t id,
                       struct store_app *out, struct err *e);

/* The image bytes; *buf malloc'ed, caller frees. */
err_code store_app_image(struct store_conn *c, int64_t id, uint8_t **buf,
                         size_t *len, struct err *e);

/* Record check as application id's latest impression comparison. */
err_code store_app_impression_set(struct store_conn *c, int64_t id,
                                  const struct store_impression_check *check,
                                  struct err *e);

/* Application id's latest impression comparison; out->outcome is "" when
 * none was made.  ERR_NOT_FOUND if there is no such application. */
err_code store_app_impression_get(struct store_conn *c, int64_t id,
                                  struct store_impression_check *out,
                                  struct err *e);

/* Move from state `from` to `to` with reason (may be NULL) and reviewer (0:
 * keep); ERR_CONFLICT if it was not in `from`. */
err_code store_app_transition(struct store_conn *c, int64_t id,
                              enum app_state from, enum app_state to,
                              const char *reason, int64_t reviewer_id,
                              int64_t now_ms, struct err *e);

/* Applications with id > after that reader_id applied for or whose
 * organisation lies in the subtrees of the nscope scope organisations (at
 * most STORE_MAX_ROLES: the reader's), optionally of org (0: any) and in
 * state (APP_NONE: any), by id, at most limit; the scope is applied before
 * LIMIT. */
err_code store_app_list(struct store_conn *c, int64_t reader_id,
                        const int64_t *scope, size_t nscope, int64_t org_id,
                        enum app_state state, int64_t after, int limit,
                        store_app_fn fn, void *ctx, struct err *e);

err_code store_material_insert(struct store_conn *c, int64_t app_id,
                               const struct store_material *m,
                               struct err *e);

err_code store_material_list(struct store_conn *c, int64_t app_id,
                             store_material_fn fn, void *ctx, struct err *e);

/* Material id; with data != NULL also its bytes (*data malloc'ed, the
 * caller frees).  One of the few functions that read a stored file's
 * bytes (with store_app_image, store_sdoc_get and store_sealed_get), so
 * that encryption at rest wraps them in one place each. */
err_code store_material_get(struct store_conn *c, int64_t id,
                            struct store_material *out, uint8_t **data,
                            size_t *len, struct err *e);

/* One history row for subject ("application" or "seal"). */
err_code store_history_insert(struct store_conn *c, const char *type,
                              int64_t id, const char *from, const char *to,
                              int64_t actor_id, int64_t now_ms,
                              const char *reason, struct err *e);

err_code store_history_list(struct store_conn *c, const char *type,
                            int64_t id, store_history_fn fn, void *ctx,
                            struct err *e);

/* Insert a seal (fields from *s) with its DER and certificate. */
err_code store_seal_insert(struct store_conn *c, const struct store_seal *s,
                           const uint8_t *seal_der, size_t seal_len,
                           const uint8_t *cert_der, size_t cert_len,
                           int64_t *id_out, struct err *e);

/* By esID; ERR_NOT_FOUND if absent. */
err_code store_seal_get(struct store_conn *c, const char *esid,
                        struct store_seal *out, struct err *e);

err_code store_seal_get_id(struct store_conn *c, int64_t id,
                           struct store_seal *out, struct err *e);

/* The seal file or the holder certificate (which: "seal" or "cert");
 * *buf malloc'ed, caller frees. */
err_code store_seal_blob(struct store_conn *c, int64_t id, const char *which,
                         uint8_t **buf, size_t *len, struct err *e);

/* Apply m to seal id at now_ms; ERR_CONFLICT if the seal is not in
 * m->from (it changed meanwhile). */
err_code store_seal_transition(struct store_conn *c, int64_t id,
                               const struct store_seal_move *m,
                               int64_t now_ms, struct err *e);

/* Flag a seal for change (a rename made its name stale) at now_ms, unless
 * it is flagged already; *flagged 1 if this call flagged it. */
err_code store_seal_flag_change(struct store_conn *c, int64_t id,
                                int64_t now_ms, int *flagged,
                                struct err *e);

/* Active seals of organisation org_id and its whole subtree, by id. */
err_code store_seal_list_active_subtree(struct store_conn *c, int64_t org_id,
                                        store_seal_fn fn, void *ctx,
                                        struct err *e);

/* Legal-name seals (kind official, subkind legal_name) of organisation
 * org_id that are not revoked or expired, by id. */
err_code store_seal_list_legal_name(struct store_conn *c, int64_t org_id,
                                    store_seal_fn fn, void *ctx,
                                    struct err *e);

/* Set confirmed_ms / filing state. */
err_code store_seal_confirmed(struct store_conn *c, int64_t id,
                              int64_t now_ms, struct err *e);

err_code store_seal_filed(struct store_conn *c, int64_t id, int64_t now_ms,
                          struct err *e);

/* The seals r may read with id > after, at most limit, in id order;
 * filters: org (0 any), kind (NULL any), state (SEAL_NONE any),
 * valid_end before expiring_before_ms (0 any).  The scope is applied in
 * SQL, so a page holds limit seals whenever there are that many more. */
err_code store_seal_list(struct store_conn *c,
                         const struct store_seal_reader *r, int64_t org_id,
                         const char *kind, enum seal_state state,
                         int64_t expiring_before_ms, int64_t after,
                         int limit, store_seal_fn fn, void *ctx,
                         struct err *e);

/*
 * The seal status list's rows (migration 011): seals neither active nor
 * made whose validity did not end before cutoff_ms (a seal without a
 * validity end is kept), in esID byte order.  Run them in one store_read
 * so that they agree.  count: how many; nth: the esID at offset (0-based;
 * ERR_NOT_FOUND past the end); page: up to limit rows with esID after
 * `after` ("" for the first), each given to fn with esid, state,
 * state_since_ms, reason_code and valid_end_ms set (the rest zero); an
 * error of fn stops the walk and is returned.
 */
err_code store_status_list_count(struct store_conn *c, int64_t cutoff_ms,
                                 int64_t *n, struct err *e);
err_code store_status_list_nth(struct store_conn *c, int64_t cutoff_ms,
                               int64_t offset, char esid[STORE_ESID_MAX],
                               struct err *e);
err_code store_status_list_page(struct store_conn *c, int64_t cutoff_ms,
                                const char *after, int limit,
                                store_seal_fn fn, void *ctx, struct err *e);

/* A seal and the lowercase hex SM3 of its file into sm3_hex ("" while not
 * known), by esID (by_hash 0) or by that hex SM3 (by_hash 1), for the
 * status statements; ERR_NOT_FOUND if absent. */
err_code store_seal_status_get(struct store_conn *c, const char *key,
                               int by_hash, struct store_seal *out,
                               char sm3_hex[65], struct err *e);

/* Record the hex SM3 of seal id's file. */
err_code store_seal_set_sm3(struct store_conn *c, int64_t id,
                            const char *sm3_hex, struct err *e);

/* Up to limit seals with id > after that have a file but no recorded SM3,
 * by id: fn gets the id and the file (borrowed for the call; fn must not
 * use the connection). */
typedef err_code (*store_seal_der_fn)(void *ctx, int64_t id,
                                      const void *der, size_t len);
err_code store_seal_list_no_sm3(struct store_conn *c, int64_t after,
                                int limit, store_seal_der_fn fn, void *ctx,
                                struct err *e);

/* Active seals unused (last use, else confirmation) since before_ms, or
 * whose validity ended before now_ms: for the maintenance job. */
err_code store_seal_list_stale(struct store_conn *c, int64_t before_ms,
                               int64_t now_ms, store_seal_fn fn, void *ctx,
                               struct err *e);

/* Next number in the esID sequence of region (1, 2, ...). */
err_code store_esid_next(struct store_conn *c, const char *region,
                         int64_t *seq, struct err *e);

/* Remember the holder key generated for an application. */
err_code store_app_set_holder_key(struct store_conn *c, int64_t id,
                                  const char *key_ref, struct err *e);

/* Copy an earlier application's content into a new one for a renewal or a
 * revocation request of its seal. */
err_code store_app_copy(struct store_conn *c, int64_t from_app,
                        int64_t applicant_id, const char *purpose,
                        int64_t seal_id, const char *reason, int64_t now_ms,
                        int64_t *id_out, struct err *e);

/* The instance's CA, maker or status signer certificate (role "ca",
 * "maker" or "status", migration 010).  put
 * inserts or replaces; get gives key_ref (cap CONFIG-sized) and the DER
 * (*der malloc'ed, caller frees); ERR_NOT_FOUND if absent. */
err_code store_authority_put(struct store_conn *c, const char *role,
                             const char *key_ref, const uint8_t *der,
                             size_t len, int64_t now_ms, struct err *e);

err_code store_authority_get(struct store_conn *c, const char *role,
                             char *key_ref, size_t cap, uint8_t **der,
                             size_t *len, struct err *e);

/* How many seals are in each state: counts[state] (counts[SEAL_NONE]
 * holds any whose stored state no table knows). */
err_code store_seal_count_by_state(struct store_conn *c,
                                   int64_t counts[SEAL_STATE__COUNT],
                                   struct err *e);

#endif
