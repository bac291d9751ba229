/*
 * ses.c - owns decoding of seals and signatures (v1/v4/v5) into the bounded
 * flat views of ses.h, structural sniffing, and the JSON views used by
 * `seald inspect`.  Building (encoding + signing) lives in ses_build.c and
 * verification in ses_verify.c.
 */
#include "ses.h"
#include "ses_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "util.h"

/* ---- small DER walker (definite lengths only) ---------------------------- */

/* Contract: see ses_int.h. */
int ses_der_tlv(const uint8_t *p, size_t avail, uint8_t *tag, size_t *hdr,
                size_t *clen)
{
    size_t n, i, l = 0;

    if (avail < 2 || (p[0] & 0x1f) == 0x1f)
        return 0;                        /* no high-tag-number forms here */
    if (p[1] < 0x80) {
        l = p[1];
        n = 2;
    } else {
        size_t k = p[1] & 0x7f;
        if (k == 0 || k > 4 || avail < 2 + k)
            return 0;                    /* indefinite or absurd */
        for (i = 0; i < k; i++)
            l = (l << 8) | p[2 + i];
        n = 2 + k;
    }
    if (l > avail - n)
        return 0;
    *tag = p[0];
    *hdr = n;
    *clen = l;
    return 1;
}

/* Count the children of the SEQUENCE at der; -1 when not a SEQUENCE that
 * fills exactly len bytes.  *first_tag / *first_inner get the tag of the
 * first child and of that child's first child (0 when absent). */
static int seq_shape(const uint8_t *der, size_t len, uint8_t *first_tag,
                     uint8_t *first_inner)
{
    uint8_t tag;
    size_t hdr, clen, off, count = 0;

    *first_tag = *first_inner = 0;
    if (der == NULL || !ses_der_tlv(der, len, &tag, &hdr, &clen) ||
        tag != 0x30 || hdr + clen != len)
        return -1;
    off = hdr;
    while (off < len) {
        uint8_t t;
        size_t h, c;
        if (!ses_der_tlv(der + off, len - off, &t, &h, &c))
            return -1;
        if (count == 0) {
            uint8_t t2;
            size_t h2, c2;
            *first_tag = t;
            if (t == 0x30 && ses_der_tlv(der + off + h, c, &t2, &h2, &c2))
                *first_inner = t2;
        }
        count++;
        off += h + c;
        if (count > 64)
            return -1;
    }
    return (int)count;
}

/* Contract: structural classification, never fails. */
enum ses_kind ses_sniff(const uint8_t *der, size_t len)
{
    uint8_t t, inner;
    int n;

    if (len > SES_MAX_DER)
        return SES_KIND_UNKNOWN;
    n = seq_shape(der, len, &t, &inner);
    if (n == 2 && t == 0x06 && ses_sd_sniff(der, len))
        return SES_KIND_SIGNED_DATA;     /* ContentInfo: type, [0] content */
    if (n < 2 || t != 0x30)
        return SES_KIND_UNKNOWN;
    if (inner == 0x30)
        return SES_KIND_SEAL;            /* SES_SealInfo starts with header */
    if (inner == 0x02)
        return SES_KIND_SIGNATURE;       /* TBS_Sign starts with version */
    return SES_KIND_UNKNOWN;
}

/* ---- field extraction helpers ------------------------------------------- */

/* Copy an ASN.1 string into dst (SES_MAX_STRING+1 bytes). */
static err_code get_str(char *dst, const ASN1_STRING *s, const char *what,
                        struct err *e)
{
    int n;

    dst[0] = '\0';
    if (s == NULL)
        return ERR_OK;
    n = ASN1_STRING_length(s);
    if (n < 0 || n > SES_MAX_STRING)
        return err_set(e, ERR_TOO_LARGE, "%s longer than %d bytes", what,
                       SES_MAX_STRING);
    memcpy(dst, ASN1_STRING_get0_data(s), (size_t)n);
    dst[n] = '\0';
    return ERR_OK;
}

static err_code get_long(long *out, const ASN1_INTEGER *i, const char *what,
                         struct err *e)
{
    int64_t v = 0;

    *out = 0;
    if (i == NULL)
        return ERR_OK;
    if (!ASN1_INTEGER_get_int64(&v, i) || v < -2147483647L || v > 2147483647L) {
        ERR_clear_error();
        return err_set(e, ERR_MALFORMED, "%s out of range", what);
    }
    *out = (long)v;
    return ERR_OK;
}

/* Contract: see ses_int.h. */
err_code ses_time_get(time_t *out, const ASN1_TIME *t, const char *what,
                      struct err *e)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm)) {
        ERR_clear_error();
        return err_set(e, ERR_MALFORMED, "%s is not a valid time", what);
    }
    *out = timegm(&tm);
    return ERR_OK;
}

static err_code get_bytes(struct ses_bytes *b, const ASN1_STRING *s,
                          size_t max, const char *what, struct err *e)
{
    b->p = NULL;
    b->len = 0;
    if (s == NULL)
        return ERR_OK;
    if (ASN1_STRING_length(s) < 0 || (size_t)ASN1_STRING_length(s) > max)
        return err_set(e, ERR_TOO_LARGE, "%s larger than %zu bytes", what,
                       max);
    b->p = ASN1_STRING_get0_data(s);
    b->len = (size_t)ASN1_STRING_length(s);
    return ERR_OK;
}

static void get_oid(char dst[128], const ASN1_OBJECT *o)
{
    dst[0] = '\0';
    if (o == NULL || OBJ_obj2txt(dst, 128, o, 1) <= 0)
        dst[0] = '\0';
}

static err_code get_exts(struct ses_ext *out, size_t *n,
                         const STACK_OF(SES_EXTDATA) *sk, struct err *e)
{
    int i, cnt = sk ? sk_SES_EXTDATA_num(sk) : 0;
    err_code rc;

    *n = 0;
    if (cnt > SES_MAX_EXTS)
        return err_set(e, ERR_TOO_LARGE, "more than %d extensions",
                       SES_MAX_EXTS);
    for (i = 0; i < cnt; i++) {
        const SES_EXTDATA *x = sk_SES_EXTDATA_value(sk, i);
        get_oid(out[i].oid, x->extn_id);
        out[i].critical = x->critical < 0 ? -1 : (x->critical ? 1 : 0);
        rc = get_bytes(&out[i].value, x->extn_value, SES_MAX_EXT_VALUE,
                       "extnValue", e);
        if (rc != ERR_OK)
            return rc;
    }
    *n = (size_t)cnt;
    return ERR_OK;
}

static err_code get_header(struct ses_seal *s, const SES_HEADER *h,
                           const ASN1_IA5STRING *es_id, struct err *e)
{
    err_code rc;

    if ((rc = get_str(s->header_id, h->id, "header ID", e)) != ERR_OK ||
        (rc = get_long(&s->header_version, h->version, "header version",
                       e)) != ERR_OK ||
        (rc = get_str(s->vid, h->vid, "Vid", e)) != ERR_OK ||
        (rc = get_str(s->es_id, es_id, "esID", e)) != ERR_OK)
        return rc;
    return ERR_OK;
}

static err_code get_picture(struct ses_seal *s, const SES_PICTURE *p,
                            struct err *e)
{
    err_code rc;

    if ((rc = get_str(s->picture_type, p->type, "picture type", e)) != ERR_OK ||
        (rc = get_bytes(&s->picture, p->data, SES_MAX_PICTURE, "picture",
                        e)) != ERR_OK ||
        (rc = get_long(&s->picture_width, p->width, "picture width", e)) !=
            ERR_OK ||
        (rc = get_long(&s->picture_height, p->height, "picture height", e)) !=
            ERR_OK)
        return rc;
    return ERR_OK;
}

/* Fill a view from a decoded v4/v5 seal (borrowed; s does not own a). */
static err_code fill_seal_v4(struct ses_seal *s, SES_SEAL *a, struct err *e)
{
    const SES_SEALINFO *in = a->info;
    const SES_PROPERTY *pr = in->property;
    err_code rc;
    int i, cnt;

    if ((rc = get_header(s, in->header, in->es_id, e)) != ERR_OK)
        return rc;
    s->format = (a->timestamp != NULL || s->header_version == 5) ?
                SES_FMT_V5 : SES_FMT_V4;
    if ((rc = get_long(&s->type, pr->type, "seal type", e)) != ERR_OK ||
        (rc = get_str(s->name, pr->name, "seal name", e)) != ERR_OK ||
        (rc = get_long(&s->cert_list_type, pr->cert_list_type,
                       "certListType", e)) != ERR_OK)
        return rc;
    cnt = pr->cert_list ? sk_ASN1_TYPE_num(pr->cert_list) : 0;
    if (cnt > SES_MAX_CERTS)
        return err_set(e, ERR_TOO_LARGE, "more than %d certificates",
                       SES_MAX_CERTS);
    for (i = 0; i < cnt; i++) {
        const ASN1_TYPE *t = sk_ASN1_TYPE_value(pr->cert_list, i);
        struct ses_certref *c = &s->certs[i];
        if (t->type == V_ASN1_OCTET_STRING) {
            rc = get_bytes(&c->der, t->value.octet_string, SES_MAX_CERT_DER,
                           "certificate", e);
        } else if (t->type == V_ASN1_SEQUENCE) {
            /* CertDigestObj: decode the SEQUENCE to reach type and value;
             * the slices must stay valid, so point into the ANY's bytes. */
            const ASN1_STRING *sq = t->value.sequence;
            const uint8_t *p = ASN1_STRING_get0_data(sq);
            size_t len = (size_t)ASN1_STRING_length(sq), h, c1, h2, c2, off;
            uint8_t tag, t2;
            if (!ses_der_tlv(p, len, &tag, &h, &c1) || tag != 0x30 ||
                !ses_der_tlv(p + h, c1, &t2, &h2, &c2) || t2 != 0x13 ||
                c2 > SES_MAX_DIGEST_TYPE)
                return err_set(e, ERR_MALFORMED, "bad CertDigestObj");
            memcpy(c->digest_type, p + h + h2, c2);
            c->digest_type[c2] = '\0';
            off = h + h2 + c2;
            if (!ses_der_tlv(p + off, len - off, &tag, &h2, &c2) ||
                tag != 0x04 || off + h2 + c2 != h + c1 || c2 > SES_MAX_HASH)
                return err_set(e, ERR_MALFORMED, "bad CertDigestObj value");
            c->der.p = p + off + h2;
            c->der.len = c2;
        } else {
            return err_set(e, ERR_MALFORMED, "certList element of type %d",
                           t->type);
        }
        if (rc != ERR_OK)
            return rc;
    }
    s->n_certs = (size_t)cnt;
    if ((rc = ses_time_get(&s->create_date, pr->create_date, "createDate",
                           e)) != ERR_OK ||
        (rc = ses_time_get(&s->valid_start, pr->valid_start, "validStart",
                           e)) != ERR_OK ||
        (rc = ses_time_get(&s->valid_end, pr->valid_end, "validEnd", e)) !=
            ERR_OK ||
        (rc = get_picture(s, in->picture, e)) != ERR_OK ||
        (rc = get_exts(s->ext, &s->n_ext, in->ext, e)) != ERR_OK ||
        (rc = get_bytes(&s->maker_cert, a->cert, SES_MAX_CERT_DER,
                        "maker certificate", e)) != ERR_OK ||
        (rc = get_bytes(&s->sig_value, a->value, SES_MAX_SIGVALUE,
                        "seal signature", e)) != ERR_OK ||
        (rc = get_bytes(&s->timestamp, a->timestamp, SES_MAX_TIMESTAMP,
                        "seal timeStamp", e)) != ERR_OK)
        return rc;
    get_oid(s->sig_alg, a->alg);
    s->has_timestamp = a->timestamp != NULL;
    if (in->enc.enc == NULL || in->enc.len <= 0)
        return err_set(e, ERR_INTERNAL, "SES_SealInfo encoding not kept");
    s->signed_part.p = in->enc.enc;
    s->signed_part.len = (size_t)in->enc.len;
    return ERR_OK;
}

/* Fill a view from a decoded v1 seal; builds the signed SEQUENCE
 * {SES_SealInfo, cert, signatureAlgorithm} from the original element bytes. */
static err_code fill_seal_v1(struct ses_seal *s, SES_SEAL_V1 *a, struct err *e)
{
    const SES_SEALINFO_V1 *in = a->info;
    const SES_PROPERTY_V1 *pr = in->property;
    const SES_SIGNINFO_V1 *si = a->sign;
    err_code rc;
    int i, cnt;
    uint8_t tag;
    size_t h, c, h1, c1, h2, c2, body, hl, k;
    const uint8_t *sp;
    uint8_t *buf;

    if ((rc = get_header(s, in->header, in->es_id, e)) != ERR_OK)
        return rc;
    s->format = SES_FMT_V1;
    s->cert_list_type = 1;
    if ((rc = get_long(&s->type, pr->type, "seal type", e)) != ERR_OK ||
        (rc = get_str(s->name, pr->name, "seal name", e)) != ERR_OK)
        return rc;
    cnt = pr->cert_list ? sk_ASN1_TYPE_num(pr->cert_list) : 0;
    if (cnt > SES_MAX_CERTS)
        return err_set(e, ERR_TOO_LARGE, "more than %d certificates",
                       SES_MAX_CERTS);
    for (i = 0; i < cnt; i++) {
        const ASN1_TYPE *t = sk_ASN1_TYPE_value(pr->cert_list, i);
        if (t->type != V_ASN1_OCTET_STRING)
            continue;            /* some producers list other identifiers */
        rc = get_bytes(&s->certs[s->n_certs].der, t->value.octet_string,
                       SES_MAX_CERT_DER, "certificate", e);
        if (rc != ERR_OK)
            return rc;
        s->n_certs++;
    }
    if ((rc = ses_time_get(&s->create_date, pr->create_date, "createDate",
                           e)) != ERR_OK ||
        (rc = ses_time_get(&s->valid_start, pr->valid_start, "validStart",
                           e)) != ERR_OK ||
        (rc = ses_time_get(&s->valid_end, pr->valid_end, "validEnd", e)) !=
            ERR_OK ||
        (rc = get_picture(s, in->picture, e)) != ERR_OK ||
        (rc = get_exts(s->ext, &s->n_ext, in->ext ? in->ext : in->ext0, e)) !=
            ERR_OK ||
        (rc = get_bytes(&s->maker_cert, si->cert, SES_MAX_CERT_DER,
                        "maker certificate", e)) != ERR_OK ||
        (rc = get_bytes(&s->sig_value, si->value, SES_MAX_SIGVALUE,
                        "seal signature", e)) != ERR_OK)
        return rc;
    get_oid(s->sig_alg, si->alg);
    if (in->enc.enc == NULL || si->enc.enc == NULL)
        return err_set(e, ERR_INTERNAL, "v1 encodings not kept");
    sp = si->enc.enc;
    if (!ses_der_tlv(sp, (size_t)si->enc.len, &tag, &h, &c) ||
        !ses_der_tlv(sp + h, c, &tag, &h1, &c1) ||
        !ses_der_tlv(sp + h + h1 + c1, c - h1 - c1, &tag, &h2, &c2))
        return err_set(e, ERR_MALFORMED, "bad SES_SignInfo");
    body = (size_t)in->enc.len + h1 + c1 + h2 + c2;
    buf = malloc(body + 6);
    if (buf == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    buf[0] = 0x30;
    if (body < 0x80) {
        buf[1] = (uint8_t)body;
        hl = 2;
    } else {
        size_t nb = body > 0xffffff ? 4 : body > 0xffff ? 3 :
                    body > 0xff ? 2 : 1;
        buf[1] = (uint8_t)(0x80 | nb);
        for (k = 0; k < nb; k++)
            buf[2 + k] = (uint8_t)(body >> (8 * (nb - 1 - k)));
        hl = 2 + nb;
    }
    memcpy(buf + hl, in->enc.enc, (size_t)in->enc.len);
    memcpy(buf + hl + in->enc.len, sp + h, h1 + c1 + h2 + c2);
    s->owned_signed_ = buf;
    s->signed_part.p = buf;
    s->signed_part.len = hl + body;
    return ERR_OK;
}

/* Release what a view owns, without freeing the view itself. */
static void seal_release(struct ses_seal *s)
{
    if (s->owns_asn1_ && s->asn1_ != NULL) {
        if (s->format == SES_FMT_V1)
            SES_SEAL_V1_free(s->asn1_);
        else
            SES_SEAL_free(s->asn1_);
    }
    free(s->owned_signed_);
    s->asn1_ = NULL;
    s->owned_signed_ = NULL;
}

/* Contract: *out allocated on success, NULL on failure. */
err_code ses_seal_decode(const uint8_t *der, size_t len, struct ses_seal **out,
                         struct err *e)
{
    err_code rc = ERR_OK;
    struct ses_seal *s = NULL;
    const unsigned char *p = der;
    uint8_t t, inner;
    int n;

    *out = NULL;
    if (len > SES_MAX_DER) {
        rc = err_set(e, ERR_TOO_LARGE, "seal larger than %u bytes",
                     SES_MAX_DER);
        goto done;
    }
    n = seq_shape(der, len, &t, &inner);
    if (n < 0 || t != 0x30 || inner != 0x30) {
        rc = err_set(e, ERR_MALFORMED, "not an SESeal");
        goto done;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    s->owns_asn1_ = 1;
    if (n == 2) {
        SES_SEAL_V1 *a = d2i_SES_SEAL_V1(NULL, &p, (long)len);
        s->format = SES_FMT_V1;
        s->asn1_ = a;
        if (a == NULL || p != der + len) {
            rc = err_set(e, ERR_MALFORMED, "v1 SESeal does not decode");
            goto done;
        }
        rc = fill_seal_v1(s, a, e);
    } else if (n == 4 || n == 5) {
        SES_SEAL *a = d2i_SES_SEAL(NULL, &p, (long)len);
        s->format = SES_FMT_V4;
        s->asn1_ = a;
        if (a == NULL || p != der + len) {
            rc = err_set(e, ERR_MALFORMED, "v4/v5 SESeal does not decode");
            goto done;
        }
        rc = fill_seal_v4(s, a, e);
    } else {
        rc = err_set(e, ERR_MALFORMED, "SESeal with %d fields", n);
    }
done:
    ERR_clear_error();
    if (rc != ERR_OK && s != NULL) {
        seal_release(s);
        free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

/* Contract: NULL-safe. */
void ses_seal_free(struct ses_seal *s)
{
    if (s == NULL)
        return;
    seal_release(s);
    free(s);
}

/* Parse v1 timeInfo text: "yyyy-MM-dd HH:mm:ss", ISO 8601 with optional
 * fraction and zone, or compact digits.  No zone means Beijing time (+08:00),
 * which is what the producers of such files use. */
static int parse_text_time(const char *txt, time_t *out)
{
    int v[6] = {0}, nf = 0, width[6] = {4, 2, 2, 2, 2, 2};
    const char *q = txt;
    long off = 8 * 3600;
    struct tm tm;

    while (nf < 6 && *q) {
        int k, x = 0;
        if (*q < '0' || *q > '9') {
            q++;
            continue;
        }
        for (k = 0; k < width[nf] && *q >= '0' && *q <= '9'; k++, q++)
            x = x * 10 + (*q - '0');
        if (k != width[nf])
            return 0;
        v[nf++] = x;
    }
    if (nf < 6)
        return 0;
    if (*q == '.')
        for (q++; *q >= '0' && *q <= '9'; q++)
            ;
    if (*q == 'Z') {
        off = 0;
    } else if ((*q == '+' || *q == '-') && strlen(q) >= 3) {
        int hh = (q[1] - '0') * 10 + (q[2] - '0'), mm = 0;
        const char *r = q + 3;
        if (*r == ':')
            r++;
        if (r[0] >= '0' && r[0] <= '9' && r[1] >= '0' && r[1] <= '9')
            mm = (r[0] - '0') * 10 + (r[1] - '0');
        off = (hh * 3600L + mm * 60L) * (*q == '-' ? -1 : 1);
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
        v[4] > 59 || v[5] > 60)
        return 0;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = v[0] - 1900;
    tm.tm_mon = v[1] - 1;
    tm.tm_mday = v[2];
    tm.tm_hour = v[3];
    tm.tm_min = v[4];
    tm.tm_sec = v[5];
    *out = timegm(&tm) - off;
    return 1;
}

static err_code fill_sig_v4(struct ses_signature *s, SES_SIG *a, struct err *e)
{
    SES_TBS *t = a->tbs;
    err_code rc;

    if ((rc = get_long(&s->version, t->version, "TBS_Sign version", e)) !=
        ERR_OK)
        return rc;
    s->format = s->version == 5 ? SES_FMT_V5 : SES_FMT_V4;
    s->seal.asn1_ = t->seal;
    s->seal.owns_asn1_ = 0;
    if ((rc = fill_seal_v4(&s->seal, t->seal, e)) != ERR_OK)
        return rc;
    if (ses_time_get(&s->time_info, t->time_info, "timeInfo", NULL) == ERR_OK)
        s->time_info_ok = 1;
    if (t->time_info != NULL) {
        int n = ASN1_STRING_length(t->time_info);
        if (n > 0 && (size_t)n < sizeof(s->time_info_text)) {
            memcpy(s->time_info_text, ASN1_STRING_get0_data(t->time_info),
                   (size_t)n);
            s->time_info_text[n] = '\0';
        }
    }
    if ((rc = get_bytes(&s->data_hash, t->data_hash, SES_MAX_HASH,
                        "dataHash", e)) != ERR_OK ||
        (rc = get_str(s->property_info, t->property_info, "propertyInfo",
                      e)) != ERR_OK ||
        (rc = get_exts(s->ext, &s->n_ext, t->ext, e)) != ERR_OK ||
        (rc = get_bytes(&s->signer_cert, a->cert, SES_MAX_CERT_DER,
                        "signer certificate", e)) != ERR_OK ||
        (rc = get_bytes(&s->sig_value, a->value, SES_MAX_SIGVALUE,
                        "signature", e)) != ERR_OK ||
        (rc = get_bytes(&s->timestamp, a->timestamp, SES_MAX_TIMESTAMP,
                        "timeStamp", e)) != ERR_OK)
        return rc;
    get_oid(s->sig_alg, a->alg);
    s->has_timestamp = a->timestamp != NULL;
    if (t->enc.enc == NULL || t->enc.len <= 0)
        return err_set(e, ERR_INTERNAL, "TBS_Sign encoding not kept");
    s->tbs.p = t->enc.enc;
    s->tbs.len = (size_t)t->enc.len;
    return ERR_OK;
}

static err_code fill_sig_v1(struct ses_signature *s, SES_SIG_V1 *a,
                            struct err *e)
{
    SES_TBS_V1 *t = a->tbs;
    err_code rc;
    int n;

    s->format = SES_FMT_V1;
    if ((rc = get_long(&s->version, t->version, "TBS_Sign version", e)) !=
        ERR_OK)
        return rc;
    s->seal.asn1_ = t->seal;
    s->seal.owns_asn1_ = 0;
    if ((rc = fill_seal_v1(&s->seal, t->seal, e)) != ERR_OK)
        return rc;
    n = t->time_info ? ASN1_STRING_length(t->time_info) : 0;
    if (n > 0 && (size_t)n < sizeof(s->time_info_text)) {
        memcpy(s->time_info_text, ASN1_STRING_get0_data(t->time_info),
               (size_t)n);
        s->time_info_text[n] = '\0';
        s->time_info_ok = parse_text_time(s->time_info_text, &s->time_info);
    }
    if ((rc = get_bytes(&s->data_hash, t->data_hash, SES_MAX_HASH,
                        "dataHash", e)) != ERR_OK ||
        (rc = get_str(s->property_info, t->property_info, "propertyInfo",
                      e)) != ERR_OK ||
        (rc = get_bytes(&s->signer_cert, t->cert, SES_MAX_CERT_DER,
                        "signer certificate", e)) != ERR_OK ||
        (rc = get_bytes(&s->sig_value, a->value, SES_MAX_SIGVALUE,
                        "signature", e)) != ERR_OK)
        return rc;
    get_oid(s->sig_alg, t->alg);
    if (t->enc.enc == NULL || t->enc.len <= 0)
        return err_set(e, ERR_INTERNAL, "TBS_Sign encoding not kept");
    s->tbs.p = t->enc.enc;
    s->tbs.len = (size_t)t->enc.len;
    return ERR_OK;
}

/* Contract: NULL-safe. */
void ses_signature_free(struct ses_signature *s)
{
    if (s == NULL)
        return;
    free(s->seal.owned_signed_);
    if (s->format == SES_FMT_V1)
        SES_SIG_V1_free(s->asn1_);
    else
        SES_SIG_free(s->asn1_);
    free(s);
}

/* Contract: *out allocated on success, NULL on failure. */
err_code ses_signature_decode(const uint8_t *der, size_t len,
                              struct ses_signature **out, struct err *e)
{
    err_code rc = ERR_OK;
    struct ses_signature *s = NULL;
    const unsigned char *p = der;
    uint8_t t, inner;
    int n = 0;

    *out = NULL;
    if (len > SES_MAX_DER) {
        rc = err_set(e, ERR_TOO_LARGE, "signature larger than %u bytes",
                     SES_MAX_DER);
        goto done;
    }
    n = seq_shape(der, len, &t, &inner);
    if (n < 0 || t != 0x30 || inner != 0x02) {
        rc = err_set(e, ERR_MALFORMED, "not an SES_Signature");
        goto done;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (n == 2) {
        SES_SIG_V1 *a = d2i_SES_SIG_V1(NULL, &p, (long)len);
        s->format = SES_FMT_V1;
        s->asn1_ = a;
        if (a == NULL || p != der + len) {
            rc = err_set(e, ERR_MALFORMED, "v1 SES_Signature does not decode");
            goto done;
        }
        rc = fill_sig_v1(s, a, e);
    } else if (n == 4 || n == 5) {
        SES_SIG *a = d2i_SES_SIG(NULL, &p, (long)len);
        s->format = SES_FMT_V4;
        s->asn1_ = a;
        if (a == NULL || p != der + len) {
            rc = err_set(e, ERR_MALFORMED,
                         "v4/v5 SES_Signature does not decode");
            goto done;
        }
        rc = fill_sig_v4(s, a, e);
    } else {
        rc = err_set(e, ERR_MALFORMED, "SES_Signature with %d fields", n);
    }
done:
    ERR_clear_error();
    if (rc != ERR_OK && s != NULL) {
        /* the format field may have been changed by fill; free by type */
        if (s->asn1_ != NULL && n == 2)
            s->format = SES_FMT_V1;
        else if (s->asn1_ != NULL)
            s->format = SES_FMT_V4;
        ses_signature_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

/* ---- JSON views ---------------------------------------------------------- */

/* Contract: see ses_int.h. */
json_t *ses_json_text(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    char *tmp;
    size_t i;

    if (j != NULL)
        return j;
    tmp = malloc(len + 1);            /* not UTF-8: keep ASCII, mask others */
    if (tmp == NULL)
        return NULL;
    for (i = 0; i < len; i++)
        tmp[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    j = json_stringn(tmp, len);
    free(tmp);
    return j;
}

/* Contract: see ses_int.h. */
json_t *ses_json_time(time_t t)
{
    char buf[21];

    util_time_rfc3339(t, buf);
    return json_string(buf);
}

json_t *ses_json_hex(const uint8_t *p, size_t len)
{
    char *h = malloc(2 * len + 1);
    json_t *j;

    if (h == NULL)
        return NULL;
    util_hex_encode(p, len, h);
    j = json_string(h);
    free(h);
    return j;
}

static json_t *name_json(const X509_NAME *n)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len;
    json_t *j = NULL;

    if (b == NULL)
        return NULL;
    if (X509_NAME_print_ex(b, n, 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        len = BIO_get_mem_data(b, &data);
        if (len >= 0)
            j = ses_json_text(data, (size_t)len);
    }
    BIO_free(b);
    return j;
}

/* Contract: see ses_int.h (x borrowed). */
json_t *ses_cert_json_x509(X509 *x)
{
    json_t *j = json_object();
    BIGNUM *bn = NULL;
    char *hex = NULL;
    struct tm tm;

    if (j == NULL)
        return NULL;
    json_object_set_new(j, "subject", name_json(X509_get_subject_name(x)));
    json_object_set_new(j, "issuer", name_json(X509_get_issuer_name(x)));
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    if (bn != NULL && (hex = BN_bn2hex(bn)) != NULL)
        json_object_set_new(j, "serial", json_string(hex));
    if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm))
        json_object_set_new(j, "not_before", ses_json_time(timegm(&tm)));
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
        json_object_set_new(j, "not_after", ses_json_time(timegm(&tm)));
    json_object_set_new(j, "sm2_key",
                        json_boolean(sm2_is_sm2_key(X509_get0_pubkey(x))));
    OPENSSL_free(hex);
    BN_free(bn);
    ERR_clear_error();
    return j;
}

/* Contract: summary of a DER certificate, {"error"} when unparsable. */
json_t *ses_cert_to_json(const uint8_t *der, size_t len)
{
    X509 *x = NULL;
    json_t *j;

    if (sm2_cert_parse(der, len, &x, NULL) != ERR_OK) {
        j = json_object();
        json_object_set_new(j, "error", json_string("not a valid certificate"));
        return j;
    }
    j = ses_cert_json_x509(x);
    X509_free(x);
    return j;
}

static const char *fmt_name(int f)
{
    return f == SES_FMT_V1 ? "v1" : f == SES_FMT_V5 ? "v5" : "v4";
}

static json_t *exts_json(const struct ses_ext *x, size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "oid", json_string(x[i].oid));
        json_object_set_new(o, "critical",
                            x[i].critical < 0 ? json_null() :
                            json_boolean(x[i].critical));
        json_object_set_new(o, "size", json_integer((json_int_t)x[i].value.len));
        json_object_set_new(o, "value_hex",
                            ses_json_hex(x[i].value.p, x[i].value.len));
        json_array_append_new(a, o);
    }
    return a;
}

/* Contract: inspect view of a seal. */
json_t *ses_seal_to_json(const struct ses_seal *s)
{
    json_t *j = json_object(), *h = json_object(), *certs = json_array(),
           *pic = json_object();
    size_t i;

    if (j == NULL || h == NULL || certs == NULL || pic == NULL) {
        json_decref(j);
        json_decref(h);
        json_decref(certs);
        json_decref(pic);
        return NULL;
    }
    json_object_set_new(j, "kind", json_string("seal"));
    json_object_set_new(j, "format", json_string(fmt_name(s->format)));
    json_object_set_new(h, "id", ses_json_text(s->header_id,
                                               strlen(s->header_id)));
    json_object_set_new(h, "version", json_integer(s->header_version));
    json_object_set_new(h, "vid", ses_json_text(s->vid, strlen(s->vid)));
    json_object_set_new(j, "header", h);
    json_object_set_new(j, "version", json_integer(s->header_version));
    json_object_set_new(j, "es_id", ses_json_text(s->es_id, strlen(s->es_id)));
    json_object_set_new(j, "name", ses_json_text(s->name, strlen(s->name)));
    json_object_set_new(j, "type", json_integer(s->type));
    json_object_set_new(j, "cert_list_type", json_integer(s->cert_list_type));
    for (i = 0; i < s->n_certs; i++) {
        json_t *c;
        if (s->certs[i].digest_type[0] != '\0') {
            c = json_object();
            json_object_set_new(c, "digest_type",
                                json_string(s->certs[i].digest_type));
            json_object_set_new(c, "digest", ses_json_hex(s->certs[i].der.p,
                                                          s->certs[i].der.len));
        } else {
            c = ses_cert_to_json(s->certs[i].der.p, s->certs[i].der.len);
        }
        json_array_append_new(certs, c);
    }
    json_object_set_new(j, "certificates", certs);
    json_object_set_new(j, "create_date", ses_json_time(s->create_date));
    json_object_set_new(j, "valid_start", ses_json_time(s->valid_start));
    json_object_set_new(j, "valid_end", ses_json_time(s->valid_end));
    json_object_set_new(pic, "type", ses_json_text(s->picture_type,
                                                   strlen(s->picture_type)));
    json_object_set_new(pic, "size", json_integer((json_int_t)s->picture.len));
    json_object_set_new(pic, "width_mm", json_integer(s->picture_width));
    json_object_set_new(pic, "height_mm", json_integer(s->picture_height));
    json_object_set_new(j, "picture", pic);
    json_object_set_new(j, "extensions", exts_json(s->ext, s->n_ext));
    json_object_set_new(j, "maker_certificate",
                        ses_cert_to_json(s->maker_cert.p, s->maker_cert.len));
    json_object_set_new(j, "signature_algorithm", json_string(s->sig_alg));
    json_object_set_new(j, "signature_size",
                        json_integer((json_int_t)s->sig_value.len));
    json_object_set_new(j, "timestamp_present", json_boolean(s->has_timestamp));
    if (s->has_timestamp)
        json_object_set_new(j, "timestamp_size",
                            json_integer((json_int_t)s->timestamp.len));
    return j;
}

/* Contract: inspect view of a signature (embeds the seal view). */
json_t *ses_signature_to_json(const struct ses_signature *s)
{
    json_t *j = json_object();

    if (j == NULL)
        return NULL;
    json_object_set_new(j, "kind", json_string("signature"));
    json_object_set_new(j, "format", json_string(fmt_name(s->format)));
    json_object_set_new(j, "version", json_integer(s->version));
    json_object_set_new(j, "time_info",
                        s->time_info_ok ? ses_json_time(s->time_info) :
                        json_null());
    json_object_set_new(j, "time_info_raw",
                        ses_json_text(s->time_info_text,
                                      strlen(s->time_info_text)));
    json_object_set_new(j, "data_hash", ses_json_hex(s->data_hash.p,
                                                     s->data_hash.len));
    json_object_set_new(j, "property_info",
                        ses_json_text(s->property_info,
                                      strlen(s->property_info)));
    json_object_set_new(j, "extensions", exts_json(s->ext, s->n_ext));
    json_object_set_new(j, "signer_certificate",
                        ses_cert_to_json(s->signer_cert.p, s->signer_cert.len));
    json_object_set_new(j, "signature_algorithm", json_string(s->sig_alg));
    json_object_set_new(j, "signature_size",
                        json_integer((json_int_t)s->sig_value.len));
    json_object_set_new(j, "timestamp_present", json_boolean(s->has_timestamp));
    if (s->has_timestamp)
        json_object_set_new(j, "timestamp_size",
                            json_integer((json_int_t)s->timestamp.len));
    json_object_set_new(j, "seal", ses_seal_to_json(&s->seal));
    return j;
}
