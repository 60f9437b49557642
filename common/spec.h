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
        COLUMN_STRING_SET,      /* separator-split strings → SS (no duplicates) */
        COLUMN_NUMBER_SET,      /* separator-split numbers → NS (no duplicates by value) */
        COLUMN_MAP,             /* a JSON object → M */
        COLUMN_LIST,            /* a JSON array → L */
        _COLUMN_TYPE_MAX,
} ColumnType;

typedef struct ColumnSpec {
        char *name;             /* CSV header name (or JSON Lines field name) */
        char *attribute;        /* DynamoDB attribute name; NULL = name */
        ColumnType type;
        bool required;          /* a null value rejects the row; otherwise the attribute is omitted */
        bool keep_null;         /* omit_if_null: false → a null optional value is written as NULL */
        char *default_value;    /* written (checked like any value) when an optional value is null */
        char *separator;        /* string_set/number_set: between elements; NULL = "|" */
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

typedef enum HeaderMatch {
        HEADER_MATCH_CASE_INSENSITIVE,  /* default: "Student_ID" is column student_id */
        HEADER_MATCH_EXACT,             /* byte for byte */
        HEADER_MATCH_LOOSE,             /* case, spaces, '_' and '-' ignored: "Student ID" = student_id */
        _HEADER_MATCH_MAX,
} HeaderMatch;

typedef enum InputFormat {
        FORMAT_CSV,             /* RFC 4180 (default) */
        FORMAT_JSONL,           /* one JSON object per line, fields → columns */
        FORMAT_DDB_JSON,        /* one {"Item": {...}} per line, as DynamoDB's export writes it */
        _FORMAT_MAX,
} InputFormat;

typedef struct CsvSpec {
        char delimiter;         /* ',' ';' '|' '\t' */
        HeaderMode header;
        HeaderMatch header_match;       /* CSV header and JSON Lines field names to columns */
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

/* In which order a pipeline's files are processed (daemon/ordering.h). */
typedef enum OrderingMode {
        ORDERING_NONE,                  /* as they come, in parallel (default) */
        ORDERING_PER_PREFIX,            /* one at a time per group, in creation order; groups in parallel */
        ORDERING_GLOBAL,                /* one at a time for the whole pipeline, in creation order */
        _ORDERING_MODE_MAX,
} OrderingMode;

typedef struct OrderingSpec {
        OrderingMode mode;
        /* per_prefix: NULL groups by the key up to its last '/'; else a POSIX extended regex
         * whose first capture group (the whole match when it has none) names the group */
        char *group_regex;
        /* seconds a received file waits for earlier files of its group still on their way */
        unsigned window;
} OrderingSpec;

/* Attributes that come from the file rather than from a column (issue: computed). */
typedef enum ComputedKind {
        COMPUTED_SOURCE,        /* from: source_key | source_etag | source_line | ingested_at */
        COMPUTED_CONSTANT,      /* constant: "text" → S */
        COMPUTED_TTL,           /* ttl: {from: ingested_at | DATE_COLUMN, add_days: N} → N epoch s */
        _COMPUTED_KIND_MAX,
} ComputedKind;

typedef enum ComputedSource {
        SOURCE_KEY,             /* the S3 object key → S */
        SOURCE_ETAG,            /* its ETag without quotes → S (omitted when unknown) */
        SOURCE_LINE,            /* the line the row starts on → N */
        SOURCE_INGESTED_AT,     /* when the file's ingest began, ISO 8601 UTC → S */
        _SOURCE_MAX,
} ComputedSource;

typedef struct ComputedSpec {
        char *attribute;
        ComputedKind kind;
        ComputedSource source;  /* COMPUTED_SOURCE */
        char *constant;         /* COMPUTED_CONSTANT */
        char *ttl_column;       /* COMPUTED_TTL: a date column's name, or NULL = ingested_at */
        int64_t add_days;       /* COMPUTED_TTL */
} ComputedSpec;

typedef struct PipelineSpec {
        char *name;
        char *match_bucket;     /* NULL = any bucket */
        char *match_prefix;     /* "" = any */
        char *match_suffix;     /* "" = any; case-sensitive like S3's filter */
        char *table;
        InputFormat format;
        CsvSpec csv;
        ColumnSpec *columns;
        size_t n_columns;
        ComputedSpec *computed;
        size_t n_computed;
        char *partition_key;    /* names an attribute: a column's or a computed one */
        char *sort_key;         /* names an attribute, or NULL */
        uint64_t max_rejected_rows;
        WriteMode write_mode;
        OrderingSpec ordering;
        /* write_capacity: the table's WCU/s budget (0 = none) and the number of daemon
         * instances sharing it; this process uses units_per_second / instances. */
        uint64_t write_capacity;
        unsigned write_instances;       /* ≥ 1 */
        /* BatchWriteItem calls in flight per file: 0 = adaptive ("auto"), else fixed. */
        unsigned write_concurrency;
        /* A file of at least split_bytes (0 = never) is read as split_workers byte ranges at
         * once (daemon/split.h). */
        uint64_t split_bytes;
        unsigned split_workers;
} PipelineSpec;

#define SPLIT_BYTES_DEFAULT (256u * 1024u * 1024u)
#define SPLIT_WORKERS_DEFAULT 4u

#define WRITE_CONCURRENCY_MAX 32u       /* batches in flight per file */

/* This process's share of the pipeline's write budget, WCU/s (0 = none). */
static inline double pipeline_spec_write_budget(const PipelineSpec *p) {
        return p->write_capacity ? (double) p->write_capacity / (p->write_instances ? p->write_instances : 1) : 0;
}

void column_spec_done(ColumnSpec *c);
void computed_spec_done(ComputedSpec *c);
void csv_spec_done(CsvSpec *c);
void pipeline_spec_done(PipelineSpec *p);

/* Defaults a loader starts from: ',' required header, nulls "" and "NULL" are set by the
 * loader, not here; auto compression; 400 KiB rows; stream mode. */
void csv_spec_init(CsvSpec *c);

/* Index of the column named `name` (exact match) or -1. */
int pipeline_spec_column_index(const PipelineSpec *p, const char *name);

/* The DynamoDB attribute a column writes: its attribute, else its name. */
const char *column_spec_attribute(const ColumnSpec *c);

/* Index of the column writing attribute `name` (exact match) or -1. */
int pipeline_spec_attribute_index(const PipelineSpec *p, const char *name);

/* Index of the computed attribute `name` or -1. */
int pipeline_spec_computed_index(const PipelineSpec *p, const char *name);

/* 'S' or 'N': the DynamoDB type a computed attribute writes. */
char computed_spec_type(const ComputedSpec *c);

const char *input_format_to_string(InputFormat f);
const char *computed_source_to_string(ComputedSource s);
const char *header_match_to_string(HeaderMatch m);

/* Whether header text h[0..n) names column name under mode m. */
bool header_matches(HeaderMatch m, const char *name, const char *h, size_t n);

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

const char *ordering_mode_to_string(OrderingMode m);    /* "none", "per_prefix", "global" */

const char *column_type_to_string(ColumnType t);
ColumnType column_type_from_string(const char *s);     /* -1 (cast) when unknown */
