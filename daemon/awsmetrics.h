/* AwsMetrics: turns an AwsClient's cumulative counters into metrics updates.
 *
 * Clients count every attempt on their own (common/ has no idea of metrics); the daemon
 * samples them — after each job for a worker's clients, on the metrics timer for the loop's
 * and the receiver's — and hands the difference since the previous sample to
 * metrics_aws_request(). One AwsMetricsSample per client, owned by whoever samples it. */
#pragma once

#include "common/aws/client.h"
#include "daemon/metrics.h"

typedef struct AwsMetricsSample {
        AwsClientStats last;
} AwsMetricsSample;

/* Reports what client did since *sample and updates *sample. m may be NULL (no-op). */
void aws_metrics_report(Metrics *m, AwsClient *client, AwsMetricsSample *sample);

/* The same from a snapshot already taken (tests, or a client of another thread). */
void aws_metrics_report_stats(Metrics *m, const AwsClientStats *now, AwsMetricsSample *sample);
