/*
 * devtoken.c - PKCS#11 v2.40 entry points of libsealdtoken.so, seald's
 * software SM2 token for development and tests.
 *
 * Owns: slots (one per directory in SEALD_DEVTOKEN_DIR, ':'-separated; unset
 * means no slots), sessions, login state, key-pair generation and signing.
 *
 * Profiles: each slot answers with one vendor's constants (devtoken.h,
 * devtoken_store.c); chosen by env SEALD_DEVTOKEN_PROFILE (sansec, tass,
 * luna, ibm; "sm2-" prefix accepted), else the profile recorded in token.dat
 * at C_InitToken, else sansec.
 *
 * PINs: C_InitToken(SO PIN) creates a random 32-byte master key wrapped under
 * PBKDF2(SO PIN); C_InitPIN wraps it under PBKDF2(user PIN); C_Login unwraps
 * it (a bad GCM tag = CKR_PIN_INCORRECT, counted in token.dat, CKR_PIN_LOCKED
 * after DT_MAX_FAIL).  Private scalars are stored wrapped under the master
 * key and decrypted into EVP_PKEYs only while the user is logged in (this
 * module plays the HSM, so it may hold private keys).
 *
 * Threads: one global mutex protects all state; it is NOT held during the
 * SM2 math (C_Sign takes a reference to the key and drops the lock), so
 * sessions in several threads sign in parallel.
 *
 * Fault switch: a file named "absent" in the token directory makes the token
 * vanish: C_GetSlotList(TRUE) omits the slot, the slot's sessions are closed,
 * the login is dropped, token calls answer CKR_TOKEN_NOT_PRESENT, old session
 * handles CKR_SESSION_HANDLE_INVALID, a sign in flight CKR_DEVICE_REMOVED.
 * Removing the file brings the token back (state reloaded from disk).
 * A file named "faulty" makes C_Sign return values with one bit of s
 * flipped, as a token with a computation fault would: what seald's fault
 * check on the token's output ([signing] verify_token_every) must catch.
 *
 * Decryption (issue 18 item 11): C_DecryptInit/C_Decrypt with the profile's
 * SM2 decryption mechanism take a DER SM2Cipher (GM/T 0009) made with the
 * key's public half and answer the plaintext: how seald unwraps its data
 * keys.  This token does not record key usage (CKA_DECRYPT answers FALSE and
 * any of its SM2 keys decrypts); a real HSM enforces the template seald asks
 * for (custody_generate_decrypt_key).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "devtoken.h"

#define DT_NOBODY        ((CK_USER_TYPE)-1)
#define DT_ATTR_BUF      256
#define DT_SIG_MAX       80
#define DT_SM2_DEFAULT_ID "1234567812345678"
#define DT_AAD_MK        "sealdtoken-mk-v1"
#define DT_AAD_KEY       "sealdtoken-key-v1"

static const unsigned char dt_sm2_oid[] = {
    0x06, 0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82, 0x2D
};

struct dt_session {
    int               used;
    CK_SESSION_HANDLE handle;
    CK_SLOT_ID        slot;
    CK_FLAGS          flags;
    /* find */
    int               find_active;
    CK_OBJECT_HANDLE  found[2 * DT_MAX_KEYS];
    size_t            found_n, found_pos;
    /* sign */
    int               sign_active;
    CK_MECHANISM_TYPE sign_mech;
    EVP_PKEY         *sign_key;
    /* decrypt */
    int               decrypt_active;
    EVP_PKEY         *decrypt_key;
};

static pthread_mutex_t dt_lock = PTHREAD_MUTEX_INITIALIZER;
static int dt_initialized;
static size_t dt_nslots;
static struct dt_slot *dt_slots;                 /* calloc'ed [DT_MAX_SLOTS] */
static struct dt_session dt_sessions[DT_MAX_SESSIONS];
static unsigned long dt_session_serial;

/* ---------- helpers (all called with dt_lock held) ---------- */

static void dt_pad(unsigned char *dst, size_t n, const char *src)
{
    size_t L = strlen(src);
    memset(dst, ' ', n);
    memcpy(dst, src, L < n ? L : n);
}

static void dt_logout_slot(struct dt_slot *s)
{
    for (size_t i = 0; i < DT_MAX_KEYS; i++) {
        EVP_PKEY_free(s->keys[i].priv);
        s->keys[i].priv = NULL;
    }
    dt_wipe(s->mk, sizeof s->mk);
    s->login = DT_NOBODY;
}

static void dt_session_free(struct dt_session *ss)
{
    EVP_PKEY_free(ss->sign_key);
    EVP_PKEY_free(ss->decrypt_key);
    memset(ss, 0, sizeof *ss);
}

static void dt_close_slot_sessions(CK_SLOT_ID id)
{
    for (size_t i = 0; i < DT_MAX_SESSIONS; i++)
        if (dt_sessions[i].used && dt_sessions[i].slot == id)
            dt_session_free(&dt_sessions[i]);
}

/* Check the fault switch and the directory (at most every
 * DT_PRESENCE_TTL_NS, so the syscalls stay off the signing path); handle
 * removal/insertion.  Returns 1 if the token is present. */
static int dt_refresh(CK_SLOT_ID id)
{
    struct dt_slot *s = &dt_slots[id];
    char path[PATH_MAX + 16];
    struct stat st;
    struct timespec ts;
    int64_t t;
    int now;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (s->checked_ns && t - s->checked_ns < DT_PRESENCE_TTL_NS)
        return s->present;
    s->checked_ns = t;
    snprintf(path, sizeof path, "%s/faulty", s->dir);
    s->faulty = access(path, F_OK) == 0;
    snprintf(path, sizeof path, "%s/absent", s->dir);
    now = stat(s->dir, &st) == 0 && S_ISDIR(st.st_mode) && access(path, F_OK) != 0;
    if (s->present && !now) {
        s->gen++;
        dt_close_slot_sessions(id);
        dt_logout_slot(s);
    } else if (!s->present && now) {
        dt_store_load(s);
    }
    s->present = now;
    return now;
}

static struct dt_session *dt_session_get(CK_SESSION_HANDLE h, CK_RV *rv)
{
    struct dt_session *ss;
    if (!dt_initialized) {
        *rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        return NULL;
    }
    if (h == 0) {
        *rv = CKR_SESSION_HANDLE_INVALID;
        return NULL;
    }
    ss = &dt_sessions[(h - 1) % DT_MAX_SESSIONS];
    if (!ss->used || ss->handle != h) {
        *rv = CKR_SESSION_HANDLE_INVALID;
        return NULL;
    }
    if (!dt_refresh(ss->slot)) {          /* closes ss too */
        *rv = CKR_SESSION_HANDLE_INVALID;
        return NULL;
    }
    *rv = CKR_OK;
    return ss;
}

static CK_RV dt_slot_check(CK_SLOT_ID id, int need_token)
{
    if (!dt_initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (id >= dt_nslots)
        return CKR_SLOT_ID_INVALID;
    if (!dt_refresh(id) && need_token)
        return CKR_TOKEN_NOT_PRESENT;
    return CKR_OK;
}

static struct dt_key *dt_key_by_handle(struct dt_slot *s, CK_OBJECT_HANDLE h,
                                       int *is_priv)
{
    for (size_t i = 0; i < DT_MAX_KEYS; i++) {
        struct dt_key *k = &s->keys[i];
        if (!k->used)
            continue;
        if (k->hpriv == h) { *is_priv = 1; return k; }
        if (k->hpub == h) { *is_priv = 0; return k; }
    }
    return NULL;
}

/* Build an EVP_PKEY (SM2) from scalar + public point.  NULL on error. */
static EVP_PKEY *dt_pkey_from(const unsigned char *scalar,
                              const unsigned char *pub)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *p = NULL;
    EVP_PKEY_CTX *c = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM *d = BN_secure_new();
    if (!b || !d || !BN_bin2bn(scalar, DT_SCALAR_LEN, d))
        goto done;
    if (!OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) ||
        !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
        !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, DT_PUB_LEN))
        goto done;
    p = OSSL_PARAM_BLD_to_param(b);
    c = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
    if (!p || !c || EVP_PKEY_fromdata_init(c) != 1 ||
        EVP_PKEY_fromdata(c, &pk, EVP_PKEY_KEYPAIR, p) != 1)
        pk = NULL;
done:
    OSSL_PARAM_free(p);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(c);
    BN_clear_free(d);
    return pk;
}

/* Decrypt k's private scalar with the slot master key into k->priv. */
static int dt_key_unlock(struct dt_slot *s, struct dt_key *k)
{
    unsigned char d[DT_SCALAR_LEN];
    int rc = -1;
    if (k->priv)
        return 0;
    if (dt_unwrap(s->mk, DT_AAD_KEY, k->wrapped, DT_SCALAR_LEN, d) != 0)
        goto done;
    k->priv = dt_pkey_from(d, k->pub);
    rc = k->priv ? 0 : -1;
done:
    dt_wipe(d, sizeof d);
    return rc;
}

/* Value of one attribute of a key object into buf (cap DT_ATTR_BUF).
 * Returns CKR_OK, CKR_ATTRIBUTE_SENSITIVE or CKR_ATTRIBUTE_TYPE_INVALID. */
static CK_RV dt_attr(const struct dt_slot *s, const struct dt_key *k, int priv,
                     CK_ATTRIBUTE_TYPE t, unsigned char *buf, size_t *len)
{
    CK_ULONG ul;
    CK_BBOOL bv;
    int is_ul = 0, is_b = 0;
    switch (t) {
    case CKA_CLASS: ul = priv ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY; is_ul = 1; break;
    case CKA_KEY_TYPE: ul = s->prof->ckk; is_ul = 1; break;
    case CKA_KEY_GEN_MECHANISM: ul = s->prof->gen; is_ul = 1; break;
    case CKA_TOKEN: case CKA_LOCAL: bv = CK_TRUE; is_b = 1; break;
    case CKA_MODIFIABLE: case CKA_DERIVE: case CKA_ENCRYPT: case CKA_DECRYPT:
    case CKA_WRAP: case CKA_UNWRAP: case CKA_SIGN_RECOVER: case CKA_VERIFY_RECOVER:
    case CKA_ALWAYS_AUTHENTICATE: case CKA_TRUSTED: case CKA_WRAP_WITH_TRUSTED:
        bv = CK_FALSE; is_b = 1; break;
    case CKA_PRIVATE: case CKA_SENSITIVE: case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE: case CKA_SIGN:
        if (!priv && t != CKA_PRIVATE && t != CKA_SIGN)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        bv = priv ? CK_TRUE : CK_FALSE; is_b = 1; break;
    case CKA_EXTRACTABLE:
        if (!priv) return CKR_ATTRIBUTE_TYPE_INVALID;
        bv = CK_FALSE; is_b = 1; break;
    case CKA_VERIFY:
        bv = priv ? CK_FALSE : CK_TRUE; is_b = 1; break;
    case CKA_ID:
        memcpy(buf, k->id, k->id_len); *len = k->id_len; return CKR_OK;
    case CKA_LABEL:
        *len = strlen(k->label); memcpy(buf, k->label, *len); return CKR_OK;
    case CKA_EC_PARAMS:
        memcpy(buf, dt_sm2_oid, sizeof dt_sm2_oid); *len = sizeof dt_sm2_oid;
        return CKR_OK;
    case CKA_EC_POINT:
        buf[0] = 0x04; buf[1] = DT_PUB_LEN;
        memcpy(buf + 2, k->pub, DT_PUB_LEN); *len = DT_PUB_LEN + 2;
        return CKR_OK;
    case CKA_VALUE:
        if (priv) return CKR_ATTRIBUTE_SENSITIVE;
        return CKR_ATTRIBUTE_TYPE_INVALID;
    default:
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    if (is_ul) { memcpy(buf, &ul, sizeof ul); *len = sizeof ul; }
    if (is_b) { memcpy(buf, &bv, sizeof bv); *len = sizeof bv; }
    return CKR_OK;
}

static const char *dt_attr_find(CK_ATTRIBUTE_PTR t, CK_ULONG n,
                                CK_ATTRIBUTE_TYPE type, size_t *len)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (t[i].type == type && t[i].pValue) {
            *len = t[i].ulValueLen;
            return t[i].pValue;
        }
    return NULL;
}

/* ---------- general ---------- */

CK_DEFINE_FUNCTION(CK_RV, C_Initialize)(CK_VOID_PTR pInitArgs)
{
    CK_RV rv = CKR_OK;
    const char *env = getenv("SEALD_DEVTOKEN_DIR");
    const struct dt_profile *envp = dt_profile_find(getenv("SEALD_DEVTOKEN_PROFILE"));
    char *list = NULL, *save = NULL, *tok;
    pthread_mutex_lock(&dt_lock);
    if (dt_initialized) {
        rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
        goto done;
    }
    if (pInitArgs) {
        CK_C_INITIALIZE_ARGS *a = pInitArgs;
        if (a->pReserved) { rv = CKR_ARGUMENTS_BAD; goto done; }
    }
    dt_slots = calloc(DT_MAX_SLOTS, sizeof *dt_slots);
    if (!dt_slots) { rv = CKR_HOST_MEMORY; goto done; }
    dt_nslots = 0;
    if (env && *env) {
        list = strdup(env);
        if (!list) { rv = CKR_HOST_MEMORY; goto done; }
        for (tok = strtok_r(list, ":", &save); tok && dt_nslots < DT_MAX_SLOTS;
             tok = strtok_r(NULL, ":", &save)) {
            struct dt_slot *s = &dt_slots[dt_nslots];
            unsigned char h[SHA256_DIGEST_LENGTH];
            if (strlen(tok) >= sizeof s->dir)
                continue;
            strcpy(s->dir, tok);
            s->prof = envp ? envp : dt_profile_find("sansec");
            s->login = DT_NOBODY;
            s->next_handle = 1;
            SHA256((const unsigned char *)tok, strlen(tok), h);
            for (int i = 0; i < 8; i++)
                snprintf(s->serial + 2 * i, 3, "%02x", h[i]);
            dt_nslots++;
        }
    }
    memset(dt_sessions, 0, sizeof dt_sessions);
    dt_initialized = 1;
    for (size_t i = 0; i < dt_nslots; i++)
        dt_refresh(i);
done:
    free(list);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED && dt_slots && !dt_initialized) {
        free(dt_slots);
        dt_slots = NULL;
    }
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_Finalize)(CK_VOID_PTR pReserved)
{
    CK_RV rv = CKR_OK;
    pthread_mutex_lock(&dt_lock);
    if (!dt_initialized) {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        goto done;
    }
    for (size_t i = 0; i < DT_MAX_SESSIONS; i++)
        if (dt_sessions[i].used)
            dt_session_free(&dt_sessions[i]);
    for (size_t i = 0; i < dt_nslots; i++)
        dt_logout_slot(&dt_slots[i]);
    free(dt_slots);
    dt_slots = NULL;
    dt_nslots = 0;
    dt_initialized = 0;
done:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_GetInfo)(CK_INFO_PTR pInfo)
{
    if (!pInfo)
        return CKR_ARGUMENTS_BAD;
    memset(pInfo, 0, sizeof *pInfo);
    pInfo->cryptokiVersion.major = 2;
    pInfo->cryptokiVersion.minor = 40;
    dt_pad(pInfo->manufacturerID, sizeof pInfo->manufacturerID, "seald");
    dt_pad(pInfo->libraryDescription, sizeof pInfo->libraryDescription,
           "seald SM2 development token");
    pInfo->libraryVersion.major = 0;
    pInfo->libraryVersion.minor = 1;
    return CKR_OK;
}

CK_DEFINE_FUNCTION(CK_RV, C_GetSlotList)(CK_BBOOL tokenPresent,
        CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
    CK_RV rv = CKR_OK;
    CK_ULONG n = 0;
    CK_SLOT_ID ids[DT_MAX_SLOTS];
    if (!pulCount)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&dt_lock);
    if (!dt_initialized) { rv = CKR_CRYPTOKI_NOT_INITIALIZED; goto done; }
    for (size_t i = 0; i < dt_nslots; i++)
        if (dt_refresh(i) || !tokenPresent)
            ids[n++] = i;
    if (pSlotList) {
        if (*pulCount < n)
            rv = CKR_BUFFER_TOO_SMALL;
        else
            memcpy(pSlotList, ids, n * sizeof ids[0]);
    }
    *pulCount = n;
done:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_GetSlotInfo)(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    CK_RV rv;
    char desc[64];
    if (!pInfo)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&dt_lock);
    rv = dt_slot_check(slotID, 0);
    if (rv == CKR_OK) {
        memset(pInfo, 0, sizeof *pInfo);
        snprintf(desc, sizeof desc, "seald devtoken slot %lu", (unsigned long)slotID);
        dt_pad(pInfo->slotDescription, sizeof pInfo->slotDescription, desc);
        dt_pad(pInfo->manufacturerID, sizeof pInfo->manufacturerID, "seald");
        pInfo->flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT |
                       (dt_slots[slotID].present ? CKF_TOKEN_PRESENT : 0);
    }
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_GetTokenInfo)(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    CK_RV rv;
    struct dt_slot *s;
    char model[32];
    if (!pInfo)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&dt_lock);
    rv = dt_slot_check(slotID, 1);
    if (rv != CKR_OK)
        goto done;
    s = &dt_slots[slotID];
    memset(pInfo, 0, sizeof *pInfo);
    dt_pad(pInfo->label, sizeof pInfo->label, s->label);
    dt_pad(pInfo->manufacturerID, sizeof pInfo->manufacturerID, "seald devtoken");
    snprintf(model, sizeof model, "SM2 %s", s->prof->name);
    dt_pad(pInfo->model, sizeof pInfo->model, model);
    dt_pad(pInfo->serialNumber, sizeof pInfo->serialNumber, s->serial);
    pInfo->flags = CKF_RNG | CKF_LOGIN_REQUIRED;
    if (s->initialized)
        pInfo->flags |= CKF_TOKEN_INITIALIZED;
    if (s->user_set)
        pInfo->flags |= CKF_USER_PIN_INITIALIZED;
    if (s->user_fail > 0)
        pInfo->flags |= CKF_USER_PIN_COUNT_LOW;
    if (s->user_fail == DT_MAX_FAIL - 1)
        pInfo->flags |= CKF_USER_PIN_FINAL_TRY;
    if (s->user_fail >= DT_MAX_FAIL)
        pInfo->flags |= CKF_USER_PIN_LOCKED;
    if (s->so_fail >= DT_MAX_FAIL)
        pInfo->flags |= CKF_SO_PIN_LOCKED;
    pInfo->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    pInfo->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    pInfo->ulSessionCount = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulMaxPinLen = DT_PIN_MAX;
    pInfo->ulMinPinLen = DT_PIN_MIN;
    pInfo->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->hardwareVersion.major = 1;
    pInfo->firmwareVersion.major = 1;
    dt_pad(pInfo->utcTime, sizeof pInfo->utcTime, "");
done:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_GetMechanismList)(CK_SLOT_ID slotID,
        CK_MECHANISM_TYPE_PTR pList, CK_ULONG_PTR pulCount)
{
    CK_RV rv;
    CK_MECHANISM_TYPE m[4];
    CK_ULONG n = 0;
    if (!pulCount)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&dt_lock);
    rv = dt_slot_check(slotID, 1);
    if (rv != CKR_OK)
        goto done;
    m[n++] = dt_slots[slotID].prof->gen;
    m[n++] = dt_slots[slotID].prof->sign_raw;
    if (dt_slots[slotID].prof->sign_sm3)
        m[n++] = dt_slots[slotID].prof->sign_sm3;
    if (dt_slots[slotID].prof->decrypt)
        m[n++] = dt_slots[slotID].prof->decrypt;
    if (pList) {
        if (*pulCount < n)
            rv = CKR_BUFFER_TOO_SMALL;
        else
            memcpy(pList, m, n * sizeof m[0]);
    }
    *pulCount = n;
done:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_GetMechanismInfo)(CK_SLOT_ID slotID,
        CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
    CK_RV rv;
    const struct dt_profile *p;
    if (!pInfo)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&dt_lock);
    rv = dt_slot_check(slotID, 1);
    if (rv != CKR_OK)
        goto done;
    p = dt_slots[slotID].prof;
    pInfo->ulMinKeySize = 256;
    pInfo->ulMaxKeySize = 256;
    if (type == p->gen)
        pInfo->flags = CKF_HW | CKF_GENERATE_KEY_PAIR;
    else if (type == p->sign_raw || (p->sign_sm3 && type == p->sign_sm3))
        pInfo->flags = CKF_HW | CKF_SIGN;
    else if (p->decrypt && type == p->decrypt)
        pInfo->flags = CKF_HW | CKF_DECRYPT;
    else
        rv = CKR_MECHANISM_INVALID;
done:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

/* ---------- token and PIN management ---------- */

static int dt_pin_ok_len(CK_ULONG n)
{
    return n >= DT_PIN_MIN && n <= DT_PIN_MAX;
}

CK_DEFINE_FUNCTION(CK_RV, C_InitToken)(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin,
        CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel)
{
    CK_RV rv;
    struct dt_slot *s;
    unsigned char kek[32], mk[DT_MK_LEN];
    size_t L;
    pthread_mutex_lock(&dt_lock);
    rv = dt_slot_check(slotID, 1);
    if (rv != CKR_OK)
        goto done;
    s = &dt_slots[slotID];
    if (!pPin || !pLabel) { rv = CKR_ARGUMENTS_BAD; goto done; }
    if (!dt_pin_ok_len(ulPinLen)) { rv = CKR_PIN_LEN_RANGE; goto done; }
    for (size_t i = 0; i < DT_MAX_SESSIONS; i++)
        if (dt_sessions[i].used && dt_sessions[i].slot == slotID) {
            rv = CKR_SESSION_EXISTS;
            goto done;
        }
    if (s->initialized) {
        if (s->so_fail >= DT_MAX_FAIL) { rv = CKR_PIN_LOCKED; goto done; }
        if (dt_kdf(pPin, ulPinLen, s->so_salt, kek) != 0 ||
            dt_unwrap(kek, DT_AAD_MK, s->so_wrap, DT_MK_LEN, mk) != 0) {
            s->so_fail++;
            dt_store_save_token(s);
            rv = CKR_PIN_INCORRECT;
            goto done;
        }
    }
    dt_logout_slot(s);
    if (dt_store_wipe_keys(s) != 0 && s->initialized) { rv = CKR_DEVICE_ERROR; goto done; }
    dt_store_load(s);            /* clears the key table */
    memcpy(s->label, pLabel, 32);
    s->label[32] = '\0';
    for (L = 32; L > 0 && s->label[L - 1] == ' '; L--)
        s->label[L - 1] = '\0';
    if (RAND_bytes(mk, sizeof mk) != 1 || RAND_bytes(s->so_salt, DT_SALT_LEN) != 1 ||
        dt_kdf(pPin, ulPinLen, s->so_salt, kek) != 0 ||
        dt_wrap(kek, DT_AAD_MK, mk, DT_MK_LEN, s->so_wrap) != 0) {
        rv = CKR_FUNCTION_FAILED;
        goto done;
    }
    s->user_set = 0;
    s->so_fail = s->user_fail = 0;
    if (dt_store_save_token(s) != 0) { rv = CKR_DEVICE_ERROR; goto done; }
    s->initialized = 1;
done:
    dt_wipe(kek, sizeof kek);
    dt_wipe(mk, sizeof mk);
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_InitPIN)(CK_SESSION_HANDLE hSession,
        CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    CK_RV rv;
    struct dt_session *ss;
    struct dt_slot *s;
    unsigned char kek[32];
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (!ss)
        goto done;
    s = &dt_slots[ss->slot];
    if (s->login != CKU_SO) { rv = CKR_USER_NOT_LOGGED_IN; goto done; }
    if (!(ss->flags & CKF_RW_SESSION)) { rv = CKR_SESSION_READ_ONLY; goto done; }
    if (!pPin || !dt_pin_ok_len(ulPinLen)) { rv = CKR_PIN_LEN_RANGE; goto done; }
    if (RAND_bytes(s->user_salt, DT_SALT_LEN) != 1 ||
        dt_kdf(pPin, ulPinLen, s->user_salt, kek) != 0 ||
        dt_wrap(kek, DT_AAD_MK, s->mk, DT_MK_LEN, s->user_wrap) != 0) {
        rv = CKR_FUNCTION_FAILED;
        goto done;
    }
    s->user_set = 1;
    s->user_fail = 0;
    if (dt_store_save_token(s) != 0)
        rv = CKR_DEVICE_ERROR;
done:
    dt_wipe(kek, sizeof kek);
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

/* Verify pin for user type u against slot s; on success leaves the master
 * key in mk.  Counts failures.  Called with the lock held. */
static CK_RV dt_check_pin(struct dt_slot *s, CK_USER_TYPE u,
                          const unsigned char *pin, CK_ULONG len,
                          unsigned char mk[DT_MK_LEN])
{
    unsigned char kek[32];
    int *fail = u == CKU_SO ? &s->so_fail : &s->user_fail;
    const unsigned char *salt = u == CKU_SO ? s->so_salt : s->user_salt;
    const unsigned char *wrap = u == CKU_SO ? s->so_wrap : s->user_wrap;
    CK_RV rv = CKR_OK;
    if (!s->initialized)
        return CKR_USER_PIN_NOT_INITIALIZED;
    if (u == CKU_USER && !s->user_set)
        return CKR_USER_PIN_NOT_INITIALIZED;
    if (*fail >= DT_MAX_FAIL)
        return CKR_PIN_LOCKED;
    if (!pin || len > DT_PIN_MAX)
        return CKR_PIN_INCORRECT;
    if (dt_kdf(pin, len, salt, kek) != 0 ||
        dt_unwrap(kek, DT_AAD_MK, wrap, DT_MK_LEN, mk) != 0) {
        (*fail)++;
        dt_store_save_token(s);
        rv = *fail >= DT_MAX_FAIL ? CKR_PIN_LOCKED : CKR_PIN_INCORRECT;
    } else if (*fail) {
        *fail = 0;
        dt_store_save_token(s);
    }
    dt_wipe(kek, sizeof kek);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_SetPIN)(CK_SESSION_HANDLE hSession,
        CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
        CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
    CK_RV rv;
    struct dt_session *ss;
    struct dt_slot *s;
    CK_USER_TYPE u;
    unsigned char mk[DT_MK_LEN], kek[32];
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (!ss)
        goto done;
    s = &dt_slots[ss->slot];
    u = s->login == CKU_SO ? CKU_SO : CKU_USER;
    if (!(ss->flags & CKF_RW_SESSION)) { rv = CKR_SESSION_READ_ONLY; goto done; }
    if (!pNewPin || !dt_pin_ok_len(ulNewLen)) { rv = CKR_PIN_LEN_RANGE; goto done; }
    rv = dt_check_pin(s, u, pOldPin, ulOldLen, mk);
    if (rv != CKR_OK)
        goto done;
    {
        unsigned char *salt = u == CKU_SO ? s->so_salt : s->user_salt;
        unsigned char *wrap = u == CKU_SO ? s->so_wrap : s->user_wrap;
        if (RAND_bytes(salt, DT_SALT_LEN) != 1 ||
            dt_kdf(pNewPin, ulNewLen, salt, kek) != 0 ||
            dt_wrap(kek, DT_AAD_MK, mk, DT_MK_LEN, wrap) != 0) {
            rv = CKR_FUNCTION_FAILED;
            goto done;
        }
    }
    if (dt_store_save_token(s) != 0)
        rv = CKR_DEVICE_ERROR;
done:
    dt_wipe(mk, sizeof mk);
    dt_wipe(kek, sizeof kek);
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

/* ---------- sessions and login ---------- */

CK_DEFINE_FUNCTION(CK_RV, C_OpenSession)(CK_SLOT_ID slotID, CK_FLAGS flags,
        CK_VOID_PTR pApplication, CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
    CK_RV rv;
    pthread_mutex_lock(&dt_lock);
    rv = dt_slot_check(slotID, 1);
    if (rv != CKR_OK)
        goto done;
    if (!phSession) { rv = CKR_ARGUMENTS_BAD; goto done; }
    if (!(flags & CKF_SERIAL_SESSION)) { rv = CKR_SESSION_PARALLEL_NOT_SUPPORTED; goto done; }
    rv = CKR_SESSION_COUNT;
    for (size_t k = 0; k < DT_MAX_SESSIONS; k++) {
        size_t i = (dt_session_serial + k) % DT_MAX_SESSIONS;
        struct dt_session *ss = &dt_sessions[i];
        if (ss->used)
            continue;
        dt_session_serial = dt_session_serial + k + 1;
        memset(ss, 0, sizeof *ss);
        ss->used = 1;
        ss->slot = slotID;
        ss->flags = flags;
        ss->handle = (CK_SESSION_HANDLE)(dt_session_serial * DT_MAX_SESSIONS + i + 1);
        /* keep (handle - 1) % DT_MAX_SESSIONS == i */
        *phSession = ss->handle;
        rv = CKR_OK;
        break;
    }
done:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

static int dt_slot_has_sessions(CK_SLOT_ID id)
{
    for (size_t i = 0; i < DT_MAX_SESSIONS; i++)
        if (dt_sessions[i].used && dt_sessions[i].slot == id)
            return 1;
    return 0;
}

CK_DEFINE_FUNCTION(CK_RV, C_CloseSession)(CK_SESSION_HANDLE hSession)
{
    CK_RV rv;
    struct dt_session *ss;
    CK_SLOT_ID id;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (ss) {
        id = ss->slot;
        dt_session_free(ss);
        if (!dt_slot_has_sessions(id))
            dt_logout_slot(&dt_slots[id]);
    }
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_CloseAllSessions)(CK_SLOT_ID slotID)
{
    CK_RV rv;
    pthread_mutex_lock(&dt_lock);
    rv = dt_slot_check(slotID, 1);
    if (rv == CKR_OK) {
        dt_close_slot_sessions(slotID);
        dt_logout_slot(&dt_slots[slotID]);
    }
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_GetSessionInfo)(CK_SESSION_HANDLE hSession,
        CK_SESSION_INFO_PTR pInfo)
{
    CK_RV rv;
    struct dt_session *ss;
    struct dt_slot *s;
    int rw;
    if (!pInfo)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (ss) {
        s = &dt_slots[ss->slot];
        rw = (ss->flags & CKF_RW_SESSION) != 0;
        pInfo->slotID = ss->slot;
        pInfo->flags = ss->flags;
        pInfo->ulDeviceError = 0;
        if (s->login == CKU_SO)
            pInfo->state = CKS_RW_SO_FUNCTIONS;
        else if (s->login == CKU_USER)
            pInfo->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
        else
            pInfo->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    }
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_Login)(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
        CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    CK_RV rv;
    struct dt_session *ss;
    struct dt_slot *s;
    unsigned char mk[DT_MK_LEN];
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (!ss)
        goto done;
    s = &dt_slots[ss->slot];
    if (userType != CKU_USER && userType != CKU_SO) { rv = CKR_USER_TYPE_INVALID; goto done; }
    if (s->login == userType) { rv = CKR_USER_ALREADY_LOGGED_IN; goto done; }
    if (s->login != DT_NOBODY) { rv = CKR_USER_ANOTHER_ALREADY_LOGGED_IN; goto done; }
    rv = dt_check_pin(s, userType, pPin, ulPinLen, mk);
    if (rv != CKR_OK)
        goto done;
    memcpy(s->mk, mk, sizeof mk);
    s->login = userType;
    if (userType == CKU_USER)
        for (size_t i = 0; i < DT_MAX_KEYS; i++)
            if (s->keys[i].used)
                (void)dt_key_unlock(s, &s->keys[i]);
done:
    dt_wipe(mk, sizeof mk);
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_Logout)(CK_SESSION_HANDLE hSession)
{
    CK_RV rv;
    struct dt_session *ss;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (ss) {
        if (dt_slots[ss->slot].login == DT_NOBODY)
            rv = CKR_USER_NOT_LOGGED_IN;
        else
            dt_logout_slot(&dt_slots[ss->slot]);
    }
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

/* ---------- objects ---------- */

CK_DEFINE_FUNCTION(CK_RV, C_GetAttributeValue)(CK_SESSION_HANDLE hSession,
        CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    CK_RV rv, r;
    struct dt_session *ss;
    struct dt_slot *s;
    struct dt_key *k;
    int priv = 0;
    unsigned char buf[DT_ATTR_BUF];
    size_t len = 0;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (!ss)
        goto done;
    s = &dt_slots[ss->slot];
    k = dt_key_by_handle(s, hObject, &priv);
    if (!k || (priv && s->login != CKU_USER)) { rv = CKR_OBJECT_HANDLE_INVALID; goto done; }
    for (CK_ULONG i = 0; i < ulCount; i++) {
        r = dt_attr(s, k, priv, pTemplate[i].type, buf, &len);
        if (r != CKR_OK) {
            pTemplate[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = r;
        } else if (!pTemplate[i].pValue) {
            pTemplate[i].ulValueLen = len;
        } else if (pTemplate[i].ulValueLen < len) {
            pTemplate[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_BUFFER_TOO_SMALL;
        } else {
            memcpy(pTemplate[i].pValue, buf, len);
            pTemplate[i].ulValueLen = len;
        }
    }
done:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

static int dt_matches(const struct dt_slot *s, const struct dt_key *k, int priv,
                      CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    unsigned char buf[DT_ATTR_BUF];
    size_t len = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        if (dt_attr(s, k, priv, t[i].type, buf, &len) != CKR_OK)
            return 0;
        if (len != t[i].ulValueLen || (len && (!t[i].pValue || memcmp(buf, t[i].pValue, len) != 0)))
            return 0;
    }
    return 1;
}

CK_DEFINE_FUNCTION(CK_RV, C_FindObjectsInit)(CK_SESSION_HANDLE hSession,
        CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    CK_RV rv;
    struct dt_session *ss;
    struct dt_slot *s;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (!ss)
        goto done;
    if (ss->find_active) { rv = CKR_OPERATION_ACTIVE; goto done; }
    s = &dt_slots[ss->slot];
    ss->found_n = ss->found_pos = 0;
    dt_store_refresh_keys(s);    /* keys made by another process */
    for (size_t i = 0; i < DT_MAX_KEYS; i++) {
        struct dt_key *k = &s->keys[i];
        if (!k->used)
            continue;
        if (s->login == CKU_USER && dt_matches(s, k, 1, pTemplate, ulCount))
            ss->found[ss->found_n++] = k->hpriv;
        if (dt_matches(s, k, 0, pTemplate, ulCount))
            ss->found[ss->found_n++] = k->hpub;
    }
    ss->find_active = 1;
done:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_FindObjects)(CK_SESSION_HANDLE hSession,
        CK_OBJECT_HANDLE_PTR phObject, CK_ULONG ulMaxCount, CK_ULONG_PTR pulCount)
{
    CK_RV rv;
    struct dt_session *ss;
    CK_ULONG n = 0;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (!ss)
        goto done;
    if (!phObject || !pulCount) { rv = CKR_ARGUMENTS_BAD; goto done; }
    if (!ss->find_active) { rv = CKR_OPERATION_NOT_INITIALIZED; goto done; }
    while (n < ulMaxCount && ss->found_pos < ss->found_n)
        phObject[n++] = ss->found[ss->found_pos++];
    *pulCount = n;
done:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_FindObjectsFinal)(CK_SESSION_HANDLE hSession)
{
    CK_RV rv;
    struct dt_session *ss;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (ss) {
        if (!ss->find_active)
            rv = CKR_OPERATION_NOT_INITIALIZED;
        ss->find_active = 0;
    }
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_DestroyObject)(CK_SESSION_HANDLE hSession,
        CK_OBJECT_HANDLE hObject)
{
    CK_RV rv;
    struct dt_session *ss;
    struct dt_slot *s;
    struct dt_key *k;
    int priv = 0;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (!ss)
        goto done;
    s = &dt_slots[ss->slot];
    if (s->login != CKU_USER) { rv = CKR_USER_NOT_LOGGED_IN; goto done; }
    if (!(ss->flags & CKF_RW_SESSION)) { rv = CKR_SESSION_READ_ONLY; goto done; }
    k = dt_key_by_handle(s, hObject, &priv);
    if (!k) { rv = CKR_OBJECT_HANDLE_INVALID; goto done; }
    if (!priv)
        goto done;          /* the pair lives in one file: delete via private */
    if (dt_store_remove_key(s, k) != 0) { rv = CKR_DEVICE_ERROR; goto done; }
    EVP_PKEY_free(k->priv);
    memset(k, 0, sizeof *k);
done:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

/* ---------- key generation ---------- */

CK_DEFINE_FUNCTION(CK_RV, C_GenerateKeyPair)(CK_SESSION_HANDLE hSession,
        CK_MECHANISM_PTR pMechanism,
        CK_ATTRIBUTE_PTR pPubTpl, CK_ULONG ulPubCount,
        CK_ATTRIBUTE_PTR pPrivTpl, CK_ULONG ulPrivCount,
        CK_OBJECT_HANDLE_PTR phPub, CK_OBJECT_HANDLE_PTR phPriv)
{
    CK_RV rv;
    struct dt_session *ss;
    struct dt_slot *s;
    struct dt_key *k = NULL;
    EVP_PKEY_CTX *c = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM *d = NULL;
    unsigned char scalar[DT_SCALAR_LEN];
    const char *v;
    size_t len = 0, publ = 0;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (!ss)
        goto done;
    s = &dt_slots[ss->slot];
    if (!pMechanism || !phPub || !phPriv) { rv = CKR_ARGUMENTS_BAD; goto done; }
    if (pMechanism->mechanism != s->prof->gen) { rv = CKR_MECHANISM_INVALID; goto done; }
    if (s->login != CKU_USER) { rv = CKR_USER_NOT_LOGGED_IN; goto done; }
    if (!(ss->flags & CKF_RW_SESSION)) { rv = CKR_SESSION_READ_ONLY; goto done; }
    for (size_t i = 0; i < DT_MAX_KEYS && !k; i++)
        if (!s->keys[i].used)
            k = &s->keys[i];
    if (!k) { rv = CKR_DEVICE_MEMORY; goto done; }
    memset(k, 0, sizeof *k);
    c = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
    if (!c || EVP_PKEY_keygen_init(c) != 1 || EVP_PKEY_keygen(c, &pk) != 1 ||
        EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
        BN_bn2binpad(d, scalar, sizeof scalar) != (int)sizeof scalar ||
        EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, k->pub,
                                        sizeof k->pub, &publ) != 1 ||
        publ != DT_PUB_LEN || k->pub[0] != 0x04 ||
        dt_wrap(s->mk, DT_AAD_KEY, scalar, sizeof scalar, k->wrapped) != 0) {
        rv = CKR_FUNCTION_FAILED;
        goto done;
    }
    v = dt_attr_find(pPrivTpl, ulPrivCount, CKA_ID, &len);
    if (!v)
        v = dt_attr_find(pPubTpl, ulPubCount, CKA_ID, &len);
    if (v && (len == 0 || len > DT_MAX_ID)) { rv = CKR_ATTRIBUTE_VALUE_INVALID; goto done; }
    if (v) {
        memcpy(k->id, v, len);
        k->id_len = len;
    } else {                                 /* default id: SHA-1 of the point */
        SHA1(k->pub, sizeof k->pub, k->id);
        k->id_len = SHA_DIGEST_LENGTH;
    }
    for (size_t i = 0; i < DT_MAX_KEYS; i++)
        if (&s->keys[i] != k && s->keys[i].used && s->keys[i].id_len == k->id_len &&
            memcmp(s->keys[i].id, k->id, k->id_len) == 0) {
            rv = CKR_ATTRIBUTE_VALUE_INVALID;   /* duplicate CKA_ID */
            goto done;
        }
    v = dt_attr_find(pPrivTpl, ulPrivCount, CKA_LABEL, &len);
    if (!v)
        v = dt_attr_find(pPubTpl, ulPubCount, CKA_LABEL, &len);
    if (v) {
        if (len > DT_MAX_LABEL) { rv = CKR_ATTRIBUTE_VALUE_INVALID; goto done; }
        memcpy(k->label, v, len);
        k->label[len] = '\0';
    }
    if (dt_store_save_key(s, k) != 0) { rv = CKR_DEVICE_ERROR; goto done; }
    k->used = 1;
    k->priv = pk;
    pk = NULL;
    k->hpriv = s->next_handle++;
    k->hpub = s->next_handle++;
    *phPriv = k->hpriv;
    *phPub = k->hpub;
done:
    if (k && !k->used)
        memset(k, 0, sizeof *k);
    dt_wipe(scalar, sizeof scalar);
    BN_clear_free(d);
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(c);
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

/* ---------- signing ---------- */

CK_DEFINE_FUNCTION(CK_RV, C_SignInit)(CK_SESSION_HANDLE hSession,
        CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    CK_RV rv;
    struct dt_session *ss;
    struct dt_slot *s;
    struct dt_key *k;
    int priv = 0;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (!ss)
        goto done;
    s = &dt_slots[ss->slot];
    if (!pMechanism) { rv = CKR_ARGUMENTS_BAD; goto done; }
    if (ss->sign_active) { rv = CKR_OPERATION_ACTIVE; goto done; }
    if (pMechanism->mechanism != s->prof->sign_raw &&
        (!s->prof->sign_sm3 || pMechanism->mechanism != s->prof->sign_sm3)) {
        rv = CKR_MECHANISM_INVALID;
        goto done;
    }
    if (s->login != CKU_USER) { rv = CKR_USER_NOT_LOGGED_IN; goto done; }
    k = dt_key_by_handle(s, hKey, &priv);
    if (!k || !priv) { rv = CKR_KEY_HANDLE_INVALID; goto done; }
    if (dt_key_unlock(s, k) != 0) { rv = CKR_DEVICE_ERROR; goto done; }
    if (EVP_PKEY_up_ref(k->priv) != 1) { rv = CKR_HOST_MEMORY; goto done; }
    ss->sign_key = k->priv;
    ss->sign_mech = pMechanism->mechanism;
    ss->sign_active = 1;
done:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

/* DER ECDSA-Sig-Value -> r||s (64 bytes).  0 ok. */
static int dt_der_to_raw(const unsigned char *der, size_t len, unsigned char out[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    int rc = -1;
    if (!sig)
        return -1;
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32) == 32 &&
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32) == 32)
        rc = 0;
    ECDSA_SIG_free(sig);
    return rc;
}

/* The SM2 math, run without dt_lock.  0 ok. */
static int dt_do_sign(EVP_PKEY *key, CK_MECHANISM_TYPE mech, const struct dt_profile *p,
                      const unsigned char *in, size_t inlen,
                      unsigned char *sig, size_t *siglen)
{
    unsigned char der[DT_SIG_MAX];
    size_t dl = sizeof der;
    EVP_PKEY_CTX *c = NULL;
    EVP_MD_CTX *md = NULL;
    int rc = -1;
    if (mech == p->sign_raw) {
        c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        if (!c || EVP_PKEY_sign_init(c) != 1 ||
            EVP_PKEY_sign(c, der, &dl, in, inlen) != 1)
            goto done;
    } else {
        md = EVP_MD_CTX_new();
        c = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        if (!md || !c ||
            EVP_PKEY_CTX_set1_id(c, DT_SM2_DEFAULT_ID, strlen(DT_SM2_DEFAULT_ID)) != 1)
            goto done;
        EVP_MD_CTX_set_pkey_ctx(md, c);
        if (EVP_DigestSignInit(md, NULL, EVP_sm3(), NULL, key) != 1 ||
            EVP_DigestSign(md, der, &dl, in, inlen) != 1)
            goto done;
    }
    if (p->der) {
        memcpy(sig, der, dl);
        *siglen = dl;
    } else {
        if (dt_der_to_raw(der, dl, sig) != 0)
            goto done;
        *siglen = 64;
    }
    rc = 0;
done:
    EVP_MD_CTX_free(md);
    EVP_PKEY_CTX_free(c);
    return rc;
}

CK_DEFINE_FUNCTION(CK_RV, C_Sign)(CK_SESSION_HANDLE hSession,
        CK_BYTE_PTR pData, CK_ULONG ulDataLen,
        CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    CK_RV rv;
    struct dt_session *ss;
    const struct dt_profile *p;
    EVP_PKEY *key = NULL;
    CK_MECHANISM_TYPE mech;
    CK_SLOT_ID slot;
    unsigned gen;
    unsigned char sig[DT_SIG_MAX];
    size_t siglen = 0, maxlen;
    int ok;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (!ss)
        goto unlock;
    if (!ss->sign_active) { rv = CKR_OPERATION_NOT_INITIALIZED; goto unlock; }
    p = dt_slots[ss->slot].prof;
    maxlen = p->der ? 72 : 64;
    if (!pulSignatureLen || !pData) { rv = CKR_ARGUMENTS_BAD; goto finish; }
    if (!pSignature) { *pulSignatureLen = maxlen; goto unlock; }
    if (*pulSignatureLen < maxlen) {
        *pulSignatureLen = maxlen;
        rv = CKR_BUFFER_TOO_SMALL;
        goto unlock;
    }
    if (ss->sign_mech == p->sign_raw && ulDataLen != 32) {
        rv = CKR_DATA_LEN_RANGE;
        goto finish;
    }
    /* take the key and leave the lock for the math */
    key = ss->sign_key;
    ss->sign_key = NULL;
    ss->sign_active = 0;
    mech = ss->sign_mech;
    slot = ss->slot;
    gen = dt_slots[slot].gen;
    pthread_mutex_unlock(&dt_lock);

    ok = dt_do_sign(key, mech, p, pData, ulDataLen, sig, &siglen) == 0;
    EVP_PKEY_free(key);

    pthread_mutex_lock(&dt_lock);
    if (!dt_initialized || !dt_refresh(slot) || dt_slots[slot].gen != gen)
        rv = CKR_DEVICE_REMOVED;
    else if (!ok)
        rv = CKR_FUNCTION_FAILED;
    else {
        if (dt_slots[slot].faulty)
            sig[siglen - 1] ^= 0x01;        /* the last byte of s */
        memcpy(pSignature, sig, siglen);
        *pulSignatureLen = siglen;
    }
    dt_wipe(sig, sizeof sig);
    goto unlock;
finish:
    EVP_PKEY_free(ss->sign_key);
    ss->sign_key = NULL;
    ss->sign_active = 0;
unlock:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

/* ---------- decryption (the data-key unwrap) ---------- */

CK_DEFINE_FUNCTION(CK_RV, C_DecryptInit)(CK_SESSION_HANDLE hSession,
        CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
    CK_RV rv;
    struct dt_session *ss;
    struct dt_slot *s;
    struct dt_key *k;
    int priv = 0;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (!ss)
        goto done;
    s = &dt_slots[ss->slot];
    if (!pMechanism) { rv = CKR_ARGUMENTS_BAD; goto done; }
    if (ss->decrypt_active) { rv = CKR_OPERATION_ACTIVE; goto done; }
    if (!s->prof->decrypt || pMechanism->mechanism != s->prof->decrypt) {
        rv = CKR_MECHANISM_INVALID;
        goto done;
    }
    if (s->login != CKU_USER) { rv = CKR_USER_NOT_LOGGED_IN; goto done; }
    k = dt_key_by_handle(s, hKey, &priv);
    if (!k || !priv) { rv = CKR_KEY_HANDLE_INVALID; goto done; }
    if (dt_key_unlock(s, k) != 0) { rv = CKR_DEVICE_ERROR; goto done; }
    if (EVP_PKEY_up_ref(k->priv) != 1) { rv = CKR_HOST_MEMORY; goto done; }
    ss->decrypt_key = k->priv;
    ss->decrypt_active = 1;
done:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

/* Single-part decryption: the SM2 math runs under dt_lock (it is rare: one
 * call per data key a process unwraps).  A NULL pData asks for the length
 * (an upper bound: the ciphertext's) and keeps the operation active, as
 * PKCS#11 says; every other outcome ends it. */
CK_DEFINE_FUNCTION(CK_RV, C_Decrypt)(CK_SESSION_HANDLE hSession,
        CK_BYTE_PTR pEncryptedData, CK_ULONG ulEncryptedDataLen,
        CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
    CK_RV rv;
    struct dt_session *ss;
    EVP_PKEY_CTX *c = NULL;
    size_t outl;
    pthread_mutex_lock(&dt_lock);
    ss = dt_session_get(hSession, &rv);
    if (!ss)
        goto unlock;
    if (!ss->decrypt_active) { rv = CKR_OPERATION_NOT_INITIALIZED; goto unlock; }
    if (!pEncryptedData || !pulDataLen) { rv = CKR_ARGUMENTS_BAD; goto finish; }
    if (!pData) { *pulDataLen = ulEncryptedDataLen; goto unlock; }
    outl = *pulDataLen;
    c = EVP_PKEY_CTX_new_from_pkey(NULL, ss->decrypt_key, NULL);
    if (!c || EVP_PKEY_decrypt_init(c) != 1) {
        rv = CKR_FUNCTION_FAILED;
        goto finish;
    }
    if (EVP_PKEY_decrypt(c, NULL, &outl, pEncryptedData,
                         ulEncryptedDataLen) != 1) {
        rv = CKR_ENCRYPTED_DATA_INVALID;
        goto finish;
    }
    if (outl > *pulDataLen) {
        *pulDataLen = outl;
        rv = CKR_BUFFER_TOO_SMALL;
        EVP_PKEY_CTX_free(c);
        goto unlock;
    }
    outl = *pulDataLen;
    if (EVP_PKEY_decrypt(c, pData, &outl, pEncryptedData,
                         ulEncryptedDataLen) != 1)
        rv = CKR_ENCRYPTED_DATA_INVALID;
    else
        *pulDataLen = outl;
finish:
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(ss->decrypt_key);
    ss->decrypt_key = NULL;
    ss->decrypt_active = 0;
unlock:
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_GenerateRandom)(CK_SESSION_HANDLE hSession,
        CK_BYTE_PTR pRandomData, CK_ULONG ulRandomLen)
{
    CK_RV rv;
    pthread_mutex_lock(&dt_lock);
    if (dt_session_get(hSession, &rv) &&
        RAND_bytes(pRandomData, (int)ulRandomLen) != 1)
        rv = CKR_FUNCTION_FAILED;
    pthread_mutex_unlock(&dt_lock);
    return rv;
}

CK_DEFINE_FUNCTION(CK_RV, C_WaitForSlotEvent)(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot,
        CK_VOID_PTR pReserved)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

/* ---------- not supported ---------- */

#define DT_NS(name, args) \
    CK_DEFINE_FUNCTION(CK_RV, name) args { return CKR_FUNCTION_NOT_SUPPORTED; }

DT_NS(C_GetOperationState, (CK_SESSION_HANDLE h, CK_BYTE_PTR s, CK_ULONG_PTR l))
DT_NS(C_SetOperationState, (CK_SESSION_HANDLE h, CK_BYTE_PTR s, CK_ULONG l,
                            CK_OBJECT_HANDLE a, CK_OBJECT_HANDLE b))
DT_NS(C_CreateObject, (CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                       CK_OBJECT_HANDLE_PTR o))
DT_NS(C_CopyObject, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t,
                     CK_ULONG n, CK_OBJECT_HANDLE_PTR no))
DT_NS(C_GetObjectSize, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ULONG_PTR l))
DT_NS(C_SetAttributeValue, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                            CK_ATTRIBUTE_PTR t, CK_ULONG n))
DT_NS(C_EncryptInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k))
DT_NS(C_Encrypt, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o,
                  CK_ULONG_PTR ol))
DT_NS(C_EncryptUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o,
                        CK_ULONG_PTR ol))
DT_NS(C_EncryptFinal, (CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG_PTR ol))
DT_NS(C_DecryptUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o,
                        CK_ULONG_PTR ol))
DT_NS(C_DecryptFinal, (CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG_PTR ol))
DT_NS(C_DigestInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m))
DT_NS(C_Digest, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o,
                 CK_ULONG_PTR ol))
DT_NS(C_DigestUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l))
DT_NS(C_DigestKey, (CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k))
DT_NS(C_DigestFinal, (CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG_PTR ol))
DT_NS(C_SignUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l))
DT_NS(C_SignFinal, (CK_SESSION_HANDLE h, CK_BYTE_PTR o, CK_ULONG_PTR ol))
DT_NS(C_SignRecoverInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k))
DT_NS(C_SignRecover, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR o,
                      CK_ULONG_PTR ol))
DT_NS(C_VerifyInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k))
DT_NS(C_Verify, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l, CK_BYTE_PTR s,
                 CK_ULONG sl))
DT_NS(C_VerifyUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l))
DT_NS(C_VerifyFinal, (CK_SESSION_HANDLE h, CK_BYTE_PTR s, CK_ULONG l))
DT_NS(C_VerifyRecoverInit, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k))
DT_NS(C_VerifyRecover, (CK_SESSION_HANDLE h, CK_BYTE_PTR s, CK_ULONG l, CK_BYTE_PTR o,
                        CK_ULONG_PTR ol))
DT_NS(C_DigestEncryptUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l,
                              CK_BYTE_PTR o, CK_ULONG_PTR ol))
DT_NS(C_DecryptDigestUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l,
                              CK_BYTE_PTR o, CK_ULONG_PTR ol))
DT_NS(C_SignEncryptUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l,
                            CK_BYTE_PTR o, CK_ULONG_PTR ol))
DT_NS(C_DecryptVerifyUpdate, (CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG l,
                              CK_BYTE_PTR o, CK_ULONG_PTR ol))
DT_NS(C_GenerateKey, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t,
                      CK_ULONG n, CK_OBJECT_HANDLE_PTR k))
DT_NS(C_WrapKey, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE a,
                  CK_OBJECT_HANDLE b, CK_BYTE_PTR o, CK_ULONG_PTR ol))
DT_NS(C_UnwrapKey, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE a,
                    CK_BYTE_PTR w, CK_ULONG wl, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                    CK_OBJECT_HANDLE_PTR k))
DT_NS(C_DeriveKey, (CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE b,
                    CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR k))
DT_NS(C_SeedRandom, (CK_SESSION_HANDLE h, CK_BYTE_PTR s, CK_ULONG l))
DT_NS(C_GetFunctionStatus, (CK_SESSION_HANDLE h))
DT_NS(C_CancelFunction, (CK_SESSION_HANDLE h))

static CK_FUNCTION_LIST dt_function_list = {
    { 2, 40 },
    C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList,
    C_GetSlotInfo, C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo,
    C_InitToken, C_InitPIN, C_SetPIN, C_OpenSession, C_CloseSession,
    C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState,
    C_SetOperationState, C_Login, C_Logout, C_CreateObject, C_CopyObject,
    C_DestroyObject, C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue,
    C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal, C_EncryptInit,
    C_Encrypt, C_EncryptUpdate, C_EncryptFinal, C_DecryptInit, C_Decrypt,
    C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest, C_DigestUpdate,
    C_DigestKey, C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal,
    C_SignRecoverInit, C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate,
    C_VerifyFinal, C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate,
    C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate,
    C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey, C_DeriveKey,
    C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus, C_CancelFunction,
    C_WaitForSlotEvent,
};

CK_DEFINE_FUNCTION(CK_RV, C_GetFunctionList)(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    if (!ppFunctionList)
        return CKR_ARGUMENTS_BAD;
    *ppFunctionList = &dt_function_list;
    return CKR_OK;
}
