/*
 * http.c - the libmicrohttpd front end.  It owns everything about a request
 * that is not the handler's business: request ids, header and body limits,
 * routing, authentication and the refusal audit, the JSON envelope and error
 * shape, the request log, and orderly shutdown.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "router.h"
#include "util.h"

#define HTTP_TLS_PEM_MAX  (64 * 1024)
#define HTTP_TLS_PRIORITIES \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct http_server {
    struct MHD_Daemon *mhd;
    struct app        *app;
    atomic_long        inflight;
    char              *tls_key;      /* PEM, wiped on stop */
    size_t             tls_key_len;
    char              *tls_cert;
};

struct http_conn_ctx {
    struct http_server    *srv;
    struct MHD_Connection *mc;
    struct http_req        req;
    char                   path[HTTP_PATH_MAX];
    char                  *body;
    size_t                 body_len, body_cap;
    int                    body_too_large;
    int                    status;
    int64_t                start_ms;
};

/* Administrator roles that may use ROUTE_ADMIN routes. */
static const char *const admin_roles[] = {"sysadmin", "secadmin", "auditor",
                                          NULL};

const char *
http_query(const struct http_req *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn->mc, MHD_GET_ARGUMENT_KIND,
                                       key);
}

struct audit_actor
http_actor(const struct http_req *req)
{
    struct audit_actor a;

    a.account_id = req->authenticated ? req->principal.account_id : 0;
    a.role = NULL;
    a.client_addr = req->client_addr;
    a.request_id = req->request_id;
    return a;
}

static void
client_address(struct MHD_Connection *mc, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    snprintf(out, cap, "unknown");
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)
                  ->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)
                  ->sin6_addr, out, (socklen_t)cap);
}

/* Queue body (a JSON value, consumed) with status and the common headers. */
static enum MHD_Result
send_json(struct http_conn_ctx *ctx, int status, json_t *body,
          const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char *text;

    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        static char oom[] = "{\"error\":{\"code\":\"out_of_memory\","
                            "\"message\":\"out of memory\"}}";
        status = 503;
        resp = MHD_create_response_from_buffer(strlen(oom), oom,
                                               MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(strlen(text), text,
                                               MHD_RESPMEM_MUST_FREE);
    }
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            "application/json; charset=utf-8");
    MHD_add_response_header(resp, "X-Request-Id", ctx->req.request_id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (allow != NULL && allow[0] != '\0')
        MHD_add_response_header(resp, "Allow", allow);
    if (status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate",
                                "Bearer realm=\"seald\"");
    if (atomic_load(&ctx->srv->app->stopping))
        MHD_add_response_header(resp, "Connection", "close");
    ctx->status = status;
    ret = MHD_queue_response(ctx->mc, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Errors that would leak internals get a generic message; the detail goes
 * to the log under the request id. */
static enum MHD_Result
send_error(struct http_conn_ctx *ctx, const struct err *e, const char *allow)
{
    const char *msg = e->msg;
    int status = err_http_status(e->code);

    if (status >= 500 && e->code != ERR_UNAVAILABLE &&
        e->code != ERR_HSM_UNAVAILABLE) {
        log_event(LOG_ERROR, "request_error", "rid=%s code=%s msg=\"%s\"",
                  ctx->req.request_id, err_name(e->code), e->msg);
        msg = "internal error; the server log has the details under this "
              "request id";
    }
    return send_json(ctx, status, json_error(e->code, msg,
                                             ctx->req.request_id), allow);
}

/* Record a refused request through the audit entry point.  A failure to
 * write it is logged; the request is refused either way. */
static void
audit_refusal(struct http_conn_ctx *ctx, const char *action,
              const struct err *why)
{
    struct audit_actor who = http_actor(&ctx->req);
    struct audit_event ev = {action, "route", ctx->path, AUDIT_REFUSED,
                             why->msg, NULL};
    struct err e;

    err_clear(&e);
    if (ctx->req.db == NULL ||
        audit_append(ctx->req.db, &who, &ev, &e) != ERR_OK)
        log_event(LOG_ERROR, "audit_failed", "rid=%s action=%s msg=\"%s\"",
                  ctx->req.request_id, action, e.msg);
}

static int
is_admin(const struct auth_principal *p)
{
    const char *const *r;

    for (r = admin_roles; *r != NULL; r++)
        if (auth_has_role(p, *r))
            return 1;
    return 0;
}

/* Authenticate per route->access; on refusal fill *e and audit it. */
static err_code
authenticate(struct http_conn_ctx *ctx, const struct route *route,
             struct err *e)
{
    struct http_req *req = &ctx->req;
    const char *hdr;
    err_code rc;

    if (route->access == ROUTE_PUBLIC)
        return ERR_OK;
    hdr = MHD_lookup_connection_value(ctx->mc, MHD_HEADER_KIND,
                                      MHD_HTTP_HEADER_AUTHORIZATION);
    if (hdr == NULL || strncmp(hdr, "Bearer ", 7) != 0)
        rc = err_set(e, ERR_UNAUTHENTICATED,
                     "an Authorization: Bearer credential is required");
    else
        rc = auth_check(req->db, req->app->key, hdr + 7, &req->principal, e);
    if (rc == ERR_UNAUTHENTICATED) {
        audit_refusal(ctx, "auth.authenticate", e);
        return rc;
    }
    if (rc != ERR_OK)
        return rc;
    req->authenticated = 1;
    if (req->principal.initial && !route->any_credential) {
        rc = err_set(e, ERR_FORBIDDEN, "this is an initial credential: "
                     "replace it first with POST /api/v1/account/credential");
        audit_refusal(ctx, "auth.authorize", e);
        return rc;
    }
    if (route->access == ROUTE_ADMIN && !is_admin(&req->principal)) {
        rc = err_set(e, ERR_FORBIDDEN, "this route needs an administrator "
                     "role");
        audit_refusal(ctx, "auth.authorize", e);
        return rc;
    }
    return ERR_OK;
}

/* A non-empty body must be a JSON object sent as application/json; it is
 * parsed here once, so handlers only read req->json. */
static err_code
parse_json_body(struct http_conn_ctx *ctx, struct err *e)
{
    const char *ct;

    if (ctx->body_len == 0)
        return ERR_OK;
    ct = MHD_lookup_connection_value(ctx->mc, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' '))
        return err_set(e, ERR_UNSUPPORTED, "request body must be sent as "
                       "Content-Type: application/json");
    return json_parse_body(ctx->body, ctx->body_len, &ctx->req.json, e);
}

static enum MHD_Result
dispatch(struct http_conn_ctx *ctx)
{
    struct http_req *req = &ctx->req;
    struct http_resp resp = {0, NULL};
    const struct route *route = NULL;
    char allow[64];
    struct err e;
    err_code rc;

    err_clear(&e);
    if (ctx->body_too_large) {
        err_set(&e, ERR_TOO_LARGE, "request body exceeds %ld bytes",
                req->app->cfg->max_body_bytes);
        return send_error(ctx, &e, NULL);
    }
    req->body = ctx->body;
    req->body_len = ctx->body_len;
    if ((rc = router_match(req->method, ctx->path, req, &route, allow,
                           sizeof(allow), &e)) != ERR_OK)
        return send_error(ctx, &e, rc == ERR_METHOD ? allow : NULL);
    if (parse_json_body(ctx, &e) != ERR_OK)
        return send_error(ctx, &e, NULL);
    if (store_conn_get(req->app->store, &req->db, &e) != ERR_OK) {
        req->db = NULL;
        if (route->access != ROUTE_PUBLIC)
            return send_error(ctx, &e, NULL);
    }
    if (authenticate(ctx, route, &e) != ERR_OK)
        return send_error(ctx, &e, NULL);
    if ((rc = route->handler(req, &resp, &e)) != ERR_OK) {
        json_decref(resp.data);
        if (req->db != NULL)
            store_rollback(req->db);   /* a handler's failure never commits */
        return send_error(ctx, &e, NULL);
    }
    return send_json(ctx, resp.status ? resp.status : 200,
                     json_envelope(resp.data, req->request_id), NULL);
}

struct header_sum {
    size_t total;
};

static enum MHD_Result
sum_headers(void *cls, enum MHD_ValueKind kind, const char *key,
            const char *value)
{
    struct header_sum *s = cls;

    s->total += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* First call for a request: set up the context and check the limits that
 * can be checked before the body arrives. */
static enum MHD_Result
begin_request(struct http_server *srv, struct MHD_Connection *mc,
              const char *url, const char *method, void **con_cls)
{
    struct http_conn_ctx *ctx;
    struct header_sum hs = {0};
    const char *clen;
    uint8_t rid[HTTP_REQUEST_ID_LEN / 2];
    struct err e;

    if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
        return MHD_NO;
    ctx->srv = srv;
    ctx->mc = mc;
    ctx->start_ms = util_mono_ms();
    ctx->req.app = srv->app;
    ctx->req.conn = ctx;
    ctx->req.method = method;
    ctx->req.path = ctx->path;
    if (util_random(rid, sizeof(rid), NULL) != ERR_OK)
        memset(rid, 0, sizeof(rid));
    util_hex_encode(rid, sizeof(rid), ctx->req.request_id);
    client_address(mc, ctx->req.client_addr, sizeof(ctx->req.client_addr));
    atomic_fetch_add(&srv->inflight, 1);
    *con_cls = ctx;

    err_clear(&e);
    if (strlen(url) >= sizeof(ctx->path)) {
        snprintf(ctx->path, sizeof(ctx->path), "(too long)");
        err_set(&e, ERR_BAD_REQUEST, "path longer than %d bytes",
                HTTP_PATH_MAX - 1);
        return send_error(ctx, &e, NULL);
    }
    memcpy(ctx->path, url, strlen(url) + 1);
    MHD_get_connection_values(mc, MHD_HEADER_KIND, sum_headers, &hs);
    if (hs.total > (size_t)srv->app->cfg->max_header_bytes) {
        err_set(&e, ERR_HEADERS_TOO_LARGE, "request headers exceed %ld "
                "bytes", srv->app->cfg->max_header_bytes);
        return send_error(ctx, &e, NULL);
    }
    clen = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (clen != NULL) {
        long n;
        if (util_parse_long(clen, 0, srv->app->cfg->max_body_bytes, &n, NULL)
            != ERR_OK) {
            err_set(&e, ERR_TOO_LARGE, "request body exceeds %ld bytes",
                    srv->app->cfg->max_body_bytes);
            return send_error(ctx, &e, NULL);
        }
    }
    return MHD_YES;
}

/* Append a piece of the body; past the limit, keep reading but drop it, and
 * answer 413 when the body is complete. */
static void
take_body(struct http_conn_ctx *ctx, const char *data, size_t len)
{
    size_t max = (size_t)ctx->srv->app->cfg->max_body_bytes;

    if (ctx->body_too_large)
        return;
    if (ctx->body_len + len > max) {
        ctx->body_too_large = 1;
        free(ctx->body);
        ctx->body = NULL;
        ctx->body_len = ctx->body_cap = 0;
        return;
    }
    if (ctx->body_len + len + 1 > ctx->body_cap) {
        size_t cap = ctx->body_cap ? ctx->body_cap : 4096;
        char *p;
        while (cap < ctx->body_len + len + 1)
            cap *= 2;
        if ((p = realloc(ctx->body, cap)) == NULL) {
            ctx->body_too_large = 1;   /* answered as 413: bounded anyway */
            return;
        }
        ctx->body = p;
        ctx->body_cap = cap;
    }
    memcpy(ctx->body + ctx->body_len, data, len);
    ctx->body_len += len;
    ctx->body[ctx->body_len] = '\0';
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *mc, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **con_cls)
{
    struct http_conn_ctx *ctx = *con_cls;

    if (ctx == NULL)
        return begin_request(cls, mc, url, method, con_cls);
    if (ctx->status != 0) {         /* answered early; drop the body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        take_body(ctx, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch(ctx);
}

static void
on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_conn_ctx *ctx = *con_cls;

    if (ctx == NULL)
        return;
    log_event(LOG_INFO, "request",
              "rid=%s method=%s path=\"%s\" status=%d dur_ms=%lld "
              "client=%s account=%lld%s",
              ctx->req.request_id, ctx->req.method, ctx->path, ctx->status,
              (long long)(util_mono_ms() - ctx->start_ms),
              ctx->req.client_addr,
              (long long)(ctx->req.authenticated
                          ? ctx->req.principal.account_id : 0),
              toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
                                                         : " aborted=1");
    util_wipe(&ctx->req.principal, sizeof(ctx->req.principal));
    json_decref(ctx->req.json);
    free(ctx->body);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* libmicrohttpd's own diagnostics, into our log as one line each. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_event(LOG_WARN, "httpd", "msg=\"%s\"", msg);
}

static void
server_free(struct http_server *srv)
{
    if (srv == NULL)
        return;
    if (srv->tls_key != NULL)
        util_wipe(srv->tls_key, srv->tls_key_len);
    free(srv->tls_key);
    free(srv->tls_cert);
    free(srv);
}

err_code
http_start(struct app *app, struct http_server **out, struct err *e)
{
    const struct config *cfg = app->cfg;
    struct http_server *srv;
    struct sockaddr_storage ss;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                         MHD_USE_ERROR_LOG | MHD_USE_AUTO;
    size_t len;
    err_code rc = ERR_OK;

    if ((srv = calloc(1, sizeof(*srv))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    srv->app = app;
    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, cfg->listen,
                  &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)cfg->port);
    } else if (inet_pton(AF_INET6, cfg->listen,
                         &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        rc = err_set(e, ERR_CONFIG, "cannot listen on '%s'", cfg->listen);
        goto done;
    }
    if (!cfg->plain_http) {
        uint8_t *buf = NULL;
        if ((rc = util_read_file(cfg->tls_key, HTTP_TLS_PEM_MAX, &buf, &len,
                                 e)) != ERR_OK)
            goto done;
        srv->tls_key = (char *)buf;
        srv->tls_key_len = len;
        buf = realloc(buf, len + 1);
        if (buf == NULL) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto done;
        }
        srv->tls_key = (char *)buf;
        srv->tls_key[len] = '\0';
        srv->tls_key_len = len + 1;
        if ((rc = util_read_file(cfg->tls_cert, HTTP_TLS_PEM_MAX, &buf, &len,
                                 e)) != ERR_OK)
            goto done;
        srv->tls_cert = (char *)buf;
        if ((buf = realloc(buf, len + 1)) == NULL) {
            rc = err_set(e, ERR_NOMEM, "out of memory");
            goto done;
        }
        srv->tls_cert = (char *)buf;
        srv->tls_cert[len] = '\0';
        flags |= MHD_USE_TLS;
    }
    srv->mhd = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->connection_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(cfg->max_header_bytes + 16 * 1024),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        /* plain HTTP ends the option list here, before the TLS options */
        cfg->plain_http ? MHD_OPTION_END : MHD_OPTION_HTTPS_MEM_KEY,
        srv->tls_key,
        MHD_OPTION_HTTPS_MEM_CERT, srv->tls_cert,
        MHD_OPTION_HTTPS_PRIORITIES, HTTP_TLS_PRIORITIES,
        MHD_OPTION_END);
    if (srv->mhd == NULL) {
        rc = err_set(e, ERR_IO, "cannot start HTTP%s server on %s port %ld "
                     "(address in use, or bad TLS key/certificate?)",
                     cfg->plain_http ? "" : "S", cfg->listen, cfg->port);
        goto done;
    }
    *out = srv;
    srv = NULL;
done:
    server_free(srv);
    return rc;
}

void
http_stop(struct http_server *srv, long timeout_ms)
{
    MHD_socket fd;
    int64_t deadline = util_mono_ms() + timeout_ms;

    if (srv == NULL)
        return;
    /* Stop accepting first, then let requests already in flight finish
     * (bounded), then tear the daemon down. */
    fd = MHD_quiesce_daemon(srv->mhd);
    while (atomic_load(&srv->inflight) > 0 && util_mono_ms() < deadline)
        usleep(10000);
    if (atomic_load(&srv->inflight) > 0)
        log_event(LOG_WARN, "shutdown", "inflight=%ld msg=\"grace period "
                  "over; closing remaining connections\"",
                  atomic_load(&srv->inflight));
    MHD_stop_daemon(srv->mhd);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    server_free(srv);
}
