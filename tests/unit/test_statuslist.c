/*
 * test_statuslist.c - unit tests of statuslist.c against the real dev token:
 * a list signed through custody by a maker key, its exact JSON form,
 * statuslist_verify (signature, freshness, chain, lookups) and its refusals
 * (tampered bytes, stale list, duplicates, bad reasons).  Writes list.json,
 * list.sig and list-pub.pem for the openssl CLI check in
 * tests/e2e/test_seal_lib.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "seal_testutil.h"
#include "statuslist.h"

static void test_build_verify(void **state)
{
    char caid[CUSTODY_ID_HEX_MAX], mid[CUSTODY_ID_HEX_MAX];
    struct ca_key ca, maker;
    uint8_t *ca_der = NULL, *m_der = NULL, sig[CA_SIG_MAX];
    size_t ca_len = 0, m_len = 0, sig_len = 0, json_len = 0;
    char *json = NULL;
    time_t now = time(NULL);
    struct statuslist_entry en[3] = {
        { "44010000000009", "revoked", 1700000000,
          STATUSLIST_REASON_CESSATION },
        { "44010000000002", "lost", 1700000100,
          STATUSLIST_REASON_KEY_COMPROMISE },
        { "44010000000005", "suspended", 1700000200,
          STATUSLIST_REASON_HOLD },
    };
    struct statuslist_params p;
    json_t *list = NULL, *hit;
    X509 *root;
    X509_STORE *trust, *empty;
    struct err e = { 0 };
    EVP_PKEY *pub;
    char want[512];

    (void)state;
    t_make_root(caid, &ca, &ca_der, &ca_len);
    t_make_holder(&ca, ca_der, ca_len, "seald maker", now - 60,
                  now + 86400 * 30, mid, &maker, &m_der, &m_len);
    memset(&p, 0, sizeof p);
    p.number = 7;
    p.this_update = now - 10;
    p.next_update = now + 86400;
    p.entries = en;
    p.n_entries = 3;
    p.signer_cert = m_der;
    p.signer_cert_len = m_len;
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_OK);
    assert_int_equal(strlen(json), json_len);
    /* exact form: fixed member order, compact, entries sorted by esID */
    {
        static const char pre[] =
            "{\"type\":\"seald-seal-status-list\",\"version\":2,"
            "\"number\":7,\"part\":0,\"parts\":1,\"total\":3,"
            "\"range_after\":null,\"range_until\":null,"
            "\"expired_before\":\"1970-01-01T00:00:00Z\",\"issuer\":\"CN=seald maker,O=seald test,C=CN\","
            "\"this_update\":\"";
        assert_int_equal(strncmp(json, pre, strlen(pre)), 0);
    }
    snprintf(want, sizeof want,
             "\"entries\":[{\"es_id\":\"44010000000002\",\"state\":\"lost\","
             "\"since\":\"2023-11-14T22:15:00Z\",\"reason\":1},"
             "{\"es_id\":\"44010000000005\",\"state\":\"suspended\","
             "\"since\":\"2023-11-14T22:16:40Z\",\"reason\":6},"
             "{\"es_id\":\"44010000000009\",\"state\":\"revoked\","
             "\"since\":\"2023-11-14T22:13:20Z\",\"reason\":5}]}");
    assert_non_null(strstr(json, want));
    assert_int_equal(strcmp(json + json_len - strlen(want), want), 0);
    assert_non_null(strstr(json, "\"sig_alg\":\"1.2.156.10197.1.501\","
                                 "\"sm2_id\":\"1234567812345678\","
                                 "\"signer_cert\":\""));
    assert_null(strchr(json, '\n'));
    /* verify: with and without anchors */
    root = t_x509(ca_der, ca_len);
    trust = X509_STORE_new();
    X509_STORE_add_cert(trust, root);
    empty = X509_STORE_new();
    assert_int_equal(statuslist_verify((const uint8_t *)json, json_len, sig,
                                       sig_len, trust, now, &list, &e),
                     ERR_OK);
    hit = statuslist_find(list, "44010000000005");
    assert_non_null(hit);
    assert_string_equal(json_string_value(json_object_get(hit, "state")),
                        "suspended");
    assert_null(statuslist_find(list, "44010000000001"));
    assert_non_null(statuslist_find(list, "44010000000009"));
    assert_non_null(statuslist_find(list, "44010000000002"));
    json_decref(list);
    list = NULL;
    assert_int_equal(statuslist_verify((const uint8_t *)json, json_len, sig,
                                       sig_len, NULL, now, &list, &e),
                     ERR_OK);
    json_decref(list);
    list = NULL;
    assert_int_equal(statuslist_verify((const uint8_t *)json, json_len, sig,
                                       sig_len, empty, now, &list, &e),
                     ERR_INVALID);
    /* stale, and not yet valid */
    assert_int_equal(statuslist_verify((const uint8_t *)json, json_len, sig,
                                       sig_len, NULL, now + 86400 * 2, &list,
                                       &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "out of date"));
    assert_int_equal(statuslist_verify((const uint8_t *)json, json_len, sig,
                                       sig_len, NULL, now - 3600, &list, &e),
                     ERR_INVALID);
    /* any changed byte breaks the signature */
    {
        char *c = strstr(json, "suspended");
        c[0] = 'S';
        assert_int_equal(statuslist_verify((const uint8_t *)json, json_len,
                                           sig, sig_len, NULL, now, &list,
                                           &e), ERR_INVALID);
        assert_non_null(strstr(e.msg, "signature"));
        c[0] = 's';
    }
    assert_int_equal(statuslist_verify((const uint8_t *)json, json_len - 1,
                                       sig, sig_len, NULL, now, &list, &e),
                     ERR_MALFORMED);
    assert_null(list);
    t_out_bytes("list.json", json, json_len);
    t_out_bytes("list.sig", sig, sig_len);
    pub = t_pub(&maker);
    t_out_pub("list-pub.pem", pub);
    EVP_PKEY_free(pub);
    free(json);
    json = NULL;

    /* refusals of the builder */
    en[2].es_id = "44010000000002";           /* duplicate */
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    en[2].es_id = "44010000000005";
    en[0].reason = 7;
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    en[0].reason = 0;
    en[0].state = "Revoked";
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    en[0].state = "revoked";
    en[1].since = p.this_update + 1;          /* in the future */
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    en[1].since = 1700000100;
    p.next_update = p.this_update;
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    p.next_update = now + 86400;
    p.signer_cert = ca_der;                   /* not the signing key */
    p.signer_cert_len = ca_len;
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    assert_null(json);
    /* an empty list is fine */
    p.signer_cert = m_der;
    p.signer_cert_len = m_len;
    p.n_entries = 0;
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_OK);
    assert_non_null(strstr(json, "\"entries\":[]}"));
    assert_int_equal(statuslist_verify((const uint8_t *)json, json_len, sig,
                                       sig_len, trust, now, &list, &e),
                     ERR_OK);
    json_decref(list);
    free(json);
    X509_free(root);
    X509_STORE_free(trust);
    X509_STORE_free(empty);
    free(ca_der);
    free(m_der);
}

/* A part in the middle of a list: its range bounds its entries and what it
 * answers for; the builder and the verifier refuse inconsistent parts. */
static void test_parts(void **state)
{
    char caid[CUSTODY_ID_HEX_MAX], mid[CUSTODY_ID_HEX_MAX];
    struct ca_key ca, maker;
    uint8_t *ca_der = NULL, *m_der = NULL, sig[CA_SIG_MAX];
    size_t ca_len = 0, m_len = 0, sig_len = 0, json_len = 0;
    char *json = NULL, *c;
    time_t now = time(NULL);
    struct statuslist_entry en[2] = {
        { "44010000000003", "revoked", 1700000000,
          STATUSLIST_REASON_CESSATION },
        { "44010000000005", "expired", 1700000100,
          STATUSLIST_REASON_UNSPECIFIED },
    };
    struct statuslist_params p;
    json_t *list = NULL;
    struct err e = { 0 };

    (void)state;
    t_make_root(caid, &ca, &ca_der, &ca_len);
    t_make_holder(&ca, ca_der, ca_len, "seald maker", now - 60,
                  now + 86400 * 30, mid, &maker, &m_der, &m_len);
    memset(&p, 0, sizeof p);
    p.number = 9;
    p.this_update = now - 10;
    p.next_update = now + 86400;
    p.part = 1;
    p.parts = 3;
    p.total = 7;
    p.range_after = "44010000000002";
    p.range_until = "44010000000005";
    p.expired_before = now - 86400 * 365;
    p.entries = en;
    p.n_entries = 2;
    p.signer_cert = m_der;
    p.signer_cert_len = m_len;
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_OK);
    assert_non_null(strstr(json, "\"part\":1,\"parts\":3,\"total\":7,"
                                 "\"range_after\":\"44010000000002\","
                                 "\"range_until\":\"44010000000005\","));
    assert_int_equal(statuslist_verify((const uint8_t *)json, json_len, sig,
                                       sig_len, NULL, now, &list, &e),
                     ERR_OK);
    /* in range and not expired before the cut-off: answered */
    assert_true(statuslist_covers(list, "44010000000004", now + 86400));
    assert_null(statuslist_find(list, "44010000000004"));
    assert_true(statuslist_covers(list, "44010000000005", now));
    assert_non_null(statuslist_find(list, "44010000000005"));
    /* the bounds: after is exclusive, until inclusive */
    assert_false(statuslist_covers(list, "44010000000002", now));
    assert_false(statuslist_covers(list, "44010000000006", now));
    assert_false(statuslist_covers(list, "5", now));
    /* a seal that expired before the cut-off: the part does not say */
    assert_false(statuslist_covers(list, "44010000000004",
                                   now - 86400 * 366));
    assert_true(statuslist_covers(list, "44010000000004",
                                  now - 86400 * 364));
    json_decref(list);
    list = NULL;
    /* the range is signed: widening it breaks the signature */
    c = strstr(json, "\"range_until\":\"44010000000005\"");
    c[strlen("\"range_until\":\"4401000000000")] = '9';
    assert_int_equal(statuslist_verify((const uint8_t *)json, json_len, sig,
                                       sig_len, NULL, now, &list, &e),
                     ERR_INVALID);
    assert_null(list);
    free(json);
    json = NULL;
    /* the builder refuses inconsistent parts */
    en[0].es_id = "44010000000001";           /* outside the range */
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    en[0].es_id = "44010000000003";
    p.part = 3;                               /* part >= parts */
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    p.part = 2;                               /* the last part is open */
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    p.part = 0;                               /* the first part too */
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    p.part = 1;
    p.total = 1;                              /* fewer than listed */
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    p.total = 7;
    p.expired_before = p.this_update + 1;     /* cut-off in the future */
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    p.expired_before = now - 86400 * 365;
    p.range_after = "44010000000005";         /* empty range */
    assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                      &sig_len, &e), ERR_INVALID);
    assert_null(json);
    /* esIDs may hold '"' and '\\': written escaped, read back the same */
    {
        struct statuslist_entry odd = { "A\"B\\C", "revoked", 1700000000,
                                        STATUSLIST_REASON_CESSATION };
        memset(&p, 0, sizeof p);
        p.number = 1;
        p.this_update = now - 10;
        p.next_update = now + 86400;
        p.entries = &odd;
        p.n_entries = 1;
        p.signer_cert = m_der;
        p.signer_cert_len = m_len;
        assert_int_equal(statuslist_build(&maker, &p, &json, &json_len, sig,
                                          &sig_len, &e), ERR_OK);
        assert_non_null(strstr(json, "\"es_id\":\"A\\\"B\\\\C\""));
        assert_int_equal(statuslist_verify((const uint8_t *)json, json_len,
                                           sig, sig_len, NULL, now, &list,
                                           &e), ERR_OK);
        assert_non_null(statuslist_find(list, "A\"B\\C"));
        json_decref(list);
        free(json);
    }
    free(ca_der);
    free(m_der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_verify),
        cmocka_unit_test(test_parts),
    };
    return cmocka_run_group_tests(tests, t_token_setup, t_token_teardown);
}
