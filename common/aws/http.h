/* HttpClient: one libcurl easy handle, reused for every request a thread makes.
 *
 * One HttpClient per thread (a worker, the poller, the credentials refresher): the easy handle
 * keeps its connections alive between requests, and nothing here is shared or locked. It sends
 * exactly what it is given: it does not sign, retry, follow redirects or add headers of its own
 * (it strips libcurl's implicit Accept, Expect: 100-continue and form Content-Type, because a
 * header the signer did not see can only hurt, and fauxqs answers 500 to a PUT with curl's
 * default form Content-Type). The shared client path (common/aws/client.c) does the rest.
 *
 * Response bodies are bounded: either collected into resp->body up to req->body_max bytes
 * (-ENOBUFS past it), or — for 2xx responses only — streamed to req->write, so an S3 object is
 * never held in memory. A non-2xx response always lands in resp->body (error XML/JSON) even
 * when a write callback is set.
 *
 * Transport errors map to negative errno codes:
 *   -ETIMEDOUT     connect timeout, request timeout, or stall (no byte for stall_timeout_s)
 *   -ECONNREFUSED  nobody listening
 *   -ECONNRESET    connection dropped mid-way, empty reply, short body
 *   -EHOSTUNREACH  DNS failure, no route
 *   -ECANCELED     the cancel flag was raised
 *   -ENOBUFS       response body or headers over their cap
 *   -EPROTO        TLS handshake / certificate verification failure, malformed HTTP
 *   -EINVAL        bad request description (bad URL, missing method)
 *   a write/read callback's own negative code, unchanged
 *   -EIO           anything else
 * The first four are transient (the retry policy retries them); the others are not. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <curl/curl.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/util.h"

#define HTTP_BODY_MAX_DEFAULT   (1024 * 1024)   /* resp->body cap when req->body_max is 0 */
#define HTTP_HEADERS_MAX        (32 * 1024)     /* all response header bytes of one response */

typedef struct HttpClientOptions {
        long connect_timeout_ms;        /* 0: 3000 */
        /* A transfer slower than 1 byte/s for this long fails with -ETIMEDOUT (libcurl's
         * low-speed limit; it averages over ~5 s, so a stall after some bytes is noticed up
         * to 5 s later). Must exceed the SQS long-poll wait; 0: 60. */
        long stall_timeout_s;
        /* Checked while a transfer runs (about every second and on every progress callback):
         * when it reads true the transfer is aborted with -ECANCELED. Borrowed, may be NULL.
         * Lets the daemon abort a 20 s long poll at shutdown. */
        const atomic_bool *cancel;
        /* PEM bundle to trust instead of the system store (tests with a local TLS server);
         * NULL: system default. Verification is always on. Copied. */
        const char *ca_file;
        const char *user_agent;         /* NULL: "s3batchd/<version>"; copied */
        /* Ignore http_proxy/https_proxy from the environment (libcurl honours them by default).
         * Set for the metadata endpoints: they are link-local and a proxy would either fail
         * or, worse, see the credentials. */
        bool no_proxy;
} HttpClientOptions;

typedef struct HttpHeader {
        const char *name;
        const char *value;              /* "" sends an empty header ("Name;" to libcurl) */
} HttpHeader;

/* Request body source for bodies not in memory. Returns the number of bytes written to buf
 * (0 at the end) or a negative errno to abort the transfer (returned by http_client_send). */
typedef ssize_t (*HttpReadFn)(void *userdata, char *buf, size_t n);
/* Restarts the body from the beginning (libcurl may resend it on a reused connection that
 * died). Returns 0 or negative errno. May be NULL when the body cannot rewind. */
typedef int (*HttpRewindFn)(void *userdata);

typedef struct HttpResponse HttpResponse;

/* Receives 2xx response body bytes as they arrive. resp->status and the headers are already
 * filled. Return 0 to continue or a negative errno to abort (returned by http_client_send). */
typedef int (*HttpWriteFn)(void *userdata, const HttpResponse *resp, const void *data, size_t n);

/* Everything borrowed for the duration of the call. */
typedef struct HttpRequest {
        const char *method;             /* "GET", "HEAD", "PUT", "POST", "DELETE" */
        const char *url;                /* absolute and already encoded */
        const HttpHeader *headers;      /* sent as given, in order */
        size_t n_headers;

        /* Body: in memory (body/body_len), or from read (body_len is then its exact length,
         * sent as Content-Length: S3 rejects chunked uploads without aws-chunked signing). */
        const void *body;
        size_t body_len;
        HttpReadFn read;
        HttpRewindFn rewind;
        void *read_userdata;

        /* Response body: streamed to write for 2xx when set, else into resp->body. */
        HttpWriteFn write;
        void *write_userdata;
        size_t body_max;                /* cap on resp->body; 0: HTTP_BODY_MAX_DEFAULT */

        long timeout_ms;                /* whole request; 0: none (the stall timeout still holds) */
} HttpRequest;

/* Filled by http_client_send. Init once, reuse across requests (send resets it), done at the
 * end. */
struct HttpResponse {
        long status;                    /* 0 when no response was received */
        Buf body;
        int64_t content_length;         /* Content-Length header, -1 when absent */
        /* The final response's headers, as received (the 100-continue ones are dropped), as
         * "name\0value\0" pairs; look them up with http_response_header(). */
        Buf headers;
};

#define HTTP_RESPONSE_INIT                                                                         \
        ((HttpResponse) {                                                                          \
                .body = BUF_INIT(HTTP_BODY_MAX_DEFAULT),                                           \
                .headers = BUF_INIT(HTTP_HEADERS_MAX),                                             \
                .content_length = -1,                                                              \
        })

/* A response on the stack is declared `_cleanup_(http_response_done) HttpResponse resp =
 * HTTP_RESPONSE_INIT;` — the cleanup runs on the variable itself, so there is no second
 * pointer whose cleanup could run after resp's scope ended (clang ASan caught that). */
void http_response_init(HttpResponse *resp);
void http_response_done(HttpResponse *resp);
/* As http_response_done, with the body zeroed first: for answers that carry credentials. */
void http_response_done_wiped(HttpResponse *resp);

/* Value of the first header named `name` (case-insensitive), trimmed; NULL when absent.
 * Valid until the next send or http_response_done. */
const char *http_response_header(const HttpResponse *resp, const char *name);
/* x-amzn-RequestId, else x-amz-request-id, else NULL. */
const char *http_response_request_id(const HttpResponse *resp);

typedef struct HttpClient HttpClient;

/* opts may be NULL for defaults. Errors: -ENOMEM, -EIO (libcurl init). */
int http_client_new(HttpClient **ret, const HttpClientOptions *opts, S3bError *err);
HttpClient *http_client_free(HttpClient *c);
DEFINE_CLEANUP_FUNC(HttpClient *, http_client_free);

/* Performs one request and waits for the whole response. Returns 0 when an HTTP response was
 * received, whatever its status (the caller classifies 4xx/5xx), or a negative errno from the
 * table at the top (err gets a message naming the host, and http_status when one was seen).
 * resp is reset first. */
int http_client_send(HttpClient *c, const HttpRequest *req, HttpResponse *resp, S3bError *err);

/* The same split in two, for a caller that drives the transfer with its own curl multi handle
 * (the poller's long poll under sd-event). begin configures the easy handle and returns it in
 * *ret_easy (still owned by c; add it to the multi, do not clean it up); when the multi reports
 * the transfer done, remove it from the multi and call end with its CURLcode. req and resp must
 * stay valid in between. end returns what http_client_send would have. */
int http_client_begin(HttpClient *c, const HttpRequest *req, HttpResponse *resp,
                      CURL **ret_easy, S3bError *err);
int http_client_end(HttpClient *c, CURLcode result, S3bError *err);
