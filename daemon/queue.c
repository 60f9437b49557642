/* The queue side: the receiver and two SQS lanes. See queue.h.
 *
 * Why two lanes and not one priority queue: a call in progress cannot be pre-empted, and a
 * delete with the client's retries may take a minute and a half during an SQS outage. The
 * heartbeat lane has its own connection and takes only extensions, each limited to one
 * attempt that ends before the message it protects lapses, so it is never more than one
 * short call away from the next extension. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/client.h"
#include "common/mailbox.h"
#include "common/time-util.h"
#include "daemon/queue.h"

#define LANE_TICK_USEC USEC_PER_SEC

typedef struct Lane {
        struct Queue *q;
        const char *name;
        AwsClient *client;
        Mailbox *in;
        pthread_t thread;
        bool started;
        ThreadHealth health;
        QueueCommand *held;             /* settle lane: popped while gathering deletes */
} Lane;

struct Queue {
        char *queue_url;
        QueueOptions o;
        Poller *receiver;
        ThreadHealth receiver_health;
        Lane heartbeat, settle;
        Mailbox *done;
        atomic_bool cancel;             /* raised by queue_free: ends calls in progress */
};

QueueCommand *queue_command_new(QueueOp op) {
        QueueCommand *c = calloc(1, sizeof(*c));

        if (c)
                c->op = op;
        return c;
}

int queue_command_add(QueueCommand *c, uint64_t id, const char *receipt_handle, unsigned timeout) {
        char *h;

        if (c->n >= SQS_BATCH_MAX)
                return -ENOSPC;
        h = strdup(receipt_handle);
        if (!h)
                return -ENOMEM;
        c->entries[c->n++] = (QueueEntry) { .id = id, .receipt_handle = h, .timeout = timeout };
        return 0;
}

QueueCommand *queue_command_free(QueueCommand *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n; i++)
                free(c->entries[i].receipt_handle);
        free(c);
        return NULL;
}

static void fill_results(QueueCommand *c, int r, const SqsBatchResult *res) {
        for (size_t i = 0; i < c->n; i++) {
                if (r < 0) {
                        c->entries[i].result = r;
                        continue;
                }
                c->entries[i].result = res[i].code;
                memcpy(c->entries[i].aws_code, res[i].aws_code, sizeof(c->entries[i].aws_code));
        }
}

static void run_extend(Lane *lane, QueueCommand *c) {
        SqsVisibilityEntry e[SQS_BATCH_MAX];
        SqsBatchResult res[SQS_BATCH_MAX];
        SqsCallLimits limits = {
                .timeout_ms = (long) ((c->call_timeout_usec ? c->call_timeout_usec : 5000000u) / 1000u),
                /* a failed extension is planned again by deadline, not retried blindly */
                .max_attempts = 1,
        };
        int r;

        for (size_t i = 0; i < c->n; i++)
                e[i] = (SqsVisibilityEntry) { c->entries[i].receipt_handle, c->entries[i].timeout };
        health_busy(&lane->health, (uint64_t) limits.timeout_ms * USEC_PER_MSEC + LANE_TICK_USEC);
        c->sent_usec = now(CLOCK_MONOTONIC);
        r = sqs_change_visibility_entries(lane->client, lane->q->queue_url, e, c->n, &limits, res, &c->err);
        c->result = MIN(r, 0);
        fill_results(c, r, res);
}

static void run_settle(Lane *lane, QueueCommand *c) {
        SqsVisibilityEntry e[SQS_BATCH_MAX];
        const char *handles[SQS_BATCH_MAX];
        SqsBatchResult res[SQS_BATCH_MAX];
        int r;

        health_busy(&lane->health, lane->q->o.call_budget_usec);
        c->sent_usec = now(CLOCK_MONOTONIC);
        for (size_t i = 0; i < c->n; i++) {
                handles[i] = c->entries[i].receipt_handle;
                e[i] = (SqsVisibilityEntry) { c->entries[i].receipt_handle, c->entries[i].timeout };
        }
        if (c->op == QUEUE_OP_DELETE)
                r = sqs_delete_message_batch(lane->client, lane->q->queue_url, handles, c->n, res, &c->err);
        else
                r = sqs_change_visibility_entries(lane->client, lane->q->queue_url, e, c->n, NULL, res,
                                                  &c->err);
        c->result = MIN(r, 0);
        fill_results(c, r, res);
}

/* Deletes waiting behind the first one go out in the same DeleteMessageBatch (up to 10): a
 * slow delete then delays the others once, not once each. */
static void gather_deletes(Lane *lane, QueueCommand *c) {
        QueueCommand *next;

        while (c->n < SQS_BATCH_MAX && (next = mailbox_pop(lane->in))) {
                if (next->op != QUEUE_OP_DELETE || c->n + next->n > SQS_BATCH_MAX) {
                        lane->held = next;
                        return;
                }
                for (size_t i = 0; i < next->n; i++)
                        c->entries[c->n++] = next->entries[i];
                next->n = 0;
                queue_command_free(next);
        }
}

/* Back to the loop, which matches each entry to its message by id (a merged delete comes
 * back as one command). */
static void post_done(Lane *lane, QueueCommand *c) {
        (void) mailbox_post(lane->q->done, c);
}

static void *lane_main(void *arg) {
        Lane *lane = arg;

        for (;;) {
                QueueCommand *c = lane->held ? TAKE_PTR(lane->held) : mailbox_wait(lane->in, LANE_TICK_USEC);

                if (!c) {
                        if (mailbox_closed(lane->in))
                                break;
                        health_idle(&lane->health);
                        continue;
                }
                if (c->op == QUEUE_OP_EXTEND)
                        run_extend(lane, c);
                else {
                        if (c->op == QUEUE_OP_DELETE)
                                gather_deletes(lane, c);
                        run_settle(lane, c);
                }
                health_idle(&lane->health);
                post_done(lane, c);
        }
        queue_command_free(TAKE_PTR(lane->held));
        return NULL;
}

static int lane_start(Queue *q, Lane *lane, const char *name, AwsContext *ctx, S3bError *err) {
        int r;

        lane->q = q;
        lane->name = name;
        health_init(&lane->health, name, LANE_TICK_USEC);
        r = mailbox_new(&lane->in);
        if (r < 0)
                return s3b_error_set(err, r, "%s mailbox: %s", name, strerror(-r));
        r = aws_client_new(ctx, &lane->client, err);
        if (r < 0)
                return r;
        r = aws_client_set_cancel(lane->client, &q->cancel, err);
        if (r < 0)
                return r;
        r = -pthread_create(&lane->thread, NULL, lane_main, lane);
        if (r < 0)
                return s3b_error_set(err, r, "starting the %s thread: %s", name, strerror(-r));
        lane->started = true;
        return 0;
}

static void lane_stop(Lane *lane) {
        QueueCommand *c;

        if (lane->in)
                mailbox_close(lane->in);
        if (lane->started)
                pthread_join(lane->thread, NULL);
        lane->started = false;
        while (lane->in && (c = mailbox_pop(lane->in)))
                queue_command_free(c);
        lane->in = mailbox_free(lane->in);
        lane->client = aws_client_free(lane->client);
}

Queue *queue_free(Queue *q) {
        QueueCommand *c;

        if (!q)
                return NULL;
        atomic_store(&q->cancel, true);
        q->receiver = poller_free(q->receiver);
        lane_stop(&q->heartbeat);
        lane_stop(&q->settle);
        while (q->done && (c = mailbox_pop(q->done)))
                queue_command_free(c);
        mailbox_free(q->done);
        free(q->queue_url);
        free(q);
        return NULL;
}

int queue_new(AwsContext *ctx, const QueueOptions *o, Queue **ret, S3bError *err) {
        _cleanup_(queue_freep) Queue *q = NULL;
        int r;

        q = calloc(1, sizeof(*q));
        if (!q)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        atomic_init(&q->cancel, false);
        q->o = *o;
        q->queue_url = strdup(o->queue_url);
        if (!q->queue_url)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        q->o.queue_url = q->queue_url;
        r = mailbox_new(&q->done);
        if (r < 0)
                return s3b_error_set(err, r, "queue mailbox: %s", strerror(-r));
        r = lane_start(q, &q->heartbeat, "sqs-heartbeat", ctx, err);
        if (r < 0)
                return r;
        r = lane_start(q, &q->settle, "sqs-settle", ctx, err);
        if (r < 0)
                return r;
        /* the receiver waits for free slots without ticking: that wait is on the loop */
        health_init(&q->receiver_health, "receiver", 0);
        q->o.health = &q->receiver_health;
        r = poller_new(ctx, &q->o, &q->receiver, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(q);
        return 0;
}

int queue_post(Queue *q, QueueCommand *c) {
        Lane *lane = c->op == QUEUE_OP_EXTEND ? &q->heartbeat : &q->settle;
        int r;

        r = mailbox_post(lane->in, c);
        if (r < 0)
                queue_command_free(c);
        return r;
}

int queue_fd(Queue *q) {
        return mailbox_fd(q->done);
}

void queue_ack_fd(Queue *q) {
        mailbox_ack_fd(q->done);
}

QueueCommand *queue_pop_done(Queue *q) {
        return mailbox_pop(q->done);
}

Poller *queue_receiver(Queue *q) {
        return q->receiver;
}

bool queue_healthy(Queue *q, uint64_t now, const char **ret_stuck) {
        const ThreadHealth *all[] = { &q->heartbeat.health, &q->settle.health, &q->receiver_health };

        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                /* 2 s of slack for a loaded machine's scheduling */
                if (!health_ok(all[i], now, 2000000u)) {
                        if (ret_stuck)
                                *ret_stuck = all[i]->name;
                        return false;
                }
        return true;
}

void queue_get_lane_stats(Queue *q, AwsClientStats *ret_heartbeat, AwsClientStats *ret_settle) {
        aws_client_get_stats(q->heartbeat.client, ret_heartbeat);
        aws_client_get_stats(q->settle.client, ret_settle);
}
