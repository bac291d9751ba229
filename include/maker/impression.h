/*
 * impression.h - making the PNG of a seal's impression (印文图像) for
 * `seald impression` (issue 19 item 7): drawn from a template, or taken
 * from a scan.
 *
 * Drawing is cairo with pango (text shaping, a CJK font found through
 * fontconfig); PNG encoding and decoding are cairo's (libpng).  Every
 * picture made here is passed through img_check, the same policy the API
 * applies to an uploaded picture, before it is handed back: what this
 * module makes, an application accepts.
 */
#ifndef SEALD_IMPRESSION_H
#define SEALD_IMPRESSION_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define IMPRESSION_MIN_DPI      150   /* below this a scan loses the strokes */
#define IMPRESSION_MAX_DPI      600
#define IMPRESSION_DEFAULT_DPI  300
#define IMPRESSION_TEXT_MAX     64    /* bytes of UTF-8 in one text          */
#define IMPRESSION_ARC_CHARS_MAX 24   /* characters along the arc            */
#define IMPRESSION_PROBLEMS_MAX 8
/* A scan: an A4 page at 400 dpi fits; cairo holds 4 bytes a pixel. */
#define IMPRESSION_SCAN_MAX_BYTES (16u * 1024u * 1024u)
#define IMPRESSION_SCAN_MAX_PX    (5000u * 5000u)
#define IMPRESSION_SCAN_MAX_SIDE  8000u

enum impression_shape {
    IMPRESSION_ROUND = 1,   /* official seal: ring, star, name on the arc  */
    IMPRESSION_RECT,        /* personal seal: frame, name in columns       */
};

/* What to draw.  Strings are UTF-8 and borrowed for the call. */
struct impression_template {
    enum impression_shape shape;
    const char *name;       /* unit (round) or person (rect); required     */
    const char *inner;      /* round: horizontal line under the star, such
                               as 合同专用章; NULL for none                  */
    const char *code;       /* round: the seal code along the lower arc;
                               NULL for none                              */
    long width_mm, height_mm;  /* round: both the diameter               */
    long dpi;
    const char *font;       /* pango family; NULL for the default         */
};

/* What a scan is, and what to check it against. */
struct impression_scan {
    long dpi;               /* the scanner's resolution; required         */
    long width_mm, height_mm;  /* the seal's real size, 0 if not known    */
    int threshold;          /* how much redder than green/blue a pixel must
                               be to count as ink, 1..255                 */
};

/* What was made, or why not: problems[] are sentences for a person. */
struct impression_report {
    uint32_t width_px, height_px;
    double width_mm, height_mm;
    double ink_fraction;    /* scan: share of the crop that is ink        */
    int nproblems;
    char problems[IMPRESSION_PROBLEMS_MAX][160];
};

/*
 * Draw t as a red impression on a transparent background.  On ERR_OK *png
 * (malloc'ed, the caller frees) holds *len bytes of PNG that img_check
 * accepts at t's size.  ERR_INVALID for a template outside the limits (the
 * message says which), ERR_NOMEM, ERR_INTERNAL when cairo fails.
 */
err_code impression_draw(const struct impression_template *t, uint8_t **png,
                         size_t *len, struct impression_report *r,
                         struct err *e);

/*
 * Take the impression out of a scan (a PNG of at most
 * IMPRESSION_SCAN_MAX_BYTES bytes and IMPRESSION_SCAN_MAX_PX pixels): the
 * red ink is kept, everything else made transparent, the picture cropped
 * to the ink and, when it is larger than the picture policy allows, scaled
 * down.  The result is checked against the rules
 * (resolution, size in mm, the declared size, img_check).
 * ERR_OK with *png (malloc'ed, the caller frees) when nothing is wrong;
 * ERR_INVALID when a rule fails: *png stays NULL and r->problems says
 * every rule that failed.  ERR_MALFORMED / ERR_UNSUPPORTED for input that
 * is not a PNG, ERR_NOMEM, ERR_INTERNAL.
 */
err_code impression_from_scan(const uint8_t *in, size_t inlen,
                              const struct impression_scan *s, uint8_t **png,
                              size_t *len, struct impression_report *r,
                              struct err *e);


/*
 * Give back what pango, cairo and fontconfig keep for the life of the
 * process (the font map, glyph caches, fontconfig's configuration), so that
 * a leak checker sees only real leaks.  Call once, after the last
 * impression_draw; nothing of theirs may be used afterwards.
 */
void impression_release(void);

#endif
