/* Archive / error bucket moves, reports and the SNS summary. See outcome.h. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/client.h"
#include "common/aws/s3.h"
#include "common/aws/sns.h"
#include "common/cleanup.h"
#include "daemon/outcome.h"

#define SUBJECT_PREFIX "s3batchd "
#define SUBJECT_MAX 99                  /* SNS: "must be less than 100 characters" */

static char *join(const char *a, const char *b, const char *c) {
        char *s = NULL;

        if (asprintf(&s, "%s%s%s", a, b, c ? c : "") < 0)
                return NULL;
        return s;
}

static int set_location(char **dst, const char *bucket, const char *key) {
        char *s = NULL;

        if (asprintf(&s, "s3://%s/%s", bucket, key) < 0)
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

static int put_text(const JobEnv *env, const char *bucket, const char *key, const char *data,
                    size_t len, const char *content_type, S3bError *err) {
        int r = s3_put_object(env->client, bucket, key, data, len, content_type, err);
        if (r < 0)
                s3b_error_prefix(err, "PutObject s3://%s/%s", bucket, key);
        return r;
}

/* A copy of the inbound object that records which version it was made from. If the source's
 * own metadata leaves no room for ours within S3's 2 KB, the copy is made without it and a
 * redelivery falls back to comparing the copy's ETag (equal for single-part copies). */
static int copy_pinned(Job *j, const JobEnv *env, const char *dst_bucket, const char *dst_key,
                       S3bError *err) {
        const S3Version v = { .etag = j->etag, .version_id = j->version_id };
        HttpHeader meta[2];
        S3CopyOptions o = { .source = &v, .meta = meta };
        int r;

        if (j->etag[0])
                meta[o.n_meta++] = (HttpHeader) { OUTCOME_META_ETAG, j->etag };
        if (j->sequencer[0])
                meta[o.n_meta++] = (HttpHeader) { OUTCOME_META_SEQUENCER, j->sequencer };
        r = s3_copy_object(env->client, j->bucket, j->key, &o, dst_bucket, dst_key, err);
        if (r == -E2BIG && o.n_meta > 0 && !err->aws_code[0]) {
                o.n_meta = 0;
                r = s3_copy_object(env->client, j->bucket, j->key, &o, dst_bucket, dst_key, err);
        }
        if (r < 0)
                s3b_error_prefix(err, "CopyObject to s3://%s/%s", dst_bucket, dst_key);
        return r;
}

static int fail_at(OutcomeStep step, OutcomeStep *ret_step, int r) {
        *ret_step = step;
        return r;
}

int outcome_settle(Job *j, const JobEnv *env, Report *report, OutcomeStep *ret_step, S3bError *err) {
        const Config *c = j->config;
        bool ok = j->status == JOB_SUCCESS || j->status == JOB_PARTIAL;
        const ConfigLocation *dst = ok ? &c->archive : &c->errors;
        _cleanup_free_ char *dst_key = join(dst->prefix ? dst->prefix : "", j->key, NULL);
        _cleanup_free_ char *err_base = join(c->errors.prefix ? c->errors.prefix : "", j->key, NULL);
        _cleanup_free_ char *report_key = NULL, *json_key = NULL, *json = NULL;
        const S3Version v = { .etag = j->etag, .version_id = j->version_id };
        const char *report_data = NULL;
        size_t report_len = 0;
        int r;

        if (!dst_key || !err_base)
                return fail_at(OUTCOME_STEP_COPY, ret_step, s3b_error_set(err, -ENOMEM, "out of memory"));

        /* The copy first: pinned to this version, it is the proof that no newer upload
         * replaced the file while its rows were written, so nothing below can put this
         * version's reports beside a newer version's copy. */
        r = copy_pinned(j, env, dst->bucket, dst_key, err);
        if (r < 0)
                return fail_at(OUTCOME_STEP_COPY, ret_step, r);
        if (set_location(&j->location, dst->bucket, dst_key) < 0)
                return fail_at(OUTCOME_STEP_COPY, ret_step, s3b_error_set(err, -ENOMEM, "out of memory"));

        if (report && report_count(report) > 0)
                report_data = report_finish(report, &report_len);
        if (report_data) {
                report_key = join(err_base, ".rejected.csv", NULL);
                if (!report_key)
                        return fail_at(OUTCOME_STEP_REPORT, ret_step, s3b_error_set(err, -ENOMEM, "out of memory"));
                r = put_text(env, c->errors.bucket, report_key, report_data, report_len,
                             "text/csv; charset=utf-8", err);
                if (r < 0)
                        return fail_at(OUTCOME_STEP_REPORT, ret_step, r);
                if (set_location(&j->report_location, c->errors.bucket, report_key) < 0)
                        return fail_at(OUTCOME_STEP_REPORT, ret_step, s3b_error_set(err, -ENOMEM, "out of memory"));
        }
        if (!ok) {
                json_key = join(err_base, ".error.json", NULL);
                json = outcome_summary_json(j);
                if (!json_key || !json)
                        return fail_at(OUTCOME_STEP_REPORT, ret_step, s3b_error_set(err, -ENOMEM, "out of memory"));
                r = put_text(env, c->errors.bucket, json_key, json, strlen(json), "application/json", err);
                if (r < 0)
                        return fail_at(OUTCOME_STEP_REPORT, ret_step, r);
                if (!report_data && set_location(&j->report_location, c->errors.bucket, json_key) < 0)
                        return fail_at(OUTCOME_STEP_REPORT, ret_step, s3b_error_set(err, -ENOMEM, "out of memory"));
        }

        /* Before the delete: a file gone from inbound always had its summary published. */
        r = outcome_notify(j, env, err);
        if (r < 0)
                return fail_at(OUTCOME_STEP_NOTIFY, ret_step, r);

        /* Conditional: a newer upload since the copy stays for its own event (412), and one
         * already taken away by someone else (404) needs nothing more. */
        r = s3_delete_object(env->client, j->bucket, j->key, &v, err);
        if (r < 0 && r != -ENOENT && r != -ESTALE)
                return fail_at(OUTCOME_STEP_DELETE, ret_step,
                               s3b_error_prefix(err, "DeleteObject s3://%s/%s", j->bucket, j->key));
        return 0;
}

/* Whose copy is loc/key: OUTCOME_FOUND_* (location set unless NONE), or a negative errno. */
static int find_in(Job *j, const JobEnv *env, const ConfigLocation *loc, S3bError *err) {
        _cleanup_free_ char *key = join(loc->prefix ? loc->prefix : "", j->key, NULL);
        S3ObjectInfo info;
        const char *etag, *seq;
        int r;

        if (!key)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        r = s3_head_object(env->client, loc->bucket, key, NULL, &info, err);
        if (r == -ENOENT)
                return OUTCOME_FOUND_NONE;
        if (r < 0)
                return s3b_error_prefix(err, "HeadObject s3://%s/%s", loc->bucket, key);
        if (set_location(&j->location, loc->bucket, key) < 0)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        etag = s3_object_info_meta(&info, OUTCOME_META_ETAG);
        seq = s3_object_info_meta(&info, OUTCOME_META_SEQUENCER);
        /* Without our metadata (an older s3batchd, or no room for it): a single-part copy has
         * its source's ETag. Without any ETag to compare (`process` of a gone key), a copy is
         * all there is to go by. */
        if (!j->etag[0] || strcmp(etag ? etag : info.etag, j->etag) == 0)
                return OUTCOME_FOUND_THIS;
        if (seq && job_sequencer_cmp(seq, j->sequencer) > 0)
                return OUTCOME_FOUND_NEWER;
        return OUTCOME_FOUND_OTHER;
}

/* No copy anywhere: as a HEAD has no body, a missing bucket looked like a missing key. */
static int check_buckets(const Config *c, const JobEnv *env, S3bError *err) {
        const char *buckets[] = { c->archive.bucket, c->errors.bucket };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(buckets); i++) {
                r = s3_head_bucket(env->client, buckets[i], err);
                if (r == -ENOENT) {
                        /* what the class table knows a missing bucket by */
                        snprintf(err->aws_code, sizeof(err->aws_code), "NoSuchBucket");
                        return s3b_error_set(err, r, "bucket %s does not exist", buckets[i]);
                }
                if (r < 0)
                        return r;
        }
        return OUTCOME_FOUND_NONE;
}

int outcome_find_done(Job *j, const JobEnv *env, S3bError *err) {
        const ConfigLocation *where[] = { &j->config->archive, &j->config->errors };
        bool other = false;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(where); i++) {
                r = find_in(j, env, where[i], err);
                if (r < 0 || r == OUTCOME_FOUND_THIS || r == OUTCOME_FOUND_NEWER)
                        return r;
                other = other || r == OUTCOME_FOUND_OTHER;
        }
        if (other)
                return OUTCOME_FOUND_OTHER;
        return check_buckets(j->config, env, err);
}

static unsigned notify_bit(JobStatus s) {
        switch (s) {
        case JOB_SUCCESS:
                return NOTIFY_ON_SUCCESS;
        case JOB_PARTIAL:
                return NOTIFY_ON_PARTIAL;
        case JOB_FAILURE:
                return NOTIFY_ON_FAILURE;
        case JOB_SUPERSEDED:
                return NOTIFY_ON_SUPERSEDED;
        default:
                return 0;
        }
}

int outcome_notify(Job *j, const JobEnv *env, S3bError *err) {
        const ConfigNotify *n = &j->config->notify;
        _cleanup_free_ char *json = NULL;
        char subject[SUBJECT_MAX + 1];
        const char *status = job_status_to_string(j->status);
        SnsAttribute attrs[] = {
                { .name = "status", .value = status },
                { .name = "pipeline", .value = j->spec->name },
                { .name = "event_id", .value = j->event_id },
        };
        int r;

        if (!n->topic_arn || !(n->on & notify_bit(j->status)))
                return 0;
        json = outcome_summary_json(j);
        if (!json)
                return s3b_error_set(err, -ENOMEM, "out of memory");
        outcome_subject(j, subject, sizeof(subject));
        r = sns_publish(env->client, n->topic_arn, subject, json, attrs, ELEMENTSOF(attrs), NULL, err);
        if (r < 0)
                return r;
        j->notified = true;
        return 0;
}

char *outcome_summary_json(const Job *j) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        bool ok = j->status == JOB_SUCCESS || j->status == JOB_PARTIAL;
        const char *where = ok ? "archive_location" :
                            j->status == JOB_FAILURE ? "error_location" : "location";
        cJSON *added = NULL;

        if (!o)
                return NULL;
        added = cJSON_AddStringToObject(o, "status", job_status_to_string(j->status));
        added = added ? cJSON_AddStringToObject(o, "pipeline", j->spec->name) : NULL;
        added = added ? cJSON_AddStringToObject(o, "bucket", j->bucket) : NULL;
        added = added ? cJSON_AddStringToObject(o, "key", j->key) : NULL;
        added = added ? cJSON_AddStringToObject(o, "etag", j->etag) : NULL;
        if (added && j->version_id[0])
                added = cJSON_AddStringToObject(o, "version_id", j->version_id);
        if (added && j->sequencer[0])
                added = cJSON_AddStringToObject(o, "sequencer", j->sequencer);
        /* Summaries are published at least once: subscribers de-duplicate by this. */
        added = added ? cJSON_AddStringToObject(o, "event_id", j->event_id) : NULL;
        added = added ? cJSON_AddNumberToObject(o, "rows_total", (double) j->rows_total) : NULL;
        added = added ? cJSON_AddNumberToObject(o, "rows_written", (double) j->rows_written) : NULL;
        added = added ? cJSON_AddNumberToObject(o, "rows_rejected", (double) j->rows_rejected) : NULL;
        added = added ? cJSON_AddNumberToObject(o, "rows_superseded", (double) j->rows_superseded) : NULL;
        added = added ? cJSON_AddNumberToObject(o, "consumed_wcu", j->consumed_wcu) : NULL;
        if (added && j->rows_repaired)
                added = cJSON_AddNumberToObject(o, "rows_repaired", (double) j->rows_repaired);
        if (added && j->location)
                added = cJSON_AddStringToObject(o, where, j->location);
        if (added && j->report_location)
                added = cJSON_AddStringToObject(o, "report_location", j->report_location);
        added = added ? cJSON_AddNumberToObject(o, "duration_ms", (double) j->duration_ms) : NULL;
        added = added ? cJSON_AddStringToObject(o, "reason", j->reason) : NULL;
        if (!added)
                return NULL;
        return cJSON_PrintUnformatted(o);
}

void outcome_subject(const Job *j, char *buf, size_t n) {
        char key[SUBJECT_MAX + 1];
        const char *status = job_status_to_string(j->status);
        size_t room, klen = 0, total = 0;
        const unsigned char *k = (const unsigned char *) j->key;

        /* Printable ASCII only: a non-ASCII character (a whole UTF-8 sequence) becomes one '?'. */
        size_t len = strlen(j->key);
        char *clean = malloc(len + 1);
        if (clean) {
                for (size_t i = 0; i < len; i++) {
                        if ((k[i] & 0xC0) == 0x80)
                                continue;
                        clean[total++] = (k[i] >= 0x20 && k[i] < 0x7f) ? (char) k[i] : '?';
                }
                clean[total] = '\0';
        }

        room = SUBJECT_MAX - strlen(SUBJECT_PREFIX) - strlen(status) - 1;
        if (!clean)
                snprintf(key, sizeof(key), "?");
        else if (total <= room)
                snprintf(key, sizeof(key), "%s", clean);
        else {
                /* Keep the end: the file name says more than the leading directories. */
                klen = room - 3;
                snprintf(key, sizeof(key), "...%s", clean + total - klen);
        }
        free(clean);
        snprintf(buf, n, SUBJECT_PREFIX "%s %s", status, key);
}
