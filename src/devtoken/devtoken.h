/*
 * devtoken.h - internal types of the seald development token (libsealdtoken.so).
 *
 * Owns: the token/slot/key structures shared by devtoken.c (the PKCS#11
 * entry points) and devtoken_store.c (on-disk format, PIN key derivation and
 * AES-256-GCM wrapping).  Nothing outside src/devtoken includes this header.
 *
 * Storage (one directory per slot; SEALD_DEVTOKEN_DIR is a ':'-separated list
 * of directories, slot N = Nth directory):
 *   DIR/token.dat        "key=value" text: label, profile, PIN salts, the
 *                        32-byte master key wrapped under PBKDF2(SO PIN) and
 *                        under PBKDF2(user PIN), failure counters.
 *   DIR/key-<hexid>.dat  one SM2 key pair: id, label, public point, private
 *                        scalar wrapped (AES-256-GCM) under the master key.
 *   DIR/profile          optional: vendor profile of this slot (sansec,
 *                        tass, luna, ibm); env SEALD_DEVTOKEN_PROFILE wins.
 *   DIR/absent           fault switch: while this file exists the token is
 *                        "removed" (no token in the slot, sessions die).
 * Every write is temp file + fsync + rename + fsync(dir).
 * SEALD_DEVTOKEN_DIR unset or empty: the module has no slots (there is no
 * SEALD_DEVTOKEN_CONF; the environment is the whole configuration).  A
 * directory that does not exist is a slot without a token.  Create a token
 * with `seald token init-dev --module ... --dir D ...` or with
 * `pkcs11-tool --init-token` + `--init-pin` on an existing empty directory.
 * Key type: SM2 only (ECDSA P-256 is SoftHSM2's job); key material is never
 * extractable (CKA_VALUE of a private key answers CKR_ATTRIBUTE_SENSITIVE).
 */
#ifndef SEALD_DEVTOKEN_H
#define SEALD_DEVTOKEN_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(default)
#include <pkcs11.h>
#pragma GCC visibility pop

#include <openssl/evp.h>

#define DT_MAX_SLOTS        8
#define DT_MAX_KEYS         256
#define DT_MAX_SESSIONS     1024
#define DT_MAX_ID           64
#define DT_MAX_LABEL        128
#define DT_PIN_MIN          4
#define DT_PIN_MAX          64
#define DT_MAX_FAIL         5      /* wrong PINs before the PIN is locked */
#define DT_PBKDF2_ITER      20000
#define DT_SALT_LEN         16
#define DT_MK_LEN           32
#define DT_GCM_NONCE        12
#define DT_GCM_TAG          16
#define DT_WRAP_LEN(n)      (DT_GCM_NONCE + (n) + DT_GCM_TAG)
#define DT_PRESENCE_TTL_NS  1000000  /* re-stat the fault switch after 1 ms */
#define DT_PUB_LEN          65     /* 04 || x || y */
#define DT_SCALAR_LEN       32

/* A vendor profile: which constants this token answers with. */
struct dt_profile {
    const char       *name;
    CK_KEY_TYPE       ckk;
    CK_MECHANISM_TYPE gen;
    CK_MECHANISM_TYPE sign_raw;    /* SM2 sign over e (32 bytes)          */
    CK_MECHANISM_TYPE sign_sm3;    /* SM3-with-SM2 over a message, 0: none */
    int               der;         /* 1: signatures DER, 0: raw r||s      */
    CK_MECHANISM_TYPE decrypt;     /* SM2 decryption (GM/T 0003.4) of a
                                    * DER SM2Cipher (GM/T 0009), 0: none  */
};

struct dt_key {
    int               used;
    CK_OBJECT_HANDLE  hpub, hpriv;
    unsigned char     id[DT_MAX_ID];
    size_t            id_len;
    char              label[DT_MAX_LABEL + 1];
    unsigned char     pub[DT_PUB_LEN];
    unsigned char     wrapped[DT_WRAP_LEN(DT_SCALAR_LEN)];
    EVP_PKEY         *priv;        /* only while the user is logged in */
};

struct dt_slot {
    char              dir[PATH_MAX];
    const struct dt_profile *prof;
    int               present;     /* token present at last check        */
    int               faulty;      /* "faulty" switch seen at that check */
    int64_t           checked_ns;  /* monotonic time of that check       */
    unsigned          gen;         /* bumped on each removal              */
    int               initialized; /* token.dat exists                    */
    char              label[33];
    char              serial[17];
    unsigned char     so_salt[DT_SALT_LEN];
    unsigned char     so_wrap[DT_WRAP_LEN(DT_MK_LEN)];
    int               user_set;
    unsigned char     user_salt[DT_SALT_LEN];
    unsigned char     user_wrap[DT_WRAP_LEN(DT_MK_LEN)];
    int               so_fail, user_fail;
    CK_USER_TYPE      login;       /* (CK_USER_TYPE)-1: nobody            */
    unsigned char     mk[DT_MK_LEN];
    CK_OBJECT_HANDLE  next_handle;
    struct timespec   keys_mtime;  /* s->dir's time when keys were read   */
    struct dt_key     keys[DT_MAX_KEYS];
};

/* devtoken_store.c */
const struct dt_profile *dt_profile_find(const char *name);
int  dt_store_load(struct dt_slot *s);            /* 0 ok, -1 error */
int  dt_store_rescan_keys(struct dt_slot *s);     /* 0 ok, -1 error */
void dt_store_refresh_keys(struct dt_slot *s);
int  dt_store_save_token(const struct dt_slot *s);
int  dt_store_save_key(const struct dt_slot *s, const struct dt_key *k);
int  dt_store_remove_key(const struct dt_slot *s, const struct dt_key *k);
int  dt_store_wipe_keys(const struct dt_slot *s);
int  dt_kdf(const unsigned char *pin, size_t pinlen, const unsigned char *salt,
            unsigned char out[32]);
int  dt_wrap(const unsigned char key[32], const char *aad,
             const unsigned char *in, size_t inlen, unsigned char *out);
int  dt_unwrap(const unsigned char key[32], const char *aad,
               const unsigned char *in, size_t inlen, unsigned char *out);
void dt_wipe(void *p, size_t n);

#endif
