/* Amazon S3 over REST: the object calls the daemon needs, streaming where objects are read.
 *
 * Addressing: virtual-host (bucket.s3.region.amazonaws.com/key) unless path-style is forced,
 * the endpoint is an IP or localhost, or the bucket is not a DNS-safe name (endpoint.h).
 * Keys are raw (not encoded): the signer URI-encodes them once, '/' kept. ETags are returned
 * without their surrounding quotes ("d41d8…", "abc…-12" for multipart objects), as S3 event
 * notifications spell them. No call buffers an object body: GET streams to a callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/aws/client.h"

#define S3_KEY_MAX 1024u                /* bytes of UTF-8 */
#define S3_LIST_MAX_KEYS 1000u

/* CopyObject copies at most 5 GB in one request (S3 API Reference, "CopyObject": "You can
 * create a copy of your object up to 5 GB in size in a single atomic action"); a larger
 * object must be copied as a multipart upload of UploadPartCopy parts. */
#define S3_COPY_SINGLE_MAX              (UINT64_C(5) << 30)
/* A multipart upload has at most 10,000 parts of 5 MiB to 5 GiB each, the last one excepted
 * from the minimum (S3 User Guide, "Amazon S3 multipart upload limits"). */
#define S3_MULTIPART_PARTS_MAX          10000u
#define S3_PART_SIZE_MIN                (UINT64_C(5) << 20)
#define S3_PART_SIZE_MAX                (UINT64_C(5) << 30)
/* Few enough parts for a 5 GiB object to copy in ten requests. */
#define S3_COPY_PART_SIZE_DEFAULT       (UINT64_C(512) << 20)

/* Settings only S3 reads, handed to the context with s3_options_set(). */
typedef struct S3Options {
        /* Path-style addressing (host/bucket/key) for every bucket; otherwise only where a
         * virtual host cannot work (endpoint.h, s3_use_path_style()). */
        bool force_path_style;
        /* Objects larger than this are copied with multipart UploadPartCopy; 0 (and anything
         * above S3_COPY_SINGLE_MAX): S3_COPY_SINGLE_MAX. Lowered by tests only. */
        uint64_t multipart_copy_threshold;
        /* 0: S3_COPY_PART_SIZE_DEFAULT; kept within S3_PART_SIZE_MIN..MAX and raised so an
         * object fits in S3_MULTIPART_PARTS_MAX parts. */
        uint64_t copy_part_size;
} S3Options;

/* Gives s3 to the context built from o (copied by aws_context_new()). */
static inline void s3_options_set(AwsContextOptions *o, const S3Options *s3) {
        o->service[AWS_SERVICE_S3] = (AwsServiceOptions) { s3, sizeof(*s3) };
}

/* The S3Options of c's context, defaults applied. */
S3Options s3_options(const AwsClient *c);

/* Receives object bytes in order. Returning < 0 aborts the transfer; s3_get_object then
 * returns that value. */
typedef int (*S3DataFn)(void *userdata, const void *data, size_t n);

/* S3 user metadata is at most 2 KB: the sum of the bytes of every x-amz-meta- name (without
 * the prefix) and value (S3 User Guide, "Working with object metadata"). */
#define S3_USER_META_MAX 2048u

typedef struct S3ObjectInfo {
        uint64_t size;                  /* whole object, also for a ranged GET (Content-Range) */
        char etag[80];                  /* unquoted */
        char version_id[256];           /* x-amz-version-id; "" in unversioned buckets */
        char content_type[128];         /* "" when absent */
        char content_encoding[64];      /* "" when absent */
        /* x-amz-meta-* of HEAD and GET: "name\0value\0" pairs, names in lower case without
         * the prefix; look them up with s3_object_info_meta(). */
        char meta[S3_USER_META_MAX + 256];
        size_t meta_len;
} S3ObjectInfo;

/* The value of user metadata `name` (lower case, without "x-amz-meta-"), or NULL. */
const char *s3_object_info_meta(const S3ObjectInfo *info, const char *name);

/* The one version of an object a call must act on. Both fields optional (NULL or ""):
 *   etag        sent as If-Match (GET, HEAD, conditional DeleteObject) or
 *               x-amz-copy-source-if-match (CopyObject, UploadPartCopy): when the object
 *               now has another ETag — a newer upload replaced it — S3 answers 412
 *               PreconditionFailed and the call returns -ESTALE, touching nothing;
 *   version_id  ?versionId= (GET, HEAD, DELETE of exactly that version) or
 *               x-amz-copy-source: …?versionId= in versioned buckets.
 * (S3 API Reference: GetObject, HeadObject, CopyObject, UploadPartCopy, DeleteObject
 * "If-Match"; conditional deletes are supported on general purpose buckets.) */
typedef struct S3Version {
        const char *etag;               /* unquoted, as S3 events spell it */
        const char *version_id;
} S3Version;

/* GetObject of version v (may be NULL: the current one), streamed to fn. range_or_null: an
 * HTTP Range value ("bytes=0-1023"; the answer must be a 206 from its first byte). ret_info may be NULL; filled on success. A transfer cut after bytes reached fn is resumed (within
 * the attempt limit) from the next byte with Range and If-Match of the first ETag, so fn sees
 * every byte exactly once and all of one object version; a suffix range ("bytes=-N") is not
 * resumed. Errors: -ENOENT (no such key/bucket: err->aws_code tells which), -EACCES, -ERANGE
 * (unsatisfiable range), -ESTALE (412: not, or no longer, the version v names), -EPROTO (a
 * resumed answer that is not the asked range), fn's code, the shared path's others. */
int s3_get_object(AwsClient *c, const char *bucket, const char *key, const S3Version *v,
                  const char *range_or_null, S3DataFn fn, void *userdata, S3ObjectInfo *ret_info,
                  S3bError *err);

/* HeadObject of version v (may be NULL). -ENOENT when the object does not exist (S3 answers
 * 403 instead — -EACCES — when the caller may not s3:ListBucket; a HEAD has no body, so a
 * missing bucket is a 404 too: ask s3_head_bucket() to tell them apart), -ESTALE (412). */
int s3_head_object(AwsClient *c, const char *bucket, const char *key, const S3Version *v,
                   S3ObjectInfo *ret_info, S3bError *err);

/* HeadBucket: 0 when the bucket exists and we may use it; -ENOENT (404: no such bucket),
 * -EACCES (403: it exists but is not ours to use, or our policy lacks s3:ListBucket). */
int s3_head_bucket(AwsClient *c, const char *bucket, S3bError *err);

typedef struct S3CopyOptions {
        const S3Version *source;        /* the source version the copy must be of; NULL: current */
        /* User metadata to set on the copy besides the source's own ("name", "value" without
         * the x-amz-meta- prefix), e.g. where the copy came from. */
        const HttpHeader *meta;
        size_t n_meta;
} S3CopyOptions;

/* Server-side copy, metadata and content type kept. Heads the source first (pinned to
 * o->source): up to S3Options.multipart_copy_threshold (5 GiB) one CopyObject; above,
 * CreateMultipartUpload + UploadPartCopy (each part pinned to the headed ETag with
 * x-amz-copy-source-if-match) + CompleteMultipartUpload, aborted on failure. With o->meta the
 * copy is made with x-amz-metadata-directive REPLACE and given the source's x-amz-meta-*,
 * Content-Type/-Encoding/-Disposition/-Language, Cache-Control and Expires (which COPY would
 * have kept) plus o->meta; the multipart path always passes them on. A 200 whose body is
 * <Error> is a failure. o may be NULL. Errors: -ENOENT (source missing, or a bucket:
 * err->aws_code), -ESTALE (the source is not the version o->source names), -E2BIG (the
 * metadata would pass S3's 2 KB), the shared path's others. */
int s3_copy_object(AwsClient *c, const char *src_bucket, const char *src_key,
                   const S3CopyOptions *o, const char *dst_bucket, const char *dst_key,
                   S3bError *err);

/* PutObject of an in-memory body (reports, small files), its SHA-256 signed.
 * content_type NULL: "application/octet-stream". */
int s3_put_object(AwsClient *c, const char *bucket, const char *key, const void *body, size_t n,
                  const char *content_type, S3bError *err);

/* DeleteObject, of version v when given (may be NULL). Unconditional: deleting a missing key
 * succeeds (S3 answers 204 either way). With v->etag it is a conditional delete (If-Match):
 * -ESTALE (412) when the key now holds another version, which stays untouched; -ENOENT when
 * the key is gone (S3 answers 404 NoSuchKey to a conditional delete of a missing key). With
 * v->version_id exactly that version is removed for good (no delete marker), so a newer
 * current version is never hidden. */
int s3_delete_object(AwsClient *c, const char *bucket, const char *key, const S3Version *v,
                     S3bError *err);

typedef struct S3ListEntry {
        char *key;
        uint64_t size;
        char etag[80];                  /* unquoted */
} S3ListEntry;

/* One page of ListObjectsV2. Owned strings; release with s3_object_list_done(). */
typedef struct S3ObjectList {
        S3ListEntry *objects;
        size_t n_objects;
        char *next_token;               /* NULL on the last page */
} S3ObjectList;

void s3_object_list_done(S3ObjectList *l);

/* One page of keys under prefix (NULL/"" = all), starting at continuation_token (NULL = the
 * first page); max_keys 1..1000, 0 = S3's default (1000). Keys are asked URL-encoded
 * (encoding-type=url, so any byte survives XML) and decoded here. *ret is filled on success
 * only. */
int s3_list_objects_v2(AwsClient *c, const char *bucket, const char *prefix,
                       const char *continuation_token, unsigned max_keys, S3ObjectList *ret,
                       S3bError *err);

/* GetBucketNotificationConfiguration (GET /?notification, S3 API Reference). A bucket has at
 * most 100 event notification configurations (AWS General Reference, "Amazon Simple Storage
 * Service endpoints and quotas": event notifications per bucket); a document with more is
 * refused (-EBADMSG) rather than read in part. */
#define S3_NOTIFICATION_CONFIGS_MAX 100u
/* S3 knows a few dozen event types; a configuration lists each at most once. */
#define S3_NOTIFICATION_EVENTS_MAX 64u

/* One QueueConfiguration: S3 sends the events to queue_arn for keys that start with prefix
 * and end with suffix (both case-sensitive, "" = no such rule). All strings owned. */
typedef struct S3QueueNotification {
        char *id;                       /* "" when absent */
        char *queue_arn;
        char **events;                  /* "s3:ObjectCreated:*", "s3:ObjectRemoved:Delete", ... */
        size_t n_events;
        char *prefix;
        char *suffix;
} S3QueueNotification;

/* A bucket's notification configuration. Only the queue destinations are read in detail; of
 * the others it is known only whether they exist (they may feed this daemon's queue through
 * an SNS subscription or an EventBridge rule). Release with s3_notification_config_done(). */
typedef struct S3NotificationConfig {
        S3QueueNotification *queues;
        size_t n_queues;
        size_t n_topics;                /* TopicConfiguration */
        size_t n_functions;             /* CloudFunctionConfiguration (Lambda) */
        bool eventbridge;               /* EventBridgeConfiguration present */
} S3NotificationConfig;

void s3_notification_config_done(S3NotificationConfig *c);

/* True when q sends some s3:ObjectCreated:* event (the wildcard or a specific one). */
bool s3_queue_notification_object_created(const S3QueueNotification *q);

/* Parses a <NotificationConfiguration> document. Exposed for tests. -EBADMSG on malformed XML,
 * another root, a QueueConfiguration without Queue, a filter rule other than prefix/suffix,
 * or more configurations/events than the limits above. *ret is filled on success only. */
int s3_notification_config_parse(const char *xml, size_t n, S3NotificationConfig *ret,
                                 S3bError *err);

/* The notification configuration of bucket. Needs s3:GetBucketNotification on the bucket:
 * -EACCES without it; -ENOENT (no such bucket); the shared path's others. *ret is filled on
 * success only. */
int s3_get_bucket_notification(AwsClient *c, const char *bucket, S3NotificationConfig *ret,
                               S3bError *err);
