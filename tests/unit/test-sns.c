#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/sns.h"

/* What real SNS refuses and local servers accept (tests/integration checks nothing is sent). */
static void test_subject(void **state) {
        char s99[100], s100[101];

        memset(s99, 'x', 99);
        s99[99] = '\0';
        memset(s100, 'x', 100);
        s100[100] = '\0';
        assert_true(sns_subject_is_valid(NULL));
        assert_true(sns_subject_is_valid(""));
        assert_true(sns_subject_is_valid("File processed: SUCCESS (grades/a b.csv)"));
        assert_true(sns_subject_is_valid("!punctuation first ~"));
        assert_true(sns_subject_is_valid(s99));
        assert_false(sns_subject_is_valid(s100));
        assert_false(sns_subject_is_valid("line\nbreak"));
        assert_false(sns_subject_is_valid("carriage\rreturn"));
        assert_false(sns_subject_is_valid("tab\there"));
        assert_false(sns_subject_is_valid(" leading space"));
        assert_false(sns_subject_is_valid("caf\xc3\xa9"));
        assert_false(sns_subject_is_valid("del\x7f"));
}

static void test_attribute_names(void **state) {
        char long_name[258];

        memset(long_name, 'a', 257);
        long_name[257] = '\0';
        assert_true(sns_attribute_name_is_valid("status"));
        assert_true(sns_attribute_name_is_valid("s3.bucket-name_1"));
        assert_false(sns_attribute_name_is_valid(""));
        assert_false(sns_attribute_name_is_valid(NULL));
        assert_false(sns_attribute_name_is_valid(".lead"));
        assert_false(sns_attribute_name_is_valid("trail."));
        assert_false(sns_attribute_name_is_valid("a..b"));
        assert_false(sns_attribute_name_is_valid("AWS.reserved"));
        assert_false(sns_attribute_name_is_valid("amazon.reserved"));
        assert_false(sns_attribute_name_is_valid("sp ace"));
        assert_false(sns_attribute_name_is_valid("equals=sign"));
        assert_false(sns_attribute_name_is_valid(long_name));
        long_name[256] = '\0';
        assert_true(sns_attribute_name_is_valid(long_name));
}

/* Checked before anything is sent: a NULL client is never touched. */
static void test_publish_validates_first(void **state) {
        SnsAttribute ok = { "k", "v" }, bad = { "AWS.k", "v" }, empty = { "k", "" };
        SnsAttribute many[SNS_ATTRIBUTES_MAX + 1];
        S3bError err = {};
        char *big;

        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = ok;
        assert_int_equal(sns_publish(NULL, "topic", NULL, "m", NULL, 0, NULL, &err), -EINVAL);
        assert_int_equal(sns_publish(NULL, "arn:aws:sns:us-east-1:1:t", NULL, "", NULL, 0, NULL, &err), -EINVAL);
        assert_int_equal(sns_publish(NULL, "arn:aws:sns:us-east-1:1:t", "a\nb", "m", NULL, 0, NULL, &err), -EINVAL);
        assert_int_equal(sns_publish(NULL, "arn:aws:sns:us-east-1:1:t", NULL, "m", &bad, 1, NULL, &err), -EINVAL);
        assert_int_equal(sns_publish(NULL, "arn:aws:sns:us-east-1:1:t", NULL, "m", &empty, 1, NULL, &err), -EINVAL);
        assert_int_equal(sns_publish(NULL, "arn:aws:sns:us-east-1:1:t", NULL, "m", many, ELEMENTSOF(many), NULL, &err),
                         -EINVAL);
        big = malloc(SNS_MESSAGE_MAX + 1);
        assert_non_null(big);
        memset(big, 'm', SNS_MESSAGE_MAX);
        big[SNS_MESSAGE_MAX] = '\0';
        /* the message alone fits; with an attribute it does not */
        assert_int_equal(sns_publish(NULL, "arn:aws:sns:us-east-1:1:t", NULL, big, &ok, 1, NULL, &err), -E2BIG);
        free(big);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_subject),
                cmocka_unit_test(test_attribute_names),
                cmocka_unit_test(test_publish_validates_first),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
