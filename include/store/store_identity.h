/*
 * store_identity.h - the queries of store_identity.c: identities of the
 * identity platform bound to seald accounts (migration 014).  An identity
 * is (issuer, claim, subject): the token's iss, the claim the issuer's
 * configuration names, and that claim's value.
 */
#ifndef SEALD_STORE_IDENTITY_H
#define SEALD_STORE_IDENTITY_H

#include "store.h"

#define STORE_IDENTITY_TEXT_MAX 256   /* issuer, claim, subject: bytes + 1 */

struct store_identity {
    int64_t id;
    char    issuer[STORE_IDENTITY_TEXT_MAX];
    char    claim[64];
    char    subject[STORE_IDENTITY_TEXT_MAX];
    int64_t account_id;
    int64_t created_ms;
    int64_t created_by;
};

typedef err_code (*store_identity_fn)(void *ctx,
                                      const struct store_identity *b);

/* Bind the identity to account_id (by created_by, now_ms); *id_out the
 * binding's id.  ERR_CONFLICT if the identity is bound in force already. */
err_code store_identity_insert(struct store_conn *c, const char *issuer,
                               const char *claim, const char *subject,
                               int64_t account_id, int64_t created_by,
                               int64_t now_ms, int64_t *id_out,
                               struct err *e);

/* The account the identity is bound to, in force: *account_id.
 * ERR_NOT_FOUND if none. */
err_code store_identity_lookup(struct store_conn *c, const char *issuer,
                               const char *claim, const char *subject,
                               int64_t *account_id, struct err *e);

/* The bindings in force of account_id, by id, to fn. */
err_code store_identity_list(struct store_conn *c, int64_t account_id,
                             store_identity_fn fn, void *ctx,
                             struct err *e);

/* End binding id of account_id (by removed_by).  ERR_NOT_FOUND if it is
 * not a binding in force of that account. */
err_code store_identity_remove(struct store_conn *c, int64_t id,
                               int64_t account_id, int64_t removed_by,
                               int64_t now_ms, struct err *e);

#endif
