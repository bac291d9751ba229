/*
 * application.c - seal applications and their review (application.h).
 * Each change is one unit of work (unit.h): the public function checks
 * what needs no database (the shape of the application, the decision and
 * its reason) and runs its *_work function in a unit, which reads the
 * application, checks authority and rules, writes the change and its
 * history row and names the audit entry; unit_run appends it and commits.
 * A refusal is an error returned by the work: the unit rolls back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "application.h"
#include "audit.h"
#include "blobcrypt.h"
#include "config.h"
#include "img.h"
#include "rbac.h"
#include "seal.h"
#include "sm2.h"
#include "sod.h"
#include "unit.h"
#include "util.h"
#include "store_account.h"
#include "store_seal.h"

static const char *const kinds[] = {"official", "position", "personal",
                                    NULL};
static const char *const subkinds[] = {"legal_name", "department", "branch",
                                       "business", NULL};
static const char *const businesses[] = {"contract", "finance", "invoice",
                                         "customs", "inspection", "other",
                                         NULL};
static const char *const media_types[] = {"application/pdf", "image/png",
                                          "image/jpeg", "image/gif",
                                          "application/ofd", NULL};

static int
one_of(const char *v, const char *const *list)
{
    for (; v != NULL && *list != NULL; list++)
        if (strcmp(v, *list) == 0)
            return 1;
    return 0;
}

/* The types given so far (have, NULL-terminated, borrowed strings). */
struct have_types {
    char types[APP_MAX_MATERIALS * 8][24];
    size_t n;
};

static err_code
have_add(void *ctx, const struct store_material *m)
{
    struct have_types *h = ctx;

    if (h->n < sizeof(h->types) / sizeof(h->types[0]))
        snprintf(h->types[h->n++], sizeof(h->types[0]), "%s", m->type);
    return ERR_OK;
}

/* ERR_MATERIALS_MISSING listing every type of n->required_materials (the
 * [materials] list of its kind) that neither n's materials nor those
 * stored for application app_id (0: none yet) have. */
static err_code
check_required(const struct actor_ctx *a, const char *kind, int64_t app_id,
               const struct app_new *n, struct err *e)
{
    const char *p = n->required_materials, *comma;
    struct have_types have;
    char missing[200] = "", need[24];
    size_t k, len = 0, nlen;
    int found;
    err_code rc;

    have.n = 0;
    if (p == NULL || *p == '\0')
        return ERR_OK;
    if (app_id != 0 &&
        (rc = store_material_list(a->db, app_id, have_add, &have, e))
        != ERR_OK)
        return rc;
    for (; *p != '\0'; p = comma ? comma + 1 : p + nlen) {
        comma = strchr(p, ',');
        nlen = comma ? (size_t)(comma - p) : strlen(p);
        snprintf(need, sizeof(need), "%.*s", (int)nlen, p);
        found = 0;
        for (k = 0; k < n->nmaterials && !found; k++)
            found = n->materials[k].type != NULL &&
                    strcmp(n->materials[k].type, need) == 0;
        for (k = 0; k < have.n && !found; k++)
            found = strcmp(have.types[k], need) == 0;
        if (!found && len < sizeof(missing))
            len += (size_t)snprintf(missing + len, sizeof(missing) - len,
                                    "%s%s", len ? ", " : "", need);
        if (comma == NULL)
            break;
    }
    if (len == 0)
        return ERR_OK;
    return err_set(e, ERR_MATERIALS_MISSING, "an application for a seal "
                   "of kind %s needs these materials: missing %s", kind,
                   missing);
}

/* Shape rules of an application, independent of the database. */
static err_code
check_shape(const struct app_new *n, struct img_info *img, struct err *e)
{
    size_t i;
    err_code rc;

    if (!one_of(n->kind, kinds))
        return err_set(e, ERR_INVALID, "kind must be official, position or "
                       "personal");
    if (!strcmp(n->kind, "official")) {
        if (!one_of(n->subkind, subkinds))
            return err_set(e, ERR_INVALID, "an official seal needs subkind "
                           "legal_name, department, branch or business");
        if (!strcmp(n->subkind, "business") != !!n->business ||
            (n->business && !one_of(n->business, businesses)))
            return err_set(e, ERR_INVALID, "business seals (and only they) "
                           "name a business: contract, finance, invoice, "
                           "customs, inspection or other");
    } else if (n->subkind != NULL || n->business != NULL) {
        return err_set(e, ERR_INVALID, "subkind and business are for "
                       "official seals only");
    }
    if (!strcmp(n->kind, "position") != (n->position != NULL))
        return err_set(e, ERR_INVALID, "position seals (and only they) name "
                       "the holder's position");
    if (strlen(n->seal_name) > APP_NAME_MAX)
        return err_set(e, ERR_INVALID, "seal_name is at most %d bytes",
                       APP_NAME_MAX);
    if ((rc = img_check(n->image, n->image_len, n->width_mm, n->height_mm,
                        img, e)) != ERR_OK)
        return rc == ERR_TOO_LARGE || rc == ERR_NOMEM
                   ? rc : err_wrap(e, ERR_INVALID, "image");
    for (i = 0; i < n->nmaterials; i++) {
        const struct app_material *m = &n->materials[i];
        if (m->type != NULL && !one_of(m->type, config_material_types))
            return err_set(e, ERR_INVALID, "material %zu: type must be "
                           "business_licence, id_card, authorisation_letter "
                           "or other", i + 1);
        if (!one_of(m->media_type, media_types))
            return err_set(e, ERR_INVALID, "material %zu: media type must be "
                           "PDF, PNG, JPEG, GIF or OFD", i + 1);
        if (m->len == 0 || m->len > APP_MATERIAL_MAX)
            return err_set(e, ERR_TOO_LARGE, "material %zu: 1 to %d bytes",
                           i + 1, APP_MATERIAL_MAX);
    }
    return ERR_OK;
}

static void
fill_row(struct store_app *row, const struct app_new *n,
         const struct img_info *img)
{
    snprintf(row->kind, sizeof(row->kind), "%s", n->kind);
    snprintf(row->subkind, sizeof(row->subkind), "%s",
             n->subkind ? n->subkind : "");
    snprintf(row->business, sizeof(row->business), "%s",
             n->business ? n->business : "");
    snprintf(row->position, sizeof(row->position), "%s",
             n->position ? n->position : "");
    snprintf(row->seal_name, sizeof(row->seal_name), "%s", n->seal_name);
    snprintf(row->reason, sizeof(row->reason), "%s",
             n->reason ? n->reason : "");
    snprintf(row->image_type, sizeof(row->image_type), "%s", img->type_name);
    memcpy(row->image_sm3, img->sm3, sizeof(row->image_sm3));
    row->custodian_id = n->custodian_id;
    row->width_px = (int)img->width;
    row->height_px = (int)img->height;
    row->width_mm = (int)n->width_mm;
    row->height_mm = (int)n->height_mm;
}

/* The named custodian may keep a seal of org_id (rule SOD-5). */
static err_code
check_custodian(const struct actor_ctx *a, int64_t id, int64_t org_id,
                struct err *e)
{
    return sod_custodian(a->db, id, org_id, "designation", e);
}

/* Each material of n, sealed under key for application id (blobcrypt.h),
 * as revision revision. */
static err_code
add_materials(const struct actor_ctx *a, const struct blob_key *key,
              int64_t id, int revision, const struct app_new *n,
              struct err *e)
{
    struct store_material m;
    uint8_t *ct;
    size_t i, ctn;
    err_code rc;

    for (i = 0; i < n->nmaterials; i++) {
        struct blob_ref ref = {BLOB_MATERIAL, id, m.sm3};
        memset(&m, 0, sizeof(m));
        m.revision = revision;
        snprintf(m.name, sizeof(m.name), "%s", n->materials[i].name);
        snprintf(m.media_type, sizeof(m.media_type), "%s",
                 n->materials[i].media_type);
        snprintf(m.type, sizeof(m.type), "%s", n->materials[i].type
                 ? n->materials[i].type : "other");
        m.size_bytes = (int64_t)n->materials[i].len;
        if ((rc = sm2_sm3(n->materials[i].data, n->materials[i].len, m.sm3,
                          e)) != ERR_OK ||
            (rc = blob_seal(key, &ref, n->materials[i].data,
                            n->materials[i].len, &ct, &ctn, e)) != ERR_OK)
            return rc;
        m.data = ct;
        m.data_len = ctn;
        rc = store_material_insert(a->db, id, &m, e);
        free(ct);
        if (rc != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

/* The impression image of n, sealed under key (owner 0: a renewal copies
 * the row's image as it is, store_app_copy, so the AAD names its SM3 and
 * column only).  *out is malloc'ed, caller frees. */
static err_code
seal_image(const struct blob_key *key, const struct app_new *n,
           const struct img_info *img, uint8_t **out, size_t *len,
           struct err *e)
{
    struct blob_ref ref = {BLOB_IMAGE, 0, img->sm3};

    return blob_seal(key, &ref, n->image, n->image_len, out, len, e);
}

/* The end of every unit here: the history row of application id's move
 * from (APP_NONE: a new application) -> to, then the unit's audit entry
 * naming it; both carry the states' names. */
/* The history row and the audit entry of an application's move; the
 * entry's details carry from, to, reason and, when key is not NULL, key:
 * extra (consumed, also on failure). */
static err_code
record_move_with(struct unit *u, int64_t id, enum app_state from_state,
                 enum app_state to_state, const char *action,
                 const char *reason, const char *key, json_t *extra,
                 struct err *e)
{
    const struct actor_ctx *a = &u->a;
    const char *from = from_state != APP_NONE ? app_state_name(from_state)
                                              : NULL;
    const char *to = app_state_name(to_state);
    json_t *details;
    err_code rc;

    if ((rc = store_history_insert(a->db, "application", id, from, to,
                                   a->p->account_id, util_now_ms(), reason,
                                   e)) != ERR_OK) {
        json_decref(extra);
        return rc;
    }
    details = json_pack("{s:s?, s:s, s:s?}", "from", from, "to", to,
                        "reason", reason);
    if (details != NULL && key != NULL &&
        json_object_set_new(details, key, extra != NULL ? extra
                                                        : json_null()) != 0) {
        json_decref(details);
        details = NULL;
    } else if (details == NULL) {
        json_decref(extra);
    }
    return unit_audit_id(u, action, "application", id, details, e);
}

/* record_move_with without extra details. */
static err_code
record_move(struct unit *u, int64_t id, enum app_state from_state,
            enum app_state to_state, const char *action, const char *reason,
            struct err *e)
{
    return record_move_with(u, id, from_state, to_state, action, reason,
                            NULL, NULL, e);
}

struct submit_args {
    const struct app_new  *n;
    const struct img_info *img;
    int64_t                now;
    int64_t               *id_out;
    struct blob_key       *key;     /* seals the blobs (blobcrypt.h) */
};

static err_code
submit_work(struct unit *u, void *ctx, struct err *e)
{
    struct submit_args *w = ctx;
    const struct app_new *n = w->n;
    const struct actor_ctx *a = &u->a;
    struct store_app row;
    struct store_org org;
    err_code rc;

    if ((rc = store_org_get(a->db, n->org_id, &org, e)) != ERR_OK)
        return rc == ERR_NOT_FOUND
            ? err_set(e, ERR_INVALID, "no organisation %lld",
                      (long long)n->org_id) : rc;
    if (org.disabled)
        return err_set(e, ERR_CONFLICT, "organisation is disabled");
    if ((rc = authz_require(a->db, a->p, PERM_APPLICATION_SUBMIT, n->org_id,
                            e)) != ERR_OK ||
        (rc = check_custodian(a, n->custodian_id, n->org_id, e)) != ERR_OK)
        return rc;
    memset(&row, 0, sizeof(row));
    fill_row(&row, n, w->img);
    row.org_id = n->org_id;
    row.applicant_id = a->p->account_id;
    snprintf(row.purpose, sizeof(row.purpose), "%s",
             n->purpose ? n->purpose : "new");
    if (!strcmp(row.purpose, "change")) {
        struct store_seal old;
        if (n->replaces_esid == NULL)
            return err_set(e, ERR_BAD_REQUEST, "a change names the seal it "
                           "replaces (replaces_esid)");
        if ((rc = store_seal_get(a->db, n->replaces_esid, &old, e))
            != ERR_OK)
            return rc == ERR_NOT_FOUND
                ? err_set(e, ERR_INVALID, "no seal %s", n->replaces_esid)
                : rc;
        if (old.state != SEAL_ACTIVE || old.org_id != n->org_id)
            return err_set(e, ERR_CONFLICT, "seal %s is %s or of another "
                           "organisation; only an active seal of the same "
                           "organisation is changed", old.esid,
                           seal_state_name(old.state));
        row.replaces_seal_id = old.id;
    } else if (strcmp(row.purpose, "new") != 0 || n->replaces_esid) {
        return err_set(e, ERR_INVALID, "purpose must be new or change "
                       "(renewal and revocation are asked on the seal)");
    }
    /* the materials last: what is wrong with the application itself
     * (its organisation, custodian, the seal it changes) is said first */
    if ((rc = check_required(a, n->kind, 0, n, e)) != ERR_OK)
        return rc;
    row.state = APP_SUBMITTED;
    row.revision = 1;
    row.created_ms = row.updated_ms = w->now;
    {
        uint8_t *img = NULL;
        size_t img_len = 0;
        if ((rc = seal_image(w->key, n, w->img, &img, &img_len, e))
            == ERR_OK)
            rc = store_app_insert(a->db, &row, img, img_len, w->id_out, e);
        free(img);
    }
    if (rc != ERR_OK ||
        (rc = add_materials(a, w->key, *w->id_out, 1, n, e)) != ERR_OK)
        return rc;
    return record_move(u, *w->id_out, APP_NONE, APP_SUBMITTED,
                       !strcmp(row.purpose, "change")
                           ? "application.submit_change"
                           : "application.submit", NULL, e);
}

err_code
application_submit(const struct actor_ctx *a, const struct app_new *n,
                   int64_t *id_out, struct err *e)
{
    struct img_info img;
    struct submit_args w = {n, &img, util_now_ms(), id_out, NULL};
    err_code rc;

    /* the data key before the unit: unwrapping is a token operation */
    if ((rc = check_shape(n, &img, e)) != ERR_OK ||
        (rc = blob_active_key(&w.key, e)) != ERR_OK)
        return rc;
    rc = unit_run(a, submit_work, &w, e);
    blob_key_put(w.key);
    return rc;
}

struct resubmit_args {
    int64_t                id;
    const struct app_new  *n;
    const struct img_info *img;
    struct blob_key       *key;
};

static err_code
resubmit_work(struct unit *u, void *ctx, struct err *e)
{
    struct resubmit_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    enum app_state to = APP_NONE;
    const char *action = NULL;
    struct store_app row;
    err_code rc;

    if ((rc = store_app_get(a->db, w->id, &row, e)) != ERR_OK)
        return rc;
    if (row.applicant_id != a->p->account_id)
        return err_set(e, ERR_FORBIDDEN, "only the applicant resubmits an "
                       "application");
    if ((rc = application_move("resubmit", row.state, &to, NULL, &action,
                               e)) != ERR_OK ||
        (rc = check_custodian(a, w->n->custodian_id, row.org_id, e))
        != ERR_OK ||
        ((!strcmp(row.purpose, "new") || !strcmp(row.purpose, "change")) &&
         (rc = check_required(a, w->n->kind, w->id, w->n, e)) != ERR_OK))
        return rc;
    fill_row(&row, w->n, w->img);
    row.updated_ms = util_now_ms();
    {
        uint8_t *img = NULL;
        size_t img_len = 0;
        if ((rc = seal_image(w->key, w->n, w->img, &img, &img_len, e))
            == ERR_OK)
            rc = store_app_replace(a->db, &row, img, img_len, e);
        free(img);
    }
    if (rc != ERR_OK ||
        (rc = add_materials(a, w->key, w->id, row.revision + 1, w->n, e))
        != ERR_OK ||
        (rc = store_app_transition(a->db, w->id, row.state, to, NULL, 0,
                                   util_now_ms(), e)) != ERR_OK)
        return rc;
    return record_move(u, w->id, row.state, to, action, NULL, e);
}

err_code
application_resubmit(const struct actor_ctx *a, int64_t id,
                     const struct app_new *n, struct err *e)
{
    struct img_info img;
    struct resubmit_args w = {id, n, &img, NULL};
    err_code rc;

    if ((rc = check_shape(n, &img, e)) != ERR_OK ||
        (rc = blob_active_key(&w.key, e)) != ERR_OK)
        return rc;
    rc = unit_run(a, resubmit_work, &w, e);
    blob_key_put(w.key);
    return rc;
}

struct request_args {
    const char           *esid, *purpose, *reason;
    const struct app_new *n;            /* the materials */
    long                  renewal_days;
    int64_t               now;
    int                   revocation;
    int64_t              *id_out;
    struct blob_key      *key;
};

static err_code
request_work(struct unit *u, void *ctx, struct err *e)
{
    struct request_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_seal s;
    err_code rc;

    if ((rc = store_seal_get(a->db, w->esid, &s, e)) != ERR_OK ||
        (rc = authz_require(a->db, a->p, PERM_APPLICATION_SUBMIT, s.org_id,
                            e)) != ERR_OK)
        return rc;
    if (s.state != SEAL_ACTIVE &&
        !(w->revocation && s.state == SEAL_SUSPENDED))
        return err_set(e, ERR_CONFLICT, "seal %s is %s", s.esid,
                       seal_state_name(s.state));
    /* a renewal repeats the seal's name: one its organisation no longer
     * has is changed (purpose change), not renewed */
    if (!w->revocation && s.change_required_ms != 0)
        return err_set(e, ERR_CONFLICT, "seal %s carries its organisation's "
                       "former name: apply for a change, not a renewal",
                       s.esid);
    if (!w->revocation &&
        s.valid_end_ms - w->now > w->renewal_days * 86400000LL)
        return err_set(e, ERR_CONFLICT, "too early to renew: renewal opens "
                       "%ld days before the seal expires", w->renewal_days);
    if ((rc = store_app_copy(a->db, s.application_id, a->p->account_id,
                             w->purpose, s.id, w->reason, w->now, w->id_out,
                             e)) != ERR_OK ||
        (rc = add_materials(a, w->key, *w->id_out, 1, w->n, e)) != ERR_OK)
        return rc;
    return record_move(u, *w->id_out, APP_NONE, APP_SUBMITTED, w->revocation
                       ? "application.request_revocation"
                       : "application.request_renewal", w->reason, e);
}

err_code
application_request(const struct actor_ctx *a, const char *esid,
                    const char *purpose, const char *reason,
                    const struct app_material *materials, size_t nmaterials,
                    long renewal_days, int64_t *id_out, struct err *e)
{
    struct app_new n;
    struct request_args w = {esid, purpose, reason, &n, renewal_days,
                             util_now_ms(), !strcmp(purpose, "revocation"),
                             id_out, NULL};
    err_code rc;

    if (!w.revocation && strcmp(purpose, "renewal") != 0)
        return err_set(e, ERR_INVALID, "purpose must be renewal or "
                       "revocation");
    if (w.revocation && (reason == NULL || nmaterials == 0))
        return err_set(e, ERR_BAD_REQUEST, "a revocation request needs a "
                       "reason and identity materials");
    memset(&n, 0, sizeof(n));
    memcpy(n.materials, materials, nmaterials * sizeof(*materials));
    n.nmaterials = nmaterials;
    if ((rc = blob_active_key(&w.key, e)) != ERR_OK)
        return rc;
    rc = unit_run(a, request_work, &w, e);
    blob_key_put(w.key);
    return rc;
}

struct review_args {
    int64_t     id;
    const char *decision, *reason;
    int         compare_required;
};

/* The impression comparison a decision on row rests on, for its audit
 * entry: the latest one, if it compared the image submitted now (a
 * resubmission with another image makes it stale); *out a new object or
 * json_null() (caller decrefs).  With required, approving a new seal or a
 * change without one is ERR_CONFLICT. */
static err_code
review_comparison(const struct actor_ctx *a, const struct store_app *row,
                  const char *decision, int required, json_t **out,
                  struct err *e)
{
    struct store_impression_check c;
    char now_hex[65];
    err_code rc;

    *out = NULL;
    if ((rc = store_app_impression_get(a->db, row->id, &c, e)) != ERR_OK)
        return rc;
    util_hex_encode(row->image_sm3, sizeof(row->image_sm3), now_hex);
    if (c.outcome[0] == '\0' || strcmp(c.compared_sm3, now_hex) != 0) {
        if (required && !strcmp(decision, "approve") &&
            (!strcmp(row->purpose, "new") || !strcmp(row->purpose, "change")))
            return err_set(e, ERR_CONFLICT, "compare the submitted "
                           "impression with the one filed with public "
                           "security first (POST /api/v1/applications/"
                           "%lld/impression-check; GD art. 12)",
                           (long long)row->id);
        *out = json_null();
        return ERR_OK;
    }
    *out = json_pack("{s:s, s:s, s:s?, s:s, s:I, s:I}", "code", c.code,
                     "outcome", c.outcome,
                     "filed_sm3", c.filed_sm3[0] ? c.filed_sm3 : NULL,
                     "submitted_sm3", c.compared_sm3,
                     "checked_by", (json_int_t)c.checked_by,
                     "checked_ms", (json_int_t)c.checked_ms);
    return *out != NULL ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

/* The decision's effects in the unit: the move, an approved revocation
 * request's revocation, the history row and the audit entry, which for a
 * reject or approve names the comparison it rests on (compared: consumed;
 * NULL for the other events). */
static err_code
review_move(struct unit *u, const struct store_app *row, enum app_state to,
            const char *action, const char *reason, json_t *compared,
            struct err *e)
{
    const struct actor_ctx *a = &u->a;
    err_code rc;

    if ((rc = store_app_transition(a->db, row->id, row->state, to, reason,
                                   a->p->account_id, util_now_ms(), e))
        != ERR_OK)
        goto fail;
    /* an approved revocation request takes effect at once: final */
    if (!strcmp(row->purpose, "revocation") && to == APP_APPROVED &&
        (rc = seal_revoke_in_tx(u, row->replaces_seal_id, "cessation",
                                row->reason, e)) != ERR_OK)
        goto fail;
    return record_move_with(u, row->id, row->state, to, action, reason,
                            "impression_compared", compared, e);
fail:
    json_decref(compared);
    return rc;
}

static err_code
review_work(struct unit *u, void *ctx, struct err *e)
{
    struct review_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    enum app_state to = APP_NONE;
    const char *action = NULL;
    struct store_app row;
    json_t *compared = NULL;
    err_code rc;

    if ((rc = store_app_get(a->db, w->id, &row, e)) != ERR_OK ||
        (rc = authz_require(a->db, a->p, application_event_perm(w->decision),
                            row.org_id, e)) != ERR_OK ||
        (rc = sod_seal_people(&(struct sod_seal){row.applicant_id,
                                  row.custodian_id, a->p->account_id, 0}, e))
        != ERR_OK ||
        (rc = application_move(w->decision, row.state, &to, NULL, &action,
                               e)) != ERR_OK)
        return rc;
    if ((!strcmp(w->decision, "approve") || !strcmp(w->decision, "reject")) &&
        (rc = review_comparison(a, &row, w->decision, w->compare_required,
                                &compared, e)) != ERR_OK)
        return rc;
    return review_move(u, &row, to, action, w->reason, compared, e);
}

err_code
application_review(const struct actor_ctx *a, int64_t id,
                   const char *decision, const char *reason,
                   int compare_required, struct err *e)
{
    static const char *const decisions[] = {"start", "return", "reject",
                                            "approve", NULL};
    struct review_args w = {id, decision, reason, compare_required};

    if (!one_of(decision, decisions))
        return err_set(e, ERR_INVALID, "decision must be start, return, "
                       "reject or approve");
    if (application_event_needs_reason(decision) &&
        (reason == NULL || reason[0] == '\0'))
        return err_set(e, ERR_BAD_REQUEST, "a %s needs a reason", decision);
    return unit_run(a, review_work, &w, e);
}

err_code
application_get(const struct actor_ctx *a, int64_t id, struct store_app *out,
                struct err *e)
{
    err_code rc;

    if ((rc = store_app_get(a->db, id, out, e)) != ERR_OK)
        return rc;
    if (out->applicant_id == a->p->account_id ||
        authz_require(a->db, a->p, PERM_APPLICATION_REVIEW, out->org_id,
                      NULL) == ERR_OK)
        return ERR_OK;
    return authz_require(a->db, a->p, PERM_APPLICATION_SUBMIT, out->org_id,
                         e);
}

err_code
application_get_state(const struct actor_ctx *a, int64_t id,
                      struct store_app *out, struct err *e)
{
    return store_app_get(a->db, id, out, e);
}

err_code
application_list(const struct actor_ctx *a, int64_t org_id,
                 enum app_state state, int64_t after, int limit,
                 store_app_fn fn, void *ctx, struct err *e)
{
    int64_t scope[STORE_MAX_ROLES], submit[STORE_MAX_ROLES];
    size_t n, k, i;

    /* the organisations of the roles carrying either permission: each
     * is one of the principal's roles, so together they fit */
    n = authz_scope(a->p, PERM_APPLICATION_REVIEW, scope);
    k = authz_scope(a->p, PERM_APPLICATION_SUBMIT, submit);
    for (i = 0; i < k && n < STORE_MAX_ROLES; i++)
        scope[n++] = submit[i];
    return store_app_list(a->db, a->p->account_id, scope, n, org_id, state,
                          after, limit, fn, ctx, e);
}

err_code
application_materials(const struct actor_ctx *a, const struct store_app *app,
                      store_material_fn fn, void *ctx, struct err *e)
{
    return store_material_list(a->db, app->id, fn, ctx, e);
}

err_code
application_impression(const struct actor_ctx *a, const struct store_app *app,
                       struct store_impression_check *out, struct err *e)
{
    return store_app_impression_get(a->db, app->id, out, e);
}

err_code
application_history(const struct actor_ctx *a, const struct store_app *app,
                    store_history_fn fn, void *ctx, struct err *e)
{
    return store_history_list(a->db, "application", app->id, fn, ctx, e);
}

/* May a open the files of application app (read already)?  The applicant,
 * or a reviewer over its organisation whom SOD-4 lets review it.  A caller
 * who may not read it at all learns nothing: ERR_NOT_FOUND. */
static err_code
may_open_files(const struct actor_ctx *a, int64_t id, struct store_app *app,
               struct err *e)
{
    err_code rc;

    if ((rc = application_get(a, id, app, NULL)) != ERR_OK)
        return rc == ERR_FORBIDDEN || rc == ERR_NOT_FOUND
            ? err_set(e, ERR_NOT_FOUND, "no application %lld",
                      (long long)id)
            : application_get(a, id, app, e);
    if (app->applicant_id == a->p->account_id)
        return ERR_OK;
    if ((rc = authz_require(a->db, a->p, PERM_APPLICATION_REVIEW,
                            app->org_id, e)) != ERR_OK)
        return rc;
    return sod_seal_people(&(struct sod_seal){app->applicant_id,
                               app->custodian_id, a->p->account_id, 0}, e);
}

err_code
application_material_file(const struct actor_ctx *a, int64_t id,
                          int64_t mid, struct store_material *m,
                          const char **media_type, uint8_t **data,
                          size_t *len, struct err *e)
{
    struct store_app app;
    size_t i;
    err_code rc;

    *data = NULL;
    if ((rc = may_open_files(a, id, &app, e)) != ERR_OK)
        return rc;
    if ((rc = store_material_get(a->db, mid, m, NULL, NULL, e)) != ERR_OK)
        return rc;
    if (m->application_id != id)
        return err_set(e, ERR_NOT_FOUND, "application %lld has no material "
                       "%lld", (long long)id, (long long)mid);
    /* the answer's media type is one of the accepted ones, never the
     * stored text itself */
    *media_type = "application/octet-stream";
    for (i = 0; media_types[i] != NULL; i++)
        if (strcmp(m->media_type, media_types[i]) == 0)
            *media_type = media_types[i];
    /* stored sealed (encryption at rest): opened for the one entitled */
    if ((rc = store_material_get(a->db, mid, m, data, len, e)) != ERR_OK)
        return rc;
    return blob_open_in_place(&(struct blob_ref){BLOB_MATERIAL, id, m->sm3},
                              data, len, e);
}

err_code
application_image_file(const struct actor_ctx *a, int64_t id,
                       struct store_app *app, uint8_t **data, size_t *len,
                       struct err *e)
{
    err_code rc;

    *data = NULL;
    if ((rc = may_open_files(a, id, app, e)) != ERR_OK ||
        (rc = store_app_image(a->db, id, data, len, e)) != ERR_OK)
        return rc;
    return blob_open_in_place(&(struct blob_ref){BLOB_IMAGE, 0,
                                                 app->image_sm3},
                              data, len, e);
}
