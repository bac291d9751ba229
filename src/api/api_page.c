/*
 * api_page.c - the public pages for people (issue 17 item 9): GET / (a
 * landing page linking to the verification page), GET /verify (the page
 * where anyone drops an OFD file, a signature and its document, or a seal
 * file, and reads the report) and its script and style sheet.  The files
 * are those of src/api/page/, compiled in by src/embed.cmake
 * (api_page_files): nothing is read from disk, nothing comes from another
 * origin.
 *
 * Owns the HTTP side of those files: the [public] verify_page switch (off:
 * 404, as if the routes were not there), the Content-Type of each, a strict
 * Content-Security-Policy (only this origin's script, style and
 * connections; pictures from data: URLs, which the page makes from the
 * report; no inline script; no framing), nosniff (send_body adds it), and
 * caching by ETag (the quoted SM3 of the file; Cache-Control no-cache, so
 * a browser asks again and gets 304 while the binary is the same).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "sm2.h"
#include "util.h"

#define PAGE_CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
                 "img-src 'self' data:; connect-src 'self'; "               \
                 "object-src 'none'; base-uri 'none'; form-action 'none'; " \
                 "frame-ancestors 'none'"

/* The route path -> the embedded file and its type. */
static const struct {
    const char *path, *file, *type;
} page_map[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/verify", "verify.html", "text/html; charset=utf-8"},
    {"/verify.js", "verify.js", "text/javascript; charset=utf-8"},
    {"/verify.css", "verify.css", "text/css; charset=utf-8"},
};

/* The embedded file called name, or NULL. */
static const struct api_page_file *
page_file(const char *name)
{
    size_t i;

    for (i = 0; i < api_page_files_count; i++)
        if (strcmp(api_page_files[i].name, name) == 0)
            return &api_page_files[i];
    return NULL;
}

/* GET of one of page_map's paths: the file (copied into resp->raw, which
 * the HTTP layer frees) with its type, CSP and ETag, or an empty 304 when
 * If-None-Match names the ETag. */
err_code
api_page(struct http_req *req, struct http_resp *resp, struct err *e)
{
    const struct api_page_file *f = NULL;
    const char *type = NULL;
    uint8_t h[SM3_DIGEST_LEN];
    char hex[2 * SM3_DIGEST_LEN + 1];
    size_t i, len;
    err_code rc;

    if (!req->app->cfg->public_verify_page)
        return err_set(e, ERR_NOT_FOUND, "no such route");
    for (i = 0; i < sizeof(page_map) / sizeof(page_map[0]); i++)
        if (strcmp(req->path, page_map[i].path) == 0) {
            f = page_file(page_map[i].file);
            type = page_map[i].type;
        }
    if (f == NULL)
        return err_set(e, ERR_INTERNAL, "page %s is not compiled in",
                       req->path);
    if ((rc = sm2_sm3(f->data, f->len, h, e)) != ERR_OK)
        return rc;
    util_hex_encode(h, sizeof(h), hex);
    snprintf(resp->etag, sizeof(resp->etag), "\"%s\"", hex);
    snprintf(resp->cache_control, sizeof(resp->cache_control), "no-cache");
    resp->content_type = type;
    resp->csp = PAGE_CSP;
    len = http_etag_matches(req, resp->etag)
              ? 0 : f->len;
    if ((resp->raw = malloc(len + 1)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(resp->raw, f->data, len);
    resp->raw_len = len;
    if (len == 0)
        resp->status = 304;
    return ERR_OK;
}
