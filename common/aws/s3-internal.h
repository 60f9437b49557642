/* What the S3 files (s3.c, s3-copy.c, s3-list.c, s3-notification.c) share and nobody else
 * uses: name checks, the addressing of one request, and the reading of object headers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/aws/s3.h"

/* Cap of an XML answer that is not a listing (error documents, copy and upload results). */
#define S3_XML_MAX (64u * 1024)

/* -EINVAL with a message naming op unless bucket is a usable name and key (NULL: none
 * asked) is 1..1024 bytes. */
int s3_check_names(const char *op, const char *bucket, const char *key, S3bError *err);

/* Sends req to bucket/key (key NULL: the bucket itself), choosing the addressing style from
 * the endpoint and the context's S3Options; sets req->service, ->path and ->host_prefix. */
int s3_send(AwsClient *c, const char *bucket, const char *key, AwsRequest *req,
            HttpResponse *resp, S3bError *err);

/* HeadObject of version v (may be NULL) with the whole response in resp (the copy reads the
 * headers it must carry over). err prefixed with the operation on failure. */
int s3_head_response(AwsClient *c, const char *bucket, const char *key, const S3Version *v,
                     HttpResponse *resp, S3bError *err);

/* An S3ObjectInfo from a HEAD or GET response's headers. */
void s3_info_from_headers(const HttpResponse *resp, S3ObjectInfo *ret);

/* "\"abc\"" → "abc", cut to n - 1 bytes. */
void s3_unquote_etag(const char *s, char *out, size_t n);

/* A decimal number with nothing around it. */
bool s3_parse_u64(const char *s, uint64_t *ret);

static inline bool s3_has(const char *s) {
        return s && *s;
}
