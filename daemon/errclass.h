/* Error classes: what an AWS failure means for the file and its SQS message.
 *
 * Every failure a job meets is put in one class by one table (errclass.c), and the class
 * alone decides what happens (docs/DESIGN.md, "Retry or final"):
 *
 *   TRANSIENT   throttling, 5xx, network, timeouts, exhausted UnprocessedItems, expired
 *               credentials: the file stays, the message comes back after a growing delay.
 *   CONFIG      a referenced resource is missing or not ours (NoSuchBucket, AccessDenied, a
 *               missing table or topic): the file and its message stay, an ERROR names the
 *               resource; nothing is moved, because the fix is the operator's.
 *   SUPERSEDED  412: a newer upload replaced the object; its own event loads it.
 *   GONE        the object itself is gone (NoSuchKey): look for an earlier outcome.
 *   FINAL       the request can never succeed for this file (a DynamoDB ValidationException,
 *               an item collection over 10 GB): the file fails.
 *
 * An unknown code is TRANSIENT, an unknown 4xx CONFIG: keeping a file is always safe, failing
 * it is not. */
#pragma once

#include "common/error.h"

typedef enum ErrClass {
        ERRCLASS_TRANSIENT,
        ERRCLASS_CONFIG,
        ERRCLASS_SUPERSEDED,
        ERRCLASS_GONE,
        ERRCLASS_FINAL,
        _ERRCLASS_MAX,
} ErrClass;

ErrClass errclass_of(const S3bError *e);
const char *errclass_to_string(ErrClass c);
