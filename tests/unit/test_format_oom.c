/*
 * test_format_oom.c - the format parsers under allocation failure (issue
 * 15, item 7): every seal and signature of the project's vectors is
 * decoded again with the Nth allocation made by OpenSSL failing, for
 * every N the decode makes.  Each attempt must either succeed whole or
 * fail with an error and no output, never crash; under the sanitizer
 * build LeakSanitizer also fails the test if a failed decode leaks.
 *
 * OpenSSL's allocator is replaced with CRYPTO_set_mem_functions, which
 * must happen before OpenSSL's first allocation, so main() does it first.
 * A fault the real allocator cannot produce on demand is what this mock
 * is for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "ses.h"
#include "util.h"

/* The failing allocator: fail_at 0 never fails; otherwise the fail_at-th
 * allocation (malloc or realloc) since arming returns NULL. */
static long allocs, fail_at;

static void *
oom_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    if (fail_at != 0 && ++allocs == fail_at)
        return NULL;
    return malloc(n);
}

static void *
oom_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    if (fail_at != 0 && ++allocs == fail_at)
        return NULL;
    return realloc(p, n);
}

static void
oom_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

/* Count allocations from now on without failing (fail_at huge). */
static void
count_only(void)
{
    allocs = 0;
    fail_at = -1;
}

static void
arm(long n)
{
    allocs = 0;
    fail_at = n;
}

static uint8_t *
read_vec(const char *rel, size_t *len)
{
    const char *v = getenv("SEALD_VECTORS");
    char path[1024];
    uint8_t *buf = NULL;
    struct err e;

    if (v == NULL)
        fail_msg("SEALD_VECTORS is not set (ctest sets it to tests/vectors)");
    snprintf(path, sizeof(path), "%s/%s", v, rel);
    if (util_read_file(path, SES_MAX_DER, &buf, len, &e) != ERR_OK)
        fail_msg("cannot read %s: %s", path, e.msg);
    return buf;
}

enum what { SEAL, SIGNATURE, SIGNED_DATA };

/* What the vector is, as seald tells files apart. */
static enum what
what_of(const uint8_t *buf, size_t len)
{
    switch (ses_sniff(buf, len)) {
    case SES_KIND_SEAL:
        return SEAL;
    case SES_KIND_SIGNATURE:
        return SIGNATURE;
    case SES_KIND_SIGNED_DATA:
        return SIGNED_DATA;
    default:
        fail_msg("a vector that is neither seal nor signature");
    }
    return SEAL;
}

/* Decode buf as w; returns the status, asserts the output contract. */
static err_code
decode(enum what w, const uint8_t *buf, size_t len)
{
    struct ses_seal *seal = NULL;
    struct ses_signature *sig = NULL;
    struct ses_signed_data *sd = NULL;
    struct err e;
    err_code rc;

    err_clear(&e);
    if (w == SEAL) {
        rc = ses_seal_decode(buf, len, &seal, &e);
        assert_true(rc == ERR_OK ? seal != NULL : seal == NULL);
        ses_seal_free(seal);
    } else if (w == SIGNATURE) {
        rc = ses_signature_decode(buf, len, &sig, &e);
        assert_true(rc == ERR_OK ? sig != NULL : sig == NULL);
        ses_signature_free(sig);
    } else {
        rc = ses_signed_data_decode(buf, len, &sd, &e);
        assert_true(rc == ERR_OK ? sd != NULL : sd == NULL);
        ses_signed_data_free(sd);
    }
    if (rc != ERR_OK)
        assert_true(e.msg[0] != '\0');        /* a failure says why */
    return rc;
}

/* Decode rel (as what it is) with every allocation failing in turn;
 * *points: how many failures were tried. */
static void
every_failure(const char *rel, long *points)
{
    size_t len = 0;
    uint8_t *buf = read_vec(rel, &len);
    enum what w = what_of(buf, len);
    long n, total, failed = 0;

    count_only();
    assert_int_equal(decode(w, buf, len), ERR_OK);
    total = allocs;
    assert_true(total > 0);
    for (n = 1; n <= total; n++) {
        arm(n);
        if (decode(w, buf, len) != ERR_OK)
            failed++;
    }
    fail_at = 0;
    /* most failures must be reported (some allocations are caches whose
     * loss OpenSSL survives); and after all of them it works again */
    assert_true(failed > 0);
    assert_int_equal(decode(w, buf, len), ERR_OK);
    *points += total;
    free(buf);
}

static void
test_seals_under_oom(void **state)
{
    static const char *const seals[] = {
        "seals/ofdrw-UserV1.esl", "seals/ofdrw-UserV4.esl",
        "seals/ofdrw-UserV5.esl", "seals/ofdrw-UserV5_ts.esl",
        "seals/hebeigede-v4-badsig.der", NULL};
    const char *const *p;
    long points = 0;

    (void)state;
    for (p = seals; *p != NULL; p++)
        every_failure(*p, &points);
    print_message("seals: %ld allocation failures survived\n", points);
}

static void
test_signatures_under_oom(void **state)
{
    static const char *const sigs[] = {
        "signatures/ofdrw-SignedValueV4.dat",
        "signatures/ofdrw-SignedValueV5.dat",
        "signatures/v4signed-Sign_0.SignedValue.dat",
        "signatures/signedFile-Sign_0.SignedValue.dat",
        "signatures/allprotected-Sign_0.SignedValue.dat", NULL};
    const char *const *p;
    long points = 0;

    (void)state;
    for (p = sigs; *p != NULL; p++)
        every_failure(*p, &points);
    print_message("signatures: %ld allocation failures survived\n", points);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seals_under_oom),
        cmocka_unit_test(test_signatures_under_oom),
    };

    if (!CRYPTO_set_mem_functions(oom_malloc, oom_realloc, oom_free)) {
        fprintf(stderr, "OpenSSL allocated before main\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
