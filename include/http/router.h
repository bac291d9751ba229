/*
 * router.h - routing tables and path matching.  A table is rows of
 * (method, pattern, handler, permission, audit action); the API's is
 * api_routes (api.h), which the CLI hands to http_start.
 */
#ifndef SEALD_ROUTER_H
#define SEALD_ROUTER_H

#include <stddef.h>

#include "http.h"
#include "rbac.h"

struct route {
    const char     *method;
    const char     *pattern;      /* "/api/v1/seals/{id}"                   */
    http_handler    handler;
    enum rbac_perm  perm;         /* PERM_NONE: public; PERM_SELF: any caller */
    int             any_credential; /* 1: allowed with an initial credential */
    const char     *action;       /* audit action of this route             */
    const char     *summary;
};

struct route_table {
    const struct route *rows;
    size_t              n;
    /* Optional: is route r there for this request?  A public service
     * switched off in the configuration is not: router_match passes over
     * it, so the caller gets the 404 (and never a 405) of a path that does
     * not exist. */
    int (*enabled)(const struct http_req *req, const struct route *r);
    /* Optional: called on the headers, after routing and authentication
     * and before a byte of the body is accepted.  It may lower
     * req->body_max, and it may refuse (its error is the answer, with
     * *retry_after seconds of Retry-After for a 429 or 503): a request
     * without a body, or one declaring more than body_max, is answered at
     * once; one with a body gets it after the body has been read and
     * dropped (neither kept nor parsed), so that a client that sends its
     * body before reading sees the answer and not a reset. */
    err_code (*admit)(struct http_req *req, const struct route *r,
                      int *retry_after, struct err *e);
    /* Optional: may route r (which needs a permission) be served to this
     * request without a credential?  Asked only when the request carries
     * no Authorization header; 1: it is served unauthenticated (the
     * handler must not need a principal), 0: the permission applies.  A
     * request that does present a credential is always checked. */
    int (*anonymous)(const struct http_req *req, const struct route *r);
};

/* Find the route of table t for method and path (HEAD finds the GET route;
 * a row t->enabled says is not there is passed over).  On
 * ERR_NOT_FOUND no pattern matched; on ERR_METHOD a pattern matched but not
 * the method, and allow (cap bytes; cap may be 0) gets the Allow header
 * value, NUL-terminated, with whole method names only: those that do not
 * fit are left out (e's message always names them all).  Path
 * parameters go into req->params, ids also into req->ids.  This is where
 * they are checked: every parameter but {esid} is an id (ASCII digits, no
 * sign, no leading zero, at most INT64_MAX), {esid} is [0-9A-Za-z._-]; if
 * one is not, the route is still found (so the caller is authenticated
 * before anything else is said) and req->param_error holds the message of
 * the 404 the caller answers. */
err_code router_match(const struct route_table *t, const char *method,
                      const char *path, struct http_req *req,
                      const struct route **out, char *allow, size_t cap,
                      struct err *e);

/* The table as JSON: [{"method","path","permission","action","summary"}]
 * (new reference). */
json_t *router_describe(const struct route_table *t);

/* The role x route matrix as JSON: {"roles":[...], "routes":[{"method",
 * "path","permission","roles":[...]}]} (new reference). */
json_t *router_matrix(const struct route_table *t);

#endif
