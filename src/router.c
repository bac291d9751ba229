/*
 * router.c - the routing table and path matching.  Adding an endpoint means
 * one row here, one handler in api_<resource>.c and one entry in
 * docs/openapi.json.
 */
#include <stdint.h>
#include <string.h>

#include "api.h"
#include "application.h"
#include "router.h"
#include "signing.h"
#include "sod.h"

const struct route router_table[] = {
    {"GET", "/healthz", api_healthz, PERM_NONE, 1, "service.health",
     "Liveness: the process answers"},
    {"GET", "/readyz", api_readyz, PERM_NONE, 1, "service.ready",
     "Readiness: the database (and tokens) answer"},
    {"GET", "/api/v1/version", api_version, PERM_NONE, 1, "service.version",
     "Name, version and schema version"},
    {"GET", "/api/v1/whoami", api_whoami, PERM_SELF, 1, "account.whoami",
     "The calling account, its roles and credential state"},
    {"POST", "/api/v1/account/credential", api_credential_rotate, PERM_SELF,
     1, "credential.rotate",
     "Rotate the caller's own credential (revokes the presented one)"},

    {"GET", "/api/v1/organisations", api_org_list, PERM_ORG_READ, 0,
     "organisation.list", "List organisations (paginated)"},
    {"POST", "/api/v1/organisations", api_org_create, PERM_ORG_WRITE, 0,
     "organisation.create", "Create an organisation"},
    {"GET", "/api/v1/organisations/{id}", api_org_get, PERM_ORG_READ, 0,
     "organisation.read", "Show an organisation"},
    {"PATCH", "/api/v1/organisations/{id}", api_org_update, PERM_ORG_WRITE,
     0, "organisation.update", "Change an organisation's name or code"},
    {"POST", "/api/v1/organisations/{id}/disable", api_org_disable,
     PERM_ORG_WRITE, 0, "organisation.disable",
     "Disable an organisation (nothing is ever deleted)"},

    {"GET", "/api/v1/accounts", api_account_list, PERM_ACCOUNT_READ, 0,
     "account.list", "List accounts (paginated)"},
    {"POST", "/api/v1/accounts", api_account_create, PERM_ACCOUNT_WRITE, 0,
     "account.create", "Create a person or system account"},
    {"GET", "/api/v1/accounts/{id}", api_account_get, PERM_ACCOUNT_READ, 0,
     "account.read", "Show an account and its roles"},
    {"POST", "/api/v1/accounts/{id}/disable", api_account_disable,
     PERM_ACCOUNT_WRITE, 0, "account.disable",
     "Disable an account and revoke its credentials"},
    {"POST", "/api/v1/accounts/{id}/credentials", api_account_issue,
     PERM_ACCOUNT_WRITE, 0, "credential.issue",
     "Issue a new initial credential (revokes the old ones)"},
    {"POST", "/api/v1/accounts/{id}/credentials/revoke", api_account_revoke,
     PERM_ACCOUNT_WRITE, 0, "credential.revoke",
     "Revoke every credential of an account"},
    {"POST", "/api/v1/accounts/{id}/roles", api_role_grant, PERM_ROLE_ASSIGN,
     0, "role.grant", "Grant a role for an organisation subtree"},
    {"POST", "/api/v1/accounts/{id}/roles/remove", api_role_remove,
     PERM_ROLE_ASSIGN, 0, "role.remove", "End a role grant"},
    {"POST", "/api/v1/accounts/{id}/reconfirm", api_account_reconfirm,
     PERM_ROLE_ASSIGN, 0, "account.reconfirm",
     "Re-confirm an account held after a credential reset"},
    {"POST", "/api/v1/accounts/{id}/appoint-secadmin", api_role_bootstrap,
     PERM_ACCOUNT_WRITE, 0, "role.bootstrap",
     "Appoint the first security administrator (only while there is none)"},

    {"GET", "/api/v1/deputies", api_deputy_list, PERM_SELF, 0,
     "deputy.list", "Deputy records of the caller (all, for approvers)"},
    {"POST", "/api/v1/deputies", api_deputy_request, PERM_DEPUTY_REQUEST, 0,
     "deputy.request", "A custodian names a deputy for an absence"},
    {"POST", "/api/v1/deputies/{id}/approve", api_deputy_approve,
     PERM_DEPUTY_APPROVE, 0, "deputy.approve", "Approve a deputy request"},
    {"POST", "/api/v1/deputies/{id}/reject", api_deputy_reject,
     PERM_DEPUTY_APPROVE, 0, "deputy.reject", "Reject a deputy request"},

    {"GET", "/api/v1/permissions", api_permissions, PERM_SELF, 0,
     "rbac.matrix", "The role x route permission matrix"},
    {"GET", "/api/v1/audit", api_audit_list, PERM_AUDIT_READ, 0,
     "audit.query", "Query the audit log (filters, paginated; json, jsonl "
     "or csv)"},
    {"POST", "/api/v1/audit/verify", api_audit_verify, PERM_AUDIT_READ, 0,
     "audit.verify", "Verify the audit hash chain and every checkpoint"},
    {"POST", "/api/v1/audit/checkpoints", api_audit_checkpoint,
     PERM_AUDIT_READ, 0, "audit.checkpoint",
     "Sign the chain head now with the audit key"},
    {"GET", "/api/v1/audit/checkpoints/latest", api_audit_checkpoint_latest,
     PERM_AUDIT_READ, 0, "audit.checkpoint.export",
     "The newest signed checkpoint, for safekeeping outside seald"},
    {"POST", "/api/v1/admin/backup", api_admin_backup, PERM_ACCOUNT_WRITE, 0,
     "system.backup", "Online backup of the database (verified copy)"},
    {"GET", "/api/v1/applications", api_app_list, PERM_SELF, 0,
     "application.list", "Seal applications the caller may see"},
    {"POST", "/api/v1/applications", api_app_submit,
     PERM_APPLICATION_SUBMIT, 0, "application.submit",
     "Apply for a seal (image and identity materials as base64)"},
    {"GET", "/api/v1/applications/{id}", api_app_get, PERM_SELF, 0,
     "application.read", "Show an application and its materials"},
    {"GET", "/api/v1/applications/{id}/history", api_app_history, PERM_SELF,
     0, "application.history", "State history of an application"},
    {"POST", "/api/v1/applications/{id}/resubmit", api_app_resubmit,
     PERM_APPLICATION_SUBMIT, 0, "application.resubmit",
     "Resubmit a returned application, corrected"},
    {"POST", "/api/v1/applications/{id}/review", api_app_review,
     PERM_APPLICATION_REVIEW, 0, "application.review",
     "Review: start, return (with reason), reject (with reason), approve"},
    {"POST", "/api/v1/applications/{id}/make", api_seal_make, PERM_SEAL_MAKE,
     0, "seal.make", "Make the seal of an approved application (local CA)"},
    {"POST", "/api/v1/applications/{id}/csr", api_seal_csr, PERM_SEAL_MAKE,
     0, "seal.csr", "External CA: holder key and PKCS#10 request"},
    {"POST", "/api/v1/applications/{id}/certificate", api_seal_certificate,
     PERM_SEAL_MAKE, 0, "seal.make_external",
     "External CA: import the issued certificate and make the seal"},
    {"GET", "/api/v1/seals", api_seal_list, PERM_SELF, 0, "seal.list",
     "Seals the caller may see (filters, paginated)"},
    {"GET", "/api/v1/seals/{esid}", api_seal_get, PERM_SELF, 0, "seal.read",
     "A seal: record, decoded seal data and impression, for confirmation"},
    {"GET", "/api/v1/seals/{esid}/file", api_seal_file, PERM_SELF, 0,
     "seal.download", "The seal file (.esl, DER)"},
    {"GET", "/api/v1/seals/{esid}/picture", api_seal_picture, PERM_SELF, 0,
     "seal.picture", "The seal impression image"},
    {"GET", "/api/v1/seals/{esid}/history", api_seal_history, PERM_SELF, 0,
     "seal.history", "State history of a seal"},
    {"POST", "/api/v1/seals/{esid}/confirm", api_seal_confirm,
     PERM_APPLICATION_SUBMIT, 0, "seal.confirm",
     "The applicant confirms the impression: the seal becomes active"},
    {"GET", "/api/v1/seals/{esid}/filing", api_seal_filing, PERM_SELF, 0,
     "seal.filing", "Filing record for the national platform and police"},
    {"POST", "/api/v1/seals/{esid}/filing", api_seal_filed, PERM_SEAL_MAKE,
     0, "seal.file", "Mark the filing record as delivered"},
    {"POST", "/api/v1/seals/{esid}/suspend", api_seal_suspend,
     PERM_SEAL_SUSPEND, 0, "seal.suspend", "Suspend an active seal"},
    {"POST", "/api/v1/seals/{esid}/resume", api_seal_resume,
     PERM_SEAL_SUSPEND, 0, "seal.resume",
     "Lift a suspension (only the authority that suspended the seal)"},
    {"POST", "/api/v1/seals/{esid}/loss", api_seal_loss, PERM_SEAL_REPORT, 0,
     "seal.report_loss", "Report a seal lost or compromised (挂失)"},
    {"POST", "/api/v1/seals/{esid}/loss/resolve", api_seal_loss_resolve,
     PERM_APPLICATION_REVIEW, 0, "seal.resolve_loss",
     "After review of a loss: revoke, or reinstate a found seal"},
    {"POST", "/api/v1/seals/{esid}/renewal", api_seal_renewal,
     PERM_APPLICATION_SUBMIT, 0, "seal.request_renewal",
     "Ask to renew a seal (within the renewal window)"},
    {"POST", "/api/v1/seals/{esid}/revocation", api_seal_revocation,
     PERM_APPLICATION_SUBMIT, 0, "seal.request_revocation",
     "Ask to revoke a seal (注销; reason and identity proof)"},
    {"GET", "/api/v1/seals/{esid}/status", api_seal_status, PERM_SELF, 0,
     "seal.status", "Seal status for relying parties"},
    {"GET", "/api/v1/seal-status-list", api_seal_status_list, PERM_SELF, 0,
     "seal.status_list", "Signed list of every seal that is not active"},
    {"POST", "/api/v1/verify", api_verify_signature, PERM_SELF, 0,
     "verify.signature", "Verify an SES_Signature or a GB/T 35275 "
     "SignedData with its document or the document's SM3 (JSON base64 or "
     "multipart upload); with seal status"},
    {"POST", "/api/v1/verify/seal", api_verify_seal, PERM_SELF, 0,
     "verify.seal", "Verify a seal file (SESeal) alone"},
    {"POST", "/api/v1/sign-requests", api_sreq_submit, PERM_REQUEST_SUBMIT,
     0, "sign_request.submit",
     "A requester asks for documents to be sealed (by upload or SM3)"},
    {"GET", "/api/v1/sign-requests/{id}", api_sreq_get, PERM_SELF, 0,
     "sign_request.read", "A signing request and its pinned documents"},
    {"POST", "/api/v1/sign-requests/{id}/approve", api_sreq_approve,
     PERM_REQUEST_APPROVE, 0, "sign_request.approve",
     "Approve: a bounded grant of copies per document until it expires"},
    {"POST", "/api/v1/sign-requests/{id}/reject", api_sreq_reject,
     PERM_REQUEST_APPROVE, 0, "sign_request.reject",
     "Reject (退签) with a reason"},
    {"POST", "/api/v1/sign-requests/{id}/cancel", api_sreq_cancel,
     PERM_REQUEST_SUBMIT, 0, "sign_request.cancel",
     "Cancel a request before anything is signed"},
    {"POST", "/api/v1/sign-requests/{id}/sign", api_sreq_sign, PERM_SEAL_USE,
     0, "seal.sign", "Sign the approved documents; a result per document"},
    {"PUT", "/api/v1/sign-requests/{id}/documents/{doc}/content",
     api_sreq_upload, PERM_SELF, 0, "sign_request.upload",
     "Upload a document named by hash (streamed, SM3 checked on arrival)"},
    {"GET", "/api/v1/signatures/{id}", api_signature_file, PERM_SELF, 0,
     "signature.download", "A signature made by seald (SES_Signature DER)"},
    {"GET", "/api/v1/usage", api_usage, PERM_SELF, 0, "usage.report",
     "Usage summary per seal for a period (JSON or CSV)"},
    {"POST", "/api/v1/sign-requests/{id}/documents/{doc}/seal-ofd",
     api_sreq_seal_ofd, PERM_SEAL_USE, 0, "seal.sign_ofd",
     "Seal an approved, uploaded OFD at a page, keyword or across pages"},
    {"POST", "/api/v1/verify/ofd", api_verify_ofd, PERM_SELF, 0,
     "verify.ofd", "Verify every signature of a sealed OFD"},
};
const size_t router_table_len = sizeof(router_table) / sizeof(router_table[0]);

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

/* Check path parameter n (named name, len bytes) of req: {esid} must be an
 * esID, every other parameter an id, parsed into req->ids[n].  This is the
 * one place path parameters are parsed, so "+1", "00001" or "1%00" name
 * nothing anywhere. */
static int
param_valid(const char *name, size_t len, struct http_req *req, size_t n)
{
    req->ids[n] = 0;
    if (len == 4 && strncmp(name, "esid", 4) == 0)
        return valid_esid(req->params[n]);
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
router_match(const char *method, const char *path, struct http_req *req,
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
    for (i = 0; i < router_table_len; i++) {
        const struct route *r = &router_table[i];
        if (!pattern_match(r->pattern, path, NULL))
            continue;
        path_found = 1;
        if (strcmp(r->method, want) == 0) {
            req->param_error = pattern_match(r->pattern, path, req) < 0
                ? (strstr(r->pattern, "{esid}") ? "no such seal"
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
router_describe(void)
{
    json_t *arr = json_array();
    size_t i;

    if (arr == NULL)
        return NULL;
    for (i = 0; i < router_table_len; i++) {
        const struct route *r = &router_table[i];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}",
                              "method", r->method, "path", r->pattern,
                              "permission", rbac_perm_name(r->perm),
                              "action", r->action, "summary", r->summary));
    }
    return arr;
}

json_t *
router_matrix(void)
{
    json_t *roles = json_array(), *routes = json_array();
    json_t *rules = json_array(), *moves = json_array();
    json_t *app_moves = json_array();
    const char *const *role, *event, *from, *to;
    size_t i;

    for (role = rbac_roles; *role != NULL; role++)
        json_array_append_new(roles, json_string(*role));
    for (i = 0; i < router_table_len; i++) {
        const struct route *r = &router_table[i];
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
        json_array_append_new(moves, json_pack("{s:s, s:s, s:s}", "event",
                              event, "from", from, "to", to));
    for (i = 0; application_move_row(i, &event, &from, &to); i++)
        json_array_append_new(app_moves, json_pack("{s:s, s:s, s:s}",
                              "event", event, "from", from, "to", to));
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "roles", roles, "routes",
                     routes, "separation_of_duties", rules,
                     "signing_request_moves", moves, "application_moves",
                     app_moves);
}
