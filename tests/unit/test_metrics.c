/*
 * test_metrics.c - the metrics registry (metrics.h): what is recorded is
 * what the exposition says, under the right labels and buckets; labels
 * are the route templates given, never more series than routes; counts
 * from many threads at once are exact (the adds are atomic, no lock);
 * the address lists of metrics.allow match as CIDRs.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "util.h"

static const char *const methods[] = {"GET", "POST"};
static const char *const patterns[] = {"/api/v1/seals/{esid}",
                                       "/api/v1/sign-requests/{id}/sign"};

static char *
render(void)
{
    char *out = NULL;
    size_t len = 0;
    struct err e;

    assert_int_equal(metrics_render(NULL, &out, &len, &e), ERR_OK);
    assert_int_equal(strlen(out), len);
    return out;
}

/* The value of the sample line starting with prefix (the name and its
 * labels exactly), or -1 if there is none. */
static double
sample(const char *text, const char *prefix)
{
    const char *p = text;
    size_t n = strlen(prefix);

    while ((p = strstr(p, prefix)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p += n;
    }
    return -1;
}

static void test_requests_by_route_and_status(void **state)
{
    char *t;

    (void)state;
    metrics_reset();
    assert_int_equal(metrics_routes_set(methods, patterns, 2), 2);
    metrics_http(0, 200, 300);          /* 0.3 ms */
    metrics_http(0, 200, 3000);         /* 3 ms */
    metrics_http(1, 409, 70000);
    metrics_http(7, 404, 10);           /* no such route: unmatched */
    metrics_http((size_t)-1, 999, 10);  /* and an odd status: other */
    t = render();
    assert_true(sample(t, "seald_http_requests_total{method=\"GET\","
                       "route=\"/api/v1/seals/{esid}\",status=\"200\"}")
                == 2);
    assert_true(sample(t, "seald_http_requests_total{method=\"POST\","
                       "route=\"/api/v1/sign-requests/{id}/sign\","
                       "status=\"409\"}") == 1);
    assert_true(sample(t, "seald_http_requests_total{method=\"other\","
                       "route=\"unmatched\",status=\"404\"}") == 1);
    assert_true(sample(t, "seald_http_requests_total{method=\"other\","
                       "route=\"unmatched\",status=\"other\"}") == 1);
    /* cumulative buckets in seconds, +Inf, sum and count */
    assert_true(sample(t, "seald_http_request_duration_seconds_bucket{"
                       "method=\"GET\",route=\"/api/v1/seals/{esid}\","
                       "le=\"0.0005\"}") == 1);
    assert_true(sample(t, "seald_http_request_duration_seconds_bucket{"
                       "method=\"GET\",route=\"/api/v1/seals/{esid}\","
                       "le=\"0.0025\"}") == 1);
    assert_true(sample(t, "seald_http_request_duration_seconds_bucket{"
                       "method=\"GET\",route=\"/api/v1/seals/{esid}\","
                       "le=\"0.005\"}") == 2);
    assert_true(sample(t, "seald_http_request_duration_seconds_bucket{"
                       "method=\"GET\",route=\"/api/v1/seals/{esid}\","
                       "le=\"+Inf\"}") == 2);
    assert_true(sample(t, "seald_http_request_duration_seconds_count{"
                       "method=\"GET\",route=\"/api/v1/seals/{esid}\"}")
                == 2);
    assert_true(sample(t, "seald_http_request_duration_seconds_sum{"
                       "method=\"GET\",route=\"/api/v1/seals/{esid}\"}")
                > 0.00329);
    /* a route with no request has no series */
    assert_null(strstr(t, "status=\"201\""));
    free(t);
}

static void test_outcomes_tokens_store(void **state)
{
    char *t;

    (void)state;
    metrics_reset();
    metrics_sign(METRICS_OK);
    metrics_sign(METRICS_FAILED);
    metrics_verify(METRICS_INVALID);
    metrics_token(METRICS_TOKEN_SIGN, 0, 4000);
    metrics_token(METRICS_TOKEN_SIGN, 1, 4000);
    metrics_group_commit(1);
    metrics_group_commit(5);
    metrics_db(METRICS_POSTGRESQL, 1, 100);
    metrics_db_trips(METRICS_POSTGRESQL, 3);
    t = render();
    assert_true(sample(t, "seald_signatures_total{outcome=\"ok\"}") == 1);
    assert_true(sample(t, "seald_signatures_total{outcome=\"failed\"}") == 1);
    assert_true(sample(t, "seald_verifications_total{outcome=\"invalid\"}")
                == 1);
    assert_true(sample(t, "seald_token_operations_total{op=\"sign\"}") == 2);
    assert_true(sample(t, "seald_token_errors_total{op=\"sign\"}") == 1);
    assert_true(sample(t, "seald_group_commit_size_bucket{le=\"1\"}") == 1);
    assert_true(sample(t, "seald_group_commit_size_bucket{le=\"4\"}") == 1);
    assert_true(sample(t, "seald_group_commit_size_bucket{le=\"8\"}") == 2);
    assert_true(sample(t, "seald_group_commit_size_sum") == 6);
    assert_true(sample(t, "seald_db_errors_total{dialect=\"postgresql\"}")
                == 1);
    assert_true(sample(t, "seald_db_errors_total{dialect=\"sqlite\"}") == 0);
    assert_true(sample(t, "seald_db_round_trips_total{dialect="
                       "\"postgresql\"}") == 3);
    /* no gauges without values, and never an invented outbox */
    assert_null(strstr(t, "seald_audit_entries"));
    assert_null(strstr(t, "seald_outbox_backlog"));
    free(t);
}

static void test_gauges(void **state)
{
    struct metrics_gauges g;
    char *out;
    size_t len;
    struct err e;

    (void)state;
    memset(&g, 0, sizeof(g));
    g.have_db = 1;
    g.audit_entries = 42;
    g.checkpoint_age_s = -1;
    g.nstates = 2;
    g.state[0] = "active";
    g.seals[0] = 3;
    g.state[1] = "revoked";
    g.seals[1] = 1;
    assert_int_equal(metrics_render(&g, &out, &len, &e), ERR_OK);
    assert_true(sample(out, "seald_audit_entries") == 42);
    assert_true(sample(out, "seald_seals{state=\"active\"}") == 3);
    assert_null(strstr(out, "seald_audit_checkpoint_age_seconds"));
    assert_null(strstr(out, "seald_outbox_backlog"));
    free(out);
    g.have_outbox = 1;
    g.outbox_backlog = 7;
    assert_int_equal(metrics_render(&g, &out, &len, &e), ERR_OK);
    assert_true(sample(out, "seald_outbox_backlog") == 7);
    free(out);
}

#define THREADS 4
#define PER_THREAD 100000

static void *
hammer(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < PER_THREAD; i++) {
        metrics_http(1, 200, 100);
        metrics_sign(METRICS_OK);
    }
    return NULL;
}

static void test_concurrent_counts_are_exact(void **state)
{
    pthread_t th[THREADS];
    char *t;
    int i;

    (void)state;
    metrics_reset();
    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, NULL), 0);
    for (i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    t = render();
    assert_true(sample(t, "seald_http_requests_total{method=\"POST\","
                       "route=\"/api/v1/sign-requests/{id}/sign\","
                       "status=\"200\"}") == THREADS * PER_THREAD);
    assert_true(sample(t, "seald_signatures_total{outcome=\"ok\"}")
                == THREADS * PER_THREAD);
    free(t);
}

static void test_cidr_lists(void **state)
{
    struct err e;

    (void)state;
    assert_int_equal(util_cidr_list_check("127.0.0.0/8, ::1/128", &e),
                     ERR_OK);
    assert_int_equal(util_cidr_list_check("", &e), ERR_OK);
    assert_int_equal(util_cidr_list_check("10.0.0.0/33", &e), ERR_CONFIG);
    assert_int_equal(util_cidr_list_check("10.0.0.0/8,host", &e),
                     ERR_CONFIG);
    assert_non_null(strstr(e.msg, "'host'"));
    assert_true(util_cidr_match("127.0.0.0/8", "127.1.2.3"));
    assert_false(util_cidr_match("127.0.0.0/8", "128.0.0.1"));
    assert_true(util_cidr_match("10.1.2.0/23", "10.1.3.255"));
    assert_false(util_cidr_match("10.1.2.0/23", "10.1.4.0"));
    assert_true(util_cidr_match("192.0.2.7", "192.0.2.7"));
    assert_false(util_cidr_match("192.0.2.7", "192.0.2.8"));
    assert_true(util_cidr_match("::1/128", "::1"));
    assert_true(util_cidr_match("2001:db8::/32", "2001:db8:1::5"));
    assert_false(util_cidr_match("2001:db8::/32", "2001:db9::5"));
    assert_true(util_cidr_match("127.0.0.0/8", "::ffff:127.0.0.1"));
    assert_true(util_cidr_match("0.0.0.0/0", "203.0.113.9"));
    assert_false(util_cidr_match("", "127.0.0.1"));
    assert_false(util_cidr_match("127.0.0.0/8", "unknown"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_by_route_and_status),
        cmocka_unit_test(test_outcomes_tokens_store),
        cmocka_unit_test(test_gauges),
        cmocka_unit_test(test_concurrent_counts_are_exact),
        cmocka_unit_test(test_cidr_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
