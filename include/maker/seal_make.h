/*
 * seal_make.h - making seals and seal signatures through key custody
 * (issue 6; seal_sign is used for document signing in issue 7).
 *
 * seal_make builds an SESeal (GB/T 38540 v4 by default, GM/T 0031-2025 v5 by
 * option) with ses_seal_build and signs it with the maker's key in a token;
 * seal_sign builds an SES_Signature with ses_signature_build and signs it
 * with the holder's key.  Both check their inputs against the certificates
 * and the token keys first, and the result is decoded and its signature
 * verified before it is returned.  esIDs come from seal_esid_format.
 */
#ifndef SEALD_SEAL_MAKE_H
#define SEALD_SEAL_MAKE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ca.h"
#include "err.h"
#include "ses.h"

#define SEAL_ESID_MAX         64          /* esID characters              */
#define SEAL_ESID_FMT_MAX     128         /* esID template characters     */
#define SEAL_ESID_DEFAULT_FMT "{region}{seq:08}"
#define SEAL_REGION_MAX       16          /* region code characters       */
#define SEAL_SEQ_WIDTH_MAX    18          /* {seq:NN} width               */
#define SEAL_NAME_MAX         256         /* seal name bytes (UTF-8)      */
#define SEAL_TYPE_MIN         1
#define SEAL_TYPE_MAX         999
#define SEAL_VID_DEFAULT      "seald"
#define SEAL_MAX_HOLDER_CERTS 8

/*
 * Format an esID from the template fmt (NULL: SEAL_ESID_DEFAULT_FMT) into
 * out (capacity cap; the result is at most SEAL_ESID_MAX characters).
 * Template: literal characters [0-9A-Za-z-_.], "{region}" (region: 1..
 * SEAL_REGION_MAX of [0-9A-Za-z]), "{seq}" (seq in decimal) and
 * "{seq:NN}" (seq zero-padded to NN digits, 1..SEAL_SEQ_WIDTH_MAX; a seq
 * that needs more digits is refused, so codes keep their length).  With the
 * default template and a 6-digit region code the esID has 14 digits.
 * ERR_INVALID for a bad template, region, negative seq or overflow.
 */
err_code seal_esid_format(const char *fmt, const char *region, int64_t seq,
                          char *out, size_t cap, struct err *e);

/* Input of seal_make.  Everything borrowed. */
struct seal_make_params {
    int format;                      /* SES_FMT_V4 (0 means this) or V5 */
    const char *es_id;               /* IA5, 1..SEAL_ESID_MAX           */
    const char *name;                /* UTF-8, 1..SEAL_NAME_MAX bytes   */
    const char *vid;                 /* NULL: SEAL_VID_DEFAULT          */
    long type;                       /* SEAL_TYPE_MIN..SEAL_TYPE_MAX    */
    const struct ses_bytes *holder_certs;  /* DER, 1..SEAL_MAX_HOLDER_CERTS */
    size_t n_holder_certs;
    const char *picture_type;        /* "PNG" / "GIF" (checked with
                                        img_check) or other SES types
                                        (stored as given)              */
    struct ses_bytes picture;
    long width_mm, height_mm;
    time_t create_date;              /* 0: now                          */
    time_t valid_start, valid_end;   /* 0, 0: the first holder
                                        certificate's validity; else
                                        must lie within every holder
                                        certificate's validity          */
    const struct ses_ext *ext;       /* optional extensions             */
    size_t n_ext;
};

/*
 * Make and sign a seal with the maker key (SM2 token) whose certificate is
 * maker_cert (the certificate's key must be the token key, and it must be
 * valid at the creation date, which must not be after the seal's end).  *der is
 * malloc'ed (caller frees).  ERR_INVALID for bad parameters (message says
 * which), custody errors as custody returns them.
 */
err_code seal_make(const struct ca_key *maker, const uint8_t *maker_cert,
                   size_t maker_cert_len, const struct seal_make_params *p,
                   uint8_t **der, size_t *len, struct err *e);

/* Input of seal_sign.  Everything borrowed. */
struct seal_sign_params {
    int format;                      /* 0: the seal's format (4 or 5)    */
    struct ses_bytes seal;           /* DER SESeal (v4/v5)               */
    struct ses_bytes signer_cert;    /* DER; must be one of the seal's
                                        holder certificates and hold the
                                        holder key                       */
    struct ses_bytes data_hash;      /* SM3 of the signed data, 32 bytes */
    const char *property_info;       /* e.g. path of Signature.xml       */
    time_t time_info;                /* 0: now; must be inside the seal's
                                        and the signer certificate's
                                        validity                         */
    const struct ses_ext *ext;
    size_t n_ext;
    int trust_token;                 /* 1: skip the fault check (verifying
                                        the token's value); a caller that
                                        sets it samples the check        */
};

/*
 * Sign with a seal: SES_Signature over p->data_hash with the holder key
 * (SM2 token).  *der is malloc'ed (caller frees).  ERR_INVALID when the
 * signer is not a holder of the seal, the key does not match the
 * certificate, or time_info is outside the seal's validity.
 */
err_code seal_sign(const struct ca_key *holder,
                   const struct seal_sign_params *p, uint8_t **der,
                   size_t *len, struct err *e);

/*
 * seal_sign in two steps, for many signatures with one seal: a seal_signer
 * holds what seal_sign would work out of the seal and the certificate on
 * every call (the seal decoded, the certificate parsed, the holder checks
 * made).  It is read-only once made, so threads may share it.
 *
 * seal_signer_new checks seal and signer_cert as seal_sign does, including
 * that the holder key (SM2 token) is signer_cert's key (holder is used
 * only for that check); it copies both and gives *out to the caller, who
 * frees it with seal_signer_free.  seal_signer_sign is seal_sign with g in
 * place of p->seal and p->signer_cert, which it does not read.
 */
struct seal_signer;
err_code seal_signer_new(const struct ca_key *holder,
                         const struct ses_bytes *seal,
                         const struct ses_bytes *signer_cert,
                         struct seal_signer **out, struct err *e);
err_code seal_signer_sign(const struct seal_signer *g,
                          const struct ca_key *holder,
                          const struct seal_sign_params *p, uint8_t **der,
                          size_t *len, struct err *e);
void seal_signer_free(struct seal_signer *g);
/* The seal's DER g was made from (borrowed: lives as long as g). */
struct ses_bytes seal_signer_seal(const struct seal_signer *g);

#endif
