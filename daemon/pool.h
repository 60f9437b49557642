/* Pool: a fixed set of worker threads, one job at a time each, with a result queue.
 *
 * The hand-off is whole (curl lib/thrdpool): pool_submit() gives a job to the pool, a worker
 * runs it, then puts it on the done queue and signals an eventfd; from then on the worker holds
 * no reference to it. The owner (the main loop, or `backfill`) waits for the fd, and takes
 * results back with pool_pop_done(). A job is an opaque pointer: the pool never frees it.
 * Each thread has state made by thread_init on that thread (e.g. its own AwsClient) and freed
 * by thread_done when the pool stops.
 *
 * Every function is called from the owner's thread, except the callbacks which run on the
 * workers. */
#pragma once

#include <stdbool.h>

#include "common/error.h"
#include "common/util.h"

typedef struct Pool Pool;

typedef struct PoolOps {
        /* Per-thread state; returns 0 and *ret_state or a negative errno. Optional. */
        int (*thread_init)(void *ud, unsigned index, void **ret_state);
        void (*thread_done)(void *ud, void *state);
        /* Runs one job; its result goes into the job itself. */
        void (*run)(void *ud, void *state, void *job);
} PoolOps;

/* Starts n_threads workers. A thread_init failure fails the whole pool. */
int pool_new(unsigned n_threads, const PoolOps *ops, void *ud, Pool **ret, S3bError *err);

/* Stops accepting jobs, waits for running jobs, joins the threads. Jobs still queued and
 * results not popped are the caller's to take first (pool_take_queued/pool_pop_done);
 * anything left is dropped without being freed. */
Pool *pool_free(Pool *p);
DEFINE_CLEANUP_FUNC(Pool *, pool_free);

int pool_submit(Pool *p, void *job);            /* -ENOMEM, -ESHUTDOWN after pool_free began */
void *pool_pop_done(Pool *p);                   /* a finished job or NULL */
void *pool_take_queued(Pool *p);                /* a job no worker started yet, or NULL */

/* Readable while results wait; the owner reads it (pool_ack_fd) before popping. */
int pool_fd(Pool *p);
void pool_ack_fd(Pool *p);

unsigned pool_n_threads(Pool *p);
unsigned pool_n_running(Pool *p);               /* jobs on a worker right now */
unsigned pool_n_queued(Pool *p);                /* submitted, not yet started */
