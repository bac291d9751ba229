/*
 * system.c - readiness, the schema version, the audit chain verified with
 * the configured trust, and the online backup (system.h).  Moved out of
 * the handlers so that they call no store function (issue 15, item 5).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "custody.h"
#include "log.h"
#include "system.h"
#include "util.h"
#include "store.h"
#include "store_audit.h"
#include "store_event.h"
#include "store_seal.h"
#include "states.h"

#define READY_SIGN_MAX_AGE_MS 10000

/* A sign round-trip with the audit key when none succeeded recently: it
 * proves the token works and lets a token that came back reconnect. */
static void
probe_sign(const struct app *app, json_t *tokens)
{
    char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    uint8_t e32[32] = {0}, sig[CUSTODY_SIG_MAX];
    size_t siglen = 0, i;
    json_t *t;

    if (app->cfg->audit_key[0] == '\0' ||
        config_keyref(app->cfg->audit_key, tok, id, NULL) != ERR_OK)
        return;
    json_array_foreach(tokens, i, t) {
        json_t *age = json_object_get(t, "last_sign_age_ms");
        if (strcmp(json_string_value(json_object_get(t, "name")), tok) != 0)
            continue;
        if (json_is_true(json_object_get(t, "logged_in")) &&
            json_is_integer(age) &&
            json_integer_value(age) < READY_SIGN_MAX_AGE_MS)
            return;
        custody_sign_e(app->custody, tok, id, e32, sig, &siglen, NULL);
    }
}

err_code
system_conn(const struct app *app, struct store_conn **out, struct err *e)
{
    return store_conn_get(app->store, out, e);
}

uint64_t
system_db_round_trips(struct store_conn *db)
{
    return store_round_trips(db);
}

err_code
system_readiness(const struct app *app, struct store_conn *db,
                 json_t **tokens, struct err *e)
{
    struct err sub;
    const char *why = NULL;
    json_t *t;
    size_t i;
    err_code rc;

    *tokens = NULL;
    err_clear(&sub);
    if (atomic_load(&app->stopping))
        return err_set(e, ERR_UNAVAILABLE, "shutting down");
    rc = db ? store_ping(db, &sub)
            : err_set(&sub, ERR_DB_UNAVAILABLE, "no database connection");
    /* the class of the failure is sub's code: a store function whose
     * statement could not be prepared returns plain ERR_DB */
    if (rc != ERR_OK && sub.code == ERR_DB_UNAVAILABLE)
        return err_set(e, ERR_DB_UNAVAILABLE, "database: %s", sub.msg);
    if (rc != ERR_OK)
        return err_set(e, ERR_UNAVAILABLE, "database: %s", sub.msg);
    if (app->custody == NULL)
        return ERR_OK;
    if ((rc = custody_health(app->custody, tokens, &sub)) != ERR_OK)
        return err_set(e, ERR_UNAVAILABLE, "tokens: %s", sub.msg);
    if (*tokens != NULL) {
        probe_sign(app, *tokens);
        json_decref(*tokens);
        *tokens = NULL;
        if ((rc = custody_health(app->custody, tokens, &sub)) != ERR_OK)
            return err_set(e, ERR_UNAVAILABLE, "tokens: %s", sub.msg);
    }
    json_array_foreach(*tokens, i, t) {
        if (!json_is_true(json_object_get(t, "present")))
            why = "is not present";
        else if (!json_is_true(json_object_get(t, "logged_in")))
            why = "is not logged in";
        if (why != NULL) {
            rc = err_set(e, ERR_HSM_UNAVAILABLE, "token %s %s",
                         json_string_value(json_object_get(t, "name")), why);
            json_decref(*tokens);
            *tokens = NULL;
            return rc;
        }
    }
    return ERR_OK;
}

err_code
system_schema_version(struct store_conn *db, int *version, struct err *e)
{
    return store_schema_version(db, version, e);
}

/* The trusted audit public key (SPKI DER) from the configured token, into
 * key (AUDIT_PUBKEY_MAX); *len 0 when no audit key is configured. */
static err_code
audit_pubkey(const struct app *app, uint8_t *key, size_t *len,
             struct err *e)
{
    char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    uint8_t *der = NULL;
    size_t n = 0;
    err_code rc;

    *len = 0;
    if (app->custody == NULL || app->cfg->audit_key[0] == '\0')
        return ERR_OK;
    if ((rc = config_keyref(app->cfg->audit_key, tok, id, e)) != ERR_OK ||
        (rc = custody_public_key_der(app->custody, tok, id, &der, &n, e))
        != ERR_OK)
        return rc;
    if (n > AUDIT_PUBKEY_MAX) {
        free(der);
        return err_set(e, ERR_CRYPTO, "audit public key too large");
    }
    memcpy(key, der, n);
    *len = n;
    free(der);
    return ERR_OK;
}

err_code
system_audit_verify(const struct app *app, struct store_conn *conn,
                    const struct store_audit_checkpoint *exported,
                    int with_sink, struct audit_verify_report *r,
                    struct err *e)
{
    const struct config *cfg = app->cfg;
    struct audit_verify_opts o;
    uint8_t key[AUDIT_PUBKEY_MAX];
    size_t klen = 0;
    err_code rc;

    /* without the token's key no checkpoint can be trusted */
    if ((rc = audit_pubkey(app, key, &klen, e)) != ERR_OK)
        return rc;
    memset(&o, 0, sizeof(o));
    if (klen > 0) {
        o.pinned_key = key;
        o.pinned_key_len = klen;
    }
    o.exported = exported;
    o.nexported = exported != NULL;
    o.sink_file = with_sink ? cfg->audit_sink_file : NULL;
    o.every = cfg->audit_checkpoint_every;
    o.seconds = cfg->audit_checkpoint_seconds;
    o.prechain = cfg->audit_prechain_entries;
    return audit_verify(conn, &o, r, e);
}

err_code
system_audit_verify_recorded(const struct app *app,
                             const struct actor_ctx *a,
                             const struct store_audit_checkpoint *exported,
                             struct audit_verify_report *r, struct err *e)
{
    struct audit_event ev = {"audit.verify", "audit_log", NULL, AUDIT_OK,
                             NULL, NULL};
    json_t *details;
    err_code rc;

    if ((rc = system_audit_verify(app, a->db, exported, 1, r, e)) != ERR_OK)
        return rc;
    details = json_pack("{s:b, s:I}", "ok", r->ok, "first_bad_seq",
                        (json_int_t)r->bad_seq);
    ev.details = details;
    rc = audit_append(a->db, &a->who, &ev, e);
    json_decref(details);
    return rc;
}

/* Where a backup goes: database.backup_dir (created 0700). */
static err_code
backup_path(const struct app *app, const char *tag, char *out, size_t cap,
            struct err *e)
{
    const char *dir = app->cfg->backup_dir;
    char when[21];
    size_t i;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return err_set(e, ERR_IO, "%s: %s", dir, strerror(errno));
    util_time_rfc3339((time_t)(util_now_ms() / 1000), when);
    for (i = 0; when[i] != '\0'; i++)
        if (when[i] == ':')
            when[i] = '-';
    if ((size_t)snprintf(out, cap, "%s/seald-%s-%s.db", dir, when, tag)
        >= cap)
        return err_set(e, ERR_IO, "backup path too long");
    return ERR_OK;
}

err_code
system_backup(const struct app *app, const struct actor_ctx *a,
              const char *tag, char path[PATH_MAX], int64_t *bytes,
              struct audit_verify_report *r, struct err *e)
{
    struct audit_event ev = {"system.backup", "backup", NULL, AUDIT_OK, NULL,
                             NULL};
    struct store *bs = NULL;
    struct store_conn *bc = NULL;
    struct stat st;
    json_t *details = NULL;
    err_code rc;

    if ((rc = backup_path(app, tag, path, PATH_MAX, e)) != ERR_OK ||
        (rc = store_backup(a->db, path, e)) != ERR_OK)
        return rc;
    /* The copy must verify on its own, as a restore will demand (the sink
     * may already hold checkpoints newer than the copy). */
    if ((rc = store_open_readonly(path, NULL, &bs, &bc, e)) != ERR_OK)
        return rc;
    rc = system_audit_verify(app, bc, NULL, 0, r, e);
    store_close(bs);
    if (rc != ERR_OK)
        return rc;
    if (stat(path, &st) != 0)
        return err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
    *bytes = (int64_t)st.st_size;
    ev.target_id = path;
    details = json_pack("{s:I, s:b, s:I}", "head_seq", (json_int_t)r->head_seq,
                        "verified", r->ok, "bytes", (json_int_t)st.st_size);
    ev.details = details;
    rc = audit_append(a->db, &a->who, &ev, e);
    json_decref(details);
    if (rc == ERR_OK && !r->ok)
        log_event(LOG_WARN, "backup_unverified", "tag=%s path=%s msg=%s",
                  tag, path, r->reason);
    return rc;
}

/* Contract: see system.h. */
err_code
system_metrics_gauges(struct store_conn *db, struct metrics_gauges *g,
                      struct err *e)
{
    struct store_audit_checkpoint *cp;
    uint8_t hash[STORE_AUDIT_HASH_LEN];
    int64_t counts[SEAL_STATE__COUNT], seq = 0;
    int has_hash = 0;
    size_t i;
    err_code rc;

    memset(g, 0, sizeof(*g));
    if ((rc = store_audit_head(db, &seq, hash, &has_hash, e)) != ERR_OK)
        return rc;
    g->audit_entries = seq;
    g->checkpoint_age_s = -1;
    /* the checkpoint carries a key and a signature: not on the stack */
    if ((cp = calloc(1, sizeof(*cp))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    rc = store_audit_checkpoint_latest(db, cp, e);
    if (rc == ERR_OK) {
        int64_t age = (util_now_ms() - cp->ts_ms) / 1000;
        g->checkpoint_age_s = age > 0 ? age : 0;
    }
    free(cp);
    if (rc != ERR_OK && rc != ERR_NOT_FOUND)
        return rc;
    if ((rc = store_seal_count_by_state(db, counts, e)) != ERR_OK)
        return rc;
    for (i = 1; i < SEAL_STATE__COUNT && g->nstates < METRICS_STATES_MAX;
         i++) {
        g->state[g->nstates] = seal_state_name((enum seal_state)i);
        g->seals[g->nstates++] = counts[i];
    }
    /* the outbox: deliveries still to be made (retries included) */
    if ((rc = store_delivery_backlog(db, &g->outbox_backlog, e)) != ERR_OK)
        return rc;
    g->have_outbox = 1;
    g->have_db = 1;
    return ERR_OK;
}
