/*
 * test_cpubudget.c - unit tests of the CPU budget of public work
 * (cpubudget.c): the slots bound holders at once; the CPU a holder really
 * spent on its thread is charged when it leaves; an overdrawn bucket
 * refuses with the seconds until it is paid back, and refills with time;
 * work charged outside a slot counts the same; a budget without a
 * bucket counts only slots.  Times are given, not
 * waited for, so nothing here depends on the machine's speed beyond
 * "burning CPU takes CPU".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpubudget.h"

/* Spend at least ms of this thread's CPU. */
static void
burn(double ms)
{
    int64_t start = cpubudget_thread_ns();
    volatile uint64_t x = 1;

    while ((double)(cpubudget_thread_ns() - start) / 1e6 < ms)
        x = x * 6364136223846793005u + 1;
}

static void
test_slots(void **state)
{
    struct cpubudget *b = cpubudget_new(2, 0, 0);
    struct cpubudget_ticket t1, t2, t3;
    struct cpubudget_stats st;

    (void)state;
    assert_non_null(b);
    assert_int_equal(cpubudget_enter(b, 1000, &t1), 0);
    assert_int_equal(cpubudget_enter(b, 1000, &t2), 0);
    assert_int_equal(cpubudget_enter(b, 1000, &t3), 1);   /* full */
    assert_false(t3.held);
    cpubudget_leave(b, &t1, 1001);
    assert_int_equal(cpubudget_enter(b, 1001, &t3), 0);
    cpubudget_leave(b, &t2, 1002);
    cpubudget_leave(b, &t3, 1002);
    assert_true(cpubudget_leave(b, &t3, 1002) == 0);      /* not held */
    cpubudget_stats_get(b, 1002, &st);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.entered, 3);
    assert_int_equal(st.refused_slots, 1);
    assert_int_equal(st.refused_cpu, 0);
    cpubudget_free(b);
}

static void
test_cpu_is_charged_and_refills(void **state)
{
    /* 10 ms a second, 20 banked */
    struct cpubudget *b = cpubudget_new(4, 10, 20);
    struct cpubudget_ticket t;
    struct cpubudget_stats st;
    double ms;
    int wait;

    (void)state;
    assert_int_equal(cpubudget_enter(b, 5000, &t), 0);
    burn(45);
    ms = cpubudget_leave(b, &t, 5000);
    assert_true(ms >= 45);
    cpubudget_stats_get(b, 5000, &st);
    assert_true(st.balance_ms <= 20 - 45);                 /* overdrawn */
    wait = cpubudget_enter(b, 5000, &t);
    /* at 10 ms a second, a debt of 25 ms or more takes 3 s or more */
    assert_true(wait >= 3);
    assert_false(t.held);
    cpubudget_stats_get(b, 5000, &st);
    assert_int_equal(st.refused_cpu, 1);
    /* time pays it back: after the wait, a holder is let in again */
    assert_int_equal(cpubudget_enter(b, 5000 + 1000 * (int64_t)wait, &t), 0);
    cpubudget_leave(b, &t, 5000 + 1000 * (int64_t)wait);
    /* and the bank never holds more than the burst */
    cpubudget_stats_get(b, 10000000, &st);
    assert_true(st.balance_ms <= 20);
    /* work outside enter/leave is charged too; check takes nothing */
    assert_int_equal(cpubudget_check(b, 10000000), 0);
    assert_int_equal(cpubudget_check(b, 10000000), 0);
    cpubudget_charge(b, 1000, 10000000);
    assert_true(cpubudget_check(b, 10000000) >= 98);   /* (1 + 980) / 10 */
    cpubudget_stats_get(b, 10000000, &st);
    assert_int_equal(st.in_use, 0);
    cpubudget_free(b);
}

static void
test_only_slots_without_a_bucket(void **state)
{
    struct cpubudget *b = cpubudget_new(0, 0, 0);   /* 0 slots: 1 */
    struct cpubudget_ticket t;
    struct cpubudget_stats st;

    (void)state;
    assert_int_equal(cpubudget_enter(b, 1, &t), 0);
    burn(5);
    assert_true(cpubudget_leave(b, &t, 1) >= 5);
    assert_int_equal(cpubudget_enter(b, 1, &t), 0);  /* no debt kept */
    cpubudget_leave(b, &t, 1);
    cpubudget_stats_get(b, 1, &st);
    assert_int_equal(st.slots, 1);
    assert_true(st.charged_ms >= 5);
    cpubudget_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_cpu_is_charged_and_refills),
        cmocka_unit_test(test_only_slots_without_a_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
