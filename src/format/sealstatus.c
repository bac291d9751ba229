/*
 * sealstatus.c - the signed seal status statement (issue 17); the format is
 * described in include/format/sealstatus.h and docs/status-format.md.
 *
 * Owns: the ASN.1 templates of SealStatus and TBSSealStatus, writing the
 * to-be-signed DER from a struct sstatus, assembling the signed statement
 * around a signature made through custody by the caller, and decoding a
 * statement with the check of its signature against the certificate it
 * carries.  No key, no policy on what a status means.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "sealstatus.h"

/* TBSSealStatus keeps its received encoding (ASN1_SEQUENCE_enc): the
 * signature is checked over the bytes that were signed. */
typedef struct {
    ASN1_ENCODING      enc;
    ASN1_INTEGER      *version;
    ASN1_IA5STRING    *es_id;
    ASN1_OCTET_STRING *seal_hash;
    ASN1_ENUMERATED   *status;
    ASN1_GENERALIZEDTIME *status_time;  /* [0] EXPLICIT, optional */
    ASN1_ENUMERATED   *reason;          /* [1] EXPLICIT, optional */
    ASN1_GENERALIZEDTIME *this_update;
    ASN1_GENERALIZEDTIME *next_update;
    X509              *signer_cert;
} SSTATUS_TBS;

typedef struct {
    SSTATUS_TBS     *tbs;
    X509_ALGOR      *alg;
    ASN1_BIT_STRING *sig;
} SSTATUS;

DECLARE_ASN1_FUNCTIONS(SSTATUS_TBS)
DECLARE_ASN1_FUNCTIONS(SSTATUS)

ASN1_SEQUENCE_enc(SSTATUS_TBS, enc, NULL) = {
    ASN1_SIMPLE(SSTATUS_TBS, version, ASN1_INTEGER),
    ASN1_OPT(SSTATUS_TBS, es_id, ASN1_IA5STRING),
    ASN1_OPT(SSTATUS_TBS, seal_hash, ASN1_OCTET_STRING),
    ASN1_SIMPLE(SSTATUS_TBS, status, ASN1_ENUMERATED),
    ASN1_EXP_OPT(SSTATUS_TBS, status_time, ASN1_GENERALIZEDTIME, 0),
    ASN1_EXP_OPT(SSTATUS_TBS, reason, ASN1_ENUMERATED, 1),
    ASN1_SIMPLE(SSTATUS_TBS, this_update, ASN1_GENERALIZEDTIME),
    ASN1_SIMPLE(SSTATUS_TBS, next_update, ASN1_GENERALIZEDTIME),
    ASN1_SIMPLE(SSTATUS_TBS, signer_cert, X509),
} ASN1_SEQUENCE_END_enc(SSTATUS_TBS, SSTATUS_TBS)
IMPLEMENT_ASN1_FUNCTIONS(SSTATUS_TBS)

ASN1_SEQUENCE(SSTATUS) = {
    ASN1_SIMPLE(SSTATUS, tbs, SSTATUS_TBS),
    ASN1_SIMPLE(SSTATUS, alg, X509_ALGOR),
    ASN1_SIMPLE(SSTATUS, sig, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(SSTATUS)
IMPLEMENT_ASN1_FUNCTIONS(SSTATUS)

static const char *const state_names[SSTATUS__COUNT] = {
    "active", "suspended", "lost", "revoked", "expired", "unknown",
};

/* RFC 5280 CRLReason names; 7 is unused. */
static const char *const reason_names[SSTATUS_REASON_MAX + 1] = {
    "unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
    "superseded", "cessationOfOperation", "certificateHold", NULL,
    "removeFromCRL", "privilegeWithdrawn", "aACompromise",
};

/* Contract: see sealstatus.h. */
const char *sstatus_state_name(enum sstatus_state s)
{
    return (int)s >= 0 && s < SSTATUS__COUNT ? state_names[s] : NULL;
}

/* Contract: see sealstatus.h. */
const char *sstatus_reason_name(int reason)
{
    return reason >= 0 && reason <= SSTATUS_REASON_MAX
               ? reason_names[reason] : NULL;
}

/* esIDs: 1..SSTATUS_ESID_MAX visible ASCII characters. */
static int esid_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > SSTATUS_ESID_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* The checks shared by encoding and decoding on the plain fields. */
static int fields_ok(const struct sstatus *s)
{
    size_t n = strnlen(s->es_id, sizeof(s->es_id));

    if (n > 0 && !esid_ok(s->es_id, n))
        return 0;
    if (n == 0 && !s->has_hash)
        return 0;
    if ((int)s->status < 0 || s->status >= SSTATUS__COUNT)
        return 0;
    if (s->reason != -1 && sstatus_reason_name(s->reason) == NULL)
        return 0;
    return s->next_update > s->this_update;
}

/* A GeneralizedTime "YYYYMMDDHHMMSSZ" of t. */
static ASN1_GENERALIZEDTIME *gtime(time_t t)
{
    return ASN1_GENERALIZEDTIME_set(NULL, t);
}

/* Contract: see sealstatus.h. */
err_code sstatus_tbs_encode(const struct sstatus *s, uint8_t **tbs,
                            size_t *tbs_len, struct err *e)
{
    err_code rc = ERR_OK;
    SSTATUS_TBS *t = NULL;
    const unsigned char *p;
    unsigned char *out = NULL;
    size_t n;
    int len;

    *tbs = NULL;
    *tbs_len = 0;
    if (s == NULL || !fields_ok(s) || s->cert == NULL || s->cert_len == 0 ||
        s->cert_len > SSTATUS_MAX_DER)
        return err_set(e, ERR_INVALID, "status statement fields are "
                       "invalid");
    n = strnlen(s->es_id, sizeof(s->es_id));
    if ((t = SSTATUS_TBS_new()) == NULL)
        goto nomem;
    if (!ASN1_INTEGER_set(t->version, SSTATUS_VERSION) ||
        !ASN1_ENUMERATED_set(t->status, (long)s->status))
        goto nomem;
    if (n > 0 && ((t->es_id = ASN1_IA5STRING_new()) == NULL ||
                  !ASN1_STRING_set(t->es_id, s->es_id, (int)n)))
        goto nomem;
    if (s->has_hash &&
        ((t->seal_hash = ASN1_OCTET_STRING_new()) == NULL ||
         !ASN1_OCTET_STRING_set(t->seal_hash, s->seal_hash, SM3_DIGEST_LEN)))
        goto nomem;
    if (s->has_time && (t->status_time = gtime(s->status_time)) == NULL)
        goto nomem;
    if (s->reason >= 0 &&
        ((t->reason = ASN1_ENUMERATED_new()) == NULL ||
         !ASN1_ENUMERATED_set(t->reason, s->reason)))
        goto nomem;
    ASN1_GENERALIZEDTIME_free(t->this_update);
    ASN1_GENERALIZEDTIME_free(t->next_update);
    t->this_update = gtime(s->this_update);
    t->next_update = gtime(s->next_update);
    if (t->this_update == NULL || t->next_update == NULL)
        goto nomem;
    X509_free(t->signer_cert);
    p = s->cert;
    t->signer_cert = d2i_X509(NULL, &p, (long)s->cert_len);
    if (t->signer_cert == NULL || p != s->cert + s->cert_len) {
        rc = err_set(e, ERR_INVALID, "the status signer's certificate does "
                     "not parse");
        goto done;
    }
    if ((len = i2d_SSTATUS_TBS(t, &out)) <= 0)
        goto nomem;
    *tbs = out;
    *tbs_len = (size_t)len;
    goto done;
nomem:
    rc = err_set(e, ERR_NOMEM, "cannot encode the status statement");
done:
    ERR_clear_error();
    SSTATUS_TBS_free(t);
    return rc;
}

/* Contract: see sealstatus.h. */
err_code sstatus_assemble(const uint8_t *tbs, size_t tbs_len, int alg_nid,
                          const uint8_t *sig, size_t sig_len, uint8_t **der,
                          size_t *der_len, struct err *e)
{
    err_code rc = ERR_OK;
    SSTATUS *st = NULL;
    const unsigned char *p = tbs;
    unsigned char *out = NULL;
    int len;

    *der = NULL;
    *der_len = 0;
    if (tbs == NULL || tbs_len == 0 || tbs_len > SSTATUS_MAX_DER ||
        sig == NULL || sig_len == 0 || sig_len > SM2_SIG_IN_MAX ||
        (alg_nid != NID_SM2_with_SM3 && alg_nid != NID_ecdsa_with_SHA256))
        return err_set(e, ERR_INVALID, "status statement parts are invalid");
    if ((st = SSTATUS_new()) == NULL)
        goto nomem;
    SSTATUS_TBS_free(st->tbs);
    st->tbs = d2i_SSTATUS_TBS(NULL, &p, (long)tbs_len);
    if (st->tbs == NULL || p != tbs + tbs_len) {
        rc = err_set(e, ERR_INVALID, "not a TBSSealStatus");
        goto done;
    }
    if (!X509_ALGOR_set0(st->alg, OBJ_nid2obj(alg_nid), V_ASN1_UNDEF, NULL) ||
        !ASN1_BIT_STRING_set(st->sig, (unsigned char *)sig, (int)sig_len))
        goto nomem;
    /* no unused bits: the signature is whole bytes */
    st->sig->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    st->sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    if ((len = i2d_SSTATUS(st, &out)) <= 0)
        goto nomem;
    *der = out;
    *der_len = (size_t)len;
    goto done;
nomem:
    rc = err_set(e, ERR_NOMEM, "cannot assemble the status statement");
done:
    ERR_clear_error();
    SSTATUS_free(st);
    return rc;
}

/* t as a time_t; 0 when it is not a GeneralizedTime in UTC. */
static int time_get(const ASN1_GENERALIZEDTIME *t, time_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || ASN1_STRING_type(t) != V_ASN1_GENERALIZEDTIME ||
        ASN1_STRING_length(t) != 15 ||
        ASN1_STRING_get0_data(t)[14] != 'Z' || !ASN1_TIME_to_tm(t, &tm))
        return 0;
    *out = timegm(&tm);
    return 1;
}

/* A small non-negative INTEGER / ENUMERATED value, or -1. */
static long small_value(const ASN1_STRING *v, int enumerated)
{
    long r = enumerated ? ASN1_ENUMERATED_get((const ASN1_ENUMERATED *)v)
                        : ASN1_INTEGER_get((const ASN1_INTEGER *)v);

    return r >= 0 && r < 1000 ? r : -1;
}

/* The signature over tbs with cert's key: SM2 (default ID) or ECDSA. */
static err_code sig_check(X509 *cert, int nid, const uint8_t *tbs,
                          size_t tbs_len, const uint8_t *sig, size_t sig_len,
                          struct err *e)
{
    err_code rc = ERR_OK;
    EVP_MD_CTX *md = NULL;
    int ok = 0;

    if (nid == NID_SM2_with_SM3) {
        rc = sm2_verify_cert(cert, SM2_DEFAULT_ID, tbs, tbs_len, sig,
                             sig_len, &ok, e);
    } else {
        md = EVP_MD_CTX_new();
        ok = md != NULL &&
             EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
                                  X509_get0_pubkey(cert)) == 1 &&
             EVP_DigestVerify(md, sig, sig_len, tbs, tbs_len) == 1;
    }
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    if (rc == ERR_OK && !ok)
        rc = err_set(e, ERR_INVALID, "the status statement's signature does "
                     "not verify");
    return rc;
}

/* Contract: see sealstatus.h. */
err_code sstatus_decode(const uint8_t *der, size_t len, struct sstatus *out,
                        struct err *e)
{
    err_code rc = ERR_OK;
    SSTATUS *st = NULL;
    SSTATUS_TBS *t;
    const unsigned char *p = der;
    unsigned char *tbs = NULL, *cert = NULL;
    const ASN1_OBJECT *obj = NULL;
    int tbs_len, cert_len, ptype = 0;
    long v;

    memset(out, 0, sizeof(*out));
    out->reason = -1;
    if (der == NULL || len == 0 || len > SSTATUS_MAX_DER)
        return err_set(e, ERR_MALFORMED, "status statement size %zu", len);
    st = d2i_SSTATUS(NULL, &p, (long)len);
    if (st == NULL || p != der + len) {
        rc = err_set(e, ERR_MALFORMED, "not a DER SealStatus");
        goto done;
    }
    t = st->tbs;
    /* the signature is whole bytes: no unused bits may hide a change */
    if ((st->sig->flags & 0x07) != 0) {
        rc = err_set(e, ERR_MALFORMED, "status statement signature has "
                     "unused bits");
        goto done;
    }
    if (ASN1_INTEGER_get(t->version) != SSTATUS_VERSION) {
        rc = err_set(e, ERR_UNSUPPORTED, "status statement version %ld",
                     ASN1_INTEGER_get(t->version));
        goto done;
    }
    X509_ALGOR_get0(&obj, &ptype, NULL, st->alg);
    out->alg_nid = OBJ_obj2nid(obj);
    if ((out->alg_nid != NID_SM2_with_SM3 &&
         out->alg_nid != NID_ecdsa_with_SHA256) ||
        (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL)) {
        rc = err_set(e, ERR_UNSUPPORTED, "status statement signature "
                     "algorithm is not SM2-with-SM3 or ecdsa-with-SHA256");
        goto done;
    }
    if (t->es_id != NULL) {
        int n = ASN1_STRING_length(t->es_id);
        if (!esid_ok((const char *)ASN1_STRING_get0_data(t->es_id),
                     (size_t)n)) {
            rc = err_set(e, ERR_MALFORMED, "status statement esID is "
                         "invalid");
            goto done;
        }
        memcpy(out->es_id, ASN1_STRING_get0_data(t->es_id), (size_t)n);
        out->es_id[n] = '\0';
    }
    if (t->seal_hash != NULL) {
        if (ASN1_STRING_length(t->seal_hash) != SM3_DIGEST_LEN) {
            rc = err_set(e, ERR_MALFORMED, "status statement sealHash is "
                         "not an SM3 hash");
            goto done;
        }
        memcpy(out->seal_hash, ASN1_STRING_get0_data(t->seal_hash),
               SM3_DIGEST_LEN);
        out->has_hash = 1;
    }
    v = small_value(t->status, 1);
    out->status = v >= 0 && v < SSTATUS__COUNT ? (enum sstatus_state)v
                                               : SSTATUS__COUNT;
    out->reason = t->reason != NULL ? (int)small_value(t->reason, 1) : -1;
    if ((t->reason != NULL && sstatus_reason_name(out->reason) == NULL) ||
        (t->status_time != NULL &&
         !(out->has_time = time_get(t->status_time, &out->status_time))) ||
        !time_get(t->this_update, &out->this_update) ||
        !time_get(t->next_update, &out->next_update) || !fields_ok(out)) {
        rc = err_set(e, ERR_MALFORMED, "status statement fields are "
                     "invalid");
        goto done;
    }
    if ((tbs_len = i2d_SSTATUS_TBS(t, &tbs)) <= 0 ||
        (cert_len = i2d_X509(t->signer_cert, &cert)) <= 0) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = sig_check(t->signer_cert, out->alg_nid, tbs, (size_t)tbs_len,
                        ASN1_STRING_get0_data(st->sig),
                        (size_t)ASN1_STRING_length(st->sig), e)) != ERR_OK)
        goto done;
    out->cert = cert;
    out->cert_len = (size_t)cert_len;
    cert = NULL;
done:
    ERR_clear_error();
    OPENSSL_free(tbs);
    OPENSSL_free(cert);
    SSTATUS_free(st);
    return rc;
}

/* Contract: see sealstatus.h. */
void sstatus_clear(struct sstatus *s)
{
    if (s == NULL)
        return;
    OPENSSL_free(s->cert);
    s->cert = NULL;
    s->cert_len = 0;
}
