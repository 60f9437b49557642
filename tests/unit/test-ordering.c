/* daemon/ordering: keys order by FIFO sequence, eventTime, sequencer, arrival; one unit per
 * group at a time, groups in parallel; the window holds an idle group's head; handing back
 * what waits behind a failed unit; group names per mode. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/ordering.h"

#define S 1000000LL

static void test_parse_time(void **state) {
        int64_t t, u;

        assert_int_equal(ordering_parse_time("1970-01-01T00:00:00Z", &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(ordering_parse_time("2026-11-29T06:33:56.737Z", &t), 0);
        /* date -u -d 2026-11-29T06:33:56Z +%s */
        assert_int_equal(t, 1795934036LL * S + 737000);
        /* EventBridge writes whole seconds: a later millisecond must still compare later */
        assert_int_equal(ordering_parse_time("2026-11-29T06:33:56Z", &u), 0);
        assert_true(u < t);
        assert_int_equal(ordering_parse_time("2026-11-29T07:33:56.737+01:00", &u), 0);
        assert_int_equal(u, t);
        assert_int_equal(ordering_parse_time("2024-02-29T23:59:59.9999999Z", &u), 0);
        assert_int_equal(u % S, 999999);
        assert_int_equal(ordering_parse_time("2026-11-29 06:33:56Z", &t), -EINVAL);
        assert_int_equal(ordering_parse_time("2026-11-29T06:33:56", &t), -EINVAL);
        assert_int_equal(ordering_parse_time("2026-13-29T06:33:56Z", &t), -EINVAL);
        assert_int_equal(ordering_parse_time("2026-11-29T06:33:56.Z", &t), -EINVAL);
        assert_int_equal(ordering_parse_time("2026-11-29T06:33:56Zjunk", &t), -EINVAL);
        assert_int_equal(ordering_parse_time("", &t), -EINVAL);
}

static void test_key_cmp(void **state) {
        OrderKey a = { .time_usec = 10, .has_time = true, .sequencer = "00A" },
                 b = { .time_usec = 11, .has_time = true, .sequencer = "009" };

        assert_true(ordering_key_cmp(&a, &b) < 0);      /* time first */
        b.time_usec = 10;
        assert_true(ordering_key_cmp(&a, &b) > 0);      /* then the sequencer */
        b.sequencer = "00A0";                           /* right-padded: equal */
        assert_int_equal(ordering_key_cmp(&a, &b), 0);
        b.has_time = false;
        b.time_usec = 0;
        b.sequencer = "00B";
        assert_true(ordering_key_cmp(&a, &b) < 0);      /* no time: the sequencer alone */
        /* FIFO sequence numbers: numeric, before anything else */
        a.fifo_sequence = "18851234567890123456789";
        b.fifo_sequence = "9851234567890123456789";
        assert_true(ordering_key_cmp(&a, &b) > 0);
        b.fifo_sequence = "18851234567890123456790";
        assert_true(ordering_key_cmp(&a, &b) < 0);
}

static PipelineSpec spec(OrderingMode mode, const char *regex) {
        return (PipelineSpec) { .name = (char *) "p", .ordering = { mode, (char *) regex, 0 } };
}

static void expect_group(const PipelineSpec *p, const char *key, const char *want) {
        _cleanup_free_ char *g = NULL;

        assert_int_equal(ordering_group_for(p, key, &g), 0);
        if (!want) {
                assert_null(g);
                return;
        }
        assert_non_null(g);
        assert_string_equal(g, want);
}

static void test_groups(void **state) {
        PipelineSpec none = spec(ORDERING_NONE, NULL), global = spec(ORDERING_GLOBAL, NULL),
                     prefix = spec(ORDERING_PER_PREFIX, NULL),
                     re = spec(ORDERING_PER_PREFIX, "^in/([^/]+)/"),
                     whole = spec(ORDERING_PER_PREFIX, "^[a-z]+-[0-9]+");
        _cleanup_free_ char *f = NULL;

        expect_group(&none, "a/b.csv", NULL);
        expect_group(&global, "a/b.csv", "p\x1f");
        expect_group(&global, "z.csv", "p\x1f");
        expect_group(&prefix, "in/2024/a.csv", "p\x1fin/2024");
        expect_group(&prefix, "in/2024/b.csv", "p\x1fin/2024");
        expect_group(&prefix, "top.csv", "p\x1f");
        expect_group(&re, "in/school-1/2024/a.csv", "p\x1fschool-1");
        expect_group(&re, "in/school-2/b.csv", "p\x1fschool-2");
        expect_group(&re, "other/x.csv", "p\x1f");               /* no match: the shared group */
        expect_group(&whole, "class-12-a.csv", "p\x1f" "class-12");
        assert_int_equal(ordering_fifo_group("p\x1f", &f), 0);
        assert_string_not_equal(f, "p\x1f");
}

/* items are small integers cast to pointers; each is its own unit unless said otherwise */
#define I(n) ((void *) (uintptr_t) (n))

static void test_one_at_a_time_in_key_order(void **state) {
        _cleanup_(ordering_freep) Ordering *o = NULL;

        assert_int_equal(ordering_new(&o), 0);
        /* group A received out of order: 3, 1, 2; group B: 2, 1 */
        assert_int_equal(ordering_add(o, "A", &(OrderKey) { .time_usec = 3 * S, .has_time = true }, I(13), I(13), 0), 0);
        assert_int_equal(ordering_add(o, "A", &(OrderKey) { .time_usec = 1 * S, .has_time = true }, I(11), I(11), 0), 0);
        assert_int_equal(ordering_add(o, "B", &(OrderKey) { .time_usec = 2 * S, .has_time = true }, I(22), I(22), 0), 0);
        assert_int_equal(ordering_add(o, "A", &(OrderKey) { .time_usec = 2 * S, .has_time = true }, I(12), I(12), 0), 0);
        assert_int_equal(ordering_add(o, "B", &(OrderKey) { .time_usec = 1 * S, .has_time = true }, I(21), I(21), 0), 0);
        assert_int_equal(ordering_n_waiting(o), 5);

        /* one of each group starts, the earliest of each: groups run in parallel */
        void *x = ordering_pop_ready(o, 0), *y = ordering_pop_ready(o, 0);
        assert_true((x == I(11) && y == I(21)) || (x == I(21) && y == I(11)));
        assert_null(ordering_pop_ready(o, 0));
        assert_int_equal(ordering_n_waiting(o), 3);

        assert_true(ordering_done(o, I(11)));
        assert_ptr_equal(ordering_pop_ready(o, 0), I(12));
        assert_null(ordering_pop_ready(o, 0));
        assert_false(ordering_done(o, I(13)));          /* waiting, not running */
        assert_true(ordering_done(o, I(12)));
        assert_ptr_equal(ordering_pop_ready(o, 0), I(13));
        assert_true(ordering_done(o, I(21)));
        assert_ptr_equal(ordering_pop_ready(o, 0), I(22));
        assert_true(ordering_done(o, I(13)));
        assert_true(ordering_done(o, I(22)));
        assert_int_equal(ordering_n_waiting(o), 0);
        assert_null(ordering_pop_ready(o, 0));
        assert_int_equal(ordering_next_due(o), UINT64_MAX);
}

static void test_window(void **state) {
        _cleanup_(ordering_freep) Ordering *o = NULL;

        assert_int_equal(ordering_new(&o), 0);
        assert_int_equal(ordering_add(o, "A", &(OrderKey) { .time_usec = 5 * S, .has_time = true }, I(5), I(5), 100), 0);
        assert_null(ordering_pop_ready(o, 99));
        assert_int_equal(ordering_next_due(o), 100);
        /* an earlier file arrives inside the window: it goes first, when its own window ends */
        assert_int_equal(ordering_add(o, "A", &(OrderKey) { .time_usec = 4 * S, .has_time = true }, I(4), I(4), 150), 0);
        assert_null(ordering_pop_ready(o, 120));
        assert_int_equal(ordering_next_due(o), 150);
        assert_ptr_equal(ordering_pop_ready(o, 150), I(4));
        assert_int_equal(ordering_next_due(o), UINT64_MAX);    /* A runs: nothing is due by time */
        assert_true(ordering_done(o, I(4)));
        assert_ptr_equal(ordering_pop_ready(o, 150), I(5));
        assert_true(ordering_done(o, I(5)));
}

/* FIFO: the unit is the message; all its items start together, the next message after done. */
static void test_units(void **state) {
        _cleanup_(ordering_freep) Ordering *o = NULL;
        int m1, m2;

        assert_int_equal(ordering_new(&o), 0);
        assert_int_equal(ordering_add(o, "F", &(OrderKey) { .fifo_sequence = "100" }, &m1, I(1), 0), 0);
        assert_int_equal(ordering_add(o, "F", &(OrderKey) { .fifo_sequence = "100" }, &m1, I(2), 0), 0);
        assert_int_equal(ordering_add(o, "F", &(OrderKey) { .fifo_sequence = "99" }, &m2, I(3), 0), 0);
        assert_ptr_equal(ordering_pop_ready(o, 0), I(3));
        assert_null(ordering_pop_ready(o, 0));
        assert_true(ordering_done(o, &m2));
        assert_ptr_equal(ordering_pop_ready(o, 0), I(1));      /* arrival order inside a unit */
        assert_ptr_equal(ordering_pop_ready(o, 0), I(2));
        assert_null(ordering_pop_ready(o, 0));
        assert_true(ordering_done(o, &m1));
}

static void test_take_behind_and_any(void **state) {
        _cleanup_(ordering_freep) Ordering *o = NULL;

        assert_int_equal(ordering_new(&o), 0);
        for (int i = 1; i <= 3; i++)
                assert_int_equal(ordering_add(o, "A", &(OrderKey) { .time_usec = i * S, .has_time = true }, I(i), I(i), 0), 0);
        assert_int_equal(ordering_add(o, "B", &(OrderKey) { .time_usec = 1 }, I(9), I(9), 0), 0);
        assert_int_equal(ordering_add(o, "B", &(OrderKey) { .time_usec = 2 }, I(8), I(8), 0), 0);
        /* B's keys have no time (has_time false): arrival order decides, 9 came first */
        void *x = ordering_pop_ready(o, 0), *y = ordering_pop_ready(o, 0);
        assert_true((x == I(9) && y == I(1)) || (x == I(1) && y == I(9)));
        assert_null(ordering_pop_ready(o, 0));
        /* 1 failed: what waits behind it in A comes back, earliest first; B is untouched */
        assert_ptr_equal(ordering_take_behind(o, I(1)), I(2));
        assert_ptr_equal(ordering_take_behind(o, I(1)), I(3));
        assert_null(ordering_take_behind(o, I(1)));
        assert_null(ordering_take_behind(o, I(42)));
        assert_true(ordering_done(o, I(1)));
        assert_ptr_equal(ordering_take_any(o), I(8));
        assert_null(ordering_take_any(o));
        assert_true(ordering_done(o, I(9)));
        assert_int_equal(ordering_n_waiting(o), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_time),
                cmocka_unit_test(test_key_cmp),
                cmocka_unit_test(test_groups),
                cmocka_unit_test(test_one_at_a_time_in_key_order),
                cmocka_unit_test(test_window),
                cmocka_unit_test(test_units),
                cmocka_unit_test(test_take_behind_and_any),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
