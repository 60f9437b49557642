/* DynamoDB: BatchWriteItem bodies are concatenated from the already-serialised items (the hot
 * path of the daemon: no parse/print round trip per item); responses parsed with cJSON. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/dynamodb.h"
#include "common/cleanup.h"

/* UnprocessedItems echoes up to the whole request back. */
#define DYNAMODB_BATCH_RESPONSE_MAX (DYNAMODB_BATCH_BYTES_MAX + 1024u * 1024)

static unsigned max_attempts_batch(AwsClient *c) {
        const DynamoOptions *o = aws_context_service_options(aws_client_context(c),
                                                             AWS_SERVICE_DYNAMODB, sizeof(*o));

        return o && o->max_attempts_batch ? o->max_attempts_batch : DYNAMODB_MAX_ATTEMPTS_BATCH_DEFAULT;
}

/* Table names are [a-zA-Z0-9_.-]{3,255}; a table ARN adds ':' and '/'. Nothing to escape. */
static bool table_name_ok(const char *t) {
        size_t n = t ? strlen(t) : 0;

        if (n < 3 || n > 1024)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) t[i]) && !strchr("_.-:/", t[i]))
                        return false;
        return true;
}

/* ConsumedCapacity (DynamoDB API Reference, "BatchWriteItem"): one entry per table. */
double dynamodb_consumed_capacity(const cJSON *resp, const char *table) {
        const cJSON *cc = cJSON_GetObjectItemCaseSensitive(resp, "ConsumedCapacity"), *e;

        if (!cJSON_IsArray(cc))
                return -1;
        cJSON_ArrayForEach(e, cc) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "TableName"),
                            *units = cJSON_GetObjectItemCaseSensitive(e, "CapacityUnits");
                const char *slash;

                if (!cJSON_IsString(name) || !cJSON_IsNumber(units))
                        continue;
                /* a table given by ARN is answered by name */
                slash = strrchr(table, '/');
                if (strcmp(name->valuestring, table) != 0 &&
                    !(slash && strcmp(name->valuestring, slash + 1) == 0))
                        continue;
                if (!(units->valuedouble >= 0 && units->valuedouble <= 1e9))
                        return -1;      /* NaN, negative or absurd: not a number to charge */
                return units->valuedouble;
        }
        return -1;
}

static int build_batch_body(const char *table, char *const *items, size_t n, Buf *b) {
        static const char head[] = "{\"RequestItems\":{\"", put[] = ",{\"PutRequest\":{\"Item\":";
        static const char tail[] = "]},\"ReturnConsumedCapacity\":\"TOTAL\"}";
        size_t len[DYNAMODB_BATCH_MAX], total = sizeof(head) + strlen(table) + sizeof(tail) + 8;
        int r;

        /* sized once: this runs for every 25 rows */
        for (size_t i = 0; i < n; i++) {
                len[i] = strlen(items[i]);
                total += sizeof(put) + 2 + len[i];
        }
        r = buf_reserve(b, total);
        if (r >= 0)
                r = buf_append(b, head, sizeof(head) - 1);
        if (r >= 0)
                r = buf_append_str(b, table);
        if (r >= 0)
                r = buf_append(b, "\":[", 3);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = buf_append(b, put + (i ? 0 : 1), sizeof(put) - (i ? 1 : 2));
                if (r >= 0)
                        r = buf_append(b, items[i], len[i]);
                if (r >= 0)
                        r = buf_append(b, "}}", 2);
        }
        if (r >= 0)
                r = buf_append(b, tail, sizeof(tail) - 1);
        return r;
}

/* The parsed input items, parsed only when something came back unprocessed. */
typedef struct ParsedItems {
        cJSON *item[DYNAMODB_BATCH_MAX];
        size_t n;
} ParsedItems;

static void parsed_items_done(ParsedItems *p) {
        for (size_t i = 0; i < p->n; i++)
                cJSON_Delete(p->item[i]);
}

/* The index of the first unused input equal to item, n when none. */
static int find_input(ParsedItems *p, char *const *items, size_t n, const bool *used,
                      const cJSON *item, size_t *ret, S3bError *err) {
        size_t i;

        for (i = 0; i < n; i++) {
                if (used[i])
                        continue;
                if (!p->item[i] && !(p->item[i] = cJSON_Parse(items[i])))
                        return s3b_error_set(err, -EINVAL, "item %zu is not valid JSON", i);
                if (cJSON_Compare(p->item[i], item, true))
                        break;
        }
        *ret = i;
        return 0;
}

/* Indexes of the inputs equal to the returned items. */
static int match_unprocessed(const cJSON *returned, char *const *items, size_t n,
                             size_t **ret, size_t *ret_n, S3bError *err) {
        _cleanup_(parsed_items_done) ParsedItems parsed = { .n = n };
        _cleanup_free_ size_t *idx = NULL;
        bool used[DYNAMODB_BATCH_MAX] = {};
        const cJSON *req;
        size_t k = 0;
        int r;

        idx = calloc(n, sizeof(*idx));
        if (!idx)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        cJSON_ArrayForEach(req, returned) {
                const cJSON *item = cJSON_GetObjectItemCaseSensitive(
                        cJSON_GetObjectItemCaseSensitive(req, "PutRequest"), "Item");
                size_t i = n;

                r = find_input(&parsed, items, n, used, item, &i, err);
                if (r < 0)
                        return r;
                if (i == n || k == n)
                        return s3b_error_set(err, -EBADMSG,
                                             "DynamoDB returned an unprocessed item that was not sent");
                used[i] = true;
                k++;
        }
        k = 0;
        for (size_t i = 0; i < n; i++)
                if (used[i])
                        idx[k++] = i;
        *ret = k ? TAKE_PTR(idx) : NULL;
        *ret_n = k;
        return 0;
}

static int batch_check(const DynamoBatchWrite *req, S3bError *err) {
        if (req->n < 1 || req->n > DYNAMODB_BATCH_MAX || !table_name_ok(req->table))
                return s3b_error_set(err, -EINVAL, "DynamoDB BatchWriteItem: 1..25 items and a valid table name");
        for (size_t i = 0; i < req->n; i++)
                if (!req->items_json[i] || req->items_json[i][0] != '{')
                        return s3b_error_set(err, -EINVAL, "DynamoDB BatchWriteItem: item %zu is not a JSON object", i);
        return 0;
}

/* UnprocessedItems (DynamoDB API Reference, "BatchWriteItem"): a map of table → requests;
 * ours is the only table asked, so anything else in it is malformed. */
static int batch_result(const cJSON *resp, const DynamoBatchWrite *req, DynamoBatchResult *ret,
                        S3bError *err) {
        const cJSON *unprocessed = cJSON_GetObjectItemCaseSensitive(resp, "UnprocessedItems");
        const cJSON *mine = cJSON_GetObjectItemCaseSensitive(unprocessed, req->table);
        DynamoBatchResult res = {};
        int r;

        if (cJSON_GetArraySize(unprocessed) > (mine ? 1 : 0) || (mine && !cJSON_IsArray(mine)))
                return s3b_error_set(err, -EBADMSG, "DynamoDB BatchWriteItem: malformed UnprocessedItems");
        if (cJSON_GetArraySize(mine) > 0) {
                r = match_unprocessed(mine, req->items_json, req->n, &res.unprocessed_idx,
                                      &res.n_unprocessed, err);
                if (r < 0)
                        return r;
        }
        res.consumed = dynamodb_consumed_capacity(resp, req->table);
        *ret = res;
        return 0;
}

int dynamodb_batch_write_ex(AwsClient *c, const DynamoBatchWrite *req, DynamoBatchResult *ret,
                            S3bError *err) {
        _cleanup_(cJSON_Deletep) cJSON *resp = NULL;
        _cleanup_(buf_done) Buf body = BUF_INIT(DYNAMODB_BATCH_BYTES_MAX + 4096);
        int r;

        r = batch_check(req, err);
        if (r < 0)
                return r;
        r = build_batch_body(req->table, req->items_json, req->n, &body);
        if (r < 0)
                return s3b_error_set(err, r, "DynamoDB BatchWriteItem: request over %u bytes",
                                     DYNAMODB_BATCH_BYTES_MAX);
        r = aws_client_json_call(c, &(AwsJsonCall) {
                        .service = AWS_SERVICE_DYNAMODB,
                        .target = "DynamoDB_20120810.BatchWriteItem",
                        .body = body.data,
                        .body_len = body.len,
                        .response_max = DYNAMODB_BATCH_RESPONSE_MAX,
                        .max_attempts = req->max_attempts ? req->max_attempts :
                                        max_attempts_batch(c),
                        .check_crc32 = true,
                }, &resp, err);
        if (r < 0)
                return s3b_error_prefix(err, "DynamoDB BatchWriteItem %s", req->table);
        return batch_result(resp, req, ret, err);
}

int dynamodb_batch_write(AwsClient *c, const char *table, char *const *items_json, size_t n,
                         size_t **ret_unprocessed_idx, size_t *ret_n_unprocessed, S3bError *err) {
        DynamoBatchResult res = {};
        int r;

        r = dynamodb_batch_write_ex(c, &(DynamoBatchWrite) { .table = table, .items_json = items_json,
                                                             .n = n }, &res, err);
        if (r < 0)
                return r;
        *ret_unprocessed_idx = res.unprocessed_idx;
        *ret_n_unprocessed = res.n_unprocessed;
        return 0;
}

static char attribute_type(const cJSON *defs, const char *name) {
        const cJSON *d;

        cJSON_ArrayForEach(d, defs) {
                const cJSON *n = cJSON_GetObjectItemCaseSensitive(d, "AttributeName"),
                            *t = cJSON_GetObjectItemCaseSensitive(d, "AttributeType");

                if (cJSON_IsString(n) && cJSON_IsString(t) && strcmp(n->valuestring, name) == 0 &&
                    strlen(t->valuestring) == 1 && strchr("SNB", t->valuestring[0]))
                        return t->valuestring[0];
        }
        return 0;
}

/* A KeySchema array (table or index) into hash/range, typed from AttributeDefinitions. */
static int key_schema_from_json(const cJSON *key_schema, const cJSON *defs, TableKeyAttr *hash,
                                TableKeyAttr *range) {
        const cJSON *k;

        if (!cJSON_IsArray(key_schema) || cJSON_GetArraySize(key_schema) > 2)
                return -EBADMSG;
        cJSON_ArrayForEach(k, key_schema) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(k, "AttributeName"),
                            *type = cJSON_GetObjectItemCaseSensitive(k, "KeyType");
                TableKeyAttr *a;

                if (!cJSON_IsString(name) || !cJSON_IsString(type) || !name->valuestring[0] ||
                    strlen(name->valuestring) > TABLE_NAME_MAX)
                        return -EBADMSG;
                if (strcmp(type->valuestring, "HASH") == 0)
                        a = hash;
                else if (strcmp(type->valuestring, "RANGE") == 0)
                        a = range;
                else
                        return -EBADMSG;
                if (a->name[0])
                        return -EBADMSG;        /* two HASH or two RANGE */
                snprintf(a->name, sizeof(a->name), "%s", name->valuestring);
                a->type = attribute_type(defs, name->valuestring);
                if (!a->type)
                        return -EBADMSG;
        }
        return hash->name[0] ? 0 : -EBADMSG;
}

static int indexes_from_json(const cJSON *list, const cJSON *defs, bool local, TableShape *ts,
                             S3bError *err) {
        const cJSON *ix;

        if (list && !cJSON_IsArray(list))
                return s3b_error_set(err, -EBADMSG, "malformed %s",
                                     local ? "LocalSecondaryIndexes" : "GlobalSecondaryIndexes");
        cJSON_ArrayForEach(ix, list) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(ix, "IndexName");
                TableIndex *t;

                if (ts->n_indexes >= TABLE_SHAPE_MAX_INDEXES)
                        return s3b_error_set(err, -E2BIG, "more than %u secondary indexes",
                                             TABLE_SHAPE_MAX_INDEXES);
                t = &ts->indexes[ts->n_indexes];
                *t = (TableIndex) { .local = local };
                if (!cJSON_IsString(name) || !name->valuestring[0] ||
                    strlen(name->valuestring) > TABLE_NAME_MAX ||
                    key_schema_from_json(cJSON_GetObjectItemCaseSensitive(ix, "KeySchema"), defs,
                                         &t->hash, &t->range) < 0)
                        return s3b_error_set(err, -EBADMSG, "malformed %s index",
                                             local ? "local secondary" : "global secondary");
                snprintf(t->name, sizeof(t->name), "%s", name->valuestring);
                ts->n_indexes++;
        }
        return 0;
}

static int table_shape_from_json(const cJSON *t, TableShape *ts, S3bError *err) {
        const cJSON *defs = cJSON_GetObjectItemCaseSensitive(t, "AttributeDefinitions"),
                    *status = cJSON_GetObjectItemCaseSensitive(t, "TableStatus");
        int r;

        if (key_schema_from_json(cJSON_GetObjectItemCaseSensitive(t, "KeySchema"), defs,
                                 &ts->hash, &ts->range) < 0)
                return s3b_error_set(err, -EBADMSG, "malformed key schema");
        r = indexes_from_json(cJSON_GetObjectItemCaseSensitive(t, "GlobalSecondaryIndexes"), defs,
                              false, ts, err);
        if (r >= 0)
                r = indexes_from_json(cJSON_GetObjectItemCaseSensitive(t, "LocalSecondaryIndexes"),
                                      defs, true, ts, err);
        if (r < 0)
                return r;
        if (cJSON_IsString(status))
                snprintf(ts->status, sizeof(ts->status), "%s", status->valuestring);
        return 0;
}

int dynamodb_table_shape_parse(const char *json, size_t len, TableShape *ret, S3bError *err) {
        _cleanup_(cJSON_Deletep) cJSON *resp = cJSON_ParseWithLength(json, len);
        _cleanup_free_ TableShape *ts = NULL;
        int r;

        if (!resp)
                return s3b_error_set(err, -EBADMSG, "DescribeTable: not JSON");
        /* ~25 KB: on the heap, and *ret untouched on failure */
        ts = calloc(1, sizeof(*ts));
        if (!ts)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        r = table_shape_from_json(cJSON_GetObjectItemCaseSensitive(resp, "Table"), ts, err);
        if (r >= 0)
                *ret = *ts;
        return r;
}

int dynamodb_describe_table(AwsClient *c, const char *table, TableShape *ret, S3bError *err) {
        _cleanup_(cJSON_Deletep) cJSON *resp = NULL;
        _cleanup_free_ char *body = NULL;
        _cleanup_free_ TableShape *ts = NULL;
        int r;

        if (!table_name_ok(table))
                return s3b_error_set(err, -EINVAL, "DynamoDB DescribeTable: invalid table name");
        if (asprintf(&body, "{\"TableName\":\"%s\"}", table) < 0)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        ts = calloc(1, sizeof(*ts));
        if (!ts)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        r = aws_client_json_call(c, &(AwsJsonCall) {
                        .service = AWS_SERVICE_DYNAMODB,
                        .target = "DynamoDB_20120810.DescribeTable",
                        .body = body,
                        .body_len = strlen(body),
                        .check_crc32 = true,
                }, &resp, err);
        if (r < 0)
                return s3b_error_prefix(err, "DynamoDB DescribeTable %s", table);
        r = table_shape_from_json(cJSON_GetObjectItemCaseSensitive(resp, "Table"), ts, err);
        if (r < 0)
                return s3b_error_prefix(err, "DynamoDB DescribeTable %s", table);
        *ret = *ts;
        return 0;
}
