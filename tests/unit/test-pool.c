/* Pool: every job runs once on a worker with per-thread state, comes back through the fd,
 * never more than n at once; queued jobs can be taken back; a failing thread_init fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <cmocka.h>

#include "daemon/pool.h"

typedef struct Ctx {
        atomic_int running;
        atomic_int max_running;
        atomic_int inits, dones;
        int fail_init_at;
        int sleep_ms;
} Ctx;

typedef struct TJob {
        int id;
        int runs;
        unsigned thread;
} TJob;

static int t_init(void *ud, unsigned index, void **ret) {
        Ctx *c = ud;

        if (c->fail_init_at == (int) index + 1)
                return -EACCES;
        c->inits++;
        *ret = (void *) (uintptr_t) (index + 100);
        return 0;
}

static void t_done(void *ud, void *state) {
        ((Ctx *) ud)->dones++;
}

static void t_run(void *ud, void *state, void *job) {
        Ctx *c = ud;
        TJob *j = job;
        int now = ++c->running;
        int prev = c->max_running;

        while (now > prev && !atomic_compare_exchange_weak(&c->max_running, &prev, now))
                ;
        nanosleep(&(struct timespec) { 0, c->sleep_ms * 1000000L }, NULL);
        j->runs++;
        j->thread = (unsigned) (uintptr_t) state;
        c->running--;
}

static const PoolOps ops = { t_init, t_done, t_run };

static TJob *wait_done(Pool *p) {
        TJob *j;

        for (;;) {
                struct pollfd pfd = { .fd = pool_fd(p), .events = POLLIN };

                j = pool_pop_done(p);
                if (j)
                        return j;
                assert_true(poll(&pfd, 1, 5000) == 1);
                pool_ack_fd(p);
        }
}

static void test_runs_all_bounded(void **state) {
        Ctx c = { .sleep_ms = 5 };
        TJob jobs[20] = {};
        Pool *p = NULL;
        S3bError err = {};

        assert_int_equal(pool_new(3, &ops, &c, &p, &err), 0);
        assert_int_equal(c.inits, 3);
        for (int i = 0; i < 20; i++) {
                jobs[i].id = i;
                assert_int_equal(pool_submit(p, &jobs[i]), 0);
        }
        for (int i = 0; i < 20; i++) {
                TJob *j = wait_done(p);
                assert_int_equal(j->runs, 1);
                assert_true(j->thread >= 100 && j->thread < 103);
        }
        assert_null(pool_pop_done(p));
        assert_true(c.max_running <= 3);
        assert_true(c.max_running >= 2);
        assert_int_equal(pool_n_running(p), 0);
        pool_free(p);
        assert_int_equal(c.dones, 3);
}

static void test_one_worker_is_serial(void **state) {
        Ctx c = { .sleep_ms = 2 };
        TJob jobs[8] = {};
        Pool *p = NULL;

        assert_int_equal(pool_new(1, &ops, &c, &p, NULL), 0);
        for (int i = 0; i < 8; i++)
                assert_int_equal(pool_submit(p, &jobs[i]), 0);
        /* results come back in submission order with a single worker */
        for (int i = 0; i < 8; i++)
                assert_ptr_equal(wait_done(p), &jobs[i]);
        assert_int_equal(c.max_running, 1);
        pool_free(p);
}

static void test_take_queued(void **state) {
        Ctx c = { .sleep_ms = 100 };
        TJob jobs[4] = {};
        Pool *p = NULL;
        int taken = 0;

        assert_int_equal(pool_new(1, &ops, &c, &p, NULL), 0);
        for (int i = 0; i < 4; i++)
                assert_int_equal(pool_submit(p, &jobs[i]), 0);
        while (pool_n_running(p) == 0)
                nanosleep(&(struct timespec) { 0, 1000000L }, NULL);
        while (pool_take_queued(p))
                taken++;
        assert_int_equal(taken, 3);
        assert_ptr_equal(wait_done(p), &jobs[0]);
        pool_free(p);
        for (int i = 1; i < 4; i++)
                assert_int_equal(jobs[i].runs, 0);
}

static void test_init_failure(void **state) {
        Ctx c = { .fail_init_at = 2 };
        Pool *p = NULL;
        S3bError err = {};

        assert_int_equal(pool_new(3, &ops, &c, &p, &err), -EACCES);
        assert_null(p);
        /* the threads that did start are cleaned up */
        assert_int_equal(c.dones, c.inits);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_runs_all_bounded),
                cmocka_unit_test(test_one_worker_is_serial),
                cmocka_unit_test(test_take_queued),
                cmocka_unit_test(test_init_failure),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
