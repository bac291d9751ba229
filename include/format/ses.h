/*
 * ses.h - electronic seals and seal signatures: GB/T 38540 (v4),
 * GM/T 0031-2025 (v5) and GM/T 0031-2014 (v1, decode and verify only).
 *
 * Also GB/T 35275 SignedData (the detached or attached signature of OFD
 * Type="Sign" signatures), decoded and verified, never written.
 *
 * Decoding turns DER into a flat, bounded view (struct ses_seal /
 * struct ses_signature / struct ses_signed_data) whose byte slices point
 * into memory owned by the decoded object; everything is released by
 * ses_seal_free / ses_signature_free / ses_signed_data_free.
 * Building writes strict DER (v4/v5) and signs through an sm2_signer_fn, so the
 * private key never enters this library.  Verification produces a jansson
 * report (see ses_verify_*).
 */
#ifndef SEALD_SES_H
#define SEALD_SES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

#include "err.h"
#include "sm2.h"

/* Limits on hostile input. */
#define SES_MAX_DER         (8u * 1024u * 1024u) /* whole seal / signature   */
#define SES_MAX_CERTS       32                   /* entries in certList      */
#define SES_MAX_CERT_DER    (32u * 1024u)        /* one certificate          */
#define SES_MAX_EXTS        32                   /* ExtData entries          */
#define SES_MAX_EXT_VALUE   (64u * 1024u)        /* one extnValue            */
#define SES_MAX_PICTURE     (4u * 1024u * 1024u) /* picture data             */
#define SES_MAX_STRING      512                  /* IA5/UTF8 text fields     */
#define SES_MAX_TIMESTAMP   (64u * 1024u)        /* timeStamp token          */
#define SES_MAX_HASH        64                   /* dataHash bytes           */
#define SES_MAX_SIGVALUE    SM2_SIG_IN_MAX       /* signature BIT STRING     */
#define SES_MAX_DIGEST_TYPE 32                   /* CertDigestObj.type       */
#define SES_MAX_TRUST_FILES 256                  /* anchors read from a dir  */
#define SES_MAX_TRUST_FILE  (256u * 1024u)       /* one anchor file          */
#define SES_MAX_ATTRS       16                   /* attributes of a signer   */

enum ses_format { SES_FMT_V1 = 1, SES_FMT_V4 = 4, SES_FMT_V5 = 5 };
enum ses_kind { SES_KIND_UNKNOWN = 0, SES_KIND_SEAL, SES_KIND_SIGNATURE,
                SES_KIND_SIGNED_DATA };

/* GB/T 35275 ContentInfo types (signedData, data) and the SM2 signature
 * algorithm OID some SignerInfos name instead of SM2-with-SM3. */
#define SES_OID_SIGNED_DATA "1.2.156.10197.6.1.4.2.2"
#define SES_OID_DATA        "1.2.156.10197.6.1.4.2.1"
#define SES_OID_SM2_SIGN    "1.2.156.10197.1.301.1"  /* sm2-1 signature */

/* A byte slice owned by the decoded object it came from. */
struct ses_bytes {
    const uint8_t *p;
    size_t len;
};

struct ses_ext {
    char oid[128];
    int critical;               /* 1, 0, or -1 when absent on the wire */
    struct ses_bytes value;
};

struct ses_certref {
    struct ses_bytes der;       /* certs: DER certificate; digests: value */
    char digest_type[SES_MAX_DIGEST_TYPE + 1]; /* digests only */
};

struct ses_seal {
    int format;                 /* enum ses_format, by structure        */
    long header_version;        /* as written in SES_Header             */
    char header_id[SES_MAX_STRING + 1];
    char vid[SES_MAX_STRING + 1];
    char es_id[SES_MAX_STRING + 1];
    char name[SES_MAX_STRING + 1];
    long type;
    long cert_list_type;        /* 1 certs, 2 digests (v1: 1)           */
    size_t n_certs;
    struct ses_certref certs[SES_MAX_CERTS];
    time_t create_date, valid_start, valid_end;
    char picture_type[SES_MAX_STRING + 1];
    struct ses_bytes picture;
    long picture_width, picture_height;
    size_t n_ext;
    struct ses_ext ext[SES_MAX_EXTS];
    struct ses_bytes maker_cert;
    char sig_alg[128];
    struct ses_bytes sig_value;
    struct ses_bytes signed_part; /* exact bytes the maker signed        */
    int has_timestamp;
    struct ses_bytes timestamp;
    /* private */
    void *asn1_;
    int owns_asn1_;
    uint8_t *owned_signed_;
};

struct ses_signature {
    int format;                 /* enum ses_format, by structure        */
    long version;
    struct ses_seal seal;       /* the embedded seal                    */
    int time_info_ok;
    time_t time_info;
    char time_info_text[64];
    struct ses_bytes data_hash;
    char property_info[SES_MAX_STRING + 1];
    size_t n_ext;
    struct ses_ext ext[SES_MAX_EXTS];
    struct ses_bytes signer_cert;
    char sig_alg[128];
    struct ses_bytes sig_value;
    struct ses_bytes tbs;       /* exact bytes of TBS_Sign               */
    int has_timestamp;
    struct ses_bytes timestamp;
    /* private */
    void *asn1_;
};

/* Seal, SES signature or GB/T 35275 SignedData?  Decided from structure
 * (and, for SignedData, its ContentInfo type) only; never fails. */
enum ses_kind ses_sniff(const uint8_t *der, size_t len);

/* Decode a seal (v1/v4/v5).  *out is allocated; free with ses_seal_free.
 * ERR_MALFORMED for bad DER, ERR_TOO_LARGE for a limit exceeded. */
err_code ses_seal_decode(const uint8_t *der, size_t len, struct ses_seal **out,
                         struct err *e);
void ses_seal_free(struct ses_seal *s);

/* Decode a signature (v1/v4/v5), including its seal. */
err_code ses_signature_decode(const uint8_t *der, size_t len,
                              struct ses_signature **out, struct err *e);
void ses_signature_free(struct ses_signature *s);

/*
 * A GB/T 35275 SignedData with exactly one SignerInfo.  What the signer
 * signed is signed_attrs when has_signed_attrs (then messageDigest must be
 * SM3 of the content), else the content itself; the content is content
 * when has_content (attached), else data the caller supplies (detached;
 * for OFD the bytes of Signature.xml).
 */
struct ses_signed_data {
    char content_type[128];         /* inner ContentInfo type OID          */
    int has_content;
    struct ses_bytes content;       /* encapsulated content octets         */
    size_t n_certs;                 /* certificates carried                */
    struct ses_bytes signer_cert;   /* DER of the certificate matching the
                                       SignerInfo's issuer and serial; len
                                       0 when none of them does            */
    char digest_alg[128];           /* SignerInfo digestAlgorithm OID      */
    char sig_alg[128];              /* digestEncryptionAlgorithm OID       */
    struct ses_bytes sig_value;     /* encryptedDigest (DER or r||s)       */
    int has_signed_attrs;
    struct ses_bytes signed_attrs;  /* the exact attribute bytes of the
                                       file, re-tagged SET OF (0x31) as
                                       they are signed                     */
    int has_message_digest;
    struct ses_bytes message_digest;
    int has_content_type_attr;
    char content_type_attr[128];
    int has_signing_time;
    time_t signing_time;
    /* private */
    void *asn1_;
    uint8_t *owned_attrs_, *owned_cert_;
};

/* Decode a GB/T 35275 SignedData.  *out is allocated; free with
 * ses_signed_data_free.  ERR_MALFORMED for bad DER or a bad attribute,
 * ERR_TOO_LARGE for a limit exceeded, ERR_UNSUPPORTED for other than one
 * SignerInfo. */
err_code ses_signed_data_decode(const uint8_t *der, size_t len,
                                struct ses_signed_data **out, struct err *e);
void ses_signed_data_free(struct ses_signed_data *s);

/* JSON views for `seald inspect`.  NULL only on allocation failure. */
json_t *ses_seal_to_json(const struct ses_seal *s);
json_t *ses_signature_to_json(const struct ses_signature *s);
/* Certificate summary {subject, issuer, serial, not_before, not_after}. */
json_t *ses_cert_to_json(const uint8_t *der, size_t len);

/* Input to ses_seal_build (v4/v5 only). */
struct ses_seal_params {
    int format;                     /* SES_FMT_V4 or SES_FMT_V5 */
    const char *vid, *es_id, *name;
    long type;
    long cert_list_type;            /* 1: certs holds DER certificates,
                                       2: certs holds SM3 digests          */
    const struct ses_bytes *certs;
    size_t n_certs;
    time_t create_date, valid_start, valid_end;
    const char *picture_type;
    struct ses_bytes picture;
    long picture_width, picture_height;
    const struct ses_ext *ext;      /* oid, critical (0/1), value */
    size_t n_ext;
    struct ses_bytes maker_cert;    /* DER; its key signs the seal        */
    const char *signer_id;          /* NULL: SM2_DEFAULT_ID               */
};

/* Build and sign an SESeal.  *der is malloc'ed (caller frees). */
err_code ses_seal_build(const struct ses_seal_params *p, sm2_signer_fn signer,
                        void *signer_ctx, uint8_t **der, size_t *len,
                        struct err *e);

struct ses_sign_tmpl;                /* below */

/* Input to ses_signature_build (v4/v5 only, seal must be v4/v5). */
struct ses_sign_params {
    int format;                     /* SES_FMT_V4 or SES_FMT_V5 (TBS version) */
    struct ses_bytes seal;          /* DER SESeal, embedded byte for byte     */
    time_t time_info;
    struct ses_bytes data_hash;     /* normally SM3 of the document           */
    const char *property_info;
    const struct ses_ext *ext;
    size_t n_ext;
    struct ses_bytes signer_cert;
    const char *signer_id;
    const struct ses_sign_tmpl *tmpl; /* optional (borrowed): seal and
                                       signer_cert prepared once for many
                                       signatures; seal and signer_cert
                                       must be the bytes it was made from */
    int trust_signer;               /* 1: do not verify the signer's value
                                       (sm2_sign_ex); 0: always verify    */
};

/*
 * A seal and its signer certificate prepared once for building many
 * signatures: the SESeal decoded (to be re-emitted byte for byte) and the
 * certificate's SM2 key.  Read-only once made, so one template serves any
 * number of threads at once.  *out is the caller's (ses_sign_tmpl_free).
 * ERR_MALFORMED / ERR_INVALID as ses_signature_build would give.
 */
err_code ses_sign_tmpl_new(const struct ses_bytes *seal,
                           const struct ses_bytes *signer_cert,
                           struct ses_sign_tmpl **out, struct err *e);
void ses_sign_tmpl_free(struct ses_sign_tmpl *t);

err_code ses_signature_build(const struct ses_sign_params *p,
                             sm2_signer_fn signer, void *signer_ctx,
                             uint8_t **der, size_t *len, struct err *e);

/* Verification options. */
struct ses_verify_opts {
    const uint8_t *data;            /* document bytes, or NULL */
    size_t data_len;
    const uint8_t *hash;            /* SM3 of the document, or NULL */
    size_t hash_len;
    const char *trust_dir;          /* anchors (PEM/DER files), or NULL */
    X509_STORE *trust_store;        /* preloaded anchors (borrowed; wins
                                       over trust_dir), or NULL          */
    const char *signer_id;          /* NULL: SM2_DEFAULT_ID */
    X509_STORE *tsa_store;          /* TSA trust anchors for timestamp
                                       tokens (borrowed), or NULL: a token
                                       is then at best indeterminate     */
    time_t claimed_time;            /* SignedData only: the signing time the
                                       signed data itself states (an OFD
                                       SignatureDateTime), used when the
                                       signer gave no signingTime; 0: none */
};

/*
 * Load every certificate in the PEM/DER files of dir (at most
 * SES_MAX_TRUST_FILES files of SES_MAX_TRUST_FILE bytes) as trust anchors,
 * with the SM2 ID id (NULL: default) attached for SM2 certificate checks.
 * *out is the caller's (X509_STORE_free); *count the anchors loaded.
 * ERR_IO when dir cannot be read, ERR_NOMEM.
 */
err_code ses_trust_load(const char *dir, const char *id, X509_STORE **out,
                        int *count, struct err *e);

/*
 * The same from one PEM bundle (or a single DER certificate) in memory:
 * buf[len], borrowed.  *out is the caller's (X509_STORE_free); *count the
 * anchors loaded (at most SES_MAX_CERTS).  ERR_NOMEM.
 */
err_code ses_trust_load_pem(const uint8_t *buf, size_t len, const char *id,
                            X509_STORE **out, int *count, struct err *e);

/*
 * Does leaf (borrowed; its SM2 ID is set to id, NULL: default) chain to an
 * anchor of store at time at, by the store's own parameters (a purpose set
 * on it holds)?  1: it does; 0: it does not, and why[cap] gets OpenSSL's
 * reason ("certificate has expired", "unable to get local issuer
 * certificate", ...).  The same check as a verification report's
 * certificate_chain.
 */
int ses_chain_verify(X509_STORE *store, X509 *leaf, time_t at,
                     const char *id, char *why, size_t cap);

/*
 * Verification reports: {"indication", "sub_indication", "validation_time",
 * "validation_time_source", "checks": {name: {"status", "reason"}},
 * "seal": {...}, "signer": {...}}.  Returns NULL only on allocation failure
 * (err set).  Every check is run and reported independently.
 */
json_t *ses_verify_signature(const struct ses_signature *s,
                             const struct ses_verify_opts *o, struct err *e);
json_t *ses_verify_seal(const struct ses_seal *s,
                        const struct ses_verify_opts *o, struct err *e);
/*
 * Precomputed, time-independent part of a signature verification for one
 * (seal, signer certificate, trust store, SM2 ID): the parsed signer and
 * maker certificates, the maker's signature over the seal, the certificate
 * chains built and verified WITHOUT a time check (with the validity window
 * of every chain, applied later at the signature's validation time), and
 * the certificate summaries.  Immutable once made, so one result may be
 * shared by threads (the caller counts references).  For verification
 * caches: ses_verify_signature_pre() then adds the signer's signature over
 * TBS_Sign, dataHash, the time-dependent checks and the seal constraints,
 * which are never cached.
 */
struct ses_seal_result;

/* Make the result for seal s->seal and signer certificate s->signer_cert
 * under o (trust_store or trust_dir, signer_id).  *out is the caller's
 * (ses_seal_result_free).  ERR_NOMEM only: bad certificates are results. */
err_code ses_seal_result_new(const struct ses_signature *s,
                             const struct ses_verify_opts *o,
                             struct ses_seal_result **out, struct err *e);
void ses_seal_result_free(struct ses_seal_result *r);

/* As ses_verify_signature, with the seal and chain work taken from pre
 * (borrowed, read only; made by ses_seal_result_new for the same seal,
 * signer certificate and options).  Same report shape. */
json_t *ses_verify_signature_pre(const struct ses_signature *s,
                                 const struct ses_seal_result *pre,
                                 const struct ses_verify_opts *o,
                                 struct err *e);

/*
 * Verify a GB/T 35275 SignedData: the report has the shape above with kind
 * "signed_data" and the checks structure, signature (SM2 of the signer
 * certificate over what it signed, SM2 ID o->signer_id), data_hash (the
 * document binding: an attached content must be the document or its SM3,
 * and messageDigest must be SM3 of the content; o->data is the document,
 * or o->hash its SM3), signer_certificate_validity and certificate_chain
 * (against the anchors, as for seals: no anchor is indeterminate), at the
 * validation time: signingTime, else o->claimed_time, else now.
 */
json_t *ses_verify_signed_data(const struct ses_signed_data *s,
                               const struct ses_verify_opts *o,
                               struct err *e);

/* ---- RFC 3161 timestamps of signatures (ses_ts.c) ----------------------
 * What is timestamped is the signature value (the bytes of SES_Signature's
 * signature BIT STRING), hashed with SM3 (default) or SHA-256. */

/* The digest for a configured hash name ("sm3" or NULL, "sha256"); NULL
 * for anything else. */
const EVP_MD *ses_ts_md(const char *name);

/* One query: its DER (malloc'ed), nonce and imprint.  Free with
 * ses_ts_query_free. */
struct ses_ts_query {
    uint8_t      *der;
    size_t        len;
    uint8_t       nonce[8];
    uint8_t       imprint[EVP_MAX_MD_SIZE];
    size_t        imprint_len;
    const EVP_MD *md;
};

/* A TimeStampReq over sig_value (len bytes) with hash ("sm3"/"sha256"),
 * a random 63-bit nonce and certReq set.  ERR_INVALID for another hash. */
err_code ses_ts_query_new(const uint8_t *sig_value, size_t len,
                          const char *hash, struct ses_ts_query *q,
                          struct err *e);
void ses_ts_query_free(struct ses_ts_query *q);

enum ses_ts_result { SES_TS_PASSED, SES_TS_FAILED, SES_TS_INDETERMINATE };

/* What a token says and why it passed or not. */
struct ses_ts_info {
    int         parsed;          /* a TSTInfo was read                   */
    int         imprint_failed;  /* parsed, imprint is not the value's   */
    time_t      gen_time;        /* when parsed                          */
    const char *hash;            /* imprint algorithm: "sm3", "sha256"   */
    char        tsa[256];        /* subject of the token's first cert    */
    char        reason[ERR_MSG_MAX];
};

/*
 * Verify a timestamp token (DER ContentInfo, len bytes) of sig_value:
 * SES_TS_FAILED when it is not a token, its imprint is not the hash of
 * sig_value, or the TSA's signature over it does not verify (with the
 * token's own certificates; the signer must carry the timeStamping
 * extended key usage); SES_TS_INDETERMINATE when it is sound but its TSA
 * certificate does not chain to anchors (NULL: no anchors); SES_TS_PASSED
 * otherwise.  The chain is checked at the current time.  *info is filled
 * in every case.
 */
enum ses_ts_result ses_ts_token_verify(const uint8_t *token, size_t len,
                                       const struct ses_bytes *sig_value,
                                       X509_STORE *anchors,
                                       struct ses_ts_info *info);

/* The token of a TSA's reply (len bytes) to q over sig_value: status
 * granted, nonce q's, and the token verifies against anchors
 * (ses_ts_token_verify PASSED).  *token (malloc'ed, caller frees) and
 * *info on ERR_OK; ERR_MALFORMED / ERR_INVALID otherwise. */
err_code ses_ts_reply_token(const struct ses_ts_query *q,
                            const struct ses_bytes *sig_value,
                            const uint8_t *reply, size_t len,
                            X509_STORE *anchors, uint8_t **token,
                            size_t *token_len, struct ses_ts_info *info,
                            struct err *e);

/* ---- seald as a TSA: the TimeStampResp of a query (ses_tsa.c) ---------
 * The key never enters this process: the signer callback gets the digest
 * of the DER of the signed attributes (SM3 for an SM2 key, e = SM3(attrs)
 * without the GM/T 0009 Z value, as OpenSSL's PKCS7/CMS verifiers check
 * it; SHA-256 for ECDSA P-256) and returns a DER signature. */
#define SES_TSA_QUERY_MAX 4096       /* a TimeStampReq's bytes, at most */

typedef err_code (*ses_tsa_signer_fn)(void *ctx, const uint8_t dgst[32],
                                      uint8_t *sig, size_t *sig_len,
                                      struct err *e);

struct ses_tsa_params {
    const uint8_t    *cert;          /* the TSA certificate (DER)        */
    size_t            cert_len;
    int               sm2;           /* 1: SM2/SM3, 0: ECDSA/SHA-256     */
    const char       *policy;        /* TSAPolicyId, dotted              */
    time_t            now;           /* genTime                          */
    ses_tsa_signer_fn sign;
    void             *sign_ctx;      /* sig capacity: SM2_SIG_IN_MAX     */
};

/*
 * The TimeStampResp (DER, *out malloc'ed, caller frees) to the
 * TimeStampReq query (len bytes).  A query that is not one, asks for a
 * hash other than SM3 or SHA-256, another policy or an extension gets a
 * rejection (status 2, failInfo badDataFormat, badAlg, unacceptedPolicy,
 * unacceptedExtension; *granted 0) and ERR_OK: that is the TSA's answer.
 * A granted one has genTime p->now, a random 128-bit serial, p->policy,
 * the query's imprint and nonce, the certificate when certReq, and is
 * signed by p->sign over signedAttrs contentType, messageDigest and
 * signingCertificateV2 (SHA-256 of the certificate).  Errors only when we
 * fail (the signer, memory, a bad policy OID: ERR_CONFIG).
 */
err_code ses_tsa_respond(const uint8_t *query, size_t len,
                         const struct ses_tsa_params *p, uint8_t **out,
                         size_t *out_len, int *granted, struct err *e);

/* A copy of the signature value of the SES_Signature der (*val malloc'ed,
 * caller frees).  ERR_CONFLICT when it carries a timestamp already. */
err_code ses_signature_value(const uint8_t *der, size_t len, uint8_t **val,
                             size_t *val_len, struct err *e);

/* der (an SES_Signature without timeStamp) with token appended as its
 * timeStamp [0] EXPLICIT BIT STRING: *out malloc'ed, caller frees.  The
 * signed part is unchanged (timeStamp is outside TBS_Sign). */
err_code ses_signature_add_timestamp(const uint8_t *der, size_t len,
                                     const uint8_t *token, size_t token_len,
                                     uint8_t **out, size_t *out_len,
                                     struct err *e);

/* Report for input that could not be decoded at all (FORMAT_FAILURE). */
json_t *ses_report_format_failure(const char *what, const char *reason);
/* 0 TOTAL_PASSED, 1 TOTAL_FAILED, 2 INDETERMINATE. */
int ses_report_exit_code(const json_t *report);

#endif
