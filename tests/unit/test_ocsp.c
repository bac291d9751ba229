/*
 * test_ocsp.c - OCSP in the trust anchors' revocation data
 * (src/domain/revocation.c) against a real responder, `openssl ocsp
 * -index` over an `openssl ca` database (SM2) in a temporary directory:
 * ocsp = aia (the URL the CA signed into the certificate), good, revoked
 * with its reason, unknown, a delegated responder certificate without
 * id-kp-OCSPSigning refused, ocsp_nonce = required, the answer cached
 * until its nextUpdate (+ the tolerance) and then asked again, and the
 * order with CRLs: a fresh CRL's revocation wins over OCSP's good, the CRL
 * answers when the responder is down, neither gives unavailable naming
 * both.  The CRL is made from a second database, so that it can disagree
 * with the responder.
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

static char t_dir[] = "/tmp/seald-ocsp-XXXXXX";
static char t_trust[64];
static int t_port;
static char t_url[64];

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
#define CRLCA "openssl ca -batch -config crl.cnf -cert ca.crt -keyfile ca.key "

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

/* Stop the responder started last, if any (its pid in rsp.pid). */
static void
responder_stop(void)
{
    (void)sh("test -s rsp.pid && kill $(cat rsp.pid); rm -f rsp.pid; "
             "sleep 0.05");
}

/* Start `openssl ocsp` on t_port signing with rsigner/rkey for issuer
 * certificate ca, and wait until it listens (no probe connection: it
 * serves one connection at a time). */
static void
responder_start(const char *ca, const char *rsigner, const char *rkey)
{
    int i;

    responder_stop();
    assert_int_equal(sh("rm -f rsp.log; (openssl ocsp -index index.txt "
                        "-CA %s -rsigner %s -rkey %s -rmd sm3 -nmin 1 "
                        "-port %d >/dev/null 2>rsp.log & echo $! > rsp.pid)",
                        ca, rsigner, rkey, t_port), 0);
    for (i = 0; i < 500; i++) {
        if (sh("grep -q 'waiting for OCSP client' rsp.log") == 0)
            return;
        usleep(10000);
    }
    fail_msg("openssl ocsp did not start");
}

static int
setup(void **state)
{
    (void)state;
    if (!mkdtemp(t_dir))
        return -1;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    t_port = 20000 + rand() % 20000;
    snprintf(t_url, sizeof(t_url), "http://127.0.0.1:%d/", t_port);
    snprintf(t_trust, sizeof(t_trust), "%s/trust", t_dir);
    write_text("ca.cnf",
               "[ca]\ndefault_ca = d\n[d]\ndir = .\ndatabase = index.txt\n"
               "serial = serial\ncrlnumber = crlnumber\nnew_certs_dir = .\n"
               "default_md = sm3\ndefault_days = 30\ndefault_crl_hours = 24\n"
               "policy = p\nunique_subject = no\n[p]\ncommonName = supplied\n");
    assert_int_equal(sh("sed 's/index.txt/crlindex.txt/' ca.cnf > crl.cnf"),
                     0);
    {
        char ext[256];
        snprintf(ext, sizeof(ext), "authorityInfoAccess = OCSP;URI:%s\n",
                 t_url);
        write_text("aia.ext", ext);
    }
    write_text("rsp.ext", "extendedKeyUsage = critical,OCSPSigning\n");
    write_text("noeku.ext", "keyUsage = critical,digitalSignature\n");
    return sh("mkdir trust && touch index.txt crlindex.txt && "
              "echo 1000 > serial && echo 01 > crlnumber && "
              "openssl genpkey -algorithm SM2 -out ca.key && "
              "openssl req -x509 -new -key ca.key -out ca.crt -days 30 "
              "-subj '/O=Unit CA/CN=OCSP Root' -sm3 -sigopt " ID " && "
              "cp ca.crt trust/unit.pem && "
              "for n in a b c rsp noeku; do "
              "openssl genpkey -algorithm SM2 -out $n.key && "
              "openssl req -new -key $n.key -out $n.csr -subj /CN=$n -sm3 "
              "-sigopt " ID " && "
              "x=aia; test -f $n.ext && x=$n; "
              CA "-in $n.csr -out $n.crt -notext -extfile $x.ext -sigopt " ID
              " -vfyopt " ID
              " && openssl x509 -in $n.crt -outform DER -out $n.der; done && "
              "cp index.txt crlindex.txt && "
              "openssl genpkey -algorithm SM2 -out other.key && "
              "openssl req -x509 -new -key other.key -out other.crt -days 30 "
              "-subj '/O=Unit CA/CN=OCSP Root' -sm3 -sigopt " ID);
}

static int
teardown(void **state)
{
    (void)state;
    responder_stop();
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

/* A set from the sidecar text conf (trust/unit.conf). */
static struct rev_set *
load(const char *conf)
{
    struct rev_set *s = NULL;
    struct err e;

    write_text("trust/unit.conf", conf);
    assert_int_equal(rev_set_load(t_trust, &s, &e), ERR_OK);
    assert_int_equal(rev_set_count(s), 1);
    return s;
}

static void
test_sidecar_keys(void **state)
{
    struct rev_set *s = NULL;
    struct err e;

    (void)state;
    write_text("trust/unit.conf", "ocsp = ftp://x/\n");
    assert_int_equal(rev_set_load(t_trust, &s, &e), ERR_OK);
    assert_int_equal(rev_set_count(s), 0);
    rev_set_free(s);
    write_text("trust/unit.conf", "ocsp = aia\nocsp = aia\n");
    assert_int_equal(rev_set_load(t_trust, &s, &e), ERR_OK);
    assert_int_equal(rev_set_count(s), 0);
    rev_set_free(s);
    write_text("trust/unit.conf", "ocsp = aia\nocsp_nonce = sometimes\n");
    assert_int_equal(rev_set_load(t_trust, &s, &e), ERR_OK);
    assert_int_equal(rev_set_count(s), 0);
    rev_set_free(s);
    write_text("trust/unit.conf", "ocsp = aia\nocsp_max_age = 0\n");
    assert_int_equal(rev_set_load(t_trust, &s, &e), ERR_OK);
    assert_int_equal(rev_set_count(s), 0);
    rev_set_free(s);
}

static void
test_ocsp_answers(void **state)
{
    struct rev_set *s;
    struct rev_answer a;
    int64_t now = util_now_ms();
    char conf[256];

    (void)state;
    responder_start("ca.crt", "rsp.crt", "rsp.key");
    /* ocsp = aia: the URL in the certificate */
    s = load("ocsp = aia\nretry_seconds = 0\n");
    assert_int_equal(status_of(s, "a", now, &a), REV_GOOD);
    assert_string_equal(a.kind, "ocsp");
    assert_string_equal(a.source, t_url);
    assert_true(a.this_update_ms > 0 && a.next_update_ms > now);
    /* cached: the responder gone, the answer held serves ... */
    responder_stop();
    assert_int_equal(status_of(s, "a", now + 1000, &a), REV_GOOD);
    /* ... until its nextUpdate and the tolerance have passed */
    assert_int_equal(status_of(s, "a", a.next_update_ms + REV_SKEW_MS + 1,
                               &a), REV_UNAVAILABLE);
    assert_non_null(strstr(a.why, "OCSP http://127.0.0.1:"));
    rev_set_free(s);

    /* revoked, with the reason; nonce required (openssl echoes it) */
    assert_int_equal(sh(CA "-revoke b.crt -crl_reason affiliationChanged"),
                     0);
    responder_start("ca.crt", "rsp.crt", "rsp.key");
    snprintf(conf, sizeof(conf), "ocsp = %s\nocsp_nonce = required\n"
             "retry_seconds = 0\n", t_url);
    s = load(conf);
    assert_int_equal(status_of(s, "b", now, &a), REV_REVOKED);
    assert_int_equal(a.reason, 3);
    assert_true(a.revoked_ms > 0 && a.revoked_ms <= util_now_ms());
    assert_int_equal(status_of(s, "c", now, &a), REV_GOOD);
    rev_set_free(s);

    /* a delegated responder certificate without id-kp-OCSPSigning */
    responder_start("ca.crt", "noeku.crt", "noeku.key");
    s = load(conf);
    assert_int_equal(status_of(s, "c", now, &a), REV_UNAVAILABLE);
    assert_non_null(strstr(a.why, "without id-kp-OCSPSigning"));
    rev_set_free(s);

    /* a responder that does not know the CA: unknown */
    responder_start("other.crt", "rsp.crt", "rsp.key");
    s = load(conf);
    assert_int_equal(status_of(s, "c", now, &a), REV_UNAVAILABLE);
    assert_non_null(strstr(a.why, "unknown"));
    rev_set_free(s);
    responder_stop();
}

static void
test_order_with_crls(void **state)
{
    struct rev_set *s;
    struct rev_answer a;
    int64_t now = util_now_ms();
    char conf[256];

    (void)state;
    /* the CRL's database revokes a, the responder's does not */
    assert_int_equal(sh(CRLCA "-revoke a.crt -crl_reason keyCompromise && "
                        CRLCA "-gencrl -out unit.crl -sigopt " ID), 0);
    responder_start("ca.crt", "rsp.crt", "rsp.key");
    snprintf(conf, sizeof(conf), "ocsp = %s\ncrl = ../unit.crl\n"
             "retry_seconds = 0\n", t_url);
    s = load(conf);
    assert_int_equal(status_of(s, "a", now, &a), REV_REVOKED);
    assert_string_equal(a.kind, "crl");
    assert_int_equal(a.reason, 1);
    /* good on both: OCSP's answer */
    assert_int_equal(status_of(s, "c", now, &a), REV_GOOD);
    assert_string_equal(a.kind, "ocsp");
    /* revoked at the responder (b, above), good on the CRL: revoked */
    assert_int_equal(status_of(s, "b", now, &a), REV_REVOKED);
    assert_string_equal(a.kind, "ocsp");
    rev_set_free(s);

    /* the responder down: the CRL answers alone */
    responder_stop();
    s = load(conf);
    assert_int_equal(status_of(s, "c", now, &a), REV_GOOD);
    assert_string_equal(a.kind, "crl");
    assert_non_null(strstr(a.source, "unit.crl"));
    rev_set_free(s);
    /* neither: unavailable, both named */
    assert_int_equal(sh("rm unit.crl"), 0);
    s = load(conf);
    assert_int_equal(status_of(s, "c", now, &a), REV_UNAVAILABLE);
    assert_non_null(strstr(a.why, "OCSP http://"));
    assert_non_null(strstr(a.why, "unit.crl"));
    rev_set_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sidecar_keys),
        cmocka_unit_test(test_ocsp_answers),
        cmocka_unit_test(test_order_with_crls),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
