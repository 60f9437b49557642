/* Writer: turns a stream of DynamoDB items into BatchWriteItem calls of at most 25.
 *
 * Within the pending batch, items are de-duplicated by primary key (DynamoDB rejects a batch
 * that names a key twice): the last occurrence wins, as it would had the rows been written
 * one by one, and the replaced one is counted as superseded. Batches go out synchronously and
 * in order, so across batches a later row also overwrites an earlier one. UnprocessedItems
 * and retryable errors are retried with the shared backoff until max_attempts calls for the
 * same batch, then the write fails (-EIO) and the job fails.
 *
 * The DynamoDB call is behind WriterOps so the writer can be tested without a server; the
 * daemon passes a thin adapter over dynamodb_batch_write(). A Writer belongs to one job on one
 * thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/util.h"

#define WRITER_BATCH_MAX 25     /* BatchWriteItem limit (DynamoDB API Reference) */

typedef struct WriterOps {
        /* Writes items[0..n). On success, *ret_unprocessed (malloc'd, caller frees) lists the
         * indexes DynamoDB returned as UnprocessedItems, *ret_n_unprocessed their count. */
        int (*send)(void *ud, const char *const *items, size_t n,
                    size_t **ret_unprocessed, size_t *ret_n_unprocessed, S3bError *err);
        /* Whether a failed send may be tried again (throttling, 5xx, network). */
        bool (*retryable)(void *ud, int r, const S3bError *err);
        /* Waits before attempt `attempt` (1-based retry number); returns < 0 when cancelled. */
        int (*backoff)(void *ud, unsigned attempt);
} WriterOps;

typedef struct WriterStats {
        uint64_t written;       /* items DynamoDB accepted */
        uint64_t superseded;    /* items replaced by a later one with the same key */
        uint64_t batches;       /* BatchWriteItem calls, retries included */
        uint64_t retries;       /* calls that re-sent unprocessed items or retried an error */
} WriterStats;

typedef struct Writer Writer;

Writer *writer_new(const WriterOps *ops, void *ud, unsigned max_attempts);
Writer *writer_free(Writer *w);
DEFINE_CLEANUP_FUNC(Writer *, writer_free);

/* Adds one item (DynamoDB JSON map) under its primary-key string (any encoding that is equal
 * exactly when the keys are equal). Both are copied. Sends a batch when 25 are pending. */
int writer_add(Writer *w, const char *key, const char *item_json, S3bError *err);

/* Sends what is pending. */
int writer_flush(Writer *w, S3bError *err);

const WriterStats *writer_stats(const Writer *w);
