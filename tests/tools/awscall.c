/* awscall: runs one call of the s3batchd AWS client against given endpoints and prints the
 * outcome as one JSON object, so python integration tests can drive every service call and
 * error path of common/aws/ through the real code.
 *
 *   awscall [OPTIONS] COMMAND ARGS...
 *
 * Output: {"ok":true,"result":…,"stats":…,"clock_offset":S} and exit 0 (sqs-receive adds
 *         "skipped":N when entries without a receipt handle were skipped), or
 *         {"ok":false,"error":{"code":-N,"errno":"ENOENT","http_status":…,"aws_code":…,
 *          "request_id":…,"message":…},"stats":…} and exit 1; usage errors exit 2.
 * Credentials and region come from the environment (AWS_ACCESS_KEY_ID, AWS_REGION, …). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/aws/client.h"
#include "common/aws/dynamodb.h"
#include "common/aws/s3.h"
#include "common/aws/sns.h"
#include "common/aws/sqs.h"

typedef struct Call {
        AwsClient *client;
        int argc;
        char **argv;
        cJSON *result;
        int skipped;                    /* sqs-receive: entries without a receipt handle */
        S3bError err;
} Call;

static unsigned long arg_ulong(const char *s, const char *what) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end) {
                fprintf(stderr, "awscall: bad %s \"%s\"\n", what, s);
                exit(2);
        }
        return v;
}

static void need_args(const Call *c, int n, const char *usage) {
        if (c->argc < n) {
                fprintf(stderr, "usage: awscall %s\n", usage);
                exit(2);
        }
}

/* ---- SQS ---- */

static int cmd_sqs_receive(Call *c) {
        SqsMessage *m = NULL;
        size_t n = 0;
        int r;

        need_args(c, 4, "sqs-receive QUEUE_URL MAX WAIT VISIBILITY");
        r = sqs_receive_message(c->client, c->argv[0], (unsigned) arg_ulong(c->argv[1], "max"),
                                (unsigned) arg_ulong(c->argv[2], "wait"),
                                (unsigned) arg_ulong(c->argv[3], "visibility"), &m, &n, &c->err);
        if (r < 0)
                return r;
        c->skipped = r;
        c->result = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) {
                cJSON *o = cJSON_CreateObject();

                cJSON_AddStringToObject(o, "message_id", m[i].message_id);
                cJSON_AddStringToObject(o, "receipt_handle", m[i].receipt_handle);
                if (m[i].body)
                        cJSON_AddStringToObject(o, "body", m[i].body);
                else
                        cJSON_AddNullToObject(o, "body");
                cJSON_AddNumberToObject(o, "receive_count", m[i].receive_count);
                if (m[i].invalid)
                        cJSON_AddStringToObject(o, "invalid", m[i].invalid);
                if (m[i].message_group_id)
                        cJSON_AddStringToObject(o, "message_group_id", m[i].message_group_id);
                if (m[i].sequence_number)
                        cJSON_AddStringToObject(o, "sequence_number", m[i].sequence_number);
                cJSON_AddItemToArray(c->result, o);
        }
        sqs_messages_free(m, n);
        return 0;
}

static int cmd_sqs_delete(Call *c) {
        need_args(c, 2, "sqs-delete QUEUE_URL RECEIPT_HANDLE");
        return sqs_delete_message(c->client, c->argv[0], c->argv[1], &c->err);
}

static int cmd_sqs_visibility(Call *c) {
        need_args(c, 3, "sqs-visibility QUEUE_URL RECEIPT_HANDLE SECONDS");
        return sqs_change_message_visibility(c->client, c->argv[0], c->argv[1],
                                             (unsigned) arg_ulong(c->argv[2], "seconds"), &c->err);
}

static cJSON *batch_json(const SqsBatchResult *res, size_t n) {
        cJSON *a = cJSON_CreateArray();

        for (size_t i = 0; i < n; i++) {
                cJSON *o = cJSON_CreateObject();

                cJSON_AddNumberToObject(o, "code", res[i].code);
                cJSON_AddStringToObject(o, "aws_code", res[i].aws_code);
                cJSON_AddItemToArray(a, o);
        }
        return a;
}

static int cmd_sqs_delete_batch(Call *c) {
        SqsBatchResult res[SQS_BATCH_MAX + 5];
        size_t n;
        int r;

        need_args(c, 2, "sqs-delete-batch QUEUE_URL HANDLE...");
        n = (size_t) c->argc - 1;
        if (n > ELEMENTSOF(res))
                n = ELEMENTSOF(res);
        r = sqs_delete_message_batch(c->client, c->argv[0], (const char *const *) c->argv + 1, n,
                                     res, &c->err);
        if (r < 0)
                return r;
        c->result = cJSON_CreateObject();
        cJSON_AddNumberToObject(c->result, "failed", r);
        cJSON_AddItemToObject(c->result, "entries", batch_json(res, n));
        return 0;
}

static int cmd_sqs_visibility_batch(Call *c) {
        SqsBatchResult res[SQS_BATCH_MAX + 5];
        size_t n;
        int r;

        need_args(c, 3, "sqs-visibility-batch QUEUE_URL SECONDS HANDLE...");
        n = MIN((size_t) c->argc - 2, ELEMENTSOF(res));
        r = sqs_change_message_visibility_batch(c->client, c->argv[0],
                                                (const char *const *) c->argv + 2, n,
                                                (unsigned) arg_ulong(c->argv[1], "seconds"), res,
                                                &c->err);
        if (r < 0)
                return r;
        c->result = cJSON_CreateObject();
        cJSON_AddNumberToObject(c->result, "failed", r);
        cJSON_AddItemToObject(c->result, "entries", batch_json(res, n));
        return 0;
}

static int cmd_sqs_attributes(Call *c) {
        SqsQueueAttribute *a = NULL;
        size_t n = 0;
        int r;

        need_args(c, 1, "sqs-attributes QUEUE_URL [NAME...]");
        r = sqs_get_queue_attributes(c->client, c->argv[0], (const char *const *) c->argv + 1,
                                     (size_t) c->argc - 1, &a, &n, &c->err);
        if (r < 0)
                return r;
        c->result = cJSON_CreateObject();
        for (size_t i = 0; i < n; i++)
                cJSON_AddStringToObject(c->result, a[i].name, a[i].value);
        sqs_queue_attributes_free(a, n);
        return 0;
}

/* ---- S3 ---- */

static cJSON *info_json(const S3ObjectInfo *i) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddNumberToObject(o, "size", (double) i->size);
        cJSON_AddStringToObject(o, "etag", i->etag);
        cJSON_AddStringToObject(o, "content_type", i->content_type);
        cJSON_AddStringToObject(o, "content_encoding", i->content_encoding);
        cJSON_AddStringToObject(o, "version_id", i->version_id);
        cJSON *meta = cJSON_AddObjectToObject(o, "meta");
        for (const char *p = i->meta; p < i->meta + i->meta_len;) {
                const char *v = p + strlen(p) + 1;

                cJSON_AddStringToObject(meta, p, v);
                p = v + strlen(v) + 1;
        }
        return o;
}

/* An optional trailing ETag argument pins a call to that object version ("-": none). */
static const S3Version *arg_version(const Call *c, int i, S3Version *v) {
        if (c->argc <= i || strcmp(c->argv[i], "-") == 0)
                return NULL;
        *v = (S3Version) { .etag = c->argv[i] };
        return v;
}

typedef struct GetState {
        EVP_MD_CTX *md;
        uint64_t bytes, chunks, max_chunk;
        long abort_after;       /* return an error from the callback after this many bytes */
} GetState;

static int on_data(void *userdata, const void *data, size_t n) {
        GetState *g = userdata;

        if (g->abort_after >= 0 && g->bytes + n > (uint64_t) g->abort_after)
                return -ECANCELED;
        EVP_DigestUpdate(g->md, data, n);
        g->bytes += n;
        g->chunks++;
        g->max_chunk = MAX(g->max_chunk, n);
        return 0;
}

static long max_rss_kb(void) {
        struct rusage ru;

        return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static int cmd_s3_get(Call *c) {
        GetState g = { .md = EVP_MD_CTX_new(), .abort_after = -1 };
        unsigned char digest[32];
        char hex[65];
        S3ObjectInfo info;
        const char *range;
        int r;

        S3Version v;

        need_args(c, 2, "s3-get BUCKET KEY [RANGE|-] [ABORT_AFTER_BYTES|-] [ETAG]");
        range = c->argc >= 3 && strcmp(c->argv[2], "-") != 0 ? c->argv[2] : NULL;
        if (c->argc >= 4 && strcmp(c->argv[3], "-") != 0)
                g.abort_after = (long) arg_ulong(c->argv[3], "abort-after");
        EVP_DigestInit_ex(g.md, EVP_sha256(), NULL);
        r = s3_get_object(c->client, c->argv[0], c->argv[1], arg_version(c, 4, &v), range, on_data,
                          &g, &info, &c->err);
        EVP_DigestFinal_ex(g.md, digest, NULL);
        EVP_MD_CTX_free(g.md);
        if (r < 0)
                return r;
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", digest[i]);
        c->result = cJSON_CreateObject();
        cJSON_AddNumberToObject(c->result, "bytes", (double) g.bytes);
        cJSON_AddStringToObject(c->result, "sha256", hex);
        cJSON_AddNumberToObject(c->result, "chunks", (double) g.chunks);
        cJSON_AddNumberToObject(c->result, "max_chunk", (double) g.max_chunk);
        cJSON_AddNumberToObject(c->result, "max_rss_kb", (double) max_rss_kb());
        cJSON_AddItemToObject(c->result, "info", info_json(&info));
        return 0;
}

static int cmd_s3_head(Call *c) {
        S3ObjectInfo info;
        int r;

        S3Version v;

        need_args(c, 2, "s3-head BUCKET KEY [ETAG]");
        r = s3_head_object(c->client, c->argv[0], c->argv[1], arg_version(c, 2, &v), &info, &c->err);
        if (r < 0)
                return r;
        c->result = info_json(&info);
        return 0;
}

static int cmd_s3_put(Call *c) {
        char *data = NULL;
        size_t n = 0;
        FILE *f;
        int r;

        need_args(c, 3, "s3-put BUCKET KEY FILE [CONTENT_TYPE]");
        f = fopen(c->argv[2], "rb");
        if (!f)
                return s3b_error_set(&c->err, -errno, "cannot open %s", c->argv[2]);
        if (fseek(f, 0, SEEK_END) == 0) {
                long len = ftell(f);

                rewind(f);
                n = len > 0 ? (size_t) len : 0;
                data = malloc(n + 1);
                if (!data || fread(data, 1, n, f) != n)
                        n = 0;
        }
        fclose(f);
        r = s3_put_object(c->client, c->argv[0], c->argv[1], data, n,
                          c->argc >= 4 ? c->argv[3] : NULL, &c->err);
        free(data);
        return r;
}

/* META arguments are NAME=VALUE user metadata to add to the copy. */
static int cmd_s3_copy(Call *c) {
        HttpHeader meta[8];
        char buf[8][512];
        S3Version v;
        S3CopyOptions o = {};

        need_args(c, 4, "s3-copy SRC_BUCKET SRC_KEY DST_BUCKET DST_KEY [ETAG|- [NAME=VALUE...]]");
        o.source = arg_version(c, 4, &v);
        for (int i = 5; i < c->argc && o.n_meta < ELEMENTSOF(meta); i++) {
                char *eq;

                snprintf(buf[o.n_meta], sizeof(buf[0]), "%s", c->argv[i]);
                eq = strchr(buf[o.n_meta], '=');
                if (!eq)
                        return s3b_error_set(&c->err, -EINVAL, "metadata must be NAME=VALUE");
                *eq = '\0';
                meta[o.n_meta] = (HttpHeader) { buf[o.n_meta], eq + 1 };
                o.n_meta++;
        }
        o.meta = meta;
        return s3_copy_object(c->client, c->argv[0], c->argv[1], &o, c->argv[2], c->argv[3], &c->err);
}

static int cmd_s3_delete(Call *c) {
        S3Version v;

        need_args(c, 2, "s3-delete BUCKET KEY [ETAG]");
        return s3_delete_object(c->client, c->argv[0], c->argv[1], arg_version(c, 2, &v), &c->err);
}

static int cmd_s3_head_bucket(Call *c) {
        need_args(c, 1, "s3-head-bucket BUCKET");
        return s3_head_bucket(c->client, c->argv[0], &c->err);
}

/* All pages; MAX_KEYS sets the page size. */
static int cmd_s3_list(Call *c) {
        _cleanup_free_ char *token = NULL;
        cJSON *keys = cJSON_CreateArray();
        unsigned pages = 0;
        int r;

        need_args(c, 3, "s3-list BUCKET PREFIX MAX_KEYS");
        for (;;) {
                S3ObjectList l = {};

                r = s3_list_objects_v2(c->client, c->argv[0], c->argv[1], token,
                                       (unsigned) arg_ulong(c->argv[2], "max-keys"), &l, &c->err);
                if (r < 0) {
                        cJSON_Delete(keys);
                        return r;
                }
                pages++;
                for (size_t i = 0; i < l.n_objects; i++) {
                        cJSON *o = cJSON_CreateObject();

                        cJSON_AddStringToObject(o, "key", l.objects[i].key);
                        cJSON_AddNumberToObject(o, "size", (double) l.objects[i].size);
                        cJSON_AddStringToObject(o, "etag", l.objects[i].etag);
                        cJSON_AddItemToArray(keys, o);
                }
                free(token);
                token = TAKE_PTR(l.next_token);
                s3_object_list_done(&l);
                if (!token)
                        break;
        }
        c->result = cJSON_CreateObject();
        cJSON_AddNumberToObject(c->result, "pages", pages);
        cJSON_AddItemToObject(c->result, "objects", keys);
        return 0;
}

/* ---- DynamoDB ---- */

static int cmd_ddb_batch_write(Call *c) {
        char *items[DYNAMODB_BATCH_MAX + 2] = {}, *line = NULL;
        size_t n = 0, cap = 0, *idx = NULL, n_idx = 0;
        FILE *f;
        int r;

        need_args(c, 2, "ddb-batch-write TABLE ITEMS_FILE (one item JSON per line)");
        f = fopen(c->argv[1], "r");
        if (!f)
                return s3b_error_set(&c->err, -errno, "cannot open %s", c->argv[1]);
        while (n < ELEMENTSOF(items) && getline(&line, &cap, f) > 0) {
                line[strcspn(line, "\n")] = '\0';
                if (*line)
                        items[n++] = strdup(line);
        }
        free(line);
        fclose(f);
        r = dynamodb_batch_write(c->client, c->argv[0], items, n, &idx, &n_idx, &c->err);
        for (size_t i = 0; i < n; i++)
                free(items[i]);
        if (r < 0)
                return r;
        c->result = cJSON_CreateObject();
        cJSON *a = cJSON_AddArrayToObject(c->result, "unprocessed");
        for (size_t i = 0; i < n_idx; i++)
                cJSON_AddItemToArray(a, cJSON_CreateNumber((double) idx[i]));
        free(idx);
        return 0;
}

static int cmd_ddb_describe(Call *c) {
        _cleanup_free_ TableShape *ts = calloc(1, sizeof(*ts));
        char t[2] = "";
        int r;

        need_args(c, 1, "ddb-describe TABLE");
        if (!ts)
                return -ENOMEM;
        r = dynamodb_describe_table(c->client, c->argv[0], ts, &c->err);
        if (r < 0)
                return r;
        c->result = cJSON_CreateObject();
        cJSON_AddStringToObject(c->result, "partition_key", ts->hash.name);
        t[0] = ts->hash.type;
        cJSON_AddStringToObject(c->result, "partition_type", t);
        cJSON_AddStringToObject(c->result, "sort_key", ts->range.name);
        t[0] = ts->range.type;
        cJSON_AddStringToObject(c->result, "sort_type", t);
        cJSON_AddStringToObject(c->result, "table_status", ts->status);
        return 0;
}

/* ---- SNS ---- */

static int cmd_sns_publish(Call *c) {
        SnsAttribute attrs[SNS_ATTRIBUTES_MAX + 2] = {};
        char *id = NULL, *copies[SNS_ATTRIBUTES_MAX + 2];
        size_t n = 0;
        int r;

        need_args(c, 3, "sns-publish TOPIC_ARN SUBJECT MESSAGE [NAME=VALUE...]");
        for (int i = 3; i < c->argc && n < ELEMENTSOF(attrs); i++) {
                char *eq;

                copies[n] = strdup(c->argv[i]);
                eq = strchr(copies[n], '=');
                if (!eq) {
                        fprintf(stderr, "awscall: attribute must be NAME=VALUE\n");
                        exit(2);
                }
                *eq = '\0';
                attrs[n] = (SnsAttribute) { copies[n], eq + 1 };
                n++;
        }
        r = sns_publish(c->client, c->argv[0], c->argv[1][0] ? c->argv[1] : NULL, c->argv[2],
                        attrs, n, &id, &c->err);
        for (size_t i = 0; i < n; i++)
                free(copies[i]);
        if (r < 0)
                return r;
        c->result = cJSON_CreateObject();
        cJSON_AddStringToObject(c->result, "message_id", id);
        free(id);
        return 0;
}

/* --cancel-after-ms: raises the client's cancel flag from another thread, as the daemon does
 * at shutdown. */
typedef struct Canceller {
        atomic_bool flag;
        unsigned long after_ms;
} Canceller;

static void *cancel_thread(void *userdata) {
        Canceller *k = userdata;
        struct timespec ts = { .tv_sec = (time_t) (k->after_ms / 1000),
                               .tv_nsec = (long) (k->after_ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
        atomic_store(&k->flag, true);
        return NULL;
}

static const struct {
        const char *name;
        int (*run)(Call *c);
} commands[] = {
        { "sqs-receive", cmd_sqs_receive },
        { "sqs-delete", cmd_sqs_delete },
        { "sqs-delete-batch", cmd_sqs_delete_batch },
        { "sqs-visibility", cmd_sqs_visibility },
        { "sqs-visibility-batch", cmd_sqs_visibility_batch },
        { "sqs-attributes", cmd_sqs_attributes },
        { "s3-get", cmd_s3_get },
        { "s3-head", cmd_s3_head },
        { "s3-put", cmd_s3_put },
        { "s3-copy", cmd_s3_copy },
        { "s3-delete", cmd_s3_delete },
        { "s3-head-bucket", cmd_s3_head_bucket },
        { "s3-list", cmd_s3_list },
        { "ddb-batch-write", cmd_ddb_batch_write },
        { "ddb-describe", cmd_ddb_describe },
        { "sns-publish", cmd_sns_publish },
};

static cJSON *stats_json(AwsClient *client) {
        cJSON *o = cJSON_CreateObject(), *codes = cJSON_CreateArray();
        AwsClientStats st;

        aws_client_get_stats(client, &st);
        for (AwsService s = 0; s < _AWS_SERVICE_MAX; s++) {
                cJSON *so = cJSON_CreateObject();

                cJSON_AddNumberToObject(so, "requests", (double) st.service[s].requests);
                cJSON_AddNumberToObject(so, "retries", (double) st.service[s].retries);
                cJSON_AddNumberToObject(so, "throttled", (double) st.service[s].throttled);
                cJSON_AddNumberToObject(so, "errors", (double) st.service[s].errors);
                cJSON_AddItemToObject(o, aws_service_name(s), so);
        }
        for (size_t i = 0; i < st.n_codes; i++) {
                cJSON *co = cJSON_CreateObject();

                cJSON_AddStringToObject(co, "service", aws_service_name(st.codes[i].service));
                cJSON_AddStringToObject(co, "code", st.codes[i].code);
                cJSON_AddNumberToObject(co, "count", (double) st.codes[i].count);
                cJSON_AddItemToArray(codes, co);
        }
        cJSON_AddItemToObject(o, "codes", codes);
        cJSON_AddNumberToObject(o, "clock_skew_corrections", (double) st.clock_skew_corrections);
        return o;
}

static cJSON *error_json(const S3bError *e) {
        cJSON *o = cJSON_CreateObject();
        const char *name = strerrorname_np(-e->code);

        cJSON_AddNumberToObject(o, "code", e->code);
        cJSON_AddStringToObject(o, "errno", name ? name : "");
        cJSON_AddNumberToObject(o, "http_status", (double) e->http_status);
        cJSON_AddStringToObject(o, "aws_code", e->aws_code);
        cJSON_AddStringToObject(o, "request_id", e->request_id);
        cJSON_AddStringToObject(o, "message", e->message);
        return o;
}

static void usage(void) {
        fputs("usage: awscall [--region R] [--endpoint URL] [--endpoint-{sqs,s3,dynamodb,sns} URL]\n"
              "               [--path-style] [--max-attempts N] [--max-attempts-batch N]\n"
              "               [--retry-base-ms N] [--retry-cap-ms N] [--timeout-ms N]\n"
              "               [--connect-timeout-ms N] [--copy-threshold BYTES]\n"
              "               [--copy-part-size BYTES] [--repeat N] [--cancel-after-ms N]\n"
              "               COMMAND ARGS...\n", stderr);
        exit(2);
}

int main(int argc, char **argv) {
        enum { O_REGION = 256, O_EP, O_EP_SQS, O_EP_S3, O_EP_DDB, O_EP_SNS, O_PATH, O_MAX, O_MAXB,
               O_BASE, O_CAP, O_TIMEOUT, O_CTIMEOUT, O_THRESH, O_PART, O_REPEAT, O_CANCEL };
        static const struct option opts[] = {
                { "region", required_argument, NULL, O_REGION },
                { "endpoint", required_argument, NULL, O_EP },
                { "endpoint-sqs", required_argument, NULL, O_EP_SQS },
                { "endpoint-s3", required_argument, NULL, O_EP_S3 },
                { "endpoint-dynamodb", required_argument, NULL, O_EP_DDB },
                { "endpoint-sns", required_argument, NULL, O_EP_SNS },
                { "path-style", no_argument, NULL, O_PATH },
                { "max-attempts", required_argument, NULL, O_MAX },
                { "max-attempts-batch", required_argument, NULL, O_MAXB },
                { "retry-base-ms", required_argument, NULL, O_BASE },
                { "retry-cap-ms", required_argument, NULL, O_CAP },
                { "timeout-ms", required_argument, NULL, O_TIMEOUT },
                { "connect-timeout-ms", required_argument, NULL, O_CTIMEOUT },
                { "copy-threshold", required_argument, NULL, O_THRESH },
                { "copy-part-size", required_argument, NULL, O_PART },
                { "repeat", required_argument, NULL, O_REPEAT },
                { "cancel-after-ms", required_argument, NULL, O_CANCEL },
                {},
        };
        AwsContextOptions o = {};
        S3Options s3o = {};
        DynamoOptions ddbo = {};
        AwsContext *ctx = NULL;
        Call call = {};
        unsigned long repeat = 1;
        Canceller canceller = { .after_ms = 0 };
        pthread_t canceller_thread;
        bool cancelling = false;
        cJSON *out;
        char *text;
        int opt, r = 0;
        size_t i;

        while ((opt = getopt_long(argc, argv, "+", opts, NULL)) >= 0)
                switch (opt) {
                case O_REGION: o.region = optarg; break;
                case O_EP: o.endpoint_sqs = o.endpoint_s3 = o.endpoint_dynamodb = o.endpoint_sns = optarg; break;
                case O_EP_SQS: o.endpoint_sqs = optarg; break;
                case O_EP_S3: o.endpoint_s3 = optarg; break;
                case O_EP_DDB: o.endpoint_dynamodb = optarg; break;
                case O_EP_SNS: o.endpoint_sns = optarg; break;
                case O_PATH: s3o.force_path_style = true; break;
                case O_MAX: o.max_attempts = (unsigned) arg_ulong(optarg, "max-attempts"); break;
                case O_MAXB: ddbo.max_attempts_batch = (unsigned) arg_ulong(optarg, "max-attempts-batch"); break;
                case O_BASE: o.retry_base_ms = (unsigned) arg_ulong(optarg, "retry-base-ms"); break;
                case O_CAP: o.retry_cap_ms = (unsigned) arg_ulong(optarg, "retry-cap-ms"); break;
                case O_TIMEOUT: o.request_timeout_ms = (unsigned) arg_ulong(optarg, "timeout-ms"); break;
                case O_CTIMEOUT: o.connect_timeout_ms = (unsigned) arg_ulong(optarg, "connect-timeout-ms"); break;
                case O_THRESH: s3o.multipart_copy_threshold = arg_ulong(optarg, "copy-threshold"); break;
                case O_PART: s3o.copy_part_size = arg_ulong(optarg, "copy-part-size"); break;
                case O_REPEAT: repeat = arg_ulong(optarg, "repeat"); break;
                case O_CANCEL: canceller.after_ms = arg_ulong(optarg, "cancel-after-ms"); break;
                default: usage();
                }
        if (optind >= argc)
                usage();
        for (i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(commands[i].name, argv[optind]) == 0)
                        break;
        if (i == ELEMENTSOF(commands))
                usage();
        call.argc = argc - optind - 1;
        call.argv = argv + optind + 1;

        out = cJSON_CreateObject();
        s3_options_set(&o, &s3o);
        dynamodb_options_set(&o, &ddbo);
        r = aws_context_new(&o, &ctx, &call.err);
        if (r >= 0)
                r = aws_client_new(ctx, &call.client, &call.err);
        if (r >= 0 && canceller.after_ms) {
                atomic_init(&canceller.flag, false);
                r = aws_client_set_cancel(call.client, &canceller.flag, &call.err);
                if (r >= 0 && pthread_create(&canceller_thread, NULL, cancel_thread, &canceller) == 0)
                        cancelling = true;
        }
        for (unsigned long k = 0; r >= 0 && k < repeat; k++) {
                cJSON_Delete(call.result);
                call.result = NULL;
                s3b_error_clear(&call.err);
                r = commands[i].run(&call);
        }
        cJSON_AddBoolToObject(out, "ok", r >= 0);
        if (r >= 0) {
                cJSON_AddItemToObject(out, "result", call.result ? call.result : cJSON_CreateNull());
                if (call.skipped)
                        cJSON_AddNumberToObject(out, "skipped", call.skipped);
        }
        else {
                cJSON_Delete(call.result);
                cJSON_AddItemToObject(out, "error", error_json(&call.err));
        }
        if (call.client)
                cJSON_AddItemToObject(out, "stats", stats_json(call.client));
        if (ctx)
                cJSON_AddNumberToObject(out, "clock_offset", (double) aws_context_clock_offset(ctx));
        if (cancelling)
                pthread_join(canceller_thread, NULL);
        text = cJSON_PrintUnformatted(out);
        puts(text);
        free(text);
        cJSON_Delete(out);
        aws_client_free(call.client);
        aws_context_unref(ctx);
        return r >= 0 ? 0 : 1;
}
