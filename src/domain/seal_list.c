/*
 * seal_list.c - the seal status list in parts (seal_list.h): owns which
 * seals a list holds, cutting it into parts, reading each part from one
 * snapshot (store_read) a part at a time, and handing the parts to
 * statuslist_build for their JSON and signature.  The format is
 * statuslist.c's; the HTTP side is api_seal.c's.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seal_int.h"
#include "seal_list.h"
#include "statuslist.h"
#include "store.h"
#include "store_seal.h"

#define LIST_DAY_S 86400L

/* One generation: the options, the parts asked for, the sink, and the
 * buffer of one part (entries pointing into esids). */
struct gen {
    const struct seal_list_opts *o;
    int64_t                      first, count;
    seal_list_sink               fn;
    void                        *ctx;
    int64_t                      cutoff_ms;
    struct statuslist_entry     *entries;
    char                       (*esids)[STORE_ESID_MAX];
    size_t                       n, cap;
};

/* store_status_list_page callback: one row into the part's buffer. */
static err_code
gen_add(void *ctx, const struct store_seal *s)
{
    struct gen *g = ctx;

    if (g->n == g->cap)
        return ERR_TOO_LARGE;   /* the page is LIMIT cap: cannot happen */
    snprintf(g->esids[g->n], STORE_ESID_MAX, "%s", s->esid);
    g->entries[g->n].es_id = g->esids[g->n];
    g->entries[g->n].state = seal_state_name(s->state);
    g->entries[g->n].since = (time_t)(s->state_since_ms / 1000);
    g->entries[g->n].reason = seal_reason_number(s);
    g->n++;
    return ERR_OK;
}

/* Sign the part in the buffer (index i of parts, total entries, the range
 * after `after`) and give it to the sink. */
static err_code
gen_emit(struct gen *g, int64_t i, int64_t parts, int64_t total,
         const char *after, struct err *e)
{
    const struct seal_list_opts *o = g->o;
    struct statuslist_params p;
    struct seal_list_part out;
    err_code rc;

    memset(&p, 0, sizeof(p));
    memset(&out, 0, sizeof(out));
    p.number = (int64_t)o->now;
    p.this_update = o->now;
    p.next_update = o->now + (time_t)o->next_hours * 3600;
    p.part = i;
    p.parts = parts;
    p.total = total;
    p.range_after = i == 0 ? NULL : after;
    p.range_until = i == parts - 1 ? NULL : g->esids[g->n - 1];
    p.expired_before = (time_t)(g->cutoff_ms / 1000);
    p.entries = g->entries;
    p.n_entries = g->n;
    p.signer_cert = o->cert;
    p.signer_cert_len = o->cert_len;
    out.part = i;
    out.parts = parts;
    out.total = total;
    if ((rc = statuslist_build(o->key, &p, &out.json, &out.json_len,
                               out.sig, &out.sig_len, e)) != ERR_OK)
        return rc;
    rc = g->fn(g->ctx, &out, e);
    free(out.json);
    return rc;
}

/* The read transaction: count, skip to the first part asked for, then one
 * page a part.  Every query sees the same snapshot. */
static err_code
gen_work(struct store_conn *db, void *ctx, struct err *e)
{
    struct gen *g = ctx;
    int64_t total = 0, parts, i, end;
    long per = g->o->part_entries;
    char after[STORE_ESID_MAX] = "";
    err_code rc;

    if ((rc = store_status_list_count(db, g->cutoff_ms, &total, e)) !=
        ERR_OK)
        return rc;
    parts = total == 0 ? 1 : (total + per - 1) / per;
    if (parts > STATUSLIST_MAX_PARTS)
        return err_set(e, ERR_TOO_LARGE, "the status list would have %lld "
                       "parts (at most %d): raise "
                       "status.list_part_entries", (long long)parts,
                       STATUSLIST_MAX_PARTS);
    if (g->first >= parts)
        return err_set(e, ERR_NOT_FOUND, "no part %lld: the status list "
                       "has %lld", (long long)g->first, (long long)parts);
    if (g->first > 0 &&
        (rc = store_status_list_nth(db, g->cutoff_ms, g->first * per - 1,
                                    after, e)) != ERR_OK)
        return rc;
    end = g->count < 0 || g->count > parts - g->first ? parts
                                                       : g->first + g->count;
    for (i = g->first; i < end; i++) {
        g->n = 0;
        rc = store_status_list_page(db, g->cutoff_ms, after, (int)per,
                                    gen_add, g, e);
        if (rc == ERR_TOO_LARGE)
            rc = err_set(e, ERR_INTERNAL, "status list page overflow");
        if (rc != ERR_OK)
            return rc;
        if (i < parts - 1 && g->n != (size_t)per)
            return err_set(e, ERR_INTERNAL, "status list part %lld is "
                           "short: the snapshot moved", (long long)i);
        if ((rc = gen_emit(g, i, parts, total, after, e)) != ERR_OK)
            return rc;
        if (g->n > 0)
            snprintf(after, sizeof(after), "%s", g->esids[g->n - 1]);
    }
    return ERR_OK;
}

/* Contract: seal_list.h. */
err_code
seal_list_generate(struct store_conn *db, const struct seal_list_opts *o,
                   int64_t first, int64_t count, seal_list_sink fn,
                   void *ctx, struct err *e)
{
    struct gen g;
    err_code rc;

    if (o == NULL || fn == NULL || first < 0 || o->part_entries < 1 ||
        o->part_entries > STATUSLIST_MAX_ENTRIES || o->grace_days < 0 ||
        o->next_hours < 1)
        return err_set(e, ERR_INVALID, "bad status list options");
    memset(&g, 0, sizeof(g));
    g.o = o;
    g.first = first;
    g.count = count;
    g.fn = fn;
    g.ctx = ctx;
    g.cutoff_ms = ((int64_t)o->now - (int64_t)o->grace_days * LIST_DAY_S) *
                  1000;
    g.cap = (size_t)o->part_entries;
    g.entries = calloc(g.cap, sizeof(*g.entries));
    g.esids = calloc(g.cap, sizeof(*g.esids));
    if (g.entries == NULL || g.esids == NULL) {
        rc = err_set(e, ERR_NOMEM, "out of memory");
        goto done;
    }
    rc = store_read(db, gen_work, &g, e);
done:
    free(g.entries);
    free(g.esids);
    return rc;
}

/* Sink of seal_status_list: keep the one part (its JSON taken over). */
static err_code
keep_part(void *ctx, const struct seal_list_part *p, struct err *e)
{
    struct seal_list_part *out = ctx;

    *out = *p;
    if ((out->json = malloc(p->json_len + 1)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    memcpy(out->json, p->json, p->json_len + 1);
    return ERR_OK;
}

/* Contract: seal_list.h. */
err_code
seal_status_list(struct store_conn *db, const struct seal_env *env,
                 int64_t part, struct seal_list_part *out, struct err *e)
{
    /* parts being made in this process now (status.list_max_concurrent) */
    static atomic_long inflight;
    struct authority maker;
    struct seal_list_opts o;
    long was;
    err_code rc;

    memset(out, 0, sizeof(*out));
    memset(&maker, 0, sizeof(maker));
    was = atomic_fetch_add(&inflight, 1);
    if (was >= env->cfg->status_list_max_concurrent) {
        atomic_fetch_sub(&inflight, 1);
        return err_set(e, ERR_RATE_LIMITED, "%ld status list parts are "
                       "being made on this node now "
                       "(status.list_max_concurrent); retry after the time "
                       "Retry-After gives", was);
    }
    if ((rc = authority_load(db, env->custody, "maker", &maker, e)) !=
        ERR_OK)
        goto done;
    memset(&o, 0, sizeof(o));
    o.key = &maker.key;
    o.cert = maker.cert;
    o.cert_len = maker.cert_len;
    o.now = time(NULL);
    o.next_hours = env->cfg->seal_status_list_hours;
    o.grace_days = env->cfg->status_list_expired_grace_days;
    o.part_entries = env->cfg->status_list_part_entries;
    rc = seal_list_generate(db, &o, part, 1, keep_part, out, e);
    if (rc != ERR_OK) {
        free(out->json);
        out->json = NULL;
    }
done:
    authority_free(&maker);
    atomic_fetch_sub(&inflight, 1);
    return rc;
}
