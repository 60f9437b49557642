/* urlcode: the SigV4 encoder (IAM User Guide, "Create a canonical request": UriEncode) and
 * the form decoder S3 needs for event keys and encoding-type=url listings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/urlcode.h"

static void assert_encodes(const char *in, size_t n, bool keep_slash, const char *want) {
        Buf b = BUF_INIT(4096);

        assert_int_equal(url_encode(&b, in, n, keep_slash), 0);
        assert_string_equal(buf_str(&b), want);
        buf_done(&b);
}

static void test_encode(void **state) {
        /* unreserved kept, everything else %XX upper case, space never '+' */
        assert_encodes("AZaz09-_.~", 10, false, "AZaz09-_.~");
        assert_encodes("a b+c", 5, false, "a%20b%2Bc");
        assert_encodes("dir/x=y&z", 9, false, "dir%2Fx%3Dy%26z");
        assert_encodes("dir/x=y&z", 9, true, "dir/x%3Dy%26z");
        assert_encodes("\xc3\xa9*", 3, true, "%C3%A9%2A");
        assert_encodes("a\0b", 3, false, "a%00b");
        assert_encodes("", 0, false, "");
}

static void test_encode_cap(void **state) {
        Buf b = BUF_INIT(5);

        assert_int_equal(url_encode(&b, "ab c", 4, false), -ENOBUFS);
        buf_done(&b);
}

static void test_decode(void **state) {
        char out[32];

        /* '+' is a space, %2B a '+': one pass, so "%2B" never becomes a space */
        assert_int_equal(url_decode("a+b%2Bc%25d%2b", 14, out, sizeof(out)), 8);
        assert_string_equal(out, "a b+c%d+");
        assert_int_equal(url_decode("%C3%a9", 6, out, sizeof(out)), 2);
        assert_string_equal(out, "\xc3\xa9");
        assert_int_equal(url_decode("", 0, out, sizeof(out)), 0);
        assert_string_equal(out, "");
        /* %00 decodes; the caller decides (the length tells it) */
        assert_int_equal(url_decode("a%00", 4, out, sizeof(out)), 2);
}

static void test_decode_rejects_bad_escapes(void **state) {
        static const char *const bad[] = { "%", "%2", "a%zz", "%g0", "%0g", "abc%", "%%41" };
        char out[32];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(url_decode(bad[i], strlen(bad[i]), out, sizeof(out)), -EINVAL);
}

static void test_decode_bounds(void **state) {
        char out[4];

        assert_int_equal(url_decode("abc", 3, out, 4), 3);
        assert_int_equal(url_decode("abcd", 4, out, 4), -ENOBUFS);
        assert_int_equal(url_decode("%41%42%43", 9, out, 4), 3);        /* output is what counts */
        assert_int_equal(url_decode("a", 1, out, 0), -ENOBUFS);
}

/* What the encoder writes, the decoder reads back (a space comes back from %20 too). */
static void test_round_trip(void **state) {
        const char in[] = "in/a b+c&d=é%~.csv";
        Buf b = BUF_INIT(4096);
        char out[64];

        assert_int_equal(url_encode(&b, in, strlen(in), true), 0);
        assert_int_equal(url_decode(b.data, b.len, out, sizeof(out)), (ssize_t) strlen(in));
        assert_string_equal(out, in);
        buf_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_encode),
                cmocka_unit_test(test_encode_cap),
                cmocka_unit_test(test_decode),
                cmocka_unit_test(test_decode_rejects_bad_escapes),
                cmocka_unit_test(test_decode_bounds),
                cmocka_unit_test(test_round_trip),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
