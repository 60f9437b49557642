/* JobClients: the AWS clients one job runs on — the worker's own (S3, SNS) and one per writer
 * lane for the BatchWriteItem calls, which run while the GET streams (one HTTP handle cannot
 * run two transfers at once) and in parallel. A worker thread owns one (daemon/worker.c),
 * `process` one of its own, and lends them to its JobEnv
 * (.client = the worker's own, .clients = the set). Every client gets the
 * cancel flag, so shutdown aborts their transfers. */
#pragma once

#include <stdatomic.h>

#include "common/error.h"
#include "daemon/job.h"
#include "daemon/writer.h"

/* BatchWriteItem calls in flight per job at most (writer.h; the pipeline's
 * write_concurrency, adaptive by default). One round trip per batch bounds a single file
 * otherwise; measured in docs/DESIGN.md, "The job". Each lane has its own HTTP client,
 * created the first time the lane is used. */
#define JOB_WRITE_LANES_MAX 32

typedef struct AwsClient AwsClient;
typedef struct AwsContext AwsContext;

typedef struct JobClients {
        AwsClient *client;
        AwsClient *write_clients[JOB_WRITE_LANES_MAX];  /* created on first use */
        AwsContext *aws;                                /* borrowed, for those */
        const atomic_bool *cancel;                      /* borrowed; may be NULL */
} JobClients;

int job_clients_init(JobClients *jc, AwsContext *aws, const atomic_bool *cancel, S3bError *err);
void job_clients_done(JobClients *jc);
/* The client of writer lane `lane`, created on its first call. Only that lane's thread
 * calls this for that lane. NULL with err filled on failure. */
AwsClient *job_clients_write(JobClients *jc, unsigned lane, S3bError *err);

/* What a writer writes to: one table, through a job's lane clients. Both stay borrowed. */
typedef struct JobWriteTarget {
        JobClients *clients;
        const char *table;
} JobWriteTarget;

/* The writer's adapter for a JobWriteTarget (pass the target as the writer's userdata): one
 * BatchWriteItem attempt per call on the lane's own client, so the writer retries and its
 * flow limiter sees every throttle; backoff is the client's full-jitter policy, and every
 * sleep ends early on shutdown. Shared by the single stream (job.c) and the split reader's
 * ranges (split.c). */
extern const WriterOps job_write_ops;

/* The writer of one job's rows into target (borrowed; it must outlive the writer): the
 * pipeline's write window and batch attempts, and the table's flow limiter. `shares` writers
 * write one job at once (the split reader's ranges, else 1): they divide its window — a fixed
 * window as evenly as it goes, at least 1 each; the adaptive ceiling likewise — so a split
 * file has no more batches in flight, and no more lane threads, than a streamed one. NULL on
 * ENOMEM. */
Writer *job_writer_new(const Job *j, const JobEnv *env, JobWriteTarget *target, unsigned shares);
/* Per-table write metrics after a writer ends: what it consumed and was throttled, and the
 * limiter's rate and budget now. No-op without env->metrics. */
void job_report_writes(const Job *j, const JobEnv *env, const WriterStats *ws);
