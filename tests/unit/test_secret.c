/*
 * test_secret.c - secrets (the server secret, PINs, the TLS private key)
 * are read straight into secret memory: NUL-terminated, bounded, locked in
 * RAM, and wiped when freed; no stdio buffer or realloc leaves a copy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* VmLck of this process in kB, from /proc/self/status. */
static long
locked_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static void
write_tmp(char *path, size_t cap, const char *data, size_t len)
{
    FILE *f;

    snprintf(path, cap, "/tmp/seald-secret-%d", (int)getpid());
    assert_non_null(f = fopen(path, "wb"));
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void
test_read_is_exact_and_terminated(void **state)
{
    char path[64];
    uint8_t *buf = NULL;
    size_t len = 0;
    struct err e;

    (void)state;
    write_tmp(path, sizeof(path), "123456\n", 7);
    assert_int_equal(util_read_secret(path, 64, &buf, &len, &e), ERR_OK);
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "123456\n", 7);
    assert_int_equal(buf[7], '\0');
    util_secret_free(buf);
    /* exactly max is fine, one more is refused and nothing is returned */
    assert_int_equal(util_read_secret(path, 7, &buf, &len, &e), ERR_OK);
    util_secret_free(buf);
    buf = (uint8_t *)"x";
    assert_int_equal(util_read_secret(path, 6, &buf, &len, &e),
                     ERR_TOO_LARGE);
    assert_null(buf);
    assert_int_equal(len, 0);
    unlink(path);
}

static void
test_not_a_regular_file(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    struct err e;

    (void)state;
    assert_int_equal(util_read_secret("/dev/zero", 64, &buf, &len, &e),
                     ERR_IO);
    assert_non_null(strstr(e.msg, "not a regular file"));
    assert_int_equal(util_read_secret("/nonexistent/secret", 64, &buf, &len,
                                      &e), ERR_IO);
    assert_null(buf);
}

static void
test_secret_memory_is_locked_and_wiped(void **state)
{
    long before = locked_kb();
    uint8_t *p;

    (void)state;
    assert_true(before >= 0);
    assert_non_null(p = util_secret_alloc(100));
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(p[i], 0);
    memset(p, 0xA5, 100);
    /* locked where the limit allows (root, and the default 8 MiB limit,
     * do); AddressSanitizer replaces mlock with a no-op, so only the
     * plain build can see the lock */
    if (!SANITIZED) {
        assert_true(locked_kb() > before);
    }
    util_secret_free(p);
    assert_int_equal(locked_kb(), before);
    util_secret_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_is_exact_and_terminated),
        cmocka_unit_test(test_not_a_regular_file),
        cmocka_unit_test(test_secret_memory_is_locked_and_wiped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
