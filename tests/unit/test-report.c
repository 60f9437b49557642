/* Report: header, CSV quoting of reason and raw row, column name/number, the memory cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/report.h"

static IngestReject rej(uint64_t line, unsigned col, const char *name, const char *reason, const char *raw) {
        return (IngestReject) { .line = line, .column = col, .column_name = name, .reason = reason,
                                .raw = raw, .raw_len = strlen(raw) };
}

static void test_lines(void **state) {
        _cleanup_(report_freep) Report *r = report_new(1 << 20);
        IngestReject a = rej(3, 1, "student_id", "does not match ^A[0-9]{5}$", "BAD,Bad,Id,P1");
        IngestReject b = rej(7, 4, NULL, "wrong number of fields: 5, expected 4", "a,\"b\"\"c\",d,e,f");
        IngestReject c = rej(9, 0, NULL, "unterminated quoted field", "x");
        size_t len;
        const char *text;

        assert_int_equal(report_add(r, &a), 0);
        assert_int_equal(report_add(r, &b), 0);
        assert_int_equal(report_add(r, &c), 0);
        assert_int_equal(report_count(r), 3);
        text = report_finish(r, &len);
        assert_int_equal(len, strlen(text));
        assert_string_equal(text,
                "line,column,reason,row\n"
                "3,student_id,does not match ^A[0-9]{5}$,\"BAD,Bad,Id,P1\"\n"
                "7,4,\"wrong number of fields: 5, expected 4\",\"a,\"\"b\"\"\"\"c\"\",d,e,f\"\n"
                "9,,unterminated quoted field,x\n");
}

static void test_cap_counts_the_rest(void **state) {
        _cleanup_(report_freep) Report *r = report_new(4096);
        char raw[1000];
        size_t len;
        const char *text;

        memset(raw, 'z', sizeof(raw) - 1);
        raw[sizeof(raw) - 1] = '\0';
        for (int i = 0; i < 10; i++) {
                IngestReject x = rej((uint64_t) i + 2, 1, "c", "bad", raw);
                assert_int_equal(report_add(r, &x), 0);
        }
        assert_int_equal(report_count(r), 10);
        text = report_finish(r, &len);
        assert_true(len < 4096 + 128);
        assert_non_null(strstr(text, "more rejected rows left out of this report"));
        /* only whole lines are kept */
        assert_int_equal(text[len - 1], '\n');
        /* finishing twice does not add the note twice */
        text = report_finish(r, &len);
        assert_null(strstr(strstr(text, "left out") + 1, "left out"));
}

static void test_reset(void **state) {
        _cleanup_(report_freep) Report *r = report_new(1 << 16);
        IngestReject a = rej(2, 1, "c", "bad", "x");
        size_t len;

        assert_int_equal(report_add(r, &a), 0);
        report_reset(r);
        assert_int_equal(report_count(r), 0);
        assert_string_equal(report_finish(r, &len), "line,column,reason,row\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lines),
                cmocka_unit_test(test_cap_counts_the_rest),
                cmocka_unit_test(test_reset),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
