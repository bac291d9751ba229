/*
 * test_router.c - route matching (router_match): parameters and ids, and
 * the Allow list of a 405.  The Allow buffer is the caller's, of any size:
 * it holds whole method names only, and the error message lists every
 * allowed method even when the buffer has no room at all (with cap 0 the
 * message was formatted from the caller's buffer, which router_match had
 * not written: found by tests/fuzz/fuzz_router.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api.h"
#include "router.h"

/* A path of two ids: both parsed, the route's method checked. */
static void test_params_and_ids(void **state)
{
    static struct http_req req;
    const struct route *r = NULL;
    char allow[64];
    struct err e;

    (void)state;
    assert_int_equal(router_match(&api_routes, "PUT",
                                  "/api/v1/sign-requests/7/documents/19/"
                                  "content", &req, &r, allow,
                                  sizeof(allow), &e), ERR_OK);
    assert_string_equal(r->method, "PUT");
    assert_int_equal(req.nparams, 2);
    assert_string_equal(req.params[0], "7");
    assert_string_equal(req.params[1], "19");
    assert_int_equal(req.ids[0], 7);
    assert_int_equal(req.ids[1], 19);
    assert_null(req.param_error);
}

/* An id with a leading zero still finds the route (authentication comes
 * first) but names nothing. */
static void test_bad_id_found_with_error(void **state)
{
    static struct http_req req;
    const struct route *r = NULL;
    char allow[64];
    struct err e;

    (void)state;
    assert_int_equal(router_match(&api_routes, "HEAD", "/api/v1/organisations/012", &req,
                                  &r, allow, sizeof(allow), &e), ERR_OK);
    assert_string_equal(r->method, "GET");
    assert_string_equal(req.param_error, "no such id");
}

/* {sm3} is 64 lowercase hex digits, the one spelling of a seal's hash:
 * anything else finds the route but names no seal; /status/sm3 alone is
 * an esID. */
static void test_sm3_param(void **state)
{
    static struct http_req req;
    static const char *const bad[] = {
        "/status/sm3/ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789",
        "/status/sm3/abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "012345678",
        "/status/sm3/abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789a",
        "/status/sm3/gbcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789",
    };
    const struct route *r = NULL;
    char allow[64];
    struct err e;
    size_t i;

    (void)state;
    assert_int_equal(router_match(&api_routes, "GET",
                                  "/status/sm3/abcdef0123456789abcdef012345"
                                  "6789abcdef0123456789abcdef0123456789",
                                  &req, &r, allow, sizeof(allow), &e),
                     ERR_OK);
    assert_string_equal(r->pattern, "/status/sm3/{sm3}");
    assert_null(req.param_error);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(router_match(&api_routes, "GET", bad[i], &req, &r,
                                      allow, sizeof(allow), &e), ERR_OK);
        assert_string_equal(r->pattern, "/status/sm3/{sm3}");
        assert_string_equal(req.param_error, "no such seal");
    }
    assert_int_equal(router_match(&api_routes, "GET", "/status/sm3", &req,
                                  &r, allow, sizeof(allow), &e), ERR_OK);
    assert_string_equal(r->pattern, "/status/{esid}");
    assert_null(req.param_error);
}

/* The Allow buffer http.c passes holds the whole list. */
static void test_allow_full(void **state)
{
    static struct http_req req;
    const struct route *r = NULL;
    char allow[64];
    struct err e;

    (void)state;
    assert_int_equal(router_match(&api_routes, "DELETE", "/api/v1/organisations", &req,
                                  &r, allow, sizeof(allow), &e), ERR_METHOD);
    assert_string_equal(allow, "GET, HEAD, POST");
    assert_string_equal(e.msg, "method DELETE is not allowed here; "
                        "allowed: GET, HEAD, POST");
}

/* A short buffer gets whole names only, the message all of them. */
static void test_allow_short(void **state)
{
    static struct http_req req;
    const struct route *r = NULL;
    char allow[10];
    struct err e;

    (void)state;
    assert_int_equal(router_match(&api_routes, "DELETE", "/api/v1/organisations", &req,
                                  &r, allow, 6, &e), ERR_METHOD);
    assert_string_equal(allow, "GET");
    assert_int_equal(router_match(&api_routes, "DELETE", "/api/v1/organisations", &req,
                                  &r, allow, sizeof(allow), &e), ERR_METHOD);
    assert_string_equal(allow, "GET, HEAD");
    assert_string_equal(e.msg, "method DELETE is not allowed here; "
                        "allowed: GET, HEAD, POST");
}

/* cap 0: the buffer is not touched (nor read) and the message is whole. */
static void test_allow_none(void **state)
{
    static struct http_req req;
    const struct route *r = NULL;
    char *allow = malloc(1);
    struct err e;

    (void)state;
    assert_non_null(allow);
    allow[0] = 'X';
    assert_int_equal(router_match(&api_routes, "DELETE", "/api/v1/"
                                  "sign-requests/1/documents/2/content", &req,
                                  &r, allow, 0, &e), ERR_METHOD);
    assert_int_equal(allow[0], 'X');
    assert_string_equal(e.msg, "method DELETE is not allowed here; "
                        "allowed: GET, HEAD, PUT");
    free(allow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_and_ids),
        cmocka_unit_test(test_bad_id_found_with_error),
        cmocka_unit_test(test_sm3_param),
        cmocka_unit_test(test_allow_full),
        cmocka_unit_test(test_allow_short),
        cmocka_unit_test(test_allow_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
