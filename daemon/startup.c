/* Shared start of the daemon commands. See startup.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/client.h"
#include "common/aws/dynamodb.h"
#include "common/aws/s3.h"
#include "common/aws/sns.h"
#include "common/aws/sqs.h"
#include "common/log.h"
#include "daemon/startup.h"

int startup_logger(Logger **ret) {
        int r = logger_new("s3batchd", LOG_TARGET_AUTO, -1, LOG_INFO, ret);
        if (r < 0)
                fprintf(stderr, "s3batchd: cannot set up logging: %s\n", strerror(-r));
        return r;
}

int startup_config(Logger *log, const char *path, Config **ret) {
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

int startup_aws(Logger *log, const Config *c, AwsContext **ret) {
        AwsContextOptions o = {
                .region = c->aws.region,
                .profile = c->aws.profile,
                .endpoint_sqs = c->aws.endpoint_sqs,
                .endpoint_s3 = c->aws.endpoint_s3,
                .endpoint_dynamodb = c->aws.endpoint_dynamodb,
                .endpoint_sns = c->aws.endpoint_sns,
                .s3_force_path_style = c->aws.s3_force_path_style,
                .ca_file = c->aws.ca_bundle,
                .max_attempts = c->aws.max_attempts,
                .max_attempts_batch = c->aws.max_attempts_batch,
                .connect_timeout_ms = c->aws.connect_timeout_ms,
                .request_timeout_ms = c->aws.request_timeout_ms,
        };
        S3bError err = {};
        int r;

        r = aws_context_new(&o, ret, &err);
        if (r < 0)
                return log_error_errno(log, r, "AWS setup: %s", err.message);
        if (aws_context_ca_file(*ret))
                log_info(log, "HTTPS: trusting the CA bundle %s instead of the system's",
                         aws_context_ca_file(*ret));
        return 0;
}

int startup_tool(const char *config_path, Logger **ret_log, Config **ret_config, AwsContext **ret_aws) {
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
