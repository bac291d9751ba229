/*
 * test_audit.c - unit tests of the audit chain (audit.c, store_audit.c):
 * the canonical encoding separates fields, appends are chained, gapless and
 * atomic with their transaction, the verifier names a tampered entry, and
 * CSV export quotes safely, automatic checkpoints are signed by the audit
 * key in the project's dev token outside any transaction (and never over a
 * chain that does not verify), checkpoints are pinned to the trusted key,
 * uncovered entries and NULL hashes outside the pre-chain range fail, and
 * the sinks (file, syslog) carry what catches a deleted tail.  Uses a real
 * SQLite file and a real token in a temp directory.  Anonymous refusals
 * are summarised in a bounded table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "audit.h"
#include "config.h"
#include "custody.h"
#include "store.h"
#include "store_testutil.h"
#include "util.h"
#include "store_audit.h"

static const uint8_t zero[AUDIT_HASH_LEN];

static void
hash_of(const struct store_audit_entry *en, uint8_t out[AUDIT_HASH_LEN])
{
    struct err e;

    assert_int_equal(audit_entry_hash(zero, en, out, &e), ERR_OK);
}

static void
test_encoding_separates_fields(void **state)
{
    struct store_audit_entry a, b;
    uint8_t ha[AUDIT_HASH_LEN], hb[AUDIT_HASH_LEN];

    (void)state;
    memset(&a, 0, sizeof(a));
    a.seq = 1;
    a.action = "x.y";
    a.outcome = "ok";
    a.role = "ab";
    a.client_addr = "c";
    b = a;
    b.role = "a";
    b.client_addr = "bc";
    hash_of(&a, ha);
    hash_of(&b, hb);
    assert_memory_not_equal(ha, hb, AUDIT_HASH_LEN);
    /* NULL and "" are different values */
    b = a;
    b.reason = "";
    hash_of(&a, ha);
    hash_of(&b, hb);
    assert_memory_not_equal(ha, hb, AUDIT_HASH_LEN);
    /* the position in the chain is part of the entry */
    b = a;
    b.seq = 2;
    hash_of(&b, hb);
    assert_memory_not_equal(ha, hb, AUDIT_HASH_LEN);
    /* deterministic */
    hash_of(&a, hb);
    assert_memory_equal(ha, hb, AUDIT_HASH_LEN);
}

static void
test_checkpoint_message_layout(void **state)
{
    uint8_t h[AUDIT_HASH_LEN], m[AUDIT_CHECKPOINT_MSG_LEN];

    (void)state;
    memset(h, 0xab, sizeof(h));
    audit_checkpoint_message(0x0102, h, 0x0a0b, m);
    assert_memory_equal(m, AUDIT_CHECKPOINT_TAG, 24);
    assert_int_equal(m[30], 0x01);
    assert_int_equal(m[31], 0x02);
    assert_memory_equal(m + 32, h, AUDIT_HASH_LEN);
    assert_int_equal(m[AUDIT_CHECKPOINT_MSG_LEN - 2], 0x0a);
    assert_int_equal(m[AUDIT_CHECKPOINT_MSG_LEN - 1], 0x0b);
}

struct db {
    char         dir[STORE_T_DIR_MAX];
    char         path[STORE_T_PATH_MAX];
    struct store *s;
    struct store_conn *c;
    /* The dev token and the audit key reference of a test that made one
     * (dev_token): here, not on the test's stack, so that the teardown
     * can stop the checkpointer and close the token when a test fails
     * half-way. */
    struct custody *cust;
    char          ref[CONFIG_KEYREF_MAX];
};

static int
db_setup(void **state)
{
    struct db *d = calloc(1, sizeof(*d));

    assert_non_null(d);
    store_t_open("audit", d->dir, d->path, &d->s, &d->c);
    *state = d;
    return 0;
}

static int
db_teardown(void **state)
{
    struct db *d = *state;

    audit_checkpointer_stop();
    if (d->cust != NULL)
        custody_close(d->cust);
    store_t_remove(d->s, d->dir);
    free(d);
    return 0;
}

static void
append(struct store_conn *c, const char *action)
{
    struct audit_actor who = {.account_id = 7, .role = "auditor",
                              .client_addr = "127.0.0.1",
                              .request_id = "rid"};
    struct audit_event ev = {action, "seal", "42", AUDIT_OK, NULL, NULL};
    struct err e;

    assert_int_equal(audit_append(c, &who, &ev, &e), ERR_OK);
}

/* store_run work: one entry, then a failure, so the unit rolls back. */
static err_code
append_then_fail(struct store_conn *c, void *ctx, struct err *e)
{
    (void)ctx;
    append(c, "a.rolled-back");
    return err_set(e, ERR_CONFLICT, "undone on purpose");
}

/* store_run work: *(int *)ctx entries in one transaction. */
static err_code
append_many(struct store_conn *c, void *ctx, struct err *e)
{
    int i;

    (void)e;
    for (i = 0; i < *(int *)ctx; i++)
        append(c, "a.entry");
    return ERR_OK;
}

static void
run_verify(struct store_conn *c, struct audit_verify_report *r)
{
    struct err e;

    assert_int_equal(audit_verify(c, NULL, r, &e), ERR_OK);
}

static void
test_append_chain_and_tamper(void **state)
{
    struct db *d = *state;
    struct audit_verify_report r;
    uint8_t h[AUDIT_HASH_LEN];
    int64_t seq;
    int has;
    sqlite3 *raw;
    struct err e;

    append(d->c, "a.one");
    append(d->c, "a.two");
    append(d->c, "a.three");
    run_verify(d->c, &r);
    assert_true(r.ok);
    assert_int_equal(r.entries, 3);
    assert_int_equal(r.head_seq, 3);
    assert_int_equal(store_audit_head(d->c, &seq, h, &has, &e), ERR_OK);
    assert_true(has);
    assert_memory_equal(h, r.head_hash, AUDIT_HASH_LEN);

    /* inside a transaction that rolls back, the record goes too */
    assert_int_equal(store_run(d->c, append_then_fail, NULL, &e),
                     ERR_CONFLICT);
    assert_int_equal(store_audit_head(d->c, &seq, h, &has, &e), ERR_OK);
    assert_int_equal(seq, 3);
    append(d->c, "a.four");
    run_verify(d->c, &r);
    assert_true(r.ok);
    assert_int_equal(r.entries, 4);

    /* an attacker with the file edits entry 2 */
    assert_int_equal(sqlite3_open(d->path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "DROP TRIGGER audit_log_no_update; "
                                  "UPDATE audit_log SET target_id = '43' "
                                  "WHERE seq = 2", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    run_verify(d->c, &r);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 2);
}

static void
test_csv_quoting(void **state)
{
    struct store_audit_entry en;
    struct csv out;
    struct err e;

    (void)state;
    csv_init(&out, 0);
    memset(&en, 0, sizeof(en));
    en.seq = 5;
    en.action = "x";
    en.outcome = "refused";
    en.reason = "say \"no\", twice";
    en.target_id = "=cmd()";
    assert_int_equal(audit_entry_csv(&en, &out, &e), ERR_OK);
    assert_true(strncmp(out.buf, "5,", 2) == 0);
    assert_non_null(strstr(out.buf, "\"say \"\"no\"\", twice\""));
    assert_non_null(strstr(out.buf, "\"'=cmd()\""));
    assert_int_equal(out.buf[out.len - 2], '\r');
    assert_int_equal(out.buf[out.len - 1], '\n');
    csv_free(&out);
}

/* A dev token (sansec profile) in d->dir/token with an audit key, its
 * reference in ref and d->ref.  The teardown closes it. */
static struct custody *
dev_token(struct db *d, char *ref, size_t cap)
{
    struct custody_token_conf conf;
    struct custody *cust = NULL;
    char tok[128], prof[160], id[CUSTODY_ID_HEX_MAX];
    FILE *f;
    struct err e;

    snprintf(tok, sizeof(tok), "%s/token", d->dir);
    assert_int_equal(mkdir(tok, 0700), 0);
    snprintf(prof, sizeof(prof), "%s/profile", tok);
    assert_non_null(f = fopen(prof, "w"));
    fputs("sansec", f);
    fclose(f);
    snprintf(prof, sizeof(prof), "%s/pin", d->dir);
    assert_non_null(f = fopen(prof, "w"));
    fputs("123456\n", f);
    fclose(f);
    setenv("SEALD_DEVTOKEN_DIR", tok, 1);
    custody_conf_init(&conf);
    snprintf(conf.name, sizeof(conf.name), "dev");
    snprintf(conf.module, sizeof(conf.module), "%s", SEALD_DEVTOKEN_MODULE);
    snprintf(conf.profile, sizeof(conf.profile), "sm2-sansec");
    snprintf(conf.token_label, sizeof(conf.token_label), "audit-test");
    snprintf(conf.pin_file, sizeof(conf.pin_file), "%s", prof);
    assert_int_equal(custody_init_token(conf.module, 0, "audit-test", "so-secret",
                                        "123456", &e), ERR_OK);
    assert_int_equal(custody_open(&conf, 1, &cust, &e), ERR_OK);
    d->cust = cust;
    assert_int_equal(custody_generate(cust, "dev", "audit", NULL, 0, id, &e),
                     ERR_OK);
    snprintf(ref, cap, "dev/%s", id);
    snprintf(d->ref, sizeof(d->ref), "dev/%s", id);
    return cust;
}

/* Run sql on the file as an attacker would: the triggers dropped. */
static void
attack(struct db *d, const char *sql)
{
    sqlite3 *raw;

    assert_int_equal(sqlite3_open(d->path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "DROP TRIGGER IF EXISTS "
                                  "audit_log_no_update; DROP TRIGGER IF "
                                  "EXISTS audit_log_no_delete; DROP TRIGGER "
                                  "IF EXISTS audit_checkpoints_no_delete",
                                  NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
}

struct rechain {
    int64_t n;
    uint8_t h[4096][AUDIT_HASH_LEN];
};

/* store_audit_walk callback: the chain over the rows as they now are. */
static err_code
rechain_row(void *ctx, const struct store_audit_entry *en)
{
    struct rechain *r = ctx;
    static const uint8_t zero0[AUDIT_HASH_LEN];
    struct err e;

    assert_true(r->n < 4096);
    r->n++;
    return audit_entry_hash(r->n > 1 ? r->h[r->n - 2] : zero0, en,
                            r->h[r->n - 1], &e);
}

/* Recompute every stored hash from the rows as they are: what an
 * attacker who rewrote the rows does so that the chain links again. */
static void
rechain(struct db *d)
{
    struct rechain *r = calloc(1, sizeof(*r));
    sqlite3 *raw;
    sqlite3_stmt *st;
    struct err e;
    int64_t i;

    assert_non_null(r);
    assert_int_equal(store_audit_walk(d->c, 0, rechain_row, r, &e), ERR_OK);
    assert_int_equal(sqlite3_open(d->path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "DROP TRIGGER IF EXISTS "
                                  "audit_log_no_update", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(raw, "UPDATE audit_log SET hash = ? "
                                        "WHERE seq = ?", -1, &st, NULL),
                     SQLITE_OK);
    for (i = 0; i < r->n; i++) {
        sqlite3_bind_blob(st, 1, r->h[i], AUDIT_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, i + 1);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    /* and the chain's head row (migration 008), which would give the
     * rewrite away otherwise */
    if (r->n > 0) {
        assert_int_equal(sqlite3_exec(raw, "DROP TRIGGER IF EXISTS "
                                      "audit_head_forward", NULL, NULL,
                                      NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(raw, "UPDATE audit_head SET "
                                            "seq = ?, hash = ?", -1, &st,
                                            NULL), SQLITE_OK);
        sqlite3_bind_int64(st, 1, r->n);
        sqlite3_bind_blob(st, 2, r->h[r->n - 1], AUDIT_HASH_LEN,
                          SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
    }
    sqlite3_close(raw);
    free(r);
}

static void
test_null_hashes_outside_prechain(void **state)
{
    struct db *d = *state;
    struct audit_verify_opts o;
    struct audit_verify_report r;
    struct err e;

    append(d->c, "a.one");
    append(d->c, "a.two");
    append(d->c, "a.three");
    attack(d, "UPDATE audit_log SET hash = NULL");
    run_verify(d->c, &r);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 1);
    assert_non_null(strstr(r.reason, "no hash"));
    /* a pinned pre-chain range may have none, and only it */
    memset(&o, 0, sizeof(o));
    o.prechain = 2;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 3);
    o.prechain = 3;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_true(r.ok);
    assert_int_equal(r.unchained, 3);
}

static void
test_uncovered_entries_fail(void **state)
{
    struct db *d = *state;
    struct audit_verify_opts o;
    struct audit_verify_report r;
    struct err e;
    int i;

    for (i = 0; i < 5; i++)
        append(d->c, "a.entry");
    run_verify(d->c, &r);
    assert_true(r.ok);                    /* young: waiting for a checkpoint */
    /* the same rows over four hours, with the chain recomputed and no
     * checkpoint: checkpoints were deleted */
    attack(d, "UPDATE audit_log SET ts_ms = ts_ms - (5 - seq) * 3600000");
    rechain(d);
    run_verify(d->c, &r);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 1);
    assert_non_null(strstr(r.reason, "no checkpoint"));
    memset(&o, 0, sizeof(o));
    o.seconds = 5 * 3600;                 /* an instance with that interval */
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_true(r.ok);
    /* more entries than the interval and its slack allow */
    i = AUDIT_CHECKPOINT_SLACK_ENTRIES - 3;
    assert_int_equal(store_run(d->c, append_many, &i, &e), ERR_OK);
    o.every = 2;                          /* 1002 entries: just allowed */
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_true(r.ok);
    o.every = 1;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 1);
    assert_non_null(strstr(r.reason, "1002 entries"));
}

/* The public key (SPKI DER) of ref, into key; its length. */
static size_t
key_of(struct custody *cust, const char *ref, uint8_t *key)
{
    char tok[CUSTODY_NAME_MAX], id[CUSTODY_ID_HEX_MAX];
    uint8_t *der = NULL;
    size_t n = 0;
    struct err e;

    assert_int_equal(config_keyref(ref, tok, id, &e), ERR_OK);
    assert_int_equal(custody_public_key_der(cust, tok, id, &der, &n, &e),
                     ERR_OK);
    assert_true(n <= AUDIT_PUBKEY_MAX);
    memcpy(key, der, n);
    free(der);
    return n;
}

/* Wait (bounded, generously: the checkpointer's thread gets little CPU
 * when the sanitizer suite runs beside e2e on two cores) until the newest
 * checkpoint covers seq. */
static void
wait_for_checkpoint(struct db *d, int64_t seq)
{
    struct store_audit_checkpoint cp;
    struct err e;
    int i;

    for (i = 0; i < 3000; i++) {
        if (store_audit_checkpoint_latest(d->c, &cp, &e) == ERR_OK &&
            cp.seq >= seq)
            return;
        usleep(20 * 1000);
    }
    fail_msg("no checkpoint at seq %lld", (long long)seq);
}

/* Lines in the file at path. */
static int
count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, ch;

    assert_non_null(f);
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static void
test_automatic_checkpoints(void **state)
{
    struct db *d = *state;
    struct audit_verify_report r;
    struct audit_verify_opts o;
    struct audit_checkpointer_conf cc;
    struct store_audit_checkpoint cp;
    struct custody *cust;
    char ref[CONFIG_KEYREF_MAX], sink[160];
    uint8_t key[AUDIT_PUBKEY_MAX];
    int i;
    struct err e;

    cust = dev_token(d, ref, sizeof(ref));
    snprintf(sink, sizeof(sink), "%s/sink.jsonl", d->dir);
    memset(&cc, 0, sizeof(cc));
    cc.cust = cust;
    cc.key_ref = d->ref;
    cc.every = 3;
    cc.seconds = 3600;
    cc.sink.file = sink;
    assert_int_equal(audit_checkpointer_start(d->s, &cc, &e), ERR_OK);
    /* The first entry is covered at once: no checkpoint has ever been
     * made, so one is due by time.  The test appends only after each
     * checkpoint it waits for, so that the counts below do not depend on
     * when the thread gets the CPU (a checkpoint signs whatever head it
     * reads, which may be past the one that woke it). */
    append(d->c, "a.entry");                      /* seq 1 */
    wait_for_checkpoint(d, 1);
    /* then every 3 entries, woken by the append that makes it due */
    for (i = 0; i < 3; i++)
        append(d->c, "a.entry");                  /* seq 2..4 */
    wait_for_checkpoint(d, 4);
    assert_int_equal(store_audit_checkpoint_latest(d->c, &cp, &e), ERR_OK);
    assert_int_equal(cp.seq, 4);
    assert_string_equal(cp.key_ref, ref);
    /* two entries are not due: stopping signs them */
    append(d->c, "a.entry");
    append(d->c, "a.entry");                      /* seq 6 */
    audit_checkpointer_stop();
    assert_int_equal(store_audit_checkpoint_latest(d->c, &cp, &e), ERR_OK);
    assert_int_equal(cp.seq, 6);
    memset(&o, 0, sizeof(o));
    o.pinned_key = key;
    o.pinned_key_len = key_of(cust, ref, key);
    o.sink_file = sink;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_true(r.ok);
    assert_int_equal(r.checkpoints, 3);
    assert_int_equal(r.exported, r.checkpoints);   /* each one sent away */
    assert_int_equal(count_lines(sink), r.checkpoints);
    assert_int_equal(r.covered_seq, 6);
    assert_true(r.pinned);
    /* or once the time is up, with no append at all: a quiet log is
     * covered by the checkpointer's own tick */
    cc.every = 1000;
    cc.seconds = 1;
    assert_int_equal(audit_checkpointer_start(d->s, &cc, &e), ERR_OK);
    append(d->c, "a.entry");              /* seq 7 */
    wait_for_checkpoint(d, 7);
    assert_int_equal(store_audit_checkpoint_latest(d->c, &cp, &e), ERR_OK);
    assert_int_equal(cp.seq, 7);
    audit_checkpointer_stop();
    /* a trusted key that is no key trusts nothing */
    o.pinned_key_len--;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_false(r.ok);
}

static void
test_checkpointer_never_signs_a_broken_chain(void **state)
{
    struct db *d = *state;
    struct audit_checkpointer_conf cc;
    struct store_audit_checkpoint cp;
    struct custody *cust;
    char ref[CONFIG_KEYREF_MAX];
    int i;
    struct err e;

    cust = dev_token(d, ref, sizeof(ref));
    for (i = 0; i < 4; i++)
        append(d->c, "a.entry");
    /* rewritten over hours with the chain recomputed and no checkpoint */
    attack(d, "UPDATE audit_log SET ts_ms = ts_ms - (4 - seq) * 3600000, "
              "reason = 'rewritten'");
    rechain(d);
    memset(&cc, 0, sizeof(cc));
    cc.cust = cust;
    cc.key_ref = d->ref;
    cc.every = 1;
    cc.seconds = 1;
    assert_int_equal(audit_checkpointer_start(d->s, &cc, &e), ERR_OK);
    append(d->c, "a.after");
    usleep(1500 * 1000);
    audit_checkpointer_stop();
    assert_int_equal(store_audit_checkpoint_latest(d->c, &cp, &e),
                     ERR_NOT_FOUND);
}

static void
test_forced_checkpoint_key_pinning_and_sinks(void **state)
{
    struct db *d = *state;
    struct audit_verify_report r;
    struct audit_verify_opts o;
    struct audit_actor who = {.client_addr = "local"};
    struct audit_sink sink;
    struct store_audit_checkpoint cp;
    struct sockaddr_un sa;
    struct custody *cust;
    char ref[CONFIG_KEYREF_MAX], other[CONFIG_KEYREF_MAX];
    char id[CUSTODY_ID_HEX_MAX];
    char file[160], sock[160], pem[160], dgram[4096];
    uint8_t key[AUDIT_PUBKEY_MAX], okey[AUDIT_PUBKEY_MAX];
    uint8_t back[AUDIT_PUBKEY_MAX];
    size_t klen, oklen, blen;
    ssize_t n;
    int fd;
    struct err e;

    cust = dev_token(d, ref, sizeof(ref));
    assert_int_equal(custody_generate(cust, "dev", "other", NULL, 0, id, &e),
                     ERR_OK);
    snprintf(other, sizeof(other), "dev/%s", id);
    klen = key_of(cust, ref, key);
    oklen = key_of(cust, other, okey);
    /* the trusted key file round-trips */
    snprintf(pem, sizeof(pem), "%s/audit-key.pem", d->dir);
    assert_int_equal(audit_trusted_key_write(pem, key, klen, &e), ERR_OK);
    assert_int_equal(audit_trusted_key_load(pem, back, &blen, &e), ERR_OK);
    assert_int_equal(blen, klen);
    assert_memory_equal(back, key, klen);
    /* a syslog socket and a sink file */
    snprintf(file, sizeof(file), "%s/sink.jsonl", d->dir);
    snprintf(sock, sizeof(sock), "%s/log", d->dir);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    assert_true(strlen(sock) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    assert_true((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    sink.file = file;
    sink.syslog = sock;
    append(d->c, "a.one");
    assert_int_equal(audit_checkpoint(d->c, cust, ref, &sink, &who, &cp, &e),
                     ERR_OK);
    assert_int_equal(cp.seq, 2);          /* covers its own record */
    n = recv(fd, dgram, sizeof(dgram) - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    dgram[n] = '\0';
    assert_memory_equal(dgram, "<85>", 4);
    assert_non_null(strstr(dgram, " seald["));
    assert_non_null(strstr(dgram, "\"format\":\"seald-audit-checkpoint-1\""));
    close(fd);
    append(d->c, "a.three");
    sink.syslog = NULL;
    assert_int_equal(audit_checkpoint(d->c, cust, ref, &sink, &who, &cp, &e),
                     ERR_OK);
    assert_int_equal(cp.seq, 4);
    assert_int_equal(count_lines(file), 2);
    memset(&o, 0, sizeof(o));
    o.pinned_key = key;
    o.pinned_key_len = klen;
    o.sink_file = file;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_true(r.ok);
    assert_int_equal(r.exported, 2);
    /* the tail and its checkpoints deleted together: only the sink sees */
    attack(d, "DELETE FROM audit_log WHERE seq >= 3; "
              "DELETE FROM audit_checkpoints WHERE seq >= 3");
    rechain(d);                           /* the head row rewound too */
    o.sink_file = NULL;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_true(r.ok);
    o.sink_file = file;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 3);
    assert_non_null(strstr(r.reason, "deleted"));
    /* a sink line altered after it was sent fails its signature */
    snprintf(pem, sizeof(pem), "%s/forged.jsonl", d->dir);
    /* prefix a digit to ts_ms: the line always changes (replacing its last
     * digit with 0 left it unchanged one time in ten) */
    snprintf(dgram, sizeof(dgram), "sed 's/\"ts_ms\":/\"ts_ms\":9/' "
             "'%s' > '%s'", file, pem);
    assert_int_equal(system(dgram), 0);
    attack(d, "DELETE FROM audit_checkpoints");
    o.sink_file = pem;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_false(r.ok);
    assert_non_null(strstr(r.reason, "sink line 1"));
    assert_non_null(strstr(r.reason, "signature"));
    /* a checkpoint by another key counts for nothing ... */
    assert_int_equal(audit_checkpoint(d->c, cust, other, NULL, &who, &cp, &e),
                     ERR_OK);
    o.sink_file = NULL;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_false(r.ok);
    assert_int_equal(r.bad_seq, 3);
    assert_true(r.bad_checkpoint > 0);
    assert_non_null(strstr(r.reason, "another key"));
    /* ... unless that key is the one trusted; with none, nothing is */
    o.pinned_key = okey;
    o.pinned_key_len = oklen;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_true(r.ok);                    /* the only checkpoint left */
    o.pinned_key = NULL;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_false(r.ok);
    assert_non_null(strstr(r.reason, "no trusted audit key"));
}

/* Summary rows seen by the walk below. */
struct seen {
    int     rows;
    int64_t total, first_count, other_count;
    char    first_rid[32], other_sample[64];
};

static err_code
seen_row(void *ctx, const struct store_audit_entry *en)
{
    struct seen *s = ctx;
    json_t *d = json_loads(en->details, 0, NULL);
    json_int_t n = json_integer_value(json_object_get(d, "count"));

    assert_non_null(d);
    assert_string_equal(en->outcome, AUDIT_REFUSED);
    assert_int_equal(en->account_id, 0);
    assert_true(n >= 1);
    assert_true(json_integer_value(json_object_get(d, "first_ms")) <=
                json_integer_value(json_object_get(d, "last_ms")));
    if (s->rows == 0) {
        s->first_count = n;
        snprintf(s->first_rid, sizeof(s->first_rid), "%s", en->request_id);
        assert_string_equal(en->client_addr, "192.0.2.1");
        assert_string_equal(en->reason, "invalid credential");
        assert_string_equal(en->target_id, "/api/v1/whoami");
    }
    if (strcmp(en->client_addr, AUDIT_REFUSAL_OTHER_ADDR) == 0) {
        assert_string_equal(en->action, AUDIT_REFUSAL_OTHER_ACTION);
        s->other_count = n;
        snprintf(s->other_sample, sizeof(s->other_sample), "%s",
                 json_string_value(json_object_get(d,
                                                   "sample_client_addr")));
    }
    s->rows++;
    s->total += n;
    json_decref(d);
    return ERR_OK;
}

static void
refuse(const char *addr, const char *rid, const char *reason)
{
    struct audit_actor who = {.client_addr = addr, .request_id = rid};
    struct audit_event ev = {"account.whoami", "route", "/api/v1/whoami",
                             AUDIT_REFUSED, reason, NULL};

    audit_refusal_count(&who, &ev);
}

/* Anonymous refusals: counted per (address, action, reason), written as
 * one chained row each at a flush, the table bounded with the rest in one
 * "other sources" row; a failed flush keeps the counts. */
/* store_run work: a refusal flush inside a transaction is refused. */
static err_code
flush_inside(struct store_conn *c, void *ctx, struct err *e)
{
    int rows = -1;

    (void)ctx;
    assert_int_equal(audit_refusals_flush(c, &rows, e), ERR_INTERNAL);
    return ERR_OK;
}

static void
test_refusal_summaries(void **state)
{
    struct db *d = *state;
    struct audit_verify_report r;
    struct seen s;
    char addr[32], rid[32];
    int i, rows = -1;
    struct err e;

    for (i = 0; i < 1000; i++) {
        snprintf(rid, sizeof(rid), "r%d", i);
        refuse("192.0.2.1", rid, "invalid credential");
    }
    for (i = 0; i < 500; i++)
        refuse("192.0.2.1", "m", "malformed credential");
    /* 2 keys so far; 300 more sources overflow the table by 46 */
    for (i = 0; i < 300; i++) {
        snprintf(addr, sizeof(addr), "198.51.100.%d:%d", i % 250, i / 250);
        refuse(addr, "s", "an Authorization: Bearer credential is required");
    }
    /* inside a transaction the flush is refused and nothing is lost */
    assert_int_equal(store_run(d->c, flush_inside, NULL, &e), ERR_OK);

    assert_int_equal(audit_refusals_flush(d->c, &rows, &e), ERR_OK);
    assert_int_equal(rows, AUDIT_REFUSAL_SOURCES_MAX + 1);
    memset(&s, 0, sizeof(s));
    assert_int_equal(store_audit_walk(d->c, 0, seen_row, &s, &e), ERR_OK);
    assert_int_equal(s.rows, AUDIT_REFUSAL_SOURCES_MAX + 1);
    assert_int_equal(s.total, 1800);
    assert_int_equal(s.first_count, 1000);
    assert_string_equal(s.first_rid, "r0");          /* the first one's */
    assert_int_equal(s.other_count, 302 - AUDIT_REFUSAL_SOURCES_MAX);
    assert_true(strncmp(s.other_sample, "198.51.100.", 11) == 0);

    /* the window is empty again: nothing more to write */
    assert_int_equal(audit_refusals_flush(d->c, &rows, &e), ERR_OK);
    assert_int_equal(rows, 0);
    refuse("192.0.2.1", "later", "invalid credential");
    assert_int_equal(audit_refusals_flush(d->c, &rows, &e), ERR_OK);
    assert_int_equal(rows, 1);
    run_verify(d->c, &r);
    assert_true(r.ok);
    assert_int_equal(r.entries, AUDIT_REFUSAL_SOURCES_MAX + 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoding_separates_fields),
        cmocka_unit_test(test_checkpoint_message_layout),
        cmocka_unit_test_setup_teardown(test_append_chain_and_tamper,
                                        db_setup, db_teardown),
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test_setup_teardown(test_null_hashes_outside_prechain,
                                        db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_uncovered_entries_fail,
                                        db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_automatic_checkpoints,
                                        db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(
            test_checkpointer_never_signs_a_broken_chain, db_setup,
            db_teardown),
        cmocka_unit_test_setup_teardown(
            test_forced_checkpoint_key_pinning_and_sinks, db_setup,
            db_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_summaries,
                                        db_setup, db_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
