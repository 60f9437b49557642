/* S3 object calls. Each builds an AwsRequest for one bucket/key (s3_send does the addressing)
 * and reads headers or a small XML document back. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/aws/awserror.h"
#include "common/aws/s3.h"
#include "common/aws/xml.h"

#define S3_XML_MAX (64u * 1024)
/* 1000 keys of up to 1 KiB each, URL-encoded (≤ 3×), plus per-entry elements. */
#define S3_LIST_BODY_MAX (8u * 1024 * 1024)
#define S3_LIST_NODES_MAX 50000u
/* Bodies up to this size are sent with the whole-request timeout; larger ones only with the
 * stall timeout, as their duration depends on the link. */
#define S3_PUT_TIMED_MAX (8u * 1024 * 1024)
#define S3_MULTIPART_PARTS_MAX 10000u
#define S3_PART_SIZE_MIN (UINT64_C(5) << 20)
#define S3_PART_SIZE_MAX (UINT64_C(5) << 30)
/* User metadata is at most 2 KB, so a few dozen headers at most; the client signs up to 64. */
#define S3_CARRIED_HEADERS_MAX 48u

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

static int check_names(const char *op, const char *bucket, const char *key, S3bError *err) {
        if (!bucket_ok(bucket))
                return s3b_error_set(err, -EINVAL, "S3 %s: invalid bucket name", op);
        if (key && !key_ok(key))
                return s3b_error_set(err, -EINVAL, "S3 %s: key must be 1..1024 bytes", op);
        return 0;
}

/* Sends req to bucket/key (key NULL: the bucket itself), choosing the addressing style. */
static int s3_send(AwsClient *c, const char *bucket, const char *key, AwsRequest *req,
                   HttpResponse *resp, S3bError *err) {
        const AwsContext *ctx = aws_client_context(c);
        const AwsEndpoint *ep = aws_context_endpoint(ctx, AWS_SERVICE_S3);
        Buf path = BUF_INIT(S3_KEY_MAX + 300);
        int r;

        if (s3_use_path_style(ep, bucket, aws_context_s3_force_path_style(ctx))) {
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

static void unquote_etag(const char *s, char *out, size_t n) {
        size_t len;

        s = s ? s : "";
        if (*s == '"')
                s++;
        len = strlen(s);
        if (len > 0 && s[len - 1] == '"')
                len--;
        snprintf(out, n, "%.*s", (int) MIN(len, n - 1), s);
}

static bool parse_u64(const char *s, uint64_t *ret) {
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

        return slash && parse_u64(slash + 1, ret);
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
static void info_from_headers(const HttpResponse *resp, S3ObjectInfo *i) {
        *i = (S3ObjectInfo) {};
        if (!content_range_total(http_response_header(resp, "Content-Range"), &i->size) &&
            !parse_u64(http_response_header(resp, "Content-Length"), &i->size))
                i->size = resp->content_length > 0 ? (uint64_t) resp->content_length : 0;
        unquote_etag(http_response_header(resp, "ETag"), i->etag, sizeof(i->etag));
        snprintf(i->version_id, sizeof(i->version_id), "%s",
                 str_or_empty(http_response_header(resp, "x-amz-version-id")));
        snprintf(i->content_type, sizeof(i->content_type), "%s",
                 str_or_empty(http_response_header(resp, "Content-Type")));
        snprintf(i->content_encoding, sizeof(i->content_encoding), "%s",
                 str_or_empty(http_response_header(resp, "Content-Encoding")));
        meta_from_headers(resp, i);
}

static bool has(const char *s) {
        return s && *s;
}

/* If-Match / ?versionId= of a version (v may be NULL). The ETag is quoted into buf, as
 * HTTP's entity-tag syntax wants it. Returns the number of headers / params added. */
static size_t version_header(const S3Version *v, char *buf, size_t n, HttpHeader *ret) {
        if (!v || !has(v->etag))
                return 0;
        snprintf(buf, n, "\"%s\"", v->etag);
        *ret = (HttpHeader) { "If-Match", buf };
        return 1;
}

static size_t version_query(const S3Version *v, SigV4Param *ret) {
        if (!v || !has(v->version_id))
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

        r = check_names("GetObject", bucket, key, err);
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
                info_from_headers(&resp, ret_info);
        else if (r < 0)
                s3b_error_prefix(err, "S3 GetObject s3://%s/%s", bucket, key);
        return r;
}

/* Headers CopyObject carries over by itself and a multipart upload must be given: user
 * metadata and the system metadata a client can set (AWS "Working with object metadata"). */
static bool is_carried_header(const char *name) {
        static const char *const names[] = {
                "Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language",
                "Cache-Control", "Expires",
        };

        if (strncasecmp(name, "x-amz-meta-", 11) == 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(name, names[i]) == 0)
                        return true;
        return false;
}

/* Copies the carried headers of resp into out as "name\0value\0" pairs. */
static int keep_carried_headers(const HttpResponse *resp, Buf *out, size_t *ret_n) {
        const char *p = resp->headers.data, *end = p ? p + resp->headers.len : NULL;
        size_t n = 0;
        int r;

        while (p && p < end) {
                const char *value = p + strlen(p) + 1;

                if (value >= end)
                        break;
                if (is_carried_header(p)) {
                        if (++n > S3_CARRIED_HEADERS_MAX)
                                return -E2BIG;
                        if ((r = buf_append(out, p, strlen(p) + 1)) < 0 ||
                            (r = buf_append(out, value, strlen(value) + 1)) < 0)
                                return r;
                }
                p = value + strlen(value) + 1;
        }
        *ret_n = n;
        return 0;
}

static int head(AwsClient *c, const char *bucket, const char *key, const S3Version *v,
                S3ObjectInfo *ret_info, Buf *ret_carried, size_t *ret_n_carried, S3bError *err) {
        char etag[84];
        HttpHeader h[1];
        SigV4Param q[1];
        size_t nh, nq;
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = check_names("HeadObject", bucket, key, err);
        if (r < 0)
                return r;
        nh = version_header(v, etag, sizeof(etag), h);
        nq = version_query(v, q);
        r = s3_send(c, bucket, key, &(AwsRequest) {
                        .method = "HEAD", .headers = h, .n_headers = nh, .query = q, .n_query = nq,
                        .body_max = S3_XML_MAX,
                }, &resp, err);
        if (r >= 0 && ret_carried && keep_carried_headers(&resp, ret_carried, ret_n_carried) < 0)
                r = s3b_error_set(err, -E2BIG, "too many metadata headers to copy");
        if (r >= 0 && ret_info)
                info_from_headers(&resp, ret_info);
        else if (r < 0)
                s3b_error_prefix(err, "S3 HeadObject s3://%s/%s", bucket, key);
        return r;
}

int s3_head_object(AwsClient *c, const char *bucket, const char *key, const S3Version *v,
                   S3ObjectInfo *ret_info, S3bError *err) {
        return head(c, bucket, key, v, ret_info, NULL, NULL, err);
}

int s3_head_bucket(AwsClient *c, const char *bucket, S3bError *err) {
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = check_names("HeadBucket", bucket, NULL, err);
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

        r = check_names("PutObject", bucket, key, err);
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
        char etag[84];
        HttpHeader h[1];
        SigV4Param q[1];
        size_t nh, nq;
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = check_names("DeleteObject", bucket, key, err);
        if (r < 0)
                return r;
        nh = version_header(v, etag, sizeof(etag), h);
        nq = version_query(v, q);
        r = s3_send(c, bucket, key, &(AwsRequest) {
                        .method = "DELETE", .headers = h, .n_headers = nh, .query = q,
                        .n_query = nq, .body_max = S3_XML_MAX,
                }, &resp, err);
        if (r < 0)
                s3b_error_prefix(err, "S3 DeleteObject s3://%s/%s", bucket, key);
        return r;
}

/* ---- copy ---- */

/* Room for the source's carried headers plus the caller's own metadata. */
#define S3_COPY_META_MAX 8u

/* Everything a copy needs about its source and the metadata of the new object, decided once
 * from the HEAD: the copy is pinned to the headed ETag, so it is of the version headed. */
typedef struct CopyPlan {
        Buf src;                        /* x-amz-copy-source: bucket/key[?versionId=] */
        char src_etag[84];              /* quoted, for x-amz-copy-source-if-match */
        S3ObjectInfo info;
        Buf carried;                    /* "name\0value\0" headers of the source */
        Buf names;                      /* "x-amz-meta-NAME\0" of the caller's metadata */
        HttpHeader meta[S3_CARRIED_HEADERS_MAX + S3_COPY_META_MAX];
        size_t n_meta;
        bool replace;                   /* x-amz-metadata-directive: REPLACE */
} CopyPlan;

static void copy_plan_done(CopyPlan *p) {
        buf_done(&p->src);
        buf_done(&p->carried);
        buf_done(&p->names);
}

/* x-amz-copy-source: "bucket/key" with the key URL-encoded ('/' kept), as the SDKs send it,
 * and "?versionId=" when a version is named (S3 API Reference, CopyObject). */
static int copy_source(const char *bucket, const char *key, const S3Version *v, Buf *out) {
        int r = buf_printf(out, "%s/", bucket);

        if (r >= 0)
                r = sigv4_uri_encode(out, key, strlen(key), true);
        if (r >= 0 && v && has(v->version_id)) {
                r = buf_append_str(out, "?versionId=");
                if (r >= 0)
                        r = sigv4_uri_encode(out, v->version_id, strlen(v->version_id), false);
        }
        return r;
}

/* The new object's headers: the source's carried ones, then the caller's metadata. S3 caps
 * user metadata at 2 KB of names (without the prefix) and values ("Working with object
 * metadata"); past it the copy would fail with MetadataTooLarge, so it fails here first. */
static int plan_meta(CopyPlan *p, const S3CopyOptions *o, size_t n_carried, S3bError *err) {
        const char *c = p->carried.data;
        size_t user_bytes = 0, offsets[S3_COPY_META_MAX];
        int r;

        for (size_t i = 0; i < n_carried; i++) {
                const char *value = c + strlen(c) + 1;

                if (strncasecmp(c, "x-amz-meta-", 11) == 0)
                        user_bytes += strlen(c + 11) + strlen(value);
                p->meta[p->n_meta++] = (HttpHeader) { c, value };
                c = value + strlen(value) + 1;
        }
        if (!o || o->n_meta == 0)
                return 0;
        if (o->n_meta > S3_COPY_META_MAX)
                return s3b_error_set(err, -E2BIG, "S3 CopyObject: too much metadata");
        for (size_t i = 0; i < o->n_meta; i++) {
                offsets[i] = p->names.len;
                user_bytes += strlen(o->meta[i].name) + strlen(o->meta[i].value);
                r = buf_printf(&p->names, "x-amz-meta-%s", o->meta[i].name);
                if (r >= 0)
                        r = buf_append_char(&p->names, '\0');
                if (r < 0)
                        return s3b_error_set(err, r, "S3 CopyObject: metadata name too long");
        }
        if (user_bytes > S3_USER_META_MAX)
                return s3b_error_set(err, -E2BIG, "S3 CopyObject: the source's metadata leaves "
                                     "no room for %zu more entries within S3's 2 KB", o->n_meta);
        for (size_t i = 0; i < o->n_meta; i++)
                p->meta[p->n_meta++] = (HttpHeader) { p->names.data + offsets[i], o->meta[i].value };
        p->replace = true;
        return 0;
}

/* Parses a 2xx XML body whose root must be `root`. */
static int parse_result(const HttpResponse *resp, const char *root_name, XmlNode **ret,
                        S3bError *err) {
        XmlNode *root = NULL;
        int r;

        r = xml_parse(resp->body.data ? resp->body.data : "", resp->body.len, 0, &root, err);
        if (r < 0)
                return r;
        if (strcmp(root->name, root_name) != 0) {
                r = s3b_error_set(err, -EBADMSG, "expected <%s>, got <%s>", root_name,
                                  root->name);
                xml_free(root);
                return r;
        }
        *ret = root;
        return 0;
}

static int copy_single(AwsClient *c, const CopyPlan *p, const char *dst_bucket,
                       const char *dst_key, S3bError *err) {
        HttpHeader h[3 + ELEMENTSOF(p->meta)];
        size_t nh = 0;
        _cleanup_(xml_freep) XmlNode *root = NULL;
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        h[nh++] = (HttpHeader) { "x-amz-copy-source", buf_str(&p->src) };
        h[nh++] = (HttpHeader) { "x-amz-copy-source-if-match", p->src_etag };
        if (p->replace) {
                /* REPLACE drops what COPY would keep, so the source's headers go along. */
                h[nh++] = (HttpHeader) { "x-amz-metadata-directive", "REPLACE" };
                for (size_t i = 0; i < p->n_meta; i++)
                        h[nh++] = p->meta[i];
        }
        r = s3_send(c, dst_bucket, dst_key, &(AwsRequest) {
                        .method = "PUT",
                        .headers = h,
                        .n_headers = nh,
                        .body_max = S3_XML_MAX,
                        /* a copy takes as long as S3 needs; it keeps the connection alive */
                        .timeout_ms = AWS_TIMEOUT_NONE,
                        .error_in_200 = true,
                }, &resp, err);
        if (r >= 0)
                r = parse_result(&resp, "CopyObjectResult", &root, err);
        return r;
}

/* State of one multipart copy. */
typedef struct MultipartCopy {
        const CopyPlan *plan;
        const char *bucket, *key;
        char *upload_id;
        char (*part_etags)[80];         /* quoted as S3 returned them */
        size_t n_parts;
} MultipartCopy;

static int mp_create(AwsClient *c, MultipartCopy *m, S3bError *err) {
        const SigV4Param q = { "uploads", NULL };
        _cleanup_(xml_freep) XmlNode *root = NULL;
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        const char *id;
        int r;

        /* CopyObject keeps metadata by itself; a new upload must be told */
        r = s3_send(c, m->bucket, m->key, &(AwsRequest) {
                        .method = "POST", .query = &q, .n_query = 1,
                        .headers = m->plan->meta, .n_headers = m->plan->n_meta,
                        .body_max = S3_XML_MAX,
                }, &resp, err);
        if (r >= 0)
                r = parse_result(&resp, "InitiateMultipartUploadResult", &root, err);
        if (r >= 0) {
                id = xml_text(xml_child(root, "UploadId"));
                if (!*id)
                        r = s3b_error_set(err, -EBADMSG, "CreateMultipartUpload without UploadId");
                else if (!(m->upload_id = strdup(id)))
                        r = s3b_error_set(err, -ENOMEM, "out of memory");
        }
        return r;
}

static int mp_copy_part(AwsClient *c, MultipartCopy *m, size_t i, uint64_t first, uint64_t last,
                        S3bError *err) {
        char part[24], range[64];
        const SigV4Param q[] = { { "partNumber", part }, { "uploadId", m->upload_id } };
        const HttpHeader h[] = {
                { "x-amz-copy-source", buf_str(&m->plan->src) },
                { "x-amz-copy-source-range", range },
                { "x-amz-copy-source-if-match", m->plan->src_etag },
        };
        _cleanup_(xml_freep) XmlNode *root = NULL;
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        snprintf(part, sizeof(part), "%zu", i + 1);
        snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, first, last);
        r = s3_send(c, m->bucket, m->key, &(AwsRequest) {
                        .method = "PUT", .query = q, .n_query = ELEMENTSOF(q),
                        .headers = h, .n_headers = ELEMENTSOF(h), .body_max = S3_XML_MAX,
                        .timeout_ms = AWS_TIMEOUT_NONE, .error_in_200 = true,
                }, &resp, err);
        if (r >= 0)
                r = parse_result(&resp, "CopyPartResult", &root, err);
        if (r >= 0) {
                const char *etag = xml_text(xml_child(root, "ETag"));

                if (!*etag || strlen(etag) >= sizeof(m->part_etags[0]))
                        r = s3b_error_set(err, -EBADMSG, "UploadPartCopy without a usable ETag");
                else
                        snprintf(m->part_etags[i], sizeof(m->part_etags[0]), "%s", etag);
        }
        return r;
}

static int xml_escape_append(Buf *b, const char *s) {
        int r = 0;

        for (; *s && r >= 0; s++)
                switch (*s) {
                case '&': r = buf_append_str(b, "&amp;"); break;
                case '<': r = buf_append_str(b, "&lt;"); break;
                case '>': r = buf_append_str(b, "&gt;"); break;
                case '"': r = buf_append_str(b, "&quot;"); break;
                default: r = buf_append_char(b, *s); break;
                }
        return r;
}

static int mp_complete(AwsClient *c, MultipartCopy *m, S3bError *err) {
        const SigV4Param q = { "uploadId", m->upload_id };
        const HttpHeader h = { "Content-Type", "application/xml" };
        Buf body = BUF_INIT(S3_MULTIPART_PARTS_MAX * 160 + 256);
        _cleanup_(xml_freep) XmlNode *root = NULL;
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = buf_append_str(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        for (size_t i = 0; r >= 0 && i < m->n_parts; i++) {
                r = buf_printf(&body, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
                if (r >= 0)
                        r = xml_escape_append(&body, m->part_etags[i]);
                if (r >= 0)
                        r = buf_append_str(&body, "</ETag></Part>");
        }
        if (r >= 0)
                r = buf_append_str(&body, "</CompleteMultipartUpload>");
        if (r < 0) {
                buf_done(&body);
                return s3b_error_set(err, r, "CompleteMultipartUpload body");
        }
        r = s3_send(c, m->bucket, m->key, &(AwsRequest) {
                        .method = "POST", .query = &q, .n_query = 1, .headers = &h, .n_headers = 1,
                        .body = body.data, .body_len = body.len, .body_max = S3_XML_MAX,
                        .timeout_ms = AWS_TIMEOUT_NONE, .error_in_200 = true,
                }, &resp, err);
        if (r >= 0)
                r = parse_result(&resp, "CompleteMultipartUploadResult", &root, err);
        buf_done(&body);
        return r;
}

/* Best effort: an upload left behind only costs storage until a lifecycle rule removes it. */
static void mp_abort(AwsClient *c, MultipartCopy *m) {
        const SigV4Param q = { "uploadId", m->upload_id };
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;

        (void) s3_send(c, m->bucket, m->key, &(AwsRequest) {
                        .method = "DELETE", .query = &q, .n_query = 1, .body_max = S3_XML_MAX,
                }, &resp, NULL);
}

static uint64_t part_size_for(uint64_t size, uint64_t wanted) {
        uint64_t min_for_count = (size + S3_MULTIPART_PARTS_MAX - 1) / S3_MULTIPART_PARTS_MAX;
        uint64_t p = MAX(wanted, min_for_count);

        return MIN(MAX(p, S3_PART_SIZE_MIN), S3_PART_SIZE_MAX);
}

static int copy_multipart(AwsClient *c, const CopyPlan *p, const char *dst_bucket,
                          const char *dst_key, S3bError *err) {
        uint64_t size = p->info.size;
        uint64_t part = part_size_for(size, aws_context_s3_copy_part_size(aws_client_context(c)));
        MultipartCopy m = { .plan = p, .bucket = dst_bucket, .key = dst_key };
        int r;

        m.n_parts = (size_t) ((size + part - 1) / part);
        m.part_etags = calloc(m.n_parts, sizeof(*m.part_etags));
        if (!m.part_etags)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        r = mp_create(c, &m, err);
        for (size_t i = 0; r >= 0 && i < m.n_parts; i++) {
                uint64_t first = (uint64_t) i * part;

                r = mp_copy_part(c, &m, i, first, MIN(first + part, size) - 1, err);
        }
        if (r >= 0)
                r = mp_complete(c, &m, err);
        if (r < 0 && m.upload_id)
                mp_abort(c, &m);
        free(m.upload_id);
        free(m.part_etags);
        return r;
}

int s3_copy_object(AwsClient *c, const char *src_bucket, const char *src_key,
                   const S3CopyOptions *o, const char *dst_bucket, const char *dst_key,
                   S3bError *err) {
        _cleanup_(copy_plan_done) CopyPlan p = {
                .src = BUF_INIT(4 * S3_KEY_MAX + 1024),
                .carried = BUF_INIT(16 * 1024),
                .names = BUF_INIT(1024),
        };
        const S3Version *v = o ? o->source : NULL;
        size_t n_carried = 0;
        int r;

        r = check_names("CopyObject", src_bucket, src_key, err);
        if (r >= 0)
                r = check_names("CopyObject", dst_bucket, dst_key, err);
        if (r < 0)
                return r;
        r = copy_source(src_bucket, src_key, v, &p.src);
        if (r < 0)
                return s3b_error_set(err, r, "S3 CopyObject: source too long");
        r = head(c, src_bucket, src_key, v, &p.info, &p.carried, &n_carried, err);
        if (r >= 0)
                r = plan_meta(&p, o, n_carried, err);
        if (r < 0)
                return r;
        /* The HEAD was pinned already; a server that ignored its If-Match still must not
         * make us copy another version. */
        if (v && has(v->etag) && strcmp(p.info.etag, v->etag) != 0)
                return s3b_error_set(err, -ESTALE, "S3 CopyObject s3://%s/%s: the source is no "
                                     "longer ETag %s", src_bucket, src_key, v->etag);
        /* Every request of the copy names that version, so a newer upload between the HEAD
         * and the last part fails the copy (412) instead of mixing versions. */
        snprintf(p.src_etag, sizeof(p.src_etag), "\"%s\"", p.info.etag);
        if (p.info.size > aws_context_s3_multipart_copy_threshold(aws_client_context(c)))
                r = copy_multipart(c, &p, dst_bucket, dst_key, err);
        else
                r = copy_single(c, &p, dst_bucket, dst_key, err);
        if (r < 0)
                s3b_error_prefix(err, "S3 CopyObject s3://%s/%s to s3://%s/%s", src_bucket,
                                 src_key, dst_bucket, dst_key);
        return r;
}

/* ---- list ---- */

void s3_object_list_done(S3ObjectList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n_objects; i++)
                free(l->objects[i].key);
        free(l->objects);
        free(l->next_token);
        *l = (S3ObjectList) {};
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char) tolower((unsigned char) c);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* encoding-type=url values: %XX escapes, '+' for space (botocore decodes with unquote_plus). */
static char *url_decode(const char *s) {
        size_t n = strlen(s), k = 0;
        char *out = malloc(n + 1);

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                int hi, lo;

                if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
                    (lo = hexval(s[i + 2])) >= 0) {
                        out[k++] = (char) (hi << 4 | lo);
                        i += 2;
                } else
                        out[k++] = s[i] == '+' ? ' ' : s[i];
        }
        out[k] = '\0';
        return out;
}

static int list_from_xml(const XmlNode *root, S3ObjectList *l) {
        bool encoded = strcmp(xml_text(xml_child(root, "EncodingType")), "url") == 0;
        const char *token = xml_text(xml_child(root, "NextContinuationToken"));
        size_t n = 0;

        for (const XmlNode *e = xml_child(root, "Contents"); e; e = xml_next_same(e))
                n++;
        l->objects = calloc(MAX(n, (size_t) 1), sizeof(*l->objects));
        if (!l->objects)
                return -ENOMEM;
        for (const XmlNode *e = xml_child(root, "Contents"); e; e = xml_next_same(e)) {
                S3ListEntry *o = &l->objects[l->n_objects];
                const char *key = xml_text(xml_child(e, "Key"));

                if (!*key || !parse_u64(xml_text(xml_child(e, "Size")), &o->size))
                        return -EBADMSG;
                o->key = encoded ? url_decode(key) : strdup(key);
                if (!o->key)
                        return -ENOMEM;
                unquote_etag(xml_text(xml_child(e, "ETag")), o->etag, sizeof(o->etag));
                l->n_objects++;
        }
        if (strcmp(xml_text(xml_child(root, "IsTruncated")), "true") == 0) {
                if (!*token)
                        return -EBADMSG;        /* would make the caller loop forever */
                if (!(l->next_token = strdup(token)))
                        return -ENOMEM;
        }
        return 0;
}

int s3_list_objects_v2(AwsClient *c, const char *bucket, const char *prefix,
                       const char *continuation_token, unsigned max_keys, S3ObjectList *ret,
                       S3bError *err) {
        SigV4Param q[5];
        size_t nq = 0;
        char mk[16];
        _cleanup_(xml_freep) XmlNode *root = NULL;
        S3ObjectList l = {};
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = check_names("ListObjectsV2", bucket, NULL, err);
        if (r < 0)
                return r;
        if (max_keys > S3_LIST_MAX_KEYS)
                return s3b_error_set(err, -EINVAL, "S3 ListObjectsV2: max_keys over 1000");
        q[nq++] = (SigV4Param) { "list-type", "2" };
        q[nq++] = (SigV4Param) { "encoding-type", "url" };
        if (prefix && *prefix)
                q[nq++] = (SigV4Param) { "prefix", prefix };
        if (continuation_token && *continuation_token)
                q[nq++] = (SigV4Param) { "continuation-token", continuation_token };
        if (max_keys) {
                snprintf(mk, sizeof(mk), "%u", max_keys);
                q[nq++] = (SigV4Param) { "max-keys", mk };
        }
        r = s3_send(c, bucket, NULL, &(AwsRequest) {
                        .method = "GET", .query = q, .n_query = nq, .body_max = S3_LIST_BODY_MAX,
                }, &resp, err);
        if (r >= 0) {
                r = xml_parse(resp.body.data ? resp.body.data : "", resp.body.len,
                              S3_LIST_NODES_MAX, &root, err);
                if (r >= 0 && strcmp(root->name, "ListBucketResult") != 0)
                        r = s3b_error_set(err, -EBADMSG, "expected <ListBucketResult>");
        }
        if (r >= 0) {
                r = list_from_xml(root, &l);
                if (r < 0)
                        s3b_error_set(err, r, "malformed ListBucketResult");
        }
        if (r < 0) {
                s3_object_list_done(&l);
                s3b_error_prefix(err, "S3 ListObjectsV2 s3://%s/%s", bucket, prefix ? prefix : "");
        } else
                *ret = l;
        return r;
}

/* ---- bucket notification configuration ---- */

/* 100 configurations whose filter values (≤ 1024 bytes each, S3 API Reference, FilterRule)
 * may be escaped several times over in XML, plus ARNs, ids and events. */
#define S3_NOTIFICATION_BODY_MAX (4u * 1024 * 1024)
/* Per configuration: itself, Id, Queue, ≤ 64 Event, Filter, S3Key, two rules of three. */
#define S3_NOTIFICATION_NODES_MAX (S3_NOTIFICATION_CONFIGS_MAX * 80u + 16u)

static void queue_notification_done(S3QueueNotification *q) {
        free(q->id);
        free(q->queue_arn);
        for (size_t i = 0; i < q->n_events; i++)
                free(q->events[i]);
        free(q->events);
        free(q->prefix);
        free(q->suffix);
        *q = (S3QueueNotification) {};
}

void s3_notification_config_done(S3NotificationConfig *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_queues; i++)
                queue_notification_done(&c->queues[i]);
        free(c->queues);
        *c = (S3NotificationConfig) {};
}

bool s3_queue_notification_object_created(const S3QueueNotification *q) {
        for (size_t i = 0; i < q->n_events; i++)
                if (strncmp(q->events[i], "s3:ObjectCreated:", 17) == 0)
                        return true;
        return false;
}

static size_t count_children(const XmlNode *root, const char *name) {
        size_t n = 0;

        for (const XmlNode *e = xml_child(root, name); e; e = xml_next_same(e))
                n++;
        return n;
}

/* Filter/S3Key/FilterRule: Name is prefix or suffix (S3 writes them "Prefix"/"Suffix" in
 * its answers, so case does not count), each at most once. */
static int queue_filter_from_xml(const XmlNode *qc, S3QueueNotification *q, S3bError *err) {
        const XmlNode *key = xml_path(qc, "Filter/S3Key");

        for (const XmlNode *rule = xml_child(key, "FilterRule"); rule; rule = xml_next_same(rule)) {
                const char *name = xml_text(xml_child(rule, "Name"));
                char **slot = strcasecmp(name, "prefix") == 0 ? &q->prefix :
                              strcasecmp(name, "suffix") == 0 ? &q->suffix : NULL;

                if (!slot)
                        return s3b_error_set(err, -EBADMSG, "filter rule named \"%.32s\", not "
                                             "prefix or suffix", name);
                if (*slot)
                        return s3b_error_set(err, -EBADMSG, "two %s filter rules", name);
                if (!(*slot = strdup(xml_text(xml_child(rule, "Value")))))
                        return s3b_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

static int queue_from_xml(const XmlNode *qc, S3QueueNotification *q, S3bError *err) {
        const char *arn = xml_text(xml_child(qc, "Queue"));
        size_t n = count_children(qc, "Event");
        int r;

        if (!*arn)
                return s3b_error_set(err, -EBADMSG, "QueueConfiguration without Queue");
        if (n > S3_NOTIFICATION_EVENTS_MAX)
                return s3b_error_set(err, -EBADMSG, "QueueConfiguration with %zu events", n);
        q->id = strdup(xml_text(xml_child(qc, "Id")));
        q->queue_arn = strdup(arn);
        q->events = calloc(MAX(n, (size_t) 1), sizeof(*q->events));
        if (!q->id || !q->queue_arn || !q->events)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        for (const XmlNode *e = xml_child(qc, "Event"); e; e = xml_next_same(e)) {
                if (!(q->events[q->n_events] = strdup(xml_text(e))))
                        return s3b_error_set(err, -ENOMEM, "out of memory");
                q->n_events++;
        }
        r = queue_filter_from_xml(qc, q, err);
        if (r < 0)
                return r;
        if ((!q->prefix && !(q->prefix = strdup(""))) || (!q->suffix && !(q->suffix = strdup(""))))
                return s3b_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

int s3_notification_config_parse(const char *xml, size_t n, S3NotificationConfig *ret,
                                 S3bError *err) {
        _cleanup_(xml_freep) XmlNode *root = NULL;
        S3NotificationConfig c = {};
        size_t total;
        int r;

        r = xml_parse(xml ? xml : "", n, S3_NOTIFICATION_NODES_MAX, &root, err);
        if (r < 0)
                return r;
        if (strcmp(root->name, "NotificationConfiguration") != 0)
                return s3b_error_set(err, -EBADMSG, "expected <NotificationConfiguration>, got <%s>",
                                     root->name);
        c.n_topics = count_children(root, "TopicConfiguration");
        c.n_functions = count_children(root, "CloudFunctionConfiguration");
        c.eventbridge = xml_child(root, "EventBridgeConfiguration") != NULL;
        total = count_children(root, "QueueConfiguration");
        if (total + c.n_topics + c.n_functions > S3_NOTIFICATION_CONFIGS_MAX)
                return s3b_error_set(err, -EBADMSG, "more than %u notification configurations",
                                     S3_NOTIFICATION_CONFIGS_MAX);
        c.queues = calloc(MAX(total, (size_t) 1), sizeof(*c.queues));
        if (!c.queues)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        for (const XmlNode *qc = xml_child(root, "QueueConfiguration"); qc && r >= 0;
             qc = xml_next_same(qc)) {
                /* counted first, so a half-built entry is freed with the rest */
                r = queue_from_xml(qc, &c.queues[c.n_queues++], err);
        }
        if (r < 0) {
                s3_notification_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

int s3_get_bucket_notification(AwsClient *c, const char *bucket, S3NotificationConfig *ret,
                               S3bError *err) {
        const SigV4Param q = { "notification", NULL };
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = check_names("GetBucketNotificationConfiguration", bucket, NULL, err);
        if (r < 0)
                return r;
        r = s3_send(c, bucket, NULL, &(AwsRequest) {
                        .method = "GET", .query = &q, .n_query = 1,
                        .body_max = S3_NOTIFICATION_BODY_MAX,
                }, &resp, err);
        if (r >= 0)
                r = s3_notification_config_parse(resp.body.data, resp.body.len, ret, err);
        if (r < 0)
                s3b_error_prefix(err, "S3 GetBucketNotificationConfiguration %s", bucket);
        return r;
}
