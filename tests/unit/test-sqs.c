/* The SQS service file against the python test server's SQS endpoint (http-test-server.py):
 * how ReceiveMessage answers are read (good, corrupted, unusable, FIFO, skipped entries), how
 * batch results map back per entry (partial failures, an entry SQS left out), and the AWS JSON
 * 1.0 request each call sends (X-Amz-Target, Content-Type, signed with the session token, body),
 * as the server saw
 * it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/sqs.h"
#include "common/cleanup.h"
#include "pyserver.h"

#define QURL "https://sqs.eu-west-1.amazonaws.com/123456789012/inbound"

#define TOKEN "IQoJb3JpZ2luX2VjEXAMPLE+sqs/session=="

/* session credentials, as the daemon has on EC2 or ECS; nothing else may be read */
static char *const test_env[] = {
        "AWS_SHARED_CREDENTIALS_FILE=/nonexistent",
        "AWS_CONFIG_FILE=/nonexistent",
        "AWS_EC2_METADATA_DISABLED=true",
        "AWS_ACCESS_KEY_ID=ASIAEXAMPLESQS",
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "AWS_SESSION_TOKEN=" TOKEN,
        NULL,
};

typedef struct Fixture {
        PyServer server;
        AwsContext *ctx;
        AwsClient *client;
        HttpClient *http;               /* for the server's request log */
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        S3bError err = {};

        assert_non_null(f);
        assert_int_equal(pyserver_start(&f->server, TEST_SRCDIR "/tests/unit/http-test-server.py",
                                        NULL), 0);
        assert_int_equal(aws_context_new(&(AwsContextOptions) {
                .region = "eu-west-1",
                .endpoint_sqs = f->server.url,
                .max_attempts = 1,
                .request_timeout_ms = 5000,
                .env = aws_env_strv(test_env),
        }, &f->ctx, &err), 0);
        assert_int_equal(aws_client_new(f->ctx, &f->client, &err), 0);
        assert_int_equal(http_client_new(&f->http, NULL, &err), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        http_client_free(f->http);
        aws_client_free(f->client);
        aws_context_unref(f->ctx);
        pyserver_stop(&f->server);
        free(f);
        return 0;
}

/* How many SQS requests the server logged, and the last one (NULL if none; caller deletes). */
static cJSON *last_request(Fixture *f, size_t *ret_count) {
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        _cleanup_(cJSON_Deletep) cJSON *log = NULL;
        char url[96];
        S3bError err = {};
        cJSON *last;

        snprintf(url, sizeof(url), "%s/log?step=sqs", f->server.url);
        assert_int_equal(http_client_send(f->http, &(HttpRequest) { .method = "GET", .url = url },
                                          &resp, &err), 0);
        assert_int_equal(resp.status, 200);
        log = cJSON_ParseWithLength(resp.body.data, resp.body.len);
        assert_true(cJSON_IsArray(log));
        *ret_count = (size_t) cJSON_GetArraySize(log);
        if (*ret_count == 0)
                return NULL;
        last = cJSON_DetachItemFromArray(log, cJSON_GetArraySize(log) - 1);
        assert_non_null(last);
        return last;
}

/* Checks the envelope of the last request and returns its parsed JSON body. */
static cJSON *expect_request(Fixture *f, const char *action) {
        _cleanup_(cJSON_Deletep) cJSON *req = NULL;
        char target[64];
        size_t count;
        const cJSON *h;
        cJSON *body;

        req = last_request(f, &count);
        assert_non_null(req);
        h = cJSON_GetObjectItem(req, "headers");       /* names in lower case */
        snprintf(target, sizeof(target), "AmazonSQS.%s", action);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(h, "x-amz-target")), target);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(h, "content-type")),
                            "application/x-amz-json-1.0");
        assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(h, "authorization")),
                               "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLESQS/"));
        assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(h, "authorization")),
                               "/eu-west-1/sqs/aws4_request"));
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(h, "x-amz-security-token")), TOKEN);
        body = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItem(req, "body")));
        assert_true(cJSON_IsObject(body));
        /* a configured endpoint gets the queue only in the body */
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(body, "QueueUrl")), QURL);
        return body;
}

static double number(const cJSON *o, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

        assert_true(cJSON_IsNumber(v));
        return v->valuedouble;
}

static bool array_has(const cJSON *a, const char *s) {
        const cJSON *e;

        cJSON_ArrayForEach(e, a)
                if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0)
                        return true;
        return false;
}

static void test_receive_parsing(void **state) {
        Fixture *f = *state;
        _cleanup_(cJSON_Deletep) cJSON *body = NULL;
        SqsMessage *m = NULL;
        S3bError err = {};
        size_t n = 0;
        const cJSON *names;

        /* five entries: one without a receipt handle is skipped, the other four come back */
        assert_int_equal(sqs_receive_message(f->client, QURL, 10, 0, 30, &m, &n, &err), 1);
        assert_int_equal(n, 4);
        assert_string_equal(m[0].message_id, "m-1");
        assert_string_equal(m[0].receipt_handle, "rh-1");
        assert_string_equal(m[0].body, "{\"Records\":[]}");
        assert_int_equal(m[0].receive_count, 1);
        assert_null(m[0].invalid);
        assert_null(m[0].message_group_id);
        /* a body that fails its MD5OfBody is withheld, the message kept for redrive */
        assert_string_equal(m[1].receipt_handle, "rh-2");
        assert_null(m[1].body);
        assert_non_null(strstr(m[1].invalid, "MD5OfBody"));
        assert_string_equal(m[2].message_group_id, "grades/2024");
        assert_string_equal(m[2].sequence_number, "18849496460467696128");
        assert_int_equal(m[2].receive_count, 4);
        assert_null(m[2].invalid);
        assert_non_null(strstr(m[3].invalid, "ApproximateReceiveCount"));
        sqs_messages_free(m, n);

        body = expect_request(f, "ReceiveMessage");
        assert_int_equal(number(body, "MaxNumberOfMessages"), 10);
        assert_int_equal(number(body, "WaitTimeSeconds"), 0);
        assert_int_equal(number(body, "VisibilityTimeout"), 30);
        names = cJSON_GetObjectItem(body, "MessageSystemAttributeNames");
        assert_true(array_has(names, "ApproximateReceiveCount"));
        assert_true(array_has(names, "MessageGroupId"));
        assert_true(array_has(names, "SequenceNumber"));
        cJSON_Delete(TAKE_PTR(body));

        /* visibility 0: the queue's default, so the parameter is left out */
        assert_int_equal(sqs_receive_message(f->client, QURL, 1, 0, 0, &m, &n, &err), 1);
        sqs_messages_free(m, n);
        body = expect_request(f, "ReceiveMessage");
        assert_null(cJSON_GetObjectItem(body, "VisibilityTimeout"));
        assert_int_equal(number(body, "MaxNumberOfMessages"), 1);
}

/* Entries[i] of the last request: Id "i", the receipt handle given, the timeout if any. */
static void expect_entries(Fixture *f, const char *action, const char *const *handles, size_t n,
                           const unsigned *timeouts) {
        _cleanup_(cJSON_Deletep) cJSON *body = expect_request(f, action);
        const cJSON *entries = cJSON_GetObjectItem(body, "Entries");

        assert_int_equal(cJSON_GetArraySize(entries), n);
        for (size_t i = 0; i < n; i++) {
                const cJSON *e = cJSON_GetArrayItem(entries, (int) i);
                char id[8];

                snprintf(id, sizeof(id), "%zu", i);
                assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(e, "Id")), id);
                assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(e, "ReceiptHandle")),
                                    handles[i]);
                if (timeouts)
                        assert_int_equal(number(e, "VisibilityTimeout"), timeouts[i]);
                else
                        assert_null(cJSON_GetObjectItem(e, "VisibilityTimeout"));
        }
}

static void test_delete_batch_partial_failure(void **state) {
        Fixture *f = *state;
        const char *handles[] = { "rh-1", "bad-2", "lost-3", "rh-4" };
        SqsBatchResult res[4];
        S3bError err = {};

        /* one refused, one SQS did not report at all: two failures, each entry on its own */
        assert_int_equal(sqs_delete_message_batch(f->client, QURL, handles, 4, res, &err), 2);
        assert_int_equal(res[0].code, 0);
        assert_string_equal(res[0].aws_code, "");
        assert_true(res[1].code < 0);
        assert_string_equal(res[1].aws_code, "ReceiptHandleIsInvalid");
        assert_int_equal(res[2].code, -EIO);
        assert_string_equal(res[2].aws_code, "MissingResult");
        assert_int_equal(res[3].code, 0);
        expect_entries(f, "DeleteMessageBatch", handles, 4, NULL);
}

static void test_change_visibility(void **state) {
        Fixture *f = *state;
        _cleanup_(cJSON_Deletep) cJSON *body = NULL;
        const char *handles[] = { "rh-1", "bad-2" };
        const unsigned timeouts[] = { 0, 43200 };
        const SqsVisibilityEntry entries[] = { { "rh-1", 0 }, { "bad-2", 43200 } };
        SqsBatchResult res[2];
        S3bError err = {};

        assert_int_equal(sqs_change_message_visibility(f->client, QURL, "rh-1", 120, &err), 0);
        body = expect_request(f, "ChangeMessageVisibility");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(body, "ReceiptHandle")), "rh-1");
        assert_int_equal(number(body, "VisibilityTimeout"), 120);

        /* an expired handle: the AWS error code and status reach the caller */
        assert_true(sqs_change_message_visibility(f->client, QURL, "gone", 0, &err) < 0);
        assert_string_equal(err.aws_code, "ReceiptHandleIsInvalid");
        assert_int_equal(err.http_status, 400);
        assert_non_null(strstr(err.message, "ChangeMessageVisibility"));

        s3b_error_clear(&err);
        assert_int_equal(sqs_change_visibility_entries(f->client, QURL, entries, 2, NULL, res,
                                                       &err), 1);
        assert_int_equal(res[0].code, 0);
        assert_string_equal(res[1].aws_code, "ReceiptHandleIsInvalid");
        expect_entries(f, "ChangeMessageVisibilityBatch", handles, 2, timeouts);
}

static void test_delete_message(void **state) {
        Fixture *f = *state;
        _cleanup_(cJSON_Deletep) cJSON *body = NULL;
        S3bError err = {};

        assert_int_equal(sqs_delete_message(f->client, QURL, "rh-9", &err), 0);
        body = expect_request(f, "DeleteMessage");
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(body, "ReceiptHandle")), "rh-9");
        assert_null(cJSON_GetObjectItem(body, "VisibilityTimeout"));
}

/* Arguments SQS would refuse never leave the process, and each says why. */
static void test_bad_arguments_not_sent(void **state) {
        Fixture *f = *state;
        const char *handles[SQS_BATCH_MAX + 1] = { "a", "b", "c", "d", "e", "f", "g", "h", "i",
                                                   "j", "k" };
        const char *empty[] = { "a", "" };
        SqsBatchResult res[SQS_BATCH_MAX + 1];
        SqsMessage *m = NULL;
        S3bError err = {};
        size_t before, after, n;

        cJSON_Delete(last_request(f, &before));
        assert_int_equal(sqs_delete_message_batch(f->client, QURL, handles, 11, res, &err), -EINVAL);
        assert_string_not_equal(err.message, "");
        s3b_error_clear(&err);
        assert_int_equal(sqs_delete_message_batch(f->client, QURL, empty, 2, res, &err), -EINVAL);
        assert_non_null(strstr(err.message, "receipt handle"));
        s3b_error_clear(&err);
        assert_int_equal(sqs_change_message_visibility(f->client, QURL, "h", 43201, &err), -EINVAL);
        assert_string_not_equal(err.message, "");
        s3b_error_clear(&err);
        assert_int_equal(sqs_receive_message(f->client, QURL, 11, 0, 0, &m, &n, &err), -EINVAL);
        assert_string_not_equal(err.message, "");
        s3b_error_clear(&err);
        assert_int_equal(sqs_delete_message(f->client, QURL, "", &err), -EINVAL);
        assert_string_not_equal(err.message, "");
        cJSON_Delete(last_request(f, &after));
        assert_int_equal(after, before);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_receive_parsing),
                cmocka_unit_test(test_delete_batch_partial_failure),
                cmocka_unit_test(test_change_visibility),
                cmocka_unit_test(test_delete_message),
                cmocka_unit_test(test_bad_arguments_not_sent),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
