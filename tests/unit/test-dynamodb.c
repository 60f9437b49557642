/* DescribeTable answers into a TableShape: keys, types, secondary indexes, and the bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/dynamodb.h"

/* Shaped like DynamoDB's DescribeTable answer (API Reference, "DescribeTable" example),
 * trimmed to what the parser reads plus a few fields it must skip. */
static const char describe_json[] =
        "{\"Table\":{\"TableName\":\"PRELIM_STUDENT_DATA\",\"TableStatus\":\"ACTIVE\","
        "\"AttributeDefinitions\":["
        "{\"AttributeName\":\"student_id\",\"AttributeType\":\"S\"},"
        "{\"AttributeName\":\"course\",\"AttributeType\":\"S\"},"
        "{\"AttributeName\":\"last_name\",\"AttributeType\":\"S\"},"
        "{\"AttributeName\":\"score\",\"AttributeType\":\"N\"},"
        "{\"AttributeName\":\"photo\",\"AttributeType\":\"B\"}],"
        "\"KeySchema\":[{\"AttributeName\":\"course\",\"KeyType\":\"RANGE\"},"
        "{\"AttributeName\":\"student_id\",\"KeyType\":\"HASH\"}],"
        "\"ItemCount\":0,\"TableSizeBytes\":0,"
        "\"GlobalSecondaryIndexes\":[{\"IndexName\":\"by_name\",\"IndexStatus\":\"ACTIVE\","
        "\"KeySchema\":[{\"AttributeName\":\"last_name\",\"KeyType\":\"HASH\"}],"
        "\"Projection\":{\"ProjectionType\":\"ALL\"}},"
        "{\"IndexName\":\"by_photo\",\"KeySchema\":[{\"AttributeName\":\"photo\",\"KeyType\":\"HASH\"},"
        "{\"AttributeName\":\"score\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"}}],"
        "\"LocalSecondaryIndexes\":[{\"IndexName\":\"by_score\","
        "\"KeySchema\":[{\"AttributeName\":\"student_id\",\"KeyType\":\"HASH\"},"
        "{\"AttributeName\":\"score\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"ALL\"}}]}}";

static void test_describe_parse(void **state) {
        TableShape *t = calloc(1, sizeof(*t));
        S3bError err = {};

        assert_int_equal(dynamodb_table_shape_parse(describe_json, strlen(describe_json), t, &err), 0);
        assert_string_equal(t->hash.name, "student_id");
        assert_int_equal(t->hash.type, 'S');
        assert_string_equal(t->range.name, "course");
        assert_int_equal(t->range.type, 'S');
        assert_string_equal(t->status, "ACTIVE");
        assert_int_equal(t->n_indexes, 3);
        assert_string_equal(t->indexes[0].name, "by_name");
        assert_false(t->indexes[0].local);
        assert_string_equal(t->indexes[0].hash.name, "last_name");
        assert_int_equal(t->indexes[0].hash.type, 'S');
        assert_string_equal(t->indexes[0].range.name, "");
        assert_int_equal(t->indexes[0].range.type, 0);
        assert_string_equal(t->indexes[1].name, "by_photo");
        assert_int_equal(t->indexes[1].hash.type, 'B');
        assert_string_equal(t->indexes[1].range.name, "score");
        assert_int_equal(t->indexes[1].range.type, 'N');
        assert_string_equal(t->indexes[2].name, "by_score");
        assert_true(t->indexes[2].local);
        assert_string_equal(table_index_kind(&t->indexes[2]), "LSI");
        assert_string_equal(t->indexes[2].range.name, "score");
        free(t);
}

static void expect_bad(const char *json, int code, const char *msg) {
        TableShape *t = calloc(1, sizeof(*t));
        S3bError err = {};

        t->n_indexes = 7;       /* untouched on failure */
        assert_int_equal(dynamodb_table_shape_parse(json, strlen(json), t, &err), code);
        assert_int_equal(t->n_indexes, 7);
        if (!strstr(err.message, msg))
                fail_msg("'%s' lacks '%s' for %s", err.message, msg, json);
        free(t);
}

static void test_describe_malformed(void **state) {
        expect_bad("not json", -EBADMSG, "not JSON");
        expect_bad("{}", -EBADMSG, "malformed key schema");
        /* a key attribute without a type in AttributeDefinitions */
        expect_bad("{\"Table\":{\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}]}}",
                   -EBADMSG, "malformed key schema");
        /* two HASH keys */
        expect_bad("{\"Table\":{\"AttributeDefinitions\":[{\"AttributeName\":\"k\",\"AttributeType\":\"S\"}],"
                   "\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"},"
                   "{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}]}}", -EBADMSG, "malformed key schema");
        /* an index whose key attribute has no definition */
        expect_bad("{\"Table\":{\"AttributeDefinitions\":[{\"AttributeName\":\"k\",\"AttributeType\":\"S\"}],"
                   "\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}],"
                   "\"GlobalSecondaryIndexes\":[{\"IndexName\":\"g\",\"KeySchema\":"
                   "[{\"AttributeName\":\"x\",\"KeyType\":\"HASH\"}]}]}}", -EBADMSG, "malformed global secondary index");
        expect_bad("{\"Table\":{\"AttributeDefinitions\":[{\"AttributeName\":\"k\",\"AttributeType\":\"S\"}],"
                   "\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}],"
                   "\"LocalSecondaryIndexes\":{}}}", -EBADMSG, "malformed LocalSecondaryIndexes");
}

/* More indexes than the arrays hold: refused, never truncated (an unchecked index could fail
 * a batch). */
static void test_describe_too_many_indexes(void **state) {
        char *json = malloc(64 * 1024), *p = json;
        TableShape *t = calloc(1, sizeof(*t));
        S3bError err = {};

        p += sprintf(p, "{\"Table\":{\"AttributeDefinitions\":[{\"AttributeName\":\"k\",\"AttributeType\":\"S\"}],"
                        "\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}],\"GlobalSecondaryIndexes\":[");
        for (unsigned i = 0; i <= TABLE_SHAPE_MAX_INDEXES; i++)
                p += sprintf(p, "%s{\"IndexName\":\"g%u\",\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}]}",
                             i ? "," : "", i);
        strcpy(p, "]}}");
        assert_int_equal(dynamodb_table_shape_parse(json, strlen(json), t, &err), -E2BIG);
        assert_non_null(strstr(err.message, "more than 32 secondary indexes"));
        /* exactly the cap is fine */
        p = strstr(json, ",{\"IndexName\":\"g32\"");
        assert_non_null(p);
        strcpy(p, "]}}");
        assert_int_equal(dynamodb_table_shape_parse(json, strlen(json), t, &err), 0);
        assert_int_equal(t->n_indexes, TABLE_SHAPE_MAX_INDEXES);
        free(t);
        free(json);
}

/* ReturnConsumedCapacity TOTAL: BatchWriteItem answers a list, one entry per table. */
static void test_consumed_capacity(void **state) {
        static const struct { const char *json; const char *table; double want; } t[] = {
                { "{\"ConsumedCapacity\":[{\"TableName\":\"T_1\",\"CapacityUnits\":50.0}]}", "T_1", 50 },
                { "{\"ConsumedCapacity\":[{\"TableName\":\"T_0\",\"CapacityUnits\":3},"
                  "{\"TableName\":\"T_1\",\"CapacityUnits\":7}]}", "T_1", 7 },
                { "{\"ConsumedCapacity\":[{\"TableName\":\"T_1\",\"CapacityUnits\":7}]}",
                  "arn:aws:dynamodb:eu-west-1:111122223333:table/T_1", 7 },
                { "{\"UnprocessedItems\":{}}", "T_1", -1 },
                { "{\"ConsumedCapacity\":{\"TableName\":\"T_1\",\"CapacityUnits\":7}}", "T_1", -1 },
                { "{\"ConsumedCapacity\":[{\"TableName\":\"T_1\",\"CapacityUnits\":-7}]}", "T_1", -1 },
                { "{\"ConsumedCapacity\":[{\"TableName\":\"T_1\",\"CapacityUnits\":\"7\"}]}", "T_1", -1 },
                { "{\"ConsumedCapacity\":[{\"TableName\":\"T_2\",\"CapacityUnits\":7}]}", "T_1", -1 },
        };

        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                cJSON *j = cJSON_Parse(t[i].json);

                assert_non_null(j);
                assert_true(dynamodb_consumed_capacity(j, t[i].table) == t[i].want);
                cJSON_Delete(j);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_consumed_capacity),
                cmocka_unit_test(test_describe_parse),
                cmocka_unit_test(test_describe_malformed),
                cmocka_unit_test(test_describe_too_many_indexes),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
