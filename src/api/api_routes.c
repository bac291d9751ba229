/*
 * api_routes.c - the routing table of the API: every route in one place,
 * with the access it needs and its audit action.  Adding an endpoint
 * means one row here, one handler in api_<resource>.c and one entry in
 * docs/openapi.json (a test checks the two agree, via `seald routes`).
 * A public service's route also has a row in `switches`, its [public]
 * switch, and its limits on the headers in the admit hook.
 */
#include <stddef.h>

#include "api.h"
#include "config.h"

static const struct route rows[] = {
    {"GET", "/healthz", api_healthz, PERM_NONE, 1, "service.health",
     "Liveness: the process answers"},
    {"GET", "/readyz", api_readyz, PERM_NONE, 1, "service.ready",
     "Readiness: the database (and tokens) answer"},
    {"GET", "/metrics", api_metrics, PERM_METRICS_READ, 0, "metrics.read",
     "Metrics in the Prometheus text format; without a credential only "
     "from the addresses of metrics.allow"},
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
    {"GET", "/api/v1/accounts/{id}/identities", api_identity_list,
     PERM_ACCOUNT_READ, 0, "identity.list",
     "Identities of the identity platform bound to an account"},
    {"POST", "/api/v1/accounts/{id}/identities", api_identity_bind,
     PERM_ACCOUNT_WRITE, 0, "identity.bind",
     "Bind an identity of a configured issuer to a person account (SOD-8)"},
    {"POST", "/api/v1/accounts/{id}/identities/{binding}/remove",
     api_identity_unbind, PERM_ACCOUNT_WRITE, 0, "identity.unbind",
     "End an identity binding"},
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
    {"POST", "/api/v1/applications/{id}/impression-check",
     api_impression_check, PERM_APPLICATION_REVIEW, 0,
     "application.impression_check",
     "Compare the impression with the one filed with public security"},
    {"GET", "/api/v1/events", api_event_list, PERM_EVENT_READ, 0,
     "event.list", "Events after a seq, in commit order (long-poll with "
     "wait)"},
    {"GET", "/api/v1/deliveries", api_delivery_list, PERM_DELIVERY_MANAGE, 0,
     "delivery.list", "Deliveries to the configured destinations "
     "(filters, paginated)"},
    {"POST", "/api/v1/deliveries/{id}/replay", api_delivery_replay,
     PERM_DELIVERY_MANAGE, 0, "delivery.replay",
     "Send a failed (dead-letter) delivery again"},
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
    {"GET", "/api/v1/applications/{id}/materials/{mid}", api_app_material,
     PERM_SELF, 0, "application.material",
     "A material's file, for the reviewer (and the applicant)"},
    {"GET", "/api/v1/applications/{id}/image", api_app_image, PERM_SELF, 0,
     "application.image",
     "The submitted impression image, for the reviewer (and the applicant)"},
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
    {"GET", "/", api_page, PERM_NONE, 1, "page.landing",
     "Public: a landing page for people, linking to the verification page"},
    {"GET", "/verify", api_page, PERM_NONE, 1, "page.verify",
     "Public: the verification page (HTML; it calls POST /public/verify)"},
    {"GET", "/verify.js", api_page, PERM_NONE, 1, "page.verify_script",
     "Public: the verification page's script"},
    {"GET", "/verify.css", api_page, PERM_NONE, 1, "page.verify_style",
     "Public: the verification page's style sheet"},
    {"GET", "/status/{esid}", api_status_esid, PERM_NONE, 0,
     "seal.status_statement", "Public: the seal's signed status statement "
     "(DER with Accept: application/seald-status+der, else JSON)"},
    {"GET", "/status/sm3/{sm3}", api_status_sm3, PERM_NONE, 0,
     "seal.status_statement_sm3", "Public: the same, for the seal whose file "
     "has this SM3 (64 lowercase hex digits)"},
    {"POST", "/api/v1/verify", api_verify_signature, PERM_SELF, 0,
     "verify.signature", "Verify an SES_Signature or a GB/T 35275 "
     "SignedData with its document or the document's SM3 (JSON base64 or "
     "multipart upload); with seal status"},
    {"POST", "/api/v1/verify/seal", api_verify_seal, PERM_SELF, 0,
     "verify.seal", "Verify a seal file (SESeal) alone"},
    {"POST", "/public/verify", api_public_verify, PERM_NONE, 0,
     "verify.public", "Public: the verification report of a signature with "
     "its document or SM3, an OFD file or a seal file (JSON base64 or "
     "multipart)"},
    {"POST", "/tsa", api_tsa, PERM_NONE, 0, "tsa.timestamp",
     "Public: seald as an RFC 3161 TSA (application/timestamp-query in, "
     "application/timestamp-reply out)"},
    {"POST", "/api/v1/sign-requests", api_sreq_submit, PERM_REQUEST_SUBMIT,
     0, "sign_request.submit",
     "A requester asks for documents to be sealed (by upload or SM3)"},
    {"GET", "/api/v1/sign-requests", api_sreq_list, PERM_SELF, 0,
     "sign_request.list", "Signing requests the caller may read (filters, "
     "waiting_for=me, submitted_by=me; paginated)"},
    {"GET", "/api/v1/sign-requests/{id}/documents/{doc}/content",
     api_sreq_document, PERM_SELF, 0, "sign_request.document",
     "Download a document, for the submitter, the custodian and an approver"},
    {"GET", "/api/v1/sign-requests/{id}/sealed/{sealed}", api_sreq_sealed,
     PERM_SELF, 0, "sign_request.sealed",
     "Download a sealed OFD that seald kept"},
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
    {"GET", "/api/v1/statistics/seals", api_stats_seals, PERM_STATS_READ, 0,
     "stats.seals", "Seals by region, organisation, kind and state at a "
     "date (JSON or CSV)"},
    {"GET", "/api/v1/statistics/applications", api_stats_apps,
     PERM_STATS_READ, 0, "stats.applications", "Applications received and "
     "decided in a period, with turnaround (JSON or CSV)"},
    {"GET", "/api/v1/statistics/signatures", api_stats_sigs,
     PERM_STATS_READ, 0, "stats.signatures",
     "Signatures per organisation, seal and day (JSON or CSV)"},
    {"GET", "/api/v1/statistics/reports", api_stats_reports,
     PERM_STATS_READ, 0, "stats.report.list",
     "The kept monthly reports (paginated)"},
    {"GET", "/api/v1/statistics/reports/{id}", api_stats_report,
     PERM_STATS_READ, 0, "stats.report.read",
     "A kept monthly report (JSON or CSV, as it was made)"},
};

/* The public services' switches ([public] in the configuration): a route
 * whose switch is off is not there (404, as for a path that never was). */
static const struct {
    http_handler handler;
    size_t       offset;          /* of its int switch in struct config */
} switches[] = {
    {api_status_esid, offsetof(struct config, public_status)},
    {api_status_sm3, offsetof(struct config, public_status)},
    {api_public_verify, offsetof(struct config, public_verify)},
    {api_tsa, offsetof(struct config, public_tsa)},
};

/* The routing table's enabled hook (router.h); without a configuration
 * (the router's own tests) every route is there. */
static int
route_enabled(const struct http_req *req, const struct route *r)
{
    size_t i;

    if (req->app == NULL || req->app->cfg == NULL)
        return 1;
    for (i = 0; i < sizeof(switches) / sizeof(switches[0]); i++)
        if (switches[i].handler == r->handler)
            return *(const int *)(const void *)((const char *)req->app->cfg +
                                                switches[i].offset);
    return 1;
}

const struct route_table api_routes = {rows, sizeof(rows) / sizeof(rows[0]),
                                       route_enabled, api_public_admit,
                                       api_metrics_open};
