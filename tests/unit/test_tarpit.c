/*
 * test_tarpit.c - unit tests of the tarpit (tarpit.c): an item is handed
 * back once, not before its delay, in the order held; a full tarpit and a
 * stopped one refuse to hold; stopping hands back everything held at once.
 * The release function records what the tarpit's thread hands back, as
 * http.c's resumes a suspended connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "tarpit.h"
#include "util.h"

#define ITEMS 8

static struct {
    pthread_mutex_t lock;
    int             order[ITEMS * 2];
    int64_t         at_ms[ITEMS * 2];
    int             n;
} got = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int item_id[ITEMS];

static void
record(void *item)
{
    pthread_mutex_lock(&got.lock);
    got.order[got.n] = *(int *)item;
    got.at_ms[got.n] = util_mono_ms();
    got.n++;
    pthread_mutex_unlock(&got.lock);
}

static int
released(void)
{
    int n;

    pthread_mutex_lock(&got.lock);
    n = got.n;
    pthread_mutex_unlock(&got.lock);
    return n;
}

static int
reset(void **state)
{
    int i;

    (void)state;
    got.n = 0;
    for (i = 0; i < ITEMS; i++)
        item_id[i] = i;
    return 0;
}

/* Wait (bounded) until n items were handed back. */
static void
wait_released(int n)
{
    int i;

    for (i = 0; i < 3000 && released() < n; i++)
        usleep(10 * 1000);
    assert_int_equal(released(), n);
}

static void
test_release_after_delay_in_order(void **state)
{
    struct tarpit *t;
    int64_t held_ms[ITEMS];
    struct err e;
    int i;

    (void)state;
    assert_int_equal(tarpit_start(ITEMS, 150, record, &t, &e), ERR_OK);
    for (i = 0; i < ITEMS; i++) {
        held_ms[i] = util_mono_ms();
        assert_int_equal(tarpit_hold(t, &item_id[i], &e), ERR_OK);
        usleep(5 * 1000);
    }
    wait_released(ITEMS);
    for (i = 0; i < ITEMS; i++) {
        assert_int_equal(got.order[i], i);              /* as held */
        assert_true(got.at_ms[i] - held_ms[i] >= 150);  /* never early */
    }
    assert_int_equal(tarpit_held(t), 0);
    /* once each: nothing more comes back */
    usleep(200 * 1000);
    assert_int_equal(released(), ITEMS);
    tarpit_free(t);
    assert_int_equal(released(), ITEMS);
}

static void
test_full_refuses(void **state)
{
    struct tarpit *t;
    struct err e;
    int i;

    (void)state;
    assert_int_equal(tarpit_start(3, 100, record, &t, &e), ERR_OK);
    for (i = 0; i < 3; i++)
        assert_int_equal(tarpit_hold(t, &item_id[i], &e), ERR_OK);
    assert_int_equal(tarpit_hold(t, &item_id[3], &e), ERR_UNAVAILABLE);
    assert_int_equal(tarpit_held(t), 3);
    wait_released(3);
    /* the ring wraps: room again */
    for (i = 4; i < 7; i++)
        assert_int_equal(tarpit_hold(t, &item_id[i], &e), ERR_OK);
    wait_released(6);
    assert_int_equal(got.order[3], 4);
    assert_int_equal(got.order[5], 6);
    tarpit_free(t);
}

static void
test_stop_releases_everything_at_once(void **state)
{
    struct tarpit *t;
    int64_t start;
    struct err e;
    int i;

    (void)state;
    assert_int_equal(tarpit_start(ITEMS, TARPIT_DELAY_MAX_MS, record, &t,
                                  &e), ERR_OK);
    start = util_mono_ms();
    for (i = 0; i < ITEMS; i++)
        assert_int_equal(tarpit_hold(t, &item_id[i], &e), ERR_OK);
    tarpit_stop(t);
    /* all handed back by the time stop returns, long before their time */
    assert_int_equal(released(), ITEMS);
    assert_true(util_mono_ms() - start < TARPIT_DELAY_MAX_MS);
    /* a stopped tarpit holds nothing, and stopping again is harmless */
    assert_int_equal(tarpit_hold(t, &item_id[0], &e), ERR_UNAVAILABLE);
    tarpit_stop(t);
    tarpit_free(t);
    assert_int_equal(released(), ITEMS);
}

static void
test_bad_arguments(void **state)
{
    struct tarpit *t = (struct tarpit *)1;
    struct err e;

    (void)state;
    assert_int_equal(tarpit_start(0, 100, record, &t, &e), ERR_INTERNAL);
    assert_null(t);
    assert_int_equal(tarpit_start(4, 0, record, &t, &e), ERR_INTERNAL);
    assert_int_equal(tarpit_start(4, TARPIT_DELAY_MAX_MS + 1, record, &t,
                                  &e), ERR_INTERNAL);
    assert_int_equal(tarpit_start(4, 100, NULL, &t, &e), ERR_INTERNAL);
    tarpit_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_release_after_delay_in_order, reset),
        cmocka_unit_test_setup(test_full_refuses, reset),
        cmocka_unit_test_setup(test_stop_releases_everything_at_once, reset),
        cmocka_unit_test_setup(test_bad_arguments, reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
