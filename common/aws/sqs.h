/* Amazon SQS over AWS JSON 1.0 (POST /, X-Amz-Target: AmazonSQS.<Action>).
 *
 * Requests go to the queue URL's own host, unless an SQS endpoint was configured (config or
 * AWS_ENDPOINT_URL[_SQS]): then to that endpoint, with the QueueUrl only in the body — queue
 * URLs of local servers name hosts that do not resolve. Every call goes through the shared
 * retry path (client.h). */
#pragma once

#include <stddef.h>

#include "common/aws/client.h"

/* SQS limits (Amazon SQS Developer Guide, "Quotas"). */
#define SQS_RECEIVE_MAX_MESSAGES 10u
#define SQS_WAIT_SECONDS_MAX 20u
#define SQS_VISIBILITY_TIMEOUT_MAX 43200u
#define SQS_BATCH_MAX 10u

/* One received message; strings owned by the array (sqs_messages_free). */
typedef struct SqsMessage {
        char *message_id;
        char *receipt_handle;
        char *body;
        unsigned receive_count;         /* ApproximateReceiveCount; 0 if not reported */
} SqsMessage;

/* ReceiveMessage: max 1..10, wait_seconds 0..20 (long poll), visibility_timeout 1..43200 or
 * 0 for the queue's default (the parameter is left out). Also asks for ApproximateReceiveCount.
 * An empty poll returns 0 with *ret_msgs NULL and *ret_n 0. The response
 * body is bounded at 10 × 256 KiB plus JSON overhead. Each body is checked against its
 * MD5OfBody. Errors: -EINVAL (arguments), -ENOENT (queue does not exist), -EBADMSG (a
 * malformed message or a body that fails its MD5: all received messages return after their
 * visibility timeout), -ECANCELED, the shared path's others. */
int sqs_receive_message(AwsClient *c, const char *queue_url, unsigned max, unsigned wait_seconds,
                        unsigned visibility_timeout, SqsMessage **ret_msgs, size_t *ret_n,
                        S3bError *err);
void sqs_messages_free(SqsMessage *m, size_t n);

int sqs_delete_message(AwsClient *c, const char *queue_url, const char *receipt_handle,
                       S3bError *err);

int sqs_change_message_visibility(AwsClient *c, const char *queue_url,
                                  const char *receipt_handle, unsigned timeout, S3bError *err);

/* Outcome of one entry of a batch call. */
typedef struct SqsBatchResult {
        int code;                       /* 0, or a negative errno from the entry's error code */
        char aws_code[64];              /* e.g. "ReceiptHandleIsInvalid"; "" on success */
} SqsBatchResult;

/* DeleteMessageBatch / ChangeMessageVisibilityBatch for n (1..10) receipt handles; the
 * outcome of entry i lands in ret_results[i] (caller's array of n). Returns the number of
 * failed entries (≥ 0) when the call itself succeeded, a negative errno when it did not (then
 * ret_results is untouched). */
int sqs_delete_message_batch(AwsClient *c, const char *queue_url,
                             const char *const *receipt_handles, size_t n,
                             SqsBatchResult *ret_results, S3bError *err);
int sqs_change_message_visibility_batch(AwsClient *c, const char *queue_url,
                                        const char *const *receipt_handles, size_t n,
                                        unsigned timeout, SqsBatchResult *ret_results,
                                        S3bError *err);

/* Per-call limits for callers with a deadline of their own (a visibility extension must end
 * before the message lapses): 0 fields take the context's defaults. */
typedef struct SqsCallLimits {
        long timeout_ms;                /* whole request, connection included */
        unsigned max_attempts;
} SqsCallLimits;

typedef struct SqsVisibilityEntry {
        const char *receipt_handle;
        unsigned timeout;               /* seconds, 0..43200 */
} SqsVisibilityEntry;

/* ChangeMessageVisibilityBatch with a timeout per entry (n 1..10) and optional limits (NULL:
 * the defaults). Results as sqs_change_message_visibility_batch(). */
int sqs_change_visibility_entries(AwsClient *c, const char *queue_url,
                                  const SqsVisibilityEntry *entries, size_t n,
                                  const SqsCallLimits *limits, SqsBatchResult *ret_results,
                                  S3bError *err);

typedef struct SqsQueueAttribute {
        char *name;
        char *value;
} SqsQueueAttribute;

/* GetQueueAttributes for names (n_names 0 = "All"). The attributes SQS returned, in its order,
 * owned by the array (sqs_queue_attributes_free). */
int sqs_get_queue_attributes(AwsClient *c, const char *queue_url, const char *const *names,
                             size_t n_names, SqsQueueAttribute **ret, size_t *ret_n,
                             S3bError *err);
void sqs_queue_attributes_free(SqsQueueAttribute *a, size_t n);
/* Value of name in a, or NULL. */
const char *sqs_queue_attribute(const SqsQueueAttribute *a, size_t n, const char *name);
