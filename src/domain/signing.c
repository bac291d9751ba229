/*
 * signing.c - signing requests and document signing (signing.h).  Each
 * change is one unit of work (unit.h): the public function checks what
 * needs no database and runs its *_work function in a unit, which checks
 * authority and rules, writes and names the audit entry; unit_run appends
 * it and commits, and a refusal is an error the unit rolls back.  A
 * signature is made by the token first, outside any unit, and then
 * recorded in a grouped unit (unit_run_grouped: one commit for the
 * signatures recorded meanwhile); so is a failed fault check's mark.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "blobcrypt.h"
#include "log.h"
#include "metrics.h"
#include "ca.h"
#include "rbac.h"
#include "seal.h"
#include "seal_make.h"
#include "ofd.h"
#include "signing.h"
#include "sod.h"
#include "sm2.h"
#include "tsa.h"
#include "unit.h"
#include "util.h"
#include "store_account.h"
#include "store_seal.h"
#include "store_sign.h"

#include <openssl/evp.h>

/* The caller acts for the seal's custodian: as the custodian, or as an
 * approved deputy of that custodian now; and the custodian is still one
 * (rule SOD-5: the custodian role with a scope over the seal's
 * organisation).  *deputy_id gets the deputy record (0 when acting in
 * their own right). */
static err_code
acting_custodian(const struct actor_ctx *a, const struct store_seal *s,
                 int64_t *deputy_id, struct err *e)
{
    struct store_deputy d;
    size_t i;
    int yes = 0;
    err_code rc;

    *deputy_id = 0;
    /* the custodian signing in person: their account and roles are the
     * request's principal, read by its authentication */
    rc = s->custodian_id != 0 && s->custodian_id == a->p->account_id
        ? sod_custodian_of(a->db, &a->p->account, a->p->roles, a->p->nroles,
                           s->org_id, "use", e)
        : sod_custodian(a->db, s->custodian_id, s->org_id, "use", e);
    if (rc != ERR_OK)
        return rc == ERR_INVALID ? err_set(e, ERR_FORBIDDEN, "seal %s: its "
                                           "custodian no longer holds the "
                                           "custodian role (SOD-5)",
                                           s->esid) : rc;
    if (s->custodian_id == a->p->account_id &&
        authz_require(a->db, a->p, PERM_SEAL_USE, s->org_id, NULL) == ERR_OK)
        return ERR_OK;
    for (i = 0; i < a->p->nroles; i++) {
        if (a->p->roles[i].deputy_id == 0 ||
            store_deputy_get(a->db, a->p->roles[i].deputy_id, &d, NULL)
                != ERR_OK ||
            d.custodian_id != s->custodian_id)
            continue;
        if (store_org_in_subtree(a->db, d.scope_org_id, s->org_id, &yes,
                                 NULL) == ERR_OK && yes) {
            *deputy_id = d.id;
            return ERR_OK;
        }
    }
    return err_set(e, ERR_FORBIDDEN, "only the seal's custodian, or their "
                   "deputy during the deputy period, uses seal %s", s->esid);
}

/* SOD-6: the submitter is neither the seal's custodian nor, now, their
 * deputy for it: whoever keeps a seal does not ask for its use. */
static err_code
submitter_not_keeper(const struct actor_ctx *a, const struct store_seal *s,
                     struct err *e)
{
    struct sod_request who = {a->p->account_id, s->custodian_id, 0, 0};
    int64_t deputy = 0;
    err_code rc;

    if ((rc = sod_request_people(&who, e)) != ERR_OK)
        return rc;
    if (acting_custodian(a, s, &deputy, NULL) == ERR_OK && deputy != 0)
        return err_set(e, ERR_FORBIDDEN, "separation of duties (SOD-6): a "
                       "deputy of the seal's custodian does not ask for its "
                       "use");
    return ERR_OK;
}

struct submit_args {
    const struct sign_new *n;
    int64_t                now;
    int64_t               *id_out;
    struct blob_key       *key;     /* seals the documents (blobcrypt.h) */
};

err_code
sign_scope_check(struct store_conn *c, const struct config *cfg,
                 const struct store_seal *s, const char *doctype,
                 struct err *e)
{
    struct store_app app;
    char kind[48];
    const char *list;
    err_code rc;

    if (cfg == NULL)
        return err_set(e, ERR_INTERNAL, "seal scope: no configuration");
    if ((rc = store_app_get(c, s->application_id, &app, e)) != ERR_OK)
        return rc;
    if (strcmp(app.kind, "official") != 0)
        snprintf(kind, sizeof(kind), "%s", app.kind);
    else if (strcmp(app.subkind, "business") == 0)
        snprintf(kind, sizeof(kind), "business_%s", app.business);
    else
        snprintf(kind, sizeof(kind), "%s", app.subkind);
    list = config_seal_scope(cfg, kind);
    if (list == NULL || list[0] == '\0')
        return ERR_OK;
    if (doctype == NULL || doctype[0] == '\0')
        return err_set(e, ERR_SEAL_SCOPE, "document_type: seal %s (%s) "
                       "seals only %s; name the document type", s->esid,
                       kind, list);
    if (!config_scope_has(list, doctype))
        return err_set(e, ERR_SEAL_SCOPE, "document_type: seal %s (%s) "
                       "may not seal '%s', only %s", s->esid, kind, doctype,
                       list);
    return ERR_OK;
}

static err_code
submit_work(struct unit *u, void *ctx, struct err *e)
{
    struct submit_args *w = ctx;
    const struct sign_new *n = w->n;
    const struct actor_ctx *a = &u->a;
    struct store_sreq r, prev;
    struct store_seal s;
    size_t i;
    err_code rc;

    memset(&r, 0, sizeof(r));
    if ((rc = store_seal_get(a->db, n->esid, &s, e)) != ERR_OK)
        return rc == ERR_NOT_FOUND
            ? err_set(e, ERR_INVALID, "no seal %s", n->esid) : rc;
    if ((rc = authz_require(a->db, a->p, PERM_REQUEST_SUBMIT, s.org_id, e))
            != ERR_OK ||
        (rc = submitter_not_keeper(a, &s, e)) != ERR_OK ||
        (rc = seal_check_usable(a->db, &s, w->now, e)) != ERR_OK ||
        (rc = sign_scope_check(a->db, n->cfg, &s, n->document_type, e))
            != ERR_OK)
        return rc;
    if (n->resubmits_id != 0) {
        if ((rc = store_sreq_get(a->db, n->resubmits_id, &prev, e))
            != ERR_OK)
            return rc;
        if (sign_request_move("resubmit", prev.state, NULL, NULL, NULL)
                != ERR_OK ||
            prev.submitter_id != a->p->account_id || prev.seal_id != s.id)
            return err_set(e, ERR_CONFLICT, "only your own rejected request "
                           "for this seal is resubmitted");
    }
    if (n->extra_for_id != 0) {
        if ((rc = store_sreq_get(a->db, n->extra_for_id, &prev, e))
            != ERR_OK)
            return rc;
        if (sign_request_move("extra_copies", prev.state, NULL, NULL, NULL)
                != ERR_OK || prev.seal_id != s.id)
            return err_set(e, ERR_CONFLICT, "extra copies are asked for an "
                           "approved request of this seal");
    }
    r.seal_id = s.id;
    r.submitter_id = a->p->account_id;
    snprintf(r.title, sizeof(r.title), "%s", n->title);
    snprintf(r.purpose, sizeof(r.purpose), "%s", n->purpose);
    r.copies = (int)n->copies;
    r.resubmits_id = n->resubmits_id;
    r.extra_for_id = n->extra_for_id;
    r.created_ms = w->now;
    if (n->document_type != NULL)
        snprintf(r.document_type, sizeof(r.document_type), "%s",
                 n->document_type);
    if ((rc = store_sreq_insert(a->db, &r, w->id_out, e)) != ERR_OK)
        return rc;
    for (i = 0; i < n->ndocs; i++) {
        const struct sign_doc_new *d = &n->docs[i];
        struct blob_ref ref = {BLOB_DOCUMENT, *w->id_out, d->sm3};
        uint8_t *ct = NULL;
        size_t ctn = 0;
        if (d->data != NULL &&
            (rc = blob_seal(w->key, &ref, d->data, d->len, &ct, &ctn, e))
            != ERR_OK)
            return rc;
        rc = store_sdoc_insert(a->db, *w->id_out, d->name,
                               d->data ? (int64_t)d->len : d->size, d->sm3,
                               ct, ctn, e);
        free(ct);
        if (rc != ERR_OK)
            return rc;
    }
    return unit_audit_id(u, "sign_request.submit", "sign_request",
                         *w->id_out,
                         json_pack("{s:s, s:i, s:i, s:I, s:s?}", "esid",
                                   s.esid, "copies", (int)n->copies,
                                   "documents", (int)n->ndocs, "deputy_id",
                                   (json_int_t)r.deputy_id, "document_type",
                                   n->document_type), e);
}

err_code
sign_submit(const struct actor_ctx *a, const struct sign_new *n,
            long max_documents, int64_t *id_out, struct err *e)
{
    struct submit_args w = {n, util_now_ms(), id_out, NULL};
    size_t i;
    err_code rc;

    if (n->ndocs == 0 || (long)n->ndocs > max_documents)
        return err_set(e, ERR_INVALID, "a request names 1 to %ld documents",
                       max_documents);
    if (n->copies < 1 || n->copies > SIGN_MAX_COPIES)
        return err_set(e, ERR_INVALID, "copies must be 1 to %d",
                       SIGN_MAX_COPIES);
    if (n->document_type != NULL &&
        !config_doctype_valid(n->document_type, strlen(n->document_type)))
        return err_set(e, ERR_INVALID, "document_type: a lowercase letter, "
                       "then lowercase letters, digits and _ (at most %d)",
                       CONFIG_DOCTYPE_MAX);
    for (i = 0; i < n->ndocs; i++)
        if (n->docs[i].data != NULL &&
            (rc = sm2_sm3(n->docs[i].data, n->docs[i].len, n->docs[i].sm3,
                          e)) != ERR_OK)
            return rc;
    /* the data key before the unit (unwrapping is a token operation),
     * when there is a document to seal: hashes alone need none */
    for (i = 0; i < n->ndocs; i++)
        if (n->docs[i].data != NULL) {
            if ((rc = blob_active_key(&w.key, e)) != ERR_OK)
                return rc;
            break;
        }
    rc = unit_run(a, submit_work, &w, e);
    blob_key_put(w.key);
    return rc;
}

struct decide_args {
    int64_t     id;
    int         approve;
    const char *reason;
    int64_t     ttl_ms, now;
};

static err_code
decide_work(struct unit *u, void *ctx, struct err *e)
{
    struct decide_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_sreq r;
    struct store_seal s;
    const char *event = w->approve ? "approve" : "reject";
    enum sreq_state to = SREQ_NONE;
    err_code rc;

    if ((rc = store_sreq_get(a->db, w->id, &r, e)) != ERR_OK ||
        (rc = store_seal_get_id(a->db, r.seal_id, &s, e)) != ERR_OK ||
        (rc = authz_require(a->db, a->p, sign_request_event_perm(event),
                            s.org_id, e)) != ERR_OK ||
        (rc = sod_request_people(&(struct sod_request){r.submitter_id,
                                      s.custodian_id, a->p->account_id, 0},
                                  e)) != ERR_OK ||
        (w->approve && (rc = seal_check_usable(a->db, &s, w->now, e))
                       != ERR_OK) ||
        (rc = sign_request_move(event, r.state, &to, NULL, e)) != ERR_OK ||
        (rc = store_sreq_transition(a->db, w->id, r.state, to, w->reason,
                                    a->p->account_id,
                                    w->approve ? w->now : 0,
                                    w->approve ? w->now + w->ttl_ms : 0,
                                    w->now, e)) != ERR_OK)
        return rc;
    return unit_audit_id(u, w->approve ? "sign_request.approve"
                                       : "sign_request.reject",
                         "sign_request", w->id,
                         json_pack("{s:s, s:s?}", "esid", s.esid, "reason",
                                   w->reason), e);
}

err_code
sign_decide(const struct actor_ctx *a, int64_t id, int approve,
            const char *reason, int64_t ttl_ms, struct err *e)
{
    struct decide_args w = {id, approve, reason, ttl_ms, util_now_ms()};
    int needs_reason = 0;

    /* a reason is asked before anything is read: the table says which
     * events need one, whatever state the request is in */
    if (sign_request_move(approve ? "approve" : "reject", SREQ_SUBMITTED,
                          NULL, &needs_reason, NULL) == ERR_OK &&
        needs_reason &&
        (reason == NULL || reason[0] == '\0'))
        return err_set(e, ERR_BAD_REQUEST, "a rejection (退签) needs a "
                       "reason");
    return unit_run(a, decide_work, &w, e);
}

static err_code
cancel_work(struct unit *u, void *ctx, struct err *e)
{
    int64_t id = *(int64_t *)ctx;
    const struct actor_ctx *a = &u->a;
    struct store_sreq r;
    enum sreq_state to = SREQ_NONE;
    int64_t n = 0;
    err_code rc;

    if ((rc = store_sreq_get(a->db, id, &r, e)) != ERR_OK)
        return rc;
    if (r.submitter_id != a->p->account_id)
        return err_set(e, ERR_FORBIDDEN, "only the submitter cancels a "
                       "request");
    /* the transition, then the count: with the request's row locked, no
     * signature can be recorded under it unseen (use_work re-reads the
     * request after this commits) */
    if ((rc = sign_request_move("cancel", r.state, &to, NULL, e)) != ERR_OK ||
        (rc = store_sreq_transition(a->db, id, r.state, to, NULL, 0, 0, 0,
                                    util_now_ms(), e)) != ERR_OK ||
        (rc = store_sreq_signed(a->db, id, &n, e)) != ERR_OK)
        return rc;
    if (n > 0)
        return err_set(e, ERR_CONFLICT, "documents were already signed "
                       "under this request");
    return unit_audit_id(u, "sign_request.cancel", "sign_request", id, NULL,
                         e);
}

err_code
sign_cancel(const struct actor_ctx *a, int64_t id, struct err *e)
{
    return unit_run(a, cancel_work, &id, e);
}

struct doc_set {
    struct store_sdoc *docs;
    size_t n, cap;
};

static err_code
doc_add(void *ctx, const struct store_sdoc *d)
{
    struct doc_set *s = ctx;

    if (s->n == s->cap)
        return ERR_TOO_LARGE;
    s->docs[s->n++] = *d;
    return ERR_OK;
}

/* A refused signature of one document in a batch: audited on its own. */
static void
audit_item_refusal(const struct actor_ctx *a, const char *esid,
                   const struct err *why)
{
    struct audit_event ev = {"seal.sign", "seal", esid, AUDIT_REFUSED,
                             why->msg, NULL};

    audit_append(a->db, &a->who, &ev, NULL);
}

static json_t *
item_error(int64_t doc_id, const struct err *e)
{
    return json_pack("{s:I, s:s, s:{s:s, s:s}}", "document_id",
                     (json_int_t)doc_id, "status", "error", "error", "code",
                     err_name(e->code), "message", e->msg);
}

/* One signature's record, as a grouped unit's work. */
struct use {
    const struct store_sreq *r;
    const struct store_seal *s;
    const struct store_sdoc *d;
    const uint8_t           *der;
    size_t                   len;
    int                      checked;       /* token value verified  */
    const uint8_t           *ofd;           /* a sealed OFD to keep  */
    size_t                   ofd_len;       /* as stored (its blob), */
                                            /* or NULL               */
    int64_t                  ofd_size;      /* the package's size    */
    int64_t                  base_id;       /* the kept OFD it sealed */
    const uint8_t           *ofd_sm3;       /* the package's SM3     */
    int64_t                  sig_id;        /* out */
    int64_t                  ofd_id;        /* out */
};

/* Why the use of w cannot be recorded now (a write of use_work changed
 * nothing): the checks of the request and the seal, read afresh, in the
 * order signing makes them before the token signs; when they all pass,
 * the grant is what ran out.  Runs only on that failure path. */
static err_code
use_refused(const struct actor_ctx *a, const struct use *w, int64_t now,
            struct err *e)
{
    struct store_sreq now_r;
    struct store_seal s;
    err_code rc;

    if ((rc = store_sreq_get(a->db, w->r->id, &now_r, e)) != ERR_OK ||
        (rc = store_seal_get_id(a->db, w->s->id, &s, e)) != ERR_OK)
        return rc;
    if (sign_request_move("sign", now_r.state, NULL, NULL, NULL) != ERR_OK)
        return err_set(e, ERR_CONFLICT, "signing request %lld is %s",
                       (long long)w->r->id, sreq_state_name(now_r.state));
    if (now_r.expires_ms <= now)
        return err_set(e, ERR_CONFLICT, "the approval expired; a new "
                       "approval is needed");
    if ((rc = seal_check_usable(a->db, &s, now, e)) != ERR_OK)
        return rc;
    return err_set(e, ERR_CONFLICT, "the approval's %d signature(s) of this "
                   "document are used up", now_r.copies);
}

/* In a grouped unit (on u->a.db, the group's connection): record the
 * signature with its usage record, the seal's last use and the audit
 * entry, if the grant and the seal still allow it.  Those checks are in
 * the writes themselves (store_seal_touch: the seal active, valid, its
 * organisations in service; store_sdoc_take: the request approved and
 * unexpired, a copy of the document left), not in reads before them, so
 * on PostgreSQL the whole unit is sent without waiting (store.c,
 * group_batch) and a group of signatures costs a few round trips.  When a
 * check fails, use_refused reads why.  With several nodes on one database
 * (read committed) units queue on the audit chain's head before their
 * work (unit.c, audit_queue), and a conditional write re-checks its row
 * after waiting for another node's change of it: the seal is touched only
 * while usable and a copy is taken only while one is left (the grant is
 * never overspent).  The request's approver, the seal's id, esID and
 * organisation were read before the token signed and do not change once
 * the request is approved. */
static err_code
use_work(struct unit *u, void *ctx, struct err *e)
{
    struct use *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_sig rec;
    char sm3hex[65];
    int64_t now = util_now_ms();
    json_t *details = NULL;
    err_code rc;

    if ((rc = store_seal_touch(a->db, w->s->id, now, e)) != ERR_OK ||
        (rc = store_sdoc_take(a->db, w->d->id, w->r->id, now, e)) != ERR_OK)
        return rc == ERR_CONFLICT ? use_refused(a, w, now, e) : rc;
    memset(&rec, 0, sizeof(rec));
    rec.request_id = w->r->id;
    rec.document_id = w->d->id;
    rec.seal_id = w->s->id;
    rec.org_id = w->s->org_id;
    rec.signer_id = a->p->account_id;
    rec.approver_id = w->r->approver_id;
    rec.token_checked = w->checked;
    snprintf(rec.client_addr, sizeof(rec.client_addr), "%s",
             a->who.client_addr ? a->who.client_addr : "");
    snprintf(rec.request_rid, sizeof(rec.request_rid), "%s",
             a->who.request_id ? a->who.request_id : "");
    memcpy(rec.data_sm3, w->d->sm3, sizeof(rec.data_sm3));
    rec.ts_ms = now;
    util_hex_encode(w->d->sm3, sizeof(w->d->sm3), sm3hex);
    details = json_pack("{s:I, s:I, s:s}", "request_id", (json_int_t)w->r->id,
                        "document_id", (json_int_t)w->d->id, "sm3", sm3hex);
    if (details == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = store_sig_insert(a->db, &rec, w->der, w->len, &w->sig_id, e))
            != ERR_OK) {
        json_decref(details);
        return rc;
    }
    if (w->ofd != NULL) {
        struct store_sealed k;
        memset(&k, 0, sizeof(k));
        k.request_id = w->r->id;
        k.document_id = w->d->id;
        k.base_id = w->base_id;
        k.size_bytes = w->ofd_size;
        k.created_ms = now;
        memcpy(k.sm3, w->ofd_sm3, sizeof(k.sm3));
        if ((rc = store_sealed_insert(a->db, &k, w->der, w->len, w->ofd,
                                      w->ofd_len, &w->ofd_id, e)) != ERR_OK) {
            json_decref(details);
            return rc;
        }
    }
    return unit_audit(u, "seal.sign", "seal", w->s->esid, details, e);
}

/* Record signature der of document d of request r for seal s (use_work),
 * durably, with whether its value was checked before it is given out
 * (checked), in a group commit with other signatures being recorded at
 * the same time: one fsync for the group.  The token has signed already:
 * nothing of it runs inside the unit.  On any failure nothing of it is
 * recorded and der must not be given out.  *sig_id gets the record's id. */
static err_code
record_use(const struct actor_ctx *a, const struct store_sreq *r,
           const struct store_seal *s, const struct store_sdoc *d,
           const uint8_t *der, size_t len, int checked, int64_t *sig_id,
           struct err *e)
{
    struct use w = {r, s, d, der, len, checked, NULL, 0, 0, 0, NULL, 0, 0};
    err_code rc = unit_run_grouped(a, use_work, &w, e);

    *sig_id = w.sig_id;
    return rc;
}

/* record_use for a sealed OFD: the package (ofd, its SM3, sealed from
 * the kept OFD base_id or, when 0, the document) is kept in the same
 * transaction as the signature's record, stored sealed under key k
 * (encryption at rest: BLOB_SEALED, bound to document d and the package's
 * SM3, which the row keeps as the plaintext's); *kept_id its id.  The
 * blob is sealed here, before the unit, as the other kinds are: the
 * grouped unit's work is its writes and nothing more. */
static err_code
record_ofd_use(const struct actor_ctx *a, const struct store_sreq *r,
               const struct store_seal *s, const struct store_sdoc *d,
               const uint8_t *der, size_t len, int checked,
               const struct blob_key *k, const uint8_t *ofd, size_t ofd_len,
               const uint8_t sm3[32], int64_t base_id, int64_t *sig_id,
               int64_t *kept_id, struct err *e)
{
    struct blob_ref ref = {BLOB_SEALED, d->id, sm3};
    struct use w = {r, s, d, der, len, checked, NULL, 0, (int64_t)ofd_len,
                    base_id, sm3, 0, 0};
    uint8_t *ct = NULL;
    size_t ctn = 0;
    err_code rc;

    *sig_id = *kept_id = 0;
    if ((rc = blob_seal(k, &ref, ofd, ofd_len, &ct, &ctn, e)) != ERR_OK)
        return rc;
    w.ofd = ct;
    w.ofd_len = ctn;
    rc = unit_run_grouped(a, use_work, &w, e);
    free(ct);
    *sig_id = w.sig_id;
    *kept_id = w.ofd_id;
    return rc;
}

/* What signing needs of the seal of request r: the holder key and the
 * prepared signer of its seal and certificate (from the memo below).
 * Checks that the caller acts for the custodian and that r is approved and
 * unexpired. */
struct memo_ent;

struct signer {
    struct store_sreq       r;
    struct store_seal       s;
    char                    tok[CUSTODY_NAME_MAX], kid[CUSTODY_ID_HEX_MAX];
    struct ca_key           holder;
    struct memo_ent        *m;          /* a reference: memo_put        */
    const struct seal_signer *ss;       /* m's                          */
};

/*
 * Prepared signers (seal_signer) by what they were made from: SM3 over the
 * holder key reference, the seal and the certificate.  Making one decodes
 * the seal, parses the certificate and asks the token whether the holder
 * key is the certificate's, and none of that changes for given bytes, so
 * a node keeps the last MEMO_MAX and shares them between threads.  A memo
 * only: bounded, per process, derived from the database's bytes; losing
 * an entry costs one preparation.  Entries are reference counted: the memo
 * holds one reference, each signer in use another.
 *
 * uses counts the signatures made with an entry; the fault check on the
 * token's value (seal_sign_params.trust_token) is made on the first and
 * then on every verify_token_every-th (signing.verify_token_every); once
 * a check has failed, on every signature with that entry.
 */
#define MEMO_MAX 64

struct memo_ent {
    uint8_t             key[SM3_DIGEST_LEN];
    struct seal_signer *ss;
    unsigned            refs;
    unsigned long       uses;               /* atomic */
    int                 suspect;            /* atomic: a check failed */
};

static struct {
    pthread_mutex_t  lock;
    struct memo_ent *ent[MEMO_MAX];
    size_t           next;
} memo = {PTHREAD_MUTEX_INITIALIZER, {NULL}, 0};

/* Drop one reference to m (NULL is fine); the last frees it. */
static void
memo_put(struct memo_ent *m)
{
    int last;

    if (m == NULL)
        return;
    pthread_mutex_lock(&memo.lock);
    last = --m->refs == 0;
    pthread_mutex_unlock(&memo.lock);
    if (last) {
        seal_signer_free(m->ss);
        free(m);
    }
}

/* SM3 over the key reference, the seal and the certificate bytes. */
static err_code
memo_key(const char *keyref, const uint8_t *seal, size_t seal_len,
         const uint8_t *cert, size_t cert_len, uint8_t out[SM3_DIGEST_LEN],
         struct err *e)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t n8[8];
    unsigned int n = 0;
    int i, ok;

    /* the seal's length first, so no two (seal, cert) splits collide */
    for (i = 0; i < 8; i++)
        n8[i] = (uint8_t)((uint64_t)seal_len >> (56 - 8 * i));
    ok = md != NULL && EVP_DigestInit_ex(md, EVP_sm3(), NULL) == 1 &&
         EVP_DigestUpdate(md, keyref, strlen(keyref) + 1) == 1 &&
         EVP_DigestUpdate(md, n8, sizeof(n8)) == 1 &&
         EVP_DigestUpdate(md, seal, seal_len) == 1 &&
         EVP_DigestUpdate(md, cert, cert_len) == 1 &&
         EVP_DigestFinal_ex(md, out, &n) == 1;
    EVP_MD_CTX_free(md);
    return ok ? ERR_OK : err_set(e, ERR_CRYPTO, "SM3 failed");
}

/* The memo's entry for g's seal, made when missing: a reference in g->m. */
static err_code
memo_get(struct signer *g, const uint8_t *seal, size_t seal_len,
         const uint8_t *cert, size_t cert_len, struct err *e)
{
    struct ses_bytes sb = {(uint8_t *)seal, seal_len};
    struct ses_bytes cb = {(uint8_t *)cert, cert_len};
    struct memo_ent *m = NULL, *old = NULL;
    uint8_t key[SM3_DIGEST_LEN];
    size_t i;
    err_code rc;

    if ((rc = memo_key(g->s.holder_key, seal, seal_len, cert, cert_len, key,
                       e)) != ERR_OK)
        return rc;
    pthread_mutex_lock(&memo.lock);
    for (i = 0; i < MEMO_MAX && m == NULL; i++)
        if (memo.ent[i] != NULL &&
            memcmp(memo.ent[i]->key, key, sizeof(key)) == 0)
            m = memo.ent[i];
    if (m != NULL)
        m->refs++;
    pthread_mutex_unlock(&memo.lock);
    if (m != NULL) {
        g->m = m;
        g->ss = m->ss;
        return ERR_OK;
    }
    if ((m = calloc(1, sizeof(*m))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(m->key, key, sizeof(key));
    if ((rc = seal_signer_new(&g->holder, &sb, &cb, &m->ss, e)) != ERR_OK) {
        free(m);
        return rc;
    }
    m->refs = 2;                        /* the memo's and g's */
    pthread_mutex_lock(&memo.lock);
    old = memo.ent[memo.next];
    memo.ent[memo.next] = m;
    memo.next = (memo.next + 1) % MEMO_MAX;
    pthread_mutex_unlock(&memo.lock);
    memo_put(old);                      /* the memo's reference to it */
    g->m = m;
    g->ss = m->ss;
    return ERR_OK;
}

/* Is the token's value of the next signature with g to be checked? */
static int
check_due(const struct signer *g, long every)
{
    unsigned long n = __atomic_fetch_add(&g->m->uses, 1, __ATOMIC_RELAXED);

    return every <= 1 || n % (unsigned long)every == 0 ||
           __atomic_load_n(&g->m->suspect, __ATOMIC_RELAXED);
}

/* A failed fault check, in a grouped unit: mark the seal's unchecked
 * signatures since its last checked one as suspect, and tell the auditor
 * how many (the unit's one entry, outcome failed: unit_record). */
struct fault {
    const struct store_seal *s;
};

static err_code
fault_work(struct unit *u, void *ctx, struct err *e)
{
    struct fault *f = ctx;
    struct audit_event ev = {"seal.token_fault", "seal", f->s->esid,
                             AUDIT_FAILED, "the token returned a signature "
                             "value that does not verify", NULL};
    json_t *details;
    int64_t n = 0;
    err_code rc;

    if ((rc = store_sig_mark_suspect(u->a.db, f->s->id, &n, e)) != ERR_OK)
        return rc;
    if ((details = json_pack("{s:I}", "signatures_marked_suspect",
                             (json_int_t)n)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    ev.details = details;
    rc = unit_record(u, &ev, e);
    json_decref(details);
    return rc;
}

/* After a signature with g (rc from seal_signer_sign; checked: its value
 * was verified): a failed check makes every later signature with g's seal
 * checked, and marks the unchecked ones given out since the last passed
 * check as suspect (rule: nothing unverified is left unflagged).  A
 * failure to record the mark is logged by the audit's own failure path. */
static void
check_failed(const struct actor_ctx *a, const struct signer *g, int checked,
             err_code rc)
{
    struct fault f = {&g->s};
    struct err me;

    if (!checked || rc != ERR_CRYPTO)
        return;
    __atomic_store_n(&g->m->suspect, 1, __ATOMIC_RELAXED);
    err_clear(&me);
    if (unit_run_grouped(a, fault_work, &f, &me) != ERR_OK)
        log_event(LOG_ERROR, "token_fault_unrecorded", "esid=%s msg=%s",
                  g->s.esid, me.msg);
}

/* Sign one document (its approved hash as dataHash, its name as
 * propertyInfo): token first, then the timestamp by tsa.policy (tsa_stamp:
 * a required one that fails refuses the signature before anything is
 * recorded), then record_use.  *item gets the result. */
static err_code
sign_one(const struct actor_ctx *a, const struct seal_env *env,
         const struct signer *g, const struct store_sdoc *d, json_t **item,
         struct err *e)
{
    struct seal_sign_params sp;
    uint8_t *der = NULL;
    size_t len = 0;
    char *b64 = NULL, sm3hex[65];
    int64_t sig_id = 0;
    struct tsa_outcome ts;
    err_code rc;

    memset(&sp, 0, sizeof(sp));
    sp.data_hash.p = d->sm3;
    sp.data_hash.len = sizeof(d->sm3);
    sp.property_info = d->name;
    sp.trust_token = !check_due(g, env->cfg->sign_verify_token_every);
    rc = seal_signer_sign(g->ss, &g->holder, &sp, &der, &len, e);
    check_failed(a, g, !sp.trust_token, rc);
    if (rc != ERR_OK ||
        (rc = tsa_stamp(env->cfg, &der, &len, &ts, e)) != ERR_OK ||
        (rc = record_use(a, &g->r, &g->s, d, der, len, !sp.trust_token,
                         &sig_id, e)) != ERR_OK ||
        (rc = util_b64_encode(der, len, &b64, e)) != ERR_OK)
        goto done;
    util_hex_encode(d->sm3, sizeof(d->sm3), sm3hex);
    *item = json_pack("{s:I, s:s, s:I, s:s, s:s, s:o}", "document_id",
                      (json_int_t)d->id, "status", "signed", "signature_id",
                      (json_int_t)sig_id, "sm3", sm3hex, "signature", b64,
                      "timestamp", tsa_outcome_json(&ts));
done:
    free(der);
    free(b64);
    return rc;
}

static void
signer_free(struct signer *g)
{
    memo_put(g->m);
    g->m = NULL;
    g->ss = NULL;
}

static err_code
signer_load(const struct actor_ctx *a, const struct seal_env *env, int64_t id,
            struct signer *g, struct err *e)
{
    uint8_t *seal = NULL, *cert = NULL;
    size_t seal_len = 0, cert_len = 0;
    int64_t deputy = 0;
    err_code rc;

    memset(g, 0, sizeof(*g));
    if ((rc = store_sreq_get(a->db, id, &g->r, e)) != ERR_OK ||
        (rc = store_seal_get_id(a->db, g->r.seal_id, &g->s, e)) != ERR_OK ||
        (rc = acting_custodian(a, &g->s, &deputy, e)) != ERR_OK ||
        (rc = sod_request_people(&(struct sod_request){g->r.submitter_id,
                                     g->s.custodian_id, g->r.approver_id,
                                     a->p->account_id}, e)) != ERR_OK)
        return rc;
    if (sign_request_move("sign", g->r.state, NULL, NULL, NULL) != ERR_OK)
        return err_set(e, ERR_CONFLICT, "signing request %lld is %s; only "
                       "an approved request is signed", (long long)id,
                       sreq_state_name(g->r.state));
    if (g->r.expires_ms <= util_now_ms())
        return err_set(e, ERR_CONFLICT, "the approval expired; a new "
                       "approval is needed");
    /* the scope again when the seal is used: the configuration may have
     * narrowed it since the request was submitted */
    if ((rc = sign_scope_check(a->db, env->cfg, &g->s, g->r.document_type,
                               e)) != ERR_OK)
        return rc;
    if ((rc = store_seal_blob(a->db, g->s.id, "seal", &seal, &seal_len, e))
            != ERR_OK ||
        (rc = store_seal_blob(a->db, g->s.id, "cert", &cert, &cert_len, e))
            != ERR_OK ||
        (rc = config_keyref(g->s.holder_key, g->tok, g->kid, e)) != ERR_OK)
        goto done;
    g->holder.custody = env->custody;
    g->holder.token = g->tok;
    g->holder.key_id = g->kid;
    rc = memo_get(g, seal, seal_len, cert, cert_len, e);
done:
    free(seal);
    free(cert);
    return rc;
}

/* The metrics outcome of a signature that was not given out (metrics.h):
 * refused for what the caller could change (4xx), failed for the server's
 * faults (5xx). */
static enum metrics_outcome
sign_outcome(err_code code)
{
    return err_http_status(code) >= 500 ? METRICS_FAILED : METRICS_REFUSED;
}

err_code
sign_documents(const struct actor_ctx *a, const struct seal_env *env,
               int64_t id, const int64_t *doc_ids, size_t ndocs,
               json_t **results, struct err *e)
{
    struct signer g;
    struct doc_set set = {NULL, 0, 0};
    size_t i, j;
    json_t *out = NULL;
    err_code rc;

    if ((rc = signer_load(a, env, id, &g, e)) != ERR_OK)
        return rc;
    set.cap = (size_t)env->cfg->sign_max_documents;
    if ((set.docs = calloc(set.cap, sizeof(*set.docs))) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (doc_ids == NULL) {
        if ((rc = store_sdoc_list(a->db, id, doc_add, &set, e)) != ERR_OK)
            goto done;
    } else {
        /* only the documents asked for: a large request is not read whole
         * for every signature */
        for (j = 0; j < ndocs && j < set.cap; j++) {
            rc = store_sdoc_get(a->db, doc_ids[j], &set.docs[set.n], NULL,
                                NULL, e);
            if (rc == ERR_NOT_FOUND ||
                (rc == ERR_OK && set.docs[set.n].request_id != id)) {
                rc = err_set(e, ERR_INVALID, "document %lld is not in "
                             "request %lld", (long long)doc_ids[j],
                             (long long)id);
                goto done;
            }
            if (rc != ERR_OK)
                goto done;
            set.n++;
        }
    }
    if ((out = json_array()) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < set.n; i++) {
        struct err ie;
        json_t *item = NULL;
        int wanted = doc_ids == NULL;
        for (j = 0; !wanted && j < ndocs; j++)
            wanted = doc_ids[j] == set.docs[i].id;
        if (!wanted)
            continue;
        err_clear(&ie);
        if (sign_one(a, env, &g, &set.docs[i], &item, &ie) != ERR_OK) {
            metrics_sign(sign_outcome(ie.code));
            if (ie.code == ERR_HSM_UNAVAILABLE || ie.code == ERR_DB ||
                ie.code == ERR_TSA_UNAVAILABLE) {
                rc = err_set(e, ie.code, "%s", ie.msg);
                goto done;
            }
            item = item_error(set.docs[i].id, &ie);
            audit_item_refusal(a, g.s.esid, &ie);
        } else {
            metrics_sign(METRICS_OK);
        }
        json_array_append_new(out, item);
    }
    *results = out;
    out = NULL;
done:
    json_decref(out);
    free(set.docs);
    signer_free(&g);
    return rc;
}

/* ofd_sign_fn: sign the Signature.xml hash ofd_seal computed, keeping a
 * copy of the SES_Signature to record. */
struct ofd_ctx {
    const struct signer *g;
    const struct config *cfg;
    struct tsa_outcome  *ts;
    long                 verify_every;
    const struct actor_ctx *a;
    uint8_t             *der;
    size_t               len;
    int                  checked;
};

static err_code
ofd_signer(void *ctx, const uint8_t datahash[32], const char *property_info,
           uint8_t **ses_der, size_t *len, struct err *e)
{
    struct ofd_ctx *o = ctx;
    struct seal_sign_params sp;
    err_code rc;

    memset(&sp, 0, sizeof(sp));
    sp.data_hash.p = datahash;
    sp.data_hash.len = 32;
    sp.property_info = property_info;
    sp.trust_token = !check_due(o->g, o->verify_every);
    rc = seal_signer_sign(o->g->ss, &o->g->holder, &sp, ses_der, len, e);
    check_failed(o->a, o->g, !sp.trust_token, rc);
    o->checked = !sp.trust_token;
    if (rc != ERR_OK ||
        (rc = tsa_stamp(o->cfg, ses_der, len, o->ts, e)) != ERR_OK)
        return rc;
    free(o->der);
    if ((o->der = malloc(*len)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(o->der, *ses_der, *len);
    o->len = *len;
    return ERR_OK;
}

err_code
sign_ofd(const struct actor_ctx *a, const struct seal_env *env, int64_t id,
         int64_t doc_id, const struct ofd_stamp_pos *pos, int protect_all,
         uint8_t **out, size_t *out_len, int64_t *sig_id,
         struct tsa_outcome *ts, struct err *e)
{
    int64_t kept = 0;

    return sign_ofd_kept(a, env, id, doc_id, 0, pos, protect_all, out,
                         out_len, sig_id, &kept, ts, e);
}

err_code
sign_ofd_kept(const struct actor_ctx *a, const struct seal_env *env,
              int64_t id, int64_t doc_id, int64_t base_id,
              const struct ofd_stamp_pos *pos, int protect_all,
              uint8_t **out, size_t *out_len, int64_t *sig_id,
              int64_t *kept_id, struct tsa_outcome *ts, struct err *e)
{
    struct signer g;
    struct store_sdoc d;
    struct store_sealed base;
    struct ofd_seal_params p;
    struct ofd_seal_info info;
    struct ofd_ctx oc;
    struct blob_key *key = NULL;
    uint8_t *data = NULL, sm3[32];
    size_t len = 0;
    err_code rc;

    if ((rc = signer_load(a, env, id, &g, e)) != ERR_OK)
        return rc;
    memset(&oc, 0, sizeof(oc));
    oc.g = &g;
    oc.a = a;
    oc.cfg = env->cfg;
    oc.ts = ts;
    memset(ts, 0, sizeof(*ts));
    ts->status = "off";
    oc.verify_every = env->cfg->sign_verify_token_every;
    if ((rc = store_sdoc_get(a->db, doc_id, &d, base_id ? NULL : &data,
                             &len, e)) != ERR_OK ||
        (data != NULL &&
         (rc = blob_open_in_place(&(struct blob_ref){BLOB_DOCUMENT,
                                                     d.request_id, d.sm3},
                                  &data, &len, e)) != ERR_OK))
        goto done;
    if (d.request_id != id) {
        rc = err_set(e, ERR_NOT_FOUND, "document %lld is not in request "
                     "%lld", (long long)doc_id, (long long)id);
        goto done;
    }
    /* a second seal: the kept package of this very document, not one of
     * another request's (whose grant would not be the one spent) */
    if (base_id != 0) {
        if ((rc = store_sealed_get(a->db, base_id, &base, NULL, NULL, e))
            != ERR_OK && rc != ERR_NOT_FOUND)
            goto done;
        if (rc == ERR_NOT_FOUND || base.document_id != doc_id ||
            base.request_id != id) {
            rc = err_set(e, ERR_INVALID, "sealed_id %lld is not a sealed "
                         "OFD of document %lld of request %lld",
                         (long long)base_id, (long long)doc_id,
                         (long long)id);
            goto done;
        }
        /* stored sealed (encryption at rest), bound to this document */
        if ((rc = store_sealed_get(a->db, base_id, &base, &data, &len, e))
            != ERR_OK ||
            (rc = blob_open_in_place(&(struct blob_ref){BLOB_SEALED,
                                                        base.document_id,
                                                        base.sm3},
                                     &data, &len, e)) != ERR_OK)
            goto done;
    }
    if (data == NULL) {
        rc = err_set(e, ERR_CONFLICT, "document %lld was given by hash "
                     "only; an OFD must be uploaded to be sealed",
                     (long long)doc_id);
        goto done;
    }
    /* the data key that will seal the kept package, before the token
     * signs (it may unwrap through the token; without one nothing is
     * signed) */
    if ((rc = blob_active_key(&key, e)) != ERR_OK)
        goto done;
    memset(&p, 0, sizeof(p));
    p.seal = seal_signer_seal(g.ss);
    p.pos = *pos;
    p.protect = protect_all ? OFD_PROTECT_ALL : OFD_PROTECT_CONTENT;
    p.sign = ofd_signer;
    p.sign_ctx = &oc;
    p.max_inflated = (size_t)env->cfg->ofd_max_inflated_bytes;
    if ((rc = ofd_seal(data, len, &p, out, out_len, &info, e)) != ERR_OK) {
        metrics_sign(sign_outcome(rc));
        goto done;
    }
    if ((rc = sm2_sm3(*out, *out_len, sm3, e)) != ERR_OK ||
        (rc = record_ofd_use(a, &g.r, &g.s, &d, oc.der, oc.len, oc.checked,
                             key, *out, *out_len, sm3, base_id, sig_id,
                             kept_id, e)) != ERR_OK) {
        free(*out);
        *out = NULL;
    }
    metrics_sign(rc == ERR_OK ? METRICS_OK : sign_outcome(rc));
done:
    blob_key_put(key);
    free(oc.der);
    free(data);
    signer_free(&g);
    return rc;
}

struct upload_args {
    int64_t          id, doc_id;
    const uint8_t   *data;
    size_t           len;
    const uint8_t   *sm3;
    struct blob_key *key;
};

static err_code
upload_work(struct unit *u, void *ctx, struct err *e)
{
    struct upload_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_sreq r;
    struct store_seal s;
    struct store_sdoc d;
    int64_t deputy = 0;
    err_code rc;

    if ((rc = store_sreq_get(a->db, w->id, &r, e)) != ERR_OK ||
        (rc = store_seal_get_id(a->db, r.seal_id, &s, e)) != ERR_OK ||
        (r.submitter_id != a->p->account_id &&
         (rc = acting_custodian(a, &s, &deputy, e)) != ERR_OK) ||
        (rc = store_sdoc_get(a->db, w->doc_id, &d, NULL, NULL, e)) != ERR_OK)
        return rc;
    if (d.request_id != w->id)
        return err_set(e, ERR_NOT_FOUND, "document %lld is not in request "
                       "%lld", (long long)w->doc_id, (long long)w->id);
    if (sign_request_move("upload", r.state, NULL, NULL, NULL) != ERR_OK)
        return err_set(e, ERR_CONFLICT, "signing request %lld is %s",
                       (long long)w->id, sreq_state_name(r.state));
    if ((int64_t)w->len != d.size_bytes || !util_ct_equal(w->sm3, d.sm3, 32))
        return err_set(e, ERR_INVALID, "these are not the bytes of the "
                       "document as submitted (size or SM3 differs)");
    {
        struct blob_ref ref = {BLOB_DOCUMENT, w->id, d.sm3};
        uint8_t *ct = NULL;
        size_t ctn = 0;
        if ((rc = blob_seal(w->key, &ref, w->data, w->len, &ct, &ctn, e))
            == ERR_OK)
            rc = store_sdoc_set_data(a->db, w->doc_id, ct, ctn, e);
        free(ct);
        if (rc != ERR_OK)
            return rc;
    }
    return unit_audit_id(u, "sign_request.upload", "sign_request", w->id,
                         json_pack("{s:I, s:I}", "document_id",
                                   (json_int_t)w->doc_id, "size",
                                   (json_int_t)w->len), e);
}

err_code
sign_upload(const struct actor_ctx *a, int64_t id, int64_t doc_id,
            const uint8_t *data, size_t len, const uint8_t sm3[32],
            struct err *e)
{
    struct upload_args w = {id, doc_id, data, len, sm3, NULL};
    err_code rc;

    if ((rc = blob_active_key(&w.key, e)) != ERR_OK)
        return rc;
    rc = unit_run(a, upload_work, &w, e);
    blob_key_put(w.key);
    return rc;
}

err_code
sign_may_read(const struct actor_ctx *a, const struct store_sreq *r,
              struct store_seal *seal, struct err *e)
{
    err_code rc;

    if ((rc = store_seal_get_id(a->db, r->seal_id, seal, e)) != ERR_OK)
        return rc;
    if (r->submitter_id == a->p->account_id ||
        seal->custodian_id == a->p->account_id ||
        authz_require(a->db, a->p, PERM_REQUEST_APPROVE, seal->org_id, NULL)
            == ERR_OK)
        return ERR_OK;
    return authz_require(a->db, a->p, PERM_USAGE_READ, seal->org_id, e);
}

err_code
sign_may_open(const struct actor_ctx *a, const struct store_sreq *r,
              struct store_seal *seal, struct err *e)
{
    int64_t deputy = 0;
    err_code rc;

    if ((rc = sign_may_read(a, r, seal, NULL)) != ERR_OK)
        return rc == ERR_FORBIDDEN
            ? err_set(e, ERR_NOT_FOUND, "no signing request %lld",
                      (long long)r->id)
            : sign_may_read(a, r, seal, e);
    if (r->submitter_id == a->p->account_id ||
        acting_custodian(a, seal, &deputy, NULL) == ERR_OK)
        return ERR_OK;
    if ((rc = authz_require(a->db, a->p, PERM_REQUEST_APPROVE, seal->org_id,
                            e)) != ERR_OK)
        return rc;
    return sod_request_people(&(struct sod_request){r->submitter_id,
                                  seal->custodian_id, a->p->account_id, 0},
                              e);
}
