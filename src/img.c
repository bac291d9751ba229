/*
 * img.c - PNG / GIF seal impression checks (issue 6); see include/img.h.
 *
 * Owns: the bounded PNG chunk walker and GIF block walker, the CRC-32 of
 * PNG chunks, and the size policy for seal pictures.
 */
#include <string.h>
#include <strings.h>

#include "img.h"

static const uint8_t PNG_SIG[8] = { 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a,
                                    0x0a };
#define PNG_MAX_DIM 0x7fffffffu       /* PNG spec: at most 2^31 - 1 */

/* Big-endian 32-bit at p (4 readable bytes). */
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Little-endian 16-bit at p (2 readable bytes). */
static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

/* CRC-32 (ISO 3309, as PNG uses it), bitwise: inputs are small. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        crc ^= p[i];
        for (k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return crc;
}

/* Valid IHDR bit depth for a colour type. */
static int png_depth_ok(uint8_t color, uint8_t depth)
{
    switch (color) {
    case 0:
        return depth == 1 || depth == 2 || depth == 4 || depth == 8 ||
               depth == 16;
    case 3:
        return depth == 1 || depth == 2 || depth == 4 || depth == 8;
    case 2:
    case 4:
    case 6:
        return depth == 8 || depth == 16;
    default:
        return 0;
    }
}

/* Walk a PNG (signature already matched) chunk by chunk; fill *out. */
static err_code png_probe(const uint8_t *d, size_t len, struct img_info *out,
                          struct err *e)
{
    size_t pos = sizeof(PNG_SIG);
    int chunks = 0, idat = 0, iend = 0;

    while (pos < len) {
        uint32_t clen, crc;
        const uint8_t *type;

        if (iend)
            return err_set(e, ERR_MALFORMED, "PNG: data after IEND");
        if (++chunks > IMG_MAX_CHUNKS)
            return err_set(e, ERR_MALFORMED, "PNG: too many chunks");
        if (len - pos < 12)
            return err_set(e, ERR_MALFORMED, "PNG: truncated chunk");
        clen = be32(d + pos);
        if (clen > len - pos - 12)
            return err_set(e, ERR_MALFORMED, "PNG: chunk overruns the file");
        type = d + pos + 4;
        crc = crc32_update(0xffffffffu, type, 4 + (size_t)clen) ^ 0xffffffffu;
        if (crc != be32(d + pos + 8 + clen))
            return err_set(e, ERR_MALFORMED, "PNG: bad chunk CRC");
        if (chunks == 1) {
            const uint8_t *h = d + pos + 8;
            if (memcmp(type, "IHDR", 4) != 0 || clen != 13)
                return err_set(e, ERR_MALFORMED, "PNG: IHDR must come first");
            out->width = be32(h);
            out->height = be32(h + 4);
            if (out->width == 0 || out->height == 0 ||
                out->width > PNG_MAX_DIM || out->height > PNG_MAX_DIM)
                return err_set(e, ERR_MALFORMED, "PNG: bad dimensions");
            if (!png_depth_ok(h[9], h[8]) || h[10] != 0 || h[11] != 0 ||
                h[12] > 1)
                return err_set(e, ERR_MALFORMED, "PNG: bad IHDR fields");
        } else if (memcmp(type, "IHDR", 4) == 0) {
            return err_set(e, ERR_MALFORMED, "PNG: second IHDR");
        } else if (memcmp(type, "IDAT", 4) == 0) {
            idat++;
        } else if (memcmp(type, "IEND", 4) == 0) {
            if (clen != 0)
                return err_set(e, ERR_MALFORMED, "PNG: IEND with data");
            iend = 1;
        }
        pos += 12 + (size_t)clen;
    }
    if (chunks == 0)
        return err_set(e, ERR_MALFORMED, "PNG: no chunks");
    if (!idat || !iend)
        return err_set(e, ERR_MALFORMED, "PNG: missing IDAT or IEND");
    out->type = IMG_PNG;
    out->type_name = "PNG";
    return ERR_OK;
}

/* Skip GIF data sub-blocks starting at *pos (ends with a 0 block). */
static err_code gif_skip_subblocks(const uint8_t *d, size_t len, size_t *pos,
                                   int *blocks, struct err *e)
{
    for (;;) {
        size_t n;
        if (*pos >= len)
            return err_set(e, ERR_MALFORMED, "GIF: truncated sub-blocks");
        n = d[*pos];
        (*pos)++;
        if (n == 0)
            return ERR_OK;
        if (++*blocks > IMG_MAX_CHUNKS * 64)
            return err_set(e, ERR_MALFORMED, "GIF: too many sub-blocks");
        if (n > len - *pos)
            return err_set(e, ERR_MALFORMED, "GIF: sub-block overruns");
        *pos += n;
    }
}

/* Walk a GIF (signature already matched) block by block; fill *out. */
static err_code gif_probe(const uint8_t *d, size_t len, struct img_info *out,
                          struct err *e)
{
    err_code rc;
    size_t pos = 13;
    int images = 0, blocks = 0, subs = 0;
    uint8_t flags;

    if (len < 13)
        return err_set(e, ERR_MALFORMED, "GIF: truncated header");
    out->width = le16(d + 6);
    out->height = le16(d + 8);
    if (out->width == 0 || out->height == 0)
        return err_set(e, ERR_MALFORMED, "GIF: zero screen size");
    flags = d[10];
    if (flags & 0x80) {                       /* global colour table */
        size_t gct = 3u * (1u << ((flags & 7) + 1));
        if (gct > len - pos)
            return err_set(e, ERR_MALFORMED, "GIF: truncated colour table");
        pos += gct;
    }
    for (;;) {
        if (pos >= len)
            return err_set(e, ERR_MALFORMED, "GIF: no trailer");
        if (++blocks > IMG_MAX_CHUNKS)
            return err_set(e, ERR_MALFORMED, "GIF: too many blocks");
        if (d[pos] == 0x3b) {                 /* trailer */
            if (pos + 1 != len)
                return err_set(e, ERR_MALFORMED, "GIF: data after trailer");
            break;
        }
        if (d[pos] == 0x21) {                 /* extension */
            if (len - pos < 2)
                return err_set(e, ERR_MALFORMED, "GIF: truncated extension");
            pos += 2;
            rc = gif_skip_subblocks(d, len, &pos, &subs, e);
            if (rc != ERR_OK)
                return rc;
        } else if (d[pos] == 0x2c) {          /* image descriptor */
            uint32_t ix, iy, iw, ih;
            if (len - pos < 10)
                return err_set(e, ERR_MALFORMED, "GIF: truncated image");
            ix = le16(d + pos + 1);
            iy = le16(d + pos + 3);
            iw = le16(d + pos + 5);
            ih = le16(d + pos + 7);
            flags = d[pos + 9];
            if (iw == 0 || ih == 0 || ix + iw > out->width ||
                iy + ih > out->height)
                return err_set(e, ERR_MALFORMED,
                               "GIF: image outside the logical screen");
            pos += 10;
            if (flags & 0x80) {               /* local colour table */
                size_t lct = 3u * (1u << ((flags & 7) + 1));
                if (lct > len - pos)
                    return err_set(e, ERR_MALFORMED,
                                   "GIF: truncated colour table");
                pos += lct;
            }
            if (pos >= len || d[pos] < 2 || d[pos] > 8)
                return err_set(e, ERR_MALFORMED, "GIF: bad LZW code size");
            pos++;
            rc = gif_skip_subblocks(d, len, &pos, &subs, e);
            if (rc != ERR_OK)
                return rc;
            images++;
        } else {
            return err_set(e, ERR_MALFORMED, "GIF: unknown block 0x%02x",
                           d[pos]);
        }
    }
    if (images == 0)
        return err_set(e, ERR_MALFORMED, "GIF: no image");
    out->type = IMG_GIF;
    out->type_name = "GIF";
    return ERR_OK;
}

/* Contract: see img.h. */
err_code img_probe(const uint8_t *data, size_t len, struct img_info *out,
                   struct err *e)
{
    err_code rc;

    memset(out, 0, sizeof(*out));
    if (len > IMG_MAX_BYTES)
        return err_set(e, ERR_TOO_LARGE, "image larger than %u bytes",
                       IMG_MAX_BYTES);
    if (data == NULL || len < 6)
        return err_set(e, ERR_UNSUPPORTED, "image is neither PNG nor GIF");
    if (len >= sizeof(PNG_SIG) && memcmp(data, PNG_SIG, sizeof(PNG_SIG)) == 0)
        rc = png_probe(data, len, out, e);
    else if (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0)
        rc = gif_probe(data, len, out, e);
    else
        return err_set(e, ERR_UNSUPPORTED, "image is neither PNG nor GIF");
    if (rc == ERR_OK)
        rc = sm2_sm3(data, len, out->sm3, e);
    if (rc != ERR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* Contract: see img.h. */
err_code img_check(const uint8_t *data, size_t len, long width_mm,
                   long height_mm, struct img_info *out, struct err *e)
{
    err_code rc;
    long long a, b;

    if (width_mm < IMG_MIN_MM || width_mm > IMG_MAX_MM ||
        height_mm < IMG_MIN_MM || height_mm > IMG_MAX_MM)
        return err_set(e, ERR_INVALID,
                       "physical size must be %d..%d mm each way",
                       IMG_MIN_MM, IMG_MAX_MM);
    rc = img_probe(data, len, out, e);
    if (rc != ERR_OK)
        return rc;
    if (out->width < IMG_MIN_PX || out->width > IMG_MAX_PX ||
        out->height < IMG_MIN_PX || out->height > IMG_MAX_PX) {
        rc = err_set(e, ERR_INVALID, "image is %ux%u px, must be %d..%d px",
                     (unsigned)out->width, (unsigned)out->height, IMG_MIN_PX,
                     IMG_MAX_PX);
        goto done;
    }
    /* w_px/h_px vs w_mm/h_mm: |w_px*h_mm - w_mm*h_px| <= tol% of w_mm*h_px */
    a = (long long)out->width * height_mm;
    b = (long long)width_mm * out->height;
    if ((a > b ? a - b : b - a) * 100 > b * IMG_ASPECT_TOLERANCE_PCT) {
        rc = err_set(e, ERR_INVALID,
                     "aspect ratio of %ux%u px does not match %ldx%ld mm",
                     (unsigned)out->width, (unsigned)out->height, width_mm,
                     height_mm);
        goto done;
    }
done:
    if (rc != ERR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* Contract: see img.h. */
enum img_type img_type_from_name(const char *name)
{
    if (name == NULL)
        return IMG_NONE;
    if (strcasecmp(name, "PNG") == 0)
        return IMG_PNG;
    if (strcasecmp(name, "GIF") == 0)
        return IMG_GIF;
    return IMG_NONE;
}
