/* Writer: batching to 25, key de-duplication, UnprocessedItems retries, give-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

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

static int fake_send(void *ud, const char *const *items, size_t n, size_t **ret_unp, size_t *ret_n,
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
        *ret_n = n_unp;
        *ret_unp = NULL;
        if (n_unp > 0) {
                *ret_unp = calloc(n_unp, sizeof(size_t));
                for (size_t i = 0; i < n_unp; i++)
                        (*ret_unp)[i] = n - n_unp + i;
        }
        return 0;
}

static bool fake_retryable(void *ud, int r, const S3bError *err) {
        return r == -EAGAIN;
}

static int fake_backoff(void *ud, unsigned attempt) {
        ((Fake *) ud)->backoffs++;
        return 0;
}

static const WriterOps ops = { fake_send, fake_retryable, fake_backoff };

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
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 5);
        S3bError err = {};

        add_n(w, 0, 60);
        assert_int_equal(f.calls, 2);           /* two full batches sent while adding */
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(f.calls, 3);
        assert_int_equal(f.sizes[0], 25);
        assert_int_equal(f.sizes[1], 25);
        assert_int_equal(f.sizes[2], 10);
        assert_int_equal(writer_stats(w)->written, 60);
        assert_int_equal(f.n_seen, 60);
        assert_string_equal(f.seen[59], "{\"id\":{\"S\":\"59\"}}");
        /* flushing an empty writer sends nothing */
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(f.calls, 3);
        fake_done(&f);
}

static void test_dedup_last_wins(void **state) {
        Fake f = {};
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 5);
        S3bError err = {};

        assert_int_equal(writer_add(w, "a", "A1", &err), 0);
        assert_int_equal(writer_add(w, "b", "B1", &err), 0);
        assert_int_equal(writer_add(w, "a", "A2", &err), 0);
        assert_int_equal(writer_add(w, "a", "A3", &err), 0);
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(f.n_seen, 2);
        assert_string_equal(f.seen[0], "A3");   /* keeps the first position, last value */
        assert_string_equal(f.seen[1], "B1");
        assert_int_equal(writer_stats(w)->superseded, 2);
        assert_int_equal(writer_stats(w)->written, 2);
        fake_done(&f);
}

static void test_dedup_full_batch_no_flush(void **state) {
        Fake f = {};
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 5);
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
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 5);
        S3bError err = {};

        add_n(w, 0, 10);
        assert_int_equal(writer_flush(w, &err), 0);
        /* 10 → 7 written, 3 back; 3 → all written (n ≤ 3 is never held back by the fake) */
        assert_int_equal(f.calls, 2);
        assert_int_equal(f.sizes[1], 3);
        assert_int_equal(f.backoffs, 1);
        assert_int_equal(writer_stats(w)->written, 10);
        assert_int_equal(writer_stats(w)->retries, 1);
        assert_string_equal(f.seen[9], "{\"id\":{\"S\":\"9\"}}");
        fake_done(&f);
}

static void test_throttling_retried_then_gives_up(void **state) {
        Fake f = { .fail_calls = 2 };
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 3);
        S3bError err = {};

        add_n(w, 0, 5);
        assert_int_equal(writer_flush(w, &err), 0);
        assert_int_equal(f.calls, 3);
        assert_int_equal(writer_stats(w)->written, 5);

        f.fail_calls = 100;
        add_n(w, 5, 5);
        assert_int_equal(writer_flush(w, &err), -EIO);
        assert_non_null(strstr(err.message, "after 3 attempts"));
        assert_non_null(strstr(err.message, "throttled"));
        assert_int_equal(writer_stats(w)->written, 5);
        fake_done(&f);
}

static void test_fatal_not_retried(void **state) {
        Fake f = { .fail_fatal = true };
        _cleanup_(writer_freep) Writer *w = writer_new(&ops, &f, 10);
        S3bError err = {};

        add_n(w, 0, 2);
        assert_int_equal(writer_flush(w, &err), -EINVAL);
        assert_int_equal(f.calls, 1);
        assert_int_equal(f.backoffs, 0);
        fake_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_batches_of_25),
                cmocka_unit_test(test_dedup_last_wins),
                cmocka_unit_test(test_dedup_full_batch_no_flush),
                cmocka_unit_test(test_unprocessed_retried),
                cmocka_unit_test(test_throttling_retried_then_gives_up),
                cmocka_unit_test(test_fatal_not_retried),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
