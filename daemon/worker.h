/* Worker: what the pool's threads run — each has its own JobClients (with the cancel flag)
 * and DescribeTable cache, runs whole jobs with job_run(), and after each job samples its
 * clients' counters into the metrics (awsmetrics.h).
 *
 *     pool_new(n, &job_pool_ops, &shared, …)
 *
 * with a JobPoolShared that outlives the pool. */
#pragma once

#include <stdatomic.h>

typedef struct AwsContext AwsContext;
typedef struct FlowCtl FlowCtl;
typedef struct Logger Logger;
typedef struct Metrics Metrics;

typedef struct JobPoolShared {
        AwsContext *aws;
        FlowCtl *flow;                  /* may be NULL */
        Logger *log;
        Metrics *metrics;               /* may be NULL */
        const atomic_bool *cancel;
} JobPoolShared;

extern const struct PoolOps job_pool_ops;
