/* HttpClient: a libcurl easy handle with our defaults and bounded responses. See http.h.
 *
 * libcurl keeps options across transfers on one easy handle, so the constant ones (TLS,
 * callbacks, timeouts, user agent) are set once, and a request of the same shape as the
 * previous one (method, body in memory or from a callback) sets only what it changes: URL,
 * headers, timeout and body. A request of another shape first curl_easy_reset()s the handle
 * and sets everything again, so no option of the previous one (NOBODY for a HEAD, UPLOAD for
 * a PUT, POSTFIELDS for a POST) leaks into the next; reset keeps the connection cache, so
 * keep-alive survives (the connections live in the client's own multi handle, which
 * http_client_send drives). Setting everything per request was 4% of the DynamoDB write path's
 * instructions. Nothing in the daemon calls curl_global_init: the first
 * curl_easy_init() of any thread does it, which libcurl ≥ 7.84 runs under its own lock when
 * curl_version_info() reports CURL_VERSION_THREADSAFE (Debian 12's 7.88 does). No
 * curl_global_cleanup runs: the process exits. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "common/aws/http.h"
#include "version.h"

#define USER_AGENT_MAX 256

struct HttpClient {
        CURL *easy;
        CURLM *multi;                   /* drives http_client_send; owns the connection cache */
        const atomic_bool *cancel;
        bool no_proxy;
        long connect_timeout_ms;
        long stall_timeout_s;
        char *ca_file;
        char *user_agent;

        /* The shape the handle is configured for (shape_of()); "" when it must be reset and
         * configured again (new handle, or a begin that failed half-way). */
        char shape[24];

        /* the transfer in progress (between begin and end) */
        const HttpRequest *req;
        HttpResponse *resp;
        struct curl_slist *headers;
        size_t upload_off;              /* memory bodies */
        int cb_error;                   /* first negative errno a callback reported */
        const char *cb_what;            /* which limit or callback failed, for the message */
        char errbuf[CURL_ERROR_SIZE];
};

void http_response_init(HttpResponse *resp) {
        *resp = HTTP_RESPONSE_INIT;
}

void http_response_done(HttpResponse *resp) {
        if (!resp)
                return;
        buf_done(&resp->body);
        buf_done(&resp->headers);
        resp->status = 0;
        resp->content_length = -1;
}

void http_response_done_wiped(HttpResponse *resp) {
        if (resp && resp->body.data)
                OPENSSL_cleanse(resp->body.data, resp->body.cap);
        http_response_done(resp);
}

const char *http_response_header(const HttpResponse *resp, const char *name) {
        const char *p = resp->headers.data, *end;

        if (!p)         /* no response at all (a TLS or connect failure): no headers */
                return NULL;
        end = p + resp->headers.len;
        while (p < end) {
                const char *value = p + strlen(p) + 1;

                if (value >= end)
                        break;
                if (strcasecmp(p, name) == 0)
                        return value;
                p = value + strlen(value) + 1;
        }
        return NULL;
}

const char *http_response_request_id(const HttpResponse *resp) {
        const char *id = http_response_header(resp, "x-amzn-RequestId");

        return id ? id : http_response_header(resp, "x-amz-request-id");
}

int http_client_new(HttpClient **ret, const HttpClientOptions *opts, S3bError *err) {
        HttpClientOptions dflt = {};
        HttpClient *c;

        if (!opts)
                opts = &dflt;
        c = calloc(1, sizeof(*c));
        if (!c)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        c->cancel = opts->cancel;
        c->no_proxy = opts->no_proxy;
        c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 3000;
        c->stall_timeout_s = opts->stall_timeout_s > 0 ? opts->stall_timeout_s : 60;
        c->user_agent = strdup(opts->user_agent ? opts->user_agent : "s3batchd/" S3BATCHD_VERSION);
        c->ca_file = opts->ca_file ? strdup(opts->ca_file) : NULL;
        c->easy = curl_easy_init();
        c->multi = curl_multi_init();
        if (!c->user_agent || (opts->ca_file && !c->ca_file) || !c->easy || !c->multi) {
                int r = c->easy && c->multi ? -ENOMEM : -EIO;

                http_client_free(c);
                return s3b_error_set(err, r, "cannot initialise the HTTP client%s",
                                     r == -ENOMEM ? ": out of memory" : "");
        }
        *ret = c;
        return 0;
}

/* The request headers include Authorization and X-Amz-Security-Token. */
static void slist_free_wiped(struct curl_slist *l) {
        for (struct curl_slist *i = l; i; i = i->next)
                OPENSSL_cleanse(i->data, strlen(i->data));
        curl_slist_free_all(l);
}

HttpClient *http_client_free(HttpClient *c) {
        if (!c)
                return NULL;
        if (c->easy)
                curl_easy_cleanup(c->easy);
        if (c->multi)
                curl_multi_cleanup(c->multi);
        slist_free_wiped(c->headers);
        free(c->ca_file);
        free(c->user_agent);
        free(c);
        return NULL;
}

static bool has_crlf(const char *s) {
        return strpbrk(s, "\r\n") != NULL;
}

static void fail_cb(HttpClient *c, int r, const char *what) {
        if (c->cb_error == 0) {
                c->cb_error = r;
                c->cb_what = what;
        }
}

/* A new status line starts a new response (after a 100 Continue, or a retried connection):
 * only the headers of the last one count. */
static size_t header_cb(char *data, size_t size, size_t nmemb, void *userdata) {
        HttpClient *c = userdata;
        HttpResponse *resp = c->resp;
        size_t n = size * nmemb, len = n, nlen;
        const char *colon, *v, *vend;
        long status;
        int r;

        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
                len--;
        if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
                const char *sp = memchr(data, ' ', len);

                /* the three digits after the version (RFC 9112, 4: status-line) */
                status = 0;
                if (sp && sp + 4 <= data + len)
                        for (const char *d = sp + 1; d < sp + 4 && *d >= '0' && *d <= '9'; d++)
                                status = status * 10 + (*d - '0');
                resp->status = status;
                buf_reset(&resp->headers);
                return n;
        }
        colon = memchr(data, ':', len);
        if (!colon || memchr(data, '\0', len))
                return n;       /* the blank line ending the block, obsolete folding, or a NUL
                                 * that would shift the name/value pairs: not kept */
        nlen = (size_t) (colon - data);
        v = colon + 1;
        vend = data + len;
        while (v < vend && (*v == ' ' || *v == '\t'))
                v++;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
                vend--;
        r = buf_append(&resp->headers, data, nlen);
        if (r >= 0)
                r = buf_append_char(&resp->headers, '\0');
        if (r >= 0)
                r = buf_append(&resp->headers, v, (size_t) (vend - v));
        if (r >= 0)
                r = buf_append_char(&resp->headers, '\0');
        if (r < 0) {
                fail_cb(c, r, "response headers over their limit");
                return 0;       /* aborts the transfer */
        }
        return n;
}

/* Hands a piece of the response to the request's consumer (2xx only) or to resp->body. */
static int deliver(HttpClient *c, const char *data, size_t n) {
        const HttpRequest *req = c->req;
        int r;

        if (req->write && c->resp->status >= 200 && c->resp->status < 300) {
                r = req->write(req->write_userdata, c->resp, data, n);
                if (r < 0)
                        fail_cb(c, r, "response consumer failed");
                return r;
        }
        r = buf_append(&c->resp->body, data, n);
        if (r < 0)
                fail_cb(c, r, "response body over its limit");
        return r;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata) {
        /* less than was offered aborts the transfer */
        return deliver(userdata, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

/* A body in memory: the next piece of it (0 at its end). */
static size_t read_memory(HttpClient *c, char *buf, size_t n) {
        size_t left = c->req->body_len - c->upload_off;

        n = MIN(n, left);
        if (n)
                memcpy(buf, (const char *) c->req->body + c->upload_off, n);
        c->upload_off += n;
        return n;
}

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *userdata) {
        HttpClient *c = userdata;
        ssize_t got;

        if (!c->req->read)
                return read_memory(c, buf, size * nmemb);
        got = c->req->read(c->req->read_userdata, buf, size * nmemb);
        if (got < 0 || (size_t) got > size * nmemb) {
                fail_cb(c, got < 0 ? (int) got : -EINVAL, "request body source failed");
                return CURL_READFUNC_ABORT;
        }
        return (size_t) got;
}

static int seek_cb(void *userdata, curl_off_t offset, int origin) {
        HttpClient *c = userdata;
        const HttpRequest *req = c->req;

        if (origin != SEEK_SET || offset < 0)
                return CURL_SEEKFUNC_CANTSEEK;
        if (!req->read) {
                if ((uint64_t) offset > req->body_len)
                        return CURL_SEEKFUNC_FAIL;
                c->upload_off = (size_t) offset;
                return CURL_SEEKFUNC_OK;
        }
        if (offset != 0 || !req->rewind)
                return CURL_SEEKFUNC_CANTSEEK;
        return req->rewind(req->read_userdata) < 0 ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
}

static int xferinfo_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
        HttpClient *c = userdata;

        if (c->cancel && atomic_load(c->cancel)) {
                fail_cb(c, -ECANCELED, "cancelled");
                return 1;
        }
        return 0;
}

static bool request_has_header(const HttpRequest *req, const char *name) {
        for (size_t i = 0; i < req->n_headers; i++)
                if (strcasecmp(req->headers[i].name, name) == 0)
                        return true;
        return false;
}

/* "Name: value" into buf (the stack for the usual header, else the heap), then copied by
 * curl_slist_append; the line is wiped either way (Authorization, X-Amz-Security-Token). */
static int add_header(struct curl_slist **list, const char *name, const char *value,
                      S3bError *err) {
        size_t nlen = strlen(name), vlen = value ? strlen(value) : 0, len = nlen + 2 + vlen;
        _cleanup_free_ char *heap = NULL;
        char stack[1024], *line = stack;
        struct curl_slist *l;

        if (len >= sizeof(stack) && !(line = heap = malloc(len + 1)))
                return s3b_error_set(err, -ENOMEM, "cannot build HTTP headers: out of memory");
        memcpy(line, name, nlen);
        /* "Name;" is libcurl's spelling of an empty header; "Name:" removes one */
        if (!value || !*value) {
                line[nlen] = value ? ';' : ':';
                len = nlen + 1;
        } else {
                line[nlen] = ':';
                line[nlen + 1] = ' ';
                memcpy(line + nlen + 2, value, vlen);
        }
        line[len] = '\0';
        l = curl_slist_append(*list, line);
        OPENSSL_cleanse(line, len);
        if (!l)
                return s3b_error_set(err, -ENOMEM, "cannot build HTTP headers: out of memory");
        *list = l;
        return 0;
}

/* Into c->headers; a list left half-built by a failure is freed by the next request or by
 * http_client_free(). */
static int build_headers(HttpClient *c, const HttpRequest *req, S3bError *err) {
        int r = 0;

        slist_free_wiped(c->headers);
        c->headers = NULL;
        for (size_t i = 0; i < req->n_headers && r >= 0; i++) {
                const HttpHeader *h = &req->headers[i];

                if (!h->name || !*h->name || !h->value || has_crlf(h->name) ||
                    has_crlf(h->value) || strchr(h->name, ':'))
                        return s3b_error_set(err, -EINVAL, "invalid HTTP header");
                r = add_header(&c->headers, h->name, h->value, err);
        }
        /* Strip what libcurl would add on its own: the signature covers only what we send, and
         * its form Content-Type on a POST/PUT makes fauxqs answer 500. */
        if (r >= 0 && !request_has_header(req, "Content-Type"))
                r = add_header(&c->headers, "Content-Type", NULL, err);
        if (r >= 0 && !request_has_header(req, "Accept"))
                r = add_header(&c->headers, "Accept", NULL, err);
        if (r >= 0 && !request_has_header(req, "Expect"))
                r = add_header(&c->headers, "Expect", NULL, err);
        return r;
}

/* Each group of options below is one chain of curl_easy_setopt() calls: the first refusal
 * stops it (libcurl refuses only an unknown option or a value it cannot take). */
static bool setopt_ok(CURLcode rc) {
        return rc == CURLE_OK;
}

static bool set_method(HttpClient *c, const HttpRequest *req) {
        const char *m = req->method;
        bool has_body = req->read || req->body_len > 0;
        curl_off_t len = (curl_off_t) req->body_len;
        CURL *e = c->easy;

        if (strcmp(m, "GET") == 0 && !has_body)
                return setopt_ok(curl_easy_setopt(e, CURLOPT_HTTPGET, 1L));
        if (strcmp(m, "HEAD") == 0)
                return setopt_ok(curl_easy_setopt(e, CURLOPT_NOBODY, 1L));
        if (strcmp(m, "POST") == 0)
                /* A body in memory is handed over as is (not copied): libcurl then sends a small
                 * one in the same write as the headers, one syscall per request instead of two
                 * (every DynamoDB and SQS call), and resends it itself when it must. */
                return setopt_ok(curl_easy_setopt(e, CURLOPT_POST, 1L)) &&
                       setopt_ok(curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, len)) &&
                       (req->read || setopt_ok(curl_easy_setopt(e, CURLOPT_POSTFIELDS,
                                                                 has_body ? req->body : "")));
        if (strcmp(m, "PUT") == 0)
                return setopt_ok(curl_easy_setopt(e, CURLOPT_UPLOAD, 1L)) &&
                       setopt_ok(curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, len));
        /* DELETE and anything else: the verb on the request line only */
        if (has_body && !(setopt_ok(curl_easy_setopt(e, CURLOPT_UPLOAD, 1L)) &&
                          setopt_ok(curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, len))))
                return false;
        return setopt_ok(curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m));
}

/* What changes with every request. */
static bool set_request(HttpClient *c, const HttpRequest *req) {
        CURL *e = c->easy;

        return setopt_ok(curl_easy_setopt(e, CURLOPT_URL, req->url)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                                          req->timeout_ms > 0 ? req->timeout_ms : 0L));
}

/* What stays for every request of the handle (until a reset). */
static bool set_transfer(HttpClient *c) {
        CURL *e = c->easy;

        return /* S3 keys may hold "/./" and "/../": they name other objects and are signed as
                * they are, so libcurl must not squash them */
               setopt_ok(curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https")) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms)) &&
               /* a stalled transfer: less than 1 byte/s for stall_timeout_s */
               setopt_ok(curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->stall_timeout_s)) &&
               /* the AWS endpoints we call speak HTTP/1.1 */
               setopt_ok(curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1)) &&
               (!c->no_proxy ||        /* "" disables the environment's proxy */
                setopt_ok(curl_easy_setopt(e, CURLOPT_PROXY, "")));
}

static bool set_tls(HttpClient *c) {
        CURL *e = c->easy;

        /* AWS requires TLS 1.2 or later */
        return setopt_ok(curl_easy_setopt(e, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L)) &&
               (!c->ca_file || setopt_ok(curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file)));
}

static bool set_callbacks(HttpClient *c) {
        CURL *e = c->easy;

        return setopt_ok(curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_HEADERDATA, c)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_WRITEDATA, c)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_READDATA, c)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_cb)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_SEEKDATA, c)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, xferinfo_cb)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_XFERINFODATA, c)) &&
               setopt_ok(curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L));
}

/* The options a request sets beyond URL, headers and timeout depend only on this: its method
 * and where its body comes from. Too long a method gets a shape of its own that never
 * matches, so it is always configured afresh. */
static void shape_of(const HttpRequest *req, char out[24]) {
        size_t n = strlen(req->method);

        if (n + 3 > 24) {
                out[0] = '\0';
                return;
        }
        memcpy(out, req->method, n);
        out[n] = ' ';
        out[n + 1] = req->read ? 'r' : req->body_len > 0 ? 'm' : '0';
        out[n + 2] = '\0';
}

/* Sets the handle up for req: everything after a reset when its shape differs from the last
 * request's, else only what changes per request. */
static bool configure(HttpClient *c, const HttpRequest *req) {
        char shape[24];

        shape_of(req, shape);
        if (!shape[0] || strcmp(shape, c->shape) != 0) {
                c->shape[0] = '\0';
                curl_easy_reset(c->easy);
                if (!(set_transfer(c) && set_tls(c) && set_callbacks(c)))
                        return false;
        }
        if (!(set_request(c, req) && set_method(c, req)))
                return false;
        memcpy(c->shape, shape, sizeof(shape));
        return true;
}

int http_client_begin(HttpClient *c, const HttpRequest *req, HttpResponse *resp,
                      CURL **ret_easy, S3bError *err) {
        int r;

        if (!req->method || !*req->method || strpbrk(req->method, " \r\n") || !req->url ||
            has_crlf(req->url) || (req->body_len > 0 && !req->body && !req->read))
                return s3b_error_set(err, -EINVAL, "invalid HTTP request");

        c->req = req;
        c->resp = resp;
        c->upload_off = 0;
        c->cb_error = 0;
        c->cb_what = NULL;
        c->errbuf[0] = '\0';
        resp->status = 0;
        resp->content_length = -1;
        buf_reset(&resp->body);
        buf_reset(&resp->headers);
        resp->body.max = req->body_max ? req->body_max : HTTP_BODY_MAX_DEFAULT;
        resp->headers.max = HTTP_HEADERS_MAX;

        r = build_headers(c, req, err);
        if (r >= 0 && !configure(c, req)) {
                c->shape[0] = '\0';
                r = s3b_error_set(err, -EINVAL, "libcurl refused an option for %s", req->method);
        }
        if (r < 0) {
                c->req = NULL;
                c->resp = NULL;
                return r;
        }
        *ret_easy = c->easy;
        return 0;
}

static int map_curl_error(HttpClient *c, CURLcode code) {
        long os_errno = 0;

        switch (code) {
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                curl_easy_getinfo(c->easy, CURLINFO_OS_ERRNO, &os_errno);
                if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH)
                        return -EHOSTUNREACH;
                if (os_errno == ETIMEDOUT)
                        return -ETIMEDOUT;
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return -ECONNRESET;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EPROTO;
        case CURLE_URL_MALFORMAT:
                return -EINVAL;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

/* The URL without its query, for messages: short and free of anything a query might carry. */
static void url_for_message(const char *url, char *out, size_t size) {
        size_t n = strcspn(url, "?");

        snprintf(out, size, "%.*s", (int) MIN(n, (size_t) 200), url);
}

int http_client_end(HttpClient *c, CURLcode result, S3bError *err) {
        const HttpRequest *req = c->req;
        HttpResponse *resp = c->resp;
        char where[256];
        const char *cl;
        int r = 0;

        if (!req || !resp)
                return s3b_error_set(err, -EINVAL, "http_client_end without begin");
        /* only a failure needs it: not formatted for every request */
        if (result != CURLE_OK || resp->status < 100)
                url_for_message(req->url, where, sizeof(where));
        if (result != CURLE_OK) {
                r = c->cb_error ? c->cb_error : map_curl_error(c, result);
                if (c->cb_error)
                        s3b_error_set(err, r, "%s %s: %s", req->method, where, c->cb_what);
                else
                        s3b_error_set(err, r, "%s %s: %s", req->method, where,
                                      c->errbuf[0] ? c->errbuf : curl_easy_strerror(result));
        } else if (resp->status < 100) {
                r = s3b_error_set(err, -EPROTO, "%s %s: no HTTP status", req->method, where);
        }
        if (r < 0 && err)
                err->http_status = resp->status;
        if (r >= 0) {
                cl = http_response_header(resp, "Content-Length");
                if (cl) {
                        char *end;
                        long long v;

                        errno = 0;
                        v = strtoll(cl, &end, 10);
                        if (errno == 0 && end != cl && *end == '\0' && v >= 0)
                                resp->content_length = v;
                }
        }
        slist_free_wiped(c->headers);
        c->headers = NULL;
        c->req = NULL;
        c->resp = NULL;
        return r;
}

/* curl_easy_perform() on our own multi handle, minus its first poll: easy_perform polls
 * before it performs, one system call per request that can only time out at once (nothing
 * is in flight yet). The 1 s poll cap is easy_perform's too: it bounds how late the progress
 * callback sees the cancel flag. Multi errors map as easy_perform maps them. */
static CURLcode perform(HttpClient *c) {
        CURLcode result = CURLE_OK;
        CURLMcode mc;
        bool done = false;

        mc = curl_multi_add_handle(c->multi, c->easy);
        if (mc != CURLM_OK)
                return mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
        while (!done) {
                int running = 0, left;
                CURLMsg *m;

                mc = curl_multi_perform(c->multi, &running);
                while (mc == CURLM_OK && (m = curl_multi_info_read(c->multi, &left)))
                        if (m->msg == CURLMSG_DONE && m->easy_handle == c->easy) {
                                result = m->data.result;
                                done = true;
                        }
                if (mc == CURLM_OK && !done)
                        mc = curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
                if (mc != CURLM_OK) {
                        result = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
                                                           : CURLE_BAD_FUNCTION_ARGUMENT;
                        break;
                }
        }
        curl_multi_remove_handle(c->multi, c->easy);
        return result;
}

int http_client_send(HttpClient *c, const HttpRequest *req, HttpResponse *resp, S3bError *err) {
        CURL *easy;
        int r;

        r = http_client_begin(c, req, resp, &easy, err);
        if (r < 0)
                return r;
        return http_client_end(c, perform(c), err);
}
