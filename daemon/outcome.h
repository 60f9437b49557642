/* Outcome: where a finished file goes and who hears about it.
 *
 *   success  CopyObject to archive.bucket/archive.prefix+key, DeleteObject inbound
 *   partial  the same, plus PutObject errors.bucket/errors.prefix+key.rejected.csv
 *   failure  CopyObject to errors.bucket/errors.prefix+key, PutObject …key.error.json
 *            (+ the .rejected.csv when rows were rejected), DeleteObject inbound
 * then one SNS summary when notify.topic_arn is set and notify.on lets the status through.
 * Copies come before the inbound delete, so a crash in between leaves the file in both
 * places and the redelivery redoes it; nothing is ever only deleted.
 *
 * All functions run on the job's worker thread with its AwsClient. They return 0, or a
 * negative errno with err filled; the caller turns failures into JOB_RETRY. */
#pragma once

#include <stddef.h>

#include "common/error.h"
#include "daemon/job.h"
#include "daemon/report.h"

/* Moves the file per job->status (SUCCESS/PARTIAL/FAILURE) and sets job->location and
 * job->report_location. report may be NULL or empty. */
int outcome_settle(Job *j, const JobEnv *env, Report *report, S3bError *err);

/* The inbound object is gone: looks for it in the archive, then the error bucket. Returns 1
 * (found: job->location set), 0 (not found), or a negative errno. */
int outcome_find_done(Job *j, const JobEnv *env, S3bError *err);

/* Publishes the summary if configured and allowed by notify.on; sets job->notified.
 * Returns 0 when published or not wanted. */
int outcome_notify(Job *j, const JobEnv *env, S3bError *err);

/* The JSON summary (SNS message and error.json body). Caller frees. NULL on ENOMEM. */
char *outcome_summary_json(const Job *j);

/* "s3batchd SUCCESS students/2026-11-29.csv": printable ASCII only, < 100 characters (SNS
 * limits: ASCII, no line breaks, under 100), keeping the end of a long key. */
void outcome_subject(const Job *j, char *buf, size_t n);
