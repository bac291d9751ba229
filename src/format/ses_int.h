/*
 * ses_int.h - internal helpers shared by the ses*.c files of the format layer
 * (DER walking, SignedData sniffing, time conversion, JSON text helpers).  Not a public API.
 */
#ifndef SEALD_SES_INT_H
#define SEALD_SES_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "err.h"
#include "ses_asn1.h"

/* Read one definite-length TLV header at p (avail bytes; lengths up to 4
 * bytes, non-minimal allowed).  1 on success with *tag, *hdr (header size)
 * and *clen (content length, within avail); 0 otherwise. */
int ses_der_tlv(const uint8_t *p, size_t avail, uint8_t *tag, size_t *hdr,
                size_t *clen);

/* Is der (len bytes) a ContentInfo of type GB/T 35275 signedData?  1 yes,
 * 0 no (ses_sd.c). */
int ses_sd_sniff(const uint8_t *der, size_t len);

/* ASN1_TIME (UTCTime or GeneralizedTime) to time_t; ERR_MALFORMED if bad. */
err_code ses_time_get(time_t *out, const ASN1_TIME *t, const char *what,
                      struct err *e);

/* JSON string of len bytes; non-UTF-8 input has its non-ASCII masked. */
json_t *ses_json_text(const char *s, size_t len);
/* RFC 3339 UTC string. */
json_t *ses_json_time(time_t t);
/* Certificate summary of a parsed certificate (x borrowed). */
json_t *ses_cert_json_x509(X509 *x);
/* Attach SM2 ID id to x for SM2 certificate checks (ses_verify.c). */
void ses_set_distid(X509 *x, const char *id);
/* Lowercase hex string. */
json_t *ses_json_hex(const uint8_t *p, size_t len);

#endif
