/* Writer: turns a stream of DynamoDB items into BatchWriteItem calls of at most 25.
 *
 * Within the pending batch, items are de-duplicated by primary key (DynamoDB rejects a batch
 * that names a key twice): the last occurrence wins, as it would had the rows been written
 * one by one, and the replaced one is counted as superseded. UnprocessedItems are retried with
 * the shared backoff until max_attempts calls for the same batch, then the write fails (-EIO)
 * and the job fails.
 *
 * Up to `window` batches are in flight at once, each on its own lane (a thread and, in the
 * daemon, its own HTTP client). Order still holds where it matters: a batch that names a key
 * still in flight in another batch waits for that one, so a later row always lands after an
 * earlier one with the same key. window 1 sends synchronously on the caller's thread.
 * After the first failed batch, writer_add() and writer_flush() return that failure.
 *
 * The DynamoDB call is behind WriterOps so the writer can be tested without a server; the
 * daemon passes a thin adapter over dynamodb_batch_write(). A Writer belongs to one job; its
 * functions are called from one thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/util.h"

#define WRITER_BATCH_MAX 25     /* BatchWriteItem limit (DynamoDB API Reference) */
#define WRITER_WINDOW_MAX 16

typedef struct WriterOps {
        /* Writes items[0..n) on lane (0..window-1; calls on one lane never overlap, calls on
         * different lanes do). On success, *ret_unprocessed (malloc'd, caller frees) lists the
         * indexes DynamoDB returned as UnprocessedItems, *ret_n_unprocessed their count. */
        int (*send)(void *ud, unsigned lane, const char *const *items, size_t n,
                    size_t **ret_unprocessed, size_t *ret_n_unprocessed, S3bError *err);
        /* Whether a failed send may be tried again (throttling, 5xx, network). Optional. */
        bool (*retryable)(void *ud, int r, const S3bError *err);
        /* Waits before attempt `attempt` (1-based retry number); returns < 0 when cancelled. */
        int (*backoff)(void *ud, unsigned lane, unsigned attempt);
} WriterOps;

typedef struct WriterStats {
        uint64_t written;       /* items DynamoDB accepted */
        uint64_t superseded;    /* items replaced by a later one with the same key */
        uint64_t batches;       /* BatchWriteItem calls, retries included */
        uint64_t retries;       /* calls that re-sent unprocessed items or retried an error */
} WriterStats;

typedef struct Writer Writer;

/* window: batches in flight at once, 1..WRITER_WINDOW_MAX (clamped). Lane threads start with
 * the first batch that has a successor; a file of one batch is sent on the caller's thread
 * (lane 0). NULL on ENOMEM. */
Writer *writer_new(const WriterOps *ops, void *ud, unsigned max_attempts, unsigned window);
/* Waits for batches in flight (without sending what is pending: call writer_flush() first). */
Writer *writer_free(Writer *w);
DEFINE_CLEANUP_FUNC(Writer *, writer_free);

/* Adds one item (DynamoDB JSON map) under its primary-key string (any encoding that is equal
 * exactly when the keys are equal). Both are copied. Sends a batch when 25 are pending. */
int writer_add(Writer *w, const char *key, const char *item_json, S3bError *err);

/* Sends what is pending and waits for every batch in flight. */
int writer_flush(Writer *w, S3bError *err);

/* Waits for the batches in flight without sending what is pending: after an abort, so the
 * counters say what really reached the table. */
void writer_drain(Writer *w);

/* Counters so far; complete after writer_flush() or writer_drain(). */
WriterStats writer_stats(const Writer *w);
