/*
 * ratelimit.h - token buckets per key (an account or a client address), in
 * a fixed-size table, so memory stays bounded whatever the traffic.  Each
 * node limits on its own: the limit protects the node, so it needs no
 * shared state.
 */
#ifndef SEALD_RATELIMIT_H
#define SEALD_RATELIMIT_H

#include <stdint.h>

#define RATELIMIT_SLOTS 4096

struct ratelimit;

/* A limiter allowing rate per second with the given burst.  NULL on OOM. */
struct ratelimit *ratelimit_new(double rate, double burst);
void ratelimit_free(struct ratelimit *rl);

/* Take one token for key at now_ms.  Returns 0 if allowed; otherwise the
 * seconds to wait before retrying (at least 1). */
int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms);

#endif
