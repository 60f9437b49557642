/* Schema: a pipeline's columns compiled for checking rows and turning them into items.
 *
 * schema_new() compiles what the PipelineSpec describes (regexes, attribute names, the key)
 * once per file; schema_bind_header() then maps the header's fields to columns by name
 * (case-insensitive, any order) — or, without a header, the columns stay in configured
 * order — and schema_row() checks one parsed row and writes its DynamoDB item and key.
 *
 * Value rules (the reasons a row is rejected):
 *   - a value equal to one of csv.null_values (exact, case-sensitive, quoted or not) is null:
 *     a required or key column rejects the row, an optional one leaves the attribute out;
 *   - string: max_length in bytes; pattern is a POSIX extended regex searched in the value
 *     (anchor it with ^ and $ to match the whole value);
 *   - integer: [+-]digits, written as DynamoDB N in canonical form (no '+', no leading zeros);
 *   - number: DynamoDB N rules — decimal with optional fraction and exponent, at most 38
 *     significant digits, magnitude 1E-130 to 9.9999999999999999999999999999999999999E+125
 *     or zero; no NaN, Infinity, hex or surrounding spaces; written normalised;
 *   - integer/number min/max bounds are inclusive;
 *   - boolean: true/false/1/0/yes/no in any case → BOOL;
 *   - date: YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm), a real calendar day
 *     (leap years included) → S as written;
 *   - enum: one of enum_values exactly → S;
 *   - key columns must be non-empty; the item must fit DynamoDB's 400 KB, counted as
 *     DynamoDB counts it (item.h);
 *   - DynamoDB's key rules (tableshape.h): a string partition key value is at most 2048
 *     bytes, a sort key value at most 1024 (UTF-8 bytes); with a TableShape, an index key
 *     attribute that has a value must be non-empty and within the same limits (2048 as an
 *     index's partition key, 1024 as its sort key). A null optional index key attribute is
 *     left out of the item, which DynamoDB allows (sparse index).
 * A Schema keeps scratch buffers and the header binding: one per file, one thread at a time. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/csv.h"
#include "common/error.h"
#include "common/item.h"
#include "common/spec.h"
#include "common/tableshape.h"
#include "common/util.h"

typedef struct Schema Schema;

typedef struct SchemaReject {
        unsigned column;        /* 1-based CSV field position, 0 = the whole row (or JSON) */
        const char *column_name;/* the configured column (JSON: field or attribute), or NULL;
                                 * ddb-json: points into the line's cJSON tree, valid while it is */
        const char *reason;     /* valid until the next schema call */
} SchemaReject;

/* spec is borrowed and must outlive the Schema. table (may be NULL) is the target table's
 * shape from DescribeTable: read here only, not kept. Without it only the pipeline's own key
 * is checked (as `validate` does offline). -EINVAL (with a message) when a regex does not
 * compile, a key names no column or a key column is boolean, or when the pipeline does not
 * fit the table (table_shape_check_spec(): key names, a column whose type is not the key's or
 * index key's). */
int schema_new(const PipelineSpec *spec, const TableShape *table, Schema **ret, S3bError *err);
Schema *schema_free(Schema *s);
DEFINE_CLEANUP_FUNC(Schema *, schema_free);

/* Maps header fields to columns. -EBADMSG with a message naming the missing, unknown and
 * duplicate columns. Without a call, fields are taken in configured order. */
int schema_bind_header(Schema *s, const CsvField *fields, size_t n, S3bError *err);

/* Name of the column at 1-based CSV position `column` under the current binding, or NULL. */
const char *schema_column_name_at(const Schema *s, unsigned column);

size_t schema_n_columns(const Schema *s);

/* Checks one row. 0: the item is in *item (complete JSON) and the key in *key (see
 * IngestItem.key); 1: rejected, *ret_reject says why; < 0: -ENOMEM / -ENOBUFS. The row
 * functions take no S3bError: they run per row, a negative code is the whole story, and the
 * caller names the line (common/ingest: "line N: <strerror>"). */
int schema_row(Schema *s, const CsvField *fields, size_t n, ItemBuilder *item, Buf *key,
               SchemaReject *ret_reject);
/* The same, for the row starting on `line` (for the computed source_line). */
int schema_row_at(Schema *s, const CsvField *fields, size_t n, uint64_t line, ItemBuilder *item,
                  Buf *key, SchemaReject *ret_reject);

/* JSON Lines: one object from json_line_parse(). Its fields are matched to columns by name
 * (csv.header_match); fields no column names are ignored, a missing field is null, a field
 * given twice rejects the row. A string, a number, true/false feed scalar columns (a string
 * column takes only strings, integer/number numbers or strings, boolean true/false or
 * strings); an array a set or list column, an object a map column. Same returns. */
int schema_row_json(Schema *s, const cJSON *obj, uint64_t line, ItemBuilder *item, Buf *key,
                    SchemaReject *ret_reject);

/* ddb-json: one {"Item": {...}} object. Every AttributeValue is checked (ddbvalue.h) and
 * written as given; the key attributes must be there, S, N or B (of the table's declared type
 * when a TableShape was given), non-empty and within DynamoDB's key lengths, and so must any
 * index key attribute present. Same returns. */
int schema_row_ddb(Schema *s, const cJSON *line_obj, ItemBuilder *item, Buf *key,
                   SchemaReject *ret_reject);

/* Where the rows come from, for computed attributes: the object key and ETag (either may be
 * NULL: unknown, and the attribute is then left out) and when the ingest began (epoch s).
 * -ENOMEM, its only failure, so no S3bError: the caller says "out of memory". */
int schema_set_source(Schema *s, const char *key, const char *etag, int64_t ingested_at);

/* The value checks on their own. Each returns NULL when v is valid, else the reason. */

/* canon gets the DynamoDB N text, key (may be NULL) a form equal for equal numbers. */
const char *schema_parse_number(const char *v, size_t n, bool integral, Buf *canon, Buf *key);
const char *schema_parse_boolean(const char *v, size_t n, bool *ret);
const char *schema_check_date(const char *v, size_t n);
