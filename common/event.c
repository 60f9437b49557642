/* Event body parsing: SQS message body → S3EventBatch.
 *
 * The shape is decided from the top-level object, in this order: "Records" (S3 notification),
 * "Type":"Notification" with a string "Message" (SNS envelope; the Message is parsed again, one
 * level only), "source":"aws.s3" with "detail" (EventBridge), "Event":"s3:TestEvent". Every
 * field read from the body is type-checked and bounded; a body is accepted whole or rejected
 * whole, so the caller never acts on part of a message it then sends to the dead-letter queue.
 * cJSON is only used to read the tree; all strings are copied into the batch. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/cleanup.h"
#include "common/event.h"
#include "common/urlcode.h"

/* Bounds on fields we copy, well above what S3 sends, so a hostile body cannot make us keep
 * large strings around. */
#define SHORT_FIELD_MAX 256u
#define BUCKET_MAX 255u         /* legacy us-east-1 names may be up to 255 characters */

static void record_done(S3EventRecord *r) {
        free(r->bucket);
        free(r->key);
        free(r->etag);
        free(r->version_id);
        free(r->sequencer);
        free(r->event_name);
        free(r->event_time);
        free(r->region);
}

S3EventBatch *s3_event_batch_free(S3EventBatch *b) {
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n_records; i++)
                record_done(&b->records[i]);
        for (size_t i = 0; i < b->n_ignored; i++)
                record_done(&b->ignored[i]);
        free(b->records);
        free(b->ignored);
        free(b->sns_message_id);
        free(b);
        return NULL;
}

const char *s3_event_source_to_string(S3EventSource s) {
        switch (s) {
        case S3EVENT_SOURCE_S3:
                return "s3";
        case S3EVENT_SOURCE_SNS:
                return "sns";
        case S3EVENT_SOURCE_EVENTBRIDGE:
                return "eventbridge";
        }
        return "unknown";
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_is_valid(const unsigned char *s, size_t n) {
        size_t i = 0;

        while (i < n) {
                unsigned char c = s[i];
                size_t len;
                unsigned cp;

                if (c < 0x80) {
                        i++;
                        continue;
                } else if (c >= 0xc2 && c <= 0xdf) {
                        len = 2;
                        cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        len = 3;
                        cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        len = 4;
                        cp = c & 0x07;
                } else
                        return false;
                if (n - i < len)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
                    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
                        return false;
                i += len;
        }
        return true;
}

/* Checks a key that is already in its decoded form and copies it into buf. */
static int key_check(const char *key, size_t n, char *buf, size_t bufsz) {
        if (n == 0 || memchr(key, '\0', n))
                return -EINVAL;
        if (n > S3EVENT_KEY_MAX || n >= bufsz)
                return -ENAMETOOLONG;
        if (!utf8_is_valid((const unsigned char *) key, n))
                return -EINVAL;
        if (buf != key)
                memcpy(buf, key, n);
        buf[n] = '\0';
        return (int) n;
}

int s3_event_decode_key(const char *in, size_t len, char *buf, size_t bufsz) {
        ssize_t n;

        if (!in || !buf || bufsz == 0)
                return -EINVAL;
        /* S3 form-encodes keys in notifications (urlcode.h). Capping the output at the key
         * limit stops a long key at its first byte too many. */
        n = url_decode(in, len, buf, MIN(bufsz, (size_t) S3EVENT_KEY_MAX + 1));
        if (n == -ENOBUFS)
                return -ENAMETOOLONG;
        if (n < 0)
                return (int) n;
        return key_check(buf, (size_t) n, buf, bufsz);
}

static const char *get_string(const cJSON *obj, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *get_object(const cJSON *obj, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

        return cJSON_IsObject(v) ? v : NULL;
}

/* Copies an optional short printable field; absent → "". */
static int dup_field(const cJSON *obj, const char *name, char **ret, const char *what, S3bError *err) {
        const char *s = get_string(obj, name);
        size_t n;

        if (!s)
                s = "";
        n = strlen(s);
        if (n > SHORT_FIELD_MAX)
                return s3b_error_set(err, -EBADMSG, "%s is longer than %u bytes", what, SHORT_FIELD_MAX);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return s3b_error_set(err, -EBADMSG, "%s holds a control character", what);
        *ret = strdup(s);
        return *ret ? 0 : s3b_error_set(err, -ENOMEM, "out of memory copying %s", what);
}

static bool bucket_is_valid(const char *b) {
        size_t n = strlen(b);

        if (n < 3 || n > BUCKET_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= 'A' && b[i] <= 'Z') ||
                      (b[i] >= '0' && b[i] <= '9') || b[i] == '.' || b[i] == '-' || b[i] == '_'))
                        return false;
        return true;
}

/* size: absent → -1; otherwise a non-negative integer that a double holds exactly. */
static int get_size(const cJSON *obj, int64_t *ret, S3bError *err) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "size");
        double d;

        if (!v) {
                *ret = -1;
                return 0;
        }
        if (!cJSON_IsNumber(v))
                return s3b_error_set(err, -EBADMSG, "object size is not a number");
        d = v->valuedouble;
        if (!isfinite(d) || d < 0 || d > 9007199254740992.0 || floor(d) != d)
                return s3b_error_set(err, -EBADMSG, "object size is not a byte count");
        *ret = (int64_t) d;
        return 0;
}

/* Fills the fields every shape shares. key_raw is decoded when form_encoded. A record that
 * will be ignored keeps an undecodable key as "" instead of failing the message. */
static int record_fill(S3EventRecord *r, const char *bucket, const char *key_raw, bool form_encoded,
                       bool ignored, const cJSON *object, S3bError *err) {
        char key[S3EVENT_KEY_MAX + 1];
        int k;

        if (!bucket || !bucket_is_valid(bucket))
                return s3b_error_set(err, -EBADMSG, "record has no valid bucket name");
        if (!key_raw)
                return s3b_error_set(err, -EBADMSG, "record has no object key");
        if (form_encoded)
                k = s3_event_decode_key(key_raw, strlen(key_raw), key, sizeof(key));
        else
                k = key_check(key_raw, strlen(key_raw), key, sizeof(key));
        if (k < 0) {
                if (!ignored)
                        return s3b_error_set(err, -EBADMSG, "object key %s",
                                             k == -ENAMETOOLONG ? "is longer than 1024 bytes"
                                                                : "does not decode to valid UTF-8");
                key[0] = '\0';
        }
        r->bucket = strdup(bucket);
        r->key = strdup(key);
        if (!r->bucket || !r->key)
                return s3b_error_set(err, -ENOMEM, "out of memory copying the bucket and key");
        return get_size(object, &r->size, err);
}

/* Appends a zeroed record to the created or ignored list and returns it. */
static S3EventRecord *batch_add(S3EventBatch *b, bool ignored) {
        S3EventRecord **list = ignored ? &b->ignored : &b->records;
        size_t *n = ignored ? &b->n_ignored : &b->n_records;
        S3EventRecord *p;

        p = realloc(*list, (*n + 1) * sizeof(**list));
        if (!p)
                return NULL;
        *list = p;
        p = &p[(*n)++];
        memset(p, 0, sizeof(*p));
        return p;
}

static int parse_s3_record(S3EventBatch *b, const cJSON *rec, size_t idx, S3bError *err) {
        const cJSON *s3, *object;
        const char *name, *source;
        S3EventRecord *r;
        bool ignored;
        int k;

        if (!cJSON_IsObject(rec))
                return s3b_error_set(err, -EBADMSG, "Records[%zu] is not an object", idx);
        source = get_string(rec, "eventSource");
        name = get_string(rec, "eventName");
        s3 = get_object(rec, "s3");
        object = s3 ? get_object(s3, "object") : NULL;
        if (!source || strcmp(source, "aws:s3") != 0 || !name || !object)
                return s3b_error_set(err, -EBADMSG, "Records[%zu] is not an S3 event record", idx);
        ignored = strncmp(name, "ObjectCreated:", strlen("ObjectCreated:")) != 0;
        r = batch_add(b, ignored);
        if (!r)
                return s3b_error_set(err, -ENOMEM, "out of memory adding a record");
        k = record_fill(r, get_string(get_object(s3, "bucket"), "name"), get_string(object, "key"),
                        true, ignored, object, err);
        if (k >= 0)
                k = dup_field(object, "eTag", &r->etag, "eTag", err);
        if (k >= 0)
                k = dup_field(object, "versionId", &r->version_id, "versionId", err);
        if (k >= 0)
                k = dup_field(object, "sequencer", &r->sequencer, "sequencer", err);
        if (k >= 0)
                k = dup_field(rec, "eventName", &r->event_name, "eventName", err);
        if (k >= 0)
                k = dup_field(rec, "eventTime", &r->event_time, "eventTime", err);
        if (k >= 0)
                k = dup_field(rec, "awsRegion", &r->region, "awsRegion", err);
        if (k < 0 && k != -ENOMEM)
                s3b_error_prefix(err, "Records[%zu]", idx);
        return k;
}

static int parse_s3_records(S3EventBatch *b, const cJSON *records, S3bError *err) {
        size_t n = (size_t) cJSON_GetArraySize(records), i = 0;
        const cJSON *rec;
        int k;

        if (n == 0)
                return s3b_error_set(err, -EBADMSG, "Records is empty");
        if (n > S3EVENT_RECORDS_MAX)
                return s3b_error_set(err, -EBADMSG, "more than %u records", S3EVENT_RECORDS_MAX);
        cJSON_ArrayForEach(rec, records) {
                k = parse_s3_record(b, rec, i++, err);
                if (k < 0)
                        return k;
        }
        return S3EVENT_RECORDS;
}

/* EventBridge reasons for "Object Created", mapped to the S3 notification event names so the
 * daemon sees one vocabulary (S3 User Guide, "EventBridge event message structure"). */
static const char *eventbridge_event_name(const char *detail_type, const char *reason) {
        static const struct {
                const char *reason, *name;
        } map[] = {
                { "PutObject", "ObjectCreated:Put" },
                { "POST Object", "ObjectCreated:Post" },
                { "CopyObject", "ObjectCreated:Copy" },
                { "CompleteMultipartUpload", "ObjectCreated:CompleteMultipartUpload" },
        };

        if (strcmp(detail_type, "Object Created") != 0)
                return detail_type;
        for (size_t i = 0; reason && i < ELEMENTSOF(map); i++)
                if (strcmp(reason, map[i].reason) == 0)
                        return map[i].name;
        return "ObjectCreated:*";
}

static int parse_eventbridge(S3EventBatch *b, const cJSON *root, S3bError *err) {
        const cJSON *detail = get_object(root, "detail"), *object;
        const char *detail_type = get_string(root, "detail-type");
        const char *name;
        S3EventRecord *r;
        bool ignored;
        int k;

        object = detail ? get_object(detail, "object") : NULL;
        if (!detail_type || !object)
                return s3b_error_set(err, -EBADMSG, "EventBridge event without detail-type or detail.object");
        b->source = S3EVENT_SOURCE_EVENTBRIDGE;
        ignored = strcmp(detail_type, "Object Created") != 0;
        name = eventbridge_event_name(detail_type, get_string(detail, "reason"));
        r = batch_add(b, ignored);
        if (!r)
                return s3b_error_set(err, -ENOMEM, "out of memory adding a record");
        /* EventBridge carries the key as it is, not form-encoded. */
        k = record_fill(r, get_string(get_object(detail, "bucket"), "name"),
                        get_string(object, "key"), false, ignored, object, err);
        if (k >= 0)
                k = dup_field(object, "etag", &r->etag, "etag", err);
        if (k >= 0)
                k = dup_field(object, "version-id", &r->version_id, "version-id", err);
        if (k >= 0)
                k = dup_field(object, "sequencer", &r->sequencer, "sequencer", err);
        if (k >= 0)
                k = dup_field(root, "time", &r->event_time, "time", err);
        if (k >= 0)
                k = dup_field(root, "region", &r->region, "region", err);
        if (k >= 0 && strlen(name) > SHORT_FIELD_MAX)
                k = s3b_error_set(err, -EBADMSG, "detail-type is too long");
        if (k >= 0 && !(r->event_name = strdup(name)))
                k = s3b_error_set(err, -ENOMEM, "out of memory copying the event name");
        return k < 0 ? k : S3EVENT_RECORDS;
}

static bool is_test_event(const cJSON *root) {
        const char *service = get_string(root, "Service"), *event = get_string(root, "Event");

        return service && event && strcmp(service, "Amazon S3") == 0 &&
               strcmp(event, "s3:TestEvent") == 0;
}

static int parse_json(S3EventBatch *b, const char *body, size_t len, bool in_envelope, S3bError *err);

static int parse_tree(S3EventBatch *b, const cJSON *root, bool in_envelope, S3bError *err) {
        const cJSON *records;
        const char *type, *source, *message;

        if (!cJSON_IsObject(root))
                return s3b_error_set(err, -EBADMSG, "body is not a JSON object");
        records = cJSON_GetObjectItemCaseSensitive(root, "Records");
        if (records) {
                if (!cJSON_IsArray(records))
                        return s3b_error_set(err, -EBADMSG, "Records is not an array");
                return parse_s3_records(b, records, err);
        }
        if (is_test_event(root))
                return S3EVENT_TEST;
        source = get_string(root, "source");
        if (source && strcmp(source, "aws.s3") == 0)
                return parse_eventbridge(b, root, err);
        type = get_string(root, "Type");
        if (type && !in_envelope) {
                const char *id = get_string(root, "MessageId");

                if (strcmp(type, "Notification") != 0)
                        return s3b_error_set(err, -EBADMSG, "SNS message of type '%.64s', not a Notification", type);
                message = get_string(root, "Message");
                if (!message)
                        return s3b_error_set(err, -EBADMSG, "SNS notification without a Message string");
                if (id && strlen(id) <= SHORT_FIELD_MAX) {
                        free(b->sns_message_id);
                        b->sns_message_id = strdup(id);
                        if (!b->sns_message_id)
                                return s3b_error_set(err, -ENOMEM, "out of memory copying MessageId");
                }
                b->source = S3EVENT_SOURCE_SNS;
                return parse_json(b, message, strlen(message), true, err);
        }
        return s3b_error_set(err, -EBADMSG, "not an S3 event, SNS notification, EventBridge event or test event");
}

static int parse_json(S3EventBatch *b, const char *body, size_t len, bool in_envelope, S3bError *err) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;

        if (len > S3EVENT_BODY_MAX)
                return s3b_error_set(err, -EBADMSG, "body of %zu bytes is over the %u byte limit", len, S3EVENT_BODY_MAX);
        /* SQS forbids NUL in bodies, and cJSON would silently cut a string at "\u0000":
         * a key that is not the one S3 sent must not be processed. */
        if (memchr(body, '\0', len) || memmem(body, len, "\\u0000", 6))
                return s3b_error_set(err, -EBADMSG, "body contains a NUL character");
        root = cJSON_ParseWithLength(body, len);
        if (!root) {
                /* cJSON reports allocation failure and syntax errors alike; treat as syntax,
                 * which is by far the likelier and the safer (redrive, not a tight retry). */
                return s3b_error_set(err, -EBADMSG, "%sbody is not valid JSON", in_envelope ? "SNS Message " : "");
        }
        return parse_tree(b, root, in_envelope, err);
}

int s3_event_parse(const char *body, size_t len, S3EventBatch **ret, S3bError *err) {
        _cleanup_(s3_event_batch_freep) S3EventBatch *b = NULL;
        int k;

        if (!body || !ret)
                return s3b_error_set(err, -EINVAL, "no body");
        b = calloc(1, sizeof(*b));
        if (!b)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        b->source = S3EVENT_SOURCE_S3;
        k = parse_json(b, body, len, false, err);
        if (k < 0)
                return k;
        if (k == S3EVENT_TEST) {
                *ret = NULL;
                return S3EVENT_TEST;
        }
        if (!b->sns_message_id && !(b->sns_message_id = strdup("")))
                return s3b_error_set(err, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(b);
        return S3EVENT_RECORDS;
}
