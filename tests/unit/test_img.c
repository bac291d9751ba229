/*
 * test_img.c - unit tests of img.c: valid PNG and GIF files of every kind
 * (generated here, and the PNG pictures inside the seal vectors) decode
 * with their dimensions; the size policy (bytes, pixels, millimetres,
 * aspect ratio); and what only a real decoder refuses (issue 14): image
 * data of random bytes, too little or too much image data (a 200 x 200
 * PNG whose data inflates to 500 MiB), declared sizes over the decode
 * budget, palette and colour-table indices out of range, truncated LZW
 * data, every truncation of a file, and targeted corruptions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "img.h"
#include "ses.h"
#include "util.h"

/* t_png / t_gif only: no token needed here */
#include "seal_testutil.h"

/* ---- generators ---------------------------------------------------------- */

/* zlib stream of raw at level 9; *zlen set; malloc'ed. */
static uint8_t *deflate_all(const uint8_t *raw, size_t n, size_t *zlen)
{
    uLongf cap = compressBound((uLong)n);
    uint8_t *z = malloc(cap);

    assert_non_null(z);
    assert_int_equal(compress2(z, &cap, raw, (uLong)n, 9), Z_OK);
    *zlen = cap;
    return z;
}

/* A PNG: IHDR, a PLTE of plte_n entries when plte_n > 0, an optional extra
 * chunk before the image data, idat in IDAT chunks of at most 8 KiB (as
 * libpng writes them), IEND.  malloc'ed. */
static uint8_t *mk_png_x(uint32_t w, uint32_t h, uint8_t depth, uint8_t colour,
                         uint8_t interlace, int plte_n, const char *xtype,
                         const uint8_t *xdata, uint32_t xlen,
                         const uint8_t *idat, size_t idat_len, size_t *len)
{
    uint8_t ihdr[13] = { 0 }, plte[768] = { 0 };
    uint8_t *out = malloc(8 + 25 + 12 + sizeof plte + 12 + xlen +
                          12 * (idat_len / 8192 + 1) + idat_len + 12);
    size_t pos = 8, off = 0;

    assert_non_null(out);
    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    t_be32(ihdr, w);
    t_be32(ihdr + 4, h);
    ihdr[8] = depth;
    ihdr[9] = colour;
    ihdr[12] = interlace;
    t_chunk(out, &pos, "IHDR", ihdr, 13);
    if (plte_n > 0)
        t_chunk(out, &pos, "PLTE", plte, (uint32_t)(3 * plte_n));
    if (xtype != NULL)
        t_chunk(out, &pos, xtype, xdata, xlen);
    do {
        uint32_t n = idat_len - off > 8192 ? 8192 : (uint32_t)(idat_len - off);
        t_chunk(out, &pos, "IDAT", idat + off, n);
        off += n;
    } while (off < idat_len);
    t_chunk(out, &pos, "IEND", NULL, 0);
    *len = pos;
    return out;
}

static uint8_t *mk_png(uint32_t w, uint32_t h, uint8_t depth, uint8_t colour,
                       uint8_t interlace, int plte_n, const uint8_t *idat,
                       size_t idat_len, size_t *len)
{
    return mk_png_x(w, h, depth, colour, interlace, plte_n, NULL, NULL, 0,
                    idat, idat_len, len);
}

/* The Adam7 passes, from the PNG specification's table (not libpng's). */
static const uint32_t a7_x0[7] = { 0, 4, 0, 2, 0, 1, 0 },
                      a7_y0[7] = { 0, 0, 4, 0, 2, 0, 1 },
                      a7_dx[7] = { 8, 8, 4, 4, 2, 2, 1 },
                      a7_dy[7] = { 8, 8, 8, 4, 4, 2, 2 };

/*
 * The filtered scanlines of a w x h image of bpp bits a pixel: filter
 * byte 0, then every byte `fill`.  Returns their size; writes them to raw
 * when raw is not NULL.
 */
static size_t raw_rows(uint8_t *raw, uint32_t w, uint32_t h, unsigned bpp,
                       int interlace, uint8_t fill)
{
    size_t total = 0;

    for (int p = 0; p < (interlace ? 7 : 1); p++) {
        uint32_t x0 = interlace ? a7_x0[p] : 0, dx = interlace ? a7_dx[p] : 1;
        uint32_t y0 = interlace ? a7_y0[p] : 0, dy = interlace ? a7_dy[p] : 1;
        size_t pw = w > x0 ? (w - x0 + dx - 1) / dx : 0;
        size_t ph = h > y0 ? (h - y0 + dy - 1) / dy : 0;
        size_t rb = (pw * bpp + 7) / 8;
        if (pw == 0 || ph == 0)
            continue;
        for (size_t y = 0; raw != NULL && y < ph; y++) {
            raw[total + y * (1 + rb)] = 0;
            memset(raw + total + y * (1 + rb) + 1, fill, rb);
        }
        total += ph * (1 + rb);
    }
    return total;
}

static size_t raw_size(uint32_t w, uint32_t h, unsigned bpp, int interlace)
{
    return raw_rows(NULL, w, h, bpp, interlace, 0);
}

/* A PNG of the given kind whose pixel bytes are all `fill`. */
static uint8_t *mk_png_fill(uint32_t w, uint32_t h, uint8_t depth,
                            uint8_t colour, uint8_t interlace, int plte_n,
                            uint8_t fill, size_t *len)
{
    static const unsigned channels[7] = { 1, 0, 3, 1, 2, 0, 4 };
    unsigned bpp = depth * channels[colour];
    size_t n = raw_size(w, h, bpp, interlace), zl;
    uint8_t *raw = malloc(n), *z, *png;

    assert_non_null(raw);
    raw_rows(raw, w, h, bpp, interlace, fill);
    z = deflate_all(raw, n, &zl);
    png = mk_png(w, h, depth, colour, interlace, plte_n, z, zl, len);
    free(raw);
    free(z);
    return png;
}

/* Deterministic bytes (xorshift32). */
static void pseudo_random(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        p[i] = (uint8_t)seed;
    }
}

/*
 * The decompression bomb: a w x h greyscale PNG whose zlib stream
 * is the image's rows and then `mib` MiB of zeros.  One MiB of zeros is
 * deflated once after a full flush (so it refers to nothing before it) and
 * repeated; the stream ends with an empty final block and the Adler-32 of
 * everything, so zlib itself would inflate all of it without complaint.
 */
static uint8_t *mk_png_bomb(uint32_t w, uint32_t h, unsigned mib, size_t *len)
{
    size_t raw_n = raw_size(w, h, 8, 0), one = 1u << 20, head_n, seg_n, zl;
    uint8_t *raw = calloc(1, raw_n), *zeros = calloc(1, one);
    uint8_t *head = malloc(raw_n + 1024), *seg = malloc(one), *z, *png;
    uLong adler, adler_one;
    z_stream s;

    assert_true(raw && zeros && head && seg);
    memset(&s, 0, sizeof s);
    assert_int_equal(deflateInit(&s, 9), Z_OK);
    s.next_in = raw;
    s.avail_in = (uInt)raw_n;
    s.next_out = head;
    s.avail_out = (uInt)(raw_n + 1024);
    assert_int_equal(deflate(&s, Z_FULL_FLUSH), Z_OK);
    assert_int_equal(s.avail_in, 0);
    head_n = raw_n + 1024 - s.avail_out;
    s.next_in = zeros;
    s.avail_in = (uInt)one;
    s.next_out = seg;
    s.avail_out = (uInt)one;
    assert_int_equal(deflate(&s, Z_FULL_FLUSH), Z_OK);
    assert_int_equal(s.avail_in, 0);
    seg_n = one - s.avail_out;
    deflateEnd(&s);
    adler = adler32(adler32(0, NULL, 0), raw, (uInt)raw_n);
    adler_one = adler32(adler32(0, NULL, 0), zeros, (uInt)one);
    z = malloc(head_n + (size_t)mib * seg_n + 6);
    assert_non_null(z);
    memcpy(z, head, head_n);
    zl = head_n;
    for (unsigned i = 0; i < mib; i++) {
        memcpy(z + zl, seg, seg_n);
        zl += seg_n;
        adler = adler32_combine(adler, adler_one, (z_off_t)one);
    }
    z[zl++] = 0x03;                     /* empty final fixed-Huffman block */
    z[zl++] = 0x00;
    t_be32(z + zl, (uint32_t)adler);
    zl += 4;
    png = mk_png(w, h, 8, 0, 0, 0, z, zl, len);
    free(raw);
    free(zeros);
    free(head);
    free(seg);
    free(z);
    return png;
}

/*
 * LZW data (minimum code size 2) for n pixels all of value pv, compressed
 * as an encoder would: codes for runs of 1, 2, 3, ... pixels, each adding
 * the next longer run to the table, a clear code before the table fills.
 * The code width grows as giflib's decoder expects (after each code read,
 * when the next free code passes 2^width).  Returns the bytes written.
 */
static size_t gif_run_lzw(size_t n, uint8_t pv, uint8_t *out)
{
    struct t_gif_bits b = { out, 1, 0, 0, 0 };
    uint32_t next = 6, max1 = 8, k = 0;
    int width = 3;

    out[0] = 2;
    while (n > 0) {
        uint32_t run;
        if (k == 0 || k == 4000) {              /* (re)start the table */
            t_gif_code(&b, 4, width);
            next = 6;
            max1 = 8;
            width = 3;
            k = 0;
        }
        run = (size_t)(k + 1) < n ? k + 1 : (uint32_t)n;
        t_gif_code(&b, run == 1 ? pv : run + 4, width);
        n -= run;
        k++;
        if (++next > max1 && width < 12) {
            max1 <<= 1;
            width++;
        }
    }
    t_gif_code(&b, 5, width);                   /* end of information */
    if (b.bits > 0)
        t_gif_byte(&b, (uint8_t)b.acc);
    out[b.o++] = 0;
    return b.o;
}

/*
 * A GIF89a: a sw x sh screen with a 2-entry global table (gct) or none,
 * then `frames` images of fw x fh at (0, 0) whose pixels are all pv (LZW
 * data for only `lines` rows of them when lines < fh), then the trailer.
 */
static uint8_t *mk_gif(uint32_t sw, uint32_t sh, int gct, int frames,
                       uint32_t fw, uint32_t fh, uint32_t lines, uint8_t pv,
                       size_t *len)
{
    size_t n = (size_t)fw * (lines < fh ? lines : fh), pos = 13;
    /* at most 4000 codes of 12 bits for every 8 Mi pixels */
    uint8_t *g = malloc(32 + (size_t)frames *
                        (10 + 16 + (n / (8u << 20) + 1) * 6100));

    assert_non_null(g);
    memcpy(g, "GIF89a", 6);
    g[6] = (uint8_t)sw;
    g[7] = (uint8_t)(sw >> 8);
    g[8] = (uint8_t)sh;
    g[9] = (uint8_t)(sh >> 8);
    g[10] = gct ? 0x80 : 0;
    g[11] = g[12] = 0;
    if (gct) {
        memcpy(g + pos, "\xff\xff\xff\x40\x00\x00", 6);
        pos += 6;
    }
    for (int f = 0; f < frames; f++) {
        g[pos++] = 0x2c;
        memset(g + pos, 0, 4);
        g[pos + 4] = (uint8_t)fw;
        g[pos + 5] = (uint8_t)(fw >> 8);
        g[pos + 6] = (uint8_t)fh;
        g[pos + 7] = (uint8_t)(fh >> 8);
        g[pos + 8] = 0;
        pos += 9;
        pos += gif_run_lzw(n, pv, g + pos);
    }
    g[pos++] = 0x3b;
    *len = pos;
    return g;
}

/* ---- valid images and the size policy ----------------------------------- */

static void test_png_ok(void **state)
{
    size_t len;
    uint8_t *png = t_png(200, 100, &len), h[SM3_DIGEST_LEN];
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    assert_int_equal(img_decode(png, len, &info, &e), ERR_OK);
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
    assert_int_equal(img_decode(png, len, &info, &e), ERR_OK);
    assert_int_equal(img_check(png, len, 40, 40, &info, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "px"));
    free(png);
    png = t_png(IMG_MIN_PX, IMG_MIN_PX, &len);
    assert_int_equal(img_check(png, len, 40, 40, &info, &e), ERR_OK);
    free(png);
    png = t_png(IMG_MAX_PX + 1, 8, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_OK);
    assert_int_equal(info.width, IMG_MAX_PX + 1);
    assert_int_equal(img_check(png, len, 80, 10, &info, &e), ERR_INVALID);
    free(png);
}

/* Every colour type and bit depth, plain and Adam7, decodes with its
 * dimensions (odd sizes so that some passes are narrow or empty). */
static void test_png_kinds(void **state)
{
    static const struct { uint8_t depth, colour; int plte; } k[] = {
        { 1, 0, 0 }, { 8, 0, 0 }, { 16, 0, 0 }, { 8, 2, 0 }, { 16, 2, 0 },
        { 1, 3, 2 }, { 4, 3, 16 }, { 8, 3, 256 }, { 8, 4, 0 }, { 8, 6, 0 },
        { 16, 6, 0 },
    };
    static const uint32_t sizes[][2] = { { 200, 150 }, { 65, 3 }, { 1, 1 } };

    (void)state;
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (uint8_t il = 0; il <= 1; il++) {
                size_t len;
                struct img_info info;
                struct err e = { 0 };
                uint8_t *png = mk_png_fill(sizes[s][0], sizes[s][1],
                                           k[i].depth, k[i].colour, il,
                                           k[i].plte, 0, &len);
                if (img_decode(png, len, &info, &e) != ERR_OK)
                    fail_msg("depth %u colour %u %ux%u interlace %u: %s",
                             k[i].depth, k[i].colour, sizes[s][0],
                             sizes[s][1], il, e.msg);
                assert_int_equal(info.width, sizes[s][0]);
                assert_int_equal(info.height, sizes[s][1]);
                free(png);
            }
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
    assert_int_equal(img_decode(gif, len, &info, &e), ERR_OK);
    /* image outside the logical screen */
    gif[7] = 0;
    gif[6] = 10;
    assert_int_equal(img_decode(gif, len, &info, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "screen"));
    free(gif);
    /* several images inside the screen, no graphic control extension */
    gif = mk_gif(100, 80, 1, 3, 100, 40, 40, 1, &len);
    assert_int_equal(img_decode(gif, len, &info, &e), ERR_OK);
    assert_int_equal(info.width, 100);
    assert_int_equal(info.height, 80);
    free(gif);
}

/* ---- what only a decoder refuses (issue 14) ------------------------------ */

/* Valid signature, IHDR and CRCs; the image data is random bytes. */
static void test_png_random_data(void **state)
{
    uint8_t junk[4096];
    size_t len;
    uint8_t *png;
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    pseudo_random(junk, sizeof junk, 14);
    png = mk_png(200, 200, 8, 2, 0, 0, junk, sizeof junk, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    assert_int_equal(info.width, 0);
    assert_int_equal(img_check(png, len, 40, 40, &info, &e), ERR_MALFORMED);
    free(png);
    /* a valid zlib header in front of the random bytes */
    junk[0] = 0x78;
    junk[1] = 0x9c;
    png = mk_png(200, 200, 8, 2, 0, 0, junk, sizeof junk, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    free(png);
}

/* The zlib stream is valid but holds too little, or a bad filter byte. */
static void test_png_short_data(void **state)
{
    size_t n = raw_size(100, 100, 8, 0), zl, len;
    uint8_t *raw = calloc(1, raw_size(100, 100, 8, 1)), *z, *png;
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    assert_non_null(raw);                       /* Adam7 needs the most */
    z = deflate_all(raw, n - 101, &zl);         /* one row missing */
    png = mk_png(100, 100, 8, 0, 0, 0, z, zl, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    free(png);
    free(z);
    z = deflate_all(raw, raw_size(100, 100, 8, 1) - 1, &zl);
    png = mk_png(100, 100, 8, 0, 1, 0, z, zl, &len);  /* Adam7, one short */
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    free(png);
    free(z);
    raw[50 * 101] = 5;                          /* no such filter */
    z = deflate_all(raw, n, &zl);
    png = mk_png(100, 100, 8, 0, 0, 0, z, zl, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    free(png);
    free(z);
    free(raw);
}

/* A 200 x 200 PNG whose data inflates to 500 MiB: refused, not inflated
 * (the decoder stops at the first byte past the last row). */
static void test_png_bomb(void **state)
{
    size_t len;
    uint8_t *png = mk_png_bomb(200, 200, 500, &len);
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    assert_true(len <= IMG_MAX_BYTES);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "PNG"));
    assert_int_equal(img_check(png, len, 40, 40, &info, &e), ERR_MALFORMED);
    free(png);
    /* the same image without the zeros decodes */
    png = mk_png_bomb(200, 200, 0, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_OK);
    assert_int_equal(info.width, 200);
    free(png);
}

/* Declared sizes over IMG_MAX_DECODED_BYTES are refused before any image
 * data is read; the largest picture the policy allows fits. */
static void test_png_decode_budget(void **state)
{
    uint8_t z[] = { 0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01 };
    size_t len;
    uint8_t *png;
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    png = mk_png(20000, 20000, 8, 6, 0, 0, z, sizeof z, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "decode"));
    free(png);
    png = mk_png(IMG_MAX_PX + 1, IMG_MAX_PX, 16, 6, 0, 0, z, sizeof z, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_INVALID);
    free(png);
    png = mk_png(IMG_MAX_PX, IMG_MAX_PX + 1, 16, 6, 1, 0, z, sizeof z, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_INVALID);
    free(png);
    /* beyond what libpng is told to accept at all */
    png = mk_png(IMG_DECODE_MAX_PX + 1u, 1, 1, 0, 0, 0, z, sizeof z, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    free(png);
    png = mk_png_fill(IMG_MAX_PX, IMG_MAX_PX, 16, 6, 0, 0, 0, &len);
    assert_int_equal(img_check(png, len, 40, 40, &info, &e), ERR_OK);
    assert_int_equal(info.width, IMG_MAX_PX);
    free(png);
}

/* Palette indices must be inside PLTE (1- and 8-bit indices). */
static void test_png_palette(void **state)
{
    size_t len;
    uint8_t *png;
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    png = mk_png_fill(64, 64, 8, 3, 0, 2, 1, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_OK);
    free(png);
    png = mk_png_fill(64, 64, 8, 3, 0, 2, 2, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "PLTE"));
    free(png);
    png = mk_png_fill(64, 64, 1, 3, 0, 1, 0xff, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    free(png);
    png = mk_png_fill(64, 64, 1, 3, 0, 2, 0xff, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_OK);
    free(png);
    /* a palette image without PLTE */
    png = mk_png_fill(64, 64, 8, 3, 0, 0, 0, &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    free(png);
}

/* Ancillary chunks are skipped but their CRCs count; unknown critical
 * chunks are refused. */
static void test_png_chunks(void **state)
{
    static const uint8_t text[] = "Title\0seal";
    size_t n = raw_size(64, 64, 8, 0), zl, len;
    uint8_t *raw = calloc(1, n), *z, *png;
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    assert_non_null(raw);
    z = deflate_all(raw, n, &zl);
    png = mk_png_x(64, 64, 8, 0, 0, 0, "tEXt", text, sizeof text - 1, z, zl,
                   &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_OK);
    png[8 + 25 + 8] ^= 1;                      /* inside the tEXt data */
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    free(png);
    png = mk_png_x(64, 64, 8, 0, 0, 0, "ABCD", text, sizeof text - 1, z, zl,
                   &len);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    free(png);
    free(z);
    free(raw);
}

/* Block structure intact, LZW data for the first row only. */
static void test_gif_truncated(void **state)
{
    size_t len;
    uint8_t *gif = mk_gif(120, 120, 1, 1, 120, 120, 1, 1, &len);
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    assert_int_equal(img_decode(gif, len, &info, &e), ERR_MALFORMED);
    assert_int_equal(img_check(gif, len, 30, 30, &info, &e), ERR_MALFORMED);
    free(gif);
    /* the second of two images cut short */
    gif = mk_gif(120, 120, 1, 2, 120, 60, 60, 1, &len);
    assert_int_equal(img_decode(gif, len, &info, &e), ERR_OK);
    free(gif);
}

/* Colour tables, indices, and the GIF limits. */
static void test_gif_rules(void **state)
{
    size_t len;
    uint8_t *gif;
    struct img_info info;
    struct err e = { 0 };

    (void)state;
    gif = mk_gif(64, 64, 1, 1, 64, 64, 64, 2, &len);    /* index 2 of 2 */
    assert_int_equal(img_decode(gif, len, &info, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "colour table"));
    free(gif);
    gif = mk_gif(64, 64, 0, 1, 64, 64, 64, 0, &len);    /* no table */
    assert_int_equal(img_decode(gif, len, &info, &e), ERR_MALFORMED);
    free(gif);
    gif = mk_gif(65535, 65535, 1, 1, 1, 1, 1, 0, &len); /* screen budget */
    assert_int_equal(img_decode(gif, len, &info, &e), ERR_INVALID);
    free(gif);
    /* two 4096 x 4096 images fill the budget; a third is refused before
     * its data is decoded */
    gif = mk_gif(4096, 4096, 1, 2, 4096, 4096, 4096, 1, &len);
    assert_true(len <= IMG_MAX_BYTES);
    assert_int_equal(img_decode(gif, len, &info, &e), ERR_OK);
    free(gif);
    gif = mk_gif(4096, 4096, 1, 3, 4096, 4096, 4096, 1, &len);
    assert_int_equal(img_decode(gif, len, &info, &e), ERR_INVALID);
    assert_non_null(strstr(e.msg, "decode"));
    free(gif);
    gif = mk_gif(8, 8, 1, IMG_MAX_FRAMES, 1, 1, 1, 0, &len);
    assert_int_equal(img_decode(gif, len, &info, &e), ERR_OK);
    free(gif);
    gif = mk_gif(8, 8, 1, IMG_MAX_FRAMES + 1, 1, 1, 1, 0, &len);
    assert_int_equal(img_decode(gif, len, &info, &e), ERR_INVALID);
    free(gif);
}

/* Every proper prefix of a valid file is refused (and does not crash). */
static void truncations(const uint8_t *d, size_t len)
{
    struct img_info info;
    struct err e = { 0 };

    for (size_t n = 0; n < len; n++) {
        err_code rc = img_decode(d, n, &info, &e);
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
    png = mk_png_fill(64, 64, 8, 2, 1, 0, 0, &len);
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
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "CRC"));
    png[8 + 8 + 13] ^= 1;
    /* data after IEND */
    big = malloc(len + 1);
    memcpy(big, png, len);
    big[len] = 0;
    assert_int_equal(img_decode(big, len + 1, &info, &e), ERR_MALFORMED);
    assert_non_null(strstr(e.msg, "after IEND"));
    free(big);
    /* a chunk length pointing past the end */
    png[8] = 0x7f;
    assert_int_equal(img_decode(png, len, &info, &e), ERR_MALFORMED);
    png[8] = 0;
    /* not an image */
    assert_int_equal(img_decode((const uint8_t *)"\xff\xd8\xff\xe0JFIF", 8,
                                &info, &e), ERR_UNSUPPORTED);
    assert_int_equal(img_decode(png, 0, &info, &e), ERR_UNSUPPORTED);
    /* too large, before anything is read */
    assert_int_equal(img_decode(png, IMG_MAX_BYTES + 1, &info, &e),
                     ERR_TOO_LARGE);
    assert_int_equal(img_decode(png, len, &info, &e), ERR_OK);
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

/* The PNG pictures of real seals (vectors) decode. */
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
            if (img_decode(s->picture.p, s->picture.len, &info, &e) != ERR_OK)
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
        cmocka_unit_test(test_png_kinds),
        cmocka_unit_test(test_gif_ok),
        cmocka_unit_test(test_png_random_data),
        cmocka_unit_test(test_png_short_data),
        cmocka_unit_test(test_png_bomb),
        cmocka_unit_test(test_png_decode_budget),
        cmocka_unit_test(test_png_palette),
        cmocka_unit_test(test_png_chunks),
        cmocka_unit_test(test_gif_truncated),
        cmocka_unit_test(test_gif_rules),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_png_corruptions),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_vector_pictures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
