/*
 * test_seal_list.c - the status list at scale (issue 17 item 2), on a real
 * SQLite store and the real dev token: one million listed seals (ten times
 * the old limit of 100,000), with active, made and long-expired seals
 * among them, generated in signed parts (seal_list_generate) and checked
 * independently by seal_fill_check_part (seal_fill_testutil.h): every part
 * verifies against the CA, the ranges join, and the entries are exactly the
 * seals that must be listed (expired within the grace present, past it
 * absent).  Also: one part asked for alone is the same bytes as in the
 * whole list (the skip is right), a part past the end is ERR_NOT_FOUND,
 * and the list is one snapshot: changes written by another connection
 * while the parts are made show in none of them.  The time it takes is
 * measured by bench/bench_statuslist, not asserted here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "seal_testutil.h"
#include "seal_fill_testutil.h"
#include "store_testutil.h"

#define T_LISTED   1000000          /* entries the list must have        */
#define T_PER_PART 50000            /* the default list_part_entries     */

/* The mix: 5% active, 0.5% made, 1.5% past the grace. */
static const struct seal_fill_plan t_plan_init = {
    {50, 5, 300, 200, 370, 60, 10, 5}, 0};

struct fx {
    char dir[STORE_T_DIR_MAX], path[STORE_T_PATH_MAX];
    struct store *s;
    struct store_conn *c;
    struct seal_fill_plan plan;
    int64_t n;                       /* seals filled */
    char caid[CUSTODY_ID_HEX_MAX], mid[CUSTODY_ID_HEX_MAX];
    struct ca_key ca, maker;
    uint8_t *ca_der, *m_der;
    size_t ca_len, m_len;
    X509_STORE *trust;
    char *part7;                     /* part 7 of the whole list's run */
    size_t part7_len;
};

static int setup(void **state)
{
    static struct fx f;
    struct err e = { 0 };
    int64_t listed = 0;
    X509 *root;

    if (t_token_setup(state) != 0)
        return -1;
    memset(&f, 0, sizeof f);
    /* the certificates first, then the plan's now: the lists are checked
     * at that now, and the fill below takes a minute or more under ASan */
    t_make_root(f.caid, &f.ca, &f.ca_der, &f.ca_len);
    t_make_holder(&f.ca, f.ca_der, f.ca_len, "seald maker",
                  time(NULL) - 60, time(NULL) + 86400 * 30, f.mid, &f.maker,
                  &f.m_der, &f.m_len);
    f.plan = t_plan_init;
    f.plan.now_ms = (int64_t)time(NULL) * 1000;
    while (listed < T_LISTED)
        listed += seal_fill_listed(&f.plan, f.n++);
    store_t_open("seallist", f.dir, f.path, &f.s, &f.c);
    if (seal_fill(f.c, &f.plan, f.n, &e) != ERR_OK) {
        fprintf(stderr, "fill: %s\n", e.msg);
        return -1;
    }
    root = t_x509(f.ca_der, f.ca_len);
    f.trust = X509_STORE_new();
    X509_STORE_add_cert(f.trust, root);
    X509_free(root);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    X509_STORE_free(f->trust);
    free(f->ca_der);
    free(f->m_der);
    store_t_remove(f->s, f->dir);
    return t_token_teardown(state);
}

static void opts(const struct fx *f, struct seal_list_opts *o)
{
    memset(o, 0, sizeof *o);
    o->key = &f->maker;
    o->cert = f->m_der;
    o->cert_len = f->m_len;
    o->now = (time_t)(f->plan.now_ms / 1000);
    o->next_hours = 24;
    o->grace_days = 365;
    o->part_entries = T_PER_PART;
}

static void check_init(const struct fx *f, struct seal_fill_check *ck)
{
    memset(ck, 0, sizeof *ck);
    ck->p = &f->plan;
    ck->n = f->n;
    ck->anchors = f->trust;
    ck->now = (time_t)(f->plan.now_ms / 1000);
}

/* Sink of one part alone: a copy of it into ctx. */
static err_code keep(void *ctx, const struct seal_list_part *p, struct err *e)
{
    struct seal_list_part *out = ctx;

    (void)e;
    *out = *p;
    out->json = malloc(p->json_len + 1);
    assert_non_null(out->json);
    memcpy(out->json, p->json, p->json_len + 1);
    return ERR_OK;
}

static err_code one_part(struct fx *f, const struct seal_list_opts *o,
                         int64_t i, struct seal_list_part *pt,
                         struct err *e)
{
    memset(pt, 0, sizeof *pt);
    return seal_list_generate(f->c, o, i, 1, keep, pt, e);
}

struct million {
    struct fx *f;
    struct seal_fill_check ck;
};

/* The check, keeping part 7 for test_one_part. */
static err_code million_sink(void *ctx, const struct seal_list_part *p,
                             struct err *e)
{
    struct million *m = ctx;

    if (p->part == 7) {
        m->f->part7 = malloc(p->json_len + 1);
        assert_non_null(m->f->part7);
        memcpy(m->f->part7, p->json, p->json_len + 1);
        m->f->part7_len = p->json_len;
    }
    return seal_fill_check_part(&m->ck, p, e);
}

/* One million entries in 20 parts: exactly the listed seals. */
static void test_million(void **state)
{
    struct fx *f = *state;
    struct seal_list_opts o;
    struct million m;
    struct seal_fill_check *ck = &m.ck;
    struct err e = { 0 };
    err_code rc;

    opts(f, &o);
    m.f = f;
    check_init(f, ck);
    rc = seal_list_generate(f->c, &o, 0, -1, million_sink, &m, &e);
    if (rc != ERR_OK)
        fail_msg("%s", ck->why[0] ? ck->why : e.msg);
    assert_int_equal(ck->total, T_LISTED);
    assert_int_equal(ck->entries, T_LISTED);
    assert_int_equal(ck->parts, T_LISTED / T_PER_PART);
    assert_int_equal(ck->part, ck->parts);
    print_message("1,000,000 entries, %lld parts, %lld bytes of JSON "
                  "(%lld seals in the store)\n", (long long)ck->parts,
                  (long long)ck->bytes, (long long)f->n);
}

/* A seal past the grace is not covered by its part: the part does not
 * say it is active. */
static void test_covers(void **state)
{
    struct fx *f = *state;
    struct seal_list_opts o;
    struct seal_list_part pt;
    struct err e = { 0 };
    char esid[STORE_ESID_MAX];
    json_t *list = NULL;
    int64_t i;

    opts(f, &o);
    memset(&pt, 0, sizeof pt);
    assert_int_equal(one_part(f, &o, 0, &pt, &e), ERR_OK);
    assert_int_equal(statuslist_verify((const uint8_t *)pt.json, pt.json_len,
                                       pt.sig, pt.sig_len, f->trust, o.now,
                                       &list, &e), ERR_OK);
    for (i = 0; seal_fill_kind(&f->plan, i) != FILL_EXPIRED_OLD; i++)
        ;
    seal_fill_esid(i, esid);
    assert_null(statuslist_find(list, esid));
    assert_false(statuslist_covers(list, esid,
                                   o.now - 400 * 86400));
    for (i = 0; seal_fill_kind(&f->plan, i) != FILL_EXPIRED_RECENT; i++)
        ;
    seal_fill_esid(i, esid);
    assert_non_null(statuslist_find(list, esid));
    assert_true(statuslist_covers(list, esid, o.now - 30 * 86400));
    for (i = 0; seal_fill_kind(&f->plan, i) != FILL_ACTIVE; i++)
        ;
    seal_fill_esid(i, esid);
    assert_null(statuslist_find(list, esid));
    assert_true(statuslist_covers(list, esid, o.now + 300 * 86400));
    json_decref(list);
    free(pt.json);
}

/* Part 7 asked for alone (the API's way: count, skip, one page) is the
 * same bytes as part 7 of the whole run; a part past the end is not
 * found. */
static void test_one_part(void **state)
{
    struct fx *f = *state;
    struct seal_list_opts o;
    struct seal_list_part pt;
    struct err e = { 0 };

    assert_non_null(f->part7);
    opts(f, &o);
    assert_int_equal(one_part(f, &o, 7, &pt, &e), ERR_OK);
    assert_int_equal(pt.part, 7);
    assert_int_equal(pt.parts, 20);
    assert_int_equal(pt.json_len, f->part7_len);
    assert_memory_equal(pt.json, f->part7, pt.json_len);
    free(pt.json);
    free(f->part7);
    f->part7 = NULL;
    assert_int_equal(one_part(f, &o, 20, &pt, &e), ERR_NOT_FOUND);
    assert_null(pt.json);
    /* the last part is shorter and open above */
    o.part_entries = 75000;
    assert_int_equal(one_part(f, &o, 13, &pt, &e), ERR_OK);
    assert_int_equal(pt.parts, 14);
    assert_non_null(strstr(pt.json, "\"total\":1000000,"));
    assert_non_null(strstr(pt.json, "\"range_until\":null"));
    free(pt.json);
}

/* Writes by another connection: the seal made active and the one revoked
 * (UPDATE through SQLite directly, committed at once). */
struct writer {
    const char *path;
    const char *sql;
    int rc;
};

static void *write_thread(void *arg)
{
    struct writer *w = arg;
    sqlite3 *h = NULL;

    w->rc = sqlite3_open(w->path, &h);
    if (w->rc == SQLITE_OK) {
        sqlite3_busy_timeout(h, 5000);
        w->rc = sqlite3_exec(h, w->sql, NULL, NULL, NULL);
    }
    sqlite3_close(h);
    return NULL;
}

static void write_now(struct fx *f, const char *sql)
{
    struct writer w = {f->path, sql, -1};
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, write_thread, &w), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rc, SQLITE_OK);
}

struct snap {
    struct fx *f;
    struct seal_fill_check ck;
    char sql[512];
};

/* After part 0, another connection changes seals in later parts; the
 * check of the later parts is against the plan as it was. */
static err_code snap_sink(void *ctx, const struct seal_list_part *p,
                          struct err *e)
{
    struct snap *s = ctx;

    if (p->part == 0)
        write_now(s->f, s->sql);
    return seal_fill_check_part(&s->ck, p, e);
}

/* One snapshot for every part: concurrent changes appear in none. */
static void test_snapshot(void **state)
{
    struct fx *f = *state;
    struct seal_list_opts o;
    struct snap s;
    struct seal_list_part pt;
    struct err e = { 0 };
    char active[STORE_ESID_MAX], listed[STORE_ESID_MAX];
    int64_t i, j, k, r;

    /* an active seal near the end, a listed one in the middle */
    for (i = f->n - 1; seal_fill_kind(&f->plan, i) != FILL_ACTIVE; i--)
        ;
    for (j = f->n / 2; !seal_fill_listed(&f->plan, j); j++)
        ;
    seal_fill_esid(i, active);
    seal_fill_esid(j, listed);
    opts(f, &o);
    o.part_entries = 100000;
    memset(&s, 0, sizeof s);
    s.f = f;
    check_init(f, &s.ck);
    snprintf(s.sql, sizeof s.sql,
             "UPDATE seals SET state = 'revoked', reason_code = 'cessation' "
             "WHERE esid = '%s'; UPDATE seals SET state = 'active', "
             "reason_code = NULL WHERE esid = '%s';", active, listed);
    if (seal_list_generate(f->c, &o, 0, -1, snap_sink, &s, &e) != ERR_OK)
        fail_msg("%s", s.ck.why[0] ? s.ck.why : e.msg);
    assert_int_equal(s.ck.entries, T_LISTED);
    /* the changes were made: a new list shows them */
    assert_int_equal(one_part(f, &o, 9, &pt, &e), ERR_OK);
    assert_non_null(strstr(pt.json, active));
    assert_int_equal(pt.total, T_LISTED);     /* one in, one out */
    free(pt.json);
    for (r = 0, k = 0; k < j; k++)     /* listed seals before it */
        r += seal_fill_listed(&f->plan, k);
    assert_int_equal(one_part(f, &o, r / 100000, &pt, &e), ERR_OK);
    assert_null(strstr(pt.json, listed));
    assert_non_null(strstr(pt.json, "\"state\":\"revoked\""));
    free(pt.json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_million),
        cmocka_unit_test(test_covers),
        cmocka_unit_test(test_one_part),
        cmocka_unit_test(test_snapshot),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
