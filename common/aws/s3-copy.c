/* S3 server-side copy: one CopyObject up to S3Options.multipart_copy_threshold, above it a
 * multipart upload whose parts are UploadPartCopy. Both are pinned to the ETag the HEAD saw,
 * so the copy is of one version or fails. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/aws/s3-internal.h"
#include "common/aws/xml.h"
#include "common/urlcode.h"

/* User metadata is at most 2 KB, so a few dozen headers at most; the client signs up to 64. */
#define S3_CARRIED_HEADERS_MAX 48u

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

/* Room for the caller's own metadata besides the source's carried headers. */
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
                r = url_encode(out, key, strlen(key), true);
        if (r >= 0 && v && s3_has(v->version_id)) {
                r = buf_append_str(out, "?versionId=");
                if (r >= 0)
                        r = url_encode(out, v->version_id, strlen(v->version_id), false);
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

static int copy_multipart(AwsClient *c, const CopyPlan *p, uint64_t part, const char *dst_bucket,
                          const char *dst_key, S3bError *err) {
        uint64_t size = p->info.size;
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

/* Heads the source (pinned to v) and keeps what the copy needs of the answer. */
static int plan_source(AwsClient *c, CopyPlan *p, const char *bucket, const char *key,
                       const S3Version *v, size_t *ret_n_carried, S3bError *err) {
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = s3_head_response(c, bucket, key, v, &resp, err);
        if (r < 0)
                return r;
        r = keep_carried_headers(&resp, &p->carried, ret_n_carried);
        if (r < 0)
                return s3b_error_set(err, r, "S3 CopyObject s3://%s/%s: too many metadata headers "
                                     "to copy", bucket, key);
        s3_info_from_headers(&resp, &p->info);
        /* The HEAD was pinned already; a server that ignored its If-Match still must not
         * make us copy another version. */
        if (v && s3_has(v->etag) && strcmp(p->info.etag, v->etag) != 0)
                return s3b_error_set(err, -ESTALE, "S3 CopyObject s3://%s/%s: the source is no "
                                     "longer ETag %s", bucket, key, v->etag);
        return 0;
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
        S3Options so = s3_options(c);
        size_t n_carried = 0;
        int r;

        r = s3_check_names("CopyObject", src_bucket, src_key, err);
        if (r >= 0)
                r = s3_check_names("CopyObject", dst_bucket, dst_key, err);
        if (r < 0)
                return r;
        r = copy_source(src_bucket, src_key, v, &p.src);
        if (r < 0)
                return s3b_error_set(err, r, "S3 CopyObject: source too long");
        r = plan_source(c, &p, src_bucket, src_key, v, &n_carried, err);
        if (r >= 0)
                r = plan_meta(&p, o, n_carried, err);
        if (r < 0)
                return r;
        /* Every request of the copy names that version, so a newer upload between the HEAD
         * and the last part fails the copy (412) instead of mixing versions. */
        snprintf(p.src_etag, sizeof(p.src_etag), "\"%s\"", p.info.etag);
        if (p.info.size > so.multipart_copy_threshold)
                r = copy_multipart(c, &p, part_size_for(p.info.size, so.copy_part_size),
                                   dst_bucket, dst_key, err);
        else
                r = copy_single(c, &p, dst_bucket, dst_key, err);
        if (r < 0)
                s3b_error_prefix(err, "S3 CopyObject s3://%s/%s to s3://%s/%s", src_bucket,
                                 src_key, dst_bucket, dst_key);
        return r;
}
