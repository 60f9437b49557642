/* Record boundaries of CSV and JSON Lines bytes without the parser. See csvsplit.h.
 *
 * The four-state automaton is csv.c's six states with the two "after a closing quote" states
 * folded into UNQUOTED: from both, a delimiter starts a field, a line break ends the record
 * and anything else leaves an unquoted field (a '"' there is data), exactly as from UNQUOTED.
 * The one difference, CLOSED + '\r' → CLOSED_CR, does not change where a record ends. */
#include <string.h>

#include "common/csvsplit.h"

enum { CLS_DATA, CLS_DELIM, CLS_NL, CLS_QUOTE };

static CsvQState step(CsvQState st, int cls) {
        switch (st) {
        case CSVQ_FIELD_START:
                return cls == CLS_QUOTE ? CSVQ_QUOTED : cls == CLS_DATA ? CSVQ_UNQUOTED : CSVQ_FIELD_START;
        case CSVQ_UNQUOTED:
                return cls == CLS_DELIM || cls == CLS_NL ? CSVQ_FIELD_START : CSVQ_UNQUOTED;
        case CSVQ_QUOTED:
                return cls == CLS_QUOTE ? CSVQ_QUOTE_SEEN : CSVQ_QUOTED;
        case CSVQ_QUOTE_SEEN:
        default:
                /* "" is an escaped quote; anything else closed the field and is read as
                 * after a closing quote */
                return cls == CLS_QUOTE ? CSVQ_QUOTED :
                       cls == CLS_DATA ? CSVQ_UNQUOTED : CSVQ_FIELD_START;
        }
}

void csv_split_init(CsvSplit *s, char delimiter, bool lines) {
        memset(s, 0, sizeof(*s));
        s->lines = lines;
        s->delimiter = delimiter;
        s->cls[(unsigned char) delimiter] = CLS_DELIM;
        s->cls['\n'] = CLS_NL;
        s->cls['"'] = CLS_QUOTE;
        for (unsigned v = 0; v < 256; v++)
                for (int c = 0; c < 4; c++) {
                        uint8_t out = 0;

                        for (unsigned h = 0; h < _CSVQ_MAX; h++)
                                out |= (uint8_t) (step((CsvQState) ((v >> (2 * h)) & 3), c) << (2 * h));
                        s->next[v][c] = out;
                }
        csv_split_reset_all(s);
}

void csv_split_reset_all(CsvSplit *s) {
        /* hypothesis h starts in state h */
        s->vec = (uint8_t) (CSVQ_FIELD_START | CSVQ_UNQUOTED << 2 | CSVQ_QUOTED << 4 | CSVQ_QUOTE_SEEN << 6);
}

void csv_split_reset_exact(CsvSplit *s, CsvQState st) {
        s->vec = (uint8_t) (st | st << 2 | st << 4 | st << 6);
}

bool csv_split_converged(const CsvSplit *s) {
        uint8_t h0 = s->vec & 3;

        return s->vec == (uint8_t) (h0 | h0 << 2 | h0 << 4 | h0 << 6);
}

CsvTransfer csv_split_transfer(const CsvSplit *s) {
        CsvTransfer t;

        for (unsigned h = 0; h < _CSVQ_MAX; h++)
                t.map[h] = (s->vec >> (2 * h)) & 3;
        return t;
}

CsvQState csv_split_exact_state(const CsvSplit *s) {
        return (CsvQState) (s->vec & 3);
}

size_t csv_split_find(CsvSplit *s, const char *data, size_t n, size_t from) {
        const uint8_t *d = (const uint8_t *) data;
        uint8_t v = s->vec;

        if (s->lines) {
                const char *nl = from < n ? memchr(data + from, '\n', n - from) : NULL;

                return nl ? (size_t) (nl - data) + 1 : n + 1;
        }
        for (size_t i = 0; i < n; i++) {
                v = s->next[v][s->cls[d[i]]];
                /* FIELD_START is 0: every hypothesis ended the record at this line break */
                if (v == 0 && d[i] == '\n' && i >= from) {
                        s->vec = v;
                        return i + 1;
                }
        }
        s->vec = v;
        return n + 1;
}

/* No quote in the bytes: QUOTED stays; every other state ends where the last byte leaves it
 * (FIELD_START after a delimiter or a line break, else inside an unquoted field). QUOTE_SEEN
 * followed by a non-quote reads on like FIELD_START/UNQUOTED, so the rule holds for it too. */
static void advance_quote_free(CsvSplit *s, const char *data, size_t n) {
        char last = data[n - 1];
        CsvQState out = last == '\n' || last == s->delimiter ? CSVQ_FIELD_START : CSVQ_UNQUOTED;
        uint8_t v = 0;

        for (unsigned h = 0; h < _CSVQ_MAX; h++) {
                CsvQState st = (CsvQState) ((s->vec >> (2 * h)) & 3);

                v |= (uint8_t) ((st == CSVQ_QUOTED ? CSVQ_QUOTED : out) << (2 * h));
        }
        s->vec = v;
}

void csv_split_advance(CsvSplit *s, const char *data, size_t n) {
        const uint8_t *d = (const uint8_t *) data;

        if (s->lines || n == 0)
                return;
        while (n > 0) {
                const char *q = memchr(data, '"', n);
                size_t plain = q ? (size_t) (q - data) : n;
                size_t end;
                uint8_t v;

                if (plain > 0)
                        advance_quote_free(s, data, plain);
                if (!q)
                        return;
                /* byte by byte from the quote to the next line break (or the end): quotes come
                 * in clusters, and a line break is where the fast rule can take over again */
                v = s->vec;
                d = (const uint8_t *) q;
                end = n - plain;
                {
                        size_t i = 0;

                        for (; i < end; i++) {
                                v = s->next[v][s->cls[d[i]]];
                                if (d[i] == '\n') {
                                        i++;
                                        break;
                                }
                        }
                        s->vec = v;
                        data = q + i;
                        n = end - i;
                }
        }
}

size_t csv_split_bom(const char *data, size_t n) {
        return n >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}
