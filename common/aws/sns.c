/* SNS Publish. The form body is encoded with the SigV4 URI encoder (RFC 3986 unreserved
 * kept, everything else %XX), which application/x-www-form-urlencoded parsers accept. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/sns.h"
#include "common/urlcode.h"
#include "common/aws/xml.h"

#define SNS_RESPONSE_MAX (64u * 1024)
/* The message, its attributes and their encoding (≤ 3 bytes per byte). */
#define SNS_FORM_MAX (3u * SNS_MESSAGE_MAX + 64u * 1024)

bool sns_subject_is_valid(const char *subject) {
        size_t n;

        if (!subject || !*subject)
                return true;
        n = strlen(subject);
        if (n > SNS_SUBJECT_MAX || subject[0] == ' ')
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) subject[i] < 0x20 || (unsigned char) subject[i] > 0x7e)
                        return false;
        return true;
}

bool sns_attribute_name_is_valid(const char *name) {
        size_t n = name ? strlen(name) : 0;

        if (n < 1 || n > SNS_ATTRIBUTE_NAME_MAX || name[0] == '.' || name[n - 1] == '.' ||
            strstr(name, "..") || strncasecmp(name, "AWS.", 4) == 0 ||
            strncasecmp(name, "Amazon.", 7) == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) name[i]) && !strchr("_.-", name[i]))
                        return false;
        return true;
}

static int form_add(Buf *b, const char *key, const char *value) {
        int r = buf_printf(b, "%s%s=", b->len ? "&" : "", key);

        if (r < 0)
                return r;
        return url_encode(b, value, strlen(value), false);
}

static int build_form(Buf *b, const char *topic_arn, const char *subject, const char *message,
                      const SnsAttribute *attrs, size_t n_attrs) {
        int r;

        if ((r = form_add(b, "Action", "Publish")) < 0 ||
            (r = form_add(b, "Version", "2010-03-31")) < 0 ||
            (r = form_add(b, "TopicArn", topic_arn)) < 0 ||
            (r = form_add(b, "Message", message)) < 0)
                return r;
        if (subject && *subject && (r = form_add(b, "Subject", subject)) < 0)
                return r;
        for (size_t i = 0; i < n_attrs; i++) {
                char key[80];

                snprintf(key, sizeof(key), "MessageAttributes.entry.%zu.Name", i + 1);
                if ((r = form_add(b, key, attrs[i].name)) < 0)
                        return r;
                snprintf(key, sizeof(key), "MessageAttributes.entry.%zu.Value.DataType", i + 1);
                if ((r = form_add(b, key, "String")) < 0)
                        return r;
                snprintf(key, sizeof(key), "MessageAttributes.entry.%zu.Value.StringValue", i + 1);
                if ((r = form_add(b, key, attrs[i].value)) < 0)
                        return r;
        }
        return 0;
}

static int check_args(const char *topic_arn, const char *subject, const char *message,
                      const SnsAttribute *attrs, size_t n_attrs, S3bError *err) {
        size_t total;

        if (!topic_arn || strncmp(topic_arn, "arn:", 4) != 0)
                return s3b_error_set(err, -EINVAL, "SNS Publish: topic must be an ARN");
        if (!message || !*message)
                return s3b_error_set(err, -EINVAL, "SNS Publish: empty message");
        if (!sns_subject_is_valid(subject))
                return s3b_error_set(err, -EINVAL, "SNS Publish: subject must be printable ASCII, "
                                     "without line breaks, under 100 characters");
        if (n_attrs > SNS_ATTRIBUTES_MAX)
                return s3b_error_set(err, -EINVAL, "SNS Publish: more than %u attributes",
                                     SNS_ATTRIBUTES_MAX);
        total = strlen(message);
        for (size_t i = 0; i < n_attrs; i++) {
                if (!sns_attribute_name_is_valid(attrs[i].name) || !attrs[i].value || !*attrs[i].value)
                        return s3b_error_set(err, -EINVAL, "SNS Publish: invalid attribute #%zu", i + 1);
                /* SNS counts attribute names, types and values against the message size */
                total += strlen(attrs[i].name) + strlen("String") + strlen(attrs[i].value);
        }
        if (total > SNS_MESSAGE_MAX)
                return s3b_error_set(err, -E2BIG, "SNS Publish: message and attributes over 256 KiB");
        return 0;
}

/* POSTs a query-protocol form and parses the XML answer, whose root must be `response`. */
static int sns_call(AwsClient *c, const Buf *form, const char *action, const char *response,
                    XmlNode **ret, S3bError *err) {
        static const HttpHeader headers[] = {
                { "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
        };
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        XmlNode *root = NULL;
        int r;

        r = aws_client_send(c, &(AwsRequest) {
                        .service = AWS_SERVICE_SNS,
                        .method = "POST",
                        .path = "/",
                        .headers = headers,
                        .n_headers = ELEMENTSOF(headers),
                        .body = form->data,
                        .body_len = form->len,
                        .body_max = SNS_RESPONSE_MAX,
                }, &resp, err);
        if (r < 0)
                return s3b_error_prefix(err, "SNS %s", action);
        r = xml_parse(resp.body.data ? resp.body.data : "", resp.body.len, 100, &root, err);
        if (r < 0)
                return s3b_error_prefix(err, "SNS %s response", action);
        if (strcmp(root->name, response) != 0) {
                xml_free(root);
                return s3b_error_set(err, -EBADMSG, "SNS %s: unexpected response <%s>", action,
                                     root->name);
        }
        *ret = root;
        return 0;
}

int sns_publish(AwsClient *c, const char *topic_arn, const char *subject, const char *message,
                const SnsAttribute *attrs, size_t n_attrs, char **ret_message_id, S3bError *err) {
        _cleanup_(xml_freep) XmlNode *root = NULL;
        Buf form = BUF_INIT(SNS_FORM_MAX);
        const char *id;
        int r;

        r = check_args(topic_arn, subject, message, attrs, n_attrs, err);
        if (r < 0)
                return r;
        r = build_form(&form, topic_arn, subject, message, attrs, n_attrs);
        if (r < 0)
                s3b_error_set(err, r, "SNS Publish: cannot build the request");
        else
                r = sns_call(c, &form, "Publish", "PublishResponse", &root, err);
        buf_done(&form);
        if (r < 0)
                return r;
        id = xml_text(xml_path(root, "PublishResult/MessageId"));
        if (!*id)
                return s3b_error_set(err, -EBADMSG, "SNS Publish: response without a MessageId");
        if (ret_message_id && !(*ret_message_id = strdup(id)))
                return s3b_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

int sns_check_topic(AwsClient *c, const char *topic_arn, S3bError *err) {
        _cleanup_(xml_freep) XmlNode *root = NULL;
        Buf form = BUF_INIT(4096);
        int r;

        if (!topic_arn || strncmp(topic_arn, "arn:", 4) != 0)
                return s3b_error_set(err, -EINVAL, "SNS GetTopicAttributes: topic must be an ARN");
        if ((r = form_add(&form, "Action", "GetTopicAttributes")) < 0 ||
            (r = form_add(&form, "Version", "2010-03-31")) < 0 ||
            (r = form_add(&form, "TopicArn", topic_arn)) < 0)
                s3b_error_set(err, r, "SNS GetTopicAttributes: cannot build the request");
        else
                r = sns_call(c, &form, "GetTopicAttributes", "GetTopicAttributesResponse", &root, err);
        buf_done(&form);
        return r;
}
