/* Queue: the queue side — every SQS call the daemon makes, on threads of its own.
 *
 * Three threads, each with its own AwsClient (its own connections), so no kind of call ever
 * waits behind another:
 *   - the receiver (daemon/poller.c): the long poll, backpressure by worker slots;
 *   - the heartbeat lane: visibility extensions only (ChangeMessageVisibilityBatch), one
 *     attempt per call with a time limit that ends before the message lapses — the main loop
 *     plans them by deadline (daemon/inflight.h) and redoes a failed one;
 *   - the settle lane: deletes (DeleteMessageBatch: deletes that wait are sent together) and
 *     releases (ChangeMessageVisibilityBatch), with the client's retries.
 * The main loop never makes a network call: it posts QueueCommands and gets each one back,
 * filled in, through queue_fd() (common/mailbox.h). Receipt handles belong to the loop's
 * in-flight table; a command carries copies for its one call. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/aws/sqs.h"
#include "common/error.h"
#include "common/util.h"
#include "daemon/health.h"
#include "daemon/poller.h"

typedef struct AwsContext AwsContext;
typedef struct AwsClientStats AwsClientStats;

typedef enum QueueOp {
        QUEUE_OP_EXTEND,                /* heartbeat lane */
        QUEUE_OP_DELETE,                /* settle lane */
        QUEUE_OP_RELEASE,               /* settle lane: ChangeMessageVisibility to `timeout` */
} QueueOp;

typedef struct QueueEntry {
        uint64_t id;                    /* the in-flight message's */
        char *receipt_handle;           /* copy, owned by the command */
        unsigned timeout;               /* EXTEND/RELEASE: seconds */
        int result;                     /* filled: 0 or a negative errno */
        char aws_code[64];              /* filled: the entry's error code, "" */
} QueueEntry;

typedef struct QueueCommand {
        QueueOp op;
        QueueEntry entries[SQS_BATCH_MAX];
        size_t n;
        uint64_t call_timeout_usec;     /* EXTEND: the call's limit (one attempt); 0 defaults */
        /* filled by the lane */
        uint64_t sent_usec;             /* CLOCK_MONOTONIC when the call started */
        int result;                     /* the call: 0 or a negative errno (then every entry failed) */
        S3bError err;
} QueueCommand;

QueueCommand *queue_command_new(QueueOp op);
/* Adds an entry (handle copied); -ENOMEM, -ENOSPC when full. */
int queue_command_add(QueueCommand *c, uint64_t id, const char *receipt_handle, unsigned timeout);
QueueCommand *queue_command_free(QueueCommand *c);
DEFINE_CLEANUP_FUNC(QueueCommand *, queue_command_free);

/* The queue side's settings are its receiver's (poller.h); the queue provides the receiver's
 * ThreadHealth itself (.health is ignored), and call_budget_usec bounds the lanes' calls too. */
typedef PollerOptions QueueOptions;

typedef struct Queue Queue;

/* Starts the three threads. ctx is borrowed and must outlive the queue. */
int queue_new(AwsContext *ctx, const QueueOptions *o, Queue **ret, S3bError *err);
/* Stops and joins the threads; commands not done are dropped (their messages reappear after
 * their visibility timeout). */
Queue *queue_free(Queue *q);
DEFINE_CLEANUP_FUNC(Queue *, queue_free);

/* Hands c to its lane (takes it, also on failure). -ESHUTDOWN after queue_free began. */
int queue_post(Queue *q, QueueCommand *c);
/* Done commands: readable fd, ack, pop (caller frees). */
int queue_fd(Queue *q);
void queue_ack_fd(Queue *q);
QueueCommand *queue_pop_done(Queue *q);

/* The receiver (messages in, slots back). */
Poller *queue_receiver(Queue *q);

/* Whether every queue thread makes progress (daemon/health.h), at now; the first that does
 * not is named in *ret_stuck. */
bool queue_healthy(Queue *q, uint64_t now, const char **ret_stuck);

/* The lanes' client counters summed, for metrics. */
void queue_get_lane_stats(Queue *q, AwsClientStats *ret_heartbeat, AwsClientStats *ret_settle);
