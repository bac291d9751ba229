/*
 * store_datakey.h - the queries of store_datakey.c: the data keys of
 * encryption at rest (data_keys, sql/sqlite/018_data_keys.sql) and the one
 * list of encrypted blob columns, walked row by row by the commands that
 * encrypt old rows and re-encrypt under a new key (domain/blobcrypt.c).
 */
#ifndef SEALD_STORE_DATAKEY_H
#define SEALD_STORE_DATAKEY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The first schema version with data_keys. */
#define STORE_SCHEMA_DATA_KEYS 18

#define STORE_DATA_KEY_REF_MAX  128
#define STORE_DATA_KEY_WRAP_MAX 256

struct store_data_key {
    int64_t id;
    char    key_ref[STORE_DATA_KEY_REF_MAX];     /* token/hex-id */
    uint8_t wrapped[STORE_DATA_KEY_WRAP_MAX];
    size_t  wrapped_len;
    int     active;                              /* 0: retired */
    int64_t created_ms, retired_ms;              /* retired_ms 0: not */
    int     plaintext_refused;
};

/* Add an active data key (wrapped under key_ref) at now_ms; its id to
 * *id.  In the caller's transaction. */
err_code store_data_key_insert(struct store_conn *c, const char *key_ref,
                               const uint8_t *wrapped, size_t wrapped_len,
                               int64_t now_ms, int64_t *id, struct err *e);

/* Retire every active key but keep_id, at now_ms; how many to *n. */
err_code store_data_key_retire_others(struct store_conn *c, int64_t keep_id,
                                      int64_t now_ms, int64_t *n,
                                      struct err *e);

/* Replace the wrap of key id (a new wrap key, the same data key). */
err_code store_data_key_rewrap(struct store_conn *c, int64_t id,
                               const char *key_ref, const uint8_t *wrapped,
                               size_t wrapped_len, struct err *e);

/* From now on an unsealed blob is refused (sets plaintext_refused on
 * every row; migration 018). */
err_code store_data_key_refuse_plaintext(struct store_conn *c,
                                         struct err *e);

/* Every data key in id order, each passed to fn (its ERR_OK goes on). */
typedef err_code (*store_data_key_fn)(void *ctx,
                                      const struct store_data_key *k,
                                      struct err *e);
err_code store_data_key_list(struct store_conn *c, store_data_key_fn fn,
                             void *ctx, struct err *e);

/* The encrypted blob columns.  A new one is a row here, its two
 * statements in db_stmt.c, and a name in blobcrypt.c. */
enum store_blob_kind {
    STORE_BLOB_MATERIAL,        /* application_materials.data  */
    STORE_BLOB_IMAGE,           /* applications.image          */
    STORE_BLOB_DOCUMENT,        /* sign_documents.data         */
    STORE_BLOB_SEALED,          /* sealed_ofds.data            */
    STORE_BLOB__COUNT
};

/* One stored blob: its row, the row's owner and the SM3 its AAD names
 * (blobcrypt.h), and the stored bytes (malloc'ed, caller frees). */
struct store_blob {
    int64_t  id;
    int64_t  owner;
    uint8_t  sm3[32];
    uint8_t *data;
    size_t   len;
};

/* The first row of kind with id > after (a NULL blob is skipped) into
 * *out; ERR_NOT_FOUND past the last. */
err_code store_blob_next(struct store_conn *c, enum store_blob_kind kind,
                         int64_t after, struct store_blob *out,
                         struct err *e);

/* Replace row id's blob old by new, only if it still holds old (a writer
 * meanwhile wins); *changed 1 if replaced. */
err_code store_blob_replace(struct store_conn *c, enum store_blob_kind kind,
                            int64_t id, const uint8_t *old, size_t old_len,
                            const uint8_t *new_data, size_t new_len,
                            int *changed, struct err *e);

#endif
