#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "common/item.h"

static void test_escape(void **state) {
        Buf b = BUF_INIT(1024);

        assert_int_equal(json_escape_append(&b, "a\"b\\c/\n\r\t\b\f\x01\x1f\x7f", 14), 0);
        assert_string_equal(buf_str(&b), "a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f");
        buf_reset(&b);
        /* UTF-8 passes through untouched */
        assert_int_equal(json_escape_append(&b, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x80\xa8", 14), 0);
        assert_string_equal(buf_str(&b), "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x80\xa8");
        buf_reset(&b);
        assert_int_equal(json_escape_append(&b, "a\0b", 3), 0);
        assert_string_equal(buf_str(&b), "a\\u0000b");
        buf_done(&b);
}

/* Every byte a CSV field can hold (besides NUL, which cJSON cannot hold) survives a JSON
 * parser round trip. */
static void test_escape_round_trip(void **state) {
        char in[128 + 8];
        size_t n = 0;
        Buf b = BUF_INIT(4096);
        cJSON *j;

        buf_append_char(&b, '"');
        for (int c = 1; c < 128; c++)
                in[n++] = (char) c;
        memcpy(in + n, "\xc3\xa9\xe2\x82\xac", 5);
        n += 5;
        assert_int_equal(json_escape_append(&b, in, n), 0);
        buf_append_char(&b, '"');
        j = cJSON_Parse(buf_str(&b));
        assert_non_null(j);
        assert_true(cJSON_IsString(j));
        assert_int_equal(strlen(j->valuestring), n);
        assert_memory_equal(j->valuestring, in, n);
        cJSON_Delete(j);
        buf_done(&b);
}

static void test_item(void **state) {
        ItemName id, n, ok, odd;
        ItemBuilder b;
        cJSON *j, *a;

        assert_int_equal(item_name_init(&id, "student_id"), 0);
        assert_int_equal(item_name_init(&n, "n"), 0);
        assert_int_equal(item_name_init(&ok, "ok"), 0);
        assert_int_equal(item_name_init(&odd, "we\"ird"), 0);
        assert_string_equal(odd.json, "\"we\\\"ird\":");
        assert_int_equal(odd.size, 6);

        item_builder_init(&b, 4096);
        assert_int_equal(item_begin(&b), 0);
        assert_int_equal(item_add(&b, &id, ITEM_S, "A0\"001", 6), 0);
        assert_int_equal(item_add(&b, &n, ITEM_N, "-12.5", 5), 0);
        assert_int_equal(item_add(&b, &ok, ITEM_BOOL, "true", 4), 0);
        assert_int_equal(item_add(&b, &odd, ITEM_BOOL, "false", 5), 0);
        assert_int_equal(item_add(&b, &ok, ITEM_BOOL, "yes", 3), -EINVAL);
        assert_int_equal(item_end(&b), 0);
        assert_string_equal(b.json.data,
                            "{\"student_id\":{\"S\":\"A0\\\"001\"},\"n\":{\"N\":\"-12.5\"},"
                            "\"ok\":{\"BOOL\":true},\"we\\\"ird\":{\"BOOL\":false}}");
        /* 10+6, 1+(|_1|2.5|: 2 pairs + 1 + 1 negative), 2+1, 6+1 */
        assert_int_equal(b.size, 16 + 5 + 3 + 7);
        j = cJSON_Parse(b.json.data);
        assert_non_null(j);
        a = cJSON_GetObjectItemCaseSensitive(j, "student_id");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(a, "S")->valuestring, "A0\"001");
        cJSON_Delete(j);

        /* reuse: a new item starts clean */
        assert_int_equal(item_begin(&b), 0);
        assert_int_equal(item_end(&b), 0);
        assert_string_equal(b.json.data, "{}");
        assert_int_equal(b.size, 0);

        item_builder_done(&b);
        item_name_done(&id);
        item_name_done(&n);
        item_name_done(&ok);
        item_name_done(&odd);
}

static void test_number_size(void **state) {
        assert_int_equal(item_number_size("0", 1), 2);
        assert_int_equal(item_number_size("7", 1), 2);
        assert_int_equal(item_number_size("12", 2), 2);
        assert_int_equal(item_number_size("123", 3), 3);
        assert_int_equal(item_number_size("-0012300", 8), 4);   /* |_1|23|00 + 1 + negative */
        assert_int_equal(item_number_size("0012300", 7), 3);    /* zeros trimmed */
        assert_int_equal(item_number_size("1.5E3", 5), 2);      /* |15|00: the exponent is free */
        assert_int_equal(item_number_size("12345678901234567890123456789012345678", 38), 20);
        /* the pairs are aligned on the decimal point: the same digits can take a byte more
         * (the guide's "approximately"); dynalite counts the same as DynamoDB */
        assert_int_equal(item_number_size("12.34", 5), 3);      /* |12|.|34| */
        assert_int_equal(item_number_size("1.234", 5), 4);      /* |_1|.|23|4_| */
        assert_int_equal(item_number_size("123.4E1", 7), 3);    /* = 1234: |12|34| */
        assert_int_equal(item_number_size("1234E-1", 7), 4);    /* = 123.4: |_1|23|.|4_| */
        assert_int_equal(item_number_size("0.01", 4), 2);
        assert_int_equal(item_number_size("-1", 2), 3);
        assert_int_equal(item_number_size("-1234567890123456789012345678901234567.8", 40), 22);
}

static void test_bounded(void **state) {
        ItemName name;
        ItemBuilder b;

        assert_int_equal(item_name_init(&name, "s"), 0);
        item_builder_init(&b, 64);
        assert_int_equal(item_begin(&b), 0);
        /* {"s":{"S":"0123456789"} = 23 bytes, then 23 more with the comma: 69 > 64 */
        assert_int_equal(item_add(&b, &name, ITEM_S, "0123456789", 10), 0);
        assert_int_equal(item_add(&b, &name, ITEM_S, "0123456789", 10), 0);
        assert_int_equal(item_add(&b, &name, ITEM_S, "0123456789", 10), -ENOBUFS);
        assert_int_equal(b.json.len, 46);
        /* escapes count: 5 control bytes take 30 */
        buf_reset(&b.json);
        b.n_attrs = 0;
        assert_int_equal(item_add(&b, &name, ITEM_S, "\x01\x02\x03\x04\x05", 5), 0);
        assert_int_equal(b.json.len, 4 + 6 + 30 + 2);
        item_builder_done(&b);
        item_name_done(&name);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_escape_round_trip),
                cmocka_unit_test(test_item),
                cmocka_unit_test(test_number_size),
                cmocka_unit_test(test_bounded),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
