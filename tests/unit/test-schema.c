#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/schema.h"

/* ---- a spec built in code, freed by pipeline_spec_done() ---- */

static ColumnSpec *add_column(PipelineSpec *p, const char *name, ColumnType t, bool required) {
        ColumnSpec *c;

        p->columns = realloc(p->columns, (p->n_columns + 1) * sizeof(*p->columns));
        assert_non_null(p->columns);
        c = &p->columns[p->n_columns++];
        *c = (ColumnSpec) { .name = strdup(name), .type = t, .required = required };
        return c;
}

static void set_strv(char ***v, size_t *n, const char *const *items) {
        *n = 0;
        while (items[*n])
                (*n)++;
        *v = calloc(*n + 1, sizeof(char *));
        for (size_t i = 0; i < *n; i++)
                (*v)[i] = strdup(items[i]);
}

/* student_id,first_name,last_name,course plus one column of every other type */
static void make_spec(PipelineSpec *p) {
        static const char *const nulls[] = { "", "NULL", NULL };
        static const char *const levels[] = { "UG", "PG", NULL };
        ColumnSpec *c;

        *p = (PipelineSpec) { .name = strdup("students") };
        csv_spec_init(&p->csv);
        set_strv(&p->csv.null_values, &p->csv.n_null_values, nulls);
        c = add_column(p, "student_id", COLUMN_STRING, true);
        c->pattern = strdup("^A[0-9]{5}$");
        c = add_column(p, "first_name", COLUMN_STRING, true);
        c->max_length = 8;
        add_column(p, "last_name", COLUMN_STRING, false);
        add_column(p, "course", COLUMN_STRING, true);
        c = add_column(p, "credits", COLUMN_INTEGER, false);
        c->has_min = c->has_max = true;
        c->min = 0;
        c->max = 60;
        add_column(p, "gpa", COLUMN_NUMBER, false);
        add_column(p, "active", COLUMN_BOOLEAN, false);
        add_column(p, "enrolled", COLUMN_DATE, false);
        c = add_column(p, "level", COLUMN_ENUM, false);
        set_strv(&c->enum_values, &c->n_enum_values, levels);
        p->partition_key = strdup("student_id");
        p->sort_key = strdup("course");
}

/* Splits a line on '|' into fields (no quoting needed for these tests). */
typedef struct Row {
        CsvField f[32];
        size_t n;
        char buf[4096];
} Row;

static const Row *split(Row *r, const char *line) {
        char *s = r->buf, *start;

        snprintf(r->buf, sizeof(r->buf), "%s", line);
        r->n = 0;
        start = s;
        for (;; s++)
                if (*s == '|' || *s == '\0') {
                        bool end = *s == '\0';

                        r->f[r->n++] = (CsvField) { .data = start, .len = (size_t) (s - start) };
                        if (end)
                                break;
                        start = s + 1;
                }
        return r;
}

typedef struct Fixture {
        PipelineSpec spec;
        Schema *schema;
        ItemBuilder item;
        Buf key;
        SchemaReject rj;
        Row row;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        make_spec(&f->spec);
        assert_int_equal(schema_new(&f->spec, NULL, &f->schema, NULL), 0);
        item_builder_init(&f->item, 1 << 20);
        buf_init(&f->key, 1 << 20);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        schema_free(f->schema);
        pipeline_spec_done(&f->spec);
        item_builder_done(&f->item);
        buf_done(&f->key);
        free(f);
        return 0;
}

#define GOOD "A00001|Ada|Lovelace|CS101|12|3.5|yes|2024-02-29|UG"

/* Runs one row; returns 0 (item) or 1 (reject). */
static int run(Fixture *f, const char *line) {
        const Row *r = split(&f->row, line);
        int ret = schema_row(f->schema, r->f, r->n, &f->item, &f->key, &f->rj);

        assert_true(ret == 0 || ret == 1);
        return ret;
}

static void expect_reject(Fixture *f, const char *line, unsigned column, const char *reason_part) {
        assert_int_equal(run(f, line), 1);
        assert_int_equal(f->rj.column, column);
        if (!strstr(f->rj.reason, reason_part))
                fail_msg("reason '%s' lacks '%s' for %s", f->rj.reason, reason_part, line);
}

static void test_good_row(void **state) {
        Fixture *f = *state;

        assert_int_equal(run(f, GOOD), 0);
        assert_string_equal(f->item.json.data,
                            "{\"student_id\":{\"S\":\"A00001\"},\"first_name\":{\"S\":\"Ada\"},"
                            "\"last_name\":{\"S\":\"Lovelace\"},\"course\":{\"S\":\"CS101\"},"
                            "\"credits\":{\"N\":\"12\"},\"gpa\":{\"N\":\"3.5\"},"
                            "\"active\":{\"BOOL\":true},\"enrolled\":{\"S\":\"2024-02-29\"},"
                            "\"level\":{\"S\":\"UG\"}}");
        assert_string_equal(f->key.data, "S6:A00001S5:CS101");
        /* names 10+10+9+6+7+3+6+8+5 = 64, values 6+3+8+5 + 2 + 3 (|_3|.|5_|) + 1 + 10 + 2 */
        assert_int_equal(f->item.size, 64 + 6 + 3 + 8 + 5 + 2 + 3 + 1 + 10 + 2);
}

static void test_nulls(void **state) {
        Fixture *f = *state;

        /* optional nulls leave the attribute out */
        assert_int_equal(run(f, "A00001|Ada||CS101|NULL||NULL||"), 0);
        assert_string_equal(f->item.json.data,
                            "{\"student_id\":{\"S\":\"A00001\"},\"first_name\":{\"S\":\"Ada\"},"
                            "\"course\":{\"S\":\"CS101\"}}");
        /* required and key nulls reject */
        expect_reject(f, "A00001|NULL|x|CS101|1|1|1|2024-01-01|UG", 2, "required value is null");
        expect_reject(f, "A00001|Ada|x||1|1|1|2024-01-01|UG", 4, "key attribute is null");
        expect_reject(f, "NULL|Ada|x|CS101|1|1|1|2024-01-01|UG", 1, "key attribute is null");
        /* null matching is exact and case-sensitive: "null" is a value */
        assert_int_equal(run(f, "A00001|null|null|CS101|||||"), 0);
        assert_non_null(strstr(f->item.json.data, "\"last_name\":{\"S\":\"null\"}"));
}

static void test_strings(void **state) {
        Fixture *f = *state;

        expect_reject(f, "B00001|Ada|x|CS101|||||", 1, "does not match pattern ^A[0-9]{5}$");
        expect_reject(f, "A000011|Ada|x|CS101|||||", 1, "pattern");
        assert_string_equal(f->rj.column_name, "student_id");
        assert_int_equal(run(f, "A00001|Adalbert|x|CS101|||||"), 0);         /* 8 bytes */
        expect_reject(f, "A00001|Adalberto|x|CS101|||||", 2, "longer than 8 bytes");
        /* max_length counts bytes, not characters */
        expect_reject(f, "A00001|\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9|x|CS101|||||", 2, "longer");
        assert_int_equal(run(f, "A00001|Ada|line \"one\"\\\ttab|CS101|||||"), 0);
        assert_non_null(strstr(f->item.json.data, "\"S\":\"line \\\"one\\\"\\\\\\ttab\""));
}

static void test_nul_in_pattern_value(void **state) {
        Fixture *f = *state;
        CsvField fields[9];
        static const char id[] = "A00001\0x";

        split(&f->row, GOOD);
        memcpy(fields, f->row.f, sizeof(fields));
        fields[0] = (CsvField) { .data = id, .len = 8 };
        assert_int_equal(schema_row(f->schema, fields, 9, &f->item, &f->key, &f->rj), 1);
        assert_string_equal(f->rj.reason, "contains a NUL byte");
}

static void test_integers(void **state) {
        Fixture *f = *state;
        static const struct {
                const char *in, *out;
        } ok[] = {
                { "0", "0" }, { "60", "60" }, { "+7", "7" }, { "007", "7" }, { "-0", "0" },
                { "000", "0" },
        };
        static const char *const bad[] = { "1.5", "1e2", " 1", "1 ", "", "+", "-", "0x1", "abc", "1_000" };
        char line[256];

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                snprintf(line, sizeof(line), "A00001|Ada||CS101|%s||||", ok[i].in);
                assert_int_equal(run(f, line), 0);
                snprintf(line, sizeof(line), "\"credits\":{\"N\":\"%s\"}", ok[i].out);
                if (!strstr(f->item.json.data, line))
                        fail_msg("%s → %s", ok[i].in, f->item.json.data);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                snprintf(line, sizeof(line), "A00001|Ada||CS101|%s||||", bad[i]);
                if (bad[i][0] == '\0')
                        assert_int_equal(run(f, line), 0);      /* "" is null: omitted */
                else
                        expect_reject(f, line, 5, "not an integer");
        }
        expect_reject(f, "A00001|Ada||CS101|61||||", 5, "above the maximum");
        expect_reject(f, "A00001|Ada||CS101|-1||||", 5, "below the minimum");
}

static void test_numbers(void **state) {
        static const struct {
                const char *in, *canon, *key;
        } ok[] = {
                { "0", "0", "0" },
                { "-0.000", "0", "0" },
                { "3.50", "3.5", "35E0" },
                { "+003.50", "3.5", "35E0" },
                { "-12", "-12", "-12E1" },
                { ".5", "0.5", "5E-1" },
                { "5.", "5", "5E0" },
                { "1.0", "1", "1E0" },
                { "100", "100", "1E2" },
                { "1e3", "1E3", "1E3" },
                { "1.50E+03", "1.5E3", "15E3" },
                { "2E-0005", "2E-5", "2E-5" },
                { "0.0001", "0.0001", "1E-4" },
                { "1E-130", "1E-130", "1E-130" },
                { "9.9999999999999999999999999999999999999E+125",
                  "9.9999999999999999999999999999999999999E125",
                  "99999999999999999999999999999999999999E125" },
                { "12345678901234567890123456789012345678", "12345678901234567890123456789012345678",
                  "12345678901234567890123456789012345678E37" },
                { "123456789012345678901234567890123456780000", /* trailing zeros are free */
                  "123456789012345678901234567890123456780000", "12345678901234567890123456789012345678E41" },
                { "0.1E-129", "0.1E-129", "1E-130" },
        };
        static const struct {
                const char *in, *why;
        } bad[] = {
                { "NaN", "not a number" }, { "nan", "not a number" }, { "Infinity", "not a number" },
                { "-inf", "not a number" }, { "0x1A", "not a number" }, { " 1", "not a number" },
                { "1 ", "not a number" }, { "1e", "not a number" }, { "e5", "not a number" },
                { ".", "not a number" }, { "1.2.3", "not a number" }, { "--1", "not a number" },
                { "1,5", "not a number" }, { "", "not a number" },
                { "123456789012345678901234567890123456789", "more than 38 significant digits" },
                { "1.23456789012345678901234567890123456789", "more than 38 significant digits" },
                { "1E126", "magnitude" }, { "1E-131", "magnitude" }, { "10E125", "magnitude" },
                { "0.01E-129", "magnitude" }, { "1E999999999999999999", "magnitude" },
        };
        Buf canon = BUF_INIT(1024), key = BUF_INIT(1024);

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                const char *why = schema_parse_number(ok[i].in, strlen(ok[i].in), false, &canon, &key);

                if (why)
                        fail_msg("%s: %s", ok[i].in, why);
                assert_string_equal(buf_str(&canon), ok[i].canon);
                assert_string_equal(buf_str(&key), ok[i].key);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *why = schema_parse_number(bad[i].in, strlen(bad[i].in), false, &canon, &key);

                if (!why || !strstr(why, bad[i].why))
                        fail_msg("%s: %s", bad[i].in, why ? why : "accepted");
        }
        buf_done(&canon);
        buf_done(&key);
}

static void test_number_column(void **state) {
        Fixture *f = *state;

        assert_int_equal(run(f, "A00001|Ada||CS101||+0012.50|||"), 0);
        assert_non_null(strstr(f->item.json.data, "\"gpa\":{\"N\":\"12.5\"}"));
        expect_reject(f, "A00001|Ada||CS101||NaN|||", 6, "not a number");
        assert_string_equal(f->rj.column_name, "gpa");
}

static void test_booleans(void **state) {
        static const char *const yes[] = { "true", "TRUE", "True", "1", "yes", "YES", "yEs" };
        static const char *const no[] = { "false", "FALSE", "0", "no", "No" };
        static const char *const bad[] = { "t", "y", "2", "on", "true ", "", "nope" };
        bool b;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                assert_null(schema_parse_boolean(yes[i], strlen(yes[i]), &b));
                assert_true(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                assert_null(schema_parse_boolean(no[i], strlen(no[i]), &b));
                assert_false(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_non_null(schema_parse_boolean(bad[i], strlen(bad[i]), &b));
}

static void test_boolean_column(void **state) {
        Fixture *f = *state;

        assert_int_equal(run(f, "A00001|Ada||CS101|||No|"), 1);      /* wrong field count */
        assert_int_equal(run(f, "A00001|Ada||CS101|||No||"), 0);
        assert_non_null(strstr(f->item.json.data, "\"active\":{\"BOOL\":false}"));
        expect_reject(f, "A00001|Ada||CS101|||maybe||", 7, "not a boolean");
}

static void test_dates(void **state) {
        static const char *const ok[] = {
                "2024-02-29", "2000-02-29", "1999-12-31", "2024-01-31", "2024-04-30",
                "2024-02-29T23:59:59Z", "2024-02-29T00:00:00+05:30", "2024-02-29T12:00:00-08:00",
                "2024-02-29T12:00:00.123456Z", "2016-12-31T23:59:60Z", "0001-01-01",
        };
        static const struct {
                const char *in, *why;
        } bad[] = {
                { "2023-02-29", "no such calendar day" }, { "1900-02-29", "no such calendar day" },
                { "2024-04-31", "no such calendar day" }, { "2024-13-01", "no such calendar day" },
                { "2024-00-10", "no such calendar day" }, { "2024-01-00", "no such calendar day" },
                { "2024-1-01", "not an ISO 8601" }, { "24-01-01", "not an ISO 8601" },
                { "2024/01/01", "not an ISO 8601" }, { "2024-01-01 ", "not an ISO 8601" },
                { "2024-01-01T", "not an ISO 8601" }, { "2024-01-01T10:00", "not an ISO 8601" },
                { "2024-01-01T24:00:00Z", "no such time" }, { "2024-01-01T10:60:00Z", "no such time" },
                { "2024-01-01T10:00:61Z", "no such time" },
                { "2024-01-01T10:00:00", "without a time zone" },
                { "2024-01-01T10:00:00.Z", "not an ISO 8601" },
                { "2024-01-01T10:00:00+0530", "not an ISO 8601" },
                { "2024-01-01T10:00:00+24:00", "no such UTC offset" },
                { "2024-01-01T10:00:00Zjunk", "not an ISO 8601" },
                { "2024-01-01t10:00:00Z", "not an ISO 8601" }, { "", "not an ISO 8601" },
        };

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                const char *why = schema_check_date(ok[i], strlen(ok[i]));

                if (why)
                        fail_msg("%s: %s", ok[i], why);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *why = schema_check_date(bad[i].in, strlen(bad[i].in));

                if (!why || !strstr(why, bad[i].why))
                        fail_msg("%s: %s", bad[i].in, why ? why : "accepted");
        }
}

static void test_date_and_enum_columns(void **state) {
        Fixture *f = *state;

        assert_int_equal(run(f, "A00001|Ada||CS101||||2024-02-29T10:00:00+01:00|PG"), 0);
        assert_non_null(strstr(f->item.json.data,
                               "\"enrolled\":{\"S\":\"2024-02-29T10:00:00+01:00\"},\"level\":{\"S\":\"PG\"}"));
        expect_reject(f, "A00001|Ada||CS101||||2023-02-29|", 8, "calendar day");
        expect_reject(f, "A00001|Ada||CS101|||||ug", 9, "not one of");
        expect_reject(f, "A00001|Ada||CS101|||||UG ", 9, "not one of");
}

static void test_field_count(void **state) {
        Fixture *f = *state;

        expect_reject(f, "A00001|Ada", 3, "expected 9 fields, found 2");
        assert_string_equal(f->rj.column_name, "last_name");  /* the first one missing */
        expect_reject(f, GOOD "|extra", 10, "expected 9 fields, found 10");
        assert_null(f->rj.column_name);
}

static void test_header(void **state) {
        Fixture *f = *state;
        S3bError err = {};

        /* case-insensitive, any order: items come out in file order */
        split(&f->row, "COURSE|Student_ID|first_name|last_name|credits|gpa|active|enrolled|level");
        assert_int_equal(schema_bind_header(f->schema, f->row.f, f->row.n, &err), 0);
        assert_int_equal(run(f, "CS101|A00001|Ada||||||"), 0);
        assert_string_equal(f->item.json.data,
                            "{\"course\":{\"S\":\"CS101\"},\"student_id\":{\"S\":\"A00001\"},"
                            "\"first_name\":{\"S\":\"Ada\"}}");
        assert_string_equal(f->key.data, "S6:A00001S5:CS101");
        assert_string_equal(schema_column_name_at(f->schema, 1), "course");
        assert_null(schema_column_name_at(f->schema, 10));
        expect_reject(f, "CS101|B1|Ada||||||", 2, "pattern");
        assert_string_equal(f->rj.column_name, "student_id");

        split(&f->row, "student_id|first_name|course|credits|gpa|active|enrolled|level|nickname|x");
        assert_int_equal(schema_bind_header(f->schema, f->row.f, f->row.n, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "missing: 'last_name'"));
        assert_non_null(strstr(err.message, "unknown: 'nickname', 'x'"));
        /* a failed bind keeps the previous binding */
        assert_int_equal(run(f, "CS101|A00001|Ada||||||"), 0);

        split(&f->row, "student_id|first_name|last_name|course|credits|gpa|active|enrolled|level|COURSE");
        assert_int_equal(schema_bind_header(f->schema, f->row.f, f->row.n, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "repeated: 'COURSE'"));
}

static void test_numeric_keys(void **state) {
        PipelineSpec p = { .name = strdup("n") };
        Schema *s = NULL;
        ItemBuilder item;
        Buf key = BUF_INIT(4096), first = BUF_INIT(4096);
        SchemaReject rj;
        Row row;

        csv_spec_init(&p.csv);
        add_column(&p, "id", COLUMN_INTEGER, true);
        add_column(&p, "at", COLUMN_NUMBER, true);
        p.partition_key = strdup("id");
        p.sort_key = strdup("at");
        assert_int_equal(schema_new(&p, NULL, &s, NULL), 0);
        item_builder_init(&item, 4096);

        split(&row, "7|1.5");
        assert_int_equal(schema_row(s, row.f, row.n, &item, &key, &rj), 0);
        assert_string_equal(key.data, "N3:7E0N4:15E0");
        buf_append(&first, key.data, key.len);
        /* the same numbers written differently are the same DynamoDB key */
        split(&row, "+007|1.50e0");
        assert_int_equal(schema_row(s, row.f, row.n, &item, &key, &rj), 0);
        assert_string_equal(key.data, buf_str(&first));
        assert_string_equal(item.json.data, "{\"id\":{\"N\":\"7\"},\"at\":{\"N\":\"1.5\"}}");
        split(&row, "70|1.5");
        assert_int_equal(schema_row(s, row.f, row.n, &item, &key, &rj), 0);
        assert_string_not_equal(key.data, buf_str(&first));

        schema_free(s);
        item_builder_done(&item);
        buf_done(&key);
        buf_done(&first);
        pipeline_spec_done(&p);
}

/* A min-only bound (the shape the sign settles without the value when min <= 0) against
 * strtod() and the comparison itself, for mins below, at and above zero, both column types,
 * and values around them: "below the minimum" exactly when strtod(value) < min. */
static void test_min_only_bounds(void **state) {
        static const double mins[] = { -1.5, -0.0, 0, 2, 1e-3 };
        static const char *const values[] = {
                "0", "-0", "+0", "0.0", "-0.000", "-0.001", "0.001", "-1.5", "-1.50", "-1.49",
                "-1.51", "-2", "3", "1.99", "2", "2E0", "0.2E1", "1E-3", "9E-4", "-1E-100",
                "1E-100", "12.50", "-12.50", "7", "-7", "123456789012345678", "-1E2",
        };
        size_t rejected = 0, accepted = 0;

        for (size_t m = 0; m < ELEMENTSOF(mins); m++)
                for (int type = 0; type < 2; type++) {
                        PipelineSpec p = { .name = strdup("b") };
                        ColumnSpec *c;
                        Schema *s = NULL;
                        ItemBuilder item;
                        Buf key = BUF_INIT(4096);
                        SchemaReject rj;
                        Row row;

                        csv_spec_init(&p.csv);
                        add_column(&p, "id", COLUMN_STRING, true);
                        c = add_column(&p, "x", type ? COLUMN_NUMBER : COLUMN_INTEGER, true);
                        c->has_min = true;
                        c->min = mins[m];
                        p.partition_key = strdup("id");
                        assert_int_equal(schema_new(&p, NULL, &s, NULL), 0);
                        item_builder_init(&item, 4096);
                        for (size_t v = 0; v < ELEMENTSOF(values); v++) {
                                char line[64];
                                bool integral = !strpbrk(values[v], ".E");
                                int r;

                                if (!type && !integral)
                                        continue;
                                snprintf(line, sizeof(line), "k|%s", values[v]);
                                split(&row, line);
                                r = schema_row(s, row.f, row.n, &item, &key, &rj);
                                if (r != (strtod(values[v], NULL) < mins[m]) ||
                                    (r && !strstr(rj.reason, "below the minimum")))
                                        fail_msg("min %g, %s: %d (%s)", mins[m], values[v], r,
                                                 r ? rj.reason : "");
                                if (r)
                                        rejected++;
                                else
                                        accepted++;
                        }
                        schema_free(s);
                        item_builder_done(&item);
                        buf_done(&key);
                        pipeline_spec_done(&p);
                }
        assert_true(rejected > 20 && accepted > 20);
}

static void test_item_too_large(void **state) {
        PipelineSpec p = { .name = strdup("big") };
        Schema *s = NULL;
        ItemBuilder item;
        Buf key = BUF_INIT(4096);
        SchemaReject rj;
        CsvField f[2];
        char *v = malloc(500 * 1024);

        csv_spec_init(&p.csv);
        p.csv.max_row_bytes = p.csv.max_field_bytes = 1024 * 1024;
        add_column(&p, "k", COLUMN_STRING, true);
        add_column(&p, "blob", COLUMN_STRING, false);
        p.partition_key = strdup("k");
        assert_int_equal(schema_new(&p, NULL, &s, NULL), 0);
        item_builder_init(&item, 8 * 1024 * 1024);
        memset(v, 'x', 500 * 1024);
        f[0] = (CsvField) { .data = "k1", .len = 2 };
        /* 400 KiB = 409600 bytes: names (1 + 4) + values (2 + n) */
        f[1] = (CsvField) { .data = v, .len = 409600 - 7 };
        assert_int_equal(schema_row(s, f, 2, &item, &key, &rj), 0);
        assert_int_equal(item.size, 409600);
        f[1].len++;
        assert_int_equal(schema_row(s, f, 2, &item, &key, &rj), 1);
        assert_int_equal(rj.column, 0);
        assert_non_null(strstr(rj.reason, "over DynamoDB's 400 KB limit"));

        free(v);
        schema_free(s);
        item_builder_done(&item);
        buf_done(&key);
        pipeline_spec_done(&p);
}

static void test_empty_key(void **state) {
        PipelineSpec p = { .name = strdup("e") };
        Schema *s = NULL;
        ItemBuilder item;
        Buf key = BUF_INIT(4096);
        SchemaReject rj;
        Row row;

        /* no null values configured: "" is a value, and an empty key is still refused */
        csv_spec_init(&p.csv);
        add_column(&p, "k", COLUMN_STRING, true);
        add_column(&p, "v", COLUMN_STRING, false);
        p.partition_key = strdup("k");
        assert_int_equal(schema_new(&p, NULL, &s, NULL), 0);
        item_builder_init(&item, 4096);
        split(&row, "|x");
        assert_int_equal(schema_row(s, row.f, row.n, &item, &key, &rj), 1);
        assert_string_equal(rj.reason, "key attribute is empty");
        split(&row, "a|");
        assert_int_equal(schema_row(s, row.f, row.n, &item, &key, &rj), 0);
        assert_string_equal(item.json.data, "{\"k\":{\"S\":\"a\"},\"v\":{\"S\":\"\"}}");
        assert_string_equal(key.data, "S1:a");
        schema_free(s);
        item_builder_done(&item);
        buf_done(&key);
        pipeline_spec_done(&p);
}

static void test_bad_specs(void **state) {
        PipelineSpec p;
        Schema *s = NULL;
        S3bError err = {};

        make_spec(&p);
        free(p.columns[0].pattern);
        p.columns[0].pattern = strdup("A[0-9");
        assert_int_equal(schema_new(&p, NULL, &s, &err), -EINVAL);
        assert_non_null(strstr(err.message, "column 'student_id': pattern"));
        pipeline_spec_done(&p);

        make_spec(&p);
        free(p.sort_key);
        p.sort_key = strdup("active");
        assert_int_equal(schema_new(&p, NULL, &s, &err), -EINVAL);
        assert_non_null(strstr(err.message, "boolean"));
        pipeline_spec_done(&p);

        make_spec(&p);
        free(p.partition_key);
        p.partition_key = strdup("nope");
        assert_int_equal(schema_new(&p, NULL, &s, &err), -EINVAL);
        assert_non_null(strstr(err.message, "'nope' is not a column"));
        pipeline_spec_done(&p);
        assert_null(s);
}

/* ---- DynamoDB's key rules (tableshape.h) ---- */

typedef struct Rig {
        PipelineSpec p;
        Schema *s;
        ItemBuilder item;
        Buf key;
        SchemaReject rj;
} Rig;

static void rig_init(Rig *r, const char *name) {
        static const char *const nulls[] = { "NULL", NULL };   /* "" is a value here */

        *r = (Rig) { .p = { .name = strdup(name) }, .key = BUF_INIT(1 << 20) };
        csv_spec_init(&r->p.csv);
        set_strv(&r->p.csv.null_values, &r->p.csv.n_null_values, nulls);
        item_builder_init(&r->item, 8 << 20);
}

static void rig_done(Rig *r) {
        schema_free(r->s);
        item_builder_done(&r->item);
        buf_done(&r->key);
        pipeline_spec_done(&r->p);
}

/* Row from fields given as strings (NULL ends); 0 or 1 */
static int rig_row(Rig *r, const char *const *values) {
        CsvField f[16];
        size_t n = 0;
        int ret;

        for (; values[n]; n++)
                f[n] = (CsvField) { .data = values[n], .len = strlen(values[n]) };
        ret = schema_row(r->s, f, n, &r->item, &r->key, &r->rj);
        assert_true(ret == 0 || ret == 1);
        return ret;
}

static char *repeat(const char *unit, size_t times, const char *tail) {
        size_t ul = strlen(unit), tl = strlen(tail);
        char *v = malloc(ul * times + tl + 1), *p = v;

        assert_non_null(v);
        for (size_t i = 0; i < times; i++, p += ul)
                memcpy(p, unit, ul);
        memcpy(p, tail, tl + 1);
        return v;
}

static void test_key_lengths(void **state) {
        Rig r;
        char *pk2048 = repeat("a", 2048, ""), *pk2049 = repeat("a", 2049, "");
        /* UTF-8 counts in bytes: 512 × "é" (2 bytes each) is 1024 bytes, 512 characters */
        char *sk1024 = repeat("\xc3\xa9", 512, ""), *sk1025 = repeat("\xc3\xa9", 512, "a");
        char *sk1100 = repeat("x", 1100, "");

        rig_init(&r, "lengths");
        add_column(&r.p, "student_id", COLUMN_STRING, true);
        add_column(&r.p, "course", COLUMN_STRING, true);
        r.p.partition_key = strdup("student_id");
        r.p.sort_key = strdup("course");
        /* no table shape: the pipeline's own key, as `validate` checks offline */
        assert_int_equal(schema_new(&r.p, NULL, &r.s, NULL), 0);

        assert_int_equal(rig_row(&r, (const char *[]) { pk2048, "c", NULL }), 0);
        assert_int_equal(rig_row(&r, (const char *[]) { pk2049, "c", NULL }), 1);
        assert_int_equal(r.rj.column, 1);
        assert_string_equal(r.rj.reason, "partition key student_id is 2049 bytes; DynamoDB allows 2048");
        assert_int_equal(rig_row(&r, (const char *[]) { "A1", sk1024, NULL }), 0);
        assert_int_equal(rig_row(&r, (const char *[]) { "A1", sk1025, NULL }), 1);
        assert_int_equal(r.rj.column, 2);
        assert_string_equal(r.rj.reason, "sort key course is 1025 bytes; DynamoDB allows 1024");
        assert_int_equal(rig_row(&r, (const char *[]) { "A1", sk1100, NULL }), 1);
        assert_string_equal(r.rj.reason, "sort key course is 1100 bytes; DynamoDB allows 1024");
        /* the sort key limit is not the partition key's */
        assert_int_equal(rig_row(&r, (const char *[]) { sk1100, "c", NULL }), 0);

        rig_done(&r);
        free(pk2048);
        free(pk2049);
        free(sk1024);
        free(sk1025);
        free(sk1100);
}

static void test_number_key_rules(void **state) {
        TableShape t = { .hash = { "id", 'N' }, .range = { "at", 'N' } };
        Rig r;

        rig_init(&r, "numbers");
        add_column(&r.p, "id", COLUMN_INTEGER, true);
        add_column(&r.p, "at", COLUMN_NUMBER, true);
        r.p.partition_key = strdup("id");
        r.p.sort_key = strdup("at");
        assert_int_equal(schema_new(&r.p, &t, &r.s, NULL), 0);
        /* 38 digits is the most a number has: always far below the key limits */
        assert_int_equal(rig_row(&r, (const char *[]) { "12345678901234567890123456789012345678",
                                                        "-1.2345678901234567890123456789012345678E-100", NULL }), 0);
        /* a value that cannot be an N key */
        assert_int_equal(rig_row(&r, (const char *[]) { "A12", "1", NULL }), 1);
        assert_int_equal(r.rj.column, 1);
        assert_string_equal(r.rj.reason, "not an integer");
        assert_int_equal(rig_row(&r, (const char *[]) { "1", "", NULL }), 1);
        assert_int_equal(r.rj.column, 2);
        rig_done(&r);
}

/* id (S) + course (S) key; nick, last (S) and score (N) optional */
static void index_spec(Rig *r) {
        rig_init(r, "indexes");
        add_column(&r->p, "id", COLUMN_STRING, true);
        add_column(&r->p, "course", COLUMN_STRING, true);
        add_column(&r->p, "nick", COLUMN_STRING, false);
        add_column(&r->p, "score", COLUMN_INTEGER, false);
        add_column(&r->p, "last", COLUMN_STRING, false);
        r->p.partition_key = strdup("id");
        r->p.sort_key = strdup("course");
}

static const TableShape index_table = {
        .hash = { "id", 'S' }, .range = { "course", 'S' },
        .indexes = {
                { .name = "by_nick", .hash = { "nick", 'S' } },
                { .name = "by_score", .local = true, .hash = { "id", 'S' }, .range = { "score", 'N' } },
                { .name = "by_last", .hash = { "last", 'S' }, .range = { "nick", 'S' } },
                { .name = "by_other", .hash = { "not_a_column", 'B' } },
        },
        .n_indexes = 4,
};

static void test_index_rules(void **state) {
        char *nick1024 = repeat("n", 1024, ""), *nick1025 = repeat("n", 1025, "");
        char *last2049 = repeat("\xe2\x82\xac", 683, "");      /* "€" × 683 = 2049 bytes */
        Rig r;

        index_spec(&r);
        assert_int_equal(schema_new(&r.p, &index_table, &r.s, NULL), 0);
        assert_int_equal(rig_row(&r, (const char *[]) { "A1", "C", "bob", "5", "L", NULL }), 0);
        /* an empty index key attribute: DynamoDB's ValidationException, so a row error */
        assert_int_equal(rig_row(&r, (const char *[]) { "A1", "C", "", "5", "L", NULL }), 1);
        assert_int_equal(r.rj.column, 3);
        assert_string_equal(r.rj.column_name, "nick");
        /* nick keys two indexes; the message names the one with the strictest limit */
        assert_string_equal(r.rj.reason, "GSI by_last key nick is empty");
        assert_int_equal(rig_row(&r, (const char *[]) { "A1", "C", "bob", "5", "", NULL }), 1);
        assert_string_equal(r.rj.reason, "GSI by_last key last is empty");
        /* null: the attribute is left out, the item is just not in the index */
        assert_int_equal(rig_row(&r, (const char *[]) { "A1", "C", "NULL", "NULL", "NULL", NULL }), 0);
        assert_string_equal(r.item.json.data, "{\"id\":{\"S\":\"A1\"},\"course\":{\"S\":\"C\"}}");
        /* nick is by_last's sort key too: 1024 bytes at most */
        assert_int_equal(rig_row(&r, (const char *[]) { "A1", "C", nick1024, "1", "L", NULL }), 0);
        assert_int_equal(rig_row(&r, (const char *[]) { "A1", "C", nick1025, "1", "L", NULL }), 1);
        assert_string_equal(r.rj.reason, "GSI by_last key nick is 1025 bytes; DynamoDB allows 1024");
        assert_int_equal(rig_row(&r, (const char *[]) { "A1", "C", "bob", "1", last2049, NULL }), 1);
        assert_string_equal(r.rj.reason, "GSI by_last key last is 2049 bytes; DynamoDB allows 2048");
        /* the LSI's N key fed by an integer column: only the number rules */
        assert_int_equal(rig_row(&r, (const char *[]) { "A1", "C", "bob", "x", "L", NULL }), 1);
        assert_string_equal(r.rj.reason, "not an integer");
        rig_done(&r);

        /* without the shape (offline), the index rules are unknown: the row passes */
        index_spec(&r);
        assert_int_equal(schema_new(&r.p, NULL, &r.s, NULL), 0);
        assert_int_equal(rig_row(&r, (const char *[]) { "A1", "C", "", "5", "L", NULL }), 0);
        rig_done(&r);
        free(nick1024);
        free(nick1025);
        free(last2049);
}

/* A type that can never match is the pipeline's fault, not a row's: schema_new refuses it
 * (and the daemon refuses to start with it, startup.c). */
static void test_index_type_mismatch(void **state) {
        static const struct {
                const char *attr;
                char type;
                const char *message;
        } cases[] = {
                { "score", 'S', "declares GSI by_x key score as S (string), but column score is integer and writes N (number)" },
                { "nick", 'N', "declares GSI by_x key nick as N (number), but column nick is string and writes S (string)" },
                { "nick", 'B', "as B (binary)" },
                { "flag", 'S', "column flag is boolean and writes BOOL (boolean)" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                TableShape t = index_table;
                S3bError err = {};
                Rig r;

                index_spec(&r);
                add_column(&r.p, "flag", COLUMN_BOOLEAN, false);
                r.p.table = strdup("T");
                t.indexes[0] = (TableIndex) { .name = "by_x" };
                snprintf(t.indexes[0].hash.name, sizeof(t.indexes[0].hash.name), "%s", cases[i].attr);
                t.indexes[0].hash.type = cases[i].type;
                assert_int_equal(schema_new(&r.p, &t, &r.s, &err), -EINVAL);
                if (!strstr(err.message, cases[i].message))
                        fail_msg("'%s' lacks '%s'", err.message, cases[i].message);
                rig_done(&r);
        }
}

static void test_table_key_mismatch(void **state) {
        TableShape t = index_table;
        S3bError err = {};
        Rig r;

        index_spec(&r);
        r.p.table = strdup("T");
        t.hash.type = 'N';
        assert_int_equal(schema_new(&r.p, &t, &r.s, &err), -EINVAL);
        assert_non_null(strstr(err.message, "table T declares partition key id as N (number), but column id is string"));
        t = index_table;
        snprintf(t.range.name, sizeof(t.range.name), "other");
        assert_int_equal(schema_new(&r.p, &t, &r.s, &err), -EINVAL);
        assert_non_null(strstr(err.message, "table T has key (id, other) but the pipeline says (id, course)"));
        rig_done(&r);
}

/* Numbers count as DynamoDB stores them (item.c): an item the guide's rough count would
 * put at 409 599 bytes is really 409 601, over the limit. */
static void test_item_size_with_numbers(void **state) {
        Rig r;
        char *blob = repeat("x", 409588, "");

        rig_init(&r, "size");
        r.p.csv.max_row_bytes = r.p.csv.max_field_bytes = 1024 * 1024;
        add_column(&r.p, "k", COLUMN_STRING, true);
        add_column(&r.p, "blob", COLUMN_STRING, false);
        add_column(&r.p, "n", COLUMN_NUMBER, false);
        r.p.partition_key = strdup("k");
        assert_int_equal(schema_new(&r.p, NULL, &r.s, NULL), 0);
        /* names 1 + 4 + 1, values 2 + 409588 + (-1.234: |_1|.|23|4_| 3 pairs + 1 + 1 negative) */
        assert_int_equal(rig_row(&r, (const char *[]) { "k1", blob, "-1.234", NULL }), 1);
        assert_non_null(strstr(r.rj.reason, "item is 409601 bytes, over DynamoDB's 400 KB limit"));
        blob[409587] = '\0';
        assert_int_equal(rig_row(&r, (const char *[]) { "k1", blob, "-1.234", NULL }), 0);
        assert_int_equal(r.item.size, 409600);
        rig_done(&r);
        free(blob);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_good_row, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nulls, setup, teardown),
                cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nul_in_pattern_value, setup, teardown),
                cmocka_unit_test_setup_teardown(test_integers, setup, teardown),
                cmocka_unit_test(test_numbers),
                cmocka_unit_test_setup_teardown(test_number_column, setup, teardown),
                cmocka_unit_test(test_booleans),
                cmocka_unit_test_setup_teardown(test_boolean_column, setup, teardown),
                cmocka_unit_test(test_dates),
                cmocka_unit_test_setup_teardown(test_date_and_enum_columns, setup, teardown),
                cmocka_unit_test_setup_teardown(test_field_count, setup, teardown),
                cmocka_unit_test_setup_teardown(test_header, setup, teardown),
                cmocka_unit_test(test_numeric_keys),
                cmocka_unit_test(test_min_only_bounds),
                cmocka_unit_test(test_item_too_large),
                cmocka_unit_test(test_empty_key),
                cmocka_unit_test(test_bad_specs),
                cmocka_unit_test(test_key_lengths),
                cmocka_unit_test(test_number_key_rules),
                cmocka_unit_test(test_index_rules),
                cmocka_unit_test(test_index_type_mismatch),
                cmocka_unit_test(test_table_key_mismatch),
                cmocka_unit_test(test_item_size_with_numbers),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
