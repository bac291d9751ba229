/*
 * delivery.h - delivering the outbox (event.h) to the configured
 * destinations ([destination.NAME]): webhooks, which get each event's JSON
 * signed with HMAC-SM3, and filing destinations (备案: the national seal
 * platform, the public-security seal system), which get the seal's filing
 * record on each seal event.  One engine for both: a delivery row per
 * (destination, event), tried in seq order per destination, retried with
 * exponential back-off and jitter, a dead letter (failed) after
 * events.delivery_attempts tries, replayed by an operator.
 *
 * One worker thread per node; with several nodes only the holder of the
 * "deliveries" lease (lease.h) delivers.  At least once: a delivery is
 * marked after its destination answered, so a node killed between the two
 * delivers it again, with the same Seald-Event-Id.
 */
#ifndef SEALD_DELIVERY_H
#define SEALD_DELIVERY_H

#include <jansson.h>

#include "app.h"
#include "authz.h"

struct delivery;

/* The lease job of the worker. */
#define LEASE_JOB_DELIVERIES "deliveries"

/* Read every destination's secret (a destination whose secret_file cannot
 * be read, or holds under 16 bytes, fails the start) and start the worker
 * on app's store.  *out is freed by delivery_stop.  With no destination
 * configured no thread is started (*out still set). */
err_code delivery_start(struct app *app, struct delivery **out,
                        struct err *e);

/* Stop the worker (an attempt under way finishes first), give its lease
 * back, wipe the secrets, free d.  NULL is fine. */
void delivery_stop(struct delivery *d);

/* The signature header's value for body at unix time t with key:
 * "t=<t>,v1=<hex HMAC-SM3(key, "<t>." body)>" into out (cap bytes, 96 or
 * more). */
err_code delivery_sign(const uint8_t *key, size_t key_len, long long t,
                       const char *body, size_t len, char *out, size_t cap,
                       struct err *e);

/* Deliveries with id > after, at most limit (1-500), filtered by state
 * (pending, delivered, failed), destination and target id (each NULL for
 * any), into *items (new array) and *next (the last id, 0 at the end).
 * The caller holds delivery.manage (routes). */
err_code delivery_list(const struct actor_ctx *a, int64_t after,
                       const char *state, const char *dest,
                       const char *target_id, int limit, json_t **items,
                       int64_t *next, struct err *e);

/* Make failed delivery id pending again (audited delivery.replay);
 * ERR_NOT_FOUND when no failed delivery has that id.  *out the delivery
 * (new object). */
err_code delivery_replay(const struct actor_ctx *a, int64_t id,
                         json_t **out, struct err *e);

#endif
