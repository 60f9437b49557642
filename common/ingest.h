/* Ingest: the bytes of one S3 object in, DynamoDB items and rejected rows out.
 *
 * Chains inflate (gzip, when the key ends in .gz or the data starts with 1f 8b and
 * compression is auto) → csv (RFC 4180 push parser) → schema (header binding, type checks)
 * → item (DynamoDB JSON). With format jsonl or ddb-json the csv step is a line splitter
 * instead and each line one JSON value (jsonline.h → schema_row_json()/schema_row_ddb()):
 * the same bounds (a line over max_row_bytes is a rejected row whose rest is skipped
 * unstored), gzip, rejects and outcomes. Empty lines are skipped; a UTF-8 byte order mark
 * at the start is dropped; a JSON reject has column 0 and names the field in column_name. Push-based with constant memory: the caller feeds chunks as they
 * arrive from S3 in any size, and each complete row comes out through a callback before
 * ingest_feed() returns. Memory is bounded by the spec's max_row_bytes, whatever the file size.
 *
 * Two kinds of failure:
 *   - a row error (bad UTF-8, a NUL byte, stray quote, text after a closing quote, wrong
 *     field count, type violation, null key, item over 400 KB, row over max_row_bytes, a key
 *     or index key value DynamoDB refuses: too long, empty) goes to on_reject and parsing
 *     goes on with the next row;
 *   - a file error (header does not match the columns or is malformed, corrupt gzip, a UTF-16
 *     byte order mark, a quote still open at the end of the file, a callback abort) makes
 *     ingest_feed()/ingest_finish() return < 0 with a message naming the line (and column);
 *     the Ingest cannot be fed again after that.
 *
 * Resynchronisation: a row ends at a line break outside quotes, and only there (see
 * common/csv.h for the quoting rules). A row longer than max_row_bytes is rejected with its
 * first max_row_bytes, and parsing resumes after the line break that really ends it, found by
 * following its quotes without storing it, so a line inside a long quoted field never becomes
 * an item. A quote that never closes makes the rest of the file one field: no row after it
 * can be found, so the file fails ("unterminated quoted field", with the line and column
 * where it opened) rather than counting everything after it as one rejected row — the same
 * choice as PostgreSQL's COPY. Memory stays one row either way. Empty lines are skipped.
 *
 * Ownership: the spec is borrowed and must outlive the Ingest (the daemon holds a Config
 * reference for the job). Every pointer handed to a callback is valid only during the call.
 * An Ingest is used by one thread at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/spec.h"
#include "common/tableshape.h"
#include "common/util.h"

typedef struct Ingest Ingest;

typedef struct IngestItem {
        /* {"student_id":{"S":"A00001"},...}: a complete AttributeValue map; NULL (json_len 0)
         * after ingest_set_verdict_only() */
        const char *json;
        size_t json_len;
        /* The primary key as bytes that are equal iff DynamoDB sees the same key: for the
         * partition key, then the sort key if any, "<S|N><decimal byte length>:<value>",
         * numbers in a normalised form (so 1.0 and 1 collide). For the batcher's dedup. */
        const char *key;
        size_t key_len;
        uint64_t line;          /* physical line (1-based) where the row starts */
        size_t size;            /* DynamoDB item size (attribute names + values), ≤ 400 KB */
} IngestItem;

typedef struct IngestReject {
        uint64_t line;          /* physical line (1-based) where the row starts */
        unsigned column;        /* 1-based CSV field position, 0 = the whole row */
        const char *column_name;/* the configured column, or NULL */
        const char *reason;     /* human readable, no trailing newline */
        const char *raw;        /* the row as it was in the file, without its line break */
        size_t raw_len;
        bool raw_truncated;     /* the row was longer than max_row_bytes; raw holds the start */
} IngestReject;

typedef struct IngestCallbacks {
        /* Return < 0 to abort: ingest_feed() then returns that code. */
        int (*on_item)(void *userdata, const IngestItem *item);
        int (*on_reject)(void *userdata, const IngestReject *reject);
        /* Optional (may be NULL): the header row as in the file, once, before any item,
         * e.g. to start a rejected-rows report with it. Only when the spec has a header. */
        int (*on_header)(void *userdata, const char *raw, size_t raw_len);
} IngestCallbacks;

typedef struct IngestStats {
        uint64_t rows_total;    /* data rows seen (header and empty lines excluded) */
        uint64_t rows_valid;    /* items handed to on_item */
        uint64_t rows_rejected; /* rows handed to on_reject */
        uint64_t bytes_in;      /* bytes fed, as stored in S3 */
        uint64_t bytes_decoded; /* bytes after gunzip (= bytes_in when not compressed) */
        bool gzip;              /* the input was decompressed */
} IngestStats;

/* table (may be NULL) is the target table's shape, for DynamoDB's key and index key rules
 * (schema_new()); read during the call only. object_key is only used for the .gz
 * auto-detection and may be NULL. cb is copied. -EINVAL when the spec cannot be compiled
 * (bad regex, unknown key column, ...) or does not fit the table. */
int ingest_new(const PipelineSpec *spec, const TableShape *table, const char *object_key,
               const IngestCallbacks *cb, void *userdata, Ingest **ret, S3bError *err);

/* Where the object came from, for computed attributes (source_key, source_etag,
 * ingested_at). ingest_new() sets the key it was given and the current time; the daemon adds
 * the ETag it pinned the job to. NULL or "" = unknown (the attribute is left out of items).
 * ingested_at 0 = now. Call before the first ingest_feed(). -ENOMEM, its only failure (a
 * copy of two strings), so it takes no S3bError: the caller says "out of memory". */
typedef struct IngestSource {
        const char *key;
        const char *etag;
        int64_t ingested_at;
} IngestSource;

int ingest_set_source(Ingest *in, const IngestSource *src);

/* Verdict only (`validate`): the same parse, checks and outcomes — every row accepted or
 * rejected with the same reason, column and line, the same key, size and counts — but the
 * items' JSON is not built (IngestItem.json is NULL). The 400 KB item size is still counted
 * as DynamoDB counts it; an item whose JSON might pass the builder's bound is built in full,
 * so "item too large" is decided the same way too (item_builder_set_size_only()). Call
 * before the first ingest_feed(). */
void ingest_set_verdict_only(Ingest *in, bool on);

/* Feeds n bytes of the object. 0, or < 0 for a file-level failure (-EBADMSG for a header
 * mismatch or corrupt gzip, the callback's code for an abort, -ENOMEM) with err filled. */
int ingest_feed(Ingest *in, const void *data, size_t n, S3bError *err);

/* End of object: flushes the last row (a final line without a line break is a row),
 * checks the gzip stream is complete and a header was seen, and fills *ret_stats (may be
 * NULL). Stats are filled even when it fails, as far as the file got. */
int ingest_finish(Ingest *in, IngestStats *ret_stats, S3bError *err);

/* Whether the bytes fed so far end exactly at a record boundary (a line break that ends a
 * row, nothing of the next one held): for a byte range that must end where the next begins.
 * Always false for gzip input. */
bool ingest_at_row_start(const Ingest *in);

/* Counters so far, e.g. for progress or after a failure. */
void ingest_get_stats(const Ingest *in, IngestStats *ret_stats);

Ingest *ingest_free(Ingest *in);
DEFINE_CLEANUP_FUNC(Ingest *, ingest_free);
