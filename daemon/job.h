/* Job: one S3 object taken from inbound to a final outcome.
 *
 * The order of the steps is what makes at-least-once delivery safe (docs/DESIGN.md,
 * "Invariants"): rows written → file copied to archive or error bucket (+ report or
 * error.json) → inbound object deleted → SNS summary. Every step is idempotent, so a crash
 * between two of them leads to a redelivery that redoes the work with the same keys. A
 * redelivered event whose inbound object is already gone but present in the archive or error
 * bucket is recognised as done (JOB_DONE_BEFORE) and nothing is written or notified again.
 *
 * A Job is created by the main loop (or `process`/`backfill`), run whole by one worker with
 * job_run(), and handed back; job_run() fills the result part. The job holds a reference on
 * the Config it was created with, so a SIGHUP never changes a running job's settings. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/util.h"
#include "conf/config.h"

/* BatchWriteItem calls in flight per job (writer.h). One round trip per batch bounds a single
 * file otherwise; measured in docs/DESIGN.md, "The job". */
#ifndef JOB_WRITE_WINDOW        /* -DJOB_WRITE_WINDOW=1 builds the synchronous writer, to compare */
#define JOB_WRITE_WINDOW 4
#endif

typedef struct AwsClient AwsClient;
typedef struct Logger Logger;
typedef struct Metrics Metrics;

typedef enum JobStatus {
        JOB_PENDING,
        JOB_SUCCESS,            /* all rows written, file archived */
        JOB_PARTIAL,            /* valid rows written, file archived, report in error bucket */
        JOB_FAILURE,            /* file moved to the error bucket with <key>.error.json */
        JOB_DONE_BEFORE,        /* inbound gone, found in archive/error: an earlier run finished */
        JOB_GONE,               /* inbound gone and not found anywhere: nothing to do */
        JOB_RETRY,              /* transient trouble (network, 5xx, credentials): redeliver */
        JOB_CANCELLED,          /* stopped by shutdown before finishing: redeliver */
        JOB_SUPERSEDED,         /* a newer upload replaced the object: ends without touching it */
        JOB_CONFIG_ERROR,       /* a resource is missing or access denied: file and message stay */
        _JOB_STATUS_MAX,
} JobStatus;

/* Whether the SQS record is finished (its message may be deleted once all records are). */
static inline bool job_status_is_final(JobStatus s) {
        return s == JOB_SUCCESS || s == JOB_PARTIAL || s == JOB_FAILURE || s == JOB_DONE_BEFORE ||
               s == JOB_GONE || s == JOB_SUPERSEDED;
}

const char *job_status_to_string(JobStatus s);   /* "SUCCESS", "PARTIAL", "FAILURE", ... */

typedef struct Job {
        /* input */
        Config *config;                 /* reference held */
        const PipelineSpec *spec;       /* inside config */
        char *bucket;
        char *key;
        char *etag;                     /* from the event, "" when unknown */
        unsigned receive_count;         /* ApproximateReceiveCount, 0 when not from SQS */
        void *owner;                    /* the caller's (e.g. the SQS message); never touched */
        uint64_t start_ms;              /* CLOCK_MONOTONIC when job_run began */

        /* result */
        JobStatus status;
        uint64_t rows_total;
        uint64_t rows_written;
        uint64_t rows_rejected;
        uint64_t rows_superseded;
        uint64_t bytes_read;
        uint64_t duration_ms;
        char *location;                 /* s3://… where the file went (archive or error), or NULL */
        char *report_location;          /* s3://…<key>.rejected.csv or …error.json, or NULL */
        bool notified;                  /* SNS summary published */
        char reason[512];               /* why FAILURE/RETRY/GONE…, "" on success */
} Job;

/* Copies bucket/key/etag and takes a config reference. spec must belong to config. */
Job *job_new(Config *config, const PipelineSpec *spec, const char *bucket, const char *key,
             const char *etag);
Job *job_free(Job *j);
DEFINE_CLEANUP_FUNC(Job *, job_free);

/* What a worker thread lends a job while it runs. */
typedef struct JobEnv {
        AwsClient *client;              /* the worker's own: S3 (the streamed GET), SNS */
        /* One client per writer lane for the BatchWriteItem calls, which run while the GET
         * streams (one HTTP handle cannot run two transfers at once) and in parallel. */
        AwsClient *write_clients[JOB_WRITE_WINDOW];
        Logger *log;
        Metrics *metrics;               /* may be NULL */
        const atomic_bool *cancel;      /* shutdown grace over: abort transfers */
} JobEnv;

/* Runs every step; never fails as a call — the outcome is in job->status. */
void job_run(Job *j, const JobEnv *env);

/* Pool callbacks that give each worker thread its own AwsClient (with the cancel flag) and run
 * jobs: pool_new(n, &job_pool_ops, &shared, ...) with a JobPoolShared that outlives the pool. */
typedef struct AwsContext AwsContext;
typedef struct JobPoolShared {
        AwsContext *aws;
        Logger *log;
        Metrics *metrics;
        const atomic_bool *cancel;
} JobPoolShared;
extern const struct PoolOps job_pool_ops;

/* The clients a JobEnv needs, all with the cancel flag (may be NULL): a JobClients owns them
 * and job_clients_env() lends them. */
typedef struct JobClients {
        AwsClient *client;
        AwsClient *write_clients[JOB_WRITE_WINDOW];
} JobClients;
int job_clients_init(JobClients *jc, AwsContext *aws, const atomic_bool *cancel, S3bError *err);
void job_clients_done(JobClients *jc);
void job_clients_env(JobClients *jc, JobEnv *env);
