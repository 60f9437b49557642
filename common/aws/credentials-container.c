/* Container credentials (ECS task roles, EKS Pod Identity) and the request helper the
 * metadata providers share.
 *
 * FULL_URI is restricted as the SDKs restrict it: https anywhere, plain http only to a loopback
 * address or to the ECS/EKS link-local agents, so that a hostile environment variable cannot
 * make us send the authorization token across the network in clear. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "common/aws/credentials-provider.h"

#define TOKEN_FILE_MAX 16384

int aws_metadata_request(HttpClient *http, const AwsMetadataOptions *o, const char *method,
                         const char *url, const HttpHeader *headers, size_t n_headers,
                         HttpResponse *resp, S3bError *err) {
        HttpRequest req = {
                .method = method,
                .url = url,
                .headers = headers,
                .n_headers = n_headers,
                .body_max = AWS_METADATA_BODY_MAX,
                .timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : 1000,
        };
        int attempts = o && o->attempts > 0 ? o->attempts : 2, r = -EIO;

        for (int i = 0; i < attempts; i++) {
                s3b_error_clear(err);
                r = http_client_send(http, &req, resp, err);
                /* retry what may pass on a second try: the transport, and 5xx */
                if (r >= 0 && resp->status < 500)
                        return 0;
                if (r >= 0)
                        r = s3b_error_set(err, -EIO, "%s %.*s: HTTP %ld", method,
                                          (int) MIN(strcspn(url, "?"), (size_t) 200), url,
                                          resp->status);
                if (r == -EINVAL || r == -ENOMEM || r == -EPROTO)
                        break;
        }
        return r;
}

static bool host_is_allowed_http(const char *host, size_t n) {
        static const char *const allowed[] = {
                "localhost", "[::1]", "169.254.170.2", "169.254.170.23", "[fd00:ec2::23]",
        };

        for (size_t i = 0; i < ELEMENTSOF(allowed); i++)
                if (n == strlen(allowed[i]) && strncasecmp(host, allowed[i], n) == 0)
                        return true;
        /* 127.0.0.0/8, dotted quad only */
        if (n >= 9 && strncmp(host, "127.", 4) == 0) {
                int dots = 0;

                for (size_t i = 4; i < n; i++) {
                        if (host[i] == '.')
                                dots++;
                        else if (host[i] < '0' || host[i] > '9')
                                return false;
                }
                return dots == 2;
        }
        return false;
}

/* Accepts https://anything and http://allowed-host[:port][/…]. */
static int check_full_uri(const char *uri) {
        const char *host, *end;

        if (strncasecmp(uri, "https://", 8) == 0)
                return uri[8] ? 0 : -EINVAL;
        if (strncasecmp(uri, "http://", 7) != 0)
                return -EINVAL;
        host = uri + 7;
        if (strpbrk(host, "@\r\n "))
                return -EINVAL;   /* userinfo could disguise the real host */
        if (*host == '[') {
                end = strchr(host, ']');
                if (!end)
                        return -EINVAL;
                end++;
        } else {
                end = host + strcspn(host, ":/?#");
        }
        if (*end && *end != ':' && *end != '/' && *end != '?')
                return -EINVAL;
        return host_is_allowed_http(host, (size_t) (end - host)) ? 0 : -EINVAL;
}

static int read_token_file(const char *path, char **ret, S3bError *err) {
        _cleanup_(aws_secret_freep) char *buf = NULL;
        size_t n;
        FILE *f;

        buf = calloc(1, TOKEN_FILE_MAX + 1);
        if (!buf)
                return s3b_error_set(err, -ENOMEM, "container credentials: out of memory");
        f = fopen(path, "re");
        if (!f)
                return s3b_error_set(err, -errno, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
                                     path, strerror(errno));
        n = fread(buf, 1, TOKEN_FILE_MAX + 1, f);
        fclose(f);
        if (n > TOKEN_FILE_MAX)
                return s3b_error_set(err, -EFBIG, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is too large");
        /* the file is rotated by the agent and usually ends with a newline */
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
                buf[--n] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

/* The URL to ask: the base + RELATIVE_URI, or a FULL_URI we accept. */
static int container_url(const AwsEnv *env, const AwsMetadataOptions *o, char **ret,
                         S3bError *err) {
        const char *rel = aws_env_get(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
        const char *full = aws_env_get(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
        const char *base = o && o->container_base_url ? o->container_base_url
                                                       : AWS_CONTAINER_BASE_URL;

        if (!rel && !full)
                return s3b_error_set(err, -ENOENT, "no container credentials URI");
        if (rel && (rel[0] != '/' || strpbrk(rel, "\r\n @")))
                return s3b_error_set(err, -EINVAL,
                                     "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path");
        if (!rel && check_full_uri(full) < 0)
                return s3b_error_set(err, -EINVAL,
                                     "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or a loopback/link-local http URL");
        if (rel ? asprintf(ret, "%s%s", base, rel) < 0 : !(*ret = strdup(full)))
                return s3b_error_set(err, -ENOMEM, "container credentials: out of memory");
        return 0;
}

/* The authorization token, or NULL when none is configured. */
static int container_token(const AwsEnv *env, char **ret, S3bError *err) {
        const char *token_file = aws_env_get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        const char *token = aws_env_get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
        _cleanup_(aws_secret_freep) char *t = NULL;
        int r;

        /* the _FILE variant wins: it is the one the agent rotates */
        if (token_file) {
                r = read_token_file(token_file, &t, err);
                if (r < 0)
                        return r;
        } else if (token && !(t = strdup(token))) {
                return s3b_error_set(err, -ENOMEM, "container credentials: out of memory");
        }
        if (t && strpbrk(t, "\r\n"))
                return s3b_error_set(err, -EINVAL, "container authorization token contains a line break");
        *ret = TAKE_PTR(t);
        return 0;
}

int aws_credentials_from_container(const AwsEnv *env, HttpClient *http,
                                   const AwsMetadataOptions *o, AwsCredentials *ret,
                                   S3bError *err) {
        _cleanup_(http_response_done_wiped) HttpResponse resp = HTTP_RESPONSE_INIT;
        _cleanup_(aws_secret_freep) char *token = NULL;
        _cleanup_free_ char *url = NULL;
        HttpHeader auth = { "Authorization", NULL };
        int r;

        r = container_url(env, o, &url, err);
        if (r >= 0)
                r = container_token(env, &token, err);
        if (r < 0)
                return r;
        auth.value = token;
        r = aws_metadata_request(http, o, "GET", url, &auth, token ? 1 : 0, &resp, err);
        if (r < 0)
                return s3b_error_prefix(err, "container credentials");
        if (resp.status == 401 || resp.status == 403)
                return s3b_error_set(err, -EACCES, "container credentials: HTTP %ld (authorization refused)",
                                     resp.status);
        if (resp.status != 200)
                return s3b_error_set(err, -EIO, "container credentials: HTTP %ld", resp.status);
        return aws_credentials_parse_json(resp.body.data, resp.body.len, "container", ret, err);
}
