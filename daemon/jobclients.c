/* A job's AWS clients. See jobclients.h. */
#include <errno.h>

#include "common/aws/client.h"
#include "common/aws/dynamodb.h"
#include "common/aws/retry.h"
#include "daemon/flowctl.h"
#include "daemon/jobclients.h"
#include "daemon/metrics.h"

int job_clients_init(JobClients *jc, AwsContext *aws, const atomic_bool *cancel, S3bError *err) {
        int r;

        *jc = (JobClients) { .aws = aws, .cancel = cancel };
        r = aws_client_new(aws, &jc->client, err);
        if (r >= 0 && cancel)
                r = aws_client_set_cancel(jc->client, cancel, err);
        if (r < 0)
                job_clients_done(jc);
        return r;
}

AwsClient *job_clients_write(JobClients *jc, unsigned lane, S3bError *err) {
        _cleanup_(aws_client_freep) AwsClient *c = NULL;
        int r;

        if (lane >= JOB_WRITE_LANES_MAX) {
                s3b_error_set(err, -EINVAL, "writer lane %u out of range", lane);
                return NULL;
        }
        if (jc->write_clients[lane])
                return jc->write_clients[lane];
        r = aws_client_new(jc->aws, &c, err);
        if (r >= 0 && jc->cancel)
                r = aws_client_set_cancel(c, jc->cancel, err);
        if (r < 0)
                return NULL;
        return jc->write_clients[lane] = TAKE_PTR(c);
}

void job_clients_done(JobClients *jc) {
        jc->client = aws_client_free(jc->client);
        for (size_t i = 0; i < JOB_WRITE_LANES_MAX; i++)
                jc->write_clients[i] = aws_client_free(jc->write_clients[i]);
}

static int send_batch(void *ud, unsigned lane, const char *const *items, size_t n,
                      WriterResult *ret, S3bError *err) {
        JobWriteTarget *t = ud;
        AwsClient *c = job_clients_write(t->clients, lane, err);
        DynamoBatchResult res = {};
        int r;

        if (!c)
                return err->code < 0 ? err->code : -ENOMEM;
        /* One attempt per call: the writer retries, so its flow limiter sees every throttle
         * (the client still corrects clock skew and refreshes an expired token by itself). */
        r = dynamodb_batch_write_ex(c, &(DynamoBatchWrite) {
                        .table = t->table,
                        /* only read; the prototype lacks the const */
                        .items_json = (char *const *) items,
                        .n = n,
                        .max_attempts = 1,
                }, &res, err);
        if (r < 0)
                return r;
        *ret = (WriterResult) { .unprocessed = res.unprocessed_idx, .n_unprocessed = res.n_unprocessed,
                                .consumed = res.consumed };
        return 0;
}

static bool send_retryable(void *ud, int r, const S3bError *err) {
        return r != -ECANCELED && aws_retry_classify(err) != AWS_RETRY_NO;
}

static bool send_throttled(void *ud, int r, const S3bError *err) {
        return aws_retry_classify(err) == AWS_RETRY_THROTTLE;
}

static int send_backoff(void *ud, unsigned lane, unsigned attempt) {
        JobWriteTarget *t = ud;
        AwsClient *c = job_clients_write(t->clients, lane, NULL);

        return c ? aws_client_sleep_ms(c, aws_client_backoff_ms(c, attempt)) : -ENOMEM;
}

static int send_sleep(void *ud, unsigned lane, uint64_t ms) {
        JobWriteTarget *t = ud;
        AwsClient *c = job_clients_write(t->clients, lane, NULL);

        return c ? aws_client_sleep_ms(c, ms) : -ENOMEM;
}

/* The writer retries errors and UnprocessedItems alike, up to max_attempts_batch calls. */
const WriterOps job_write_ops = {
        .send = send_batch,
        .retryable = send_retryable,
        .throttled = send_throttled,
        .backoff = send_backoff,
        .sleep = send_sleep,
};

Writer *job_writer_new(const Job *j, const JobEnv *env, JobWriteTarget *target, unsigned shares) {
        unsigned window = j->spec->write_concurrency;   /* 0: adaptive */

        shares = MAX(shares, 1u);
        return writer_new_with(&job_write_ops, target, &(WriterOptions) {
                        .max_attempts = j->config->aws.max_attempts_batch,
                        .window = window ? MAX(window / shares, 1u) : 0,
                        .window_max = MAX((unsigned) WRITER_WINDOW_MAX / shares, 1u),
                        .flow = env->flow ?
                                flowctl_table(env->flow, j->spec->table, pipeline_spec_write_budget(j->spec)) :
                                NULL,
                });
}

void job_report_writes(const Job *j, const JobEnv *env, const WriterStats *ws) {
        FlowLimiter *l;
        FlowStats fs = {};

        if (!env->metrics)
                return;
        /* -1: a job of an older configuration must not put its budget back after a reload */
        l = env->flow ? flowctl_table(env->flow, j->spec->table, -1) : NULL;
        if (l)
                fs = flow_stats(l);
        metrics_table_writes(env->metrics, j->spec->table, ws->consumed, ws->throttles, fs.rate,
                             fs.budget);
}
