/* csvsplit: record boundaries proven from bytes alone, and the split reader's plan over them.
 *
 * The property: for many random inputs and random split offsets, parsing the byte ranges the
 * plan gives equals the single stream (fuzz/csvsplit-check.h is the oracle). The generator
 * makes what breaks boundaries: quoted fields with line breaks and "" escapes, stray quotes,
 * text after a closing quote, CRLF, multi-byte UTF-8, byte order marks, empty lines, rows over
 * a small max_row_bytes, long quote-free stretches (no local proof: the exact path). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fuzz/csvsplit-check.h"

static uint64_t rng_state;

static uint32_t rnd(uint32_t n) {
        /* xorshift64*: reproducible from the seed printed on failure */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (uint32_t) ((rng_state * UINT64_C(2685821657736338717)) >> 33) % n;
}

static void put(Buf *b, const char *s) {
        assert_true(buf_append_str(b, s) >= 0);
}

/* One random field: unquoted text, a quoted field (with line breaks, delimiters, "" and
 * multi-byte UTF-8 inside), or a malformed one. */
static void gen_field(Buf *b, char delim, bool quote_free) {
        static const char *const atoms[] = { "a", "bc", "7", " ", "\xc3\xa9", "\xe2\x82\xac",
                                             "\xf0\x9f\x98\x80", "x\"y", "\r" };
        unsigned kind = quote_free ? 0 : rnd(10);
        unsigned len = rnd(6);
        char d[2] = { delim, 0 };

        if (kind < 5) {
                for (unsigned i = 0; i < len; i++) {
                        const char *a = atoms[rnd(quote_free ? 7 : 9)];

                        put(b, a);
                }
                return;
        }
        put(b, "\"");
        for (unsigned i = 0; i < len; i++) {
                switch (rnd(8)) {
                case 0: put(b, "\n"); break;
                case 1: put(b, "\"\""); break;
                case 2: put(b, d); break;
                case 3: put(b, "\r\n"); break;
                case 4: put(b, "\xe2\x82\xac"); break;
                default: put(b, atoms[rnd(4)]); break;
                }
        }
        put(b, "\"");
        if (kind == 9)
                put(b, rnd(2) ? "tail" : "\"");         /* text after the closing quote */
}

static void gen_csv(Buf *b, char delim, bool quote_free) {
        unsigned rows = 1 + rnd(40);
        char d[2] = { delim, 0 };

        if (rnd(8) == 0)
                put(b, "\xef\xbb\xbf");
        for (unsigned r = 0; r < rows; r++) {
                unsigned fields = 1 + rnd(4);

                if (rnd(12) == 0)
                        put(b, "\xef\xbb\xbf");         /* a mid-file BOM is data */
                for (unsigned f = 0; f < fields; f++) {
                        if (f)
                                put(b, d);
                        gen_field(b, delim, quote_free);
                }
                switch (rnd(6)) {
                case 0: put(b, "\r\n"); break;
                case 1: put(b, "\n\n"); break;
                default: put(b, "\n"); break;
                }
        }
        if (rnd(4) == 0)
                b->len--;                               /* no line break at the end */
        if (!quote_free && rnd(10) == 0)
                put(b, "\"open");                       /* a quote that never closes */
}

static void gen_bytes(Buf *b) {
        static const char alphabet[] = "ab,\"\n\r;\xc3\xa9";
        unsigned n = rnd(300);

        for (unsigned i = 0; i < n; i++)
                assert_true(buf_append_char(b, alphabet[rnd(sizeof(alphabet) - 1)]) >= 0);
}

static void random_plan(SplitCheckPlan *pl, size_t n, bool lines, char delim) {
        static const size_t rows[] = { 0, 8, 16, 40 };

        *pl = (SplitCheckPlan) {
                .lines = lines,
                .csv = { .delimiter = delim, .max_row_bytes = rows[rnd(4)] },
                .n = 2 + rnd(SPLIT_CHECK_RANGES_MAX - 1),
                .look_behind = rnd(3) == 0 ? 0 : rnd(64),
                .probe_window = 1 + rnd(rnd(2) ? 32 : 400),
                .chunk = 1 + rnd(rnd(2) ? 7 : 200),
        };
        for (unsigned i = 1; i < pl->n; i++)
                pl->offsets[i] = n ? rnd((uint32_t) n) : 0;
        /* nominal offsets ascend, as i × size / n do */
        for (unsigned i = 1; i < pl->n; i++)
                for (unsigned j = i + 1; j < pl->n; j++)
                        if (pl->offsets[j] < pl->offsets[i]) {
                                size_t t = pl->offsets[i];

                                pl->offsets[i] = pl->offsets[j];
                                pl->offsets[j] = t;
                        }
}

static void run_property(bool lines, unsigned iterations, SplitCheckStats *total) {
        Buf in = BUF_INIT(1 << 20);
        char why[256];

        for (unsigned it = 0; it < iterations; it++) {
                uint64_t seed = rng_state;
                char delim = ",;\t"[rnd(3)];
                SplitCheckPlan pl;
                SplitCheckStats st = {};

                buf_reset(&in);
                if (rnd(5) == 0)
                        gen_bytes(&in);
                else
                        gen_csv(&in, delim, rnd(4) == 0);
                random_plan(&pl, in.len, lines, delim);
                if (split_check(&pl, in.data ? in.data : "", in.len, &st, why, sizeof(why)) != 0) {
                        print_error("seed %llu iteration %u: %s\ninput (%zu bytes): %.*s\n",
                                    (unsigned long long) seed, it, why, in.len, (int) in.len, in.data);
                        fail();
                }
                total->proven += st.proven;
                total->exact += st.exact;
                total->empty += st.empty;
        }
        buf_done(&in);
}

static void test_property_csv(void **state) {
        SplitCheckStats st = {};

        rng_state = 0x9e3779b97f4a7c15u;
        run_property(false, 20000, &st);
        /* the test reaches every path of the plan, or it proves little */
        print_message("csv: %u proven, %u exact, %u empty ranges\n", st.proven, st.exact, st.empty);
        assert_true(st.proven > 1000);
        assert_true(st.exact > 1000);
        assert_true(st.empty > 1000);
}

static void test_property_lines(void **state) {
        SplitCheckStats st = {};

        rng_state = 0x2545f4914f6cdd1du;
        run_property(true, 5000, &st);
        assert_true(st.proven > 1000);
}

/* Quote-free CSV never converges locally: the QUOTED hypothesis has no quote to leave by. */
static void test_quote_free_needs_exact(void **state) {
        const char *csv = "a,b\n1,2\n3,4\n5,6\n";
        CsvSplit s;

        csv_split_init(&s, ',', false);
        assert_int_equal(csv_split_find(&s, csv, strlen(csv), 4), strlen(csv) + 1);
        assert_false(csv_split_converged(&s));
        csv_split_reset_exact(&s, CSVQ_UNQUOTED);
        assert_int_equal(csv_split_find(&s, csv, strlen(csv), 4), 8);
}

/* `x",` closes a quote under one reading and opens one under the other: they converge. */
static void test_converges_on_closing_quote(void **state) {
        const char *csv = "zz\nq\n\"x\",\"y\"\n1,2\n";
        CsvSplit s;
        size_t k;

        csv_split_init(&s, ',', false);
        k = csv_split_find(&s, csv, strlen(csv), 0);
        /* not at "zz\n" nor "q\n" (they could be inside quotes), but after "x","y" */
        assert_int_equal(k, strlen("zz\nq\n\"x\",\"y\"\n"));
}

/* The transfer functions of two pieces, composed, give the exact state over both. */
static void test_transfer_composes(void **state) {
        const char *a = "1,\"ab\ncd", *b = "\"\"e\",f\n\"g";
        CsvSplit s, whole;
        CsvTransfer ta, tb;

        csv_split_init(&s, ',', false);
        csv_split_advance(&s, a, strlen(a));
        ta = csv_split_transfer(&s);
        csv_split_reset_all(&s);
        csv_split_advance(&s, b, strlen(b));
        tb = csv_split_transfer(&s);
        csv_split_init(&whole, ',', false);
        csv_split_reset_exact(&whole, CSVQ_FIELD_START);
        csv_split_advance(&whole, a, strlen(a));
        csv_split_advance(&whole, b, strlen(b));
        assert_int_equal(csv_transfer_apply(&tb, csv_transfer_apply(&ta, CSVQ_FIELD_START)),
                         csv_split_exact_state(&whole));
        assert_int_equal(csv_split_exact_state(&whole), CSVQ_QUOTED);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_quote_free_needs_exact),
                cmocka_unit_test(test_converges_on_closing_quote),
                cmocka_unit_test(test_transfer_composes),
                cmocka_unit_test(test_property_csv),
                cmocka_unit_test(test_property_lines),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
