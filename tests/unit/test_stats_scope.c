/* test_stats_scope.c - the pieces of issue 18 items 9 and 10 that need no
 * daemon: the document-type form, the [scope] lists (parsing, validation,
 * lookup by kind of seal) and the month the statistics report covers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "config.h"
#include "stats.h"

static void
test_doctype_form(void **state)
{
    (void)state;
    assert_true(config_doctype_valid("contract", 8));
    assert_true(config_doctype_valid("a", 1));
    assert_true(config_doctype_valid("tax_2026", 8));
    assert_false(config_doctype_valid("", 0));
    assert_false(config_doctype_valid("Contract", 8));
    assert_false(config_doctype_valid("1contract", 9));
    assert_false(config_doctype_valid("con-tract", 9));
    assert_false(config_doctype_valid("con tract", 9));
    assert_false(config_doctype_valid("abcdefghijklmnopqrstuvwxyzabcdefg",
                                      33));
    assert_true(config_doctype_valid("abcdefghijklmnopqrstuvwxyzabcdef",
                                     32));
}

static void
test_scope_lists(void **state)
{
    struct config cfg;
    struct err e;

    (void)state;
    config_defaults(&cfg);
    /* the default: every kind unlimited; an unknown kind is NULL */
    assert_string_equal(config_seal_scope(&cfg, "business_contract"), "");
    assert_string_equal(config_seal_scope(&cfg, "personal"), "");
    assert_null(config_seal_scope(&cfg, "business_bogus"));
    assert_int_equal(config_validate(&cfg, &e), ERR_OK);
    assert_int_equal(config_set(&cfg, "scope", "business_contract",
                                "contract,agreement", &e), ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_OK);
    assert_string_equal(config_seal_scope(&cfg, "business_contract"),
                        "contract,agreement");
    assert_true(config_scope_has("contract,agreement", "contract"));
    assert_true(config_scope_has("contract,agreement", "agreement"));
    assert_false(config_scope_has("contract,agreement", "contrac"));
    assert_false(config_scope_has("contract,agreement", "agreements"));
    assert_false(config_scope_has("contract", ""));
    /* malformed lists are refused when the configuration is checked */
    assert_int_equal(config_set(&cfg, "scope", "position", "a, b", &e),
                     ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
    assert_non_null(strstr(e.msg, "scope.position"));
    assert_int_equal(config_set(&cfg, "scope", "position", "a,,b", &e),
                     ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
    assert_int_equal(config_set(&cfg, "scope", "position", "a,", &e),
                     ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
    assert_int_equal(config_set(&cfg, "scope", "nonsense", "a", &e),
                     ERR_CONFIG);
}

static int64_t
utc_ms(int y, int m, int d)
{
    struct tm t;

    memset(&t, 0, sizeof(t));
    t.tm_year = y - 1900;
    t.tm_mon = m - 1;
    t.tm_mday = d;
    return (int64_t)timegm(&t) * 1000;
}

static void
test_last_month(void **state)
{
    char month[8];
    int64_t from, to;

    (void)state;
    stats_last_month(utc_ms(2026, 12, 2) + 3600000, month, &from, &to);
    assert_string_equal(month, "2026-11");
    assert_int_equal(from, utc_ms(2026, 11, 1));
    assert_int_equal(to, utc_ms(2026, 12, 1));
    /* January: December of the year before */
    stats_last_month(utc_ms(2027, 1, 31), month, &from, &to);
    assert_string_equal(month, "2026-12");
    assert_int_equal(from, utc_ms(2026, 12, 1));
    assert_int_equal(to, utc_ms(2027, 1, 1));
    /* the month's first instant already reports the month before */
    stats_last_month(utc_ms(2024, 3, 1), month, &from, &to);
    assert_string_equal(month, "2024-02");
    assert_int_equal(to - from, 29LL * 86400000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doctype_form),
        cmocka_unit_test(test_scope_lists),
        cmocka_unit_test(test_last_month),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
