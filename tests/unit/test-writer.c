/* Writer: batching to 25, key de-duplication, UnprocessedItems retries, give-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>

#include "daemon/flowctl.h"
#include "daemon/writer.h"

typedef struct Fake {
        size_t calls;
        size_t sizes[64];
        char *seen[4096];       /* every item accepted, in order */
        size_t n_seen;
        unsigned unprocessed_calls;     /* this many calls return their last 3 items unprocessed */
        unsigned fail_calls;            /* this many calls fail with a retryable error */
        bool fail_fatal;
        unsigned backoffs;
} Fake;

static int fake_send(void *ud, unsigned lane, const char *const *items, size_t n, WriterResult *ret,
                     S3bError *err) {
        Fake *f = ud;
        size_t n_unp = 0;

        assert_true(n >= 1 && n <= WRITER_BATCH_MAX);
        f->sizes[f->calls++ % 64] = n;
        if (f->fail_fatal)
                return s3b_error_set(err, -EINVAL, "ValidationException");
        if (f->fail_calls > 0) {
                f->fail_calls--;
                err->http_status = 400;
                strcpy(err->aws_code, "ThrottlingException");
                return s3b_error_set(err, -EAGAIN, "throttled");
        }
        if (f->unprocessed_calls > 0 && n > 3) {
                f->unprocessed_calls--;
                n_unp = 3;
        }
        for (size_t i = 0; i < n - n_unp; i++)
                f->seen[f->n_seen++] = strdup(items[i]);
        *ret = (WriterResult) { .n_unprocessed = n_unp, .consumed = -1 };
        if (n_unp > 0) {
                ret->unprocessed = calloc(n_unp, sizeof(size_t));
                for (size_t i = 0; i < n_unp; i++)
                        ret->unprocessed[i] = n - n_unp + i;
        }
        return 0;
}

static bool fake_retryable(void *ud, int r, const S3bError *err) {
        return r == -EAGAIN;
}

static int fake_backoff(void *ud, unsigned lane, unsigned attempt) {
        ((Fake *) ud)->backoffs++;
        return 0;
}

static const WriterOps ops = { .send = fake_send, .retryable = fake_retryable, .backoff = fake_backoff };

static void fake_done(Fake *f) {
        for (size_t i = 0; i < f->n_seen; i++)
                free(f->seen[i]);
}

static void add_n(Writer *w, size_t from, size_t n) {
        S3bError err = {};
        char key[32], item[64];

        for (size_t i = from; i < from + n; i++) {
                snprintf(key, sizeof(key), "k%zu", i);
                snprintf(item, sizeof(item), "{\"id\":{\"S\":\"%zu\"}}", i);
                assert_int_equal(writer_add(w, key, item, &err), 0);
        }
}

static void test_batches_of_25(void **state) {
        Fake f = {};
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 5, 1);
        S3bError err = {};

        add_n(w, 0, 60);
        assert_int_equal(f.calls, 2);           /* two full batches sent while adding */
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(f.calls, 3);
        assert_int_equal(f.sizes[0], 25);
        assert_int_equal(f.sizes[1], 25);
        assert_int_equal(f.sizes[2], 10);
        assert_int_equal(writer_stats(w).written, 60);
        assert_int_equal(f.n_seen, 60);
        assert_string_equal(f.seen[59], "{\"id\":{\"S\":\"59\"}}");
        /* flushing an empty writer sends nothing */
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(f.calls, 3);
        fake_done(&f);
}

static void test_dedup_last_wins(void **state) {
        Fake f = {};
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 5, 1);
        S3bError err = {};

        assert_int_equal(writer_add(w, "a", "A1", &err), 0);
        assert_int_equal(writer_add(w, "b", "B1", &err), 0);
        assert_int_equal(writer_add(w, "a", "A2", &err), 0);
        assert_int_equal(writer_add(w, "a", "A3", &err), 0);
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(f.n_seen, 2);
        assert_string_equal(f.seen[0], "A3");   /* keeps the first position, last value */
        assert_string_equal(f.seen[1], "B1");
        assert_int_equal(writer_stats(w).superseded, 2);
        assert_int_equal(writer_stats(w).written, 2);
        fake_done(&f);
}

/* Rows superseded by ever longer ones: the survivors (other keys around them, the last value
 * of the repeated one, a shorter value reusing a longer one's bytes) come out intact, whatever
 * the batch's storage did meanwhile (reuse in place, growth, compaction). */
static void test_dedup_growing_rows_survive(void **state) {
        Fake f = {};
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 5, 1);
        static char item[4100];
        char want[4100];
        S3bError err = {};

        assert_int_equal(writer_add(w, "first", "F", &err), 0);
        for (size_t len = 1; len <= 4000; len++) {
                memset(item, 'a' + (char) (len % 26), len);
                item[len] = '\0';
                assert_int_equal(writer_add(w, "rep", item, &err), 0);
                if (len == 2000)
                        assert_int_equal(writer_add(w, "middle", "M", &err), 0);
        }
        memcpy(want, item, sizeof(want));
        assert_int_equal(writer_add(w, "shrunk", "long-value-first", &err), 0);
        assert_int_equal(writer_add(w, "shrunk", "short", &err), 0);
        assert_int_equal(writer_add(w, "last", "L", &err), 0);
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(f.n_seen, 5);
        assert_string_equal(f.seen[0], "F");
        assert_string_equal(f.seen[1], want);
        assert_string_equal(f.seen[2], "M");
        assert_string_equal(f.seen[3], "short");
        assert_string_equal(f.seen[4], "L");
        assert_int_equal(writer_stats(w).superseded, 3999 + 1);
        fake_done(&f);
}

static void test_dedup_full_batch_no_flush(void **state) {
        Fake f = {};
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 5, 1);
        S3bError err = {};

        add_n(w, 0, 25);
        assert_int_equal(f.calls, 0);
        /* a duplicate of a pending key must replace, not start a new batch */
        assert_int_equal(writer_add(w, "k3", "new3", &err), 0);
        assert_int_equal(f.calls, 0);
        add_n(w, 25, 1);
        assert_int_equal(f.calls, 1);
        assert_string_equal(f.seen[3], "new3");
        fake_done(&f);
}

static void test_unprocessed_retried(void **state) {
        Fake f = { .unprocessed_calls = 2 };
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 5, 1);
        S3bError err = {};

        add_n(w, 0, 10);
        assert_int_equal(writer_flush(w, &err), 0);
        /* 10 → 7 written, 3 back; 3 → all written (n ≤ 3 is never held back by the fake) */
        assert_int_equal(f.calls, 2);
        assert_int_equal(f.sizes[1], 3);
        assert_int_equal(f.backoffs, 1);
        assert_int_equal(writer_stats(w).written, 10);
        assert_int_equal(writer_stats(w).retries, 1);
        assert_string_equal(f.seen[9], "{\"id\":{\"S\":\"9\"}}");
        fake_done(&f);
}

static void test_throttling_retried_then_gives_up(void **state) {
        Fake f = { .fail_calls = 2 };
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 3, 1);
        S3bError err = {};

        add_n(w, 0, 5);
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(f.calls, 3);
        assert_int_equal(writer_stats(w).written, 5);

        f.fail_calls = 100;
        add_n(w, 5, 5);
        assert_int_equal(writer_flush(w, &err), -EIO);
        assert_non_null(strstr(err.message, "after 3 attempts"));
        assert_non_null(strstr(err.message, "throttled"));
        assert_int_equal(writer_stats(w).written, 5);
        fake_done(&f);
}

static void test_fatal_not_retried(void **state) {
        Fake f = { .fail_fatal = true };
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 10, 1);
        S3bError err = {};

        add_n(w, 0, 2);
        assert_int_equal(writer_flush(w, &err), -EINVAL);
        assert_int_equal(f.calls, 1);
        assert_int_equal(f.backoffs, 0);
        fake_done(&f);
}

/* ---- window ---- */

typedef struct Slow {
        pthread_mutex_t lock;
        int running, max_running;
        unsigned lanes_seen;            /* bit per lane */
        char *last_value[128];          /* per key index k0..k127: the value written last */
        unsigned calls;
        bool fail_third;
        bool other_thread;              /* a send ran on a thread other than the test's */
        pthread_t test_thread;
} Slow;

static int slow_send(void *ud, unsigned lane, const char *const *items, size_t n, WriterResult *ret,
                     S3bError *err) {
        Slow *s = ud;
        unsigned call;

        pthread_mutex_lock(&s->lock);
        call = ++s->calls;
        s->lanes_seen |= 1u << lane;
        if (!pthread_equal(pthread_self(), s->test_thread))
                s->other_thread = true;
        if (++s->running > s->max_running)
                s->max_running = s->running;
        pthread_mutex_unlock(&s->lock);

        /* the batch holding "first" is slow, so a later batch would overtake it */
        nanosleep(&(struct timespec) { 0, (strstr(items[0], "first") ? 60 : 5) * 1000000L }, NULL);

        pthread_mutex_lock(&s->lock);
        s->running--;
        for (size_t i = 0; i < n; i++) {
                unsigned k;
                char v[64];

                assert_int_equal(sscanf(items[i], "{\"k%u\":\"%63[^\"]\"}", &k, v), 2);
                free(s->last_value[k % 128]);
                s->last_value[k % 128] = strdup(v);
        }
        pthread_mutex_unlock(&s->lock);
        *ret = (WriterResult) { .consumed = -1 };
        if (s->fail_third && call == 3)
                return s3b_error_set(err, -EINVAL, "ValidationException: third batch");
        return 0;
}

static int slow_backoff(void *ud, unsigned lane, unsigned attempt) {
        return 0;
}

static const WriterOps slow_ops = { .send = slow_send, .backoff = slow_backoff };

static void add_kv(Writer *w, unsigned k, const char *v) {
        char key[16], item[64];
        S3bError err = {};

        snprintf(key, sizeof(key), "k%u", k);
        snprintf(item, sizeof(item), "{\"k%u\":\"%s\"}", k, v);
        assert_int_equal(writer_add(w, key, item, &err), 0);
}

static void slow_done(Slow *s) {
        for (size_t i = 0; i < 128; i++)
                free(s->last_value[i]);
        pthread_mutex_destroy(&s->lock);
}

static void test_window_parallel_and_bounded(void **state) {
        Slow s = { .lock = PTHREAD_MUTEX_INITIALIZER };
        _cleanup_(writer_freep) Writer *w = writer_new(&slow_ops, &s, 3, 4);
        S3bError err = {};

        /* 10 batches of distinct keys (k1..k40 reused across batches would serialise them) */
        for (unsigned b = 0; b < 10; b++)
                for (unsigned i = 0; i < 25; i++) {
                        char key[16], item[64];

                        snprintf(key, sizeof(key), "b%uk%u", b, i);
                        snprintf(item, sizeof(item), "{\"k%u\":\"b%u\"}", 1 + i, b);
                        assert_int_equal(writer_add(w, key, item, &err), 0);
                }
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(writer_stats(w).written, 250);
        assert_int_equal(s.calls, 10);
        assert_true(s.max_running > 1);
        assert_true(s.max_running <= 4);
        slow_done(&s);
}

static void test_window_keeps_key_order(void **state) {
        Slow s = { .lock = PTHREAD_MUTEX_INITIALIZER };
        _cleanup_(writer_freep) Writer *w = writer_new(&slow_ops, &s, 3, 4);
        S3bError err = {};

        /* batch 1 (k0 "first", slow) ; batch 2 (other keys) ; batch 3 names k0 again: it
         * must wait for batch 1 or its value would be overwritten by the older one */
        add_kv(w, 0, "first");
        for (unsigned i = 1; i < 25; i++)
                add_kv(w, i, "a");
        for (unsigned i = 25; i < 50; i++)
                add_kv(w, i, "b");
        add_kv(w, 0, "second");
        for (unsigned i = 50; i < 74; i++)
                add_kv(w, i, "c");
        assert_int_equal(writer_flush(w, &err), 0);
        assert_string_equal(s.last_value[0], "second");
        assert_string_equal(s.last_value[5], "a");
        assert_string_equal(s.last_value[30], "b");
        assert_string_equal(s.last_value[73], "c");
        slow_done(&s);
}

/* Many batches in flight naming keys again and again (the in-flight key set: keys come and
 * go, collide in its probe runs and are removed): every key ends with its last value. Every
 * fourth batch is slow ("first" in its first item), so a later one would overtake it. */
static void test_window_key_order_churn(void **state) {
        Slow s = { .lock = PTHREAD_MUTEX_INITIALIZER };
        _cleanup_(writer_freep) Writer *w = writer_new(&slow_ops, &s, 3, 8);
        char expect[128][32] = {};
        S3bError err = {};
        uint32_t x = 12345;

        for (unsigned b = 0; b < 48; b++)
                for (unsigned i = 0; i < 25; i++) {
                        unsigned k;
                        char v[32];

                        x = x * 1103515245u + 12345u;
                        k = (x >> 16) % 128;
                        snprintf(v, sizeof(v), "%sv%u", b % 4 == 0 && i == 0 ? "first" : "", b * 25 + i);
                        add_kv(w, k, v);
                        strcpy(expect[k], v);
                }
        assert_int_equal(writer_flush(w, &err), 0);
        for (unsigned k = 0; k < 128; k++)
                if (expect[k][0])
                        assert_string_equal(s.last_value[k], expect[k]);
        slow_done(&s);
}

static void test_window_first_error_wins(void **state) {
        Slow s = { .lock = PTHREAD_MUTEX_INITIALIZER, .fail_third = true };
        _cleanup_(writer_freep) Writer *w = writer_new(&slow_ops, &s, 3, 2);
        S3bError err = {};
        int r = 0;

        for (unsigned b = 0; b < 20 && r == 0; b++)
                for (unsigned i = 0; i < 25 && r == 0; i++) {
                        char key[16], item[64];

                        snprintf(key, sizeof(key), "b%uk%u", b, i);
                        snprintf(item, sizeof(item), "{\"k%u\":\"x\"}", 1 + i);
                        r = writer_add(w, key, item, &err);
                }
        if (r == 0)
                r = writer_flush(w, &err);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(err.message, "third batch"));
        /* later calls keep failing the same way */
        assert_int_equal(writer_flush(w, &err), -EINVAL);
        slow_done(&s);
}

static void test_window_small_file_needs_no_thread(void **state) {
        Slow s = { .lock = PTHREAD_MUTEX_INITIALIZER, .test_thread = pthread_self() };
        _cleanup_(writer_freep) Writer *w = writer_new(&slow_ops, &s, 3, 4);
        S3bError err = {};

        for (unsigned i = 0; i < 20; i++)
                add_kv(w, i, "x");
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(s.calls, 1);
        assert_int_equal(s.lanes_seen, 1u);
        assert_false(s.other_thread);
        /* a second full batch does go through the lanes */
        for (unsigned i = 20; i < 80; i++)
                add_kv(w, i, "y");
        assert_int_equal(writer_flush(w, &err), 0);
        assert_true(s.other_thread);
        assert_int_equal(writer_stats(w).written, 80);
        slow_done(&s);
}

/* ---- the adaptive window and the flow limiter ---- */

typedef struct Adaptive {
        pthread_mutex_t lock;
        unsigned running, max_running;
        unsigned throttle_calls;        /* this many calls fail as throttled */
        unsigned calls;
} Adaptive;

static int adaptive_send(void *ud, unsigned lane, const char *const *items, size_t n, WriterResult *ret,
                         S3bError *err) {
        Adaptive *a = ud;
        bool throttle;

        pthread_mutex_lock(&a->lock);
        a->calls++;
        throttle = a->throttle_calls > 0;
        if (throttle)
                a->throttle_calls--;
        if (++a->running > a->max_running)
                a->max_running = a->running;
        pthread_mutex_unlock(&a->lock);
        /* a flat 5 ms: more in flight never costs latency */
        nanosleep(&(struct timespec) { 0, 5 * 1000000L }, NULL);
        pthread_mutex_lock(&a->lock);
        a->running--;
        pthread_mutex_unlock(&a->lock);
        if (throttle) {
                strcpy(err->aws_code, "ProvisionedThroughputExceededException");
                return s3b_error_set(err, -EAGAIN, "throttled");
        }
        *ret = (WriterResult) { .consumed = -1 };
        return 0;
}

static bool adaptive_retryable(void *ud, int r, const S3bError *err) {
        return r == -EAGAIN;
}

static const WriterOps adaptive_ops = {
        .send = adaptive_send, .retryable = adaptive_retryable, .throttled = adaptive_retryable,
        .backoff = slow_backoff,
};

static void add_many(Writer *w, unsigned from, unsigned n) {
        for (unsigned i = from; i < from + n; i++)
                add_kv(w, i, "v");
}

/* Flat latency: the window grows from 4 towards the cap, and really runs that many. */
static void test_adaptive_window_grows(void **state) {
        Adaptive a = { .lock = PTHREAD_MUTEX_INITIALIZER };
        _cleanup_(writer_freep) Writer *w = writer_new_with(&adaptive_ops, &a, &(WriterOptions) { .max_attempts = 3 });
        S3bError err = {};

        assert_int_equal(writer_stats(w).window, WRITER_WINDOW_START);
        add_many(w, 0, 3000);   /* 120 batches */
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(writer_stats(w).written, 3000);
        assert_true(writer_stats(w).window_max >= 12);
        assert_true(a.max_running > WRITER_WINDOW_START);
        assert_true(a.max_running <= WRITER_WINDOW_MAX);
}

/* Throttling halves it, once per window of calls; it grows back afterwards. */
static void test_adaptive_window_halves_on_throttle(void **state) {
        Adaptive a = { .lock = PTHREAD_MUTEX_INITIALIZER };
        _cleanup_(writer_freep) Writer *w = writer_new_with(&adaptive_ops, &a, &(WriterOptions) { .max_attempts = 20 });
        S3bError err = {};

        add_many(w, 0, 1000);
        assert_int_equal(writer_flush(w, &err), 0);
        assert_true(writer_stats(w).window >= 6);
        a.throttle_calls = 40;
        add_many(w, 1000, 250);     /* 10 batches: retried through the 40 throttles */
        assert_int_equal(writer_flush(w, &err), 0);
        assert_true(writer_stats(w).window <= 4);
        assert_true(writer_stats(w).throttles >= 40);
        assert_int_equal(writer_stats(w).written, 1250);
}

/* A ceiling (the split reader's share of a job's window): the adaptive window starts at most
 * there and never runs more, however flat the latency. */
static void test_adaptive_window_ceiling(void **state) {
        Adaptive a = { .lock = PTHREAD_MUTEX_INITIALIZER };
        _cleanup_(writer_freep) Writer *w = writer_new_with(&adaptive_ops, &a,
                                                            &(WriterOptions) { .max_attempts = 3, .window_max = 6 });
        _cleanup_(writer_freep) Writer *w2 = writer_new_with(&adaptive_ops, &a,
                                                             &(WriterOptions) { .max_attempts = 3, .window_max = 2 });
        S3bError err = {};

        add_many(w, 0, 3000);   /* 120 batches: unbounded, it reaches >= 12 (above) */
        assert_int_equal(writer_flush(w, &err), 0);
        /* at most the ceiling (not exactly it: a loaded machine's sleeps overshoot, which the
         * window reads as queueing) */
        assert_true(writer_stats(w).window_max <= 6);
        assert_true(a.max_running <= 6);
        assert_int_equal(writer_stats(w2).window, 2);
        a.max_running = 0;
        add_many(w2, 0, 1000);
        assert_int_equal(writer_flush(w2, &err), 0);
        assert_int_equal(writer_stats(w2).written, 1000);
        assert_true(a.max_running <= 2);
}

/* A fixed window stays fixed. */
static void test_fixed_window(void **state) {
        Adaptive a = { .lock = PTHREAD_MUTEX_INITIALIZER };
        _cleanup_(writer_freep) Writer *w = writer_new_with(&adaptive_ops, &a, &(WriterOptions) { .max_attempts = 3, .window = 3 });
        S3bError err = {};

        add_many(w, 0, 1000);
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(writer_stats(w).window, 3);
        assert_true(a.max_running <= 3);
}

/* With a budget, the writer waits for it: 500 one-WCU items at 250 WCU/s take about a second
 * past the first (full) bucket, and the items' estimated cost is what is reported consumed. */
static void test_flow_budget_paces(void **state) {
        Adaptive a = { .lock = PTHREAD_MUTEX_INITIALIZER };
        _cleanup_(flowctl_freep) FlowCtl *fc = flowctl_new(NULL, NULL);
        FlowLimiter *l = flowctl_table(fc, "t", 250);
        _cleanup_(writer_freep) Writer *w = writer_new_with(&adaptive_ops, &a,
                &(WriterOptions) { .max_attempts = 3, .flow = l });
        struct timespec t0, t1;
        S3bError err = {};
        double elapsed;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        add_many(w, 0, 500);
        assert_int_equal(writer_flush(w, &err), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        elapsed = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        assert_true(elapsed >= 0.9);
        assert_true(elapsed < 3);
        assert_true(writer_stats(w).consumed == 500);
        assert_true(flow_stats(l).consumed == 500);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_batches_of_25),
                cmocka_unit_test(test_dedup_last_wins),
                cmocka_unit_test(test_dedup_growing_rows_survive),
                cmocka_unit_test(test_dedup_full_batch_no_flush),
                cmocka_unit_test(test_unprocessed_retried),
                cmocka_unit_test(test_throttling_retried_then_gives_up),
                cmocka_unit_test(test_fatal_not_retried),
                cmocka_unit_test(test_window_parallel_and_bounded),
                cmocka_unit_test(test_window_keeps_key_order),
                cmocka_unit_test(test_window_key_order_churn),
                cmocka_unit_test(test_window_first_error_wins),
                cmocka_unit_test(test_window_small_file_needs_no_thread),
                cmocka_unit_test(test_adaptive_window_grows),
                cmocka_unit_test(test_adaptive_window_halves_on_throttle),
                cmocka_unit_test(test_adaptive_window_ceiling),
                cmocka_unit_test(test_fixed_window),
                cmocka_unit_test(test_flow_budget_paces),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
