/* Amazon DynamoDB over AWS JSON 1.0 (X-Amz-Target: DynamoDB_20120810.<Action>). */
#pragma once

#include <stddef.h>

#include "common/aws/client.h"
#include "common/tableshape.h"

/* Settings only DynamoDB reads, handed to the context with dynamodb_options_set(). */
#define DYNAMODB_MAX_ATTEMPTS_BATCH_DEFAULT 10u
typedef struct DynamoOptions {
        /* BatchWriteItem calls per batch when the call does not say (DynamoBatchWrite); a
         * batch is worth more patience than one small call. 0: 10. */
        unsigned max_attempts_batch;
} DynamoOptions;

/* Gives d to the context built from o (copied by aws_context_new()). */
static inline void dynamodb_options_set(AwsContextOptions *o, const DynamoOptions *d) {
        o->service[AWS_SERVICE_DYNAMODB] = (AwsServiceOptions) { d, sizeof(*d) };
}

/* Every call asks the shared path to check the x-amz-crc32 DynamoDB sends with each answer
 * (AwsRequest.check_crc32): a body damaged on the way is retried, never read as data. */

/* BatchWriteItem limits (DynamoDB API Reference, "BatchWriteItem"). */
#define DYNAMODB_BATCH_MAX 25u
#define DYNAMODB_BATCH_BYTES_MAX (16u * 1024 * 1024)

/* One BatchWriteItem of PutRequests into table. items_json[i] is one item already in
 * DynamoDB JSON ({"student_id":{"S":"42"},"course":{"S":"math"}}), trusted to be a valid
 * JSON object (the schema module produced it): it is pasted into the request, not re-parsed.
 * n is 1..25.
 *
 * The HTTP call is retried by the shared path up to DynamoOptions.max_attempts_batch. UnprocessedItems
 * are NOT retried here — the writer owns that loop (with aws_client_backoff_ms). They are
 * reported as indexes into items_json, in ascending order, in *ret_unprocessed_idx (malloc'd,
 * NULL when none; caller frees) and *ret_n_unprocessed. They are matched by value: each item
 * DynamoDB returns is compared (cJSON_Compare, order-insensitive, exact strings) with the
 * parsed input items — DynamoDB echoes the Item exactly as sent, and a batch cannot hold two
 * items with the same key, so the match is unique. Parsing happens only when something came
 * back unprocessed. A returned item that matches no input is -EBADMSG.
 *
 * Errors: -EINVAL (n out of range, a ValidationException such as a duplicate key or an item
 * over 400 KB), -ENOENT (no such table), -EAGAIN (still throttled after every attempt), the
 * shared path's others. Outputs untouched on failure. */
int dynamodb_batch_write(AwsClient *c, const char *table, char *const *items_json, size_t n,
                         size_t **ret_unprocessed_idx, size_t *ret_n_unprocessed, S3bError *err);

/* The same call with its options and everything the answer says. Every BatchWriteItem asks
 * for ReturnConsumedCapacity TOTAL: the write capacity units the call consumed (the table's
 * and its indexes') come back in ->consumed, or -1 when the answer names none for the table
 * (an emulator that ignores the parameter, or a malformed value). */
typedef struct DynamoBatchWrite {
        const char *table;
        char *const *items_json;
        size_t n;
        /* 0: DynamoOptions.max_attempts_batch. 1: no retry here, for a caller that paces
         * its own retries (the writer, whose rate limiter must see every throttle). */
        unsigned max_attempts;
} DynamoBatchWrite;

typedef struct DynamoBatchResult {
        size_t *unprocessed_idx;        /* malloc'd, NULL when none */
        size_t n_unprocessed;
        double consumed;                /* WCU, -1 when unknown */
} DynamoBatchResult;

int dynamodb_batch_write_ex(AwsClient *c, const DynamoBatchWrite *req, DynamoBatchResult *ret,
                            S3bError *err);

/* The CapacityUnits of `table` in a BatchWriteItem response's ConsumedCapacity list, or -1. */
double dynamodb_consumed_capacity(const cJSON *resp, const char *table);

/* DescribeTable: the table's key attributes and their types, and the key attributes of its
 * global and local secondary indexes (at most TABLE_SHAPE_MAX_INDEXES, else -E2BIG), into
 * *ret. -ENOENT when the table does not exist, -EBADMSG when the answer is malformed (a key
 * attribute without an AttributeDefinitions type, a name over 255 bytes, …). */
int dynamodb_describe_table(AwsClient *c, const char *table, TableShape *ret, S3bError *err);

/* The parsing half of dynamodb_describe_table(), on a DescribeTable response body. */
int dynamodb_table_shape_parse(const char *json, size_t len, TableShape *ret, S3bError *err);
