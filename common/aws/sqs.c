/* SQS: request bodies built with cJSON (all small), responses read defensively — a missing
 * or mistyped field is -EBADMSG (in ReceiveMessage: that message alone is marked invalid),
 * never a NULL dereference. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/aws/awserror.h"
#include "common/aws/sqs.h"
#include "common/cleanup.h"

/* A queue may be configured for messages of up to 1 MiB (Amazon SQS Developer Guide, "Amazon
 * SQS message quotas"; CreateQueue MaximumMessageSize 1,024..1,048,576 bytes). In the JSON
 * answer a body grows at most threefold (a character escaped as \uXXXX, or a surrogate pair
 * for four UTF-8 bytes), plus the entry's envelope (ids, a receipt handle of up to 1 KiB,
 * MD5s, attributes). The response bound scales with the messages asked for, so that a receive
 * of messages SQS accepted never fails as a whole for their size — the daemon asks for one
 * per free worker. */
#define SQS_MESSAGE_SIZE_LIMIT (1024u * 1024)
#define SQS_RECEIVE_ENTRY_MAX (3u * SQS_MESSAGE_SIZE_LIMIT + 64u * 1024)
#define SQS_RECEIVE_ENVELOPE_MAX (64u * 1024)
#define SQS_BODY_MAX (1024u * 1024)

/* Where to send, and for which region to sign. */
typedef struct SqsTarget {
        AwsEndpoint endpoint;
        char region[64];                /* "" = the context's */
} SqsTarget;

static int sqs_target(AwsClient *c, const char *queue_url, SqsTarget *ret, S3bError *err) {
        const AwsEndpoint *configured = aws_context_endpoint(aws_client_context(c), AWS_SERVICE_SQS);
        SqsTarget t = {};
        int r;

        if (configured->custom) {
                t.endpoint = *configured;
                *ret = t;
                return 0;
        }
        /* the queue URL's host is the queue's regional endpoint (also for legacy
         * REGION.queue.amazonaws.com URLs); its path is the queue, not a base path. A queue in
         * another region than the daemon's must be signed for its own region. */
        r = aws_endpoint_parse(queue_url, false, &t.endpoint, err);
        if (r < 0)
                return r;
        if (aws_endpoint_region_of_host(t.endpoint.host, "sqs", t.region, sizeof(t.region)) < 0)
                t.region[0] = '\0';
        *ret = t;
        return 0;
}

/* Sends body (consumed; NULL means building it ran out of memory) as AmazonSQS.<action> and
 * returns the parsed response. */
static int sqs_call_limited(AwsClient *c, const char *queue_url, const char *action, cJSON *body,
                            size_t response_max, long timeout_ms, unsigned max_attempts,
                            cJSON **ret, S3bError *err) {
        _cleanup_(cJSON_Deletep) cJSON *b = body;
        _cleanup_free_ char *text = NULL;
        SqsTarget ep;
        char target[64];
        int r;

        if (!queue_url || !*queue_url)
                return s3b_error_set(err, -EINVAL, "SQS %s: no queue URL", action);
        r = sqs_target(c, queue_url, &ep, err);
        if (r < 0)
                return s3b_error_prefix(err, "SQS queue URL");
        if (!b || !cJSON_AddStringToObject(b, "QueueUrl", queue_url) ||
            !(text = cJSON_PrintUnformatted(b)))
                return s3b_error_set(err, -ENOMEM, "out of memory");
        snprintf(target, sizeof(target), "AmazonSQS.%s", action);
        r = aws_client_json_call(c, &(AwsJsonCall) {
                        .service = AWS_SERVICE_SQS,
                        .endpoint = &ep.endpoint,
                        .region = ep.region[0] ? ep.region : NULL,
                        .target = target,
                        .body = text,
                        .body_len = strlen(text),
                        .response_max = response_max ? response_max : SQS_BODY_MAX,
                        .timeout_ms = timeout_ms,
                        .max_attempts = max_attempts,
                }, ret, err);
        if (r < 0)
                return s3b_error_prefix(err, "SQS %s", action);
        return 0;
}

static int sqs_call(AwsClient *c, const char *queue_url, const char *action, cJSON *body,
                    size_t response_max, long timeout_ms, cJSON **ret, S3bError *err) {
        return sqs_call_limited(c, queue_url, action, body, response_max, timeout_ms, 0, ret, err);
}

static int sqs_call_no_result(AwsClient *c, const char *queue_url, const char *action,
                              cJSON *body, S3bError *err) {
        _cleanup_(cJSON_Deletep) cJSON *resp = NULL;

        return sqs_call(c, queue_url, action, body, 0, 0, &resp, err);
}

void sqs_message_done(SqsMessage *m) {
        free(m->message_id);
        free(m->receipt_handle);
        free(m->body);
        free(m->message_group_id);
        free(m->sequence_number);
        free(m->invalid);
        *m = (SqsMessage) {};
}

void sqs_messages_free(SqsMessage *m, size_t n) {
        if (!m)
                return;
        for (size_t i = 0; i < n; i++)
                sqs_message_done(&m[i]);
        free(m);
}

static const char *json_string(const cJSON *o, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

        return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ApproximateReceiveCount: a decimal count ≥ 1. Returns -EINVAL for anything else. */
static int parse_count(const char *s, unsigned *ret) {
        char *end;
        unsigned long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v > UINT32_MAX)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* SQS sends MD5OfBody with every message and the SDKs check it: a body that does not match
 * is not handed on as a body (the message comes back after its visibility timeout). */
static bool body_md5_matches(const char *body, size_t len, const char *md5_hex) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        char hex[2 * EVP_MAX_MD_SIZE + 1];

        if (EVP_Digest(body, len, md, &md_len, EVP_md5(), NULL) != 1 || md_len != 16)
                return false;
        for (unsigned i = 0; i < md_len; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        return strcasecmp(hex, md5_hex) == 0;
}

/* MessageGroupId: 1..128 characters, alphanumeric and punctuation (Amazon SQS API Reference,
 * SendMessage). */
static bool valid_group_id(const char *s) {
        size_t n = strlen(s);

        if (n < 1 || n > 128)
                return false;
        for (; *s; s++)
                if (*s < 0x21 || *s > 0x7e)
                        return false;
        return true;
}

/* SequenceNumber: a large, non-consecutive number (128 bits at most: ≤ 39 digits). */
static bool valid_sequence_number(const char *s) {
        size_t n = strlen(s);

        if (n < 1 || n > 39)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* The FIFO attributes of a well-formed entry into m. NULL, or why they are malformed. */
static const char *fifo_attributes(const cJSON *j, SqsMessage *m, bool *oom) {
        const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(j, "Attributes"), *g, *q;

        g = attrs ? cJSON_GetObjectItemCaseSensitive(attrs, "MessageGroupId") : NULL;
        q = attrs ? cJSON_GetObjectItemCaseSensitive(attrs, "SequenceNumber") : NULL;
        if (g && (!cJSON_IsString(g) || !valid_group_id(g->valuestring)))
                return "malformed MessageGroupId";
        if (q && (!cJSON_IsString(q) || !valid_sequence_number(q->valuestring)))
                return "malformed SequenceNumber";
        if ((g && !(m->message_group_id = strdup(g->valuestring))) ||
            (q && !(m->sequence_number = strdup(q->valuestring))))
                *oom = true;
        return NULL;
}

/* Why the entry j (which has a receipt handle) cannot be handed on as a message, or NULL;
 * sets *ret_count when the entry reports a usable ApproximateReceiveCount. */
static const char *entry_problem(const cJSON *j, char *buf, size_t size, unsigned *ret_count) {
        const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(j, "Attributes"), *count, *md5;
        const char *id = json_string(j, "MessageId"), *body = json_string(j, "Body");
        size_t len;

        count = attrs ? cJSON_GetObjectItemCaseSensitive(attrs, "ApproximateReceiveCount") : NULL;
        if (attrs && !cJSON_IsObject(attrs))
                return "malformed Attributes (not an object)";
        if (count && parse_count(cJSON_GetStringValue(count), ret_count) < 0)
                return "malformed ApproximateReceiveCount (not a decimal count)";
        if (!id || !*id)
                return "no MessageId string";
        if (!body)
                return "no Body string";
        len = strlen(body);
        if (len > SQS_MESSAGE_BODY_MAX) {
                snprintf(buf, size, "a body of %zu bytes, over the cap of %u bytes", len,
                         SQS_MESSAGE_BODY_MAX);
                return buf;
        }
        md5 = cJSON_GetObjectItemCaseSensitive(j, "MD5OfBody");
        if (md5 && !cJSON_IsString(md5))
                return "malformed MD5OfBody (not a string)";
        /* not every SQS-compatible server sends MD5OfBody; when it comes it must hold */
        if (md5 && !body_md5_matches(body, len, md5->valuestring))
                return "the body does not match its MD5OfBody (corrupted in transit?)";
        return NULL;
}

/* One entry of Messages into m. Returns 0 (m may be marked invalid), -ENOENT for an entry
 * without a receipt handle (nothing can be done with it: skipped), -ENOMEM (err set). */
static int message_from_json(const cJSON *j, SqsMessage *m, S3bError *err) {
        const char *rh = json_string(j, "ReceiptHandle"), *id = json_string(j, "MessageId"),
                   *problem;
        char buf[160];
        bool oom = false;

        if (!cJSON_IsObject(j) || !rh || !*rh)
                return -ENOENT;
        m->receipt_handle = strdup(rh);
        m->message_id = strdup(id ? id : "");
        if (!m->receipt_handle || !m->message_id)
                oom = true;
        problem = entry_problem(j, buf, sizeof(buf), &m->receive_count);
        if (!problem && !oom)
                problem = fifo_attributes(j, m, &oom);
        if (!oom && problem)
                oom = !(m->invalid = strdup(problem));
        else if (!oom)
                oom = !(m->body = strdup(json_string(j, "Body")));
        if (oom)
                return s3b_error_set(err, -ENOMEM, "SQS ReceiveMessage: out of memory");
        return 0;
}

/* Messages of a ReceiveMessage response. Returns the number of entries skipped (≥ 0). */
static int messages_from_json(const cJSON *resp, SqsMessage **ret, size_t *ret_n, S3bError *err) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(resp, "Messages"), *j;
        SqsMessage *m;
        size_t n = 0;
        int r, skipped = 0;

        if (!cJSON_IsObject(resp))
                return s3b_error_set(err, -EBADMSG, "SQS ReceiveMessage: response is not a JSON object");
        if (!list || cJSON_IsNull(list) || (cJSON_IsArray(list) && cJSON_GetArraySize(list) == 0)) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > (int) SQS_RECEIVE_MAX_MESSAGES)
                return s3b_error_set(err, -EBADMSG, "SQS ReceiveMessage: malformed Messages");
        m = calloc((size_t) cJSON_GetArraySize(list), sizeof(*m));
        if (!m)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        cJSON_ArrayForEach(j, list) {
                r = message_from_json(j, &m[n], err);
                if (r == -ENOENT) {
                        sqs_message_done(&m[n]);
                        skipped++;
                        continue;
                }
                n++;
                if (r < 0) {
                        sqs_messages_free(m, n);
                        return r;
                }
        }
        if (n == 0) {
                free(m);
                m = NULL;
        }
        *ret = m;
        *ret_n = n;
        return skipped;
}

int sqs_receive_message(AwsClient *c, const char *queue_url, unsigned max, unsigned wait_seconds,
                        unsigned visibility_timeout, SqsMessage **ret_msgs, size_t *ret_n,
                        S3bError *err) {
        _cleanup_(cJSON_Deletep) cJSON *resp = NULL, *body = NULL;
        cJSON *names;
        long timeout;
        int r;

        if (max < 1 || max > SQS_RECEIVE_MAX_MESSAGES || wait_seconds > SQS_WAIT_SECONDS_MAX ||
            visibility_timeout > SQS_VISIBILITY_TIMEOUT_MAX)
                return s3b_error_set(err, -EINVAL, "SQS ReceiveMessage: argument out of range");
        body = cJSON_CreateObject();
        names = cJSON_AddArrayToObject(body, "MessageSystemAttributeNames");
        if (!names || !cJSON_AddNumberToObject(body, "MaxNumberOfMessages", max) ||
            !cJSON_AddNumberToObject(body, "WaitTimeSeconds", wait_seconds) ||
            (visibility_timeout &&
             !cJSON_AddNumberToObject(body, "VisibilityTimeout", visibility_timeout)) ||
            !cJSON_AddItemToArray(names, cJSON_CreateString("ApproximateReceiveCount")) ||
            /* FIFO queues: the group whose order the daemon keeps (standard queues send neither) */
            !cJSON_AddItemToArray(names, cJSON_CreateString("MessageGroupId")) ||
            !cJSON_AddItemToArray(names, cJSON_CreateString("SequenceNumber")))
                return s3b_error_set(err, -ENOMEM, "SQS ReceiveMessage: out of memory");
        /* the long poll is silence by design: the request timeout starts after the wait */
        timeout = (long) wait_seconds * 1000 +
                  (long) aws_context_request_timeout_ms(aws_client_context(c));
        r = sqs_call(c, queue_url, "ReceiveMessage", TAKE_PTR(body),
                     max * SQS_RECEIVE_ENTRY_MAX + SQS_RECEIVE_ENVELOPE_MAX, timeout, &resp, err);
        if (r < 0)
                return r;
        return messages_from_json(resp, ret_msgs, ret_n, err);
}

/* {"ReceiptHandle": …[, "VisibilityTimeout": timeout]}, or NULL when out of memory. */
static cJSON *body_with_handle(const char *receipt_handle, bool with_timeout, unsigned timeout) {
        _cleanup_(cJSON_Deletep) cJSON *body = cJSON_CreateObject();

        if (!body || !cJSON_AddStringToObject(body, "ReceiptHandle", receipt_handle) ||
            (with_timeout && !cJSON_AddNumberToObject(body, "VisibilityTimeout", timeout)))
                return NULL;
        return TAKE_PTR(body);
}

int sqs_delete_message(AwsClient *c, const char *queue_url, const char *receipt_handle,
                       S3bError *err) {
        if (!receipt_handle || !*receipt_handle)
                return s3b_error_set(err, -EINVAL, "SQS DeleteMessage: no receipt handle");
        return sqs_call_no_result(c, queue_url, "DeleteMessage",
                                  body_with_handle(receipt_handle, false, 0), err);
}

int sqs_change_message_visibility(AwsClient *c, const char *queue_url,
                                  const char *receipt_handle, unsigned timeout, S3bError *err) {
        if (!receipt_handle || !*receipt_handle || timeout > SQS_VISIBILITY_TIMEOUT_MAX)
                return s3b_error_set(err, -EINVAL, "SQS ChangeMessageVisibility: bad argument");
        return sqs_call_no_result(c, queue_url, "ChangeMessageVisibility",
                                  body_with_handle(receipt_handle, true, timeout), err);
}

/* Entry ids are the indexes ("0".."9"), so results map back without a lookup table. */
static int batch_index(const cJSON *entry, size_t n) {
        const char *id = json_string(entry, "Id");
        char *end;
        unsigned long v;

        if (!id || !*id)
                return -1;
        v = strtoul(id, &end, 10);
        if (*end || v >= n)
                return -1;
        return (int) v;
}

static int batch_results(const cJSON *resp, size_t n, SqsBatchResult *ret, S3bError *err) {
        SqsBatchResult res[SQS_BATCH_MAX];
        bool seen[SQS_BATCH_MAX] = {};
        const cJSON *e;
        int failed = 0, i;

        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(resp, "Successful")) {
                if ((i = batch_index(e, n)) < 0)
                        return s3b_error_set(err, -EBADMSG, "SQS batch: unknown entry id");
                res[i] = (SqsBatchResult) { .code = 0 };
                seen[i] = true;
        }
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(resp, "Failed")) {
                const char *code = json_string(e, "Code");

                if ((i = batch_index(e, n)) < 0)
                        return s3b_error_set(err, -EBADMSG, "SQS batch: unknown entry id");
                res[i] = (SqsBatchResult) { .code = aws_error_errno(400, code) };
                aws_error_code_normalize(code ? code : "", res[i].aws_code, sizeof(res[i].aws_code));
                seen[i] = true;
        }
        for (size_t k = 0; k < n; k++) {
                if (!seen[k])
                        /* SQS reports every entry; a silent one did not happen */
                        res[k] = (SqsBatchResult) { .code = -EIO, .aws_code = "MissingResult" };
                if (res[k].code < 0)
                        failed++;
        }
        memcpy(ret, res, n * sizeof(*ret));
        return failed;
}

/* {"Entries": [{"Id": "<i>", "ReceiptHandle": …[, "VisibilityTimeout": …]}…]}, or NULL when
 * out of memory. */
static cJSON *batch_body(const char *const *receipt_handles, size_t n, const unsigned *timeouts) {
        _cleanup_(cJSON_Deletep) cJSON *body = cJSON_CreateObject();
        cJSON *entries = cJSON_AddArrayToObject(body, "Entries");

        if (!entries)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                /* adding to a valid array fails only for a NULL item: e is never lost */
                cJSON *e = cJSON_CreateObject();
                char id[8];

                snprintf(id, sizeof(id), "%zu", i);
                if (!cJSON_AddItemToArray(entries, e) || !cJSON_AddStringToObject(e, "Id", id) ||
                    !cJSON_AddStringToObject(e, "ReceiptHandle", receipt_handles[i]) ||
                    (timeouts && !cJSON_AddNumberToObject(e, "VisibilityTimeout", timeouts[i])))
                        return NULL;
        }
        return TAKE_PTR(body);
}

/* timeouts: NULL (delete), or one per entry. */
static int batch_call(AwsClient *c, const char *queue_url, const char *action,
                      const char *const *receipt_handles, size_t n, const unsigned *timeouts,
                      const SqsCallLimits *limits, SqsBatchResult *ret_results, S3bError *err) {
        _cleanup_(cJSON_Deletep) cJSON *resp = NULL;
        int r;

        if (n < 1 || n > SQS_BATCH_MAX)
                return s3b_error_set(err, -EINVAL, "SQS %s: 1..10 entries", action);
        for (size_t i = 0; i < n; i++) {
                if (!receipt_handles[i] || !*receipt_handles[i])
                        return s3b_error_set(err, -EINVAL, "SQS %s: empty receipt handle", action);
                if (timeouts && timeouts[i] > SQS_VISIBILITY_TIMEOUT_MAX)
                        return s3b_error_set(err, -EINVAL, "SQS %s: timeout above 43200 s", action);
        }
        r = sqs_call_limited(c, queue_url, action, batch_body(receipt_handles, n, timeouts), 0,
                             limits ? limits->timeout_ms : 0, limits ? limits->max_attempts : 0,
                             &resp, err);
        if (r < 0)
                return r;
        return batch_results(resp, n, ret_results, err);
}

int sqs_delete_message_batch(AwsClient *c, const char *queue_url,
                             const char *const *receipt_handles, size_t n,
                             SqsBatchResult *ret_results, S3bError *err) {
        return batch_call(c, queue_url, "DeleteMessageBatch", receipt_handles, n, NULL, NULL,
                          ret_results, err);
}

int sqs_change_message_visibility_batch(AwsClient *c, const char *queue_url,
                                        const char *const *receipt_handles, size_t n,
                                        unsigned timeout, SqsBatchResult *ret_results,
                                        S3bError *err) {
        unsigned timeouts[SQS_BATCH_MAX];

        for (size_t i = 0; i < MIN(n, (size_t) SQS_BATCH_MAX); i++)
                timeouts[i] = timeout;
        return batch_call(c, queue_url, "ChangeMessageVisibilityBatch", receipt_handles, n,
                          timeouts, NULL, ret_results, err);
}

int sqs_change_visibility_entries(AwsClient *c, const char *queue_url,
                                  const SqsVisibilityEntry *entries, size_t n,
                                  const SqsCallLimits *limits, SqsBatchResult *ret_results,
                                  S3bError *err) {
        const char *handles[SQS_BATCH_MAX];
        unsigned timeouts[SQS_BATCH_MAX];

        if (n < 1 || n > SQS_BATCH_MAX)
                return s3b_error_set(err, -EINVAL, "SQS ChangeMessageVisibilityBatch: 1..10 entries");
        for (size_t i = 0; i < n; i++) {
                handles[i] = entries[i].receipt_handle;
                timeouts[i] = entries[i].timeout;
        }
        return batch_call(c, queue_url, "ChangeMessageVisibilityBatch", handles, n, timeouts,
                          limits, ret_results, err);
}

void sqs_queue_attributes_free(SqsQueueAttribute *a, size_t n) {
        if (!a)
                return;
        for (size_t i = 0; i < n; i++) {
                free(a[i].name);
                free(a[i].value);
        }
        free(a);
}

const char *sqs_queue_attribute(const SqsQueueAttribute *a, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(a[i].name, name) == 0)
                        return a[i].value;
        return NULL;
}

/* {"AttributeNames": [names… or "All"]}, or NULL when out of memory. */
static cJSON *attributes_body(const char *const *names, size_t n_names) {
        _cleanup_(cJSON_Deletep) cJSON *body = cJSON_CreateObject();
        cJSON *list = cJSON_AddArrayToObject(body, "AttributeNames");

        if (!list)
                return NULL;
        for (size_t i = 0; i < MAX(n_names, (size_t) 1); i++)
                if (!cJSON_AddItemToArray(list, cJSON_CreateString(n_names ? names[i] : "All")))
                        return NULL;
        return TAKE_PTR(body);
}

int sqs_get_queue_attributes(AwsClient *c, const char *queue_url, const char *const *names,
                             size_t n_names, SqsQueueAttribute **ret, size_t *ret_n,
                             S3bError *err) {
        _cleanup_(cJSON_Deletep) cJSON *resp = NULL;
        const cJSON *attrs, *a;
        SqsQueueAttribute *out;
        size_t n = 0;
        int r;

        r = sqs_call(c, queue_url, "GetQueueAttributes", attributes_body(names, n_names), 0, 0,
                     &resp, err);
        if (r < 0)
                return r;
        attrs = cJSON_GetObjectItemCaseSensitive(resp, "Attributes");
        if (attrs && !cJSON_IsObject(attrs))
                return s3b_error_set(err, -EBADMSG, "SQS GetQueueAttributes: malformed Attributes");
        out = calloc((size_t) MAX(cJSON_GetArraySize(attrs), 1), sizeof(*out));
        if (!out)
                return s3b_error_set(err, -ENOMEM, "SQS GetQueueAttributes: out of memory");
        cJSON_ArrayForEach(a, attrs) {
                if (!cJSON_IsString(a))
                        continue;
                out[n].name = strdup(a->string);
                out[n].value = strdup(a->valuestring);
                if (!out[n].name || !out[n].value) {
                        sqs_queue_attributes_free(out, n + 1);
                        return s3b_error_set(err, -ENOMEM, "SQS GetQueueAttributes: out of memory");
                }
                n++;
        }
        *ret = out;
        *ret_n = n;
        return 0;
}
