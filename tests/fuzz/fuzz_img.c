/*
 * fuzz_img.c - libFuzzer target: the PNG / GIF seal picture decoders
 * (img_decode through libpng and giflib, and img_check) must never crash,
 * read out of bounds, leak or exceed their decode budget on any input, and
 * must agree with each other.  libpng and giflib are the system's, not
 * instrumented: coverage guides through img.c's callbacks and checks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "img.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct img_info a, b;
    struct err e;

    if (img_decode(data, size, &a, &e) != ERR_OK)
        return 0;
    if (a.width == 0 || a.height == 0 || a.type_name == NULL)
        abort();
    /* accepted means decoded within the budget (a pixel is >= 1 bit) */
    if ((uint64_t)a.width * a.height > 8ull * IMG_MAX_DECODED_BYTES)
        abort();
    if (img_check(data, size, 40, 40, &b, &e) == ERR_OK &&
        (b.width != a.width || b.height != a.height || b.type != a.type))
        abort();
    return 0;
}
