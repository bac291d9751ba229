/*
 * account.h - domain logic for accounts and their credentials.  Functions
 * here run the transaction, enforce the rules and write the audit record;
 * they know nothing about HTTP.
 */
#ifndef SEALD_ACCOUNT_H
#define SEALD_ACCOUNT_H

#include <stdint.h>

#include "audit.h"
#include "auth.h"
#include "store.h"

/* Replace the caller's credential: the presented one is revoked and a new,
 * non-initial one valid for max_age_ms is issued, with its audit record, in
 * one transaction.  out gets the new credential (caller wipes it). */
err_code account_rotate_credential(struct store_conn *c,
                                   const struct auth_key *k,
                                   const struct auth_principal *p,
                                   const struct audit_actor *who,
                                   int64_t max_age_ms,
                                   char out[AUTH_CREDENTIAL_LEN + 1],
                                   struct err *e);

#endif
