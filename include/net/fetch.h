/*
 * fetch.h - the one outbound HTTP(S) client of seald: a bounded GET or
 * POST to a URL the configuration names (a TSA, a CRL distribution point,
 * an issuer's status list), never one a request supplied.
 *
 * Every call has a total time limit and a response size limit; redirects
 * are not followed (a configured URL is the URL); only http and https are
 * allowed.  HTTPS checks the server against the system's CA store, or
 * against the ca_file the caller names.  No set-up call: libcurl (7.84 and
 * later) initialises itself, thread-safely, on first use.
 */
#ifndef SEALD_FETCH_H
#define SEALD_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* What one call may take: defaults when a field is 0. */
#define FETCH_TIMEOUT_MS_DEFAULT  5000
#define FETCH_MAX_BYTES_DEFAULT   (4u * 1024 * 1024)

struct fetch_opts {
    int         timeout_ms;   /* whole call, connect included; 0: default */
    size_t      max_bytes;    /* response body cap; 0: default            */
    const char *ca_file;      /* PEM CA bundle for https; NULL: system's  */
    /* more request headers ("Name: value", NULL-terminated; NULL: none),
     * from the caller's code, never a request's (a delivery's signature) */
    const char *const *headers;
};

/* One response: body is malloc'ed (caller frees with fetch_resp_free);
 * content_type is the response's Content-Type without parameters, or "". */
struct fetch_resp {
    long     status;          /* HTTP status, e.g. 200                    */
    uint8_t *body;
    size_t   len;
    char     content_type[128];
};

/* GET url (body == NULL) or POST body of len bytes with content_type.  On
 * ERR_OK *r holds the answer whatever its HTTP status (the caller decides
 * what a 404 means).  Fails with ERR_INVALID for a URL that is not http(s),
 * ERR_TOO_LARGE when the body passes max_bytes, ERR_UNAVAILABLE when the
 * server cannot be reached or does not answer in time (the message names
 * curl's reason).  *r is zeroed on entry; free it in every case. */
err_code fetch_url(const char *url, const char *content_type,
                   const uint8_t *body, size_t len,
                   const struct fetch_opts *opts, struct fetch_resp *r,
                   struct err *e);

void fetch_resp_free(struct fetch_resp *r);

#endif
