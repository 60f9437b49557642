/* Shared start of the daemon commands. See startup.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/client.h"
#include "common/aws/dynamodb.h"
#include "common/aws/s3.h"
#include "common/aws/sns.h"
#include "common/aws/sqs.h"
#include "common/buf.h"
#include "common/log.h"
#include "daemon/startup.h"

static int startup_logger(Logger **ret) {
        int r = logger_new("s3batchd", LOG_TARGET_AUTO, -1, LOG_INFO, ret);
        if (r < 0)
                fprintf(stderr, "s3batchd: cannot set up logging: %s\n", strerror(-r));
        return r;
}

static int startup_config(Logger *log, const char *path, Config **ret) {
        ConfigDiag diag = {};
        int r;

        r = config_load(path, ret, &diag);
        if (r < 0) {
                log_error(log, "Invalid configuration %s:", path);
                for (size_t i = 0; i < diag.n_lines; i++)
                        log_error(log, "%s", diag.lines[i]);
        } else
                logger_set_max_level(log, (int) (*ret)->log_level);
        config_diag_done(&diag);
        return r;
}

static int startup_aws(Logger *log, const Config *c, AwsContext **ret) {
        AwsContextOptions o = {
                .region = c->aws.region,
                .profile = c->aws.profile,
                .endpoint_sqs = c->aws.endpoint_sqs,
                .endpoint_s3 = c->aws.endpoint_s3,
                .endpoint_dynamodb = c->aws.endpoint_dynamodb,
                .endpoint_sns = c->aws.endpoint_sns,
                .ca_file = c->aws.ca_bundle,
                .max_attempts = c->aws.max_attempts,
                .connect_timeout_ms = c->aws.connect_timeout_ms,
                .request_timeout_ms = c->aws.request_timeout_ms,
        };
        S3Options s3 = { .force_path_style = c->aws.s3_force_path_style };
        DynamoOptions ddb = { .max_attempts_batch = c->aws.max_attempts_batch };
        S3bError err = {};
        int r;

        s3_options_set(&o, &s3);
        dynamodb_options_set(&o, &ddb);
        r = aws_context_new(&o, ret, &err);
        if (r < 0)
                return log_error_errno(log, r, "AWS setup: %s", err.message);
        if (aws_context_ca_file(*ret))
                log_info(log, "HTTPS: trusting the CA bundle %s instead of the system's",
                         aws_context_ca_file(*ret));
        return 0;
}

int startup_command(const char *config_path, Logger **ret_log, Config **ret_config, AwsContext **ret_aws) {
        int r;

        r = startup_logger(ret_log);
        if (r < 0)
                return r;
        r = startup_config(*ret_log, config_path, ret_config);
        if (r < 0)
                return r;
        return startup_aws(*ret_log, *ret_config, ret_aws);
}

/* The pipeline must fit its table: key names and the S/N types of the key and of every
 * secondary index key attribute it writes (table_shape_check_spec()). A type mismatch would
 * make DynamoDB refuse every row with a value for that attribute, so it is a configuration
 * error found here, not thousands of rejected rows later. Empty or oversized values are
 * decided row by row (schema.c). */
static int check_table(Logger *log, AwsClient *client, const PipelineSpec *p) {
        _cleanup_free_ TableShape *shape = calloc(1, sizeof(*shape));
        S3bError err = {};
        int r;

        if (!shape)
                return log_error_errno(log, -ENOMEM, "Out of memory");
        r = dynamodb_describe_table(client, p->table, shape, &err);
        if (r < 0)
                return log_error_errno(log, r, "Pipeline %s: DescribeTable %s: %s", p->name, p->table,
                                       err.message);
        r = table_shape_check_spec(shape, p, &err);
        if (r < 0) {
                log_error(log, "%s", err.message);
                return r;
        }
        return 0;
}

int startup_check_tables(Logger *log, const Config *c, AwsContext *aws) {
        _cleanup_(aws_client_freep) AwsClient *client = NULL;
        S3bError err = {};
        int r, ret = 0;

        r = aws_client_new(aws, &client, &err);
        if (r < 0)
                return log_error_errno(log, r, "AWS client: %s", err.message);
        for (size_t i = 0; i < c->n_pipelines; i++) {
                r = check_table(log, client, &c->pipelines[i]);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

/* Adds b to the set (n of max) unless it is there already or NULL. */
static void add_bucket(const char **set, size_t *n, size_t max, const char *b) {
        if (!b || *n >= max)
                return;
        for (size_t i = 0; i < *n; i++)
                if (strcmp(set[i], b) == 0)
                        return;
        set[(*n)++] = b;
}

static int check_bucket(Logger *log, AwsClient *client, const char *bucket, const char *role) {
        S3bError err = {};
        int r;

        r = s3_head_bucket(client, bucket, &err);
        if (r == -ENOENT)
                return log_error_errno(log, r, "Bucket %s (%s) does not exist", bucket, role);
        if (r == -EACCES)
                return log_error_errno(log, r, "Bucket %s (%s) is not ours to use: access denied "
                                       "(the policy needs s3:ListBucket on it): %s", bucket, role,
                                       err.message);
        if (r < 0)
                return log_error_errno(log, r, "Bucket %s (%s): %s", bucket, role, err.message);
        return 0;
}

static bool starts_with(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);

        return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

bool startup_filter_overlaps(const char *prefix, const char *suffix, const char *filter_prefix,
                             const char *filter_suffix) {
        /* Some key has both prefixes and both suffixes iff one prefix extends the other and
         * one suffix extends the other: such a key is the longer prefix, then the longer
         * suffix. */
        return (starts_with(prefix, filter_prefix) || starts_with(filter_prefix, prefix)) &&
               (ends_with(suffix, filter_suffix) || ends_with(filter_suffix, suffix));
}

/* The last two path segments of a queue URL, "/<account>/<name>", whatever the host:
 * https://sqs.us-east-1.amazonaws.com/123456789012/q, the legacy
 * https://us-east-1.queue.amazonaws.com/123456789012/q, or a local server's
 * http://sqs.us-east-1.localhost:PORT/000000000000/q. */
static bool queue_url_parts(const char *url, const char **account, size_t *account_len,
                            const char **name, size_t *name_len) {
        const char *p = strstr(url, "://"), *slash;

        if (!p)
                return false;
        p = strchr(p + 3, '/');                 /* the path, after the host */
        if (!p)
                return false;
        *account = p + 1;
        slash = strchr(*account, '/');
        if (!slash)
                return false;
        *account_len = (size_t) (slash - *account);
        *name = slash + 1;
        *name_len = strcspn(*name, "/?#");
        return *account_len > 0 && *name_len > 0 && (*name)[*name_len] != '/';
}

bool startup_queue_is_arn(const char *queue_url, const char *arn) {
        const char *account, *name, *f[6];
        size_t account_len, name_len, n = 0;

        if (!queue_url || !arn || !queue_url_parts(queue_url, &account, &account_len, &name, &name_len))
                return false;
        /* arn:<partition>:sqs:<region>:<account>:<name> */
        for (const char *p = arn; n < ELEMENTSOF(f); n++) {
                f[n] = p;
                p = strchr(p, ':');
                if (!p)
                        break;
                p++;
        }
        if (n != 5 || !starts_with(arn, "arn:") || strncmp(f[2], "sqs:", 4) != 0)
                return false;
        return (size_t) (f[5] - f[4] - 1) == account_len &&
               memcmp(f[4], account, account_len) == 0 && strlen(f[5]) == name_len &&
               memcmp(f[5], name, name_len) == 0;
}

/* Whether some configuration of ours (ObjectCreated, to our queue) sends p's keys. A filter
 * value with '%' may be URL-encoded (the S3 console asks for special characters so): it is
 * not compared, and counts as reaching. */
static bool pipeline_reached(const PipelineSpec *p, const S3NotificationConfig *nc,
                             const char *queue_url) {
        _cleanup_free_ char *gz = NULL;

        /* without memory the .gz variant is left out: no pipeline is called unreachable for it */
        if (p->csv.compression != COMPRESSION_NONE && asprintf(&gz, "%s.gz", p->match_suffix) < 0) {
                gz = NULL;
                return true;
        }
        for (size_t i = 0; i < nc->n_queues; i++) {
                const S3QueueNotification *q = &nc->queues[i];

                if (!startup_queue_is_arn(queue_url, q->queue_arn) ||
                    !s3_queue_notification_object_created(q))
                        continue;
                if (strchr(q->prefix, '%') || strchr(q->suffix, '%'))
                        return true;
                if (startup_filter_overlaps(p->match_prefix, p->match_suffix, q->prefix, q->suffix))
                        return true;
                /* x.csv.gz is this pipeline's when it reads gzip (spec.h, PIPELINE_MATCH_GZIP) */
                if (gz && startup_filter_overlaps(p->match_prefix, gz, q->prefix, q->suffix))
                        return true;
        }
        return false;
}

static void describe_filter(Buf *b, const char *prefix, const char *suffix) {
        if (*prefix)
                (void) buf_printf(b, "prefix %s", prefix);
        if (*suffix)
                (void) buf_printf(b, "%ssuffix %s", *prefix ? " and " : "", suffix);
        if (!*prefix && !*suffix)
                (void) buf_append_str(b, "no key");
}

/* "suffix .csv; suffix .csv.gz" for our queue's configurations; what does not fit a log line
 * is left out. */
static void describe_our_filters(Buf *b, const S3NotificationConfig *nc, const char *queue_url) {
        for (size_t i = 0; i < nc->n_queues; i++) {
                const S3QueueNotification *q = &nc->queues[i];

                if (!startup_queue_is_arn(queue_url, q->queue_arn))
                        continue;
                if (b->len > 0)
                        (void) buf_append_str(b, "; ");
                describe_filter(b, q->prefix, q->suffix);
                if (!s3_queue_notification_object_created(q))
                        (void) buf_append_str(b, " (no ObjectCreated event)");
        }
}

/* The bucket's notification filter against every pipeline that names the bucket: a WARNING
 * for a pipeline whose keys no configuration to our queue sends. Only when the filter is
 * known — the call may be denied (s3:GetBucketNotification), the events may come through an
 * SNS topic or EventBridge — and never an error: the bucket's configuration may change
 * after we looked. Pipelines without a bucket may be fed by any bucket, so they are not
 * judged. */
static void check_notification(Logger *log, AwsClient *client, const Config *c,
                               const char *bucket) {
        _cleanup_(s3_notification_config_done) S3NotificationConfig nc = {};
        Buf filters = BUF_INIT(2048);
        S3bError err = {};
        size_t ours = 0;
        int r;

        r = s3_get_bucket_notification(client, bucket, &nc, &err);
        if (r < 0) {
                log_debug(log, "Bucket %s: notification filter not known (%s): pipelines are not "
                          "checked against it", bucket, err.message);
                return;
        }
        for (size_t i = 0; i < nc.n_queues; i++)
                ours += startup_queue_is_arn(c->queue.url, nc.queues[i].queue_arn);
        if (ours == 0) {
                log_debug(log, "Bucket %s sends no notification to queue %s itself (%zu to other "
                          "queues, %zu to topics, %zu to functions%s): notification filter not known",
                          bucket, c->queue.url, nc.n_queues, nc.n_topics, nc.n_functions,
                          nc.eventbridge ? ", EventBridge on" : "");
                return;
        }
        describe_our_filters(&filters, &nc, c->queue.url);
        for (size_t i = 0; i < c->n_pipelines; i++) {
                const PipelineSpec *p = &c->pipelines[i];
                Buf match = BUF_INIT(2100);

                if (!p->match_bucket || strcmp(p->match_bucket, bucket) != 0 ||
                    pipeline_reached(p, &nc, c->queue.url))
                        continue;
                describe_filter(&match, p->match_prefix, p->match_suffix);
                if (p->csv.compression != COMPRESSION_NONE && *p->match_suffix)
                        (void) buf_printf(&match, " or %s.gz", p->match_suffix);
                log_warning_f(log, LOG_FIELDS(LOG_STR("BUCKET", bucket), LOG_STR("PIPELINE", p->name)),
                              "Pipeline %s (%s) is never notified: bucket %s's notification to "
                              "this queue filters %s", p->name, buf_str(&match), bucket,
                              buf_str(&filters));
                buf_done(&match);
        }
        buf_done(&filters);
}

int startup_check_resources(Logger *log, const Config *c, AwsContext *aws) {
        _cleanup_(aws_client_freep) AwsClient *client = NULL;
        const char *inbound[64];
        size_t n_inbound = 0;
        S3bError err = {};
        int r, ret = 0;

        r = aws_client_new(aws, &client, &err);
        if (r < 0)
                return log_error_errno(log, r, "AWS client: %s", err.message);
        for (size_t i = 0; i < c->n_pipelines; i++)
                add_bucket(inbound, &n_inbound, ELEMENTSOF(inbound), c->pipelines[i].match_bucket);
        for (size_t i = 0; i < n_inbound; i++) {
                r = check_bucket(log, client, inbound[i], "inbound");
                if (r >= 0)
                        check_notification(log, client, c, inbound[i]);
                ret = ret < 0 ? ret : r;
        }
        r = check_bucket(log, client, c->archive.bucket, "archive.bucket");
        ret = ret < 0 ? ret : r;
        if (strcmp(c->errors.bucket, c->archive.bucket) != 0) {
                r = check_bucket(log, client, c->errors.bucket, "errors.bucket");
                ret = ret < 0 ? ret : r;
        }
        if (c->notify.topic_arn) {
                r = sns_check_topic(client, c->notify.topic_arn, &err);
                if (r == -ENOENT)
                        r = log_error_errno(log, r, "Topic %s (notify.topic_arn) does not exist",
                                            c->notify.topic_arn);
                else if (r < 0)
                        r = log_error_errno(log, r, "Topic %s (notify.topic_arn): %s",
                                            c->notify.topic_arn, err.message);
                ret = ret < 0 ? ret : r;
        }
        return ret;
}

int startup_check_queue(Logger *log, const Config *c, AwsContext *aws) {
        static const char *const names[] = { "RedrivePolicy", "VisibilityTimeout" };
        _cleanup_(aws_client_freep) AwsClient *client = NULL;
        SqsQueueAttribute *attrs = NULL;
        const char *redrive;
        size_t n = 0;
        S3bError err = {};
        int r;

        r = aws_client_new(aws, &client, &err);
        if (r < 0)
                return log_error_errno(log, r, "AWS client: %s", err.message);
        r = sqs_get_queue_attributes(client, c->queue.url, names, ELEMENTSOF(names), &attrs, &n, &err);
        if (r < 0)
                return log_error_errno(log, r, "Queue %s: %s", c->queue.url, err.message);

        redrive = sqs_queue_attribute(attrs, n, "RedrivePolicy");
        if (!redrive || !redrive[0])
                log_warning(log, "Queue %s has no redrive policy: a poison message will be received "
                            "again and again; give it a dead-letter queue", c->queue.url);
        else {
                const char *p = strstr(redrive, "maxReceiveCount");
                unsigned long max = 0;

                /* {"deadLetterTargetArn":"…","maxReceiveCount":5} (the count may be quoted) */
                if (p) {
                        p += strlen("maxReceiveCount");
                        p += strspn(p, "\": ");
                        max = strtoul(p, NULL, 10);
                }
                if (max > 0 && max <= c->queue.max_receive_count)
                        log_warning(log, "Queue %s moves messages to its dead-letter queue after %lu "
                                    "receives, before queue.max_receive_count (%u) lets s3batchd give "
                                    "up on the file itself", c->queue.url, max, c->queue.max_receive_count);
        }
        sqs_queue_attributes_free(attrs, n);
        return 0;
}

int startup_parse_s3_url(const char *url, char **ret_bucket, char **ret_rest) {
        const char *b, *slash;
        char *bucket, *rest;

        if (strncmp(url, "s3://", 5) != 0)
                return -EINVAL;
        b = url + 5;
        slash = strchr(b, '/');
        if (slash == b)
                return -EINVAL;
        bucket = slash ? strndup(b, (size_t) (slash - b)) : strdup(b);
        rest = strdup(slash ? slash + 1 : "");
        if (!bucket || !rest || !bucket[0]) {
                free(bucket);
                free(rest);
                return bucket && rest ? -EINVAL : -ENOMEM;
        }
        *ret_bucket = bucket;
        *ret_rest = rest;
        return 0;
}
