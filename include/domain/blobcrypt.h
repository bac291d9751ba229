/*
 * blobcrypt.h - encryption at rest of the stored blobs (issue 18 item 11):
 * application materials, impression images, uploaded documents and kept
 * sealed OFDs (and any blob added later): the one place that seals a blob
 * before it is written and opens it after it is read.
 *
 * Construction (docs/design.md "Encryption at rest"): SM4-CTR and
 * HMAC-SM3, encrypt-then-MAC, under two keys derived from a 32-byte data
 * key (HKDF-Expand with SM3); OpenSSL 3.0 has no SM4-GCM.  A sealed blob is
 *   magic(8) || key id (4, big-endian) || IV (16) || ciphertext || tag (32)
 * where the tag covers everything before it and the AAD: the blob's column,
 * its owner row and the SM3 of its plaintext (struct blob_ref), so a
 * ciphertext moved to another row, owner or column does not open.
 *
 * Keys: the data keys are rows of data_keys, each wrapped (SM2-encrypted)
 * to a decryption key in a token; the process-wide key ring
 * (blobcrypt_start) unwraps one through custody when a blob needs it and
 * keeps it for storage.data_key_cache_seconds (0: never kept), in locked
 * memory that is wiped when it goes.  Unwrapping is a token operation:
 * call blob_active_key and blob_open outside units (unit.h).
 *
 * Threads: every function may be called from many threads at once.
 */
#ifndef SEALD_BLOBCRYPT_H
#define SEALD_BLOBCRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "custody.h"
#include "err.h"
#include <jansson.h>

#include "store_types.h"

struct store;

#define BLOB_DATA_KEY_LEN 32
#define BLOB_MAGIC_LEN    8
#define BLOB_HEADER_LEN   (BLOB_MAGIC_LEN + 4 + 16)
#define BLOB_TAG_LEN      32
#define BLOB_OVERHEAD     (BLOB_HEADER_LEN + BLOB_TAG_LEN)

/* The encrypted columns (the same list as the store's walk). */
enum blob_kind {
    BLOB_MATERIAL,      /* application_materials.data, owner application */
    BLOB_IMAGE,         /* applications.image, owner 0 (copied on renewal) */
    BLOB_DOCUMENT,      /* sign_documents.data, owner the signing request */
    BLOB_SEALED,        /* sealed_ofds.data, owner the document sealed
                           (sign_documents.id; the row's own id is not
                           known before its insert) */
    BLOB__COUNT
};

/* Which row a blob belongs to: its AAD.  sm3 is the SM3 of the plaintext
 * (32 bytes), as the row's hash column holds it. */
struct blob_ref {
    enum blob_kind kind;
    int64_t        owner;
    const uint8_t *sm3;
};

/* A working key: a data key's id and its derived keys, in locked memory. */
struct blob_key;

/* A working key from raw data key bytes dk (tests; the key ring uses it
 * too).  *out is released with blob_key_put. */
err_code blob_key_from(uint32_t id, const uint8_t dk[BLOB_DATA_KEY_LEN],
                       struct blob_key **out, struct err *e);

/* Drop a reference (from blob_key_from, blob_active_key or the key ring);
 * the last one wipes and frees it.  NULL is fine. */
void blob_key_put(struct blob_key *k);

/* The data key id a working key seals under. */
uint32_t blob_key_id(const struct blob_key *k);

/* Seal pt[0..n) for row r under k: *out (malloc'ed, caller frees) holds
 * n + BLOB_OVERHEAD bytes.  Pure: no token, no database. */
err_code blob_seal(const struct blob_key *k, const struct blob_ref *r,
                   const uint8_t *pt, size_t n, uint8_t **out,
                   size_t *out_len, struct err *e);

/* Open a sealed blob with k: *pt (malloc'ed, caller frees; n bytes, at
 * least 1 allocated).  ERR_MALFORMED when it is not a sealed blob (too
 * short, no magic), ERR_CRYPTO when it names another key id or the tag
 * does not match (tampered, or moved from another row). */
err_code blob_open_with(const struct blob_key *k, const struct blob_ref *r,
                        const uint8_t *ct, size_t n, uint8_t **pt,
                        size_t *pt_len, struct err *e);

/* 1 if p[0..n) has the sealed blob's magic (and room for its header and
 * tag); *key_id (may be NULL) gets the key id it names. */
int blob_is_sealed(const uint8_t *p, size_t n, uint32_t *key_id);

/* ---- the process-wide key ring ---- */

/* Install the key ring: data keys read from store s, unwrapped through
 * custody c (both outlive it), kept cache_seconds (0: unwrapped for each
 * use).  Replaces a ring installed before. */
err_code blobcrypt_start(struct custody *c, struct store *s,
                         long cache_seconds, struct err *e);

/* Wipe every kept key and uninstall the ring. */
void blobcrypt_stop(void);

/* The working key new blobs are sealed under: the active data key with the
 * highest id, unwrapped if need be (a token operation).  *out is released
 * with blob_key_put.  ERR_UNAVAILABLE when there is no ring or no active
 * key (an instance without data keys: `seald data-key rotate` makes one). */
err_code blob_active_key(struct blob_key **out, struct err *e);

/* Open a stored blob of row r with the key its header names (unwrapped if
 * need be).  A blob without the magic is a row written before encryption
 * at rest (migration 018): it comes back as it is, unless the instance
 * refuses them (data_keys.plaintext_refused: an instance that never had
 * one, or whose rows `seald data-key encrypt` has all sealed), then
 * ERR_CRYPTO.  ERR_UNAVAILABLE without a ring.  *pt as blob_open_with. */
err_code blob_open(const struct blob_ref *r, const uint8_t *stored, size_t n,
                   uint8_t **pt, size_t *pt_len, struct err *e);

/* blob_open of *buf (*len bytes, malloc'ed) replacing it by the
 * plaintext: the old buffer is freed either way (*buf NULL on failure). */
err_code blob_open_in_place(const struct blob_ref *r, uint8_t **buf,
                            size_t *len, struct err *e);

/* Drop every kept unwrapped key whose time is up (the maintenance job
 * calls it, so an idle process does not keep a key). */
void blobcrypt_sweep(void);

/* ---- data key administration (seald init, seald data-key) ---- */

/* Make a new data key: 32 random bytes wrapped to the wrap key
 * wrap_ref ("token/hex-id"); the others retired; audited
 * (data_key.create).  The new id to *id. */
err_code blobcrypt_create_key(struct store *s, struct custody *c,
                              const char *wrap_ref, int64_t *id,
                              struct err *e);

/* When the instance has no data key yet (new, or made before migration
 * 018): a wrap key generated in the local CA's token and a first data key
 * under it (*made 1), refusing unsealed blobs at once when there is no
 * blob yet.  Nothing when it has one (*made 0). */
err_code blobcrypt_ensure_key(struct store *s, struct custody *c, int *made,
                              struct err *e);

/* Generate a wrap key (SM2 decryption key pair) in token; its reference
 * "token/hex-id" to ref (cap bytes). */
err_code blobcrypt_new_wrap_key(struct custody *c, const char *token,
                                char *ref, size_t cap, struct err *e);

/* The wrap key of the newest data key into ref (cap bytes);
 * ERR_NOT_FOUND when the instance has none. */
err_code blobcrypt_current_wrap(struct store *s, char *ref, size_t cap,
                                struct err *e);

/* Re-wrap every data key not already wrapped under wrap_ref to wrap_ref
 * (unwrapping each with its old wrap key), in one transaction, audited
 * (data_key.rewrap); how many to *n. */
err_code blobcrypt_rewrap(struct store *s, struct custody *c,
                          const char *wrap_ref, int64_t *n, struct err *e);

/* Seal under the active key every stored blob that is not sealed under it
 * (reencrypt 1) or not sealed at all (reencrypt 0): one row per
 * transaction, each conditional on the row unchanged, so a kill leaves
 * every row readable and a rerun goes on; audited once at the end
 * (data_key.encrypt / data_key.reencrypt) with the counts, and when no
 * unsealed row is left, unsealed blobs are refused from then on.  Needs
 * the key ring.  *n gets the rows rewritten. */
err_code blobcrypt_encrypt_rows(struct store *s, int reencrypt, int64_t *n,
                                struct err *e);

/* Open every stored blob and compare its plaintext with the row's SM3:
 * *checked rows, *failed of them not readable; each failure appended to
 * failures (may be NULL) as {"column","id","error"}.  Needs the ring. */
err_code blobcrypt_verify_rows(struct store *s, int64_t *checked,
                               int64_t *failed, json_t *failures,
                               struct err *e);

/* Counts for `seald data-key list`: JSON {"keys":[{id, wrap_key, state,
 * created_ms, retired_ms, plaintext_refused}], "plaintext_refused": bool,
 * "blobs": {"<column>": {"sealed_by": {"id": n}, "plaintext": n}}}.  *out
 * is a new reference. */
err_code blobcrypt_report(struct store *s, json_t **out, struct err *e);

#endif
