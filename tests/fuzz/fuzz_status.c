/*
 * fuzz_status.c - libFuzzer target: the signed seal status statement
 * (sealstatus.c), as a relying party's client would decode one fetched
 * from GET /status/...  sstatus_decode on any bytes must not crash, read
 * out of bounds or leak; on success its contract must hold (fields within
 * bounds, the certificate it returns parses, and the TBS it re-encodes
 * from those fields is accepted by sstatus_tbs_encode).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "sealstatus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sstatus s;
    struct err e;
    uint8_t *tbs = NULL;
    size_t tbs_len = 0;
    const unsigned char *p;
    X509 *x;

    if (sstatus_decode(data, size, &s, &e) != ERR_OK) {
        if (s.cert != NULL)
            abort();            /* nothing to free on failure */
        return 0;
    }
    if (sstatus_state_name(s.status) == NULL ||
        (s.reason != -1 && sstatus_reason_name(s.reason) == NULL) ||
        s.next_update <= s.this_update ||
        (s.es_id[0] == '\0' && !s.has_hash) || s.cert == NULL)
        abort();
    p = s.cert;
    if ((x = d2i_X509(NULL, &p, (long)s.cert_len)) == NULL)
        abort();
    X509_free(x);
    if (sstatus_tbs_encode(&s, &tbs, &tbs_len, &e) != ERR_OK)
        abort();
    free(tbs);
    sstatus_clear(&s);
    return 0;
}
