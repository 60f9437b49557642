#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/event.h"

/* The body real S3 sends for the key "grades/2024 spring/class A+B.csv" (testenv.md). */
#define REAL_S3_BODY                                                                                    \
        "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"awsRegion\":\"us-east-1\","     \
        "\"eventTime\":\"2026-11-29T06:33:56.737Z\",\"eventName\":\"ObjectCreated:Put\",\"userIdentity\":" \
        "{\"principalId\":\"AWS:000000000000\"},\"requestParameters\":{\"sourceIPAddress\":\"127.0.0.1\"},"  \
        "\"responseElements\":{\"x-amz-request-id\":\"093D871FC11E474C\",\"x-amz-id-2\":\"EXAMPLE\"},"      \
        "\"s3\":{\"s3SchemaVersion\":\"1.0\",\"configurationId\":\"csv-to-sqs\",\"bucket\":{\"name\":"     \
        "\"landing\",\"ownerIdentity\":{\"principalId\":\"000000000000\"},\"arn\":\"arn:aws:s3:::landing\"}," \
        "\"object\":{\"key\":\"grades/2024+spring/class+A%2BB.csv\",\"size\":22,\"eTag\":"                 \
        "\"e4f949852a1a5409d31a149137095554\",\"sequencer\":\"00000661647A4CBBE9\"}}}]}"

static int parse(const char *body, S3EventBatch **ret, S3bError *err) {
        s3b_error_clear(err);
        return s3_event_parse(body, strlen(body), ret, err);
}

/* A one-record S3 body with the given event name and raw key. */
static char *s3_body(const char *event_name, const char *key) {
        Buf b = BUF_INIT(1 << 20);

        assert_int_equal(buf_printf(&b,
                "{\"Records\":[{\"eventSource\":\"aws:s3\",\"awsRegion\":\"eu-west-1\",\"eventTime\":\"t\","
                "\"eventName\":\"%s\",\"s3\":{\"bucket\":{\"name\":\"inbound\"},\"object\":{\"key\":\"%s\","
                "\"size\":5,\"eTag\":\"abc\",\"sequencer\":\"01\"}}}]}", event_name, key), 0);
        return buf_steal(&b);
}

static void test_real_s3_body(void **state) {
        S3EventBatch *b = NULL;
        S3bError err;

        assert_int_equal(parse(REAL_S3_BODY, &b, &err), S3EVENT_RECORDS);
        assert_non_null(b);
        assert_int_equal(b->source, S3EVENT_SOURCE_S3);
        assert_int_equal(b->n_records, 1);
        assert_int_equal(b->n_ignored, 0);
        assert_string_equal(b->records[0].bucket, "landing");
        assert_string_equal(b->records[0].key, "grades/2024 spring/class A+B.csv");
        assert_int_equal(b->records[0].size, 22);
        assert_string_equal(b->records[0].etag, "e4f949852a1a5409d31a149137095554");
        assert_string_equal(b->records[0].sequencer, "00000661647A4CBBE9");
        assert_string_equal(b->records[0].event_name, "ObjectCreated:Put");
        assert_string_equal(b->records[0].event_time, "2026-11-29T06:33:56.737Z");
        assert_string_equal(b->records[0].region, "us-east-1");
        assert_string_equal(b->records[0].version_id, "");
        assert_string_equal(b->sns_message_id, "");
        s3_event_batch_free(b);
}

static void test_multi_record_and_ignored(void **state) {
        const char *body =
                "{\"Records\":["
                "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"inb\"},"
                "\"object\":{\"key\":\"a.csv\",\"size\":1}}},"
                "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectRemoved:Delete\",\"s3\":{\"bucket\":{\"name\":\"inb\"},"
                "\"object\":{\"key\":\"gone.csv\",\"versionId\":\"v1\"}}},"
                "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:CompleteMultipartUpload\",\"s3\":{\"bucket\":"
                "{\"name\":\"inb\"},\"object\":{\"key\":\"caf%C3%A9+%E2%82%AC.csv\",\"size\":1073741824000}}}"
                "]}";
        _cleanup_(s3_event_batch_freep) S3EventBatch *b = NULL;
        S3bError err;

        assert_int_equal(parse(body, &b, &err), S3EVENT_RECORDS);
        assert_int_equal(b->n_records, 2);
        assert_int_equal(b->n_ignored, 1);
        assert_string_equal(b->records[0].key, "a.csv");
        assert_string_equal(b->records[1].key, "café €.csv");
        assert_int_equal(b->records[1].size, 1073741824000LL);
        assert_string_equal(b->records[1].event_name, "ObjectCreated:CompleteMultipartUpload");
        assert_string_equal(b->records[1].etag, "");
        assert_string_equal(b->ignored[0].key, "gone.csv");
        assert_string_equal(b->ignored[0].event_name, "ObjectRemoved:Delete");
        assert_string_equal(b->ignored[0].version_id, "v1");
        assert_int_equal(b->ignored[0].size, -1);
}

static void test_only_removed(void **state) {
        _cleanup_free_ char *body = s3_body("ObjectRemoved:Delete", "x.csv");
        _cleanup_(s3_event_batch_freep) S3EventBatch *b = NULL;
        S3bError err;

        assert_int_equal(parse(body, &b, &err), S3EVENT_RECORDS);
        assert_int_equal(b->n_records, 0);
        assert_int_equal(b->n_ignored, 1);
}

/* Escapes s as a JSON string body (no quotes added). */
static char *json_escape(const char *s) {
        Buf b = BUF_INIT(1 << 21);

        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        assert_int_equal(buf_append_char(&b, '\\'), 0);
                assert_int_equal(buf_append_char(&b, *s), 0);
        }
        return buf_steal(&b);
}

static void test_sns_envelope(void **state) {
        _cleanup_free_ char *inner = json_escape(REAL_S3_BODY);
        _cleanup_(s3_event_batch_freep) S3EventBatch *b = NULL;
        S3EventBatch *raw = NULL;
        Buf body = BUF_INIT(1 << 21);
        S3bError err;

        assert_int_equal(buf_printf(&body,
                "{\"Type\":\"Notification\",\"MessageId\":\"5f8e-sns-id\",\"TopicArn\":"
                "\"arn:aws:sns:us-east-1:000000000000:uploads\",\"Subject\":\"Amazon S3 Notification\","
                "\"Message\":\"%s\",\"Timestamp\":\"2026-11-29T06:33:57.000Z\",\"SignatureVersion\":\"1\"}", inner), 0);
        assert_int_equal(parse(buf_str(&body), &b, &err), S3EVENT_RECORDS);
        assert_int_equal(b->source, S3EVENT_SOURCE_SNS);
        assert_string_equal(b->sns_message_id, "5f8e-sns-id");
        assert_int_equal(b->n_records, 1);
        assert_string_equal(b->records[0].key, "grades/2024 spring/class A+B.csv");
        buf_done(&body);

        /* RawMessageDelivery: the body is the S3 JSON itself */
        assert_int_equal(parse(REAL_S3_BODY, &raw, &err), S3EVENT_RECORDS);
        assert_int_equal(raw->source, S3EVENT_SOURCE_S3);
        assert_string_equal(raw->records[0].key, b->records[0].key);
        s3_event_batch_free(raw);
}

static void test_sns_wrapped_test_event_and_bad_message(void **state) {
        S3EventBatch *b = (S3EventBatch *) 0x1;
        S3bError err;

        assert_int_equal(parse("{\"Type\":\"Notification\",\"Message\":\"{\\\"Service\\\":\\\"Amazon S3\\\","
                               "\\\"Event\\\":\\\"s3:TestEvent\\\"}\"}", &b, &err), S3EVENT_TEST);
        assert_null(b);

        b = (S3EventBatch *) 0x1;
        assert_int_equal(parse("{\"Type\":\"Notification\",\"Message\":\"hello\"}", &b, &err), -EBADMSG);
        assert_ptr_equal(b, (S3EventBatch *) 0x1);
        assert_non_null(strstr(err.message, "SNS Message"));
        assert_int_equal(parse("{\"Type\":\"SubscriptionConfirmation\",\"Message\":\"x\"}", &b, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "SubscriptionConfirmation"));
        assert_int_equal(parse("{\"Type\":\"Notification\",\"Message\":42}", &b, &err), -EBADMSG);
        /* one envelope only */
        assert_int_equal(parse("{\"Type\":\"Notification\",\"Message\":\"{\\\"Type\\\":\\\"Notification\\\","
                               "\\\"Message\\\":\\\"{}\\\"}\"}", &b, &err), -EBADMSG);
        assert_ptr_equal(b, (S3EventBatch *) 0x1);
}

static void test_eventbridge(void **state) {
        const char *body =
                "{\"version\":\"0\",\"id\":\"17793124-05d4-b198-2fde-7ededc63b103\",\"detail-type\":\"Object Created\","
                "\"source\":\"aws.s3\",\"account\":\"111122223333\",\"time\":\"2021-11-12T00:00:00Z\","
                "\"region\":\"ca-central-1\",\"resources\":[\"arn:aws:s3:::inbound\"],\"detail\":{\"version\":\"0\","
                "\"bucket\":{\"name\":\"inbound\"},\"object\":{\"key\":\"dir/a+b%20c.csv\",\"size\":5,"
                "\"etag\":\"b1946ac92492d2347c6235b4d2611184\",\"version-id\":\"IYV3p45BT0ac8hjHg1houSdS1a.Mro8e\","
                "\"sequencer\":\"00617F08299329D189\"},\"request-id\":\"N4N7GDK58NMKJ12R\",\"requester\":\"123456789012\","
                "\"source-ip-address\":\"1.2.3.4\",\"reason\":\"CopyObject\"}}";
        _cleanup_(s3_event_batch_freep) S3EventBatch *b = NULL;
        S3bError err;

        assert_int_equal(parse(body, &b, &err), S3EVENT_RECORDS);
        assert_int_equal(b->source, S3EVENT_SOURCE_EVENTBRIDGE);
        assert_int_equal(b->n_records, 1);
        /* not form-encoded: '+' and "%20" stay as they are */
        assert_string_equal(b->records[0].key, "dir/a+b%20c.csv");
        assert_string_equal(b->records[0].bucket, "inbound");
        assert_string_equal(b->records[0].event_name, "ObjectCreated:Copy");
        assert_string_equal(b->records[0].etag, "b1946ac92492d2347c6235b4d2611184");
        assert_string_equal(b->records[0].version_id, "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e");
        assert_string_equal(b->records[0].event_time, "2021-11-12T00:00:00Z");
        assert_string_equal(b->records[0].region, "ca-central-1");
        assert_int_equal(b->records[0].size, 5);
}

static void test_eventbridge_deleted_is_ignored(void **state) {
        const char *body =
                "{\"detail-type\":\"Object Deleted\",\"source\":\"aws.s3\",\"detail\":{\"bucket\":{\"name\":\"inbound\"},"
                "\"object\":{\"key\":\"x.csv\"},\"reason\":\"DeleteObject\"}}";
        _cleanup_(s3_event_batch_freep) S3EventBatch *b = NULL;
        S3bError err;

        assert_int_equal(parse(body, &b, &err), S3EVENT_RECORDS);
        assert_int_equal(b->n_records, 0);
        assert_int_equal(b->n_ignored, 1);
        assert_string_equal(b->ignored[0].event_name, "Object Deleted");
}

static void test_test_event(void **state) {
        S3EventBatch *b = (S3EventBatch *) 0x1;
        S3bError err;

        assert_int_equal(parse("{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\",\"Time\":\"2026-11-29T06:00:00.000Z\","
                               "\"Bucket\":\"landing\",\"RequestId\":\"R\",\"HostId\":\"H\"}", &b, &err), S3EVENT_TEST);
        assert_null(b);
        assert_int_equal(parse("{\"Service\":\"Amazon S4\",\"Event\":\"s3:TestEvent\"}", &b, &err), -EBADMSG);
}

static void expect_poison(const char *body, size_t len, const char *reason) {
        S3EventBatch *b = (S3EventBatch *) 0x1;
        S3bError err;

        s3b_error_clear(&err);
        assert_int_equal(s3_event_parse(body, len, &b, &err), -EBADMSG);
        assert_int_equal(err.code, -EBADMSG);
        assert_ptr_equal(b, (S3EventBatch *) 0x1);      /* untouched */
        if (!strstr(err.message, reason))
                fail_msg("reason '%s' does not contain '%s'", err.message, reason);
}

#define POISON(body, reason) expect_poison(body, strlen(body), reason)

static void test_poison(void **state) {
        POISON("", "not valid JSON");
        POISON("hello", "not valid JSON");
        POISON("{\"Records\":[", "not valid JSON");
        POISON("[]", "not a JSON object");
        POISON("42", "not a JSON object");
        POISON("{}", "not an S3 event");
        POISON("{\"Records\":{}}", "not an array");
        POISON("{\"Records\":[]}", "empty");
        POISON("{\"Records\":[1]}", "Records[0] is not an object");
        POISON("{\"Records\":[{\"eventSource\":\"aws:sqs\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"object\":{}}}]}",
               "not an S3 event record");
        POISON("{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":"
               "{\"name\":\"inb\"},\"object\":{\"size\":1}}}]}", "no object key");
        POISON("{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"object\":"
               "{\"key\":\"a\"}}}]}", "bucket");
        POISON("{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":"
               "{\"name\":\"bad/bucket\"},\"object\":{\"key\":\"a\"}}}]}", "bucket");
        POISON("{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":"
               "{\"name\":\"inb\"},\"object\":{\"key\":\"a\",\"size\":-1}}}]}", "size");
        POISON("{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":"
               "{\"name\":\"inb\"},\"object\":{\"key\":\"a\",\"size\":\"12\"}}}]}", "size");
        POISON("{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":"
               "{\"name\":\"inb\"},\"object\":{\"key\":\"a\",\"size\":1.5}}}]}", "size");
        POISON("{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":"
               "{\"name\":\"inb\"},\"object\":{\"key\":\"a\",\"eTag\":\"x\\ny\"}}}]}", "control character");
        POISON("{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":"
               "{\"name\":\"inb\"},\"object\":{\"key\":\"a\\u0000b\"}}}]}", "NUL");
        POISON("{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\"}", "detail");
        POISON("{\"Type\":\"Notification\"}", "without a Message");
        expect_poison("{\"Records\":[]}\0garbage", 23, "NUL");
}

static void test_bad_escapes(void **state) {
        static const char *bad[] = {
                "a%", "a%2", "a%zz", "%G0", "a%2g",
                "%00",                  /* NUL */
                "%C3",                  /* truncated UTF-8 */
                "%C0%AF",               /* overlong '/' */
                "%ED%A0%80",            /* surrogate */
                "%F4%90%80%80",         /* above U+10FFFF */
                "%FF",
                "",                     /* empty key */
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *body = s3_body("ObjectCreated:Put", bad[i]);
                char buf[S3EVENT_KEY_MAX + 1];

                expect_poison(body, strlen(body), "object key");
                assert_int_equal(s3_event_decode_key(bad[i], strlen(bad[i]), buf, sizeof(buf)), -EINVAL);
        }

        /* the same key in an ignored record does not poison the message */
        _cleanup_free_ char *body = s3_body("ObjectRemoved:Delete", "a%zz");
        _cleanup_(s3_event_batch_freep) S3EventBatch *b = NULL;
        S3bError err;

        assert_int_equal(parse(body, &b, &err), S3EVENT_RECORDS);
        assert_int_equal(b->n_ignored, 1);
        assert_string_equal(b->ignored[0].key, "");
}

static void test_decode_key(void **state) {
        char buf[S3EVENT_KEY_MAX + 1];

        assert_int_equal(s3_event_decode_key("a+b%2Bc%25d%2b", 14, buf, sizeof(buf)), 8);
        assert_string_equal(buf, "a b+c%d+");
        /* "%2B" is a literal plus, never a space: decoding is one pass */
        assert_int_equal(s3_event_decode_key("%2B%20+", 7, buf, sizeof(buf)), 3);
        assert_string_equal(buf, "+  ");
        assert_int_equal(s3_event_decode_key("abc", 3, buf, 3), -ENAMETOOLONG);
        assert_int_equal(s3_event_decode_key("abc", 3, buf, 4), 3);
}

static void test_key_length_limit(void **state) {
        char key[3 * 1025 + 1], buf[S3EVENT_KEY_MAX + 1];

        /* 1024 bytes decoded from 3072 encoded characters is fine, 1025 is not */
        for (size_t i = 0; i < 1025; i++)
                memcpy(key + 3 * i, "%41", 3);
        key[3 * 1024] = '\0';
        assert_int_equal(s3_event_decode_key(key, strlen(key), buf, sizeof(buf)), 1024);
        memcpy(key + 3 * 1024, "%41", 3);
        key[3 * 1025] = '\0';
        assert_int_equal(s3_event_decode_key(key, strlen(key), buf, sizeof(buf)), -ENAMETOOLONG);

        _cleanup_free_ char *body = s3_body("ObjectCreated:Put", key);
        expect_poison(body, strlen(body), "longer than 1024");

        /* EventBridge keys are checked the same way, without decoding */
        char raw[1100];
        memset(raw, 'k', sizeof(raw) - 1);
        raw[sizeof(raw) - 1] = '\0';
        Buf eb = BUF_INIT(1 << 16);
        assert_int_equal(buf_printf(&eb, "{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":"
                                    "{\"bucket\":{\"name\":\"inb\"},\"object\":{\"key\":\"%s\"}}}", raw), 0);
        expect_poison(buf_str(&eb), eb.len, "longer than 1024");
        buf_done(&eb);
}

static void test_huge_inputs(void **state) {
        size_t n = S3EVENT_BODY_MAX + 1;
        char *big = malloc(n + 1);
        Buf many = BUF_INIT(4 << 20);
        S3bError err;
        S3EventBatch *b = NULL;

        assert_non_null(big);
        memset(big, ' ', n);
        big[n] = '\0';
        expect_poison(big, n, "over the");
        free(big);

        /* deep nesting must fail cleanly, not overflow the stack */
        big = malloc(200001);
        assert_non_null(big);
        memset(big, '[', 100000);
        memset(big + 100000, ']', 100000);
        big[200000] = '\0';
        expect_poison(big, 200000, "not valid JSON");
        free(big);

        /* more records than the cap */
        assert_int_equal(buf_append_str(&many, "{\"Records\":["), 0);
        for (unsigned i = 0; i <= S3EVENT_RECORDS_MAX; i++)
                assert_int_equal(buf_printf(&many, "%s{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\","
                                            "\"s3\":{\"bucket\":{\"name\":\"inb\"},\"object\":{\"key\":\"k%u\"}}}",
                                            i ? "," : "", i), 0);
        assert_int_equal(buf_append_str(&many, "]}"), 0);
        expect_poison(buf_str(&many), many.len, "more than");

        /* at the cap it parses, every record kept */
        buf_reset(&many);
        assert_int_equal(buf_append_str(&many, "{\"Records\":["), 0);
        for (unsigned i = 0; i < S3EVENT_RECORDS_MAX; i++)
                assert_int_equal(buf_printf(&many, "%s{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\","
                                            "\"s3\":{\"bucket\":{\"name\":\"inb\"},\"object\":{\"key\":\"k%u\"}}}",
                                            i ? "," : "", i), 0);
        assert_int_equal(buf_append_str(&many, "]}"), 0);
        assert_int_equal(s3_event_parse(buf_str(&many), many.len, &b, &err), S3EVENT_RECORDS);
        assert_int_equal(b->n_records, S3EVENT_RECORDS_MAX);
        assert_string_equal(b->records[S3EVENT_RECORDS_MAX - 1].key, "k999");
        s3_event_batch_free(b);
        buf_done(&many);
}

static void test_not_nul_terminated(void **state) {
        size_t n = strlen(REAL_S3_BODY);
        char *copy = malloc(n);
        S3EventBatch *b = NULL;
        S3bError err;

        /* exactly len bytes, no terminator: ASan catches any read past the end */
        assert_non_null(copy);
        memcpy(copy, REAL_S3_BODY, n);
        assert_int_equal(s3_event_parse(copy, n, &b, &err), S3EVENT_RECORDS);
        s3_event_batch_free(b);
        /* a prefix is cut JSON */
        assert_int_equal(s3_event_parse(copy, n - 1, &b, &err), -EBADMSG);
        free(copy);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_s3_body),
                cmocka_unit_test(test_multi_record_and_ignored),
                cmocka_unit_test(test_only_removed),
                cmocka_unit_test(test_sns_envelope),
                cmocka_unit_test(test_sns_wrapped_test_event_and_bad_message),
                cmocka_unit_test(test_eventbridge),
                cmocka_unit_test(test_eventbridge_deleted_is_ignored),
                cmocka_unit_test(test_test_event),
                cmocka_unit_test(test_poison),
                cmocka_unit_test(test_bad_escapes),
                cmocka_unit_test(test_decode_key),
                cmocka_unit_test(test_key_length_limit),
                cmocka_unit_test(test_huge_inputs),
                cmocka_unit_test(test_not_nul_terminated),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
