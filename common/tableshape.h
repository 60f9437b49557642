/* TableShape: plain data about a DynamoDB table's keys, as DescribeTable reports them.
 *
 * The table's own key (names and S/N/B types from AttributeDefinitions) and the key attributes
 * of each global and local secondary index. common/aws/dynamodb.c fills it; schema.c turns it
 * into per-column row rules; the daemon checks it against a pipeline at startup. No pointers:
 * it can be copied with `=`.
 *
 * DynamoDB's rules for key values, all from the DynamoDB Developer Guide:
 *   - "Service, account, and table quotas" / "Constraints", "Partition key length": a
 *     partition key value is 1..2048 bytes; "Sort key length": a sort key value 1..1024 bytes.
 *     The length of a string is its UTF-8 bytes, of a binary its raw bytes ("Supported data
 *     types and naming rules"); a number has at most 38 significant digits, so its size
 *     (about one byte per two digits) never comes near either limit.
 *   - "Detecting and correcting index key violations": an item violates a secondary index
 *     when an index key attribute has another type than the index declares, is longer than
 *     those same 2048/1024 bytes, or is an empty string/binary; DynamoDB refuses such a write
 *     with a ValidationException. An index key attribute that is absent is fine: the item is
 *     just not in the index (a sparse index). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/spec.h"

#define DYNAMO_PARTITION_KEY_MAX 2048u
#define DYNAMO_SORT_KEY_MAX 1024u

/* "Quotas in Amazon DynamoDB", "Secondary indexes": at most 5 local secondary indexes per
 * table and an initial (adjustable) quota of 20 global ones. Room for a raised GSI quota;
 * DescribeTable answers with more are refused rather than half-checked. */
#define TABLE_SHAPE_MAX_INDEXES 32u

/* Key attribute names are 1..255 bytes (API Reference, "KeySchemaElement"); index names
 * 3..255 ("Supported data types and naming rules"). */
#define TABLE_NAME_MAX 255u

typedef struct TableKeyAttr {
        char name[TABLE_NAME_MAX + 1];  /* "" = none */
        char type;                      /* 'S', 'N', 'B'; 0 with no name */
} TableKeyAttr;

typedef struct TableIndex {
        char name[TABLE_NAME_MAX + 1];
        bool local;                     /* LSI; else GSI */
        TableKeyAttr hash, range;       /* range.name "" when the index has no sort key */
} TableIndex;

typedef struct TableShape {
        TableKeyAttr hash, range;       /* the table's key; range.name "" without a sort key */
        TableIndex indexes[TABLE_SHAPE_MAX_INDEXES];
        size_t n_indexes;
        char status[32];                /* TableStatus: "ACTIVE", "CREATING", …; may be "" */
} TableShape;

/* 'S' or 'N': the DynamoDB type a column of this type writes; 0 for boolean (BOOL, which no
 * key can be). */
char table_key_type_of_column(ColumnType t);

/* Whether pipeline p can write into a table of this shape: same key names, and every key or
 * index key attribute that p writes has the type the table declares (a string column cannot
 * feed an N key, an integer column cannot feed a GSI key declared S, a boolean column can
 * feed no key). 0, or -EINVAL with a message naming the attribute, the index and both types. */
int table_shape_check_spec(const TableShape *t, const PipelineSpec *p, S3bError *err);

/* "GSI" or "LSI" */
const char *table_index_kind(const TableIndex *ix);
