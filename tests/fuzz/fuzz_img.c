/*
 * fuzz_img.c - libFuzzer target: the PNG / GIF seal picture checks
 * (img_probe, img_check) must never crash, read out of bounds or leak on
 * any input, and must agree with each other.
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

    if (img_probe(data, size, &a, &e) != ERR_OK)
        return 0;
    if (a.width == 0 || a.height == 0 || a.type_name == NULL)
        abort();
    if (img_check(data, size, 40, 40, &b, &e) == ERR_OK &&
        (b.width != a.width || b.height != a.height || b.type != a.type))
        abort();
    return 0;
}
