/*
 * api.h - route handlers, one file per resource (api_<resource>.c).  Each
 * handler parses and validates its input, calls the domain, and fills the
 * response.  Handlers never call the store (read authorisation and scopes
 * are the domain's; ctest lint.handlers_no_store), never write SQL and
 * never touch libmicrohttpd.
 */
#ifndef SEALD_API_H
#define SEALD_API_H

#include "http.h"
#include "router.h"

/* api_routes.c: the API's routing table, handed to http_start. */
extern const struct route_table api_routes;

/* api_system.c: probes, version, identity */
err_code api_healthz(struct http_req *req, struct http_resp *resp,
                     struct err *e);
err_code api_readyz(struct http_req *req, struct http_resp *resp,
                    struct err *e);
err_code api_version(struct http_req *req, struct http_resp *resp,
                     struct err *e);
err_code api_whoami(struct http_req *req, struct http_resp *resp,
                    struct err *e);

/* api_metrics.c: GET /metrics, the Prometheus text format (metrics.h),
 * with the database gauges cached for metrics.cache_seconds. */
err_code api_metrics(struct http_req *req, struct http_resp *resp,
                     struct err *e);

/* api_metrics.c: the routing table's anonymous hook: 1 when route r is
 * /metrics and the caller's address is in metrics.allow (served without
 * a credential), else 0 (the route's permission applies). */
int api_metrics_open(const struct http_req *req, const struct route *r);

/* api_system.c */
err_code api_permissions(struct http_req *req, struct http_resp *resp,
                         struct err *e);

/* api_event.c: the outbox (events, deliveries) */
err_code api_event_list(struct http_req *req, struct http_resp *resp,
                        struct err *e);
err_code api_delivery_list(struct http_req *req, struct http_resp *resp,
                           struct err *e);
err_code api_delivery_replay(struct http_req *req, struct http_resp *resp,
                             struct err *e);

/* api_impression.c: the impression filed with public security */
err_code api_impression_check(struct http_req *req, struct http_resp *resp,
                              struct err *e);

/* api_org.c: organisations */
err_code api_org_list(struct http_req *req, struct http_resp *resp,
                      struct err *e);
err_code api_org_create(struct http_req *req, struct http_resp *resp,
                        struct err *e);
err_code api_org_get(struct http_req *req, struct http_resp *resp,
                     struct err *e);
err_code api_org_update(struct http_req *req, struct http_resp *resp,
                        struct err *e);
err_code api_org_disable(struct http_req *req, struct http_resp *resp,
                         struct err *e);

/* api_account.c: accounts, credentials, roles, deputies */
err_code api_credential_rotate(struct http_req *req, struct http_resp *resp,
                               struct err *e);
err_code api_account_list(struct http_req *req, struct http_resp *resp,
                          struct err *e);
err_code api_account_create(struct http_req *req, struct http_resp *resp,
                            struct err *e);
err_code api_account_get(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_account_disable(struct http_req *req, struct http_resp *resp,
                             struct err *e);
err_code api_account_issue(struct http_req *req, struct http_resp *resp,
                           struct err *e);
err_code api_account_revoke(struct http_req *req, struct http_resp *resp,
                            struct err *e);
err_code api_role_grant(struct http_req *req, struct http_resp *resp,
                        struct err *e);
err_code api_role_remove(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_role_bootstrap(struct http_req *req, struct http_resp *resp,
                            struct err *e);
err_code api_account_reconfirm(struct http_req *req, struct http_resp *resp,
                               struct err *e);
/* api_identity.c: identities of the identity platform bound to accounts */
err_code api_identity_list(struct http_req *req, struct http_resp *resp,
                           struct err *e);
err_code api_identity_bind(struct http_req *req, struct http_resp *resp,
                           struct err *e);
err_code api_identity_unbind(struct http_req *req, struct http_resp *resp,
                             struct err *e);
err_code api_deputy_list(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_deputy_request(struct http_req *req, struct http_resp *resp,
                            struct err *e);
err_code api_deputy_approve(struct http_req *req, struct http_resp *resp,
                            struct err *e);
err_code api_deputy_reject(struct http_req *req, struct http_resp *resp,
                           struct err *e);

/* api_status.c: the public, signed seal status statements (issue 17). */
err_code api_status_esid(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_status_sm3(struct http_req *req, struct http_resp *resp,
                        struct err *e);

/* api_public.c: the public verification (issue 17 item 3). */
struct config;
struct cpubudget;
struct route;
err_code api_public_verify(struct http_req *req, struct http_resp *resp,
                           struct err *e);
/* The routing table's admit hook (router.h) for POST /public/verify, on
 * the headers: its body limit, the per-address rate limit (429) and a look
 * at the CPU budget (503).  Other routes pass. */
/* POST /tsa (api_tsa.c): seald as an RFC 3161 TSA; api_tsa_admit is
 * called by api_public_admit for it (body limit, rate limit). */
err_code api_tsa(struct http_req *req, struct http_resp *resp,
                 struct err *e);
err_code api_tsa_admit(struct http_req *req, int *retry_after,
                       struct err *e);

err_code api_public_admit(struct http_req *req, const struct route *r,
                          int *retry_after, struct err *e);
/* The CPU budget of the public verifications per cfg (its 0s: the
 * defaults by cores), or NULL on OOM; cpubudget_free. */
struct cpubudget *api_public_budget_new(const struct config *cfg);
/* api_page.c: the public pages for people (issue 17 item 9): GET / (a
 * landing page), GET /verify (the verification page) and its files,
 * compiled in from src/api/page/ by src/embed.cmake. */
struct api_page_file {
    const char          *name;     /* "verify.html" */
    const unsigned char *data;     /* len bytes (and a NUL after them) */
    size_t               len;
};
extern const struct api_page_file api_page_files[];
extern const size_t api_page_files_count;
err_code api_page(struct http_req *req, struct http_resp *resp,
                  struct err *e);

/* api_audit.c: audit queries, chain verification, checkpoints, backup */
err_code api_audit_list(struct http_req *req, struct http_resp *resp,
                        struct err *e);
err_code api_audit_verify(struct http_req *req, struct http_resp *resp,
                          struct err *e);
err_code api_audit_checkpoint(struct http_req *req, struct http_resp *resp,
                              struct err *e);
err_code api_audit_checkpoint_latest(struct http_req *req,
                                     struct http_resp *resp, struct err *e);
err_code api_admin_backup(struct http_req *req, struct http_resp *resp,
                          struct err *e);
/* api_application.c: seal applications */
struct store_history;
/* store_history_fn appending one history row as JSON to the array ctx. */
err_code api_history_add(void *ctx, const struct store_history *h);
struct app_material;
/* Read the "materials" array of body into m[] (decoded data into bufs[],
 * which the caller frees); *n gets how many. */
err_code api_parse_materials(const json_t *body, struct app_material *m,
                             uint8_t **bufs, size_t *n, struct err *e);
err_code api_app_list(struct http_req *req, struct http_resp *resp,
                      struct err *e);
err_code api_app_submit(struct http_req *req, struct http_resp *resp,
                        struct err *e);
err_code api_app_get(struct http_req *req, struct http_resp *resp,
                     struct err *e);
err_code api_app_history(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_app_resubmit(struct http_req *req, struct http_resp *resp,
                          struct err *e);
err_code api_app_review(struct http_req *req, struct http_resp *resp,
                        struct err *e);
err_code api_app_material(struct http_req *req, struct http_resp *resp,
                          struct err *e);
err_code api_app_image(struct http_req *req, struct http_resp *resp,
                       struct err *e);
/* api_seal.c: making, seals, status */
err_code api_seal_make(struct http_req *req, struct http_resp *resp,
                       struct err *e);
err_code api_seal_csr(struct http_req *req, struct http_resp *resp,
                      struct err *e);
err_code api_seal_certificate(struct http_req *req, struct http_resp *resp,
                              struct err *e);
err_code api_seal_list(struct http_req *req, struct http_resp *resp,
                       struct err *e);
err_code api_seal_get(struct http_req *req, struct http_resp *resp,
                      struct err *e);
err_code api_seal_file(struct http_req *req, struct http_resp *resp,
                       struct err *e);
err_code api_seal_picture(struct http_req *req, struct http_resp *resp,
                          struct err *e);
err_code api_seal_history(struct http_req *req, struct http_resp *resp,
                          struct err *e);
err_code api_seal_confirm(struct http_req *req, struct http_resp *resp,
                          struct err *e);
err_code api_seal_filing(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_seal_filed(struct http_req *req, struct http_resp *resp,
                        struct err *e);
err_code api_seal_suspend(struct http_req *req, struct http_resp *resp,
                          struct err *e);
err_code api_seal_resume(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_seal_loss(struct http_req *req, struct http_resp *resp,
                       struct err *e);
err_code api_seal_loss_resolve(struct http_req *req, struct http_resp *resp,
                               struct err *e);
err_code api_seal_renewal(struct http_req *req, struct http_resp *resp,
                          struct err *e);
err_code api_seal_revocation(struct http_req *req, struct http_resp *resp,
                             struct err *e);
err_code api_seal_status(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_seal_status_list(struct http_req *req, struct http_resp *resp,
                              struct err *e);
/* Take one token from the caller's verification bucket (the verifier role
 * has its own, larger one); ERR_RATE_LIMITED with resp->retry_after set. */
err_code api_verify_rate(struct http_req *req, struct http_resp *resp,
                         struct err *e);
/* api_verify.c: signature and seal verification */
err_code api_verify_signature(struct http_req *req, struct http_resp *resp,
                              struct err *e);
err_code api_verify_seal(struct http_req *req, struct http_resp *resp,
                         struct err *e);
/* api_sign.c: signing requests, signing, usage */
err_code api_sreq_submit(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_sreq_get(struct http_req *req, struct http_resp *resp,
                      struct err *e);
err_code api_sreq_approve(struct http_req *req, struct http_resp *resp,
                          struct err *e);
err_code api_sreq_reject(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_sreq_cancel(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_sreq_sign(struct http_req *req, struct http_resp *resp,
                       struct err *e);
err_code api_sreq_upload(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_signature_file(struct http_req *req, struct http_resp *resp,
                            struct err *e);
err_code api_usage(struct http_req *req, struct http_resp *resp,
                   struct err *e);
/* api_stats.c: the supervising department's statistics and reports */
err_code api_stats_seals(struct http_req *req, struct http_resp *resp,
                         struct err *e);
err_code api_stats_apps(struct http_req *req, struct http_resp *resp,
                        struct err *e);
err_code api_stats_sigs(struct http_req *req, struct http_resp *resp,
                        struct err *e);
err_code api_stats_reports(struct http_req *req, struct http_resp *resp,
                           struct err *e);
err_code api_stats_report(struct http_req *req, struct http_resp *resp,
                          struct err *e);
err_code api_sreq_list(struct http_req *req, struct http_resp *resp,
                       struct err *e);
err_code api_sreq_document(struct http_req *req, struct http_resp *resp,
                           struct err *e);
err_code api_sreq_sealed(struct http_req *req, struct http_resp *resp,
                         struct err *e);
/* Set resp's Content-Disposition for a download of a file a user named:
 * attachment with an ASCII filename "<what>-<id>[.ext]" (the extension
 * taken from name when it is 1 to 5 letters or digits) and, when it fits,
 * the name itself as RFC 5987 filename*=UTF-8''... percent-encoded, so no
 * byte of name can break the header. */
void api_attachment(struct http_resp *resp, const char *what, int64_t id,
                    const char *name);
/* api_ofd.c: OFD sealing and verification */
err_code api_sreq_seal_ofd(struct http_req *req, struct http_resp *resp,
                           struct err *e);
err_code api_verify_ofd(struct http_req *req, struct http_resp *resp,
                        struct err *e);

#endif
