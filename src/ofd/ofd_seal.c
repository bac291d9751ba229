/*
 * ofd_seal.c - owns sealing an OFD package (GB/T 33190 section 18): stamp
 * positions (page + coordinates, keyword on a page, cross-page 骑缝章), the
 * choice of References, writing Signature.xml / Signatures.xml (and the
 * Signatures declaration in OFD.xml when it is new), calling the caller's
 * signing callback with SM3(Signature.xml), and writing the new package with
 * libzip so that every entry the signature does not touch keeps its exact
 * compressed bytes.
 */
#include "ofd.h"
#include "ofd_int.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "util.h"

#define OFD_NS          "http://www.ofdspec.org/2016"
#define OFD_POS_EPSILON 0.001                 /* mm of tolerance on page edges */
#define OFD_MAX_DELTAS  65536                 /* DeltaX values of a TextCode   */
#define OFD_MAX_STAMP_MM 10000.0              /* stamp width / height          */
#define OFD_SB_LINE     1024                  /* one sb_printf call            */

/* ---- a growing string -------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

/* Append n bytes; on allocation failure set oom and stop growing. */
static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 1024;
        char *np;

        while (nc < b->len + n + 1)
            nc *= 2;
        np = realloc(b->p, nc);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Append a C string. */
static void sb_puts(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Append printf output (at most 1 KiB per call; longer sets oom). */
static void sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[OFD_SB_LINE];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->oom = 1;
        return;
    }
    sb_add(b, tmp, (size_t)n);
}

/* XML-escaped text (attribute-safe). */
static void sb_esc(struct sbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        default: sb_add(b, s, 1);
        }
    }
}

/* Number in mm: up to 3 decimals, trailing zeros trimmed. */
static void sb_num(struct sbuf *b, double v)
{
    char tmp[64];
    size_t n;

    if (fabs(v) < 0.0005)
        v = 0;
    snprintf(tmp, sizeof(tmp), "%.3f", v);
    n = strlen(tmp);
    while (n > 0 && tmp[n - 1] == '0')
        tmp[--n] = '\0';
    if (n > 0 && tmp[n - 1] == '.')
        tmp[--n] = '\0';
    sb_puts(b, tmp);
}

/* Append "x y w h" in mm. */
static void sb_box(struct sbuf *b, const double *v)
{
    sb_num(b, v[0]); sb_puts(b, " ");
    sb_num(b, v[1]); sb_puts(b, " ");
    sb_num(b, v[2]); sb_puts(b, " ");
    sb_num(b, v[3]);
}

/* ---- positions ---------------------------------------------------------- */

struct placed {
    size_t page;
    double box[4];
    int has_clip;
    double clip[4];
};

/* UTF-8 code points in s[0..n). */
static size_t utf8_count(const char *s, size_t n)
{
    size_t i, c = 0;

    for (i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            c++;
    return c;
}

/* Expand a DeltaX attribute ("g N v" runs) into d (cap values); count. */
static size_t parse_deltas(const char *s, double *d, size_t cap)
{
    size_t n = 0;
    char *end;

    while (*s && n < cap) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        if (*s == '\0')
            break;
        if (*s == 'g') {
            char tok[16];
            size_t tl = 0;
            long cnt;
            double v;

            s++;
            while (*s == ' ' || *s == '\t')
                s++;
            while (isdigit((unsigned char)*s) && tl < sizeof(tok) - 1)
                tok[tl++] = *s++;
            tok[tl] = '\0';
            if (util_parse_long(tok, 0, OFD_MAX_DELTAS, &cnt, NULL) != ERR_OK)
                break;
            v = strtod(s, &end);
            if (end == s || !isfinite(v))
                break;
            s = end;
            while (cnt-- > 0 && n < cap)
                d[n++] = v;
        } else {
            double v = strtod(s, &end);

            if (end == s || !isfinite(v))
                break;
            d[n++] = v;
            s = end;
        }
    }
    return n;
}

/* Search the TextObjects under n for kw; on a hit fill box and return 1. */
static int find_text(xmlNodePtr n, const char *kw, double *box, int depth)
{
    xmlNodePtr c;

    if (depth > OFD_XML_MAX_DEPTH)
        return 0;
    for (c = n->children; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (ofd_xml_is(c, "TextObject")) {
            char bnd[256], size_s[64];
            double b[4], fsize = 0;
            xmlNodePtr tc;

            if (!ofd_xml_text(c, "Boundary", bnd, sizeof(bnd)) ||
                !ofd_parse_box(bnd, b, 4))
                continue;
            if (ofd_xml_text(c, "Size", size_s, sizeof(size_s)))
                ofd_parse_box(size_s, &fsize, 1);
            for (tc = ofd_xml_child(c, "TextCode"); tc != NULL;
                 tc = ofd_xml_next(tc, "TextCode")) {
                xmlChar *txt = xmlNodeGetContent(tc);
                const char *t = (const char *)txt, *hit;
                char xs[64], dxs[4096];
                double x0 = 0, *d = NULL, start = 0, end = 0;
                size_t nchar, i0, i1, nd = 0, i;

                if (txt == NULL)
                    continue;
                hit = strstr(t, kw);
                if (hit == NULL) {
                    xmlFree(txt);
                    continue;
                }
                if (ofd_xml_text(tc, "X", xs, sizeof(xs)))
                    ofd_parse_box(xs, &x0, 1);
                nchar = utf8_count(t, strlen(t));
                i0 = utf8_count(t, (size_t)(hit - t));
                i1 = i0 + utf8_count(kw, strlen(kw));
                if (ofd_xml_text(tc, "DeltaX", dxs, sizeof(dxs)) &&
                    nchar > 0 && (d = calloc(nchar, sizeof(*d))) != NULL)
                    nd = parse_deltas(dxs, d, nchar);
                /* advance of glyph i: DeltaX[i] when given, else font size */
                for (i = 0; i < i1; i++) {
                    double adv = i < nd ? d[i] : (fsize > 0 ? fsize : 0);

                    if (i < i0)
                        start += adv;
                    end += adv;
                }
                free(d);
                xmlFree(txt);
                if (i0 == 0 && i1 >= nchar) {
                    memcpy(box, b, sizeof(b)); /* the whole TextObject */
                } else {
                    box[0] = b[0] + x0 + start;
                    box[1] = b[1];
                    box[2] = end - start > 0 ? end - start : b[2];
                    box[3] = b[3];
                }
                return 1;
            }
            continue;
        }
        if (find_text(c, kw, box, depth + 1))
            return 1;
    }
    return 0;
}

static err_code keyword_box(struct ofd_pkg *p, const struct ofd_doc *d,
                            size_t page, const char *kw, double *box,
                            struct err *e)
{
    const uint8_t *data;
    size_t len;
    xmlDocPtr doc = NULL;
    err_code rc;
    int hit;

    if (ofd_pkg_find(p, d->pages[page].path) < 0)
        return err_set(e, ERR_MALFORMED, "%s missing from the package",
                       d->pages[page].path);
    rc = ofd_pkg_get(p, d->pages[page].path, &data, &len, e);
    if (rc != ERR_OK)
        return rc;
    if ((rc = ofd_pkg_charge_parse(p, len, e)) != ERR_OK)
        return rc;
    rc = ofd_xml_parse(data, len, d->pages[page].path, &doc, e);
    if (rc != ERR_OK)
        return rc;
    hit = find_text(xmlDocGetRootElement(doc), kw, box, 1);
    xmlFreeDoc(doc);
    return hit ? ERR_OK : ERR_NOT_FOUND;
}

static int box_on_page(const double *b, double pw, double ph)
{
    return b[0] >= -OFD_POS_EPSILON && b[1] >= -OFD_POS_EPSILON &&
           b[2] > 0 && b[3] > 0 && b[0] + b[2] <= pw + OFD_POS_EPSILON &&
           b[1] + b[3] <= ph + OFD_POS_EPSILON;
}

/* Compute the StampAnnots for pos; *out malloc'ed (*n entries). */
static err_code place(struct ofd_pkg *p, const struct ofd_doc *d,
                      const struct ofd_stamp_pos *pos, double W, double H,
                      struct placed **out, size_t *n, struct err *e)
{
    struct placed *pl = NULL;
    double pw, ph;
    size_t i, first, last, cnt;
    err_code rc = ERR_OK;

    *out = NULL;
    *n = 0;
    if (d->n_pages == 0)
        return err_set(e, ERR_MALFORMED, "the document has no pages");
    if (!(W > 0) || !(H > 0) || W > OFD_MAX_STAMP_MM || H > OFD_MAX_STAMP_MM)
        return err_set(e, ERR_INVALID, "stamp size must be positive (mm)");
    switch (pos->mode) {
    case OFD_STAMP_PAGE:
        if (pos->page >= d->n_pages)
            return err_set(e, ERR_INVALID, "page %zu out of range (%zu pages)",
                           pos->page, d->n_pages);
        pl = calloc(1, sizeof(*pl));
        if (pl == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        pl->page = pos->page;
        pl->box[0] = pos->x;
        pl->box[1] = pos->y;
        pl->box[2] = W;
        pl->box[3] = H;
        ofd_page_size(p, d, pos->page, &pw, &ph);
        if (!isfinite(pos->x) || !isfinite(pos->y) ||
            !box_on_page(pl->box, pw, ph)) {
            rc = err_set(e, ERR_INVALID, "stamp outside page %zu (%gx%g mm)",
                         pos->page, pw, ph);
            goto done;
        }
        *n = 1;
        break;
    case OFD_STAMP_KEYWORD: {
        double kb[4];
        size_t from = 0, to = d->n_pages;

        if (pos->keyword == NULL || pos->keyword[0] == '\0' ||
            strlen(pos->keyword) > OFD_MAX_KEYWORD)
            return err_set(e, ERR_INVALID, "keyword missing or too long");
        if (pos->page != OFD_PAGE_ANY) {
            if (pos->page >= d->n_pages)
                return err_set(e, ERR_INVALID, "page %zu out of range",
                               pos->page);
            from = pos->page;
            to = pos->page + 1;
        }
        for (i = from; i < to; i++) {
            rc = keyword_box(p, d, i, pos->keyword, kb, e);
            if (rc == ERR_OK)
                break;
            if (rc != ERR_NOT_FOUND)
                return rc;
        }
        if (i == to)
            return err_set(e, ERR_INVALID, "keyword not found");
        rc = ERR_OK;
        pl = calloc(1, sizeof(*pl));
        if (pl == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        pl->page = i;
        pl->box[0] = kb[0] + kb[2] / 2 - W / 2;
        pl->box[1] = kb[1] + kb[3] / 2 - H / 2;
        pl->box[2] = W;
        pl->box[3] = H;
        *n = 1;
        break;
    }
    case OFD_STAMP_CROSS_PAGE:
        first = pos->first_page;
        last = pos->last_page;
        if (first == 0 && last == 0)
            last = d->n_pages - 1;
        if (first > last || last >= d->n_pages)
            return err_set(e, ERR_INVALID, "cross-page range %zu..%zu out of "
                           "range (%zu pages)", first, last, d->n_pages);
        cnt = last - first + 1;
        if (cnt < 2)
            return err_set(e, ERR_INVALID,
                           "a cross-page stamp needs at least two pages");
        pl = calloc(cnt, sizeof(*pl));
        if (pl == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        for (i = 0; i < cnt; i++) {
            double sw = W / (double)cnt, y;

            ofd_page_size(p, d, first + i, &pw, &ph);
            y = pos->y < 0 ? (ph - H) / 2 : pos->y;
            if (!isfinite(y) || y < 0 || y + H > ph + OFD_POS_EPSILON) {
                rc = err_set(e, ERR_INVALID, "stamp outside page %zu",
                             first + i);
                goto done;
            }
            pl[i].page = first + i;
            /* the whole picture placed so that slice i is at the right edge;
               Clip (in the boundary's coordinates) shows only that slice */
            pl[i].box[0] = pw - (double)(i + 1) * sw;
            pl[i].box[1] = y;
            pl[i].box[2] = W;
            pl[i].box[3] = H;
            pl[i].has_clip = 1;
            pl[i].clip[0] = (double)i * sw;
            pl[i].clip[1] = 0;
            pl[i].clip[2] = sw;
            pl[i].clip[3] = H;
        }
        *n = cnt;
        break;
    default:
        return err_set(e, ERR_INVALID, "unknown stamp mode");
    }
    *out = pl;
    pl = NULL;
done:
    free(pl);
    if (rc != ERR_OK)
        *n = 0;
    return rc;
}

/* ---- package parts ------------------------------------------------------ */

/* Trailing number of an ID ("s004" -> 4), or -1. */
static long id_number(const char *s)
{
    size_t n = strlen(s), i = n;
    long v;

    while (i > 0 && isdigit((unsigned char)s[i - 1]))
        i--;
    if (i == n || n - i > 9 ||
        util_parse_long(s + i, 0, 999999999L, &v, NULL) != ERR_OK)
        return -1;
    return v;
}

/* OFD.xml with a Signatures declaration added to DocBody doc_index. */
static err_code ofd_xml_add_signatures(const uint8_t *data, size_t len,
                                       size_t doc_index, const char *loc,
                                       uint8_t **out, size_t *out_len,
                                       struct err *e)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr body;
    xmlChar *mem = NULL;
    int size = 0;
    size_t i;
    err_code rc;

    rc = ofd_xml_parse(data, len, "OFD.xml", &doc, e);
    if (rc != ERR_OK)
        return rc;
    body = ofd_xml_child(xmlDocGetRootElement(doc), "DocBody");
    for (i = 0; i < doc_index && body != NULL; i++)
        body = ofd_xml_next(body, "DocBody");
    if (body == NULL ||
        xmlNewTextChild(body, body->ns, (const xmlChar *)"Signatures",
                        (const xmlChar *)loc) == NULL) {
        rc = err_set(e, ERR_MALFORMED, "OFD.xml: cannot add Signatures");
        goto done;
    }
    xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
    if (mem == NULL || size <= 0) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    *out = malloc((size_t)size);
    if (*out == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(*out, mem, (size_t)size);
    *out_len = (size_t)size;
done:
    xmlFree(mem);
    xmlFreeDoc(doc);
    return rc;
}

/* Does any existing signature protect the Signatures list (locked)?
 * *locked 1 yes, 0 no.  Each Signature.xml is parsed once however often
 * the list names it; only the inflation budget makes it fail. */
static err_code list_locked(struct ofd_pkg *p, const struct ofd_siglist *l,
                            const char *sigs_path, int *locked,
                            struct err *e)
{
    uint8_t *seen = calloc(p->n ? p->n : 1, 1);
    size_t i, k;
    err_code rc = ERR_OK;

    *locked = 0;
    if (seen == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (i = 0; i < l->n && !*locked; i++) {
        struct ofd_sigxml sx;
        const uint8_t *data;
        size_t len;
        long at = l->items[i].loc[0] ? ofd_pkg_find(p, l->items[i].loc) : -1;

        if (at < 0 || seen[at])
            continue;
        seen[at] = 1;
        if (ofd_pkg_read(p, (size_t)at, &data, &len, NULL) != ERR_OK ||
            ofd_pkg_charge_parse(p, len, NULL) != ERR_OK ||
            ofd_sigxml_parse(data, len, l->items[i].loc, &sx, NULL) != ERR_OK)
            continue;
        for (k = 0; k < sx.n_refs; k++)
            if (strcmp(sx.refs[k].file, sigs_path) == 0)
                *locked = 1;
        ofd_sigxml_clear(&sx);
    }
    free(seen);
    if ((rc = ofd_pkg_budget_check(p, e)) != ERR_OK)
        *locked = 0;
    return rc;
}

/* Does any entry live under dir ("Doc_0/Signs/Sign_3/")? */
static int dir_used(const struct ofd_pkg *p, const char *dir)
{
    size_t i, n = strlen(dir);

    for (i = 0; i < p->n; i++)
        if (strncmp(p->ents[i].name, dir, n) == 0)
            return 1;
    return 0;
}

/* Room for a path we build: the document directory plus a Signs suffix. */
#define OFD_SEAL_SUFFIX 64
#define OFD_SEAL_PATH   (OFD_PATH_CAP + OFD_SEAL_SUFFIX)

/* out = a + b (cap OFD_SEAL_PATH); 0 when too long. */
static int path_join(char *out, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la + lb >= OFD_SEAL_PATH || la + lb > OFD_MAX_NAME)
        return 0;
    memcpy(out, a, la);
    memcpy(out + la, b, lb + 1);
    return 1;
}

struct part {
    char name[OFD_SEAL_PATH];
    const uint8_t *data;
    size_t len;
};

/* Append reference for (name, data) to sb. */
static err_code add_ref_hash(struct sbuf *sb, const char *name,
                             const uint8_t h[SM3_DIGEST_LEN], size_t *count,
                             struct err *e)
{
    char *b64 = NULL;
    err_code rc;

    if ((rc = util_b64_encode(h, SM3_DIGEST_LEN, &b64, e)) != ERR_OK)
        return rc;
    sb_puts(sb, "<ofd:Reference FileRef=\"/");
    sb_esc(sb, name);
    sb_puts(sb, "\"><ofd:CheckValue>");
    sb_puts(sb, b64);
    sb_puts(sb, "</ofd:CheckValue></ofd:Reference>");
    free(b64);
    (*count)++;
    return ERR_OK;
}

/* Reference to name with SM3 of data. */
static err_code add_ref(struct sbuf *sb, const char *name, const uint8_t *data,
                        size_t len, size_t *count, struct err *e)
{
    uint8_t h[SM3_DIGEST_LEN];
    err_code rc;

    if ((rc = sm2_sm3(data, len, h, e)) != ERR_OK)
        return rc;
    return add_ref_hash(sb, name, h, count, e);
}

/* Write the new package: base (in) plus replaced/added parts. */
static err_code write_package(const uint8_t *in, size_t len,
                              const struct part *parts, size_t n_parts,
                              uint8_t **out, size_t *out_len, struct err *e)
{
    zip_source_t *src = NULL, *zs;
    zip_t *za = NULL;
    zip_error_t ze;
    zip_int64_t size, idx;
    uint8_t *buf = NULL, *copy;
    size_t i;
    err_code rc = ERR_OK;
    int opened = 0;

    /* libzip 1.7 may free the buffer behind a written buffer source even
       when it does not own it: give it a private copy it owns */
    copy = malloc(len ? len : 1);
    if (copy == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(copy, in, len);
    zip_error_init(&ze);
    src = zip_source_buffer_create(copy, len, 1, &ze);
    if (src == NULL) {
        free(copy);
        return err_set(e, ERR_NOMEM, "zip: %s", zip_error_strerror(&ze));
    }
    za = zip_open_from_source(src, 0, &ze);
    if (za == NULL) {
        zip_source_free(src);
        return err_set(e, ERR_MALFORMED, "zip: %s", zip_error_strerror(&ze));
    }
    zip_source_keep(src);
    for (i = 0; i < n_parts; i++) {
        zs = zip_source_buffer(za, parts[i].data, parts[i].len, 0);
        if (zs == NULL) {
            rc = err_set(e, ERR_NOMEM, "zip: %s", zip_strerror(za));
            goto done;
        }
        idx = zip_name_locate(za, parts[i].name, 0);
        if ((idx >= 0 ? zip_file_replace(za, (zip_uint64_t)idx, zs, 0) :
             zip_file_add(za, parts[i].name, zs, ZIP_FL_ENC_UTF_8)) < 0) {
            zip_source_free(zs);
            rc = err_set(e, ERR_INTERNAL, "zip: %s", zip_strerror(za));
            goto done;
        }
    }
    if (zip_close(za) != 0) {
        rc = err_set(e, ERR_INTERNAL, "zip write: %s", zip_strerror(za));
        goto done;
    }
    za = NULL;
    if (zip_source_open(src) != 0) {
        rc = err_set(e, ERR_INTERNAL, "zip reopen failed");
        goto done;
    }
    opened = 1;
    if (zip_source_seek(src, 0, SEEK_END) != 0 ||
        (size = zip_source_tell(src)) <= 0 ||
        zip_source_seek(src, 0, SEEK_SET) != 0) {
        rc = err_set(e, ERR_INTERNAL, "zip output unreadable");
        goto done;
    }
    buf = malloc((size_t)size);
    if (buf == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    if (zip_source_read(src, buf, (zip_uint64_t)size) != size) {
        rc = err_set(e, ERR_INTERNAL, "zip output short read");
        goto done;
    }
    *out = buf;
    *out_len = (size_t)size;
    buf = NULL;
done:
    free(buf);
    if (za != NULL)
        zip_discard(za);
    if (opened)
        zip_source_close(src);
    zip_source_free(src);
    return rc;
}

/* Contract: see ofd.h. */
err_code ofd_seal(const uint8_t *in, size_t len, const struct ofd_seal_params *pa,
                  uint8_t **out, size_t *out_len, struct ofd_seal_info *info,
                  struct err *e)
{
    struct ofd_pkg *p = NULL;
    struct ofd_doc d;
    struct ofd_siglist l;
    struct ses_seal *seal = NULL;
    struct ses_signature *check = NULL;
    struct placed *pl = NULL;
    struct sbuf sx = {0}, sl = {0};
    struct part parts[5];
    uint8_t *ofd_new = NULL, *ses_der = NULL, hash[SM3_DIGEST_LEN];
    size_t ofd_new_len = 0, ses_len = 0, n_pl = 0, n_parts = 0, n_refs = 0, i;
    char sigs_path[OFD_SEAL_PATH], sign_dir[OFD_SEAL_PATH];
    char sig_path[OFD_SEAL_PATH], seal_path[OFD_SEAL_PATH];
    char value_path[OFD_SEAL_PATH], prop[OFD_SEAL_PATH + 1];
    char new_id[32], when[32];
    long maxn = 0, sn;
    int locked = 0;
    double W, H;
    time_t now;
    struct tm tm;
    err_code rc;

    *out = NULL;
    *out_len = 0;
    memset(&d, 0, sizeof(d));
    memset(&l, 0, sizeof(l));
    ofd_init();
    if (pa == NULL || pa->sign == NULL || pa->seal.p == NULL)
        return err_set(e, ERR_INVALID, "seal and signing callback required");
    rc = ofd_pkg_open(in, len, pa->max_inflated, &p, e);
    if (rc != ERR_OK)
        goto done;
    rc = ofd_doc_load(p, pa->doc_index, &d, NULL, e);
    if (rc != ERR_OK)
        goto done;
    if (strlen(d.dir) + OFD_SEAL_SUFFIX > OFD_MAX_NAME) {
        rc = err_set(e, ERR_MALFORMED, "document path too long");
        goto done;
    }
    rc = ses_seal_decode(pa->seal.p, pa->seal.len, &seal, e);
    if (rc != ERR_OK)
        goto done;
    W = pa->pos.width > 0 ? pa->pos.width : (double)seal->picture_width;
    H = pa->pos.height > 0 ? pa->pos.height : (double)seal->picture_height;
    rc = place(p, &d, &pa->pos, W, H, &pl, &n_pl, e);
    /* page sizes are read quietly: a parse the budget stopped is a
     * refusal, whatever place made of the page it could not read */
    if (ofd_pkg_budget_check(p, NULL) != ERR_OK)
        rc = ofd_pkg_budget_check(p, e);
    if (rc != ERR_OK)
        goto done;

    /* the signature list: existing or new */
    if (d.sigs[0] != '\0') {
        path_join(sigs_path, d.sigs, "");
        if (ofd_pkg_find(p, sigs_path) >= 0) {
            rc = ofd_siglist_load(p, sigs_path, &l, e);
            if (rc != ERR_OK)
                goto done;
            if ((rc = list_locked(p, &l, sigs_path, &locked, e)) != ERR_OK)
                goto done;
            if (locked) {
                rc = err_set(e, ERR_CONFLICT, "an existing signature protects "
                             "the whole document (Signatures.xml): sealing "
                             "again would break it");
                goto done;
            }
        }
    } else {
        path_join(sigs_path, d.dir, "Signs/Signatures.xml");
        if (ofd_pkg_find(p, sigs_path) >= 0) {
            rc = err_set(e, ERR_MALFORMED, "%s exists but OFD.xml does not "
                         "declare it", sigs_path);
            goto done;
        }
    }
    /* Sign_N: first unused directory */
    for (sn = 0; sn < OFD_MAX_SIGNATURES * 4; sn++) {
        char sub[32];

        snprintf(sub, sizeof(sub), "Signs/Sign_%ld/", sn);
        path_join(sign_dir, d.dir, sub);
        if (!dir_used(p, sign_dir))
            break;
    }
    if (sn == OFD_MAX_SIGNATURES * 4) {
        rc = err_set(e, ERR_TOO_LARGE, "no free Sign_N directory");
        goto done;
    }
    if (l.n >= OFD_MAX_SIGNATURES) {
        rc = err_set(e, ERR_TOO_LARGE, "document already has %d signatures",
                     OFD_MAX_SIGNATURES);
        goto done;
    }
    if (!path_join(sig_path, sign_dir, "Signature.xml") ||
        !path_join(seal_path, sign_dir, "Seal.esl") ||
        !path_join(value_path, sign_dir, "SignedValue.dat") ||
        !path_join(prop, "/", sig_path)) {
        rc = err_set(e, ERR_MALFORMED, "document path too long");
        goto done;
    }
    /* new signature ID: after every number used so far */
    if ((sn = id_number(l.max_id)) > maxn)
        maxn = sn;
    for (i = 0; i < l.n; i++)
        if ((sn = id_number(l.items[i].id)) > maxn)
            maxn = sn;
    snprintf(new_id, sizeof(new_id), "s%03ld", maxn + 1);

    /* Signatures.xml, rebuilt with the new entry */
    sb_puts(&sl, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<ofd:Signatures xmlns:ofd=\"" OFD_NS "\"><ofd:MaxSignId>");
    sb_esc(&sl, new_id);
    sb_puts(&sl, "</ofd:MaxSignId>");
    for (i = 0; i < l.n; i++) {
        sb_puts(&sl, "<ofd:Signature ID=\"");
        sb_esc(&sl, l.items[i].id);
        sb_puts(&sl, "\" Type=\"");
        sb_esc(&sl, l.items[i].type);
        sb_puts(&sl, "\" BaseLoc=\"");
        sb_esc(&sl, l.items[i].raw_loc);
        sb_puts(&sl, "\"/>");
    }
    sb_printf(&sl, "<ofd:Signature ID=\"%s\" Type=\"Seal\" BaseLoc=\"", new_id);
    sb_esc(&sl, prop);
    sb_puts(&sl, "\"/></ofd:Signatures>\n");
    if (d.sigs[0] == '\0') {
        const uint8_t *od;
        size_t olen;
        char rel[OFD_SEAL_PATH];

        path_join(rel, sigs_path, "");
        if ((rc = ofd_pkg_get(p, "OFD.xml", &od, &olen, e)) != ERR_OK ||
            (rc = ofd_xml_add_signatures(od, olen, pa->doc_index, rel,
                                         &ofd_new, &ofd_new_len, e)) != ERR_OK)
            goto done;
    }

    /* Signature.xml */
    now = pa->sign_time ? pa->sign_time : time(NULL);
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y%m%d%H%M%SZ", &tm);
    sb_puts(&sx, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<ofd:Signature xmlns:ofd=\"" OFD_NS "\"><ofd:SignedInfo>"
                 "<ofd:Provider ProviderName=\"");
    sb_esc(&sx, pa->provider_name ? pa->provider_name : "seald");
    sb_puts(&sx, "\" Company=\"");
    sb_esc(&sx, pa->provider_company ? pa->provider_company : "seald");
    sb_puts(&sx, "\" Version=\"");
    sb_esc(&sx, pa->provider_version ? pa->provider_version : SEALD_VERSION);
    sb_puts(&sx, "\"/><ofd:SignatureMethod>" SM2_OID_SM2_SM3
                 "</ofd:SignatureMethod><ofd:SignatureDateTime>");
    sb_puts(&sx, when);
    sb_puts(&sx, "</ofd:SignatureDateTime><ofd:References CheckMethod=\""
                 SM2_OID_SM3 "\">");
    for (i = 0; i < p->n; i++) {
        const struct ofd_entry *en = &p->ents[i];
        uint8_t h[SM3_DIGEST_LEN];

        if (en->is_dir)
            continue;
        if (strcmp(en->name, sigs_path) == 0) {
            if (pa->protect == OFD_PROTECT_ALL &&
                (rc = add_ref(&sx, en->name, (const uint8_t *)sl.p, sl.len,
                              &n_refs, e)) != ERR_OK)
                goto done;
            continue;
        }
        /* the other entries are hashed, not kept: a large document costs
         * its inflation once, not its size in memory */
        if (ofd_new != NULL && strcmp(en->name, "OFD.xml") == 0)
            rc = add_ref(&sx, en->name, ofd_new, ofd_new_len, &n_refs, e);
        else if ((rc = ofd_pkg_sm3(p, i, h, e)) == ERR_OK)
            rc = add_ref_hash(&sx, en->name, h, &n_refs, e);
        if (rc != ERR_OK)
            goto done;
    }
    if (pa->protect == OFD_PROTECT_ALL && ofd_pkg_find(p, sigs_path) < 0 &&
        (rc = add_ref(&sx, sigs_path, (const uint8_t *)sl.p, sl.len, &n_refs,
                      e)) != ERR_OK)
        goto done;
    if ((rc = add_ref(&sx, seal_path, pa->seal.p, pa->seal.len, &n_refs,
                      e)) != ERR_OK)
        goto done;
    sb_puts(&sx, "</ofd:References>");
    for (i = 0; i < n_pl; i++) {
        sb_printf(&sx, "<ofd:StampAnnot ID=\"%s-a%zu\" PageRef=\"", new_id,
                  i + 1);
        sb_esc(&sx, d.pages[pl[i].page].id);
        sb_puts(&sx, "\" Boundary=\"");
        sb_box(&sx, pl[i].box);
        if (pl[i].has_clip) {
            sb_puts(&sx, "\" Clip=\"");
            sb_box(&sx, pl[i].clip);
        }
        sb_puts(&sx, "\"/>");
    }
    sb_puts(&sx, "<ofd:Seal><ofd:BaseLoc>");
    sb_esc(&sx, "/");
    sb_esc(&sx, seal_path);
    sb_puts(&sx, "</ofd:BaseLoc></ofd:Seal></ofd:SignedInfo><ofd:SignedValue>/");
    sb_esc(&sx, value_path);
    sb_puts(&sx, "</ofd:SignedValue></ofd:Signature>\n");
    if (sx.oom || sl.oom) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }

    /* sign: dataHash = SM3(Signature.xml), propertyInfo = its path */
    if ((rc = sm2_sm3(sx.p, sx.len, hash, e)) != ERR_OK)
        goto done;
    rc = pa->sign(pa->sign_ctx, hash, prop, &ses_der, &ses_len, e);
    if (rc != ERR_OK)
        goto done;
    if (ses_der == NULL || ses_signature_decode(ses_der, ses_len, &check,
                                                NULL) != ERR_OK ||
        check->data_hash.len != SM3_DIGEST_LEN ||
        memcmp(check->data_hash.p, hash, SM3_DIGEST_LEN) != 0 ||
        strcmp(check->property_info, prop) != 0) {
        rc = err_set(e, ERR_INTERNAL, "the signing callback returned a "
                     "signature that is not over this Signature.xml");
        goto done;
    }

    /* write */
    memset(parts, 0, sizeof(parts));
#define PART(nm, dp, dl) do { \
        path_join(parts[n_parts].name, (nm), ""); \
        parts[n_parts].data = (dp); parts[n_parts].len = (dl); n_parts++; \
    } while (0)
    if (ofd_new != NULL)
        PART("OFD.xml", ofd_new, ofd_new_len);
    PART(sigs_path, (const uint8_t *)sl.p, sl.len);
    PART(seal_path, pa->seal.p, pa->seal.len);
    PART(sig_path, (const uint8_t *)sx.p, sx.len);
    PART(value_path, ses_der, ses_len);
#undef PART
    rc = write_package(in, len, parts, n_parts, out, out_len, e);
    if (rc != ERR_OK)
        goto done;
    if (info != NULL) {
        memset(info, 0, sizeof(*info));
        if (strlen(prop) < sizeof(info->signature_path))
            memcpy(info->signature_path, prop, strlen(prop) + 1);
        snprintf(info->signature_id, sizeof(info->signature_id), "%s", new_id);
        memcpy(info->data_hash, hash, sizeof(hash));
        info->n_references = n_refs;
        info->n_stamps = n_pl;
    }
done:
    free(sx.p);
    free(sl.p);
    free(pl);
    free(ofd_new);
    free(ses_der);
    ses_signature_free(check);
    ses_seal_free(seal);
    ofd_siglist_clear(&l);
    ofd_doc_clear(&d);
    ofd_pkg_free(p);
    return rc;
}
