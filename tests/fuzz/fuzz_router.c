/*
 * fuzz_router.c - libFuzzer target: route matching (router_match in
 * src/http/router.c).  The input's first byte picks a method from a list and the
 * size of the Allow buffer, the rest is the path; the whole input (cut at
 * its first NUL) is also tried as a path and as a method.  It must never
 * crash or read out of bounds, and what it returns must be what router.h
 * promises: a route of the table for the method, NUL-terminated parameters
 * that put back into the pattern give the path again, ids that are the
 * parameters' values, and an Allow list that fits its buffer.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "router.h"

#define FUZZ_ALLOW_MAX 256       /* the Allow buffer http.c passes is less */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_methods[] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get", "",
};
#define FUZZ_NMETHODS (sizeof(fuzz_methods) / sizeof(fuzz_methods[0]))

/* Allow buffer sizes tried: none at all, too small, and large enough. */
static const size_t fuzz_caps[] = {0, 1, 5, 12, 64, FUZZ_ALLOW_MAX};
#define FUZZ_NCAPS (sizeof(fuzz_caps) / sizeof(fuzz_caps[0]))

/* A malloc'ed, NUL-terminated copy of data[0..len) cut at its first NUL,
 * exactly as long as the string, so that ASan sees any over-read. */
static char *cut_copy(const uint8_t *data, size_t len)
{
    const uint8_t *nul = memchr(data, '\0', len);
    char *s;

    if (nul != NULL)
        len = (size_t)(nul - data);
    s = malloc(len + 1);
    if (s == NULL)
        abort();
    memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

/* Abort unless param (128 bytes) is NUL-terminated, non-empty, holds no
 * '/', and, when the parameters were found valid, has the value promised
 * for parameter name: an esID's characters, or the decimal form of id. */
static void check_param(const char *param, size_t plen, const char *name,
                        size_t nlen, int64_t id, int valid)
{
    char buf[32];
    size_t len;

    if (memchr(param, '\0', plen) == NULL)
        abort();
    len = strlen(param);
    if (len == 0 || strchr(param, '/') != NULL)
        abort();
    if (!valid)
        return;
    if (nlen == 4 && strncmp(name, "esid", 4) == 0) {
        if (id != 0 || strspn(param, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz._-") != len)
            abort();
        return;
    }
    snprintf(buf, sizeof(buf), "%" PRId64, id);
    if (id <= 0 || strcmp(buf, param) != 0)
        abort();
}

/* Abort unless route r, with the parameters in req, spells path: each
 * {x} of its pattern replaced by the next parameter gives path exactly. */
static void check_route(const struct route *r, const char *path,
                        const struct http_req *req)
{
    const char *p = r->pattern, *s = path;
    size_t n = 0;

    if (req->nparams > HTTP_MAX_PARAMS)
        abort();
    while (*p != '\0') {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            size_t len;
            if (pe == NULL || n >= req->nparams)
                abort();
            check_param(req->params[n], sizeof(req->params[n]), p + 1,
                        (size_t)(pe - p - 1), req->ids[n],
                        req->param_error == NULL);
            len = strlen(req->params[n]);
            if (strncmp(s, req->params[n], len) != 0)
                abort();
            s += len;
            p = pe + 1;
            n++;
            continue;
        }
        if (*s != *p)
            abort();
        p++;
        s++;
    }
    if (*s != '\0' || n != req->nparams)
        abort();
}

/* Abort unless allow is a list of whole method names and the 405
 * message msg for method names each of them; when full, allow must be the
 * very list the message ends with.  A message cut at ERR_MSG_MAX (a long
 * method) is not read past its prefix. */
static void check_allow(const char *allow, const char *method,
                        const char *msg, int full)
{
    static const char *const names[] = {
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", NULL
    };
    static const char head[] = "method ", mid[] = " is not allowed here; "
                                                  "allowed: ";
    size_t skip = strlen(head) + strlen(method) + strlen(mid);
    const char *tail = NULL, *p = allow;

    if (strncmp(msg, head, strlen(head)) != 0)
        abort();
    if (skip < strlen(msg) && strlen(msg) < ERR_MSG_MAX - 1) {
        tail = msg + skip;
        if (strncmp(tail - strlen(mid), mid, strlen(mid)) != 0)
            abort();
    }
    if (full && allow[0] == '\0')
        abort();
    if (full && tail != NULL && strcmp(tail, allow) != 0)
        abort();
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        const char *const *n;
        for (n = names; *n != NULL; n++)
            if (strlen(*n) == len && strncmp(*n, p, len) == 0)
                break;
        if (*n == NULL || (tail != NULL && strstr(tail, *n) == NULL))
            abort();
        p += len;
        if (*p == ',' && *++p != ' ')
            abort();
        if (*p == ' ')
            p++;
    }
}

/* Match method and path with an Allow buffer of cap bytes and check the
 * result against router.h. */
static void match(const char *method, const char *path, size_t cap)
{
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    const struct route *r = NULL;
    struct http_req *req;
    char *allow;
    struct err e;
    err_code rc;
    size_t i;

    /* heap, exact sizes (malloc(0) too): an overrun of either is an ASan
     * report */
    req = malloc(sizeof(*req));
    allow = malloc(cap);
    if (req == NULL || (cap > 0 && allow == NULL))
        abort();
    memset(req, 0xa5, sizeof(*req));
    /* what the router reads of the request: its app, for the routing
     * table's enabled hook (none here: every route is there) */
    req->app = NULL;
    if (cap > 0)
        memset(allow, 0xa5, cap);
    rc = router_match(&api_routes, method, path, req, &r, allow, cap, &e);
    if (rc == ERR_OK) {
        for (i = 0; i < api_routes.n && r != &api_routes.rows[i]; i++)
            ;
        if (i == api_routes.n || strcmp(r->method, want) != 0)
            abort();
        check_route(r, path, req);
    } else if (rc == ERR_METHOD) {
        if (cap > 0 && memchr(allow, '\0', cap) == NULL)
            abort();
        if (cap > 0)
            check_allow(allow, method, e.msg, cap >= FUZZ_ALLOW_MAX);
    } else if (rc != ERR_NOT_FOUND) {
        abort();
    }
    if (rc != ERR_OK && memchr(e.msg, '\0', sizeof(e.msg)) == NULL)
        abort();
    free(allow);
    free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path, *raw;

    if (size == 0)
        return 0;
    path = cut_copy(data + 1, size - 1);
    match(fuzz_methods[data[0] % FUZZ_NMETHODS], path,
          fuzz_caps[(data[0] / FUZZ_NMETHODS) % FUZZ_NCAPS]);
    free(path);

    raw = cut_copy(data, size);
    match("GET", raw, FUZZ_ALLOW_MAX);
    match("DELETE", raw, FUZZ_ALLOW_MAX);
    match(raw, "/api/v1/seals", FUZZ_ALLOW_MAX);
    match(raw, "/api/v1/sign-requests/1/documents/2/content", 0);
    free(raw);
    return 0;
}
