/* startup_parse_s3_url: the s3:// argument of `process` and `backfill`; the pieces of the
 * notification-filter check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <cmocka.h>

#include "daemon/startup.h"

static void ok(const char *url, const char *bucket, const char *rest) {
        char *b = NULL, *r = NULL;

        assert_int_equal(startup_parse_s3_url(url, &b, &r), 0);
        assert_string_equal(b, bucket);
        assert_string_equal(r, rest);
        free(b);
        free(r);
}

static void bad(const char *url) {
        char *b = (char *) "untouched", *r = (char *) "untouched";

        assert_int_equal(startup_parse_s3_url(url, &b, &r), -EINVAL);
        assert_string_equal(b, "untouched");
        assert_string_equal(r, "untouched");
}

static void test_urls(void **state) {
        ok("s3://inbound/students/2026-11-29.csv", "inbound", "students/2026-11-29.csv");
        ok("s3://inbound/a b/c+d é.csv", "inbound", "a b/c+d é.csv");      /* keys are raw */
        ok("s3://inbound", "inbound", "");
        ok("s3://inbound/", "inbound", "");
        ok("s3://inbound/prefix/", "inbound", "prefix/");
        bad("inbound/key");
        bad("s3:/inbound/key");
        bad("s3:///key");
        bad("s3://");
        bad("https://inbound.s3.amazonaws.com/key");
}

/* A pipeline's keys against a notification filter (S3 filters are case-sensitive). */
static void test_filter_overlaps(void **state) {
        assert_true(startup_filter_overlaps("", ".csv", "", ".csv"));
        assert_true(startup_filter_overlaps("", ".csv", "", ""));               /* no filter */
        assert_true(startup_filter_overlaps("", "", "", ".csv"));               /* any key */
        assert_true(startup_filter_overlaps("", "students.csv", "", ".csv"));
        assert_true(startup_filter_overlaps("", ".csv", "", "students.csv"));
        assert_true(startup_filter_overlaps("grades/", ".csv", "grades/2024/", ""));
        assert_true(startup_filter_overlaps("grades/2024/", "", "grades/", ".csv"));
        assert_true(startup_filter_overlaps("ab", "", "", "b"));                /* "abb" */
        assert_false(startup_filter_overlaps("", ".tsv", "", ".csv"));
        assert_false(startup_filter_overlaps("", ".csv.gz", "", ".csv"));
        assert_false(startup_filter_overlaps("", ".CSV", "", ".csv"));
        assert_false(startup_filter_overlaps("grades/", ".csv", "reports/", ".csv"));
        assert_false(startup_filter_overlaps("Grades/", "", "grades/", ""));
}

static void test_queue_is_arn(void **state) {
        const char *aws = "https://sqs.us-east-1.amazonaws.com/123456789012/inbound";
        const char *local = "http://sqs.us-east-1.localhost:4566/000000000000/inbound-file-events";

        assert_true(startup_queue_is_arn(aws, "arn:aws:sqs:us-east-1:123456789012:inbound"));
        assert_true(startup_queue_is_arn("https://us-east-1.queue.amazonaws.com/123456789012/inbound",
                                         "arn:aws:sqs:us-east-1:123456789012:inbound"));
        assert_true(startup_queue_is_arn("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/inbound",
                                         "arn:aws-cn:sqs:cn-north-1:123456789012:inbound"));
        assert_true(startup_queue_is_arn(local, "arn:aws:sqs:us-east-1:000000000000:inbound-file-events"));
        assert_false(startup_queue_is_arn(aws, "arn:aws:sqs:us-east-1:123456789012:inbound-dlq"));
        assert_false(startup_queue_is_arn(aws, "arn:aws:sqs:us-east-1:123456789012:inboun"));
        assert_false(startup_queue_is_arn(aws, "arn:aws:sqs:us-east-1:210987654321:inbound"));
        assert_false(startup_queue_is_arn(aws, "arn:aws:sns:us-east-1:123456789012:inbound"));
        assert_false(startup_queue_is_arn(aws, "arn:aws:sqs:us-east-1:123456789012:inbound:x"));
        assert_false(startup_queue_is_arn(aws, "inbound"));
        assert_false(startup_queue_is_arn("https://sqs.us-east-1.amazonaws.com/inbound",
                                          "arn:aws:sqs:us-east-1:123456789012:inbound"));
        assert_false(startup_queue_is_arn("not a url", "arn:aws:sqs:us-east-1:123456789012:inbound"));
        assert_false(startup_queue_is_arn(NULL, "arn:aws:sqs:us-east-1:123456789012:inbound"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_urls),
                cmocka_unit_test(test_filter_overlaps),
                cmocka_unit_test(test_queue_is_arn),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
