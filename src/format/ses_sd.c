/*
 * ses_sd.c - owns decoding of GB/T 35275 SignedData (the ASN.1 templates of
 * ses_asn1.c) into the bounded flat view struct ses_signed_data of ses.h,
 * and its structural sniffing.  Verification is in ses_verify.c.
 *
 * The signed attributes are taken from the SignerInfo's ORIGINAL encoding
 * (kept by ASN1_SEQUENCE_enc), never re-encoded: what is verified is the
 * bytes the signer signed, with only the [0] IMPLICIT tag turned back into
 * the SET OF tag, as PKCS #7 (and so GB/T 35275) defines the signed input.
 */
#include "ses.h"
#include "ses_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#define SD_TAG_SET       0x31
#define SD_TAG_ATTRS     0xa0        /* [0] IMPLICIT, constructed */

/* Contract: see ses_int.h. */
int ses_sd_sniff(const uint8_t *der, size_t len)
{
    ASN1_OBJECT *want = OBJ_txt2obj(SES_OID_SIGNED_DATA, 1);
    const unsigned char *p;
    ASN1_OBJECT *got = NULL;
    uint8_t tag;
    size_t hdr, clen, h2, c2;
    int ok = 0;

    if (want == NULL)
        return 0;
    if (ses_der_tlv(der, len, &tag, &hdr, &clen) && tag == 0x30 &&
        ses_der_tlv(der + hdr, clen, &tag, &h2, &c2) && tag == 0x06) {
        p = der + hdr;
        got = d2i_ASN1_OBJECT(NULL, &p, (long)(h2 + c2));
        ok = got != NULL && OBJ_cmp(got, want) == 0;
    }
    ASN1_OBJECT_free(got);
    ASN1_OBJECT_free(want);
    ERR_clear_error();
    return ok;
}

static void oid_text(char dst[128], const ASN1_OBJECT *o)
{
    dst[0] = '\0';
    if (o == NULL || OBJ_obj2txt(dst, 128, o, 1) <= 0)
        dst[0] = '\0';
}

/* The exact bytes of the signed attributes inside the SignerInfo's
 * encoding, copied with the SET OF tag into *out (malloc'ed). */
static err_code attrs_bytes(const SD_SIGNER *si, uint8_t **out, size_t *len,
                            struct err *e)
{
    const uint8_t *p = si->enc.enc;
    size_t avail = si->enc.len > 0 ? (size_t)si->enc.len : 0, hdr, clen, off;
    uint8_t tag;
    int field;

    *out = NULL;
    if (p == NULL || !ses_der_tlv(p, avail, &tag, &hdr, &clen) ||
        tag != 0x30)
        return err_set(e, ERR_MALFORMED, "SignerInfo encoding unavailable");
    off = hdr;
    /* version, issuerAndSerialNumber, digestAlgorithm, then [0] */
    for (field = 0; field < 4; field++) {
        size_t h, c;

        if (!ses_der_tlv(p + off, hdr + clen - off, &tag, &h, &c))
            return err_set(e, ERR_MALFORMED, "SignerInfo does not decode");
        if (field == 3) {
            if (tag != SD_TAG_ATTRS)
                return err_set(e, ERR_MALFORMED, "signed attributes not "
                               "where SignerInfo puts them");
            *out = malloc(h + c);
            if (*out == NULL)
                return err_set(e, ERR_NOMEM, "out of memory");
            memcpy(*out, p + off, h + c);
            (*out)[0] = SD_TAG_SET;
            *len = h + c;
            return ERR_OK;
        }
        off += h + c;
    }
    return err_set(e, ERR_MALFORMED, "SignerInfo does not decode");
}

/* The single value of attribute a of type want, or NULL (malformed). */
static const ASN1_TYPE *attr_value(X509_ATTRIBUTE *a, int want)
{
    const ASN1_TYPE *t;

    if (X509_ATTRIBUTE_count(a) != 1)
        return NULL;
    t = X509_ATTRIBUTE_get0_type(a, 0);
    return t != NULL && t->type == want ? t : NULL;
}

/* contentType, messageDigest and signingTime from the signed attributes;
 * each may appear once, with one value of its type. */
static err_code read_attrs(struct ses_signed_data *s,
                           STACK_OF(X509_ATTRIBUTE) *sk, struct err *e)
{
    int i, n = sk_X509_ATTRIBUTE_num(sk);

    if (n > SES_MAX_ATTRS)
        return err_set(e, ERR_TOO_LARGE, "more than %d signed attributes",
                       SES_MAX_ATTRS);
    for (i = 0; i < n; i++) {
        X509_ATTRIBUTE *a = sk_X509_ATTRIBUTE_value(sk, i);
        int nid = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a));
        const ASN1_TYPE *t;

        if (nid == NID_pkcs9_messageDigest) {
            t = attr_value(a, V_ASN1_OCTET_STRING);
            if (t == NULL || s->has_message_digest ||
                ASN1_STRING_length(t->value.octet_string) > SES_MAX_HASH)
                return err_set(e, ERR_MALFORMED, "bad messageDigest "
                               "attribute");
            s->has_message_digest = 1;
            s->message_digest.p =
                ASN1_STRING_get0_data(t->value.octet_string);
            s->message_digest.len =
                (size_t)ASN1_STRING_length(t->value.octet_string);
        } else if (nid == NID_pkcs9_contentType) {
            t = attr_value(a, V_ASN1_OBJECT);
            if (t == NULL || s->has_content_type_attr)
                return err_set(e, ERR_MALFORMED, "bad contentType "
                               "attribute");
            s->has_content_type_attr = 1;
            oid_text(s->content_type_attr, t->value.object);
        } else if (nid == NID_pkcs9_signingTime) {
            t = attr_value(a, V_ASN1_UTCTIME);
            if (t == NULL)
                t = attr_value(a, V_ASN1_GENERALIZEDTIME);
            if (t == NULL || s->has_signing_time ||
                ses_time_get(&s->signing_time, (const ASN1_TIME *)
                             t->value.asn1_string, "signingTime", e) !=
                    ERR_OK)
                return err_set(e, ERR_MALFORMED, "bad signingTime "
                               "attribute");
            s->has_signing_time = 1;
        }
    }
    return ERR_OK;
}

/* The certificates: bounded, and the one the SignerInfo names (issuer and
 * serial) kept as DER. */
static err_code read_certs(struct ses_signed_data *s, const SD_SIGNED *sd,
                           const SD_ISSUER_SERIAL *is, struct err *e)
{
    int i, n = sd->certs ? sk_X509_num(sd->certs) : 0, len;
    unsigned char *der = NULL;

    if (n > SES_MAX_CERTS)
        return err_set(e, ERR_TOO_LARGE, "more than %d certificates",
                       SES_MAX_CERTS);
    s->n_certs = (size_t)n;
    for (i = 0; i < n; i++) {
        X509 *x = sk_X509_value(sd->certs, i);

        if (X509_NAME_cmp(X509_get_issuer_name(x), is->issuer) != 0 ||
            ASN1_INTEGER_cmp(X509_get0_serialNumber(x), is->serial) != 0)
            continue;
        len = i2d_X509(x, &der);
        if (len <= 0)
            return err_set(e, ERR_MALFORMED, "signer certificate does not "
                           "encode");
        if ((size_t)len > SES_MAX_CERT_DER) {
            OPENSSL_free(der);
            return err_set(e, ERR_TOO_LARGE, "signer certificate larger "
                           "than %u bytes", SES_MAX_CERT_DER);
        }
        s->owned_cert_ = malloc((size_t)len);
        if (s->owned_cert_ == NULL) {
            OPENSSL_free(der);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        memcpy(s->owned_cert_, der, (size_t)len);
        OPENSSL_free(der);
        s->signer_cert.p = s->owned_cert_;
        s->signer_cert.len = (size_t)len;
        break;
    }
    return ERR_OK;
}

/* Fill the flat view from the decoded templates. */
static err_code fill(struct ses_signed_data *s, const SD_CONTENTINFO *ci,
                     struct err *e)
{
    const SD_SIGNED *sd = ci->signed_data;
    const SD_SIGNER *si;
    const ASN1_OBJECT *alg;
    char outer[128];
    err_code rc;
    int n = sk_SD_SIGNER_num(sd->signers);

    oid_text(outer, ci->type);
    if (strcmp(outer, SES_OID_SIGNED_DATA) != 0)
        return err_set(e, ERR_MALFORMED, "not a GB/T 35275 SignedData");
    if (n != 1)
        return err_set(e, ERR_UNSUPPORTED, "%d SignerInfos; one is "
                       "supported", n);
    si = sk_SD_SIGNER_value(sd->signers, 0);
    oid_text(s->content_type, sd->content->type);
    if (sd->content->data != NULL) {
        s->has_content = 1;
        s->content.p = ASN1_STRING_get0_data(sd->content->data);
        s->content.len = (size_t)ASN1_STRING_length(sd->content->data);
    }
    X509_ALGOR_get0(&alg, NULL, NULL, si->digest_alg);
    oid_text(s->digest_alg, alg);
    X509_ALGOR_get0(&alg, NULL, NULL, si->sig_alg);
    oid_text(s->sig_alg, alg);
    if (ASN1_STRING_length(si->sig) <= 0 ||
        (size_t)ASN1_STRING_length(si->sig) > SES_MAX_SIGVALUE)
        return err_set(e, ERR_MALFORMED, "encryptedDigest of %d bytes",
                       ASN1_STRING_length(si->sig));
    s->sig_value.p = ASN1_STRING_get0_data(si->sig);
    s->sig_value.len = (size_t)ASN1_STRING_length(si->sig);
    if ((rc = read_certs(s, sd, si->issuer_serial, e)) != ERR_OK)
        return rc;
    if (si->signed_attrs == NULL)
        return ERR_OK;
    s->has_signed_attrs = 1;
    if ((rc = attrs_bytes(si, &s->owned_attrs_, &s->signed_attrs.len, e)) !=
        ERR_OK)
        return rc;
    s->signed_attrs.p = s->owned_attrs_;
    return read_attrs(s, si->signed_attrs, e);
}

/* Contract: see ses.h. */
err_code ses_signed_data_decode(const uint8_t *der, size_t len,
                                struct ses_signed_data **out, struct err *e)
{
    struct ses_signed_data *s = NULL;
    const unsigned char *p = der;
    SD_CONTENTINFO *ci = NULL;
    err_code rc = ERR_OK;

    *out = NULL;
    if (len > SES_MAX_DER) {
        rc = err_set(e, ERR_TOO_LARGE, "SignedData larger than %u bytes",
                     SES_MAX_DER);
        goto done;
    }
    ci = d2i_SD_CONTENTINFO(NULL, &p, (long)len);
    if (ci == NULL || p != der + len) {
        rc = err_set(e, ERR_MALFORMED, "GB/T 35275 SignedData does not "
                     "decode");
        goto done;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    s->asn1_ = ci;
    ci = NULL;
    rc = fill(s, s->asn1_, e);
done:
    ERR_clear_error();
    SD_CONTENTINFO_free(ci);
    if (rc != ERR_OK) {
        ses_signed_data_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

/* Contract: NULL-safe. */
void ses_signed_data_free(struct ses_signed_data *s)
{
    if (s == NULL)
        return;
    free(s->owned_attrs_);
    free(s->owned_cert_);
    SD_CONTENTINFO_free(s->asn1_);
    free(s);
}
