/* Outcome: the SNS subject's limits and the JSON summary's fields; and, against the fake
 * S3/SNS of fakeaws.h, the order of the settle (copy → reports → SNS publish → conditional
 * delete of the inbound object, docs/DESIGN.md "Invariants" 1), each S3 call pinned to the
 * job's ETag, and that a failure at any step stops there: the inbound object stays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "common/aws/s3.h"
#include "daemon/outcome.h"
#include "fakeaws.h"

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

/* ---- the settle, against the fake S3/SNS ---- */

#define CSV "student_id,course\n1,math\n"

/* The quoted MD5 of CSV: the ETag the fake gives the inbound object. */
static void csv_etag(char out[33]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        assert_int_equal(EVP_Digest(CSV, strlen(CSV), md, &n, EVP_md5(), NULL), 1);
        for (unsigned i = 0; i < n; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The calls that change something, in order: what the settle did. */
static size_t changes(const FakeAws *f, const char *ret[]) {
        size_t n = 0;

        for (size_t i = 0; i < f->n_steps; i++)
                if (strcmp(f->steps[i], "head") != 0 && strcmp(f->steps[i], "headbucket") != 0)
                        ret[n++] = f->steps[i];
        return n;
}

/* A failed file with one rejected row: every step of the settle has something to do. */
static int settle_failed_file(FakeAws *f, const char *const *fails, Job **ret, OutcomeStep *ret_step,
                              S3bError *err) {
        static const char *const objects[] = { "/inbound/students/a.csv", CSV, NULL };
        _cleanup_(report_freep) Report *report = report_new(4096);
        char etag[33];
        Job *j;

        assert_int_equal(fakeaws_start(f, objects, fails), 0);
        csv_etag(etag);
        j = fakeaws_job(f, "students/a.csv", etag);
        assert_non_null(j);
        assert_non_null(report);
        assert_int_equal(report_add(report, &(IngestReject) { .line = 2, .column = 2, .reason = "bad",
                                                             .raw = "1,x", .raw_len = 3 }), 0);
        j->status = JOB_FAILURE;
        snprintf(j->reason, sizeof(j->reason), "header mismatch");
        *ret = j;
        return outcome_settle(j, &f->env, report, ret_step, err);
}

static void test_settle_order(void **state) {
        FakeAws *f = *state;
        Job *j = NULL;
        OutcomeStep step = OUTCOME_STEP_COPY;
        S3bError err = {};
        const char *got[FAKEAWS_STEPS_MAX];
        char etag[33], quoted[40];
        int copy, del;

        assert_int_equal(settle_failed_file(f, NULL, &j, &step, &err), 0);
        assert_int_equal(fakeaws_steps(f), 0);
        /* copy → reports (rejected rows, error.json) → SNS publish → conditional delete */
        assert_int_equal(changes(f, got), 5);
        assert_string_equal(got[0], "copy");
        assert_string_equal(got[1], "put");
        assert_string_equal(got[2], "put");
        assert_string_equal(got[3], "publish");
        assert_string_equal(got[4], "delete");
        copy = fakeaws_find(f, "copy", 0);
        del = fakeaws_find(f, "delete", 0);
        assert_string_equal(f->paths[copy], "/error-bucket/students/a.csv");
        assert_string_equal(f->paths[fakeaws_find(f, "put", 0)], "/error-bucket/students/a.csv.rejected.csv");
        assert_string_equal(f->paths[fakeaws_find(f, "put", (size_t) copy + 2)], "/error-bucket/students/a.csv.error.json");
        assert_string_equal(f->paths[del], "/inbound/students/a.csv");
        /* both pinned to the version the job read */
        csv_etag(etag);
        snprintf(quoted, sizeof(quoted), "\"%s\"", etag);
        assert_string_equal(f->if_match[copy], quoted);
        assert_string_equal(f->if_match[del], quoted);
        assert_string_equal(j->location, "s3://error-bucket/students/a.csv");
        assert_string_equal(j->report_location, "s3://error-bucket/students/a.csv.rejected.csv");
        assert_true(j->notified);
        job_free(j);
        }

/* A failure at each step, transient (503) or not (403): the settle stops there, says where,
 * and the inbound object is still in place for the redelivery. */
static void test_settle_stops_at_a_failure(void **state) {
        static const struct {
                const char *fail;
                OutcomeStep step;
                const char *last;       /* the last call made */
        } cases[] = {
                { "copy=503:ServiceUnavailable", OUTCOME_STEP_COPY, "copy" },
                { "copy=403:AccessDenied", OUTCOME_STEP_COPY, "copy" },
                { "put=503:SlowDown", OUTCOME_STEP_REPORT, "put" },
                { "put=403:AccessDenied", OUTCOME_STEP_REPORT, "put" },
                { "publish=500:InternalError", OUTCOME_STEP_NOTIFY, "publish" },
                { "publish=403:AuthorizationError", OUTCOME_STEP_NOTIFY, "publish" },
                { "publish=close", OUTCOME_STEP_NOTIFY, "publish" },
                { "delete=503:ServiceUnavailable", OUTCOME_STEP_DELETE, "delete" },
                { "delete=403:AccessDenied", OUTCOME_STEP_DELETE, "delete" },
        };

        FakeAws *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *fails[] = { cases[i].fail, NULL };
                const char *got[FAKEAWS_STEPS_MAX];
                Job *j = NULL;
                OutcomeStep step = OUTCOME_STEP_COPY;
                S3ObjectInfo info;
                S3bError err = {};
                size_t n;

                print_message("failing %s\n", cases[i].fail);
                assert_true(settle_failed_file(f, fails, &j, &step, &err) < 0);
                assert_int_equal(step, cases[i].step);
                assert_int_equal(fakeaws_steps(f), 0);
                n = changes(f, got);
                assert_true(n > 0);
                assert_string_equal(got[n - 1], cases[i].last);
                /* nothing after the failed step; the inbound object is where it was */
                assert_int_equal(s3_head_object(f->env.client, "inbound", "students/a.csv", NULL, &info, &err), 0);
                job_free(j);
                fakeaws_stop(f);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_subject),
                cmocka_unit_test(test_summary),
                cmocka_unit_test_setup_teardown(test_settle_order, fakeaws_setup, fakeaws_teardown),
                cmocka_unit_test_setup_teardown(test_settle_stops_at_a_failure, fakeaws_setup, fakeaws_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
