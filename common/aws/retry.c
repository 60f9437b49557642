/* Retry classification and backoff. The tables follow the AWS SDKs' standard retry mode
 * (docs: "Retry behavior", AWS SDKs and Tools Reference Guide). */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/aws/awserror.h"
#include "common/aws/retry.h"
#include "common/time-util.h"

static const char *const transient_codes[] = {
        "RequestTimeout",
        "RequestTimeoutException",
        "IDPCommunicationError",
        "InternalError",
        /* S3: "a concurrent … request … succeeded before the conditional request": retry
         * (S3 User Guide, "How to perform conditional deletes" / conditional writes). */
        "ConditionalRequestConflict",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        AWS_CODE_CRC32_MISMATCH,
};

static const char *const skew_codes[] = {
        "RequestTimeTooSkewed",
        "RequestExpired",
        "RequestInTheFuture",
};

static bool in_list(const char *s, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(s, list[i]) == 0)
                        return true;
        return false;
}

bool aws_retry_transport_errno(int code) {
        switch (code) {
        case -ECONNREFUSED:
        case -ECONNRESET:
        case -ECONNABORTED:
        case -ETIMEDOUT:
        case -EHOSTUNREACH:
        case -ENETUNREACH:
        case -ENETDOWN:
        case -EPIPE:
        case -EHOSTDOWN:
                return true;
        default:
                return false;
        }
}

/* SigV4 rejections that mean "your clock is wrong" rather than "your key is wrong". AWS
 * words them differently per service: DynamoDB's InvalidSignatureException says "Signature
 * expired: … is now earlier than …", S3's SignatureDoesNotMatch can too. */
static bool is_skew(const S3bError *e) {
        if (in_list(e->aws_code, skew_codes, ELEMENTSOF(skew_codes)))
                return true;
        if (strcmp(e->aws_code, "InvalidSignatureException") == 0 ||
            strcmp(e->aws_code, "SignatureDoesNotMatch") == 0 ||
            strcmp(e->aws_code, "AuthFailure") == 0)
                return strstr(e->message, "Signature expired") ||
                       strstr(e->message, "Signature not yet current") ||
                       strstr(e->message, "skew");
        return false;
}

AwsRetryKind aws_retry_classify(const S3bError *err) {
        if (!err || err->code >= 0)
                return AWS_RETRY_NO;
        /* no AWS error code: the transport failed, possibly after the status line arrived */
        if (!err->aws_code[0] && aws_retry_transport_errno(err->code))
                return AWS_RETRY_TRANSIENT;
        if (err->http_status == 0)
                return AWS_RETRY_NO;
        if (is_skew(err))
                return AWS_RETRY_CLOCK_SKEW;
        if (err->http_status == 429 || aws_error_code_is_throttling(err->aws_code))
                return AWS_RETRY_THROTTLE;
        if (in_list(err->aws_code, transient_codes, ELEMENTSOF(transient_codes)))
                return AWS_RETRY_TRANSIENT;
        switch (err->http_status) {
        case 500:
        case 502:
        case 503:
        case 504:
                return AWS_RETRY_TRANSIENT;
        default:
                return AWS_RETRY_NO;
        }
}

/* splitmix64: tiny, full period, good enough to decorrelate retries (not for secrets). */
uint64_t aws_rng_next(AwsRng *r) {
        uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

void aws_rng_seed(AwsRng *r, uint64_t seed) {
        if (seed == 0 && getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
                /* no entropy yet (early boot): time and address still differ per thread */
                seed = now(CLOCK_MONOTONIC) ^ (uint64_t) (uintptr_t) r;
        r->state = seed;
}

uint64_t aws_rng_uniform(AwsRng *r, uint64_t bound) {
        uint64_t range, limit, x;

        if (bound == UINT64_MAX)
                return aws_rng_next(r);
        range = bound + 1;
        /* rejection sampling: no modulo bias */
        limit = UINT64_MAX - UINT64_MAX % range;
        do
                x = aws_rng_next(r);
        while (x >= limit);
        return x % range;
}

uint64_t aws_retry_backoff_ms(AwsRng *r, unsigned retry, unsigned base_ms, unsigned cap_ms) {
        uint64_t ceiling;

        base_ms = base_ms ? base_ms : AWS_RETRY_BASE_MS_DEFAULT;
        cap_ms = cap_ms ? cap_ms : AWS_RETRY_CAP_MS_DEFAULT;
        if (retry == 0)
                retry = 1;
        ceiling = retry - 1 >= 32 ? cap_ms : (uint64_t) base_ms << (retry - 1);
        if (ceiling > cap_ms)
                ceiling = cap_ms;
        return aws_rng_uniform(r, ceiling);
}

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static int parse_month(const char *s) {
        for (int i = 0; i < 12; i++)
                if (strncasecmp(s, months[i], 3) == 0)
                        return i;
        return -1;
}

/* Reads exactly `width` digits. */
static bool digits(const char **p, int width, int *ret) {
        int v = 0;

        for (int i = 0; i < width; i++) {
                if (!isdigit((unsigned char) (*p)[i]))
                        return false;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += width;
        *ret = v;
        return true;
}

static bool expect(const char **p, char c) {
        if (**p != c)
                return false;
        (*p)++;
        return true;
}

static bool parse_hms(const char **p, struct tm *tm, bool colons) {
        return digits(p, 2, &tm->tm_hour) && (!colons || expect(p, ':')) &&
               digits(p, 2, &tm->tm_min) && (!colons || expect(p, ':')) &&
               digits(p, 2, &tm->tm_sec);
}

static bool tm_valid(const struct tm *tm) {
        return tm->tm_mon >= 0 && tm->tm_mon < 12 && tm->tm_mday >= 1 && tm->tm_mday <= 31 &&
               tm->tm_hour < 24 && tm->tm_min < 60 && tm->tm_sec <= 60 && tm->tm_year >= 70;
}

static bool parse_iso8601(const char *s, struct tm *tm) {
        const char *p = s;
        bool ext = strchr(s, '-') != NULL;

        if (!digits(&p, 4, &tm->tm_year) || (ext && !expect(&p, '-')) ||
            !digits(&p, 2, &tm->tm_mon) || (ext && !expect(&p, '-')) ||
            !digits(&p, 2, &tm->tm_mday) || !expect(&p, 'T') || !parse_hms(&p, tm, ext))
                return false;
        if (*p == '.') {
                p++;
                while (isdigit((unsigned char) *p))
                        p++;
        }
        tm->tm_year -= 1900;
        tm->tm_mon -= 1;
        return strcmp(p, "Z") == 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994" */
static bool parse_http(const char *s, struct tm *tm) {
        const char *p = strchr(s, ',');

        if (p) {
                p++;
                while (*p == ' ')
                        p++;
                if (!digits(&p, 2, &tm->tm_mday))
                        return false;
                if (*p != ' ' && *p != '-')
                        return false;
                p++;
                if ((tm->tm_mon = parse_month(p)) < 0)
                        return false;
                p += 3;
                if (*p != ' ' && *p != '-')
                        return false;
                p++;
                if (digits(&p, 4, &tm->tm_year))
                        tm->tm_year -= 1900;
                else if (digits(&p, 2, &tm->tm_year))
                        tm->tm_year += tm->tm_year < 70 ? 100 : 0;
                else
                        return false;
                return expect(&p, ' ') && parse_hms(&p, tm, true) && strcmp(p, " GMT") == 0;
        }
        /* asctime */
        if (strlen(s) < 24)
                return false;
        p = s + 4;
        if ((tm->tm_mon = parse_month(p)) < 0)
                return false;
        p += 4;
        if (*p == ' ')
                p++;
        if (!digits(&p, isdigit((unsigned char) p[1]) ? 2 : 1, &tm->tm_mday) || !expect(&p, ' ') ||
            !parse_hms(&p, tm, true) || !expect(&p, ' ') || !digits(&p, 4, &tm->tm_year))
                return false;
        tm->tm_year -= 1900;
        return *p == '\0';
}

int aws_parse_http_date(const char *s, time_t *ret) {
        struct tm tm = {};
        bool ok;
        time_t t;

        if (!s)
                return -EINVAL;
        while (*s == ' ')
                s++;
        if (isdigit((unsigned char) s[0]))
                ok = parse_iso8601(s, &tm);
        else
                ok = parse_http(s, &tm);
        if (!ok || !tm_valid(&tm))
                return -EINVAL;
        t = timegm(&tm);
        if (t == (time_t) -1)
                return -EINVAL;
        *ret = t;
        return 0;
}
