/* Outcome formatting: the SNS subject's limits and the JSON summary's fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <cmocka.h>

#include "daemon/outcome.h"

static PipelineSpec spec = { .name = (char *) "students" };

static Job job(const char *key, JobStatus st) {
        return (Job) { .spec = &spec, .bucket = (char *) "inbound", .key = (char *) key,
                       .etag = (char *) "abc", .version_id = (char *) "",
                       .sequencer = (char *) "0055", .event_id = "00112233445566778899aabbccddeeff",
                       .status = st };
}

static bool printable_ascii(const char *s) {
        for (; *s; s++)
                if (*s < 0x20 || *s > 0x7e)
                        return false;
        return true;
}

static void test_subject(void **state) {
        char buf[128];
        Job j = job("students/2026-11-29.csv", JOB_SUCCESS);
        char longkey[400];

        outcome_subject(&j, buf, sizeof(buf));
        assert_string_equal(buf, "s3batchd SUCCESS students/2026-11-29.csv");

        j = job("grades/caf\xc3\xa9 \xf0\x9f\x98\x80\n.csv", JOB_PARTIAL);
        outcome_subject(&j, buf, sizeof(buf));
        assert_string_equal(buf, "s3batchd PARTIAL grades/caf? ??.csv");

        memset(longkey, 'k', sizeof(longkey) - 1);
        longkey[sizeof(longkey) - 1] = '\0';
        memcpy(longkey + sizeof(longkey) - 9, "/end.csv", 8);
        j = job(longkey, JOB_FAILURE);
        outcome_subject(&j, buf, sizeof(buf));
        assert_true(strlen(buf) < 100);
        assert_true(printable_ascii(buf));
        assert_true(strncmp(buf, "s3batchd FAILURE ...", 20) == 0);
        assert_string_equal(buf + strlen(buf) - 8, "/end.csv");
}

static void test_summary(void **state) {
        Job j = job("a/b.csv", JOB_PARTIAL);
        cJSON *o;
        char *s;

        j.rows_total = 5;
        j.rows_written = 3;
        j.rows_rejected = 1;
        j.rows_superseded = 1;
        j.duration_ms = 42;
        j.location = (char *) "s3://arch/a/b.csv";
        j.report_location = (char *) "s3://err/a/b.csv.rejected.csv";
        strcpy(j.reason, "1 row(s) rejected");
        s = outcome_summary_json(&j);
        assert_non_null(s);
        o = cJSON_Parse(s);
        assert_non_null(o);
        assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "PARTIAL");
        assert_string_equal(cJSON_GetObjectItem(o, "pipeline")->valuestring, "students");
        assert_string_equal(cJSON_GetObjectItem(o, "key")->valuestring, "a/b.csv");
        assert_string_equal(cJSON_GetObjectItem(o, "etag")->valuestring, "abc");
        assert_string_equal(cJSON_GetObjectItem(o, "sequencer")->valuestring, "0055");
        assert_null(cJSON_GetObjectItem(o, "version_id"));     /* unversioned: left out */
        assert_string_equal(cJSON_GetObjectItem(o, "event_id")->valuestring, "00112233445566778899aabbccddeeff");
        assert_int_equal(cJSON_GetObjectItem(o, "rows_written")->valueint, 3);
        assert_int_equal(cJSON_GetObjectItem(o, "rows_superseded")->valueint, 1);
        assert_string_equal(cJSON_GetObjectItem(o, "archive_location")->valuestring, "s3://arch/a/b.csv");
        assert_null(cJSON_GetObjectItem(o, "error_location"));
        assert_string_equal(cJSON_GetObjectItem(o, "report_location")->valuestring, "s3://err/a/b.csv.rejected.csv");
        assert_int_equal(cJSON_GetObjectItem(o, "duration_ms")->valueint, 42);
        cJSON_Delete(o);
        free(s);

        j.status = JOB_FAILURE;
        s = outcome_summary_json(&j);
        o = cJSON_Parse(s);
        assert_string_equal(cJSON_GetObjectItem(o, "error_location")->valuestring, "s3://arch/a/b.csv");
        assert_null(cJSON_GetObjectItem(o, "archive_location"));
        cJSON_Delete(o);
        free(s);

        /* a superseded job names where the newer version is, as neither archive nor error */
        j.status = JOB_SUPERSEDED;
        s = outcome_summary_json(&j);
        o = cJSON_Parse(s);
        assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "SUPERSEDED");
        assert_string_equal(cJSON_GetObjectItem(o, "location")->valuestring, "s3://arch/a/b.csv");
        assert_null(cJSON_GetObjectItem(o, "error_location"));
        cJSON_Delete(o);
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_subject),
                cmocka_unit_test(test_summary),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
