/* `s3batchd backfill s3://bucket/prefix`: every matching object under a prefix, through the
 * worker pool — for files that arrived before the daemon ran, or to reprocess by hand.
 *
 * Pages of ListObjectsV2 are consumed as the pool frees up, so at most `workers` jobs are in
 * the pool and one page of keys in memory, whatever the prefix holds. One line per file on
 * stdout, then a summary; exit 0 when no file failed. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/aws/client.h"
#include "common/aws/s3.h"
#include "common/log.h"
#include "daemon/commands.h"
#include "daemon/flowctl.h"
#include "daemon/job.h"
#include "daemon/worker.h"
#include "daemon/pool.h"
#include "daemon/startup.h"

typedef struct Backfill {
        Config *config;
        Logger *log;
        Pool *pool;
        unsigned in_pool;
        uint64_t by_status[_JOB_STATUS_MAX];
        uint64_t files, rows_written, rows_rejected;
} Backfill;

static void collect_one(Backfill *b, Job *j) {
        printf("%-8s s3://%s/%s rows_written=%" PRIu64 " rows_rejected=%" PRIu64 "%s%s\n",
               job_status_to_string(j->status), j->bucket, j->key, j->rows_written, j->rows_rejected,
               j->reason[0] ? " reason=" : "", j->reason);
        fflush(stdout);
        b->by_status[j->status]++;
        b->files++;
        b->rows_written += j->rows_written;
        b->rows_rejected += j->rows_rejected;
        b->in_pool--;
        job_free(j);
}

/* Waits for at least one result when block, then takes all that are ready. */
static void collect(Backfill *b, bool block) {
        Job *j;

        if (block) {
                struct pollfd pfd = { .fd = pool_fd(b->pool), .events = POLLIN };

                while (!(j = pool_pop_done(b->pool))) {
                        (void) poll(&pfd, 1, 1000);
                        pool_ack_fd(b->pool);
                }
                collect_one(b, j);
        }
        while ((j = pool_pop_done(b->pool)))
                collect_one(b, j);
}

static int submit(Backfill *b, const char *bucket, const char *key) {
        const PipelineSpec *spec = config_find_pipeline(b->config, bucket, key);
        Job *j;
        int r;

        if (!spec) {
                log_debug(b->log, "No pipeline matches s3://%s/%s, skipping it", bucket, key);
                return 0;
        }
        while (b->in_pool >= pool_n_threads(b->pool))
                collect(b, true);
        j = job_new(b->config, spec, bucket, key, NULL);
        if (!j)
                return -ENOMEM;
        r = pool_submit(b->pool, j);
        if (r < 0) {
                job_free(j);
                return r;
        }
        b->in_pool++;
        return 0;
}

int cmd_backfill(const CommandArgs *a) {
        _cleanup_(logger_freep) Logger *log = NULL;
        _cleanup_(config_unrefp) Config *config = NULL;
        _cleanup_(aws_context_unrefp) AwsContext *aws = NULL;
        _cleanup_(aws_client_freep) AwsClient *client = NULL;
        /* declared before the pool: its workers use it until the pool is freed */
        _cleanup_(flowctl_freep) FlowCtl *flow = NULL;
        _cleanup_(pool_freep) Pool *pool = NULL;
        _cleanup_free_ char *bucket = NULL, *prefix = NULL, *token = NULL;
        atomic_bool cancel = false;
        Backfill b = {};
        S3bError err = {};
        JobPoolShared shared;
        int r = 0;

        if (startup_parse_s3_url(a->operands[0], &bucket, &prefix) < 0) {
                fprintf(stderr, "s3batchd backfill: expected one s3://BUCKET[/PREFIX], got '%s'\n", a->operands[0]);
                return COMMAND_USAGE;
        }
        r = startup_command(a->config_path, &log, &config, &aws);
        if (r < 0)
                return r;
        signal(SIGPIPE, SIG_IGN);

        r = aws_client_new(aws, &client, &err);
        if (r < 0)
                return log_error_errno(log, r, "AWS client: %s", err.message);
        flow = flowctl_new(NULL, NULL);
        if (!flow)
                return log_error_errno(log, -ENOMEM, "Out of memory");
        shared = (JobPoolShared) { .aws = aws, .flow = flow, .log = log, .cancel = &cancel };
        r = pool_new(config->workers, &job_pool_ops, &shared, &pool, &err);
        if (r < 0)
                return log_error_errno(log, r, "Starting %u workers: %s", config->workers, err.message);
        b = (Backfill) { .config = config, .log = log, .pool = pool };

        do {
                S3ObjectList page = {};

                r = s3_list_objects_v2(client, bucket, prefix, token, 0, &page, &err);
                if (r < 0) {
                        log_error_errno(log, r, "Listing s3://%s/%s: %s", bucket, prefix, err.message);
                        break;
                }
                for (size_t i = 0; r >= 0 && i < page.n_objects; i++)
                        r = submit(&b, bucket, page.objects[i].key);
                free(token);
                token = TAKE_PTR(page.next_token);
                s3_object_list_done(&page);
        } while (r >= 0 && token);

        while (b.in_pool > 0)
                collect(&b, true);

        printf("%" PRIu64 " file(s): %" PRIu64 " success, %" PRIu64 " partial, %" PRIu64 " failed, %"
               PRIu64 " to retry; %" PRIu64 " rows written, %" PRIu64 " rejected\n",
               b.files, b.by_status[JOB_SUCCESS], b.by_status[JOB_PARTIAL], b.by_status[JOB_FAILURE],
               b.by_status[JOB_RETRY] + b.by_status[JOB_CANCELLED], b.rows_written, b.rows_rejected);
        if (r < 0)
                return r;
        return b.by_status[JOB_FAILURE] + b.by_status[JOB_RETRY] + b.by_status[JOB_CANCELLED] > 0 ?
                COMMAND_REJECTED : 0;
}
