/* test_idtoken.c - the claim rules of persons' identity tokens
 * (idtoken_claims_check) at their boundaries, and the refusals
 * idtoken_verify makes before any key is used. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "idtoken.h"

#define NOW 1800000000LL

static struct config cfg;

static const struct config_issuer *
issuer(void)
{
    return &cfg.issuers[0];
}

static int
setup(void **state)
{
    struct err e;
    char path[] = "/tmp/seald-jwks-XXXXXX";
    int fd = mkstemp(path);
    /* an empty key set is a valid JWKS: the refusals below come first */
    const char *jwks = "{\"keys\": []}";

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, jwks, strlen(jwks)), (ssize_t)strlen(jwks));
    close(fd);
    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "issuer.p", "issuer",
                                "https://id.example", &e), ERR_OK);
    assert_int_equal(config_set(&cfg, "issuer.p", "audience", "seald", &e),
                     ERR_OK);
    assert_int_equal(config_set(&cfg, "issuer.p", "jwks_file", path, &e),
                     ERR_OK);
    assert_int_equal(config_set(&cfg, "issuer.p", "clock_skew_seconds", "30",
                                &e), ERR_OK);
    assert_int_equal(config_set(&cfg, "issuer.p", "max_lifetime_seconds",
                                "3600", &e), ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_OK);
    return 0;
}

/* The claims of a good token at NOW, with changes made by the caller. */
static json_t *
claims(void)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss",
                     "https://id.example", "aud", "seald", "sub", "p-1",
                     "iat", (json_int_t)(NOW - 10), "exp",
                     (json_int_t)(NOW + 600), "name", "Zhang San");
}

static err_code
check(json_t *c, struct idtoken_identity *id)
{
    struct err e;
    err_code rc = idtoken_claims_check(issuer(), c, NOW, id, &e);

    json_decref(c);
    return rc;
}

static void
test_good_claims(void **state)
{
    struct idtoken_identity id;
    json_t *c = claims();

    (void)state;
    assert_int_equal(check(c, &id), ERR_OK);
    assert_string_equal(id.issuer, "https://id.example");
    assert_string_equal(id.issuer_name, "p");
    assert_string_equal(id.claim, "sub");
    assert_string_equal(id.subject, "p-1");   /* never the display name */
    assert_int_equal(id.exp_s, NOW + 600);
    /* aud as an array holding the audience */
    c = claims();
    json_object_set_new(c, "aud", json_pack("[s, s]", "other", "seald"));
    assert_int_equal(check(c, &id), ERR_OK);
}

static void
test_issuer_and_audience(void **state)
{
    struct idtoken_identity id;
    json_t *c;

    (void)state;
    c = claims();
    json_object_set_new(c, "iss", json_string("https://id.example/"));
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
    c = claims();
    json_object_del(c, "iss");
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
    c = claims();
    json_object_set_new(c, "aud", json_string("sealdx"));
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
    c = claims();
    json_object_set_new(c, "aud", json_pack("[s]", "other"));
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
    c = claims();
    json_object_set_new(c, "aud", json_integer(1));
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
}

static void
test_times_with_skew(void **state)
{
    struct idtoken_identity id;
    json_t *c;

    (void)state;
    /* exp: still good 29 s after it (skew 30), refused at 30 */
    c = claims();
    json_object_set_new(c, "exp", json_integer(NOW - 29));
    json_object_set_new(c, "iat", json_integer(NOW - 100));
    assert_int_equal(check(c, &id), ERR_OK);
    c = claims();
    json_object_set_new(c, "exp", json_integer(NOW - 30));
    json_object_set_new(c, "iat", json_integer(NOW - 100));
    assert_int_equal(check(c, &id), ERR_TOKEN_EXPIRED);
    /* nbf and iat in the future beyond the skew */
    c = claims();
    json_object_set_new(c, "nbf", json_integer(NOW + 30));
    assert_int_equal(check(c, &id), ERR_OK);
    c = claims();
    json_object_set_new(c, "nbf", json_integer(NOW + 31));
    assert_int_equal(check(c, &id), ERR_TOKEN_EXPIRED);
    c = claims();
    json_object_set_new(c, "iat", json_integer(NOW + 31));
    assert_int_equal(check(c, &id), ERR_TOKEN_EXPIRED);
    /* NumericDates are integers; exp and iat are required */
    c = claims();
    json_object_set_new(c, "exp", json_real((double)NOW + 600));
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
    c = claims();
    json_object_del(c, "iat");
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
    c = claims();
    json_object_set_new(c, "nbf", json_string("now"));
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
    /* a life longer than max_lifetime_seconds */
    c = claims();
    json_object_set_new(c, "exp", json_integer(NOW - 10 + 3601));
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
}

static void
test_subject_claim(void **state)
{
    struct idtoken_identity id;
    struct config_issuer saved = cfg.issuers[0];
    char big[300];
    json_t *c;

    (void)state;
    c = claims();
    json_object_del(c, "sub");
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
    c = claims();
    json_object_set_new(c, "sub", json_string(""));
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
    c = claims();
    json_object_set_new(c, "sub", json_integer(7));
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    c = claims();
    json_object_set_new(c, "sub", json_string(big));
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
    /* a named claim (an ID-card hash) instead of sub */
    snprintf(cfg.issuers[0].subject_claim,
             sizeof(cfg.issuers[0].subject_claim), "idcard_sm3");
    c = claims();
    assert_int_equal(check(c, &id), ERR_TOKEN_INVALID);
    c = claims();
    json_object_set_new(c, "idcard_sm3", json_string("9f86d0"));
    assert_int_equal(check(c, &id), ERR_OK);
    assert_string_equal(id.claim, "idcard_sm3");
    assert_string_equal(id.subject, "9f86d0");
    cfg.issuers[0] = saved;
}

static void
test_verify_refuses_before_keys(void **state)
{
    struct idtoken *v = NULL;
    struct idtoken_identity id;
    struct err e;
    char big[9000];
    /* {"alg":"none"} . {"iss":"https://id.example"} . */
    const char *none = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lkLmV4YW1w"
                       "bGUifQ.";
    /* {"alg":"none"} . {"iss":"https://id.example"} . AAAA */
    const char *none_sig = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lkLmV4"
                           "YW1wbGUifQ.AAAA";
    /* {"alg":"HS256"} ... */
    const char *hs = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkLmV4YW1w"
                     "bGUifQ.AAAA";
    /* {"alg":"ES256","crit":["x"]} ... */
    const char *crit = "eyJhbGciOiJFUzI1NiIsImNyaXQiOlsieCJdfQ.eyJpc3MiOiJo"
                       "dHRwczovL2lkLmV4YW1wbGUifQ.AAAA";
    /* {"alg":"ES256"} . {"iss":"https://other"} . AAAA */
    const char *other = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL290aGVy"
                        "In0.AAAA";
    /* {"alg":"ES256","kid":"k"} . {"iss":"https://id.example"} . AAAA */
    const char *kid = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJodHRwc"
                      "zovL2lkLmV4YW1wbGUifQ.AAAA";

    (void)state;
    assert_int_equal(idtoken_open(&cfg, &v, &e), ERR_OK);
    assert_non_null(v);
    assert_int_equal(idtoken_verify(v, none, NOW, &id, &e),
                     ERR_TOKEN_INVALID);
    assert_int_equal(idtoken_verify(v, none_sig, NOW, &id, &e),
                     ERR_TOKEN_INVALID);
    assert_non_null(strstr(e.msg, "'none'"));
    assert_int_equal(idtoken_verify(v, hs, NOW, &id, &e), ERR_TOKEN_INVALID);
    assert_non_null(strstr(e.msg, "HS256"));
    assert_int_equal(idtoken_verify(v, crit, NOW, &id, &e),
                     ERR_TOKEN_INVALID);
    assert_int_equal(idtoken_verify(v, other, NOW, &id, &e),
                     ERR_TOKEN_INVALID);
    assert_int_equal(idtoken_verify(v, kid, NOW, &id, &e),
                     ERR_TOKEN_INVALID);
    assert_non_null(strstr(e.msg, "unknown key id"));
    assert_int_equal(idtoken_verify(v, "a.b", NOW, &id, &e),
                     ERR_TOKEN_INVALID);
    assert_int_equal(idtoken_verify(v, "a b.c.d", NOW, &id, &e),
                     ERR_TOKEN_INVALID);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(idtoken_verify(v, big, NOW, &id, &e),
                     ERR_HEADERS_TOO_LARGE);
    idtoken_free(v);
    unlink(cfg.issuers[0].jwks_file);
}

static void
test_config_refuses_unsafe_issuers(void **state)
{
    struct config c;
    struct err e;

    (void)state;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "issuer.x", "issuer", "https://i", &e),
                     ERR_OK);
    assert_int_equal(config_set(&c, "issuer.x", "audience", "a", &e), ERR_OK);
    assert_int_equal(config_validate(&c, &e), ERR_CONFIG);  /* no keys */
    assert_int_equal(config_set(&c, "issuer.x", "jwks_url",
                                "http://i/jwks", &e), ERR_OK);
    assert_int_equal(config_validate(&c, &e), ERR_CONFIG);  /* not https */
    assert_int_equal(config_set(&c, "issuer.x", "jwks_url",
                                "https://i/jwks", &e), ERR_OK);
    assert_int_equal(config_validate(&c, &e), ERR_OK);
    assert_int_equal(config_set(&c, "issuer.x", "algorithms", "ES256,none",
                                &e), ERR_OK);
    assert_int_equal(config_validate(&c, &e), ERR_CONFIG);
    assert_int_equal(config_set(&c, "issuer.x", "algorithms", "HS256", &e),
                     ERR_OK);
    assert_int_equal(config_validate(&c, &e), ERR_CONFIG);
    assert_int_equal(config_set(&c, "issuer.x", "algorithms", "SM2SM3,RS256",
                                &e), ERR_OK);
    assert_int_equal(config_validate(&c, &e), ERR_OK);
    assert_int_equal(config_set(&c, "issuer.x", "clock_skew_seconds", "601",
                                &e), ERR_CONFIG);
    assert_int_equal(config_set(&c, "issuer.x", "nope", "1", &e), ERR_CONFIG);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_claims),
        cmocka_unit_test(test_issuer_and_audience),
        cmocka_unit_test(test_times_with_skew),
        cmocka_unit_test(test_subject_claim),
        cmocka_unit_test(test_verify_refuses_before_keys),
        cmocka_unit_test(test_config_refuses_unsafe_issuers),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
