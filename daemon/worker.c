/* The pool's per-thread state and callbacks. See worker.h. */
#include <errno.h>
#include <stdlib.h>

#include "common/log.h"
#include "daemon/awsmetrics.h"
#include "daemon/job.h"
#include "daemon/jobclients.h"
#include "daemon/pool.h"
#include "daemon/tablecache.h"
#include "daemon/worker.h"

typedef struct Worker {
        JobClients clients;
        TableCache *tables;
        AwsMetricsSample sample, write_samples[JOB_WRITE_LANES_MAX];
        JobEnv env;
} Worker;

static Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        job_clients_done(&w->clients);
        tablecache_free(w->tables);
        free(w);
        return NULL;
}
DEFINE_CLEANUP_FUNC(Worker *, worker_free);

static void worker_done(void *ud, void *state) {
        worker_free(state);
}

static int worker_init(void *ud, unsigned index, void **ret_state) {
        const JobPoolShared *sh = ud;
        _cleanup_(worker_freep) Worker *w = calloc(1, sizeof(*w));
        S3bError err = {};
        int r;

        if (!w)
                return -ENOMEM;
        r = job_clients_init(&w->clients, sh->aws, sh->cancel, &err);
        if (r < 0)
                return log_error_errno(sh->log, r, "worker %u: %s", index, err.message);
        w->tables = tablecache_new(TABLECACHE_TTL_USEC);
        if (!w->tables)
                return -ENOMEM;
        w->env = (JobEnv) { .log = sh->log, .metrics = sh->metrics, .cancel = sh->cancel,
                            .tables = w->tables, .flow = sh->flow };
        w->env.client = w->clients.client;
        w->env.clients = &w->clients;
        *ret_state = TAKE_PTR(w);
        return 0;
}

static void worker_run(void *ud, void *state, void *job) {
        Worker *w = state;

        job_run(job, &w->env);
        aws_metrics_report(w->env.metrics, w->clients.client, &w->sample);
        for (size_t i = 0; i < JOB_WRITE_LANES_MAX; i++)
                if (w->clients.write_clients[i])
                        aws_metrics_report(w->env.metrics, w->clients.write_clients[i], &w->write_samples[i]);
}

const PoolOps job_pool_ops = { worker_init, worker_done, worker_run };
