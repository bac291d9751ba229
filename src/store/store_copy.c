/*
 * store_copy.c - seald migrate's copy of a whole database (store_copy.h):
 * the list of tables in copy order, each with its statements (db_stmt.c,
 * DB_COPY_*) and the type of each column, and the copy itself.
 *
 * Order: a table comes after every table it references, so the target's
 * foreign keys (checked at once: none is deferrable) accept each row as it
 * comes.  seals precedes applications (applications.replaces_seal_id
 * references seals; seals.application_id references nothing).  Rows are
 * read in id order, so a reference to an earlier row of the same table
 * (a parent organisation, a predecessor seal) is already there; one to a
 * later row (accounts.held_by: the administrator who reset an account may
 * be younger than it) is written NULL and set by the column's FIX
 * statement once the whole table is in ('r' columns below).
 *
 * Two tables are not copied: schema_version and job_leases (migration
 * 009) are written by the target's own migrations, and the source nodes'
 * leases mean nothing to the copy's nodes.
 *
 * The audit tables keep their triggers (migrations 001, 002, 008), and
 * the copy needs none of them weakened: audit_log and audit_checkpoints
 * refuse UPDATE and DELETE but take INSERT, and their rows are inserted
 * once, as they were (neither has a reference column to fix).  audit_head
 * refuses INSERT and DELETE and lets its one row only move forward; the
 * target's migration 008 made that row at seq 0 (the empty chain), and the
 * copy moves it forward to the source's seq and hash with one UPDATE, as
 * an append does.  The chain is the rows and the head copied byte for
 * byte; the caller verifies it on the target before committing.
 *
 * Ids are written as they were ({explicit ids}: OVERRIDING SYSTEM VALUE on
 * PostgreSQL), and each identity is then moved past the highest id copied
 * (db_ids_follow), so the next row the daemon inserts takes a fresh id.
 *
 * Types: i integer, t text, b bytes, r an integer naming a row of the
 * same table; any column may be NULL.  store_copy_check proves each list
 * matches its statements; pg.migrate proves the lists cover the schema.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_copy.h"
#include "store_int.h"

#define COPY_FIX_MAX 2

struct copy_fix {
    int             col;        /* an 'r' column */
    enum db_stmt_id stmt;       /* UPDATE t SET col = $2 WHERE id = $1 */
};

struct copy_table {
    const char     *name;
    const char     *types;      /* one letter per column, in order */
    enum db_stmt_id read, write, count;
    int             identity;   /* column 0, id, is assigned by the db */
    int             head;       /* write moves the row migrations made */
    struct copy_fix fix[COPY_FIX_MAX];
};

#define ROWS(k) DB_COPY_##k##_READ, DB_COPY_##k##_WRITE, DB_COPY_##k##_COUNT

static const struct copy_table tables[STORE_COPY_TABLES] = {
    {"organisations", "irtttii", ROWS(ORG), 1, 0,
     {{1, DB_COPY_ORG_FIX_PARENT}}},
    {"accounts", "itttittiirri", ROWS(ACCOUNT), 1, 0,
     {{9, DB_COPY_ACCOUNT_FIX_CREATED_BY},
      {10, DB_COPY_ACCOUNT_FIX_HELD_BY}}},
    {"role_assignments", "iitiiiii", ROWS(ROLE), 1, 0, {{0}}},
    {"deputies", "iiiiiittiii", ROWS(DEPUTY), 1, 0, {{0}}},
    {"auth_failures", "ttiii", ROWS(AUTHFAIL), 0, 0, {{0}}},
    {"credentials", "iitbiiii", ROWS(CREDENTIAL), 1, 0, {{0}}},
    {"identity_bindings", "itttiiiii", ROWS(IDENTITY), 1, 0, {{0}}},
    {"audit_log", "iiitttttttttbi", ROWS(AUDIT), 0, 0, {{0}}},
    {"audit_checkpoints", "iibitbb", ROWS(CHECKPOINT), 1, 0, {{0}}},
    {"audit_head", "iib", ROWS(HEAD), 0, 1, {{0}}},
    {"seals", "ittiittititibbtiiriiitiittit", ROWS(SEAL), 1, 0,
     {{17, DB_COPY_SEAL_FIX_PREDECESSOR}}},
    {"applications", "iiititttttibtbiiiitttitiiittttii", ROWS(APP), 1, 0,
     {{0}}},
    {"application_materials", "iiittibbit", ROWS(MATERIAL), 1, 0, {{0}}},
    {"history", "itittiit", ROWS(HISTORY), 1, 0, {{0}}},
    {"authority", "ttbi", ROWS(AUTHORITY), 0, 0, {{0}}},
    {"esid_counters", "ti", ROWS(ESID), 0, 0, {{0}}},
    {"sign_requests", "iiiittirrttiiiiit", ROWS(SREQ), 1, 0,
     {{7, DB_COPY_SREQ_FIX_RESUBMITS}, {8, DB_COPY_SREQ_FIX_EXTRA_FOR}}},
    {"sign_documents", "iitibbi", ROWS(SDOC), 1, 0, {{0}}},
    {"signatures", "iiiiiiittbibii", ROWS(SIG), 1, 0, {{0}}},
    {"event_head", "ii", ROWS(EVHEAD), 0, 1, {{0}}},
    {"events", "ititttit", ROWS(EVENT), 0, 0, {{0}}},
    {"delivery_cursors", "ti", ROWS(DCURSOR), 0, 0, {{0}}},
    {"deliveries", "ititiiiti", ROWS(DELIVERY), 1, 0, {{0}}},
    {"seal_expiry_notices", "ii", ROWS(NOTICE), 0, 0, {{0}}},
    {"data_keys", "itbtiii", ROWS(DATA_KEY), 1, 0, {{0}}},
    {"stats_reports", "iitiiitt", ROWS(REPORT), 1, 0, {{0}}},
    {"sealed_ofds", "iiiiiibbi", ROWS(SEALED), 1, 0, {{0}}},
};

/* The column list of a statement's text: what follows start up to the
 * first stop, in out (cap bytes) with ", " turned into " ".  ERR_INTERNAL
 * when start or stop is missing or the list does not fit. */
static err_code
cols_between(const char *text, const char *start, const char *stop,
             char *out, size_t cap, struct err *e)
{
    const char *a = strstr(text, start), *b;
    size_t k = 0;

    if (a == NULL || (b = strstr(a += strlen(start), stop)) == NULL)
        return err_set(e, ERR_INTERNAL, "no column list in \"%.40s\"", text);
    for (; a < b; a++) {
        if (a[0] == ',' && a[1] == ' ')
            continue;
        if (k + 1 >= cap)
            return err_set(e, ERR_INTERNAL, "column list too long");
        out[k++] = *a;
    }
    out[k] = '\0';
    return ERR_OK;
}

/* Words in a space-separated list. */
static size_t
count_words(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        if (*s != ' ' && (s[1] == ' ' || s[1] == '\0'))
            n++;
    return n;
}

/* The highest $N of a statement's text. */
static int
max_param(const char *text)
{
    int n = 0;

    for (; *text != '\0'; text++)
        if (*text == '$' && atoi(text + 1) > n)
            n = atoi(text + 1);
    return n;
}

err_code
store_copy_table(size_t i, const char **name, char *cols, size_t cap,
                 struct err *e)
{
    if (i >= STORE_COPY_TABLES)
        return err_set(e, ERR_INVALID, "no copy table %zu", i);
    *name = tables[i].name;
    if (cols != NULL && cols_between(db_stmt_text(tables[i].read), "SELECT ", " FROM ", cols,
                     cap, e) != ERR_OK)
        return err_wrap(e, ERR_INVALID, "%s", tables[i].name);
    return ERR_OK;
}

/* Contract: store_copy.h.  The head's write is an UPDATE by id, whose
 * parameters are the columns in order ($1 id); every other write is an
 * INSERT of the read's columns. */
err_code
store_copy_check(struct err *e)
{
    char rcols[STORE_COPY_COLS_MAX], wcols[STORE_COPY_COLS_MAX];
    size_t i, n, k;

    for (i = 0; i < STORE_COPY_TABLES; i++) {
        const struct copy_table *t = &tables[i];
        const char *w = db_stmt_text(t->write);

        if (t->name == NULL || t->types == NULL)
            return err_set(e, ERR_INTERNAL, "copy table %zu is missing "
                           "(STORE_COPY_TABLES)", i);
        if (cols_between(db_stmt_text(t->read), "SELECT ", " FROM ", rcols,
                         sizeof(rcols), e) != ERR_OK)
            return err_wrap(e, ERR_INTERNAL, "copy of %s", t->name);
        n = count_words(rcols);
        if (n != strlen(t->types) || (int)n != max_param(w))
            return err_set(e, ERR_INTERNAL, "copy of %s: %zu columns read, "
                           "%zu types, %d written", t->name, n,
                           strlen(t->types), max_param(w));
        if (!t->head) {
            if (cols_between(w, "(", ")", wcols, sizeof(wcols), e)
                != ERR_OK)
                return err_wrap(e, ERR_INTERNAL, "copy of %s", t->name);
            if (strcmp(rcols, wcols) != 0)
                return err_set(e, ERR_INTERNAL, "copy of %s: the write "
                               "names other columns than the read", t->name);
        }
        if (t->identity && strncmp(rcols, "id ", 3) != 0)
            return err_set(e, ERR_INTERNAL, "copy of %s: id is not first",
                           t->name);
        for (k = 0; k < COPY_FIX_MAX; k++)
            if (t->fix[k].col != 0 && t->types[t->fix[k].col] != 'r')
                return err_set(e, ERR_INTERNAL, "copy of %s: fix of a "
                               "column that is not a reference", t->name);
        for (k = 0; t->types[k] != '\0'; k++)
            if (t->types[k] == 'r' &&
                !(t->fix[0].col == (int)k || t->fix[1].col == (int)k))
                return err_set(e, ERR_INTERNAL, "copy of %s: reference "
                               "column %zu has no fix", t->name, k);
    }
    return ERR_OK;
}

err_code
store_copy_count(struct store_conn *c, size_t i, int64_t *n, struct err *e)
{
    struct db_stmt *st;
    err_code rc;

    *n = 0;
    if (i >= STORE_COPY_TABLES)
        return err_set(e, ERR_INVALID, "no copy table %zu", i);
    if ((st = db_prep(c->dbc, tables[i].count, e)) == NULL)
        return ERR_DB;
    if ((rc = db_step_row(st, tables[i].name, e)) != ERR_OK)
        return rc;
    *n = db_col_i64(st, 0);
    db_release(st);
    return ERR_OK;
}

/* A reference to a later row, set once the table is in. */
struct pending {
    int64_t         id, value;
    enum db_stmt_id stmt;
};

struct pendings {
    struct pending *v;
    size_t          n, cap;
};

static err_code
pending_add(struct pendings *p, int64_t id, int64_t value,
            enum db_stmt_id stmt, struct err *e)
{
    struct pending *v;

    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;

        if ((v = realloc(p->v, cap * sizeof(*v))) == NULL)
            return err_set(e, ERR_NOMEM, "out of memory");
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n].id = id;
    p->v[p->n].value = value;
    p->v[p->n].stmt = stmt;
    p->n++;
    return ERR_OK;
}

/* The fix statement of t's column col. */
static enum db_stmt_id
fix_of(const struct copy_table *t, int col)
{
    return t->fix[0].col == col ? t->fix[0].stmt : t->fix[1].stmt;
}

/* Bind column k of the row rd holds to parameter k + 1 of wr as type; a
 * reference to this row or a later one (id order) is bound NULL and kept
 * in p. */
static err_code
bind_col(const struct copy_table *t, struct db_stmt *rd, struct db_stmt *wr,
         int k, struct pendings *p, struct err *e)
{
    const void *b;
    size_t len;
    int64_t v;

    if (db_col_is_null(rd, k)) {
        db_bind_null(wr, k + 1);
        return ERR_OK;
    }
    switch (t->types[k]) {
    case 'i':
        db_bind_i64(wr, k + 1, db_col_i64(rd, k));
        return ERR_OK;
    case 't':
        db_bind_text(wr, k + 1, db_col_text(rd, k));
        return ERR_OK;
    case 'b':
        b = db_col_bytes(rd, k, &len);
        db_bind_bytes(wr, k + 1, len ? b : "", len);
        return ERR_OK;
    case 'r':
        v = db_col_i64(rd, k);
        if (v < db_col_i64(rd, 0)) {
            db_bind_i64(wr, k + 1, v);
            return ERR_OK;
        }
        db_bind_null(wr, k + 1);
        return pending_add(p, db_col_i64(rd, 0), v, fix_of(t, k), e);
    default:
        return err_set(e, ERR_INTERNAL, "copy of %s: type '%c'", t->name,
                       t->types[k]);
    }
}

/* Copy table t's rows; *n gets how many. */
static err_code
copy_table(struct store_conn *from, struct store_conn *to,
           const struct copy_table *t, int64_t *n, struct err *e)
{
    struct pendings p = {NULL, 0, 0};
    struct db_stmt *rd, *wr;
    enum db_row row;
    int64_t max_id = 0;
    size_t i;
    int k;
    err_code rc;

    *n = 0;
    if ((rd = db_prep(from->dbc, t->read, e)) == NULL)
        return ERR_DB;
    while ((rc = db_step(rd, &row, e)) == ERR_OK && row == DB_ROW) {
        if ((wr = db_prep(to->dbc, t->write, e)) == NULL) {
            rc = ERR_DB;
            break;
        }
        for (k = 0; t->types[k] != '\0'; k++)
            if ((rc = bind_col(t, rd, wr, k, &p, e)) != ERR_OK)
                break;
        if (rc != ERR_OK) {
            db_release(wr);
            break;
        }
        rc = t->head ? db_step_update_one(wr, "audit head", e)
                     : db_step_done(wr, e);
        if (rc != ERR_OK)
            break;
        if (t->identity && db_col_i64(rd, 0) > max_id)
            max_id = db_col_i64(rd, 0);
        (*n)++;
    }
    db_release(rd);
    for (i = 0; rc == ERR_OK && i < p.n; i++) {
        if ((wr = db_prep(to->dbc, p.v[i].stmt, e)) == NULL) {
            rc = ERR_DB;
            break;
        }
        db_bind_i64(wr, 1, p.v[i].id);
        db_bind_i64(wr, 2, p.v[i].value);
        rc = db_step_update_one(wr, t->name, e);
    }
    free(p.v);
    if (rc == ERR_OK && t->identity)
        rc = db_ids_follow(to->dbc, t->name, "id", max_id, e);
    if (rc != ERR_OK)
        return err_wrap(e, rc, "copying %s", t->name);
    return ERR_OK;
}

/* ERR_CONFLICT unless to holds only what its migrations made: no row at
 * all, but the audit head's one row at seq 0. */
static err_code
target_empty(struct store_conn *to, struct err *e)
{
    struct db_stmt *st;
    int64_t n;
    size_t i;
    err_code rc;

    for (i = 0; i < STORE_COPY_TABLES; i++) {
        if ((rc = store_copy_count(to, i, &n, e)) != ERR_OK)
            return rc;
        if (n != (tables[i].head ? 1 : 0))
            return err_set(e, ERR_CONFLICT, "the target already has data "
                           "(%s: %lld rows)", tables[i].name, (long long)n);
        if (!tables[i].head)
            continue;
        if ((st = db_prep(to->dbc, tables[i].read, e)) == NULL)
            return ERR_DB;
        if ((rc = db_step_row(st, "audit head", e)) != ERR_OK)
            return rc;
        n = db_col_i64(st, 1);
        db_release(st);
        if (n != 0)
            return err_set(e, ERR_CONFLICT, "the target already has data "
                           "(its audit head is at %lld)", (long long)n);
    }
    return ERR_OK;
}

/* Contract: store_copy.h. */
err_code
store_copy_rows(struct store_conn *from, struct store_conn *to,
                int64_t rows[STORE_COPY_TABLES], struct err *e)
{
    int64_t n, m;
    size_t i;
    err_code rc;

    if (!store_in_transaction(to))
        return err_set(e, ERR_INTERNAL, "copy outside a transaction");
    if ((rc = store_copy_check(e)) != ERR_OK ||
        (rc = target_empty(to, e)) != ERR_OK)
        return rc;
    for (i = 0; i < STORE_COPY_TABLES; i++) {
        if ((rc = copy_table(from, to, &tables[i], &n, e)) != ERR_OK)
            return rc;
        if (rows != NULL)
            rows[i] = n;
    }
    for (i = 0; i < STORE_COPY_TABLES; i++) {
        if ((rc = store_copy_count(from, i, &n, e)) != ERR_OK ||
            (rc = store_copy_count(to, i, &m, e)) != ERR_OK)
            return rc;
        if (n != m || (rows != NULL && rows[i] != n))
            return err_set(e, ERR_INTERNAL, "copy of %s: %lld rows in the "
                           "source, %lld in the target", tables[i].name,
                           (long long)n, (long long)m);
    }
    return ERR_OK;
}
