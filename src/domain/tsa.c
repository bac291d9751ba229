/*
 * tsa.c - owns the process's TSA trust anchors and the timestamp asked of
 * an outside TSA at signing (tsa.h).  The format library makes the query,
 * checks the reply and puts the token in the signature (ses_ts.c); the one
 * outbound HTTP client (fetch_url) carries it.  And seald as a TSA
 * (tsa_serve): the instance's TSA authority and its token sign what
 * ses_tsa.c builds.
 */
#include "tsa.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody.h"
#include "fetch.h"
#include "seal_int.h"
#include "log.h"
#include "ses.h"
#include "util.h"

#define TSA_REPLY_MAX   (SES_MAX_TIMESTAMP + 4096)   /* a reply's bytes */
#define TSA_CTYPE_QUERY "application/timestamp-query"
#define TSA_CTYPE_REPLY "application/timestamp-reply"

static pthread_mutex_t anchors_mu = PTHREAD_MUTEX_INITIALIZER;
static X509_STORE *anchors;          /* under anchors_mu; NULL: none */
static int anchors_loaded;           /* tsa_anchors_load has run     */

/* Contract: see tsa.h. */
err_code
tsa_anchors_load(const char *dir, struct err *e)
{
    X509_STORE *store = NULL, *old;
    int n = 0;
    err_code rc;

    if (dir != NULL && dir[0] != '\0' &&
        (rc = ses_trust_load(dir, NULL, &store, &n, e)) != ERR_OK)
        return err_wrap(e, rc, "tsa.anchors_dir %s", dir);
    if (store != NULL && n == 0) {
        X509_STORE_free(store);
        store = NULL;
    }
    pthread_mutex_lock(&anchors_mu);
    old = anchors;
    anchors = store;
    anchors_loaded = 1;
    pthread_mutex_unlock(&anchors_mu);
    X509_STORE_free(old);
    return ERR_OK;
}

/* Contract: see tsa.h. */
X509_STORE *
tsa_anchors_ref(const char *dir)
{
    X509_STORE *s = NULL;
    struct err e;
    int loaded;

    pthread_mutex_lock(&anchors_mu);
    loaded = anchors_loaded;
    pthread_mutex_unlock(&anchors_mu);
    if (!loaded && dir != NULL && tsa_anchors_load(dir, &e) != ERR_OK)
        log_event(LOG_WARN, "tsa_anchors_unreadable", "msg=%s", e.msg);
    pthread_mutex_lock(&anchors_mu);
    if (anchors != NULL && X509_STORE_up_ref(anchors))
        s = anchors;
    pthread_mutex_unlock(&anchors_mu);
    return s;
}

/* Ask cfg's TSA for a token over sig_value: *token (malloc'ed) and *gen
 * on ERR_OK; any failure is an error whose message says why. */
static err_code
ask_tsa(const struct config *cfg, const uint8_t *sig_value, size_t sig_len,
        uint8_t **token, size_t *token_len, time_t *gen, struct err *e)
{
    struct ses_ts_query q;
    struct fetch_opts fo;
    struct fetch_resp r;
    struct ses_ts_info info;
    struct ses_bytes val = {sig_value, sig_len};
    X509_STORE *store = NULL;
    err_code rc;

    memset(&r, 0, sizeof(r));
    if ((rc = ses_ts_query_new(sig_value, sig_len, cfg->tsa_hash, &q, e)) !=
        ERR_OK)
        return rc;
    memset(&fo, 0, sizeof(fo));
    fo.timeout_ms = (int)cfg->tsa_timeout_ms;
    fo.max_bytes = TSA_REPLY_MAX;
    fo.ca_file = cfg->tsa_ca_file[0] ? cfg->tsa_ca_file : NULL;
    if ((rc = fetch_url(cfg->tsa_url, TSA_CTYPE_QUERY, q.der, q.len, &fo, &r,
                        e)) != ERR_OK)
        goto out;
    if (r.status != 200) {
        rc = err_set(e, ERR_UNAVAILABLE, "the TSA answered HTTP %ld",
                     r.status);
        goto out;
    }
    if (strcmp(r.content_type, TSA_CTYPE_REPLY) != 0) {
        rc = err_set(e, ERR_MALFORMED, "the TSA answered '%.64s', not "
                     TSA_CTYPE_REPLY, r.content_type);
        goto out;
    }
    if ((store = tsa_anchors_ref(cfg->tsa_anchors_dir)) == NULL) {
        rc = err_set(e, ERR_CONFIG, "no TSA trust anchors in "
                     "tsa.anchors_dir");
        goto out;
    }
    if ((rc = ses_ts_reply_token(&q, &val, r.body, r.len, store, token,
                                 token_len, &info, e)) != ERR_OK)
        goto out;
    *gen = info.gen_time;
out:
    X509_STORE_free(store);
    fetch_resp_free(&r);
    ses_ts_query_free(&q);
    return rc;
}

/* Contract: see tsa.h. */
err_code
tsa_stamp(const struct config *cfg, uint8_t **der, size_t *len,
          struct tsa_outcome *o, struct err *e)
{
    uint8_t *val = NULL, *token = NULL, *out = NULL;
    size_t val_len = 0, token_len = 0, out_len = 0;
    struct err why;
    err_code rc = ERR_OK;

    memset(o, 0, sizeof(*o));
    o->status = "off";
    if (strcmp(cfg->tsa_policy, "off") == 0)
        return ERR_OK;
    err_clear(&why);
    if (ses_signature_value(*der, *len, &val, &val_len, &why) != ERR_OK ||
        ask_tsa(cfg, val, val_len, &token, &token_len, &o->gen_time, &why) !=
            ERR_OK ||
        ses_signature_add_timestamp(*der, *len, token, token_len, &out,
                                    &out_len, &why) != ERR_OK) {
        o->status = "none";
        /* the TSA's URL and curl's words go to the log only */
        snprintf(o->reason, sizeof(o->reason), "no valid timestamp from the "
                 "TSA (the server log has why: event tsa_failed)");
        log_event(LOG_WARN, "tsa_failed", "policy=%s url=%s msg=%s",
                  cfg->tsa_policy, cfg->tsa_url, why.msg);
        if (strcmp(cfg->tsa_policy, "required") == 0)
            rc = err_set(e, ERR_TSA_UNAVAILABLE, "no timestamp (tsa.policy "
                         "= required): %s", why.msg);
        goto out;
    }
    free(*der);
    *der = out;
    *len = out_len;
    out = NULL;
    o->status = "added";
out:
    free(out);
    free(token);
    free(val);
    return rc;
}

/* Contract: see tsa.h. */
json_t *
tsa_outcome_json(const struct tsa_outcome *o)
{
    json_t *j = json_pack("{s:s}", "status", o->status);
    char buf[21];

    if (j == NULL)
        return NULL;
    if (strcmp(o->status, "added") == 0) {
        util_time_rfc3339(o->gen_time, buf);
        json_object_set_new(j, "gen_time", json_string(buf));
    } else if (strcmp(o->status, "none") == 0) {
        json_object_set_new(j, "reason", json_string(o->reason));
    }
    return j;
}

/* ses_tsa_signer_fn over custody: ctx is the TSA's struct ca_key; an SM2
 * token signs e = the SM3 digest as given, an ECDSA one the SHA-256. */
static err_code
tsa_token_sign(void *ctx, const uint8_t dgst[32], uint8_t *sig,
               size_t *sig_len, struct err *e)
{
    const struct ca_key *k = ctx;

    if (custody_token_is_sm2(k->custody, k->token) == 1)
        return custody_sign_e(k->custody, k->token, k->key_id, dgst, sig,
                              sig_len, e);
    return custody_sign_digest(k->custody, k->token, k->key_id, dgst, sig,
                               sig_len, e);
}

/* Contract: see tsa.h. */
err_code
tsa_serve(struct store_conn *db, struct custody *c, const struct config *cfg,
          const uint8_t *query, size_t len, uint8_t **out, size_t *out_len,
          int *granted, struct err *e)
{
    struct authority au;
    struct ses_tsa_params p;
    err_code rc;

    *out = NULL;
    *out_len = 0;
    *granted = 0;
    if ((rc = authority_load(db, c, "tsa", &au, e)) != ERR_OK) {
        if (rc == ERR_CONFIG)
            rc = err_set(e, ERR_UNAVAILABLE, "this instance has no TSA key: "
                         "it was made before seald could be a TSA; add one "
                         "with `seald tsa-key` (manual 9.5)");
        goto out;
    }
    memset(&p, 0, sizeof(p));
    p.cert = au.cert;
    p.cert_len = au.cert_len;
    p.sm2 = custody_token_is_sm2(c, au.token) == 1;
    p.policy = cfg->tsa_serve_policy;
    p.now = time(NULL);
    p.sign = tsa_token_sign;
    p.sign_ctx = &au.key;
    rc = ses_tsa_respond(query, len, &p, out, out_len, granted, e);
    if (rc == ERR_NOT_FOUND)
        rc = err_set(e, ERR_UNAVAILABLE, "the TSA key %s is not in its "
                     "token (after seald tsa-key, restart the daemon)",
                     au.ref);
out:
    authority_free(&au);
    return rc;
}
