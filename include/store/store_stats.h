/*
 * store_stats.h - the queries of store_stats.c: the supervising
 * department's statistics (seals by state at a time, applications and
 * signatures in a period), each one grouped statement computed by the
 * database over the reader's subtrees, and the kept monthly reports
 * (stats_reports, migration 017).  Who may read what is the domain's
 * (stats.c).
 */
#ifndef SEALD_STORE_STATS_H
#define SEALD_STORE_STATS_H

#include "store.h"

/* Each statistics query below takes the reader's scope (the subtrees of
 * scope[0..nscope), nscope <= STORE_MAX_ROLES), calls fn once per row in
 * the order the statement gives, and reads at most limit rows: the
 * caller passes one more than it accepts to learn that there were more.
 * A non-OK return of fn stops the walk and is returned. */

/* Seals by region, organisation, kind and state at at_ms (the newest
 * history move at or before it). */
err_code store_stats_seals(struct store_conn *c, const int64_t *scope,
                           size_t nscope, int64_t at_ms, int limit,
                           store_stat_seals_fn fn, void *ctx, struct err *e);

/* Applications received and decided in [from_ms, to_ms), per
 * organisation, or one total row (org_id 0) when total is 1. */
err_code store_stats_apps(struct store_conn *c, const int64_t *scope,
                          size_t nscope, int64_t from_ms, int64_t to_ms,
                          int total, int limit, store_stat_apps_fn fn,
                          void *ctx, struct err *e);

/* Signatures in [from_ms, to_ms) per organisation, seal and UTC day. */
err_code store_stats_sigs(struct store_conn *c, const int64_t *scope,
                          size_t nscope, int64_t from_ms, int64_t to_ms,
                          int limit, store_stat_sigs_fn fn, void *ctx,
                          struct err *e);

/* The ids of organisations of kind 'region' after `after`, at most n of
 * them, into ids; *got how many. */
err_code store_stats_regions(struct store_conn *c, int64_t after,
                             int64_t *ids, int n, int *got, struct err *e);

/* *exists 1 when the report of org_id for month is kept. */
err_code store_stats_report_exists(struct store_conn *c, int64_t org_id,
                                   const char *month, int *exists,
                                   struct err *e);

/* Keep a report; *added 0 when one for (org_id, month) was kept already
 * (another node's: that one stays). */
err_code store_stats_report_insert(struct store_conn *c,
                                   const struct store_stats_report *r,
                                   const char *body_json,
                                   const char *body_csv, int *added,
                                   struct err *e);

/* The kept reports of the reader's subtrees with id > after, at most
 * limit, in id order. */
err_code store_stats_report_list(struct store_conn *c, const int64_t *scope,
                                 size_t nscope, int64_t after, int limit,
                                 store_stats_report_fn fn, void *ctx,
                                 struct err *e);

/* Report id; *body (malloc'ed, NUL-terminated, the caller frees) is its
 * JSON (csv 0) or CSV (csv 1) form.  ERR_NOT_FOUND if there is none. */
err_code store_stats_report_get(struct store_conn *c, int64_t id, int csv,
                                struct store_stats_report *out, char **body,
                                struct err *e);

#endif
