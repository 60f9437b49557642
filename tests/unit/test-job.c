/* The job's verdicts (docs/DESIGN.md, "Retry or final"): which failure of a read, a write or
 * the settle leads to which JobStatus, run through job_run() against the fake S3/SNS/DynamoDB
 * of fakeaws.h. A status that is not final (RETRY, CONFIG_ERROR) is what keeps the SQS
 * message: the loop deletes a message only when every job of it is final. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/s3.h"
#include "daemon/job.h"
#include "daemon/writer.h"
#include "fakeaws.h"

#define GOOD "student_id,course\n1,math\n2,art\n"
#define OTHER_HEADER "id,subject\n1,math\n"
/* gzip magic, then no deflate stream (no NUL: the fake's objects are C strings here) */
#define BAD_GZIP "\x1f\x8b\x08\x08not a deflate stream at all"

typedef struct Case {
        const char *name;
        const char *key;                /* in bucket inbound */
        const char *data;               /* NULL: no inbound object */
        const char *archived;           /* the same key in the archive with this data, or NULL */
        const char *fails[3];
        JobStatus expect;
        const char *last;               /* the last call that changed something, or NULL */
} Case;

static const Case cases[] = {
        /* reads */
        { "loaded", "a.csv", GOOD, NULL, {}, JOB_SUCCESS, "delete" },
        { "404, no copy anywhere", "a.csv", NULL, NULL, {}, JOB_GONE, NULL },
        { "404, a copy in the archive", "a.csv", NULL, GOOD, {}, JOB_DONE_BEFORE, NULL },
        { "412 on the read", "a.csv", GOOD, NULL, { "get=412:PreconditionFailed" }, JOB_SUPERSEDED, "publish" },
        { "403 on the read", "a.csv", GOOD, NULL, { "get=403:AccessDenied" }, JOB_CONFIG_ERROR, NULL },
        { "503 on the read", "a.csv", GOOD, NULL, { "get=503:SlowDown" }, JOB_RETRY, NULL },
        { "connection dropped", "a.csv", GOOD, NULL, { "get=close" }, JOB_RETRY, NULL },
        { "bad gzip", "a.csv.gz", BAD_GZIP, NULL, {}, JOB_FAILURE, "delete" },
        { "header mismatch", "a.csv", OTHER_HEADER, NULL, {}, JOB_FAILURE, "delete" },
        /* writes */
        { "ValidationException", "a.csv", GOOD, NULL, { "batchwrite=400:ValidationException" },
          JOB_FAILURE, "delete" },
        { "throttled past the attempts", "a.csv", GOOD, NULL,
          { "batchwrite=400:ProvisionedThroughputExceededException" }, JOB_RETRY, NULL },
        { "table missing", "a.csv", GOOD, NULL, { "batchwrite=400:ResourceNotFoundException" },
          JOB_CONFIG_ERROR, NULL },
        /* the settle: the file stays in inbound and the message is kept */
        { "copy 503", "a.csv", GOOD, NULL, { "copy=503:ServiceUnavailable" }, JOB_RETRY, "copy" },
        { "publish 500", "a.csv", GOOD, NULL, { "publish=500:InternalError" }, JOB_RETRY, "publish" },
        { "publish 403", "a.csv", GOOD, NULL, { "publish=403:AuthorizationError" }, JOB_CONFIG_ERROR, "publish" },
        { "delete 403", "a.csv", GOOD, NULL, { "delete=403:AccessDenied" }, JOB_CONFIG_ERROR, "delete" },
};

static const char *last_change(const FakeAws *f) {
        for (size_t i = f->n_steps; i > 0; i--)
                if (strcmp(f->steps[i - 1], "copy") == 0 || strcmp(f->steps[i - 1], "put") == 0 ||
                    strcmp(f->steps[i - 1], "publish") == 0 || strcmp(f->steps[i - 1], "delete") == 0)
                        return f->steps[i - 1];
        return NULL;
}

static void run_case(FakeAws *f, const Case *c) {
        char inbound[128], archive[128];
        const char *objects[5] = {};
        size_t n = 0;
        _cleanup_(job_freep) Job *j = NULL;
        S3ObjectInfo info;
        S3bError err = {};
        const char *last;
        bool in_place;

        print_message("%s\n", c->name);
        snprintf(inbound, sizeof(inbound), "/inbound/%s", c->key);
        snprintf(archive, sizeof(archive), "/archival-bucket/%s", c->key);
        if (c->data) {
                objects[n++] = inbound;
                objects[n++] = c->data;
        }
        if (c->archived) {
                objects[n++] = archive;
                objects[n++] = c->archived;
        }
        assert_int_equal(fakeaws_start(f, objects, c->fails), 0);
        j = fakeaws_job(f, c->key, NULL);
        assert_non_null(j);
        job_run(j, &f->env);
        print_message("  -> %s: %s\n", job_status_to_string(j->status), j->reason);
        assert_string_equal(job_status_to_string(j->status), job_status_to_string(c->expect));
        assert_null(strstr(j->reason, ": : "));        /* each context said once */

        assert_int_equal(fakeaws_steps(f), 0);
        last = last_change(f);
        if (c->last)
                assert_string_equal(last ? last : "(none)", c->last);
        else
                assert_null(last);
        /* Not final: nothing was taken out of inbound, and the message stays (loop.c). */
        in_place = s3_head_object(f->env.client, "inbound", c->key, NULL, &info, &err) == 0;
        if (c->data && !job_status_is_final(j->status))
                assert_true(in_place);
        if (j->status == JOB_SUCCESS || j->status == JOB_FAILURE)
                assert_false(in_place);
        fakeaws_stop(f);
}

static void test_verdicts(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                run_case(*state, &cases[i]);
}

/* The split reader's ranges divide one job's write window (job_writer_new): a fixed window as
 * evenly as it goes, at least 1 each; the adaptive one starts at most at its share. */
static void test_writer_window_shares(void **state) {
        FakeAws *f = *state;
        static const struct { unsigned window, shares, expect; } shares[] = {
                { 8, 1, 8 }, { 8, 4, 2 }, { 2, 4, 1 }, { 32, 16, 2 },
                { 0, 1, WRITER_WINDOW_START }, { 0, 4, WRITER_WINDOW_START }, { 0, 16, 2 }, { 0, 32, 1 },
        };

        assert_int_equal(fakeaws_start(f, (const char *const[]) { NULL }, (const char *const[]) { NULL }), 0);
        for (size_t i = 0; i < ELEMENTSOF(shares); i++) {
                _cleanup_(job_freep) Job *j = fakeaws_job(f, "a.csv", "");
                JobWriteTarget target = { .clients = f->env.clients, .table = "t" };
                _cleanup_(writer_freep) Writer *w = NULL;

                assert_non_null(j);
                ((PipelineSpec *) j->spec)->write_concurrency = shares[i].window;
                w = job_writer_new(j, &f->env, &target, shares[i].shares);
                assert_non_null(w);
                print_message("window %u / %u shares -> %u\n", shares[i].window, shares[i].shares,
                              writer_stats(w).window);
                assert_int_equal(writer_stats(w).window, shares[i].expect);
        }
        fakeaws_stop(f);
}

/* A failed read's verdict, for the single stream and every split range alike: rejects first,
 * then the write, then the file, then the S3 read; each context said once. */
static void test_read_failure(void **state) {
        FakeAws *f = *state;
        S3bError write_err = {}, ingest_err = {}, read_err = {}, got;

        assert_int_equal(fakeaws_start(f, (const char *const[]) { NULL }, (const char *const[]) { NULL }), 0);
        s3b_error_set(&write_err, -EIO, "DynamoDB: InternalServerError");
        s3b_error_set(&ingest_err, -EBADMSG, "line 3: bad header");
        s3b_error_set(&read_err, -ECONNRESET, "GetObject: connection reset");
        {
                _cleanup_(job_freep) Job *j = fakeaws_job(f, "a.csv", "");

                assert_true(job_read_failure(j, true, &write_err, &ingest_err, &read_err, &got));
                assert_non_null(strstr(j->reason, "max_rejected_rows"));
                got = (S3bError) {};
                assert_false(job_read_failure(j, false, &write_err, &ingest_err, &read_err, &got));
                assert_int_equal(got.code, -EIO);
                assert_string_equal(got.message, "writing to DynamoDB table students_table: "
                                                 "DynamoDB: InternalServerError");
                assert_true(job_read_failure(j, false, NULL, &ingest_err, &read_err, &got));
                assert_string_equal(j->reason, "line 3: bad header");
                assert_false(job_read_failure(j, false, NULL, NULL, &read_err, &got));
                assert_int_equal(got.code, -ECONNRESET);
        }
        fakeaws_stop(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_verdicts, fakeaws_setup, fakeaws_teardown),
                cmocka_unit_test_setup_teardown(test_writer_window_shares, fakeaws_setup, fakeaws_teardown),
                cmocka_unit_test_setup_teardown(test_read_failure, fakeaws_setup, fakeaws_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
