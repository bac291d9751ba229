/*
 * seal_fill_testutil.h - fills a store with many seals directly through
 * the store (store_seal_insert, batches of SEAL_FILL_BATCH a transaction),
 * for the status list's scale test (tests/unit/test_seal_list.c) and its
 * bench (bench/bench_statuslist.c).  One organisation and one custodian
 * are made first; seal i gets the esID SEAL_FILL_PREFIX and i in ten digits,
 * so byte order is i's order, and the state, times and validity that
 * seal_fill_kind gives it.
 *
 * seal_fill_check is the independent check of a list made from such a
 * store: every part verifies (statuslist_verify), the parts come in order
 * and their ranges join, and their entries together are exactly the seals
 * the plan lists, in order, with their states: nothing missing, nothing
 * extra (so no active or made seal, and no seal past the grace).
 *
 * Header-only (static functions), no cmocka: errors are returned.
 */
#ifndef SEALD_SEAL_FILL_TESTUTIL_H
#define SEALD_SEAL_FILL_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "seal_list.h"
#include "statuslist.h"
#include "store.h"
#include "store_account.h"
#include "store_seal.h"

#define SEAL_FILL_BATCH  10000
#define SEAL_FILL_PREFIX "2301"
#define SEAL_FILL_DAY_MS 86400000LL

/* What seal i is: a share of each kind, in per mille of the seals. */
enum seal_fill_kind {
    FILL_ACTIVE, FILL_MADE, FILL_SUSPENDED, FILL_LOST, FILL_REVOKED,
    FILL_EXPIRED_RECENT,   /* expired 30 days ago: within the grace      */
    FILL_EXPIRED_OLD,      /* expired 400 days ago: past a 365-day grace */
    FILL_REVOKED_OLD,      /* revoked, and its validity ended 400 days
                            * ago: past the grace too                    */
    FILL__COUNT
};

struct seal_fill_plan {
    int     permille[FILL__COUNT];   /* sums to 1000                     */
    int64_t now_ms;                  /* the reference time               */
};

/* The kind of seal i under plan p: the shares laid out over each block of
 * 1000 seals, so that every prefix of the seals has about the plan's mix. */
static __attribute__((unused)) enum seal_fill_kind
seal_fill_kind(const struct seal_fill_plan *p, int64_t i)
{
    int r = (int)(i % 1000), k, acc = 0;

    for (k = 0; k < FILL__COUNT; k++) {
        acc += p->permille[k];
        if (r < acc)
            return (enum seal_fill_kind)k;
    }
    return FILL_ACTIVE;
}

/* Does seal i belong in a list with a 365-day grace, as of p->now_ms? */
static __attribute__((unused)) int
seal_fill_listed(const struct seal_fill_plan *p, int64_t i)
{
    enum seal_fill_kind k = seal_fill_kind(p, i);

    return k == FILL_SUSPENDED || k == FILL_LOST || k == FILL_REVOKED ||
           k == FILL_EXPIRED_RECENT;
}

/* The esID of seal i. */
static __attribute__((unused)) void
seal_fill_esid(int64_t i, char out[STORE_ESID_MAX])
{
    snprintf(out, STORE_ESID_MAX, SEAL_FILL_PREFIX "%010lld", (long long)i);
}

struct seal_fill_batch {
    const struct seal_fill_plan *p;
    int64_t from, to, org, custodian;
};

/* One transaction: seals from .. to - 1. */
static __attribute__((unused)) err_code
seal_fill_work(struct store_conn *c, void *ctx, struct err *e)
{
    static const uint8_t der[] = {0x30, 0x00};
    struct seal_fill_batch *b = ctx;
    struct store_seal s;
    int64_t i, id, now = b->p->now_ms, end = 0;
    err_code rc;

    for (i = b->from; i < b->to; i++) {
        enum seal_fill_kind k = seal_fill_kind(b->p, i);
        memset(&s, 0, sizeof(s));
        seal_fill_esid(i, s.esid);
        snprintf(s.lineage_esid, sizeof(s.lineage_esid), "%s", s.esid);
        s.application_id = 1;
        s.org_id = b->org;
        snprintf(s.kind, sizeof(s.kind), "official");
        snprintf(s.name, sizeof(s.name), "fill seal");
        s.custodian_id = b->custodian;
        s.version = 4;
        s.made_by = b->custodian;
        end = now + 300 * SEAL_FILL_DAY_MS;
        s.state_since_ms = now - 10 * SEAL_FILL_DAY_MS;
        switch (k) {
        case FILL_ACTIVE:    s.state = SEAL_ACTIVE; break;
        case FILL_MADE:      s.state = SEAL_MADE; break;
        case FILL_SUSPENDED: s.state = SEAL_SUSPENDED;
                             snprintf(s.reason_code, sizeof(s.reason_code),
                                      "hold");
                             break;
        case FILL_LOST:      s.state = SEAL_LOST;
                             snprintf(s.reason_code, sizeof(s.reason_code),
                                      "key_compromise");
                             break;
        case FILL_REVOKED:   s.state = SEAL_REVOKED;
                             snprintf(s.reason_code, sizeof(s.reason_code),
                                      "cessation");
                             break;
        case FILL_EXPIRED_RECENT:
            s.state = SEAL_EXPIRED;
            end = now - 30 * SEAL_FILL_DAY_MS;
            s.state_since_ms = end;
            break;
        case FILL_EXPIRED_OLD:
            s.state = SEAL_EXPIRED;
            end = now - 400 * SEAL_FILL_DAY_MS;
            s.state_since_ms = end;
            break;
        default:             /* FILL_REVOKED_OLD */
            s.state = SEAL_REVOKED;
            snprintf(s.reason_code, sizeof(s.reason_code), "superseded");
            end = now - 400 * SEAL_FILL_DAY_MS;
            s.state_since_ms = end - 100 * SEAL_FILL_DAY_MS;
            break;
        }
        s.made_ms = end - 730 * SEAL_FILL_DAY_MS;
        s.valid_start_ms = s.made_ms;
        s.valid_end_ms = end;
        if ((rc = store_seal_insert(c, &s, der, sizeof(der), der,
                                    sizeof(der), &id, e)) != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

/* One organisation and one custodian account. */
static __attribute__((unused)) err_code
seal_fill_people(struct store_conn *c, void *ctx, struct err *e)
{
    int64_t *ids = ctx;
    err_code rc;

    if ((rc = store_org_insert(c, 0, "Fill bureau", "agency", NULL, 1,
                               &ids[0], e)) != ERR_OK)
        return rc;
    return store_account_insert(c, "fill", "person", "Fill", ids[0], NULL,
                                NULL, 0, 1, &ids[1], e);
}

/* Insert seals 0 .. n - 1 under plan p on c (and their organisation and
 * custodian), SEAL_FILL_BATCH a transaction. */
static __attribute__((unused)) err_code
seal_fill(struct store_conn *c, const struct seal_fill_plan *p, int64_t n,
          struct err *e)
{
    struct seal_fill_batch b;
    int64_t ids[2] = {0, 0};
    err_code rc;

    if ((rc = store_run(c, seal_fill_people, ids, e)) != ERR_OK)
        return rc;
    memset(&b, 0, sizeof(b));
    b.p = p;
    b.org = ids[0];
    b.custodian = ids[1];
    for (b.from = 0; b.from < n; b.from = b.to) {
        b.to = b.from + SEAL_FILL_BATCH < n ? b.from + SEAL_FILL_BATCH : n;
        if ((rc = store_run(c, seal_fill_work, &b, e)) != ERR_OK)
            return rc;
    }
    return ERR_OK;
}

/* The check's state across the parts of one generation. */
struct seal_fill_check {
    const struct seal_fill_plan *p;
    int64_t       n;            /* seals filled                         */
    int64_t       next;         /* the next seal index to look at       */
    int64_t       part;         /* the next part expected               */
    int64_t       parts, total, entries, bytes;
    char          until[STORE_ESID_MAX];  /* the last part's range_until */
    X509_STORE   *anchors;      /* NULL: chain not checked              */
    time_t        now;
    char          why[512];     /* the first failure                    */
};

/* The state name seal i must have in the list. */
static __attribute__((unused)) const char *
seal_fill_state(const struct seal_fill_plan *p, int64_t i)
{
    switch (seal_fill_kind(p, i)) {
    case FILL_SUSPENDED: return "suspended";
    case FILL_LOST:      return "lost";
    case FILL_REVOKED:   return "revoked";
    default:             return "expired";
    }
}

/* seal_list_sink: check one part (ctx: struct seal_fill_check).  A failure
 * is ERR_INVALID with the reason in ck->why. */
static __attribute__((unused)) err_code
seal_fill_check_part(void *ctx, const struct seal_list_part *pt,
                     struct err *e)
{
    struct seal_fill_check *ck = ctx;
    json_t *list = NULL, *ents;
    const char *after, *until;
    char want[STORE_ESID_MAX];
    size_t k;
    err_code rc = ERR_OK;

#define FILL_FAIL(...) do { \
        snprintf(ck->why, sizeof(ck->why), __VA_ARGS__); \
        rc = err_set(e, ERR_INVALID, "%s", ck->why); goto out; } while (0)
    if (statuslist_verify((const uint8_t *)pt->json, pt->json_len, pt->sig,
                          pt->sig_len, ck->anchors, ck->now, &list, e) !=
        ERR_OK)
        FILL_FAIL("part %lld does not verify: %.160s", (long long)pt->part,
                  e->msg);
    if (pt->part != ck->part ||
        json_integer_value(json_object_get(list, "part")) != ck->part)
        FILL_FAIL("part %lld came as %lld", (long long)ck->part,
                  (long long)pt->part);
    if (ck->part == 0) {
        ck->parts = pt->parts;
        ck->total = pt->total;
    } else if (pt->parts != ck->parts || pt->total != ck->total) {
        FILL_FAIL("part %lld: parts or total changed", (long long)pt->part);
    }
    after = json_string_value(json_object_get(list, "range_after"));
    until = json_string_value(json_object_get(list, "range_until"));
    if ((ck->part == 0) != (after == NULL) ||
        (after != NULL && strcmp(after, ck->until) != 0))
        FILL_FAIL("part %lld: range_after %s does not join %s",
                  (long long)pt->part, after ? after : "null", ck->until);
    snprintf(ck->until, sizeof(ck->until), "%s", until ? until : "");
    ents = json_object_get(list, "entries");
    for (k = 0; k < json_array_size(ents); k++) {
        json_t *en = json_array_get(ents, k);
        while (ck->next < ck->n && !seal_fill_listed(ck->p, ck->next))
            ck->next++;
        if (ck->next >= ck->n)
            FILL_FAIL("part %lld: entry %zu is extra", (long long)pt->part,
                      k);
        seal_fill_esid(ck->next, want);
        if (strcmp(json_string_value(json_object_get(en, "es_id")), want))
            FILL_FAIL("part %lld: entry %zu is %s, expected %s",
                      (long long)pt->part, k,
                      json_string_value(json_object_get(en, "es_id")), want);
        if (strcmp(json_string_value(json_object_get(en, "state")),
                   seal_fill_state(ck->p, ck->next)))
            FILL_FAIL("%s: state %s", want,
                      json_string_value(json_object_get(en, "state")));
        ck->next++;
        ck->entries++;
    }
    ck->bytes += (int64_t)pt->json_len;
    ck->part++;
    if (ck->part == ck->parts) {      /* the last: nothing listed after */
        while (ck->next < ck->n && !seal_fill_listed(ck->p, ck->next))
            ck->next++;
        if (ck->next < ck->n || until != NULL ||
            ck->entries != ck->total)
            FILL_FAIL("the list ends before seal %lld (%lld of %lld "
                      "entries)", (long long)ck->next,
                      (long long)ck->entries, (long long)ck->total);
    }
out:
#undef FILL_FAIL
    json_decref(list);
    return rc;
}

#endif
