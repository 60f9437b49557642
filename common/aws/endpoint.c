/* Endpoint resolution and S3 addressing.
 *
 * Endpoint URLs come from configuration and the environment, so they are parsed strictly: a
 * typo must fail at startup, not turn into requests to a surprising host. Nothing here does
 * DNS; "local" is decided from the spelling of the host. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/endpoint.h"

static const char *const service_names[_AWS_SERVICE_MAX] = {
        [AWS_SERVICE_SQS] = "sqs",
        [AWS_SERVICE_S3] = "s3",
        [AWS_SERVICE_DYNAMODB] = "dynamodb",
        [AWS_SERVICE_SNS] = "sns",
};

/* The suffix of AWS_ENDPOINT_URL_<SERVICE>: the service id upper-cased, spaces as '_'. */
static const char *const service_env_names[_AWS_SERVICE_MAX] = {
        [AWS_SERVICE_SQS] = "AWS_ENDPOINT_URL_SQS",
        [AWS_SERVICE_S3] = "AWS_ENDPOINT_URL_S3",
        [AWS_SERVICE_DYNAMODB] = "AWS_ENDPOINT_URL_DYNAMODB",
        [AWS_SERVICE_SNS] = "AWS_ENDPOINT_URL_SNS",
};

const char *aws_service_name(AwsService s) {
        if ((unsigned) s >= _AWS_SERVICE_MAX)
                return "unknown";
        return service_names[s];
}

static bool host_char_ok(char c) {
        return isalnum((unsigned char) c) || c == '-' || c == '.' || c == '_';
}

static int parse_port(const char *s, size_t n, unsigned *ret) {
        unsigned v = 0;

        if (n == 0 || n > 5)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char) s[i]))
                        return -EINVAL;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        if (v == 0 || v > 65535)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* host[:port] or [v6][:port], lower-cased into e->host. */
static int parse_authority(const char *s, size_t n, AwsEndpoint *e) {
        const char *colon = NULL;
        size_t hlen;

        if (n == 0 || memchr(s, '@', n))
                return -EINVAL;         /* user info has no business in an endpoint */
        if (s[0] == '[') {
                const char *close = memchr(s, ']', n);
                char v6[INET6_ADDRSTRLEN];
                struct in6_addr a;

                if (!close || (size_t) (close - s) - 1 >= sizeof(v6))
                        return -EINVAL;
                memcpy(v6, s + 1, (size_t) (close - s) - 1);
                v6[close - s - 1] = '\0';
                if (inet_pton(AF_INET6, v6, &a) != 1)
                        return -EINVAL;
                hlen = (size_t) (close - s) + 1;
                if (hlen < n) {
                        if (s[hlen] != ':')
                                return -EINVAL;
                        colon = s + hlen;
                }
        } else {
                colon = memchr(s, ':', n);
                hlen = colon ? (size_t) (colon - s) : n;
                if (hlen == 0)
                        return -EINVAL;
                for (size_t i = 0; i < hlen; i++)
                        if (!host_char_ok(s[i]))
                                return -EINVAL;
        }
        if (hlen >= sizeof(e->host))
                return -EINVAL;
        for (size_t i = 0; i < hlen; i++)
                e->host[i] = (char) tolower((unsigned char) s[i]);
        e->host[hlen] = '\0';
        e->port = 0;
        if (colon && parse_port(colon + 1, n - (size_t) (colon + 1 - s), &e->port) < 0)
                return -EINVAL;
        return 0;
}

int aws_endpoint_parse(const char *url, bool keep_path, AwsEndpoint *ret, S3bError *err) {
        AwsEndpoint e = { .custom = true };
        const char *p, *auth_end;
        size_t plen;

        if (!url)
                return s3b_error_set(err, -EINVAL, "endpoint URL missing");
        if (strncasecmp(url, "https://", 8) == 0) {
                e.https = true;
                p = url + 8;
        } else if (strncasecmp(url, "http://", 7) == 0) {
                p = url + 7;
        } else
                return s3b_error_set(err, -EINVAL, "endpoint URL must start with http:// or https://");

        auth_end = p + strcspn(p, "/?#");
        if (parse_authority(p, (size_t) (auth_end - p), &e) < 0)
                return s3b_error_set(err, -EINVAL, "endpoint URL has an invalid host or port");
        if (strpbrk(auth_end, "?#"))
                return s3b_error_set(err, -EINVAL, "endpoint URL must not have a query or fragment");

        plen = strlen(auth_end);
        while (plen > 0 && auth_end[plen - 1] == '/')
                plen--;
        if (keep_path) {
                if (plen >= sizeof(e.path))
                        return s3b_error_set(err, -EINVAL, "endpoint URL path too long");
                for (size_t i = 0; i < plen; i++)
                        if ((unsigned char) auth_end[i] <= ' ' || auth_end[i] == 0x7f)
                                return s3b_error_set(err, -EINVAL, "endpoint URL path has a space or control character");
                memcpy(e.path, auth_end, plen);
                e.path[plen] = '\0';
        }
        *ret = e;
        return 0;
}

static bool has_prefix(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

const char *aws_partition_dns_suffix(const char *region) {
        if (!region)
                return "amazonaws.com";
        if (has_prefix(region, "cn-"))
                return "amazonaws.com.cn";
        if (has_prefix(region, "us-isob-"))
                return "sc2s.sgov.gov";
        if (has_prefix(region, "us-iso-"))
                return "c2s.ic.gov";
        return "amazonaws.com";         /* aws and aws-us-gov */
}

bool aws_region_is_valid(const char *region) {
        size_t n;

        if (!region)
                return false;
        n = strlen(region);
        if (n == 0 || n > 63 || region[0] == '-' || region[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(islower((unsigned char) region[i]) || isdigit((unsigned char) region[i]) ||
                      region[i] == '-'))
                        return false;
        return true;
}

int aws_endpoint_default(AwsService s, const char *region, AwsEndpoint *ret, S3bError *err) {
        AwsEndpoint e = { .https = true };
        int n;

        if ((unsigned) s >= _AWS_SERVICE_MAX)
                return s3b_error_set(err, -EINVAL, "unknown service");
        if (!aws_region_is_valid(region))
                return s3b_error_set(err, -EINVAL, "invalid region \"%s\"", region ? region : "");
        n = snprintf(e.host, sizeof(e.host), "%s.%s.%s", service_names[s], region,
                     aws_partition_dns_suffix(region));
        if (n < 0 || (size_t) n >= sizeof(e.host))
                return s3b_error_set(err, -EINVAL, "region name too long");
        *ret = e;
        return 0;
}

static bool env_true(const char *v) {
        return v && strcasecmp(v, "true") == 0;
}

static const char *env_get(const AwsEnv *env, const char *name) {
        const char *v = env && env->get ? env->get(env->userdata, name) : NULL;

        return v && *v ? v : NULL;     /* the SDKs treat an empty variable as unset */
}

int aws_endpoint_resolve(AwsService s, const char *region, const char *configured,
                         const AwsEnv *env, AwsEndpoint *ret, S3bError *err) {
        const char *url = NULL, *source = "configured endpoint";
        int r;

        if ((unsigned) s >= _AWS_SERVICE_MAX)
                return s3b_error_set(err, -EINVAL, "unknown service");
        if (configured && *configured)
                url = configured;
        else if (!env_true(env_get(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))) {
                source = service_env_names[s];
                url = env_get(env, source);
                if (!url) {
                        source = "AWS_ENDPOINT_URL";
                        url = env_get(env, source);
                }
        }
        if (!url)
                return aws_endpoint_default(s, region, ret, err);

        r = aws_endpoint_parse(url, true, ret, err);
        if (r < 0)
                return s3b_error_prefix(err, "%s for %s", source, service_names[s]);
        return 0;
}

static bool is_aws_suffix(const char *s) {
        static const char *const suffixes[] = {
                "amazonaws.com", "amazonaws.com.cn", "c2s.ic.gov", "sc2s.sgov.gov",
        };

        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (strcmp(s, suffixes[i]) == 0)
                        return true;
        return false;
}

static int copy_region(const char *start, size_t len, char *ret, size_t n) {
        char region[64];

        if (len == 0 || len >= sizeof(region) || len >= n)
                return -ENOENT;
        memcpy(region, start, len);
        region[len] = '\0';
        if (!aws_region_is_valid(region))
                return -ENOENT;
        memcpy(ret, region, len + 1);
        return 0;
}

int aws_endpoint_region_of_host(const char *host, const char *service, char *ret, size_t n) {
        size_t sl = strlen(service);
        const char *dot;

        if (!host)
                return -ENOENT;
        if (strcmp(host, "queue.amazonaws.com") == 0 && strcmp(service, "sqs") == 0)
                return copy_region("us-east-1", 9, ret, n);
        /* <service>.<region>.<suffix> */
        if (strncmp(host, service, sl) == 0 && host[sl] == '.') {
                const char *region = host + sl + 1;

                dot = strchr(region, '.');
                if (dot && is_aws_suffix(dot + 1))
                        return copy_region(region, (size_t) (dot - region), ret, n);
        }
        /* <region>.queue.<suffix> */
        dot = strstr(host, ".queue.");
        if (dot && strcmp(service, "sqs") == 0 && is_aws_suffix(dot + 7))
                return copy_region(host, (size_t) (dot - host), ret, n);
        return -ENOENT;
}

static bool is_ipv4(const char *s) {
        struct in_addr a;

        return inet_pton(AF_INET, s, &a) == 1;
}

bool aws_endpoint_host_is_local(const AwsEndpoint *e) {
        return e->host[0] == '[' || is_ipv4(e->host) || strcmp(e->host, "localhost") == 0;
}

bool s3_bucket_is_virtual_hostable(const char *bucket, bool https) {
        size_t n;

        if (!bucket)
                return false;
        n = strlen(bucket);
        if (n < 3 || n > 63)
                return false;
        if (!isalnum((unsigned char) bucket[0]) || !isalnum((unsigned char) bucket[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = bucket[i];

                if (c == '.') {
                        if (https || bucket[i + 1] == '.' || bucket[i + 1] == '-' ||
                            (i > 0 && bucket[i - 1] == '-'))
                                return false;
                } else if (!(islower((unsigned char) c) || isdigit((unsigned char) c) || c == '-'))
                        return false;
        }
        return !is_ipv4(bucket);
}

bool s3_use_path_style(const AwsEndpoint *e, const char *bucket, bool force_path_style) {
        return force_path_style || aws_endpoint_host_is_local(e) ||
               !s3_bucket_is_virtual_hostable(bucket, e->https);
}

int aws_endpoint_host_header(const AwsEndpoint *e, const char *host_prefix, char *buf, size_t n) {
        unsigned default_port = e->https ? 443 : 80;
        int k;

        if (e->port && e->port != default_port)
                k = snprintf(buf, n, "%s%s%s:%u", host_prefix ? host_prefix : "",
                             host_prefix ? "." : "", e->host, e->port);
        else
                k = snprintf(buf, n, "%s%s%s", host_prefix ? host_prefix : "",
                             host_prefix ? "." : "", e->host);
        if (k < 0 || (size_t) k >= n)
                return -ENAMETOOLONG;
        return 0;
}

int aws_endpoint_url(const AwsEndpoint *e, const char *host_prefix, const char *path,
                     const char *query, Buf *out) {
        char host[sizeof(e->host) + 72];
        int r;

        r = aws_endpoint_host_header(e, host_prefix, host, sizeof(host));
        if (r < 0)
                return r;
        return buf_printf(out, "%s://%s%s%s%s%s", e->https ? "https" : "http", host, e->path,
                          path && *path ? path : "/", query && *query ? "?" : "",
                          query && *query ? query : "");
}
