/*
 * http.h - the HTTP front: libmicrohttpd daemon set-up, request bodies with
 * limits, the response envelope, request ids, the request log.  Handlers get
 * a parsed struct http_req and fill a struct http_resp; they never see
 * libmicrohttpd.
 */
#ifndef SEALD_HTTP_H
#define SEALD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "app.h"
#include "audit.h"
#include "auth.h"
#include "authz.h"
#include "err.h"

#define HTTP_MAX_PARAMS      4
#define HTTP_REQUEST_ID_LEN  16    /* hex characters */
#define HTTP_ADDR_MAX        64
#define HTTP_PATH_MAX        1024
/* The header in which a portal presents the token of the person logged in
 * to it (auth.h, idtoken.h).  A header of its own, not Authorization:
 * that one carries the portal's own credential in the same request. */
#define HTTP_PERSON_TOKEN_HEADER "X-Seald-Person-Token"

struct http_conn_ctx;               /* libmicrohttpd side, opaque */

struct http_req {
    struct app            *app;
    const char            *method;
    const char            *path;
    char                   params[HTTP_MAX_PARAMS][128]; /* {x} in pattern */
    int64_t                ids[HTTP_MAX_PARAMS]; /* params parsed as ids, or 0 */
    size_t                 nparams;
    const char            *param_error; /* a parameter is not valid: why */
    /* The body, NUL-terminated, or NULL: in memory, or a read-only mapping
     * of the temporary file a large body was written to (see http.c). */
    const char            *body;
    size_t                 body_len;
    /* The largest body taken: 0 is server.max_body_bytes; the routing
     * table's admit hook may lower it (router.h). */
    long                   body_max;
    json_t                *json;       /* parsed body object, or NULL  */
    int64_t                prep_cpu_ns; /* this thread's CPU time spent
                                           mapping and parsing the body */
    /* A body sent as application/octet-stream, application/ofd or
     * application/pdf is a document: body_hashed is set and body_sm3 holds
     * its SM3, computed chunk by chunk as it arrived. */
    int                    body_hashed;
    uint8_t                body_sm3[32];
    const char            *content_type; /* request header, or NULL    */
    char                   request_id[HTTP_REQUEST_ID_LEN + 1];
    char                   client_addr[HTTP_ADDR_MAX];
    int                    authenticated;
    struct auth_principal  principal;
    int64_t                via_account_id; /* the portal principal (a
                                              person) acts through; 0 */
    enum rbac_perm         perm;       /* the route's permission */
    struct store_conn     *db;          /* this thread's connection */
    struct http_conn_ctx  *conn;
};

#define HTTP_DISPOSITION_MAX 256

struct http_resp {
    int     status;        /* 0 means 200 */
    json_t *data;          /* owned; becomes "data" of the envelope */
    /* A raw body instead of the JSON envelope (downloads, exports): when
     * raw is set it is sent as is with content_type (a static string) and,
     * if non-empty, Content-Disposition; raw is malloc'ed and owned (the
     * HTTP layer frees it). */
    char       *raw;
    size_t      raw_len;
    const char *content_type;
    char        disposition[HTTP_DISPOSITION_MAX];
    int         retry_after;   /* seconds: Retry-After on a 429/401 error */
    /* For a raw body that caches may keep (the public status statements):
     * Cache-Control (empty: "no-store"), ETag (empty: none, else quoted)
     * and Vary (NULL: none; a static string).  Sent with a 304 too. */
    char        cache_control[64];
    char        etag[80];
    const char *vary;
    /* Content-Security-Policy of a raw body a browser renders (the public
     * pages), a static string; NULL: none. */
    const char *csp;
};

/* A route handler: fill resp (status, data) or return an error. */
typedef err_code (*http_handler)(struct http_req *req, struct http_resp *resp,
                                 struct err *e);

/* Value of query parameter key, or NULL.  Borrowed from the request. */
const char *http_query(const struct http_req *req, const char *key);

/* Value of request header name (case-insensitive), or NULL.  Borrowed from
 * the request. */
const char *http_header(const struct http_req *req, const char *name);

/* 1 if the request's If-None-Match names etag (a quoted tag) or is "*":
 * a list of tags, weak or not.  The one conditional-request check, for
 * every handler that answers 304. */
int http_etag_matches(const struct http_req *req, const char *etag);

/* The audit actor of this request (account, role, address, request id). */
struct audit_actor http_actor(const struct http_req *req);

/* The acting context for the domain layer (principal, actor, database). */
struct actor_ctx http_actor_ctx(const struct http_req *req);

/* Path parameter i as the id the router parsed; ERR_NOT_FOUND if it is not
 * an id parameter. */
err_code http_param_id(const struct http_req *req, size_t i, int64_t *out,
                       struct err *e);

/* Pagination from ?after=ID&limit=N (default 50, at most STORE_PAGE_MAX). */
#define HTTP_PAGE_DEFAULT 50
err_code http_page(const struct http_req *req, int64_t *after, int *limit,
                   struct err *e);

struct http_server;
struct route_table;                 /* router.h */

/* Start listening per app->cfg (TLS unless plain_http), routing requests
 * with routes (which must outlive the server).  Free with http_stop(). */
err_code http_start(struct app *app, const struct route_table *routes,
                    struct http_server **out, struct err *e);

/* Stop accepting, wait up to timeout_ms for in-flight requests, stop. */
void http_stop(struct http_server *srv, long timeout_ms);

#endif
