/*
 * img.h - seal impression images (印文图像) for issue 6: PNG and GIF.
 *
 * The header of each format is read here (no image library): PNG is walked
 * chunk by chunk (signature, IHDR first, every chunk's CRC, at least one
 * IDAT, IEND last, nothing after it); GIF block by block (header, logical
 * screen descriptor, colour tables, extension and image blocks with their
 * sub-blocks, trailer last).  Pixel data is not decompressed.  Every read is
 * bounded by the input length and IMG_MAX_BYTES.
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
#define IMG_MAX_CHUNKS  4096            /* PNG chunks / GIF blocks walked */

enum img_type { IMG_NONE = 0, IMG_PNG, IMG_GIF };

struct img_info {
    enum img_type type;
    const char *type_name;           /* "PNG" / "GIF" (SES picture type) */
    uint32_t width, height;          /* pixels                           */
    uint8_t sm3[SM3_DIGEST_LEN];     /* SM3 of the whole file            */
};

/*
 * Identify and structurally check a PNG or GIF of len bytes (at most
 * IMG_MAX_BYTES) and fill *out.  No pixel-dimension policy here.
 * ERR_UNSUPPORTED for another format, ERR_MALFORMED for a damaged file,
 * ERR_TOO_LARGE over IMG_MAX_BYTES.
 */
err_code img_probe(const uint8_t *data, size_t len, struct img_info *out,
                   struct err *e);

/*
 * img_probe plus the seal policy: width and height in IMG_MIN_PX..IMG_MAX_PX
 * pixels, width_mm and height_mm in IMG_MIN_MM..IMG_MAX_MM, and the two
 * aspect ratios within IMG_ASPECT_TOLERANCE_PCT percent of each other.
 * ERR_INVALID (message names the rule) when a rule fails.
 */
err_code img_check(const uint8_t *data, size_t len, long width_mm,
                   long height_mm, struct img_info *out, struct err *e);

/* The enum img_type for an SES picture type name ("PNG", "GIF", any
 * case); IMG_NONE for others. */
enum img_type img_type_from_name(const char *name);

#endif
