/* Checker: the startup and reload checks, on a thread of their own.
 *
 * At startup the queue must answer (GetQueueAttributes) and every pipeline's table must have
 * the configured key (DescribeTable); at SIGHUP the file is loaded again and its tables are
 * checked. These are network calls with the client's full retry budget, which the main loop
 * must never wait for: the loop posts a request, keeps serving timers and signals (and the
 * watchdog), and applies the outcome when it comes back through checker_fd(). The thread
 * makes no call on a receipt handle; the queue side (daemon/queue.h) does not exist yet at
 * startup. One request at a time: the loop coalesces reloads that arrive meanwhile. */
#pragma once

#include "common/util.h"
#include "conf/config.h"
#include "daemon/health.h"

typedef struct AwsContext AwsContext;
typedef struct Logger Logger;

typedef enum CheckKind {
        CHECK_STARTUP,                  /* queue + tables of `config` */
        CHECK_RELOAD,                   /* load `path`, then its tables */
} CheckKind;

typedef struct CheckResult {
        CheckKind kind;
        int r;                          /* 0, or the first failure's negative errno */
        bool config_error;              /* r says the configuration is wrong, not the network */
        Config *config;                 /* RELOAD and r == 0: the new configuration (owned) */
        ConfigDiag diag;                /* RELOAD: why the file was refused */
        char what[128];                 /* "queue", "tables", "file": what failed */
} CheckResult;

CheckResult *check_result_free(CheckResult *c);
DEFINE_CLEANUP_FUNC(CheckResult *, check_result_free);

typedef struct Checker Checker;

/* Everything borrowed must outlive the checker. */
int checker_new(Logger *log, AwsContext *aws, Checker **ret);
/* Joins the thread (a check in progress finishes first). */
Checker *checker_free(Checker *c);
DEFINE_CLEANUP_FUNC(Checker *, checker_free);

/* Starts a check; -EBUSY while one runs. config: a reference is taken (STARTUP); path: copied
 * (RELOAD). */
int checker_start(Checker *c, CheckKind kind, Config *config, const char *path);
bool checker_busy(Checker *c);
int checker_fd(Checker *c);
void checker_ack_fd(Checker *c);
CheckResult *checker_pop(Checker *c);
/* For the watchdog: a check may take one call budget per resource. */
const ThreadHealth *checker_health(Checker *c);
void checker_set_budget(Checker *c, uint64_t usec);

/* Whether a startup/reload check failure means the configuration is wrong (the queue or a
 * table does not exist, access is denied, a key does not match) rather than AWS being
 * unreachable: -ENOENT, -EACCES, -EPERM, -EINVAL. */
bool check_error_is_config(int r);
