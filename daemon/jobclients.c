/* A job's AWS clients. See jobclients.h. */
#include <errno.h>

#include "common/aws/client.h"
#include "daemon/jobclients.h"

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
