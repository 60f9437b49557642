/* EC2 instance metadata, IMDSv2 only.
 *
 * IMDSv1 (a plain GET without a session token) is never tried: instances launched with
 * HttpTokens=required refuse it, and falling back would let anything that can make us send a
 * GET through a proxy read the role's credentials. The session token is asked for with the
 * maximum TTL (6 h) and kept until shortly before it expires or until IMDS answers 401 (stale
 * token, e.g. after a stop/start). Timeouts are the SDKs' (1 s, 2 attempts): off EC2 the link-
 * local address does not answer and the chain must give up quickly. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "common/aws/credentials-provider.h"
#include "common/cleanup.h"
#include "common/time-util.h"

#define IMDS_TOKEN_TTL_S        21600
#define IMDS_TOKEN_MAX          4096
#define IMDS_IPV6_ENDPOINT      "http://[fd00:ec2::254]"
#define ROLE_PATH               "/latest/meta-data/iam/security-credentials/"
#define ROLE_NAME_MAX           128

struct AwsImds {
        char *endpoint;                 /* no trailing '/' */
        AwsMetadataOptions o;
        char token[IMDS_TOKEN_MAX + 1];
        usec_t token_deadline;          /* CLOCK_MONOTONIC; 0: no token */
};

int aws_imds_new(AwsImds **ret, const AwsEnv *env, const AwsMetadataOptions *o, S3bError *err) {
        const char *disabled = aws_env_get(env, "AWS_EC2_METADATA_DISABLED");
        const char *ep = aws_env_get(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
        const char *mode = aws_env_get(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
        AwsImds *m;
        size_t n;

        if (disabled && strcasecmp(disabled, "true") == 0)
                return s3b_error_set(err, -ENOENT, "IMDS disabled by AWS_EC2_METADATA_DISABLED");
        if (ep && ((strncasecmp(ep, "http://", 7) != 0 && strncasecmp(ep, "https://", 8) != 0) ||
                   strpbrk(ep, "\r\n ?#")))
                return s3b_error_set(err, -EINVAL,
                                     "AWS_EC2_METADATA_SERVICE_ENDPOINT must be an http(s) URL");
        if (!ep)
                ep = mode && strcasecmp(mode, "IPv6") == 0 ? IMDS_IPV6_ENDPOINT : AWS_IMDS_ENDPOINT;
        m = calloc(1, sizeof(*m));
        if (!m || !(m->endpoint = strdup(ep))) {
                free(m);
                return s3b_error_set(err, -ENOMEM, "IMDS: out of memory");
        }
        n = strlen(m->endpoint);
        while (n > 0 && m->endpoint[n - 1] == '/')
                m->endpoint[--n] = '\0';
        if (o)
                m->o = *o;
        *ret = m;
        return 0;
}

AwsImds *aws_imds_free(AwsImds *m) {
        if (!m)
                return NULL;
        free(m->endpoint);
        OPENSSL_cleanse(m, sizeof(*m));
        free(m);
        return NULL;
}

static int fetch_token(AwsImds *m, HttpClient *http, S3bError *err) {
        const HttpHeader ttl = { "X-aws-ec2-metadata-token-ttl-seconds", "21600" };
        _cleanup_free_ char *url = NULL;
        _cleanup_(http_response_done_wiped) HttpResponse resp = HTTP_RESPONSE_INIT;
        const char *body;
        size_t n;
        int r;

        m->token_deadline = 0;
        if (asprintf(&url, "%s/latest/api/token", m->endpoint) < 0)
                return s3b_error_set(err, -ENOMEM, "IMDS: out of memory");
        r = aws_metadata_request(http, &m->o, "PUT", url, &ttl, 1, &resp, err);
        if (r < 0)
                return s3b_error_prefix(err, "IMDS session token");
        if (resp.status == 403)
                return s3b_error_set(err, -EACCES, "IMDS refused a session token (HTTP 403: IMDS disabled on the instance?)");
        if (resp.status != 200)
                return s3b_error_set(err, -EIO, "IMDS session token: HTTP %ld", resp.status);
        body = buf_str(&resp.body);
        n = resp.body.len;
        while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == '\r' || body[n - 1] == ' '))
                n--;
        if (n == 0 || n > IMDS_TOKEN_MAX || memchr(body, '\n', n) || memchr(body, '\r', n))
                return s3b_error_set(err, -EBADMSG, "IMDS session token: malformed answer");
        memcpy(m->token, body, n);
        m->token[n] = '\0';
        /* renew a minute early: a token that expires between our check and IMDS's is a 401 */
        m->token_deadline = now(CLOCK_MONOTONIC) + (IMDS_TOKEN_TTL_S - 60) * USEC_PER_SEC;
        return 0;
}

/* GET endpoint+path with the session token; a 401 means the token went stale: fetch a new
 * one and try once more. */
static int imds_get(AwsImds *m, HttpClient *http, const char *path, HttpResponse *resp,
                    S3bError *err) {
        _cleanup_free_ char *url = NULL;
        HttpHeader tok = { "X-aws-ec2-metadata-token", m->token };
        int r;

        if (asprintf(&url, "%s%s", m->endpoint, path) < 0)
                return s3b_error_set(err, -ENOMEM, "IMDS: out of memory");
        for (int pass = 0; pass < 2; pass++) {
                if (m->token_deadline == 0 || now(CLOCK_MONOTONIC) >= m->token_deadline) {
                        r = fetch_token(m, http, err);
                        if (r < 0)
                                return r;
                }
                r = aws_metadata_request(http, &m->o, "GET", url, &tok, 1, resp, err);
                if (r < 0)
                        return s3b_error_prefix(err, "IMDS");
                if (resp->status != 401)
                        return 0;
                m->token_deadline = 0;
        }
        return s3b_error_set(err, -EACCES, "IMDS answered 401 to a fresh session token");
}

int aws_imds_credentials(AwsImds *m, HttpClient *http, int64_t now, AwsCredentials *ret,
                         S3bError *err) {
        _cleanup_free_ char *path = NULL;
        char role[ROLE_NAME_MAX + 1];
        _cleanup_(http_response_done_wiped) HttpResponse resp = HTTP_RESPONSE_INIT;
        size_t n;
        int r;

        r = imds_get(m, http, ROLE_PATH, &resp, err);
        if (r < 0)
                return r;
        if (resp.status == 404)
                return s3b_error_set(err, -ENOENT, "IMDS: the instance has no IAM role");
        if (resp.status != 200)
                return s3b_error_set(err, -EIO, "IMDS role listing: HTTP %ld", resp.status);
        /* one role per instance profile; take the first line */
        n = strcspn(buf_str(&resp.body), "\r\n");
        if (n == 0 || n > ROLE_NAME_MAX || memchr(resp.body.data, '/', n) ||
            memchr(resp.body.data, '?', n) || memchr(resp.body.data, ' ', n))
                return s3b_error_set(err, -EBADMSG, "IMDS role listing: malformed role name");
        memcpy(role, resp.body.data, n);
        role[n] = '\0';
        if (asprintf(&path, ROLE_PATH "%s", role) < 0)
                return s3b_error_set(err, -ENOMEM, "IMDS: out of memory");
        r = imds_get(m, http, path, &resp, err);
        if (r < 0)
                return r;
        if (resp.status != 200)
                return s3b_error_set(err, resp.status == 404 ? -ENOENT : -EIO,
                                     "IMDS credentials of role %s: HTTP %ld", role, resp.status);
        return aws_credentials_parse_json(resp.body.data, resp.body.len, "imds", ret, err);
}

int aws_imds_region(AwsImds *m, HttpClient *http, int64_t now, char ret[AWS_REGION_MAX + 1],
                    S3bError *err) {
        _cleanup_(http_response_done) HttpResponse resp = HTTP_RESPONSE_INIT;
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        const cJSON *region;
        int r;

        r = imds_get(m, http, "/latest/dynamic/instance-identity/document", &resp, err);
        if (r < 0)
                return r;
        if (resp.status != 200)
                return s3b_error_set(err, -EIO, "IMDS identity document: HTTP %ld", resp.status);
        doc = cJSON_ParseWithLength(resp.body.data, resp.body.len);
        region = cJSON_GetObjectItemCaseSensitive(doc, "region");
        if (!cJSON_IsString(region) || !region->valuestring[0] ||
            strlen(region->valuestring) > AWS_REGION_MAX)
                return s3b_error_set(err, -EBADMSG, "IMDS identity document has no region");
        memcpy(ret, region->valuestring, strlen(region->valuestring) + 1);
        return 0;
}
