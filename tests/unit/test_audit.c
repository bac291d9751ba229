/*
 * test_audit.c - unit tests of the audit chain (audit.c, store_audit.c):
 * the canonical encoding separates fields, appends are chained, gapless and
 * atomic with their transaction, the verifier names a tampered entry, and
 * CSV export quotes safely, and automatic checkpoints are signed by the
 * audit key in the project's dev token.  Uses a real SQLite file and a
 * real token in a temp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "audit.h"
#include "custody.h"
#include "store.h"
#include "util.h"

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
    char         dir[64];
    char         path[128];
    struct store *s;
    struct store_conn *c;
};

static int
db_setup(void **state)
{
    struct db *d = calloc(1, sizeof(*d));
    struct err e;

    assert_non_null(d);
    snprintf(d->dir, sizeof(d->dir), "/tmp/seald-audit-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    snprintf(d->path, sizeof(d->path), "%s/t.db", d->dir);
    assert_int_equal(store_open(d->path, 5000, 1, &d->s, &e), ERR_OK);
    assert_int_equal(store_migrate(d->s, NULL, &e), ERR_OK);
    assert_int_equal(store_conn_get(d->s, &d->c, &e), ERR_OK);
    *state = d;
    return 0;
}

static int
db_teardown(void **state)
{
    struct db *d = *state;
    char p[160];

    store_close(d->s);
    snprintf(p, sizeof(p), "%s-wal", d->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", d->path);
    unlink(p);
    unlink(d->path);
    rmdir(d->dir);
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
    assert_int_equal(store_begin(d->c, &e), ERR_OK);
    append(d->c, "a.rolled-back");
    store_rollback(d->c);
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
    char *buf = NULL;
    size_t len = 0, cap = 0;
    struct err e;

    (void)state;
    memset(&en, 0, sizeof(en));
    en.seq = 5;
    en.action = "x";
    en.outcome = "refused";
    en.reason = "say \"no\", twice";
    en.target_id = "=cmd()";
    assert_int_equal(audit_entry_csv(&en, &buf, &len, &cap, &e), ERR_OK);
    assert_non_null(strstr(buf, "\"say \"\"no\"\", twice\""));
    assert_non_null(strstr(buf, "\"'=cmd()\""));
    assert_int_equal(buf[len - 2], '\r');
    assert_int_equal(buf[len - 1], '\n');
    free(buf);
}

/* A dev token (sansec profile) in d->dir/token with an audit key. */
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
    assert_int_equal(custody_generate(cust, "dev", "audit", NULL, 0, id, &e),
                     ERR_OK);
    snprintf(ref, cap, "dev/%s", id);
    return cust;
}

static void
test_automatic_checkpoints(void **state)
{
    struct db *d = *state;
    struct audit_verify_report r;
    struct audit_verify_opts o = {NULL, 0, NULL};
    struct store_audit_checkpoint cp;
    struct custody *cust;
    char ref[CUSTODY_NAME_MAX + CUSTODY_ID_HEX_MAX + 2], cmd[200];
    uint8_t *der = NULL;
    size_t der_len = 0;
    int i;
    struct err e;

    cust = dev_token(d, ref, sizeof(ref));
    assert_int_equal(audit_checkpoint_setup(cust, ref, 3, 3600, &e), ERR_OK);
    for (i = 0; i < 7; i++)
        append(d->c, "a.entry");
    /* every 3 entries: checkpoints at seq 3 and 6 */
    assert_int_equal(store_audit_checkpoint_latest(d->c, &cp, &e), ERR_OK);
    assert_int_equal(cp.seq, 6);
    assert_string_equal(cp.key_ref, ref);
    assert_int_equal(custody_public_key_der(cust, "dev", ref + 4, &der,
                                            &der_len, &e), ERR_OK);
    o.pinned_key = der;
    o.pinned_key_len = der_len;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_true(r.ok);
    assert_int_equal(r.checkpoints, 2);
    assert_true(r.pinned);
    /* or once the time is up, whatever the count */
    assert_int_equal(audit_checkpoint_setup(cust, ref, 1000, 1, &e), ERR_OK);
    append(d->c, "a.entry");                 /* loads the last checkpoint */
    usleep(1100 * 1000);
    append(d->c, "a.entry");                 /* seq 9: a second later */
    assert_int_equal(store_audit_checkpoint_latest(d->c, &cp, &e), ERR_OK);
    assert_int_equal(cp.seq, 9);
    /* a checkpoint by another key fails the pinned check */
    o.pinned_key_len = der_len - 1;
    assert_int_equal(audit_verify(d->c, &o, &r, &e), ERR_OK);
    assert_false(r.ok);
    assert_int_equal(audit_checkpoint_setup(NULL, NULL, 1, 1, &e), ERR_OK);
    free(der);
    custody_close(cust);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/token' '%s/pin'", d->dir, d->dir);
    assert_int_equal(system(cmd), 0);
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
        cmocka_unit_test_setup_teardown(test_automatic_checkpoints,
                                        db_setup, db_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
