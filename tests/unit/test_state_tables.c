/*
 * test_sign_moves.c - the signing request's state table (signing.c,
 * sign_request_move): every event in every state, allowed or refused,
 * against the life the manual describes, written out here on its own so
 * that a changed row in the table fails this test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "signing.h"

static const char *const states[] = {"submitted", "approved", "rejected",
                                     "cancelled", "bogus", NULL};
static const char *const events[] = {"approve", "reject", "cancel",
                                     "upload", "sign", "resubmit",
                                     "extra_copies", "bogus", NULL};

/* The allowed (event, from) -> to; anything else is refused. */
static const struct {
    const char *event, *from, *to;
} allowed[] = {
    {"approve", "submitted", "approved"},
    {"reject", "submitted", "rejected"},
    {"cancel", "submitted", "cancelled"},
    {"cancel", "approved", "cancelled"},
    {"upload", "submitted", "submitted"},
    {"upload", "approved", "approved"},
    {"sign", "approved", "approved"},
    {"resubmit", "rejected", "rejected"},
    {"extra_copies", "approved", "approved"},
};
#define NALLOWED (sizeof(allowed) / sizeof(allowed[0]))

static const char *
expected(const char *event, const char *from)
{
    size_t i;

    for (i = 0; i < NALLOWED; i++)
        if (!strcmp(allowed[i].event, event) && !strcmp(allowed[i].from, from))
            return allowed[i].to;
    return NULL;
}

static void
test_every_event_in_every_state(void **state)
{
    const char *const *s, *const *ev, *to, *want;
    int reason, checked = 0;
    struct err e;

    (void)state;
    for (s = states; *s != NULL; s++)
        for (ev = events; *ev != NULL; ev++) {
            want = expected(*ev, *s);
            to = NULL;
            err_clear(&e);
            if (want != NULL) {
                assert_int_equal(sign_request_move(*ev, *s, &to, &reason,
                                                   &e), ERR_OK);
                assert_string_equal(to, want);
                /* only a rejection (退签) needs a reason */
                assert_int_equal(reason, !strcmp(*ev, "reject"));
            } else {
                assert_int_equal(sign_request_move(*ev, *s, &to, &reason,
                                                   &e), ERR_CONFLICT);
                assert_null(to);
                assert_non_null(strstr(e.msg, *s));   /* names the state */
            }
            checked++;
        }
    assert_int_equal(checked, 5 * 8);
}

static void
test_rows_are_the_table(void **state)
{
    const char *event, *from, *to;
    size_t i;

    (void)state;
    for (i = 0; sign_request_move_row(i, &event, &from, &to); i++)
        assert_string_equal(to, expected(event, from));
    assert_int_equal(i, NALLOWED);
    /* NULL outputs are allowed */
    assert_int_equal(sign_request_move("sign", "approved", NULL, NULL, NULL),
                     ERR_OK);
    assert_int_equal(sign_request_move("sign", "submitted", NULL, NULL,
                                       NULL), ERR_CONFLICT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_event_in_every_state),
        cmocka_unit_test(test_rows_are_the_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
