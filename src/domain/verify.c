/*
 * verify.c - owns the verification service (issue 7): the trust store
 * loaded once and reloaded when the anchors directory changes, the
 * seal-and-chain result cache, and the status enrichment for seals this
 * service issued.  Cache design and invariants: see include/domain/verify.h.
 * No HTTP and no SQL here (the store layer is called for seals and
 * history).
 */
#include "verify.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

#include "ses.h"
#include "sm2.h"
#include "util.h"
#include "store_seal.h"
#include "store_sign.h"

#define VERIFY_DIR_MAX 4096

struct cached {                     /* one shared, immutable result */
    struct ses_seal_result *res;
    int                     refs;   /* under the service mutex */
};

struct slot {
    uint8_t        key[SM3_DIGEST_LEN];
    uint64_t       gen;
    uint64_t       used;            /* LRU tick */
    struct cached *c;               /* NULL: free slot */
};

struct verify_service {
    char            dir[VERIFY_DIR_MAX];
    long            check_ms;
    size_t          cap;            /* slots in use, <= ENTRIES */
    pthread_mutex_t mu;
    X509_STORE     *store;          /* current anchors (may be NULL) */
    int             anchors;
    uint8_t         fp[SM3_DIGEST_LEN]; /* directory fingerprint */
    int             checked;        /* fp valid */
    int64_t         checked_ms;
    uint64_t        gen, tick;
    uint64_t        hits, misses, evictions;
    struct slot     slots[VERIFY_CACHE_ENTRIES];
};

/* Drop one reference (mutex held). */
static void
cached_put(struct cached *c)
{
    if (c != NULL && --c->refs == 0) {
        ses_seal_result_free(c->res);
        free(c);
    }
}

/* Empty every slot (mutex held). */
static void
cache_flush(struct verify_service *v)
{
    size_t i;

    for (i = 0; i < VERIFY_CACHE_ENTRIES; i++) {
        cached_put(v->slots[i].c);
        v->slots[i].c = NULL;
    }
}

/* Fingerprint of dir: the directory's own times plus, order-independent,
 * each entry's name, size, inode and modification time.  A missing
 * directory has its own fingerprint (all 0xff). */
static void
dir_fingerprint(const char *dir, uint8_t fp[SM3_DIGEST_LEN])
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    size_t i, files = 0;
    uint8_t h[SM3_DIGEST_LEN];

    memset(fp, 0, SM3_DIGEST_LEN);
    if (stat(dir, &st) != 0 || (d = opendir(dir)) == NULL) {
        memset(fp, 0xff, SM3_DIGEST_LEN);
        return;
    }
    while ((de = readdir(d)) != NULL && files < SES_MAX_TRUST_FILES * 4) {
        char path[VERIFY_DIR_MAX + 256], rec[VERIFY_DIR_MAX + 512];
        struct stat fs;
        int n;
        if (de->d_name[0] == '.')
            continue;
        files++;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name)
                >= sizeof(path) ||
            stat(path, &fs) != 0)
            memset(&fs, 0, sizeof(fs));
        n = snprintf(rec, sizeof(rec), "%s|%lld|%llu|%lld.%09ld", de->d_name,
                     (long long)fs.st_size, (unsigned long long)fs.st_ino,
                     (long long)fs.st_mtim.tv_sec, (long)fs.st_mtim.tv_nsec);
        if (n > 0 && (size_t)n < sizeof(rec) &&
            sm2_sm3(rec, (size_t)n, h, NULL) == ERR_OK)
            for (i = 0; i < SM3_DIGEST_LEN; i++)
                fp[i] ^= h[i];
    }
    closedir(d);
    {
        char rec[128];
        int n = snprintf(rec, sizeof(rec), "dir|%zu|%lld.%09ld", files,
                         (long long)st.st_mtim.tv_sec,
                         (long)st.st_mtim.tv_nsec);
        if (n > 0 && sm2_sm3(rec, (size_t)n, h, NULL) == ERR_OK)
            for (i = 0; i < SM3_DIGEST_LEN; i++)
                fp[i] ^= h[i];
    }
}

/* Re-check the anchors directory if due; on a change load the new store,
 * bump the generation and empty the cache.  Gives a reference to the
 * current store (*store, may be NULL; caller X509_STORE_free) and the
 * generation.  Takes the mutex. */
static void
trust_current(struct verify_service *v, X509_STORE **store, uint64_t *gen)
{
    int64_t now = util_mono_ms();
    uint8_t fp[SM3_DIGEST_LEN];

    pthread_mutex_lock(&v->mu);
    if (!v->checked || now - v->checked_ms >= v->check_ms) {
        dir_fingerprint(v->dir, fp);
        if (!v->checked || memcmp(fp, v->fp, sizeof(fp)) != 0) {
            X509_STORE *ns = NULL;
            int n = 0;
            /* Loading under the mutex: rare (anchor changes) and bounded
             * by SES_MAX_TRUST_FILES; callers meanwhile wait rather than
             * verify against stale anchors. */
            if (ses_trust_load(v->dir, NULL, &ns, &n, NULL) != ERR_OK)
                ns = NULL, n = 0;
            X509_STORE_free(v->store);
            v->store = ns;
            v->anchors = n;
            memcpy(v->fp, fp, sizeof(fp));
            v->gen++;
            cache_flush(v);
        }
        v->checked = 1;
        v->checked_ms = now;
    }
    *store = v->store;
    if (*store != NULL && !X509_STORE_up_ref(*store))
        *store = NULL;
    *gen = v->gen;
    pthread_mutex_unlock(&v->mu);
}

/* Contract: see verify.h. */
err_code
verify_service_new(const char *trust_dir, long check_ms, size_t entries,
                   struct verify_service **out, struct err *e)
{
    struct verify_service *v;

    *out = NULL;
    if (strlen(trust_dir) >= VERIFY_DIR_MAX)
        return err_set(e, ERR_CONFIG, "trust directory path too long");
    if ((v = calloc(1, sizeof(*v))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (pthread_mutex_init(&v->mu, NULL) != 0) {
        free(v);
        return err_set(e, ERR_NOMEM, "cannot create mutex");
    }
    memcpy(v->dir, trust_dir, strlen(trust_dir) + 1);
    v->check_ms = check_ms < 0 ? 0 : check_ms;
    v->cap = entries == 0 || entries > VERIFY_CACHE_ENTRIES
                 ? VERIFY_CACHE_ENTRIES : entries;
    *out = v;
    return ERR_OK;
}

/* Contract: see verify.h.  No call may be in flight. */
void
verify_service_free(struct verify_service *v)
{
    if (v == NULL)
        return;
    cache_flush(v);
    X509_STORE_free(v->store);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static struct verify_service *shared_svc;

/* Contract: see verify.h. */
err_code
verify_service_shared(const char *trust_dir, struct verify_service **out,
                      struct err *e)
{
    err_code rc = ERR_OK;

    pthread_mutex_lock(&shared_mu);
    if (shared_svc == NULL)
        rc = verify_service_new(trust_dir, VERIFY_TRUST_CHECK_MS, 0,
                                &shared_svc, e);
    else if (strcmp(shared_svc->dir, trust_dir) != 0)
        rc = err_set(e, ERR_INTERNAL, "verification service already set up "
                     "for another trust directory");
    *out = rc == ERR_OK ? shared_svc : NULL;
    pthread_mutex_unlock(&shared_mu);
    return rc;
}

/* Contract: see verify.h. */
void
verify_stats_get(struct verify_service *v, struct verify_stats *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&v->mu);
    out->hits = v->hits;
    out->misses = v->misses;
    out->evictions = v->evictions;
    out->generation = v->gen;
    out->anchors = v->anchors;
    for (i = 0; i < VERIFY_CACHE_ENTRIES; i++)
        if (v->slots[i].c != NULL)
            out->entries++;
    pthread_mutex_unlock(&v->mu);
}

/* Feed a length-prefixed field into the key material. */
static void
key_field(EVP_MD_CTX *md, const void *p, size_t len)
{
    uint8_t n[8];
    size_t i;

    for (i = 0; i < 8; i++)
        n[i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    EVP_DigestUpdate(md, n, sizeof(n));
    if (len > 0)
        EVP_DigestUpdate(md, p, len);
}

/* SM3 over everything the cached result depends on. */
static err_code
cache_key(const struct ses_signature *s, const char *id,
          uint8_t key[SM3_DIGEST_LEN], struct err *e)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    err_code rc = ERR_OK;

    if (md == NULL || !EVP_DigestInit_ex(md, EVP_sm3(), NULL)) {
        rc = err_set(e, ERR_CRYPTO, "SM3 unavailable");
        goto done;
    }
    key_field(md, s->seal.signed_part.p, s->seal.signed_part.len);
    key_field(md, s->seal.maker_cert.p, s->seal.maker_cert.len);
    key_field(md, s->seal.sig_alg, strlen(s->seal.sig_alg));
    key_field(md, s->seal.sig_value.p, s->seal.sig_value.len);
    key_field(md, s->signer_cert.p, s->signer_cert.len);
    key_field(md, id, strlen(id));
    if (!EVP_DigestFinal_ex(md, key, &n) || n != SM3_DIGEST_LEN)
        rc = err_set(e, ERR_CRYPTO, "SM3 failed");
done:
    EVP_MD_CTX_free(md);
    return rc;
}

/* Find key of generation gen; a reference to it, or NULL.  Takes the
 * mutex; counts the hit or miss. */
static struct cached *
cache_get(struct verify_service *v, const uint8_t *key, uint64_t gen)
{
    struct cached *c = NULL;
    size_t i;

    pthread_mutex_lock(&v->mu);
    for (i = 0; i < VERIFY_CACHE_ENTRIES; i++) {
        struct slot *sl = &v->slots[i];
        if (sl->c != NULL && sl->gen == gen &&
            memcmp(sl->key, key, SM3_DIGEST_LEN) == 0) {
            sl->used = ++v->tick;
            c = sl->c;
            c->refs++;
            break;
        }
    }
    if (c != NULL)
        v->hits++;
    else
        v->misses++;
    pthread_mutex_unlock(&v->mu);
    return c;
}

/* Put c (the caller keeps its own reference) under key, unless the
 * generation moved on meanwhile or another thread put the key first.
 * Evicts the least recently used entry when full.  Takes the mutex. */
static void
cache_put(struct verify_service *v, const uint8_t *key, uint64_t gen,
          struct cached *c)
{
    struct slot *victim = NULL;
    size_t i;

    pthread_mutex_lock(&v->mu);
    if (gen != v->gen)
        goto done;
    for (i = 0; i < v->cap; i++) {
        struct slot *sl = &v->slots[i];
        if (sl->c != NULL && sl->gen == gen &&
            memcmp(sl->key, key, SM3_DIGEST_LEN) == 0)
            goto done;
        if (sl->c == NULL) {
            if (victim == NULL || victim->c != NULL)
                victim = sl;
        } else if (victim == NULL ||
                   (victim->c != NULL && sl->used < victim->used)) {
            victim = sl;
        }
    }
    if (victim->c != NULL) {
        v->evictions++;
        cached_put(victim->c);
    }
    memcpy(victim->key, key, SM3_DIGEST_LEN);
    victim->gen = gen;
    victim->used = ++v->tick;
    victim->c = c;
    c->refs++;
done:
    pthread_mutex_unlock(&v->mu);
}

static void
cache_release(struct verify_service *v, struct cached *c)
{
    pthread_mutex_lock(&v->mu);
    cached_put(c);
    pthread_mutex_unlock(&v->mu);
}

/* ---- status enrichment --------------------------------------------------- */

struct state_walk {
    int64_t         at_ms;
    enum seal_state state;
};

static err_code
state_row(void *ctx, const struct store_history *h)
{
    struct state_walk *w = ctx;

    if (h->ts_ms <= w->at_ms)
        w->state = seal_state_parse(h->to_state);
    return ERR_OK;
}

/* Contract: see verify.h. */
err_code
verify_state_at(struct store_conn *db, const struct store_seal *s,
                int64_t at_ms, enum seal_state *out, struct err *e)
{
    struct state_walk w;
    err_code rc;

    memset(&w, 0, sizeof(w));
    w.at_ms = at_ms;
    w.state = s->made_ms <= at_ms ? SEAL_MADE : SEAL_NONE;
    rc = store_history_list(db, "seal", s->id, state_row, &w, e);
    if (rc == ERR_OK)
        *out = w.state;
    return rc;
}

static int
same_bytes(const struct ses_bytes *a, const struct ses_bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* The seal record for seal, if this service issued it: esID in the seals
 * table AND the stored seal file carries the same signed content and
 * signature.  *found: 0 unknown esID, 1 issued here, -1 esID known but the
 * seal differs. */
static err_code
own_seal(struct store_conn *db, const struct ses_seal *seal,
         struct store_seal *rec, int *found, struct err *e)
{
    uint8_t *der = NULL;
    size_t len = 0;
    struct ses_seal *stored = NULL;
    err_code rc;

    *found = 0;
    if (seal->es_id[0] == '\0' || strlen(seal->es_id) >= STORE_ESID_MAX)
        return ERR_OK;
    rc = store_seal_get(db, seal->es_id, rec, e);
    if (rc == ERR_NOT_FOUND)
        return ERR_OK;
    if (rc != ERR_OK)
        return rc;
    if ((rc = store_seal_blob(db, rec->id, "seal", &der, &len, e)) != ERR_OK)
        goto done;
    *found = -1;
    if (ses_seal_decode(der, len, &stored, NULL) == ERR_OK &&
        same_bytes(&stored->signed_part, &seal->signed_part) &&
        same_bytes(&stored->sig_value, &seal->sig_value))
        *found = 1;
done:
    ses_seal_free(stored);
    free(der);
    return rc;
}

static json_t *
time_ms_json(int64_t ms)
{
    char buf[21];

    util_time_rfc3339((time_t)(ms / 1000), buf);
    return json_string(buf);
}

/* Add "seald_status" to report for seals issued here; at_ms < 0: no
 * signing time (seal verification).  For a signature, a seal not active at
 * signing time fails the report. */
static err_code
enrich(struct store_conn *db, const struct ses_seal *seal, int64_t at_ms,
       json_t *report, struct err *e)
{
    struct store_seal rec;
    json_t *st, *checks = json_object_get(report, "checks");
    enum seal_state then = SEAL_NONE;
    const char *now_name, *then_name;
    char since[21], summary[256];
    int found;
    err_code rc;

    if (db == NULL)
        return ERR_OK;
    if ((rc = own_seal(db, seal, &rec, &found, e)) != ERR_OK)
        return rc;
    if (found == 0)
        return ERR_OK;
    if (found < 0) {
        json_object_set_new(report, "seald_status", json_pack(
            "{s:s, s:b, s:s}", "esid", seal->es_id, "matches_record", 0,
            "summary", "a seal with this esID was issued here, but this "
            "seal is not that seal"));
        return ERR_OK;
    }
    now_name = seal_state_name(rec.state);
    st = json_pack("{s:s, s:b, s:s, s:o, s:s?}", "esid", rec.esid,
                   "matches_record", 1, "state_now", now_name,
                   "state_since", time_ms_json(rec.state_since_ms),
                   "reason_code", rec.reason_code[0] ? rec.reason_code
                                                     : NULL);
    if (st == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    util_time_rfc3339((time_t)(rec.state_since_ms / 1000), since);
    if (at_ms < 0) {
        snprintf(summary, sizeof(summary), "%s since %s", now_name, since);
    } else {
        if ((rc = verify_state_at(db, &rec, at_ms, &then, e)) != ERR_OK) {
            json_decref(st);
            return rc;
        }
        then_name = seal_state_name(then);
        json_object_set_new(st, "signing_time", time_ms_json(at_ms));
        json_object_set_new(st, "state_at_signing",
                            then != SEAL_NONE ? json_string(then_name)
                                              : json_null());
        if (then == SEAL_NONE)
            snprintf(summary, sizeof(summary), "signed before the seal was "
                     "made; %s since %s", now_name, since);
        else if (then == rec.state)
            snprintf(summary, sizeof(summary), "signed while %s; still %s",
                     then_name, now_name);
        else
            snprintf(summary, sizeof(summary), "signed while %s, %s since %s",
                     then_name, now_name, since);
        if (then == SEAL_ACTIVE) {
            json_object_set_new(checks, "seal_status", json_pack(
                "{s:s, s:s}", "status", "passed", "reason",
                "seal was active at signing time"));
        } else {
            char why[64];
            snprintf(why, sizeof(why), "seal was %s at signing time",
                     then != SEAL_NONE ? then_name : "not yet made");
            json_object_set_new(checks, "seal_status", json_pack(
                "{s:s, s:s}", "status", "failed", "reason", why));
            if (ses_report_exit_code(report) != 1) {
                json_object_set_new(report, "indication",
                                    json_string("TOTAL_FAILED"));
                json_object_set_new(report, "sub_indication", json_string(
                    then == SEAL_REVOKED || then == SEAL_LOST
                        ? "REVOKED" : "SIG_CONSTRAINTS_FAILURE"));
            }
        }
    }
    json_object_set_new(st, "summary", json_string(summary));
    json_object_set_new(report, "seald_status", st);
    return ERR_OK;
}

/* For a signature this instance made (report has a matching seald_status),
 * say whether its value passed the token fault check before it was given
 * out: "verified", "sampled" (not checked: [signing] verify_token_every),
 * or "suspect" (not checked, and a later check on the seal failed). */
static err_code
enrich_token(struct store_conn *db, const struct ses_signature *sig,
             const uint8_t *der, size_t len, json_t *report, struct err *e)
{
    json_t *st = json_object_get(report, "seald_status");
    struct store_seal rec;
    struct store_sig row;
    const char *how;
    int found = 0;
    err_code rc;

    if (db == NULL || st == NULL ||
        !json_is_true(json_object_get(st, "matches_record")) ||
        sig->data_hash.len != 32)
        return ERR_OK;
    if ((rc = store_seal_get(db, sig->seal.es_id, &rec, e)) != ERR_OK ||
        (rc = store_sig_find(db, rec.id, sig->data_hash.p, der, len, &found,
                             &row, e)) != ERR_OK)
        return rc;
    if (!found) {
        json_object_set_new(st, "issued_here", json_false());
        return ERR_OK;
    }
    how = row.token_suspect ? "suspect" : row.token_checked ? "verified"
                                                            : "sampled";
    json_object_set_new(st, "issued_here", json_true());
    json_object_set_new(st, "token_check", json_string(how));
    if (row.token_suspect)
        json_object_set_new(st, "token_note", json_string(
            "this value was given out without the token fault check, and a "
            "later check on the same seal failed: the token may have "
            "produced it wrongly"));
    return ERR_OK;
}

/* ---- verification ------------------------------------------------------- */

/* The verification options for input in: the document, or its hash when
 * only the hash came, and the current trust anchors (*store: a reference
 * the caller frees with X509_STORE_free; *gen their generation). */
static void
verify_opts(struct verify_service *v, const struct verify_input *in,
            struct ses_verify_opts *o, X509_STORE **store, uint64_t *gen)
{
    memset(o, 0, sizeof(*o));
    o->data = in->doc;
    o->data_len = in->doc_len;
    if (in->doc == NULL) {
        o->hash = in->hash;
        o->hash_len = in->hash_len;
    }
    trust_current(v, store, gen);
    o->trust_store = *store;
}

/* A GB/T 35275 SignedData (a Type="Sign" SignedValue): no seal, so there
 * is no seal-and-chain work to cache and no seal status to add. */
static err_code
verify_signed_data(struct verify_service *v, const struct verify_input *in,
                   json_t **report, struct err *e)
{
    struct ses_signed_data *sd = NULL;
    struct ses_verify_opts o;
    X509_STORE *store = NULL;
    uint64_t gen;
    int64_t t0 = util_mono_ms();
    json_t *r = NULL;
    err_code rc;

    if ((rc = ses_signed_data_decode(in->der, in->der_len, &sd, e)) !=
        ERR_OK)
        goto done;
    verify_opts(v, in, &o, &store, &gen);
    if ((r = ses_verify_signed_data(sd, &o, e)) == NULL) {
        rc = e->code != ERR_OK ? e->code : ERR_NOMEM;
        goto done;
    }
    json_object_set_new(r, "cache", json_string("none"));
    json_object_set_new(r, "time_used_ms", json_integer(util_mono_ms() - t0));
    *report = r;
    r = NULL;
done:
    X509_STORE_free(store);
    json_decref(r);
    ses_signed_data_free(sd);
    return rc;
}

/* Contract: see verify.h. */
err_code
verify_signature(struct verify_service *v, struct store_conn *db,
                 const struct verify_input *in, json_t **report,
                 struct err *e)
{
    struct ses_signature *s = NULL;
    struct ses_verify_opts o;
    struct cached *c = NULL;
    X509_STORE *store = NULL;
    uint8_t key[SM3_DIGEST_LEN];
    uint64_t gen;
    int64_t t0 = util_mono_ms(), at_ms = -1;
    const char *hit = "hit";
    json_t *r = NULL;
    err_code rc;

    *report = NULL;
    if (ses_sniff(in->der, in->der_len) == SES_KIND_SIGNED_DATA)
        return verify_signed_data(v, in, report, e);
    if ((rc = ses_signature_decode(in->der, in->der_len, &s, e)) != ERR_OK)
        goto done;
    verify_opts(v, in, &o, &store, &gen);
    if ((rc = cache_key(s, SM2_DEFAULT_ID, key, e)) != ERR_OK)
        goto done;
    if ((c = cache_get(v, key, gen)) == NULL) {
        hit = "miss";
        if ((c = calloc(1, sizeof(*c))) == NULL) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto done;
        }
        c->refs = 1;
        if ((rc = ses_seal_result_new(s, &o, &c->res, e)) != ERR_OK) {
            free(c);
            c = NULL;
            goto done;
        }
        cache_put(v, key, gen, c);
    }
    if ((r = ses_verify_signature_pre(s, c->res, &o, e)) == NULL) {
        rc = e->code != ERR_OK ? e->code : ERR_NOMEM;
        goto done;
    }
    /* timeInfo has one-second resolution: the state in force at the end
     * of that second counts, so a change within the same second (the
     * confirmation just before, a revocation just after) is taken into
     * account, conservatively for revocations */
    if (s->time_info_ok)
        at_ms = (int64_t)s->time_info * 1000 + 999;
    if ((rc = enrich(db, &s->seal, at_ms, r, e)) != ERR_OK ||
        (rc = enrich_token(db, s, in->der, in->der_len, r, e)) != ERR_OK)
        goto done;
    json_object_set_new(r, "cache", json_string(hit));
    json_object_set_new(r, "time_used_ms", json_integer(util_mono_ms() - t0));
    *report = r;
    r = NULL;
done:
    if (c != NULL)
        cache_release(v, c);
    X509_STORE_free(store);
    json_decref(r);
    ses_signature_free(s);
    return rc;
}

/* Contract: see verify.h. */
err_code
verify_seal(struct verify_service *v, struct store_conn *db,
            const struct verify_input *in, json_t **report, struct err *e)
{
    struct ses_seal *s = NULL;
    struct ses_verify_opts o;
    X509_STORE *store = NULL;
    uint64_t gen;
    int64_t t0 = util_mono_ms();
    json_t *r = NULL;
    err_code rc;

    *report = NULL;
    if ((rc = ses_seal_decode(in->der, in->der_len, &s, e)) != ERR_OK)
        goto done;
    memset(&o, 0, sizeof(o));
    trust_current(v, &store, &gen);
    o.trust_store = store;
    if ((r = ses_verify_seal(s, &o, e)) == NULL) {
        rc = e->code != ERR_OK ? e->code : ERR_NOMEM;
        goto done;
    }
    if ((rc = enrich(db, s, -1, r, e)) != ERR_OK)
        goto done;
    json_object_set_new(r, "time_used_ms", json_integer(util_mono_ms() - t0));
    *report = r;
    r = NULL;
done:
    X509_STORE_free(store);
    json_decref(r);
    ses_seal_free(s);
    return rc;
}
