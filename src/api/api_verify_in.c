/*
 * api_verify_in.c - reads the input of the verification routes and runs
 * it (api_verify_in.h): the one parser of their JSON and multipart bodies,
 * so that the authenticated routes and the public one take the same
 * fields the same way and give the same report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_verify_in.h"
#include "metrics.h"
#include "multipart.h"
#include "ofd.h"
#include "ses.h"
#include "sjson.h"
#include "util.h"

#define HEX_SM3_LEN (2 * SM3_DIGEST_LEN)

/* The fields a verification may carry, by index. */
enum { F_SIGNATURE, F_DOCUMENT, F_HASH, F_SEAL, F_OFD, F_PICTURES, F__N };

/* A field as sent: text (base64 in JSON, bytes in a form part, the hex of
 * a hash), borrowed from the request. */
struct raw_field {
    int            present;
    const uint8_t *data;
    size_t         len;
};

struct raw_input {
    const char      *names[F__N];
    struct raw_field f[F__N];
    int              b64;          /* JSON: binary fields are base64 */
    int              pictures;     /* JSON: the boolean read */
};

/* Which fields a route of kinds takes: 1 if field i is one. */
static int
field_taken(const struct api_verify_form *f, int i)
{
    switch (i) {
    case F_SIGNATURE: case F_DOCUMENT: case F_HASH:
        return (f->kinds & API_VERIFY_SIGNATURE) != 0;
    case F_SEAL:
        return (f->kinds & API_VERIFY_SEAL) != 0;
    case F_PICTURES:            /* every kind: the seal's picture */
        return 1;
    default:
        return (f->kinds & API_VERIFY_OFD) != 0;
    }
}

/* Most bytes field i may hold, decoded. */
static size_t
field_max(const struct api_verify_form *f, int i)
{
    switch (i) {
    case F_DOCUMENT: return f->doc_max;
    case F_OFD:      return OFD_MAX_PACKAGE;
    case F_HASH:     return HEX_SM3_LEN;
    case F_PICTURES: return 8;
    default:         return SES_MAX_DER;
    }
}

/* The JSON body's fields into *r. */
static err_code
read_json(const json_t *body, const struct api_verify_form *f,
          struct raw_input *r, struct err *e)
{
    const char *allowed[F__N + 1];
    size_t n = 0;
    int i;
    err_code rc;

    for (i = 0; i < F__N; i++)
        if (field_taken(f, i))
            allowed[n++] = r->names[i];
    allowed[n] = NULL;
    if ((rc = sjson_only_keys(body, allowed, e)) != ERR_OK)
        return rc;
    r->b64 = 1;
    for (i = 0; i < F__N; i++) {
        const char *s = NULL;
        size_t max = field_max(f, i);
        if (json_object_get(body, r->names[i]) == NULL)
            continue;
        r->f[i].present = 1;
        if (i == F_PICTURES) {
            if ((rc = sjson_get_bool(body, r->names[i], 0, &r->pictures, e))
                != ERR_OK)
                return rc;
            continue;
        }
        if ((rc = sjson_get_str(body, r->names[i],
                                i == F_HASH ? max : max / 3 * 4 + 4, 1, &s,
                                e)) != ERR_OK)
            return rc;
        r->f[i].data = (const uint8_t *)s;
        r->f[i].len = strlen(s);
    }
    return ERR_OK;
}

/* The parts of a multipart/form-data body into *r (they point into the
 * body, which *m holds the parts of). */
static err_code
read_form(const struct http_req *req, const struct api_verify_form *f,
          struct multipart *m, struct raw_input *r, struct err *e)
{
    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    size_t k;
    int i;
    err_code rc;

    if ((rc = multipart_boundary(req->content_type, boundary, e)) != ERR_OK ||
        (rc = multipart_parse((const uint8_t *)req->body, req->body_len,
                              boundary, m, e)) != ERR_OK)
        return rc;
    for (k = 0; k < m->n; k++) {
        for (i = 0; i < F__N; i++)
            if (field_taken(f, i) && strcmp(m->parts[k].name, r->names[i])
                == 0)
                break;
        if (i == F__N)
            return err_set(e, ERR_BAD_REQUEST, "unknown form field '%s'",
                           m->parts[k].name);
        r->f[i].present = 1;
        r->f[i].data = m->parts[k].data;
        r->f[i].len = m->parts[k].len;
    }
    return ERR_OK;
}

/* Field i's bytes: decoded from base64 into *buf (JSON) or as sent. */
static err_code
take_bytes(const struct api_verify_form *f, const struct raw_input *r, int i,
           const uint8_t **out, size_t *len, uint8_t **buf, struct err *e)
{
    const struct raw_field *rf = &r->f[i];
    const char *name = r->names[i];
    size_t max = field_max(f, i);

    *buf = NULL;
    if (r->b64) {
        if (util_b64_decode((const char *)rf->data, rf->len, buf, len, NULL)
            != ERR_OK)
            return err_set(e, ERR_MALFORMED, "%s: not valid base64", name);
        *out = *buf;
    } else {
        *out = rf->data;
        *len = rf->len;
    }
    if (*len == 0)
        return err_set(e, ERR_MALFORMED, "%s: empty", name);
    if (*len > max)
        return err_set(e, ERR_TOO_LARGE, "%s: more than %zu bytes", name,
                       max);
    return ERR_OK;
}

/* The hex SM3 of the hash field into v->hash. */
static err_code
take_hash(const struct raw_input *r, struct api_verify_req *v, struct err *e)
{
    const struct raw_field *rf = &r->f[F_HASH];
    char buf[HEX_SM3_LEN + 1];
    size_t n = 0;

    if (rf->len != HEX_SM3_LEN)
        return err_set(e, ERR_BAD_REQUEST, "%s: an SM3 hash is %d hex "
                       "digits", r->names[F_HASH], HEX_SM3_LEN);
    memcpy(buf, rf->data, HEX_SM3_LEN);
    buf[HEX_SM3_LEN] = '\0';
    if (util_hex_decode(buf, v->hash, sizeof(v->hash), &n, NULL) != ERR_OK ||
        n != SM3_DIGEST_LEN)
        return err_set(e, ERR_BAD_REQUEST, "%s: not a hex SM3 hash",
                       r->names[F_HASH]);
    v->in.hash = v->hash;
    v->in.hash_len = SM3_DIGEST_LEN;
    return ERR_OK;
}

/* A form part "pictures": true/false (or 1/0, yes/no). */
static err_code
form_bool(const struct raw_input *r, int *out, struct err *e)
{
    static const char *const yes[] = {"true", "1", "yes", NULL};
    static const char *const no[] = {"false", "0", "no", NULL};
    const struct raw_field *rf = &r->f[F_PICTURES];
    size_t i;

    for (i = 0; yes[i] != NULL; i++)
        if (rf->len == strlen(yes[i]) && !memcmp(rf->data, yes[i], rf->len))
            return (*out = 1, ERR_OK);
    for (i = 0; no[i] != NULL; i++)
        if (rf->len == strlen(no[i]) && !memcmp(rf->data, no[i], rf->len))
            return (*out = 0, ERR_OK);
    return err_set(e, ERR_BAD_REQUEST, "%s: true or false",
                   r->names[F_PICTURES]);
}

/* Decide the kind from the fields present and check the combination. */
static err_code
decide(const struct api_verify_form *f, const struct raw_input *r,
       struct api_verify_req *v, struct err *e)
{
    int sig = r->f[F_SIGNATURE].present, seal = r->f[F_SEAL].present;
    int ofd = r->f[F_OFD].present;

    if (sig + seal + ofd != 1) {
        /* a route of one kind names its one required field */
        if (sig + seal + ofd == 0 && f->kinds == API_VERIFY_SIGNATURE)
            return err_set(e, ERR_BAD_REQUEST, "field 'signature' is "
                           "required");
        if (sig + seal + ofd == 0 && f->kinds == API_VERIFY_SEAL)
            return err_set(e, ERR_BAD_REQUEST, "field 'seal' is required");
        if (sig + seal + ofd == 0 && f->kinds == API_VERIFY_OFD)
            return err_set(e, ERR_BAD_REQUEST, "field 'ofd' is required");
        return err_set(e, ERR_BAD_REQUEST, "%s", f->usage);
    }
    v->kind = sig ? API_VERIFY_SIGNATURE
                  : seal ? API_VERIFY_SEAL : API_VERIFY_OFD;
    if (!sig && (r->f[F_DOCUMENT].present || r->f[F_HASH].present))
        return err_set(e, ERR_BAD_REQUEST, "%s", f->usage);
    if (sig && r->f[F_DOCUMENT].present && r->f[F_HASH].present)
        return err_set(e, ERR_BAD_REQUEST, "give the document or its SM3 "
                       "hash, not both");
    if (sig && f->need_document && !r->f[F_DOCUMENT].present &&
        !r->f[F_HASH].present)
        return err_set(e, ERR_BAD_REQUEST, "%s", f->usage);
    return ERR_OK;
}

err_code
api_verify_read(const struct http_req *req, const struct api_verify_form *f,
                struct api_verify_req *v, struct err *e)
{
    struct raw_input r;
    struct multipart mp;
    int main_field;
    err_code rc;

    memset(v, 0, sizeof(*v));
    memset(&r, 0, sizeof(r));
    r.names[F_SIGNATURE] = "signature";
    r.names[F_DOCUMENT] = "document";
    r.names[F_HASH] = f->hash_field;
    r.names[F_SEAL] = "seal";
    r.names[F_OFD] = "ofd";
    r.names[F_PICTURES] = "pictures";
    if (req->json != NULL)
        rc = read_json(req->json, f, &r, e);
    else if (req->body_len > 0 && multipart_is_form(req->content_type))
        rc = read_form(req, f, &mp, &r, e);
    else
        return err_set(e, ERR_BAD_REQUEST, "send the file as JSON (base64 "
                       "fields) or as multipart/form-data: %s", f->usage);
    if (rc != ERR_OK || (rc = decide(f, &r, v, e)) != ERR_OK)
        return rc;
    main_field = v->kind == API_VERIFY_SIGNATURE ? F_SIGNATURE
                 : v->kind == API_VERIFY_SEAL ? F_SEAL : F_OFD;
    if ((rc = take_bytes(f, &r, main_field, &v->in.der, &v->in.der_len,
                         &v->der_buf, e)) != ERR_OK)
        return rc;
    if (r.f[F_DOCUMENT].present &&
        (rc = take_bytes(f, &r, F_DOCUMENT, &v->in.doc, &v->in.doc_len,
                         &v->doc_buf, e)) != ERR_OK)
        return rc;
    if (r.f[F_HASH].present && (rc = take_hash(&r, v, e)) != ERR_OK)
        return rc;
    if (r.f[F_PICTURES].present)
        rc = r.b64 ? (v->pictures = r.pictures, ERR_OK)
                   : form_bool(&r, &v->pictures, e);
    v->in.pictures = v->pictures;   /* signature and seal reports */
    return rc;
}

void
api_verify_req_free(struct api_verify_req *v)
{
    free(v->der_buf);
    free(v->doc_buf);
    v->der_buf = v->doc_buf = NULL;
}

static err_code
verify_dispatch(struct http_req *req, const struct api_verify_req *v,
                size_t max_inflated, json_t **report, struct err *e)
{
    struct verify_service *svc = NULL;
    struct verify_status vs;
    const char *what;
    err_code rc;

    *report = NULL;
    memset(&vs, 0, sizeof(vs));
    vs.db = req->db;
    if ((rc = verify_service_shared(req->app->cfg->trust_dir, &svc, e)) !=
        ERR_OK)
        return rc;
    switch (v->kind) {
    case API_VERIFY_SIGNATURE:
        rc = verify_signature(svc, &vs, &v->in, report, e);
        what = "signature";
        break;
    case API_VERIFY_SEAL:
        rc = verify_seal(svc, &vs, &v->in, report, e);
        what = "seal";
        break;
    default:
        return verify_ofd(svc, &vs, &v->in, v->pictures, max_inflated,
                          report, e);
    }
    if (rc == ERR_MALFORMED || rc == ERR_TOO_LARGE)
        rc = err_wrap(e, rc, "%s", what);
    return rc;
}

/* Every verification the API runs passes here, so it is counted here
 * (seald_verifications_total): ok when the report's indication is
 * TOTAL_PASSED, invalid for any other report, refused for an input the
 * verification refused (4xx), failed when the server could not (5xx). */
err_code
api_verify_run(struct http_req *req, const struct api_verify_req *v,
               size_t max_inflated, json_t **report, struct err *e)
{
    err_code rc = verify_dispatch(req, v, max_inflated, report, e);
    const char *ind;

    if (rc != ERR_OK) {
        metrics_verify(err_http_status(rc) >= 500 ? METRICS_FAILED
                                                  : METRICS_REFUSED);
        return rc;
    }
    ind = json_string_value(json_object_get(*report, "indication"));
    metrics_verify(ind != NULL && strcmp(ind, "TOTAL_PASSED") == 0
                       ? METRICS_OK : METRICS_INVALID);
    return rc;
}
