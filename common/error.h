/* The error contract of everything under common/ and conf/.
 *
 * Functions return a negative errno-style code on failure and, when given a non-NULL
 * S3bError, fill it with a human message and, for AWS calls, the HTTP status, the AWS error
 * code and the request id. Positive return values are documented outcomes, never errors.
 * common/ never logs: the daemon decides what to print. Messages must never carry secrets.
 *
 * Every failure that leaves a function taking an S3bError has a message, -ENOMEM included.
 * A function without one returns a code only, and its header says why and who writes the
 * message: the row path (csv, item, ddbvalue, jsonline, schema_row*, pattern_match) runs per
 * value and leaves it to common/ingest, which names the line; buf, mailbox and the log sink are
 * primitives whose owner knows what failed. */
#pragma once

#include <stdarg.h>
#include "common/util.h"

typedef struct S3bError {
        int code;               /* negative errno, 0 when clear */
        long http_status;       /* 0 when no HTTP response was seen */
        char aws_code[64];      /* e.g. "ThrottlingException", "NoSuchKey"; "" if none */
        char request_id[96];    /* x-amzn-RequestId / x-amz-request-id; "" if none */
        char message[512];
} S3bError;

void s3b_error_clear(S3bError *e);

/* Sets code and a formatted message; returns code (negative) so callers can
 * `return s3b_error_set(e, -EINVAL, "...")`. e may be NULL. */
int s3b_error_set(S3bError *e, int code, const char *fmt, ...) _printf_(3, 4);
int s3b_error_setv(S3bError *e, int code, const char *fmt, va_list ap) _printf_(3, 0);

/* Prefixes the existing message with context ("copy to archive: <old message>"). The ": " is
 * ours: a context that ends in one (or in ':' or spaces) does not double it. */
int s3b_error_prefix(S3bError *e, const char *fmt, ...) _printf_(2, 3);
