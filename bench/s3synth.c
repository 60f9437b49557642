/* s3synth: a minimal S3 REST endpoint serving ONE synthetic CSV object — never part of the
 * product. For benchmarks of objects too big for fauxqs (which keeps objects in memory):
 * the object is generated on the fly, so any byte range of a 2 GB file costs no memory.
 *
 * The object is `student_id,first_name,last_name,course` and fixed-width rows, row i at byte
 * HEADER_LEN + i * ROW_WIDTH:
 *     A<last 5 digits of i>,First<i, 10 digits>,Last<i, 10 digits>,C<first 5 digits of i>
 * (student_id, course) is unique per row and student_id fits the test world's ^A[0-9]{5}$.
 * Its size is --size rounded down to whole rows.
 *
 * Path-style requests only (the daemon's s3_force_path_style); signatures are not checked.
 * What the daemon sends is answered as the S3 API Reference documents it:
 *   HeadBucket                      200 for any bucket
 *   GetBucketNotificationConfiguration  an empty <NotificationConfiguration/>
 *   HeadObject, GetObject           the object: ETag, Content-Length, Last-Modified; Range
 *                                   bytes=a-b / a- / -n → 206 + Content-Range, past the end
 *                                   416 InvalidRange; If-Match that does not match → 412
 *   CopyObject                      x-amz-copy-source must name the object, and
 *                                   x-amz-copy-source-if-match match it (else 412); nothing
 *                                   is stored: 200 <CopyObjectResult>
 *   CreateMultipartUpload, UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload
 *                                   the multipart copy s3-copy.c makes above 5 GiB, answered
 *                                   the same way (nothing stored)
 *   PutObject                       the body is read and dropped: 200 with an ETag
 *   DeleteObject                    of the object: If-Match must match (else 412); the object
 *                                   is gone (404) until POST /_synth/reset; 204
 * Anything else: 501 NotImplemented.
 *
 *   s3synth --bucket B --key K --size BYTES [--port P] [--ports-file F]
 *
 * --ports-file writes the bound port (kernel-chosen by default) once it listens. Control:
 *   GET  /_synth/stats  {"size":…,"rows":…,"etag":…,"gets":…,"ranged_gets":…,"bytes_out":…,…}
 *   POST /_synth/reset  the object back, counters zeroed
 * One thread per connection, blocking I/O: the daemon keeps a handful of connections. */
#include <errno.h>
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "listen.h"

#define HEADERS_MAX (64u * 1024)
#define CHUNK (256u * 1024)
#define CONNECTIONS_MAX 256
#define ROW_WIDTH 45u
static const char HEADER[] = "student_id,first_name,last_name,course\n";
#define HEADER_LEN (sizeof(HEADER) - 1)

typedef struct Stats {
        atomic_uint_fast64_t requests, heads, gets, ranged_gets, bytes_out, copies, part_copies,
                puts, deletes, precondition_failed, not_found, connections;
} Stats;

typedef struct Server {
        const char *bucket, *key;
        uint64_t rows, size;
        char etag[36];                  /* quoted */
        char last_modified[40];
        atomic_bool deleted;
        atomic_int open_connections;
        Stats stats;
} Server;

typedef struct Conn {
        Server *s;
        int fd;
        char in[HEADERS_MAX];
        size_t len;
} Conn;

/* One parsed request; pointers into Conn.in (NUL-terminated in place). */
typedef struct Request {
        char *method, *path, *query;    /* path percent-decoded; query raw, "" if none */
        const char *head, *head_end;    /* the header lines */
        uint64_t body_len;
} Request;

static void inc(atomic_uint_fast64_t *c, uint64_t n) {
        atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- the object ---- */

static void row_at(uint64_t i, char out[ROW_WIDTH]) {
        char d[10];
        char *p = out;

        for (int k = 9; k >= 0; k--, i /= 10)
                d[k] = (char) ('0' + i % 10);
        *p++ = 'A';
        memcpy(p, d + 5, 5), p += 5;
        memcpy(p, ",First", 6), p += 6;
        memcpy(p, d, 10), p += 10;
        memcpy(p, ",Last", 5), p += 5;
        memcpy(p, d, 10), p += 10;
        memcpy(p, ",C", 2), p += 2;
        memcpy(p, d, 5), p += 5;
        *p = '\n';
}

/* The object's bytes [off, off + n). */
static void fill(uint64_t off, char *buf, size_t n) {
        size_t done = 0, k;

        while (done < n) {
                uint64_t o = off + done;
                char row[ROW_WIDTH];

                if (o < HEADER_LEN) {
                        k = HEADER_LEN - o < n - done ? (size_t) (HEADER_LEN - o) : n - done;
                        memcpy(buf + done, HEADER + o, k);
                } else if ((o - HEADER_LEN) % ROW_WIDTH == 0 && n - done >= ROW_WIDTH) {
                        k = ROW_WIDTH;
                        row_at((o - HEADER_LEN) / ROW_WIDTH, buf + done);
                } else {
                        size_t in = (size_t) ((o - HEADER_LEN) % ROW_WIDTH);

                        row_at((o - HEADER_LEN) / ROW_WIDTH, row);
                        k = ROW_WIDTH - in < n - done ? ROW_WIDTH - in : n - done;
                        memcpy(buf + done, row + in, k);
                }
                done += k;
        }
}

/* ---- HTTP ---- */

static int send_all(int fd, const void *p, size_t n) {
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -EPIPE;
                p = (const char *) p + w;
                n -= (size_t) w;
        }
        return 0;
}

/* A header's value, trimmed; valid until the next call in this thread. */
static const char *header(const Request *q, const char *name) {
        static __thread char value[1024];
        size_t n = strlen(name);

        for (const char *p = q->head; p < q->head_end;) {
                const char *eol = memmem(p, (size_t) (q->head_end - p), "\r\n", 2);

                if (!eol)
                        eol = q->head_end;
                if ((size_t) (eol - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
                        const char *v = p + n + 1;
                        size_t len;

                        while (v < eol && (*v == ' ' || *v == '\t'))
                                v++;
                        len = (size_t) (eol - v);
                        while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
                                len--;
                        snprintf(value, sizeof(value), "%.*s", (int) len, v);
                        return value;
                }
                p = eol + 2;
        }
        return NULL;
}

/* A query parameter's presence: "name", "name=…" among '&'-separated ones. */
static bool has_param(const char *query, const char *name) {
        size_t n = strlen(name);

        for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
                if (strncmp(p, name, n) == 0 && (p[n] == '\0' || p[n] == '=' || p[n] == '&'))
                        return true;
        return false;
}

static void url_decode(char *s) {
        char *o = s;

        for (; *s; s++) {
                unsigned v;

                if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1 && s[1] && s[2]) {
                        *o++ = (char) v;
                        s += 2;
                } else
                        *o++ = *s;
        }
        *o = '\0';
}

static void http_date(time_t t, char *out, size_t n) {
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Status line and headers; `extra` is more header lines, each ending in \r\n. */
static int respond_head(Conn *c, int status, const char *reason, const char *extra,
                        const char *ctype, uint64_t len) {
        static atomic_uint_fast64_t seq;
        char head[2048], date[64], length[48] = "";
        int n;

        /* no Content-Length in a 204 (RFC 9110, 8.6) */
        if (status != 204)
                snprintf(length, sizeof(length), "Content-Length: %" PRIu64 "\r\n", len);
        http_date(time(NULL), date, sizeof(date));
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nx-amz-request-id: SYNTH%011" PRIxFAST64 "\r\nDate: %s\r\n"
                     "%s%s%s%s%s\r\n",
                     status, reason, atomic_fetch_add(&seq, 1), date, extra ? extra : "",
                     ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", length);
        return n > 0 && (size_t) n < sizeof(head) ? send_all(c->fd, head, (size_t) n) : -EOVERFLOW;
}

static int respond(Conn *c, const Request *q, int status, const char *reason, const char *extra,
                   const char *ctype, const char *body) {
        size_t len = body ? strlen(body) : 0;
        int r = respond_head(c, status, reason, extra, body ? ctype : NULL, len);

        /* a HEAD's answer has the headers of the GET and no body (RFC 9110, 9.3.2) */
        if (r < 0 || strcmp(q->method, "HEAD") == 0 || !len)
                return r;
        return send_all(c->fd, body, len);
}

/* S3 API Reference, "Error responses": <Error><Code/><Message/><Resource/><RequestId/>. */
static int respond_error_with(Conn *c, const Request *q, const char *extra, int status,
                              const char *reason, const char *code, const char *message) {
        char body[1024];

        if (status == 412)
                inc(&c->s->stats.precondition_failed, 1);
        if (status == 404)
                inc(&c->s->stats.not_found, 1);
        snprintf(body, sizeof(body),
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s"
                 "</Message><RequestId>SYNTH</RequestId></Error>", code, message);
        return respond(c, q, status, reason, extra, "application/xml", body);
}

static int respond_error(Conn *c, const Request *q, int status, const char *reason,
                         const char *code, const char *message) {
        return respond_error_with(c, q, NULL, status, reason, code, message);
}

/* ---- S3 operations ---- */

static bool is_object(const Server *s, const char *bucket, const char *key) {
        return strcmp(bucket, s->bucket) == 0 && strcmp(key, s->key) == 0 &&
               !atomic_load(&s->deleted);
}

/* If-Match (RFC 9110, 13.1.1): "*" or a list of entity tags, one of which must be ours. */
static bool etag_matches(const Server *s, const char *cond) {
        char buf[1024], *save = NULL;

        snprintf(buf, sizeof(buf), "%s", cond);
        for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
                if (strcmp(t, "*") == 0 || strcmp(t, s->etag) == 0)
                        return true;
        return false;
}

/* Range: bytes=a-b | a- | -n (RFC 9110, 14.1.1). 1: a range; 0: none or not parsable (the
 * whole object, as RFC 9110 says to ignore it); -1: unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last) {
        unsigned long long a, b;
        int used = 0;

        if (!h)
                return 0;
        if (sscanf(h, "bytes=%llu-%llu%n", &a, &b, &used) == 2 && !h[used]) {
                if (b < a)
                        return 0;
                if (a >= size)
                        return -1;
                *first = a;
                *last = b < size ? b : size - 1;
                return 1;
        }
        if (sscanf(h, "bytes=%llu-%n", &a, &used) == 1 && !h[used]) {
                if (a >= size)
                        return -1;
                *first = a;
                *last = size - 1;
                return 1;
        }
        if (sscanf(h, "bytes=-%llu%n", &b, &used) == 1 && !h[used]) {
                if (b == 0)
                        return -1;
                *first = b < size ? size - b : 0;
                *last = size - 1;
                return 1;
        }
        return 0;
}

/* HeadObject and GetObject (S3 API Reference). */
static int get_object(Conn *c, const Request *q, const char *bucket, const char *key) {
        Server *s = c->s;
        const char *im = header(q, "If-Match");
        bool head = strcmp(q->method, "HEAD") == 0;
        uint64_t first = 0, last = s->size - 1;
        char extra[512];
        char *buf;
        int ranged, n, r;

        inc(head ? &s->stats.heads : &s->stats.gets, 1);
        if (!is_object(s, bucket, key))
                return respond_error(c, q, 404, "Not Found", "NoSuchKey", "The specified key does not exist.");
        if (im && !etag_matches(s, im))
                return respond_error(c, q, 412, "Precondition Failed", "PreconditionFailed",
                                     "At least one of the pre-conditions you specified did not hold");
        ranged = head ? 0 : parse_range(header(q, "Range"), s->size, &first, &last);
        if (ranged < 0) {
                snprintf(extra, sizeof(extra), "Content-Range: bytes */%" PRIu64 "\r\n", s->size);
                return respond_error_with(c, q, extra, 416, "Requested Range Not Satisfiable", "InvalidRange",
                                     "The requested range is not satisfiable");
        }
        n = snprintf(extra, sizeof(extra), "ETag: %s\r\nLast-Modified: %s\r\nAccept-Ranges: bytes\r\n",
                     s->etag, s->last_modified);
        if (ranged) {
                inc(&s->stats.ranged_gets, 1);
                snprintf(extra + n, sizeof(extra) - (size_t) n,
                         "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n", first, last, s->size);
        }
        r = respond_head(c, ranged ? 206 : 200, ranged ? "Partial Content" : "OK", extra, "text/csv",
                         last - first + 1);
        if (r < 0 || head)
                return r;
        buf = malloc(CHUNK);
        if (!buf)
                return -ENOMEM;
        for (uint64_t off = first; r >= 0 && off <= last;) {
                size_t len = last - off + 1 < CHUNK ? (size_t) (last - off + 1) : CHUNK;

                fill(off, buf, len);
                r = send_all(c->fd, buf, len);
                if (r >= 0)
                        inc(&s->stats.bytes_out, len);
                off += len;
        }
        free(buf);
        return r;
}

/* x-amz-copy-source ("bucket/key" URL-encoded, maybe "/"-led, maybe "?versionId=") must be
 * our object, and x-amz-copy-source-if-match match it. 0 when so; else the error was sent. */
static int check_copy_source(Conn *c, const Request *q, int *ret) {
        const char *h = header(q, "x-amz-copy-source"), *im;
        char src[1024], *key, *v;

        snprintf(src, sizeof(src), "%s", h ? h + (*h == '/') : "");
        if ((v = strchr(src, '?')))
                *v = '\0';
        url_decode(src);
        key = strchr(src, '/');
        if (key)
                *key++ = '\0';
        if (!key || !is_object(c->s, src, key)) {
                *ret = respond_error(c, q, 404, "Not Found", "NoSuchKey", "The specified key does not exist.");
                return -1;
        }
        im = header(q, "x-amz-copy-source-if-match");
        if (im && !etag_matches(c->s, im)) {
                *ret = respond_error(c, q, 412, "Precondition Failed", "PreconditionFailed",
                                     "At least one of the pre-conditions you specified did not hold");
                return -1;
        }
        return 0;
}

static int xml_result(Conn *c, const Request *q, const char *root, const char *inner) {
        char body[2048];

        snprintf(body, sizeof(body), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s xmlns=\""
                 "http://s3.amazonaws.com/doc/2006-03-01/\">%s</%s>", root, inner, root);
        return respond(c, q, 200, "OK", NULL, "application/xml", body);
}

/* CopyObject, UploadPartCopy, PutObject: nothing is stored. */
static int put(Conn *c, const Request *q) {
        char inner[512];
        int r;

        if (!header(q, "x-amz-copy-source")) {
                char extra[128];

                inc(&c->s->stats.puts, 1);
                snprintf(extra, sizeof(extra), "ETag: \"%032x\"\r\n", 0);
                return respond(c, q, 200, "OK", extra, NULL, NULL);
        }
        if (check_copy_source(c, q, &r) < 0)
                return r;
        snprintf(inner, sizeof(inner), "<ETag>%s</ETag><LastModified>2026-01-01T00:00:00.000Z"
                 "</LastModified>", c->s->etag);
        if (has_param(q->query, "uploadId")) {
                inc(&c->s->stats.part_copies, 1);
                return xml_result(c, q, "CopyPartResult", inner);
        }
        inc(&c->s->stats.copies, 1);
        return xml_result(c, q, "CopyObjectResult", inner);
}

/* CreateMultipartUpload (?uploads) and CompleteMultipartUpload (?uploadId=). */
static int post(Conn *c, const Request *q) {
        if (has_param(q->query, "uploads"))
                return xml_result(c, q, "InitiateMultipartUploadResult", "<UploadId>synth</UploadId>");
        if (has_param(q->query, "uploadId"))
                return xml_result(c, q, "CompleteMultipartUploadResult",
                                  "<ETag>\"00000000000000000000000000000000-1\"</ETag>");
        return respond_error(c, q, 501, "Not Implemented", "NotImplemented", "not served by s3synth");
}

/* DeleteObject (and AbortMultipartUpload: ?uploadId=). A missing key is 204, as S3 answers
 * it; the object with an If-Match that does not hold is 412. */
static int delete_object(Conn *c, const Request *q, const char *bucket, const char *key) {
        Server *s = c->s;
        const char *im = header(q, "If-Match");

        if (!has_param(q->query, "uploadId") && strcmp(bucket, s->bucket) == 0 &&
            strcmp(key, s->key) == 0) {
                if (im && atomic_load(&s->deleted))
                        return respond_error(c, q, 404, "Not Found", "NoSuchKey", "The specified key does not exist.");
                if (im && !etag_matches(s, im))
                        return respond_error(c, q, 412, "Precondition Failed", "PreconditionFailed",
                                             "At least one of the pre-conditions you specified did not hold");
                inc(&s->stats.deletes, 1);
                atomic_store(&s->deleted, true);
        }
        return respond(c, q, 204, "No Content", NULL, NULL, NULL);
}

static int control(Conn *c, const Request *q) {
        Server *s = c->s;
        Stats *st = &s->stats;
        char body[1024];

        if (strcmp(q->method, "POST") == 0 && strcmp(q->path, "/_synth/reset") == 0) {
                atomic_store(&s->deleted, false);
                atomic_uint_fast64_t *all[] = { &st->requests, &st->heads, &st->gets, &st->ranged_gets,
                                                &st->bytes_out, &st->copies, &st->part_copies, &st->puts,
                                                &st->deletes, &st->precondition_failed, &st->not_found };
                for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
                        atomic_store(all[i], 0);
                return respond(c, q, 200, "OK", NULL, "application/json", "{}");
        }
        if (strcmp(q->method, "GET") != 0 || strcmp(q->path, "/_synth/stats") != 0)
                return respond(c, q, 404, "Not Found", NULL, "text/plain", "not found\n");
        snprintf(body, sizeof(body),
                 "{\"size\":%" PRIu64 ",\"rows\":%" PRIu64 ",\"etag\":\"%.32s\",\"deleted\":%s,"
                 "\"requests\":%" PRIuFAST64 ",\"heads\":%" PRIuFAST64 ",\"gets\":%" PRIuFAST64
                 ",\"ranged_gets\":%" PRIuFAST64 ",\"bytes_out\":%" PRIuFAST64 ",\"copies\":%" PRIuFAST64
                 ",\"part_copies\":%" PRIuFAST64 ",\"puts\":%" PRIuFAST64 ",\"deletes\":%" PRIuFAST64
                 ",\"precondition_failed\":%" PRIuFAST64 ",\"not_found\":%" PRIuFAST64
                 ",\"connections\":%" PRIuFAST64 "}",
                 s->size, s->rows, s->etag + 1, atomic_load(&s->deleted) ? "true" : "false",
                 atomic_load(&st->requests), atomic_load(&st->heads), atomic_load(&st->gets),
                 atomic_load(&st->ranged_gets), atomic_load(&st->bytes_out), atomic_load(&st->copies),
                 atomic_load(&st->part_copies), atomic_load(&st->puts), atomic_load(&st->deletes),
                 atomic_load(&st->precondition_failed), atomic_load(&st->not_found),
                 atomic_load(&st->connections));
        return respond(c, q, 200, "OK", NULL, "application/json", body);
}

static int dispatch(Conn *c, const Request *q) {
        char *bucket = q->path + 1, *key = strchr(bucket, '/');

        inc(&c->s->stats.requests, 1);
        if (strncmp(q->path, "/_synth/", 8) == 0)
                return control(c, q);
        if (key)
                *key++ = '\0';
        if (!*bucket)   /* ListBuckets */
                return respond_error(c, q, 501, "Not Implemented", "NotImplemented", "not served by s3synth");
        if (!key || !*key) {
                if (strcmp(q->method, "HEAD") == 0 && !*q->query)       /* HeadBucket */
                        return respond(c, q, 200, "OK", NULL, NULL, NULL);
                if (strcmp(q->method, "GET") == 0 && has_param(q->query, "notification"))
                        return xml_result(c, q, "NotificationConfiguration", "");
                return respond_error(c, q, 501, "Not Implemented", "NotImplemented", "not served by s3synth");
        }
        if (strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0)
                return get_object(c, q, bucket, key);
        if (strcmp(q->method, "PUT") == 0)
                return put(c, q);
        if (strcmp(q->method, "POST") == 0)
                return post(c, q);
        if (strcmp(q->method, "DELETE") == 0)
                return delete_object(c, q, bucket, key);
        return respond_error(c, q, 501, "Not Implemented", "NotImplemented", "not served by s3synth");
}

/* Reads and drops n body bytes, the first `have` of which are in c->in after `at`. */
static int drop_body(Conn *c, size_t at, uint64_t n) {
        size_t have = c->len - at, take = n < have ? (size_t) n : have;
        char scratch[16384];

        memmove(c->in, c->in + at + take, have - take);
        c->len = have - take;
        for (n -= take; n > 0;) {
                ssize_t r = read(c->fd, scratch, n < sizeof(scratch) ? (size_t) n : sizeof(scratch));

                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -ECONNRESET;
                n -= (uint64_t) r;
        }
        return 0;
}

/* One request: read, body dropped, answered. <0: close the connection. */
static int serve_one(Conn *c) {
        Request q = {};
        char *end, *sp1, *sp2, *line_end;
        const char *cl, *conn, *expect;
        bool close_after;
        size_t head_len;

        while (!(end = c->len ? memmem(c->in, c->len, "\r\n\r\n", 4) : NULL)) {
                ssize_t n;

                if (c->len == sizeof(c->in))
                        return -EMSGSIZE;
                n = read(c->fd, c->in + c->len, sizeof(c->in) - c->len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -ECONNRESET;
                c->len += (size_t) n;
        }
        head_len = (size_t) (end - c->in) + 4;
        line_end = memmem(c->in, head_len, "\r\n", 2);
        *line_end = '\0';
        sp1 = strchr(c->in, ' ');
        sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (!sp2 || sp1[1] != '/')
                return -EBADMSG;
        *sp1 = *sp2 = '\0';
        q.method = c->in;
        q.path = sp1 + 1;
        q.query = strchr(q.path, '?');
        if (q.query)
                *q.query++ = '\0';
        else
                q.query = sp2;  /* "" */
        url_decode(q.path);
        q.head = line_end + 2;
        q.head_end = end + 2;
        if (header(&q, "Transfer-Encoding"))
                return -EBADMSG;        /* the daemon always sends a Content-Length */
        cl = header(&q, "Content-Length");
        q.body_len = cl ? strtoull(cl, NULL, 10) : 0;
        conn = header(&q, "Connection");
        close_after = conn && strcasecmp(conn, "close") == 0;
        expect = header(&q, "Expect");
        if (expect && strcasecmp(expect, "100-continue") == 0 && q.body_len > 0 &&
            send_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
                return -EPIPE;
        /* the body is dropped before the answer, so the request line (in c->in) is copied */
        {
                char line[HEADERS_MAX];
                size_t n = head_len;
                int r;

                memcpy(line, c->in, n);
                q.method = line + (q.method - c->in);
                q.path = line + (q.path - c->in);
                q.query = line + (q.query - c->in);
                q.head = line + (q.head - c->in);
                q.head_end = line + (q.head_end - c->in);
                if (drop_body(c, head_len, q.body_len) < 0)
                        return -ECONNRESET;
                r = dispatch(c, &q);
                return r < 0 ? r : close_after ? -ECONNRESET : 1;
        }
}

static void *conn_main(void *arg) {
        Conn *c = arg;

        while (serve_one(c) > 0)
                ;
        close(c->fd);
        atomic_fetch_sub(&c->s->open_connections, 1);
        free(c);
        return NULL;
}

static void usage(void) {
        fprintf(stderr, "usage: s3synth --bucket B --key K --size BYTES [--port P] [--ports-file F]\n");
        exit(2);
}

/* A stable, S3-looking ETag (32 hex digits) for the object's size. */
static void make_etag(Server *s) {
        uint64_t x = s->size * 0x9E3779B97F4A7C15ull, y;

        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
        y = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
        snprintf(s->etag, sizeof(s->etag), "\"%016" PRIx64 "%016" PRIx64 "\"", x, y ^ (y >> 31));
}

int main(int argc, char **argv) {
        static Server s;
        const char *ports_file = NULL;
        unsigned long long size = 0;
        unsigned port = 0;
        int fd, one = 1;

        for (int i = 1; i < argc; i += 2) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

                if (!v)
                        usage();
                if (strcmp(a, "--port") == 0)
                        port = (unsigned) strtoul(v, NULL, 10);
                else if (strcmp(a, "--ports-file") == 0)
                        ports_file = v;
                else if (strcmp(a, "--bucket") == 0)
                        s.bucket = v;
                else if (strcmp(a, "--key") == 0)
                        s.key = v;
                else if (strcmp(a, "--size") == 0)
                        size = strtoull(v, NULL, 10);
                else
                        usage();
        }
        if (!s.bucket || !s.key || !*s.key || port > 65535 || size < HEADER_LEN + ROW_WIDTH)
                usage();
        s.rows = (size - HEADER_LEN) / ROW_WIDTH;
        s.size = HEADER_LEN + s.rows * ROW_WIDTH;
        make_etag(&s);
        http_date(time(NULL), s.last_modified, sizeof(s.last_modified));

        fd = bench_listen("s3synth", port, 0, 128, &port);
        if (fd < 0 || bench_write_ports_file("s3synth", ports_file, port) < 0)
                return 1;
        fprintf(stderr, "s3synth: s3://%s/%s, %" PRIu64 " bytes, %" PRIu64 " rows, on 127.0.0.1:%u\n",
                s.bucket, s.key, s.size, s.rows, port);
        signal(SIGPIPE, SIG_IGN);
        for (;;) {
                int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
                pthread_attr_t attr;
                pthread_t t;
                Conn *c;

                if (cfd < 0)
                        continue;
                if (atomic_fetch_add(&s.open_connections, 1) >= CONNECTIONS_MAX ||
                    !(c = calloc(1, sizeof(*c)))) {
                        atomic_fetch_sub(&s.open_connections, 1);
                        close(cfd);
                        continue;
                }
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                c->s = &s;
                c->fd = cfd;
                inc(&s.stats.connections, 1);
                pthread_attr_init(&attr);
                pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                if (pthread_create(&t, &attr, conn_main, c) != 0) {
                        close(cfd);
                        free(c);
                        atomic_fetch_sub(&s.open_connections, 1);
                }
                pthread_attr_destroy(&attr);
        }
}
