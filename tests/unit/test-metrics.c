#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/metrics.h"
#include "version.h"

static char *render(Metrics *m) {
        Buf b = BUF_INIT(1 << 22);

        assert_int_equal(metrics_render(m, &b), 0);
        return buf_steal(&b);
}

static void expect_line(const char *text, const char *line) {
        _cleanup_free_ char *needle = NULL;

        assert_true(asprintf(&needle, "\n%s\n", line) > 0);
        if (!strstr(text, needle) && strncmp(text, needle + 1, strlen(needle + 1)) != 0)
                fail_msg("missing line '%s' in:\n%s", line, text);
}

static void test_render(void **state) {
        _cleanup_(metrics_freep) Metrics *m = NULL;
        _cleanup_free_ char *text = NULL;

        assert_int_equal(metrics_new(&m), 0);
        metrics_file_done(m, "students", METRICS_OUTCOME_SUCCESS, 0.2);
        metrics_file_done(m, "students", METRICS_OUTCOME_SUCCESS, 3.0);
        metrics_file_done(m, "students", METRICS_OUTCOME_PARTIAL, 4000);
        metrics_file_done(m, NULL, METRICS_OUTCOME_SKIPPED, 0.01);
        metrics_rows(m, "students", 200000, 3, 7);
        metrics_bytes_read(m, "students", 12345);
        metrics_message(m, METRICS_MESSAGE_RECEIVED, 5);
        metrics_message(m, METRICS_MESSAGE_DELETED, 4);
        metrics_aws_request(m, "dynamodb", NULL, false);
        metrics_aws_request(m, "dynamodb", "", false);
        metrics_aws_request(m, "dynamodb", "ProvisionedThroughputExceededException", true);
        metrics_aws_request(m, "s3", "NoSuchKey", false);
        metrics_jobs_in_flight_add(m, 3);
        metrics_jobs_in_flight_add(m, -1);
        text = render(m);

        expect_line(text, "# TYPE s3batchd_files_total counter");
        expect_line(text, "s3batchd_files_total{pipeline=\"students\",outcome=\"success\"} 2");
        expect_line(text, "s3batchd_files_total{pipeline=\"students\",outcome=\"partial\"} 1");
        expect_line(text, "s3batchd_files_total{pipeline=\"students\",outcome=\"failure\"} 0");
        expect_line(text, "s3batchd_files_total{pipeline=\"none\",outcome=\"skipped\"} 1");
        expect_line(text, "s3batchd_rows_total{pipeline=\"students\",result=\"written\"} 200000");
        expect_line(text, "s3batchd_rows_total{pipeline=\"students\",result=\"rejected\"} 3");
        expect_line(text, "s3batchd_rows_total{pipeline=\"students\",result=\"superseded\"} 7");
        expect_line(text, "s3batchd_bytes_read_total{pipeline=\"students\"} 12345");
        expect_line(text, "s3batchd_sqs_messages_total{result=\"received\"} 5");
        expect_line(text, "s3batchd_sqs_messages_total{result=\"deleted\"} 4");
        expect_line(text, "s3batchd_sqs_messages_total{result=\"poison\"} 0");
        expect_line(text, "s3batchd_aws_requests_total{service=\"dynamodb\",code=\"OK\"} 2");
        expect_line(text, "s3batchd_aws_requests_total{service=\"dynamodb\",code=\"ProvisionedThroughputExceededException\"} 1");
        expect_line(text, "s3batchd_aws_retries_total{service=\"dynamodb\",code=\"ProvisionedThroughputExceededException\"} 1");
        expect_line(text, "s3batchd_aws_retries_total{service=\"s3\",code=\"NoSuchKey\"} 0");
        assert_null(strstr(text, "s3batchd_aws_retries_total{service=\"dynamodb\",code=\"OK\"}"));
        expect_line(text, "s3batchd_jobs_in_flight 2");
        expect_line(text, "# TYPE s3batchd_job_duration_seconds histogram");
        /* skipped files are counted but not timed */
        expect_line(text, "s3batchd_job_duration_seconds_bucket{le=\"0.1\"} 0");
        expect_line(text, "s3batchd_job_duration_seconds_bucket{le=\"0.25\"} 1");
        expect_line(text, "s3batchd_job_duration_seconds_bucket{le=\"2.5\"} 1");
        expect_line(text, "s3batchd_job_duration_seconds_bucket{le=\"5\"} 2");
        expect_line(text, "s3batchd_job_duration_seconds_bucket{le=\"1800\"} 2");
        expect_line(text, "s3batchd_job_duration_seconds_bucket{le=\"+Inf\"} 3");
        expect_line(text, "s3batchd_job_duration_seconds_sum 4003.200000");
        expect_line(text, "s3batchd_job_duration_seconds_count 3");
        expect_line(text, "s3batchd_build_info{version=\"" S3BATCHD_VERSION "\"} 1");
        /* every line is a comment or "name[{labels}] value" and the text ends with a newline */
        assert_int_equal(text[strlen(text) - 1], '\n');
        for (char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
                if (*p == '#')
                        continue;
                if (strncmp(p, "s3batchd_", 9) != 0 || !memchr(p, ' ', (size_t) (nl - p)))
                        fail_msg("bad sample line: %.*s", (int) (nl - p), p);
        }
}

/* Per-table write flow: counters add up, gauges take the last value. */
static void test_table_writes(void **state) {
        _cleanup_(metrics_freep) Metrics *m = NULL;
        _cleanup_free_ char *text = NULL;

        assert_int_equal(metrics_new(&m), 0);
        metrics_table_writes(m, "PRELIM_STUDENT_DATA", 100, 2, 700, 0);
        metrics_table_writes(m, "PRELIM_STUDENT_DATA", 50.5, 1, 350, 400);
        metrics_table_writes(m, "bad\"name", 1, 0, 0, 0);
        text = render(m);
        expect_line(text, "# TYPE s3batchd_table_consumed_wcu_total counter");
        expect_line(text, "s3batchd_table_consumed_wcu_total{table=\"PRELIM_STUDENT_DATA\"} 150.5");
        expect_line(text, "s3batchd_table_throttles_total{table=\"PRELIM_STUDENT_DATA\"} 3.0");
        expect_line(text, "# TYPE s3batchd_table_write_rate_wcu gauge");
        expect_line(text, "s3batchd_table_write_rate_wcu{table=\"PRELIM_STUDENT_DATA\"} 350.0");
        expect_line(text, "s3batchd_table_write_budget_wcu{table=\"PRELIM_STUDENT_DATA\"} 400.0");
        /* a name that is no identifier is never a label */
        expect_line(text, "s3batchd_table_consumed_wcu_total{table=\"other\"} 1.0");
}

static void test_label_escaping(void **state) {
        _cleanup_(metrics_freep) Metrics *m = NULL;
        _cleanup_free_ char *text = NULL;
        Buf b = BUF_INIT(256);

        assert_int_equal(metrics_escape_label(&b, "a\\b\"c\nd"), 0);
        assert_string_equal(buf_str(&b), "a\\\\b\\\"c\\nd");
        buf_done(&b);

        assert_int_equal(metrics_new(&m), 0);
        /* pipeline names are ours: kept, escaped */
        metrics_rows(m, "we\"ird\\name\n", 1, 0, 0);
        /* error codes come from the network: anything odd collapses into "other" */
        metrics_aws_request(m, "s3", "Evil\"} 999\n#", true);
        metrics_aws_request(m, "s 3", "NoSuchKey", false);
        text = render(m);
        expect_line(text, "s3batchd_rows_total{pipeline=\"we\\\"ird\\\\name\\n\",result=\"written\"} 1");
        expect_line(text, "s3batchd_aws_requests_total{service=\"s3\",code=\"other\"} 1");
        expect_line(text, "s3batchd_aws_requests_total{service=\"other\",code=\"NoSuchKey\"} 1");
        assert_null(strstr(text, "999"));
}

static void test_cardinality_is_bounded(void **state) {
        _cleanup_(metrics_freep) Metrics *m = NULL;
        _cleanup_free_ char *text = NULL;
        size_t series = 0;

        assert_int_equal(metrics_new(&m), 0);
        for (unsigned i = 0; i < 10000; i++) {
                char code[32];

                snprintf(code, sizeof(code), "Code%u", i);
                metrics_aws_request(m, "dynamodb", code, false);
        }
        /* odd codes for new services once full: still the shared row, never past the table */
        for (unsigned i = 0; i < 200; i++) {
                char svc[32];

                snprintf(svc, sizeof(svc), "svc%u", i);
                metrics_aws_request(m, svc, "bad code", false);
                metrics_rows(m, svc, 1, 0, 0);
        }
        text = render(m);
        for (char *p = text; (p = strstr(p, "s3batchd_aws_requests_total{")); p++)
                series++;
        assert_int_equal(series, METRICS_MAX_SERIES);
        expect_line(text, "s3batchd_aws_requests_total{service=\"other\",code=\"other\"} 10073");
        series = 0;
        for (char *p = text; (p = strstr(p, "s3batchd_bytes_read_total{")); p++)
                series++;
        assert_int_equal(series, METRICS_MAX_SERIES);
        expect_line(text, "s3batchd_rows_total{pipeline=\"other\",result=\"written\"} 73");
}

static void *worker(void *arg) {
        Metrics *m = arg;

        for (int i = 0; i < 10000; i++) {
                metrics_jobs_in_flight_add(m, 1);
                metrics_rows(m, "p", 25, 0, 0);
                metrics_aws_request(m, "dynamodb", NULL, false);
                metrics_file_done(m, "p", METRICS_OUTCOME_SUCCESS, 0.5);
                metrics_jobs_in_flight_add(m, -1);
        }
        return NULL;
}

static void test_threads(void **state) {
        _cleanup_(metrics_freep) Metrics *m = NULL;
        _cleanup_free_ char *text = NULL;
        pthread_t t[4];

        assert_int_equal(metrics_new(&m), 0);
        for (int i = 0; i < 4; i++)
                assert_int_equal(pthread_create(&t[i], NULL, worker, m), 0);
        for (int i = 0; i < 4; i++)
                pthread_join(t[i], NULL);
        text = render(m);
        expect_line(text, "s3batchd_rows_total{pipeline=\"p\",result=\"written\"} 1000000");
        expect_line(text, "s3batchd_files_total{pipeline=\"p\",outcome=\"success\"} 40000");
        expect_line(text, "s3batchd_aws_requests_total{service=\"dynamodb\",code=\"OK\"} 40000");
        expect_line(text, "s3batchd_jobs_in_flight 0");
        expect_line(text, "s3batchd_job_duration_seconds_bucket{le=\"0.5\"} 40000");
}

static size_t count_dir(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static void test_atomic_write(void **state) {
        _cleanup_(metrics_freep) Metrics *m = NULL;
        char dir[] = "/tmp/test-metrics-XXXXXX", path[128], bad[160];
        _cleanup_free_ char *text = NULL;
        struct stat st, st2;
        S3bError err;
        FILE *f;
        char buf[1 << 16];
        size_t n;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/s3batchd.prom", dir);
        assert_int_equal(metrics_new(&m), 0);
        metrics_rows(m, "students", 4, 0, 0);
        s3b_error_clear(&err);
        assert_int_equal(metrics_write_file(m, path, &err), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0644);
        assert_int_equal(count_dir(dir), 1);            /* no temporary file left behind */
        f = fopen(path, "r");
        assert_non_null(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        text = render(m);
        assert_string_equal(buf, text);

        /* a rewrite replaces the file (new inode: readers holding the old one see it whole) */
        metrics_rows(m, "students", 1, 0, 0);
        assert_int_equal(metrics_write_file(m, path, &err), 0);
        assert_int_equal(stat(path, &st2), 0);
        assert_true(st.st_ino != st2.st_ino);
        assert_int_equal(count_dir(dir), 1);

        /* failure: directory missing; the error says so and nothing is created */
        snprintf(bad, sizeof(bad), "%s/missing/s3batchd.prom", dir);
        assert_int_equal(metrics_write_file(m, bad, &err), -ENOENT);
        assert_non_null(strstr(err.message, "temporary file"));
        /* failure on rename (target is a non-empty directory): the temporary is removed and
         * the old file is untouched */
        snprintf(bad, sizeof(bad), "%s/dir.prom", dir);
        assert_int_equal(mkdir(bad, 0755), 0);
        snprintf(bad, sizeof(bad), "%s/dir.prom/x", dir);
        assert_int_equal(mkdir(bad, 0755), 0);
        snprintf(bad, sizeof(bad), "%s/dir.prom", dir);
        assert_true(metrics_write_file(m, bad, &err) < 0);
        assert_non_null(strstr(err.message, "renaming"));
        assert_int_equal(count_dir(dir), 2);
        assert_int_equal(metrics_write_file(m, "", &err), -EINVAL);

        snprintf(bad, sizeof(bad), "%s/dir.prom/x", dir);
        rmdir(bad);
        snprintf(bad, sizeof(bad), "%s/dir.prom", dir);
        rmdir(bad);
        unlink(path);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_render),
                cmocka_unit_test(test_table_writes),
                cmocka_unit_test(test_label_escaping),
                cmocka_unit_test(test_cardinality_is_bounded),
                cmocka_unit_test(test_threads),
                cmocka_unit_test(test_atomic_write),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
