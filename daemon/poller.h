/* Poller: the receiver, the one thread of the queue side (daemon/queue.h) that long-polls SQS.
 *
 * ReceiveMessage waits up to wait_seconds (20 s), which the main loop must never do: it has
 * heartbeats, deletes and signals to serve. So the long poll runs here, on a dedicated thread
 * with its own AwsClient, and received messages are handed to the main loop through a mailbox
 * (common/mailbox.h). At shutdown poller_free() raises the client's cancel flag, so a poll in
 * progress ends at once instead of after 20 s.
 *
 * Backpressure: the poller owns `slots` (one per worker). Every message received takes one;
 * the main loop gives it back with poller_release() once the message is deleted or released.
 * The poller asks for at most min(free slots, max_messages) messages and does not poll at all
 * while no slot is free, so the daemon never holds more messages than it has workers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/aws/sqs.h"
#include "common/error.h"
#include "common/util.h"
#include "daemon/health.h"

typedef struct AwsContext AwsContext;
typedef struct AwsClientStats AwsClientStats;

/* A received message: the SqsMessage entry as the receive returned it (taken whole, freed
 * with sqs_messages_free()), and when it was received. sqs->invalid != NULL: SQS handed over
 * an unusable message (bad MD5, malformed entry, body over the cap: see SqsMessage), sqs->body
 * is then NULL. Such a message is not deleted: it is left to the queue's redrive policy. */
typedef struct PollerMessage {
        SqsMessage *sqs;                /* one entry, owned */
        size_t body_len;                /* strlen(sqs->body), 0 when NULL */
        uint64_t received_usec;         /* CLOCK_MONOTONIC when the receive call started */
} PollerMessage;

PollerMessage *poller_message_free(PollerMessage *m);
DEFINE_CLEANUP_FUNC(PollerMessage *, poller_message_free);

typedef struct PollerOptions {
        const char *queue_url;          /* copied */
        unsigned wait_seconds;
        unsigned max_messages;
        unsigned visibility_timeout;
        unsigned slots;                 /* = workers */
        ThreadHealth *health;           /* borrowed; where the thread says what it is doing */
        /* the longest one call may take with its retries, not counting the long poll's own
         * wait_seconds (the poller adds them) */
        uint64_t call_budget_usec;
} PollerOptions;

typedef struct Poller Poller;

/* Starts the thread. The context is borrowed and must outlive the poller. */
int poller_new(AwsContext *ctx, const PollerOptions *opts, Poller **ret, S3bError *err);
/* poller_join(), then frees the messages not popped (they reappear on the queue after their
 * visibility timeout). */
Poller *poller_free(Poller *p);
DEFINE_CLEANUP_FUNC(Poller *, poller_free);

/* Stops polling without joining (the thread ends its current poll by cancelling it); the fd
 * becomes readable when the thread has ended (poller_exited()). */
void poller_stop(Poller *p);
bool poller_exited(Poller *p);
/* CLOCK_MONOTONIC µs before which a long poll we cancelled may still be open on the server
 * (it ends at its wait_seconds, and SQS may still hand it a message we release meanwhile);
 * 0 when no poll was cancelled. */
uint64_t poller_server_quiet_usec(Poller *p);
/* Stops and waits for the thread; messages it received stay poppable. */
void poller_join(Poller *p);

int poller_fd(Poller *p);                       /* readable when messages or errors wait */
void poller_ack_fd(Poller *p);
PollerMessage *poller_pop(Poller *p);           /* a received message (caller owns it) or NULL */
/* The last receive error since the previous call, for the main loop to log; returns false
 * when there was none. Entries of a successful receive that had no receipt handle (skipped:
 * nothing can be done with them) are reported here too, with -EBADMSG. */
bool poller_pop_error(Poller *p, S3bError *ret);
void poller_release(Poller *p, unsigned n);     /* n messages are finished: n slots free */
/* Receives that succeeded so far (an empty long poll counts): SQS is reachable again. */
uint64_t poller_successes(Poller *p);
/* The receiver client's counters (thread-safe snapshot), for metrics. */
void poller_get_stats(Poller *p, AwsClientStats *ret);
