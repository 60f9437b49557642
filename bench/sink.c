/* sink: a minimal DynamoDB-compatible endpoint for benchmarks — never part of the product.
 *
 * It answers AWS JSON 1.0 over HTTP/1.1 keep-alive on 127.0.0.1 from one epoll loop per
 * thread, so the daemon's own ceiling can be measured where dynalite (single-threaded,
 * ~20k items/s here) would be the limit:
 *   BatchWriteItem  counts the PutRequests, checks the DynamoDB API Reference limits (1..25
 *                   requests), answers {"UnprocessedItems":{}} — or, when asked to, hands back
 *                   some items verbatim as UnprocessedItems (the real service echoes them as
 *                   sent; s3batchd matches them by value);
 *   PutItem         counts one item, answers {};
 *   DescribeTable   the reference table (student_id HASH S, course RANGE S by default, or
 *                   --hash/--range), named as the request names it.
 * Every 200 carries x-amz-crc32, the CRC32 of the body (the SDKs and s3batchd check it).
 * Signatures are not checked (dynalite does not either; SigV4 is proven against botocore).
 *
 *   sink [--port P] [--ports-file F] [--threads N] [--latency-ms MS]
 *        [--unprocessed-every N] [--unprocessed-count K] [--throttle-every N]
 *        [--hash NAME] [--range NAME]
 *
 * --ports-file writes the bound port (for --port 0, the default: kernel-chosen) once it
 * listens. Control on the same port:
 *   GET  /sink/stats   {"requests":…,"batch_requests":…,"items":…,"unprocessed":…,…}
 *   POST /sink/reset   zeroes the counters
 *   POST /sink/config?latency_ms=8&unprocessed_every=0&unprocessed_count=1&throttle_every=0
 * Latency delays each response by that many ms without holding the loop (a due time per
 * connection; one request in flight per connection, as HTTP/1.1 without pipelining has). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "listen.h"

#define REQUEST_MAX (17u * 1024 * 1024)        /* a 16 MB BatchWriteItem and its headers */
#define HEADERS_MAX (64u * 1024)
#define BATCH_MAX 25                            /* DynamoDB API Reference, "BatchWriteItem" */
#define TABLE_NAME_MAX 255

typedef struct Stats {
        atomic_uint_fast64_t requests, batch_requests, put_requests, describe_requests, items,
                unprocessed, throttled, bytes_in, connections;
} Stats;

typedef struct Settings {
        atomic_uint latency_ms, unprocessed_every, unprocessed_count, throttle_every;
        const char *hash, *range;
} Settings;

static Stats stats;
static Settings settings = { .hash = "student_id", .range = "course" };
static atomic_uint_fast64_t request_seq;

typedef struct Buf {
        char *data;
        size_t len, cap;
} Buf;

typedef struct Conn {
        int fd;
        Buf in, out;
        size_t out_off;
        uint64_t due_ms;        /* a response is waiting for its latency; 0: none */
        struct Conn *next_waiting;
        bool close_after;
        bool want_out;          /* EPOLLOUT registered */
} Conn;

typedef struct Loop {
        int ep, listen_fd;
        Conn *waiting;          /* connections whose response waits out the latency */
        pthread_t thread;
} Loop;

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static int buf_reserve(Buf *b, size_t more) {
        size_t cap;
        char *p;

        if (b->len + more <= b->cap)
                return 0;
        cap = b->cap ? b->cap : 16384;
        while (cap < b->len + more)
                cap *= 2;
        p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

static int buf_add(Buf *b, const void *p, size_t n) {
        if (buf_reserve(b, n) < 0)
                return -ENOMEM;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return 0;
}

static int buf_str(Buf *b, const char *s) {
        return buf_add(b, s, strlen(s));
}

/* ---- a JSON skipper: enough structure to find the items, no values built ---- */

static const char *ws(const char *p, const char *e) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                p++;
        return p;
}

static const char *skip_string(const char *p, const char *e) {
        if (p >= e || *p != '"')
                return NULL;
        for (p++; p < e; p++) {
                if (*p == '\\')
                        p++;
                else if (*p == '"')
                        return p + 1;
        }
        return NULL;
}

static const char *skip_value(const char *p, const char *e, int depth) {
        p = ws(p, e);
        if (p >= e || depth > 64)
                return NULL;
        if (*p == '"')
                return skip_string(p, e);
        if (*p == '{' || *p == '[') {
                char close = *p == '{' ? '}' : ']';

                p = ws(p + 1, e);
                if (p < e && *p == close)
                        return p + 1;
                for (;;) {
                        if (close == '}') {
                                p = skip_string(ws(p, e), e);
                                if (!p)
                                        return NULL;
                                p = ws(p, e);
                                if (p >= e || *p != ':')
                                        return NULL;
                                p++;
                        }
                        p = skip_value(p, e, depth + 1);
                        if (!p)
                                return NULL;
                        p = ws(p, e);
                        if (p < e && *p == ',') {
                                p++;
                                continue;
                        }
                        if (p < e && *p == close)
                                return p + 1;
                        return NULL;
                }
        }
        while (p < e && !strchr(",}] \t\r\n", *p))
                p++;    /* number, true, false, null */
        return p;
}

/* Calls fn for each member of the object at p; stops at the first nonzero return. */
typedef int (*MemberFn)(void *ud, const char *key, size_t key_len, const char *v, const char *v_end);

static int each_member(const char *p, const char *e, MemberFn fn, void *ud) {
        p = ws(p, e);
        if (p >= e || *p != '{')
                return -1;
        p = ws(p + 1, e);
        if (p < e && *p == '}')
                return 0;
        for (;;) {
                const char *k = ws(p, e), *k_end = skip_string(k, e), *v, *v_end;
                int r;

                if (!k_end)
                        return -1;
                p = ws(k_end, e);
                if (p >= e || *p != ':')
                        return -1;
                v = ws(p + 1, e);
                v_end = skip_value(v, e, 1);
                if (!v_end)
                        return -1;
                r = fn(ud, k + 1, (size_t) (k_end - k - 2), v, v_end);
                if (r)
                        return r;
                p = ws(v_end, e);
                if (p < e && *p == ',') {
                        p++;
                        continue;
                }
                return p < e && *p == '}' ? 0 : -1;
        }
}

typedef struct Span {
        const char *p;
        size_t n;
} Span;

typedef struct BatchScan {
        Span table;             /* the (one) table written */
        Span req[BATCH_MAX + 1];
        size_t n_req;
        size_t n_tables;
        Span table_name;        /* DescribeTable's TableName */
} BatchScan;

static int on_table(void *ud, const char *key, size_t key_len, const char *v, const char *v_end) {
        BatchScan *s = ud;
        const char *p = ws(v, v_end);

        s->n_tables++;
        s->table = (Span) { key, key_len };
        if (p >= v_end || *p != '[')
                return -1;
        p = ws(p + 1, v_end);
        if (p < v_end && *p == ']')
                return 0;
        for (;;) {
                const char *el = ws(p, v_end), *el_end = skip_value(el, v_end, 3);

                if (!el_end)
                        return -1;
                if (s->n_req <= BATCH_MAX)
                        s->req[s->n_req] = (Span) { el, (size_t) (el_end - el) };
                s->n_req++;
                p = ws(el_end, v_end);
                if (p < v_end && *p == ',') {
                        p++;
                        continue;
                }
                return 0;
        }
}

static int on_top(void *ud, const char *key, size_t key_len, const char *v, const char *v_end) {
        BatchScan *s = ud;

        if (key_len == 12 && memcmp(key, "RequestItems", 12) == 0)
                return each_member(v, v_end, on_table, s);
        if (key_len == 9 && memcmp(key, "TableName", 9) == 0 && *v == '"' && v_end - v >= 2)
                s->table_name = (Span) { v + 1, (size_t) (v_end - v - 2) };
        return 0;
}

/* ---- responses ---- */

static void http_date(char *out, size_t n) {
        time_t t = time(NULL);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int respond(Conn *c, int status, const char *reason, const char *ctype, const char *body,
                   size_t body_len) {
        char head[512], date[64];
        int n;

        http_date(date, sizeof(date));
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\n"
                     "x-amzn-RequestId: SINK%016" PRIxFAST64 "\r\n"
                     "x-amz-crc32: %lu\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Date: %s\r\n"
                     "%s\r\n",
                     status, reason, atomic_fetch_add_explicit(&request_seq, 1, memory_order_relaxed),
                     crc32(0L, (const Bytef *) body, (uInt) body_len), ctype, body_len, date,
                     c->close_after ? "Connection: close\r\n" : "");
        if (buf_add(&c->out, head, (size_t) n) < 0 || buf_add(&c->out, body, body_len) < 0)
                return -ENOMEM;
        return 0;
}

static int respond_error(Conn *c, int status, const char *type, const char *message) {
        char body[512];
        int n = snprintf(body, sizeof(body),
                         "{\"__type\":\"com.amazonaws.dynamodb.v20120810#%s\",\"message\":\"%s\"}",
                         type, message);

        return respond(c, status, status == 400 ? "Bad Request" : "Error",
                       "application/x-amz-json-1.0", body, (size_t) n);
}

static bool every(atomic_uint *setting, uint64_t seq) {
        unsigned n = atomic_load_explicit(setting, memory_order_relaxed);

        return n > 0 && seq % n == n - 1;
}

static int batch_write(Conn *c, const char *body, size_t len) {
        static atomic_uint_fast64_t seq;
        BatchScan s = {};
        uint64_t k = atomic_fetch_add_explicit(&seq, 1, memory_order_relaxed);
        size_t give_back = 0;
        Buf out = {};
        int r;

        atomic_fetch_add_explicit(&stats.batch_requests, 1, memory_order_relaxed);
        if (each_member(body, body + len, on_top, &s) != 0 || s.n_tables != 1)
                return respond_error(c, 400, "SerializationException",
                                     "malformed BatchWriteItem (one table expected)");
        if (s.n_req < 1 || s.n_req > BATCH_MAX)
                return respond_error(c, 400, "ValidationException",
                                     "Member must have length less than or equal to 25");
        if (every(&settings.throttle_every, k)) {
                atomic_fetch_add_explicit(&stats.throttled, 1, memory_order_relaxed);
                return respond_error(c, 400, "ProvisionedThroughputExceededException",
                                     "injected by the sink");
        }
        if (every(&settings.unprocessed_every, k))
                give_back = atomic_load_explicit(&settings.unprocessed_count, memory_order_relaxed);
        give_back = give_back > s.n_req ? s.n_req : give_back;
        atomic_fetch_add_explicit(&stats.items, s.n_req - give_back, memory_order_relaxed);
        if (give_back == 0)
                return respond(c, 200, "OK", "application/x-amz-json-1.0",
                               "{\"UnprocessedItems\":{}}", 23);

        /* the last give_back requests, verbatim, under the table's name as sent */
        atomic_fetch_add_explicit(&stats.unprocessed, give_back, memory_order_relaxed);
        r = buf_str(&out, "{\"UnprocessedItems\":{\"");
        r = r ?: buf_add(&out, s.table.p, s.table.n);
        r = r ?: buf_str(&out, "\":[");
        for (size_t i = s.n_req - give_back; !r && i < s.n_req; i++) {
                r = i > s.n_req - give_back ? buf_str(&out, ",") : 0;
                r = r ?: buf_add(&out, s.req[i].p, s.req[i].n);
        }
        r = r ?: buf_str(&out, "]}}");
        r = r ?: respond(c, 200, "OK", "application/x-amz-json-1.0", out.data, out.len);
        free(out.data);
        return r;
}

static int describe_table(Conn *c, const char *body, size_t len) {
        BatchScan s = {};
        char out[2048];
        int n;

        atomic_fetch_add_explicit(&stats.describe_requests, 1, memory_order_relaxed);
        if (each_member(body, body + len, on_top, &s) != 0 || !s.table_name.p ||
            s.table_name.n < 3 || s.table_name.n > TABLE_NAME_MAX ||
            memchr(s.table_name.p, '\\', s.table_name.n))
                return respond_error(c, 400, "ValidationException", "TableName is required");
        n = snprintf(out, sizeof(out),
                     "{\"Table\":{\"TableName\":\"%.*s\",\"TableStatus\":\"ACTIVE\","
                     "\"TableArn\":\"arn:aws:dynamodb:us-east-1:000000000000:table/%.*s\","
                     "\"KeySchema\":[{\"AttributeName\":\"%s\",\"KeyType\":\"HASH\"}%s%s%s],"
                     "\"AttributeDefinitions\":[{\"AttributeName\":\"%s\",\"AttributeType\":\"S\"}%s%s%s],"
                     "\"ItemCount\":0,\"TableSizeBytes\":0,"
                     "\"BillingModeSummary\":{\"BillingMode\":\"PAY_PER_REQUEST\"}}}",
                     (int) s.table_name.n, s.table_name.p, (int) s.table_name.n, s.table_name.p,
                     settings.hash, settings.range[0] ? ",{\"AttributeName\":\"" : "",
                     settings.range, settings.range[0] ? "\",\"KeyType\":\"RANGE\"}" : "",
                     settings.hash, settings.range[0] ? ",{\"AttributeName\":\"" : "",
                     settings.range, settings.range[0] ? "\",\"AttributeType\":\"S\"}" : "");
        return respond(c, 200, "OK", "application/x-amz-json-1.0", out, (size_t) n);
}

static unsigned query_uint(const char *q, const char *name, unsigned def) {
        size_t n = strlen(name);

        for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
                if (strncmp(p, name, n) == 0 && p[n] == '=')
                        return (unsigned) strtoul(p + n + 1, NULL, 10);
        return def;
}

static int control(Conn *c, const char *method, const char *path) {
        const char *q = strchr(path, '?');
        char body[1024];
        int n;

        if (strncmp(path, "/sink/stats", 11) == 0) {
#define S(x) (uint64_t) atomic_load(&stats.x)
                n = snprintf(body, sizeof(body),
                             "{\"requests\":%" PRIu64 ",\"batch_requests\":%" PRIu64
                             ",\"put_requests\":%" PRIu64 ",\"describe_requests\":%" PRIu64
                             ",\"items\":%" PRIu64 ",\"unprocessed\":%" PRIu64
                             ",\"throttled\":%" PRIu64 ",\"bytes_in\":%" PRIu64
                             ",\"connections\":%" PRIu64 ",\"latency_ms\":%u}",
                             S(requests), S(batch_requests), S(put_requests), S(describe_requests),
                             S(items), S(unprocessed), S(throttled), S(bytes_in), S(connections),
                             atomic_load(&settings.latency_ms));
#undef S
                return respond(c, 200, "OK", "application/json", body, (size_t) n);
        }
        if (strcmp(method, "POST") == 0 && strncmp(path, "/sink/reset", 11) == 0) {
                atomic_store(&stats.requests, 0);
                atomic_store(&stats.batch_requests, 0);
                atomic_store(&stats.put_requests, 0);
                atomic_store(&stats.describe_requests, 0);
                atomic_store(&stats.items, 0);
                atomic_store(&stats.unprocessed, 0);
                atomic_store(&stats.throttled, 0);
                atomic_store(&stats.bytes_in, 0);
                return respond(c, 200, "OK", "application/json", "{}", 2);
        }
        if (strcmp(method, "POST") == 0 && strncmp(path, "/sink/config", 12) == 0 && q) {
                atomic_store(&settings.latency_ms, query_uint(q + 1, "latency_ms", settings.latency_ms));
                atomic_store(&settings.unprocessed_every,
                             query_uint(q + 1, "unprocessed_every", settings.unprocessed_every));
                atomic_store(&settings.unprocessed_count,
                             query_uint(q + 1, "unprocessed_count", settings.unprocessed_count));
                atomic_store(&settings.throttle_every,
                             query_uint(q + 1, "throttle_every", settings.throttle_every));
                return respond(c, 200, "OK", "application/json", "{}", 2);
        }
        return respond(c, 404, "Not Found", "text/plain", "not found\n", 10);
}

/* ---- HTTP/1.1 ---- */

static const char *header(const char *h, const char *h_end, const char *name, size_t *ret_len) {
        size_t n = strlen(name);

        for (const char *p = h; p < h_end;) {
                const char *eol = memmem(p, (size_t) (h_end - p), "\r\n", 2);

                if (!eol)
                        eol = h_end;
                if ((size_t) (eol - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
                        const char *v = p + n + 1;

                        while (v < eol && (*v == ' ' || *v == '\t'))
                                v++;
                        *ret_len = (size_t) (eol - v);
                        return v;
                }
                p = eol + 2;
        }
        return NULL;
}

static bool is_target(const char *t, size_t n, const char *action) {
        static const char prefix[] = "DynamoDB_20120810.";

        return n == sizeof(prefix) - 1 + strlen(action) && memcmp(t, prefix, sizeof(prefix) - 1) == 0 &&
               memcmp(t + sizeof(prefix) - 1, action, n - (sizeof(prefix) - 1)) == 0;
}

/* One complete request at the head of c->in: handle it. 1 = handled, 0 = incomplete, <0 = close. */
static int handle_one(Conn *c) {
        const char *d = c->in.data, *end, *te, *line_end, *sp1, *sp2, *cl, *target, *conn;
        size_t head_len, body_len = 0, cl_len, target_len, conn_len, te_len;
        char method[16], path[256];
        int r;

        end = c->in.len ? memmem(d, c->in.len, "\r\n\r\n", 4) : NULL;
        if (!end)
                return c->in.len > HEADERS_MAX ? -EMSGSIZE : 0;
        head_len = (size_t) (end - d) + 4;
        line_end = memmem(d, head_len, "\r\n", 2);
        sp1 = memchr(d, ' ', (size_t) (line_end - d));
        sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t) (line_end - sp1 - 1)) : NULL;
        if (!sp2 || (size_t) (sp1 - d) >= sizeof(method) || (size_t) (sp2 - sp1 - 1) >= sizeof(path))
                return -EBADMSG;
        memcpy(method, d, (size_t) (sp1 - d));
        method[sp1 - d] = '\0';
        memcpy(path, sp1 + 1, (size_t) (sp2 - sp1 - 1));
        path[sp2 - sp1 - 1] = '\0';

        te = header(line_end + 2, end, "Transfer-Encoding", &te_len);
        if (te)
                return -EBADMSG;        /* the AWS SDKs send a Content-Length; so must callers */
        cl = header(line_end + 2, end, "Content-Length", &cl_len);
        if (cl)
                body_len = strtoul(cl, NULL, 10);
        if (body_len > REQUEST_MAX)
                return -EMSGSIZE;
        if (c->in.len < head_len + body_len)
                return 0;
        conn = header(line_end + 2, end, "Connection", &conn_len);
        c->close_after = conn && conn_len == 5 && strncasecmp(conn, "close", 5) == 0;
        atomic_fetch_add_explicit(&stats.requests, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&stats.bytes_in, head_len + body_len, memory_order_relaxed);

        target = header(line_end + 2, end, "X-Amz-Target", &target_len);
        if (strncmp(path, "/sink/", 6) == 0)
                r = control(c, method, path);
        else if (strcmp(method, "POST") != 0 || !target)
                r = respond_error(c, 400, "UnknownOperationException", "POST with X-Amz-Target expected");
        else if (is_target(target, target_len, "BatchWriteItem"))
                r = batch_write(c, d + head_len, body_len);
        else if (is_target(target, target_len, "PutItem")) {
                atomic_fetch_add_explicit(&stats.put_requests, 1, memory_order_relaxed);
                atomic_fetch_add_explicit(&stats.items, 1, memory_order_relaxed);
                r = respond(c, 200, "OK", "application/x-amz-json-1.0", "{}", 2);
        } else if (is_target(target, target_len, "DescribeTable"))
                r = describe_table(c, d + head_len, body_len);
        else
                r = respond_error(c, 400, "UnknownOperationException", "not implemented by the sink");
        if (r < 0)
                return r;
        memmove(c->in.data, c->in.data + head_len + body_len, c->in.len - head_len - body_len);
        c->in.len -= head_len + body_len;
        return 1;
}

static void conn_close(Loop *l, Conn *c) {
        for (Conn **p = &l->waiting; *p; p = &(*p)->next_waiting)
                if (*p == c) {
                        *p = c->next_waiting;
                        break;
                }
        epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        free(c->in.data);
        free(c->out.data);
        free(c);
}

static void want_out(Loop *l, Conn *c, bool on) {
        struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };

        if (c->want_out == on)
                return;
        c->want_out = on;
        epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is queued; then handles the next buffered request if any. <0: close. */
static int conn_flush(Loop *l, Conn *c);

static int conn_process(Loop *l, Conn *c) {
        int r;

        if (c->due_ms || c->out.len)
                return 0;       /* one response at a time, in order */
        r = handle_one(c);
        if (r <= 0)
                return r;
        if (atomic_load_explicit(&settings.latency_ms, memory_order_relaxed) > 0) {
                c->due_ms = now_ms() + atomic_load_explicit(&settings.latency_ms, memory_order_relaxed);
                c->next_waiting = l->waiting;
                l->waiting = c;
                return 0;
        }
        return conn_flush(l, c);
}

static int conn_flush(Loop *l, Conn *c) {
        while (c->out_off < c->out.len) {
                ssize_t n = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        want_out(l, c, true);
                        return 0;
                }
                if (n <= 0)
                        return -EPIPE;
                c->out_off += (size_t) n;
        }
        c->out.len = c->out_off = 0;
        want_out(l, c, false);
        if (c->close_after)
                return -ECONNRESET;
        return conn_process(l, c);
}

static int conn_read(Loop *l, Conn *c) {
        for (;;) {
                ssize_t n;

                if (buf_reserve(&c->in, 65536) < 0)
                        return -ENOMEM;
                n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0)
                        return -ECONNRESET;
                c->in.len += (size_t) n;
                if (c->in.len > REQUEST_MAX + HEADERS_MAX)
                        return -EMSGSIZE;
                if ((size_t) n < 65536)
                        break;
        }
        return conn_process(l, c);
}

static void accept_all(Loop *l) {
        for (;;) {
                int fd = accept4(l->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
                struct epoll_event ev = { .events = EPOLLIN };
                Conn *c;

                if (fd < 0)
                        return;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                c = calloc(1, sizeof(*c));
                if (!c) {
                        close(fd);
                        continue;
                }
                c->fd = fd;
                ev.data.ptr = c;
                if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        close(fd);
                        free(c);
                        continue;
                }
                atomic_fetch_add_explicit(&stats.connections, 1, memory_order_relaxed);
        }
}

/* Sends the responses whose latency is over; returns ms until the next one, or -1. */
static int release_due(Loop *l) {
        uint64_t now = now_ms(), next = UINT64_MAX;
        Conn **p = &l->waiting;

        while (*p) {
                Conn *c = *p;

                if (c->due_ms > now) {
                        next = c->due_ms < next ? c->due_ms : next;
                        p = &c->next_waiting;
                        continue;
                }
                *p = c->next_waiting;
                c->due_ms = 0;
                if (conn_flush(l, c) < 0)
                        conn_close(l, c);
                /* conn_flush may have queued c again (a pipelined request): rescan */
                p = &l->waiting;
                now = now_ms();
                next = UINT64_MAX;
        }
        return next == UINT64_MAX ? -1 : (int) (next - now);
}

static void *loop_main(void *arg) {
        Loop *l = arg;
        struct epoll_event evs[128];

        for (;;) {
                int timeout = release_due(l);
                int n = epoll_wait(l->ep, evs, 128, timeout);

                for (int i = 0; i < n; i++) {
                        Conn *c = evs[i].data.ptr;
                        int r = 0;

                        if (!c) {
                                accept_all(l);
                                continue;
                        }
                        if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                                conn_close(l, c);
                                continue;
                        }
                        if (evs[i].events & EPOLLOUT)
                                r = conn_flush(l, c);
                        if (r >= 0 && (evs[i].events & EPOLLIN))
                                r = conn_read(l, c);
                        if (r < 0)
                                conn_close(l, c);
                }
        }
        return NULL;
}

static void usage(void) {
        fprintf(stderr, "usage: sink [--port P] [--ports-file F] [--threads N] [--latency-ms MS]\n"
                        "            [--unprocessed-every N] [--unprocessed-count K] [--throttle-every N]\n"
                        "            [--hash NAME] [--range NAME]\n");
        exit(2);
}

int main(int argc, char **argv) {
        const char *ports_file = NULL;
        unsigned threads = 1, port = 0;
        Loop *loops;
        int fd;

        atomic_store(&settings.unprocessed_count, 1);
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

                if (!v)
                        usage();
                i++;
                if (strcmp(a, "--port") == 0)
                        port = (unsigned) strtoul(v, NULL, 10);
                else if (strcmp(a, "--ports-file") == 0)
                        ports_file = v;
                else if (strcmp(a, "--threads") == 0)
                        threads = (unsigned) strtoul(v, NULL, 10);
                else if (strcmp(a, "--latency-ms") == 0)
                        atomic_store(&settings.latency_ms, (unsigned) strtoul(v, NULL, 10));
                else if (strcmp(a, "--unprocessed-every") == 0)
                        atomic_store(&settings.unprocessed_every, (unsigned) strtoul(v, NULL, 10));
                else if (strcmp(a, "--unprocessed-count") == 0)
                        atomic_store(&settings.unprocessed_count, (unsigned) strtoul(v, NULL, 10));
                else if (strcmp(a, "--throttle-every") == 0)
                        atomic_store(&settings.throttle_every, (unsigned) strtoul(v, NULL, 10));
                else if (strcmp(a, "--hash") == 0)
                        settings.hash = v;
                else if (strcmp(a, "--range") == 0)
                        settings.range = v;
                else
                        usage();
        }
        if (threads < 1 || threads > 64 || port > 65535 || strlen(settings.hash) > TABLE_NAME_MAX ||
            strlen(settings.range) > TABLE_NAME_MAX || strpbrk(settings.hash, "\"\\") ||
            strpbrk(settings.range, "\"\\"))
                usage();
        signal(SIGPIPE, SIG_IGN);

        fd = bench_listen("sink", port, SOCK_NONBLOCK, 1024, &port);
        if (fd < 0)
                return 1;
        loops = calloc(threads, sizeof(*loops));
        for (unsigned i = 0; loops && i < threads; i++) {
                /* every loop watches the listening socket; EPOLLEXCLUSIVE wakes only one */
                struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL };

                loops[i].listen_fd = fd;
                loops[i].ep = epoll_create1(EPOLL_CLOEXEC);
                if (loops[i].ep < 0 || epoll_ctl(loops[i].ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        perror("sink: epoll");
                        return 1;
                }
        }
        if (!loops)
                return 1;
        if (bench_write_ports_file("sink", ports_file, port) < 0)
                return 1;
        fprintf(stderr, "sink: listening on 127.0.0.1:%u (%u thread(s))\n", port, threads);
        for (unsigned i = 1; i < threads; i++)
                pthread_create(&loops[i].thread, NULL, loop_main, &loops[i]);
        loop_main(&loops[0]);
        return 0;
}
