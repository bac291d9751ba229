/*
 * auth.h - API credentials: issuing them, and checking a presented one.
 *
 * A credential is "seald_<key_id>_<secret>": key_id is 8 random bytes in hex
 * (the lookup key), secret is 32 random bytes in hex (256 bits).  The store
 * keeps only HMAC-SM3(server secret, key_id ":" secret); the design notes say
 * why an HMAC and not a slow hash.  Comparison is constant-time.
 */
#ifndef SEALD_AUTH_H
#define SEALD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

#define AUTH_SERVER_SECRET_BYTES 32
#define AUTH_KEY_ID_BYTES        8
#define AUTH_SECRET_BYTES        32
/* "seald_" + 16 hex + "_" + 64 hex */
#define AUTH_CREDENTIAL_LEN      (6 + 2 * AUTH_KEY_ID_BYTES + 1 + \
                                  2 * AUTH_SECRET_BYTES)
#define AUTH_MAC_BYTES           32
#define AUTH_DEFAULT_MAX_AGE_MS  (60LL * 24 * 3600 * 1000)

/* The server secret that keys credential MACs.  Lives for the process; wiped
 * by auth_key_free(). */
struct auth_key;

/* Create a new random server secret file (mode 0600); fails if it exists. */
err_code auth_key_create(const char *path, struct err *e);

/* Load the server secret from path.  Free with auth_key_free(). */
err_code auth_key_load(const char *path, struct auth_key **out,
                       struct err *e);
void auth_key_free(struct auth_key *k);

/* Who a checked credential belongs to. */
struct auth_principal {
    int64_t account_id;
    int64_t credential_id;
    int     initial;             /* must be rotated before other calls */
    int     held;                /* held after a credential reset: no
                                    roles until re-confirmed (SOD-7)     */
    int64_t expires_ms;
    struct store_account account;
    struct store_role roles[STORE_MAX_ROLES];
    size_t  nroles;
};

/* Issue a new credential for account_id, valid for max_age_ms, and store its
 * MAC.  out receives the credential text (shown once, never stored); the
 * caller wipes it after use.  Call inside the caller's transaction. */
err_code auth_credential_issue(struct store_conn *c, const struct auth_key *k,
                               int64_t account_id, int initial,
                               int64_t max_age_ms,
                               char out[AUTH_CREDENTIAL_LEN + 1],
                               struct err *e);

/* Check a presented credential.  ERR_UNAUTHENTICATED with a reason for any
 * failure (malformed, unknown, wrong, expired, revoked, account disabled);
 * on success fills *p.  On a failure where the key id named a real
 * credential, p->account_id still says whose it was (for lockout). */
err_code auth_check(struct store_conn *c, const struct auth_key *k,
                    const char *credential, struct auth_principal *p,
                    struct err *e);

/* Fill *p for account_id (account, active roles and deputy authority);
 * ERR_UNAUTHENTICATED if the account is disabled.  Used for certificate
 * authentication, where there is no credential. */
err_code auth_principal_load(struct store_conn *c, int64_t account_id,
                             struct auth_principal *p, struct err *e);

/* 1 if the principal holds role (in any scope). */
int auth_has_role(const struct auth_principal *p, const char *role);

#endif
