/* The job's verdicts (docs/DESIGN.md, "Retry or final"): which failure of a read, a write or
 * the settle leads to which JobStatus, run through job_run() against the fake S3/SNS/DynamoDB
 * of fakeaws.h. A status that is not final (RETRY, CONFIG_ERROR) is what keeps the SQS
 * message: the loop deletes a message only when every job of it is final. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/s3.h"
#include "daemon/job.h"
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_verdicts, fakeaws_setup, fakeaws_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
