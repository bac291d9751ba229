/*
 * test_log.c - unit tests of the log line (log_event in log.c): string
 * values are written bare only when they are plain, quoted and escaped
 * otherwise; an over-long line is cut with its last value closed and
 * marked; a conversion the log does not understand ends the line visibly
 * instead of misreading the arguments.  The e2e test_daemon.py parses a
 * real request line.
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

#include "log.h"

#define LINE_CAP 8192

static char dir[64], path[128];

static int
setup(void **state)
{
    struct err e;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/seald-log-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/seald.log", dir);
    return log_open(path, "debug", &e) == ERR_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    log_close();
    unlink(path);
    rmdir(dir);
    return 0;
}

/* The whole log file (one line expected) into buf; returns its length. */
static size_t
read_log(char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

/* The part of the single line after "event=test ". */
static const char *
fields(char *buf)
{
    char *p;
    size_t n = read_log(buf, LINE_CAP);

    assert_true(n > 0);
    assert_int_equal(buf[n - 1], '\n');
    assert_null(memchr(buf, '\n', n - 1));  /* one line */
    buf[n - 1] = '\0';
    assert_non_null(p = strstr(buf, " event=test "));
    return p + strlen(" event=test ");
}

static void
test_plain_values_bare(void **state)
{
    static char buf[LINE_CAP];

    (void)state;
    log_event(LOG_INFO, "test", "rid=%s path=%s n=%d big=%lld z=%zu",
              "2d6d71349e410390", "/api/v1/seals/17", -3, 1LL << 40,
              (size_t)7);
    assert_string_equal(fields(buf), "rid=2d6d71349e410390 "
                        "path=/api/v1/seals/17 n=-3 big=1099511627776 z=7");
}

static void
test_other_values_quoted_and_escaped(void **state)
{
    static char buf[LINE_CAP];

    (void)state;
    log_event(LOG_INFO, "test", "a=%s b=%s c=%s d=%s e=%s",
              "x\" status=200 y=\"", "back\\slash", "two\nlines\r\t\x01",
              "", "印章 ok");
    assert_string_equal(fields(buf),
                        "a=\"x\\\" status=200 y=\\\"\" "
                        "b=\"back\\\\slash\" "
                        "c=\"two\\nlines\\r\\t\\x01\" "
                        "d=\"\" "
                        "e=\"印章 ok\"");
}

static void
test_long_line_cut_and_closed(void **state)
{
    static char buf[LINE_CAP];
    static char big[6000];
    const char *f;
    size_t n;

    (void)state;
    memset(big, '"', sizeof(big) - 1);
    log_event(LOG_INFO, "test", "v=%s after=%d", big, 1);
    f = fields(buf);
    n = strlen(buf);
    assert_true(n < 4096);
    assert_true(strncmp(f, "v=\"\\\"", 5) == 0);
    /* the cut value is closed after a whole escape, then marked */
    assert_string_equal(buf + n - strlen("\\\"\" truncated=1"),
                        "\\\"\" truncated=1");
    assert_null(strstr(f, "after="));
}

static void
test_unknown_conversion_ends_line(void **state)
{
    static char buf[LINE_CAP];

    (void)state;
    log_event(LOG_INFO, "test", "a=%s w=%5d b=%s", "one", 2, "three");
    assert_string_equal(fields(buf), "a=one w= log_format_error=1");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_values_bare, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_other_values_quoted_and_escaped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_cut_and_closed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_conversion_ends_line,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
