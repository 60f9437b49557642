/* The SQS receiver thread. See poller.h.
 *
 * After a failed receive (network down, throttled, credentials expiring) the thread waits
 * with the shared full-jitter backoff before polling again, so an outage costs neither a busy
 * loop nor a crash, and reports the error to the main loop, which logs it. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/aws/client.h"
#include "common/aws/retry.h"
#include "common/aws/sqs.h"
#include "common/mailbox.h"
#include "common/time-util.h"
#include "daemon/poller.h"

struct Poller {
        char *queue_url;
        PollerOptions opts;
        AwsClient *client;
        atomic_bool cancel;
        atomic_bool exited;
        atomic_uint_fast64_t successes;
        /* When our side cancelled a long poll, the server may hold it open until its wait
         * ends and still hand it a message: CLOCK_MONOTONIC µs after which it cannot. */
        atomic_uint_fast64_t server_quiet_usec;
        Mailbox *out;                   /* received messages, for the main loop */
        pthread_t thread;
        bool started;
        AwsRng rng;

        struct {
                pthread_mutex_t lock;
                pthread_cond_t cond;            /* a slot freed or stopping */
                unsigned free_slots;
                bool stopping;
                bool has_error;
                S3bError error;
        } synced;
};

PollerMessage *poller_message_free(PollerMessage *m) {
        if (!m)
                return NULL;
        sqs_messages_free(m->sqs, 1);
        free(m);
        return NULL;
}


/* Waits up to ms for stop; returns true when stopping. */
static bool sleep_unless_stopped(Poller *p, uint64_t ms) {
        /* pthread_cond_timedwait() takes a CLOCK_REALTIME deadline */
        struct timespec ts = timespec_store(now(CLOCK_REALTIME) + ms * USEC_PER_MSEC);
        bool stopping;

        health_busy(p->opts.health, ms * USEC_PER_MSEC + USEC_PER_SEC);
        pthread_mutex_lock(&p->synced.lock);
        while (!p->synced.stopping)
                if (pthread_cond_timedwait(&p->synced.cond, &p->synced.lock, &ts) == ETIMEDOUT)
                        break;
        stopping = p->synced.stopping;
        pthread_mutex_unlock(&p->synced.lock);
        return stopping;
}

/* Takes the entry *s over (leaving it empty), or NULL (s untouched) when out of memory. */
static PollerMessage *message_take(SqsMessage *s, uint64_t received_usec) {
        _cleanup_(poller_message_freep) PollerMessage *m = calloc(1, sizeof(*m));

        if (!m || !(m->sqs = calloc(1, sizeof(*m->sqs))))
                return NULL;
        *m->sqs = *s;
        *s = (SqsMessage) {};
        m->body_len = m->sqs->body ? strlen(m->sqs->body) : 0;
        m->received_usec = received_usec;
        return TAKE_PTR(m);
}

/* Hands the batch over; returns how many messages were queued (each holds a slot). */
static unsigned hand_over(Poller *p, SqsMessage *msgs, size_t n, uint64_t received_usec) {
        unsigned queued = 0;

        for (size_t i = 0; i < n; i++) {
                PollerMessage *m = message_take(&msgs[i], received_usec);

                if (!m || mailbox_post(p->out, m) < 0) {
                        /* Out of memory: the message stays invisible and comes back later. */
                        poller_message_free(m);
                        continue;
                }
                queued++;
        }
        return queued;
}

static void *poller_main(void *arg) {
        Poller *p = arg;
        unsigned failures = 0;

        for (;;) {
                uint64_t started;
                SqsMessage *msgs = NULL;
                size_t n = 0;
                unsigned want, queued;
                S3bError err = {};
                int r;

                health_idle(p->opts.health);
                pthread_mutex_lock(&p->synced.lock);
                while (!p->synced.stopping && p->synced.free_slots == 0)
                        pthread_cond_wait(&p->synced.cond, &p->synced.lock);
                if (p->synced.stopping) {
                        pthread_mutex_unlock(&p->synced.lock);
                        break;
                }
                want = MIN(p->synced.free_slots, p->opts.max_messages);
                /* Reserve now: the slots are taken for the whole poll. */
                p->synced.free_slots -= want;
                pthread_mutex_unlock(&p->synced.lock);

                /* The visibility timeout (and SQS's 12-hour ceiling) starts when SQS hands a
                 * message out, which is never before this call started. */
                started = now(CLOCK_MONOTONIC);
                health_busy(p->opts.health, p->opts.call_budget_usec + (uint64_t) p->opts.wait_seconds * USEC_PER_SEC);
                r = sqs_receive_message(p->client, p->queue_url, want, p->opts.wait_seconds,
                                        p->opts.visibility_timeout, &msgs, &n, &err);
                health_idle(p->opts.health);
                if (r == -ECANCELED)
                        atomic_store(&p->server_quiet_usec,
                                     started + ((uint64_t) p->opts.wait_seconds + 1) * USEC_PER_SEC);
                queued = r >= 0 ? hand_over(p, msgs, n, started) : 0;
                if (r >= 0)
                        atomic_fetch_add(&p->successes, 1);
                if (r >= 0)
                        sqs_messages_free(msgs, n);

                if (r > 0)
                        s3b_error_set(&err, -EBADMSG, "SQS ReceiveMessage: %d malformed entr%s without a "
                                      "ReceiptHandle skipped", r, r == 1 ? "y" : "ies");

                pthread_mutex_lock(&p->synced.lock);
                p->synced.free_slots += want - queued;
                if (r != 0 && !p->synced.stopping) {
                        p->synced.error = err;
                        p->synced.has_error = true;
                }
                pthread_mutex_unlock(&p->synced.lock);
                /* messages wake the owner as they are posted; an error (or skipped entries,
                 * r > 0) must reach it too, to be logged */
                if (r > 0 || (r < 0 && r != -ECANCELED))
                        mailbox_kick(p->out);

                if (r < 0 && r != -ECANCELED) {
                        failures++;
                        if (sleep_unless_stopped(p, aws_retry_backoff_ms(&p->rng, MIN(failures, 6u), 0, 0)))
                                break;
                } else
                        failures = 0;
        }
        health_idle(p->opts.health);
        atomic_store(&p->exited, true);
        mailbox_kick(p->out);
        return NULL;
}

/* Changes what the receiver waits for (a free slot, or the stop) and wakes it. */
static void wake_receiver(Poller *p, unsigned freed_slots, bool stop) {
        pthread_mutex_lock(&p->synced.lock);
        p->synced.free_slots += freed_slots;
        p->synced.stopping = p->synced.stopping || stop;
        pthread_cond_broadcast(&p->synced.cond);
        pthread_mutex_unlock(&p->synced.lock);
}

void poller_stop(Poller *p) {
        wake_receiver(p, 0, true);
        atomic_store(&p->cancel, true);
}

void poller_join(Poller *p) {
        if (!p->started)
                return;
        poller_stop(p);
        pthread_join(p->thread, NULL);
        p->started = false;
}

uint64_t poller_successes(Poller *p) {
        return atomic_load(&p->successes);
}

bool poller_exited(Poller *p) {
        return atomic_load(&p->exited);
}

uint64_t poller_server_quiet_usec(Poller *p) {
        return atomic_load(&p->server_quiet_usec);
}

Poller *poller_free(Poller *p) {
        PollerMessage *m;

        if (!p)
                return NULL;
        poller_join(p);
        while (p->out && (m = mailbox_pop(p->out)))
                poller_message_free(m);
        mailbox_free(p->out);
        aws_client_free(p->client);
        pthread_cond_destroy(&p->synced.cond);
        pthread_mutex_destroy(&p->synced.lock);
        free(p->queue_url);
        free(p);
        return NULL;
}

int poller_new(AwsContext *ctx, const PollerOptions *opts, Poller **ret, S3bError *err) {
        _cleanup_(poller_freep) Poller *p = NULL;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        pthread_mutex_init(&p->synced.lock, NULL);
        pthread_cond_init(&p->synced.cond, NULL);
        p->opts = *opts;
        p->synced.free_slots = opts->slots;
        atomic_init(&p->cancel, false);
        atomic_init(&p->server_quiet_usec, 0);
        atomic_init(&p->exited, false);
        atomic_init(&p->successes, 0);
        aws_rng_seed(&p->rng, 0);
        p->queue_url = strdup(opts->queue_url);
        if (!p->queue_url)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        p->opts.queue_url = p->queue_url;

        r = mailbox_new(&p->out);
        if (r < 0)
                return s3b_error_set(err, r, "receiver mailbox: %s", strerror(-r));

        r = aws_client_new(ctx, &p->client, err);
        if (r < 0)
                return r;
        r = aws_client_set_cancel(p->client, &p->cancel, err);
        if (r < 0)
                return r;

        r = -pthread_create(&p->thread, NULL, poller_main, p);
        if (r < 0)
                return s3b_error_set(err, r, "starting the SQS receiver thread: %s", strerror(-r));
        p->started = true;

        *ret = TAKE_PTR(p);
        return 0;
}

int poller_fd(Poller *p) {
        return mailbox_fd(p->out);
}

void poller_ack_fd(Poller *p) {
        mailbox_ack_fd(p->out);
}

PollerMessage *poller_pop(Poller *p) {
        return mailbox_pop(p->out);
}

bool poller_pop_error(Poller *p, S3bError *ret) {
        bool had;

        pthread_mutex_lock(&p->synced.lock);
        had = p->synced.has_error;
        if (had)
                *ret = p->synced.error;
        p->synced.has_error = false;
        pthread_mutex_unlock(&p->synced.lock);
        return had;
}

void poller_release(Poller *p, unsigned n) {
        wake_receiver(p, n, false);
}

void poller_get_stats(Poller *p, AwsClientStats *ret) {
        aws_client_get_stats(p->client, ret);
}
