/* Amazon SNS over the query protocol (form-encoded POST, XML response): Publish, and
 * GetTopicAttributes as an existence check. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/aws/client.h"

/* Limits of Publish (SNS API Reference, "Publish"; "Amazon SNS message attributes"). */
#define SNS_SUBJECT_MAX 99u             /* "must be less than 100 characters" */
#define SNS_MESSAGE_MAX (256u * 1024)   /* bytes, including attributes */
#define SNS_ATTRIBUTES_MAX 10u
#define SNS_ATTRIBUTE_NAME_MAX 256u

/* A message attribute of DataType String. */
typedef struct SnsAttribute {
        const char *name;
        const char *value;
} SnsAttribute;

/* Real SNS rejects what local servers accept; we check it here so a bad subject fails the
 * same way in tests as in production: ASCII printable, not starting with a space, no line
 * break or control character, at most 99 characters. NULL or "" means no subject. */
bool sns_subject_is_valid(const char *subject);
/* 1..256 of [A-Za-z0-9_.-], no leading/trailing or double '.', no "AWS."/"Amazon." prefix. */
bool sns_attribute_name_is_valid(const char *name);

/* Publishes message (non-empty UTF-8, ≤ 256 KiB with the attributes) to topic_arn with an
 * optional subject and up to 10 String attributes. On success *ret_message_id (if non-NULL)
 * gets SNS's MessageId (caller frees). Errors: -EINVAL (validation, ours or SNS's), -ENOENT
 * (topic not found), -EACCES, the shared path's others. */
int sns_publish(AwsClient *c, const char *topic_arn, const char *subject, const char *message,
                const SnsAttribute *attrs, size_t n_attrs, char **ret_message_id, S3bError *err);

/* GetTopicAttributes, to learn that the topic exists and is ours to use (startup and reload
 * checks). 0, or -ENOENT (NotFound), -EACCES (AuthorizationError), the shared path's others. */
int sns_check_topic(AwsClient *c, const char *topic_arn, S3bError *err);
