#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "gzip-helper.h"

#include "common/buf.h"
#include "common/ingest.h"

/* The reference pipeline, as conf/s3batchd.yaml describes it. */
static void reference_spec(PipelineSpec *p) {
        static const char *const names[] = { "student_id", "first_name", "last_name", "course" };

        *p = (PipelineSpec) { .name = strdup("students"), .table = strdup("PRELIM_STUDENT_DATA") };
        csv_spec_init(&p->csv);
        p->csv.null_values = calloc(2, sizeof(char *));
        p->csv.null_values[0] = strdup("");
        p->csv.null_values[1] = strdup("NULL");
        p->csv.n_null_values = 2;
        p->columns = calloc(4, sizeof(ColumnSpec));
        p->n_columns = 4;
        for (size_t i = 0; i < 4; i++)
                p->columns[i] = (ColumnSpec) { .name = strdup(names[i]), .type = COLUMN_STRING,
                                               .required = true };
        p->columns[0].pattern = strdup("^A[0-9]{5}$");
        p->columns[1].max_length = 64;
        p->partition_key = strdup("student_id");
        p->sort_key = strdup("course");
}

static char *read_file(const char *rel, size_t *ret_len) {
        char path[4096];
        FILE *f;
        char *data = malloc(1 << 20);

        snprintf(path, sizeof(path), "%s/%s", TEST_SRCDIR, rel);
        f = fopen(path, "rb");
        assert_non_null(f);
        *ret_len = fread(data, 1, 1 << 20, f);
        fclose(f);
        return data;
}

/* Items as "LINE KEY JSON", rejects as "LINE!COL(NAME) REASON [RAW]", header as "H[RAW]". */
typedef struct Out {
        Buf text;
        int abort_at_line;
} Out;

static int on_item(void *userdata, const IngestItem *it) {
        Out *o = userdata;

        if (o->abort_at_line && it->line == (uint64_t) o->abort_at_line)
                return -ECANCELED;
        assert_int_equal(strlen(it->json), it->json_len);
        buf_printf(&o->text, "%llu %.*s %s\n", (unsigned long long) it->line, (int) it->key_len,
                   it->key, it->json);
        return 0;
}

static int on_reject(void *userdata, const IngestReject *r) {
        Out *o = userdata;

        buf_printf(&o->text, "%llu!%u(%s) %s [", (unsigned long long) r->line, r->column,
                   r->column_name ? r->column_name : "-", r->reason);
        for (size_t i = 0; i < r->raw_len; i++) {
                if (r->raw[i] == '\0')
                        buf_append_str(&o->text, "\\0");     /* keep the text a C string */
                else
                        buf_append_char(&o->text, r->raw[i]);
        }
        buf_append_str(&o->text, r->raw_truncated ? "]+\n" : "]\n");
        return 0;
}

static int on_header(void *userdata, const char *raw, size_t len) {
        Out *o = userdata;

        buf_append_str(&o->text, "H[");
        buf_append(&o->text, raw, len);
        buf_append_str(&o->text, "]\n");
        return 0;
}

static const IngestCallbacks callbacks = { on_item, on_reject, on_header };

/* Runs a whole object through a fresh Ingest, cut at `cuts`; returns ingest's result. */
static int run_split(const PipelineSpec *spec, const char *key, const void *data, size_t n,
                     const size_t *cuts, size_t n_cuts, Out *o, IngestStats *st, S3bError *err) {
        Ingest *in = NULL;
        size_t at = 0;
        int r = 0;

        assert_int_equal(ingest_new(spec, NULL, key, &callbacks, o, &in, err), 0);
        for (size_t i = 0; i <= n_cuts && r >= 0; i++) {
                size_t end = i < n_cuts ? cuts[i] : n;

                r = ingest_feed(in, (const char *) data + at, end - at, err);
                at = end;
        }
        if (r >= 0)
                r = ingest_finish(in, st, err);
        ingest_free(in);
        return r;
}

static int run(const PipelineSpec *spec, const char *key, const void *data, size_t n, Out *o,
               IngestStats *st, S3bError *err) {
        return run_split(spec, key, data, n, NULL, 0, o, st, err);
}

#define STUDENTS_OUT                                                                               \
        "H[student_id,first_name,last_name,course]\n"                                              \
        "2 S6:A00001S5:CS101 {\"student_id\":{\"S\":\"A00001\"},\"first_name\":{\"S\":\"Ada\"},"   \
        "\"last_name\":{\"S\":\"Lovelace\"},\"course\":{\"S\":\"CS101\"}}\n"                       \
        "3 S6:A00002S5:CS101 {\"student_id\":{\"S\":\"A00002\"},\"first_name\":{\"S\":\"Alan\"},"  \
        "\"last_name\":{\"S\":\"Turing\"},\"course\":{\"S\":\"CS101\"}}\n"                         \
        "4 S6:A00003S7:MATH200 {\"student_id\":{\"S\":\"A00003\"},\"first_name\":{\"S\":\"Grace\"}," \
        "\"last_name\":{\"S\":\"Hopper\"},\"course\":{\"S\":\"MATH200\"}}\n"                       \
        "5 S6:A00004S5:CS101 {\"student_id\":{\"S\":\"A00004\"},\"first_name\":{\"S\":\"Edsger\"}," \
        "\"last_name\":{\"S\":\"Dijkstra\"},\"course\":{\"S\":\"CS101\"}}\n"

static void test_reference_file(void **state) {
        PipelineSpec spec;
        Out o = { .text = BUF_INIT(1 << 20) };
        IngestStats st = {};
        S3bError err = {};
        size_t n;
        char *data = read_file("tests/data/good/students.csv", &n);

        reference_spec(&spec);
        assert_int_equal(run(&spec, "students.csv", data, n, &o, &st, &err), 0);
        assert_string_equal(buf_str(&o.text), STUDENTS_OUT);
        assert_int_equal(st.rows_total, 4);
        assert_int_equal(st.rows_valid, 4);
        assert_int_equal(st.rows_rejected, 0);
        assert_int_equal(st.bytes_in, n);
        assert_int_equal(st.bytes_decoded, n);
        assert_false(st.gzip);
        free(data);
        buf_done(&o.text);
        pipeline_spec_done(&spec);
}

static void test_gzip(void **state) {
        PipelineSpec spec;
        Out o = { .text = BUF_INIT(1 << 20) };
        IngestStats st = {};
        S3bError err = {};
        Buf gz = BUF_INIT(1 << 20);
        size_t n;
        char *data = read_file("tests/data/good/students.csv", &n);

        reference_spec(&spec);
        gzip_append(&gz, data, 60, 6);
        gzip_append(&gz, data + 60, n - 60, 6);    /* two members, split mid-row */
        /* by suffix, by magic, and forced */
        assert_int_equal(run(&spec, "in/students.csv.gz", gz.data, gz.len, &o, &st, &err), 0);
        assert_string_equal(buf_str(&o.text), STUDENTS_OUT);
        assert_true(st.gzip);
        assert_int_equal(st.bytes_in, gz.len);
        assert_int_equal(st.bytes_decoded, n);
        buf_reset(&o.text);
        assert_int_equal(run(&spec, "students.csv", gz.data, gz.len, &o, &st, &err), 0);
        assert_string_equal(buf_str(&o.text), STUDENTS_OUT);
        buf_reset(&o.text);
        assert_int_equal(run(&spec, NULL, gz.data, gz.len, &o, &st, &err), 0);
        assert_string_equal(buf_str(&o.text), STUDENTS_OUT);
        buf_reset(&o.text);
        spec.csv.compression = COMPRESSION_GZIP;
        assert_int_equal(run(&spec, "x", gz.data, gz.len, &o, &st, &err), 0);
        assert_string_equal(buf_str(&o.text), STUDENTS_OUT);

        /* gzip data read as plain text is a bad header, not a crash */
        spec.csv.compression = COMPRESSION_NONE;
        assert_int_equal(run(&spec, "x.gz", gz.data, gz.len, &o, &st, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "header row"));

        /* a .gz key with plain data, a truncated and a corrupt stream are file errors */
        spec.csv.compression = COMPRESSION_AUTO;
        assert_int_equal(run(&spec, "x.csv.gz", data, n, &o, &st, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "gzip"));
        assert_int_equal(run(&spec, "x.csv.gz", gz.data, gz.len - 3, &o, &st, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "truncated gzip"));
        gz.data[12] ^= 0x55;     /* inside the first member's deflate data */
        assert_int_equal(run(&spec, "x.csv.gz", gz.data, gz.len, &o, &st, &err), -EBADMSG);
        free(data);
        buf_done(&gz);
        buf_done(&o.text);
        pipeline_spec_done(&spec);
}

static const char messy[] =
        "\xef\xbb\xbf" "Course,STUDENT_ID,first_name,last_name\r\n"
        "CS101,A00001,Ada,Lovelace\r\n"
        "CS101,B00002,Alan,Turing\r\n"                          /* pattern */
        "MATH200,A00003,\"Grace \"\"Amazing\"\"\",Hopper\r\n"
        "CS101,A00004,Edsger\r\n"                               /* too few fields */
        "\r\n"
        "CS101,A00005,\"multi\nline\",Lamport\r\n"
        "CS101,A00006,Ba\"d,Quote\r\n"                          /* stray quote */
        "CS101,A00007,NULL,Knuth\r\n"                           /* required null */
        ",A00008,Niklaus,Wirth\r\n"                             /* key null */
        "CS101,A00009,caf\xc3\xa9,\xff\r\n"                     /* bad UTF-8 */
        "CS101,A00010,Barbara,Liskov";                          /* no final line break */

#define MESSY_OUT                                                                                  \
        "H[Course,STUDENT_ID,first_name,last_name]\n"                                            \
        "2 S6:A00001S5:CS101 {\"course\":{\"S\":\"CS101\"},\"student_id\":{\"S\":\"A00001\"},"     \
        "\"first_name\":{\"S\":\"Ada\"},\"last_name\":{\"S\":\"Lovelace\"}}\n"                     \
        "3!2(student_id) does not match pattern ^A[0-9]{5}$ [CS101,B00002,Alan,Turing]\n"        \
        "4 S6:A00003S7:MATH200 {\"course\":{\"S\":\"MATH200\"},\"student_id\":{\"S\":\"A00003\"}," \
        "\"first_name\":{\"S\":\"Grace \\\"Amazing\\\"\"},\"last_name\":{\"S\":\"Hopper\"}}\n"     \
        "5!4(last_name) expected 4 fields, found 3 [CS101,A00004,Edsger]\n"                      \
        "7 S6:A00005S5:CS101 {\"course\":{\"S\":\"CS101\"},\"student_id\":{\"S\":\"A00005\"},"     \
        "\"first_name\":{\"S\":\"multi\\nline\"},\"last_name\":{\"S\":\"Lamport\"}}\n"             \
        "9!3(first_name) quote inside an unquoted field [CS101,A00006,Ba\"d,Quote]\n"            \
        "10!3(first_name) required value is null [CS101,A00007,NULL,Knuth]\n"                    \
        "11!1(course) key attribute is null [,A00008,Niklaus,Wirth]\n"                           \
        "12!4(last_name) invalid UTF-8 [CS101,A00009,caf\xc3\xa9,\xff]\n"                        \
        "13 S6:A00010S5:CS101 {\"course\":{\"S\":\"CS101\"},\"student_id\":{\"S\":\"A00010\"},"    \
        "\"first_name\":{\"S\":\"Barbara\"},\"last_name\":{\"S\":\"Liskov\"}}\n"

static void test_rejects_and_header_mapping(void **state) {
        PipelineSpec spec;
        Out o = { .text = BUF_INIT(1 << 20) };
        IngestStats st = {};
        S3bError err = {};

        reference_spec(&spec);
        assert_int_equal(run(&spec, "m.csv", messy, sizeof(messy) - 1, &o, &st, &err), 0);
        assert_string_equal(buf_str(&o.text), MESSY_OUT);
        assert_int_equal(st.rows_total, 10);
        assert_int_equal(st.rows_valid, 4);
        assert_int_equal(st.rows_rejected, 6);
        buf_done(&o.text);
        pipeline_spec_done(&spec);
}

/* The property the daemon relies on: however S3 cuts the object, the same items come out.
 * Every single cut point, on the plain text and on its gzip form. */
static void test_every_split_point(void **state) {
        PipelineSpec spec;
        Out o = { .text = BUF_INIT(1 << 20) };
        S3bError err = {};
        Buf gz = BUF_INIT(1 << 20);

        reference_spec(&spec);
        gzip_append(&gz, messy, sizeof(messy) - 1, 6);
        for (int g = 0; g < 2; g++) {
                const char *d = g ? gz.data : messy;
                size_t n = g ? gz.len : sizeof(messy) - 1;

                for (size_t i = 0; i <= n; i++) {
                        buf_reset(&o.text);
                        assert_int_equal(run_split(&spec, "m.csv", d, n, &i, 1, &o, NULL, &err), 0);
                        assert_string_equal(buf_str(&o.text), MESSY_OUT);
                }
        }
        buf_done(&gz);
        buf_done(&o.text);
        pipeline_spec_done(&spec);
}

static void test_header_mismatch(void **state) {
        static const char bad[] = "student_id,first_name,surname,course,extra\nA00001,a,b,c,d\n";
        PipelineSpec spec;
        Out o = { .text = BUF_INIT(1 << 20) };
        Ingest *in = NULL;
        S3bError err = {};

        reference_spec(&spec);
        assert_int_equal(ingest_new(&spec, NULL, "x.csv", &callbacks, &o, &in, &err), 0);
        assert_int_equal(ingest_feed(in, bad, sizeof(bad) - 1, &err), -EBADMSG);
        assert_string_equal(err.message,
                            "line 1: header does not match the columns of pipeline 'students': "
                            "missing: 'last_name'; unknown: 'surname', 'extra'");
        /* a failed Ingest stays failed */
        assert_int_equal(ingest_feed(in, "x", 1, &err), -EINVAL);
        assert_int_equal(ingest_finish(in, NULL, &err), -EINVAL);
        assert_string_equal(buf_str(&o.text), "");
        ingest_free(in);

        /* an empty object has no header */
        assert_int_equal(run(&spec, "e.csv", "", 0, &o, NULL, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "no header row"));
        /* nor has a file that is only a BOM */
        assert_int_equal(run(&spec, "e.csv", "\xef\xbb\xbf", 3, &o, NULL, &err), -EBADMSG);
        /* a broken header row is a file error */
        assert_int_equal(run(&spec, "e.csv", "student_id,\"first\n", 18, &o, NULL, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "line 1: header row: unterminated quoted field"));
        buf_done(&o.text);
        pipeline_spec_done(&spec);
}

static void test_header_absent_and_delimiter(void **state) {
        static const char rows[] = "A00001;Ada;Lovelace;CS101\nA00002;Alan;;CS101\n";
        PipelineSpec spec;
        Out o = { .text = BUF_INIT(1 << 20) };
        IngestStats st = {};
        S3bError err = {};

        reference_spec(&spec);
        spec.csv.header = HEADER_ABSENT;
        spec.csv.delimiter = ';';
        assert_int_equal(run(&spec, "x.csv", rows, sizeof(rows) - 1, &o, &st, &err), 0);
        assert_string_equal(buf_str(&o.text),
                            "1 S6:A00001S5:CS101 {\"student_id\":{\"S\":\"A00001\"},\"first_name\":{\"S\":\"Ada\"},"
                            "\"last_name\":{\"S\":\"Lovelace\"},\"course\":{\"S\":\"CS101\"}}\n"
                            "2!3(last_name) required value is null [A00002;Alan;;CS101]\n");
        /* without a header, an empty file is just empty */
        assert_int_equal(run(&spec, "x.csv", "", 0, &o, &st, &err), 0);
        assert_int_equal(st.rows_total, 0);
        buf_done(&o.text);
        pipeline_spec_done(&spec);
}

static void test_abort_and_limits(void **state) {
        PipelineSpec spec;
        Out o = { .text = BUF_INIT(1 << 20), .abort_at_line = 3 };
        Ingest *in = NULL;
        IngestStats st;
        S3bError err = {};
        size_t n;
        char *data = read_file("tests/data/good/students.csv", &n);

        reference_spec(&spec);
        assert_int_equal(run(&spec, "s.csv", data, n, &o, NULL, &err), -ECANCELED);
        assert_non_null(strstr(err.message, "line 3: aborted"));

        /* stats so far are available after a failure */
        o.abort_at_line = 0;
        assert_int_equal(ingest_new(&spec, NULL, "s.csv", &callbacks, &o, &in, &err), 0);
        assert_int_equal(ingest_feed(in, data, 70, &err), 0);
        ingest_get_stats(in, &st);
        assert_int_equal(st.bytes_in, 70);
        assert_int_equal(st.rows_valid, 1);
        ingest_free(in);

        /* a row longer than max_row_bytes is rejected, the next one is fine */
        spec.csv.max_row_bytes = spec.csv.max_field_bytes = 64;
        buf_reset(&o.text);
        {
                char big[512];

                snprintf(big, sizeof(big), "student_id,first_name,last_name,course\n"
                         "A00001,%0100d,x,y\nA00002,b,c,d\n", 0);
                assert_int_equal(run(&spec, "s.csv", big, strlen(big), &o, &st, &err), 0);
                assert_int_equal(st.rows_rejected, 1);
                assert_int_equal(st.rows_valid, 1);
                assert_non_null(strstr(buf_str(&o.text), "2!0(-) row longer than max_row_bytes ["));
                assert_non_null(strstr(buf_str(&o.text), "]+\n3 S6:A00002S1:d"));
        }
        free(data);
        buf_done(&o.text);
        pipeline_spec_done(&spec);
}

/* A 500 KiB quoted field holding a line that looks like a row, with max_row_bytes under the
 * field: the row is rejected as too long, the line inside it never becomes an item, and the
 * row after it comes out at its own line. Plain and gzip, whole and cut. */
static void test_long_quoted_field_with_row_inside(void **state) {
        const size_t half = 250 * 1024;
        PipelineSpec spec;
        Out o = { .text = BUF_INIT(1 << 22) };
        IngestStats st = {};
        S3bError err = {};
        Buf in = BUF_INIT(1 << 20), gz = BUF_INIT(1 << 20), expect = BUF_INIT(1 << 20);
        size_t cuts[3];

        reference_spec(&spec);
        spec.csv.max_row_bytes = spec.csv.max_field_bytes = 64 * 1024;
        buf_append_str(&in, "student_id,first_name,last_name,course\n"
                            "A00001,Ada,Lovelace,CS101\nA00002,\"");
        for (size_t i = 0; i < half; i++)
                buf_append_char(&in, 'x');
        buf_append_str(&in, "\nA99999,Evil,Row,CS666\n");
        for (size_t i = 0; i < half; i++)
                buf_append_char(&in, 'y');
        buf_append_str(&in, "\",Turing,CS101\nA00003,Grace,Hopper,MATH200\n");
        gzip_append(&gz, in.data, in.len, 6);

        buf_append_str(&expect, "H[student_id,first_name,last_name,course]\n"
                       "2 S6:A00001S5:CS101 {\"student_id\":{\"S\":\"A00001\"},\"first_name\":{\"S\":\"Ada\"},"
                       "\"last_name\":{\"S\":\"Lovelace\"},\"course\":{\"S\":\"CS101\"}}\n"
                       "3!0(-) row longer than max_row_bytes [A00002,\"");
        for (size_t i = 0; i < spec.csv.max_row_bytes - 8; i++)
                buf_append_char(&expect, 'x');
        buf_append_str(&expect, "]+\n"
                       "6 S6:A00003S7:MATH200 {\"student_id\":{\"S\":\"A00003\"},\"first_name\":{\"S\":\"Grace\"},"
                       "\"last_name\":{\"S\":\"Hopper\"},\"course\":{\"S\":\"MATH200\"}}\n");

        for (int g = 0; g < 2; g++) {
                const Buf *b = g ? &gz : &in;

                for (size_t k = 0; k < 40; k++) {
                        /* whole, then cut in three around the field and its inner line */
                        size_t n_cuts = k ? 3 : 0;

                        cuts[0] = k * b->len / 120;
                        cuts[1] = cuts[0] + k * 7;
                        cuts[2] = MIN(b->len, cuts[1] + k * b->len / 50);
                        buf_reset(&o.text);
                        assert_int_equal(run_split(&spec, "s.csv", b->data, b->len, cuts, n_cuts, &o,
                                                   &st, &err), 0);
                        assert_null(strstr(buf_str(&o.text), "A99999"));
                        assert_string_equal(buf_str(&o.text), buf_str(&expect));
                        assert_int_equal(st.rows_total, 3);
                        assert_int_equal(st.rows_rejected, 1);
                }
        }
        buf_done(&in);
        buf_done(&gz);
        buf_done(&expect);
        buf_done(&o.text);
        pipeline_spec_done(&spec);
}

/* A quote that never closes swallows the rest of the file into one field: the rows after it
 * cannot be found, so the file fails (as PostgreSQL's COPY does), naming where it opened,
 * whether the rest is short or longer than max_row_bytes. Rows before it came out. */
static void test_unterminated_quote_fails_the_file(void **state) {
        static const char text[] = "student_id,first_name,last_name,course\n"
                                   "A00001,Ada,Lovelace,CS101\n"
                                   "A00002,\"Alan,Turing,CS101\n"
                                   "A00003,Grace,Hopper,MATH200\n"
                                   "A00004,Edsger,Dijkstra,CS101\n";
        PipelineSpec spec;
        Out o = { .text = BUF_INIT(1 << 20) };
        S3bError err = {};

        reference_spec(&spec);
        for (int small = 0; small < 2; small++) {
                if (small)
                        spec.csv.max_row_bytes = spec.csv.max_field_bytes = 40;
                for (size_t i = 0; i <= sizeof(text) - 1; i++) {
                        buf_reset(&o.text);
                        assert_int_equal(run_split(&spec, "s.csv", text, sizeof(text) - 1, &i, 1, &o,
                                                   NULL, &err), -EBADMSG);
                        assert_string_equal(err.message,
                                            "line 3: column 2 (first_name): unterminated quoted field: "
                                            "the quote is still open at the end of the file, so the "
                                            "rows after it cannot be told apart");
                        assert_non_null(strstr(buf_str(&o.text), "\n2 S6:A00001S5:CS101 "));
                        assert_null(strstr(buf_str(&o.text), "A00003"));
                        assert_null(strstr(buf_str(&o.text), "3!"));
                }
        }
        buf_done(&o.text);
        pipeline_spec_done(&spec);
}

/* NUL is not text: the row is rejected naming the field; in the header it fails the file. */
static void test_nul(void **state) {
        static const char rows[] = "student_id,first_name,last_name,course\n"
                                   "A00001,Ada,Love\0lace,CS101\nA00002,Alan,Turing,CS101\n";
        static const char header[] = "student_id,first_name\0,last_name,course\nA00001,a,b,c\n";
        PipelineSpec spec;
        Out o = { .text = BUF_INIT(1 << 20) };
        IngestStats st = {};
        S3bError err = {};

        reference_spec(&spec);
        assert_int_equal(run(&spec, "s.csv", rows, sizeof(rows) - 1, &o, &st, &err), 0);
        assert_non_null(strstr(buf_str(&o.text), "\n2!3(last_name) NUL byte in field [A00001,Ada,Love\\0lace,CS101]\n"));
        assert_non_null(strstr(buf_str(&o.text), "\n3 S6:A00002S5:CS101 "));
        assert_int_equal(st.rows_rejected, 1);
        assert_int_equal(st.rows_valid, 1);
        assert_int_equal(run(&spec, "s.csv", header, sizeof(header) - 1, &o, &st, &err), -EBADMSG);
        assert_string_equal(err.message, "line 1: header row: NUL byte in field "
                                         "(a UTF-16 or binary file? convert it to UTF-8)");
        buf_done(&o.text);
        pipeline_spec_done(&spec);
}

/* UTF-16 (either byte order mark) fails the file at once instead of one reject per row,
 * with or without a header, plain or gzip, however the first bytes arrive. */
static void test_utf16_fails_the_file(void **state) {
        static const char *const utf8 = "student_id,first_name,last_name,course\nA00001,Ada,Lovelace,CS101\n";
        static const char mid[] = "A00001,Ada,L\xff\xfe,CS101\n";
        PipelineSpec spec;
        Out o = { .text = BUF_INIT(1 << 20) };
        S3bError err = {};
        Buf le = BUF_INIT(4096), be = BUF_INIT(4096), gz = BUF_INIT(4096);

        buf_append(&le, "\xff\xfe", 2);
        buf_append(&be, "\xfe\xff", 2);
        for (const char *c = utf8; *c; c++) {
                buf_append_char(&le, *c);
                buf_append_char(&le, '\0');
                buf_append_char(&be, '\0');
                buf_append_char(&be, *c);
        }
        gzip_append(&gz, le.data, le.len, 6);
        reference_spec(&spec);
        for (int absent = 0; absent < 2; absent++) {
                spec.csv.header = absent ? HEADER_ABSENT : HEADER_REQUIRED;
                for (int k = 0; k < 3; k++) {
                        const Buf *b = k == 0 ? &le : k == 1 ? &be : &gz;

                        for (size_t i = 0; i <= 3; i++) {
                                buf_reset(&o.text);
                                assert_int_equal(run_split(&spec, "s.csv", b->data, b->len, &i, 1, &o,
                                                           NULL, &err), -EBADMSG);
                                assert_string_equal(err.message,
                                                    k == 1 ? "UTF-16 is not supported (the file starts with "
                                                             "the byte order mark FE FF); convert it to UTF-8"
                                                           : "UTF-16 is not supported (the file starts with "
                                                             "the byte order mark FF FE); convert it to UTF-8");
                                assert_string_equal(buf_str(&o.text), "");
                        }
                }
        }
        /* the two bytes are only a mark at the very start */
        spec.csv.header = HEADER_ABSENT;
        buf_reset(&o.text);
        assert_int_equal(run(&spec, "s.csv", mid, sizeof(mid) - 1, &o, NULL, &err), 0);
        assert_non_null(strstr(buf_str(&o.text), "1!3(last_name) invalid UTF-8"));
        buf_done(&le);
        buf_done(&be);
        buf_done(&gz);
        buf_done(&o.text);
        pipeline_spec_done(&spec);
}

static void test_bad_spec(void **state) {
        PipelineSpec spec;
        Ingest *in = NULL;
        S3bError err = {};

        reference_spec(&spec);
        spec.csv.delimiter = '"';
        assert_int_equal(ingest_new(&spec, NULL, "x", &callbacks, NULL, &in, &err), -EINVAL);
        assert_non_null(strstr(err.message, "delimiter"));
        spec.csv.delimiter = ',';
        free(spec.columns[0].pattern);
        spec.columns[0].pattern = strdup("(");
        assert_int_equal(ingest_new(&spec, NULL, "x", &callbacks, NULL, &in, &err), -EINVAL);
        assert_null(in);
        pipeline_spec_done(&spec);
}

/* DynamoDB's key rules are row rules: a 1100-byte sort key or an empty GSI key attribute
 * rejects its row, with the line and a reason, and the rows around it go on as items. */
static void test_dynamodb_key_rules(void **state) {
        static const TableShape table = {
                .hash = { "student_id", 'S' }, .range = { "course", 'S' },
                .indexes = { { .name = "by_name", .hash = { "last_name", 'S' } } },
                .n_indexes = 1,
        };
        PipelineSpec spec;
        Out o = { .text = BUF_INIT(1 << 20) };
        Buf csv = BUF_INIT(1 << 20);
        IngestStats st = {};
        S3bError err = {};
        Ingest *in = NULL;

        reference_spec(&spec);
        /* "" is a value (not null) here, as with null_values: [NULL] */
        free(spec.csv.null_values[0]);
        spec.csv.null_values[0] = strdup("NULL");
        spec.columns[2].required = false;
        buf_append_str(&csv, "student_id,first_name,last_name,course\nA00001,Ada,Lovelace,CS101\nA00002,Alan,Turing,");
        for (int i = 0; i < 1100; i++)
                buf_append_char(&csv, 'x');
        buf_append_str(&csv, "\nA00003,Grace,,CS101\nA00004,Edsger,NULL,CS101\n");

        assert_int_equal(ingest_new(&spec, &table, "k.csv", &callbacks, &o, &in, &err), 0);
        assert_int_equal(ingest_feed(in, csv.data, csv.len, &err), 0);
        assert_int_equal(ingest_finish(in, &st, &err), 0);
        ingest_free(in);
        assert_int_equal(st.rows_total, 4);
        assert_int_equal(st.rows_valid, 2);
        assert_int_equal(st.rows_rejected, 2);
        assert_non_null(strstr(buf_str(&o.text), "\n3!4(course) sort key course is 1100 bytes; DynamoDB allows 1024 [A00002,Alan,Turing,xxx"));
        assert_non_null(strstr(buf_str(&o.text), "\n4!3(last_name) GSI by_name key last_name is empty [A00003,Grace,,CS101]\n"));
        assert_non_null(strstr(buf_str(&o.text), "\n5 S6:A00004S5:CS101 {\"student_id\":{\"S\":\"A00004\"},\"first_name\":{\"S\":\"Edsger\"},\"course\":{\"S\":\"CS101\"}}\n"));

        /* without the table's shape the GSI rule is unknown, the key length rule is not */
        buf_reset(&o.text);
        assert_int_equal(run(&spec, "k.csv", csv.data, csv.len, &o, &st, &err), 0);
        assert_int_equal(st.rows_rejected, 1);
        assert_non_null(strstr(buf_str(&o.text), "\n4 S6:A00003S5:CS101 {\"student_id\":{\"S\":\"A00003\"},\"first_name\":{\"S\":\"Grace\"},\"last_name\":{\"S\":\"\"}"));

        /* a pipeline that does not fit the table cannot start */
        {
                TableShape wrong = table;

                wrong.indexes[0].hash.type = 'N';
                assert_int_equal(ingest_new(&spec, &wrong, "k.csv", &callbacks, &o, &in, &err), -EINVAL);
                assert_non_null(strstr(err.message, "GSI by_name key last_name as N (number)"));
        }
        buf_done(&csv);
        buf_done(&o.text);
        pipeline_spec_done(&spec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reference_file),
                cmocka_unit_test(test_gzip),
                cmocka_unit_test(test_rejects_and_header_mapping),
                cmocka_unit_test(test_every_split_point),
                cmocka_unit_test(test_header_mismatch),
                cmocka_unit_test(test_header_absent_and_delimiter),
                cmocka_unit_test(test_abort_and_limits),
                cmocka_unit_test(test_dynamodb_key_rules),
                cmocka_unit_test(test_long_quoted_field_with_row_inside),
                cmocka_unit_test(test_unterminated_quote_fails_the_file),
                cmocka_unit_test(test_nul),
                cmocka_unit_test(test_utf16_fails_the_file),
                cmocka_unit_test(test_bad_spec),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
