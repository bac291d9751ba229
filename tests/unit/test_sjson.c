/* test_sjson.c - envelope, error shape, body parsing and field readers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "sjson.h"

static void
test_error_shape(void **state)
{
    json_t *j = sjson_error(ERR_NOT_FOUND, "no such seal", "abc123");
    json_t *err = json_object_get(j, "error");

    assert_non_null(err);
    assert_int_equal(json_object_size(j), 1);
    assert_string_equal(json_string_value(json_object_get(err, "code")),
                        "not_found");
    assert_string_equal(json_string_value(json_object_get(err, "message")),
                        "no such seal");
    assert_string_equal(json_string_value(json_object_get(err, "request_id")),
                        "abc123");
    json_decref(j);
}

static void
test_envelope(void **state)
{
    json_t *j = sjson_envelope(json_pack("{s:i}", "n", 1), "rid");

    assert_int_equal(json_integer_value(
        json_object_get(json_object_get(j, "data"), "n")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "request_id")),
                        "rid");
    json_decref(j);
    j = sjson_envelope(NULL, "rid");
    assert_true(json_is_object(json_object_get(j, "data")));
    json_decref(j);
}

static void
test_status_table(void **state)
{
    int c;

    assert_int_equal(err_http_status(ERR_BAD_JSON), 400);
    assert_int_equal(err_http_status(ERR_UNAUTHENTICATED), 401);
    assert_int_equal(err_http_status(ERR_FORBIDDEN), 403);
    assert_int_equal(err_http_status(ERR_NOT_FOUND), 404);
    assert_int_equal(err_http_status(ERR_METHOD), 405);
    assert_int_equal(err_http_status(ERR_CONFLICT), 409);
    assert_int_equal(err_http_status(ERR_TOO_LARGE), 413);
    assert_int_equal(err_http_status(ERR_RATE_LIMITED), 429);
    assert_int_equal(err_http_status(ERR_HSM_UNAVAILABLE), 503);
    /* every code has a distinct, non-empty name */
    for (c = 0; c < ERR__COUNT; c++) {
        int d;
        assert_true(strlen(err_name((err_code)c)) > 0);
        assert_true(err_http_status((err_code)c) >= 200);
        for (d = c + 1; d < ERR__COUNT; d++)
            assert_string_not_equal(err_name((err_code)c),
                                    err_name((err_code)d));
    }
    assert_string_equal(err_name((err_code)9999), "internal_error");
}

static void
test_parse_body(void **state)
{
    json_t *j = NULL;
    struct err e;
    char deep[200];
    int i;

    assert_int_equal(sjson_parse_body("{\"a\":1}", 7, &j, &e), ERR_OK);
    json_decref(j);
    assert_int_equal(sjson_parse_body("", 0, &j, &e), ERR_BAD_JSON);
    assert_int_equal(sjson_parse_body("{\"a\":", 5, &j, &e), ERR_BAD_JSON);
    assert_int_equal(sjson_parse_body("[1]", 3, &j, &e), ERR_BAD_JSON);
    assert_int_equal(sjson_parse_body("{\"a\":1,\"a\":2}", 13, &j, &e),
                     ERR_BAD_JSON);
    for (i = 0; i < 40; i++)
        deep[i] = '[';
    deep[0] = '{';
    memcpy(deep + 1, "\"a\":", 4);
    for (i = 5; i < 45; i++)
        deep[i] = '[';
    for (i = 45; i < 85; i++)
        deep[i] = ']';
    deep[85] = '}';
    assert_int_equal(sjson_parse_body(deep, 86, &j, &e), ERR_BAD_JSON);
    assert_non_null(strstr(e.msg, "deeper"));
}

static void
test_field_readers(void **state)
{
    json_t *o = json_pack("{s:s, s:i, s:b, s:s, s:i}", "name", "x", "n", 5,
                          "flag", 1, "empty", "", "big", 1000);
    static const char *const allowed[] = {"name", "n", "flag", "empty", "big",
                                          NULL};
    static const char *const fewer[] = {"name", NULL};
    const char *s = NULL;
    long long n = 0;
    int b = 0;
    struct err e;

    assert_int_equal(sjson_get_str(o, "name", 10, 1, &s, &e), ERR_OK);
    assert_string_equal(s, "x");
    assert_int_equal(sjson_get_str(o, "missing", 10, 1, &s, &e),
                     ERR_BAD_REQUEST);
    assert_int_equal(sjson_get_str(o, "missing", 10, 0, &s, &e), ERR_OK);
    assert_null(s);
    assert_int_equal(sjson_get_str(o, "empty", 10, 1, &s, &e), ERR_INVALID);
    assert_int_equal(sjson_get_str(o, "n", 10, 1, &s, &e), ERR_BAD_REQUEST);
    assert_int_equal(sjson_get_int(o, "n", 0, 10, 1, &n, &e), ERR_OK);
    assert_int_equal(n, 5);
    assert_int_equal(sjson_get_int(o, "big", 0, 10, 1, &n, &e), ERR_INVALID);
    assert_int_equal(sjson_get_bool(o, "flag", 1, &b, &e), ERR_OK);
    assert_true(b);
    assert_int_equal(sjson_only_keys(o, allowed, &e), ERR_OK);
    assert_int_equal(sjson_only_keys(o, fewer, &e), ERR_BAD_REQUEST);
    json_decref(o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_shape),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_parse_body),
        cmocka_unit_test(test_field_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
