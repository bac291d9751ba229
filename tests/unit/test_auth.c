/*
 * test_auth.c - unit tests of auth_identify() (auth.c), the whole of a
 * request's authentication, against a real SQLite file: a good bearer
 * credential; malformed, wrong and non-Bearer ones, counted against the
 * address and one account; the address's lock (429 with a wait) and the
 * account's lock (401); the per-address and per-account rate limits (the
 * latter after the caller is known); and mutual TLS, where a verified
 * certificate maps to a system account by its exact DNs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "lockout.h"
#include "ratelimit.h"
#include "store.h"
#include "store_testutil.h"
#include "util.h"
#include "store_account.h"

#define SUBJECT "CN=portal.example,O=Example Bureau,C=CN"
#define ISSUER  "CN=Example CA,C=CN"

struct fx {
    char              dir[STORE_T_DIR_MAX];
    char              path[STORE_T_PATH_MAX];
    struct store     *s;
    struct store_conn *c;
    struct auth_key  *key;
    struct ratelimit *limiter;
    struct auth_policy pol;
    int64_t           person, system;
    char              cred[AUTH_CREDENTIAL_LEN + 1];
};

/* store_run work: the fixture's organisation, a person with a credential
 * and a system account with a certificate, in one transaction. */
static err_code
people_work(struct store_conn *c, void *ctx, struct err *e)
{
    struct fx *f = ctx;
    int64_t org;

    assert_int_equal(store_org_insert(c, 0, "Bureau", "agency", NULL,
                                      util_now_ms(), &org, e), ERR_OK);
    assert_int_equal(store_account_insert(c, "li", "person", "Li", org,
                                          NULL, NULL, 0, util_now_ms(),
                                          &f->person, e), ERR_OK);
    assert_int_equal(store_account_insert(c, "portal", "system",
                                          "Portal", org, SUBJECT, ISSUER, 0,
                                          util_now_ms(), &f->system, e),
                     ERR_OK);
    assert_int_equal(auth_credential_issue(c, f->key, f->person, 0,
                                           AUTH_DEFAULT_MAX_AGE_MS, f->cred,
                                           e), ERR_OK);
    return ERR_OK;
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char path[STORE_T_PATH_MAX];
    struct err e;

    assert_non_null(f);
    store_t_open("auth", f->dir, f->path, &f->s, &f->c);
    snprintf(path, sizeof(path), "%s/secret.key", f->dir);
    assert_int_equal(auth_key_create(path, &e), ERR_OK);
    assert_int_equal(auth_key_load(path, &f->key, &e), ERR_OK);
    assert_int_equal(store_run(f->c, people_work, f, &e), ERR_OK);
    assert_non_null(f->limiter = ratelimit_new(1000, 1000));
    f->pol.key = f->key;
    f->pol.limiter = f->limiter;
    f->pol.address_rule = (struct lockout_rule){900000, 5, 60000};
    f->pol.account_rule = (struct lockout_rule){900000, 3, 60000};
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    struct err e;

    assert_int_equal(lockout_flush(f->c, util_now_ms(), NULL, &e), ERR_OK);
    ratelimit_free(f->limiter);
    auth_key_free(f->key);
    store_t_remove(f->s, f->dir);
    free(f);
    return 0;
}

/* auth_identify with an Authorization header (NULL: none) from addr. */
static err_code
identify(struct fx *f, const char *addr, const char *authz,
         struct auth_result *r)
{
    struct auth_attempt a;
    struct err e;

    memset(&a, 0, sizeof(a));
    a.client_addr = addr;
    a.authorization = authz;
    return auth_identify(f->c, &f->pol, &a, r, &e);
}

static void
test_bearer(void **state)
{
    struct fx *f = *state;
    struct auth_result r;
    char hdr[AUTH_CREDENTIAL_LEN + 16];

    snprintf(hdr, sizeof(hdr), "Bearer %s", f->cred);
    assert_int_equal(identify(f, "10.0.0.1", hdr, &r), ERR_OK);
    assert_true(r.authenticated);
    assert_int_equal(r.principal.account_id, f->person);
    /* each wrong way is a 401 of an unknown caller */
    assert_int_equal(identify(f, "10.0.0.1", NULL, &r), ERR_UNAUTHENTICATED);
    assert_false(r.authenticated);
    assert_int_equal(identify(f, "10.0.0.1", "Basic YTpi", &r),
                     ERR_UNAUTHENTICATED);
    assert_int_equal(identify(f, "10.0.0.1", "Bearer nonsense", &r),
                     ERR_UNAUTHENTICATED);
    assert_false(r.authenticated);
    /* a good credential still works under the address threshold (5), and
     * clears nothing it should not */
    assert_int_equal(identify(f, "10.0.0.1", hdr, &r), ERR_OK);
}

static void
test_address_lock(void **state)
{
    struct fx *f = *state;
    struct auth_result r;
    char hdr[AUTH_CREDENTIAL_LEN + 16];
    int i;

    snprintf(hdr, sizeof(hdr), "Bearer %s", f->cred);
    for (i = 0; i < 5; i++)
        assert_int_equal(identify(f, "10.0.0.2", "Bearer x", &r),
                         ERR_UNAUTHENTICATED);
    /* the fifth failure locked the address: even a good credential from
     * it waits, with a Retry-After; another address is not affected */
    assert_int_equal(identify(f, "10.0.0.2", hdr, &r), ERR_RATE_LIMITED);
    assert_false(r.authenticated);
    assert_true(r.retry_after > 0 && r.retry_after <= 61);
    assert_int_equal(identify(f, "10.0.0.3", hdr, &r), ERR_OK);
}

static void
test_account_lock(void **state)
{
    struct fx *f = *state;
    struct auth_result r;
    char hdr[AUTH_CREDENTIAL_LEN + 16], wrong[AUTH_CREDENTIAL_LEN + 16];
    int i;

    snprintf(hdr, sizeof(hdr), "Bearer %s", f->cred);
    /* the right key id with a wrong secret counts against the account */
    snprintf(wrong, sizeof(wrong), "Bearer %.23s%064d", f->cred, 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(identify(f, "10.0.1.1", wrong, &r),
                         ERR_UNAUTHENTICATED);
        assert_false(r.authenticated);
    }
    /* locked at 3, from any address, with its good credential too */
    assert_int_equal(identify(f, "10.0.1.9", hdr, &r), ERR_UNAUTHENTICATED);
    assert_false(r.authenticated);
    assert_true(r.retry_after > 0);
}

static void
test_rate_limits(void **state)
{
    struct fx *f = *state;
    struct auth_result r;
    char hdr[AUTH_CREDENTIAL_LEN + 16];
    int i;
    err_code rc = ERR_OK;

    snprintf(hdr, sizeof(hdr), "Bearer %s", f->cred);
    ratelimit_free(f->limiter);
    assert_non_null(f->limiter = ratelimit_new(1, 3));
    f->pol.limiter = f->limiter;
    /* the address's bucket first: refused before the credential is read */
    for (i = 0; i < 4 && rc == ERR_OK; i++)
        rc = identify(f, "10.0.2.1", hdr, &r);
    assert_int_equal(rc, ERR_RATE_LIMITED);
    assert_false(r.authenticated);
    assert_true(r.retry_after >= 1);
    /* from fresh addresses, the account's own bucket (3 taken above) is
     * what refuses, and the caller is known */
    rc = identify(f, "10.0.2.2", hdr, &r);
    assert_int_equal(rc, ERR_RATE_LIMITED);
    assert_true(r.authenticated);
    assert_int_equal(r.principal.account_id, f->person);
}

static void
test_client_certificate(void **state)
{
    struct fx *f = *state;
    struct auth_attempt a;
    struct auth_result r;
    struct err e;

    memset(&a, 0, sizeof(a));
    a.client_addr = "10.0.3.1";
    a.mtls = 1;
    /* none sent */
    assert_int_equal(auth_identify(f->c, &f->pol, &a, &r, &e),
                     ERR_UNAUTHENTICATED);
    assert_non_null(strstr(e.msg, "client certificate is required"));
    /* sent, but the TLS library did not verify it */
    a.cert_present = 1;
    a.cert_error = "The certificate is NOT trusted.";
    a.cert_subject = SUBJECT;
    a.cert_issuer = ISSUER;
    assert_int_equal(auth_identify(f->c, &f->pol, &a, &r, &e),
                     ERR_UNAUTHENTICATED);
    assert_non_null(strstr(e.msg, "NOT trusted"));
    /* verified, DNs matching the system account exactly */
    a.cert_error = NULL;
    a.cert_expires_ms = 4102444800000LL;
    assert_int_equal(auth_identify(f->c, &f->pol, &a, &r, &e), ERR_OK);
    assert_int_equal(r.principal.account_id, f->system);
    assert_true(r.principal.expires_ms == 4102444800000LL);
    /* another issuer with the same subject is nobody */
    a.cert_issuer = "CN=Other CA,C=CN";
    assert_int_equal(auth_identify(f->c, &f->pol, &a, &r, &e),
                     ERR_UNAUTHENTICATED);
    assert_non_null(strstr(e.msg, "no system account"));
    /* a bearer header wins over the certificate */
    a.cert_issuer = ISSUER;
    a.authorization = "Bearer nonsense";
    assert_int_equal(auth_identify(f->c, &f->pol, &a, &r, &e),
                     ERR_UNAUTHENTICATED);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bearer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_address_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_certificate, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
