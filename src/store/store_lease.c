/*
 * store_lease.c - the SQL of the periodic jobs' leases (store_lease.h):
 * claiming a job's row and giving it back.  Which node runs what, and
 * when, is decided by the domain (lease.c).
 */
#include <string.h>

#include "store_int.h"
#include "store_lease.h"

err_code
store_lease_claim(struct store_conn *c, const char *job, const char *holder,
                  int64_t now_ms, int64_t until_ms, int *won, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_LEASE_CLAIM, e);
    enum db_row row;
    err_code rc;

    *won = 0;
    if (st == NULL)
        return ERR_DB;
    db_bind_text(st, 1, holder);
    db_bind_i64(st, 2, until_ms);
    db_bind_text(st, 3, job);
    db_bind_i64(st, 4, now_ms);
    if ((rc = db_step(st, &row, e)) == ERR_OK && row == DB_ROW)
        *won = strcmp(db_col_text(st, 0) ? db_col_text(st, 0) : "",
                      holder) == 0;
    db_release(st);
    return rc;
}

err_code
store_lease_release(struct store_conn *c, const char *job,
                    const char *holder, struct err *e)
{
    struct db_stmt *st = db_prep(c->dbc, DB_LEASE_RELEASE, e);

    if (st == NULL)
        return ERR_DB;
    db_bind_text(st, 1, job);
    db_bind_text(st, 2, holder);
    return db_step_done(st, e);
}
