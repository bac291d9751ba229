/*
 * fuzz_multipart.c - libFuzzer target: the multipart/form-data reader
 * (src/http/multipart.c).  The input's first line is the Content-Type value, the
 * rest the body.  It must never crash, read out of bounds or leak, and
 * every part it returns must lie inside the body, with a non-empty unique
 * name.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

#define FUZZ_CT_MAX 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char ct[FUZZ_CT_MAX + 1], boundary[MULTIPART_BOUNDARY_MAX + 1];
    const uint8_t *nl = memchr(data, '\n', size < FUZZ_CT_MAX ? size
                                                              : FUZZ_CT_MAX);
    const uint8_t *body;
    uint8_t *copy;
    size_t ctlen, blen, i, j;
    struct multipart mp;
    struct err e;

    if (nl == NULL)
        return 0;
    ctlen = (size_t)(nl - data);
    memcpy(ct, data, ctlen);
    ct[ctlen] = '\0';
    if (memchr(ct, '\0', ctlen) != NULL)
        return 0;
    if (multipart_boundary(ct, boundary, &e) != ERR_OK)
        return 0;
    if (strlen(boundary) == 0 || strlen(boundary) > MULTIPART_BOUNDARY_MAX)
        abort();
    /* an exact-size heap copy so that ASan sees any over-read */
    blen = size - ctlen - 1;
    copy = malloc(blen ? blen : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, nl + 1, blen);
    body = copy;
    if (multipart_parse(body, blen, boundary, &mp, &e) == ERR_OK) {
        if (mp.n == 0 || mp.n > MULTIPART_MAX_PARTS)
            abort();
        for (i = 0; i < mp.n; i++) {
            const struct multipart_part *p = &mp.parts[i];
            if (p->name[0] == '\0' || p->data < body ||
                p->data + p->len > body + blen)
                abort();
            for (j = 0; j < i; j++)
                if (strcmp(mp.parts[j].name, p->name) == 0)
                    abort();
            if (multipart_get(&mp, p->name) != p)
                abort();
        }
    }
    free(copy);
    return 0;
}
