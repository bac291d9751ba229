/*
 * router.c - the routing table and path matching.  Adding an endpoint means
 * one row here, one handler in api_<resource>.c and one entry in
 * docs/openapi.json.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "router.h"

const struct route router_table[] = {
    {"GET", "/healthz", api_healthz, ROUTE_PUBLIC, 1,
     "Liveness: the process answers"},
    {"GET", "/readyz", api_readyz, ROUTE_PUBLIC, 1,
     "Readiness: the database (and tokens) answer"},
    {"GET", "/api/v1/version", api_version, ROUTE_PUBLIC, 1,
     "Name, version and schema version"},
    {"GET", "/api/v1/whoami", api_whoami, ROUTE_ADMIN, 1,
     "The calling account, its roles and credential state"},
    {"POST", "/api/v1/account/credential", api_credential_rotate, ROUTE_AUTH,
     1, "Rotate the caller's own credential (revokes the presented one)"},
};
const size_t router_table_len = sizeof(router_table) / sizeof(router_table[0]);

/* Match one pattern against path; copies {params} into req on success. */
static int
pattern_match(const char *pattern, const char *path, struct http_req *req)
{
    const char *p = pattern, *s = path;
    size_t n = 0;

    while (*p != '\0' && *s != '\0') {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            size_t len = se ? (size_t)(se - s) : strlen(s);
            if (pe == NULL || len == 0 || n >= HTTP_MAX_PARAMS ||
                len >= sizeof(req->params[0]))
                return 0;
            if (req != NULL) {
                memcpy(req->params[n], s, len);
                req->params[n][len] = '\0';
            }
            n++;
            p = pe + 1;
            s += len;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    if (*p != '\0' || *s != '\0')
        return 0;
    if (req != NULL)
        req->nparams = n;
    return 1;
}

err_code
router_match(const char *method, const char *path, struct http_req *req,
             const struct route **out, char *allow, size_t cap,
             struct err *e)
{
    size_t i, used = 0;
    int path_found = 0;

    if (cap > 0)
        allow[0] = '\0';
    for (i = 0; i < router_table_len; i++) {
        const struct route *r = &router_table[i];
        if (!pattern_match(r->pattern, path, NULL))
            continue;
        path_found = 1;
        if (strcmp(r->method, method) == 0) {
            pattern_match(r->pattern, path, req);
            *out = r;
            return ERR_OK;
        }
        if (used < cap) {
            int w = snprintf(allow + used, cap - used, "%s%s",
                             used ? ", " : "", r->method);
            if (w > 0)
                used += (size_t)w;
        }
    }
    if (path_found)
        return err_set(e, ERR_METHOD, "method %s is not allowed here; "
                       "allowed: %s", method, allow);
    return err_set(e, ERR_NOT_FOUND, "no such route");
}

json_t *
router_describe(void)
{
    static const char *const access_names[] = {"public", "authenticated",
                                               "admin"};
    json_t *arr = json_array();
    size_t i;

    if (arr == NULL)
        return NULL;
    for (i = 0; i < router_table_len; i++) {
        const struct route *r = &router_table[i];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}",
                              "method", r->method, "path", r->pattern,
                              "access", access_names[r->access],
                              "summary", r->summary));
    }
    return arr;
}
