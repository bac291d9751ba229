/*
 * custody.h - key custody through PKCS#11 (issue 4).
 *
 * Owns: the one interface through which seald generates key pairs, reads
 * public keys and signs.  No private key ever lives in seald's memory: keys
 * are generated in and used through a PKCS#11 token (an HSM, SoftHSM2 or the
 * project's dev token libsealdtoken.so).  Tokens are described by
 * struct custody_token_conf (filled by the config parser or by `seald token`
 * flags) and speak one of the profiles below.
 *
 * Profiles (key type / key-pair gen / sign mechanism / signature encoding):
 *   sm2-sansec  CKK 0x80000004  gen 0x80008001  sign-e 0x80008104  raw r||s
 *   sm2-tass    CKK 0x80000004  gen 0x80008001  sign-e 0x80008000  DER
 *   sm2-luna    CKK 0x80000016  gen 0x80000B20  sign-e 0x80000B21  raw r||s
 *   sm2-ibm     CKK 0x80050002  gen 0x8005000A  sign-e 0x8005000B  DER
 *   ecdsa-p256  CKK_EC          CKM_EC_KEY_PAIR_GEN  CKM_ECDSA      raw r||s
 * Whatever the token emits, custody returns signatures as DER
 * SEQUENCE { r INTEGER, s INTEGER }.
 *
 * Key reference: token name (custody_token_conf.name) + lowercase hex CKA_ID.
 *
 * Threading: all functions on one struct custody may be called from many
 * threads at once; each token has a pool of sessions so several signatures
 * are in flight per token.  Errors: ERR_HSM_UNAVAILABLE when a token is gone
 * or not logged in (returned fast; the token recovers by itself when it comes
 * back), ERR_NOT_FOUND for unknown tokens/keys, ERR_CONFIG for bad settings.
 */
#ifndef SEALD_CUSTODY_H
#define SEALD_CUSTODY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "err.h"

#define CUSTODY_NAME_MAX      64
#define CUSTODY_PATH_MAX      4096
#define CUSTODY_PROFILE_MAX   32
#define CUSTODY_LABEL_MAX     64
#define CUSTODY_ENV_MAX       64
#define CUSTODY_ID_MAX        32          /* bytes of CKA_ID we generate/accept */
#define CUSTODY_ID_HEX_MAX    (2 * CUSTODY_ID_MAX + 1)
#define CUSTODY_SIG_MAX       72          /* DER ECDSA/SM2 signature, 256-bit */
#define CUSTODY_POOL_DEFAULT  4
#define CUSTODY_POOL_MAX      64
#define CUSTODY_SM2_DEFAULT_ID "1234567812345678"

/* One configured token.  The PIN is never here: it is read from pin_file
 * (first line) or from the environment variable pin_env when needed, and
 * wiped after use. */
struct custody_token_conf {
    char name[CUSTODY_NAME_MAX];           /* seald's name for the token      */
    char module[CUSTODY_PATH_MAX];         /* PKCS#11 module (.so) path       */
    char profile[CUSTODY_PROFILE_MAX];     /* see the profile table above     */
    char token_label[CUSTODY_LABEL_MAX];   /* CKA token label to select       */
    int  slot;                             /* -1: select by label only        */
    char pin_file[CUSTODY_PATH_MAX];       /* either this ...                 */
    char pin_env[CUSTODY_ENV_MAX];         /* ... or this                     */
    int  pool_size;                        /* 0: CUSTODY_POOL_DEFAULT         */
};

struct custody;

/* Fill *conf with defaults (slot -1, pool 0, empty strings). */
void custody_conf_init(struct custody_token_conf *conf);

/* Open every token in confs[0..n): load the modules through libpkcs11-helper,
 * find each token, log in (PIN hook), check the profile's mechanisms.  A
 * token that is absent at open time is not an error: it starts "down" and
 * recovers when it appears; a wrong PIN, unknown profile or unloadable
 * module is (ERR_HSM_UNAVAILABLE / ERR_CONFIG).  *out is freed with
 * custody_close. */
err_code custody_open(const struct custody_token_conf *confs, size_t n,
                      struct custody **out, struct err *e);

/* Close sessions, unload providers, free c (NULL is fine). */
void custody_close(struct custody *c);

/* Profile name of a token ("sm2-sansec", ...); NULL if unknown token. */
const char *custody_token_profile(const struct custody *c, const char *token);

/* 1 if the token's profile is an SM2 one, 0 if ECDSA P-256, -1 unknown. */
int custody_token_is_sm2(const struct custody *c, const char *token);

/* Generate a key pair on the token with the given label.  id/id_len give the
 * CKA_ID (id NULL: 16 random bytes).  The hex CKA_ID is written to
 * id_hex_out[CUSTODY_ID_HEX_MAX]. */
err_code custody_generate(struct custody *c, const char *token,
                          const char *label, const uint8_t *id, size_t id_len,
                          char id_hex_out[CUSTODY_ID_HEX_MAX], struct err *e);

/* Generate an SM2 decryption key pair (CKA_DECRYPT/CKA_ENCRYPT, neither
 * signing nor verifying: one key, one purpose) labelled label, with 16
 * random bytes of CKA_ID (hex to id_hex_out).  ERR_CONFIG on a profile
 * without an SM2 decryption mechanism.  The data-key wrap (issue 18). */
err_code custody_generate_decrypt_key(struct custody *c, const char *token,
                                      const char *label,
                                      char id_hex_out[CUSTODY_ID_HEX_MAX],
                                      struct err *e);

/* Wrap: SM2-encrypt in[0..in_len) to the public half of key (token, id_hex)
 * (GM/T 0003.4; a public-key operation, done here with OpenSSL); *out is a
 * malloc'ed DER SM2Cipher (GM/T 0009), caller frees.  Unwrap: the token
 * decrypts it with the private half (the profile's decryption mechanism)
 * into out[cap]; *out_len the length.  The caller wipes out.  ERR_CONFIG on
 * a profile without one, ERR_CRYPTO when the token refuses the input. */
err_code custody_wrap(struct custody *c, const char *token, const char *id_hex,
                      const uint8_t *in, size_t in_len, uint8_t **out,
                      size_t *out_len, struct err *e);
err_code custody_unwrap(struct custody *c, const char *token, const char *id_hex,
                        const uint8_t *in, size_t in_len, uint8_t *out,
                        size_t cap, size_t *out_len, struct err *e);

/* Public key of key (token, id_hex) as an EVP_PKEY holding only the public
 * part (SM2 type for SM2 profiles, EC P-256 otherwise).  Caller frees with
 * EVP_PKEY_free. */
err_code custody_public_key(struct custody *c, const char *token,
                            const char *id_hex, EVP_PKEY **out, struct err *e);

/* Same key as SubjectPublicKeyInfo DER; *der is malloc'ed, caller frees. */
err_code custody_public_key_der(struct custody *c, const char *token,
                                const char *id_hex, uint8_t **der,
                                size_t *der_len, struct err *e);

/* SM2: sign e (32 bytes, e = SM3(Z || M)) with key (token, id_hex).  The DER
 * signature goes to sig[CUSTODY_SIG_MAX], its length to *sig_len.  Fails with
 * ERR_INVALID on a non-SM2 token. */
err_code custody_sign_e(struct custody *c, const char *token,
                        const char *id_hex, const uint8_t e32[32],
                        uint8_t sig[CUSTODY_SIG_MAX], size_t *sig_len,
                        struct err *e);

/* ECDSA P-256: sign a SHA-256 digest (32 bytes); DER out as above.  Fails
 * with ERR_INVALID on an SM2 token. */
err_code custody_sign_digest(struct custody *c, const char *token,
                             const char *id_hex, const uint8_t dgst[32],
                             uint8_t sig[CUSTODY_SIG_MAX], size_t *sig_len,
                             struct err *e);

/* Keys on a token: JSON array of {"id": hex, "label": str}.  *out is a new
 * reference; caller json_decref's it. */
err_code custody_list_keys(struct custody *c, const char *token, json_t **out,
                           struct err *e);

/* Health of every configured token: JSON array of objects
 * {"name","profile","module","token_label","present","logged_in",
 *  "pool_size","last_sign_ms" (round trip of the last successful signature,
 *  null if none),"last_sign_age_ms" (how long ago it was, ms,
 *  null if none),"last_sign_at" (RFC 3339 or null),"last_error" (str|null)}.
 * *out is a new reference; caller json_decref's it. */
err_code custody_health(struct custody *c, json_t **out, struct err *e);

/* Slots of a module, without logging in: JSON array of {"slot","present",
 * "label","manufacturer","model","serial","initialized"}.  Caller decrefs. */
err_code custody_list_slots(const char *module, json_t **out, struct err *e);

/* Initialize a token through plain PKCS#11 (C_InitToken, SO login,
 * C_InitPIN): the `seald token init-dev` path, usable for the dev token.
 * slot < 0 selects the first slot.  PINs are NUL-terminated; caller wipes. */
err_code custody_init_token(const char *module, long slot, const char *label,
                            const char *so_pin, const char *user_pin,
                            struct err *e);

/* SM2 helpers (GM/T 0009): e = SM3(Z || msg) with
 * Z = SM3(ENTL || id || a || b || xG || yG || xA || yA) for public key pub.
 * id NULL means CUSTODY_SM2_DEFAULT_ID. */
err_code custody_sm2_e(EVP_PKEY *pub, const char *id, const uint8_t *msg,
                       size_t msg_len, uint8_t e_out[32], struct err *e);

/* Read a PIN from file (first line) or env var into a buffer of
 * CUSTODY_PIN_BUF bytes in secret memory (util_read_secret: locked, no
 * stdio copy).  Free it with custody_pin_free, which wipes it. */
#define CUSTODY_PIN_BUF 256
void custody_pin_free(char *pin);
err_code custody_read_pin(const char *pin_file, const char *pin_env,
                          char **pin, struct err *e);

#endif
