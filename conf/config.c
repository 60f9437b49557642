/* Config: YAML file → checked, immutable Config.
 *
 * Loading is two passes over a YNode tree (conf/ytree.c): this file maps the top level, the
 * AWS, queue, archive/errors and notify sections; conf/pipeline.c maps pipelines. Then
 * cross-checks that need the whole picture run (loops between archive/errors and a
 * pipeline's input, pipelines shadowed by earlier ones). Every problem is collected; a
 * Config is returned only when there were none. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/config.h"
#include "conf/load.h"

static void location_done(ConfigLocation *l) {
        free(l->bucket);
        free(l->prefix);
}

static Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->aws.region);
        free(c->aws.profile);
        free(c->aws.endpoint_sqs);
        free(c->aws.endpoint_s3);
        free(c->aws.endpoint_dynamodb);
        free(c->aws.endpoint_sns);
        free(c->aws.ca_bundle);
        free(c->queue.url);
        free(c->metrics_file);
        location_done(&c->archive);
        location_done(&c->errors);
        free(c->notify.topic_arn);
        for (size_t i = 0; i < c->n_pipelines; i++)
                pipeline_spec_done(&c->pipelines[i]);
        free(c->pipelines);
        free(c);
        return NULL;
}
DEFINE_CLEANUP_FUNC(Config *, config_free);

Config *config_ref(Config *c) {
        if (c)
                __atomic_add_fetch(&c->n_ref, 1, __ATOMIC_RELAXED);
        return c;
}

Config *config_unref(Config *c) {
        /* acq_rel: the last owner must see every other thread's reads finished */
        if (c && __atomic_sub_fetch(&c->n_ref, 1, __ATOMIC_ACQ_REL) == 0)
                config_free(c);
        return NULL;
}

void config_diag_done(ConfigDiag *d) {
        for (size_t i = 0; i < d->n_lines; i++)
                free(d->lines[i]);
        free(d->lines);
        for (size_t i = 0; i < d->n_warnings; i++)
                free(d->warnings[i]);
        free(d->warnings);
        *d = (ConfigDiag) {};
}

const PipelineSpec *config_find_pipeline(const Config *c, const char *bucket, const char *key) {
        const PipelineSpec *gzip = NULL;

        /* An exact match anywhere wins over a gzip one ("x.csv.gz" for a ".csv" pipeline): a
         * configuration that routes ".csv.gz" to a pipeline of its own keeps doing so, wherever
         * that pipeline is listed; among matches of one kind, the first listed wins. */
        for (size_t i = 0; i < c->n_pipelines; i++)
                switch (pipeline_spec_match(&c->pipelines[i], bucket, key)) {
                case PIPELINE_MATCH_EXACT:
                        return &c->pipelines[i];
                case PIPELINE_MATCH_GZIP:
                        if (!gzip)
                                gzip = &c->pipelines[i];
                        break;
                default:
                        break;
                }
        return gzip;
}

const PipelineSpec *config_find_pipeline_by_name(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_pipelines; i++)
                if (strcmp(c->pipelines[i].name, name) == 0)
                        return &c->pipelines[i];
        return NULL;
}

static Config *config_new(const char *name) {
        Config *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        *c = (Config) {
                .n_ref = 1,
                .path = strdup(name),
                .aws = { .max_attempts = 3, .max_attempts_batch = 10,
                         .connect_timeout_ms = 3000, .request_timeout_ms = 30000 },
                .queue = { .wait_seconds = 20, .max_messages = 10, .visibility_timeout = 300,
                           .max_receive_count = 5, .retry_delay_min = 30, .retry_delay_max = 900 },
                .workers = 4,
                .shutdown_grace = 60,
                .log_level = LOG_LEVEL_INFO,
                .notify = { .on = NOTIFY_ON_SUCCESS | NOTIFY_ON_PARTIAL | NOTIFY_ON_FAILURE |
                            NOTIFY_ON_SUPERSEDED },
        };
        return c->path ? c : config_free(c);
}

/* ---- sections ---- */

static void load_endpoints(Loader *ld, const YNode *v, ConfigAws *a) {
        static const char *const keys[] = { "sqs", "s3", "dynamodb", "sns", NULL };
        const char *path = "aws.endpoints";

        if (!load_expect(ld, v, path, YNODE_MAPPING))
                return;
        load_check_keys(ld, v, path, keys);
        load_get_string(ld, v, path, "sqs", false, 2048, check_endpoint_url, &a->endpoint_sqs);
        load_get_string(ld, v, path, "s3", false, 2048, check_endpoint_url, &a->endpoint_s3);
        load_get_string(ld, v, path, "dynamodb", false, 2048, check_endpoint_url, &a->endpoint_dynamodb);
        load_get_string(ld, v, path, "sns", false, 2048, check_endpoint_url, &a->endpoint_sns);
}

/* The bundle is read by libcurl at the first HTTPS request, hours after a reload perhaps:
 * a wrong path or a file that holds no certificate is reported here instead, at its line.
 * (Only as the user running the check; the service's user must be able to read it too.) */
static const char *check_ca_bundle(const char *s, char why[static CHECK_WHY_MAX]) {
        _cleanup_close_ int fd = -1;
        char head[64 * 1024 + 1];
        struct stat st;
        ssize_t n;

        if (s[0] != '/')
                return strcpy(why, "must be an absolute path");
        fd = open(s, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0) {
                snprintf(why, CHECK_WHY_MAX, "cannot read: %s", strerror(errno));
                return why;
        }
        if (!S_ISREG(st.st_mode))
                return strcpy(why, "is not a regular file");
        do
                n = read(fd, head, sizeof(head) - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                snprintf(why, CHECK_WHY_MAX, "cannot read: %s", strerror(errno));
                return why;
        }
        head[n] = '\0';
        /* PEM (RFC 7468): what libcurl's OpenSSL backend reads from CURLOPT_CAINFO. A bundle
         * may open with comments, so its first 64 KiB are searched. */
        if (!strstr(head, "-----BEGIN CERTIFICATE-----") && !strstr(head, "-----BEGIN TRUSTED CERTIFICATE-----"))
                return strcpy(why, "holds no PEM certificate (-----BEGIN CERTIFICATE-----) in its first 64 KiB");
        return NULL;
}

static void load_aws(Loader *ld, const YNode *root, ConfigAws *a) {
        static const char *const keys[] = {
                "region", "profile", "endpoints", "s3_force_path_style", "ca_bundle", "max_attempts",
                "max_attempts_batch", "connect_timeout_ms", "request_timeout_ms", NULL,
        };
        const YNode *v = load_field(ld, root, "", "aws", false), *e;

        if (!v || !load_expect(ld, v, "aws", YNODE_MAPPING))
                return;
        load_check_keys(ld, v, "aws", keys);
        load_get_string(ld, v, "aws", "region", false, 32, check_region, &a->region);
        load_get_string(ld, v, "aws", "profile", false, 128, NULL, &a->profile);
        e = load_field(ld, v, "aws", "endpoints", false);
        if (e)
                load_endpoints(ld, e, a);
        load_get_bool(ld, v, "aws", "s3_force_path_style", &a->s3_force_path_style);
        load_get_string(ld, v, "aws", "ca_bundle", false, 4095, check_ca_bundle, &a->ca_bundle);
        load_get_unsigned(ld, v, "aws", "max_attempts", 1, 20, &a->max_attempts);
        load_get_unsigned(ld, v, "aws", "max_attempts_batch", 1, 100, &a->max_attempts_batch);
        load_get_unsigned(ld, v, "aws", "connect_timeout_ms", 100, 600000, &a->connect_timeout_ms);
        load_get_unsigned(ld, v, "aws", "request_timeout_ms", 1000, 3600000, &a->request_timeout_ms);
}

static void load_queue(Loader *ld, const YNode *root, ConfigQueue *q) {
        static const char *const keys[] = {
                "url", "wait_seconds", "max_messages", "visibility_timeout", "max_receive_count",
                "retry_delay_min", "retry_delay_max", NULL,
        };
        const YNode *v = load_field(ld, root, "", "queue", true);

        if (!v || !load_expect(ld, v, "queue", YNODE_MAPPING))
                return;
        load_check_keys(ld, v, "queue", keys);
        load_get_string(ld, v, "queue", "url", true, 2048, check_queue_url, &q->url);
        /* ReceiveMessage limits (SQS API Reference): WaitTimeSeconds ≤ 20, MaxNumberOfMessages
         * ≤ 10, VisibilityTimeout ≤ 12 hours; 0 would hand a file to a second worker at once */
        load_get_unsigned(ld, v, "queue", "wait_seconds", 1, 20, &q->wait_seconds);
        load_get_unsigned(ld, v, "queue", "max_messages", 1, 10, &q->max_messages);
        load_get_unsigned(ld, v, "queue", "visibility_timeout", 1, 43200, &q->visibility_timeout);
        /* the same bound SQS puts on a redrive policy's maxReceiveCount */
        load_get_unsigned(ld, v, "queue", "max_receive_count", 1, 1000, &q->max_receive_count);
        /* a release is a ChangeMessageVisibility: at most 12 hours (SQS API Reference) */
        load_get_unsigned(ld, v, "queue", "retry_delay_min", 1, 43200, &q->retry_delay_min);
        load_get_unsigned(ld, v, "queue", "retry_delay_max", 1, 43200, &q->retry_delay_max);
        if (q->retry_delay_max < q->retry_delay_min)
                load_report(ld, ynode_get(v, "retry_delay_max") ? ynode_get(v, "retry_delay_max") :
                            ynode_get(v, "retry_delay_min"),
                            ynode_get(v, "retry_delay_max") ? "queue.retry_delay_max" : "queue.retry_delay_min",
                            "queue.retry_delay_max (%u) must not be below queue.retry_delay_min (%u)",
                            q->retry_delay_max, q->retry_delay_min);
}

static void load_location(Loader *ld, const YNode *root, const char *name, ConfigLocation *l) {
        static const char *const keys[] = { "bucket", "prefix", NULL };
        const YNode *v = load_field(ld, root, "", name, true);
        char p[LOAD_PATH_MAX];

        if (v && load_expect(ld, v, name, YNODE_MAPPING)) {
                load_check_keys(ld, v, name, keys);
                load_get_string(ld, v, name, "bucket", true, 63, check_bucket_name, &l->bucket);
                /* the original key is appended as is: "done" + "in/a.csv" = "donein/a.csv" */
                if (load_get_string(ld, v, name, "prefix", false, 1024, check_key_prefix, &l->prefix) &&
                    l->prefix && l->prefix[0] && l->prefix[strlen(l->prefix) - 1] != '/')
                        load_warn(ld, ynode_get(v, "prefix"), load_join(p, name, "prefix"),
                                  "does not end with '/': keys become '%.64sKEY'", l->prefix);
        }
        if (!l->prefix)
                l->prefix = load_strdup(ld, "");
}

static void load_notify_on(Loader *ld, const YNode *v, unsigned *ret) {
        static const char *const names[] = { "success", "partial", "failure", "superseded", NULL };
        char p[LOAD_PATH_MAX];
        unsigned mask = 0;

        if (!load_expect(ld, v, "notify.on", YNODE_SEQUENCE))
                return;
        if (v->n_items == 0) {
                load_report(ld, v, "notify.on", "an empty list publishes nothing; remove the notify section instead");
                return;
        }
        for (size_t i = 0; i < v->n_items; i++) {
                int k;

                load_index(p, "notify.on", i);
                if (!load_choice(ld, v->items[i], p, names, &k))
                        continue;
                if (mask & (1u << k))
                        load_report(ld, v->items[i], p, "'%s' is listed twice", names[k]);
                mask |= 1u << k;
        }
        *ret = mask;
}

static void load_notify(Loader *ld, const YNode *root, ConfigNotify *n) {
        static const char *const keys[] = { "topic_arn", "on", NULL };
        const YNode *v = load_field(ld, root, "", "notify", false), *on;

        if (!v || !load_expect(ld, v, "notify", YNODE_MAPPING))
                return;
        load_check_keys(ld, v, "notify", keys);
        /* a notify section without a topic is a forgotten ARN, not "notifications off" */
        load_get_string(ld, v, "notify", "topic_arn", true, 1024, check_sns_topic_arn, &n->topic_arn);
        on = ynode_get(v, "on");
        if (on && ynode_is_null(on))
                load_report(ld, on, "notify.on", "expected a list of events, got nothing (null)");
        else if (on)
                load_notify_on(ld, on, &n->on);
}

static const char *check_abs_path(const char *s, char why[static CHECK_WHY_MAX]) {
        if (s[0] != '/')
                return strcpy(why, "must be an absolute path");
        if (s[strlen(s) - 1] == '/')
                return strcpy(why, "must name a file, not a directory");
        return NULL;
}

static void load_globals(Loader *ld, const YNode *root, Config *c) {
        static const char *const levels[] = { "error", "warning", "notice", "info", "debug", NULL };
        static const LogLevel level_values[] = { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING,
                LOG_LEVEL_NOTICE, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
        int k;

        load_get_unsigned(ld, root, "", "workers", 1, 256, &c->workers);
        load_get_unsigned(ld, root, "", "shutdown_grace", 0, 3600, &c->shutdown_grace);
        if (load_get_choice(ld, root, "", "log_level", levels, &k))
                c->log_level = level_values[k];
        load_get_string(ld, root, "", "metrics_file", false, 4095, check_abs_path, &c->metrics_file);
}

/* ---- cross-checks ---- */

static void check_places(Loader *ld, const YNode *root, const Config *c) {
        const YNode *m = ynode_get(root, "metrics_file");

        if (c->archive.bucket && c->errors.bucket && c->archive.prefix && c->errors.prefix &&
            strcmp(c->archive.bucket, c->errors.bucket) == 0 &&
            strcmp(c->archive.prefix, c->errors.prefix) == 0)
                load_warn(ld, ynode_get(root, "errors"), "errors",
                          "the same place as archive: loaded and failed files end up side by side");
        /* node_exporter's textfile collector reads *.prom only */
        if (c->metrics_file && (strlen(c->metrics_file) < 5 ||
                                strcmp(c->metrics_file + strlen(c->metrics_file) - 5, ".prom") != 0))
                load_warn(ld, m, "metrics_file", "node_exporter's textfile collector only reads files ending in .prom");
}

static void check_timeouts(Loader *ld, const YNode *root, const Config *c) {
        const YNode *v = ynode_get(ynode_get(root, "aws"), "request_timeout_ms");

        /* a long poll is a request that sends nothing for up to wait_seconds */
        if (v && (uint64_t) c->aws.request_timeout_ms <= (uint64_t) c->queue.wait_seconds * 1000)
                load_report(ld, v, "aws.request_timeout_ms",
                            "must be longer than queue.wait_seconds (%u s), or every long poll "
                            "times out", c->queue.wait_seconds);
}

/* Requests are signed for aws.region; a queue or topic in another region would fail every
 * call with a signature or "wrong region" error, hours later, at the first file. */
static void check_regions(Loader *ld, const YNode *root, const Config *c) {
        char r[33];

        if (!c->aws.region)
                return;
        if (c->queue.url && !c->aws.endpoint_sqs && check_queue_url_region(c->queue.url, r) &&
            strcmp(r, c->aws.region) != 0)
                load_report(ld, ynode_get(ynode_get(root, "queue"), "url"), "queue.url",
                            "the queue is in region '%s' but aws.region is '%s'", r, c->aws.region);
        if (c->notify.topic_arn && !c->aws.endpoint_sns && check_arn_region(c->notify.topic_arn, r) &&
            strcmp(r, c->aws.region) != 0)
                load_report(ld, ynode_get(ynode_get(root, "notify"), "topic_arn"), "notify.topic_arn",
                            "the topic is in region '%s' but aws.region is '%s'", r, c->aws.region);
}

static void load_root(Loader *ld, const YNode *root, Config *c) {
        static const char *const keys[] = {
                "aws", "queue", "workers", "shutdown_grace", "log_level", "metrics_file",
                "archive", "errors", "notify", "pipelines", NULL,
        };

        if (!load_expect(ld, root, "the top level", YNODE_MAPPING))
                return;
        load_check_keys(ld, root, "", keys);
        load_aws(ld, root, &c->aws);
        load_queue(ld, root, &c->queue);
        load_globals(ld, root, c);
        load_location(ld, root, "archive", &c->archive);
        load_location(ld, root, "errors", &c->errors);
        load_notify(ld, root, &c->notify);
        load_pipelines(ld, root, c);
        check_timeouts(ld, root, c);
        check_regions(ld, root, c);
        check_places(ld, root, c);
}

/* ---- entry points ---- */

int config_load_from_string(const char *name, const char *data, size_t len, Config **ret,
                            ConfigDiag *diag) {
        _cleanup_(ynode_freep) YNode *root = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        Loader ld = { .oom = false };
        int r;

        diag_list_init(&ld.diag, name);
        r = ytree_parse(data, len, &ld.diag, &root);
        if (r >= 0) {
                c = config_new(name);
                if (!c)
                        r = -ENOMEM;
                else
                        load_root(&ld, root, c);
        }
        if (r >= 0 && (ld.oom || ld.diag.oom))
                r = -ENOMEM;
        else if (r >= 0 && diag_count(&ld.diag) > 0)
                r = -EINVAL;
        if (diag_list_move(&ld.diag, diag) < 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

static int read_file(int fd, char **ret_data, size_t *ret_len) {
        size_t cap = YTREE_MAX_BYTES + 1, len = 0;
        _cleanup_free_ char *data = malloc(cap);

        if (!data)
                return -ENOMEM;
        /* one byte more than allowed tells "too large" apart from "exactly the limit" */
        while (len < cap) {
                ssize_t n = read(fd, data + len, cap - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        if (len > YTREE_MAX_BYTES)
                return -EFBIG;
        *ret_data = TAKE_PTR(data);
        *ret_len = len;
        return 0;
}

static int io_error(const char *path, int r, ConfigDiag *diag) {
        DiagList l;

        diag_list_init(&l, path);
        if (r == -EFBIG)
                diag_add(&l, 0, 0, "file too large (more than %d bytes): not a configuration file",
                         YTREE_MAX_BYTES);
        else
                diag_add(&l, 0, 0, "cannot read: %s", strerror(-r));
        return diag_list_move(&l, diag) < 0 ? -ENOMEM : r;
}

int config_load(const char *path, Config **ret, ConfigDiag *diag) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *data = NULL;
        struct stat st;
        size_t len = 0;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return io_error(path, -errno, diag);
        if (fstat(fd, &st) < 0)
                return io_error(path, -errno, diag);
        if (S_ISDIR(st.st_mode))
                return io_error(path, -EISDIR, diag);
        r = read_file(fd, &data, &len);
        if (r < 0)
                return io_error(path, r, diag);
        return config_load_from_string(path, data, len, ret, diag);
}
