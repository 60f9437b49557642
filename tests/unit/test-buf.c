#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"

static void test_append_and_cap(void **state) {
        Buf b = BUF_INIT(8);

        assert_int_equal(buf_append_str(&b, "abcd"), 0);
        assert_int_equal(buf_append(&b, "efgh", 4), 0);
        assert_int_equal(b.len, 8);
        assert_string_equal(buf_str(&b), "abcdefgh");
        /* one byte past the cap fails and leaves the content intact */
        assert_int_equal(buf_append_char(&b, 'x'), -ENOBUFS);
        assert_string_equal(buf_str(&b), "abcdefgh");
        buf_done(&b);
}

static void test_printf_and_steal(void **state) {
        Buf b = BUF_INIT(1024);
        char *s;

        assert_string_equal(buf_str(&b), "");
        assert_int_equal(buf_printf(&b, "%s=%d", "rows", 25), 0);
        assert_int_equal(buf_printf(&b, ";%05.1f", 2.5), 0);
        s = buf_steal(&b);
        assert_string_equal(s, "rows=25;002.5");
        assert_null(b.data);
        free(s);
}

static void test_printf_over_cap(void **state) {
        Buf b = BUF_INIT(4);

        assert_int_equal(buf_printf(&b, "%s", "toolong"), -ENOBUFS);
        assert_int_equal(b.len, 0);
        buf_done(&b);
}

static void test_reset_keeps_memory(void **state) {
        Buf b = BUF_INIT(SIZE_MAX / 4);
        char *before;

        assert_int_equal(buf_append_str(&b, "hello"), 0);
        before = b.data;
        buf_reset(&b);
        assert_int_equal(b.len, 0);
        assert_ptr_equal(b.data, before);
        assert_string_equal(buf_str(&b), "");
        assert_int_equal(buf_reserve(&b, SIZE_MAX), -ENOBUFS);
        buf_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_append_and_cap),
                cmocka_unit_test(test_printf_and_steal),
                cmocka_unit_test(test_printf_over_cap),
                cmocka_unit_test(test_reset_keeps_memory),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
