/* CsvSplit: where a byte range of a CSV (or JSON Lines) object may start, without I/O.
 *
 * A big object is read as byte ranges by several threads (daemon/split.c). A range must start
 * at a record boundary of the single-stream parse (common/csv.h): just after a line break that
 * ends a record. This module proves such boundaries from the bytes alone.
 *
 * The parser's quote automaton, reduced to what decides where records end, has four states:
 *   FIELD_START  at the start of a field: '"' opens a quoted field;
 *   UNQUOTED     inside an unquoted field, or after a closed quoted field's text (a '"' there
 *                is data: csv.h opens a quote only as a field's first byte);
 *   QUOTED       inside quotes: only '"' matters, a line break is data;
 *   QUOTE_SEEN   inside quotes just after a '"': "" is an escape, anything else closes.
 * A line break outside quotes ends the record (FIELD_START after it). An oversized row is
 * skipped by the parser with these same rules, so the automaton holds for it too.
 *
 * Proof: run the automaton from a point before the range's offset under every start state at
 * once (a vector of four hypotheses). A line break after which every hypothesis is at
 * FIELD_START ended a record whatever the true state was: a PROVEN boundary. They converge at
 * patterns like `x",` (a quote that closes under one reading and opens under the other, then
 * a delimiter), which quoted CSV is full of. A file without quotes never converges (the
 * QUOTED hypothesis never leaves), so the caller then needs the exact state: the transfer
 * function of each earlier segment (start state → end state over its bytes, the same vector
 * run), composed left to right from FIELD_START at the start of the object. Its quote-free
 * stretches cost one memchr each.
 *
 * JSON Lines and ddb-json: a JSON string cannot hold a raw line break, so every '\n' ends a
 * record (the LINES mode). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum CsvQState {
        CSVQ_FIELD_START,
        CSVQ_UNQUOTED,
        CSVQ_QUOTED,
        CSVQ_QUOTE_SEEN,
        _CSVQ_MAX,
} CsvQState;

/* The state each start state ends in over some bytes: map[start]. */
typedef struct CsvTransfer {
        uint8_t map[_CSVQ_MAX];
} CsvTransfer;

/* The scanner: four hypotheses packed in one byte (two bits each), one table step per byte. */
typedef struct CsvSplit {
        bool lines;             /* JSON Lines: every '\n' is a boundary */
        uint8_t vec;            /* hypothesis h's state in bits 2h..2h+1 */
        uint8_t cls[256];
        uint8_t next[256][4];   /* next[vec][class] */
        char delimiter;
        uint64_t newlines;      /* '\n' bytes scanned since the last reset */
} CsvSplit;

/* delimiter: the CSV one; lines: JSON Lines / ddb-json instead. Starts as csv_split_reset_all(). */
void csv_split_init(CsvSplit *s, char delimiter, bool lines);

/* Every start state at once (for a proof or a transfer function). */
void csv_split_reset_all(CsvSplit *s);
/* One known state (all four hypotheses equal): the exact parse. */
void csv_split_reset_exact(CsvSplit *s, CsvQState st);

/* Scans data[0..n). When a line break at index ≥ from ends a record under every hypothesis,
 * stops there and returns the index just after it; else scans all and returns n + 1 (not
 * found). from may be 0; in LINES mode the first '\n' at or after from is the answer. */
size_t csv_split_find(CsvSplit *s, const char *data, size_t n, size_t from);

/* Scans data[0..n) without looking for boundaries; quote-free stretches cost one memchr. */
void csv_split_advance(CsvSplit *s, const char *data, size_t n);

/* Whether every hypothesis is in the same state (then any later line break that ends a record
 * under one ends it under all). */
bool csv_split_converged(const CsvSplit *s);

/* The transfer function of the bytes scanned since csv_split_reset_all(). */
CsvTransfer csv_split_transfer(const CsvSplit *s);
/* The state the exact run is in (meaningful after csv_split_reset_exact()). */
CsvQState csv_split_exact_state(const CsvSplit *s);

/* Composes left to right: the state after a then b, from start. */
static inline CsvQState csv_transfer_apply(const CsvTransfer *t, CsvQState start) {
        return (CsvQState) t->map[start];
}

/* The length of a UTF-8 byte order mark at the start of data[0..n) (the parser drops it, so an
 * exact run from the start of the object begins after it): 3 or 0. */
size_t csv_split_bom(const char *data, size_t n);
