/* startup_parse_s3_url: the s3:// argument of `process` and `backfill`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_urls),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
