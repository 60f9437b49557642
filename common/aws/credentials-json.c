/* The credentials document ECS and IMDS both serve, and its ISO 8601 timestamps. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "common/aws/credentials-provider.h"

static int two(const char *s, int *ret) {
        if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
                return -EINVAL;
        *ret = (s[0] - '0') * 10 + (s[1] - '0');
        return 0;
}

int aws_parse_iso8601(const char *s, int64_t *ret) {
        struct tm tm = {};
        int y1, y2, mo, d, h, mi, sec, oh = 0, om = 0;
        const char *p;
        time_t t;

        if (!s || strlen(s) < 20)
                return -EINVAL;
        if (two(s, &y1) < 0 || two(s + 2, &y2) < 0 || s[4] != '-' || two(s + 5, &mo) < 0 ||
            s[7] != '-' || two(s + 8, &d) < 0 || (s[10] != 'T' && s[10] != 't') ||
            two(s + 11, &h) < 0 || s[13] != ':' || two(s + 14, &mi) < 0 || s[16] != ':' ||
            two(s + 17, &sec) < 0)
                return -EINVAL;
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
                return -EINVAL;
        p = s + 19;
        if (*p == '.') {
                do
                        p++;
                while (*p >= '0' && *p <= '9');
        }
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if ((*p == '+' || *p == '-') && two(p + 1, &oh) == 0 && p[3] == ':' &&
                   two(p + 4, &om) == 0) {
                int sign = *p == '+' ? 1 : -1;

                oh *= sign;
                om *= sign;
                p += 6;
        } else {
                return -EINVAL;
        }
        if (*p)
                return -EINVAL;
        tm.tm_year = y1 * 100 + y2 - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec;
        t = timegm(&tm);
        if (t == (time_t) -1)
                return -EINVAL;
        *ret = (int64_t) t - (int64_t) oh * 3600 - (int64_t) om * 60;
        return 0;
}

static const char *json_string(const cJSON *o, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

        return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* cJSON frees without wiping: clear the secret strings first. */
static void wipe_json_string(cJSON *o, const char *name) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

        if (cJSON_IsString(v))
                OPENSSL_cleanse(v->valuestring, strlen(v->valuestring));
}

/* Cleanup of a parsed credentials document: its secrets wiped, then freed. */
static void credentials_doc_freep(cJSON **doc) {
        if (!*doc)
                return;
        wipe_json_string(*doc, "SecretAccessKey");
        wipe_json_string(*doc, "Token");
        cJSON_Delete(*doc);
}

int aws_credentials_parse_json(const char *json, size_t n, const char *source,
                               AwsCredentials *ret, S3bError *err) {
        _cleanup_(credentials_doc_freep) cJSON *doc = cJSON_ParseWithLength(json, n);
        _cleanup_(aws_credentials_wipe) AwsCredentials c = {};
        const char *code, *akid, *secret, *token, *exp;
        int64_t expiration;
        int r;

        if (!cJSON_IsObject(doc))
                return s3b_error_set(err, -EBADMSG, "%s: credentials document is not a JSON object",
                                     source);
        /* IMDS: Code is "Success" or names why the role could not be assumed */
        code = json_string(doc, "Code");
        if (cJSON_GetObjectItemCaseSensitive(doc, "Code") && (!code || strcmp(code, "Success")))
                return s3b_error_set(err, -EACCES, "%s: credentials not available (Code %.64s)",
                                     source, code ? code : "?");
        akid = json_string(doc, "AccessKeyId");
        secret = json_string(doc, "SecretAccessKey");
        token = json_string(doc, "Token");
        exp = json_string(doc, "Expiration");
        if (!akid || !secret || !exp)
                return s3b_error_set(err, -EBADMSG,
                                     "%s: credentials document lacks AccessKeyId, SecretAccessKey or Expiration",
                                     source);
        if (aws_parse_iso8601(exp, &expiration) < 0)
                return s3b_error_set(err, -EBADMSG, "%s: bad Expiration \"%.40s\"", source, exp);
        r = aws_credentials_fill(&c, akid, secret, token, expiration, source, err);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}
