/* AWS client counters → metrics. See awsmetrics.h.
 *
 * Failed attempts are known by code; every other attempt succeeded. Which failed attempts
 * were retried is not recorded per code, so the service's retry count is spread over its
 * failed attempts in table order — the per-service totals are exact, the per-code split of
 * "retried" is the best the counters allow. */
#include <string.h>

#include "daemon/awsmetrics.h"

static uint64_t code_count(const AwsClientStats *s, AwsService svc, const char *code) {
        for (size_t i = 0; i < s->n_codes; i++)
                if (s->codes[i].service == svc && strcmp(s->codes[i].code, code) == 0)
                        return s->codes[i].count;
        return 0;
}

/* What happened since the previous sample `was`: one request metric per attempt, labelled
 * with its error code for the failed ones. */
static void report_deltas(Metrics *m, const AwsClientStats *now, const AwsClientStats *was) {
        for (int svc = 0; svc < _AWS_SERVICE_MAX; svc++) {
                const char *name = aws_service_name((AwsService) svc);
                uint64_t requests = now->service[svc].requests - was->service[svc].requests;
                uint64_t retries = now->service[svc].retries - was->service[svc].retries;
                uint64_t failed = 0;

                for (size_t i = 0; i < now->n_codes; i++) {
                        const AwsErrorCount *e = &now->codes[i];
                        uint64_t n;

                        if (e->service != (AwsService) svc)
                                continue;
                        n = e->count - code_count(was, e->service, e->code);
                        failed += n;
                        for (uint64_t k = 0; k < n; k++) {
                                bool retried = retries > 0;

                                if (retried)
                                        retries--;
                                metrics_aws_request(m, name, e->code, retried);
                        }
                }
                for (uint64_t k = failed; k < requests; k++)
                        metrics_aws_request(m, name, NULL, false);
        }
}

void aws_metrics_report_stats(Metrics *m, const AwsClientStats *now, AwsMetricsSample *sample) {
        const AwsClientStats *was = &sample->last;

        if (m)
                report_deltas(m, now, was);
        sample->last = *now;
}

void aws_metrics_report(Metrics *m, AwsClient *client, AwsMetricsSample *sample) {
        AwsClientStats now;

        aws_client_get_stats(client, &now);
        aws_metrics_report_stats(m, &now, sample);
}
