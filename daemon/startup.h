/* Startup: what `run`, `process` and `backfill` all do before their work — a Logger, the
 * Config, the AwsContext built from it, and the check that each pipeline's table exists with
 * the configured key schema. Each step logs its own failure and returns a negative errno. */
#pragma once

#include <stdbool.h>

#include "conf/config.h"

typedef struct AwsContext AwsContext;
typedef struct Logger Logger;

/* The start every command that talks to AWS shares (run, process, backfill): a Logger, the
 * Config (logged line by line when invalid), the AwsContext built from it. Each output is set
 * as soon as it exists, so the caller's cleanup frees what a failed start left behind. Returns
 * 0 or the negative errno of the step that failed, which logged why. */
int startup_command(const char *config_path, Logger **ret_log, Config **ret_config, AwsContext **ret_aws);
/* DescribeTable of every pipeline's table: its HASH/RANGE keys must be the pipeline's
 * partition_key/sort_key. A mismatch or a missing table is an error (-EINVAL/-ENOENT). */
int startup_check_tables(Logger *log, const Config *c, AwsContext *aws);

/* GetQueueAttributes of the queue: it must exist and be reachable (-ENOENT, ...). Warns when
 * it has no redrive policy (poison messages would come back forever) or when its
 * maxReceiveCount is not above queue.max_receive_count (the daemon's own give-up, which moves
 * the file to the error bucket, would never be reached). */
/* HeadBucket on every bucket a pipeline touches (inbound buckets named by a match, archive,
 * errors) and GetTopicAttributes on notify.topic_arn: each missing or forbidden one is logged
 * by name. 0, or the first negative errno; every resource is checked either way. */
int startup_check_resources(Logger *log, const Config *c, AwsContext *aws);
/* Part of it, for every inbound bucket: GetBucketNotificationConfiguration, and a WARNING
 * for each pipeline naming the bucket whose keys none of the bucket's ObjectCreated
 * configurations to queue.url sends. Nothing but a debug line when the filter is not known
 * (the call failed or was denied, or the bucket sends nothing to this queue directly). */

/* True when some key starts with both prefixes and ends with both suffixes (S3's filters are
 * case-sensitive; "" matches any key). */
bool startup_filter_overlaps(const char *prefix, const char *suffix, const char *filter_prefix,
                             const char *filter_suffix);
/* True when the SQS queue ARN arn:<partition>:sqs:<region>:<account>:<name> names the queue
 * of queue_url: the same account and name as the URL's path /<account>/<name>, whatever its
 * host (AWS's sqs.<region>.amazonaws.com, a local server's). */
bool startup_queue_is_arn(const char *queue_url, const char *arn);

int startup_check_queue(Logger *log, const Config *c, AwsContext *aws);

/* "s3://bucket/key-or-prefix" → bucket, rest (both malloc'd). -EINVAL when not such a URL. */
int startup_parse_s3_url(const char *url, char **ret_bucket, char **ret_rest);
