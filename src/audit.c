/*
 * audit.c - the audit entry point (audit.h) and the hash chain over it: the
 * canonical encoding, chained appends, signed checkpoints (automatic and
 * forced), the verifier, and the JSON/CSV shapes of entries and reports.
 * It is the only code that computes chain hashes; the SQL is in
 * store_audit.c.  Checkpoints are signed through the token (custody.h):
 * no private key is ever here.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit.h"
#include "config.h"
#include "custody.h"
#include "log.h"
#include "sm2.h"
#include "util.h"

#define AUDIT_DETAILS_MAX   4096
#define AUDIT_ENC_VERSION   1
#define AUDIT_NULL_LEN      0xFFFFFFFFu
#define AUDIT_ENC_INITIAL   512
#define AUDIT_CSV_FIELD_MAX 8192
#define AUDIT_DEPUTY_PREFIX "deputy:"
#define AUDIT_ROLE_MAX      (sizeof(AUDIT_DEPUTY_PREFIX) + STORE_ROLE_MAX)

/* ---- canonical encoding ---- */

struct enc_buf {
    uint8_t *p;
    size_t   len, cap;
    int      oom;
};

/* Append n bytes to b; on allocation failure b->oom is set and later
 * appends do nothing. */
static void
enc_put(struct enc_buf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : AUDIT_ENC_INITIAL;
        uint8_t *q;
        while (cap < b->len + n)
            cap *= 2;
        if ((q = realloc(b->p, cap)) == NULL) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* v as 8 bytes big-endian. */
static void
put_u64(uint8_t out[8], uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* Append v as a big-endian i64. */
static void
enc_i64(struct enc_buf *b, int64_t v)
{
    uint8_t x[8];

    put_u64(x, (uint64_t)v);
    enc_put(b, x, 8);
}

/* Append s as str: u32 length (0xFFFFFFFF for NULL) then the bytes. */
static void
enc_str(struct enc_buf *b, const char *s)
{
    uint32_t n = s == NULL ? AUDIT_NULL_LEN : (uint32_t)strlen(s);
    uint8_t x[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                    (uint8_t)n};

    enc_put(b, x, 4);
    if (s != NULL)
        enc_put(b, s, strlen(s));
}

err_code
audit_entry_hash(const uint8_t prev[AUDIT_HASH_LEN],
                 const struct store_audit_entry *en,
                 uint8_t out[AUDIT_HASH_LEN], struct err *e)
{
    struct enc_buf b = {NULL, 0, 0, 0};
    uint8_t ver = AUDIT_ENC_VERSION;
    err_code rc;

    enc_put(&b, prev, AUDIT_HASH_LEN);
    enc_put(&b, &ver, 1);
    enc_i64(&b, en->seq);
    enc_i64(&b, en->ts_ms);
    enc_i64(&b, en->account_id);
    enc_str(&b, en->role);
    enc_str(&b, en->client_addr);
    enc_str(&b, en->request_id);
    enc_str(&b, en->action);
    enc_str(&b, en->target_type);
    enc_str(&b, en->target_id);
    enc_str(&b, en->outcome);
    enc_str(&b, en->reason);
    enc_str(&b, en->details);
    if (b.oom)
        rc = err_set(e, ERR_NOMEM, "out of memory");
    else
        rc = sm2_sm3(b.p, b.len, out, e);
    free(b.p);
    return rc;
}

void
audit_checkpoint_message(int64_t seq, const uint8_t hash[AUDIT_HASH_LEN],
                         int64_t ts_ms, uint8_t out[AUDIT_CHECKPOINT_MSG_LEN])
{
    memcpy(out, AUDIT_CHECKPOINT_TAG, 24);
    put_u64(out + 24, (uint64_t)seq);
    memcpy(out + 32, hash, AUDIT_HASH_LEN);
    put_u64(out + 32 + AUDIT_HASH_LEN, (uint64_t)ts_ms);
}

/* ---- the head ---- */

/* Recompute the hash of the newest row from genesis (rows older than the
 * chain have no stored hash). */
struct rehash {
    uint8_t h[AUDIT_HASH_LEN];
    struct err *e;
};

/* store_audit_walk callback: fold one row into the running hash. */
static err_code
rehash_row(void *ctx, const struct store_audit_entry *en)
{
    struct rehash *r = ctx;

    return audit_entry_hash(r->h, en, r->h, r->e);
}

/* The chain head (seq, hash) under the caller's transaction. */
static err_code
chain_head(struct store_conn *c, int64_t *seq, uint8_t hash[AUDIT_HASH_LEN],
           struct err *e)
{
    struct rehash r;
    int has = 0;
    err_code rc;

    if ((rc = store_audit_head(c, seq, hash, &has, e)) != ERR_OK)
        return rc;
    if (*seq == 0) {
        memset(hash, 0, AUDIT_HASH_LEN);
        return ERR_OK;
    }
    if (has)
        return ERR_OK;
    memset(r.h, 0, sizeof(r.h));
    r.e = e;
    if ((rc = store_audit_walk(c, 0, rehash_row, &r, e)) != ERR_OK)
        return rc;
    memcpy(hash, r.h, AUDIT_HASH_LEN);
    return ERR_OK;
}

/* ---- checkpoints ---- */

/* Automatic checkpoint settings and what this process knows of the last
 * checkpoint (a cache: another process writing checkpoints only makes one
 * come earlier or later). */
static struct {
    pthread_mutex_t  lock;
    struct custody  *cust;
    const char      *key_ref;
    long             every, seconds;
    int              known;           /* last_* loaded from the database */
    int64_t          last_seq, last_ms;
} auto_cp = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0, 0, 0, 0, 0};

err_code
audit_checkpoint_setup(struct custody *cust, const char *key_ref, long every,
                       long seconds, struct err *e)
{
    char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];

    if (cust != NULL &&
        (key_ref == NULL || config_keyref(key_ref, tok, id, e) != ERR_OK))
        return err_set(e, ERR_CONFIG, "audit checkpoints need keys.audit");
    if (every < 1 || seconds < 1)
        return err_set(e, ERR_CONFIG, "checkpoint interval must be >= 1");
    pthread_mutex_lock(&auto_cp.lock);
    auto_cp.cust = cust;
    auto_cp.key_ref = key_ref;
    auto_cp.every = every;
    auto_cp.seconds = seconds;
    auto_cp.known = 0;
    pthread_mutex_unlock(&auto_cp.lock);
    return ERR_OK;
}

/* Sign (seq, hash) now with key_ref and store the checkpoint, in the
 * caller's transaction.  *out (may be NULL) gets it. */
static err_code
sign_head(struct store_conn *c, struct custody *cust, const char *key_ref,
          int64_t seq, const uint8_t hash[AUDIT_HASH_LEN],
          struct store_audit_checkpoint *out, struct err *e)
{
    struct store_audit_checkpoint cp;
    char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    uint8_t msg[AUDIT_CHECKPOINT_MSG_LEN], dig[32], *der = NULL;
    size_t der_len = 0;
    EVP_PKEY *pub = NULL;
    err_code rc;

    memset(&cp, 0, sizeof(cp));
    if ((rc = config_keyref(key_ref, tok, id, e)) != ERR_OK)
        goto done;
    cp.seq = seq;
    memcpy(cp.head_hash, hash, AUDIT_HASH_LEN);
    cp.ts_ms = util_now_ms();
    snprintf(cp.key_ref, sizeof(cp.key_ref), "%s", key_ref);
    audit_checkpoint_message(cp.seq, cp.head_hash, cp.ts_ms, msg);
    if ((rc = custody_public_key(cust, tok, id, &pub, e)) != ERR_OK ||
        (rc = custody_public_key_der(cust, tok, id, &der, &der_len, e))
        != ERR_OK)
        goto done;
    if (der_len > sizeof(cp.public_key)) {
        rc = err_set(e, ERR_CRYPTO, "audit public key too large");
        goto done;
    }
    memcpy(cp.public_key, der, der_len);
    cp.public_key_len = der_len;
    if ((rc = custody_sm2_e(pub, NULL, msg, sizeof(msg), dig, e)) != ERR_OK ||
        (rc = custody_sign_e(cust, tok, id, dig, cp.signature,
                             &cp.signature_len, e)) != ERR_OK ||
        (rc = store_audit_checkpoint_insert(c, &cp, e)) != ERR_OK)
        goto done;
    pthread_mutex_lock(&auto_cp.lock);
    auto_cp.known = 1;
    auto_cp.last_seq = cp.seq;
    auto_cp.last_ms = cp.ts_ms;
    pthread_mutex_unlock(&auto_cp.lock);
    if (out != NULL)
        *out = cp;
done:
    EVP_PKEY_free(pub);
    free(der);
    return rc;
}

/* After appending seq: sign the head if a checkpoint is due.  Failures
 * are logged: the record itself stands. */
static void
maybe_checkpoint(struct store_conn *c, int64_t seq,
                 const uint8_t hash[AUDIT_HASH_LEN])
{
    struct store_audit_checkpoint last;
    struct custody *cust;
    const char *key_ref;
    int64_t now = util_now_ms();
    int due;
    struct err e;

    err_clear(&e);
    pthread_mutex_lock(&auto_cp.lock);
    cust = auto_cp.cust;
    key_ref = auto_cp.key_ref;
    if (cust == NULL) {
        pthread_mutex_unlock(&auto_cp.lock);
        return;
    }
    if (!auto_cp.known) {
        auto_cp.known = 1;
        auto_cp.last_seq = 0;
        auto_cp.last_ms = now;     /* the clock starts with the process */
        if (store_audit_checkpoint_latest(c, &last, NULL) == ERR_OK) {
            auto_cp.last_seq = last.seq;
            auto_cp.last_ms = last.ts_ms;
        }
    }
    due = seq - auto_cp.last_seq >= auto_cp.every ||
          now - auto_cp.last_ms >= auto_cp.seconds * 1000;
    pthread_mutex_unlock(&auto_cp.lock);
    if (due && sign_head(c, cust, key_ref, seq, hash, NULL, &e) != ERR_OK)
        log_event(LOG_ERROR, "audit_checkpoint_failed", "seq=%lld msg=\"%s\"",
                  (long long)seq, e.msg);
}

/* ---- append ---- */

/* The role who acted in (audit.h, struct audit_actor); buf holds a
 * "deputy:<role>" answer.  A granted role is preferred to the same
 * authority held through a deputy period: the deputy prefix marks only
 * what the principal could not have done in their own right. */
static const char *
acting_role(const struct audit_actor *who, char buf[AUDIT_ROLE_MAX])
{
    const struct auth_principal *p;
    const struct store_role *deputy = NULL;
    size_t i;

    if (who == NULL)
        return NULL;
    if (who->role != NULL)
        return who->role;
    if ((p = who->principal) == NULL || p->account_id == 0 ||
        who->perm == PERM_NONE)
        return NULL;
    if (who->perm == PERM_SELF)
        return rbac_perm_name(PERM_SELF);
    for (i = 0; i < p->nroles; i++) {
        if (!rbac_role_has(p->roles[i].role, who->perm))
            continue;
        if (p->roles[i].deputy_id == 0)
            return p->roles[i].role;
        if (deputy == NULL)
            deputy = &p->roles[i];
    }
    if (deputy == NULL)
        return NULL;
    snprintf(buf, AUDIT_ROLE_MAX, AUDIT_DEPUTY_PREFIX "%s", deputy->role);
    return buf;
}

/* Build the row, link it to the head and insert it, in the caller's
 * transaction.  *seq_out/hash_out get the new head. */
static err_code
append_row(struct store_conn *c, const struct audit_actor *who,
           const struct audit_event *ev, int64_t *seq_out,
           uint8_t hash_out[AUDIT_HASH_LEN], struct err *e)
{
    struct store_audit_row row;
    struct store_audit_entry en;
    uint8_t prev[AUDIT_HASH_LEN];
    char *details = NULL, role[AUDIT_ROLE_MAX];
    int64_t head;
    err_code rc;

    if (ev->action == NULL || ev->outcome == NULL)
        return err_set(e, ERR_INTERNAL, "audit record without action");
    if (ev->details != NULL) {
        details = json_dumps(ev->details, JSON_COMPACT | JSON_SORT_KEYS);
        if (details == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        if (strlen(details) > AUDIT_DETAILS_MAX) {
            rc = err_set(e, ERR_INTERNAL, "audit details too large");
            goto done;
        }
    }
    memset(&row, 0, sizeof(row));
    row.ts_ms = util_now_ms();
    row.account_id = who ? who->account_id : 0;
    row.role = acting_role(who, role);
    row.client_addr = who ? who->client_addr : NULL;
    row.request_id = who ? who->request_id : NULL;
    row.action = ev->action;
    row.target_type = ev->target_type;
    row.target_id = ev->target_id;
    row.outcome = ev->outcome;
    row.reason = ev->reason;
    row.details = details;
    if ((rc = chain_head(c, &head, prev, e)) != ERR_OK)
        goto done;
    memset(&en, 0, sizeof(en));
    en.seq = head + 1;
    en.ts_ms = row.ts_ms;
    en.account_id = row.account_id;
    en.role = row.role;
    en.client_addr = row.client_addr;
    en.request_id = row.request_id;
    en.action = row.action;
    en.target_type = row.target_type;
    en.target_id = row.target_id;
    en.outcome = row.outcome;
    en.reason = row.reason;
    en.details = row.details;
    if ((rc = audit_entry_hash(prev, &en, hash_out, e)) != ERR_OK ||
        (rc = store_audit_insert_chained(c, en.seq, &row, hash_out, e))
        != ERR_OK)
        goto done;
    *seq_out = en.seq;
done:
    free(details);
    return rc;
}

err_code
audit_append(struct store_conn *c, const struct audit_actor *who,
             const struct audit_event *ev, struct err *e)
{
    uint8_t hash[AUDIT_HASH_LEN];
    int64_t seq = 0;
    int own = 0;
    err_code rc;

    /* Reading the head and inserting must be atomic: a refusal recorded
     * outside any transaction gets one of its own. */
    if (!store_in_transaction(c)) {
        if ((rc = store_begin(c, e)) != ERR_OK)
            return rc;
        own = 1;
    }
    if ((rc = append_row(c, who, ev, &seq, hash, e)) != ERR_OK)
        goto done;
    maybe_checkpoint(c, seq, hash);
    if (own)
        rc = store_commit(c, e);
done:
    if (own && rc != ERR_OK)
        store_rollback(c);
    return rc;
}

err_code
audit_checkpoint(struct store_conn *c, struct custody *cust,
                 const char *key_ref, const struct audit_actor *who,
                 struct store_audit_checkpoint *out, struct err *e)
{
    struct audit_event ev = {"audit.checkpoint", "audit_log", NULL, AUDIT_OK,
                             NULL, NULL};
    uint8_t hash[AUDIT_HASH_LEN];
    int64_t seq = 0;
    err_code rc;

    if (cust == NULL || key_ref == NULL || key_ref[0] == '\0')
        return err_set(e, ERR_CONFIG, "no audit key configured (keys.audit)");
    if (store_in_transaction(c))
        return err_set(e, ERR_INTERNAL, "checkpoint inside a transaction");
    if ((rc = store_begin(c, e)) != ERR_OK)
        return rc;
    if ((rc = append_row(c, who, &ev, &seq, hash, e)) != ERR_OK ||
        (rc = sign_head(c, cust, key_ref, seq, hash, out, e)) != ERR_OK ||
        (rc = store_commit(c, e)) != ERR_OK)
        store_rollback(c);
    return rc;
}

/* ---- export and checks of checkpoints ---- */

json_t *
audit_checkpoint_json(const struct store_audit_checkpoint *cp)
{
    const uint8_t *p = cp->public_key;
    char hex[2 * AUDIT_HASH_LEN + 1], when[21];
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, (long)cp->public_key_len);
    BIO *bio = BIO_new(BIO_s_mem());
    char *sig = NULL, *pem = NULL;
    long pem_len;
    json_t *j = NULL;

    if (pub == NULL || bio == NULL || PEM_write_bio_PUBKEY(bio, pub) != 1 ||
        (pem_len = BIO_get_mem_data(bio, &pem)) <= 0 ||
        util_b64_encode(cp->signature, cp->signature_len, &sig, NULL)
        != ERR_OK)
        goto done;
    util_hex_encode(cp->head_hash, AUDIT_HASH_LEN, hex);
    util_time_rfc3339((time_t)(cp->ts_ms / 1000), when);
    j = json_pack("{s:s, s:I, s:s, s:I, s:s, s:s, s:s%, s:s}",
                  "format", AUDIT_CHECKPOINT_FORMAT,
                  "seq", (json_int_t)cp->seq, "head_hash", hex,
                  "ts_ms", (json_int_t)cp->ts_ms, "time", when,
                  "key_ref", cp->key_ref, "public_key", pem, (size_t)pem_len,
                  "signature", sig);
done:
    free(sig);
    BIO_free(bio);
    EVP_PKEY_free(pub);
    return j;
}

err_code
audit_checkpoint_parse(const json_t *j, struct store_audit_checkpoint *out,
                       struct err *e)
{
    const char *fmt, *hex, *pem, *sig, *ref;
    json_int_t seq, ts;
    uint8_t *raw = NULL, *der = NULL;
    size_t n = 0;
    EVP_PKEY *pub = NULL;
    BIO *bio = NULL;
    int len;
    err_code rc = ERR_OK;

    memset(out, 0, sizeof(*out));
    if (json_unpack((json_t *)j, "{s:s, s:I, s:s, s:I, s:s, s:s, s:s}",
                    "format", &fmt, "seq", &seq, "head_hash", &hex,
                    "ts_ms", &ts, "key_ref", &ref, "public_key", &pem,
                    "signature", &sig) != 0 ||
        strcmp(fmt, AUDIT_CHECKPOINT_FORMAT) != 0)
        return err_set(e, ERR_INVALID, "not an exported audit checkpoint");
    out->seq = seq;
    out->ts_ms = ts;
    snprintf(out->key_ref, sizeof(out->key_ref), "%s", ref);
    if (util_hex_decode(hex, out->head_hash, AUDIT_HASH_LEN, &n, NULL)
        != ERR_OK || n != AUDIT_HASH_LEN) {
        rc = err_set(e, ERR_INVALID, "checkpoint head_hash is not 32 bytes");
        goto done;
    }
    if (util_b64_decode(sig, strlen(sig), &raw, &n, NULL) != ERR_OK ||
        n == 0 || n > sizeof(out->signature)) {
        rc = err_set(e, ERR_INVALID, "checkpoint signature is not base64");
        goto done;
    }
    memcpy(out->signature, raw, n);
    out->signature_len = n;
    if ((bio = BIO_new_mem_buf(pem, -1)) == NULL ||
        (pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL ||
        (len = i2d_PUBKEY(pub, &der)) <= 0 ||
        (size_t)len > sizeof(out->public_key)) {
        rc = err_set(e, ERR_INVALID, "checkpoint public_key is not a PEM "
                     "public key");
        goto done;
    }
    memcpy(out->public_key, der, (size_t)len);
    out->public_key_len = (size_t)len;
done:
    OPENSSL_free(der);
    EVP_PKEY_free(pub);
    BIO_free(bio);
    free(raw);
    return rc;
}

err_code
audit_checkpoint_check(const struct store_audit_checkpoint *cp, int *ok,
                       struct err *e)
{
    uint8_t msg[AUDIT_CHECKPOINT_MSG_LEN];
    const uint8_t *p = cp->public_key;
    EVP_PKEY *pub;
    err_code rc;

    *ok = 0;
    if ((pub = d2i_PUBKEY(NULL, &p, (long)cp->public_key_len)) == NULL)
        return ERR_OK;     /* an unreadable key verifies nothing */
    audit_checkpoint_message(cp->seq, cp->head_hash, cp->ts_ms, msg);
    rc = sm2_verify(pub, NULL, msg, sizeof(msg), cp->signature,
                    cp->signature_len, ok, e);
    EVP_PKEY_free(pub);
    return rc;
}

/* ---- the verifier ---- */

struct verify_ctx {
    const struct audit_verify_opts *o;
    struct audit_verify_report     *r;
    struct store_audit_checkpoint  *cps;   /* sorted by seq */
    size_t                          ncp, cpcap, next;
    uint8_t                         h[AUDIT_HASH_LEN];
    int64_t                         expect;
    int                             chained;  /* a hashed row was seen */
    struct err                     *e;
};

/* Record the first failure; returning ERR_CONFLICT stops the walk. */
static err_code
broken(struct verify_ctx *v, int64_t seq, int64_t cp_id, const char *fmt,
       ...) __attribute__((format(printf, 4, 5)));

static err_code
broken(struct verify_ctx *v, int64_t seq, int64_t cp_id, const char *fmt, ...)
{
    va_list ap;

    if (v->r->ok) {
        v->r->ok = 0;
        v->r->bad_seq = seq;
        v->r->bad_checkpoint = cp_id;
        va_start(ap, fmt);
        vsnprintf(v->r->reason, sizeof(v->r->reason), fmt, ap);
        va_end(ap);
    }
    return ERR_CONFLICT;
}

/* store_audit_checkpoint_list callback: copy each checkpoint into
 * v->cps (grown with realloc; freed by audit_verify). */
static err_code
collect_cp(void *ctx, const struct store_audit_checkpoint *cp)
{
    struct verify_ctx *v = ctx;
    struct store_audit_checkpoint *q;

    if (v->ncp == v->cpcap) {
        size_t cap = v->cpcap ? v->cpcap * 2 : 16;
        if ((q = realloc(v->cps, cap * sizeof(*q))) == NULL)
            return err_set(v->e, ERR_NOMEM, "out of memory");
        v->cps = q;
        v->cpcap = cap;
    }
    v->cps[v->ncp++] = *cp;
    return ERR_OK;
}

/* Check one checkpoint against the recomputed hash at its seq. */
static err_code
check_cp(struct verify_ctx *v, const struct store_audit_checkpoint *cp,
         const char *what)
{
    int ok = 0;

    if (memcmp(cp->head_hash, v->h, AUDIT_HASH_LEN) != 0)
        return broken(v, cp->seq, cp->id, "%s at seq %lld does not match the "
                      "log: an entry up to seq %lld was changed", what,
                      (long long)cp->seq, (long long)cp->seq);
    if (v->o->pinned_key != NULL &&
        (cp->public_key_len != v->o->pinned_key_len ||
         memcmp(cp->public_key, v->o->pinned_key, cp->public_key_len) != 0))
        return broken(v, cp->seq, cp->id, "%s at seq %lld is signed by "
                      "another key than the trusted audit key", what,
                      (long long)cp->seq);
    if (audit_checkpoint_check(cp, &ok, v->e) != ERR_OK || !ok)
        return broken(v, cp->seq, cp->id, "%s at seq %lld: the signature "
                      "does not verify", what, (long long)cp->seq);
    return ERR_OK;
}

/* Checkpoints at seq 0 (an empty log) and at the current row. */
static err_code
check_due(struct verify_ctx *v, int64_t seq)
{
    err_code rc;

    while (v->next < v->ncp && v->cps[v->next].seq <= seq) {
        if (v->cps[v->next].seq < seq)   /* skipped: seq below 1 */
            return broken(v, v->cps[v->next].seq, v->cps[v->next].id,
                          "checkpoint at impossible seq %lld",
                          (long long)v->cps[v->next].seq);
        if ((rc = check_cp(v, &v->cps[v->next], "checkpoint")) != ERR_OK)
            return rc;
        v->r->checkpoints++;
        v->next++;
    }
    if (v->o->exported != NULL && v->o->exported->seq == seq)
        return check_cp(v, v->o->exported, "the exported checkpoint");
    return ERR_OK;
}

/* store_audit_walk callback: check seq continuity and the row hash,
 * then the checkpoints at this seq.  ERR_CONFLICT once broken. */
static err_code
verify_row(void *ctx, const struct store_audit_entry *en)
{
    struct verify_ctx *v = ctx;
    uint8_t h[AUDIT_HASH_LEN];
    err_code rc;

    if (en->seq != v->expect)
        return broken(v, v->expect, 0, "entry %lld is missing (the next "
                      "entry has seq %lld): entries were deleted or "
                      "renumbered", (long long)v->expect, (long long)en->seq);
    if ((rc = audit_entry_hash(v->h, en, h, v->e)) != ERR_OK)
        return rc;
    if (en->hash == NULL) {
        if (v->chained)
            return broken(v, en->seq, 0, "entry %lld has no hash",
                          (long long)en->seq);
        v->r->unchained++;
    } else {
        v->chained = 1;
        if (en->hash_len != AUDIT_HASH_LEN ||
            memcmp(en->hash, h, AUDIT_HASH_LEN) != 0)
            return broken(v, en->seq, 0, "entry %lld does not match its "
                          "hash: it or the entry before it was changed, "
                          "removed or reordered", (long long)en->seq);
    }
    memcpy(v->h, h, AUDIT_HASH_LEN);
    v->r->entries++;
    v->r->head_seq = en->seq;
    v->expect++;
    return check_due(v, en->seq);
}

err_code
audit_verify(struct store_conn *c, const struct audit_verify_opts *o,
             struct audit_verify_report *r, struct err *e)
{
    static const struct audit_verify_opts none = {NULL, 0, NULL};
    struct audit_verify_opts opts = o ? *o : none;
    struct verify_ctx v;
    err_code rc;

    memset(r, 0, sizeof(*r));
    memset(&v, 0, sizeof(v));
    /* An exported checkpoint kept outside seald carries the trusted key. */
    if (opts.exported != NULL && opts.pinned_key == NULL) {
        opts.pinned_key = opts.exported->public_key;
        opts.pinned_key_len = opts.exported->public_key_len;
    }
    r->ok = 1;
    v.o = &opts;
    v.r = r;
    v.e = e;
    v.expect = 1;
    r->pinned = opts.pinned_key != NULL;
    if ((rc = store_audit_checkpoint_list(c, collect_cp, &v, e)) != ERR_OK)
        goto done;
    if ((rc = check_due(&v, 0)) == ERR_CONFLICT) {
        rc = ERR_OK;
        goto done;
    }
    if (rc != ERR_OK)
        goto done;
    rc = store_audit_walk(c, 0, verify_row, &v, e);
    if (rc == ERR_CONFLICT) {       /* a break was recorded */
        rc = ERR_OK;
        goto done;
    }
    if (rc != ERR_OK)
        goto done;
    memcpy(r->head_hash, v.h, AUDIT_HASH_LEN);
    if (v.next < v.ncp)
        broken(&v, v.cps[v.next].seq, v.cps[v.next].id, "checkpoint at seq "
               "%lld is beyond the end of the log (seq %lld): the newest "
               "entries were deleted", (long long)v.cps[v.next].seq,
               (long long)r->head_seq);
    else if (v.o->exported != NULL && v.o->exported->seq > r->head_seq)
        broken(&v, r->head_seq + 1, 0, "the exported checkpoint covers seq "
               "%lld but the log ends at seq %lld: the newest entries were "
               "deleted", (long long)v.o->exported->seq,
               (long long)r->head_seq);
done:
    memcpy(r->head_hash, v.h, AUDIT_HASH_LEN);
    free(v.cps);
    return rc;
}

json_t *
audit_verify_json(const struct audit_verify_report *r)
{
    char hex[2 * AUDIT_HASH_LEN + 1];

    util_hex_encode(r->head_hash, AUDIT_HASH_LEN, hex);
    return json_pack("{s:b, s:I, s:I, s:I, s:I, s:s, s:o, s:o, s:b, s:o}",
                     "ok", r->ok, "entries", (json_int_t)r->entries,
                     "unchained", (json_int_t)r->unchained,
                     "checkpoints", (json_int_t)r->checkpoints,
                     "head_seq", (json_int_t)r->head_seq, "head_hash", hex,
                     "first_bad_seq", r->ok ? json_null()
                         : json_integer(r->bad_seq),
                     "bad_checkpoint_id", r->bad_checkpoint
                         ? json_integer(r->bad_checkpoint) : json_null(),
                     "key_pinned", r->pinned,
                     "reason", r->ok ? json_null() : json_string(r->reason));
}

/* ---- entry shapes ---- */

static json_t *
str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *
audit_entry_json(const struct store_audit_entry *en)
{
    char when[21], hex[2 * AUDIT_HASH_LEN + 1] = "";
    json_t *details = NULL;

    util_time_rfc3339((time_t)(en->ts_ms / 1000), when);
    if (en->hash != NULL && en->hash_len == AUDIT_HASH_LEN)
        util_hex_encode(en->hash, AUDIT_HASH_LEN, hex);
    if (en->details != NULL)
        details = json_loads(en->details, 0, NULL);
    if (details == NULL)
        details = str_or_null(en->details);
    return json_pack("{s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:o, "
                     "s:s, s:o, s:o, s:o}",
                     "seq", (json_int_t)en->seq,
                     "ts_ms", (json_int_t)en->ts_ms, "time", when,
                     "account_id", en->account_id
                         ? json_integer(en->account_id) : json_null(),
                     "role", str_or_null(en->role),
                     "client_addr", str_or_null(en->client_addr),
                     "request_id", str_or_null(en->request_id),
                     "action", en->action ? en->action : "",
                     "target_type", str_or_null(en->target_type),
                     "target_id", str_or_null(en->target_id),
                     "outcome", en->outcome ? en->outcome : "",
                     "reason", str_or_null(en->reason),
                     "details", details,
                     "hash", hex[0] ? json_string(hex) : json_null());
}

/* Append s to the buffer. */
static err_code
buf_put(char **buf, size_t *len, size_t *cap, const char *s, size_t n,
        struct err *e)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        char *p;
        while (c < *len + n + 1)
            c *= 2;
        if ((p = realloc(*buf, c)) == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return ERR_OK;
}

/* One CSV field, quoted when it holds a comma, quote or line break; a
 * leading = + - @ is prefixed with ' so spreadsheets do not run it. */
static err_code
csv_field(char **buf, size_t *len, size_t *cap, const char *s, int last,
          struct err *e)
{
    char q[2 * AUDIT_CSV_FIELD_MAX + 4];
    size_t n = 0, i;

    if (s == NULL)
        s = "";
    q[n++] = '"';
    if (strchr("=+-@", s[0]) != NULL && s[0] != '\0')
        q[n++] = '\'';
    for (i = 0; s[i] != '\0' && i < AUDIT_CSV_FIELD_MAX; i++) {
        if (s[i] == '"')
            q[n++] = '"';
        q[n++] = s[i];
    }
    q[n++] = '"';
    if (last) {
        q[n++] = '\r';
        q[n++] = '\n';
    } else {
        q[n++] = ',';
    }
    return buf_put(buf, len, cap, q, n, e);
}

err_code
audit_entry_csv(const struct store_audit_entry *en, char **buf, size_t *len,
                size_t *cap, struct err *e)
{
    static const char *const head[] = {"seq", "time", "ts_ms", "account_id",
        "role", "client_addr", "request_id", "action", "target_type",
        "target_id", "outcome", "reason", "details", "hash"};
    char seq[24], ts[24], acct[24], when[21], hex[2 * AUDIT_HASH_LEN + 1] = "";
    const char *f[14];
    size_t i;
    err_code rc = ERR_OK;

    if (en == NULL) {
        for (i = 0; i < 14 && rc == ERR_OK; i++)
            rc = csv_field(buf, len, cap, head[i], i == 13, e);
        return rc;
    }
    snprintf(seq, sizeof(seq), "%lld", (long long)en->seq);
    snprintf(ts, sizeof(ts), "%lld", (long long)en->ts_ms);
    snprintf(acct, sizeof(acct), "%lld", (long long)en->account_id);
    util_time_rfc3339((time_t)(en->ts_ms / 1000), when);
    if (en->hash != NULL && en->hash_len == AUDIT_HASH_LEN)
        util_hex_encode(en->hash, AUDIT_HASH_LEN, hex);
    f[0] = seq; f[1] = when; f[2] = ts;
    f[3] = en->account_id ? acct : "";
    f[4] = en->role; f[5] = en->client_addr; f[6] = en->request_id;
    f[7] = en->action; f[8] = en->target_type; f[9] = en->target_id;
    f[10] = en->outcome; f[11] = en->reason; f[12] = en->details;
    f[13] = hex;
    for (i = 0; i < 14 && rc == ERR_OK; i++)
        rc = csv_field(buf, len, cap, f[i], i == 13, e);
    return rc;
}
