/* The main loop. See loop.h and docs/DESIGN.md ("Threads", "Life of a message").
 *
 * sd-event drives everything on this thread: the three signals (signalfd sources), the
 * poller's and the pool's eventfds, the heartbeat, the metrics/status timer, the shutdown
 * grace timer and the watchdog (sd_event_set_watchdog pings at half WATCHDOG_USEC, so a
 * wedged loop is restarted by systemd). SQS calls made here (delete, change visibility) are
 * short synchronous requests on the loop's own AwsClient; only the long poll, which can take
 * 20 s, runs on the poller thread. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "common/aws/client.h"
#include "common/aws/sqs.h"
#include "common/event.h"
#include "common/log.h"
#include "daemon/awsmetrics.h"
#include "daemon/job.h"
#include "daemon/loop.h"
#include "daemon/metrics.h"
#include "daemon/poller.h"
#include "daemon/pool.h"
#include "daemon/sdnotify.h"
#include "daemon/startup.h"

#define METRICS_INTERVAL_USEC (10ULL * 1000000ULL)
/* A job that failed transiently is retried after this (or the visibility timeout if less),
 * rather than after the whole visibility timeout. */
#define RETRY_DELAY_S 30u

typedef struct Message {
        struct Message *prev, *next;
        PollerMessage *msg;
        unsigned n_running;             /* jobs handed to the pool and not back yet */
        bool all_final;
        bool cancelled;
        uint64_t received_usec;
} Message;

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

        AwsClient *sqs;
        Metrics *metrics;
        AwsMetricsSample sqs_sample, poller_sample;
        Pool *pool;
        Poller *poller;

        sd_event *event;
        sd_event_source *sources[8];
        size_t n_sources;
        sd_event_source *grace;

        Message *messages;
        unsigned n_messages;
        Counters counters;
        atomic_bool cancel_jobs;        /* read by workers' AwsClients and jobs */
        JobPoolShared shared;
        bool stopping;
};

/* ---- status ---- */

static void update_status(Loop *l) {
        const uint64_t *s = l->counters.by_status;

        sdnotify_status("%s; %u message(s) in work; files: %" PRIu64 " ok, %" PRIu64 " partial, %"
                        PRIu64 " failed, %" PRIu64 " already done",
                        l->stopping ? "Stopping" : "Polling", l->n_messages, s[JOB_SUCCESS],
                        s[JOB_PARTIAL], s[JOB_FAILURE], s[JOB_DONE_BEFORE]);
}

static void maybe_exit(Loop *l) {
        if (l->stopping && l->n_messages == 0)
                sd_event_exit(l->event, 0);
}

/* ---- SQS bookkeeping (this thread only) ---- */

static void message_delete(Loop *l, const PollerMessage *m) {
        S3bError err = {};
        int r;

        r = sqs_delete_message(l->sqs, l->queue_url, m->receipt_handle, &err);
        if (r < 0) {
                /* The work is done; the redelivery will find the file archived and finish. */
                log_warning_errno_f(l->log, r, LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->message_id)),
                                    "Could not delete message %s: %s", m->message_id, err.message);
                return;
        }
        if (l->metrics)
                metrics_message(l->metrics, METRICS_MESSAGE_DELETED, 1);
}

static void message_set_visibility(Loop *l, const PollerMessage *m, unsigned seconds) {
        S3bError err = {};
        int r;

        r = sqs_change_message_visibility(l->sqs, l->queue_url, m->receipt_handle, seconds, &err);
        if (r < 0)
                log_warning_errno_f(l->log, r, LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->message_id)),
                                    "Could not change visibility of message %s: %s", m->message_id,
                                    err.message);
        else {
                log_debug_f(l->log, LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->message_id)),
                            "Message %s visible again in %u s", m->message_id, seconds);
                if (seconds == 0 && l->metrics)
                        metrics_message(l->metrics, METRICS_MESSAGE_RELEASED, 1);
        }
}

/* A message leaves our hands: its poller slot is free again. */
static void message_forget(Loop *l, PollerMessage *m) {
        poller_message_free(m);
        poller_release(l->poller, 1);
}

static void message_settle(Loop *l, Message *msg) {
        if (msg->all_final)
                message_delete(l, msg->msg);
        else if (l->stopping || msg->cancelled)
                message_set_visibility(l, msg->msg, 0);
        else
                message_set_visibility(l, msg->msg, MIN(RETRY_DELAY_S, l->queue.visibility_timeout));

        if (msg->prev)
                msg->prev->next = msg->next;
        else
                l->messages = msg->next;
        if (msg->next)
                msg->next->prev = msg->prev;
        l->n_messages--;
        message_forget(l, msg->msg);
        free(msg);
        update_status(l);
        maybe_exit(l);
}

/* ---- results ---- */

static void log_job(Loop *l, const Job *j, const Message *msg) {
        int level = j->status == JOB_FAILURE || j->status == JOB_CONFIG_ERROR ? LOG_ERR :
                    j->status == JOB_RETRY || j->status == JOB_PARTIAL ? LOG_WARNING :
                    j->status == JOB_SUPERSEDED ? LOG_NOTICE : LOG_INFO;

        log_full_f(l->log, level, 0,
                   LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", msg ? msg->msg->message_id : NULL),
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

static void finish_job(Loop *l, Job *j) {
        Message *msg = j->owner;

        log_job(l, j, msg);
        l->counters.by_status[j->status]++;
        if (l->metrics)
                metrics_jobs_in_flight_add(l->metrics, -1);
        if (!job_status_is_final(j->status))
                msg->all_final = false;
        if (j->status == JOB_CANCELLED)
                msg->cancelled = true;
        job_free(j);

        if (--msg->n_running == 0)
                message_settle(l, msg);
}

static int on_pool(sd_event_source *s, int fd, uint32_t revents, void *ud) {
        Loop *l = ud;
        Job *j;

        pool_ack_fd(l->pool);
        while ((j = pool_pop_done(l->pool)))
                finish_job(l, j);
        return 0;
}

/* ---- messages in ---- */

static void log_message(Loop *l, int level, const PollerMessage *m, const char *what,
                        const char *detail) {
        log_full_f(l->log, level, 0,
                   LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->message_id),
                              LOG_U64("SQS_RECEIVE_COUNT", m->receive_count)),
                   "%s %s%s%s", what, m->message_id, detail[0] ? ": " : "", detail);
}

/* Turns the message's records into jobs. Returns the number of jobs, or -ENOMEM. */
static int make_jobs(Loop *l, const PollerMessage *m, const S3EventBatch *b, Message *msg,
                     Job ***ret_jobs) {
        Job **jobs = calloc(b->n_records + 1, sizeof(Job *));
        int n = 0;

        if (!jobs)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_ignored; i++)
                log_full_f(l->log, LOG_INFO, 0,
                           LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->message_id),
                                      LOG_STR("BUCKET", b->ignored[i].bucket),
                                      LOG_STR("OBJECT_KEY", b->ignored[i].key)),
                           "Ignoring %s event for s3://%s/%s", b->ignored[i].event_name,
                           b->ignored[i].bucket, b->ignored[i].key);
        for (size_t i = 0; i < b->n_records; i++) {
                const S3EventRecord *rec = &b->records[i];
                const PipelineSpec *spec = config_find_pipeline(l->config, rec->bucket, rec->key);

                if (!spec) {
                        log_full_f(l->log, LOG_INFO, 0,
                                   LOG_FIELDS(LOG_STR("SQS_MESSAGE_ID", m->message_id),
                                              LOG_STR("BUCKET", rec->bucket),
                                              LOG_STR("OBJECT_KEY", rec->key)),
                                   "No pipeline matches s3://%s/%s, skipping it", rec->bucket, rec->key);
                        if (l->metrics)
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
                jobs[n]->receive_count = m->receive_count;
                jobs[n]->owner = msg;
                n++;
        }
        *ret_jobs = jobs;
        return n;
}

static void handle_message(Loop *l, PollerMessage *m) {
        _cleanup_(s3_event_batch_freep) S3EventBatch *batch = NULL;
        _cleanup_free_ Job **jobs = NULL;
        S3bError err = {};
        Message *msg;
        int r, n;

        l->counters.messages++;
        if (l->metrics)
                metrics_message(l->metrics, METRICS_MESSAGE_RECEIVED, 1);
        if (l->stopping) {
                message_set_visibility(l, m, 0);
                return message_forget(l, m);
        }

        if (m->invalid)
                /* bad MD5, malformed entry or oversized body: not ours to delete (poller.h) */
                r = s3b_error_set(&err, -EBADMSG, "%s", m->invalid);
        else
                r = s3_event_parse(m->body, m->body_len, &batch, &err);
        if (r == -ENOMEM)
                /* Not the message's fault: it reappears after its visibility timeout. */
                return message_forget(l, m);
        if (r < 0) {
                log_message(l, LOG_ERR, m, "Poison message (left for the queue's redrive policy)",
                            err.message);
                if (l->metrics)
                        metrics_message(l->metrics, METRICS_MESSAGE_POISON, 1);
                return message_forget(l, m);
        }
        if (r == S3EVENT_TEST) {
                log_message(l, LOG_INFO, m, "s3:TestEvent, deleting message", "");
                if (l->metrics)
                        metrics_message(l->metrics, METRICS_MESSAGE_TEST, 1);
                message_delete(l, m);
                return message_forget(l, m);
        }

        msg = calloc(1, sizeof(*msg));
        if (!msg)
                return message_forget(l, m);
        n = make_jobs(l, m, batch, msg, &jobs);
        if (n < 0) {
                free(msg);
                return message_forget(l, m);
        }
        if (n == 0) {
                /* Nothing here is ours (no pipeline matches, or no ObjectCreated record). */
                free(msg);
                message_delete(l, m);
                return message_forget(l, m);
        }

        msg->msg = m;
        msg->all_final = true;
        msg->next = l->messages;
        if (l->messages)
                l->messages->prev = msg;
        l->messages = msg;
        l->n_messages++;
        /* Count them all first: a job that cannot be queued finishes at once, and the message
         * must not be settled (and freed) before its last job was handed out. */
        msg->n_running = (unsigned) n;
        for (int i = 0; i < n; i++) {
                if (l->metrics)
                        metrics_jobs_in_flight_add(l->metrics, 1);
                r = pool_submit(l->pool, jobs[i]);
                if (r < 0) {
                        jobs[i]->status = JOB_RETRY;
                        snprintf(jobs[i]->reason, sizeof(jobs[i]->reason), "could not queue the job");
                        finish_job(l, jobs[i]);
                }
        }
        update_status(l);
}

static int on_poller(sd_event_source *s, int fd, uint32_t revents, void *ud) {
        Loop *l = ud;
        PollerMessage *m;
        S3bError err;

        poller_ack_fd(l->poller);
        if (poller_pop_error(l->poller, &err))
                log_error_errno(l->log, err.code, "Receiving from %s failed: %s", l->queue_url, err.message);
        while ((m = poller_pop(l->poller)))
                handle_message(l, m);
        return 0;
}

/* ---- timers ---- */

static int on_heartbeat(sd_event_source *s, uint64_t usec, void *ud) {
        Loop *l = ud;
        uint64_t period = (uint64_t) MAX(1u, l->queue.visibility_timeout / 2) * 1000000ULL;
        const char *handles[SQS_BATCH_MAX];
        SqsBatchResult results[SQS_BATCH_MAX];
        Message *m = l->messages;

        /* Every message in work gets a full timeout again; one that arrived just before the
         * tick is merely extended early, one that arrives just after still has ≥ half left. */
        while (m) {
                S3bError err = {};
                size_t n = 0;
                int r;

                for (; m && n < SQS_BATCH_MAX; m = m->next)
                        handles[n++] = m->msg->receipt_handle;
                r = sqs_change_message_visibility_batch(l->sqs, l->queue_url, handles, n,
                                                        l->queue.visibility_timeout, results, &err);
                if (r < 0)
                        log_warning_errno(l->log, r, "Heartbeat for %zu message(s) failed: %s", n,
                                          err.message);
                else if (r > 0)
                        log_warning(l->log, "Heartbeat: %d of %zu message(s) could not be extended", r, n);
        }
        sd_event_source_set_time(s, usec + period);
        return 0;
}

static void write_metrics(Loop *l) {
        S3bError err = {};
        int r;

        if (!l->metrics || !l->config->metrics_file)
                return;
        if (l->poller) {
                AwsClientStats st;

                poller_get_stats(l->poller, &st);
                aws_metrics_report_stats(l->metrics, &st, &l->poller_sample);
        }
        aws_metrics_report(l->metrics, l->sqs, &l->sqs_sample);
        r = metrics_write_file(l->metrics, l->config->metrics_file, &err);
        if (r < 0)
                log_warning_errno(l->log, r, "Writing metrics to %s: %s", l->config->metrics_file,
                                  err.message);
}

static int on_metrics(sd_event_source *s, uint64_t usec, void *ud) {
        Loop *l = ud;

        write_metrics(l);
        update_status(l);
        sd_event_source_set_time(s, usec + METRICS_INTERVAL_USEC);
        return 0;
}

/* ---- signals ---- */

static int on_grace(sd_event_source *s, uint64_t usec, void *ud) {
        Loop *l = ud;

        log_warning(l->log, "Shutdown grace of %u s is over: aborting %u job(s) in work; their "
                    "messages become visible again", l->config->shutdown_grace, l->n_messages);
        atomic_store(&l->cancel_jobs, true);
        return 0;
}

static void begin_shutdown(Loop *l, const char *why) {
        PollerMessage *m;
        Job *j;
        uint64_t now;

        if (l->stopping) {
                /* A second SIGTERM: do not wait for the grace period. */
                atomic_store(&l->cancel_jobs, true);
                return;
        }
        l->stopping = true;
        sdnotify_stopping("Stopping");
        /* The grace plus a margin for releasing messages: systemd must not kill us meanwhile
         * (it only ever extends, never shortens TimeoutStopSec). */
        sdnotify_extend_timeout(((uint64_t) l->config->shutdown_grace + 15) * 1000000ULL);
        log_info(l->log, "%s: stopping; waiting up to %u s for %u message(s) in work", why,
                 l->config->shutdown_grace, l->n_messages);
        /* Join, not just stop: a long poll still open on the server would take back the very
         * messages we release below (they become visible at once). The cancel flag ends it
         * within about a second. */
        poller_join(l->poller);
        while ((m = poller_pop(l->poller)))
                handle_message(l, m);
        /* Jobs no worker started yet are given back untouched. */
        while ((j = pool_take_queued(l->pool))) {
                j->status = JOB_CANCELLED;
                snprintf(j->reason, sizeof(j->reason), "not started before shutdown");
                finish_job(l, j);
        }
        if (l->n_messages > 0) {
                sd_event_now(l->event, CLOCK_MONOTONIC, &now);
                sd_event_add_time(l->event, &l->grace, CLOCK_MONOTONIC,
                                  now + (uint64_t) l->config->shutdown_grace * 1000000ULL, 0,
                                  on_grace, l);
        }
        maybe_exit(l);
}

static void reload(Loop *l) {
        _cleanup_(config_unrefp) Config *c = NULL;
        ConfigDiag diag = {};
        int r;

        sdnotify_reloading();
        r = config_load(l->config->path, &c, &diag);
        if (r < 0) {
                log_error_errno(l->log, r, "Reloading %s failed, keeping the running configuration:",
                                l->config->path);
                for (size_t i = 0; i < diag.n_lines; i++)
                        log_error(l->log, "%s", diag.lines[i]);
                config_diag_done(&diag);
                sdnotify_ready(NULL);
                return;
        }
        config_diag_done(&diag);
        /* A new or changed pipeline must find its table as at startup, or the old config stays. */
        r = startup_check_tables(l->log, c, l->aws);
        if (r >= 0)
                r = startup_check_resources(l->log, c, l->aws);
        if (r < 0) {
                log_error(l->log, "Reloading %s failed (a table, bucket or topic check), keeping the "
                          "running configuration", l->config->path);
                sdnotify_ready(NULL);
                return;
        }
        if (strcmp(c->queue.url, l->queue_url) != 0 || c->workers != l->workers ||
            c->queue.visibility_timeout != l->queue.visibility_timeout)
                log_warning(l->log, "queue and workers settings take effect at the next restart");
        logger_set_max_level(l->log, (int) c->log_level);
        config_unref(l->config);
        l->config = TAKE_PTR(c);
        log_info(l->log, "Reloaded %s: %zu pipeline(s); new files use it", l->config->path,
                 l->config->n_pipelines);
        sdnotify_ready(NULL);
        update_status(l);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *ud) {
        Loop *l = ud;

        if (si->ssi_signo == SIGHUP) {
                if (!l->stopping)
                        reload(l);
                return 0;
        }
        begin_shutdown(l, si->ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        return 0;
}

/* ---- setup ---- */

Loop *loop_free(Loop *l) {
        if (!l)
                return NULL;
        if (l->poller)
                poller_join(l->poller);
        l->poller = poller_free(l->poller);
        l->pool = pool_free(l->pool);
        for (size_t i = 0; i < l->n_sources; i++)
                sd_event_source_unref(l->sources[i]);
        sd_event_source_unref(l->grace);
        sd_event_unref(l->event);
        aws_client_free(l->sqs);
        metrics_free(l->metrics);
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

int loop_new(const LoopOptions *opts, Loop **ret) {
        _cleanup_(loop_freep) Loop *l = NULL;
        sd_event_source *s = NULL;
        S3bError err = {};
        uint64_t now;
        int r;

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->log = opts->log;
        l->aws = opts->aws;
        l->config = config_ref(opts->config);
        l->queue = l->config->queue;
        l->workers = l->config->workers;
        atomic_init(&l->cancel_jobs, false);
        l->queue_url = strdup(l->config->queue.url);
        if (!l->queue_url)
                return -ENOMEM;

        r = metrics_new(&l->metrics);
        if (r < 0)
                return r;
        r = aws_client_new(l->aws, &l->sqs, &err);
        if (r < 0)
                return log_error_errno(l->log, r, "AWS client: %s", err.message);

        l->shared = (JobPoolShared) { .aws = l->aws, .log = l->log, .metrics = l->metrics,
                                      .cancel = &l->cancel_jobs };
        r = pool_new(l->workers, &job_pool_ops, &l->shared, &l->pool, &err);
        if (r < 0)
                return log_error_errno(l->log, r, "Starting %u workers: %s", l->workers, err.message);

        r = sd_event_new(&l->event);
        if (r < 0)
                return log_error_errno(l->log, r, "sd_event_new");
        (void) sd_event_set_watchdog(l->event, true);

        r = add_source(l, sd_event_add_signal(l->event, &s, SIGTERM, on_signal, l), &s);
        if (r >= 0)
                r = add_source(l, sd_event_add_signal(l->event, &s, SIGINT, on_signal, l), &s);
        if (r >= 0)
                r = add_source(l, sd_event_add_signal(l->event, &s, SIGHUP, on_signal, l), &s);
        if (r >= 0)
                r = add_source(l, sd_event_add_io(l->event, &s, pool_fd(l->pool), EPOLLIN, on_pool, l), &s);
        if (r < 0)
                return log_error_errno(l->log, r, "Setting up the event loop");

        sd_event_now(l->event, CLOCK_MONOTONIC, &now);
        r = add_source(l, sd_event_add_time(l->event, &s, CLOCK_MONOTONIC,
                                            now + (uint64_t) MAX(1u, l->queue.visibility_timeout / 2) * 1000000ULL,
                                            0, on_heartbeat, l), &s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ON);
        if (r >= 0)
                r = add_source(l, sd_event_add_time(l->event, &s, CLOCK_MONOTONIC,
                                                    now + METRICS_INTERVAL_USEC, 0, on_metrics, l), &s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ON);
        if (r < 0)
                return log_error_errno(l->log, r, "Setting up timers");

        *ret = TAKE_PTR(l);
        return 0;
}

int loop_run(Loop *l) {
        PollerOptions po = {
                .queue_url = l->queue_url,
                .wait_seconds = l->queue.wait_seconds,
                .max_messages = l->queue.max_messages,
                .visibility_timeout = l->queue.visibility_timeout,
                .slots = l->workers,
        };
        sd_event_source *s = NULL;
        S3bError err = {};
        PollerMessage *m;
        int r;

        r = poller_new(l->aws, &po, &l->poller, &err);
        if (r < 0)
                return log_error_errno(l->log, r, "Starting the SQS receiver: %s", err.message), 1;
        r = add_source(l, sd_event_add_io(l->event, &s, poller_fd(l->poller), EPOLLIN, on_poller, l), &s);
        if (r < 0)
                return log_error_errno(l->log, r, "Watching the receiver"), 1;

        log_info(l->log, "Ready: %u worker(s), %zu pipeline(s), queue %s", l->workers,
                 l->config->n_pipelines, l->queue_url);
        sdnotify_ready("Polling");
        update_status(l);

        r = sd_event_loop(l->event);

        /* Messages the poller received after we stopped looking: give them back. */
        poller_join(l->poller);
        while ((m = poller_pop(l->poller))) {
                message_set_visibility(l, m, 0);
                message_forget(l, m);
        }
        write_metrics(l);
        log_info(l->log, "Stopped");
        return r < 0 ? 1 : 0;
}
