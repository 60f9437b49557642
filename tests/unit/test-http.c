/* HttpClient against a loopback python server (http-test-server.py): what is sent, what is
 * kept, the caps, the error mapping, cancellation and connection reuse. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "common/aws/http.h"
#include "pyserver.h"

static PyServer server;

static int start(void **state) {
        return pyserver_start(&server, TEST_SRCDIR "/tests/unit/http-test-server.py", NULL);
}

static int stop(void **state) {
        pyserver_stop(&server);
        return 0;
}

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int send_to(HttpClient *c, HttpRequest *req, const char *path, HttpResponse *resp,
                   S3bError *e) {
        char url[256];

        snprintf(url, sizeof(url), "%s%s", server.url, path);
        req->url = url;
        return http_client_send(c, req, resp, e);
}

/* Header `name` as the server received it, or NULL. */
static const char *echoed_header(cJSON *doc, const char *name) {
        const cJSON *h;

        cJSON_ArrayForEach(h, cJSON_GetObjectItem(doc, "headers")) {
                const char *k = cJSON_GetArrayItem(h, 0)->valuestring;
                if (strcasecmp(k, name) == 0)
                        return cJSON_GetArrayItem(h, 1)->valuestring;
        }
        return NULL;
}

static void test_post_sends_exactly_what_is_given(void **state) {
        _cleanup_(http_client_freep) HttpClient *c = NULL;
        const HttpHeader hs[] = { { "X-Amz-Target", "AmazonSQS.ReceiveMessage" },
                                  { "X-Empty", "" } };
        HttpRequest req = { .method = "POST", .headers = hs, .n_headers = 2,
                            .body = "{\"a\":1}", .body_len = 7 };
        HttpResponse resp;
        cJSON *doc;

        http_response_init(&resp);
        assert_int_equal(http_client_new(&c, NULL, NULL), 0);
        assert_int_equal(send_to(c, &req, "/echo", &resp, NULL), 0);
        assert_int_equal(resp.status, 200);
        doc = cJSON_Parse(buf_str(&resp.body));
        assert_string_equal(cJSON_GetObjectItem(doc, "method")->valuestring, "POST");
        assert_string_equal(cJSON_GetObjectItem(doc, "body")->valuestring, "{\"a\":1}");
        assert_string_equal(echoed_header(doc, "X-Amz-Target"), "AmazonSQS.ReceiveMessage");
        assert_string_equal(echoed_header(doc, "X-Empty"), "");
        assert_string_equal(echoed_header(doc, "Content-Length"), "7");
        /* nothing libcurl would add on its own */
        assert_null(echoed_header(doc, "Content-Type"));
        assert_null(echoed_header(doc, "Accept"));
        assert_null(echoed_header(doc, "Expect"));
        assert_null(echoed_header(doc, "Transfer-Encoding"));
        cJSON_Delete(doc);

        /* response headers the caller needs */
        assert_string_equal(http_response_request_id(&resp), "req-echo-1");
        assert_string_equal(http_response_header(&resp, "etag"), "\"abc\"");
        assert_string_equal(http_response_header(&resp, "X-AMZ-CRC32"), "12345");
        assert_true(resp.content_length > 0);
        assert_int_equal((size_t) resp.content_length, resp.body.len);
        http_response_done(&resp);
}

static void test_methods_and_keepalive(void **state) {
        _cleanup_(http_client_freep) HttpClient *c = NULL;
        const char *methods[] = { "GET", "PUT", "DELETE", "HEAD", "POST", "GET" };
        const HttpHeader ct = { "Content-Type", "text/csv" };
        HttpResponse resp;
        long port = -1;

        http_response_init(&resp);
        assert_int_equal(http_client_new(&c, NULL, NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                HttpRequest req = { .method = methods[i], .headers = &ct, .n_headers = 1 };
                cJSON *doc;

                if (strcmp(methods[i], "PUT") == 0) {
                        req.body = "a,b\n1,2\n";
                        req.body_len = 8;
                }
                assert_int_equal(send_to(c, &req, "/echo", &resp, NULL), 0);
                assert_int_equal(resp.status, 200);
                if (strcmp(methods[i], "HEAD") == 0) {
                        assert_int_equal(resp.body.len, 0);
                        assert_true(resp.content_length > 0);
                        continue;
                }
                doc = cJSON_Parse(buf_str(&resp.body));
                assert_string_equal(cJSON_GetObjectItem(doc, "method")->valuestring, methods[i]);
                assert_string_equal(echoed_header(doc, "Content-Type"), "text/csv");
                if (strcmp(methods[i], "PUT") == 0)
                        assert_int_equal(cJSON_GetObjectItem(doc, "body_len")->valueint, 8);
                /* one connection for all of them */
                if (port < 0)
                        port = cJSON_GetObjectItem(doc, "peer_port")->valueint;
                assert_int_equal(cJSON_GetObjectItem(doc, "peer_port")->valueint, port);
                cJSON_Delete(doc);
        }
        http_response_done(&resp);
}

typedef struct Reader {
        const char *data;
        size_t len, off;
        int rewinds;
} Reader;

static ssize_t reader_read(void *userdata, char *buf, size_t n) {
        Reader *r = userdata;

        n = MIN(n, r->len - r->off);
        memcpy(buf, r->data + r->off, n);
        r->off += n;
        return (ssize_t) n;
}

static int reader_rewind(void *userdata) {
        Reader *r = userdata;

        r->off = 0;
        r->rewinds++;
        return 0;
}

static void test_put_from_read_callback(void **state) {
        _cleanup_(http_client_freep) HttpClient *c = NULL;
        static char big[300000];
        Reader rd = { .data = big, .len = sizeof(big) };
        HttpRequest req = { .method = "PUT", .read = reader_read, .rewind = reader_rewind,
                            .read_userdata = &rd, .body_len = sizeof(big) };
        HttpResponse resp;
        cJSON *doc;

        memset(big, 'z', sizeof(big));
        http_response_init(&resp);
        assert_int_equal(http_client_new(&c, NULL, NULL), 0);
        assert_int_equal(send_to(c, &req, "/echo", &resp, NULL), 0);
        assert_int_equal(resp.status, 200);
        doc = cJSON_Parse(buf_str(&resp.body));
        assert_int_equal(cJSON_GetObjectItem(doc, "body_len")->valueint, sizeof(big));
        /* a known length, never chunked (S3 refuses unsigned chunked uploads) */
        assert_null(echoed_header(doc, "Transfer-Encoding"));
        assert_null(echoed_header(doc, "Expect"));
        cJSON_Delete(doc);
        http_response_done(&resp);
}

typedef struct Sink {
        size_t bytes;
        int calls;
        long status_seen;
        int fail_after;         /* >0: fail on that call */
} Sink;

static int sink_write(void *userdata, const HttpResponse *resp, const void *data, size_t n) {
        Sink *s = userdata;

        s->bytes += n;
        s->status_seen = resp->status;
        if (++s->calls == s->fail_after)
                return -EPIPE;
        return 0;
}

/* One handle, requests of changing shapes: each sends its own method, body and headers and
 * nothing of the one before (the handle keeps options across requests of the same shape). */
static void test_reuse_keeps_nothing_of_the_previous_request(void **state) {
        _cleanup_(http_client_freep) HttpClient *c = NULL;
        static const struct {
                const char *method, *body, *header; /* header: X-Only-<n> sent with it */
                bool from_read;
        } t[] = {
                { "POST", "{\"first\":1}", "a", false },
                { "POST", "{\"b\":2}", "b", false },  /* same shape: new body and headers */
                { "GET", NULL, NULL, false },           /* after a POST: no body, no length */
                { "POST", "streamed", "c", true },      /* from the read callback */
                { "POST", "{}", NULL, false },          /* memory again: not the reader's */
                { "POST", NULL, "d", false },           /* empty: not the previous body */
                { "HEAD", NULL, NULL, false },
                { "GET", NULL, "e", false },            /* after a HEAD: a body again */
                { "PUT", "put-body", NULL, false },
                { "DELETE", NULL, NULL, false },
                { "GET", NULL, NULL, false },
        };
        HttpResponse resp;

        http_response_init(&resp);
        assert_int_equal(http_client_new(&c, NULL, NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                size_t len = t[i].body ? strlen(t[i].body) : 0;
                Reader rd = { .data = t[i].body, .len = len };
                HttpHeader h = { "X-Only", t[i].header };
                HttpRequest req = { .method = t[i].method, .headers = &h,
                                    .n_headers = t[i].header ? 1 : 0, .body_len = len };
                const cJSON *body;
                char cl[24];
                cJSON *doc;

                if (t[i].from_read) {
                        req.read = reader_read;
                        req.rewind = reader_rewind;
                        req.read_userdata = &rd;
                } else {
                        req.body = t[i].body;
                }
                assert_int_equal(send_to(c, &req, "/echo", &resp, NULL), 0);
                assert_int_equal(resp.status, 200);
                if (strcmp(t[i].method, "HEAD") == 0) {
                        assert_int_equal(resp.body.len, 0);
                        continue;
                }
                assert_true(resp.body.len > 0);
                doc = cJSON_Parse(buf_str(&resp.body));
                assert_non_null(doc);
                assert_string_equal(cJSON_GetObjectItem(doc, "method")->valuestring, t[i].method);
                assert_int_equal(cJSON_GetObjectItem(doc, "body_len")->valueint, (int) len);
                body = cJSON_GetObjectItem(doc, "body");
                if (len)
                        assert_string_equal(body->valuestring, t[i].body);
                if (t[i].header)
                        assert_string_equal(echoed_header(doc, "X-Only"), t[i].header);
                else
                        assert_null(echoed_header(doc, "X-Only"));
                snprintf(cl, sizeof(cl), "%zu", len);
                if (strcmp(t[i].method, "GET") == 0 || strcmp(t[i].method, "DELETE") == 0)
                        assert_null(echoed_header(doc, "Content-Length"));
                else
                        assert_string_equal(echoed_header(doc, "Content-Length"), cl);
                cJSON_Delete(doc);
        }
        http_response_done(&resp);
}

static void test_streaming_and_caps(void **state) {
        _cleanup_(http_client_freep) HttpClient *c = NULL;
        Sink sink = {};
        HttpRequest req = { .method = "GET", .write = sink_write, .write_userdata = &sink,
                            .body_max = 1024 };
        HttpResponse resp;
        S3bError e = {};

        http_response_init(&resp);
        assert_int_equal(http_client_new(&c, NULL, NULL), 0);
        /* 2xx: streamed, nothing buffered, far past body_max */
        assert_int_equal(send_to(c, &req, "/bytes/5000000", &resp, &e), 0);
        assert_int_equal(sink.bytes, 5000000);
        assert_int_equal(sink.status_seen, 200);
        assert_int_equal(resp.body.len, 0);
        /* errors are never streamed: they land in the body for the error parser */
        sink = (Sink) {};
        assert_int_equal(send_to(c, &req, "/status/503", &resp, &e), 0);
        assert_int_equal(resp.status, 503);
        assert_int_equal(sink.bytes, 0);
        assert_string_equal(buf_str(&resp.body), "<Error><Code>SlowDown</Code></Error>");
        assert_string_equal(http_response_request_id(&resp), "REQ503");
        /* the consumer's own error comes back unchanged */
        sink = (Sink) { .fail_after = 2 };
        assert_int_equal(send_to(c, &req, "/bytes/5000000", &resp, &e), -EPIPE);
        /* without a consumer, past the cap: -ENOBUFS, not a truncated success */
        req.write = NULL;
        assert_int_equal(send_to(c, &req, "/bytes/1025", &resp, &e), -ENOBUFS);
        assert_non_null(strstr(e.message, "limit"));
        assert_int_equal(send_to(c, &req, "/bytes/1024", &resp, &e), 0);
        assert_int_equal(resp.body.len, 1024);
        /* headers have a cap too */
        assert_int_equal(send_to(c, &req, "/headers/40", &resp, &e), -ENOBUFS);
        /* and the handle still works after all that */
        assert_int_equal(send_to(c, &req, "/bytes/10", &resp, &e), 0);
        assert_int_equal(resp.status, 200);
        http_response_done(&resp);
}

static void test_transport_errors(void **state) {
        HttpClientOptions o = { .connect_timeout_ms = 1000, .stall_timeout_s = 1 };
        _cleanup_(http_client_freep) HttpClient *c = NULL;
        HttpRequest req = { .method = "GET" };
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t len = sizeof(sa);
        char url[128];
        HttpResponse resp;
        S3bError e = {};
        double t;
        int fd;

        http_response_init(&resp);
        assert_int_equal(http_client_new(&c, &o, NULL), 0);

        /* a bound port nobody listens on */
        fd = socket(AF_INET, SOCK_STREAM, 0);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(sa.sin_port));
        req.url = url;
        assert_int_equal(http_client_send(c, &req, &resp, &e), -ECONNREFUSED);
        assert_int_equal(e.http_status, 0);
        close(fd);

        assert_int_equal(send_to(c, &req, "/close", &resp, &e), -ECONNRESET);

        req.timeout_ms = 300;
        t = now_s();
        assert_int_equal(send_to(c, &req, "/sleep/3", &resp, &e), -ETIMEDOUT);
        assert_true(now_s() - t < 1.5);
        req.timeout_ms = 0;

        /* headers came, then the body stalls: the low-speed limit ends it */
        t = now_s();
        assert_int_equal(send_to(c, &req, "/stall", &resp, &e), -ETIMEDOUT);
        /* libcurl averages the speed over ~5 s, so the 10 bytes delay detection; the server
         * stalls for 10 s, so finishing earlier proves the limit worked */
        assert_true(now_s() - t < 9);
        assert_int_equal(e.http_status, 200);

        req.url = "http://nonexistent.invalid/";
        assert_int_equal(http_client_send(c, &req, &resp, &e), -EHOSTUNREACH);
        req.url = "ftp://127.0.0.1/";
        assert_true(http_client_send(c, &req, &resp, &e) < 0);
        req.url = "http://127.0.0.1/\r\nX-Injected: 1";
        assert_int_equal(http_client_send(c, &req, &resp, &e), -EINVAL);
        {
                const HttpHeader bad = { "X-A", "v\r\nX-Injected: 1" };
                HttpRequest r2 = { .method = "GET", .headers = &bad, .n_headers = 1 };

                assert_int_equal(send_to(c, &r2, "/echo", &resp, &e), -EINVAL);
        }
        http_response_done(&resp);
}

static atomic_bool cancel_flag;

static void *raise_cancel(void *p) {
        struct timespec ts = { 0, 200 * 1000 * 1000 };

        nanosleep(&ts, NULL);
        atomic_store(&cancel_flag, true);
        return NULL;
}

static void test_cancel(void **state) {
        HttpClientOptions o = { .cancel = &cancel_flag };
        _cleanup_(http_client_freep) HttpClient *c = NULL;
        HttpRequest req = { .method = "GET" };
        HttpResponse resp;
        S3bError e = {};
        pthread_t th;
        double t;

        http_response_init(&resp);
        assert_int_equal(http_client_new(&c, &o, NULL), 0);
        atomic_store(&cancel_flag, false);
        assert_int_equal(pthread_create(&th, NULL, raise_cancel, NULL), 0);
        t = now_s();
        /* a 20 s long poll aborted at shutdown */
        assert_int_equal(send_to(c, &req, "/sleep/20", &resp, &e), -ECANCELED);
        assert_true(now_s() - t < 2.5);
        pthread_join(th, NULL);
        http_response_done(&resp);
}

/* The poller drives its long poll from a curl multi handle: begin/end around it. */
static void test_multi_begin_end(void **state) {
        _cleanup_(http_client_freep) HttpClient *c = NULL;
        HttpRequest req = { .method = "POST", .body = "x", .body_len = 1 };
        CURLM *multi = curl_multi_init();
        HttpResponse resp;
        CURLMsg *msg;
        CURLcode result = CURLE_FAILED_INIT;
        CURL *easy = NULL;
        char url[128];
        int running = 1, left;

        snprintf(url, sizeof(url), "%s/status/418", server.url);
        req.url = url;
        http_response_init(&resp);
        assert_int_equal(http_client_new(&c, NULL, NULL), 0);
        assert_int_equal(http_client_begin(c, &req, &resp, &easy, NULL), 0);
        assert_int_equal(curl_multi_add_handle(multi, easy), CURLM_OK);
        while (running) {
                assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
                if (running)
                        curl_multi_poll(multi, NULL, 0, 100, NULL);
        }
        while ((msg = curl_multi_info_read(multi, &left)))
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
                        result = msg->data.result;
        curl_multi_remove_handle(multi, easy);
        assert_int_equal(http_client_end(c, result, NULL), 0);
        assert_int_equal(resp.status, 418);
        assert_string_equal(http_response_request_id(&resp), "REQ418");
        /* the handle goes back to plain sends afterwards */
        snprintf(url, sizeof(url), "%s/bytes/3", server.url);
        assert_int_equal(http_client_send(c, &req, &resp, NULL), 0);
        assert_string_equal(buf_str(&resp.body), "aaa");
        http_response_done(&resp);
        curl_multi_cleanup(multi);
}

/* https: verification is always on; a private CA works only when named in ca_file. */
static void test_tls_verification(void **state) {
        char dir[] = "/tmp/test-http-tls-XXXXXX", cmd[1024], cert[128], key[128], url[128];
        _cleanup_(http_client_freep) HttpClient *strict = NULL, *trusting = NULL;
        HttpClientOptions o = { .ca_file = cert };
        HttpRequest req = { .method = "GET", .url = url };
        const char *args[4];
        PyServer tls = {};
        HttpResponse resp;
        S3bError e = {};

        assert_non_null(mkdtemp(dir));
        snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
        snprintf(key, sizeof(key), "%s/key.pem", dir);
        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                 "-addext subjectAltName=DNS:localhost -keyout %s -out %s "
                 ">/dev/null 2>&1", key, cert);
        assert_int_equal(system(cmd), 0);
        args[0] = "--tls";
        args[1] = cert;
        args[2] = key;
        args[3] = NULL;
        assert_int_equal(pyserver_start(&tls, TEST_SRCDIR "/tests/unit/http-test-server.py", args), 0);
        snprintf(url, sizeof(url), "https://localhost:%d/bytes/2", tls.port);

        http_response_init(&resp);
        assert_int_equal(http_client_new(&strict, NULL, NULL), 0);
        assert_int_equal(http_client_send(strict, &req, &resp, &e), -EPROTO);
        assert_int_equal(http_client_new(&trusting, &o, NULL), 0);
        assert_int_equal(http_client_send(trusting, &req, &resp, &e), 0);
        assert_string_equal(buf_str(&resp.body), "aa");
        /* the name must match too: "localhost" is in the certificate, 127.0.0.1 is not */
        snprintf(url, sizeof(url), "https://127.0.0.1:%d/bytes/2", tls.port);
        assert_int_equal(http_client_send(trusting, &req, &resp, &e), -EPROTO);
        http_response_done(&resp);
        pyserver_stop(&tls);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_post_sends_exactly_what_is_given),
                cmocka_unit_test(test_methods_and_keepalive),
                cmocka_unit_test(test_put_from_read_callback),
                cmocka_unit_test(test_reuse_keeps_nothing_of_the_previous_request),
                cmocka_unit_test(test_streaming_and_caps),
                cmocka_unit_test(test_transport_errors),
                cmocka_unit_test(test_cancel),
                cmocka_unit_test(test_multi_begin_end),
                cmocka_unit_test(test_tls_verification),
        };

        curl_global_init(CURL_GLOBAL_DEFAULT);
        return cmocka_run_group_tests(tests, start, stop);
}
