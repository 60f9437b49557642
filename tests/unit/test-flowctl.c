/* Flow control with a fake clock: the budget's bucket, refunds, the adaptive cut and CUBIC
 * growth, one cut per round, and a closed loop against a table that throttles above a rate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <stdbool.h>
#include <cmocka.h>

#include "daemon/flowctl.h"

typedef struct Clock {
        double t;
} Clock;

static double fake_clock(void *ud) {
        return ((Clock *) ud)->t;
}

static void test_no_budget_no_wait(void **state) {
        Clock c = { 100 };
        _cleanup_(flowctl_freep) FlowCtl *fc = flowctl_new(fake_clock, &c);
        FlowLimiter *l = flowctl_table(fc, "grades", 0);
        double sent;

        assert_non_null(l);
        for (int i = 0; i < 1000; i++) {
                assert_true(flow_reserve(l, 25, &sent) == 0);
                flow_done(l, 25, 25, false, sent);
        }
        assert_true(flow_stats(l).rate == 0);
        assert_true(flow_stats(l).consumed == 25000);
        /* the same table is the same limiter */
        assert_ptr_equal(flowctl_table(fc, "grades", 0), l);
        assert_ptr_not_equal(flowctl_table(fc, "other", 0), l);
}

/* A greedy sender: over T seconds a budget B lets through at most B·(T + depth). */
static void test_budget_bounds_average(void **state) {
        Clock c = { 50 };
        _cleanup_(flowctl_freep) FlowCtl *fc = flowctl_new(fake_clock, &c);
        FlowLimiter *l = flowctl_table(fc, "t1", 100);
        double sent_total = 0, start = c.t, sent;

        while (c.t < start + 30) {
                double w = flow_reserve(l, 25, &sent);

                c.t += w;
                if (c.t > start + 30)
                        break;
                flow_done(l, 25, 25, false, sent);
                sent_total += 25;
        }
        /* 30 s at 100 WCU/s plus the one-second bucket, minus at most one batch */
        assert_true(sent_total <= 100 * 31);
        assert_true(sent_total >= 100 * 31 - 25);
        assert_true(flow_stats(l).budget == 100);
}

/* Reservations of several lanes at once queue: the n-th waits for n batches past the bucket. */
static void test_reservations_queue(void **state) {
        Clock c = { 10 };
        _cleanup_(flowctl_freep) FlowCtl *fc = flowctl_new(fake_clock, &c);
        FlowLimiter *l = flowctl_table(fc, "t", 100);
        double sent;

        /* the full bucket (100) covers 4 batches of 25 */
        for (int i = 0; i < 4; i++)
                assert_true(flow_reserve(l, 25, &sent) == 0);
        assert_true(fabs(flow_reserve(l, 25, &sent) - 0.25) < 1e-9);
        assert_true(fabs(flow_reserve(l, 25, &sent) - 0.50) < 1e-9);
        assert_true(fabs(sent - 10.5) < 1e-9);
}

/* What did not get consumed (unprocessed items, a throttled call) comes back. */
static void test_refund(void **state) {
        Clock c = { 10 };
        _cleanup_(flowctl_freep) FlowCtl *fc = flowctl_new(fake_clock, &c);
        FlowLimiter *l = flowctl_table(fc, "t", 100);
        double sent;

        assert_true(flow_reserve(l, 100, &sent) == 0);
        assert_true(fabs(flow_reserve(l, 50, &sent) - 0.5) < 1e-9);
        /* the first call consumed only 50 of its 100: the debt of the second is repaid, so
         * the next waits for its own 50 only (1.0 s without the refund) */
        flow_done(l, 100, 50, false, 10);
        assert_true(fabs(flow_reserve(l, 50, &sent) - 0.5) < 1e-9);
}

static void test_budget_change(void **state) {
        Clock c = { 10 };
        _cleanup_(flowctl_freep) FlowCtl *fc = flowctl_new(fake_clock, &c);
        FlowLimiter *l = flowctl_table(fc, "t", 100);
        double sent;

        assert_true(flow_reserve(l, 100, &sent) == 0);
        assert_true(fabs(flow_reserve(l, 100, &sent) - 1.0) < 1e-9);
        /* a reload doubles the budget: the debt is repaid twice as fast */
        l = flowctl_table(fc, "t", 200);
        assert_true(flow_stats(l).budget == 200);
        assert_true(fabs(flow_reserve(l, 100, &sent) - 1.0) < 1e-9);
        /* a lookup with -1 leaves the budget alone (a job of an older configuration) */
        assert_true(flow_stats(flowctl_table(fc, "t", -1)).budget == 200);
        /* and removing it lifts the limit */
        l = flowctl_table(fc, "t", 0);
        assert_true(flow_reserve(l, 1000, &sent) == 0);
}

/* Sends 25-WCU batches at `rate` for `seconds`, each one a success. */
static void run_at(FlowLimiter *l, Clock *c, double rate, double seconds) {
        for (double end = c->t + seconds; c->t < end; c->t += 25 / rate) {
                double sent;

                flow_reserve(l, 25, &sent);
                flow_done(l, 25, 25, false, sent);
        }
}

static void test_cut_once_per_round_then_cubic(void **state) {
        Clock c = { 10 };
        _cleanup_(flowctl_freep) FlowCtl *fc = flowctl_new(fake_clock, &c);
        FlowLimiter *l = flowctl_table(fc, "t", 0);
        double early, k, rate;

        run_at(l, &c, 1000, 3);
        assert_true(fabs(flow_stats(l).measured - 1000) < 50);
        early = c.t - 0.01;     /* a call that left before the news */
        flow_done(l, 25, 0, true, c.t);
        rate = flow_stats(l).rate;
        assert_true(flow_stats(l).adaptive);
        assert_true(rate > 0.7 * 950 && rate < 0.7 * 1050);
        /* the other lanes' answers to calls sent before the cut do not cut again */
        flow_done(l, 25, 0, true, early);
        flow_done(l, 25, 0, true, early);
        assert_true(flow_stats(l).rate == rate);
        assert_int_equal(flow_stats(l).throttles, 3);

        /* back at the old rate after K = ∛(W·0.3/0.4) seconds, then probing above it */
        k = cbrt(flow_stats(l).rate / 0.7 * 0.3 / 0.4);
        assert_true(fabs(flow_cubic_rate(1000, cbrt(1000 * 0.3 / 0.4)) - 1000) < 1e-6);
        assert_true(fabs(flow_cubic_rate(1000, 0) - 700) < 1e-6);
        run_at(l, &c, rate, k / 2);
        assert_true(flow_stats(l).rate > rate);
        assert_true(flow_stats(l).rate < rate / 0.7);
        /* a call sent after the cut does cut */
        rate = flow_stats(l).rate;
        flow_done(l, 25, 0, true, c.t);
        assert_true(flow_stats(l).rate < rate);
}

/* A table that accepts nothing for a while: the rate floors (10 WCU/s), not zero, and once
 * the table takes writes again it climbs back. A throttle after a quiet spell reads the rate
 * of the time the table was written, not the average over the quiet. */
static void test_floor_and_recovery(void **state) {
        Clock c = { 10 };
        _cleanup_(flowctl_freep) FlowCtl *fc = flowctl_new(fake_clock, &c);
        FlowLimiter *l = flowctl_table(fc, "t", 0);
        double sent, w;

        run_at(l, &c, 500, 2);
        c.t += 60;      /* quiet */
        assert_true(flow_reserve(l, 25, &sent) == 0);
        flow_done(l, 25, 0, true, sent);
        assert_true(flow_stats(l).rate > 0.7 * 400);
        /* then nothing accepted for 20 s: every answer throttled */
        for (double end = c.t + 20; c.t < end;) {
                w = flow_reserve(l, 25, &sent);
                c.t += w + 0.01;
                flow_done(l, 25, 0, true, sent);
        }
        assert_true(flow_stats(l).rate >= 10);
        assert_true(flow_stats(l).rate < 20);
        /* the table recovers: all accepted; within 30 s the rate is in the hundreds again */
        for (double end = c.t + 30; c.t < end;) {
                w = flow_reserve(l, 25, &sent);
                c.t += w + 0.01;
                flow_done(l, 25, 25, false, sent);
        }
        assert_true(flow_stats(l).rate > 200);
}

/* Closed loop: a table that throttles any call that would take the last second's writes over
 * R. Many lanes send 25-WCU batches as fast as the limiter lets them, each call taking 10 ms.
 * The rate must settle near R (not collapse, not swing): in the last 60 s every second stays
 * within [0.35R, 1.05R] (CUBIC's sawtooth: 0.7 of what was accepted, back up in K seconds)
 * and the mean within [0.7R, R]. FLOWCTL_SERIES=1 prints the per-second series. */
#define LOOP_R 400.0
#define LOOP_SECONDS 120
#define LOOP_LANES 16

static void test_closed_loop_converges(void **state) {
        Clock c = { 1000 };
        _cleanup_(flowctl_freep) FlowCtl *fc = flowctl_new(fake_clock, &c);
        FlowLimiter *l = flowctl_table(fc, "t", 0);
        double lane_free[LOOP_LANES], lane_sent[LOOP_LANES], start = c.t;
        bool waiting[LOOP_LANES] = {};
        double accepted[LOOP_SECONDS] = {}, window[100] = {};   /* 10 ms slots of the last second */
        unsigned slot_of_window = 0;
        double mean = 0;

        for (int i = 0; i < LOOP_LANES; i++)
                lane_free[i] = start;
        for (double t = start; t < start + LOOP_SECONDS; t += 0.01) {
                double in_window = 0;

                /* slide the one-second window of accepted WCU */
                slot_of_window = (slot_of_window + 1) % 100;
                window[slot_of_window] = 0;
                for (int i = 0; i < 100; i++)
                        in_window += window[i];
                for (int i = 0; i < LOOP_LANES; i++) {
                        bool throttle;

                        if (lane_free[i] > t)
                                continue;
                        c.t = t;
                        if (!waiting[i]) {
                                double w = flow_reserve(l, 25, &lane_sent[i]);

                                if (w > 0) {    /* the lane sleeps, then sends */
                                        waiting[i] = true;
                                        lane_free[i] = t + w;
                                        continue;
                                }
                        }
                        waiting[i] = false;
                        throttle = in_window + 25 > LOOP_R;
                        if (!throttle) {
                                in_window += 25;
                                window[slot_of_window] += 25;
                                accepted[(int) (t - start)] += 25;
                        }
                        c.t = t + 0.01;
                        flow_done(l, 25, throttle ? 0 : 25, throttle, lane_sent[i]);
                        lane_free[i] = t + 0.01;
                }
        }
        if (getenv("FLOWCTL_SERIES"))
                for (int s = 0; s < LOOP_SECONDS; s++)
                        printf("%d,%.0f\n", s, accepted[s]);
        for (int s = LOOP_SECONDS / 2; s < LOOP_SECONDS; s++) {
                assert_true(accepted[s] >= 0.35 * LOOP_R);
                assert_true(accepted[s] <= 1.05 * LOOP_R);
                mean += accepted[s];
        }
        mean /= LOOP_SECONDS / 2;
        assert_true(mean >= 0.7 * LOOP_R && mean <= LOOP_R);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_budget_no_wait),
                cmocka_unit_test(test_budget_bounds_average),
                cmocka_unit_test(test_reservations_queue),
                cmocka_unit_test(test_refund),
                cmocka_unit_test(test_budget_change),
                cmocka_unit_test(test_cut_once_per_round_then_cubic),
                cmocka_unit_test(test_floor_and_recovery),
                cmocka_unit_test(test_closed_loop_converges),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
