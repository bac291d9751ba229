/*
 * test_csv.c - unit tests of the one CSV writer (csv.c): RFC 4180 quoting,
 * the formula-injection guard on text fields (and not on numbers), the
 * size bound, and handing over an empty document.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "csv.h"

static void
test_rfc4180_quoting(void **state)
{
    struct csv w;
    struct err e;

    (void)state;
    csv_init(&w, 0);
    assert_int_equal(csv_text(&w, "plain", &e), ERR_OK);
    assert_int_equal(csv_text(&w, "a,b \"c\"\r\nd", &e), ERR_OK);
    assert_int_equal(csv_text(&w, NULL, &e), ERR_OK);
    assert_int_equal(csv_int(&w, 42, &e), ERR_OK);
    assert_int_equal(csv_end_row(&w, &e), ERR_OK);
    assert_int_equal(csv_int(&w, 1, &e), ERR_OK);
    assert_int_equal(csv_end_row(&w, &e), ERR_OK);
    assert_string_equal(w.buf, "\"plain\",\"a,b \"\"c\"\"\r\nd\",\"\",42\r\n"
                        "1\r\n");
    csv_free(&w);
}

static void
test_formula_guard(void **state)
{
    static const char *const cells[] = {
        "=HYPERLINK(\"http://x\",\"y\")", "+1", "-1+1", "@SUM(A1)",
        "\tx", "\rx"};
    static const char *const want =
        "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",\"'+1\",\"'-1+1\","
        "\"'@SUM(A1)\",\"'\tx\",\"'\rx\"\r\n";
    struct csv w;
    struct err e;

    (void)state;
    csv_init(&w, 0);
    assert_int_equal(csv_text_row(&w, cells, 6, &e), ERR_OK);
    assert_string_equal(w.buf, want);
    /* only the first byte counts; numbers are numbers */
    csv_clear(&w);
    assert_int_equal(csv_text(&w, "a=b", &e), ERR_OK);
    assert_int_equal(csv_int(&w, -7, &e), ERR_OK);
    assert_int_equal(csv_end_row(&w, &e), ERR_OK);
    assert_string_equal(w.buf, "\"a=b\",-7\r\n");
    csv_free(&w);
}

static void
test_bound_and_take(void **state)
{
    struct csv w;
    struct err e;
    char *doc;
    size_t len;

    (void)state;
    csv_init(&w, 8);
    assert_int_equal(csv_text(&w, "abcd", &e), ERR_OK);   /* 6 bytes */
    assert_int_equal(csv_text(&w, "x", &e), ERR_TOO_LARGE);
    csv_free(&w);

    csv_init(&w, 0);
    assert_int_equal(csv_take(&w, &doc, &len, &e), ERR_OK);
    assert_non_null(doc);
    assert_int_equal(len, 0);
    free(doc);
    assert_null(w.buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4180_quoting),
        cmocka_unit_test(test_formula_guard),
        cmocka_unit_test(test_bound_and_take),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
