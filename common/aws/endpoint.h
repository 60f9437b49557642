/* Where a request goes: per-service endpoints and S3 bucket addressing.
 *
 * An endpoint is resolved once per service when the AwsContext is built, in this order (the
 * AWS SDKs' "service-specific endpoints" rules): the configured URL, AWS_ENDPOINT_URL_<SERVICE>,
 * AWS_ENDPOINT_URL, then the region's default https://<service>.<region>.<partition suffix>.
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips the two environment variables.
 * An AwsEndpoint is plain data (fixed-size strings), copied by value, never freed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/aws/credentials.h"      /* AwsEnv */
#include "common/buf.h"
#include "common/error.h"

typedef enum AwsService {
        AWS_SERVICE_SQS,
        AWS_SERVICE_S3,
        AWS_SERVICE_DYNAMODB,
        AWS_SERVICE_SNS,
        _AWS_SERVICE_MAX,
} AwsService;

/* The SigV4 signing name and endpoint prefix: "sqs", "s3", "dynamodb", "sns". */
const char *aws_service_name(AwsService s);

typedef struct AwsEndpoint {
        bool https;
        char host[256];         /* DNS name (lower-case) or IP literal, IPv6 in brackets */
        unsigned port;          /* 0 = the scheme's default */
        char path[256];         /* base path without a trailing '/', usually "" */
        bool custom;            /* from config or environment, not the partition default */
} AwsEndpoint;

/* "http[s]://host[:port][/path]" → endpoint. No user info, query or fragment. A path is kept
 * as the base path when keep_path, otherwise ignored (an SQS queue URL's path is not a base). */
int aws_endpoint_parse(const char *url, bool keep_path, AwsEndpoint *ret, S3bError *err);

/* DNS suffix of the region's partition: amazonaws.com, amazonaws.com.cn for cn-*, c2s.ic.gov /
 * sc2s.sgov.gov for the ISO partitions. us-gov-* uses amazonaws.com. */
const char *aws_partition_dns_suffix(const char *region);

/* A region name as AWS spells them: 1..63 of [a-z0-9-], no leading/trailing '-'. */
bool aws_region_is_valid(const char *region);

int aws_endpoint_default(AwsService s, const char *region, AwsEndpoint *ret, S3bError *err);

/* The resolution order above. configured may be NULL or ""; env NULL means no environment. */
int aws_endpoint_resolve(AwsService s, const char *region, const char *configured,
                         const AwsEnv *env, AwsEndpoint *ret, S3bError *err);

/* The region an AWS host names: "sqs.eu-west-1.amazonaws.com" and the legacy
 * "eu-west-1.queue.amazonaws.com" → "eu-west-1" (also under the cn and ISO suffixes); the
 * legacy "queue.amazonaws.com" → "us-east-1". -ENOENT for any other host (custom endpoints). */
int aws_endpoint_region_of_host(const char *host, const char *service, char *ret, size_t n);

/* IPv4/IPv6 literal or "localhost": no "bucket.<host>" name can exist there. A name under
 * localhost ("s3.localhost") is not: bucket.s3.localhost resolves to loopback (RFC 6761;
 * libcurl does so itself), so such an endpoint can serve virtual-host requests. */
bool aws_endpoint_host_is_local(const AwsEndpoint *e);

/* S3's rules for a bucket usable as a DNS label (3..63, [a-z0-9.-], no "..", not an IP);
 * under https a dot breaks the wildcard certificate, so dotted names are not hostable. */
bool s3_bucket_is_virtual_hostable(const char *bucket, bool https);

/* Path-style (https://host/bucket/key) when forced, when the endpoint is an IP or localhost,
 * or when the bucket is not virtual-hostable; otherwise virtual-host (bucket.host/key). */
bool s3_use_path_style(const AwsEndpoint *e, const char *bucket, bool force_path_style);

/* The Host header value: "[prefix.]host[:port]" with the port only when not the default. */
int aws_endpoint_host_header(const AwsEndpoint *e, const char *host_prefix, char *buf, size_t n);

/* Appends "scheme://[prefix.]host[:port]<base path><path>[?query]" to out. path starts with
 * '/' and is already URI-encoded; query is already encoded, NULL or "" for none. */
int aws_endpoint_url(const AwsEndpoint *e, const char *host_prefix, const char *path,
                     const char *query, Buf *out);
