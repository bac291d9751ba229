/*
 * event_types.h - the records of the outbox (sql/sqlite/015_events.sql):
 * an event and a delivery of one to a destination, as the store reads
 * them and the domain's headers hand them up.  Strings are copied in, so a
 * record outlives its statement.
 */
#ifndef SEALD_EVENT_TYPES_H
#define SEALD_EVENT_TYPES_H

#include <stdint.h>

#include "err.h"

#define EVENT_ID_MAX      40    /* 32 hex digits and the NUL            */
#define EVENT_TYPE_MAX    48
#define EVENT_TARGET_MAX  96
#define EVENT_DATA_MAX    4096  /* the JSON object of an event          */
#define DELIVERY_DEST_MAX 48
#define DELIVERY_REPLY_MAX 512  /* what is kept of a destination's answer */

/* One event: seq is its place in the one order (commit order). */
struct store_event {
    int64_t seq;
    char    event_id[EVENT_ID_MAX];
    int64_t ts_ms;
    char    type[EVENT_TYPE_MAX];
    char    target_type[32];
    char    target_id[EVENT_TARGET_MAX];
    int64_t org_id;                     /* 0: no organisation */
    char    data[EVENT_DATA_MAX];
};

/* One delivery of event ev to destination dest. */
struct store_delivery {
    int64_t id;
    char    dest[DELIVERY_DEST_MAX];
    char    state[16];                  /* pending, delivered, failed */
    int     attempts;
    int64_t next_ms;
    int     last_status;                /* HTTP status of the last try, 0 */
    char    last_reply[DELIVERY_REPLY_MAX];
    int64_t updated_ms;
    struct store_event ev;
};

/* Row callbacks of the lists: return ERR_OK to go on. */
typedef err_code (*store_event_fn)(const struct store_event *ev, void *ctx,
                                   struct err *e);
typedef err_code (*store_delivery_fn)(const struct store_delivery *d,
                                      void *ctx, struct err *e);

#endif
