/* Amazon S3 over REST: the object calls the daemon needs, streaming where objects are read.
 *
 * Addressing: virtual-host (bucket.s3.region.amazonaws.com/key) unless path-style is forced,
 * the endpoint is an IP or localhost, or the bucket is not a DNS-safe name (endpoint.h).
 * Keys are raw (not encoded): the signer URI-encodes them once, '/' kept. ETags are returned
 * without their surrounding quotes ("d41d8…", "abc…-12" for multipart objects), as S3 event
 * notifications spell them. No call buffers an object body: GET streams to a callback. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/aws/client.h"

#define S3_KEY_MAX 1024u                /* bytes of UTF-8 */
#define S3_LIST_MAX_KEYS 1000u

/* Receives object bytes in order. Returning < 0 aborts the transfer; s3_get_object then
 * returns that value. */
typedef int (*S3DataFn)(void *userdata, const void *data, size_t n);

typedef struct S3ObjectInfo {
        uint64_t size;                  /* whole object, also for a ranged GET (Content-Range) */
        char etag[80];                  /* unquoted */
        char content_type[128];         /* "" when absent */
        char content_encoding[64];      /* "" when absent */
} S3ObjectInfo;

/* GetObject, streamed to fn. range_or_null: an HTTP Range value ("bytes=0-1023"). ret_info
 * may be NULL; filled on success. A transfer cut after bytes reached fn is resumed (within
 * the attempt limit) from the next byte with Range and If-Match of the first ETag, so fn sees
 * every byte exactly once and all of one object version; a suffix range ("bytes=-N") is not
 * resumed. Errors: -ENOENT (no such key/bucket), -EACCES, -ERANGE (unsatisfiable range),
 * -EINVAL (412: the object was replaced while being read), -EPROTO (a resumed answer that is
 * not the asked range), fn's code, the shared path's others. */
int s3_get_object(AwsClient *c, const char *bucket, const char *key, const char *range_or_null,
                  S3DataFn fn, void *userdata, S3ObjectInfo *ret_info, S3bError *err);

/* HeadObject. -ENOENT when the object does not exist (S3 answers 403 instead — -EACCES —
 * when the caller may not s3:ListBucket). */
int s3_head_object(AwsClient *c, const char *bucket, const char *key, S3ObjectInfo *ret_info,
                   S3bError *err);

/* Server-side copy, metadata and content type kept. Heads the source first: up to the
 * context's threshold (5 GiB) one CopyObject; above, CreateMultipartUpload (given the
 * source's x-amz-meta-*, Content-Type/-Encoding/-Disposition/-Language, Cache-Control and
 * Expires, which CopyObject would have kept) + UploadPartCopy (each part pinned to the headed
 * ETag with x-amz-copy-source-if-match) + CompleteMultipartUpload, aborted on failure. A 200 whose body is <Error> is a failure.
 * Errors: -ENOENT (source missing), the shared path's others. */
int s3_copy_object(AwsClient *c, const char *src_bucket, const char *src_key,
                   const char *dst_bucket, const char *dst_key, S3bError *err);

/* PutObject of an in-memory body (reports, small files), its SHA-256 signed.
 * content_type NULL: "application/octet-stream". */
int s3_put_object(AwsClient *c, const char *bucket, const char *key, const void *body, size_t n,
                  const char *content_type, S3bError *err);

/* DeleteObject. Deleting a missing key succeeds (S3 answers 204 either way). */
int s3_delete_object(AwsClient *c, const char *bucket, const char *key, S3bError *err);

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
