/* Pattern: a POSIX extended regular expression for match / no-match tests on column values.
 *
 * Always compiled with regcomp(REG_EXTENDED | REG_NOSUB), which decides validity and stays the
 * reference. The patterns CSV schemas actually use — a run of single-character atoms (literal,
 * escaped literal, '.', bracket list) each with an optional *, +, ?, {n}, {n,}, {n,m}, maybe
 * anchored with ^ and $ — are additionally compiled to a bit-parallel NFA (shift-and with
 * ε-closure by doubling) that answers in a few instructions per byte, without the allocations
 * glibc's regexec() makes per call. Anything else (groups, alternation, GNU escapes such as \w,
 * [[:alpha:]], non-ASCII) is left to regexec(). Both agree by construction and by a
 * differential test; matching is bytewise, as regexec() is in the C locale the daemon runs in.
 * A Pattern is immutable after pattern_new() and may be shared between threads. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

typedef struct Pattern Pattern;

/* -EINVAL when the regex does not compile, -ENOMEM; errbuf (the message, as an S3bError's
 * would be: conf/ reports it at the YAML node) gets regerror()'s text or "out of memory". */
int pattern_new(const char *regex, Pattern **ret, char *errbuf, size_t errlen);
Pattern *pattern_free(Pattern *p);
DEFINE_CLEANUP_FUNC(Pattern *, pattern_free);

/* Searches s[0, n) like regexec(): 1 when it matches, 0 when not, -ENOMEM (per value on the
 * row path: a code only; the schema's caller names the line). s need not be
 * NUL-terminated but must not contain NUL bytes (a POSIX regex cannot see past one; the
 * schema rejects such values before matching). */
int pattern_match(const Pattern *p, const char *s, size_t n);

/* Whether the fast matcher handles this pattern (for tests and benchmarks). */
bool pattern_is_fast(const Pattern *p);

/* Whether pattern_match() can say 1 only for a value without NUL bytes: a fast pattern
 * anchored at both ends consumes every byte through positions none of which accepts NUL, and
 * on a NUL it says 0 (defined, despite the rule above). A caller that refuses NULs with its
 * own reason then needs to look for one only after a no-match. */
bool pattern_match_excludes_nul(const Pattern *p);
