/* Split reader: one big object read as byte ranges by several threads at once.
 *
 * A file of at least its pipeline's split_bytes, whose event gave its size and ETag, is read
 * as split_workers ranges, each by its own thread with its own HTTP clients, parser, writer
 * and rejects; every GET is a ranged GET pinned to the job's ETag (If-Match), so a 412 on any
 * range makes the job SUPERSEDED as a single stream's would. Each range i > 0 starts at a
 * record boundary proven from the bytes (common/csvsplit.h): a probe around its nominal offset
 * under every quote state, or, when that cannot prove one (quote-free CSV never can), the exact
 * state from the transfer functions of the segments to its left (one extra memchr-speed read
 * of them, in parallel). A range whose first boundary lies past the next range's start is
 * empty: its bytes go to its left neighbour, which always reads up to its right neighbour's
 * start and checks that its own parse ends at a record boundary exactly there (an internal
 * error, retried, if not). The header comes from the start of the object (one small GET) and is
 * fed to every range first. Rejects are merged in file order with their true line numbers
 * (each range counts its line breaks). Rows with the same key in different ranges are written
 * concurrently: the last write wins, whichever range it came from.
 *
 * Not split, and streamed as before: gzip (by compression setting, .gz key, Content-Encoding or
 * magic bytes: a deflate stream has no boundaries to start at), a pipeline with a source_line
 * column (its items need line numbers before a range's start is counted), a file without a
 * known ETag or size (`process`, `backfill`), a header the first GET cannot bind. See
 * docs/DESIGN.md, "The split reader". */
#pragma once

#include <stdbool.h>

#include "common/error.h"
#include "common/tableshape.h"
#include "daemon/job.h"
#include "daemon/report.h"

typedef enum SplitResult {
        SPLIT_UNSPLIT,          /* not a file to split: stream it */
        SPLIT_OK,
        SPLIT_FILE_FAILED,      /* the file is bad (j->reason says why) */
        SPLIT_AWS_FAILED,       /* S3 or DynamoDB failed, or an internal check: *ret_err */
        SPLIT_CANCELLED,
} SplitResult;

/* Whether j is read split (no I/O): the caller streams it otherwise. */
bool split_wanted(const Job *j);

/* One read of the object like job.c's read_once(): with write, rows go to DynamoDB; rejects
 * go to report in file order; j's counters are set (rows_total, rows_rejected, rows_written,
 * rows_superseded, consumed_wcu; bytes_read is added to). table may be NULL. */
SplitResult split_read(Job *j, const JobEnv *env, const TableShape *table, Report *report, bool write,
                       S3bError *ret_err);
