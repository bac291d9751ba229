/*
 * blobcrypt.c - encryption at rest (blobcrypt.h): the blob format, its
 * seal and open (SM4-CTR + HMAC-SM3, encrypt-then-MAC), the process-wide
 * ring of unwrapped data keys, and the administration of data keys (make,
 * re-wrap, encrypt old rows, re-encrypt, report).  Why this construction,
 * the wrap through the token and the caching trade-off: docs/design.md
 * "Encryption at rest".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "audit.h"
#include "blobcrypt.h"
#include "config.h"
#include "log.h"
#include "custody.h"
#include "store.h"
#include "store_datakey.h"
#include "store_seal.h"
#include "sm2.h"
#include "util.h"

/* 0x89 keeps the magic out of text, CR LF and ^Z catch line-ending and
 * truncating transfers (as PNG's do), the last byte is the version. */
static const uint8_t blob_magic[BLOB_MAGIC_LEN] = {
    0x89, 'S', 'D', 'B', 0x0D, 0x0A, 0x1A, 0x01
};

#define BLOB_ENC_LEN 16         /* SM4 key */
#define BLOB_MAC_LEN 32         /* HMAC-SM3 key */
#define BLOB_IV_LEN  16

/* The AAD's column names: what the ciphertext is bound to besides its
 * owner and hash.  Index: enum blob_kind (and enum store_blob_kind). */
static const char *const blob_columns[BLOB__COUNT] = {
    [BLOB_MATERIAL] = "application_materials.data",
    [BLOB_IMAGE] = "applications.image",
    [BLOB_DOCUMENT] = "sign_documents.data",
    [BLOB_SEALED] = "sealed_ofds.data",
};
_Static_assert((int)BLOB__COUNT == (int)STORE_BLOB__COUNT,
               "blob_kind and store_blob_kind list the same columns");

struct blob_key {
    atomic_int refs;
    uint32_t   id;
    uint8_t    enc[BLOB_ENC_LEN];
    uint8_t    mac[BLOB_MAC_LEN];
};

/* ---- primitives ---- */

/* The algorithms, fetched once: a fetch per blob cost more than sealing a
 * small one.  Kept for the process's life. */
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_MAC *alg_hmac;
static EVP_CIPHER *alg_sm4_ctr;

static void
algs_fetch(void)
{
    alg_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    alg_sm4_ctr = EVP_CIPHER_fetch(NULL, "SM4-CTR", NULL);
}

/* HMAC-SM3 of the parts (p[i], n[i]) under key into out[32]. */
static err_code
hmac_sm3(const uint8_t *key, size_t key_len, const uint8_t *const *p,
         const size_t *n, size_t parts, uint8_t out[32], struct err *e)
{
    EVP_MAC_CTX *ctx;
    OSSL_PARAM params[2];
    size_t outl = 0, i;
    err_code rc = ERR_OK;

    pthread_once(&algs_once, algs_fetch);
    ctx = alg_hmac ? EVP_MAC_CTX_new(alg_hmac) : NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SM3", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_MAC_init(ctx, key, key_len, params) != 1)
        rc = err_set(e, ERR_CRYPTO, "HMAC-SM3 unavailable");
    for (i = 0; rc == ERR_OK && i < parts; i++)
        if (n[i] > 0 && EVP_MAC_update(ctx, p[i], n[i]) != 1)
            rc = err_set(e, ERR_CRYPTO, "HMAC-SM3 failed");
    if (rc == ERR_OK && (EVP_MAC_final(ctx, out, &outl, 32) != 1 ||
                         outl != 32))
        rc = err_set(e, ERR_CRYPTO, "HMAC-SM3 failed");
    EVP_MAC_CTX_free(ctx);
    return rc;
}

/* SM4-CTR of in[0..n) into out (the same length) from iv. */
static err_code
sm4_ctr(const uint8_t key[BLOB_ENC_LEN], const uint8_t iv[BLOB_IV_LEN],
        const uint8_t *in, size_t n, uint8_t *out, struct err *e)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    err_code rc = ERR_OK;
    int outl = 0, fl = 0;
    size_t done = 0;

    pthread_once(&algs_once, algs_fetch);
    if (alg_sm4_ctr == NULL || ctx == NULL ||
        EVP_EncryptInit_ex2(ctx, alg_sm4_ctr, key, iv, NULL) != 1)
        rc = err_set(e, ERR_CRYPTO, "SM4-CTR unavailable");
    /* EVP takes int lengths: whole blobs go in 1 GiB steps */
    while (rc == ERR_OK && done < n) {
        size_t step = n - done > (1u << 30) ? (1u << 30) : n - done;
        if (EVP_EncryptUpdate(ctx, out + done, &outl, in + done,
                              (int)step) != 1 || (size_t)outl != step)
            rc = err_set(e, ERR_CRYPTO, "SM4-CTR failed");
        done += step;
    }
    if (rc == ERR_OK && EVP_EncryptFinal_ex(ctx, out + done, &fl) != 1)
        rc = err_set(e, ERR_CRYPTO, "SM4-CTR failed");
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void
put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

/* The AAD of r: column name, NUL, owner (8 bytes), SM3 (32) into out;
 * its length. */
#define BLOB_AAD_MAX 96
static size_t
blob_aad(const struct blob_ref *r, uint8_t out[BLOB_AAD_MAX])
{
    const char *col = blob_columns[r->kind];
    size_t n = strlen(col) + 1;

    memcpy(out, col, n);
    put_u64(out + n, (uint64_t)r->owner);
    memcpy(out + n + 8, r->sm3, 32);
    return n + 8 + 32;
}

/* The tag of header h (BLOB_HEADER_LEN) || len(aad) || aad || ct. */
static err_code
blob_tag(const struct blob_key *k, const struct blob_ref *r,
         const uint8_t *h, const uint8_t *ct, size_t n, uint8_t tag[32],
         struct err *e)
{
    uint8_t aad[BLOB_AAD_MAX], alen[8];
    size_t an = blob_aad(r, aad);
    const uint8_t *p[4] = {h, alen, aad, ct};
    size_t len[4] = {BLOB_HEADER_LEN, sizeof(alen), an, n};

    put_u64(alen, an);
    return hmac_sm3(k->mac, sizeof(k->mac), p, len, 4, tag, e);
}

static err_code
check_ref(const struct blob_ref *r, struct err *e)
{
    if (r == NULL || (unsigned)r->kind >= BLOB__COUNT || r->sm3 == NULL)
        return err_set(e, ERR_INTERNAL, "blob without its row");
    return ERR_OK;
}

/* ---- working keys ---- */

err_code
blob_key_from(uint32_t id, const uint8_t dk[BLOB_DATA_KEY_LEN],
              struct blob_key **out, struct err *e)
{
    /* HKDF-Expand(SM3, PRK = dk, info, L <= 32): T(1) = HMAC(PRK, info ||
     * 0x01).  dk is already uniformly random, so no Extract step. */
    static const char enc_info[] = "seald blob v1 encryption\x01";
    static const char mac_info[] = "seald blob v1 authentication\x01";
    const uint8_t *p[1];
    size_t n[1];
    uint8_t t[32];
    struct blob_key *k = util_secret_alloc(sizeof(*k));
    err_code rc;

    *out = NULL;
    if (k == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    atomic_init(&k->refs, 1);
    k->id = id;
    p[0] = (const uint8_t *)enc_info;
    n[0] = sizeof(enc_info) - 1;
    if ((rc = hmac_sm3(dk, BLOB_DATA_KEY_LEN, p, n, 1, t, e)) != ERR_OK)
        goto fail;
    memcpy(k->enc, t, sizeof(k->enc));
    p[0] = (const uint8_t *)mac_info;
    n[0] = sizeof(mac_info) - 1;
    if ((rc = hmac_sm3(dk, BLOB_DATA_KEY_LEN, p, n, 1, k->mac, e)) != ERR_OK)
        goto fail;
    util_wipe(t, sizeof(t));
    *out = k;
    return ERR_OK;
fail:
    util_wipe(t, sizeof(t));
    util_secret_free(k);
    return rc;
}

void
blob_key_put(struct blob_key *k)
{
    if (k != NULL && atomic_fetch_sub(&k->refs, 1) == 1)
        util_secret_free(k);            /* wipes */
}

static struct blob_key *
blob_key_ref(struct blob_key *k)
{
    atomic_fetch_add(&k->refs, 1);
    return k;
}

uint32_t
blob_key_id(const struct blob_key *k)
{
    return k->id;
}

/* ---- seal and open ---- */

err_code
blob_seal(const struct blob_key *k, const struct blob_ref *r,
          const uint8_t *pt, size_t n, uint8_t **out, size_t *out_len,
          struct err *e)
{
    uint8_t *b;
    err_code rc;

    *out = NULL;
    *out_len = 0;
    if ((rc = check_ref(r, e)) != ERR_OK)
        return rc;
    if (n > SIZE_MAX - BLOB_OVERHEAD || (b = malloc(n + BLOB_OVERHEAD)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(b, blob_magic, BLOB_MAGIC_LEN);
    put_u32(b + BLOB_MAGIC_LEN, k->id);
    /* a random 128-bit initial counter per blob: two blobs under one key
     * share keystream only if their counter ranges meet, which at 2^-128
     * per block pair is never */
    if ((rc = util_random(b + BLOB_MAGIC_LEN + 4, BLOB_IV_LEN, e)) != ERR_OK ||
        (rc = sm4_ctr(k->enc, b + BLOB_MAGIC_LEN + 4, pt, n,
                      b + BLOB_HEADER_LEN, e)) != ERR_OK ||
        (rc = blob_tag(k, r, b, b + BLOB_HEADER_LEN, n,
                       b + BLOB_HEADER_LEN + n, e)) != ERR_OK) {
        free(b);
        return rc;
    }
    *out = b;
    *out_len = n + BLOB_OVERHEAD;
    return ERR_OK;
}

int
blob_is_sealed(const uint8_t *p, size_t n, uint32_t *key_id)
{
    if (p == NULL || n < BLOB_OVERHEAD ||
        memcmp(p, blob_magic, BLOB_MAGIC_LEN) != 0)
        return 0;
    if (key_id != NULL)
        *key_id = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
                  (uint32_t)p[10] << 8 | p[11];
    return 1;
}

err_code
blob_open_with(const struct blob_key *k, const struct blob_ref *r,
               const uint8_t *ct, size_t n, uint8_t **pt, size_t *pt_len,
               struct err *e)
{
    uint8_t tag[32];
    uint32_t id;
    size_t m;
    uint8_t *out;
    err_code rc;

    *pt = NULL;
    *pt_len = 0;
    if ((rc = check_ref(r, e)) != ERR_OK)
        return rc;
    if (!blob_is_sealed(ct, n, &id))
        return err_set(e, ERR_MALFORMED, "not a sealed blob");
    if (id != k->id)
        return err_set(e, ERR_CRYPTO, "blob sealed under data key %u, not "
                       "%u", (unsigned)id, (unsigned)k->id);
    m = n - BLOB_OVERHEAD;
    if ((rc = blob_tag(k, r, ct, ct + BLOB_HEADER_LEN, m, tag, e)) != ERR_OK)
        return rc;
    /* verify before decrypting anything: nothing of a forged blob is
     * ever released */
    if (CRYPTO_memcmp(tag, ct + BLOB_HEADER_LEN + m, sizeof(tag)) != 0)
        return err_set(e, ERR_CRYPTO, "%s of row %lld: the stored blob does "
                       "not authenticate (altered, or moved from another "
                       "row)", blob_columns[r->kind], (long long)r->owner);
    if ((out = malloc(m ? m : 1)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = sm4_ctr(k->enc, ct + BLOB_MAGIC_LEN + 4, ct + BLOB_HEADER_LEN,
                      m, out, e)) != ERR_OK) {
        free(out);
        return rc;
    }
    *pt = out;
    *pt_len = m;
    return ERR_OK;
}

/* ---- the key ring ---- */

#define RING_MAX 64

struct ring_entry {
    int64_t          id;
    char             key_ref[STORE_DATA_KEY_REF_MAX];
    uint8_t          wrapped[STORE_DATA_KEY_WRAP_MAX];
    size_t           wrapped_len;
    int              active;
    int              plaintext_refused;
    struct blob_key *k;             /* NULL: not unwrapped (or dropped) */
    int64_t          unwrapped_ms;
};

static struct {
    pthread_mutex_t   mu;
    int               on;
    struct custody   *custody;
    struct store     *store;
    int64_t           cache_ms;
    int64_t           loaded_ms;    /* 0: never */
    int               refuse_plaintext; /* some row's plaintext_refused */
    size_t            n;
    struct ring_entry e[RING_MAX];
} ring = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void
ring_drop_keys(int64_t now, int all)
{
    for (size_t i = 0; i < ring.n; i++)
        if (ring.e[i].k != NULL &&
            (all || now - ring.e[i].unwrapped_ms >= ring.cache_ms)) {
            blob_key_put(ring.e[i].k);
            ring.e[i].k = NULL;
        }
}

struct ring_load {
    struct ring_entry e[RING_MAX];
    size_t            n;
};

static err_code
ring_collect(void *ctx, const struct store_data_key *k, struct err *e)
{
    struct ring_load *l = ctx;
    struct ring_entry *r;

    if (l->n == RING_MAX)
        return err_set(e, ERR_INTERNAL, "more than %d data keys", RING_MAX);
    r = &l->e[l->n++];
    memset(r, 0, sizeof(*r));
    r->id = k->id;
    snprintf(r->key_ref, sizeof(r->key_ref), "%s", k->key_ref);
    memcpy(r->wrapped, k->wrapped, k->wrapped_len);
    r->wrapped_len = k->wrapped_len;
    r->active = k->active;
    r->plaintext_refused = k->plaintext_refused;
    return ERR_OK;
}

/* Re-read data_keys (called with ring.mu held), keeping the unwrapped
 * keys of rows whose wrap did not change. */
static err_code
ring_load(int64_t now, struct err *e)
{
    struct ring_load *l = calloc(1, sizeof(*l));
    struct store_conn *c;
    err_code rc;

    if (l == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = store_conn_get(ring.store, &c, e)) != ERR_OK ||
        (rc = store_data_key_list(c, ring_collect, l, e)) != ERR_OK) {
        free(l);
        return rc;
    }
    for (size_t i = 0; i < l->n; i++)
        for (size_t j = 0; j < ring.n; j++)
            if (ring.e[j].id == l->e[i].id && ring.e[j].k != NULL &&
                ring.e[j].wrapped_len == l->e[i].wrapped_len &&
                memcmp(ring.e[j].wrapped, l->e[i].wrapped,
                       l->e[i].wrapped_len) == 0) {
                l->e[i].k = ring.e[j].k;
                l->e[i].unwrapped_ms = ring.e[j].unwrapped_ms;
                ring.e[j].k = NULL;
            }
    ring_drop_keys(now, 1);
    memcpy(ring.e, l->e, sizeof(l->e[0]) * l->n);
    ring.n = l->n;
    ring.refuse_plaintext = 0;
    for (size_t i = 0; i < l->n; i++)
        ring.refuse_plaintext |= l->e[i].plaintext_refused;
    ring.loaded_ms = now;
    free(l);
    return ERR_OK;
}

/* Unwrap entry r through custody into a working key (a token operation). */
static err_code
unwrap_entry(struct custody *cu, const struct ring_entry *r,
             struct blob_key **out, struct err *e)
{
    char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    uint8_t *dk = util_secret_alloc(BLOB_DATA_KEY_LEN + 64);
    size_t n = 0;
    err_code rc;

    if (dk == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = config_keyref(r->key_ref, tok, id, e)) == ERR_OK &&
        (rc = custody_unwrap(cu, tok, id, r->wrapped, r->wrapped_len, dk,
                             BLOB_DATA_KEY_LEN + 64, &n, e)) == ERR_OK) {
        if (n != BLOB_DATA_KEY_LEN)
            rc = err_set(e, ERR_CRYPTO, "data key %lld unwraps to %zu "
                         "bytes", (long long)r->id, n);
        else if (r->id <= 0 || r->id > UINT32_MAX)
            rc = err_set(e, ERR_INTERNAL, "data key id %lld",
                         (long long)r->id);
        else
            rc = blob_key_from((uint32_t)r->id, dk, out, e);
    }
    if (rc != ERR_OK)
        err_wrap(e, rc, "data key %lld", (long long)r->id);
    util_secret_free(dk);
    return rc;
}

/* The entry of data key id (-1: the active one with the highest id) to
 * *at; 0 if none.  Called with ring.mu held. */
static int
ring_find(int64_t id, size_t *at)
{
    for (size_t i = ring.n; i-- > 0;)
        if (id < 0 ? ring.e[i].active : ring.e[i].id == id) {
            *at = i;
            return 1;
        }
    return 0;
}

/* The working key of data key id (-1: the active one).  The token is
 * asked without ring.mu held, so a slow token stalls no other blob whose
 * key is kept. */
static err_code
ring_get(int64_t id, struct blob_key **out, struct err *e)
{
    struct ring_entry r;
    struct custody *cu;
    int64_t now = util_now_ms();
    size_t i = 0;
    int found = 0, loaded = 0;
    err_code rc = ERR_OK;

    *out = NULL;
    pthread_mutex_lock(&ring.mu);
    if (!ring.on) {
        pthread_mutex_unlock(&ring.mu);
        return err_set(e, ERR_UNAVAILABLE, "encryption at rest is not "
                       "started");
    }
    ring_drop_keys(now, 0);
    /* the list is re-read when it is older than the cache time (so a
     * rotation reaches every node), and once more when id is not in it */
    if ((ring.loaded_ms == 0 || now - ring.loaded_ms >= ring.cache_ms) &&
        (rc = ring_load(now, e)) == ERR_OK)
        loaded = 1;
    while (rc == ERR_OK) {
        found = ring_find(id, &i);
        if (found || loaded)
            break;
        if ((rc = ring_load(now, e)) == ERR_OK)
            loaded = 1;
    }
    if (rc == ERR_OK && !found)
        rc = id < 0 ? err_set(e, ERR_UNAVAILABLE, "no active data key: "
                              "run seald data-key rotate")
                    : err_set(e, ERR_CRYPTO, "blob names data key %lld, "
                              "which this instance does not have",
                              (long long)id);
    if (rc != ERR_OK) {
        pthread_mutex_unlock(&ring.mu);
        return rc;
    }
    if (ring.e[i].k != NULL) {
        *out = blob_key_ref(ring.e[i].k);
        pthread_mutex_unlock(&ring.mu);
        return ERR_OK;
    }
    r = ring.e[i];
    cu = ring.custody;
    pthread_mutex_unlock(&ring.mu);

    if ((rc = unwrap_entry(cu, &r, out, e)) != ERR_OK)
        return rc;
    if (ring.cache_ms > 0) {
        pthread_mutex_lock(&ring.mu);
        for (i = 0; i < ring.n; i++)
            if (ring.e[i].id == r.id && ring.e[i].k == NULL &&
                ring.e[i].wrapped_len == r.wrapped_len &&
                memcmp(ring.e[i].wrapped, r.wrapped, r.wrapped_len) == 0) {
                ring.e[i].k = blob_key_ref(*out);
                ring.e[i].unwrapped_ms = now;
                break;
            }
        pthread_mutex_unlock(&ring.mu);
    }
    return ERR_OK;
}

err_code
blobcrypt_start(struct custody *c, struct store *s, long cache_seconds,
                struct err *e)
{
    if (c == NULL || s == NULL || cache_seconds < 0)
        return err_set(e, ERR_INTERNAL, "blobcrypt_start: bad arguments");
    pthread_mutex_lock(&ring.mu);
    ring_drop_keys(0, 1);
    ring.n = 0;
    ring.loaded_ms = 0;
    ring.custody = c;
    ring.store = s;
    ring.cache_ms = (int64_t)cache_seconds * 1000;
    ring.on = 1;
    pthread_mutex_unlock(&ring.mu);
    return ERR_OK;
}

void
blobcrypt_stop(void)
{
    pthread_mutex_lock(&ring.mu);
    ring_drop_keys(0, 1);
    util_wipe(ring.e, sizeof(ring.e));
    ring.n = 0;
    ring.on = 0;
    ring.custody = NULL;
    ring.store = NULL;
    pthread_mutex_unlock(&ring.mu);
}

void
blobcrypt_sweep(void)
{
    pthread_mutex_lock(&ring.mu);
    if (ring.on)
        ring_drop_keys(util_now_ms(), 0);
    pthread_mutex_unlock(&ring.mu);
}

/* ERR_OK when an unsealed blob may be read as it is; ERR_CRYPTO when the
 * instance refuses them; ERR_UNAVAILABLE without a ring. */
static err_code
ring_plaintext_refused(struct err *e)
{
    int64_t now = util_now_ms();
    err_code rc = ERR_OK;

    pthread_mutex_lock(&ring.mu);
    if (!ring.on)
        rc = err_set(e, ERR_UNAVAILABLE, "encryption at rest is not "
                     "started");
    else if (ring.loaded_ms == 0 || now - ring.loaded_ms >= ring.cache_ms)
        rc = ring_load(now, e);
    if (rc == ERR_OK && ring.refuse_plaintext)
        rc = err_set(e, ERR_CRYPTO, "a stored blob is not sealed, and this "
                     "instance has sealed all its blobs (written into the "
                     "database?)");
    pthread_mutex_unlock(&ring.mu);
    return rc;
}

err_code
blob_active_key(struct blob_key **out, struct err *e)
{
    return ring_get(-1, out, e);
}

err_code
blob_open(const struct blob_ref *r, const uint8_t *stored, size_t n,
          uint8_t **pt, size_t *pt_len, struct err *e)
{
    struct blob_key *k = NULL;
    uint32_t id;
    err_code rc;

    *pt = NULL;
    *pt_len = 0;
    if (!blob_is_sealed(stored, n, &id)) {
        /* a row from before migration 018, read as it is until `seald
         * data-key encrypt` has sealed them all (or on an instance that
         * never had one): then refused */
        if ((rc = ring_plaintext_refused(e)) != ERR_OK) {
            if (rc == ERR_CRYPTO)
                log_event(LOG_ERROR, "blob_unreadable", "column=%s "
                          "owner=%lld msg=%s", blob_columns[r->kind],
                          (long long)r->owner, e->msg);
            return rc;
        }
        if ((*pt = malloc(n ? n : 1)) == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        if (n > 0)
            memcpy(*pt, stored, n);
        *pt_len = n;
        return ERR_OK;
    }
    if ((rc = ring_get((int64_t)id, &k, e)) != ERR_OK)
        return rc;
    rc = blob_open_with(k, r, stored, n, pt, pt_len, e);
    blob_key_put(k);
    /* a blob that does not authenticate is an integrity failure of the
     * database (or of a restore): the operator must hear of it */
    if (rc == ERR_CRYPTO || rc == ERR_MALFORMED)
        log_event(LOG_ERROR, "blob_unreadable", "column=%s owner=%lld "
                  "data_key=%lld msg=%s", blob_columns[r->kind],
                  (long long)r->owner, (long long)id, e->msg);
    return rc;
}

err_code
blob_open_in_place(const struct blob_ref *r, uint8_t **buf, size_t *len,
                   struct err *e)
{
    uint8_t *pt = NULL;
    size_t n = 0;
    err_code rc = blob_open(r, *buf, *len, &pt, &n, e);

    free(*buf);
    *buf = pt;
    *len = n;
    return rc;
}

/* ---- administration ---- */

static err_code key_create(struct store *s, struct custody *c,
                           const char *wrap_ref, int refuse, int64_t *id,
                           struct err *e);

err_code
blobcrypt_create_key(struct store *s, struct custody *c, const char *wrap_ref,
                     int64_t *id, struct err *e)
{
    return key_create(s, c, wrap_ref, 0, id, e);
}

static const struct audit_actor operator_actor = {
    .role = "operator", .client_addr = "local"
};

struct create_work {
    const char    *wrap_ref;
    const uint8_t *wrapped;
    size_t         wrapped_len;
    int            refuse_plaintext;
    int64_t        id;
};

static err_code
create_work(struct store_conn *c, void *ctx, struct err *e)
{
    struct create_work *w = ctx;
    struct audit_event ev = {"data_key.create", "data_key", NULL, AUDIT_OK,
                             NULL, NULL};
    char target[24];
    int64_t retired = 0;
    json_t *details;
    err_code rc;

    if ((rc = store_data_key_insert(c, w->wrap_ref, w->wrapped,
                                    w->wrapped_len, util_now_ms(), &w->id,
                                    e)) != ERR_OK ||
        (rc = store_data_key_retire_others(c, w->id, util_now_ms(),
                                           &retired, e)) != ERR_OK ||
        (w->refuse_plaintext &&
         (rc = store_data_key_refuse_plaintext(c, e)) != ERR_OK))
        return rc;
    snprintf(target, sizeof(target), "%lld", (long long)w->id);
    ev.target_id = target;
    if ((details = json_pack("{s:s, s:I, s:b}", "wrap_key", w->wrap_ref,
                             "retired", (json_int_t)retired,
                             "plaintext_refused", w->refuse_plaintext))
        == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    ev.details = details;
    rc = audit_append(c, &operator_actor, &ev, e);
    json_decref(details);
    return rc;
}

/* blobcrypt_create_key, with refuse 1 also refusing unsealed blobs from
 * now on, in the same transaction. */
static err_code
key_create(struct store *s, struct custody *c, const char *wrap_ref,
           int refuse, int64_t *id, struct err *e)
{
    char tok[CUSTODY_NAME_MAX], kid[CUSTODY_ID_HEX_MAX];
    uint8_t *dk = util_secret_alloc(BLOB_DATA_KEY_LEN);
    struct create_work w = {wrap_ref, NULL, 0, refuse, 0};
    uint8_t *wrapped = NULL;
    struct store_conn *conn;
    err_code rc;

    if (dk == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    /* the token's wrap is checked by unwrapping it at once: a key that the
     * token cannot give back is never recorded */
    if ((rc = config_keyref(wrap_ref, tok, kid, e)) != ERR_OK ||
        (rc = util_random(dk, BLOB_DATA_KEY_LEN, e)) != ERR_OK ||
        (rc = custody_wrap(c, tok, kid, dk, BLOB_DATA_KEY_LEN, &wrapped,
                           &w.wrapped_len, e)) != ERR_OK)
        goto done;
    if (w.wrapped_len > STORE_DATA_KEY_WRAP_MAX) {
        rc = err_set(e, ERR_CRYPTO, "wrapped data key of %zu bytes",
                     w.wrapped_len);
        goto done;
    }
    {
        uint8_t back[BLOB_DATA_KEY_LEN + 64];
        size_t n = 0;
        rc = custody_unwrap(c, tok, kid, wrapped, w.wrapped_len, back,
                            sizeof(back), &n, e);
        if (rc == ERR_OK && (n != BLOB_DATA_KEY_LEN ||
                             CRYPTO_memcmp(back, dk, n) != 0))
            rc = err_set(e, ERR_CRYPTO, "token %s does not give back the "
                         "data key it wrapped", tok);
        util_wipe(back, sizeof(back));
        if (rc != ERR_OK)
            goto done;
    }
    w.wrapped = wrapped;
    if ((rc = store_conn_get(s, &conn, e)) != ERR_OK ||
        (rc = store_run(conn, create_work, &w, e)) != ERR_OK)
        goto done;
    *id = w.id;
done:
    free(wrapped);
    util_secret_free(dk);
    return rc;
}

err_code
blobcrypt_new_wrap_key(struct custody *c, const char *token, char *ref,
                       size_t cap, struct err *e)
{
    char id[CUSTODY_ID_HEX_MAX];
    err_code rc = custody_generate_decrypt_key(c, token, "data-key-wrap", id,
                                               e);

    if (rc == ERR_OK &&
        (size_t)snprintf(ref, cap, "%s/%s", token, id) >= cap)
        rc = err_set(e, ERR_INTERNAL, "wrap key reference too long");
    return rc;
}

struct newest {
    char ref[STORE_DATA_KEY_REF_MAX];
    int  found;
};

static err_code
newest_fn(void *ctx, const struct store_data_key *k, struct err *e)
{
    struct newest *n = ctx;

    (void)e;
    snprintf(n->ref, sizeof(n->ref), "%s", k->key_ref);
    n->found = 1;
    return ERR_OK;
}

err_code
blobcrypt_current_wrap(struct store *s, char *ref, size_t cap, struct err *e)
{
    struct newest n = {{0}, 0};
    struct store_conn *c;
    err_code rc;

    if ((rc = store_conn_get(s, &c, e)) != ERR_OK ||
        (rc = store_data_key_list(c, newest_fn, &n, e)) != ERR_OK)
        return rc;
    if (!n.found)
        return err_set(e, ERR_NOT_FOUND, "this instance has no data key");
    snprintf(ref, cap, "%s", n.ref);
    return ERR_OK;
}

/* The rewrap: every key read, each not under the new wrap key re-wrapped
 * in memory (token operations, before the transaction), then all written
 * in one transaction with its audit entry. */
struct rewrap_work {
    struct ring_load *l;
    uint8_t         **wrapped;      /* [l->n]: new wraps, NULL: unchanged */
    size_t           *len;
    const char       *wrap_ref;
    int64_t           n;
};

static err_code
rewrap_work(struct store_conn *c, void *ctx, struct err *e)
{
    struct rewrap_work *w = ctx;
    struct audit_event ev = {"data_key.rewrap", "data_key", "all", AUDIT_OK,
                             NULL, NULL};
    json_t *details;
    err_code rc;

    for (size_t i = 0; i < w->l->n; i++)
        if (w->wrapped[i] != NULL &&
            (rc = store_data_key_rewrap(c, w->l->e[i].id, w->wrap_ref,
                                        w->wrapped[i], w->len[i], e))
            != ERR_OK)
            return rc;
    if ((details = json_pack("{s:s, s:I}", "wrap_key", w->wrap_ref,
                             "rewrapped", (json_int_t)w->n)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    ev.details = details;
    rc = audit_append(c, &operator_actor, &ev, e);
    json_decref(details);
    return rc;
}

err_code
blobcrypt_rewrap(struct store *s, struct custody *c, const char *wrap_ref,
                 int64_t *n, struct err *e)
{
    struct ring_load *l = calloc(1, sizeof(*l));
    uint8_t *wrapped[RING_MAX] = {0};
    size_t len[RING_MAX] = {0};
    struct rewrap_work w = {l, wrapped, len, wrap_ref, 0};
    char tok[CUSTODY_NAME_MAX], kid[CUSTODY_ID_HEX_MAX];
    uint8_t *dk = util_secret_alloc(BLOB_DATA_KEY_LEN + 64);
    struct store_conn *conn;
    err_code rc;

    *n = 0;
    if (l == NULL || dk == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = config_keyref(wrap_ref, tok, kid, e)) != ERR_OK ||
        (rc = store_conn_get(s, &conn, e)) != ERR_OK ||
        (rc = store_data_key_list(conn, ring_collect, l, e)) != ERR_OK)
        goto done;
    for (size_t i = 0; i < l->n; i++) {
        char otok[CUSTODY_NAME_MAX], oid[CUSTODY_ID_HEX_MAX];
        size_t m = 0;
        if (strcmp(l->e[i].key_ref, wrap_ref) == 0)
            continue;
        if ((rc = config_keyref(l->e[i].key_ref, otok, oid, e)) != ERR_OK ||
            (rc = custody_unwrap(c, otok, oid, l->e[i].wrapped,
                                 l->e[i].wrapped_len, dk,
                                 BLOB_DATA_KEY_LEN + 64, &m, e)) != ERR_OK ||
            (m != BLOB_DATA_KEY_LEN &&
             (rc = err_set(e, ERR_CRYPTO, "data key %lld unwraps to %zu "
                           "bytes", (long long)l->e[i].id, m)) != ERR_OK) ||
            (rc = custody_wrap(c, tok, kid, dk, BLOB_DATA_KEY_LEN,
                               &wrapped[i], &len[i], e)) != ERR_OK)
            goto done;
        util_wipe(dk, BLOB_DATA_KEY_LEN + 64);
        w.n++;
    }
    if (w.n > 0)
        rc = store_run(conn, rewrap_work, &w, e);
    *n = w.n;
done:
    for (size_t i = 0; i < RING_MAX; i++)
        free(wrapped[i]);
    util_secret_free(dk);
    free(l);
    return rc;
}

/* One row's rewrite: the blob read, re-sealed, written if unchanged. */
struct row_work {
    enum store_blob_kind kind;
    int64_t              id;
    const uint8_t       *old, *new_data;
    size_t               old_len, new_len;
    int                  changed;
};

static err_code
row_work(struct store_conn *c, void *ctx, struct err *e)
{
    struct row_work *w = ctx;

    return store_blob_replace(c, w->kind, w->id, w->old, w->old_len,
                              w->new_data, w->new_len, &w->changed, e);
}

struct count_work {
    const char *action;
    json_t     *details;
    int64_t     plaintext;      /* left after the walk */
};

/* The walk's end: its audit entry, and with no plaintext row left, the
 * refusal of unsealed blobs from now on. */
static err_code
count_work(struct store_conn *c, void *ctx, struct err *e)
{
    struct count_work *w = ctx;
    struct audit_event ev = {w->action, "data_key", "blobs", AUDIT_OK, NULL,
                             w->details};
    err_code rc;

    if (w->plaintext == 0 &&
        (rc = store_data_key_refuse_plaintext(c, e)) != ERR_OK)
        return rc;
    return audit_append(c, &operator_actor, &ev, e);
}

/* Unsealed blobs in every column to *n. */
static err_code
count_plaintext(struct store_conn *c, int64_t *n, struct err *e)
{
    *n = 0;
    for (int kind = 0; kind < STORE_BLOB__COUNT; kind++) {
        struct store_blob b;
        int64_t after = 0;
        err_code rc;
        while ((rc = store_blob_next(c, (enum store_blob_kind)kind, after, &b,
                                     e)) == ERR_OK) {
            after = b.id;
            *n += !blob_is_sealed(b.data, b.len, NULL);
            free(b.data);
        }
        if (rc != ERR_NOT_FOUND)
            return rc;
    }
    return ERR_OK;
}

err_code
blobcrypt_encrypt_rows(struct store *s, int reencrypt, int64_t *n,
                       struct err *e)
{
    struct blob_key *k = NULL;
    struct store_conn *conn;
    struct count_work cw = {reencrypt ? "data_key.reencrypt"
                                      : "data_key.encrypt", NULL, 0};
    err_code rc;

    *n = 0;
    if ((rc = store_conn_get(s, &conn, e)) != ERR_OK ||
        (rc = blob_active_key(&k, e)) != ERR_OK)
        return rc;
    if ((cw.details = json_object()) == NULL) {
        blob_key_put(k);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    for (int kind = 0; kind < STORE_BLOB__COUNT && rc == ERR_OK; kind++) {
        struct store_blob b;
        int64_t after = 0, done = 0;
        for (;;) {
            struct blob_ref r = {(enum blob_kind)kind, 0, NULL};
            struct row_work w = {(enum store_blob_kind)kind, 0, NULL, NULL,
                                 0, 0, 0};
            uint8_t *pt = NULL, *ct = NULL;
            size_t ptn = 0, ctn = 0;
            uint32_t id;
            int sealed;

            rc = store_blob_next(conn, (enum store_blob_kind)kind, after, &b,
                                 e);
            if (rc == ERR_NOT_FOUND) {
                rc = ERR_OK;
                break;
            }
            if (rc != ERR_OK)
                break;
            after = b.id;
            sealed = blob_is_sealed(b.data, b.len, &id);
            if ((sealed && (!reencrypt || id == blob_key_id(k)))) {
                free(b.data);
                continue;
            }
            r.owner = b.owner;
            r.sm3 = b.sm3;
            if ((rc = blob_open(&r, b.data, b.len, &pt, &ptn, e)) == ERR_OK &&
                (rc = blob_seal(k, &r, pt, ptn, &ct, &ctn, e)) == ERR_OK) {
                w.id = b.id;
                w.old = b.data;
                w.old_len = b.len;
                w.new_data = ct;
                w.new_len = ctn;
                if ((rc = store_run(conn, row_work, &w, e)) == ERR_OK &&
                    w.changed)
                    done++;
            }
            if (pt != NULL)
                util_wipe(pt, ptn);
            free(pt);
            free(ct);
            free(b.data);
            if (rc != ERR_OK) {
                err_wrap(e, rc, "%s row %lld", blob_columns[kind],
                         (long long)after);
                break;
            }
        }
        json_object_set_new(cw.details, blob_columns[kind],
                            json_integer(done));
        *n += done;
    }
    json_object_set_new(cw.details, "data_key",
                        json_integer(blob_key_id(k)));
    blob_key_put(k);
    if (rc == ERR_OK && (rc = count_plaintext(conn, &cw.plaintext, e))
        == ERR_OK) {
        json_object_set_new(cw.details, "plaintext_left",
                            json_integer(cw.plaintext));
        rc = store_run(conn, count_work, &cw, e);
    }
    json_decref(cw.details);
    return rc;
}

static err_code
report_key(void *ctx, const struct store_data_key *k, struct err *e)
{
    json_t *keys = ctx, *o;

    o = json_pack("{s:I, s:s, s:s, s:I, s:o, s:b}", "id", (json_int_t)k->id,
                  "wrap_key", k->key_ref,
                  "state", k->active ? "active" : "retired",
                  "created_ms", (json_int_t)k->created_ms,
                  "retired_ms", k->retired_ms ? json_integer(k->retired_ms)
                                              : json_null(),
                  "plaintext_refused", k->plaintext_refused);
    if (o == NULL || json_array_append_new(keys, o) != 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    return ERR_OK;
}

err_code
blobcrypt_report(struct store *s, json_t **out, struct err *e)
{
    json_t *r = json_pack("{s:[], s:{}}", "keys", "blobs");
    struct store_conn *c;
    err_code rc;

    *out = NULL;
    if (r == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = store_conn_get(s, &c, e)) != ERR_OK ||
        (rc = store_data_key_list(c, report_key, json_object_get(r, "keys"),
                                  e)) != ERR_OK)
        goto fail;
    {
        json_t *k;
        size_t i;
        int refused = 0;
        json_array_foreach(json_object_get(r, "keys"), i, k)
            refused |= json_is_true(json_object_get(k, "plaintext_refused"));
        json_object_set_new(r, "plaintext_refused", json_boolean(refused));
    }
    for (int kind = 0; kind < STORE_BLOB__COUNT; kind++) {
        json_t *by = json_object(), *col;
        int64_t after = 0, plain = 0;
        struct store_blob b;
        if (by == NULL) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto fail;
        }
        while ((rc = store_blob_next(c, (enum store_blob_kind)kind, after,
                                     &b, e)) == ERR_OK) {
            uint32_t id;
            char key[16];
            after = b.id;
            if (blob_is_sealed(b.data, b.len, &id)) {
                snprintf(key, sizeof(key), "%u", (unsigned)id);
                json_object_set_new(by, key, json_integer(
                    json_integer_value(json_object_get(by, key)) + 1));
            } else {
                plain++;
            }
            free(b.data);
        }
        col = json_pack("{s:o, s:I}", "sealed_by", by, "plaintext",
                        (json_int_t)plain);
        if (rc != ERR_NOT_FOUND || col == NULL) {
            json_decref(col);
            if (rc == ERR_NOT_FOUND)
                rc = err_set(e, ERR_NOMEM, "out of memory");
            goto fail;
        }
        rc = ERR_OK;
        json_object_set_new(json_object_get(r, "blobs"), blob_columns[kind],
                            col);
    }
    *out = r;
    return ERR_OK;
fail:
    json_decref(r);
    return rc;
}

err_code
blobcrypt_ensure_key(struct store *s, struct custody *c, int *made,
                     struct err *e)
{
    char ref[STORE_DATA_KEY_REF_MAX], ca_ref[STORE_DATA_KEY_REF_MAX],
         tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    struct store_conn *conn;
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    int64_t kid = 0;
    int any = 0;
    err_code rc;

    *made = 0;
    rc = blobcrypt_current_wrap(s, ref, sizeof(ref), e);
    if (rc != ERR_NOT_FOUND)
        return rc;
    /* the wrap key goes where the local CA's key is: the instance's token
     * (its HSM in production), as the status and TSA keys do */
    if ((rc = store_conn_get(s, &conn, e)) != ERR_OK ||
        (rc = store_authority_get(conn, "ca", ca_ref, sizeof(ca_ref), &cert,
                                  &cert_len, e)) != ERR_OK) {
        if (rc == ERR_NOT_FOUND)
            rc = err_set(e, ERR_CONFIG, "this instance has no local CA, "
                         "whose token would hold the data-key wrap key");
        return rc;
    }
    free(cert);
    /* an instance with no blob yet has no row from before: it never has
     * to read an unsealed blob (none is written without a data key) */
    for (int kind = 0; kind < STORE_BLOB__COUNT && !any; kind++) {
        struct store_blob b;
        rc = store_blob_next(conn, (enum store_blob_kind)kind, 0, &b, e);
        if (rc == ERR_OK) {
            any = 1;
            free(b.data);
        } else if (rc != ERR_NOT_FOUND) {
            return rc;
        }
    }
    if ((rc = config_keyref(ca_ref, tok, id, e)) != ERR_OK ||
        (rc = blobcrypt_new_wrap_key(c, tok, ref, sizeof(ref), e)) != ERR_OK ||
        (rc = key_create(s, c, ref, !any, &kid, e)) != ERR_OK)
        return rc;
    *made = 1;
    return ERR_OK;
}

err_code
blobcrypt_verify_rows(struct store *s, int64_t *checked, int64_t *failed,
                      json_t *failures, struct err *e)
{
    struct store_conn *conn;
    err_code rc;

    *checked = *failed = 0;
    if ((rc = store_conn_get(s, &conn, e)) != ERR_OK)
        return rc;
    for (int kind = 0; kind < STORE_BLOB__COUNT; kind++) {
        struct store_blob b;
        int64_t after = 0;
        while ((rc = store_blob_next(conn, (enum store_blob_kind)kind, after,
                                     &b, e)) == ERR_OK) {
            struct blob_ref r = {(enum blob_kind)kind, b.owner, b.sm3};
            uint8_t *pt = NULL, h[32];
            size_t n = 0;
            struct err oe;
            int ok;
            after = b.id;
            err_clear(&oe);
            ok = blob_open(&r, b.data, b.len, &pt, &n, &oe) == ERR_OK &&
                 sm2_sm3(pt, n, h, &oe) == ERR_OK &&
                 CRYPTO_memcmp(h, b.sm3, sizeof(h)) == 0;
            if (!ok && oe.code == ERR_OK)
                err_set(&oe, ERR_CRYPTO, "plaintext does not match the "
                        "row's SM3");
            (*checked)++;
            if (!ok) {
                (*failed)++;
                if (failures != NULL)
                    json_array_append_new(failures, json_pack(
                        "{s:s, s:I, s:s}", "column", blob_columns[kind],
                        "id", (json_int_t)b.id, "error", oe.msg));
            }
            if (pt != NULL)
                util_wipe(pt, n);
            free(pt);
            free(b.data);
        }
        if (rc != ERR_NOT_FOUND)
            return rc;
    }
    return ERR_OK;
}
