#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/csv.h"
#include "csv-collect.h"

static CsvOptions opts_with(char delim, size_t max_row, size_t max_field) {
        return (CsvOptions) { .delimiter = delim, .max_row_bytes = max_row, .max_field_bytes = max_field };
}

/* Parses input split at the given offsets (sorted, may repeat) and returns the rendering. */
static char *parse_split(const CsvOptions *o, const char *in, size_t n, const size_t *cuts,
                         size_t n_cuts) {
        CsvCollect c = { .out = BUF_INIT(1 << 24) };
        CsvParser *p = NULL;
        size_t at = 0;

        assert_int_equal(csv_parser_new(o, csv_collect, &c, &p), 0);
        for (size_t i = 0; i <= n_cuts; i++) {
                size_t end = i < n_cuts ? cuts[i] : n;

                assert_int_equal(csv_parser_feed(p, in + at, end - at), 0);
                at = end;
        }
        assert_int_equal(csv_parser_finish(p), 0);
        csv_parser_free(p);
        return buf_steal(&c.out);
}

static char *parse(const CsvOptions *o, const char *in) {
        return parse_split(o, in, strlen(in), NULL, 0);
}

static void check(const CsvOptions *o, const char *in, const char *expect) {
        char *got = parse(o, in);

        assert_string_equal(got, expect);
        free(got);
}

/* check() for input with NUL bytes, whole and cut at every position. */
static void check_n(const CsvOptions *o, const char *in, size_t n, const char *expect) {
        for (size_t i = 0; i <= n; i++) {
                char *got = parse_split(o, in, n, &i, 1);

                assert_string_equal(got, expect);
                free(got);
        }
}

static void test_basic(void **state) {
        CsvOptions o = opts_with(',', 0, 0);

        check(&o, "a,b,c\n1,2,3\n", "1|a|b|c\n2|1|2|3\n");
        check(&o, "a,b\r\n1,2\r\n", "1|a|b\n2|1|2\n");
        check(&o, "a,b\n1,2", "1|a|b\n2|1|2\n");                 /* no final line break */
        check(&o, "a,b\r\n1,2\r", "1|a|b\n2|1|2\n");             /* \r at the very end */
        check(&o, "a,,\n", "1|a||\n");                           /* empty fields */
        check(&o, ",\n", "1||\n");
        check(&o, "", "");
        check(&o, "\n\n", "");                                   /* empty lines skipped */
        check(&o, "a\n\r\n\nb\n", "1|a\n4|b\n");                 /* ... and still counted */
        check(&o, "a\rb,c\n", "1|a\rb|c\n");                     /* a bare \r is data */
}

static void test_quotes(void **state) {
        CsvOptions o = opts_with(',', 0, 0);

        check(&o, "\"a\",\"b,c\"\n", "1|q:a|q:b,c\n");
        check(&o, "\"say \"\"hi\"\"\",x\n", "1|q:say \"hi\"|x\n");
        check(&o, "\"\"\"\"\n", "1|q:\"\n");
        check(&o, "\"\",x\n", "1|q:|x\n");                       /* quoted empty is a field */
        check(&o, "\"\"\n", "1|q:\n");                           /* not an empty line */
        check(&o, "\"line1\nline2\",x\nnext,y\n", "1|q:line1\nline2|x\n3|next|y\n");
        check(&o, "\"a\r\nb\"\r\nc\r\n", "1|q:a\r\nb\n3|c\n");
        check(&o, "\"a\"\r\n\"b\"", "1|q:a\n2|q:b\n");
        check(&o, "x,\"a,\"\"b\"\"\n,c\"\n", "1|x|q:a,\"b\"\n,c\n");
}

static void test_bom_and_delimiters(void **state) {
        CsvOptions o = opts_with(',', 0, 0);
        CsvOptions semi = opts_with(';', 0, 0), pipe = opts_with('|', 0, 0), tab = opts_with('\t', 0, 0);
        CsvOptions bad = opts_with('"', 0, 0);
        CsvParser *p = NULL;

        check(&o, "\xef\xbb\xbf" "a,b\n", "1|a|b\n");
        check(&o, "\xef\xbb\xbf", "");
        /* a BOM only counts at the start */
        check(&o, "a\n\xef\xbb\xbf" "b\n", "1|a\n2|\xef\xbb\xbf" "b\n");
        /* half a BOM is data, and not UTF-8 */
        check(&o, "\xef\xbb" "a\n", "1!invalid UTF-8@1[\xef\xbb" "a]\n");
        check(&semi, "a;b,c\n", "1|a|b,c\n");
        check(&tab, "a\tb c\n", "1|a|b c\n");
        check(&pipe, "\"a|b\"|c\n", "1|q:a|b|c\n");
        assert_int_equal(csv_parser_new(&bad, csv_collect, NULL, &p), -EINVAL);
}

static void test_row_errors(void **state) {
        CsvOptions o = opts_with(',', 0, 0);

        /* a stray quote: the row still ends at its line break and the next row is fine */
        check(&o, "ab\"c,d\nok\n", "1!quote inside an unquoted field@1[ab\"c,d]\n2|ok\n");
        check(&o, "x,\"a\"b,c\nok\n", "1!unexpected text after a closing quote@2[x,\"a\"b,c]\n2|ok\n");
        check(&o, "\"a\"\rb\nok\n", "1!unexpected text after a closing quote@1[\"a\"\rb]\n2|ok\n");
        /* invalid UTF-8 names its column */
        check(&o, "ok,\xc3\x28,z\nnext\n", "1!invalid UTF-8@2[ok,\xc3\x28,z]\n2|next\n");
        check(&o, "\xed\xa0\x80\n", "1!invalid UTF-8@1[\xed\xa0\x80]\n");
        check(&o, "h\xc3\xa9llo,\xf0\x9f\x98\x80\n", "1|h\xc3\xa9llo|\xf0\x9f\x98\x80\n");
        /* an open quote at the end of input ends its row */
        check(&o, "a\n\"open,x\nmore\n", "1|a\n2!unterminated quoted field@1[\"open,x\nmore\n]\n");
}

static void test_limits(void **state) {
        CsvOptions o = opts_with(',', 10, 5);
        CsvOptions many = { .delimiter = ',', .max_fields = 3 };

        check(&o, "abcd,efgh\n", "1|abcd|efgh\n");                        /* 9 bytes */
        check(&o, "abcd,efghi\n", "1|abcd|efghi\n");                      /* exactly 10 ... */
        check(&o, "abcd,efghi\r\n", "1|abcd|efghi\n");                    /* ... also with CRLF */
        check(&o, "abcdef,x\nok\n", "1!field longer than max_field_bytes@1[abcdef,x]\n2|ok\n");
        check(&o, "x,\"abcdef\"\nok\n", "1!field longer than max_field_bytes@2[x,\"abcdef\"]\n2|ok\n");
        check(&o, "abc,efg,ijk\nok\n", "1!row longer than max_row_bytes@0[abc,efg,ij]+\n2|ok\n");
        check(&o, "abc,efg,ij\r\nok\n", "1|abc|efg|ij\n2|ok\n");
        check(&o, "abc,efg,ijk\r\nok\n", "1!row longer than max_row_bytes@0[abc,efg,ij]+\n2|ok\n");
        /* an unbalanced quote that outgrows max_row_bytes runs to the end of input: no line
         * after it is a row of its own (they are all inside the quoted field) */
        check(&o, "a\n\"bc,d\ne,f\ng,h\ni\n",
              "1|a\n2!unterminated quoted field@1[\"bc,d\ne,f\n]+\n");
        check(&o, "1234567890123456789\nok\n",
              "1!row longer than max_row_bytes@0[1234567890]+\n2|ok\n");
        check(&many, "a,b,c\na,b,c,d\nx\n", "1|a|b|c\n2!too many fields@0[a,b,c,d]\n3|x\n");
}

/* After a row outgrows max_row_bytes the parser skips to the line break that ends that
 * record, still following the quotes: a line inside a long quoted field is never a row. */
static void test_oversized_row_resync(void **state) {
        CsvOptions o = opts_with(',', 10, 8);

        /* a quoted field with a row-like line in it */
        check(&o, "h\n\"xxxxxxxxxxxx\nA9,Evil\nyy\",z\nok,1\n",
              "1|h\n2!row longer than max_row_bytes@0[\"xxxxxxxxx]+\n5|ok|1\n");
        check(&o, "h\r\n\"xxxxxxxxxxxx\r\nA9,Evil\r\nyy\",z\r\nok,1\r\n",
              "1|h\n2!row longer than max_row_bytes@0[\"xxxxxxxxx]+\n5|ok|1\n");
        /* "" escapes keep the field open, on either side of the cut */
        check(&o, "h\n\"xxxxxxxx\"\"\nA9,\"\"Evil\"\"\nyy\",z\nok,1\n",
              "1|h\n2!row longer than max_row_bytes@0[\"xxxxxxxx\"]+\n5|ok|1\n");
        check(&o, "h\n\"xxxxxxxxx\"\"\nA9,\"\"Evil\"\"\nyy\",z\nok,1\n",
              "1|h\n2!row longer than max_row_bytes@0[\"xxxxxxxxx]+\n5|ok|1\n");
        /* a quoted field that starts after the cut */
        check(&o, "h\nabcdefghijkl,\"m\nX,Y\n\",z\nok,1\n",
              "1|h\n2!row longer than max_row_bytes@0[abcdefghij]+\n5|ok|1\n");
        /* a quote inside an unquoted field is data, as within the limit: it opens nothing */
        check(&o, "h\nabcdefghijkl\"m\nok,1\n",
              "1|h\n2!row longer than max_row_bytes@0[abcdefghij]+\n3|ok|1\n");
        /* ... nor does a quote after a closed quoted field's trailing text */
        check(&o, "h\nabcdefghij,\"ab\"c\"d\nok,1\n",
              "1|h\n2!row longer than max_row_bytes@0[abcdefghij]+\n3|ok|1\n");
        /* the oversized row is the last one */
        check(&o, "h\nabcdefghijklmn", "1|h\n2!row longer than max_row_bytes@0[abcdefghij]+\n");
        check(&o, "h\n\"abcdefghijklm\"", "1|h\n2!row longer than max_row_bytes@0[\"abcdefghi]+\n");
        /* a quote that never closes: the rest of the input is its field */
        check(&o, "h\n\"abcdefghijklmn", "1|h\n2!unterminated quoted field@1[\"abcdefghi]+\n");
        check(&o, "h\nab,\"cdefghijklmn\nA9,Evil\n",
              "1|h\n2!unterminated quoted field@2[ab,\"cdefgh]+\n");
        /* the line count goes on through the skipped line breaks */
        check(&o, "\"a\nb\nc\nd\ne\nf\"\n\"g\nh\"\nok\n",
              "1!row longer than max_row_bytes@0[\"a\nb\nc\nd\ne]+\n7|q:g\nh\n9|ok\n");
}

/* The bug this guards against, at the size it was found: a 500 KiB quoted field holding a
 * line that looks like a row, with max_row_bytes well under the field. */
static void test_long_quoted_field_with_row_inside(void **state) {
        const size_t half = 250 * 1024, max_row = 64 * 1024;
        CsvOptions o = opts_with(',', max_row, 0);
        Buf in = BUF_INIT(1 << 20), expect = BUF_INIT(1 << 20);
        size_t *cuts = malloc(sizeof(size_t) * (1 << 20));
        size_t n;
        char *got;
        unsigned seed = 7;

        assert_non_null(cuts);
        buf_append_str(&in, "student_id,first_name,last_name,course\n\"");
        for (size_t i = 0; i < half; i++)
                buf_append_char(&in, 'x');
        buf_append_str(&in, "\nA99999,Evil,Row,CS666\n");
        for (size_t i = 0; i < half; i++)
                buf_append_char(&in, 'y');
        buf_append_str(&in, "\",b,c,d\nA00001,Ada,Lovelace,CS101\n");

        buf_append_str(&expect, "1|student_id|first_name|last_name|course\n"
                                "2!row longer than max_row_bytes@0[\"");
        for (size_t i = 0; i < max_row - 1; i++)
                buf_append_char(&expect, 'x');
        buf_append_str(&expect, "]+\n5|A00001|Ada|Lovelace|CS101\n");

        got = parse(&o, buf_str(&in));
        assert_string_equal(got, buf_str(&expect));
        assert_null(strstr(got, "A99999"));
        free(got);
        /* byte by byte, and in random pieces */
        n = in.len;
        for (size_t i = 0; i < n; i++)
                cuts[i] = i;
        got = parse_split(&o, buf_str(&in), n, cuts, n);
        assert_string_equal(got, buf_str(&expect));
        free(got);
        for (int round = 0; round < 20; round++) {
                size_t at = 0, k = 0;

                while ((at += 1 + (size_t) rand_r(&seed) % 9000) < n)
                        cuts[k++] = at;
                got = parse_split(&o, buf_str(&in), n, cuts, k);
                assert_string_equal(got, buf_str(&expect));
                free(got);
        }
        free(cuts);
        buf_done(&in);
        buf_done(&expect);
}

/* NUL is not text: a CSV with NUL bytes is binary or UTF-16 (PostgreSQL's COPY refuses it
 * too). The row is rejected naming the field. */
static void test_nul(void **state) {
        CsvOptions o = opts_with(',', 0, 0), small = opts_with(',', 10, 8);
        static const char in1[] = "a,b\0c\nok\n", in2[] = "\"a\0\",x\nok\n", in3[] = "\0\n",
                          in4[] = "x,\"a\"\0\n", in5[] = "a\0b\0c\0\nok\0\n",
                          in6[] = "abcdefghijkl\0\nok\n";

        check_n(&o, in1, sizeof(in1) - 1, "1!NUL byte in field@2[a,b\\0c]\n2|ok\n");
        check_n(&o, in2, sizeof(in2) - 1, "1!NUL byte in field@1[\"a\\0\",x]\n2|ok\n");
        check_n(&o, in3, sizeof(in3) - 1, "1!NUL byte in field@1[\\0]\n");
        /* the first fault of a row is the one reported */
        check_n(&o, in4, sizeof(in4) - 1, "1!unexpected text after a closing quote@2[x,\"a\"\\0]\n");
        check_n(&o, in5, sizeof(in5) - 1,
                "1!NUL byte in field@1[a\\0b\\0c\\0]\n2!NUL byte in field@1[ok\\0]\n");
        check_n(&small, in6, sizeof(in6) - 1, "1!row longer than max_row_bytes@0[abcdefghij]+\n2|ok\n");
}

static void test_abort(void **state) {
        CsvOptions o = opts_with(',', 0, 0);
        CsvCollect c = { .out = BUF_INIT(4096), .stop_after = 2 };
        CsvParser *p = NULL;

        assert_int_equal(csv_parser_new(&o, csv_collect, &c, &p), 0);
        assert_int_equal(csv_parser_feed(p, "a\nb\nc\n", 6), -ECANCELED);
        assert_string_equal(buf_str(&c.out), "1|a\n");
        csv_parser_free(p);
        buf_done(&c.out);
}

static void test_lines(void **state) {
        CsvOptions o = opts_with(',', 0, 0);
        CsvCollect c = { .out = BUF_INIT(4096) };
        CsvParser *p = NULL;

        assert_int_equal(csv_parser_new(&o, csv_collect, &c, &p), 0);
        assert_int_equal(csv_parser_feed(p, "a\n\"b\nc\"\n", 8), 0);
        assert_int_equal(csv_parser_lines(p), 3);
        csv_parser_free(p);
        buf_done(&c.out);
}

static void test_utf8(void **state) {
        static const struct {
                const char *s;
                bool ok;
        } cases[] = {
                { "plain ascii, longer than one word", true },
                { "\xc3\xa9", true },
                { "\xe2\x82\xac", true },
                { "\xf0\x9f\x98\x80", true },
                { "\xf4\x8f\xbf\xbf", true },          /* U+10FFFF */
                { "\xc0\x80", false },                 /* overlong NUL */
                { "\xc1\xbf", false },
                { "\xe0\x80\xaf", false },             /* overlong */
                { "\xed\xa0\x80", false },             /* surrogate */
                { "\xf0\x80\x80\x80", false },
                { "\xf4\x90\x80\x80", false },         /* past U+10FFFF */
                { "\xf5\x80\x80\x80", false },
                { "\xff", false },
                { "\x80", false },
                { "\xc3", false },                     /* truncated */
                { "abcdefgh\xe2\x82", false },
                { "12345678\xc3\xa9" "12345678", true },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                assert_int_equal(utf8_is_valid(cases[i].s, strlen(cases[i].s)), cases[i].ok);
}

/* Unicode 15, table 3-7, written out code point by code point: the reference. */
static bool utf8_reference(const unsigned char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                unsigned c = s[i], len, cp, min;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc0 && c < 0xe0)
                        len = 2, cp = c & 0x1f, min = 0x80;
                else if (c >= 0xe0 && c < 0xf0)
                        len = 3, cp = c & 0x0f, min = 0x800;
                else if (c >= 0xf0 && c < 0xf8)
                        len = 4, cp = c & 0x07, min = 0x10000;
                else
                        return false;
                if (n - i < len)
                        return false;
                for (unsigned k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

/* Random text of ASCII runs and sequences valid and not (every lead class, surrogates,
 * overlongs, truncations, stray continuations) at every alignment against the sixteen-byte
 * blocks: always the reference's verdict, and both verdicts often. */
static void test_utf8_differential(void **state) {
        static const char *const pieces[] = {
                "a", "abc,", "0123456789abcdef", "\xc3\xa9", "\xc5\x99", "\xdf\xbf", "\xe2\x80\x94",
                "\xe1\x80\x80", "\xef\xbf\xbd", "\xec\x9f\xbf", "\xee\x80\x80", "\xe0\xa0\x80", "\xed\x9f\xbf",
                "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\x80", "\xbf", "\xc3", "\xe2\x80", "\xc0\xaf",
                "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff",
        };
        unsigned seed = 2718;
        size_t valid = 0, invalid = 0;

        for (int round = 0; round < 20000; round++) {
                unsigned char s[128];
                size_t n = 0, bad_at = 1000;

                /* valid pieces; in half the texts one invalid piece among them, alone so
                 * that nothing else gives the text away */
                if (rand_r(&seed) % 2)
                        bad_at = (size_t) rand_r(&seed) % 90;
                while (n < 100) {
                        bool bad = n >= bad_at;
                        size_t k = bad ? 15 + (size_t) rand_r(&seed) % (ELEMENTSOF(pieces) - 15)
                                       : (size_t) rand_r(&seed) % 15;
                        size_t len = strlen(pieces[k]);

                        if (bad)
                                bad_at = 1000;
                        memcpy(s + n, pieces[k], len);
                        n += len;
                }
                n -= (size_t) rand_r(&seed) % 8;
                for (size_t off = 0; off < 3; off++) {
                        bool want = utf8_reference(s + off, n - off);

                        if (utf8_is_valid(s + off, n - off) != want)
                                fail_msg("round %d offset %zu: utf8_is_valid says %d", round, off, !want);
                        if (want)
                                valid++;
                        else
                                invalid++;
                }
        }
        assert_true(valid > 5000 && invalid > 5000);
}

/* Quoted fields with "" escapes at random places, short and long (the sixteen-byte unescape
 * and its tail), several in one row: each comes back as the text that was escaped. */
static void test_unescape_random(void **state) {
        CsvOptions o = opts_with(',', 0, 0);
        unsigned seed = 31337;
        size_t quotes = 0;

        for (int round = 0; round < 3000; round++) {
                Buf in = BUF_INIT(1 << 16), want = BUF_INIT(1 << 16);
                char *got;

                buf_append_str(&want, "1");
                for (int field = 0; field < 3; field++) {
                        size_t len = (size_t) rand_r(&seed) % 70;

                        buf_append_str(&in, field ? ",\"" : "\"");
                        buf_append_str(&want, "|q:");
                        for (size_t i = 0; i < len; i++) {
                                char c = rand_r(&seed) % 6 == 0 ? '"' : "ab,\n x"[rand_r(&seed) % 6];

                                buf_append_char(&want, c);
                                buf_append_char(&in, c);
                                if (c == '"') {
                                        buf_append_char(&in, '"');
                                        quotes++;
                                }
                        }
                        buf_append_char(&in, '"');
                }
                buf_append_str(&in, "\n");
                buf_append_str(&want, "\n");
                got = parse(&o, buf_str(&in));
                if (strcmp(got, buf_str(&want)) != 0)
                        fail_msg("input %s\ngot  %s\nwant %s", buf_str(&in), got, buf_str(&want));
                free(got);
                buf_done(&in);
                buf_done(&want);
        }
        assert_true(quotes > 10000);
}

/* The inputs the split property is checked on: every feature and every error at once. */
static const char *const split_inputs[] = {
        ("\xef\xbb\xbfstudent_id,name\r\nA1,\"Ada \"\"the\"\" first\"\r\nA2,\"multi\r\nline, with comma\"\r\n"
         "A3,caf\xc3\xa9 \xf0\x9f\x98\x80\r\n\r\nA4,\"x\"\r\nA5,last"),
        "a,b\nstray\"quote,x\n\"after\"quote,y\nbad\xc3\x28utf8,z\n\"\",\"\"\n,\n\"unterminated,\nnext,row\n",
        "abc,efg,ijk\nok\n\"bc,d\ne,f\ng,h\ni\n12345,x\n\"a\"\r",
        "\xef\xbb",
        "\"",
        "\"\"\"",
        "h\n\"xxxxxxxxxxxx\nA9,Evil\nyy\",z\nok,1\n",
        "h\r\n\"xxxxxxx\"\"x\r\nA9,\"\"Evil\"\"\r\nyy\",z\r\nok,1\r\n",
        "abcdefghijkl,\"m\nX,Y\n\",z\nabcdefghijkl\"m\nok\nab,\"cdefghijklmn\nA9,Evil\n",
};

static void test_every_split_point(void **state) {
        CsvOptions o = opts_with(',', 10, 8);
        CsvOptions big = opts_with(',', 0, 0);

        for (size_t k = 0; k < sizeof(split_inputs) / sizeof(split_inputs[0]); k++) {
                const char *in = split_inputs[k];
                size_t n = strlen(in);

                for (int which = 0; which < 2; which++) {
                        const CsvOptions *op = which ? &o : &big;
                        char *whole = parse(op, in);

                        /* one cut anywhere, and two cuts at every pair */
                        for (size_t i = 0; i <= n; i++) {
                                char *got = parse_split(op, in, n, &i, 1);

                                assert_string_equal(got, whole);
                                free(got);
                                for (size_t j = i; j <= n && n < 200; j++) {
                                        size_t cuts[2] = { i, j };

                                        got = parse_split(op, in, n, cuts, 2);
                                        assert_string_equal(got, whole);
                                        free(got);
                                }
                        }
                        free(whole);
                }
        }
}

static void test_random_splits(void **state) {
        CsvOptions o = opts_with(';', 64, 32);
        Buf in = BUF_INIT(1 << 20);
        static const char *const atoms[] = {
                "a", "bc", ";", "\n", "\r\n", "\"", "\"\"", "\xc3\xa9", "\xe2\x82\xac", "\xc3",
                "\r", "x y", "\xef\xbb\xbf",
        };
        unsigned seed = 20261129;

        for (int round = 0; round < 300; round++) {
                size_t cuts[64], n_cuts;
                char *whole;

                buf_reset(&in);
                for (int a = rand_r(&seed) % 120; a > 0; a--)
                        buf_append_str(&in, atoms[rand_r(&seed) % (sizeof(atoms) / sizeof(atoms[0]))]);
                whole = parse(&o, buf_str(&in));
                n_cuts = (size_t) (rand_r(&seed) % 64);
                for (size_t i = 0; i < n_cuts; i++)
                        cuts[i] = in.len ? (size_t) rand_r(&seed) % (in.len + 1) : 0;
                /* sort the cuts */
                for (size_t i = 1; i < n_cuts; i++)
                        for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                                size_t t = cuts[j];

                                cuts[j] = cuts[j - 1];
                                cuts[j - 1] = t;
                        }
                {
                        char *got = parse_split(&o, buf_str(&in), in.len, cuts, n_cuts);

                        assert_string_equal(got, whole);
                        free(got);
                }
                /* and byte by byte */
                {
                        size_t all[1024], m = MIN(in.len, (size_t) 1024);
                        char *got;

                        for (size_t i = 0; i < m; i++)
                                all[i] = i;
                        got = parse_split(&o, buf_str(&in), in.len, all, m);
                        assert_string_equal(got, whole);
                        free(got);
                }
                free(whole);
        }
        buf_done(&in);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_basic),
                cmocka_unit_test(test_quotes),
                cmocka_unit_test(test_bom_and_delimiters),
                cmocka_unit_test(test_row_errors),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_oversized_row_resync),
                cmocka_unit_test(test_long_quoted_field_with_row_inside),
                cmocka_unit_test(test_nul),
                cmocka_unit_test(test_abort),
                cmocka_unit_test(test_lines),
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_utf8_differential),
                cmocka_unit_test(test_unescape_random),
                cmocka_unit_test(test_every_split_point),
                cmocka_unit_test(test_random_splits),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
