/*
 * ofd_int.h - internal to seald_ofd (src/ofd*.c): the bounded zip package
 * reader, safe XML parsing helpers, OFD path resolution and the document
 * model (OFD.xml, Document.xml, Signatures.xml, Signature.xml).
 * Not a public API; see include/ofd/ofd.h.
 */
#ifndef SEALD_OFD_INT_H
#define SEALD_OFD_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>
#include <zip.h>

#include "err.h"
#include "ofd.h"

#define OFD_PATH_CAP (OFD_MAX_NAME + 1)

/* ---- package (ofd_pkg.c) ----------------------------------------------- */

struct ofd_entry {
    char *name;             /* as in the zip (no leading '/')               */
    zip_uint64_t index;     /* libzip index                                 */
    uint64_t size, csize;   /* declared sizes                               */
    int is_dir;
    uint8_t *data;          /* read on demand (owned), NULL until then      */
    size_t len;
    int has_sm3;            /* sm3 computed (once per entry)                */
    uint8_t sm3[SM3_DIGEST_LEN];
};

struct ofd_pkg {
    zip_t *za;
    size_t n;
    struct ofd_entry *ents;
    struct ofd_entry **by_name;  /* ents sorted by name, for lookups       */
    uint64_t budget;        /* bytes this package may inflate in all, and
                               bytes of XML it may parse in all            */
    uint64_t inflated;      /* bytes inflated so far                        */
    uint64_t parsed;        /* bytes of XML parsed so far                   */
    int over_budget;        /* an inflation was stopped by the budget       */
    int over_parse;         /* a parse was refused by the budget            */
};

/* Open a package from memory (buf must outlive the package).  Checks the
 * entry count, names (no absolute, "..", backslash, duplicates), declared
 * sizes and compression ratio, encryption, and that the declared sizes fit
 * the inflation budget (max_inflated bytes; 0: OFD_DEFAULT_MAX_INFLATED;
 * at most OFD_MAX_TOTAL_SIZE).  *out: ofd_pkg_free. */
err_code ofd_pkg_open(const uint8_t *buf, size_t len, size_t max_inflated,
                      struct ofd_pkg **out, struct err *e);
void ofd_pkg_free(struct ofd_pkg *p);
/* Index of the (non-directory) entry with exactly this name, or -1. */
long ofd_pkg_find(const struct ofd_pkg *p, const char *name);
/* Bytes of entry i (inflated once, bounded by its declared size and the
 * budget; owned by the package). */
err_code ofd_pkg_read(struct ofd_pkg *p, size_t i, const uint8_t **data,
                      size_t *len, struct err *e);
/* Same by name: ERR_NOT_FOUND when absent. */
err_code ofd_pkg_get(struct ofd_pkg *p, const char *name, const uint8_t **data,
                     size_t *len, struct err *e);
/* SM3 of entry i's bytes into out: computed once per entry, streamed
 * through a small buffer (not kept) when the entry was not read. */
err_code ofd_pkg_sm3(struct ofd_pkg *p, size_t i, uint8_t out[SM3_DIGEST_LEN],
                     struct err *e);
/* Count n bytes of XML about to be parsed against the budget (a part
 * parsed again counts again: one XML part named by every document or page
 * must not cost its size that many times).  ERR_TOO_LARGE once over. */
err_code ofd_pkg_charge_parse(struct ofd_pkg *p, size_t n, struct err *e);
/* ERR_TOO_LARGE (with its message) once an inflation or a parse was
 * stopped by the budget, else ERR_OK: callers that turn a file's read
 * error into a finding ("missing") ask this so the package is refused
 * instead. */
err_code ofd_pkg_budget_check(const struct ofd_pkg *p, struct err *e);

/* ---- paths ------------------------------------------------------------- */

/* Resolve loc (absolute "/a/b" or relative to dir, e.g. "Doc_0/") into a
 * normalised package path without leading '/' in out (OFD_PATH_CAP).
 * ERR_MALFORMED if it escapes the root or is too long. */
err_code ofd_path_resolve(const char *dir, const char *loc, char *out,
                          struct err *e);
/* Directory part of path including the trailing '/' ("" for top level). */
void ofd_path_dir(const char *path, char *out);

/* ---- XML (ofd_xml.c) --------------------------------------------------- */

/* Parse an XML part safely (no network, no DTD, no entities, bounded size
 * and depth).  *out: xmlFreeDoc. */
err_code ofd_xml_parse(const uint8_t *data, size_t len, const char *what,
                       xmlDocPtr *out, struct err *e);
/* First element child of n with local name (any namespace), or NULL. */
xmlNodePtr ofd_xml_child(xmlNodePtr n, const char *local);
/* Next element sibling after n with local name, or NULL. */
xmlNodePtr ofd_xml_next(xmlNodePtr n, const char *local);
/* Is n an element with this local name? */
int ofd_xml_is(xmlNodePtr n, const char *local);
/* Trimmed text of n (or attribute name of n when attr != NULL) into out
 * (cap bytes, truncated).  Returns 1 if present, 0 if absent. */
int ofd_xml_text(xmlNodePtr n, const char *attr, char *out, size_t cap);
/* Parse "a b c d" numbers (count of them) from s; 1 ok, 0 bad. */
int ofd_parse_box(const char *s, double *v, size_t count);

/* ---- document model (ofd_doc.c) ---------------------------------------- */

struct ofd_page {
    char id[64];
    char path[OFD_PATH_CAP];       /* Content.xml                          */
};

struct ofd_doc {
    size_t index;                  /* DocBody position                     */
    char root[OFD_PATH_CAP];       /* Document.xml                         */
    char dir[OFD_PATH_CAP];        /* its directory, "Doc_0/"              */
    char sigs[OFD_PATH_CAP];       /* Signatures.xml, "" when none         */
    double page_w, page_h;         /* CommonData PageArea PhysicalBox      */
    size_t n_pages;
    struct ofd_page *pages;
};

/* Number of DocBody elements of OFD.xml and the document at index. */
err_code ofd_doc_load(struct ofd_pkg *p, size_t index, struct ofd_doc *d,
                      size_t *n_docs, struct err *e);
void ofd_doc_clear(struct ofd_doc *d);
/* Page size in mm (page Area PhysicalBox, else the document default). */
void ofd_page_size(struct ofd_pkg *p, const struct ofd_doc *d, size_t i,
                   double *w, double *h);
/* Page index of page ID ref, or -1. */
long ofd_page_by_id(const struct ofd_doc *d, const char *ref);

struct ofd_siglist_item {
    char id[64];
    char type[16];                 /* "Seal" (also when absent) or "Sign"  */
    char loc[OFD_PATH_CAP];        /* resolved Signature.xml               */
    char raw_loc[OFD_PATH_CAP];    /* BaseLoc as written                   */
};

struct ofd_siglist {
    char max_id[64];
    size_t n;
    struct ofd_siglist_item *items;
};

err_code ofd_siglist_load(struct ofd_pkg *p, const char *path,
                          struct ofd_siglist *l, struct err *e);
void ofd_siglist_clear(struct ofd_siglist *l);

struct ofd_ref {
    char raw[OFD_PATH_CAP];        /* FileRef as written                   */
    char file[OFD_PATH_CAP];       /* resolved ("" if unresolvable)        */
    char value_b64[128];
};

struct ofd_stamp {
    char id[64];
    char page_ref[64];
    int has_box, has_clip;
    double box[4], clip[4];
};

struct ofd_sigxml {
    char provider_name[256], provider_company[256], provider_version[64];
    char method[128];
    char datetime[64];
    char check_method[128];
    size_t n_refs;
    struct ofd_ref *refs;
    size_t n_stamps;
    struct ofd_stamp *stamps;
    char seal_raw[OFD_PATH_CAP], seal[OFD_PATH_CAP];
    char value_raw[OFD_PATH_CAP], value[OFD_PATH_CAP];
};

/* Parse Signature.xml (bytes) located at path. */
err_code ofd_sigxml_parse(const uint8_t *data, size_t len, const char *path,
                          struct ofd_sigxml *s, struct err *e);
void ofd_sigxml_clear(struct ofd_sigxml *s);
/* Is the CheckMethod SM3 ("SM3", "1.2.156.10197.1.401[.1|.2]", empty)? */
int ofd_check_method_sm3(const char *m);

#endif
