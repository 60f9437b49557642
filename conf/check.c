/* Value checks behind the config loader's messages. Each rule cites where it comes from,
 * because the point is to refuse exactly what AWS would refuse, no more. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "conf/check.h"

static const char *why_set(char *why, const char *fmt, ...) _printf_(2, 3);
static const char *why_set(char *why, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, CHECK_WHY_MAX, fmt, ap);
        va_end(ap);
        return why;
}

static bool starts_with(const char *s, const char *p) {
        return strncmp(s, p, strlen(p)) == 0;
}

static bool ends_with(const char *s, const char *p) {
        size_t n = strlen(s), m = strlen(p);

        return n >= m && strcmp(s + n - m, p) == 0;
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool looks_like_ipv4(const char *s) {
        unsigned a, b, c, d;
        char end;

        return sscanf(s, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &end) == 4;
}

const char *check_bucket_name(const char *s, char why[static CHECK_WHY_MAX]) {
        static const char *const bad_prefixes[] = { "xn--", "sthree-", "amzn-s3-demo-" };
        static const char *const bad_suffixes[] = { "-s3alias", "--ol-s3", ".mrap", "--x-s3",
                                                    "--table-s3" };
        size_t n = strlen(s);

        if (n < 3 || n > 63)
                return why_set(why, "must be 3 to 63 characters long");
        for (const char *p = s; *p; p++)
                if (!is_lower_alnum(*p) && *p != '.' && *p != '-')
                        return why_set(why, "only lowercase letters, digits, '.' and '-' are allowed");
        if (!is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
                return why_set(why, "must begin and end with a letter or digit");
        if (strstr(s, ".."))
                return why_set(why, "must not contain two adjacent dots");
        if (looks_like_ipv4(s))
                return why_set(why, "must not look like an IP address");
        for (size_t i = 0; i < ELEMENTSOF(bad_prefixes); i++)
                if (starts_with(s, bad_prefixes[i]))
                        return why_set(why, "the prefix '%s' is reserved by AWS", bad_prefixes[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad_suffixes); i++)
                if (ends_with(s, bad_suffixes[i]))
                        return why_set(why, "the suffix '%s' is reserved by AWS", bad_suffixes[i]);
        return NULL;
}

static const char *check_key_part(const char *s, char *why) {
        if (strlen(s) > 1024)
                return why_set(why, "longer than 1024 bytes, the S3 key limit");
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return why_set(why, "control characters are not allowed");
        return NULL;
}

const char *check_key_prefix(const char *s, char why[static CHECK_WHY_MAX]) {
        if (s[0] == '/')
                return why_set(why, "S3 keys do not start with '/': write '%.64s'", s + 1);
        return check_key_part(s, why);
}

const char *check_key_suffix(const char *s, char why[static CHECK_WHY_MAX]) {
        return check_key_part(s, why);
}

static bool is_host_char(char c) {
        return isalnum((unsigned char) c) || c == '-' || c == '.';
}

/* host is [IPv6] or a DNS name / IPv4 address: no empty labels. */
static const char *check_host(const char *h, size_t n, char *why) {
        if (n == 0)
                return why_set(why, "the host is missing");
        if (h[0] == '[') {
                if (n < 3 || h[n - 1] != ']')
                        return why_set(why, "an IPv6 host must be written [ADDRESS]");
                for (size_t i = 1; i < n - 1; i++)
                        if (!isxdigit((unsigned char) h[i]) && h[i] != ':' && h[i] != '.')
                                return why_set(why, "invalid character in the IPv6 host");
                return NULL;
        }
        if (n > 253)
                return why_set(why, "the host name is too long");
        for (size_t i = 0; i < n; i++) {
                if (!is_host_char(h[i]))
                        return why_set(why, "invalid character '%c' in the host",
                                       isprint((unsigned char) h[i]) ? h[i] : '?');
                if (h[i] == '.' && (i == 0 || i == n - 1 || h[i + 1] == '.'))
                        return why_set(why, "empty label in the host name");
        }
        return NULL;
}

static const char *check_port(const char *p, size_t n, char *why) {
        unsigned long port = 0;

        if (n == 0 || n > 5)
                return why_set(why, "invalid port");
        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char) p[i]))
                        return why_set(why, "invalid port");
                port = port * 10 + (unsigned long) (p[i] - '0');
        }
        if (port < 1 || port > 65535)
                return why_set(why, "port must be 1..65535");
        return NULL;
}

/* Splits an http(s) URL; *ret_path points at the path ("" or "/..."). */
static const char *split_url(const char *s, const char **ret_path, char *why) {
        const char *auth, *end, *colon, *r;

        if (strncasecmp(s, "https://", 8) == 0)
                auth = s + 8;
        else if (strncasecmp(s, "http://", 7) == 0)
                auth = s + 7;
        else
                return why_set(why, "must start with https:// or http://");
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p <= 0x20 || *p == 0x7f)
                        return why_set(why, "spaces and control characters are not allowed");
        if (strpbrk(s, "?#"))
                return why_set(why, "a query string or fragment is not allowed");
        end = auth + strcspn(auth, "/");
        if (memchr(auth, '@', (size_t) (end - auth)))
                return why_set(why, "credentials in the URL are not allowed");
        colon = end;
        if (auth[0] == '[') {
                const char *rb = memchr(auth, ']', (size_t) (end - auth));
                colon = rb && rb + 1 < end && rb[1] == ':' ? rb + 1 : end;
        } else if (memchr(auth, ':', (size_t) (end - auth)))
                colon = memchr(auth, ':', (size_t) (end - auth));
        r = check_host(auth, (size_t) (colon - auth), why);
        if (!r && colon < end)
                r = check_port(colon + 1, (size_t) (end - colon - 1), why);
        if (r)
                return r;
        *ret_path = end;
        return NULL;
}

const char *check_endpoint_url(const char *s, char why[static CHECK_WHY_MAX]) {
        const char *path;

        return split_url(s, &path, why);
}

static bool is_account_id(const char *s, size_t n) {
        if (n != 12)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isdigit((unsigned char) s[i]))
                        return false;
        return true;
}

/* SQS queue names: 1..80 of [A-Za-z0-9_-], FIFO queues end in ".fifo" (CreateQueue). */
static bool is_queue_or_topic_name(const char *s, size_t n, size_t max) {
        if (n > 5 && strncmp(s + n - 5, ".fifo", 5) == 0)
                n -= 5;
        if (n < 1 || n > max)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '-' && s[i] != '_')
                        return false;
        return true;
}

const char *check_queue_url(const char *s, char why[static CHECK_WHY_MAX]) {
        const char *path, *r, *name;

        r = split_url(s, &path, why);
        if (r)
                return r;
        if (path[0] != '/' || !(name = strchr(path + 1, '/')) ||
            !is_account_id(path + 1, (size_t) (name - path - 1)))
                return why_set(why, "the path must be /ACCOUNT-ID/QUEUE-NAME");
        name++;
        if (!is_queue_or_topic_name(name, strlen(name), 80))
                return why_set(why, "invalid queue name (1 to 80 of A-Z a-z 0-9 _ -, optional .fifo)");
        return NULL;
}

const char *check_region(const char *s, char why[static CHECK_WHY_MAX]) {
        size_t n = strlen(s), i = 0, parts = 0;

        /* letters-and-dashes groups then a number: "eu-west-1", "us-gov-east-1" */
        while (i < n) {
                size_t start = i;

                while (i < n && s[i] >= 'a' && s[i] <= 'z')
                        i++;
                if (i == start || i >= n || s[i] != '-')
                        break;
                i++;
                parts++;
        }
        if (parts < 2 || i >= n || n > 32)
                return why_set(why, "expected a region like 'ap-south-1'");
        for (; i < n; i++)
                if (!isdigit((unsigned char) s[i]))
                        return why_set(why, "expected a region like 'ap-south-1'");
        return NULL;
}

const char *check_sns_topic_arn(const char *s, char why[static CHECK_WHY_MAX]) {
        static const char *const partitions[] = { "arn:aws:sns:", "arn:aws-cn:sns:",
                                                  "arn:aws-us-gov:sns:" };
        char region[33] = "";
        const char *p = NULL, *colon;

        for (size_t i = 0; i < ELEMENTSOF(partitions) && !p; i++)
                if (starts_with(s, partitions[i]))
                        p = s + strlen(partitions[i]);
        if (!p)
                return why_set(why, "must start with arn:aws:sns:, arn:aws-cn:sns: or arn:aws-us-gov:sns:");
        colon = strchr(p, ':');
        if (!colon || colon == p || (size_t) (colon - p) >= sizeof(region))
                return why_set(why, "expected arn:PARTITION:sns:REGION:ACCOUNT-ID:TOPIC");
        memcpy(region, p, (size_t) (colon - p));
        if (check_region(region, why))
                return why_set(why, "invalid region '%s'", region);
        p = colon + 1;
        colon = strchr(p, ':');
        if (!colon || !is_account_id(p, (size_t) (colon - p)))
                return why_set(why, "the account id must be 12 digits");
        p = colon + 1;
        if (!is_queue_or_topic_name(p, strlen(p), 256))
                return why_set(why, "invalid topic name (1 to 256 of A-Z a-z 0-9 _ -, optional .fifo)");
        return NULL;
}

static bool copy_region(const char *s, size_t n, char region[static 33]) {
        char why[CHECK_WHY_MAX];

        if (n == 0 || n > 32)
                return false;
        memcpy(region, s, n);
        region[n] = '\0';
        return !check_region(region, why);
}

bool check_queue_url_region(const char *url, char region[static 33]) {
        const char *host, *dot;
        size_t n;

        if (strncasecmp(url, "https://sqs.", 12) == 0)
                host = url + 12;
        else if (strncasecmp(url, "http://sqs.", 11) == 0)
                host = url + 11;
        else
                return false;
        dot = strchr(host, '.');
        n = strcspn(host, "/:");
        if (!dot || (size_t) (dot - host) >= n)
                return false;
        if (strncmp(dot, ".amazonaws.com", 14) != 0 || (dot[14] != '/' && dot[14] != ':' && dot[14] != '\0' &&
                                                         strncmp(dot + 14, ".cn", 3) != 0))
                return false;
        return copy_region(host, (size_t) (dot - host), region);
}

bool check_arn_region(const char *arn, char region[static 33]) {
        const char *p = arn;

        /* arn:PARTITION:SERVICE:REGION:… */
        for (int i = 0; i < 3; i++) {
                p = strchr(p, ':');
                if (!p)
                        return false;
                p++;
        }
        return copy_region(p, strcspn(p, ":"), region);
}

static bool is_name_char(char c) {
        return isalnum((unsigned char) c) || c == '_' || c == '-' || c == '.';
}

static const char *check_name(const char *s, size_t min, size_t max, char *why) {
        size_t n = strlen(s);

        if (n < min || n > max)
                return why_set(why, "must be %zu to %zu characters long", min, max);
        for (size_t i = 0; i < n; i++)
                if (!is_name_char(s[i]))
                        return why_set(why, "only letters, digits, '_', '-' and '.' are allowed");
        return NULL;
}

const char *check_table_name(const char *s, char why[static CHECK_WHY_MAX]) {
        return check_name(s, 3, 255, why);
}

const char *check_pipeline_name(const char *s, char why[static CHECK_WHY_MAX]) {
        return check_name(s, 1, 64, why);
}

size_t check_edit_distance(const char *a, const char *b, size_t cap) {
        size_t n = strlen(a), m = strlen(b), row[65];

        if (n > 64 || m > 64 || (n > m ? n - m : m - n) > cap)
                return cap + 1;
        for (size_t j = 0; j <= m; j++)
                row[j] = j;
        for (size_t i = 1; i <= n; i++) {
                size_t diag = row[0], best;

                row[0] = i;
                best = row[0];
                for (size_t j = 1; j <= m; j++) {
                        size_t up = row[j];
                        size_t cost = tolower((unsigned char) a[i - 1]) !=
                                      tolower((unsigned char) b[j - 1]);

                        row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + cost);
                        diag = up;
                        best = MIN(best, row[j]);
                }
                if (best > cap)
                        return cap + 1;
        }
        return MIN(row[m], cap + 1);
}

const char *check_suggest(const char *s, const char *const *candidates) {
        /* a third of the word, at least 2 (1 for tiny words): typos, not unrelated words */
        size_t n = strlen(s), cap = n <= 3 ? 1 : MAX((size_t) 2, n / 3), best = cap + 1;
        const char *found = NULL;

        for (size_t i = 0; candidates[i]; i++) {
                size_t d = check_edit_distance(s, candidates[i], cap);

                /* "validate" for "validate_first": a cut-short word is a typo too */
                if (d > cap && n >= 4 && strncasecmp(candidates[i], s, n) == 0)
                        d = cap;

                if (d < best) {
                        best = d;
                        found = candidates[i];
                }
        }
        return found;
}
