/* Worker pool: a mutex-protected FIFO of submitted jobs and one of finished jobs.
 *
 * Workers sleep on a condition variable; the owner learns about results through an eventfd so
 * that it can sit in sd-event (or poll) instead of a condition variable. Queues are singly
 * linked lists of small nodes: the owner bounds how many jobs it submits (one per free
 * worker plus the extra records of a multi-record message), so no cap is needed here. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon/pool.h"

typedef struct Node {
        struct Node *next;
        void *job;
} Node;

typedef struct Queue {
        Node *head, *tail;
        unsigned n;
} Queue;

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
        int efd;
        unsigned n_threads;
        Worker *workers;

        struct {
                pthread_mutex_t lock;
                pthread_cond_t cond;            /* work queued, stopping, or a thread finished init */
                Queue queued;
                Queue done;
                unsigned running;
                unsigned n_inited;
                bool stopping;
        } synced;
};

static void queue_push(Queue *q, Node *n) {
        n->next = NULL;
        if (q->tail)
                q->tail->next = n;
        else
                q->head = n;
        q->tail = n;
        q->n++;
}

static Node *queue_pop(Queue *q) {
        Node *n = q->head;

        if (!n)
                return NULL;
        q->head = n->next;
        if (!q->head)
                q->tail = NULL;
        q->n--;
        return n;
}

static void queue_clear(Queue *q) {
        Node *n;

        while ((n = queue_pop(q)))
                free(n);
}

static void signal_owner(Pool *p) {
        uint64_t one = 1;

        /* Only fails when the counter would overflow, which means "already readable". */
        (void) !write(p->efd, &one, sizeof(one));
}

static void *worker_main(void *arg) {
        Worker *w = arg;
        Pool *p = w->pool;

        if (p->ops.thread_init)
                w->init_r = p->ops.thread_init(p->ud, w->index, &w->state);

        pthread_mutex_lock(&p->synced.lock);
        p->synced.n_inited++;
        pthread_cond_broadcast(&p->synced.cond);
        if (w->init_r < 0) {
                pthread_mutex_unlock(&p->synced.lock);
                return NULL;
        }
        for (;;) {
                Node *n;

                while (!p->synced.stopping && !p->synced.queued.head)
                        pthread_cond_wait(&p->synced.cond, &p->synced.lock);
                if (p->synced.stopping)
                        break;
                n = queue_pop(&p->synced.queued);
                p->synced.running++;
                pthread_mutex_unlock(&p->synced.lock);

                p->ops.run(p->ud, w->state, n->job);

                pthread_mutex_lock(&p->synced.lock);
                p->synced.running--;
                /* The node carries the job back: from here the worker forgets it. */
                queue_push(&p->synced.done, n);
                signal_owner(p);
        }
        pthread_mutex_unlock(&p->synced.lock);
        return NULL;
}

static void pool_stop_threads(Pool *p) {
        pthread_mutex_lock(&p->synced.lock);
        p->synced.stopping = true;
        pthread_cond_broadcast(&p->synced.cond);
        pthread_mutex_unlock(&p->synced.lock);

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
        if (p->workers)
                pool_stop_threads(p);
        queue_clear(&p->synced.queued);
        queue_clear(&p->synced.done);
        pthread_cond_destroy(&p->synced.cond);
        pthread_mutex_destroy(&p->synced.lock);
        if (p->efd >= 0)
                close(p->efd);
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
        p->efd = -1;
        p->ops = *ops;
        p->ud = ud;
        pthread_mutex_init(&p->synced.lock, NULL);
        pthread_cond_init(&p->synced.cond, NULL);

        p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->efd < 0)
                return s3b_error_set(err, -errno, "eventfd: %m");

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
        Node *n;
        int r = 0;

        n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->job = job;

        pthread_mutex_lock(&p->synced.lock);
        if (p->synced.stopping)
                r = -ESHUTDOWN;
        else {
                queue_push(&p->synced.queued, n);
                pthread_cond_signal(&p->synced.cond);
        }
        pthread_mutex_unlock(&p->synced.lock);
        if (r < 0)
                free(n);
        return r;
}

static void *pop_from(Pool *p, Queue *q) {
        Node *n;
        void *job = NULL;

        pthread_mutex_lock(&p->synced.lock);
        n = queue_pop(q);
        pthread_mutex_unlock(&p->synced.lock);
        if (n) {
                job = n->job;
                free(n);
        }
        return job;
}

void *pool_pop_done(Pool *p) {
        return pop_from(p, &p->synced.done);
}

void *pool_take_queued(Pool *p) {
        return pop_from(p, &p->synced.queued);
}

int pool_fd(Pool *p) {
        return p->efd;
}

void pool_ack_fd(Pool *p) {
        uint64_t v;

        (void) !read(p->efd, &v, sizeof(v));
}

unsigned pool_n_threads(Pool *p) {
        return p->n_threads;
}

static unsigned read_count(Pool *p, const unsigned *field) {
        unsigned v;

        pthread_mutex_lock(&p->synced.lock);
        v = *field;
        pthread_mutex_unlock(&p->synced.lock);
        return v;
}

unsigned pool_n_running(Pool *p) {
        return read_count(p, &p->synced.running);
}

unsigned pool_n_queued(Pool *p) {
        return read_count(p, &p->synced.queued.n);
}
