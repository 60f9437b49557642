/* Loop: the daemon's main thread — sd-event, the in-flight message table, signals, sd_notify.
 *
 * It never makes a network call. It turns messages from the receiver into jobs for the pool,
 * decides what becomes of each message (delete once every record reached a final outcome,
 * release otherwise: visibility 0 at shutdown, a growing delay after a transient failure),
 * plans visibility extensions by deadline (daemon/inflight.h) and hands every SQS call to the
 * queue side (daemon/queue.h); startup and reload checks run on the checker thread
 * (daemon/checker.h). See docs/DESIGN.md for the threads and the life of a message. */
#pragma once

#include "common/util.h"
#include "conf/config.h"

typedef struct AwsContext AwsContext;
typedef struct Logger Logger;
typedef struct Loop Loop;

/* Everything borrowed must outlive the Loop; config gets a reference of its own. */
typedef struct LoopOptions {
        Config *config;
        AwsContext *aws;
        Logger *log;
} LoopOptions;

int loop_new(const LoopOptions *opts, Loop **ret);
Loop *loop_free(Loop *l);
DEFINE_CLEANUP_FUNC(Loop *, loop_free);

/* Checks the queue and the tables (waiting, with backoff, while AWS is unreachable; ending at
 * once when the configuration is wrong), says READY=1, then runs until SIGTERM/SIGINT and the
 * drain that follows. Returns 0 after a clean shutdown, or the negative errno (already
 * logged) that ended it early — like loop_new(). The three signals must be blocked in every
 * thread before loop_new() (it starts threads). */
int loop_run(Loop *l);
