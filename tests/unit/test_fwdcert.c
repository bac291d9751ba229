/*
 * test_fwdcert.c - the header of a client certificate a gateway forwards
 * (fwdcert.h, issue 19 item 9): the URL escapes undone, the size limit
 * applied before anything is decoded, exactly one PEM certificate block,
 * and the [gateway] trust bundle's loading.  The chain check itself runs
 * against the real daemon in tests/e2e/test_gateway.py.
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
#include "fwdcert.h"

#define B "-----BEGIN CERTIFICATE-----"
#define E "-----END CERTIFICATE-----"
#define EB "-----BEGIN%20CERTIFICATE-----"
#define EE "-----END%20CERTIFICATE-----"

/* Unescape value: the code, and on ERR_OK the text in *out (freed by the
 * caller), else e's message in msg. */
static err_code
unescape(const char *value, char **out, char msg[ERR_MSG_MAX])
{
    struct err e;
    size_t len = 0;
    err_code rc;

    err_clear(&e);
    *out = NULL;
    rc = fwdcert_unescape(value, out, &len, &e);
    snprintf(msg, ERR_MSG_MAX, "%s", e.msg);
    if (rc == ERR_OK)
        assert_int_equal(len, strlen(*out));
    else
        assert_null(*out);
    return rc;
}

/* %XX in either case is the byte; '+' stays (base64 has it). */
static void test_escapes(void **state)
{
    char *pem, msg[ERR_MSG_MAX];

    (void)state;
    assert_int_equal(unescape(EB "%0AMIIB+a/b%3d%3D%0a" EE "%0A", &pem, msg),
                     ERR_OK);
    assert_string_equal(pem, B "\nMIIB+a/b==\n" E "\n");
    free(pem);
    /* nginx 1.x's $ssl_client_cert (a tab before each continued line) and
     * a raw PEM pass too: white space around the block is nothing */
    assert_int_equal(unescape("\t" B "\n\tAAAA\n\t" E "\r\n", &pem, msg),
                     ERR_OK);
    free(pem);
}

/* A bad escape (short, not hex) and %00 are refused, naming the byte. */
static void test_bad_escapes(void **state)
{
    char *pem, msg[ERR_MSG_MAX];
    static const char *const bad[] = {EB "%0" , EB "%", EB "%G0" EE,
                                      EB "%00" EE, "%zz" EB EE};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(unescape(bad[i], &pem, msg), ERR_UNAUTHENTICATED);
        assert_non_null(strstr(msg, "bad %-escape"));
    }
}

/* Exactly one block, and nothing else around it. */
static void test_one_block(void **state)
{
    char *pem, msg[ERR_MSG_MAX];

    (void)state;
    assert_int_equal(unescape("", &pem, msg), ERR_UNAUTHENTICATED);
    assert_non_null(strstr(msg, "not one PEM certificate"));
    assert_int_equal(unescape("garbage", &pem, msg), ERR_UNAUTHENTICATED);
    assert_int_equal(unescape(B "\nAAAA\n", &pem, msg), ERR_UNAUTHENTICATED);
    assert_int_equal(unescape("x" B "\nA\n" E, &pem, msg),
                     ERR_UNAUTHENTICATED);
    assert_int_equal(unescape(B "\nA\n" E "x", &pem, msg),
                     ERR_UNAUTHENTICATED);
    assert_non_null(strstr(msg, "not one PEM certificate"));
    assert_int_equal(unescape(B "\nA\n" E "\n" B "\nB\n" E "\n", &pem, msg),
                     ERR_UNAUTHENTICATED);
    assert_non_null(strstr(msg, "more than one certificate"));
    assert_int_equal(unescape(EB "%0AA%0A" EE "%0A" EB "%0AB%0A" EE, &pem,
                              msg), ERR_UNAUTHENTICATED);
    assert_non_null(strstr(msg, "more than one certificate"));
}

/* FWDCERT_MAX_BYTES escaped bytes are taken; one more is 431, before a
 * byte is decoded (the escape at the end is never looked at). */
static void test_limit(void **state)
{
    size_t head = strlen(B "\n"), tail = strlen("\n" E);
    char *v = malloc(FWDCERT_MAX_BYTES + 2), *pem, msg[ERR_MSG_MAX];

    (void)state;
    assert_non_null(v);
    memset(v, 'A', FWDCERT_MAX_BYTES + 1);
    memcpy(v, B "\n", head);
    memcpy(v + FWDCERT_MAX_BYTES - tail, "\n" E, tail);
    v[FWDCERT_MAX_BYTES] = '\0';
    assert_int_equal(unescape(v, &pem, msg), ERR_OK);
    free(pem);
    v[FWDCERT_MAX_BYTES] = '%';
    v[FWDCERT_MAX_BYTES + 1] = '\0';
    assert_int_equal(unescape(v, &pem, msg), ERR_HEADERS_TOO_LARGE);
    assert_non_null(strstr(msg, "larger than 8192 bytes"));
    free(v);
}

/* No gateway, no trust; a gateway's bundle must hold a certificate. */
static void test_trust_open(void **state)
{
    struct config cfg;
    struct fwdcert_trust *t = (void *)1;
    struct fwdcert_facts f;
    char path[] = "/tmp/test_fwdcert_XXXXXX";
    struct err e;
    int fd;

    (void)state;
    config_defaults(&cfg);
    assert_int_equal(fwdcert_trust_open(&cfg, &t, &e), ERR_OK);
    assert_null(t);
    assert_int_equal(fwdcert_check(NULL, EB EE, 0, &f, &e),
                     ERR_UNAUTHENTICATED);
    snprintf(cfg.gateway_subject, sizeof(cfg.gateway_subject), "CN=gw");
    snprintf(cfg.gateway_client_ca, sizeof(cfg.gateway_client_ca),
             "/nonexistent/ca.pem");
    assert_int_equal(fwdcert_trust_open(&cfg, &t, &e), ERR_CONFIG);
    assert_non_null(strstr(e.msg, "gateway.client_ca"));
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "no certificate\n", 15), 15);
    close(fd);
    snprintf(cfg.gateway_client_ca, sizeof(cfg.gateway_client_ca), "%s",
             path);
    assert_int_equal(fwdcert_trust_open(&cfg, &t, &e), ERR_CONFIG);
    assert_non_null(strstr(e.msg, "no certificate"));
    assert_null(t);
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_bad_escapes),
        cmocka_unit_test(test_one_block),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_trust_open),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
