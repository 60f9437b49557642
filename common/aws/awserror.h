/* AWS error responses → S3bError.
 *
 * Three shapes reach us: JSON 1.0 ({"__type":"com.amazonaws.dynamodb.v20120810#X",
 * "message":"…"}, SQS and DynamoDB), S3's XML (<Error><Code/><Message/><RequestId/></Error>)
 * and the query protocol's XML (<ErrorResponse><Error><Code/>…</Error><RequestId/>
 * </ErrorResponse>, SNS). The code is stored without its namespace ("…#") or URL (":http…")
 * decoration, the message is made log-safe (control characters folded, SigV4 diagnostics
 * that echo the canonical request cut off), and err->code gets an errno that says what kind
 * of failure it was:
 *   -ENOENT     404, NoSuchKey, NoSuchBucket, ResourceNotFoundException, QueueDoesNotExist…
 *   -EACCES     403 and credential/signature rejections
 *   -EAGAIN     throttling (429, ThrottlingException, SlowDown, …)
 *   -ETIMEDOUT  RequestTimeout
 *   -ESTALE     412 PreconditionFailed (an S3 conditional request: another object version)
 *   -EBUSY      409 ConditionalRequestConflict (a concurrent write raced a conditional one)
 *   -ERANGE     416 InvalidRange
 *   -E2BIG      413 / EntityTooLarge
 *   -EIO        5xx
 *   -EINVAL     any other 4xx (the request itself is wrong)
 *   -EPROTO     a status that is neither success nor a known failure, or an unreadable body */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

typedef struct AwsErrorHeaders {
        const char *request_id;         /* x-amzn-RequestId or x-amz-request-id, or NULL */
        const char *error_type;         /* x-amzn-ErrorType (REST-JSON), or NULL */
        const char *query_error;        /* x-amzn-query-error "Code;Sender" (SQS), or NULL */
} AwsErrorHeaders;

/* Fills err (if non-NULL) from a non-2xx response and returns the negative errno above.
 * body may be NULL/empty or unparseable; headers may be NULL. */
int aws_error_from_response(S3bError *err, long status, const AwsErrorHeaders *h,
                            const char *body, size_t n);

/* For 200 responses that can still carry an error document (S3 CopyObject, UploadPartCopy,
 * CompleteMultipartUpload): returns 1 and fills err when the body's root is <Error>, 0 when
 * it is some other document, -EBADMSG (err untouched) when it is not XML at all. */
int aws_error_from_xml_200(S3bError *err, long status, const AwsErrorHeaders *h,
                           const char *body, size_t n);

/* "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException" → "ResourceNotFoundException",
 * "ValidationException:http://internal…" → "ValidationException",
 * "AWS.SimpleQueueService.NonExistentQueue;Sender" → "AWS.SimpleQueueService.NonExistentQueue". */
void aws_error_code_normalize(const char *raw, char *out, size_t n);

/* The errno for a status and a (normalized) code, per the table above. */
int aws_error_errno(long status, const char *code);

/* True for the codes AWS uses to say "slow down". */
bool aws_error_code_is_throttling(const char *code);
