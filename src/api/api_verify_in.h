/*
 * api_verify_in.h - the input of every verification route, read in one
 * place (api_verify_in.c): POST /api/v1/verify, /api/v1/verify/seal,
 * /api/v1/verify/ofd and the public POST /public/verify.  A route says
 * which kinds it takes and what its hash field is called; the kind of a
 * request is decided by the fields it carries, as JSON with base64 fields
 * or as multipart/form-data parts of the same names:
 *   signature + document | signature + HASH_FIELD -> a signature
 *   ofd                                           -> an OFD package
 *   seal                                          -> a seal file alone
 * each [+ pictures]: the seals' pictures in the report too
 * and api_verify_run hands it to the verification service, so every route
 * gives the same report for the same file.  Internal to the API layer.
 */
#ifndef SEALD_API_VERIFY_IN_H
#define SEALD_API_VERIFY_IN_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "sm2.h"
#include "verify.h"

enum api_verify_kind {
    API_VERIFY_SIGNATURE = 1,
    API_VERIFY_SEAL      = 2,
    API_VERIFY_OFD       = 4,
};

/* What a route takes. */
struct api_verify_form {
    unsigned    kinds;          /* API_VERIFY_* bits                     */
    const char *hash_field;     /* the document's SM3 in hex: its name   */
    int         need_document;  /* a signature needs a document or hash  */
    size_t      doc_max;        /* most bytes of a document              */
    const char *usage;          /* the accepted forms, for a 400: names
                                   every combination the route takes     */
};

/* One request's input: in.der is the signature, seal or package (in
 * der_buf, or in the request's multipart body), in.doc / in.hash the
 * signed document or its SM3.  Free with api_verify_req_free. */
struct api_verify_req {
    enum api_verify_kind kind;
    struct verify_input  in;
    int                  pictures;     /* the seal pictures too (OFD;
                                          in.pictures: the others) */
    uint8_t             *der_buf, *doc_buf;
    uint8_t              hash[SM3_DIGEST_LEN];
};

/* Read req's body (req->json, or a multipart/form-data body) as form f
 * says into *v (zeroed first; free it with api_verify_req_free even on
 * failure).  ERR_BAD_REQUEST for a field the route does not take, a
 * combination it does not take (the message is f->usage), no body;
 * ERR_MALFORMED for base64 that is not, or an empty file; ERR_TOO_LARGE
 * past a field's limit. */
err_code api_verify_read(const struct http_req *req,
                         const struct api_verify_form *f,
                         struct api_verify_req *v, struct err *e);

void api_verify_req_free(struct api_verify_req *v);

/* Verify what v holds with the daemon's verification service and this
 * instance's database as status source; *report is the caller's
 * (json_decref).  max_inflated: an OFD's inflation budget. */
err_code api_verify_run(struct http_req *req, const struct api_verify_req *v,
                        size_t max_inflated, json_t **report, struct err *e);

#endif
