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
#include "common/time-util.h"

struct AwsClient {
        AwsContext *ctx;
        HttpClient *http;
        SigV4KeyCache *keys;
        /* This thread's copy of the chain's credentials, refreshed only when the chain's
         * change (aws_credentials_chain_get_cached); wiped with the client. */
        AwsCredentials creds;
        uint64_t creds_version;
        AwsRng rng;
        const atomic_bool *cancel;
        pthread_mutex_t stats_lock;     /* only contended when the daemon reads the stats */
        AwsClientStats stats;
};

/* The long poll waits up to 20 s without a byte on the wire: the stall limit must exceed it. */
#define STALL_TIMEOUT_MIN_S 25

/* ---- client ---- */

static int client_http_new(AwsClient *c, const atomic_bool *cancel, HttpClient **ret,
                           S3bError *err) {
        const AwsLimits *l = aws_context_limits(c->ctx);
        unsigned stall = (l->request_timeout_ms + 999) / 1000;
        HttpClientOptions o = {
                .connect_timeout_ms = l->connect_timeout_ms,
                .stall_timeout_s = MAX(stall, STALL_TIMEOUT_MIN_S),
                .cancel = cancel,
                .ca_file = aws_context_ca_file(c->ctx),
        };

        return http_client_new(ret, &o, err);
}

int aws_client_new(AwsContext *ctx, AwsClient **ret, S3bError *err) {
        _cleanup_(aws_client_freep) AwsClient *c = NULL;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        c->ctx = aws_context_ref(ctx);
        pthread_mutex_init(&c->stats_lock, NULL);
        aws_rng_seed(&c->rng, 0);
        r = client_http_new(c, NULL, &c->http, err);
        if (r < 0)
                return r;
        r = sigv4_key_cache_new(&c->keys, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

AwsClient *aws_client_free(AwsClient *c) {
        if (!c)
                return NULL;
        http_client_free(c->http);
        sigv4_key_cache_free(c->keys);
        aws_credentials_wipe(&c->creds);
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
        const AwsLimits *l = aws_context_limits(c->ctx);

        return aws_retry_backoff_ms(&c->rng, retry, l->retry_base_ms, l->retry_cap_ms);
}

static bool cancelled(const AwsClient *c) {
        return c->cancel && atomic_load(c->cancel);
}

int aws_client_sleep_ms(AwsClient *c, uint64_t ms) {
        /* slices short enough that shutdown is not held up by a 20 s backoff */
        while (ms > 0) {
                uint64_t slice = MIN(ms, 50);
                struct timespec ts = timespec_store(slice * USEC_PER_MSEC);

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

static int64_t local_now_s(void) {
        return (int64_t) (now(CLOCK_REALTIME) / USEC_PER_SEC);
}

/* AWS's time as far as we know it: the local clock corrected by what AWS told us. */
static int64_t aws_now_s(const AwsClient *c) {
        return local_now_s() + aws_context_clock_offset(c->ctx);
}

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
 * body damaged on the way is a transient failure, not data. Asked for per request
 * (AwsRequest.check_crc32), so this file knows no service that sends it. */
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
                if (req->check_crc32 && !req->write && crc32_mismatch(resp)) {
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

/* Signs req as it will be sent to host, with the chain's current credentials and the clock
 * corrected by what AWS told us. */
static int sign(AwsClient *c, const AwsRequest *req, const AwsEndpoint *ep, const char *host,
                SigV4Result *ret, S3bError *e) {
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
        r = aws_credentials_chain_get_cached(aws_context_credentials(c->ctx), &c->creds,
                                             &c->creds_version, e);
        if (r < 0) {
                s3b_error_prefix(e, "credentials");
                goto finish;
        }
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
                }, &c->creds, req->region ? req->region : aws_context_region(c->ctx),
                aws_service_name(req->service), aws_now_s(c),
                c->keys, ret, e);
finish:
        buf_done(&path);
        return r;
}

static long timeout_of(const AwsClient *c, const AwsRequest *req) {
        if (req->timeout_ms == AWS_TIMEOUT_NONE)
                return 0;
        return req->timeout_ms ? req->timeout_ms : (long) aws_context_request_timeout_ms(c->ctx);
}

/* One signed exchange; 0 for a 2xx (that is not an error document), else e filled. */
static int attempt(AwsClient *c, const AwsRequest *req, StreamTap *tap, HttpResponse *resp,
                   S3bError *e) {
        const AwsEndpoint *ep = req->endpoint ? req->endpoint : aws_context_endpoint(c->ctx, req->service);
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
        aws_context_set_clock_offset(c->ctx, (int64_t) server - local_now_s());
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
        diff = (int64_t) server - aws_now_s(c);
        return diff > SKEW_SUSPECT_S || diff < -SKEW_SUSPECT_S;
}

static bool is_expired_token(const S3bError *e) {
        return strcmp(e->aws_code, "ExpiredToken") == 0 ||
               strcmp(e->aws_code, "ExpiredTokenException") == 0;
}

int aws_client_send(AwsClient *c, const AwsRequest *req, HttpResponse *resp, S3bError *err) {
        unsigned max = req->max_attempts ? req->max_attempts : aws_context_limits(c->ctx)->max_attempts;
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
                        aws_credentials_chain_invalidate(aws_context_credentials(c->ctx));
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
                        .check_crc32 = call->check_crc32,
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
