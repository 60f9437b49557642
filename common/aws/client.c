/* The shared request path.
 *
 * One attempt = credentials snapshot → SigV4 at (now + learnt clock offset) → one HTTP
 * exchange → classification into success or an S3bError. aws_client_send() repeats attempts
 * under the standard retry policy (retry.h): transient and throttling failures back off with
 * full jitter from this client's RNG; a clock-skew rejection corrects the shared offset from
 * the response's Date header and is retried once without using up an attempt, as is an
 * expired session token after asking the chain for fresh credentials. A stream cut after
 * bytes reached the caller continues from there when the request can be resumed. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/aws/awserror.h"
#include "common/aws/client.h"

struct AwsContext {
        atomic_uint n_ref;
        char region[AWS_REGION_MAX + 1];
        AwsEndpoint endpoints[_AWS_SERVICE_MAX];
        bool s3_force_path_style;
        unsigned max_attempts;
        unsigned max_attempts_batch;
        unsigned connect_timeout_ms;
        unsigned request_timeout_ms;
        unsigned retry_base_ms;
        unsigned retry_cap_ms;
        uint64_t s3_multipart_copy_threshold;
        uint64_t s3_copy_part_size;
        char *ca_file;
        AwsCredentialsChain *credentials;
        bool owns_credentials;
        _Atomic int64_t clock_offset_s;
};

struct AwsClient {
        AwsContext *ctx;
        HttpClient *http;
        SigV4KeyCache *keys;
        AwsRng rng;
        const atomic_bool *cancel;
        pthread_mutex_t stats_lock;     /* only contended when the daemon reads the stats */
        AwsClientStats stats;
};

/* The long poll waits up to 20 s without a byte on the wire: the stall limit must exceed it. */
#define STALL_TIMEOUT_MIN_S 25

static unsigned or_default(unsigned v, unsigned def) {
        return v ? v : def;
}

static AwsContext *context_free(AwsContext *c) {
        if (!c)
                return NULL;
        if (c->owns_credentials)
                aws_credentials_chain_free(c->credentials);
        free(c->ca_file);
        free(c);
        return NULL;
}

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
                .connect_timeout_ms = c->connect_timeout_ms,
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

int aws_context_new(const AwsContextOptions *o, AwsContext **ret, S3bError *err) {
        const char *configured[_AWS_SERVICE_MAX] = {
                [AWS_SERVICE_SQS] = o->endpoint_sqs,
                [AWS_SERVICE_S3] = o->endpoint_s3,
                [AWS_SERVICE_DYNAMODB] = o->endpoint_dynamodb,
                [AWS_SERVICE_SNS] = o->endpoint_sns,
        };
        AwsEnv env = o->env.get ? o->env : aws_env_process();
        AwsContext *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        atomic_init(&c->n_ref, 1);
        atomic_init(&c->clock_offset_s, 0);
        c->s3_force_path_style = o->s3_force_path_style;
        c->max_attempts = or_default(o->max_attempts, AWS_MAX_ATTEMPTS_DEFAULT);
        c->max_attempts_batch = or_default(o->max_attempts_batch, AWS_MAX_ATTEMPTS_BATCH_DEFAULT);
        c->connect_timeout_ms = or_default(o->connect_timeout_ms, AWS_CONNECT_TIMEOUT_MS_DEFAULT);
        c->request_timeout_ms = or_default(o->request_timeout_ms, AWS_REQUEST_TIMEOUT_MS_DEFAULT);
        c->retry_base_ms = or_default(o->retry_base_ms, AWS_RETRY_BASE_MS_DEFAULT);
        c->retry_cap_ms = or_default(o->retry_cap_ms, AWS_RETRY_CAP_MS_DEFAULT);
        c->s3_multipart_copy_threshold = o->s3_multipart_copy_threshold ? o->s3_multipart_copy_threshold : S3_COPY_SINGLE_MAX;
        c->s3_copy_part_size = o->s3_copy_part_size ? o->s3_copy_part_size : S3_COPY_PART_SIZE_DEFAULT;
        r = context_ca_file(c, o->ca_file, &env, err);
        if (r < 0)
                goto fail;

        r = context_credentials(c, o, &env, err);
        if (r < 0)
                goto fail;
        r = context_region(c, o->region, err);
        if (r < 0)
                goto fail;
        for (AwsService s = 0; s < _AWS_SERVICE_MAX; s++) {
                r = aws_endpoint_resolve(s, c->region, configured[s], &env, &c->endpoints[s], err);
                if (r < 0)
                        goto fail;
        }
        *ret = c;
        return 0;
fail:
        context_free(c);
        return r;
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

bool aws_context_s3_force_path_style(const AwsContext *c) {
        return c->s3_force_path_style;
}

unsigned aws_context_max_attempts_batch(const AwsContext *c) {
        return c->max_attempts_batch;
}

uint64_t aws_context_s3_multipart_copy_threshold(const AwsContext *c) {
        return c->s3_multipart_copy_threshold;
}

uint64_t aws_context_s3_copy_part_size(const AwsContext *c) {
        return c->s3_copy_part_size;
}

unsigned aws_context_request_timeout_ms(const AwsContext *c) {
        return c->request_timeout_ms;
}

int64_t aws_context_clock_offset(const AwsContext *c) {
        return atomic_load_explicit(&c->clock_offset_s, memory_order_relaxed);
}

/* ---- client ---- */

static int client_http_new(AwsClient *c, const atomic_bool *cancel, HttpClient **ret,
                           S3bError *err) {
        unsigned stall = (c->ctx->request_timeout_ms + 999) / 1000;
        HttpClientOptions o = {
                .connect_timeout_ms = c->ctx->connect_timeout_ms,
                .stall_timeout_s = MAX(stall, STALL_TIMEOUT_MIN_S),
                .cancel = cancel,
                .ca_file = c->ctx->ca_file,
        };

        return http_client_new(ret, &o, err);
}

int aws_client_new(AwsContext *ctx, AwsClient **ret, S3bError *err) {
        AwsClient *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        c->ctx = aws_context_ref(ctx);
        pthread_mutex_init(&c->stats_lock, NULL);
        aws_rng_seed(&c->rng, 0);
        r = client_http_new(c, NULL, &c->http, err);
        if (r < 0)
                goto fail;
        r = sigv4_key_cache_new(&c->keys, err);
        if (r < 0) {
                s3b_error_set(err, r, "cannot create the signing key cache");
                goto fail;
        }
        *ret = c;
        return 0;
fail:
        aws_client_free(c);
        return r;
}

AwsClient *aws_client_free(AwsClient *c) {
        if (!c)
                return NULL;
        http_client_free(c->http);
        sigv4_key_cache_free(c->keys);
        aws_context_unref(c->ctx);
        pthread_mutex_destroy(&c->stats_lock);
        free(c);
        return NULL;
}

AwsContext *aws_client_context(const AwsClient *c) {
        return c->ctx;
}

int aws_client_set_cancel(AwsClient *c, const atomic_bool *cancel, S3bError *err) {
        HttpClient *h = NULL;
        int r;

        r = client_http_new(c, cancel, &h, err);
        if (r < 0)
                return r;
        http_client_free(c->http);
        c->http = h;
        c->cancel = cancel;
        return 0;
}

void aws_client_get_stats(AwsClient *c, AwsClientStats *ret) {
        pthread_mutex_lock(&c->stats_lock);
        *ret = c->stats;
        pthread_mutex_unlock(&c->stats_lock);
}

uint64_t aws_client_backoff_ms(AwsClient *c, unsigned retry) {
        return aws_retry_backoff_ms(&c->rng, retry, c->ctx->retry_base_ms, c->ctx->retry_cap_ms);
}

static bool cancelled(const AwsClient *c) {
        return c->cancel && atomic_load(c->cancel);
}

int aws_client_sleep_ms(AwsClient *c, uint64_t ms) {
        /* slices short enough that shutdown is not held up by a 20 s backoff */
        while (ms > 0) {
                uint64_t slice = MIN(ms, 50);
                struct timespec ts = { .tv_sec = 0, .tv_nsec = (long) slice * 1000000L };

                if (cancelled(c))
                        return -ECANCELED;
                nanosleep(&ts, NULL);
                ms -= slice;
        }
        return cancelled(c) ? -ECANCELED : 0;
}

/* ---- counters ---- */

static void stats_code_name(const S3bError *e, char *buf, size_t n) {
        const char *name;

        /* an AWS code names it best; a bare error status next; a transport or local failure
         * (possibly after a 2xx status line) by its errno */
        if (e->aws_code[0])
                snprintf(buf, n, "%s", e->aws_code);
        else if (e->http_status >= 300 && !aws_retry_transport_errno(e->code))
                snprintf(buf, n, "HTTP%ld", e->http_status);
        else if ((name = strerrorname_np(-e->code)))
                snprintf(buf, n, "%s", name);
        else
                snprintf(buf, n, "E%d", -e->code);
}

static void stats_failed_attempt_locked(AwsClient *c, AwsService s, const S3bError *e) {
        AwsClientStats *st = &c->stats;
        char code[64];

        stats_code_name(e, code, sizeof(code));
        for (size_t i = 0; i < st->n_codes; i++)
                if (st->codes[i].service == s && strcmp(st->codes[i].code, code) == 0) {
                        st->codes[i].count++;
                        return;
                }
        if (st->n_codes >= AWS_STATS_CODES_MAX) {
                st->codes_other++;
                return;
        }
        st->codes[st->n_codes].service = s;
        snprintf(st->codes[st->n_codes].code, sizeof(st->codes[0].code), "%s", code);
        st->codes[st->n_codes].count = 1;
        st->n_codes++;
}

typedef enum StatEvent {
        STAT_ATTEMPT,
        STAT_FAILED_ATTEMPT,
        STAT_RETRY,
        STAT_THROTTLED,
        STAT_CALL_FAILED,
        STAT_SKEW,
} StatEvent;

static void stats_add(AwsClient *c, AwsService s, StatEvent ev, const S3bError *e) {
        AwsServiceStats *ss = &c->stats.service[s];

        pthread_mutex_lock(&c->stats_lock);
        switch (ev) {
        case STAT_ATTEMPT:
                ss->requests++;
                break;
        case STAT_FAILED_ATTEMPT:
                stats_failed_attempt_locked(c, s, e);
                break;
        case STAT_RETRY:
                ss->retries++;
                break;
        case STAT_THROTTLED:
                ss->throttled++;
                break;
        case STAT_CALL_FAILED:
                ss->errors++;
                break;
        case STAT_SKEW:
                c->stats.clock_skew_corrections++;
                break;
        }
        pthread_mutex_unlock(&c->stats_lock);
}

/* ---- one attempt ---- */

/* Counts what reached the caller's write callback in this attempt: after the first byte a
 * plain retry would hand the caller the same bytes twice. */
typedef struct StreamTap {
        HttpWriteFn fn;
        void *userdata;
        uint64_t delivered;
} StreamTap;

static int tap_write(void *userdata, const HttpResponse *resp, const void *data, size_t n) {
        StreamTap *t = userdata;
        int r = t->fn(t->userdata, resp, data, n);

        if (r >= 0)
                t->delivered += n;
        return r;
}

/* S3 CreateMultipartUpload repeats the source's metadata headers */
#define MAX_SIGNED_HEADERS 64

static int build_path(const AwsEndpoint *ep, const char *path, Buf *out) {
        int r = buf_append_str(out, ep->path);

        if (r < 0)
                return r;
        return buf_append_str(out, path && *path ? path : "/");
}

/* DynamoDB sends the CRC32 of every response body in x-amz-crc32 (the SDKs check it): a
 * body damaged on the way is a transient failure, not data. */
static bool crc32_mismatch(const HttpResponse *resp) {
        const char *want = http_response_header(resp, "x-amz-crc32");
        unsigned long v;
        char *end;

        if (!want || !*want)
                return false;
        errno = 0;
        v = strtoul(want, &end, 10);
        if (errno || *end || v > UINT32_MAX)
                return true;
        return crc32(0L, (const Bytef *) (resp->body.data ? resp->body.data : ""),
                     (uInt) resp->body.len) != v;
}

static void classify_response(const AwsRequest *req, HttpResponse *resp, S3bError *e) {
        AwsErrorHeaders h = {
                .request_id = http_response_request_id(resp),
                .error_type = http_response_header(resp, "x-amzn-ErrorType"),
                .query_error = http_response_header(resp, "x-amzn-query-error"),
        };

        if (resp->status >= 200 && resp->status <= 299) {
                if (!req->write && crc32_mismatch(resp)) {
                        s3b_error_set(e, -EIO, "response body does not match its x-amz-crc32");
                        e->http_status = resp->status;
                        snprintf(e->aws_code, sizeof(e->aws_code), "%s", AWS_CODE_CRC32_MISMATCH);
                        snprintf(e->request_id, sizeof(e->request_id), "%s",
                                 h.request_id ? h.request_id : "");
                } else if (req->error_in_200 && !req->write)
                        aws_error_from_xml_200(e, resp->status, &h, resp->body.data, resp->body.len);
                return;
        }
        aws_error_from_response(e, resp->status, &h, resp->body.data, resp->body.len);
}

/* Signs req as it will be sent to host, with a fresh credentials snapshot and the clock
 * corrected by what AWS told us. */
static int sign(AwsClient *c, const AwsRequest *req, const AwsEndpoint *ep, const char *host,
                SigV4Result *ret, S3bError *e) {
        AwsCredentials creds;   /* before credsp: its cleanup wipes creds at scope end */
        _cleanup_(aws_credentials_wipep) AwsCredentials *credsp = NULL;
        SigV4Header sh[MAX_SIGNED_HEADERS];
        Buf path = BUF_INIT(8192);
        int r;

        if (req->n_headers > MAX_SIGNED_HEADERS)
                return s3b_error_set(e, -EINVAL, "too many request headers");
        for (size_t i = 0; i < req->n_headers; i++)
                sh[i] = (SigV4Header) { req->headers[i].name, req->headers[i].value };
        r = build_path(ep, req->path, &path);
        if (r < 0) {
                s3b_error_set(e, r, "request path too long");
                goto finish;
        }
        r = aws_credentials_chain_get(c->ctx->credentials, &creds, e);
        if (r < 0) {
                s3b_error_prefix(e, "credentials");
                goto finish;
        }
        credsp = &creds;
        r = sigv4_sign(&(SigV4Request) {
                        .method = req->method,
                        .host = host,
                        .path = buf_str(&path),
                        .query = req->query,
                        .n_query = req->n_query,
                        .headers = sh,
                        .n_headers = req->n_headers,
                        .body = req->body,
                        .body_len = req->body_len,
                }, &creds, req->region ? req->region : c->ctx->region,
                aws_service_name(req->service), time(NULL) + aws_context_clock_offset(c->ctx),
                c->keys, ret, e);
finish:
        buf_done(&path);
        return r;
}

static long timeout_of(const AwsClient *c, const AwsRequest *req) {
        if (req->timeout_ms == AWS_TIMEOUT_NONE)
                return 0;
        return req->timeout_ms ? req->timeout_ms : (long) c->ctx->request_timeout_ms;
}

/* One signed exchange; 0 for a 2xx (that is not an error document), else e filled. */
static int attempt(AwsClient *c, const AwsRequest *req, StreamTap *tap, HttpResponse *resp,
                   S3bError *e) {
        const AwsEndpoint *ep = req->endpoint ? req->endpoint : &c->ctx->endpoints[req->service];
        HttpHeader hh[MAX_SIGNED_HEADERS + _SIGV4_ADD_MAX];
        char host[sizeof(ep->host) + 72];
        Buf url = BUF_INIT(16384);
        SigV4Result sig = {};
        size_t nh = 0;
        int r;

        r = aws_endpoint_host_header(ep, req->host_prefix, host, sizeof(host));
        if (r < 0)
                return s3b_error_set(e, r, "host name too long");
        r = sign(c, req, ep, host, &sig, e);
        if (r < 0)
                goto finish;
        /* exactly the headers that were signed, plus the signer's own */
        for (size_t i = 0; i < req->n_headers; i++)
                hh[nh++] = req->headers[i];
        for (size_t i = 0; i < _SIGV4_ADD_MAX; i++)
                if (sig.add[i].name && sig.add[i].name[0])
                        hh[nh++] = (HttpHeader) { sig.add[i].name, sig.add[i].value };
        r = buf_printf(&url, "%s://%s%s%s%s", ep->https ? "https" : "http", host, sig.url_path,
                       sig.url_query[0] ? "?" : "", sig.url_query);
        if (r < 0) {
                s3b_error_set(e, r, "request URL too long");
                goto finish;
        }

        stats_add(c, req->service, STAT_ATTEMPT, NULL);
        r = http_client_send(c->http, &(HttpRequest) {
                        .method = req->method,
                        .url = buf_str(&url),
                        .headers = hh,
                        .n_headers = nh,
                        .body = req->body,
                        .body_len = req->body_len,
                        .write = req->write ? tap_write : NULL,
                        .write_userdata = tap,
                        .body_max = req->body_max,
                        .timeout_ms = timeout_of(c, req),
                }, resp, e);
        if (r < 0)
                goto finish;
        classify_response(req, resp, e);
        r = e->code;
finish:
        sigv4_result_done(&sig);
        buf_done(&url);
        return r;
}

/* RequestTimeTooSkewed & co.: AWS's Date header tells how far off our clock is. */
static bool learn_clock_offset(AwsClient *c, const HttpResponse *resp) {
        const char *date = http_response_header(resp, "Date");
        time_t server;

        if (!date || aws_parse_http_date(date, &server) < 0)
                return false;
        atomic_store_explicit(&c->ctx->clock_offset_s, (int64_t) server - (int64_t) time(NULL),
                              memory_order_relaxed);
        return true;
}

/* S3 answers HEAD without a body, so a skewed HEAD is a bare 403. Like the AWS SDKs, take a
 * bare 401/403 whose Date is minutes away from our (corrected) clock as skew. */
#define SKEW_SUSPECT_S 240

static bool bare_denial_with_far_date(const AwsClient *c, const S3bError *e,
                                      const HttpResponse *resp) {
        const char *date = http_response_header(resp, "Date");
        time_t server;
        int64_t diff;

        if (e->aws_code[0] || (e->http_status != 401 && e->http_status != 403) || !date ||
            aws_parse_http_date(date, &server) < 0)
                return false;
        diff = (int64_t) server - ((int64_t) time(NULL) + aws_context_clock_offset(c->ctx));
        return diff > SKEW_SUSPECT_S || diff < -SKEW_SUSPECT_S;
}

static bool is_expired_token(const S3bError *e) {
        return strcmp(e->aws_code, "ExpiredToken") == 0 ||
               strcmp(e->aws_code, "ExpiredTokenException") == 0;
}

int aws_client_send(AwsClient *c, const AwsRequest *req, HttpResponse *resp, S3bError *err) {
        unsigned max = req->max_attempts ? req->max_attempts : c->ctx->max_attempts;
        StreamTap tap = { .fn = req->write, .userdata = req->write_userdata };
        bool skew_retried = false, token_retried = false;
        AwsRequest cur = *req;
        AwsResume resume;
        S3bError e;
        int r;

        for (unsigned n = 1;; n++) {
                AwsRetryKind kind;

                s3b_error_clear(&e);
                tap.delivered = 0;
                r = attempt(c, &cur, &tap, resp, &e);
                if (r >= 0)
                        return 0;
                stats_add(c, req->service, STAT_FAILED_ATTEMPT, &e);
                if (r == -ECANCELED)
                        break;

                kind = aws_retry_classify(&e);
                if (kind == AWS_RETRY_NO && bare_denial_with_far_date(c, &e, resp))
                        kind = AWS_RETRY_CLOCK_SKEW;
                if (kind == AWS_RETRY_CLOCK_SKEW && tap.delivered == 0) {
                        if (skew_retried || !learn_clock_offset(c, resp))
                                break;
                        stats_add(c, req->service, STAT_SKEW, NULL);
                        skew_retried = true;
                        n--;    /* the corrected retry is owed, not spent */
                        continue;
                }
                if (is_expired_token(&e) && !token_retried && tap.delivered == 0) {
                        aws_credentials_chain_invalidate(c->ctx->credentials);
                        token_retried = true;
                        n--;
                        continue;
                }
                if (kind == AWS_RETRY_NO || n >= max)
                        break;
                if (tap.delivered > 0) {
                        if (!req->resume || req->resume(req->resume_userdata, &resume) < 0)
                                break;
                        cur.headers = resume.headers;
                        cur.n_headers = resume.n_headers;
                }
                if (kind == AWS_RETRY_THROTTLE)
                        stats_add(c, req->service, STAT_THROTTLED, NULL);
                stats_add(c, req->service, STAT_RETRY, NULL);
                if (aws_client_sleep_ms(c, aws_client_backoff_ms(c, n)) < 0) {
                        s3b_error_set(&e, -ECANCELED, "cancelled while backing off");
                        break;
                }
        }
        stats_add(c, req->service, STAT_CALL_FAILED, NULL);
        if (err)
                *err = e;
        return e.code < 0 ? e.code : -EIO;
}

int aws_client_json_call(AwsClient *c, const AwsJsonCall *call, cJSON **ret, S3bError *err) {
        const HttpHeader headers[] = {
                { "Content-Type", "application/x-amz-json-1.0" },
                { "X-Amz-Target", call->target },
        };
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        cJSON *root;
        int r;

        r = aws_client_send(c, &(AwsRequest) {
                        .service = call->service,
                        .method = "POST",
                        .endpoint = call->endpoint,
                        .region = call->region,
                        .path = "/",
                        .headers = headers,
                        .n_headers = ELEMENTSOF(headers),
                        .body = call->body,
                        .body_len = call->body_len,
                        .body_max = call->response_max,
                        .timeout_ms = call->timeout_ms,
                        .max_attempts = call->max_attempts,
                }, &resp, err);
        if (r < 0)
                return r;
        root = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "{}",
                                     resp.body.len ? resp.body.len : 2);
        if (!cJSON_IsObject(root)) {
                cJSON_Delete(root);
                s3b_error_clear(err);
                if (err)
                        err->http_status = resp.status;
                return s3b_error_set(err, -EBADMSG, "%s: response is not a JSON object",
                                     call->target);
        }
        *ret = root;
        return 0;
}
