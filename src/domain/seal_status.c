/*
 * seal_status.c - the signed seal status statements (issue 17); the
 * contract is include/domain/seal_status.h, the format sealstatus.h.
 *
 * Owns: the meaning of a seal's state for a relying party (the mapping to
 * the statement's status, time and reason), signing statements with the
 * status authority through custody (ca_sign), the per-node cache of signed
 * statements keyed by the seal's state row, and the start-up fill of the
 * SM3 of seal files made before migration 010.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "seal_int.h"
#include "seal_status.h"
#include "unit.h"
#include "util.h"
#include "store_seal.h"

#define STATUS_CACHE_SLOTS 1024     /* direct-mapped by seal id          */
#define STATUS_FILL_PAGE   256      /* seals per start-up fill unit      */
#define STATUS_REASON_HOLD 6        /* CRLReason certificateHold         */

/* One signed statement, and the state row and signer it was made from. */
struct status_slot {
    int64_t         seal_id;        /* 0: empty */
    enum seal_state state;
    int64_t         since_ms, valid_end_ms;
    char            reason_code[32];
    uint8_t         signer[SM3_DIGEST_LEN];   /* SM3 of the status cert */
    struct sstatus  f;
    uint8_t        *der;
    size_t          der_len;
};

struct status_cache {
    pthread_mutex_t    mu;
    struct status_slot slots[STATUS_CACHE_SLOTS];
};

/* Contract: seal_status.h. */
struct status_cache *
status_cache_new(void)
{
    struct status_cache *c = calloc(1, sizeof(*c));

    if (c != NULL && pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

/* Contract: seal_status.h. */
void
status_cache_free(struct status_cache *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < STATUS_CACHE_SLOTS; i++)
        free(c->slots[i].der);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Contract: seal_status.h. */
void
seal_statement_free(struct seal_statement *s)
{
    free(s->der);
    s->der = NULL;
    s->der_len = 0;
}

/* What s's state says to a relying party at now: status, and the time and
 * CRLReason that go with it (docs/status-format.md has the table). */
static void
status_of(const struct store_seal *s, time_t now, struct sstatus *f)
{
    f->has_time = 1;
    f->status_time = (time_t)(s->state_since_ms / 1000);
    f->reason = -1;
    switch (s->state) {
    case SEAL_ACTIVE:
        if (s->valid_end_ms != 0 && s->valid_end_ms / 1000 <= now) {
            f->status = SSTATUS_EXPIRED;
            f->status_time = (time_t)(s->valid_end_ms / 1000);
        } else {
            f->status = SSTATUS_ACTIVE;
            f->has_time = 0;
        }
        break;
    case SEAL_MADE:                 /* not yet confirmed: cannot sign */
        f->status = SSTATUS_SUSPENDED;
        f->reason = STATUS_REASON_HOLD;
        break;
    case SEAL_SUSPENDED:
        f->status = SSTATUS_SUSPENDED;
        f->reason = seal_reason_number(s);
        break;
    case SEAL_LOST:
        f->status = SSTATUS_LOST;
        f->reason = seal_reason_number(s);
        break;
    case SEAL_REVOKED:
        f->status = SSTATUS_REVOKED;
        f->reason = seal_reason_number(s);
        break;
    case SEAL_EXPIRED:
        f->status = SSTATUS_EXPIRED;
        if (s->valid_end_ms != 0)
            f->status_time = (time_t)(s->valid_end_ms / 1000);
        break;
    default:
        f->status = SSTATUS_UNKNOWN;
        f->has_time = 0;
        break;
    }
}

/* The cached statement of seal s made by signer, if it may be served at
 * now (see seal_status.h): a copy into out.  1 hit, 0 miss. */
static int
cache_get(struct status_cache *c, const struct store_seal *s,
          const uint8_t signer[SM3_DIGEST_LEN], enum sstatus_state status,
          time_t now, long max_age, struct seal_statement *out)
{
    struct status_slot *sl;
    int hit = 0;

    if (c == NULL)
        return 0;
    sl = &c->slots[(uint64_t)s->id % STATUS_CACHE_SLOTS];
    pthread_mutex_lock(&c->mu);
    if (sl->seal_id == s->id && sl->der != NULL && sl->state == s->state &&
        sl->since_ms == s->state_since_ms &&
        sl->valid_end_ms == s->valid_end_ms &&
        !strcmp(sl->reason_code, s->reason_code) &&
        !memcmp(sl->signer, signer, SM3_DIGEST_LEN) &&
        sl->f.status == status && sl->f.this_update <= now &&
        now + max_age < sl->f.next_update &&
        (out->der = malloc(sl->der_len)) != NULL) {
        memcpy(out->der, sl->der, sl->der_len);
        out->der_len = sl->der_len;
        out->f = sl->f;
        out->cached = 1;
        hit = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

/* Keep st, just signed for seal s by signer (best effort: no memory, no
 * cache). */
static void
cache_put(struct status_cache *c, const struct store_seal *s,
          const uint8_t signer[SM3_DIGEST_LEN],
          const struct seal_statement *st)
{
    struct status_slot *sl;
    uint8_t *copy;

    if (c == NULL || (copy = malloc(st->der_len)) == NULL)
        return;
    memcpy(copy, st->der, st->der_len);
    sl = &c->slots[(uint64_t)s->id % STATUS_CACHE_SLOTS];
    pthread_mutex_lock(&c->mu);
    free(sl->der);
    sl->seal_id = s->id;
    sl->state = s->state;
    sl->since_ms = s->state_since_ms;
    sl->valid_end_ms = s->valid_end_ms;
    snprintf(sl->reason_code, sizeof(sl->reason_code), "%s", s->reason_code);
    memcpy(sl->signer, signer, SM3_DIGEST_LEN);
    sl->f = st->f;
    sl->der = copy;
    sl->der_len = st->der_len;
    pthread_mutex_unlock(&c->mu);
}

/* Sign out->f (this/next update set) with the status authority au: the
 * certificate must hold the token's key, else a relying party could not
 * check what we sign. */
static err_code
sign_statement(const struct authority *au, struct seal_statement *out,
               struct err *e)
{
    uint8_t *tbs = NULL, sig[CA_SIG_MAX];
    size_t tbs_len = 0, sig_len = 0;
    X509 *x = NULL;
    EVP_PKEY *pub = NULL;
    int nid = 0;
    err_code rc;

    if ((rc = sm2_cert_parse(au->cert, au->cert_len, &x, e)) != ERR_OK ||
        (rc = custody_public_key(au->key.custody, au->key.token,
                                 au->key.key_id, &pub, e)) != ERR_OK)
        goto done;
    if (EVP_PKEY_eq(X509_get0_pubkey(x), pub) != 1) {
        rc = err_set(e, ERR_CONFIG, "the status certificate does not hold "
                     "the status key %s", au->ref);
        goto done;
    }
    out->f.cert = au->cert;
    out->f.cert_len = au->cert_len;
    if ((rc = sstatus_tbs_encode(&out->f, &tbs, &tbs_len, e)) != ERR_OK ||
        (rc = ca_sign(&au->key, tbs, tbs_len, sig, &sig_len, &nid, e))
        != ERR_OK ||
        (rc = sstatus_assemble(tbs, tbs_len, nid, sig, sig_len, &out->der,
                               &out->der_len, e)) != ERR_OK)
        goto done;
    out->f.alg_nid = nid;
done:
    out->f.cert = NULL;
    out->f.cert_len = 0;
    ERR_clear_error();
    free(tbs);
    EVP_PKEY_free(pub);
    X509_free(x);
    return rc;
}

/* The "unknown" fields for key: it names what was asked, nothing else. */
static err_code
unknown_of(const char *key, int by_hash, struct sstatus *f, struct err *e)
{
    size_t n = 0;

    f->status = SSTATUS_UNKNOWN;
    f->has_time = 0;
    f->reason = -1;
    if (!by_hash) {
        if (strlen(key) > SSTATUS_ESID_MAX)
            return err_set(e, ERR_INVALID, "an esID has at most %d "
                           "characters", SSTATUS_ESID_MAX);
        snprintf(f->es_id, sizeof(f->es_id), "%s", key);
        return ERR_OK;
    }
    if (util_hex_decode(key, f->seal_hash, sizeof(f->seal_hash), &n, NULL)
        != ERR_OK || n != SM3_DIGEST_LEN)
        return err_set(e, ERR_INVALID, "not a hex SM3 hash");
    f->has_hash = 1;
    return ERR_OK;
}

/* Contract: seal_status.h. */
err_code
seal_status_statement(struct store_conn *db, const struct seal_env *env,
                      struct status_cache *cache, const char *key,
                      int by_hash, time_t now, struct seal_statement *out,
                      struct err *e)
{
    struct store_seal s;
    struct authority au;
    char sm3_hex[2 * SM3_DIGEST_LEN + 1] = "";
    uint8_t signer[SM3_DIGEST_LEN];
    long max_age = env->cfg->status_max_age_seconds;
    size_t n = 0;
    int found;
    err_code rc;

    memset(out, 0, sizeof(*out));
    memset(&au, 0, sizeof(au));
    rc = store_seal_status_get(db, key, by_hash, &s, sm3_hex, e);
    if (rc != ERR_OK && rc != ERR_NOT_FOUND)
        return rc;
    found = rc == ERR_OK;
    if ((rc = authority_load(db, env->custody, "status", &au, e)) != ERR_OK) {
        if (rc == ERR_CONFIG)
            rc = err_set(e, ERR_UNAVAILABLE, "this instance has no status "
                         "key: it was made before signed status statements; "
                         "add one as docs/manual.md, \"Seal status for "
                         "relying parties\", says");
        goto done;
    }
    if ((rc = sm2_sm3(au.cert, au.cert_len, signer, e)) != ERR_OK)
        goto done;
    out->f.reason = -1;
    if (!found) {
        rc = unknown_of(key, by_hash, &out->f, e);
        if (rc != ERR_OK)
            goto done;
    } else {
        snprintf(out->f.es_id, sizeof(out->f.es_id), "%s", s.esid);
        if (sm3_hex[0] != '\0' &&
            util_hex_decode(sm3_hex, out->f.seal_hash,
                            sizeof(out->f.seal_hash), &n, NULL) == ERR_OK &&
            n == SM3_DIGEST_LEN)
            out->f.has_hash = 1;
        status_of(&s, now, &out->f);
        if (cache_get(cache, &s, signer, out->f.status, now, max_age, out))
            goto done;
    }
    out->f.this_update = now;
    out->f.next_update = now + env->cfg->status_validity_seconds;
    /* an active seal is not said to be active past its validity */
    if (found && out->f.status == SSTATUS_ACTIVE && s.valid_end_ms != 0 &&
        s.valid_end_ms / 1000 < out->f.next_update)
        out->f.next_update = (time_t)(s.valid_end_ms / 1000);
    if ((rc = sign_statement(&au, out, e)) != ERR_OK) {
        /* a key the token does not hold is the instance's fault, not a
         * missing seal: never a 404 */
        if (rc == ERR_NOT_FOUND)
            rc = err_set(e, ERR_UNAVAILABLE, "the status key %s is not in "
                         "its token (after seald status-key, restart the "
                         "daemon)", au.ref);
        goto done;
    }
    if (found)
        cache_put(cache, &s, signer, out);
done:
    authority_free(&au);
    if (rc != ERR_OK)
        seal_statement_free(out);
    return rc;
}

/* ---- the SM3 of seal files made before migration 010 ---- */

struct fill_page {
    int64_t ids[STATUS_FILL_PAGE];
    char    hex[STATUS_FILL_PAGE][2 * SM3_DIGEST_LEN + 1];
    size_t  n;
    int64_t last;
};

static err_code
fill_add(void *ctx, int64_t id, const void *der, size_t len)
{
    struct fill_page *p = ctx;
    uint8_t h[SM3_DIGEST_LEN];

    if (p->n == STATUS_FILL_PAGE || sm2_sm3(der, len, h, NULL) != ERR_OK)
        return ERR_INTERNAL;
    util_hex_encode(h, sizeof(h), p->hex[p->n]);
    p->ids[p->n++] = id;
    p->last = id;
    return ERR_OK;
}

static err_code
fill_work(struct unit *u, void *ctx, struct err *e)
{
    struct fill_page *p = ctx;
    size_t i;
    err_code rc;

    unit_quiet(u);
    for (i = 0; i < p->n; i++)
        if ((rc = store_seal_set_sm3(u->a.db, p->ids[i], p->hex[i], e))
            != ERR_OK)
            return rc;
    return ERR_OK;
}

/* Contract: seal_status.h.  A page is read, then written in a unit of its
 * own: the walk never holds the connection the unit writes on. */
err_code
seal_hash_backfill(struct store_conn *db, int *n, struct err *e)
{
    struct actor_ctx a = {db, NULL, {.role = "system",
                                     .client_addr = "start-up"}};
    struct fill_page *p = calloc(1, sizeof(*p));
    int64_t after = 0;
    err_code rc = ERR_OK;

    *n = 0;
    if (p == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (;;) {
        p->n = 0;
        if ((rc = store_seal_list_no_sm3(db, after, STATUS_FILL_PAGE,
                                         fill_add, p, e)) != ERR_OK) {
            if (rc == ERR_INTERNAL)
                rc = err_set(e, ERR_INTERNAL, "cannot hash a seal file");
            break;
        }
        if (p->n == 0)
            break;
        if ((rc = unit_run(&a, fill_work, p, e)) != ERR_OK)
            break;
        *n += (int)p->n;
        after = p->last;
    }
    free(p);
    return rc;
}
