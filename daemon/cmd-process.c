/* `s3batchd process s3://bucket/key`: one object through the job code, without SQS.
 *
 * For reprocessing a file by hand: the same steps as the service (write, archive or error
 * bucket, report, SNS), on this thread. Prints the JSON summary on stdout. Returns 0 for
 * success or partial (and for a file found already processed), COMMAND_REJECTED for any
 * other outcome. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/aws/client.h"
#include "common/log.h"
#include "daemon/commands.h"
#include "daemon/flowctl.h"
#include "daemon/job.h"
#include "daemon/jobclients.h"
#include "daemon/outcome.h"
#include "daemon/startup.h"
#include "daemon/tablecache.h"

int cmd_process(const CommandArgs *a) {
        _cleanup_(logger_freep) Logger *log = NULL;
        _cleanup_(config_unrefp) Config *config = NULL;
        _cleanup_(aws_context_unrefp) AwsContext *aws = NULL;
        _cleanup_(job_clients_done) JobClients clients = {};
        JobEnv env = {};
        _cleanup_(job_freep) Job *job = NULL;
        _cleanup_(tablecache_freep) TableCache *tables = NULL;
        _cleanup_(flowctl_freep) FlowCtl *flow = NULL;
        _cleanup_free_ char *bucket = NULL, *key = NULL, *summary = NULL;
        const char *pipeline = a->pipeline;
        const PipelineSpec *spec;
        S3bError err = {};
        int r;

        if (startup_parse_s3_url(a->operands[0], &bucket, &key) < 0 || !key[0]) {
                fprintf(stderr, "s3batchd process: expected one s3://BUCKET/KEY, got '%s'\n", a->operands[0]);
                return COMMAND_USAGE;
        }

        r = startup_command(a->config_path, &log, &config, &aws);
        if (r < 0)
                return r;

        spec = pipeline ? config_find_pipeline_by_name(config, pipeline)
                        : config_find_pipeline(config, bucket, key);
        if (!spec) {
                log_error(log, pipeline ? "No pipeline named %s%s%s" : "No pipeline matches %ss3://%s/%s",
                          pipeline ? pipeline : "", pipeline ? "" : bucket, pipeline ? "" : key);
                return -ENOENT;
        }
        job = job_new(config, spec, bucket, key, NULL);
        tables = tablecache_new(TABLECACHE_TTL_USEC);
        flow = flowctl_new(NULL, NULL);                 /* NULL: no flow control */
        if (!job || !tables || !flow)
                return log_error_errno(log, -ENOMEM, "Out of memory");
        r = job_clients_init(&clients, aws, NULL, &err);
        if (r < 0)
                return log_error_errno(log, r, "AWS client: %s", err.message);
        env.log = log;
        env.tables = tables;
        env.flow = flow;
        env.client = clients.client;
        env.clients = &clients;
        job_run(job, &env);

        summary = outcome_summary_json(job);
        if (summary)
                printf("%s\n", summary);
        log_full_f(log, job_status_is_final(job->status) && job->status != JOB_FAILURE ? LOG_INFO : LOG_ERR, 0,
                   LOG_FIELDS(LOG_STR("BUCKET", bucket), LOG_STR("OBJECT_KEY", key),
                              LOG_STR("PIPELINE", spec->name), LOG_U64("ROWS_WRITTEN", job->rows_written)),
                   "%s s3://%s/%s%s%s", job_status_to_string(job->status), bucket, key,
                   job->reason[0] ? ": " : "", job->reason);
        return job->status == JOB_SUCCESS || job->status == JOB_PARTIAL || job->status == JOB_DONE_BEFORE ?
                0 : COMMAND_REJECTED;
}
