/* The check thread. See checker.h. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mailbox.h"
#include "daemon/checker.h"
#include "daemon/startup.h"

typedef struct CheckRequest {
        CheckKind kind;
        Config *config;
        char *path;
} CheckRequest;

struct Checker {
        Logger *log;
        AwsContext *aws;
        Mailbox *in, *out;
        pthread_t thread;
        bool started;
        atomic_bool busy;
        ThreadHealth health;
        uint64_t budget;
};

CheckResult *check_result_free(CheckResult *c) {
        if (!c)
                return NULL;
        config_unref(c->config);
        config_diag_done(&c->diag);
        free(c);
        return NULL;
}

bool check_error_is_config(int r) {
        return r == -ENOENT || r == -EACCES || r == -EPERM || r == -EINVAL;
}

static void run(Checker *c, CheckRequest *req, CheckResult *res) {
        _cleanup_(config_unrefp) Config *loaded = NULL;
        Config *config = req->config;
        int r;

        if (req->kind == CHECK_RELOAD) {
                r = config_load(req->path, &loaded, &res->diag);
                if (r < 0) {
                        res->r = r;
                        res->config_error = true;
                        snprintf(res->what, sizeof(res->what), "file");
                        return;
                }
                config = loaded;
        } else {
                r = startup_check_queue(c->log, config, c->aws);
                if (r < 0) {
                        res->r = r;
                        res->config_error = check_error_is_config(r);
                        snprintf(res->what, sizeof(res->what), "queue");
                        return;
                }
        }
        r = startup_check_tables(c->log, config, c->aws);
        if (r < 0) {
                res->r = r;
                res->config_error = check_error_is_config(r);
                snprintf(res->what, sizeof(res->what), "tables");
                return;
        }
        /* every bucket a pipeline touches and the topic: a missing one is named */
        r = startup_check_resources(c->log, config, c->aws);
        if (r < 0) {
                res->r = r;
                res->config_error = check_error_is_config(r);
                snprintf(res->what, sizeof(res->what), "buckets and topic");
                return;
        }
        res->config = TAKE_PTR(loaded);
}

static void *checker_main(void *arg) {
        Checker *c = arg;
        CheckRequest *req;

        while ((req = mailbox_wait(c->in, MAILBOX_FOREVER))) {
                CheckResult *res = calloc(1, sizeof(*res));

                health_busy(&c->health, c->budget);
                if (res) {
                        res->kind = req->kind;
                        run(c, req, res);
                }
                health_idle(&c->health);
                config_unref(req->config);
                free(req->path);
                free(req);
                atomic_store(&c->busy, false);
                if (!res || mailbox_post(c->out, res) < 0) {
                        check_result_free(res);
                        mailbox_kick(c->out);   /* the loop sees "not busy, no result": retry */
                }
        }
        return NULL;
}

Checker *checker_free(Checker *c) {
        CheckResult *res;
        CheckRequest *req;

        if (!c)
                return NULL;
        if (c->in)
                mailbox_close(c->in);
        if (c->started)
                pthread_join(c->thread, NULL);
        while (c->in && (req = mailbox_pop(c->in))) {
                config_unref(req->config);
                free(req->path);
                free(req);
        }
        while (c->out && (res = mailbox_pop(c->out)))
                check_result_free(res);
        mailbox_free(c->in);
        mailbox_free(c->out);
        free(c);
        return NULL;
}

int checker_new(Logger *log, AwsContext *aws, Checker **ret) {
        _cleanup_(checker_freep) Checker *c = NULL;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->log = log;
        c->aws = aws;
        c->budget = 120000000u;
        atomic_init(&c->busy, false);
        health_init(&c->health, "checker", 0);
        r = mailbox_new(&c->in);
        if (r >= 0)
                r = mailbox_new(&c->out);
        if (r < 0)
                return r;
        r = -pthread_create(&c->thread, NULL, checker_main, c);
        if (r < 0)
                return r;
        c->started = true;
        *ret = TAKE_PTR(c);
        return 0;
}

int checker_start(Checker *c, CheckKind kind, Config *config, const char *path) {
        CheckRequest *req;
        int r;

        if (atomic_load(&c->busy))
                return -EBUSY;
        req = calloc(1, sizeof(*req));
        if (!req)
                return -ENOMEM;
        req->kind = kind;
        req->config = config ? config_ref(config) : NULL;
        req->path = path ? strdup(path) : NULL;
        if (path && !req->path) {
                config_unref(req->config);
                free(req);
                return -ENOMEM;
        }
        atomic_store(&c->busy, true);
        r = mailbox_post(c->in, req);
        if (r < 0) {
                atomic_store(&c->busy, false);
                config_unref(req->config);
                free(req->path);
                free(req);
        }
        return r;
}

bool checker_busy(Checker *c) {
        return atomic_load(&c->busy);
}

int checker_fd(Checker *c) {
        return mailbox_fd(c->out);
}

void checker_ack_fd(Checker *c) {
        mailbox_ack_fd(c->out);
}

CheckResult *checker_pop(Checker *c) {
        return mailbox_pop(c->out);
}

const ThreadHealth *checker_health(Checker *c) {
        return &c->health;
}

void checker_set_budget(Checker *c, uint64_t usec) {
        c->budget = usec;
}
