/* s3_notification_config_parse: GetBucketNotificationConfiguration's answer (S3 API
 * Reference, NotificationConfiguration, QueueConfiguration, FilterRule). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/s3.h"
#include "common/buf.h"

#define NS "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"

static int parse(const char *xml, S3NotificationConfig *c) {
        S3bError err = {};

        return s3_notification_config_parse(xml, strlen(xml), c, &err);
}

/* As S3 answers it: rule names capitalised, two rules, several events, other destinations. */
static void test_queues_and_others(void **state) {
        const char *xml =
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" NS
                "<QueueConfiguration><Id>csv-to-sqs</Id>"
                "<Queue>arn:aws:sqs:us-east-1:123456789012:inbound</Queue>"
                "<Event>s3:ObjectCreated:Put</Event><Event>s3:ObjectCreated:CompleteMultipartUpload</Event>"
                "<Filter><S3Key><FilterRule><Name>Prefix</Name><Value>grades/a&amp;b/</Value></FilterRule>"
                "<FilterRule><Name>Suffix</Name><Value>.csv</Value></FilterRule></S3Key></Filter>"
                "</QueueConfiguration>"
                "<TopicConfiguration><Id>t</Id><Topic>arn:aws:sns:us-east-1:123456789012:t</Topic>"
                "<Event>s3:ObjectCreated:*</Event></TopicConfiguration>"
                "<QueueConfiguration><Queue>arn:aws:sqs:us-east-1:123456789012:other</Queue>"
                "<Event>s3:ObjectRemoved:*</Event></QueueConfiguration>"
                "<CloudFunctionConfiguration><Id>f</Id><CloudFunction>arn:aws:lambda:us-east-1:123456789012:function:f</CloudFunction>"
                "<Event>s3:ObjectCreated:*</Event></CloudFunctionConfiguration>"
                "<EventBridgeConfiguration></EventBridgeConfiguration>"
                "</NotificationConfiguration>";
        S3NotificationConfig c = {};

        assert_int_equal(parse(xml, &c), 0);
        assert_int_equal(c.n_queues, 2);
        assert_int_equal(c.n_topics, 1);
        assert_int_equal(c.n_functions, 1);
        assert_true(c.eventbridge);
        assert_string_equal(c.queues[0].id, "csv-to-sqs");
        assert_string_equal(c.queues[0].queue_arn, "arn:aws:sqs:us-east-1:123456789012:inbound");
        assert_int_equal(c.queues[0].n_events, 2);
        assert_string_equal(c.queues[0].events[1], "s3:ObjectCreated:CompleteMultipartUpload");
        assert_string_equal(c.queues[0].prefix, "grades/a&b/");
        assert_string_equal(c.queues[0].suffix, ".csv");
        assert_true(s3_queue_notification_object_created(&c.queues[0]));
        assert_string_equal(c.queues[1].id, "");
        assert_string_equal(c.queues[1].prefix, "");
        assert_string_equal(c.queues[1].suffix, "");
        assert_false(s3_queue_notification_object_created(&c.queues[1]));
        s3_notification_config_done(&c);
        assert_null(c.queues);
        assert_int_equal(c.n_queues, 0);
}

static void test_empty(void **state) {
        S3NotificationConfig c = {};

        /* a bucket without notifications answers an empty element */
        assert_int_equal(parse(NS "</NotificationConfiguration>", &c), 0);
        assert_int_equal(c.n_queues, 0);
        assert_int_equal(c.n_topics, 0);
        assert_false(c.eventbridge);
        s3_notification_config_done(&c);
        assert_int_equal(parse("<NotificationConfiguration/>", &c), 0);
        s3_notification_config_done(&c);
}

static void bad(const char *xml) {
        S3NotificationConfig c = { .n_topics = 77 };

        assert_int_equal(parse(xml, &c), -EBADMSG);
        assert_int_equal(c.n_topics, 77);       /* untouched on failure */
        assert_null(c.queues);
}

static void test_refused(void **state) {
        bad("");
        bad("<Error><Code>AccessDenied</Code></Error>");
        bad(NS "<QueueConfiguration><Event>s3:ObjectCreated:*</Event></QueueConfiguration>"
            "</NotificationConfiguration>");
        bad(NS "<QueueConfiguration><Queue>arn:aws:sqs:us-east-1:1:q</Queue>"
            "<Filter><S3Key><FilterRule><Name>infix</Name><Value>x</Value></FilterRule></S3Key></Filter>"
            "</QueueConfiguration></NotificationConfiguration>");
        bad(NS "<QueueConfiguration><Queue>arn:aws:sqs:us-east-1:1:q</Queue>"
            "<Filter><S3Key><FilterRule><Name>suffix</Name><Value>.a</Value></FilterRule>"
            "<FilterRule><Name>Suffix</Name><Value>.b</Value></FilterRule></S3Key></Filter>"
            "</QueueConfiguration></NotificationConfiguration>");
        bad(NS "<QueueConfiguration><Queue>x</Queue>");         /* cut off */
}

/* Bounded: more configurations than S3 allows per bucket, or more events than exist. */
static void test_limits(void **state) {
        Buf b = BUF_INIT(1 << 20);
        S3NotificationConfig c = {};

        for (int ok = 1; ok >= 0; ok--) {
                b.len = 0;
                assert_int_equal(buf_append_str(&b, NS), 0);
                for (unsigned i = 0; i < S3_NOTIFICATION_CONFIGS_MAX + !ok; i++)
                        assert_int_equal(buf_printf(&b, "<%sConfiguration><Queue>arn:aws:sqs:r:1:q%u</Queue>"
                                                    "<Event>s3:ObjectCreated:*</Event></%sConfiguration>",
                                                    i % 2 ? "Topic" : "Queue", i, i % 2 ? "Topic" : "Queue"), 0);
                assert_int_equal(buf_append_str(&b, "</NotificationConfiguration>"), 0);
                if (ok) {
                        assert_int_equal(parse(buf_str(&b), &c), 0);
                        assert_int_equal(c.n_queues + c.n_topics, S3_NOTIFICATION_CONFIGS_MAX);
                        s3_notification_config_done(&c);
                } else
                        bad(buf_str(&b));
        }
        b.len = 0;
        assert_int_equal(buf_append_str(&b, NS "<QueueConfiguration><Queue>arn:aws:sqs:r:1:q</Queue>"), 0);
        for (unsigned i = 0; i <= S3_NOTIFICATION_EVENTS_MAX; i++)
                assert_int_equal(buf_append_str(&b, "<Event>s3:ObjectCreated:Put</Event>"), 0);
        assert_int_equal(buf_append_str(&b, "</QueueConfiguration></NotificationConfiguration>"), 0);
        bad(buf_str(&b));
        buf_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_queues_and_others),
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
