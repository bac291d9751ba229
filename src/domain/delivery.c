/*
 * delivery.c - the delivery engine (delivery.h): the worker thread that
 * queues each destination's events, sends the oldest due one, records
 * the answer, backs off and dead-letters; the bodies (a webhook's event
 * JSON, a filing destination's seal record) and their signature; the
 * operator's list and replay.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "blobcrypt.h"
#include "config.h"
#include "delivery.h"
#include "event.h"
#include "fetch.h"
#include "lease.h"
#include "log.h"
#include "seal.h"
#include "store.h"
#include "store_account.h"
#include "store_event.h"
#include "store_seal.h"
#include "unit.h"
#include "util.h"

#define DELIVERY_SECRET_MIN 16
#define DELIVERY_SECRET_MAX 1024
/* How many events one turn queues per destination, and sends per
 * destination (the rest wait for the next turn, which comes at once). */
#define DELIVERY_QUEUE_BATCH 200
#define DELIVERY_SEND_BATCH  50
/* A destination's answer is kept this long (its start) */
#define DELIVERY_ANSWER_MAX  (64 * 1024)

/* The seal events a filing destination takes when its filter is "*". */
static const char *const filing_default[] = {
    "seal.made", "seal.activated", "seal.suspended", "seal.auto_suspended",
    "seal.resumed", "seal.lost", "seal.reinstated", "seal.revoked",
    "seal.expired", NULL};

struct dest {
    const struct config_dest *c;
    uint8_t *secret;
    size_t   secret_len;
    int64_t  queued_to;     /* its cursor as this node last moved it */
};

struct delivery {
    struct app     *app;
    struct dest     dests[CONFIG_MAX_DESTS];
    size_t          ndests;
    pthread_t       thread;
    int             started;
    pthread_mutex_t lock;
    int             stop;
};

/* Contract: delivery.h. */
err_code
delivery_sign(const uint8_t *key, size_t key_len, long long t,
              const char *body, size_t len, char *out, size_t cap,
              struct err *e)
{
    char ts[24];
    uint8_t mac[EVP_MAX_MD_SIZE];
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    size_t maclen = 0, tl;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[2];
    err_code rc = ERR_OK;

    tl = (size_t)snprintf(ts, sizeof(ts), "%lld.", t);
    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SM3", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (ctx == NULL || !EVP_MAC_init(ctx, key, key_len, params) ||
        !EVP_MAC_update(ctx, (const uint8_t *)ts, tl) ||
        !EVP_MAC_update(ctx, (const uint8_t *)body, len) ||
        !EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)))
        rc = err_set(e, ERR_CRYPTO, "HMAC-SM3 failed");
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    if (rc != ERR_OK)
        return rc;
    util_hex_encode(mac, maclen, hex);
    if ((size_t)snprintf(out, cap, "t=%lld,v1=%s", t, hex) >= cap)
        return err_set(e, ERR_INTERNAL, "signature header too long");
    return ERR_OK;
}

/* 1 if destination d takes events of type ty about a target_type. */
static int
dest_takes(const struct config_dest *d, const char *ty,
           const char *target_type)
{
    size_t n = strlen(ty), i;
    const char *p = d->events;

    if (strcmp(d->kind, "filing") == 0) {
        if (strcmp(target_type, "seal") != 0)
            return 0;
        if (strcmp(d->events, "*") == 0) {
            for (i = 0; filing_default[i] != NULL; i++)
                if (strcmp(filing_default[i], ty) == 0)
                    return 1;
            return 0;
        }
    } else if (strcmp(d->events, "*") == 0) {
        return 1;
    }
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == n && strncmp(p, ty, n) == 0)
            return 1;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return 0;
}

/* The queueing unit: dest's events after its cursor that it takes become
 * pending deliveries, and the cursor moves past every event read, in one
 * transaction (a crash leaves both or neither). */
struct queue_ctx {
    const struct config_dest *d;
    struct store_conn *db;
    int64_t now, cursor, last;
};

/* Each event read after the cursor: queued when the destination takes
 * it; the cursor passes it either way. */
static err_code
queue_row(const struct store_event *ev, void *vctx, struct err *e)
{
    struct queue_ctx *q = vctx;

    q->last = ev->seq;
    if (!dest_takes(q->d, ev->type, ev->target_type))
        return ERR_OK;
    return store_delivery_add(q->db, q->d->name, ev->seq, q->now, e);
}

/* The queueing unit's work (quiet: the rows are the record). */
static err_code
queue_work(struct unit *u, void *vctx, struct err *e)
{
    struct queue_ctx *q = vctx;
    err_code rc;

    unit_quiet(u);
    q->db = u->a.db;
    if ((rc = store_delivery_cursor(u->a.db, q->d->name, &q->cursor, e))
        != ERR_OK)
        return rc;
    q->last = q->cursor;
    if ((rc = store_event_list(u->a.db, NULL, -1, q->cursor,
                               DELIVERY_QUEUE_BATCH, queue_row, q, e))
        != ERR_OK || q->last == q->cursor)
        return rc;
    return store_delivery_cursor_set(u->a.db, q->d->name, q->last, e);
}

/* The filing record (备案) of the seal an event names, as the filing
 * destinations get it: the seal, its organisation, the person handling
 * it (custodian) and the applicant, the impression (its image and
 * SM3), the seal and certificate files, and the times; with the event
 * that sends it. */
static err_code
filing_body(struct store_conn *db, const struct store_event *ev,
            char **out, struct err *e)
{
    struct actor_ctx a = {db, NULL, {.role = "system",
                                     .client_addr = "delivery"}};
    struct store_seal s;
    struct store_org org;
    struct store_app app;
    struct store_account cust, appl;
    uint8_t *der = NULL, *cert = NULL, *img = NULL;
    size_t len = 0, clen = 0, ilen = 0;
    char *b64 = NULL, *cb64 = NULL, *ib64 = NULL, sm3[65];
    json_t *j = NULL;
    err_code rc;

    *out = NULL;
    memset(&cust, 0, sizeof(cust));
    memset(&appl, 0, sizeof(appl));
    if ((rc = store_seal_get(db, ev->target_id, &s, e)) != ERR_OK ||
        (rc = seal_filing_parts(&a, &s, &org, &app, &der, &len, e))
            != ERR_OK ||
        (rc = store_seal_blob(db, s.id, "cert", &cert, &clen, e))
            != ERR_OK ||
        (rc = store_app_image(db, app.id, &img, &ilen, e)) != ERR_OK ||
        (rc = blob_open_in_place(&(struct blob_ref){BLOB_IMAGE, 0,
                                                    app.image_sm3},
                                 &img, &ilen, e)) != ERR_OK ||
        (rc = util_b64_encode(img, ilen, &ib64, e)) != ERR_OK ||
        (rc = util_b64_encode(der, len, &b64, e)) != ERR_OK ||
        (rc = util_b64_encode(cert, clen, &cb64, e)) != ERR_OK)
        goto done;
    if (store_account_get(db, s.custodian_id, &cust, e) != ERR_OK)
        memset(&cust, 0, sizeof(cust));
    if (store_account_get(db, app.applicant_id, &appl, e) != ERR_OK)
        memset(&appl, 0, sizeof(appl));
    err_clear(e);
    util_hex_encode(app.image_sm3, sizeof(app.image_sm3), sm3);
    j = json_pack(
        "{s:s, s:{s:s, s:I, s:s, s:I}, "
        "s:{s:s, s:s, s:s, s:s?, s:s?, s:s, s:I}, "
        "s:{s:I, s:s, s:s?}, "
        "s:{s:{s:I, s:s}, s:{s:I, s:s}}, "
        "s:{s:s, s:s, s:s}, s:{s:s}, "
        "s:{s:I, s:I, s:I, s:I, s:I}}",
        "record_type", "seald-seal-filing-2",
        "event", "id", ev->event_id, "seq", (json_int_t)ev->seq,
        "type", ev->type, "ts_ms", (json_int_t)ev->ts_ms,
        "seal", "esid", s.esid, "name", s.name, "kind", s.kind,
        "subkind", app.subkind[0] ? app.subkind : NULL,
        "business", app.business[0] ? app.business : NULL,
        "state", seal_state_name(s.state), "version", (json_int_t)s.version,
        "unit", "id", (json_int_t)org.id, "name", org.name,
        "credit_code", org.credit_code[0] ? org.credit_code : NULL,
        "persons", "custodian", "id", (json_int_t)s.custodian_id,
        "name", cust.display_name[0] ? cust.display_name : cust.name,
        "applicant", "id", (json_int_t)app.applicant_id,
        "name", appl.display_name[0] ? appl.display_name : appl.name,
        "impression", "sm3", sm3, "type", app.image_type, "data", ib64,
        "certificate", "der", cb64,
        "times", "made_ms", (json_int_t)s.made_ms,
        "confirmed_ms", (json_int_t)s.confirmed_ms,
        "valid_start_ms", (json_int_t)s.valid_start_ms,
        "valid_end_ms", (json_int_t)s.valid_end_ms,
        "state_since_ms", (json_int_t)s.state_since_ms);
    if (j == NULL || json_object_set_new(json_object_get(j, "seal"),
                                         "seal_der", json_string(b64)) != 0 ||
        (*out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        rc = err_set(e, ERR_NOMEM, "out of memory");
done:
    json_decref(j);
    free(der);
    free(cert);
    free(img);
    free(b64);
    free(cb64);
    free(ib64);
    return rc;
}

/* The recording unit of one attempt. */
struct mark_ctx {
    const struct delivery       *dv;
    const struct dest           *ds;
    const struct store_delivery *d;
    const char *state;
    int64_t next_ms;
    int     status;
    const char *reply;
};

/* After a filing record of seal esid was delivered: once every filing
 * destination has had one of its records, the seal is filed (备案), as
 * POST /api/v1/seals/ESID/filing marks it by hand, and that is audited
 * (seal.file, by the delivery).  *filed 1 when this delivery filed it. */
static err_code
mark_filed(struct unit *u, const struct delivery *dv, const char *esid,
           int *filed, struct err *e)
{
    struct store_seal s;
    json_t *names;
    size_t i;
    int got;
    err_code rc;

    *filed = 0;
    /* the seal first: once filed (its first records delivered), the later
     * records of its life cost one read, not one per destination */
    if ((rc = store_seal_get(u->a.db, esid, &s, e)) != ERR_OK)
        return rc == ERR_NOT_FOUND ? ERR_OK : rc;
    if (strcmp(s.filing_state, "pending") != 0)
        return ERR_OK;
    for (i = 0; i < dv->ndests; i++) {
        if (strcmp(dv->dests[i].c->kind, "filing") != 0)
            continue;
        if ((rc = store_delivery_seal_delivered(u->a.db, dv->dests[i].c->name,
                                                esid, &got, e)) != ERR_OK)
            return rc;
        if (!got)
            return ERR_OK;
    }
    if ((rc = store_seal_filed(u->a.db, s.id, util_now_ms(), e)) != ERR_OK)
        return rc;
    if ((names = json_array()) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    for (i = 0; i < dv->ndests; i++)
        if (strcmp(dv->dests[i].c->kind, "filing") == 0)
            json_array_append_new(names, json_string(dv->dests[i].c->name));
    *filed = 1;
    return unit_audit(u, "seal.file", "seal", esid,
                      json_pack("{s:s, s:o}", "by", "delivery",
                                "destinations", names), e);
}

/* Record the attempt; a dead letter is audited (delivery.fail), and a
 * delivery that completes a seal's filing files it (mark_filed). */
static err_code
mark_work(struct unit *u, void *vctx, struct err *e)
{
    struct mark_ctx *m = vctx;
    int filed = 0;
    err_code rc;

    if ((rc = store_delivery_set(u->a.db, m->d->id, m->d->attempts,
                                 m->state, m->next_ms, m->status, m->reply,
                                 util_now_ms(), e)) != ERR_OK)
        return rc;
    if (!strcmp(m->state, "delivered") && !strcmp(m->ds->c->kind, "filing") &&
        !strcmp(m->d->ev.target_type, "seal") &&
        (rc = mark_filed(u, m->dv, m->d->ev.target_id, &filed, e)) != ERR_OK)
        return rc;
    if (filed)
        return ERR_OK;
    if (strcmp(m->state, "failed") != 0) {
        unit_quiet(u);      /* a delivery or a retry: its row says it */
        return ERR_OK;
    }
    /* the dead letter is an operator's business: audited */
    return unit_audit_id(u, "delivery.fail", "delivery", m->d->id,
                         json_pack("{s:s, s:I, s:s, s:i, s:i}", "destination",
                                   m->d->dest, "seq", (json_int_t)m->d->ev.seq,
                                   "event_id", m->d->ev.event_id, "attempts",
                                   m->d->attempts + 1, "status", m->status),
                         e);
}

/* When the next try of a delivery that has failed `tries` times is due:
 * backoff_ms * 2^(tries-1), at most backoff_max_ms, times a random factor
 * in [0.5, 1.0) so that many deliveries failing at once do not come back
 * at once. */
static int64_t
backoff_ms(const struct config *cfg, int tries)
{
    uint32_t r = 0;
    double b = (double)cfg->events_backoff_ms;
    struct err e;

    while (--tries > 0 && b < (double)cfg->events_backoff_max_ms)
        b *= 2;
    if (b > (double)cfg->events_backoff_max_ms)
        b = (double)cfg->events_backoff_max_ms;
    if (util_random(&r, sizeof(r), &e) != ERR_OK)
        r = 0;
    return (int64_t)(b * (0.5 + (double)r / 4294967296.0 / 2));
}

/* Keep a printable start of a destination's answer. */
static void
reply_text(const struct fetch_resp *r, const char *fallback, char *out,
           size_t cap)
{
    size_t i, n = 0;

    if (r == NULL || r->body == NULL || r->len == 0) {
        snprintf(out, cap, "%s", fallback);
        return;
    }
    for (i = 0; i < r->len && n + 1 < cap; i++)
        out[n++] = r->body[i] >= 0x20 && r->body[i] < 0x7f ? (char)r->body[i]
                                                          : '.';
    out[n] = '\0';
}

/* Try d (the oldest due delivery of destination ds) once and record the
 * answer.  *ok 1 when delivered. */
static err_code
attempt(struct delivery *dv, struct store_conn *db, const struct dest *ds,
        const struct store_delivery *d, int *ok, struct err *e)
{
    const struct config *cfg = dv->app->cfg;
    struct actor_ctx a = {db, NULL, {.role = "system",
                                     .client_addr = "delivery"}};
    char *body = NULL, sig[128], h_sig[160], h_id[80], h_type[80], h_seq[48],
         h_try[48], h_key[80], h_del[48], reply[DELIVERY_REPLY_MAX];
    const char *headers[8];
    struct fetch_opts fo;
    struct fetch_resp r;
    struct mark_ctx m;
    json_t *j;
    err_code rc, frc;

    *ok = 0;
    memset(&r, 0, sizeof(r));
    if (strcmp(ds->c->kind, "filing") == 0) {
        /* a record that cannot be built (its seal unreadable) is a failed
         * try like any other: backed off and dead-lettered, not retried
         * at every turn while it holds the later ones back */
        if ((frc = filing_body(db, &d->ev, &body, e)) != ERR_OK) {
            if (frc == ERR_NOMEM || frc == ERR_DB ||
                frc == ERR_DB_UNAVAILABLE)
                return frc;
            goto record;
        }
    } else {
        if ((j = event_json(&d->ev)) == NULL ||
            (body = json_dumps(j, JSON_COMPACT)) == NULL) {
            json_decref(j);
            return err_set(e, ERR_NOMEM, "out of memory");
        }
        json_decref(j);
    }
    if ((rc = delivery_sign(ds->secret, ds->secret_len,
                            (long long)(util_now_ms() / 1000), body,
                            strlen(body), sig, sizeof(sig), e)) != ERR_OK) {
        free(body);
        return rc;
    }
    snprintf(h_sig, sizeof(h_sig), "Seald-Signature: %s", sig);
    snprintf(h_id, sizeof(h_id), "Seald-Event-Id: %s", d->ev.event_id);
    snprintf(h_key, sizeof(h_key), "Idempotency-Key: %s", d->ev.event_id);
    snprintf(h_type, sizeof(h_type), "Seald-Event-Type: %s", d->ev.type);
    snprintf(h_seq, sizeof(h_seq), "Seald-Event-Seq: %lld",
             (long long)d->ev.seq);
    snprintf(h_del, sizeof(h_del), "Seald-Delivery: %lld", (long long)d->id);
    snprintf(h_try, sizeof(h_try), "Seald-Delivery-Attempt: %d",
             d->attempts + 1);
    headers[0] = h_sig;
    headers[1] = h_id;
    headers[2] = h_key;
    headers[3] = h_type;
    headers[4] = h_seq;
    headers[5] = h_del;
    headers[6] = h_try;
    headers[7] = NULL;
    memset(&fo, 0, sizeof(fo));
    fo.timeout_ms = ds->c->timeout_ms;
    fo.max_bytes = DELIVERY_ANSWER_MAX;
    fo.ca_file = ds->c->ca_file[0] ? ds->c->ca_file : NULL;
    fo.headers = headers;
    frc = fetch_url(ds->c->url, "application/json", (const uint8_t *)body,
                    strlen(body), &fo, &r, e);
record:
    free(body);
    memset(&m, 0, sizeof(m));
    m.dv = dv;
    m.ds = ds;
    m.d = d;
    m.status = frc == ERR_OK ? (int)r.status : 0;
    if (frc == ERR_OK && r.status >= 200 && r.status < 300) {
        *ok = 1;
        m.state = "delivered";
        m.next_ms = 0;
    } else if (d->attempts + 1 >= cfg->events_delivery_attempts) {
        m.state = "failed";
        m.next_ms = 0;
    } else {
        m.state = "pending";
        m.next_ms = util_now_ms() + backoff_ms(cfg, d->attempts + 1);
    }
    reply_text(frc == ERR_OK ? &r : NULL, frc == ERR_OK ? "" : e->msg, reply,
               sizeof(reply));
    m.reply = reply;
    fetch_resp_free(&r);
    log_event(*ok ? LOG_INFO : LOG_WARN, "delivery",
              "destination=%s seq=%lld type=%s attempt=%d status=%d "
              "state=%s", d->dest, (long long)d->ev.seq, d->ev.type,
              d->attempts + 1, m.status, m.state);
    err_clear(e);
    rc = unit_run(&a, mark_work, &m, e);
    if (rc == ERR_CONFLICT) {       /* replayed or moved meanwhile */
        err_clear(e);
        rc = ERR_OK;
    }
    return rc;
}

/* The lease lasts one period of the worker, the longest attempt, and a
 * grace: the holder renews it before each attempt. */
static int64_t
lease_period(const struct delivery *dv)
{
    int64_t p = dv->app->cfg->events_delivery_interval_ms + 2000;
    size_t i;
    int longest = 0;

    for (i = 0; i < dv->ndests; i++)
        if (dv->dests[i].c->timeout_ms > longest)
            longest = dv->dests[i].c->timeout_ms;
    return p + longest;
}

/* One turn: if this node holds the lease, queue every destination's new
 * events and send each destination's due deliveries in seq order, the
 * first that fails (and is not dead yet) holding back the later ones.
 * *more 1 when a batch was full (the next turn should come at once). */
static void
turn(struct delivery *dv, int *more)
{
    struct store_conn *db;
    struct err e;
    size_t i;
    int64_t head = 0;
    int won = 0, k;

    *more = 0;
    err_clear(&e);
    if (store_conn_get(dv->app->store, &db, &e) != ERR_OK ||
        lease_claim(db, LEASE_JOB_DELIVERIES, lease_period(dv), &won, &e)
            != ERR_OK) {
        log_event(LOG_ERROR, "delivery", "msg=%s", e.msg);
        return;
    }
    if (!won)
        return;
    /* an idle turn is one read: nothing to queue while the head has not
     * passed what was queued (the cursor only moves forward) */
    if (store_event_head(db, &head, &e) != ERR_OK) {
        log_event(LOG_ERROR, "delivery", "msg=%s", e.msg);
        return;
    }
    for (i = 0; i < dv->ndests; i++) {
        struct dest *ds = &dv->dests[i];
        struct actor_ctx a = {db, NULL, {.role = "system",
                                         .client_addr = "delivery"}};
        struct queue_ctx q = {ds->c, NULL, util_now_ms(), 0, 0};

        if (head > ds->queued_to) {
            if (unit_run(&a, queue_work, &q, &e) != ERR_OK) {
                log_event(LOG_ERROR, "delivery", "destination=%s msg=%s",
                          ds->c->name, e.msg);
                err_clear(&e);
                continue;
            }
            ds->queued_to = q.last;
            if (q.last - q.cursor >= DELIVERY_QUEUE_BATCH)
                *more = 1;
        }
        for (k = 0; k < DELIVERY_SEND_BATCH; k++) {
            struct store_delivery d;
            int found = 0, ok = 0;

            pthread_mutex_lock(&dv->lock);
            if (dv->stop) {
                pthread_mutex_unlock(&dv->lock);
                return;
            }
            pthread_mutex_unlock(&dv->lock);
            if (store_delivery_next(db, ds->c->name, &d, &found, &e)
                    != ERR_OK || !found || d.next_ms > util_now_ms())
                break;
            if (lease_claim(db, LEASE_JOB_DELIVERIES, lease_period(dv),
                            &won, &e) != ERR_OK || !won)
                return;
            if (attempt(dv, db, ds, &d, &ok, &e) != ERR_OK) {
                log_event(LOG_ERROR, "delivery", "destination=%s msg=%s",
                          ds->c->name, e.msg);
                err_clear(&e);
                break;
            }
            if (!ok && strcmp(d.state, "pending") == 0 &&
                d.attempts + 1 < dv->app->cfg->events_delivery_attempts)
                break;      /* in order: the later ones wait for it */
        }
        if (k == DELIVERY_SEND_BATCH)
            *more = 1;
        err_clear(&e);
    }
}

/* The worker thread: turns until stopped, waiting between them for a
 * commit of this node or the interval; gives the lease back at the end. */
static void *
loop(void *arg)
{
    struct delivery *dv = arg;
    struct store_conn *db;
    struct err e;
    int more = 0;

    for (;;) {
        uint64_t gen = event_generation();

        pthread_mutex_lock(&dv->lock);
        if (dv->stop) {
            pthread_mutex_unlock(&dv->lock);
            break;
        }
        pthread_mutex_unlock(&dv->lock);
        turn(dv, &more);
        if (!more)
            event_wait(gen, (int)dv->app->cfg->events_delivery_interval_ms);
    }
    err_clear(&e);
    if (store_conn_get(dv->app->store, &db, &e) == ERR_OK)
        lease_release(db, LEASE_JOB_DELIVERIES);
    return NULL;
}

/* Contract: delivery.h. */
err_code
delivery_start(struct app *app, struct delivery **out, struct err *e)
{
    struct delivery *dv = calloc(1, sizeof(*dv));
    const struct config *cfg = app->cfg;
    size_t i;
    err_code rc;

    *out = NULL;
    if (dv == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    dv->app = app;
    pthread_mutex_init(&dv->lock, NULL);
    for (i = 0; i < cfg->ndests; i++) {
        struct dest *ds = &dv->dests[dv->ndests];

        ds->c = &cfg->dests[i];
        if ((rc = util_read_secret(ds->c->secret_file, DELIVERY_SECRET_MAX,
                                   &ds->secret, &ds->secret_len, e))
            != ERR_OK) {
            delivery_stop(dv);
            return err_wrap(e, rc, "destination.%s secret_file",
                            cfg->dests[i].name);
        }
        dv->ndests++;
        /* a trailing newline is the file's, not the key's */
        while (ds->secret_len > 0 &&
               (ds->secret[ds->secret_len - 1] == '\n' ||
                ds->secret[ds->secret_len - 1] == '\r'))
            ds->secret_len--;
        if (ds->secret_len < DELIVERY_SECRET_MIN) {
            delivery_stop(dv);
            return err_set(e, ERR_CONFIG, "destination.%s: the secret must "
                           "be %d bytes or more", cfg->dests[i].name,
                           DELIVERY_SECRET_MIN);
        }
    }
    if (dv->ndests > 0) {
        if (pthread_create(&dv->thread, NULL, loop, dv) != 0) {
            delivery_stop(dv);
            return err_set(e, ERR_INTERNAL, "cannot start the delivery "
                           "worker");
        }
        dv->started = 1;
    }
    *out = dv;
    return ERR_OK;
}

/* Contract: delivery.h. */
void
delivery_stop(struct delivery *dv)
{
    size_t i;

    if (dv == NULL)
        return;
    pthread_mutex_lock(&dv->lock);
    dv->stop = 1;
    pthread_mutex_unlock(&dv->lock);
    if (dv->started) {
        event_committed();          /* wake it */
        pthread_join(dv->thread, NULL);
    }
    for (i = 0; i < dv->ndests; i++)
        util_secret_free(dv->dests[i].secret);
    pthread_mutex_destroy(&dv->lock);
    free(dv);
}

/* The JSON of a delivery (operators' list and replay). */
static json_t *
delivery_json(const struct store_delivery *d)
{
    return json_pack("{s:I, s:s, s:s, s:i, s:I, s:i, s:s, s:I, s:o}",
                     "id", (json_int_t)d->id, "destination", d->dest,
                     "state", d->state, "attempts", d->attempts,
                     "next_ms", (json_int_t)d->next_ms,
                     "last_status", d->last_status, "last_reply",
                     d->last_reply, "updated_ms", (json_int_t)d->updated_ms,
                     "event", event_json(&d->ev));
}

struct list_ctx {
    json_t  *items;
    int64_t  last;
};

/* Each delivery of the list appended as JSON. */
static err_code
list_row(const struct store_delivery *d, void *vctx, struct err *e)
{
    struct list_ctx *l = vctx;
    json_t *j = delivery_json(d);

    if (j == NULL || json_array_append_new(l->items, j) != 0)
        return err_set(e, ERR_NOMEM, "out of memory");
    l->last = d->id;
    return ERR_OK;
}

/* Contract: delivery.h. */
err_code
delivery_list(const struct actor_ctx *a, int64_t after, const char *state,
              const char *dest, const char *target_id, int limit,
              json_t **items, int64_t *next, struct err *e)
{
    struct list_ctx l = {NULL, 0};
    err_code rc;

    *items = NULL;
    *next = 0;
    if (limit < 1 || limit > 500)
        return err_set(e, ERR_INVALID, "limit must be 1-500");
    if (state != NULL && strcmp(state, "pending") != 0 &&
        strcmp(state, "delivered") != 0 && strcmp(state, "failed") != 0)
        return err_set(e, ERR_INVALID, "state must be pending, delivered "
                       "or failed");
    if ((l.items = json_array()) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if ((rc = store_delivery_list(a->db, after, state, dest, target_id,
                                  limit, list_row, &l, e)) != ERR_OK) {
        json_decref(l.items);
        return rc;
    }
    *items = l.items;
    *next = (int)json_array_size(l.items) == limit ? l.last : 0;
    return ERR_OK;
}

struct replay_ctx {
    int64_t id, seq;
    char    dest[DELIVERY_DEST_MAX];
};

/* The replay unit: the dead letter pending again, audited. */
static err_code
replay_work(struct unit *u, void *vctx, struct err *e)
{
    struct replay_ctx *r = vctx;
    err_code rc;

    if ((rc = store_delivery_replay(u->a.db, r->id, util_now_ms(), r->dest,
                                    sizeof(r->dest), &r->seq, e)) != ERR_OK)
        return rc == ERR_NOT_FOUND
            ? err_set(e, ERR_NOT_FOUND, "no failed delivery %lld",
                      (long long)r->id) : rc;
    return unit_audit_id(u, "delivery.replay", "delivery", r->id,
                         json_pack("{s:s, s:I}", "destination", r->dest,
                                   "seq", (json_int_t)r->seq), e);
}

/* Contract: delivery.h. */
err_code
delivery_replay(const struct actor_ctx *a, int64_t id, json_t **out,
                struct err *e)
{
    struct replay_ctx r;
    json_t *items = NULL;
    int64_t next;
    err_code rc;

    *out = NULL;
    memset(&r, 0, sizeof(r));
    r.id = id;
    if ((rc = unit_run(a, replay_work, &r, e)) != ERR_OK)
        return rc;
    event_committed();              /* wake this node's worker */
    if ((rc = delivery_list(a, id - 1, NULL, NULL, NULL, 1, &items, &next,
                            e)) != ERR_OK)
        return rc;
    *out = json_incref(json_array_get(items, 0));
    json_decref(items);
    return *out ? ERR_OK : err_set(e, ERR_NOT_FOUND, "no delivery %lld",
                                   (long long)id);
}
