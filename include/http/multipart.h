/*
 * multipart.h - a small, strictly bounded multipart/form-data (RFC 7578)
 * reader over a request body already in memory.  Parts point into the body
 * (nothing is allocated); limits are named constants, checked as the body
 * is read.  Not supported, refused: nested multipart, transfer encodings
 * other than binary/8bit/7bit, header folding.
 */
#ifndef SEALD_MULTIPART_H
#define SEALD_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MULTIPART_MAX_PARTS     8      /* parts in one body              */
#define MULTIPART_BOUNDARY_MAX  70     /* RFC 2046 boundary length       */
#define MULTIPART_HEADER_MAX    1024   /* one part's header block        */
#define MULTIPART_NAME_MAX      64     /* form field name                */
#define MULTIPART_FILENAME_MAX  256    /* file name as sent              */
#define MULTIPART_CTYPE_MAX     128    /* a part's Content-Type          */

struct multipart_part {
    char           name[MULTIPART_NAME_MAX];
    char           filename[MULTIPART_FILENAME_MAX]; /* "" if none */
    char           content_type[MULTIPART_CTYPE_MAX]; /* "" if none */
    const uint8_t *data;            /* into the body */
    size_t         len;
};

struct multipart {
    size_t                n;
    struct multipart_part parts[MULTIPART_MAX_PARTS];
};

/* 1 if the Content-Type value ct is multipart/form-data. */
int multipart_is_form(const char *ct);

/* The boundary parameter of Content-Type value ct (multipart/form-data)
 * into out (MULTIPART_BOUNDARY_MAX + 1 bytes).  ERR_BAD_REQUEST if absent
 * or invalid. */
err_code multipart_boundary(const char *ct, char *out, struct err *e);

/* Split body (len bytes) at boundary into *out.  Every part needs a
 * Content-Disposition: form-data with a name; names are unique.
 * ERR_BAD_REQUEST for anything malformed, ERR_TOO_LARGE past a limit. */
err_code multipart_parse(const uint8_t *body, size_t len,
                         const char *boundary, struct multipart *out,
                         struct err *e);

/* The part called name, or NULL. */
const struct multipart_part *multipart_get(const struct multipart *m,
                                           const char *name);

#endif
