/*
 * bench_statuslist.c - the seal status list at scale (issue 17 item 2):
 * fills a database with N seals directly through the store (default one
 * million; the mix below), then measures, in the same run:
 *
 *   raw     the rows alone: one read transaction that counts the listed
 *           seals and reads every page of them (the same queries the list
 *           makes), doing nothing with them - the baseline;
 *   list    the whole list: every part built and signed through custody
 *           (dev token, SM2), as bytes of JSON;
 *   check   what verifying every part (statuslist_verify) and comparing
 *           it with the fill plan (seal_fill_check_part) adds: the
 *           relying party's side, and the proof that the list is right;
 *   part    one part alone, as GET /api/v1/seal-status-list?part=N makes
 *           it: the first, the middle and the last part;
 *
 * and prints the times, the ratio list / raw, the size of the list and of
 * a part, and the peak resident memory (which a part, not the list,
 * bounds).
 *
 * usage: bench_statuslist [SEALS] [MIX] [DATABASE] [PART_ENTRIES]
 *   SEALS         seals to fill (default 1000000)
 *   MIX           realistic (default: 85% active, 13% listed, 1.5% past
 *                 the grace) or listed (93% listed: a list of about N
 *                 entries, the worst case)
 *   DATABASE      a SQLite file to create (default a temporary one,
 *                 removed at exit) or an empty, migrated-or-not
 *                 postgresql:// database (`-` for the default)
 *   PART_ENTRIES  status.list_part_entries (default 50000)
 * The dev token lives in a temporary directory removed at exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "custody.h"
#include "seal_fill_testutil.h"
#include "seal_list.h"
#include "store.h"
#include "store_seal.h"

#ifndef SEALD_DEVTOKEN_PATH
#define SEALD_DEVTOKEN_PATH "libsealdtoken.so"
#endif
#define BENCH_TOKEN "bench"

static const struct seal_fill_plan mix_realistic = {
    {850, 5, 40, 20, 50, 20, 10, 5}, 0};
static const struct seal_fill_plan mix_listed = {
    {50, 5, 300, 200, 370, 60, 10, 5}, 0};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_mb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

static void write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");

    if (f != NULL) {
        fputs(s, f);
        fclose(f);
    }
}

/* A dev token in dir, opened through custody; a self-signed SM2 root on
 * it signs the lists (its certificate holds its key). */
static int token_open(const char *dir, struct custody **c, char *id,
                      struct ca_key *k, uint8_t **der, size_t *len)
{
    struct custody_token_conf conf;
    struct ca_subject s = {.c = "CN", .o = "seald bench", .cn = "bench maker"};
    char tok[128], pin[256];
    struct err e = {0};

    snprintf(tok, sizeof tok, "%s/tok", dir);
    mkdir(tok, 0700);
    snprintf(pin, sizeof pin, "%s/profile", tok);
    write_text(pin, "sansec");
    setenv("SEALD_DEVTOKEN_DIR", tok, 1);
    unsetenv("SEALD_DEVTOKEN_PROFILE");
    snprintf(pin, sizeof pin, "%s/pin", dir);
    write_text(pin, "123456\n");
    if (custody_init_token(SEALD_DEVTOKEN_PATH, 0, "bench", "so-secret",
                           "123456", &e) != ERR_OK)
        goto fail;
    custody_conf_init(&conf);
    snprintf(conf.name, sizeof conf.name, BENCH_TOKEN);
    snprintf(conf.module, sizeof conf.module, "%s", SEALD_DEVTOKEN_PATH);
    snprintf(conf.profile, sizeof conf.profile, "sm2-sansec");
    snprintf(conf.token_label, sizeof conf.token_label, "bench");
    snprintf(conf.pin_file, sizeof conf.pin_file, "%s", pin);
    conf.pool_size = 1;
    if (custody_open(&conf, 1, c, &e) != ERR_OK ||
        custody_generate(*c, BENCH_TOKEN, "maker", NULL, 0, id, &e) !=
            ERR_OK)
        goto fail;
    k->custody = *c;
    k->token = BENCH_TOKEN;
    k->key_id = id;
    if (ca_create_root(k, &s, 3650, der, len, &e) != ERR_OK)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "token: %s\n", e.msg);
    return -1;
}

/* The raw pass: count and every page, nothing done with the rows but
 * keeping the last esID (where the next page starts). */
struct raw {
    int64_t cutoff_ms, rows, total;
    long per;
    char last[STORE_ESID_MAX];
};

static err_code raw_row(void *ctx, const struct store_seal *s)
{
    struct raw *r = ctx;

    memcpy(r->last, s->esid, sizeof r->last);
    r->rows++;
    return ERR_OK;
}

static err_code raw_work(struct store_conn *c, void *ctx, struct err *e)
{
    struct raw *r = ctx;
    char after[STORE_ESID_MAX] = "";
    int64_t before;
    err_code rc;

    if ((rc = store_status_list_count(c, r->cutoff_ms, &r->total, e)) !=
        ERR_OK)
        return rc;
    for (;;) {
        before = r->rows;
        if ((rc = store_status_list_page(c, r->cutoff_ms, after,
                                         (int)r->per, raw_row, r, e)) !=
            ERR_OK)
            return rc;
        if (r->rows - before < r->per)
            return ERR_OK;
        memcpy(after, r->last, sizeof after);
    }
}

/* Sink of the timed run: count parts and bytes. */
struct sizes {
    int64_t parts, bytes, total;
};

static err_code count_part(void *ctx, const struct seal_list_part *p,
                           struct err *e)
{
    struct sizes *z = ctx;

    (void)e;
    z->parts++;
    z->bytes += (int64_t)p->json_len;
    z->total = p->total;
    return ERR_OK;
}

/* Sink of the checked run: the check, its own time counted apart. */
struct timed_check {
    struct seal_fill_check ck;
    double spent;
};

static err_code timed_check_part(void *ctx, const struct seal_list_part *p,
                                 struct err *e)
{
    struct timed_check *t = ctx;
    double t0 = now_s();
    err_code rc = seal_fill_check_part(&t->ck, p, e);

    t->spent += now_s() - t0;
    return rc;
}

/* Sink of one part: keep its size. */
static err_code part_size(void *ctx, const struct seal_list_part *p,
                          struct err *e)
{
    (void)e;
    *(size_t *)ctx = p->json_len;
    return ERR_OK;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 1000000;
    const char *mix = argc > 2 ? argv[2] : "realistic";
    const char *db = argc > 3 && strcmp(argv[3], "-") ? argv[3] : NULL;
    long per = argc > 4 ? atol(argv[4]) : 50000;
    char dir[] = "/tmp/seald-bench-list-XXXXXX", path[256], id[128], cmd[300];
    struct seal_fill_plan plan;
    struct store *s = NULL;
    struct store_conn *c = NULL;
    struct custody *cust = NULL;
    struct ca_key key;
    uint8_t *cert = NULL;
    size_t cert_len = 0, one = 0;
    struct seal_list_opts o;
    struct timed_check tc;
    struct seal_fill_check *ckp = &tc.ck;
    struct raw raw;
    struct sizes z;
    struct err e = {0};
    double t0, t_fill, t_raw, t_list, t_check, t_part[3];
    int64_t parts_at[3];
    int i, rc = 1;

    if (n < 1 || per < 10 || per > STATUSLIST_MAX_ENTRIES ||
        (strcmp(mix, "realistic") && strcmp(mix, "listed"))) {
        fprintf(stderr, "usage: bench_statuslist [SEALS] [realistic|listed]"
                        " [DATABASE|-] [PART_ENTRIES]\n");
        return 2;
    }
    plan = strcmp(mix, "listed") ? mix_realistic : mix_listed;
    plan.now_ms = (int64_t)time(NULL) * 1000;
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(path, sizeof path, "%s/list.db", dir);
    if (token_open(dir, &cust, id, &key, &cert, &cert_len) != 0)
        goto out;
    if (store_open(db ? db : path, NULL, 5000, 1, &s, &e) != ERR_OK ||
        store_migrate(s, NULL, &e) != ERR_OK ||
        store_conn_get(s, &c, &e) != ERR_OK)
        goto fail;
    printf("bench_statuslist: %lld seals, mix %s, %s, %ld entries a part\n",
           (long long)n, mix, db ? "PostgreSQL" : "SQLite (temporary file)",
           per);
    t0 = now_s();
    if (seal_fill(c, &plan, n, &e) != ERR_OK)
        goto fail;
    t_fill = now_s() - t0;
    printf("  fill:  %.1f s (%.0f seals/s, through store_seal_insert)\n",
           t_fill, (double)n / t_fill);

    memset(&o, 0, sizeof o);
    o.key = &key;
    o.cert = cert;
    o.cert_len = cert_len;
    o.now = (time_t)(plan.now_ms / 1000);
    o.next_hours = 24;
    o.grace_days = 365;
    o.part_entries = per;

    memset(&raw, 0, sizeof raw);
    raw.cutoff_ms = ((int64_t)o.now - 365 * 86400LL) * 1000;
    raw.per = per;
    t0 = now_s();
    if (store_read(c, raw_work, &raw, &e) != ERR_OK)
        goto fail;
    t_raw = now_s() - t0;

    memset(&z, 0, sizeof z);
    t0 = now_s();
    if (seal_list_generate(c, &o, 0, -1, count_part, &z, &e) != ERR_OK)
        goto fail;
    t_list = now_s() - t0;
    memset(&tc, 0, sizeof tc);
    ckp->p = &plan;
    ckp->n = n;
    ckp->now = o.now;
    if (seal_list_generate(c, &o, 0, -1, timed_check_part, &tc, &e) !=
        ERR_OK) {
        fprintf(stderr, "list: %s\n", ckp->why[0] ? ckp->why : e.msg);
        goto out;
    }
    t_check = tc.spent;
    parts_at[0] = 0;
    parts_at[1] = ckp->parts / 2;
    parts_at[2] = ckp->parts - 1;
    for (i = 0; i < 3; i++) {
        t0 = now_s();
        if (seal_list_generate(c, &o, parts_at[i], 1, part_size, &one, &e)
            != ERR_OK)
            goto fail;
        t_part[i] = now_s() - t0;
    }
    printf("  raw:   %.3f s  count + %lld rows read, page by page, in one "
           "read transaction\n", t_raw, (long long)raw.rows);
    printf("  list:  %.3f s  %lld entries in %lld parts, %lld bytes of JSON "
           "(%.1f bytes an entry), every part built and signed\n", t_list,
           (long long)z.total, (long long)z.parts, (long long)z.bytes,
           z.total ? (double)z.bytes / (double)z.total : 0.0);
    printf("  check: %.3f s  to verify every part (signature, fields, "
           "order) and compare it with the fill plan: %lld entries, all "
           "as planned\n", t_check, (long long)ckp->entries);
    printf("  ratio: list / raw = %.1f\n", t_raw > 0 ? t_list / t_raw : 0.0);
    printf("  part:  first %.3f s, middle (%lld) %.3f s, last (%lld) %.3f s; "
           "the last part %zu bytes\n", t_part[0], (long long)parts_at[1],
           t_part[1], (long long)parts_at[2], t_part[2], one);
    printf("  peak resident memory: %ld MB\n", peak_rss_mb());
    if (raw.rows != ckp->entries)
        fprintf(stderr, "raw rows %lld != entries %lld\n",
                (long long)raw.rows, (long long)ckp->entries);
    rc = raw.rows == ckp->entries && z.total == ckp->entries ? 0 : 1;
    goto out;
fail:
    fprintf(stderr, "bench_statuslist: %s\n", e.msg);
out:
    store_close(s);
    custody_close(cust);
    free(cert);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
