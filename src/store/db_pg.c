/*
 * db_pg.c - the PostgreSQL dialect of the database layer (db.h), on libpq:
 * the only file that calls libpq.
 *
 * The location is a libpq URL (postgresql://... or postgres://...), given
 * to PQconnectdb as it is.  The password is never on a command line: libpq
 * takes it from the password file (~/.pgpass, or the file PGPASSFILE
 * names) or, when the operator puts it there, from the URL itself; nothing
 * here reads or logs it.  create is ignored: the database must exist (its
 * schema is made by the migrations).  busy_ms becomes lock_timeout, so a
 * lock wait past it fails as busy (55P03), as SQLite's busy timeout does.
 * read_only connections run with default_transaction_read_only = on.
 *
 * Connections: one per thread per database, kept by db.c (db_conn_get),
 * which asks pg_conn_check to mend one found broken.  Statements: each statement id is prepared once per
 * connection (PQprepare, named s<id>) on first use, its text the portable
 * table's with {ids $N} rewritten to (SELECT unnest($N::bigint[])) and
 * {explicit ids} to OVERRIDING SYSTEM VALUE (ids are GENERATED ALWAYS;
 * only seald migrate's copy writes them, and db_ids_follow then moves each
 * identity's sequence past them), nothing else.  Binds are collected into the statement's parameter arrays
 * (int64 as decimal text, text as text, bytes as a binary parameter with
 * its length, NULL as NULL, an id set as the array literal {1,2,3}) and
 * the statement runs at its first db_step (PQexecPrepared); later steps
 * walk the rows of the result.  Results are asked for in text format:
 * integers are parsed from their decimal text (a boolean from t/f) and a
 * BYTEA column is decoded with PQunescapeBytea, the copy kept until the
 * next step.  Because a result is read whole, a statement being stepped
 * never blocks another on the same connection; a second holder of the same
 * id gets a twin that runs the same prepared statement.
 *
 * Transactions are BEGIN / COMMIT / ROLLBACK (read committed) and the
 * savepoint unit; BEGIN takes no lock, writers lock rows as they go, and
 * the audit chain's appends queue on its audit_head row (migration 008).
 * A COMMIT that PostgreSQL turns into a ROLLBACK (the transaction had
 * failed) is a failure.  db_in_transaction is PQtransactionStatus.
 *
 * Failures come from the SQLSTATE: 23505 unique, other 23xxx constraint,
 * 40001/40P01/55P03 busy; 08xxx, 57P0x, 53300 and a broken connection
 * unavailable (ERR_DB_UNAVAILABLE: 503 database_unavailable, and the
 * connection is reset at its next use); the rest other.  db_backup is refused: use pg_dump.  The migration series is
 * sql/postgresql/ (pg_migrations.c).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db_int.h"
#include "metrics.h"

/* The migrations compiled from sql/postgresql/ (pg_migrations.c). */
extern const struct db_migration db_pg_migrations[];
extern const size_t db_pg_migrations_count;

#define PG_MAX_PARAMS       32      /* the table uses up to $22 */
#define PG_BYTEA_OID        17
#define PG_BOOL_OID         16
#define PG_PASSWORD_MAX     1024    /* bytes of database.password_file */
#define PG_CONNECT_TIMEOUT  "5"     /* seconds, unless the URL says */
#define PG_SCHEMA_LOCK_KEY  "1936023916" /* advisory lock: "seal" in ASCII */
/* Results a batch may owe before it waits for them: each is a few dozen
 * bytes from the server, so a full queue stays far below the socket
 * buffers (a client that sends without reading must not fill both ways). */
#define PG_PENDING_MAX      128

struct pg_conn;

struct pg_stmt {
    struct db_stmt  base;           /* first: db.c reads the dialect */
    struct pg_conn *conn;
    enum db_stmt_id id;
    int             cached;         /* one of conn->slot: never freed */
    int             in_use;
    int             nparams;        /* highest $N of the text */
    int             bind_fail;      /* a bind out of range or no memory */
    PGresult       *res;            /* after the first step */
    int             row;            /* current row of res */
    struct { unsigned char *p; size_t n; } *bytea;  /* decoded, per column */
    int             nbytea;
    const char     *vals[PG_MAX_PARAMS];
    int             lens[PG_MAX_PARAMS];
    int             fmts[PG_MAX_PARAMS];
    char            num[PG_MAX_PARAMS][24];     /* int64 as decimal */
    char           *idset[PG_MAX_PARAMS];       /* id set literals */
};

struct pg_db;

/* A result a batch is owed: what db_step_later expected of it, or none
 * (BEGIN, a prepare: only failure counts). */
struct pg_pending {
    struct db_expect x;
    int              plain;
};

struct pg_conn {
    struct db_conn  base;           /* first */
    PGconn         *h;
    struct pg_db   *owner;
    enum db_fail    last;
    int64_t         changes;
    size_t          twins;          /* uncached statements alive */
    unsigned char   prepared[DB_STMT__COUNT];
    int             nparams[DB_STMT__COUNT];
    struct pg_stmt  slot[DB_STMT__COUNT];
    /* a batch (pipeline mode): results owed in the order sent, and the
     * first failure among those read (batch_rc ERR_OK while none) */
    int             batch;
    size_t          npend;
    struct pg_pending pend[PG_PENDING_MAX];
    err_code        batch_rc;
    struct err      batch_err;
    uint64_t        trips;          /* waits for the server: round trips */
};

/* One wait for the server's answer: the connection's count (db.h,
 * db_round_trips) and the metrics' (seald_db_round_trips_total). */
static void
pg_trip(struct pg_conn *c)
{
    c->trips++;
    metrics_db_trips(METRICS_POSTGRESQL, 1);
}

struct pg_db {
    struct db        base;          /* first */
    char            *url;
    char            *password;      /* from the password file, or NULL */
    long             busy_ms;
    int              read_only;
};

/* ---- failures ----------------------------------------------------------- */

static enum db_fail
fail_class(struct pg_conn *c, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
                            : NULL;

    if (PQstatus(c->h) != CONNECTION_OK)
        return DB_FAIL_UNAVAILABLE;
    if (state == NULL)
        return res == NULL ? DB_FAIL_UNAVAILABLE : DB_FAIL_OTHER;
    if (strcmp(state, "23505") == 0)
        return DB_FAIL_UNIQUE;
    if (strncmp(state, "23", 2) == 0)
        return DB_FAIL_CONSTRAINT;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strcmp(state, "55P03") == 0)
        return DB_FAIL_BUSY;
    /* 08: connection exception; 57P01-57P03: the server is shutting down
     * or starting; 53300: too many connections */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0 ||
        strcmp(state, "53300") == 0)
        return DB_FAIL_UNAVAILABLE;
    return DB_FAIL_OTHER;
}

/* The database's message for res (or the connection's), without libpq's
 * trailing newline, in buf. */
static const char *
message(struct pg_conn *c, const PGresult *res, char *buf, size_t cap)
{
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                        : NULL;
    size_t n;

    if (m == NULL)
        m = PQerrorMessage(c->h);
    snprintf(buf, cap, "%s", m && *m ? m : "postgresql error");
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

/* Record the failure of res on c (what says where) in *e, as db_sqlite.c
 * words its failures; returns its code. */
static err_code
fail(struct pg_conn *c, const PGresult *res, const char *what, struct err *e)
{
    enum db_fail f = fail_class(c, res);
    err_code code = db_fail_code(f);
    char msg[512];

    c->last = f;
    message(c, res, msg, sizeof(msg));
    if (f == DB_FAIL_UNIQUE)
        return err_set(e, code, "already exists");
    if (f == DB_FAIL_CONSTRAINT)
        return err_set(e, code, "constraint failed: %s", msg);
    if (what == NULL)
        return err_set(e, code, "%s", msg);
    return err_set(e, code, "%s: %s", what, msg);
}

static enum db_fail
pg_last_fail(struct db_conn *c_)
{
    return ((struct pg_conn *)c_)->last;
}

/* The rows an INSERT, UPDATE, DELETE or MERGE changed, as SQLite's
 * changes(): other statements leave the count alone. */
static void
count_changes(struct pg_conn *c, PGresult *res)
{
    const char *cmd = PQcmdStatus(res);

    if (strncmp(cmd, "INSERT", 6) == 0 || strncmp(cmd, "UPDATE", 6) == 0 ||
        strncmp(cmd, "DELETE", 6) == 0 || strncmp(cmd, "MERGE", 5) == 0)
        c->changes = strtoll(PQcmdTuples(res), NULL, 10);
}

/* Run sql with no parameters and no rows wanted (what names it in a
 * failure, NULL for the database's words alone). */
static err_code batch_send_plain(struct pg_conn *c, const char *sql,
                                 struct err *e);
static void pg_release(struct db_stmt *st_);

static err_code
exec_plain(struct pg_conn *c, const char *sql, const char *what,
           struct err *e)
{
    PGresult *res;
    ExecStatusType s;
    err_code rc = ERR_OK;

    if (c->batch)               /* sent; its failure comes at the next wait */
        return batch_send_plain(c, sql, e);
    pg_trip(c);
    res = PQexec(c->h, sql);
    s = PQresultStatus(res);

    if (res == NULL || (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK &&
                        s != PGRES_EMPTY_QUERY))
        rc = fail(c, res, what, e);
    else {
        count_changes(c, res);
        c->last = DB_FAIL_NONE;
    }
    PQclear(res);
    return rc;
}

/* ---- batches (pipeline mode) --------------------------------------------
 *
 * db.h's batches are libpq's pipeline mode: statements are sent without
 * waiting and their results read, in the order sent, when the caller next
 * waits.  Each owed result is a pg_pending with what db_step_later
 * expected of it.  The first failure read (a database error, or an
 * expectation not met) is kept in batch_rc / batch_err: the server skips
 * what follows an error until the next sync (PGRES_PIPELINE_ABORTED), and
 * an expectation not met leaves the transaction to be rolled back, so
 * every later call of the batch reports that first failure.  A batch
 * always ends with a sync and leaves pipeline mode (db_commit,
 * db_rollback), so the connection is an ordinary one again afterwards. */

/* Remember the first failure of the batch. */
static err_code
batch_fail(struct pg_conn *c, err_code rc, const struct err *e)
{
    if (c->batch_rc == ERR_OK) {
        c->batch_rc = rc;
        if (e != NULL)
            c->batch_err = *e;
        else
            err_set(&c->batch_err, rc, "postgresql: batch failed");
    }
    return c->batch_rc;
}

/* The batch's first failure into e. */
static err_code
batch_failed(struct pg_conn *c, struct err *e)
{
    if (e != NULL)
        *e = c->batch_err;
    return c->batch_rc;
}

/* A sent query owes its result: queue what is expected of it. */
static void
batch_owe(struct pg_conn *c, const struct db_expect *x)
{
    struct pg_pending *p = &c->pend[c->npend++];

    memset(p, 0, sizeof(*p));
    if (x != NULL)
        p->x = *x;
    else
        p->plain = 1;
}

/* Read one owed result (and the NULL that ends it) and check it. */
static void
batch_read_one(struct pg_conn *c, const struct pg_pending *p)
{
    PGresult *res = PQgetResult(c->h), *more;
    ExecStatusType s = PQresultStatus(res);
    struct err e;

    err_clear(&e);
    if (res == NULL)
        batch_fail(c, fail(c, NULL, "batch", &e), &e);
    else if (s == PGRES_PIPELINE_ABORTED)
        ;                           /* after the failure already kept */
    else if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        batch_fail(c, fail(c, res, NULL, &e), &e);
    else if (p->plain)
        ;
    else if (p->x.id_out != NULL) {
        if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
            batch_fail(c, err_set(&e, ERR_INTERNAL, "insert returned no "
                                  "id"), &e);
        else
            *p->x.id_out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    } else if (p->x.code != ERR_OK &&
               strtoll(PQcmdTuples(res), NULL, 10) == 0)
        batch_fail(c, err_set(&e, p->x.code, "%s", p->x.msg), &e);
    if (res != NULL) {
        count_changes(c, res);
        PQclear(res);
        /* each query's results end with a NULL */
        while ((more = PQgetResult(c->h)) != NULL)
            PQclear(more);
    }
}

/* Ask the server for what it holds and read every owed result. */
static err_code
batch_drain(struct pg_conn *c, struct err *e)
{
    size_t i, n = c->npend;

    if (n == 0)
        return batch_failed(c, e);
    c->npend = 0;
    pg_trip(c);
    if (PQsendFlushRequest(c->h) != 1 || PQflush(c->h) != 0) {
        struct err fe;

        err_clear(&fe);
        batch_fail(c, fail(c, NULL, "batch", &fe), &fe);
        return batch_failed(c, e);
    }
    for (i = 0; i < n; i++)
        batch_read_one(c, &c->pend[i]);
    return batch_failed(c, e);
}

/* Make room for one more owed result. */
static err_code
batch_room(struct pg_conn *c, struct err *e)
{
    if (c->npend < PG_PENDING_MAX)
        return ERR_OK;
    return batch_drain(c, e);
}

/* In a batch: send sql (no parameters), owing a plain result. */
static err_code
batch_send_plain(struct pg_conn *c, const char *sql, struct err *e)
{
    err_code rc;

    if ((rc = batch_room(c, e)) != ERR_OK)
        return rc;
    if (PQsendQueryParams(c->h, sql, 0, NULL, NULL, NULL, NULL, 0) != 1) {
        struct err fe;

        err_clear(&fe);
        batch_fail(c, fail(c, NULL, sql, &fe), &fe);
        return batch_failed(c, e);
    }
    batch_owe(c, NULL);
    return ERR_OK;
}

/* In a batch: send the preparation of name, owing a plain result. */
static err_code
batch_send_prepare(struct pg_conn *c, const char *name, const char *sql,
                   struct err *e)
{
    err_code rc;

    if ((rc = batch_room(c, e)) != ERR_OK)
        return rc;
    if (PQsendPrepare(c->h, name, sql, 0, NULL) != 1) {
        struct err fe;

        err_clear(&fe);
        batch_fail(c, fail(c, NULL, "prepare", &fe), &fe);
        return batch_failed(c, e);
    }
    batch_owe(c, NULL);
    return ERR_OK;
}

/* In a batch: send st's prepared statement with its binds. */
static err_code
batch_send_stmt(struct pg_stmt *st, struct err *e)
{
    struct pg_conn *c = st->conn;
    char name[16];
    err_code rc;

    if ((rc = batch_room(c, e)) != ERR_OK)
        return rc;
    snprintf(name, sizeof(name), "s%d", (int)st->id);
    if (PQsendQueryPrepared(c->h, name, st->nparams, st->vals, st->lens,
                            st->fmts, 0) != 1) {
        struct err fe;

        err_clear(&fe);
        batch_fail(c, fail(c, NULL, "step", &fe), &fe);
        return batch_failed(c, e);
    }
    return ERR_OK;
}

/* End the batch: a sync, every result up to it read and dropped, out of
 * pipeline mode.  The caller then commits or rolls back as usual. */
/* After a sync was sent: read and drop every result up to it, and leave
 * pipeline mode. */
static void
batch_end_synced(struct pg_conn *c)
{
    PGresult *res;
    ExecStatusType s;

    c->batch = 0;
    c->npend = 0;
    for (;;) {
        res = PQgetResult(c->h);
        if (res == NULL) {
            if (PQstatus(c->h) != CONNECTION_OK)
                break;
            continue;               /* the end of one query's results */
        }
        s = PQresultStatus(res);
        PQclear(res);
        if (s == PGRES_PIPELINE_SYNC)
            break;
    }
    (void)PQexitPipelineMode(c->h);
}

static void
batch_end(struct pg_conn *c)
{
    if (!c->batch)
        return;
    pg_trip(c);
    if (PQpipelineSync(c->h) != 1) {
        c->batch = 0;
        c->npend = 0;
        (void)PQexitPipelineMode(c->h);
        return;
    }
    batch_end_synced(c);
}

/* The schema lock is the session advisory lock PG_SCHEMA_LOCK_KEY: nodes
 * started at once wait on it in turn, and the second finds every migration
 * applied. */
static err_code
pg_schema_lock(struct db_conn *c_, int lock, struct err *e)
{
    struct pg_conn *c = (struct pg_conn *)c_;

    return exec_plain(c, lock ? "SELECT pg_advisory_lock(" PG_SCHEMA_LOCK_KEY
                                ")"
                              : "SELECT pg_advisory_unlock("
                                PG_SCHEMA_LOCK_KEY ")",
                      "schema lock", e);
}

/* Contract: db.h.  The identity's sequence is set to max_id, so the next
 * id is max_id + 1; an empty table (0) restarts it at 1.  A column with no
 * sequence is an error, not a silent nothing (setval of NULL is NULL). */
static err_code
pg_ids_follow(struct db_conn *c_, const char *table, const char *column,
              int64_t max_id, struct err *e)
{
    static const char sql[] =
        "SELECT setval(pg_get_serial_sequence($1, $2), "
        "greatest(CAST($3 AS BIGINT), 1), CAST($3 AS BIGINT) >= 1)";
    struct pg_conn *c = (struct pg_conn *)c_;
    const char *vals[3];
    char num[24];
    PGresult *res;
    err_code rc = ERR_OK;

    snprintf(num, sizeof(num), "%lld", (long long)max_id);
    vals[0] = table;
    vals[1] = column;
    vals[2] = num;
    res = PQexecParams(c->h, sql, 3, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = fail(c, res, "ids follow", e);
    else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
        rc = err_set(e, ERR_INTERNAL, "%s.%s has no identity sequence",
                     table, column);
    else
        c->last = DB_FAIL_NONE;
    PQclear(res);
    return rc;
}

/* ---- connections -------------------------------------------------------- */

static void
quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;      /* NOTICEs ("already exists, skipping") are not errors */
}

static void
stmt_reset(struct pg_stmt *st)
{
    int i;

    PQclear(st->res);
    st->res = NULL;
    for (i = 0; i < st->nbytea; i++)
        PQfreemem(st->bytea[i].p);
    free(st->bytea);
    st->bytea = NULL;
    st->nbytea = 0;
    for (i = 0; i < PG_MAX_PARAMS; i++) {
        free(st->idset[i]);
        st->idset[i] = NULL;
        st->vals[i] = NULL;
        st->lens[i] = 0;
        st->fmts[i] = 0;
    }
    st->bind_fail = 0;
    st->row = -1;
}

static void
conn_free(struct pg_conn *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < DB_STMT__COUNT; i++)
        stmt_reset(&c->slot[i]);
    PQfinish(c->h);
    free(c);
}

static void
pg_conn_free(struct db_conn *c)
{
    conn_free((struct pg_conn *)c);
}

/* What every session of d runs under: the busy wait as lock_timeout (a
 * lock held past it fails as busy, 55P03) and, read-only, no writes. */
static err_code
conn_settings(struct pg_conn *c, struct err *e)
{
    char sql[64];
    err_code rc;

    PQsetNoticeProcessor(c->h, quiet, NULL);
    snprintf(sql, sizeof(sql), "SET lock_timeout = %ld",
             c->owner->busy_ms > 0 ? c->owner->busy_ms : 0);
    rc = exec_plain(c, sql, "postgresql", e);
    if (rc == ERR_OK && c->owner->read_only)
        rc = exec_plain(c, "SET default_transaction_read_only = on",
                        "postgresql", e);
    return rc;
}

static err_code
pg_conn_open(struct db *d_, int create, struct db_conn **out, struct err *e)
{
    struct pg_db *d = (struct pg_db *)d_;
    struct pg_conn *c;
    err_code rc;
    size_t i;

    (void)create;           /* the database must exist: see above */
    *out = NULL;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    c->base.dialect = &db_pg;
    for (i = 0; i < DB_STMT__COUNT; i++) {
        c->slot[i].base.dialect = &db_pg;
        c->slot[i].conn = c;
        c->slot[i].id = (enum db_stmt_id)i;
        c->slot[i].cached = 1;
        c->slot[i].row = -1;
    }
    {
        /* connect_timeout first, so the URL's own wins: a server that
         * drops packets costs a request PG_CONNECT_TIMEOUT, not forever */
        const char *keys[] = {"connect_timeout", "dbname", "password", NULL};
        const char *vals[] = {PG_CONNECT_TIMEOUT, d->url, d->password, NULL};

        if (d->password == NULL)
            keys[2] = NULL;
        c->h = PQconnectdbParams(keys, vals, 1);
    }
    if (c->h == NULL || PQstatus(c->h) != CONNECTION_OK) {
        char msg[512];

        if (c->h == NULL)
            rc = err_set(e, ERR_DB, "postgresql: out of memory");
        else
            rc = err_set(e, ERR_DB_UNAVAILABLE, "postgresql: %s",
                         message(c, NULL, msg, sizeof(msg)));
        conn_free(c);
        return rc;
    }
    c->owner = d;
    if ((rc = conn_settings(c, e)) != ERR_OK) {
        conn_free(c);
        return rc;
    }
    *out = &c->base;
    return ERR_OK;
}

/* Refuse a location that carries a password (in the URL's user part or
 * as ?password=): a URL is shown by ps, logs and error messages, and the
 * password belongs in database.password_file. */
static err_code
url_check(const char *location, struct err *e)
{
    PQconninfoOption *opts, *o;
    char *msg = NULL;
    int has_password = 0;

    if ((opts = PQconninfoParse(location, &msg)) == NULL) {
        /* libpq's words name the fault, not the password */
        err_set(e, ERR_CONFIG, "database.url: %s",
                msg ? msg : "not a valid postgresql:// URL");
        PQfreemem(msg);
        return ERR_CONFIG;
    }
    for (o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
            o->val[0] != '\0')
            has_password = 1;
    PQconninfoFree(opts);
    if (has_password)
        return err_set(e, ERR_CONFIG, "database.url carries a password; "
                       "put it in database.password_file instead");
    return ERR_OK;
}

/* The password in path: its first line, at most PG_PASSWORD_MAX bytes, in
 * a file no one but its owner may read (as ssh demands of a key).  *out
 * is malloc'ed; the caller wipes and frees it. */
static err_code
password_read(const char *path, char **out, struct err *e)
{
    char buf[PG_PASSWORD_MAX + 2];
    struct stat st;
    size_t n;
    FILE *f;

    *out = NULL;
    if ((f = fopen(path, "re")) == NULL)
        return err_set(e, ERR_CONFIG, "database.password_file %s: %s", path,
                       strerror(errno));
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
        fclose(f);
        return err_set(e, ERR_CONFIG, "database.password_file %s: readable "
                       "by others (chmod 600 it)", path);
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    n = strlen(buf);
    if (n == 0 || n > PG_PASSWORD_MAX) {
        explicit_bzero(buf, sizeof(buf));
        return err_set(e, ERR_CONFIG, "database.password_file %s: %s", path,
                       n == 0 ? "empty" : "longer than 1024 bytes");
    }
    *out = strdup(buf);
    explicit_bzero(buf, sizeof(buf));
    return *out ? ERR_OK : err_set(e, ERR_NOMEM, "out of memory");
}

/* The database at location (a postgresql:// URL with no password in it,
 * kept for every connection libpq opens) and the password of
 * password_file, kept as long as the database for the same reason. */
static err_code
pg_open(const char *location, const char *password_file, long busy_ms,
        int read_only, struct db **out, struct err *e)
{
    struct pg_db *d;
    err_code rc;

    *out = NULL;
    if ((rc = url_check(location, e)) != ERR_OK)
        return rc;
    if ((d = calloc(1, sizeof(*d))) == NULL ||
        (d->url = strdup(location)) == NULL) {
        free(d);
        return err_set(e, ERR_NOMEM, "out of memory");
    }
    if (password_file != NULL && password_file[0] != '\0' &&
        (rc = password_read(password_file, &d->password, e)) != ERR_OK) {
        free(d->url);
        free(d);
        return rc;
    }
    d->busy_ms = busy_ms;
    d->read_only = read_only;
    *out = &d->base;
    return ERR_OK;
}

static void
pg_free(struct db *d_)
{
    struct pg_db *d = (struct pg_db *)d_;

    if (d->password != NULL) {
        explicit_bzero(d->password, strlen(d->password));
        free(d->password);
    }
    free(d->url);
    free(d);
}

/* A connection found broken is reset when the thread next asks for it:
 * its prepared statements and settings went with the server's session.
 * Still broken, its statements fail as I/O. */
static void
pg_conn_check(struct db_conn *c_)
{
    struct pg_conn *c = (struct pg_conn *)c_;

    /* A server that restarted has sent its goodbye and closed the socket,
     * but libpq only notices on the next read: read what is there now
     * (the socket is non-blocking inside libpq, so this never waits), so
     * the first request after a restart finds the connection broken here
     * and mended, instead of failing on it.  Twice: the first read takes
     * the server's last message, the second meets the end of the stream
     * (an idle healthy connection has nothing to read either time). */
    if (PQstatus(c->h) == CONNECTION_OK && PQconsumeInput(c->h) == 1 &&
        PQconsumeInput(c->h) == 1 && PQstatus(c->h) == CONNECTION_OK)
        return;
    PQreset(c->h);
    memset(c->prepared, 0, sizeof(c->prepared));
    if (PQstatus(c->h) == CONNECTION_OK)
        (void)conn_settings(c, NULL);
}


/* ---- statements --------------------------------------------------------- */

/* The PostgreSQL text of a portable statement (malloc'ed; NULL when out of
 * memory) and in *nparams its highest $N.  {ids $N} becomes
 * (SELECT unnest($N::bigint[])), {explicit ids} OVERRIDING SYSTEM VALUE;
 * quoted strings are copied as they are.  Each '{' may grow the text by
 * the longer of the two (the allocation below). */
static char *
pg_text(const char *in, int *nparams)
{
    static const char explicit_ids[] = "{explicit ids}";
    static const char explicit_pg[] = "OVERRIDING SYSTEM VALUE";
    static const char ids_open[] = "{ids ";
    static const char ids_pg[] = "(SELECT unnest(";
    static const char ids_close[] = "::bigint[]))";
    size_t n = strlen(in), k = 0, sets = 0;
    const char *p;
    char *out, quote = 0;

    *nparams = 0;
    for (p = in; (p = strchr(p, '{')) != NULL; p++)
        sets++;
    if ((out = malloc(n + sets * (sizeof(ids_pg) + sizeof(ids_close)) + 1))
        == NULL)
        return NULL;
    while (*in != '\0') {
        if (quote) {
            if (*in == quote)
                quote = 0;
            out[k++] = *in++;
        } else if (*in == '\'' || *in == '"') {
            quote = *in;
            out[k++] = *in++;
        } else if (*in == '$' && in[1] >= '0' && in[1] <= '9') {
            int v = atoi(in + 1);

            if (v > *nparams)
                *nparams = v;
            out[k++] = *in++;
        } else if (strncmp(in, explicit_ids, sizeof(explicit_ids) - 1)
                   == 0) {
            memcpy(out + k, explicit_pg, sizeof(explicit_pg) - 1);
            k += sizeof(explicit_pg) - 1;
            in += sizeof(explicit_ids) - 1;
        } else if (strncmp(in, ids_open, sizeof(ids_open) - 1) == 0) {
            memcpy(out + k, ids_pg, sizeof(ids_pg) - 1);
            k += sizeof(ids_pg) - 1;
            in += sizeof(ids_open) - 1;
            while (*in != '\0' && *in != '}') {
                if (*in == '$' && atoi(in + 1) > *nparams)
                    *nparams = atoi(in + 1);
                out[k++] = *in++;
            }
            if (*in == '}')
                in++;
            memcpy(out + k, ids_close, sizeof(ids_close) - 1);
            k += sizeof(ids_close) - 1;
        } else {
            out[k++] = *in++;
        }
    }
    out[k] = '\0';
    return out;
}

/* Prepare statement id on c under the name s<id>, once per connection. */
static err_code
prepare(struct pg_conn *c, enum db_stmt_id id, struct err *e)
{
    const char *text = db_stmt_text(id);
    char name[16], *sql;
    PGresult *res;
    err_code rc = ERR_OK;
    int np;

    if (c->prepared[id])
        return ERR_OK;
    if (text == NULL)
        return err_set(e, ERR_INTERNAL, "statement %d has no text", (int)id);
    if ((sql = pg_text(text, &np)) == NULL)
        return err_set(e, ERR_NOMEM, "out of memory");
    if (np > PG_MAX_PARAMS) {
        free(sql);
        return err_set(e, ERR_INTERNAL, "statement %d: too many parameters",
                       (int)id);
    }
    snprintf(name, sizeof(name), "s%d", (int)id);
    if (c->batch) {
        rc = batch_send_prepare(c, name, sql, e);
        free(sql);
        if (rc == ERR_OK) {
            c->prepared[id] = 1;
            c->nparams[id] = np;
        }
        return rc;
    }
    pg_trip(c);
    res = PQprepare(c->h, name, sql, 0, NULL);
    free(sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = fail(c, res, "prepare", e);
    else {
        c->prepared[id] = 1;
        c->nparams[id] = np;
    }
    PQclear(res);
    return rc;
}

/* Contract: db.h.  A cached statement held but not run yet, or with its
 * rows all read, is handed out again (only a holder that forgot db_release
 * is in that state); one whose rows are being read gets a twin. */
static struct db_stmt *
pg_prep(struct db_conn *c_, enum db_stmt_id id, struct err *e)
{
    struct pg_conn *c = (struct pg_conn *)c_;
    struct pg_stmt *st;

    if ((unsigned)id >= DB_STMT__COUNT) {
        err_set(e, ERR_INTERNAL, "statement %d out of range", (int)id);
        return NULL;
    }
    if (prepare(c, id, e) != ERR_OK)
        return NULL;
    st = &c->slot[id];
    if (st->in_use && st->res != NULL && st->row < PQntuples(st->res)) {
        if ((st = calloc(1, sizeof(*st))) == NULL) {
            err_set(e, ERR_NOMEM, "out of memory");
            return NULL;
        }
        st->base.dialect = &db_pg;
        st->conn = c;
        st->id = id;
        c->twins++;
    }
    stmt_reset(st);
    st->nparams = c->nparams[id];
    st->in_use = 1;
    return &st->base;
}

static void
pg_release(struct db_stmt *st_)
{
    struct pg_stmt *st = (struct pg_stmt *)st_;

    stmt_reset(st);
    if (st->cached) {
        st->in_use = 0;
        return;
    }
    st->conn->twins--;
    free(st);
}

/* The slot of parameter i (1-based), or -1 remembered as a failed bind. */
static int
param(struct pg_stmt *st, int i)
{
    if (i < 1 || i > st->nparams) {
        st->bind_fail = 1;
        return -1;
    }
    return i - 1;
}

static void
pg_bind_null(struct db_stmt *st_, int i)
{
    struct pg_stmt *st = (struct pg_stmt *)st_;
    int k = param(st, i);

    if (k < 0)
        return;
    st->vals[k] = NULL;
    st->fmts[k] = 0;
}

static void
pg_bind_i64(struct db_stmt *st_, int i, int64_t v)
{
    struct pg_stmt *st = (struct pg_stmt *)st_;
    int k = param(st, i);

    if (k < 0)
        return;
    snprintf(st->num[k], sizeof(st->num[k]), "%lld", (long long)v);
    st->vals[k] = st->num[k];
    st->fmts[k] = 0;
}

static void
pg_bind_text(struct db_stmt *st_, int i, const char *v)
{
    struct pg_stmt *st = (struct pg_stmt *)st_;
    int k = param(st, i);

    if (k < 0)
        return;
    st->vals[k] = v;
    st->fmts[k] = 0;
}

static void
pg_bind_bytes(struct db_stmt *st_, int i, const void *p, size_t n)
{
    struct pg_stmt *st = (struct pg_stmt *)st_;
    int k = param(st, i);

    if (k < 0)
        return;
    if (n > (size_t)INT32_MAX) {
        st->bind_fail = 1;
        return;
    }
    st->vals[k] = n ? p : "";       /* empty bytes, not NULL */
    st->lens[k] = (int)n;
    st->fmts[k] = 1;
}

/* The set as an array literal {1,2,3}, kept until the statement's reset. */
static void
pg_bind_id_set(struct db_stmt *st_, int i, const int64_t *ids, size_t n)
{
    struct pg_stmt *st = (struct pg_stmt *)st_;
    int k = param(st, i);
    size_t j, len = 0, cap = 2 + n * 21;
    char *text;

    if (k < 0)
        return;
    if (n > DB_MAX_ID_SET || (text = malloc(cap + 1)) == NULL) {
        st->bind_fail = 1;
        return;
    }
    text[len++] = '{';
    for (j = 0; j < n; j++)
        len += (size_t)snprintf(text + len, cap + 1 - len, "%s%lld",
                                j ? "," : "", (long long)ids[j]);
    snprintf(text + len, cap + 1 - len, "}");
    free(st->idset[k]);
    st->idset[k] = text;
    st->vals[k] = text;
    st->fmts[k] = 0;
}

/* In a batch, run st whose rows the caller needs now: sent behind what
 * the batch owes, one flush, every owed result read, then its own into
 * st->res.  A failure of anything owed is st's failure: the server
 * skipped st after it. */
static err_code
batch_exec(struct pg_stmt *st, struct err *e)
{
    struct pg_conn *c = st->conn;
    PGresult *more;
    ExecStatusType s;
    struct err fe;
    size_t i, n;

    err_clear(&fe);
    if (batch_failed(c, NULL) != ERR_OK ||
        batch_send_stmt(st, NULL) != ERR_OK)
        return batch_failed(c, e);
    pg_trip(c);
    if (PQsendFlushRequest(c->h) != 1 || PQflush(c->h) != 0) {
        batch_fail(c, fail(c, NULL, "step", &fe), &fe);
        return batch_failed(c, e);
    }
    n = c->npend;
    c->npend = 0;
    for (i = 0; i < n; i++)
        batch_read_one(c, &c->pend[i]);
    st->res = PQgetResult(c->h);
    s = PQresultStatus(st->res);
    if (st->res != NULL)
        while ((more = PQgetResult(c->h)) != NULL)
            PQclear(more);
    if (batch_failed(c, NULL) == ERR_OK &&
        (st->res == NULL || (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)))
        batch_fail(c, fail(c, st->res, "step", &fe), &fe);
    if (batch_failed(c, NULL) != ERR_OK) {
        PQclear(st->res);
        st->res = NULL;
        return batch_failed(c, e);
    }
    return ERR_OK;
}

/* Outside a batch, run st into st->res. */
static err_code
plain_exec(struct pg_stmt *st, struct err *e)
{
    struct pg_conn *c = st->conn;
    ExecStatusType s;
    char name[16];
    err_code rc;

    snprintf(name, sizeof(name), "s%d", (int)st->id);
    pg_trip(c);
    st->res = PQexecPrepared(c->h, name, st->nparams, st->vals, st->lens,
                             st->fmts, 0);
    s = PQresultStatus(st->res);
    if (st->res == NULL || (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)) {
        rc = fail(c, st->res, "step", e);
        PQclear(st->res);
        st->res = NULL;
        return rc;
    }
    return ERR_OK;
}

static err_code
pg_step(struct db_stmt *st_, enum db_row *row, struct err *e)
{
    struct pg_stmt *st = (struct pg_stmt *)st_;
    struct pg_conn *c = st->conn;
    err_code rc;
    int i;

    *row = DB_DONE;
    if (st->bind_fail) {
        c->last = DB_FAIL_OTHER;
        return err_set(e, ERR_INTERNAL, "bind: parameter out of range");
    }
    for (i = 0; i < st->nbytea; i++) {
        PQfreemem(st->bytea[i].p);
        st->bytea[i].p = NULL;
        st->bytea[i].n = 0;
    }
    if (st->res == NULL) {
        if ((rc = c->batch ? batch_exec(st, e) : plain_exec(st, e))
            != ERR_OK)
            return rc;
        count_changes(c, st->res);
        st->row = -1;
        if (PQnfields(st->res) > st->nbytea) {
            void *b = realloc(st->bytea, sizeof(*st->bytea) *
                              (size_t)PQnfields(st->res));

            if (b == NULL) {
                c->last = DB_FAIL_OTHER;
                return err_set(e, ERR_NOMEM, "out of memory");
            }
            st->bytea = b;
            for (i = st->nbytea; i < PQnfields(st->res); i++)
                st->bytea[i].p = NULL, st->bytea[i].n = 0;
            st->nbytea = PQnfields(st->res);
        }
    }
    c->last = DB_FAIL_NONE;
    if (st->row < PQntuples(st->res))
        st->row++;
    if (st->row < PQntuples(st->res))
        *row = DB_ROW;
    return ERR_OK;
}

/* Whether col of the current row is there and not NULL. */
static int
has_value(struct pg_stmt *st, int col)
{
    return st->res != NULL && st->row >= 0 && st->row < PQntuples(st->res)
           && col >= 0 && col < PQnfields(st->res)
           && !PQgetisnull(st->res, st->row, col);
}

static int64_t
pg_col_i64(struct db_stmt *st_, int col)
{
    struct pg_stmt *st = (struct pg_stmt *)st_;
    const char *v;

    if (!has_value(st, col))
        return 0;
    v = PQgetvalue(st->res, st->row, col);
    if (PQftype(st->res, col) == PG_BOOL_OID)
        return v[0] == 't';
    return strtoll(v, NULL, 10);
}

static int
pg_col_is_null(struct db_stmt *st_, int col)
{
    return !has_value((struct pg_stmt *)st_, col);
}

static const char *
pg_col_text(struct db_stmt *st_, int col)
{
    struct pg_stmt *st = (struct pg_stmt *)st_;

    if (!has_value(st, col))
        return NULL;
    return PQgetvalue(st->res, st->row, col);
}

static const void *
pg_col_bytes(struct db_stmt *st_, int col, size_t *len)
{
    struct pg_stmt *st = (struct pg_stmt *)st_;
    const char *v;
    size_t n = 0;

    *len = 0;
    if (!has_value(st, col))
        return NULL;
    v = PQgetvalue(st->res, st->row, col);
    if (PQftype(st->res, col) != PG_BYTEA_OID) {
        n = (size_t)PQgetlength(st->res, st->row, col);
        *len = n;
        return n ? v : NULL;
    }
    if (st->bytea[col].p == NULL) {
        st->bytea[col].p = PQunescapeBytea((const unsigned char *)v, &n);
        if (st->bytea[col].p == NULL)
            return NULL;
        st->bytea[col].n = n;
    }
    *len = st->bytea[col].n;
    return *len ? st->bytea[col].p : NULL;
}

static size_t
pg_live_statements(struct db_conn *c_)
{
    struct pg_conn *c = (struct pg_conn *)c_;
    size_t i, n = c->twins;

    for (i = 0; i < DB_STMT__COUNT; i++)
        n += c->prepared[i];
    return n;
}

static struct db_conn *
pg_stmt_conn(struct db_stmt *st_)
{
    return &((struct pg_stmt *)st_)->conn->base;
}

static int64_t
pg_changes(struct db_conn *c_)
{
    return ((struct pg_conn *)c_)->changes;
}


static err_code
pg_batch_begin(struct db_conn *c_, struct err *e)
{
    struct pg_conn *c = (struct pg_conn *)c_;

    if (c->batch || PQtransactionStatus(c->h) != PQTRANS_IDLE)
        return err_set(e, ERR_INTERNAL, "a batch inside a transaction");
    if (PQenterPipelineMode(c->h) != 1)
        return fail(c, NULL, "pipeline", e);
    c->batch = 1;
    c->npend = 0;
    c->batch_rc = ERR_OK;
    err_clear(&c->batch_err);
    return batch_send_plain(c, "BEGIN", e);
}

static int
pg_in_batch(struct db_conn *c_)
{
    return ((struct pg_conn *)c_)->batch;
}

static uint64_t
pg_round_trips(struct db_conn *c_)
{
    return ((struct pg_conn *)c_)->trips;
}

static err_code
pg_batch_check(struct db_conn *c_, struct err *e)
{
    return batch_drain((struct pg_conn *)c_, e);
}

static err_code
pg_step_later(struct db_stmt *st_, const struct db_expect *x, struct err *e)
{
    struct pg_stmt *st = (struct pg_stmt *)st_;
    struct pg_conn *c = st->conn;
    err_code rc;

    if (st->bind_fail) {
        struct err be;

        err_set(&be, ERR_INTERNAL, "bind: parameter out of range");
        batch_fail(c, ERR_INTERNAL, &be);
    }
    if ((rc = batch_failed(c, NULL)) == ERR_OK &&
        (rc = batch_send_stmt(st, NULL)) == ERR_OK)
        batch_owe(c, x);
    pg_release(st_);
    return rc == ERR_OK ? ERR_OK : batch_failed(c, e);
}

/* ---- transactions ------------------------------------------------------- */

static err_code
pg_begin(struct db_conn *c_, struct err *e)
{
    return exec_plain((struct pg_conn *)c_, "BEGIN", NULL, e);
}

/* Commit a batch: every owed result read and checked (a failure rolls
 * back and is returned), then COMMIT and the sync sent together and read:
 * two round trips for the whole batch. */
static err_code
batch_commit(struct pg_conn *c, struct err *e)
{
    PGresult *res;
    err_code rc;

    if ((rc = batch_drain(c, e)) != ERR_OK ||
        (rc = batch_send_plain(c, "COMMIT", e)) != ERR_OK) {
        batch_end(c);
        if (PQtransactionStatus(c->h) != PQTRANS_IDLE)
            (void)exec_plain(c, "ROLLBACK", NULL, NULL);
        return rc;
    }
    c->npend = 0;                   /* COMMIT's result is read here */
    pg_trip(c);
    if (PQpipelineSync(c->h) != 1) {
        rc = fail(c, NULL, "commit", e);
        batch_end(c);
        return rc;
    }
    res = PQgetResult(c->h);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = fail(c, res, "commit", e);
    else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        c->last = DB_FAIL_OTHER;
        rc = err_set(e, ERR_DB, "commit: the transaction was rolled back");
    } else
        c->last = DB_FAIL_NONE;
    PQclear(res);
    /* the rest up to the sync: COMMIT's closing NULL, the sync itself */
    batch_end_synced(c);
    if (rc != ERR_OK && PQtransactionStatus(c->h) != PQTRANS_IDLE)
        (void)exec_plain(c, "ROLLBACK", NULL, NULL);
    return rc;
}

/* One snapshot for the whole transaction (read committed would give each
 * statement its own). */
static err_code
pg_begin_read(struct db_conn *c_, struct err *e)
{
    return exec_plain((struct pg_conn *)c_,
                      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL,
                      e);
}

static err_code
pg_commit(struct db_conn *c_, struct err *e)
{
    struct pg_conn *c = (struct pg_conn *)c_;
    PGresult *res;
    err_code rc = ERR_OK;

    if (c->batch)
        return batch_commit(c, e);
    pg_trip(c);
    res = PQexec(c->h, "COMMIT");

    /* COMMIT of a failed transaction "succeeds" as a ROLLBACK */
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = fail(c, res, NULL, e);
    else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        c->last = DB_FAIL_OTHER;
        rc = err_set(e, ERR_DB, "commit: the transaction was rolled back");
    } else
        c->last = DB_FAIL_NONE;
    PQclear(res);
    return rc;
}

static int
pg_in_transaction(struct db_conn *c_)
{
    PGTransactionStatusType t;

    if (((struct pg_conn *)c_)->batch)
        return 1;               /* BEGIN sent: the status lags behind */
    t =
        PQtransactionStatus(((struct pg_conn *)c_)->h);

    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR ||
           t == PQTRANS_ACTIVE;
}

static void
pg_rollback(struct db_conn *c_)
{
    batch_end((struct pg_conn *)c_);
    if (pg_in_transaction(c_))
        (void)exec_plain((struct pg_conn *)c_, "ROLLBACK", NULL, NULL);
}

static err_code
pg_savepoint(struct db_conn *c_, struct err *e)
{
    return exec_plain((struct pg_conn *)c_, "SAVEPOINT unit", NULL, e);
}

static err_code
pg_savepoint_undo(struct db_conn *c_, struct err *e)
{
    return exec_plain((struct pg_conn *)c_, "ROLLBACK TO unit", NULL, e);
}

static err_code
pg_savepoint_end(struct db_conn *c_, struct err *e)
{
    return exec_plain((struct pg_conn *)c_, "RELEASE unit", NULL, e);
}

static err_code
pg_exec_script(struct db_conn *c_, const char *sql, struct err *e)
{
    return exec_plain((struct pg_conn *)c_, sql, NULL, e);
}

static void
pg_migrations(struct db_conn *c_, const struct db_migration **list,
              size_t *n)
{
    (void)c_;
    *list = db_pg_migrations;
    *n = db_pg_migrations_count;
}

static err_code
pg_backup(struct db_conn *c_, const char *dest_path, struct err *e)
{
    (void)c_;
    (void)dest_path;
    return err_set(e, ERR_UNSUPPORTED,
                   "backup of a PostgreSQL database: use pg_dump");
}

const struct db_dialect db_pg = {
    .name            = "postgresql",
    .open            = pg_open,
    .free            = pg_free,
    .conn_open       = pg_conn_open,
    .conn_check      = pg_conn_check,
    .conn_free       = pg_conn_free,
    .prep            = pg_prep,
    .release         = pg_release,
    .bind_null       = pg_bind_null,
    .bind_i64        = pg_bind_i64,
    .bind_text       = pg_bind_text,
    .bind_bytes      = pg_bind_bytes,
    .bind_id_set     = pg_bind_id_set,
    .step            = pg_step,
    .col_i64         = pg_col_i64,
    .col_is_null     = pg_col_is_null,
    .col_text        = pg_col_text,
    .col_bytes       = pg_col_bytes,
    .stmt_conn       = pg_stmt_conn,
    .changes         = pg_changes,
    .begin           = pg_begin,
    .begin_read      = pg_begin_read,
    .commit          = pg_commit,
    .rollback        = pg_rollback,
    .in_transaction  = pg_in_transaction,
    .savepoint       = pg_savepoint,
    .savepoint_undo  = pg_savepoint_undo,
    .savepoint_end   = pg_savepoint_end,
    .exec_script     = pg_exec_script,
    .migrations      = pg_migrations,
    .backup          = pg_backup,
    .live_statements = pg_live_statements,
    .last_fail       = pg_last_fail,
    .schema_lock     = pg_schema_lock,
    .ids_follow      = pg_ids_follow,
    .batch_begin     = pg_batch_begin,
    .in_batch        = pg_in_batch,
    .batch_check     = pg_batch_check,
    .step_later      = pg_step_later,
    .round_trips     = pg_round_trips,
};
