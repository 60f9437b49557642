/* Outcome: where a finished file goes and who hears about it.
 *
 *   success  CopyObject to archive.bucket/archive.prefix+key
 *   partial  the same, plus PutObject errors.bucket/errors.prefix+key.rejected.csv
 *   failure  CopyObject to errors.bucket/errors.prefix+key, PutObject …key.error.json
 *            (+ the .rejected.csv when rows were rejected)
 * then one SNS summary (when notify.topic_arn is set and notify.on lets the status through),
 * and last the inbound delete. Each step is pinned to the job's object version: the copy with
 * x-amz-copy-source-if-match (and records the source ETag and sequencer on the copy as
 * x-amz-meta-s3batchd-source-etag / -sequencer, so a redelivery can tell "this version is
 * done" from "another version is there"), the delete with If-Match. Copies and the summary
 * come before the delete, so a crash in between leaves the file in inbound and the redelivery
 * redoes every step; nothing is ever only deleted, and a file gone from inbound was notified.
 *
 * All functions run on the job's worker thread with its AwsClient. They return 0, or a
 * negative errno with err filled; the caller classifies it (errclass.h). */
#pragma once

#include <stddef.h>

#include "common/error.h"
#include "daemon/job.h"
#include "daemon/report.h"

#define OUTCOME_META_ETAG "s3batchd-source-etag"
#define OUTCOME_META_SEQUENCER "s3batchd-source-sequencer"

/* The step of outcome_settle() that failed. */
typedef enum OutcomeStep {
        OUTCOME_STEP_COPY,
        OUTCOME_STEP_REPORT,
        OUTCOME_STEP_NOTIFY,
        OUTCOME_STEP_DELETE,
} OutcomeStep;

/* Moves the file per job->status (SUCCESS/PARTIAL/FAILURE), publishes the summary, deletes
 * the inbound object, and sets job->location and job->report_location. report may be NULL
 * or empty. A delete that finds a newer version (412) or none (404) leaves it be: this
 * version is done. On failure *ret_step says where it stopped. */
int outcome_settle(Job *j, const JobEnv *env, Report *report, OutcomeStep *ret_step, S3bError *err);

/* Positive results of outcome_find_done(). */
enum {
        OUTCOME_FOUND_NONE = 0,         /* no copy, both buckets exist */
        OUTCOME_FOUND_THIS = 1,         /* a copy of this version: job->location set */
        OUTCOME_FOUND_NEWER = 2,        /* a copy of a later upload (by sequencer): job->location */
        OUTCOME_FOUND_OTHER = 3,        /* a copy of some other version (order unknown) */
};

/* The inbound object is gone: looks for a copy in the archive, then the error bucket, and
 * says whose it is. Returns one of OUTCOME_FOUND_*, or a negative errno (-ENOENT with
 * aws_code NoSuchBucket when the archive or error bucket does not exist). */
int outcome_find_done(Job *j, const JobEnv *env, S3bError *err);

/* Publishes the summary if configured and allowed by notify.on; sets job->notified.
 * Returns 0 when published or not wanted. */
int outcome_notify(Job *j, const JobEnv *env, S3bError *err);

/* The JSON summary (SNS message and error.json body). Caller frees. NULL on ENOMEM. */
char *outcome_summary_json(const Job *j);

/* "s3batchd SUCCESS students/2026-11-29.csv": printable ASCII only, < 100 characters (SNS
 * limits: ASCII, no line breaks, under 100), keeping the end of a long key. */
void outcome_subject(const Job *j, char *buf, size_t n);
