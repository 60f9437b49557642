/* The single providers behind AwsCredentialsChain, one file each (credentials-env.c,
 * credentials-profile.c, credentials-container.c, credentials-imds.c).
 *
 * Only the chain and the tests call these. Each returns 0 and fills *ret, -ENOENT when it is not
 * configured (the chain moves on; err says why, for the "nothing found" message), or another
 * negative errno when it is configured but failed (the chain stops). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/aws/credentials.h"
#include "common/aws/http.h"
#include "common/error.h"

#define AWS_CONTAINER_BASE_URL  "http://169.254.170.2"
#define AWS_IMDS_ENDPOINT       "http://169.254.169.254"
/* Largest credentials document / metadata answer we accept. */
#define AWS_METADATA_BODY_MAX   (64 * 1024)

typedef struct AwsMetadataOptions {
        long timeout_ms;                /* per attempt; 0: 1000 */
        int attempts;                   /* 0: 2 */
        const char *container_base_url; /* NULL: AWS_CONTAINER_BASE_URL */
} AwsMetadataOptions;

/* Copies s into dst[size]; -E2BIG instead of truncating a key (a cut key only fails later,
 * with a confusing SignatureDoesNotMatch). The caller sets the message. */
int aws_credentials_copy_field(char *dst, size_t size, const char *s);

/* Fills *c from the parts (token NULL or ""), -E2BIG (c wiped) when one does not fit. */
int aws_credentials_fill(AwsCredentials *c, const char *akid, const char *secret,
                         const char *token, int64_t expiration, const char *source,
                         S3bError *err);

/* AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN). Only one of the pair set:
 * -EINVAL. */
int aws_credentials_from_env(const AwsEnv *env, AwsCredentials *ret, S3bError *err);

/* aws_access_key_id / aws_secret_access_key / aws_session_token of the profile, from the
 * credentials file first, then the config file. profile NULL: AWS_PROFILE, else "default".
 * An explicitly named profile (argument or AWS_PROFILE) that exists in neither file: -EINVAL.
 * A profile that relies on role_arn, sso_*, credential_process or web identity: -EOPNOTSUPP. */
int aws_credentials_from_profile(const AwsEnv *env, const char *profile, AwsCredentials *ret,
                                 S3bError *err);

/* "region" of the profile in the config file (the CLI ignores a region in the credentials
 * file). -ENOENT when none. */
int aws_profile_region(const AwsEnv *env, const char *profile, char ret[AWS_REGION_MAX + 1],
                       S3bError *err);

/* One metadata request (IMDS, container), bounded by AWS_METADATA_BODY_MAX, with o->attempts
 * tries on transport errors and 5xx. 0 with any other status in resp->status. */
int aws_metadata_request(HttpClient *http, const AwsMetadataOptions *o, const char *method,
                         const char *url, const HttpHeader *headers, size_t n_headers,
                         HttpResponse *resp, S3bError *err);

/* Container credentials endpoint (ECS/EKS pod identity). FULL_URI must be https or point at a
 * loopback address (127.0.0.0/8, [::1], "localhost"), else -EINVAL, as the SDKs require. */
int aws_credentials_from_container(const AwsEnv *env, HttpClient *http,
                                   const AwsMetadataOptions *o, AwsCredentials *ret,
                                   S3bError *err);

/* IMDSv2 session: endpoint + the current session token, re-fetched when it expires or the
 * service answers 401. Not thread-safe (the chain serialises refreshes). */
typedef struct AwsImds AwsImds;

/* -ENOENT when AWS_EC2_METADATA_DISABLED is "true"; -EINVAL on a bad endpoint. */
int aws_imds_new(AwsImds **ret, const AwsEnv *env, const AwsMetadataOptions *o, S3bError *err);
AwsImds *aws_imds_free(AwsImds *m);
DEFINE_CLEANUP_FUNC(AwsImds *, aws_imds_free);

/* GET /latest/meta-data/iam/security-credentials/ → role, then …/ROLE → credentials.
 * -ENOENT when the instance has no role (404 on the role listing). */
int aws_imds_credentials(AwsImds *m, HttpClient *http, int64_t now, AwsCredentials *ret,
                         S3bError *err);

/* "region" of /latest/dynamic/instance-identity/document. */
int aws_imds_region(AwsImds *m, HttpClient *http, int64_t now, char ret[AWS_REGION_MAX + 1],
                    S3bError *err);

/* Parses the JSON both ECS and IMDS return: AccessKeyId, SecretAccessKey, Token, Expiration
 * (ISO 8601 UTC); IMDS also has Code, which must be "Success". -EBADMSG on anything else. */
int aws_credentials_parse_json(const char *json, size_t n, const char *source,
                               AwsCredentials *ret, S3bError *err);

/* "2026-11-29T13:21:30Z" (fractional seconds and a +00:00 offset accepted) → UTC seconds. */
int aws_parse_iso8601(const char *s, int64_t *ret);
