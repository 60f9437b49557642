/* The main loop. See loop.h and docs/DESIGN.md ("Threads", "Life of a message").
 *
 * sd-event drives everything on this thread: the three signals (signalfd sources), the
 * mailboxes of the receiver, the SQS lanes, the pool and the checker (eventfds), the
 * extension timer (armed at the earliest deadline of the in-flight table), the metrics/status
 * timer, the startup retry and shutdown grace timers, and the watchdog timer. The watchdog is
 * our own timer rather than sd_event_set_watchdog(): it pings only while the queue side's
 * threads make progress too (daemon/health.h), so a wedged SQS thread gets the service
 * restarted just like a wedged loop. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "common/aws/client.h"
#include "common/aws/retry.h"
#include "common/event.h"
#include "common/log.h"
#include "common/time-util.h"
#include "daemon/awsmetrics.h"
#include "daemon/checker.h"
#include "daemon/health.h"
#include "daemon/inflight.h"
#include "daemon/job.h"
#include "daemon/worker.h"
#include "daemon/loop.h"
#include "daemon/metrics.h"
#include "daemon/ordering.h"
#include "daemon/flowctl.h"
#include "daemon/pool.h"
#include "daemon/queue.h"
#include "daemon/sdnotify.h"

#define METRICS_INTERVAL_USEC (10ULL * USEC_PER_SEC)
/* While the startup checks wait for AWS: systemd's start timeout is pushed out by this much at
 * every status tick, as long as the checker thread makes progress (sd_notify(3),
 * EXTEND_TIMEOUT_USEC). */
#define STARTUP_EXTEND_USEC (3ULL * METRICS_INTERVAL_USEC)
#define STARTUP_RETRY_CAP_MS 15000u
/* A delete that failed as a call (SQS unreachable) is sent again, with full-jitter backoff up
 * to this, while we still hold the message and can keep it invisible. */
#define DELETE_RETRY_CAP_MS 10000u
/* Messages whose files all wait for their turn (ordering.h) lend their receive slot back, so
 * the receiver goes on and the reorder window sees more than `workers` files — at most this
 * many per worker, and ORDER_LEND_MAX in all: the bound on messages held beyond the workers'
 * slots (their bodies are dropped once parsed). Past it, waiting files keep their slots and
 * receiving slows down until the running ones finish. */
#define ORDER_LEND_PER_WORKER 16u
#define ORDER_LEND_MAX 256u

typedef enum Phase { PHASE_STARTING, PHASE_RUNNING } Phase;

typedef struct Counters {
        uint64_t by_status[_JOB_STATUS_MAX];
        uint64_t messages;
} Counters;

struct Loop {
        Logger *log;
        AwsContext *aws;
        Config *config;                 /* current; jobs hold their own reference */
        ConfigQueue queue;              /* the queue settings of the start config (restart to change) */
        char *queue_url;
        unsigned workers;
        FlowCtl *flow;                  /* per-table write limiters, shared by the workers */
        uint64_t call_budget_usec;      /* one AWS call with all its retries, at most */

        Metrics *metrics;
        AwsMetricsSample receiver_sample, heartbeat_sample, settle_sample;
        Pool *pool;
        Queue *q;                       /* NULL until the startup checks passed */
        Checker *checker;
        Inflight *inflight;
        Ordering *ordering;
        unsigned n_lent, lend_max;      /* receive slots lent by waiting messages */

        sd_event *event;
        sd_event_source *sources[12];
        size_t n_sources;
        sd_event_source *extend_timer, *grace, *startup_retry, *order_timer;
        uint64_t watchdog_usec;         /* WATCHDOG_USEC, 0 when not asked for */
        bool watchdog_withheld;

        Phase phase;
        Counters counters;
        atomic_bool cancel_jobs;        /* read by workers' AwsClients and jobs */
        JobPoolShared shared;
        bool stopping;
        bool reload_pending;
        unsigned startup_failures;
        AwsRng rng;
        int error;                      /* why the loop ended early (negative errno), or 0 */

        /* what STATUS= and the degraded gauge say; "" when fine */
        char waiting[256];              /* startup */
        char degraded_sqs[256];
        char degraded_jobs[600];
        uint64_t receiver_ok_mark;      /* poller_successes() when SQS was marked degraded */
};

/* ---- status ---- */

static void update_status(Loop *l) {
        const uint64_t *s = l->counters.by_status;
        char degraded[900] = "";

        if (l->phase == PHASE_STARTING) {
                sdnotify_status("Starting: %s", l->waiting[0] ? l->waiting : "checking the queue and the tables");
                return;
        }
        if (l->degraded_sqs[0] || l->degraded_jobs[0])
                snprintf(degraded, sizeof(degraded), "Degraded: %s%s%s; ", l->degraded_sqs,
                         l->degraded_sqs[0] && l->degraded_jobs[0] ? "; " : "", l->degraded_jobs);
        sdnotify_status("%s%s; %u message(s) in work, %u file(s) waiting for their turn; files: %" PRIu64
                        " ok, %" PRIu64 " partial, %" PRIu64 " failed, %" PRIu64 " already done", degraded,
                        l->stopping ? "Stopping" : "Polling", inflight_count(l->inflight),
                        ordering_n_waiting(l->ordering),
                        s[JOB_SUCCESS], s[JOB_PARTIAL], s[JOB_FAILURE], s[JOB_DONE_BEFORE]);
}

/* "SQS: <detail>" */
static void set_degraded_sqs(Loop *l, const char *detail) {
        bool was = l->degraded_sqs[0];

        snprintf(l->degraded_sqs, sizeof(l->degraded_sqs), "SQS: %s", detail);
        if (l->q)
                l->receiver_ok_mark = poller_successes(queue_receiver(l->q));
        metrics_set_degraded(l->metrics, METRICS_DEGRADED_SQS, true);
        if (!was) {
                log_warning(l->log, "Degraded: %s (backing off; resumes by itself)", l->degraded_sqs);
                update_status(l);
        }
}

static void clear_degraded_sqs(Loop *l) {
        if (!l->degraded_sqs[0])
                return;
        log_info(l->log, "SQS reachable again (was: %s)", l->degraded_sqs);
        l->degraded_sqs[0] = '\0';
        metrics_set_degraded(l->metrics, METRICS_DEGRADED_SQS, false);
        update_status(l);
}

static void set_degraded_jobs(Loop *l, const char *reason) {
        snprintf(l->degraded_jobs, sizeof(l->degraded_jobs), "%s", reason);
        metrics_set_degraded(l->metrics, METRICS_DEGRADED_JOBS, true);
}

static void clear_degraded_jobs(Loop *l) {
        if (!l->degraded_jobs[0])
                return;
        l->degraded_jobs[0] = '\0';
        metrics_set_degraded(l->metrics, METRICS_DEGRADED_JOBS, false);
}

static void maybe_exit(Loop *l) {
        if (l->stopping && inflight_count(l->inflight) == 0 &&
            (!l->q || poller_exited(queue_receiver(l->q))))
                sd_event_exit(l->event, 0);
}

/* ---- SQS bookkeeping: commands to the queue side ---- */

static void arm_extend_timer(Loop *l);

/* A message leaves our hands: its receiver slot is free again. */
static void message_forget(Loop *l, PollerMessage *m) {
        poller_message_free(m);
        poller_release(queue_receiver(l->q), 1);
}

static void message_done(Loop *l, InflightMsg *m) {
        /* FIFO: the group's next message may start now that this one is deleted or released */
        (void) ordering_done(l->ordering, m);
        if (m->slot_lent)
                l->n_lent--;
        else
                poller_release(queue_receiver(l->q), 1);
        inflight_remove(l->inflight, m);
        update_status(l);
        maybe_exit(l);
}

/* A release must reach SQS after anything that could hide the message again: an extension
 * still out on the other lane, and — at shutdown — a long poll the server may still hold
 * open although our side cancelled it (it would take the released message back and hide it
 * for a whole visibility timeout). Until then it waits here. */
static bool release_must_wait(Loop *l, const InflightMsg *m) {
        Poller *p = queue_receiver(l->q);

        return m->extending ||
               (l->stopping && (!poller_exited(p) || now(CLOCK_MONOTONIC) < poller_server_quiet_usec(p)));
}

/* Returns false when m is gone (could not even be handed to the queue side). */
static bool send_settle(Loop *l, InflightMsg *m, QueueOp op, unsigned timeout) {
        QueueCommand *c;

        m->settle = op == QUEUE_OP_DELETE ? INFLIGHT_DELETING : INFLIGHT_RELEASING;
        m->release_deferred = false;
        if (op == QUEUE_OP_RELEASE && release_must_wait(l, m)) {
                m->release_deferred = true;
                m->release_timeout = timeout;
                return true;
        }
        c = queue_command_new(op);
        m->settle_attempts++;
        if (!c || queue_command_add(c, m->id, m->msg->sqs->receipt_handle, timeout) < 0 ||
            queue_post(l->q, TAKE_PTR(c)) < 0) {
                queue_command_free(c);
                /* It comes back after its visibility timeout. */
                log_warning(l->log, "Out of memory settling message %s; it will come back", m->msg->sqs->message_id);
                message_done(l, m);
                return false;
        }
        return true;
}

static void hand_back_behind(Loop *l, const void *unit, const InflightMsg *failed, const char *what);
static void run_ready(Loop *l);

static void message_settle(Loop *l, InflightMsg *m) {
        unsigned delay;

        if (m->all_final) {
                send_settle(l, m, QUEUE_OP_DELETE, 0);
                return;
        }
        /* FIFO: the messages of its group we hold must not overtake it. Released at once, they
         * still come after it: SQS returns no message of a group while one of it is in flight
         * (Amazon SQS Developer Guide, "Message ordering"). */
        if (m->msg->sqs->message_group_id)
                hand_back_behind(l, m, NULL, m->msg->sqs->message_id);
        if (l->stopping || m->cancelled || m->release_now) {
                send_settle(l, m, QUEUE_OP_RELEASE, 0);
                return;
        }
        delay = MAX(inflight_retry_delay(l->inflight, m, now(CLOCK_MONOTONIC)), m->retry_floor);
        log_full_f(l->log, LOG_INFO, 0, LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->msg->sqs->message_id)),
                   "Message %s comes back in %u s (receive %u)", m->msg->sqs->message_id, delay,
                   m->msg->sqs->receive_count);
        (void) send_settle(l, m, QUEUE_OP_RELEASE, delay);
}

static void send_deferred_releases(Loop *l) {
        InflightMsg *next;

        for (InflightMsg *m = inflight_first(l->inflight); m; m = next) {
                next = m->next;
                if (m->release_deferred && !release_must_wait(l, m))
                        (void) send_settle(l, m, QUEUE_OP_RELEASE, m->release_timeout);
        }
}

static void log_settle_failure(Loop *l, const QueueCommand *c, const QueueEntry *e, const InflightMsg *m) {
        log_warning_errno_f(l->log, e->result, LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->msg->sqs->message_id)),
                            "Could not %s message %s: %s", c->op == QUEUE_OP_DELETE ? "delete" : "release",
                            m->msg->sqs->message_id, c->result < 0 ? c->err.message :
                            e->aws_code[0] ? e->aws_code : "failed");
}

static void on_extended(Loop *l, const QueueCommand *c, const QueueEntry *e, InflightMsg *m, uint64_t now) {
        bool ok = e->result == 0;

        inflight_extended(l->inflight, m, c->sent_usec, e->timeout, ok, now);
        if (ok) {
                log_debug_f(l->log, LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->msg->sqs->message_id)),
                            "Message %s hidden for %u s more", m->msg->sqs->message_id, e->timeout);
                return;
        }
        metrics_message(l->metrics, METRICS_MESSAGE_EXTEND_FAILED, 1);
        /* the first failure and then every tenth: an outage must not flood the journal */
        if (m->extend_failures % 10 == 1)
                log_warning_errno_f(l->log, e->result, LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->msg->sqs->message_id)),
                                    "Extending the visibility of message %s failed (%u in a row; retried "
                                    "before it lapses): %s", m->msg->sqs->message_id, m->extend_failures,
                                    c->result < 0 ? c->err.message : e->aws_code);
}

static void on_settled(Loop *l, const QueueCommand *c, const QueueEntry *e, InflightMsg *m) {
        if (e->result == 0) {
                if (c->op == QUEUE_OP_DELETE)
                        metrics_message(l->metrics, METRICS_MESSAGE_DELETED, 1);
                else if (e->timeout == 0)
                        metrics_message(l->metrics, METRICS_MESSAGE_RELEASED, 1);
                log_debug_f(l->log, LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->msg->sqs->message_id)),
                            "Message %s %s", m->msg->sqs->message_id,
                            c->op == QUEUE_OP_DELETE ? "deleted" : "released");
                return message_done(l, m);
        }
        /* The whole call failed (SQS unreachable): a delete is sent again while the message
         * is still ours and kept invisible, so an outage does not make a finished file come
         * back. An entry SQS refused (a stale receipt handle) is not worth another try. */
        if (c->op == QUEUE_OP_DELETE && c->result < 0 && c->result != -ECANCELED && !l->stopping &&
            !(m->ceiling_reached && m->visible_at_usec <= now(CLOCK_MONOTONIC))) {
                m->settle_retry_at_usec = now(CLOCK_MONOTONIC) +
                        aws_retry_backoff_ms(&l->rng, MIN(m->settle_attempts, 6u), 1000, DELETE_RETRY_CAP_MS) * USEC_PER_MSEC;
                if (m->settle_attempts % 10 == 1)
                        log_settle_failure(l, c, e, m);
                return;
        }
        /* The work is done; a redelivery finds the file archived (DONE_BEFORE). A release that
         * failed comes back after its visibility timeout anyway. */
        log_settle_failure(l, c, e, m);
        message_done(l, m);
}

static int on_queue(sd_event_source *s, int fd, uint32_t revents, void *ud) {
        Loop *l = ud;
        QueueCommand *c;
        usec_t t = now(CLOCK_MONOTONIC);

        queue_ack_fd(l->q);
        while ((c = queue_pop_done(l->q))) {
                if (c->result == 0)
                        clear_degraded_sqs(l);
                else if (c->result != -ECANCELED)
                        set_degraded_sqs(l, c->err.message);
                for (size_t i = 0; i < c->n; i++) {
                        InflightMsg *m = inflight_find(l->inflight, c->entries[i].id);

                        if (!m)
                                continue;
                        if (c->op == QUEUE_OP_EXTEND)
                                on_extended(l, c, &c->entries[i], m, t);
                        else
                                on_settled(l, c, &c->entries[i], m);
                }
                queue_command_free(c);
        }
        send_deferred_releases(l);
        run_ready(l);
        arm_extend_timer(l);
        return 0;
}

/* ---- visibility extensions, by deadline ---- */

static void ceiling_checks(Loop *l, InflightMsg *m, uint64_t now) {
        uint64_t ceiling = inflight_ceiling_at(l->inflight, m);

        if (m->settle != INFLIGHT_WORKING || !inflight_ceiling_warning(l->inflight, m, now))
                return;
        log_full_f(l->log, LOG_WARNING, 0, LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->msg->sqs->message_id)),
                   "Message %s is still in work %" PRIu64 " s before SQS's visibility ceiling (%u s "
                   "after its receive): it cannot be kept hidden past it, so it will become visible "
                   "and be received again while its job runs; the redo is version-safe",
                   m->msg->sqs->message_id, (uint64_t) (ceiling > now ? (ceiling - now) / USEC_PER_SEC : 0),
                   (unsigned) SQS_VISIBILITY_CEILING_S);
}

static void send_extensions(Loop *l, uint64_t now) {
        QueueCommand *c = NULL;
        InflightMsg *next;

        for (InflightMsg *m = inflight_first(l->inflight); m; m = next) {
                uint64_t call;
                unsigned timeout;

                next = m->next;
                ceiling_checks(l, m, now);
                if (m->settle_retry_at_usec && m->settle_retry_at_usec <= now) {
                        m->settle_retry_at_usec = 0;
                        if (!send_settle(l, m, QUEUE_OP_DELETE, 0))
                                continue;
                }
                if (inflight_extend_due(l->inflight, m) > now)
                        continue;
                if (!inflight_plan_extend(l->inflight, m, now, &timeout, &call)) {
                        if (m->ceiling_reached)
                                log_warning_f(l->log, LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->msg->sqs->message_id)),
                                              "Message %s cannot be hidden any longer (SQS's %u s ceiling); "
                                              "it becomes visible in %" PRIu64 " s", m->msg->sqs->message_id,
                                              (unsigned) SQS_VISIBILITY_CEILING_S,
                                              (uint64_t) (m->visible_at_usec > now ? (m->visible_at_usec - now) / USEC_PER_SEC : 0));
                        continue;
                }
                if (!c && !(c = queue_command_new(QUEUE_OP_EXTEND))) {
                        inflight_extended(l->inflight, m, now, 0, false, now);
                        continue;
                }
                if (queue_command_add(c, m->id, m->msg->sqs->receipt_handle, timeout) < 0) {
                        inflight_extended(l->inflight, m, now, 0, false, now);
                        continue;
                }
                /* the batch's call must end before its most urgent message lapses */
                c->call_timeout_usec = c->call_timeout_usec ? MIN(c->call_timeout_usec, call) : call;
                if (c->n == SQS_BATCH_MAX)
                        (void) queue_post(l->q, TAKE_PTR(c));
        }
        if (c)
                (void) queue_post(l->q, TAKE_PTR(c));
}

static int on_extend_timer(sd_event_source *s, uint64_t usec, void *ud) {
        Loop *l = ud;

        send_extensions(l, now(CLOCK_MONOTONIC));
        /* at shutdown, releases held back until the server's side of a cancelled poll ended */
        if (l->stopping)
                send_deferred_releases(l);
        arm_extend_timer(l);
        return 0;
}

/* At the earliest deadline of the table, and at least every second (ceiling warnings). */
static void arm_extend_timer(Loop *l) {
        usec_t t = now(CLOCK_MONOTONIC), due = MIN(inflight_next_due(l->inflight), t + USEC_PER_SEC);

        if (!l->extend_timer)
                return;
        sd_event_source_set_time(l->extend_timer, MAX(due, t));
        sd_event_source_set_enabled(l->extend_timer, SD_EVENT_ONESHOT);
}

/* ---- results ---- */

static void log_job(Loop *l, const Job *j, const InflightMsg *msg) {
        int level = j->status == JOB_FAILURE || j->status == JOB_CONFIG_ERROR ? LOG_ERR :
                    j->status == JOB_RETRY || j->status == JOB_PARTIAL ? LOG_WARNING :
                    j->status == JOB_SUPERSEDED ? LOG_NOTICE : LOG_INFO;

        log_full_f(l->log, level, 0,
                   LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", msg ? msg->msg->sqs->message_id : NULL),
                              LOG_STR("BUCKET", j->bucket), LOG_STR("OBJECT_KEY", j->key),
                              LOG_STR("PIPELINE", j->spec->name),
                              LOG_STR("JOB_STATUS", job_status_to_string(j->status)),
                              LOG_U64("ROWS_TOTAL", j->rows_total),
                              LOG_U64("ROWS_WRITTEN", j->rows_written),
                              LOG_U64("ROWS_REJECTED", j->rows_rejected),
                              LOG_U64("DURATION_MS", j->duration_ms)),
                   "%s s3://%s/%s: %" PRIu64 " written, %" PRIu64 " rejected, %" PRIu64
                   " superseded in %" PRIu64 " ms%s%s",
                   job_status_to_string(j->status), j->bucket, j->key, j->rows_written,
                   j->rows_rejected, j->rows_superseded, j->duration_ms, j->reason[0] ? ": " : "",
                   j->reason);
}

static void job_outcome_state(Loop *l, const Job *j) {
        char what[600];

        if (j->status == JOB_CONFIG_ERROR) {
                log_full_f(l->log, LOG_ERR, 0,
                           LOG_FIELDS(LOG_STR("PIPELINE", j->spec->name), LOG_STR("OBJECT_KEY", j->key)),
                           "Configuration error in pipeline %s: %s (s3://%s/%s and its message stay; "
                           "fix the resource or the permissions)", j->spec->name, j->reason, j->bucket, j->key);
                metrics_config_error(l->metrics, j->spec->name);
                snprintf(what, sizeof(what), "configuration: %s", j->reason);
                set_degraded_jobs(l, what);
        } else if (j->status == JOB_RETRY)
                set_degraded_jobs(l, j->reason[0] ? j->reason : "a job failed transiently");
        else if (job_status_is_final(j->status))
                clear_degraded_jobs(l);
}

static void finish_job(Loop *l, Job *j) {
        InflightMsg *msg = j->owner;
        char what[600];

        log_job(l, j, msg);
        /* Standard queue, ordered pipeline: the files waiting behind one that comes back later
         * go back too, so they do not overtake it; then its group may go on. */
        if (!job_status_is_final(j->status) && !msg->msg->sqs->message_group_id) {
                snprintf(what, sizeof(what), "s3://%s/%s", j->bucket, j->key);
                hand_back_behind(l, j, msg, what);
        }
        (void) ordering_done(l->ordering, j);
        l->counters.by_status[j->status]++;
        metrics_jobs_in_flight_add(l->metrics, -1);
        job_outcome_state(l, j);
        if (!job_status_is_final(j->status))
                msg->all_final = false;
        if (j->status == JOB_CANCELLED)
                msg->cancelled = true;
        job_free(j);

        if (--msg->n_running == 0)
                message_settle(l, msg);
        update_status(l);
}

/* The waiting jobs of the group unit runs in go back to SQS unstarted: behind a failed file
 * (failed: its message) they come back a second after it; behind a FIFO message (failed NULL)
 * at once, SQS keeps their order. */
static void hand_back_behind(Loop *l, const void *unit, const InflightMsg *failed, const char *what) {
        unsigned delay = failed ? inflight_retry_delay(l->inflight, failed, now(CLOCK_MONOTONIC)) + 1 : 0;
        Job *w;

        while ((w = ordering_take_behind(l->ordering, unit))) {
                InflightMsg *wm = w->owner;

                wm->n_waiting--;
                if (failed)
                        wm->retry_floor = MAX(wm->retry_floor, delay);
                else
                        wm->release_now = true;
                w->status = JOB_RETRY;
                snprintf(w->reason, sizeof(w->reason), "waiting behind %s, which comes back later; "
                         "kept in order behind it", what);
                finish_job(l, w);
        }
}

static void submit_job(Loop *l, Job *j) {
        if (pool_submit(l->pool, j) < 0) {
                j->status = JOB_RETRY;
                snprintf(j->reason, sizeof(j->reason), "could not queue the job");
                finish_job(l, j);
        }
}

static void arm_order_timer(Loop *l) {
        uint64_t due = ordering_next_due(l->ordering);

        if (!l->order_timer)
                return;
        if (due == UINT64_MAX || l->stopping) {
                sd_event_source_set_enabled(l->order_timer, SD_EVENT_OFF);
                return;
        }
        sd_event_source_set_time(l->order_timer, due);
        sd_event_source_set_enabled(l->order_timer, SD_EVENT_ONESHOT);
}

/* Starts every waiting job whose turn has come. */
static void run_ready(Loop *l) {
        usec_t t = now(CLOCK_MONOTONIC);
        Job *j;

        while (!l->stopping && (j = ordering_pop_ready(l->ordering, t))) {
                InflightMsg *msg = j->owner;

                msg->n_waiting--;
                log_debug_f(l->log, LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", msg->msg->sqs->message_id),
                                               LOG_STR("BUCKET", j->bucket), LOG_STR("OBJECT_KEY", j->key)),
                            "Its turn: s3://%s/%s (received %" PRIu64 " ms ago)", j->bucket, j->key,
                            (t - msg->received_usec) / USEC_PER_MSEC);
                submit_job(l, j);
        }
        arm_order_timer(l);
}

static int on_order_timer(sd_event_source *s, uint64_t usec, void *ud) {
        run_ready(ud);
        return 0;
}

static int on_pool(sd_event_source *s, int fd, uint32_t revents, void *ud) {
        Loop *l = ud;
        Job *j;

        pool_ack_fd(l->pool);
        while ((j = pool_pop_done(l->pool)))
                finish_job(l, j);
        run_ready(l);
        arm_extend_timer(l);
        return 0;
}

/* ---- messages in ---- */

static void log_message(Loop *l, int level, const PollerMessage *m, const char *what,
                        const char *detail) {
        log_full_f(l->log, level, 0,
                   LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->sqs->message_id),
                              LOG_U64("SQS_RECEIVE_COUNT", m->sqs->receive_count)),
                   "%s %s%s%s", what, m->sqs->message_id, detail[0] ? ": " : "", detail);
}

/* Turns the message's records into jobs; ret_recs[i] is the record of job i (an array of
 * b->n_records the caller gives). Returns the number of jobs, or -ENOMEM. */
static int make_jobs(Loop *l, const PollerMessage *m, const S3EventBatch *b, Job ***ret_jobs,
                     const S3EventRecord **ret_recs) {
        Job **jobs = calloc(b->n_records + 1, sizeof(Job *));
        int n = 0;

        if (!jobs)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_ignored; i++)
                log_full_f(l->log, LOG_INFO, 0,
                           LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->sqs->message_id),
                                      LOG_STR("BUCKET", b->ignored[i].bucket),
                                      LOG_STR("OBJECT_KEY", b->ignored[i].key)),
                           "Ignoring %s event for s3://%s/%s", b->ignored[i].event_name,
                           b->ignored[i].bucket, b->ignored[i].key);
        for (size_t i = 0; i < b->n_records; i++) {
                const S3EventRecord *rec = &b->records[i];
                const PipelineSpec *spec = config_find_pipeline(l->config, rec->bucket, rec->key);

                if (!spec) {
                        log_full_f(l->log, LOG_INFO, 0,
                                   LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->sqs->message_id),
                                              LOG_STR("BUCKET", rec->bucket),
                                              LOG_STR("OBJECT_KEY", rec->key)),
                                   "No pipeline matches s3://%s/%s, skipping it", rec->bucket, rec->key);
                        metrics_file_done(l->metrics, NULL, METRICS_OUTCOME_SKIPPED, 0);
                        continue;
                }
                jobs[n] = job_new(l->config, spec, rec->bucket, rec->key, rec->etag);
                if (jobs[n] && job_set_event(jobs[n], rec->version_id, rec->sequencer) < 0)
                        jobs[n] = job_free(jobs[n]);
                if (!jobs[n]) {
                        for (int k = 0; k < n; k++)
                                job_free(jobs[k]);
                        free(jobs);
                        return -ENOMEM;
                }
                jobs[n]->receive_count = m->sqs->receive_count;
                jobs[n]->size = rec->size;      /* the split reader's decision (split.h) */
                ret_recs[n] = rec;
                n++;
        }
        *ret_jobs = jobs;
        return n;
}

/* Takes m into the table, then settles it at once (nothing to run) with op. */
static void settle_now(Loop *l, PollerMessage *m, QueueOp op) {
        InflightMsg *msg = inflight_add(l->inflight, m);

        if (!msg)
                return message_forget(l, m);
        (void) send_settle(l, msg, op, 0);
}

/* Where j waits for its turn, if it must: its FIFO message's group (the unit is the whole
 * message, in SequenceNumber order), or its ordered pipeline's group (the unit is the file,
 * in eventTime/sequencer order, after the pipeline's window). Returns 1 when it was put to
 * wait, 0 when it is not ordered, -ENOMEM. */
static int order_job(Loop *l, InflightMsg *msg, Job *j, const S3EventRecord *rec) {
        _cleanup_free_ char *group = NULL;
        OrderKey key = {};
        uint64_t eligible = now(CLOCK_MONOTONIC);
        const void *unit = j;
        int r;

        if (msg->msg->sqs->message_group_id) {
                r = ordering_fifo_group(msg->msg->sqs->message_group_id, &group);
                key.fifo_sequence = msg->msg->sqs->sequence_number;
                unit = msg;
        } else {
                r = ordering_group_for(j->spec, j->key, &group);
                /* the window counts from the receive: how long an earlier file of the group
                 * may take to reach us after this one */
                eligible = msg->received_usec + (uint64_t) j->spec->ordering.window * USEC_PER_SEC;
                key.has_time = ordering_parse_time(rec->event_time, &key.time_usec) == 0;
                key.sequencer = rec->sequencer;
        }
        if (r < 0 || !group)
                return r;
        r = ordering_add(l->ordering, group, &key, unit, j, eligible);
        if (r < 0)
                return r;
        msg->n_waiting++;
        return 1;
}

/* A message all of whose jobs wait lends its receive slot to the receiver (up to lend_max). */
static void maybe_lend_slot(Loop *l, InflightMsg *msg) {
        if (msg->n_waiting == 0 || msg->n_waiting != msg->n_running || msg->slot_lent ||
            l->n_lent >= l->lend_max)
                return;
        msg->slot_lent = true;
        l->n_lent++;
        /* the body was parsed; only the receipt handle and the ids are needed from here on */
        free(msg->msg->sqs->body);
        msg->msg->sqs->body = NULL;
        msg->msg->body_len = 0;
        poller_release(queue_receiver(l->q), 1);
}

static void handle_message(Loop *l, PollerMessage *m) {
        _cleanup_(s3_event_batch_freep) S3EventBatch *batch = NULL;
        _cleanup_free_ const S3EventRecord **recs = NULL;
        _cleanup_free_ Job **jobs = NULL;
        S3bError err = {};
        InflightMsg *msg;
        uint64_t msg_id;
        int r, n;

        l->counters.messages++;
        metrics_message(l->metrics, METRICS_MESSAGE_RECEIVED, 1);
        if (l->stopping)
                return settle_now(l, m, QUEUE_OP_RELEASE);

        if (m->sqs->invalid)
                /* bad MD5, malformed entry or oversized body: not ours to delete (poller.h) */
                r = s3b_error_set(&err, -EBADMSG, "%s", m->sqs->invalid);
        else
                r = s3_event_parse(m->sqs->body, m->body_len, &batch, &err);
        if (r == -ENOMEM)
                /* Not the message's fault: it reappears after its visibility timeout. */
                return message_forget(l, m);
        if (r < 0) {
                log_message(l, LOG_ERR, m, "Poison message (left for the queue's redrive policy)",
                            err.message);
                metrics_message(l->metrics, METRICS_MESSAGE_POISON, 1);
                return message_forget(l, m);
        }
        if (r == S3EVENT_TEST) {
                log_message(l, LOG_INFO, m, "s3:TestEvent, deleting message", "");
                metrics_message(l->metrics, METRICS_MESSAGE_TEST, 1);
                return settle_now(l, m, QUEUE_OP_DELETE);
        }

        recs = calloc(batch->n_records + 1, sizeof(*recs));
        n = recs ? make_jobs(l, m, batch, &jobs, recs) : -ENOMEM;
        if (n < 0)
                return message_forget(l, m);
        if (n == 0)
                /* Nothing here is ours (no pipeline matches, or no ObjectCreated record). */
                return settle_now(l, m, QUEUE_OP_DELETE);

        msg = inflight_add(l->inflight, m);
        if (!msg) {
                for (int i = 0; i < n; i++)
                        job_free(jobs[i]);
                return message_forget(l, m);
        }
        /* Count them all first: a job that cannot be queued finishes at once, and the message
         * must not be settled (and freed) before its last job was handed out. */
        msg_id = msg->id;
        msg->n_running = (unsigned) n;
        for (int i = 0; i < n; i++) {
                jobs[i]->owner = msg;
                metrics_jobs_in_flight_add(l->metrics, 1);
                r = order_job(l, msg, jobs[i], recs[i]);
                if (r == 0)
                        submit_job(l, jobs[i]);
                else if (r < 0) {
                        jobs[i]->status = JOB_RETRY;
                        snprintf(jobs[i]->reason, sizeof(jobs[i]->reason), "could not queue the job");
                        finish_job(l, jobs[i]);
                }
        }
        /* those whose turn has come start now; a message left with only waiting jobs lends
         * its slot (a job that could not be queued may have settled msg, even freed it) */
        if (ordering_n_waiting(l->ordering) > 0) {
                run_ready(l);
                msg = inflight_find(l->inflight, msg_id);
                if (msg)
                        maybe_lend_slot(l, msg);
        }
        update_status(l);
}

static int on_receiver(sd_event_source *s, int fd, uint32_t revents, void *ud) {
        Loop *l = ud;
        Poller *p = queue_receiver(l->q);
        PollerMessage *m;
        S3bError err;

        poller_ack_fd(p);
        if (poller_pop_error(p, &err)) {
                log_error_errno(l->log, err.code, "Receiving from %s failed: %s", l->queue_url, err.message);
                set_degraded_sqs(l, err.message);
        }
        while ((m = poller_pop(p)))
                handle_message(l, m);
        send_deferred_releases(l);
        run_ready(l);
        arm_extend_timer(l);
        maybe_exit(l);
        return 0;
}

/* ---- timers ---- */

static void write_metrics(Loop *l) {
        S3bError err = {};
        int r;

        if (!l->config->metrics_file)
                return;
        if (l->q) {
                AwsClientStats st, hb, settle;

                poller_get_stats(queue_receiver(l->q), &st);
                aws_metrics_report_stats(l->metrics, &st, &l->receiver_sample);
                queue_get_lane_stats(l->q, &hb, &settle);
                aws_metrics_report_stats(l->metrics, &hb, &l->heartbeat_sample);
                aws_metrics_report_stats(l->metrics, &settle, &l->settle_sample);
        }
        r = metrics_write_file(l->metrics, l->config->metrics_file, &err);
        if (r < 0)
                log_warning_errno(l->log, r, "Writing metrics to %s: %s", l->config->metrics_file,
                                  err.message);
}

static int on_metrics(sd_event_source *s, uint64_t usec, void *ud) {
        Loop *l = ud;
        const ThreadHealth *h = checker_health(l->checker);

        /* a receive succeeded since SQS was marked degraded */
        if (l->q && l->degraded_sqs[0] && poller_successes(queue_receiver(l->q)) > l->receiver_ok_mark)
                clear_degraded_sqs(l);
        if (l->phase == PHASE_STARTING && !l->stopping && health_ok(h, now(CLOCK_MONOTONIC), 2 * USEC_PER_SEC))
                sdnotify_extend_timeout(STARTUP_EXTEND_USEC);
        write_metrics(l);
        update_status(l);
        sd_event_source_set_time(s, usec + METRICS_INTERVAL_USEC);
        return 0;
}

/* WATCHDOG=1 only while the loop runs (this timer fires) and the queue side — or, before it
 * exists, the checker — makes progress. */
static int on_watchdog(sd_event_source *s, uint64_t usec, void *ud) {
        Loop *l = ud;
        const char *stuck = NULL;
        usec_t t = now(CLOCK_MONOTONIC);
        bool ok;

        if (l->q)
                ok = queue_healthy(l->q, t, &stuck);
        else {
                ok = health_ok(checker_health(l->checker), t, 2 * USEC_PER_SEC);
                stuck = "checker";
        }
        if (ok) {
                sdnotify_watchdog();
                if (l->watchdog_withheld)
                        log_info(l->log, "Watchdog pings resume");
                l->watchdog_withheld = false;
        } else if (!l->watchdog_withheld) {
                log_error(l->log, "The %s thread makes no progress: withholding the watchdog ping "
                          "(systemd restarts the service if it stays stuck)", stuck);
                l->watchdog_withheld = true;
        }
        sd_event_source_set_time(s, usec + l->watchdog_usec / 4);
        return 0;
}

/* ---- startup: checks off the loop, then the queue side ---- */

static int start_queue(Loop *l) {
        sd_event_source *s = NULL;
        S3bError err = {};
        int r;

        r = queue_new(l->aws, &(QueueOptions) {
                        .queue_url = l->queue_url,
                        .wait_seconds = l->queue.wait_seconds,
                        .max_messages = l->queue.max_messages,
                        .visibility_timeout = l->queue.visibility_timeout,
                        .slots = l->workers,
                        .call_budget_usec = l->call_budget_usec,
                }, &l->q, &err);
        if (r < 0)
                return log_error_errno(l->log, r, "Starting the SQS threads: %s", err.message);
        assert(l->n_sources + 2 <= ELEMENTSOF(l->sources));
        r = sd_event_add_io(l->event, &s, poller_fd(queue_receiver(l->q)), EPOLLIN, on_receiver, l);
        if (r < 0)
                return log_error_errno(l->log, r, "Watching the receiver");
        l->sources[l->n_sources++] = s;
        r = sd_event_add_io(l->event, &s, queue_fd(l->q), EPOLLIN, on_queue, l);
        if (r < 0)
                return log_error_errno(l->log, r, "Watching the SQS lanes");
        l->sources[l->n_sources++] = s;
        return 0;
}

/* Ends the loop for good: loop_run() returns error. */
static void fail(Loop *l, int error) {
        l->error = error < 0 ? error : -EIO;
        sd_event_exit(l->event, 0);
}

static int on_startup_retry(sd_event_source *s, uint64_t usec, void *ud) {
        Loop *l = ud;
        int r;

        if (l->stopping)
                return 0;
        r = checker_start(l->checker, CHECK_STARTUP, l->config, NULL);
        if (r < 0)
                fail(l, log_error_errno(l->log, r, "Starting the startup checks"));
        return 0;
}

static void startup_result(Loop *l, const CheckResult *res) {
        uint64_t delay_ms;
        int r;

        if (l->stopping)
                return;
        if (res->r == 0) {
                r = start_queue(l);
                if (r < 0)
                        return fail(l, r);
                l->phase = PHASE_RUNNING;
                l->waiting[0] = '\0';
                metrics_set_degraded(l->metrics, METRICS_DEGRADED_STARTUP, false);
                log_info(l->log, "Ready: %u worker(s), %zu pipeline(s), queue %s", l->workers,
                         l->config->n_pipelines, l->queue_url);
                sdnotify_ready("Polling");
                update_status(l);
                return;
        }
        if (res->config_error) {
                /* Waiting would not fix it: systemd shows the unit failed, the log says why. */
                return fail(l, log_error_errno(l->log, res->r, "Startup check of the %s failed: the "
                                               "configuration is wrong (see above); exiting", res->what));
        }
        l->startup_failures++;
        delay_ms = MAX(aws_retry_backoff_ms(&l->rng, MIN(l->startup_failures, 6u), 1000, STARTUP_RETRY_CAP_MS), 500u);
        snprintf(l->waiting, sizeof(l->waiting), "waiting for AWS: the %s check failed (%s), attempt %u; "
                 "next in %.1f s", res->what, strerror(-res->r), l->startup_failures, (double) delay_ms / 1000);
        log_warning(l->log, "Startup: %s", l->waiting);
        metrics_set_degraded(l->metrics, METRICS_DEGRADED_STARTUP, true);
        update_status(l);
        sd_event_source_set_time(l->startup_retry, now(CLOCK_MONOTONIC) + delay_ms * USEC_PER_MSEC);
        sd_event_source_set_enabled(l->startup_retry, SD_EVENT_ONESHOT);
}

/* ---- reload ---- */

static void start_reload(Loop *l) {
        int r;

        if (checker_busy(l->checker)) {
                /* coalesced: one more check after the running one, with the file as it is then */
                l->reload_pending = true;
                log_info(l->log, "SIGHUP while a reload is being checked: reloading again after it");
                return;
        }
        l->reload_pending = false;
        sdnotify_reloading();
        r = checker_start(l->checker, CHECK_RELOAD, NULL, l->config->path);
        if (r < 0) {
                log_error_errno(l->log, r, "Reloading %s: cannot start the check", l->config->path);
                sdnotify_ready(NULL);
        }
}

static void reload_result(Loop *l, CheckResult *res) {
        Config *c = res->config;

        if (res->r < 0 || !c) {
                if (res->diag.n_lines > 0 && strcmp(res->what, "file") == 0) {
                        log_error_errno(l->log, res->r, "Reloading %s failed, keeping the running configuration:",
                                        l->config->path);
                        for (size_t i = 0; i < res->diag.n_lines; i++)
                                log_error(l->log, "%s", res->diag.lines[i]);
                } else
                        log_error(l->log, "Reloading %s failed (the %s check), keeping the running "
                                  "configuration", l->config->path, res->what);
        } else {
                for (size_t i = 0; i < res->diag.n_lines; i++)
                        log_warning(l->log, "%s", res->diag.lines[i]);
                if (strcmp(c->queue.url, l->queue_url) != 0 || c->workers != l->workers ||
                    c->queue.visibility_timeout != l->queue.visibility_timeout ||
                    c->queue.retry_delay_min != l->queue.retry_delay_min ||
                    c->queue.retry_delay_max != l->queue.retry_delay_max)
                        log_warning(l->log, "queue and workers settings take effect at the next restart");
                logger_set_max_level(l->log, (int) c->log_level);
                config_unref(l->config);
                l->config = TAKE_PTR(res->config);
                log_info(l->log, "Reloaded %s: %zu pipeline(s); new files use it", l->config->path,
                         l->config->n_pipelines);
        }
        sdnotify_ready(NULL);
        update_status(l);
        if (l->reload_pending && !l->stopping)
                start_reload(l);
}

static int on_checker(sd_event_source *s, int fd, uint32_t revents, void *ud) {
        Loop *l = ud;
        CheckResult *res;

        checker_ack_fd(l->checker);
        while ((res = checker_pop(l->checker))) {
                if (res->kind == CHECK_STARTUP)
                        startup_result(l, res);
                else
                        reload_result(l, res);
                check_result_free(res);
        }
        return 0;
}

/* ---- signals ---- */

static int on_grace(sd_event_source *s, uint64_t usec, void *ud) {
        Loop *l = ud;

        log_warning(l->log, "Shutdown grace of %u s is over: aborting %u job(s) in work; their "
                    "messages become visible again", l->config->shutdown_grace, inflight_count(l->inflight));
        atomic_store(&l->cancel_jobs, true);
        return 0;
}

static void begin_shutdown(Loop *l, const char *why) {
        Job *j;

        if (l->stopping) {
                /* A second SIGTERM: do not wait for the grace period. */
                atomic_store(&l->cancel_jobs, true);
                return;
        }
        l->stopping = true;
        sdnotify_stopping("Stopping");
        if (l->phase == PHASE_STARTING) {
                log_info(l->log, "%s during startup: stopping", why);
                sd_event_exit(l->event, 0);
                return;
        }
        /* The grace plus a margin for releasing messages (which may wait for the server's
         * side of the cancelled long poll to end): systemd must not kill us meanwhile (it
         * only ever extends, never shortens TimeoutStopSec). */
        sdnotify_extend_timeout(((uint64_t) l->config->shutdown_grace + l->queue.wait_seconds + 15) * USEC_PER_SEC);
        log_info(l->log, "%s: stopping; waiting up to %u s for %u message(s) in work", why,
                 l->config->shutdown_grace, inflight_count(l->inflight));
        /* The receiver's long poll is cancelled; messages it still hands over are released
         * (handle_message), and we exit only once it has ended, so a poll still open on the
         * server cannot take back a message after we released it. */
        poller_stop(queue_receiver(l->q));
        /* Jobs no worker started yet are given back untouched. */
        while ((j = pool_take_queued(l->pool))) {
                j->status = JOB_CANCELLED;
                snprintf(j->reason, sizeof(j->reason), "not started before shutdown");
                finish_job(l, j);
        }
        /* and so are those still waiting for their turn */
        while ((j = ordering_take_any(l->ordering))) {
                ((InflightMsg *) j->owner)->n_waiting--;
                j->status = JOB_CANCELLED;
                snprintf(j->reason, sizeof(j->reason), "waiting for its turn at shutdown");
                finish_job(l, j);
        }
        arm_order_timer(l);
        if (inflight_count(l->inflight) > 0)
                sd_event_add_time(l->event, &l->grace, CLOCK_MONOTONIC,
                                  now(CLOCK_MONOTONIC) + (uint64_t) l->config->shutdown_grace * USEC_PER_SEC, 0, on_grace, l);
        update_status(l);
        maybe_exit(l);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *ud) {
        Loop *l = ud;

        if (si->ssi_signo == SIGHUP) {
                if (l->phase == PHASE_STARTING)
                        log_notice(l->log, "SIGHUP during startup: ignored (restart to use a changed file)");
                else if (!l->stopping)
                        start_reload(l);
                return 0;
        }
        begin_shutdown(l, si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        return 0;
}

/* ---- setup ---- */

Loop *loop_free(Loop *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_sources; i++)
                sd_event_source_unref(l->sources[i]);
        sd_event_source_unref(l->grace);
        sd_event_source_unref(l->extend_timer);
        sd_event_source_unref(l->startup_retry);
        sd_event_source_unref(l->order_timer);
        /* the receiver and lanes first: nothing may post to the loop any more */
        l->q = queue_free(l->q);
        l->pool = pool_free(l->pool);
        l->checker = checker_free(l->checker);
        l->inflight = inflight_free(l->inflight);
        l->ordering = ordering_free(l->ordering);
        sd_event_unref(l->event);
        metrics_free(l->metrics);
        flowctl_free(l->flow);
        config_unref(l->config);
        free(l->queue_url);
        free(l);
        return NULL;
}

/* Takes the address, not the value: the new source is read after the call that made it
 * (argument evaluation order is unspecified). */
static int add_source(Loop *l, int r, sd_event_source **s) {
        if (r < 0)
                return r;
        assert(l->n_sources < ELEMENTSOF(l->sources));
        l->sources[l->n_sources++] = *s;
        return 0;
}

/* The longest one AWS call may take with its retries: every attempt's connect and request
 * time plus the capped full-jitter waits between them (common/aws/retry.h). */
static uint64_t call_budget_usec(const Config *c) {
        uint64_t attempts = MAX(c->aws.max_attempts, 1u);

        return attempts * ((uint64_t) c->aws.connect_timeout_ms + c->aws.request_timeout_ms) * USEC_PER_MSEC +
               (attempts - 1) * (uint64_t) AWS_RETRY_CAP_MS_DEFAULT * USEC_PER_MSEC + 5 * USEC_PER_SEC;
}

static int add_timers(Loop *l) {
        sd_event_source *s = NULL;
        usec_t t = now(CLOCK_MONOTONIC);
        int r;

        r = add_source(l, sd_event_add_time(l->event, &s, CLOCK_MONOTONIC, t + METRICS_INTERVAL_USEC,
                                            0, on_metrics, l), &s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ON);
        if (r >= 0 && l->watchdog_usec > 0) {
                r = add_source(l, sd_event_add_time(l->event, &s, CLOCK_MONOTONIC, t + l->watchdog_usec / 4,
                                                    0, on_watchdog, l), &s);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s, SD_EVENT_ON);
        }
        if (r >= 0)
                r = sd_event_add_time(l->event, &l->extend_timer, CLOCK_MONOTONIC, t + USEC_PER_SEC, 0,
                                      on_extend_timer, l);
        if (r >= 0)
                r = sd_event_add_time(l->event, &l->startup_retry, CLOCK_MONOTONIC, t, 0,
                                      on_startup_retry, l);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->startup_retry, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time(l->event, &l->order_timer, CLOCK_MONOTONIC, t, 0, on_order_timer, l);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->order_timer, SD_EVENT_OFF);
        return r;
}

int loop_new(const LoopOptions *opts, Loop **ret) {
        _cleanup_(loop_freep) Loop *l = NULL;
        sd_event_source *s = NULL;
        S3bError err = {};
        int r;

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->log = opts->log;
        l->aws = opts->aws;
        l->config = config_ref(opts->config);
        l->queue = l->config->queue;
        l->workers = l->config->workers;
        l->lend_max = MIN(l->workers * ORDER_LEND_PER_WORKER, ORDER_LEND_MAX);
        l->call_budget_usec = call_budget_usec(l->config);
        l->watchdog_usec = sdnotify_watchdog_usec();
        l->phase = PHASE_STARTING;
        atomic_init(&l->cancel_jobs, false);
        aws_rng_seed(&l->rng, 0);
        l->queue_url = strdup(l->config->queue.url);
        if (!l->queue_url)
                return -ENOMEM;

        r = metrics_new(&l->metrics);
        if (r >= 0)
                r = inflight_new(&(InflightOptions) {
                                .visibility_timeout = l->queue.visibility_timeout,
                                .retry_delay_min = l->queue.retry_delay_min,
                                .retry_delay_max = l->queue.retry_delay_max,
                        }, &l->inflight);
        if (r >= 0)
                r = ordering_new(&l->ordering);
        if (r >= 0)
                r = checker_new(l->log, l->aws, &l->checker);
        if (r < 0)
                return log_error_errno(l->log, r, "Setting up");
        /* queue + each table, one call budget each */
        checker_set_budget(l->checker, (1 + l->config->n_pipelines) * l->call_budget_usec);

        l->flow = flowctl_new(NULL, NULL);
        if (!l->flow)
                return log_error_errno(l->log, -ENOMEM, "Setting up");
        l->shared = (JobPoolShared) { .aws = l->aws, .flow = l->flow, .log = l->log,
                                      .metrics = l->metrics, .cancel = &l->cancel_jobs };
        r = pool_new(l->workers, &job_pool_ops, &l->shared, &l->pool, &err);
        if (r < 0)
                return log_error_errno(l->log, r, "Starting %u workers: %s", l->workers, err.message);

        r = sd_event_new(&l->event);
        if (r < 0)
                return log_error_errno(l->log, r, "sd_event_new");

        r = add_source(l, sd_event_add_signal(l->event, &s, SIGTERM, on_signal, l), &s);
        if (r >= 0)
                r = add_source(l, sd_event_add_signal(l->event, &s, SIGINT, on_signal, l), &s);
        if (r >= 0)
                r = add_source(l, sd_event_add_signal(l->event, &s, SIGHUP, on_signal, l), &s);
        if (r >= 0)
                r = add_source(l, sd_event_add_io(l->event, &s, pool_fd(l->pool), EPOLLIN, on_pool, l), &s);
        if (r >= 0)
                r = add_source(l, sd_event_add_io(l->event, &s, checker_fd(l->checker), EPOLLIN, on_checker, l), &s);
        if (r >= 0)
                r = add_timers(l);
        if (r < 0)
                return log_error_errno(l->log, r, "Setting up the event loop");

        *ret = TAKE_PTR(l);
        return 0;
}

int loop_run(Loop *l) {
        int r;

        sdnotify_status("Starting: checking the queue and the tables");
        sdnotify_extend_timeout(STARTUP_EXTEND_USEC);
        r = checker_start(l->checker, CHECK_STARTUP, l->config, NULL);
        if (r < 0)
                return log_error_errno(l->log, r, "Starting the startup checks");

        r = sd_event_loop(l->event);

        write_metrics(l);
        if (r < 0)
                return log_error_errno(l->log, r, "Event loop failed");
        if (l->error < 0)
                return l->error;
        log_info(l->log, "Stopped");
        return 0;
}
