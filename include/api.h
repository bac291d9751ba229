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

/* api_account.c: the caller's own account */
err_code api_credential_rotate(struct http_req *req, struct http_resp *resp,
                               struct err *e);

#endif
