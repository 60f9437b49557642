/* `validate` runs ingest in verdict-only mode (ingest_set_verdict_only(): no item JSON). Its
 * verdicts must be the writing path's, row for row: every file of the test corpora, and
 * generated files for what they lack (quoted fields with "" and line breaks, bad numbers,
 * missing keys, items over 400 KB and items whose JSON passes the builder's bound), goes
 * through both modes and the outcomes — items (line, key, size), rejects (line, column,
 * name, reason, raw), the file error, the counters — must be equal. */
#include <dirent.h>
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
#include "common/ingest.h"
#include "common/item.h"
#include "conf/config.h"

/* 200 bytes: a constant attribute that outgrows the bound's slack for computed ones */
#define C20 "cccccccccccccccccccc"
#define CONSTANT_200 C20 C20 C20 C20 C20 C20 C20 C20 C20 C20

static const char CONFIG[] =
        "queue: {url: \"https://sqs.eu-west-1.amazonaws.com/111122223333/q\"}\n"
        "archive: {bucket: example-archive}\n"
        "errors: {bucket: example-errors}\n"
        "pipelines:\n"
        "  - name: students\n"
        "    match: {bucket: in-students, suffix: .csv}\n"
        "    table: PRELIM_STUDENT_DATA\n"
        "    csv: {null_values: [\"\", \"NULL\"], max_row_bytes: 409600}\n"
        "    columns:\n"
        "      - { name: student_id, type: string, required: true, pattern: \"^A[0-9]{5}$\" }\n"
        "      - { name: first_name, type: string, required: true, max_length: 64 }\n"
        "      - { name: last_name,  type: string, required: true }\n"
        "      - { name: course,     type: string, required: true }\n"
        "    key: { partition: student_id, sort: course }\n"
        "  - name: typed\n"
        "    match: {bucket: in-typed, suffix: .csv}\n"
        "    table: TYPED\n"
        "    csv: {null_values: [\"\", \"NULL\"], max_row_bytes: 409600}\n"
        "    columns:\n"
        "      - { name: code,   type: string,  required: true }\n"
        "      - { name: id,     type: integer, required: true }\n"
        "      - { name: amount, type: number }\n"
        "      - { name: ok,     type: boolean }\n"
        "      - { name: day,    type: date }\n"
        "      - { name: level,  type: enum, values: [UG, PG] }\n"
        "    key: { partition: code, sort: id }\n"
        "  - name: orders\n"
        "    match: {bucket: in-orders, suffix: .csv}\n"
        "    table: ORDERS\n"
        "    csv: {null_values: [\"\", \"NULL\"]}\n"
        "    columns:\n"
        "      - { name: order_id, type: string, required: true, pattern: \"^O[0-9]{8}$\" }\n"
        "      - { name: line,     type: integer, required: true, min: 1, max: 999 }\n"
        "      - { name: customer, type: string, required: true, max_length: 128 }\n"
        "      - { name: amount,   type: number, required: true, min: 0 }\n"
        "      - { name: paid,     type: boolean, required: true }\n"
        "      - { name: created,  type: date, required: true }\n"
        "      - { name: status,   type: enum, required: true, values: [new, paid] }\n"
        "      - { name: tags,     type: string_set }\n"
        "      - { name: notes,    type: string, omit_if_null: false }\n"
        "    computed: [{ attribute: src_line, from: source_line }]\n"
        "    key: { partition: order_id, sort: line }\n"
        /* rows up to 1 MiB: an item can pass DynamoDB's 400 KB */
        "  - name: big\n"
        "    match: {bucket: in-big, suffix: .csv}\n"
        "    table: BIG\n"
        "    csv: {max_row_bytes: 1048576}\n"
        "    columns:\n"
        "      - { name: id, type: string, required: true }\n"
        "      - { name: t,  type: string }\n"
        "    key: { partition: id }\n"
        /* a long constant beside rows of control characters: JSON past the builder's bound */
        "  - name: escapes\n"
        "    match: {bucket: in-escapes, suffix: .csv}\n"
        "    table: ESC\n"
        "    csv: {max_row_bytes: 4096}\n"
        "    columns:\n"
        "      - { name: id, type: string, required: true }\n"
        "      - { name: t,  type: string }\n"
        "    computed: [{ attribute: c, constant: \"" CONSTANT_200 "\" }]\n"
        "    key: { partition: id }\n"
        "  - name: nums\n"
        "    match: {bucket: in-nums, suffix: .csv}\n"
        "    table: NUMS\n"
        "    columns:\n"
        "      - { name: id, type: string, required: true }\n"
        "      - { name: n,  type: number, required: true }\n"
        "      - { name: i,  type: integer }\n"
        "    key: { partition: id }\n"
        "  - name: j\n"
        "    match: {bucket: in-jsonl}\n"
        "    table: T_1\n"
        "    format: jsonl\n"
        "    csv: {max_row_bytes: 4096}\n"
        "    columns:\n"
        "      - { name: id, required: true }\n"
        "      - { name: n, type: number }\n"
        "      - { name: s }\n"
        "      - { name: tags, type: string_set }\n"
        "      - { name: nums, type: number_set }\n"
        "      - { name: meta, type: map }\n"
        "    key: { partition: id }\n"
        "  - name: d\n"
        "    match: {bucket: in-ddb}\n"
        "    table: T_1\n"
        "    format: ddb-json\n"
        "    key: { partition: pk }\n";

/* Everything a run says, as text: equal texts, equal verdicts. */
typedef struct Run {
        Buf text;
        bool verdict_only;
        uint64_t items, rejects;
} Run;

static int on_item(void *userdata, const IngestItem *it) {
        Run *run = userdata;

        /* the mode really is what the test thinks: no JSON only when verdict-only */
        if (run->verdict_only)
                assert_null(it->json);
        else
                assert_non_null(it->json);
        run->items++;
        buf_printf(&run->text, "I %llu size=%zu key=", (unsigned long long) it->line, it->size);
        for (size_t i = 0; i < it->key_len; i++)
                buf_printf(&run->text, "%02x", (unsigned char) it->key[i]);
        return buf_append_char(&run->text, '\n');
}

static int on_reject(void *userdata, const IngestReject *rj) {
        Run *run = userdata;

        run->rejects++;
        buf_printf(&run->text, "R %llu col=%u name=%s reason=%s raw=%zu%s:", (unsigned long long) rj->line,
                   rj->column, rj->column_name ? rj->column_name : "-", rj->reason, rj->raw_len,
                   rj->raw_truncated ? "+" : "");
        for (size_t i = 0; i < MIN(rj->raw_len, (size_t) 64); i++)
                buf_printf(&run->text, "%02x", (unsigned char) rj->raw[i]);
        return buf_append_char(&run->text, '\n');
}

static void run_ingest(const PipelineSpec *p, const char *key, const char *data, size_t n,
                       bool verdict_only, Run *run) {
        static const IngestCallbacks cb = { .on_item = on_item, .on_reject = on_reject };
        _cleanup_(ingest_freep) Ingest *in = NULL;
        IngestSource src = { .key = key, .etag = "\"etag\"", .ingested_at = 1700000000 };
        IngestStats st = {};
        S3bError err = {};
        size_t chunk = 65536;
        int r;

        *run = (Run) { .text = BUF_INIT(64 << 20), .verdict_only = verdict_only };
        assert_int_equal(ingest_new(p, NULL, key, &cb, run, &in, &err), 0);
        assert_int_equal(ingest_set_source(in, &src), 0);
        if (verdict_only)
                ingest_set_verdict_only(in, true);
        r = 0;
        for (size_t off = 0; off < n && r >= 0; off += chunk)
                r = ingest_feed(in, data + off, MIN(chunk, n - off), &err);
        if (r >= 0)
                r = ingest_finish(in, &st, &err);
        else
                ingest_get_stats(in, &st);
        buf_printf(&run->text, "END r=%d err=%s rows=%llu valid=%llu rejected=%llu gzip=%d\n", r,
                   r < 0 ? err.message : "", (unsigned long long) st.rows_total,
                   (unsigned long long) st.rows_valid, (unsigned long long) st.rows_rejected, st.gzip);
}

/* Both modes on one file; returns the writing path's text (the caller frees it). */
static char *compare(const PipelineSpec *p, const char *name, const char *data, size_t n) {
        Run full, verdict;

        run_ingest(p, name, data, n, false, &full);
        run_ingest(p, name, data, n, true, &verdict);
        if (strcmp(full.text.data, verdict.text.data) != 0) {
                print_error("%s (pipeline %s): verdicts differ\n", name, p->name);
                fprintf(stderr, "--- writing path:\n%s--- verdict only:\n%s", full.text.data, verdict.text.data);
                fail();
        }
        assert_int_equal(full.items, verdict.items);
        assert_int_equal(full.rejects, verdict.rejects);
        buf_done(&verdict.text);
        return buf_steal(&full.text);
}

/* needle is in the outcome text; shown whole when not */
static void expect_in(const char *text, const char *needle) {
        if (!strstr(text, needle)) {
                print_error("'%s' not in:\n", needle);
                fputs(text, stderr);
                fail();
        }
}

static const Config *config(void) {
        static Config *cfg;
        ConfigDiag diag = {};

        if (!cfg) {
                int r = config_load_from_string("verdict.yaml", CONFIG, strlen(CONFIG), &cfg, &diag);

                for (size_t i = 0; i < diag.n_lines; i++)
                        print_error("%s\n", diag.lines[i]);
                config_diag_done(&diag);
                assert_int_equal(r, 0);
        }
        return cfg;
}

static const PipelineSpec *pipeline(const char *name) {
        const PipelineSpec *p = config_find_pipeline_by_name(config(), name);

        assert_non_null(p);
        return p;
}

static char *slurp(const char *path, size_t *ret_len) {
        FILE *f = fopen(path, "rb");
        char *data;
        long n;

        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n >= 0);
        rewind(f);
        data = malloc((size_t) n + 1);
        assert_non_null(data);
        assert_int_equal(fread(data, 1, (size_t) n, f), (size_t) n);
        fclose(f);
        *ret_len = (size_t) n;
        return data;
}

/* Every regular file of tests/data/DIR (EXPECTED left out), through both modes; pick_typed: the
 * typed_* files get the typed pipeline. The writing path's texts go into all. */
static size_t corpus(const char *dir, const char *pipe, bool pick_typed, Buf *all) {
        char path[4096];
        struct dirent *de;
        size_t files = 0;
        DIR *d;

        snprintf(path, sizeof(path), "%s/tests/data/%s", TEST_SRCDIR, dir);
        d = opendir(path);
        assert_non_null(d);
        while ((de = readdir(d))) {
                _cleanup_free_ char *data = NULL, *text = NULL;
                const char *p = pick_typed && strncmp(de->d_name, "typed_", 6) == 0 ? "typed" : pipe;
                size_t n;

                if (de->d_name[0] == '.' || strcmp(de->d_name, "EXPECTED") == 0)
                        continue;
                snprintf(path, sizeof(path), "%s/tests/data/%s/%s", TEST_SRCDIR, dir, de->d_name);
                data = slurp(path, &n);
                text = compare(pipeline(p), de->d_name, data, n);
                buf_append_str(all, text);
                files++;
        }
        closedir(d);
        return files;
}

static void test_corpora(void **state) {
        _cleanup_(buf_done) Buf all = BUF_INIT(256 << 20);

        (void) state;
        assert_true(corpus("good", "students", false, &all) >= 3);
        assert_true(corpus("bad", "students", true, &all) >= 40);
        assert_true(corpus("bad-jsonl", "j", false, &all) >= 15);
        assert_true(corpus("bad-ddbjson", "d", false, &all) >= 15);
        /* the corpora hold both outcomes, and rejects of several kinds */
        expect_in(all.data, "\nI ");
        expect_in(all.data, "reason=not a number");
        expect_in(all.data, "reason=key attribute is null");
        expect_in(all.data, "reason=the item has no partition key");
        expect_in(all.data, "reason=quote inside an unquoted field");
}

/* Orders-like rows: quoted fields with "" and line breaks, a set, bad numbers, a missing key,
 * nulls kept as NULL, CRLF, and one of every rule broken. */
static void test_orders(void **state) {
        static const char rows[] =
                "order_id,line,customer,amount,paid,created,status,tags,notes\r\n"
                "O00000001,1,\"Smith, Anna\",12.50,true,2024-01-02T03:04:05Z,new,a|b,\"say \"\"hi\"\"\"\r\n"
                "O00000001,2,\"Müller, Zoë\",0.10,yes,2024-01-02,paid,,\"two\nlines\"\r\n"
                "O00000002,1,Wei,1e3,FALSE,2024-02-29,new,x,NULL\r\n"
                "O00000003,1,Wei,12,0,2023-02-29,new,,\r\n"            /* no such day */
                "O00000004,1,Wei,abc,1,2024-01-01,new,,\r\n"           /* not a number */
                "O00000005,1,Wei,-1,1,2024-01-01,new,,\r\n"            /* below min */
                "O00000006,1000,Wei,1,1,2024-01-01,new,,\r\n"          /* above max */
                ",1,Wei,1,1,2024-01-01,new,,\r\n"                      /* key null */
                "O0000007,1,Wei,1,1,2024-01-01,new,,\r\n"              /* pattern */
                "O00000008,1,Wei,1,maybe,2024-01-01,new,,\r\n"         /* boolean */
                "O00000009,1,Wei,1,1,2024-01-01,lost,,\r\n"            /* enum */
                "O00000010,1,Wei,1,1,2024-01-01,new,a|a,\r\n"          /* set twice */
                "O00000011,1,Wei,1e999,1,2024-01-01,new,,\r\n"         /* out of range */
                "O00000012,1,Wei,1,1,2024-01-01,new\r\n"               /* fields */
                "O00000013,1,\"Wei\"x,1,1,2024-01-01,new,,\r\n"        /* after quote */
                "O00000014,1,Wei,00012.3400,1,2024-01-01,paid,,\"\"\r\n"
                "O00000001,01,Again,1,1,2024-01-01,new,,\r\n";         /* same key as line 2 */
        _cleanup_free_ char *text = NULL;

        (void) state;
        text = compare(pipeline("orders"), "orders.csv", rows, sizeof(rows) - 1);
        expect_in(text, "reason=no such calendar day");
        expect_in(text, "reason=key attribute is null");
        expect_in(text, "END r=0");
        expect_in(text, "rows=17 valid=5 rejected=12");
}

/* Rows of n bytes of c after "id,": one value, quoted when quote. */
static void put_row(Buf *b, const char *id, char c, size_t n, bool quote) {
        size_t at;

        buf_printf(b, "%s,%s", id, quote ? "\"" : "");
        assert_int_equal(buf_reserve(b, n + 8), 0);
        at = b->len;
        memset(b->data + at, c, n);
        b->len += n;
        b->data[b->len] = '\0';
        buf_append_str(b, quote ? "\"\n" : "\n");
}

/* Items around DynamoDB's 400 KB (409600 bytes: names and values), counted in both modes. */
static void test_item_size_limit(void **state) {
        _cleanup_(buf_done) Buf b = BUF_INIT(8 << 20);
        _cleanup_free_ char *text = NULL;

        (void) state;
        buf_append_str(&b, "id,t\n");
        put_row(&b, "k1", 'a', 409600 - 2 - 2 - 1, false);        /* exactly 409600 */
        put_row(&b, "k2", 'a', 409600 - 2 - 2 - 1 + 1, false);    /* one byte over */
        put_row(&b, "k3", 'x', 500000, true);
        put_row(&b, "k4", '\x01', 409000, true);                  /* control characters */
        put_row(&b, "", 'a', 10, false);                          /* key null */
        text = compare(pipeline("big"), "big.csv", b.data, b.len);
        expect_in(text, "I 2 size=409600");
        expect_in(text, "R 3 col=0 name=- reason=item is 409601 bytes, over DynamoDB's 400 KB limit");
        expect_in(text, "R 4 col=0 name=- reason=item is 500005 bytes");
        expect_in(text, "I 5 size=409005");
        expect_in(text, "valid=2 rejected=3");
}

/* Rows whose worst-case JSON passes the builder's bound: verdict-only must build them to know
 * whether the JSON fits ("item too large") or not (accepted). */
static void test_json_bound(void **state) {
        _cleanup_(buf_done) Buf b = BUF_INIT(1 << 20);
        _cleanup_free_ char *text = NULL;

        (void) state;
        buf_append_str(&b, "id,t\n");
        put_row(&b, "k1", '\x01', 4080, true);     /* every byte escaped: over the bound */
        put_row(&b, "k2", 'a', 4080, true);        /* plain: fits, though the bound does not */
        put_row(&b, "k3", '\x01', 100, true);
        text = compare(pipeline("escapes"), "escapes.csv", b.data, b.len);
        expect_in(text, "R 2 col=0 name=- reason=item too large");
        expect_in(text, "I 3 ");
        expect_in(text, "I 4 ");
}

/* The schema sizes a number from its parse (item_number_size_digits()), in both modes: the
 * same as item_number_size() on the N text the item carries. */
static int on_number_item(void *userdata, const IngestItem *it) {
        const char *n = strstr(it->json, "\"n\":{\"N\":\""), *id = strstr(it->json, "\"id\":{\"S\":\"");
        const char *i = strstr(it->json, "\"i\":{\"N\":\"");
        size_t expect;

        (void) userdata;
        assert_non_null(n);
        assert_non_null(id);
        n += 10;
        id += 11;
        expect = 2 + (size_t) (strchr(id, '"') - id) + 1 + item_number_size(n, (size_t) (strchr(n, '"') - n));
        if (i) {
                i += 10;
                expect += 1 + item_number_size(i, (size_t) (strchr(i, '"') - i));
        }
        if (it->size != expect)
                fail_msg("line %llu: size %zu, item_number_size() says %zu: %s", (unsigned long long) it->line,
                         it->size, expect, it->json);
        return 0;
}

static int count_reject(void *userdata, const IngestReject *rj) {
        (void) rj;
        ++*(unsigned *) userdata;
        return 0;
}

static void test_number_sizes(void **state) {
        static const char *const numbers[] = {
                "0", "-0", "0.000", "1", "10", "100", "1000", "0.1", "0.01", "0.001", "1.234", "12.34",
                "123.4", "-12.3e-4", "1e125", "9.9999E125", "1E-130", "1e-129", "-1E-130",
                "12345678901234567890123456789012345678", "1234567890123456789012345678901234567.8",
                "000120.0300", ".5", "5.", "+7", "-0.000001", "1e-1", "10e0", "100e-2", "1e1", "1e2",
                "-99.99", "0.5e1", "5000e-3", "1.0000000000000000000000000000000000001",
        };
        _cleanup_(buf_done) Buf b = BUF_INIT(1 << 20);
        IngestCallbacks cb = { .on_item = on_number_item, .on_reject = count_reject };
        unsigned rejects = 0;
        IngestStats st = {};

        (void) state;
        buf_append_str(&b, "id,n,i\n");
        for (size_t k = 0; k < ELEMENTSOF(numbers); k++)
                buf_printf(&b, "r%zu,%s,%s\n", k, numbers[k], k % 2 ? "" : numbers[k]);
        /* the writing path: it has the JSON to check against */
        {
                _cleanup_(ingest_freep) Ingest *in = NULL;
                S3bError err = {};

                assert_int_equal(ingest_new(pipeline("nums"), NULL, "n.csv", &cb, &rejects, &in, &err), 0);
                assert_int_equal(ingest_feed(in, b.data, b.len, &err), 0);
                assert_int_equal(ingest_finish(in, &st, &err), 0);
        }
        /* integers with a fraction or exponent are rejects, the rest items */
        assert_int_equal(st.rows_total, ELEMENTSOF(numbers));
        assert_true(st.rows_valid > ELEMENTSOF(numbers) / 2);
        assert_int_equal(st.rows_rejected, rejects);
        /* and verdict-only agrees with it, sizes included */
        free(compare(pipeline("nums"), "n.csv", b.data, b.len));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_corpora),
                cmocka_unit_test(test_orders),
                cmocka_unit_test(test_item_size_limit),
                cmocka_unit_test(test_json_bound),
                cmocka_unit_test(test_number_sizes),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
