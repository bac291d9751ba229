/*
 * stats.h - the supervising department's statistics (issue 18 item 9):
 * seals by region, organisation, kind and state at a time; applications
 * received and decided in a period with their turnaround; signatures per
 * organisation, seal and day; as JSON or CSV (csv.h, the one writer).
 * Every figure is a grouped query the database computes over the
 * reader's subtrees (store_stats.h), with the period and the rows of one
 * answer bounded here.  And the monthly reports: the maintenance job makes
 * one per region organisation for the month just ended and keeps it
 * (stats_reports); they are listed and downloaded as they were made.
 *
 * Who reads: an account holding stats.read (the auditor role, rbac.c) over
 * the organisations asked for: the subtree of org_id when one is given
 * (forbidden otherwise), else every subtree its stats.read roles cover.  A
 * kept report is read by whoever holds stats.read over its region.
 */
#ifndef SEALD_STATS_H
#define SEALD_STATS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "authz.h"
#include "store_types.h"

#define STATS_ROWS_MAX      10000               /* rows of one answer     */
#define STATS_PERIOD_MAX_MS (366LL * 86400000)  /* the longest period     */
#define STATS_CSV_MAX       (16 * 1024 * 1024)  /* bytes of one CSV       */
#define STATS_DEFAULT_MS    (30LL * 86400000)   /* period when none given */

enum stats_kind { STATS_SEALS = 1, STATS_APPS, STATS_SIGS };

struct stats_query {
    enum stats_kind kind;
    int64_t         org_id;    /* 0: every subtree the reader may read  */
    int64_t         at_ms;     /* STATS_SEALS: the state at this time   */
    int64_t         from_ms;   /* STATS_APPS, STATS_SIGS: [from, to)    */
    int64_t         to_ms;
};

/* Check q (a period of at most STATS_PERIOD_MAX_MS, from before to) and
 * the reader (above), then compute it: *json (a new reference) when csv is
 * 0, else *csv_out (malloc'ed, the caller frees) and *csv_len.
 * ERR_TOO_LARGE when the answer would pass STATS_ROWS_MAX rows or
 * STATS_CSV_MAX bytes: a smaller organisation or period is needed. */
err_code stats_read(const struct actor_ctx *a, const struct stats_query *q,
                    int csv, json_t **json, char **csv_out, size_t *csv_len,
                    struct err *e);

/* The kept reports the reader may read with id > after, at most limit
 * (1..STORE_PAGE_MAX), as a new JSON array of {id, org_id, month, from_ms,
 * to_ms, created_ms}; *next the last id when the page is full, else 0. */
err_code stats_report_list(const struct actor_ctx *a, int64_t after,
                           int limit, json_t **items, int64_t *next,
                           struct err *e);

/* Kept report id in its JSON (csv 0) or CSV form: *body malloc'ed, the
 * caller frees.  ERR_NOT_FOUND for an unknown id and for one the reader
 * may not read (so ids tell nothing). */
err_code stats_report_get(const struct actor_ctx *a, int64_t id, int csv,
                          struct store_stats_report *r, char **body,
                          struct err *e);

/* The maintenance job's part: for the calendar month (UTC) before the one
 * of now_ms, the report of every region organisation that has none yet,
 * each kept in a unit of its own with its audit entry (stats.report, as
 * the system).  *made counts those kept.  A region whose report would be
 * too large is logged and skipped. */
err_code stats_monthly(struct store_conn *db, int64_t now_ms, int *made,
                       struct err *e);

/* The month before the one of now_ms: "YYYY-MM" into month[8], and its
 * bounds [*from_ms, *to_ms). */
void stats_last_month(int64_t now_ms, char month[8], int64_t *from_ms,
                      int64_t *to_ms);

#endif
