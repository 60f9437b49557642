/* The one request → sign → send → classify → retry path every service call takes.
 *
 * AwsContext: what all threads share — region, one endpoint per service, the credentials
 * chain, retry and timeout settings, and the clock-skew offset learnt from AWS. Immutable
 * after aws_context_new() except the offset (atomic); reference counted so a client can
 * outlive the code that built the context.
 *
 * AwsClient: one per thread. Owns its HttpClient (kept-alive connections), its SigV4 key
 * cache, its jitter RNG and its counters; never shared between threads (only
 * aws_client_get_stats() may be called from another thread).
 *
 * The service files (sqs.c, s3.c, dynamodb.c, sns.c) only describe requests (AwsRequest) and
 * read responses; they never loop, sleep or sign on their own. */
#pragma once

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/aws/credentials.h"
#include "common/aws/endpoint.h"
#include "common/aws/http.h"
#include "common/aws/retry.h"
#include "common/aws/sigv4.h"
#include "common/error.h"
#include "common/util.h"

#define AWS_MAX_ATTEMPTS_DEFAULT        3u
#define AWS_MAX_ATTEMPTS_BATCH_DEFAULT  10u
#define AWS_CONNECT_TIMEOUT_MS_DEFAULT  3000u
#define AWS_REQUEST_TIMEOUT_MS_DEFAULT  30000u
/* S3 CopyObject copies at most 5 GiB in one request (AWS "Copy an object"); above, multipart. */
#define S3_COPY_SINGLE_MAX              (UINT64_C(5) << 30)
#define S3_COPY_PART_SIZE_DEFAULT       (UINT64_C(512) << 20)

typedef struct AwsContextOptions {
        const char *region;             /* NULL/"": AWS_REGION, AWS_DEFAULT_REGION, profile, IMDS */
        const char *profile;            /* NULL: AWS_PROFILE or "default" */
        const char *endpoint_sqs;       /* NULL/"": see endpoint.h for the resolution order */
        const char *endpoint_s3;
        const char *endpoint_dynamodb;
        const char *endpoint_sns;
        bool s3_force_path_style;
        unsigned max_attempts;          /* 0: 3. Every call. */
        unsigned max_attempts_batch;    /* 0: 10. DynamoDB BatchWriteItem. */
        unsigned connect_timeout_ms;    /* 0: 3000 */
        /* 0: 30000. Whole-request limit of bounded calls (JSON APIs, HEAD, small PUTs; a long
         * poll gets its wait on top), and the stall limit (no byte moving) of streamed S3
         * transfers and server-side copies, which may legitimately take longer overall. */
        unsigned request_timeout_ms;
        unsigned retry_base_ms;         /* 0: 1000 (full-jitter base) */
        unsigned retry_cap_ms;          /* 0: 20000 */
        /* Objects larger than this are copied with multipart UploadPartCopy; 0: 5 GiB.
         * Lowered by tests only (S3 parts must be ≥ 5 MiB except the last). */
        uint64_t s3_multipart_copy_threshold;
        uint64_t s3_copy_part_size;     /* 0: 512 MiB, raised to fit in 10000 parts */
        AwsEnv env;                     /* .get NULL: the process environment (main thread only) */
        /* PEM bundle to trust instead of the system's (for all HTTPS: services and the
         * credentials endpoints). NULL/"": AWS_CA_BUNDLE from env, else the system store.
         * Must be readable (-errno otherwise). */
        const char *ca_file;
        /* Borrowed chain to use instead of building one from env/profile (several contexts in
         * one process, tests); must outlive the context. NULL: the context owns its own. */
        AwsCredentialsChain *credentials;
} AwsContextOptions;

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
bool aws_context_s3_force_path_style(const AwsContext *c);
unsigned aws_context_max_attempts_batch(const AwsContext *c);
uint64_t aws_context_s3_multipart_copy_threshold(const AwsContext *c);
uint64_t aws_context_s3_copy_part_size(const AwsContext *c);
unsigned aws_context_request_timeout_ms(const AwsContext *c);
/* Seconds to add to the local clock to get AWS's (learnt from RequestTimeTooSkewed). */
int64_t aws_context_clock_offset(const AwsContext *c);

/* ---- Per-thread client ---- */

/* Counters for metrics. "requests" counts HTTP attempts, "retries" the attempts that were
 * repeated, "errors" the calls that finally failed. Failed attempts are also counted by error
 * code ("ThrottlingException", "HTTP503", "ECONNREFUSED") in a small table; codes past its
 * size are summed in errors_other. */
#define AWS_STATS_CODES_MAX 24
typedef struct AwsServiceStats {
        uint64_t requests;
        uint64_t retries;
        uint64_t throttled;
        uint64_t errors;
} AwsServiceStats;

typedef struct AwsErrorCount {
        AwsService service;
        char code[64];
        uint64_t count;
} AwsErrorCount;

typedef struct AwsClientStats {
        AwsServiceStats service[_AWS_SERVICE_MAX];
        AwsErrorCount codes[AWS_STATS_CODES_MAX];
        size_t n_codes;
        uint64_t codes_other;
        uint64_t clock_skew_corrections;
} AwsClientStats;

typedef struct AwsClient AwsClient;

/* Takes a reference on ctx. Errors: -ENOMEM, -EIO (libcurl). */
int aws_client_new(AwsContext *ctx, AwsClient **ret, S3bError *err);
AwsClient *aws_client_free(AwsClient *c);
DEFINE_CLEANUP_FUNC(AwsClient *, aws_client_free);

AwsContext *aws_client_context(const AwsClient *c);

/* When *cancel becomes true, the running transfer (a 20 s long poll, a large GET) and any
 * backoff sleep end with -ECANCELED. Borrowed; NULL removes it. Call it before the first
 * request: it replaces the HTTP handle (and its kept-alive connections). */
int aws_client_set_cancel(AwsClient *c, const atomic_bool *cancel, S3bError *err);

/* Thread-safe snapshot of the counters. */
void aws_client_get_stats(AwsClient *c, AwsClientStats *ret);

/* Full-jitter delay from this client's RNG and the context's base/cap (for callers with their
 * own retry rounds, like the writer's UnprocessedItems), and a sleep that the cancel flag
 * interrupts (-ECANCELED). */
uint64_t aws_client_backoff_ms(AwsClient *c, unsigned retry);
int aws_client_sleep_ms(AwsClient *c, uint64_t ms);

/* ---- The request path (for the service files) ---- */

#define AWS_TIMEOUT_NONE (-1L)

/* Headers that replace the request's own for the next attempt of a resumed stream. */
typedef struct AwsResume {
        const HttpHeader *headers;      /* owned by the resume callback's userdata */
        size_t n_headers;
} AwsResume;

/* A streamed request failed (retryably) after some body bytes reached the write callback:
 * describe the request that continues where they stopped (S3: Range from the next byte,
 * If-Match the first ETag), or return < 0 to give up. */
typedef int (*AwsResumeFn)(void *userdata, AwsResume *ret);

typedef struct AwsRequest {
        AwsService service;
        const char *method;
        const AwsEndpoint *endpoint;    /* NULL: the context's endpoint for service */
        const char *region;             /* signing region; NULL: the context's */
        const char *host_prefix;        /* S3 virtual-host bucket ("bkt" → bkt.host), or NULL */
        const char *path;               /* raw (not encoded), starts with '/'; the signer encodes */
        const SigV4Param *query;        /* raw */
        size_t n_query;
        const HttpHeader *headers;      /* signed and sent (Content-Type, X-Amz-Target, …) */
        size_t n_headers;
        const void *body;
        size_t body_len;
        HttpWriteFn write;              /* stream a 2xx body instead of buffering it */
        void *write_userdata;
        AwsResumeFn resume;             /* NULL: a stream is not retried once bytes went out */
        void *resume_userdata;
        size_t body_max;                /* cap of a buffered body; 0: 1 MiB */
        long timeout_ms;                /* 0: the context's request timeout; AWS_TIMEOUT_NONE */
        unsigned max_attempts;          /* 0: the context's max_attempts */
        /* S3 CopyObject/UploadPartCopy/CompleteMultipartUpload: a 200 whose body is <Error>
         * is a failure (AWS documents it; the copy can fail after the status was sent). */
        bool error_in_200;
} AwsRequest;

/* Sends req with retries. Returns 0 with resp holding a 2xx response (body buffered unless
 * streamed), or a negative errno with err filled: the AWS code, message, HTTP status and
 * request id of the last attempt (see awserror.h for the errno of each kind of failure, and
 * http.h for transport errors). Once body bytes reached the write callback they cannot be
 * taken back: a streamed request is then retried only through req->resume. resp must be
 * initialised by the caller. */
int aws_client_send(AwsClient *c, const AwsRequest *req, HttpResponse *resp, S3bError *err);

/* ---- AWS JSON 1.0 (SQS, DynamoDB): POST / with X-Amz-Target, JSON in, JSON out ---- */

typedef struct AwsJsonCall {
        AwsService service;
        const AwsEndpoint *endpoint;    /* NULL: the context's */
        const char *region;             /* signing region; NULL: the context's */
        const char *target;             /* X-Amz-Target: "AmazonSQS.ReceiveMessage" */
        const char *body;               /* a JSON object */
        size_t body_len;
        size_t response_max;            /* 0: 1 MiB */
        long timeout_ms;                /* as AwsRequest */
        unsigned max_attempts;          /* as AwsRequest */
} AwsJsonCall;

/* Returns 0 and the parsed response object in *ret (caller frees with cJSON_Delete), or a
 * negative errno: the service's error, transport errors, -EBADMSG for a 2xx body that is not
 * a JSON object. */
int aws_client_json_call(AwsClient *c, const AwsJsonCall *call, cJSON **ret, S3bError *err);

static inline void aws_json_freep(cJSON **p) {
        if (*p)
                cJSON_Delete(*p);
}
