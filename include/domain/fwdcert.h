/*
 * fwdcert.h - client certificates forwarded by a 国密 gateway ([gateway]).
 *
 * A TLCP / RFC 8998 gateway in front of seald terminates its clients' TLS
 * and passes each client's certificate on in a header (gateway.
 * client_cert_header), URL-escaped PEM as nginx's $ssl_client_escaped_cert
 * gives it.  This checks such a header's value with OpenSSL (the
 * certificates are often SM2, which GnuTLS does not read): at most
 * FWDCERT_MAX_BYTES, exactly one certificate, valid now, chaining to
 * gateway.client_ca; and gives its subject and issuer DN in the form
 * system accounts hold them.  Whether the request came from the gateway at
 * all is the HTTP layer's to say (its mutual-TLS peer); mapping the DNs to
 * an account is auth.c's.
 */
#ifndef SEALD_FWDCERT_H
#define SEALD_FWDCERT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "store_types.h"

/* The header's value, escaped, at most (one PEM certificate of a long
 * chain's leaf is under 4 KiB escaped): larger is 431 headers_too_large,
 * refused before a byte is decoded. */
#define FWDCERT_MAX_BYTES  (8 * 1024)
/* The largest CA bundle gateway.client_ca may be. */
#define FWDCERT_CA_MAX     (1024 * 1024)

/* gateway.client_ca, loaded: the anchors forwarded certificates must chain
 * to.  Read-only once open, shared by every thread. */
struct fwdcert_trust;

/* Load gateway.client_ca when a gateway is configured (gateway.subject);
 * *out NULL when none is.  ERR_CONFIG when the file cannot be read or holds
 * no certificate, ERR_NOMEM.  Free with fwdcert_trust_free. */
err_code fwdcert_trust_open(const struct config *cfg,
                            struct fwdcert_trust **out, struct err *e);
void fwdcert_trust_free(struct fwdcert_trust *t);

/* The PEM inside a header value: value URL-unescaped (%XX; '+' is kept,
 * it is base64) into a new NUL-terminated buffer *pem (*len bytes, the
 * caller frees it), which must hold exactly one PEM certificate block and
 * nothing else but white space.  ERR_HEADERS_TOO_LARGE over
 * FWDCERT_MAX_BYTES (before anything is decoded); ERR_UNAUTHENTICATED with
 * the reason for a bad escape, a NUL, no block or more than one; ERR_NOMEM. */
err_code fwdcert_unescape(const char *value, char **pem, size_t *len,
                          struct err *e);

/* What a checked forwarded certificate says. */
struct fwdcert_facts {
    char    subject[STORE_DN_MAX];   /* RFC 4514, as accounts hold them */
    char    issuer[STORE_DN_MAX];
    int64_t expires_ms;              /* its notAfter */
};

/* Check a header's value: fwdcert_unescape, one certificate that parses
 * with nothing after it, valid at now_s and chaining to t's anchors (for
 * client authentication, as the TLS layer checks a direct client's).
 * ERR_OK: *out is filled.  Else the errors of fwdcert_unescape, and
 * ERR_UNAUTHENTICATED "forwarded client certificate ...: <why>". */
err_code fwdcert_check(const struct fwdcert_trust *t, const char *value,
                       int64_t now_s, struct fwdcert_facts *out,
                       struct err *e);

#endif
