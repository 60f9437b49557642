/* A job's read → validate → write stages; the move and the notification are in outcome.c.
 *
 * The object is streamed: s3_get_object() hands each received chunk to ingest_feed(), whose
 * callbacks put valid items into the Writer (25 per BatchWriteItem) and rejected rows into the
 * Report. Memory per job is one chunk, one row, one batch and the report (capped).
 * In validate_first mode a first read only counts; the second read writes. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/aws/client.h"
#include "common/aws/dynamodb.h"
#include "common/aws/retry.h"
#include "common/aws/s3.h"
#include "common/ingest.h"
#include "common/log.h"
#include "daemon/awsmetrics.h"
#include "daemon/job.h"
#include "daemon/metrics.h"
#include "daemon/outcome.h"
#include "daemon/pool.h"
#include "daemon/report.h"
#include "daemon/writer.h"

/* Rejected rows are reported in full up to this; beyond, counted only (report.h). */
#define REPORT_MAX_BYTES (16u * 1024u * 1024u)

static const char *const status_names[_JOB_STATUS_MAX] = {
        [JOB_PENDING] = "PENDING",
        [JOB_SUCCESS] = "SUCCESS",
        [JOB_PARTIAL] = "PARTIAL",
        [JOB_FAILURE] = "FAILURE",
        [JOB_DONE_BEFORE] = "DONE_BEFORE",
        [JOB_GONE] = "GONE",
        [JOB_RETRY] = "RETRY",
        [JOB_CANCELLED] = "CANCELLED",
        [JOB_SUPERSEDED] = "SUPERSEDED",
        [JOB_CONFIG_ERROR] = "CONFIG_ERROR",
};

const char *job_status_to_string(JobStatus s) {
        return s < _JOB_STATUS_MAX ? status_names[s] : "UNKNOWN";
}

Job *job_new(Config *config, const PipelineSpec *spec, const char *bucket, const char *key,
             const char *etag) {
        Job *j = calloc(1, sizeof(*j));

        if (!j)
                return NULL;
        j->bucket = strdup(bucket);
        j->key = strdup(key);
        j->etag = strdup(etag ? etag : "");
        if (!j->bucket || !j->key || !j->etag)
                return job_free(j);
        j->config = config_ref(config);
        j->spec = spec;
        return j;
}

Job *job_free(Job *j) {
        if (!j)
                return NULL;
        config_unref(j->config);
        free(j->bucket);
        free(j->key);
        free(j->etag);
        free(j->location);
        free(j->report_location);
        free(j);
        return NULL;
}

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static bool cancelled(const JobEnv *env) {
        return env->cancel && atomic_load(env->cancel);
}

/* ---- one read of the object ---- */

typedef struct Run {
        Job *job;
        const JobEnv *env;
        Ingest *ingest;
        Writer *writer;                 /* NULL on a validate-only read */
        Report *report;
        S3bError ingest_err;            /* why ingest_feed stopped */
        S3bError write_err;             /* why the writer stopped */
        bool ingest_failed;
        bool write_failed;
        bool too_many_rejects;
        uint64_t bytes;
} Run;

static int on_item(void *ud, const IngestItem *item) {
        Run *run = ud;
        int r;

        if (!run->writer)
                return 0;
        r = writer_add(run->writer, item->key, item->json, &run->write_err);
        if (r < 0)
                run->write_failed = true;
        return r;
}

static int on_reject(void *ud, const IngestReject *rej) {
        Run *run = ud;
        int r;

        r = report_add(run->report, rej);
        if (r < 0)
                return r;
        if (report_count(run->report) > run->job->spec->max_rejected_rows) {
                run->too_many_rejects = true;
                return -EDQUOT;
        }
        return 0;
}

static int on_data(void *ud, const void *data, size_t n) {
        Run *run = ud;
        int r;

        if (cancelled(run->env))
                return -ECANCELED;
        run->bytes += n;
        r = ingest_feed(run->ingest, data, n, &run->ingest_err);
        if (r < 0)
                run->ingest_failed = true;
        return r;
}

static int send_batch(void *ud, unsigned lane, const char *const *items, size_t n,
                      size_t **ret_unprocessed, size_t *ret_n_unprocessed, S3bError *err) {
        Run *run = ud;

        /* dynamodb_batch_write() only reads the strings; its prototype lacks the const. */
        return dynamodb_batch_write(run->env->write_clients[lane], run->job->spec->table,
                                    (char *const *) items, n, ret_unprocessed, ret_n_unprocessed, err);
}

static int send_backoff(void *ud, unsigned lane, unsigned attempt) {
        Run *run = ud;
        AwsClient *c = run->env->write_clients[lane];

        /* The client's shared full-jitter policy; its sleep ends early on shutdown. */
        return aws_client_sleep_ms(c, aws_client_backoff_ms(c, attempt));
}

/* No retryable(): the client already retried a failed call up to max_attempts_batch, so the
 * writer's own rounds are for UnprocessedItems only. */
static const WriterOps writer_ops = { .send = send_batch, .backoff = send_backoff };

typedef enum ReadResult {
        READ_OK,
        READ_FILE_FAILED,       /* the file is bad: FAILURE */
        READ_WRITE_FAILED,      /* DynamoDB refused for good: FAILURE */
        READ_GONE,              /* no such key */
        READ_TRANSIENT,         /* RETRY */
        READ_CANCELLED,
} ReadResult;

static ReadResult set_reason(Job *j, ReadResult res, const char *prefix, const S3bError *e) {
        snprintf(j->reason, sizeof(j->reason), "%s%.400s", prefix, e ? e->message : "");
        return res;
}

/* Streams the object once through ingest (and the writer, when writing). */
static ReadResult read_once(Job *j, const JobEnv *env, Report *report, bool write) {
        _cleanup_(writer_freep) Writer *writer = NULL;
        _cleanup_(ingest_freep) Ingest *in = NULL;
        IngestCallbacks cb = { .on_item = on_item, .on_reject = on_reject };
        IngestStats st = {};
        S3ObjectInfo info = {};
        S3bError err = {};
        Run run = { .job = j, .env = env, .report = report };
        int r;

        r = ingest_new(j->spec, j->key, &cb, &run, &in, &err);
        if (r < 0)
                return set_reason(j, READ_FILE_FAILED, "pipeline: ", &err);
        run.ingest = in;
        if (write) {
                writer = writer_new(&writer_ops, &run, j->config->aws.max_attempts_batch,
                                    JOB_WRITE_WINDOW);
                if (!writer)
                        return set_reason(j, READ_TRANSIENT, "out of memory", NULL);
                run.writer = writer;
        }

        r = s3_get_object(env->client, j->bucket, j->key, NULL, on_data, &run, &info, &err);
        if (r >= 0 && !j->etag[0] && info.etag[0]) {
                /* `process`/`backfill` have no event to take it from. */
                char *e = strdup(info.etag);
                if (e) {
                        free(j->etag);
                        j->etag = e;
                }
        }
        if (r >= 0) {
                r = ingest_finish(in, &st, &run.ingest_err);
                if (r < 0)
                        run.ingest_failed = true;
        } else
                ingest_get_stats(in, &st);
        if (r >= 0 && writer) {
                r = writer_flush(writer, &run.write_err);
                if (r < 0)
                        run.write_failed = true;
        }

        j->rows_total = st.rows_total;
        j->rows_rejected = report_count(report);
        j->bytes_read += run.bytes;     /* both reads in validate_first mode */
        if (writer) {
                WriterStats ws;

                writer_drain(writer);
                ws = writer_stats(writer);

                j->rows_written = ws.written;
                j->rows_superseded = ws.superseded;
        }
        if (r >= 0)
                return READ_OK;

        if (r == -ECANCELED || cancelled(env))
                return set_reason(j, READ_CANCELLED, "cancelled by shutdown", NULL);
        if (run.too_many_rejects) {
                snprintf(j->reason, sizeof(j->reason),
                         "too many rejected rows: more than max_rejected_rows (%" PRIu64 ")",
                         j->spec->max_rejected_rows);
                return READ_FILE_FAILED;
        }
        if (run.write_failed) {
                /* No response at all (DynamoDB unreachable): the file is fine, try again later. */
                if (run.write_err.http_status == 0 && run.write_err.code != -EIO)
                        return set_reason(j, READ_TRANSIENT, "writing to DynamoDB: ", &run.write_err);
                return set_reason(j, READ_WRITE_FAILED, "writing to DynamoDB: ", &run.write_err);
        }
        if (run.ingest_failed)
                return set_reason(j, READ_FILE_FAILED, "", &run.ingest_err);
        if (r == -ENOENT)
                return set_reason(j, READ_GONE, "", &err);
        /* Network trouble, 5xx after the client's retries, but also 403: none of it is the
         * file's fault, so it stays in place and the message comes back (until
         * max_receive_count sends it to the error bucket). */
        return set_reason(j, READ_TRANSIENT, "reading the object: ", &err);
}

/* ---- the whole job ---- */

static void handle_gone(Job *j, const JobEnv *env) {
        S3bError err = {};
        int r;

        r = outcome_find_done(j, env, &err);
        if (r < 0) {
                j->status = JOB_RETRY;
                snprintf(j->reason, sizeof(j->reason), "looking for an earlier outcome: %.400s", err.message);
        } else if (r > 0) {
                j->status = JOB_DONE_BEFORE;
                snprintf(j->reason, sizeof(j->reason), "already processed, now at %s", j->location);
        } else {
                j->status = JOB_GONE;
                snprintf(j->reason, sizeof(j->reason), "the object no longer exists in inbound, "
                         "archive or error bucket");
        }
}

static void finish_moved(Job *j, const JobEnv *env, Report *report) {
        S3bError err = {};
        int r;

        /* The summary (error.json, SNS) carries the duration up to the move. */
        j->duration_ms = now_ms() - j->start_ms;

        r = outcome_settle(j, env, report, &err);
        if (r == -ENOENT && !cancelled(env))
                /* The inbound object vanished under us: another consumer may have finished it. */
                return handle_gone(j, env);
        if (r < 0) {
                JobStatus was = j->status;

                j->status = cancelled(env) ? JOB_CANCELLED : JOB_RETRY;
                snprintf(j->reason, sizeof(j->reason), "moving the %s file: %.400s",
                         job_status_to_string(was), err.message);
                return;
        }
        r = outcome_notify(j, env, &err);
        if (r < 0)
                /* The data is safe and moved; a retry would find the file done and stay
                 * silent anyway, so the missing notification is logged, not retried. */
                log_error_errno_f(env->log, r,
                                  LOG_FIELDS(LOG_STR("BUCKET", j->bucket), LOG_STR("OBJECT_KEY", j->key)),
                                  "Publishing the summary of s3://%s/%s failed: %s", j->bucket,
                                  j->key, err.message);
}

/* The message came back more often than max_receive_count allows: whatever keeps failing
 * (a 403, a table that refuses), the file goes to the error bucket instead of looping. */
static void give_up(Job *j, const JobEnv *env) {
        j->status = JOB_FAILURE;
        snprintf(j->reason, sizeof(j->reason), "gave up after %u attempts", j->receive_count - 1);
        finish_moved(j, env, NULL);
}

static void process(Job *j, const JobEnv *env) {
        _cleanup_(report_freep) Report *report = report_new(REPORT_MAX_BYTES);
        ReadResult res;

        if (!report) {
                j->status = JOB_RETRY;
                snprintf(j->reason, sizeof(j->reason), "out of memory");
                return;
        }

        if (j->spec->write_mode == WRITE_MODE_VALIDATE_FIRST) {
                res = read_once(j, env, report, false);
                if (res == READ_OK) {
                        report_reset(report);
                        res = read_once(j, env, report, true);
                }
        } else
                res = read_once(j, env, report, true);

        switch (res) {
        case READ_OK:
                j->status = j->rows_rejected > 0 ? JOB_PARTIAL : JOB_SUCCESS;
                j->reason[0] = '\0';
                if (j->rows_rejected > 0)
                        snprintf(j->reason, sizeof(j->reason), "%" PRIu64 " row(s) rejected", j->rows_rejected);
                break;
        case READ_FILE_FAILED:
        case READ_WRITE_FAILED:
                j->status = JOB_FAILURE;
                break;
        case READ_GONE:
                return handle_gone(j, env);
        case READ_TRANSIENT:
                j->status = JOB_RETRY;
                return;
        case READ_CANCELLED:
                j->status = JOB_CANCELLED;
                return;
        }
        finish_moved(j, env, report);
}

void job_run(Job *j, const JobEnv *env) {
        j->start_ms = now_ms();
        log_debug_f(env->log, LOG_FIELDS(LOG_STR("BUCKET", j->bucket), LOG_STR("OBJECT_KEY", j->key),
                                         LOG_STR("PIPELINE", j->spec->name)),
                    "Processing s3://%s/%s", j->bucket, j->key);
        if (cancelled(env)) {
                j->status = JOB_CANCELLED;
                snprintf(j->reason, sizeof(j->reason), "cancelled by shutdown");
        } else if (j->receive_count > 0 && j->receive_count > j->config->queue.max_receive_count)
                give_up(j, env);
        else
                process(j, env);
        j->duration_ms = now_ms() - j->start_ms;

        if (env->metrics) {
                MetricsOutcome o = j->status == JOB_SUCCESS ? METRICS_OUTCOME_SUCCESS :
                                   j->status == JOB_PARTIAL ? METRICS_OUTCOME_PARTIAL :
                                   j->status == JOB_FAILURE ? METRICS_OUTCOME_FAILURE :
                                                              METRICS_OUTCOME_SKIPPED;

                metrics_rows(env->metrics, j->spec->name, j->rows_written, j->rows_rejected,
                             j->rows_superseded);
                metrics_bytes_read(env->metrics, j->spec->name, j->bytes_read);
                if (job_status_is_final(j->status))
                        metrics_file_done(env->metrics, j->spec->name, o, (double) j->duration_ms / 1000.0);
        }
}

/* ---- pool glue ---- */

typedef struct Worker {
        JobClients clients;
        AwsMetricsSample sample, write_samples[JOB_WRITE_WINDOW];
        JobEnv env;
} Worker;

int job_clients_init(JobClients *jc, AwsContext *aws, const atomic_bool *cancel, S3bError *err) {
        AwsClient **all[1 + JOB_WRITE_WINDOW];
        int r = 0;

        *jc = (JobClients) {};
        all[0] = &jc->client;
        for (size_t i = 0; i < JOB_WRITE_WINDOW; i++)
                all[1 + i] = &jc->write_clients[i];
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(all); i++) {
                r = aws_client_new(aws, all[i], err);
                if (r >= 0 && cancel)
                        r = aws_client_set_cancel(*all[i], cancel, err);
        }
        if (r < 0)
                job_clients_done(jc);
        return r;
}

void job_clients_done(JobClients *jc) {
        jc->client = aws_client_free(jc->client);
        for (size_t i = 0; i < JOB_WRITE_WINDOW; i++)
                jc->write_clients[i] = aws_client_free(jc->write_clients[i]);
}

void job_clients_env(JobClients *jc, JobEnv *env) {
        env->client = jc->client;
        for (size_t i = 0; i < JOB_WRITE_WINDOW; i++)
                env->write_clients[i] = jc->write_clients[i];
}

static void worker_done(void *ud, void *state) {
        Worker *w = state;

        job_clients_done(&w->clients);
        free(w);
}

static int worker_init(void *ud, unsigned index, void **ret_state) {
        const JobPoolShared *sh = ud;
        Worker *w = calloc(1, sizeof(*w));
        S3bError err = {};
        int r;

        if (!w)
                return -ENOMEM;
        r = job_clients_init(&w->clients, sh->aws, sh->cancel, &err);
        if (r < 0) {
                log_error_errno(sh->log, r, "worker %u: %s", index, err.message);
                free(w);
                return r;
        }
        w->env = (JobEnv) { .log = sh->log, .metrics = sh->metrics, .cancel = sh->cancel };
        job_clients_env(&w->clients, &w->env);
        *ret_state = w;
        return 0;
}

static void worker_run(void *ud, void *state, void *job) {
        Worker *w = state;

        job_run(job, &w->env);
        aws_metrics_report(w->env.metrics, w->clients.client, &w->sample);
        for (size_t i = 0; i < JOB_WRITE_WINDOW; i++)
                aws_metrics_report(w->env.metrics, w->clients.write_clients[i], &w->write_samples[i]);
}

const PoolOps job_pool_ops = { worker_init, worker_done, worker_run };
