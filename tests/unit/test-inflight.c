/* Inflight: extension deadlines (half a timeout ahead, redone after a failure before the
 * lapse), the 12-hour ceiling (never asked past, warned ahead), retry delays. All times are
 * made up: the table is pure arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/inflight.h"

#define S USEC_PER_SEC
#define T0 (1000 * S)

static PollerMessage *msg(uint64_t received, unsigned receive_count) {
        PollerMessage *m = calloc(1, sizeof(*m));

        assert_non_null(m);
        m->sqs = calloc(1, sizeof(*m->sqs));
        assert_non_null(m->sqs);
        m->sqs->message_id = strdup("id");
        m->sqs->receipt_handle = strdup("rh");
        m->sqs->body = strdup("{}");
        m->body_len = 2;
        m->sqs->receive_count = receive_count;
        m->received_usec = received;
        return m;
}

static Inflight *table(unsigned vis, uint64_t ceiling_s) {
        Inflight *t = NULL;

        assert_int_equal(inflight_new(&(InflightOptions) { .visibility_timeout = vis, .retry_delay_min = 30,
                                                           .retry_delay_max = 900,
                                                           .ceiling_usec = ceiling_s * S }, &t), 0);
        return t;
}

static void test_add_find_remove(void **state) {
        _cleanup_(inflight_freep) Inflight *t = table(60, 0);
        InflightMsg *a = inflight_add(t, msg(T0, 1)), *b = inflight_add(t, msg(T0, 1));

        assert_non_null(a);
        assert_non_null(b);
        assert_int_not_equal(a->id, b->id);
        assert_int_equal(inflight_count(t), 2);
        assert_ptr_equal(inflight_find(t, a->id), a);
        assert_int_equal(a->visible_at_usec, T0 + 60 * S);
        /* the default ceiling is SQS's 12 hours */
        assert_int_equal(inflight_ceiling_at(t, a), T0 + (uint64_t) SQS_VISIBILITY_CEILING_S * S);
        uint64_t gone = a->id;

        inflight_remove(t, a);
        assert_null(inflight_find(t, gone));
        assert_int_equal(inflight_count(t), 1);
        assert_ptr_equal(inflight_first(t), b);
}

static void test_extension_due_at_half(void **state) {
        _cleanup_(inflight_freep) Inflight *t = table(60, 0);
        InflightMsg *m = inflight_add(t, msg(T0, 1));
        uint64_t call;
        unsigned timeout;

        assert_int_equal(inflight_extend_due(t, m), T0 + 30 * S);
        assert_int_equal(inflight_next_due(t), T0 + 30 * S);
        assert_true(inflight_plan_extend(t, m, T0 + 30 * S, &timeout, &call));
        assert_int_equal(timeout, 60);
        /* ends before the lapse at +60 s, and never longer than the cap */
        assert_int_equal(call, INFLIGHT_CALL_TIMEOUT_MAX_USEC);
        assert_true(m->extending);
        /* one out at a time */
        assert_int_equal(inflight_extend_due(t, m), UINT64_MAX);
        assert_false(inflight_plan_extend(t, m, T0 + 31 * S, &timeout, &call));
        inflight_extended(t, m, T0 + 30 * S, 60, true, T0 + 31 * S);
        /* counted from when the call was sent, not when it came back */
        assert_int_equal(m->visible_at_usec, T0 + 90 * S);
        assert_int_equal(inflight_extend_due(t, m), T0 + 60 * S);
        /* a released message is not extended any more */
        m->settle = INFLIGHT_RELEASING;
        assert_int_equal(inflight_next_due(t), UINT64_MAX);
}

static void test_failed_extension_is_redone_before_lapse(void **state) {
        _cleanup_(inflight_freep) Inflight *t = table(6, 0);
        InflightMsg *m = inflight_add(t, msg(T0, 1));
        uint64_t call;
        unsigned timeout;

        /* due at +3 s; the call may only take until just before +6 s */
        assert_true(inflight_plan_extend(t, m, T0 + 3 * S, &timeout, &call));
        assert_true(call <= 3 * S);
        assert_true(call >= INFLIGHT_CALL_TIMEOUT_MIN_USEC);
        inflight_extended(t, m, T0 + 3 * S, 6, false, T0 + 4 * S);
        assert_int_equal(m->extend_failures, 1);
        assert_int_equal(m->visible_at_usec, T0 + 6 * S);
        /* redone one second later, still before the lapse */
        assert_int_equal(inflight_extend_due(t, m), T0 + 5 * S);
        assert_true(inflight_plan_extend(t, m, T0 + 5 * S, &timeout, &call));
        assert_true(T0 + 5 * S + call <= T0 + 6 * S);
        /* failing again close to the lapse: the retry lands before it */
        inflight_extended(t, m, T0 + 5 * S, 6, false, T0 + 5 * S + 200000);
        assert_true(inflight_extend_due(t, m) < T0 + 6 * S);
        /* a success clears the failure state */
        assert_true(inflight_plan_extend(t, m, inflight_extend_due(t, m), &timeout, &call));
        inflight_extended(t, m, T0 + 5 * S + 500000, 6, true, T0 + 5 * S + 600000);
        assert_int_equal(m->extend_failures, 0);
        assert_int_equal(m->retry_at_usec, 0);
        assert_int_equal(m->visible_at_usec, T0 + 11 * S + 500000);
}

static void test_lapsed_retries_calm_down(void **state) {
        _cleanup_(inflight_freep) Inflight *t = table(6, 0);
        InflightMsg *m = inflight_add(t, msg(T0, 1));

        m->extending = true;
        inflight_extended(t, m, T0 + 10 * S, 6, false, T0 + 10 * S);
        assert_int_equal(inflight_extend_due(t, m), T0 + 11 * S);
        for (int i = 0; i < 8; i++) {
                m->extending = true;
                inflight_extended(t, m, T0 + 20 * S, 6, false, T0 + 20 * S);
        }
        /* at most 5 s apart after a lapse: an outage costs no busy loop */
        assert_int_equal(inflight_extend_due(t, m), T0 + 25 * S);
}

static void test_ceiling_is_never_asked_past(void **state) {
        /* a short ceiling as in the test build: 20 s, visibility 6 s */
        _cleanup_(inflight_freep) Inflight *t = table(6, 20);
        InflightMsg *m = inflight_add(t, msg(T0, 1));
        uint64_t now = T0, ceiling = inflight_ceiling_at(t, m), call;
        unsigned timeout, n = 0;
        bool warned = false;

        assert_int_equal(ceiling, T0 + 20 * S);
        for (;;) {
                now = inflight_extend_due(t, m);
                if (now == UINT64_MAX)
                        break;
                warned |= inflight_ceiling_warning(t, m, now);
                if (!inflight_plan_extend(t, m, now, &timeout, &call))
                        break;
                /* the request, even if SQS handles it at the end of its time limit, stays
                 * within the ceiling */
                assert_true(now + call + (uint64_t) timeout * S <= ceiling);
                inflight_extended(t, m, now, timeout, true, now + 100000);
                n++;
                assert_true(n < 20);
        }
        assert_true(n >= 2);
        assert_true(m->ceiling_reached);
        assert_true(m->visible_at_usec <= ceiling);
        assert_int_equal(inflight_extend_due(t, m), UINT64_MAX);
        assert_true(warned);
        /* once */
        assert_false(inflight_ceiling_warning(t, m, now + S));
}

static void test_ceiling_warning_ahead(void **state) {
        /* 12 h, visibility 300 s: warned 15 minutes ahead, not before */
        _cleanup_(inflight_freep) Inflight *t = table(300, 0);
        InflightMsg *m = inflight_add(t, msg(T0, 1));
        uint64_t ceiling = inflight_ceiling_at(t, m);

        assert_false(inflight_ceiling_warning(t, m, ceiling - 16 * 60 * S));
        assert_true(inflight_ceiling_warning(t, m, ceiling - 15 * 60 * S));
        assert_false(inflight_ceiling_warning(t, m, ceiling - 14 * 60 * S));
}

static void test_retry_delay_grows(void **state) {
        _cleanup_(inflight_freep) Inflight *t = table(60, 0);
        static const unsigned want[] = { 30, 30, 60, 120, 240, 480, 900, 900 };

        for (unsigned rc = 0; rc < ELEMENTSOF(want); rc++) {
                InflightMsg *m = inflight_add(t, msg(T0, rc));

                assert_int_equal(inflight_retry_delay(t, m, T0 + S), want[rc]);
                inflight_remove(t, m);
        }
        /* a huge receive count does not overflow */
        InflightMsg *m = inflight_add(t, msg(T0, 1000000));
        assert_int_equal(inflight_retry_delay(t, m, T0 + S), 900);
}

static void test_retry_delay_bounded_by_ceiling(void **state) {
        _cleanup_(inflight_freep) Inflight *t = table(6, 100);
        InflightMsg *m = inflight_add(t, msg(T0, 5));        /* would be 480 s */
        unsigned d = inflight_retry_delay(t, m, T0 + 50 * S);

        assert_true(T0 + 50 * S + (uint64_t) d * S + INFLIGHT_CALL_TIMEOUT_MAX_USEC <= inflight_ceiling_at(t, m));
        assert_true(d > 0);
        assert_int_equal(inflight_retry_delay(t, m, T0 + 99 * S), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_add_find_remove),
                cmocka_unit_test(test_extension_due_at_half),
                cmocka_unit_test(test_failed_extension_is_redone_before_lapse),
                cmocka_unit_test(test_lapsed_retries_calm_down),
                cmocka_unit_test(test_ceiling_is_never_asked_past),
                cmocka_unit_test(test_ceiling_warning_ahead),
                cmocka_unit_test(test_retry_delay_grows),
                cmocka_unit_test(test_retry_delay_bounded_by_ceiling),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
