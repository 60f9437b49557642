/* Loop: the daemon's main thread — sd-event, SQS message bookkeeping, signals, sd_notify.
 *
 * It alone touches receipt handles: it turns messages from the poller into jobs for the pool,
 * deletes a message once every record of it reached a final outcome, releases the ones that
 * did not (visibility 0 at shutdown, a short delay after a transient failure), and keeps the
 * messages in work invisible with a heartbeat (ChangeMessageVisibility every
 * visibility_timeout / 2). See docs/DESIGN.md for the life of a message. */
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

/* Runs until SIGTERM/SIGINT and the drain that follows. Returns the exit status. The three
 * signals must be blocked in every thread before loop_new() (it starts threads). */
int loop_run(Loop *l);
