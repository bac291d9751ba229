/*
 * img.c - PNG / GIF seal impression decoding and checks (issues 6 and 14);
 * see include/maker/img.h.
 *
 * Owns: the libpng and giflib decoders behind img_decode, their limits, and
 * the size policy for seal pictures.
 *
 * PNG is decoded with libpng's progressive reader (png_process_data over
 * the file in memory), not the sequential one: once the last row is done
 * the sequential reader inflates whatever is left of the zlib stream to
 * look for its end, so a 200 x 200 picture followed by 500 MiB of zeros
 * would be inflated in full before being refused; the progressive reader
 * stops at the first byte past the last row.  GIF is read record by record
 * (DGifGetRecordType / DGifGetImageDesc / DGifGetLine) rather than with
 * DGifSlurp, which would allocate every image's raster before we could
 * count them against IMG_MAX_DECODED_BYTES.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gif_lib.h>
#include <png.h>

#include "img.h"

static const uint8_t PNG_SIG[8] = { 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a,
                                    0x0a };

/* ---- PNG ---------------------------------------------------------------- */

/* State shared with the libpng callbacks (reached through the error and
 * progressive pointers).  The first refusal wins; later ones keep it. */
struct png_ctx {
    err_code    code;            /* ERR_OK until something refuses       */
    char        msg[160];
    png_uint_32 width, height;
    int         interlaced;
    int         palette;         /* PLTE entries of a palette image, or 0 */
    int         in_data;         /* past the headers: inflating IDAT     */
    uint64_t    rows_expected, rows_seen;
    int         ended;           /* IEND read                            */
    size_t      trailing;        /* bytes after IEND                     */
};

/* Record the first refusal. */
static void png_refuse(struct png_ctx *c, err_code code, const char *msg)
{
    if (c->code != ERR_OK)
        return;
    c->code = code;
    snprintf(c->msg, sizeof(c->msg), "PNG: %s%s",
             c->in_data ? "image data does not decode: " : "", msg);
}

/* libpng error handler: keep the message, unwind to png_run. */
static void png_on_error(png_structp png, png_const_charp msg)
{
    png_refuse(png_get_error_ptr(png), ERR_MALFORMED, msg);
    png_longjmp(png, 1);
}

/* libpng warning handler: a seal picture must decode without one (the
 * progressive reader reports image data past the last row this way).
 * Recorded, not unwound: libpng carries on and the decode is refused when
 * it returns. */
static void png_on_warning(png_structp png, png_const_charp msg)
{
    png_refuse(png_get_error_ptr(png), ERR_MALFORMED, msg);
}

/* Rows the progressive reader delivers (no interlace handling asked for:
 * each Adam7 pass's own rows) and the pixel bytes it inflates for them
 * (plus, not counted, one filter byte a row). */
static void png_budget(const struct png_ctx *c, int channels, int depth,
                       uint64_t *rows, uint64_t *bytes)
{
    int pass, passes = c->interlaced ? 7 : 1;

    *rows = 0;
    *bytes = 0;
    for (pass = 0; pass < passes; pass++) {
        uint64_t w = c->interlaced ? PNG_PASS_COLS(c->width, pass) : c->width;
        uint64_t h = c->interlaced ? PNG_PASS_ROWS(c->height, pass)
                                   : c->height;
        if (w == 0 || h == 0)
            continue;               /* libpng skips empty passes */
        *rows += h;
        *bytes += h * ((w * (uint64_t)channels * (uint64_t)depth + 7) / 8);
    }
}

/* Progressive info callback (all chunks before the first IDAT read): check
 * the decode budget before any image data is inflated. */
static void png_on_info(png_structp png, png_infop info)
{
    struct png_ctx *c = png_get_progressive_ptr(png);
    int depth, color, interlace;
    uint64_t bytes;

    png_get_IHDR(png, info, &c->width, &c->height, &depth, &color,
                 &interlace, NULL, NULL);
    c->interlaced = interlace != PNG_INTERLACE_NONE;
    png_budget(c, png_get_channels(png, info), depth, &c->rows_expected,
               &bytes);
    if (bytes > IMG_MAX_DECODED_BYTES) {
        char m[120];
        snprintf(m, sizeof(m), "%ux%u px would decode to %llu bytes, more "
                 "than %u", (unsigned)c->width, (unsigned)c->height,
                 (unsigned long long)bytes, IMG_MAX_DECODED_BYTES);
        png_refuse(c, ERR_INVALID, m);
        png_longjmp(png, 1);
    }
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_colorp plte;
        int n = 0;
        if (png_get_PLTE(png, info, &plte, &n) != PNG_INFO_PLTE || n <= 0)
            png_error(png, "palette image without PLTE");
        c->palette = n;
        png_set_packing(png);       /* one byte per index, to check them */
    }
    png_start_read_image(png);
    c->in_data = 1;
}

/* Progressive row callback: count rows; palette indices inside PLTE. */
static void png_on_row(png_structp png, png_bytep row, png_uint_32 row_num,
                       int pass)
{
    struct png_ctx *c = png_get_progressive_ptr(png);
    png_uint_32 i, n;

    (void)row_num;
    c->rows_seen++;
    if (row == NULL || c->palette == 0)
        return;
    n = c->interlaced ? PNG_PASS_COLS(c->width, pass) : c->width;
    for (i = 0; i < n; i++)
        if (row[i] >= c->palette)
            png_error(png, "palette index outside PLTE");
}

/* Progressive end callback (IEND and its CRC read): note what is left. */
static void png_on_end(png_structp png, png_infop info)
{
    struct png_ctx *c = png_get_progressive_ptr(png);

    (void)info;
    c->ended = 1;
    c->trailing = png_process_data_pause(png, 0);
}

/* Set libpng's limits and strictness, then feed it the whole file.  No
 * local changes after setjmp: everything lives in *c. */
static void png_run(png_structp png, png_infop info, const uint8_t *d,
                    size_t len, struct png_ctx *c)
{
    if (setjmp(png_jmpbuf(png)))
        return;
    png_set_user_limits(png, IMG_DECODE_MAX_PX, IMG_DECODE_MAX_PX);
    png_set_chunk_malloc_max(png, IMG_PNG_CHUNK_MAX);
    png_set_benign_errors(png, 0);                   /* benign = refusal */
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    /* ancillary chunks (text, ICC profiles, ...) are skipped unread but
     * for their CRC: nothing in them is inflated or interpreted */
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_progressive_read_fn(png, c, png_on_info, png_on_row, png_on_end);
    /* libpng reads the buffer, never writes it */
    png_process_data(png, info, (png_bytep)(uintptr_t)d, len);
}

/* Decode a PNG (signature already matched); fill width and height. */
static err_code png_decode(const uint8_t *d, size_t len, struct img_info *out,
                           struct err *e)
{
    struct png_ctx c;
    png_structp png;
    png_infop info;

    memset(&c, 0, sizeof(c));
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, png_on_error,
                                 png_on_warning);
    if (png == NULL)
        return err_set(e, ERR_NOMEM, "PNG: cannot start libpng");
    info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        return err_set(e, ERR_NOMEM, "PNG: cannot start libpng");
    }
    png_run(png, info, d, len, &c);
    png_destroy_read_struct(&png, &info, NULL);
    if (c.code != ERR_OK)
        return err_set(e, c.code, "%s", c.msg);
    if (c.rows_seen != c.rows_expected)
        return err_set(e, ERR_MALFORMED,
                       "PNG: image data ends after %llu of %llu rows",
                       (unsigned long long)c.rows_seen,
                       (unsigned long long)c.rows_expected);
    if (!c.ended)
        return err_set(e, ERR_MALFORMED, "PNG: truncated before IEND");
    if (c.trailing != 0)
        return err_set(e, ERR_MALFORMED, "PNG: %zu bytes after IEND",
                       c.trailing);
    out->width = c.width;
    out->height = c.height;
    out->type = IMG_PNG;
    out->type_name = "PNG";
    return ERR_OK;
}

/* ---- GIF ---------------------------------------------------------------- */

struct gif_src {
    const uint8_t *d;
    size_t len, pos;
};

/* giflib input function over memory: a short read is giflib's EOF. */
static int gif_read(GifFileType *g, GifByteType *buf, int n)
{
    struct gif_src *s = g->UserData;
    size_t k = n > 0 ? (size_t)n : 0;

    if (k > s->len - s->pos)
        k = s->len - s->pos;
    memcpy(buf, s->d + s->pos, k);
    s->pos += k;
    return (int)k;
}

/* A giflib error code as ours (gif_read fails only at the end of the
 * data, so a failed read means the file is cut short). */
static err_code gif_fail(int code, struct err *e)
{
    const char *m = GifErrorString(code);

    if (code == D_GIF_ERR_NOT_ENOUGH_MEM)
        return err_set(e, ERR_NOMEM, "GIF: out of memory");
    if (code == D_GIF_ERR_READ_FAILED)
        return err_set(e, ERR_MALFORMED, "GIF: truncated");
    return err_set(e, ERR_MALFORMED, "GIF: %s", m ? m : "cannot be decoded");
}

/* Read past an extension's data sub-blocks. */
static err_code gif_skip_extension(GifFileType *g, struct err *e)
{
    GifByteType *ext = NULL;
    int code;

    if (DGifGetExtension(g, &code, &ext) == GIF_ERROR)
        return gif_fail(g->Error, e);
    while (ext != NULL)
        if (DGifGetExtensionNext(g, &ext) == GIF_ERROR)
            return gif_fail(g->Error, e);
    return ERR_OK;
}

/* Decode one image (descriptor next): inside the screen, with a colour
 * table, within what is left of the budget, every line, every index in
 * the table.  row holds SWidth bytes. */
static err_code gif_frame(GifFileType *g, GifPixelType *row,
                          uint64_t *decoded, struct err *e)
{
    const GifImageDesc *im = &g->Image;
    const ColorMapObject *map;
    int y, x;

    if (DGifGetImageDesc(g) == GIF_ERROR)
        return gif_fail(g->Error, e);
    if (g->ImageCount > IMG_MAX_FRAMES)
        return err_set(e, ERR_INVALID, "GIF: more than %d images",
                       IMG_MAX_FRAMES);
    if (im->Width <= 0 || im->Height <= 0 || im->Left < 0 || im->Top < 0 ||
        im->Left + im->Width > g->SWidth || im->Top + im->Height > g->SHeight)
        return err_set(e, ERR_MALFORMED,
                       "GIF: image outside the logical screen");
    map = im->ColorMap != NULL ? im->ColorMap : g->SColorMap;
    if (map == NULL || map->ColorCount <= 0)
        return err_set(e, ERR_MALFORMED, "GIF: image without a colour table");
    *decoded += (uint64_t)im->Width * (uint64_t)im->Height;
    if (*decoded > IMG_MAX_DECODED_BYTES)
        return err_set(e, ERR_INVALID,
                       "GIF: images would decode to more than %u bytes",
                       IMG_MAX_DECODED_BYTES);
    for (y = 0; y < im->Height; y++) {
        if (DGifGetLine(g, row, im->Width) == GIF_ERROR)
            return gif_fail(g->Error, e);
        for (x = 0; x < im->Width; x++)
            if (row[x] >= map->ColorCount)
                return err_set(e, ERR_MALFORMED,
                               "GIF: pixel index outside the colour table");
    }
    return ERR_OK;
}

/* Every record up to the trailer; at least one image; nothing after. */
static err_code gif_records(GifFileType *g, const struct gif_src *s,
                            struct err *e)
{
    GifPixelType *row;
    GifRecordType t;
    uint64_t decoded = 0;
    err_code rc = ERR_OK;

    if (g->SWidth <= 0 || g->SHeight <= 0)
        return err_set(e, ERR_MALFORMED, "GIF: zero screen size");
    if ((uint64_t)g->SWidth * (uint64_t)g->SHeight > IMG_MAX_DECODED_BYTES)
        return err_set(e, ERR_INVALID,
                       "GIF: %dx%d px would decode to more than %u bytes",
                       g->SWidth, g->SHeight, IMG_MAX_DECODED_BYTES);
    row = malloc((size_t)g->SWidth);
    if (row == NULL)
        return err_set(e, ERR_NOMEM, "GIF: out of memory");
    for (;;) {
        if (DGifGetRecordType(g, &t) == GIF_ERROR) {
            rc = gif_fail(g->Error, e);
            break;
        }
        if (t == TERMINATE_RECORD_TYPE)
            break;
        if (t == EXTENSION_RECORD_TYPE)
            rc = gif_skip_extension(g, e);
        else if (t == IMAGE_DESC_RECORD_TYPE)
            rc = gif_frame(g, row, &decoded, e);
        else
            rc = err_set(e, ERR_MALFORMED, "GIF: unknown record");
        if (rc != ERR_OK)
            break;
    }
    free(row);
    if (rc == ERR_OK && g->ImageCount == 0)
        rc = err_set(e, ERR_MALFORMED, "GIF: no image");
    if (rc == ERR_OK && s->pos != s->len)
        rc = err_set(e, ERR_MALFORMED, "GIF: %zu bytes after the trailer",
                     s->len - s->pos);
    return rc;
}

/* Decode a GIF (signature already matched); fill width and height. */
static err_code gif_decode(const uint8_t *d, size_t len, struct img_info *out,
                           struct err *e)
{
    struct gif_src s = { d, len, 0 };
    GifFileType *g;
    int code = 0;
    err_code rc;

    g = DGifOpen(&s, gif_read, &code);
    if (g == NULL)
        return gif_fail(code, e);
    rc = gif_records(g, &s, e);
    if (rc == ERR_OK) {
        out->width = (uint32_t)g->SWidth;
        out->height = (uint32_t)g->SHeight;
        out->type = IMG_GIF;
        out->type_name = "GIF";
    }
    DGifCloseFile(g, &code);
    return rc;
}

/* ---- API ---------------------------------------------------------------- */

/* Contract: see img.h. */
err_code img_decode(const uint8_t *data, size_t len, struct img_info *out,
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
        rc = png_decode(data, len, out, e);
    else if (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0)
        rc = gif_decode(data, len, out, e);
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
    rc = img_decode(data, len, out, e);
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
