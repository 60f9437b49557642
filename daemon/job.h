/* Job: one version of one S3 object taken from inbound to a final outcome.
 *
 * The order of the steps is what makes at-least-once delivery safe (docs/DESIGN.md,
 * "Invariants"): rows written → file copied to archive or error bucket (+ report or
 * error.json) → SNS summary → inbound object deleted. Every step is idempotent, so a crash
 * between two of them leads to a redelivery that redoes the work with the same keys; the
 * delete comes last, so a file gone from inbound had its summary published.
 *
 * Version safety: the job carries the ETag (and versionId, sequencer) of the event, and every
 * S3 call is pinned to it (If-Match, x-amz-copy-source-if-match, a conditional delete). When a
 * newer upload replaced the object the job ends SUPERSEDED without touching the newer one;
 * if its own rows may have landed after the newer version's, it writes the newer version's
 * rows again. A redelivered event whose inbound object is gone but whose archive or error
 * copy was made from this ETag is recognised as done (JOB_DONE_BEFORE).
 *
 * A Job is created by the main loop (or `process`/`backfill`), run whole by one worker with
 * job_run(), and handed back; job_run() fills the result part. The job holds a reference on
 * the Config it was created with, so a SIGHUP never changes a running job's settings. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/time-util.h"
#include "common/util.h"
#include "conf/config.h"
#include "daemon/status.h"

typedef struct AwsClient AwsClient;
typedef struct FlowCtl FlowCtl;
typedef struct JobClients JobClients;
typedef struct Logger Logger;
typedef struct Metrics Metrics;
typedef struct TableCache TableCache;

typedef struct Job {
        /* input */
        Config *config;                 /* reference held */
        const PipelineSpec *spec;       /* inside config */
        char *bucket;
        char *key;
        char *etag;                     /* from the event, "" when unknown */
        char *version_id;               /* from the event, "" in unversioned buckets */
        char *sequencer;                /* from the event, "" when unknown */
        int64_t size;                   /* bytes, from the event; -1 when unknown */
        char event_id[33];              /* stable id of (bucket, key, ETag, version, sequencer) */
        unsigned receive_count;         /* ApproximateReceiveCount, 0 when not from SQS */
        void *owner;                    /* the caller's (e.g. the SQS message); never touched */
        usec_t start_usec;              /* CLOCK_MONOTONIC when job_run began */

        /* result */
        JobStatus status;
        uint64_t rows_total;
        uint64_t rows_written;
        uint64_t rows_rejected;
        uint64_t rows_superseded;
        uint64_t rows_repaired;         /* rows of a newer version written again (SUPERSEDED) */
        uint64_t bytes_read;
        double consumed_wcu;            /* write capacity units the writes consumed */
        uint64_t duration_ms;
        char *location;                 /* s3://… where the file went (archive or error), or NULL */
        char *report_location;          /* s3://…<key>.rejected.csv or …error.json, or NULL */
        bool notified;                  /* SNS summary published */
        char reason[512];               /* why FAILURE/RETRY/GONE…, "" on success */
} Job;

/* Copies bucket/key/etag and takes a config reference. spec must belong to config. */
Job *job_new(Config *config, const PipelineSpec *spec, const char *bucket, const char *key,
             const char *etag);
/* The rest of the event's identity of the object (either may be NULL): -ENOMEM or 0. */
int job_set_event(Job *j, const char *version_id, const char *sequencer);

Job *job_free(Job *j);
DEFINE_CLEANUP_FUNC(Job *, job_free);

/* What a worker thread lends a job while it runs. */
typedef struct JobEnv {
        AwsClient *client;              /* the worker's own: S3 (the streamed GET), SNS */
        /* Its owner, for one client per writer lane for the BatchWriteItem calls, which run
         * while the GET streams (one HTTP handle cannot run two transfers at once) and in
         * parallel (job_clients_write(), jobclients.h). */
        JobClients *clients;
        /* The process's per-table write limiters (flowctl.h); NULL = no flow control. */
        FlowCtl *flow;
        Logger *log;
        Metrics *metrics;               /* may be NULL */
        const atomic_bool *cancel;      /* shutdown grace over: abort transfers */
        /* The worker's DescribeTable answers (tablecache.h), asked with `client` before the
         * read: the table's key and index rules become row rules. NULL = none (only the
         * pipeline's own key is checked). */
        TableCache *tables;
} JobEnv;

/* Runs every step; never fails as a call — the outcome is in job->status. */
void job_run(Job *j, const JobEnv *env);

/* What a failed read of j's object means, from the part that failed (the single stream's, or
 * one split range's, daemon/split.c): too many rejects, then the DynamoDB write (write_err,
 * NULL if it did not fail), then the file's content (ingest_err, likewise), else err (the
 * S3 read). true: the file is bad, j->reason says why; false: AWS failed, *ret_err says how. */
bool job_read_failure(Job *j, bool too_many_rejects, const S3bError *write_err, const S3bError *ingest_err,
                      const S3bError *err, S3bError *ret_err);
