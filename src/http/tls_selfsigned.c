/*
 * tls_selfsigned.c - the self-signed TLS server certificate that `seald init`
 * writes for a development instance (localhost, 127.0.0.1, ::1).
 *
 * The TLS key is the one private key seald ever has in memory: it protects
 * transport only, libmicrohttpd's GnuTLS backend needs it as a file, and it
 * is made with GnuTLS so that no seal-key code path can create keys.  See
 * docs/design.md, "Keys".  Production instances use a certificate from the
 * operator's CA instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tls_selfsigned.h"
#include "util.h"

#define TLS_VALID_DAYS 825
#define TLS_PEM_MAX    (16 * 1024)

err_code
tls_selfsigned_write(const char *cert_path, const char *key_path,
                     struct err *e)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    unsigned char serial[16], ip4[4] = {127, 0, 0, 1};
    unsigned char ip6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    unsigned char *pem = NULL;
    size_t pem_len;
    time_t now = time(NULL);
    err_code rc = ERR_OK;

    if (gnutls_x509_privkey_init(&key) < 0 ||
        gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
            GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
        gnutls_x509_crt_init(&crt) < 0) {
        rc = err_set(e, ERR_CRYPTO, "cannot generate TLS key");
        goto done;
    }
    if ((rc = util_random(serial, sizeof(serial), e)) != ERR_OK)
        goto done;
    serial[0] &= 0x7f;
    if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
        gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
        gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
        gnutls_x509_crt_set_expiration_time(crt,
            now + (time_t)TLS_VALID_DAYS * 86400) < 0 ||
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                      "localhost", 9) < 0 ||
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME,
                                      0, "seald development instance",
                                      26) < 0 ||
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME,
                                             "localhost", 9,
                                             GNUTLS_FSAN_APPEND) < 0 ||
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip4,
                                             4, GNUTLS_FSAN_APPEND) < 0 ||
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip6,
                                             16, GNUTLS_FSAN_APPEND) < 0 ||
        gnutls_x509_crt_set_key(crt, key) < 0 ||
        gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
        gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER,
                                            0) < 0 ||
        gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0) {
        rc = err_set(e, ERR_CRYPTO, "cannot build TLS certificate");
        goto done;
    }
    if ((pem = malloc(TLS_PEM_MAX)) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    pem_len = TLS_PEM_MAX;
    if (gnutls_x509_privkey_export(key, GNUTLS_X509_FMT_PEM, pem, &pem_len)
        < 0) {
        rc = err_set(e, ERR_CRYPTO, "cannot export TLS key");
        goto done;
    }
    if ((rc = util_write_file(key_path, pem, pem_len, 0600, e)) != ERR_OK)
        goto done;
    util_wipe(pem, TLS_PEM_MAX);
    pem_len = TLS_PEM_MAX;
    if (gnutls_x509_crt_export(crt, GNUTLS_X509_FMT_PEM, pem, &pem_len) < 0) {
        rc = err_set(e, ERR_CRYPTO, "cannot export TLS certificate");
        goto done;
    }
    rc = util_write_file(cert_path, pem, pem_len, 0644, e);
done:
    if (pem != NULL)
        util_wipe(pem, TLS_PEM_MAX);
    free(pem);
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    if (key != NULL)
        gnutls_x509_privkey_deinit(key);
    return rc;
}
