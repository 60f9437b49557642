/* Column → attribute mapping and computed attributes (common/schema.c): rename, header_match,
 * string/number sets with a separator, map/list from a JSON cell, default, omit_if_null; the
 * computed source_key, source_etag, source_line, ingested_at, constant and ttl; computed
 * attributes as key attributes, with DynamoDB's key rules ("Supported data types and naming
 * rules": key attributes are S, N or B; "Service, account, and table quotas": partition key
 * values 1 to 2048 bytes, sort key values 1 to 1024). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/tableshape.h"
#include "schema-rig.h"

#define ROW(...) ((const char *const[]) { __VA_ARGS__, NULL })

/* ---- mapping ---- */

static void test_header_match_modes(void **state) {
        static const struct {
                HeaderMatch m;
                const char *name, *header;
                bool match;
        } cases[] = {
                { HEADER_MATCH_EXACT, "student_id", "student_id", true },
                { HEADER_MATCH_EXACT, "student_id", "Student_ID", false },
                { HEADER_MATCH_EXACT, "student_id", "student_id ", false },
                { HEADER_MATCH_CASE_INSENSITIVE, "student_id", "STUDENT_ID", true },
                { HEADER_MATCH_CASE_INSENSITIVE, "student_id", "Student ID", false },
                { HEADER_MATCH_CASE_INSENSITIVE, "student_id", "studentid", false },
                { HEADER_MATCH_LOOSE, "student_id", "Student ID", true },
                { HEADER_MATCH_LOOSE, "student_id", "STUDENT-ID", true },
                { HEADER_MATCH_LOOSE, "student_id", " student  id ", true },
                { HEADER_MATCH_LOOSE, "student_id", "StudentId", true },
                { HEADER_MATCH_LOOSE, "Student ID", "student_id", true },
                { HEADER_MATCH_LOOSE, "student_id", "student_id2", false },
                { HEADER_MATCH_LOOSE, "student_id", "student", false },
                { HEADER_MATCH_LOOSE, "student_id", "", false },
                { HEADER_MATCH_LOOSE, "a_b", "a\tb", true },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (header_matches(cases[i].m, cases[i].name, cases[i].header, strlen(cases[i].header)) != cases[i].match)
                        fail_msg("%s: '%s' vs '%s' should %s", header_match_to_string(cases[i].m),
                                 cases[i].name, cases[i].header, cases[i].match ? "match" : "not match");
}

/* Binds a '|'-separated header; its return. */
static int bind_header(Rig *r, const char *header) {
        CsvField f[16];
        char buf[256], *p = buf, *start = buf;
        size_t n = 0;
        S3bError err = {};

        snprintf(buf, sizeof(buf), "%s", header);
        for (;; p++)
                if (*p == '|' || *p == '\0') {
                        bool end = *p == '\0';

                        f[n++] = (CsvField) { .data = start, .len = (size_t) (p - start) };
                        if (end)
                                break;
                        start = p + 1;
                }
        return schema_bind_header(r->s, f, n, &err);
}

/* header "Student ID" → attribute student_id; the key names the attribute */
static void rename_spec(Rig *r, HeaderMatch m, InputFormat f) {
        rig_init(r, f, "student_id", NULL);
        r->p.csv.header_match = m;
        rig_column(r, "Student ID", COLUMN_STRING, true)->attribute = strdup("student_id");
        rig_column(r, "Full_Name", COLUMN_STRING, false)->attribute = strdup("name");
        rig_start(r);
}

static void test_rename_and_header_match(void **state) {
        Rig r;

        rename_spec(&r, HEADER_MATCH_LOOSE, FORMAT_CSV);
        assert_int_equal(bind_header(&r, "full name|STUDENT_ID"), 0);
        assert_int_equal(rig_csv(&r, 2, ROW("Ada", "A1")), 0);
        /* written under the attribute names, in file order */
        assert_string_equal(r.item.json.data, "{\"name\":{\"S\":\"Ada\"},\"student_id\":{\"S\":\"A1\"}}");
        assert_null(rig_attr(&r, "Student ID"));
        assert_string_equal(r.key.data, "S2:A1");
        /* a reject names the configured column */
        assert_rejected(&r, rig_csv(&r, 3, ROW("Ada", "")), "key attribute is null");
        assert_string_equal(r.rj.column_name, "Student ID");
        rig_done(&r);

        rename_spec(&r, HEADER_MATCH_CASE_INSENSITIVE, FORMAT_CSV);
        assert_int_equal(bind_header(&r, "student id|full_name"), 0);
        assert_int_equal(bind_header(&r, "STUDENT_ID|full_name"), -EBADMSG);
        assert_int_equal(bind_header(&r, "Student ID|Full Name"), -EBADMSG);
        rig_done(&r);

        rename_spec(&r, HEADER_MATCH_EXACT, FORMAT_CSV);
        assert_int_equal(bind_header(&r, "Student ID|Full_Name"), 0);
        assert_int_equal(bind_header(&r, "student id|Full_Name"), -EBADMSG);
        assert_int_equal(bind_header(&r, "Student ID|full_name"), -EBADMSG);
        rig_done(&r);

        /* JSON Lines field names follow the same rule */
        rename_spec(&r, HEADER_MATCH_LOOSE, FORMAT_JSONL);
        assert_int_equal(rig_line(&r, "{\"student-id\": \"A1\", \"FULL NAME\": \"Ada\"}"), 0);
        assert_string_equal(r.item.json.data, "{\"student_id\":{\"S\":\"A1\"},\"name\":{\"S\":\"Ada\"}}");
        /* two fields naming one column */
        assert_rejected(&r, rig_line(&r, "{\"student_id\": \"A1\", \"Student ID\": \"A2\"}"), "given twice");
        rig_done(&r);
        rename_spec(&r, HEADER_MATCH_EXACT, FORMAT_JSONL);
        assert_rejected(&r, rig_line(&r, "{\"student_id\": \"A1\"}"), "key attribute is null");
        assert_int_equal(rig_line(&r, "{\"Student ID\": \"A1\"}"), 0);
        rig_done(&r);
}

static void sets_spec(Rig *r) {
        ColumnSpec *c;

        rig_init(r, FORMAT_CSV, "id", NULL);
        rig_column(r, "id", COLUMN_STRING, true);
        rig_column(r, "tags", COLUMN_STRING_SET, false)->separator = strdup(";");
        rig_column(r, "nums", COLUMN_NUMBER_SET, false);        /* default separator "|" */
        rig_column(r, "multi", COLUMN_STRING_SET, false)->separator = strdup("::");
        c = rig_column(r, "codes", COLUMN_STRING_SET, false);
        c->pattern = strdup("^[A-Z]{2}$");
        c->separator = strdup(",");
        rig_start(r);
}

/* "Supported data types and naming rules": sets are non-empty, their values unique (numbers
 * by value); empty strings are allowed in a set. */
static void test_sets(void **state) {
        Rig r;

        sets_spec(&r);
        assert_int_equal(rig_csv(&r, 2, ROW("a", "x;y;z", "1|2.50|1e2|-0", "a::b:c", "GB,FR")), 0);
        assert_attr(&r, "tags", "{\"SS\":[\"x\",\"y\",\"z\"]}");
        assert_attr(&r, "nums", "{\"NS\":[\"1\",\"2.5\",\"1E2\",\"0\"]}");
        assert_attr(&r, "multi", "{\"SS\":[\"a\",\"b:c\"]}");
        assert_attr(&r, "codes", "{\"SS\":[\"GB\",\"FR\"]}");
        /* elements are not trimmed; a lone element is a one-element set; an empty element is "" */
        assert_int_equal(rig_csv(&r, 3, ROW("a", " x ; y", "7", "solo", "GB")), 0);
        assert_attr(&r, "tags", "{\"SS\":[\" x \",\" y\"]}");
        assert_attr(&r, "nums", "{\"NS\":[\"7\"]}");
        assert_int_equal(rig_csv(&r, 4, ROW("a", "x;", "", "", "")), 0);
        assert_attr(&r, "tags", "{\"SS\":[\"x\",\"\"]}");
        /* an empty cell is null: the set is left out, not written empty */
        assert_null(rig_attr(&r, "nums"));
        assert_null(rig_attr(&r, "multi"));
        assert_rejected(&r, rig_csv(&r, 5, ROW("a", "x;y;x", "", "", "")), "the set holds 'x' twice");
        assert_string_equal(r.rj.column_name, "tags");
        assert_rejected(&r, rig_csv(&r, 5, ROW("a", ";", "", "", "")), "twice");
        assert_rejected(&r, rig_csv(&r, 5, ROW("a", "", "1|1.0", "", "")), "the same number twice");
        assert_rejected(&r, rig_csv(&r, 5, ROW("a", "", "100|1E2", "", "")), "the same number twice");
        assert_rejected(&r, rig_csv(&r, 5, ROW("a", "", "1|x", "", "")), "set element 'x': not a number");
        assert_rejected(&r, rig_csv(&r, 5, ROW("a", "", "1|1E126", "", "")), "magnitude");
        assert_rejected(&r, rig_csv(&r, 5, ROW("a", "", "", "", "GB,fr")), "set element 'fr': does not match pattern");
        rig_done(&r);
}

static void test_map_list_cells(void **state) {
        Rig r;

        rig_init(&r, FORMAT_CSV, "id", NULL);
        rig_column(&r, "id", COLUMN_STRING, true);
        rig_column(&r, "meta", COLUMN_MAP, false);
        rig_column(&r, "hist", COLUMN_LIST, false);
        rig_start(&r);
        assert_int_equal(rig_csv(&r, 2, ROW("a", "{\"k\": [1, {\"x\": null}], \"big\": 123456789012345678901234567890}",
                                            "[\"h\", 2.50, true]")), 0);
        assert_attr(&r, "meta", "{\"M\":{\"k\":{\"L\":[{\"N\":\"1\"},{\"M\":{\"x\":{\"NULL\":true}}}]},"
                                "\"big\":{\"N\":\"123456789012345678901234567890\"}}}");
        assert_attr(&r, "hist", "{\"L\":[{\"S\":\"h\"},{\"N\":\"2.5\"},{\"BOOL\":true}]}");
        assert_int_equal(rig_csv(&r, 3, ROW("a", "{}", "[]")), 0);
        assert_attr(&r, "meta", "{\"M\":{}}");
        assert_attr(&r, "hist", "{\"L\":[]}");
        assert_rejected(&r, rig_csv(&r, 4, ROW("a", "[1]", "")), "not a JSON object (type map)");
        assert_rejected(&r, rig_csv(&r, 4, ROW("a", "", "{}")), "not a JSON array (type list)");
        assert_rejected(&r, rig_csv(&r, 4, ROW("a", "{\"k\": ", "")), "not valid JSON");
        assert_rejected(&r, rig_csv(&r, 4, ROW("a", "{\"k\": NaN}", "")), "not valid JSON");
        assert_rejected(&r, rig_csv(&r, 4, ROW("a", "{\"k\": 1, \"k\": 2}", "")), "same key twice");
        assert_rejected(&r, rig_csv(&r, 4, ROW("a", "", "[1e999]")), "magnitude");
        assert_string_equal(r.rj.column_name, "hist");
        rig_done(&r);
}

static void test_default_and_omit_if_null(void **state) {
        ColumnSpec *c;
        Rig r;

        rig_init(&r, FORMAT_CSV, "id", NULL);
        rig_column(&r, "id", COLUMN_STRING, true);
        rig_column(&r, "nick", COLUMN_STRING, false)->default_value = strdup("none");
        rig_column(&r, "n", COLUMN_INTEGER, false)->default_value = strdup("+05");
        rig_column(&r, "gone", COLUMN_STRING, false)->keep_null = true;
        rig_column(&r, "opt", COLUMN_STRING, false);
        /* a default wins over omit_if_null: false */
        c = rig_column(&r, "both", COLUMN_STRING, false);
        c->keep_null = true;
        c->default_value = strdup("d");
        rig_start(&r);
        assert_int_equal(rig_csv(&r, 2, ROW("a", "", "NULL", "", "", "")), 0);
        assert_string_equal(r.item.json.data, "{\"id\":{\"S\":\"a\"},\"nick\":{\"S\":\"none\"},\"n\":{\"N\":\"5\"},"
                                              "\"gone\":{\"NULL\":true},\"both\":{\"S\":\"d\"}}");
        /* NULL costs one byte like BOOL ("Item sizes and formats"): 2+1 + 4+4 + 1+2 (5: one
         * digit pair + 1) + 4+1 + 4+1 */
        assert_int_equal(r.item.size, 3 + 8 + 3 + 5 + 5);
        assert_int_equal(rig_csv(&r, 3, ROW("a", "Neo", "9", "there", "o", "b")), 0);
        assert_string_equal(r.item.json.data, "{\"id\":{\"S\":\"a\"},\"nick\":{\"S\":\"Neo\"},\"n\":{\"N\":\"9\"},"
                                              "\"gone\":{\"S\":\"there\"},\"opt\":{\"S\":\"o\"},\"both\":{\"S\":\"b\"}}");
        rig_done(&r);
}

/* ---- computed attributes ---- */

static void computed_spec(Rig *r, const char *partition, const char *sort) {
        ComputedSpec *c;

        rig_init(r, FORMAT_CSV, partition, sort);
        rig_column(r, "id", COLUMN_STRING, true);
        rig_column(r, "due", COLUMN_DATE, false);
        rig_computed(r, "src", COMPUTED_SOURCE)->source = SOURCE_KEY;
        rig_computed(r, "etag", COMPUTED_SOURCE)->source = SOURCE_ETAG;
        rig_computed(r, "line", COMPUTED_SOURCE)->source = SOURCE_LINE;
        rig_computed(r, "at", COMPUTED_SOURCE)->source = SOURCE_INGESTED_AT;
        rig_computed(r, "tenant", COMPUTED_CONSTANT)->constant = strdup("acme");
        c = rig_computed(r, "ttl_now", COMPUTED_TTL);
        c->add_days = 30;
        c = rig_computed(r, "expires", COMPUTED_TTL);
        c->ttl_column = strdup("due");
        c->add_days = 1;
}

static void test_computed(void **state) {
        /* 2024-02-29T12:00:00Z */
        const int64_t at = 1709208000;
        char want[64];
        Rig r;

        computed_spec(&r, "id", NULL);
        rig_start(&r);
        assert_int_equal(schema_set_source(r.s, "in/day1.csv", "9b2cf535f27731c974343645a3985328", at), 0);
        assert_int_equal(rig_csv(&r, 42, ROW("a", "2024-03-01")), 0);
        assert_attr(&r, "src", "{\"S\":\"in/day1.csv\"}");
        assert_attr(&r, "etag", "{\"S\":\"9b2cf535f27731c974343645a3985328\"}");
        assert_attr(&r, "line", "{\"N\":\"42\"}");
        assert_attr(&r, "at", "{\"S\":\"2024-02-29T12:00:00Z\"}");
        assert_attr(&r, "tenant", "{\"S\":\"acme\"}");
        /* TTL is a Number of epoch seconds ("Time to Live (TTL)" in the DynamoDB guide) */
        snprintf(want, sizeof(want), "{\"N\":\"%lld\"}", (long long) (at + 30 * 86400));
        assert_attr(&r, "ttl_now", want);
        /* a date without a time is midnight UTC: 2024-03-01 is 1709251200 */
        snprintf(want, sizeof(want), "{\"N\":\"%lld\"}", 1709251200LL + 86400);
        assert_attr(&r, "expires", want);
        /* after the columns, in configured order */
        assert_non_null(strstr(r.item.json.data, "\"due\":{\"S\":\"2024-03-01\"},\"src\":"));
        /* they count in the item size ("Item sizes and formats"): columns 2+1 + 3+10, then
         * src 3+11, etag 4+32, line 4+2 (42: one digit pair + 1), at 2+20, tenant 6+4,
         * ttl_now 7+4 (1711800000: |17|11|8_| + 1), expires 7+5 (1709337600: |17|09|33|76| + 1) */
        assert_int_equal(r.item.size, 3 + 13 + 14 + 36 + 6 + 22 + 10 + 11 + 12);

        /* a date-time with an offset: its instant */
        assert_int_equal(rig_csv(&r, 43, ROW("a", "2024-03-01T01:30:00+01:30")), 0);
        snprintf(want, sizeof(want), "{\"N\":\"%lld\"}", 1709251200LL + 86400);
        assert_attr(&r, "expires", want);
        assert_int_equal(rig_csv(&r, 43, ROW("a", "1969-12-31T23:59:59Z")), 0);
        assert_attr(&r, "expires", "{\"N\":\"86399\"}");
        /* no date, no expiry: the TTL is left out (the item never expires) */
        assert_int_equal(rig_csv(&r, 44, ROW("b", "")), 0);
        assert_null(rig_attr(&r, "expires"));
        assert_attr(&r, "line", "{\"N\":\"44\"}");
        /* an unknown ETag (validate, a local file) leaves the attribute out */
        assert_int_equal(schema_set_source(r.s, "k", NULL, at), 0);
        assert_int_equal(rig_csv(&r, 45, ROW("c", "")), 0);
        assert_null(rig_attr(&r, "etag"));
        assert_attr(&r, "src", "{\"S\":\"k\"}");
        rig_done(&r);

        /* JSON Lines: source_line is the line given */
        computed_spec(&r, "id", NULL);
        r.p.format = FORMAT_JSONL;
        rig_start(&r);
        assert_int_equal(schema_set_source(r.s, "x.jsonl", "e", at), 0);
        assert_int_equal(rig_line(&r, "{\"id\": \"a\", \"due\": \"2024-03-01\"}"), 0);
        assert_attr(&r, "line", "{\"N\":\"7\"}");
        assert_attr(&r, "etag", "{\"S\":\"e\"}");
        rig_done(&r);
}

/* Computed attributes as the key: sort key source_line, partition key source_key. */
static void test_computed_keys(void **state) {
        char *k1024 = rig_repeat("k", 1024, "", ""), *k1025 = rig_repeat("k", 1025, "", "");
        char *k2048 = rig_repeat("k", 2048, "", ""), *k2049 = rig_repeat("k", 2049, "", "");
        Rig r;

        computed_spec(&r, "id", "line");
        rig_start(&r);
        assert_int_equal(rig_csv(&r, 9, ROW("a", "")), 0);
        assert_string_equal(r.key.data, "S1:aN3:9E0");
        assert_int_equal(rig_csv(&r, 10, ROW("a", "")), 0);
        assert_string_equal(r.key.data, "S1:aN3:1E1");       /* one item per line */
        rig_done(&r);

        /* source_key as the partition key, the line as sort key: per-row length rules */
        computed_spec(&r, "src", "line");
        rig_start(&r);
        assert_int_equal(schema_set_source(r.s, k2048, NULL, 0), 0);
        assert_int_equal(rig_csv(&r, 2, ROW("a", "")), 0);
        assert_int_equal(r.key.len, strlen("S2048:") + 2048 + strlen("N3:2E0"));
        assert_int_equal(schema_set_source(r.s, k2049, NULL, 0), 0);
        assert_rejected(&r, rig_csv(&r, 2, ROW("a", "")), "partition key src is 2049 bytes; DynamoDB allows 1 to 2048");
        assert_int_equal(r.rj.column, 0);
        rig_done(&r);

        /* source_key as the sort key: 1024 bytes at most */
        computed_spec(&r, "id", "src");
        rig_start(&r);
        assert_int_equal(schema_set_source(r.s, k1024, NULL, 0), 0);
        assert_int_equal(rig_csv(&r, 2, ROW("a", "")), 0);
        assert_int_equal(schema_set_source(r.s, k1025, NULL, 0), 0);
        assert_rejected(&r, rig_csv(&r, 2, ROW("a", "")), "sort key src is 1025 bytes; DynamoDB allows 1 to 1024");
        rig_done(&r);

        /* a key whose value is unknown for the row rejects it rather than writing no key */
        computed_spec(&r, "id", "etag");
        rig_start(&r);
        assert_rejected(&r, rig_csv(&r, 2, ROW("a", "")), "sort key etag: the source_etag is not known here");
        assert_int_equal(schema_set_source(r.s, "k", "abc", 0), 0);
        assert_int_equal(rig_csv(&r, 2, ROW("a", "")), 0);
        assert_string_equal(r.key.data, "S1:aS3:abc");
        rig_done(&r);
        computed_spec(&r, "id", "expires");
        rig_start(&r);
        assert_rejected(&r, rig_csv(&r, 2, ROW("a", "")), "sort key expires: its date due is null");
        assert_int_equal(rig_csv(&r, 2, ROW("a", "1970-01-02")), 0);
        assert_string_equal(r.key.data, "S1:aN6:1728E5");    /* 172800 */
        rig_done(&r);

        free(k1024);
        free(k1025);
        free(k2048);
        free(k2049);
}

/* What can be known at load is refused at load (schema_new, which --check-config and the
 * daemon's startup run): a constant key out of the key limits, a computed key whose type is
 * not the table's. */
static void test_computed_keys_at_load(void **state) {
        char *c1025 = rig_repeat("c", 1025, "", "");
        S3bError err = {};
        Rig r;

        computed_spec(&r, "tenant", NULL);
        free(r.p.computed[4].constant);
        r.p.computed[4].constant = strdup("");
        assert_int_equal(rig_compile(&r, NULL, &err), -EINVAL);
        assert_string_equal(err.message, "pipeline 't': partition key tenant is a constant of 0 bytes; DynamoDB allows 1 to 2048");
        rig_done(&r);

        computed_spec(&r, "id", "tenant");
        free(r.p.computed[4].constant);
        r.p.computed[4].constant = c1025;
        assert_int_equal(rig_compile(&r, NULL, &err), -EINVAL);
        assert_string_equal(err.message, "pipeline 't': sort key tenant is a constant of 1025 bytes; DynamoDB allows 1 to 1024");
        r.p.computed[4].constant[1024] = '\0';
        assert_int_equal(rig_compile(&r, NULL, &err), 0);
        assert_int_equal(rig_csv(&r, 2, ROW("a", "")), 0);
        rig_done(&r);

        /* the table says S, source_line writes N: no row could ever be written */
        {
                TableShape t = { .hash = { "id", 'S' }, .range = { "line", 'S' } };

                computed_spec(&r, "id", "line");
                r.p.table = strdup("T");
                assert_int_equal(rig_compile(&r, &t, &err), -EINVAL);
                assert_non_null(strstr(err.message, "table T declares sort key line as S (string), but computed "
                                                    "attribute line is a number and writes N (number)"));
                t.range.type = 'N';
                assert_int_equal(rig_compile(&r, &t, &err), 0);
                rig_done(&r);
        }
        /* an index key attribute may not be empty either */
        {
                TableShape t = {
                        .hash = { "id", 'S' },
                        .indexes = { { .name = "by_tenant", .hash = { "tenant", 'S' } } },
                        .n_indexes = 1,
                };

                computed_spec(&r, "id", NULL);
                free(r.p.computed[4].constant);
                r.p.computed[4].constant = strdup("");
                assert_int_equal(rig_compile(&r, NULL, &err), 0);     /* offline: no index known */
                schema_free(r.s);
                r.s = NULL;
                assert_int_equal(rig_compile(&r, &t, &err), -EINVAL);
                assert_string_equal(err.message, "pipeline 't': GSI by_tenant key tenant is a constant of 0 bytes; "
                                                 "DynamoDB allows 1 to 2048");
                rig_done(&r);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_header_match_modes),
                cmocka_unit_test(test_rename_and_header_match),
                cmocka_unit_test(test_sets),
                cmocka_unit_test(test_map_list_cells),
                cmocka_unit_test(test_default_and_omit_if_null),
                cmocka_unit_test(test_computed),
                cmocka_unit_test(test_computed_keys),
                cmocka_unit_test(test_computed_keys_at_load),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
