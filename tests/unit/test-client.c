/* The shared request path against a scripted HTTP server in a thread: what is sent (signed
 * headers, Host with port, X-Amz-Target), how each answer is classified, how often and how
 * fast it retries, clock-skew correction from Date, the CRC32 check, cancel. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "common/aws/client.h"
#include "aws-fixture.h"
#include "common/time-util.h"

static int describe_crc(Fixture *f, bool check_crc32, cJSON **ret, S3bError *err) {
        static const char body[] = "{\"TableName\":\"t\"}";

        return aws_client_json_call(f->client, &(AwsJsonCall) {
                .service = AWS_SERVICE_DYNAMODB,
                .target = "DynamoDB_20120810.DescribeTable",
                .body = body,
                .body_len = sizeof(body) - 1,
                .check_crc32 = check_crc32,
        }, ret, err);
}

static int describe(Fixture *f, cJSON **ret, S3bError *err) {
        return describe_crc(f, false, ret, err);
}

static void test_retries_then_success(void **state) {
        /* the reset comes first: on a reused connection libcurl itself resends once */
        Fixture f = { .server = { .n_script = 3, .script = {
                { 0 },
                { 503, NULL, "" },
                { 200, "x-amzn-RequestId: RID\r\n", "{\"Table\":{}}" },
        } } };
        AwsClientStats st;
        S3bError err = {};
        cJSON *resp = NULL;
        char host[64];

        fixture_start(&f, 3);
        assert_int_equal(describe(&f, &resp, &err), 0);
        assert_non_null(cJSON_GetObjectItem(resp, "Table"));
        cJSON_Delete(resp);
        aws_client_get_stats(f.client, &st);
        assert_int_equal(st.service[AWS_SERVICE_DYNAMODB].requests, 3);
        assert_int_equal(st.service[AWS_SERVICE_DYNAMODB].retries, 2);
        assert_int_equal(st.service[AWS_SERVICE_DYNAMODB].errors, 0);
        assert_int_equal(st.n_codes, 2);                /* HTTP503 and a connection failure */
        /* what went on the wire */
        snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%u\r\n", f.server.port);
        for (size_t i = 0; i < 3; i++) {
                const char *h = f.server.requests[i];

                assert_true(strncmp(h, "POST / HTTP/1.1\r\n", 17) == 0);
                assert_non_null(strstr(h, host));
                assert_non_null(strcasestr(h, "\r\nX-Amz-Target: DynamoDB_20120810.DescribeTable\r\n"));
                assert_non_null(strcasestr(h, "\r\nContent-Type: application/x-amz-json-1.0\r\n"));
                assert_non_null(strstr(h, "Credential=AKIDEXAMPLE/"));
                assert_non_null(strstr(h, "/eu-west-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="));
                assert_null(strcasestr(h, "\r\nExpect:"));
        }
        fixture_stop(&f);
}

static void test_final_error_fields(void **state) {
        Fixture f = { .server = { .n_script = 1, .script = {
                { 400, "x-amzn-RequestId: REQ-7\r\n",
                  "{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"message\":\"bad key\"}" },
        } } };
        S3bError err = {};
        cJSON *resp = (cJSON *) 0x1;

        fixture_start(&f, 3);
        assert_int_equal(describe(&f, &resp, &err), -EINVAL);
        assert_ptr_equal(resp, (cJSON *) 0x1);          /* untouched */
        assert_int_equal(err.http_status, 400);
        assert_string_equal(err.aws_code, "ValidationException");
        assert_string_equal(err.request_id, "REQ-7");
        assert_non_null(strstr(err.message, "bad key"));
        fixture_stop(&f);
}

static void test_throttled_until_attempts_run_out(void **state) {
        static const char *throttle = "{\"__type\":\"x#ThrottlingException\",\"message\":\"slow\"}";
        Fixture f = { .server = { .n_script = 2, .script = {
                { 400, NULL, NULL }, { 400, NULL, NULL },
        } } };
        usec_t t0;
        AwsClientStats st;
        S3bError err = {};
        cJSON *resp = NULL;
        long ms;

        f.server.script[0].body = f.server.script[1].body = throttle;
        fixture_start(&f, 2);
        t0 = now(CLOCK_MONOTONIC);
        assert_int_equal(describe(&f, &resp, &err), -EAGAIN);
        ms = (long) ((now(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        assert_true(ms < 1000);                         /* one backoff of at most 20 ms */
        aws_client_get_stats(f.client, &st);
        assert_int_equal(st.service[AWS_SERVICE_DYNAMODB].requests, 2);
        assert_int_equal(st.service[AWS_SERVICE_DYNAMODB].throttled, 1);
        assert_int_equal(st.service[AWS_SERVICE_DYNAMODB].errors, 1);
        assert_string_equal(st.codes[0].code, "ThrottlingException");
        assert_int_equal(st.codes[0].count, 2);
        fixture_stop(&f);
}

static const char *amz_date(const char *head, char out[17]) {
        const char *p = strcasestr(head, "\r\nX-Amz-Date: ");

        assert_non_null(p);
        memcpy(out, p + 14, 16);
        out[16] = '\0';
        return out;
}

static void test_clock_skew_from_date(void **state) {
        char date_hdr[128], d1[17], d2[17];
        time_t ahead = time(NULL) + 3 * 3600;
        struct tm tm;
        Fixture f = { .server = { .n_script = 2 } };
        S3bError err = {};
        cJSON *resp = NULL;
        time_t t1, t2;

        gmtime_r(&ahead, &tm);
        strftime(date_hdr, sizeof(date_hdr), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        f.server.script[0] = (Answer) { 400, date_hdr,
                "{\"__type\":\"com.amazon.coral.service#InvalidSignatureException\","
                "\"message\":\"Signature expired: 20260101T000000Z is now earlier than 20260101T010000Z\"}" };
        f.server.script[1] = (Answer) { 200, NULL, "{}" };
        fixture_start(&f, 1);                           /* the skew retry is owed, not spent */
        assert_int_equal(describe(&f, &resp, &err), 0);
        cJSON_Delete(resp);
        assert_true(llabs(aws_context_clock_offset(f.ctx) - 3 * 3600) <= 5);
        /* the retry was signed with the server's time */
        assert_int_equal(aws_parse_http_date(amz_date(f.server.requests[0], d1), &t1), 0);
        assert_int_equal(aws_parse_http_date(amz_date(f.server.requests[1], d2), &t2), 0);
        assert_true(llabs((long long) (t2 - t1) - 3 * 3600) <= 5);
        fixture_stop(&f);
}

static void test_crc32_mismatch_retried(void **state) {
        char good[64];
        Fixture f = { .server = { .n_script = 2 } };
        S3bError err = {};
        cJSON *resp = NULL;

        snprintf(good, sizeof(good), "x-amz-crc32: %lu\r\n", crc32(0L, (const Bytef *) "{\"a\":1}", 7));
        f.server.script[0] = (Answer) { 200, "x-amz-crc32: 1\r\n", "{\"a\":2}" };
        f.server.script[1] = (Answer) { 200, good, "{\"a\":1}" };
        fixture_start(&f, 3);
        assert_int_equal(describe_crc(&f, true, &resp, &err), 0);
        assert_int_equal(cJSON_GetObjectItem(resp, "a")->valueint, 1);
        assert_int_equal(f.server.served, 2);
        cJSON_Delete(resp);
        fixture_stop(&f);
}

/* The check is the service's to ask for: without the flag the header is not read. */
static void test_crc32_only_when_asked(void **state) {
        Fixture f = { .server = { .n_script = 1, .script = {
                { 200, "x-amz-crc32: 1\r\n", "{\"a\":2}" },
        } } };
        S3bError err = {};
        cJSON *resp = NULL;

        fixture_start(&f, 3);
        assert_int_equal(describe_crc(&f, false, &resp, &err), 0);
        assert_int_equal(cJSON_GetObjectItem(resp, "a")->valueint, 2);
        cJSON_Delete(resp);
        fixture_stop(&f);
}

static void test_crc32_mismatch_every_attempt(void **state) {
        Fixture f = { .server = { .n_script = 2, .script = {
                { 200, "x-amz-crc32: 1\r\n", "{\"a\":2}" },
                { 200, "x-amz-crc32: 1\r\n", "{\"a\":2}" },
        } } };
        S3bError err = {};
        cJSON *resp = NULL;

        fixture_start(&f, 2);
        assert_int_equal(describe_crc(&f, true, &resp, &err), -EIO);
        assert_null(resp);
        assert_string_equal(err.aws_code, AWS_CODE_CRC32_MISMATCH);
        assert_int_equal(f.server.served, 2);
        fixture_stop(&f);
}

static void test_not_json(void **state) {
        Fixture f = { .server = { .n_script = 1, .script = { { 200, NULL, "[1,2]" } } } };
        S3bError err = {};
        cJSON *resp = NULL;

        fixture_start(&f, 3);
        assert_int_equal(describe(&f, &resp, &err), -EBADMSG);
        assert_int_equal(err.http_status, 200);
        fixture_stop(&f);
}

static void test_backoff_and_cancellable_sleep(void **state) {
        Fixture f = { .server = { .n_script = 0 } };
        atomic_bool cancel;
        usec_t t0;
        S3bError err = {};

        fixture_start(&f, 3);
        for (int i = 0; i < 100; i++) {
                assert_true(aws_client_backoff_ms(f.client, 1) <= 20);
                assert_true(aws_client_backoff_ms(f.client, 9) <= 40);
        }
        atomic_init(&cancel, true);
        assert_int_equal(aws_client_set_cancel(f.client, &cancel, &err), 0);
        t0 = now(CLOCK_MONOTONIC);
        assert_int_equal(aws_client_sleep_ms(f.client, 20000), -ECANCELED);
        assert_true(now(CLOCK_MONOTONIC) - t0 < 2 * USEC_PER_SEC);
        atomic_store(&cancel, false);
        assert_int_equal(aws_client_sleep_ms(f.client, 10), 0);
        fixture_stop(&f);
}

static void test_context_rejects_bad_setup(void **state) {
        AwsContext *ctx = NULL;
        S3bError err = {};

        assert_int_equal(aws_context_new(&(AwsContextOptions) {
                .region = "eu-west-1", .endpoint_s3 = "localhost:9000", .env = aws_env_strv(test_env),
        }, &ctx, &err), -EINVAL);
        assert_null(ctx);
        assert_int_equal(aws_context_new(&(AwsContextOptions) {
                .region = "EU_WEST", .env = aws_env_strv(test_env),
        }, &ctx, &err), -EINVAL);
        assert_int_equal(aws_context_new(&(AwsContextOptions) {
                .region = "eu-west-1", .env = aws_env_strv(test_env),
        }, &ctx, &err), 0);
        assert_string_equal(aws_context_endpoint(ctx, AWS_SERVICE_SQS)->host, "sqs.eu-west-1.amazonaws.com");
        assert_int_equal(aws_context_limits(ctx)->max_attempts, AWS_MAX_ATTEMPTS_DEFAULT);
        assert_null(aws_context_service_options(ctx, AWS_SERVICE_S3, 1));
        aws_context_unref(ctx);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_retries_then_success),
                cmocka_unit_test(test_final_error_fields),
                cmocka_unit_test(test_throttled_until_attempts_run_out),
                cmocka_unit_test(test_clock_skew_from_date),
                cmocka_unit_test(test_crc32_mismatch_retried),
                cmocka_unit_test(test_crc32_only_when_asked),
                cmocka_unit_test(test_crc32_mismatch_every_attempt),
                cmocka_unit_test(test_not_json),
                cmocka_unit_test(test_backoff_and_cancellable_sleep),
                cmocka_unit_test(test_context_rejects_bad_setup),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
