/* The CSV row collector of the CSV tests (tests/unit/test-csv.c) and of the split reader's
 * oracle (fuzz/csvsplit-check.h, for test-csvsplit and the fuzz target): a CsvRowFn that
 * renders each row as text, so two parses are compared as strings.
 *
 * Rendering: "LINE|field|field\n", a quoted field as "|q:field"; a rejected row as
 * "LINE!error@column[raw]\n" with "+" after "]" when raw was truncated, a NUL byte in raw as
 * "\0" (the rendering stays a C string). No test framework: the fuzz target includes it too.
 * Static functions only: include once per binary. */
#pragma once

#include <errno.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/csv.h"

typedef struct CsvCollect {
        Buf out;
        uint64_t line_shift;    /* added to each row's line */
        uint64_t skip_lines;    /* rows on these first lines are a fed prefix: not rendered */
        int stop_after;         /* > 0: return -ECANCELED from that row on */
        int rows;
} CsvCollect;

/* userdata: a CsvCollect. A rejected row that still has fields is a parser bug: -EPROTO, which
 * fails the feed it came from. */
static int csv_collect(void *userdata, const CsvRow *row) {
        CsvCollect *c = userdata;

        if (c->stop_after > 0 && ++c->rows >= c->stop_after)
                return -ECANCELED;
        if (row->line <= c->skip_lines)
                return 0;
        buf_printf(&c->out, "%llu", (unsigned long long) (row->line + c->line_shift));
        if (row->error != CSV_ROW_OK) {
                if (row->n_fields != 0)
                        return -EPROTO;
                buf_printf(&c->out, "!%s@%u[", csv_row_error_to_string(row->error), row->error_column);
                for (size_t i = 0; i < row->raw_len; i++) {
                        if (row->raw[i] == '\0')
                                buf_append_str(&c->out, "\\0");
                        else
                                buf_append_char(&c->out, row->raw[i]);
                }
                buf_printf(&c->out, "]%s\n", row->raw_truncated ? "+" : "");
                return 0;
        }
        for (size_t i = 0; i < row->n_fields; i++) {
                buf_append_str(&c->out, row->fields[i].quoted ? "|q:" : "|");
                buf_append(&c->out, row->fields[i].data, row->fields[i].len);
        }
        buf_append_char(&c->out, '\n');
        return 0;
}
