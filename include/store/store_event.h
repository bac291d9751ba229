/*
 * store_event.h - the queries of store_event.c: the outbox (events and
 * their head), the deliveries to configured destinations with their
 * cursors, and the seals' expiry notices (sql/sqlite/015_events.sql).
 * What goes out, when and how, is the domain's (event.c, delivery.c).
 */
#ifndef SEALD_STORE_EVENT_H
#define SEALD_STORE_EVENT_H

#include "event_types.h"
#include "store.h"

/* Append ev (its seq ignored: the head's next) in the caller's
 * transaction, whose organisation is ev->org_id when not 0, else that of
 * the seal with esID esid, the application app_id or the signing request
 * sreq_id (whichever is given; NULL/0 the others).  Two statements, both
 * sent without waiting for their results (db_step_later): a group commit
 * that batches its units pays no round trip for the event. */
err_code store_event_append(struct store_conn *c, const struct store_event *ev,
                            const char *esid, int64_t app_id,
                            int64_t sreq_id, struct err *e);

/* The newest seq (0: no event yet). */
err_code store_event_head(struct store_conn *c, int64_t *seq, struct err *e);

/* Events after seq `after`, at most limit, in seq order, to fn: all
 * (nscope < 0) or those of the organisations in the subtrees of scope. */
err_code store_event_list(struct store_conn *c, const int64_t *scope,
                          int nscope, int64_t after, int limit,
                          store_event_fn fn, void *ctx, struct err *e);

/* Destination dest's cursor: made at 0 when missing; *seq its value. */
err_code store_delivery_cursor(struct store_conn *c, const char *dest,
                               int64_t *seq, struct err *e);

/* Move dest's cursor forward to seq (never back). */
err_code store_delivery_cursor_set(struct store_conn *c, const char *dest,
                                   int64_t seq, struct err *e);

/* Queue event seq for dest (pending, due at now_ms); nothing when queued
 * already. */
err_code store_delivery_add(struct store_conn *c, const char *dest,
                            int64_t seq, int64_t now_ms, struct err *e);

/* dest's oldest pending delivery into *d; *found 0 when there is none. */
/* The number of deliveries still to be made (state pending) into *n. */
err_code store_delivery_backlog(struct store_conn *c, int64_t *n,
                                struct err *e);

err_code store_delivery_next(struct store_conn *c, const char *dest,
                             struct store_delivery *d, int *found,
                             struct err *e);

/* *delivered 1 when destination dest has had a record of seal esid
 * delivered (any of its events), else 0. */
err_code store_delivery_seal_delivered(struct store_conn *c, const char *dest,
                                       const char *esid, int *delivered,
                                       struct err *e);

/* Record an attempt of delivery id, which had made `attempts` tries: its
 * new state, when the next is due, the status and reply.  ERR_CONFLICT
 * when the row moved meanwhile (replayed, or tried by another node). */
err_code store_delivery_set(struct store_conn *c, int64_t id, int attempts,
                            const char *state, int64_t next_ms, int status,
                            const char *reply, int64_t now_ms, struct err *e);

/* Deliveries with id > after (state, dest, target_id: NULL for any), at
 * most limit, in id order, to fn. */
err_code store_delivery_list(struct store_conn *c, int64_t after,
                             const char *state, const char *dest,
                             const char *target_id, int limit,
                             store_delivery_fn fn, void *ctx, struct err *e);

/* Make failed delivery id pending again, due now; ERR_NOT_FOUND when
 * there is no failed delivery with that id.  dest_out (cap bytes) and
 * *seq get what it delivers. */
err_code store_delivery_replay(struct store_conn *c, int64_t id,
                               int64_t now_ms, char *dest_out, size_t cap,
                               int64_t *seq, struct err *e);

/* A seal whose validity ends within a threshold (store_expiry_due). */
struct store_expiring {
    int64_t seal_id;
    char    esid[EVENT_TARGET_MAX];
    int64_t org_id;
    int64_t valid_end_ms;
};

/* Up to cap seals not ended whose validity ends in (now_ms, until_ms] and
 * that have no notice for `days` yet; *n how many were written. */
err_code store_expiry_due(struct store_conn *c, int64_t now_ms,
                          int64_t until_ms, int days,
                          struct store_expiring *out, size_t cap, size_t *n,
                          struct err *e);

/* Note that seal_id had its notice for `days` (once: a second is kept
 * out by the key). */
err_code store_expiry_note(struct store_conn *c, int64_t seal_id, int days,
                           struct err *e);

#endif
