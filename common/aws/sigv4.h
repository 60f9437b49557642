/* AWS Signature Version 4 (header-based), for every service we call.
 *
 * The signer is pure: a request description + a credentials snapshot + region + service + time
 * in, the headers to add out. It never touches the network or the clock, so each stage
 * (canonical request, string to sign, signature, Authorization) can be compared with botocore's
 * signer in tests/unit/test-sigv4.py.
 *
 * Why our own signer and not libcurl's CURLOPT_AWS_SIGV4: measured against botocore with curl
 * 7.88 (Debian 12), it signs the query string unsorted ("?b=2&a=1" → wrong signature), does not
 * normalise or double-encode non-S3 paths, does not sign x-amz-content-sha256 for S3 unless the
 * caller adds it, and sends X-Amz-Date twice when the caller sets it (for a fixed time). It
 * matched botocore only on a plain S3 GET given an UNSIGNED-PAYLOAD header by hand.
 *
 * Canonicalisation follows the AWS "Create a canonical request" rules:
 *  - service "s3": the path is URI-encoded once, '/' kept, with no normalisation ("//" and "/./"
 *    are part of an object key); x-amz-content-sha256 is always signed.
 *  - any other service: dot segments and empty segments are removed, then the (already
 *    encoded) path is encoded a second time, as botocore does.
 *  - query: key and value URI-encoded ('/' too), pairs sorted by encoded key then value;
 *    a parameter without value is "key=".
 *  - headers: names lowercased, values trimmed and inner whitespace runs collapsed to one
 *    space, repeated names joined with ','; host and x-amz-date always signed,
 *    x-amz-security-token when the credentials carry a session token. user-agent, expect and
 *    x-amzn-trace-id are never signed (proxies rewrite them).
 *
 * The caller must send the request exactly as described: the URL built from
 * SigV4Result.url_path and .url_query, the caller's own headers, and the headers in
 * SigV4Result.add (which include Host, so that libcurl's own Host never differs from the signed
 * one). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/aws/credentials.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/util.h"

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* sha256("") in hex: the payload hash of every GET/HEAD/DELETE. */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Raw (not encoded) query parameter. value NULL means a bare key ("?uploads"). Repeated keys
 * are allowed and kept. */
typedef struct SigV4Param {
        const char *key;
        const char *value;
} SigV4Param;

typedef struct SigV4Header {
        const char *name;       /* any case */
        const char *value;
} SigV4Header;

/* Everything borrowed; nothing is modified. */
typedef struct SigV4Request {
        const char *method;             /* "GET", "PUT", "POST", "HEAD", "DELETE" */
        const char *host;               /* Host header value: "sqs.eu-west-1.amazonaws.com",
                                         * "127.0.0.1:4566"; omit :443 / :80 defaults */
        const char *path;               /* raw path, starts with '/', NOT encoded: "/bkt/a b.csv" */
        const SigV4Param *query;
        size_t n_query;
        const SigV4Header *headers;     /* the caller's headers that will be sent and signed
                                         * (Content-Type, X-Amz-Target, x-amz-copy-source, Range…);
                                         * must not contain Host, X-Amz-Date, Authorization,
                                         * X-Amz-Security-Token or X-Amz-Content-Sha256 */
        size_t n_headers;
        /* Payload: payload_hash if set (hex sha256, or SIGV4_UNSIGNED_PAYLOAD for a streamed S3
         * upload), else sha256(body, body_len) computed here (body may be NULL when empty). */
        const char *payload_hash;
        const void *body;
        size_t body_len;
} SigV4Request;

/* Headers the caller must add to the request, in this order. */
typedef enum SigV4AddHeader {
        SIGV4_ADD_HOST,
        SIGV4_ADD_DATE,                 /* X-Amz-Date */
        SIGV4_ADD_AUTHORIZATION,
        SIGV4_ADD_CONTENT_SHA256,       /* S3 only; empty name when not needed */
        SIGV4_ADD_SECURITY_TOKEN,       /* session credentials only; empty name when not needed */
        _SIGV4_ADD_MAX,
} SigV4AddHeader;

/* The output of one signing; owns all its strings. Release with sigv4_result_done(). Do not
 * copy it by value: add[] points into the struct itself. */
typedef struct SigV4Result {
        char *canonical_request;
        char *string_to_sign;
        char signature[65];             /* lowercase hex */
        char *authorization;            /* "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…" */
        char amz_date[17];              /* "20261129T074300Z" */
        char *url_path;                 /* path encoded once ('/' kept): put it in the URL */
        char *url_query;                /* canonical query string, "" if none: put it after '?' */
        struct {
                const char *name;       /* static string, or NULL when not to be added */
                const char *value;      /* points into this result */
        } add[_SIGV4_ADD_MAX];
        /* private storage for add[] values */
        char *_host;
        char *_token;
        char _payload_hash[65];
} SigV4Result;

void sigv4_result_done(SigV4Result *r);
DEFINE_CLEANUP_FUNC(SigV4Result *, sigv4_result_done);

/* Caches derived signing keys per (secret, date, region, service): the four HMACs are redone
 * only when one of them changes (once a day per service). Not thread-safe: one per thread (the
 * shared client path keeps one per HttpClient user). Stores a digest of the secret, never the
 * secret; the derived keys are wiped on free. */
typedef struct SigV4KeyCache SigV4KeyCache;

int sigv4_key_cache_new(SigV4KeyCache **ret);
SigV4KeyCache *sigv4_key_cache_free(SigV4KeyCache *c);
DEFINE_CLEANUP_FUNC(SigV4KeyCache *, sigv4_key_cache_free);

/* Signs req for region/service at `now` (UTC seconds; the caller applies any clock-skew
 * correction). cache may be NULL. On success fills *ret (which the caller later releases with
 * sigv4_result_done); on failure *ret is untouched.
 * Errors: -EINVAL (missing credentials/region/service, path not starting with '/', header
 *         name or value with CR/LF), -ENOMEM. Messages never contain the secret or token. */
int sigv4_sign(const SigV4Request *req, const AwsCredentials *creds, const char *region,
               const char *service, time_t now, SigV4KeyCache *cache, SigV4Result *ret,
               S3bError *err);

/* ---- Stages and helpers, exposed for the tests and for building URLs elsewhere ---- */

/* AWS URI encoding: A-Za-z0-9-_.~ kept, every other byte as %XX (uppercase); '/' kept when
 * keep_slash. Returns 0, -ENOBUFS/-ENOMEM from the Buf. */
int sigv4_uri_encode(Buf *out, const char *s, size_t n, bool keep_slash);

/* The canonical URI of a raw path under the rules of `service` (see the top of this file). */
int sigv4_canonical_uri(Buf *out, const char *raw_path, const char *service);

/* The canonical (and URL) query string: encoded, sorted, '&'-joined. */
int sigv4_canonical_query(Buf *out, const SigV4Param *query, size_t n_query);

/* hex(sha256(data)) into out[65]. */
void sigv4_sha256_hex(const void *data, size_t n, char out[65]);

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date8), region), service), "aws4_request").
 * Returns 0 or -EIO (OpenSSL failure). */
int sigv4_derive_key(const char *secret, const char *date8, const char *region,
                     const char *service, uint8_t ret_key[32]);

/* Formats `now` as "YYYYMMDDTHHMMSSZ". */
void sigv4_format_date(time_t now, char out[17]);
