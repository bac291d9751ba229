/*
 * tsa.h - timestamps (issue 17 item 8): the TSA trust anchors of the
 * process, and the timestamp seald asks an outside TSA for at signing
 * (RFC 3161 over HTTP, through fetch_url), by the policy of [tsa].
 *
 * Policy (tsa.policy): off - no timestamp; optional - a signature is given
 * out without one when the TSA fails, and its result says so; required -
 * a TSA failure refuses the signature (ERR_TSA_UNAVAILABLE) before
 * anything is recorded, so nothing is used of the grant.  A token is put
 * in only after it has verified: status granted, the query's nonce, the
 * imprint over the signature value, the TSA's signature and its chain to
 * the TSA anchors (ses_ts_reply_token).
 */
#ifndef SEALD_TSA_H
#define SEALD_TSA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509_vfy.h>

#include "config.h"
#include "err.h"

/* Load the TSA trust anchors of the process from dir (every PEM or DER
 * certificate file in it; "" or NULL: none), replacing those loaded
 * before.  Thread-safe.  ERR_IO when dir cannot be read. */
err_code tsa_anchors_load(const char *dir, struct err *e);

/* The process's TSA anchors: a new reference (X509_STORE_free) or NULL
 * when none are loaded.  dir (may be NULL): loaded first when nothing has
 * been loaded yet, so that signing works whoever starts first. */
X509_STORE *tsa_anchors_ref(const char *dir);

/* What tsa_stamp did, for the signing result. */
struct tsa_outcome {
    const char *status;          /* "off" | "added" | "none"             */
    time_t      gen_time;        /* "added": the token's genTime         */
    char        reason[ERR_MSG_MAX];   /* "none": why                    */
};

/* Timestamp the SES_Signature *der (*len bytes, malloc'ed) by cfg's
 * policy: on "added" *der and *len are replaced by the signature with the
 * token in its timeStamp (the old buffer freed).  ERR_TSA_UNAVAILABLE when
 * the policy is required and the TSA failed (*der unchanged); other errors
 * only for memory.  *o says what happened in every case. */
err_code tsa_stamp(const struct config *cfg, uint8_t **der, size_t *len,
                   struct tsa_outcome *o, struct err *e);

/* The signing result's "timestamp" member for o (new reference). */
json_t *tsa_outcome_json(const struct tsa_outcome *o);

/*
 * seald as a TSA (POST /tsa): the TimeStampResp (DER, *out malloc'ed,
 * caller frees) to the TimeStampReq query, signed with the instance's TSA
 * authority (role 'tsa') in custody c, policy cfg->tsa_serve_policy.  A
 * query the TSA refuses is a rejection reply with ERR_OK (*granted 0).
 * ERR_UNAVAILABLE when the instance has no TSA key (made before
 * migration 013: `seald tsa-key`), ERR_HSM_UNAVAILABLE from custody.
 */
struct store_conn;
struct custody;
err_code tsa_serve(struct store_conn *db, struct custody *c,
                   const struct config *cfg, const uint8_t *query,
                   size_t len, uint8_t **out, size_t *out_len, int *granted,
                   struct err *e);

#endif
