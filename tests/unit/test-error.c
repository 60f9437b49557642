#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "common/error.h"

static void test_set_returns_code(void **state) {
        S3bError e;

        s3b_error_clear(&e);
        assert_int_equal(s3b_error_set(&e, -EINVAL, "bad %s at %d", "row", 7), -EINVAL);
        assert_int_equal(e.code, -EINVAL);
        assert_string_equal(e.message, "bad row at 7");
        assert_int_equal(s3b_error_set(NULL, -EIO, "ignored"), -EIO);
}

static void test_prefix(void **state) {
        S3bError e;

        s3b_error_clear(&e);
        s3b_error_set(&e, -ENOENT, "NoSuchKey");
        assert_int_equal(s3b_error_prefix(&e, "copy %s", "a.csv"), -ENOENT);
        assert_string_equal(e.message, "copy a.csv: NoSuchKey");
        /* a context that brings its own separator does not double it */
        assert_int_equal(s3b_error_prefix(&e, "writing to table %s: ", "T"), -ENOENT);
        assert_string_equal(e.message, "writing to table T: copy a.csv: NoSuchKey");
}

static void test_truncates(void **state) {
        S3bError e;
        char big[2000];

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        s3b_error_set(&e, -E2BIG, "%s", big);
        assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_set_returns_code),
                cmocka_unit_test(test_prefix),
                cmocka_unit_test(test_truncates),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
