/* Retry policy shared by every service: classify a failure, then back off with full jitter.
 *
 * This is the SDKs' "standard" retry mode: a failed attempt is retried when it is a transient
 * transport failure, a 500/502/503/504, a throttling code or 429, RequestTimeout or
 * IDPCommunicationError; the delay before retry i (1-based) is uniform in
 * [0, min(cap, base · 2^(i-1))] ("full jitter", AWS Architecture Blog "Exponential Backoff
 * And Jitter"), base 1 s and cap 20 s by default. A clock-skew rejection is retried once
 * after the caller corrected its clock offset from the response's Date header.
 *
 * The RNG is per caller (one per AwsClient, i.e. per thread): no global rand() state, no
 * lock, and two threads never back off in lockstep. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"

typedef enum AwsRetryKind {
        AWS_RETRY_NO,           /* final: success is impossible by repeating the request */
        AWS_RETRY_TRANSIENT,    /* connection failure, timeout, 5xx, RequestTimeout */
        AWS_RETRY_THROTTLE,     /* the service asked us to slow down */
        AWS_RETRY_CLOCK_SKEW,   /* our clock is off: fix the offset, retry once */
} AwsRetryKind;

/* Our own code for a 2xx whose body fails its x-amz-crc32 check: transient. */
#define AWS_CODE_CRC32_MISMATCH "Crc32Mismatch"

#define AWS_RETRY_BASE_MS_DEFAULT 1000u
#define AWS_RETRY_CAP_MS_DEFAULT 20000u

/* From a filled S3bError: http_status 0 means no response (transport error in err->code). */
AwsRetryKind aws_retry_classify(const S3bError *err);

/* Transport-level errnos that are worth another attempt (refused, reset, timed out, DNS). */
bool aws_retry_transport_errno(int code);

typedef struct AwsRng {
        uint64_t state;
} AwsRng;

/* seed 0 takes one from getrandom(2); tests pass a fixed seed. */
void aws_rng_seed(AwsRng *r, uint64_t seed);
uint64_t aws_rng_next(AwsRng *r);
/* Uniform in [0, bound]. */
uint64_t aws_rng_uniform(AwsRng *r, uint64_t bound);

/* Full-jitter delay before retry number `retry` (1 = first retry). base_ms/cap_ms 0 = the
 * defaults. Also used by the DynamoDB writer between UnprocessedItems rounds. */
uint64_t aws_retry_backoff_ms(AwsRng *r, unsigned retry, unsigned base_ms, unsigned cap_ms);

/* HTTP Date header (RFC 7231 IMF-fixdate, plus the obsolete RFC 850 and asctime forms) or
 * an ISO 8601 UTC time (20261129T074500Z, 2026-11-29T07:45:00[.123]Z) → seconds since the
 * epoch. -EINVAL when unparseable. */
int aws_parse_http_date(const char *s, time_t *ret);
