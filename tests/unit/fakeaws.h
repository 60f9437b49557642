/* The seam test-outcome and test-job run the daemon's own job and outcome code through:
 * tests/unit/http-test-server.py on a loopback port stands in for S3, SNS and DynamoDB, and the
 * configuration points every endpoint at it. Why a server rather than a function table
 * injected into outcome.c: the production code keeps calling common/aws exactly as it does
 * against AWS (no seam in it), and the test sees the real requests — their order and their
 * conditions (If-Match, x-amz-copy-source-if-match) — not a call into a stub.
 *
 * fakeaws_start() starts the server with its arguments (objects, failures), writes a config
 * (one pipeline "students" on bucket inbound, archive archival-bucket, errors error-bucket, an
 * SNS topic, one attempt per call) and starts the daemon side the way `process` does
 * (startup_command). fakeaws_steps() reads back the calls the server saw (its /log). */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "common/aws/client.h"
#include "common/aws/http.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "daemon/job.h"
#include "daemon/jobclients.h"
#include "daemon/startup.h"
#include "pyserver.h"

#define FAKEAWS_STEPS_MAX 64

typedef struct FakeAws {
        PyServer server;
        char dir[64];                   /* a private temporary directory */
        Logger *log;
        Config *config;
        AwsContext *aws;
        JobClients clients;
        JobEnv env;
        /* what the server saw, in order, after fakeaws_steps() */
        char steps[FAKEAWS_STEPS_MAX][16];
        char paths[FAKEAWS_STEPS_MAX][256];
        char if_match[FAKEAWS_STEPS_MAX][96];   /* If-Match or x-amz-copy-source-if-match */
        size_t n_steps;
} FakeAws;

static inline void fakeaws_write(const char *path, const char *data, size_t len) {
        FILE *f = fopen(path, "wb");

        if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
                abort();
}

/* Idempotent: a test may stop one server and start the next in the same FakeAws. */
static inline void fakeaws_stop(FakeAws *f) {
        char cmd[128];

        pyserver_stop(&f->server);
        job_clients_done(&f->clients);
        f->aws = aws_context_unref(f->aws);
        f->config = config_unref(f->config);
        f->log = logger_free(f->log);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        if (f->dir[0] && system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", f->dir);
        f->dir[0] = '\0';
}

/* objects: NULL-terminated pairs "/bucket/key", contents; fails: NULL-terminated "STEP=STATUS[:CODE]". */
static inline int fakeaws_start(FakeAws *f, const char *const *objects, const char *const *fails) {
        const char *args[32];
        char specs[8][512], yaml[2048], cfg[96];
        size_t n = 0, k = 0;

        fakeaws_stop(f);
        memset(f, 0, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/s3b-fakeaws-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        for (; objects && objects[0] && k < 8; objects += 2, k++) {
                char file[96];

                snprintf(file, sizeof(file), "%s/object%zu", f->dir, k);
                fakeaws_write(file, objects[1], strlen(objects[1]));
                snprintf(specs[k], sizeof(specs[k]), "%s=%s", objects[0], file);
                args[n++] = "--object";
                args[n++] = specs[k];
        }
        for (; fails && *fails && n < 12; fails++) {
                args[n++] = "--fail";
                args[n++] = *fails;
        }
        args[n] = NULL;
        if (pyserver_start(&f->server, TEST_SRCDIR "/tests/unit/http-test-server.py", args) < 0)
                return -1;

        snprintf(yaml, sizeof(yaml),
                 "aws:\n"
                 "  region: us-east-1\n"
                 "  endpoints: { s3: \"%1$s\", sns: \"%1$s\", dynamodb: \"%1$s\", sqs: \"%1$s\" }\n"
                 "  s3_force_path_style: true\n"
                 "  max_attempts: 1\n"
                 "  max_attempts_batch: 1\n"
                 "  connect_timeout_ms: 1000\n"
                 "  request_timeout_ms: 5000\n"
                 "queue: { url: \"https://sqs.us-east-1.amazonaws.com/123456789012/q\", wait_seconds: 1 }\n"
                 "archive: { bucket: archival-bucket }\n"
                 "errors: { bucket: error-bucket }\n"
                 "notify: { topic_arn: \"arn:aws:sns:us-east-1:123456789012:t\" }\n"
                 "pipelines:\n"
                 "  - name: students\n"
                 "    match: { bucket: inbound, suffix: .csv }\n"
                 "    table: students_table\n"
                 "    columns:\n"
                 "      - { name: student_id, type: string, required: true }\n"
                 "      - { name: course, type: string, required: true }\n"
                 "    key: { partition: student_id, sort: course }\n", f->server.url);
        snprintf(cfg, sizeof(cfg), "%s/s3batchd.yaml", f->dir);
        fakeaws_write(cfg, yaml, strlen(yaml));

        /* the credential chain's first link; nothing else of the host's is asked */
        setenv("AWS_ACCESS_KEY_ID", "AKIDFAKEAWS", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "fake-secret", 1);
        setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
        if (startup_command(cfg, &f->log, &f->config, &f->aws) < 0)
                return -1;
        if (job_clients_init(&f->clients, f->aws, NULL, NULL) < 0)
                return -1;
        f->env = (JobEnv) { .client = f->clients.client, .clients = &f->clients, .log = f->log };
        return 0;
}

/* A job for s3://inbound/KEY, pinned to ETag etag ("" = as read). */
static inline Job *fakeaws_job(FakeAws *f, const char *key, const char *etag) {
        return job_new(f->config, &f->config->pipelines[0], "inbound", key, etag);
}

/* Fills steps/paths/if_match from the server's request log; < 0 if it cannot be read. */
static inline int fakeaws_steps(FakeAws *f) {
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        _cleanup_(cJSON_Deletep) cJSON *log = NULL;
        HttpClient *http = NULL;
        S3bError err = {};
        char url[96];
        const cJSON *o;
        int r;

        f->n_steps = 0;
        snprintf(url, sizeof(url), "%s/log", f->server.url);
        r = http_client_new(&http, NULL, &err);
        if (r >= 0)
                r = http_client_send(http, &(HttpRequest) { .method = "GET", .url = url }, &resp, &err);
        http_client_free(http);
        if (r < 0 || resp.status != 200)
                return -1;
        log = cJSON_ParseWithLength(resp.body.data, resp.body.len);
        cJSON_ArrayForEach(o, log) {
                const cJSON *h = cJSON_GetObjectItem(o, "headers");
                const cJSON *m = cJSON_GetObjectItem(h, "if-match");

                if (f->n_steps == FAKEAWS_STEPS_MAX)
                        break;
                if (!m)
                        m = cJSON_GetObjectItem(h, "x-amz-copy-source-if-match");
                snprintf(f->steps[f->n_steps], sizeof(f->steps[0]), "%s",
                         cJSON_GetStringValue(cJSON_GetObjectItem(o, "step")));
                snprintf(f->paths[f->n_steps], sizeof(f->paths[0]), "%s",
                         cJSON_GetStringValue(cJSON_GetObjectItem(o, "path")));
                snprintf(f->if_match[f->n_steps], sizeof(f->if_match[0]), "%s",
                         m ? cJSON_GetStringValue(m) : "");
                f->n_steps++;
        }
        return cJSON_IsArray(log) ? 0 : -1;
}

/* The index of the first call to STEP at or after `from`, or -1. */
static inline int fakeaws_find(const FakeAws *f, const char *step, size_t from) {
        for (size_t i = from; i < f->n_steps; i++)
                if (strcmp(f->steps[i], step) == 0)
                        return (int) i;
        return -1;
}

/* cmocka fixtures: *state is a FakeAws; teardown also runs after a failed assertion, so no
 * server is left behind. */
static inline int fakeaws_setup(void **state) {
        *state = calloc(1, sizeof(FakeAws));
        return *state ? 0 : -1;
}

static inline int fakeaws_teardown(void **state) {
        fakeaws_stop(*state);
        free(*state);
        return 0;
}
