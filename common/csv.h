/* CsvParser: an RFC 4180 push parser with bounded memory.
 *
 * Feed it chunks of any size, split anywhere (inside quotes, between \r and \n, inside a UTF-8
 * sequence); it calls back once per complete row, with the same rows whatever the split.
 * It understands quoted fields with "" escapes, delimiters and line breaks inside quotes,
 * CRLF and LF line ends, a last line without a line break, and strips a leading UTF-8 BOM.
 * A bare \r is data. Empty lines are skipped.
 *
 * A malformed row (invalid UTF-8, a NUL byte, a quote inside an unquoted field, text after a
 * closing quote, too many fields, a field or row over its limit, a quote that never closes)
 * is reported with its line and column and parsing goes on with the next row.
 *
 * Quoting: a '"' opens a quoted field only as the first byte of a field; anywhere else in an
 * unquoted field (or after a closed quoted field's trailing text) it is data and a row error,
 * and opens nothing. Inside quotes "" is a quote and a lone '"' closes the field.
 *
 * Resynchronisation: a row ends at a line break outside quotes, and only there. A row that
 * grows past max_row_bytes is scanned on with the same rules, without being stored, up to
 * the line break that ends it; it is then reported once (raw = its first max_row_bytes, with
 * raw_truncated) and parsing starts over after that line break. So no row is ever made from
 * the middle of a field. A quoted field still open at the end of input (an unbalanced quote
 * swallows everything after it) makes its row CSV_ROW_UNTERMINATED_QUOTE; nothing after the
 * quote can be told apart, so callers should fail the file on it (ingest does).
 * Memory: one row (max_row_bytes) plus its field table, whatever the input size. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

typedef struct CsvParser CsvParser;

typedef enum CsvRowError {
        CSV_ROW_OK,
        CSV_ROW_BAD_UTF8,               /* a field is not valid UTF-8 */
        CSV_ROW_STRAY_QUOTE,            /* '"' inside an unquoted field */
        CSV_ROW_AFTER_QUOTE,            /* text between a closing quote and the delimiter */
        CSV_ROW_UNTERMINATED_QUOTE,     /* quoted field still open at the end of input */
        CSV_ROW_FIELD_TOO_LONG,         /* a field over max_field_bytes */
        CSV_ROW_ROW_TOO_LONG,           /* a row over max_row_bytes */
        CSV_ROW_TOO_MANY_FIELDS,        /* more than max_fields fields */
        CSV_ROW_NUL,                    /* a NUL byte in a field: binary or UTF-16, not text */
        _CSV_ROW_ERROR_MAX,
} CsvRowError;

typedef struct CsvField {
        const char *data;       /* unescaped content; not NUL-terminated */
        size_t len;
        bool quoted;            /* was written in quotes (so "" differs from an empty field) */
} CsvField;

typedef struct CsvRow {
        const CsvField *fields; /* n_fields entries; none when error != CSV_ROW_OK */
        size_t n_fields;
        uint64_t line;          /* physical line (1-based) where the row starts */
        const char *raw;        /* the row's bytes as in the input, without its line break */
        size_t raw_len;
        bool raw_truncated;     /* the row was longer than max_row_bytes: raw is its start */
        CsvRowError error;
        unsigned error_column;  /* 1-based field position of the error, 0 = whole row */
} CsvRow;

/* Every pointer in row is valid only during the call. Return < 0 to stop: feed/finish
 * return that value and the parser must not be fed again. */
typedef int (*CsvRowFn)(void *userdata, const CsvRow *row);

typedef struct CsvOptions {
        char delimiter;         /* ',' ';' '|' '\t'; not '"', '\r' or '\n' */
        size_t max_row_bytes;   /* without the line break; 0 = 400 KiB */
        size_t max_field_bytes; /* 0 = max_row_bytes */
        size_t max_fields;      /* 0 = 1024 */
} CsvOptions;

/* The parser returns codes only, no S3bError: a row's problems are its CsvRowError, and a
 * failure of the parser itself (-EINVAL, -ENOMEM, a callback's code) is one the caller names
 * better (common/ingest writes "pipeline '…': invalid CSV delimiter", "CSV parser: …").
 * -EINVAL for an impossible delimiter, -ENOMEM. opts is copied. */
int csv_parser_new(const CsvOptions *opts, CsvRowFn fn, void *userdata, CsvParser **ret);
CsvParser *csv_parser_free(CsvParser *p);
DEFINE_CLEANUP_FUNC(CsvParser *, csv_parser_free);

/* 0, a callback's negative value, or -ENOMEM. */
int csv_parser_feed(CsvParser *p, const void *data, size_t n);

/* End of input: emits the last row if it had no line break. Same returns as feed. */
int csv_parser_finish(CsvParser *p);

/* Physical lines consumed so far (the line the next row starts on, minus one). */
uint64_t csv_parser_lines(const CsvParser *p);

/* Whether the input so far ended exactly at a record boundary: nothing of a next row seen, not
 * skipping an oversized one (for a byte range that must end where the next one starts). */
bool csv_parser_at_row_start(const CsvParser *p);

const char *csv_row_error_to_string(CsvRowError e);

/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
bool utf8_is_valid(const void *data, size_t n);
