/* JSON Lines: the number-preserving scan (common/jsonline.c) and one record → one item
 * (schema_row_json): nested map/list, DynamoDB's number rules, nulls, omit_if_null, default,
 * type errors and bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "schema-rig.h"

/* ---- the scan ---- */

static void test_numbers_kept_as_written(void **state) {
        JsonLine jl;
        cJSON *root = NULL;
        const char *why = NULL, *t;
        size_t n;
        /* 42 digits: a double would keep 17 of them */
        static const char line[] = "{\"big\": 123456789012345678901234567890123456789012, "
                                   "\"f\": -0.50e-3, \"s\": \"12\", \"b\": true, \"z\": null, "
                                   "\"a\": [1], \"o\": {}}";

        json_line_init(&jl, 4096);
        assert_int_equal(json_line_parse(&jl, line, strlen(line), &root, &why), 0);
        assert_true(json_number_text(cJSON_GetObjectItem(root, "big"), &t, &n));
        assert_int_equal(n, 42);
        assert_memory_equal(t, "123456789012345678901234567890123456789012", 42);
        assert_true(json_number_text(cJSON_GetObjectItem(root, "f"), &t, &n));
        assert_string_equal(t, "-0.50e-3");
        /* a string that looks like a number stays a string */
        assert_false(json_number_text(cJSON_GetObjectItem(root, "s"), &t, &n));
        assert_true(json_is_text(cJSON_GetObjectItem(root, "s")));
        assert_false(json_is_text(cJSON_GetObjectItem(root, "big")));
        assert_string_equal(json_kind(cJSON_GetObjectItem(root, "big")), "a number");
        assert_string_equal(json_kind(cJSON_GetObjectItem(root, "s")), "a string");
        assert_string_equal(json_kind(cJSON_GetObjectItem(root, "b")), "a boolean");
        assert_string_equal(json_kind(cJSON_GetObjectItem(root, "z")), "null");
        assert_string_equal(json_kind(cJSON_GetObjectItem(root, "a")), "an array");
        assert_string_equal(json_kind(cJSON_GetObjectItem(root, "o")), "an object");
        cJSON_Delete(root);
        json_line_done(&jl);
}

static void test_scan_rejects(void **state) {
        static const struct {
                const char *line;
                size_t n;       /* 0: strlen */
                const char *why;
        } bad[] = {
                { "{\"a\": \"x\x01y\"}", 0, "control character" },
                { "{\"a\": \"x\ty\"}", 0, "control character" },
                { "{\"a\": \"x\\u0000y\"}", 0, "\\u0000" },
                { "{\"a\": \"x\0y\"}", 10, "control character" },
                { "{\"a\": 1}\0", 9, "unexpected character" },
                { "{\"a\": 1.}", 0, "malformed number" },
                { "{\"a\": -}", 0, "malformed number" },
                { "{\"a\": .5}", 0, "unexpected character" },
                { "{\"a\": 1e}", 0, "malformed number" },
                { "{\"a\": +1}", 0, "unexpected character" },
                { "{\"a\": 0x1A}", 0, "unexpected character" },
                { "{\"a\": NaN}", 0, "unexpected character" },
                { "{\"a\": Infinity}", 0, "unexpected character" },
                { "{1: 2}", 0, "object key must be a string" },
                { "\xef\xbb\xbf{\"a\": 1}", 0, "unexpected character" },   /* a BOM */
                { "{\"a\": \"\xff\"}", 0, "not valid UTF-8" },
                { "{\"a\": \"\xc3\"}", 0, "not valid UTF-8" },
                { "{\"a\": 01}", 0, "not valid JSON" },
                { "{\"a\": 1}{}", 0, "not valid JSON" },
                { "{\"a\": 1", 0, "not valid JSON" },
                { "{\"a\": tru}", 0, "not valid JSON" },
                { "{'a': 1}", 0, "unexpected character" },
        };
        JsonLine jl;

        json_line_init(&jl, 4096);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                cJSON *root = NULL;
                const char *why = NULL;
                size_t n = bad[i].n ? bad[i].n : strlen(bad[i].line);
                int r = json_line_parse(&jl, bad[i].line, n, &root, &why);

                if (r != 1 || !why || !strstr(why, bad[i].why))
                        fail_msg("#%zu: %d '%s', want '%s'", i, r, why ? why : "", bad[i].why);
                assert_null(root);
        }
        json_line_done(&jl);
}

/* The scratch text is bounded: numbers grow by 3 bytes each, the caller sizes for that. */
static void test_scan_bound(void **state) {
        JsonLine jl;
        cJSON *root = NULL;
        const char *why = NULL;
        char *line = rig_repeat("1,", 40, "[", "1]");

        json_line_init(&jl, 64);
        assert_int_equal(json_line_parse(&jl, line, strlen(line), &root, &why), -ENOBUFS);
        assert_null(root);
        json_line_done(&jl);
        json_line_init(&jl, 4 * strlen(line) + 64);
        assert_int_equal(json_line_parse(&jl, line, strlen(line), &root, &why), 0);
        assert_int_equal(cJSON_GetArraySize(root), 41);
        cJSON_Delete(root);
        json_line_done(&jl);
        free(line);
}

/* ---- a record → an item ---- */

static void jsonl_spec(Rig *r) {
        ColumnSpec *c;

        rig_init(r, FORMAT_JSONL, "id", NULL);
        rig_column(r, "id", COLUMN_STRING, true);
        rig_column(r, "n", COLUMN_NUMBER, false);
        c = rig_column(r, "i", COLUMN_INTEGER, false);
        c->has_min = c->has_max = true;
        c->min = 0;
        c->max = 10;
        rig_column(r, "flag", COLUMN_BOOLEAN, false);
        rig_column(r, "meta", COLUMN_MAP, false);
        rig_column(r, "hist", COLUMN_LIST, false);
        rig_column(r, "tags", COLUMN_STRING_SET, false);
        rig_column(r, "nums", COLUMN_NUMBER_SET, false);
        c = rig_column(r, "nick", COLUMN_STRING, false);
        c->default_value = strdup("none");
        c->max_length = 8;
        c = rig_column(r, "gone", COLUMN_STRING, false);
        c->keep_null = true;
        rig_column(r, "opt", COLUMN_STRING, false);
        rig_column(r, "req", COLUMN_STRING, false);
        rig_column(r, "day", COLUMN_DATE, false);
        rig_start(r);
}

static void test_record_types(void **state) {
        Rig r;

        jsonl_spec(&r);
        assert_int_equal(rig_line(&r, "{\"id\": \"a1\", \"n\": 1.50, \"i\": 7, \"flag\": true, "
                                      "\"tags\": [\"x\", \"\"], \"nums\": [1, 2.5, \"1e2\"], "
                                      "\"nick\": \"Ada\", \"gone\": \"here\", \"day\": \"2024-02-29\", "
                                      "\"unknown\": {\"ignored\": 1}}"), 0);
        assert_attr(&r, "id", "{\"S\":\"a1\"}");
        assert_attr(&r, "n", "{\"N\":\"1.5\"}");                /* normalised */
        assert_attr(&r, "i", "{\"N\":\"7\"}");
        assert_attr(&r, "flag", "{\"BOOL\":true}");
        /* an empty string is a valid set element ("Supported data types and naming rules") */
        assert_attr(&r, "tags", "{\"SS\":[\"x\",\"\"]}");
        assert_attr(&r, "nums", "{\"NS\":[\"1\",\"2.5\",\"1E2\"]}");
        assert_attr(&r, "nick", "{\"S\":\"Ada\"}");
        assert_attr(&r, "gone", "{\"S\":\"here\"}");
        assert_attr(&r, "day", "{\"S\":\"2024-02-29\"}");
        /* fields no column names are left out */
        assert_null(rig_attr(&r, "unknown"));
        assert_string_equal(r.key.data, "S2:a1");
        /* a number or boolean column also takes its value as a string, as CSV gives it */
        assert_int_equal(rig_line(&r, "{\"id\": \"a2\", \"i\": \"+007\", \"flag\": \"no\"}"), 0);
        assert_attr(&r, "i", "{\"N\":\"7\"}");
        assert_attr(&r, "flag", "{\"BOOL\":false}");
        rig_done(&r);
}

/* {"id": "a", "meta": {"x": [[...]]}}: `levels` containers in all, meta's map the first */
static char *nested(size_t levels) {
        char *open = rig_repeat("[", levels - 1, "{\"id\": \"a\", \"meta\": {\"x\": ", "");
        char *line = rig_repeat("]", levels - 1, open, "}}");

        free(open);
        return line;
}

static void test_record_nested(void **state) {
        char *line;
        Rig r;

        jsonl_spec(&r);
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"meta\": {\"a\": {\"b\": [1, \"x\", true, null, "
                                      "{\"c\": 1.50, \"d\": []}]}, \"e\": {}}, \"hist\": [[], [0.0], {\"k\": false}]}"), 0);
        assert_attr(&r, "meta", "{\"M\":{\"a\":{\"M\":{\"b\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"},{\"BOOL\":true},"
                                "{\"NULL\":true},{\"M\":{\"c\":{\"N\":\"1.5\"},\"d\":{\"L\":[]}}}]}}},\"e\":{\"M\":{}}}}");
        assert_attr(&r, "hist", "{\"L\":[{\"L\":[]},{\"L\":[{\"N\":\"0\"}]},{\"M\":{\"k\":{\"BOOL\":false}}}]}");

        /* "Supported data types and naming rules": nested attributes at most 32 levels deep.
         * The map column's value is level 1. */
        line = nested(32);
        assert_int_equal(rig_line(&r, line), 0);
        free(line);
        line = nested(33);
        assert_rejected(&r, rig_line(&r, line), "nested deeper than DynamoDB's 32 levels");
        assert_string_equal(r.rj.column_name, "meta");
        free(line);

        /* a map may not repeat a key (an M is keyed by name) */
        assert_rejected(&r, rig_line(&r, "{\"id\": \"a\", \"meta\": {\"k\": 1, \"k\": 2}}"), "same key twice");
        rig_done(&r);
}

/* DynamoDB numbers ("Supported data types and naming rules"): 38 significant digits,
 * positive range 1E-130 to 9.9999999999999999999999999999999999999E+125, the same negated. */
static void test_record_numbers(void **state) {
        static const struct {
                const char *in, *out;
        } ok[] = {
                { "12345678901234567890123456789012345678", "12345678901234567890123456789012345678" },
                { "123456789012345678901234567890123456780000", "123456789012345678901234567890123456780000" },
                { "1E-130", "1E-130" },
                { "-1E-130", "-1E-130" },
                { "9.9999999999999999999999999999999999999E+125", "9.9999999999999999999999999999999999999E125" },
                { "-9.9999999999999999999999999999999999999E125", "-9.9999999999999999999999999999999999999E125" },
                { "-0", "0" },
                { "0.000", "0" },
                { "0e999999", "0" },
        };
        static const struct {
                const char *in, *why;
        } bad[] = {
                { "123456789012345678901234567890123456789", "more than 38 significant digits" },
                { "1.00000000000000000000000000000000000001", "more than 38 significant digits" },
                { "1E126", "magnitude" },
                { "10E125", "magnitude" },
                { "1E-131", "magnitude" },
                { "-1E-131", "magnitude" },
                { "0.1E-130", "magnitude" },
        };
        char line[256];
        Rig r;

        jsonl_spec(&r);
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                char want[128];

                snprintf(want, sizeof(want), "{\"N\":\"%s\"}", ok[i].out);
                snprintf(line, sizeof(line), "{\"id\": \"a\", \"n\": %s}", ok[i].in);
                assert_int_equal(rig_line(&r, line), 0);
                assert_attr(&r, "n", want);
                /* the same rules inside a map and in a number set */
                snprintf(line, sizeof(line), "{\"id\": \"a\", \"meta\": {\"v\": %s}, \"nums\": [%s]}", ok[i].in, ok[i].in);
                assert_int_equal(rig_line(&r, line), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                snprintf(line, sizeof(line), "{\"id\": \"a\", \"n\": %s}", bad[i].in);
                assert_rejected(&r, rig_line(&r, line), bad[i].why);
                assert_string_equal(r.rj.column_name, "n");
                snprintf(line, sizeof(line), "{\"id\": \"a\", \"meta\": {\"v\": [%s]}}", bad[i].in);
                assert_rejected(&r, rig_line(&r, line), bad[i].why);
                snprintf(line, sizeof(line), "{\"id\": \"a\", \"nums\": [1, %s]}", bad[i].in);
                assert_rejected(&r, rig_line(&r, line), bad[i].why);
        }
        /* an integer column takes no fraction */
        assert_rejected(&r, rig_line(&r, "{\"id\": \"a\", \"i\": 1.5}"), "not an integer");
        rig_done(&r);
}

static void test_record_nulls(void **state) {
        Rig r;

        jsonl_spec(&r);
        /* optional: null, a null_values string, or missing leave the attribute out */
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"opt\": null, \"n\": \"NULL\", \"meta\": null}"), 0);
        assert_null(rig_attr(&r, "opt"));
        assert_null(rig_attr(&r, "n"));
        assert_null(rig_attr(&r, "meta"));
        assert_null(rig_attr(&r, "req"));
        /* omit_if_null: false → NULL, for null and for a missing field alike */
        assert_attr(&r, "gone", "{\"NULL\":true}");
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"gone\": null}"), 0);
        assert_attr(&r, "gone", "{\"NULL\":true}");
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"gone\": \"\"}"), 0);
        assert_attr(&r, "gone", "{\"NULL\":true}");
        /* default: missing, null, or a null_values string */
        assert_attr(&r, "nick", "{\"S\":\"none\"}");
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"nick\": null}"), 0);
        assert_attr(&r, "nick", "{\"S\":\"none\"}");
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"nick\": \"NULL\"}"), 0);
        assert_attr(&r, "nick", "{\"S\":\"none\"}");
        /* "null" is text, not a null value (matching is exact) */
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"opt\": \"null\"}"), 0);
        assert_attr(&r, "opt", "{\"S\":\"null\"}");
        /* the key: null and missing reject */
        assert_rejected(&r, rig_line(&r, "{\"id\": null}"), "key attribute is null");
        assert_string_equal(r.rj.column_name, "id");
        assert_rejected(&r, rig_line(&r, "{\"opt\": \"x\"}"), "key attribute is null");
        rig_done(&r);

        /* a required column */
        rig_init(&r, FORMAT_JSONL, "id", NULL);
        rig_column(&r, "id", COLUMN_STRING, true);
        rig_column(&r, "must", COLUMN_INTEGER, true);
        rig_start(&r);
        assert_rejected(&r, rig_line(&r, "{\"id\": \"a\", \"must\": null}"), "required value is null");
        assert_string_equal(r.rj.column_name, "must");
        assert_rejected(&r, rig_line(&r, "{\"id\": \"a\"}"), "required value is null");
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"must\": 0}"), 0);
        rig_done(&r);
}

/* A default is a value of the column's type, checked like one. */
static void test_record_typed_default(void **state) {
        ColumnSpec *c;
        Rig r;

        rig_init(&r, FORMAT_JSONL, "id", NULL);
        rig_column(&r, "id", COLUMN_STRING, true);
        c = rig_column(&r, "n", COLUMN_INTEGER, false);
        c->default_value = strdup("0042");
        c = rig_column(&r, "ok", COLUMN_BOOLEAN, false);
        c->default_value = strdup("yes");
        c = rig_column(&r, "tags", COLUMN_STRING_SET, false);
        c->default_value = strdup("a|b");
        rig_start(&r);
        assert_int_equal(rig_line(&r, "{\"id\": \"a\"}"), 0);
        assert_attr(&r, "n", "{\"N\":\"42\"}");
        assert_attr(&r, "ok", "{\"BOOL\":true}");
        assert_attr(&r, "tags", "{\"SS\":[\"a\",\"b\"]}");
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"n\": 5, \"ok\": false, \"tags\": [\"z\"]}"), 0);
        assert_attr(&r, "n", "{\"N\":\"5\"}");
        assert_attr(&r, "ok", "{\"BOOL\":false}");
        assert_attr(&r, "tags", "{\"SS\":[\"z\"]}");
        rig_done(&r);
}

static void test_record_type_errors(void **state) {
        static const struct {
                const char *line, *column, *why;
        } bad[] = {
                { "{\"id\": 12}", "id", "expected string, found a number" },
                { "{\"id\": \"a\", \"opt\": true}", "opt", "expected string, found a boolean" },
                { "{\"id\": \"a\", \"opt\": {}}", "opt", "expected string, found an object" },
                { "{\"id\": \"a\", \"opt\": [\"x\"]}", "opt", "expected string, found an array" },
                { "{\"id\": \"a\", \"i\": true}", "i", "expected integer, found a boolean" },
                { "{\"id\": \"a\", \"i\": \"seven\"}", "i", "not an integer" },
                { "{\"id\": \"a\", \"flag\": 1}", "flag", "expected boolean, found a number" },
                { "{\"id\": \"a\", \"flag\": \"maybe\"}", "flag", "not a boolean" },
                { "{\"id\": \"a\", \"meta\": [1]}", "meta", "expected map, found an array" },
                { "{\"id\": \"a\", \"meta\": 1}", "meta", "expected map, found a number" },
                { "{\"id\": \"a\", \"meta\": \"text\"}", "meta", "not valid JSON" },
                { "{\"id\": \"a\", \"hist\": {}}", "hist", "expected list, found an object" },
                { "{\"id\": \"a\", \"tags\": {}}", "tags", "expected string_set, found an object" },
                { "{\"id\": \"a\", \"tags\": [1]}", "tags", "a string set element is a number" },
                { "{\"id\": \"a\", \"tags\": [[\"x\"]]}", "tags", "a set element must be a string or a number" },
                { "{\"id\": \"a\", \"nums\": [\"x\"]}", "nums", "not a number" },
                { "{\"id\": \"a\", \"nums\": [true]}", "nums", "a set element must be a string or a number" },
                { "{\"id\": \"a\", \"day\": \"2023-02-29\"}", "day", "no such calendar day" },
                { "{\"id\": \"a\", \"id\": \"b\"}", "id", "the field is given twice" },
                { "{\"id\": \"a\", \"opt\": null, \"opt\": \"x\"}", "opt", "the field is given twice" },
        };
        Rig r;

        jsonl_spec(&r);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_rejected(&r, rig_line(&r, bad[i].line), bad[i].why);
                if (!r.rj.column_name || strcmp(r.rj.column_name, bad[i].column) != 0)
                        fail_msg("%s: column %s", bad[i].line, r.rj.column_name ? r.rj.column_name : "(none)");
        }
        /* a line that is JSON but not an object */
        assert_rejected(&r, rig_line(&r, "[1, 2]"), "not a JSON object");
        assert_null(r.rj.column_name);
        assert_rejected(&r, rig_line(&r, "\"id\""), "not a JSON object");
        rig_done(&r);
}

static void test_record_bounds(void **state) {
        char *big, *line;
        Rig r;

        jsonl_spec(&r);
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"i\": 0}"), 0);
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"i\": 10}"), 0);
        assert_rejected(&r, rig_line(&r, "{\"id\": \"a\", \"i\": 11}"), "above the maximum");
        assert_rejected(&r, rig_line(&r, "{\"id\": \"a\", \"i\": -1}"), "below the minimum");
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"nick\": \"12345678\"}"), 0);
        assert_rejected(&r, rig_line(&r, "{\"id\": \"a\", \"nick\": \"123456789\"}"), "longer than 8 bytes");
        assert_rejected(&r, rig_line(&r, "{\"id\": \"a\", \"tags\": []}"), "an empty set");
        assert_rejected(&r, rig_line(&r, "{\"id\": \"a\", \"tags\": [\"x\", \"x\"]}"), "twice");
        /* numbers in a set are equal by value */
        assert_rejected(&r, rig_line(&r, "{\"id\": \"a\", \"nums\": [1, 1.0]}"), "twice");
        /* "" is one of the default null values: an empty key is a null key */
        assert_rejected(&r, rig_line(&r, "{\"id\": \"\"}"), "key attribute is null");
        rig_done(&r);

        /* the item limit, 400 KB counted as DynamoDB counts it ("Service, account, and table
         * quotas", "Item sizes and formats"): names + values; "id"+"a" = 3, "opt" = 3,
         * "gone" written as NULL = 4 + 1 */
        rig_init(&r, FORMAT_JSONL, "id", NULL);
        rig_column(&r, "id", COLUMN_STRING, true);
        rig_column(&r, "opt", COLUMN_STRING, false);
        rig_column(&r, "gone", COLUMN_STRING, false)->keep_null = true;
        rig_start(&r);
        big = rig_repeat("x", 409600 - 11, "", "");
        line = malloc(strlen(big) + 64);
        sprintf(line, "{\"id\": \"a\", \"opt\": \"%s\"}", big);
        assert_int_equal(rig_line(&r, line), 0);
        assert_int_equal(r.item.size, 409600);
        sprintf(line, "{\"id\": \"a\", \"opt\": \"%sy\"}", big);
        assert_rejected(&r, rig_line(&r, line), "item is 409601 bytes, over DynamoDB's 400 KB limit");
        free(line);
        free(big);
        rig_done(&r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_numbers_kept_as_written),
                cmocka_unit_test(test_scan_rejects),
                cmocka_unit_test(test_scan_bound),
                cmocka_unit_test(test_record_types),
                cmocka_unit_test(test_record_nested),
                cmocka_unit_test(test_record_numbers),
                cmocka_unit_test(test_record_nulls),
                cmocka_unit_test(test_record_typed_default),
                cmocka_unit_test(test_record_type_errors),
                cmocka_unit_test(test_record_bounds),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
