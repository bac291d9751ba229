/*
 * ofd_doc.c - owns the OFD document model read from a package: OFD.xml
 * (DocBody, DocRoot, Signatures), Document.xml (pages and page size),
 * Signatures.xml (the signature list) and each Signature.xml (SignedInfo,
 * References, StampAnnot, Seal, SignedValue), plus vendor date formats.
 * Elements are matched by local name: producers use several namespaces.
 */
#include "ofd_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFD_A4_W 210.0
#define OFD_A4_H 297.0

/* Load and parse an XML part by path. */
static err_code load_xml(struct ofd_pkg *p, const char *path, xmlDocPtr *doc,
                         struct err *e)
{
    const uint8_t *data;
    size_t len;
    long i = ofd_pkg_find(p, path);
    err_code rc;

    if (i < 0)
        return err_set(e, ERR_MALFORMED, "%s missing from the package", path);
    rc = ofd_pkg_read(p, (size_t)i, &data, &len, e);
    if (rc != ERR_OK)
        return rc;
    if ((rc = ofd_pkg_charge_parse(p, len, e)) != ERR_OK)
        return rc;
    return ofd_xml_parse(data, len, path, doc, e);
}

/* Contract: see ofd_int.h. */
void ofd_doc_clear(struct ofd_doc *d)
{
    free(d->pages);
    memset(d, 0, sizeof(*d));
}

/* Contract: see ofd_int.h. */
err_code ofd_doc_load(struct ofd_pkg *p, size_t index, struct ofd_doc *d,
                      size_t *n_docs, struct err *e)
{
    xmlDocPtr ofd = NULL, doc = NULL;
    xmlNodePtr root, body, n, pages;
    char text[OFD_PATH_CAP], box[256];
    double v[4];
    size_t count = 0, cap = 0;
    err_code rc;

    memset(d, 0, sizeof(*d));
    d->index = index;
    d->page_w = OFD_A4_W;
    d->page_h = OFD_A4_H;
    rc = load_xml(p, "OFD.xml", &ofd, e);
    if (rc != ERR_OK)
        goto done;
    root = xmlDocGetRootElement(ofd);
    if (!ofd_xml_is(root, "OFD")) {
        rc = err_set(e, ERR_MALFORMED, "OFD.xml: root is not ofd:OFD");
        goto done;
    }
    for (n = ofd_xml_child(root, "DocBody"), body = NULL; n != NULL;
         n = ofd_xml_next(n, "DocBody"), count++) {
        if (count == index)
            body = n;
        if (count >= OFD_MAX_DOCS) {
            rc = err_set(e, ERR_TOO_LARGE, "OFD.xml: over %d documents",
                         OFD_MAX_DOCS);
            goto done;
        }
    }
    if (n_docs)
        *n_docs = count;
    if (body == NULL) {
        rc = err_set(e, count ? ERR_INVALID : ERR_MALFORMED,
                     "OFD.xml: no DocBody %zu", index);
        goto done;
    }
    if (!ofd_xml_text(ofd_xml_child(body, "DocRoot"), NULL, text,
                      sizeof(text)) || text[0] == '\0') {
        rc = err_set(e, ERR_MALFORMED, "OFD.xml: DocBody without DocRoot");
        goto done;
    }
    if ((rc = ofd_path_resolve("", text, d->root, e)) != ERR_OK)
        goto done;
    ofd_path_dir(d->root, d->dir);
    if (ofd_xml_text(ofd_xml_child(body, "Signatures"), NULL, text,
                     sizeof(text)) && text[0] != '\0' &&
        (rc = ofd_path_resolve("", text, d->sigs, e)) != ERR_OK)
        goto done;
    rc = load_xml(p, d->root, &doc, e);
    if (rc != ERR_OK)
        goto done;
    root = xmlDocGetRootElement(doc);
    if (ofd_xml_text(ofd_xml_child(ofd_xml_child(ofd_xml_child(root,
                     "CommonData"), "PageArea"), "PhysicalBox"), NULL, box,
                     sizeof(box)) && ofd_parse_box(box, v, 4) &&
        v[2] > 0 && v[3] > 0) {
        d->page_w = v[2];
        d->page_h = v[3];
    }
    pages = ofd_xml_child(root, "Pages");
    for (n = ofd_xml_child(pages, "Page"); n != NULL;
         n = ofd_xml_next(n, "Page")) {
        struct ofd_page *pg;

        if (d->n_pages >= OFD_MAX_PAGES) {
            rc = err_set(e, ERR_TOO_LARGE, "%s: over %d pages", d->root,
                         OFD_MAX_PAGES);
            goto done;
        }
        if (d->n_pages == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct ofd_page *np = realloc(d->pages, nc * sizeof(*np));

            if (np == NULL) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto done;
            }
            d->pages = np;
            cap = nc;
        }
        pg = &d->pages[d->n_pages];
        memset(pg, 0, sizeof(*pg));
        ofd_xml_text(n, "ID", pg->id, sizeof(pg->id));
        if (!ofd_xml_text(n, "BaseLoc", text, sizeof(text))) {
            rc = err_set(e, ERR_MALFORMED, "%s: Page without BaseLoc",
                         d->root);
            goto done;
        }
        if ((rc = ofd_path_resolve(d->dir, text, pg->path, e)) != ERR_OK)
            goto done;
        d->n_pages++;
    }
done:
    if (ofd != NULL)
        xmlFreeDoc(ofd);
    if (doc != NULL)
        xmlFreeDoc(doc);
    if (rc != ERR_OK)
        ofd_doc_clear(d);
    return rc;
}

/* Contract: see ofd_int.h. */
void ofd_page_size(struct ofd_pkg *p, const struct ofd_doc *d, size_t i,
                   double *w, double *h)
{
    xmlDocPtr doc = NULL;
    char box[256];
    double v[4];

    *w = d->page_w;
    *h = d->page_h;
    if (i >= d->n_pages || load_xml(p, d->pages[i].path, &doc, NULL) != ERR_OK)
        return;
    if (ofd_xml_text(ofd_xml_child(ofd_xml_child(xmlDocGetRootElement(doc),
                     "Area"), "PhysicalBox"), NULL, box, sizeof(box)) &&
        ofd_parse_box(box, v, 4) && v[2] > 0 && v[3] > 0) {
        *w = v[2];
        *h = v[3];
    }
    xmlFreeDoc(doc);
}

/* Contract: see ofd_int.h. */
long ofd_page_by_id(const struct ofd_doc *d, const char *ref)
{
    size_t i;

    for (i = 0; i < d->n_pages; i++)
        if (d->pages[i].id[0] && strcmp(d->pages[i].id, ref) == 0)
            return (long)i;
    return -1;
}

/* Contract: see ofd_int.h. */
void ofd_siglist_clear(struct ofd_siglist *l)
{
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* Contract: see ofd_int.h. */
err_code ofd_siglist_load(struct ofd_pkg *p, const char *path,
                          struct ofd_siglist *l, struct err *e)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr root, n;
    char dir[OFD_PATH_CAP];
    size_t cap = 0;
    err_code rc;

    memset(l, 0, sizeof(*l));
    rc = load_xml(p, path, &doc, e);
    if (rc != ERR_OK)
        goto done;
    root = xmlDocGetRootElement(doc);
    if (!ofd_xml_is(root, "Signatures")) {
        rc = err_set(e, ERR_MALFORMED, "%s: root is not ofd:Signatures",
                     path);
        goto done;
    }
    ofd_path_dir(path, dir);
    ofd_xml_text(ofd_xml_child(root, "MaxSignId"), NULL, l->max_id,
                 sizeof(l->max_id));
    for (n = ofd_xml_child(root, "Signature"); n != NULL;
         n = ofd_xml_next(n, "Signature")) {
        struct ofd_siglist_item *it;

        if (l->n >= OFD_MAX_SIGNATURES) {
            rc = err_set(e, ERR_TOO_LARGE, "%s: over %d signatures", path,
                         OFD_MAX_SIGNATURES);
            goto done;
        }
        if (l->n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            struct ofd_siglist_item *ni = realloc(l->items, nc * sizeof(*ni));

            if (ni == NULL) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto done;
            }
            l->items = ni;
            cap = nc;
        }
        it = &l->items[l->n];
        memset(it, 0, sizeof(*it));
        ofd_xml_text(n, "ID", it->id, sizeof(it->id));
        if (!ofd_xml_text(n, "Type", it->type, sizeof(it->type)) ||
            it->type[0] == '\0')
            snprintf(it->type, sizeof(it->type), "Seal");
        ofd_xml_text(n, "BaseLoc", it->raw_loc, sizeof(it->raw_loc));
        if (ofd_path_resolve(dir, it->raw_loc, it->loc, NULL) != ERR_OK)
            it->loc[0] = '\0';
        l->n++;
    }
done:
    if (doc != NULL)
        xmlFreeDoc(doc);
    if (rc != ERR_OK)
        ofd_siglist_clear(l);
    return rc;
}

/* Contract: see ofd_int.h. */
void ofd_sigxml_clear(struct ofd_sigxml *s)
{
    free(s->refs);
    free(s->stamps);
    memset(s, 0, sizeof(*s));
}

/* Provider as attributes (ofdrw, gomain) or child elements (dms360). */
static void read_provider(xmlNodePtr pr, struct ofd_sigxml *s)
{
    if (pr == NULL)
        return;
    if (!ofd_xml_text(pr, "ProviderName", s->provider_name,
                      sizeof(s->provider_name)))
        ofd_xml_text(ofd_xml_child(pr, "ProviderName"), NULL,
                     s->provider_name, sizeof(s->provider_name));
    if (!ofd_xml_text(pr, "Company", s->provider_company,
                      sizeof(s->provider_company)))
        ofd_xml_text(ofd_xml_child(pr, "Company"), NULL, s->provider_company,
                     sizeof(s->provider_company));
    if (!ofd_xml_text(pr, "Version", s->provider_version,
                      sizeof(s->provider_version)))
        ofd_xml_text(ofd_xml_child(pr, "Version"), NULL, s->provider_version,
                     sizeof(s->provider_version));
}

/* Contract: see ofd_int.h. */
err_code ofd_sigxml_parse(const uint8_t *data, size_t len, const char *path,
                          struct ofd_sigxml *s, struct err *e)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr root, si, refs, n;
    char dir[OFD_PATH_CAP], buf[256];
    size_t rcap = 0, scap = 0;
    err_code rc;

    memset(s, 0, sizeof(*s));
    ofd_path_dir(path, dir);
    rc = ofd_xml_parse(data, len, path, &doc, e);
    if (rc != ERR_OK)
        goto done;
    root = xmlDocGetRootElement(doc);
    if (!ofd_xml_is(root, "Signature")) {
        rc = err_set(e, ERR_MALFORMED, "%s: root is not ofd:Signature", path);
        goto done;
    }
    si = ofd_xml_child(root, "SignedInfo");
    if (si == NULL) {
        rc = err_set(e, ERR_MALFORMED, "%s: no SignedInfo", path);
        goto done;
    }
    read_provider(ofd_xml_child(si, "Provider"), s);
    ofd_xml_text(ofd_xml_child(si, "SignatureMethod"), NULL, s->method,
                 sizeof(s->method));
    ofd_xml_text(ofd_xml_child(si, "SignatureDateTime"), NULL, s->datetime,
                 sizeof(s->datetime));
    refs = ofd_xml_child(si, "References");
    ofd_xml_text(refs, "CheckMethod", s->check_method,
                 sizeof(s->check_method));
    for (n = ofd_xml_child(refs, "Reference"); n != NULL;
         n = ofd_xml_next(n, "Reference")) {
        struct ofd_ref *r;

        if (s->n_refs >= OFD_MAX_REFERENCES) {
            rc = err_set(e, ERR_TOO_LARGE, "%s: over %d references", path,
                         OFD_MAX_REFERENCES);
            goto done;
        }
        if (s->n_refs == rcap) {
            size_t nc = rcap ? rcap * 2 : 16;
            struct ofd_ref *nr = realloc(s->refs, nc * sizeof(*nr));

            if (nr == NULL) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto done;
            }
            s->refs = nr;
            rcap = nc;
        }
        r = &s->refs[s->n_refs++];
        memset(r, 0, sizeof(*r));
        ofd_xml_text(n, "FileRef", r->raw, sizeof(r->raw));
        if (ofd_path_resolve(dir, r->raw, r->file, NULL) != ERR_OK)
            r->file[0] = '\0';
        ofd_xml_text(ofd_xml_child(n, "CheckValue"), NULL, r->value_b64,
                     sizeof(r->value_b64));
    }
    for (n = ofd_xml_child(si, "StampAnnot"); n != NULL;
         n = ofd_xml_next(n, "StampAnnot")) {
        struct ofd_stamp *st;

        if (s->n_stamps >= OFD_MAX_STAMPS) {
            rc = err_set(e, ERR_TOO_LARGE, "%s: over %d StampAnnots", path,
                         OFD_MAX_STAMPS);
            goto done;
        }
        if (s->n_stamps == scap) {
            size_t nc = scap ? scap * 2 : 4;
            struct ofd_stamp *ns = realloc(s->stamps, nc * sizeof(*ns));

            if (ns == NULL) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto done;
            }
            s->stamps = ns;
            scap = nc;
        }
        st = &s->stamps[s->n_stamps++];
        memset(st, 0, sizeof(*st));
        ofd_xml_text(n, "ID", st->id, sizeof(st->id));
        ofd_xml_text(n, "PageRef", st->page_ref, sizeof(st->page_ref));
        if (ofd_xml_text(n, "Boundary", buf, sizeof(buf)))
            st->has_box = ofd_parse_box(buf, st->box, 4);
        if (ofd_xml_text(n, "Clip", buf, sizeof(buf)))
            st->has_clip = ofd_parse_box(buf, st->clip, 4);
    }
    if (ofd_xml_text(ofd_xml_child(ofd_xml_child(si, "Seal"), "BaseLoc"),
                     NULL, s->seal_raw, sizeof(s->seal_raw)) &&
        ofd_path_resolve(dir, s->seal_raw, s->seal, NULL) != ERR_OK)
        s->seal[0] = '\0';
    if (!ofd_xml_text(ofd_xml_child(root, "SignedValue"), NULL, s->value_raw,
                      sizeof(s->value_raw)) || s->value_raw[0] == '\0') {
        rc = err_set(e, ERR_MALFORMED, "%s: no SignedValue", path);
        goto done;
    }
    if ((rc = ofd_path_resolve(dir, s->value_raw, s->value, e)) != ERR_OK)
        goto done;
done:
    if (doc != NULL)
        xmlFreeDoc(doc);
    if (rc != ERR_OK)
        ofd_sigxml_clear(s);
    return rc;
}

/* Contract: see ofd_int.h. */
int ofd_check_method_sm3(const char *m)
{
    return m[0] == '\0' || strcasecmp(m, "SM3") == 0 ||
           strcmp(m, SM2_OID_SM3) == 0 ||
           strcmp(m, SM2_OID_SM3 ".1") == 0 ||
           strcmp(m, SM2_OID_SM3 ".2") == 0;
}

/* Read exactly n digits at *s into *v. */
static int digits(const char **s, int n, int *v)
{
    int i, x = 0;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*s)[i]))
            return 0;
        x = x * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *v = x;
    return 1;
}

/* Contract: see ofd.h. */
err_code ofd_parse_datetime(const char *s, time_t *t, int *has_zone,
                            struct err *e)
{
    struct tm tm;
    int Y, M, D, h, m, sec, zh = 0, zm = 0, sign = 0, compact;
    const char *p = s;
    long off = 0;

    memset(&tm, 0, sizeof(tm));
    *has_zone = 0;
    compact = strlen(s) >= 14 && isdigit((unsigned char)s[4]) &&
              isdigit((unsigned char)s[8]);
    if (compact) {
        if (!digits(&p, 4, &Y) || !digits(&p, 2, &M) || !digits(&p, 2, &D) ||
            !digits(&p, 2, &h) || !digits(&p, 2, &m) || !digits(&p, 2, &sec))
            goto bad;
    } else {
        if (!digits(&p, 4, &Y) || *p++ != '-' || !digits(&p, 2, &M) ||
            *p++ != '-' || !digits(&p, 2, &D) || (*p != 'T' && *p != ' '))
            goto bad;
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &m) ||
            *p++ != ':' || !digits(&p, 2, &sec))
            goto bad;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            goto bad;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z') {
        *has_zone = 1;
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
        if (!digits(&p, 2, &zh))
            goto bad;
        if (*p == ':')
            p++;
        if (!digits(&p, 2, &zm))
            goto bad;
        *has_zone = 1;
        off = sign * (zh * 3600L + zm * 60L);
    }
    if (*p != '\0' || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 ||
        m > 59 || sec > 60 || zh > 23 || zm > 59)
        goto bad;
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    *t = timegm(&tm) - off;
    return ERR_OK;
bad:
    return err_set(e, ERR_INVALID, "unrecognised date/time '%.40s'", s);
}
