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

/* Cap on a body handed on: 256 KiB, the default maximum message size of an SQS queue (Amazon
 * SQS Developer Guide, "Amazon SQS message quotas"). A queue may be configured for up to 1 MiB,
 * but no S3 event notification comes near 256 KiB: a longer body is withheld and its message
 * marked invalid (see SqsMessage), so hostile sizes cost no memory past the receive. */
#define SQS_MESSAGE_BODY_MAX (256u * 1024)

/* One received message; strings owned by the array (sqs_messages_free).
 *
 * invalid != NULL: the entry came with a receipt handle but cannot be used — its body fails
 * its MD5OfBody (maybe corrupted in transit), is over SQS_MESSAGE_BODY_MAX, or the entry is
 * malformed (no MessageId or Body string, Attributes not an object, ApproximateReceiveCount
 * not a decimal count, MD5OfBody not a string, a MessageGroupId or SequenceNumber that is
 * not what SQS documents). invalid says why; body is NULL and
 * message_id may be "". The caller should leave such a message alone (not delete it): it
 * becomes visible again after its visibility timeout, and the queue's redrive policy moves it
 * to the dead-letter queue after maxReceiveCount receives. */
typedef struct SqsMessage {
        char *message_id;
        char *receipt_handle;           /* never NULL or "" */
        char *body;                     /* NULL when invalid */
        unsigned receive_count;         /* ApproximateReceiveCount; 0 if not reported */
        /* FIFO queues only (NULL otherwise): the MessageGroupId (1..128 printable ASCII) and
         * the SequenceNumber (decimal) SQS gave the message (SQS API Reference, Message) */
        char *message_group_id;
        char *sequence_number;
        char *invalid;                  /* NULL, or why the message is unusable */
} SqsMessage;

/* ReceiveMessage: max 1..10, wait_seconds 0..20 (long poll), visibility_timeout 1..43200 or
 * 0 for the queue's default (the parameter is left out). Also asks for ApproximateReceiveCount,
 * and MessageGroupId and SequenceNumber, which only FIFO queues return.
 * An empty poll returns 0 with *ret_msgs NULL and *ret_n 0. One bad message affects only
 * itself: every well-formed message is returned, an unusable one comes back marked invalid
 * (see SqsMessage), and an entry without a usable ReceiptHandle — which nobody can delete,
 * release or dead-letter by hand — is skipped. Returns the number of skipped entries (≥ 0).
 * The response body is bounded at max × 3 MiB plus 64 KiB: enough for max messages of SQS's
 * largest size (1 MiB), however escaped. Errors: -EINVAL (arguments), -ENOENT (queue does not exist),
 * -EBADMSG (the response is not JSON, or not an object with a Messages array of at most 10
 * entries), -ECANCELED, the shared path's others. */
int sqs_receive_message(AwsClient *c, const char *queue_url, unsigned max, unsigned wait_seconds,
                        unsigned visibility_timeout, SqsMessage **ret_msgs, size_t *ret_n,
                        S3bError *err);
void sqs_messages_free(SqsMessage *m, size_t n);
/* Frees the strings of one message and clears it (for a caller that keeps one by moving it
 * out of the array: it owns the strings then). */
void sqs_message_done(SqsMessage *m);

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
