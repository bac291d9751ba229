/*
 * router.c - path matching over a routing table (router.h), and the
 * descriptions of a table that `seald routes` and `seald permissions`
 * print.  The API's own table is api_routes.c: the HTTP layer matches
 * whatever table it is given and knows no handler.
 */
#include <stdint.h>
#include <string.h>

#include "application.h"
#include "router.h"
#include "seal.h"
#include "signing.h"
#include "sod.h"


/* A path id: ASCII digits only, no sign, no leading zero, at most
 * INT64_MAX (what strtonum(3) accepts for [1, INT64_MAX], without the
 * leading blanks and signs strtol lets through).  1 with *out set, or 0. */
static int
parse_id(const char *s, int64_t *out)
{
    uint64_t v = 0;
    const char *p;

    if (s[0] < '1' || s[0] > '9')
        return 0;
    for (p = s; *p != '\0'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (*p < '0' || *p > '9' || v > ((uint64_t)INT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = (int64_t)v;
    return 1;
}

/* An esID as seals.esid_format can make it: [0-9A-Za-z._-], shorter than
 * STORE_ESID_MAX. */
static int
valid_esid(const char *s)
{
    size_t n = strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "abcdefghijklmnopqrstuvwxyz._-");

    return n > 0 && s[n] == '\0' && n < STORE_ESID_MAX;
}

/* An SM3 hash as 64 lowercase hex digits (the one spelling, so that one
 * seal has one URL for caches). */
static int
valid_sm3(const char *s)
{
    return strspn(s, "0123456789abcdef") == 64 && s[64] == '\0';
}

/* Check path parameter n (named name, len bytes) of req: {esid} must be an
 * esID, {sm3} an SM3 hash in lowercase hex, every other parameter an id,
 * parsed into req->ids[n].  This is the one place path parameters are
 * parsed, so "+1", "00001" or "1%00" name nothing anywhere. */
static int
param_valid(const char *name, size_t len, struct http_req *req, size_t n)
{
    req->ids[n] = 0;
    if (len == 4 && strncmp(name, "esid", 4) == 0)
        return valid_esid(req->params[n]);
    if (len == 3 && strncmp(name, "sm3", 3) == 0)
        return valid_sm3(req->params[n]);
    return parse_id(req->params[n], &req->ids[n]);
}

/* Match one pattern against path: 1 if it matches, 0 if not, -1 if the
 * shape matches but a parameter is not valid (see param_valid).  With req,
 * the parameters are copied (and parsed) into it. */
static int
pattern_match(const char *pattern, const char *path, struct http_req *req)
{
    const char *p = pattern, *s = path;
    size_t n = 0;
    int valid = 1;

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
                if (!param_valid(p + 1, (size_t)(pe - p - 1), req, n))
                    valid = 0;
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
    return valid ? 1 : -1;
}

/* Room for the longest Allow list a path can have, NUL included: every
 * method the table uses, and DELETE. */
#define ROUTER_ALLOW_MAX sizeof("GET, HEAD, POST, PUT, PATCH, DELETE")

/* Append method to the Allow list (list, cap bytes, *used so far), if it
 * fits whole with its ", " and the NUL: a list too short for every method
 * leaves some out but never holds part of a name. */
static void
allow_add(char *list, size_t cap, size_t *used, const char *method)
{
    size_t sep = *used > 0 ? 2 : 0, len = strlen(method);

    if (*used + sep + len >= cap)
        return;
    memcpy(list + *used, ", ", sep);
    memcpy(list + *used + sep, method, len + 1);
    *used += sep + len;
}

err_code
router_match(const struct route_table *t, const char *method,
             const char *path, struct http_req *req,
             const struct route **out, char *allow, size_t cap,
             struct err *e)
{
    /* HEAD is GET without the body (libmicrohttpd leaves the body out) */
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    /* the whole list for the message, whatever cap the caller has */
    char all[ROUTER_ALLOW_MAX] = "";
    size_t i, used = 0, all_used = 0;
    int path_found = 0;

    if (cap > 0)
        allow[0] = '\0';
    for (i = 0; i < t->n; i++) {
        const struct route *r = &t->rows[i];
        if (!pattern_match(r->pattern, path, NULL) ||
            (t->enabled != NULL && !t->enabled(req, r)))
            continue;
        path_found = 1;
        if (strcmp(r->method, want) == 0) {
            req->param_error = pattern_match(r->pattern, path, req) < 0
                ? (strstr(r->pattern, "{esid}") ||
                   strstr(r->pattern, "{sm3}") ? "no such seal"
                                               : "no such id")
                : NULL;
            *out = r;
            return ERR_OK;
        }
        allow_add(allow, cap, &used, r->method);
        allow_add(all, sizeof(all), &all_used, r->method);
        if (strcmp(r->method, "GET") == 0) {
            allow_add(allow, cap, &used, "HEAD");
            allow_add(all, sizeof(all), &all_used, "HEAD");
        }
    }
    if (path_found)
        return err_set(e, ERR_METHOD, "method %s is not allowed here; "
                       "allowed: %s", method, all);
    return err_set(e, ERR_NOT_FOUND, "no such route");
}

json_t *
router_describe(const struct route_table *t)
{
    json_t *arr = json_array();
    size_t i;

    if (arr == NULL)
        return NULL;
    for (i = 0; i < t->n; i++) {
        const struct route *r = &t->rows[i];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}",
                              "method", r->method, "path", r->pattern,
                              "permission", rbac_perm_name(r->perm),
                              "action", r->action, "summary", r->summary));
    }
    return arr;
}

/* One row of a state table as `seald permissions` prints it; to "" is
 * "the state before" (a seal's reinstatement). */
static json_t *
move_json(const char *event, const char *from, const char *to,
          enum rbac_perm perm)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "event", event, "from", from,
                     "to", to[0] ? to : "(before the loss)", "permission",
                     perm == PERM_NONE ? "system" : rbac_perm_name(perm));
}

json_t *
router_matrix(const struct route_table *t)
{
    json_t *roles = json_array(), *routes = json_array();
    json_t *rules = json_array(), *moves = json_array();
    json_t *app_moves = json_array(), *seal_moves = json_array();
    const char *const *role, *event, *from, *to;
    size_t i;

    for (role = rbac_roles; *role != NULL; role++)
        json_array_append_new(roles, json_string(*role));
    for (i = 0; i < t->n; i++) {
        const struct route *r = &t->rows[i];
        json_t *who = json_array();
        for (role = rbac_roles; *role != NULL; role++)
            if (r->perm != PERM_NONE && rbac_role_has(*role, r->perm))
                json_array_append_new(who, json_string(*role));
        json_array_append_new(routes, json_pack("{s:s, s:s, s:s, s:o}",
                              "method", r->method, "path", r->pattern,
                              "permission", rbac_perm_name(r->perm),
                              "roles", who));
    }
    for (i = 0; sod_rules[i].id != NULL; i++)
        json_array_append_new(rules, json_pack("{s:s, s:s}", "id",
                              sod_rules[i].id, "rule", sod_rules[i].text));
    for (i = 0; sign_request_move_row(i, &event, &from, &to); i++)
        json_array_append_new(moves, move_json(event, from, to,
            (enum rbac_perm)sign_request_move_perm(i)));
    for (i = 0; application_move_row(i, &event, &from, &to); i++)
        json_array_append_new(app_moves, move_json(event, from, to,
            application_event_perm(event)));
    for (i = 0; seal_move_row(i, &event, &from, &to); i++)
        json_array_append_new(seal_moves, move_json(event, from, to,
            (enum rbac_perm)seal_move_perm(i)));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "roles", roles,
                     "routes", routes, "separation_of_duties", rules,
                     "signing_request_moves", moves, "application_moves",
                     app_moves, "seal_moves", seal_moves);
}
