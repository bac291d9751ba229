/*
 * ratelimit.c - token buckets in an open-addressed table (ratelimit.h).
 * A full table evicts the bucket in the probed slot that was touched least
 * recently; an evicted key starts again with a full bucket, which errs on
 * the side of serving.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

#define RL_KEY_MAX 72
#define RL_PROBE   8

struct bucket {
    char    key[RL_KEY_MAX];
    double  tokens;
    int64_t last_ms;
};

struct ratelimit {
    pthread_mutex_t lock;
    double          rate, burst;
    struct bucket   slots[RATELIMIT_SLOTS];
};

struct ratelimit *
ratelimit_new(double rate, double burst)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));

    if (rl == NULL)
        return NULL;
    pthread_mutex_init(&rl->lock, NULL);
    rl->rate = rate;
    rl->burst = burst;
    return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static uint32_t
hash(const char *s)
{
    uint32_t h = 2166136261u;   /* FNV-1a */

    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

int
ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms)
{
    uint32_t h = hash(key);
    struct bucket *b = NULL, *oldest = NULL;
    int i, wait = 0;

    pthread_mutex_lock(&rl->lock);
    for (i = 0; i < RL_PROBE; i++) {
        struct bucket *s = &rl->slots[(h + (uint32_t)i) % RATELIMIT_SLOTS];
        if (strncmp(s->key, key, RL_KEY_MAX - 1) == 0 && s->key[0]) {
            b = s;
            break;
        }
        if (oldest == NULL || s->last_ms < oldest->last_ms)
            oldest = s;
    }
    if (b == NULL) {
        b = oldest;
        strncpy(b->key, key, RL_KEY_MAX - 1);
        b->key[RL_KEY_MAX - 1] = '\0';
        b->tokens = rl->burst;
        b->last_ms = now_ms;
    }
    b->tokens += (double)(now_ms - b->last_ms) / 1000.0 * rl->rate;
    if (b->tokens > rl->burst)
        b->tokens = rl->burst;
    b->last_ms = now_ms;
    if (b->tokens >= 1.0)
        b->tokens -= 1.0;
    else
        wait = (int)ceil((1.0 - b->tokens) / rl->rate);
    pthread_mutex_unlock(&rl->lock);
    return wait;
}
