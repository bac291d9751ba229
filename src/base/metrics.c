/*
 * metrics.c - the metrics registry (metrics.h): static arrays of relaxed
 * C11 atomic counters, one per series, and the text exposition of them.
 * Nothing here locks or allocates on the recording side, so the request
 * path pays one clock read and a few uncontended-in-the-common-case
 * atomic adds; only metrics_render allocates, for the scrape's answer.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

typedef atomic_uint_fast64_t mcount;

/* Latency buckets, upper bounds in microseconds (le in seconds). */
static const int64_t lat_le_us[] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000};
#define NLAT (sizeof(lat_le_us) / sizeof(lat_le_us[0]))

/* A latency histogram: per-bucket counts (not cumulative: one add per
 * observation; the render sums), the +Inf overflow, the sum and count. */
struct hist {
    mcount b[NLAT + 1];
    mcount sum_us;
    mcount n;
};

/* Status slots: the statuses seald answers; any other is "other". */
static const int status_codes[] = {
    200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 406, 408,
    409, 410, 411, 412, 413, 414, 415, 416, 417, 422, 429, 431, 500, 501,
    502, 503, 504, 505};
#define NSTATUS (sizeof(status_codes) / sizeof(status_codes[0]) + 1)

/* Group commit sizes: upper bounds. */
static const int64_t group_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define NGROUP (sizeof(group_le) / sizeof(group_le[0]))

static const char *const outcome_names[METRICS_OUTCOME__COUNT] = {
    "ok", "invalid", "refused", "failed"};
static const char *const token_op_names[METRICS_TOKEN_OP__COUNT] = {
    "sign", "keygen", "public_key", "other"};
static const char *const dialect_names[METRICS_DIALECT__COUNT] = {
    "sqlite", "postgresql"};

/* Route labels: [METRICS_ROUTES_MAX] is the unmatched slot. */
static const char *const *route_method;
static const char *const *route_pattern;
static atomic_size_t nroutes;

static struct {
    mcount      requests[METRICS_ROUTES_MAX + 1][NSTATUS];
    struct hist latency[METRICS_ROUTES_MAX + 1];
    mcount      sign[METRICS_OUTCOME__COUNT];
    mcount      verify[METRICS_OUTCOME__COUNT];
    mcount      token_ops[METRICS_TOKEN_OP__COUNT];
    mcount      token_errors[METRICS_TOKEN_OP__COUNT];
    struct hist token_latency[METRICS_TOKEN_OP__COUNT];
    mcount      group_b[NGROUP + 1];
    mcount      group_sum;
    mcount      group_n;
    struct hist db_latency[METRICS_DIALECT__COUNT];
    mcount      db_errors[METRICS_DIALECT__COUNT];
    mcount      db_trips[METRICS_DIALECT__COUNT];
} reg;

static void
inc(mcount *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t
get(mcount *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void
observe(struct hist *h, int64_t us)
{
    size_t i;

    if (us < 0)
        us = 0;
    for (i = 0; i < NLAT && us > lat_le_us[i]; i++)
        ;
    inc(&h->b[i], 1);
    inc(&h->sum_us, (uint64_t)us);
    inc(&h->n, 1);
}

size_t
metrics_routes_set(const char *const *method, const char *const *pattern,
                   size_t n)
{
    if (n > METRICS_ROUTES_MAX)
        n = METRICS_ROUTES_MAX;
    route_method = method;
    route_pattern = pattern;
    atomic_store(&nroutes, n);
    return n;
}

static size_t
status_slot(int status)
{
    size_t i;

    for (i = 0; i < NSTATUS - 1; i++)
        if (status_codes[i] == status)
            return i;
    return NSTATUS - 1;
}

void
metrics_http(size_t route, int status, int64_t dur_us)
{
    if (route >= atomic_load_explicit(&nroutes, memory_order_relaxed))
        route = METRICS_ROUTES_MAX;
    inc(&reg.requests[route][status_slot(status)], 1);
    observe(&reg.latency[route], dur_us);
}

void
metrics_sign(enum metrics_outcome o)
{
    if ((unsigned)o < METRICS_OUTCOME__COUNT)
        inc(&reg.sign[o], 1);
}

void
metrics_verify(enum metrics_outcome o)
{
    if ((unsigned)o < METRICS_OUTCOME__COUNT)
        inc(&reg.verify[o], 1);
}

void
metrics_token(enum metrics_token_op op, int failed, int64_t dur_us)
{
    if ((unsigned)op >= METRICS_TOKEN_OP__COUNT)
        op = METRICS_TOKEN_OTHER;
    inc(&reg.token_ops[op], 1);
    if (failed)
        inc(&reg.token_errors[op], 1);
    observe(&reg.token_latency[op], dur_us);
}

void
metrics_group_commit(size_t n)
{
    size_t i;

    for (i = 0; i < NGROUP && (int64_t)n > group_le[i]; i++)
        ;
    inc(&reg.group_b[i], 1);
    inc(&reg.group_sum, n);
    inc(&reg.group_n, 1);
}

void
metrics_db(enum metrics_dialect d, int failed, int64_t dur_us)
{
    if ((unsigned)d >= METRICS_DIALECT__COUNT)
        return;
    if (failed)
        inc(&reg.db_errors[d], 1);
    observe(&reg.db_latency[d], dur_us);
}

void
metrics_db_trips(enum metrics_dialect d, uint64_t n)
{
    if ((unsigned)d < METRICS_DIALECT__COUNT)
        inc(&reg.db_trips[d], n);
}

int64_t
metrics_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
metrics_reset(void)
{
    memset(&reg, 0, sizeof(reg));
}

/* ---- rendering --------------------------------------------------------- */

/* The answer being built; failed once memory ran out. */
struct out {
    char  *b;
    size_t n, cap;
    int    failed;
};

static void outf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
outf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (o->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        k = vsnprintf(o->b + o->n, o->cap - o->n, fmt, ap);
        va_end(ap);
        if (k < 0) {
            o->failed = 1;
            return;
        }
        if ((size_t)k < o->cap - o->n) {
            o->n += (size_t)k;
            return;
        }
        {
            size_t cap = o->cap * 2 + (size_t)k;
            char *p = realloc(o->b, cap);
            if (p == NULL) {
                o->failed = 1;
                return;
            }
            o->b = p;
            o->cap = cap;
        }
    }
}

/* A label value as the format wants it: backslash, quote and newline
 * escaped.  Our label values are route patterns and fixed names, so this
 * is defence, not a need. */
static void
out_label(struct out *o, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            outf(o, "\\%c", *s);
        else if (*s == '\n')
            outf(o, "\\n");
        else
            outf(o, "%c", *s);
    }
}

static void
head(struct out *o, const char *name, const char *type, const char *help)
{
    outf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's series: labels is "" or `a="b",` (with the comma). */
static void
out_hist(struct out *o, const char *name, const char *labels,
         struct hist *h)
{
    uint64_t cum = 0;
    size_t i;

    for (i = 0; i < NLAT; i++) {
        cum += get(&h->b[i]);
        outf(o, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels,
             (double)lat_le_us[i] / 1e6, (unsigned long long)cum);
    }
    cum += get(&h->b[NLAT]);
    outf(o, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
         (unsigned long long)cum);
    outf(o, "%s_sum{%.*s} %.6f\n", name,
         (int)(labels[0] ? strlen(labels) - 1 : 0), labels,
         (double)get(&h->sum_us) / 1e6);
    outf(o, "%s_count{%.*s} %llu\n", name,
         (int)(labels[0] ? strlen(labels) - 1 : 0), labels,
         (unsigned long long)get(&h->n));
}

/* The labels of route r: method and route template. */
static void
route_labels(struct out *o, size_t r)
{
    outf(o, "method=\"");
    out_label(o, r < METRICS_ROUTES_MAX ? route_method[r] : "other");
    outf(o, "\",route=\"");
    out_label(o, r < METRICS_ROUTES_MAX ? route_pattern[r] : "unmatched");
    outf(o, "\"");
}

static void
render_http(struct out *o)
{
    size_t nr = atomic_load(&nroutes), r, s;
    char labels[512];

    head(o, "seald_http_requests_total", "counter",
         "Requests answered, by route template and status.");
    for (r = 0; r <= METRICS_ROUTES_MAX; r++) {
        if (r >= nr && r < METRICS_ROUTES_MAX)
            continue;
        for (s = 0; s < NSTATUS; s++) {
            uint64_t v = get(&reg.requests[r][s]);
            if (v == 0)
                continue;
            outf(o, "seald_http_requests_total{");
            route_labels(o, r);
            if (s < NSTATUS - 1)
                outf(o, ",status=\"%d\"} %llu\n", status_codes[s],
                     (unsigned long long)v);
            else
                outf(o, ",status=\"other\"} %llu\n", (unsigned long long)v);
        }
    }
    head(o, "seald_http_request_duration_seconds", "histogram",
         "Time from the request line to the answer, by route template.");
    for (r = 0; r <= METRICS_ROUTES_MAX; r++) {
        if (r >= nr && r < METRICS_ROUTES_MAX)
            continue;
        if (get(&reg.latency[r].n) == 0)
            continue;
        /* route patterns and methods are ours: no quote or backslash in
         * them (out_label is for the counter lines' defence), and short */
        snprintf(labels, sizeof(labels), "method=\"%s\",route=\"%s\",",
                 r < METRICS_ROUTES_MAX ? route_method[r] : "other",
                 r < METRICS_ROUTES_MAX ? route_pattern[r] : "unmatched");
        out_hist(o, "seald_http_request_duration_seconds", labels,
                 &reg.latency[r]);
    }
}

static void
render_work(struct out *o)
{
    size_t i;
    char labels[64];

    head(o, "seald_signatures_total", "counter",
         "Signatures asked for, by outcome (ok: given out; refused: 4xx; "
         "failed: 5xx).");
    for (i = 0; i < METRICS_OUTCOME__COUNT; i++)
        if (i != METRICS_INVALID)
            outf(o, "seald_signatures_total{outcome=\"%s\"} %llu\n",
                 outcome_names[i], (unsigned long long)get(&reg.sign[i]));
    head(o, "seald_verifications_total", "counter",
         "Verifications, by outcome (ok: valid; invalid: a report saying "
         "not valid; refused: 4xx; failed: 5xx).");
    for (i = 0; i < METRICS_OUTCOME__COUNT; i++)
        outf(o, "seald_verifications_total{outcome=\"%s\"} %llu\n",
             outcome_names[i], (unsigned long long)get(&reg.verify[i]));
    head(o, "seald_token_operations_total", "counter",
         "PKCS#11 token operations, by kind.");
    for (i = 0; i < METRICS_TOKEN_OP__COUNT; i++)
        outf(o, "seald_token_operations_total{op=\"%s\"} %llu\n",
             token_op_names[i], (unsigned long long)get(&reg.token_ops[i]));
    head(o, "seald_token_errors_total", "counter",
         "PKCS#11 token operations that failed, by kind.");
    for (i = 0; i < METRICS_TOKEN_OP__COUNT; i++)
        outf(o, "seald_token_errors_total{op=\"%s\"} %llu\n",
             token_op_names[i],
             (unsigned long long)get(&reg.token_errors[i]));
    head(o, "seald_token_operation_duration_seconds", "histogram",
         "Duration of PKCS#11 token operations, by kind.");
    for (i = 0; i < METRICS_TOKEN_OP__COUNT; i++) {
        snprintf(labels, sizeof(labels), "op=\"%s\",", token_op_names[i]);
        out_hist(o, "seald_token_operation_duration_seconds", labels,
                 &reg.token_latency[i]);
    }
}

static void
render_store(struct out *o)
{
    uint64_t cum = 0;
    size_t i;
    char labels[64];

    head(o, "seald_group_commit_size", "histogram",
         "Units of work committed together by one group commit.");
    for (i = 0; i < NGROUP; i++) {
        cum += get(&reg.group_b[i]);
        outf(o, "seald_group_commit_size_bucket{le=\"%lld\"} %llu\n",
             (long long)group_le[i], (unsigned long long)cum);
    }
    cum += get(&reg.group_b[NGROUP]);
    outf(o, "seald_group_commit_size_bucket{le=\"+Inf\"} %llu\n",
         (unsigned long long)cum);
    outf(o, "seald_group_commit_size_sum %llu\n",
         (unsigned long long)get(&reg.group_sum));
    outf(o, "seald_group_commit_size_count %llu\n",
         (unsigned long long)get(&reg.group_n));
    head(o, "seald_db_statement_duration_seconds", "histogram",
         "Duration of database statement steps, BEGIN and COMMIT, by "
         "dialect.");
    for (i = 0; i < METRICS_DIALECT__COUNT; i++) {
        snprintf(labels, sizeof(labels), "dialect=\"%s\",",
                 dialect_names[i]);
        out_hist(o, "seald_db_statement_duration_seconds", labels,
                 &reg.db_latency[i]);
    }
    head(o, "seald_db_errors_total", "counter",
         "Database statement steps, BEGIN and COMMIT that failed, by "
         "dialect.");
    for (i = 0; i < METRICS_DIALECT__COUNT; i++)
        outf(o, "seald_db_errors_total{dialect=\"%s\"} %llu\n",
             dialect_names[i], (unsigned long long)get(&reg.db_errors[i]));
    head(o, "seald_db_round_trips_total", "counter",
         "Waits for a database server's answer (PostgreSQL; SQLite has no "
         "server), by dialect.");
    for (i = 0; i < METRICS_DIALECT__COUNT; i++)
        outf(o, "seald_db_round_trips_total{dialect=\"%s\"} %llu\n",
             dialect_names[i], (unsigned long long)get(&reg.db_trips[i]));
}

static void
render_gauges(struct out *o, const struct metrics_gauges *g)
{
    size_t i;

    if (g == NULL || !g->have_db)
        return;
    head(o, "seald_audit_entries", "gauge",
         "Entries in the audit chain (the sequence number of its head).");
    outf(o, "seald_audit_entries %lld\n", (long long)g->audit_entries);
    if (g->checkpoint_age_s >= 0) {
        head(o, "seald_audit_checkpoint_age_seconds", "gauge",
             "Seconds since the newest signed audit checkpoint.");
        outf(o, "seald_audit_checkpoint_age_seconds %lld\n",
             (long long)g->checkpoint_age_s);
    }
    head(o, "seald_seals", "gauge", "Seals, by state.");
    for (i = 0; i < g->nstates && i < METRICS_STATES_MAX; i++) {
        outf(o, "seald_seals{state=\"");
        out_label(o, g->state[i]);
        outf(o, "\"} %lld\n", (long long)g->seals[i]);
    }
    head(o, "seald_gauges_age_seconds", "gauge",
         "Age of the database gauges above (they are cached, not read on "
         "every scrape).");
    outf(o, "seald_gauges_age_seconds %lld\n", (long long)g->refreshed_age_s);
    if (g->have_outbox) {
        head(o, "seald_outbox_backlog", "gauge",
             "Deliveries of outbox events not yet made (retries included).");
        outf(o, "seald_outbox_backlog %lld\n", (long long)g->outbox_backlog);
    }
}

err_code
metrics_render(const struct metrics_gauges *g, char **out, size_t *len,
               struct err *e)
{
    struct out o = {NULL, 0, 0, 0};

    if ((o.b = malloc(o.cap = 16384)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory for the metrics");
    o.b[0] = '\0';
    render_http(&o);
    render_work(&o);
    render_store(&o);
    render_gauges(&o, g);
    if (o.failed) {
        free(o.b);
        return err_set(e, ERR_NOMEM, "out of memory for the metrics");
    }
    *out = o.b;
    *len = o.n;
    return ERR_OK;
}
