/* The split reader's oracle, for the unit test (tests/unit/test-csvsplit.c) and the fuzz target
 * (fuzz/fuzz-csvsplit.c): a CSV or JSON Lines input parsed as byte ranges, the way
 * daemon/split.c plans them, must give exactly the rows of the single stream — the same rows,
 * rejects, raw bytes and physical line numbers, in order.
 *
 * The plan is daemon/split.c's, over memory instead of ranged GETs: for each nominal offset
 * a probe from a look-behind point under every hypothesis (csvsplit.h), within a probe window;
 * without a proof the exact state from the composed transfer functions of the segments to the
 * left, then the first record end at or after the offset; starts made monotone (a range whose
 * first boundary lies past the next start is empty: its bytes go to its left neighbour). Every
 * range but the last must end with the parser at a record boundary. Ranges after the first are
 * fed a "\n" first, as the daemon feeds them the header, so a byte order mark inside the file
 * is data as in the single stream; their lines are shifted by the line breaks before them.
 *
 * The lines-mode parse is the same splitter ingest uses (every '\n' ends a line); its rows are
 * compared as (line, bytes). Static functions only: include once per binary. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/csv.h"
#include "common/csvsplit.h"
#include "tests/unit/csv-collect.h"

#define SPLIT_CHECK_RANGES_MAX 16

typedef struct SplitCheckStats {
        unsigned proven;        /* starts proven by the local probe */
        unsigned exact;         /* starts that needed the transfer functions */
        unsigned empty;         /* ranges with no record (handed back) */
} SplitCheckStats;

typedef struct SplitCheckPlan {
        bool lines;             /* JSON Lines instead of CSV */
        CsvOptions csv;
        unsigned n;             /* ranges, 1..SPLIT_CHECK_RANGES_MAX */
        size_t offsets[SPLIT_CHECK_RANGES_MAX];  /* nominal, offsets[0] = 0, ascending */
        size_t look_behind, probe_window;
        size_t chunk;           /* bytes per scanner call (a GET delivers chunks) */
} SplitCheckPlan;

static uint64_t split_count_nl(const char *d, size_t n) {
        uint64_t k = 0;

        for (const char *p = d, *end = d + n; (p = memchr(p, '\n', (size_t) (end - p))); p++)
                k++;
        return k;
}

/* Parses d[0..n) (CSV or lines) into c; at_boundary: whether the parse ended at one. */
static int split_parse(const SplitCheckPlan *pl, const char *prefix, size_t np, const char *d,
                       size_t n, bool last, CsvCollect *c, bool *ret_at_boundary) {
        CsvParser *p = NULL;
        int r;

        if (pl->lines) {
                /* rows are lines; ingest's splitter (lines_feed) in miniature */
                uint64_t line = c->skip_lines;
                size_t start = 0;

                for (size_t i = 0; i <= n; i++) {
                        if (i < n && d[i] != '\n')
                                continue;
                        if (i == n && (start == n || !last))
                                break;
                        line++;
                        buf_printf(&c->out, "%llu:", (unsigned long long) (line + c->line_shift));
                        buf_append(&c->out, d + start, i - start);
                        buf_append_char(&c->out, '\n');
                        start = i + 1;
                }
                *ret_at_boundary = start == n;
                return 0;
        }
        r = csv_parser_new(&pl->csv, csv_collect, c, &p);
        if (r < 0)
                return r;
        r = csv_parser_feed(p, prefix, np);
        for (size_t at = 0; r >= 0 && at < n; at += pl->chunk)
                r = csv_parser_feed(p, d + at, MIN(pl->chunk, n - at));
        *ret_at_boundary = csv_parser_at_row_start(p);
        if (r >= 0 && last)
                r = csv_parser_finish(p);
        csv_parser_free(p);
        return r;
}

/* Scans d[from..to) in chunks through find (want_find) or advance; returns the object offset
 * just after the boundary found, or SIZE_MAX. `after`: boundaries only from this offset. */
static size_t split_scan(const SplitCheckPlan *pl, CsvSplit *s, const char *d, size_t from,
                         size_t to, size_t after, bool want_find) {
        for (size_t at = from; at < to; at += pl->chunk) {
                size_t len = MIN(pl->chunk, to - at), k;

                if (!want_find) {
                        csv_split_advance(s, d + at, len);
                        continue;
                }
                k = csv_split_find(s, d + at, len, after > at ? after - at : 0);
                if (k <= len)
                        return at + k;
        }
        return SIZE_MAX;
}

/* Where range i (≥ 1) starts: a record boundary after a line break at or after offsets[i]. */
static size_t split_start(const SplitCheckPlan *pl, const char *d, size_t n, unsigned i,
                          SplitCheckStats *st) {
        size_t o = pl->offsets[i], lb = o > pl->look_behind ? o - pl->look_behind : 0;
        size_t bom = csv_split_bom(d, n), k;
        CsvQState state = CSVQ_FIELD_START;
        CsvSplit s;

        csv_split_init(&s, pl->csv.delimiter, pl->lines);
        if (lb <= bom) {
                /* from the start of the object the state is known */
                lb = bom;
                csv_split_reset_exact(&s, CSVQ_FIELD_START);
        }
        k = split_scan(pl, &s, d, lb, MIN(n, o + pl->probe_window), o, true);
        if (k != SIZE_MAX) {
                st->proven++;
                return k;
        }
        /* no proof: the exact state at o, from the segments' transfer functions */
        st->exact++;
        for (unsigned j = 0; j < i; j++) {
                /* the parser drops a byte order mark at the start: never data */
                size_t from = MAX(pl->offsets[j], bom), to = MAX(pl->offsets[j + 1], bom);
                CsvTransfer t;

                csv_split_reset_all(&s);
                split_scan(pl, &s, d, from, to, 0, false);
                t = csv_split_transfer(&s);
                state = csv_transfer_apply(&t, state);
        }
        csv_split_reset_exact(&s, state);
        k = split_scan(pl, &s, d, MAX(o, bom), n, o, true);
        return k == SIZE_MAX ? n : k;
}

/* 0 when the split parse equals the single stream; else 1 with a message in why. */
static int split_check(const SplitCheckPlan *pl, const char *d, size_t n, SplitCheckStats *st,
                       char *why, size_t whysz) {
        CsvCollect single = { .out = BUF_INIT(1u << 26) }, split = { .out = BUF_INIT(1u << 26) };
        size_t starts[SPLIT_CHECK_RANGES_MAX + 1];
        uint64_t lines_before = 0;
        bool at;
        int r, bad = 0;

        r = split_parse(pl, "", 0, d, n, true, &single, &at);
        if (r < 0) {
                snprintf(why, whysz, "single parse failed: %d", r);
                bad = 1;
                goto out;
        }
        starts[0] = 0;
        starts[pl->n] = n;
        for (unsigned i = 1; i < pl->n; i++)
                starts[i] = split_start(pl, d, n, i, st);
        for (unsigned i = pl->n - 1; i >= 1; i--)
                if (starts[i] > starts[i + 1])
                        starts[i] = starts[i + 1];
        for (unsigned i = 0; i < pl->n; i++) {
                size_t a = starts[i], b = starts[i + 1];
                bool last = b == n;

                if (a == b) {
                        st->empty++;
                        continue;
                }
                if (a > 0 && d[a - 1] != '\n') {
                        snprintf(why, whysz, "range %u starts at %zu, not after a line break", i, a);
                        bad = 1;
                        goto out;
                }
                split.skip_lines = a > 0 ? 1 : 0;
                split.line_shift = lines_before - split.skip_lines;
                r = split_parse(pl, "\n", a > 0 ? 1 : 0, d + a, b - a, last, &split, &at);
                if (r < 0 || (!last && !at)) {
                        snprintf(why, whysz, "range %u [%zu, %zu): %s", i, a, b,
                                 r < 0 ? "parse failed" : "does not end at a record boundary");
                        bad = 1;
                        goto out;
                }
                lines_before += split_count_nl(d + a, b - a);
                if (last)
                        break;
        }
        if (single.out.len != split.out.len || memcmp(buf_str(&single.out), buf_str(&split.out), single.out.len) != 0) {
                size_t k = 0;

                while (k < single.out.len && k < split.out.len && single.out.data[k] == split.out.data[k])
                        k++;
                snprintf(why, whysz, "rows differ at byte %zu of the rendering: single \"%.60s\" split \"%.60s\"",
                         k, buf_str(&single.out) + k, buf_str(&split.out) + k);
                bad = 1;
        }
out:
        buf_done(&single.out);
        buf_done(&split.out);
        return bad;
}
