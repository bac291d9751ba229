/*
 * fuzz_ofd.c - libFuzzer target: the OFD package reader and verifier
 * (zip limits, safe XML, OFD.xml / Document.xml / Signatures.xml /
 * Signature.xml parsing, references, SignedValue dispatch) and the vendor
 * date parser.  Must never crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ofd.h"

#define FUZZ_DATE_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ofd_verify_opts o;
    json_t *r = NULL;
    struct err e;
    char date[FUZZ_DATE_MAX + 1];
    size_t n = size < FUZZ_DATE_MAX ? size : FUZZ_DATE_MAX;
    time_t t;
    int z;

    memcpy(date, data, n);
    date[n] = '\0';
    (void)ofd_parse_datetime(date, &t, &z, NULL);
    memset(&o, 0, sizeof(o));
    o.include_picture = 1;
    if (ofd_verify(data, size, &o, &r, &e) == ERR_OK) {
        (void)ofd_report_exit_code(r);
        json_decref(r);
    } else {
        r = ofd_report_refused(&e);
        json_decref(r);
    }
    return 0;
}
