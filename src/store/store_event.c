/*
 * store_event.c - the SQL of the outbox (store_event.h): appending events
 * under the event head, reading them in seq order, the deliveries of each
 * destination with its cursor, and the seals' expiry notices.
 */
#include <stdio.h>
#include <string.h>

#include "store_event.h"
#include "store_int.h"

/* Contract: store_event.h. */
err_code
store_event_append(struct store_conn *c, const struct store_event *ev,
                   const char *esid, int64_t app_id, int64_t sreq_id,
                   struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_EVENT_HEAD_BUMP, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    /* the head row is seeded by the migration and never removed */
    if ((rc = db_step_later(st, NULL, e, ERR_INTERNAL, "the event head "
                            "row is missing")) != ERR_OK)
        return rc;
    if ((st = db_prep(c->dbc, DB_EVENT_INSERT, e)) == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, ev->event_id);
    db_bind_i64(st, 2, ev->ts_ms);
    db_bind_text(st, 3, ev->type);
    db_bind_text(st, 4, ev->target_type);
    db_bind_text(st, 5, ev->target_id);
    db_bind_text(st, 6, ev->data);
    db_bind_id(st, 7, ev->org_id);
    db_bind_text(st, 8, esid);
    db_bind_id(st, 9, app_id);
    db_bind_id(st, 10, sreq_id);
    return db_step_later(st, NULL, e, ERR_INTERNAL, "event %s not written",
                         ev->type);
}

/* Contract: store_event.h. */
err_code
store_event_head(struct store_conn *c, int64_t *seq, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_EVENT_HEAD_READ, e);
    err_code rc;

    *seq = 0;
    if (st == NULL)
        return db_prep_failed(e);
    if ((rc = db_step_row(st, "event head", e)) != ERR_OK)
        return rc;
    *seq = db_col_i64(st, 0);
    db_release(st);
    return ERR_OK;
}

/* Copy the EVENT_COLS (db_stmt.c) starting at column col into ev. */
static void
event_row(struct db_stmt *st, int col, struct store_event *ev)
{
    ev->seq = db_col_i64(st, col);
    db_col_copy(st, col + 1, ev->event_id, sizeof(ev->event_id));
    ev->ts_ms = db_col_i64(st, col + 2);
    db_col_copy(st, col + 3, ev->type, sizeof(ev->type));
    db_col_copy(st, col + 4, ev->target_type, sizeof(ev->target_type));
    db_col_copy(st, col + 5, ev->target_id, sizeof(ev->target_id));
    ev->org_id = db_col_i64(st, col + 6);
    db_col_copy(st, col + 7, ev->data, sizeof(ev->data));
}

/* Copy the DELIVERY_COLS and EVENT_COLS_E (db_stmt.c) into d. */
static void
delivery_row(struct db_stmt *st, struct store_delivery *d)
{
    d->id = db_col_i64(st, 0);
    db_col_copy(st, 1, d->dest, sizeof(d->dest));
    db_col_copy(st, 2, d->state, sizeof(d->state));
    d->attempts = db_col_int(st, 3);
    d->next_ms = db_col_i64(st, 4);
    d->last_status = db_col_int(st, 5);
    db_col_copy(st, 6, d->last_reply, sizeof(d->last_reply));
    d->updated_ms = db_col_i64(st, 7);
    event_row(st, 8, &d->ev);
}

/* Contract: store_event.h. */
err_code
store_event_list(struct store_conn *c, const int64_t *scope, int nscope,
                 int64_t after, int limit, store_event_fn fn, void *ctx,
                 struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, nscope < 0 ? DB_EVENT_LIST_ALL
                                                    : DB_EVENT_LIST, e);
    struct store_event ev;
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    if (nscope < 0) {
        db_bind_i64(st, 1, after);
        db_bind_int(st, 2, limit);
    } else {
        db_bind_id_set(st, 1, scope, (size_t)nscope);
        db_bind_i64(st, 2, after);
        db_bind_int(st, 3, limit);
    }
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        memset(&ev, 0, sizeof(ev));
        event_row(st, 0, &ev);
        if ((rc = fn(&ev, ctx, e)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

/* Contract: store_event.h. */
err_code
store_delivery_cursor(struct store_conn *c, const char *dest, int64_t *seq,
                      struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DELIVERY_CURSOR_ENSURE, e);
    err_code rc;

    *seq = 0;
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, dest);
    if ((rc = db_step_done(st, e)) != ERR_OK)
        return rc;
    if ((st = db_prep(c->dbc, DB_DELIVERY_CURSOR_READ, e)) == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, dest);
    if ((rc = db_step_row(st, "delivery cursor", e)) != ERR_OK)
        return rc;
    *seq = db_col_i64(st, 0);
    db_release(st);
    return ERR_OK;
}

/* Contract: store_event.h. */
err_code
store_delivery_cursor_set(struct store_conn *c, const char *dest,
                          int64_t seq, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DELIVERY_CURSOR_SET, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, dest);
    db_bind_i64(st, 2, seq);
    return db_step_done(st, e);
}

/* Contract: store_event.h. */
err_code
store_delivery_add(struct store_conn *c, const char *dest, int64_t seq,
                   int64_t now_ms, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DELIVERY_INSERT, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, dest);
    db_bind_i64(st, 2, seq);
    db_bind_i64(st, 3, now_ms);
    return db_step_done(st, e);
}

/* Contract: store_event.h. */
err_code
store_delivery_next(struct store_conn *c, const char *dest,
                    struct store_delivery *d, int *found, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DELIVERY_NEXT, e);
    enum db_row row;
    err_code rc;

    *found = 0;
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, dest);
    if ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        memset(d, 0, sizeof(*d));
        delivery_row(st, d);
        *found = 1;
    }
    db_release(st);
    return rc;
}

/* Contract: store_event.h. */
/* Contract: store_event.h. */
err_code
store_delivery_seal_delivered(struct store_conn *c, const char *dest,
                              const char *esid, int *delivered, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DELIVERY_SEAL_DELIVERED, e);
    err_code rc;

    *delivered = 0;
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_text(st, 1, dest);
    db_bind_text(st, 2, esid);
    if ((rc = db_step_row(st, "count", e)) != ERR_OK)
        return rc;
    *delivered = db_col_i64(st, 0) > 0;
    db_release(st);
    return ERR_OK;
}

err_code
store_delivery_set(struct store_conn *c, int64_t id, int attempts,
                   const char *state, int64_t next_ms, int status,
                   const char *reply, int64_t now_ms, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DELIVERY_SET, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    db_bind_text(st, 2, state);
    db_bind_i64(st, 3, next_ms);
    db_bind_int(st, 4, status);
    db_bind_text(st, 5, reply);
    db_bind_i64(st, 6, now_ms);
    db_bind_int(st, 7, attempts);
    return db_step_changed(st, e, ERR_CONFLICT, "delivery %lld moved "
                           "meanwhile", (long long)id);
}

/* Contract: store_event.h. */
err_code
store_delivery_list(struct store_conn *c, int64_t after, const char *state,
                    const char *dest, const char *target_id, int limit,
                    store_delivery_fn fn, void *ctx, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DELIVERY_LIST, e);
    struct store_delivery d;
    enum db_row row;
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, after);
    db_bind_text(st, 2, state);
    db_bind_text(st, 3, dest);
    db_bind_text(st, 4, target_id);
    db_bind_int(st, 5, limit);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW) {
        memset(&d, 0, sizeof(d));
        delivery_row(st, &d);
        if ((rc = fn(&d, ctx, e)) != ERR_OK)
            break;
    }
    db_release(st);
    return rc;
}

/* Contract: store_event.h. */
err_code
store_delivery_replay(struct store_conn *c, int64_t id, int64_t now_ms,
                      char *dest_out, size_t cap, int64_t *seq,
                      struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DELIVERY_REPLAY, e);
    err_code rc;

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, id);
    db_bind_i64(st, 2, now_ms);
    if ((rc = db_step_row(st, "failed delivery", e)) != ERR_OK)
        return rc;
    db_col_copy(st, 0, dest_out, cap);
    *seq = db_col_i64(st, 1);
    db_release(st);
    return ERR_OK;
}

/* Contract: store_event.h. */
err_code
store_expiry_due(struct store_conn *c, int64_t now_ms, int64_t until_ms,
                 int days, struct store_expiring *out, size_t cap, size_t *n,
                 struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_EXPIRY_DUE, e);
    enum db_row row;
    err_code rc;

    *n = 0;
    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, now_ms);
    db_bind_i64(st, 2, until_ms);
    db_bind_int(st, 3, days);
    db_bind_int(st, 4, (int)cap);
    while ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW &&
           *n < cap) {
        out[*n].seal_id = db_col_i64(st, 0);
        db_col_copy(st, 1, out[*n].esid, sizeof(out[*n].esid));
        out[*n].org_id = db_col_i64(st, 2);
        out[*n].valid_end_ms = db_col_i64(st, 3);
        (*n)++;
    }
    db_release(st);
    return rc;
}

/* Contract: store_event.h. */
err_code
store_expiry_note(struct store_conn *c, int64_t seal_id, int days,
                  struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_EXPIRY_NOTE, e);

    if (st == NULL)
        return db_prep_failed(e);
    db_bind_i64(st, 1, seal_id);
    db_bind_int(st, 2, days);
    return db_step_later(st, NULL, e, ERR_OK, NULL);
}

err_code
store_delivery_backlog(struct store_conn *c, int64_t *n, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_DELIVERY_BACKLOG, e);
    enum db_row row;
    err_code rc;

    *n = 0;
    if (st == NULL)
        return db_prep_failed(e);
    if ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW)
        *n = db_col_i64(st, 0);
    db_release(st);
    return rc;
}
