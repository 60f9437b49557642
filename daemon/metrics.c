/* Metrics: one mutex-protected table of counters, rendered as Prometheus text.
 *
 * Labelled families are small arrays searched linearly: their size is bounded by
 * configuration (pipelines) or by METRICS_MAX_SERIES, and updates happen per job or per AWS
 * request, so a hash table would buy nothing. Everything shared sits in `synced` and is only
 * touched by the *_locked helpers with the mutex held (aws-c-s3's convention). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/metrics.h"
#include "version.h"

#define LABEL_MAX 64u
#define RENDER_MAX (4u * 1024u * 1024u)

/* Seconds; from sub-second empty files to a half-hour multi-million-row load. */
static const double duration_buckets[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800 };
#define N_BUCKETS ELEMENTSOF(duration_buckets)

static const char *const outcome_names[_METRICS_OUTCOME_MAX] = {
        [METRICS_OUTCOME_SUCCESS] = "success",
        [METRICS_OUTCOME_PARTIAL] = "partial",
        [METRICS_OUTCOME_FAILURE] = "failure",
        [METRICS_OUTCOME_SKIPPED] = "skipped",
};

static const char *const message_names[_METRICS_MESSAGE_MAX] = {
        [METRICS_MESSAGE_RECEIVED] = "received",
        [METRICS_MESSAGE_DELETED] = "deleted",
        [METRICS_MESSAGE_RELEASED] = "released",
        [METRICS_MESSAGE_POISON] = "poison",
        [METRICS_MESSAGE_TEST] = "test",
        [METRICS_MESSAGE_EXTEND_FAILED] = "extend_failed",
};

static const char *const degraded_names[_METRICS_DEGRADED_MAX] = {
        [METRICS_DEGRADED_SQS] = "sqs",
        [METRICS_DEGRADED_JOBS] = "jobs",
        [METRICS_DEGRADED_STARTUP] = "startup",
};

typedef struct PipelineCounters {
        char name[LABEL_MAX + 1];
        uint64_t files[_METRICS_OUTCOME_MAX];
        uint64_t rows_written, rows_rejected, rows_superseded;
        uint64_t bytes_read;
        uint64_t config_errors;
} PipelineCounters;

typedef struct TableCounters {
        char name[LABEL_MAX + 1];
        double consumed;
        uint64_t throttles;
        double rate, budget;
} TableCounters;

typedef struct AwsCounters {
        char service[LABEL_MAX + 1];
        char code[LABEL_MAX + 1];
        uint64_t requests, retries;
} AwsCounters;

struct Metrics {
        pthread_mutex_t lock;
        struct {
                PipelineCounters pipelines[METRICS_MAX_SERIES];
                size_t n_pipelines;
                TableCounters tables[METRICS_MAX_SERIES];
                size_t n_tables;
                AwsCounters aws[METRICS_MAX_SERIES];
                size_t n_aws;
                uint64_t messages[_METRICS_MESSAGE_MAX];
                int64_t jobs_in_flight;
                bool degraded[_METRICS_DEGRADED_MAX];
                uint64_t duration_buckets[N_BUCKETS];   /* non-cumulative; summed at render */
                uint64_t duration_count;
                double duration_sum;
        } synced;
        time_t start_time;
};

int metrics_new(Metrics **ret) {
        Metrics *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        pthread_mutex_init(&m->lock, NULL);
        m->start_time = time(NULL);
        *ret = m;
        return 0;
}

Metrics *metrics_free(Metrics *m) {
        if (!m)
                return NULL;
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
}

/* A label value that came from outside is kept only if it looks like an identifier;
 * anything else is reported as "other" so it can never carry data or explode cardinality. */
static bool label_is_tame(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > LABEL_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || strchr("._:-", s[i])))
                        return false;
        return true;
}

static PipelineCounters *pipeline_get_locked(Metrics *m, const char *name) {
        PipelineCounters *p;

        if (!name || !*name)
                name = "none";
        /* pipeline names come from our own config, but are still bounded here; a name too
         * long for the table shares the "other" row instead of being cut */
        if (strlen(name) > LABEL_MAX)
                name = "other";
        for (size_t i = 0; i < m->synced.n_pipelines; i++)
                if (strcmp(m->synced.pipelines[i].name, name) == 0)
                        return &m->synced.pipelines[i];
        /* the last slot is kept for "other", so the table can never overflow */
        if (m->synced.n_pipelines >= METRICS_MAX_SERIES - 1 && strcmp(name, "other") != 0)
                return pipeline_get_locked(m, "other");
        p = &m->synced.pipelines[m->synced.n_pipelines++];
        snprintf(p->name, sizeof(p->name), "%s", name);
        return p;
}

static AwsCounters *aws_get_locked(Metrics *m, const char *service, const char *code) {
        AwsCounters *a;

        if (!service || !label_is_tame(service))
                service = "other";
        if (!code || !*code)
                code = "OK";
        else if (!label_is_tame(code))
                code = "other";
        for (size_t i = 0; i < m->synced.n_aws; i++)
                if (strcmp(m->synced.aws[i].service, service) == 0 && strcmp(m->synced.aws[i].code, code) == 0)
                        return &m->synced.aws[i];
        if (m->synced.n_aws >= METRICS_MAX_SERIES - 1 &&
            !(strcmp(service, "other") == 0 && strcmp(code, "other") == 0))
                return aws_get_locked(m, "other", "other");
        a = &m->synced.aws[m->synced.n_aws++];
        snprintf(a->service, sizeof(a->service), "%s", service);
        snprintf(a->code, sizeof(a->code), "%s", code);
        return a;
}

void metrics_file_done(Metrics *m, const char *pipeline, MetricsOutcome outcome, double duration_seconds) {
        size_t b;

        if (!m || outcome < 0 || outcome >= _METRICS_OUTCOME_MAX)
                return;
        if (!(duration_seconds >= 0))   /* also NaN */
                duration_seconds = 0;
        for (b = 0; b < N_BUCKETS && duration_seconds > duration_buckets[b]; b++)
                ;
        pthread_mutex_lock(&m->lock);
        pipeline_get_locked(m, pipeline)->files[outcome]++;
        /* a skipped file was never worked on; its zero would only drag the quantiles down */
        if (outcome != METRICS_OUTCOME_SKIPPED) {
                if (b < N_BUCKETS)
                        m->synced.duration_buckets[b]++;
                m->synced.duration_count++;
                m->synced.duration_sum += duration_seconds;
        }
        pthread_mutex_unlock(&m->lock);
}

void metrics_rows(Metrics *m, const char *pipeline, uint64_t written, uint64_t rejected, uint64_t superseded) {
        PipelineCounters *p;

        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        p = pipeline_get_locked(m, pipeline);
        p->rows_written += written;
        p->rows_rejected += rejected;
        p->rows_superseded += superseded;
        pthread_mutex_unlock(&m->lock);
}

void metrics_bytes_read(Metrics *m, const char *pipeline, uint64_t n) {
        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        pipeline_get_locked(m, pipeline)->bytes_read += n;
        pthread_mutex_unlock(&m->lock);
}

void metrics_message(Metrics *m, MetricsMessage what, uint64_t n) {
        if (!m || what < 0 || what >= _METRICS_MESSAGE_MAX)
                return;
        pthread_mutex_lock(&m->lock);
        m->synced.messages[what] += n;
        pthread_mutex_unlock(&m->lock);
}

void metrics_aws_request(Metrics *m, const char *service, const char *code, bool retried) {
        AwsCounters *a;

        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        a = aws_get_locked(m, service, code);
        a->requests++;
        if (retried)
                a->retries++;
        pthread_mutex_unlock(&m->lock);
}

void metrics_config_error(Metrics *m, const char *pipeline) {
        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        pipeline_get_locked(m, pipeline)->config_errors++;
        pthread_mutex_unlock(&m->lock);
}

void metrics_set_degraded(Metrics *m, MetricsDegraded what, bool on) {
        if (!m || what < 0 || what >= _METRICS_DEGRADED_MAX)
                return;
        pthread_mutex_lock(&m->lock);
        m->synced.degraded[what] = on;
        pthread_mutex_unlock(&m->lock);
}

void metrics_jobs_in_flight_add(Metrics *m, int delta) {
        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        m->synced.jobs_in_flight += delta;
        pthread_mutex_unlock(&m->lock);
}

int metrics_escape_label(Buf *out, const char *v) {
        int r = 0;

        for (; *v && r >= 0; v++) {
                if (*v == '\\')
                        r = buf_append_str(out, "\\\\");
                else if (*v == '"')
                        r = buf_append_str(out, "\\\"");
                else if (*v == '\n')
                        r = buf_append_str(out, "\\n");
                else
                        r = buf_append_char(out, *v);
        }
        return r;
}

static int header(Buf *out, const char *name, const char *type, const char *help) {
        return buf_printf(out, "# HELP s3batchd_%s %s\n# TYPE s3batchd_%s %s\n", name, help, name, type);
}

/* name{l1="v1",l2="v2"} value — with one or two labels (l2 may be NULL). */
static int sample(Buf *out, const char *name, const char *l1, const char *v1, const char *l2,
                  const char *v2, uint64_t value) {
        int r = buf_printf(out, "s3batchd_%s{%s=\"", name, l1);

        if (r >= 0)
                r = metrics_escape_label(out, v1);
        if (r >= 0 && l2) {
                r = buf_printf(out, "\",%s=\"", l2);
                if (r >= 0)
                        r = metrics_escape_label(out, v2);
        }
        if (r >= 0)
                r = buf_printf(out, "\"} %" PRIu64 "\n", value);
        return r;
}

static int render_pipelines_locked(Metrics *m, Buf *out) {
        static const char *const row_results[] = { "written", "rejected", "superseded" };
        int r;

        r = header(out, "files_total", "counter", "Files that reached a final outcome, by pipeline and outcome.");
        for (size_t i = 0; r >= 0 && i < m->synced.n_pipelines; i++)
                for (size_t o = 0; r >= 0 && o < _METRICS_OUTCOME_MAX; o++)
                        r = sample(out, "files_total", "pipeline", m->synced.pipelines[i].name, "outcome",
                                   outcome_names[o], m->synced.pipelines[i].files[o]);
        if (r >= 0)
                r = header(out, "rows_total", "counter", "CSV rows by pipeline and what happened to them.");
        for (size_t i = 0; r >= 0 && i < m->synced.n_pipelines; i++) {
                const PipelineCounters *p = &m->synced.pipelines[i];
                const uint64_t v[] = { p->rows_written, p->rows_rejected, p->rows_superseded };

                for (size_t k = 0; r >= 0 && k < ELEMENTSOF(v); k++)
                        r = sample(out, "rows_total", "pipeline", p->name, "result", row_results[k], v[k]);
        }
        if (r >= 0)
                r = header(out, "bytes_read_total", "counter", "Object bytes read from S3, as stored (compressed).");
        for (size_t i = 0; r >= 0 && i < m->synced.n_pipelines; i++)
                r = sample(out, "bytes_read_total", "pipeline", m->synced.pipelines[i].name, NULL, NULL,
                           m->synced.pipelines[i].bytes_read);
        if (r >= 0)
                r = header(out, "config_errors_total", "counter",
                           "Jobs that found a resource missing or access denied (file and message kept).");
        for (size_t i = 0; r >= 0 && i < m->synced.n_pipelines; i++)
                r = sample(out, "config_errors_total", "pipeline", m->synced.pipelines[i].name, NULL, NULL,
                           m->synced.pipelines[i].config_errors);
        return r;
}

static int render_tables_locked(Metrics *m, Buf *out) {
        static const struct { const char *name, *type, *help; } f[] = {
                { "table_consumed_wcu_total", "counter", "Write capacity units consumed, by DynamoDB table." },
                { "table_throttles_total", "counter", "Throttled BatchWriteItem calls and mostly-unprocessed batches, by table." },
                { "table_write_rate_wcu", "gauge", "The table's write limiter rate in WCU/s (0: unlimited)." },
                { "table_write_budget_wcu", "gauge", "This process's write budget for the table in WCU/s (0: none)." },
        };
        int r = 0;

        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(f); k++) {
                r = header(out, f[k].name, f[k].type, f[k].help);
                for (size_t i = 0; r >= 0 && i < m->synced.n_tables; i++) {
                        const TableCounters *t = &m->synced.tables[i];
                        const double v[] = { t->consumed, (double) t->throttles, t->rate, t->budget };

                        r = buf_printf(out, "s3batchd_%s{table=\"", f[k].name);
                        if (r >= 0)
                                r = metrics_escape_label(out, t->name);
                        if (r >= 0)
                                r = buf_printf(out, "\"} %.1f\n", v[k]);
                }
        }
        return r;
}

static int render_aws_locked(Metrics *m, Buf *out) {
        int r;

        r = header(out, "aws_requests_total", "counter", "AWS request attempts by service and result code.");
        for (size_t i = 0; r >= 0 && i < m->synced.n_aws; i++)
                r = sample(out, "aws_requests_total", "service", m->synced.aws[i].service, "code",
                           m->synced.aws[i].code, m->synced.aws[i].requests);
        if (r >= 0)
                r = header(out, "aws_retries_total", "counter", "AWS request attempts that were retried, by service and error code.");
        for (size_t i = 0; r >= 0 && i < m->synced.n_aws; i++)
                if (strcmp(m->synced.aws[i].code, "OK") != 0)
                        r = sample(out, "aws_retries_total", "service", m->synced.aws[i].service, "code",
                                   m->synced.aws[i].code, m->synced.aws[i].retries);
        return r;
}

static int render_histogram_locked(Metrics *m, Buf *out) {
        uint64_t cumulative = 0;
        int r;

        r = header(out, "job_duration_seconds", "histogram", "Time from job start to final outcome.");
        for (size_t b = 0; r >= 0 && b < N_BUCKETS; b++) {
                cumulative += m->synced.duration_buckets[b];
                r = buf_printf(out, "s3batchd_job_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                               duration_buckets[b], cumulative);
        }
        if (r >= 0)
                r = buf_printf(out,
                               "s3batchd_job_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
                               "s3batchd_job_duration_seconds_sum %.6f\n"
                               "s3batchd_job_duration_seconds_count %" PRIu64 "\n",
                               m->synced.duration_count, m->synced.duration_sum, m->synced.duration_count);
        return r;
}

static int render_locked(Metrics *m, Buf *out) {
        int r;

        r = render_pipelines_locked(m, out);
        if (r >= 0)
                r = header(out, "sqs_messages_total", "counter", "SQS messages by what became of them.");
        for (size_t i = 0; r >= 0 && i < _METRICS_MESSAGE_MAX; i++)
                r = sample(out, "sqs_messages_total", "result", message_names[i], NULL, NULL, m->synced.messages[i]);
        if (r >= 0)
                r = render_aws_locked(m, out);
        if (r >= 0)
                r = render_tables_locked(m, out);
        if (r >= 0)
                r = header(out, "jobs_in_flight", "gauge", "Files being processed right now.");
        if (r >= 0)
                r = buf_printf(out, "s3batchd_jobs_in_flight %" PRId64 "\n", m->synced.jobs_in_flight);
        if (r >= 0)
                r = header(out, "degraded", "gauge", "1 while the source is in trouble (the daemon backs off and waits).");
        for (size_t i = 0; r >= 0 && i < _METRICS_DEGRADED_MAX; i++)
                r = sample(out, "degraded", "source", degraded_names[i], NULL, NULL, m->synced.degraded[i]);
        if (r >= 0)
                r = render_histogram_locked(m, out);
        if (r >= 0)
                r = header(out, "start_time_seconds", "gauge", "Start time of the process since the Unix epoch.");
        if (r >= 0)
                r = buf_printf(out, "s3batchd_start_time_seconds %lld\n", (long long) m->start_time);
        if (r >= 0)
                r = header(out, "build_info", "gauge", "Always 1; the version as a label.");
        if (r >= 0)
                r = sample(out, "build_info", "version", S3BATCHD_VERSION, NULL, NULL, 1);
        return r;
}

void metrics_table_writes(Metrics *m, const char *table, double consumed_wcu, uint64_t throttles,
                          double rate, double budget) {
        TableCounters *t = NULL;

        if (!m)
                return;
        /* table names come from our own config; bounded like pipeline names */
        if (!table || !label_is_tame(table))
                table = "other";
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->synced.n_tables && !t; i++)
                if (strcmp(m->synced.tables[i].name, table) == 0)
                        t = &m->synced.tables[i];
        if (!t && m->synced.n_tables < METRICS_MAX_SERIES) {
                t = &m->synced.tables[m->synced.n_tables++];
                snprintf(t->name, sizeof(t->name), "%s", m->synced.n_tables < METRICS_MAX_SERIES ? table : "other");
        }
        if (t) {
                t->consumed += consumed_wcu > 0 ? consumed_wcu : 0;
                t->throttles += throttles;
                t->rate = rate;
                t->budget = budget;
        }
        pthread_mutex_unlock(&m->lock);
}

int metrics_render(Metrics *m, Buf *out) {
        int r;

        pthread_mutex_lock(&m->lock);
        r = render_locked(m, out);
        pthread_mutex_unlock(&m->lock);
        return r;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* The temporary file did not become the metrics file: nothing of it is left behind. */
static int drop_tmp(const char *tmp, int r) {
        (void) unlink(tmp);
        return r;
}

int metrics_write_file(Metrics *m, const char *path, S3bError *err) {
        _cleanup_free_ char *tmp = NULL, *dircopy = NULL;
        _cleanup_close_ int fd = -1, dfd = -1;
        _cleanup_(buf_done) Buf text = BUF_INIT(RENDER_MAX);
        int r;

        if (!path || !*path)
                return s3b_error_set(err, -EINVAL, "no metrics file path");
        r = metrics_render(m, &text);
        if (r < 0)
                return s3b_error_set(err, r, "rendering metrics failed");
        /* The collector reads only *.prom; "<path>.XXXXXX" never matches, so it never sees
         * a file that is still being written. Same directory, so rename() is atomic. */
        if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
                tmp = NULL;
                return s3b_error_set(err, -ENOMEM, "out of memory");
        }
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return s3b_error_set(err, -errno, "creating a temporary file next to %s: %m", path);
        /* node_exporter runs as another user: the file must be world-readable, like any
         * textfile-collector output */
        if (fchmod(fd, 0644) < 0 || (r = write_all(fd, text.data, text.len)) < 0 || fsync(fd) < 0)
                return drop_tmp(tmp, s3b_error_set(err, r < 0 ? r : -errno, "writing %s: %m", tmp));
        if (rename(tmp, path) < 0)
                return drop_tmp(tmp, s3b_error_set(err, -errno, "renaming %s to %s: %m", tmp, path));
        /* make the rename itself durable; a failure here leaves a correct file, so it is
         * not reported */
        dircopy = strdup(path);
        if (dircopy && (dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
                (void) fsync(dfd);
        return 0;
}
