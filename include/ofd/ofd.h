/*
 * ofd.h - OFD documents (GB/T 33190) and their signatures (section 18):
 * reading packages safely, sealing (adding Signs/Sign_N with Signature.xml,
 * Seal.esl and SignedValue.dat) and verifying every signature of a file.
 *
 * Everything works on in-memory packages: the caller owns the input bytes;
 * outputs are malloc'ed and the caller frees them.  Hostile input is bounded
 * by the OFD_MAX_* limits below (zip entries, sizes, compression ratio, XML
 * size and depth; DTDs and therefore entity declarations are refused) and by
 * an inflation budget per call: the bytes one ofd_seal or ofd_verify may
 * decompress in all (its max_inflated, default OFD_DEFAULT_MAX_INFLATED).
 * A package whose entries declare more is refused before anything is
 * inflated, and inflating stops as soon as the running total passes it; so
 * a package of many small, highly compressible entries (each under the
 * ratio check) costs at most the budget in CPU and memory.  The references
 * and stamps of all signatures are bounded in number too, and a
 * Signature.xml listed twice is checked once.
 * The private key never enters this library: a sealed document is signed
 * through an ofd_sign_fn callback supplied by the caller.
 */
#ifndef SEALD_OFD_H
#define SEALD_OFD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509_vfy.h>

#include "err.h"
#include "ses.h"
#include "sm2.h"

/* Limits on hostile packages. */
#define OFD_MAX_PACKAGE      (64u * 1024u * 1024u)  /* whole .ofd file          */
#define OFD_MAX_ENTRIES      4096                   /* zip entries              */
#define OFD_MAX_ENTRY_SIZE   (32u * 1024u * 1024u)  /* one entry, uncompressed  */
#define OFD_MAX_TOTAL_SIZE   (256u * 1024u * 1024u) /* all entries, uncompressed:
                                                       the ceiling of the
                                                       inflation budget    */
#define OFD_DEFAULT_MAX_INFLATED (64u * 1024u * 1024u) /* inflation budget of
                                                       one call (config
                                                       ofd.max_inflated_bytes) */
#define OFD_MIN_MAX_INFLATED (1024u * 1024u)        /* its smallest setting     */
#define OFD_MAX_RATIO        200                    /* uncompressed/compressed  */
#define OFD_RATIO_MIN_SIZE   (1024u * 1024u)        /* ratio checked above this */
#define OFD_MAX_NAME         512                    /* entry name / path bytes  */
#define OFD_MAX_XML          (8u * 1024u * 1024u)   /* one XML part             */
#define OFD_XML_MAX_DEPTH    64                     /* element nesting          */
#define OFD_MAX_DOCS         16                     /* DocBody elements         */
#define OFD_MAX_PAGES        10000                  /* pages of one document    */
#define OFD_MAX_SIGNATURES   256                    /* signatures of a document */
#define OFD_MAX_REFERENCES   OFD_MAX_ENTRIES        /* References of one sig    */
#define OFD_MAX_STAMPS       OFD_MAX_PAGES          /* StampAnnots of one sig   */
#define OFD_MAX_TOTAL_REFERENCES (4 * OFD_MAX_ENTRIES) /* References of all the
                                                       signatures of a package */
#define OFD_MAX_TOTAL_STAMPS (2 * OFD_MAX_PAGES)    /* StampAnnots of all of them */
#define OFD_MAX_KEYWORD      256                    /* keyword bytes            */

#define OFD_PAGE_ANY         ((size_t)-1)           /* keyword: search all pages */

/*
 * Signing callback: produce the DER SES_Signature (GB/T 38540) whose dataHash
 * is datahash (SM3 of the new Signature.xml) and whose propertyInfo is
 * property_info (the absolute path of that Signature.xml in the package).
 * *ses_der is malloc'ed by the callback and freed by this library.
 */
typedef err_code (*ofd_sign_fn)(void *ctx, const uint8_t datahash[32],
                                const char *property_info, uint8_t **ses_der,
                                size_t *len, struct err *e);

enum ofd_stamp_mode {
    OFD_STAMP_PAGE = 0,     /* page + x,y (top-left corner, mm)            */
    OFD_STAMP_KEYWORD,      /* centred on the first match of keyword       */
    OFD_STAMP_CROSS_PAGE,   /* 骑缝章: one slice per page at the right edge */
};

/* Which files the References protect. */
enum ofd_protect {
    OFD_PROTECT_CONTENT = 0, /* every file except the Signatures.xml list and
                                the new signature's own Signature.xml /
                                SignedValue.dat: later seals keep it valid   */
    OFD_PROTECT_ALL,         /* also Signatures.xml (as ofdrw's whole-document
                                mode): the document is locked, later seals
                                are refused                                 */
};

struct ofd_stamp_pos {
    enum ofd_stamp_mode mode;
    size_t page;            /* PAGE: 0-based page index; KEYWORD: page to
                               search or OFD_PAGE_ANY                        */
    double x, y;            /* PAGE: top-left corner in mm; CROSS_PAGE: y is
                               the top edge (negative: centred vertically)   */
    double width, height;   /* stamp size in mm; 0: the seal picture's size  */
    const char *keyword;    /* KEYWORD: UTF-8 text to find                   */
    size_t first_page, last_page; /* CROSS_PAGE: 0-based, inclusive; both 0
                               means all pages                               */
};

struct ofd_seal_params {
    struct ses_bytes seal;          /* DER SESeal, written as Seal.esl      */
    struct ofd_stamp_pos pos;
    enum ofd_protect protect;
    size_t doc_index;               /* DocBody, normally 0                  */
    time_t sign_time;               /* SignatureDateTime; 0: now            */
    const char *provider_name;      /* NULL: "seald"                        */
    const char *provider_company;   /* NULL: "seald"                        */
    const char *provider_version;   /* NULL: SEALD_VERSION                  */
    ofd_sign_fn sign;
    void *sign_ctx;
    size_t max_inflated;            /* inflation budget in bytes; 0: the
                                       default (OFD_DEFAULT_MAX_INFLATED)  */
};

/* What ofd_seal did. */
struct ofd_seal_info {
    char signature_path[OFD_MAX_NAME + 1]; /* "/Doc_0/Signs/Sign_N/Signature.xml" */
    char signature_id[32];                 /* ID in Signatures.xml           */
    uint8_t data_hash[SM3_DIGEST_LEN];     /* SM3 of Signature.xml           */
    size_t n_references;
    size_t n_stamps;
};

/* Initialise libxml2 once (thread-safe; called by every entry point). */
void ofd_init(void);

/*
 * Seal the OFD package in (len bytes): add Signs/Sign_N/{Signature.xml,
 * Seal.esl, SignedValue.dat}, list it in Signatures.xml (declared in OFD.xml
 * when new) and copy every other entry's compressed bytes unchanged.
 * *out (malloc'ed, *out_len bytes) is the caller's; info may be NULL.
 * Errors: ERR_MALFORMED / ERR_TOO_LARGE / ERR_UNSUPPORTED for a bad package,
 * ERR_INVALID for a bad position (page out of range, keyword not found),
 * ERR_CONFLICT when an existing signature protects the whole document,
 * the callback's error, ERR_NOMEM.
 */
err_code ofd_seal(const uint8_t *in, size_t len, const struct ofd_seal_params *p,
                  uint8_t **out, size_t *out_len, struct ofd_seal_info *info,
                  struct err *e);

/*
 * Status callback: called for each SES_Signature (a seal's signature) with
 * the decoded signature, its DER and its report (ses_verify_signature's),
 * before the signature's and the package's indications are concluded from
 * it; it may add checks and change the report's indication (the seal's
 * status, issue 17).  An error stops ofd_verify, which fails with it.
 */
typedef err_code (*ofd_status_fn)(void *ctx, const struct ses_signature *s,
                                  const uint8_t *der, size_t len,
                                  json_t *ses_report, struct err *e);

struct ofd_verify_opts {
    const char *trust_dir;          /* anchors, or NULL                     */
    X509_STORE *trust_store;        /* preloaded anchors (borrowed), or NULL */
    X509_STORE *tsa_store;          /* TSA anchors for timestamps (borrowed),
                                       or NULL                              */
    int include_picture;            /* put seal pictures (base64) in report */
    size_t max_inflated;            /* inflation budget in bytes; 0: the
                                       default (OFD_DEFAULT_MAX_INFLATED)  */
    ofd_status_fn status;           /* seal status, or NULL (none added)    */
    void *status_ctx;
};

/*
 * Verify every signature of every document in the package.  On ERR_OK
 * *report is the caller's (json_decref): {"kind": "ofd", "indication",
 * "sub_indication", "summary" ("all valid" | "some failed" | "indeterminate"
 * | "no signatures"), "signatures": [...]}, each signature with its
 * references (which file failed), its SES_Signature report, seal, pages and
 * positions.  A package that cannot be opened at all (not a zip, zip bomb,
 * unsafe names, XML bomb, no OFD.xml) is refused: ERR_MALFORMED,
 * ERR_TOO_LARGE or ERR_UNSUPPORTED with *report NULL; so is one that needs
 * more than the inflation budget or lists more than OFD_MAX_TOTAL_REFERENCES
 * references or OFD_MAX_TOTAL_STAMPS stamps in all (ERR_TOO_LARGE).
 */
err_code ofd_verify(const uint8_t *in, size_t len,
                    const struct ofd_verify_opts *o, json_t **report,
                    struct err *e);

/* Report for a package refused by ofd_verify (TOTAL_FAILED, FORMAT_FAILURE). */
json_t *ofd_report_refused(const struct err *why);

/* 0 TOTAL_PASSED, 1 TOTAL_FAILED, 2 INDETERMINATE (as ses_report_exit_code). */
int ofd_report_exit_code(const json_t *report);

/*
 * Parse a vendor SignatureDateTime: "YYYY-MM-DD HH:MM:SS", ISO 8601
 * "YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm]", "YYYYMMDDHHMMSS[.fff][Z]".
 * *t is the time (as UTC when no zone is given); *has_zone says whether the
 * text carried a zone.  ERR_INVALID when the text is none of these.
 */
err_code ofd_parse_datetime(const char *s, time_t *t, int *has_zone,
                            struct err *e);

#endif
