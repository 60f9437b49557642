/* Report: the `<key>.rejected.csv` object listing every rejected row of a file.
 *
 * One CSV line per rejected row: line,column,reason,row — the physical line the row started
 * on, the column (its configured name, else its 1-based position, empty for the whole row),
 * why, and the row exactly as it was in the file (RFC 4180 quoted). The report is kept in
 * memory up to max_bytes; past that, entries are counted but not kept and the report ends
 * with a line saying how many were left out, so a file of huge bad rows cannot exhaust memory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ingest.h"
#include "common/util.h"

typedef struct Report Report;

Report *report_new(size_t max_bytes);
Report *report_free(Report *r);
DEFINE_CLEANUP_FUNC(Report *, report_free);

int report_add(Report *r, const IngestReject *rej);     /* 0, or -ENOMEM */
void report_reset(Report *r);
/* n more rejected rows that were counted but not kept (daemon/split.c's ranges over their
 * share): they count, and everything added after them is left out too, as past the cap. */
void report_add_dropped(Report *r, uint64_t n);                            /* back to just the header line */

uint64_t report_count(const Report *r);                  /* rows added, kept or not */
/* The finished text (adds the "left out" line once if needed); valid until the next call. */
const char *report_finish(Report *r, size_t *ret_len);
