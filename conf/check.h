/* Checks for the names and addresses a configuration carries, each following the rule AWS
 * documents for it, so a typo is caught by --check-config instead of by the first request.
 *
 * Every function returns NULL when the value is acceptable, else a short human reason
 * written into why (for "FIELD: 'VALUE' is not a valid bucket name: REASON"). Pure
 * functions: no allocation, no state, usable from any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define CHECK_WHY_MAX 160

/* S3 general purpose bucket naming rules (S3 User Guide, "Bucket naming rules"). */
const char *check_bucket_name(const char *s, char why[static CHECK_WHY_MAX]);

/* An S3 key prefix or suffix: ≤ 1024 bytes (the key limit), no control characters; a prefix
 * must not start with '/', which S3 keys from event notifications never do. */
const char *check_key_prefix(const char *s, char why[static CHECK_WHY_MAX]);
const char *check_key_suffix(const char *s, char why[static CHECK_WHY_MAX]);

/* http(s)://host[:port][/path], no credentials, query or fragment. */
const char *check_endpoint_url(const char *s, char why[static CHECK_WHY_MAX]);

/* An SQS queue URL: an endpoint URL whose path is /ACCOUNT(12 digits)/QUEUE-NAME. */
const char *check_queue_url(const char *s, char why[static CHECK_WHY_MAX]);

/* arn:aws[-cn|-us-gov]:sns:REGION:ACCOUNT:TOPIC */
const char *check_sns_topic_arn(const char *s, char why[static CHECK_WHY_MAX]);

/* "ap-south-1", "us-gov-west-1": letters-and-dashes then a number. */
const char *check_region(const char *s, char why[static CHECK_WHY_MAX]);

/* The region an AWS queue URL (https://sqs.REGION.amazonaws.com[.cn]/…) or an ARN names,
 * written into region (≥ 33 bytes); false when it names none (a local server's URL). */
bool check_queue_url_region(const char *url, char region[static 33]);
bool check_arn_region(const char *arn, char region[static 33]);

/* DynamoDB table name: 3..255 of [A-Za-z0-9_.-]. */
const char *check_table_name(const char *s, char why[static CHECK_WHY_MAX]);

/* A pipeline name: 1..64 of [A-Za-z0-9_.-], since it is used in logs and metric labels. */
const char *check_pipeline_name(const char *s, char why[static CHECK_WHY_MAX]);

/* Case-insensitive edit distance, capped: returns cap + 1 when the distance exceeds cap. */
size_t check_edit_distance(const char *a, const char *b, size_t cap);

/* The candidate closest to s if it is close enough to be a likely typo, else NULL. */
const char *check_suggest(const char *s, const char *const *candidates);
