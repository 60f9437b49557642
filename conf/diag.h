/* DiagList: the loader's private collector of "FILE:LINE:COLUMN: message" diagnostics.
 *
 * The YAML reader and the config checks both report here without stopping, so one run shows
 * every problem. Entries keep their position and are sorted by it when handed to the caller's
 * ConfigDiag, so the output reads top to bottom like the file. The count is capped: a fuzzed
 * or binary file must not turn into megabytes of diagnostics. Not part of the public API. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"
#include "conf/config.h"

#define DIAG_MAX 100

typedef struct DiagEntry {
        unsigned line, column;  /* 1-based; 0/0 for whole-file problems ("FILE: message") */
        bool warning;
        size_t seq;             /* report order, to keep the sort stable */
        char *text;             /* fully formatted line */
} DiagEntry;

typedef struct DiagList {
        const char *file;       /* borrowed: the name printed in front of every line */
        DiagEntry *entries;
        size_t n_entries;
        size_t n_dropped;       /* reported past DIAG_MAX */
        size_t n_errors;        /* errors reported, kept or dropped; warnings don't count */
        bool oom;               /* an allocation failed; the list may be incomplete */
} DiagList;

void diag_list_init(DiagList *l, const char *file);
void diag_list_done(DiagList *l);

/* Adds "FILE:LINE:COLUMN: message" (or "FILE: message" when line is 0). */
void diag_add(DiagList *l, unsigned line, unsigned column, const char *fmt, ...) _printf_(4, 5);

/* Adds "FILE:LINE:COLUMN: warning: message": worth saying, not worth refusing the file. */
void diag_warn(DiagList *l, unsigned line, unsigned column, const char *fmt, ...) _printf_(4, 5);

/* Errors so far. */
static inline size_t diag_count(const DiagList *l) {
        return l->n_errors;
}

/* Sorts by position and appends every error to out->lines and every warning to
 * out->warnings; the list is left empty. -ENOMEM if any line was lost to an allocation
 * failure. */
int diag_list_move(DiagList *l, ConfigDiag *out);

/* Writes s into buf (size ≥ 8) for quoting in a message: at most about 60 bytes, control
 * characters escaped, "..." when cut. Values come from untrusted files and must not make a
 * diagnostic huge or put raw control bytes on a terminal. */
const char *diag_quote(const char *s, char *buf, size_t size);
