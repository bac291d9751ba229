/*
 * ofd_xml.c - owns safe XML parsing for seald_ofd (libxml2) and the small
 * element/attribute readers the OFD model uses.  Parts are bounded in size
 * (OFD_MAX_XML) and nesting (OFD_XML_MAX_DEPTH); any DTD (and so any entity
 * declaration) is refused before parsing; the parser runs with XML_PARSE_NONET,
 * without XML_PARSE_NOENT / DTDLOAD / HUGE, and its last error is checked.
 */
#include "ofd_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#define OFD_MAX_COORD 1e7   /* |number| in a Boundary-like attribute (mm) */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init_once(void)
{
    xmlInitParser();
}

/* Contract: see ofd.h. */
void ofd_init(void)
{
    pthread_once(&xml_once, xml_init_once);
}

static int has_bytes(const uint8_t *p, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    return len >= n && memmem(p, len, needle, n) != NULL;
}

/* Depth of the deepest element under n (n counts 1); stops past limit. */
static int too_deep(xmlNodePtr n, int depth)
{
    xmlNodePtr c;

    if (depth > OFD_XML_MAX_DEPTH)
        return 1;
    for (c = n->children; c != NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE && too_deep(c, depth + 1))
            return 1;
    return 0;
}

/* Contract: see ofd_int.h. */
err_code ofd_xml_parse(const uint8_t *data, size_t len, const char *what,
                       xmlDocPtr *out, struct err *e)
{
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
    const xmlError *xe;
    err_code rc = ERR_OK;
    size_t skip = 0;

    *out = NULL;
    ofd_init();
    if (len > OFD_MAX_XML)
        return err_set(e, ERR_TOO_LARGE, "%s: XML over %u bytes", what,
                       OFD_MAX_XML);
    /* the DTD scan below must see ASCII: refuse UTF-16/32 and EBCDIC */
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        skip = 3;
    while (skip < len && (data[skip] == ' ' || data[skip] == '\t' ||
                          data[skip] == '\r' || data[skip] == '\n'))
        skip++;
    if (skip >= len || data[skip] != '<' || memchr(data, 0, len) != NULL)
        return err_set(e, ERR_MALFORMED,
                       "%s: not an XML document in an ASCII-compatible "
                       "encoding", what);
    if (has_bytes(data, len, "<!DOCTYPE") || has_bytes(data, len, "<!ENTITY"))
        return err_set(e, ERR_MALFORMED,
                       "%s: DTD / entity declarations are not allowed", what);
    ctxt = xmlNewParserCtxt();
    if (ctxt == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    doc = xmlCtxtReadMemory(ctxt, (const char *)data, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR |
                            XML_PARSE_NOWARNING);
    xe = xmlCtxtGetLastError(ctxt);
    if (doc == NULL || !ctxt->wellFormed ||
        (xe != NULL && xe->level >= XML_ERR_ERROR)) {
        char msg[128] = "not well-formed";

        if (xe != NULL && xe->message != NULL) {
            size_t n;

            snprintf(msg, sizeof(msg), "%s", xe->message);
            n = strlen(msg);
            while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                msg[--n] = '\0';
        }
        rc = err_set(e, ERR_MALFORMED, "%s: invalid XML (%s)", what, msg);
        goto done;
    }
    if (doc->intSubset != NULL || doc->extSubset != NULL) {
        rc = err_set(e, ERR_MALFORMED, "%s: DTD not allowed", what);
        goto done;
    }
    if (xmlDocGetRootElement(doc) == NULL) {
        rc = err_set(e, ERR_MALFORMED, "%s: no root element", what);
        goto done;
    }
    if (too_deep(xmlDocGetRootElement(doc), 1)) {
        rc = err_set(e, ERR_MALFORMED, "%s: XML nested deeper than %d",
                     what, OFD_XML_MAX_DEPTH);
        goto done;
    }
    *out = doc;
    doc = NULL;
done:
    if (doc != NULL)
        xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}

/* Contract: see ofd_int.h. */
int ofd_xml_is(xmlNodePtr n, const char *local)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && n->name != NULL &&
           strcmp((const char *)n->name, local) == 0;
}

/* Contract: see ofd_int.h. */
xmlNodePtr ofd_xml_next(xmlNodePtr n, const char *local)
{
    for (n = n ? n->next : NULL; n != NULL; n = n->next)
        if (ofd_xml_is(n, local))
            return n;
    return NULL;
}

/* Contract: see ofd_int.h. */
xmlNodePtr ofd_xml_child(xmlNodePtr n, const char *local)
{
    xmlNodePtr c;

    for (c = n ? n->children : NULL; c != NULL; c = c->next)
        if (ofd_xml_is(c, local))
            return c;
    return NULL;
}

/* Contract: see ofd_int.h. */
int ofd_xml_text(xmlNodePtr n, const char *attr, char *out, size_t cap)
{
    xmlChar *v;
    const char *s, *end;
    size_t len;

    out[0] = '\0';
    if (n == NULL)
        return 0;
    v = attr ? xmlGetProp(n, (const xmlChar *)attr) : xmlNodeGetContent(n);
    if (v == NULL)
        return 0;
    s = (const char *)v;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
                       end[-1] == '\n'))
        end--;
    len = (size_t)(end - s);
    if (len >= cap)
        len = cap - 1;
    memcpy(out, s, len);
    out[len] = '\0';
    xmlFree(v);
    return 1;
}

/* Contract: see ofd_int.h. */
int ofd_parse_box(const char *s, double *v, size_t count)
{
    size_t i;
    char *end;

    for (i = 0; i < count; i++) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        v[i] = strtod(s, &end);
        if (end == s || !isfinite(v[i]) || fabs(v[i]) > OFD_MAX_COORD)
            return 0;
        s = end;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}
