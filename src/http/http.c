/*
 * http.c - the libmicrohttpd front end.  It owns everything about a request
 * that is not the handler's business: request ids, header and body limits,
 * routing, authentication and the refusal audit, the JSON envelope and error
 * shape, the request log, and orderly shutdown.
 *
 * What an anonymous caller can make the daemon spend is bounded here.  The
 * route and the credential are checked on the headers, before a byte of
 * the body is accepted: a refusal is queued at once, and libmicrohttpd then
 * skips the body and closes the connection.  Bodies that are accepted are
 * held in memory up to server.body_spool_bytes each and
 * server.body_budget_bytes in all (beyond: 503 server_busy); larger ones
 * are written to an unnamed temporary file as they arrive and mapped
 * read-only for the handler.  Connections are limited per client address
 * and time out when idle, in the TLS handshake as in a request.  A public
 * route's own limits come from the routing table's admit hook on the
 * headers; its refusal of a request with a body is answered once the
 * body has been read and dropped (router.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#include "cpubudget.h"
#include "http.h"
#include "sjson.h"
#include "tarpit.h"
#include "log.h"
#include "metrics.h"
#include "multipart.h"
#include "router.h"
#include "rbac.h"
#include "util.h"
#include "system.h"

#define HTTP_TLS_PEM_MAX  (64 * 1024)
#define HTTP_TLS_PRIORITIES \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
/* libmicrohttpd keeps a connection's request line and headers in one
 * memory pool.  Twice server.max_header_bytes and this much more let
 * headers well past the limit still reach begin_request, which answers
 * them with the JSON 431; only headers that overflow the pool itself get
 * libmicrohttpd's own 431 page (see on_completed).  The pool is mapped
 * lazily: a connection costs what its client has actually sent. */
#define HTTP_POOL_SLACK       (32 * 1024)
#define HTTP_BODY_CHUNK_START 4096   /* first buffer of a chunked body */
#define HTTP_BUSY_RETRY_S     1      /* Retry-After of a 503 server_busy */
#define HTTP_REASON_MAX       161    /* reason= of a request line, with NUL */

struct http_server {
    struct MHD_Daemon *mhd;
    struct app        *app;
    atomic_long        inflight;
    atomic_long        body_bytes;   /* reserved by bodies held in memory */
    char               spool_dir[PATH_MAX]; /* temporary files of bodies */
    char              *tls_key;      /* PEM, wiped on stop */
    size_t             tls_key_len;
    char              *tls_cert;
    char              *client_ca;    /* PEM bundle, or NULL */
    struct tarpit     *tarpit;       /* server.refusal_delay_ms, or NULL */
    const struct route_table *routes; /* what http_start was given */
};

/* One request, from its request line (uri_log) to on_completed. */
struct http_conn_ctx {
    struct http_server    *srv;
    struct MHD_Connection *mc;
    struct http_req        req;
    char                   path[HTTP_PATH_MAX];
    const struct route    *route;        /* found on the headers */
    int                    begun;        /* the headers reached on_request */
    int                    checked;      /* check_request let it through */
    int                    from_gateway; /* the peer is the [gateway]     */
    char                   gateway_addr[HTTP_ADDR_MAX]; /* its address,
                                            when from_gateway: the log's via= */
    const char            *raw_uri;      /* the target as first seen, and */
    size_t                 raw_uri_len;  /* its length then (a NUL check) */
    int                    target_nul;   /* "%00" in the target */
    /* The body: in memory (body; body_cap bytes reserved from the budget),
     * or in the unnamed file spool_fd, mapped at map for the handler. */
    char                  *body;
    size_t                 body_len, body_cap;
    int                    spool_fd;
    void                  *map;
    size_t                 map_len;
    err_code               body_refused; /* why the body was dropped */
    int                    status;
    int                    retry_after;  /* seconds, for 429 and 503 */
    const struct http_resp *cacheable;   /* its cache headers, or NULL */
    int64_t                start_ms;
    int64_t                start_us;     /* for the latency histogram */
    /* The error answered, for the request line: its stable code (ERR_OK:
     * none) and the reason, cut short (the log line has 4 KiB). */
    err_code               answered_code;
    char                   reason[HTTP_REASON_MAX];
    uint64_t               trips0;       /* database round trips at start */
    EVP_MD_CTX            *sm3;          /* raw bodies: hashed as they come */
    /* A refusal held in the tarpit: the connection is suspended, and the
     * answer is sent when libmicrohttpd calls on_request again. */
    int                    held;
    struct err             held_err;
    /* A refusal the admit hook gave on the headers of a request with a
     * body: the body is read and dropped, then this is the answer, so
     * that a client that sends its body first gets it and not a reset. */
    struct err             deferred;
};

/* Bodies sent as one of these are documents, not requests: they reach the
 * handler as bytes, with their SM3 computed while they arrived. */
static int
raw_body_type(const char *ct)
{
    static const char *const types[] = {"application/octet-stream",
        "application/ofd", "application/pdf",
        "application/timestamp-query", NULL};
    const char *const *t;

    for (t = types; ct != NULL && *t != NULL; t++) {
        size_t n = strlen(*t);
        if (strncasecmp(ct, *t, n) == 0 &&
            (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
            return 1;
    }
    return 0;
}

const char *
http_query(const struct http_req *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn->mc, MHD_GET_ARGUMENT_KIND,
                                       key);
}

const char *
http_header(const struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn->mc, MHD_HEADER_KIND, name);
}

int
http_etag_matches(const struct http_req *req, const char *etag)
{
    const char *inm = http_header(req, "If-None-Match"), *p;
    size_t n = strlen(etag);

    if (inm == NULL || n == 0)
        return 0;
    if (strcmp(inm, "*") == 0)
        return 1;
    for (p = strstr(inm, etag); p != NULL; p = strstr(p + 1, etag))
        if (p[n] == '\0' || p[n] == ',' || p[n] == ' ')
            return 1;
    return 0;
}

struct audit_actor
http_actor(const struct http_req *req)
{
    struct audit_actor a;

    a.account_id = req->authenticated ? req->principal.account_id : 0;
    a.via_account_id = req->authenticated ? req->via_account_id : 0;
    a.role = NULL;   /* audit_append() derives it from these two: */
    a.principal = req->authenticated ? &req->principal : NULL;
    a.perm = req->perm;
    a.client_addr = req->client_addr;
    a.request_id = req->request_id;
    return a;
}

struct actor_ctx
http_actor_ctx(const struct http_req *req)
{
    struct actor_ctx a;

    a.db = req->db;
    a.p = &req->principal;
    a.who = http_actor(req);
    return a;
}

err_code
http_param_id(const struct http_req *req, size_t i, int64_t *out,
              struct err *e)
{
    /* the router parsed every id parameter (router.h); 0 is none */
    if (i >= req->nparams || req->ids[i] <= 0)
        return err_set(e, ERR_NOT_FOUND, "no such id");
    *out = req->ids[i];
    return ERR_OK;
}

err_code
http_page(const struct http_req *req, int64_t *after, int *limit,
          struct err *e)
{
    const char *a = http_query(req, "after"), *l = http_query(req, "limit");
    long v;

    *after = 0;
    *limit = HTTP_PAGE_DEFAULT;
    if (a != NULL) {
        if (util_parse_long(a, 0, INT64_MAX, &v, e) != ERR_OK)
            return err_wrap(e, ERR_INVALID, "after");
        *after = v;
    }
    if (l != NULL) {
        if (util_parse_long(l, 1, STORE_PAGE_MAX, &v, e) != ERR_OK)
            return err_wrap(e, ERR_INVALID, "limit");
        *limit = (int)v;
    }
    return ERR_OK;
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

/* Queue a body (raw: len bytes, malloc'ed, consumed; NULL: out of memory)
 * with status, content type, optional Content-Disposition and the common
 * headers. */
static enum MHD_Result
send_body(struct http_conn_ctx *ctx, int status, char *raw, size_t len,
          const char *ctype, const char *disposition, const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (raw == NULL) {
        static char oom[] = "{\"error\":{\"code\":\"out_of_memory\","
                            "\"message\":\"out of memory\"}}";
        status = 503;
        ctype = "application/json; charset=utf-8";
        disposition = NULL;
        resp = MHD_create_response_from_buffer(strlen(oom), oom,
                                               MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(len, raw,
                                               MHD_RESPMEM_MUST_FREE);
    }
    if (resp == NULL) {
        free(raw);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    if (disposition != NULL && disposition[0] != '\0')
        MHD_add_response_header(resp, "Content-Disposition", disposition);
    MHD_add_response_header(resp, "X-Request-Id", ctx->req.request_id);
    if (ctx->cacheable != NULL && ctx->cacheable->cache_control[0] != '\0')
        MHD_add_response_header(resp, "Cache-Control",
                                ctx->cacheable->cache_control);
    else
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (ctx->cacheable != NULL && ctx->cacheable->etag[0] != '\0')
        MHD_add_response_header(resp, "ETag", ctx->cacheable->etag);
    if (ctx->cacheable != NULL && ctx->cacheable->vary != NULL)
        MHD_add_response_header(resp, "Vary", ctx->cacheable->vary);
    if (ctx->cacheable != NULL && ctx->cacheable->csp != NULL) {
        MHD_add_response_header(resp, "Content-Security-Policy",
                                ctx->cacheable->csp);
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (allow != NULL && allow[0] != '\0')
        MHD_add_response_header(resp, "Allow", allow);
    if (status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate",
                                "Bearer realm=\"seald\"");
    if (ctx->retry_after > 0 &&
        (status == 429 || status == 401 || status == 503)) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", ctx->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (atomic_load(&ctx->srv->app->stopping))
        MHD_add_response_header(resp, "Connection", "close");
    ctx->status = status;
    ret = MHD_queue_response(ctx->mc, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Queue body (a JSON value, consumed) with status and the common headers. */
static enum MHD_Result
send_json(struct http_conn_ctx *ctx, int status, json_t *body,
          const char *allow)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

    json_decref(body);
    return send_body(ctx, status, text, text ? strlen(text) : 0,
                     "application/json; charset=utf-8", NULL, allow);
}

/* Errors that would leak internals get a generic message; the detail goes
 * to the log under the request id. */
static enum MHD_Result
send_error(struct http_conn_ctx *ctx, const struct err *e, const char *allow)
{
    const char *msg = e->msg;
    int status = err_http_status(e->code);

    /* the request line says why, in the server's words (the detail the
     * client does not get is the operator's to see) */
    ctx->answered_code = e->code;
    snprintf(ctx->reason, sizeof(ctx->reason), "%.160s", e->msg);
    util_utf8_repair(ctx->reason);
    if (e->code == ERR_DB_UNAVAILABLE) {
        /* libpq's words name hosts and ports: for the log only */
        log_event(LOG_WARN, "database_unavailable", "rid=%s msg=%s",
                  ctx->req.request_id, e->msg);
        msg = "the database cannot be reached; retry later";
    } else if (e->code == ERR_TSA_UNAVAILABLE) {
        /* the TSA's URL and curl's words: in the log (tsa_failed) only */
        msg = "no valid timestamp from the TSA (tsa.policy = required): "
              "nothing was signed; retry later";
    } else if (status >= 500 && e->code != ERR_UNAVAILABLE &&
               e->code != ERR_BUSY && e->code != ERR_HSM_UNAVAILABLE) {
        log_event(LOG_ERROR, "request_error", "rid=%s code=%s msg=%s",
                  ctx->req.request_id, err_name(e->code), e->msg);
        msg = "internal error; the server log has the details under this "
              "request id";
    }
    return send_json(ctx, status, sjson_error(e->code, msg,
                                             ctx->req.request_id), allow);
}

/* Record a refused request through the audit entry point.  An
 * unauthenticated caller's refusal is counted, to be written summarised
 * per address and window (audit.h): a flood of them must not cost a durable
 * write each.  A failure to write it is logged; the request is refused
 * either way. */
static void
audit_refusal(struct http_conn_ctx *ctx, const char *action,
              const struct err *why)
{
    struct audit_actor who = http_actor(&ctx->req);
    /* refused: the caller may not, or the server sheds load (503
     * server_busy); failed: the server could not (a database or token
     * failure answered 5xx) */
    struct audit_event ev = {action, "route", ctx->path,
                             err_http_status(why->code) >= 500 &&
                             why->code != ERR_BUSY
                                 ? AUDIT_FAILED : AUDIT_REFUSED,
                             why->msg, NULL};
    struct err e;

    if (!ctx->req.authenticated) {
        audit_refusal_count(&who, &ev);
        return;
    }
    err_clear(&e);
    if (ctx->req.db == NULL ||
        audit_append(ctx->req.db, &who, &ev, &e) != ERR_OK)
        log_event(LOG_ERROR, "audit_failed", "rid=%s action=%s msg=%s",
                  ctx->req.request_id, action, e.msg);
}

/* GnuTLS's verification status of a client certificate, in words (not
 * gnutls_certificate_verification_status_print's text, which changes with
 * the GnuTLS version), to follow auth.c's "client certificate not
 * trusted: ": the first that applies of the common reasons, or the
 * status bits. */
static void
cert_status_words(unsigned int status, char *out, size_t cap)
{
    static const struct { unsigned int bit; const char *words; } map[] = {
        {GNUTLS_CERT_SIGNER_NOT_FOUND, "its issuer is not in "
         "server.client_ca"},
        {GNUTLS_CERT_SIGNER_NOT_CA, "its issuer is not a CA"},
        {GNUTLS_CERT_EXPIRED, "it has expired"},
        {GNUTLS_CERT_NOT_ACTIVATED, "it is not yet valid"},
        {GNUTLS_CERT_REVOKED, "it is revoked"},
        {GNUTLS_CERT_SIGNATURE_FAILURE, "its signature does not verify"},
        {GNUTLS_CERT_INSECURE_ALGORITHM, "it is signed with an insecure "
         "algorithm"},
        {GNUTLS_CERT_UNEXPECTED_OWNER, "it names another owner"},
        {GNUTLS_CERT_PURPOSE_MISMATCH, "it is not meant for client "
         "authentication"},
    };
    size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (status & map[i].bit) {
            snprintf(out, cap, "%s", map[i].words);
            return;
        }
    snprintf(out, cap, "GnuTLS verification status 0x%x", status);
}

/* The client certificate of a TLS connection, for auth_identify(): what
 * GnuTLS verified against server.client_ca and the DNs as it prints them.
 * The strings in *a point into *subj and *iss, which the caller frees
 * with gnutls_free; *why is a static string or NULL. */
static void
cert_facts(struct http_conn_ctx *ctx, struct auth_attempt *a,
           gnutls_datum_t *subj, gnutls_datum_t *iss, char *why,
           size_t why_cap)
{
    const union MHD_ConnectionInfo *ci;
    const gnutls_datum_t *certs;
    gnutls_x509_crt_t crt = NULL;
    unsigned int status = 0, n = 0;

    ci = MHD_get_connection_info(ctx->mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL ||
        (certs = gnutls_certificate_get_peers(ci->tls_session, &n)) == NULL ||
        n == 0)
        return;
    a->cert_present = 1;
    if (gnutls_certificate_verify_peers2(ci->tls_session, &status) < 0) {
        snprintf(why, why_cap, "it cannot be verified");
        a->cert_error = why;
        return;
    }
    if (status != 0) {
        cert_status_words(status, why, why_cap);
        a->cert_error = why;
        return;
    }
    if (gnutls_x509_crt_init(&crt) < 0)
        return;
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0 &&
        gnutls_x509_crt_get_dn3(crt, subj, 0) >= 0 &&
        gnutls_x509_crt_get_issuer_dn3(crt, iss, 0) >= 0) {
        a->cert_subject = (const char *)subj->data;
        a->cert_issuer = (const char *)iss->data;
        a->cert_expires_ms =
            (int64_t)gnutls_x509_crt_get_expiration_time(crt) * 1000;
    }
    gnutls_x509_crt_deinit(crt);
}

/* ---- a 国密 gateway in front ([gateway], fwdcert.h) ----------------- */

/* The headers proxies use to pass on a client's certificate or its names
 * (nginx, Tengine/Tongsuo, HAProxy, Envoy, Apache, the clouds' balancers,
 * RFC 9440).  Only the configured gateway may send one, and of them seald
 * reads only gateway.client_cert_header (also refused from anyone else).
 * X-Forwarded-For and Forwarded are not here: from anyone but the gateway
 * they are ignored, never read. */
static const char *const forwarded_identity_headers[] = {
    "X-Client-Cert", "X-Client-Certificate", "X-Client-DN",
    "X-Client-Verify", "X-SSL-Client-Cert", "X-SSL-Cert",
    "X-SSL-Client-DN", "X-SSL-Client-S-DN", "X-SSL-Client-I-DN",
    "X-SSL-Client-Verify", "X-Forwarded-Client-Cert", "Ssl-Client-Cert",
    "Client-Cert", "Client-Cert-Chain", "X-ARR-ClientCert",
    "X-Amzn-Mtls-Clientcert", NULL};

/* Is the TLS peer the configured gateway: a client certificate GnuTLS
 * verified against server.client_ca whose subject and issuer DN, as
 * GnuTLS prints them (cert_facts), are gateway.subject and gateway.issuer
 * exactly?  0 when no gateway is configured. */
static int
peer_is_gateway(struct http_conn_ctx *ctx)
{
    const struct config *cfg = ctx->srv->app->cfg;
    gnutls_datum_t subj = {NULL, 0}, iss = {NULL, 0};
    struct auth_attempt a;
    char why[192];
    int match;

    if (cfg->gateway_subject[0] == '\0')
        return 0;
    memset(&a, 0, sizeof(a));
    cert_facts(ctx, &a, &subj, &iss, why, sizeof(why));
    match = a.cert_subject != NULL && a.cert_issuer != NULL &&
            strcmp(a.cert_subject, cfg->gateway_subject) == 0 &&
            strcmp(a.cert_issuer, cfg->gateway_issuer) == 0;
    gnutls_free(subj.data);
    gnutls_free(iss.data);
    return match;
}

/* MHD_get_connection_values over the headers: the value of the last line
 * of header l->name (a client may send several), and how many there are. */
struct last_header {
    const char *name;
    const char *value;
    int         lines;
};

static enum MHD_Result
last_header(void *cls, enum MHD_ValueKind kind, const char *key,
            const char *value)
{
    struct last_header *l = cls;

    (void)kind;
    if (value != NULL && strcasecmp(key, l->name) == 0) {
        l->value = value;
        l->lines++;
    }
    return MHD_YES;
}

/* From the gateway: the client's address is the last entry of
 * gateway.address_header (the one the gateway appended; entries before it
 * are the client's to write), as an IP address in its canonical text.
 * Without the header it stays the gateway's.  ERR_BAD_REQUEST when the
 * last entry is not an IP address. */
static err_code
gateway_address(struct http_conn_ctx *ctx, struct err *e)
{
    struct last_header l = {ctx->srv->app->cfg->gateway_address_header, NULL,
                            0};
    const char *v, *comma;
    char addr[HTTP_ADDR_MAX];
    unsigned char bin[sizeof(struct in6_addr)];
    size_t len;
    int af;

    snprintf(ctx->gateway_addr, sizeof(ctx->gateway_addr), "%s",
             ctx->req.client_addr);
    MHD_get_connection_values(ctx->mc, MHD_HEADER_KIND, last_header, &l);
    if ((v = l.value) == NULL)
        return ERR_OK;
    if ((comma = strrchr(v, ',')) != NULL)
        v = comma + 1;
    v += strspn(v, " \t");
    len = strcspn(v, " \t");
    if (len == 0 || len >= sizeof(addr) || v[len + strspn(v + len, " \t")]
        != '\0')
        return err_set(e, ERR_BAD_REQUEST, "the gateway's %s does not end "
                       "in an IP address", l.name);
    memcpy(addr, v, len);
    addr[len] = '\0';
    af = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
    if (inet_pton(af, addr, bin) != 1 ||
        inet_ntop(af, bin, ctx->req.client_addr,
                  (socklen_t)sizeof(ctx->req.client_addr)) == NULL)
        return err_set(e, ERR_BAD_REQUEST, "the gateway's %s does not end "
                       "in an IP address", l.name);
    return ERR_OK;
}

/* On the headers of every request to a route: is it from the gateway
 * (then its client's address is taken from it), and if not, does it carry
 * a forwarded identity all the same?  ERR_FORWARDED_IDENTITY naming the
 * header: only the gateway speaks for another. */
static err_code
forwarded_check(struct http_conn_ctx *ctx, struct err *e)
{
    const char *cert_header = ctx->srv->app->cfg->gateway_client_cert_header;
    const char *const *h;

    if ((ctx->from_gateway = peer_is_gateway(ctx))) {
        /* the gateway replaces a client's header of that name; two mean
         * it appended, and one of them may be the client's own */
        struct last_header l = {cert_header, NULL, 0};
        if (gateway_address(ctx, e) != ERR_OK)
            return e->code;
        MHD_get_connection_values(ctx->mc, MHD_HEADER_KIND, last_header, &l);
        if (l.lines > 1)
            return err_set(e, ERR_UNAUTHENTICATED, "forwarded client "
                           "certificate: %s came %d times; the gateway must "
                           "replace a client's own", cert_header, l.lines);
        return ERR_OK;
    }
    if (MHD_lookup_connection_value(ctx->mc, MHD_HEADER_KIND, cert_header)
        != NULL)
        return err_set(e, ERR_FORWARDED_IDENTITY, "forwarded identity header "
                       "%s refused: only the configured gateway "
                       "(gateway.subject) may send one", cert_header);
    for (h = forwarded_identity_headers; *h != NULL; h++)
        if (MHD_lookup_connection_value(ctx->mc, MHD_HEADER_KIND, *h)
            != NULL)
            return err_set(e, ERR_FORWARDED_IDENTITY, "forwarded identity "
                           "header %s refused: only the configured gateway "
                           "(gateway.subject) may send one", *h);
    return ERR_OK;
}

/* Who is calling?  auth_identify() decides, from the Authorization header
 * or the client certificate; refusals are counted by the caller. */
static err_code
identify(struct http_conn_ctx *ctx, struct err *e)
{
    struct http_req *req = &ctx->req;
    const struct config *cfg = req->app->cfg;
    struct auth_policy pol = {
        req->app->key, req->app->limiter,
        {cfg->lockout_window_seconds * 1000, cfg->address_lockout_threshold,
         cfg->lockout_seconds * 1000},
        {cfg->lockout_window_seconds * 1000, cfg->lockout_threshold,
         cfg->lockout_seconds * 1000},
        req->app->idtoken, cfg->identity_direct_login,
        cfg->identity_max_token_bytes, req->app->fwdcert};
    struct auth_attempt a;
    struct auth_result r;
    gnutls_datum_t subj = {NULL, 0}, iss = {NULL, 0};
    char why[192];
    err_code rc;

    memset(&a, 0, sizeof(a));
    a.client_addr = req->client_addr;
    a.authorization = MHD_lookup_connection_value(
        ctx->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    a.mtls = cfg->client_ca[0] != '\0';
    a.person_token = MHD_lookup_connection_value(ctx->mc, MHD_HEADER_KIND,
                                                 HTTP_PERSON_TOKEN_HEADER);
    a.now_s = util_now_ms() / 1000;
    a.gateway = ctx->from_gateway;
    if (a.gateway)   /* the bytes only: auth_identify checks them */
        a.forwarded_cert = MHD_lookup_connection_value(
            ctx->mc, MHD_HEADER_KIND, cfg->gateway_client_cert_header);
    else if (a.authorization == NULL && a.mtls)
        cert_facts(ctx, &a, &subj, &iss, why, sizeof(why));
    rc = auth_identify(req->db, &pol, &a, &r, e);
    gnutls_free(subj.data);
    gnutls_free(iss.data);
    req->principal = r.principal;
    req->authenticated = r.authenticated;
    req->via_account_id = r.via_account_id;
    if (r.retry_after > 0)
        ctx->retry_after = r.retry_after;
    util_wipe(&r, sizeof(r));
    return rc;
}

/* Authenticate and authorise per route->perm; refusals are audited by the
 * dispatcher. */
static err_code
authenticate(struct http_conn_ctx *ctx, const struct route *route,
             struct err *e)
{
    struct http_req *req = &ctx->req;
    err_code rc;

    if (route->perm == PERM_NONE)
        return ERR_OK;
    if (ctx->srv->routes->anonymous != NULL &&
        MHD_lookup_connection_value(ctx->mc, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_AUTHORIZATION) == NULL &&
        ctx->srv->routes->anonymous(req, route))
        return ERR_OK;
    if ((rc = identify(ctx, e)) != ERR_OK)
        return rc;
    if (req->principal.initial && !route->any_credential)
        return err_set(e, ERR_FORBIDDEN, "this is an initial credential: "
                       "replace it first with POST /api/v1/account/"
                       "credential");
    if (req->principal.held && !route->any_credential)
        return err_set(e, ERR_FORBIDDEN, "this account's credential was "
                       "reset; it holds no role until a security "
                       "administrator re-confirms it (SOD-7)");
    if (!authz_holds(&req->principal, route->perm))
        return err_set(e, ERR_FORBIDDEN, "permission %s is needed",
                       rbac_perm_name(route->perm));
    return ERR_OK;
}

/* ---- request bodies ---------------------------------------------------
 *
 * A body the route and the credential have let through is held in memory
 * when it is at most server.body_spool_bytes: its bytes are reserved from
 * the server's budget (server.body_budget_bytes) before they are allocated,
 * all of a declared Content-Length at once, a chunked body as it grows.
 * A larger body goes to an unnamed temporary file beside the database (the
 * document ends up there anyway) and is mapped read-only when complete. */

/* Reserve n bytes of the body budget; 0 if that would pass it. */
static int
budget_take(struct http_server *srv, size_t n)
{
    long max = srv->app->cfg->body_budget_bytes;
    long cur = atomic_load(&srv->body_bytes);

    do {
        if ((size_t)(max - cur) < n)
            return 0;
    } while (!atomic_compare_exchange_weak(&srv->body_bytes, &cur,
                                           cur + (long)n));
    return 1;
}

static void
budget_give(struct http_server *srv, size_t n)
{
    atomic_fetch_sub(&srv->body_bytes, (long)n);
}

/* Free the body, wherever it is, and give its reservation back. */
static void
body_free(struct http_conn_ctx *ctx)
{
    free(ctx->body);
    budget_give(ctx->srv, ctx->body_cap);
    ctx->body = NULL;
    ctx->body_len = ctx->body_cap = 0;
    if (ctx->map != NULL)
        munmap(ctx->map, ctx->map_len);
    ctx->map = NULL;
    if (ctx->spool_fd >= 0)
        close(ctx->spool_fd);
    ctx->spool_fd = -1;
}

/* Stop taking the body: drop what came and answer why (code) at its end. */
static void
body_drop(struct http_conn_ctx *ctx, err_code code)
{
    ctx->body_refused = code;
    body_free(ctx);
}

/* The memory budget would be passed: 503 server_busy, retry shortly. */
static err_code
busy(struct http_conn_ctx *ctx, struct err *e)
{
    ctx->retry_after = HTTP_BUSY_RETRY_S;
    return err_set(e, ERR_BUSY, "the server holds as many request bodies in "
                   "memory as it may (server.body_budget_bytes); retry "
                   "shortly");
}

/* A buffer of cap bytes for the body in memory, reserved from the budget;
 * what is there already is kept. */
static err_code
body_grow(struct http_conn_ctx *ctx, size_t cap, struct err *e)
{
    char *p;

    if (!budget_take(ctx->srv, cap - ctx->body_cap))
        return busy(ctx, e);
    if ((p = realloc(ctx->body, cap)) == NULL) {
        budget_give(ctx->srv, cap - ctx->body_cap);
        return err_set(e, ERR_NOMEM, "out of memory for the request body");
    }
    ctx->body = p;
    ctx->body_cap = cap;
    return ERR_OK;
}

static int
write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Move the body to an unnamed temporary file in srv->spool_dir (O_TMPFILE;
 * where the file system has none, a named one removed at once), with what
 * arrived so far; the memory goes back to the budget. */
static err_code
spool_open(struct http_conn_ctx *ctx, struct err *e)
{
    const char *dir = ctx->srv->spool_dir;
    char path[PATH_MAX];
    int fd;

    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (size_t)snprintf(path, sizeof(path), "%s/.seald-body-"
                                   "XXXXXX", dir) < sizeof(path) &&
        (fd = mkostemp(path, O_CLOEXEC)) >= 0)
        unlink(path);
    if (fd < 0)
        return err_set(e, ERR_IO, "cannot spool the request body in %s: %s",
                       dir, strerror(errno));
    if (ctx->body_len > 0 && write_all(fd, ctx->body, ctx->body_len) != 0) {
        close(fd);
        return err_set(e, ERR_IO, "cannot spool the request body: %s",
                       strerror(errno));
    }
    free(ctx->body);
    budget_give(ctx->srv, ctx->body_cap);
    ctx->body = NULL;
    ctx->body_cap = 0;
    ctx->spool_fd = fd;
    return ERR_OK;
}

/* Prepare for a body of declared bytes (-1: chunked, length unknown), on
 * the headers: a known small body gets its whole buffer (and reservation)
 * now, so a 503 comes before the body does. */
static err_code
body_start(struct http_conn_ctx *ctx, long declared, struct err *e)
{
    if (declared == 0)
        return ERR_OK;
    if (declared > ctx->srv->app->cfg->body_spool_bytes)
        return spool_open(ctx, e);
    if (declared > 0)
        return body_grow(ctx, (size_t)declared + 1, e);
    return ERR_OK;
}

/* The largest body this request may send: server.max_body_bytes, or less
 * when the route's admit hook said so (req.body_max). */
static long
body_limit(const struct http_conn_ctx *ctx)
{
    long max = ctx->srv->app->cfg->max_body_bytes;

    return ctx->req.body_max > 0 && ctx->req.body_max < max
               ? ctx->req.body_max : max;
}

/* Take a piece of the body: hashed if it is a document, kept in memory or
 * in the spool file.  Past a limit the rest is read but dropped, and the
 * answer (413, 503) comes when the body is complete. */
static void
take_body(struct http_conn_ctx *ctx, const char *data, size_t len)
{
    const struct config *cfg = ctx->srv->app->cfg;
    size_t need = ctx->body_len + len;
    struct err e;

    if (ctx->body_refused != ERR_OK)
        return;
    if (ctx->sm3 != NULL && EVP_DigestUpdate(ctx->sm3, data, len) != 1) {
        body_drop(ctx, ERR_CRYPTO);   /* cannot happen; refuse, not lie */
        return;
    }
    if (need > (size_t)body_limit(ctx)) {
        body_drop(ctx, ERR_TOO_LARGE);
        return;
    }
    if (ctx->spool_fd < 0 && need > (size_t)cfg->body_spool_bytes &&
        spool_open(ctx, &e) != ERR_OK) {
        log_event(LOG_ERROR, "body_spool", "rid=%s msg=%s",
                  ctx->req.request_id, e.msg);
        body_drop(ctx, ERR_IO);
        return;
    }
    if (ctx->spool_fd >= 0) {
        if (write_all(ctx->spool_fd, data, len) != 0)
            body_drop(ctx, ERR_IO);
        else
            ctx->body_len = need;
        return;
    }
    if (need + 1 > ctx->body_cap) {
        size_t cap = ctx->body_cap ? ctx->body_cap : HTTP_BODY_CHUNK_START;
        while (cap < need + 1)
            cap *= 2;
        if (cap > (size_t)cfg->body_spool_bytes + 1)
            cap = (size_t)cfg->body_spool_bytes + 1;
        if (body_grow(ctx, cap, &e) != ERR_OK) {
            body_drop(ctx, e.code);
            return;
        }
    }
    memcpy(ctx->body + ctx->body_len, data, len);
    ctx->body_len = need;
    ctx->body[need] = '\0';
}

/* The complete body for the handler: req->body and req->body_len.  A
 * spooled body is mapped read-only, one byte longer than the file was
 * (ftruncate adds a zero), so it is NUL-terminated like one in memory. */
static err_code
body_finish(struct http_conn_ctx *ctx, struct err *e)
{
    switch (ctx->body_refused) {
    case ERR_OK:
        break;
    case ERR_BUSY:
        return busy(ctx, e);
    case ERR_TOO_LARGE:
        return err_set(e, ERR_TOO_LARGE, "request body exceeds %ld bytes",
                       body_limit(ctx));
    case ERR_NOMEM:
        return err_set(e, ERR_NOMEM, "out of memory for the request body");
    default:
        return err_set(e, ctx->body_refused, "the request body could not "
                       "be kept; the server log has the details");
    }
    if (ctx->spool_fd >= 0) {
        ctx->map_len = ctx->body_len + 1;
        if (ftruncate(ctx->spool_fd, (off_t)ctx->map_len) != 0 ||
            (ctx->map = mmap(NULL, ctx->map_len, PROT_READ, MAP_PRIVATE,
                             ctx->spool_fd, 0)) == MAP_FAILED) {
            ctx->map = NULL;
            return err_set(e, ERR_IO, "cannot map the spooled request "
                           "body: %s", strerror(errno));
        }
        ctx->req.body = ctx->map;
    } else {
        ctx->req.body = ctx->body;
    }
    ctx->req.body_len = ctx->body_len;
    return ERR_OK;
}

/* A non-empty body must be a JSON object sent as application/json; it is
 * parsed here once, so handlers only read req->json.  A multipart/form-data
 * body is left to the handler (req->json stays NULL). */
static err_code
parse_json_body(struct http_conn_ctx *ctx, struct err *e)
{
    const char *ct;

    if (ctx->req.body_len == 0)
        return ERR_OK;
    ct = MHD_lookup_connection_value(ctx->mc, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_TYPE);
    ctx->req.content_type = ct;
    if (multipart_is_form(ct))
        return ERR_OK;
    if (ctx->sm3 != NULL) {
        unsigned int n = 0;
        if (EVP_DigestFinal_ex(ctx->sm3, ctx->req.body_sm3, &n) != 1 ||
            n != sizeof(ctx->req.body_sm3))
            return err_set(e, ERR_CRYPTO, "SM3 of the body failed");
        ctx->req.body_hashed = 1;
        return ERR_OK;
    }
    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
        (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' '))
        return err_set(e, ERR_UNSUPPORTED, "request body must be sent as "
                       "Content-Type: application/json");
    return sjson_parse_body(ctx->req.body, ctx->req.body_len, &ctx->req.json,
                           e);
}

/* GET and HEAD read; everything else may change something. */
static int
method_reads(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* Every refused attempt is audited: any failure of a call that could change
 * something (not GET or HEAD), and any authentication, authorisation or
 * rate-limit refusal, and oversized headers (an attack on the edge, whatever
 * the method). */
static int
refusal_audited(const struct http_conn_ctx *ctx, err_code code)
{
    return !method_reads(ctx->req.method) ||
           code == ERR_UNAUTHENTICATED || code == ERR_FORBIDDEN ||
           code == ERR_RATE_LIMITED || code == ERR_HEADERS_TOO_LARGE ||
           code == ERR_TOKEN_INVALID || code == ERR_TOKEN_EXPIRED ||
           code == ERR_FORWARDED_IDENTITY;
}

/* The tarpit's release function: the held request's time is up (or the
 * server stops).  libmicrohttpd then calls on_request again, which sends
 * the answer.  ctx lives until on_completed, which cannot run while the
 * connection is suspended. */
static void
tarpit_release(void *item)
{
    struct http_conn_ctx *ctx = item;

    MHD_resume_connection(ctx->mc);
}

/* Hold the refusal e of an unauthenticated caller (401, 429 for its
 * address, or 503 server_busy: a public service's shared budget is spent)
 * in the tarpit instead of answering now (tarpit.h says why).  1: held,
 * the answer goes out on resumption; 0: answer now. */
static int
hold_refusal(struct http_conn_ctx *ctx, const struct err *e)
{
    if (ctx->srv->tarpit == NULL || ctx->req.authenticated ||
        (e->code != ERR_UNAUTHENTICATED && e->code != ERR_RATE_LIMITED &&
         e->code != ERR_BUSY && e->code != ERR_TOKEN_INVALID &&
         e->code != ERR_TOKEN_EXPIRED && e->code != ERR_FORWARDED_IDENTITY))
        return 0;
    ctx->held = 1;
    ctx->held_err = *e;
    MHD_suspend_connection(ctx->mc);
    if (tarpit_hold(ctx->srv->tarpit, ctx, NULL) != ERR_OK)
        MHD_resume_connection(ctx->mc);     /* full or stopping: at once */
    return 1;
}

static enum MHD_Result
refuse(struct http_conn_ctx *ctx, const struct route *route,
       const struct err *e, const char *allow)
{
    if (refusal_audited(ctx, e->code))
        audit_refusal(ctx, route ? route->action : "http.request", e);
    if (allow == NULL && hold_refusal(ctx, e))
        return MHD_YES;
    return send_error(ctx, e, allow);
}

/* The body is complete: hand the request to its route's handler (the route
 * and the caller were checked on the headers, in begin_request). */
static enum MHD_Result
dispatch(struct http_conn_ctx *ctx)
{
    struct http_req *req = &ctx->req;
    const struct route *route = ctx->route;
    struct http_resp resp;
    struct err e;
    int64_t cpu0;
    err_code rc;

    memset(&resp, 0, sizeof(resp));
    err_clear(&e);
    if (ctx->deferred.code != ERR_OK)
        return refuse(ctx, route, &ctx->deferred, NULL);
    cpu0 = cpubudget_thread_ns();
    if (body_finish(ctx, &e) != ERR_OK || parse_json_body(ctx, &e) != ERR_OK)
        return refuse(ctx, route, &e, NULL);
    req->prep_cpu_ns = cpubudget_thread_ns() - cpu0;
    if ((rc = route->handler(req, &resp, &e)) != ERR_OK) {
        json_decref(resp.data);
        free(resp.raw);
        if (resp.retry_after > 0)
            ctx->retry_after = resp.retry_after;
        /* nothing to roll back: every change ran as a unit of its own,
         * which rolled back on failure (unit.h) */
        return refuse(ctx, route, &e, NULL);
    }
    if (resp.raw != NULL) {
        enum MHD_Result ret;

        json_decref(resp.data);
        ctx->cacheable = &resp;
        ret = send_body(ctx, resp.status ? resp.status : 200, resp.raw,
                        resp.raw_len, resp.content_type
                            ? resp.content_type : "application/octet-stream",
                        resp.disposition, NULL);
        ctx->cacheable = NULL;
        return ret;
    }
    return send_json(ctx, resp.status ? resp.status : 200,
                     sjson_envelope(resp.data, req->request_id), NULL);
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

/* MHD_get_connection_values over the query: *cls (an int, 1 before) gets 0
 * and the walk stops at the first parameter whose name or value, decoded,
 * is not UTF-8.  Such a value never reaches a handler: compared with a
 * TEXT column, SQLite found no row where PostgreSQL failed the statement
 * (invalid byte sequence for encoding UTF8, 503 database_error). */
static enum MHD_Result
query_utf8(void *cls, enum MHD_ValueKind kind, const char *key,
           const char *value)
{
    (void)kind;
    if (util_utf8_valid(key) && (value == NULL || util_utf8_valid(value)))
        return MHD_YES;
    *(int *)cls = 0;
    return MHD_NO;
}

/* A new request: its id, address and start, counted in flight. */
static struct http_conn_ctx *
ctx_new(struct http_server *srv, struct MHD_Connection *mc)
{
    struct http_conn_ctx *ctx;
    uint8_t rid[HTTP_REQUEST_ID_LEN / 2];

    if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
        return NULL;
    ctx->srv = srv;
    ctx->mc = mc;
    ctx->spool_fd = -1;
    ctx->start_ms = util_mono_ms();
    ctx->start_us = metrics_now_us();
    ctx->req.app = srv->app;
    ctx->req.conn = ctx;
    ctx->req.path = ctx->path;
    if (util_random(rid, sizeof(rid), NULL) != ERR_OK)
        memset(rid, 0, sizeof(rid));
    util_hex_encode(rid, sizeof(rid), ctx->req.request_id);
    client_address(mc, ctx->req.client_addr, sizeof(ctx->req.client_addr));
    atomic_fetch_add(&srv->inflight, 1);
    return ctx;
}

/* libmicrohttpd's URI log callback: the request line has arrived (the
 * headers have not).  The request gets its context here rather than on
 * the headers so that a request libmicrohttpd refuses by itself (headers
 * overflowing the connection's memory) still reaches on_completed, to be
 * logged and audited.  uri is the target as sent: "%00" is looked for
 * here, before it is decoded into a NUL that would cut the path short. */
static void *
uri_log(void *cls, const char *uri, struct MHD_Connection *mc)
{
    struct http_conn_ctx *ctx = ctx_new(cls, mc);
    const char *p;

    if (ctx == NULL)
        return NULL;
    if (uri == NULL)            /* 0.9.75 refuses a request line without */
        uri = "";               /* a target before this; stay safe */
    ctx->raw_uri = uri;
    ctx->raw_uri_len = strlen(uri);
    for (p = uri; (p = strchr(p, '%')) != NULL; p++)
        if (p[1] == '0' && p[2] == '0')
            ctx->target_nul = 1;
    snprintf(ctx->path, sizeof(ctx->path), "%.*s", (int)strcspn(uri, "?"),
             uri);
    return ctx;
}

/* Does the request target hold a NUL byte?  Decoded from "%00" it would cut
 * the path or a query value short ("/organisations/1%00" would read
 * organisation 1); sent raw it does the same to the URL libmicrohttpd
 * hands over.  The raw one shows as a URL shorter than the target seen in
 * uri_log: libmicrohttpd 0.9.75 parses the request line in place, so the
 * target and the version stay in one buffer ("<target>\0<version>"), and
 * the target ran to just before the version.  The check is made only when
 * url is the very pointer uri_log saw, the layout it relies on. */
static int
target_has_nul(const struct http_conn_ctx *ctx, const char *url,
               const char *version)
{
    uintptr_t u = (uintptr_t)url, v = (uintptr_t)version;

    if (ctx->target_nul)
        return 1;
    return ctx->raw_uri == url && version != NULL && version[0] != '\0' &&
           v > u && v - u != ctx->raw_uri_len + 1;
}

/* Does the request carry a body (a Content-Length other than 0, or a
 * transfer coding)?  *declared gets its length, -1 when chunked; 0 if none.
 * A Content-Length that is no number or over max_body_bytes is reported as
 * max_body_bytes + 1 (refused with 413 by check_request). */
static int
body_expected(struct http_conn_ctx *ctx, long *declared)
{
    const long max = ctx->srv->app->cfg->max_body_bytes;
    const char *clen = MHD_lookup_connection_value(
        ctx->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

    *declared = 0;
    if (clen != NULL) {
        if (util_parse_long(clen, 0, max, declared, NULL) != ERR_OK)
            *declared = max + 1;
    } else if (MHD_lookup_connection_value(ctx->mc, MHD_HEADER_KIND,
                   MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL) {
        *declared = -1;
    }
    return *declared != 0;
}

/* Check all that can be checked before the body: the target, the headers,
 * the route, the caller (authentication and authorisation), the query (UTF-8),
 * the body's declared size and room for it.  1: the request goes on; 0: it was
 * answered, and *ret is what to return to libmicrohttpd. */
static int
check_request(struct http_conn_ctx *ctx, enum MHD_Result *ret)
{
    const struct config *cfg = ctx->srv->app->cfg;
    struct header_sum hs = {0};
    long declared = 0;
    char allow[64];
    struct err e;
    int utf8 = 1;

    err_clear(&e);
    if (ctx->target_nul) {
        err_set(&e, ERR_BAD_REQUEST, "the request target holds a NUL byte");
        goto refused;
    }
    MHD_get_connection_values(ctx->mc, MHD_HEADER_KIND, sum_headers, &hs);
    if (hs.total > (size_t)cfg->max_header_bytes) {
        err_set(&e, ERR_HEADERS_TOO_LARGE, "request headers exceed %ld "
                "bytes", cfg->max_header_bytes);
        goto refused;
    }
    if (router_match(ctx->srv->routes, ctx->req.method, ctx->path,
                     &ctx->req, &ctx->route, allow, sizeof(allow), &e)
        != ERR_OK) {
        *ret = refuse(ctx, NULL, &e, e.code == ERR_METHOD ? allow : NULL);
        return 0;
    }
    ctx->req.perm = ctx->route->perm;      /* the audit's acting role */
    if (forwarded_check(ctx, &e) != ERR_OK)
        goto refused;
    if (ctx->req.db == NULL && ctx->route->perm != PERM_NONE) {
        err_set(&e, ERR_DB_UNAVAILABLE, "no database connection");
        *ret = send_error(ctx, &e, NULL);
        return 0;
    }
    if (authenticate(ctx, ctx->route, &e) != ERR_OK)
        goto refused;
    if (ctx->req.param_error != NULL) {
        err_set(&e, ERR_NOT_FOUND, "%s", ctx->req.param_error);
        goto refused;
    }
    MHD_get_connection_values(ctx->mc, MHD_GET_ARGUMENT_KIND, query_utf8,
                              &utf8);
    if (!utf8) {
        err_set(&e, ERR_BAD_REQUEST, "query parameters must be UTF-8");
        goto refused;
    }
    if (ctx->srv->routes->admit != NULL &&
        ctx->srv->routes->admit(&ctx->req, ctx->route, &ctx->retry_after,
                                &e) != ERR_OK) {
        if (!body_expected(ctx, &declared) || declared > body_limit(ctx))
            goto refused;
        /* drop the body as it comes, answer at its end (ctx->deferred) */
        ctx->deferred = e;
        ctx->body_refused = e.code;
        ctx->checked = 1;
        return 1;
    }
    body_expected(ctx, &declared);
    if (declared > body_limit(ctx)) {
        err_set(&e, ERR_TOO_LARGE, "request body exceeds %ld bytes",
                body_limit(ctx));
        goto refused;
    }
    if (body_start(ctx, declared, &e) != ERR_OK)
        goto refused;
    if (raw_body_type(MHD_lookup_connection_value(
            ctx->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        if ((ctx->sm3 = EVP_MD_CTX_new()) == NULL ||
            EVP_DigestInit_ex(ctx->sm3, EVP_sm3(), NULL) != 1) {
            err_set(&e, ERR_NOMEM, "cannot hash the body");
            *ret = send_error(ctx, &e, NULL);
            return 0;
        }
    }
    ctx->checked = 1;
    return 1;
refused:
    *ret = refuse(ctx, ctx->route, &e, NULL);
    return 0;
}

/* The headers are complete (the first call for a request).  A request
 * with a body is checked now, before a byte of the body is accepted: when
 * it is refused here, libmicrohttpd reads no body and closes the
 * connection.  One without a body is checked on the next call, when
 * libmicrohttpd has the whole request, so that a refusal keeps the
 * connection open for the next request. */
static enum MHD_Result
begin_request(struct http_conn_ctx *ctx, const char *url, const char *method,
              const char *version)
{
    struct http_server *srv = ctx->srv;
    enum MHD_Result ret = MHD_YES;
    long declared;
    struct err e;

    ctx->begun = 1;
    ctx->req.method = method;
    /* this thread's database connection, for the whole request (a
     * connection stays on one thread of the pool) */
    if (system_conn(srv->app, &ctx->req.db, NULL) != ERR_OK)
        ctx->req.db = NULL;
    ctx->trips0 = system_db_round_trips(ctx->req.db);
    if (strlen(url) >= sizeof(ctx->path)) {
        snprintf(ctx->path, sizeof(ctx->path), "(too long)");
        err_set(&e, ERR_BAD_REQUEST, "path longer than %d bytes",
                HTTP_PATH_MAX - 1);
        return send_error(ctx, &e, NULL);
    }
    memcpy(ctx->path, url, strlen(url) + 1);
    ctx->target_nul |= target_has_nul(ctx, url, version);
    if (body_expected(ctx, &declared))
        check_request(ctx, &ret);
    return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *mc, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **con_cls)
{
    struct http_conn_ctx *ctx = *con_cls;
    enum MHD_Result ret;

    if (ctx == NULL) {            /* uri_log ran out of memory */
        if ((ctx = ctx_new(cls, mc)) == NULL)
            return MHD_NO;
        *con_cls = ctx;
    }
    if (!ctx->begun)
        return begin_request(ctx, url, method, version);
    if (ctx->held) {                /* back from the tarpit: answer */
        ctx->held = 0;
        *upload_data_size = 0;
        return send_error(ctx, &ctx->held_err, NULL);
    }
    if (ctx->status != 0) {         /* answered early; drop the body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        take_body(ctx, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!ctx->checked && !check_request(ctx, &ret))
        return ret;
    return dispatch(ctx);
}

/* A request that never reached on_request was answered (or dropped) by
 * libmicrohttpd itself.  Its answer to headers that overflow the
 * connection's memory is a fixed HTML page with status 431 (0.9.75 has no
 * way to replace it: the page is a constant in connection.c, queued before
 * any application callback sees the request); the refusal is audited here
 * so that it is recorded all the same. */
static void
note_mhd_answer(struct http_conn_ctx *ctx)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(ctx->mc, MHD_CONNECTION_INFO_HTTP_STATUS);
    struct err e;

    ctx->status = ci != NULL ? (int)ci->http_status : 0;
    if (ctx->status != MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE)
        return;
    if (system_conn(ctx->srv->app, &ctx->req.db, NULL) != ERR_OK)
        ctx->req.db = NULL;
    err_set(&e, ERR_HEADERS_TOO_LARGE, "request headers overflow the "
            "connection's memory (twice server.max_header_bytes and "
            "more); answered by libmicrohttpd");
    ctx->answered_code = e.code;
    snprintf(ctx->reason, sizeof(ctx->reason), "%.160s", e.msg);
    util_utf8_repair(ctx->reason);
    audit_refusal(ctx, "http.request", &e);
}

/* The request line: one per request, at info (warn for a 5xx, which the
 * operator should look at).  Literal formats only, never a "%s" suffix:
 * every %s is a value, which the log quotes and escapes (the path is the
 * client's).  db_trips: the round trips to a database server this
 * request's thread made meanwhile (a group commit's leader counts its
 * group's).  An error answer adds code= (the stable name of err.c, as the
 * client got it) and reason= (the server's message, cut short). */
static void
log_request(struct http_conn_ctx *ctx, enum MHD_RequestTerminationCode toe)
{
    enum log_level lvl = ctx->status >= 500 ? LOG_WARN : LOG_INFO;
    long long dur = (long long)(util_mono_ms() - ctx->start_ms);
    long long account = (long long)(ctx->req.authenticated
                                    ? ctx->req.principal.account_id : 0);
    unsigned long long trips = (unsigned long long)(ctx->begun
        ? system_db_round_trips(ctx->req.db) - ctx->trips0 : 0);
    const char *method = ctx->req.method ? ctx->req.method : "-";
    int aborted = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;

    /* through the gateway, client= is the forwarded address and via= the
     * gateway's, which carried it (a key of its own: log_event quotes a
     * value, not a format's literal text) */
    if (ctx->answered_code != ERR_OK && ctx->from_gateway)
        log_event(lvl, "request",
                  "rid=%s method=%s path=%s status=%d dur_ms=%lld "
                  "client=%s via=%s account=%lld db_trips=%llu aborted=%d "
                  "code=%s reason=%s",
                  ctx->req.request_id, method, ctx->path, ctx->status, dur,
                  ctx->req.client_addr, ctx->gateway_addr, account, trips,
                  aborted, err_name(ctx->answered_code), ctx->reason);
    else if (ctx->answered_code != ERR_OK)
        log_event(lvl, "request",
                  "rid=%s method=%s path=%s status=%d dur_ms=%lld "
                  "client=%s account=%lld db_trips=%llu aborted=%d "
                  "code=%s reason=%s",
                  ctx->req.request_id, method, ctx->path, ctx->status, dur,
                  ctx->req.client_addr, account, trips, aborted,
                  err_name(ctx->answered_code), ctx->reason);
    else if (ctx->from_gateway)
        log_event(lvl, "request",
                  "rid=%s method=%s path=%s status=%d dur_ms=%lld "
                  "client=%s via=%s account=%lld db_trips=%llu aborted=%d",
                  ctx->req.request_id, method, ctx->path, ctx->status, dur,
                  ctx->req.client_addr, ctx->gateway_addr, account, trips,
                  aborted);
    else
        log_event(lvl, "request",
                  "rid=%s method=%s path=%s status=%d dur_ms=%lld "
                  "client=%s account=%lld db_trips=%llu aborted=%d",
                  ctx->req.request_id, method, ctx->path, ctx->status, dur,
                  ctx->req.client_addr, account, trips, aborted);
}

static void
on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_conn_ctx *ctx = *con_cls;

    if (ctx == NULL)
        return;
    if (!ctx->begun)
        note_mhd_answer(ctx);
    metrics_http(ctx->route != NULL
                     ? (size_t)(ctx->route - srv->routes->rows) : (size_t)-1,
                 ctx->status, metrics_now_us() - ctx->start_us);
    log_request(ctx, toe);
    util_wipe(&ctx->req.principal, sizeof(ctx->req.principal));
    json_decref(ctx->req.json);
    EVP_MD_CTX_free(ctx->sm3);
    body_free(ctx);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

/* ---- TLS handshake failures, in words ----------------------------------
 *
 * libmicrohttpd 0.9.75 drops GnuTLS's error code of a failed handshake
 * and logs one fixed text for all of them ("received handshake message
 * out of context"); the session is gone by the time it says the
 * connection closed.  What the operator needs is why, so each TLS
 * connection gets a small watch when it opens: GnuTLS's handshake hook
 * notes how far the handshake got (a ClientHello received, our
 * ServerHello sent, the client's Finished received).  (The client's alert
 * would say more; GnuTLS's alert read hook, gnutls_alert_set_read_function,
 * did not see it on this path when tried.)  When a connection closes with its
 * handshake unfinished, that says which of the common cases it was: not
 * TLS at all, nothing in common to negotiate, a client that stopped
 * after our certificate (which most often means it does not trust it),
 * one that timed out. */

struct tls_watch {
    int64_t opened_ms;
    int     hello_in;        /* the client's hello arrived       */
    int     hello_out;       /* ours went out                    */
    int     finished;        /* the client's Finished arrived    */
};

/* The watch of session's connection: libmicrohttpd keeps its connection
 * as the session's pointer, and the watch is that connection's socket
 * context.  NULL if either is missing. */
static struct tls_watch *
tls_watch_of(gnutls_session_t session)
{
    struct MHD_Connection *mc = gnutls_session_get_ptr(session);
    const union MHD_ConnectionInfo *ci;

    if (mc == NULL || (ci = MHD_get_connection_info(
                           mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT)) == NULL)
        return NULL;
    return ci->socket_context;
}

static int
tls_hook(gnutls_session_t session, unsigned int htype, unsigned when,
         unsigned int incoming, const gnutls_datum_t *msg)
{
    struct tls_watch *w = tls_watch_of(session);

    (void)when;
    (void)msg;
    if (w == NULL)
        return 0;
    if (incoming && (htype == GNUTLS_HANDSHAKE_CLIENT_HELLO ||
                     htype == GNUTLS_HANDSHAKE_CLIENT_HELLO_V2))
        w->hello_in = 1;
    else if (!incoming && htype == GNUTLS_HANDSHAKE_SERVER_HELLO)
        w->hello_out = 1;
    else if (incoming && htype == GNUTLS_HANDSHAKE_FINISHED)
        w->finished = 1;
    return 0;
}

/* Why the handshake watched by w failed, in words, into out (cap bytes);
 * 0 if it did not fail (it finished).  open_ms: how long the connection
 * was open; timeout_s: server.connection_timeout. */
static int
tls_failure_words(const struct tls_watch *w, int64_t open_ms,
                  long timeout_s, char *out, size_t cap)
{
    if (w->finished)
        return 0;
    if (timeout_s > 0 && open_ms + 500 >= timeout_s * 1000)
        snprintf(out, cap, "the client did not complete the TLS handshake "
                 "within server.connection_timeout (%ld s)", timeout_s);
    else if (!w->hello_in)
        snprintf(out, cap, "not TLS: no TLS hello came from the client (a "
                 "plain-HTTP client, a port probe, or a connection closed "
                 "at once)");
    else if (!w->hello_out)
        snprintf(out, cap, "the client offered no common TLS version or "
                 "cipher suite (the server takes TLS 1.2 and 1.3, SECURE128 "
                 "ciphers)");
    else
        snprintf(out, cap, "the client gave up the TLS handshake after the "
                 "server's certificate (most often: the client does not "
                 "trust it; see server.tls_cert)");
    return 1;
}

/* libmicrohttpd's connection notifications.  On open, a TLS connection
 * gets its watch as its socket context, found again from the GnuTLS
 * session by tls_watch_of (only where the session's pointer is the
 * connection, as libmicrohttpd 0.9.75 sets it; else no watch);
 * on close, an unfinished handshake is logged in words and the watch is
 * freed.  A watch that cannot be allocated only costs the words. */
static void
on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
    struct http_server *srv = cls;
    struct tls_watch *w = *socket_context;
    const union MHD_ConnectionInfo *ci;
    char why[192], addr[HTTP_ADDR_MAX];

    if (srv->app->cfg->plain_http)
        return;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (ci == NULL || ci->tls_session == NULL ||
            gnutls_session_get_ptr(ci->tls_session) != (void *)mc ||
            (w = calloc(1, sizeof(*w))) == NULL)
            return;
        w->opened_ms = util_mono_ms();
        gnutls_handshake_set_hook_function(ci->tls_session,
                                           GNUTLS_HANDSHAKE_ANY,
                                           GNUTLS_HOOK_BOTH, tls_hook);
        *socket_context = w;
        return;
    }
    if (w == NULL)
        return;
    *socket_context = NULL;
    if (tls_failure_words(w, util_mono_ms() - w->opened_ms,
                          srv->app->cfg->connection_timeout, why,
                          sizeof(why))) {
        client_address(mc, addr, sizeof(addr));
        log_event(LOG_WARN, "tls_handshake_failed", "client=%s reason=%s",
                  addr, why);
    }
    free(w);
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
    /* its one text for every failed handshake: on_connection says why */
    log_event(strstr(msg, "handshake message out of context") != NULL
                  ? LOG_DEBUG : LOG_WARN, "httpd", "msg=%s", msg);
}

/* Bodies too large for memory are spooled beside the database, in the
 * directory of its file (out, cap bytes), or in the configuration's
 * directory when the database is a server. */
static void
spool_dir(const struct config *cfg, char *out, size_t cap)
{
    const char *db_path = config_db_file(cfg), *slash;

    if (db_path == NULL) {
        snprintf(out, cap, "%s", cfg->base_dir);
        return;
    }
    slash = strrchr(db_path, '/');

    if (slash == NULL)
        snprintf(out, cap, ".");
    else if (slash == db_path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - db_path), db_path);
}

/* The route labels of the metrics: the table's methods and templates (the
 * registry keeps the pointers; the table outlives the server). */
static void
metrics_set_routes(const struct route_table *t)
{
    static const char *method[METRICS_ROUTES_MAX];
    static const char *pattern[METRICS_ROUTES_MAX];
    size_t i;

    for (i = 0; i < t->n && i < METRICS_ROUTES_MAX; i++) {
        method[i] = t->rows[i].method;
        pattern[i] = t->rows[i].pattern;
    }
    if (metrics_routes_set(method, pattern, t->n) < t->n)
        log_event(LOG_WARN, "metrics", "msg=%s", "more routes than "
                  "METRICS_ROUTES_MAX: the last count as unmatched");
}

static void
server_free(struct http_server *srv)
{
    if (srv == NULL)
        return;
    tarpit_free(srv->tarpit);
    util_secret_free(srv->tls_key);
    free(srv->tls_cert);
    free(srv->client_ca);
    free(srv);
}

err_code
http_start(struct app *app, const struct route_table *routes,
           struct http_server **out, struct err *e)
{
    const struct config *cfg = app->cfg;
    struct http_server *srv;
    struct sockaddr_storage ss;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                         MHD_USE_ERROR_LOG | MHD_USE_AUTO |
                         MHD_ALLOW_SUSPEND_RESUME;
    size_t len;
    err_code rc = ERR_OK;

    if ((srv = calloc(1, sizeof(*srv))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    srv->app = app;
    srv->routes = routes;
    metrics_set_routes(routes);
    spool_dir(cfg, srv->spool_dir, sizeof(srv->spool_dir));
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
        /* the private key: read into locked memory, NUL-terminated for
         * libmicrohttpd, never copied by a realloc */
        if ((rc = util_read_secret(cfg->tls_key, HTTP_TLS_PEM_MAX, &buf,
                                   &len, e)) != ERR_OK)
            goto done;
        srv->tls_key = (char *)buf;
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
        if (cfg->client_ca[0] != '\0') {
            if ((rc = util_read_file(cfg->client_ca, HTTP_TLS_PEM_MAX * 16,
                                     &buf, &len, e)) != ERR_OK)
                goto done;
            srv->client_ca = (char *)buf;
            if ((buf = realloc(buf, len + 1)) == NULL) {
                rc = err_set(e, ERR_NOMEM, "out of memory");
                goto done;
            }
            srv->client_ca = (char *)buf;
            srv->client_ca[len] = '\0';
        }
    }
    {
        struct MHD_OptionItem ops[24];
        size_t n = 0;
#define OPT(o, v, p) (ops[n].option = (o), ops[n].value = (intptr_t)(v), \
                      ops[n].ptr_value = (p), n++)
        OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL);
        OPT(MHD_OPTION_SOCK_ADDR, 0, &ss);
        OPT(MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL);
        OPT(MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL);
        OPT(MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout, NULL);
        OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT,
            cfg->max_connections_per_address, NULL);
        OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT,
            2 * cfg->max_header_bytes + HTTP_POOL_SLACK, NULL);
        OPT(MHD_OPTION_URI_LOG_CALLBACK, uri_log, srv);
        OPT(MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv);
        OPT(MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv);
        if (!cfg->plain_http) {
            OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key);
            OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert);
            OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, HTTP_TLS_PRIORITIES);
            if (srv->client_ca != NULL)
                OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, srv->client_ca);
        }
        OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
        srv->mhd = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL,
                                    on_request, srv, MHD_OPTION_ARRAY, ops,
                                    MHD_OPTION_END);
    }
    if (srv->mhd != NULL && cfg->refusal_delay_ms > 0 &&
        (rc = tarpit_start((size_t)cfg->max_connections,
                           cfg->refusal_delay_ms, tarpit_release,
                           &srv->tarpit, e)) != ERR_OK) {
        MHD_stop_daemon(srv->mhd);
        goto done;
    }
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
    /* Stop accepting first, answer the refusals held in the tarpit (and
     * any refused from now on) at once, then let requests already in
     * flight finish (bounded), then tear the daemon down: no connection
     * may still be suspended when it goes. */
    fd = MHD_quiesce_daemon(srv->mhd);
    if (srv->tarpit != NULL)
        tarpit_stop(srv->tarpit);
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
