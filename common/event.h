/* Event: what an SQS message body says happened in S3.
 *
 * A user's setup can deliver S3 object events to the queue in four shapes, and all of them
 * are accepted here:
 *   - an S3 event notification, {"Records":[...]} with one or more records;
 *   - the same wrapped in an SNS envelope (S3 → SNS → SQS fan-out): {"Type":"Notification",
 *     "Message":"<the S3 JSON as a string>", ...}; with RawMessageDelivery the body is the S3
 *     JSON itself, the first case;
 *   - an EventBridge event (source "aws.s3", detail-type "Object Created", ...), possibly also
 *     inside an SNS envelope;
 *   - the s3:TestEvent S3 sends once when a notification configuration is saved.
 * Anything else is a poison message: the caller leaves it to the queue's redrive policy.
 *
 * Only ObjectCreated:* records become work. Other S3 records (ObjectRemoved:*, ...) and other
 * EventBridge detail-types are kept apart in `ignored` so the daemon can log and skip them.
 *
 * Keys in S3 notifications are form-encoded ('+' is a space, then %XX); EventBridge keys are
 * not. Every key returned here is decoded, non-empty, valid UTF-8 without NUL and at most
 * S3EVENT_KEY_MAX bytes, so it can be used for GetObject as it is. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/util.h"

/* SQS caps a message at 256 KiB; extended-client setups aside, a body four times that is
 * never an S3 event, so it is refused before parsing. */
#define S3EVENT_BODY_MAX (1024u * 1024u)
/* S3 object keys are at most 1024 bytes of UTF-8 (S3 User Guide, "Naming Amazon S3 objects"). */
#define S3EVENT_KEY_MAX 1024u
/* One body carries one record in practice; the cap only bounds memory for hostile input. */
#define S3EVENT_RECORDS_MAX 1000u

/* Positive results of s3_event_parse(). */
typedef enum S3EventKind {
        S3EVENT_RECORDS = 1,    /* batch holds ≥ 0 created records (and maybe ignored ones) */
        S3EVENT_TEST = 2,       /* s3:TestEvent: nothing to do, delete the message quietly */
} S3EventKind;

/* Which envelope the records came in; for logs and metrics only. */
typedef enum S3EventSource {
        S3EVENT_SOURCE_S3,              /* S3 notification (also SNS raw delivery) */
        S3EVENT_SOURCE_SNS,             /* S3 notification inside an SNS envelope */
        S3EVENT_SOURCE_EVENTBRIDGE,     /* EventBridge event (direct or inside SNS) */
} S3EventSource;

/* All strings are owned by the S3EventBatch and never NULL: "" when the body left them out. */
typedef struct S3EventRecord {
        char *bucket;
        char *key;              /* decoded */
        int64_t size;           /* bytes; -1 when absent (ObjectRemoved records have none) */
        char *etag;             /* as S3 sends it, without quotes */
        char *version_id;       /* versioned buckets only */
        char *sequencer;        /* orders events of one key; hex string */
        char *event_name;       /* "ObjectCreated:Put", ...; EventBridge "Object Created" with
                                 * reason PutObject/CopyObject/... is mapped to the same names */
        char *event_time;       /* ISO 8601 as sent */
        char *region;           /* awsRegion / region */
} S3EventRecord;

typedef struct S3EventBatch {
        S3EventSource source;
        S3EventRecord *records;         /* ObjectCreated:* records, in body order */
        size_t n_records;
        S3EventRecord *ignored;         /* other records; key may be "" if it could not be decoded */
        size_t n_ignored;
        char *sns_message_id;           /* SNS envelope MessageId, "" if no envelope */
} S3EventBatch;

S3EventBatch *s3_event_batch_free(S3EventBatch *b);
DEFINE_CLEANUP_FUNC(S3EventBatch *, s3_event_batch_free);

/* Parses an SQS message body of len bytes (need not be NUL-terminated).
 *
 * Returns S3EVENT_RECORDS and *ret (caller owns it; n_records may be 0 when every record was
 * ignored), or S3EVENT_TEST with *ret = NULL. Returns -EBADMSG for a poison body — not JSON,
 * too big, an unknown shape, a record without bucket or key, a key that does not decode —
 * with the reason in err->message; -ENOMEM when out of memory (not poison: retry later).
 * A body with a bad record is poison as a whole, so no record of it is half-done.
 * *ret is untouched on failure. Thread-safe; no state. */
int s3_event_parse(const char *body, size_t len, S3EventBatch **ret, S3bError *err);

/* Decodes an S3 notification key into buf of size bufsz: '+' → ' ', then %XX. Returns the
 * decoded length, or -EINVAL (bad escape, NUL, invalid UTF-8, empty) or -ENAMETOOLONG (over
 * S3EVENT_KEY_MAX or bufsz - 1). buf is NUL-terminated on success. */
int s3_event_decode_key(const char *in, size_t len, char *buf, size_t bufsz);

const char *s3_event_source_to_string(S3EventSource s);
