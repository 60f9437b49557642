/* Metrics: counters the workers and the main loop update, rendered in the Prometheus text
 * exposition format and written as a node_exporter textfile-collector file (*.prom).
 *
 * Series (all prefixed s3batchd_):
 *   files_total{pipeline,outcome}          counter  outcome: success|partial|failure|skipped
 *   rows_total{pipeline,result}            counter  result: written|rejected|superseded
 *   bytes_read_total{pipeline}             counter  object bytes read from S3 (compressed)
 *   sqs_messages_total{result}             counter  received|deleted|released|poison|test|
 *                                                   extend_failed
 *   config_errors_total{pipeline}          counter  jobs that hit a missing resource / denied access
 *   degraded{source}                       gauge    1 while sqs|jobs|startup is in trouble
 *   aws_requests_total{service,code}       counter  every attempt; code "OK" or the AWS/HTTP
 *   aws_retries_total{service,code}        counter  error code that caused a retry
 *   table_consumed_wcu_total{table}        counter  write capacity units consumed (as reported)
 *   table_throttles_total{table}           counter  throttled BatchWriteItem calls and
 *                                                   mostly-unprocessed batches
 *   table_write_rate_wcu{table}            gauge    the flow limiter's rate now (0 = unlimited)
 *   table_write_budget_wcu{table}          gauge    this process's write budget (0 = none)
 *   jobs_in_flight                         gauge
 *   job_duration_seconds                   histogram
 *   start_time_seconds                     gauge    (unix time of metrics_new)
 *   build_info{version}                    gauge    1
 * Labels come from configuration (pipeline names) or from small fixed sets; an AWS error code
 * is a label only if it looks like one ([A-Za-z0-9._:-], ≤ 64) and while fewer than
 * METRICS_MAX_SERIES codes were seen, otherwise "other" — a hostile server cannot blow up the
 * cardinality. Object keys, buckets and anything secret are never labels.
 *
 * Thread-safe: every update takes one mutex for a few instructions (updates are per request or
 * per job, not per row), so a render is a consistent snapshot. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/util.h"

#define METRICS_MAX_SERIES 128u         /* per labelled family */

typedef enum MetricsOutcome {
        METRICS_OUTCOME_SUCCESS,
        METRICS_OUTCOME_PARTIAL,
        METRICS_OUTCOME_FAILURE,
        METRICS_OUTCOME_SKIPPED,
        _METRICS_OUTCOME_MAX,
} MetricsOutcome;

typedef enum MetricsMessage {
        METRICS_MESSAGE_RECEIVED,
        METRICS_MESSAGE_DELETED,
        METRICS_MESSAGE_RELEASED,       /* made visible again (shutdown, transient failure) */
        METRICS_MESSAGE_POISON,
        METRICS_MESSAGE_TEST,
        METRICS_MESSAGE_EXTEND_FAILED,  /* a visibility extension that failed (redone) */
        _METRICS_MESSAGE_MAX,
} MetricsMessage;

typedef struct Metrics Metrics;

int metrics_new(Metrics **ret);                 /* 0 or -ENOMEM */
Metrics *metrics_free(Metrics *m);
DEFINE_CLEANUP_FUNC(Metrics *, metrics_free);

/* pipeline: the pipeline name, or NULL/"" for a file no pipeline matched (label "none").
 * duration_seconds feeds job_duration_seconds, except for METRICS_OUTCOME_SKIPPED. */
void metrics_file_done(Metrics *m, const char *pipeline, MetricsOutcome outcome,
                       double duration_seconds);
void metrics_rows(Metrics *m, const char *pipeline, uint64_t written, uint64_t rejected,
                  uint64_t superseded);
void metrics_bytes_read(Metrics *m, const char *pipeline, uint64_t n);
void metrics_message(Metrics *m, MetricsMessage what, uint64_t n);
/* One attempt of an AWS call. service: "s3", "sqs", "dynamodb", "sns", "sts", "imds", ...
 * code: NULL/"" on success (label "OK"), else the AWS error code or e.g. "HTTP503"/"Timeout".
 * retried: this failed attempt will be retried (also counts aws_retries_total). */
void metrics_aws_request(Metrics *m, const char *service, const char *code, bool retried);
void metrics_jobs_in_flight_add(Metrics *m, int delta);
/* Writes to one DynamoDB table (a configured name): adds consumed WCU and throttles, sets
 * the limiter's current rate and budget (flowctl.h; 0 = unlimited / none). */
void metrics_table_writes(Metrics *m, const char *table, double consumed_wcu, uint64_t throttles,
                          double rate, double budget);
void metrics_config_error(Metrics *m, const char *pipeline);

typedef enum MetricsDegraded {
        METRICS_DEGRADED_SQS,           /* receives or SQS calls failing */
        METRICS_DEGRADED_JOBS,          /* jobs ending in RETRY / CONFIG_ERROR */
        METRICS_DEGRADED_STARTUP,       /* waiting for the startup checks */
        _METRICS_DEGRADED_MAX,
} MetricsDegraded;
void metrics_set_degraded(Metrics *m, MetricsDegraded what, bool on);

/* Appends the exposition text to out. Returns 0 or -ENOBUFS/-ENOMEM from the Buf. */
int metrics_render(Metrics *m, Buf *out);
/* Renders and replaces path atomically: a temporary file in the same directory (never named
 * *.prom, so the collector never reads half a file), mode 0644, fsync, rename over path.
 * Returns 0 or a negative errno with err filled; path is untouched on failure. */
int metrics_write_file(Metrics *m, const char *path, S3bError *err);

/* Appends v escaped for a label value (\\, \", \n) to out. */
int metrics_escape_label(Buf *out, const char *v);
