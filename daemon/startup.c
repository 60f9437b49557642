/* Shared start of the daemon commands. See startup.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/client.h"
#include "common/aws/dynamodb.h"
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

static int check_table(Logger *log, AwsClient *client, const PipelineSpec *p) {
        DynamoKeySchema info = {};
        S3bError err = {};
        const char *want_sort = p->sort_key ? p->sort_key : "";
        int r;

        r = dynamodb_describe_table(client, p->table, &info, &err);
        if (r < 0)
                return log_error_errno(log, r, "Pipeline %s: DescribeTable %s: %s", p->name, p->table,
                                       err.message);
        if (strcmp(info.partition_key, p->partition_key) != 0 || strcmp(info.sort_key, want_sort) != 0) {
                log_error(log, "Pipeline %s: table %s has key (%s%s%s) but the pipeline says (%s%s%s)",
                          p->name, p->table, info.partition_key, info.sort_key[0] ? ", " : "",
                          info.sort_key, p->partition_key, want_sort[0] ? ", " : "", want_sort);
                return -EINVAL;
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
