/*
 * ses_asn1.h - internal to the format layer: the OpenSSL ASN.1 template types
 * of GB/T 38540 (v4), GM/T 0031-2025 (v5) and GM/T 0031-2014 (v1) seals and
 * signatures.  Only src/ses*.c include this; the public view is ses.h.
 *
 * SES_SEALINFO, SES_SEALINFO_V1, SES_SIGNINFO_V1, TBS_SIGN and TBS_SIGN_V1 keep
 * their original encoding (ASN1_SEQUENCE_enc) so that signatures are verified
 * over the exact bytes that were signed, never over a re-encoding.
 *
 * Also GB/T 35275 SignedData (SD_*): the structure of PKCS #7 v1.5
 * SignedData under the Chinese OIDs.  SD_SIGNER keeps its encoding, from
 * which ses_sd.c takes the exact bytes of the signed attributes.
 */
#ifndef SEALD_SES_ASN1_H
#define SEALD_SES_ASN1_H

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/safestack.h>
#include <openssl/x509.h>

typedef struct {
    ASN1_IA5STRING *id;
    ASN1_INTEGER *version;
    ASN1_IA5STRING *vid;
} SES_HEADER;

/* ExtData: critical is a plain BOOLEAN field (-1 absent) so that seald
 * always writes it (0 or 0xff) while decoding accepts it absent. */
typedef struct {
    ASN1_OBJECT *extn_id;
    ASN1_BOOLEAN critical;
    ASN1_OCTET_STRING *extn_value;
} SES_EXTDATA;
DEFINE_STACK_OF(SES_EXTDATA)

typedef struct {
    ASN1_PRINTABLESTRING *type;
    ASN1_OCTET_STRING *value;
} SES_CERTDIGEST;

/* certList is kept as SEQUENCE OF ANY: the two CHOICE alternatives of
 * SES_CertList share the SEQUENCE tag, so certListType picks the meaning
 * (OCTET STRING elements = certs, SEQUENCE elements = CertDigestObj). */
typedef struct {
    ASN1_INTEGER *type;
    ASN1_UTF8STRING *name;
    ASN1_INTEGER *cert_list_type;
    STACK_OF(ASN1_TYPE) *cert_list;
    ASN1_TIME *create_date;
    ASN1_TIME *valid_start;
    ASN1_TIME *valid_end;
} SES_PROPERTY;

typedef struct {
    ASN1_INTEGER *type;
    ASN1_UTF8STRING *name;
    STACK_OF(ASN1_TYPE) *cert_list;  /* OCTET STRINGs; dms360 writes IA5 */
    ASN1_TIME *create_date;
    ASN1_TIME *valid_start;
    ASN1_TIME *valid_end;
} SES_PROPERTY_V1;

typedef struct {
    ASN1_IA5STRING *type;
    ASN1_OCTET_STRING *data;
    ASN1_INTEGER *width;
    ASN1_INTEGER *height;
} SES_PICTURE;

typedef struct {
    SES_HEADER *header;
    ASN1_IA5STRING *es_id;
    SES_PROPERTY *property;
    SES_PICTURE *picture;
    STACK_OF(SES_EXTDATA) *ext;
    ASN1_ENCODING enc;
} SES_SEALINFO;

typedef struct {
    SES_HEADER *header;
    ASN1_IA5STRING *es_id;
    SES_PROPERTY_V1 *property;
    SES_PICTURE *picture;
    STACK_OF(SES_EXTDATA) *ext;      /* untagged (seen in real files) */
    STACK_OF(SES_EXTDATA) *ext0;     /* [0] EXPLICIT (the standard)   */
    ASN1_ENCODING enc;
} SES_SEALINFO_V1;

typedef struct {
    SES_SEALINFO *info;
    ASN1_OCTET_STRING *cert;
    ASN1_OBJECT *alg;
    ASN1_BIT_STRING *value;
    ASN1_BIT_STRING *timestamp;      /* v5 only */
    ASN1_ENCODING enc;               /* embedded verbatim into TBS_Sign */
} SES_SEAL;

typedef struct {
    ASN1_OCTET_STRING *cert;
    ASN1_OBJECT *alg;
    ASN1_BIT_STRING *value;
    ASN1_ENCODING enc;
} SES_SIGNINFO_V1;

typedef struct {
    SES_SEALINFO_V1 *info;
    SES_SIGNINFO_V1 *sign;
} SES_SEAL_V1;

typedef struct {
    ASN1_INTEGER *version;
    SES_SEAL *seal;
    ASN1_TIME *time_info;
    ASN1_BIT_STRING *data_hash;
    ASN1_IA5STRING *property_info;
    STACK_OF(SES_EXTDATA) *ext;
    ASN1_ENCODING enc;
} SES_TBS;

typedef struct {
    SES_TBS *tbs;
    ASN1_OCTET_STRING *cert;
    ASN1_OBJECT *alg;
    ASN1_BIT_STRING *value;
    ASN1_BIT_STRING *timestamp;
} SES_SIG;

typedef struct {
    ASN1_INTEGER *version;
    SES_SEAL_V1 *seal;
    ASN1_BIT_STRING *time_info;
    ASN1_BIT_STRING *data_hash;
    ASN1_IA5STRING *property_info;
    ASN1_OCTET_STRING *cert;
    ASN1_OBJECT *alg;
    ASN1_ENCODING enc;
} SES_TBS_V1;

typedef struct {
    SES_TBS_V1 *tbs;
    ASN1_BIT_STRING *value;
} SES_SIG_V1;

/* ---- GB/T 35275 SignedData ---- */

/* Inner ContentInfo: content [0] EXPLICIT OCTET STRING, absent when the
 * signed data travels separately (detached). */
typedef struct {
    ASN1_OBJECT *type;
    ASN1_OCTET_STRING *data;
} SD_CONTENT;

typedef struct {
    X509_NAME *issuer;
    ASN1_INTEGER *serial;
} SD_ISSUER_SERIAL;

typedef struct {
    ASN1_INTEGER *version;
    SD_ISSUER_SERIAL *issuer_serial;
    X509_ALGOR *digest_alg;
    STACK_OF(X509_ATTRIBUTE) *signed_attrs;    /* [0] IMPLICIT SET OF */
    X509_ALGOR *sig_alg;                       /* digestEncryptionAlg */
    ASN1_OCTET_STRING *sig;                    /* encryptedDigest     */
    STACK_OF(X509_ATTRIBUTE) *unsigned_attrs;  /* [1] IMPLICIT SET OF */
    ASN1_ENCODING enc;
} SD_SIGNER;
DEFINE_STACK_OF(SD_SIGNER)

typedef struct {
    ASN1_INTEGER *version;
    STACK_OF(X509_ALGOR) *digest_algs;
    SD_CONTENT *content;
    STACK_OF(X509) *certs;                     /* [0] IMPLICIT SET OF */
    STACK_OF(ASN1_TYPE) *crls;                 /* [1] IMPLICIT, unused */
    STACK_OF(SD_SIGNER) *signers;
} SD_SIGNED;

/* Outer ContentInfo: type 1.2.156.10197.6.1.4.2.2, [0] EXPLICIT SignedData. */
typedef struct {
    ASN1_OBJECT *type;
    SD_SIGNED *signed_data;
} SD_CONTENTINFO;

DECLARE_ASN1_FUNCTIONS(SD_CONTENT)
DECLARE_ASN1_FUNCTIONS(SD_ISSUER_SERIAL)
DECLARE_ASN1_FUNCTIONS(SD_SIGNER)
DECLARE_ASN1_FUNCTIONS(SD_SIGNED)
DECLARE_ASN1_FUNCTIONS(SD_CONTENTINFO)

DECLARE_ASN1_FUNCTIONS(SES_HEADER)
DECLARE_ASN1_FUNCTIONS(SES_EXTDATA)
DECLARE_ASN1_FUNCTIONS(SES_CERTDIGEST)
DECLARE_ASN1_FUNCTIONS(SES_PROPERTY)
DECLARE_ASN1_FUNCTIONS(SES_PROPERTY_V1)
DECLARE_ASN1_FUNCTIONS(SES_PICTURE)
DECLARE_ASN1_FUNCTIONS(SES_SEALINFO)
DECLARE_ASN1_FUNCTIONS(SES_SEALINFO_V1)
DECLARE_ASN1_FUNCTIONS(SES_SEAL)
DECLARE_ASN1_FUNCTIONS(SES_SIGNINFO_V1)
DECLARE_ASN1_FUNCTIONS(SES_SEAL_V1)
DECLARE_ASN1_FUNCTIONS(SES_TBS)
DECLARE_ASN1_FUNCTIONS(SES_SIG)
DECLARE_ASN1_FUNCTIONS(SES_TBS_V1)
DECLARE_ASN1_FUNCTIONS(SES_SIG_V1)

#endif
