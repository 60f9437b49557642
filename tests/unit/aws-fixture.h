/* A context and client whose every endpoint is a script server (script-server.h), with
 * fixed test credentials and short backoffs, for the tests of the request path and of the
 * service files. */
#pragma once

#include "common/aws/client.h"
#include "script-server.h"

typedef struct Fixture {
        Server server;
        AwsContext *ctx;
        AwsClient *client;
        char endpoint[64];
} Fixture;

static char *const test_env[] = {
        "AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "AWS_EC2_METADATA_DISABLED=true",
        "AWS_CONFIG_FILE=/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE=/nonexistent",
        NULL,
};

/* o: NULL, or options to start from (service options set by the caller). */
static inline void fixture_start_with(Fixture *f, unsigned max_attempts, AwsContextOptions *o) {
        AwsContextOptions defaults = {};
        S3bError err = {};

        o = o ? o : &defaults;
        server_start(&f->server);
        snprintf(f->endpoint, sizeof(f->endpoint), "http://127.0.0.1:%u", f->server.port);
        o->region = "eu-west-1";
        o->endpoint_sqs = o->endpoint_s3 = o->endpoint_dynamodb = o->endpoint_sns = f->endpoint;
        o->max_attempts = max_attempts;
        o->retry_base_ms = 20;
        o->retry_cap_ms = 40;
        o->request_timeout_ms = 2000;
        o->env = aws_env_strv(test_env);
        assert_int_equal(aws_context_new(o, &f->ctx, &err), 0);
        assert_int_equal(aws_client_new(f->ctx, &f->client, &err), 0);
}

static inline void fixture_start(Fixture *f, unsigned max_attempts) {
        fixture_start_with(f, max_attempts, NULL);
}

static inline void fixture_stop(Fixture *f) {
        aws_client_free(f->client);
        aws_context_unref(f->ctx);
        server_stop(&f->server);
}
