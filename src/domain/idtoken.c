/*
 * idtoken.c - persons' identity tokens (idtoken.h): each issuer's keys
 * (a JWKS file or URL, cached, reloaded when stale and, rate-limited, for
 * an unknown kid), the JWS check (cjose for ES256 and RS256, OpenSSL for
 * SM2), the claim rules, and identity bindings to accounts.
 *
 * The compact form is split here only to read the header and the
 * unverified iss (which issuer's keys to use) and, for SM2, which cjose
 * does not know, to get the signing input; the ES256/RS256 signature
 * check is cjose's own import and verify.  Nothing of the payload is used
 * before the signature has been checked but the iss that picks the keys.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "fetch.h"
#include "idtoken.h"
#include "log.h"
#include "sm2.h"
#include "sod.h"
#include "unit.h"
#include "util.h"
#include "store_account.h"
#include "store_identity.h"

#define JWKS_KEYS_MAX 32
#define KID_MAX       128

/* One key of a JWKS. */
struct jkey {
    char         kid[KID_MAX];
    char         alg[16];        /* the key's own "alg", or "" */
    int          sm2;            /* 1: pkey; 0: jwk            */
    cjose_jwk_t *jwk;            /* EC P-256 or RSA            */
    EVP_PKEY    *pkey;           /* SM2 public key             */
};

/* One issuer and its keys.  lock guards the keys: a reload replaces them
 * while no check is using them, so each check runs under it (a signature
 * check is some tens of microseconds; a fetch is bounded by
 * jwks_timeout_ms). */
struct iss {
    const struct config_issuer *c;
    pthread_mutex_t lock;
    struct jkey     keys[JWKS_KEYS_MAX];
    size_t          nkeys;
    int64_t         loaded_ms;   /* monotonic; 0: never */
    int64_t         tried_ms;    /* last load attempt, monotonic */
};

struct idtoken {
    size_t     n;
    struct iss iss[CONFIG_MAX_ISSUERS];
    long       max_token_bytes;
};

/* ---- keys ---- */

static void
keys_clear(struct iss *is)
{
    size_t i;

    for (i = 0; i < is->nkeys; i++) {
        if (is->keys[i].jwk != NULL)
            cjose_jwk_release(is->keys[i].jwk);
        EVP_PKEY_free(is->keys[i].pkey);
    }
    memset(is->keys, 0, sizeof(is->keys));
    is->nkeys = 0;
}

/* base64url text s into *out (malloc'ed by cjose's allocator, freed with
 * cjose_get_dealloc()) and *len. */
static int
b64url(const char *s, size_t n, uint8_t **out, size_t *len)
{
    cjose_err ce;

    return cjose_base64url_decode(s, n, out, len, &ce) ? 1 : 0;
}

static void
cfree(void *p)
{
    if (p != NULL)
        cjose_get_dealloc()(p);
}

/* An SM2 public key from a JWK {"kty":"EC","crv":"SM2","x","y"}. */
static err_code
sm2_key(const json_t *k, EVP_PKEY **out, struct err *e)
{
    const char *x = json_string_value(json_object_get(k, "x"));
    const char *y = json_string_value(json_object_get(k, "y"));
    uint8_t *xb = NULL, *yb = NULL, pt[65];
    size_t xl = 0, yl = 0;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    err_code rc = ERR_OK;

    *out = NULL;
    if (x == NULL || y == NULL || !b64url(x, strlen(x), &xb, &xl) ||
        !b64url(y, strlen(y), &yb, &yl) || xl != 32 || yl != 32) {
        rc = err_set(e, ERR_CONFIG, "an SM2 key needs x and y of 32 bytes");
        goto done;
    }
    pt[0] = 0x04;
    memcpy(pt + 1, xb, 32);
    memcpy(pt + 33, yb, 32);
    if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                         "SM2", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                          sizeof(pt)) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        rc = err_set(e, ERR_CONFIG, "not a point of the SM2 curve");
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    cfree(xb);
    cfree(yb);
    return rc;
}

/* One JWK of a set into *k.  Keys with a private part, keys not for
 * signatures and key types seald does not verify are refused: a JWKS
 * that holds them is a mistake of whoever published it. */
static err_code
jwk_load(const json_t *j, struct jkey *k, struct err *e)
{
    const char *kty = json_string_value(json_object_get(j, "kty"));
    const char *kid = json_string_value(json_object_get(j, "kid"));
    const char *use = json_string_value(json_object_get(j, "use"));
    const char *alg = json_string_value(json_object_get(j, "alg"));
    const char *crv = json_string_value(json_object_get(j, "crv"));
    char *text;
    cjose_err ce;

    memset(k, 0, sizeof(*k));
    if (!json_is_object(j) || kty == NULL)
        return err_set(e, ERR_CONFIG, "a key without kty");
    if (json_object_get(j, "d") != NULL || json_object_get(j, "p") != NULL)
        return err_set(e, ERR_CONFIG, "a key with a private part");
    if (use != NULL && strcmp(use, "sig") != 0)
        return ERR_NOT_FOUND;           /* an encryption key: not ours */
    if (kid != NULL && strlen(kid) >= KID_MAX)
        return err_set(e, ERR_CONFIG, "kid too long");
    snprintf(k->kid, sizeof(k->kid), "%s", kid ? kid : "");
    if (alg != NULL && strlen(alg) < sizeof(k->alg))
        snprintf(k->alg, sizeof(k->alg), "%s", alg);
    if (strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, "SM2") == 0) {
        k->sm2 = 1;
        return sm2_key(j, &k->pkey, e);
    }
    if (strcmp(kty, "EC") != 0 && strcmp(kty, "RSA") != 0)
        return ERR_NOT_FOUND;           /* oct and others: never used */
    if ((text = json_dumps(j, JSON_COMPACT)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    k->jwk = cjose_jwk_import(text, strlen(text), &ce);
    free(text);
    if (k->jwk == NULL)
        return err_set(e, ERR_CONFIG, "key '%.64s': %s", k->kid, ce.message);
    return ERR_OK;
}

/* Parse a JWKS of len bytes into is's keys (replacing them). */
static err_code
jwks_parse(struct iss *is, const uint8_t *buf, size_t len, struct err *e)
{
    json_t *root, *keys, *j;
    json_error_t je;
    struct jkey tmp[JWKS_KEYS_MAX];
    size_t i, n = 0;
    err_code rc = ERR_OK;

    root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return err_set(e, ERR_CONFIG, "JWKS: %s", je.text);
    keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        json_decref(root);
        return err_set(e, ERR_CONFIG, "JWKS: no keys array");
    }
    if (json_array_size(keys) > JWKS_KEYS_MAX) {
        json_decref(root);
        return err_set(e, ERR_CONFIG, "JWKS: more than %d keys",
                       JWKS_KEYS_MAX);
    }
    json_array_foreach(keys, i, j) {
        rc = jwk_load(j, &tmp[n], e);
        if (rc == ERR_NOT_FOUND) {
            rc = ERR_OK;
            continue;
        }
        if (rc != ERR_OK)
            break;
        n++;
    }
    json_decref(root);
    if (rc != ERR_OK) {
        for (i = 0; i < n; i++) {
            if (tmp[i].jwk != NULL)
                cjose_jwk_release(tmp[i].jwk);
            EVP_PKEY_free(tmp[i].pkey);
        }
        return err_wrap(e, ERR_CONFIG, "JWKS");
    }
    keys_clear(is);
    memcpy(is->keys, tmp, n * sizeof(tmp[0]));
    is->nkeys = n;
    return ERR_OK;
}

/* (Re)load is's keys from its file or URL, within its size and time
 * limits.  On failure the keys held before stay (a platform's outage must
 * not log everybody out at once; they age out at the next refresh). */
static err_code
jwks_load(struct iss *is, struct err *e)
{
    const struct config_issuer *c = is->c;
    uint8_t *buf = NULL;
    size_t len = 0;
    err_code rc;

    is->tried_ms = util_mono_ms();
    if (c->jwks_file[0] != '\0') {
        rc = util_read_file(c->jwks_file, (size_t)c->jwks_max_bytes, &buf,
                            &len, e);
    } else {
        struct fetch_opts o = {c->jwks_timeout_ms, (size_t)c->jwks_max_bytes,
                               c->jwks_ca_file[0] ? c->jwks_ca_file : NULL,
                               NULL};
        struct fetch_resp r;
        rc = fetch_url(c->jwks_url, NULL, NULL, 0, &o, &r, e);
        if (rc == ERR_OK && r.status != 200)
            rc = err_set(e, ERR_UNAVAILABLE, "HTTP status %ld", r.status);
        if (rc == ERR_OK) {
            buf = r.body;
            len = r.len;
            r.body = NULL;
        }
        fetch_resp_free(&r);
    }
    if (rc == ERR_OK)
        rc = jwks_parse(is, buf, len, e);
    free(buf);
    if (rc != ERR_OK) {
        log_event(LOG_WARN, "jwks_failed", "issuer=%s msg=%s", c->name,
                  e->msg);
        return err_set(e, ERR_UNAVAILABLE, "the keys of issuer %s cannot "
                       "be loaded", c->name);
    }
    is->loaded_ms = is->tried_ms;
    log_event(LOG_INFO, "jwks_loaded", "issuer=%s keys=%d", c->name,
              (int)is->nkeys);
    return ERR_OK;
}

/* The key for kid ("" when the token names none) under is->lock: stale
 * keys are reloaded, and an unknown kid reloads them once per
 * jwks_retry_seconds at most, so a flood of made-up kids costs one fetch
 * per interval and not one each. */
static struct jkey *
key_for(struct iss *is, const char *kid, struct err *e)
{
    int64_t now = util_mono_ms();
    int64_t retry = (int64_t)is->c->jwks_retry_seconds * 1000;
    size_t i;
    int pass;

    /* never more than one attempt per retry interval, also while the
     * platform is down: a flood of tokens is not a flood of fetches */
    if ((is->loaded_ms == 0 ||
         now - is->loaded_ms >= (int64_t)is->c->jwks_refresh_seconds * 1000)
        && (is->tried_ms == 0 || now - is->tried_ms >= retry))
        (void)jwks_load(is, e);   /* on failure, the keys held stay */
    if (is->loaded_ms == 0) {
        /* never had keys: the platform, not the token, is at fault */
        err_set(e, ERR_UNAVAILABLE, "the keys of issuer %s cannot be "
                "loaded; retry later", is->c->name);
        return NULL;
    }
    for (pass = 0; pass < 2; pass++) {
        if (kid[0] == '\0') {
            if (is->nkeys == 1)
                return &is->keys[0];
            err_set(e, ERR_TOKEN_INVALID, "the token names no kid and the "
                    "issuer has %d keys", (int)is->nkeys);
            return NULL;
        }
        for (i = 0; i < is->nkeys; i++)
            if (strcmp(is->keys[i].kid, kid) == 0)
                return &is->keys[i];
        if (pass == 1 || now - is->tried_ms < retry)
            break;
        if (jwks_load(is, e) != ERR_OK)
            break;
    }
    err_set(e, ERR_TOKEN_INVALID, "unknown key id '%.64s' for issuer %s",
            kid, is->c->name);
    return NULL;
}

err_code
idtoken_open(const struct config *cfg, struct idtoken **out, struct err *e)
{
    struct idtoken *v;
    size_t i;
    err_code rc;

    *out = NULL;
    if (cfg->nissuers == 0)
        return ERR_OK;
    if ((v = calloc(1, sizeof(*v))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    v->max_token_bytes = cfg->identity_max_token_bytes;
    for (i = 0; i < cfg->nissuers; i++) {
        v->iss[i].c = &cfg->issuers[i];
        pthread_mutex_init(&v->iss[i].lock, NULL);
        v->n++;
        if (cfg->issuers[i].jwks_file[0] != '\0' &&
            (rc = jwks_load(&v->iss[i], e)) != ERR_OK) {
            idtoken_free(v);
            return err_set(e, ERR_CONFIG, "issuer.%s: jwks_file %s cannot "
                           "be read as a JWKS (the log says why)",
                           cfg->issuers[i].name, cfg->issuers[i].jwks_file);
        }
    }
    *out = v;
    return ERR_OK;
}

void
idtoken_free(struct idtoken *v)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; i < v->n; i++) {
        keys_clear(&v->iss[i]);
        pthread_mutex_destroy(&v->iss[i].lock);
    }
    free(v);
}

/* ---- the token ---- */

/* Is alg one of the comma-separated list? */
static int
alg_listed(const char *list, const char *alg)
{
    size_t n = strlen(alg);
    const char *p = list;

    while (*p != '\0') {
        while (*p == ',' || *p == ' ')
            p++;
        if (strncmp(p, alg, n) == 0 && (p[n] == '\0' || p[n] == ',' ||
                                        p[n] == ' '))
            return 1;
        while (*p != '\0' && *p != ',')
            p++;
    }
    return 0;
}

static int
is_sm2_alg(const char *alg)
{
    return strcmp(alg, "SM2") == 0 || strcmp(alg, "SM2SM3") == 0;
}

/* Decode part (n bytes of base64url) as a JSON object; NULL if it is not. */
static json_t *
part_json(const char *s, size_t n)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    json_t *j;

    if (!b64url(s, n, &raw, &len))
        return NULL;
    j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    cfree(raw);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* The signature of token with key k: cjose for ES256/RS256, OpenSSL for
 * SM2.  The key's type must be the algorithm's (no RSA key for ES256, no
 * key at all for an algorithm seald does not verify). */
static err_code
check_signature(const struct config_issuer *c, const struct jkey *k,
                const char *alg, const char *token, size_t h_len,
                size_t p_len, struct err *e)
{
    cjose_err ce;

    if (k->alg[0] != '\0' && strcmp(k->alg, alg) != 0)
        return err_set(e, ERR_TOKEN_INVALID, "key '%.64s' is for %s, not "
                       "%s", k->kid, k->alg, alg);
    if (is_sm2_alg(alg)) {
        const char *sig = token + h_len + 1 + p_len + 1;
        uint8_t *raw = NULL;
        size_t len = 0;
        int ok = 0;
        err_code rc;

        if (!k->sm2)
            return err_set(e, ERR_TOKEN_INVALID, "key '%.64s' is not an "
                           "SM2 key", k->kid);
        if (!b64url(sig, strlen(sig), &raw, &len) || len != SM2_SIG_RAW_LEN) {
            cfree(raw);
            return err_set(e, ERR_TOKEN_INVALID, "an SM2 signature is r||s, "
                           "64 bytes");
        }
        rc = sm2_verify(k->pkey, c->sm2_id, token, h_len + 1 + p_len, raw,
                        len, &ok, e);
        cfree(raw);
        if (rc != ERR_OK)
            return rc;
        return ok ? ERR_OK : err_set(e, ERR_TOKEN_INVALID, "bad signature");
    } else {
        cjose_jws_t *jws;
        int ok;

        if (k->sm2 || k->jwk == NULL)
            return err_set(e, ERR_TOKEN_INVALID, "key '%.64s' is not for "
                           "%s", k->kid, alg);
        if (strcmp(alg, "ES256") == 0 &&
            (cjose_jwk_get_kty(k->jwk, &ce) != CJOSE_JWK_KTY_EC ||
             cjose_jwk_EC_get_curve(k->jwk, &ce) != CJOSE_JWK_EC_P_256))
            return err_set(e, ERR_TOKEN_INVALID, "key '%.64s' is not a "
                           "P-256 key", k->kid);
        if (strcmp(alg, "RS256") == 0 &&
            (cjose_jwk_get_kty(k->jwk, &ce) != CJOSE_JWK_KTY_RSA ||
             cjose_jwk_get_keysize(k->jwk, &ce) < 2048))
            return err_set(e, ERR_TOKEN_INVALID, "key '%.64s' is not an RSA "
                           "key of 2048 bits or more", k->kid);
        if ((jws = cjose_jws_import(token, strlen(token), &ce)) == NULL)
            return err_set(e, ERR_TOKEN_INVALID, "not a JWS: %s",
                           ce.message);
        ok = cjose_jws_verify(jws, k->jwk, &ce);
        cjose_jws_release(jws);
        return ok ? ERR_OK : err_set(e, ERR_TOKEN_INVALID, "bad signature");
    }
}

/* An integer claim (a NumericDate; a JSON real is refused). */
static int
num_claim(const json_t *claims, const char *name, int64_t *out)
{
    const json_t *j = json_object_get(claims, name);

    if (!json_is_integer(j))
        return 0;
    *out = (int64_t)json_integer_value(j);
    return 1;
}

err_code
idtoken_claims_check(const struct config_issuer *is, const json_t *claims,
                     int64_t now_s, struct idtoken_identity *out,
                     struct err *e)
{
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const json_t *aud = json_object_get(claims, "aud"), *j;
    const json_t *sub = json_object_get(claims, is->subject_claim);
    int64_t exp = 0, iat = 0, nbf = 0, skew = is->clock_skew_seconds;
    int aud_ok = 0;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (iss == NULL || strcmp(iss, is->issuer) != 0)
        return err_set(e, ERR_TOKEN_INVALID, "wrong issuer");
    if (json_is_string(aud))
        aud_ok = strcmp(json_string_value(aud), is->audience) == 0;
    else if (json_is_array(aud))
        json_array_foreach(aud, i, j)
            if (json_is_string(j) &&
                strcmp(json_string_value(j), is->audience) == 0)
                aud_ok = 1;
    if (!aud_ok)
        return err_set(e, ERR_TOKEN_INVALID, "the token is not for this "
                       "audience");
    if (!num_claim(claims, "exp", &exp) || !num_claim(claims, "iat", &iat))
        return err_set(e, ERR_TOKEN_INVALID, "exp and iat are required "
                       "(integers)");
    if (json_object_get(claims, "nbf") != NULL &&
        !num_claim(claims, "nbf", &nbf))
        return err_set(e, ERR_TOKEN_INVALID, "nbf is not an integer");
    if (exp + skew <= now_s)
        return err_set(e, ERR_TOKEN_EXPIRED, "the token has expired");
    if (nbf - skew > now_s)
        return err_set(e, ERR_TOKEN_EXPIRED, "the token is not valid yet");
    if (iat - skew > now_s)
        return err_set(e, ERR_TOKEN_EXPIRED, "the token was issued in the "
                       "future");
    if (exp - iat > is->max_lifetime_seconds || exp < iat)
        return err_set(e, ERR_TOKEN_INVALID, "the token lives longer than "
                       "%d s", is->max_lifetime_seconds);
    if (!json_is_string(sub) || json_string_length(sub) == 0 ||
        json_string_length(sub) >= sizeof(out->subject))
        return err_set(e, ERR_TOKEN_INVALID, "claim %s is missing or not a "
                       "string of 1-%d bytes", is->subject_claim,
                       (int)sizeof(out->subject) - 1);
    snprintf(out->issuer, sizeof(out->issuer), "%s", is->issuer);
    snprintf(out->issuer_name, sizeof(out->issuer_name), "%s", is->name);
    snprintf(out->claim, sizeof(out->claim), "%s", is->subject_claim);
    snprintf(out->subject, sizeof(out->subject), "%s",
             json_string_value(sub));
    out->exp_s = exp;
    return ERR_OK;
}

err_code
idtoken_verify(struct idtoken *v, const char *token, int64_t now_s,
               struct idtoken_identity *out, struct err *e)
{
    const char *d1, *d2, *p;
    json_t *hdr = NULL, *claims = NULL;
    const char *alg, *kid, *iss;
    struct iss *is = NULL;
    struct jkey *k;
    size_t n = strlen(token), i;
    err_code rc;

    if (v == NULL)
        return err_set(e, ERR_TOKEN_INVALID, "no identity issuer is "
                       "configured");
    if ((long)n > v->max_token_bytes)
        return err_set(e, ERR_HEADERS_TOO_LARGE, "the person token is "
                       "larger than %ld bytes", v->max_token_bytes);
    for (p = token; *p != '\0'; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
              *p == '.'))
            return err_set(e, ERR_TOKEN_INVALID, "not a compact JWS");
    if ((d1 = strchr(token, '.')) == NULL ||
        (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.') != NULL ||
        d1 == token || d2 == d1 + 1 || d2[1] == '\0')
        return err_set(e, ERR_TOKEN_INVALID, "not a compact JWS (three "
                       "non-empty parts; an unsigned token has none)");
    if ((hdr = part_json(token, (size_t)(d1 - token))) == NULL ||
        (claims = part_json(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL) {
        rc = err_set(e, ERR_TOKEN_INVALID, "header or payload is not a "
                     "JSON object");
        goto done;
    }
    alg = json_string_value(json_object_get(hdr, "alg"));
    kid = json_string_value(json_object_get(hdr, "kid"));
    iss = json_string_value(json_object_get(claims, "iss"));
    if (json_object_get(hdr, "crit") != NULL) {
        rc = err_set(e, ERR_TOKEN_INVALID, "crit header parameters are not "
                     "understood");
        goto done;
    }
    if (alg == NULL) {
        rc = err_set(e, ERR_TOKEN_INVALID, "no alg");
        goto done;
    }
    for (i = 0; iss != NULL && i < v->n; i++)
        if (strcmp(v->iss[i].c->issuer, iss) == 0)
            is = &v->iss[i];
    if (is == NULL) {
        rc = err_set(e, ERR_TOKEN_INVALID, "wrong issuer");
        goto done;
    }
    /* "none" and HS* cannot be listed (config_validate); the check is
     * the issuer's list, so nothing unlisted passes either way */
    if (!alg_listed(is->c->algorithms, alg)) {
        rc = err_set(e, ERR_TOKEN_INVALID, "algorithm '%.16s' is not "
                     "accepted from issuer %s", alg, is->c->name);
        goto done;
    }
    pthread_mutex_lock(&is->lock);
    if ((k = key_for(is, kid ? kid : "", e)) == NULL)
        rc = e->code == ERR_OK ? ERR_TOKEN_INVALID : e->code;
    else
        rc = check_signature(is->c, k, alg, token, (size_t)(d1 - token),
                             (size_t)(d2 - d1 - 1), e);
    pthread_mutex_unlock(&is->lock);
    if (rc == ERR_OK)
        rc = idtoken_claims_check(is->c, claims, now_s, out, e);
done:
    json_decref(hdr);
    json_decref(claims);
    return rc;
}

err_code
idtoken_principal(struct store_conn *c, const struct idtoken_identity *id,
                  struct auth_principal *p, struct err *e)
{
    int64_t account_id = 0;
    err_code rc;

    memset(p, 0, sizeof(*p));
    rc = store_identity_lookup(c, id->issuer, id->claim, id->subject,
                               &account_id, e);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, ERR_UNAUTHENTICATED, "no account is bound to "
                       "this identity of issuer %s", id->issuer_name);
    if (rc != ERR_OK)
        return rc;
    if ((rc = auth_principal_load(c, account_id, p, e)) != ERR_OK) {
        p->account_id = account_id;
        return rc;
    }
    p->expires_ms = id->exp_s * 1000;
    return ERR_OK;
}

/* ---- bindings ---- */

struct bind_args {
    int64_t                     id;
    const struct config_issuer *is;
    const char                 *subject;
    int64_t                     binding_id;
};

static err_code
bind_work(struct unit *u, void *ctx, struct err *e)
{
    struct bind_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_account acct;
    struct store_role roles[STORE_MAX_ROLES];
    size_t n = 0;
    err_code rc;

    if ((rc = store_account_get(a->db, w->id, &acct, e)) != ERR_OK ||
        (rc = authz_require(a->db, a->p, PERM_ACCOUNT_WRITE, acct.org_id,
                            e)) != ERR_OK ||
        (rc = store_account_roles_ahead(a->db, w->id, util_now_ms(), roles,
                                        STORE_MAX_ROLES, &n, e)) != ERR_OK ||
        (rc = sod_identity_bind(a->p, &acct, roles, n, e)) != ERR_OK ||
        (rc = store_identity_insert(a->db, w->is->issuer,
                                    w->is->subject_claim, w->subject, w->id,
                                    a->p->account_id, util_now_ms(),
                                    &w->binding_id, e)) != ERR_OK)
        return rc;
    return unit_audit_id(u, "identity.bind", "account", w->id,
                         json_pack("{s:I, s:s, s:s, s:s}", "binding_id",
                                   (json_int_t)w->binding_id, "issuer",
                                   w->is->issuer, "claim",
                                   w->is->subject_claim, "subject",
                                   w->subject), e);
}

err_code
idtoken_bind(const struct actor_ctx *a, const struct config *cfg, int64_t id,
             const char *issuer, const char *subject, int64_t *binding_id,
             struct err *e)
{
    struct bind_args w = {id, NULL, subject, 0};
    size_t i;
    err_code rc;

    for (i = 0; i < cfg->nissuers; i++)
        if (strcmp(cfg->issuers[i].issuer, issuer) == 0 ||
            strcmp(cfg->issuers[i].name, issuer) == 0)
            w.is = &cfg->issuers[i];
    if (w.is == NULL)
        return err_set(e, ERR_INVALID, "issuer '%.64s' is not configured",
                       issuer);
    if (subject[0] == '\0' || strlen(subject) >= IDTOKEN_SUBJECT_MAX)
        return err_set(e, ERR_INVALID, "subject must be 1-%d bytes",
                       IDTOKEN_SUBJECT_MAX - 1);
    if ((rc = unit_run(a, bind_work, &w, e)) == ERR_OK)
        *binding_id = w.binding_id;
    return rc;
}

struct unbind_args {
    int64_t id, binding_id;
};

static err_code
unbind_work(struct unit *u, void *ctx, struct err *e)
{
    struct unbind_args *w = ctx;
    const struct actor_ctx *a = &u->a;
    struct store_account acct;
    err_code rc;

    if ((rc = store_account_get(a->db, w->id, &acct, e)) != ERR_OK ||
        (rc = authz_require(a->db, a->p, PERM_ACCOUNT_WRITE, acct.org_id,
                            e)) != ERR_OK ||
        (rc = store_identity_remove(a->db, w->binding_id, w->id,
                                    a->p->account_id, util_now_ms(), e))
        != ERR_OK)
        return rc;
    return unit_audit_id(u, "identity.unbind", "account", w->id,
                         json_pack("{s:I}", "binding_id",
                                   (json_int_t)w->binding_id), e);
}

err_code
idtoken_unbind(const struct actor_ctx *a, int64_t id, int64_t binding_id,
               struct err *e)
{
    struct unbind_args w = {id, binding_id};

    return unit_run(a, unbind_work, &w, e);
}

/* store_identity_list callback: one binding into the array. */
static err_code
binding_add(void *ctx, const struct store_identity *b)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:o}", "id",
                          (json_int_t)b->id, "issuer", b->issuer, "claim",
                          b->claim, "subject", b->subject, "created_ms",
                          (json_int_t)b->created_ms, "created_by",
                          b->created_by ? json_integer(b->created_by)
                                        : json_null());

    return o != NULL && json_array_append_new(ctx, o) == 0 ? ERR_OK
                                                           : ERR_NOMEM;
}

err_code
idtoken_bindings(const struct actor_ctx *a, int64_t id, json_t **out,
                 struct err *e)
{
    struct store_account acct;
    json_t *arr;
    err_code rc;

    *out = NULL;
    if ((rc = store_account_get(a->db, id, &acct, e)) != ERR_OK ||
        (rc = authz_require(a->db, a->p, PERM_ACCOUNT_READ, acct.org_id, e))
        != ERR_OK)
        return rc;
    if ((arr = json_array()) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = store_identity_list(a->db, id, binding_add, arr, e))
        != ERR_OK) {
        json_decref(arr);
        return rc == ERR_NOMEM ? err_set(e, ERR_NOMEM, "out of memory") : rc;
    }
    *out = arr;
    return ERR_OK;
}
