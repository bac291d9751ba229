/*
 * auth.c - credential issue and check, and the identification of a
 * request's caller with its rate limits and lockouts (auth.h).  The server
 * secret is the only secret kept in memory for the life of the process;
 * presented and issued credentials are wiped as soon as they are used.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth.h"
#include "fwdcert.h"
#include "idtoken.h"
#include "log.h"
#include "rbac.h"
#include "authz.h"
#include "sod.h"
#include "util.h"
#include "store_account.h"

struct auth_key {
    uint8_t secret[AUTH_SERVER_SECRET_BYTES];
};

err_code
auth_key_create(const char *path, struct err *e)
{
    uint8_t secret[AUTH_SERVER_SECRET_BYTES];
    err_code rc;
    int fd;

    if ((rc = util_random(secret, sizeof(secret), e)) != ERR_OK)
        return rc;
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        rc = err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (write(fd, secret, sizeof(secret)) != (ssize_t)sizeof(secret) ||
        fsync(fd) != 0)
        rc = err_set(e, ERR_IO, "%s: write failed", path);
    close(fd);
done:
    util_wipe(secret, sizeof(secret));
    return rc;
}

err_code
auth_key_load(const char *path, struct auth_key **out, struct err *e)
{
    struct auth_key *k = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    err_code rc;

    if ((rc = util_read_secret(path, AUTH_SERVER_SECRET_BYTES, &buf, &len,
                               e)) != ERR_OK)
        return rc;
    if (len != AUTH_SERVER_SECRET_BYTES) {
        rc = err_set(e, ERR_CONFIG, "%s: server secret must be %d bytes",
                     path, AUTH_SERVER_SECRET_BYTES);
        goto done;
    }
    /* the server secret lives for the process: in locked memory */
    if ((k = util_secret_alloc(sizeof(*k))) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(k->secret, buf, len);
    *out = k;
done:
    util_secret_free(buf);
    return rc;
}

void
auth_key_free(struct auth_key *k)
{
    util_secret_free(k);
}

/* mac = HMAC-SM3(server secret, key_id ":" secret_hex). */
static err_code
credential_mac(const struct auth_key *k, const char *key_id,
               const char *secret_hex, uint8_t mac[AUTH_MAC_BYTES],
               struct err *e)
{
    char msg[2 * AUTH_KEY_ID_BYTES + 1 + 2 * AUTH_SECRET_BYTES + 1];
    size_t maclen = 0;
    int n;

    n = snprintf(msg, sizeof(msg), "%s:%s", key_id, secret_hex);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return err_set(e, ERR_INTERNAL, "credential too long");
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SM3", NULL, k->secret,
                  sizeof(k->secret), (unsigned char *)msg, (size_t)n, mac,
                  AUTH_MAC_BYTES, &maclen) == NULL ||
        maclen != AUTH_MAC_BYTES) {
        util_wipe(msg, sizeof(msg));
        return err_set(e, ERR_CRYPTO, "HMAC-SM3 failed");
    }
    util_wipe(msg, sizeof(msg));
    return ERR_OK;
}

err_code
auth_credential_issue(struct store_conn *c, const struct auth_key *k,
                      int64_t account_id, int initial, int64_t max_age_ms,
                      char out[AUTH_CREDENTIAL_LEN + 1], struct err *e)
{
    uint8_t id_raw[AUTH_KEY_ID_BYTES], sec_raw[AUTH_SECRET_BYTES];
    char key_id[2 * AUTH_KEY_ID_BYTES + 1], secret[2 * AUTH_SECRET_BYTES + 1];
    uint8_t mac[AUTH_MAC_BYTES];
    int64_t now = util_now_ms();
    err_code rc;

    if ((rc = util_random(id_raw, sizeof(id_raw), e)) != ERR_OK ||
        (rc = util_random(sec_raw, sizeof(sec_raw), e)) != ERR_OK)
        goto done;
    util_hex_encode(id_raw, sizeof(id_raw), key_id);
    util_hex_encode(sec_raw, sizeof(sec_raw), secret);
    if ((rc = credential_mac(k, key_id, secret, mac, e)) != ERR_OK)
        goto done;
    if ((rc = store_credential_insert(c, account_id, key_id, mac, sizeof(mac),
                                      initial, now, now + max_age_ms, e))
        != ERR_OK)
        goto done;
    snprintf(out, AUTH_CREDENTIAL_LEN + 1, "seald_%s_%s", key_id, secret);
done:
    util_wipe(sec_raw, sizeof(sec_raw));
    util_wipe(secret, sizeof(secret));
    util_wipe(mac, sizeof(mac));
    return rc;
}

static int
all_hex(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

err_code
auth_check(struct store_conn *c, const struct auth_key *k,
           const char *credential, struct auth_principal *p, struct err *e)
{
    char key_id[2 * AUTH_KEY_ID_BYTES + 1], secret[2 * AUTH_SECRET_BYTES + 1];
    uint8_t mac[AUTH_MAC_BYTES];
    struct store_credential cred;
    int64_t now = util_now_ms();
    err_code rc;

    memset(&cred, 0, sizeof(cred));
    if (strlen(credential) != AUTH_CREDENTIAL_LEN ||
        strncmp(credential, "seald_", 6) != 0 ||
        credential[6 + 2 * AUTH_KEY_ID_BYTES] != '_' ||
        !all_hex(credential + 6, 2 * AUTH_KEY_ID_BYTES) ||
        !all_hex(credential + 7 + 2 * AUTH_KEY_ID_BYTES, 2 * AUTH_SECRET_BYTES))
        return err_set(e, ERR_UNAUTHENTICATED, "malformed credential");
    memcpy(key_id, credential + 6, 2 * AUTH_KEY_ID_BYTES);
    key_id[2 * AUTH_KEY_ID_BYTES] = '\0';
    memcpy(secret, credential + 7 + 2 * AUTH_KEY_ID_BYTES,
           2 * AUTH_SECRET_BYTES + 1);

    memset(p, 0, sizeof(*p));
    rc = store_credential_by_key_id(c, key_id, &cred, e);
    if (rc != ERR_OK && rc != ERR_NOT_FOUND)
        goto done;
    p->account_id = cred.account_id;   /* 0 when the key id is unknown */
    /* Compute the MAC even for an unknown key id, so the answer takes the
     * same time whether or not the key id exists. */
    if ((rc = credential_mac(k, key_id, secret, mac, e)) != ERR_OK)
        goto done;
    if (cred.mac_len != AUTH_MAC_BYTES ||
        !util_ct_equal(mac, cred.mac, AUTH_MAC_BYTES)) {
        rc = err_set(e, ERR_UNAUTHENTICATED, "invalid credential");
        goto done;
    }
    if (cred.revoked_ms != 0) {
        rc = err_set(e, ERR_UNAUTHENTICATED, "credential revoked");
        goto done;
    }
    if (cred.expires_ms <= now) {
        rc = err_set(e, ERR_UNAUTHENTICATED, "credential expired");
        goto done;
    }
    if ((rc = auth_principal_load(c, cred.account_id, p, e)) != ERR_OK)
        goto done;
    p->account_id = cred.account_id;
    p->credential_id = cred.id;
    p->initial = cred.initial;
    p->expires_ms = cred.expires_ms;
done:
    util_wipe(secret, sizeof(secret));
    util_wipe(mac, sizeof(mac));
    util_wipe(&cred, sizeof(cred));
    return rc;
}

err_code
auth_principal_load(struct store_conn *c, int64_t account_id,
                    struct auth_principal *p, struct err *e)
{
    err_code rc;

    memset(p, 0, sizeof(*p));
    if ((rc = store_account_get(c, account_id, &p->account, e)) != ERR_OK)
        return rc == ERR_NOT_FOUND
            ? err_set(e, ERR_UNAUTHENTICATED, "unknown account") : rc;
    if (p->account.disabled)
        return err_set(e, ERR_UNAUTHENTICATED, "account disabled");
    if ((rc = store_account_roles(c, account_id, util_now_ms(), p->roles,
                                  STORE_MAX_ROLES, &p->nroles, e)) != ERR_OK)
        return rc;
    p->account_id = account_id;
    sod_principal(p);
    return ERR_OK;
}

int
auth_has_role(const struct auth_principal *p, const char *role)
{
    size_t i;

    for (i = 0; i < p->nroles; i++)
        if (strcmp(p->roles[i].role, role) == 0)
            return 1;
    return 0;
}

/* ---- identification ---- */

/* ERR_RATE_LIMITED if key is over its rate. */
static err_code
rate_check(const struct auth_policy *p, const char *key,
           struct auth_result *r, struct err *e)
{
    int wait = ratelimit_take(p->limiter, key, util_mono_ms());

    if (wait == 0)
        return ERR_OK;
    r->retry_after = wait;
    return err_set(e, ERR_RATE_LIMITED, "too many requests; retry in %d s",
                   wait);
}

/* Is subject locked out now?  *counted (may be NULL): it has failures
 * counted that a success should clear.  A failed read counts as not
 * locked: a lock is a defence against guessing, not the only one. */
static int
locked(struct store_conn *c, const char *kind, const char *subject,
       int *counted, struct auth_result *r)
{
    int64_t until = 0, now = util_now_ms();
    int dummy;

    if (store_authfail_locked_until(c, kind, subject, &until,
                                    counted ? counted : &dummy, NULL)
        != ERR_OK || until <= now)
        return 0;
    r->retry_after = (int)((until - now) / 1000) + 1;
    return 1;
}

/* Count a failed authentication against the address and against the
 * account its key id names (account "0" when it names none: the same
 * work either way, so the answer's time does not tell whether the key id
 * exists).  In memory, written in batches, a lock at once (lockout.h). */
static void
count_failure(struct store_conn *c, const struct auth_policy *p,
              const char *addr, int64_t account_id)
{
    int64_t now = util_now_ms();
    char id[24];
    struct err e;

    err_clear(&e);
    snprintf(id, sizeof(id), "%lld", (long long)account_id);
    if (lockout_fail(c, LOCKOUT_ADDRESS, addr, &p->address_rule, now, &e)
        != ERR_OK ||
        lockout_fail(c, LOCKOUT_ACCOUNT, id, &p->account_rule, now, &e)
        != ERR_OK)
        log_event(LOG_ERROR, "lockout_failed", "client=%s msg=%s", addr,
                  e.msg);
}

/* Mutual TLS: a verified client certificate whose subject and issuer DN
 * match a system account exactly authenticates as that account. */
static err_code
cert_principal(struct store_conn *c, const struct auth_attempt *a,
               struct auth_principal *out, struct err *e)
{
    struct store_account acct;
    err_code rc;

    if (!a->cert_present)
        return err_set(e, ERR_UNAUTHENTICATED, "an Authorization: Bearer "
                       "credential or a client certificate is required");
    if (a->cert_error != NULL)
        return err_set(e, ERR_UNAUTHENTICATED, "client certificate not "
                       "trusted: %.160s", a->cert_error);
    if (a->cert_subject == NULL || a->cert_issuer == NULL)
        return err_set(e, ERR_UNAUTHENTICATED, "unreadable client "
                       "certificate");
    rc = store_account_by_cert(c, a->cert_subject, a->cert_issuer, &acct, e);
    if (rc == ERR_NOT_FOUND)
        return err_set(e, ERR_UNAUTHENTICATED, "no system account for "
                       "certificate %.200s", a->cert_subject);
    if (rc == ERR_OK &&
        (rc = auth_principal_load(c, acct.id, out, e)) == ERR_OK)
        out->expires_ms = a->cert_expires_ms;
    return rc;
}

/* From the gateway: the certificate it forwarded stands for a direct
 * client's, checked here with OpenSSL (fwdcert.h), and maps to a system
 * account the same way.  Without one, nothing: the gateway's own
 * certificate is no account's, so a bad or missing forwarded certificate
 * never leaves the request with the gateway's rights. */
static err_code
forwarded_principal(struct store_conn *c, const struct auth_policy *p,
                    const struct auth_attempt *a, struct auth_principal *out,
                    struct err *e)
{
    struct fwdcert_facts f;
    struct auth_attempt fa = *a;
    err_code rc;

    if (a->forwarded_cert == NULL)
        return err_set(e, ERR_UNAUTHENTICATED, "a request through the "
                       "gateway needs the client's forwarded certificate "
                       "(gateway.client_cert_header) or an Authorization: "
                       "Bearer credential; the gateway's own certificate "
                       "authenticates nobody");
    if ((rc = fwdcert_check(p->fwd, a->forwarded_cert, a->now_s, &f, e))
        != ERR_OK)
        return rc;
    fa.cert_present = 1;
    fa.cert_error = NULL;
    fa.cert_subject = f.subject;
    fa.cert_issuer = f.issuer;
    fa.cert_expires_ms = f.expires_ms;
    rc = cert_principal(c, &fa, out, e);
    if (rc == ERR_UNAUTHENTICATED)
        err_wrap(e, ERR_UNAUTHENTICATED, "forwarded client certificate");
    return rc;
}

/* The person a token names, for a caller already known (the portal, in
 * r->principal: the refusals are its) or for nobody (direct log-in).  On
 * ERR_OK r->principal is the person and r->via_account_id the portal. */
static err_code
person_identify(struct store_conn *c, const struct auth_policy *p,
                const struct auth_attempt *a, int direct,
                struct auth_result *r, struct err *e)
{
    struct idtoken_identity id;
    struct auth_principal person;
    int64_t portal = direct ? 0 : r->principal.account_id;
    char key[32];
    int counted = 0;
    err_code rc;

    if (!direct) {
        if (r->principal.initial || r->principal.held)
            return err_set(e, ERR_FORBIDDEN, "a portal with an initial or "
                           "held credential acts for nobody");
        if (!authz_holds(&r->principal, PERM_ACT_FOR_PERSON))
            return err_set(e, ERR_FORBIDDEN, "this account may not act for "
                           "persons: it holds no portal role (%s)",
                           rbac_perm_name(PERM_ACT_FOR_PERSON));
    }
    /* the edge's limit, before a byte of the token is decoded */
    if ((long)strlen(a->person_token) > p->max_token_bytes)
        return err_set(e, ERR_HEADERS_TOO_LARGE, "the person token is "
                       "larger than identity.max_token_bytes (%ld)",
                       p->max_token_bytes);
    if ((rc = idtoken_verify(p->idtoken, a->person_token, a->now_s, &id, e))
        != ERR_OK)
        return rc;
    if ((rc = idtoken_principal(c, &id, &person, e)) != ERR_OK) {
        util_wipe(&person, sizeof(person));
        return rc;
    }
    snprintf(key, sizeof(key), "%lld", (long long)person.account_id);
    if (locked(c, LOCKOUT_ACCOUNT, key, &counted, r)) {
        util_wipe(&person, sizeof(person));
        return err_set(e, ERR_UNAUTHENTICATED, "the person's account is "
                       "locked after repeated failed authentications");
    }
    r->principal = person;
    r->via_account_id = portal;
    util_wipe(&person, sizeof(person));
    snprintf(key, sizeof(key), "acct:%lld",
             (long long)r->principal.account_id);
    return rate_check(p, key, r, e);
}

err_code
auth_identify(struct store_conn *c, const struct auth_policy *p,
              const struct auth_attempt *a, struct auth_result *r,
              struct err *e)
{
    char key[96];
    int counted = 0;
    err_code rc;
    struct err ce;

    memset(r, 0, sizeof(*r));
    snprintf(key, sizeof(key), "ip:%s", a->client_addr);
    if ((rc = rate_check(p, key, r, e)) != ERR_OK)
        return rc;
    if (locked(c, LOCKOUT_ADDRESS, a->client_addr, NULL, r))
        return err_set(e, ERR_RATE_LIMITED, "too many failed "
                       "authentications from this address");
    if (a->person_token != NULL && a->authorization == NULL &&
        !a->cert_present && a->forwarded_cert == NULL) {
        /* a person's token and nothing else */
        if (!p->direct_login)
            rc = err_set(e, ERR_UNAUTHENTICATED, "a person token is "
                         "accepted only with a portal's own credential "
                         "(identity.direct_login = no)");
        else if ((rc = person_identify(c, p, a, 1, r, e)) == ERR_OK)
            r->authenticated = 1;
        if (rc != ERR_OK && rc != ERR_RATE_LIMITED) {
            count_failure(c, p, a->client_addr, 0);
            memset(&r->principal, 0, sizeof(r->principal));
        }
        return rc;
    }
    if (a->authorization != NULL) {
        if (strncmp(a->authorization, "Bearer ", 7) != 0)
            rc = err_set(e, ERR_UNAUTHENTICATED, "use an Authorization: "
                         "Bearer credential");
        else
            rc = auth_check(c, p->key, a->authorization + 7, &r->principal,
                            e);
    } else if (a->gateway) {
        rc = forwarded_principal(c, p, a, &r->principal, e);
    } else if (a->mtls) {
        rc = cert_principal(c, a, &r->principal, e);
    } else {
        rc = err_set(e, ERR_UNAUTHENTICATED,
                     "an Authorization: Bearer credential is required");
    }
    if (rc == ERR_UNAUTHENTICATED)
        count_failure(c, p, a->client_addr, r->principal.account_id);
    if (rc != ERR_OK)
        return rc;
    snprintf(key, sizeof(key), "%lld", (long long)r->principal.account_id);
    if (locked(c, LOCKOUT_ACCOUNT, key, &counted, r))
        return err_set(e, ERR_UNAUTHENTICATED, "account locked after "
                       "repeated failed authentications");
    /* a write only when there is something to clear: a write on every
     * request would serialise all requests on the database's write lock */
    err_clear(&ce);
    if (lockout_clear(c, LOCKOUT_ACCOUNT, key, counted, &ce) != ERR_OK)
        log_event(LOG_ERROR, "lockout_failed", "account=%lld msg=%s",
                  (long long)r->principal.account_id, ce.msg);
    r->authenticated = 1;
    snprintf(key, sizeof(key), "acct:%lld",
             (long long)r->principal.account_id);
    if ((rc = rate_check(p, key, r, e)) != ERR_OK || a->person_token == NULL)
        return rc;
    return person_identify(c, p, a, 0, r, e);
}
