/* S3 object calls: GetObject (streamed, resumed), HeadObject, PutObject, DeleteObject and
 * HeadBucket, and what the other S3 files share (s3-internal.h): each call builds an
 * AwsRequest for one bucket/key (s3_send does the addressing) and reads headers or a small
 * XML document back. Copy is in s3-copy.c, listing in s3-list.c, the bucket notification
 * configuration in s3-notification.c. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/aws/awserror.h"
#include "common/aws/s3-internal.h"

/* Bodies up to this size are sent with the whole-request timeout; larger ones only with the
 * stall timeout, as their duration depends on the link. */
#define S3_PUT_TIMED_MAX (8u * 1024 * 1024)

S3Options s3_options(const AwsClient *c) {
        const S3Options *o = aws_context_service_options(aws_client_context(c), AWS_SERVICE_S3,
                                                         sizeof(*o));
        S3Options r = o ? *o : (S3Options) {};

        if (!r.multipart_copy_threshold || r.multipart_copy_threshold > S3_COPY_SINGLE_MAX)
                r.multipart_copy_threshold = S3_COPY_SINGLE_MAX;
        if (!r.copy_part_size)
                r.copy_part_size = S3_COPY_PART_SIZE_DEFAULT;
        return r;
}

/* Legacy us-east-1 buckets may have upper case and '_' and up to 255 characters; anything
 * else would change the meaning of the path. */
static bool bucket_ok(const char *b) {
        size_t n = b ? strlen(b) : 0;

        if (n < 3 || n > 255)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) b[i]) && !strchr("._-", b[i]))
                        return false;
        return true;
}

static bool key_ok(const char *k) {
        size_t n = k ? strlen(k) : 0;

        return n >= 1 && n <= S3_KEY_MAX;
}

int s3_check_names(const char *op, const char *bucket, const char *key, S3bError *err) {
        if (!bucket_ok(bucket))
                return s3b_error_set(err, -EINVAL, "S3 %s: invalid bucket name", op);
        if (key && !key_ok(key))
                return s3b_error_set(err, -EINVAL, "S3 %s: key must be 1..1024 bytes", op);
        return 0;
}

int s3_send(AwsClient *c, const char *bucket, const char *key, AwsRequest *req,
            HttpResponse *resp, S3bError *err) {
        const AwsContext *ctx = aws_client_context(c);
        const AwsEndpoint *ep = aws_context_endpoint(ctx, AWS_SERVICE_S3);
        Buf path = BUF_INIT(S3_KEY_MAX + 300);
        int r;

        if (s3_use_path_style(ep, bucket, s3_options(c).force_path_style)) {
                req->host_prefix = NULL;
                r = buf_printf(&path, key ? "/%s/%s" : "/%s", bucket, key);
        } else {
                req->host_prefix = bucket;
                r = buf_printf(&path, "/%s", key ? key : "");
        }
        if (r < 0) {
                buf_done(&path);
                return s3b_error_set(err, r, "S3 path too long");
        }
        req->service = AWS_SERVICE_S3;
        req->path = path.data;
        r = aws_client_send(c, req, resp, err);
        buf_done(&path);
        return r;
}

void s3_unquote_etag(const char *s, char *out, size_t n) {
        size_t len;

        s = s ? s : "";
        if (*s == '"')
                s++;
        len = strlen(s);
        if (len > 0 && s[len - 1] == '"')
                len--;
        snprintf(out, n, "%.*s", (int) MIN(len, n - 1), s);
}

bool s3_parse_u64(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (!s || !isdigit((unsigned char) *s))
                return false;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end)
                return false;
        *ret = v;
        return true;
}

/* "bytes 0-99/1234" → 1234 */
static bool content_range_total(const char *s, uint64_t *ret) {
        const char *slash = s ? strrchr(s, '/') : NULL;

        return slash && s3_parse_u64(slash + 1, ret);
}

static const char *str_or_empty(const char *s) {
        return s ? s : "";
}

/* The x-amz-meta-* headers of resp as "name\0value\0" pairs, names in lower case without
 * the prefix. What does not fit (S3 caps user metadata at 2 KB, so nothing from S3) is
 * dropped whole, never cut. */
static void meta_from_headers(const HttpResponse *resp, S3ObjectInfo *i) {
        const char *p = resp->headers.data, *end = p ? p + resp->headers.len : NULL;

        while (p && p < end) {
                const char *value = p + strlen(p) + 1;
                size_t nl, vl;

                if (value >= end)
                        break;
                if (strncasecmp(p, "x-amz-meta-", 11) == 0) {
                        nl = strlen(p + 11);
                        vl = strlen(value);
                        if (i->meta_len + nl + vl + 2 <= sizeof(i->meta)) {
                                for (size_t k = 0; k < nl; k++)
                                        i->meta[i->meta_len + k] = (char) tolower((unsigned char) p[11 + k]);
                                i->meta[i->meta_len + nl] = '\0';
                                memcpy(i->meta + i->meta_len + nl + 1, value, vl + 1);
                                i->meta_len += nl + vl + 2;
                        }
                }
                p = value + strlen(value) + 1;
        }
}

const char *s3_object_info_meta(const S3ObjectInfo *info, const char *name) {
        const char *p = info->meta, *end = info->meta + info->meta_len;

        while (p < end) {
                const char *value = p + strlen(p) + 1;

                if (strcasecmp(p, name) == 0)
                        return value;
                p = value + strlen(value) + 1;
        }
        return NULL;
}

/* Fills the caller's info in place: it is a few KiB, and only written on success. */
void s3_info_from_headers(const HttpResponse *resp, S3ObjectInfo *i) {
        *i = (S3ObjectInfo) {};
        if (!content_range_total(http_response_header(resp, "Content-Range"), &i->size) &&
            !s3_parse_u64(http_response_header(resp, "Content-Length"), &i->size))
                i->size = resp->content_length > 0 ? (uint64_t) resp->content_length : 0;
        s3_unquote_etag(http_response_header(resp, "ETag"), i->etag, sizeof(i->etag));
        snprintf(i->version_id, sizeof(i->version_id), "%s",
                 str_or_empty(http_response_header(resp, "x-amz-version-id")));
        snprintf(i->content_type, sizeof(i->content_type), "%s",
                 str_or_empty(http_response_header(resp, "Content-Type")));
        snprintf(i->content_encoding, sizeof(i->content_encoding), "%s",
                 str_or_empty(http_response_header(resp, "Content-Encoding")));
        meta_from_headers(resp, i);
}

/* If-Match / ?versionId= of a version (v may be NULL). The ETag is quoted into buf, as
 * HTTP's entity-tag syntax wants it. Returns the number of headers / params added. */
static size_t version_header(const S3Version *v, char *buf, size_t n, HttpHeader *ret) {
        if (!v || !s3_has(v->etag))
                return 0;
        snprintf(buf, n, "\"%s\"", v->etag);
        *ret = (HttpHeader) { "If-Match", buf };
        return 1;
}

static size_t version_query(const S3Version *v, SigV4Param *ret) {
        if (!v || !s3_has(v->version_id))
                return 0;
        *ret = (SigV4Param) { "versionId", v->version_id };
        return 1;
}

/* The state of one GetObject over all its attempts. A stream cut after bytes reached the
 * caller resumes with Range from the next byte and If-Match the first ETag, so the caller
 * sees each byte once and of one object version (a replaced object fails with 412). */
typedef struct GetSink {
        S3DataFn fn;
        void *userdata;
        uint64_t delivered;             /* bytes given to fn over all attempts */
        uint64_t first, last;           /* requested range; last valid if has_last */
        bool has_last;
        bool resumable;                 /* no suffix/multi range, and an ETag seen */
        bool check_start;               /* the next first chunk must start at expect_start */
        uint64_t expect_start;
        char etag[84];                  /* quoted, as S3 sent it */
        char range[64];
        HttpHeader headers[2];
} GetSink;

/* "bytes=A-B" / "bytes=A-" (NULL: the whole object). Suffix and multiple ranges are passed
 * through but not resumed. */
static void sink_parse_range(GetSink *s, const char *range) {
        unsigned long long a, b;
        int used = 0;

        s->resumable = true;
        if (!range)
                return;
        if (sscanf(range, "bytes=%llu-%llu%n", &a, &b, &used) == 2 && range[used] == '\0') {
                s->first = a;
                s->last = b;
                s->has_last = true;
        } else if (sscanf(range, "bytes=%llu-%n", &a, &used) == 1 && range[used] == '\0')
                s->first = a;
        else
                s->resumable = false;
}

/* "bytes 100-199/1234" → 100 */
static bool content_range_start(const char *s, uint64_t *ret) {
        unsigned long long v;

        if (!s || sscanf(s, "bytes %llu-", &v) != 1)
                return false;
        *ret = v;
        return true;
}

static int get_write(void *userdata, const HttpResponse *resp, const void *data, size_t n) {
        GetSink *s = userdata;
        int r;

        if (s->check_start) {
                uint64_t start;

                /* a server that ignored Range would replay the object from byte 0 */
                if (resp->status != 206 ||
                    !content_range_start(http_response_header(resp, "Content-Range"), &start) ||
                    start != s->expect_start)
                        return -EPROTO;
                s->check_start = false;
        }
        if (!s->etag[0]) {
                const char *etag = http_response_header(resp, "ETag");

                if (etag && strlen(etag) < sizeof(s->etag))
                        snprintf(s->etag, sizeof(s->etag), "%s", etag);
                else
                        s->resumable = false;
        }
        r = s->fn(s->userdata, data, n);
        if (r >= 0)
                s->delivered += n;
        return r;
}

static int get_resume(void *userdata, AwsResume *ret) {
        GetSink *s = userdata;
        uint64_t start = s->first + s->delivered;

        if (!s->resumable || !s->etag[0] || (s->has_last && start > s->last))
                return -1;
        if (s->has_last)
                snprintf(s->range, sizeof(s->range), "bytes=%" PRIu64 "-%" PRIu64, start, s->last);
        else
                snprintf(s->range, sizeof(s->range), "bytes=%" PRIu64 "-", start);
        s->headers[0] = (HttpHeader) { "Range", s->range };
        s->headers[1] = (HttpHeader) { "If-Match", s->etag };
        s->check_start = true;
        s->expect_start = start;
        *ret = (AwsResume) { s->headers, 2 };
        return 0;
}

int s3_get_object(AwsClient *c, const char *bucket, const char *key, const S3Version *v,
                  const char *range_or_null, S3DataFn fn, void *userdata, S3ObjectInfo *ret_info,
                  S3bError *err) {
        GetSink sink = { .fn = fn, .userdata = userdata };
        HttpHeader h[2];
        SigV4Param q[1];
        size_t nh = 0, nq;
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = s3_check_names("GetObject", bucket, key, err);
        if (r < 0)
                return r;
        if (!fn)
                return s3b_error_set(err, -EINVAL, "S3 GetObject: no data callback");
        sink_parse_range(&sink, range_or_null);
        if (range_or_null)
                h[nh++] = (HttpHeader) { "Range", range_or_null };
        /* A bounded or offset range must come back as that range (206 from its first byte):
         * a server that ignored Range would hand byte 0 on as byte `first`. */
        if (range_or_null && sink.resumable && (sink.first > 0 || sink.has_last)) {
                sink.check_start = true;
                sink.expect_start = sink.first;
        }
        /* The pinned ETag is also what a resumed stream asks for (get_resume). */
        nh += version_header(v, sink.etag, sizeof(sink.etag), &h[nh]);
        nq = version_query(v, q);
        r = s3_send(c, bucket, key, &(AwsRequest) {
                        .method = "GET",
                        .headers = h,
                        .n_headers = nh,
                        .query = q,
                        .n_query = nq,
                        .write = get_write,
                        .write_userdata = &sink,
                        .resume = get_resume,
                        .resume_userdata = &sink,
                        .body_max = S3_XML_MAX,         /* for an error document */
                        .timeout_ms = AWS_TIMEOUT_NONE,
                }, &resp, err);
        if (r >= 0 && ret_info)
                s3_info_from_headers(&resp, ret_info);
        else if (r < 0)
                s3b_error_prefix(err, "S3 GetObject s3://%s/%s", bucket, key);
        return r;
}

/* HEAD and DELETE name the version only through If-Match and ?versionId=. */
static int send_versioned(AwsClient *c, const char *bucket, const char *key, const S3Version *v,
                          AwsRequest *req, HttpResponse *resp, S3bError *err) {
        char etag[84];
        HttpHeader h[1];
        SigV4Param q[1];

        req->headers = h;
        req->n_headers = version_header(v, etag, sizeof(etag), h);
        req->query = q;
        req->n_query = version_query(v, q);
        req->body_max = S3_XML_MAX;
        return s3_send(c, bucket, key, req, resp, err);
}

int s3_head_response(AwsClient *c, const char *bucket, const char *key, const S3Version *v,
                     HttpResponse *resp, S3bError *err) {
        int r;

        r = s3_check_names("HeadObject", bucket, key, err);
        if (r < 0)
                return r;
        r = send_versioned(c, bucket, key, v, &(AwsRequest) { .method = "HEAD" }, resp, err);
        if (r < 0)
                s3b_error_prefix(err, "S3 HeadObject s3://%s/%s", bucket, key);
        return r;
}

int s3_head_object(AwsClient *c, const char *bucket, const char *key, const S3Version *v,
                   S3ObjectInfo *ret_info, S3bError *err) {
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = s3_head_response(c, bucket, key, v, &resp, err);
        if (r >= 0 && ret_info)
                s3_info_from_headers(&resp, ret_info);
        return r;
}

int s3_head_bucket(AwsClient *c, const char *bucket, S3bError *err) {
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = s3_check_names("HeadBucket", bucket, NULL, err);
        if (r < 0)
                return r;
        r = s3_send(c, bucket, NULL, &(AwsRequest) { .method = "HEAD", .body_max = S3_XML_MAX },
                    &resp, err);
        if (r < 0)
                s3b_error_prefix(err, "S3 HeadBucket %s", bucket);
        return r;
}

int s3_put_object(AwsClient *c, const char *bucket, const char *key, const void *body, size_t n,
                  const char *content_type, S3bError *err) {
        HttpHeader ct = { "Content-Type", content_type ? content_type : "application/octet-stream" };
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = s3_check_names("PutObject", bucket, key, err);
        if (r < 0)
                return r;
        r = s3_send(c, bucket, key, &(AwsRequest) {
                        .method = "PUT",
                        .headers = &ct,
                        .n_headers = 1,
                        .body = body,
                        .body_len = n,
                        .body_max = S3_XML_MAX,
                        .timeout_ms = n <= S3_PUT_TIMED_MAX ? 0 : AWS_TIMEOUT_NONE,
                }, &resp, err);
        if (r < 0)
                s3b_error_prefix(err, "S3 PutObject s3://%s/%s", bucket, key);
        return r;
}

int s3_delete_object(AwsClient *c, const char *bucket, const char *key, const S3Version *v,
                     S3bError *err) {
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = s3_check_names("DeleteObject", bucket, key, err);
        if (r < 0)
                return r;
        r = send_versioned(c, bucket, key, v, &(AwsRequest) { .method = "DELETE" }, &resp, err);
        if (r < 0)
                s3b_error_prefix(err, "S3 DeleteObject s3://%s/%s", bucket, key);
        return r;
}
