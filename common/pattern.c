/* Pattern: regcomp() for validity and the general case, shift-and for the simple case.
 *
 * The simple pattern is a sequence of positions 0..m-1, each a byte set, optionally skippable
 * ('?' or a copy beyond n in {n,m}) or repeatable ('*', the tail of '+' / {n,}). NFA state i means
 * "positions before i are matched"; state m accepts. A uint64_t holds the states, so m ≤ 63.
 * Per input byte c:  T = S & B[c];  S = (T << 1) | (T & STAR), then the ε-closure over
 * skippable positions. The closure is a parallel prefix over runs of OPT bits (six shift/or
 * steps), so {0,40} costs the same as {1}. Unanchored patterns re-inject state 0 before every
 * byte (search semantics) and stop at the first accept; '$' checks acceptance at the end only. */
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pattern.h"

#define MAX_POSITIONS 63
#define MAX_COUNT 63            /* largest {n,m} bound the fast path expands */

struct Pattern {
        regex_t re;
        bool fast;
        bool anchor_start, anchor_end;
        uint64_t init;          /* closure of state 0 */
        uint64_t accept;        /* bit m */
        uint64_t opt, star;
        uint64_t bytes[256];    /* positions accepting each byte */
};

/* ε-closure: a state whose position is skippable also reaches the next state, transitively. */
static uint64_t closure(uint64_t s, uint64_t opt) {
        uint64_t p = opt;

        if (!opt)
                return s;
        for (unsigned k = 1; k < 64; k <<= 1) {
                s |= (s & p) << k;
                p &= p >> k;
        }
        return s;
}

typedef struct Atom {
        uint8_t set[32];        /* bitmap of accepted bytes */
} Atom;

static void set_add(Atom *a, unsigned c) {
        a->set[c >> 3] |= (uint8_t) (1u << (c & 7));
}

static bool is_meta(char c) {
        return strchr(".[]()*+?{}|^$\\", c) != NULL;
}

/* Parses one bracket list starting after '['; returns the position after ']' or NULL when
 * the list uses something the fast path leaves to regexec(). */
static const char *parse_bracket(const char *p, Atom *a) {
        Atom in = {};
        bool negate = false, first = true;

        if (*p == '^') {
                negate = true;
                p++;
        }
        for (;; first = false) {
                unsigned lo, hi;

                if (*p == '\0')
                        return NULL;
                if (*p == ']' && !first)
                        break;
                if (*p == '[' || *p == '\\' || (unsigned char) *p >= 0x80)
                        return NULL;    /* [:class:], [=e=], [.c.], escapes, non-ASCII */
                lo = hi = (unsigned char) *p++;
                if (*p == '-' && p[1] != ']' && p[1] != '\0') {
                        if (p[1] == '[' || p[1] == '\\' || (unsigned char) p[1] >= 0x80)
                                return NULL;
                        hi = (unsigned char) p[1];
                        p += 2;
                        if (hi < lo)
                                return NULL;    /* regcomp rejects it anyway */
                }
                for (unsigned c = lo; c <= hi; c++)
                        set_add(&in, c);
        }
        for (unsigned c = 1; c < 256; c++) {    /* NUL never matches, as with regexec */
                bool has = in.set[c >> 3] & (1u << (c & 7));

                if (has != negate)
                        set_add(a, c);
        }
        return p + 1;
}

/* {n}, {n,}, {n,m}: returns the position after '}' or NULL. max = -1 for no upper bound. */
static const char *parse_interval(const char *p, int *min, int *max) {
        char *end;
        long lo, hi;

        if (*p < '0' || *p > '9')
                return NULL;
        lo = strtol(p, &end, 10);
        p = end;
        if (*p == '}') {
                hi = lo;
        } else if (*p == ',' && p[1] == '}') {
                hi = -1;
                p++;
        } else if (*p == ',' && p[1] >= '0' && p[1] <= '9') {
                hi = strtol(p + 1, &end, 10);
                p = end;
                if (*p != '}' || hi < lo)
                        return NULL;
        } else
                return NULL;
        if (lo > MAX_COUNT || hi > MAX_COUNT)
                return NULL;
        *min = (int) lo;
        *max = (int) hi;
        return p + 1;
}

static bool add_positions(Pattern *pt, unsigned *m, const Atom *a, int min, int max) {
        int copies = max < 0 ? MAX(min, 1) : max;

        if (max == 0)
                return true;    /* x{0}: matches the empty string only */
        if (*m + (unsigned) copies > MAX_POSITIONS)
                return false;
        for (int k = 0; k < copies; k++) {
                unsigned i = (*m)++;

                for (unsigned c = 0; c < 256; c++)
                        if (a->set[c >> 3] & (1u << (c & 7)))
                                pt->bytes[c] |= UINT64_C(1) << i;
                if (k >= min)
                        pt->opt |= UINT64_C(1) << i;
                if (max < 0 && k == copies - 1) {
                        /* the last copy of x* / x+ / x{n,} also loops on itself; for x* it is
                         * skippable too */
                        pt->star |= UINT64_C(1) << i;
                        if (min == 0)
                                pt->opt |= UINT64_C(1) << i;
                }
        }
        return true;
}

/* Builds the fast matcher; false leaves the pattern to regexec(). */
static bool compile_fast(Pattern *pt, const char *re) {
        const char *p = re;
        unsigned m = 0;

        if (*p == '^') {
                pt->anchor_start = true;
                p++;
        }
        while (*p) {
                Atom a = {};
                int min = 1, max = 1;

                if (*p == '$' && p[1] == '\0') {
                        pt->anchor_end = true;
                        break;
                }
                if ((unsigned char) *p >= 0x80 || *p < 0x20)
                        return false;
                if (*p == '.') {
                        for (unsigned c = 1; c < 256; c++)
                                set_add(&a, c);
                        p++;
                } else if (*p == '[') {
                        p = parse_bracket(p + 1, &a);
                        if (!p)
                                return false;
                } else if (*p == '\\') {
                        /* only escaped metacharacters: \w, \b, \1... are GNU or back-references */
                        if (!is_meta(p[1]))
                                return false;
                        set_add(&a, (unsigned char) p[1]);
                        p += 2;
                } else if (is_meta(*p)) {
                        return false;   /* groups, alternation, stray quantifiers, inner anchors */
                } else {
                        set_add(&a, (unsigned char) *p);
                        p++;
                }
                switch (*p) {
                case '*':
                        min = 0, max = -1, p++;
                        break;
                case '+':
                        min = 1, max = -1, p++;
                        break;
                case '?':
                        min = 0, max = 1, p++;
                        break;
                case '{':
                        p = parse_interval(p + 1, &min, &max);
                        if (!p)
                                return false;
                        break;
                }
                if (*p == '*' || *p == '+' || *p == '?' || *p == '{')
                        return false;   /* stacked quantifiers */
                if (!add_positions(pt, &m, &a, min, max))
                        return false;
        }
        pt->accept = UINT64_C(1) << m;
        pt->init = closure(1, pt->opt);
        return true;
}

int pattern_new(const char *regex, Pattern **ret, char *errbuf, size_t errlen) {
        Pattern *pt = calloc(1, sizeof(*pt));
        int r;

        if (!pt) {
                if (errbuf && errlen)
                        snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        r = regcomp(&pt->re, regex, REG_EXTENDED | REG_NOSUB);
        if (r != 0) {
                if (errbuf && errlen)
                        regerror(r, &pt->re, errbuf, errlen);
                free(pt);
                return r == REG_ESPACE ? -ENOMEM : -EINVAL;
        }
        if (!compile_fast(pt, regex)) {
                memset(pt->bytes, 0, sizeof(pt->bytes));
                pt->fast = false;
        } else
                pt->fast = true;
        *ret = pt;
        return 0;
}

Pattern *pattern_free(Pattern *p) {
        if (!p)
                return NULL;
        regfree(&p->re);
        free(p);
        return NULL;
}

bool pattern_is_fast(const Pattern *p) {
        return p->fast;
}

bool pattern_match_excludes_nul(const Pattern *p) {
        /* no bytes[0] bit is ever set: '.' and bracket lists start at 1, literals are not NUL */
        return p->fast && p->anchor_start && p->anchor_end;
}

static int match_regexec(const Pattern *p, const char *s, size_t n) {
#ifdef REG_STARTEND
        regmatch_t m = { .rm_so = 0, .rm_eo = (regoff_t) n };

        return regexec(&p->re, s, 1, &m, REG_STARTEND) == 0;
#else
        char small[256], *copy = n < sizeof(small) ? small : malloc(n + 1);
        int r;

        if (!copy)
                return -ENOMEM;
        memcpy(copy, s, n);
        copy[n] = '\0';
        r = regexec(&p->re, copy, 0, NULL, 0) == 0;
        if (copy != small)
                free(copy);
        return r;
#endif
}

/* The common case in schemas: anchored at the start, no skippable position. A dead state
 * stays dead (nothing re-injects state 0), so the loop need not test for it per byte. */
static int match_anchored_plain(const Pattern *p, const unsigned char *u, size_t n) {
        uint64_t st = p->init, star = p->star;
        size_t i = 0;

        if (p->anchor_end) {
                /* two bytes a turn: the loop's own bookkeeping was a third of the cost */
                for (; i + 1 < n; i += 2) {
                        uint64_t t = st & p->bytes[u[i]];

                        st = (t << 1) | (t & star);
                        t = st & p->bytes[u[i + 1]];
                        st = (t << 1) | (t & star);
                }
                if (i < n) {
                        uint64_t t = st & p->bytes[u[i]];

                        st = (t << 1) | (t & star);
                }
                return (st & p->accept) != 0;
        }
        for (; i < n && st; i++) {
                uint64_t t;

                if (st & p->accept)
                        return 1;
                t = st & p->bytes[u[i]];
                st = (t << 1) | (t & star);
        }
        return (st & p->accept) != 0;
}

/* The general shift-and loop: any anchoring, skippable positions through closure(). */
static int match_general(const Pattern *p, const unsigned char *u, size_t n) {
        uint64_t st = p->init;

        for (size_t i = 0; i < n; i++) {
                uint64_t t;

                if (!p->anchor_end && (st & p->accept))
                        return 1;
                if (!p->anchor_start)
                        st |= p->init;
                else if (st == 0)
                        return 0;
                t = st & p->bytes[u[i]];
                st = closure((t << 1) | (t & p->star), p->opt);
        }
        if (!p->anchor_start)
                st |= p->init;
        return (st & p->accept) != 0;
}

int pattern_match(const Pattern *p, const char *s, size_t n) {
        const unsigned char *u = (const unsigned char *) s;

        if (!p->fast)
                return match_regexec(p, s, n);
        if (p->anchor_start && !p->opt)
                return match_anchored_plain(p, u, n);
        return match_general(p, u, n);
}
