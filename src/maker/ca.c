/*
 * ca.c - seald's local CA and PKCS#10 requests through key custody
 * (issue 6); see include/maker/ca.h.
 *
 * Owns: building X.509 certificates and requests around PUBLIC keys only,
 * signing their to-be-signed DER through custody (ca_sign), assembling the
 * signed DER, and the checks on certificates imported from an external CA.
 * Nothing here creates or loads a private key.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "util.h"

_Static_assert(CA_SIG_MAX >= SM2_SIG_DER_MAX && CA_SIG_MAX >= CUSTODY_SIG_MAX,
               "CA_SIG_MAX holds every signature custody and sm2_sign write");

/* ---- signing ------------------------------------------------------------ */

/* Contract: see ca.h. */
err_code ca_custody_signer(void *ctx, const uint8_t e[SM3_DIGEST_LEN],
                           uint8_t *sig, size_t *sig_len, struct err *err)
{
    const struct ca_key *k = ctx;

    /* sig has SM2_SIG_IN_MAX bytes, more than CUSTODY_SIG_MAX */
    return custody_sign_e(k->custody, k->token, k->key_id, e, sig, sig_len,
                          err);
}

/* Signature algorithm NID for k's token and its public key (*pub is the
 * caller's).  ERR_NOT_FOUND for an unknown token. */
static err_code key_alg(const struct ca_key *k, int *nid, EVP_PKEY **pub,
                        struct err *e)
{
    int sm2;

    *pub = NULL;
    if (k == NULL || k->custody == NULL || k->token == NULL ||
        k->key_id == NULL)
        return err_set(e, ERR_INVALID, "no signing key given");
    sm2 = custody_token_is_sm2(k->custody, k->token);
    if (sm2 < 0)
        return err_set(e, ERR_NOT_FOUND, "unknown token %s", k->token);
    *nid = sm2 ? NID_SM2_with_SM3 : NID_ecdsa_with_SHA256;
    return custody_public_key(k->custody, k->token, k->key_id, pub, e);
}

/* ECDSA-SHA256 of msg through custody, verified with pub. */
static err_code sign_ecdsa(const struct ca_key *k, EVP_PKEY *pub,
                           const uint8_t *msg, size_t len,
                           uint8_t sig[CA_SIG_MAX], size_t *sig_len,
                           struct err *e)
{
    err_code rc;
    uint8_t dgst[32], tmp[CUSTODY_SIG_MAX];
    size_t tl = 0;
    unsigned int dl = 0;
    EVP_MD_CTX *md = NULL;

    if (!EVP_Digest(msg, len, dgst, &dl, EVP_sha256(), NULL) || dl != 32) {
        rc = err_set(e, ERR_CRYPTO, "SHA-256 failed");
        goto done;
    }
    rc = custody_sign_digest(k->custody, k->token, k->key_id, dgst, tmp, &tl,
                             e);
    if (rc != ERR_OK)
        goto done;
    md = EVP_MD_CTX_new();
    if (md == NULL ||
        EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) != 1 ||
        EVP_DigestVerify(md, tmp, tl, msg, len) != 1 || tl > CA_SIG_MAX) {
        rc = err_set(e, ERR_CRYPTO,
                     "token returned an ECDSA signature that does not verify");
        goto done;
    }
    memcpy(sig, tmp, tl);
    *sig_len = tl;
done:
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    return rc;
}

/* Contract: see ca.h. */
err_code ca_sign(const struct ca_key *k, const uint8_t *msg, size_t len,
                 uint8_t sig[CA_SIG_MAX], size_t *sig_len, int *alg_nid,
                 struct err *e)
{
    err_code rc;
    EVP_PKEY *pub = NULL;

    rc = key_alg(k, alg_nid, &pub, e);
    if (rc != ERR_OK)
        goto done;
    if (*alg_nid == NID_SM2_with_SM3)
        rc = sm2_sign(pub, CA_SM2_ID, msg, len, ca_custody_signer, (void *)k,
                      sig, sig_len, e);
    else
        rc = sign_ecdsa(k, pub, msg, len, sig, sig_len, e);
done:
    EVP_PKEY_free(pub);
    return rc;
}

/* ---- DER assembly ------------------------------------------------------- */

/* DER length octets of n into b (at most 5 bytes); returns their count. */
static size_t der_len(size_t n, uint8_t b[5])
{
    size_t i, k = 0;

    if (n < 0x80) {
        b[0] = (uint8_t)n;
        return 1;
    }
    for (i = n; i > 0; i >>= 8)
        k++;
    b[0] = (uint8_t)(0x80 | k);
    for (i = 0; i < k; i++)
        b[k - i] = (uint8_t)(n >> (8 * i));
    return k + 1;
}

/*
 * SEQUENCE { tbs, AlgorithmIdentifier { nid } (no parameters),
 * BIT STRING { 0 unused bits, sig } }: the shape shared by Certificate and
 * CertificationRequest.  *out is malloc'ed (caller frees).
 */
static err_code assemble(const uint8_t *tbs, size_t tbs_len, int nid,
                         const uint8_t *sig, size_t sig_len, uint8_t **out,
                         size_t *out_len, struct err *e)
{
    err_code rc = ERR_OK;
    X509_ALGOR *alg = X509_ALGOR_new();
    uint8_t *algd = NULL, *buf = NULL, lb[5], sb[5];
    int an;
    size_t ll, sl, body, pos = 0;

    *out = NULL;
    if (alg == NULL ||
        !X509_ALGOR_set0(alg, OBJ_nid2obj(nid), V_ASN1_UNDEF, NULL) ||
        (an = i2d_X509_ALGOR(alg, &algd)) <= 0) {
        rc = err_set(e, ERR_CRYPTO, "cannot encode the signature algorithm");
        goto done;
    }
    if (tbs_len > CA_MAX_DER) {
        rc = err_set(e, ERR_TOO_LARGE, "to-be-signed part too large");
        goto done;
    }
    sl = der_len(sig_len + 1, sb);
    body = tbs_len + (size_t)an + 1 + sl + 1 + sig_len;
    ll = der_len(body, lb);
    buf = malloc(1 + ll + body);
    if (buf == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    buf[pos++] = 0x30;
    memcpy(buf + pos, lb, ll);
    pos += ll;
    memcpy(buf + pos, tbs, tbs_len);
    pos += tbs_len;
    memcpy(buf + pos, algd, (size_t)an);
    pos += (size_t)an;
    buf[pos++] = 0x03;
    memcpy(buf + pos, sb, sl);
    pos += sl;
    buf[pos++] = 0x00;
    memcpy(buf + pos, sig, sig_len);
    pos += sig_len;
    *out = buf;
    *out_len = pos;
    buf = NULL;
done:
    ERR_clear_error();
    free(buf);
    OPENSSL_free(algd);
    X509_ALGOR_free(alg);
    return rc;
}

/* Attach the SM2 distinguishing ID used for certificate signatures. */
static int cert_set_id(X509 *x)
{
    ASN1_OCTET_STRING *d = ASN1_OCTET_STRING_new();

    if (d == NULL || !ASN1_OCTET_STRING_set(d, (const unsigned char *)CA_SM2_ID,
                                            (int)strlen(CA_SM2_ID))) {
        ASN1_OCTET_STRING_free(d);
        return 0;
    }
    X509_set0_distinguishing_id(x, d);
    return 1;
}

/* Same for a request (r owns the ID).  1 ok, 0 out of memory. */
static int req_set_id(X509_REQ *r)
{
    ASN1_OCTET_STRING *d = ASN1_OCTET_STRING_new();

    if (d == NULL || !ASN1_OCTET_STRING_set(d, (const unsigned char *)CA_SM2_ID,
                                            (int)strlen(CA_SM2_ID))) {
        ASN1_OCTET_STRING_free(d);
        return 0;
    }
    X509_REQ_set0_distinguishing_id(r, d);
    return 1;
}

/* ---- names, serials, times ---------------------------------------------- */

/* Append field nid = v (UTF-8, bounded) to n; "" / NULL adds nothing. */
static err_code name_add(X509_NAME *n, int nid, const char *v, struct err *e)
{
    size_t len;

    if (v == NULL || v[0] == '\0')
        return ERR_OK;
    len = strnlen(v, CA_NAME_FIELD_MAX + 1);
    if (len > CA_NAME_FIELD_MAX)
        return err_set(e, ERR_INVALID, "%s longer than %d bytes",
                       OBJ_nid2sn(nid), CA_NAME_FIELD_MAX);
    if (!X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8,
                                    (const unsigned char *)v, (int)len, -1,
                                    0)) {
        ERR_clear_error();
        return err_set(e, ERR_INVALID, "%s is not valid for a name",
                       OBJ_nid2sn(nid));
    }
    return ERR_OK;
}

/* X509_NAME of s; *out is the caller's (X509_NAME_free). */
static err_code name_build(const struct ca_subject *s, X509_NAME **out,
                           struct err *e)
{
    err_code rc = ERR_OK;
    X509_NAME *n = NULL;

    *out = NULL;
    if (s == NULL || s->cn == NULL || s->cn[0] == '\0')
        return err_set(e, ERR_INVALID, "subject CN is required");
    if (s->c != NULL && s->c[0] != '\0' &&
        (strlen(s->c) != 2 || s->c[0] < 'A' || s->c[0] > 'Z' ||
         s->c[1] < 'A' || s->c[1] > 'Z'))
        return err_set(e, ERR_INVALID, "country must be 2 capital letters");
    n = X509_NAME_new();
    if (n == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = name_add(n, NID_countryName, s->c, e)) != ERR_OK ||
        (rc = name_add(n, NID_stateOrProvinceName, s->st, e)) != ERR_OK ||
        (rc = name_add(n, NID_localityName, s->l, e)) != ERR_OK ||
        (rc = name_add(n, NID_organizationName, s->o, e)) != ERR_OK ||
        (rc = name_add(n, NID_organizationalUnitName, s->ou, e)) != ERR_OK ||
        (rc = name_add(n, NID_serialNumber, s->serial_number, e)) != ERR_OK ||
        (rc = name_add(n, NID_commonName, s->cn, e)) != ERR_OK)
        goto done;
    *out = n;
    n = NULL;
done:
    X509_NAME_free(n);
    return rc;
}

/* Set the serial of x from bytes (NULL: CA_SERIAL_LEN random, positive). */
static err_code set_serial(X509 *x, const uint8_t *serial, size_t len,
                           struct err *e)
{
    err_code rc = ERR_OK;
    uint8_t r[CA_SERIAL_LEN];
    BIGNUM *bn = NULL;
    ASN1_INTEGER *ai = NULL;

    if (serial == NULL) {
        rc = util_random(r, sizeof(r), e);
        if (rc != ERR_OK)
            goto done;
        r[0] = (uint8_t)((r[0] & 0x7f) | 0x40);   /* positive, full length */
        serial = r;
        len = sizeof(r);
    } else if (len == 0 || len > 20) {
        rc = err_set(e, ERR_INVALID, "serial must be 1..20 bytes");
        goto done;
    }
    bn = BN_bin2bn(serial, (int)len, NULL);
    if (bn == NULL || BN_is_zero(bn) ||
        (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
        !X509_set_serialNumber(x, ai)) {
        rc = err_set(e, ERR_INVALID, "cannot set the serial number");
        goto done;
    }
done:
    ERR_clear_error();
    BN_free(bn);
    ASN1_INTEGER_free(ai);
    return rc;
}

/* ASN1_TIME to time_t (UTC).  1 ok, 0 unreadable. */
static int asn1_time_get(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
        return 0;
    *out = timegm(&tm);
    return 1;
}

/* Contract: see ca.h. */
err_code ca_x509_times(const X509 *x, time_t *not_before, time_t *not_after,
                       struct err *e)
{
    err_code rc = ERR_OK;

    if (!asn1_time_get(X509_get0_notBefore(x), not_before) ||
        !asn1_time_get(X509_get0_notAfter(x), not_after))
        rc = err_set(e, ERR_MALFORMED, "certificate validity unreadable");
    ERR_clear_error();
    return rc;
}

err_code ca_cert_times(const uint8_t *der, size_t len, time_t *not_before,
                       time_t *not_after, struct err *e)
{
    err_code rc;
    X509 *x = NULL;

    if (len > CA_MAX_DER)
        return err_set(e, ERR_TOO_LARGE, "certificate too large");
    rc = sm2_cert_parse(der, len, &x, e);
    if (rc != ERR_OK)
        return rc;
    rc = ca_x509_times(x, not_before, not_after, e);
    X509_free(x);
    return rc;
}

/* Add extension nid with OpenSSL config value (e.g. "critical,CA:TRUE"). */
static err_code add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value,
                        struct err *e)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    int ok = ext != NULL && X509_add_ext(x, ext, -1);

    X509_EXTENSION_free(ext);
    ERR_clear_error();
    if (!ok)
        return err_set(e, ERR_CRYPTO, "cannot add extension %s",
                       OBJ_nid2sn(nid));
    return ERR_OK;
}

/*
 * Sign certificate x (all fields set) with k using algorithm nid, assemble
 * it and check the result parses and verifies with issuer_pub.
 */
static err_code cert_finish(const struct ca_key *k, X509 *x, int nid,
                            EVP_PKEY *issuer_pub, uint8_t **der, size_t *len,
                            struct err *e)
{
    err_code rc = ERR_OK;
    /* The TBS carries its own copy of the signature algorithm; OpenSSL
     * has no setter for it outside its signing path, so it is set through
     * the (non-const) field the getter returns. */
    X509_ALGOR *talg = (X509_ALGOR *)X509_get0_tbs_sigalg(x);
    uint8_t *tbs = NULL, sig[CA_SIG_MAX], *out = NULL;
    size_t sig_len = 0, out_len = 0;
    int tl, signed_nid = 0;
    X509 *back = NULL;

    *der = NULL;
    if (!X509_ALGOR_set0(talg, OBJ_nid2obj(nid), V_ASN1_UNDEF, NULL) ||
        (tl = i2d_re_X509_tbs(x, &tbs)) <= 0) {
        rc = err_set(e, ERR_CRYPTO, "cannot encode the certificate");
        goto done;
    }
    rc = ca_sign(k, tbs, (size_t)tl, sig, &sig_len, &signed_nid, e);
    if (rc != ERR_OK)
        goto done;
    if (signed_nid != nid) {
        rc = err_set(e, ERR_INTERNAL, "token algorithm changed");
        goto done;
    }
    rc = assemble(tbs, (size_t)tl, nid, sig, sig_len, &out, &out_len, e);
    if (rc != ERR_OK)
        goto done;
    rc = sm2_cert_parse(out, out_len, &back, e);
    if (rc != ERR_OK)
        goto done;
    if ((nid == NID_SM2_with_SM3 && !cert_set_id(back)) ||
        X509_verify(back, issuer_pub) != 1) {
        rc = err_set(e, ERR_CRYPTO, "certificate made does not verify");
        goto done;
    }
    *der = out;
    *len = out_len;
    out = NULL;
done:
    ERR_clear_error();
    OPENSSL_free(tbs);
    free(out);
    X509_free(back);
    return rc;
}

/* Contract: see ca.h. */
err_code ca_create_root(const struct ca_key *k, const struct ca_subject *subj,
                        int days, uint8_t **der, size_t *len, struct err *e)
{
    err_code rc;
    EVP_PKEY *pub = NULL;
    X509 *x = NULL;
    X509_NAME *name = NULL;
    X509V3_CTX ctx;
    int nid = 0;
    time_t nb = time(NULL) - CA_BACKDATE_SECONDS;

    *der = NULL;
    if (days < 1 || days > CA_ROOT_MAX_DAYS)
        return err_set(e, ERR_INVALID, "CA validity must be 1..%d days",
                       CA_ROOT_MAX_DAYS);
    rc = name_build(subj, &name, e);
    if (rc != ERR_OK)
        goto done;
    rc = key_alg(k, &nid, &pub, e);
    if (rc != ERR_OK)
        goto done;
    x = X509_new();
    if (x == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    rc = set_serial(x, NULL, 0, e);
    if (rc != ERR_OK)
        goto done;
    if (!X509_set_version(x, 2) || !X509_set_subject_name(x, name) ||
        !X509_set_issuer_name(x, name) ||
        !ASN1_TIME_set(X509_getm_notBefore(x), nb) ||
        !ASN1_TIME_set(X509_getm_notAfter(x),
                       nb + (time_t)days * 86400) ||
        !X509_set_pubkey(x, pub)) {
        rc = err_set(e, ERR_CRYPTO, "cannot fill the CA certificate");
        goto done;
    }
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if ((rc = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE",
                      e)) != ERR_OK ||
        (rc = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign",
                      e)) != ERR_OK ||
        (rc = add_ext(x, &ctx, NID_subject_key_identifier, "hash", e)) !=
            ERR_OK)
        goto done;
    rc = cert_finish(k, x, nid, pub, der, len, e);
done:
    ERR_clear_error();
    X509_NAME_free(name);
    X509_free(x);
    EVP_PKEY_free(pub);
    return rc;
}

/* Contract: see ca.h. */
err_code ca_issue(const struct ca_key *k, const uint8_t *ca_der,
                  size_t ca_len, const struct ca_issue_params *p,
                  uint8_t **der, size_t *len, struct err *e)
{
    err_code rc;
    EVP_PKEY *pub = NULL;
    X509 *ca = NULL, *x = NULL;
    X509_NAME *name = NULL;
    X509V3_CTX ctx;
    int nid = 0;
    time_t ca_nb, ca_na;

    *der = NULL;
    if (p == NULL || p->holder_pub == NULL)
        return err_set(e, ERR_INVALID, "no holder public key");
    if (p->not_after <= p->not_before ||
        p->not_after - p->not_before > (time_t)CA_LEAF_MAX_DAYS * 86400)
        return err_set(e, ERR_INVALID,
                       "validity must be positive and at most %d days",
                       CA_LEAF_MAX_DAYS);
    if (ca_len > CA_MAX_DER)
        return err_set(e, ERR_TOO_LARGE, "CA certificate too large");
    rc = name_build(p->subject, &name, e);
    if (rc != ERR_OK)
        goto done;
    rc = sm2_cert_parse(ca_der, ca_len, &ca, e);
    if (rc != ERR_OK)
        goto done;
    if (X509_check_ca(ca) < 1) {
        rc = err_set(e, ERR_INVALID, "issuer certificate is not a CA");
        goto done;
    }
    if (!asn1_time_get(X509_get0_notBefore(ca), &ca_nb) ||
        !asn1_time_get(X509_get0_notAfter(ca), &ca_na) ||
        p->not_before < ca_nb || p->not_after > ca_na) {
        rc = err_set(e, ERR_INVALID,
                     "validity is outside the CA certificate's");
        goto done;
    }
    rc = key_alg(k, &nid, &pub, e);
    if (rc != ERR_OK)
        goto done;
    if (EVP_PKEY_eq(X509_get0_pubkey(ca), pub) != 1) {
        rc = err_set(e, ERR_INVALID,
                     "CA certificate does not hold the CA key");
        goto done;
    }
    x = X509_new();
    if (x == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    rc = set_serial(x, p->serial, p->serial_len, e);
    if (rc != ERR_OK)
        goto done;
    if (!X509_set_version(x, 2) || !X509_set_subject_name(x, name) ||
        !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
        !ASN1_TIME_set(X509_getm_notBefore(x), p->not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), p->not_after) ||
        !X509_set_pubkey(x, p->holder_pub)) {
        rc = err_set(e, ERR_INVALID, "cannot fill the certificate");
        goto done;
    }
    X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
    if ((rc = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE",
                      e)) != ERR_OK ||
        (rc = add_ext(x, &ctx, NID_key_usage,
                      "critical,digitalSignature,nonRepudiation", e)) !=
            ERR_OK ||
        (rc = add_ext(x, &ctx, NID_subject_key_identifier, "hash", e)) !=
            ERR_OK ||
        (rc = add_ext(x, &ctx, NID_authority_key_identifier, "keyid", e)) !=
            ERR_OK ||
        (p->ext_key_usage != NULL &&
         (rc = add_ext(x, &ctx, NID_ext_key_usage, p->ext_key_usage, e)) !=
             ERR_OK))
        goto done;
    rc = cert_finish(k, x, nid, pub, der, len, e);
done:
    ERR_clear_error();
    X509_NAME_free(name);
    X509_free(x);
    X509_free(ca);
    EVP_PKEY_free(pub);
    return rc;
}

/* Contract: see ca.h. */
err_code ca_csr_create(const struct ca_key *k, const struct ca_subject *subj,
                    uint8_t **der, size_t *len, struct err *e)
{
    err_code rc;
    EVP_PKEY *pub = NULL;
    X509_REQ *req = NULL, *back = NULL;
    X509_NAME *name = NULL;
    uint8_t *tbs = NULL, sig[CA_SIG_MAX], *out = NULL;
    size_t sig_len = 0, out_len = 0;
    const unsigned char *q;
    int nid = 0, signed_nid = 0, tl;

    *der = NULL;
    rc = name_build(subj, &name, e);
    if (rc != ERR_OK)
        goto done;
    rc = key_alg(k, &nid, &pub, e);
    if (rc != ERR_OK)
        goto done;
    req = X509_REQ_new();
    if (req == NULL || !X509_REQ_set_version(req, 0) ||
        !X509_REQ_set_subject_name(req, name) ||
        !X509_REQ_set_pubkey(req, pub) ||
        (tl = i2d_re_X509_REQ_tbs(req, &tbs)) <= 0) {
        rc = err_set(e, ERR_CRYPTO, "cannot encode the request");
        goto done;
    }
    rc = ca_sign(k, tbs, (size_t)tl, sig, &sig_len, &signed_nid, e);
    if (rc != ERR_OK)
        goto done;
    rc = assemble(tbs, (size_t)tl, signed_nid, sig, sig_len, &out, &out_len,
                  e);
    if (rc != ERR_OK)
        goto done;
    q = out;
    back = d2i_X509_REQ(NULL, &q, (long)out_len);
    if (back == NULL || q != out + out_len ||
        (signed_nid == NID_SM2_with_SM3 && !req_set_id(back)) ||
        X509_REQ_verify(back, pub) != 1) {
        rc = err_set(e, ERR_CRYPTO, "request made does not verify");
        goto done;
    }
    *der = out;
    *len = out_len;
    out = NULL;
done:
    ERR_clear_error();
    OPENSSL_free(tbs);
    free(out);
    X509_REQ_free(req);
    X509_REQ_free(back);
    X509_NAME_free(name);
    EVP_PKEY_free(pub);
    return rc;
}

/* ---- import ------------------------------------------------------------- */

/* Contract: see ca.h. */
err_code ca_import_check(const uint8_t *cert, size_t cert_len,
                         EVP_PKEY *expected, X509_STORE *anchors,
                         STACK_OF(X509) *untrusted, time_t now,
                         struct err *e)
{
    err_code rc;
    X509 *x = NULL;
    X509_STORE_CTX *ctx = NULL;
    time_t nb, na;
    int i;

    if (cert_len > CA_MAX_DER)
        return err_set(e, ERR_TOO_LARGE, "certificate too large");
    rc = sm2_cert_parse(cert, cert_len, &x, e);
    if (rc != ERR_OK)
        goto done;
    if (expected == NULL || EVP_PKEY_eq(X509_get0_pubkey(x), expected) != 1) {
        rc = err_set(e, ERR_INVALID,
                     "certificate does not hold the seal's public key");
        goto done;
    }
    if (!asn1_time_get(X509_get0_notBefore(x), &nb) ||
        !asn1_time_get(X509_get0_notAfter(x), &na)) {
        rc = err_set(e, ERR_MALFORMED, "certificate validity unreadable");
        goto done;
    }
    if (now < nb || now > na) {
        rc = err_set(e, ERR_INVALID, "certificate is not valid now");
        goto done;
    }
    if (X509_check_ca(x) != 0) {
        rc = err_set(e, ERR_INVALID, "certificate is a CA certificate");
        goto done;
    }
    if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) &&
        !(X509_get_key_usage(x) & (KU_DIGITAL_SIGNATURE |
                                   KU_NON_REPUDIATION))) {
        rc = err_set(e, ERR_INVALID,
                     "certificate key usage does not allow signing");
        goto done;
    }
    if (anchors == NULL) {
        rc = err_set(e, ERR_INVALID, "no trust anchors configured");
        goto done;
    }
    /* SM2 signatures in the chain are checked with the default ID; the
     * ID is set only where the signature is SM2 (others refuse an ID). */
    if (X509_get_signature_nid(x) == NID_SM2_with_SM3 && !cert_set_id(x)) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    for (i = 0; untrusted != NULL && i < sk_X509_num(untrusted); i++) {
        X509 *c = sk_X509_value(untrusted, i);
        if (X509_get_signature_nid(c) == NID_SM2_with_SM3 &&
            !cert_set_id(c)) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    ctx = X509_STORE_CTX_new();
    if (ctx == NULL || !X509_STORE_CTX_init(ctx, anchors, x, untrusted)) {
        rc = err_set(e, ERR_CRYPTO, "cannot set up the chain check");
        goto done;
    }
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), now);
    if (X509_verify_cert(ctx) != 1) {
        rc = err_set(e, ERR_INVALID, "certificate chain: %s",
                     X509_verify_cert_error_string(
                         X509_STORE_CTX_get_error(ctx)));
        goto done;
    }
done:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_free(x);
    return rc;
}

/* Contract: see ca.h. */
err_code ca_cert_load(const uint8_t *buf, size_t len, uint8_t **leaf_der,
                      size_t *leaf_len, STACK_OF(X509) **chain,
                      struct err *e)
{
    err_code rc = ERR_OK;
    BIO *b = NULL;
    X509 *x = NULL, *leaf = NULL;
    STACK_OF(X509) *sk = NULL;
    uint8_t *d = NULL;
    int n, count = 0;

    *leaf_der = NULL;
    if (chain != NULL)
        *chain = NULL;
    if (len == 0 || len > CA_MAX_PEM)
        return err_set(e, ERR_TOO_LARGE, "certificate input size %zu", len);
    if (len >= 11 && memmem(buf, len, "-----BEGIN", 10) != NULL) {
        b = BIO_new_mem_buf(buf, (int)len);
        sk = sk_X509_new_null();
        if (b == NULL || sk == NULL) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto done;
        }
        while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
            if (++count > CA_MAX_CHAIN) {
                rc = err_set(e, ERR_TOO_LARGE, "more than %d certificates",
                             CA_MAX_CHAIN);
                goto done;
            }
            if (leaf == NULL) {
                leaf = x;
            } else if (!sk_X509_push(sk, x)) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto done;
            }
            x = NULL;
        }
        if (leaf == NULL) {
            rc = err_set(e, ERR_MALFORMED, "no certificate in PEM input");
            goto done;
        }
    } else {
        rc = sm2_cert_parse(buf, len, &leaf, e);
        if (rc != ERR_OK)
            goto done;
    }
    n = i2d_X509(leaf, &d);
    if (n <= 0 || (size_t)n > CA_MAX_DER) {
        rc = err_set(e, ERR_MALFORMED, "certificate cannot be encoded");
        goto done;
    }
    *leaf_der = malloc((size_t)n);
    if (*leaf_der == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(*leaf_der, d, (size_t)n);
    *leaf_len = (size_t)n;
    if (chain != NULL) {
        *chain = sk != NULL ? sk : sk_X509_new_null();
        sk = NULL;
        if (*chain == NULL) {
            free(*leaf_der);
            *leaf_der = NULL;
            rc = err_set(e, ERR_NOMEM, "out of memory");
        }
    }
done:
    ERR_clear_error();
    OPENSSL_free(d);
    X509_free(x);
    X509_free(leaf);
    sk_X509_pop_free(sk, X509_free);
    BIO_free(b);
    return rc;
}

/* Contract: see ca.h. */
err_code ca_der_to_pem(const char *label, const uint8_t *der, size_t len,
                       char **pem, struct err *e)
{
    err_code rc = ERR_OK;
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    *pem = NULL;
    if (b == NULL || len > CA_MAX_DER ||
        PEM_write_bio(b, label, "", der, (long)len) <= 0 ||
        (n = BIO_get_mem_data(b, &p)) <= 0) {
        rc = err_set(e, ERR_CRYPTO, "cannot write PEM");
        goto done;
    }
    *pem = malloc((size_t)n + 1);
    if (*pem == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(*pem, p, (size_t)n);
    (*pem)[n] = '\0';
done:
    ERR_clear_error();
    BIO_free(b);
    return rc;
}
