/* Mailbox: FIFO order, the fd's readiness, timed waits, wake-ups from other threads (post,
 * kick, close), refusal after close, and no item lost or duplicated under 4 producers and 2
 * consumers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/mailbox.h"

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static bool fd_readable(Mailbox *m) {
        struct pollfd p = { .fd = mailbox_fd(m), .events = POLLIN };

        return poll(&p, 1, 0) == 1;
}

static void test_fifo_and_fd(void **state) {
        _cleanup_(mailbox_freep) Mailbox *m = NULL;
        int a = 1, b = 2, c = 3;

        assert_int_equal(mailbox_new(&m), 0);
        assert_false(fd_readable(m));
        assert_null(mailbox_pop(m));
        assert_int_equal(mailbox_post(m, NULL), -EINVAL);
        assert_int_equal(mailbox_post(m, &a), 0);
        assert_int_equal(mailbox_post(m, &b), 0);
        assert_true(fd_readable(m));
        mailbox_ack_fd(m);
        assert_false(fd_readable(m));
        assert_int_equal(mailbox_post(m, &c), 0);
        assert_int_equal(mailbox_size(m), 3);
        assert_ptr_equal(mailbox_pop(m), &a);
        assert_ptr_equal(mailbox_wait(m, 0), &b);
        assert_ptr_equal(mailbox_wait(m, MAILBOX_FOREVER), &c);
        assert_null(mailbox_pop(m));
        assert_int_equal(mailbox_size(m), 0);
}

static void test_wait_times_out(void **state) {
        _cleanup_(mailbox_freep) Mailbox *m = NULL;
        uint64_t t0;

        assert_int_equal(mailbox_new(&m), 0);
        t0 = now_usec();
        assert_null(mailbox_wait(m, 100000));
        assert_true(now_usec() - t0 >= 100000);
        assert_true(now_usec() - t0 < 2000000);
}

typedef struct Later {
        Mailbox *m;
        int what;               /* 0 post, 1 kick, 2 close */
        int item;
} Later;

static void *do_later(void *arg) {
        Later *l = arg;
        struct timespec ts = { .tv_nsec = 50 * 1000000L };

        nanosleep(&ts, NULL);
        if (l->what == 0)
                (void) mailbox_post(l->m, &l->item);
        else if (l->what == 1)
                mailbox_kick(l->m);
        else
                mailbox_close(l->m);
        return NULL;
}

static void test_wakeups(void **state) {
        for (int what = 0; what < 3; what++) {
                _cleanup_(mailbox_freep) Mailbox *m = NULL;
                Later l = { .what = what, .item = 7 };
                pthread_t t;
                uint64_t t0;
                void *got;

                assert_int_equal(mailbox_new(&m), 0);
                l.m = m;
                t0 = now_usec();
                assert_int_equal(pthread_create(&t, NULL, do_later, &l), 0);
                got = mailbox_wait(m, 10 * 1000000u);
                pthread_join(t, NULL);
                /* woken well before the 10 s deadline in every case */
                assert_true(now_usec() - t0 < 5 * 1000000u);
                assert_ptr_equal(got, what == 0 ? (void *) &l.item : NULL);
                assert_true(fd_readable(m));
        }
}

static void test_close_refuses_and_keeps_items(void **state) {
        _cleanup_(mailbox_freep) Mailbox *m = NULL;
        int a = 1, b = 2;

        assert_int_equal(mailbox_new(&m), 0);
        assert_int_equal(mailbox_post(m, &a), 0);
        assert_false(mailbox_closed(m));
        mailbox_close(m);
        assert_true(mailbox_closed(m));
        assert_int_equal(mailbox_post(m, &b), -ESHUTDOWN);
        /* waiters stop at once; what was inside is still there for the owner */
        assert_null(mailbox_wait(m, MAILBOX_FOREVER));
        assert_ptr_equal(mailbox_pop(m), &a);
        assert_null(mailbox_pop(m));
}

#define PRODUCERS 4
#define PER_PRODUCER 5000

typedef struct Shared {
        Mailbox *m;
        int items[PRODUCERS * PER_PRODUCER];
        atomic_int seen[PRODUCERS * PER_PRODUCER];
        atomic_int consumed;
        int base;
        uint64_t timeout;       /* of each consumer's wait */
} Shared;

typedef struct Producer {
        Shared *s;
        int index;
} Producer;

static void *produce(void *arg) {
        Producer *p = arg;

        for (int i = 0; i < PER_PRODUCER; i++) {
                assert_int_equal(mailbox_post(p->s->m, &p->s->items[p->index * PER_PRODUCER + i]), 0);
                /* with timed waits: let the consumers go to sleep, so posts meet their timeouts */
                if (p->s->timeout != MAILBOX_FOREVER)
                        sched_yield();
        }
        return NULL;
}

static void *consume(void *arg) {
        Shared *s = arg;
        int *item;

        for (;;) {
                item = mailbox_wait(s->m, s->timeout);
                if (!item) {
                        /* a short timeout expires often, racing posts that claim the waiter */
                        if (s->timeout == MAILBOX_FOREVER || mailbox_closed(s->m))
                                break;
                        continue;
                }
                atomic_fetch_add(&s->seen[item - s->items], 1);
                atomic_fetch_add(&s->consumed, 1);
        }
        return NULL;
}

static void run_many_threads(uint64_t timeout) {
        static Shared s;
        pthread_t prod[PRODUCERS], cons[2];
        Producer p[PRODUCERS];
        int *item;

        memset(&s, 0, sizeof(s));
        s.timeout = timeout;
        assert_int_equal(mailbox_new(&s.m), 0);
        for (int i = 0; i < 2; i++)
                assert_int_equal(pthread_create(&cons[i], NULL, consume, &s), 0);
        for (int i = 0; i < PRODUCERS; i++) {
                p[i] = (Producer) { .s = &s, .index = i };
                assert_int_equal(pthread_create(&prod[i], NULL, produce, &p[i]), 0);
        }
        for (int i = 0; i < PRODUCERS; i++)
                pthread_join(prod[i], NULL);
        while (atomic_load(&s.consumed) < PRODUCERS * PER_PRODUCER && mailbox_size(s.m) > 0) {
                struct timespec ts = { .tv_nsec = 1000000L };

                nanosleep(&ts, NULL);
        }
        mailbox_close(s.m);
        for (int i = 0; i < 2; i++)
                pthread_join(cons[i], NULL);
        /* a consumer may have stopped with items left: the owner takes them */
        while ((item = mailbox_pop(s.m))) {
                atomic_fetch_add(&s.seen[item - s.items], 1);
                atomic_fetch_add(&s.consumed, 1);
        }
        assert_int_equal(atomic_load(&s.consumed), PRODUCERS * PER_PRODUCER);
        for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++)
                assert_int_equal(atomic_load(&s.seen[i]), 1);
        s.m = mailbox_free(s.m);
}

static void test_many_threads(void **state) {
        run_many_threads(MAILBOX_FOREVER);
}

/* Waits that time out while posts hand them items: none lost, none twice. */
static void test_many_threads_timed(void **state) {
        run_many_threads(1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fifo_and_fd),
                cmocka_unit_test(test_wait_times_out),
                cmocka_unit_test(test_wakeups),
                cmocka_unit_test(test_close_refuses_and_keeps_items),
                cmocka_unit_test(test_many_threads),
                cmocka_unit_test(test_many_threads_timed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
