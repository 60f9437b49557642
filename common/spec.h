/* Plain-data description of one pipeline's input: CSV dialect, columns, key.
 *
 * The contract between conf/ (which fills it from YAML, with line:column diagnostics) and the
 * consumers in common/ (csv, schema, item) and daemon/. It holds no compiled state — schema_new()
 * compiles regexes etc. from it — so it can be copied, compared and freed without side effects.
 * All strings are owned by the struct that holds them; spec_*_done() frees them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ColumnType {
        COLUMN_STRING,
        COLUMN_INTEGER,         /* DynamoDB N, integral */
        COLUMN_NUMBER,          /* DynamoDB N: ≤ 38 significant digits, no NaN/Inf */
        COLUMN_BOOLEAN,         /* true/false/1/0/yes/no, case-insensitive → BOOL */
        COLUMN_DATE,            /* ISO 8601 date or date-time → S, as written */
        COLUMN_ENUM,            /* one of enum_values, exact match → S */
        _COLUMN_TYPE_MAX,
} ColumnType;

typedef struct ColumnSpec {
        char *name;             /* CSV header name and DynamoDB attribute name */
        ColumnType type;
        bool required;          /* a null value rejects the row; otherwise the attribute is omitted */
        char *pattern;          /* POSIX extended regex for strings, or NULL */
        size_t max_length;      /* strings: max bytes, 0 = no limit */
        bool has_min, has_max;  /* integer/number bounds */
        double min, max;
        char **enum_values;     /* COLUMN_ENUM */
        size_t n_enum_values;
} ColumnSpec;

typedef enum HeaderMode {
        HEADER_REQUIRED,        /* first row is a header matched to columns by name */
        HEADER_ABSENT,          /* no header: columns in configured order */
        _HEADER_MODE_MAX,
} HeaderMode;

typedef enum Compression {
        COMPRESSION_AUTO,       /* gzip if the key ends in .gz or the data starts with 1f 8b */
        COMPRESSION_NONE,
        COMPRESSION_GZIP,
        _COMPRESSION_MAX,
} Compression;

typedef struct CsvSpec {
        char delimiter;         /* ',' ';' '|' '\t' */
        HeaderMode header;
        char **null_values;     /* exact, case-sensitive matches that mean "no value" */
        size_t n_null_values;
        Compression compression;
        size_t max_row_bytes;   /* default 400 KiB, DynamoDB's item size limit */
        size_t max_field_bytes; /* default = max_row_bytes */
} CsvSpec;

typedef enum WriteMode {
        WRITE_MODE_STREAM,              /* write batches while reading (default) */
        WRITE_MODE_VALIDATE_FIRST,      /* read twice: validate all, then write; a failed file writes nothing */
        _WRITE_MODE_MAX,
} WriteMode;

typedef struct PipelineSpec {
        char *name;
        char *match_bucket;     /* NULL = any bucket */
        char *match_prefix;     /* "" = any */
        char *match_suffix;     /* "" = any; case-sensitive like S3's filter */
        char *table;
        CsvSpec csv;
        ColumnSpec *columns;
        size_t n_columns;
        char *partition_key;    /* names a column */
        char *sort_key;         /* names a column, or NULL */
        uint64_t max_rejected_rows;
        WriteMode write_mode;
        /* write_capacity: the table's WCU/s budget (0 = none) and the number of daemon
         * instances sharing it; this process uses units_per_second / instances. */
        uint64_t write_capacity;
        unsigned write_instances;       /* ≥ 1 */
        /* BatchWriteItem calls in flight per file: 0 = adaptive ("auto"), else fixed. */
        unsigned write_concurrency;
} PipelineSpec;

#define WRITE_CONCURRENCY_MAX 32u       /* batches in flight per file */

/* This process's share of the pipeline's write budget, WCU/s (0 = none). */
static inline double pipeline_spec_write_budget(const PipelineSpec *p) {
        return p->write_capacity ? (double) p->write_capacity / (p->write_instances ? p->write_instances : 1) : 0;
}

void column_spec_done(ColumnSpec *c);
void csv_spec_done(CsvSpec *c);
void pipeline_spec_done(PipelineSpec *p);

/* Defaults a loader starts from: ',' required header, nulls "" and "NULL" are set by the
 * loader, not here; auto compression; 400 KiB rows; stream mode. */
void csv_spec_init(CsvSpec *c);

/* Index of the column named `name` (exact match) or -1. */
int pipeline_spec_column_index(const PipelineSpec *p, const char *name);

typedef enum PipelineMatch {
        PIPELINE_MATCH_NONE,
        PIPELINE_MATCH_EXACT,   /* bucket, prefix and suffix as written */
        /* the key ends in the suffix plus ".gz" and the pipeline reads gzip (compression auto
         * or gzip): "x.csv.gz" for suffix ".csv" */
        PIPELINE_MATCH_GZIP,
} PipelineMatch;

/* How bucket/key matches this pipeline. A selector prefers exact matches to gzip ones
 * across all pipelines (config_find_pipeline), so a pipeline written for ".csv.gz" keeps its
 * files wherever it is listed. */
PipelineMatch pipeline_spec_match(const PipelineSpec *p, const char *bucket, const char *key);
/* True when bucket/key is this pipeline's, either way. */
bool pipeline_spec_matches(const PipelineSpec *p, const char *bucket, const char *key);

const char *column_type_to_string(ColumnType t);
ColumnType column_type_from_string(const char *s);     /* -1 (cast) when unknown */
