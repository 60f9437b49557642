/* DynamoDB JSON (common/ddbvalue.c) and ddb-json items (schema_row_ddb): every AttributeValue
 * type, the set, nesting, number and base64 rules, the key rules and the item size. The rules
 * are DynamoDB Developer Guide, "Supported data types and naming rules" (types, numbers,
 * sets, nesting), "Service, account, and table quotas" (item size, key lengths) and "Item
 * sizes and formats" (how the size is counted). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/ddbvalue.h"
#include "common/tableshape.h"
#include "schema-rig.h"

typedef struct Av {
        JsonLine jl;
        DdbConv conv;
        Buf out;
        size_t size;
        const char *type, *why;
} Av;

static void av_init(Av *a) {
        json_line_init(&a->jl, 16 << 20);
        ddb_conv_init(&a->conv);
        a->out = (Buf) BUF_INIT(16 << 20);
}

static void av_done(Av *a) {
        json_line_done(&a->jl);
        ddb_conv_done(&a->conv);
        buf_done(&a->out);
}

/* One AttributeValue's JSON text through ddb_check_av (or, plain, ddb_from_json). */
static int av_run(Av *a, const char *text, bool plain) {
        cJSON *v = NULL;
        const char *why = NULL;
        int r = json_line_parse(&a->jl, text, strlen(text), &v, &why);

        if (r != 0)
                fail_msg("not JSON (%s): %s", why ? why : "", text);
        buf_reset(&a->out);
        a->size = 0;
        a->type = a->why = NULL;
        r = plain ? ddb_from_json(&a->conv, v, &a->out, &a->size, &a->why)
                  : ddb_check_av(&a->conv, v, &a->out, &a->size, &a->type, &a->why);
        cJSON_Delete(v);
        assert_true(r == 0 || r == 1);
        return r;
}

static void test_every_type(void **state) {
        static const struct {
                const char *in, *type, *out;
                size_t size;
        } ok[] = {
                { "{\"S\": \"h\xc3\xa9llo\"}", "S", "{\"S\":\"h\xc3\xa9llo\"}", 6 },  /* UTF-8 bytes */
                { "{\"S\": \"\"}", "S", "{\"S\":\"\"}", 0 },   /* empty: fine off the key */
                { "{\"S\": \"q\\\"\\\\\\n\"}", "S", "{\"S\":\"q\\\"\\\\\\n\"}", 4 },
                /* written as given; counted as DynamoDB stores it: one byte per two digits + 1 */
                { "{\"N\": \"12\"}", "N", "{\"N\":\"12\"}", 2 },
                { "{\"N\": \"-1.50\"}", "N", "{\"N\":\"-1.50\"}", 4 },  /* |_1|.|5_| + 1, + 1 negative */
                { "{\"N\": \"12345678901234567890123456789012345678\"}", "N",
                  "{\"N\":\"12345678901234567890123456789012345678\"}", 20 },
                { "{\"B\": \"AAE=\"}", "B", "{\"B\":\"AAE=\"}", 2 },
                { "{\"B\": \"\"}", "B", "{\"B\":\"\"}", 0 },
                { "{\"BOOL\": true}", "BOOL", "{\"BOOL\":true}", 1 },
                { "{\"BOOL\": false}", "BOOL", "{\"BOOL\":false}", 1 },
                { "{\"NULL\": true}", "NULL", "{\"NULL\":true}", 1 },
                { "{\"SS\": [\"a\", \"bc\", \"\"]}", "SS", "{\"SS\":[\"a\",\"bc\",\"\"]}", 3 },
                { "{\"NS\": [\"1\", \"-2.5\"]}", "NS", "{\"NS\":[\"1\",\"-2.5\"]}", 2 + 4 },
                { "{\"BS\": [\"AAE=\", \"AA==\"]}", "BS", "{\"BS\":[\"AAE=\",\"AA==\"]}", 3 },
                /* M and L: 3 bytes, plus per element its name (M), its value and 1 */
                { "{\"M\": {\"ab\": {\"S\": \"xyz\"}, \"n\": {\"N\": \"12\"}}}", "M",
                  "{\"M\":{\"ab\":{\"S\":\"xyz\"},\"n\":{\"N\":\"12\"}}}", 3 + (2 + 3 + 1) + (1 + 2 + 1) },
                { "{\"M\": {}}", "M", "{\"M\":{}}", 3 },
                { "{\"L\": [{\"S\": \"a\"}, {\"NULL\": true}, {\"L\": []}]}", "L",
                  "{\"L\":[{\"S\":\"a\"},{\"NULL\":true},{\"L\":[]}]}", 3 + (1 + 1) + (1 + 1) + (3 + 1) },
        };
        Av a;

        av_init(&a);
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                if (av_run(&a, ok[i].in, false) != 0)
                        fail_msg("%s: %s", ok[i].in, a.why);
                assert_string_equal(a.type, ok[i].type);
                assert_string_equal(buf_str(&a.out), ok[i].out);
                if (a.size != ok[i].size)
                        fail_msg("%s: size %zu, want %zu", ok[i].in, a.size, ok[i].size);
        }
        av_done(&a);
}

static void test_type_rules(void **state) {
        static const struct {
                const char *in, *why;
        } bad[] = {
                /* the shape of an AttributeValue */
                { "{}", "exactly one type" },
                { "{\"S\": \"a\", \"N\": \"1\"}", "exactly one type" },
                { "\"a\"", "exactly one type" },
                { "{\"X\": \"1\"}", "unknown attribute type" },
                { "{\"s\": \"a\"}", "unknown attribute type" },
                /* scalars are JSON strings */
                { "{\"S\": 1}", "an S value must be a JSON string" },
                { "{\"N\": 1}", "an N value must be a JSON string" },
                { "{\"B\": null}", "a B value must be a base64 JSON string" },
                /* numbers: 38 digits, 1E-130 .. 9.99…E+125 */
                { "{\"N\": \"123456789012345678901234567890123456789\"}", "more than 38 significant digits" },
                { "{\"N\": \"1E126\"}", "magnitude" },
                { "{\"N\": \"-1E-131\"}", "magnitude" },
                { "{\"N\": \"NaN\"}", "not a number" },
                { "{\"N\": \" 1\"}", "not a number" },
                { "{\"N\": \"\"}", "not a number" },
                /* base64, strict (RFC 4648 §4) */
                { "{\"B\": \"AAE\"}", "not valid base64" },
                { "{\"B\": \"AAF=\"}", "not valid base64" },  /* non-zero trailing bits */
                { "{\"B\": \"AA=E\"}", "not valid base64" },
                { "{\"B\": \"A-E=\"}", "not valid base64" },
                /* BOOL and NULL */
                { "{\"BOOL\": \"true\"}", "BOOL must be true or false" },
                { "{\"BOOL\": 1}", "BOOL must be true or false" },
                { "{\"NULL\": false}", "NULL must be true" },
                /* sets: non-empty, unique, of their element type */
                { "{\"SS\": []}", "DynamoDB has no empty sets" },
                { "{\"NS\": []}", "DynamoDB has no empty sets" },
                { "{\"BS\": []}", "DynamoDB has no empty sets" },
                { "{\"SS\": \"a\"}", "non-empty JSON array" },
                { "{\"SS\": [\"a\", \"b\", \"a\"]}", "the same value twice" },
                { "{\"SS\": [\"\", \"\"]}", "the same value twice" },
                { "{\"NS\": [\"1\", \"1.0\"]}", "the same value twice" },         /* by value */
                { "{\"NS\": [\"100\", \"1E2\"]}", "the same value twice" },
                { "{\"BS\": [\"AAE=\", \"AAE=\"]}", "the same value twice" },
                { "{\"SS\": [1]}", "an S value must be a JSON string" },
                { "{\"NS\": [\"x\"]}", "not a number" },
                { "{\"NS\": [1]}", "an N value must be a JSON string" },
                { "{\"BS\": [\"!!!!\"]}", "not valid base64" },
                /* M and L */
                { "{\"M\": []}", "an M value must be a JSON object" },
                { "{\"L\": {}}", "an L value must be a JSON array" },
                { "{\"M\": {\"k\": {\"S\": \"a\"}, \"k\": {\"S\": \"b\"}}}", "same key twice" },
                { "{\"M\": {\"k\": \"plain\"}}", "exactly one type" },
                { "{\"L\": [{\"SS\": []}]}", "no empty sets" },
        };
        Av a;

        av_init(&a);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (av_run(&a, bad[i].in, false) != 1 || !strstr(a.why, bad[i].why))
                        fail_msg("%s: %s, want '%s'", bad[i].in, a.why ? a.why : "accepted", bad[i].why);
        av_done(&a);
}

/* {"M":{"x":{"L":[{"L":[ … ]}]}}}: `levels` containers in all */
static char *nested_av(size_t levels) {
        char *open = rig_repeat("{\"L\": [", levels - 1, "{\"M\": {\"x\": ", "");
        char *v = rig_repeat("]}", levels - 1, open, "}}");

        free(open);
        return v;
}

static void test_nesting_depth(void **state) {
        char *v;
        Av a;

        av_init(&a);
        /* "nested attributes up to 32 levels deep" */
        v = nested_av(32);
        assert_int_equal(av_run(&a, v, false), 0);
        free(v);
        v = nested_av(33);
        assert_int_equal(av_run(&a, v, false), 1);
        assert_string_equal(a.why, "nested deeper than DynamoDB's 32 levels");
        free(v);
        av_done(&a);
}

static void test_base64_len(void **state) {
        static const struct {
                const char *in;
                long len;
        } cases[] = {
                { "", 0 }, { "AA==", 1 }, { "AAA=", 2 }, { "AAAA", 3 }, { "/+8=", 2 },
                { "aGVsbG8=", 5 }, { "A", -1 }, { "AA=", -1 }, { "AB==", -1 }, { "AAB=", -1 },
                { "A===", -1 }, { "====", -1 }, { "AA A", -1 }, { "AA\n=", -1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (ddb_base64_len(cases[i].in, strlen(cases[i].in)) != cases[i].len)
                        fail_msg("'%s': %ld, want %ld", cases[i].in,
                                 ddb_base64_len(cases[i].in, strlen(cases[i].in)), cases[i].len);
}

/* Plain JSON → AttributeValue (jsonl map/list columns). */
static void test_from_json(void **state) {
        Av a;

        av_init(&a);
        assert_int_equal(av_run(&a, "{\"s\": \"x\", \"n\": -0.50, \"t\": true, \"f\": false, \"z\": null, "
                                    "\"l\": [1, []], \"m\": {}}", true), 0);
        assert_string_equal(buf_str(&a.out),
                            "{\"M\":{\"s\":{\"S\":\"x\"},\"n\":{\"N\":\"-0.5\"},\"t\":{\"BOOL\":true},"
                            "\"f\":{\"BOOL\":false},\"z\":{\"NULL\":true},\"l\":{\"L\":[{\"N\":\"1\"},{\"L\":[]}]},"
                            "\"m\":{\"M\":{}}}}");
        /* 3 + s(1+1+1) + n(1+3+1) + t(1+1+1) + f(1+1+1) + z(1+1+1) + l(1+(3+(2+1)+(3+1))+1) + m(1+3+1) */
        assert_int_equal(a.size, 3 + 3 + 5 + 3 + 3 + 3 + 12 + 5);
        assert_int_equal(av_run(&a, "{\"a\": 1, \"a\": 2}", true), 1);
        assert_string_equal(a.why, "a map has the same key twice");
        assert_int_equal(av_run(&a, "[1E126]", true), 1);
        assert_non_null(strstr(a.why, "magnitude"));
        av_done(&a);
}

/* ---- ddb-json items through the schema ---- */

static void test_item(void **state) {
        Rig r;

        rig_init(&r, FORMAT_DDB_JSON, "pk", "sk");
        rig_start(&r);
        assert_int_equal(rig_line(&r, "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"sk\": {\"N\": \"1.50\"}, "
                                      "\"m\": {\"M\": {\"b\": {\"B\": \"AAE=\"}}}, \"ns\": {\"NS\": [\"2\", \"1\"]}}}"), 0);
        assert_string_equal(r.item.json.data,
                            "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1.50\"},\"m\":{\"M\":{\"b\":{\"B\":\"AAE=\"}}},"
                            "\"ns\":{\"NS\":[\"2\",\"1\"]}}");
        /* the dedup key compares numbers by value */
        assert_string_equal(r.key.data, "S1:aN4:15E0");
        /* names 2+2+1+2, values 1 + 3 (1.5: |_1|.|5_| + 1) + (3 + 1+2+1) + (2+2) */
        assert_int_equal(r.item.size, 7 + 1 + 3 + 7 + 4);

        assert_rejected(&r, rig_line(&r, "{\"pk\": {\"S\": \"a\"}}"), "expected {\"Item\": {...}}");
        assert_rejected(&r, rig_line(&r, "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"sk\": {\"N\": \"1\"}}, \"x\": 1}"),
                        "expected {\"Item\": {...}}");
        assert_rejected(&r, rig_line(&r, "{\"Item\": []}"), "expected {\"Item\": {...}}");
        assert_rejected(&r, rig_line(&r, "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"sk\": {\"N\": \"1\"}, \"\": {\"S\": \"x\"}}}"),
                        "an attribute name is empty");
        assert_rejected(&r, rig_line(&r, "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"sk\": {\"N\": \"1\"}, \"pk\": {\"S\": \"b\"}}}"),
                        "the attribute is given twice");
        assert_rejected(&r, rig_line(&r, "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"sk\": {\"N\": \"1\"}, \"s\": {\"SS\": []}}}"),
                        "no empty sets");
        assert_string_equal(r.rj.column_name, "s");
        rig_done(&r);
}

/* Key attributes: present, S, N or B ("Supported data types and naming rules": "each primary
 * key attribute must be defined as type string, number, or binary"), non-empty, and within
 * "Service, account, and table quotas": partition key value 2048 bytes, sort key 1024. */
static void test_item_keys(void **state) {
        char *pk2048 = rig_repeat("p", 2048, "", ""), *pk2049 = rig_repeat("p", 2049, "", "");
        char *sk1024 = rig_repeat("\xc3\xa9", 512, "", ""), *sk1025 = rig_repeat("\xc3\xa9", 512, "", "s");
        /* B counts its raw bytes: 1026 bytes are 1368 base64 characters */
        char *b1024 = rig_repeat("AAAA", 341, "", "AA=="), *b1026 = rig_repeat("AAAA", 342, "", "");
        char line[8192];
        Rig r;

        rig_init(&r, FORMAT_DDB_JSON, "pk", "sk");
        rig_start(&r);
#define ITEM(pk, sk) (snprintf(line, sizeof(line), "{\"Item\": {\"pk\": %s, \"sk\": %s}}", pk, sk), line)
        assert_int_equal(rig_line(&r, ITEM("{\"B\": \"AAE=\"}", "{\"S\": \"x\"}")), 0);
        assert_string_equal(r.key.data, "B4:AAE=S1:x");
        assert_rejected(&r, rig_line(&r, ITEM("{\"BOOL\": true}", "{\"S\": \"x\"}")),
                        "partition key pk is BOOL; DynamoDB keys are S, N or B");
        assert_rejected(&r, rig_line(&r, ITEM("{\"S\": \"a\"}", "{\"SS\": [\"x\"]}")),
                        "sort key sk is SS; DynamoDB keys are S, N or B");
        assert_rejected(&r, rig_line(&r, ITEM("{\"NULL\": true}", "{\"S\": \"x\"}")), "pk is NULL");
        assert_rejected(&r, rig_line(&r, ITEM("{\"M\": {}}", "{\"S\": \"x\"}")), "pk is M");
        assert_rejected(&r, rig_line(&r, ITEM("{\"L\": []}", "{\"S\": \"x\"}")), "pk is L");
        assert_rejected(&r, rig_line(&r, ITEM("{\"S\": \"\"}", "{\"S\": \"x\"}")), "partition key pk is empty");
        assert_rejected(&r, rig_line(&r, ITEM("{\"S\": \"a\"}", "{\"B\": \"\"}")), "sort key sk is empty");
        assert_rejected(&r, rig_line(&r, "{\"Item\": {\"sk\": {\"S\": \"x\"}}}"), "the item has no partition key pk");
        assert_rejected(&r, rig_line(&r, "{\"Item\": {\"pk\": {\"S\": \"x\"}}}"), "the item has no sort key sk");
        rig_done(&r);

        rig_init(&r, FORMAT_DDB_JSON, "pk", "sk");
        rig_start(&r);
        snprintf(line, sizeof(line), "{\"Item\": {\"pk\": {\"S\": \"%s\"}, \"sk\": {\"S\": \"%s\"}}}", pk2048, sk1024);
        assert_int_equal(rig_line(&r, line), 0);
        snprintf(line, sizeof(line), "{\"Item\": {\"pk\": {\"S\": \"%s\"}, \"sk\": {\"S\": \"x\"}}}", pk2049);
        assert_rejected(&r, rig_line(&r, line), "partition key pk is 2049 bytes; DynamoDB allows 2048");
        snprintf(line, sizeof(line), "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"sk\": {\"S\": \"%s\"}}}", sk1025);
        assert_rejected(&r, rig_line(&r, line), "sort key sk is 1025 bytes; DynamoDB allows 1024");
        snprintf(line, sizeof(line), "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"sk\": {\"B\": \"%s\"}}}", b1024);
        assert_int_equal(rig_line(&r, line), 0);
        snprintf(line, sizeof(line), "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"sk\": {\"B\": \"%s\"}}}", b1026);
        assert_rejected(&r, rig_line(&r, line), "sort key sk is 1026 bytes; DynamoDB allows 1024");
        rig_done(&r);

        /* with the table's shape: the declared types, and index keys when present */
        {
                TableShape t = {
                        .hash = { "pk", 'S' }, .range = { "sk", 'N' },
                        .indexes = { { .name = "by_g", .hash = { "g", 'S' }, .range = { "gs", 'B' } } },
                        .n_indexes = 1,
                };

                rig_init(&r, FORMAT_DDB_JSON, "pk", "sk");
                assert_int_equal(rig_compile(&r, &t, NULL), 0);
                assert_rejected(&r, rig_line(&r, ITEM("{\"N\": \"1\"}", "{\"N\": \"1\"}")),
                                "partition key pk is N; the table declares S");
                assert_int_equal(rig_line(&r, "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"sk\": {\"N\": \"1\"}}}"), 0);
                assert_rejected(&r, rig_line(&r, "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"sk\": {\"N\": \"1\"}, \"g\": {\"S\": \"\"}}}"),
                                "GSI by_g key g is empty");
                assert_rejected(&r, rig_line(&r, "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"sk\": {\"N\": \"1\"}, \"gs\": {\"S\": \"x\"}}}"),
                                "GSI by_g key gs is S; the table declares B");
                snprintf(line, sizeof(line), "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"sk\": {\"N\": \"1\"}, \"gs\": {\"B\": \"%s\"}}}", b1026);
                assert_rejected(&r, rig_line(&r, line), "GSI by_g key gs is 1026 bytes; DynamoDB allows 1024");
                rig_done(&r);
        }
#undef ITEM
        free(pk2048);
        free(pk2049);
        free(sk1024);
        free(sk1025);
        free(b1024);
        free(b1026);
}

/* "Service, account, and table quotas": an item is at most 400 KB, names and values. */
static void test_item_size(void **state) {
        char *big = rig_repeat("x", 409600 - 2 - 1 - 1, "", ""), *line = malloc(409600 + 128);
        Rig r;

        rig_init(&r, FORMAT_DDB_JSON, "pk", NULL);
        r.p.csv.max_row_bytes = 1 << 20;
        rig_start(&r);
        /* pk + a = 3, "a" = 1, the value */
        sprintf(line, "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"v\": {\"S\": \"%s\"}}}", big);
        assert_int_equal(rig_line(&r, line), 0);
        assert_int_equal(r.item.size, 409600);
        sprintf(line, "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"v\": {\"S\": \"%sx\"}}}", big);
        assert_rejected(&r, rig_line(&r, line), "item is 409601 bytes, over DynamoDB's 400 KB limit");
        /* the same bytes as a one-element list cost 3 + 1 more */
        big[409600 - 4 - 4] = '\0';
        sprintf(line, "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"v\": {\"L\": [{\"S\": \"%s\"}]}}}", big);
        assert_int_equal(rig_line(&r, line), 0);
        assert_int_equal(r.item.size, 409600);
        sprintf(line, "{\"Item\": {\"pk\": {\"S\": \"a\"}, \"v\": {\"L\": [{\"S\": \"%sx\"}]}}}", big);
        assert_rejected(&r, rig_line(&r, line), "over DynamoDB's 400 KB limit");
        rig_done(&r);
        free(big);
        free(line);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_type),
                cmocka_unit_test(test_type_rules),
                cmocka_unit_test(test_nesting_depth),
                cmocka_unit_test(test_base64_len),
                cmocka_unit_test(test_from_json),
                cmocka_unit_test(test_item),
                cmocka_unit_test(test_item_keys),
                cmocka_unit_test(test_item_size),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
