#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/retry.h"

static S3bError mk(int code, long status, const char *aws_code, const char *message) {
        S3bError e = { .code = code, .http_status = status };

        snprintf(e.aws_code, sizeof(e.aws_code), "%s", aws_code);
        snprintf(e.message, sizeof(e.message), "%s", message);
        return e;
}

static void test_classify_throttling(void **state) {
        static const char *const codes[] = {
                "Throttling", "ThrottlingException", "ProvisionedThroughputExceededException",
                "RequestLimitExceeded", "SlowDown", "TooManyRequestsException",
                "RequestThrottled", "RequestThrottledException", "TransactionInProgressException",
                "Throttled",
        };

        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                S3bError e = mk(-EAGAIN, 400, codes[i], "");

                assert_int_equal(aws_retry_classify(&e), AWS_RETRY_THROTTLE);
        }
        S3bError e429 = mk(-EAGAIN, 429, "", "");
        assert_int_equal(aws_retry_classify(&e429), AWS_RETRY_THROTTLE);
        /* SlowDown arrives as a 503: throttling wins over "server error" */
        S3bError slow = mk(-EAGAIN, 503, "SlowDown", "");
        assert_int_equal(aws_retry_classify(&slow), AWS_RETRY_THROTTLE);
}

static void test_classify_transient(void **state) {
        static const long statuses[] = { 500, 502, 503, 504 };

        for (size_t i = 0; i < ELEMENTSOF(statuses); i++) {
                S3bError e = mk(-EIO, statuses[i], "", "");

                assert_int_equal(aws_retry_classify(&e), AWS_RETRY_TRANSIENT);
        }
        S3bError e501 = mk(-EIO, 501, "NotImplemented", "");
        assert_int_equal(aws_retry_classify(&e501), AWS_RETRY_NO);
        S3bError rt = mk(-ETIMEDOUT, 400, "RequestTimeout", "");
        assert_int_equal(aws_retry_classify(&rt), AWS_RETRY_TRANSIENT);
        S3bError idp = mk(-EINVAL, 400, "IDPCommunicationError", "");
        assert_int_equal(aws_retry_classify(&idp), AWS_RETRY_TRANSIENT);
        /* CopyObject's 200 with <Error><Code>InternalError */
        S3bError copy = mk(-EIO, 200, "InternalError", "");
        assert_int_equal(aws_retry_classify(&copy), AWS_RETRY_TRANSIENT);
        S3bError crc = mk(-EIO, 200, AWS_CODE_CRC32_MISMATCH, "");
        assert_int_equal(aws_retry_classify(&crc), AWS_RETRY_TRANSIENT);
}

static void test_classify_transport(void **state) {
        static const int retry[] = { -ECONNREFUSED, -ECONNRESET, -ETIMEDOUT, -EHOSTUNREACH };
        static const int final[] = { -ECANCELED, -ENOBUFS, -EPROTO, -EINVAL, -EIO, -ENOMEM };

        for (size_t i = 0; i < ELEMENTSOF(retry); i++) {
                S3bError e = mk(retry[i], 0, "", "");

                assert_int_equal(aws_retry_classify(&e), AWS_RETRY_TRANSIENT);
        }
        /* reset after the status line: still a transport failure */
        S3bError mid = mk(-ECONNRESET, 200, "", "");
        assert_int_equal(aws_retry_classify(&mid), AWS_RETRY_TRANSIENT);
        for (size_t i = 0; i < ELEMENTSOF(final); i++) {
                S3bError e = mk(final[i], 0, "", "");

                assert_int_equal(aws_retry_classify(&e), AWS_RETRY_NO);
        }
}

static void test_classify_final_and_skew(void **state) {
        S3bError v = mk(-EINVAL, 400, "ValidationException", "");
        S3bError nf = mk(-ENOENT, 404, "NoSuchKey", "");
        S3bError denied = mk(-EACCES, 403, "AccessDenied", "");
        S3bError skew = mk(-EACCES, 403, "RequestTimeTooSkewed", "The difference is too large.");
        S3bError expired = mk(-EINVAL, 400, "InvalidSignatureException",
                              "Signature expired: 20260101T000000Z is now earlier than ...");
        S3bError badsig = mk(-EINVAL, 400, "InvalidSignatureException",
                             "The request signature we calculated does not match");
        S3bError s3exp = mk(-EACCES, 403, "SignatureDoesNotMatch", "Signature expired");

        assert_int_equal(aws_retry_classify(&v), AWS_RETRY_NO);
        assert_int_equal(aws_retry_classify(&nf), AWS_RETRY_NO);
        assert_int_equal(aws_retry_classify(&denied), AWS_RETRY_NO);
        assert_int_equal(aws_retry_classify(&skew), AWS_RETRY_CLOCK_SKEW);
        assert_int_equal(aws_retry_classify(&expired), AWS_RETRY_CLOCK_SKEW);
        assert_int_equal(aws_retry_classify(&badsig), AWS_RETRY_NO);
        assert_int_equal(aws_retry_classify(&s3exp), AWS_RETRY_CLOCK_SKEW);
        assert_int_equal(aws_retry_classify(NULL), AWS_RETRY_NO);
}

static void test_backoff_bounds(void **state) {
        AwsRng r;
        uint64_t max_seen[8] = {};

        aws_rng_seed(&r, 42);
        for (int k = 0; k < 2000; k++)
                for (unsigned retry = 1; retry <= 8; retry++) {
                        uint64_t d = aws_retry_backoff_ms(&r, retry, 100, 1000);
                        uint64_t ceiling = MIN((uint64_t) 100 << (retry - 1), 1000);

                        assert_true(d <= ceiling);
                        max_seen[retry - 1] = MAX(max_seen[retry - 1], d);
                }
        /* full jitter reaches close to the ceiling, so it is not stuck at a constant */
        assert_true(max_seen[0] >= 90);
        assert_true(max_seen[7] >= 950);
        /* defaults: base 1 s, cap 20 s; huge retry numbers stay capped */
        for (int k = 0; k < 100; k++) {
                assert_true(aws_retry_backoff_ms(&r, 1, 0, 0) <= 1000);
                assert_true(aws_retry_backoff_ms(&r, 200, 0, 0) <= 20000);
        }
}

static void test_rng_independent_and_seeded(void **state) {
        AwsRng a, b, c;
        int same = 0;

        aws_rng_seed(&a, 7);
        aws_rng_seed(&b, 7);
        for (int i = 0; i < 10; i++)
                assert_int_equal(aws_rng_next(&a), aws_rng_next(&b));
        aws_rng_seed(&a, 0);
        aws_rng_seed(&c, 0);
        for (int i = 0; i < 10; i++)
                same += aws_rng_next(&a) == aws_rng_next(&c);
        assert_true(same < 10);
        for (int i = 0; i < 1000; i++)
                assert_true(aws_rng_uniform(&a, 3) <= 3);
        assert_int_equal(aws_rng_uniform(&a, 0), 0);
}

static void test_http_date(void **state) {
        /* the three HTTP forms of RFC 7231 7.1.1.1 and both ISO 8601 spellings AWS uses */
        static const struct {
                const char *s;
                int r;
                time_t t;
        } cases[] = {
                { "Sun, 06 Nov 1994 08:49:37 GMT", 0, 784111777 },
                { "Sunday, 06-Nov-94 08:49:37 GMT", 0, 784111777 },
                { "Sun Nov  6 08:49:37 1994", 0, 784111777 },
                { "19941106T084937Z", 0, 784111777 },
                { "1994-11-06T08:49:37.123Z", 0, 784111777 },
                { "Sun, 29 Nov 2026 07:43:54 GMT", 0, 1795938234 },
                { "Sun, 06 Foo 1994 08:49:37 GMT", -EINVAL, 0 },
                { "Sun, 06 Nov 1994 25:49:37 GMT", -EINVAL, 0 },
                { "Sun, 06 Nov 1994 08:49:37", -EINVAL, 0 },
                { "1994-11-06T08:49:37", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { NULL, -EINVAL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                time_t t = 12345;

                if (aws_parse_http_date(cases[i].s, &t) != cases[i].r ||
                    t != (cases[i].r < 0 ? 12345 : cases[i].t))
                        fail_msg("aws_parse_http_date(\"%s\"): got time %lld",
                                 cases[i].s ? cases[i].s : "(null)", (long long) t);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_classify_throttling),
                cmocka_unit_test(test_classify_transient),
                cmocka_unit_test(test_classify_transport),
                cmocka_unit_test(test_classify_final_and_skew),
                cmocka_unit_test(test_backoff_bounds),
                cmocka_unit_test(test_rng_independent_and_seeded),
                cmocka_unit_test(test_http_date),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
