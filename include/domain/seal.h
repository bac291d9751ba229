/*
 * seal.h - the life of a seal after its application is approved: making
 * (holder key in the token, certificate from the local CA or an external
 * one, the SESeal signed by the maker), confirmation by the applicant,
 * filing, suspension, loss report, revocation, expiry, and the status
 * service.  States (the one table of moves is seal_moves in seal.c):
 *
 *   made -> active -> suspended | lost | revoked | expired
 *           suspended -> active (lifted) | lost | revoked
 *           lost -> the state before the loss (found, after review)
 *                 | revoked
 *
 * "revoked" and "expired" are final.  A suspended seal remembers why it
 * is held (seals.hold): by the security administrator or by its
 * organisation (only that authority lifts it), unused for too long or its
 * organisation disabled (never lifted: a new application makes a new
 * seal).  The hold survives a loss report.  Every change writes a history
 * row and an audit record in its transaction.  Token work (key
 * generation, signing) happens before the write transaction so that no
 * database lock is held while the HSM works; the transaction re-checks
 * the state it depends on.
 */
#ifndef SEALD_SEAL_H
#define SEALD_SEAL_H

#include <stdint.h>

#include <openssl/x509_vfy.h>

#include "authz.h"
#include "config.h"
#include "custody.h"
#include "store_types.h"
#include "unit.h"

#define SEAL_REASON_MAX 500

/* What seal operations need beyond the caller: the tokens and settings. */
struct seal_env {
    struct custody      *custody;
    const struct config *cfg;
};

/* Make the seal of approved application app_id with a certificate from the
 * local CA.  *esid_out (SEAL_ESID cap 64) names the new seal. */
err_code seal_make_local(const struct actor_ctx *a, const struct seal_env *env,
                         int64_t app_id, char *esid_out, struct err *e);

/* External CA, step 1: generate the holder key and return a PKCS#10 request
 * for it (*csr_pem malloc'ed, caller frees). */
err_code seal_request_certificate(const struct actor_ctx *a,
                                  const struct seal_env *env, int64_t app_id,
                                  char **csr_pem, struct err *e);

/* External CA, step 2: import the issued certificate (PEM or DER, with any
 * intermediates), check it against the key and the trust anchors, and make
 * the seal with it. */
err_code seal_make_with_certificate(const struct actor_ctx *a,
                                    const struct seal_env *env,
                                    int64_t app_id, const uint8_t *cert,
                                    size_t len, char *esid_out,
                                    struct err *e);

/* The applicant confirms the impression: made -> active.  A seal made for a
 * change replaces its predecessor, which is revoked in the same
 * transaction. */
err_code seal_confirm(const struct actor_ctx *a, const char *esid,
                      struct err *e);

/* Mark the filing record as delivered (filed). */
err_code seal_mark_filed(const struct actor_ctx *a, const char *esid,
                         struct err *e);

/* active -> suspended (manual), held by the authority the caller holds
 * seal.suspend in: the security administrator or the organisation. */
err_code seal_suspend(const struct actor_ctx *a, const char *esid,
                      const char *reason, struct err *e);

/* Lift a manual suspension: suspended -> active, only by the authority
 * that holds it (ERR_FORBIDDEN for another), never for an automatic or
 * organisation-disabled hold (ERR_CONFLICT), nor in a disabled
 * organisation. */
err_code seal_resume(const struct actor_ctx *a, const char *esid,
                     const char *reason, struct err *e);

/* Loss or compromise report: active|suspended -> lost, at once; the state
 * before it and the hold are kept. */
err_code seal_report_loss(const struct actor_ctx *a, const char *esid,
                          const char *reason, struct err *e);

/* After review of a loss: outcome "revoke" (-> revoked) or "reinstate"
 * (found: back to the state before the loss, with its hold; an active
 * seal of an organisation disabled meanwhile is then suspended). */
err_code seal_resolve_loss(const struct actor_ctx *a, const char *esid,
                           const char *outcome, const char *reason,
                           struct err *e);

/* Revoke seal_id inside the caller's unit (approved revocation request,
 * or a change taking effect), with history and audit entry. */
err_code seal_revoke_in_tx(struct unit *u, int64_t seal_id,
                           const char *reason_code, const char *reason,
                           struct err *e);

/* Inside the caller's unit (disabling organisation org_id): suspend every
 * active seal of org_id and its subtree, held "org_disabled", each with
 * its history row and audit entry.  *n gets how many. */
err_code seal_org_disabled_in_tx(struct unit *u, int64_t org_id,
                                 int *n, struct err *e);

/* Inside the caller's unit (organisation org_id renamed from old_name to
 * new_name): flag its legal-name seals that are not revoked or expired as
 * needing a change, each flag audited.  *n gets how many were newly
 * flagged. */
err_code seal_org_renamed_in_tx(struct unit *u, int64_t org_id,
                                const char *old_name, const char *new_name,
                                int *n, struct err *e);

/* Row i of the table of a seal's moves (seal_moves in seal.c), as the
 * state names: 0 past the last row.  *to is "" for a move back to the
 * state before the loss (reinstate). */
int seal_move_row(size_t i, const char **event, const char **from,
                  const char **to);

/* The permission (enum rbac_perm) the actor of row i's event holds over
 * the seal's organisation; PERM_NONE for the system's moves and past the
 * last row. */
int seal_move_perm(size_t i);

/* ERR_OK if seal s may be used at now: active, inside its validity, and
 * neither its organisation nor one above it disabled; ERR_CONFLICT with
 * the reason otherwise. */
err_code seal_check_usable(struct store_conn *db, const struct store_seal *s,
                           int64_t now, struct err *e);

/* The maintenance job: expire seals past their validity and suspend seals
 * unused for cfg->seal_suspend_unused_days.  *n gets how many changed. */
err_code seal_maintain(struct store_conn *db, const struct config *cfg,
                       int *n, struct err *e);

/* The signed status list: seal_list.h. */

/* Read access to a seal's details: any role over its organisation, or its
 * custodian. */
err_code seal_may_read(const struct actor_ctx *a, const struct store_seal *s,
                       struct err *e);

/* ---- Reading seals (seal_read.c) ----
 * What the handlers call to read seals; read authorisation is applied
 * here.  Results are the caller's (buffers malloc'ed: the caller frees). */

/* The seal esid if a may read it (seal_may_read): ERR_NOT_FOUND, or
 * ERR_FORBIDDEN. */
err_code seal_get(const struct actor_ctx *a, const char *esid,
                  struct store_seal *out, struct err *e);

/* The seal esid whoever asks: its state is for every authenticated
 * caller (relying parties check seals they do not hold), and the answer
 * to a change a just made. */
err_code seal_get_state(const struct actor_ctx *a, const char *esid,
                        struct store_seal *out, struct err *e);

struct seal_filter {
    int64_t         org_id;           /* 0: any                      */
    const char     *kind;             /* NULL: any                   */
    enum seal_state state;            /* SEAL_NONE: any              */
    int64_t         expiring_before_ms;   /* 0: any                  */
};

/* The seals a may read with id > after, at most limit, in id order: the
 * scope is applied in the query, so a page is short only at the end. */
err_code seal_list(const struct actor_ctx *a, const struct seal_filter *f,
                   int64_t after, int limit, store_seal_fn fn, void *ctx,
                   struct err *e);

/* The seal file (DER) of s, which the caller has read with seal_get. */
err_code seal_file(const struct actor_ctx *a, const struct store_seal *s,
                   uint8_t **der, size_t *len, struct err *e);

/* The impression of s: its bytes, *gif set for GIF (else PNG). */
err_code seal_picture(const struct actor_ctx *a, const struct store_seal *s,
                      uint8_t **buf, size_t *len, int *gif, struct err *e);

/* The state history of s, row by row to fn. */
err_code seal_history(const struct actor_ctx *a, const struct store_seal *s,
                      store_history_fn fn, void *ctx, struct err *e);

/* What the filing record of s is made of: its organisation, its
 * application and its seal file. */
err_code seal_filing_parts(const struct actor_ctx *a,
                           const struct store_seal *s, struct store_org *org,
                           struct store_app *app, uint8_t **der, size_t *len,
                           struct err *e);

#endif
