/*
 * test_state_tables.c - the state tables of signing requests (signing.c,
 * sign_request_move) and of applications (application.c,
 * application_move): every event in every state, allowed or refused,
 * against the life the manual describes, written out here on its own so
 * that a changed row in a table fails this test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "application.h"
#include "rbac.h"
#include "seal.h"
#include "signing.h"

/* Every state, and SREQ_NONE for a name that is none (a corrupt row). */
static const enum sreq_state states[] = {SREQ_SUBMITTED, SREQ_APPROVED,
                                         SREQ_REJECTED, SREQ_CANCELLED,
                                         SREQ_NONE};
#define NSTATES (sizeof(states) / sizeof(states[0]))
static const char *const events[] = {"approve", "reject", "cancel",
                                     "upload", "sign", "resubmit",
                                     "extra_copies", "bogus", NULL};

/* The allowed (event, from) -> to, with the permission the actor holds
 * for the event; anything else is refused. */
static const struct {
    const char      *event;
    enum sreq_state  from, to;
    enum rbac_perm   perm;
} allowed[] = {
    {"approve", SREQ_SUBMITTED, SREQ_APPROVED, PERM_REQUEST_APPROVE},
    {"reject", SREQ_SUBMITTED, SREQ_REJECTED, PERM_REQUEST_APPROVE},
    {"cancel", SREQ_SUBMITTED, SREQ_CANCELLED, PERM_REQUEST_SUBMIT},
    {"cancel", SREQ_APPROVED, SREQ_CANCELLED, PERM_REQUEST_SUBMIT},
    {"upload", SREQ_SUBMITTED, SREQ_SUBMITTED, PERM_SELF},
    {"upload", SREQ_APPROVED, SREQ_APPROVED, PERM_SELF},
    {"sign", SREQ_APPROVED, SREQ_APPROVED, PERM_SEAL_USE},
    {"resubmit", SREQ_REJECTED, SREQ_REJECTED, PERM_REQUEST_SUBMIT},
    {"extra_copies", SREQ_APPROVED, SREQ_APPROVED, PERM_REQUEST_SUBMIT},
};
#define NALLOWED (sizeof(allowed) / sizeof(allowed[0]))

/* The row of allowed[] for (event, from), or -1. */
static int
expected(const char *event, enum sreq_state from)
{
    size_t i;

    for (i = 0; i < NALLOWED; i++)
        if (!strcmp(allowed[i].event, event) && allowed[i].from == from)
            return (int)i;
    return -1;
}

static void
test_every_event_in_every_state(void **state)
{
    const char *const *ev;
    enum sreq_state to;
    size_t s;
    int reason, want, checked = 0;
    struct err e;

    (void)state;
    for (s = 0; s < NSTATES; s++)
        for (ev = events; *ev != NULL; ev++) {
            want = expected(*ev, states[s]);
            to = SREQ_NONE;
            err_clear(&e);
            if (want >= 0) {
                assert_int_equal(sign_request_move(*ev, states[s], &to,
                                                   &reason, &e), ERR_OK);
                assert_int_equal(to, allowed[want].to);
                /* only a rejection (退签) needs a reason */
                assert_int_equal(reason, !strcmp(*ev, "reject"));
            } else {
                assert_int_equal(sign_request_move(*ev, states[s], &to,
                                                   &reason, &e),
                                 ERR_CONFLICT);
                assert_int_equal(to, SREQ_NONE);
                /* names the state and the event */
                assert_non_null(strstr(e.msg, sreq_state_name(states[s])));
                assert_non_null(strstr(e.msg, *ev));
            }
            checked++;
        }
    assert_int_equal(checked, 5 * 8);
}

static void
test_rows_are_the_table(void **state)
{
    const char *event, *from, *to;
    int want;
    size_t i;

    (void)state;
    for (i = 0; sign_request_move_row(i, &event, &from, &to); i++) {
        want = expected(event, sreq_state_parse(from));
        assert_true(want >= 0);
        assert_string_equal(from, sreq_state_name(allowed[want].from));
        assert_string_equal(to, sreq_state_name(allowed[want].to));
        /* the permission column, by row and by event */
        assert_int_equal(sign_request_move_perm(i), allowed[want].perm);
        assert_int_equal(sign_request_event_perm(event), allowed[want].perm);
    }
    assert_int_equal(i, NALLOWED);
    assert_int_equal(sign_request_move_perm(i), -1);
    assert_int_equal(sign_request_event_perm("bogus"), PERM_NONE);
    /* NULL outputs are allowed */
    assert_int_equal(sign_request_move("sign", SREQ_APPROVED, NULL, NULL,
                                       NULL), ERR_OK);
    assert_int_equal(sign_request_move("sign", SREQ_SUBMITTED, NULL, NULL,
                                       NULL), ERR_CONFLICT);
}

/* ---- applications ---- */

/* Every state, APP_NONE (a name that is none: "bogus") included. */
static const char *const app_events[] = {"start", "return", "reject",
                                         "approve", "resubmit", "make",
                                         "bogus", NULL};

static const struct {
    const char     *event;
    enum app_state  from, to;
    const char     *action;
    int             reason;
    enum rbac_perm  perm;
} app_allowed[] = {
    {"start", APP_SUBMITTED, APP_UNDER_REVIEW, "application.review_start", 0,
     PERM_APPLICATION_REVIEW},
    {"return", APP_UNDER_REVIEW, APP_RETURNED, "application.return", 1,
     PERM_APPLICATION_REVIEW},
    {"reject", APP_UNDER_REVIEW, APP_REJECTED, "application.reject", 1,
     PERM_APPLICATION_REVIEW},
    {"approve", APP_UNDER_REVIEW, APP_APPROVED, "application.approve", 0,
     PERM_APPLICATION_REVIEW},
    {"resubmit", APP_RETURNED, APP_SUBMITTED, "application.resubmit", 0,
     PERM_APPLICATION_SUBMIT},
    {"make", APP_APPROVED, APP_MADE, "seal.make", 0, PERM_SEAL_MAKE},
};
#define APP_NALLOWED (sizeof(app_allowed) / sizeof(app_allowed[0]))

static int
app_expected(const char *event, enum app_state from)
{
    size_t i;

    for (i = 0; i < APP_NALLOWED; i++)
        if (!strcmp(app_allowed[i].event, event) &&
            app_allowed[i].from == from)
            return (int)i;
    return -1;
}

static void
test_application_every_event_in_every_state(void **state)
{
    const char *const *ev, *action;
    enum app_state s, to;
    int reason, want, checked = 0;
    struct err e;

    (void)state;
    assert_int_equal(app_state_parse("bogus"), APP_NONE);
    for (s = APP_NONE; s < APP_STATE__COUNT; s++)
        for (ev = app_events; *ev != NULL; ev++) {
            want = app_expected(*ev, s);
            to = APP_NONE;
            action = NULL;
            err_clear(&e);
            if (want >= 0) {
                assert_int_equal(application_move(*ev, s, &to, &reason,
                                                  &action, &e), ERR_OK);
                assert_int_equal(to, app_allowed[want].to);
                assert_string_equal(action, app_allowed[want].action);
                assert_int_equal(reason, app_allowed[want].reason);
            } else {
                assert_int_equal(application_move(*ev, s, &to, &reason,
                                                  &action, &e),
                                 ERR_CONFLICT);
                assert_int_equal(to, APP_NONE);
                assert_null(action);
                /* names the state */
                assert_non_null(strstr(e.msg, app_state_name(s)));
            }
            checked++;
        }
    assert_int_equal(checked, 7 * 7);
    /* NULL outputs are allowed */
    assert_int_equal(application_move("make", APP_APPROVED, NULL, NULL, NULL,
                                      NULL), ERR_OK);
    assert_int_equal(application_move("make", APP_MADE, NULL, NULL, NULL,
                                      NULL), ERR_CONFLICT);
}

static void
test_application_rows_are_the_table(void **state)
{
    const char *event, *from, *to;
    size_t i;
    int k;

    (void)state;
    for (i = 0; application_move_row(i, &event, &from, &to); i++) {
        k = app_expected(event, app_state_parse(from));
        assert_true(k >= 0);
        assert_string_equal(from, app_state_name(app_allowed[k].from));
        assert_string_equal(to, app_state_name(app_allowed[k].to));
    }
    assert_int_equal(i, APP_NALLOWED);
}

/* ---- seals ----
 * The table of seal.c (seal_moves), read through seal_move_row and
 * seal_move_perm: every event in every state is one row or none, with
 * the state it leads to and the permission its actor holds. */

static const char *const seal_states[] = {"made", "active", "suspended",
                                          "lost", "revoked", "expired",
                                          "bogus", NULL};
static const char *const seal_events[] = {"confirm", "suspend",
                                          "auto_suspend", "org_disabled",
                                          "resume", "report_loss",
                                          "reinstate", "revoke", "expire",
                                          "bogus", NULL};

/* to "": back to the state before the loss */
static const struct {
    const char *event, *from, *to;
    int         perm;
} seal_allowed[] = {
    {"confirm", "made", "active", PERM_APPLICATION_SUBMIT},
    {"suspend", "active", "suspended", PERM_SEAL_SUSPEND},
    {"auto_suspend", "active", "suspended", PERM_NONE},
    {"org_disabled", "active", "suspended", PERM_ORG_WRITE},
    {"resume", "suspended", "active", PERM_SEAL_SUSPEND},
    {"report_loss", "active", "lost", PERM_SEAL_REPORT},
    {"report_loss", "suspended", "lost", PERM_SEAL_REPORT},
    {"reinstate", "lost", "", PERM_APPLICATION_REVIEW},
    {"revoke", "made", "revoked", PERM_APPLICATION_REVIEW},
    {"revoke", "active", "revoked", PERM_APPLICATION_REVIEW},
    {"revoke", "suspended", "revoked", PERM_APPLICATION_REVIEW},
    {"revoke", "lost", "revoked", PERM_APPLICATION_REVIEW},
    {"expire", "active", "expired", PERM_NONE},
};
#define SEAL_NALLOWED (sizeof(seal_allowed) / sizeof(seal_allowed[0]))

static int
seal_expected(const char *event, const char *from)
{
    size_t i;

    for (i = 0; i < SEAL_NALLOWED; i++)
        if (!strcmp(seal_allowed[i].event, event) &&
            !strcmp(seal_allowed[i].from, from))
            return (int)i;
    return -1;
}

static void
test_seal_every_event_in_every_state(void **state)
{
    const char *const *s, *const *ev, *event, *from, *to;
    size_t i, row = 0;
    int want, found, checked = 0;

    (void)state;
    for (s = seal_states; *s != NULL; s++)
        for (ev = seal_events; *ev != NULL; ev++) {
            want = seal_expected(*ev, *s);
            found = 0;
            for (i = 0; seal_move_row(i, &event, &from, &to); i++)
                if (!strcmp(event, *ev) && !strcmp(from, *s)) {
                    found++;
                    row = i;
                }
            if (want >= 0) {
                assert_int_equal(found, 1);
                assert_true(seal_move_row(row, &event, &from, &to));
                assert_string_equal(to, seal_allowed[want].to);
                assert_int_equal(seal_move_perm(row),
                                 seal_allowed[want].perm);
            } else {
                assert_int_equal(found, 0);
            }
            checked++;
        }
    assert_int_equal(checked, 7 * 10);
}

static void
test_seal_rows_are_the_table(void **state)
{
    const char *event, *from, *to, *ev0, *from0, *to0;
    size_t i, j;

    (void)state;
    for (i = 0; seal_move_row(i, &event, &from, &to); i++) {
        assert_true(seal_expected(event, from) >= 0);
        assert_string_equal(to, seal_allowed[seal_expected(event, from)].to);
        /* every name is a state; only reinstate has none to go to */
        assert_int_not_equal(seal_state_parse(from), SEAL_NONE);
        assert_int_equal(seal_state_parse(to) == SEAL_NONE,
                         !strcmp(event, "reinstate"));
        /* the domain checks an event's permission before it looks at the
         * seal's state: every row of one event gives the same */
        for (j = 0; j < i; j++) {
            assert_true(seal_move_row(j, &ev0, &from0, &to0));
            if (!strcmp(ev0, event))
                assert_int_equal(seal_move_perm(j), seal_move_perm(i));
        }
    }
    assert_int_equal(i, SEAL_NALLOWED);
    assert_int_equal(seal_move_perm(i), PERM_NONE);
}

/* The permission of every event, and the reason it needs, whatever the
 * state; an event no row has needs neither. */
static void
test_application_event_perm_and_reason(void **state)
{
    const char *const *ev;
    size_t i;

    (void)state;
    for (ev = app_events; *ev != NULL; ev++) {
        enum rbac_perm want = PERM_NONE;
        int reason = 0;
        for (i = 0; i < APP_NALLOWED; i++)
            if (!strcmp(app_allowed[i].event, *ev)) {
                want = app_allowed[i].perm;
                reason = app_allowed[i].reason;
            }
        assert_int_equal(application_event_perm(*ev), want);
        assert_int_equal(application_event_needs_reason(*ev), reason);
    }
    assert_int_equal(application_event_perm("approve"),
                     PERM_APPLICATION_REVIEW);
    assert_int_equal(application_event_perm("make"), PERM_SEAL_MAKE);
    assert_int_equal(application_event_perm("bogus"), PERM_NONE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_every_event_in_every_state),
        cmocka_unit_test(test_seal_rows_are_the_table),
        cmocka_unit_test(test_every_event_in_every_state),
        cmocka_unit_test(test_rows_are_the_table),
        cmocka_unit_test(test_application_every_event_in_every_state),
        cmocka_unit_test(test_application_rows_are_the_table),
        cmocka_unit_test(test_application_event_perm_and_reason),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
