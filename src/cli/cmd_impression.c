/*
 * cmd_impression.c - `seald impression`: make the PNG of a seal's
 * impression, drawn from a template or taken from a scan (impression.h).
 * Prints a JSON report (sizes, and every problem found) on stdout and
 * writes the picture only when nothing is wrong.
 */
#include "cmd_impression.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "img.h"
#include "impression.h"
#include "util.h"

static void
usage_impression(FILE *f)
{
    fprintf(f,
        "usage: seald impression draw --shape round|rect --name TEXT\n"
        "                             [--inner TEXT] [--code TEXT]\n"
        "                             [--size MM[xMM]] [--dpi N] "
        "[--font FAMILY] -o OUT.png\n"
        "       seald impression scan --dpi N [--size MMxMM] "
        "[--threshold N] -o OUT.png SCAN.png\n"
        "\n"
        "draw: a red impression on a transparent background.\n"
        "  round  official seal: ring, star, the name along the upper arc,\n"
        "         --inner under the star (e.g. 合同专用章), --code along the\n"
        "         lower arc; --size is the diameter (default 40)\n"
        "  rect   personal seal: frame, the name in two columns read right\n"
        "         to left (default 20x20)\n"
        "scan: keep the red ink of a colour scan (PNG), make the rest\n"
        "  transparent, crop; --dpi is the scanner's resolution, --size the\n"
        "  seal's real size to check against; --threshold how much redder\n"
        "  than green and blue ink is (default 50).\n"
        "Both check the result against the picture rules an application\n"
        "applies (%d..%d px and %d..%d mm a side).  The report is JSON on\n"
        "stdout; exit 0 when OUT.png was written, 1 when a rule failed.\n",
        IMG_MIN_PX, IMG_MAX_PX, IMG_MIN_MM, IMG_MAX_MM);
}

/* Parse "W" or "WxH" millimetres into *w, *h (a single number: both). */
static err_code
parse_size(const char *s, long *w, long *h, struct err *e)
{
    char buf[32];
    char *x;

    if (strlen(s) >= sizeof(buf))
        return err_set(e, ERR_INVALID, "--size: W or WxH in mm");
    strcpy(buf, s);
    if ((x = strchr(buf, 'x')) != NULL)
        *x++ = '\0';
    if (util_parse_long(buf, 1, 1000, w, e) != ERR_OK ||
        util_parse_long(x ? x : buf, 1, 1000, h, e) != ERR_OK)
        return err_set(e, ERR_INVALID, "--size: W or WxH in mm");
    return ERR_OK;
}

/* Print the report as JSON; out_path is what was written, or NULL. */
static void
print_report(const struct impression_report *r, const char *out_path,
             long dpi, const char *error)
{
    json_t *j = json_object(), *probs = json_array();
    int i;

    for (i = 0; i < r->nproblems; i++)
        json_array_append_new(probs, json_string(r->problems[i]));
    if (error && r->nproblems == 0)
        json_array_append_new(probs, json_string(error));
    json_object_set_new(j, "written", out_path ? json_string(out_path)
                                               : json_null());
    json_object_set_new(j, "width_px", json_integer(r->width_px));
    json_object_set_new(j, "height_px", json_integer(r->height_px));
    json_object_set_new(j, "width_mm", json_real(r->width_mm));
    json_object_set_new(j, "height_mm", json_real(r->height_mm));
    json_object_set_new(j, "dpi", json_integer(dpi));
    if (r->ink_fraction > 0)
        json_object_set_new(j, "ink_fraction", json_real(r->ink_fraction));
    json_object_set_new(j, "problems", probs);
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(4));
    fputc('\n', stdout);
    json_decref(j);
}

int
cmd_impression(int argc, char **argv)
{
    static const struct option opts[] = {
        {"shape", required_argument, NULL, 's'},
        {"name", required_argument, NULL, 'n'},
        {"inner", required_argument, NULL, 'i'},
        {"code", required_argument, NULL, 'c'},
        {"size", required_argument, NULL, 'z'},
        {"dpi", required_argument, NULL, 'd'},
        {"font", required_argument, NULL, 'f'},
        {"threshold", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct impression_template t = {0};
    struct impression_scan sc = {0};
    struct impression_report r = {0};
    const char *out = NULL, *mode, *shape = NULL, *size = NULL;
    long dpi = 0, thr = 50;
    uint8_t *png = NULL, *in = NULL;
    size_t len = 0, inlen = 0;
    struct err e;
    int c, rc = CMD_EXIT_USAGE;

    err_clear(&e);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage_impression(stdout);
        return CMD_EXIT_OK;
    }
    if (argc < 2 || (strcmp(argv[1], "draw") && strcmp(argv[1], "scan"))) {
        usage_impression(stderr);
        return CMD_EXIT_USAGE;
    }
    mode = argv[1];
    optind = 0;
    opterr = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "s:n:i:c:z:d:f:t:o:h", opts,
                            NULL)) != -1) {
        switch (c) {
        case 's': shape = optarg; break;
        case 'n': t.name = optarg; break;
        case 'i': t.inner = optarg; break;
        case 'c': t.code = optarg; break;
        case 'z': size = optarg; break;
        case 'f': t.font = optarg; break;
        case 'o': out = optarg; break;
        case 'd':
            if (util_parse_long(optarg, 1, 4800, &dpi, &e) != ERR_OK)
                goto bad;
            break;
        case 't':
            if (util_parse_long(optarg, 1, 255, &thr, &e) != ERR_OK)
                goto bad;
            break;
        case 'h':
            usage_impression(stdout);
            return CMD_EXIT_OK;
        default:
            usage_impression(stderr);
            return CMD_EXIT_USAGE;
        }
    }
    if (out == NULL) {
        err_set(&e, ERR_INVALID, "-o OUT.png is required");
        goto bad;
    }
    if (!strcmp(mode, "draw")) {
        if (optind != argc - 1 || shape == NULL ||
            (strcmp(shape, "round") && strcmp(shape, "rect"))) {
            err_set(&e, ERR_INVALID, "draw takes --shape round|rect and "
                    "no file");
            goto bad;
        }
        t.shape = !strcmp(shape, "round") ? IMPRESSION_ROUND
                                          : IMPRESSION_RECT;
        t.width_mm = t.height_mm = t.shape == IMPRESSION_ROUND ? 40 : 20;
        if (size && parse_size(size, &t.width_mm, &t.height_mm, &e) != ERR_OK)
            goto bad;
        t.dpi = dpi ? dpi : IMPRESSION_DEFAULT_DPI;
        dpi = t.dpi;
        if (impression_draw(&t, &png, &len, &r, &e) != ERR_OK) {
            print_report(&r, NULL, dpi, e.msg);
            fprintf(stderr, "seald impression: %s\n", e.msg);
            rc = CMD_EXIT_FAIL;
            goto done;
        }
    } else {
        if (optind != argc - 2 || dpi == 0) {
            err_set(&e, ERR_INVALID, "scan takes --dpi N and one SCAN.png");
            goto bad;
        }
        sc.dpi = dpi;
        sc.threshold = (int)thr;
        if (size && parse_size(size, &sc.width_mm, &sc.height_mm, &e) !=
                        ERR_OK)
            goto bad;
        if (util_read_file(argv[argc - 1], IMPRESSION_SCAN_MAX_BYTES, &in,
                           &inlen, &e) != ERR_OK) {
            fprintf(stderr, "seald impression: %s\n", e.msg);
            rc = CMD_EXIT_FAIL;
            goto done;
        }
        if (impression_from_scan(in, inlen, &sc, &png, &len, &r, &e) !=
            ERR_OK) {
            print_report(&r, NULL, dpi, e.msg);
            fprintf(stderr, "seald impression: %s\n", e.msg);
            rc = CMD_EXIT_FAIL;
            goto done;
        }
    }
    if (util_write_file(out, png, len, 0644, &e) != ERR_OK) {
        fprintf(stderr, "seald impression: %s: %s\n", out, e.msg);
        rc = CMD_EXIT_FAIL;
        goto done;
    }
    print_report(&r, out, dpi, NULL);
    rc = CMD_EXIT_OK;
    goto done;

bad:
    fprintf(stderr, "seald impression: %s\n", e.msg);
    usage_impression(stderr);
    rc = CMD_EXIT_USAGE;
done:
    free(png);
    free(in);
    impression_release();
    return rc;
}
