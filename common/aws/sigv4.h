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
 * only when one of them changes (once a day per service). Also holds the HMAC and SHA-256
 * implementations, fetched once: OpenSSL 3's one-shot HMAC() and EVP_sha256() look them up
 * again on every call. Not thread-safe: one per thread (the shared client path keeps one per
 * AwsClient). Stores a digest of the secret, never the secret; the derived keys are wiped on
 * free. */
typedef struct SigV4KeyCache SigV4KeyCache;

/* Errors: -ENOMEM, -EIO (OpenSSL has no HMAC or SHA-256), with err's message set. */
int sigv4_key_cache_new(SigV4KeyCache **ret, S3bError *err);
SigV4KeyCache *sigv4_key_cache_free(SigV4KeyCache *c);
DEFINE_CLEANUP_FUNC(SigV4KeyCache *, sigv4_key_cache_free);

/* Signs req for region/service at `now` (UTC seconds; the caller applies any clock-skew
 * correction). cache may be NULL. On success fills *ret (which the caller later releases with
 * sigv4_result_done); on failure *ret is untouched.
 * The three stages below, in order: sigv4_canonical_request → sigv4_string_to_sign →
 * sigv4_signing_key + sigv4_authorization.
 * Errors: -EINVAL (missing credentials/region/service, path not starting with '/', header
 *         name or value with CR/LF), -ENOBUFS (a string past 256 KiB), -ENOMEM, -EIO (OpenSSL).
 *         Messages never contain the secret or token. */
int sigv4_sign(const SigV4Request *req, const AwsCredentials *creds, const char *region,
               const char *service, time_t now, SigV4KeyCache *cache, SigV4Result *ret,
               S3bError *err);

/* ---- The stages, each public so each is tested on its own against botocore's intermediate
 * strings (tests/unit/test-sigv4.py: SigV4Auth.canonical_request(), .string_to_sign(),
 * .signature()). aws-c-auth's aws_signing.c splits the same way. Every stage appends to Bufs
 * the caller owns (and releases with buf_done()); nothing else is allocated for the caller. */

/* The credential scope of one signature: when, where, for what. region and service are
 * borrowed and must outlive the scope. */
typedef struct SigV4Scope {
        char amz_date[17];              /* "20261129T074456Z" (X-Amz-Date) */
        char date8[9];                  /* "20261129" */
        const char *region;
        const char *service;
} SigV4Scope;

/* Fills *ret for `now` (UTC seconds). */
void sigv4_scope_init(SigV4Scope *ret, time_t now, const char *region, const char *service);

/* Stage 1 ("Create a canonical request"): appends the canonical request of req to `out`, and
 * the ';'-joined signed header names to `ret_signed_headers`. The signer's own headers are
 * included here: host, x-amz-date (scope->amz_date), x-amz-security-token when session_token
 * is non-empty, and, for service "s3", x-amz-content-sha256. payload_hash is the hex
 * sha256 of the body or SIGV4_UNSIGNED_PAYLOAD (see SigV4Request). `out` holds the session
 * token afterwards: wipe it before release. Errors: -EINVAL (bad header, reserved header
 * given by the caller), -ENOBUFS, -ENOMEM; err set. */
int sigv4_canonical_request(Buf *out, Buf *ret_signed_headers, const SigV4Request *req,
                            const SigV4Scope *scope, const char *session_token,
                            const char *payload_hash, S3bError *err);

/* Stage 2 ("Create a string to sign"): appends
 * "AWS4-HMAC-SHA256\n<amz_date>\n<date8>/<region>/<service>/aws4_request\n<hex sha256(cr)>"
 * to `out`. cache may be NULL. Errors: -ENOBUFS, -ENOMEM; err set. */
int sigv4_string_to_sign(Buf *out, const SigV4Scope *scope, const char *canonical_request,
                         size_t len, SigV4KeyCache *cache, S3bError *err);

/* The signing key of scope, from cache when it holds it (cache may be NULL: then always
 * derived). ret_key must be wiped by the caller. Errors: -EINVAL (secret too long), -EIO;
 * err set. */
int sigv4_signing_key(SigV4KeyCache *cache, const char *secret, const SigV4Scope *scope,
                      uint8_t ret_key[32], S3bError *err);

/* Stage 3 ("Calculate the signature" and "Add the signature to the request"): the lowercase
 * hex HMAC-SHA256 of string_to_sign under key into ret_signature, and the Authorization value
 * "AWS4-HMAC-SHA256 Credential=<akid>/<scope>, SignedHeaders=<…>, Signature=<…>" appended to
 * `out`. cache may be NULL. Errors: -EIO, -ENOBUFS, -ENOMEM; err set. */
int sigv4_authorization(Buf *out, char ret_signature[65], const uint8_t key[32],
                        const char *string_to_sign, const char *access_key_id,
                        const SigV4Scope *scope, const char *signed_headers,
                        SigV4KeyCache *cache, S3bError *err);

/* ---- Helpers, exposed for the tests and for building URLs elsewhere ---- */

/* URI encoding lives in common/urlcode.h (url_encode), the one rule set of the tree. */

/* The canonical URI of a raw path under the rules of `service` (see the top of this file).
 * Returns 0, -ENOBUFS, -ENOMEM (the caller sets the message). */
int sigv4_canonical_uri(Buf *out, const char *raw_path, const char *service);

/* The canonical (and URL) query string: encoded, sorted, '&'-joined. Returns as above. */
int sigv4_canonical_query(Buf *out, const SigV4Param *query, size_t n_query);

/* hex(sha256(data)) into out[65]. */
void sigv4_sha256_hex(const void *data, size_t n, char out[65]);

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date8), region), service), "aws4_request").
 * Returns 0, -EINVAL (secret too long) or -EIO (OpenSSL failure); the caller sets the
 * message (sigv4_signing_key does). */
int sigv4_derive_key(const char *secret, const char *date8, const char *region,
                     const char *service, uint8_t ret_key[32]);

/* Formats `now` as "YYYYMMDDTHHMMSSZ". */
void sigv4_format_date(time_t now, char out[17]);
