/*
 * application.h - seal applications (申请) and their review (审核): the
 * first half of a seal's life, before making.  States:
 *
 *   submitted -> under_review -> approved -> made
 *                     |  \-> rejected            (final, with reason)
 *                     \-> returned -> submitted   (resubmitted corrected)
 *
 * Rules: the applicant needs application.submit over the organisation; the
 * reviewer needs application.review over it and is never the applicant
 * (nobody reviews their own application); returns and rejections carry a
 * reason; only the applicant resubmits a returned application.  Every
 * change writes a history row and an audit record in its transaction.
 */
#ifndef SEALD_APPLICATION_H
#define SEALD_APPLICATION_H

#include <stddef.h>
#include <stdint.h>

#include "authz.h"
#include "store_types.h"

#define APP_NAME_MAX        100     /* seal name as it appears (bytes)   */
#define APP_POSITION_MAX    100
#define APP_REASON_MAX      500
#define APP_MAX_MATERIALS   10
#define APP_MATERIAL_MAX    (2 * 1024 * 1024)
#define APP_MATERIAL_NAME_MAX 120

struct app_material {
    const char    *name;
    const char    *media_type;      /* application/pdf, image/png, ... */
    const char    *type;            /* business_licence, id_card,
                                       authorisation_letter, other (NULL:
                                       other)                           */
    const uint8_t *data;
    size_t         len;
};

/* What an applicant gives.  All pointers borrowed. */
struct app_new {
    int64_t        org_id;
    const char    *purpose;         /* NULL/"new", or "change"            */
    const char    *replaces_esid;   /* change: the active seal replaced   */
    const char    *kind;            /* official, position, personal       */
    const char    *subkind;         /* official: legal_name, department,
                                       branch, business                   */
    const char    *business;        /* business seals: contract, finance,
                                       invoice, customs, inspection, other*/
    const char    *position;        /* position seals                     */
    const char    *seal_name;
    int64_t        custodian_id;
    const uint8_t *image;
    size_t         image_len;
    long           width_mm, height_mm;
    const char    *reason;          /* optional note                      */
    struct app_material materials[APP_MAX_MATERIALS];
    size_t         nmaterials;
    const char    *required_materials; /* the types its kind needs, comma-
                                          separated: config_required_
                                          materials(); NULL or "": none */
};

err_code application_submit(const struct actor_ctx *a,
                            const struct app_new *n, int64_t *id_out,
                            struct err *e);

/* Resubmit a returned application with corrected content (same id,
 * revision + 1); materials given are added to the earlier ones. */
err_code application_resubmit(const struct actor_ctx *a, int64_t id,
                              const struct app_new *n, struct err *e);

/* Ask to renew (purpose "renewal", allowed only within cfg renewal days
 * before expiry) or to revoke (purpose "revocation", reason and identity
 * materials required) the active seal esid; the request copies the seal's
 * application and goes through the same review.  renewal_days bounds the
 * renewal window. */
err_code application_request(const struct actor_ctx *a, const char *esid,
                             const char *purpose, const char *reason,
                             const struct app_material *materials,
                             size_t nmaterials, long renewal_days,
                             int64_t *id_out, struct err *e);

/* decision: "start" (submitted -> under_review), "return", "reject" (both
 * need reason), "approve".  A decision (reject, approve) names the
 * impression comparison it was made on (impression_check.h) in its audit
 * entry, or null.  With compare_required (an impression adapter is
 * configured), approving a new seal or a change is refused (ERR_CONFLICT)
 * until the image submitted now was compared: GD art. 12. */
err_code application_review(const struct actor_ctx *a, int64_t id,
                            const char *decision, const char *reason,
                            int compare_required, struct err *e);

/* The life of an application as one table (app_moves in app_moves.c):
 * a row per (event, the state it is in) with the state after it, whether
 * the event needs a reason, the audit action and the permission the actor
 * holds for it.  Every state check on an application goes through
 * application_move().  to, needs_reason, action may be NULL; *action: a
 * static string.  ERR_CONFLICT, naming the state, if the event is not
 * allowed in it. */
err_code application_move(const char *event, enum app_state from,
                          enum app_state *to, int *needs_reason,
                          const char **action, struct err *e);

/* Does event need a reason in whatever state it is allowed?  Asked before
 * the application is read, so that a missing reason is a 400 whatever its
 * state. */
int application_event_needs_reason(const char *event);

/* The permission event needs (its rows' perm column), asked before the
 * application's state is checked; PERM_NONE if no row has event. */
enum rbac_perm application_event_perm(const char *event);

/* The table's rows for `seald permissions` and the tests: row i (from 0)
 * in *event, *from, *to (the states' names); 0 past the last row. */
int application_move_row(size_t i, const char **event, const char **from,
                         const char **to);

/* Read, if the caller may: the applicant, or application.review /
 * application.submit over the organisation. */
err_code application_get(const struct actor_ctx *a, int64_t id,
                         struct store_app *out, struct err *e);

/* Application id whoever asks: the answer to a change a just made. */
err_code application_get_state(const struct actor_ctx *a, int64_t id,
                               struct store_app *out, struct err *e);

/* The applications a may read (application_get's rule) with id > after,
 * of org_id (0: any) and in state (APP_NONE: any), at most limit, by id,
 * to fn; the rule is applied in the query. */
err_code application_list(const struct actor_ctx *a, int64_t org_id,
                          enum app_state state, int64_t after, int limit,
                          store_app_fn fn, void *ctx, struct err *e);

/* The materials of application app (read by the caller with
 * application_get or _state), their metadata row by row to fn. */
err_code application_materials(const struct actor_ctx *a,
                               const struct store_app *app,
                               store_material_fn fn, void *ctx,
                               struct err *e);

/* The latest impression comparison of application app (read by the
 * caller with application_get or _state), in *out; out->outcome is ""
 * when none was made. */
err_code application_impression(const struct actor_ctx *a,
                                const struct store_app *app,
                                struct store_impression_check *out,
                                struct err *e);

/* Material mid of application id with its bytes (*data malloc'ed, the
 * caller frees; *media_type one of the accepted types, static), if a may
 * open it: the applicant, or a reviewer over the organisation whom SOD-4
 * lets review it.  ERR_NOT_FOUND for one a cannot read at all (as for one
 * that does not exist), ERR_FORBIDDEN for a reader who may not open it. */
err_code application_material_file(const struct actor_ctx *a, int64_t id,
                                   int64_t mid, struct store_material *m,
                                   const char **media_type, uint8_t **data,
                                   size_t *len, struct err *e);

/* The impression image of application id (the same rule), *type_name
 * "PNG" or "GIF" as stored. */
err_code application_image_file(const struct actor_ctx *a, int64_t id,
                                struct store_app *app, uint8_t **data,
                                size_t *len, struct err *e);

/* The state history of application app, row by row to fn. */
err_code application_history(const struct actor_ctx *a,
                              const struct store_app *app,
                              store_history_fn fn, void *ctx, struct err *e);

#endif
