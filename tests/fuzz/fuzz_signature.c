/*
 * fuzz_signature.c - libFuzzer target: SES_Signature decoding (v1/v4/v5,
 * with the embedded seal), its JSON view, verification with a document hash,
 * GB/T 35275 SignedData decoding and verification, and SM2 signature value
 * normalisation.  Must never crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ses.h"
#include "sm2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ses_signature *s = NULL;
    struct ses_signed_data *sd = NULL;
    struct ses_verify_opts o;
    uint8_t rs[SM2_SIG_RAW_LEN];
    struct err e;
    json_t *j;

    (void)sm2_sig_normalize(data, size, rs, NULL);
    (void)ses_sniff(data, size);
    memset(&o, 0, sizeof(o));
    o.data = data;
    o.data_len = size;
    if (ses_signed_data_decode(data, size, &sd, &e) == ERR_OK) {
        j = ses_verify_signed_data(sd, &o, &e);
        json_decref(j);
        ses_signed_data_free(sd);
    }
    if (ses_signature_decode(data, size, &s, &e) != ERR_OK)
        return 0;
    j = ses_signature_to_json(s);
    json_decref(j);
    j = ses_verify_signature(s, &o, &e);
    json_decref(j);
    ses_signature_free(s);
    return 0;
}
