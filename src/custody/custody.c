/*
 * custody.c - key custody through PKCS#11 (issue 4): profiles, token
 * connection and recovery, the session pool, generate / public key / sign,
 * health, and the small SM2 Z/e helper.
 *
 * Design (why two paths into the same module):
 *  - libpkcs11-helper loads each provider (pkcs11h_addProvider: dlopen,
 *    C_GetFunctionList, C_Initialize), discovers the token by label
 *    (pkcs11h_token_enumTokenIds) and performs the first login through its
 *    PIN hook (pkcs11h_token_ensureAccess).  The hook reads the PIN from the
 *    configured file/env each time and wipes it; it answers FALSE when
 *    retry > 0, so a wrong PIN costs exactly one try and never locks an HSM.
 *  - libpkcs11-helper keeps ONE session per token and serializes every
 *    operation on it, which caps signing throughput at one HSM core.  So
 *    custody dlopen()s the same module again (same handle, C_Initialize
 *    answers CKR_CRYPTOKI_ALREADY_INITIALIZED; we never C_Finalize or
 *    C_Logout it) and keeps a pool of pool_size extra sessions on the same
 *    slot.  PKCS#11 login state is per application and token, so the pool
 *    sessions share the helper's login.  Operations take a free pool session,
 *    so up to pool_size signatures are in flight per token.
 *  - Mechanisms are validated up front with C_GetMechanismList (an invalid
 *    mechanism would otherwise make libpkcs11-helper reset and re-prompt).
 *
 * Recovery: an operation failing with a device-class error (device removed,
 * token not present, session handle invalid/closed, user not logged in, ...)
 * marks the token "down", bumps its generation (pool sessions of the old
 * generation are reopened lazily) and retries once after one reconnection
 * attempt.  While down, operations fail fast with ERR_HSM_UNAVAILABLE; at most
 * one reconnection attempt every CU_RECOVER_MS (find the slot by label,
 * re-check mechanisms, open a session, C_Login directly with the PIN read
 * anew).  The helper's own reset path is not used for recovery because it
 * C_Logout()s, which would log the whole pool out under running signatures.
 * A refused PIN during (re)login latches "pin_bad": no further automatic
 * login attempts, so an HSM PIN is never locked by retries.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <pkcs11-helper-1.0/pkcs11h-core.h>
#include <pkcs11-helper-1.0/pkcs11h-token.h>

#include "custody.h"
#include "metrics.h"
#include "util.h"

#define CU_RECOVER_MS      100       /* min gap between reconnection tries  */
#define CU_WAIT_MS         10000     /* max wait for a free pool session    */
#define CU_MAX_SLOTS       64
#define CU_MAX_MECHS       512
#define CU_KEYCACHE        64
#define CU_MAX_PROVIDERS   16
#define CU_MAX_FOUND       256
#define CU_PIN_FILE_MAX    4096
#define CU_RAW_SIG_MAX     256

static const uint8_t cu_oid_sm2[] = { 0x06, 0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82, 0x2D };
static const uint8_t cu_oid_p256[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 };

struct cu_profile {
    const char       *name;
    CK_KEY_TYPE       ckk;
    CK_MECHANISM_TYPE gen;
    CK_MECHANISM_TYPE sign;
    int               sm2;   /* 1: SM2 (sign e), 0: ECDSA P-256 (sign digest) */
    int               raw;   /* 1: token emits r||s, 0: DER                   */
    CK_MECHANISM_TYPE decrypt; /* SM2 decryption of a DER SM2Cipher, 0: none */
};

/* decrypt: SANSEC's CKM_SM2_CIPHER_DER (0x80008201) and IBM's
 * CKM_IBM_SM2_ENCRYPT (0x8005000D) from the vendors' headers; TASS assumed
 * to share SANSEC's numbering (confirm with the vendor); Luna's unknown, so
 * none; SoftHSM2 has no SM2 (docs/design.md "Encryption at rest"). */
static const struct cu_profile cu_profiles[] = {
    { "sm2-sansec", 0x80000004UL, 0x80008001UL, 0x80008104UL, 1, 1, 0x80008201UL },
    { "sm2-tass",   0x80000004UL, 0x80008001UL, 0x80008000UL, 1, 0, 0x80008201UL },
    { "sm2-luna",   0x80000016UL, 0x80000B20UL, 0x80000B21UL, 1, 1, 0 },
    { "sm2-ibm",    0x80050002UL, 0x8005000AUL, 0x8005000BUL, 1, 0, 0x8005000DUL },
    { "ecdsa-p256", CKK_EC, CKM_EC_KEY_PAIR_GEN, CKM_ECDSA,   0, 1, 0 },
};

struct cu_sess {
    CK_SESSION_HANDLE h;        /* 0: not open */
    unsigned          gen;
    int               busy;
};

struct cu_keyc {
    uint8_t           id[CUSTODY_ID_MAX];
    size_t            id_len;
    CK_OBJECT_HANDLE  obj;
    unsigned          gen;
    int               used;
};

struct cu_token {
    struct custody_token_conf conf;
    const struct cu_profile  *prof;
    void                     *dl;
    CK_FUNCTION_LIST_PTR      f;
    int                       provider_added;
    pthread_mutex_t           mu;
    pthread_cond_t            cv;
    CK_SLOT_ID                slot;
    int                       down;
    int                       pin_bad;
    unsigned                  gen;
    int64_t                   last_attempt_ms;
    struct cu_sess            pool[CUSTODY_POOL_MAX];
    int                       pool_n;
    struct cu_keyc            keys[CU_KEYCACHE];
    double                    last_sign_ms;      /* < 0: none yet */
    int64_t                   last_sign_at;      /* wall ms */
    char                      last_error[ERR_MSG_MAX];
};

struct custody {
    struct cu_token *tok;
    size_t           n;
};

/* ---------- process-wide libpkcs11-helper state ---------- */

static pthread_mutex_t cu_global = PTHREAD_MUTEX_INITIALIZER;
static int cu_helper_refs;
static struct { char module[CUSTODY_PATH_MAX]; int refs; } cu_providers[CU_MAX_PROVIDERS];

static int cu_is_device_error(CK_RV rv)
{
    switch (rv) {
    case CKR_DEVICE_REMOVED: case CKR_DEVICE_ERROR: case CKR_DEVICE_MEMORY:
    case CKR_TOKEN_NOT_PRESENT: case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SESSION_HANDLE_INVALID: case CKR_SESSION_CLOSED:
    case CKR_SLOT_ID_INVALID: case CKR_USER_NOT_LOGGED_IN:
    case CKR_CRYPTOKI_NOT_INITIALIZED: case CKR_GENERAL_ERROR:
        return 1;
    default:
        return 0;
    }
}

static int cu_is_pin_error(CK_RV rv)
{
    return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED ||
           rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE ||
           rv == CKR_PIN_EXPIRED || rv == CKR_CANCEL || rv == CKR_FUNCTION_CANCELED;
}

static const struct cu_profile *cu_profile_find(const char *name)
{
    for (size_t i = 0; i < sizeof cu_profiles / sizeof cu_profiles[0]; i++)
        if (strcmp(cu_profiles[i].name, name) == 0)
            return &cu_profiles[i];
    return NULL;
}

void custody_conf_init(struct custody_token_conf *conf)
{
    memset(conf, 0, sizeof *conf);
    conf->slot = -1;
}

err_code custody_read_pin(const char *pin_file, const char *pin_env, char **pin,
                          struct err *e)
{
    uint8_t *buf = NULL;
    size_t len = 0, n;
    char *out = NULL;
    err_code rc;
    *pin = NULL;
    out = util_secret_alloc(CUSTODY_PIN_BUF);
    if (!out)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (pin_file && *pin_file) {
        rc = util_read_secret(pin_file, CU_PIN_FILE_MAX, &buf, &len, e);
        if (rc != ERR_OK)
            goto done;
        for (n = 0; n < len && buf[n] != '\n' && buf[n] != '\r'; n++)
            ;
        if (n >= CUSTODY_PIN_BUF) {
            rc = err_set(e, ERR_CONFIG, "PIN in %s too long", pin_file);
            goto done;
        }
        memcpy(out, buf, n);
    } else if (pin_env && *pin_env) {
        const char *v = getenv(pin_env);
        if (!v) {
            rc = err_set(e, ERR_CONFIG, "PIN environment variable %s not set", pin_env);
            goto done;
        }
        if (strlen(v) >= CUSTODY_PIN_BUF) {
            rc = err_set(e, ERR_CONFIG, "PIN in $%s too long", pin_env);
            goto done;
        }
        strcpy(out, v);
    } else {
        rc = err_set(e, ERR_CONFIG, "no pin_file or pin_env configured");
        goto done;
    }
    if (out[0] == '\0') {
        rc = err_set(e, ERR_CONFIG, "empty PIN");
        goto done;
    }
    *pin = out;
    out = NULL;
    rc = ERR_OK;
done:
    util_secret_free(buf);
    custody_pin_free(out);
    return rc;
}

void
custody_pin_free(char *pin)
{
    util_secret_free(pin);
}

/* libpkcs11-helper PIN hook: user_data is the cu_token. */
static PKCS11H_BOOL cu_pin_hook(void *const global, void *const user_data,
                                const pkcs11h_token_id_t token, const unsigned retry,
                                char *const pin, const size_t pin_max)
{
    struct cu_token *t = user_data;
    char *p = NULL;
    PKCS11H_BOOL ok = FALSE;
    if (retry > 0 || !t)
        return FALSE;            /* never burn a second try on an HSM */
    if (custody_read_pin(t->conf.pin_file, t->conf.pin_env, &p, NULL) != ERR_OK)
        return FALSE;
    if (strlen(p) < pin_max) {
        strcpy(pin, p);
        ok = TRUE;
    }
    custody_pin_free(p);
    return ok;
}

static err_code cu_helper_acquire(const char *module, int *added, struct err *e)
{
    CK_RV rv;
    err_code rc = ERR_OK;
    int free_i = -1;
    *added = 0;
    pthread_mutex_lock(&cu_global);
    if (cu_helper_refs == 0) {
        if ((rv = pkcs11h_initialize()) != CKR_OK) {
            rc = err_set(e, ERR_HSM_UNAVAILABLE, "pkcs11h_initialize: %s", pkcs11h_getMessage(rv));
            goto done;
        }
        pkcs11h_setPINPromptHook(cu_pin_hook, NULL);
        pkcs11h_setPINCachePeriod(PKCS11H_PIN_CACHE_INFINITE);
        pkcs11h_setMaxLoginRetries(1);
    }
    cu_helper_refs++;
    for (int i = 0; i < CU_MAX_PROVIDERS; i++) {
        if (cu_providers[i].refs > 0 && strcmp(cu_providers[i].module, module) == 0) {
            cu_providers[i].refs++;
            *added = 1;
            goto done;
        }
        if (cu_providers[i].refs == 0 && free_i < 0)
            free_i = i;
    }
    if (free_i < 0) {
        rc = err_set(e, ERR_CONFIG, "too many PKCS#11 modules");
        goto undo;
    }
    rv = pkcs11h_addProvider(module, module, FALSE, PKCS11H_PRIVATEMODE_MASK_AUTO,
                             PKCS11H_SLOTEVENT_METHOD_AUTO, 0, FALSE);
    if (rv != CKR_OK) {
        rc = err_set(e, ERR_CONFIG, "cannot load PKCS#11 module %s: %s", module,
                     pkcs11h_getMessage(rv));
        goto undo;
    }
    snprintf(cu_providers[free_i].module, sizeof cu_providers[free_i].module, "%s", module);
    cu_providers[free_i].refs = 1;
    *added = 1;
    goto done;
undo:
    if (--cu_helper_refs == 0)
        pkcs11h_terminate();
done:
    pthread_mutex_unlock(&cu_global);
    return rc;
}

static void cu_helper_release(const char *module)
{
    pthread_mutex_lock(&cu_global);
    for (int i = 0; i < CU_MAX_PROVIDERS; i++)
        if (cu_providers[i].refs > 0 && strcmp(cu_providers[i].module, module) == 0) {
            if (--cu_providers[i].refs == 0)
                pkcs11h_removeProvider(module);
            break;
        }
    if (cu_helper_refs > 0 && --cu_helper_refs == 0)
        pkcs11h_terminate();
    pthread_mutex_unlock(&cu_global);
}

/* dlopen a module and C_Initialize it (ALREADY_INITIALIZED is fine).
 * *we_init is 1 if this call initialized it (caller then C_Finalize's). */
static err_code cu_module_load(const char *module, void **dl, CK_FUNCTION_LIST_PTR *f,
                               int *we_init, struct err *e)
{
    CK_C_GetFunctionList gfl;
    CK_C_INITIALIZE_ARGS args;
    CK_RV rv;
    *we_init = 0;
    *dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (!*dl)
        return err_set(e, ERR_CONFIG, "dlopen %s: %s", module, dlerror());
    gfl = (CK_C_GetFunctionList)dlsym(*dl, "C_GetFunctionList");
    if (!gfl || gfl(f) != CKR_OK || !*f) {
        dlclose(*dl);
        *dl = NULL;
        return err_set(e, ERR_CONFIG, "%s is not a PKCS#11 module", module);
    }
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    rv = (*f)->C_Initialize(&args);
    if (rv == CKR_OK)
        *we_init = 1;
    else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        dlclose(*dl);
        *dl = NULL;
        return err_set(e, ERR_HSM_UNAVAILABLE, "C_Initialize(%s): 0x%lx", module,
                       (unsigned long)rv);
    }
    return ERR_OK;
}

static void cu_trim(char *dst, const unsigned char *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n] = '\0';
    while (n > 0 && dst[n - 1] == ' ')
        dst[--n] = '\0';
}

/* ---------- connection, pool ---------- */

static void cu_set_error(struct cu_token *t, const char *msg)
{
    snprintf(t->last_error, sizeof t->last_error, "%s", msg);
}

/* Find the configured token's slot among present tokens. */
static CK_RV cu_find_slot(struct cu_token *t, CK_SLOT_ID *out)
{
    CK_SLOT_ID slots[CU_MAX_SLOTS];
    CK_ULONG n = CU_MAX_SLOTS;
    CK_TOKEN_INFO ti;
    char label[sizeof ti.label + 1];
    CK_RV rv = t->f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK)
        return rv;
    for (CK_ULONG i = 0; i < n; i++) {
        if (t->conf.slot >= 0 && slots[i] != (CK_SLOT_ID)t->conf.slot)
            continue;
        if (t->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        cu_trim(label, ti.label, sizeof ti.label);
        if (t->conf.token_label[0] && strcmp(label, t->conf.token_label) != 0)
            continue;
        *out = slots[i];
        return CKR_OK;
    }
    return CKR_TOKEN_NOT_PRESENT;
}

/* Login through libpkcs11-helper's PIN hook (first connection only). */
static CK_RV cu_helper_login(struct cu_token *t)
{
    pkcs11h_token_id_list_t list = NULL;
    CK_RV rv = pkcs11h_token_enumTokenIds(PKCS11H_ENUM_METHOD_RELOAD, &list);
    if (rv != CKR_OK)
        return rv;
    rv = CKR_TOKEN_NOT_PRESENT;
    for (pkcs11h_token_id_list_t l = list; l; l = l->next)
        if (strcmp(l->token_id->label, t->conf.token_label) == 0) {
            rv = pkcs11h_token_ensureAccess(l->token_id, t,
                                            PKCS11H_PROMPT_MASK_ALLOW_PIN_PROMPT);
            break;
        }
    pkcs11h_token_freeTokenIdList(list);
    return rv;
}

static CK_RV cu_direct_login(struct cu_token *t, CK_SESSION_HANDLE h)
{
    char *pin = NULL;
    CK_RV rv;
    if (custody_read_pin(t->conf.pin_file, t->conf.pin_env, &pin, NULL) != ERR_OK)
        return CKR_PIN_INCORRECT;
    rv = t->f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
    custody_pin_free(pin);
    return rv == CKR_USER_ALREADY_LOGGED_IN ? CKR_OK : rv;
}

static int cu_logged_in(struct cu_token *t, CK_SESSION_HANDLE h)
{
    CK_SESSION_INFO si;
    return t->f->C_GetSessionInfo(h, &si) == CKR_OK &&
           (si.state == CKS_RW_USER_FUNCTIONS || si.state == CKS_RO_USER_FUNCTIONS);
}

/* (Re)connect: slot, mechanisms, login.  Called with t->mu held. */
static err_code cu_connect(struct cu_token *t, int first, struct err *e)
{
    CK_MECHANISM_TYPE *mechs = NULL;
    CK_ULONG nm = CU_MAX_MECHS;
    CK_SESSION_HANDLE h = 0;
    CK_SLOT_ID slot;
    CK_RV rv;
    int have_gen = 0, have_sign = 0;
    err_code rc;
    t->last_attempt_ms = util_mono_ms();
    if (t->pin_bad) {
        rc = err_set(e, ERR_HSM_UNAVAILABLE, "token %s: PIN was refused; not retrying",
                     t->conf.name);
        goto done;
    }
    rv = cu_find_slot(t, &slot);
    if (rv != CKR_OK) {
        rc = err_set(e, ERR_HSM_UNAVAILABLE, "token %s (label \"%s\") not present (0x%lx)",
                     t->conf.name, t->conf.token_label, (unsigned long)rv);
        goto done;
    }
    mechs = calloc(CU_MAX_MECHS, sizeof *mechs);
    if (!mechs) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    rv = t->f->C_GetMechanismList(slot, mechs, &nm);
    if (rv != CKR_OK) {
        rc = err_set(e, ERR_HSM_UNAVAILABLE, "token %s: C_GetMechanismList 0x%lx",
                     t->conf.name, (unsigned long)rv);
        goto done;
    }
    for (CK_ULONG i = 0; i < nm; i++) {
        have_gen |= mechs[i] == t->prof->gen;
        have_sign |= mechs[i] == t->prof->sign;
    }
    if (!have_sign || !have_gen) {
        rc = err_set(e, ERR_CONFIG, "token %s does not offer the %s mechanisms "
                     "(gen 0x%lx: %s, sign 0x%lx: %s)", t->conf.name, t->prof->name,
                     (unsigned long)t->prof->gen, have_gen ? "yes" : "no",
                     (unsigned long)t->prof->sign, have_sign ? "yes" : "no");
        goto done;
    }
    if (first && t->conf.token_label[0]) {
        rv = cu_helper_login(t);
        if (rv != CKR_OK && cu_is_pin_error(rv)) {
            t->pin_bad = 1;
            rc = err_set(e, ERR_HSM_UNAVAILABLE, "token %s: PIN refused (%s)",
                         t->conf.name, pkcs11h_getMessage(rv));
            goto done;
        }
    }
    rv = t->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);
    if (rv != CKR_OK) {
        rc = err_set(e, ERR_HSM_UNAVAILABLE, "token %s: C_OpenSession 0x%lx",
                     t->conf.name, (unsigned long)rv);
        goto done;
    }
    if (!cu_logged_in(t, h)) {
        rv = cu_direct_login(t, h);
        if (rv != CKR_OK) {
            if (cu_is_pin_error(rv))
                t->pin_bad = 1;
            rc = err_set(e, ERR_HSM_UNAVAILABLE, "token %s: login failed (0x%lx%s)",
                         t->conf.name, (unsigned long)rv,
                         rv == CKR_PIN_INCORRECT ? ", PIN incorrect" :
                         rv == CKR_PIN_LOCKED ? ", PIN locked" : "");
            goto done;
        }
    }
    /* connected: new generation, pool entry 0 takes this session */
    t->slot = slot;
    t->gen++;
    t->down = 0;
    t->last_error[0] = '\0';
    for (int i = 0; i < t->pool_n; i++)
        if (!t->pool[i].busy && t->pool[i].h) {
            (void)t->f->C_CloseSession(t->pool[i].h);
            t->pool[i].h = 0;
        }
    for (int i = 0; i < t->pool_n && h; i++)
        if (!t->pool[i].busy) {
            t->pool[i].h = h;
            t->pool[i].gen = t->gen;
            h = 0;
        }
    rc = ERR_OK;
done:
    if (h)
        (void)t->f->C_CloseSession(h);
    free(mechs);
    if (rc != ERR_OK && e)
        cu_set_error(t, e->msg);
    return rc;
}

/* Take a pool session (reconnecting first if the token is down). */
static err_code cu_acquire(struct cu_token *t, int *idx, struct err *e)
{
    struct err le = { 0 };
    struct timespec ts;
    err_code rc = ERR_OK;
    int i;
    CK_RV rv;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += CU_WAIT_MS / 1000;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        if (t->down) {
            if (t->pin_bad || util_mono_ms() - t->last_attempt_ms < CU_RECOVER_MS) {
                rc = err_set(e, ERR_HSM_UNAVAILABLE, "token %s unavailable: %s",
                             t->conf.name, t->last_error);
                goto done;
            }
            if ((rc = cu_connect(t, 0, &le)) != ERR_OK) {
                rc = err_set(e, rc == ERR_NOMEM ? ERR_NOMEM : ERR_HSM_UNAVAILABLE,
                             "%s", le.msg);
                goto done;
            }
        }
        for (i = 0; i < t->pool_n; i++)
            if (!t->pool[i].busy)
                break;
        if (i < t->pool_n)
            break;
        if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) != 0) {
            rc = err_set(e, ERR_UNAVAILABLE, "token %s: no free session", t->conf.name);
            goto done;
        }
    }
    if (t->pool[i].h && t->pool[i].gen != t->gen) {
        (void)t->f->C_CloseSession(t->pool[i].h);
        t->pool[i].h = 0;
    }
    if (!t->pool[i].h) {
        rv = t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                                 NULL, &t->pool[i].h);
        if (rv != CKR_OK) {
            t->pool[i].h = 0;
            t->down = 1;
            t->gen++;
            snprintf(t->last_error, sizeof t->last_error, "C_OpenSession: 0x%lx",
                     (unsigned long)rv);
            rc = err_set(e, ERR_HSM_UNAVAILABLE, "token %s unavailable: %s",
                         t->conf.name, t->last_error);
            goto done;
        }
        t->pool[i].gen = t->gen;
    }
    t->pool[i].busy = 1;
    *idx = i;
done:
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* Return a pool session; rv is the PKCS#11 result of the operation. */
static void cu_release(struct cu_token *t, int idx, CK_RV rv, const char *what)
{
    pthread_mutex_lock(&t->mu);
    if (cu_is_device_error(rv)) {
        if (t->pool[idx].gen == t->gen && !t->down) {
            t->down = 1;
            t->gen++;
            t->last_attempt_ms = 0;     /* allow one immediate reconnection */
            snprintf(t->last_error, sizeof t->last_error, "%s: 0x%lx", what,
                     (unsigned long)rv);
        }
        if (t->pool[idx].h)
            (void)t->f->C_CloseSession(t->pool[idx].h);
        t->pool[idx].h = 0;
    }
    t->pool[idx].busy = 0;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static struct cu_token *cu_token(const struct custody *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->n; i++)
        if (strcmp(c->tok[i].conf.name, name) == 0)
            return &c->tok[i];
    return NULL;
}

/* ---------- open / close ---------- */

static void cu_token_close(struct cu_token *t)
{
    if (t->f) {
        for (int i = 0; i < t->pool_n; i++)
            if (t->pool[i].h)
                (void)t->f->C_CloseSession(t->pool[i].h);
    }
    if (t->dl)
        dlclose(t->dl);
    if (t->provider_added)
        cu_helper_release(t->conf.module);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
}

err_code custody_open(const struct custody_token_conf *confs, size_t n,
                      struct custody **out, struct err *e)
{
    struct custody *c = NULL;
    err_code rc = ERR_OK;
    size_t opened = 0;
    *out = NULL;
    c = calloc(1, sizeof *c);
    if (!c || !(c->tok = calloc(n ? n : 1, sizeof *c->tok))) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        struct cu_token *t = &c->tok[i];
        struct err le = { 0 };
        int we_init = 0;
        t->conf = confs[i];
        t->last_sign_ms = -1;
        pthread_mutex_init(&t->mu, NULL);
        pthread_cond_init(&t->cv, NULL);
        opened++;
        c->n = opened;
        if (!t->conf.name[0] || !t->conf.module[0]) {
            rc = err_set(e, ERR_CONFIG, "token %zu: name and module are required", i);
            goto done;
        }
        if (cu_token(c, t->conf.name) != t) {
            rc = err_set(e, ERR_CONFIG, "duplicate token name %s", t->conf.name);
            goto done;
        }
        if (!(t->prof = cu_profile_find(t->conf.profile))) {
            rc = err_set(e, ERR_CONFIG, "token %s: unknown profile \"%s\"", t->conf.name,
                         t->conf.profile);
            goto done;
        }
        if (!t->conf.pin_file[0] && !t->conf.pin_env[0]) {
            rc = err_set(e, ERR_CONFIG, "token %s: pin_file or pin_env required", t->conf.name);
            goto done;
        }
        if (!t->conf.token_label[0] && t->conf.slot < 0) {
            rc = err_set(e, ERR_CONFIG, "token %s: token_label or slot required", t->conf.name);
            goto done;
        }
        t->pool_n = t->conf.pool_size > 0 ? t->conf.pool_size : CUSTODY_POOL_DEFAULT;
        if (t->pool_n > CUSTODY_POOL_MAX)
            t->pool_n = CUSTODY_POOL_MAX;
        if ((rc = cu_helper_acquire(t->conf.module, &t->provider_added, e)) != ERR_OK)
            goto done;
        if ((rc = cu_module_load(t->conf.module, &t->dl, &t->f, &we_init, e)) != ERR_OK)
            goto done;
        pthread_mutex_lock(&t->mu);
        rc = cu_connect(t, 1, &le);
        if (rc != ERR_OK)
            t->down = 1;
        pthread_mutex_unlock(&t->mu);
        if (rc == ERR_CONFIG || t->pin_bad || rc == ERR_NOMEM) {
            if (e)
                *e = le;
            goto done;
        }
        rc = ERR_OK;            /* absent token: starts down, recovers later */
    }
    *out = c;
    c = NULL;
done:
    if (c) {
        for (size_t i = 0; i < opened; i++)
            cu_token_close(&c->tok[i]);
        free(c->tok);
        free(c);
    }
    return rc;
}

void custody_close(struct custody *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        cu_token_close(&c->tok[i]);
    free(c->tok);
    free(c);
}

const char *custody_token_profile(const struct custody *c, const char *token)
{
    struct cu_token *t = cu_token(c, token);
    return t ? t->prof->name : NULL;
}

int custody_token_is_sm2(const struct custody *c, const char *token)
{
    struct cu_token *t = cu_token(c, token);
    return t ? t->prof->sm2 : -1;
}

/* ---------- operations ---------- */

#define CU_RV_NOT_FOUND  (CKR_VENDOR_DEFINED | 0x5ea1d001UL)  /* private marker */

typedef CK_RV (*cu_op_fn)(struct cu_token *t, CK_SESSION_HANDLE h, void *ctx,
                          const char **what);

/* Run op on a pool session; on a device-class error reconnect once and
 * retry once.  Maps PKCS#11 failures to err codes. */
static err_code cu_run_op(struct cu_token *t, cu_op_fn op, void *ctx, struct err *e)
{
    err_code rc = ERR_OK;
    CK_RV rv = CKR_OK;
    const char *what = "operation";
    int idx = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = cu_acquire(t, &idx, e)) != ERR_OK)
            return rc;
        what = "operation";
        rv = op(t, t->pool[idx].h, ctx, &what);
        cu_release(t, idx, rv, what);
        if (rv == CKR_OK)
            return ERR_OK;
        if (!cu_is_device_error(rv) && rv != CKR_KEY_HANDLE_INVALID &&
            rv != CKR_OBJECT_HANDLE_INVALID)
            break;
        if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID) {
            pthread_mutex_lock(&t->mu);
            memset(t->keys, 0, sizeof t->keys);
            pthread_mutex_unlock(&t->mu);
        }
    }
    if (cu_is_device_error(rv))
        return err_set(e, ERR_HSM_UNAVAILABLE, "token %s unavailable: %s: 0x%lx",
                       t->conf.name, what, (unsigned long)rv);
    if (rv == CU_RV_NOT_FOUND)
        return err_set(e, ERR_NOT_FOUND, "token %s: no such key", t->conf.name);
    return err_set(e, ERR_CRYPTO, "token %s: %s failed: 0x%lx", t->conf.name, what,
                   (unsigned long)rv);
}

static CK_RV cu_op_generate(struct cu_token *t, CK_SESSION_HANDLE h, void *vctx,
                            const char **what);
static CK_RV cu_op_pub(struct cu_token *t, CK_SESSION_HANDLE h, void *vctx,
                       const char **what);
static CK_RV cu_op_sign(struct cu_token *t, CK_SESSION_HANDLE h, void *vctx,
                        const char **what);

/* Run op on a pooled session (cu_run_op: one retry after a device error),
 * counted and timed for the metrics by kind; a key not found is the
 * caller's question, not the token's failure. */
static err_code cu_run(struct cu_token *t, cu_op_fn op, void *ctx, struct err *e)
{
    int64_t t0 = metrics_now_us();
    err_code rc = cu_run_op(t, op, ctx, e);
    enum metrics_token_op kind = op == cu_op_sign ? METRICS_TOKEN_SIGN
        : op == cu_op_generate ? METRICS_TOKEN_KEYGEN
        : op == cu_op_pub ? METRICS_TOKEN_PUBLIC_KEY : METRICS_TOKEN_OTHER;

    metrics_token(kind, rc != ERR_OK && rc != ERR_NOT_FOUND,
                  metrics_now_us() - t0);
    return rc;
}


/* Find an object of class cls with CKA_ID id; CU_RV_NOT_FOUND if none. */
static CK_RV cu_find(struct cu_token *t, CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls,
                     const uint8_t *id, size_t id_len, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE tpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_ID, (void *)id, id_len },
    };
    CK_ULONG n = 0;
    CK_RV rv = t->f->C_FindObjectsInit(h, tpl, 2);
    if (rv != CKR_OK)
        return rv;
    rv = t->f->C_FindObjects(h, out, 1, &n);
    (void)t->f->C_FindObjectsFinal(h);
    if (rv == CKR_OK && n == 0)
        rv = CU_RV_NOT_FOUND;
    return rv;
}

/* Private key handle for id, through the per-generation cache. */
static CK_RV cu_priv_handle(struct cu_token *t, CK_SESSION_HANDLE h, const uint8_t *id,
                            size_t id_len, CK_OBJECT_HANDLE *out)
{
    CK_RV rv;
    unsigned gen;
    int slot = -1;
    pthread_mutex_lock(&t->mu);
    gen = t->gen;
    for (int i = 0; i < CU_KEYCACHE; i++) {
        struct cu_keyc *k = &t->keys[i];
        if (k->used && k->gen == gen && k->id_len == id_len && memcmp(k->id, id, id_len) == 0) {
            *out = k->obj;
            pthread_mutex_unlock(&t->mu);
            return CKR_OK;
        }
    }
    pthread_mutex_unlock(&t->mu);
    rv = cu_find(t, h, CKO_PRIVATE_KEY, id, id_len, out);
    if (rv != CKR_OK)
        return rv;
    pthread_mutex_lock(&t->mu);
    for (int i = 0; i < CU_KEYCACHE && slot < 0; i++)
        if (!t->keys[i].used || t->keys[i].gen != t->gen)
            slot = i;
    if (slot < 0)
        slot = (int)(id[0] % CU_KEYCACHE);
    if (gen == t->gen) {
        memcpy(t->keys[slot].id, id, id_len);
        t->keys[slot].id_len = id_len;
        t->keys[slot].obj = *out;
        t->keys[slot].gen = gen;
        t->keys[slot].used = 1;
    }
    pthread_mutex_unlock(&t->mu);
    return CKR_OK;
}

static err_code cu_parse_id(const char *id_hex, uint8_t *id, size_t *id_len,
                            struct err *e)
{
    if (!id_hex || !*id_hex)
        return err_set(e, ERR_INVALID, "empty key id");
    if (util_hex_decode(id_hex, id, CUSTODY_ID_MAX, id_len, e) != ERR_OK)
        return err_set(e, ERR_INVALID, "bad key id \"%s\"", id_hex);
    if (*id_len == 0)
        return err_set(e, ERR_INVALID, "empty key id");
    return ERR_OK;
}

/* -- generate -- */

struct cu_gen_ctx {
    const char *label;
    const uint8_t *id;
    size_t id_len;
    int decrypt;        /* 1: a decryption key pair, 0: a signing one */
};

static CK_RV cu_op_generate(struct cu_token *t, CK_SESSION_HANDLE h, void *vctx,
                            const char **what)
{
    struct cu_gen_ctx *g = vctx;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_KEY_TYPE kt = t->prof->ckk;
    CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, privc = CKO_PRIVATE_KEY;
    const uint8_t *oid = t->prof->sm2 ? cu_oid_sm2 : cu_oid_p256;
    CK_MECHANISM mech = { t->prof->gen, NULL, 0 };
    CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
    CK_ATTRIBUTE pub[] = {
        { CKA_CLASS, &pubc, sizeof pubc },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_VERIFY, g->decrypt ? &no : &yes, sizeof yes },
        { CKA_ENCRYPT, g->decrypt ? &yes : &no, sizeof yes },
        { CKA_EC_PARAMS, (void *)oid, sizeof cu_oid_sm2 },
        { CKA_ID, (void *)g->id, g->id_len },
        { CKA_LABEL, (void *)g->label, strlen(g->label) },
    };
    CK_ATTRIBUTE priv[] = {
        { CKA_CLASS, &privc, sizeof privc },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_PRIVATE, &yes, sizeof yes },
        { CKA_SENSITIVE, &yes, sizeof yes },
        { CKA_EXTRACTABLE, &no, sizeof no },
        { CKA_SIGN, g->decrypt ? &no : &yes, sizeof yes },
        { CKA_DECRYPT, g->decrypt ? &yes : &no, sizeof yes },
        { CKA_ID, (void *)g->id, g->id_len },
        { CKA_LABEL, (void *)g->label, strlen(g->label) },
    };
    *what = "C_GenerateKeyPair";
    return t->f->C_GenerateKeyPair(h, &mech, pub, sizeof pub / sizeof pub[0],
                                   priv, sizeof priv / sizeof priv[0], &hpub, &hpriv);
}

static err_code cu_generate(struct custody *c, const char *token, const char *label,
                            const uint8_t *id, size_t id_len, int decrypt,
                            char id_hex_out[CUSTODY_ID_HEX_MAX], struct err *e)
{
    struct cu_token *t = cu_token(c, token);
    uint8_t rid[16];
    struct cu_gen_ctx g = { label ? label : "", id, id_len, decrypt };
    err_code rc;
    if (!t)
        return err_set(e, ERR_NOT_FOUND, "unknown token \"%s\"", token ? token : "");
    if (!id) {
        if ((rc = util_random(rid, sizeof rid, e)) != ERR_OK)
            return rc;
        g.id = rid;
        g.id_len = sizeof rid;
    } else if (id_len == 0 || id_len > CUSTODY_ID_MAX) {
        return err_set(e, ERR_INVALID, "key id must be 1..%d bytes", CUSTODY_ID_MAX);
    }
    if (strlen(g.label) > CUSTODY_LABEL_MAX)
        return err_set(e, ERR_INVALID, "label too long");
    if (decrypt && (!t->prof->sm2 || !t->prof->decrypt))
        return err_set(e, ERR_CONFIG, "token %s (profile %s) offers no SM2 "
                       "decryption mechanism", t->conf.name, t->prof->name);
    if ((rc = cu_run(t, cu_op_generate, &g, e)) != ERR_OK)
        return rc;
    util_hex_encode(g.id, g.id_len, id_hex_out);
    return ERR_OK;
}

err_code custody_generate(struct custody *c, const char *token, const char *label,
                          const uint8_t *id, size_t id_len,
                          char id_hex_out[CUSTODY_ID_HEX_MAX], struct err *e)
{
    return cu_generate(c, token, label, id, id_len, 0, id_hex_out, e);
}

err_code custody_generate_decrypt_key(struct custody *c, const char *token,
                                      const char *label,
                                      char id_hex_out[CUSTODY_ID_HEX_MAX],
                                      struct err *e)
{
    return cu_generate(c, token, label, NULL, 0, 1, id_hex_out, e);
}

/* -- public key -- */

struct cu_pub_ctx {
    uint8_t id[CUSTODY_ID_MAX];
    size_t  id_len;
    uint8_t point[CU_RAW_SIG_MAX];
    CK_ULONG point_len;
};

static CK_RV cu_op_pub(struct cu_token *t, CK_SESSION_HANDLE h, void *vctx,
                       const char **what)
{
    struct cu_pub_ctx *p = vctx;
    CK_OBJECT_HANDLE o;
    CK_ATTRIBUTE a = { CKA_EC_POINT, p->point, sizeof p->point };
    CK_RV rv;
    *what = "C_FindObjects";
    rv = cu_find(t, h, CKO_PUBLIC_KEY, p->id, p->id_len, &o);
    if (rv != CKR_OK)
        return rv;
    *what = "C_GetAttributeValue(CKA_EC_POINT)";
    rv = t->f->C_GetAttributeValue(h, o, &a, 1);
    p->point_len = a.ulValueLen;
    return rv;
}

/* EVP_PKEY (public only) from an uncompressed point. */
static err_code cu_pkey_from_point(int sm2, const uint8_t *pt, size_t len,
                                   EVP_PKEY **out, struct err *e)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    err_code rc = ERR_CRYPTO;
    *out = NULL;
    if (!b || !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME,
                                               sm2 ? "SM2" : "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, len) ||
        !(params = OSSL_PARAM_BLD_to_param(b)) ||
        !(ctx = EVP_PKEY_CTX_new_from_name(NULL, sm2 ? "SM2" : "EC", NULL)) ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        *out = NULL;
        err_set(e, ERR_CRYPTO, "token returned an invalid public point");
        goto done;
    }
    rc = ERR_OK;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    return rc;
}

err_code custody_public_key(struct custody *c, const char *token, const char *id_hex,
                            EVP_PKEY **out, struct err *e)
{
    struct cu_token *t = cu_token(c, token);
    struct cu_pub_ctx p;
    const uint8_t *pt;
    size_t len;
    err_code rc;
    *out = NULL;
    if (!t)
        return err_set(e, ERR_NOT_FOUND, "unknown token \"%s\"", token ? token : "");
    memset(&p, 0, sizeof p);
    if ((rc = cu_parse_id(id_hex, p.id, &p.id_len, e)) != ERR_OK)
        return rc;
    if ((rc = cu_run(t, cu_op_pub, &p, e)) != ERR_OK)
        return rc;
    pt = p.point;
    len = p.point_len;
    /* CKA_EC_POINT is DER OCTET STRING { 04 || x || y }; some tokens omit it */
    if (len == 67 && pt[0] == 0x04 && pt[1] == 65) {
        pt += 2;
        len -= 2;
    }
    if (len != 65 || pt[0] != 0x04)
        return err_set(e, ERR_CRYPTO, "token %s: unexpected CKA_EC_POINT (%zu bytes)",
                       t->conf.name, len);
    return cu_pkey_from_point(t->prof->sm2, pt, len, out, e);
}

err_code custody_public_key_der(struct custody *c, const char *token, const char *id_hex,
                                uint8_t **der, size_t *der_len, struct err *e)
{
    EVP_PKEY *pk = NULL;
    unsigned char *buf = NULL;
    int n;
    err_code rc = custody_public_key(c, token, id_hex, &pk, e);
    *der = NULL;
    *der_len = 0;
    if (rc != ERR_OK)
        return rc;
    n = i2d_PUBKEY(pk, &buf);
    EVP_PKEY_free(pk);
    if (n <= 0)
        return err_set(e, ERR_CRYPTO, "cannot encode SubjectPublicKeyInfo");
    *der = malloc((size_t)n);
    if (!*der) {
        OPENSSL_free(buf);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    memcpy(*der, buf, (size_t)n);
    *der_len = (size_t)n;
    OPENSSL_free(buf);
    return ERR_OK;
}

/* -- sign -- */

struct cu_sign_ctx {
    uint8_t  id[CUSTODY_ID_MAX];
    size_t   id_len;
    const uint8_t *in;
    uint8_t  out[CU_RAW_SIG_MAX];
    CK_ULONG out_len;
};

static CK_RV cu_op_sign(struct cu_token *t, CK_SESSION_HANDLE h, void *vctx,
                        const char **what)
{
    struct cu_sign_ctx *s = vctx;
    CK_MECHANISM mech = { t->prof->sign, NULL, 0 };
    CK_OBJECT_HANDLE key;
    CK_RV rv;
    *what = "C_FindObjects";
    rv = cu_priv_handle(t, h, s->id, s->id_len, &key);
    if (rv != CKR_OK)
        return rv;
    *what = "C_SignInit";
    rv = t->f->C_SignInit(h, &mech, key);
    if (rv != CKR_OK)
        return rv;
    *what = "C_Sign";
    s->out_len = sizeof s->out;
    return t->f->C_Sign(h, (CK_BYTE_PTR)s->in, 32, s->out, &s->out_len);
}

/* Token output (raw r||s or DER, per profile) -> canonical DER. */
static err_code cu_to_der(const struct cu_profile *p, const uint8_t *in, size_t len,
                          uint8_t *out, size_t *out_len, struct err *e)
{
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *der = NULL;
    err_code rc = ERR_CRYPTO;
    int n;
    if (p->raw) {
        if (len != 64) {
            err_set(e, ERR_CRYPTO, "token returned a %zu-byte raw signature", len);
            goto done;
        }
        sig = ECDSA_SIG_new();
        r = BN_bin2bn(in, 32, NULL);
        s = BN_bin2bn(in + 32, 32, NULL);
        if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
            err_set(e, ERR_CRYPTO, "cannot build signature");
            goto done;
        }
        r = s = NULL;
    } else {
        const unsigned char *q = in;
        sig = d2i_ECDSA_SIG(NULL, &q, (long)len);
        if (!sig || q != in + len) {
            err_set(e, ERR_CRYPTO, "token returned a malformed DER signature");
            goto done;
        }
    }
    n = i2d_ECDSA_SIG(sig, &der);
    if (n <= 0 || (size_t)n > CUSTODY_SIG_MAX) {
        err_set(e, ERR_CRYPTO, "cannot encode signature");
        goto done;
    }
    memcpy(out, der, (size_t)n);
    *out_len = (size_t)n;
    rc = ERR_OK;
done:
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    BN_free(r);
    BN_free(s);
    return rc;
}

static err_code cu_sign(struct custody *c, const char *token, const char *id_hex,
                        const uint8_t in[32], int want_sm2, uint8_t *sig,
                        size_t *sig_len, struct err *e)
{
    struct cu_token *t = cu_token(c, token);
    struct cu_sign_ctx s;
    struct timespec a, b;
    err_code rc;
    if (!t)
        return err_set(e, ERR_NOT_FOUND, "unknown token \"%s\"", token ? token : "");
    if (t->prof->sm2 != want_sm2)
        return err_set(e, ERR_INVALID, "token %s has profile %s: use %s", t->conf.name,
                       t->prof->name, t->prof->sm2 ? "custody_sign_e" : "custody_sign_digest");
    memset(&s, 0, sizeof s);
    if ((rc = cu_parse_id(id_hex, s.id, &s.id_len, e)) != ERR_OK)
        return rc;
    s.in = in;
    clock_gettime(CLOCK_MONOTONIC, &a);
    rc = cu_run(t, cu_op_sign, &s, e);
    if (rc == ERR_OK)
        rc = cu_to_der(t->prof, s.out, s.out_len, sig, sig_len, e);
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_mutex_lock(&t->mu);
    if (rc == ERR_OK) {
        t->last_sign_ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
                          (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        t->last_sign_at = util_now_ms();
    } else if (e && rc != ERR_NOT_FOUND && rc != ERR_INVALID) {
        cu_set_error(t, e->msg);
    }
    pthread_mutex_unlock(&t->mu);
    util_wipe(&s, sizeof s);
    return rc;
}

err_code custody_sign_e(struct custody *c, const char *token, const char *id_hex,
                        const uint8_t e32[32], uint8_t sig[CUSTODY_SIG_MAX],
                        size_t *sig_len, struct err *e)
{
    return cu_sign(c, token, id_hex, e32, 1, sig, sig_len, e);
}

err_code custody_sign_digest(struct custody *c, const char *token, const char *id_hex,
                             const uint8_t dgst[32], uint8_t sig[CUSTODY_SIG_MAX],
                             size_t *sig_len, struct err *e)
{
    return cu_sign(c, token, id_hex, dgst, 0, sig, sig_len, e);
}

/* -- wrap and unwrap (SM2 encryption, GM/T 0003.4) -- */

err_code custody_wrap(struct custody *c, const char *token, const char *id_hex,
                      const uint8_t *in, size_t in_len, uint8_t **out,
                      size_t *out_len, struct err *e)
{
    struct cu_token *t = cu_token(c, token);
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    size_t n = 0;
    err_code rc;
    *out = NULL;
    *out_len = 0;
    if (!t)
        return err_set(e, ERR_NOT_FOUND, "unknown token \"%s\"", token ? token : "");
    if (!t->prof->sm2 || !t->prof->decrypt)
        return err_set(e, ERR_CONFIG, "token %s (profile %s) offers no SM2 "
                       "decryption mechanism", t->conf.name, t->prof->name);
    if ((rc = custody_public_key(c, token, id_hex, &pk, e)) != ERR_OK)
        return rc;
    rc = ERR_CRYPTO;
    if (!(ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) ||
        EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_encrypt(ctx, NULL, &n, in, in_len) != 1) {
        err_set(e, ERR_CRYPTO, "SM2 encryption failed");
        goto done;
    }
    if (!(*out = malloc(n))) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (EVP_PKEY_encrypt(ctx, *out, &n, in, in_len) != 1) {
        free(*out);
        *out = NULL;
        err_set(e, ERR_CRYPTO, "SM2 encryption failed");
        goto done;
    }
    *out_len = n;
    rc = ERR_OK;
done:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return rc;
}

struct cu_dec_ctx {
    uint8_t  id[CUSTODY_ID_MAX];
    size_t   id_len;
    const uint8_t *in;
    size_t   in_len;
    uint8_t *out;
    CK_ULONG out_len;       /* in: capacity; out: length */
};

static CK_RV cu_op_decrypt(struct cu_token *t, CK_SESSION_HANDLE h, void *vctx,
                           const char **what)
{
    struct cu_dec_ctx *d = vctx;
    CK_MECHANISM mech = { t->prof->decrypt, NULL, 0 };
    CK_OBJECT_HANDLE key;
    CK_RV rv;
    *what = "C_FindObjects";
    rv = cu_priv_handle(t, h, d->id, d->id_len, &key);
    if (rv != CKR_OK)
        return rv;
    *what = "C_DecryptInit";
    if ((rv = t->f->C_DecryptInit(h, &mech, key)) != CKR_OK)
        return rv;
    *what = "C_Decrypt";
    return t->f->C_Decrypt(h, (CK_BYTE_PTR)d->in, d->in_len, d->out, &d->out_len);
}

err_code custody_unwrap(struct custody *c, const char *token, const char *id_hex,
                        const uint8_t *in, size_t in_len, uint8_t *out,
                        size_t cap, size_t *out_len, struct err *e)
{
    struct cu_token *t = cu_token(c, token);
    struct cu_dec_ctx d;
    err_code rc;
    *out_len = 0;
    if (!t)
        return err_set(e, ERR_NOT_FOUND, "unknown token \"%s\"", token ? token : "");
    if (!t->prof->sm2 || !t->prof->decrypt)
        return err_set(e, ERR_CONFIG, "token %s (profile %s) offers no SM2 "
                       "decryption mechanism", t->conf.name, t->prof->name);
    memset(&d, 0, sizeof d);
    if ((rc = cu_parse_id(id_hex, d.id, &d.id_len, e)) != ERR_OK)
        return rc;
    d.in = in;
    d.in_len = in_len;
    d.out = out;
    d.out_len = cap;
    rc = cu_run(t, cu_op_decrypt, &d, e);
    if (rc == ERR_OK)
        *out_len = d.out_len;
    util_wipe(&d, sizeof d);
    return rc;
}

/* -- list keys -- */

static CK_RV cu_op_list(struct cu_token *t, CK_SESSION_HANDLE h, void *vctx,
                        const char **what)
{
    json_t *arr = vctx;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tpl = { CKA_CLASS, &cls, sizeof cls };
    CK_OBJECT_HANDLE *objs = NULL;
    CK_ULONG n = 0;
    CK_RV rv;
    json_array_clear(arr);
    objs = calloc(CU_MAX_FOUND, sizeof *objs);
    if (!objs)
        return CKR_HOST_MEMORY;
    *what = "C_FindObjects";
    rv = t->f->C_FindObjectsInit(h, &tpl, 1);
    if (rv != CKR_OK)
        goto done;
    rv = t->f->C_FindObjects(h, objs, CU_MAX_FOUND, &n);
    (void)t->f->C_FindObjectsFinal(h);
    if (rv != CKR_OK)
        goto done;
    for (CK_ULONG i = 0; i < n; i++) {
        uint8_t id[CUSTODY_ID_MAX * 4];
        char label[CUSTODY_LABEL_MAX * 2 + 1], hex[sizeof id * 2 + 1];
        CK_ATTRIBUTE a[] = {
            { CKA_ID, id, sizeof id },
            { CKA_LABEL, label, sizeof label - 1 },
        };
        *what = "C_GetAttributeValue";
        rv = t->f->C_GetAttributeValue(h, objs[i], a, 2);
        if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_BUFFER_TOO_SMALL) {
            if (cu_is_device_error(rv))
                goto done;
            continue;
        }
        if (a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION)
            a[0].ulValueLen = 0;
        if (a[1].ulValueLen == CK_UNAVAILABLE_INFORMATION)
            a[1].ulValueLen = 0;
        util_hex_encode(id, a[0].ulValueLen, hex);
        label[a[1].ulValueLen] = '\0';
        json_array_append_new(arr, json_pack("{s:s,s:s}", "id", hex, "label", label));
    }
    rv = CKR_OK;
done:
    free(objs);
    return rv;
}

err_code custody_list_keys(struct custody *c, const char *token, json_t **out,
                           struct err *e)
{
    struct cu_token *t = cu_token(c, token);
    json_t *arr;
    err_code rc;
    *out = NULL;
    if (!t)
        return err_set(e, ERR_NOT_FOUND, "unknown token \"%s\"", token ? token : "");
    if (!(arr = json_array()))
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = cu_run(t, cu_op_list, arr, e);
    if (rc != ERR_OK) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return ERR_OK;
}

/* -- health -- */

err_code custody_health(struct custody *c, json_t **out, struct err *e)
{
    json_t *arr = json_array();
    *out = NULL;
    if (!arr)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; c && i < c->n; i++) {
        struct cu_token *t = &c->tok[i];
        CK_TOKEN_INFO ti;
        CK_SLOT_ID slot;
        int present, logged_in;
        json_t *o;
        char at[21];
        pthread_mutex_lock(&t->mu);
        if (!t->down) {
            CK_RV rv = t->f->C_GetTokenInfo(t->slot, &ti);
            present = rv == CKR_OK;
            if (!present) {
                t->down = 1;
                t->gen++;
                t->last_attempt_ms = 0;
                snprintf(t->last_error, sizeof t->last_error, "C_GetTokenInfo: 0x%lx",
                         (unsigned long)rv);
            }
        } else {
            present = cu_find_slot(t, &slot) == CKR_OK;
        }
        logged_in = !t->down && !t->pin_bad;
        o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:i}", "name", t->conf.name,
                      "profile", t->prof->name, "module", t->conf.module,
                      "token_label", t->conf.token_label, "present", present,
                      "logged_in", logged_in, "pool_size", t->pool_n);
        if (o) {
            json_object_set_new(o, "last_sign_ms", t->last_sign_ms >= 0 ?
                                json_real(t->last_sign_ms) : json_null());
            json_object_set_new(o, "last_sign_age_ms", t->last_sign_at > 0 ?
                                json_integer(util_now_ms() - t->last_sign_at)
                                : json_null());
            if (t->last_sign_at > 0) {
                util_time_rfc3339((time_t)(t->last_sign_at / 1000), at);
                json_object_set_new(o, "last_sign_at", json_string(at));
            } else {
                json_object_set_new(o, "last_sign_at", json_null());
            }
            json_object_set_new(o, "last_error", t->last_error[0] ?
                                json_string(t->last_error) : json_null());
            json_array_append_new(arr, o);
        }
        pthread_mutex_unlock(&t->mu);
    }
    *out = arr;
    return ERR_OK;
}

/* ---------- module-level helpers (no custody instance) ---------- */

err_code custody_list_slots(const char *module, json_t **out, struct err *e)
{
    void *dl = NULL;
    CK_FUNCTION_LIST_PTR f = NULL;
    CK_SLOT_ID slots[CU_MAX_SLOTS];
    CK_ULONG n = CU_MAX_SLOTS;
    int we_init = 0;
    json_t *arr = NULL;
    err_code rc;
    *out = NULL;
    if ((rc = cu_module_load(module, &dl, &f, &we_init, e)) != ERR_OK)
        return rc;
    if (f->C_GetSlotList(CK_FALSE, slots, &n) != CKR_OK) {
        rc = err_set(e, ERR_HSM_UNAVAILABLE, "C_GetSlotList failed");
        goto done;
    }
    if (!(arr = json_array())) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        char label[33], manu[33], model[17], serial[17];
        json_t *o;
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK) {
            json_array_append_new(arr, json_pack("{s:I,s:b}", "slot",
                                                 (json_int_t)slots[i], "present", 0));
            continue;
        }
        cu_trim(label, ti.label, 32);
        cu_trim(manu, ti.manufacturerID, 32);
        cu_trim(model, ti.model, 16);
        cu_trim(serial, ti.serialNumber, 16);
        o = json_pack("{s:I,s:b,s:s,s:s,s:s,s:s,s:b}", "slot", (json_int_t)slots[i],
                      "present", 1, "label", label, "manufacturer", manu, "model", model,
                      "serial", serial, "initialized",
                      (ti.flags & CKF_TOKEN_INITIALIZED) != 0);
        if (o)
            json_array_append_new(arr, o);
    }
    *out = arr;
    arr = NULL;
    rc = ERR_OK;
done:
    json_decref(arr);
    if (we_init)
        f->C_Finalize(NULL);
    dlclose(dl);
    return rc;
}

err_code custody_init_token(const char *module, long slot, const char *label,
                            const char *so_pin, const char *user_pin, struct err *e)
{
    void *dl = NULL;
    CK_FUNCTION_LIST_PTR f = NULL;
    CK_SLOT_ID slots[CU_MAX_SLOTS];
    CK_ULONG n = CU_MAX_SLOTS;
    CK_SESSION_HANDLE h = 0;
    unsigned char lab[32];
    int we_init = 0;
    CK_RV rv;
    err_code rc;
    if ((rc = cu_module_load(module, &dl, &f, &we_init, e)) != ERR_OK)
        return rc;
    rv = f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK || n == 0) {
        rc = err_set(e, ERR_HSM_UNAVAILABLE, "no token present in %s", module);
        goto done;
    }
    if (slot < 0)
        slot = (long)slots[0];
    memset(lab, ' ', sizeof lab);
    memcpy(lab, label, strlen(label) < sizeof lab ? strlen(label) : sizeof lab);
    if ((rv = f->C_InitToken((CK_SLOT_ID)slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin),
                             lab)) != CKR_OK) {
        rc = err_set(e, ERR_HSM_UNAVAILABLE, "C_InitToken: 0x%lx", (unsigned long)rv);
        goto done;
    }
    if ((rv = f->C_OpenSession((CK_SLOT_ID)slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                               NULL, NULL, &h)) != CKR_OK ||
        (rv = f->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin))) != CKR_OK ||
        (rv = f->C_InitPIN(h, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin))) != CKR_OK) {
        rc = err_set(e, ERR_HSM_UNAVAILABLE, "initializing the user PIN: 0x%lx",
                     (unsigned long)rv);
        goto done;
    }
    (void)f->C_Logout(h);
    rc = ERR_OK;
done:
    if (h)
        (void)f->C_CloseSession(h);
    if (we_init)
        f->C_Finalize(NULL);
    dlclose(dl);
    return rc;
}

/* ---------- SM2 Z / e ---------- */

err_code custody_sm2_e(EVP_PKEY *pub, const char *id, const uint8_t *msg,
                       size_t msg_len, uint8_t e_out[32], struct err *e)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
    BIGNUM *a = BN_new(), *b = BN_new(), *x = BN_new(), *y = BN_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t buf[6 * 32], pt[65], z[32], entl[2];
    size_t ptlen = 0, idlen;
    unsigned int zl = 0;
    err_code rc = ERR_CRYPTO;
    if (!id)
        id = CUSTODY_SM2_DEFAULT_ID;
    idlen = strlen(id);
    if (idlen > 8191) {
        rc = err_set(e, ERR_INVALID, "SM2 ID too long");
        goto done;
    }
    if (!g || !a || !b || !x || !y || !md ||
        EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt,
                                        &ptlen) != 1 || ptlen != 65 || pt[0] != 0x04 ||
        EC_GROUP_get_curve(g, NULL, a, b, NULL) != 1 ||
        EC_POINT_get_affine_coordinates(g, EC_GROUP_get0_generator(g), x, y, NULL) != 1 ||
        BN_bn2binpad(a, buf, 32) != 32 || BN_bn2binpad(b, buf + 32, 32) != 32 ||
        BN_bn2binpad(x, buf + 64, 32) != 32 || BN_bn2binpad(y, buf + 96, 32) != 32) {
        err_set(e, ERR_CRYPTO, "SM2 Z: bad public key");
        goto done;
    }
    memcpy(buf + 128, pt + 1, 64);
    entl[0] = (uint8_t)((idlen * 8) >> 8);
    entl[1] = (uint8_t)(idlen * 8);
    if (EVP_DigestInit_ex(md, EVP_sm3(), NULL) != 1 ||
        EVP_DigestUpdate(md, entl, 2) != 1 || EVP_DigestUpdate(md, id, idlen) != 1 ||
        EVP_DigestUpdate(md, buf, sizeof buf) != 1 || EVP_DigestFinal_ex(md, z, &zl) != 1 ||
        EVP_DigestInit_ex(md, EVP_sm3(), NULL) != 1 || EVP_DigestUpdate(md, z, 32) != 1 ||
        EVP_DigestUpdate(md, msg, msg_len) != 1 || EVP_DigestFinal_ex(md, e_out, &zl) != 1) {
        err_set(e, ERR_CRYPTO, "SM3 failed");
        goto done;
    }
    rc = ERR_OK;
done:
    EVP_MD_CTX_free(md);
    BN_free(a); BN_free(b); BN_free(x); BN_free(y);
    EC_GROUP_free(g);
    return rc;
}
