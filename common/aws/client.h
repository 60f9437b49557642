/* The one request → sign → send → classify → retry path every service call takes.
 *
 * AwsClient: one per thread, over a shared AwsContext (context.h). Owns its HttpClient
 * (kept-alive connections), its SigV4 key cache, its jitter RNG and its counters; never shared
 * between threads (only aws_client_get_stats() may be called from another thread).
 *
 * The service files (sqs.c, s3*.c, dynamodb.c, sns.c) only describe requests (AwsRequest),
 * say which checks their answers need (AwsRequest's flags) and read responses; they never
 * loop, sleep or sign on their own. */
#pragma once

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/aws/context.h"
#include "common/aws/http.h"
#include "common/aws/retry.h"
#include "common/aws/sigv4.h"
#include "common/error.h"
#include "common/util.h"

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
        /* Checks of a buffered 2xx answer, set by the service that knows it needs them: */
        /* S3 CopyObject/UploadPartCopy/CompleteMultipartUpload: a 200 whose body is <Error>
         * is a failure (AWS documents it; the copy can fail after the status was sent). */
        bool error_in_200;
        /* DynamoDB: the body must match its x-amz-crc32 header when there is one; a mismatch
         * is a transient failure (-EIO, aws_code AWS_CODE_CRC32_MISMATCH), retried. */
        bool check_crc32;
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
        bool check_crc32;               /* as AwsRequest */
} AwsJsonCall;

/* Returns 0 and the parsed response object in *ret (caller frees with cJSON_Delete), or a
 * negative errno: the service's error, transport errors, -EBADMSG for a 2xx body that is not
 * a JSON object. */
int aws_client_json_call(AwsClient *c, const AwsJsonCall *call, cJSON **ret, S3bError *err);

