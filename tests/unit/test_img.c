/*
 * test_img.c - unit tests of img.c: valid PNG and GIF files (generated
 * here, and the PNG pictures inside the seal vectors), the size policy
 * (bytes, pixels, millimetres, aspect ratio), every truncation and a set of
 * targeted corruptions refused without crashing, and the SM3 of the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "img.h"
#include "ses.h"
#include "util.h"

/* t_png / t_gif only: no token needed here */
#include "seal_testutil.h"

static void test_png_ok(void **state)
{
    size_t len;
    uint8_t *png = t_png(200, 100, &len), h[SM3_DIGEST_LEN];
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    assert_int_equal(img_probe(png, len, &info, &e), ERR_OK);
    assert_int_equal(info.type, IMG_PNG);
    assert_string_equal(info.type_name, "PNG");
    assert_int_equal(info.width, 200);
    assert_int_equal(info.height, 100);
    assert_int_equal(sm2_sm3(png, len, h, &e), ERR_OK);
    assert_memory_equal(info.sm3, h, sizeof h);
    assert_int_equal(img_check(png, len, 40, 20, &info, &e), ERR_OK);
    /* aspect ratio must match the physical size */
    assert_int_equal(img_check(png, len, 40, 40, &info, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "aspect"));
    assert_int_equal(info.width, 0);
    assert_int_equal(img_check(png, len, 42, 20, &info, &e), ERR_OK);
    /* millimetre bounds */
    assert_int_equal(img_check(png, len, IMG_MAX_MM + 1, 40, &info, &e),
                     ERR_INVALID);
    assert_int_equal(img_check(png, len, 18, IMG_MIN_MM - 1, &info, &e),
                     ERR_INVALID);
    free(png);
}

static void test_png_pixel_bounds(void **state)
{
    size_t len;
    uint8_t *png;
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    png = t_png(IMG_MIN_PX - 1, IMG_MIN_PX - 1, &len);
    assert_int_equal(img_probe(png, len, &info, &e), ERR_OK);
    assert_int_equal(img_check(png, len, 40, 40, &info, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "px"));
    free(png);
    png = t_png(IMG_MIN_PX, IMG_MIN_PX, &len);
    assert_int_equal(img_check(png, len, 40, 40, &info, &e), ERR_OK);
    free(png);
    png = t_png(IMG_MAX_PX + 1, 8, &len);
    assert_int_equal(img_probe(png, len, &info, &e), ERR_OK);
    assert_int_equal(info.width, IMG_MAX_PX + 1);
    assert_int_equal(img_check(png, len, 80, 10, &info, &e), ERR_INVALID);
    free(png);
}

static void test_gif_ok(void **state)
{
    size_t len;
    uint8_t *gif = t_gif(300, 300, &len);
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    assert_int_equal(img_check(gif, len, 42, 42, &info, &e), ERR_OK);
    assert_int_equal(info.type, IMG_GIF);
    assert_string_equal(info.type_name, "GIF");
    assert_int_equal(info.width, 300);
    assert_int_equal(info.height, 300);
    /* GIF87a is accepted too */
    gif[4] = '7';
    assert_int_equal(img_probe(gif, len, &info, &e), ERR_OK);
    /* image outside the logical screen */
    gif[7] = 0;
    gif[6] = 10;
    assert_int_equal(img_probe(gif, len, &info, &e), ERR_MALFORMED);
    free(gif);
}

/* Every proper prefix of a valid file is refused (and does not crash). */
static void truncations(const uint8_t *d, size_t len)
{
    struct img_info info;
    struct err e = { 0 };

    for (size_t n = 0; n < len; n++) {
        err_code rc = img_probe(d, n, &info, &e);
        if (rc == ERR_OK)
            fail_msg("prefix of %zu/%zu bytes accepted", n, len);
    }
}

static void test_truncations(void **state)
{
    size_t len;
    uint8_t *png = t_png(64, 64, &len), *gif;

    (void)state;
    truncations(png, len);
    free(png);
    gif = t_gif(64, 64, &len);
    truncations(gif, len);
    free(gif);
}

static void test_png_corruptions(void **state)
{
    size_t len;
    uint8_t *png = t_png(64, 64, &len), *big;
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    /* bad CRC of IHDR */
    png[8 + 8 + 13] ^= 1;
    assert_int_equal(img_probe(png, len, &info, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "CRC"));
    png[8 + 8 + 13] ^= 1;
    /* data after IEND */
    big = malloc(len + 1);
    memcpy(big, png, len);
    big[len] = 0;
    assert_int_equal(img_probe(big, len + 1, &info, &e), ERR_MALFORMED);
    free(big);
    /* a chunk length pointing past the end */
    png[8] = 0x7f;
    assert_int_equal(img_probe(png, len, &info, &e), ERR_MALFORMED);
    png[8] = 0;
    /* not an image */
    assert_int_equal(img_probe((const uint8_t *)"\xff\xd8\xff\xe0JFIF", 8,
                               &info, &e), ERR_UNSUPPORTED);
    assert_int_equal(img_probe(png, 0, &info, &e), ERR_UNSUPPORTED);
    /* too large, before anything is read */
    assert_int_equal(img_probe(png, IMG_MAX_BYTES + 1, &info, &e),
                     ERR_TOO_LARGE);
    assert_int_equal(img_probe(png, len, &info, &e), ERR_OK);
    free(png);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(img_type_from_name("png"), IMG_PNG);
    assert_int_equal(img_type_from_name("GIF"), IMG_GIF);
    assert_int_equal(img_type_from_name("JPG"), IMG_NONE);
    assert_int_equal(img_type_from_name(NULL), IMG_NONE);
}

/* The PNG pictures of real seals (vectors) pass img_probe. */
static void test_vector_pictures(void **state)
{
    static const char *names[] = { "ofdrw-UserV4.esl", "ofdrw-UserV5.esl" };
    const char *v = getenv("SEALD_VECTORS");
    int seen = 0;

    (void)state;
    if (v == NULL)
        fail_msg("SEALD_VECTORS is not set (ctest sets it)");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1024];
        uint8_t *buf = NULL;
        size_t len = 0;
        struct ses_seal *s = NULL;
        struct img_info info;
        struct err e = { 0 };
        snprintf(path, sizeof path, "%s/seals/%s", v, names[i]);
        if (util_read_file(path, SES_MAX_DER, &buf, &len, NULL) != ERR_OK)
            continue;
        assert_int_equal(ses_seal_decode(buf, len, &s, &e), ERR_OK);
        if (img_type_from_name(s->picture_type) != IMG_NONE) {
            if (img_probe(s->picture.p, s->picture.len, &info, &e) != ERR_OK)
                fail_msg("%s picture: %s", names[i], e.msg);
            assert_true(info.width > 0 && info.height > 0);
            seen++;
        }
        ses_seal_free(s);
        free(buf);
    }
    if (seen == 0)
        fail_msg("no vector seal pictures were read from %s", v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_ok),
        cmocka_unit_test(test_png_pixel_bounds),
        cmocka_unit_test(test_gif_ok),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_png_corruptions),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_vector_pictures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
