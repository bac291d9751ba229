/*
 * impression.c - seal impression pictures made by seald itself (issue 19
 * item 7); see include/maker/impression.h.
 *
 * Owns: the two templates (round official seal, rectangular personal
 * seal), their proportions, and the scan clean-up (which pixels are ink,
 * the crop, the rules a scan is checked against).
 *
 * The proportions follow the common official seal: a 40 mm ring about
 * 1.2 mm wide, a five-pointed star about 14 mm across in the middle, the
 * unit's name along the upper arc reading clockwise, a line such as
 * 合同专用章 under the star and the seal code along the lower arc.  They
 * are given as fractions of the diameter so that any size draws the same
 * picture.  Text is laid out by pango one character at a time (each turned
 * to face the centre); when a name is too long for the arc its characters
 * are narrowed, as a seal engraver does, rather than the font made small.
 */
#include "impression.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>

#include "img.h"

#define IMP_FONT_DEFAULT "WenQuanYi Micro Hei"
#define IMP_RED_R 0.90          /* the ink: a seal red on transparency  */
#define IMP_RED_G 0.00
#define IMP_RED_B 0.07

/* Round template, as fractions of the diameter D. */
#define IMP_RING_W      0.032   /* ring line width                      */
#define IMP_STAR_R      0.175   /* star: outer radius                   */
#define IMP_NAME_H      0.150   /* name: character height               */
#define IMP_NAME_GAP    0.030   /* name: gap between ring and text      */
#define IMP_NAME_SPAN   250.0   /* name: widest arc, degrees            */
#define IMP_INNER_H     0.085   /* inner line: character height         */
#define IMP_INNER_Y     0.255   /* inner line: centre below the middle  */
#define IMP_INNER_W     0.56    /* inner line: widest                   */
#define IMP_CODE_H      0.060   /* code: character height               */
#define IMP_CODE_SPAN   100.0   /* code: widest arc, degrees            */

#define IMP_RECT_FRAME  0.060   /* rect: frame width (of the short side) */
#define IMP_RECT_PAD    0.080   /* rect: padding inside the frame        */

#define IMP_ASPECT_PCT  10      /* declared vs measured size of a scan  */

/* ---- helpers -------------------------------------------------------- */

/* Add a problem sentence to r (silently dropped past the limit). */
static void
report_problem(struct impression_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
report_problem(struct impression_report *r, const char *fmt, ...)
{
    va_list ap;

    if (r->nproblems >= IMPRESSION_PROBLEMS_MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(r->problems[r->nproblems], sizeof(r->problems[0]), fmt, ap);
    va_end(ap);
    r->nproblems++;
}

/* Pixels for mm at dpi, at least 1. */
static long
mm_to_px(double mm, long dpi)
{
    long px = lround(mm * (double)dpi / 25.4);

    return px < 1 ? 1 : px;
}

/* The cairo write callback: append to a growing buffer, no more than
 * IMG_MAX_BYTES (what an application accepts). */
struct png_buf {
    uint8_t *data;
    size_t len, cap;
};

static cairo_status_t
png_append(void *closure, const unsigned char *data, unsigned int n)
{
    struct png_buf *b = closure;
    size_t want = b->len + n, cap;
    uint8_t *p;

    if (want > IMG_MAX_BYTES)
        return CAIRO_STATUS_WRITE_ERROR;
    if (want > b->cap) {
        cap = b->cap ? b->cap * 2 : 64 * 1024;
        while (cap < want)
            cap *= 2;
        if ((p = realloc(b->data, cap)) == NULL)
            return CAIRO_STATUS_NO_MEMORY;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len = want;
    return CAIRO_STATUS_SUCCESS;
}

/* Encode s as PNG into *png / *len (malloc'ed; the caller frees). */
static err_code
surface_to_png(cairo_surface_t *s, uint8_t **png, size_t *len, struct err *e)
{
    struct png_buf b = {0};
    cairo_status_t st;

    st = cairo_surface_write_to_png_stream(s, png_append, &b);
    if (st != CAIRO_STATUS_SUCCESS) {
        free(b.data);
        if (st == CAIRO_STATUS_WRITE_ERROR)
            return err_set(e, ERR_TOO_LARGE, "the picture would be over "
                           "%u bytes", IMG_MAX_BYTES);
        return err_set(e, ERR_INTERNAL, "PNG encoding: %s",
                       cairo_status_to_string(st));
    }
    *png = b.data;
    *len = b.len;
    return ERR_OK;
}

/* Number of UTF-8 characters in s, or -1 when s is not UTF-8. */
static long
utf8_chars(const char *s)
{
    return g_utf8_validate(s, -1, NULL) ? g_utf8_strlen(s, -1) : -1;
}

/* A layout of one string at height h (user units), in the template's font. */
static PangoLayout *
text_layout(cairo_t *cr, const char *font, const char *text, int nbytes,
            double h)
{
    PangoLayout *l = pango_cairo_create_layout(cr);
    PangoFontDescription *fd = pango_font_description_new();

    pango_font_description_set_family(fd, font);
    pango_font_description_set_weight(fd, PANGO_WEIGHT_BOLD);
    pango_font_description_set_absolute_size(fd, h * PANGO_SCALE);
    pango_layout_set_font_description(l, fd);
    pango_font_description_free(fd);
    pango_layout_set_text(l, text, nbytes);
    return l;
}

/*
 * Draw one character (or a run) centred on the current origin, its ink
 * box scaled to at most w x h user units (w or h 0: keep the aspect).
 */
static void
draw_centred(cairo_t *cr, const char *font, const char *text, int nbytes,
             double w, double h)
{
    PangoLayout *l = text_layout(cr, font, text, nbytes, h);
    PangoRectangle ink;
    double iw, ih, sx = 1, sy = 1;

    pango_layout_get_extents(l, &ink, NULL);
    iw = (double)ink.width / PANGO_SCALE;
    ih = (double)ink.height / PANGO_SCALE;
    if (iw > 0 && ih > 0) {
        if (w > 0 && iw > w)
            sx = w / iw;
        if (h > 0 && ih > h)
            sy = h / ih;
    }
    cairo_save(cr);
    cairo_scale(cr, sx, sy);
    cairo_move_to(cr, -((double)ink.x / PANGO_SCALE + iw / 2),
                  -((double)ink.y / PANGO_SCALE + ih / 2));
    pango_cairo_update_layout(cr, l);
    pango_cairo_show_layout(cr, l);
    cairo_restore(cr);
    g_object_unref(l);
}

/* The ink width of text at height h, in user units. */
static double
text_width(cairo_t *cr, const char *font, const char *text, int nbytes,
           double h)
{
    PangoLayout *l = text_layout(cr, font, text, nbytes, h);
    PangoRectangle logical;

    pango_layout_get_extents(l, NULL, &logical);
    g_object_unref(l);
    return (double)logical.width / PANGO_SCALE;
}

/*
 * Characters of text along an arc of radius rad around the origin, each
 * about ch high, centred on angle mid (degrees, 0 = right, 90 = down),
 * over at most span degrees.  top: read clockwise with the tops outward
 * (the upper arc); otherwise read left to right with the tops inward (the
 * lower arc).
 */
static void
draw_arc_text(cairo_t *cr, const char *font, const char *text, double rad,
              double ch, double mid, double span, int top)
{
    long n = g_utf8_strlen(text, -1), i;
    double step, width = 0, squeeze = 1, start;
    const char *p = text, *q;

    if (n <= 0)
        return;
    /* the angle one character needs at its natural width, plus spacing */
    for (q = p; *q; q = g_utf8_next_char(q))
        width += text_width(cr, font, q, (int)(g_utf8_next_char(q) - q), ch);
    step = (width / (double)n) * 1.15 / rad * 180.0 / M_PI;
    if (step * (double)n > span) {
        squeeze = span / (step * (double)n);
        step = span / (double)n;
    }
    start = top ? mid - step * (double)(n - 1) / 2
                : mid + step * (double)(n - 1) / 2;
    for (i = 0; *p; i++, p = g_utf8_next_char(p)) {
        double th = top ? start + step * (double)i : start - step * (double)i;
        double cw = text_width(cr, font, p, (int)(g_utf8_next_char(p) - p),
                               ch) * squeeze;

        cairo_save(cr);
        cairo_rotate(cr, (top ? th + 90 : th - 90) * M_PI / 180.0);
        cairo_translate(cr, 0, top ? -rad : rad);
        draw_centred(cr, font, p, (int)(g_utf8_next_char(p) - p), cw, ch);
        cairo_restore(cr);
    }
}

/* A filled five-pointed star of outer radius ro around the origin, one
 * point up. */
static void
draw_star(cairo_t *cr, double ro)
{
    double ri = ro * 0.382;     /* the regular star's inner radius */
    int k;

    for (k = 0; k < 10; k++) {
        double a = (-90.0 + 36.0 * k) * M_PI / 180.0, r = k % 2 ? ri : ro;

        if (k == 0)
            cairo_move_to(cr, r * cos(a), r * sin(a));
        else
            cairo_line_to(cr, r * cos(a), r * sin(a));
    }
    cairo_close_path(cr);
    cairo_fill(cr);
}

/* The round template on cr, in millimetres. */
static void
draw_round(cairo_t *cr, const struct impression_template *t, const char *font)
{
    double d = (double)t->width_mm, c = d / 2, lw = d * IMP_RING_W;
    double name_h = d * IMP_NAME_H;

    cairo_set_line_width(cr, lw);
    cairo_arc(cr, c, c, c - lw / 2, 0, 2 * M_PI);
    cairo_stroke(cr);
    cairo_translate(cr, c, c);
    draw_star(cr, d * IMP_STAR_R);
    draw_arc_text(cr, font, t->name,
                  c - lw - d * IMP_NAME_GAP - name_h / 2, name_h, -90,
                  IMP_NAME_SPAN, 1);
    if (t->inner && *t->inner) {
        cairo_save(cr);
        cairo_translate(cr, 0, d * IMP_INNER_Y);
        draw_centred(cr, font, t->inner, -1, d * IMP_INNER_W,
                     d * IMP_INNER_H);
        cairo_restore(cr);
    }
    if (t->code && *t->code)
        draw_arc_text(cr, font, t->code,
                      c - lw - d * IMP_NAME_GAP - d * IMP_CODE_H / 2,
                      d * IMP_CODE_H, 90, IMP_CODE_SPAN, 0);
}

/* The rectangular template on cr, in millimetres: a frame, and the name
 * in two columns read right to left (four characters: 张三之印) or, for
 * one character or more than four, on one line. */
static void
draw_rect(cairo_t *cr, const struct impression_template *t, const char *font)
{
    double w = (double)t->width_mm, h = (double)t->height_mm;
    double s = w < h ? w : h, lw = s * IMP_RECT_FRAME, pad = s * IMP_RECT_PAD;
    double iw = w - 2 * lw - 2 * pad, ih = h - 2 * lw - 2 * pad;
    long n = g_utf8_strlen(t->name, -1), right, col, k;
    const char *p = t->name;

    cairo_set_line_width(cr, lw);
    cairo_rectangle(cr, lw / 2, lw / 2, w - lw, h - lw);
    cairo_stroke(cr);
    if (n == 1 || n > 4) {
        cairo_translate(cr, w / 2, h / 2);
        draw_centred(cr, font, t->name, -1, iw, ih * (n == 1 ? 1 : 0.8));
        return;
    }
    right = (n + 1) / 2;        /* the right column holds the first half */
    for (col = 0; col < 2; col++) {
        long rows = col == 0 ? right : n - right;
        double cx = col == 0 ? w - lw - pad - iw / 4 : lw + pad + iw / 4;

        for (k = 0; k < rows; k++, p = g_utf8_next_char(p)) {
            double cy = lw + pad + ih * ((double)k + 0.5) / (double)rows;

            cairo_save(cr);
            cairo_translate(cr, cx, cy);
            draw_centred(cr, font, p, (int)(g_utf8_next_char(p) - p),
                         iw / 2 * 0.92, ih / (double)rows * 0.92);
            cairo_restore(cr);
        }
    }
}

/* Check a template against the limits before drawing it. */
static err_code
template_check(const struct impression_template *t, struct err *e)
{
    long n;

    if (t->shape != IMPRESSION_ROUND && t->shape != IMPRESSION_RECT)
        return err_set(e, ERR_INVALID, "shape: round or rect");
    if (t->name == NULL || *t->name == '\0')
        return err_set(e, ERR_INVALID, "a name is required");
    if (strlen(t->name) > IMPRESSION_TEXT_MAX ||
        (t->inner && strlen(t->inner) > IMPRESSION_TEXT_MAX) ||
        (t->code && strlen(t->code) > IMPRESSION_TEXT_MAX))
        return err_set(e, ERR_INVALID, "each text is at most %d bytes",
                       IMPRESSION_TEXT_MAX);
    if ((n = utf8_chars(t->name)) < 0 ||
        (t->inner && utf8_chars(t->inner) < 0) ||
        (t->code && utf8_chars(t->code) < 0))
        return err_set(e, ERR_INVALID, "text must be UTF-8");
    if (n > IMPRESSION_ARC_CHARS_MAX)
        return err_set(e, ERR_INVALID, "the name has %ld characters, at "
                       "most %d fit", n, IMPRESSION_ARC_CHARS_MAX);
    if (t->width_mm < IMG_MIN_MM || t->width_mm > IMG_MAX_MM ||
        t->height_mm < IMG_MIN_MM || t->height_mm > IMG_MAX_MM)
        return err_set(e, ERR_INVALID, "size: each side %d..%d mm",
                       IMG_MIN_MM, IMG_MAX_MM);
    if (t->shape == IMPRESSION_ROUND && t->width_mm != t->height_mm)
        return err_set(e, ERR_INVALID, "a round seal has one diameter");
    if (t->shape == IMPRESSION_RECT && (t->inner || t->code))
        return err_set(e, ERR_INVALID, "a rectangular seal has only a name");
    if (t->dpi < IMPRESSION_MIN_DPI || t->dpi > IMPRESSION_MAX_DPI)
        return err_set(e, ERR_INVALID, "dpi: %d..%d", IMPRESSION_MIN_DPI,
                       IMPRESSION_MAX_DPI);
    if (mm_to_px((double)t->width_mm, t->dpi) > IMG_MAX_PX ||
        mm_to_px((double)t->height_mm, t->dpi) > IMG_MAX_PX)
        return err_set(e, ERR_INVALID, "%ld mm at %ld dpi is over %d px: "
                       "lower the dpi", t->width_mm, t->dpi, IMG_MAX_PX);
    return ERR_OK;
}

err_code
impression_draw(const struct impression_template *t, uint8_t **png,
                size_t *len, struct impression_report *r, struct err *e)
{
    cairo_surface_t *s = NULL;
    cairo_t *cr = NULL;
    struct img_info info;
    long wpx, hpx;
    err_code rc;

    *png = NULL;
    *len = 0;
    memset(r, 0, sizeof(*r));
    if ((rc = template_check(t, e)) != ERR_OK)
        return rc;
    wpx = mm_to_px((double)t->width_mm, t->dpi);
    hpx = mm_to_px((double)t->height_mm, t->dpi);
    s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)wpx, (int)hpx);
    cr = cairo_create(s);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        rc = err_set(e, ERR_NOMEM, "cairo: %s",
                     cairo_status_to_string(cairo_status(cr)));
        goto done;
    }
    cairo_scale(cr, (double)wpx / (double)t->width_mm,
                (double)hpx / (double)t->height_mm);
    cairo_set_source_rgb(cr, IMP_RED_R, IMP_RED_G, IMP_RED_B);
    if (t->shape == IMPRESSION_ROUND)
        draw_round(cr, t, t->font ? t->font : IMP_FONT_DEFAULT);
    else
        draw_rect(cr, t, t->font ? t->font : IMP_FONT_DEFAULT);
    cairo_surface_flush(s);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        rc = err_set(e, ERR_INTERNAL, "cairo: %s",
                     cairo_status_to_string(cairo_status(cr)));
        goto done;
    }
    if ((rc = surface_to_png(s, png, len, e)) != ERR_OK)
        goto done;
    /* what we make, an application must accept */
    if ((rc = img_check(*png, *len, t->width_mm, t->height_mm, &info, e)) !=
        ERR_OK)
        goto done;
    r->width_px = info.width;
    r->height_px = info.height;
    r->width_mm = (double)t->width_mm;
    r->height_mm = (double)t->height_mm;

done:
    if (rc != ERR_OK) {
        free(*png);
        *png = NULL;
        *len = 0;
    }
    if (cr)
        cairo_destroy(cr);
    if (s)
        cairo_surface_destroy(s);
    return rc;
}

/* ---- scans ---------------------------------------------------------- */

/* The cairo read callback over a buffer. */
struct png_src {
    const uint8_t *data;
    size_t len, off;
};

static cairo_status_t
png_read(void *closure, unsigned char *data, unsigned int n)
{
    struct png_src *s = closure;

    if (s->len - s->off < n)
        return CAIRO_STATUS_READ_ERROR;
    memcpy(data, s->data + s->off, n);
    s->off += n;
    return CAIRO_STATUS_SUCCESS;
}

/* The size the PNG in (len bytes) declares, from its IHDR, before anything
 * is decoded: a scan's size is bounded before cairo allocates for it. */
static err_code
scan_dimensions(const uint8_t *in, size_t len, uint32_t *w, uint32_t *h,
                struct err *e)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a,
                                   0x0a};

    if (len < 24 || memcmp(in, sig, 8) != 0)
        return err_set(e, ERR_UNSUPPORTED, "the scan must be a PNG file");
    if (memcmp(in + 12, "IHDR", 4) != 0)
        return err_set(e, ERR_MALFORMED, "PNG: no IHDR first");
    *w = (uint32_t)in[16] << 24 | (uint32_t)in[17] << 16 |
         (uint32_t)in[18] << 8 | in[19];
    *h = (uint32_t)in[20] << 24 | (uint32_t)in[21] << 16 |
         (uint32_t)in[22] << 8 | in[23];
    if (*w == 0 || *h == 0 || *w > IMPRESSION_SCAN_MAX_SIDE ||
        *h > IMPRESSION_SCAN_MAX_SIDE ||
        (uint64_t)*w * *h > IMPRESSION_SCAN_MAX_PX)
        return err_set(e, ERR_INVALID, "the scan is %ux%u px, at most %u "
                       "px a side and %u px in all", *w, *h,
                       IMPRESSION_SCAN_MAX_SIDE, IMPRESSION_SCAN_MAX_PX);
    return ERR_OK;
}

/*
 * Key the ink in s (ARGB32, modified in place): a pixel whose red is
 * above green and blue by at least threshold keeps its colour and becomes
 * opaque in proportion; every other pixel becomes transparent.  Counts of
 * ink per row and per column go to rows[] / cols[]; returns the ink total.
 */
static uint64_t
scan_key(cairo_surface_t *s, int threshold, uint32_t *rows, uint32_t *cols)
{
    int w = cairo_image_surface_get_width(s);
    int h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    unsigned char *base = cairo_image_surface_get_data(s);
    uint64_t total = 0;
    int x, y;

    for (y = 0; y < h; y++) {
        uint32_t *px = (uint32_t *)(void *)(base + (size_t)y * stride);

        for (x = 0; x < w; x++) {
            uint32_t v = px[x], a = v >> 24;
            uint32_t r = v >> 16 & 0xff, g = v >> 8 & 0xff, b = v & 0xff;
            uint32_t m, red, alpha;

            if (a < 128) {          /* already transparent: background */
                px[x] = 0;
                continue;
            }
            /* un-premultiply: cairo stores colour times alpha */
            r = r * 255 / a;
            g = g * 255 / a;
            b = b * 255 / a;
            m = g > b ? g : b;
            red = r > m ? r - m : 0;
            if (r < 80 || red < (uint32_t)threshold) {
                px[x] = 0;
                continue;
            }
            alpha = red * 2 > 255 ? 255 : red * 2;
            px[x] = alpha << 24 | (r * alpha / 255) << 16 |
                    (g * alpha / 255) << 8 | (b * alpha / 255);
            rows[y]++;
            cols[x]++;
            total++;
        }
    }
    cairo_surface_mark_dirty(s);
    return total;
}

/* The first and last index in counts[0..n) holding at least min ink
 * pixels; 0 when there is none.  A speck of red dust does not move the
 * crop. */
static int
ink_extent(const uint32_t *counts, int n, uint32_t min, int *first, int *last)
{
    for (*first = 0; *first < n && counts[*first] < min; (*first)++)
        ;
    for (*last = n - 1; *last >= 0 && counts[*last] < min; (*last)--)
        ;
    return *first <= *last;
}

/* Check what was measured against the rules, into r->problems. */
static void
scan_rules(const struct impression_scan *sc, struct impression_report *r)
{
    if (sc->dpi < IMPRESSION_MIN_DPI)
        report_problem(r, "the scan is %ld dpi; scan at %d dpi or more so "
                       "that the strokes survive", sc->dpi,
                       IMPRESSION_MIN_DPI);
    if (r->width_mm < IMG_MIN_MM || r->height_mm < IMG_MIN_MM ||
        r->width_mm > IMG_MAX_MM || r->height_mm > IMG_MAX_MM)
        report_problem(r, "the ink measures %.1f x %.1f mm at %ld dpi; a "
                       "seal is %d..%d mm a side: is --dpi right?",
                       r->width_mm, r->height_mm, sc->dpi, IMG_MIN_MM,
                       IMG_MAX_MM);
    if (sc->width_mm > 0 &&
        (fabs(r->width_mm - (double)sc->width_mm) * 100 >
             (double)(IMP_ASPECT_PCT * sc->width_mm) ||
         fabs(r->height_mm - (double)sc->height_mm) * 100 >
             (double)(IMP_ASPECT_PCT * sc->height_mm)))
        report_problem(r, "the ink measures %.1f x %.1f mm, the seal is "
                       "%ld x %ld mm: is --dpi right, or is the impression "
                       "cut off?", r->width_mm, r->height_mm, sc->width_mm,
                       sc->height_mm);
    if (r->width_px < IMG_MIN_PX || r->height_px < IMG_MIN_PX)
        report_problem(r, "the impression is %ux%u px, at least %d px a "
                       "side is needed: scan at a higher resolution",
                       r->width_px, r->height_px, IMG_MIN_PX);
    if (r->ink_fraction < 0.02)
        report_problem(r, "very little ink (%.1f%% of the crop): a faint or "
                       "partial impression", r->ink_fraction * 100);
    if (r->ink_fraction > 0.70)
        report_problem(r, "the crop is %.0f%% ink: is the paper itself red "
                       "or pink?", r->ink_fraction * 100);
}

/* The crop x0,y0,cw,ch of src into a new surface of at most IMG_MAX_PX a
 * side (scaled down when larger).  NULL when cairo fails. */
static cairo_surface_t *
scan_crop(cairo_surface_t *src, int x0, int y0, int cw, int ch)
{
    double f = 1;
    int ow, oh;
    cairo_surface_t *out;
    cairo_t *cr;

    if (cw > IMG_MAX_PX || ch > IMG_MAX_PX)
        f = (double)IMG_MAX_PX / (double)(cw > ch ? cw : ch);
    ow = (int)lround(cw * f);
    oh = (int)lround(ch * f);
    out = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, ow < 1 ? 1 : ow,
                                     oh < 1 ? 1 : oh);
    cr = cairo_create(out);
    cairo_scale(cr, f, f);
    cairo_set_source_surface(cr, src, -x0, -y0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
    cairo_paint(cr);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        cairo_destroy(cr);
        cairo_surface_destroy(out);
        return NULL;
    }
    cairo_destroy(cr);
    cairo_surface_flush(out);
    return out;
}

err_code
impression_from_scan(const uint8_t *in, size_t inlen,
                     const struct impression_scan *sc, uint8_t **png,
                     size_t *len, struct impression_report *r, struct err *e)
{
    struct png_src src = {in, inlen, 0};
    cairo_surface_t *raw = NULL, *s = NULL, *crop = NULL;
    cairo_t *cr = NULL;
    uint32_t w = 0, h = 0, *rows = NULL, *cols = NULL, min;
    uint64_t ink;
    int x0, x1, y0, y1, margin;
    struct img_info info;
    struct err ie;
    err_code rc;

    *png = NULL;
    *len = 0;
    memset(r, 0, sizeof(*r));
    if (inlen > IMPRESSION_SCAN_MAX_BYTES)
        return err_set(e, ERR_TOO_LARGE, "the scan is over %u bytes",
                       IMPRESSION_SCAN_MAX_BYTES);
    if (sc->dpi < 1 || sc->dpi > 4800)
        return err_set(e, ERR_INVALID, "dpi: 1..4800");
    if (sc->threshold < 1 || sc->threshold > 255)
        return err_set(e, ERR_INVALID, "threshold: 1..255");
    if ((rc = scan_dimensions(in, inlen, &w, &h, e)) != ERR_OK)
        return rc;
    raw = cairo_image_surface_create_from_png_stream(png_read, &src);
    if (cairo_surface_status(raw) != CAIRO_STATUS_SUCCESS) {
        rc = err_set(e, ERR_MALFORMED, "the scan does not decode: %s",
                     cairo_status_to_string(cairo_surface_status(raw)));
        goto done;
    }
    if ((uint32_t)cairo_image_surface_get_width(raw) != w ||
        (uint32_t)cairo_image_surface_get_height(raw) != h) {
        rc = err_set(e, ERR_MALFORMED, "the scan does not decode to its "
                     "declared size");
        goto done;
    }
    /* whatever cairo decoded to, work on ARGB32 */
    s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)w, (int)h);
    cr = cairo_create(s);
    cairo_set_source_surface(cr, raw, 0, 0);
    cairo_paint(cr);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        rc = err_set(e, ERR_NOMEM, "cairo: %s",
                     cairo_status_to_string(cairo_status(cr)));
        goto done;
    }
    cairo_surface_flush(s);
    if ((rows = calloc(h, sizeof(*rows))) == NULL ||
        (cols = calloc(w, sizeof(*cols))) == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    ink = scan_key(s, sc->threshold, rows, cols);
    min = (w > h ? w : h) / 200 + 1;
    if (ink == 0 || !ink_extent(rows, (int)h, min, &y0, &y1) ||
        !ink_extent(cols, (int)w, min, &x0, &x1)) {
        report_problem(r, "no red ink found: is the scan in colour and the "
                       "impression red? (a lower --threshold takes paler "
                       "ink)");
        rc = err_set(e, ERR_INVALID, "%s", r->problems[0]);
        goto done;
    }
    /* the seal's size is the ink's, without the margin the crop adds */
    r->width_mm = (double)(x1 - x0 + 1) * 25.4 / (double)sc->dpi;
    r->height_mm = (double)(y1 - y0 + 1) * 25.4 / (double)sc->dpi;
    margin = (int)((w > h ? w : h) / 100) + 2;
    x0 = x0 > margin ? x0 - margin : 0;
    y0 = y0 > margin ? y0 - margin : 0;
    x1 = x1 + margin < (int)w ? x1 + margin : (int)w - 1;
    y1 = y1 + margin < (int)h ? y1 + margin : (int)h - 1;
    {
        uint64_t in_crop = 0;
        int y;

        for (y = y0; y <= y1; y++)
            in_crop += rows[y];   /* rows[] counts the whole width: close */
        r->ink_fraction = (double)in_crop /
                          ((double)(x1 - x0 + 1) * (double)(y1 - y0 + 1));
        if (r->ink_fraction > 1)
            r->ink_fraction = 1;
    }
    if ((crop = scan_crop(s, x0, y0, x1 - x0 + 1, y1 - y0 + 1)) == NULL) {
        rc = err_set(e, ERR_NOMEM, "cairo: the crop failed");
        goto done;
    }
    r->width_px = (uint32_t)cairo_image_surface_get_width(crop);
    r->height_px = (uint32_t)cairo_image_surface_get_height(crop);
    scan_rules(sc, r);
    if ((rc = surface_to_png(crop, png, len, e)) != ERR_OK)
        goto done;
    err_clear(&ie);
    if (r->nproblems == 0 &&
        img_check(*png, *len,
                  sc->width_mm > 0 ? sc->width_mm : lround(r->width_mm),
                  sc->height_mm > 0 ? sc->height_mm : lround(r->height_mm),
                  &info, &ie) != ERR_OK)
        report_problem(r, "an application would refuse it: %s", ie.msg);
    if (r->nproblems > 0)
        rc = err_set(e, ERR_INVALID, "%s", r->problems[0]);

done:
    if (rc != ERR_OK) {
        free(*png);
        *png = NULL;
        *len = 0;
    }
    free(rows);
    free(cols);
    if (cr)
        cairo_destroy(cr);
    if (crop)
        cairo_surface_destroy(crop);
    if (s)
        cairo_surface_destroy(s);
    if (raw)
        cairo_surface_destroy(raw);
    return rc;
}

void
impression_release(void)
{
    /* the order matters: pango's font map holds fontconfig patterns and
     * cairo font faces; FcFini asserts that nothing is left */
    pango_cairo_font_map_set_default(NULL);
    cairo_debug_reset_static_data();
    FcFini();
}
