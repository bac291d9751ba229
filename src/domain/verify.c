/*
 * verify.c - owns the verification service (issue 7): the trust store
 * loaded once and reloaded when the anchors directory changes, the
 * seal-and-chain result cache, and a seal's status in every report
 * (verify_status_apply: the facts from a status source, then one rule
 * table; issue 17).  Cache design and invariants: see
 * include/domain/verify.h.
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
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

#include "ses.h"
#include "sm2.h"
#include "util.h"
#include "store_seal.h"
#include "store_sign.h"
#include "ofd.h"
#include "statuslist.h"
#include "revocation.h"
#include "tsa.h"

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

/* A revocation set shared by the verifications using it. */
struct rev_holder {
    struct rev_set *set;
    int             refs;           /* under the service mutex */
};

struct verify_service {
    char            dir[VERIFY_DIR_MAX];
    struct rev_holder *rev;         /* current sidecars (may be NULL) */
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

/* Drop one reference to a revocation set (mutex held). */
static void
rev_put_locked(struct rev_holder *h)
{
    if (h != NULL && --h->refs == 0) {
        rev_set_free(h->set);
        free(h);
    }
}

/* Load the sidecars of v's directory as the current revocation set
 * (mutex held); on failure the service has none (certificate status "not
 * checked"), as with unreadable anchors. */
static void
rev_reload(struct verify_service *v)
{
    struct rev_holder *h = calloc(1, sizeof(*h));

    if (h != NULL && rev_set_load(v->dir, &h->set, NULL) != ERR_OK) {
        free(h);
        h = NULL;
    }
    if (h != NULL)
        h->refs = 1;
    rev_put_locked(v->rev);
    v->rev = h;
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
            rev_reload(v);
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
    rev_put_locked(v->rev);
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

/* ---- seal status (issue 17 items 5 and 6) ------------------------------ */

#define STATUS_NEAR_MS (86400LL * 1000)  /* usage record search window     */

/* A state a seal cannot be used in until a decision: its signatures made
 * afterwards are not the holder's act. */
static int
off_state(enum seal_state s)
{
    return s == SEAL_SUSPENDED || s == SEAL_LOST || s == SEAL_REVOKED;
}

struct state_walk {
    int64_t         at_ms;
    enum seal_state state;      /* in force at at_ms                     */
    int64_t         left_ms;    /* first move to an off state after at_ms;
                                   -1: none                              */
};

static err_code
state_row(void *ctx, const struct store_history *h)
{
    struct state_walk *w = ctx;
    enum seal_state to = seal_state_parse(h->to_state);

    if (h->ts_ms <= w->at_ms)
        w->state = to;
    else if (off_state(to) && (w->left_ms < 0 || h->ts_ms < w->left_ms))
        w->left_ms = h->ts_ms;
    return ERR_OK;
}

/* The walk of seal s's history at at_ms (state_walk). */
static err_code
state_walk(struct store_conn *db, const struct store_seal *s, int64_t at_ms,
           struct state_walk *w, struct err *e)
{
    memset(w, 0, sizeof(*w));
    w->at_ms = at_ms;
    w->left_ms = -1;
    w->state = s->made_ms <= at_ms ? SEAL_MADE : SEAL_NONE;
    return store_history_list(db, "seal", s->id, state_row, w, e);
}

/* Contract: see verify.h. */
err_code
verify_state_at(struct store_conn *db, const struct store_seal *s,
                int64_t at_ms, enum seal_state *out, struct err *e)
{
    struct state_walk w;
    err_code rc;

    if ((rc = state_walk(db, s, at_ms, &w, e)) == ERR_OK)
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

/* What a status source says about one seal (and the signature carrying
 * it).  Times in ms; -1: none. */
struct facts {
    const char     *source;     /* "database" | "status_list"           */
    const char     *esid;
    enum seal_state now;
    int64_t         since_ms;
    char            reason[32];
    int64_t         claimed_ms; /* TBS_Sign.timeInfo (end of its second) */
    int64_t         best_ms;    /* when the state "then" is taken        */
    const char     *basis;      /* "usage_record" | "tbs_time_info" |
                                   "current_time"                        */
    enum seal_state then;
    int64_t         left_ms;    /* left the active state after best_ms   */
    int             poe;        /* best_ms is seald's usage record       */
    struct store_sig row;       /* that record (poe)                     */
    int64_t         ts_ms;      /* a verified timestamp's genTime        */
};

/* f->ts_ms from the report: the genTime of a timestamp the format library
 * verified (checks.timestamp passed: imprint, TSA signature and chain to
 * the TSA anchors), a proof that the signature existed then; -1 when
 * there is none.  genTime is read to the second, and the token was made
 * within that second: its end is taken, so that a change of state in the
 * same second counts against the signature, as for timeInfo. */
static void
facts_timestamp(const json_t *report, struct facts *f)
{
    const json_t *c = json_object_get(json_object_get(report, "checks"),
                                      "timestamp");
    const char *st = json_string_value(json_object_get(c, "status"));
    const char *gt = json_string_value(json_object_get(c, "gen_time"));
    struct tm tm;

    f->ts_ms = -1;
    memset(&tm, 0, sizeof(tm));
    if (st != NULL && strcmp(st, "passed") == 0 && gt != NULL &&
        strptime(gt, "%Y-%m-%dT%H:%M:%SZ", &tm) != NULL)
        f->ts_ms = (int64_t)timegm(&tm) * 1000 + 999;
}

/* Is a verified timestamp the proof of existence before the seal left the
 * active state (item 6)? */
static int
timestamp_poe(const struct facts *f)
{
    return !f->poe && f->ts_ms >= 0 && f->left_ms >= 0 &&
           f->ts_ms < f->left_ms;
}

/* The time basis of sig: seald's usage record when found (f->poe), else
 * its claimed timeInfo, else now. */
static void
facts_times(struct facts *f, const struct ses_signature *sig)
{
    f->claimed_ms = sig->time_info_ok
                        ? (int64_t)sig->time_info * 1000 + 999 : -1;
    if (f->poe) {
        f->best_ms = f->row.ts_ms;
        f->basis = "usage_record";
    } else if (f->ts_ms >= 0 &&
               (f->claimed_ms < 0 || f->ts_ms <= f->claimed_ms)) {
        /* the signature existed at genTime: a claim after it is no better */
        f->best_ms = f->ts_ms;
        f->basis = "timestamp";
    } else if (f->claimed_ms >= 0) {
        /* timeInfo has one-second resolution: the state in force at the
         * end of that second counts, so a change within the same second
         * (a revocation just after) is taken into account */
        f->best_ms = f->claimed_ms;
        f->basis = "tbs_time_info";
    } else {
        f->best_ms = util_now_ms();
        f->basis = "current_time";
    }
}

/* Facts from this instance's database: *found as own_seal's. */
static err_code
facts_db(struct store_conn *db, const struct ses_seal *seal,
         const struct ses_signature *sig, const uint8_t *der, size_t len,
         struct store_seal *rec, struct facts *f, int *found, struct err *e)
{
    struct state_walk w;
    int hit = 0;
    err_code rc;

    if ((rc = own_seal(db, seal, rec, found, e)) != ERR_OK || *found != 1)
        return rc;
    f->source = "database";
    f->esid = rec->esid;
    f->now = rec->state;
    f->since_ms = rec->state_since_ms;
    snprintf(f->reason, sizeof(f->reason), "%s", rec->reason_code);
    if (sig == NULL)
        return ERR_OK;
    if (der != NULL && sig->data_hash.len == 32 &&
        (rc = store_sig_find(db, rec->id, sig->data_hash.p, der, len, &hit,
                             &f->row, e)) != ERR_OK)
        return rc;
    /* an OFD signature's dataHash is its Signature.xml's SM3, not the
     * stored document's: look for the value near its claimed time */
    if (!hit && der != NULL && sig->time_info_ok &&
        (rc = store_sig_find_near(db, rec->id,
                                  (int64_t)sig->time_info * 1000 -
                                      STATUS_NEAR_MS,
                                  (int64_t)sig->time_info * 1000 +
                                      STATUS_NEAR_MS,
                                  der, len, &hit, &f->row, e)) != ERR_OK)
        return rc;
    f->poe = hit;
    facts_times(f, sig);
    if ((rc = state_walk(db, rec, f->best_ms, &w, e)) != ERR_OK)
        return rc;
    f->then = w.state;
    f->left_ms = w.left_ms;
    return ERR_OK;
}

/* Facts from the verified status list parts, if one answers for seal
 * (its signer is the seal's maker and it covers the seal; of several, the
 * latest this_update): *found 1, else 0; 2 when parts of the maker were
 * given but none covers the seal (statuslist_covers: its esID is outside
 * their ranges, or the seal expired before a part's expired_before and
 * was dropped).  The list gives the state now and since when; before that
 * the seal counts as active (the seal's own validity period is checked by
 * the format library). */
static void
facts_list(const struct verify_status *st, const struct ses_seal *seal,
           const struct ses_signature *sig, struct facts *f, int *found)
{
    struct ses_bytes signer;
    const json_t *ent, *list = NULL;
    const char *since, *best_this = NULL;
    struct tm tm;
    int64_t since_ms = -1;
    size_t i;

    *found = 0;
    for (i = 0; i < st->n_lists; i++) {
        const struct verify_list_part *p = &st->lists[i];
        const char *tu;
        signer.p = p->signer;
        signer.len = p->signer_len;
        if (p->list == NULL || signer.p == NULL ||
            !same_bytes(&signer, &seal->maker_cert))
            continue;
        *found = 2;
        if (!statuslist_covers((json_t *)p->list, seal->es_id,
                               seal->valid_end))
            continue;
        tu = json_string_value(json_object_get(p->list, "this_update"));
        if (list == NULL || (tu != NULL && (best_this == NULL ||
                                            strcmp(tu, best_this) > 0))) {
            list = p->list;
            best_this = tu;
        }
    }
    if (list == NULL)
        return;
    *found = 1;
    f->source = "status_list";
    f->esid = seal->es_id;
    ent = statuslist_find((json_t *)list, seal->es_id);
    f->now = ent ? seal_state_parse(json_string_value(
                       json_object_get(ent, "state")))
                 : SEAL_ACTIVE;
    memset(&tm, 0, sizeof(tm));
    if (ent != NULL &&
        (since = json_string_value(json_object_get(ent, "since"))) != NULL &&
        strptime(since, "%Y-%m-%dT%H:%M:%SZ", &tm) != NULL)
        since_ms = (int64_t)timegm(&tm) * 1000;
    f->since_ms = since_ms;
    if (ent != NULL)
        snprintf(f->reason, sizeof(f->reason), "crl_reason_%lld",
                 (long long)json_integer_value(json_object_get(ent,
                                                               "reason")));
    if (sig == NULL)
        return;
    facts_times(f, sig);
    if (ent != NULL && since_ms >= 0 && since_ms <= f->best_ms) {
        f->then = f->now;
    } else {
        f->then = SEAL_ACTIVE;
        if (ent != NULL && off_state(f->now))
            f->left_ms = since_ms >= 0 ? since_ms : f->best_ms + 1;
    }
}

/* Lower the report's indication to ind / sub, never raise it: a failure
 * stays a failure, an indeterminate result keeps its own sub-indication
 * unless ind is a failure. */
static void
indication_lower(json_t *report, const char *ind, const char *sub)
{
    int now = ses_report_exit_code(report);   /* 0 passed 1 failed 2 ind */
    int want = strcmp(ind, "TOTAL_FAILED") == 0 ? 1 : 2;

    if (now == 1 || (now == 2 && want == 2))
        return;
    json_object_set_new(report, "indication", json_string(ind));
    json_object_set_new(report, "sub_indication", json_string(sub));
}

/* checks.seal_status of report. */
static void
status_check(json_t *report, const char *status, const char *reason)
{
    json_t *checks = json_object_get(report, "checks");

    if (checks != NULL)
        json_object_set_new(checks, "seal_status", json_pack(
            "{s:s, s:s}", "status", status, "reason", reason));
}

static const char *
state_text(enum seal_state s)
{
    return s != SEAL_NONE ? seal_state_name(s) : "not yet made";
}

/* The rules of verify.h on facts f; st (the "seald_status" object) gets
 * the summary. */
static void
status_conclude(const struct facts *f, const struct ses_signature *sig,
                json_t *report, json_t *st)
{
    const char *now = state_text(f->now);
    char since[21] = "", at[21], left[21], why[320], summary[320];

    if (f->since_ms >= 0)
        util_time_rfc3339((time_t)(f->since_ms / 1000), since);
    if (sig == NULL) {
        snprintf(summary, sizeof(summary), "%s since %s", now,
                 since[0] ? since : "(unknown)");
        if (f->now == SEAL_ACTIVE) {
            status_check(report, "passed", summary);
        } else if (f->now == SEAL_REVOKED) {
            status_check(report, "failed", summary);
            indication_lower(report, "TOTAL_FAILED", "REVOKED");
        } else if (f->now == SEAL_EXPIRED) {
            status_check(report, "failed", summary);
            indication_lower(report, "TOTAL_FAILED", "EXPIRED");
        } else {
            /* suspended, lost (挂失), not yet confirmed: not usable now,
             * and may yet be reinstated or revoked */
            status_check(report, "indeterminate", summary);
            indication_lower(report, "INDETERMINATE", "TRY_LATER");
        }
        json_object_set_new(st, "summary", json_string(summary));
        return;
    }
    util_time_rfc3339((time_t)(f->best_ms / 1000), at);
    if (f->then == SEAL_NONE)
        snprintf(summary, sizeof(summary), "signed before the seal was "
                 "made; %s since %s", now, since);
    else if (f->then == f->now)
        snprintf(summary, sizeof(summary), "signed while %s; still %s",
                 state_text(f->then), now);
    else
        snprintf(summary, sizeof(summary), "signed while %s, %s since %s",
                 state_text(f->then), now, since[0] ? since : "(unknown)");
    json_object_set_new(st, "summary", json_string(summary));
    if (f->then != SEAL_ACTIVE) {
        snprintf(why, sizeof(why), "seal was %s at signing time (%s, %s)",
                 state_text(f->then), at, f->basis);
        status_check(report, "failed", why);
        indication_lower(report, "TOTAL_FAILED", off_state(f->then)
                         ? "REVOKED" : "SIG_CONSTRAINTS_FAILURE");
        return;
    }
    if (!off_state(f->now) || f->left_ms < 0) {
        status_check(report, "passed", "seal was active at signing time");
        return;
    }
    util_time_rfc3339((time_t)(f->left_ms / 1000), left);
    if (f->poe) {
        snprintf(why, sizeof(why), "seal was active when this instance "
                 "recorded the signature at %s (usage record: proof of "
                 "existence); %s since %s", at, now, since);
        status_check(report, "passed", why);
        return;
    }
    if (timestamp_poe(f)) {
        char gt[21];
        util_time_rfc3339((time_t)(f->ts_ms / 1000), gt);
        snprintf(why, sizeof(why), "a verified timestamp (genTime %s) "
                 "proves the signature existed before the seal left the "
                 "active state at %s; %s since %s", gt, left, now, since);
        status_check(report, "passed", why);
        return;
    }
    snprintf(why, sizeof(why), "seal %s since %s; the signature claims %s "
             "(%s), a claim, not a proof that it existed before %s",
             now, since, at, f->basis, left);
    status_check(report, "indeterminate", why);
    indication_lower(report, "INDETERMINATE", "REVOKED_NO_POE");
}

/* "seald_status" for facts f (new reference). */
static json_t *
status_json(const struct facts *f, const struct ses_signature *sig)
{
    json_t *st = json_pack("{s:s, s:b, s:s, s:s, s:s?}", "esid", f->esid,
                           "matches_record", 1, "source", f->source,
                           "state_now", state_text(f->now), "reason_code",
                           f->reason[0] ? f->reason : NULL);

    if (st == NULL)
        return NULL;
    json_object_set_new(st, "state_since", f->since_ms >= 0
                        ? time_ms_json(f->since_ms) : json_null());
    if (sig == NULL)
        return st;
    json_object_set_new(st, "signing_time", f->claimed_ms >= 0
                        ? time_ms_json(f->claimed_ms) : json_null());
    json_object_set_new(st, "time_basis", json_string(f->basis));
    json_object_set_new(st, "state_at_signing", f->then != SEAL_NONE
                        ? json_string(seal_state_name(f->then))
                        : json_null());
    json_object_set_new(st, "left_active_at", f->left_ms >= 0
                        ? time_ms_json(f->left_ms) : json_null());
    json_object_set_new(st, "proof_of_existence", f->poe
                        ? json_pack("{s:s, s:o, s:I}", "kind",
                                    "usage_record", "time",
                                    time_ms_json(f->row.ts_ms),
                                    "signature_id", (json_int_t)f->row.id)
                        : f->ts_ms >= 0
                        ? json_pack("{s:s, s:o}", "kind", "timestamp",
                                    "time", time_ms_json(f->ts_ms))
                        : json_null());
    if (strcmp(f->source, "database") == 0) {
        json_object_set_new(st, "issued_here", json_boolean(f->poe));
        if (f->poe) {
            json_object_set_new(st, "token_check", json_string(
                f->row.token_suspect ? "suspect" : f->row.token_checked
                ? "verified" : "sampled"));
            if (f->row.token_suspect)
                json_object_set_new(st, "token_note", json_string(
                    "this value was given out without the token fault "
                    "check, and a later check on the same seal failed: the "
                    "token may have produced it wrongly"));
        }
    }
    return st;
}

/* A foreign issuer's status list (issue 17 item 5): when a trust
 * anchor's sidecar pins seal's maker certificate as its status signer, the
 * facts from that list (*found 1, *held the list, caller decrefs); the
 * list unavailable: *found -1 and why; no such anchor: *found 0. */
static void
facts_issuer(const struct verify_status *vs, const struct ses_seal *seal,
             const struct ses_signature *sig, struct facts *f, int *found,
             json_t **held, char *anchor, char why[320])
{
    struct verify_status ls;
    struct verify_list_part part;
    enum rev_state r;

    *found = 0;
    r = rev_issuer_list(vs->rev, vs->anchors, seal->maker_cert.p,
                        seal->maker_cert.len, util_now_ms(), held, anchor,
                        why);
    if (r == REV_NO_SOURCE)
        return;
    if (r != REV_GOOD) {
        *found = -1;
        return;
    }
    memset(&ls, 0, sizeof(ls));
    part.list = *held;
    part.signer = seal->maker_cert.p;
    part.signer_len = seal->maker_cert.len;
    ls.lists = &part;
    ls.n_lists = 1;
    facts_list(&ls, seal, sig, f, found);
    f->source = "issuer_status_list";
}

/* The seal's status (verify_status_apply's first half, verify.h). */
static err_code
seal_status_apply(const struct verify_status *vs,
                  const struct ses_seal *seal,
                  const struct ses_signature *sig, const uint8_t *der,
                  size_t len, json_t *report, struct err *e)
{
    struct store_seal rec;
    struct facts f;
    json_t *st, *held = NULL;
    char anchor[256] = "", why[320] = "";
    int found = 0;
    err_code rc;

    memset(&f, 0, sizeof(f));
    f.claimed_ms = f.best_ms = f.left_ms = f.since_ms = -1;
    if (sig != NULL)
        facts_timestamp(report, &f);
    else
        f.ts_ms = -1;
    if (vs != NULL && vs->db != NULL) {
        if ((rc = facts_db(vs->db, seal, sig, der, len, &rec, &f, &found,
                           e)) != ERR_OK)
            return rc;
        if (found < 0) {
            json_object_set_new(report, "seald_status", json_pack(
                "{s:s, s:b, s:s}", "esid", seal->es_id, "matches_record", 0,
                "summary", "a seal with this esID was issued here, but "
                "this seal is not that seal"));
            status_check(report, "failed", "this instance issued another "
                         "seal under this esID");
            indication_lower(report, "TOTAL_FAILED",
                             "SIG_CONSTRAINTS_FAILURE");
            return ERR_OK;
        }
    }
    if (found == 0 && vs != NULL && vs->n_lists > 0)
        facts_list(vs, seal, sig, &f, &found);
    if (found == 2) {
        status_check(report, "not_checked", "status not checked: the "
                     "status list given does not cover this seal (no part "
                     "of its maker holds its esID in its range, or the seal "
                     "expired before the part's expired_before)");
        indication_lower(report, "INDETERMINATE", "TRY_LATER");
        return ERR_OK;
    }
    if (found == 0 && vs != NULL && vs->rev != NULL)
        facts_issuer(vs, seal, sig, &f, &found, &held, anchor, why);
    if (found < 0) {
        status_check(report, "indeterminate", why);
        indication_lower(report, "INDETERMINATE", "TRY_LATER");
        return ERR_OK;
    }
    if (found == 0) {
        status_check(report, "not_checked", vs == NULL ||
                     (vs->db == NULL && vs->n_lists == 0)
                     ? "status not checked: no status source (seald "
                       "verify-file / verify-ofd: --instance DIR or "
                       "--status-list FILE)"
                     : "status not checked: no status source for this "
                       "seal's issuer");
        indication_lower(report, "INDETERMINATE", "TRY_LATER");
        return ERR_OK;
    }
    if ((st = status_json(&f, sig)) == NULL) {
        json_decref(held);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    if (anchor[0] != '\0')
        json_object_set_new(st, "issuer_anchor", json_string(anchor));
    status_conclude(&f, sig, report, st);
    json_object_set_new(report, "seald_status", st);
    json_decref(held);
    return ERR_OK;
}

/* Contract: see verify.h. */
err_code
verify_status_apply(const struct verify_status *vs,
                    const struct ses_seal *seal,
                    const struct ses_signature *sig, const uint8_t *der,
                    size_t len, json_t *report, struct err *e)
{
    err_code rc = seal_status_apply(vs, seal, sig, der, len, report, e);

    if (rc == ERR_OK)
        verify_cert_status_apply(vs, seal, sig, report);
    return rc;
}

/* ---- certificate status (issue 17 item 7) ------------------------------- */

/* The proof of existence the seal status put in report
 * (seald_status.proof_of_existence.time, whole seconds), or -1. */
static int64_t
report_poe_ms(const json_t *report)
{
    const char *t = json_string_value(json_object_get(json_object_get(
        json_object_get(report, "seald_status"), "proof_of_existence"),
        "time"));
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || strptime(t, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
        return -1;
    return (int64_t)timegm(&tm) * 1000;
}

/* Outcome of one certificate, worst last. */
enum cert_outcome { CO_NOT_CHECKED, CO_PASSED, CO_NO_POE, CO_TRY_LATER,
                    CO_FAILED };

static const char *const co_status[] = {"not_checked", "passed",
                                        "indeterminate", "indeterminate",
                                        "failed"};

/* One certificate's entry of checks.certificate_status (into *out, new
 * reference) and its outcome; why (capacity 320) says it in words. */
static enum cert_outcome
cert_one(const struct verify_status *vs, const char *role,
         const struct ses_bytes *der, int alone, int64_t best_ms, int poe,
         json_t **out, char why[320])
{
    struct rev_answer a;
    struct err e;
    char t1[21], t2[21];
    enum cert_outcome co;
    json_t *j;

    err_clear(&e);
    if (rev_cert_status(vs->rev, der->p, der->len, util_now_ms(), &a, &e) !=
        ERR_OK) {
        snprintf(why, 320, "%s certificate: %s", role, e.msg);
        *out = json_pack("{s:s, s:s}", "status", "not_checked", "reason",
                         e.msg);
        return CO_NOT_CHECKED;
    }
    j = json_pack("{s:s, s:s?, s:s?, s:s?}", "issuer", a.issuer, "anchor",
                  a.anchor[0] ? a.anchor : NULL, "source",
                  a.source[0] ? a.source : NULL, "source_type",
                  a.source[0] ? a.kind : NULL);
    if (j != NULL && a.next_update_ms > 0) {
        json_object_set_new(j, "this_update", time_ms_json(a.this_update_ms));
        json_object_set_new(j, "next_update", time_ms_json(a.next_update_ms));
    }
    util_time_rfc3339((time_t)(a.revoked_ms / 1000), t1);
    util_time_rfc3339((time_t)(best_ms / 1000), t2);
    switch (a.state) {
    case REV_NO_SOURCE:
        co = CO_NOT_CHECKED;
        snprintf(why, 320, "%s certificate: no revocation source for its CA "
                 "(%.200s)", role, a.issuer);
        break;
    case REV_GOOD:
        co = CO_PASSED;
        snprintf(why, 320, "%s certificate not revoked", role);
        break;
    case REV_UNAVAILABLE:
        co = CO_TRY_LATER;
        snprintf(why, 320, "%s certificate: revocation data unavailable: "
                 "%.250s", role, a.why);
        break;
    case REV_HOLD:
        co = CO_TRY_LATER;
        snprintf(why, 320, "%s certificate on hold since %s", role, t1);
        break;
    default:
        if (alone || a.revoked_ms <= best_ms) {
            co = CO_FAILED;
            snprintf(why, 320, alone ? "%s certificate revoked since %s (%s)"
                     : "%s certificate revoked since %s (%s), before the "
                     "signing time", role, t1, rev_reason_name(a.reason));
        } else if (poe) {
            co = CO_PASSED;
            snprintf(why, 320, "%s certificate revoked since %s (%s), after "
                     "the signature's proof of existence at %s", role, t1,
                     rev_reason_name(a.reason), t2);
        } else {
            co = CO_NO_POE;
            snprintf(why, 320, "%s certificate revoked since %s (%s); the "
                     "signature claims %s, a claim, not a proof that it "
                     "existed before", role, t1, rev_reason_name(a.reason),
                     t2);
        }
    }
    if (j != NULL && (a.state == REV_REVOKED || a.state == REV_HOLD)) {
        json_object_set_new(j, "revoked_at", time_ms_json(a.revoked_ms));
        json_object_set_new(j, "revocation_reason", json_string(
            rev_reason_name(a.reason)));
    }
    if (j != NULL) {
        json_object_set_new(j, "status", json_string(co_status[co]));
        json_object_set_new(j, "reason", json_string(why));
    }
    *out = j;
    return co;
}

/* Contract: see verify.h. */
void
verify_cert_status_apply(const struct verify_status *vs,
                         const struct ses_seal *seal,
                         const struct ses_signature *sig, json_t *report)
{
    const char *roles[2];
    const struct ses_bytes *ders[2];
    json_t *checks = json_object_get(report, "checks"), *c, *one;
    int64_t poe = report_poe_ms(report), best;
    enum cert_outcome worst = CO_NOT_CHECKED, co;
    char why[320], reason[320] = "";
    size_t n = 0, i;

    if (checks == NULL || vs == NULL || vs->rev == NULL ||
        (c = json_object()) == NULL)
        return;
    if (sig != NULL) {
        roles[n] = "signer";
        ders[n++] = &sig->signer_cert;
    } else if (seal->cert_list_type == 1 && seal->n_certs > 0) {
        roles[n] = "holder";
        ders[n++] = &seal->certs[0].der;
    }
    roles[n] = "maker";
    ders[n++] = &seal->maker_cert;
    best = poe >= 0 ? poe
         : sig != NULL && sig->time_info_ok ? (int64_t)sig->time_info * 1000
                                              + 999
         : util_now_ms();
    for (i = 0; i < n; i++) {
        if (ders[i]->len == 0)
            continue;
        co = cert_one(vs, roles[i], ders[i], sig == NULL, best, poe >= 0,
                      &one, why);
        if (one != NULL)
            json_object_set_new(c, roles[i], one);
        if (co > worst || (co == worst && reason[0] == '\0')) {
            worst = co;
            snprintf(reason, sizeof(reason), "%s", why);
        }
    }
    json_object_set_new(c, "status", json_string(co_status[worst]));
    json_object_set_new(c, "reason", json_string(reason));
    json_object_set_new(checks, "certificate_status", c);
    if (worst == CO_FAILED)
        indication_lower(report, "TOTAL_FAILED", "REVOKED");
    else if (worst == CO_NO_POE)
        indication_lower(report, "INDETERMINATE", "REVOKED_NO_POE");
    else if (worst == CO_TRY_LATER)
        indication_lower(report, "INDETERMINATE", "TRY_LATER");
}

/* A reference to v's current revocation set (NULL: none; rev_release). */
static struct rev_holder *
rev_get(struct verify_service *v)
{
    struct rev_holder *h;

    pthread_mutex_lock(&v->mu);
    if ((h = v->rev) != NULL)
        h->refs++;
    pthread_mutex_unlock(&v->mu);
    return h;
}

static void
rev_release(struct verify_service *v, struct rev_holder *h)
{
    pthread_mutex_lock(&v->mu);
    rev_put_locked(h);
    pthread_mutex_unlock(&v->mu);
}

/* The caller's status source st (may be NULL) with the service's
 * revocation set h and anchors store added, in *out. */
static const struct verify_status *
status_with_rev(const struct verify_status *st, struct rev_holder *h,
                X509_STORE *store, struct verify_status *out)
{
    if (st != NULL)
        *out = *st;
    else
        memset(out, 0, sizeof(*out));
    out->rev = h != NULL ? h->set : NULL;
    out->anchors = store;
    return out;
}

/* Contract: see verify.h. */
err_code
verify_cert_not_revoked(struct verify_service *v, const uint8_t *cert,
                        size_t len, struct err *e)
{
    struct rev_holder *h;
    struct rev_answer a;
    X509_STORE *store = NULL;
    uint64_t gen;
    char t[21];
    err_code rc;

    trust_current(v, &store, &gen);
    X509_STORE_free(store);
    h = rev_get(v);
    rc = rev_cert_status(h != NULL ? h->set : NULL, cert, len, util_now_ms(),
                         &a, e);
    rev_release(v, h);
    if (rc != ERR_OK)
        return rc;
    util_time_rfc3339((time_t)(a.revoked_ms / 1000), t);
    switch (a.state) {
    case REV_REVOKED:
    case REV_HOLD:
        return err_set(e, ERR_INVALID, "certificate %s by its CA (%s of %s, "
                       "%s) since %s, reason %s", a.state == REV_HOLD
                       ? "on hold" : "revoked", a.kind != NULL &&
                       strcmp(a.kind, "ocsp") == 0 ? "OCSP" : "CRL",
                       a.issuer, a.source, t, rev_reason_name(a.reason));
    case REV_UNAVAILABLE:
        return err_set(e, ERR_UNAVAILABLE, "revocation data of the "
                       "certificate's CA unavailable: %s", a.why);
    default:
        return ERR_OK;
    }
}

/* The OFD status callback: ctx is the struct verify_status. */
static err_code
ofd_status(void *ctx, const struct ses_signature *s, const uint8_t *der,
           size_t len, json_t *ses_report, struct err *e)
{
    return verify_status_apply(ctx, &s->seal, s, der, len, ses_report, e);
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
    o->signer_id = in->signer_id;
    if (in->doc == NULL) {
        o->hash = in->hash;
        o->hash_len = in->hash_len;
    }
    trust_current(v, store, gen);
    o->trust_store = *store;
    o->tsa_store = tsa_anchors_ref(NULL);
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

    memset(&o, 0, sizeof(o));
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
    X509_STORE_free(o.tsa_store);
    json_decref(r);
    ses_signed_data_free(sd);
    return rc;
}

/* When pictures: the picture of seal s into report's "seal" object
 * (type, size, width and height in mm, the bytes in base64).  Only memory
 * can fail. */
static err_code
seal_picture(const struct ses_seal *s, int pictures, json_t *report,
             struct err *e)
{
    json_t *seal = json_object_get(report, "seal");
    char *b64 = NULL;
    json_t *o;

    if (!pictures || !json_is_object(seal))
        return ERR_OK;
    if (util_b64_encode(s->picture.p, s->picture.len, &b64, e) != ERR_OK)
        return e->code;
    /* the type is the file's text: not UTF-8, it is reported as null */
    o = json_pack("{s:o?, s:I, s:I, s:I, s:s}", "type",
                  json_string(s->picture_type), "size", (json_int_t)s->picture.len, "width_mm",
                  (json_int_t)s->picture_width, "height_mm",
                  (json_int_t)s->picture_height, "data_base64", b64);
    free(b64);
    if (o == NULL || json_object_set_new(seal, "picture", o) != 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    return ERR_OK;
}

/* Contract: see verify.h. */
err_code
verify_signature(struct verify_service *v, const struct verify_status *st,
                 const struct verify_input *in, json_t **report,
                 struct err *e)
{
    struct ses_signature *s = NULL;
    struct ses_verify_opts o;
    struct cached *c = NULL;
    X509_STORE *store = NULL;
    uint8_t key[SM3_DIGEST_LEN];
    uint64_t gen;
    int64_t t0 = util_mono_ms();
    const char *hit = "hit";
    struct verify_status vs;
    struct rev_holder *rh = NULL;
    json_t *r = NULL;
    err_code rc;

    *report = NULL;
    if (ses_sniff(in->der, in->der_len) == SES_KIND_SIGNED_DATA)
        return verify_signed_data(v, in, report, e);
    memset(&o, 0, sizeof(o));
    if ((rc = ses_signature_decode(in->der, in->der_len, &s, e)) != ERR_OK)
        goto done;
    verify_opts(v, in, &o, &store, &gen);
    if ((rc = cache_key(s, in->signer_id ? in->signer_id : SM2_DEFAULT_ID,
                        key, e)) != ERR_OK)
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
    rh = rev_get(v);
    if ((rc = verify_status_apply(status_with_rev(st, rh, store, &vs),
                                  &s->seal, s, in->der, in->der_len, r, e))
        != ERR_OK ||
        (rc = seal_picture(&s->seal, in->pictures, r, e)) != ERR_OK)
        goto done;
    json_object_set_new(r, "cache", json_string(hit));
    json_object_set_new(r, "time_used_ms", json_integer(util_mono_ms() - t0));
    *report = r;
    r = NULL;
done:
    if (c != NULL)
        cache_release(v, c);
    if (rh != NULL)
        rev_release(v, rh);
    X509_STORE_free(store);
    X509_STORE_free(o.tsa_store);
    json_decref(r);
    ses_signature_free(s);
    return rc;
}

/* Contract: see verify.h. */
err_code
verify_seal(struct verify_service *v, const struct verify_status *st,
            const struct verify_input *in, json_t **report, struct err *e)
{
    struct ses_seal *s = NULL;
    struct ses_verify_opts o;
    X509_STORE *store = NULL;
    struct verify_status vs;
    struct rev_holder *rh = NULL;
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
    o.signer_id = in->signer_id;
    if ((r = ses_verify_seal(s, &o, e)) == NULL) {
        rc = e->code != ERR_OK ? e->code : ERR_NOMEM;
        goto done;
    }
    rh = rev_get(v);
    if ((rc = verify_status_apply(status_with_rev(st, rh, store, &vs), s,
                                  NULL, NULL, 0, r, e)) != ERR_OK ||
        (rc = seal_picture(s, in->pictures, r, e)) != ERR_OK)
        goto done;
    json_object_set_new(r, "time_used_ms", json_integer(util_mono_ms() - t0));
    *report = r;
    r = NULL;
done:
    if (rh != NULL)
        rev_release(v, rh);
    X509_STORE_free(store);
    json_decref(r);
    ses_seal_free(s);
    return rc;
}

/* Contract: see verify.h. */
err_code
verify_ofd(struct verify_service *v, const struct verify_status *st,
           const struct verify_input *in, int pictures, size_t max_inflated,
           json_t **report, struct err *e)
{
    struct ofd_verify_opts o;
    X509_STORE *store = NULL;
    struct verify_status vs;
    struct rev_holder *rh;
    uint64_t gen;
    err_code rc;

    *report = NULL;
    memset(&o, 0, sizeof(o));
    trust_current(v, &store, &gen);
    o.trust_store = store;
    o.include_picture = pictures;
    o.max_inflated = max_inflated;
    o.status = ofd_status;
    rh = rev_get(v);
    o.status_ctx = (void *)status_with_rev(st, rh, store, &vs);
    o.tsa_store = tsa_anchors_ref(NULL);
    rc = ofd_verify(in->der, in->der_len, &o, report, e);
    X509_STORE_free(o.tsa_store);
    if (rh != NULL)
        rev_release(v, rh);
    X509_STORE_free(store);
    return rc;
}
