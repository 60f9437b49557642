/* AWS client counters → metrics deltas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/awsmetrics.h"

static char *render(Metrics *m, Buf *b) {
        buf_reset(b);
        assert_int_equal(metrics_render(m, b), 0);
        return b->data;
}

static void test_deltas(void **state) {
        _cleanup_(metrics_freep) Metrics *m = NULL;
        AwsMetricsSample sample = {};
        AwsClientStats st = {};
        Buf b = BUF_INIT(1 << 20);
        char *text;

        assert_int_equal(metrics_new(&m), 0);
        st.service[AWS_SERVICE_DYNAMODB].requests = 10;
        st.service[AWS_SERVICE_DYNAMODB].retries = 2;
        st.codes[0] = (AwsErrorCount) { .service = AWS_SERVICE_DYNAMODB, .code = "ThrottlingException", .count = 3 };
        st.n_codes = 1;
        st.service[AWS_SERVICE_S3].requests = 4;
        aws_metrics_report_stats(m, &st, &sample);

        text = render(m, &b);
        assert_non_null(strstr(text, "s3batchd_aws_requests_total{service=\"dynamodb\",code=\"OK\"} 7\n"));
        assert_non_null(strstr(text, "s3batchd_aws_requests_total{service=\"dynamodb\",code=\"ThrottlingException\"} 3\n"));
        assert_non_null(strstr(text, "s3batchd_aws_retries_total{service=\"dynamodb\",code=\"ThrottlingException\"} 2\n"));
        assert_non_null(strstr(text, "s3batchd_aws_requests_total{service=\"s3\",code=\"OK\"} 4\n"));

        /* only the difference counts the second time */
        st.service[AWS_SERVICE_S3].requests = 6;
        aws_metrics_report_stats(m, &st, &sample);
        text = render(m, &b);
        assert_non_null(strstr(text, "s3batchd_aws_requests_total{service=\"s3\",code=\"OK\"} 6\n"));
        assert_non_null(strstr(text, "s3batchd_aws_requests_total{service=\"dynamodb\",code=\"OK\"} 7\n"));

        /* no Metrics: the sample still advances */
        st.service[AWS_SERVICE_S3].requests = 9;
        aws_metrics_report_stats(NULL, &st, &sample);
        assert_int_equal(sample.last.service[AWS_SERVICE_S3].requests, 9);
        buf_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_deltas),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
