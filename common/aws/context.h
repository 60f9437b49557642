/* AwsContext: the settings every service call shares, and nothing a single service owns.
 *
 * Region, one endpoint per service, the credentials chain, the CA bundle, retry and timeout
 * settings, and the clock-skew offset learnt from AWS. Immutable after aws_context_new()
 * except the offset (atomic); reference counted so a client can outlive the code that built
 * the context. What only one service reads (S3's addressing style and copy thresholds) is
 * that service's own options struct (S3Options in s3.h): the context keeps a copy of it per
 * service, without looking inside, so the service finds it from any client. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/aws/credentials.h"
#include "common/aws/endpoint.h"
#include "common/error.h"
#include "common/util.h"

#define AWS_MAX_ATTEMPTS_DEFAULT        3u
#define AWS_CONNECT_TIMEOUT_MS_DEFAULT  3000u
#define AWS_REQUEST_TIMEOUT_MS_DEFAULT  30000u

/* One service's own settings: plain data (no pointers), copied by aws_context_new(). The
 * service header that defines the struct also sets and reads it (s3_options_set()). */
typedef struct AwsServiceOptions {
        const void *data;
        size_t size;
} AwsServiceOptions;

typedef struct AwsContextOptions {
        const char *region;             /* NULL/"": AWS_REGION, AWS_DEFAULT_REGION, profile, IMDS */
        const char *profile;            /* NULL: AWS_PROFILE or "default" */
        const char *endpoint_sqs;       /* NULL/"": see endpoint.h for the resolution order */
        const char *endpoint_s3;
        const char *endpoint_dynamodb;
        const char *endpoint_sns;
        unsigned max_attempts;          /* 0: 3. Every call that does not ask for its own. */
        unsigned connect_timeout_ms;    /* 0: 3000 */
        /* 0: 30000. Whole-request limit of bounded calls (JSON APIs, HEAD, small PUTs; a long
         * poll gets its wait on top), and the stall limit (no byte moving) of streamed S3
         * transfers and server-side copies, which may legitimately take longer overall. */
        unsigned request_timeout_ms;
        unsigned retry_base_ms;         /* 0: 1000 (full-jitter base) */
        unsigned retry_cap_ms;          /* 0: 20000 */
        AwsEnv env;                     /* .get NULL: the process environment (main thread only) */
        /* PEM bundle to trust instead of the system's (for all HTTPS: services and the
         * credentials endpoints). NULL/"": AWS_CA_BUNDLE from env, else the system store.
         * Must be readable (-errno otherwise). */
        const char *ca_file;
        /* Borrowed chain to use instead of building one from env/profile (several contexts in
         * one process, tests); must outlive the context. NULL: the context owns its own. */
        AwsCredentialsChain *credentials;
        /* Per service, set through the service's header; .data NULL: its defaults. */
        AwsServiceOptions service[_AWS_SERVICE_MAX];
} AwsContextOptions;

/* The retry and timeout settings, defaults applied. */
typedef struct AwsLimits {
        unsigned max_attempts;
        unsigned connect_timeout_ms;
        unsigned request_timeout_ms;
        unsigned retry_base_ms;
        unsigned retry_cap_ms;
} AwsLimits;

typedef struct AwsContext AwsContext;

/* Resolves region and endpoints and creates the credentials chain (no network I/O unless the
 * region must come from IMDS). Errors: -EINVAL (bad endpoint URL, region), -ENOENT (no region
 * anywhere), -ENOMEM, and the chain's errors. */
int aws_context_new(const AwsContextOptions *o, AwsContext **ret, S3bError *err);
AwsContext *aws_context_ref(AwsContext *c);
AwsContext *aws_context_unref(AwsContext *c);
DEFINE_CLEANUP_FUNC(AwsContext *, aws_context_unref);

const char *aws_context_region(const AwsContext *c);
/* The CA bundle in use, or NULL for the system store. */
const char *aws_context_ca_file(const AwsContext *c);
const AwsEndpoint *aws_context_endpoint(const AwsContext *c, AwsService s);
const AwsLimits *aws_context_limits(const AwsContext *c);
unsigned aws_context_request_timeout_ms(const AwsContext *c);
AwsCredentialsChain *aws_context_credentials(const AwsContext *c);

/* The copy of service s's options, or NULL when none was given or it has another size (a
 * caller built against another definition): the service then uses its defaults. */
const void *aws_context_service_options(const AwsContext *c, AwsService s, size_t size);

/* Seconds to add to the local clock to get AWS's (learnt from RequestTimeTooSkewed); the
 * request path sets it, any thread reads it. */
int64_t aws_context_clock_offset(const AwsContext *c);
void aws_context_set_clock_offset(AwsContext *c, int64_t seconds);
