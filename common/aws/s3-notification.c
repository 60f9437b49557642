/* S3 GetBucketNotificationConfiguration: which queues a bucket sends its events to (the
 * startup check that the daemon's queue is fed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/aws/s3-internal.h"
#include "common/aws/xml.h"

/* 100 configurations whose filter values (≤ 1024 bytes each, S3 API Reference, FilterRule)
 * may be escaped several times over in XML, plus ARNs, ids and events. */
#define S3_NOTIFICATION_BODY_MAX (4u * 1024 * 1024)
/* Per configuration: itself, Id, Queue, ≤ 64 Event, Filter, S3Key, two rules of three. */
#define S3_NOTIFICATION_NODES_MAX (S3_NOTIFICATION_CONFIGS_MAX * 80u + 16u)

static void queue_notification_done(S3QueueNotification *q) {
        free(q->id);
        free(q->queue_arn);
        for (size_t i = 0; i < q->n_events; i++)
                free(q->events[i]);
        free(q->events);
        free(q->prefix);
        free(q->suffix);
        *q = (S3QueueNotification) {};
}

void s3_notification_config_done(S3NotificationConfig *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_queues; i++)
                queue_notification_done(&c->queues[i]);
        free(c->queues);
        *c = (S3NotificationConfig) {};
}

bool s3_queue_notification_object_created(const S3QueueNotification *q) {
        for (size_t i = 0; i < q->n_events; i++)
                if (strncmp(q->events[i], "s3:ObjectCreated:", 17) == 0)
                        return true;
        return false;
}

static size_t count_children(const XmlNode *root, const char *name) {
        size_t n = 0;

        for (const XmlNode *e = xml_child(root, name); e; e = xml_next_same(e))
                n++;
        return n;
}

/* Filter/S3Key/FilterRule: Name is prefix or suffix (S3 writes them "Prefix"/"Suffix" in
 * its answers, so case does not count), each at most once. */
static int queue_filter_from_xml(const XmlNode *qc, S3QueueNotification *q, S3bError *err) {
        const XmlNode *key = xml_path(qc, "Filter/S3Key");

        for (const XmlNode *rule = xml_child(key, "FilterRule"); rule; rule = xml_next_same(rule)) {
                const char *name = xml_text(xml_child(rule, "Name"));
                char **slot = strcasecmp(name, "prefix") == 0 ? &q->prefix :
                              strcasecmp(name, "suffix") == 0 ? &q->suffix : NULL;

                if (!slot)
                        return s3b_error_set(err, -EBADMSG, "filter rule named \"%.32s\", not "
                                             "prefix or suffix", name);
                if (*slot)
                        return s3b_error_set(err, -EBADMSG, "two %s filter rules", name);
                if (!(*slot = strdup(xml_text(xml_child(rule, "Value")))))
                        return s3b_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}

static int queue_from_xml(const XmlNode *qc, S3QueueNotification *q, S3bError *err) {
        const char *arn = xml_text(xml_child(qc, "Queue"));
        size_t n = count_children(qc, "Event");
        int r;

        if (!*arn)
                return s3b_error_set(err, -EBADMSG, "QueueConfiguration without Queue");
        if (n > S3_NOTIFICATION_EVENTS_MAX)
                return s3b_error_set(err, -EBADMSG, "QueueConfiguration with %zu events", n);
        q->id = strdup(xml_text(xml_child(qc, "Id")));
        q->queue_arn = strdup(arn);
        q->events = calloc(MAX(n, (size_t) 1), sizeof(*q->events));
        if (!q->id || !q->queue_arn || !q->events)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        for (const XmlNode *e = xml_child(qc, "Event"); e; e = xml_next_same(e)) {
                if (!(q->events[q->n_events] = strdup(xml_text(e))))
                        return s3b_error_set(err, -ENOMEM, "out of memory");
                q->n_events++;
        }
        r = queue_filter_from_xml(qc, q, err);
        if (r < 0)
                return r;
        if ((!q->prefix && !(q->prefix = strdup(""))) || (!q->suffix && !(q->suffix = strdup(""))))
                return s3b_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

int s3_notification_config_parse(const char *xml, size_t n, S3NotificationConfig *ret,
                                 S3bError *err) {
        _cleanup_(xml_freep) XmlNode *root = NULL;
        S3NotificationConfig c = {};
        size_t total;
        int r;

        r = xml_parse(xml ? xml : "", n, S3_NOTIFICATION_NODES_MAX, &root, err);
        if (r < 0)
                return r;
        if (strcmp(root->name, "NotificationConfiguration") != 0)
                return s3b_error_set(err, -EBADMSG, "expected <NotificationConfiguration>, got <%s>",
                                     root->name);
        c.n_topics = count_children(root, "TopicConfiguration");
        c.n_functions = count_children(root, "CloudFunctionConfiguration");
        c.eventbridge = xml_child(root, "EventBridgeConfiguration") != NULL;
        total = count_children(root, "QueueConfiguration");
        if (total + c.n_topics + c.n_functions > S3_NOTIFICATION_CONFIGS_MAX)
                return s3b_error_set(err, -EBADMSG, "more than %u notification configurations",
                                     S3_NOTIFICATION_CONFIGS_MAX);
        c.queues = calloc(MAX(total, (size_t) 1), sizeof(*c.queues));
        if (!c.queues)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        for (const XmlNode *qc = xml_child(root, "QueueConfiguration"); qc && r >= 0;
             qc = xml_next_same(qc)) {
                /* counted first, so a half-built entry is freed with the rest */
                r = queue_from_xml(qc, &c.queues[c.n_queues++], err);
        }
        if (r < 0) {
                s3_notification_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

int s3_get_bucket_notification(AwsClient *c, const char *bucket, S3NotificationConfig *ret,
                               S3bError *err) {
        const SigV4Param q = { "notification", NULL };
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        int r;

        r = s3_check_names("GetBucketNotificationConfiguration", bucket, NULL, err);
        if (r < 0)
                return r;
        r = s3_send(c, bucket, NULL, &(AwsRequest) {
                        .method = "GET", .query = &q, .n_query = 1,
                        .body_max = S3_NOTIFICATION_BODY_MAX,
                }, &resp, err);
        if (r >= 0)
                r = s3_notification_config_parse(resp.body.data, resp.body.len, ret, err);
        if (r < 0)
                s3b_error_prefix(err, "S3 GetBucketNotificationConfiguration %s", bucket);
        return r;
}
