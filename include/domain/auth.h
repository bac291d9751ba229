/*
 * auth.h - API credentials: issuing them, and checking a presented one.
 *
 * A credential is "seald_<key_id>_<secret>": key_id is 8 random bytes in hex
 * (the lookup key), secret is 32 random bytes in hex (256 bits).  The store
 * keeps only HMAC-SM3(server secret, key_id ":" secret); the design notes say
 * why an HMAC and not a slow hash.  Comparison is constant-time.
 *
 * auth_identify() is the whole of authentication for the HTTP front end:
 * the per-address rate limit, lockouts of addresses and accounts, the
 * bearer credential or else a client certificate, and the failure counts.
 * http.c only gathers what the request carries (struct auth_attempt).
 */
#ifndef SEALD_AUTH_H
#define SEALD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "lockout.h"
#include "ratelimit.h"
#include "store_types.h"

struct fwdcert_trust;                  /* fwdcert.h */

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

/* What a request carries that says who sent it, gathered by the front end
 * (all borrowed for the call). */
struct auth_attempt {
    const char *client_addr;     /* text form, the lockout's subject      */
    const char *authorization;   /* the Authorization header, or NULL     */
    int         mtls;            /* server.client_ca is set               */
    /* The client certificate, when mtls and the client sent one.  The TLS
     * library verified it against server.client_ca: cert_error says why
     * it did not pass (NULL: it did).  Subject and issuer DN are as that
     * library prints them, which is how system accounts store them. */
    int         cert_present;
    const char *cert_error;
    const char *cert_subject;
    const char *cert_issuer;
    int64_t     cert_expires_ms;
    /* The request came from the configured gateway ([gateway]: its mutual-
     * TLS certificate verified and its DNs matched): cert_present and the
     * rest above are unset, and forwarded_cert is the value of
     * gateway.client_cert_header, or NULL.  The gateway's own certificate
     * authenticates nobody. */
    int         gateway;
    const char *forwarded_cert;
    /* A person's identity token (X-Seald-Person-Token), or NULL: the
     * caller (a portal) acts for that person (idtoken.h). */
    const char *person_token;
    int64_t     now_s;           /* the clock the token is checked at    */
};

/* The rules auth_identify() applies (from the config; borrowed). */
struct auth_policy {
    const struct auth_key *key;
    struct ratelimit      *limiter;      /* "ip:" and "acct:" buckets */
    struct lockout_rule    address_rule; /* security.address_lockout_*  */
    struct lockout_rule    account_rule; /* security.lockout_*          */
    struct idtoken        *idtoken;      /* the issuers; NULL: none     */
    int                    direct_login; /* identity.direct_login       */
    long                   max_token_bytes; /* identity.max_token_bytes */
    const struct fwdcert_trust *fwd;     /* gateway.client_ca; NULL: none */
};

/* What auth_identify() found, whatever it returned. */
struct auth_result {
    struct auth_principal principal;
    int authenticated;           /* principal is the caller (an error
                                    after this is the account's own rate
                                    limit, audited as that account)     */
    int retry_after;             /* seconds, for a 429 or a lock; 0 none */
    /* The portal the principal, a person, acts through (0: none).  On a
     * refusal of a portal's person token, principal is the portal and
     * authenticated is 1, so the refusal is the portal's, audited. */
    int64_t via_account_id;
};

/* Who sent the attempt?  In order: the address's rate limit and lock, the
 * bearer credential (else, from the gateway, the forwarded certificate,
 * checked by fwdcert_check against p->fwd and mapped to a system account
 * as a direct one is; else the client certificate, when mtls), the
 * account's lock, then its rate limit.  With a person token: after the
 * caller (the portal) is known, it must hold person.act_for (the portal
 * role, SOD-8) and a credential that is not initial, else ERR_FORBIDDEN;
 * the token must pass idtoken_verify (at most max_token_bytes, else
 * ERR_HEADERS_TOO_LARGE; ERR_TOKEN_INVALID, ERR_TOKEN_EXPIRED) and name a
 * bound, enabled account, which then passes its own lock and rate limit
 * and becomes r->principal with r->via_account_id the portal.  A person
 * token with no credential and no certificate is ERR_UNAUTHENTICATED
 * unless direct_login, when the token alone identifies the person (and a
 * failure counts against the address).  A failed authentication is
 * counted against the address and one account (lockout.h; an unknown key
 * id counts against account "0", so both failures do the same work).
 * ERR_OK: r->principal is the caller.  ERR_UNAUTHENTICATED, or
 * ERR_RATE_LIMITED with r->retry_after: refused, and r->authenticated says
 * whether the caller is known.  Must be called with no transaction open.
 * The caller wipes r->principal when done. */
err_code auth_identify(struct store_conn *c, const struct auth_policy *p,
                       const struct auth_attempt *a, struct auth_result *r,
                       struct err *e);

/* 1 if the principal holds role (in any scope). */
int auth_has_role(const struct auth_principal *p, const char *role);

#endif
