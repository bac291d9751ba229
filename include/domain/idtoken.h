/*
 * idtoken.h - persons' identity tokens from the identity platform
 * (统一身份认证): OpenID Connect ID tokens and JWT access tokens, compact
 * JWS, verified against each configured issuer's keys ([issuer.NAME],
 * config.h), and the identity bindings that say which seald account a
 * token's subject is.
 *
 * What is accepted: a compact JWS (three base64url parts) of at most
 * identity.max_token_bytes; a header with alg among the issuer's
 * `algorithms` (ES256, RS256 through cjose; SM2 / SM2SM3 through
 * OpenSSL: SM2 with SM3 and the issuer's sm2_id over the signing input,
 * the value r||s as ES256 has it), a kid naming a key of the issuer's
 * JWKS (or none when the JWKS has exactly one key), no `crit`; a payload
 * with iss (exactly a configured issuer), aud (string or array, holding
 * the issuer's audience), exp, iat (and nbf if present) within the
 * issuer's clock skew, exp - iat at most max_lifetime_seconds, and the
 * issuer's subject_claim as a non-empty string.  "none" and the HMAC
 * algorithms are never accepted, whatever the configuration says.
 *
 * Refusals: ERR_TOKEN_EXPIRED for exp, nbf and iat; ERR_TOKEN_INVALID for
 * everything else about the token; ERR_UNAVAILABLE when an issuer's keys
 * cannot be had.  The message says why (it names no key material).
 */
#ifndef SEALD_IDTOKEN_H
#define SEALD_IDTOKEN_H

#include <stdint.h>

#include <jansson.h>

#include "auth.h"
#include "authz.h"
#include "config.h"
#include "err.h"
#include "store_types.h"

#define IDTOKEN_SUBJECT_MAX 256
#define IDTOKEN_CLAIM_MAX   64

/* Who a verified token says the person is. */
struct idtoken_identity {
    char    issuer[CONFIG_ISSUER_TEXT_MAX];   /* the iss                   */
    char    issuer_name[CONFIG_ISSUER_NAME_MAX]; /* its [issuer.NAME]      */
    char    claim[IDTOKEN_CLAIM_MAX];         /* the subject claim's name  */
    char    subject[IDTOKEN_SUBJECT_MAX];     /* its value                 */
    int64_t exp_s;
};

/* The verifier: every configured issuer and its cached keys.  Thread-safe. */
struct idtoken;

/* Make the verifier for cfg's issuers (borrowed; must outlive it) and
 * load each jwks_file now, so that a bad file fails the start; a jwks_url
 * is fetched on first use.  *out is NULL when no issuer is configured.
 * Free with idtoken_free. */
err_code idtoken_open(const struct config *cfg, struct idtoken **out,
                      struct err *e);
void idtoken_free(struct idtoken *v);

/* Verify token (NUL-terminated) at now_s (Unix seconds): signature, then
 * the claims (idtoken_claims_check).  On ERR_OK *out is the identity. */
err_code idtoken_verify(struct idtoken *v, const char *token, int64_t now_s,
                        struct idtoken_identity *out, struct err *e);

/* The claim rules alone, for issuer is and a payload already verified:
 * iss, aud, exp, nbf, iat, lifetime, the subject claim.  Fills *out. */
err_code idtoken_claims_check(const struct config_issuer *is,
                              const json_t *claims, int64_t now_s,
                              struct idtoken_identity *out, struct err *e);

/* The principal of a verified identity: the account bound to it
 * (ERR_UNAUTHENTICATED if none, or if it is disabled: a token replayed
 * after the person's account was disabled is refused here), with its
 * roles as auth_principal_load gives them; p->expires_ms is the token's
 * exp.  Must be called with no transaction open. */
err_code idtoken_principal(struct store_conn *c,
                           const struct idtoken_identity *id,
                           struct auth_principal *p, struct err *e);

/* ---- bindings (an administrator's changes; each a unit with its audit
 * entry) ---- */

/* Bind (issuer, the issuer's subject claim, subject) to account id.
 * issuer is a configured issuer's iss or its section name; cfg gives
 * which.  The rules are sod_identity_bind's (SOD-8); a caller needs
 * account.write over the account's organisation.  *binding_id the new
 * binding. */
err_code idtoken_bind(const struct actor_ctx *a, const struct config *cfg,
                      int64_t id, const char *issuer, const char *subject,
                      int64_t *binding_id, struct err *e);

/* End binding binding_id of account id. */
err_code idtoken_unbind(const struct actor_ctx *a, int64_t id,
                        int64_t binding_id, struct err *e);

/* The bindings in force of account id (account.read over it) as a JSON
 * array of {"id","issuer","claim","subject","created_ms","created_by"}
 * in *out (new reference). */
err_code idtoken_bindings(const struct actor_ctx *a, int64_t id,
                          json_t **out, struct err *e);

#endif
