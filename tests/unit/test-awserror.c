#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/awserror.h"

static int parse(long status, const AwsErrorHeaders *h, const char *body, S3bError *e) {
        s3b_error_clear(e);
        return aws_error_from_response(e, status, h, body, body ? strlen(body) : 0);
}

static void test_json_dynamodb(void **state) {
        AwsErrorHeaders h = { .request_id = "RID-1" };
        S3bError e;

        assert_int_equal(parse(400, &h, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
                                        "\"message\":\"Requested resource not found\"}", &e), -ENOENT);
        assert_int_equal(e.code, -ENOENT);
        assert_int_equal(e.http_status, 400);
        assert_string_equal(e.aws_code, "ResourceNotFoundException");
        assert_string_equal(e.request_id, "RID-1");
        assert_non_null(strstr(e.message, "Requested resource not found"));

        assert_int_equal(parse(400, NULL, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\","
                                          "\"Message\":\"slow\"}", &e), -EAGAIN);
        assert_string_equal(e.aws_code, "ProvisionedThroughputExceededException");
        assert_int_equal(parse(400, NULL, "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
                                          "\"message\":\"Item size has exceeded the maximum allowed size\"}", &e),
                         -EINVAL);
        assert_string_equal(e.aws_code, "ValidationException");
}

static void test_json_sqs(void **state) {
        AwsErrorHeaders h = {
                .request_id = "abc",
                .query_error = "AWS.SimpleQueueService.NonExistentQueue;Sender",
        };
        S3bError e;

        assert_int_equal(parse(400, &h, "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\","
                                        "\"message\":\"The specified queue does not exist.\"}", &e), -ENOENT);
        assert_string_equal(e.aws_code, "QueueDoesNotExist");
        /* no body: the query-compatible header still names the error */
        assert_int_equal(parse(400, &h, NULL, &e), -ENOENT);
        assert_string_equal(e.aws_code, "AWS.SimpleQueueService.NonExistentQueue");
        /* REST-JSON style header with a URL suffix */
        h = (AwsErrorHeaders) { .error_type = "ValidationException:http://internal.amazon.com/coral/" };
        assert_int_equal(parse(400, &h, "", &e), -EINVAL);
        assert_string_equal(e.aws_code, "ValidationException");
}

static void test_xml_s3(void **state) {
        AwsErrorHeaders h = { .request_id = NULL };
        S3bError e;

        assert_int_equal(parse(404, &h, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                                        "<Message>The specified key does not exist.</Message><Key>a b</Key>"
                                        "<RequestId>4442587FB7D0A2F9</RequestId><HostId>x</HostId></Error>", &e),
                         -ENOENT);
        assert_string_equal(e.aws_code, "NoSuchKey");
        assert_string_equal(e.request_id, "4442587FB7D0A2F9");
        assert_string_equal(e.message, "NoSuchKey: The specified key does not exist. (HTTP 404)");

        assert_int_equal(parse(503, NULL, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>", &e),
                         -EAGAIN);
        assert_int_equal(parse(403, NULL, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>", &e),
                         -EACCES);
        assert_int_equal(parse(416, NULL, "<Error><Code>InvalidRange</Code></Error>", &e), -ERANGE);
        assert_int_equal(parse(400, NULL, "<Error><Code>RequestTimeout</Code></Error>", &e), -ETIMEDOUT);
}

static void test_xml_query(void **state) {
        S3bError e;

        assert_int_equal(parse(400, NULL,
                               "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"
                               "<Error><Type>Sender</Type><Code>InvalidParameter</Code>"
                               "<Message>Invalid parameter: Subject</Message></Error>"
                               "<RequestId>9f1c</RequestId></ErrorResponse>", &e), -EINVAL);
        assert_string_equal(e.aws_code, "InvalidParameter");
        assert_string_equal(e.request_id, "9f1c");
        assert_int_equal(parse(404, NULL, "<ErrorResponse><Error><Code>NotFound</Code><Message>Topic does not exist</Message>"
                                          "</Error><RequestId>r</RequestId></ErrorResponse>", &e), -ENOENT);
        /* EC2 style */
        assert_int_equal(parse(503, NULL, "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
                                          "</Error></Errors><RequestID>q</RequestID></Response>", &e), -EAGAIN);
        assert_string_equal(e.request_id, "q");
}

static void test_garbage_bodies(void **state) {
        S3bError e;

        assert_int_equal(parse(502, NULL, "<html><body>Bad Gateway</body></html>", &e), -EIO);
        assert_string_equal(e.aws_code, "");
        assert_int_equal(e.http_status, 502);
        assert_string_equal(e.message, "HTTP 502 without an AWS error body");
        assert_int_equal(parse(500, NULL, "{\"__type\": 7}", &e), -EIO);
        assert_int_equal(parse(500, NULL, "{not json", &e), -EIO);
        assert_int_equal(parse(400, NULL, "<Error><Code>X</Code>", &e), -EINVAL);   /* truncated */
        assert_int_equal(parse(404, NULL, NULL, &e), -ENOENT);                       /* HEAD */
        assert_int_equal(parse(429, NULL, "", &e), -EAGAIN);
        assert_int_equal(parse(301, NULL, "", &e), -EPROTO);
        /* err may be NULL */
        assert_int_equal(aws_error_from_response(NULL, 403, NULL, NULL, 0), -EACCES);
}

static void test_message_sanitized(void **state) {
        S3bError e;

        /* DynamoDB echoes the canonical request (with the session token header) on a bad
         * signature: it must not reach a log line */
        assert_int_equal(parse(400, NULL, "{\"__type\":\"com.amazon.coral.service#InvalidSignatureException\","
                                          "\"message\":\"The request signature we calculated does not match the signature you provided.\\n\\n"
                                          "The Canonical String for this request should have been\\n'POST\\n/\\n\\nx-amz-security-token:SECRETTOKEN\\n'\"}",
                               &e), -EINVAL);
        assert_null(strstr(e.message, "SECRETTOKEN"));
        assert_null(strchr(e.message, '\n'));
        assert_non_null(strstr(e.message, "does not match the signature you provided."));
}

static void test_xml_200(void **state) {
        const char *err200 = "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code>"
                             "<Message>We encountered an internal error.</Message>"
                             "<RequestId>R</RequestId></Error>";
        S3bError e = {};

        assert_int_equal(aws_error_from_xml_200(&e, 200, NULL, err200, strlen(err200)), 1);
        assert_int_equal(e.code, -EIO);
        assert_string_equal(e.aws_code, "InternalError");
        assert_int_equal(e.http_status, 200);
        s3b_error_clear(&e);
        assert_int_equal(aws_error_from_xml_200(&e, 200, NULL, "<Error><Code>SlowDown</Code></Error>", 36), 1);
        assert_int_equal(e.code, -EAGAIN);
        s3b_error_clear(&e);
        assert_int_equal(aws_error_from_xml_200(&e, 200, NULL, "<Error></Error>", 15), 1);
        assert_string_equal(e.aws_code, "InternalError");

        const char *ok = "<CopyObjectResult><ETag>\"x\"</ETag></CopyObjectResult>";
        s3b_error_clear(&e);
        assert_int_equal(aws_error_from_xml_200(&e, 200, NULL, ok, strlen(ok)), 0);
        assert_int_equal(e.code, 0);
        assert_int_equal(aws_error_from_xml_200(&e, 200, NULL, "garbage", 7), -EBADMSG);
        assert_int_equal(e.code, 0);
}

static void test_normalize(void **state) {
        char out[16];

        aws_error_code_normalize("com.amazonaws.x#Short", out, sizeof(out));
        assert_string_equal(out, "Short");
        aws_error_code_normalize("  Padded ", out, sizeof(out));
        assert_string_equal(out, "Padded");
        aws_error_code_normalize("AVeryLongErrorCodeName", out, sizeof(out));
        assert_string_equal(out, "AVeryLongErrorC");
        aws_error_code_normalize(NULL, out, sizeof(out));
        assert_string_equal(out, "");
        assert_true(aws_error_code_is_throttling("RequestThrottledSomething"));
        assert_false(aws_error_code_is_throttling(""));
        assert_false(aws_error_code_is_throttling("AccessDenied"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_dynamodb),
                cmocka_unit_test(test_json_sqs),
                cmocka_unit_test(test_xml_s3),
                cmocka_unit_test(test_xml_query),
                cmocka_unit_test(test_garbage_bodies),
                cmocka_unit_test(test_message_sanitized),
                cmocka_unit_test(test_xml_200),
                cmocka_unit_test(test_normalize),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
