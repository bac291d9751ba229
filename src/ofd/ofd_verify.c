/*
 * ofd_verify.c - owns verification of every signature in an OFD package
 * (GB/T 33190 section 18) and its JSON report: per signature the references
 * (SM3 of each protected file against its CheckValue), the SignedValue
 * (a GB/T 38540 SES_Signature checked by ses_verify_signature over the exact
 * bytes of Signature.xml; for Type="Sign" a GB/T 35275 SignedData checked
 * by ses_verify_signed_data over the same bytes, or a bare SM2 value), the
 * seal, and the pages and positions of its StampAnnots; then a
 * document-level summary.
 */
#include "ofd.h"
#include "ofd_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "util.h"

#define ST_PASSED        "passed"
#define ST_FAILED        "failed"
#define ST_INDETERMINATE "indeterminate"
#define ST_NOT_CHECKED   "not_checked"

/* JSON string of text that may not be valid UTF-8. */
static json_t *jtext(const char *s)
{
    json_t *j = json_string(s);
    char buf[512];
    size_t i;

    if (j != NULL)
        return j;
    for (i = 0; s[i] != '\0' && i + 1 < sizeof(buf); i++)
        buf[i] = s[i];
    buf[i] = '\0';
    for (i = 0; buf[i]; i++)
        if ((unsigned char)buf[i] >= 0x80)
            buf[i] = '?';
    return json_string(buf);
}

/* Record check name with status and a printf reason (fmt may be NULL). */
static void check_set(json_t *checks, const char *name, const char *status,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void check_set(json_t *checks, const char *name, const char *status,
                      const char *fmt, ...)
{
    json_t *c = json_object();
    char buf[ERR_MSG_MAX];
    va_list ap;

    if (c == NULL)
        return;
    json_object_set_new(c, "status", json_string(status));
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        json_object_set_new(c, "reason", jtext(buf));
    }
    json_object_set_new(checks, name, c);
}

/* [x, y, w, h] as a new JSON array. */
static json_t *jbox(const double *v)
{
    return json_pack("[ffff]", v[0], v[1], v[2], v[3]);
}

/* ---- GB/T 35275 SignedData (Type="Sign") -------------------------------- */

/* Verify a GB/T 35275 SignedData over the bytes of Signature.xml (xml):
 * the format library's report goes under "signed_data", as an SES report
 * goes under "ses"; at is the SignatureDateTime (0: unreadable), the
 * validation time when the signer gave no signingTime. */
static void verify_signed_data(const uint8_t *p, size_t len,
                               const uint8_t *xml, size_t xml_len, time_t at,
                               X509_STORE *store, json_t *j, json_t *checks)
{
    struct ses_signed_data *sd = NULL;
    struct ses_verify_opts vo;
    struct err e;
    json_t *r;

    json_object_set_new(j, "signed_value_kind",
                        json_string("gbt35275_signed_data"));
    err_clear(&e);
    if (ses_signed_data_decode(p, len, &sd, &e) != ERR_OK) {
        check_set(checks, "structure", ST_FAILED, "SignedValue: %s", e.msg);
        json_object_set_new(j, "signed_data",
                            ses_report_format_failure("signed_data", e.msg));
        return;
    }
    check_set(checks, "structure", ST_PASSED, "GB/T 35275 SignedData");
    memset(&vo, 0, sizeof(vo));
    vo.data = xml;
    vo.data_len = xml_len;
    vo.trust_store = store;
    vo.claimed_time = at;
    r = ses_verify_signed_data(sd, &vo, &e);
    json_object_set_new(j, "signed_data", r ? r : json_null());
    ses_signed_data_free(sd);
}

/* ---- one signature ------------------------------------------------------ */

/* Check the references; returns the status. */
static const char *verify_refs(struct ofd_pkg *p, const struct ofd_sigxml *sx,
                               json_t *j, json_t *checks)
{
    json_t *items = json_array(), *failed = json_array();
    size_t i, nfail = 0;
    const char *st;

    if (!ofd_check_method_sm3(sx->check_method)) {
        check_set(checks, "references", ST_INDETERMINATE,
                  "CheckMethod %.64s not supported (SM3 only)",
                  sx->check_method);
        json_decref(items);
        json_decref(failed);
        return ST_INDETERMINATE;
    }
    for (i = 0; i < sx->n_refs; i++) {
        const struct ofd_ref *r = &sx->refs[i];
        json_t *it = json_object();
        uint8_t hash[SM3_DIGEST_LEN], *want = NULL;
        size_t wlen = 0;
        long at = r->file[0] ? ofd_pkg_find(p, r->file) : -1;
        const char *status = ST_FAILED, *reason = NULL;

        json_object_set_new(it, "file", jtext(r->raw));
        if (r->file[0] == '\0') {
            reason = "path escapes the package";
        } else if (at < 0) {
            reason = "file missing from the package";
        } else if (util_b64_decode(r->value_b64, strlen(r->value_b64), &want,
                                   &wlen, NULL) != ERR_OK ||
                   wlen != SM3_DIGEST_LEN) {
            reason = "CheckValue is not a base64 SM3 digest";
        } else if (ofd_pkg_sm3(p, (size_t)at, hash, NULL) != ERR_OK) {
            reason = "file unreadable";   /* (over budget: refused later) */
        } else if (memcmp(hash, want, SM3_DIGEST_LEN) != 0) {
            reason = "SM3 of the file differs from CheckValue";
        } else {
            status = ST_PASSED;
        }
        free(want);
        json_object_set_new(it, "status", json_string(status));
        if (reason) {
            json_object_set_new(it, "reason", json_string(reason));
            json_array_append_new(failed, jtext(r->raw));
            nfail++;
        }
        json_array_append_new(items, it);
    }
    st = nfail ? ST_FAILED : (sx->n_refs ? ST_PASSED : ST_FAILED);
    if (sx->n_refs == 0)
        check_set(checks, "references", ST_FAILED, "no references");
    else if (nfail)
        check_set(checks, "references", ST_FAILED,
                  "%zu of %zu references failed", nfail, sx->n_refs);
    else
        check_set(checks, "references", ST_PASSED,
                  "%zu references match", sx->n_refs);
    json_object_set_new(j, "references", items);
    json_object_set_new(j, "failed_references", failed);
    return st;
}

/* The StampAnnots of sx with their page index, Content.xml and the page's
 * size in mm (so that a reader can draw the box on the page at scale); each
 * page's size is read once, however many stamps stand on it (new ref). */
static json_t *stamps_json(struct ofd_pkg *p, const struct ofd_doc *d,
                           const struct ofd_sigxml *sx)
{
    json_t *a = json_array();
    double *size = d->n_pages ? calloc(d->n_pages, 2 * sizeof(*size)) : NULL;
    size_t i;

    for (i = 0; i < sx->n_stamps; i++) {
        const struct ofd_stamp *s = &sx->stamps[i];
        long pi = ofd_page_by_id(d, s->page_ref);
        json_t *o = json_object();

        json_object_set_new(o, "id", jtext(s->id));
        json_object_set_new(o, "page_ref", jtext(s->page_ref));
        json_object_set_new(o, "page_index",
                            pi >= 0 ? json_integer(pi) : json_null());
        json_object_set_new(o, "page", pi >= 0 ?
                            jtext(d->pages[pi].path) : json_null());
        if (pi >= 0 && size != NULL) {
            double *wh = &size[2 * (size_t)pi];
            if (wh[0] <= 0)
                ofd_page_size(p, d, (size_t)pi, &wh[0], &wh[1]);
            json_object_set_new(o, "page_size_mm", wh[0] > 0 && wh[1] > 0 ?
                                json_pack("[ff]", wh[0], wh[1]) :
                                json_null());
        } else {
            json_object_set_new(o, "page_size_mm", json_null());
        }
        json_object_set_new(o, "boundary_mm", s->has_box ? jbox(s->box) :
                            json_null());
        if (s->has_clip)
            json_object_set_new(o, "clip_mm", jbox(s->clip));
        json_array_append_new(a, o);
    }
    free(size);
    return a;
}

/* The seal picture: type, size, mm; base64 bytes when with_data (new ref). */
static json_t *picture_json(const struct ses_seal *s, int with_data)
{
    json_t *o = json_object();
    char *b64 = NULL;

    json_object_set_new(o, "type", jtext(s->picture_type));
    json_object_set_new(o, "size", json_integer((json_int_t)s->picture.len));
    json_object_set_new(o, "width_mm", json_integer(s->picture_width));
    json_object_set_new(o, "height_mm", json_integer(s->picture_height));
    if (with_data && util_b64_encode(s->picture.p, s->picture.len, &b64,
                                     NULL) == ERR_OK)
        json_object_set_new(o, "data_base64", json_string(b64));
    free(b64);
    return o;
}

/* SES_Signature (Type="Seal"); the status callback's error (pe) is the
 * only error. */
static err_code verify_ses(struct ofd_pkg *p, const char *sig_path,
                           const struct ofd_sigxml *sx, const uint8_t *xml,
                           size_t xml_len, const uint8_t *sv, size_t sv_len,
                           const struct ofd_verify_opts *o, X509_STORE *store,
                           json_t *j, json_t *checks, struct err *pe)
{
    struct ses_signature *s = NULL;
    struct ses_seal *file_seal = NULL;
    struct ses_verify_opts vo;
    struct err e;
    json_t *r;
    char want[OFD_PATH_CAP + 1];
    const uint8_t *seal_der;
    size_t seal_len;
    err_code rc = ERR_OK;

    json_object_set_new(j, "signed_value_kind", json_string("ses_signature"));
    err_clear(&e);
    if (ses_signature_decode(sv, sv_len, &s, &e) != ERR_OK) {
        check_set(checks, "structure", ST_FAILED, "SignedValue: %s", e.msg);
        json_object_set_new(j, "ses", ses_report_format_failure("signature",
                                                                 e.msg));
        return ERR_OK;
    }
    memset(&vo, 0, sizeof(vo));
    vo.data = xml;
    vo.data_len = xml_len;
    vo.trust_store = store;
    vo.tsa_store = o != NULL ? o->tsa_store : NULL;
    r = ses_verify_signature(s, &vo, &e);
    if (r != NULL && o != NULL && o->status != NULL)
        rc = o->status(o->status_ctx, s, sv, sv_len, r, pe);
    json_object_set_new(j, "ses", r ? r : json_null());
    snprintf(want, sizeof(want), "/%s", sig_path);
    json_object_set_new(j, "property_info", jtext(s->property_info));
    json_object_set_new(j, "property_info_matches",
                        json_boolean(strcmp(s->property_info, want) == 0 ||
                                     strcmp(s->property_info, sig_path) == 0));
    json_object_set_new(j, "picture", picture_json(&s->seal,
                                                   o && o->include_picture));
    if (sx->seal[0] == '\0') {
        check_set(checks, "seal_file", ST_NOT_CHECKED, "no Seal BaseLoc");
    } else if (ofd_pkg_get(p, sx->seal, &seal_der, &seal_len, NULL) != ERR_OK) {
        check_set(checks, "seal_file", ST_FAILED, "%s missing", sx->seal);
    } else if (ses_seal_decode(seal_der, seal_len, &file_seal, &e) != ERR_OK) {
        check_set(checks, "seal_file", ST_FAILED, "%s: %s", sx->seal, e.msg);
    } else if (file_seal->signed_part.len != s->seal.signed_part.len ||
               memcmp(file_seal->signed_part.p, s->seal.signed_part.p,
                      s->seal.signed_part.len) != 0 ||
               file_seal->sig_value.len != s->seal.sig_value.len ||
               memcmp(file_seal->sig_value.p, s->seal.sig_value.p,
                      s->seal.sig_value.len) != 0) {
        check_set(checks, "seal_file", ST_FAILED,
                  "%s is not the seal inside the signature", sx->seal);
    } else {
        check_set(checks, "seal_file", ST_PASSED,
                  "%s is the seal inside the signature", sx->seal);
    }
    ses_seal_free(file_seal);
    ses_signature_free(s);
    return rc;
}

/* Status string of a check, "" when absent (borrowed). */
static const char *cstatus(const json_t *checks, const char *name)
{
    const char *s = json_string_value(
        json_object_get(json_object_get(checks, name), "status"));
    return s ? s : "";
}

/* Indication of one signature from its checks and inner report. */
static void sig_indication(json_t *j, json_t *checks)
{
    const char *ind = "TOTAL_PASSED", *sub = NULL;
    const json_t *ses = json_object_get(j, "ses");
    const json_t *sd = json_object_get(j, "signed_data");
    const char *kind = json_string_value(json_object_get(j,
                                                         "signed_value_kind"));

    if (!strcmp(cstatus(checks, "structure"), ST_FAILED)) {
        ind = "TOTAL_FAILED"; sub = "FORMAT_FAILURE";
    } else if (!strcmp(cstatus(checks, "references"), ST_FAILED)) {
        ind = "TOTAL_FAILED"; sub = "HASH_FAILURE";
    } else if (!strcmp(cstatus(checks, "seal_file"), ST_FAILED)) {
        ind = "TOTAL_FAILED"; sub = "SIG_CONSTRAINTS_FAILURE";
    } else if (kind && !strcmp(kind, "ses_signature") && ses != NULL) {
        ind = json_string_value(json_object_get(ses, "indication"));
        sub = json_string_value(json_object_get(ses, "sub_indication"));
        if (ind == NULL)
            ind = "INDETERMINATE";
    } else if (kind && !strcmp(kind, "gbt35275_signed_data")) {
        ind = json_string_value(json_object_get(sd, "indication"));
        sub = json_string_value(json_object_get(sd, "sub_indication"));
        if (ind == NULL)
            ind = "INDETERMINATE";
    } else if (!strcmp(cstatus(checks, "signature"), ST_FAILED)) {
        ind = "TOTAL_FAILED"; sub = "SIG_CRYPTO_FAILURE";
    } else if (!strcmp(cstatus(checks, "data_hash"), ST_FAILED)) {
        ind = "TOTAL_FAILED"; sub = "HASH_FAILURE";
    } else if (!strcmp(cstatus(checks, "references"), ST_INDETERMINATE)) {
        ind = "INDETERMINATE"; sub = "FORMAT_FAILURE";
    } else if (!strcmp(cstatus(checks, "signature"), ST_INDETERMINATE)) {
        ind = "INDETERMINATE"; sub = "NO_SIGNING_CERTIFICATE_FOUND";
    } else if (!strcmp(cstatus(checks, "certificate_chain"), ST_INDETERMINATE)) {
        ind = "INDETERMINATE"; sub = "NO_CERTIFICATE_CHAIN_FOUND";
    }
    json_object_set_new(j, "indication", json_string(ind));
    json_object_set_new(j, "sub_indication", sub ? json_string(sub) :
                        json_null());
}

/* What one ofd_verify has seen so far, across documents and signatures. */
struct vstate {
    uint8_t *seen;          /* per entry: 1 when a Signature.xml verified */
    size_t refs, stamps;    /* References and StampAnnots listed in all   */
};

/* A package over the count limits, or over the inflation budget. */
static err_code package_limits(const struct ofd_pkg *p,
                               const struct vstate *st, struct err *e)
{
    if (st->refs > OFD_MAX_TOTAL_REFERENCES)
        return err_set(e, ERR_TOO_LARGE, "the signatures list more than %d "
                       "references in all", OFD_MAX_TOTAL_REFERENCES);
    if (st->stamps > OFD_MAX_TOTAL_STAMPS)
        return err_set(e, ERR_TOO_LARGE, "the signatures list more than %d "
                       "stamps in all", OFD_MAX_TOTAL_STAMPS);
    return ofd_pkg_budget_check(p, e);
}

/* Report of one signature listed in Signatures.xml (*out, new ref; NULL
 * only when out of memory).  Defects are reported in it; the package is
 * refused (ERR_TOO_LARGE, *out NULL) when it passes a package limit. */
static err_code verify_one(struct ofd_pkg *p, const struct ofd_doc *d,
                           const struct ofd_siglist_item *it,
                           const struct ofd_verify_opts *o, X509_STORE *store,
                           struct vstate *st, json_t **out, struct err *pe)
{
    json_t *j = json_object(), *checks = json_object();
    struct ofd_sigxml sx;
    const uint8_t *xml = NULL, *sv = NULL;
    size_t xml_len = 0, sv_len = 0;
    struct err e;
    time_t t = 0;
    int zone;
    long at;
    uint8_t rs[SM2_SIG_RAW_LEN];
    err_code rc = ERR_OK;

    *out = NULL;
    memset(&sx, 0, sizeof(sx));
    err_clear(&e);
    json_object_set_new(j, "doc", json_integer((json_int_t)d->index));
    json_object_set_new(j, "id", jtext(it->id));
    json_object_set_new(j, "type", jtext(it->type));
    json_object_set_new(j, "base_loc", jtext(it->raw_loc));
    json_object_set_new(j, "checks", checks);
    if (it->loc[0] == '\0') {
        check_set(checks, "structure", ST_FAILED, "BaseLoc unusable");
        goto done;
    }
    json_object_set_new(j, "path", jtext(it->loc));
    /* a Signature.xml listed again (by another entry or another document)
     * is not verified again: once is its whole cost */
    if ((at = ofd_pkg_find(p, it->loc)) >= 0 && st->seen[at]) {
        check_set(checks, "structure", ST_FAILED, "%s is listed by an "
                  "earlier signature too", it->loc);
        goto done;
    }
    if (at >= 0)
        st->seen[at] = 1;
    if (ofd_pkg_get(p, it->loc, &xml, &xml_len, &e) != ERR_OK) {
        check_set(checks, "structure", ST_FAILED, "%s", e.msg);
        goto done;
    }
    if ((rc = ofd_pkg_charge_parse(p, xml_len, pe)) != ERR_OK)
        goto done;
    if (ofd_sigxml_parse(xml, xml_len, it->loc, &sx, &e) != ERR_OK) {
        check_set(checks, "structure", ST_FAILED, "%s", e.msg);
        goto done;
    }
    st->refs += sx.n_refs;
    st->stamps += sx.n_stamps;
    if ((rc = package_limits(p, st, pe)) != ERR_OK)
        goto done;
    json_object_set_new(j, "provider", json_pack("{s:o,s:o,s:o}",
                        "name", jtext(sx.provider_name),
                        "company", jtext(sx.provider_company),
                        "version", jtext(sx.provider_version)));
    json_object_set_new(j, "signature_method", jtext(sx.method));
    json_object_set_new(j, "signature_date_time", jtext(sx.datetime));
    if (ofd_parse_datetime(sx.datetime, &t, &zone, NULL) == ERR_OK) {
        char iso[32];

        util_time_rfc3339(t, iso);
        if (!zone)
            iso[19] = '\0'; /* no zone in the file: local time as written */
        json_object_set_new(j, "signature_time", json_string(iso));
    } else {
        t = 0;
        json_object_set_new(j, "signature_time", json_null());
    }
    json_object_set_new(j, "check_method", jtext(sx.check_method));
    json_object_set_new(j, "signed_value", jtext(sx.value_raw));
    json_object_set_new(j, "seal_loc", sx.seal_raw[0] ? jtext(sx.seal_raw) :
                        json_null());
    json_object_set_new(j, "stamps", stamps_json(p, d, &sx));
    verify_refs(p, &sx, j, checks);
    if ((rc = ofd_pkg_budget_check(p, pe)) != ERR_OK)
        goto done;
    if (ofd_pkg_get(p, sx.value, &sv, &sv_len, &e) != ERR_OK) {
        check_set(checks, "structure", ST_FAILED, "SignedValue: %s", e.msg);
        goto done;
    }
    if (ses_sniff(sv, sv_len) == SES_KIND_SIGNATURE) {
        rc = verify_ses(p, it->loc, &sx, xml, xml_len, sv, sv_len, o, store,
                        j, checks, pe);
    } else if (ses_sniff(sv, sv_len) == SES_KIND_SIGNED_DATA) {
        verify_signed_data(sv, sv_len, xml, xml_len, t, store, j, checks);
    } else if (sm2_sig_normalize(sv, sv_len, rs, NULL) == ERR_OK) {
        json_object_set_new(j, "signed_value_kind",
                            json_string("sm2_signature"));
        check_set(checks, "structure", ST_PASSED,
                  "bare SM2 signature value (digital signature, no seal)");
        check_set(checks, "signature", ST_INDETERMINATE,
                  "no certificate in the package to check a bare SM2 "
                  "signature with");
    } else {
        json_object_set_new(j, "signed_value_kind", json_string("unknown"));
        check_set(checks, "structure", ST_FAILED,
                  "SignedValue is neither an SES_Signature, a GB/T 35275 "
                  "SignedData nor an SM2 signature");
    }
done:
    ofd_sigxml_clear(&sx);
    if (rc == ERR_OK)
        rc = ofd_pkg_budget_check(p, pe);
    if (rc != ERR_OK) {
        json_decref(j);
        return rc;
    }
    sig_indication(j, checks);
    *out = j;
    return ERR_OK;
}

/* Contract: see ofd.h. */
int ofd_report_exit_code(const json_t *report)
{
    return ses_report_exit_code(report);
}

/* Contract: see ofd.h. */
json_t *ofd_report_refused(const struct err *why)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:[],s:{s:s,s:o}}", "kind", "ofd",
                     "indication", "TOTAL_FAILED", "sub_indication",
                     "FORMAT_FAILURE", "summary", "package refused",
                     "signatures", "error", "code", err_name(why->code),
                     "message", jtext(why->msg));
}

/* Contract: see ofd.h. */
err_code ofd_verify(const uint8_t *in, size_t len,
                    const struct ofd_verify_opts *o, json_t **report,
                    struct err *e)
{
    struct ofd_pkg *p = NULL;
    struct ofd_doc d;
    struct ofd_siglist l;
    X509_STORE *store = NULL, *owned = NULL;
    json_t *r = NULL, *sigs = NULL, *pages = NULL;
    size_t n_docs = 0, di, i, n_failed = 0, n_indet = 0;
    const char *ind, *sub = NULL, *summary;
    struct vstate st;
    err_code rc;
    int anchors = 0;

    *report = NULL;
    memset(&d, 0, sizeof(d));
    memset(&l, 0, sizeof(l));
    memset(&st, 0, sizeof(st));
    ofd_init();
    rc = ofd_pkg_open(in, len, o ? o->max_inflated : 0, &p, e);
    if (rc != ERR_OK)
        goto done;
    if ((st.seen = calloc(p->n ? p->n : 1, 1)) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    rc = ofd_doc_load(p, 0, &d, &n_docs, e);
    if (rc != ERR_OK)
        goto done;
    if (o != NULL && o->trust_store != NULL) {
        store = o->trust_store;
    } else if (o != NULL && o->trust_dir != NULL) {
        rc = ses_trust_load(o->trust_dir, NULL, &owned, &anchors, e);
        if (rc != ERR_OK)
            goto done;
        store = owned;
    }
    r = json_object();
    sigs = json_array();
    pages = json_array();
    if (r == NULL || sigs == NULL || pages == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    json_object_set_new(r, "kind", json_string("ofd"));
    json_object_set_new(r, "documents", json_integer((json_int_t)n_docs));
    for (di = 0; di < n_docs; di++) {
        struct err de;

        err_clear(&de);
        if (di > 0) {
            ofd_doc_clear(&d);
            if (ofd_doc_load(p, di, &d, NULL, &de) != ERR_OK) {
                json_array_append_new(sigs, json_pack(
                    "{s:i,s:s,s:s,s:o}", "doc", (int)di, "indication",
                    "TOTAL_FAILED", "sub_indication", "FORMAT_FAILURE",
                    "error", jtext(de.msg)));
                continue;
            }
        }
        json_array_append_new(pages, json_integer((json_int_t)d.n_pages));
        if (d.sigs[0] == '\0')
            continue;
        if (ofd_siglist_load(p, d.sigs, &l, &de) != ERR_OK) {
            json_array_append_new(sigs, json_pack(
                "{s:i,s:o,s:s,s:s,s:o}", "doc", (int)di, "path", jtext(d.sigs),
                "indication", "TOTAL_FAILED", "sub_indication",
                "FORMAT_FAILURE", "error", jtext(de.msg)));
            continue;
        }
        for (i = 0; i < l.n; i++) {
            json_t *one = NULL;

            if ((rc = verify_one(p, &d, &l.items[i], o, store, &st, &one,
                                 e)) != ERR_OK)
                goto done;
            json_array_append_new(sigs, one);
        }
        ofd_siglist_clear(&l);
    }
    /* a document or list whose read was stopped by the budget was reported
     * as unreadable above: the package is refused instead */
    if ((rc = ofd_pkg_budget_check(p, e)) != ERR_OK)
        goto done;
    for (i = 0; i < json_array_size(sigs); i++) {
        const json_t *s = json_array_get(sigs, i);
        const char *si = json_string_value(json_object_get(s, "indication"));

        if (si && !strcmp(si, "TOTAL_FAILED")) {
            if (n_failed++ == 0)
                sub = json_string_value(json_object_get(s, "sub_indication"));
        } else if (si && strcmp(si, "TOTAL_PASSED") != 0) {
            n_indet++;
        }
    }
    if (json_array_size(sigs) == 0) {
        ind = "INDETERMINATE"; sub = "NO_SIGNATURE_FOUND";
        summary = "no signatures";
    } else if (n_failed) {
        ind = "TOTAL_FAILED"; summary = "some failed";
    } else if (n_indet) {
        ind = "INDETERMINATE"; summary = "indeterminate";
        for (i = 0; i < json_array_size(sigs); i++) {
            const json_t *s = json_array_get(sigs, i);
            const char *si = json_string_value(json_object_get(s,
                                                               "indication"));
            if (si && strcmp(si, "TOTAL_PASSED") != 0) {
                sub = json_string_value(json_object_get(s, "sub_indication"));
                break;
            }
        }
    } else {
        ind = "TOTAL_PASSED"; summary = "all valid";
    }
    json_object_set_new(r, "indication", json_string(ind));
    json_object_set_new(r, "sub_indication", sub ? json_string(sub) :
                        json_null());
    json_object_set_new(r, "summary", json_string(summary));
    json_object_set_new(r, "signature_count",
                        json_integer((json_int_t)json_array_size(sigs)));
    if (owned != NULL)
        json_object_set_new(r, "anchors", json_integer(anchors));
    json_object_set_new(r, "pages", pages);
    pages = NULL;
    json_object_set_new(r, "signatures", sigs);
    sigs = NULL;
    *report = r;
    r = NULL;
done:
    json_decref(pages);
    json_decref(sigs);
    json_decref(r);
    ofd_siglist_clear(&l);
    ofd_doc_clear(&d);
    free(st.seen);
    ofd_pkg_free(p);
    X509_STORE_free(owned);
    return rc;
}
