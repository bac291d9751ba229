/*
 * impression_check.h - the reverse filing adapter (issue 18 item 6; HLJ art. 11,
 * GD art. 11-12): the impression (印模) filed with the public-security
 * seal system, fetched by the physical seal's code through the configured
 * adapter (filing.impression_url), compared with the one an application
 * submitted, and the comparison recorded in the audit before the
 * reviewer decides.
 */
#ifndef SEALD_IMPRESSION_CHECK_H
#define SEALD_IMPRESSION_CHECK_H

#include <jansson.h>

#include "authz.h"

struct config;

#define IMPRESSION_CODE_MAX 32
#define IMPRESSION_MAX_BYTES (1024 * 1024)

/* For application app_id, which a must be able to review
 * (application.review over its organisation) and which awaits a decision
 * (submitted or under review): fetch the impression filed under code
 * (1-32 of [0-9A-Za-z-]) from cfg's adapter, compare it with the
 * submitted image (SM3), record the comparison on the application (the
 * one its decision will name: store_app_impression_set) and in the audit
 * (application.impression_check: code, outcome, both SM3s, same), and
 * answer both images in *out (new object; caller decrefs).  Nothing filed
 * under code is an outcome too ("not_filed", filed null): GD art. 12 lets
 * the applicant's image stand then, and the decision says so.
 * ERR_NOT_FOUND when no adapter is configured, ERR_CONFLICT when the
 * application is decided, ERR_UNAVAILABLE when the adapter fails; fetched
 * before the unit, never inside it. */
err_code impression_check(const struct actor_ctx *a, const struct config *cfg,
                          int64_t app_id, const char *code, json_t **out,
                          struct err *e);

#endif
