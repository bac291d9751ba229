/*
 * tarpit.h - hold refused anonymous requests for a fixed time before they
 * are answered (server.refusal_delay_ms).
 *
 * Why: once refusals cost no database write (docs/design.md, "Refusals
 * and the audit"), what a flood of unauthenticated requests still costs is
 * the CPU of answering each one as fast as the attacker sends it.  A
 * request held for D ms before its 401 or 429 lets a connection make at
 * most 1000/D refusals a second, and the number of connections one address
 * may hold is bounded (server.max_connections_per_address), so the flood's
 * cost is bounded too.  The held connection uses no thread: http.c
 * suspends it in libmicrohttpd and the tarpit's thread resumes it.
 *
 * The tarpit knows nothing of HTTP: it holds opaque items and hands each
 * back, exactly once, to the release function given at start, from its
 * own thread, when its time is up or when the tarpit stops.  Every item is
 * held for the same delay, so the items are due in the order they came
 * and the queue is a ring (no sorting, O(1) per item).
 */
#ifndef SEALD_TARPIT_H
#define SEALD_TARPIT_H

#include <stddef.h>

#include "config.h"
#include "err.h"

/* The longest hold: the configuration's bound on server.refusal_delay_ms
 * (the configuration is below the HTTP layer and says the range). */
#define TARPIT_DELAY_MAX_MS CONFIG_MAX_REFUSAL_DELAY_MS

struct tarpit;

/* Called once per held item, from the tarpit's thread, with no lock held. */
typedef void (*tarpit_release_fn)(void *item);

/* Start a tarpit holding up to cap items for delay_ms each (1 ..
 * TARPIT_DELAY_MAX_MS).  *out is freed with tarpit_free. */
err_code tarpit_start(size_t cap, long delay_ms, tarpit_release_fn release,
                      struct tarpit **out, struct err *e);

/* Hold item for the tarpit's delay.  ERR_OK: release(item) will be called
 * exactly once.  ERR_UNAVAILABLE (full, or stopping): the item is not
 * held and release is never called for it; the caller answers at once. */
err_code tarpit_hold(struct tarpit *t, void *item, struct err *e);

/* Items held now (for tests and metrics). */
size_t tarpit_held(struct tarpit *t);

/* Release every held item at once, refuse new ones, and join the thread.
 * tarpit_hold stays safe to call (it refuses) until tarpit_free. */
void tarpit_stop(struct tarpit *t);

/* Stop (if not yet) and free.  NULL is allowed. */
void tarpit_free(struct tarpit *t);

#endif
