/*
 * api.h - route handlers, one file per resource (api_<resource>.c).  Each
 * handler parses and validates its input, calls the domain or store layer,
 * and fills the response.  Handlers never write SQL and never touch
 * libmicrohttpd.
 */
#ifndef SEALD_API_H
#define SEALD_API_H

#include "http.h"

/* api_system.c: probes, version, identity */
err_code api_healthz(struct http_req *req, struct http_resp *resp,
                     struct err *e);
err_code api_readyz(struct http_req *req, struct http_resp *resp,
                    struct err *e);
err_code api_version(struct http_req *req, struct http_resp *resp,
                     struct err *e);
err_code api_whoami(struct http_req *req, struct http_resp *resp,
                    struct err *e);

#define API_HANDLER(name) \
    err_code name(struct http_req *req, struct http_resp *resp, struct err *e)

/* api_system.c */
API_HANDLER(api_permissions);

/* api_org.c: organisations */
API_HANDLER(api_org_list);
API_HANDLER(api_org_create);
API_HANDLER(api_org_get);
API_HANDLER(api_org_update);
API_HANDLER(api_org_disable);

/* api_account.c: accounts, credentials, roles, deputies */
API_HANDLER(api_credential_rotate);
API_HANDLER(api_account_list);
API_HANDLER(api_account_create);
API_HANDLER(api_account_get);
API_HANDLER(api_account_disable);
API_HANDLER(api_account_issue);
API_HANDLER(api_account_revoke);
API_HANDLER(api_role_grant);
API_HANDLER(api_role_remove);
API_HANDLER(api_role_bootstrap);
API_HANDLER(api_account_reconfirm);
API_HANDLER(api_deputy_list);
API_HANDLER(api_deputy_request);
API_HANDLER(api_deputy_approve);
API_HANDLER(api_deputy_reject);

/* BEGIN api-audit */
/* api_audit.c: audit queries, chain verification, checkpoints, backup */
API_HANDLER(api_audit_list);
API_HANDLER(api_audit_verify);
API_HANDLER(api_audit_checkpoint);
API_HANDLER(api_audit_checkpoint_latest);
API_HANDLER(api_admin_backup);
/* END api-audit */
/* BEGIN api-seal */
/* api_application.c: seal applications */
struct store_history;
/* store_history_fn appending one history row as JSON to the array ctx. */
err_code api_history_add(void *ctx, const struct store_history *h);
struct app_material;
/* Read the "materials" array of body into m[] (decoded data into bufs[],
 * which the caller frees); *n gets how many. */
err_code api_parse_materials(const json_t *body, struct app_material *m,
                             uint8_t **bufs, size_t *n, struct err *e);
API_HANDLER(api_app_list);
API_HANDLER(api_app_submit);
API_HANDLER(api_app_get);
API_HANDLER(api_app_history);
API_HANDLER(api_app_resubmit);
API_HANDLER(api_app_review);
/* api_seal.c: making, seals, status */
API_HANDLER(api_seal_make);
API_HANDLER(api_seal_csr);
API_HANDLER(api_seal_certificate);
API_HANDLER(api_seal_list);
API_HANDLER(api_seal_get);
API_HANDLER(api_seal_file);
API_HANDLER(api_seal_picture);
API_HANDLER(api_seal_history);
API_HANDLER(api_seal_confirm);
API_HANDLER(api_seal_filing);
API_HANDLER(api_seal_filed);
API_HANDLER(api_seal_suspend);
API_HANDLER(api_seal_resume);
API_HANDLER(api_seal_loss);
API_HANDLER(api_seal_loss_resolve);
API_HANDLER(api_seal_renewal);
API_HANDLER(api_seal_revocation);
API_HANDLER(api_seal_status);
API_HANDLER(api_seal_status_list);
/* END api-seal */
/* BEGIN api-verify */
/* Take one token from the caller's verification bucket (the verifier role
 * has its own, larger one); ERR_RATE_LIMITED with resp->retry_after set. */
err_code api_verify_rate(struct http_req *req, struct http_resp *resp,
                         struct err *e);
/* api_verify.c: signature and seal verification */
API_HANDLER(api_verify_signature);
API_HANDLER(api_verify_seal);
/* END api-verify */
/* BEGIN api-sign */
/* api_sign.c: signing requests, signing, usage */
API_HANDLER(api_sreq_submit);
API_HANDLER(api_sreq_get);
API_HANDLER(api_sreq_approve);
API_HANDLER(api_sreq_reject);
API_HANDLER(api_sreq_cancel);
API_HANDLER(api_sreq_sign);
API_HANDLER(api_sreq_upload);
API_HANDLER(api_signature_file);
API_HANDLER(api_usage);
/* END api-sign */
/* BEGIN api-ofd */
/* api_ofd.c: OFD sealing and verification */
API_HANDLER(api_sreq_seal_ofd);
API_HANDLER(api_verify_ofd);
/* END api-ofd */

#endif
