/* TableCache: DescribeTable answers per table name, for one worker thread.
 *
 * A job needs its table's shape (keys and secondary indexes, common/tableshape.h) before it
 * reads the first row, so rows DynamoDB would refuse are rejected one by one instead of
 * failing a whole BatchWriteItem. Asking for every file would double the calls of small
 * files; asking once at startup would miss an index an operator adds while the daemon runs.
 * So each worker keeps the answers for TABLECACHE_TTL_USEC and asks again after that.
 *
 * One per worker thread (no lock): the worker owns it and lends it to its jobs through
 * JobEnv. Bounded: at most TABLECACHE_MAX_TABLES tables, the least recently fetched one
 * making room. */
#pragma once

#include <stdint.h>

#include "common/error.h"
#include "common/tableshape.h"
#include "common/time-util.h"
#include "common/util.h"

#define TABLECACHE_TTL_USEC (60 * USEC_PER_SEC)
#define TABLECACHE_MAX_TABLES 16u

typedef struct AwsClient AwsClient;
typedef struct TableCache TableCache;

TableCache *tablecache_new(usec_t ttl);
TableCache *tablecache_free(TableCache *c);
DEFINE_CLEANUP_FUNC(TableCache *, tablecache_free);

/* The shape of `table`, fetched with client (DescribeTable) when the cache has none younger
 * than the TTL at `now` (CLOCK_MONOTONIC). *ret points into the cache and stays valid until
 * the next call on it. A failed DescribeTable is returned as is (< 0, err filled), and the
 * stale entry, if any, is dropped: the next call asks again. */
int tablecache_get(TableCache *c, AwsClient *client, const char *table, usec_t now,
                   const TableShape **ret, S3bError *err);
