/*
 * store_audit.h - the queries of store_audit.c: the audit log, its chain
 * head and its signed checkpoints.
 */
#ifndef SEALD_STORE_AUDIT_H
#define SEALD_STORE_AUDIT_H

#include "store.h"

/* audit.c computes the chain's hashes; these functions only read and
 * write rows. */

/* The log's newest entry: *seq (0 for an empty log) and its stored hash into
 * hash[STORE_AUDIT_HASH_LEN] (*has_hash 0 if the row has none). */
err_code store_audit_head(struct store_conn *c, int64_t *seq,
                          uint8_t hash[STORE_AUDIT_HASH_LEN], int *has_hash,
                          struct err *e);

/* Inside an appending transaction: claim the next seq of the chain's head
 * row (migration 008), *seq, and read the hash it links to into prev
 * (*has_prev 0 when the head has none: an empty log, or one older than the
 * chain).  On a database with row locks the claim is the chain's one
 * serialisation point: a second appender waits here until the first
 * commits. */
err_code store_audit_head_claim(struct store_conn *c, int64_t *seq,
                                uint8_t prev[STORE_AUDIT_HASH_LEN],
                                int *has_prev, struct err *e);

/* Lock the chain's head row in the caller's transaction without moving it
 * (audit.h, audit_queue): later appends in the transaction then never
 * wait for it. */
err_code store_audit_head_lock(struct store_conn *c, struct err *e);

/* Record hash as the head's, for the seq this transaction claimed. */
err_code store_audit_head_set(struct store_conn *c, int64_t seq,
                              const uint8_t hash[STORE_AUDIT_HASH_LEN],
                              struct err *e);

/* The head row as stored (for verification): *found 0 when it has none. */
err_code store_audit_head_row(struct store_conn *c, int64_t *seq,
                              uint8_t hash[STORE_AUDIT_HASH_LEN],
                              int *has_hash, int *found, struct err *e);

/* Insert a row with an explicit seq and hash (no AUTOINCREMENT gaps). */
err_code store_audit_insert_chained(struct store_conn *c, int64_t seq,
                                    const struct store_audit_row *row,
                                    const uint8_t hash[STORE_AUDIT_HASH_LEN],
                                    struct err *e);

/* Every row with seq > after, by seq (the chain walk). */
err_code store_audit_walk(struct store_conn *c, int64_t after,
                          store_audit_fn fn, void *ctx, struct err *e);

err_code store_audit_query(struct store_conn *c,
                           const struct store_audit_filter *f,
                           store_audit_fn fn, void *ctx, struct err *e);

err_code store_audit_checkpoint_insert(struct store_conn *c,
                                       const struct store_audit_checkpoint *cp,
                                       struct err *e);

/* The newest checkpoint (highest id); ERR_NOT_FOUND if there is none. */
err_code store_audit_checkpoint_latest(struct store_conn *c,
                                       struct store_audit_checkpoint *out,
                                       struct err *e);

/* Every checkpoint by (seq, id). */
err_code store_audit_checkpoint_list(struct store_conn *c,
                                     store_checkpoint_fn fn, void *ctx,
                                     struct err *e);

#endif
