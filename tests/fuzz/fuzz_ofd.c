/*
 * fuzz_ofd.c - libFuzzer target: the OFD package reader and verifier
 * (zip limits, safe XML, OFD.xml / Document.xml / Signatures.xml /
 * Signature.xml parsing, references, SignedValue dispatch) and the vendor
 * date parser.  Input starting with 'X' is used as the Signature.xml of a
 * fixed small package built here (so mutations reach the XML and reference
 * code past the zip CRCs); anything else is verified as a whole package.
 * Must never crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include "ofd.h"

#define FUZZ_DATE_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char F_OFD[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ofd:OFD xmlns:ofd=\""
    "http://www.ofdspec.org/2016\"><ofd:DocBody><ofd:DocRoot>Doc_0/"
    "Document.xml</ofd:DocRoot><ofd:Signatures>Doc_0/Signs/Signatures.xml"
    "</ofd:Signatures></ofd:DocBody></ofd:OFD>";
static const char F_DOC[] =
    "<?xml version=\"1.0\"?><ofd:Document xmlns:ofd=\"http://www.ofdspec.org"
    "/2016\"><ofd:Pages><ofd:Page ID=\"1\" BaseLoc=\"Pages/Page_0/Content.xml"
    "\"/></ofd:Pages></ofd:Document>";
static const char F_PAGE[] =
    "<?xml version=\"1.0\"?><ofd:Page xmlns:ofd=\"http://www.ofdspec.org/2016"
    "\"><ofd:Content/></ofd:Page>";
static const char F_SIGS[] =
    "<?xml version=\"1.0\"?><ofd:Signatures xmlns:ofd=\"http://www.ofdspec."
    "org/2016\"><ofd:Signature ID=\"1\" BaseLoc=\"Sign_0/Signature.xml\"/>"
    "</ofd:Signatures>";
static const uint8_t F_SV[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};

/* A stored-entry package with data as Signature.xml; 0 on failure. */
static int build(const uint8_t *data, size_t size, uint8_t **out, size_t *len)
{
    static const char *names[] = {
        "OFD.xml", "Doc_0/Document.xml", "Doc_0/Pages/Page_0/Content.xml",
        "Doc_0/Signs/Signatures.xml", "Doc_0/Signs/Sign_0/SignedValue.dat",
        "Doc_0/Signs/Sign_0/Signature.xml"};
    const void *parts[] = {F_OFD, F_DOC, F_PAGE, F_SIGS, F_SV, data};
    size_t lens[] = {sizeof(F_OFD) - 1, sizeof(F_DOC) - 1, sizeof(F_PAGE) - 1,
                     sizeof(F_SIGS) - 1, sizeof(F_SV), size};
    zip_error_t ze;
    zip_source_t *src;
    zip_t *za;
    zip_int64_t n;
    size_t i;
    int ok = 0;

    zip_error_init(&ze);
    src = zip_source_buffer_create(NULL, 0, 0, &ze);
    if (src == NULL)
        return 0;
    za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    if (za == NULL) {
        zip_source_free(src);
        return 0;
    }
    zip_source_keep(src);
    for (i = 0; i < 6; i++) {
        zip_source_t *zs = zip_source_buffer(za, parts[i], lens[i], 0);
        zip_int64_t idx = zs ? zip_file_add(za, names[i], zs, 0) : -1;

        if (idx < 0) {
            zip_source_free(zs);
            zip_discard(za);
            goto done;
        }
        zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    }
    if (zip_close(za) != 0) {
        zip_discard(za);
        goto done;
    }
    if (zip_source_open(src) != 0)
        goto done;
    zip_source_seek(src, 0, SEEK_END);
    n = zip_source_tell(src);
    zip_source_seek(src, 0, SEEK_SET);
    if (n > 0 && (*out = malloc((size_t)n)) != NULL) {
        if (zip_source_read(src, *out, (zip_uint64_t)n) == n) {
            *len = (size_t)n;
            ok = 1;
        } else {
            free(*out);
            *out = NULL;
        }
    }
    zip_source_close(src);
done:
    zip_source_free(src);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ofd_verify_opts o;
    json_t *r = NULL;
    struct err e;
    char date[FUZZ_DATE_MAX + 1];
    size_t n = size < FUZZ_DATE_MAX ? size : FUZZ_DATE_MAX, len = 0;
    uint8_t *pkg = NULL;
    time_t t;
    int z;

    memcpy(date, data, n);
    date[n] = '\0';
    (void)ofd_parse_datetime(date, &t, &z, NULL);
    if (size > 0 && data[0] == 'X') {
        if (!build(data + 1, size - 1, &pkg, &len))
            return 0;
        data = pkg;
        size = len;
    }
    memset(&o, 0, sizeof(o));
    o.include_picture = 1;
    if (ofd_verify(data, size, &o, &r, &e) == ERR_OK) {
        (void)ofd_report_exit_code(r);
        json_decref(r);
    } else {
        r = ofd_report_refused(&e);
        json_decref(r);
    }
    free(pkg);
    return 0;
}
