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
 * The window is fixed, or adaptive (window 0): it starts at WRITER_WINDOW_START and moves in
 * 1..WRITER_WINDOW_MAX by the round trips it measures — AIMD with a latency signal, like TCP
 * Vegas: while a call's latency stays near the lowest seen (≤ 1.5× + 1 ms) the window grows,
 * by one per call until the first signal (slow start), then by one per window of calls; when
 * latency doubles (the server or the path is queueing: more in flight only adds waiting) it
 * shrinks by a tenth; on throttling it halves; at most one decrease per window of calls.
 * With a flow limiter (flowctl.h) whose rate is limited, the window never exceeds what that
 * rate can use: rate × lowest latency / batch cost, plus one (Little's law) — lanes beyond it
 * would only wait for tokens.
 *
 * With a flow limiter, every attempt reserves its batch's estimated WCU first (and sleeps as
 * long as the limiter says), then reports what was consumed and whether it was throttled:
 * a throttled call, or a batch of which more than half came back unprocessed.
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
#define WRITER_WINDOW_MAX 32
#define WRITER_WINDOW_START 4   /* the adaptive window's first value (the old fixed one) */

typedef struct FlowLimiter FlowLimiter;

/* What one successful send learnt. */
typedef struct WriterResult {
        size_t *unprocessed;    /* indexes DynamoDB returned as UnprocessedItems (malloc'd) */
        size_t n_unprocessed;
        double consumed;        /* WCU the call consumed as DynamoDB reports it, < 0 unknown */
} WriterResult;

typedef struct WriterOps {
        /* Writes items[0..n) on lane (0..WRITER_WINDOW_MAX-1; calls on one lane never overlap,
         * calls on different lanes do). On success fills *ret (caller frees ret->unprocessed). */
        int (*send)(void *ud, unsigned lane, const char *const *items, size_t n,
                    WriterResult *ret, S3bError *err);
        /* Whether a failed send may be tried again (throttling, 5xx, network). Optional. */
        bool (*retryable)(void *ud, int r, const S3bError *err);
        /* Whether a failed send was the table throttling us. Optional. */
        bool (*throttled)(void *ud, int r, const S3bError *err);
        /* Waits before attempt `attempt` (1-based retry number); returns < 0 when cancelled. */
        int (*backoff)(void *ud, unsigned lane, unsigned attempt);
        /* Waits `ms` for the flow limiter; < 0 when cancelled. Optional (then nanosleep). */
        int (*sleep)(void *ud, unsigned lane, uint64_t ms);
} WriterOps;

typedef struct WriterStats {
        uint64_t written;       /* items DynamoDB accepted */
        uint64_t superseded;    /* items replaced by a later one with the same key */
        uint64_t batches;       /* BatchWriteItem calls, retries included */
        uint64_t retries;       /* calls that re-sent unprocessed items or retried an error */
        uint64_t throttles;     /* throttled calls and mostly-unprocessed batches */
        double consumed;        /* WCU consumed (reported, else estimated from item sizes) */
        unsigned window;        /* the window now */
        unsigned window_max;    /* the largest window reached */
} WriterStats;

typedef struct Writer Writer;

typedef struct WriterOptions {
        unsigned max_attempts;  /* calls for one batch, retries of errors and unprocessed */
        unsigned window;        /* 0: adaptive; else fixed, 1..WRITER_WINDOW_MAX (clamped) */
        unsigned window_max;    /* adaptive only: its ceiling, 1..WRITER_WINDOW_MAX (clamped);
                                 * 0 is WRITER_WINDOW_MAX. The split reader divides the job's
                                 * window between its ranges with it. */
        FlowLimiter *flow;      /* the table's limiter (borrowed), or NULL */
} WriterOptions;

/* Lane threads start with the first batch that has a successor, as many as the window
 * needs; a file of one batch is sent on the caller's thread (lane 0). NULL on ENOMEM. */
Writer *writer_new_with(const WriterOps *ops, void *ud, const WriterOptions *o);
/* A fixed window of `window` (1..WRITER_WINDOW_MAX, clamped), no flow limiter. */
Writer *writer_new(const WriterOps *ops, void *ud, unsigned max_attempts, unsigned window);
/* Waits for batches in flight (without sending what is pending: call writer_flush() first). */
Writer *writer_free(Writer *w);
DEFINE_CLEANUP_FUNC(Writer *, writer_free);

/* Adds one item (DynamoDB JSON map) under its primary-key string (any encoding that is equal
 * exactly when the keys are equal). Both are copied. Sends a batch when 25 are pending.
 * item_size: the item's DynamoDB size (for its WCU); writer_add() uses the JSON's length,
 * an upper bound. */
int writer_add_sized(Writer *w, const char *key, const char *item_json, size_t item_size,
                     S3bError *err);
int writer_add(Writer *w, const char *key, const char *item_json, S3bError *err);

/* Sends what is pending and waits for every batch in flight. */
int writer_flush(Writer *w, S3bError *err);

/* Waits for the batches in flight without sending what is pending: after an abort, so the
 * counters say what really reached the table. */
void writer_drain(Writer *w);

/* Counters so far; complete after writer_flush() or writer_drain(). */
WriterStats writer_stats(const Writer *w);
