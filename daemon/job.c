/* A job's read → validate → write stages; the move and the notification are in outcome.c.
 *
 * The object is streamed: s3_get_object() hands each received chunk to ingest_feed(), whose
 * callbacks put valid items into the Writer (25 per BatchWriteItem) and rejected rows into the
 * Report. Memory per job is one chunk, one row, one batch and the report (capped).
 * In validate_first mode a first read only counts; the second read writes. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/client.h"
#include "common/aws/dynamodb.h"
#include "common/aws/retry.h"
#include "common/aws/s3.h"
#include "common/aws/sigv4.h"
#include "common/ingest.h"
#include "common/log.h"
#include "common/time-util.h"
#include "daemon/errclass.h"
#include "daemon/job.h"
#include "daemon/jobclients.h"
#include "daemon/metrics.h"
#include "daemon/outcome.h"
#include "daemon/report.h"
#include "daemon/split.h"
#include "daemon/tablecache.h"
#include "daemon/writer.h"

/* Rejected rows are reported in full up to this; beyond, counted only (report.h). */
#define REPORT_MAX_BYTES (16u * 1024u * 1024u)

/* 16 bytes of SHA-256 over the object's identity, in hex: the same for every delivery of
 * one event, different for a re-upload (another sequencer, and usually another ETag). */
static void make_event_id(Job *j) {
        const char *parts[] = { j->bucket, j->key, j->etag, j->version_id, j->sequencer };
        Buf b = BUF_INIT(4 * 1024 + 512);
        char hex[65];

        for (size_t i = 0; i < ELEMENTSOF(parts); i++)
                if (buf_append(&b, parts[i], strlen(parts[i]) + 1) < 0)
                        break;  /* cannot happen within the bound; the id stays stable */
        sigv4_sha256_hex(b.data, b.len, hex);
        buf_done(&b);
        snprintf(j->event_id, sizeof(j->event_id), "%.32s", hex);
}

Job *job_new(Config *config, const PipelineSpec *spec, const char *bucket, const char *key,
             const char *etag) {
        Job *j = calloc(1, sizeof(*j));

        if (!j)
                return NULL;
        j->bucket = strdup(bucket);
        j->key = strdup(key);
        j->etag = strdup(etag ? etag : "");
        j->version_id = strdup("");
        j->sequencer = strdup("");
        if (!j->bucket || !j->key || !j->etag || !j->version_id || !j->sequencer)
                return job_free(j);
        j->config = config_ref(config);
        j->spec = spec;
        j->size = -1;
        make_event_id(j);
        return j;
}

static int replace_str(char **dst, const char *s) {
        char *c = strdup(s ? s : "");

        if (!c)
                return -ENOMEM;
        free(*dst);
        *dst = c;
        return 0;
}

int job_set_event(Job *j, const char *version_id, const char *sequencer) {
        if (replace_str(&j->version_id, version_id) < 0 || replace_str(&j->sequencer, sequencer) < 0)
                return -ENOMEM;
        make_event_id(j);
        return 0;
}

Job *job_free(Job *j) {
        if (!j)
                return NULL;
        config_unref(j->config);
        free(j->bucket);
        free(j->key);
        free(j->etag);
        free(j->version_id);
        free(j->sequencer);
        free(j->location);
        free(j->report_location);
        free(j);
        return NULL;
}

/* Milliseconds since job_run began, for the summary's duration_ms. */
static uint64_t elapsed_ms(const Job *j) {
        return (now(CLOCK_MONOTONIC) - j->start_usec) / USEC_PER_MSEC;
}

static bool cancelled(const JobEnv *env) {
        return env->cancel && atomic_load(env->cancel);
}

/* ---- one read of the object ---- */

typedef struct Run {
        Job *job;
        const JobEnv *env;
        Ingest *ingest;
        Writer *writer;                 /* NULL on a validate-only read */
        JobWriteTarget target;          /* the writer's userdata */
        Report *report;
        S3bError ingest_err;            /* why ingest_feed stopped */
        S3bError write_err;             /* why the writer stopped */
        bool ingest_failed;
        bool write_failed;
        bool too_many_rejects;
        uint64_t bytes;
} Run;

static int on_item(void *ud, const IngestItem *item) {
        Run *run = ud;
        int r;

        if (!run->writer)
                return 0;
        r = writer_add_sized(run->writer, item->key, item->json, item->size, &run->write_err);
        if (r < 0)
                run->write_failed = true;
        return r;
}

static int on_reject(void *ud, const IngestReject *rej) {
        Run *run = ud;
        int r;

        r = report_add(run->report, rej);
        if (r < 0)
                return r;
        if (report_count(run->report) > run->job->spec->max_rejected_rows) {
                run->too_many_rejects = true;
                return -EDQUOT;
        }
        return 0;
}

static int on_data(void *ud, const void *data, size_t n) {
        Run *run = ud;
        int r;

        if (cancelled(run->env))
                return -ECANCELED;
        run->bytes += n;
        r = ingest_feed(run->ingest, data, n, &run->ingest_err);
        if (r < 0)
                run->ingest_failed = true;
        return r;
}

typedef enum ReadResult {
        READ_OK,
        READ_FILE_FAILED,       /* the file is bad (j->reason says why): FAILURE */
        READ_AWS_FAILED,        /* S3 or DynamoDB failed: the caller classifies the error */
        READ_CANCELLED,
} ReadResult;

/* The table's key and index shape, for the row rules; asked per file because an index can be
 * added at any time. Its failure is classified like any other (a missing table is a
 * configuration error, throttling transient). False with *ret set when the read ends here. */
static bool read_table(Job *j, const JobEnv *env, const TableShape **table, ReadResult *ret,
                       S3bError *ret_err) {
        S3bError err = {};
        int r;

        if (!env->tables)
                return true;
        r = tablecache_get(env->tables, env->client, j->spec->table, now(CLOCK_MONOTONIC), table, &err);
        if (r == -ECANCELED || (r < 0 && cancelled(env))) {
                *ret = READ_CANCELLED;
                return false;
        }
        if (r < 0) {
                *ret_err = err;
                s3b_error_prefix(ret_err, "DescribeTable %s", j->spec->table);
                *ret = READ_AWS_FAILED;
                return false;
        }
        return true;
}

/* A big file is read as byte ranges in parallel (split.h). False with *ret set when the split
 * reader took the file. */
static bool read_unsplit(Job *j, const JobEnv *env, const TableShape *table, Report *report,
                         bool write, ReadResult *ret, S3bError *ret_err) {
        switch (split_read(j, env, table, report, write, ret_err)) {
        case SPLIT_UNSPLIT:
                return true;
        case SPLIT_OK:
                *ret = READ_OK;
                break;
        case SPLIT_FILE_FAILED:
                *ret = READ_FILE_FAILED;
                break;
        case SPLIT_AWS_FAILED:
                *ret = READ_AWS_FAILED;
                break;
        case SPLIT_CANCELLED:
                *ret = READ_CANCELLED;
                break;
        }
        return false;
}

/* The ingest (and, when writing, the writer) of one stream. False with *ret set on failure. */
static bool read_prepare(Job *j, const JobEnv *env, const TableShape *table, Run *run, bool write,
                         Ingest **ret_in, Writer **ret_writer, ReadResult *ret, S3bError *ret_err) {
        static const IngestCallbacks cb = { .on_item = on_item, .on_reject = on_reject };
        S3bError err = {};
        int r;

        r = ingest_new(j->spec, table, j->key, &cb, run, ret_in, &err);
        /* the ETag the job is pinned to, for a computed source_etag */
        if (r >= 0 && ingest_set_source(*ret_in, &(IngestSource) { .key = j->key, .etag = j->etag }) < 0)
                r = s3b_error_set(&err, -ENOMEM, "out of memory");
        if (r < 0) {
                snprintf(j->reason, sizeof(j->reason), "pipeline: %.400s", err.message);
                *ret = READ_FILE_FAILED;
                return false;
        }
        run->ingest = *ret_in;
        if (!write)
                return true;
        run->target = (JobWriteTarget) { .clients = env->clients, .table = j->spec->table };
        *ret_writer = job_writer_new(j, env, &run->target, 1);
        if (!*ret_writer) {
                s3b_error_set(ret_err, -ENOMEM, "out of memory");
                *ret = READ_AWS_FAILED;
                return false;
        }
        run->writer = *ret_writer;
        return true;
}

/* The job's counters after a stream, also after a failure or an abort. */
static void read_account(Job *j, const JobEnv *env, Report *report, const Run *run, Writer *writer,
                         const IngestStats *st) {
        j->rows_total = st->rows_total;
        j->rows_rejected = report_count(report);
        j->bytes_read += run->bytes;    /* both reads in validate_first mode */
        if (writer) {
                WriterStats ws;

                /* rows_written must be what reached the table, also after an abort */
                writer_drain(writer);
                ws = writer_stats(writer);
                j->rows_written = ws.written;
                j->rows_superseded = ws.superseded;
                j->consumed_wcu += ws.consumed;
                job_report_writes(j, env, &ws);
        }
}

bool job_read_failure(Job *j, bool too_many_rejects, const S3bError *write_err, const S3bError *ingest_err,
                      const S3bError *err, S3bError *ret_err) {
        if (too_many_rejects) {
                snprintf(j->reason, sizeof(j->reason),
                         "too many rejected rows: more than max_rejected_rows (%" PRIu64 ")",
                         j->spec->max_rejected_rows);
                return true;
        }
        if (write_err) {
                *ret_err = *write_err;
                s3b_error_prefix(ret_err, "writing to DynamoDB table %s", j->spec->table);
                return false;
        }
        if (ingest_err) {
                snprintf(j->reason, sizeof(j->reason), "%.500s", ingest_err->message);
                return true;
        }
        *ret_err = *err;
        return false;
}

/* What a failed stream (r < 0) means: which of its parts failed decides the result. */
static ReadResult read_verdict(Job *j, const JobEnv *env, const Run *run, int r, const S3bError *err,
                               S3bError *ret_err) {
        if (r == -ECANCELED || cancelled(env))
                return READ_CANCELLED;
        return job_read_failure(j, run->too_many_rejects, run->write_failed ? &run->write_err : NULL,
                                run->ingest_failed ? &run->ingest_err : NULL, err, ret_err) ?
                READ_FILE_FAILED : READ_AWS_FAILED;
}

/* Streams the object once through ingest (and the writer, when writing), pinned to the job's
 * version. READ_AWS_FAILED fills *ret_err. */
static ReadResult read_once(Job *j, const JobEnv *env, Report *report, bool write,
                            S3bError *ret_err) {
        _cleanup_(writer_freep) Writer *writer = NULL;
        _cleanup_(ingest_freep) Ingest *in = NULL;
        IngestStats st = {};
        S3ObjectInfo info;
        const S3Version v = { .etag = j->etag, .version_id = j->version_id };
        S3bError err = {};
        Run run = { .job = j, .env = env, .report = report };
        const TableShape *table = NULL;
        ReadResult res = READ_OK;
        int r;

        if (!read_table(j, env, &table, &res, ret_err) ||
            !read_unsplit(j, env, table, report, write, &res, ret_err) ||
            !read_prepare(j, env, table, &run, write, &in, &writer, &res, ret_err))
                return res;

        r = s3_get_object(env->client, j->bucket, j->key, &v, NULL, on_data, &run, &info, &err);
        if (r >= 0 && !j->etag[0] && info.etag[0]) {
                /* `process`/`backfill` have no event: pin the rest of the job to what was read. */
                if (replace_str(&j->etag, info.etag) < 0 || replace_str(&j->version_id, info.version_id) < 0)
                        r = s3b_error_set(&err, -ENOMEM, "out of memory");
                else
                        make_event_id(j);
        }
        if (r >= 0) {
                r = ingest_finish(in, &st, &run.ingest_err);
                if (r < 0)
                        run.ingest_failed = true;
        } else
                ingest_get_stats(in, &st);
        if (r >= 0 && writer) {
                r = writer_flush(writer, &run.write_err);
                if (r < 0)
                        run.write_failed = true;
        }
        read_account(j, env, report, &run, writer, &st);
        return r >= 0 ? READ_OK : read_verdict(j, env, &run, r, &err, ret_err);
}

static bool computes_etag(const PipelineSpec *spec) {
        for (size_t i = 0; i < spec->n_computed; i++)
                if (spec->computed[i].kind == COMPUTED_SOURCE && spec->computed[i].source == SOURCE_ETAG)
                        return true;
        return false;
}

/* `process` and `backfill` have no event to name the version: a pipeline that writes the
 * ETag (computed source_etag) asks HeadObject first and pins the job to what it answers, so
 * every row carries it and the reads are of that version (If-Match). Without it the GET's
 * own response pins the job (read_once()), too late for the rows. */
static int pin_current_version(Job *j, const JobEnv *env, S3bError *err) {
        S3ObjectInfo info;
        int r = s3_head_object(env->client, j->bucket, j->key, NULL, &info, err);

        if (r < 0)
                return s3b_error_prefix(err, "HeadObject s3://%s/%s", j->bucket, j->key);
        if (replace_str(&j->etag, info.etag) < 0 || replace_str(&j->version_id, info.version_id) < 0)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        make_event_id(j);
        return 0;
}

/* The pipeline's reads: one streaming read that writes, or with validate_first a read that
 * only checks and, if the file passes, a second one that writes (both of the same version). */
static ReadResult read_rows(Job *j, const JobEnv *env, Report *report, S3bError *err) {
        ReadResult res;
        int r;

        if (!j->etag[0] && computes_etag(j->spec) && (r = pin_current_version(j, env, err)) < 0)
                return r == -ECANCELED || cancelled(env) ? READ_CANCELLED : READ_AWS_FAILED;

        if (j->spec->write_mode == WRITE_MODE_VALIDATE_FIRST) {
                res = read_once(j, env, report, false, err);
                if (res != READ_OK)
                        return res;
                report_reset(report);
        }
        return read_once(j, env, report, true, err);
}

/* ---- the whole job ---- */

static void set_status(Job *j, JobStatus s, const char *what, const S3bError *e) {
        j->status = s;
        snprintf(j->reason, sizeof(j->reason), "%s%s%.400s", what, e ? ": " : "", e ? e->message : "");
}

/* A transient failure, unless shutdown made it (then the message is simply released). */
static void set_retry(Job *j, const JobEnv *env, const char *what, const S3bError *e) {
        set_status(j, cancelled(env) ? JOB_CANCELLED : JOB_RETRY, what, e);
}

static void handle_gone(Job *j, const JobEnv *env);
static void superseded(Job *j, const JobEnv *env, const char *why);

/* Ends the job for an AWS failure at `step`, by its class (errclass.h). `movable`: the file
 * may still be moved (a read or write failed), so a FINAL failure fails the file; after that
 * a FINAL failure of the move itself can only be a configuration problem. */
static void on_aws_failure(Job *j, const JobEnv *env, const char *step, const S3bError *e,
                           bool movable, Report *report);

static void finish_moved(Job *j, const JobEnv *env, Report *report) {
        OutcomeStep step = OUTCOME_STEP_COPY;
        S3bError err = {};
        int r;

        /* The summary (error.json, SNS) carries the duration up to the move. */
        j->duration_ms = elapsed_ms(j);
        r = outcome_settle(j, env, report, &step, &err);
        if (r >= 0)
                return;
        static const char *const steps[] = {
                [OUTCOME_STEP_COPY] = "copying the file",
                [OUTCOME_STEP_REPORT] = "writing the report",
                [OUTCOME_STEP_NOTIFY] = "publishing the summary",
                [OUTCOME_STEP_DELETE] = "deleting the inbound object",
        };
        char what[96];

        snprintf(what, sizeof(what), "%s (%s)", steps[step], job_status_to_string(j->status));
        on_aws_failure(j, env, what, &err, false, NULL);
}

static void on_aws_failure(Job *j, const JobEnv *env, const char *step, const S3bError *e,
                           bool movable, Report *report) {
        switch (errclass_of(e)) {
        case ERRCLASS_SUPERSEDED:
                return superseded(j, env, step);
        case ERRCLASS_GONE:
                return handle_gone(j, env);
        case ERRCLASS_CONFIG:
                return set_status(j, JOB_CONFIG_ERROR, step, e);
        case ERRCLASS_FINAL:
                if (!movable)
                        return set_status(j, JOB_CONFIG_ERROR, step, e);
                set_status(j, JOB_FAILURE, step, e);
                return finish_moved(j, env, report);
        case ERRCLASS_TRANSIENT:
        default:
                return set_retry(j, env, step, e);
        }
}

/* Publishes a SUPERSEDED/… summary that no move carries (nothing is moved for them). */
static void notify_only(Job *j, const JobEnv *env) {
        S3bError err = {};
        int r;

        j->duration_ms = elapsed_ms(j);
        r = outcome_notify(j, env, &err);
        if (r >= 0)
                return;
        if (errclass_of(&err) == ERRCLASS_TRANSIENT)
                set_retry(j, env, "publishing the summary", &err);
        else
                set_status(j, JOB_CONFIG_ERROR, "publishing the summary", &err);
}

/* How often a superseded job chases a key that keeps changing before it lets a redelivery
 * try again. */
#define REPAIR_ROUNDS_MAX 3

/* The newest version of the key, to write its rows again: in inbound, or already moved to
 * the archive by its own job. Returns 1 with *ret (a job reading it) and ret_source (the
 * ETag of the upload it holds, also for an archive copy) filled, 0 when there is none to
 * write, < 0 on failure. */
static int newest_version(Job *j, const JobEnv *env, Job **ret, char ret_source[80], S3bError *err) {
        const ConfigLocation *a = &j->config->archive;
        _cleanup_free_ char *akey = NULL;
        S3ObjectInfo info;
        const char *src_etag, *src_seq;
        int r;

        r = s3_head_object(env->client, j->bucket, j->key, NULL, &info, err);
        if (r >= 0) {
                if (strcmp(info.etag, j->etag) == 0 && strcmp(info.version_id, j->version_id) == 0)
                        return 0;       /* our own version is current again: nothing newer */
                snprintf(ret_source, 80, "%s", info.etag);
                *ret = job_new(j->config, j->spec, j->bucket, j->key, info.etag);
                return *ret && job_set_event(*ret, info.version_id, NULL) >= 0 ? 1 : -ENOMEM;
        }
        if (r != -ENOENT)
                return r;
        if (asprintf(&akey, "%s%s", a->prefix ? a->prefix : "", j->key) < 0)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        r = s3_head_object(env->client, a->bucket, akey, NULL, &info, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        src_etag = s3_object_info_meta(&info, OUTCOME_META_ETAG);
        src_seq = s3_object_info_meta(&info, OUTCOME_META_SEQUENCER);
        if (!src_etag || strcmp(src_etag, j->etag) == 0)
                return 0;       /* not known to be another version, or our own copy */
        if (src_seq && job_sequencer_cmp(src_seq, j->sequencer) < 0)
                return 0;       /* an older version's copy: ours was the newer one */
        snprintf(ret_source, 80, "%s", src_etag);
        *ret = job_new(j->config, j->spec, a->bucket, akey, info.etag);
        return *ret ? 1 : -ENOMEM;
}

/* This job wrote rows (now, or in an attempt that a crash cut short) of a version that a
 * newer upload replaced. A job is not atomic: the newer version's job may have written the
 * same keys before ours finished, leaving rows of the older version in the table. Writing
 * the newest version's rows once more, after ours, restores "the latest upload wins" — and
 * only once the newest version, looked up *after* those writes, is the one just written is
 * it done: a version uploaded (or archived by its own job) meanwhile gets another round. */
static void repair(Job *j, const JobEnv *env) {
        char done[80] = "";     /* the upload whose rows were written last */

        for (unsigned round = 0; round <= REPAIR_ROUNDS_MAX; round++) {
                _cleanup_(job_freep) Job *n = NULL;
                _cleanup_(report_freep) Report *scratch = report_new(64 * 1024);
                char source[80] = "";
                S3bError err = {};
                int r;

                if (!scratch)
                        return set_retry(j, env, "repairing rows: out of memory", NULL);
                r = newest_version(j, env, &n, source, &err);
                if (r == 0)
                        return;
                if (r < 0)
                        return set_retry(j, env, "looking for the newer version", &err);
                if (done[0] && strcmp(source, done) == 0)
                        return;         /* still the newest after its rows were written */
                if (round == REPAIR_ROUNDS_MAX)
                        break;
                n->start_usec = now(CLOCK_MONOTONIC);
                switch (read_rows(n, env, scratch, &err)) {
                case READ_OK:
                case READ_FILE_FAILED:  /* its own job fails it; rows written are its rows */
                        j->rows_repaired += n->rows_written;
                        snprintf(done, sizeof(done), "%s", source);
                        break;
                case READ_CANCELLED:
                        return set_status(j, JOB_CANCELLED, "cancelled by shutdown", NULL);
                case READ_AWS_FAILED:
                        if (errclass_of(&err) == ERRCLASS_SUPERSEDED || errclass_of(&err) == ERRCLASS_GONE)
                                break;  /* replaced again meanwhile: the next round takes it */
                        return set_retry(j, env, "writing the newer version's rows", &err);
                }
        }
        set_retry(j, env, "the key kept changing while its newest rows were written", NULL);
}

/* A newer upload replaced the object. Nothing of it is touched here: its own event loads,
 * archives and deletes it. */
static void superseded(Job *j, const JobEnv *env, const char *why) {
        char what[200];

        snprintf(what, sizeof(what), "a newer upload replaced the object (this was ETag %.40s) while %.100s",
                 j->etag[0] ? j->etag : "?", why);
        set_status(j, JOB_SUPERSEDED, what, NULL);
        /* receive_count > 1: an earlier attempt may have written rows and been cut short. */
        if (j->rows_written > 0 || j->receive_count > 1) {
                repair(j, env);
                if (j->status != JOB_SUPERSEDED)
                        return;
                if (j->rows_repaired)
                        snprintf(j->reason + strlen(j->reason), sizeof(j->reason) - strlen(j->reason),
                                 "; wrote %" PRIu64 " row(s) of the newer version again after this "
                                 "one's", j->rows_repaired);
        }
        notify_only(j, env);
}

static void handle_gone(Job *j, const JobEnv *env) {
        S3bError err = {};
        int r;

        r = outcome_find_done(j, env, &err);
        if (r < 0) {
                if (errclass_of(&err) == ERRCLASS_TRANSIENT)
                        return set_retry(j, env, "looking for an earlier outcome", &err);
                return set_status(j, JOB_CONFIG_ERROR, "looking for an earlier outcome", &err);
        }
        switch (r) {
        case OUTCOME_FOUND_THIS:
                /* Its summary went out before the inbound delete, so nothing is said again. */
                set_status(j, JOB_DONE_BEFORE, "already processed, now at ", NULL);
                snprintf(j->reason + strlen(j->reason), sizeof(j->reason) - strlen(j->reason),
                         "%.400s", j->location);
                return;
        case OUTCOME_FOUND_NEWER:
                /* An older event arrived after a newer one was done. */
                return superseded(j, env, "its event was on its way");
        default:
                set_status(j, JOB_GONE, "the object no longer exists in inbound, and no copy of "
                           "this version is in the archive or error bucket", NULL);
        }
}

/* A failure of this attempt after the message came back more often than max_receive_count
 * allows: the file goes to the error bucket instead of looping. Only a failure does this —
 * deliveries alone (releases at shutdown, redeliveries) never move a file. */
static void maybe_give_up(Job *j, const JobEnv *env) {
        char last[sizeof(j->reason)];

        if (j->status != JOB_RETRY || j->receive_count == 0 ||
            j->receive_count <= j->config->queue.max_receive_count || cancelled(env))
                return;
        memcpy(last, j->reason, sizeof(last));
        j->status = JOB_FAILURE;
        snprintf(j->reason, sizeof(j->reason), "gave up after %u attempts: %.400s",
                 j->receive_count, last);
        finish_moved(j, env, NULL);
}

static void process(Job *j, const JobEnv *env) {
        _cleanup_(report_freep) Report *report = report_new(REPORT_MAX_BYTES);
        S3bError err = {};

        if (!report)
                return set_retry(j, env, "out of memory", NULL);
        switch (read_rows(j, env, report, &err)) {
        case READ_OK:
                j->status = j->rows_rejected > 0 ? JOB_PARTIAL : JOB_SUCCESS;
                j->reason[0] = '\0';
                if (j->rows_rejected > 0)
                        snprintf(j->reason, sizeof(j->reason), "%" PRIu64 " row(s) rejected", j->rows_rejected);
                return finish_moved(j, env, report);
        case READ_FILE_FAILED:
                j->status = JOB_FAILURE;
                return finish_moved(j, env, report);
        case READ_AWS_FAILED:
                return on_aws_failure(j, env, "loading the file", &err, true, report);
        case READ_CANCELLED:
                return set_status(j, JOB_CANCELLED, "cancelled by shutdown", NULL);
        }
}

void job_run(Job *j, const JobEnv *env) {
        j->start_usec = now(CLOCK_MONOTONIC);
        log_debug_f(env->log, LOG_FIELDS(LOG_STR("BUCKET", j->bucket), LOG_STR("OBJECT_KEY", j->key),
                                         LOG_STR("PIPELINE", j->spec->name)),
                    "Processing s3://%s/%s", j->bucket, j->key);
        if (cancelled(env))
                set_status(j, JOB_CANCELLED, "cancelled by shutdown", NULL);
        else {
                process(j, env);
                maybe_give_up(j, env);
        }
        j->duration_ms = elapsed_ms(j);

        if (env->metrics) {
                MetricsOutcome o = j->status == JOB_SUCCESS ? METRICS_OUTCOME_SUCCESS :
                                   j->status == JOB_PARTIAL ? METRICS_OUTCOME_PARTIAL :
                                   j->status == JOB_FAILURE ? METRICS_OUTCOME_FAILURE :
                                                              METRICS_OUTCOME_SKIPPED;

                metrics_rows(env->metrics, j->spec->name, j->rows_written, j->rows_rejected,
                             j->rows_superseded);
                metrics_bytes_read(env->metrics, j->spec->name, j->bytes_read);
                if (job_status_is_final(j->status))
                        metrics_file_done(env->metrics, j->spec->name, o, (double) j->duration_ms / 1000.0);
        }
}
