/*
 * event.h - the outbox: lifecycle events written in the transaction of
 * the change they report, read in seq order (pull, long-poll), and the
 * signal that wakes readers and the delivery worker when one commits.
 *
 * An event is made from the unit's audit entry (unit.c calls
 * event_on_audit after each entry is appended): one table maps an audit
 * action to an event type, so a change that is audited and committed has
 * its event, and a refused change, which rolls back, has none.  Events
 * that are no one's action (the expiry notices of the seal job) are made
 * by event_emit inside a unit of their own.
 */
#ifndef SEALD_EVENT_H
#define SEALD_EVENT_H

#include <jansson.h>

#include "audit.h"
#include "authz.h"
#include "event_types.h"

struct unit;
struct config;

/* Inside unit u, after its entry ev was appended: write ev's event when
 * its action is a lifecycle event (nothing otherwise, and nothing for an
 * outcome other than ok).  Fails (the unit rolls back) when the event
 * cannot be written. */
err_code event_on_audit(struct unit *u, const struct audit_event *ev,
                        struct err *e);

/* Inside unit u: write an event of type about target (type, id) of
 * organisation org_id, with data (consumed; NULL for {}). */
err_code event_emit(struct unit *u, const char *type,
                    const char *target_type, const char *target_id,
                    int64_t org_id, json_t *data, struct err *e);

/* The seal job's notices (maintenance.c): each seal whose validity ends
 * within 30, 7 or 1 days gets a seal.expiring event (data.days the
 * threshold) once per threshold, the tightest that applies (a seal first
 * seen 5 days before its end gets the 7-day notice, not the 30-day one
 * too); each in a unit of its own.  *n how many were made. */
err_code event_expiry_notices(struct store_conn *db, int *n, struct err *e);

/* A unit that wrote events committed: wakes waiting readers and the
 * delivery worker of this node (other nodes poll). */
void event_committed(void);

/* The number of commits with events seen by this process so far, and a
 * wait of at most ms for it to pass gen (returns at once after
 * event_shutdown). */
uint64_t event_generation(void);
void event_wait(uint64_t gen, int ms);

/* Make every wait return and refuse new ones (shutdown). */
void event_shutdown(void);

/* The JSON of an event as readers and destinations get it (new
 * reference; NULL when out of memory):
 * {"id","seq","type","ts_ms","target":{"type","id"},"organisation_id",
 * "data"}. */
json_t *event_json(const struct store_event *ev);

/* Events after seq `after` that a may see (the organisations of its
 * roles carrying event.read, with their subtrees), at most limit (1-1000),
 * into *items (a new array; caller decrefs) and *last the seq of the last
 * one (after when none).  When there is none and wait_s > 0, waits up to
 * wait_s seconds (at most cfg's events.poll_max_wait_seconds) for one to
 * commit; ERR_BUSY when cfg's events.poll_max_waiters readers wait
 * already. */
err_code event_read(const struct actor_ctx *a, const struct config *cfg,
                    int64_t after, int limit, int wait_s, json_t **items,
                    int64_t *last, struct err *e);

#endif
