/* The shared AWS settings (context.h): resolved once, then read by every client. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/aws/context.h"
#include "common/aws/retry.h"

struct AwsContext {
        atomic_uint n_ref;
        char region[AWS_REGION_MAX + 1];
        AwsEndpoint endpoints[_AWS_SERVICE_MAX];
        AwsLimits limits;
        char *ca_file;
        AwsCredentialsChain *credentials;
        bool owns_credentials;
        AwsServiceOptions service[_AWS_SERVICE_MAX];    /* .data owned */
        _Atomic int64_t clock_offset_s;
};

static unsigned or_default(unsigned v, unsigned def) {
        return v ? v : def;
}

static AwsContext *context_free(AwsContext *c) {
        if (!c)
                return NULL;
        if (c->owns_credentials)
                aws_credentials_chain_free(c->credentials);
        for (size_t s = 0; s < _AWS_SERVICE_MAX; s++)
                free((void *) c->service[s].data);
        free(c->ca_file);
        free(c);
        return NULL;
}
DEFINE_CLEANUP_FUNC(AwsContext *, context_free);

/* The configured bundle, else AWS_CA_BUNDLE: the AWS CLI User Guide ("Environment variables
 * to configure the AWS CLI") lets the variable override the shared config file's ca_bundle
 * and a --ca-bundle parameter override the variable; the daemon's own setting plays the
 * parameter's part, as aws.region and aws.endpoints do for theirs. libcurl reads the file
 * only at the first handshake, so an unreadable one is reported now. */
static int context_ca_file(AwsContext *c, const char *configured, const AwsEnv *env, S3bError *err) {
        const char *from = "the configuration", *path = configured;

        if (!path || !path[0]) {
                path = aws_env_get(env, "AWS_CA_BUNDLE");
                from = "AWS_CA_BUNDLE";
        }
        if (!path || !path[0])
                return 0;
        if (access(path, R_OK) < 0)
                return s3b_error_set(err, -errno, "CA bundle %.200s (from %s): cannot read: %s", path,
                                     from, strerror(errno));
        c->ca_file = strdup(path);
        return c->ca_file ? 0 : s3b_error_set(err, -ENOMEM, "out of memory");
}

static int context_credentials(AwsContext *c, const AwsContextOptions *o, const AwsEnv *env,
                               S3bError *err) {
        HttpClientOptions http = {
                .connect_timeout_ms = c->limits.connect_timeout_ms,
                .ca_file = c->ca_file,
        };
        AwsCredentialsOptions co = {
                .env = *env,
                .profile = o->profile,
                .http = &http,
        };
        int r;

        if (o->credentials) {
                c->credentials = o->credentials;
                return 0;
        }
        r = aws_credentials_chain_new(&c->credentials, &co, err);
        if (r < 0)
                return r;
        c->owns_credentials = true;
        return 0;
}

static int context_region(AwsContext *c, const char *region, S3bError *err) {
        int r;

        if (region && *region) {
                if (!aws_region_is_valid(region))
                        return s3b_error_set(err, -EINVAL, "invalid region \"%s\"", region);
                snprintf(c->region, sizeof(c->region), "%s", region);
                return 0;
        }
        r = aws_credentials_chain_region(c->credentials, c->region, err);
        if (r < 0)
                return s3b_error_prefix(err, "no region configured");
        if (!aws_region_is_valid(c->region))
                return s3b_error_set(err, -EINVAL, "invalid region \"%s\"", c->region);
        return 0;
}

static int context_endpoints(AwsContext *c, const AwsContextOptions *o, const AwsEnv *env,
                             S3bError *err) {
        const char *configured[_AWS_SERVICE_MAX] = {
                [AWS_SERVICE_SQS] = o->endpoint_sqs,
                [AWS_SERVICE_S3] = o->endpoint_s3,
                [AWS_SERVICE_DYNAMODB] = o->endpoint_dynamodb,
                [AWS_SERVICE_SNS] = o->endpoint_sns,
        };
        int r;

        for (AwsService s = 0; s < _AWS_SERVICE_MAX; s++) {
                r = aws_endpoint_resolve(s, c->region, configured[s], env, &c->endpoints[s], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int context_service_options(AwsContext *c, const AwsContextOptions *o, S3bError *err) {
        for (size_t s = 0; s < _AWS_SERVICE_MAX; s++) {
                const AwsServiceOptions *so = &o->service[s];
                void *copy;

                if (!so->data || so->size == 0)
                        continue;
                copy = malloc(so->size);
                if (!copy)
                        return s3b_error_set(err, -ENOMEM, "out of memory");
                memcpy(copy, so->data, so->size);
                c->service[s] = (AwsServiceOptions) { copy, so->size };
        }
        return 0;
}

int aws_context_new(const AwsContextOptions *o, AwsContext **ret, S3bError *err) {
        _cleanup_(context_freep) AwsContext *c = NULL;
        AwsEnv env = o->env.get ? o->env : aws_env_process();
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        atomic_init(&c->n_ref, 1);
        atomic_init(&c->clock_offset_s, 0);
        c->limits = (AwsLimits) {
                .max_attempts = or_default(o->max_attempts, AWS_MAX_ATTEMPTS_DEFAULT),
                .connect_timeout_ms = or_default(o->connect_timeout_ms, AWS_CONNECT_TIMEOUT_MS_DEFAULT),
                .request_timeout_ms = or_default(o->request_timeout_ms, AWS_REQUEST_TIMEOUT_MS_DEFAULT),
                .retry_base_ms = or_default(o->retry_base_ms, AWS_RETRY_BASE_MS_DEFAULT),
                .retry_cap_ms = or_default(o->retry_cap_ms, AWS_RETRY_CAP_MS_DEFAULT),
        };
        r = context_service_options(c, o, err);
        if (r >= 0)
                r = context_ca_file(c, o->ca_file, &env, err);
        if (r >= 0)
                r = context_credentials(c, o, &env, err);
        if (r >= 0)
                r = context_region(c, o->region, err);
        if (r >= 0)
                r = context_endpoints(c, o, &env, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

AwsContext *aws_context_ref(AwsContext *c) {
        if (c)
                atomic_fetch_add_explicit(&c->n_ref, 1, memory_order_relaxed);
        return c;
}

AwsContext *aws_context_unref(AwsContext *c) {
        if (c && atomic_fetch_sub_explicit(&c->n_ref, 1, memory_order_acq_rel) == 1)
                context_free(c);
        return NULL;
}

const char *aws_context_ca_file(const AwsContext *c) {
        return c->ca_file;
}

const char *aws_context_region(const AwsContext *c) {
        return c->region;
}

const AwsEndpoint *aws_context_endpoint(const AwsContext *c, AwsService s) {
        return (unsigned) s < _AWS_SERVICE_MAX ? &c->endpoints[s] : NULL;
}

const AwsLimits *aws_context_limits(const AwsContext *c) {
        return &c->limits;
}

unsigned aws_context_request_timeout_ms(const AwsContext *c) {
        return c->limits.request_timeout_ms;
}

AwsCredentialsChain *aws_context_credentials(const AwsContext *c) {
        return c->credentials;
}

const void *aws_context_service_options(const AwsContext *c, AwsService s, size_t size) {
        if ((unsigned) s >= _AWS_SERVICE_MAX || c->service[s].size != size)
                return NULL;
        return c->service[s].data;
}

int64_t aws_context_clock_offset(const AwsContext *c) {
        return atomic_load_explicit(&c->clock_offset_s, memory_order_relaxed);
}

void aws_context_set_clock_offset(AwsContext *c, int64_t seconds) {
        atomic_store_explicit(&c->clock_offset_s, seconds, memory_order_relaxed);
}
