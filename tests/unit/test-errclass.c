/* The "Retry or final" table of docs/DESIGN.md, walked row by row: each AWS failure a job can
 * meet, as the shared request path reports it (errno + HTTP status + AWS code), and the class
 * that decides what happens to the file and its message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/awserror.h"
#include "daemon/errclass.h"
#include "daemon/job.h"

typedef struct Row {
        long status;            /* 0: no response */
        const char *code;       /* AWS error code, "" for none */
        int errnum;             /* for status 0: the transport errno */
        ErrClass want;
} Row;

/* Every row of DESIGN.md's table, in its order. */
static const Row rows[] = {
        /* transient: the file stays, the message comes back later */
        { 400, "ThrottlingException", 0, ERRCLASS_TRANSIENT },
        { 400, "ProvisionedThroughputExceededException", 0, ERRCLASS_TRANSIENT },
        { 400, "RequestLimitExceeded", 0, ERRCLASS_TRANSIENT },
        { 503, "SlowDown", 0, ERRCLASS_TRANSIENT },
        { 500, "InternalError", 0, ERRCLASS_TRANSIENT },
        { 503, "", 0, ERRCLASS_TRANSIENT },
        { 0, "", -ECONNREFUSED, ERRCLASS_TRANSIENT },
        { 0, "", -ECONNRESET, ERRCLASS_TRANSIENT },
        { 0, "", -ETIMEDOUT, ERRCLASS_TRANSIENT },
        { 0, "", -EIO, ERRCLASS_TRANSIENT },                  /* UnprocessedItems exhausted */
        { 400, "RequestTimeout", 0, ERRCLASS_TRANSIENT },
        { 400, "ExpiredToken", 0, ERRCLASS_TRANSIENT },
        { 409, "ConditionalRequestConflict", 0, ERRCLASS_TRANSIENT },
        { 400, "ResourceInUseException", 0, ERRCLASS_TRANSIENT },
        /* configuration: a resource is missing or not ours */
        { 404, "NoSuchBucket", 0, ERRCLASS_CONFIG },
        { 403, "AccessDenied", 0, ERRCLASS_CONFIG },
        { 403, "", 0, ERRCLASS_CONFIG },
        { 400, "ResourceNotFoundException", 0, ERRCLASS_CONFIG },
        { 400, "AccessDeniedException", 0, ERRCLASS_CONFIG },
        { 404, "NotFound", 0, ERRCLASS_CONFIG },                /* SNS topic */
        { 403, "AuthorizationError", 0, ERRCLASS_CONFIG },
        { 400, "KMS.DisabledException", 0, ERRCLASS_CONFIG },
        { 403, "InvalidObjectState", 0, ERRCLASS_CONFIG },
        { 400, "SomethingNewFromAws", 0, ERRCLASS_CONFIG },     /* unknown 4xx: keep the file */
        /* superseded / gone */
        { 412, "PreconditionFailed", 0, ERRCLASS_SUPERSEDED },
        { 412, "", 0, ERRCLASS_SUPERSEDED },                    /* a HEAD's 412 has no body */
        { 404, "NoSuchKey", 0, ERRCLASS_GONE },
        { 404, "", 0, ERRCLASS_GONE },                          /* a HEAD's 404 */
        /* final: the file fails */
        { 400, "ValidationException", 0, ERRCLASS_FINAL },
        { 400, "ItemCollectionSizeLimitExceededException", 0, ERRCLASS_FINAL },
};

static void test_table(void **state) {
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                const Row *r = &rows[i];
                S3bError e = {};
                ErrClass got;

                e.http_status = r->status;
                snprintf(e.aws_code, sizeof(e.aws_code), "%s", r->code);
                /* the errno exactly as the shared path derives it from a response */
                e.code = r->status ? aws_error_errno(r->status, r->code) : r->errnum;
                got = errclass_of(&e);
                if (got != r->want)
                        fail_msg("row %zu (%ld %s %d): %s, want %s", i, r->status, r->code, e.code,
                                 errclass_to_string(got), errclass_to_string(r->want));
        }
}

static void test_sequencer_order(void **state) {
        assert_true(job_sequencer_cmp("0055AED6DCD90281E5", "0055AED6DCD90281E6") < 0);
        assert_true(job_sequencer_cmp("0055AED6DCD90281E6", "0055AED6DCD90281E5") > 0);
        /* lower and upper case hex are the same digits */
        assert_int_equal(job_sequencer_cmp("00ab", "00AB"), 0);
        /* different lengths: the shorter is right-padded with zeros */
        assert_int_equal(job_sequencer_cmp("0055", "005500"), 0);
        assert_true(job_sequencer_cmp("0056", "00550F") > 0);
        assert_true(job_sequencer_cmp("0055", "005501") < 0);
        /* no order when one is unknown */
        assert_int_equal(job_sequencer_cmp("", "0055"), 0);
}

static void test_event_id(void **state) {
        Config *c = NULL;
        Job *a, *b;

        /* job_new takes a reference: a NULL config is allowed for this pure check */
        a = job_new(c, NULL, "inbound", "k.csv", "e1");
        b = job_new(c, NULL, "inbound", "k.csv", "e1");
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(strlen(a->event_id), 32);
        assert_string_equal(a->event_id, b->event_id);          /* stable across deliveries */
        assert_int_equal(job_set_event(b, "", "0055"), 0);
        assert_string_not_equal(a->event_id, b->event_id);      /* a re-upload is another event */
        assert_int_equal(job_set_event(a, "", "0055"), 0);
        assert_string_equal(a->event_id, b->event_id);
        job_free(a);
        job_free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_sequencer_order),
                cmocka_unit_test(test_event_id),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
