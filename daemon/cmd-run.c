/* `s3batchd run` (the default): the service. */
#include <signal.h>

#include "common/aws/client.h"
#include "common/log.h"
#include "daemon/commands.h"
#include "daemon/loop.h"
#include "daemon/startup.h"

int cmd_run(const CommandArgs *a) {
        _cleanup_(logger_freep) Logger *log = NULL;
        _cleanup_(config_unrefp) Config *config = NULL;
        _cleanup_(aws_context_unrefp) AwsContext *aws = NULL;
        _cleanup_(loop_freep) Loop *loop = NULL;
        sigset_t mask;
        int r;

        r = startup_command(a->config_path, &log, &config, &aws);
        if (r < 0)
                return r;
        /* The queue and table checks run inside the loop, off its thread: an unreachable
         * AWS makes the start wait (STATUS= says why), not fail (loop.h). */

        /* Before any thread exists, so every thread inherits the mask and the signals reach
         * the loop's signalfd sources only. curl must not die of SIGPIPE on a dropped peer. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        r = loop_new(&(LoopOptions) { .config = config, .aws = aws, .log = log }, &loop);
        if (r < 0)
                return r;
        return loop_run(loop);
}
