/* Worker pool: two mailboxes (common/mailbox.h) — submitted jobs, which the workers wait on,
 * and finished jobs, whose eventfd the owner watches so it can sit in sd-event (or poll).
 * The owner bounds how many jobs it submits (one per free worker plus the extra records of a
 * multi-record message), so no cap is needed here. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mailbox.h"
#include "daemon/pool.h"

typedef struct Worker {
        Pool *pool;
        pthread_t thread;
        unsigned index;
        void *state;
        int init_r;
        bool started;
} Worker;

struct Pool {
        PoolOps ops;
        void *ud;
        Mailbox *queued;                /* submitted, not started; closed when stopping */
        Mailbox *done;                  /* finished, for the owner */
        unsigned n_threads;
        Worker *workers;
        atomic_uint running;

        struct {
                pthread_mutex_t lock;
                pthread_cond_t cond;    /* a thread finished its init */
                unsigned n_inited;
        } synced;
};

static void *worker_main(void *arg) {
        Worker *w = arg;
        Pool *p = w->pool;
        void *job;

        if (p->ops.thread_init)
                w->init_r = p->ops.thread_init(p->ud, w->index, &w->state);

        pthread_mutex_lock(&p->synced.lock);
        p->synced.n_inited++;
        pthread_cond_broadcast(&p->synced.cond);
        pthread_mutex_unlock(&p->synced.lock);
        if (w->init_r < 0)
                return NULL;

        /* NULL once the pool stops: jobs still queued are the owner's to take back */
        while ((job = mailbox_wait(p->queued, MAILBOX_FOREVER))) {
                atomic_fetch_add(&p->running, 1);
                p->ops.run(p->ud, w->state, job);
                atomic_fetch_sub(&p->running, 1);
                /* From here the worker forgets the job. The only failure is ENOMEM for one
                 * small node: retry rather than lose the job. */
                while (mailbox_post(p->done, job) == -ENOMEM)
                        sched_yield();
        }
        return NULL;
}

static void pool_stop_threads(Pool *p) {
        mailbox_close(p->queued);
        for (unsigned i = 0; i < p->n_threads; i++) {
                Worker *w = &p->workers[i];

                if (!w->started)
                        continue;
                pthread_join(w->thread, NULL);
                w->started = false;
                if (w->init_r >= 0 && p->ops.thread_done)
                        p->ops.thread_done(p->ud, w->state);
        }
}

Pool *pool_free(Pool *p) {
        if (!p)
                return NULL;
        if (p->workers && p->queued)
                pool_stop_threads(p);
        mailbox_free(p->queued);
        mailbox_free(p->done);
        pthread_cond_destroy(&p->synced.cond);
        pthread_mutex_destroy(&p->synced.lock);
        free(p->workers);
        free(p);
        return NULL;
}

int pool_new(unsigned n_threads, const PoolOps *ops, void *ud, Pool **ret, S3bError *err) {
        _cleanup_(pool_freep) Pool *p = NULL;
        int r = 0;

        if (n_threads == 0 || !ops || !ops->run)
                return s3b_error_set(err, -EINVAL, "pool needs at least one thread and a run function");

        p = calloc(1, sizeof(*p));
        if (!p)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        p->ops = *ops;
        p->ud = ud;
        atomic_init(&p->running, 0);
        pthread_mutex_init(&p->synced.lock, NULL);
        pthread_cond_init(&p->synced.cond, NULL);

        r = mailbox_new(&p->queued);
        if (r >= 0)
                r = mailbox_new(&p->done);
        if (r < 0)
                return s3b_error_set(err, r, "pool mailboxes: %s", strerror(-r));

        p->workers = calloc(n_threads, sizeof(Worker));
        if (!p->workers)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        p->n_threads = n_threads;

        for (unsigned i = 0; i < n_threads; i++) {
                Worker *w = &p->workers[i];

                w->pool = p;
                w->index = i;
                r = -pthread_create(&w->thread, NULL, worker_main, w);
                if (r < 0)
                        return s3b_error_set(err, r, "starting worker thread %u: %s", i, strerror(-r));
                w->started = true;
        }

        /* Wait for every thread's init so a bad credential setup fails here, not on first job. */
        pthread_mutex_lock(&p->synced.lock);
        while (p->synced.n_inited < n_threads)
                pthread_cond_wait(&p->synced.cond, &p->synced.lock);
        pthread_mutex_unlock(&p->synced.lock);
        for (unsigned i = 0; i < n_threads; i++)
                if (p->workers[i].init_r < 0)
                        return s3b_error_set(err, p->workers[i].init_r, "worker %u failed to start", i);

        *ret = TAKE_PTR(p);
        return 0;
}

int pool_submit(Pool *p, void *job) {
        return mailbox_post(p->queued, job);
}

void *pool_pop_done(Pool *p) {
        return mailbox_pop(p->done);
}

void *pool_take_queued(Pool *p) {
        return mailbox_pop(p->queued);
}

int pool_fd(Pool *p) {
        return mailbox_fd(p->done);
}

void pool_ack_fd(Pool *p) {
        mailbox_ack_fd(p->done);
}

unsigned pool_n_threads(Pool *p) {
        return p->n_threads;
}

unsigned pool_n_running(Pool *p) {
        return atomic_load(&p->running);
}

unsigned pool_n_queued(Pool *p) {
        return (unsigned) mailbox_size(p->queued);
}
