/*
 * test_revocation.c - the trust anchors' revocation data
 * (src/domain/revocation.c): sidecar parsing (bad lines skip the sidecar,
 * not the directory), a certificate with no source, good and revoked on a
 * CRL made by `openssl ca` (SM2, the standard ID; and one signed without
 * an ID, as plain `openssl ca` does), a CRL by another key under the same
 * name refused, a CRL older than the one held refused, a stale CRL
 * unavailable, removeFromCRL and certificateHold.  The CA is played by
 * the openssl command in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "revocation.h"
#include "util.h"

static char t_dir[] = "/tmp/seald-rev-XXXXXX";
static char t_trust[64];

/* Run a shell command in t_dir; 0 on success. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
    char cmd[4096];
    int n;
    va_list ap;

    n = snprintf(cmd, sizeof(cmd), "cd %s && (", t_dir);
    va_start(ap, fmt);
    n += vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
    va_end(ap);
    snprintf(cmd + n, sizeof(cmd) - (size_t)n, ") >/dev/null 2>&1");
    return system(cmd) == 0 ? 0 : -1;
}

#define ID "distid:1234567812345678"
#define CA "openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key "

static void
write_text(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", t_dir, name);
    assert_non_null(f = fopen(path, "w"));
    fputs(text, f);
    fclose(f);
}

static int
setup(void **state)
{
    (void)state;
    if (!mkdtemp(t_dir))
        return -1;
    snprintf(t_trust, sizeof(t_trust), "%s/trust", t_dir);
    write_text("ca.cnf",
               "[ca]\ndefault_ca = d\n[d]\ndir = .\ndatabase = index.txt\n"
               "serial = serial\ncrlnumber = crlnumber\nnew_certs_dir = .\n"
               "default_md = sm3\ndefault_days = 30\ndefault_crl_hours = 24\n"
               "policy = p\nunique_subject = no\n[p]\ncommonName = supplied\n");
    return sh("mkdir trust && touch index.txt && echo 1000 > serial && "
              "echo 01 > crlnumber && "
              "openssl genpkey -algorithm SM2 -out ca.key && "
              "openssl req -x509 -new -key ca.key -out ca.crt -days 30 "
              "-subj '/O=Unit CA/CN=Unit Root' -sm3 -sigopt " ID " && "
              "cp ca.crt trust/unit.pem && "
              "for n in a b c; do "
              "openssl genpkey -algorithm SM2 -out $n.key && "
              "openssl req -new -key $n.key -out $n.csr -subj /CN=$n -sm3 "
              "-sigopt " ID " && "
              CA "-in $n.csr -out $n.crt -notext -sigopt " ID " -vfyopt " ID
              " && openssl x509 -in $n.crt -outform DER -out $n.der; done && "
              "openssl genpkey -algorithm SM2 -out other.key && "
              "openssl req -x509 -new -key other.key -out other.crt -days 30 "
              "-subj '/O=Unit CA/CN=Unit Root' -sm3 -sigopt " ID);
}

static int
teardown(void **state)
{
    (void)state;
    return sh("cd / && rm -rf %s", t_dir);
}

/* The status of certificate NAME.der at now_ms with set s. */
static enum rev_state
status_of(struct rev_set *s, const char *name, int64_t now_ms,
          struct rev_answer *a)
{
    char path[256];
    uint8_t *der = NULL;
    size_t len = 0;
    struct err e;

    snprintf(path, sizeof(path), "%s/%s.der", t_dir, name);
    assert_int_equal(util_read_file(path, 65536, &der, &len, &e), ERR_OK);
    assert_int_equal(rev_cert_status(s, der, len, now_ms, a, &e), ERR_OK);
    free(der);
    return a->state;
}

static void
test_sidecars(void **state)
{
    struct rev_set *s = NULL;
    struct rev_answer a;
    struct err e;

    (void)state;
    /* no sidecar: no source */
    assert_int_equal(rev_set_load(t_trust, &s, &e), ERR_OK);
    assert_int_equal(rev_set_count(s), 0);
    assert_int_equal(status_of(s, "a", util_now_ms(), &a), REV_NO_SOURCE);
    assert_non_null(strstr(a.issuer, "Unit Root"));
    rev_set_free(s);
    /* a bad sidecar is skipped, a good one beside it kept */
    write_text("trust/bad.conf", "crl = x.crl\nfrobnicate = 1\n");
    write_text("trust/bad2.conf", "status_signer_sha256 = abcd\n");
    write_text("trust/noanchor.conf", "crl = x.crl\n");
    write_text("trust/unit.conf", "# comment\n\ncrl = ../unit.crl\n"
               "retry_seconds = 0\n");
    assert_int_equal(rev_set_load(t_trust, &s, &e), ERR_OK);
    assert_int_equal(rev_set_count(s), 1);
    /* named but not there: unavailable, and the reason says why */
    assert_int_equal(status_of(s, "a", util_now_ms(), &a), REV_UNAVAILABLE);
    assert_non_null(strstr(a.why, "unit.crl"));
    assert_string_equal(a.anchor, "unit");
    rev_set_free(s);
    assert_int_equal(sh("rm trust/bad.conf trust/bad2.conf "
                        "trust/noanchor.conf"), 0);
    /* a missing directory is an empty set */
    assert_int_equal(rev_set_load("/nonexistent/seald", &s, &e), ERR_OK);
    assert_int_equal(rev_set_count(s), 0);
    rev_set_free(s);
}

static void
test_crl_checks(void **state)
{
    struct rev_set *s = NULL;
    struct rev_answer a;
    struct err e;
    int64_t now = util_now_ms();

    (void)state;
    write_text("trust/unit.conf", "crl = ../unit.crl\nretry_seconds = 0\n");
    assert_int_equal(rev_set_load(t_trust, &s, &e), ERR_OK);
    /* good, then revoked (keyCompromise), with the standard SM2 ID */
    assert_int_equal(sh(CA "-gencrl -out unit.crl -sigopt " ID), 0);
    assert_int_equal(status_of(s, "a", now, &a), REV_GOOD);
    assert_true(a.next_update_ms > now);
    assert_non_null(strstr(a.source, "unit.crl"));
    assert_int_equal(sh(CA "-revoke a.crt -crl_reason keyCompromise && "
                        CA "-gencrl -out unit.crl -sigopt " ID),
                     0);
    assert_int_equal(status_of(s, "a", now, &a), REV_REVOKED);
    assert_int_equal(a.reason, 1);
    assert_string_equal(rev_reason_name(a.reason), "keyCompromise");
    assert_true(a.revoked_ms > 0 && a.revoked_ms <= util_now_ms());
    assert_int_equal(status_of(s, "b", now, &a), REV_GOOD);
    /* certificateHold */
    assert_int_equal(sh(CA "-revoke b.crt -crl_hold holdInstructionNone && "
                        CA "-gencrl -out unit.crl -sigopt " ID),
                     0);
    assert_int_equal(status_of(s, "b", now, &a), REV_HOLD);
    /* without an SM2 ID (what plain openssl ca does): still verified */
    assert_int_equal(sh(CA "-gencrl -out unit.crl"), 0);
    assert_int_equal(status_of(s, "a", now, &a), REV_REVOKED);
    /* another key under the CA's name: refused, the last valid CRL stays */
    assert_int_equal(sh("openssl ca -batch -config ca.cnf "
                        "-cert other.crt -keyfile other.key -gencrl "
                        "-out unit.crl -sigopt " ID), 0);
    assert_int_equal(status_of(s, "a", now, &a), REV_REVOKED);
    rev_set_free(s);
    assert_int_equal(rev_set_load(t_trust, &s, &e), ERR_OK);
    assert_int_equal(status_of(s, "a", now, &a), REV_UNAVAILABLE);
    assert_non_null(strstr(a.why, "not signed by a certificate of anchor "
                           "unit"));
    /* an older CRL than the one held is refused */
    assert_int_equal(sh(CA "-gencrl -out unit.crl -sigopt " ID), 0);
    assert_int_equal(status_of(s, "c", now, &a), REV_GOOD);
    assert_int_equal(sh(CA "-gencrl -out unit.crl -sigopt " ID
                        " -crl_lastupdate 20200101000000Z "
                        "-crl_nextupdate 20200102000000Z"), 0);
    assert_int_equal(status_of(s, "c", now, &a), REV_GOOD);
    /* the copy held past its nextUpdate: unavailable */
    assert_int_equal(status_of(s, "c", a.next_update_ms + 1, &a),
                     REV_UNAVAILABLE);
    assert_non_null(strstr(a.why, "past its nextUpdate"));
    assert_non_null(strstr(a.why, "older than the one held"));
    rev_set_free(s);
    /* a stale CRL read first: unavailable */
    assert_int_equal(rev_set_load(t_trust, &s, &e), ERR_OK);
    assert_int_equal(status_of(s, "c", now, &a), REV_UNAVAILABLE);
    assert_non_null(strstr(a.why, "past its nextUpdate"));
    rev_set_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sidecars),
        cmocka_unit_test(test_crl_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
