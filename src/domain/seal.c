/*
 * seal.c - making seals and everything that happens to them afterwards
 * (seal.h).  Token work first, then each change one unit of work
 * (unit.h): the public function checks what needs no database and runs
 * its *_work function in a unit, which re-reads and checks what the change
 * depends on, writes, and names or records its audit entries; unit_run
 * commits.  A refusal is an error returned by the work: the unit rolls
 * back.  Technical units (an esID reserved, a holder key recorded) are
 * quiet: what they prepare is audited by the change that uses it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "application.h"
#include "audit.h"
#include "blobcrypt.h"
#include "ca.h"
#include "rbac.h"
#include "seal.h"
#include "seal_int.h"
#include "seal_moves.h"
#include "seal_make.h"
#include "ses.h"
#include "sod.h"
#include "statuslist.h"
#include "unit.h"
#include "util.h"
#include "verify.h"
#include "store_account.h"
#include "store_seal.h"

#define SEAL_LABEL_MAX 64

/* GB/T 38540 SES_ESPropertyInfo.type codes seald writes, by kind: see
 * docs/design.md "Seal types". */
static long
seal_type_code(const struct store_app *app)
{
    if (!strcmp(app->kind, "personal"))
        return 2;
    if (!strcmp(app->kind, "position"))
        return 3;
    if (!strcmp(app->subkind, "business"))
        return 4;
    return 1;
}

/* Contract: seal_int.h. */
err_code
authority_load(struct store_conn *db, struct custody *c, const char *role,
               struct authority *au, struct err *e)
{
    err_code rc;

    memset(au, 0, sizeof(*au));
    if ((rc = store_authority_get(db, role, au->ref, sizeof(au->ref),
                                  &au->cert, &au->cert_len, e)) != ERR_OK)
        return rc == ERR_NOT_FOUND
            ? err_set(e, ERR_CONFIG, "this instance has no %s certificate "
                      "(seald init makes one)", role) : rc;
    if ((rc = config_keyref(au->ref, au->token, au->id, e)) != ERR_OK)
        return rc;
    au->key.custody = c;
    au->key.token = au->token;
    au->key.key_id = au->id;
    return ERR_OK;
}

void
authority_free(struct authority *au)
{
    free(au->cert);
    au->cert = NULL;
}

/* Checks before making: approved, maker's authority, the people of the
 * seal (SOD-4) and its custodian (SOD-5). */
static err_code
check_makeable(const struct actor_ctx *a, int64_t app_id,
               struct store_app *app, struct err *e)
{
    err_code rc;

    if ((rc = store_app_get(a->db, app_id, app, e)) != ERR_OK ||
        (rc = authz_require(a->db, a->p, application_event_perm("make"),
                            app->org_id, e)) != ERR_OK)
        return rc;
    if ((rc = sod_seal_people(&(struct sod_seal){app->applicant_id,
                                  app->custodian_id, app->reviewer_id,
                                  a->p->account_id}, e)) != ERR_OK ||
        (rc = sod_custodian(a->db, app->custodian_id, app->org_id,
                            "making", e)) != ERR_OK)
        return rc;
    if (!strcmp(app->purpose, "revocation"))
        return err_set(e, ERR_CONFLICT, "a revocation request makes no seal");
    if (application_move("make", app->state, NULL, NULL, NULL, NULL)
        != ERR_OK)
        return err_set(e, ERR_CONFLICT, "application %lld is %s; only an "
                       "approved application is made into a seal",
                       (long long)app_id, app_state_name(app->state));
    return ERR_OK;
}

struct holder_key_args {
    int64_t     app_id;
    const char *ref;
};

/* The holder key the token has just made, recorded on the application:
 * a quiet unit (the seal made with the key is audited). */
static err_code
holder_key_work(struct unit *u, void *ctx, struct err *e)
{
    struct holder_key_args *w = ctx;

    unit_quiet(u);
    return store_app_set_holder_key(u->a.db, w->app_id, w->ref, e);
}

/* A new holder key pair in the holder token (before the unit: no token
 * work inside one), then remembered on the application; ref gets
 * "token/id". */
static err_code
new_holder_key(const struct actor_ctx *a, const struct seal_env *env,
               int64_t app_id, char ref[STORE_KEYREF_MAX], struct err *e)
{
    struct holder_key_args w = {app_id, ref};
    char label[SEAL_LABEL_MAX], id[CUSTODY_ID_HEX_MAX];
    err_code rc;

    snprintf(label, sizeof(label), "holder-app-%lld", (long long)app_id);
    if ((rc = custody_generate(env->custody, env->cfg->seal_holder_token,
                               label, NULL, 0, id, e)) != ERR_OK)
        return rc;
    snprintf(ref, STORE_KEYREF_MAX, "%s/%s", env->cfg->seal_holder_token,
             id);
    return unit_run(a, holder_key_work, &w, e);
}

static err_code
holder_public(const struct seal_env *env, const char *ref, EVP_PKEY **pub,
              struct err *e)
{
    char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    err_code rc;

    if ((rc = config_keyref(ref, tok, id, e)) != ERR_OK)
        return rc;
    return custody_public_key(env->custody, tok, id, pub, e);
}

static void
subject_for(const struct store_app *app, const struct store_org *org,
            struct ca_subject *s)
{
    memset(s, 0, sizeof(*s));
    s->c = "CN";
    s->o = org->name;
    s->serial_number = org->credit_code[0] ? org->credit_code : NULL;
    s->cn = app->seal_name;
}

struct esid_args {
    const char *region;
    int64_t    *seq;
};

static err_code
esid_work(struct unit *u, void *ctx, struct err *e)
{
    struct esid_args *w = ctx;

    unit_quiet(u);
    return store_esid_next(u->a.db, w->region, w->seq, e);
}

/* Reserve the next esID (a quiet unit of its own: a failure later only
 * leaves a gap, never a duplicate). */
static err_code
reserve_esid(const struct actor_ctx *a, const struct config *cfg,
             char esid[STORE_ESID_MAX], struct err *e)
{
    int64_t seq = 0;
    struct esid_args w = {cfg->seal_region, &seq};
    err_code rc;

    if ((rc = unit_run(a, esid_work, &w, e)) != ERR_OK)
        return rc;
    return seal_esid_format(cfg->seal_esid_format, cfg->seal_region, seq,
                            esid, STORE_ESID_MAX, e);
}

struct record_seal_args {
    const struct store_app *app;
    struct store_seal      *s;      /* lineage, predecessor and id set */
    const uint8_t          *der, *cert;
    size_t                  der_len, cert_len;
    int64_t                 now;
};

/* Record the seal the maker has signed: the application, re-read, must
 * still be approved and the seal it replaces still active; then the seal
 * (with the SM3 of its file, by which GET /status/sm3 finds it), the
 * application's move and both history rows. */
static err_code
record_seal_work(struct unit *u, void *ctx, struct err *e)
{
    struct record_seal_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    const struct store_app *app = w->app;
    struct store_seal *s = w->s, pred;
    struct store_app now_app;
    enum app_state app_to = APP_NONE;
    uint8_t sm3[SM3_DIGEST_LEN];
    char sm3_hex[2 * SM3_DIGEST_LEN + 1];
    err_code rc;

    if ((rc = store_app_get(a->db, app->id, &now_app, e)) != ERR_OK)
        return rc;
    if (application_move("make", now_app.state, &app_to, NULL, NULL, NULL)
        != ERR_OK)
        return err_set(e, ERR_CONFLICT, "application %lld is no longer "
                       "approved", (long long)app->id);
    if (app->replaces_seal_id != 0) {
        if ((rc = store_seal_get_id(a->db, app->replaces_seal_id, &pred, e))
            != ERR_OK)
            return rc;
        if (pred.state != SEAL_ACTIVE)
            return err_set(e, ERR_CONFLICT, "seal %s to be replaced is %s",
                           pred.esid, seal_state_name(pred.state));
        snprintf(s->lineage_esid, sizeof(s->lineage_esid), "%s",
                 pred.lineage_esid);
        s->predecessor_id = pred.id;
    }
    if ((rc = sm2_sm3(w->der, w->der_len, sm3, e)) != ERR_OK)
        return rc;
    util_hex_encode(sm3, sizeof(sm3), sm3_hex);
    if ((rc = store_seal_insert(a->db, s, w->der, w->der_len, w->cert,
                                w->cert_len, &s->id, e)) != ERR_OK ||
        (rc = store_seal_set_sm3(a->db, s->id, sm3_hex, e)) != ERR_OK ||
        (rc = store_app_transition(a->db, app->id, now_app.state, app_to,
                                   NULL, 0, w->now, e)) != ERR_OK ||
        (rc = store_history_insert(a->db, "application", app->id,
                                   app_state_name(now_app.state),
                                   app_state_name(app_to), a->p->account_id,
                                   w->now, s->esid, e)) != ERR_OK ||
        (rc = store_history_insert(a->db, "seal", s->id, NULL,
                                   seal_state_name(SEAL_MADE),
                                   a->p->account_id, util_now_ms(), NULL,
                                   e)) != ERR_OK)
        return rc;
    return unit_audit(u, "seal.make", "seal", s->esid,
                      json_pack("{s:n, s:s, s:n}", "from", "to",
                                seal_state_name(SEAL_MADE), "reason"), e);
}

/* Make the SESeal of app with holder certificate cert (the maker's token
 * signs it, before the unit), then record it in a unit. */
static err_code
make_with_cert(const struct actor_ctx *a, const struct seal_env *env,
               const struct store_app *app, const char *holder_ref,
               const uint8_t *cert, size_t cert_len, char *esid_out,
               struct err *e)
{
    struct authority maker;
    struct seal_make_params mp;
    struct ses_bytes holder = {cert, cert_len};
    struct store_seal s;
    struct record_seal_args w;
    uint8_t *image = NULL, *der = NULL;
    size_t image_len = 0, der_len = 0;
    time_t nb = 0, na = 0;
    int64_t now;
    err_code rc;

    memset(&s, 0, sizeof(s));
    if ((rc = authority_load(a->db, env->custody, "maker", &maker, e))
        != ERR_OK)
        return rc;
    if ((rc = reserve_esid(a, env->cfg, s.esid, e)) != ERR_OK ||
        (rc = store_app_image(a->db, app->id, &image, &image_len, e))
        != ERR_OK ||
        (rc = blob_open_in_place(&(struct blob_ref){BLOB_IMAGE, 0,
                                                    app->image_sm3},
                                 &image, &image_len, e)) != ERR_OK ||
        (rc = ca_cert_times(cert, cert_len, &nb, &na, e)) != ERR_OK)
        goto done;
    memset(&mp, 0, sizeof(mp));
    mp.format = (int)env->cfg->seal_version;
    mp.es_id = s.esid;
    mp.name = app->seal_name;
    mp.type = seal_type_code(app);
    mp.holder_certs = &holder;
    mp.n_holder_certs = 1;
    mp.picture_type = app->image_type;
    mp.picture.p = image;
    mp.picture.len = image_len;
    mp.width_mm = app->width_mm;
    mp.height_mm = app->height_mm;
    if ((rc = seal_make(&maker.key, maker.cert, maker.cert_len, &mp, &der,
                        &der_len, e)) != ERR_OK)
        goto done;

    now = util_now_ms();
    snprintf(s.lineage_esid, sizeof(s.lineage_esid), "%s", s.esid);
    s.application_id = app->id;
    s.org_id = app->org_id;
    snprintf(s.kind, sizeof(s.kind), "%s", app->kind);
    snprintf(s.name, sizeof(s.name), "%s", app->seal_name);
    s.custodian_id = app->custodian_id;
    s.state = SEAL_MADE;
    s.state_since_ms = now;
    s.version = (int)env->cfg->seal_version;
    snprintf(s.holder_key, sizeof(s.holder_key), "%s", holder_ref);
    s.valid_start_ms = (int64_t)nb * 1000;
    s.valid_end_ms = (int64_t)na * 1000;
    s.made_by = a->p->account_id;
    s.made_ms = now;
    w = (struct record_seal_args){app, &s, der, cert, der_len, cert_len,
                                  now};
    if ((rc = unit_run(a, record_seal_work, &w, e)) == ERR_OK)
        snprintf(esid_out, STORE_ESID_MAX, "%s", s.esid);
done:
    authority_free(&maker);
    free(image);
    free(der);
    return rc;
}

err_code
seal_make_local(const struct actor_ctx *a, const struct seal_env *env,
                int64_t app_id, char *esid_out, struct err *e)
{
    struct store_app app;
    struct store_org org;
    struct authority ca;
    struct ca_subject subj;
    struct ca_issue_params ip;
    char ref[STORE_KEYREF_MAX];
    EVP_PKEY *pub = NULL;
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    time_t now = time(NULL);
    err_code rc;

    memset(&ca, 0, sizeof(ca));
    if ((rc = check_makeable(a, app_id, &app, e)) != ERR_OK ||
        (rc = store_org_get(a->db, app.org_id, &org, e)) != ERR_OK ||
        (rc = authority_load(a->db, env->custody, "ca", &ca, e)) != ERR_OK ||
        (rc = new_holder_key(a, env, app_id, ref, e)) != ERR_OK ||
        (rc = holder_public(env, ref, &pub, e)) != ERR_OK)
        goto done;
    subject_for(&app, &org, &subj);
    memset(&ip, 0, sizeof(ip));
    ip.subject = &subj;
    ip.holder_pub = pub;
    ip.not_before = now - 60;
    ip.not_after = now + (time_t)env->cfg->seal_cert_days * 86400;
    if ((rc = ca_issue(&ca.key, ca.cert, ca.cert_len, &ip, &cert, &cert_len,
                       e)) != ERR_OK)
        goto done;
    rc = make_with_cert(a, env, &app, ref, cert, cert_len, esid_out, e);
done:
    EVP_PKEY_free(pub);
    authority_free(&ca);
    free(cert);
    return rc;
}

err_code
seal_request_certificate(const struct actor_ctx *a,
                         const struct seal_env *env, int64_t app_id,
                         char **csr_pem, struct err *e)
{
    struct store_app app;
    struct store_org org;
    struct ca_subject subj;
    struct ca_key key;
    char ref[STORE_KEYREF_MAX], tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    uint8_t *der = NULL;
    size_t len = 0;
    err_code rc;

    if ((rc = check_makeable(a, app_id, &app, e)) != ERR_OK ||
        (rc = store_org_get(a->db, app.org_id, &org, e)) != ERR_OK)
        return rc;
    if (app.holder_key[0] != '\0')
        snprintf(ref, sizeof(ref), "%s", app.holder_key);
    else if ((rc = new_holder_key(a, env, app_id, ref, e)) != ERR_OK)
        return rc;
    if ((rc = config_keyref(ref, tok, id, e)) != ERR_OK)
        return rc;
    key.custody = env->custody;
    key.token = tok;
    key.key_id = id;
    subject_for(&app, &org, &subj);
    if ((rc = ca_csr_create(&key, &subj, &der, &len, e)) == ERR_OK)
        rc = ca_der_to_pem("CERTIFICATE REQUEST", der, len, csr_pem, e);
    free(der);
    return rc;
}

err_code
seal_make_with_certificate(const struct actor_ctx *a,
                           const struct seal_env *env, int64_t app_id,
                           const uint8_t *cert, size_t len, char *esid_out,
                           struct err *e)
{
    struct store_app app;
    STACK_OF(X509) *chain = NULL;
    X509_STORE *anchors = NULL;
    struct verify_service *svc = NULL;
    EVP_PKEY *pub = NULL;
    uint8_t *leaf = NULL;
    size_t leaf_len = 0;
    int count = 0;
    err_code rc;

    if ((rc = check_makeable(a, app_id, &app, e)) != ERR_OK)
        return rc;
    if (app.holder_key[0] == '\0')
        return err_set(e, ERR_CONFLICT, "no certificate request was made "
                       "for application %lld", (long long)app_id);
    if ((rc = ca_cert_load(cert, len, &leaf, &leaf_len, &chain, e))
        != ERR_OK ||
        (rc = holder_public(env, app.holder_key, &pub, e)) != ERR_OK ||
        (rc = ses_trust_load(env->cfg->trust_dir, SM2_DEFAULT_ID, &anchors,
                             &count, e)) != ERR_OK)
        goto done;
    if ((rc = ca_import_check(leaf, leaf_len, pub, anchors, chain,
                              time(NULL), e)) != ERR_OK) {
        rc = err_wrap(e, ERR_INVALID, "certificate refused");
        goto done;
    }
    /* its CA's CRL, when a trust anchor's sidecar names one (issue 17
     * item 7): a revoked certificate makes no seal */
    if ((rc = verify_service_shared(env->cfg->trust_dir, &svc, e)) !=
            ERR_OK ||
        (rc = verify_cert_not_revoked(svc, leaf, leaf_len, e)) != ERR_OK) {
        if (rc == ERR_INVALID)
            rc = err_wrap(e, ERR_INVALID, "certificate refused");
        goto done;
    }
    rc = make_with_cert(a, env, &app, app.holder_key, leaf, leaf_len,
                        esid_out, e);
done:
    if (chain != NULL)
        sk_X509_pop_free(chain, X509_free);
    X509_STORE_free(anchors);
    EVP_PKEY_free(pub);
    free(leaf);
    return rc;
}

/* ---- the life of a seal: the table is seal_moves.c ---- */

/* Why a suspended seal is held, and who lifts the suspension.  A manual
 * suspension is held by the authority the suspender acted in (the role
 * through which they hold seal.suspend over the seal's organisation), and
 * only that authority lifts it.  role NULL: nobody lifts it; the way back
 * is a new application (manual 4.2). */
static const struct seal_hold {
    const char *hold, *role, *reason_code;
} seal_holds[] = {
    {"secadmin", "secadmin", "hold"},
    {"organisation", "applicant", "hold"},
    {"unused", NULL, "unused"},
    {"org_disabled", NULL, "hold"},
};
#define SEAL_NHOLDS (sizeof(seal_holds) / sizeof(seal_holds[0]))

static const struct seal_hold *
hold_find(const char *hold)
{
    size_t i;

    for (i = 0; hold != NULL && i < SEAL_NHOLDS; i++)
        if (!strcmp(seal_holds[i].hold, hold))
            return &seal_holds[i];
    return NULL;
}

/* The hold a suspension of the seal changes to: the move's own, the one
 * kept through a loss, or the manual suspender's (given). */
static const char *
hold_after(const struct seal_move_rule *m, const struct store_seal *s,
           enum seal_state to, const char *given)
{
    int kept = s->state == SEAL_LOST ||
               (to == SEAL_LOST && s->state == SEAL_SUSPENDED);

    if (to != SEAL_SUSPENDED && to != SEAL_LOST)
        return NULL;
    if (m->hold != NULL)
        return m->hold;
    if (kept)
        return s->hold[0] ? s->hold : NULL;
    return given;
}

/* Apply event to seal s (read in the caller's unit u): the table's move
 * from s->state with the hold, reason code and state before a loss that
 * go with it, the seal's history row and its audit entry, recorded in the
 * unit (unit_record); *s is updated.  hold: the hold of a manual
 * suspension (NULL otherwise); code: the reason code of a revocation.
 * ERR_CONFLICT if the table has no such move.  The unit commits or rolls
 * back. */
static err_code
seal_step(struct unit *u, struct store_seal *s, const char *event,
          const char *hold, const char *code, const char *reason,
          struct err *e)
{
    const struct actor_ctx *a = &u->a;
    const struct seal_move_rule *m = seal_move_find(event, s->state);
    const struct seal_hold *h;
    struct store_seal_move mv;
    struct audit_event ev = {NULL, "seal", s->esid, AUDIT_OK, NULL, NULL};
    enum seal_state from, to;
    char held[sizeof(s->hold)];
    json_t *details;
    int64_t now = util_now_ms();
    err_code rc;

    if (m == NULL)
        return err_set(e, ERR_CONFLICT, "seal %s is %s; %s is not possible "
                       "from there", s->esid, seal_state_name(s->state),
                       event);
    from = s->state;
    to = m->to != SEAL_NONE ? m->to : s->before_loss;
    if (to == SEAL_NONE)
        return err_set(e, ERR_CONFLICT, "seal %s does not record its state "
                       "before the loss", s->esid);
    hold = hold_after(m, s, to, hold);
    snprintf(held, sizeof(held), "%s", hold != NULL ? hold : "");
    h = hold_find(held);
    if ((to == SEAL_SUSPENDED || held[0] != '\0') && h == NULL)
        return err_set(e, ERR_INTERNAL, "seal %s: suspension without a "
                       "known hold", s->esid);
    memset(&mv, 0, sizeof(mv));
    mv.from = from;
    mv.to = to;
    mv.hold = h != NULL ? h->hold : NULL;
    mv.before_loss = to == SEAL_LOST ? from : SEAL_NONE;
    mv.reason_code = m->code != NULL ? m->code
                     : to == SEAL_SUSPENDED ? h->reason_code : code;
    details = json_pack("{s:s, s:s, s:s?, s:s?}", "from",
                        seal_state_name(from), "to", seal_state_name(to),
                        "hold", mv.hold, "reason", reason);
    if (details == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    ev.action = m->action;
    ev.details = details;
    if ((rc = store_seal_transition(a->db, s->id, &mv, now, e)) == ERR_OK &&
        (rc = store_history_insert(a->db, "seal", s->id,
                                   seal_state_name(from),
                                   seal_state_name(to),
                                   a->p ? a->p->account_id : 0, now, reason,
                                   e)) == ERR_OK)
        rc = unit_record(u, &ev, e);
    json_decref(details);
    if (rc != ERR_OK)
        return rc;
    s->state = to;
    snprintf(s->hold, sizeof(s->hold), "%s", held);
    s->before_loss = mv.before_loss;
    snprintf(s->reason_code, sizeof(s->reason_code), "%s",
             mv.reason_code != NULL ? mv.reason_code : "");
    s->state_since_ms = now;
    return ERR_OK;
}

/* The hold of a manual suspension by the caller: the first hold whose
 * role the caller holds in their own right with scope over org_id.
 * ERR_FORBIDDEN if none. */
static err_code
caller_hold(const struct actor_ctx *a, int64_t org_id,
            const struct seal_hold **out, struct err *e)
{
    size_t i, j;
    int yes = 0;
    err_code rc;

    for (i = 0; i < SEAL_NHOLDS; i++) {
        if (seal_holds[i].role == NULL)
            continue;
        for (j = 0; j < a->p->nroles; j++) {
            const struct store_role *r = &a->p->roles[j];
            if (r->deputy_id != 0 || strcmp(r->role, seal_holds[i].role))
                continue;
            if ((rc = store_org_in_subtree(a->db, r->scope_org_id, org_id,
                                           &yes, e)) != ERR_OK)
                return rc;
            if (yes) {
                *out = &seal_holds[i];
                return ERR_OK;
            }
        }
    }
    return err_set(e, ERR_FORBIDDEN, "no authority that suspends seals of "
                   "organisation %lld", (long long)org_id);
}

/* ERR_CONFLICT if the seal's organisation, or one above it, is disabled:
 * nothing of a disabled organisation is used or brought back. */
static err_code
org_in_service(struct store_conn *db, const struct store_seal *s,
               struct err *e)
{
    int disabled = 0;
    err_code rc;

    if ((rc = store_org_disabled_within(db, s->org_id, &disabled, e))
        != ERR_OK)
        return rc;
    if (disabled)
        return err_set(e, ERR_CONFLICT, "organisation %lld of seal %s is "
                       "disabled", (long long)s->org_id, s->esid);
    return ERR_OK;
}

err_code
seal_check_usable(struct store_conn *db, const struct store_seal *s,
                  int64_t now, struct err *e)
{
    if (s->state != SEAL_ACTIVE)
        return err_set(e, ERR_CONFLICT, "seal %s is %s", s->esid,
                       seal_state_name(s->state));
    if (now < s->valid_start_ms || now >= s->valid_end_ms)
        return err_set(e, ERR_CONFLICT, "seal %s is outside its validity",
                       s->esid);
    return org_in_service(db, s, e);
}

err_code
seal_revoke_in_tx(struct unit *u, int64_t seal_id,
                  const char *reason_code, const char *reason, struct err *e)
{
    const struct actor_ctx *a = &u->a;
    struct store_seal s;
    err_code rc;

    if ((rc = store_seal_get_id(a->db, seal_id, &s, e)) != ERR_OK)
        return rc;
    return seal_step(u, &s, "revoke", NULL, reason_code, reason, e);
}

/* What a change of one seal is asked: the seal, the reason given, and
 * for a resolved loss whether it is revoked. */
struct seal_args {
    const char *esid, *reason;
    int         revoke;
};

static err_code
confirm_work(struct unit *u, void *ctx, struct err *e)
{
    struct seal_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_seal s;
    struct store_app app;
    err_code rc;

    if ((rc = store_seal_get(a->db, w->esid, &s, e)) != ERR_OK ||
        (rc = store_app_get(a->db, s.application_id, &app, e)) != ERR_OK)
        return rc;
    if (app.applicant_id != a->p->account_id)
        return err_set(e, ERR_FORBIDDEN, "only the applicant confirms the "
                       "seal impression");
    if ((rc = org_in_service(a->db, &s, e)) != ERR_OK ||
        (rc = sod_custodian(a->db, s.custodian_id, s.org_id, "activation",
                            e)) != ERR_OK ||
        (rc = seal_step(u, &s, "confirm", NULL, NULL, NULL, e)) != ERR_OK ||
        (rc = store_seal_confirmed(a->db, s.id, s.state_since_ms, e))
        != ERR_OK)
        return rc;
    if (!strcmp(app.purpose, "change") && s.predecessor_id != 0)
        return seal_revoke_in_tx(u, s.predecessor_id, "superseded",
                                 "replaced by a changed seal", e);
    return ERR_OK;
}

err_code
seal_confirm(const struct actor_ctx *a, const char *esid, struct err *e)
{
    struct seal_args w = {esid, NULL, 0};

    return unit_run(a, confirm_work, &w, e);
}

static err_code
mark_filed_work(struct unit *u, void *ctx, struct err *e)
{
    struct seal_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_seal s;
    err_code rc;

    if ((rc = store_seal_get(a->db, w->esid, &s, e)) != ERR_OK ||
        (rc = authz_require(a->db, a->p, PERM_SEAL_MAKE, s.org_id, e))
        != ERR_OK ||
        (rc = store_seal_filed(a->db, s.id, util_now_ms(), e)) != ERR_OK)
        return rc;
    return unit_audit(u, "seal.file", "seal", w->esid, NULL, e);
}

err_code
seal_mark_filed(const struct actor_ctx *a, const char *esid, struct err *e)
{
    struct seal_args w = {esid, NULL, 0};

    return unit_run(a, mark_filed_work, &w, e);
}

static err_code
suspend_work(struct unit *u, void *ctx, struct err *e)
{
    struct seal_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_seal s;
    const struct seal_hold *h = NULL;
    err_code rc;

    if ((rc = store_seal_get(a->db, w->esid, &s, e)) != ERR_OK ||
        (rc = authz_require(a->db, a->p, seal_event_perm("suspend"),
                            s.org_id, e)) != ERR_OK ||
        (rc = caller_hold(a, s.org_id, &h, e)) != ERR_OK)
        return rc;
    return seal_step(u, &s, "suspend", h->hold, NULL, w->reason, e);
}

err_code
seal_suspend(const struct actor_ctx *a, const char *esid, const char *reason,
             struct err *e)
{
    struct seal_args w = {esid, reason, 0};

    return unit_run(a, suspend_work, &w, e);
}

static err_code
resume_work(struct unit *u, void *ctx, struct err *e)
{
    struct seal_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_seal s;
    const struct seal_hold *held, *mine = NULL;
    err_code rc;

    if ((rc = store_seal_get(a->db, w->esid, &s, e)) != ERR_OK ||
        (rc = authz_require(a->db, a->p, seal_event_perm("resume"),
                            s.org_id, e)) != ERR_OK)
        return rc;
    if (s.state != SEAL_SUSPENDED)
        return err_set(e, ERR_CONFLICT, "seal %s is %s, not suspended",
                       s.esid, seal_state_name(s.state));
    held = hold_find(s.hold);
    if (held == NULL || held->role == NULL)
        return err_set(e, ERR_CONFLICT, "seal %s is held (%s) and is not "
                       "lifted: only a new application brings its use back",
                       s.esid, held ? held->hold : "unknown");
    if ((rc = caller_hold(a, s.org_id, &mine, e)) != ERR_OK)
        return rc;
    if (mine != held)
        return err_set(e, ERR_FORBIDDEN, "seal %s was suspended by the %s; "
                       "only that authority lifts the suspension", s.esid,
                       held->hold);
    if ((rc = org_in_service(a->db, &s, e)) != ERR_OK)
        return rc;
    return seal_step(u, &s, "resume", NULL, NULL, w->reason, e);
}

err_code
seal_resume(const struct actor_ctx *a, const char *esid, const char *reason,
            struct err *e)
{
    struct seal_args w = {esid, reason, 0};

    return unit_run(a, resume_work, &w, e);
}

static err_code
report_loss_work(struct unit *u, void *ctx, struct err *e)
{
    struct seal_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_seal s;
    err_code rc;

    if ((rc = store_seal_get(a->db, w->esid, &s, e)) != ERR_OK)
        return rc;
    if (s.custodian_id != a->p->account_id &&
        (rc = authz_require(a->db, a->p, seal_event_perm("report_loss"),
                            s.org_id, e)) != ERR_OK)
        return rc;
    return seal_step(u, &s, "report_loss", NULL, NULL, w->reason, e);
}

err_code
seal_report_loss(const struct actor_ctx *a, const char *esid,
                 const char *reason, struct err *e)
{
    struct seal_args w = {esid, reason, 0};

    return unit_run(a, report_loss_work, &w, e);
}

static err_code
resolve_loss_work(struct unit *u, void *ctx, struct err *e)
{
    struct seal_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_seal s;
    int disabled = 0;
    err_code rc;

    if ((rc = store_seal_get(a->db, w->esid, &s, e)) != ERR_OK ||
        (rc = authz_require(a->db, a->p, seal_event_perm(w->revoke
                                                         ? "revoke"
                                                         : "reinstate"),
                            s.org_id, e)) != ERR_OK)
        return rc;
    if (s.state != SEAL_LOST)
        return err_set(e, ERR_CONFLICT, "seal %s is %s, not lost", s.esid,
                       seal_state_name(s.state));
    if (w->revoke)
        return seal_step(u, &s, "revoke", NULL, "key_compromise", w->reason,
                         e);
    if ((rc = seal_step(u, &s, "reinstate", NULL, NULL, w->reason, e))
        != ERR_OK ||
        (rc = store_org_disabled_within(a->db, s.org_id, &disabled, e))
        != ERR_OK)
        return rc;
    /* found again in an organisation disabled meanwhile: held as the
     * disable holds the rest of its seals */
    if (disabled && s.state == SEAL_ACTIVE)
        return seal_step(u, &s, "org_disabled", NULL, NULL,
                         "its organisation is disabled", e);
    return ERR_OK;
}

err_code
seal_resolve_loss(const struct actor_ctx *a, const char *esid,
                  const char *outcome, const char *reason, struct err *e)
{
    struct seal_args w = {esid, reason, 0};

    if (strcmp(outcome, "revoke") != 0 && strcmp(outcome, "reinstate") != 0)
        return err_set(e, ERR_INVALID, "outcome must be revoke or "
                       "reinstate");
    w.revoke = !strcmp(outcome, "revoke");
    return unit_run(a, resolve_loss_work, &w, e);
}

/* Ids collected by a list walk (for changes made after the walk, never
 * from inside its callback). */
struct id_list {
    int64_t *ids;
    size_t   n, cap;
};

static err_code
id_add(void *ctx, const struct store_seal *s)
{
    struct id_list *l = ctx;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        int64_t *p = realloc(l->ids, cap * sizeof(*p));
        if (p == NULL)
            return ERR_NOMEM;
        l->ids = p;
        l->cap = cap;
    }
    l->ids[l->n++] = s->id;
    return ERR_OK;
}

err_code
seal_org_disabled_in_tx(struct unit *u, int64_t org_id, int *n,
                        struct err *e)
{
    const struct actor_ctx *a = &u->a;
    struct id_list l = {NULL, 0, 0};
    struct store_seal s;
    char why[SEAL_LABEL_MAX];
    size_t i;
    err_code rc;

    *n = 0;
    snprintf(why, sizeof(why), "organisation %lld disabled",
             (long long)org_id);
    rc = store_seal_list_active_subtree(a->db, org_id, id_add, &l, e);
    if (rc == ERR_NOMEM)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    for (i = 0; rc == ERR_OK && i < l.n; i++) {
        if ((rc = store_seal_get_id(a->db, l.ids[i], &s, e)) == ERR_OK &&
            (rc = seal_step(u, &s, "org_disabled", NULL, NULL, why, e))
            == ERR_OK)
            (*n)++;
    }
    free(l.ids);
    return rc;
}

err_code
seal_org_renamed_in_tx(struct unit *u, int64_t org_id,
                       const char *old_name, const char *new_name, int *n,
                       struct err *e)
{
    const struct actor_ctx *a = &u->a;
    struct id_list l = {NULL, 0, 0};
    struct store_seal s;
    struct audit_event ev = {"seal.change_required", "seal", NULL, AUDIT_OK,
                             NULL, NULL};
    json_t *details = json_pack("{s:I, s:s, s:s}", "organisation",
                                (json_int_t)org_id, "old_name", old_name,
                                "new_name", new_name);
    int64_t now = util_now_ms();
    size_t i;
    int flagged = 0;
    err_code rc;

    *n = 0;
    if (details == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    ev.details = details;
    rc = store_seal_list_legal_name(a->db, org_id, id_add, &l, e);
    if (rc == ERR_NOMEM)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    for (i = 0; rc == ERR_OK && i < l.n; i++) {
        if ((rc = store_seal_get_id(a->db, l.ids[i], &s, e)) != ERR_OK ||
            (rc = store_seal_flag_change(a->db, s.id, now, &flagged, e))
            != ERR_OK || !flagged)
            continue;
        ev.target_id = s.esid;
        if ((rc = unit_record(u, &ev, e)) == ERR_OK)
            (*n)++;
    }
    free(l.ids);
    json_decref(details);
    return rc;
}

struct stale_ctx {
    struct store_seal items[64];
    size_t n;
};

static err_code
stale_add(void *ctx, const struct store_seal *s)
{
    struct stale_ctx *st = ctx;

    if (st->n == sizeof(st->items) / sizeof(st->items[0]))
        return ERR_TOO_LARGE;   /* the next run takes the rest */
    st->items[st->n++] = *s;
    return ERR_OK;
}

struct stale_args {
    struct store_seal *s;       /* as listed: the move checks it still is */
    int                expired;
};

static err_code
stale_work(struct unit *u, void *ctx, struct err *e)
{
    struct stale_args *w = ctx;

    return seal_step(u, w->s, w->expired ? "expire" : "auto_suspend", NULL,
                     NULL, w->expired ? "validity ended"
                                      : "unused for too long", e);
}

/* Each seal changed in a unit of its own, acting as the system (no
 * principal: account 0, role "system", from "maintenance"). */
err_code
seal_maintain(struct store_conn *db, const struct config *cfg, int *n,
              struct err *e)
{
    struct stale_ctx *st = calloc(1, sizeof(*st));
    struct actor_ctx a = {db, NULL, {.role = "system",
                                     .client_addr = "maintenance"}};
    int64_t now = util_now_ms();
    size_t i;
    err_code rc;

    *n = 0;
    if (st == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = store_seal_list_stale(db, now - cfg->seal_suspend_unused_days *
                               86400000LL, now, stale_add, st, e);
    if (rc != ERR_OK && rc != ERR_TOO_LARGE)
        goto done;
    rc = ERR_OK;
    for (i = 0; i < st->n; i++) {
        struct stale_args w = {&st->items[i],
                               st->items[i].valid_end_ms < now};
        rc = unit_run(&a, stale_work, &w, e);
        if (rc == ERR_CONFLICT) {   /* changed meanwhile: skip */
            rc = ERR_OK;
            continue;
        }
        if (rc != ERR_OK)
            goto done;
        (*n)++;
    }
done:
    free(st);
    return rc;
}

/* Contract: seal_int.h. */
int
seal_reason_number(const struct store_seal *s)
{
    if (!strcmp(s->reason_code, "key_compromise"))
        return STATUSLIST_REASON_KEY_COMPROMISE;
    if (!strcmp(s->reason_code, "superseded"))
        return STATUSLIST_REASON_SUPERSEDED;
    if (!strcmp(s->reason_code, "hold") || !strcmp(s->reason_code, "unused"))
        return STATUSLIST_REASON_HOLD;
    if (!strcmp(s->reason_code, "cessation"))
        return STATUSLIST_REASON_CESSATION;
    return STATUSLIST_REASON_UNSPECIFIED;
}

err_code
seal_may_read(const struct actor_ctx *a, const struct store_seal *s,
              struct err *e)
{
    size_t i;
    int yes = 0;

    if (s->custodian_id == a->p->account_id)
        return ERR_OK;
    for (i = 0; i < a->p->nroles; i++)
        if (store_org_in_subtree(a->db, a->p->roles[i].scope_org_id,
                                 s->org_id, &yes, NULL) == ERR_OK && yes)
            return ERR_OK;
    return err_set(e, ERR_FORBIDDEN, "no role over the seal's organisation");
}
