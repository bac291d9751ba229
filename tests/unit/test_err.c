/*
 * test_err.c - the error module's message helpers: adding context to an
 * error that already holds a message gives "context: message" exactly once,
 * never a message formatted into the buffer it is being read from (which
 * printed "limit: limit: ut of range" and "seals.renewal_days:
 * seals.renewal_days: [1, 365]").  Checked on the helpers themselves and on
 * the config paths that use them.  A message is always UTF-8: a cut through
 * a character (a "%.64s", the ERR_MSG_MAX limit) or a request's raw bytes
 * become '?' (util_utf8_repair), where they made the JSON error answer
 * fail as out_of_memory and PostgreSQL refuse the audit record.
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

#include "config.h"
#include "err.h"
#include "img.h"
#include "util.h"

/* err_set may be given its own message as an argument: it formats through
 * a buffer of its own, so the result is the clean concatenation. */
static void test_set_may_read_own_message(void **state)
{
    struct err e;
    long v;

    (void)state;
    assert_int_equal(util_parse_long("0", 1, 500, &v, &e), ERR_INVALID);
    assert_string_equal(e.msg, "0 is out of range [1, 500]");
    assert_int_equal(err_set(&e, ERR_INVALID, "limit: %s", e.msg),
                     ERR_INVALID);
    assert_string_equal(e.msg, "limit: 0 is out of range [1, 500]");
}

/* err_wrap puts the context in front of the message, once, and sets the
 * code it is given. */
static void test_wrap_adds_context_once(void **state)
{
    struct err e;
    long v;

    (void)state;
    assert_int_equal(util_parse_long("0", 1, 500, &v, &e), ERR_INVALID);
    assert_int_equal(err_wrap(&e, ERR_CONFIG, "%s.%s", "server", "limit"),
                     ERR_CONFIG);
    assert_int_equal(e.code, ERR_CONFIG);
    assert_string_equal(e.msg, "server.limit: 0 is out of range [1, 500]");
    assert_int_equal(err_wrap(&e, ERR_INVALID, "config"), ERR_INVALID);
    assert_string_equal(e.msg,
                        "config: server.limit: 0 is out of range [1, 500]");
}

/* What the image check says, behind "image: " and nothing else. */
static void test_wrap_image_error(void **state)
{
    static const uint8_t junk[] = "not a picture";
    struct img_info info;
    struct err e;
    char said[ERR_MSG_MAX], want[ERR_MSG_MAX + 8];

    (void)state;
    assert_int_not_equal(img_check(junk, sizeof(junk) - 1, 40, 40, &info, &e),
                         ERR_OK);
    snprintf(said, sizeof(said), "%s", e.msg);
    snprintf(want, sizeof(want), "image: %s", said);
    assert_int_equal(err_wrap(&e, ERR_INVALID, "image"), ERR_INVALID);
    assert_string_equal(e.msg, want);
    assert_string_equal(e.msg, "image: image is neither PNG nor GIF");
}

/* No previous message: just the context, no dangling ": ". */
static void test_wrap_without_message(void **state)
{
    struct err e;

    (void)state;
    err_clear(&e);
    assert_int_equal(err_wrap(&e, ERR_DB, "migration %s", "001_init"),
                     ERR_DB);
    assert_string_equal(e.msg, "migration 001_init");
}

/* A long message is cut at the buffer, still NUL-terminated, the context
 * first. */
static void test_wrap_truncates(void **state)
{
    char longmsg[ERR_MSG_MAX];
    struct err e;

    (void)state;
    memset(longmsg, 'x', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    err_set(&e, ERR_INVALID, "%s", longmsg);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    err_wrap(&e, ERR_INVALID, "context");
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_memory_equal(e.msg, "context: xxx", 12);
    assert_int_equal(e.msg[ERR_MSG_MAX - 2], 'x');
}

/* util_utf8_repair keeps well-formed UTF-8 byte for byte and turns every
 * byte of anything else into '?', the length unchanged; util_utf8_valid
 * tells the two apart. */
static void test_utf8_repair(void **state)
{
    static const struct {
        const char *in, *out;
        size_t      bad;
    } cases[] = {
        {"plain ascii", "plain ascii", 0},
        {"\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x94\x8f \xc3\xa9",
         "\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x94\x8f \xc3\xa9", 0},
        {"/seals/\xff\xfe", "/seals/??", 2},
        {"cut \xe4\xb8", "cut ??", 2},             /* cut off at the end */
        {"cut \xe4\xb8'", "cut ?\?'", 2},           /* "%.64s'" */
        {"\xc0\xaf", "??", 2},                     /* overlong '/' */
        {"\xe0\x80\xaf", "???", 3},               /* overlong '/' */
        {"\xed\xa0\x80", "???", 3},               /* a surrogate */
        {"\xf4\x90\x80\x80", "????", 4},         /* above U+10FFFF */
        {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf", 0}, /* U+10FFFF */
        {"\x80x", "?x", 1},                         /* a lone continuation */
    };
    char buf[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(buf, sizeof(buf), "%s", cases[i].in);
        assert_int_equal(util_utf8_valid(buf), cases[i].bad == 0);
        assert_int_equal(util_utf8_repair(buf), cases[i].bad);
        assert_true(util_utf8_valid(buf));
        assert_string_equal(buf, cases[i].out);
    }
}

/* A message cut through a character by a precision or by ERR_MSG_MAX is
 * still UTF-8: the broken character's bytes are '?'. */
static void test_message_cut_stays_utf8(void **state)
{
    char cjk[3 * 100 + 1];
    struct err e;
    size_t i;

    (void)state;
    for (i = 0; i < 100; i++)
        memcpy(cjk + 3 * i, "\xe4\xb8\xad", 3);       /* U+4E2D */
    cjk[300] = '\0';
    err_set(&e, ERR_BAD_REQUEST, "unknown field '%.64s'", cjk);
    /* 21 whole characters (63 bytes), then one byte of the 22nd */
    assert_memory_equal(e.msg + 15 + 63, "?'", 3);
    assert_int_equal(util_utf8_repair(e.msg), 0);
    err_set(&e, ERR_BAD_REQUEST, "x%s", cjk);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_int_equal(util_utf8_repair(e.msg), 0);
    err_wrap(&e, ERR_INVALID, "y");
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_int_equal(util_utf8_repair(e.msg), 0);
}

/* Without a struct err there is nothing to wrap: only the code comes back. */
static void test_wrap_null(void **state)
{
    (void)state;
    assert_int_equal(err_wrap(NULL, ERR_DB, "x %d", 1), ERR_DB);
}

/* A config range error names the key once, then the range. */
static void test_config_range_names_key_once(void **state)
{
    struct config cfg;
    struct err e;

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "seals", "renewal_days", "400", &e),
                     ERR_CONFIG);
    assert_int_equal(e.code, ERR_CONFIG);
    assert_string_equal(e.msg,
                        "seals.renewal_days: 400 is out of range [1, 365]");
    assert_int_equal(config_set(&cfg, "server", "port", "12x", &e),
                     ERR_CONFIG);
    assert_string_equal(e.msg, "server.port: not a number: '12x'");
}

/* The same error read from a file carries the file and line in front. */
static void test_config_file_range_error(void **state)
{
    char path[] = "/tmp/seald-test-err-XXXXXX", want[128];
    struct config cfg;
    struct err e;
    FILE *f;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("[seals]\nrenewal_days = 400\n", f);
    fclose(f);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, path, &e), ERR_CONFIG);
    unlink(path);
    snprintf(want, sizeof(want),
             "%s:2: seals.renewal_days: 400 is out of range [1, 365]", path);
    assert_string_equal(e.msg, want);
}

/* A bad key reference names the key, then what is wrong with it. */
static void test_config_keyref_error(void **state)
{
    struct config cfg;
    struct err e;

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "keys", "audit", "nope", &e), ERR_OK);
    assert_int_equal(config_validate(&cfg, &e), ERR_CONFIG);
    assert_string_equal(e.msg, "keys.audit: key reference 'nope' is not "
                        "token/hex-id");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_may_read_own_message),
        cmocka_unit_test(test_wrap_adds_context_once),
        cmocka_unit_test(test_wrap_image_error),
        cmocka_unit_test(test_wrap_without_message),
        cmocka_unit_test(test_wrap_truncates),
        cmocka_unit_test(test_wrap_null),
        cmocka_unit_test(test_utf8_repair),
        cmocka_unit_test(test_message_cut_stays_utf8),
        cmocka_unit_test(test_config_range_names_key_once),
        cmocka_unit_test(test_config_file_range_error),
        cmocka_unit_test(test_config_keyref_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
