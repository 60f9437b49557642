/* CSV push parser.
 *
 * One pass per byte with a small state machine; field boundaries are kept as offsets from the
 * start of the row, so a row that lies inside one chunk is handed out without being copied,
 * and only the tail of a chunk (a row cut by the chunk boundary) is carried over into a
 * bounded buffer. "" escapes are undone into a scratch buffer only for the fields that have
 * them. UTF-8 is checked once per row with an ASCII fast path, then field by field only to
 * name the column of a bad row.
 *
 * The carry buffer holds up to max_row_bytes + 2 bytes: the row, a \r, and one byte of
 * lookahead to tell "exactly at the limit" from "over it".
 *
 * A row that outgrows the window is not dropped up to the next \n: that \n may lie inside a
 * quoted field, and the line after it would then become a row made from the middle of a
 * field (a 500 KiB quoted field holding "\nA99999,Evil,Row,CS666\n" wrote that line to the
 * table). Instead the same state machine runs on over the rest of the record without storing
 * it, so the record ends exactly where it would have ended within the limit; its reject is
 * emitted then, with the start that was kept. This needs state, not memory, so there is no
 * bound on how far the skip goes but the end of input; a quote still open there is reported
 * as CSV_ROW_UNTERMINATED_QUOTE, for the caller to fail the file. */
#include <errno.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/buf.h"
#include "common/bytescan.h"
#include "common/csv.h"

#define _fallthrough_ __attribute__((__fallthrough__))

#define CSV_DEFAULT_MAX_ROW (400u * 1024u)
#define CSV_DEFAULT_MAX_FIELDS 1024u

typedef enum State {
        ST_FIELD_START,
        ST_UNQUOTED,
        ST_QUOTED,
        ST_QUOTE_SEEN,          /* a '"' inside a quoted field: an escape or the closing quote */
        ST_CLOSED,              /* after the closing quote */
        ST_CLOSED_CR,           /* after the closing quote and a \r */
} State;

enum {
        CLS_DATA = 0,
        CLS_DELIM,
        CLS_NL,
        CLS_QUOTE,
        CLS_NUL,
};

typedef struct Span {
        size_t start, end;      /* offsets into the row's raw bytes */
        bool quoted, escaped;
} Span;

struct CsvParser {
        CsvOptions opts;
        CsvRowFn fn;
        void *userdata;
        uint8_t cls[256];       /* unquoted fields stop on delimiter, \n, " and NUL */
        uint8_t cls_q[256];     /* quoted fields stop on ", \n and NUL */

        unsigned bom_matched;   /* leading bytes that matched EF BB BF so far */
        bool bom_done;

        State state;
        bool skipping;          /* scanning on, unstored, to the end of an oversized record */
        Buf carry;              /* bytes of the current row from earlier chunks */
        Span *spans;
        size_t n_spans, cap_spans;
        size_t field_start, field_end;
        bool field_quoted, field_escaped;
        CsvRowError error;
        unsigned error_column;
        uint64_t line;          /* lines before the current row */
        uint64_t row_newlines;  /* line breaks inside quotes in the current row */

        Buf unescaped;
        CsvField *fields;
        size_t cap_fields;
};

static const char *const row_error_names[_CSV_ROW_ERROR_MAX] = {
        [CSV_ROW_OK] = "ok",
        [CSV_ROW_BAD_UTF8] = "invalid UTF-8",
        [CSV_ROW_STRAY_QUOTE] = "quote inside an unquoted field",
        [CSV_ROW_AFTER_QUOTE] = "unexpected text after a closing quote",
        [CSV_ROW_UNTERMINATED_QUOTE] = "unterminated quoted field",
        [CSV_ROW_FIELD_TOO_LONG] = "field longer than max_field_bytes",
        [CSV_ROW_ROW_TOO_LONG] = "row longer than max_row_bytes",
        [CSV_ROW_TOO_MANY_FIELDS] = "too many fields",
        [CSV_ROW_NUL] = "NUL byte in field",
};

const char *csv_row_error_to_string(CsvRowError e) {
        return e >= 0 && e < _CSV_ROW_ERROR_MAX ? row_error_names[e] : "unknown error";
}

#if defined(__SSE2__)
/* Whether the sixteen bytes of v (starting on a sequence boundary; hi: their high bits) are
 * whole well-formed sequences: ASCII, two-byte ones (lead C2..DF) and three-byte ones led by
 * E1..EC or EE..EF, whose continuation bytes are any of 80..BF (table 3-7) — the accented
 * letters, dashes and quotes of real text, judged from byte-class masks at once instead of a
 * data-dependent branch per character. False means "look byte by byte", not "invalid": E0,
 * ED, four-byte sequences and a sequence crossing the block's end are left to that. Signed
 * compares, as SSE2 has no unsigned ones: 80..BF is -128..-65, C2..DF -62..-33, E1..EF
 * -31..-17. */
static bool utf8_block_simple(__m128i v, unsigned hi) {
        unsigned cont = (unsigned) _mm_movemask_epi8(_mm_cmplt_epi8(v, _mm_set1_epi8(-64)));
        unsigned lead2 = (unsigned) _mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(-63)),
                                                                    _mm_cmplt_epi8(v, _mm_set1_epi8(-32))));
        unsigned lead3 = (unsigned) _mm_movemask_epi8(_mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char) 0xed)),
                                                                       _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(-32)),
                                                                                     _mm_cmplt_epi8(v, _mm_set1_epi8(-16)))));
        /* the continuation bytes the leads call for; one past bit 15 never equals cont */
        unsigned want = (lead2 << 1) | (lead3 << 1) | (lead3 << 2);

        return (hi & ~(cont | lead2 | lead3)) == 0 && want == cont;
}
#endif

/* Table-driven check (Unicode 15, table 3-7 "Well-Formed UTF-8 Byte Sequences"), with a word
 * at a time skip over ASCII, which is most of any CSV. */
bool utf8_is_valid(const void *data, size_t n) {
        const uint8_t *s = data, *end = s + n;

        while (s < end) {
                uint64_t w;
                uint8_t c;

#if defined(__SSE2__)
                /* sixteen bytes at a time: ASCII (the high bits are the movemask) or simple
                 * sequences that end inside the block, so the next one starts on a boundary */
                while (end - s >= 16) {
                        __m128i v = _mm_loadu_si128((const __m128i *) (const void *) s);
                        unsigned m = (unsigned) _mm_movemask_epi8(v);

                        /* an ASCII block passes the masks too: no branch on m, whose
                         * outcome (a third of the blocks of real text) mispredicts */
                        if (!utf8_block_simple(v, m)) {
                                s += __builtin_ctz(m);
                                break;
                        }
                        s += 16;
                }
                /* at a non-ASCII byte the word loop stops at once; it takes the tail */
#endif
                while (end - s >= 8) {
                        memcpy(&w, s, 8);
                        w &= BYTESCAN_HIGHS;
                        if (w) {
#if BYTESCAN_WORDS
                                /* straight to the first non-ASCII byte, not byte by byte */
                                s += bytes_first(w);
#endif
                                break;
                        }
                        s += 8;
                }
                if (s == end)
                        break;
                c = *s;
                if (c < 0x80) {
                        s++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf) {
                        if (end - s < 2 || (s[1] & 0xc0) != 0x80)
                                return false;
                        s += 2;
                } else if (c >= 0xe0 && c <= 0xef) {
                        uint8_t lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

                        if (end - s < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
                                return false;
                        s += 3;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        uint8_t lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

                        if (end - s < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 ||
                            (s[3] & 0xc0) != 0x80)
                                return false;
                        s += 4;
                } else
                        return false;
        }
        return true;
}

int csv_parser_new(const CsvOptions *opts, CsvRowFn fn, void *userdata, CsvParser **ret) {
        CsvParser *p;
        char d = opts->delimiter;

        if (d == '"' || d == '\r' || d == '\n' || d == '\0' || (unsigned char) d >= 0x80)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->opts = *opts;
        if (p->opts.max_row_bytes == 0)
                p->opts.max_row_bytes = CSV_DEFAULT_MAX_ROW;
        if (p->opts.max_field_bytes == 0 || p->opts.max_field_bytes > p->opts.max_row_bytes)
                p->opts.max_field_bytes = p->opts.max_row_bytes;
        if (p->opts.max_fields == 0)
                p->opts.max_fields = CSV_DEFAULT_MAX_FIELDS;
        p->fn = fn;
        p->userdata = userdata;
        p->cls[(unsigned char) d] = CLS_DELIM;
        p->cls['\n'] = CLS_NL;
        p->cls['"'] = CLS_QUOTE;
        p->cls['\0'] = CLS_NUL;
        p->cls_q['\n'] = CLS_NL;
        p->cls_q['"'] = CLS_QUOTE;
        p->cls_q['\0'] = CLS_NUL;
        buf_init(&p->carry, p->opts.max_row_bytes + 2);
        buf_init(&p->unescaped, p->opts.max_row_bytes + 2);
        *ret = p;
        return 0;
}

CsvParser *csv_parser_free(CsvParser *p) {
        if (!p)
                return NULL;
        buf_done(&p->carry);
        buf_done(&p->unescaped);
        free(p->spans);
        free(p->fields);
        free(p);
        return NULL;
}

uint64_t csv_parser_lines(const CsvParser *p) {
        return p->line;
}

bool csv_parser_at_row_start(const CsvParser *p) {
        return !p->skipping && p->state == ST_FIELD_START && p->n_spans == 0 && p->carry.len == 0;
}

static void row_error(CsvParser *p, CsvRowError e, size_t column) {
        if (p->error != CSV_ROW_OK)
                return;
        p->error = e;
        p->error_column = (unsigned) MIN(column, (size_t) UINT32_MAX);
}

static void row_reset(CsvParser *p) {
        p->state = ST_FIELD_START;
        p->n_spans = 0;
        p->field_escaped = false;
        p->error = CSV_ROW_OK;
        p->error_column = 0;
        p->row_newlines = 0;
        buf_reset(&p->carry);
}

static int grow_spans(CsvParser *p) {
        size_t ncap = p->cap_spans ? p->cap_spans * 2 : 16;
        Span *s = realloc(p->spans, ncap * sizeof(*s));

        if (!s)
                return -ENOMEM;
        p->spans = s;
        p->cap_spans = ncap;
        return 0;
}

static int end_field_slow(CsvParser *p, size_t end) {
        if (p->n_spans >= p->opts.max_fields)
                row_error(p, CSV_ROW_TOO_MANY_FIELDS, 0);
        else {
                int r = p->n_spans == p->cap_spans ? grow_spans(p) : 0;

                if (r < 0)
                        return r;
                p->spans[p->n_spans++] = (Span) { .start = p->field_start, .end = end,
                                                  .quoted = p->field_quoted,
                                                  .escaped = p->field_escaped };
        }
        p->field_escaped = false;
        return 0;
}

/* Runs once per field: the common case stays inline in the scan loop. */
static inline int end_field(CsvParser *p, size_t end) {
        if (p->n_spans < p->cap_spans && p->n_spans < p->opts.max_fields) {
                p->spans[p->n_spans++] = (Span) { .start = p->field_start, .end = end,
                                                  .quoted = p->field_quoted,
                                                  .escaped = p->field_escaped };
                p->field_escaped = false;
                return 0;
        }
        return end_field_slow(p, end);
}

/* The end of a run of plain field bytes from pos: the first byte whose class is not data (a
 * quoted field stops on ", \n and NUL; an unquoted one also on the delimiter), or stop. Eight
 * bytes at a time where it can: long text fields are most of a realistic file's bytes. */
static inline size_t skip_data(const char *buf, size_t pos, size_t stop, const uint8_t *cls,
                               char delim, bool quoted) {
#if defined(__SSE2__)
        /* Sixteen at a time where the machine has it (every x86-64 does): the same test, a
         * quarter of the instructions per byte of the word loop below, which takes the tail. */
        const __m128i quote = _mm_set1_epi8('"'), nl = _mm_set1_epi8('\n'), d = _mm_set1_epi8(delim);

        while (stop - pos >= 16) {
                __m128i w = _mm_loadu_si128((const __m128i *) (const void *) (buf + pos));
                __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, nl)),
                                         _mm_cmpeq_epi8(w, _mm_setzero_si128()));
                unsigned mask;

                if (!quoted)
                        m = _mm_or_si128(m, _mm_cmpeq_epi8(w, d));
                mask = (unsigned) _mm_movemask_epi8(m);
                if (mask)
                        return pos + (size_t) __builtin_ctz(mask);
                pos += 16;
        }
#endif
#if BYTESCAN_WORDS
        while (stop - pos >= 8) {
                uint64_t w = bytes_load(buf + pos);
                uint64_t m = bytes_eq(w, '"') | bytes_eq(w, '\n') | bytes_eq(w, 0);

                if (!quoted)
                        m |= bytes_eq(w, (uint8_t) delim);
                if (m)
                        return pos + bytes_first(m);
                pos += 8;
        }
#endif
        while (pos < stop && cls[(uint8_t) buf[pos]] == CLS_DATA)
                pos++;
        return pos;
}

/* Where scan() stops: its state and position saved for the next call, ret passed on. */
static inline int scan_exit(CsvParser *p, State st, size_t *io_pos, size_t pos, int ret) {
        p->state = st;
        *io_pos = pos;
        return ret;
}

/* A field ends at row offset `end`, on the delimiter or \n c at chunk index pos: 0 when the
 * row goes on, 1 when c ends it (saved with the \n left at *io_pos), < 0 on ENOMEM. */
static inline int field_ends(CsvParser *p, size_t end, char c, size_t pos, size_t *io_pos) {
        int r = end_field(p, end);

        if (r < 0 || c != '\n')
                return r;
        return scan_exit(p, ST_FIELD_START, io_pos, pos, 1);
}

/* Runs the state machine over buf[*io_pos, stop). Returns 1 when a \n ends the row (left at
 * *io_pos, not consumed), 0 when stop is reached, < 0 on ENOMEM. `base` maps a chunk index to
 * a row offset: row offset = index + base (mod 2^N, the carried bytes come first).
 *
 * One function of some 90 lines on purpose (tests/tools/funclen.py allows it): the scanner's
 * state machine is one loop over the bytes with the state, the position and the class tables
 * in locals, which the compiler keeps in registers. Split into a function per state, every
 * state change would pass them through memory, and the machine would be read in pieces.
 * (Measured with callgrind on 5 MB bench/gen-students files: this form, with skip_data(),
 * field_ends() and scan_exit() instead of a goto, runs no more instructions than the one with
 * the goto: 64.1M → 64.0M plain, 70.3M → 70.2M quoted.) */
static int scan(CsvParser *p, const char *buf, size_t *io_pos, size_t stop, size_t base) {
        const uint8_t *cls = p->cls, *cls_q = p->cls_q;
        char delim = p->opts.delimiter;
        State st = p->state;
        size_t pos = *io_pos;
        int r;

        while (pos < stop) {
                char c;

                switch (st) {
                case ST_FIELD_START:
                        if (buf[pos] == '"') {
                                p->field_quoted = true;
                                p->field_start = pos + 1 + base;
                                st = ST_QUOTED;
                                pos++;
                                break;
                        }
                        p->field_quoted = false;
                        p->field_start = pos + base;
                        st = ST_UNQUOTED;
                        _fallthrough_;
                case ST_UNQUOTED:
                        pos = skip_data(buf, pos, stop, cls, delim, false);
                        if (pos == stop)
                                break;
                        c = buf[pos];
                        if (c == '"' || c == '\0') {
                                /* both are data and a row error; a quote that does not
                                 * start a field opens nothing, here or while skipping */
                                row_error(p, c == '"' ? CSV_ROW_STRAY_QUOTE : CSV_ROW_NUL,
                                          p->n_spans + 1);
                                pos++;
                                break;
                        }
                        r = field_ends(p, pos + base, c, pos, io_pos);
                        if (r != 0)
                                return r;
                        st = ST_FIELD_START;
                        pos++;
                        break;
                case ST_QUOTED:
                        pos = skip_data(buf, pos, stop, cls_q, delim, true);
                        if (pos == stop)
                                break;
                        if (buf[pos] == '\n')
                                p->row_newlines++;
                        else if (buf[pos] == '\0')
                                row_error(p, CSV_ROW_NUL, p->n_spans + 1);
                        else
                                st = ST_QUOTE_SEEN;
                        pos++;
                        break;
                case ST_QUOTE_SEEN:
                        if (buf[pos] == '"') {
                                p->field_escaped = true;
                                st = ST_QUOTED;
                                pos++;
                                break;
                        }
                        p->field_end = pos + base - 1;
                        st = ST_CLOSED;
                        _fallthrough_;
                case ST_CLOSED:
                case ST_CLOSED_CR:
                        c = buf[pos];
                        if (c == '\n' || (c == delim && st == ST_CLOSED)) {
                                r = field_ends(p, p->field_end, c, pos, io_pos);
                                if (r != 0)
                                        return r;
                                st = ST_FIELD_START;
                                pos++;
                        } else if (c == '\r' && st == ST_CLOSED) {
                                st = ST_CLOSED_CR;
                                pos++;
                        } else {
                                /* The rest of the field is read as unquoted text so the row
                                 * still ends where a reader of the file would expect. */
                                row_error(p, CSV_ROW_AFTER_QUOTE, p->n_spans + 1);
                                st = ST_UNQUOTED;
                        }
                        break;
                }
        }
        return scan_exit(p, st, io_pos, pos, 0);
}

/* The head of an escaped field, sixteen bytes at a time while sixteen remain: each block is
 * stored whole and the output advanced up to and with its first quote (the first of a ""),
 * the input past the second. A memchr() and a memcpy() call per "" were 4% of validate's
 * time on bench/gen-orders.py's text (perf). The stores stay inside the room reserved: the output
 * never gets ahead of the input, and a block is only read where sixteen input bytes remain.
 * *io_j: the input consumed; the caller takes the rest. */
static void unescape_blocks(CsvParser *p, const CsvField *f, size_t *io_j) {
#if defined(__SSE2__)
        const __m128i quote = _mm_set1_epi8('"');
        char *d = p->unescaped.data + p->unescaped.len;
        size_t j = *io_j;

        while (j + 16 <= f->len) {      /* j passes f->len after a quote that ends it */
                __m128i v = _mm_loadu_si128((const __m128i *) (const void *) (f->data + j));
                unsigned m = (unsigned) _mm_movemask_epi8(_mm_cmpeq_epi8(v, quote));
                size_t k = m ? (size_t) __builtin_ctz(m) + 1 : 16;

                _mm_storeu_si128((__m128i *) (void *) d, v);
                d += k;
                j += k + (m != 0);
        }
        p->unescaped.len = (size_t) (d - p->unescaped.data);
        *io_j = j;
#else
        (void) p, (void) f, (void) io_j;
#endif
}

/* Copies field f without its "" escapes to the end of p->unescaped and points f there. The
 * first escaped field of a row reserves room for the whole row, so the fields copied before
 * stay put. */
static int unescape_field(CsvParser *p, CsvField *f, size_t raw_len, bool *io_reserved) {
        size_t at, j = 0;

        if (!*io_reserved) {
                int r;

                buf_reset(&p->unescaped);
                r = buf_reserve(&p->unescaped, raw_len);
                if (r < 0)
                        return r;
                *io_reserved = true;
        }
        at = p->unescaped.len;
        unescape_blocks(p, f, &j);
        for (; j < f->len;) {
                const char *q = memchr(f->data + j, '"', f->len - j);
                size_t run = q ? (size_t) (q - f->data) + 1 - j : f->len - j;

                /* up to and with the first quote of "", then past the second */
                memcpy(p->unescaped.data + p->unescaped.len, f->data + j, run);
                p->unescaped.len += run;
                j += run + (q != NULL);
        }
        f->data = p->unescaped.data + at;
        f->len = p->unescaped.len - at;
        return 0;
}

/* Fills p->fields from the row's n spans, checking each field's length and (when the row as a
 * whole is not valid UTF-8) its encoding; a bad field is a row error, not a failure. */
static int fill_fields(CsvParser *p, const char *raw, size_t raw_len, size_t n) {
        bool utf8_ok = utf8_is_valid(raw, raw_len), unescaping = false;

        if (n > p->cap_fields) {
                CsvField *f = realloc(p->fields, n * sizeof(*f));

                if (!f)
                        return -ENOMEM;
                p->fields = f;
                p->cap_fields = n;
        }
        for (size_t i = 0; i < n; i++) {
                const Span *s = &p->spans[i];
                CsvField *f = &p->fields[i];

                f->data = raw + s->start;
                f->len = s->end - s->start;
                f->quoted = s->quoted;
                /* checked here, once the \r of a CRLF is known not to be field data */
                if (f->len > p->opts.max_field_bytes) {
                        row_error(p, CSV_ROW_FIELD_TOO_LONG, i + 1);
                        break;
                }
                if (!utf8_ok && !utf8_is_valid(f->data, f->len)) {
                        row_error(p, CSV_ROW_BAD_UTF8, i + 1);
                        break;
                }
                if (s->escaped) {
                        int r = unescape_field(p, f, raw_len, &unescaping);

                        if (r < 0)
                                return r;
                }
        }
        /* bytes outside fields (quotes, delimiters) are ASCII, but be safe */
        if (!utf8_ok)
                row_error(p, CSV_ROW_BAD_UTF8, 0);
        return 0;
}

static int emit(CsvParser *p, const char *raw, size_t raw_len, bool truncated) {
        CsvRow row = {
                .line = p->line + 1,
                .raw = raw,
                .raw_len = raw_len,
                .raw_truncated = truncated,
        };
        size_t n = p->n_spans;

        /* CRLF: the \r belongs to the line break, not to the last (unquoted) field */
        if (!truncated && raw_len > 0 && raw[raw_len - 1] == '\r') {
                row.raw_len = --raw_len;
                if (n > 0 && p->spans[n - 1].end > raw_len)
                        p->spans[n - 1].end = raw_len;
        }
        if (!truncated && raw_len > p->opts.max_row_bytes) {
                row.raw_len = p->opts.max_row_bytes;
                row.raw_truncated = true;
                row_error(p, CSV_ROW_ROW_TOO_LONG, 0);
        }
        if (p->error == CSV_ROW_OK && raw_len == 0 && n == 1 && !p->spans[0].quoted)
                return 0;       /* empty line */

        if (p->error == CSV_ROW_OK) {
                int r = fill_fields(p, raw, raw_len, n);

                if (r < 0)
                        return r;
                if (p->error == CSV_ROW_OK) {
                        row.fields = p->fields;
                        row.n_fields = n;
                }
        }
        row.error = p->error;
        row.error_column = p->error == CSV_ROW_OK ? 0 : p->error_column;
        return p->fn(p->userdata, &row);
}

/* The row ends at chunk index `end` (its \n, or the end of input). */
static int finish_row(CsvParser *p, const char *buf, size_t row_start, size_t end) {
        const char *raw;
        size_t raw_len;
        int r;

        if (p->carry.len > 0) {
                r = buf_append(&p->carry, buf + row_start, end - row_start);
                if (r < 0)
                        return r == -ENOBUFS ? -EFAULT : r;     /* bounded by the scan window */
                raw = p->carry.data;
                raw_len = p->carry.len;
        } else {
                raw = buf + row_start;
                raw_len = end - row_start;
        }
        r = emit(p, raw, raw_len, false);
        p->line += p->row_newlines + 1;
        row_reset(p);
        return r;
}

/* The row passed max_row_bytes without ending: keep its start for the reject and scan on
 * without storing (see the top of the file). */
static int oversized_row(CsvParser *p, const char *buf, size_t row_start, size_t stop) {
        size_t keep = p->opts.max_row_bytes;
        int r;

        if (p->carry.len < keep) {
                r = buf_append(&p->carry, buf + row_start,
                               MIN(stop - row_start, keep - p->carry.len));
                if (r < 0)
                        return r;
        }
        row_error(p, CSV_ROW_ROW_TOO_LONG, 0);
        p->skipping = true;
        return 0;
}

/* A quoted field open at the end of input: whatever came before, that is what the row is
 * (its field holds the rest of the input), so it overrides an earlier error. */
static void unterminated_quote(CsvParser *p) {
        p->error = CSV_ROW_UNTERMINATED_QUOTE;
        p->error_column = (unsigned) MIN(p->n_spans + 1, (size_t) UINT32_MAX);
}

/* The oversized record ended (at a line break outside quotes, or at the end of input). */
static int oversized_row_end(CsvParser *p, bool at_end) {
        int r;

        if (at_end && p->state == ST_QUOTED)
                unterminated_quote(p);
        r = emit(p, p->carry.data ? p->carry.data : "",
                 MIN(p->carry.len, p->opts.max_row_bytes), true);
        p->line += p->row_newlines + (at_end ? 0 : 1);
        row_reset(p);
        p->skipping = false;
        return r;
}

static int feed_bytes(CsvParser *p, const char *buf, size_t n) {
        size_t window = p->opts.max_row_bytes + 2;
        size_t pos = 0, row_start = 0;
        int r;

        while (pos < n) {
                size_t stop = n;

                if (p->skipping) {
                        /* offsets are not needed: nothing of it is stored */
                        r = scan(p, buf, &pos, n, 0);
                        if (r <= 0)
                                return r;       /* the record goes on in the next chunk */
                        r = oversized_row_end(p, false);
                        if (r < 0)
                                return r;
                        pos = row_start = pos + 1;
                        continue;
                }

                if (p->carry.len + (n - row_start) > window)
                        stop = row_start + (window - p->carry.len);

                r = scan(p, buf, &pos, stop, p->carry.len - row_start);
                if (r < 0)
                        return r;
                if (r > 0) {
                        r = finish_row(p, buf, row_start, pos);
                        if (r < 0)
                                return r;
                        pos = row_start = pos + 1;
                        continue;
                }
                if (stop < n) {
                        r = oversized_row(p, buf, row_start, stop);
                        if (r < 0)
                                return r;
                        row_start = pos = stop;
                        continue;
                }
        }
        if (!p->skipping && n > row_start) {
                r = buf_append(&p->carry, buf + row_start, n - row_start);
                if (r < 0)
                        return r == -ENOBUFS ? -EFAULT : r;
        }
        return 0;
}

static const char bom[3] = { '\xef', '\xbb', '\xbf' };

int csv_parser_feed(CsvParser *p, const void *data, size_t n) {
        const char *buf = data;
        int r;

        while (!p->bom_done && n > 0) {
                if (*buf == bom[p->bom_matched]) {
                        buf++;
                        n--;
                        if (++p->bom_matched == sizeof(bom))
                                p->bom_done = true;
                        continue;
                }
                /* not a BOM after all: the bytes matched so far are data */
                p->bom_done = true;
                r = feed_bytes(p, bom, p->bom_matched);
                if (r < 0)
                        return r;
        }
        return feed_bytes(p, buf, n);
}

int csv_parser_finish(CsvParser *p) {
        int r;

        if (!p->bom_done) {
                p->bom_done = true;
                r = feed_bytes(p, bom, p->bom_matched);
                if (r < 0)
                        return r;
        }
        if (p->skipping)
                return oversized_row_end(p, true);
        if (p->carry.len == 0 && p->n_spans == 0 && p->state == ST_FIELD_START)
                return 0;

        switch (p->state) {
        case ST_QUOTED:
                unterminated_quote(p);
                r = end_field(p, p->carry.len);
                break;
        case ST_QUOTE_SEEN:
                r = end_field(p, p->carry.len - 1);
                break;
        case ST_CLOSED:
        case ST_CLOSED_CR:
                r = end_field(p, p->field_end);
                break;
        case ST_FIELD_START:
                p->field_quoted = false;
                p->field_start = p->carry.len;
                _fallthrough_;
        default:
                r = end_field(p, p->carry.len);
                break;
        }
        if (r < 0)
                return r;
        return finish_row(p, "", 0, 0);
}
