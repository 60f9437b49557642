#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "gzip-helper.h"

#include "common/buf.h"
#include "common/inflate.h"

typedef struct Sink {
        Buf out;
        size_t max_piece;
        int calls;
        int fail_at;
} Sink;

static int sink(void *userdata, const void *data, size_t n) {
        Sink *s = userdata;

        if (s->fail_at && ++s->calls >= s->fail_at)
                return -ECANCELED;
        s->max_piece = MAX(s->max_piece, n);
        return buf_append(&s->out, data, n);
}

/* Feeds gz in pieces of `step` bytes (0: at once); returns feed/finish's first failure. */
static int run(const Buf *gz, size_t step, Sink *s, S3bError *err) {
        Inflater *z = NULL;
        int r = 0;

        assert_int_equal(inflater_new(sink, s, &z), 0);
        for (size_t at = 0; at < gz->len && r >= 0;) {
                size_t n = step ? MIN(step, gz->len - at) : gz->len - at;

                r = inflater_feed(z, gz->data + at, n, err);
                at += n;
        }
        if (r >= 0)
                r = inflater_finish(z, err);
        if (r >= 0)
                assert_int_equal(inflater_bytes_out(z), s->out.len);
        inflater_free(z);
        return r;
}

static void test_round_trip(void **state) {
        static const char text[] = "student_id,first_name\nA00001,Ada\nA00002,Alan\n";
        Buf gz = BUF_INIT(1 << 24);
        S3bError err = {};

        gzip_append(&gz, text, sizeof(text) - 1, 6);
        assert_true(gzip_has_magic(gz.data, gz.len));
        assert_false(gzip_has_magic(text, sizeof(text) - 1));
        assert_false(gzip_has_magic(gz.data, 1));
        for (size_t step = 0; step <= gz.len; step++) {
                Sink s = { .out = BUF_INIT(1 << 20) };

                assert_int_equal(run(&gz, step, &s, &err), 0);
                assert_int_equal(s.out.len, sizeof(text) - 1);
                assert_memory_equal(s.out.data, text, s.out.len);
                buf_done(&s.out);
        }
        buf_done(&gz);
}

static void test_concatenated_members(void **state) {
        Buf gz = BUF_INIT(1 << 24);
        Sink s = { .out = BUF_INIT(1 << 20) };
        S3bError err = {};

        gzip_append(&gz, "a,b\n", 4, 1);
        gzip_append(&gz, "", 0, 9);                     /* an empty member is legal too */
        gzip_append(&gz, "c,d\n", 4, 9);
        for (size_t step = 0; step <= gz.len; step++) {
                buf_reset(&s.out);
                assert_int_equal(run(&gz, step, &s, &err), 0);
                assert_string_equal(buf_str(&s.out), "a,b\nc,d\n");
        }
        buf_done(&gz);
        buf_done(&s.out);
}

static void test_big_ratio_bounded_output(void **state) {
        size_t n = 8 * 1024 * 1024;
        char *zeros = calloc(1, n);
        Buf gz = BUF_INIT(1 << 24);
        Sink s = { .out = BUF_INIT(n) };
        S3bError err = {};

        gzip_append(&gz, zeros, n, 9);
        assert_true(gz.len < 64 * 1024);
        assert_int_equal(run(&gz, 0, &s, &err), 0);
        assert_int_equal(s.out.len, n);
        assert_true(s.max_piece <= 64 * 1024);
        free(zeros);
        buf_done(&gz);
        buf_done(&s.out);
}

static void test_corrupt(void **state) {
        static const char text[] = "some text that compresses, some text that compresses\n";
        Buf gz = BUF_INIT(1 << 24);
        S3bError err = {};
        Sink s = { .out = BUF_INIT(1 << 20) };
        size_t len;

        gzip_append(&gz, text, sizeof(text) - 1, 6);
        len = gz.len;

        /* a flipped bit in the CRC-32 trailer */
        gz.data[len - 6] ^= 0x01;
        assert_int_equal(run(&gz, 0, &s, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "corrupt gzip"));
        gz.data[len - 6] ^= 0x01;

        /* truncated: every proper prefix fails at finish or earlier */
        for (size_t cut = 0; cut < len; cut++) {
                Buf part = { .data = gz.data, .len = cut };

                buf_reset(&s.out);
                assert_int_equal(run(&part, 0, &s, &err), -EBADMSG);
        }

        /* trailing garbage is not ignored */
        buf_append(&gz, "garbage", 7);
        assert_int_equal(run(&gz, 0, &s, &err), -EBADMSG);
        gz.len = len;

        /* not gzip at all */
        {
                Buf plain = { .data = (char *) text, .len = sizeof(text) - 1 };

                assert_int_equal(run(&plain, 0, &s, &err), -EBADMSG);
        }
        buf_done(&gz);
        buf_done(&s.out);
}

static void test_abort(void **state) {
        size_t n = 1024 * 1024;
        char *zeros = calloc(1, n);
        Buf gz = BUF_INIT(1 << 24);
        Sink s = { .out = BUF_INIT(n), .fail_at = 2 };
        S3bError err = {};

        gzip_append(&gz, zeros, n, 9);
        assert_int_equal(run(&gz, 0, &s, &err), -ECANCELED);
        free(zeros);
        buf_done(&gz);
        buf_done(&s.out);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_concatenated_members),
                cmocka_unit_test(test_big_ratio_bounded_output),
                cmocka_unit_test(test_corrupt),
                cmocka_unit_test(test_abort),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
