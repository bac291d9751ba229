/*
 * img.h - seal impression images (印文图像) for issue 6: PNG and GIF.
 *
 * Every image is decoded in full by a maintained library before it is
 * accepted (issue 14): PNG by libpng, GIF by giflib.  Pixels are produced
 * one row at a time into one row buffer and thrown away; what is kept is
 * that every row decoded, the decoded dimensions and the SM3 of the file.
 * Decoding is bounded before it starts: the file by IMG_MAX_BYTES, the
 * bytes the decoder may produce by IMG_MAX_DECODED_BYTES (checked against
 * the declared dimensions before any pixel data is inflated), and for GIF
 * the number of images by IMG_MAX_FRAMES.
 */
#ifndef SEALD_IMG_H
#define SEALD_IMG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sm2.h"

#define IMG_MAX_BYTES   (512u * 1024u)  /* image file size                */
#define IMG_MIN_PX      64              /* each pixel dimension           */
#define IMG_MAX_PX      2048
#define IMG_MIN_MM      10              /* each physical dimension (mm)   */
#define IMG_MAX_MM      80
#define IMG_ASPECT_TOLERANCE_PCT 10     /* px and mm aspect ratios agree  */

/*
 * Bytes a decoder may produce for one image: for PNG the inflated pixel
 * data (height x width x channels x bits / 8, summed over the Adam7
 * passes; the filter byte of each row comes on top), for GIF one byte per
 * pixel of every image in the file.
 * 32 MiB holds the largest picture the seal policy allows (2048 x 2048,
 * RGBA, 16 bits a channel) and nothing a small file could blow up into.
 */
#define IMG_MAX_DECODED_BYTES (32u * 1024u * 1024u)
#define IMG_DECODE_MAX_PX     65535     /* a side libpng accepts at all   */
#define IMG_MAX_FRAMES        256       /* images in one GIF              */
#define IMG_PNG_CHUNK_MAX     (64u * 1024u) /* libpng's chunk allocations */

enum img_type { IMG_NONE = 0, IMG_PNG, IMG_GIF };

struct img_info {
    enum img_type type;
    const char *type_name;           /* "PNG" / "GIF" (SES picture type) */
    uint32_t width, height;          /* decoded size in pixels (GIF: the
                                        logical screen)                  */
    uint8_t sm3[SM3_DIGEST_LEN];     /* SM3 of the whole file            */
};

/*
 * Identify a PNG or GIF of len bytes (at most IMG_MAX_BYTES), decode all of
 * it, and fill *out.  No pixel-dimension policy here.
 * PNG: libpng's checks (signature, chunk order and CRCs, IHDR fields, the
 * zlib stream), every row of every pass, no more image data than the rows
 * need, palette indices inside PLTE, no libpng warning, nothing after IEND.
 * Ancillary chunks are not interpreted (so nothing compressed in them is
 * inflated) but their CRCs are checked.
 * GIF: giflib's checks, every image inside the logical screen with a
 * colour table, every line of its LZW data, pixel indices inside the
 * table, nothing after the trailer.
 * ERR_UNSUPPORTED for another format, ERR_TOO_LARGE over IMG_MAX_BYTES,
 * ERR_INVALID when the declared size would decode to more than
 * IMG_MAX_DECODED_BYTES or a GIF holds more than IMG_MAX_FRAMES images,
 * ERR_MALFORMED for anything that does not decode (the message says what),
 * ERR_NOMEM.  On failure *out is zeroed.
 */
err_code img_decode(const uint8_t *data, size_t len, struct img_info *out,
                    struct err *e);

/*
 * img_decode plus the seal policy: width and height in IMG_MIN_PX..
 * IMG_MAX_PX pixels, width_mm and height_mm in IMG_MIN_MM..IMG_MAX_MM, and
 * the two aspect ratios within IMG_ASPECT_TOLERANCE_PCT percent of each
 * other.  ERR_INVALID (message names the rule) when a rule fails.
 */
err_code img_check(const uint8_t *data, size_t len, long width_mm,
                   long height_mm, struct img_info *out, struct err *e);

/* The enum img_type for an SES picture type name ("PNG", "GIF", any
 * case); IMG_NONE for others. */
enum img_type img_type_from_name(const char *name);

#endif
