/*
 * fuzz_seal.c - libFuzzer target: SESeal decoding (v1/v4/v5), the inspect
 * JSON view and seal verification must never crash or leak on any input.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ses.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ses_seal *s = NULL;
    struct ses_verify_opts o;
    struct err e;
    json_t *j;

    (void)ses_sniff(data, size);
    if (ses_seal_decode(data, size, &s, &e) != ERR_OK)
        return 0;
    j = ses_seal_to_json(s);
    json_decref(j);
    memset(&o, 0, sizeof(o));
    j = ses_verify_seal(s, &o, &e);
    json_decref(j);
    ses_seal_free(s);
    return 0;
}
