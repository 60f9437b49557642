/* DynamoDB: DescribeTable answers into a TableShape (keys, types, secondary indexes, the
 * bounds), and BatchWriteItem against a scripted server: the request it sends, what comes
 * back unprocessed, and the x-amz-crc32 check it asks the shared path for. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "common/aws/dynamodb.h"
#include "aws-fixture.h"

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

static char *const two_items[] = {
        "{\"student_id\":{\"S\":\"1\"},\"course\":{\"S\":\"math\"}}",
        "{\"student_id\":{\"S\":\"2\"},\"course\":{\"S\":\"art\"}}",
};

/* "x-amz-crc32: <crc of body>\r\n" */
static const char *crc_header(const char *body, char *buf, size_t n) {
        snprintf(buf, n, "x-amz-crc32: %lu\r\n", crc32(0L, (const Bytef *) body, (uInt) strlen(body)));
        return buf;
}

static void ddb_fixture(Fixture *f, unsigned max_attempts, const DynamoOptions *d) {
        AwsContextOptions o = {};

        if (d)
                dynamodb_options_set(&o, d);
        fixture_start_with(f, max_attempts, &o);
}

/* The request as the API Reference spells it, the second item handed back unprocessed. */
static void test_batch_write_request_and_unprocessed(void **state) {
        static const char answer[] =
                "{\"UnprocessedItems\":{\"T_1\":[{\"PutRequest\":{\"Item\":"
                "{\"course\":{\"S\":\"art\"},\"student_id\":{\"S\":\"2\"}}}}]},"
                "\"ConsumedCapacity\":[{\"TableName\":\"T_1\",\"CapacityUnits\":1.5}]}";
        static const char want_body[] =
                "{\"RequestItems\":{\"T_1\":[{\"PutRequest\":{\"Item\":"
                "{\"student_id\":{\"S\":\"1\"},\"course\":{\"S\":\"math\"}}}},"
                "{\"PutRequest\":{\"Item\":{\"student_id\":{\"S\":\"2\"},\"course\":{\"S\":\"art\"}}}}]},"
                "\"ReturnConsumedCapacity\":\"TOTAL\"}";
        char crc[64], hv[128];
        Fixture f = { .server = { .n_script = 1 } };
        DynamoBatchResult res = {};
        S3bError err = {};

        f.server.script[0] = (Answer) { 200, crc_header(answer, crc, sizeof(crc)), answer };
        ddb_fixture(&f, 3, NULL);
        assert_int_equal(dynamodb_batch_write_ex(f.client, &(DynamoBatchWrite) {
                                .table = "T_1", .items_json = two_items, .n = 2 }, &res, &err), 0);
        assert_string_equal(f.server.bodies[0], want_body);
        assert_true(strncmp(f.server.requests[0], "POST / HTTP/1.1\r\n", 17) == 0);
        assert_string_equal(request_header(f.server.requests[0], "X-Amz-Target", hv, sizeof(hv)),
                            "DynamoDB_20120810.BatchWriteItem");
        assert_string_equal(request_header(f.server.requests[0], "Content-Type", hv, sizeof(hv)),
                            "application/x-amz-json-1.0");
        assert_int_equal(res.n_unprocessed, 1);
        assert_int_equal(res.unprocessed_idx[0], 1);
        assert_true(res.consumed == 1.5);
        free(res.unprocessed_idx);
        fixture_stop(&f);
}

/* An unprocessed item that was never sent is a malformed answer, not a lost row. */
static void test_batch_write_unknown_unprocessed(void **state) {
        static const char answer[] =
                "{\"UnprocessedItems\":{\"T_1\":[{\"PutRequest\":{\"Item\":"
                "{\"student_id\":{\"S\":\"3\"},\"course\":{\"S\":\"art\"}}}}]}}";
        Fixture f = { .server = { .n_script = 1, .script = { { 200, NULL, answer } } } };
        DynamoBatchResult res = { .n_unprocessed = 99 };
        S3bError err = {};

        ddb_fixture(&f, 3, NULL);
        assert_int_equal(dynamodb_batch_write_ex(f.client, &(DynamoBatchWrite) {
                                .table = "T_1", .items_json = two_items, .n = 2 }, &res, &err),
                         -EBADMSG);
        assert_int_equal(res.n_unprocessed, 99);        /* untouched */
        assert_non_null(strstr(err.message, "not sent"));
        fixture_stop(&f);
}

/* DynamoDB asks the shared path for the CRC32 check: a damaged body is retried... */
static void test_batch_write_crc32_mismatch_retried(void **state) {
        static const char good[] = "{\"UnprocessedItems\":{}}";
        char crc[64];
        Fixture f = { .server = { .n_script = 2 } };
        DynamoBatchResult res = {};
        S3bError err = {};

        f.server.script[0] = (Answer) { 200, "x-amz-crc32: 7\r\n", good };
        f.server.script[1] = (Answer) { 200, crc_header(good, crc, sizeof(crc)), good };
        ddb_fixture(&f, 3, NULL);
        assert_int_equal(dynamodb_batch_write_ex(f.client, &(DynamoBatchWrite) {
                                .table = "T_1", .items_json = two_items, .n = 2 }, &res, &err), 0);
        assert_int_equal(f.server.served, 2);
        assert_int_equal(res.n_unprocessed, 0);
        assert_string_equal(f.server.bodies[0], f.server.bodies[1]);    /* the same request */
        fixture_stop(&f);
}

/* ...and with one attempt it is the call's failure, never data. */
static void test_describe_crc32_mismatch_fails(void **state) {
        Fixture f = { .server = { .n_script = 1, .script = {
                { 200, "x-amz-crc32: 7\r\n", describe_json },
        } } };
        TableShape *t = calloc(1, sizeof(*t));
        S3bError err = {};

        assert_non_null(t);
        ddb_fixture(&f, 1, NULL);
        assert_int_equal(dynamodb_describe_table(f.client, "PRELIM_STUDENT_DATA", t, &err), -EIO);
        assert_string_equal(err.aws_code, AWS_CODE_CRC32_MISMATCH);
        assert_string_equal(t->hash.name, "");          /* untouched */
        free(t);
        fixture_stop(&f);
}

/* DynamoOptions.max_attempts_batch is the default of a call that does not say. */
static void test_batch_write_attempts_from_options(void **state) {
        static const char throttled[] =
                "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\","
                "\"message\":\"slow down\"}";
        Fixture f = { .server = { .n_script = 3, .script = {
                { 400, NULL, throttled }, { 400, NULL, throttled }, { 400, NULL, throttled },
        } } };
        DynamoBatchResult res = {};
        S3bError err = {};

        ddb_fixture(&f, 1, &(DynamoOptions) { .max_attempts_batch = 2 });
        assert_int_equal(dynamodb_batch_write_ex(f.client, &(DynamoBatchWrite) {
                                .table = "T_1", .items_json = two_items, .n = 2 }, &res, &err),
                         -EAGAIN);
        assert_int_equal(f.server.served, 2);
        fixture_stop(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_consumed_capacity),
                cmocka_unit_test(test_describe_parse),
                cmocka_unit_test(test_describe_malformed),
                cmocka_unit_test(test_describe_too_many_indexes),
                cmocka_unit_test(test_batch_write_request_and_unprocessed),
                cmocka_unit_test(test_batch_write_unknown_unprocessed),
                cmocka_unit_test(test_batch_write_crc32_mismatch_retried),
                cmocka_unit_test(test_describe_crc32_mismatch_fails),
                cmocka_unit_test(test_batch_write_attempts_from_options),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
